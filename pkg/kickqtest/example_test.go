/*
Copyright 2026 The kickq Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package kickqtest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/pkg/kickq"
	"kickq.dev/kickq/pkg/kickqtest"
)

// A test of a program that enqueues an "email" job and waits for its result. kickq's controllers
// run in the test's process; the queue's handler for "email" is a webhook receiver on loopback,
// standing in for the program's mailer. Run it with KUBEBUILDER_ASSETS set (in the kickq
// repository: make control-plane, then KUBEBUILDER_ASSETS=$PWD/bin/k8s).
func Example() {
	ctx := context.Background()
	env, err := kickqtest.Start(kickqtest.Options{Controllers: true, AllowLoopbackWebhooks: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = env.Stop() }()

	mailer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"result": {"sent": true}}`)
	}))
	defer mailer.Close()
	ns, err := env.NewNamespace(ctx, "shop")
	if err != nil {
		fmt.Println(err)
		return
	}
	queue := &kickqv1alpha1.Queue{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default"},
		Spec: kickqv1alpha1.QueueSpec{Handlers: []kickqv1alpha1.Handler{{Type: "email",
			HandlerSpec: kickqv1alpha1.HandlerSpec{Webhook: &kickqv1alpha1.WebhookTarget{URL: mailer.URL}}}}},
	}
	if err := env.Client.Create(ctx, queue); err != nil {
		fmt.Println(err)
		return
	}

	job, err := env.Kickq.Enqueue(ctx, kickq.Job{Namespace: ns, Type: "email", Data: map[string]string{"to": "a@b.c"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := env.Kickq.Wait(ctx, ns, job.Name)
	if err != nil {
		fmt.Println(err)
		return
	}
	var out struct{ Sent bool }
	if err := res.Into(&out); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Phase, res.Reason, res.Attempts, out.Sent)
	// Output: Succeeded Completed 1 true
}

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

package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/pkg/kickqtest"
)

// TestMain_EnqueueAndWait runs the example against kickqtest's control plane and controllers: a
// queue whose "email" handler is a loopback receiver answering {"result": {"sent": true}}.
func TestMain_EnqueueAndWait(t *testing.T) {
	env := kickqtest.New(t, kickqtest.Options{Controllers: true, AllowLoopbackWebhooks: true})
	mailer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"result": {"sent": true}}`)
	}))
	defer mailer.Close()
	ns, err := env.NewNamespace(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	q := &kickqv1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default"}, Spec: kickqv1alpha1.QueueSpec{
		Handlers: []kickqv1alpha1.Handler{{Type: "email", HandlerSpec: kickqv1alpha1.HandlerSpec{Webhook: &kickqv1alpha1.WebhookTarget{URL: mailer.URL}}}}}}
	if err := env.Client.Create(t.Context(), q); err != nil {
		t.Fatal(err)
	}
	user, err := env.Environment.AddUser(envtest.User{Name: "example", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", path)

	out := captureStdout(t, func() {
		os.Args = []string{"enqueue", ns, "email", `{"to": "a@b.c"}`}
		main()
	})
	if !strings.HasPrefix(out, "email-") || !strings.HasSuffix(out, `: Succeeded after 1 attempt(s), result {"sent":true}`+"\n") {
		t.Errorf("output %q, want the job's name, Succeeded after 1 attempt and its result", out)
	}
}

func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = stdout }()
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	f()
	_ = w.Close()
	return <-done
}

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

package executor

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// TestPodsForgetJob: a job deleted before it finished leaves no expectation, sighting, refusal or
// name in the pod executor, whichever of its UIDs held them; other jobs keep theirs.
func TestPodsForgetJob(t *testing.T) {
	ctx := context.Background()
	h := newPodsHarness(t, interceptor.Funcs{})
	job := podJob("mail")
	again := podJob("mail") // the same name, created again
	again.UID = "uid-mail-2"
	other := podJob("other")

	// job: attempt 1 created (expected), attempt 2 seen.
	if err := h.pods.Start(ctx, job, podTarget(), 1); err != nil {
		t.Fatal(err)
	}
	if err := h.cache.Create(ctx, h.pod(job, 2, corev1.PodRunning)); err != nil {
		t.Fatal(err)
	}
	h.observe(job, 2)
	if err := h.pods.Start(ctx, other, podTarget(), 1); err != nil {
		t.Fatal(err)
	}
	// again: its create is refused.
	writes := h.pods.Client
	h.pods.Client = interceptor.NewClient(h.writes.(client.WithWatch), interceptor.Funcs{
		Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
			return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "x", nil)
		}})
	if err := h.pods.Start(ctx, again, podTarget(), 1); err != nil {
		t.Fatal(err)
	}
	h.pods.Client = writes
	if len(h.pods.refused) != 1 || len(h.pods.created) != 2 || len(h.pods.seen) != 1 {
		t.Fatalf("before ForgetJob: created %v, seen %v, refused %v", h.pods.created, h.pods.seen, h.pods.refused)
	}

	h.pods.ForgetJob(types.NamespacedName{Namespace: job.Namespace, Name: job.Name})

	if len(h.pods.refused) != 0 || len(h.pods.seen) != 0 {
		t.Errorf("after ForgetJob: seen %v, refused %v, want empty", h.pods.seen, h.pods.refused)
	}
	if _, ok := h.pods.created[attemptKey{other.UID, 1}]; !ok || len(h.pods.created) != 1 {
		t.Errorf("after ForgetJob: created %v, want only the other job's", h.pods.created)
	}
	if len(h.pods.names.names) != 1 || len(h.pods.names.uids) != 1 {
		t.Errorf("after ForgetJob: names %v, %v, want only the other job's", h.pods.names.names, h.pods.names.uids)
	}

	h.pods.Forget(other.UID)
	if len(h.pods.created) != 0 || len(h.pods.names.names) != 0 || len(h.pods.names.uids) != 0 {
		t.Errorf("after Forget: created %v, names %v, want empty", h.pods.created, h.pods.names)
	}
}

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

package controllers

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// claimedJob is a Running job whose attempt 1 worker claimed (finished: the attempt ended).
func claimedJob(name, worker string, finished bool) *kickqv1alpha1.QueueJob {
	rec := kickqv1alpha1.AttemptRecord{Number: 1, TargetKind: "Worker", Worker: worker}
	if finished {
		rec.FinishTime = &metav1.Time{Time: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	}
	return &kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
		Status: kickqv1alpha1.QueueJobStatus{Phase: kickqv1alpha1.PhaseRunning, Attempts: 1, AttemptHistory: []kickqv1alpha1.AttemptRecord{rec}}}
}

// TestLeaseReconciler: a live Lease is looked at again at its exact expiry on the manager's clock;
// an expired or deleted one wakes exactly the jobs whose running attempt its worker claimed.
func TestLeaseReconciler(t *testing.T) {
	epoch := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(epoch)
	renew := metav1.NewMicroTime(epoch.Add(-5 * time.Second))
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "w-1", Labels: map[string]string{kickqv1alpha1.LabelWorker: "true"}},
		Spec:       coordinationv1.LeaseSpec{LeaseDurationSeconds: ptr.To[int32](15), RenewTime: &renew},
	}
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithIndex(&kickqv1alpha1.QueueJob{}, WorkerIndex, IndexClaimingWorker).
		WithObjects(lease, claimedJob("a", "w-1", false), claimedJob("b", "w-1", false),
			claimedJob("ended", "w-1", true), claimedJob("other", "w-2", false)).Build()
	var woken []string
	r := &LeaseReconciler{Client: c, Clock: clk, Wake: func(k types.NamespacedName) { woken = append(woken, k.Name) },
		wake: make(chan event.TypedGenericEvent[*coordinationv1.Lease], 1)}
	ctx := context.Background()
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(lease)}

	res, err := r.Reconcile(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter != 10*time.Second || len(woken) != 0 {
		t.Fatalf("live lease: requeue after %s, woke %v; want 10s (its expiry) and nothing", res.RequeueAfter, woken)
	}

	clk.Step(10 * time.Second) // renewTime + leaseDurationSeconds
	select {
	case <-r.wake: // the fake clock's timer asks to look again
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up at the lease's expiry")
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	sort.Strings(woken)
	if diff := cmp.Diff([]string{"a", "b"}, woken); diff != "" {
		t.Errorf("expired lease: woken jobs (-want +got):\n%s", diff)
	}

	woken = nil
	if err := c.Delete(ctx, lease); err != nil {
		t.Fatal(err)
	}
	clk.SetTime(epoch) // a deleted Lease is lost whatever the time
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	sort.Strings(woken)
	if diff := cmp.Diff([]string{"a", "b"}, woken); diff != "" {
		t.Errorf("deleted lease: woken jobs (-want +got):\n%s", diff)
	}
}

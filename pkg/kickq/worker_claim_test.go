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

package kickq

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// admittedJob is a job whose attempt n the manager admitted on a worker target.
func admittedJob(name string, n int32) *kickqv1alpha1.QueueJob {
	return &kickqv1alpha1.QueueJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
		Spec:       kickqv1alpha1.QueueJobSpec{QueueName: "default", Type: "report", Worker: &kickqv1alpha1.WorkerTarget{}},
		Status: kickqv1alpha1.QueueJobStatus{Phase: kickqv1alpha1.PhaseRunning, Attempts: n,
			AttemptHistory: []kickqv1alpha1.AttemptRecord{{Number: n, StartTime: &metav1.Time{Time: t0}, TargetKind: "Worker", Handler: "report"}}},
	}
}

// TestClaimRace: two workers race for 100 admitted attempts, each from its own snapshot of them
// (as two caches would show them): every attempt is claimed exactly once, the losers get a
// Conflict and move on, and the claim shows in attemptHistory[].worker.
func TestClaimRace(t *testing.T) {
	ctx := context.Background()
	b := fake.NewClientBuilder().WithScheme(NewScheme()).WithStatusSubresource(&kickqv1alpha1.QueueJob{})
	for i := range 100 {
		b = b.WithObjects(admittedJob(fmt.Sprintf("j%03d", i), 1))
	}
	c := b.Build()

	var mu sync.Mutex
	won := map[string][]string{} // job -> workers whose claim succeeded
	snapshots := map[string]*kickqv1alpha1.QueueJobList{}
	for _, w := range []string{"w-a", "w-b"} {
		snapshots[w] = &kickqv1alpha1.QueueJobList{}
		if err := c.List(ctx, snapshots[w]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for w, snapshot := range snapshots {
		wg.Go(func() {
			items := snapshot.Items
			mrand.Shuffle(len(items), func(i, k int) { items[i], items[k] = items[k], items[i] })
			for i := range items {
				claimed, err := claim(ctx, c, &items[i], w, t0.Add(time.Second))
				if err != nil {
					t.Errorf("claim %s by %s: %v", items[i].Name, w, err)
				}
				if claimed != nil {
					mu.Lock()
					won[items[i].Name] = append(won[items[i].Name], w)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()

	var after kickqv1alpha1.QueueJobList
	if err := c.List(ctx, &after); err != nil {
		t.Fatal(err)
	}
	perWorker := map[string]int{}
	for i := range after.Items {
		j := &after.Items[i]
		winners := won[j.Name]
		if len(winners) != 1 {
			t.Errorf("%s: claimed by %v, want exactly one worker", j.Name, winners)
			continue
		}
		perWorker[winners[0]]++
		rec := currentRecord(&j.Status)
		if diff := cmp.Diff(winners[0], rec.Worker); diff != "" {
			t.Errorf("%s: attemptHistory[].worker (-winner +stored):\n%s", j.Name, diff)
		}
		if claimable(j) {
			t.Errorf("%s: still claimable after its claim", j.Name)
		}
		if got := j.Status.Message; got != "attempt 1 claimed by worker "+winners[0] {
			t.Errorf("%s: message %q", j.Name, got)
		}
	}
	// A copy that already shows another worker's claim is never written over, even with a
	// matching resourceVersion.
	j := after.Items[0].DeepCopy()
	if got, err := claim(ctx, c, j, "w-c", t0); got != nil || err != nil {
		t.Errorf("claim of a claimed attempt: %v, %v; want nothing", got, err)
	}
	if perWorker["w-a"]+perWorker["w-b"] != 100 {
		t.Errorf("claims per worker %v, want 100 in all", perWorker)
	}
	t.Logf("claims per worker: %v", perWorker)
}

// TestClaimable tells the attempts a worker may claim.
func TestClaimable(t *testing.T) {
	claimedBy := admittedJob("a", 1)
	claimedBy.Status.AttemptHistory[0].Worker = "w-x"
	ended := admittedJob("b", 1)
	ended.Status.AttemptHistory[0].FinishTime = &metav1.Time{Time: t0}
	pod := admittedJob("c", 1)
	pod.Status.AttemptHistory[0].TargetKind = "Pod"
	delayed := admittedJob("d", 1)
	delayed.Status.Phase = kickqv1alpha1.PhaseDelayed
	older := admittedJob("e", 2)
	older.Status.AttemptHistory[0].Number = 1 // only attempt 1's record: attempt 2 has none
	for _, tc := range []struct {
		name string
		job  *kickqv1alpha1.QueueJob
		want bool
	}{
		{name: "admitted, not claimed", job: admittedJob("z", 1), want: true},
		{name: "claimed by a worker", job: claimedBy},
		{name: "attempt ended", job: ended},
		{name: "a pod attempt", job: pod},
		{name: "not Running", job: delayed},
		{name: "no record of the current attempt", job: older},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := claimable(tc.job); got != tc.want {
				t.Errorf("claimable = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestOwns: a task is cancelled only on proof that its attempt is no longer its worker's.
func TestOwns(t *testing.T) {
	mine := admittedJob("a", 2)
	mine.Status.AttemptHistory[0].Worker = "w-a"
	other := mine.DeepCopy()
	other.Status.AttemptHistory[0].Worker = "w-b"
	ended := mine.DeepCopy()
	ended.Status.AttemptHistory[0].FinishTime = &metav1.Time{Time: t0}
	left := mine.DeepCopy()
	left.Status.Phase = kickqv1alpha1.PhaseDelayed
	for _, tc := range []struct {
		name string
		job  *kickqv1alpha1.QueueJob
		want bool
	}{
		{name: "claimed by this worker", job: mine, want: true},
		{name: "a copy from before the claim", job: admittedJob("a", 2), want: true},
		{name: "a copy of an earlier attempt", job: admittedJob("a", 1), want: true},
		{name: "claimed by another worker", job: other},
		{name: "the attempt ended", job: ended},
		{name: "the job is no longer Running", job: left},
		{name: "a later attempt", job: admittedJob("a", 3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := owns(tc.job, 2, "w-a"); got != tc.want {
				t.Errorf("owns = %v, want %v", got, tc.want)
			}
		})
	}
}

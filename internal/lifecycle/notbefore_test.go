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

package lifecycle

import (
	"testing"
	"time"

	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// TestNotBeforeTimesAreNeverEarly: status times are whole seconds, so a persisted not-before
// time is rounded up, and the exact time the manager decided is used while it agrees with status.
func TestNotBeforeTimesAreNeverEarly(t *testing.T) {
	fixed10 := kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffFixed, BaseSeconds: ptr.To[int32](10), MaxSeconds: ptr.To[int32](600),
		JitterPercent: ptr.To[int32](0)}
	failedAt := t0.Add(60500 * time.Millisecond)

	job := makeJob().Backoff(fixed10).Status(runningStatus(1, t0)).Obj()
	res := Decide(Input{Job: job, Queue: QueueView{Implicit: true}, Current: finishedWith(1, kickqv1alpha1.OutcomeFail, 1, "exit 1"),
		Settled: true, Now: failedAt})
	exact := failedAt.Add(10 * time.Second)
	if got := res.Status.NextAttemptTime; got == nil || !got.Time.Equal(at(71)) {
		t.Fatalf("status.nextAttemptTime %v, want %s (70.5 s rounded up)", got, at(71))
	}
	if got := res.ExactNextAttemptTime(); !got.Equal(exact) {
		t.Fatalf("exact next attempt %s, want %s", got, exact)
	}
	if !res.RequeueAt.Equal(exact) {
		t.Errorf("requeue at %s, want the exact time %s", res.RequeueAt, exact)
	}

	// The next pass reads the job back with the whole-second time.
	backingOff := job.DeepCopy()
	backingOff.Status = res.Status
	for _, tc := range []struct {
		name      string
		exactNext time.Time
		now       time.Time
		wantReady bool
		wantAt    time.Time
	}{
		{name: "exact time known: not before it", exactNext: exact, now: exact.Add(-time.Millisecond), wantAt: exact},
		{name: "exact time known: ready at it, not at the rounded second", exactNext: exact, now: exact, wantReady: true},
		{name: "exact time not known (a restart): ready at the rounded-up second, never before", now: exact, wantAt: at(71)},
		{name: "exact time not known: ready at the second", now: at(71), wantReady: true},
		{name: "an exact time that disagrees with status is not used", exactNext: at(65), now: at(66), wantAt: at(71)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Decide(Input{Job: backingOff, Queue: QueueView{Implicit: true}, Settled: true, Now: tc.now, NextAttemptTime: tc.exactNext})
			if ready := res.Action == AwaitAdmission; ready != tc.wantReady {
				t.Fatalf("ready %v (action %q, phase %s), want %v", ready, res.Action, res.Status.Phase, tc.wantReady)
			}
			if !tc.wantReady && !res.RequeueAt.Equal(tc.wantAt) {
				t.Errorf("requeue at %s, want %s", res.RequeueAt, tc.wantAt)
			}
		})
	}
}

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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
)

func TestQueueStatus(t *testing.T) {
	inPhase := func(name string, phase kickqv1alpha1.QueueJobPhase, ready *metav1.Time) kickqv1alpha1.QueueJob {
		j := kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{Name: name}}
		j.Status.Phase, j.Status.ReadyTime = phase, ready
		return j
	}
	jobs := []kickqv1alpha1.QueueJob{
		inPhase("b1", kickqv1alpha1.PhaseBlocked, nil),
		inPhase("d1", kickqv1alpha1.PhaseDelayed, nil),
		inPhase("p1", kickqv1alpha1.PhasePending, mtime(epoch.Add(time.Minute))),
		inPhase("p2", kickqv1alpha1.PhasePending, mtime(epoch)),
		inPhase("p3", kickqv1alpha1.PhasePending, nil),
		inPhase("r1", kickqv1alpha1.PhaseRunning, nil),
		inPhase("r2", kickqv1alpha1.PhaseRunning, nil),
		inPhase("s1", kickqv1alpha1.PhaseSucceeded, nil),
		inPhase("f1", kickqv1alpha1.PhaseFailed, nil),
		inPhase("t1", kickqv1alpha1.PhaseScheduled, nil),
	}
	ready := func(gen int64) metav1.Condition {
		return metav1.Condition{Type: kickqv1alpha1.QueueReady, Status: metav1.ConditionTrue, Reason: kickqv1alpha1.QueueReasonConfigured,
			Message: "the queue admits jobs per its spec", ObservedGeneration: gen}
	}
	cases := []struct {
		name  string
		queue *kickqv1alpha1.Queue
		jobs  []kickqv1alpha1.QueueJob
		stats admission.Stats
		want  kickqv1alpha1.QueueStatus
	}{{
		name:  "counts per phase, the oldest pending job and the rate window",
		queue: &kickqv1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Generation: 3}},
		jobs:  jobs,
		stats: admission.Stats{StartedInWindow: 4, Running: 9},
		want: kickqv1alpha1.QueueStatus{
			ObservedGeneration: 3,
			Counts:             kickqv1alpha1.QueueCounts{Blocked: 1, Delayed: 1, Pending: 3, Running: 2, Succeeded: 1, Failed: 1},
			OldestPendingTime:  mtime(epoch),
			StartedInWindow:    4,
			Conditions: []metav1.Condition{ready(3), {Type: kickqv1alpha1.QueuePaused, Status: metav1.ConditionFalse,
				Reason: kickqv1alpha1.QueueReasonRunning, Message: "the queue starts new attempts", ObservedGeneration: 3}},
		},
	}, {
		name: "a paused queue, and stale counts replaced",
		queue: &kickqv1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Generation: 1}, Spec: kickqv1alpha1.QueueSpec{Paused: ptr.To(true)},
			Status: kickqv1alpha1.QueueStatus{Counts: kickqv1alpha1.QueueCounts{Running: 7}, OldestPendingTime: mtime(epoch)}},
		want: kickqv1alpha1.QueueStatus{
			ObservedGeneration: 1,
			Conditions: []metav1.Condition{ready(1), {Type: kickqv1alpha1.QueuePaused, Status: metav1.ConditionTrue,
				Reason: kickqv1alpha1.QueueReasonPaused, Message: "spec.paused: no new attempts start", ObservedGeneration: 1}},
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := queueStatus(tc.queue, tc.jobs, tc.stats, epoch)
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(metav1.Condition{}, "LastTransitionTime")); diff != "" {
				t.Errorf("queueStatus (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPacer(t *testing.T) {
	clk := clocktesting.NewFakeClock(epoch)
	a, b := types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}
	var p pacer
	steps := []struct {
		step time.Duration
		key  types.NamespacedName
		want time.Duration
	}{
		{0, a, 0}, // the first pass runs
		{0, b, 0}, // each key has its own pace
		{300 * time.Millisecond, a, 700 * time.Millisecond},
		{600 * time.Millisecond, a, 100 * time.Millisecond}, // a waiting pass does not restart the interval
		{100 * time.Millisecond, a, 0},
		{0, b, 0},
		{0, b, time.Second},
	}
	for i, s := range steps {
		clk.Step(s.step)
		if got := p.wait(s.key, clk, time.Second); got != s.want {
			t.Errorf("step %d (%s): wait = %s, want %s", i, s.key.Name, got, s.want)
		}
	}
	p.forget(b)
	if got := p.wait(b, clk, time.Second); got != 0 {
		t.Errorf("after forget: wait = %s, want 0", got)
	}
}

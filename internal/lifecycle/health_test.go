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

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// TestSetHealth: the Reconciling and Stalled conditions kstatus and Argo CD read, per phase and
// Blocked reason.
func TestSetHealth(t *testing.T) {
	const (
		T = metav1.ConditionTrue
		F = metav1.ConditionFalse
	)
	type cond struct {
		status metav1.ConditionStatus
		reason string
	}
	for _, tc := range []struct {
		name                 string
		status               *statusWrapper
		reconciling, stalled cond
	}{
		{"running: reconciling", runningStatus(1, t0), cond{T, "Running"}, cond{F, kickqv1alpha1.ReasonNotStalled}},
		{"pending: reconciling", makeStatus().Phase(kickqv1alpha1.PhasePending), cond{T, "Pending"}, cond{F, kickqv1alpha1.ReasonNotStalled}},
		{"delayed: reconciling", makeStatus().Phase(kickqv1alpha1.PhaseDelayed), cond{T, "Delayed"}, cond{F, kickqv1alpha1.ReasonNotStalled}},
		{"not seen yet: reconciling", makeStatus(), cond{T, "Pending"}, cond{F, kickqv1alpha1.ReasonNotStalled}},
		{"held by concurrency: reconciling with the limit",
			makeStatus().Phase(kickqv1alpha1.PhasePending).Blocked(kickqv1alpha1.ReasonConcurrencyLimited, "full"),
			cond{T, kickqv1alpha1.ReasonConcurrencyLimited}, cond{F, kickqv1alpha1.ReasonNotStalled}},
		{"blocked on dependencies: reconciling",
			makeStatus().Phase(kickqv1alpha1.PhaseBlocked).Blocked(kickqv1alpha1.ReasonDependenciesPending, "waits"),
			cond{T, kickqv1alpha1.ReasonDependenciesPending}, cond{F, kickqv1alpha1.ReasonNotStalled}},
		{"blocked on a missing queue: stalled",
			makeStatus().Phase(kickqv1alpha1.PhaseBlocked).Blocked(kickqv1alpha1.ReasonQueueNotFound, "no queue"),
			cond{F, kickqv1alpha1.ReasonSettled}, cond{T, kickqv1alpha1.ReasonQueueNotFound}},
		{"blocked on a denied inline target: stalled",
			makeStatus().Phase(kickqv1alpha1.PhaseBlocked).Blocked(kickqv1alpha1.ReasonInlineTargetDenied, "denied"),
			cond{F, kickqv1alpha1.ReasonSettled}, cond{T, kickqv1alpha1.ReasonInlineTargetDenied}},
		{"unblocked again: reconciling",
			makeStatus().Phase(kickqv1alpha1.PhasePending).Blocked(kickqv1alpha1.ReasonQueueNotFound, "no queue").Unblocked(),
			cond{T, "Pending"}, cond{F, kickqv1alpha1.ReasonNotStalled}},
		{"suspended: neither", makeStatus().Phase(kickqv1alpha1.PhasePending).Suspended(),
			cond{F, kickqv1alpha1.ReasonSuspended}, cond{F, kickqv1alpha1.ReasonNotStalled}},
		{"succeeded: neither", makeStatus().Phase(kickqv1alpha1.PhaseSucceeded).Reason(kickqv1alpha1.ReasonCompleted),
			cond{F, kickqv1alpha1.ReasonSettled}, cond{F, kickqv1alpha1.ReasonNotStalled}},
		{"failed: stalled with its reason", makeStatus().Phase(kickqv1alpha1.PhaseFailed).Reason(kickqv1alpha1.ReasonRetriesExhausted),
			cond{F, kickqv1alpha1.ReasonSettled}, cond{T, kickqv1alpha1.ReasonRetriesExhausted}},
		{"cron template: neither", makeStatus().Phase(kickqv1alpha1.PhaseScheduled),
			cond{F, kickqv1alpha1.ReasonSettled}, cond{F, kickqv1alpha1.ReasonNotStalled}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.status.Obj()
			st.ObservedGeneration = 3
			SetHealth(&st, at(5))
			for typ, want := range map[string]cond{kickqv1alpha1.JobReconciling: tc.reconciling, kickqv1alpha1.JobStalled: tc.stalled} {
				c := meta.FindStatusCondition(st.Conditions, typ)
				if c == nil {
					t.Fatalf("no %s condition", typ)
				}
				if diff := cmp.Diff(want, cond{c.Status, c.Reason}, cmp.AllowUnexported(cond{})); diff != "" {
					t.Errorf("%s (-want +got):\n%s", typ, diff)
				}
				if c.ObservedGeneration != 3 {
					t.Errorf("%s observedGeneration = %d, want 3", typ, c.ObservedGeneration)
				}
			}
			// A second pass with the same status changes nothing.
			again := *st.DeepCopy()
			SetHealth(&again, at(9))
			if diff := cmp.Diff(st, again, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("SetHealth on an unchanged status changed it (-first +second):\n%s", diff)
			}
		})
	}
}

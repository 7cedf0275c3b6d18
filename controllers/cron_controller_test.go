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
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// epoch is when the test templates were created: a firing of their */5 schedule.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// cronTemplate returns the template "nightly" (schedule */5, created at epoch, generation 2) after
// the edits.
func cronTemplate(edits ...func(*kickqv1alpha1.QueueJob)) *kickqv1alpha1.QueueJob {
	t := &kickqv1alpha1.QueueJob{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ns", Generation: 2, CreationTimestamp: metav1.NewTime(epoch)},
		Spec:       kickqv1alpha1.QueueJobSpec{Cron: &kickqv1alpha1.CronSpec{Schedule: "*/5 * * * *"}},
	}
	for _, e := range edits {
		e(t)
	}
	return t
}

// childOf is the name of the template's child of the firing at t.
func childOf(t time.Time) string { return fmt.Sprintf("nightly-%d", t.Unix()) }

func mtime(t time.Time) *metav1.Time { return &metav1.Time{Time: t} }

// scheduled is the status of a valid template after a pass, before the case's own fields.
func scheduled(next time.Time, edits ...func(*kickqv1alpha1.QueueJobStatus)) kickqv1alpha1.QueueJobStatus {
	st := kickqv1alpha1.QueueJobStatus{
		ObservedGeneration: 2,
		Phase:              kickqv1alpha1.PhaseScheduled,
		NextScheduleTime:   mtime(next),
		Message:            "next firing at " + next.UTC().Format(time.RFC3339),
	}
	for _, e := range edits {
		e(&st)
	}
	return st
}

func seenActive(names ...string) cronChildren {
	seen := cronChildren{Existing: map[string]bool{}, RunNow: map[string]bool{}, Active: names}
	for _, n := range names {
		seen.Existing[n] = true
	}
	return seen
}

func TestPlanCron(t *testing.T) {
	at5, at10 := epoch.Add(5*time.Minute), epoch.Add(10*time.Minute)
	old := "nightly-1"
	suspended := func(j *kickqv1alpha1.QueueJob) { j.Spec.Cron.Suspend = ptr.To(true) }
	policy := func(p kickqv1alpha1.ConcurrencyPolicy) func(*kickqv1alpha1.QueueJob) {
		return func(j *kickqv1alpha1.QueueJob) { j.Spec.Cron.ConcurrencyPolicy = p }
	}
	runNow := func(v string) func(*kickqv1alpha1.QueueJob) {
		return func(j *kickqv1alpha1.QueueJob) {
			j.Annotations = map[string]string{kickqv1alpha1.AnnotationRunNow: v}
		}
	}
	missedEvent := func(n int, policy kickqv1alpha1.ConcurrencyPolicy) cronEvent {
		return cronEvent{Type: corev1.EventTypeWarning, Reason: kickqv1alpha1.EventReasonMissedRuns,
			Note: fmt.Sprintf("%d firings did not run (missedRuns , concurrencyPolicy %s)", n, policy)}
	}

	cases := []struct {
		name     string
		template *kickqv1alpha1.QueueJob
		seen     cronChildren
		now      time.Time
		want     cronPlan
	}{{
		name:     "nothing due: wait for the next firing",
		template: cronTemplate(),
		seen:     seenActive(),
		now:      epoch.Add(3 * time.Minute),
		want:     cronPlan{status: scheduled(at5), trim: true, timer: true, next: at5},
	}, {
		name:     "a firing due on time creates its child, then records it",
		template: cronTemplate(),
		seen:     seenActive(),
		now:      at5.Add(2 * time.Second),
		want: cronPlan{
			actions: []cronAction{{Create: cronChild{Name: childOf(at5), At: at5}}},
			status: scheduled(at10, func(st *kickqv1alpha1.QueueJobStatus) {
				st.LastScheduleTime, st.Active = mtime(at5), []string{childOf(at5)}
			}),
			trim: true, timer: true, next: at10,
		},
	}, {
		name:     "a firing whose child exists (the status write did not land) is not fired again",
		template: cronTemplate(),
		seen:     seenActive(childOf(at5)),
		now:      at5.Add(2 * time.Second),
		want: cronPlan{
			status: scheduled(at10, func(st *kickqv1alpha1.QueueJobStatus) {
				st.LastScheduleTime, st.Active = mtime(at5), []string{childOf(at5)}
			}),
			trim: true, timer: true, next: at10,
		},
	}, {
		name:     "Forbid skips a firing while a child runs, and counts it missed",
		template: cronTemplate(policy(kickqv1alpha1.ConcurrencyForbid)),
		seen:     seenActive(old),
		now:      at5,
		want: cronPlan{
			status: scheduled(at10, func(st *kickqv1alpha1.QueueJobStatus) {
				st.LastScheduleTime, st.Active, st.MissedRuns = mtime(at5), []string{old}, 1
			}),
			events:    []cronEvent{missedEvent(1, kickqv1alpha1.ConcurrencyForbid)},
			forbidden: []time.Time{at5},
			trim:      true, timer: true, next: at10,
		},
	}, {
		name:     "Allow creates beside a running child",
		template: cronTemplate(policy(kickqv1alpha1.ConcurrencyAllow)),
		seen:     seenActive(old),
		now:      at5,
		want: cronPlan{
			actions: []cronAction{{Create: cronChild{Name: childOf(at5), At: at5}}},
			status: scheduled(at10, func(st *kickqv1alpha1.QueueJobStatus) {
				st.LastScheduleTime, st.Active = mtime(at5), []string{old, childOf(at5)}
			}),
			trim: true, timer: true, next: at10,
		},
	}, {
		name: "Replace cancels the running children before each create, also one created in the same pass",
		template: cronTemplate(policy(kickqv1alpha1.ConcurrencyReplace), func(j *kickqv1alpha1.QueueJob) {
			j.Spec.Cron.MissedRuns = kickqv1alpha1.MissedRunsRunAll
		}),
		seen: seenActive(old),
		now:  at10.Add(time.Second),
		want: cronPlan{
			actions: []cronAction{
				{Cancel: []string{old}, Create: cronChild{Name: childOf(at5), At: at5}},
				{Cancel: []string{childOf(at5)}, Create: cronChild{Name: childOf(at10), At: at10}},
			},
			status: scheduled(epoch.Add(15*time.Minute), func(st *kickqv1alpha1.QueueJobStatus) {
				st.LastScheduleTime, st.Active = mtime(at10), []string{childOf(at10)}
			}),
			trim: true, timer: true, next: epoch.Add(15 * time.Minute),
		},
	}, {
		name: "missedRuns Skip records the latest firing and runs none of the missed ones",
		template: cronTemplate(func(j *kickqv1alpha1.QueueJob) {
			j.Spec.Cron.MissedRuns = kickqv1alpha1.MissedRunsSkip
		}),
		seen: seenActive(),
		now:  at10.Add(time.Minute),
		want: cronPlan{
			status: scheduled(epoch.Add(15*time.Minute), func(st *kickqv1alpha1.QueueJobStatus) {
				st.LastScheduleTime, st.MissedRuns = mtime(at10), 2
			}),
			events: []cronEvent{{Type: corev1.EventTypeWarning, Reason: kickqv1alpha1.EventReasonMissedRuns,
				Note: "2 firings did not run (missedRuns Skip, concurrencyPolicy )"}},
			missed: 2, trim: true, timer: true, next: epoch.Add(15 * time.Minute),
		},
	}, {
		name:     "suspended: no firing, no timer",
		template: cronTemplate(suspended),
		seen:     seenActive(old),
		now:      at10,
		want: cronPlan{
			status: kickqv1alpha1.QueueJobStatus{ObservedGeneration: 2, Phase: kickqv1alpha1.PhaseScheduled,
				Message: "suspended by spec.cron.suspend", Active: []string{old}},
			trim: true,
		},
	}, {
		name:     "a new run-now value fires at once, even while suspended",
		template: cronTemplate(suspended, runNow("v1")),
		seen:     seenActive(),
		now:      at5.Add(17 * time.Second),
		want: cronPlan{
			actions: []cronAction{{Create: cronChild{Name: childOf(at5.Add(17 * time.Second)), At: at5.Add(17 * time.Second), RunNow: "v1"}}},
			status: kickqv1alpha1.QueueJobStatus{ObservedGeneration: 2, Phase: kickqv1alpha1.PhaseScheduled,
				Message: "suspended by spec.cron.suspend", Active: []string{childOf(at5.Add(17 * time.Second))}, LastHandledRunNow: "v1"},
			trim: true,
		},
	}, {
		name:     "a run-now value a child was made for is handled, not fired again",
		template: cronTemplate(runNow("v1")),
		seen: func() cronChildren {
			s := seenActive("nightly-99")
			s.RunNow["v1"] = true
			return s
		}(),
		now: epoch.Add(time.Minute),
		want: cronPlan{
			status: scheduled(at5, func(st *kickqv1alpha1.QueueJobStatus) {
				st.Active, st.LastHandledRunNow = []string{"nightly-99"}, "v1"
			}),
			trim: true, timer: true, next: at5,
		},
	}, {
		name: "a run-now value handled before does nothing",
		template: cronTemplate(runNow("v1"), func(j *kickqv1alpha1.QueueJob) {
			j.Status.LastHandledRunNow = "v1"
		}),
		seen: seenActive(),
		now:  epoch.Add(time.Minute),
		want: cronPlan{
			status: scheduled(at5, func(st *kickqv1alpha1.QueueJobStatus) { st.LastHandledRunNow = "v1" }),
			trim:   true, timer: true, next: at5,
		},
	}, {
		name: "the last success moves forward only",
		template: cronTemplate(func(j *kickqv1alpha1.QueueJob) {
			j.Status.LastSuccessfulTime = mtime(epoch.Add(-time.Hour))
		}),
		seen: cronChildren{LastSuccess: mtime(epoch.Add(-time.Minute))},
		now:  epoch.Add(time.Minute),
		want: cronPlan{
			status: scheduled(at5, func(st *kickqv1alpha1.QueueJobStatus) { st.LastSuccessfulTime = mtime(epoch.Add(-time.Minute)) }),
			trim:   true, timer: true, next: at5,
		},
	}, {
		name: "an older success than the recorded one is ignored",
		template: cronTemplate(func(j *kickqv1alpha1.QueueJob) {
			j.Status.LastSuccessfulTime = mtime(epoch.Add(-time.Minute))
		}),
		seen: cronChildren{LastSuccess: mtime(epoch.Add(-time.Hour))},
		now:  epoch.Add(time.Minute),
		want: cronPlan{
			status: scheduled(at5, func(st *kickqv1alpha1.QueueJobStatus) { st.LastSuccessfulTime = mtime(epoch.Add(-time.Minute)) }),
			trim:   true, timer: true, next: at5,
		},
	}, {
		name: "an invalid schedule fails the template, with an Event, and trims nothing",
		template: cronTemplate(func(j *kickqv1alpha1.QueueJob) {
			j.Spec.Cron.Schedule = "every day"
			j.Status.NextScheduleTime = mtime(at5)
		}),
		seen: seenActive(old),
		now:  at5,
		want: cronPlan{
			status: kickqv1alpha1.QueueJobStatus{ObservedGeneration: 2, Phase: kickqv1alpha1.PhaseFailed,
				Reason: kickqv1alpha1.ReasonInvalidSpec, Message: invalidEvery,
				Conditions: []metav1.Condition{{Type: kickqv1alpha1.JobFailed, Status: metav1.ConditionTrue,
					Reason: kickqv1alpha1.ReasonInvalidSpec, Message: invalidEvery}}},
			events: []cronEvent{{Type: corev1.EventTypeWarning, Reason: kickqv1alpha1.ReasonInvalidSpec, Note: invalidEvery}},
		},
	}, {
		name: "a template failed already emits no second Event",
		template: cronTemplate(func(j *kickqv1alpha1.QueueJob) {
			j.Spec.Cron.Schedule = "every day"
			j.Status.Phase = kickqv1alpha1.PhaseFailed
		}),
		seen: seenActive(),
		now:  at5,
		want: cronPlan{
			status: kickqv1alpha1.QueueJobStatus{ObservedGeneration: 2, Phase: kickqv1alpha1.PhaseFailed,
				Reason: kickqv1alpha1.ReasonInvalidSpec, Message: invalidEvery,
				Conditions: []metav1.Condition{{Type: kickqv1alpha1.JobFailed, Status: metav1.ConditionTrue,
					Reason: kickqv1alpha1.ReasonInvalidSpec, Message: invalidEvery}}},
		},
	}, {
		name: "an unknown time zone is an invalid spec",
		template: cronTemplate(func(j *kickqv1alpha1.QueueJob) {
			j.Spec.Cron.TimeZone = ptr.To("Mars/Olympus")
		}),
		seen: seenActive(),
		now:  at5,
		want: cronPlan{
			status: kickqv1alpha1.QueueJobStatus{ObservedGeneration: 2, Phase: kickqv1alpha1.PhaseFailed,
				Reason: kickqv1alpha1.ReasonInvalidSpec, Message: invalidZone,
				Conditions: []metav1.Condition{{Type: kickqv1alpha1.JobFailed, Status: metav1.ConditionTrue,
					Reason: kickqv1alpha1.ReasonInvalidSpec, Message: invalidZone}}},
			events: []cronEvent{{Type: corev1.EventTypeWarning, Reason: kickqv1alpha1.ReasonInvalidSpec, Note: invalidZone}},
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.template.DeepCopy()
			got := planCron(tc.template, tc.seen, tc.now)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(cronPlan{}),
				cmpopts.IgnoreFields(metav1.Condition{}, "LastTransitionTime"), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("planCron (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tc.template); diff != "" {
				t.Errorf("planCron changed the template (-before +after):\n%s", diff)
			}
		})
	}
}

const (
	invalidEvery = `spec.cron.schedule "every day" is not a valid schedule: expected exactly 5 fields, found 2: [every day]`
	invalidZone  = `spec.cron.timeZone "Mars/Olympus" is not an IANA time zone: unknown time zone Mars/Olympus`
)

func TestObserveChildren(t *testing.T) {
	finishedAt := func(name string, phase kickqv1alpha1.QueueJobPhase, at time.Time) kickqv1alpha1.QueueJob {
		return finishedJob(name, "q", phase, at)
	}
	running := func(name string) kickqv1alpha1.QueueJob {
		j := kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{Name: name}}
		j.Status.Phase = kickqv1alpha1.PhaseRunning
		return j
	}
	deleting := running("c-deleting")
	deleting.DeletionTimestamp = mtime(epoch)
	fromRunNow := finishedAt("c-run-now", kickqv1alpha1.PhaseFailed, epoch.Add(time.Hour))
	fromRunNow.Annotations = map[string]string{kickqv1alpha1.AnnotationRunNow: "v7"}
	noFinish := finishedAt("c-no-finish", kickqv1alpha1.PhaseSucceeded, epoch)
	noFinish.Status.FinishTime = nil

	got := observeChildren([]kickqv1alpha1.QueueJob{
		running("c-b"),
		finishedAt("c-old", kickqv1alpha1.PhaseSucceeded, epoch),
		running("c-a"),
		finishedAt("c-new", kickqv1alpha1.PhaseSucceeded, epoch.Add(time.Minute)),
		deleting,
		fromRunNow,
		noFinish,
	})
	want := cronChildren{
		Existing: map[string]bool{"c-a": true, "c-b": true, "c-old": true, "c-new": true, "c-deleting": true,
			"c-run-now": true, "c-no-finish": true},
		RunNow:      map[string]bool{"v7": true},
		Active:      []string{"c-a", "c-b"},
		LastSuccess: mtime(epoch.Add(time.Minute)),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("observeChildren (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(cronChildren{Existing: map[string]bool{}, RunNow: map[string]bool{}}, observeChildren(nil)); diff != "" {
		t.Errorf("observeChildren(nil) (-want +got):\n%s", diff)
	}
}

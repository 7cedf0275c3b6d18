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

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/limits"
	"kickq.dev/kickq/internal/outcome"
)


func podJob(mut ...func(*kickqv1alpha1.QueueJob)) *kickqv1alpha1.QueueJob {
	j := &kickqv1alpha1.QueueJob{
		ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns", UID: "uid-1", CreationTimestamp: metav1.NewTime(t0)},
		Spec: kickqv1alpha1.QueueJobSpec{QueueName: "default", Pod: &kickqv1alpha1.PodTarget{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "x"}}}}}},
	}
	for _, m := range mut {
		m(j)
	}
	return j
}

func running(attempt int32, started time.Time) func(*kickqv1alpha1.QueueJob) {
	return func(j *kickqv1alpha1.QueueJob) {
		j.Status.Phase = kickqv1alpha1.PhaseRunning
		j.Status.Attempts = attempt
		j.Status.StartTime = &metav1.Time{Time: started}
		j.Status.AttemptHistory = []kickqv1alpha1.AttemptRecord{{Number: attempt, StartTime: &metav1.Time{Time: started}}}
	}
}

func finished(o kickqv1alpha1.Outcome, code int32) attempt.Observation {
	return attempt.Observation{Phase: attempt.Finished, Name: "j-1", Result: outcome.Result{Outcome: o, ExitCode: &code, Reason: "Error", Message: "exit"}}
}

func TestDecide(t *testing.T) {
	implicit := QueueView{Implicit: true}
	cases := []struct {
		name       string
		job        *kickqv1alpha1.QueueJob
		queue      QueueView
		current    attempt.Observation
		now        time.Time
		wantPhase  kickqv1alpha1.QueueJobPhase
		wantReason string // status.reason, or the Blocked condition's reason
		wantAction Action
		wantAt     time.Time
	}{
		{name: "new job is ready: awaits admission", job: podJob(), queue: implicit, now: t0, wantAction: AwaitAdmission},
		{name: "delaySeconds: Delayed until due", job: podJob(func(j *kickqv1alpha1.QueueJob) { j.Spec.DelaySeconds = ptr.To[int32](30) }),
			queue: implicit, now: t0.Add(10 * time.Second), wantPhase: kickqv1alpha1.PhaseDelayed, wantAt: t0.Add(30 * time.Second)},
		{name: "delaySeconds due: ready", job: podJob(func(j *kickqv1alpha1.QueueJob) { j.Spec.DelaySeconds = ptr.To[int32](30) }),
			queue: implicit, now: t0.Add(30 * time.Second), wantAction: AwaitAdmission},
		{name: "notBeforeTime: Delayed", job: podJob(func(j *kickqv1alpha1.QueueJob) { j.Spec.NotBeforeTime = &metav1.Time{Time: t0.Add(time.Hour)} }),
			queue: implicit, now: t0, wantPhase: kickqv1alpha1.PhaseDelayed, wantAt: t0.Add(time.Hour)},
		{name: "missing queue: Blocked QueueNotFound", job: podJob(func(j *kickqv1alpha1.QueueJob) { j.Spec.QueueName = "q" }),
			queue: QueueView{}, now: t0, wantPhase: kickqv1alpha1.PhaseBlocked, wantReason: kickqv1alpha1.ReasonQueueNotFound},
		{name: "no handler: Blocked HandlerNotFound", job: podJob(func(j *kickqv1alpha1.QueueJob) { j.Spec.Pod = nil; j.Spec.Type = "t" }),
			queue: QueueView{Spec: &kickqv1alpha1.QueueSpec{}}, now: t0, wantPhase: kickqv1alpha1.PhaseBlocked, wantReason: kickqv1alpha1.ReasonHandlerNotFound},
		{name: "inline target denied", job: podJob(), queue: QueueView{Spec: &kickqv1alpha1.QueueSpec{InlineTargets: kickqv1alpha1.InlineTargetsDeny}},
			now: t0, wantPhase: kickqv1alpha1.PhaseBlocked, wantReason: kickqv1alpha1.ReasonInlineTargetDenied},
		{name: "suspended: Pending, no action", job: podJob(func(j *kickqv1alpha1.QueueJob) { j.Spec.Suspend = ptr.To(true) }),
			queue: implicit, now: t0, wantPhase: kickqv1alpha1.PhasePending},
		{name: "running, pod running: nothing", job: podJob(running(1, t0)), queue: implicit,
			current: attempt.Observation{Phase: attempt.Running}, now: t0.Add(time.Minute), wantPhase: kickqv1alpha1.PhaseRunning},
		{name: "running, pod succeeded: Succeeded", job: podJob(running(1, t0)), queue: implicit,
			current: finished(kickqv1alpha1.OutcomeSucceed, 0), now: t0.Add(time.Minute), wantPhase: kickqv1alpha1.PhaseSucceeded, wantReason: kickqv1alpha1.ReasonCompleted},
		{name: "running, counted failure: Delayed by backoff (10s default)", job: podJob(running(1, t0)), queue: implicit,
			current: finished(kickqv1alpha1.OutcomeFail, 1), now: t0.Add(time.Minute), wantPhase: kickqv1alpha1.PhaseDelayed, wantAt: t0.Add(70 * time.Second)},
		{name: "running, Die: Failed/Died", job: podJob(running(1, t0)), queue: implicit,
			current: finished(kickqv1alpha1.OutcomeDie, 2), now: t0.Add(time.Minute), wantPhase: kickqv1alpha1.PhaseFailed, wantReason: kickqv1alpha1.ReasonDied},
		{name: "running, uncounted Retry: ready again", job: podJob(running(1, t0)), queue: implicit,
			current: finished(kickqv1alpha1.OutcomeRetry, 75), now: t0.Add(time.Minute), wantPhase: kickqv1alpha1.PhasePending},
		{name: "retries exhausted", job: podJob(running(4, t0), func(j *kickqv1alpha1.QueueJob) { j.Status.FailedAttempts = 3 }), queue: implicit,
			current: finished(kickqv1alpha1.OutcomeFail, 1), now: t0.Add(time.Minute), wantPhase: kickqv1alpha1.PhaseFailed, wantReason: kickqv1alpha1.ReasonRetriesExhausted},
		{name: "pod lost: counted failure", job: podJob(running(1, t0)), queue: implicit,
			current: attempt.Observation{Phase: attempt.Missing, Lost: true}, now: t0.Add(time.Minute), wantPhase: kickqv1alpha1.PhaseDelayed},
		{name: "recorded but never created: start again", job: podJob(running(1, t0)), queue: implicit,
			current: attempt.Observation{Phase: attempt.Missing}, now: t0, wantPhase: kickqv1alpha1.PhaseRunning, wantAction: Start},
		{name: "attempt deadline: fail and stop", job: podJob(running(1, t0), func(j *kickqv1alpha1.QueueJob) { j.Spec.AttemptDeadlineSeconds = ptr.To[int32](30) }),
			queue: implicit, current: attempt.Observation{Phase: attempt.Running}, now: t0.Add(30 * time.Second), wantPhase: kickqv1alpha1.PhaseDelayed, wantAction: Stop},
		{name: "attempt deadline ahead: requeue at it", job: podJob(running(1, t0), func(j *kickqv1alpha1.QueueJob) { j.Spec.AttemptDeadlineSeconds = ptr.To[int32](30) }),
			queue: implicit, current: attempt.Observation{Phase: attempt.Running}, now: t0.Add(10 * time.Second), wantPhase: kickqv1alpha1.PhaseRunning, wantAt: t0.Add(30 * time.Second)},
		{name: "job deadline: Failed/DeadlineExceeded and stop", job: podJob(running(1, t0), func(j *kickqv1alpha1.QueueJob) { j.Spec.ActiveDeadlineSeconds = ptr.To[int32](60) }),
			queue: implicit, current: attempt.Observation{Phase: attempt.Running}, now: t0.Add(time.Minute), wantPhase: kickqv1alpha1.PhaseFailed, wantReason: kickqv1alpha1.ReasonDeadlineExceeded, wantAction: Stop},
		{name: "cancel: Failed/Cancelled and stop", job: podJob(running(1, t0), func(j *kickqv1alpha1.QueueJob) { j.Spec.Cancel = ptr.To(true) }),
			queue: implicit, current: attempt.Observation{Phase: attempt.Running}, now: t0, wantPhase: kickqv1alpha1.PhaseFailed, wantReason: kickqv1alpha1.ReasonCancelled, wantAction: Stop},
		{name: "start deadline with ImagePullBackOff: fail and stop", job: podJob(running(1, t0), func(j *kickqv1alpha1.QueueJob) { j.Spec.Pod.StartDeadlineSeconds = ptr.To[int32](60) }),
			queue: implicit, current: attempt.Observation{Phase: attempt.NotStarted, CreatedAt: t0, WaitingReason: "ImagePullBackOff"}, now: t0.Add(time.Minute),
			wantPhase: kickqv1alpha1.PhaseDelayed, wantAction: Stop},
		{name: "oversized data: Failed/InvalidSpec", job: podJob(func(j *kickqv1alpha1.QueueJob) {
			j.Spec.Data = &apiextensionsv1.JSON{Raw: make([]byte, limits.MaxDataBytes+1)}
		}), queue: implicit, now: t0, wantPhase: kickqv1alpha1.PhaseFailed, wantReason: kickqv1alpha1.ReasonInvalidSpec},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Decide(Input{Job: tc.job, Queue: tc.queue, Current: tc.current, Settled: true, Now: tc.now})
			if res.Action != tc.wantAction {
				t.Errorf("action = %q, want %q", res.Action, tc.wantAction)
			}
			if tc.wantPhase != "" && res.Status.Phase != tc.wantPhase {
				t.Errorf("phase = %q, want %q (message %q)", res.Status.Phase, tc.wantPhase, res.Status.Message)
			}
			if tc.wantReason != "" {
				got := res.Status.Reason
				if c := meta.FindStatusCondition(res.Status.Conditions, kickqv1alpha1.JobBlocked); c != nil && c.Status == metav1.ConditionTrue {
					got = c.Reason
				}
				if got != tc.wantReason {
					t.Errorf("reason = %q, want %q", got, tc.wantReason)
				}
			}
			if !tc.wantAt.IsZero() && !res.RequeueAt.Equal(tc.wantAt) {
				t.Errorf("requeue at %v, want %v", res.RequeueAt, tc.wantAt)
			}
		})
	}
}

func TestAdmit(t *testing.T) {
	in := Input{Job: podJob(), Queue: QueueView{Implicit: true}, Settled: true, Now: t0}
	res := Decide(in)
	started := Admit(res, in, admission.Decision{Admitted: true})
	if started.Action != Start || started.Status.Attempts != 1 || started.Status.Phase != kickqv1alpha1.PhaseRunning {
		t.Fatalf("admitted: action %q attempts %d phase %q", started.Action, started.Status.Attempts, started.Status.Phase)
	}
	if rec := started.Status.AttemptHistory[0]; rec.PodName != "j-1" || !rec.StartTime.Time.Equal(t0) {
		t.Errorf("attempt record %+v", rec)
	}
	held := Admit(res, in, admission.Decision{Reason: admission.ReasonRate, RetryAt: t0.Add(time.Minute), Message: "rate"})
	c := meta.FindStatusCondition(held.Status.Conditions, kickqv1alpha1.JobBlocked)
	if held.Action != None || held.Status.Phase != kickqv1alpha1.PhasePending || c == nil || c.Reason != kickqv1alpha1.ReasonRateLimited || !held.RequeueAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("held: %+v", held)
	}
}

func TestLogRingIsBounded(t *testing.T) {
	var st kickqv1alpha1.QueueJobStatus
	for range limits.MaxLogEntries + 50 {
		appendLog(&st, t0, "line")
	}
	if len(st.Logs) != limits.MaxLogEntries || st.LogsDropped != 50 {
		t.Errorf("logs %d dropped %d", len(st.Logs), st.LogsDropped)
	}
	for range 40 {
		appendLog(&st, t0, string(make([]byte, 1000)))
	}
	size := 0
	for _, l := range st.Logs {
		size += len(l.Message)
	}
	if size > limits.MaxLogBytes {
		t.Errorf("log bytes %d > %d", size, limits.MaxLogBytes)
	}
}

func TestResolvedPolicyIsFixedAtAdmission(t *testing.T) {
	q := &kickqv1alpha1.QueueSpec{Defaults: &kickqv1alpha1.JobPolicies{
		Retry:                  &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](5), Backoff: &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffFixed, BaseSeconds: ptr.To[int32](7)}},
		AttemptDeadlineSeconds: ptr.To[int32](90),
	}}
	in := Input{Job: podJob(), Queue: QueueView{Spec: q}, Settled: true, Now: t0}
	started := Admit(Decide(in), in, admission.Decision{Admitted: true})
	r := started.Status.Resolved
	if r == nil || *r.Retry.Limit != 5 || r.Retry.Backoff.Type != kickqv1alpha1.BackoffFixed || *r.Retry.Backoff.BaseSeconds != 7 ||
		r.Retry.Backoff.Factor != nil || *r.AttemptDeadlineSeconds != 90 || r.Handler != "inline" {
		t.Fatalf("resolved = %+v", r)
	}
	if started.Target.AttemptDeadlineSeconds == nil || *started.Target.AttemptDeadlineSeconds != 90 {
		t.Errorf("the pod deadline comes from the resolved policy")
	}

	// The queue's owner lowers the retry limit to 0: the running job keeps what it was admitted with.
	job := podJob()
	job.Status = started.Status
	q.Defaults.Retry.Limit = ptr.To[int32](0)
	res := Decide(Input{Job: job, Queue: QueueView{Spec: q}, Current: finished(kickqv1alpha1.OutcomeFail, 1), Settled: true, Now: t0.Add(time.Minute)})
	if res.Status.Phase != kickqv1alpha1.PhaseDelayed || !res.RequeueAt.Equal(t0.Add(time.Minute+7*time.Second)) {
		t.Errorf("phase %q requeue %v: want Delayed by the resolved Fixed 7s backoff", res.Status.Phase, res.RequeueAt)
	}
}

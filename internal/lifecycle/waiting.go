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
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// decideWaiting handles a job with no running attempt, in order: delayed (not due yet), waiting
// for its dependencies, blocked (no queue or handler), suspended, the previous run still
// stopping — else ready, and admission decides.
func decideWaiting(res *Result, in Input, blockReason, blockMsg string) {
	st := &res.Status
	if delayed(res, in) {
		return
	}
	setReadyTime(st, in)
	st.NextAttemptTime = nil

	if in.Job.Status.Attempts == 0 && in.Job.Spec.After != nil {
		ended, reason, msg := waitForDependencies(res, in)
		if ended {
			return
		}
		if blockReason == "" {
			blockReason, blockMsg = reason, msg
		}
	}
	switch {
	case blockReason != "":
		block(res, in.Now, blockReason, blockMsg)
	case ptrTrue(in.Job.Spec.Suspend):
		suspend(res, in.Now)
	default:
		resume(st, in.Now)
		ready(res, in)
	}
}

// delayed holds a job whose next attempt is not due yet (delaySeconds, notBeforeTime, backoff).
func delayed(res *Result, in Input) bool {
	due, ok := dueTime(in)
	if !ok || !in.Now.Before(due) {
		return false
	}
	st := &res.Status
	st.Phase = kickqv1alpha1.PhaseDelayed
	setNotBefore(res, due)
	st.Message = "waiting until " + st.NextAttemptTime.UTC().Format(time.RFC3339)
	res.requeue(due)
	return true
}

// DueTime is when the job's next attempt is due (delaySeconds, notBeforeTime, the backoff or
// Retry-After after an attempt), and false when it has no due time; the reconciler measures
// start lateness from it.
func DueTime(in Input) (time.Time, bool) { return dueTime(in) }

// dueTime is when the job's next attempt may start, never early: the backoff or Retry-After
// after an attempt (exact when the manager knows it, else as status rounded it up), else its
// notBeforeTime or delaySeconds for the first attempt.
func dueTime(in Input) (time.Time, bool) {
	job := in.Job
	switch next := job.Status.NextAttemptTime; {
	case next != nil && job.Status.Attempts > 0:
		if !in.NextAttemptTime.IsZero() && ceilSecond(in.NextAttemptTime).Equal(next.Time) {
			return in.NextAttemptTime, true
		}
		return next.Time, true
	case job.Status.Attempts > 0:
		return time.Time{}, false
	case job.Spec.NotBeforeTime != nil:
		return job.Spec.NotBeforeTime.Time, true
	case job.Spec.DelaySeconds != nil && *job.Spec.DelaySeconds > 0:
		return delayBase(in).Add(seconds(*job.Spec.DelaySeconds)), true
	}
	return time.Time{}, false
}

// setReadyTime records when the job became ready, unless status has it: its due time (delay,
// notBeforeTime, backoff), else its creation.
func setReadyTime(st *kickqv1alpha1.QueueJobStatus, in Input) {
	if st.ReadyTime != nil {
		return
	}
	readyAt := metav1.NewTime(in.Job.CreationTimestamp.Time)
	if due, ok := dueTime(in); ok {
		readyAt = metav1.NewTime(due)
	}
	st.ReadyTime = &readyAt
}

// delayBase is what delaySeconds counts from: when the manager first saw the job, or the second
// after its creationTimestamp, whichever is earlier (see Input.FirstSeen).
func delayBase(in Input) time.Time {
	base := in.Job.CreationTimestamp.Add(time.Second)
	if !in.FirstSeen.IsZero() && in.FirstSeen.Before(base) {
		return in.FirstSeen
	}
	return base
}

// waitForDependencies applies spec.after before the first attempt: a dependency that failed (or
// an impossible spec) ends the job; pending ones block it, bounded by activeDeadlineSeconds
// counted from its creation (a dependency that never appears must not hold it forever). It
// returns whether the job ended, and else the Blocked reason and message ("" when nothing holds
// it).
func waitForDependencies(res *Result, in Input) (ended bool, reason, msg string) {
	st := &res.Status
	deps := in.Deps
	if deps.Counts != nil {
		st.Dependencies = deps.Counts.DeepCopy()
	}
	switch {
	case deps.Invalid:
		finish(res, in.Now, false, kickqv1alpha1.ReasonInvalidSpec, deps.Message)
		return true, "", ""
	case deps.Failed:
		finish(res, in.Now, false, kickqv1alpha1.ReasonDependencyFailed, deps.Message)
		return true, "", ""
	case !deps.Pending:
		return false, "", ""
	}
	if d := res.effective.ActiveDeadlineSeconds; d != nil {
		due := in.Job.CreationTimestamp.Add(seconds(*d))
		if !in.Now.Before(due) {
			finish(res, in.Now, false, kickqv1alpha1.ReasonDeadlineExceeded,
				fmt.Sprintf("waited longer than activeDeadlineSeconds (%ds) for its dependencies: %s", *d, deps.Message))
			return true, "", ""
		}
		res.requeue(due)
	}
	return false, kickqv1alpha1.ReasonDependenciesPending, deps.Message
}

// block holds the job Blocked for reason; the Event is emitted when the reason changes.
func block(res *Result, now time.Time, reason, msg string) {
	st := &res.Status
	msg = message(msg)
	if c := meta.FindStatusCondition(st.Conditions, kickqv1alpha1.JobBlocked); c == nil || c.Status != metav1.ConditionTrue || c.Reason != reason {
		res.event(corev1.EventTypeWarning, reason, "%s", msg)
	}
	st.Phase = kickqv1alpha1.PhaseBlocked
	st.Message = msg
	setBlocked(st, now, true, reason, msg)
}

// suspend holds the job Pending while spec.suspend is set.
func suspend(res *Result, now time.Time) {
	st := &res.Status
	const msg = "spec.suspend holds the job before its next attempt"
	if !meta.IsStatusConditionTrue(st.Conditions, kickqv1alpha1.JobSuspended) {
		res.event(corev1.EventTypeNormal, kickqv1alpha1.EventReasonSuspended, msg)
	}
	st.Phase = kickqv1alpha1.PhasePending
	st.Message = "suspended by spec.suspend"
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: kickqv1alpha1.JobSuspended, Status: metav1.ConditionTrue,
		Reason: kickqv1alpha1.ReasonSuspended, Message: msg, LastTransitionTime: metav1.NewTime(now)})
	setBlocked(st, now, false, "", "")
}

// resume turns the Suspended condition False once spec.suspend is unset.
func resume(st *kickqv1alpha1.QueueJobStatus, now time.Time) {
	if c := meta.FindStatusCondition(st.Conditions, kickqv1alpha1.JobSuspended); c != nil && c.Status == metav1.ConditionTrue {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: kickqv1alpha1.JobSuspended, Status: metav1.ConditionFalse,
			Reason: kickqv1alpha1.ReasonResumed, Message: "spec.suspend is unset", LastTransitionTime: metav1.NewTime(now)})
	}
}

// ready hands a job that nothing holds to admission, unless the previous attempt's run is still
// stopping. A pull worker's job is admitted like any other: workers claim admitted attempts.
func ready(res *Result, in Input) {
	st := &res.Status
	switch {
	case !in.Settled:
		// The previous attempt's run is still stopping; its end wakes the job.
		st.Phase = kickqv1alpha1.PhasePending
		st.Message = fmt.Sprintf("waiting for the run of attempt %d to end", st.Attempts)
	default:
		res.Action = AwaitAdmission
		res.Attempt = st.Attempts + 1
	}
}

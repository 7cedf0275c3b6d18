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

// Package lifecycle decides what a QueueJob does next. Decide is a pure function of the job, its
// queue, what the executor observed of its attempts, and the time: it returns the status to write
// and at most one side effect, which the reconciler runs only after the status write succeeded.
// It never reads the API server, calls a receiver or looks at a clock.
//
// One behaviour per file: running.go follows a running attempt (one check per deadline kind),
// retry.go ends an attempt and applies the retry policy, waiting.go holds a job that is not
// running (delays, dependencies, blocks, suspension), admit.go starts an attempt with admission's
// answer, target.go resolves the target and the policy snapshot, notify.go drives the completion
// callback, ttl.go the time to live, and status.go the status helpers they share.
package lifecycle

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/limits"
	"kickq.dev/kickq/internal/policy"
)

// Action is the one side effect of a reconcile.
type Action string

// Actions.
const (
	// None: nothing to do beyond the status write.
	None Action = ""
	// Start: start attempt Result.Attempt on Result.Target.
	Start Action = "Start"
	// Stop: stop attempt Result.Attempt.
	Stop Action = "Stop"
	// Notify: send the completion callback (spec.notify), then look again when it ended.
	Notify Action = "Notify"
	// NotifyRecorded: the callback's delivery is recorded in status; the executor may forget it.
	NotifyRecorded Action = "NotifyRecorded"
	// Delete: the finished job's time to live has passed; delete it.
	Delete Action = "Delete"
	// AwaitAdmission: the job is ready; ask admission, then call Admit with its decision.
	AwaitAdmission Action = "AwaitAdmission"
)

// QueueView is the job's queue as the reconciler found it.
type QueueView struct {
	// Spec is the queue's spec; nil when the queue does not exist.
	Spec *kickqv1alpha1.QueueSpec
	// Implicit is true when the job runs under the implicit default queue.
	Implicit bool
	// DefaultRetention is the manager's --default-retention: the retention of a phase for which
	// the queue sets none (nil: none).
	DefaultRetention *kickqv1alpha1.Retention
}

// Input is everything Decide looks at.
type Input struct {
	Job   *kickqv1alpha1.QueueJob
	Queue QueueView
	// Current is what the executor observes of attempt status.attempts (when one was started).
	Current attempt.Observation
	// Unrecorded is what the executor observes of attempt status.attempts+1 when its run exists
	// although status does not record it (StartRecordedBySideEffect); nil: none.
	Unrecorded *attempt.Observation
	// StartedAt is when this manager made that attempt's side effect (exact; zero: not known,
	// e.g. after a restart: the attempt is then written at once).
	StartedAt time.Time
	// RunningWriteDelay is how long an attempt whose side effect is its own record may run
	// before status says Running (unrecorded.go); 0: its start is written before it is made.
	RunningWriteDelay time.Duration
	// Settled: all runs of attempts before the next one have ended.
	Settled bool
	// Deps is the state of the jobs named by spec.after.
	Deps Dependencies
	// Report is what the running attempt reported through the report API and status does not
	// show yet (nil: nothing due).
	Report *attempt.Pending
	// Notification is what the executor knows of the completion callback's delivery.
	Notification attempt.NotifyState
	Now          time.Time
	// FirstSeen is when this manager first saw the job (zero: not known, e.g. after a restart).
	// delaySeconds counts from it or from creationTimestamp + 1 s, whichever is earlier: the
	// create happened within the second after the whole-second creationTimestamp, and before the
	// manager saw it, so both are after it and the delay is never cut short.
	FirstSeen time.Time
	// NextAttemptTime is the exact not-before time this manager last decided for the job (zero:
	// not known). Status keeps it rounded up to the whole second; when the two agree the exact
	// one is used, so a retry is never early and not late by the rounding.
	NextAttemptTime time.Time
}

// Dependencies is what the reconciler found of the jobs a job waits for (spec.after).
type Dependencies struct {
	// Pending: some are not done yet (or do not exist yet); Message says which.
	Pending bool
	// Failed: one failed although all had to succeed; Message names it.
	Failed bool
	// Invalid: spec.after cannot be met (it names the job itself); Message says why.
	Invalid bool
	Message string
	// Counts is what status.dependencies shows.
	Counts *kickqv1alpha1.DependencyCounts
}

// Event is a Kubernetes Event to emit once the status write succeeded.
type Event struct {
	Type    string // corev1.EventTypeNormal or EventTypeWarning
	Reason  string
	Message string
}

// Result is what to do.
type Result struct {
	Status  kickqv1alpha1.QueueJobStatus
	Action  Action
	Attempt int32
	Target  attempt.Target
	// Handler is the admission handler key of the job's target ("" when unresolved).
	Handler string
	// RequeueAt is when to look again (zero: on the next event only).
	RequeueAt time.Time

	Events []Event
	// Deferred: Status records an attempt's start that its side effect records itself (a pod, an
	// unlimited webhook call); it is not written now, and the reconciler looks again by
	// RequeueAt. Admission's reservation holds the attempt's slot meanwhile.
	Deferred bool
	// Adopted: Status records the start of an attempt whose run was found unrecorded
	// (Input.Unrecorded).
	Adopted bool

	effective policy.Effective
	// nextAttemptTime is the exact time behind Status.NextAttemptTime (rounded up to the second).
	nextAttemptTime time.Time
}

// ExactNextAttemptTime is the exact time behind Status.NextAttemptTime, which status keeps
// rounded up to the second; zero when this pass set none. The reconciler hands it back as
// Input.NextAttemptTime on the next pass.
func (r *Result) ExactNextAttemptTime() time.Time { return r.nextAttemptTime }

// requeue asks to look again at t, keeping the earliest such time.
func (r *Result) requeue(t time.Time) {
	if t.IsZero() {
		return
	}
	if r.RequeueAt.IsZero() || t.Before(r.RequeueAt) {
		r.RequeueAt = t
	}
}

// event records an Event to emit after the status write, its message bounded.
func (r *Result) event(typ, reason, format string, args ...any) {
	r.Events = append(r.Events, Event{Type: typ, Reason: reason, Message: message(fmt.Sprintf(format, args...))})
}

// IsFinished reports whether the job ended.
func IsFinished(st *kickqv1alpha1.QueueJobStatus) bool {
	return meta.IsStatusConditionTrue(st.Conditions, kickqv1alpha1.JobComplete) ||
		meta.IsStatusConditionTrue(st.Conditions, kickqv1alpha1.JobFailed)
}

// Decide returns the job's next status and side effect.
func Decide(in Input) Result {
	job := in.Job
	res := Result{Status: *job.Status.DeepCopy()}
	res.Status.ObservedGeneration = job.Generation

	switch {
	case job.Spec.Cron != nil:
		return res // templates are driven by the cron controller
	case IsFinished(&res.Status):
		decideFinished(&res, in)
		return res
	case job.Spec.Data != nil && limits.DataBytes(job.Spec.Data.Raw) > limits.MaxDataBytes:
		// The manager's cache holds a marker with the size in place of an oversized value.
		finish(&res, in.Now, false, kickqv1alpha1.ReasonInvalidSpec,
			fmt.Sprintf("spec.data is %d bytes; the manager accepts at most %d", limits.DataBytes(job.Spec.Data.Raw), limits.MaxDataBytes))
		return res
	}

	target, blockReason, blockMsg := ResolveTarget(job, in.Queue)
	eff := Effective(job, in.Queue, target)
	target.AttemptDeadlineSeconds = eff.AttemptDeadlineSeconds
	res.Target, res.Handler, res.effective = target, target.Handler, eff
	running := res.Status.Phase == kickqv1alpha1.PhaseRunning && res.Status.Attempts > 0
	var adopted *kickqv1alpha1.QueueJobStatus
	if !running && in.Unrecorded != nil {
		in.Current = *in.Unrecorded
		st := adopt(&res, in)
		adopted, running = &st, true
	}

	// Cancellation and the job's deadline end it whatever it is doing.
	if endedByCancel(&res, in, running) || endedByActiveDeadline(&res, in, eff, running) {
		return res
	}
	if running {
		decideRunning(&res, in, eff)
		if adopted != nil {
			deferAdopted(&res, in, adopted)
		}
		return res
	}
	decideWaiting(&res, in, blockReason, blockMsg)
	return res
}

// decideFinished stops a finished job's attempt that still runs (cancel, deadline) once the status
// said so, then drives its completion callback and its time to live.
func decideFinished(res *Result, in Input) {
	st := &res.Status
	if st.Attempts > 0 && isActive(in.Current) && !in.Current.Deleting {
		res.Action, res.Attempt = Stop, st.Attempts
		return
	}
	if in.Job.Spec.Notify != nil {
		decideNotify(res, in)
		if !NotifySettled(st) {
			return // a job is deleted only after its callback was delivered or given up
		}
		if res.Action == NotifyRecorded {
			// The delivery's record is written first (and the executor forgets it); a due TTL
			// deletes the job on the next pass.
			if ttl := TTL(in.Job, in.Queue); ttl != nil && st.FinishTime != nil {
				res.requeue(st.FinishTime.Add(seconds(*ttl)))
			}
			return
		}
	}
	decideTTL(res, in)
}

// endedByCancel ends a job whose spec.cancel is set.
func endedByCancel(res *Result, in Input, running bool) bool {
	if !ptrTrue(in.Job.Spec.Cancel) {
		return false
	}
	const msg = "cancelled by spec.cancel"
	endAttempt(res, in.Now, kickqv1alpha1.OutcomeDie, kickqv1alpha1.ReasonCancelled, msg, running)
	finish(res, in.Now, false, kickqv1alpha1.ReasonCancelled, msg)
	stopIfRunning(res, in.Current, running)
	return true
}

// endedByActiveDeadline ends a job that ran longer than activeDeadlineSeconds since its first
// start, or asks to look again then.
func endedByActiveDeadline(res *Result, in Input, eff policy.Effective, running bool) bool {
	st := &res.Status
	if eff.ActiveDeadlineSeconds == nil || st.StartTime == nil {
		return false
	}
	due := st.StartTime.Add(seconds(*eff.ActiveDeadlineSeconds))
	if in.Now.Before(due) {
		res.requeue(due)
		return false
	}
	msg := fmt.Sprintf("the job ran longer than activeDeadlineSeconds (%ds)", *eff.ActiveDeadlineSeconds)
	endAttempt(res, in.Now, kickqv1alpha1.OutcomeFail, kickqv1alpha1.ReasonDeadlineExceeded, msg, running)
	finish(res, in.Now, false, kickqv1alpha1.ReasonDeadlineExceeded, msg)
	stopIfRunning(res, in.Current, running)
	return true
}

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
// queue, what the executor observes of its attempts, and the time: it returns the status to write
// and at most one side effect, which the reconciler runs only after the status write succeeded.
package lifecycle

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/backoff"
	"kickq.dev/kickq/internal/outcome"
	"kickq.dev/kickq/internal/policy"
)

// Bounds of what the manager keeps and accepts.
const (
	// MaxDataBytes caps spec.data.
	MaxDataBytes = 64 * 1024
	// MaxAttemptHistory is how many attempts status.attemptHistory keeps (the newest).
	MaxAttemptHistory = 20
	// MaxLogEntries and MaxLogBytes bound the status.logs ring.
	MaxLogEntries = 100
	MaxLogBytes   = 16 * 1024
	// expectedPodGrace is how long a started attempt whose pod the cache does not show yet is
	// waited for before it is checked again.
	expectedPodGrace = 2 * time.Second
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
	// Admit: the job is ready; ask admission, then call Admit with its decision.
	AwaitAdmission Action = "AwaitAdmission"
)

// QueueView is the job's queue as the reconciler found it.
type QueueView struct {
	// Spec is the queue's spec; nil when the queue does not exist.
	Spec *kickqv1alpha1.QueueSpec
	// Implicit is true when the job runs under the implicit default queue.
	Implicit bool
}

// Input is everything Decide looks at.
type Input struct {
	Job   *kickqv1alpha1.QueueJob
	Queue QueueView
	// Current is what the executor observes of attempt status.attempts (when one was started).
	Current attempt.Observation
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
	Events    []Event

	effective policy.Effective
}

func (r *Result) requeue(t time.Time) {
	if t.IsZero() {
		return
	}
	if r.RequeueAt.IsZero() || t.Before(r.RequeueAt) {
		r.RequeueAt = t
	}
}

func (r *Result) event(typ, reason, format string, args ...any) {
	r.Events = append(r.Events, Event{Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)})
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
	st := &res.Status
	st.ObservedGeneration = job.Generation
	now := in.Now

	if job.Spec.Cron != nil {
		// Templates are driven by the cron controller.
		return res
	}
	if IsFinished(st) {
		// A finished job's running attempt (cancel, deadline) is stopped after the status said so.
		if st.Attempts > 0 && (in.Current.Phase == attempt.Running || in.Current.Phase == attempt.NotStarted) && !in.Current.Deleting {
			res.Action, res.Attempt = Stop, st.Attempts
			return res
		}
		if job.Spec.Notify != nil {
			decideNotify(&res, in)
			if !NotifySettled(st) {
				return res // a job is deleted only after its callback was delivered or given up
			}
		}
		decideTTL(&res, in)
		return res
	}
	if job.Spec.Data != nil && len(job.Spec.Data.Raw) > MaxDataBytes {
		finish(&res, now, false, kickqv1alpha1.ReasonInvalidSpec,
			fmt.Sprintf("spec.data is %d bytes; the manager accepts at most %d", len(job.Spec.Data.Raw), MaxDataBytes))
		return res
	}

	target, blockReason, blockMsg := ResolveTarget(job, in.Queue)
	eff := Effective(job, in.Queue, target)
	target.AttemptDeadlineSeconds = eff.AttemptDeadlineSeconds
	res.Target, res.Handler, res.effective = target, target.Handler, eff
	running := st.Phase == kickqv1alpha1.PhaseRunning && st.Attempts > 0

	// Cancellation and the job's deadline end it whatever it is doing.
	if ptrTrue(job.Spec.Cancel) {
		endAttempt(&res, now, kickqv1alpha1.OutcomeDie, "Cancelled", "cancelled by spec.cancel", running)
		finish(&res, now, false, kickqv1alpha1.ReasonCancelled, "cancelled by spec.cancel")
		stopIfRunning(&res, in.Current, running)
		return res
	}
	if eff.ActiveDeadlineSeconds != nil && st.StartTime != nil {
		due := st.StartTime.Add(seconds(*eff.ActiveDeadlineSeconds))
		if !now.Before(due) {
			msg := fmt.Sprintf("the job ran longer than activeDeadlineSeconds (%ds)", *eff.ActiveDeadlineSeconds)
			endAttempt(&res, now, kickqv1alpha1.OutcomeFail, "DeadlineExceeded", msg, running)
			finish(&res, now, false, kickqv1alpha1.ReasonDeadlineExceeded, msg)
			stopIfRunning(&res, in.Current, running)
			return res
		}
		res.requeue(due)
	}

	if running {
		decideRunning(&res, in, target, eff)
		return res
	}
	decideWaiting(&res, in, target, blockReason, blockMsg)
	return res
}

// decideRunning follows the running attempt.
func decideRunning(res *Result, in Input, target attempt.Target, eff policy.Effective) {
	st := &res.Status
	now := in.Now
	n := st.Attempts
	obs := in.Current
	rec := attemptRecord(st, n)
	started := now
	if rec != nil && rec.StartTime != nil {
		started = rec.StartTime.Time
	}

	// What the attempt reported (report API): progress, logs, heartbeat, result, and maybe its
	// outcome, which ends it at once.
	if p := in.Report; p != nil && p.Attempt == n {
		applyReport(st, p)
		if p.Outcome != "" {
			r := outcome.Result{Outcome: p.Outcome, Reason: "Reported", RetryAfter: p.RetryAfter,
				Message: fmt.Sprintf("attempt %d reported %s", n, p.Outcome)}
			if p.Message != "" {
				r.Message += ": " + p.Message
			}
			if p.Outcome == kickqv1alpha1.OutcomeSucceed {
				succeed(res, now, n, r)
			} else {
				failAttempt(res, in, eff, r)
			}
			if obs.Phase == attempt.Running || obs.Phase == attempt.NotStarted {
				res.Action, res.Attempt = Stop, n
			}
			return
		}
	}
	if obs.Accepted && (rec == nil || rec.HTTPStatusCode == nil) {
		setAttempt(st, n, func(a *kickqv1alpha1.AttemptRecord) {
			a.HTTPStatusCode = obs.Result.HTTPStatusCode
			a.Reason, a.Message = obs.Result.Reason, trim(obs.Result.Message, 1024)
		})
		st.Message = fmt.Sprintf("attempt %d accepted by the receiver; waiting for its report", n)
	}

	switch obs.Phase {
	case attempt.Missing:
		switch {
		case obs.Lost:
			failAttempt(res, in, eff, outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: "PodLost",
				Message: fmt.Sprintf("attempt %d failed: its pod %s disappeared", n, obs.Name)})
		case obs.Expected:
			res.requeue(now.Add(expectedPodGrace))
		default:
			// Recorded as started but not (visibly) created: a manager stopped between the
			// status write and the create. Starting again is idempotent.
			res.Action, res.Attempt = Start, n
		}
		return
	case attempt.Finished:
		r := obs.Result
		if obs.Pod != nil {
			r = outcome.Classify(obs.Pod, eff.Rules)
		}
		switch r.Outcome {
		case kickqv1alpha1.OutcomeSucceed:
			succeed(res, now, n, r)
		default:
			failAttempt(res, in, eff, r)
		}
		return
	case attempt.NotStarted:
		if obs.Deleting {
			return
		}
		if obs.WaitingReason != "" {
			// Say why the pod does not start (image pulls, scheduling): kubectl shows it.
			st.Message = trim(fmt.Sprintf("attempt %d waiting to start: %s: %s", n, obs.WaitingReason, obs.WaitingMessage), 1024)
		}
		if target.Pod != nil && target.Pod.StartDeadlineSeconds != nil {
			since := obs.CreatedAt
			if since.IsZero() {
				since = started
			}
			due := since.Add(seconds(*target.Pod.StartDeadlineSeconds))
			if !now.Before(due) {
				reason := obs.WaitingReason
				if reason == "" {
					reason = "StartDeadlineExceeded"
				}
				msg := fmt.Sprintf("attempt %d did not start within startDeadlineSeconds (%ds): %s", n, *target.Pod.StartDeadlineSeconds, reason)
				if obs.WaitingMessage != "" {
					msg += ": " + obs.WaitingMessage
				}
				failAttempt(res, in, eff, outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: reason, Message: msg})
				res.Action, res.Attempt = Stop, n
				return
			}
			res.requeue(due)
		}
	}
	// A running attempt that must send heartbeats (any report counts) and went silent is stuck.
	if eff.HeartbeatTimeoutSeconds != nil && obs.Phase == attempt.Running && !obs.Deleting {
		last := started
		if st.LastHeartbeatTime != nil && st.LastHeartbeatTime.After(last) {
			last = st.LastHeartbeatTime.Time
		}
		due := last.Add(seconds(*eff.HeartbeatTimeoutSeconds))
		if !now.Before(due) {
			failAttempt(res, in, eff, outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: "HeartbeatTimeout",
				Message: fmt.Sprintf("attempt %d sent no report for heartbeatTimeoutSeconds (%ds)", n, *eff.HeartbeatTimeoutSeconds)})
			res.Action, res.Attempt = Stop, n
			return
		}
		res.requeue(due)
	}
	// Running or not started yet: the operator-side attempt deadline.
	if eff.AttemptDeadlineSeconds != nil && !obs.Deleting {
		due := started.Add(seconds(*eff.AttemptDeadlineSeconds))
		if !now.Before(due) {
			failAttempt(res, in, eff, outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: "AttemptDeadlineExceeded",
				Message: fmt.Sprintf("attempt %d ran longer than attemptDeadlineSeconds (%ds)", n, *eff.AttemptDeadlineSeconds)})
			res.Action, res.Attempt = Stop, n
			return
		}
		res.requeue(due)
	}
}

// succeed ends the running attempt and the job successfully.
func succeed(res *Result, now time.Time, n int32, r outcome.Result) {
	st := &res.Status
	setAttempt(st, n, func(a *kickqv1alpha1.AttemptRecord) {
		a.FinishTime = mt(now)
		a.Outcome = kickqv1alpha1.OutcomeSucceed
		a.ExitCode, a.Reason, a.Message = r.ExitCode, r.Reason, trim(r.Message, 1024)
		if r.HTTPStatusCode != nil {
			a.HTTPStatusCode = r.HTTPStatusCode
		}
	})
	if r.Result != nil {
		// A result the run returned wins over one it reported earlier.
		st.Result = r.Result
	}
	appendLog(st, now, fmt.Sprintf("attempt %d succeeded", n))
	finish(res, now, true, kickqv1alpha1.ReasonCompleted, fmt.Sprintf("attempt %d succeeded", n))
}

// applyReport copies what an attempt reported into status: the newest progress and result, its
// log lines (into the bounded ring) and the time of its latest report as its heartbeat.
func applyReport(st *kickqv1alpha1.QueueJobStatus, p *attempt.Pending) {
	if p.Progress != nil {
		st.Progress = p.Progress.DeepCopy()
	}
	st.LogsDropped += p.LogsDropped
	for _, l := range p.Logs {
		appendLogEntry(st, l)
	}
	if !p.Heartbeat.IsZero() {
		st.LastHeartbeatTime = mt(p.Heartbeat)
	}
	if p.Result != nil {
		st.Result = p.Result.DeepCopy()
	}
}

// failAttempt ends the running attempt without success and applies the retry policy.
func failAttempt(res *Result, in Input, eff policy.Effective, r outcome.Result) {
	st := &res.Status
	now := in.Now
	n := st.Attempts
	o, msg := r.Outcome, r.Message
	setAttempt(st, n, func(a *kickqv1alpha1.AttemptRecord) {
		a.FinishTime = mt(now)
		a.Outcome = o
		a.ExitCode, a.Reason, a.Message = r.ExitCode, r.Reason, trim(msg, 1024)
		if r.HTTPStatusCode != nil {
			a.HTTPStatusCode = r.HTTPStatusCode
		}
	})
	switch o {
	case kickqv1alpha1.OutcomeDie:
		appendLog(st, now, fmt.Sprintf("attempt %d died: %s", n, msg))
		finish(res, now, false, kickqv1alpha1.ReasonDied, msg)
		return
	case kickqv1alpha1.OutcomeRetry:
		if r.RetryAfter > 0 {
			next := now.Add(r.RetryAfter)
			appendLog(st, now, fmt.Sprintf("attempt %d: %s; retrying in %s without counting", n, msg, r.RetryAfter))
			st.Phase = kickqv1alpha1.PhaseDelayed
			st.NextAttemptTime = mt(next)
			st.ReadyTime = mt(next)
			st.Message = trim(fmt.Sprintf("attempt %d: %s; next attempt at %s", n, msg, next.UTC().Format(time.RFC3339)), 1024)
			res.event(corev1.EventTypeNormal, "Retrying", "attempt %d: %s; retrying in %s without counting", n, msg, r.RetryAfter)
			res.requeue(next)
			return
		}
		appendLog(st, now, fmt.Sprintf("attempt %d failed, retrying without counting: %s", n, msg))
		st.Phase = kickqv1alpha1.PhasePending
		st.NextAttemptTime = nil
		st.ReadyTime = mt(now)
		res.event(corev1.EventTypeNormal, "Retrying", "attempt %d failed, retrying without counting: %s", n, msg)
		return
	}
	st.FailedAttempts++
	if st.FailedAttempts > eff.RetryLimit {
		m := fmt.Sprintf("attempt %d failed (%s); %d counted failures exceed retry.limit %d", n, msg, st.FailedAttempts, eff.RetryLimit)
		appendLog(st, now, fmt.Sprintf("attempt %d failed: %s; no retries left", n, msg))
		finish(res, now, false, kickqv1alpha1.ReasonRetriesExhausted, m)
		return
	}
	next := backoff.NextAttemptTime(now, eff.Backoff, st.FailedAttempts, string(in.Job.UID))
	wait := next.Sub(now)
	appendLog(st, now, fmt.Sprintf("attempt %d failed: %s, retrying in %s", n, msg, wait))
	st.Phase = kickqv1alpha1.PhaseDelayed
	st.NextAttemptTime = mt(next)
	st.Reason, st.Message = "", fmt.Sprintf("attempt %d failed: %s; next attempt at %s", n, trim(msg, 512), next.UTC().Format(time.RFC3339))
	res.event(corev1.EventTypeWarning, "AttemptFailed", "attempt %d failed: %s; retrying in %s", n, msg, wait)
	res.requeue(next)
}

// decideWaiting handles a job with no running attempt: delayed, blocked, suspended or ready.
func decideWaiting(res *Result, in Input, target attempt.Target, blockReason, blockMsg string) {
	st := &res.Status
	job := in.Job
	now := in.Now

	if due, ok := dueTime(job); ok && now.Before(due) {
		st.Phase = kickqv1alpha1.PhaseDelayed
		st.NextAttemptTime = mt(due)
		st.Message = "waiting until " + due.UTC().Format(time.RFC3339)
		res.requeue(due)
		return
	}
	readyAt := metav1.NewTime(job.CreationTimestamp.Time)
	if due, ok := dueTime(job); ok {
		readyAt = metav1.NewTime(due)
	}
	if st.ReadyTime == nil {
		st.ReadyTime = &readyAt
	}
	st.NextAttemptTime = nil

	if job.Status.Attempts == 0 && job.Spec.After != nil {
		if in.Deps.Counts != nil {
			st.Dependencies = in.Deps.Counts.DeepCopy()
		}
		switch {
		case in.Deps.Invalid:
			finish(res, now, false, kickqv1alpha1.ReasonInvalidSpec, in.Deps.Message)
			return
		case in.Deps.Failed:
			finish(res, now, false, kickqv1alpha1.ReasonDependencyFailed, in.Deps.Message)
			return
		}
		if in.Deps.Pending {
			// A job waiting for its dependencies is bounded by activeDeadlineSeconds, counted
			// from its creation (a dependency that never appears must not hold it forever).
			if d := res.effective.ActiveDeadlineSeconds; d != nil {
				due := job.CreationTimestamp.Add(seconds(*d))
				if !now.Before(due) {
					finish(res, now, false, kickqv1alpha1.ReasonDeadlineExceeded,
						fmt.Sprintf("waited longer than activeDeadlineSeconds (%ds) for its dependencies: %s", *d, in.Deps.Message))
					return
				}
				res.requeue(due)
			}
			if blockReason == "" {
				blockReason, blockMsg = kickqv1alpha1.ReasonDependenciesPending, in.Deps.Message
			}
		}
	}
	if blockReason != "" {
		if c := meta.FindStatusCondition(st.Conditions, kickqv1alpha1.JobBlocked); c == nil || c.Status != metav1.ConditionTrue || c.Reason != blockReason {
			res.event(corev1.EventTypeWarning, blockReason, "%s", blockMsg)
		}
		st.Phase = kickqv1alpha1.PhaseBlocked
		st.Message = blockMsg
		setBlocked(st, now, true, blockReason, blockMsg)
		return
	}
	if ptrTrue(job.Spec.Suspend) {
		if !meta.IsStatusConditionTrue(st.Conditions, kickqv1alpha1.JobSuspended) {
			res.event(corev1.EventTypeNormal, "Suspended", "spec.suspend holds the job before its next attempt")
		}
		st.Phase = kickqv1alpha1.PhasePending
		st.Message = "suspended by spec.suspend"
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: kickqv1alpha1.JobSuspended, Status: metav1.ConditionTrue,
			Reason: "Suspended", Message: "spec.suspend holds the job before its next attempt", LastTransitionTime: metav1.NewTime(now)})
		setBlocked(st, now, false, "", "")
		return
	}
	if c := meta.FindStatusCondition(st.Conditions, kickqv1alpha1.JobSuspended); c != nil && c.Status == metav1.ConditionTrue {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: kickqv1alpha1.JobSuspended, Status: metav1.ConditionFalse,
			Reason: "Resumed", Message: "spec.suspend is unset", LastTransitionTime: metav1.NewTime(now)})
	}
	if target.Kind == attempt.KindWorker {
		st.Phase = kickqv1alpha1.PhasePending
		st.Message = "waiting for a pull worker to claim the job: this manager runs pod and webhook targets"
		return
	}
	if !in.Settled {
		// The previous attempt's run is still stopping; its end wakes the job.
		st.Phase = kickqv1alpha1.PhasePending
		st.Message = fmt.Sprintf("waiting for the run of attempt %d to end", st.Attempts)
		return
	}
	res.Action = AwaitAdmission
	res.Attempt = st.Attempts + 1
}

// Admit completes a decision whose Action was Admit with admission's answer: the attempt starts
// (recorded in status first), or the job waits Pending with a Blocked condition naming the limit.
func Admit(res Result, in Input, d admission.Decision) Result {
	st := &res.Status
	now := in.Now
	if !d.Admitted {
		res.Action = None
		st.Phase = kickqv1alpha1.PhasePending
		st.Message = d.Message
		switch d.Reason {
		case admission.ReasonPaused, admission.ReasonConcurrency, admission.ReasonRate:
			setBlocked(st, now, true, string(d.Reason), d.Message)
		default:
			setBlocked(st, now, false, "", "")
			if st.Message == "" {
				st.Message = "waiting for its turn in the queue"
			}
		}
		if !d.RetryAt.IsZero() {
			res.requeue(d.RetryAt)
		}
		return res
	}
	n := st.Attempts + 1
	st.Attempts = n
	if st.Resolved == nil {
		st.Resolved = toResolved(res.effective, handlerName(in.Job, res.Target))
	}
	st.Phase = kickqv1alpha1.PhaseRunning
	st.Reason = ""
	st.Message = fmt.Sprintf("attempt %d running", n)
	st.NextAttemptTime = nil
	st.Progress = nil
	st.Result = nil
	st.LastHeartbeatTime = nil
	if st.StartTime == nil {
		st.StartTime = mt(now)
	}
	podName := ""
	if res.Target.Kind == attempt.KindPod {
		podName = attempt.PodName(in.Job, n)
	}
	setAttempt(st, n, func(a *kickqv1alpha1.AttemptRecord) {
		a.StartTime = mt(now)
		a.PodName = podName
	})
	setBlocked(st, now, false, "", "")
	if podName != "" {
		appendLog(st, now, fmt.Sprintf("attempt %d started: pod %s", n, podName))
	} else {
		appendLog(st, now, fmt.Sprintf("attempt %d started", n))
	}
	if n > 1 {
		// A first start is in status (and its pod's own events); an Event for it would cost an
		// API write per job. Retries starting are worth one.
		res.event(corev1.EventTypeNormal, "Started", "attempt %d started", n)
	}
	res.Action, res.Attempt = Start, n
	if eff := res.Target.AttemptDeadlineSeconds; eff != nil {
		res.requeue(now.Add(seconds(*eff)))
	}
	return res
}

// ResolveTarget finds how the job runs: its inline target, else the queue's handler for its type,
// else the "*" handler, else the defaultHandler. When none applies it returns the Blocked reason
// and message.
func ResolveTarget(job *kickqv1alpha1.QueueJob, q QueueView) (attempt.Target, string, string) {
	if q.Spec == nil && !q.Implicit {
		return attempt.Target{}, kickqv1alpha1.ReasonQueueNotFound,
			fmt.Sprintf("queue %q does not exist in namespace %s", job.Spec.QueueName, job.Namespace)
	}
	spec := q.Spec
	if spec == nil {
		spec = &kickqv1alpha1.QueueSpec{}
	}
	js := &job.Spec
	if js.Pod != nil || js.Webhook != nil || js.Worker != nil {
		if spec.InlineTargets == kickqv1alpha1.InlineTargetsDeny {
			return attempt.Target{}, kickqv1alpha1.ReasonInlineTargetDenied,
				fmt.Sprintf("queue %q denies inline targets (spec.inlineTargets: Deny); remove the job's pod/webhook/worker and pick a handler with spec.type", job.Spec.QueueName)
		}
		t := targetOf(js.Pod, js.Webhook, js.Worker, "")
		t.AttemptDeadlineSeconds = policy.Resolve(js, nil, spec).AttemptDeadlineSeconds
		return t, "", ""
	}
	var hs *kickqv1alpha1.HandlerSpec
	key := ""
	for i := range spec.Handlers {
		if js.Type != "" && spec.Handlers[i].Type == js.Type {
			hs, key = &spec.Handlers[i].HandlerSpec, js.Type
			break
		}
	}
	if hs == nil {
		for i := range spec.Handlers {
			if spec.Handlers[i].Type == kickqv1alpha1.AnyType {
				hs, key = &spec.Handlers[i].HandlerSpec, kickqv1alpha1.AnyType
				break
			}
		}
	}
	if hs == nil && spec.DefaultHandler != nil {
		hs, key = spec.DefaultHandler, ""
	}
	if hs == nil {
		what := fmt.Sprintf("type %q", js.Type)
		if js.Type == "" {
			what = "jobs without a type"
		}
		return attempt.Target{}, kickqv1alpha1.ReasonHandlerNotFound,
			fmt.Sprintf("queue %q has no handler for %s and no default handler, and the job has no inline target", job.Spec.QueueName, what)
	}
	t := targetOf(hs.Pod, hs.Webhook, hs.Worker, key)
	t.AttemptDeadlineSeconds = policy.Resolve(js, hs, spec).AttemptDeadlineSeconds
	return t, "", ""
}

func targetOf(pod *kickqv1alpha1.PodTarget, hook *kickqv1alpha1.WebhookTarget, worker *kickqv1alpha1.WorkerTarget, handler string) attempt.Target {
	t := attempt.Target{Handler: handler, Pod: pod, Webhook: hook, Worker: worker}
	switch {
	case pod != nil:
		t.Kind = attempt.KindPod
	case hook != nil:
		t.Kind = attempt.KindWebhook
	default:
		t.Kind = attempt.KindWorker
	}
	return t
}

// Effective is the job's policy: as recorded in status.resolved when it was first admitted, else
// resolved now under its target (job > handler > queue > built-in).
func Effective(job *kickqv1alpha1.QueueJob, q QueueView, t attempt.Target) policy.Effective {
	if job.Status.Resolved != nil {
		return fromResolved(job.Status.Resolved)
	}
	return policy.Resolve(&job.Spec, handlerSpec(q, t), q.Spec)
}

// toResolved records an effective policy in status.
func toResolved(e policy.Effective, handler string) *kickqv1alpha1.ResolvedPolicy {
	b := &kickqv1alpha1.Backoff{Type: e.Backoff.Type, BaseSeconds: i32(e.Backoff.BaseSeconds),
		MaxSeconds: i32(e.Backoff.MaxSeconds), JitterPercent: i32(e.Backoff.JitterPercent)}
	if e.Backoff.Type == kickqv1alpha1.BackoffExponential {
		b.Factor = i32(e.Backoff.Factor)
	}
	return &kickqv1alpha1.ResolvedPolicy{
		Handler:                 handler,
		Retry:                   &kickqv1alpha1.RetryPolicy{Limit: i32(e.RetryLimit), Backoff: b, Rules: e.Rules},
		AttemptDeadlineSeconds:  e.AttemptDeadlineSeconds,
		ActiveDeadlineSeconds:   e.ActiveDeadlineSeconds,
		HeartbeatTimeoutSeconds: e.HeartbeatTimeoutSeconds,
	}
}

// fromResolved reads a policy recorded by toResolved.
func fromResolved(r *kickqv1alpha1.ResolvedPolicy) policy.Effective {
	spec := kickqv1alpha1.QueueJobSpec{JobPolicies: kickqv1alpha1.JobPolicies{Retry: r.Retry,
		AttemptDeadlineSeconds: r.AttemptDeadlineSeconds, ActiveDeadlineSeconds: r.ActiveDeadlineSeconds,
		HeartbeatTimeoutSeconds: r.HeartbeatTimeoutSeconds}}
	return policy.Resolve(&spec, nil, nil)
}

// handlerName says in status what runs the job.
func handlerName(job *kickqv1alpha1.QueueJob, t attempt.Target) string {
	switch {
	case job.Spec.Pod != nil || job.Spec.Webhook != nil || job.Spec.Worker != nil:
		return "inline"
	case t.Handler == "":
		return "defaultHandler"
	}
	return t.Handler
}

func i32(v int32) *int32 { return &v }

// handlerSpec returns the queue handler behind a resolved target (nil for inline targets).
func handlerSpec(q QueueView, t attempt.Target) *kickqv1alpha1.HandlerSpec {
	if q.Spec == nil || t.Kind == "" {
		return nil
	}
	for i := range q.Spec.Handlers {
		if q.Spec.Handlers[i].Type == t.Handler && t.Handler != "" {
			return &q.Spec.Handlers[i].HandlerSpec
		}
	}
	if t.Handler == "" && q.Spec.DefaultHandler != nil && t.Pod == q.Spec.DefaultHandler.Pod && t.Webhook == q.Spec.DefaultHandler.Webhook && t.Worker == q.Spec.DefaultHandler.Worker {
		return q.Spec.DefaultHandler
	}
	return nil
}

// dueTime is when the job's next attempt may start: the backoff after a failure, else its
// delaySeconds or notBeforeTime for the first attempt.
func dueTime(job *kickqv1alpha1.QueueJob) (time.Time, bool) {
	if job.Status.NextAttemptTime != nil && job.Status.Attempts > 0 {
		return job.Status.NextAttemptTime.Time, true
	}
	if job.Status.Attempts > 0 {
		return time.Time{}, false
	}
	if job.Spec.NotBeforeTime != nil {
		return job.Spec.NotBeforeTime.Time, true
	}
	if job.Spec.DelaySeconds != nil && *job.Spec.DelaySeconds > 0 {
		return job.CreationTimestamp.Add(seconds(*job.Spec.DelaySeconds)), true
	}
	return time.Time{}, false
}

// finish ends the job.
func finish(res *Result, now time.Time, succeeded bool, reason, msg string) {
	st := &res.Status
	st.FinishTime = mt(now)
	st.NextAttemptTime = nil
	st.Reason, st.Message = reason, trim(msg, 1024)
	ct := kickqv1alpha1.JobFailed
	st.Phase = kickqv1alpha1.PhaseFailed
	typ := corev1.EventTypeWarning
	if succeeded {
		ct, st.Phase, typ = kickqv1alpha1.JobComplete, kickqv1alpha1.PhaseSucceeded, corev1.EventTypeNormal
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: ct, Status: metav1.ConditionTrue, Reason: reason,
		Message: trim(msg, 1024), LastTransitionTime: metav1.NewTime(now)})
	setBlocked(st, now, false, "", "")
	if !succeeded {
		appendLog(st, now, "job failed: "+reason+": "+msg)
	}
	res.event(typ, reason, "%s", trim(msg, 1024))
	res.RequeueAt = time.Time{}
}

// endAttempt closes the running attempt's record (cancel, job deadline).
func endAttempt(res *Result, now time.Time, o kickqv1alpha1.Outcome, reason, msg string, running bool) {
	if !running {
		return
	}
	setAttempt(&res.Status, res.Status.Attempts, func(a *kickqv1alpha1.AttemptRecord) {
		if a.FinishTime == nil {
			a.FinishTime = mt(now)
			a.Outcome, a.Reason, a.Message = o, reason, trim(msg, 1024)
		}
	})
}

func stopIfRunning(res *Result, obs attempt.Observation, running bool) {
	if running && (obs.Phase == attempt.Running || obs.Phase == attempt.NotStarted || obs.Phase == attempt.Missing) {
		res.Action, res.Attempt = Stop, res.Status.Attempts
	}
}

func setBlocked(st *kickqv1alpha1.QueueJobStatus, now time.Time, blocked bool, reason, msg string) {
	if blocked {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: kickqv1alpha1.JobBlocked, Status: metav1.ConditionTrue,
			Reason: reason, Message: trim(msg, 1024), LastTransitionTime: metav1.NewTime(now)})
		return
	}
	if c := meta.FindStatusCondition(st.Conditions, kickqv1alpha1.JobBlocked); c != nil && c.Status == metav1.ConditionTrue {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: kickqv1alpha1.JobBlocked, Status: metav1.ConditionFalse,
			Reason: "Unblocked", Message: "nothing holds the job", LastTransitionTime: metav1.NewTime(now)})
	}
}

func attemptRecord(st *kickqv1alpha1.QueueJobStatus, n int32) *kickqv1alpha1.AttemptRecord {
	for i := range st.AttemptHistory {
		if st.AttemptHistory[i].Number == n {
			return &st.AttemptHistory[i]
		}
	}
	return nil
}

// setAttempt updates attempt n's record, adding it (and dropping the oldest beyond the bound).
func setAttempt(st *kickqv1alpha1.QueueJobStatus, n int32, f func(*kickqv1alpha1.AttemptRecord)) {
	if a := attemptRecord(st, n); a != nil {
		f(a)
		return
	}
	st.AttemptHistory = append(st.AttemptHistory, kickqv1alpha1.AttemptRecord{Number: n})
	f(&st.AttemptHistory[len(st.AttemptHistory)-1])
	if extra := len(st.AttemptHistory) - MaxAttemptHistory; extra > 0 {
		st.AttemptHistory = append([]kickqv1alpha1.AttemptRecord(nil), st.AttemptHistory[extra:]...)
	}
}

// appendLog adds a line to the status log ring, dropping the oldest lines beyond the bounds.
func appendLog(st *kickqv1alpha1.QueueJobStatus, now time.Time, msg string) {
	appendLogEntry(st, kickqv1alpha1.LogEntry{Time: metav1.NewTime(now), Message: msg})
}

// appendLogEntry adds a line to the status log ring, dropping the oldest lines beyond the bounds.
func appendLogEntry(st *kickqv1alpha1.QueueJobStatus, e kickqv1alpha1.LogEntry) {
	e.Message = trim(e.Message, 1024)
	st.Logs = append(st.Logs, e)
	size := 0
	for _, l := range st.Logs {
		size += len(l.Message)
	}
	for len(st.Logs) > 0 && (len(st.Logs) > MaxLogEntries || size > MaxLogBytes) {
		size -= len(st.Logs[0].Message)
		st.Logs = st.Logs[1:]
		st.LogsDropped++
	}
}

func trim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func seconds(s int32) time.Duration { return time.Duration(s) * time.Second }

func mt(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

func ptrTrue(b *bool) bool { return b != nil && *b }

// Completion callback delivery bounds.
const (
	// MaxNotifyAttempts is how many times a completion callback is tried.
	MaxNotifyAttempts = 8
	notifyBackoffBase = 5 * time.Second
	notifyBackoffMax  = 5 * time.Minute
)

// decideNotify drives the completion callback of a finished job: send it, record how it went,
// and retry a failed delivery with backoff up to MaxNotifyAttempts. Its delivery is recorded in
// status, so a delivered callback is never sent again.
func decideNotify(res *Result, in Input) {
	st := &res.Status
	now := in.Now
	n := st.Notification
	if n != nil && (n.DeliveredTime != nil || n.Failed) {
		return
	}
	obs := in.Notification
	switch {
	case obs.InFlight:
		return
	case obs.Done:
		if n == nil {
			n = &kickqv1alpha1.NotificationStatus{ID: attempt.NotifyID(in.Job.UID)}
		} else {
			n = n.DeepCopy()
		}
		n.Attempts++
		n.NextAttemptTime = nil
		n.Message = trim(obs.Message, 1024)
		switch {
		case obs.Delivered:
			n.DeliveredTime = mt(now)
			res.event(corev1.EventTypeNormal, "Notified", "completion callback delivered (attempt %d)", n.Attempts)
		case n.Attempts >= MaxNotifyAttempts:
			n.Failed = true
			res.event(corev1.EventTypeWarning, "NotifyFailed", "completion callback not delivered after %d attempts: %s", n.Attempts, obs.Message)
		default:
			wait := notifyBackoffBase << (n.Attempts - 1)
			if wait > notifyBackoffMax || wait <= 0 {
				wait = notifyBackoffMax
			}
			n.NextAttemptTime = mt(now.Add(wait))
			res.requeue(now.Add(wait))
		}
		st.Notification = n
		// The reconciler drops the executor's result once this status is written.
		res.Action = NotifyRecorded
		return
	}
	if n != nil && n.NextAttemptTime != nil && now.Before(n.NextAttemptTime.Time) {
		res.requeue(n.NextAttemptTime.Time)
		return
	}
	res.Action = Notify
}

// NotifySettled reports whether a finished job's completion callback needs nothing more: it was
// delivered, given up, or there is none.
func NotifySettled(st *kickqv1alpha1.QueueJobStatus) bool {
	n := st.Notification
	return n != nil && (n.DeliveredTime != nil || n.Failed)
}

// TTL returns how long a finished job is kept: spec.ttlSecondsAfterFinished, else its queue's
// retention for the phase it ended in; nil keeps it.
func TTL(job *kickqv1alpha1.QueueJob, q *kickqv1alpha1.QueueSpec) *int32 {
	if job.Spec.TTLSecondsAfterFinished != nil {
		return job.Spec.TTLSecondsAfterFinished
	}
	if p := RetentionFor(q, job.Status.Phase); p != nil {
		return p.TTLSecondsAfterFinished
	}
	return nil
}

// RetentionFor is the queue's retention policy for jobs that ended in phase (nil: none).
func RetentionFor(q *kickqv1alpha1.QueueSpec, phase kickqv1alpha1.QueueJobPhase) *kickqv1alpha1.RetentionPolicy {
	if q == nil || q.Retention == nil {
		return nil
	}
	switch phase {
	case kickqv1alpha1.PhaseSucceeded:
		return q.Retention.Succeeded
	case kickqv1alpha1.PhaseFailed:
		return q.Retention.Failed
	}
	return nil
}

// decideTTL deletes a finished job whose time to live has passed, or wakes it then.
func decideTTL(res *Result, in Input) {
	st := &res.Status
	ttl := TTL(in.Job, in.Queue.Spec)
	if ttl == nil || st.FinishTime == nil || in.Job.Spec.Cron != nil {
		return
	}
	due := st.FinishTime.Add(seconds(*ttl))
	if in.Now.Before(due) {
		res.requeue(due)
		return
	}
	res.Action = Delete
}

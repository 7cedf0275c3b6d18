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

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/outcome"
	"kickq.dev/kickq/internal/policy"
)

// expectedPodGrace is how long a started attempt whose pod the cache does not show yet is waited
// for before it is checked again.
const expectedPodGrace = 2 * time.Second

// DefaultPodCreateDeadline bounds, when pod.startDeadlineSeconds is unset, how long a pod attempt
// whose pod does not exist is started again (its creates failing with timeouts, 5xx, conflicts or
// throttling): past it, counted from the attempt's start, the attempt fails with
// StartDeadlineExceeded and frees its slot.
const DefaultPodCreateDeadline = 10 * time.Minute

// runningAttempt is what the checks of a running attempt share.
type runningAttempt struct {
	res     *Result
	in      Input
	eff     policy.Effective
	n       int32
	obs     attempt.Observation
	started time.Time // the attempt's recorded start, else now
}

// decideRunning follows the running attempt: what it reported, what its executor observed, then
// its deadlines, one check each. The first check that ends the attempt wins.
func decideRunning(res *Result, in Input, eff policy.Effective) {
	a := runningAttempt{res: res, in: in, eff: eff, n: res.Status.Attempts, obs: in.Current, started: in.Now}
	if rec := attemptRecord(&res.Status, a.n); rec != nil && rec.StartTime != nil {
		a.started = rec.StartTime.Time
	}
	if a.reported() {
		return
	}
	if a.isWorker() {
		if a.workerObserved() {
			return
		}
	} else {
		a.recordAccepted()
		if a.observed() {
			return
		}
	}
	for _, check := range []func() bool{a.startDeadline, a.heartbeat, a.attemptDeadline} {
		if check() {
			return
		}
	}
}

// reported applies what the attempt reported (report API): progress, logs, heartbeat, result, and
// maybe its outcome, which ends it at once.
func (a *runningAttempt) reported() bool {
	p := a.in.Report
	if p == nil || p.Attempt != a.n {
		return false
	}
	applyReport(&a.res.Status, p)
	if p.Outcome == "" {
		return false
	}
	r := outcome.Result{Outcome: p.Outcome, Reason: kickqv1alpha1.AttemptReasonReported, RetryAfter: p.RetryAfter,
		Message: fmt.Sprintf("attempt %d reported %s", a.n, p.Outcome)}
	if p.Message != "" {
		r.Message += ": " + p.Message
	}
	a.end(r)
	if isActive(a.obs) {
		a.res.Action, a.res.Attempt = Stop, a.n
	}
	return true
}

// recordAccepted records, once, that a webhook receiver accepted the call (202): a restart then
// knows the attempt is under way and does not call again.
func (a *runningAttempt) recordAccepted() {
	st := &a.res.Status
	if rec := attemptRecord(st, a.n); !a.obs.Accepted || (rec != nil && rec.HTTPStatusCode != nil) {
		return
	}
	setAttempt(st, a.n, func(r *kickqv1alpha1.AttemptRecord) {
		r.HTTPStatusCode = a.obs.Result.HTTPStatusCode
		r.Reason, r.Message = a.obs.Result.Reason, message(a.obs.Result.Message)
	})
	st.Message = fmt.Sprintf("attempt %d accepted by the receiver; waiting for its report", a.n)
}

// observed handles what the executor saw of the run: gone, finished or not started yet. It
// returns true when nothing more is to be checked.
func (a *runningAttempt) observed() bool {
	switch a.obs.Phase {
	case attempt.Missing:
		switch {
		case a.obs.Lost:
			a.fail(kickqv1alpha1.AttemptReasonPodLost, fmt.Sprintf("attempt %d failed: its pod %s disappeared", a.n, a.obs.Name))
		case a.obs.Expected:
			a.res.requeue(a.in.Now.Add(expectedPodGrace))
		case a.createDeadline():
			// Its creates kept failing: the attempt failed.
		case a.retargeted():
			// Its handler now names another target: the attempt is not run a second time there.
		default:
			// Recorded as started but not (visibly) created: a manager stopped between the
			// status write and the create, or the create failed. Starting again is idempotent.
			a.res.Action, a.res.Attempt = Start, a.n
		}
		return true
	case attempt.Finished:
		r := a.obs.Result
		if a.obs.Pod != nil {
			r = outcome.Classify(a.obs.Pod, a.eff.Rules) // retry rules apply here, and only here
		}
		a.end(r)
		return true
	case attempt.NotStarted:
		if a.obs.Deleting {
			return true
		}
		if a.obs.WaitingReason != "" {
			// Say why the pod does not start (image pulls, scheduling): kubectl shows it.
			a.res.Status.Message = message(fmt.Sprintf("attempt %d waiting to start: %s: %s", a.n, a.obs.WaitingReason, a.obs.WaitingMessage))
		}
	}
	return false
}

// retargeted fails an attempt that must be started again (recorded as started, its run not
// seen) while the handler it was started on now resolves to another kind of target, another
// handler, or nothing: starting it there would run one attempt on two targets. The next attempt
// takes the handler as it is then.
func (a *runningAttempt) retargeted() bool {
	rec := attemptRecord(&a.res.Status, a.n)
	if rec == nil || rec.TargetKind == "" {
		return false // started before attempts recorded their target
	}
	now := a.res.Target
	if string(now.Kind) == rec.TargetKind && handlerName(a.in.Job, now) == rec.Handler {
		return false
	}
	what := fmt.Sprintf("now resolves to %s %q", now.Kind, handlerName(a.in.Job, now))
	if now.Kind == "" {
		what = "no longer resolves"
	}
	a.fail(kickqv1alpha1.AttemptReasonHandlerChanged, fmt.Sprintf("attempt %d was started on %s %q, which %s; it is not started again elsewhere",
		a.n, rec.TargetKind, rec.Handler, what))
	return true
}

// startDeadline fails a pod that did not start within pod.startDeadlineSeconds.
func (a *runningAttempt) startDeadline() bool {
	pod := a.res.Target.Pod
	if a.obs.Phase != attempt.NotStarted || pod == nil || pod.StartDeadlineSeconds == nil {
		return false
	}
	since := a.obs.CreatedAt
	if since.IsZero() {
		since = a.started
	}
	limit := *pod.StartDeadlineSeconds
	due := since.Add(seconds(limit))
	if a.in.Now.Before(due) {
		a.res.requeue(due)
		return false
	}
	reason := a.obs.WaitingReason
	if reason == "" {
		reason = kickqv1alpha1.AttemptReasonStartDeadlineExceeded
	}
	msg := fmt.Sprintf("attempt %d did not start within startDeadlineSeconds (%ds): %s", a.n, limit, reason)
	if a.obs.WaitingMessage != "" {
		msg += ": " + a.obs.WaitingMessage
	}
	a.failAndStop(reason, msg)
	return true
}

// createDeadline fails a pod attempt that still has no pod startDeadlineSeconds (else
// DefaultPodCreateDeadline) after its start, instead of starting it again: its creates kept
// failing. A webhook attempt without a call is called again (after a restart) instead.
func (a *runningAttempt) createDeadline() bool {
	if k := a.res.Target.Kind; k != attempt.KindPod && k != "" { // "": an unresolved target, followed by its pod name
		return false
	}
	limit, within := DefaultPodCreateDeadline, fmt.Sprintf("%s (the default when pod.startDeadlineSeconds is unset)", DefaultPodCreateDeadline)
	if pod := a.res.Target.Pod; pod != nil && pod.StartDeadlineSeconds != nil {
		limit, within = seconds(*pod.StartDeadlineSeconds), fmt.Sprintf("startDeadlineSeconds (%ds)", *pod.StartDeadlineSeconds)
	}
	if a.in.Now.Before(a.started.Add(limit)) {
		return false
	}
	a.fail(kickqv1alpha1.AttemptReasonStartDeadlineExceeded,
		fmt.Sprintf("attempt %d's pod %s could not be created within %s", a.n, a.obs.Name, within))
	return true
}

// heartbeat fails a running attempt that must send heartbeats (any report counts) and went
// silent for heartbeatTimeoutSeconds.
func (a *runningAttempt) heartbeat() bool {
	limit := a.eff.HeartbeatTimeoutSeconds
	if limit == nil || a.obs.Phase != attempt.Running || a.obs.Deleting {
		return false
	}
	last := a.started
	if hb := a.res.Status.LastHeartbeatTime; hb != nil && hb.After(last) {
		last = hb.Time
	}
	due := last.Add(seconds(*limit))
	if a.in.Now.Before(due) {
		a.res.requeue(due)
		return false
	}
	a.failAndStop(kickqv1alpha1.AttemptReasonHeartbeatTimeout,
		fmt.Sprintf("attempt %d sent no report for heartbeatTimeoutSeconds (%ds)", a.n, *limit))
	return true
}

// attemptDeadline fails an attempt, running or not started yet, that outlived
// attemptDeadlineSeconds (the operator-side deadline).
func (a *runningAttempt) attemptDeadline() bool {
	limit := a.eff.AttemptDeadlineSeconds
	if limit == nil || a.obs.Deleting {
		return false
	}
	due := a.started.Add(seconds(*limit))
	if a.in.Now.Before(due) {
		a.res.requeue(due)
		return false
	}
	a.failAndStop(kickqv1alpha1.AttemptReasonAttemptDeadlineExceeded,
		fmt.Sprintf("attempt %d ran longer than attemptDeadlineSeconds (%ds)", a.n, *limit))
	return true
}

// end ends the attempt as its run said: success, or a failure the retry policy handles.
func (a *runningAttempt) end(r outcome.Result) {
	if r.Outcome == kickqv1alpha1.OutcomeSucceed {
		succeed(a.res, a.in.Now, a.n, r)
		return
	}
	failAttempt(a.res, a.in, a.eff, r)
}

// fail ends the attempt as a counted failure.
func (a *runningAttempt) fail(reason, msg string) {
	failAttempt(a.res, a.in, a.eff, outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: reason, Message: msg})
}

// failAndStop ends the attempt as a counted failure and stops its run.
func (a *runningAttempt) failAndStop(reason, msg string) {
	a.fail(reason, msg)
	a.res.Action, a.res.Attempt = Stop, a.n
}

// isActive reports whether the run may still be going (running, or created and not started).
func isActive(obs attempt.Observation) bool {
	return obs.Phase == attempt.Running || obs.Phase == attempt.NotStarted
}

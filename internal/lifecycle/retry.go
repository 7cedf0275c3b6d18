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

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/backoff"
	"kickq.dev/kickq/internal/limits"
	"kickq.dev/kickq/internal/outcome"
	"kickq.dev/kickq/internal/policy"
)

// succeed ends the running attempt and the job successfully.
func succeed(res *Result, now time.Time, n int32, r outcome.Result) {
	st := &res.Status
	closeAttempt(st, now, n, kickqv1alpha1.OutcomeSucceed, r)
	if r.Result != nil {
		// A result the run returned wins over one it reported earlier.
		st.Result = r.Result
	}
	appendLog(st, now, fmt.Sprintf("attempt %d succeeded", n))
	finish(res, now, true, kickqv1alpha1.ReasonCompleted, fmt.Sprintf("attempt %d succeeded", n))
}

// failAttempt ends the running attempt without success and applies the retry policy: Die ends
// the job, Retry starts again without counting (after RetryAfter when given), and a counted
// failure backs off or, past retry.limit, ends the job.
func failAttempt(res *Result, in Input, eff policy.Effective, r outcome.Result) {
	st := &res.Status
	n := st.Attempts
	closeAttempt(st, in.Now, n, r.Outcome, r)
	immediate := isImmediateRetry(r)
	if !immediate {
		st.ImmediateRetries = 0
	}
	switch {
	case r.Outcome == kickqv1alpha1.OutcomeDie:
		appendLog(st, in.Now, fmt.Sprintf("attempt %d died: %s", n, r.Message))
		finish(res, in.Now, false, kickqv1alpha1.ReasonDied, r.Message)
	case immediate:
		st.ImmediateRetries++
		if st.ImmediateRetries > MaxImmediateRetries {
			retryCounted(res, in, eff, n, fmt.Sprintf("%s (retry asked for at once %d times in a row: counted past %d)",
				r.Message, st.ImmediateRetries, MaxImmediateRetries))
			return
		}
		r.RetryAfter = backoff.ImmediateRetryDelay(st.ImmediateRetries)
		retryUncounted(res, in.Now, n, r)
	case r.Outcome == kickqv1alpha1.OutcomeRetry:
		// A real future Retry-After, or a disruption: uncounted however often; a disruption still
		// waits the least backoff.
		r.RetryAfter = max(r.RetryAfter, backoff.ImmediateRetryDelay(1))
		retryUncounted(res, in.Now, n, r)
	default:
		retryCounted(res, in, eff, n, r.Message)
	}
}

// MaxImmediateRetries is how many retries asked for at once in a row stay uncounted; past it
// they count as failures (retry.limit applies), so an answer that always asks to retry at once
// cannot keep a job running forever.
const MaxImmediateRetries = 5

// isImmediateRetry tells a retry the run asked for at once (a Retry outcome without a delay,
// Retry-After: 0, a retry rule with action Retry) from the ones that stay uncounted whatever
// their number: a real future Retry-After and a disruption (the built-in DisruptionTarget rule).
func isImmediateRetry(r outcome.Result) bool {
	return r.Outcome == kickqv1alpha1.OutcomeRetry && r.RetryAfter <= 0 && r.Rule != outcome.DisruptionRule
}

// closeAttempt records how attempt n ended.
func closeAttempt(st *kickqv1alpha1.QueueJobStatus, now time.Time, n int32, o kickqv1alpha1.Outcome, r outcome.Result) {
	setAttempt(st, n, func(a *kickqv1alpha1.AttemptRecord) {
		a.FinishTime = mt(now)
		a.Outcome = o
		a.ExitCode, a.Reason, a.Message = r.ExitCode, r.Reason, message(r.Message)
		if r.HTTPStatusCode != nil {
			a.HTTPStatusCode = r.HTTPStatusCode
		}
	})
}

// retryUncounted starts the job again without counting a failure: after r.RetryAfter when the
// run asked for a delay, else at once.
func retryUncounted(res *Result, now time.Time, n int32, r outcome.Result) {
	st := &res.Status
	msg := r.Message
	if r.RetryAfter > 0 {
		next := now.Add(r.RetryAfter)
		appendLog(st, now, fmt.Sprintf("attempt %d: %s; retrying in %s without counting", n, msg, r.RetryAfter))
		st.Phase = kickqv1alpha1.PhaseDelayed
		setNotBefore(res, next)
		st.ReadyTime = st.NextAttemptTime.DeepCopy()
		st.Message = message(fmt.Sprintf("attempt %d: %s; next attempt at %s", n, msg, st.NextAttemptTime.UTC().Format(time.RFC3339)))
		res.event(corev1.EventTypeNormal, kickqv1alpha1.EventReasonRetrying, "attempt %d: %s; retrying in %s without counting", n, msg, r.RetryAfter)
		res.requeue(next)
		return
	}
	appendLog(st, now, fmt.Sprintf("attempt %d failed, retrying without counting: %s", n, msg))
	st.Phase = kickqv1alpha1.PhasePending
	st.NextAttemptTime = nil
	st.ReadyTime = mt(now)
	res.event(corev1.EventTypeNormal, kickqv1alpha1.EventReasonRetrying, "attempt %d failed, retrying without counting: %s", n, msg)
}

// retryCounted counts a failure: past retry.limit the job fails, else it waits out its backoff.
func retryCounted(res *Result, in Input, eff policy.Effective, n int32, msg string) {
	st := &res.Status
	now := in.Now
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
	setNotBefore(res, next)
	st.Reason, st.Message = "", fmt.Sprintf("attempt %d failed: %s; next attempt at %s", n, limits.Truncate(msg, causeBytes, limits.Ellipsis), st.NextAttemptTime.UTC().Format(time.RFC3339))
	res.event(corev1.EventTypeWarning, kickqv1alpha1.EventReasonAttemptFailed, "attempt %d failed: %s; retrying in %s", n, msg, wait)
	res.requeue(next)
}

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

	corev1 "k8s.io/api/core/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
	"kickq.dev/kickq/internal/attempt"
)

// Admit completes a decision whose Action was AwaitAdmission with admission's answer: the attempt
// starts (recorded in status first), or the job waits Pending with a Blocked condition naming the
// limit.
func Admit(res Result, in Input, d admission.Decision) Result {
	if !d.Admitted {
		refused(&res, in, d)
		return res
	}
	st := &res.Status
	now := in.Now
	// The start is admission's reservation instant: the rate windows count it from there (or
	// later, once its side effect is made), so the starts status records keep the limit too.
	start := now
	if !d.At.IsZero() {
		start = d.At
	}
	n := st.Attempts + 1
	st.Attempts = n
	if st.Resolved == nil {
		st.Resolved = toResolved(res.effective, handlerName(in.Job, res.Target))
	}
	st.Phase = kickqv1alpha1.PhaseRunning
	st.Reason = ""
	st.Message = fmt.Sprintf("attempt %d running", n)
	if res.Target.Kind == attempt.KindWorker {
		st.Message = awaitingClaim(n)
	}
	st.NextAttemptTime = nil
	st.Progress = nil
	st.Result = nil
	st.LastHeartbeatTime = nil
	if st.StartTime == nil {
		st.StartTime = mt(start)
	}
	podName := ""
	if res.Target.Kind == attempt.KindPod {
		podName = attempt.PodName(in.Job, n)
	}
	setAttempt(st, n, func(a *kickqv1alpha1.AttemptRecord) {
		a.StartTime = mt(start)
		a.PodName = podName
		// The attempt is pinned to its target: later edits of the handler do not move it.
		a.TargetKind, a.Handler = string(res.Target.Kind), handlerName(in.Job, res.Target)
	})
	setBlocked(st, now, false, "", "")
	switch {
	case podName != "":
		appendLog(st, now, fmt.Sprintf("attempt %d started: pod %s", n, podName))
	case res.Target.Kind == attempt.KindWorker:
		appendLog(st, now, fmt.Sprintf("attempt %d admitted: waiting for a pull worker to claim it", n))
	default:
		appendLog(st, now, fmt.Sprintf("attempt %d started", n))
	}
	if n > 1 {
		// A first start is in status (and its pod's own events); an Event for it would cost an
		// API write per job. Retries starting are worth one.
		res.event(corev1.EventTypeNormal, kickqv1alpha1.EventReasonStarted, "attempt %d started", n)
	}
	res.Action, res.Attempt = Start, n
	if eff := res.Target.AttemptDeadlineSeconds; eff != nil {
		res.requeue(now.Add(seconds(*eff)))
	}
	return res
}

// refused keeps a job that admission did not admit Pending: Blocked when a limit holds it,
// waiting for its turn when other jobs come first.
func refused(res *Result, in Input, d admission.Decision) {
	st := &res.Status
	res.Action = None
	st.Phase = kickqv1alpha1.PhasePending
	st.Message = message(d.Message)
	switch d.Reason {
	case admission.ReasonPaused, admission.ReasonConcurrency, admission.ReasonRate,
		admission.ReasonKeyConcurrency, admission.ReasonKeyRate, admission.ReasonKeyPaused:
		setBlocked(st, in.Now, true, string(d.Reason), d.Message)
	default:
		setBlocked(st, in.Now, false, "", "")
		if st.Message == "" {
			st.Message = "waiting for its turn in the queue"
		}
	}
	if !d.RetryAt.IsZero() {
		res.requeue(d.RetryAt)
	}
}

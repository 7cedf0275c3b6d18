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
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/limits"
)

// causeBytes is how much of a failed attempt's message status.message quotes beside the next
// attempt's time.
const causeBytes = 512

// finish ends the job: Complete or Failed with reason, and, when it failed, a Warning Event.
func finish(res *Result, now time.Time, succeeded bool, reason, msg string) {
	st := &res.Status
	msg = message(msg)
	st.FinishTime = mt(now)
	st.NextAttemptTime = nil
	st.Reason, st.Message = reason, msg
	ct := kickqv1alpha1.JobFailed
	st.Phase = kickqv1alpha1.PhaseFailed
	typ := corev1.EventTypeWarning
	if succeeded {
		ct, st.Phase, typ = kickqv1alpha1.JobComplete, kickqv1alpha1.PhaseSucceeded, corev1.EventTypeNormal
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: ct, Status: metav1.ConditionTrue, Reason: reason,
		Message: msg, LastTransitionTime: metav1.NewTime(now)})
	setBlocked(st, now, false, "", "")
	if !succeeded {
		appendLog(st, now, "job failed: "+reason+": "+msg)
		// A success is in status (the Complete condition, phase, finishTime): an Event would cost
		// an API write per job and say nothing status does not. A failure is worth one.
		res.event(typ, reason, "%s", msg)
	}
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
			a.Outcome, a.Reason, a.Message = o, reason, message(msg)
		}
	})
}

// stopIfRunning stops the attempt's run when the job ended while it ran.
func stopIfRunning(res *Result, obs attempt.Observation, running bool) {
	if running && (isActive(obs) || obs.Phase == attempt.Missing) {
		res.Action, res.Attempt = Stop, res.Status.Attempts
	}
}

// setBlocked sets the Blocked condition True with reason, or turns a True one False.
func setBlocked(st *kickqv1alpha1.QueueJobStatus, now time.Time, blocked bool, reason, msg string) {
	if blocked {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: kickqv1alpha1.JobBlocked, Status: metav1.ConditionTrue,
			Reason: reason, Message: message(msg), LastTransitionTime: metav1.NewTime(now)})
		return
	}
	if c := meta.FindStatusCondition(st.Conditions, kickqv1alpha1.JobBlocked); c != nil && c.Status == metav1.ConditionTrue {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: kickqv1alpha1.JobBlocked, Status: metav1.ConditionFalse,
			Reason: kickqv1alpha1.ReasonUnblocked, Message: "nothing holds the job", LastTransitionTime: metav1.NewTime(now)})
	}
}

// attemptRecord returns attempt n's record (nil when it is not kept).
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
	if extra := len(st.AttemptHistory) - limits.MaxAttemptHistory; extra > 0 {
		st.AttemptHistory = append([]kickqv1alpha1.AttemptRecord(nil), st.AttemptHistory[extra:]...)
	}
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

// appendLog adds a line to the status log ring, dropping the oldest lines beyond the bounds.
func appendLog(st *kickqv1alpha1.QueueJobStatus, now time.Time, msg string) {
	appendLogEntry(st, kickqv1alpha1.LogEntry{Time: metav1.NewTime(now), Message: msg})
}

// appendLogEntry adds a line to the status log ring, dropping the oldest lines beyond the bounds.
func appendLogEntry(st *kickqv1alpha1.QueueJobStatus, e kickqv1alpha1.LogEntry) {
	e.Message = message(e.Message)
	st.Logs = append(st.Logs, e)
	size := 0
	for _, l := range st.Logs {
		size += len(l.Message)
	}
	for len(st.Logs) > 0 && (len(st.Logs) > limits.MaxLogEntries || size > limits.MaxLogBytes) {
		size -= len(st.Logs[0].Message)
		st.Logs = st.Logs[1:]
		st.LogsDropped++
	}
}

// message bounds a message kickq writes to status or an Event.
func message(s string) string { return limits.Truncate(s, limits.MaxMessageBytes, limits.Ellipsis) }

func seconds(s int32) time.Duration { return time.Duration(s) * time.Second }

func mt(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

// setNotBefore records the job's next not-before time: exact in the Result, rounded up to the
// whole second in status (status times are whole seconds; rounding down would make the time,
// read back, early).
func setNotBefore(res *Result, t time.Time) {
	res.nextAttemptTime = t
	res.Status.NextAttemptTime = mt(ceilSecond(t))
}

// ceilSecond rounds t up to the whole second.
func ceilSecond(t time.Time) time.Time {
	c := t.Truncate(time.Second)
	if c.Before(t) {
		c = c.Add(time.Second)
	}
	return c
}

func ptrTrue(b *bool) bool { return b != nil && *b }

// configurationBlocks are the Blocked reasons that only someone's change ends (a queue or
// handler to create, a target or URL to allow): the job is Stalled, not Reconciling.
var configurationBlocks = map[string]bool{
	kickqv1alpha1.ReasonQueueNotFound:        true,
	kickqv1alpha1.ReasonHandlerNotFound:      true,
	kickqv1alpha1.ReasonInlineTargetDenied:   true,
	kickqv1alpha1.ReasonWebhookURLNotAllowed: true,
}

// SetHealth sets the Reconciling and Stalled conditions that kstatus (Flux, kpt, cli-utils) and
// Argo CD read, from the decided status: a job with work ahead that needs no one (Running,
// Pending, Delayed, Blocked by a limit or its dependencies) is Reconciling (InProgress); a Failed
// job, or one Blocked on its configuration, is Stalled (Failed); a Succeeded or suspended job and
// a cron template (Scheduled) are neither (Current). The reconcilers call it on every status they
// write, so the two conditions change only with the phase or the Blocked reason.
func SetHealth(st *kickqv1alpha1.QueueJobStatus, now time.Time) {
	rec, stall := health(st)
	for _, c := range []metav1.Condition{rec, stall} {
		c.ObservedGeneration = st.ObservedGeneration
		c.LastTransitionTime = metav1.NewTime(now)
		c.Message = message(c.Message)
		meta.SetStatusCondition(&st.Conditions, c)
	}
}

// health returns the Reconciling and Stalled conditions of a status, without times.
func health(st *kickqv1alpha1.QueueJobStatus) (reconciling, stalled metav1.Condition) {
	reconciling = metav1.Condition{Type: kickqv1alpha1.JobReconciling, Status: metav1.ConditionFalse,
		Reason: kickqv1alpha1.ReasonSettled, Message: "the job has no work ahead"}
	stalled = metav1.Condition{Type: kickqv1alpha1.JobStalled, Status: metav1.ConditionFalse,
		Reason: kickqv1alpha1.ReasonNotStalled, Message: "nothing but time or other jobs holds the job"}
	blocked := meta.FindStatusCondition(st.Conditions, kickqv1alpha1.JobBlocked)
	if blocked != nil && blocked.Status != metav1.ConditionTrue {
		blocked = nil
	}
	switch {
	case st.Phase == kickqv1alpha1.PhaseFailed:
		stalled.Status, stalled.Reason, stalled.Message = metav1.ConditionTrue, orWord(st.Reason, "Failed"), st.Message
	case st.Phase == kickqv1alpha1.PhaseSucceeded:
		reconciling.Message = "the job succeeded"
	case st.Phase == kickqv1alpha1.PhaseScheduled:
		reconciling.Message = "a cron template: its children are the jobs that run"
	case meta.IsStatusConditionTrue(st.Conditions, kickqv1alpha1.JobSuspended):
		reconciling.Reason, reconciling.Message = kickqv1alpha1.ReasonSuspended, "spec.suspend holds the job"
	case blocked != nil && configurationBlocks[blocked.Reason]:
		stalled.Status, stalled.Reason, stalled.Message = metav1.ConditionTrue, blocked.Reason, blocked.Message
	case blocked != nil:
		reconciling.Status, reconciling.Reason, reconciling.Message = metav1.ConditionTrue, blocked.Reason, blocked.Message
	default:
		reconciling.Status, reconciling.Reason = metav1.ConditionTrue, orWord(string(st.Phase), "Pending")
		reconciling.Message = orWord(st.Message, "the job has work ahead")
	}
	return reconciling, stalled
}

func orWord(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

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
	"k8s.io/apimachinery/pkg/api/equality"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
)

// An attempt whose side effect is its own durable record (DESIGN's guarantee: a pod named
// <job>-<attempt> with its creation time; a webhook call under its stable id, repeated only
// under that id) need not be written as Running before it is made. Admission's in-memory
// reservation holds its slot meanwhile; the next pass finds the run (Input.Unrecorded), records
// its start from it and, when it ended within Input.RunningWriteDelay, its end in the same status write.
// One that runs longer is written Running once the delay has passed, so kubectl, field
// selectors and metrics show it Running while it runs.

// DefaultRunningWriteDelay is how long, by default (the manager's --running-write-delay), a
// started attempt may run before status says it is Running. One that ends within it costs one
// status write: its start and its end together.
const DefaultRunningWriteDelay = time.Second

// StartRecordedBySideEffect reports whether an attempt on target t may start before status
// records it. Pods may: the pod's name and creation time are the record, which admission's
// rebuild counts against concurrency and rate limits after a restart. Webhook calls may where no
// rate limit applies to them: a call a manager made and could not record is repeated after a
// restart under the same webhook-id (at-least-once), but a rate window must count every call
// sent, so a rate-limited call is recorded (Running) before it is sent. Pull workers claim
// attempts through status, so theirs is always written first.
func StartRecordedBySideEffect(q QueueView, t attempt.Target) bool {
	switch t.Kind {
	case attempt.KindPod:
		return true
	case attempt.KindWebhook:
		return !rateLimited(q.Spec, t.Handler)
	}
	return false
}

// rateLimited reports whether a rate limit of the queue or of the handler with admission key
// handler (controllers.LimitsOf's keys) counts attempts of that handler.
func rateLimited(spec *kickqv1alpha1.QueueSpec, handler string) bool {
	if spec == nil {
		return false
	}
	if spec.RateLimit != nil || keyRateLimited(spec.KeyLimits) {
		return true
	}
	if handler == "" {
		return spec.DefaultHandler != nil && (spec.DefaultHandler.RateLimit != nil || keyRateLimited(spec.DefaultHandler.KeyLimits))
	}
	for i := range spec.Handlers {
		if spec.Handlers[i].Type == handler {
			return spec.Handlers[i].RateLimit != nil || keyRateLimited(spec.Handlers[i].KeyLimits)
		}
	}
	return false
}

// keyRateLimited reports whether keyLimits count each key's starts in a rate window (per-key
// limits, docs/lifecycle.md): such calls are recorded before they are sent, as the queue's and
// the handler's own rate-limited calls are.
func keyRateLimited(k *kickqv1alpha1.KeyLimits) bool { return k != nil && k.RateLimit != nil }

// deferStart lets the start Admit recorded go unwritten when its side effect records it: the
// reconciler makes the side effect and looks again when Input.RunningWriteDelay has passed.
func deferStart(res *Result, in Input, start time.Time) {
	if in.RunningWriteDelay <= 0 || !StartRecordedBySideEffect(in.Queue, res.Target) {
		return
	}
	res.Deferred = true
	res.requeue(start.Add(in.RunningWriteDelay))
}

// adopt records the start of attempt status.attempts+1, whose run the executor observed although
// status does not record it: this manager (or one before a restart) made its side effect and
// has not written it yet. Its start is the run's creation (the pod's creationTimestamp), else
// when this manager made it. It returns the status as adopted, before anything else is decided.
func adopt(res *Result, in Input) kickqv1alpha1.QueueJobStatus {
	start := in.Unrecorded.CreatedAt
	if start.IsZero() {
		start = in.StartedAt
	}
	if start.IsZero() || start.After(in.Now) {
		start = in.Now
	}
	res.Adopted = true
	// The pass that admitted it set the ready time in a write it deferred: set it again, or
	// status (and the wait metrics) would say the job never was ready.
	setReadyTime(&res.Status, in)
	recordStart(res, in, start)
	return *res.Status.DeepCopy()
}

// deferAdopted leaves an adopted attempt unwritten while it runs within RunningWriteDelay of when
// this manager made its side effect and nothing but its start would be written; it looks again
// when the window ends. After a restart (the instant not known) it is written at once.
func deferAdopted(res *Result, in Input, adopted *kickqv1alpha1.QueueJobStatus) {
	if in.RunningWriteDelay <= 0 || in.StartedAt.IsZero() || res.Action != None || in.Report != nil || res.Status.Phase != kickqv1alpha1.PhaseRunning {
		return
	}
	due := in.StartedAt.Add(in.RunningWriteDelay)
	if !in.Now.Before(due) || !equality.Semantic.DeepEqual(adopted, &res.Status) {
		return
	}
	res.Deferred = true
	res.requeue(due)
}

// recordStart records attempt status.attempts+1 as started at start: Running, its record pinned
// to its target, the log line, and (for a retry) an Event.
func recordStart(res *Result, in Input, start time.Time) int32 {
	st := &res.Status
	now := in.Now
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
		appendLog(st, start, fmt.Sprintf("attempt %d started: pod %s", n, podName))
	case res.Target.Kind == attempt.KindWorker:
		appendLog(st, start, fmt.Sprintf("attempt %d admitted: waiting for a pull worker to claim it", n))
	default:
		appendLog(st, start, fmt.Sprintf("attempt %d started", n))
	}
	if n > 1 {
		// A first start is in status (and its pod's own events); an Event for it would cost an
		// API write per job. Retries starting are worth one.
		res.event(corev1.EventTypeNormal, kickqv1alpha1.EventReasonStarted, "attempt %d started", n)
	}
	return n
}

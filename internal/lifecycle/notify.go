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
	corev1 "k8s.io/api/core/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/backoff"
)

// MaxNotifyAttempts is how many times a completion callback is tried.
const MaxNotifyAttempts = 8

// decideNotify drives the completion callback of a finished job: send it, record how it went,
// and retry a failed delivery with backoff (backoff.NotifyDelay) up to MaxNotifyAttempts. Its delivery is recorded in
// status, so a delivered callback is never sent again.
func decideNotify(res *Result, in Input) {
	st := &res.Status
	if NotifySettled(st) {
		return
	}
	switch obs := in.Notification; {
	case obs.InFlight:
		return
	case obs.Done:
		recordDelivery(res, in, obs)
		return
	}
	if n := st.Notification; n != nil && n.NextAttemptTime != nil && in.Now.Before(n.NextAttemptTime.Time) {
		res.requeue(n.NextAttemptTime.Time)
		return
	}
	if _, msg := NotifyURLRefused(in.Job, in.Queue); msg != "" {
		refuseNotify(res, in, msg)
		return
	}
	res.Action = Notify
}

// refuseNotify gives up a callback whose URL the job's queue refuses (a job that finished without
// starting, or a queue changed since): it is never sent. Its record is written like a delivery's.
func refuseNotify(res *Result, in Input, msg string) {
	n := &kickqv1alpha1.NotificationStatus{ID: attempt.NotifyID(in.Job.UID)}
	if res.Status.Notification != nil {
		n = res.Status.Notification.DeepCopy()
	}
	n.NextAttemptTime, n.Failed, n.Message = nil, true, message("not sent: "+msg)
	res.Status.Notification = n
	res.Action = NotifyRecorded
	res.event(corev1.EventTypeWarning, kickqv1alpha1.EventReasonNotifyFailed, "completion callback not sent: %s", msg)
}

// recordDelivery records a delivery that ended: delivered, given up after MaxNotifyAttempts, or to
// be tried again after its backoff. The reconciler drops the executor's result once this status
// is written (NotifyRecorded).
func recordDelivery(res *Result, in Input, obs attempt.NotifyState) {
	st := &res.Status
	now := in.Now
	n := &kickqv1alpha1.NotificationStatus{ID: attempt.NotifyID(in.Job.UID)}
	if st.Notification != nil {
		n = st.Notification.DeepCopy()
	}
	n.Attempts++
	n.NextAttemptTime = nil
	n.Message = message(obs.Message)
	switch {
	case obs.Delivered:
		n.DeliveredTime = mt(now)
		res.event(corev1.EventTypeNormal, kickqv1alpha1.EventReasonNotified, "completion callback delivered (attempt %d)", n.Attempts)
	case n.Attempts >= MaxNotifyAttempts:
		n.Failed = true
		res.event(corev1.EventTypeWarning, kickqv1alpha1.EventReasonNotifyFailed, "completion callback not delivered after %d attempts: %s", n.Attempts, obs.Message)
	default:
		wait := backoff.NotifyDelay(n.Attempts)
		n.NextAttemptTime = mt(ceilSecond(now.Add(wait)))
		res.requeue(now.Add(wait))
	}
	st.Notification = n
	res.Action = NotifyRecorded
}

// NotifySettled reports whether a finished job's completion callback needs nothing more: it was
// delivered or given up.
func NotifySettled(st *kickqv1alpha1.QueueJobStatus) bool {
	n := st.Notification
	return n != nil && (n.DeliveredTime != nil || n.Failed)
}

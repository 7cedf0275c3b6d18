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

package executor

import (
	"context"
	"encoding/json"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/types"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
)

// Callbacks sends the completion callbacks of finished jobs, one delivery at a time, and says how
// the latest ended; the reconciler decides when to send again. *Webhooks implements it, on the
// webhook executor's pool of workers and transport.
type Callbacks interface {
	// Notify queues one delivery of the job's completion callback: body is POSTed to target,
	// signed, with webhook-id attempt.NotifyID(job.UID). A delivery already queued, in flight or
	// done and not forgotten is not repeated.
	Notify(ctx context.Context, job *kickqv1alpha1.QueueJob, target kickqv1alpha1.WebhookTarget, body []byte) error
	// NotifyStatus reports the job's latest delivery.
	NotifyStatus(uid types.UID) attempt.NotifyState
	// ForgetNotify drops a delivery that ended (its result is recorded), so the next Notify sends
	// again.
	ForgetNotify(uid types.UID)
}

var _ Callbacks = &Webhooks{}

// notifyAttempt marks completion-callback calls in attemptKey.
const notifyAttempt = -1

// Notify queues one delivery of a job's completion callback: body is POSTed to target, signed,
// with webhook-id NotifyID(uid). A delivery already queued, in flight or done is not repeated.
// It never waits for a worker: with the namespace's backlog full it answers ErrBusy.
func (w *Webhooks) Notify(_ context.Context, job *kickqv1alpha1.QueueJob, target kickqv1alpha1.WebhookTarget, body []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.notes[job.UID] != nil {
		return nil
	}
	c := &call{key: attemptKey{job: job.UID, attempt: notifyAttempt}, job: types.NamespacedName{Namespace: job.Namespace, Name: job.Name},
		queue: job.Spec.QueueName, target: target, body: body, payload: Payload{ID: attempt.NotifyID(job.UID)}, authorURL: true}
	if err := w.enqueue(c); err != nil {
		return err
	}
	w.notes[job.UID] = c
	return nil
}

// NotifyStatus reports the job's callback delivery.
func (w *Webhooks) NotifyStatus(uid types.UID) attempt.NotifyState {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.notes[uid]
	switch {
	case c == nil:
		return attempt.NotifyState{}
	case c.state != done:
		return attempt.NotifyState{InFlight: true}
	}
	delivered := c.result.Outcome == kickqv1alpha1.OutcomeSucceed ||
		(c.result.HTTPStatusCode != nil && *c.result.HTTPStatusCode >= 200 && *c.result.HTTPStatusCode < 300)
	return attempt.NotifyState{Done: true, Delivered: delivered, Message: c.result.Message}
}

// ForgetNotify drops what the executor knows of a job's callback (its result is recorded).
func (w *Webhooks) ForgetNotify(uid types.UID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c := w.notes[uid]; c != nil && c.state == done {
		delete(w.notes, uid)
	}
}

// NotifyPayload is the body of a completion callback.
type NotifyPayload struct {
	ID             string                `json:"id"`
	Namespace      string                `json:"namespace"`
	Name           string                `json:"name"`
	UID            types.UID             `json:"uid"`
	Queue          string                `json:"queue"`
	Type           string                `json:"type,omitempty"`
	Batch          string                `json:"batch,omitempty"`
	Phase          string                `json:"phase"`
	Reason         string                `json:"reason,omitempty"`
	Message        string                `json:"message,omitempty"`
	Result         *apiextensionsv1.JSON `json:"result,omitempty"`
	Attempts       int32                 `json:"attempts"`
	FailedAttempts int32                 `json:"failedAttempts"`
	CreationTime   time.Time             `json:"creationTime"`
	StartTime      *time.Time            `json:"startTime,omitempty"`
	FinishTime     *time.Time            `json:"finishTime,omitempty"`
}

// NotifyBody is the completion callback's JSON body for a finished job.
func NotifyBody(job *kickqv1alpha1.QueueJob) ([]byte, error) {
	st := &job.Status
	p := NotifyPayload{ID: attempt.NotifyID(job.UID), Namespace: job.Namespace, Name: job.Name, UID: job.UID,
		Queue: job.Spec.QueueName, Type: job.Spec.Type, Batch: job.Spec.Batch, Phase: string(st.Phase),
		Reason: st.Reason, Message: st.Message, Result: st.Result, Attempts: st.Attempts,
		FailedAttempts: st.FailedAttempts, CreationTime: job.CreationTimestamp.UTC()}
	if st.StartTime != nil {
		t := st.StartTime.UTC()
		p.StartTime = &t
	}
	if st.FinishTime != nil {
		t := st.FinishTime.UTC()
		p.FinishTime = &t
	}
	return json.Marshal(p)
}

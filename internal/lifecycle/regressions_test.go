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

// Regression tests for defects the per-file tables found: messages over the bound (a status
// write the API server refuses) and a callback record kept for good when the TTL was due in the
// pass that recorded the delivery.

package lifecycle

import (
	"fmt"
	"strings"
	"testing"
	"time"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/limits"
)

// TestMessagesNeverExceedMaxMessageBytes: limits.MaxMessageBytes "bounds every message kickq
// writes: status.message, condition and attempt messages, log lines, Event notes", and the CRD
// caps status.message at 1024 (a longer one makes the status write fail; events.k8s.io rejects
// a note over 1 kB). Several paths pass a run's or the reconciler's message on unbounded:
// retryCounted/retryUncounted and recordDelivery format the raw message into the Event, and
// block() writes the dependencies message to status.message as is.
func TestMessagesNeverExceedMaxMessageBytes(t *testing.T) {
	long := strings.Repeat("x", 1000)
	var names []string
	for i := range 100 { // spec.after.jobNames allows 100 names of up to 63 characters
		names = append(names, fmt.Sprintf("%s-%02d", strings.Repeat("d", 60), i))
	}
	missing := "waiting for " + strings.Join(names, ", ") + " to exist" // as controllers/dependencies.go words it
	for _, tc := range []decideCase{
		{
			name: "counted failure with a 1000-byte reported message: the AttemptFailed Event",
			job:  makeJob().Status(runningStatus(1, t0)).Obj(), obs: attempt.Observation{Phase: attempt.Running}, now: at(60),
			report: &attempt.Pending{Attempt: 1, Outcome: kickqv1alpha1.OutcomeFail, Message: long},
		},
		{
			name: "uncounted Retry with a 1000-byte reported message: the Retrying Event",
			job:  makeJob().Status(runningStatus(1, t0)).Obj(), obs: attempt.Observation{Phase: attempt.Running}, now: at(60),
			report: &attempt.Pending{Attempt: 1, Outcome: kickqv1alpha1.OutcomeRetry, Message: long},
		},
		{
			name: "uncounted Retry after RetryAfter with a 1000-byte reported message: the Retrying Event",
			job:  makeJob().Status(runningStatus(1, t0)).Obj(), obs: attempt.Observation{Phase: attempt.Running}, now: at(60),
			report: &attempt.Pending{Attempt: 1, Outcome: kickqv1alpha1.OutcomeRetry, Message: long, RetryAfter: time.Minute},
		},
		{
			name: "callback given up with a 1100-byte delivery message: the NotifyFailed Event",
			job: makeJob().Notify("https://hooks.example/done").Status(succeededAt60().Notification(&kickqv1alpha1.NotificationStatus{
				ID: "uid-1-notify", Attempts: MaxNotifyAttempts - 1})).Obj(),
			notification: attempt.NotifyState{Done: true, Message: strings.Repeat("y", 1100)}, now: at(100),
		},
		{
			name: "100 missing dependencies: status.message, and the DependenciesPending Event",
			job:  makeJob().After(names...).Obj(), now: t0,
			deps: Dependencies{Pending: true, Counts: &kickqv1alpha1.DependencyCounts{Missing: 100}, Message: missing},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Decide(tc.input())
			if n := len(res.Status.Message); n > limits.MaxMessageBytes {
				t.Errorf("status.message is %d bytes, more than limits.MaxMessageBytes %d (the CRD's maxLength)", n, limits.MaxMessageBytes)
			}
			for _, e := range res.Events {
				if n := len(e.Message); n > limits.MaxMessageBytes {
					t.Errorf("Event %s: note is %d bytes, more than limits.MaxMessageBytes %d", e.Reason, n, limits.MaxMessageBytes)
				}
			}
		})
	}
}

// TestRecordedDeliveryIsWrittenBeforeTheDelete: when the callback's delivery is recorded in the same pass in
// which the TTL is due (ttlSecondsAfterFinished: 0 with spec.notify: every such job), decideTTL
// overwrites Action NotifyRecorded with Delete. The reconciler calls Hooks.ForgetNotify only on
// NotifyRecorded, so the webhook executor keeps that job's callback record (Webhooks.notes) for
// good: a leak per job.
func TestRecordedDeliveryIsWrittenBeforeTheDelete(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state attempt.NotifyState
		prior *kickqv1alpha1.NotificationStatus
	}{
		{name: "delivered", state: attempt.NotifyState{Done: true, Delivered: true, Message: "204 No Content"}},
		{name: "given up", state: attempt.NotifyState{Done: true, Message: "503"},
			prior: &kickqv1alpha1.NotificationStatus{ID: "uid-1-notify", Attempts: MaxNotifyAttempts - 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := makeJob().Notify("https://hooks.example/done").TTL(0).Status(succeededAt60().Notification(tc.prior)).Obj()
			res := Decide(Input{Job: job, Queue: QueueView{Implicit: true}, Notification: tc.state, Settled: true, Now: at(61)})
			if res.Action != NotifyRecorded {
				t.Errorf("action %q: the recorded delivery is not handed back (want %q; the deletion can wait for the next pass)", res.Action, NotifyRecorded)
			}
		})
	}
}

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
	"testing"
	"time"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
)

// succeededAt60 is a job whose first attempt succeeded at 60 s.
func succeededAt60() *statusWrapper {
	return runningStatus(1, t0).Ended(1, at(60), kickqv1alpha1.OutcomeSucceed, "Completed", "exit code 0 (container main)").
		Log(at(60), "attempt 1 succeeded").JobSucceeded(at(60), "attempt 1 succeeded")
}

// TestDecideNotify drives a finished job's completion callback (notify.go): send, wait, record the
// delivery, back off 5 s, 10 s, 20 s … up to 5 min between tries, give up at MaxNotifyAttempts.
func TestDecideNotify(t *testing.T) {
	const url = "https://hooks.example/done"
	const unavailable = "503 Service Unavailable"
	notified := func(n *kickqv1alpha1.NotificationStatus) *kickqv1alpha1.QueueJob {
		return makeJob().Notify(url).Status(succeededAt60().Notification(n)).Obj()
	}
	// tried is the callback's state after n failed tries, the last due again at 61 s.
	tried := func(n int32) *kickqv1alpha1.NotificationStatus {
		return &kickqv1alpha1.NotificationStatus{ID: "uid-1-notify", Attempts: n, NextAttemptTime: mtime(at(61)), Message: unavailable}
	}
	failedAgain := attempt.NotifyState{Done: true, Message: unavailable}
	// retryIn is the state recorded at 100 s after failed try n, the next due after wait.
	retryIn := func(n int32, wait time.Duration) Result {
		return Result{
			Status: succeededAt60().Notification(&kickqv1alpha1.NotificationStatus{ID: "uid-1-notify", Attempts: n,
				NextAttemptTime: mtime(at(100).Add(wait)), Message: unavailable}).Obj(),
			Action: NotifyRecorded, RequeueAt: at(100).Add(wait),
		}
	}
	delivered := &kickqv1alpha1.NotificationStatus{ID: "uid-1-notify", Attempts: 1, DeliveredTime: mtime(at(61)), Message: "204 No Content"}
	givenUp := &kickqv1alpha1.NotificationStatus{ID: "uid-1-notify", Attempts: MaxNotifyAttempts, Failed: true, Message: unavailable}

	runDecide(t, []decideCase{
		{
			name: "not sent yet: send it",
			job:  notified(nil), now: at(60),
			want: Result{Status: succeededAt60().Obj(), Action: Notify},
		},
		{
			name: "in flight: wait for it",
			job:  notified(nil), notification: attempt.NotifyState{InFlight: true}, now: at(61),
			want: Result{Status: succeededAt60().Obj()},
		},
		{
			name: "delivered on the first try: recorded with an Event, the executor may forget it",
			job:  notified(nil), notification: attempt.NotifyState{Done: true, Delivered: true, Message: "204 No Content"}, now: at(61),
			want: Result{
				Status: succeededAt60().Notification(delivered).Obj(), Action: NotifyRecorded,
				Events: []Event{normal(kickqv1alpha1.EventReasonNotified, "completion callback delivered (attempt 1)")},
			},
		},
		{
			name: "first try failed: next try in 5 s",
			job:  notified(nil), notification: failedAgain, now: at(61),
			want: Result{
				Status: succeededAt60().Notification(&kickqv1alpha1.NotificationStatus{ID: "uid-1-notify", Attempts: 1,
					NextAttemptTime: mtime(at(66)), Message: unavailable}).Obj(),
				Action: NotifyRecorded, RequeueAt: at(66),
			},
		},
		{name: "second try failed: next in 10 s", job: notified(tried(1)), notification: failedAgain, now: at(100), want: retryIn(2, 10*time.Second)},
		{name: "third try failed: next in 20 s", job: notified(tried(2)), notification: failedAgain, now: at(100), want: retryIn(3, 20*time.Second)},
		{name: "fourth try failed: next in 40 s", job: notified(tried(3)), notification: failedAgain, now: at(100), want: retryIn(4, 40*time.Second)},
		{name: "fifth try failed: next in 80 s", job: notified(tried(4)), notification: failedAgain, now: at(100), want: retryIn(5, 80*time.Second)},
		{name: "sixth try failed: next in 160 s", job: notified(tried(5)), notification: failedAgain, now: at(100), want: retryIn(6, 160*time.Second)},
		{name: "seventh try failed: 320 s capped at 5 min", job: notified(tried(6)), notification: failedAgain, now: at(100), want: retryIn(7, 5*time.Minute)},
		{
			name: "MaxNotifyAttempts-th try failed: given up, with an Event",
			job:  notified(tried(MaxNotifyAttempts - 1)), notification: failedAgain, now: at(100),
			want: Result{
				Status: succeededAt60().Notification(givenUp).Obj(), Action: NotifyRecorded,
				Events: []Event{warning(kickqv1alpha1.EventReasonNotifyFailed, "completion callback not delivered after 8 attempts: "+unavailable)},
			},
		},
		{
			name: "delivered on the third try",
			job:  notified(tried(2)), notification: attempt.NotifyState{Done: true, Delivered: true, Message: "200 OK"}, now: at(100),
			want: Result{
				Status: succeededAt60().Notification(&kickqv1alpha1.NotificationStatus{ID: "uid-1-notify", Attempts: 3,
					DeliveredTime: mtime(at(100)), Message: "200 OK"}).Obj(),
				Action: NotifyRecorded,
				Events: []Event{normal(kickqv1alpha1.EventReasonNotified, "completion callback delivered (attempt 3)")},
			},
		},
		{
			name: "next try not due yet: look again when it is",
			job:  notified(&kickqv1alpha1.NotificationStatus{ID: "uid-1-notify", Attempts: 1, NextAttemptTime: mtime(at(66))}), now: at(65),
			want: Result{Status: succeededAt60().Notification(&kickqv1alpha1.NotificationStatus{ID: "uid-1-notify", Attempts: 1,
				NextAttemptTime: mtime(at(66))}).Obj(), RequeueAt: at(66)},
		},
		{
			name: "next try due: send again",
			job:  notified(&kickqv1alpha1.NotificationStatus{ID: "uid-1-notify", Attempts: 1, NextAttemptTime: mtime(at(66))}), now: at(66),
			want: Result{Status: succeededAt60().Notification(&kickqv1alpha1.NotificationStatus{ID: "uid-1-notify", Attempts: 1,
				NextAttemptTime: mtime(at(66))}).Obj(), Action: Notify},
		},
		{
			name: "delivered: never sent nor recorded again, whatever the executor still holds",
			job:  notified(delivered), notification: failedAgain, now: at(100),
			want: Result{Status: succeededAt60().Notification(delivered).Obj()},
		},
		{
			name: "given up: nothing more",
			job:  notified(givenUp), now: at(1000),
			want: Result{Status: succeededAt60().Notification(givenUp).Obj()},
		},
		{
			name: "delivered with the TTL ahead: recorded, look again when the TTL is due",
			job:  makeJob().Notify(url).TTL(300).Status(succeededAt60()).Obj(), now: at(61),
			notification: attempt.NotifyState{Done: true, Delivered: true, Message: "204 No Content"},
			want: Result{
				Status: succeededAt60().Notification(delivered).Obj(), Action: NotifyRecorded, RequeueAt: at(360),
				Events: []Event{normal(kickqv1alpha1.EventReasonNotified, "completion callback delivered (attempt 1)")},
			},
		},
		{
			name: "failed try with the TTL due: not deleted before the callback settles",
			job:  makeJob().Notify(url).TTL(0).Status(succeededAt60()).Obj(), notification: failedAgain, now: at(61),
			want: Result{
				Status: succeededAt60().Notification(&kickqv1alpha1.NotificationStatus{ID: "uid-1-notify", Attempts: 1,
					NextAttemptTime: mtime(at(66)), Message: unavailable}).Obj(),
				Action: NotifyRecorded, RequeueAt: at(66),
			},
		},
	})
}

// TestNotifySettled: a callback needs nothing more once delivered or given up.
func TestNotifySettled(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    *kickqv1alpha1.NotificationStatus
		want bool
	}{
		{name: "never tried", want: false},
		{name: "tried, to be tried again", n: &kickqv1alpha1.NotificationStatus{Attempts: 3, NextAttemptTime: mtime(at(5))}, want: false},
		{name: "delivered", n: &kickqv1alpha1.NotificationStatus{Attempts: 1, DeliveredTime: mtime(at(5))}, want: true},
		{name: "given up", n: &kickqv1alpha1.NotificationStatus{Attempts: MaxNotifyAttempts, Failed: true}, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NotifySettled(&kickqv1alpha1.QueueJobStatus{Notification: tc.n}); got != tc.want {
				t.Errorf("NotifySettled = %v, want %v", got, tc.want)
			}
		})
	}
}

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

	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/limits"
)

// TestDecide covers what Decide itself decides before the per-behaviour files (decide.go): cron
// templates, spec.data over its bound, cancellation, the job's active deadline, and finished jobs.
func TestDecide(t *testing.T) {
	const (
		fail = kickqv1alpha1.OutcomeFail
		die  = kickqv1alpha1.OutcomeDie
	)
	const cancelled = "cancelled by spec.cancel"
	podRunning := attempt.Observation{Phase: attempt.Running, Name: "j-1"}
	template := func() *statusWrapper {
		return makeStatus().Phase(kickqv1alpha1.PhaseScheduled).Message("next firing at 2026-11-23T13:00:00Z")
	}
	backingOff := func() *statusWrapper {
		return runningStatus(1, t0).Ended(1, at(60), fail, "Error", "exit").Exit(1, 1).Failures(1).
			Log(at(60), "attempt 1 failed: exit, retrying in 10s").
			Phase(kickqv1alpha1.PhaseDelayed).Next(at(70)).Message("attempt 1 failed: exit; next attempt at 2026-11-23T12:01:10Z")
	}
	cancelledAt30 := func() *statusWrapper {
		return runningStatus(1, t0).Ended(1, at(30), die, kickqv1alpha1.ReasonCancelled, cancelled).
			JobFailed(at(30), kickqv1alpha1.ReasonCancelled, cancelled)
	}
	resolvedDeadline := defaultResolved("inline")
	resolvedDeadline.ActiveDeadlineSeconds = ptr.To[int32](60)
	const ranTooLong = "the job ran longer than activeDeadlineSeconds (60s)"
	const tooMuchData = "spec.data is 65537 bytes; the manager accepts at most 65536"
	const markedData = "spec.data is 1400000 bytes; the manager accepts at most 65536"

	runDecide(t, []decideCase{
		// Cron templates are the cron controller's.
		{
			name: "cron template: untouched, even cancelled with oversized data",
			job:  makeJob().Cron("@hourly").Cancel().Data(limits.MaxDataBytes + 1).Status(template()).Obj(), now: at(1),
			want: Result{Status: template().Obj()},
		},
		{
			name: "cron template: only observedGeneration follows the spec",
			job:  makeJob().Cron("@hourly").Generation(2).Status(template()).Obj(), now: at(1),
			want: Result{Status: template().Generation(2).Obj()},
		},
		{
			name: "observedGeneration follows metadata.generation",
			job:  makeJob().Generation(3).Obj(), now: at(1),
			want: Result{Status: makeStatus().Generation(3).Ready(t0).Obj(), Action: AwaitAdmission, Attempt: 1, Target: inlinePod()},
		},

		// spec.data bound.
		{
			name: "spec.data at limits.MaxDataBytes: accepted",
			job:  makeJob().Data(limits.MaxDataBytes).Obj(), now: at(1),
			want: Result{Status: makeStatus().Ready(t0).Obj(), Action: AwaitAdmission, Attempt: 1, Target: inlinePod()},
		},
		{
			name: "spec.data over limits.MaxDataBytes: Failed InvalidSpec",
			job:  makeJob().Data(limits.MaxDataBytes + 1).Obj(), now: at(1),
			want: Result{
				Status: makeStatus().JobFailed(at(1), kickqv1alpha1.ReasonInvalidSpec, tooMuchData).Obj(),
				Events: []Event{warning(kickqv1alpha1.ReasonInvalidSpec, tooMuchData)},
			},
		},

		{
			name: "spec.data replaced by the cache's oversized marker: Failed InvalidSpec with the original size",
			job:  makeJob().RawData(limits.OversizedDataMarker(1400000)).Obj(), now: at(1),
			want: Result{
				Status: makeStatus().JobFailed(at(1), kickqv1alpha1.ReasonInvalidSpec, markedData).Obj(),
				Events: []Event{warning(kickqv1alpha1.ReasonInvalidSpec, markedData)},
			},
		},
		{
			name: "spec.data that looks like the marker with a small size: accepted as data",
			job:  makeJob().RawData([]byte(`{"kickq.dev/oversized-bytes":12}`)).Obj(), now: at(1),
			want: Result{Status: makeStatus().Ready(t0).Obj(), Action: AwaitAdmission, Attempt: 1, Target: inlinePod()},
		},

		// spec.cancel.
		{
			name: "cancel while running: attempt closed Die/Cancelled, Failed Cancelled, run stopped",
			job:  makeJob().Cancel().Status(runningStatus(1, t0)).Obj(), obs: podRunning, now: at(30),
			want: Result{
				Status: cancelledAt30().Obj(), Action: Stop, Attempt: 1, Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonCancelled, cancelled)},
			},
		},
		{
			name: "cancel while the pod is not in the cache: stopped all the same",
			job:  makeJob().Cancel().Status(runningStatus(1, t0)).Obj(), obs: attempt.Observation{Phase: attempt.Missing, Name: "j-1"}, now: at(30),
			want: Result{
				Status: cancelledAt30().Obj(), Action: Stop, Attempt: 1, Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonCancelled, cancelled)},
			},
		},
		{
			name: "cancel after the run finished: nothing to stop",
			job:  makeJob().Cancel().Status(runningStatus(1, t0)).Obj(), obs: finishedWith(1, fail, 1, "exit"), now: at(30),
			want: Result{
				Status: cancelledAt30().Obj(), Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonCancelled, cancelled)},
			},
		},
		{
			name: "cancel between attempts: Failed Cancelled, the ended attempt untouched, nothing to stop",
			job:  makeJob().Cancel().Status(backingOff()).Obj(), now: at(65),
			want: Result{
				Status: backingOff().JobFailed(at(65), kickqv1alpha1.ReasonCancelled, cancelled).Obj(), Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonCancelled, cancelled)},
			},
		},
		{
			name: "cancel a new job: Failed Cancelled",
			job:  makeJob().Cancel().Obj(), now: at(1),
			want: Result{
				Status: makeStatus().JobFailed(at(1), kickqv1alpha1.ReasonCancelled, cancelled).Obj(), Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonCancelled, cancelled)},
			},
		},

		// activeDeadlineSeconds, counted from the first start.
		{
			name: "activeDeadlineSeconds ahead while running: look again when it is due",
			job:  makeJob().ActiveDeadline(3600).Status(runningStatus(1, t0)).Obj(), obs: podRunning, now: at(3599),
			want: Result{Status: runningStatus(1, t0).Obj(), Target: inlinePod(), RequeueAt: at(3600)},
		},
		{
			name: "activeDeadlineSeconds due while running: attempt closed Fail, Failed DeadlineExceeded, run stopped",
			job:  makeJob().ActiveDeadline(60).Status(runningStatus(1, t0)).Obj(), obs: podRunning, now: at(60),
			want: Result{
				Status: runningStatus(1, t0).Ended(1, at(60), fail, kickqv1alpha1.ReasonDeadlineExceeded, ranTooLong).
					JobFailed(at(60), kickqv1alpha1.ReasonDeadlineExceeded, ranTooLong).Obj(),
				Action: Stop, Attempt: 1, Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonDeadlineExceeded, ranTooLong)},
			},
		},
		{
			name: "activeDeadlineSeconds due between attempts: Failed DeadlineExceeded, nothing to stop",
			job:  makeJob().ActiveDeadline(60).Status(backingOff()).Obj(), now: at(65),
			want: Result{
				Status: backingOff().JobFailed(at(65), kickqv1alpha1.ReasonDeadlineExceeded, ranTooLong).Obj(), Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonDeadlineExceeded, ranTooLong)},
			},
		},
		{
			name: "activeDeadlineSeconds from the policy snapshot, not the spec",
			job:  makeJob().ActiveDeadline(3600).Status(runningStatus(1, t0).Resolved(resolvedDeadline)).Obj(), obs: podRunning, now: at(60),
			want: Result{
				Status: runningStatus(1, t0).Resolved(resolvedDeadline).
					Ended(1, at(60), fail, kickqv1alpha1.ReasonDeadlineExceeded, ranTooLong).
					JobFailed(at(60), kickqv1alpha1.ReasonDeadlineExceeded, ranTooLong).Obj(),
				Action: Stop, Attempt: 1, Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonDeadlineExceeded, ranTooLong)},
			},
		},
		{
			name: "activeDeadlineSeconds before the first start: not counted yet",
			job:  makeJob().ActiveDeadline(1).Obj(), now: at(100),
			want: Result{Status: makeStatus().Ready(t0).Obj(), Action: AwaitAdmission, Attempt: 1, Target: inlinePod()},
		},

		// Finished jobs.
		{
			name: "finished job whose attempt still runs: stop it first",
			job:  makeJob().TTL(0).Status(cancelledAt30()).Obj(), obs: podRunning, now: at(31),
			want: Result{Status: cancelledAt30().Obj(), Action: Stop, Attempt: 1},
		},
		{
			name: "finished job whose run is being deleted: nothing to stop, nothing else",
			job:  makeJob().Status(cancelledAt30()).Obj(), obs: attempt.Observation{Phase: attempt.Running, Name: "j-1", Deleting: true}, now: at(31),
			want: Result{Status: cancelledAt30().Obj()},
		},
		{
			name: "finished job with notify and TTL 0: the callback before the deletion",
			job:  makeJob().TTL(0).Notify("https://hooks.example/done").Status(cancelledAt30()).Obj(), now: at(31),
			want: Result{Status: cancelledAt30().Obj(), Action: Notify},
		},
		{
			name: "finished job with its callback delivered and TTL 0: deleted",
			job: makeJob().TTL(0).Notify("https://hooks.example/done").Status(cancelledAt30().
				Notification(&kickqv1alpha1.NotificationStatus{ID: "uid-1-notify", Attempts: 1, DeliveredTime: mtime(at(31))})).Obj(),
			now: at(32),
			want: Result{
				Status: cancelledAt30().Notification(&kickqv1alpha1.NotificationStatus{ID: "uid-1-notify", Attempts: 1, DeliveredTime: mtime(at(31))}).Obj(),
				Action: Delete,
			},
		},
	})
}

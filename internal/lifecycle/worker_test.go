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

	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
	"kickq.dev/kickq/internal/attempt"
)

// workerRunning is the status of a job whose attempt n, on an inline worker target, was admitted
// at started and not claimed yet.
func workerRunning(n int32, started time.Time) *statusWrapper {
	return makeStatus().Phase(kickqv1alpha1.PhaseRunning).Attempts(n).Start(started).Ready(t0).
		Message(awaitingClaim(n)).
		Record(kickqv1alpha1.AttemptRecord{Number: n, StartTime: mtime(started), TargetKind: "Worker", Handler: "inline"})
}

// claimed is workerRunning with the attempt claimed by worker w at claim (the claim writes
// lastHeartbeatTime and the message).
func claimed(n int32, started, claim time.Time, w string) *statusWrapper {
	s := workerRunning(n, started).Heartbeat(claim).Message("attempt " + itoa(n) + " claimed by worker " + w)
	s.record(n).Worker = w
	return s
}

// TestAdmitWorker: an admitted worker attempt is Running, waiting for a claim, and Start (a no-op
// for the worker executor) is its side effect.
func TestAdmitWorker(t *testing.T) {
	job := makeJob().Worker().Status(makeStatus().Ready(t0)).Obj()
	in := Input{Job: job, Queue: QueueView{Implicit: true}, Now: at(1), Settled: true}
	res := Decide(in)
	if res.Action != AwaitAdmission {
		t.Fatalf("Decide: action %q, want AwaitAdmission", res.Action)
	}
	target := attempt.Target{Kind: attempt.KindWorker, Worker: &kickqv1alpha1.WorkerTarget{}}
	diffResult(t, Result{
		Status: workerRunning(1, at(1)).Resolved(defaultResolved("inline")).
			Log(at(1), "attempt 1 admitted: waiting for a pull worker to claim it").Obj(),
		Action: Start, Attempt: 1, Target: target,
	}, Admit(res, in, admission.Decision{Admitted: true}))
}

// TestDecideWorker follows a worker attempt: unclaimed, claimed with a live, expired or missing
// Lease, and the outcomes its worker writes (worker.go).
func TestDecideWorker(t *testing.T) {
	const (
		succeed = kickqv1alpha1.OutcomeSucceed
		fail    = kickqv1alpha1.OutcomeFail
		die     = kickqv1alpha1.OutcomeDie
		retry   = kickqv1alpha1.OutcomeRetry
	)
	target := attempt.Target{Kind: attempt.KindWorker, Worker: &kickqv1alpha1.WorkerTarget{}}
	withDeadline := func(s int32) attempt.Target { t := target; t.AttemptDeadlineSeconds = ptr.To(s); return t }
	unclaimed := attempt.Observation{Phase: attempt.NotStarted}
	live := func(renew time.Time) attempt.Observation {
		return attempt.Observation{Phase: attempt.Running, Name: "w-1",
			Lease: attempt.WorkerLease{Found: true, RenewTime: renew, Duration: 15 * time.Second}}
	}
	gone := attempt.Observation{Phase: attempt.Running, Name: "w-1"}
	finished := attempt.Observation{Phase: attempt.Finished, Name: "w-1"}
	// wrote is a claimed attempt whose worker wrote outcome o at 20 s.
	wrote := func(o kickqv1alpha1.Outcome, reason, msg string) *statusWrapper {
		return claimed(1, t0, at(5), "w-1").Ended(1, at(20), o, reason, msg)
	}
	lostAt := func(now time.Time, msg string) *statusWrapper {
		return claimed(1, t0, at(5), "w-1").Ended(1, now, fail, kickqv1alpha1.AttemptReasonWorkerLost, msg).Failures(1).
			Log(now, "attempt 1 failed: "+msg+", retrying in 10s").
			Phase(kickqv1alpha1.PhaseDelayed).Next(now.Add(10 * time.Second)).
			Message("attempt 1 failed: " + msg + "; next attempt at " + now.Add(10*time.Second).UTC().Format(time.RFC3339))
	}
	const expired = "attempt 1 failed: the Lease of worker w-1 expired (renewed 2026-11-23T12:00:10Z, leaseDurationSeconds 15)"
	const missing = "attempt 1 failed: the Lease of worker w-1 is gone"

	runDecide(t, []decideCase{
		{
			name: "not claimed yet: Running, waiting for a claim, nothing to do",
			job:  makeJob().Worker().Status(workerRunning(1, t0)).Obj(), obs: unclaimed, now: at(100),
			want: Result{Status: workerRunning(1, t0).Obj(), Target: target},
		},
		{
			name: "not claimed within attemptDeadlineSeconds: a counted AttemptDeadlineExceeded",
			job:  makeJob().Worker().AttemptDeadline(30).Status(workerRunning(1, t0)).Obj(), obs: unclaimed, now: at(30),
			want: Result{
				Status: workerRunning(1, t0).Ended(1, at(30), fail, kickqv1alpha1.AttemptReasonAttemptDeadlineExceeded,
					"attempt 1 ran longer than attemptDeadlineSeconds (30s)").Failures(1).
					Log(at(30), "attempt 1 failed: attempt 1 ran longer than attemptDeadlineSeconds (30s), retrying in 10s").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(40)).
					Message("attempt 1 failed: attempt 1 ran longer than attemptDeadlineSeconds (30s); next attempt at 2026-11-23T12:00:40Z").Obj(),
				Action: Stop, Attempt: 1, Target: withDeadline(30), RequeueAt: at(40),
				Events: []Event{warning(kickqv1alpha1.EventReasonAttemptFailed,
					"attempt 1 failed: attempt 1 ran longer than attemptDeadlineSeconds (30s); retrying in 10s")},
			},
		},
		{
			name: "claimed, Lease renewed and not expired: nothing to do (the Lease controller wakes it)",
			job:  makeJob().Worker().Status(claimed(1, t0, at(5), "w-1")).Obj(), obs: live(at(10)), now: at(24),
			want: Result{Status: claimed(1, t0, at(5), "w-1").Obj(), Target: target},
		},
		{
			name: "claimed, Lease expired by the manager's clock (renewTime + leaseDurationSeconds): WorkerLost, counted",
			job:  makeJob().Worker().Status(claimed(1, t0, at(5), "w-1")).Obj(), obs: live(at(10)), now: at(25),
			want: Result{
				Status: lostAt(at(25), expired).Obj(), Target: target, RequeueAt: at(35),
				Events: []Event{warning(kickqv1alpha1.EventReasonAttemptFailed, "attempt 1 failed: "+expired+"; retrying in 10s")},
			},
		},
		{
			name: "claimed, Lease not in the cache yet: looked at again LeaseMissingGrace after the claim",
			job:  makeJob().Worker().Status(claimed(1, t0, at(5), "w-1")).Obj(), obs: gone, now: at(10),
			want: Result{Status: claimed(1, t0, at(5), "w-1").Obj(), Target: target, RequeueAt: at(20)},
		},
		{
			name: "claimed, Lease gone past LeaseMissingGrace: WorkerLost, counted",
			job:  makeJob().Worker().Status(claimed(1, t0, at(5), "w-1")).Obj(), obs: gone, now: at(20),
			want: Result{
				Status: lostAt(at(20), missing).Obj(), Target: target, RequeueAt: at(30),
				Events: []Event{warning(kickqv1alpha1.EventReasonAttemptFailed, "attempt 1 failed: "+missing+"; retrying in 10s")},
			},
		},
		{
			name: "claimed, heartbeatTimeoutSeconds set and the task silent since its claim: HeartbeatTimeout",
			job:  makeJob().Worker().HeartbeatTimeout(10).Status(claimed(1, t0, at(5), "w-1")).Obj(), obs: live(at(14)), now: at(15),
			want: Result{
				Status: claimed(1, t0, at(5), "w-1").Ended(1, at(15), fail, kickqv1alpha1.AttemptReasonHeartbeatTimeout,
					"attempt 1 sent no report for heartbeatTimeoutSeconds (10s)").Failures(1).
					Log(at(15), "attempt 1 failed: attempt 1 sent no report for heartbeatTimeoutSeconds (10s), retrying in 10s").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(25)).
					Message("attempt 1 failed: attempt 1 sent no report for heartbeatTimeoutSeconds (10s); next attempt at 2026-11-23T12:00:25Z").Obj(),
				Action: Stop, Attempt: 1, Target: target, RequeueAt: at(25),
				Events: []Event{warning(kickqv1alpha1.EventReasonAttemptFailed,
					"attempt 1 failed: attempt 1 sent no report for heartbeatTimeoutSeconds (10s); retrying in 10s")},
			},
		},
		{
			name: "the worker wrote Succeed: Succeeded, its result kept",
			job:  makeJob().Worker().Status(wrote(succeed, kickqv1alpha1.AttemptReasonCompleted, "").Result(`{"n":1}`)).Obj(), obs: finished, now: at(21),
			want: Result{
				Status: wrote(succeed, kickqv1alpha1.AttemptReasonCompleted, "attempt 1: the worker reported Succeed").Result(`{"n":1}`).
					Ended(1, at(21), succeed, kickqv1alpha1.AttemptReasonCompleted, "attempt 1: the worker reported Succeed").
					Log(at(21), "attempt 1 succeeded").JobSucceeded(at(21), "attempt 1 succeeded").Obj(),
				Target: target,
			},
		},
		{
			name: "the worker wrote Fail (handler error): a counted failure, the retry policy applies",
			job:  makeJob().Worker().Status(wrote(fail, kickqv1alpha1.AttemptReasonHandlerError, "boom")).Obj(), obs: finished, now: at(21),
			want: Result{
				Status: wrote(fail, kickqv1alpha1.AttemptReasonHandlerError, "boom").Ended(1, at(21), fail, kickqv1alpha1.AttemptReasonHandlerError, "boom").
					Failures(1).Log(at(21), "attempt 1 failed: boom, retrying in 10s").Phase(kickqv1alpha1.PhaseDelayed).Next(at(31)).
					Message("attempt 1 failed: boom; next attempt at 2026-11-23T12:00:31Z").Obj(),
				Target: target, RequeueAt: at(31),
				Events: []Event{warning(kickqv1alpha1.EventReasonAttemptFailed, "attempt 1 failed: boom; retrying in 10s")},
			},
		},
		{
			name: "the worker wrote Die: Failed/Died, no more attempts",
			job:  makeJob().Worker().Status(wrote(die, kickqv1alpha1.AttemptReasonHandlerError, "bad input")).Obj(), obs: finished, now: at(21),
			want: Result{
				Status: wrote(die, kickqv1alpha1.AttemptReasonHandlerError, "bad input").Ended(1, at(21), die, kickqv1alpha1.AttemptReasonHandlerError, "bad input").
					Log(at(21), "attempt 1 died: bad input").JobFailed(at(21), kickqv1alpha1.ReasonDied, "bad input").Obj(),
				Target: target,
				Events: []Event{warning(kickqv1alpha1.ReasonDied, "bad input")},
			},
		},
		{
			name: "the worker wrote Retry after 60 s (RetryAfter): Delayed until then, not counted",
			job:  makeJob().Worker().Status(wrote(retry, kickqv1alpha1.AttemptReasonRetryAfter, "busy").Next(at(80))).Obj(), obs: finished, now: at(20),
			want: Result{
				Status: wrote(retry, kickqv1alpha1.AttemptReasonRetryAfter, "busy").
					Log(at(20), "attempt 1: busy; retrying in 1m0s without counting").Phase(kickqv1alpha1.PhaseDelayed).Next(at(80)).Ready(at(80)).
					Message("attempt 1: busy; next attempt at 2026-11-23T12:01:20Z").Obj(),
				Target: target, RequeueAt: at(80),
				Events: []Event{normal(kickqv1alpha1.EventReasonRetrying, "attempt 1: busy; retrying in 1m0s without counting")},
			},
		},
		{
			name: "the worker released the attempt (graceful stop): retried without counting, however often",
			job: makeJob().Worker().Status(wrote(retry, kickqv1alpha1.AttemptReasonWorkerReleased, "released by worker w-1: stopping").
				Immediate(5)).Obj(), obs: finished, now: at(20),
			want: Result{
				Status: wrote(retry, kickqv1alpha1.AttemptReasonWorkerReleased, "released by worker w-1: stopping").
					Log(at(20), "attempt 1: released by worker w-1: stopping; retrying in 1s without counting").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(21)).Ready(at(21)).
					Message("attempt 1: released by worker w-1: stopping; next attempt at 2026-11-23T12:00:21Z").Obj(),
				Target: target, RequeueAt: at(21),
				Events: []Event{normal(kickqv1alpha1.EventReasonRetrying, "attempt 1: released by worker w-1: stopping; retrying in 1s without counting")},
			},
		},
		{
			name: "cancelled while claimed: Failed/Cancelled, the attempt closed (its worker sees it and cancels the task)",
			job:  makeJob().Worker().Cancel().Status(claimed(1, t0, at(5), "w-1")).Obj(), obs: live(at(10)), now: at(12),
			want: Result{
				Status: claimed(1, t0, at(5), "w-1").Ended(1, at(12), die, kickqv1alpha1.ReasonCancelled, "cancelled by spec.cancel").
					JobFailed(at(12), kickqv1alpha1.ReasonCancelled, "cancelled by spec.cancel").Obj(),
				Action: Stop, Attempt: 1, Target: target,
				Events: []Event{warning(kickqv1alpha1.ReasonCancelled, "cancelled by spec.cancel")},
			},
		},
	})
}

// TestWorkerLost decides a worker's liveness on the manager's clock alone.
func TestWorkerLost(t *testing.T) {
	lease := attempt.WorkerLease{Found: true, RenewTime: at(10), Duration: 15 * time.Second}
	for _, tc := range []struct {
		name     string
		lease    attempt.WorkerLease
		now      time.Time
		wantLost bool
		wantAt   time.Time
	}{
		{name: "renewed 14 s ago, 15 s lease: alive", lease: lease, now: at(24)},
		{name: "renewed 15 s ago, 15 s lease: lost", lease: lease, now: at(25), wantLost: true},
		{name: "missing since the claim for less than the grace: look again then", now: at(14), wantAt: at(5).Add(LeaseMissingGrace)},
		{name: "missing for the grace: lost", now: at(20), wantLost: true, wantAt: at(20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lost, next := workerLost(tc.lease, at(5), tc.now)
			if lost != tc.wantLost || !next.Equal(tc.wantAt) {
				t.Errorf("workerLost = %v, %v; want %v, %v", lost, next, tc.wantLost, tc.wantAt)
			}
		})
	}
}

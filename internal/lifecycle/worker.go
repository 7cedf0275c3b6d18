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

// A pull worker's attempt (targetKind Worker). Admission admits it like any other: the job goes
// Running with attempt N recorded and attemptHistory[N].worker unset ("waiting for a pull worker
// to claim it"); a worker of the job's type claims it by writing its name there (optimistic
// concurrency on the status subresource: one claim wins); the worker then writes the attempt's
// outcome into the same record, and this file turns it into the job's next state, where the retry
// policy applies as for any other target. The claiming worker's Lease is its heartbeat: expired
// (by this manager's clock: renewTime + leaseDurationSeconds) or gone, the attempt fails as
// WorkerLost, a counted failure.

import (
	"fmt"
	"time"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/outcome"
)

// LeaseMissingGrace is how long after its claim an attempt whose worker's Lease is not in the
// cache is waited for before it fails as WorkerLost: a worker creates its Lease before it claims,
// so only cache lag hides it that long; a Lease deleted later (a worker that stopped without
// releasing) is lost at once.
const LeaseMissingGrace = 15 * time.Second

// awaitingClaim is the message of an admitted worker attempt that no worker claimed yet.
func awaitingClaim(n int32) string {
	return fmt.Sprintf("attempt %d waiting for a pull worker to claim it", n)
}

// isWorker reports whether the running attempt was started on a pull worker target.
func (a *runningAttempt) isWorker() bool {
	rec := attemptRecord(&a.res.Status, a.n)
	if rec != nil && rec.TargetKind != "" {
		return rec.TargetKind == string(attempt.KindWorker)
	}
	return a.res.Target.Kind == attempt.KindWorker
}

// workerObserved handles a worker attempt: the outcome its worker wrote, an attempt nobody
// claimed yet, and a worker whose Lease expired. It returns true when nothing more is to be
// checked; else the heartbeat and attempt deadlines apply.
func (a *runningAttempt) workerObserved() bool {
	st := &a.res.Status
	rec := attemptRecord(st, a.n)
	switch {
	case rec == nil:
		return false
	case rec.Outcome != "" && rec.FinishTime != nil:
		a.end(workerResult(rec, st, a.in.Now))
		return true
	case rec.Worker == "":
		// Waiting for a claim: the attempt deadline runs, a handler edited away fails it.
		return a.retargeted()
	}
	lost, at := workerLost(a.in.Current.Lease, claimTime(st, a.started), a.in.Now)
	if lost {
		a.fail(kickqv1alpha1.AttemptReasonWorkerLost, lostMessage(a.n, rec.Worker, a.in.Current.Lease))
		return true
	}
	a.res.requeue(at)
	return false
}

// workerLost decides whether a claimed attempt's worker is gone: its Lease expired by now, or
// it has been missing from the cache for LeaseMissingGrace since the claim. When not, it returns
// the time to look again for a missing Lease (zero when the Lease is there: the Lease controller
// wakes the job when it expires).
func workerLost(l attempt.WorkerLease, claimed, now time.Time) (bool, time.Time) {
	if l.Found {
		return !now.Before(l.RenewTime.Add(l.Duration)), time.Time{}
	}
	due := claimed.Add(LeaseMissingGrace)
	return !now.Before(due), due
}

// claimTime is when the worker claimed the attempt: the claim writes lastHeartbeatTime.
func claimTime(st *kickqv1alpha1.QueueJobStatus, started time.Time) time.Time {
	if hb := st.LastHeartbeatTime; hb != nil && hb.After(started) {
		return hb.Time
	}
	return started
}

func lostMessage(n int32, worker string, l attempt.WorkerLease) string {
	if !l.Found {
		return fmt.Sprintf("attempt %d failed: the Lease of worker %s is gone", n, worker)
	}
	return fmt.Sprintf("attempt %d failed: the Lease of worker %s expired (renewed %s, leaseDurationSeconds %d)",
		n, worker, l.RenewTime.UTC().Format(time.RFC3339), int64(l.Duration/time.Second))
}

// workerResult is the outcome a worker wrote into the attempt's record. A Retry carries its
// delay in status.nextAttemptTime; a release is retried without counting however often, like a
// disruption.
func workerResult(rec *kickqv1alpha1.AttemptRecord, st *kickqv1alpha1.QueueJobStatus, now time.Time) outcome.Result {
	r := outcome.Result{Outcome: rec.Outcome, Reason: rec.Reason, Message: rec.Message}
	if r.Message == "" {
		r.Message = fmt.Sprintf("attempt %d: the worker reported %s", rec.Number, rec.Outcome)
	}
	if r.Outcome != kickqv1alpha1.OutcomeRetry {
		return r
	}
	if next := st.NextAttemptTime; next != nil && next.After(now) {
		r.RetryAfter = next.Sub(now)
	}
	switch rec.Reason {
	case kickqv1alpha1.AttemptReasonWorkerReleased:
		r.Rule = outcome.DisruptionRule
	case kickqv1alpha1.AttemptReasonRetryAfter:
		// Asked for a delay that has passed already: still not an immediate retry.
		r.RetryAfter = max(r.RetryAfter, time.Nanosecond)
	}
	return r
}

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

// TestDecideWaiting holds a job that is not running (waiting.go): delays, dependencies, blocks,
// suspension, pull workers and a previous run still stopping, else admission decides.
func TestDecideWaiting(t *testing.T) {
	const (
		fail  = kickqv1alpha1.OutcomeFail
		retry = kickqv1alpha1.OutcomeRetry
	)
	// backingOff is a job whose first attempt failed at 60 s and waits until 70 s.
	backingOff := func() *statusWrapper {
		return runningStatus(1, t0).Ended(1, at(60), fail, "Error", "exit").Exit(1, 1).Failures(1).
			Log(at(60), "attempt 1 failed: exit, retrying in 10s").
			Phase(kickqv1alpha1.PhaseDelayed).Next(at(70)).Message("attempt 1 failed: exit; next attempt at 2026-11-23T12:01:10Z")
	}
	// retried is a job whose first attempt ended with an uncounted retry at 60 s.
	retried := func() *statusWrapper {
		return runningStatus(1, t0).Ended(1, at(60), retry, "Error", "exit 75").Exit(1, 75).
			Phase(kickqv1alpha1.PhasePending).Ready(at(60))
	}
	missingQueue := &QueueView{}
	const (
		queueMissing = `queue "q" does not exist in namespace ns`
		noHandler    = `queue "q" has no handler for type "t" and no default handler, and the job has no inline target`
		pendingB     = "waiting for b to finish (1 of 2 finished)"
		denied       = `queue "default" denies inline targets (spec.inlineTargets: Deny); remove the job's pod/webhook/worker and pick a handler with spec.type`
	)
	halfDone := kickqv1alpha1.DependencyCounts{Total: 2, Finished: 1, Succeeded: 1}
	pending := Dependencies{Pending: true, Counts: &halfDone, Message: pendingB}
	blockedOnDeps := func() *statusWrapper {
		return makeStatus().Ready(t0).Deps(halfDone).Phase(kickqv1alpha1.PhaseBlocked).Message(pendingB).
			Blocked(kickqv1alpha1.ReasonDependenciesPending, pendingB)
	}

	runDecide(t, []decideCase{
		// Delays.
		{
			name: "new job: ready since its creation, awaits admission of attempt 1",
			job:  makeJob().Obj(), now: at(1),
			want: Result{Status: makeStatus().Ready(t0).Obj(), Action: AwaitAdmission, Attempt: 1, Target: inlinePod()},
		},
		{
			name: "delaySeconds ahead, first sight unknown: Delayed until creation + 1 s + delay (the create happened within that second)",
			job:  makeJob().Delay(30).Obj(), now: at(10),
			want: Result{
				Status: makeStatus().Phase(kickqv1alpha1.PhaseDelayed).Next(at(31)).Message("waiting until 2026-11-23T12:00:31Z").Obj(),
				Target: inlinePod(), RequeueAt: at(31),
			},
		},
		{
			name: "delaySeconds counts from when the manager first saw the job; status rounds the time up",
			job:  makeJob().Delay(30).Obj(), now: at(10), firstSeen: t0.Add(400 * time.Millisecond),
			want: Result{
				Status: makeStatus().Phase(kickqv1alpha1.PhaseDelayed).Next(at(31)).Message("waiting until 2026-11-23T12:00:31Z").Obj(),
				Target: inlinePod(), RequeueAt: t0.Add(30400 * time.Millisecond),
			},
		},
		{
			name: "delaySeconds is not due a moment before creation + first sight + delay",
			job:  makeJob().Delay(30).Obj(), now: t0.Add(30399 * time.Millisecond), firstSeen: t0.Add(400 * time.Millisecond),
			want: Result{
				Status: makeStatus().Phase(kickqv1alpha1.PhaseDelayed).Next(at(31)).Message("waiting until 2026-11-23T12:00:31Z").Obj(),
				Target: inlinePod(), RequeueAt: t0.Add(30400 * time.Millisecond),
			},
		},
		{
			name: "delaySeconds due: ready since its due time",
			job:  makeJob().Delay(30).Obj(), now: at(31),
			want: Result{Status: makeStatus().Ready(at(31)).Obj(), Action: AwaitAdmission, Attempt: 1, Target: inlinePod()},
		},
		{
			name: "delaySeconds due from first sight, before creation + 1 s + delay",
			job:  makeJob().Delay(30).Obj(), now: t0.Add(30400 * time.Millisecond), firstSeen: t0.Add(400 * time.Millisecond),
			want: Result{Status: makeStatus().Ready(t0.Add(30400 * time.Millisecond)).Obj(), Action: AwaitAdmission, Attempt: 1, Target: inlinePod()},
		},
		{
			name: "notBeforeTime ahead: Delayed until then",
			job:  makeJob().NotBefore(at(3600)).Obj(), now: t0,
			want: Result{
				Status: makeStatus().Phase(kickqv1alpha1.PhaseDelayed).Next(at(3600)).Message("waiting until 2026-11-23T13:00:00Z").Obj(),
				Target: inlinePod(), RequeueAt: at(3600),
			},
		},
		{
			name: "notBeforeTime due: ready since then",
			job:  makeJob().NotBefore(at(3600)).Obj(), now: at(3600),
			want: Result{Status: makeStatus().Ready(at(3600)).Obj(), Action: AwaitAdmission, Attempt: 1, Target: inlinePod()},
		},
		{
			name: "notBeforeTime wins over delaySeconds",
			job:  makeJob().NotBefore(at(10)).Delay(60).Obj(), now: at(20),
			want: Result{Status: makeStatus().Ready(at(10)).Obj(), Action: AwaitAdmission, Attempt: 1, Target: inlinePod()},
		},
		{
			name: "a delayed job is not blocked before its time",
			job:  makeJob().Queue("q").Delay(30).Obj(), queue: missingQueue, now: at(10),
			want: Result{
				Status:    makeStatus().Phase(kickqv1alpha1.PhaseDelayed).Next(at(31)).Message("waiting until 2026-11-23T12:00:31Z").Obj(),
				RequeueAt: at(31),
			},
		},
		{
			name: "backoff ahead: stays Delayed until nextAttemptTime",
			job:  makeJob().Status(backingOff()).Obj(), now: at(65),
			want: Result{
				Status: backingOff().Message("waiting until 2026-11-23T12:01:10Z").Obj(),
				Target: inlinePod(), RequeueAt: at(70),
			},
		},
		{
			name: "backoff due: awaits admission of attempt 2, keeping its ready time",
			job:  makeJob().Status(backingOff()).Obj(), now: at(70),
			want: Result{Status: backingOff().NoNext().Obj(), Action: AwaitAdmission, Attempt: 2, Target: inlinePod()},
		},

		// Dependencies (spec.after).
		{
			name: "dependencies invalid: Failed InvalidSpec",
			job:  makeJob().After("j").Obj(), now: t0,
			deps: Dependencies{Invalid: true, Message: "spec.after.jobNames names the job itself"},
			want: Result{
				Status: makeStatus().Ready(t0).JobFailed(t0, kickqv1alpha1.ReasonInvalidSpec, "spec.after.jobNames names the job itself").Obj(),
				Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonInvalidSpec, "spec.after.jobNames names the job itself")},
			},
		},
		{
			name: "dependency failed: Failed DependencyFailed with the counts",
			job:  makeJob().After("a").Obj(), now: at(5),
			deps: Dependencies{Failed: true, Counts: &kickqv1alpha1.DependencyCounts{Total: 1, Finished: 1, Failed: 1},
				Message: "dependency a failed (Died); spec.after requires AllSucceeded"},
			want: Result{
				Status: makeStatus().Ready(t0).Deps(kickqv1alpha1.DependencyCounts{Total: 1, Finished: 1, Failed: 1}).
					JobFailed(at(5), kickqv1alpha1.ReasonDependencyFailed, "dependency a failed (Died); spec.after requires AllSucceeded").Obj(),
				Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonDependencyFailed, "dependency a failed (Died); spec.after requires AllSucceeded")},
			},
		},
		{
			name: "dependencies pending: Blocked DependenciesPending, with an Event",
			job:  makeJob().After("a", "b").Obj(), deps: pending, now: at(5),
			want: Result{
				Status: blockedOnDeps().Obj(), Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonDependenciesPending, pendingB)},
			},
		},
		{
			name: "dependencies still pending, new message: status updated, no second Event",
			job: makeJob().After("a", "b").Status(makeStatus().Ready(t0).Phase(kickqv1alpha1.PhaseBlocked).Message("waiting for a, b").
				Blocked(kickqv1alpha1.ReasonDependenciesPending, "waiting for a, b")).Obj(),
			deps: pending, now: at(50),
			want: Result{Status: blockedOnDeps().Obj(), Target: inlinePod()},
		},
		{
			name: "dependencies pending, activeDeadlineSeconds ahead: look again at creation + deadline",
			job:  makeJob().After("a", "b").ActiveDeadline(600).Obj(), deps: pending, now: at(599),
			want: Result{
				Status: blockedOnDeps().Obj(), Target: inlinePod(), RequeueAt: at(600),
				Events: []Event{warning(kickqv1alpha1.ReasonDependenciesPending, pendingB)},
			},
		},
		{
			name: "dependencies pending at activeDeadlineSeconds: Failed DeadlineExceeded",
			job:  makeJob().After("a", "b").ActiveDeadline(600).Obj(), deps: pending, now: at(600),
			want: Result{
				Status: makeStatus().Ready(t0).Deps(halfDone).JobFailed(at(600), kickqv1alpha1.ReasonDeadlineExceeded,
					"waited longer than activeDeadlineSeconds (600s) for its dependencies: "+pendingB).Obj(),
				Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonDeadlineExceeded,
					"waited longer than activeDeadlineSeconds (600s) for its dependencies: "+pendingB)},
			},
		},
		{
			// Admit, which always follows AwaitAdmission, turns Blocked False or names the limit.
			name: "dependencies done: counts recorded, awaits admission (the Blocked condition is Admit's)",
			job:  makeJob().After("a", "b").Status(blockedOnDeps()).Obj(), now: at(70),
			deps: Dependencies{Counts: &kickqv1alpha1.DependencyCounts{Total: 2, Finished: 2, Succeeded: 2}},
			want: Result{
				Status: blockedOnDeps().Deps(kickqv1alpha1.DependencyCounts{Total: 2, Finished: 2, Succeeded: 2}).Obj(),
				Action: AwaitAdmission, Attempt: 1, Target: inlinePod(),
			},
		},
		{
			name: "dependencies are only waited for before the first attempt",
			job:  makeJob().After("a", "b").Status(retried()).Obj(), deps: pending, now: at(61),
			want: Result{Status: retried().Obj(), Action: AwaitAdmission, Attempt: 2, Target: inlinePod()},
		},

		// Blocked: no queue, no handler.
		{
			name: "queue missing: Blocked QueueNotFound, with an Event",
			job:  makeJob().Queue("q").Obj(), queue: missingQueue, now: t0,
			want: Result{
				Status: makeStatus().Ready(t0).Phase(kickqv1alpha1.PhaseBlocked).Message(queueMissing).
					Blocked(kickqv1alpha1.ReasonQueueNotFound, queueMissing).Obj(),
				Events: []Event{warning(kickqv1alpha1.ReasonQueueNotFound, queueMissing)},
			},
		},
		{
			name: "queue still missing: no second Event",
			job: makeJob().Queue("q").Status(makeStatus().Ready(t0).Phase(kickqv1alpha1.PhaseBlocked).Message(queueMissing).
				Blocked(kickqv1alpha1.ReasonQueueNotFound, queueMissing)).Obj(),
			queue: missingQueue, now: at(60),
			want: Result{
				Status: makeStatus().Ready(t0).Phase(kickqv1alpha1.PhaseBlocked).Message(queueMissing).
					Blocked(kickqv1alpha1.ReasonQueueNotFound, queueMissing).Obj(),
			},
		},
		{
			name: "blocked for another reason (queue created, no handler): Blocked HandlerNotFound, a new Event",
			job: makeJob().Queue("q").NoTarget().Type("t").Status(makeStatus().Ready(t0).Phase(kickqv1alpha1.PhaseBlocked).
				Message(queueMissing).Blocked(kickqv1alpha1.ReasonQueueNotFound, queueMissing)).Obj(),
			queue: &QueueView{Spec: &kickqv1alpha1.QueueSpec{}}, now: at(60),
			want: Result{
				Status: makeStatus().Ready(t0).Phase(kickqv1alpha1.PhaseBlocked).Message(noHandler).
					Blocked(kickqv1alpha1.ReasonHandlerNotFound, noHandler).Obj(),
				Events: []Event{warning(kickqv1alpha1.ReasonHandlerNotFound, noHandler)},
			},
		},
		{
			name: "inline target on a queue that denies them: Blocked InlineTargetDenied, with an Event",
			job:  makeJob().Obj(), queue: &QueueView{Spec: &kickqv1alpha1.QueueSpec{InlineTargets: kickqv1alpha1.InlineTargetsDeny}}, now: t0,
			want: Result{
				Status: makeStatus().Ready(t0).Phase(kickqv1alpha1.PhaseBlocked).Message(denied).
					Blocked(kickqv1alpha1.ReasonInlineTargetDenied, denied).Obj(),
				Events: []Event{warning(kickqv1alpha1.ReasonInlineTargetDenied, denied)},
			},
		},
		{
			name: "queue missing and dependencies pending: the queue is the block, the counts recorded",
			job:  makeJob().Queue("q").After("a", "b").Obj(), queue: missingQueue, deps: pending, now: t0,
			want: Result{
				Status: makeStatus().Ready(t0).Deps(halfDone).Phase(kickqv1alpha1.PhaseBlocked).Message(queueMissing).
					Blocked(kickqv1alpha1.ReasonQueueNotFound, queueMissing).Obj(),
				Events: []Event{warning(kickqv1alpha1.ReasonQueueNotFound, queueMissing)},
			},
		},

		// Suspension.
		{
			name: "suspended: Pending with the Suspended condition, with an Event",
			job:  makeJob().Suspend().Obj(), now: t0,
			want: Result{
				Status: makeStatus().Ready(t0).Phase(kickqv1alpha1.PhasePending).Message("suspended by spec.suspend").Suspended().Obj(),
				Target: inlinePod(),
				Events: []Event{normal(kickqv1alpha1.EventReasonSuspended, "spec.suspend holds the job before its next attempt")},
			},
		},
		{
			name: "still suspended: no second Event",
			job: makeJob().Suspend().Status(makeStatus().Ready(t0).Phase(kickqv1alpha1.PhasePending).
				Message("suspended by spec.suspend").Suspended()).Obj(), now: at(60),
			want: Result{
				Status: makeStatus().Ready(t0).Phase(kickqv1alpha1.PhasePending).Message("suspended by spec.suspend").Suspended().Obj(),
				Target: inlinePod(),
			},
		},
		{
			name: "suspended while blocked by a limit: the Blocked condition turns False",
			job: makeJob().Suspend().Status(makeStatus().Ready(t0).Phase(kickqv1alpha1.PhasePending).Message("rate").
				Blocked(kickqv1alpha1.ReasonRateLimited, "rate")).Obj(), now: at(60),
			want: Result{
				Status: makeStatus().Ready(t0).Phase(kickqv1alpha1.PhasePending).Message("suspended by spec.suspend").
					Blocked(kickqv1alpha1.ReasonRateLimited, "rate").Suspended().Unblocked().Obj(),
				Target: inlinePod(),
				Events: []Event{normal(kickqv1alpha1.EventReasonSuspended, "spec.suspend holds the job before its next attempt")},
			},
		},
		{
			name: "suspended and blocked: Blocked, not Suspended",
			job:  makeJob().Queue("q").Suspend().Obj(), queue: missingQueue, now: t0,
			want: Result{
				Status: makeStatus().Ready(t0).Phase(kickqv1alpha1.PhaseBlocked).Message(queueMissing).
					Blocked(kickqv1alpha1.ReasonQueueNotFound, queueMissing).Obj(),
				Events: []Event{warning(kickqv1alpha1.ReasonQueueNotFound, queueMissing)},
			},
		},
		{
			name: "resumed: the Suspended condition turns False, awaits admission",
			job: makeJob().Status(makeStatus().Ready(t0).Phase(kickqv1alpha1.PhasePending).
				Message("suspended by spec.suspend").Suspended()).Obj(), now: at(60),
			want: Result{
				Status: makeStatus().Ready(t0).Phase(kickqv1alpha1.PhasePending).Message("suspended by spec.suspend").Resumed().Obj(),
				Action: AwaitAdmission, Attempt: 1, Target: inlinePod(),
			},
		},

		// Nothing holds it.
		{
			name: "pull worker target: admitted like any other (workers claim admitted attempts)",
			job:  makeJob().Worker().Obj(), now: t0,
			want: Result{
				Status: makeStatus().Ready(t0).Obj(),
				Action: AwaitAdmission, Attempt: 1,
				Target: attempt.Target{Kind: attempt.KindWorker, Worker: &kickqv1alpha1.WorkerTarget{}},
			},
		},
		{
			name: "previous run still stopping (not settled): Pending until it ended",
			job:  makeJob().Status(retried()).Obj(), unsettled: true, now: at(61),
			want: Result{
				Status: retried().Message("waiting for the run of attempt 1 to end").Obj(),
				Target: inlinePod(),
			},
		},
	})
}

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

// defaultResolved is the policy snapshot of a job that sets nothing, under handler.
func defaultResolved(handler string) *kickqv1alpha1.ResolvedPolicy {
	return &kickqv1alpha1.ResolvedPolicy{Handler: handler, Retry: &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](3),
		Backoff: &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffExponential, BaseSeconds: ptr.To[int32](10),
			Factor: ptr.To[int32](2), MaxSeconds: ptr.To[int32](600), JitterPercent: ptr.To[int32](0)}}}
}

// TestAdmit completes an AwaitAdmission decision with admission's answer (admit.go): the attempt
// starts, recorded in status first or by its side effect (Deferred), or the job waits Pending, Blocked when a limit holds it.
func TestAdmit(t *testing.T) {
	const fail = kickqv1alpha1.OutcomeFail
	admitted := admission.Decision{Admitted: true}
	snapshot := &kickqv1alpha1.ResolvedPolicy{Handler: "inline", Retry: &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](5),
		Backoff: &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffFixed, BaseSeconds: ptr.To[int32](10),
			MaxSeconds: ptr.To[int32](10), JitterPercent: ptr.To[int32](0)}}}
	// afterFailure is what a job whose attempt 1 failed keeps into attempt 2.
	afterFailure := func() *statusWrapper {
		return runningStatus(1, t0).Resolved(snapshot).Ended(1, at(60), fail, "Error", "exit").Exit(1, 1).Failures(1).
			Log(at(60), "attempt 1 failed: exit, retrying in 10s")
	}
	backedOff := afterFailure().Progress(50, "half").Result(`1`).Heartbeat(at(30)).
		Phase(kickqv1alpha1.PhaseDelayed).Next(at(70)).Message("attempt 1 failed: exit; next attempt at 2026-11-23T12:01:10Z")
	rateBlocked := makeStatus().Ready(t0).Phase(kickqv1alpha1.PhasePending).Message("rate").Blocked(kickqv1alpha1.ReasonRateLimited, "rate")
	started := func(n int32, now time.Time) *statusWrapper {
		return makeStatus().Ready(t0).Attempts(n).Phase(kickqv1alpha1.PhaseRunning).Message("attempt " + itoa(n) + " running").Start(now).
			Record(kickqv1alpha1.AttemptRecord{Number: n, StartTime: mtime(now), PodName: "j-" + itoa(n), TargetKind: "Pod", Handler: "inline"})
	}
	emailQueue := &QueueView{Spec: &kickqv1alpha1.QueueSpec{Handlers: []kickqv1alpha1.Handler{{Type: "email",
		HandlerSpec: kickqv1alpha1.HandlerSpec{Pod: podTemplate(), JobPolicies: kickqv1alpha1.JobPolicies{
			Retry: &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](1)}, AttemptDeadlineSeconds: ptr.To[int32](45)}}}}}}
	rateQueue := &QueueView{Spec: &kickqv1alpha1.QueueSpec{RateLimit: &kickqv1alpha1.RateLimit{Limit: 5, PeriodSeconds: 60}}}
	emailResolved := defaultResolved("email")
	emailResolved.Retry.Limit, emailResolved.AttemptDeadlineSeconds = ptr.To[int32](1), ptr.To[int32](45)
	deadlineResolved := defaultResolved("inline")
	deadlineResolved.AttemptDeadlineSeconds = ptr.To[int32](30)

	for _, tc := range []struct {
		name     string
		job      *kickqv1alpha1.QueueJob
		queue    *QueueView // nil: implicit
		now      time.Time
		decision admission.Decision
		want     Result
	}{
		{
			name: "first attempt admitted: Running, pod j-1, policy snapshot, a log line and no Event",
			job:  makeJob().Obj(), now: at(1), decision: admitted,
			want: Result{
				Status: started(1, at(1)).Resolved(defaultResolved("inline")).Log(at(1), "attempt 1 started: pod j-1").Obj(),
				Action: Start, Attempt: 1, Target: inlinePod(), Deferred: true, RequeueAt: at(2),
			},
		},
		{
			name: "first attempt admitted with an attempt deadline: look again when it is due",
			job:  makeJob().AttemptDeadline(30).Obj(), now: at(1), decision: admitted,
			want: Result{
				Status: started(1, at(1)).Resolved(deadlineResolved).Log(at(1), "attempt 1 started: pod j-1").Obj(),
				Action: Start, Attempt: 1, Target: withDeadline(inlinePod(), 30), Deferred: true, RequeueAt: at(2),
			},
		},
		{
			name: "webhook attempt admitted: no pod name",
			job:  makeJob().Webhook("https://run.example/j").Obj(), now: at(1), decision: admitted,
			want: Result{
				Status: started(1, at(1)).Record(kickqv1alpha1.AttemptRecord{Number: 1, StartTime: mtime(at(1)), TargetKind: "Webhook", Handler: "inline"}).
					Resolved(defaultResolved("inline")).Log(at(1), "attempt 1 started").Obj(),
				Action: Start, Attempt: 1, Deferred: true, RequeueAt: at(2),
				Target: attempt.Target{Kind: attempt.KindWebhook, Webhook: &kickqv1alpha1.WebhookTarget{URL: "https://run.example/j"}},
			},
		},
		{
			name: "webhook attempt admitted under a rate limit: recorded before the call is sent",
			job:  makeJob().Webhook("https://run.example/j").Obj(), queue: rateQueue, now: at(1), decision: admitted,
			want: Result{
				Status: started(1, at(1)).Record(kickqv1alpha1.AttemptRecord{Number: 1, StartTime: mtime(at(1)), TargetKind: "Webhook", Handler: "inline"}).
					Resolved(defaultResolved("inline")).Log(at(1), "attempt 1 started").Obj(),
				Action: Start, Attempt: 1,
				Target: attempt.Target{Kind: attempt.KindWebhook, Webhook: &kickqv1alpha1.WebhookTarget{URL: "https://run.example/j"}},
			},
		},
		{
			name: "admitted under a queue handler: the snapshot names it and holds its policy",
			job:  makeJob().NoTarget().Type("email").Obj(), queue: emailQueue, now: at(1), decision: admitted,
			want: Result{
				Status: started(1, at(1)).Record(kickqv1alpha1.AttemptRecord{Number: 1, StartTime: mtime(at(1)), PodName: "j-1", TargetKind: "Pod", Handler: "email"}).
					Resolved(emailResolved).Log(at(1), "attempt 1 started: pod j-1").Obj(),
				Action: Start, Attempt: 1, Handler: "email", Deferred: true, RequeueAt: at(2),
				Target: attempt.Target{Kind: attempt.KindPod, Handler: "email", Pod: podTemplate(), AttemptDeadlineSeconds: ptr.To[int32](45)},
			},
		},
		{
			name: "second attempt admitted: a Started Event; first start and snapshot kept; attempt 1's progress, result and heartbeat cleared",
			job:  makeJob().Status(backedOff).Obj(), now: at(70), decision: admitted,
			want: Result{
				Status: afterFailure().Attempts(2).Message("attempt 2 running").
					Record(kickqv1alpha1.AttemptRecord{Number: 2, StartTime: mtime(at(70)), PodName: "j-2", TargetKind: "Pod", Handler: "inline"}).
					Log(at(70), "attempt 2 started: pod j-2").Obj(),
				Action: Start, Attempt: 2, Target: inlinePod(), Deferred: true, RequeueAt: at(71),
				Events: []Event{normal(kickqv1alpha1.EventReasonStarted, "attempt 2 started")},
			},
		},
		{
			name: "admitted after a limit held it: the Blocked condition turns False",
			job:  makeJob().Status(rateBlocked).Obj(), now: at(60), decision: admitted,
			want: Result{
				Status: started(1, at(60)).Blocked(kickqv1alpha1.ReasonRateLimited, "rate").Unblocked().
					Resolved(defaultResolved("inline")).Log(at(60), "attempt 1 started: pod j-1").Obj(),
				Action: Start, Attempt: 1, Target: inlinePod(), Deferred: true, RequeueAt: at(61),
			},
		},
		{
			name: "refused, queue Paused: Pending and Blocked Paused",
			job:  makeJob().Obj(), now: at(1),
			decision: admission.Decision{Reason: admission.ReasonPaused, Message: "queue default is paused"},
			want: Result{
				Status: makeStatus().Ready(t0).Phase(kickqv1alpha1.PhasePending).Message("queue default is paused").
					Blocked(kickqv1alpha1.ReasonPaused, "queue default is paused").Obj(),
				Attempt: 1, Target: inlinePod(),
			},
		},
		{
			name: "refused, ConcurrencyLimited: Pending and Blocked ConcurrencyLimited",
			job:  makeJob().Obj(), now: at(1),
			decision: admission.Decision{Reason: admission.ReasonConcurrency, Message: "2 of 2 running"},
			want: Result{
				Status: makeStatus().Ready(t0).Phase(kickqv1alpha1.PhasePending).Message("2 of 2 running").
					Blocked(kickqv1alpha1.ReasonConcurrencyLimited, "2 of 2 running").Obj(),
				Attempt: 1, Target: inlinePod(),
			},
		},
		{
			name: "refused, RateLimited: Pending, Blocked RateLimited, look again when a slot opens",
			job:  makeJob().Obj(), now: at(1),
			decision: admission.Decision{Reason: admission.ReasonRate, RetryAt: at(60), Message: "rate"},
			want: Result{
				Status: makeStatus().Ready(t0).Phase(kickqv1alpha1.PhasePending).Message("rate").
					Blocked(kickqv1alpha1.ReasonRateLimited, "rate").Obj(),
				Attempt: 1, Target: inlinePod(), RequeueAt: at(60),
			},
		},
		{
			name: "refused after a backoff, ConcurrencyLimited: Pending, no next attempt time",
			job:  makeJob().Status(backedOff).Obj(), now: at(70),
			decision: admission.Decision{Reason: admission.ReasonConcurrency, Message: "2 of 2 running"},
			want: Result{
				Status: afterFailure().Progress(50, "half").Result(`1`).Heartbeat(at(30)).
					Phase(kickqv1alpha1.PhasePending).Message("2 of 2 running").
					Blocked(kickqv1alpha1.ReasonConcurrencyLimited, "2 of 2 running").Obj(),
				Attempt: 2, Target: inlinePod(),
			},
		},
		{
			name: "refused, Queued behind other jobs: Pending, not blocked (a previous block turns False)",
			job:  makeJob().Status(rateBlocked).Obj(), now: at(60),
			decision: admission.Decision{Reason: admission.ReasonQueued, Message: "3 jobs come first"},
			want: Result{
				Status: makeStatus().Ready(t0).Phase(kickqv1alpha1.PhasePending).Message("3 jobs come first").
					Blocked(kickqv1alpha1.ReasonRateLimited, "rate").Unblocked().Obj(),
				Attempt: 1, Target: inlinePod(),
			},
		},
		{
			name: "refused, Queued without a message: Pending, waiting for its turn",
			job:  makeJob().Obj(), now: at(1),
			decision: admission.Decision{Reason: admission.ReasonQueued},
			want: Result{
				Status:  makeStatus().Ready(t0).Phase(kickqv1alpha1.PhasePending).Message("waiting for its turn in the queue").Obj(),
				Attempt: 1, Target: inlinePod(),
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := decideCase{job: tc.job, queue: tc.queue, now: tc.now}.input()
			res := Decide(in)
			if res.Action != AwaitAdmission {
				t.Fatalf("Decide: action %q, want %q (status %+v)", res.Action, AwaitAdmission, res.Status)
			}
			diffResult(t, tc.want, Admit(res, in, tc.decision))
		})
	}
}

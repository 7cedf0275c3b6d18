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
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/outcome"
)

// finishedWith is attempt n's run as its executor saw it end, without a pod to classify.
func finishedWith(n int32, o kickqv1alpha1.Outcome, code int32, msg string) attempt.Observation {
	return attempt.Observation{Phase: attempt.Finished, Name: "j-" + itoa(n),
		Result: outcome.Result{Outcome: o, ExitCode: ptr.To(code), Reason: "Error", Message: msg}}
}

// TestDecideRetry ends a running attempt and applies the retry policy (retry.go): success, Die,
// uncounted Retry (with and without RetryAfter), counted failures with their backoff, and
// exhausted retries. Backoffs have no jitter, so every time is exact.
func TestDecideRetry(t *testing.T) {
	const (
		succeed = kickqv1alpha1.OutcomeSucceed
		fail    = kickqv1alpha1.OutcomeFail
		die     = kickqv1alpha1.OutcomeDie
		retry   = kickqv1alpha1.OutcomeRetry
	)
	noJitter := func(typ kickqv1alpha1.BackoffType, base, factor, maxSeconds int32) kickqv1alpha1.Backoff {
		return kickqv1alpha1.Backoff{Type: typ, BaseSeconds: ptr.To(base), Factor: ptr.To(factor),
			MaxSeconds: ptr.To(maxSeconds), JitterPercent: ptr.To[int32](0)}
	}
	webhook := attempt.Target{Kind: attempt.KindWebhook, Webhook: &kickqv1alpha1.WebhookTarget{URL: "https://run.example/j"}}
	webhookRunning := func() *statusWrapper {
		return runningStatus(1, t0).Record(kickqv1alpha1.AttemptRecord{Number: 1, StartTime: mtime(t0)})
	}
	long := strings.Repeat("x", 600)

	runDecide(t, []decideCase{
		{
			name: "Succeed: Succeeded, the run's result wins over a reported one",
			job:  makeJob().Status(runningStatus(1, t0).Result(`{"v":1}`)).Obj(), now: at(60),
			obs: attempt.Observation{Phase: attempt.Finished, Name: "j-1", Result: outcome.Result{Outcome: succeed, ExitCode: ptr.To[int32](0),
				Reason: "Completed", Message: "exit code 0 (container main)", Result: &apiextensionsv1.JSON{Raw: []byte(`{"v":2}`)}}},
			want: Result{
				Status: runningStatus(1, t0).Result(`{"v":2}`).
					Ended(1, at(60), succeed, "Completed", "exit code 0 (container main)").Exit(1, 0).
					Log(at(60), "attempt 1 succeeded").JobSucceeded(at(60), "attempt 1 succeeded").Obj(),
				Target: inlinePod(),
			},
		},
		{
			name: "Succeed without a result: the reported result stays",
			job:  makeJob().Status(runningStatus(1, t0).Result(`{"v":1}`)).Obj(), now: at(60),
			obs: finishedWith(1, succeed, 0, "exit code 0 (container main)"),
			want: Result{
				Status: runningStatus(1, t0).Result(`{"v":1}`).
					Ended(1, at(60), succeed, "Error", "exit code 0 (container main)").Exit(1, 0).
					Log(at(60), "attempt 1 succeeded").JobSucceeded(at(60), "attempt 1 succeeded").Obj(),
				Target: inlinePod(),
			},
		},
		{
			name: "Die: Failed Died at once, although retries remain",
			job:  makeJob().Status(runningStatus(1, t0)).Obj(), now: at(60),
			obs: finishedWith(1, die, 2, "exit 2"),
			want: Result{
				Status: runningStatus(1, t0).Ended(1, at(60), die, "Error", "exit 2").Exit(1, 2).
					Log(at(60), "attempt 1 died: exit 2").JobFailed(at(60), kickqv1alpha1.ReasonDied, "exit 2").Obj(),
				Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonDied, "exit 2")},
			},
		},
		{
			name: "Retry without RetryAfter: not counted, but Delayed 1 s (uncounted retries back off too)",
			job:  makeJob().Status(runningStatus(2, at(20)).Failures(1)).Obj(), now: at(60),
			obs: finishedWith(2, retry, 75, "exit 75"),
			want: Result{
				Status: runningStatus(2, at(20)).Failures(1).Immediate(1).Ended(2, at(60), retry, "Error", "exit 75").Exit(2, 75).
					Log(at(60), "attempt 2: exit 75; retrying in 1s without counting").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(61)).Ready(at(61)).
					Message("attempt 2: exit 75; next attempt at 2026-11-23T12:01:01Z").Obj(),
				Target: inlinePod(), RequeueAt: at(61),
				Events: []Event{normal(kickqv1alpha1.EventReasonRetrying, "attempt 2: exit 75; retrying in 1s without counting")},
			},
		},
		{
			name: "the fourth retry asked for at once in a row waits 8 s",
			job:  makeJob().Status(runningStatus(4, at(20)).Immediate(3)).Obj(), now: at(60),
			obs: finishedWith(4, retry, 75, "exit 75"),
			want: Result{
				Status: runningStatus(4, at(20)).Immediate(4).Ended(4, at(60), retry, "Error", "exit 75").Exit(4, 75).
					Log(at(60), "attempt 4: exit 75; retrying in 8s without counting").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(68)).Ready(at(68)).
					Message("attempt 4: exit 75; next attempt at 2026-11-23T12:01:08Z").Obj(),
				Target: inlinePod(), RequeueAt: at(68),
				Events: []Event{normal(kickqv1alpha1.EventReasonRetrying, "attempt 4: exit 75; retrying in 8s without counting")},
			},
		},
		{
			name: "past MaxImmediateRetries in a row, a retry asked for at once counts as a failure",
			job:  makeJob().RetryLimit(3).Backoff(noJitter(kickqv1alpha1.BackoffFixed, 10, 1, 600)).Status(runningStatus(6, at(20)).Immediate(MaxImmediateRetries)).Obj(), now: at(60),
			obs: finishedWith(6, retry, 75, "exit 75"),
			want: Result{
				Status: runningStatus(6, at(20)).Immediate(MaxImmediateRetries+1).Failures(1).Ended(6, at(60), retry, "Error", "exit 75").Exit(6, 75).
					Log(at(60), "attempt 6 failed: exit 75 (retry asked for at once 6 times in a row: counted past 5), retrying in 10s").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(70)).
					Message("attempt 6 failed: exit 75 (retry asked for at once 6 times in a row: counted past 5); next attempt at 2026-11-23T12:01:10Z").Obj(),
				Target: inlinePod(), RequeueAt: at(70),
				Events: []Event{warning(kickqv1alpha1.EventReasonAttemptFailed, "attempt 6 failed: exit 75 (retry asked for at once 6 times in a row: counted past 5); retrying in 10s")},
			},
		},
		{
			name: "any other end of an attempt resets the streak of retries asked for at once",
			job:  makeJob().RetryLimit(3).Backoff(noJitter(kickqv1alpha1.BackoffFixed, 10, 1, 600)).Status(runningStatus(3, at(20)).Immediate(4)).Obj(), now: at(60),
			obs: finishedWith(3, kickqv1alpha1.OutcomeFail, 1, "exit 1"),
			want: Result{
				Status: runningStatus(3, at(20)).Failures(1).Ended(3, at(60), kickqv1alpha1.OutcomeFail, "Error", "exit 1").Exit(3, 1).
					Log(at(60), "attempt 3 failed: exit 1, retrying in 10s").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(70)).
					Message("attempt 3 failed: exit 1; next attempt at 2026-11-23T12:01:10Z").Obj(),
				Target: inlinePod(), RequeueAt: at(70),
				Events: []Event{warning(kickqv1alpha1.EventReasonAttemptFailed, "attempt 3 failed: exit 1; retrying in 10s")},
			},
		},
		{
			name: "Retry with RetryAfter (503 Retry-After): Delayed and ready then, not counted, status code recorded",
			job:  makeJob().Webhook("https://run.example/j").Status(webhookRunning()).Obj(), now: at(60),
			obs: attempt.Observation{Phase: attempt.Finished, Result: outcome.Result{Outcome: retry, HTTPStatusCode: ptr.To[int32](503),
				Reason: "ServiceUnavailable", Message: "503 Service Unavailable", RetryAfter: 45 * time.Second}},
			want: Result{
				Status: webhookRunning().HTTP(1, 503, "", "").
					Ended(1, at(60), retry, "ServiceUnavailable", "503 Service Unavailable").
					Log(at(60), "attempt 1: 503 Service Unavailable; retrying in 45s without counting").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(105)).Ready(at(105)).
					Message("attempt 1: 503 Service Unavailable; next attempt at 2026-11-23T12:01:45Z").Obj(),
				Target: webhook, RequeueAt: at(105),
				Events: []Event{normal(kickqv1alpha1.EventReasonRetrying, "attempt 1: 503 Service Unavailable; retrying in 45s without counting")},
			},
		},
		{
			name: "counted failure: Delayed by the default backoff (10 s)",
			job:  makeJob().Status(runningStatus(1, t0)).Obj(), now: at(60),
			obs: finishedWith(1, fail, 1, "exit"),
			want: Result{
				Status: runningStatus(1, t0).Ended(1, at(60), fail, "Error", "exit").Exit(1, 1).Failures(1).
					Log(at(60), "attempt 1 failed: exit, retrying in 10s").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(70)).Message("attempt 1 failed: exit; next attempt at 2026-11-23T12:01:10Z").Obj(),
				Target: inlinePod(), RequeueAt: at(70),
				Events: []Event{warning(kickqv1alpha1.EventReasonAttemptFailed, "attempt 1 failed: exit; retrying in 10s")},
			},
		},
		{
			name: "third counted failure, Exponential base 5 factor 3: waits 5·3² = 45 s",
			job: makeJob().Backoff(noJitter(kickqv1alpha1.BackoffExponential, 5, 3, 600)).
				Status(runningStatus(3, at(100)).Failures(2)).Obj(), now: at(160),
			obs: finishedWith(3, fail, 1, "exit"),
			want: Result{
				Status: runningStatus(3, at(100)).Ended(3, at(160), fail, "Error", "exit").Exit(3, 1).Failures(3).
					Log(at(160), "attempt 3 failed: exit, retrying in 45s").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(205)).Message("attempt 3 failed: exit; next attempt at 2026-11-23T12:03:25Z").Obj(),
				Target: inlinePod(), RequeueAt: at(205),
				Events: []Event{warning(kickqv1alpha1.EventReasonAttemptFailed, "attempt 3 failed: exit; retrying in 45s")},
			},
		},
		{
			name: "fourth counted failure, Exponential base 10 factor 2: 80 s capped at maxSeconds 30",
			job: makeJob().RetryLimit(5).Backoff(noJitter(kickqv1alpha1.BackoffExponential, 10, 2, 30)).
				Status(runningStatus(4, at(100)).Failures(3)).Obj(), now: at(200),
			obs: finishedWith(4, fail, 1, "exit"),
			want: Result{
				Status: runningStatus(4, at(100)).Ended(4, at(200), fail, "Error", "exit").Exit(4, 1).Failures(4).
					Log(at(200), "attempt 4 failed: exit, retrying in 30s").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(230)).Message("attempt 4 failed: exit; next attempt at 2026-11-23T12:03:50Z").Obj(),
				Target: inlinePod(), RequeueAt: at(230),
				Events: []Event{warning(kickqv1alpha1.EventReasonAttemptFailed, "attempt 4 failed: exit; retrying in 30s")},
			},
		},
		{
			name: "second counted failure, Linear base 7: waits 7·2 = 14 s",
			job: makeJob().Backoff(noJitter(kickqv1alpha1.BackoffLinear, 7, 1, 600)).
				Status(runningStatus(2, at(50)).Failures(1)).Obj(), now: at(100),
			obs: finishedWith(2, fail, 1, "exit"),
			want: Result{
				Status: runningStatus(2, at(50)).Ended(2, at(100), fail, "Error", "exit").Exit(2, 1).Failures(2).
					Log(at(100), "attempt 2 failed: exit, retrying in 14s").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(114)).Message("attempt 2 failed: exit; next attempt at 2026-11-23T12:01:54Z").Obj(),
				Target: inlinePod(), RequeueAt: at(114),
				Events: []Event{warning(kickqv1alpha1.EventReasonAttemptFailed, "attempt 2 failed: exit; retrying in 14s")},
			},
		},
		{
			name: "third counted failure, Fixed base 20: waits 20 s",
			job: makeJob().Backoff(noJitter(kickqv1alpha1.BackoffFixed, 20, 1, 600)).
				Status(runningStatus(3, at(50)).Failures(2)).Obj(), now: at(100),
			obs: finishedWith(3, fail, 1, "exit"),
			want: Result{
				Status: runningStatus(3, at(50)).Ended(3, at(100), fail, "Error", "exit").Exit(3, 1).Failures(3).
					Log(at(100), "attempt 3 failed: exit, retrying in 20s").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(120)).Message("attempt 3 failed: exit; next attempt at 2026-11-23T12:02:00Z").Obj(),
				Target: inlinePod(), RequeueAt: at(120),
				Events: []Event{warning(kickqv1alpha1.EventReasonAttemptFailed, "attempt 3 failed: exit; retrying in 20s")},
			},
		},
		{
			name: "fourth counted failure beyond the default retry.limit 3: Failed RetriesExhausted",
			job:  makeJob().Status(runningStatus(4, at(100)).Failures(3)).Obj(), now: at(200),
			obs: finishedWith(4, fail, 1, "exit"),
			want: Result{
				Status: runningStatus(4, at(100)).Ended(4, at(200), fail, "Error", "exit").Exit(4, 1).Failures(4).
					Log(at(200), "attempt 4 failed: exit; no retries left").
					JobFailed(at(200), kickqv1alpha1.ReasonRetriesExhausted, "attempt 4 failed (exit); 4 counted failures exceed retry.limit 3").Obj(),
				Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonRetriesExhausted, "attempt 4 failed (exit); 4 counted failures exceed retry.limit 3")},
			},
		},
		{
			name: "retry.limit 0: the first counted failure ends the job",
			job:  makeJob().RetryLimit(0).Status(runningStatus(1, t0)).Obj(), now: at(60),
			obs: finishedWith(1, fail, 1, "exit"),
			want: Result{
				Status: runningStatus(1, t0).Ended(1, at(60), fail, "Error", "exit").Exit(1, 1).Failures(1).
					Log(at(60), "attempt 1 failed: exit; no retries left").
					JobFailed(at(60), kickqv1alpha1.ReasonRetriesExhausted, "attempt 1 failed (exit); 1 counted failures exceed retry.limit 0").Obj(),
				Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonRetriesExhausted, "attempt 1 failed (exit); 1 counted failures exceed retry.limit 0")},
			},
		},
		{
			name: "counted failure with a long message: status.message quotes its first 512 bytes",
			job:  makeJob().Status(runningStatus(1, t0)).Obj(), now: at(60),
			obs: finishedWith(1, fail, 1, long),
			want: Result{
				Status: runningStatus(1, t0).Ended(1, at(60), fail, "Error", long).Exit(1, 1).Failures(1).
					Log(at(60), "attempt 1 failed: "+long+", retrying in 10s").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(70)).
					Message("attempt 1 failed: " + strings.Repeat("x", 509) + "…; next attempt at 2026-11-23T12:01:10Z").Obj(),
				Target: inlinePod(), RequeueAt: at(70),
				Events: []Event{warning(kickqv1alpha1.EventReasonAttemptFailed, "attempt 1 failed: "+long+"; retrying in 10s")},
			},
		},
		{
			name: "webhook answer without a status code: the accepted 202 stays in the record",
			job: makeJob().Webhook("https://run.example/j").
				Status(webhookRunning().HTTP(1, 202, "Accepted", "202 Accepted")).Obj(), now: at(60),
			obs: attempt.Observation{Phase: attempt.Finished, Result: outcome.Result{Outcome: fail, Reason: "Timeout", Message: "no report in time"}},
			want: Result{
				Status: webhookRunning().HTTP(1, 202, "", "").Ended(1, at(60), fail, "Timeout", "no report in time").Failures(1).
					Log(at(60), "attempt 1 failed: no report in time, retrying in 10s").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(70)).Message("attempt 1 failed: no report in time; next attempt at 2026-11-23T12:01:10Z").Obj(),
				Target: webhook, RequeueAt: at(70),
				Events: []Event{warning(kickqv1alpha1.EventReasonAttemptFailed, "attempt 1 failed: no report in time; retrying in 10s")},
			},
		},
	})
}

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

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/outcome"
)

// TestDecideRunning follows a running attempt: what it reported, what its executor observed, and
// its deadlines (running.go).
func TestDecideRunning(t *testing.T) {
	const (
		succeed = kickqv1alpha1.OutcomeSucceed
		fail    = kickqv1alpha1.OutcomeFail
		die     = kickqv1alpha1.OutcomeDie
		retry   = kickqv1alpha1.OutcomeRetry
	)
	run1 := makeJob().Status(runningStatus(1, t0))
	podRunning := attempt.Observation{Phase: attempt.Running, Name: "j-1"}
	webhookTarget := attempt.Target{Kind: attempt.KindWebhook, Webhook: &kickqv1alpha1.WebhookTarget{URL: "https://run.example/j"}}
	webhookRunning := runningStatus(1, t0).Record(kickqv1alpha1.AttemptRecord{Number: 1, StartTime: mtime(t0)})
	rule := func(action kickqv1alpha1.RetryAction, code int32) kickqv1alpha1.RetryRule {
		return kickqv1alpha1.RetryRule{Action: action, OnExitCodes: &kickqv1alpha1.ExitCodesMatcher{
			Operator: kickqv1alpha1.ExitCodeOperatorIn, Values: []int32{code}}}
	}
	disruption := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: "PreemptionByScheduler", Message: "preempted"}
	// counted is how a counted first failure at now looks: the default backoff waits 10 s.
	counted := func(now time.Time, reason, msg, next string) *statusWrapper {
		return runningStatus(1, t0).Ended(1, now, fail, reason, msg).Failures(1).
			Log(now, "attempt 1 failed: "+msg+", retrying in 10s").
			Phase(kickqv1alpha1.PhaseDelayed).Next(now.Add(10 * time.Second)).
			Message("attempt 1 failed: " + msg + "; next attempt at " + next)
	}
	countedEvent := func(msg string) Event {
		return warning(kickqv1alpha1.EventReasonAttemptFailed, "attempt 1 failed: "+msg+"; retrying in 10s")
	}

	runDecide(t, []decideCase{
		// Reported outcomes (report API).
		{
			name: "reported Succeed while the pod runs: Succeeded with the reported data, run stopped",
			job:  run1.Obj(), obs: podRunning, now: at(60),
			report: &attempt.Pending{Attempt: 1, Outcome: succeed, Heartbeat: at(50),
				Progress: &kickqv1alpha1.Progress{Percent: 100, Message: "done"},
				Logs:     []kickqv1alpha1.LogEntry{{Time: *mtime(at(50)), Message: "all done"}},
				Result:   &apiextensionsv1.JSON{Raw: []byte(`{"n":1}`)}},
			want: Result{
				Status: runningStatus(1, t0).Progress(100, "done").Log(at(50), "all done").Heartbeat(at(50)).Result(`{"n":1}`).
					Ended(1, at(60), succeed, kickqv1alpha1.AttemptReasonReported, "attempt 1 reported Succeed").
					Log(at(60), "attempt 1 succeeded").JobSucceeded(at(60), "attempt 1 succeeded").Obj(),
				Action: Stop, Attempt: 1, Target: inlinePod(),
			},
		},
		{
			name: "reported Fail while the pod runs: counted failure, backoff, run stopped",
			job:  run1.Obj(), obs: podRunning, now: at(60),
			report: &attempt.Pending{Attempt: 1, Outcome: fail, Message: "boom"},
			want: Result{
				Status: counted(at(60), kickqv1alpha1.AttemptReasonReported, "attempt 1 reported Fail: boom", "2026-11-23T12:01:10Z").Obj(),
				Action: Stop, Attempt: 1, Target: inlinePod(), RequeueAt: at(70),
				Events: []Event{countedEvent("attempt 1 reported Fail: boom")},
			},
		},
		{
			name: "reported Die after the pod is gone: Failed Died, nothing to stop",
			job:  run1.Obj(), obs: attempt.Observation{Phase: attempt.Missing, Name: "j-1"}, now: at(60),
			report: &attempt.Pending{Attempt: 1, Outcome: die, Message: "bad input"},
			want: Result{
				Status: runningStatus(1, t0).
					Ended(1, at(60), die, kickqv1alpha1.AttemptReasonReported, "attempt 1 reported Die: bad input").
					Log(at(60), "attempt 1 died: attempt 1 reported Die: bad input").
					JobFailed(at(60), kickqv1alpha1.ReasonDied, "attempt 1 reported Die: bad input").Obj(),
				Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonDied, "attempt 1 reported Die: bad input")},
			},
		},
		{
			name: "reported Retry while the pod runs: uncounted, Delayed 1 s, run stopped",
			job:  run1.Obj(), obs: podRunning, now: at(60),
			report: &attempt.Pending{Attempt: 1, Outcome: retry},
			want: Result{
				Status: runningStatus(1, t0).Immediate(1).
					Ended(1, at(60), retry, kickqv1alpha1.AttemptReasonReported, "attempt 1 reported Retry").
					Log(at(60), "attempt 1: attempt 1 reported Retry; retrying in 1s without counting").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(61)).Ready(at(61)).
					Message("attempt 1: attempt 1 reported Retry; next attempt at 2026-11-23T12:01:01Z").Obj(),
				Action: Stop, Attempt: 1, Target: inlinePod(), RequeueAt: at(61),
				Events: []Event{normal(kickqv1alpha1.EventReasonRetrying, "attempt 1: attempt 1 reported Retry; retrying in 1s without counting")},
			},
		},
		{
			name: "reported Retry with RetryAfter while the pod runs: uncounted, Delayed until then, run stopped",
			job:  run1.Obj(), obs: podRunning, now: at(60),
			report: &attempt.Pending{Attempt: 1, Outcome: retry, RetryAfter: 30 * time.Second},
			want: Result{
				Status: runningStatus(1, t0).
					Ended(1, at(60), retry, kickqv1alpha1.AttemptReasonReported, "attempt 1 reported Retry").
					Log(at(60), "attempt 1: attempt 1 reported Retry; retrying in 30s without counting").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(90)).Ready(at(90)).
					Message("attempt 1: attempt 1 reported Retry; next attempt at 2026-11-23T12:01:30Z").Obj(),
				Action: Stop, Attempt: 1, Target: inlinePod(), RequeueAt: at(90),
				Events: []Event{normal(kickqv1alpha1.EventReasonRetrying, "attempt 1: attempt 1 reported Retry; retrying in 30s without counting")},
			},
		},
		{
			name: "report without an outcome: progress, logs, dropped count, heartbeat and result recorded; the attempt goes on",
			job:  run1.Obj(), obs: podRunning, now: at(60),
			report: &attempt.Pending{Attempt: 1, Heartbeat: at(55), LogsDropped: 2,
				Progress: &kickqv1alpha1.Progress{Percent: 40, Message: "4/10"},
				Logs:     []kickqv1alpha1.LogEntry{{Time: *mtime(at(55)), Message: "page 4"}},
				Result:   &apiextensionsv1.JSON{Raw: []byte(`"partial"`)}},
			want: Result{
				Status: runningStatus(1, t0).Progress(40, "4/10").Log(at(55), "page 4").Dropped(2).Heartbeat(at(55)).Result(`"partial"`).Obj(),
				Target: inlinePod(),
			},
		},
		{
			name: "report of an earlier attempt: ignored",
			job:  makeJob().Status(runningStatus(2, at(30))).Obj(), obs: attempt.Observation{Phase: attempt.Running, Name: "j-2"}, now: at(60),
			report: &attempt.Pending{Attempt: 1, Outcome: succeed, Heartbeat: at(59)},
			want:   Result{Status: runningStatus(2, at(30)).Obj(), Target: inlinePod()},
		},

		// A webhook receiver's acceptance.
		{
			name: "webhook accepted (202): recorded, waiting for the report",
			job:  makeJob().Webhook("https://run.example/j").Status(webhookRunning).Obj(), now: at(1),
			obs: attempt.Observation{Phase: attempt.Running, Accepted: true,
				Result: outcome.Result{HTTPStatusCode: ptr.To[int32](202), Reason: "Accepted", Message: "202 Accepted"}},
			want: Result{
				Status: runningStatus(1, t0).Record(kickqv1alpha1.AttemptRecord{Number: 1, StartTime: mtime(t0)}).
					HTTP(1, 202, "Accepted", "202 Accepted").Message("attempt 1 accepted by the receiver; waiting for its report").Obj(),
				Target: webhookTarget,
			},
		},
		{
			name: "webhook accepted, already recorded: recorded once",
			job: makeJob().Webhook("https://run.example/j").Status(runningStatus(1, t0).
				Record(kickqv1alpha1.AttemptRecord{Number: 1, StartTime: mtime(t0)}).HTTP(1, 202, "Accepted", "202 Accepted").
				Message("attempt 1 accepted by the receiver; waiting for its report")).Obj(),
			now: at(5),
			obs: attempt.Observation{Phase: attempt.Running, Accepted: true,
				Result: outcome.Result{HTTPStatusCode: ptr.To[int32](202), Reason: "Accepted", Message: "202 again"}},
			want: Result{
				Status: runningStatus(1, t0).Record(kickqv1alpha1.AttemptRecord{Number: 1, StartTime: mtime(t0)}).
					HTTP(1, 202, "Accepted", "202 Accepted").Message("attempt 1 accepted by the receiver; waiting for its report").Obj(),
				Target: webhookTarget,
			},
		},

		// What the executor observed.
		{
			name: "pod running, no deadlines: nothing to do",
			job:  run1.Obj(), obs: podRunning, now: at(60),
			want: Result{Status: runningStatus(1, t0).Obj(), Target: inlinePod()},
		},
		{
			name: "pod lost: counted failure PodLost",
			job:  run1.Obj(), obs: attempt.Observation{Phase: attempt.Missing, Name: "j-1", Lost: true}, now: at(60),
			want: Result{
				Status: counted(at(60), kickqv1alpha1.AttemptReasonPodLost, "attempt 1 failed: its pod j-1 disappeared", "2026-11-23T12:01:10Z").Obj(),
				Target: inlinePod(), RequeueAt: at(70),
				Events: []Event{countedEvent("attempt 1 failed: its pod j-1 disappeared")},
			},
		},
		{
			name: "pod expected but not in the cache yet: look again in 2 s",
			job:  run1.Obj(), obs: attempt.Observation{Phase: attempt.Missing, Name: "j-1", Expected: true}, now: at(1),
			want: Result{Status: runningStatus(1, t0).Obj(), Target: inlinePod(), RequeueAt: at(3)},
		},
		{
			name: "pod recorded as started but never created: start attempt 1 again",
			job:  run1.Obj(), obs: attempt.Observation{Phase: attempt.Missing, Name: "j-1"}, now: t0,
			want: Result{Status: runningStatus(1, t0).Obj(), Action: Start, Attempt: 1, Target: inlinePod()},
		},
		{
			name: "pod never created, the default create deadline just ahead: start attempt 1 again",
			job:  run1.Obj(), obs: attempt.Observation{Phase: attempt.Missing, Name: "j-1"}, now: at(599),
			want: Result{Status: runningStatus(1, t0).Obj(), Action: Start, Attempt: 1, Target: inlinePod()},
		},
		{
			name: "pod never created 10 minutes after the start (startDeadlineSeconds unset): counted failure StartDeadlineExceeded, not started again",
			job:  run1.Obj(), obs: attempt.Observation{Phase: attempt.Missing, Name: "j-1"}, now: at(600),
			want: Result{
				Status: counted(at(600), kickqv1alpha1.AttemptReasonStartDeadlineExceeded,
					"attempt 1's pod j-1 could not be created within 10m0s (the default when pod.startDeadlineSeconds is unset)", "2026-11-23T12:10:10Z").Obj(),
				Target: inlinePod(), RequeueAt: at(610),
				Events: []Event{countedEvent("attempt 1's pod j-1 could not be created within 10m0s (the default when pod.startDeadlineSeconds is unset)")},
			},
		},
		{
			name: "pod never created, startDeadlineSeconds just ahead: start attempt 1 again",
			job:  makeJob().StartDeadline(60).Status(runningStatus(1, t0)).Obj(), obs: attempt.Observation{Phase: attempt.Missing, Name: "j-1"}, now: at(59),
			want: Result{Status: runningStatus(1, t0).Obj(), Action: Start, Attempt: 1, Target: withStartDeadline(inlinePod(), 60)},
		},
		{
			name: "pod never created within startDeadlineSeconds: counted failure StartDeadlineExceeded, not started again",
			job:  makeJob().StartDeadline(60).Status(runningStatus(1, t0)).Obj(), obs: attempt.Observation{Phase: attempt.Missing, Name: "j-1"}, now: at(60),
			want: Result{
				Status: counted(at(60), kickqv1alpha1.AttemptReasonStartDeadlineExceeded,
					"attempt 1's pod j-1 could not be created within startDeadlineSeconds (60s)", "2026-11-23T12:01:10Z").Obj(),
				Target: withStartDeadline(inlinePod(), 60), RequeueAt: at(70),
				Events: []Event{countedEvent("attempt 1's pod j-1 could not be created within startDeadlineSeconds (60s)")},
			},
		},
		{
			name: "pod never created past the deadline but expected (created moments ago): waited for, not failed",
			job:  makeJob().StartDeadline(60).Status(runningStatus(1, t0)).Obj(), obs: attempt.Observation{Phase: attempt.Missing, Name: "j-1", Expected: true}, now: at(61),
			want: Result{Status: runningStatus(1, t0).Obj(), Target: withStartDeadline(inlinePod(), 60), RequeueAt: at(63)},
		},
		{
			name: "pod never created, its handler gone (target unresolved, followed by its pod name): the default create deadline fails it",
			job:  makeJob().NoTarget().Type("thumbs").Status(runningStatus(1, t0)).Obj(), queue: &QueueView{Spec: &kickqv1alpha1.QueueSpec{}},
			obs: attempt.Observation{Phase: attempt.Missing, Name: "j-1"}, now: at(600),
			want: Result{
				Status: counted(at(600), kickqv1alpha1.AttemptReasonStartDeadlineExceeded,
					"attempt 1's pod j-1 could not be created within 10m0s (the default when pod.startDeadlineSeconds is unset)", "2026-11-23T12:10:10Z").Obj(),
				RequeueAt: at(610),
				Events:    []Event{countedEvent("attempt 1's pod j-1 could not be created within 10m0s (the default when pod.startDeadlineSeconds is unset)")},
			},
		},
		{
			name: "webhook call missing long after the start (a restart): called again, no create deadline",
			job:  makeJob().Webhook("https://run.example/j").Status(webhookRunning).Obj(), now: at(3600),
			obs: attempt.Observation{Phase: attempt.Missing, Name: "uid-1-1"},
			want: Result{
				Status: runningStatus(1, t0).Record(kickqv1alpha1.AttemptRecord{Number: 1, StartTime: mtime(t0)}).Obj(),
				Action: Start, Attempt: 1, Target: webhookTarget,
			},
		},
		{
			name: "pod refused as invalid (no pod, the executor's result): Failed Died with the API server's message",
			job:  run1.Obj(), now: at(1),
			obs: attempt.Observation{Phase: attempt.Finished, Name: "j-1", Result: outcome.Result{Outcome: die,
				Reason: kickqv1alpha1.AttemptReasonPodRefused, Message: `the API server refused pod j-1: Pod "j-1" is invalid: spec.containers[0].image: Required value`}},
			want: Result{
				Status: runningStatus(1, t0).
					Ended(1, at(1), die, kickqv1alpha1.AttemptReasonPodRefused, `the API server refused pod j-1: Pod "j-1" is invalid: spec.containers[0].image: Required value`).
					Log(at(1), `attempt 1 died: the API server refused pod j-1: Pod "j-1" is invalid: spec.containers[0].image: Required value`).
					JobFailed(at(1), kickqv1alpha1.ReasonDied, `the API server refused pod j-1: Pod "j-1" is invalid: spec.containers[0].image: Required value`).Obj(),
				Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonDied, `the API server refused pod j-1: Pod "j-1" is invalid: spec.containers[0].image: Required value`)},
			},
		},
		{
			name: "pod refused by a quota: counted failure QuotaExceeded with backoff",
			job:  run1.Obj(), now: at(1),
			obs: attempt.Observation{Phase: attempt.Finished, Name: "j-1", Result: outcome.Result{Outcome: fail,
				Reason: kickqv1alpha1.AttemptReasonQuotaExceeded, Message: `the API server refused pod j-1: pods "j-1" is forbidden: exceeded quota: q`}},
			want: Result{
				Status: counted(at(1), kickqv1alpha1.AttemptReasonQuotaExceeded,
					`the API server refused pod j-1: pods "j-1" is forbidden: exceeded quota: q`, "2026-11-23T12:00:11Z").Obj(),
				Target: inlinePod(), RequeueAt: at(11),
				Events: []Event{countedEvent(`the API server refused pod j-1: pods "j-1" is forbidden: exceeded quota: q`)},
			},
		},
		{
			name: "finished pod matches a Die rule on its exit code: Failed Died (the pod decides, not the observed result)",
			job:  makeJob().Rules(rule(kickqv1alpha1.RetryActionDie, 2)).Status(runningStatus(1, t0)).Obj(), now: at(60),
			obs: attempt.Observation{Phase: attempt.Finished, Name: "j-1", Pod: failedPod(2),
				Result: outcome.Result{Outcome: succeed}},
			want: Result{
				Status: runningStatus(1, t0).
					Ended(1, at(60), die, "Error", "rule 1 (Die on exit codes In [2]) matched: exit code 2 (container main)").Exit(1, 2).
					Log(at(60), "attempt 1 died: rule 1 (Die on exit codes In [2]) matched: exit code 2 (container main)").
					JobFailed(at(60), kickqv1alpha1.ReasonDied, "rule 1 (Die on exit codes In [2]) matched: exit code 2 (container main)").Obj(),
				Target: inlinePod(),
				Events: []Event{warning(kickqv1alpha1.ReasonDied, "rule 1 (Die on exit codes In [2]) matched: exit code 2 (container main)")},
			},
		},
		{
			name: "finished pod matches a Retry rule: uncounted retry",
			job: makeJob().Rules(rule(kickqv1alpha1.RetryActionRetry, 75)).
				Status(runningStatus(1, t0).Failures(1)).Obj(), now: at(60),
			obs: attempt.Observation{Phase: attempt.Finished, Name: "j-1", Pod: failedPod(75)},
			want: Result{
				Status: runningStatus(1, t0).Failures(1).Immediate(1).
					Ended(1, at(60), retry, "Error", "rule 1 (Retry on exit codes In [75]) matched: exit code 75 (container main)").Exit(1, 75).
					Log(at(60), "attempt 1: rule 1 (Retry on exit codes In [75]) matched: exit code 75 (container main); retrying in 1s without counting").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(61)).Ready(at(61)).
					Message("attempt 1: rule 1 (Retry on exit codes In [75]) matched: exit code 75 (container main); next attempt at 2026-11-23T12:01:01Z").Obj(),
				Target: inlinePod(), RequeueAt: at(61),
				Events: []Event{normal(kickqv1alpha1.EventReasonRetrying,
					"attempt 1: rule 1 (Retry on exit codes In [75]) matched: exit code 75 (container main); retrying in 1s without counting")},
			},
		},
		{
			name: "finished pod with DisruptionTarget and no matching rule: uncounted however often, after 1 s",
			job:  makeJob().Rules(rule(kickqv1alpha1.RetryActionDie, 2)).Status(runningStatus(1, t0)).Obj(), now: at(60),
			obs: attempt.Observation{Phase: attempt.Finished, Name: "j-1", Pod: failedPod(137, disruption)},
			want: Result{
				Status: runningStatus(1, t0).
					Ended(1, at(60), retry, "DisruptionTarget",
						"built-in rule (Retry on pod condition DisruptionTarget=True) matched: PreemptionByScheduler: preempted; exit code 137 (container main)").
					Exit(1, 137).
					Log(at(60), "attempt 1: built-in rule (Retry on pod condition DisruptionTarget=True) matched: PreemptionByScheduler: preempted; exit code 137 (container main); retrying in 1s without counting").
					Phase(kickqv1alpha1.PhaseDelayed).Next(at(61)).Ready(at(61)).
					Message("attempt 1: built-in rule (Retry on pod condition DisruptionTarget=True) matched: PreemptionByScheduler: preempted; exit code 137 (container main); next attempt at 2026-11-23T12:01:01Z").Obj(),
				Target: inlinePod(), RequeueAt: at(61),
				Events: []Event{normal(kickqv1alpha1.EventReasonRetrying,
					"attempt 1: built-in rule (Retry on pod condition DisruptionTarget=True) matched: PreemptionByScheduler: preempted; exit code 137 (container main); retrying in 1s without counting")},
			},
		},
		{
			name: "finished pod matching no rule: counted failure",
			job:  makeJob().Rules(rule(kickqv1alpha1.RetryActionDie, 2)).Status(runningStatus(1, t0)).Obj(), now: at(60),
			obs: attempt.Observation{Phase: attempt.Finished, Name: "j-1", Pod: failedPod(1)},
			want: Result{
				Status: counted(at(60), "Error", "exit code 1 (container main)", "2026-11-23T12:01:10Z").Exit(1, 1).Obj(),
				Target: inlinePod(), RequeueAt: at(70),
				Events: []Event{countedEvent("exit code 1 (container main)")},
			},
		},
		{
			name: "finished pod succeeded: Succeeded, its termination message is the result",
			job:  run1.Obj(), now: at(60),
			obs: attempt.Observation{Phase: attempt.Finished, Name: "j-1", Pod: succeededPod(`{"ok":true}`)},
			want: Result{
				Status: runningStatus(1, t0).Result(`{"ok":true}`).
					Ended(1, at(60), succeed, "Completed", "exit code 0 (container main)").Exit(1, 0).
					Log(at(60), "attempt 1 succeeded").JobSucceeded(at(60), "attempt 1 succeeded").Obj(),
				Target: inlinePod(),
			},
		},
		{
			name: "finished without a pod (webhook answer): its result decides, the status code is recorded",
			job:  makeJob().Webhook("https://run.example/j").Status(webhookRunning).Obj(), now: at(2),
			obs: attempt.Observation{Phase: attempt.Finished, Result: outcome.Result{Outcome: succeed, Reason: "Completed",
				Message: "200 OK", HTTPStatusCode: ptr.To[int32](200), Result: &apiextensionsv1.JSON{Raw: []byte(`[1]`)}}},
			want: Result{
				Status: runningStatus(1, t0).Record(kickqv1alpha1.AttemptRecord{Number: 1, StartTime: mtime(t0)}).
					HTTP(1, 200, "Completed", "200 OK").Ended(1, at(2), succeed, "Completed", "200 OK").Result(`[1]`).
					Log(at(2), "attempt 1 succeeded").JobSucceeded(at(2), "attempt 1 succeeded").Obj(),
				Target: webhookTarget,
			},
		},
		{
			name: "pod not started: status says why it waits",
			job:  run1.Obj(), now: at(20),
			obs: attempt.Observation{Phase: attempt.NotStarted, Name: "j-1", CreatedAt: t0,
				WaitingReason: "ImagePullBackOff", WaitingMessage: `container main: Back-off pulling image "x"`},
			want: Result{
				Status: runningStatus(1, t0).Message(`attempt 1 waiting to start: ImagePullBackOff: container main: Back-off pulling image "x"`).Obj(),
				Target: inlinePod(),
			},
		},
		{
			name: "pod not started and being deleted: no checks, not even a due attempt deadline",
			job:  makeJob().AttemptDeadline(30).Status(runningStatus(1, t0)).Obj(), now: at(60),
			obs: attempt.Observation{Phase: attempt.NotStarted, Name: "j-1", Deleting: true,
				WaitingReason: "ImagePullBackOff", WaitingMessage: "container main: Back-off"},
			want: Result{Status: runningStatus(1, t0).Obj(), Target: withDeadline(inlinePod(), 30)},
		},

		// Start deadline (pod.startDeadlineSeconds), counted from the pod's creation.
		{
			name: "start deadline just ahead: look again when it is due",
			job:  makeJob().StartDeadline(60).Status(runningStatus(1, t0)).Obj(), now: at(64),
			obs:  attempt.Observation{Phase: attempt.NotStarted, Name: "j-1", CreatedAt: at(5)},
			want: Result{Status: runningStatus(1, t0).Obj(), Target: withStartDeadline(inlinePod(), 60), RequeueAt: at(65)},
		},
		{
			name: "start deadline due with ImagePullBackOff: counted failure with the waiting reason, run stopped",
			job:  makeJob().StartDeadline(60).Status(runningStatus(1, t0)).Obj(), now: at(65),
			obs: attempt.Observation{Phase: attempt.NotStarted, Name: "j-1", CreatedAt: at(5),
				WaitingReason: "ImagePullBackOff", WaitingMessage: "container main: Back-off"},
			want: Result{
				Status: counted(at(65), "ImagePullBackOff",
					"attempt 1 did not start within startDeadlineSeconds (60s): ImagePullBackOff: container main: Back-off", "2026-11-23T12:01:15Z").Obj(),
				Action: Stop, Attempt: 1, Target: withStartDeadline(inlinePod(), 60), RequeueAt: at(75),
				Events: []Event{countedEvent("attempt 1 did not start within startDeadlineSeconds (60s): ImagePullBackOff: container main: Back-off")},
			},
		},
		{
			name: "start deadline due, no waiting reason nor creation time: StartDeadlineExceeded counted from the attempt's start",
			job:  makeJob().StartDeadline(60).Status(runningStatus(1, t0)).Obj(), now: at(60),
			obs: attempt.Observation{Phase: attempt.NotStarted, Name: "j-1"},
			want: Result{
				Status: counted(at(60), kickqv1alpha1.AttemptReasonStartDeadlineExceeded,
					"attempt 1 did not start within startDeadlineSeconds (60s): StartDeadlineExceeded", "2026-11-23T12:01:10Z").Obj(),
				Action: Stop, Attempt: 1, Target: withStartDeadline(inlinePod(), 60), RequeueAt: at(70),
				Events: []Event{countedEvent("attempt 1 did not start within startDeadlineSeconds (60s): StartDeadlineExceeded")},
			},
		},
		{
			name: "start deadline: a running pod is past it",
			job:  makeJob().StartDeadline(60).Status(runningStatus(1, t0)).Obj(), now: at(600), obs: podRunning,
			want: Result{Status: runningStatus(1, t0).Obj(), Target: withStartDeadline(inlinePod(), 60)},
		},

		// Heartbeat (heartbeatTimeoutSeconds), counted from the latest report, else the start.
		{
			name: "heartbeat just ahead, counted from the latest report: look again when due",
			job:  makeJob().HeartbeatTimeout(30).Status(runningStatus(1, t0).Heartbeat(at(40))).Obj(), obs: podRunning, now: at(69),
			want: Result{Status: runningStatus(1, t0).Heartbeat(at(40)).Obj(), Target: inlinePod(), RequeueAt: at(70)},
		},
		{
			name: "heartbeat due after the latest report: counted failure HeartbeatTimeout, run stopped",
			job:  makeJob().HeartbeatTimeout(30).Status(runningStatus(1, t0).Heartbeat(at(40))).Obj(), obs: podRunning, now: at(70),
			want: Result{
				Status: counted(at(70), kickqv1alpha1.AttemptReasonHeartbeatTimeout,
					"attempt 1 sent no report for heartbeatTimeoutSeconds (30s)", "2026-11-23T12:01:20Z").Heartbeat(at(40)).Obj(),
				Action: Stop, Attempt: 1, Target: inlinePod(), RequeueAt: at(80),
				Events: []Event{countedEvent("attempt 1 sent no report for heartbeatTimeoutSeconds (30s)")},
			},
		},
		{
			name: "heartbeat due with no report since the start: counted failure",
			job:  makeJob().HeartbeatTimeout(30).Status(runningStatus(1, t0)).Obj(), obs: podRunning, now: at(30),
			want: Result{
				Status: counted(at(30), kickqv1alpha1.AttemptReasonHeartbeatTimeout,
					"attempt 1 sent no report for heartbeatTimeoutSeconds (30s)", "2026-11-23T12:00:40Z").Obj(),
				Action: Stop, Attempt: 1, Target: inlinePod(), RequeueAt: at(40),
				Events: []Event{countedEvent("attempt 1 sent no report for heartbeatTimeoutSeconds (30s)")},
			},
		},
		{
			name: "heartbeat older than the attempt's start: the start counts",
			job:  makeJob().HeartbeatTimeout(30).Status(runningStatus(2, at(60)).Heartbeat(at(10))).Obj(),
			obs:  attempt.Observation{Phase: attempt.Running, Name: "j-2"}, now: at(89),
			want: Result{Status: runningStatus(2, at(60)).Heartbeat(at(10)).Obj(), Target: inlinePod(), RequeueAt: at(90)},
		},
		{
			name: "heartbeat in this pass's report: the attempt stays alive",
			job:  makeJob().HeartbeatTimeout(30).Status(runningStatus(1, t0).Heartbeat(at(40))).Obj(), obs: podRunning, now: at(70),
			report: &attempt.Pending{Attempt: 1, Heartbeat: at(65)},
			want:   Result{Status: runningStatus(1, t0).Heartbeat(at(65)).Obj(), Target: inlinePod(), RequeueAt: at(95)},
		},
		{
			name: "heartbeat: not checked before the pod runs",
			job:  makeJob().HeartbeatTimeout(30).Status(runningStatus(1, t0)).Obj(), now: at(300),
			obs:  attempt.Observation{Phase: attempt.NotStarted, Name: "j-1", CreatedAt: t0},
			want: Result{Status: runningStatus(1, t0).Obj(), Target: inlinePod()},
		},

		// Attempt deadline (attemptDeadlineSeconds), counted from the attempt's start.
		{
			name: "attempt deadline ahead: look again when it is due",
			job:  makeJob().AttemptDeadline(30).Status(runningStatus(1, t0)).Obj(), obs: podRunning, now: at(29),
			want: Result{Status: runningStatus(1, t0).Obj(), Target: withDeadline(inlinePod(), 30), RequeueAt: at(30)},
		},
		{
			name: "attempt deadline due: counted failure AttemptDeadlineExceeded, run stopped",
			job:  makeJob().AttemptDeadline(30).Status(runningStatus(1, t0)).Obj(), obs: podRunning, now: at(30),
			want: Result{
				Status: counted(at(30), kickqv1alpha1.AttemptReasonAttemptDeadlineExceeded,
					"attempt 1 ran longer than attemptDeadlineSeconds (30s)", "2026-11-23T12:00:40Z").Obj(),
				Action: Stop, Attempt: 1, Target: withDeadline(inlinePod(), 30), RequeueAt: at(40),
				Events: []Event{countedEvent("attempt 1 ran longer than attemptDeadlineSeconds (30s)")},
			},
		},
		{
			name: "attempt deadline due before the pod started: counted failure, run stopped",
			job:  makeJob().AttemptDeadline(30).Status(runningStatus(1, t0)).Obj(), now: at(30),
			obs: attempt.Observation{Phase: attempt.NotStarted, Name: "j-1", CreatedAt: t0},
			want: Result{
				Status: counted(at(30), kickqv1alpha1.AttemptReasonAttemptDeadlineExceeded,
					"attempt 1 ran longer than attemptDeadlineSeconds (30s)", "2026-11-23T12:00:40Z").Obj(),
				Action: Stop, Attempt: 1, Target: withDeadline(inlinePod(), 30), RequeueAt: at(40),
				Events: []Event{countedEvent("attempt 1 ran longer than attemptDeadlineSeconds (30s)")},
			},
		},
		{
			name: "several deadlines ahead: look again at the earliest",
			job: makeJob().HeartbeatTimeout(30).AttemptDeadline(90).ActiveDeadline(3600).
				Status(runningStatus(1, t0)).Obj(), obs: podRunning, now: at(10),
			want: Result{Status: runningStatus(1, t0).Obj(), Target: withDeadline(inlinePod(), 90), RequeueAt: at(30)},
		},
	})
}

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

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/policy"
)

func mailerPod() *kickqv1alpha1.PodTarget {
	return &kickqv1alpha1.PodTarget{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "main", Image: "mailer"}}}}}
}

func anyHook() *kickqv1alpha1.WebhookTarget {
	return &kickqv1alpha1.WebhookTarget{URL: "https://any.example/run"}
}

// handlerQueue has a "*" handler listed before an "email" handler, and a pull-worker
// defaultHandler.
func handlerQueue() *kickqv1alpha1.QueueSpec {
	return &kickqv1alpha1.QueueSpec{
		Handlers: []kickqv1alpha1.Handler{
			{Type: kickqv1alpha1.AnyType, HandlerSpec: kickqv1alpha1.HandlerSpec{Webhook: anyHook()}},
			{Type: "email", HandlerSpec: kickqv1alpha1.HandlerSpec{Pod: mailerPod(),
				JobPolicies: kickqv1alpha1.JobPolicies{AttemptDeadlineSeconds: ptr.To[int32](45)}}},
		},
		DefaultHandler: &kickqv1alpha1.HandlerSpec{Worker: &kickqv1alpha1.WorkerTarget{}},
	}
}

// TestResolveTarget finds how a job runs (target.go): its inline target, else the queue's handler
// for its type, else "*", else the defaultHandler, else Blocked.
func TestResolveTarget(t *testing.T) {
	type resolved struct {
		Target          attempt.Target
		Reason, Message string
	}
	noAny := handlerQueue()
	noAny.Handlers = noAny.Handlers[1:]
	withDefaults := &kickqv1alpha1.QueueSpec{Defaults: &kickqv1alpha1.JobPolicies{AttemptDeadlineSeconds: ptr.To[int32](90)}}
	mailer := attempt.Target{Kind: attempt.KindPod, Handler: "email", Pod: mailerPod(), AttemptDeadlineSeconds: ptr.To[int32](45)}
	anyTarget := attempt.Target{Kind: attempt.KindWebhook, Handler: kickqv1alpha1.AnyType, Webhook: anyHook()}
	worker := attempt.Target{Kind: attempt.KindWorker, Worker: &kickqv1alpha1.WorkerTarget{}}
	// lockedQueue denies inline targets and runs "email" with its pod handler; prefixes, when
	// given, are its spec.webhookURLPrefixes.
	lockedQueue := func(prefixes ...string) QueueView {
		q := handlerQueue()
		q.InlineTargets, q.WebhookURLPrefixes = kickqv1alpha1.InlineTargetsDeny, prefixes
		return QueueView{Spec: q}
	}
	allowQueue := func(prefixes ...string) QueueView {
		q := handlerQueue()
		q.WebhookURLPrefixes = prefixes
		return QueueView{Spec: q}
	}
	const receivers = "https://hooks.shop.example/kickq"
	inlineHook := func(url string) attempt.Target {
		return attempt.Target{Kind: attempt.KindWebhook, Webhook: &kickqv1alpha1.WebhookTarget{URL: url}}
	}
	notifyDenied := `queue "default" denies URLs a job chooses (spec.inlineTargets: Deny) and lists no spec.webhookURLPrefixes, so spec.notify cannot be called; create the job without spec.notify, or have the queue's owner list the receiver in spec.webhookURLPrefixes`
	notifyOutside := func(url string) string {
		return `spec.notify.webhook.url ` + url + ` is not under any of queue "default"'s spec.webhookURLPrefixes; the queue's owner lists the receivers its jobs may call`
	}

	for _, tc := range []struct {
		name  string
		job   *kickqv1alpha1.QueueJob
		queue QueueView
		want  resolved
	}{
		{
			name: "inline pod under the implicit queue",
			job:  makeJob().Obj(), queue: QueueView{Implicit: true},
			want: resolved{Target: inlinePod()},
		},
		{
			name: "inline pod: the queue's default attempt deadline applies",
			job:  makeJob().Obj(), queue: QueueView{Spec: withDefaults},
			want: resolved{Target: withDeadline(inlinePod(), 90)},
		},
		{
			name: "inline webhook: its own attempt deadline wins over the queue's",
			job:  makeJob().Webhook("https://run.example/j").AttemptDeadline(10).Obj(), queue: QueueView{Spec: withDefaults},
			want: resolved{Target: attempt.Target{Kind: attempt.KindWebhook, Webhook: &kickqv1alpha1.WebhookTarget{URL: "https://run.example/j"},
				AttemptDeadlineSeconds: ptr.To[int32](10)}},
		},
		{
			name: "inline target on a queue that denies them: Blocked InlineTargetDenied",
			job:  makeJob().Obj(), queue: QueueView{Spec: &kickqv1alpha1.QueueSpec{InlineTargets: kickqv1alpha1.InlineTargetsDeny}},
			want: resolved{Reason: kickqv1alpha1.ReasonInlineTargetDenied,
				Message: `queue "default" denies inline targets (spec.inlineTargets: Deny); remove the job's pod/webhook/worker and pick a handler with spec.type`},
		},
		{
			name: "notify under Deny without prefixes: Blocked InlineTargetDenied naming spec.notify, with the handler found",
			job:  makeJob().NoTarget().Type("email").Notify("https://anywhere.example/cb").Obj(), queue: lockedQueue(),
			want: resolved{Target: mailer, Reason: kickqv1alpha1.ReasonInlineTargetDenied, Message: notifyDenied},
		},
		{
			name: "notify under Deny, URL under the queue's prefixes: runs",
			job:  makeJob().NoTarget().Type("email").Notify(receivers + "/done?job=1").Obj(), queue: lockedQueue(receivers),
			want: resolved{Target: mailer},
		},
		{
			name: "notify under Deny, URL outside the queue's prefixes: Blocked WebhookURLNotAllowed naming spec.notify (query redacted)",
			job:  makeJob().NoTarget().Type("email").Notify("https://hooks.shop.example/kickqx?token=s3cret").Obj(), queue: lockedQueue(receivers),
			want: resolved{Target: mailer, Reason: kickqv1alpha1.ReasonWebhookURLNotAllowed, Message: notifyOutside("https://hooks.shop.example/kickqx")},
		},
		{
			name: "notify under Deny, a dot segment out of the prefix: Blocked",
			job:  makeJob().NoTarget().Type("email").Notify(receivers + "/../admin").Obj(), queue: lockedQueue(receivers),
			want: resolved{Target: mailer, Reason: kickqv1alpha1.ReasonWebhookURLNotAllowed, Message: notifyOutside(receivers + "/../admin")},
		},
		{
			name: "notify under Allow without prefixes: runs",
			job:  makeJob().NoTarget().Type("email").Notify("https://anywhere.example/cb").Obj(), queue: allowQueue(),
			want: resolved{Target: mailer},
		},
		{
			name: "notify under Allow, URL outside the prefixes: Blocked WebhookURLNotAllowed",
			job:  makeJob().Notify("https://anywhere.example/cb").Obj(), queue: allowQueue(receivers),
			want: resolved{Target: inlinePod(), Reason: kickqv1alpha1.ReasonWebhookURLNotAllowed, Message: notifyOutside("https://anywhere.example/cb")},
		},
		{
			name: "notify on the implicit queue: runs",
			job:  makeJob().Notify("https://anywhere.example/cb").Obj(), queue: QueueView{Implicit: true},
			want: resolved{Target: inlinePod()},
		},
		{
			name: "notify on a missing queue: QueueNotFound, not the URL",
			job:  makeJob().Queue("q").Notify("https://anywhere.example/cb").Obj(), queue: QueueView{},
			want: resolved{Reason: kickqv1alpha1.ReasonQueueNotFound, Message: `queue "q" does not exist in namespace ns`},
		},
		{
			name: "inline webhook under Allow, URL under the prefixes: runs",
			job:  makeJob().Webhook(receivers + "/run").Obj(), queue: allowQueue(receivers),
			want: resolved{Target: inlineHook(receivers + "/run")},
		},
		{
			name: "inline webhook under Allow, URL outside the prefixes: Blocked WebhookURLNotAllowed naming spec.webhook.url",
			job:  makeJob().Webhook("http://10.96.0.1/api").Obj(), queue: allowQueue(receivers),
			want: resolved{Target: inlineHook("http://10.96.0.1/api"), Reason: kickqv1alpha1.ReasonWebhookURLNotAllowed,
				Message: `spec.webhook.url http://10.96.0.1/api is not under any of queue "default"'s spec.webhookURLPrefixes; the queue's owner lists the receivers its jobs may call`},
		},
		{
			name: "inline webhook under Deny, even under the prefixes: Blocked InlineTargetDenied",
			job:  makeJob().Webhook(receivers + "/run").Obj(), queue: lockedQueue(receivers),
			want: resolved{Reason: kickqv1alpha1.ReasonInlineTargetDenied,
				Message: `queue "default" denies inline targets (spec.inlineTargets: Deny); remove the job's pod/webhook/worker and pick a handler with spec.type`},
		},
		{
			name: "a handler's URL is the owner's: not checked against the prefixes",
			job:  makeJob().NoTarget().Type("sms").Obj(), queue: lockedQueue(receivers),
			want: resolved{Target: anyTarget},
		},
		{
			name: "inline target wins over a handler for its type",
			job:  makeJob().Type("email").Obj(), queue: QueueView{Spec: handlerQueue()},
			want: resolved{Target: inlinePod()},
		},
		{
			name: "handler named by the job's type, listed after \"*\"",
			job:  makeJob().NoTarget().Type("email").Obj(), queue: QueueView{Spec: handlerQueue()},
			want: resolved{Target: mailer},
		},
		{
			name: "handler's attempt deadline: the job's own wins",
			job:  makeJob().NoTarget().Type("email").AttemptDeadline(10).Obj(), queue: QueueView{Spec: handlerQueue()},
			want: resolved{Target: withDeadline(mailer, 10)},
		},
		{
			name: "\"*\" handler for a type no handler names",
			job:  makeJob().NoTarget().Type("sms").Obj(), queue: QueueView{Spec: handlerQueue()},
			want: resolved{Target: anyTarget},
		},
		{
			name: "\"*\" handler for jobs without a type, before the defaultHandler",
			job:  makeJob().NoTarget().Obj(), queue: QueueView{Spec: handlerQueue()},
			want: resolved{Target: anyTarget},
		},
		{
			name: "defaultHandler for a type no handler names, without \"*\"",
			job:  makeJob().NoTarget().Type("sms").Obj(), queue: QueueView{Spec: noAny},
			want: resolved{Target: worker},
		},
		{
			name: "defaultHandler for jobs without a type, without \"*\"",
			job:  makeJob().NoTarget().Obj(), queue: QueueView{Spec: noAny},
			want: resolved{Target: worker},
		},
		{
			name: "no handler for the type: Blocked HandlerNotFound",
			job:  makeJob().NoTarget().Type("t").Obj(), queue: QueueView{Spec: &kickqv1alpha1.QueueSpec{}},
			want: resolved{Reason: kickqv1alpha1.ReasonHandlerNotFound,
				Message: `queue "default" has no handler for type "t" and no default handler, and the job has no inline target`},
		},
		{
			name: "no handler for jobs without a type: Blocked HandlerNotFound",
			job:  makeJob().NoTarget().Obj(), queue: QueueView{Spec: &kickqv1alpha1.QueueSpec{}},
			want: resolved{Reason: kickqv1alpha1.ReasonHandlerNotFound,
				Message: `queue "default" has no handler for jobs without a type and no default handler, and the job has no inline target`},
		},
		{
			name: "implicit queue has no handlers: Blocked HandlerNotFound without an inline target",
			job:  makeJob().NoTarget().Type("t").Obj(), queue: QueueView{Implicit: true},
			want: resolved{Reason: kickqv1alpha1.ReasonHandlerNotFound,
				Message: `queue "default" has no handler for type "t" and no default handler, and the job has no inline target`},
		},
		{
			name: "queue missing: Blocked QueueNotFound",
			job:  makeJob().Queue("q").Obj(), queue: QueueView{},
			want: resolved{Reason: kickqv1alpha1.ReasonQueueNotFound, Message: `queue "q" does not exist in namespace ns`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got resolved
			got.Target, got.Reason, got.Message = ResolveTarget(tc.job, tc.queue)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ResolveTarget (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecideNamesTheHandler checks that Decide passes the resolved target and its admission key on.
func TestDecideNamesTheHandler(t *testing.T) {
	noAny := handlerQueue()
	noAny.Handlers = noAny.Handlers[1:]
	runDecide(t, []decideCase{
		{
			name: "handler by type: its key is the type",
			job:  makeJob().NoTarget().Type("email").Obj(), queue: &QueueView{Spec: handlerQueue()}, now: at(1),
			want: Result{Status: makeStatus().Ready(t0).Obj(), Action: AwaitAdmission, Attempt: 1, Handler: "email",
				Target: attempt.Target{Kind: attempt.KindPod, Handler: "email", Pod: mailerPod(), AttemptDeadlineSeconds: ptr.To[int32](45)}},
		},
		{
			name: "\"*\" handler: its key is \"*\"",
			job:  makeJob().NoTarget().Type("sms").Obj(), queue: &QueueView{Spec: handlerQueue()}, now: at(1),
			want: Result{Status: makeStatus().Ready(t0).Obj(), Action: AwaitAdmission, Attempt: 1, Handler: kickqv1alpha1.AnyType,
				Target: attempt.Target{Kind: attempt.KindWebhook, Handler: kickqv1alpha1.AnyType, Webhook: anyHook()}},
		},
		{
			name: "defaultHandler: its key is empty",
			job:  makeJob().NoTarget().Obj(), queue: &QueueView{Spec: noAny}, now: at(1),
			want: Result{
				Status: makeStatus().Ready(t0).Obj(), Action: AwaitAdmission, Attempt: 1,
				Target: attempt.Target{Kind: attempt.KindWorker, Worker: &kickqv1alpha1.WorkerTarget{}},
			},
		},
	})
}

// TestEffective resolves the job's policy: from status.resolved once admitted, else now under its
// target (job > handler > queue > built-in).
func TestEffective(t *testing.T) {
	dieOn2 := []kickqv1alpha1.RetryRule{{Action: kickqv1alpha1.RetryActionDie,
		OnExitCodes: &kickqv1alpha1.ExitCodesMatcher{Operator: kickqv1alpha1.ExitCodeOperatorIn, Values: []int32{2}}}}
	builtIn := policy.Backoff{Type: kickqv1alpha1.BackoffExponential, BaseSeconds: 10, Factor: 2, MaxSeconds: 600}
	layered := handlerQueue()
	layered.Handlers[1].Retry = &kickqv1alpha1.RetryPolicy{Backoff: &kickqv1alpha1.Backoff{BaseSeconds: ptr.To[int32](20)}}
	layered.Handlers[1].HeartbeatTimeoutSeconds = ptr.To[int32](30)
	layered.Defaults = &kickqv1alpha1.JobPolicies{
		Retry:                   &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](9), Backoff: &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffFixed, MaxSeconds: ptr.To[int32](100)}},
		HeartbeatTimeoutSeconds: ptr.To[int32](60), ActiveDeadlineSeconds: ptr.To[int32](3600)}
	defaultLimit9 := &kickqv1alpha1.QueueSpec{
		DefaultHandler: &kickqv1alpha1.HandlerSpec{Pod: mailerPod(), JobPolicies: kickqv1alpha1.JobPolicies{Retry: &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](9)}}},
		Defaults:       &kickqv1alpha1.JobPolicies{AttemptDeadlineSeconds: ptr.To[int32](90)}}
	snapshot := &kickqv1alpha1.ResolvedPolicy{Handler: "inline", Retry: &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](5), Rules: dieOn2,
		Backoff: &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffFixed, BaseSeconds: ptr.To[int32](7), MaxSeconds: ptr.To[int32](7), JitterPercent: ptr.To[int32](0)}},
		ActiveDeadlineSeconds: ptr.To[int32](100)}

	for _, tc := range []struct {
		name  string
		job   *kickqv1alpha1.QueueJob
		queue QueueView
		want  policy.Effective
	}{
		{
			name: "nothing set anywhere: built-in defaults",
			job:  makeJob().Obj(), queue: QueueView{Implicit: true},
			want: policy.Effective{RetryLimit: 3, Backoff: builtIn},
		},
		{
			name: "resolved now, field by field: job over handler over queue defaults",
			job:  makeJob().NoTarget().Type("email").RetryLimit(2).Obj(), queue: QueueView{Spec: layered},
			want: policy.Effective{RetryLimit: 2, Backoff: policy.Backoff{Type: kickqv1alpha1.BackoffFixed, BaseSeconds: 20, Factor: 1, MaxSeconds: 100},
				AttemptDeadlineSeconds: ptr.To[int32](45), HeartbeatTimeoutSeconds: ptr.To[int32](30), ActiveDeadlineSeconds: ptr.To[int32](3600)},
		},
		{
			name: "defaultHandler's policy applies to the jobs it runs",
			job:  makeJob().NoTarget().Obj(), queue: QueueView{Spec: defaultLimit9},
			want: policy.Effective{RetryLimit: 9, Backoff: builtIn, AttemptDeadlineSeconds: ptr.To[int32](90)},
		},
		{
			name: "inline target: no handler's policy, the queue defaults",
			job:  makeJob().Obj(), queue: QueueView{Spec: defaultLimit9},
			want: policy.Effective{RetryLimit: 3, Backoff: builtIn, AttemptDeadlineSeconds: ptr.To[int32](90)},
		},
		{
			name: "recorded in status.resolved: the snapshot, not the job's spec nor the queue",
			job:  makeJob().RetryLimit(1).Status(runningStatus(1, t0).Resolved(snapshot)).Obj(), queue: QueueView{Spec: defaultLimit9},
			want: policy.Effective{RetryLimit: 5, Backoff: policy.Backoff{Type: kickqv1alpha1.BackoffFixed, BaseSeconds: 7, Factor: 1, MaxSeconds: 7},
				Rules: dieOn2, ActiveDeadlineSeconds: ptr.To[int32](100)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, reason, _ := ResolveTarget(tc.job, tc.queue)
			if reason != "" {
				t.Fatalf("ResolveTarget: blocked %s", reason)
			}
			if diff := cmp.Diff(tc.want, Effective(tc.job, tc.queue, target)); diff != "" {
				t.Errorf("Effective (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResolvedSnapshot records an effective policy in status and reads it back unchanged.
func TestResolvedSnapshot(t *testing.T) {
	rules := []kickqv1alpha1.RetryRule{{Action: kickqv1alpha1.RetryActionRetry,
		OnPodConditions: []kickqv1alpha1.PodConditionMatcher{{Type: "DisruptionTarget"}}}}
	for _, tc := range []struct {
		name      string
		effective policy.Effective
		handler   string
		want      *kickqv1alpha1.ResolvedPolicy
	}{
		{
			name:      "Exponential: the factor is recorded",
			effective: policy.Effective{RetryLimit: 3, Backoff: policy.Backoff{Type: kickqv1alpha1.BackoffExponential, BaseSeconds: 10, Factor: 2, MaxSeconds: 600}},
			handler:   "inline",
			want:      defaultResolved("inline"),
		},
		{
			name: "Fixed with rules and every deadline: no factor recorded",
			effective: policy.Effective{RetryLimit: 0, Backoff: policy.Backoff{Type: kickqv1alpha1.BackoffFixed, BaseSeconds: 7, Factor: 1, MaxSeconds: 7, JitterPercent: 10},
				Rules: rules, AttemptDeadlineSeconds: ptr.To[int32](30), ActiveDeadlineSeconds: ptr.To[int32](300), HeartbeatTimeoutSeconds: ptr.To[int32](20)},
			handler: "email",
			want: &kickqv1alpha1.ResolvedPolicy{Handler: "email", Retry: &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](0), Rules: rules,
				Backoff: &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffFixed, BaseSeconds: ptr.To[int32](7), MaxSeconds: ptr.To[int32](7), JitterPercent: ptr.To[int32](10)}},
				AttemptDeadlineSeconds: ptr.To[int32](30), ActiveDeadlineSeconds: ptr.To[int32](300), HeartbeatTimeoutSeconds: ptr.To[int32](20)},
		},
		{
			name:      "Linear: no factor recorded",
			effective: policy.Effective{RetryLimit: 1, Backoff: policy.Backoff{Type: kickqv1alpha1.BackoffLinear, BaseSeconds: 5, Factor: 1, MaxSeconds: 50}},
			handler:   "defaultHandler",
			want: &kickqv1alpha1.ResolvedPolicy{Handler: "defaultHandler", Retry: &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](1),
				Backoff: &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffLinear, BaseSeconds: ptr.To[int32](5), MaxSeconds: ptr.To[int32](50), JitterPercent: ptr.To[int32](0)}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := toResolved(tc.effective, tc.handler)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("toResolved (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.effective, fromResolved(got)); diff != "" {
				t.Errorf("fromResolved(toResolved(e)) != e (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHandlerName says in status.resolved.handler what runs the job.
func TestHandlerName(t *testing.T) {
	for _, tc := range []struct {
		name   string
		job    *kickqv1alpha1.QueueJob
		target attempt.Target
		want   string
	}{
		{name: "inline target", job: makeJob().Type("email").Obj(), target: attempt.Target{Kind: attempt.KindPod, Handler: "email"}, want: "inline"},
		{name: "handler by type", job: makeJob().NoTarget().Type("email").Obj(), target: attempt.Target{Kind: attempt.KindPod, Handler: "email"}, want: "email"},
		{name: "\"*\" handler", job: makeJob().NoTarget().Obj(), target: attempt.Target{Kind: attempt.KindPod, Handler: "*"}, want: "*"},
		{name: "defaultHandler", job: makeJob().NoTarget().Obj(), target: attempt.Target{Kind: attempt.KindPod}, want: "defaultHandler"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := handlerName(tc.job, tc.target); got != tc.want {
				t.Errorf("handlerName = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestResolvedPolicyIsFixedAtAdmission: the policy a job was first admitted with stays its policy
// when the queue's owner changes the queue.
func TestResolvedPolicyIsFixedAtAdmission(t *testing.T) {
	q := &kickqv1alpha1.QueueSpec{Defaults: &kickqv1alpha1.JobPolicies{
		Retry:                  &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](5), Backoff: &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffFixed, BaseSeconds: ptr.To[int32](7)}},
		AttemptDeadlineSeconds: ptr.To[int32](90),
	}}
	in := Input{Job: makeJob().Obj(), Queue: QueueView{Spec: q}, Settled: true, Now: t0}
	started := Admit(Decide(in), in, admission.Decision{Admitted: true})
	wantResolved := &kickqv1alpha1.ResolvedPolicy{Handler: "inline", AttemptDeadlineSeconds: ptr.To[int32](90),
		Retry: &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](5), Backoff: &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffFixed,
			BaseSeconds: ptr.To[int32](7), MaxSeconds: ptr.To[int32](600), JitterPercent: ptr.To[int32](0)}}}
	if diff := cmp.Diff(wantResolved, started.Status.Resolved); diff != "" {
		t.Fatalf("status.resolved (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(withDeadline(inlinePod(), 90), started.Target); diff != "" {
		t.Errorf("the pod's deadline comes from the resolved policy (-want +got):\n%s", diff)
	}

	// The queue's owner lowers the retry limit to 0 and drops the deadline: the running job keeps
	// what it was admitted with (a retry after the Fixed 7 s backoff, the 90 s attempt deadline).
	job := makeJob().Obj()
	job.Status = started.Status
	q.Defaults.Retry.Limit = ptr.To[int32](0)
	q.Defaults.AttemptDeadlineSeconds = nil
	got := Decide(Input{Job: job, Queue: QueueView{Spec: q}, Current: finishedWith(1, kickqv1alpha1.OutcomeFail, 1, "exit"), Settled: true, Now: at(60)})
	want := Result{
		Status: (&statusWrapper{started.Status}).Ended(1, at(60), kickqv1alpha1.OutcomeFail, "Error", "exit").Exit(1, 1).Failures(1).
			Log(at(60), "attempt 1 failed: exit, retrying in 7s").
			Phase(kickqv1alpha1.PhaseDelayed).Next(at(67)).Message("attempt 1 failed: exit; next attempt at 2026-11-23T12:01:07Z").Obj(),
		Target: withDeadline(inlinePod(), 90), RequeueAt: at(67),
		Events: []Event{warning(kickqv1alpha1.EventReasonAttemptFailed, "attempt 1 failed: exit; retrying in 7s")},
	}
	diffResult(t, want, got)
}

// TestDecideRefusesAuthorURLs: a job whose author-chosen URL its queue refuses never starts; an
// attempt that started before the queue changed is still followed; and a job that finishes
// without starting (cancelled while Blocked) does not send the refused callback either.
func TestDecideRefusesAuthorURLs(t *testing.T) {
	const cb = "https://anywhere.example/cb"
	locked := handlerQueue()
	locked.InlineTargets = kickqv1alpha1.InlineTargetsDeny
	allowed := handlerQueue()
	allowed.InlineTargets, allowed.WebhookURLPrefixes = kickqv1alpha1.InlineTargetsDeny, []string{"https://anywhere.example/"}
	mailer := attempt.Target{Kind: attempt.KindPod, Handler: "email", Pod: mailerPod(), AttemptDeadlineSeconds: ptr.To[int32](45)}
	denied := `queue "default" denies URLs a job chooses (spec.inlineTargets: Deny) and lists no spec.webhookURLPrefixes, so spec.notify cannot be called; create the job without spec.notify, or have the queue's owner list the receiver in spec.webhookURLPrefixes`
	cancelled := func() *statusWrapper {
		return makeStatus().Ready(t0).Blocked(kickqv1alpha1.ReasonInlineTargetDenied, denied).
			JobFailed(at(30), kickqv1alpha1.ReasonCancelled, "spec.cancel is set")
	}
	runDecide(t, []decideCase{
		{
			name: "notify under Deny: Blocked InlineTargetDenied with an Event, not admitted",
			job:  makeJob().NoTarget().Type("email").Notify(cb).Obj(), queue: &QueueView{Spec: locked}, now: t0,
			want: Result{
				Status: makeStatus().Ready(t0).Phase(kickqv1alpha1.PhaseBlocked).Message(denied).
					Blocked(kickqv1alpha1.ReasonInlineTargetDenied, denied).Obj(),
				Target: mailer, Handler: "email",
				Events: []Event{warning(kickqv1alpha1.ReasonInlineTargetDenied, denied)},
			},
		},
		{
			name: "notify under Deny, the receiver listed by the queue: admitted",
			job:  makeJob().NoTarget().Type("email").Notify(cb).Obj(), queue: &QueueView{Spec: allowed}, now: t0,
			want: Result{Status: makeStatus().Ready(t0).Obj(), Action: AwaitAdmission, Attempt: 1, Target: mailer, Handler: "email"},
		},
		{
			name: "running when the queue began to refuse the callback: the attempt is still followed",
			job:  makeJob().NoTarget().Type("email").Notify(cb).Status(runningStatus(1, t0)).Obj(), queue: &QueueView{Spec: locked},
			obs: attempt.Observation{Phase: attempt.Running, Name: "j-1"}, now: at(30),
			want: Result{Status: runningStatus(1, t0).Obj(), Target: mailer, Handler: "email", RequeueAt: at(45)},
		},
		{
			name: "finished without starting: the refused callback is given up, not sent",
			job:  makeJob().NoTarget().Type("email").Notify(cb).Status(cancelled()).Obj(), queue: &QueueView{Spec: locked}, now: at(31),
			want: Result{
				Status: cancelled().Notification(&kickqv1alpha1.NotificationStatus{ID: "uid-1-notify", Failed: true, Message: "not sent: " + denied}).Obj(),
				Action: NotifyRecorded,
				Events: []Event{warning(kickqv1alpha1.EventReasonNotifyFailed, "completion callback not sent: "+denied)},
			},
		},
		{
			name: "finished, the receiver listed by the queue: sent",
			job:  makeJob().NoTarget().Type("email").Notify(cb).Status(cancelled()).Obj(), queue: &QueueView{Spec: allowed}, now: at(31),
			want: Result{Status: cancelled().Obj(), Action: Notify},
		},
	})
}

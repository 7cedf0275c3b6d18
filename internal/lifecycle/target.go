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
	"fmt"

	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/netguard"
	"kickq.dev/kickq/internal/outcome"
	"kickq.dev/kickq/internal/policy"
)

// ResolveTarget finds how the job runs: its inline target, else the queue's handler for its type,
// else the "*" handler, else the defaultHandler. When none applies it returns the Blocked reason
// and message. When the queue refuses a URL the job's author chose (AuthorURLRefused) it returns
// the Blocked reason and message with the target it found, so that the job does not start while
// an attempt that started before the queue's owner changed the queue is still followed.
func ResolveTarget(job *kickqv1alpha1.QueueJob, q QueueView) (attempt.Target, string, string) {
	t, reason, msg := resolveTarget(job, q)
	if reason != "" || q.Spec == nil {
		return t, reason, msg
	}
	reason, msg = AuthorURLRefused(job, q)
	return t, reason, msg
}

// AuthorURLRefused says why the job's queue refuses a URL the job's author chose, or "" when it
// refuses none. With spec.webhookURLPrefixes set, the inline webhook target's url and the
// callback's url (spec.notify.webhook.url) must lie under one of them (netguard.URLWithin);
// without them, a queue that denies inline targets refuses every callback URL, since the author
// chose it. Handlers' URLs are the queue owner's and are not checked. The implicit queue and a
// missing queue refuse none (a missing queue blocks the job already).
func AuthorURLRefused(job *kickqv1alpha1.QueueJob, q QueueView) (string, string) {
	spec := q.Spec
	if spec == nil {
		return "", ""
	}
	prefixes := spec.WebhookURLPrefixes
	if w := job.Spec.Webhook; w != nil && len(prefixes) > 0 && !netguard.URLWithin(w.URL, prefixes) {
		return kickqv1alpha1.ReasonWebhookURLNotAllowed,
			fmt.Sprintf("spec.webhook.url %s is not under any of queue %q's spec.webhookURLPrefixes; the queue's owner lists the receivers its jobs may call", outcome.RedactURL(w.URL), job.Spec.QueueName)
	}
	return NotifyURLRefused(job, q)
}

// NotifyURLRefused says why the job's queue refuses its callback's URL (spec.notify.webhook.url),
// or "" when it allows it (see AuthorURLRefused). The lifecycle asks again before each delivery,
// so a callback the queue's owner refuses later is not sent either.
func NotifyURLRefused(job *kickqv1alpha1.QueueJob, q QueueView) (string, string) {
	n, spec := job.Spec.Notify, q.Spec
	if n == nil || spec == nil {
		return "", ""
	}
	prefixes := spec.WebhookURLPrefixes
	switch {
	case len(prefixes) > 0 && !netguard.URLWithin(n.Webhook.URL, prefixes):
		return kickqv1alpha1.ReasonWebhookURLNotAllowed,
			fmt.Sprintf("spec.notify.webhook.url %s is not under any of queue %q's spec.webhookURLPrefixes; the queue's owner lists the receivers its jobs may call", outcome.RedactURL(n.Webhook.URL), job.Spec.QueueName)
	case len(prefixes) == 0 && spec.InlineTargets == kickqv1alpha1.InlineTargetsDeny:
		return kickqv1alpha1.ReasonInlineTargetDenied,
			fmt.Sprintf("queue %q denies URLs a job chooses (spec.inlineTargets: Deny) and lists no spec.webhookURLPrefixes, so spec.notify cannot be called; create the job without spec.notify, or have the queue's owner list the receiver in spec.webhookURLPrefixes", job.Spec.QueueName)
	}
	return "", ""
}

// resolveTarget is ResolveTarget before the check of the author's URLs.
func resolveTarget(job *kickqv1alpha1.QueueJob, q QueueView) (attempt.Target, string, string) {
	if q.Spec == nil && !q.Implicit {
		return attempt.Target{}, kickqv1alpha1.ReasonQueueNotFound,
			fmt.Sprintf("queue %q does not exist in namespace %s", job.Spec.QueueName, job.Namespace)
	}
	spec := q.Spec
	if spec == nil {
		spec = &kickqv1alpha1.QueueSpec{}
	}
	js := &job.Spec
	if hasInlineTarget(job) {
		if spec.InlineTargets == kickqv1alpha1.InlineTargetsDeny {
			return attempt.Target{}, kickqv1alpha1.ReasonInlineTargetDenied,
				fmt.Sprintf("queue %q denies inline targets (spec.inlineTargets: Deny); remove the job's pod/webhook/worker and pick a handler with spec.type", job.Spec.QueueName)
		}
		t := targetOf(js.Pod, js.Webhook, js.Worker, "")
		t.AttemptDeadlineSeconds = policy.Resolve(js, nil, spec).AttemptDeadlineSeconds
		return t, "", ""
	}
	hs, key := handlerFor(spec, js.Type)
	if hs == nil {
		what := fmt.Sprintf("type %q", js.Type)
		if js.Type == "" {
			what = "jobs without a type"
		}
		return attempt.Target{}, kickqv1alpha1.ReasonHandlerNotFound,
			fmt.Sprintf("queue %q has no handler for %s and no default handler, and the job has no inline target", job.Spec.QueueName, what)
	}
	t := targetOf(hs.Pod, hs.Webhook, hs.Worker, key)
	t.AttemptDeadlineSeconds = policy.Resolve(js, hs, spec).AttemptDeadlineSeconds
	return t, "", ""
}

// hasInlineTarget reports whether the job brings its own pod, webhook or worker target.
func hasInlineTarget(job *kickqv1alpha1.QueueJob) bool {
	js := &job.Spec
	return js.Pod != nil || js.Webhook != nil || js.Worker != nil
}

// handlerFor returns the queue's handler for a type and its admission key: the handler naming the
// type, else the "*" handler, else the defaultHandler (key ""); nil when none applies.
func handlerFor(spec *kickqv1alpha1.QueueSpec, typ string) (*kickqv1alpha1.HandlerSpec, string) {
	for i := range spec.Handlers {
		if typ != "" && spec.Handlers[i].Type == typ {
			return &spec.Handlers[i].HandlerSpec, typ
		}
	}
	for i := range spec.Handlers {
		if spec.Handlers[i].Type == kickqv1alpha1.AnyType {
			return &spec.Handlers[i].HandlerSpec, kickqv1alpha1.AnyType
		}
	}
	return spec.DefaultHandler, ""
}

func targetOf(pod *kickqv1alpha1.PodTarget, hook *kickqv1alpha1.WebhookTarget, worker *kickqv1alpha1.WorkerTarget, handler string) attempt.Target {
	t := attempt.Target{Handler: handler, Pod: pod, Webhook: hook, Worker: worker}
	switch {
	case pod != nil:
		t.Kind = attempt.KindPod
	case hook != nil:
		t.Kind = attempt.KindWebhook
	default:
		t.Kind = attempt.KindWorker
	}
	return t
}

// Effective is the job's policy: as recorded in status.resolved when it was first admitted, else
// resolved now under its target (job > handler > queue > built-in).
func Effective(job *kickqv1alpha1.QueueJob, q QueueView, t attempt.Target) policy.Effective {
	if job.Status.Resolved != nil {
		return fromResolved(job.Status.Resolved)
	}
	return policy.Resolve(&job.Spec, handlerSpec(q, t), q.Spec)
}

// toResolved records an effective policy in status (the policy snapshot taken at first admission:
// later edits of the queue do not change a job that started).
func toResolved(e policy.Effective, handler string) *kickqv1alpha1.ResolvedPolicy {
	b := &kickqv1alpha1.Backoff{Type: e.Backoff.Type, BaseSeconds: ptr.To(e.Backoff.BaseSeconds),
		MaxSeconds: ptr.To(e.Backoff.MaxSeconds), JitterPercent: ptr.To(e.Backoff.JitterPercent)}
	if e.Backoff.Type == kickqv1alpha1.BackoffExponential {
		b.Factor = ptr.To(e.Backoff.Factor)
	}
	return &kickqv1alpha1.ResolvedPolicy{
		Handler:                 handler,
		Retry:                   &kickqv1alpha1.RetryPolicy{Limit: ptr.To(e.RetryLimit), Backoff: b, Rules: e.Rules},
		AttemptDeadlineSeconds:  e.AttemptDeadlineSeconds,
		ActiveDeadlineSeconds:   e.ActiveDeadlineSeconds,
		HeartbeatTimeoutSeconds: e.HeartbeatTimeoutSeconds,
	}
}

// fromResolved reads a policy recorded by toResolved.
func fromResolved(r *kickqv1alpha1.ResolvedPolicy) policy.Effective {
	spec := kickqv1alpha1.QueueJobSpec{JobPolicies: kickqv1alpha1.JobPolicies{Retry: r.Retry,
		AttemptDeadlineSeconds: r.AttemptDeadlineSeconds, ActiveDeadlineSeconds: r.ActiveDeadlineSeconds,
		HeartbeatTimeoutSeconds: r.HeartbeatTimeoutSeconds}}
	return policy.Resolve(&spec, nil, nil)
}

// handlerName says in status what runs the job.
func handlerName(job *kickqv1alpha1.QueueJob, t attempt.Target) string {
	switch {
	case hasInlineTarget(job):
		return "inline"
	case t.Handler == "":
		return "defaultHandler"
	}
	return t.Handler
}

// handlerSpec returns the queue handler behind a resolved target (nil for inline targets).
func handlerSpec(q QueueView, t attempt.Target) *kickqv1alpha1.HandlerSpec {
	if q.Spec == nil || t.Kind == "" {
		return nil
	}
	for i := range q.Spec.Handlers {
		if q.Spec.Handlers[i].Type == t.Handler && t.Handler != "" {
			return &q.Spec.Handlers[i].HandlerSpec
		}
	}
	if d := q.Spec.DefaultHandler; t.Handler == "" && d != nil && t.Pod == d.Pod && t.Webhook == d.Webhook && t.Worker == d.Worker {
		return d
	}
	return nil
}

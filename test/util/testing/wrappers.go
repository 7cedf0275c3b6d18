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

// Package testing builds kickq's API objects for tests, as jobset's pkg/util/testing and kueue's
// pkg/util/testing do: MakeQueueJob("a", ns).Queue("q").Delay(30*time.Second).Obj().
//
// Every builder starts from the smallest valid object and each method sets one thing; Obj returns
// a deep copy, so one builder can make several objects. Durations are time.Duration and are
// written to the API's …Seconds fields in whole seconds. The package imports only the API types,
// k8s.io/api and apimachinery, so unit tests in internal/ and the envtest suites use it alike; it
// never talks to an API server. Import it as utiltesting.
package testing

import (
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// DefaultImage is the image of the container that Pod and PodTemplate make when given none.
const DefaultImage = "busybox"

// MainContainer is the name of the one container that PodTemplate makes.
const MainContainer = "main"

// seconds converts a duration to an API …Seconds value.
func seconds(d time.Duration) *int32 { return ptr.To(int32(d / time.Second)) }

// RawJSON returns v as an API JSON value: a string or []byte is taken as JSON text as it is,
// anything else is marshalled. It panics on a value that does not marshal.
func RawJSON(v any) *apiextensionsv1.JSON {
	switch t := v.(type) {
	case string:
		return &apiextensionsv1.JSON{Raw: []byte(t)}
	case []byte:
		return &apiextensionsv1.JSON{Raw: append([]byte(nil), t...)}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("utiltesting: marshalling %T: %v", v, err))
	}
	return &apiextensionsv1.JSON{Raw: raw}
}

// PodTemplate returns a pod template with one container named main running image (DefaultImage
// when empty).
func PodTemplate(image string) corev1.PodTemplateSpec {
	if image == "" {
		image = DefaultImage
	}
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: MainContainer, Image: image}}}}
}

// WebhookOption changes a webhook target (a job's, a handler's or a callback's).
type WebhookOption func(*kickqv1alpha1.WebhookTarget)

// WithSecret signs the calls with the key of a Secret.
func WithSecret(name, key string) WebhookOption {
	return func(t *kickqv1alpha1.WebhookTarget) {
		t.SecretRef = &kickqv1alpha1.SecretKeyRef{Name: name, Key: key}
	}
}

// WithTimeout sets timeoutSeconds.
func WithTimeout(d time.Duration) WebhookOption {
	return func(t *kickqv1alpha1.WebhookTarget) { t.TimeoutSeconds = seconds(d) }
}

// WithRetryAfterMax sets retryAfterMaxSeconds.
func WithRetryAfterMax(d time.Duration) WebhookOption {
	return func(t *kickqv1alpha1.WebhookTarget) { t.RetryAfterMaxSeconds = seconds(d) }
}

// WithHeader adds a header to the calls.
func WithHeader(name, value string) WebhookOption {
	return func(t *kickqv1alpha1.WebhookTarget) {
		t.Headers = append(t.Headers, kickqv1alpha1.HTTPHeader{Name: name, Value: value})
	}
}

// WebhookTarget returns a webhook target for url.
func WebhookTarget(url string, opts ...WebhookOption) *kickqv1alpha1.WebhookTarget {
	t := &kickqv1alpha1.WebhookTarget{URL: url}
	for _, o := range opts {
		o(t)
	}
	return t
}

// FixedBackoff waits base after every counted failure.
func FixedBackoff(base time.Duration) kickqv1alpha1.Backoff {
	return kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffFixed, BaseSeconds: seconds(base)}
}

// LinearBackoff waits base·n after the n-th counted failure.
func LinearBackoff(base time.Duration) kickqv1alpha1.Backoff {
	return kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffLinear, BaseSeconds: seconds(base)}
}

// ExponentialBackoff waits base·factor^(n-1), capped at maxDelay (no cap when 0).
func ExponentialBackoff(base time.Duration, factor int32, maxDelay time.Duration) kickqv1alpha1.Backoff {
	b := kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffExponential, BaseSeconds: seconds(base), Factor: &factor}
	if maxDelay > 0 {
		b.MaxSeconds = seconds(maxDelay)
	}
	return b
}

// RetryPolicy returns a retry policy with a limit, and a backoff when one is given.
func RetryPolicy(limit int32, backoff ...kickqv1alpha1.Backoff) *kickqv1alpha1.RetryPolicy {
	r := &kickqv1alpha1.RetryPolicy{Limit: &limit}
	if len(backoff) > 0 {
		b := backoff[0]
		r.Backoff = &b
	}
	return r
}

// ExitCodeRule matches the exit codes (operator In) of the failed container.
func ExitCodeRule(action kickqv1alpha1.RetryAction, codes ...int32) kickqv1alpha1.RetryRule {
	return kickqv1alpha1.RetryRule{Action: action, OnExitCodes: &kickqv1alpha1.ExitCodesMatcher{
		Operator: kickqv1alpha1.ExitCodeOperatorIn, Values: codes}}
}

// ExitCodeRuleOf matches exit codes with an operator, in one container when container is not
// empty.
func ExitCodeRuleOf(action kickqv1alpha1.RetryAction, container string, op kickqv1alpha1.ExitCodeOperator, codes ...int32) kickqv1alpha1.RetryRule {
	r := kickqv1alpha1.RetryRule{Action: action, OnExitCodes: &kickqv1alpha1.ExitCodesMatcher{Operator: op, Values: codes}}
	if container != "" {
		r.OnExitCodes.ContainerName = &container
	}
	return r
}

// PodConditionRule matches pod conditions (see ConditionMatch).
func PodConditionRule(action kickqv1alpha1.RetryAction, conds ...kickqv1alpha1.PodConditionMatcher) kickqv1alpha1.RetryRule {
	return kickqv1alpha1.RetryRule{Action: action, OnPodConditions: conds}
}

// ConditionMatch matches a pod condition of a type with a status ("True", "False", "Unknown";
// empty: as the API defaults it, True).
func ConditionMatch(conditionType, status string) kickqv1alpha1.PodConditionMatcher {
	return kickqv1alpha1.PodConditionMatcher{Type: conditionType, Status: status}
}

// QueueJobWrapper builds a QueueJob.
type QueueJobWrapper struct{ kickqv1alpha1.QueueJob }

// MakeQueueJob starts a QueueJob with a name and namespace and an empty spec (queue "default"
// once the API server defaults it, no target).
func MakeQueueJob(name, ns string) *QueueJobWrapper {
	return &QueueJobWrapper{kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}}
}

// Obj returns a copy of the QueueJob built so far.
func (w *QueueJobWrapper) Obj() *kickqv1alpha1.QueueJob { return w.DeepCopy() }

// Queue sets spec.queueName.
func (w *QueueJobWrapper) Queue(q string) *QueueJobWrapper { w.Spec.QueueName = q; return w }

// Type sets spec.type.
func (w *QueueJobWrapper) Type(t string) *QueueJobWrapper { w.Spec.Type = t; return w }

// Priority sets spec.priority.
func (w *QueueJobWrapper) Priority(p int32) *QueueJobWrapper { w.Spec.Priority = &p; return w }

// Delay sets spec.delaySeconds.
func (w *QueueJobWrapper) Delay(d time.Duration) *QueueJobWrapper {
	w.Spec.DelaySeconds = seconds(d)
	return w
}

// NotBefore sets spec.notBeforeTime.
func (w *QueueJobWrapper) NotBefore(t time.Time) *QueueJobWrapper {
	w.Spec.NotBeforeTime = &metav1.Time{Time: t}
	return w
}

// Data sets spec.data (see RawJSON: JSON text, or a value to marshal).
func (w *QueueJobWrapper) Data(v any) *QueueJobWrapper { w.Spec.Data = RawJSON(v); return w }

// Pod sets an inline pod target: one container main running image (DefaultImage when none).
func (w *QueueJobWrapper) Pod(image ...string) *QueueJobWrapper {
	img := ""
	if len(image) > 0 {
		img = image[0]
	}
	return w.PodTemplate(PodTemplate(img))
}

// PodTemplate sets an inline pod target from a template.
func (w *QueueJobWrapper) PodTemplate(t corev1.PodTemplateSpec) *QueueJobWrapper {
	w.Spec.Pod = &kickqv1alpha1.PodTarget{Template: t}
	return w
}

// StartDeadline sets the pod target's startDeadlineSeconds (after Pod or PodTemplate).
func (w *QueueJobWrapper) StartDeadline(d time.Duration) *QueueJobWrapper {
	if w.Spec.Pod == nil {
		panic("utiltesting: StartDeadline needs a pod target: call Pod first")
	}
	w.Spec.Pod.StartDeadlineSeconds = seconds(d)
	return w
}

// Webhook sets an inline webhook target.
func (w *QueueJobWrapper) Webhook(url string, opts ...WebhookOption) *QueueJobWrapper {
	w.Spec.Webhook = WebhookTarget(url, opts...)
	return w
}

// Worker sets an inline pull-worker target.
func (w *QueueJobWrapper) Worker() *QueueJobWrapper {
	w.Spec.Worker = &kickqv1alpha1.WorkerTarget{}
	return w
}

// Retry sets spec.retry's limit, and its backoff when one is given; rules already added stay.
func (w *QueueJobWrapper) Retry(limit int32, backoff ...kickqv1alpha1.Backoff) *QueueJobWrapper {
	r := RetryPolicy(limit, backoff...)
	if w.Spec.Retry != nil {
		r.Rules = w.Spec.Retry.Rules
	}
	w.Spec.Retry = r
	return w
}

// Rule appends retry rules to spec.retry.
func (w *QueueJobWrapper) Rule(rules ...kickqv1alpha1.RetryRule) *QueueJobWrapper {
	if w.Spec.Retry == nil {
		w.Spec.Retry = &kickqv1alpha1.RetryPolicy{}
	}
	w.Spec.Retry.Rules = append(w.Spec.Retry.Rules, rules...)
	return w
}

// AttemptDeadline sets spec.attemptDeadlineSeconds.
func (w *QueueJobWrapper) AttemptDeadline(d time.Duration) *QueueJobWrapper {
	w.Spec.AttemptDeadlineSeconds = seconds(d)
	return w
}

// ActiveDeadline sets spec.activeDeadlineSeconds.
func (w *QueueJobWrapper) ActiveDeadline(d time.Duration) *QueueJobWrapper {
	w.Spec.ActiveDeadlineSeconds = seconds(d)
	return w
}

// HeartbeatTimeout sets spec.heartbeatTimeoutSeconds.
func (w *QueueJobWrapper) HeartbeatTimeout(d time.Duration) *QueueJobWrapper {
	w.Spec.HeartbeatTimeoutSeconds = seconds(d)
	return w
}

// TTLAfterFinished sets spec.ttlSecondsAfterFinished.
func (w *QueueJobWrapper) TTLAfterFinished(d time.Duration) *QueueJobWrapper {
	w.Spec.TTLSecondsAfterFinished = seconds(d)
	return w
}

// Batch sets spec.batch.
func (w *QueueJobWrapper) Batch(b string) *QueueJobWrapper { w.Spec.Batch = b; return w }

func (w *QueueJobWrapper) after() *kickqv1alpha1.Dependencies {
	if w.Spec.After == nil {
		w.Spec.After = &kickqv1alpha1.Dependencies{Require: kickqv1alpha1.RequireAllSucceeded}
	}
	return w.Spec.After
}

// After makes the job wait for the named jobs (require AllSucceeded unless Require says otherwise).
func (w *QueueJobWrapper) After(jobNames ...string) *QueueJobWrapper {
	a := w.after()
	a.JobNames = append(a.JobNames, jobNames...)
	return w
}

// AfterBatch makes the job wait for every job of a batch.
func (w *QueueJobWrapper) AfterBatch(batch string) *QueueJobWrapper {
	w.after().Batch = batch
	return w
}

// Require sets spec.after.require.
func (w *QueueJobWrapper) Require(r kickqv1alpha1.DependencyRequirement) *QueueJobWrapper {
	w.after().Require = r
	return w
}

// Notify sets spec.notify: a completion callback to url.
func (w *QueueJobWrapper) Notify(url string, opts ...WebhookOption) *QueueJobWrapper {
	w.Spec.Notify = &kickqv1alpha1.Notify{Webhook: *WebhookTarget(url, opts...)}
	return w
}

// Cron makes the job a cron template with a schedule; the Cron… methods set the rest.
func (w *QueueJobWrapper) Cron(schedule string) *QueueJobWrapper {
	w.Spec.Cron = &kickqv1alpha1.CronSpec{Schedule: schedule}
	return w
}

func (w *QueueJobWrapper) cron() *kickqv1alpha1.CronSpec {
	if w.Spec.Cron == nil {
		panic("utiltesting: a Cron… method needs a cron template: call Cron first")
	}
	return w.Spec.Cron
}

// CronTimeZone sets spec.cron.timeZone.
func (w *QueueJobWrapper) CronTimeZone(tz string) *QueueJobWrapper {
	w.cron().TimeZone = &tz
	return w
}

// CronConcurrency sets spec.cron.concurrencyPolicy.
func (w *QueueJobWrapper) CronConcurrency(p kickqv1alpha1.ConcurrencyPolicy) *QueueJobWrapper {
	w.cron().ConcurrencyPolicy = p
	return w
}

// CronStartingDeadline sets spec.cron.startingDeadlineSeconds.
func (w *QueueJobWrapper) CronStartingDeadline(d time.Duration) *QueueJobWrapper {
	w.cron().StartingDeadlineSeconds = seconds(d)
	return w
}

// CronMissedRuns sets spec.cron.missedRuns, and maxMissedRuns when max > 0.
func (w *QueueJobWrapper) CronMissedRuns(p kickqv1alpha1.MissedRunsPolicy, maxRuns int32) *QueueJobWrapper {
	c := w.cron()
	c.MissedRuns = p
	if maxRuns > 0 {
		c.MaxMissedRuns = &maxRuns
	}
	return w
}

// CronSuspend sets spec.cron.suspend.
func (w *QueueJobWrapper) CronSuspend() *QueueJobWrapper {
	w.cron().Suspend = ptr.To(true)
	return w
}

// CronHistory sets spec.cron's successful and failed history limits (a negative value leaves
// one unset).
func (w *QueueJobWrapper) CronHistory(succeeded, failed int32) *QueueJobWrapper {
	c := w.cron()
	if succeeded >= 0 {
		c.SuccessfulJobsHistoryLimit = &succeeded
	}
	if failed >= 0 {
		c.FailedJobsHistoryLimit = &failed
	}
	return w
}

// Suspend sets spec.suspend.
func (w *QueueJobWrapper) Suspend() *QueueJobWrapper { w.Spec.Suspend = ptr.To(true); return w }

// Cancel sets spec.cancel.
func (w *QueueJobWrapper) Cancel() *QueueJobWrapper { w.Spec.Cancel = ptr.To(true); return w }

// Labels adds labels.
func (w *QueueJobWrapper) Labels(l map[string]string) *QueueJobWrapper {
	if w.ObjectMeta.Labels == nil {
		w.ObjectMeta.Labels = map[string]string{}
	}
	for k, v := range l {
		w.ObjectMeta.Labels[k] = v
	}
	return w
}

// Annotations adds annotations.
func (w *QueueJobWrapper) Annotations(a map[string]string) *QueueJobWrapper {
	if w.ObjectMeta.Annotations == nil {
		w.ObjectMeta.Annotations = map[string]string{}
	}
	for k, v := range a {
		w.ObjectMeta.Annotations[k] = v
	}
	return w
}

// UID sets metadata.uid (for unit tests; the API server sets its own).
func (w *QueueJobWrapper) UID(uid string) *QueueJobWrapper {
	w.ObjectMeta.UID = types.UID(uid)
	return w
}

// Created sets metadata.creationTimestamp (for unit tests; the API server sets its own).
func (w *QueueJobWrapper) Created(t time.Time) *QueueJobWrapper {
	w.CreationTimestamp = metav1.NewTime(t)
	return w
}

// WithStatus replaces the whole status (a copy of st).
func (w *QueueJobWrapper) WithStatus(st kickqv1alpha1.QueueJobStatus) *QueueJobWrapper {
	w.Status = *st.DeepCopy()
	return w
}

// Phase sets status.phase.
func (w *QueueJobWrapper) Phase(p kickqv1alpha1.QueueJobPhase) *QueueJobWrapper {
	w.Status.Phase = p
	return w
}

// Running records attempt n as running since started: phase Running, attempts n, startTime and
// one attempt record.
func (w *QueueJobWrapper) Running(attempt int32, started time.Time) *QueueJobWrapper {
	w.Status.Phase = kickqv1alpha1.PhaseRunning
	w.Status.Attempts = attempt
	w.Status.StartTime = &metav1.Time{Time: started}
	w.Status.AttemptHistory = []kickqv1alpha1.AttemptRecord{{Number: attempt, StartTime: &metav1.Time{Time: started}}}
	return w
}

// FailedAttempts sets status.failedAttempts.
func (w *QueueJobWrapper) FailedAttempts(n int32) *QueueJobWrapper {
	w.Status.FailedAttempts = n
	return w
}

// Condition sets a status condition (replacing one of the same type).
func (w *QueueJobWrapper) Condition(c metav1.Condition) *QueueJobWrapper {
	for i := range w.Status.Conditions {
		if w.Status.Conditions[i].Type == c.Type {
			w.Status.Conditions[i] = c
			return w
		}
	}
	w.Status.Conditions = append(w.Status.Conditions, c)
	return w
}

// HandlerWrapper builds the spec of a Queue's handler (or its default handler).
type HandlerWrapper struct{ kickqv1alpha1.HandlerSpec }

// MakeHandler starts an empty handler spec; set one target.
func MakeHandler() *HandlerWrapper { return &HandlerWrapper{} }

// Obj returns a copy of the handler spec built so far.
func (h *HandlerWrapper) Obj() kickqv1alpha1.HandlerSpec { return *h.DeepCopy() }

// Pod sets a pod target: one container main running image (DefaultImage when none).
func (h *HandlerWrapper) Pod(image ...string) *HandlerWrapper {
	img := ""
	if len(image) > 0 {
		img = image[0]
	}
	return h.PodTemplate(PodTemplate(img))
}

// PodTemplate sets a pod target from a template.
func (h *HandlerWrapper) PodTemplate(t corev1.PodTemplateSpec) *HandlerWrapper {
	h.HandlerSpec.Pod = &kickqv1alpha1.PodTarget{Template: t}
	return h
}

// Webhook sets a webhook target.
func (h *HandlerWrapper) Webhook(url string, opts ...WebhookOption) *HandlerWrapper {
	h.HandlerSpec.Webhook = WebhookTarget(url, opts...)
	return h
}

// Worker sets a pull-worker target.
func (h *HandlerWrapper) Worker() *HandlerWrapper {
	h.HandlerSpec.Worker = &kickqv1alpha1.WorkerTarget{}
	return h
}

// Concurrency sets the handler's concurrency.
func (h *HandlerWrapper) Concurrency(n int32) *HandlerWrapper {
	h.HandlerSpec.Concurrency = &n
	return h
}

// Rate sets the handler's rate limit: limit starts per periodSeconds.
func (h *HandlerWrapper) Rate(limit, periodSeconds int32) *HandlerWrapper {
	h.RateLimit = &kickqv1alpha1.RateLimit{Limit: limit, PeriodSeconds: periodSeconds}
	return h
}

// Retry sets the handler's retry limit and backoff.
func (h *HandlerWrapper) Retry(limit int32, backoff ...kickqv1alpha1.Backoff) *HandlerWrapper {
	h.JobPolicies.Retry = RetryPolicy(limit, backoff...)
	return h
}

// AttemptDeadline sets the handler's attemptDeadlineSeconds.
func (h *HandlerWrapper) AttemptDeadline(d time.Duration) *HandlerWrapper {
	h.AttemptDeadlineSeconds = seconds(d)
	return h
}

// QueueWrapper builds a Queue.
type QueueWrapper struct{ kickqv1alpha1.Queue }

// MakeQueue starts a Queue with a name and namespace and no limits.
func MakeQueue(name, ns string) *QueueWrapper {
	return &QueueWrapper{kickqv1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}}
}

// Obj returns a copy of the Queue built so far.
func (q *QueueWrapper) Obj() *kickqv1alpha1.Queue { return q.DeepCopy() }

// Concurrency sets spec.concurrency.
func (q *QueueWrapper) Concurrency(n int32) *QueueWrapper { q.Spec.Concurrency = &n; return q }

// Rate sets spec.rateLimit: limit starts per periodSeconds.
func (q *QueueWrapper) Rate(limit, periodSeconds int32) *QueueWrapper {
	q.Spec.RateLimit = &kickqv1alpha1.RateLimit{Limit: limit, PeriodSeconds: periodSeconds}
	return q
}

// Paused sets spec.paused.
func (q *QueueWrapper) Paused() *QueueWrapper { q.Spec.Paused = ptr.To(true); return q }

// InlineTargets sets spec.inlineTargets.
func (q *QueueWrapper) InlineTargets(p kickqv1alpha1.InlineTargetsPolicy) *QueueWrapper {
	q.Spec.InlineTargets = p
	return q
}

// Handler adds a handler for a job type.
func (q *QueueWrapper) Handler(jobType string, spec kickqv1alpha1.HandlerSpec) *QueueWrapper {
	q.Spec.Handlers = append(q.Spec.Handlers, kickqv1alpha1.Handler{Type: jobType, HandlerSpec: spec})
	return q
}

// DefaultHandler sets spec.defaultHandler.
func (q *QueueWrapper) DefaultHandler(spec kickqv1alpha1.HandlerSpec) *QueueWrapper {
	q.Spec.DefaultHandler = &spec
	return q
}

// Defaults sets spec.defaults, the policies of the queue's jobs.
func (q *QueueWrapper) Defaults(p kickqv1alpha1.JobPolicies) *QueueWrapper {
	q.Spec.Defaults = &p
	return q
}

// Retention sets spec.retention.
func (q *QueueWrapper) Retention(r kickqv1alpha1.Retention) *QueueWrapper {
	q.Spec.Retention = &r
	return q
}

func (q *QueueWrapper) retention(succeeded bool) *kickqv1alpha1.RetentionPolicy {
	if q.Spec.Retention == nil {
		q.Spec.Retention = &kickqv1alpha1.Retention{}
	}
	r := &q.Spec.Retention.Failed
	if succeeded {
		r = &q.Spec.Retention.Succeeded
	}
	if *r == nil {
		*r = &kickqv1alpha1.RetentionPolicy{}
	}
	return *r
}

// SucceededTTL sets spec.retention.succeeded.ttlSecondsAfterFinished.
func (q *QueueWrapper) SucceededTTL(d time.Duration) *QueueWrapper {
	q.retention(true).TTLSecondsAfterFinished = seconds(d)
	return q
}

// SucceededHistory sets spec.retention.succeeded.historyLimit.
func (q *QueueWrapper) SucceededHistory(n int32) *QueueWrapper {
	q.retention(true).HistoryLimit = &n
	return q
}

// FailedTTL sets spec.retention.failed.ttlSecondsAfterFinished.
func (q *QueueWrapper) FailedTTL(d time.Duration) *QueueWrapper {
	q.retention(false).TTLSecondsAfterFinished = seconds(d)
	return q
}

// FailedHistory sets spec.retention.failed.historyLimit.
func (q *QueueWrapper) FailedHistory(n int32) *QueueWrapper {
	q.retention(false).HistoryLimit = &n
	return q
}

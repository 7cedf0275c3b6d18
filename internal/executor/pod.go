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

package executor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/limits"
	"kickq.dev/kickq/internal/outcome"
	"kickq.dev/kickq/internal/report"
)

// PodOwnerIndex is the field index of pods by the name of the QueueJob that owns them.
const PodOwnerIndex = "kickq.dev/owner-job"

// IndexPodOwner returns the owning QueueJob's name of a kickq pod, for PodOwnerIndex.
func IndexPodOwner(o client.Object) []string {
	ref := metav1.GetControllerOf(o)
	if ref == nil || ref.Kind != "QueueJob" || ref.APIVersion != kickqv1alpha1.GroupVersion.String() {
		return nil
	}
	return []string{ref.Name}
}

// expectationTTL is how long a created pod that the cache does not show yet counts as expected.
const expectationTTL = 30 * time.Second

// refusalTTL is how long a refused create is remembered for Observe. Forgetting one early is
// harmless: the lifecycle starts the attempt again, and the create is refused and remembered again.
const refusalTTL = 10 * time.Minute

// Pods runs attempts as Pods. It reads pods from the manager's cache (only kickq-labelled pods
// are cached) and remembers, in memory, which pods it created and saw: a pod it saw that is gone
// is lost; one it created that the cache does not show yet is expected. It also remembers the
// creates the API server refused (validation, admission, quota), which Observe reports as the
// attempt's end, as the webhook executor reports a call's answer.
type Pods struct {
	Client client.Client // writes
	Reader client.Reader // the cache
	Scheme *runtime.Scheme
	Clock  clock.PassiveClock
	// Report, when set, gives pods KICKQ_REPORT_URL, and KICKQ_TOKEN_FILE with the token volume
	// (report.TokenVolume) it names.
	Report *report.Endpoint
	// Notify, when set, wakes a job's reconciler after its pod was refused: no pod event will.
	Notify func(types.NamespacedName)
	// Limiter, when set, charges each pod create to its queue's rate limits right before it is
	// made; without a free slot Start creates nothing and answers NotYetError.
	Limiter Limiter

	mu      sync.Mutex
	created map[attemptKey]time.Time
	seen    map[attemptKey]bool
	refused map[attemptKey]refusal
	names   jobNames // the names of the jobs those maps hold, for ForgetJob
}

// refusal is a pod create the API server refused: how the attempt ends, and when.
type refusal struct {
	result outcome.Result
	at     time.Time
}

type attemptKey struct {
	job     types.UID
	attempt int32
}

var _ Executor = &Pods{}

// NewPods returns a pod executor.
func NewPods(c client.Client, reader client.Reader, scheme *runtime.Scheme, clk clock.PassiveClock) *Pods {
	return &Pods{Client: c, Reader: reader, Scheme: scheme, Clock: clk,
		created: map[attemptKey]time.Time{}, seen: map[attemptKey]bool{}, refused: map[attemptKey]refusal{},
		names: newJobNames()}
}

// BuildPod returns the pod of an attempt: the template with kickq's name, labels, owner
// reference, restartPolicy Never, deadline and KICKQ_* environment, and with a report endpoint,
// the projected token volume every container mounts (addTokenVolume). A template that names
// kickq's volume or mount path gives a *TemplateError.
func BuildPod(job *kickqv1alpha1.QueueJob, target attempt.Target, n int32, scheme *runtime.Scheme, rep *report.Endpoint) (*corev1.Pod, error) {
	if target.Pod == nil {
		return nil, fmt.Errorf("job %s has no pod target", job.Name)
	}
	tmpl := target.Pod.Template.DeepCopy()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        attempt.PodName(job, n),
			Namespace:   job.Namespace,
			Labels:      tmpl.Labels,
			Annotations: tmpl.Annotations,
		},
		Spec: tmpl.Spec,
	}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[kickqv1alpha1.LabelJob] = job.Name
	pod.Labels[kickqv1alpha1.LabelQueue] = job.Spec.QueueName
	pod.Labels[kickqv1alpha1.LabelAttempt] = strconv.Itoa(int(n))
	if job.Spec.Type != "" {
		pod.Labels[kickqv1alpha1.LabelType] = job.Spec.Type
	}
	if k := job.Spec.Key; k != "" && len(validation.IsValidLabelValue(k)) == 0 {
		pod.Labels[kickqv1alpha1.LabelKey] = k
	}
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	if target.AttemptDeadlineSeconds != nil {
		pod.Spec.ActiveDeadlineSeconds = ptr.To(int64(*target.AttemptDeadlineSeconds))
	}
	data := "{}"
	if job.Spec.Data != nil && len(job.Spec.Data.Raw) > 0 {
		data = string(job.Spec.Data.Raw)
	}
	env := []corev1.EnvVar{
		{Name: "KICKQ_JOB", Value: job.Name},
		{Name: "KICKQ_NAMESPACE", Value: job.Namespace},
		{Name: "KICKQ_QUEUE", Value: job.Spec.QueueName},
		{Name: "KICKQ_TYPE", Value: job.Spec.Type},
		{Name: "KICKQ_ATTEMPT", Value: strconv.Itoa(int(n))},
		{Name: "KICKQ_DATA", Value: data},
	}
	if rep != nil {
		env = append(env,
			corev1.EnvVar{Name: "KICKQ_REPORT_URL", Value: rep.URL(job.Namespace, job.Name)},
			corev1.EnvVar{Name: "KICKQ_TOKEN_FILE", Value: report.TokenFile})
		if err := addTokenVolume(&pod.Spec); err != nil {
			return nil, err
		}
	}
	for i := range pod.Spec.InitContainers {
		pod.Spec.InitContainers[i].Env = mergeEnv(pod.Spec.InitContainers[i].Env, env)
	}
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].Env = mergeEnv(pod.Spec.Containers[i].Env, env)
	}
	if err := controllerutil.SetControllerReference(job, pod, scheme); err != nil {
		return nil, fmt.Errorf("setting owner of pod %s: %w", pod.Name, err)
	}
	return pod, nil
}

// mergeEnv sets kickq's variables, replacing same-named ones of the template.
func mergeEnv(have, ours []corev1.EnvVar) []corev1.EnvVar {
	out := make([]corev1.EnvVar, 0, len(have)+len(ours))
	for _, e := range have {
		replaced := false
		for _, o := range ours {
			if o.Name == e.Name {
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return append(out, ours...)
}

// Start creates the attempt's pod; AlreadyExists is success. A create the API server refuses
// (Invalid, Forbidden: see ClassifyRefusal) is the attempt's outcome, not an error: Start
// remembers it, wakes the job, and Observe reports it as Finished. Other errors (timeouts, 5xx,
// conflicts, throttling) are returned, so the reconcile is retried with backoff.
func (p *Pods) Start(ctx context.Context, job *kickqv1alpha1.QueueJob, target attempt.Target, n int32) error {
	key := attemptKey{job.UID, n}
	p.mu.Lock()
	_, known := p.refused[key]
	p.mu.Unlock()
	if known {
		p.wake(job)
		return nil
	}
	p.mu.Lock()
	p.names.add(job)
	p.mu.Unlock()
	pod, err := BuildPod(job, target, n, p.Scheme, p.Report)
	var tmplErr *TemplateError
	if errors.As(err, &tmplErr) {
		// The same template is refused again: the attempt dies, as when the API server refuses it.
		p.refuse(key, outcome.Result{Outcome: kickqv1alpha1.OutcomeDie, Reason: kickqv1alpha1.AttemptReasonPodRefused,
			Message: limits.Truncate(tmplErr.Error(), limits.MaxMessageBytes, limits.Ellipsis)})
		p.wake(job)
		return nil
	}
	if err != nil {
		return err
	}
	err = p.create(ctx, pod, types.NamespacedName{Namespace: job.Namespace, Name: job.Name}, n)
	var later *NotYetError
	if errors.As(err, &later) {
		return err
	}
	if err != nil && !apierrors.IsAlreadyExists(err) {
		r, ok := ClassifyRefusal(pod.Name, err)
		if !ok {
			return fmt.Errorf("creating pod %s for attempt %d: %w", pod.Name, n, err)
		}
		logf.FromContext(ctx).V(2).Info("the API server refused the attempt's pod", "pod", pod.Name,
			"attempt", n, "outcome", r.Outcome, "reason", r.Reason)
		p.refuse(key, r)
		p.wake(job)
		return nil
	}
	p.mu.Lock()
	p.created[key] = p.Clock.Now()
	p.mu.Unlock()
	return nil
}

// create creates the pod, charged to the rate limits right before (the API server records it
// then) and counted from its answer (it was recorded by then).
func (p *Pods) create(ctx context.Context, pod *corev1.Pod, job types.NamespacedName, n int32) error {
	if p.Limiter == nil {
		return p.Client.Create(ctx, pod)
	}
	if ok, at := p.Limiter.Charge(job, n); !ok {
		return &NotYetError{At: at}
	}
	err := p.Client.Create(ctx, pod)
	p.Limiter.Sent(job, n)
	return err
}

// refuse remembers a refused create, dropping the refusals of the job's earlier attempts and
// those older than refusalTTL (of jobs deleted before they were looked at again).
func (p *Pods) refuse(key attemptKey, r outcome.Result) {
	now := p.Clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, old := range p.refused {
		if (k.job == key.job && k.attempt < key.attempt) || now.Sub(old.at) >= refusalTTL {
			delete(p.refused, k)
		}
	}
	p.refused[key] = refusal{result: r, at: now}
}

// wake asks for the job to be looked at again.
func (p *Pods) wake(job *kickqv1alpha1.QueueJob) {
	if p.Notify != nil {
		p.Notify(types.NamespacedName{Namespace: job.Namespace, Name: job.Name})
	}
}

// Answers of the API server that refuse a pod for now, not for good. They are matched in the
// answer's message and causes, as the API server words them (ResourceQuota and ServiceAccount
// admission, authorization).
var (
	quotaRefusals     = []string{"exceeded quota", "status unknown for quota", "insufficient quota"}
	transientRefusals = []string{"error looking up service account", `cannot create resource "pods"`}
)

// ClassifyRefusal says how an attempt ends whose pod create failed with err, and false when err
// is not a refusal (timeouts, 5xx, conflicts, throttling: the create is retried). A quota
// refusal is a counted failure with backoff (QuotaExceeded), as are a missing service account,
// a namespace being deleted and kickq's own missing permission (PodRefused): they can pass
// later. Any other Invalid or Forbidden answer (validation, Pod Security, LimitRange, admission
// policies and webhooks) is Die (PodRefused): the same pod is refused again. The message is the
// API server's, bounded.
func ClassifyRefusal(pod string, err error) (outcome.Result, bool) {
	if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) {
		return outcome.Result{}, false
	}
	text := refusalText(err)
	r := outcome.Result{Outcome: kickqv1alpha1.OutcomeDie, Reason: kickqv1alpha1.AttemptReasonPodRefused,
		Message: limits.Truncate(fmt.Sprintf("the API server refused pod %s: %s", pod, err.Error()), limits.MaxMessageBytes, limits.Ellipsis)}
	if !apierrors.IsForbidden(err) {
		return r, true
	}
	switch {
	case containsAny(text, quotaRefusals):
		r.Outcome, r.Reason = kickqv1alpha1.OutcomeFail, kickqv1alpha1.AttemptReasonQuotaExceeded
	case containsAny(text, transientRefusals) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		r.Outcome = kickqv1alpha1.OutcomeFail
	}
	return r, true
}

// refusalText is an answer's message and its causes' messages, in lower case.
func refusalText(err error) string {
	parts := []string{err.Error()}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		if d := status.Status().Details; d != nil {
			for _, c := range d.Causes {
				parts = append(parts, c.Message)
			}
		}
	}
	return strings.ToLower(strings.Join(parts, "\n"))
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// Stop deletes the attempt's pod.
func (p *Pods) Stop(ctx context.Context, job *kickqv1alpha1.QueueJob, n int32) error {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: attempt.PodName(job, n), Namespace: job.Namespace}}
	err := p.Client.Delete(ctx, pod, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting pod %s: %w", pod.Name, err)
	}
	return nil
}

// Observe reports a refused create as Finished with its outcome; otherwise it reads the
// attempt's pod from the cache.
func (p *Pods) Observe(ctx context.Context, job *kickqv1alpha1.QueueJob, n int32) (attempt.Observation, error) {
	name := attempt.PodName(job, n)
	key := attemptKey{job.UID, n}
	obs := attempt.Observation{Name: name}
	p.mu.Lock()
	r, refused := p.refused[key]
	p.mu.Unlock()
	if refused {
		obs.Phase, obs.Result = attempt.Finished, r.result
		return obs, nil
	}
	var pod corev1.Pod
	err := p.Reader.Get(ctx, client.ObjectKey{Namespace: job.Namespace, Name: name}, &pod)
	if err != nil && !apierrors.IsNotFound(err) {
		return obs, fmt.Errorf("reading pod %s: %w", name, err)
	}
	if apierrors.IsNotFound(err) || !metav1.IsControlledBy(&pod, job) {
		p.mu.Lock()
		defer p.mu.Unlock()
		obs.Phase = attempt.Missing
		if p.seen[key] {
			obs.Lost = true
		} else if t, ok := p.created[key]; ok && p.Clock.Since(t) < expectationTTL {
			obs.Expected, obs.CreatedAt = true, t
		}
		if err == nil { // a pod of that name that another job owns: wait for its collection
			obs.Expected = true
		}
		return obs, nil
	}
	p.mu.Lock()
	p.seen[key] = true
	delete(p.created, key)
	p.names.add(job)
	p.mu.Unlock()

	obs.CreatedAt = pod.CreationTimestamp.Time
	obs.Deleting = pod.DeletionTimestamp != nil
	switch outcome.State(&pod) {
	case outcome.PodSucceeded, outcome.PodFailed:
		obs.Phase = attempt.Finished
		obs.Pod = &pod
	case outcome.PodRunning:
		obs.Phase = attempt.Running
	default:
		obs.Phase = attempt.NotStarted
		obs.WaitingReason, obs.WaitingMessage = outcome.WaitingReason(&pod)
	}
	return obs, nil
}

// Settled reports whether every pod of the job's earlier attempts is terminal or gone.
func (p *Pods) Settled(ctx context.Context, job *kickqv1alpha1.QueueJob, n int32) (bool, error) {
	var pods corev1.PodList
	if err := p.Reader.List(ctx, &pods, client.InNamespace(job.Namespace), client.MatchingFields{PodOwnerIndex: job.Name}); err != nil {
		return false, fmt.Errorf("listing pods of %s: %w", job.Name, err)
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if !metav1.IsControlledBy(pod, job) || pod.Name == attempt.PodName(job, n) {
			continue
		}
		if s := outcome.State(pod); s != outcome.PodSucceeded && s != outcome.PodFailed {
			return false, nil
		}
	}
	return true, nil
}

// Forget drops the job's expectations and refusals.
func (p *Pods) Forget(job types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.forgetLocked(job)
}

// forgetLocked drops the job's expectations and refusals; p.mu is held.
func (p *Pods) forgetLocked(job types.UID) {
	p.names.remove(job)
	for k := range p.refused {
		if k.job == job {
			delete(p.refused, k)
		}
	}
	for k := range p.created {
		if k.job == job {
			delete(p.created, k)
		}
	}
	for k := range p.seen {
		if k.job == job {
			delete(p.seen, k)
		}
	}
}

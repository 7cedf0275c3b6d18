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

package controllers

import (
	"context"
	"errors"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
	"kickq.dev/kickq/internal/executor"
	"kickq.dev/kickq/internal/lifecycle"
)

// What admission learns of queues and jobs: a queue's limits, and a job's view (state, priority,
// ready time, recorded starts), rebuilt from the cache when a queue is first seen.

// queueView reads the job's queue from the cache and makes sure admission knows the queue and
// its current limits.
func (r *QueueJobReconciler) queueView(ctx context.Context, job *kickqv1alpha1.QueueJob) (lifecycle.QueueView, admission.QueueKey, error) {
	qkey := admission.QueueKey{Namespace: job.Namespace, Name: job.Spec.QueueName}
	var q kickqv1alpha1.Queue
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: job.Namespace, Name: job.Spec.QueueName}, &q)
	qv := lifecycle.QueueView{DefaultRetention: r.DefaultRetention}
	gen := int64(-2) // no queue
	switch {
	case err == nil:
		qv.Spec = &q.Spec
		gen = q.Generation
	case apierrors.IsNotFound(err):
		if job.Spec.QueueName == kickqv1alpha1.DefaultQueueName {
			qv.Implicit = true
			gen = -1
		}
	default:
		return qv, qkey, err
	}
	r.Admission.EnsureQueue(qkey, func() []admission.JobView { return r.listViews(ctx, qkey, qv) })
	r.mu.Lock()
	known, ok := r.limitsFrom[qkey]
	if !ok || known != gen {
		r.limitsFrom[qkey] = gen
	}
	r.mu.Unlock()
	if !ok || known != gen {
		r.Admission.SetLimits(qkey, LimitsOf(qv.Spec))
		if r.periodGrew(qkey, qv.Spec) {
			r.observeWindowed(ctx, qkey, qv)
		}
	}
	return qv, qkey, nil
}

// listViews lists the queue's jobs from the cache, for admission's rebuild.
func (r *QueueJobReconciler) listViews(ctx context.Context, qkey admission.QueueKey, qv lifecycle.QueueView) []admission.JobView {
	var list kickqv1alpha1.QueueJobList
	// Read only: the cached objects themselves, not deep copies of a queue's every job.
	if err := r.Client.List(ctx, &list, client.InNamespace(qkey.Namespace), client.MatchingFields{QueueNameIndex: qkey.Name}, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing jobs of queue", "queue", qkey.Name)
		return nil
	}
	views := make([]admission.JobView, 0, len(list.Items))
	period, now := longestRatePeriod(qv.Spec), r.Clock.Now()
	for i := range list.Items {
		j := &list.Items[i]
		if need, _ := windowsNeed(j, period, now); j.Spec.Cron != nil || !need {
			continue // a finished job no rate window counts is not kept (admission_forget.go)
		}
		t, _, _ := lifecycle.ResolveTarget(j, qv)
		waiting := j.Status.Phase == kickqv1alpha1.PhasePending && !suspended(j)
		v := r.jobView(j, qkey, t.Handler, &j.Status, waiting)
		if j.Status.Phase == kickqv1alpha1.PhaseRunning {
			r.boundByPod(ctx, j, &v)
		} else {
			r.unrecordedView(ctx, j, &v)
		}
		views = append(views, v)
	}
	return views
}

func suspended(j *kickqv1alpha1.QueueJob) bool { return j.Spec.Suspend != nil && *j.Spec.Suspend }

// jobView is what admission needs of a job with status st.
func (r *QueueJobReconciler) jobView(job *kickqv1alpha1.QueueJob, qkey admission.QueueKey, handler string, st *kickqv1alpha1.QueueJobStatus, waiting bool) admission.JobView {
	v := admission.JobView{
		Key:          client.ObjectKeyFromObject(job),
		Queue:        qkey,
		Handler:      handler,
		SpecKey:      job.Spec.Key,
		CreationTime: job.CreationTimestamp.Time,
		ReadyTime:    job.CreationTimestamp.Time,
		Attempts:     st.Attempts,
		State:        admission.Idle,
	}
	if job.Spec.Priority != nil {
		v.Priority = *job.Spec.Priority
	}
	if st.ReadyTime != nil {
		v.ReadyTime = st.ReadyTime.Time
	}
	switch {
	case st.Phase == kickqv1alpha1.PhaseRunning:
		v.State = admission.Running
	case waiting:
		v.State = admission.Waiting
	}
	v.AttemptStarts = attemptStarts(st)
	v.PauseUntil = pauseUntil(job, st)
	return v
}

// pauseUntil is, for a job of a key whose last attempt was answered with a Retry-After (429 or
// 503 with one, a pull worker's RetryAfter) or a 429/503 without one (then its backoff), the
// time its next attempt waits for: under keyLimits.pauseOnRetryAfter its key waits as long. It
// is rebuilt from status after a restart (rounded up: never early).
func pauseUntil(job *kickqv1alpha1.QueueJob, st *kickqv1alpha1.QueueJobStatus) time.Time {
	if job.Spec.Key == "" || st.NextAttemptTime == nil || len(st.AttemptHistory) == 0 {
		return time.Time{}
	}
	last := &st.AttemptHistory[len(st.AttemptHistory)-1]
	if last.Number != st.Attempts || last.FinishTime == nil {
		return time.Time{}
	}
	code := int32(0)
	if last.HTTPStatusCode != nil {
		code = *last.HTTPStatusCode
	}
	if last.Reason != kickqv1alpha1.AttemptReasonRetryAfter && code != http.StatusTooManyRequests && code != http.StatusServiceUnavailable {
		return time.Time{}
	}
	return st.NextAttemptTime.Time
}

// attemptStarts are the job's recorded attempts, each with the latest instant status proves its
// side effects were made by: they all come before its finish, and before the next attempt's
// start (which waits for the earlier runs to end), and before the job's finish. Status times are
// whole seconds, truncated: a second is added. A running attempt has no such bound (zero).
func attemptStarts(st *kickqv1alpha1.QueueJobStatus) []admission.AttemptStart {
	h := st.AttemptHistory
	if len(h) == 0 {
		return nil
	}
	out := make([]admission.AttemptStart, 0, len(h))
	for i := range h {
		a := &h[i]
		if a.StartTime == nil {
			continue
		}
		s := admission.AttemptStart{Attempt: a.Number}
		switch {
		case a.FinishTime != nil:
			s.By = a.FinishTime.Add(time.Second)
		case i+1 < len(h) && h[i+1].StartTime != nil:
			s.By = h[i+1].StartTime.Add(time.Second)
		case st.FinishTime != nil:
			s.By = st.FinishTime.Add(time.Second)
		}
		out = append(out, s)
	}
	return out
}

// boundByPod bounds the running pod attempt of a job being rebuilt by its pod's creation, as the
// API server recorded it (whole seconds, truncated: plus a second).
func (r *QueueJobReconciler) boundByPod(ctx context.Context, job *kickqv1alpha1.QueueJob, v *admission.JobView) {
	rec := currentAttempt(job)
	if rec == nil || rec.PodName == "" || rec.FinishTime != nil || len(v.AttemptStarts) == 0 {
		return
	}
	last := &v.AttemptStarts[len(v.AttemptStarts)-1]
	if last.Attempt != rec.Number || !last.By.IsZero() {
		return
	}
	var pod corev1.Pod
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: job.Namespace, Name: rec.PodName}, &pod); err != nil || !metav1.IsControlledBy(&pod, job) {
		return // not created (or not yet seen): counted from now
	}
	last.By = pod.CreationTimestamp.Add(time.Second)
}

// startLater handles a Start that may not make its side effect yet (its rate window has no free
// slot): the pass looks again when the slot opens. It reports false for any other error.
func startLater(res *lifecycle.Result, err error) bool {
	var later *executor.NotYetError
	if !errors.As(err, &later) {
		return false
	}
	if res.RequeueAt.IsZero() || later.At.Before(res.RequeueAt) {
		res.RequeueAt = later.At
	}
	return true
}

// LimitsOf converts a queue's spec to admission limits (nil: the implicit queue, no limits).
func LimitsOf(spec *kickqv1alpha1.QueueSpec) admission.Limits {
	var l admission.Limits
	if spec == nil {
		return l
	}
	l.Paused = spec.Paused != nil && *spec.Paused
	if spec.Concurrency != nil {
		l.Concurrency = *spec.Concurrency
	}
	l.Rate = rateOf(spec.RateLimit)
	l.Keys = keyLimitsOf(spec.KeyLimits)
	l.Handlers = map[string]admission.HandlerLimits{}
	add := func(key string, h *kickqv1alpha1.HandlerSpec) {
		var hl admission.HandlerLimits
		if h.Concurrency != nil {
			hl.Concurrency = *h.Concurrency
		}
		hl.Rate = rateOf(h.RateLimit)
		hl.Keys = keyLimitsOf(h.KeyLimits)
		if hl.Concurrency > 0 || hl.Rate != nil || hl.Keys != (admission.KeyLimits{}) {
			l.Handlers[key] = hl
		}
	}
	for i := range spec.Handlers {
		add(spec.Handlers[i].Type, &spec.Handlers[i].HandlerSpec)
	}
	if spec.DefaultHandler != nil {
		add("", spec.DefaultHandler)
	}
	return l
}

func keyLimitsOf(kl *kickqv1alpha1.KeyLimits) admission.KeyLimits {
	var l admission.KeyLimits
	if kl == nil {
		return l
	}
	if kl.Concurrency != nil {
		l.Concurrency = *kl.Concurrency
	}
	l.Rate = rateOf(kl.RateLimit)
	l.PauseOnRetryAfter = kl.PauseOnRetryAfter != nil && *kl.PauseOnRetryAfter
	return l
}

func rateOf(rl *kickqv1alpha1.RateLimit) *admission.RateLimit {
	if rl == nil {
		return nil
	}
	return &admission.RateLimit{Limit: rl.Limit, Period: time.Duration(rl.PeriodSeconds) * time.Second}
}

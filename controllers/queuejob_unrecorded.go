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

// Attempts whose side effect is their own record (lifecycle.StartRecordedBySideEffect): a pod
// attempt, or a webhook call no rate limit counts, is made before status records it. Admission's
// in-memory reservation holds its slot until a status write records it; the next passes find its
// run (unrecorded) and write its start with its end when it ended within
// the --running-write-delay, else its start once the delay passed. After a restart, a job whose
// status shows no attempt but whose pod <job>-<attempts+1> exists is adopted, never started
// twice, and admission's rebuild counts it as running (unrecordedView).

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/executor"
	"kickq.dev/kickq/internal/lifecycle"
)

// observeUnrecorded looks for the run of attempt status.attempts+1 of a job that is not running:
// one this manager started without writing it yet, or one a manager made before it stopped.
func (r *QueueJobReconciler) observeUnrecorded(ctx context.Context, p *pass, target attempt.Target) error {
	st := &p.job.Status
	if st.Phase == kickqv1alpha1.PhaseRunning || lifecycle.IsFinished(st) {
		return nil
	}
	if target.Kind != attempt.KindPod && target.Kind != attempt.KindWebhook {
		return nil
	}
	exec := r.Executors[target.Kind]
	if exec == nil {
		return nil
	}
	n := st.Attempts + 1
	obs, err := exec.Observe(ctx, p.job, n)
	if err != nil {
		return err
	}
	switch obs.Phase {
	case attempt.NotStarted, attempt.Running, attempt.Finished:
	case attempt.Missing:
		// Created and not seen yet, or seen and gone (the attempt then fails as lost); else
		// nothing of it exists, or a pod of that name that the job does not own.
		if !obs.Lost && (!obs.Expected || obs.CreatedAt.IsZero()) {
			return nil
		}
	default:
		return nil
	}
	p.in.Unrecorded = &obs
	p.in.StartedAt = r.startedAt(p.key, p.job.UID, n)
	p.exec = exec
	return nil
}

// startedAt is when this manager made the side effect of the job's unrecorded attempt n (zero:
// not known).
func (r *QueueJobReconciler) startedAt(key types.NamespacedName, uid types.UID, n int32) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.times[key]; ok && t.uid == uid && t.startedAttempt == n {
		return t.started
	}
	return time.Time{}
}

// deferWrite is writeStatus for a pass whose status is not written now (lifecycle's Deferred): a
// start keeps admission's reservation and is remembered with its exact instant.
func (r *QueueJobReconciler) deferWrite(p *pass) {
	if p.res.Action != lifecycle.Start {
		return
	}
	start := p.in.Now
	for i := range p.res.Status.AttemptHistory {
		if a := &p.res.Status.AttemptHistory[i]; a.Number == p.res.Attempt && a.StartTime != nil {
			start = a.StartTime.Time
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.times[p.key]; ok && t.uid == p.job.UID {
		t.started, t.startedAttempt = start, p.res.Attempt
		r.times[p.key] = t
	}
}

// startDeferred makes the side effect of a start whose status was not written. When it may not
// be made yet (its rate window has no slot: NotYetError) the start is written as it would have
// been without deferring, and later passes start it again as a recorded attempt; any other
// failure releases admission's reservation, nothing having been started.
func (r *QueueJobReconciler) startDeferred(ctx context.Context, p *pass, exec executor.Executor) (retry bool, err error) {
	err = exec.Start(ctx, p.job, p.res.Target, p.res.Attempt)
	var later *executor.NotYetError
	switch {
	case err == nil:
		return false, nil
	case errors.As(err, &later):
		startLater(&p.res, err)
		p.res.Deferred = false
		return r.writeStatus(ctx, p)
	}
	r.Admission.Release(p.key)
	return false, err
}

// unrecordedView makes a rebuilt view of a job that is not running count the pod of its attempt
// status.attempts+1 when the cache holds one: a manager created it and stopped before status
// recorded it. It runs (it holds a concurrency slot) and its start counts in the rate windows
// from its pod's creation (whole seconds, truncated: plus a second).
func (r *QueueJobReconciler) unrecordedView(ctx context.Context, job *kickqv1alpha1.QueueJob, v *admission.JobView) {
	st := &job.Status
	if st.Phase == kickqv1alpha1.PhaseRunning || lifecycle.IsFinished(st) {
		return
	}
	n := st.Attempts + 1
	var pod corev1.Pod
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: job.Namespace, Name: attempt.PodName(job, n)}, &pod); err != nil || !metav1.IsControlledBy(&pod, job) {
		return
	}
	v.State, v.Attempts = admission.Running, n
	v.AttemptStarts = append(v.AttemptStarts, admission.AttemptStart{Attempt: n, By: pod.CreationTimestamp.Add(time.Second)})
}

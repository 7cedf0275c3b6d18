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

// What the QueueJob reconciler keeps in memory beside the API server's state, and how each is
// used and forgotten: its last status writes (to tell a stale cached copy), exact times status
// cannot hold (first sight, the exact next-attempt time), and reports held for coalescing. All of
// it is a cache: lost on restart, it only makes a pass wait for the watch or a start up to a
// second later, never a decision wrong.

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/cachetransform"
	"kickq.dev/kickq/internal/executor"
	"kickq.dev/kickq/internal/lifecycle"
)

// jobTimes are the exact times kept for one job (see QueueJobReconciler.times).
type jobTimes struct {
	uid         types.UID
	firstSeen   time.Time
	nextAttempt time.Time
	// started is when this manager made the side effect of attempt startedAttempt, which status
	// does not record yet (queuejob_unrecorded.go).
	started        time.Time
	startedAttempt int32
}

// writtenState is the part of a written status that tells a stale cached copy.
type writtenState struct {
	uid      types.UID
	attempts int32
	running  bool
	finished bool
}

func writtenOf(job *kickqv1alpha1.QueueJob) writtenState {
	return writtenState{uid: job.UID, attempts: job.Status.Attempts, running: job.Status.Phase == kickqv1alpha1.PhaseRunning,
		finished: lifecycle.IsFinished(&job.Status)}
}

func (w writtenState) newerThan(st *kickqv1alpha1.QueueJobStatus) bool {
	switch {
	case st.Attempts < w.attempts:
		return true
	case st.Attempts > w.attempts:
		return false
	}
	return (w.finished && !lifecycle.IsFinished(st)) || (!w.running && st.Phase == kickqv1alpha1.PhaseRunning)
}

// flushReports takes, for a pass that ends the running attempt, the reports the store holds back
// for coalescing, so that the attempt's last write carries what its worker was answered 202 for
// (a pod that reports and exits within the interval). It says whether there were any; Decide
// then runs again with them (a held-back heartbeat may also keep the attempt running).
func (r *QueueJobReconciler) flushReports(p *pass) bool {
	n, running := p.job.Status.Attempts, p.job.Status.Phase == kickqv1alpha1.PhaseRunning
	if p.in.Unrecorded != nil {
		n, running = n+1, true // started before status recorded it
	}
	if r.Reports == nil || p.in.Report != nil || !running || !endsAttempt(&p.res.Status, n) {
		return false
	}
	p.in.Report = r.Reports.Flush(p.key, n)
	return p.in.Report != nil
}

// endsAttempt reports whether a decided status ends running attempt n.
func endsAttempt(st *kickqv1alpha1.QueueJobStatus, n int32) bool {
	if st.Phase != kickqv1alpha1.PhaseRunning || st.Attempts != n {
		return true
	}
	for i := range st.AttemptHistory {
		if st.AttemptHistory[i].Number == n {
			return st.AttemptHistory[i].FinishTime != nil
		}
	}
	return false
}

// exactTimes returns when the job was first seen and the exact next-attempt time last decided,
// remembering now as the first sight of a job not seen before.
func (r *QueueJobReconciler) exactTimes(key types.NamespacedName, job *kickqv1alpha1.QueueJob, now time.Time) (time.Time, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.times[key]
	if !ok || t.uid != job.UID {
		t = jobTimes{uid: job.UID, firstSeen: now}
		if job.Status.Attempts > 0 || lifecycle.IsFinished(&job.Status) {
			t.firstSeen = time.Time{} // seen before this manager started: not known
		}
		r.times[key] = t
	}
	return t.firstSeen, t.nextAttempt
}

// rememberTimes keeps the exact next-attempt time of a stored status; a finished job needs none.
func (r *QueueJobReconciler) rememberTimes(p *pass) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if lifecycle.IsFinished(&p.job.Status) {
		delete(r.times, p.key)
		return
	}
	if t, ok := r.times[p.key]; ok && t.uid == p.job.UID {
		t.nextAttempt = p.res.ExactNextAttemptTime()
		if p.job.Status.Attempts >= t.startedAttempt {
			t.started, t.startedAttempt = time.Time{}, 0 // recorded
		}
		r.times[p.key] = t
	}
}

// restoreTrimmed puts back into the status decided from a cached finished job, about to be
// written whole, what the cache's transform trimmed from it, read from the API server
// (cachetransform.Restore). A job that changed or went since the cached copy asks the pass to
// look again (retry). A job that finishes in this pass was not trimmed: no read.
func (r *QueueJobReconciler) restoreTrimmed(ctx context.Context, cached, updated *kickqv1alpha1.QueueJob) (retry bool, err error) {
	if r.APIReader == nil || !cachetransform.Trimmed(cached) {
		return false, nil
	}
	var full kickqv1alpha1.QueueJob
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(updated), &full); err != nil {
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, fmt.Errorf("reading the finished job before writing its status: %w", err)
	}
	if full.UID != updated.UID || full.ResourceVersion != updated.ResourceVersion {
		return true, nil // the write would conflict: the watch brings the newer copy
	}
	cachetransform.Restore(&updated.Status, &full.Status)
	return false, nil
}

// ackReport tells the report store that what this pass took is handled.
func (r *QueueJobReconciler) ackReport(p *pass) {
	if p.in.Report != nil {
		r.Reports.Ack(p.key, p.in.Report)
	}
}

// isStale reports whether the cached job is behind this reconciler's last status write.
func (r *QueueJobReconciler) isStale(job *kickqv1alpha1.QueueJob) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	w, ok := r.written[client.ObjectKeyFromObject(job)]
	return ok && w.uid == job.UID && w.newerThan(&job.Status)
}

// forget drops what the reconciler and admission keep of a deleted job.
func (r *QueueJobReconciler) forget(key types.NamespacedName) {
	r.Admission.Forget(key)
	r.dropReports(key)
	for _, e := range r.Executors {
		if f, ok := e.(executor.JobForgetter); ok {
			f.ForgetJob(key) // waiting webhook calls are never made; pod expectations and refusals go
		}
	}
	r.mu.Lock()
	delete(r.written, key)
	delete(r.times, key)
	r.mu.Unlock()
}

func (r *QueueJobReconciler) dropReports(key types.NamespacedName) {
	if r.Reports != nil {
		r.Reports.Drop(key)
	}
}

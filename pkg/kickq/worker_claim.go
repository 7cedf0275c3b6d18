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

package kickq

// The claim protocol. The manager admits an attempt by writing the job Running with attempt N in
// status.attemptHistory, targetKind Worker and no worker. A worker claims it by writing its name
// into that record with a status update carrying the resourceVersion it read: of several workers
// racing for one attempt exactly one update succeeds, the others get a Conflict and move on to the
// next attempt. The claim also sets status.lastHeartbeatTime (the claim's time: heartbeat
// deadlines count from it) and a log line.

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// currentRecord is the record of the job's current attempt (nil: none).
func currentRecord(st *kickqv1alpha1.QueueJobStatus) *kickqv1alpha1.AttemptRecord {
	for i := range st.AttemptHistory {
		if st.AttemptHistory[i].Number == st.Attempts {
			return &st.AttemptHistory[i]
		}
	}
	return nil
}

// claimable reports whether the job's current attempt waits for a worker's claim.
func claimable(job *kickqv1alpha1.QueueJob) bool {
	st := &job.Status
	if st.Phase != kickqv1alpha1.PhaseRunning || st.Attempts == 0 || job.DeletionTimestamp != nil {
		return false
	}
	rec := currentRecord(st)
	return rec != nil && rec.TargetKind == targetKindWorker && rec.Worker == "" && rec.FinishTime == nil
}

// owns reports whether the job still shows attempt n claimed by worker name and not ended. It
// answers false only on proof: a copy older than the claim (no worker yet) counts as owned.
func owns(job *kickqv1alpha1.QueueJob, n int32, name string) bool {
	st := &job.Status
	if st.Attempts != n {
		return st.Attempts < n
	}
	if st.Phase != kickqv1alpha1.PhaseRunning {
		return false
	}
	rec := currentRecord(st)
	return rec != nil && rec.FinishTime == nil && (rec.Worker == "" || rec.Worker == name)
}

// claim writes worker name into the job's current attempt, conditional on the resourceVersion
// read. It returns the claimed job, or nil when another write won (Conflict) or the job is gone.
func claim(ctx context.Context, c client.Client, job *kickqv1alpha1.QueueJob, name string, now time.Time) (*kickqv1alpha1.QueueJob, error) {
	if !claimable(job) {
		return nil, nil // a copy showing another claim: never overwrite it
	}
	upd := job.DeepCopy()
	st := &upd.Status
	rec := currentRecord(st)
	rec.Worker = name
	hb := metav1.NewTime(now)
	st.LastHeartbeatTime = &hb
	st.Message = fmt.Sprintf("attempt %d claimed by worker %s", st.Attempts, name)
	appendStatusLog(st, kickqv1alpha1.LogEntry{Time: hb, Message: st.Message})
	err := c.Status().Update(ctx, upd)
	switch {
	case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("claiming attempt %d of %s: %w", job.Status.Attempts, client.ObjectKeyFromObject(job), err)
	}
	return upd, nil
}

// dispatch claims attempts while the worker has free slots, until ctx ends. It looks again on
// every change of a watched job and whenever a task ends.
func (w *Worker) dispatch(ctx context.Context, jobs client.Reader) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		}
		w.claimSome(ctx, jobs)
	}
}

// claimSome tries the claimable attempts of handled types in random order (spreading racing
// workers over different attempts) until its slots are full.
func (w *Worker) claimSome(ctx context.Context, jobs client.Reader) {
	free := w.free()
	if free <= 0 {
		return
	}
	var list kickqv1alpha1.QueueJobList
	if err := jobs.List(ctx, &list, client.InNamespace(w.opts.Namespace)); err != nil {
		w.log.Error(err, "listing jobs")
		return
	}
	candidates := make([]*kickqv1alpha1.QueueJob, 0, len(list.Items))
	for i := range list.Items {
		if j := &list.Items[i]; claimable(j) && w.handles(j) {
			candidates = append(candidates, j)
		}
	}
	mrand.Shuffle(len(candidates), func(i, k int) { candidates[i], candidates[k] = candidates[k], candidates[i] })
	// Claims are sent a slot's worth at a time, in parallel: a claim costs one round trip.
	for len(candidates) > 0 && free > 0 && ctx.Err() == nil {
		batch := candidates[:min(free, len(candidates))]
		candidates = candidates[len(batch):]
		won := make([]*kickqv1alpha1.QueueJob, len(batch))
		var wg sync.WaitGroup
		for i, j := range batch {
			wg.Go(func() {
				claimed, err := claim(ctx, w.c, j, w.name, w.opts.Clock.Now())
				if err != nil {
					w.log.Error(err, "claiming")
				}
				won[i] = claimed
			})
		}
		wg.Wait()
		for _, j := range won {
			if j != nil {
				w.start(j)
				free--
			}
		}
	}
}

// free is the number of tasks the worker may still start.
func (w *Worker) free() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.opts.Concurrency - len(w.tasks)
}

// handles reports whether the worker has a handler for the job's type and does not run it yet.
func (w *Worker) handles(job *kickqv1alpha1.QueueJob) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.handlers[job.Spec.Type]
	return ok && w.tasks[client.ObjectKeyFromObject(job)] == nil
}

// jobEvents wakes the dispatcher on every change and cancels a running task whose job shows the
// attempt ended or claimed by another worker, or that left the watch (no longer Running).
type jobEvents struct{ w *Worker }

func (e jobEvents) OnAdd(obj any, _ bool) { e.changed(obj, false) }
func (e jobEvents) OnUpdate(_, obj any)   { e.changed(obj, false) }
func (e jobEvents) OnDelete(obj any) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	e.changed(obj, true)
}

func (e jobEvents) changed(obj any, gone bool) {
	job, ok := obj.(*kickqv1alpha1.QueueJob)
	if !ok {
		return
	}
	w := e.w
	w.mu.Lock()
	r := w.tasks[client.ObjectKeyFromObject(job)]
	w.mu.Unlock()
	if r != nil {
		// A job that left the watch did so after its last state shown here.
		if !owns(job, r.task.Attempt, w.name) || (gone && job.Status.Attempts == r.task.Attempt) {
			r.cancel(errClaimLost)
		}
	}
	w.wake()
}

// targetKindWorker is attemptHistory[].targetKind of a pull worker's attempt.
const targetKindWorker = "Worker"

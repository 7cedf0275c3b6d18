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
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
	"kickq.dev/kickq/internal/metrics"
)

// StatusWriteInterval is the least time between two status writes of one queue.
const StatusWriteInterval = time.Second

// StatisticsRefresh is the least time between two looks at a queue that only its statistics'
// windows ask for (job events look sooner, paced by StatusWriteInterval).
const StatisticsRefresh = 5 * time.Second

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// QueueReconciler keeps a Queue's status: counts per phase, the rate window, the oldest pending
// job, the statistics (throughput, wait and run percentiles) and conditions. It writes status only; the RetentionReconciler deletes what the queue's
// retention no longer keeps. Writes are coalesced to at most one per StatusWriteInterval per
// queue.
type QueueReconciler struct {
	Client    client.Client
	Clock     Clock
	Admission *admission.Admission
	// Stats are the queues' recent statistics, fed by the QueueJob reconciler's writes (nil:
	// status has none).
	Stats *metrics.Stats
	// WriteClock paces status writes in real time, also under a test's fake Clock: the pacing
	// bounds cost and decides nothing, and paced by a fake clock that a spec steps only now and
	// then, every queue's status would stall until the next step.
	WriteClock clock.PassiveClock

	pace pacer
	// wake carries queues whose statistics change by time alone (a sample leaves a window).
	wake chan event.TypedGenericEvent[*kickqv1alpha1.Queue]
}

// Reconcile recomputes one queue's status.
func (r *QueueReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var q kickqv1alpha1.Queue
	if err := r.Client.Get(ctx, req.NamespacedName, &q); err != nil {
		if apierrors.IsNotFound(err) {
			r.pace.forget(req.NamespacedName)
			r.Stats.Forget(metrics.StatsKey{Namespace: req.Namespace, Queue: req.Name})
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	log := ctrl.LoggerFrom(ctx).WithValues("queue", klog.KObj(&q))
	// Under load, every job event lands here: look (and write) at most once per interval.
	if wait := r.pace.wait(req.NamespacedName, r.WriteClock, StatusWriteInterval); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}

	var jobs kickqv1alpha1.QueueJobList
	if err := r.Client.List(ctx, &jobs, client.InNamespace(q.Namespace), client.MatchingFields{QueueNameIndex: q.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the queue's jobs: %w", err)
	}
	now := r.Clock.Now()
	st := queueStatus(&q, jobs.Items, r.Admission.Stats(admission.QueueKey{Namespace: q.Namespace, Name: q.Name}), now)
	var next time.Time
	st.Statistics, next = r.Stats.Snapshot(metrics.StatsKey{Namespace: q.Namespace, Queue: q.Name}, now)
	result := r.wakeAt(req.NamespacedName, now, next)
	if equality.Semantic.DeepEqual(q.Status, st) {
		return result, nil
	}
	q.Status = st
	if err := r.Client.Status().Update(ctx, &q); err != nil {
		if apierrors.IsConflict(err) {
			// The next look is paced to an interval from now anyway.
			return ctrl.Result{RequeueAfter: StatusWriteInterval}, nil
		}
		return ctrl.Result{}, fmt.Errorf("writing the queue's status: %w", err)
	}
	log.V(4).Info("queue status written", "counts", st.Counts)
	return result, nil
}

// wakeAt asks to look at the queue again when its statistics next change by time alone (none
// when next is zero), at most every StatisticsRefresh: each look lists the queue's jobs.
func (r *QueueReconciler) wakeAt(key types.NamespacedName, now, next time.Time) ctrl.Result {
	if next.IsZero() {
		return ctrl.Result{}
	}
	next = latest(next, now.Add(StatisticsRefresh))
	return ctrl.Result{RequeueAfter: wakeAfter(r.Clock, next, func() {
		q := &kickqv1alpha1.Queue{}
		q.Namespace, q.Name = key.Namespace, key.Name
		select {
		case r.wake <- event.TypedGenericEvent[*kickqv1alpha1.Queue]{Object: q}:
		default: // the controller is busy with wake-ups; the next event or pass looks again
		}
	})}
}

// queueStatus computes the queue's status from its jobs and admission's counts, at now.
func queueStatus(q *kickqv1alpha1.Queue, jobs []kickqv1alpha1.QueueJob, stats admission.Stats, at time.Time) kickqv1alpha1.QueueStatus {
	st := *q.Status.DeepCopy()
	st.ObservedGeneration = q.Generation
	st.Counts = kickqv1alpha1.QueueCounts{}
	var oldest *metav1.Time
	for i := range jobs {
		j := &jobs[i]
		switch j.Status.Phase {
		case kickqv1alpha1.PhaseBlocked:
			st.Counts.Blocked++
		case kickqv1alpha1.PhaseDelayed:
			st.Counts.Delayed++
		case kickqv1alpha1.PhasePending:
			st.Counts.Pending++
			if j.Status.ReadyTime != nil && (oldest == nil || j.Status.ReadyTime.Before(oldest)) {
				oldest = j.Status.ReadyTime
			}
		case kickqv1alpha1.PhaseRunning:
			st.Counts.Running++
		case kickqv1alpha1.PhaseSucceeded:
			st.Counts.Succeeded++
		case kickqv1alpha1.PhaseFailed:
			st.Counts.Failed++
		}
	}
	st.OldestPendingTime = oldest
	st.StartedInWindow = stats.StartedInWindow
	st.Keys = queueKeys(jobs)
	now := metav1.NewTime(at)
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: kickqv1alpha1.QueueReady, Status: metav1.ConditionTrue,
		Reason: kickqv1alpha1.QueueReasonConfigured, Message: "the queue admits jobs per its spec", ObservedGeneration: q.Generation, LastTransitionTime: now})
	paused := metav1.Condition{Type: kickqv1alpha1.QueuePaused, Status: metav1.ConditionFalse, Reason: kickqv1alpha1.QueueReasonRunning,
		Message: "the queue starts new attempts", ObservedGeneration: q.Generation, LastTransitionTime: now}
	if q.Spec.Paused != nil && *q.Spec.Paused {
		paused.Status, paused.Reason, paused.Message = metav1.ConditionTrue, kickqv1alpha1.QueueReasonPaused, "spec.paused: no new attempts start"
	}
	meta.SetStatusCondition(&st.Conditions, paused)
	return st
}

// queueKeys counts the keys (spec.key) with Pending or Running jobs and lists the busiest by
// Pending jobs (most first, then by key; at most MaxBusiestKeys); nil while no such job has a key.
func queueKeys(jobs []kickqv1alpha1.QueueJob) *kickqv1alpha1.QueueKeys {
	counts := map[string]*kickqv1alpha1.KeyCount{}
	for i := range jobs {
		j := &jobs[i]
		k := j.Spec.Key
		if k == "" || (j.Status.Phase != kickqv1alpha1.PhasePending && j.Status.Phase != kickqv1alpha1.PhaseRunning) {
			continue
		}
		c := counts[k]
		if c == nil {
			c = &kickqv1alpha1.KeyCount{Key: k}
			counts[k] = c
		}
		if j.Status.Phase == kickqv1alpha1.PhasePending {
			c.Pending++
		} else {
			c.Running++
		}
	}
	if len(counts) == 0 {
		return nil
	}
	keys := &kickqv1alpha1.QueueKeys{Active: int32(len(counts))}
	for _, c := range counts {
		if c.Pending > 0 {
			keys.Busiest = append(keys.Busiest, *c)
		}
	}
	slices.SortFunc(keys.Busiest, func(x, y kickqv1alpha1.KeyCount) int {
		if c := cmp.Compare(y.Pending, x.Pending); c != 0 {
			return c
		}
		return cmp.Compare(x.Key, y.Key)
	})
	if len(keys.Busiest) > kickqv1alpha1.MaxBusiestKeys {
		keys.Busiest = keys.Busiest[:kickqv1alpha1.MaxBusiestKeys]
	}
	return keys
}

// pacer spaces out the passes of a reconciler per object: at most one per interval.
type pacer struct {
	mu   sync.Mutex
	last map[types.NamespacedName]time.Time // when each object's last pass began
}

// wait returns how long the pass for key must wait, or zero when it may run now (and records
// it as begun).
func (p *pacer) wait(key types.NamespacedName, clk clock.PassiveClock, interval time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == nil {
		p.last = map[types.NamespacedName]time.Time{}
	}
	wait := interval - clk.Since(p.last[key])
	if wait <= 0 {
		p.last[key] = clk.Now()
	}
	return max(wait, 0)
}

// forget drops what the pacer knows of a deleted object.
func (p *pacer) forget(key types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.last, key)
}

// SetupWithManager registers the controller: Queues, the jobs that name them, and the wake-ups
// of statistics windows.
func (r *QueueReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.wake = make(chan event.TypedGenericEvent[*kickqv1alpha1.Queue], wakeBuffer)
	return ctrl.NewControllerManagedBy(mgr).
		Named("queue").
		WithOptions(fairQueue).
		For(&kickqv1alpha1.Queue{}).
		Watches(&kickqv1alpha1.QueueJob{}, handler.EnqueueRequestsFromMapFunc(queueOfJob)).
		WatchesRawSource(source.Channel(r.wake, &handler.TypedEnqueueRequestForObject[*kickqv1alpha1.Queue]{})).
		Complete(r)
}

// queueOfJob maps a job to its queue.
func queueOfJob(_ context.Context, o client.Object) []reconcile.Request {
	j, ok := o.(*kickqv1alpha1.QueueJob)
	if !ok {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: j.Namespace, Name: j.Spec.QueueName}}}
}

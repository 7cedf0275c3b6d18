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
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
	"kickq.dev/kickq/internal/lifecycle"
)

// StatusWriteInterval is the least time between two status writes of one queue.
const StatusWriteInterval = time.Second

// QueueReconciler keeps a Queue's status: counts per phase, the rate window, the oldest pending
// job and conditions. Writes are coalesced to at most one per StatusWriteInterval per queue.
type QueueReconciler struct {
	Client    client.Client
	Clock     clock.PassiveClock
	Admission *admission.Admission
	// WriteClock paces status writes in real time (also under a test's fake Clock).
	WriteClock clock.PassiveClock

	mu        sync.Mutex
	lastWrite map[types.NamespacedName]time.Time // when each queue's status was last computed
}

// Reconcile recomputes one queue's status.
func (r *QueueReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var q kickqv1alpha1.Queue
	if err := r.Client.Get(ctx, req.NamespacedName, &q); err != nil {
		if apierrors.IsNotFound(err) {
			r.mu.Lock()
			delete(r.lastWrite, req.NamespacedName)
			r.mu.Unlock()
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	log := ctrl.LoggerFrom(ctx).WithValues("queue", klog.KObj(&q))
	// Under load, every job event lands here: look (and write) at most once per interval.
	r.mu.Lock()
	if r.lastWrite == nil {
		r.lastWrite = map[types.NamespacedName]time.Time{}
	}
	wait := StatusWriteInterval - r.WriteClock.Since(r.lastWrite[req.NamespacedName])
	if wait <= 0 {
		r.lastWrite[req.NamespacedName] = r.WriteClock.Now()
	}
	r.mu.Unlock()
	if wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}

	var jobs kickqv1alpha1.QueueJobList
	if err := r.Client.List(ctx, &jobs, client.InNamespace(q.Namespace), client.MatchingFields{QueueNameIndex: q.Name}); err != nil {
		return ctrl.Result{}, err
	}
	st := *q.Status.DeepCopy()
	st.ObservedGeneration = q.Generation
	st.Counts = kickqv1alpha1.QueueCounts{}
	var oldest *metav1.Time
	for i := range jobs.Items {
		j := &jobs.Items[i]
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
	if err := r.enforceHistoryLimits(ctx, &q, jobs.Items); err != nil {
		return ctrl.Result{}, err
	}
	st.StartedInWindow = r.Admission.Stats(admission.QueueKey{Namespace: q.Namespace, Name: q.Name}).StartedInWindow
	now := metav1.NewTime(r.Clock.Now())
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: kickqv1alpha1.QueueReady, Status: metav1.ConditionTrue,
		Reason: "Configured", Message: "the queue admits jobs per its spec", ObservedGeneration: q.Generation, LastTransitionTime: now})
	paused := metav1.Condition{Type: kickqv1alpha1.QueuePaused, Status: metav1.ConditionFalse, Reason: "Running",
		Message: "the queue starts new attempts", ObservedGeneration: q.Generation, LastTransitionTime: now}
	if q.Spec.Paused != nil && *q.Spec.Paused {
		paused.Status, paused.Reason, paused.Message = metav1.ConditionTrue, "Paused", "spec.paused: no new attempts start"
	}
	meta.SetStatusCondition(&st.Conditions, paused)

	if equality.Semantic.DeepEqual(q.Status, st) {
		return ctrl.Result{}, nil
	}
	q.Status = st
	if err := r.Client.Status().Update(ctx, &q); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{}, err
	}
	log.V(4).Info("queue status written", "counts", st.Counts)
	return ctrl.Result{}, nil
}

// maxDeletesPerPass bounds how many jobs one pass deletes for history limits.
const maxDeletesPerPass = 500

// enforceHistoryLimits deletes the oldest finished jobs of each phase beyond the queue's
// retention historyLimit. Jobs whose completion callback is still due are kept until it settles.
func (r *QueueReconciler) enforceHistoryLimits(ctx context.Context, q *kickqv1alpha1.Queue, jobs []kickqv1alpha1.QueueJob) error {
	budget := maxDeletesPerPass
	for _, phase := range []kickqv1alpha1.QueueJobPhase{kickqv1alpha1.PhaseSucceeded, kickqv1alpha1.PhaseFailed} {
		p := lifecycle.RetentionFor(&q.Spec, phase)
		if p == nil || p.HistoryLimit == nil {
			continue
		}
		n, err := deleteOldestFinished(ctx, r.Client, jobs, phase, int(*p.HistoryLimit), budget)
		if err != nil {
			return err
		}
		budget -= n
		if n > 0 {
			ctrl.LoggerFrom(ctx).V(2).Info("deleted finished jobs beyond the history limit", "phase", phase, "deleted", n)
		}
	}
	return nil
}

// SetupWithManager registers the controller: Queues and the jobs that name them.
func (r *QueueReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("queue").
		For(&kickqv1alpha1.Queue{}).
		Watches(&kickqv1alpha1.QueueJob{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.(*kickqv1alpha1.QueueJob).Spec.QueueName}}}
		})).
		Complete(r)
}

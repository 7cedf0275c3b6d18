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
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/lifecycle"
)

// RetentionInterval is the least time between two retention passes of one queue.
const RetentionInterval = time.Second

// maxDeletesPerPass bounds how many jobs one pass deletes for history limits.
const maxDeletesPerPass = 500

// RetentionReconciler deletes the oldest finished jobs of a queue beyond its retention
// historyLimit, per phase. (A retention TTL is the queuejob reconciler's: it times each job.) It
// writes no status.
type RetentionReconciler struct {
	Client client.Client
	// PaceClock paces passes in real time, also under a test's fake clock, like the queue status
	// reconciler's WriteClock: at most one pass per queue per RetentionInterval, however many of
	// its jobs finish.
	PaceClock clock.PassiveClock

	pace pacer
}

// Reconcile runs one retention pass for one queue.
func (r *RetentionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var q kickqv1alpha1.Queue
	if err := r.Client.Get(ctx, req.NamespacedName, &q); err != nil {
		if apierrors.IsNotFound(err) {
			r.pace.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !hasHistoryLimit(&q.Spec) {
		return ctrl.Result{}, nil
	}
	if wait := r.pace.wait(req.NamespacedName, r.PaceClock, RetentionInterval); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithValues("queue", klog.KObj(&q)))
	var jobs kickqv1alpha1.QueueJobList
	if err := r.Client.List(ctx, &jobs, client.InNamespace(q.Namespace), client.MatchingFields{QueueNameIndex: q.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the queue's jobs: %w", err)
	}
	n, err := enforceHistoryLimits(ctx, r.Client, &q, jobs.Items)
	if err != nil {
		return ctrl.Result{}, err
	}
	if n >= maxDeletesPerPass {
		// The budget ran out: more may be beyond the limits.
		return ctrl.Result{RequeueAfter: RetentionInterval}, nil
	}
	return ctrl.Result{}, nil
}

// hasHistoryLimit tells whether the queue's retention limits the history of a phase.
func hasHistoryLimit(spec *kickqv1alpha1.QueueSpec) bool {
	for _, phase := range []kickqv1alpha1.QueueJobPhase{kickqv1alpha1.PhaseSucceeded, kickqv1alpha1.PhaseFailed} {
		if p := lifecycle.RetentionFor(spec, phase); p != nil && p.HistoryLimit != nil {
			return true
		}
	}
	return false
}

// enforceHistoryLimits deletes the oldest finished jobs of each phase beyond the queue's
// retention historyLimit, at most maxDeletesPerPass in all. Jobs whose completion callback is
// still due are kept until it settles. It returns how many it deleted.
func enforceHistoryLimits(ctx context.Context, c client.Client, q *kickqv1alpha1.Queue, jobs []kickqv1alpha1.QueueJob) (int, error) {
	budget := maxDeletesPerPass
	for _, phase := range []kickqv1alpha1.QueueJobPhase{kickqv1alpha1.PhaseSucceeded, kickqv1alpha1.PhaseFailed} {
		p := lifecycle.RetentionFor(&q.Spec, phase)
		if p == nil || p.HistoryLimit == nil {
			continue
		}
		n, err := deleteOldestFinished(ctx, c, jobs, phase, int(*p.HistoryLimit), budget)
		if err != nil {
			return maxDeletesPerPass - budget, err
		}
		budget -= n
		if n > 0 {
			ctrl.LoggerFrom(ctx).V(2).Info("deleted finished jobs beyond the history limit", "phase", phase, "deleted", n)
		}
	}
	return maxDeletesPerPass - budget, nil
}

// enteredHistory passes the job events that can put a queue over a history limit: a job that
// history counts appears (also when the cache starts), or one starts being counted (it finished,
// or its completion callback settled). Deletions only make room.
var enteredHistory = predicate.Funcs{
	CreateFunc: func(e event.CreateEvent) bool {
		j, ok := e.Object.(*kickqv1alpha1.QueueJob)
		return ok && inHistory(j)
	},
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*kickqv1alpha1.QueueJob)
		n, ok2 := e.ObjectNew.(*kickqv1alpha1.QueueJob)
		return ok1 && ok2 && inHistory(n) && (!inHistory(o) || o.Status.Phase != n.Status.Phase)
	},
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
}

// SetupWithManager registers the controller: Queues (created, or their spec changed) and the
// jobs that enter their history.
func (r *RetentionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("retention").
		WithOptions(fairQueue).
		For(&kickqv1alpha1.Queue{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&kickqv1alpha1.QueueJob{}, handler.EnqueueRequestsFromMapFunc(queueOfJob), builder.WithPredicates(enteredHistory)).
		Complete(r)
}

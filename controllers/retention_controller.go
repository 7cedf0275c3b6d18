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
	"math"
	"strconv"
	"strings"
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
// historyLimit, per phase, or beyond the manager's --default-retention historyLimit for a phase
// the queue sets no retention for. (A retention TTL is the queuejob reconciler's: it times each
// job, lifecycle.TTL.) It writes no status.
type RetentionReconciler struct {
	Client client.Client
	// Default is the cluster-wide default retention (--default-retention; nil: none): a job's own
	// ttlSecondsAfterFinished and its queue's retention for the phase win over it.
	Default *kickqv1alpha1.Retention
	// PaceClock paces passes in real time, also under a test's fake clock, like the queue status
	// reconciler's WriteClock: at most one pass per queue per RetentionInterval, however many of
	// its jobs finish.
	PaceClock clock.PassiveClock

	pace pacer
}

// Reconcile runs one retention pass for one queue.
func (r *RetentionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	q := &kickqv1alpha1.Queue{}
	var spec *kickqv1alpha1.QueueSpec // nil: no Queue object (the implicit default queue)
	switch err := r.Client.Get(ctx, req.NamespacedName, q); {
	case err == nil:
		spec = &q.Spec
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, err
	case !hasHistoryLimit(nil, r.Default):
		r.pace.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	default:
		// Jobs of a queue with no Queue object fall under the default retention alone.
		q.Namespace, q.Name = req.Namespace, req.Name
	}
	if !hasHistoryLimit(spec, r.Default) {
		return ctrl.Result{}, nil
	}
	if wait := r.pace.wait(req.NamespacedName, r.PaceClock, RetentionInterval); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithValues("queue", klog.KObj(q)))
	var jobs kickqv1alpha1.QueueJobList
	if err := r.Client.List(ctx, &jobs, client.InNamespace(q.Namespace), client.MatchingFields{QueueNameIndex: q.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the queue's jobs: %w", err)
	}
	n, err := enforceHistoryLimits(ctx, r.Client, spec, r.Default, jobs.Items)
	if err != nil {
		return ctrl.Result{}, err
	}
	if n >= maxDeletesPerPass {
		// The budget ran out: more may be beyond the limits.
		return ctrl.Result{RequeueAfter: RetentionInterval}, nil
	}
	return ctrl.Result{}, nil
}

// hasHistoryLimit tells whether the queue's retention (or the default for a phase it sets none
// for) limits the history of a phase.
func hasHistoryLimit(spec *kickqv1alpha1.QueueSpec, def *kickqv1alpha1.Retention) bool {
	for _, phase := range []kickqv1alpha1.QueueJobPhase{kickqv1alpha1.PhaseSucceeded, kickqv1alpha1.PhaseFailed} {
		if p := lifecycle.EffectiveRetention(spec, def, phase); p != nil && p.HistoryLimit != nil {
			return true
		}
	}
	return false
}

// enforceHistoryLimits deletes the oldest finished jobs of each phase beyond the queue's
// retention historyLimit (else the default's), at most maxDeletesPerPass in all. Jobs whose
// completion callback is still due are kept until it settles. It returns how many it deleted.
func enforceHistoryLimits(ctx context.Context, c client.Client, spec *kickqv1alpha1.QueueSpec, def *kickqv1alpha1.Retention, jobs []kickqv1alpha1.QueueJob) (int, error) {
	budget := maxDeletesPerPass
	for _, phase := range []kickqv1alpha1.QueueJobPhase{kickqv1alpha1.PhaseSucceeded, kickqv1alpha1.PhaseFailed} {
		p := lifecycle.EffectiveRetention(spec, def, phase)
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

// ParseDefaultRetention parses --default-retention: comma-separated PHASE.FIELD=VALUE with PHASE
// succeeded or failed, FIELD ttl (a Go duration in whole seconds, kept as
// ttlSecondsAfterFinished) or historyLimit (a count), e.g.
// "succeeded.ttl=24h,failed.ttl=168h,succeeded.historyLimit=1000". Empty: nil (no default).
func ParseDefaultRetention(s string) (*kickqv1alpha1.Retention, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	r := &kickqv1alpha1.Retention{}
	for _, item := range strings.Split(s, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		phase, field, ok2 := strings.Cut(key, ".")
		if !ok || !ok2 {
			return nil, fmt.Errorf("%q: want PHASE.FIELD=VALUE, e.g. succeeded.ttl=24h", item)
		}
		var p **kickqv1alpha1.RetentionPolicy
		switch phase {
		case "succeeded":
			p = &r.Succeeded
		case "failed":
			p = &r.Failed
		default:
			return nil, fmt.Errorf("%q: the phase is succeeded or failed, not %q", item, phase)
		}
		if *p == nil {
			*p = &kickqv1alpha1.RetentionPolicy{}
		}
		n, err := retentionValue(field, val)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", item, err)
		}
		if field == "ttl" {
			(*p).TTLSecondsAfterFinished = &n
		} else {
			(*p).HistoryLimit = &n
		}
	}
	return r, nil
}

// retentionValue is a ttl (a duration, to whole seconds) or a historyLimit (a count), as int32.
func retentionValue(field, val string) (int32, error) {
	switch field {
	case "ttl":
		d, err := time.ParseDuration(val)
		if err != nil || d < 0 || d%time.Second != 0 || d/time.Second > math.MaxInt32 {
			return 0, fmt.Errorf("ttl must be a duration of whole seconds, 0s or more (e.g. 24h), not %q", val)
		}
		return int32(d / time.Second), nil
	case "historyLimit":
		n, err := strconv.ParseInt(val, 10, 32)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("historyLimit must be a count, 0 or more, not %q", val)
		}
		return int32(n), nil
	}
	return 0, fmt.Errorf("the field is ttl or historyLimit, not %q", field)
}

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

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/executor"
	"kickq.dev/kickq/internal/lifecycle"
)

// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch

// LeaseReconciler follows the Leases of pull workers (label kickq.dev/worker: "true"), one per
// worker process, renewed by the worker. It writes nothing: when a worker's Lease expires by the
// manager's clock (renewTime + leaseDurationSeconds) or is deleted, it wakes the jobs whose
// running attempt that worker claimed (WorkerIndex), and their reconcile fails them as
// WorkerLost; until then it looks again at the exact expiry. A renewal is one reconcile of the
// Lease, not one per job.
type LeaseReconciler struct {
	Client client.Client
	Clock  Clock
	// Wake asks for a reconcile of a job (the QueueJob reconciler's notify).
	Wake func(types.NamespacedName)

	wake chan event.TypedGenericEvent[*coordinationv1.Lease]
}

// Reconcile looks at one worker's Lease.
func (r *LeaseReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var l coordinationv1.Lease
	err := r.Client.Get(ctx, req.NamespacedName, &l)
	switch {
	case apierrors.IsNotFound(err):
		return ctrl.Result{}, r.wakeClaims(ctx, req.NamespacedName)
	case err != nil:
		return ctrl.Result{}, err
	}
	wl := executor.LeaseOf(&l)
	expiry := wl.RenewTime.Add(wl.Duration)
	if wl.Found && r.Clock.Now().Before(expiry) {
		key := req.NamespacedName
		return ctrl.Result{RequeueAfter: wakeAfter(r.Clock, expiry, func() { r.requeue(key) })}, nil
	}
	ctrl.LoggerFrom(ctx).V(2).Info("worker lease expired: waking its claimed jobs", "lease", klog.KObj(&l))
	return ctrl.Result{}, r.wakeClaims(ctx, req.NamespacedName)
}

// wakeClaims wakes every unfinished job whose running attempt the worker claimed.
func (r *LeaseReconciler) wakeClaims(ctx context.Context, worker types.NamespacedName) error {
	var jobs kickqv1alpha1.QueueJobList
	if err := r.Client.List(ctx, &jobs, client.InNamespace(worker.Namespace), client.MatchingFields{WorkerIndex: worker.Name}); err != nil {
		return fmt.Errorf("listing the jobs worker %s claimed: %w", worker.Name, err)
	}
	for i := range jobs.Items {
		r.Wake(client.ObjectKeyFromObject(&jobs.Items[i]))
	}
	return nil
}

// requeue asks for another look at a Lease (a fake clock's timer fired).
func (r *LeaseReconciler) requeue(key types.NamespacedName) {
	l := &coordinationv1.Lease{}
	l.Namespace, l.Name = key.Namespace, key.Name
	go func() { r.wake <- event.TypedGenericEvent[*coordinationv1.Lease]{Object: l} }()
}

// SetupWithManager registers the controller on the workers' Leases.
func (r *LeaseReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.wake = make(chan event.TypedGenericEvent[*coordinationv1.Lease])
	isWorker := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetLabels()[kickqv1alpha1.LabelWorker] == "true"
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("workerlease").
		For(&coordinationv1.Lease{}, builder.WithPredicates(isWorker)).
		WatchesRawSource(source.Channel(r.wake, &handler.TypedEnqueueRequestForObject[*coordinationv1.Lease]{})).
		Complete(r)
}

// IndexClaimingWorker is WorkerIndex's function: the worker that claimed a Running job's current
// attempt, while that attempt has not ended.
func IndexClaimingWorker(o client.Object) []string {
	job := o.(*kickqv1alpha1.QueueJob)
	if job.Status.Phase != kickqv1alpha1.PhaseRunning || lifecycle.IsFinished(&job.Status) {
		return nil
	}
	for _, a := range job.Status.AttemptHistory {
		if a.Number == job.Status.Attempts && a.Worker != "" && a.FinishTime == nil {
			return []string{a.Worker}
		}
	}
	return nil
}

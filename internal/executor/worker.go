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
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
)

// Workers is the executor of pull-worker targets. The manager starts nothing: admission's status
// write (Running, attempt N) is what workers claim, the claim and the outcome are written by the
// worker into attemptHistory[N], and stopping is the status saying the attempt ended (the worker
// watches it and cancels the task). Observe reports the claim and the claiming worker's Lease as
// the cache holds it; the lifecycle decides what they mean.
type Workers struct {
	// Leases reads the workers' Leases (the manager's cache).
	Leases client.Reader
}

// Start does nothing: the admitted attempt in status is the work item workers claim.
func (*Workers) Start(context.Context, *kickqv1alpha1.QueueJob, attempt.Target, int32) error {
	return nil
}

// Stop does nothing: the attempt's end in status is what its worker acts on.
func (*Workers) Stop(context.Context, *kickqv1alpha1.QueueJob, int32) error { return nil }

// Settled is always true: an attempt's end is in status before the next one starts, and a worker
// that lost its claim cancels the task.
func (*Workers) Settled(context.Context, *kickqv1alpha1.QueueJob, int32) (bool, error) {
	return true, nil
}

// Forget does nothing: the executor keeps nothing per job.
func (*Workers) Forget(types.UID) {}

// Observe reports attempt n: Finished once its record has a finish time, NotStarted while no
// worker claimed it, else Running with the claiming worker's Lease.
func (w *Workers) Observe(ctx context.Context, job *kickqv1alpha1.QueueJob, n int32) (attempt.Observation, error) {
	var rec *kickqv1alpha1.AttemptRecord
	for i := range job.Status.AttemptHistory {
		if job.Status.AttemptHistory[i].Number == n {
			rec = &job.Status.AttemptHistory[i]
		}
	}
	switch {
	case rec == nil:
		return attempt.Observation{Phase: attempt.Missing}, nil
	case rec.FinishTime != nil:
		return attempt.Observation{Phase: attempt.Finished, Name: rec.Worker}, nil
	case rec.Worker == "":
		return attempt.Observation{Phase: attempt.NotStarted}, nil
	}
	obs := attempt.Observation{Phase: attempt.Running, Name: rec.Worker}
	var lease coordinationv1.Lease
	err := w.Leases.Get(ctx, types.NamespacedName{Namespace: job.Namespace, Name: rec.Worker}, &lease)
	switch {
	case apierrors.IsNotFound(err):
		return obs, nil
	case err != nil:
		return obs, fmt.Errorf("reading the Lease of worker %s: %w", rec.Worker, err)
	}
	obs.Lease = LeaseOf(&lease)
	return obs, nil
}

// LeaseOf is what the lifecycle needs of a worker's Lease. A Lease without the worker label is
// not a kickq worker's: it counts as missing.
func LeaseOf(l *coordinationv1.Lease) attempt.WorkerLease {
	if l.Labels[kickqv1alpha1.LabelWorker] != "true" {
		return attempt.WorkerLease{}
	}
	wl := attempt.WorkerLease{Found: true}
	switch {
	case l.Spec.RenewTime != nil:
		wl.RenewTime = l.Spec.RenewTime.Time
	case l.Spec.AcquireTime != nil:
		wl.RenewTime = l.Spec.AcquireTime.Time
	default:
		wl.RenewTime = l.CreationTimestamp.Time
	}
	if d := l.Spec.LeaseDurationSeconds; d != nil && *d > 0 {
		wl.Duration = time.Duration(*d) * time.Second
	}
	return wl
}

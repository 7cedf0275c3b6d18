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

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/executor"
)

// Field indexes of the manager's cache. Tests use the same constants.
const (
	// QueueNameIndex indexes QueueJobs by spec.queueName.
	QueueNameIndex = "spec.queueName"
	// BatchIndex indexes QueueJobs by spec.batch.
	BatchIndex = "spec.batch"
	// AfterJobIndex indexes QueueJobs by the names in spec.after.jobNames.
	AfterJobIndex = "spec.after.jobNames"
	// AfterBatchIndex indexes QueueJobs by spec.after.batch.
	AfterBatchIndex = "spec.after.batch"
	// WorkerIndex indexes Running QueueJobs by the pull worker that claimed their current
	// attempt (attemptHistory[].worker): the Lease controller finds a worker's claims by it.
	WorkerIndex = "status.claimedBy"
)

// SetupIndexes registers the field indexes the controllers read.
func SetupIndexes(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &kickqv1alpha1.QueueJob{}, QueueNameIndex, func(o client.Object) []string {
		return []string{o.(*kickqv1alpha1.QueueJob).Spec.QueueName}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &kickqv1alpha1.QueueJob{}, BatchIndex, func(o client.Object) []string {
		if b := o.(*kickqv1alpha1.QueueJob).Spec.Batch; b != "" {
			return []string{b}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &kickqv1alpha1.QueueJob{}, AfterJobIndex, func(o client.Object) []string {
		if a := o.(*kickqv1alpha1.QueueJob).Spec.After; a != nil {
			return a.JobNames
		}
		return nil
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &kickqv1alpha1.QueueJob{}, AfterBatchIndex, func(o client.Object) []string {
		if a := o.(*kickqv1alpha1.QueueJob).Spec.After; a != nil && a.Batch != "" {
			return []string{a.Batch}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &kickqv1alpha1.QueueJob{}, WorkerIndex, IndexClaimingWorker); err != nil {
		return err
	}
	return idx.IndexField(ctx, &corev1.Pod{}, executor.PodOwnerIndex, executor.IndexPodOwner)
}

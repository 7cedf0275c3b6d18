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

	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/executor"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Field indexes of the manager's cache. Tests use the same constants.
const (
	// QueueNameIndex indexes QueueJobs by spec.queueName.
	QueueNameIndex = "spec.queueName"
	// PhaseIndex indexes QueueJobs by status.phase.
	PhaseIndex = "status.phase"
)

// SetupIndexes registers the field indexes the controllers read.
func SetupIndexes(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &kickqv1alpha1.QueueJob{}, QueueNameIndex, func(o client.Object) []string {
		return []string{o.(*kickqv1alpha1.QueueJob).Spec.QueueName}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &kickqv1alpha1.QueueJob{}, PhaseIndex, func(o client.Object) []string {
		return []string{string(o.(*kickqv1alpha1.QueueJob).Status.Phase)}
	}); err != nil {
		return err
	}
	return idx.IndexField(ctx, &corev1.Pod{}, executor.PodOwnerIndex, executor.IndexPodOwner)
}

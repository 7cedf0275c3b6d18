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

// Package cachetransform decides what the manager's cache keeps of each object it lists and
// watches. It never changes what is stored in the API server: the manager writes QueueJobs only
// through the status subresource (which ignores spec and metadata) and merge patches of labels.
//
// Of every object, managedFields go. Of a QueueJob:
//   - the kubectl.kubernetes.io/last-applied-configuration annotation goes (a second copy of the
//     whole object, spec.data included, that the manager never reads);
//   - spec.data over limits.MaxDataBytes is replaced by a marker with its size
//     (limits.OversizedDataMarker), which the lifecycle fails InvalidSpec naming spec.data;
//   - of a finished job (condition Complete or Failed true) that is not a cron template, spec.data
//     and spec.pod.template go: only starting an attempt reads them. Everything else is kept,
//     because something reads it after the job finished: the whole status (the reconciler writes
//     status whole with an Update, e.g. observedGeneration or the callback's delivery, so a
//     field dropped here would be erased in the API server; notify's body carries
//     status.result; retention, history, cron and admission read phase, conditions and times;
//     the report API reads status.attemptHistory), spec.queueName, type, batch, after (field
//     indexes, dependencies, notify's body), spec.notify (the callback is sent and retried after
//     the job finished), spec.ttlSecondsAfterFinished, spec.cancel, spec.pod's presence and its
//     startDeadlineSeconds, spec.webhook and spec.worker (the target kind resolves from them), and
//     labels, annotations other than last-applied and owner references (cron's children).
//     Cron templates keep their spec whatever their status: they are the model of every child.
//
// So a flood of large jobs, the relist after a restart and thousands of finished jobs kept for
// their history cost the manager their status and a few hundred bytes each, not their data.
package cachetransform

import (
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/lifecycle"
	"kickq.dev/kickq/internal/limits"
)

// LastAppliedAnnotation is the annotation kubectl apply keeps the applied object in.
const LastAppliedAnnotation = corev1.LastAppliedConfigAnnotation

var stripManagedFields = cache.TransformStripManagedFields()

// Transform is the manager's cache.Options.DefaultTransform: it strips managedFields from every
// object and trims QueueJobs (see the package comment). The informer hands it objects it owns,
// so it edits them in place.
func Transform(obj any) (any, error) {
	obj, err := stripManagedFields(obj)
	if err != nil {
		return obj, err
	}
	if job, ok := obj.(*kickqv1alpha1.QueueJob); ok {
		delete(job.Annotations, LastAppliedAnnotation)
		DropOversizedData(job)
		DropFinishedBulk(job)
	}
	return obj, nil
}

var _ toolscache.TransformFunc = Transform

// DropOversizedData replaces spec.data over limits.MaxDataBytes by the marker of its size.
func DropOversizedData(job *kickqv1alpha1.QueueJob) {
	if d := job.Spec.Data; d != nil && len(d.Raw) > limits.MaxDataBytes {
		job.Spec.Data = &apiextensionsv1.JSON{Raw: limits.OversizedDataMarker(len(d.Raw))}
	}
}

// DropFinishedBulk drops what only starting an attempt reads, spec.data and spec.pod.template,
// from a finished job that is not a cron template.
func DropFinishedBulk(job *kickqv1alpha1.QueueJob) {
	if job.Spec.Cron != nil || !lifecycle.IsFinished(&job.Status) {
		return
	}
	job.Spec.Data = nil
	if job.Spec.Pod != nil {
		job.Spec.Pod.Template = corev1.PodTemplateSpec{}
	}
}

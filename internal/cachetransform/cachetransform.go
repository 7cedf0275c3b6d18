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
// watches: managedFields never, and of a QueueJob whose spec.data is over limits.MaxDataBytes,
// only a marker with the size (limits.OversizedDataMarker), which the lifecycle fails
// InvalidSpec. So a flood of large jobs, and the relist after a restart, costs the manager a few
// bytes per job, not the data. It never changes what is stored in the API server: the manager
// writes QueueJobs only through the status subresource and merge patches of labels.
package cachetransform

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
)

var stripManagedFields = cache.TransformStripManagedFields()

// Transform is the manager's cache.Options.DefaultTransform: it strips managedFields from every
// object and replaces a QueueJob's oversized spec.data by its marker. The informer hands it
// objects it owns, so it edits them in place.
func Transform(obj any) (any, error) {
	obj, err := stripManagedFields(obj)
	if err != nil {
		return obj, err
	}
	if job, ok := obj.(*kickqv1alpha1.QueueJob); ok {
		DropOversizedData(job)
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

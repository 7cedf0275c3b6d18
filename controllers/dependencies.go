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
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/lifecycle"
)

// dependencies evaluates spec.after from the cache: the jobs named, and every other job of the
// batch named.
func (r *QueueJobReconciler) dependencies(ctx context.Context, job *kickqv1alpha1.QueueJob) (lifecycle.Dependencies, error) {
	after := job.Spec.After
	if after == nil || job.Status.Attempts > 0 {
		return lifecycle.Dependencies{}, nil
	}
	for _, name := range after.JobNames {
		if name == job.Name {
			return lifecycle.Dependencies{Invalid: true, Message: "spec.after.jobNames names the job itself"}, nil
		}
	}
	var deps []kickqv1alpha1.QueueJob
	var missing []string
	seen := map[string]bool{}
	for _, name := range after.JobNames {
		if seen[name] {
			continue
		}
		seen[name] = true
		var d kickqv1alpha1.QueueJob
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: job.Namespace, Name: name}, &d); err != nil {
			if !apierrors.IsNotFound(err) {
				return lifecycle.Dependencies{}, err
			}
			missing = append(missing, name)
			continue
		}
		deps = append(deps, d)
	}
	if after.Batch != "" {
		var l kickqv1alpha1.QueueJobList
		if err := r.Client.List(ctx, &l, client.InNamespace(job.Namespace), client.MatchingFields{BatchIndex: after.Batch}); err != nil {
			return lifecycle.Dependencies{}, err
		}
		n := 0
		for _, d := range l.Items {
			if d.Name != job.Name && d.Spec.Cron == nil {
				n++
				if !seen[d.Name] {
					seen[d.Name] = true
					deps = append(deps, d)
				}
			}
		}
		if n == 0 {
			missing = append(missing, "any job of batch "+after.Batch)
		}
	}
	counts := &kickqv1alpha1.DependencyCounts{Total: int32(len(deps)), Missing: int32(len(missing))}
	allSucceeded := after.Require != kickqv1alpha1.RequireAllFinished
	var waiting []string
	var failed *kickqv1alpha1.QueueJob
	for i := range deps {
		d := &deps[i]
		if !lifecycle.IsFinished(&d.Status) {
			waiting = append(waiting, d.Name)
			continue
		}
		counts.Finished++
		if d.Status.Phase == kickqv1alpha1.PhaseFailed {
			counts.Failed++
			if failed == nil || d.Name < failed.Name {
				failed = d
			}
		} else {
			counts.Succeeded++
		}
	}
	if allSucceeded && failed != nil {
		return lifecycle.Dependencies{Failed: true, Counts: counts,
			Message: fmt.Sprintf("dependency %s failed (%s); spec.after requires AllSucceeded", failed.Name, failed.Status.Reason)}, nil
	}
	if len(waiting) == 0 && len(missing) == 0 {
		return lifecycle.Dependencies{Counts: counts}, nil
	}
	sort.Strings(waiting)
	parts := missing
	if len(missing) > 0 {
		parts = []string{"waiting for " + strings.Join(missing, ", ") + " to exist"}
	}
	if len(waiting) > 0 {
		shown := waiting
		if len(shown) > 5 {
			shown = append(shown[:5:5], fmt.Sprintf("and %d more", len(waiting)-5))
		}
		parts = append(parts, fmt.Sprintf("waiting for %s to finish (%d of %d finished)", strings.Join(shown, ", "), counts.Finished, counts.Total))
	}
	return lifecycle.Dependencies{Pending: true, Counts: counts, Message: strings.Join(parts, "; ")}, nil
}

// dependents enqueues the jobs waiting for a job that appeared, finished or went away.
func (r *QueueJobReconciler) dependents(ctx context.Context, o client.Object) []reconcile.Request {
	job := o.(*kickqv1alpha1.QueueJob)
	var reqs []reconcile.Request
	add := func(field, value string) {
		var l kickqv1alpha1.QueueJobList
		if err := r.Client.List(ctx, &l, client.InNamespace(job.Namespace), client.MatchingFields{field: value}); err != nil {
			return
		}
		for i := range l.Items {
			if l.Items[i].Status.Attempts == 0 && l.Items[i].Name != job.Name {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&l.Items[i])})
			}
		}
	}
	add(AfterJobIndex, job.Name)
	if job.Spec.Batch != "" {
		add(AfterBatchIndex, job.Spec.Batch)
	}
	return reqs
}

// finishedChanged passes creations, deletions and updates that finish a job: what can change a
// dependent's answer.
var finishedChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*kickqv1alpha1.QueueJob)
		n, ok2 := e.ObjectNew.(*kickqv1alpha1.QueueJob)
		return ok1 && ok2 && lifecycle.IsFinished(&o.Status) != lifecycle.IsFinished(&n.Status)
	},
}

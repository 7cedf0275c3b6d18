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
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/lifecycle"
)

// deleteOldestFinished keeps the newest `keep` jobs that finished in phase (by finishTime, then
// name) and deletes the older ones, at most `budget` of them. Templates, jobs being deleted and
// jobs whose completion callback is still due are neither kept nor deleted. It returns how many it
// deleted.
func deleteOldestFinished(ctx context.Context, c client.Client, jobs []kickqv1alpha1.QueueJob, phase kickqv1alpha1.QueueJobPhase, keep, budget int) (int, error) {
	var done []*kickqv1alpha1.QueueJob
	for i := range jobs {
		if j := &jobs[i]; j.Status.Phase == phase && inHistory(j) {
			done = append(done, j)
		}
	}
	extra := min(len(done)-keep, budget)
	if extra <= 0 {
		return 0, nil
	}
	sort.Slice(done, func(a, b int) bool {
		fa, fb := finishOf(done[a]), finishOf(done[b])
		if !fa.Equal(fb) {
			return fa.Before(fb)
		}
		return done[a].Name < done[b].Name
	})
	for _, j := range done[:extra] {
		uid := j.UID
		if err := c.Delete(ctx, j, client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			return 0, fmt.Errorf("deleting finished job %s beyond the history limit: %w", j.Name, err)
		}
	}
	return extra, nil
}

// inHistory tells whether a history limit counts j: a finished job, not a template, not being
// deleted, whose completion callback (if any) has settled.
func inHistory(j *kickqv1alpha1.QueueJob) bool {
	return j.DeletionTimestamp == nil && j.Spec.Cron == nil && lifecycle.IsFinished(&j.Status) &&
		(j.Spec.Notify == nil || lifecycle.NotifySettled(&j.Status))
}

func finishOf(j *kickqv1alpha1.QueueJob) time.Time {
	if j.Status.FinishTime != nil {
		return j.Status.FinishTime.Time
	}
	return j.CreationTimestamp.Time
}

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
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/lifecycle"
	"kickq.dev/kickq/internal/metrics"
)

// TestAttemptDue: lateness counts from the job's notBeforeTime, the backoff, or a cron child's
// firing; a pass that starts nothing, or a job without a due time, has none.
func TestAttemptDue(t *testing.T) {
	job := func(f func(*kickqv1alpha1.QueueJob)) *kickqv1alpha1.QueueJob {
		j := &kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns", CreationTimestamp: metav1.NewTime(epoch)}}
		f(j)
		return j
	}
	for _, tc := range []struct {
		name   string
		job    *kickqv1alpha1.QueueJob
		action lifecycle.Action
		want   time.Time
	}{
		{"no due time", job(func(*kickqv1alpha1.QueueJob) {}), lifecycle.Start, time.Time{}},
		{"notBeforeTime", job(func(j *kickqv1alpha1.QueueJob) { j.Spec.NotBeforeTime = mtime(epoch.Add(time.Minute)) }),
			lifecycle.Start, epoch.Add(time.Minute)},
		{"not starting", job(func(j *kickqv1alpha1.QueueJob) { j.Spec.NotBeforeTime = mtime(epoch.Add(time.Minute)) }),
			lifecycle.None, time.Time{}},
		{"backoff", job(func(j *kickqv1alpha1.QueueJob) {
			j.Status.Attempts, j.Status.NextAttemptTime = 1, mtime(epoch.Add(20*time.Second))
		}), lifecycle.Start, epoch.Add(20 * time.Second)},
		{"cron child", job(func(j *kickqv1alpha1.QueueJob) {
			j.Annotations = map[string]string{AnnotationScheduledTime: epoch.Add(time.Hour).UTC().Format(time.RFC3339)}
		}), lifecycle.Start, epoch.Add(time.Hour)},
		{"cron child's retry: its backoff, not the firing", job(func(j *kickqv1alpha1.QueueJob) {
			j.Annotations = map[string]string{AnnotationScheduledTime: epoch.Format(time.RFC3339)}
			j.Status.Attempts = 1
		}), lifecycle.Start, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pass{job: tc.job, in: lifecycle.Input{Job: tc.job, Now: epoch.Add(2 * time.Hour)}}
			p.res.Action = tc.action
			if got := attemptDue(p); !got.Equal(tc.want) {
				t.Errorf("attemptDue = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestFiringResult: a child created within the starting deadline is on time, later it missed it.
func TestFiringResult(t *testing.T) {
	c := &kickqv1alpha1.CronSpec{StartingDeadlineSeconds: ptr.To[int32](30)}
	for _, tc := range []struct {
		late time.Duration
		want string
	}{{0, metrics.FiringOnTime}, {30 * time.Second, metrics.FiringOnTime}, {31 * time.Second, metrics.FiringMissed}} {
		if got := firingResult(c, epoch, epoch.Add(tc.late)); got != tc.want {
			t.Errorf("a child %v late: %s, want %s", tc.late, got, tc.want)
		}
	}
}

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

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
)

// TestPauseUntil: a key pauses for the next-attempt time of a job whose last attempt ended with
// a Retry-After (webhook 429/503, a worker's RetryAfter) or a 429/503 without one.
func TestPauseUntil(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	next := metav1.NewTime(t0.Add(30 * time.Second))
	ended := func(reason string, code int32) kickqv1alpha1.QueueJobStatus {
		a := kickqv1alpha1.AttemptRecord{Number: 1, StartTime: &metav1.Time{Time: t0}, FinishTime: &metav1.Time{Time: t0}, Reason: reason}
		if code != 0 {
			a.HTTPStatusCode = ptr.To(code)
		}
		return kickqv1alpha1.QueueJobStatus{Phase: kickqv1alpha1.PhaseDelayed, Attempts: 1, NextAttemptTime: &next,
			AttemptHistory: []kickqv1alpha1.AttemptRecord{a}}
	}
	cases := map[string]struct {
		key  string
		st   kickqv1alpha1.QueueJobStatus
		want time.Time
	}{
		"429 with Retry-After":    {key: "A", st: ended(kickqv1alpha1.AttemptReasonRetryAfter, 429), want: next.Time},
		"worker RetryAfter":       {key: "A", st: ended(kickqv1alpha1.AttemptReasonRetryAfter, 0), want: next.Time},
		"503 without Retry-After": {key: "A", st: ended(kickqv1alpha1.AttemptReasonHTTPError, 503), want: next.Time},
		"500: no pause":           {key: "A", st: ended(kickqv1alpha1.AttemptReasonHTTPError, 500)},
		"no key: no pause":        {st: ended(kickqv1alpha1.AttemptReasonRetryAfter, 429)},
		"running again: no pause": {key: "A", st: func() kickqv1alpha1.QueueJobStatus {
			s := ended(kickqv1alpha1.AttemptReasonRetryAfter, 429)
			s.Attempts = 2
			return s
		}()},
		"no next attempt: no pause": {key: "A", st: func() kickqv1alpha1.QueueJobStatus {
			s := ended(kickqv1alpha1.AttemptReasonRetryAfter, 429)
			s.NextAttemptTime = nil
			return s
		}()},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			job := &kickqv1alpha1.QueueJob{Spec: kickqv1alpha1.QueueJobSpec{Key: tc.key}}
			if diff := cmp.Diff(tc.want, pauseUntil(job, &tc.st)); diff != "" {
				t.Errorf("pauseUntil (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeyLimitsOf(t *testing.T) {
	spec := &kickqv1alpha1.QueueSpec{
		KeyLimits: &kickqv1alpha1.KeyLimits{Concurrency: ptr.To[int32](1), PauseOnRetryAfter: ptr.To(true),
			RateLimit: &kickqv1alpha1.RateLimit{Limit: 10, PeriodSeconds: 60}},
		Handlers: []kickqv1alpha1.Handler{{Type: "email", HandlerSpec: kickqv1alpha1.HandlerSpec{
			KeyLimits: &kickqv1alpha1.KeyLimits{Concurrency: ptr.To[int32](2)}}}},
	}
	want := admission.Limits{
		Keys:     admission.KeyLimits{Concurrency: 1, PauseOnRetryAfter: true, Rate: &admission.RateLimit{Limit: 10, Period: time.Minute}},
		Handlers: map[string]admission.HandlerLimits{"email": {Keys: admission.KeyLimits{Concurrency: 2}}},
	}
	if diff := cmp.Diff(want, LimitsOf(spec)); diff != "" {
		t.Errorf("LimitsOf (-want +got):\n%s", diff)
	}
}

func TestQueueKeys(t *testing.T) {
	job := func(key string, p kickqv1alpha1.QueueJobPhase) kickqv1alpha1.QueueJob {
		return kickqv1alpha1.QueueJob{Spec: kickqv1alpha1.QueueJobSpec{Key: key}, Status: kickqv1alpha1.QueueJobStatus{Phase: p}}
	}
	jobs := []kickqv1alpha1.QueueJob{
		job("a", kickqv1alpha1.PhasePending), job("a", kickqv1alpha1.PhaseRunning), job("b", kickqv1alpha1.PhasePending),
		job("b", kickqv1alpha1.PhasePending), job("c", kickqv1alpha1.PhaseRunning), job("d", kickqv1alpha1.PhaseSucceeded),
		job("", kickqv1alpha1.PhasePending),
	}
	want := &kickqv1alpha1.QueueKeys{Active: 3, Busiest: []kickqv1alpha1.KeyCount{{Key: "b", Pending: 2}, {Key: "a", Pending: 1, Running: 1}}}
	if diff := cmp.Diff(want, queueKeys(jobs)); diff != "" {
		t.Errorf("queueKeys (-want +got):\n%s", diff)
	}
	if got := queueKeys(jobs[5:6]); got != nil {
		t.Errorf("queueKeys without active keys = %+v, want nil", got)
	}
}

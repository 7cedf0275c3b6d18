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

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
)

// TestAttemptStarts: after a restart an attempt counts from the latest instant status proves its
// side effects were made by, plus the second status truncates to; never from its startTime.
func TestAttemptStarts(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	at := func(s int) *metav1.Time { m := metav1.NewTime(t0.Add(time.Duration(s) * time.Second)); return &m }
	rec := func(n int32, start, finish *metav1.Time) kickqv1alpha1.AttemptRecord {
		return kickqv1alpha1.AttemptRecord{Number: n, StartTime: start, FinishTime: finish}
	}
	cases := map[string]struct {
		st   kickqv1alpha1.QueueJobStatus
		want []admission.AttemptStart
	}{
		"no attempts": {},
		"finished attempt: its finish": {
			st:   kickqv1alpha1.QueueJobStatus{AttemptHistory: []kickqv1alpha1.AttemptRecord{rec(1, at(0), at(5))}},
			want: []admission.AttemptStart{{Attempt: 1, By: t0.Add(6 * time.Second)}},
		},
		"running attempt: unbounded; an earlier one without a finish: the next start": {
			st:   kickqv1alpha1.QueueJobStatus{AttemptHistory: []kickqv1alpha1.AttemptRecord{rec(1, at(0), nil), rec(2, at(10), nil)}},
			want: []admission.AttemptStart{{Attempt: 1, By: t0.Add(11 * time.Second)}, {Attempt: 2}},
		},
		"finished job, last record without a finish: the job's finish": {
			st:   kickqv1alpha1.QueueJobStatus{FinishTime: at(20), AttemptHistory: []kickqv1alpha1.AttemptRecord{rec(3, at(12), nil)}},
			want: []admission.AttemptStart{{Attempt: 3, By: t0.Add(21 * time.Second)}},
		},
		"a record that never started is no start": {
			st:   kickqv1alpha1.QueueJobStatus{AttemptHistory: []kickqv1alpha1.AttemptRecord{rec(1, nil, at(3))}},
			want: []admission.AttemptStart{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := attemptStarts(&tc.st)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("attemptStarts (-want +got):\n%s", diff)
			}
		})
	}
}

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

package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"kickq.dev/kickq/test/util/audit"
)

func TestMedText(t *testing.T) {
	cases := map[string]struct {
		in   []float64
		want string
	}{
		"one run: the figure alone":            {[]float64{41.04}, "41.0"},
		"three runs: the median, every run":    {[]float64{45, 40, 41}, "41.0 (45.0 · 40.0 · 41.0)"},
		"two runs: the mean of the middle two": {[]float64{40, 42}, "41.0 (40.0 · 42.0)"},
	}
	for name, tc := range cases {
		if got := medText("%.1f", tc.in); got != tc.want {
			t.Errorf("%s: medText = %q, want %q", name, got, tc.want)
		}
	}
}

// TestS3Start: a job's start is its first pod create, or its first status write at or after its
// due time when that came first; a write before due (Delayed) is not a start.
func TestS3Start(t *testing.T) {
	due := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	at := func(ms int) time.Time { return due.Add(time.Duration(ms) * time.Millisecond) }
	ev := func(verb, resource, sub, name string, ts time.Time) audit.Event {
		return audit.Event{Verb: verb, ObjectRef: &auditv1.ObjectReference{Resource: resource, Subresource: sub, Name: name},
			RequestReceivedTimestamp: metav1.NewMicroTime(ts)}
	}
	events := []audit.Event{
		ev("update", "queuejobs", "status", "j-1", at(-5000)), // Delayed
		ev("update", "queuejobs", "status", "j-1", at(20)),    // Running, before the pod
		ev("create", "pods", "", "j-1-1", at(35)),
		ev("create", "pods", "", "j-12-1", at(7)), // the pod first (no status write yet)
		ev("update", "queuejobs", "status", "j-12", at(40)),
		ev("update", "queuejobs", "status", "j-3", at(-100)), // never started
	}
	starts := s3Starts(events)
	got := map[string]time.Duration{}
	for _, j := range []string{"j-1", "j-12", "j-3"} {
		if s, ok := starts[j].start(due); ok {
			got[j] = s.Sub(due)
		}
	}
	want := map[string]time.Duration{"j-1": 20 * time.Millisecond, "j-12": 7 * time.Millisecond}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("starts (-want +got):\n%s", diff)
	}
	if p := starts["j-12"].firstPod; !p.Equal(at(7)) {
		t.Errorf("j-12's first pod at %s, want %s", p, at(7))
	}
}

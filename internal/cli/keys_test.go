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

package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

func keyed(name, key string, priority int32, ready int) waitingJob {
	return waitingJob{Order: admission.Order{Name: name, Priority: priority, Ready: at(ready), Created: at(ready)}, key: key}
}

func TestInAdmissionOrder(t *testing.T) {
	var twentyAThenTwoB []waitingJob
	for i := range 20 {
		twentyAThenTwoB = append(twentyAThenTwoB, keyed(fmt.Sprintf("a%02d", i), "A", 0, i))
	}
	twentyAThenTwoB = append(twentyAThenTwoB, keyed("b00", "B", 0, 20), keyed("b01", "B", 0, 21))
	for name, tc := range map[string]struct {
		waiting []waitingJob
		turns   keyTurns
		want    []string
	}{
		"keys take turns: B's first job is second, not 21st": {
			waiting: twentyAThenTwoB,
			want:    []string{"a00", "b00", "a01", "b01", "a02", "a03"},
		},
		"a key that never started goes before one that did, the key-less group is one key": {
			waiting: []waitingJob{keyed("a1", "A", 0, 0), keyed("a2", "A", 0, 1), keyed("a3", "A", 0, 2),
				keyed("b1", "B", 0, 3), keyed("n1", "", 0, 4), keyed("n2", "", 0, 5)},
			turns: keyTurns{"A": at(50)},
			want:  []string{"b1", "n1", "a1", "n2", "a2", "a3"},
		},
		"the key whose last start is oldest goes first": {
			waiting: []waitingJob{keyed("a1", "A", 0, 0), keyed("b1", "B", 0, 1), keyed("c1", "C", 0, 2)},
			turns:   keyTurns{"A": at(60), "B": at(40), "C": at(50)},
			want:    []string{"b1", "c1", "a1"},
		},
		"priority wins over turns": {
			waiting: []waitingJob{keyed("a1", "A", 0, 0), keyed("a2", "A", 5, 1), keyed("b1", "B", 0, 2), keyed("b2", "B", 1, 3)},
			turns:   keyTurns{"A": at(90)},
			want:    []string{"a2", "b2", "a1", "b1"},
		},
	} {
		got := inAdmissionOrder(append([]waitingJob(nil), tc.waiting...), tc.turns, at(100))
		var names []string
		for _, w := range got[:min(len(got), len(tc.want))] {
			names = append(names, w.Name)
		}
		if diff := cmp.Diff(tc.want, names); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
		if len(got) != len(tc.waiting) {
			t.Errorf("%s: %d jobs ordered, want %d", name, len(got), len(tc.waiting))
		}
	}
}

func TestKeyUse(t *testing.T) {
	now := at(100)
	q := utiltesting.MakeQueue("q", "ns").Obj()
	q.Spec.KeyLimits = &kickqv1alpha1.KeyLimits{Concurrency: ptr.To[int32](2), RateLimit: &kickqv1alpha1.RateLimit{Limit: 10, PeriodSeconds: 60},
		PauseOnRetryAfter: ptr.To(true)}
	q.Spec.Handlers = []kickqv1alpha1.Handler{{Type: "email", HandlerSpec: kickqv1alpha1.HandlerSpec{
		KeyLimits: &kickqv1alpha1.KeyLimits{Concurrency: ptr.To[int32](1)}}}}
	job := func(name, key, typ string, phase kickqv1alpha1.QueueJobPhase, starts ...int) *kickqv1alpha1.QueueJob {
		j := utiltesting.MakeQueueJob(name, "ns").Queue("q").Type(typ).Phase(phase).Obj()
		j.Spec.Key = key
		for i, s := range starts {
			j.Status.AttemptHistory = append(j.Status.AttemptHistory, kickqv1alpha1.AttemptRecord{Number: int32(i + 1), StartTime: mt(s)})
		}
		return j
	}
	me := job("me", "acme", "email", kickqv1alpha1.PhasePending)
	u := newKeyUse(me, q, now)
	turns := keyTurns{}
	for _, j := range []*kickqv1alpha1.QueueJob{
		me,
		job("mail", "acme", "email", kickqv1alpha1.PhaseRunning, 30, 90), // 30 has left the 60 s window; 90, 95 and 50 count
		job("report", "acme", "pdf", kickqv1alpha1.PhaseRunning, 95),
		job("other", "globex", "email", kickqv1alpha1.PhaseRunning, 99),
		job("done", "acme", "email", kickqv1alpha1.PhaseSucceeded, 50),
	} {
		u.add(j)
		turns.add(j)
	}
	want := []string{"per key: concurrency 2/2", "per key: rate 3/10 per 60s", "per key: pause on Retry-After", "email: per key: concurrency 1/1"}
	if diff := cmp.Diff(want, u.inForce()); diff != "" {
		t.Errorf("inForce (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(keyTurns{"acme": at(95), "globex": at(99)}, turns); diff != "" {
		t.Errorf("turns (-want +got):\n%s", diff)
	}
	if got := newKeyUse(job("none", "", "email", kickqv1alpha1.PhasePending), q, now).inForce(); got != nil {
		t.Errorf("a job without a key: %v", got)
	}
}

func TestPrintPositionWithKey(t *testing.T) {
	p := &Position{Job: "j", Queue: "q", Waiting: true, Position: 2, Of: 5, Ahead: 1, KeyAhead: 0, Key: "acme",
		KeyTurn: &metav1.Time{Time: at(60)}, HeldBy: "KeyConcurrencyLimited: key acme: concurrency 1 reached", Limits: []string{"none"},
		KeyLimits: []string{"per key: concurrency 1/1"}}
	var b strings.Builder
	if err := printPosition(&b, p, ""); err != nil {
		t.Fatal(err)
	}
	want := "queuejob/j: position 2 of 5 waiting in queue q (1 of its type, 0 of key acme ahead)\n" +
		"held by: KeyConcurrencyLimited: key acme: concurrency 1 reached\n" +
		"queue limits: none\n" +
		"key acme: last started a job at " + at(60).UTC().Format("2006-01-02T15:04:05Z07:00") + "; key limits: per key: concurrency 1/1\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
}

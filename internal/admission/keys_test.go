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

package admission

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

func clocktestingFake(t time.Time) *clocktesting.FakeClock { return clocktesting.NewFakeClock(t) }

func (w *jobWrapper) Key(k string) *jobWrapper           { w.SpecKey = k; return w }
func (w *jobWrapper) PauseUntil(t time.Time) *jobWrapper { w.JobView.PauseUntil = t; return w }

// reconcileWoken plays the reconciler: it reconciles the woken jobs (and those their refusals
// wake) until none is left, and returns the ones admitted, in order.
func (f *fixture) reconcileWoken() []string {
	f.t.Helper()
	var started []string
	for range 1000 {
		w := f.takeWoken()
		if len(w) == 0 {
			return started
		}
		for _, n := range w {
			if f.views[n].State != Waiting {
				continue
			}
			if f.admit(n).Admitted {
				started = append(started, n)
			}
		}
	}
	f.t.Fatal("wakes do not settle")
	return nil
}

// runAll admits the first job, then one second at a time finishes the running jobs and
// reconciles what that wakes, until no job waits; it returns the start order.
func (f *fixture) runAll(first ...string) []string {
	f.t.Helper()
	f.mustAdmit(first...)
	order := append([]string(nil), first...)
	for step := 1; step < 1000; step++ {
		f.setTime(at(float64(step)))
		var running []string
		for n, v := range f.views {
			if v.State == Running {
				running = append(running, n)
			}
		}
		if len(running) == 0 {
			return order
		}
		f.takeWoken()
		for _, n := range running {
			f.set(n, Idle)
		}
		order = append(order, f.reconcileWoken()...)
	}
	f.t.Fatal("the queue does not drain")
	return nil
}

func names(prefix string, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("%s%02d", prefix, i))
	}
	return out
}

// TestKeysTakeTurns: 20 jobs of key A created before 2 of key B; B's first job starts second.
func TestKeysTakeTurns(t *testing.T) {
	a, b := names("a", 20), names("b", 2)
	rr := append([]string{"a01", "b01", "a02", "b02"}, a[2:]...)
	cases := map[string]struct {
		limits   Limits
		priority map[string]int32
		first    string
		want     []string
	}{
		"keyLimits.concurrency 1": {
			limits: Limits{Concurrency: 1, Keys: KeyLimits{Concurrency: 1}},
			want:   rr,
		},
		"no key limits: keys still take turns": {
			limits: Limits{Concurrency: 1},
			want:   rr,
		},
		"priority wins over the key turn": {
			limits:   Limits{Concurrency: 1},
			priority: map[string]int32{"a02": 5, "a03": 5},
			first:    "a02",
			want:     append([]string{"a02", "a03", "b01", "a01", "b02"}, a[3:]...),
		},
		"the key-less group is one key": {
			limits: Limits{Concurrency: 1, Keys: KeyLimits{Concurrency: 1}},
			want:   rr,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, tc.limits)
			keyA := "A"
			if name == "the key-less group is one key" {
				keyA = ""
			}
			for i, n := range a {
				f.observe(makeJob(n).Key(keyA).Priority(tc.priority[n]).Ready(at(float64(i) / 100)).Obj())
			}
			for i, n := range b {
				f.observe(makeJob(n).Key("B").Priority(tc.priority[n]).Ready(at(1 + float64(i)/100)).Obj())
			}
			first := tc.first
			if first == "" {
				first = "a01"
			}
			if diff := cmp.Diff(tc.want, f.runAll(first)); diff != "" {
				t.Errorf("start order (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeyConcurrency(t *testing.T) {
	cases := map[string]struct {
		limits Limits
		want   Decision
	}{
		"queue keyLimits": {
			limits: Limits{Concurrency: 10, Keys: KeyLimits{Concurrency: 1}},
			want:   Decision{Reason: ReasonKeyConcurrency, Message: "key A: queue keyLimits.concurrency 1 reached (1 running)"},
		},
		"handler keyLimits": {
			limits: Limits{Handlers: map[string]HandlerLimits{"email": {Keys: KeyLimits{Concurrency: 1}}}},
			want:   Decision{Reason: ReasonKeyConcurrency, Message: "key A: handler email keyLimits.concurrency 1 reached (1 running)"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, tc.limits)
			f.observe(
				makeJob("a1").Key("A").Handler("email").Ready(at(1)).Obj(),
				makeJob("a2").Key("A").Handler("email").Ready(at(2)).Obj(),
				makeJob("b1").Key("B").Handler("email").Ready(at(3)).Obj(),
				makeJob("n1").Handler("email").Ready(at(4)).Obj(),
				makeJob("n2").Handler("email").Ready(at(5)).Obj(),
			)
			f.mustAdmit("a1")
			if diff := cmp.Diff(tc.want, f.admit("a2")); diff != "" {
				t.Errorf("TryAdmit(a2) (-want +got):\n%s", diff)
			}
			f.mustAdmit("b1", "n1", "n2") // other keys, and the key-less group, are not held
			f.takeWoken()
			f.set("a1", Idle)
			if diff := cmp.Diff([]string{"a2"}, f.reconcileWoken()); diff != "" {
				t.Errorf("started once a1 ended (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeyRateWindow(t *testing.T) {
	f := newFixture(t, Limits{Keys: KeyLimits{Rate: rate(2, time.Minute)}})
	f.observe(
		makeJob("a1").Key("A").Ready(at(0)).Obj(),
		makeJob("a2").Key("A").Ready(at(0.1)).Obj(),
		makeJob("a3").Key("A").Ready(at(0.2)).Obj(),
		makeJob("b1").Key("B").Ready(at(0.3)).Obj(),
		makeJob("b2").Key("B").Ready(at(0.4)).Obj(),
	)
	f.mustAdmit("a1")
	f.setTime(at(10))
	f.mustAdmit("b1", "a2") // B never started: its turn comes first
	want := Decision{Reason: ReasonKeyRate, RetryAt: at(60),
		Message: "key A: queue keyLimits rate 2/60s reached; next slot at 2026-11-23T09:01:00Z"}
	if diff := cmp.Diff(want, f.admit("a3")); diff != "" {
		t.Errorf("TryAdmit(a3) (-want +got):\n%s", diff)
	}
	f.mustAdmit("b2") // another key's window is its own
	f.setTime(at(59.9))
	if d := f.admit("a3"); d.Admitted {
		t.Fatalf("a3 admitted at 59.9s: a window of key A would hold 3 starts")
	}
	f.setTime(at(60))
	f.mustAdmit("a3")
}

func TestKeyPause(t *testing.T) {
	cases := map[string]struct {
		limits    Limits
		held      []string // refused KeyPaused until 30s
		notHeld   []string
		wantMatch string
	}{
		"queue pauseOnRetryAfter holds the key in every handler": {
			limits:  Limits{Keys: KeyLimits{PauseOnRetryAfter: true}},
			held:    []string{"a-email", "a-report"},
			notHeld: []string{"b-email", "none"},
		},
		"handler pauseOnRetryAfter holds the key in that handler": {
			limits:  Limits{Handlers: map[string]HandlerLimits{"email": {Keys: KeyLimits{PauseOnRetryAfter: true}}}},
			held:    []string{"a-email"},
			notHeld: []string{"b-email", "none", "a-report"}, // A started last (a-429): its turn is after
		},
		"without pauseOnRetryAfter nothing pauses": {
			notHeld: []string{"b-email", "none", "a-email", "a-report"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, tc.limits)
			f.observe(
				// Its attempt was answered 429 with Retry-After: 30; it waits (Idle) until then.
				makeJob("a-429").Key("A").Handler("email").State(Idle).Attempts(1).Starts(at(-1)).PauseUntil(at(30)).Obj(),
				makeJob("a-email").Key("A").Handler("email").Ready(at(1)).Obj(),
				makeJob("a-report").Key("A").Handler("report").Ready(at(2)).Obj(),
				makeJob("b-email").Key("B").Handler("email").Ready(at(3)).Obj(),
				makeJob("none").Handler("email").Ready(at(4)).Obj(),
			)
			for _, n := range tc.held {
				d := f.admit(n)
				if d.Reason != ReasonKeyPaused || !d.RetryAt.Equal(at(30)) {
					t.Errorf("TryAdmit(%s) = %+v, want KeyPaused until 30s", n, d)
				}
			}
			for _, n := range tc.notHeld {
				f.mustAdmit(n)
			}
			f.setTime(at(30))
			f.mustAdmit(tc.held...)
		})
	}
}

// TestKeyPauseWakesWhenItEnds: a paused key's jobs are reconciled when the pause ends, also
// when they were last refused for the queue's concurrency (no timer of theirs was set).
func TestKeyPauseWakesWhenItEnds(t *testing.T) {
	f := newFixture(t, Limits{Concurrency: 1, Keys: KeyLimits{PauseOnRetryAfter: true}})
	f.observe(
		makeJob("run").Key("B").State(Running).Attempts(1).Starts(at(-1)).Obj(),
		makeJob("a1").Key("A").Ready(at(1)).Obj(),
		makeJob("a-429").Key("A").State(Idle).Attempts(1).Starts(at(-1)).PauseUntil(at(30)).Obj(),
	)
	f.takeWoken()
	f.set("run", Idle) // the slot frees while key A is paused
	woken := f.takeWoken()
	if diff := cmp.Diff([]string{"a1"}, woken); diff != "" {
		t.Fatalf("woken when the slot freed (-want +got):\n%s", diff)
	}
	if d := f.admit("a1"); d.Reason != ReasonKeyPaused || !d.RetryAt.Equal(at(30)) {
		t.Fatalf("TryAdmit(a1) = %+v, want KeyPaused until 30s (its timer)", d)
	}
	f.setTime(at(30))
	f.mustAdmit("a1")
}

func TestKeyLimitsChange(t *testing.T) {
	f := newFixture(t, Limits{Keys: KeyLimits{Concurrency: 1}})
	f.observe(
		makeJob("a1").Key("A").Ready(at(1)).Obj(),
		makeJob("a2").Key("A").Ready(at(2)).Obj(),
	)
	f.mustAdmit("a1")
	if d := f.admit("a2"); d.Reason != ReasonKeyConcurrency {
		t.Fatalf("TryAdmit(a2) = %+v, want KeyConcurrencyLimited", d)
	}
	f.takeWoken()
	f.a.SetLimits(qk, Limits{Keys: KeyLimits{Concurrency: 2}})
	if diff := cmp.Diff([]string{"a2"}, f.reconcileWoken()); diff != "" {
		t.Errorf("started after keyLimits.concurrency grew (-want +got):\n%s", diff)
	}
}

func TestKeyRestartKeepsLimits(t *testing.T) {
	// A rebuild from the cache: key A has one running job and one start 20s ago in its window.
	f := newFixture(t, Limits{})
	views := []JobView{
		makeJob("a-run").Key("A").State(Running).Attempts(1).Starts(time.Time{}).Obj(), // running: counted from now
		makeJob("a-done").Key("A").State(Idle).Attempts(1).Starts(at(-20)).Obj(),
		makeJob("a-wait").Key("A").Ready(at(1)).Obj(),
		makeJob("b-wait").Key("B").Ready(at(2)).Obj(),
	}
	q2 := QueueKey{Namespace: ns, Name: "q2"}
	for i := range views {
		views[i].Queue = q2
	}
	f.a.SetLimits(q2, Limits{Keys: KeyLimits{Rate: rate(2, time.Minute), Concurrency: 2}})
	f.a.EnsureQueue(q2, func() []JobView { return views })
	if d := f.a.TryAdmit(key("b-wait")); !d.Admitted {
		t.Errorf("TryAdmit(b-wait) = %+v, want admitted", d)
	}
	if d := f.a.TryAdmit(key("a-wait")); d.Reason != ReasonKeyRate || !d.RetryAt.Equal(at(40)) {
		t.Errorf("TryAdmit(a-wait) = %+v, want KeyRateLimited until 40s (the rebuilt window)", d)
	}
}

func TestKeyStats(t *testing.T) {
	f := newFixture(t, Limits{Keys: KeyLimits{Concurrency: 1}})
	var jobs []JobView
	for i := range 12 {
		k := fmt.Sprintf("k%02d", i)
		for j := range i + 1 {
			jobs = append(jobs, makeJob(fmt.Sprintf("%s-%d", k, j)).Key(k).Obj())
		}
	}
	jobs = append(jobs, makeJob("run").Key("r").State(Running).Attempts(1).Obj(), makeJob("nokey").Obj())
	f.observe(jobs...)
	s := f.a.Stats(qk)
	want := []KeyCount{}
	for i := 11; i >= 2; i-- {
		want = append(want, KeyCount{Key: fmt.Sprintf("k%02d", i), Waiting: int32(i + 1)})
	}
	if s.ActiveKeys != 13 {
		t.Errorf("ActiveKeys = %d, want 13 (12 waiting keys and r)", s.ActiveKeys)
	}
	if diff := cmp.Diff(want, s.BusiestKeys); diff != "" {
		t.Errorf("BusiestKeys (-want +got):\n%s", diff)
	}
}

// keyScale is a queue of n Waiting jobs spread over k keys (job i of key i%k), concurrency 5,
// keyLimits concurrency 1 (when k >= 5) and a per-key rate, five jobs running.
type keyScale struct {
	a       *Admission
	views   map[string]*JobView
	woken   []string
	running []string
}

func newKeyScale(tb testing.TB, n, k int) *keyScale {
	tb.Helper()
	s := &keyScale{views: map[string]*JobView{}}
	clk := clocktestingFake(t0)
	s.a = New(clk, func(key types.NamespacedName) { s.woken = append(s.woken, key.Name) })
	kl := KeyLimits{Rate: rate(1_000_000, time.Hour)}
	if k >= 5 {
		kl.Concurrency = 1
	}
	s.a.SetLimits(qk, Limits{Concurrency: 5, Keys: kl})
	views := make([]JobView, n)
	for i := range views {
		views[i] = makeJob(fmt.Sprintf("j%06d", i)).Key(fmt.Sprintf("k%05d", i%k)).Ready(t0.Add(time.Duration(i) * time.Millisecond)).Obj()
		s.views[views[i].Key.Name] = &views[i]
	}
	s.a.EnsureQueue(qk, func() []JobView { return views })
	for len(s.running) < 5 {
		s.startWoken(tb, []string{views[len(s.running)].Key.Name})
		if len(s.running) == 0 {
			s.startWoken(tb, s.woken)
		}
	}
	return s
}

// startWoken reconciles the woken jobs (and those their refusals wake) until one is admitted.
func (s *keyScale) startWoken(tb testing.TB, woken []string) {
	for range 100 {
		s.woken = nil
		for _, n := range woken {
			v := s.views[n]
			if v.State != Waiting {
				continue
			}
			if s.a.TryAdmit(v.Key).Admitted {
				v.Attempts++
				v.State = Running
				v.AttemptStarts = append(v.AttemptStarts, AttemptStart{Attempt: v.Attempts, By: t0})
				s.a.Observe(*v)
				s.running = append(s.running, n)
				return
			}
		}
		woken = s.woken
		if len(woken) == 0 {
			return
		}
	}
	tb.Fatal("wakes do not settle")
}

// cycle is the oldest running job finishing and the job it wakes starting.
func (s *keyScale) cycle(tb testing.TB) {
	done := s.views[s.running[0]]
	s.running = s.running[1:]
	done.State = Idle
	s.woken = nil
	s.a.Observe(*done)
	before := len(s.running)
	s.startWoken(tb, s.woken)
	if len(s.running) != before+1 {
		tb.Fatalf("no job started after %s ended", done.Key.Name)
	}
}

// TestPerEventCostDoesNotGrowWithKeys counts the comparisons of admission cycles on a queue of
// 100k Waiting jobs over 1, 100 and 10,000 keys: heaps of keys and of each key's jobs keep them
// to a few dozen per cycle.
func TestPerEventCostDoesNotGrowWithKeys(t *testing.T) {
	const n, cycles = 100_000, 2_000
	for _, k := range []int{1, 100, 10_000} {
		s := newKeyScale(t, n, k)
		s.a.cmps = 0
		for range cycles {
			s.cycle(t)
		}
		per := float64(s.a.cmps) / cycles
		t.Logf("%d keys: %.1f job comparisons per cycle on a queue of %d", k, per, n)
		if per > 400 {
			t.Errorf("%d keys: %.1f comparisons per cycle: per-event work grows with the queue or its keys", k, per)
		}
		if err := s.a.checkInvariants(); err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkAdmissionCycleKeys(b *testing.B) {
	for _, k := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprintf("keys=%d", k), func(b *testing.B) {
			s := newKeyScale(b, 100_000, k)
			c := 0
			for b.Loop() {
				if c >= 40_000 {
					b.StopTimer()
					s, c = newKeyScale(b, 100_000, k), 0
					b.StartTimer()
				}
				s.cycle(b)
				c++
			}
		})
	}
}

// TestForgottenKeyKeepsItsWindowThenGoes: deleting a key's jobs does not make room for more
// starts of the key within its window, and the key's state goes once the window is over.
func TestForgottenKeyKeepsItsWindowThenGoes(t *testing.T) {
	f := newFixture(t, Limits{Keys: KeyLimits{Rate: rate(1, time.Minute)}})
	f.observe(makeJob("a1").Key("A").Obj())
	f.mustAdmit("a1")
	f.a.Forget(key("a1"))
	f.setTime(at(30))
	f.observe(makeJob("a2").Key("A").Ready(at(30)).Obj())
	if d := f.admit("a2"); d.Reason != ReasonKeyRate || !d.RetryAt.Equal(at(60)) {
		t.Errorf("TryAdmit(a2) = %+v, want KeyRateLimited until 60s: a1's start still counts", d)
	}
	f.a.Forget(key("a2"))
	f.setTime(at(200))
	f.observe(makeJob("other").Key("B").Ready(at(200)).Obj()) // an event: the sweep runs
	f.a.mu.Lock()
	_, kept := f.a.queues[qk].keys["A"]
	f.a.mu.Unlock()
	if kept {
		t.Error("key A is still kept after its window is over and it has no jobs")
	}
}

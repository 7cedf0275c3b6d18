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
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func rate(limit int32, period time.Duration) *RateLimit {
	return &RateLimit{Limit: limit, Period: period}
}

// admissionOrder admits the fixture's Waiting jobs one at a time (trying them from the last name
// to the first) and returns the order in which they were admitted.
func admissionOrder(t *testing.T, f *fixture) []string {
	t.Helper()
	var pending []string
	for name, v := range f.views {
		if v.State == Waiting {
			pending = append(pending, name)
		}
	}
	slices.Sort(pending)
	slices.Reverse(pending)
	var order []string
	for len(pending) > 0 {
		admitted := -1
		for i, name := range pending {
			d := f.admit(name)
			if d.Admitted {
				admitted = i
				break
			}
			if d.Reason != ReasonQueued {
				t.Fatalf("TryAdmit(%s) = %+v, want admitted or Queued", name, d)
			}
		}
		if admitted < 0 {
			t.Fatalf("none of %v admitted", pending)
		}
		order = append(order, pending[admitted])
		pending = slices.Delete(pending, admitted, admitted+1)
	}
	return order
}

func TestOrder(t *testing.T) {
	cases := map[string]struct {
		jobs []JobView
		want []string
	}{
		"priority first, higher first": {
			jobs: []JobView{
				makeJob("a").Obj(),
				makeJob("b").Priority(5).Obj(),
				makeJob("c").Priority(1).Obj(),
				makeJob("d").Priority(-3).Obj(),
			},
			want: []string{"b", "c", "a", "d"},
		},
		"ready time among equal priorities": {
			jobs: []JobView{
				makeJob("a").Ready(at(3)).Obj(),
				makeJob("b").Ready(at(1)).Obj(),
				makeJob("c").Ready(at(2)).Obj(),
			},
			want: []string{"b", "c", "a"},
		},
		"creation time breaks ready-time ties": {
			jobs: []JobView{
				makeJob("a").Created(at(-1)).Obj(),
				makeJob("b").Created(at(-3)).Obj(),
				makeJob("c").Created(at(-2)).Obj(),
			},
			want: []string{"b", "c", "a"},
		},
		"name breaks the rest": {
			jobs: []JobView{
				makeJob("c").Obj(),
				makeJob("a").Obj(),
				makeJob("b").Obj(),
			},
			want: []string{"a", "b", "c"},
		},
		"ready time before creation time": {
			jobs: []JobView{
				makeJob("old-late").Created(at(-100)).Ready(at(5)).Obj(),
				makeJob("new-early").Created(at(-1)).Ready(at(1)).Obj(),
			},
			want: []string{"new-early", "old-late"},
		},
		"one order across handlers": {
			jobs: []JobView{
				makeJob("e1").Handler("email").Ready(at(1)).Obj(),
				makeJob("r1").Handler("report").Ready(at(2)).Obj(),
				makeJob("e2").Handler("email").Ready(at(3)).Obj(),
				makeJob("x").Handler("").Priority(1).Ready(at(9)).Obj(),
				makeJob("r2").Handler("report").Ready(at(0)).Obj(),
			},
			want: []string{"x", "r2", "e1", "r1", "e2"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, Limits{})
			f.observe(tc.jobs...)
			if diff := cmp.Diff(tc.want, admissionOrder(t, f)); diff != "" {
				t.Errorf("admission order (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPriorityChangeWhileWaiting(t *testing.T) {
	f := newFixture(t, Limits{})
	f.observe(
		makeJob("a").Ready(at(1)).Obj(),
		makeJob("b").Ready(at(2)).Obj(),
		makeJob("c").Ready(at(3)).Obj(),
	)
	f.observe(makeJob("c").Ready(at(3)).Priority(10).Obj()) // raised
	f.observe(makeJob("a").Ready(at(1)).Priority(-1).Obj()) // lowered
	if diff := cmp.Diff([]string{"c", "b", "a"}, admissionOrder(t, f)); diff != "" {
		t.Errorf("admission order (-want +got):\n%s", diff)
	}
}

func TestQueuedWakesTheFirst(t *testing.T) {
	f := newFixture(t, Limits{})
	f.observe(makeJob("first").Priority(1).Obj(), makeJob("second").Obj())
	d := f.a.TryAdmit(key("second"))
	want := Decision{Reason: ReasonQueued, Message: "other jobs of the queue come first"}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("TryAdmit(second) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"first"}, f.takeWoken()); diff != "" {
		t.Errorf("woken (-want +got):\n%s", diff)
	}
	// Every job behind it would wake it again: once is enough until it was reconciled...
	f.observe(makeJob("third").Obj())
	f.a.TryAdmit(key("third"))
	f.a.TryAdmit(key("second"))
	if w := f.takeWoken(); len(w) != 0 {
		t.Errorf("woken again before first was reconciled: %v", w)
	}
	f.observe(f.views["first"]) // reconciled, and for some reason not admitted
	f.a.TryAdmit(key("second"))
	if diff := cmp.Diff([]string{"first"}, f.takeWoken()); diff != "" {
		t.Errorf("woken after first was reconciled (-want +got):\n%s", diff)
	}
	// ... or until a while passed, in case the wake was lost.
	f.clk.Step(queuedWakeAgain)
	f.a.TryAdmit(key("second"))
	if diff := cmp.Diff([]string{"first"}, f.takeWoken()); diff != "" {
		t.Errorf("woken after %s (-want +got):\n%s", queuedWakeAgain, diff)
	}
}

func TestWokenJobThatStopsWaitingWakesTheNext(t *testing.T) {
	f := newFixture(t, Limits{Concurrency: 1})
	f.observe(makeJob("a").Obj(), makeJob("b").Ready(at(1)).Obj(), makeJob("c").Ready(at(2)).Obj())
	f.mustAdmit("a")
	f.set("a", Idle)
	if diff := cmp.Diff([]string{"b"}, f.takeWoken()); diff != "" {
		t.Fatalf("woken (-want +got):\n%s", diff)
	}
	f.set("b", Idle) // b was suspended meanwhile: the free slot goes to c
	if diff := cmp.Diff([]string{"c"}, f.takeWoken()); diff != "" {
		t.Errorf("woken (-want +got):\n%s", diff)
	}
	f.mustAdmit("c")
}

func TestConcurrency(t *testing.T) {
	cases := map[string]struct {
		limits    Limits
		jobs      []JobView
		admit     []string // admitted in this order
		refused   string
		want      Decision
		finish    string
		wantWoken []string
		thenAdmit string
	}{
		"queue": {
			limits: Limits{Concurrency: 2},
			jobs: []JobView{
				makeJob("a").Ready(at(1)).Obj(),
				makeJob("b").Ready(at(2)).Obj(),
				makeJob("c").Ready(at(3)).Obj(),
			},
			admit:     []string{"a", "b"},
			refused:   "c",
			want:      Decision{Reason: ReasonConcurrency, Message: "queue concurrency 2 reached (2 running)"},
			finish:    "a",
			wantWoken: []string{"c"},
			thenAdmit: "c",
		},
		"handler": {
			limits: Limits{Handlers: map[string]HandlerLimits{"email": {Concurrency: 1}}},
			jobs: []JobView{
				makeJob("e1").Handler("email").Ready(at(1)).Obj(),
				makeJob("e2").Handler("email").Ready(at(2)).Obj(),
			},
			admit:     []string{"e1"},
			refused:   "e2",
			want:      Decision{Reason: ReasonConcurrency, Message: "handler email concurrency 1 reached (1 running)"},
			finish:    "e1",
			wantWoken: []string{"e2"},
			thenAdmit: "e2",
		},
		"default handler": {
			limits: Limits{Handlers: map[string]HandlerLimits{"": {Concurrency: 1}}},
			jobs: []JobView{
				makeJob("a").Ready(at(1)).Obj(),
				makeJob("b").Ready(at(2)).Obj(),
			},
			admit:     []string{"a"},
			refused:   "b",
			want:      Decision{Reason: ReasonConcurrency, Message: "default handler concurrency 1 reached (1 running)"},
			finish:    "a",
			wantWoken: []string{"b"},
			thenAdmit: "b",
		},
		"queue limit is reported before the handler's": {
			limits: Limits{Concurrency: 1, Handlers: map[string]HandlerLimits{"email": {Concurrency: 1}}},
			jobs: []JobView{
				makeJob("e1").Handler("email").Ready(at(1)).Obj(),
				makeJob("e2").Handler("email").Ready(at(2)).Obj(),
			},
			admit:     []string{"e1"},
			refused:   "e2",
			want:      Decision{Reason: ReasonConcurrency, Message: "queue concurrency 1 reached (1 running)"},
			finish:    "e1",
			wantWoken: []string{"e2"},
			thenAdmit: "e2",
		},
		"paused before everything": {
			limits:  Limits{Paused: true, Concurrency: 1},
			jobs:    []JobView{makeJob("a").Obj()},
			refused: "a",
			want:    Decision{Reason: ReasonPaused, Message: "queue q is paused"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, tc.limits)
			f.observe(tc.jobs...)
			f.mustAdmit(tc.admit...)
			f.takeWoken()
			if diff := cmp.Diff(tc.want, f.a.TryAdmit(key(tc.refused))); diff != "" {
				t.Fatalf("TryAdmit(%s) (-want +got):\n%s", tc.refused, diff)
			}
			if tc.finish == "" {
				return
			}
			f.set(tc.finish, Idle)
			if diff := cmp.Diff(tc.wantWoken, f.takeWoken()); diff != "" {
				t.Errorf("woken after %s finished (-want +got):\n%s", tc.finish, diff)
			}
			f.mustAdmit(tc.thenAdmit)
		})
	}
}

func TestHandlerAtLimitDoesNotBlockOthers(t *testing.T) {
	f := newFixture(t, Limits{
		Concurrency: 3,
		Handlers: map[string]HandlerLimits{
			"email":  {Concurrency: 1},
			"report": {Rate: rate(1, time.Minute)},
		},
	})
	f.observe(
		makeJob("e1").Handler("email").Priority(9).Obj(),
		makeJob("e2").Handler("email").Priority(8).Obj(),
		makeJob("r1").Handler("report").Priority(7).Obj(),
		makeJob("r2").Handler("report").Priority(6).Obj(),
		makeJob("t1").Handler("thumb").Priority(1).Obj(),
	)
	f.mustAdmit("e1", "r1")
	// e2 and r2 come first but their handlers are at their limits: t1 is the first admissible.
	if d := f.a.TryAdmit(key("e2")); d.Reason != ReasonConcurrency {
		t.Errorf("TryAdmit(e2) = %+v, want ConcurrencyLimited", d)
	}
	if d := f.a.TryAdmit(key("r2")); d.Reason != ReasonRate || !d.RetryAt.Equal(at(60)) {
		t.Errorf("TryAdmit(r2) = %+v, want RateLimited until t=60s", d)
	}
	f.mustAdmit("t1")
	// Now the queue is full.
	if d := f.a.TryAdmit(key("e2")); d.Reason != ReasonConcurrency || d.Message != "queue concurrency 3 reached (3 running)" {
		t.Errorf("TryAdmit(e2) = %+v, want the queue's concurrency", d)
	}
}

func TestRateWindow(t *testing.T) {
	type step struct {
		at   float64 // seconds after t0
		job  string
		want Decision // Admitted or the refusal
	}
	cases := map[string]struct {
		limits  Limits
		handler string
		steps   []step
	}{
		"queue 3 per 60s": {
			limits: Limits{Rate: rate(3, time.Minute)},
			steps: []step{
				{at: 0, job: "j1", want: Decision{Admitted: true}},
				{at: 10, job: "j2", want: Decision{Admitted: true}},
				{at: 20, job: "j3", want: Decision{Admitted: true}},
				{at: 20, job: "j4", want: Decision{Reason: ReasonRate, RetryAt: at(60),
					Message: "queue rate 3/60s reached; next slot at 2026-11-23T09:01:00Z"}},
				{at: 59.999, job: "j4", want: Decision{Reason: ReasonRate, RetryAt: at(60),
					Message: "queue rate 3/60s reached; next slot at 2026-11-23T09:01:00Z"}},
				{at: 60, job: "j4", want: Decision{Admitted: true}},
				{at: 60, job: "j5", want: Decision{Reason: ReasonRate, RetryAt: at(70),
					Message: "queue rate 3/60s reached; next slot at 2026-11-23T09:01:10Z"}},
				{at: 70, job: "j5", want: Decision{Admitted: true}},
				{at: 70.5, job: "j6", want: Decision{Reason: ReasonRate, RetryAt: at(80),
					Message: "queue rate 3/60s reached; next slot at 2026-11-23T09:01:20Z"}},
			},
		},
		"handler 2 per 30s, sub-second starts": {
			limits:  Limits{Handlers: map[string]HandlerLimits{"email": {Rate: rate(2, 30*time.Second)}}},
			handler: "email",
			steps: []step{
				{at: 0.25, job: "j1", want: Decision{Admitted: true}},
				{at: 1.5, job: "j2", want: Decision{Admitted: true}},
				{at: 2, job: "j3", want: Decision{Reason: ReasonRate, RetryAt: at(30.25),
					Message: "handler email rate 2/30s reached; next slot at 2026-11-23T09:00:30Z"}},
				{at: 30.25, job: "j3", want: Decision{Admitted: true}},
				{at: 30.25, job: "j4", want: Decision{Reason: ReasonRate, RetryAt: at(31.5),
					Message: "handler email rate 2/30s reached; next slot at 2026-11-23T09:00:31Z"}},
			},
		},
		"queue rate is reported before the handler's": {
			limits:  Limits{Rate: rate(1, time.Minute), Handlers: map[string]HandlerLimits{"email": {Rate: rate(1, time.Hour)}}},
			handler: "email",
			steps: []step{
				{at: 0, job: "j1", want: Decision{Admitted: true}},
				{at: 1, job: "j2", want: Decision{Reason: ReasonRate, RetryAt: at(60),
					Message: "queue rate 1/60s reached; next slot at 2026-11-23T09:01:00Z"}},
				{at: 60, job: "j2", want: Decision{Reason: ReasonRate, RetryAt: at(3600),
					Message: "handler email rate 1/3600s reached; next slot at 2026-11-23T10:00:00Z"}},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, tc.limits)
			for i := 1; i <= 6; i++ {
				f.observe(makeJob("j" + string(rune('0'+i))).Handler(tc.handler).Ready(at(float64(-10 + i))).Obj())
			}
			for _, s := range tc.steps {
				f.setTime(at(s.at))
				if s.want.Admitted {
					s.want.At = at(s.at) // the reservation's instant: the attempt's start in status
				}
				if diff := cmp.Diff(s.want, f.admit(s.job)); diff != "" {
					t.Fatalf("t=%vs TryAdmit(%s) (-want +got):\n%s", s.at, s.job, diff)
				}
			}
		})
	}
}

func TestRetryAtOverLimit(t *testing.T) {
	// Five starts in the window and a limit of 3 (the limit was lowered): a slot opens when the
	// third oldest start leaves the window.
	f := newFixture(t, Limits{Rate: rate(3, time.Minute)})
	f.setTime(at(30))
	f.observe(
		makeJob("old").State(Idle).Attempts(5).Starts(at(0), at(5), at(10), at(15), at(20)).Obj(),
		makeJob("j").Obj(),
	)
	if d := f.a.TryAdmit(key("j")); d.Reason != ReasonRate || !d.RetryAt.Equal(at(70)) {
		t.Fatalf("TryAdmit at t=30s = %+v, want RateLimited until t=70s", d)
	}
	f.setTime(at(69.5))
	if d := f.a.TryAdmit(key("j")); d.Reason != ReasonRate || !d.RetryAt.Equal(at(70)) {
		t.Fatalf("TryAdmit at t=69.5s = %+v, want RateLimited until t=70s", d)
	}
	f.setTime(at(70))
	f.mustAdmit("j")
	if got := f.a.Stats(qk).StartedInWindow; got != 3 {
		t.Errorf("StartedInWindow = %d, want 3 (15s, 20s, 70s)", got)
	}
}

// TestRecordedStarts: attempts another manager started count from what status proves of when
// their side effects were made by (never later than now); attempts admission started itself keep
// their exact in-memory times, whatever status reads back.
func TestRecordedStarts(t *testing.T) {
	f := newFixture(t, Limits{Rate: rate(10, time.Minute)})
	f.setTime(at(30))
	// Finished at 0 s and 9 s (By = finish + 1 s), and a third one still running: counted from now.
	f.observe(makeJob("a").State(Running).Attempts(3).Starts(at(1), at(10), time.Time{}).Obj())
	// A By after now (a whole-second finish rounded up) counts from now.
	f.observe(makeJob("b").State(Idle).Attempts(1).Starts(at(31)).Obj())
	if got := f.a.Stats(qk).StartedInWindow; got != 4 {
		t.Fatalf("StartedInWindow = %d, want 4", got)
	}
	// The same records read again change nothing.
	f.observe(makeJob("a").State(Running).Attempts(3).Starts(at(1), at(10), time.Time{}).Obj())
	f.setTime(at(61.5))
	if got := f.a.Stats(qk).StartedInWindow; got != 3 {
		t.Errorf("StartedInWindow at t=61.5s = %d, want 3 (the start made by 1 s left)", got)
	}
	f.setTime(at(70))
	if got := f.a.Stats(qk).StartedInWindow; got != 2 {
		t.Errorf("StartedInWindow at t=70s = %d, want 2 (running since before 30 s, and b)", got)
	}
	f.setTime(at(90))
	if got := f.a.Stats(qk).StartedInWindow; got != 0 {
		t.Errorf("StartedInWindow at t=90s = %d, want 0", got)
	}

	// An attempt admitted here counts from its exact reservation, not from the whole second
	// status reads back.
	f.observe(makeJob("c").Obj())
	f.setTime(at(100.75))
	f.mustAdmit("c")
	v := f.views["c"]
	v.AttemptStarts[0].By = at(100)
	f.observe(v)
	f.setTime(at(160.5))
	if got := f.a.Stats(qk).StartedInWindow; got != 1 {
		t.Errorf("StartedInWindow at t=160.5s = %d, want 1: c started at 100.75 s", got)
	}
}

func TestRebuildAfterRestart(t *testing.T) {
	limits := Limits{Concurrency: 2, Rate: rate(3, time.Minute)}
	f := newFixture(t, limits)
	f.observe(
		makeJob("j1").Ready(at(-4)).Obj(),
		makeJob("j2").Ready(at(-3)).Obj(),
		makeJob("j3").Ready(at(-2)).Obj(),
		makeJob("j4").Ready(at(-1)).Obj(),
	)
	f.mustAdmit("j1")
	f.setTime(at(10))
	f.mustAdmit("j2")
	f.setTime(at(15))
	f.set("j2", Idle) // finished

	// The manager restarts: a new Admission rebuilt from the stored state.
	f.setTime(at(20))
	var views []JobView
	for _, v := range f.views {
		views = append(views, v)
	}
	calls := 0
	b := New(f.clk, nil)
	b.SetLimits(qk, limits)
	b.EnsureQueue(qk, func() []JobView { calls++; return views })
	b.EnsureQueue(qk, func() []JobView { calls++; return views })
	if calls != 1 {
		t.Errorf("list called %d times, want 1", calls)
	}
	f.a = b
	if diff := cmp.Diff(Stats{Running: 1, Waiting: 2, StartedInWindow: 2, OldestWaitingReadyTime: at(-2)}, b.Stats(qk)); diff != "" {
		t.Errorf("Stats after rebuild (-want +got):\n%s", diff)
	}
	f.mustAdmit("j3")
	if d := f.a.TryAdmit(key("j4")); d.Reason != ReasonConcurrency {
		t.Errorf("TryAdmit(j4) = %+v, want ConcurrencyLimited: j1 runs since before the restart", d)
	}
	f.set("j1", Idle)
	if d := f.a.TryAdmit(key("j4")); d.Reason != ReasonRate || !d.RetryAt.Equal(at(60)) {
		t.Errorf("TryAdmit(j4) = %+v, want RateLimited until t=60s: starts at 0s, 10s, 20s", d)
	}
	f.setTime(at(60))
	f.mustAdmit("j4")
}

func TestEnsureQueueConcurrentCallersWait(t *testing.T) {
	f := newFixture(t, Limits{})
	other := QueueKey{Namespace: ns, Name: "other"}
	release := make(chan struct{})
	listing := make(chan struct{})
	done := make(chan struct{})
	go func() {
		f.a.EnsureQueue(other, func() []JobView {
			close(listing)
			<-release
			return []JobView{makeJob("r").Queue("other").State(Running).Attempts(1).Obj()}
		})
		close(done)
	}()
	<-listing
	second := make(chan Stats)
	go func() {
		f.a.EnsureQueue(other, func() []JobView { t.Error("list called twice"); return nil })
		second <- f.a.Stats(other)
	}()
	// Admission stays usable for other queues meanwhile.
	f.observe(makeJob("a").Obj())
	f.mustAdmit("a")
	close(release)
	<-done
	if got := <-second; got.Running != 1 {
		t.Errorf("Stats after the second EnsureQueue returned = %+v, want the rebuilt running job", got)
	}
}

func TestRebuildKeepsFresherObservations(t *testing.T) {
	f := newFixture(t, Limits{})
	other := QueueKey{Namespace: ns, Name: "other"}
	f.a.EnsureQueue(other, func() []JobView {
		// While the list runs, one job is observed finished and another is deleted.
		f.a.Observe(makeJob("fresh").Queue("other").State(Idle).Attempts(1).Obj())
		f.a.Forget(key("gone"))
		return []JobView{
			makeJob("fresh").Queue("other").State(Running).Attempts(1).Obj(),
			makeJob("gone").Queue("other").State(Running).Attempts(1).Obj(),
			makeJob("w").Queue("other").Obj(),
		}
	})
	if diff := cmp.Diff(Stats{Running: 0, Waiting: 1, OldestWaitingReadyTime: t0}, f.a.Stats(other)); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

func TestExpectations(t *testing.T) {
	f := newFixture(t, Limits{Concurrency: 1, Rate: rate(10, time.Minute)})
	f.observe(makeJob("a").Attempts(2).Starts(at(-120), at(-90)).Ready(at(-2)).Obj(), makeJob("b").Ready(at(-1)).Obj())
	stale := f.views["a"] // Waiting with 2 attempts: what the cache shows until the write lands

	d := f.a.TryAdmit(key("a"))
	if !d.Admitted {
		t.Fatalf("TryAdmit(a) = %+v", d)
	}
	running := func(want int32) {
		t.Helper()
		if s := f.a.Stats(qk); s.Running != want || s.StartedInWindow != want {
			t.Fatalf("Stats = %+v, want %d running and started", s, want)
		}
	}
	running(1)

	// A stale read of a (attempt 2 not yet in the cache) neither frees the slot nor puts a back.
	f.a.Observe(stale)
	running(1)
	if d := f.a.TryAdmit(key("a")); d.Reason != ReasonNotWaiting {
		t.Errorf("TryAdmit(a) again = %+v, want NotWaiting", d)
	}
	if d := f.a.TryAdmit(key("b")); d.Reason != ReasonConcurrency {
		t.Errorf("TryAdmit(b) = %+v, want ConcurrencyLimited", d)
	}

	// The committed status: attempt 3 Running. The slot stays taken, the start counts once.
	f.clk.Step(time.Second)
	committed := makeJob("a").Attempts(3).State(Running).Starts(at(-120), at(-90), at(0)).Ready(at(-2)).Obj()
	f.a.Observe(committed)
	running(1)

	// Stale reads after that are ignored too.
	f.a.Observe(stale)
	running(1)
	if d := f.a.TryAdmit(key("b")); d.Reason != ReasonConcurrency {
		t.Errorf("TryAdmit(b) = %+v, want ConcurrencyLimited", d)
	}
	f.takeWoken()

	// Finished: the slot is free and b is woken.
	committed.State = Idle
	f.a.Observe(committed)
	if diff := cmp.Diff([]string{"b"}, f.takeWoken()); diff != "" {
		t.Errorf("woken (-want +got):\n%s", diff)
	}
	if s := f.a.Stats(qk); s.Running != 0 {
		t.Errorf("Running = %d, want 0", s.Running)
	}
}

func TestReservationNeverRecordedTimesOut(t *testing.T) {
	f := newFixture(t, Limits{Concurrency: 1})
	f.observe(makeJob("a").Obj(), makeJob("b").Ready(at(1)).Obj())
	if d := f.a.TryAdmit(key("a")); !d.Admitted {
		t.Fatalf("TryAdmit(a) = %+v", d)
	}
	// The commit was lost without Release (the reconcile died). Within the timeout stale reads
	// keep the reservation; after it, the stored state rules again.
	f.clk.Step(reservationTimeout - time.Second)
	f.a.Observe(f.views["a"])
	if s := f.a.Stats(qk); s.Running != 1 {
		t.Fatalf("Running = %d before the timeout, want 1", s.Running)
	}
	f.clk.Step(time.Second)
	f.a.Observe(f.views["a"])
	if s := f.a.Stats(qk); s.Running != 0 || s.Waiting != 2 {
		t.Fatalf("Stats after the timeout = %+v, want a waiting again", s)
	}
	f.mustAdmit("a")
}

func TestRelease(t *testing.T) {
	f := newFixture(t, Limits{Concurrency: 1, Rate: rate(1, time.Hour)})
	f.observe(makeJob("a").Obj(), makeJob("b").Ready(at(1)).Obj())
	if d := f.a.TryAdmit(key("a")); !d.Admitted {
		t.Fatalf("TryAdmit(a) = %+v", d)
	}
	if s := f.a.Stats(qk); s.Running != 1 || s.StartedInWindow != 1 || s.Waiting != 1 {
		t.Fatalf("Stats after admission = %+v", s)
	}
	f.takeWoken()
	f.a.Release(key("a")) // the status write failed
	if diff := cmp.Diff(Stats{Waiting: 2, OldestWaitingReadyTime: t0}, f.a.Stats(qk)); diff != "" {
		t.Errorf("Stats after Release (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a"}, f.takeWoken()); diff != "" {
		t.Errorf("woken (-want +got):\n%s", diff)
	}
	f.a.Release(key("a")) // nothing reserved: no-op
	f.a.Release(key("unknown"))
	f.mustAdmit("a") // first again, and the rate window has room again
}

func TestPauseAndUnpause(t *testing.T) {
	f := newFixture(t, Limits{Concurrency: 2})
	f.observe(makeJob("a").Ready(at(1)).Obj(), makeJob("b").Ready(at(2)).Obj(), makeJob("c").Ready(at(3)).Obj())
	f.a.SetLimits(qk, Limits{Concurrency: 2, Paused: true})
	for _, n := range []string{"a", "b", "c"} {
		if d := f.a.TryAdmit(key(n)); d.Reason != ReasonPaused {
			t.Errorf("TryAdmit(%s) = %+v, want Paused", n, d)
		}
	}
	if w := f.takeWoken(); len(w) != 0 {
		t.Errorf("woken while paused: %v", w)
	}
	f.a.SetLimits(qk, Limits{Concurrency: 2})
	if diff := cmp.Diff([]string{"a", "b"}, f.takeWoken()); diff != "" {
		t.Errorf("woken on unpause (-want +got):\n%s", diff)
	}
	f.a.SetLimits(qk, Limits{Concurrency: 2}) // unchanged: nobody woken
	if w := f.takeWoken(); len(w) != 0 {
		t.Errorf("woken by unchanged limits: %v", w)
	}
}

func TestSetLimitsRaisingCapacityWakes(t *testing.T) {
	f := newFixture(t, Limits{Concurrency: 1, Handlers: map[string]HandlerLimits{"email": {Concurrency: 1}}})
	f.observe(
		makeJob("a").Ready(at(1)).Obj(),
		makeJob("e1").Handler("email").Ready(at(2)).Obj(),
		makeJob("e2").Handler("email").Ready(at(3)).Obj(),
		makeJob("b").Ready(at(4)).Obj(),
		makeJob("c").Ready(at(5)).Obj(),
		makeJob("d").Ready(at(6)).Obj(),
	)
	f.mustAdmit("a")
	f.takeWoken()
	// Room for 3 more; the email handler still admits one at a time.
	f.a.SetLimits(qk, Limits{Concurrency: 4, Handlers: map[string]HandlerLimits{"email": {Concurrency: 1}}})
	if diff := cmp.Diff([]string{"e1", "b", "c"}, f.takeWoken()); diff != "" {
		t.Errorf("woken (-want +got):\n%s", diff)
	}
	// Lifting the handler's limit wakes e2 as well.
	f.a.SetLimits(qk, Limits{Concurrency: 5})
	if diff := cmp.Diff([]string{"e1", "e2", "b", "c"}, f.takeWoken()); diff != "" {
		t.Errorf("woken (-want +got):\n%s", diff)
	}
}

func TestSetLimitsAddingARateCountsPastStarts(t *testing.T) {
	f := newFixture(t, Limits{})
	f.observe(
		makeJob("done").State(Idle).Attempts(2).Handler("email").Starts(at(-30), at(-10)).Obj(),
		makeJob("j").Handler("email").Obj(),
	)
	f.a.SetLimits(qk, Limits{Handlers: map[string]HandlerLimits{"email": {Rate: rate(2, time.Minute)}}})
	if d := f.a.TryAdmit(key("j")); d.Reason != ReasonRate || !d.RetryAt.Equal(at(30)) {
		t.Errorf("TryAdmit(j) = %+v, want RateLimited until t=30s", d)
	}
	f.a.SetLimits(qk, Limits{Rate: rate(1, 20*time.Second)}) // now the queue's: only -10s is inside
	if d := f.a.TryAdmit(key("j")); d.Reason != ReasonRate || !d.RetryAt.Equal(at(10)) {
		t.Errorf("TryAdmit(j) = %+v, want RateLimited until t=10s", d)
	}
	f.a.SetLimits(qk, Limits{})
	f.mustAdmit("j")
}

func TestForget(t *testing.T) {
	f := newFixture(t, Limits{Concurrency: 1, Rate: rate(5, time.Minute)})
	f.observe(makeJob("a").Obj(), makeJob("b").Ready(at(1)).Obj(), makeJob("c").Ready(at(2)).Obj())
	f.mustAdmit("a")
	f.takeWoken()
	f.a.Forget(key("a")) // deleted while running
	if diff := cmp.Diff([]string{"b"}, f.takeWoken()); diff != "" {
		t.Errorf("woken (-want +got):\n%s", diff)
	}
	f.a.Forget(key("b")) // deleted while waiting: the next one is woken instead
	if diff := cmp.Diff([]string{"c"}, f.takeWoken()); diff != "" {
		t.Errorf("woken (-want +got):\n%s", diff)
	}
	if d := f.a.TryAdmit(key("b")); d.Reason != ReasonNotWaiting {
		t.Errorf("TryAdmit(b) = %+v, want NotWaiting", d)
	}
	f.a.Forget(key("unknown"))
	// a's start still counts in the rate window: deleting finished jobs makes no room.
	if diff := cmp.Diff(Stats{Waiting: 1, StartedInWindow: 1, OldestWaitingReadyTime: at(2)}, f.a.Stats(qk)); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	// ... also when the window is rebuilt for a new period.
	f.a.SetLimits(qk, Limits{Concurrency: 1, Rate: rate(5, 2*time.Minute)})
	if got := f.a.Stats(qk).StartedInWindow; got != 1 {
		t.Errorf("StartedInWindow after a rebuild = %d, want 1", got)
	}
}

func TestRecreatedUnderTheSameName(t *testing.T) {
	f := newFixture(t, Limits{Concurrency: 1})
	f.observe(makeJob("a").Obj(), makeJob("b").Ready(at(1)).Obj())
	f.mustAdmit("a")
	// a was deleted and created again before admission heard of it: attempts start over.
	f.observe(makeJob("a").Created(at(5)).Ready(at(5)).Obj())
	if s := f.a.Stats(qk); s.Running != 0 || s.Waiting != 2 {
		t.Errorf("Stats = %+v, want the old a's slot freed and the new a waiting", s)
	}
	f.mustAdmit("b")
}

func TestMoves(t *testing.T) {
	f := newFixture(t, Limits{Handlers: map[string]HandlerLimits{"x": {Concurrency: 1}, "y": {Concurrency: 1}}})
	f.observe(makeJob("a").Handler("x").Obj(), makeJob("b").Handler("x").Ready(at(1)).Obj())
	f.mustAdmit("a")
	// a's handler changes while it runs (its queue's handlers were edited): the slot moves.
	v := f.views["a"]
	v.Handler = "y"
	f.observe(v)
	f.mustAdmit("b")
	f.observe(makeJob("c").Handler("y").Obj())
	if d := f.a.TryAdmit(key("c")); d.Reason != ReasonConcurrency {
		t.Errorf("TryAdmit(c) = %+v, want handler y's concurrency", d)
	}
	// And to another queue: q's counts drop, other's grow.
	other := QueueKey{Namespace: ns, Name: "other"}
	v.Queue = other
	f.observe(v)
	if s := f.a.Stats(qk); s.Running != 1 {
		t.Errorf("q Running = %d, want 1", s.Running)
	}
	if s := f.a.Stats(other); s.Running != 1 {
		t.Errorf("other Running = %d, want 1", s.Running)
	}
	f.mustAdmit("c")
}

func TestStats(t *testing.T) {
	f := newFixture(t, Limits{Rate: rate(10, time.Minute)})
	f.observe(
		makeJob("hi").Priority(5).Ready(at(9)).Obj(),
		makeJob("old").Ready(at(-50)).Obj(),
		makeJob("idle").State(Idle).Ready(at(-100)).Obj(),
		makeJob("run").State(Running).Attempts(1).Starts(at(-5)).Obj(),
	)
	want := Stats{Running: 1, Waiting: 2, StartedInWindow: 1, OldestWaitingReadyTime: at(-50)}
	if diff := cmp.Diff(want, f.a.Stats(qk)); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Stats{}, f.a.Stats(QueueKey{Namespace: ns, Name: "none"})); diff != "" {
		t.Errorf("Stats of an unknown queue (-want +got):\n%s", diff)
	}
}

func TestNotWaiting(t *testing.T) {
	f := newFixture(t, Limits{})
	f.observe(makeJob("idle").State(Idle).Obj(), makeJob("run").State(Running).Attempts(1).Obj())
	for _, n := range []string{"idle", "run", "unknown"} {
		if d := f.a.TryAdmit(key(n)); d.Admitted || d.Reason != ReasonNotWaiting {
			t.Errorf("TryAdmit(%s) = %+v, want NotWaiting", n, d)
		}
	}
}

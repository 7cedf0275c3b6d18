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
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// charge is the executor's side of one side effect: Charge, and Sent when it was allowed.
func (f *fixture) charge(name string, n int32) (bool, time.Time) {
	f.t.Helper()
	ok, at := f.a.Charge(key(name), n)
	if ok {
		f.a.Sent(key(name), n)
	}
	return ok, at
}

func TestChargeCountsFromTheSideEffect(t *testing.T) {
	f := newFixture(t, Limits{Rate: rate(2, 10*time.Second)})
	for _, n := range []string{"a", "b", "c", "d"} {
		f.observe(makeJob(n).Obj())
	}
	f.mustAdmit("a")
	f.setTime(at(1))
	f.mustAdmit("b")
	if ok, _ := f.charge("b", 1); !ok {
		t.Fatal("Charge(b) refused: its reservation holds its slot")
	}
	// a's call was held back by the call pool: it is made at 3 s, and counts from then.
	f.setTime(at(3))
	if ok, _ := f.charge("a", 1); !ok {
		t.Fatal("Charge(a) refused: its reservation holds its slot")
	}
	f.setTime(at(10.5))
	if d := f.a.TryAdmit(key("c")); d.Reason != ReasonRate || !d.RetryAt.Equal(at(11)) {
		t.Fatalf("TryAdmit(c) at 10.5 s = %+v, want RateLimited until 11 s (b, made at 1 s, leaves)", d)
	}
	f.setTime(at(11))
	f.mustAdmit("c")
	if d := f.a.TryAdmit(key("d")); d.Reason != ReasonRate || !d.RetryAt.Equal(at(13)) {
		t.Errorf("TryAdmit(d) at 11 s = %+v, want RateLimited until 13 s: a was made at 3 s, not reserved at 0 s", d)
	}
}

func TestSentMovesTheStartToWhenItWasMade(t *testing.T) {
	f := newFixture(t, Limits{Rate: rate(1, 10*time.Second)})
	f.observe(makeJob("a").Obj(), makeJob("b").Obj())
	f.mustAdmit("a")
	if ok, _ := f.a.Charge(key("a"), 1); !ok {
		t.Fatal("Charge(a) refused")
	}
	f.setTime(at(0.5)) // the request took half a second to write
	f.a.Sent(key("a"), 1)
	f.setTime(at(10.25))
	if d := f.a.TryAdmit(key("b")); d.Reason != ReasonRate || !d.RetryAt.Equal(at(10.5)) {
		t.Errorf("TryAdmit(b) = %+v, want RateLimited until 10.5 s", d)
	}
}

func TestHeldSideEffectClaimsTheNextSlot(t *testing.T) {
	f := newFixture(t, Limits{Rate: rate(1, 10*time.Second)})
	for _, n := range []string{"a", "b", "c"} {
		f.observe(makeJob(n).Ready(at(float64(len(n)))).Obj())
	}
	f.mustAdmit("a")
	// a's call waits in the pool past its window; b is admitted and called at once.
	f.setTime(at(10))
	f.mustAdmit("b")
	if ok, _ := f.charge("b", 1); !ok {
		t.Fatal("Charge(b) refused")
	}
	f.setTime(at(12))
	ok, retryAt := f.a.Charge(key("a"), 1)
	if ok || !retryAt.Equal(at(20)) {
		t.Fatalf("Charge(a) at 12 s = %v, %s; want refused until 20 s (b was made at 10 s)", ok, retryAt.Sub(t0))
	}
	// c may not take the slot a waits for.
	f.setTime(at(20))
	f.takeWoken()
	d := f.a.TryAdmit(key("c"))
	if d.Reason != ReasonRate || !d.RetryAt.IsZero() || !strings.Contains(d.Message, "1 admitted attempts waiting to start") {
		t.Fatalf("TryAdmit(c) at 20 s = %+v, want RateLimited behind a's claim", d)
	}
	if ok, _ := f.charge("a", 1); !ok {
		t.Fatal("Charge(a) at 20 s refused")
	}
	if got := f.takeWoken(); !slices.Equal(got, []string{"c"}) {
		t.Errorf("woken when the claim was charged = %v, want [c]: its next slot has an instant now", got)
	}
	if d := f.a.TryAdmit(key("c")); d.Reason != ReasonRate || !d.RetryAt.Equal(at(30)) {
		t.Errorf("TryAdmit(c) = %+v, want RateLimited until 30 s", d)
	}
	if st := f.a.Stats(qk); st.StartedInWindow != 1 {
		t.Errorf("StartedInWindow = %d, want 1", st.StartedInWindow)
	}
}

func TestRepeatedSideEffectNeedsASlot(t *testing.T) {
	f := newFixture(t, Limits{Rate: rate(2, 10*time.Second)})
	f.observe(makeJob("a").Obj(), makeJob("b").Obj())
	f.mustAdmit("a")
	if ok, _ := f.charge("a", 1); !ok {
		t.Fatal("Charge(a) refused")
	}
	f.setTime(at(1))
	// The pod create is retried: a second side effect, and the window has room for it.
	if ok, _ := f.charge("a", 1); !ok {
		t.Fatal("a second Charge(a) refused with a free slot")
	}
	f.setTime(at(2))
	if ok, retryAt := f.charge("a", 1); ok || !retryAt.Equal(at(10)) {
		t.Errorf("a third Charge(a) = %v, %s; want refused until 10 s", ok, retryAt.Sub(t0))
	}
	if d := f.a.TryAdmit(key("b")); d.Reason != ReasonRate {
		t.Errorf("TryAdmit(b) = %+v, want RateLimited", d)
	}
}

func TestClaimOfAnEndedAttemptIsDropped(t *testing.T) {
	f := newFixture(t, Limits{Rate: rate(1, 10*time.Second)})
	f.observe(makeJob("a").Obj(), makeJob("b").Obj())
	// After a restart, a's attempt is running: its call is made again, and must wait.
	f.observe(makeJob("a").State(Running).Attempts(1).Starts(time.Time{}).Obj())
	f.setTime(at(1))
	if ok, retryAt := f.a.Charge(key("a"), 1); ok || !retryAt.Equal(at(10)) {
		t.Fatalf("Charge(a) = %v, %s; want refused until 10 s", ok, retryAt.Sub(t0))
	}
	f.setTime(at(10))
	if d := f.a.TryAdmit(key("b")); d.Reason != ReasonRate || !d.RetryAt.IsZero() {
		t.Fatalf("TryAdmit(b) = %+v, want RateLimited behind a's claim", d)
	}
	f.takeWoken()
	// a's attempt timed out before its call could be made: the slot is b's.
	f.observe(makeJob("a").State(Idle).Attempts(1).Starts(at(10)).Obj())
	if got := f.takeWoken(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("woken = %v, want [b]", got)
	}
	f.mustAdmit("b")
}

func TestReleaseRemovesTheReservedStart(t *testing.T) {
	f := newFixture(t, Limits{Rate: rate(1, 10*time.Second)})
	f.observe(makeJob("a").Obj())
	if d := f.a.TryAdmit(key("a")); !d.Admitted {
		t.Fatalf("TryAdmit(a) = %+v", d)
	}
	f.a.Release(key("a"))
	if st := f.a.Stats(qk); st.StartedInWindow != 0 {
		t.Errorf("StartedInWindow after Release = %d, want 0", st.StartedInWindow)
	}
	f.mustAdmit("a")
}

// TestSideEffectsNeverExceedTheLimit plays executors that make their side effects late, sometimes
// later than a window, and sometimes again, with starts that end and jobs that retry: in every
// window of the side effects' own times there are at most the limit.
func TestSideEffectsNeverExceedTheLimit(t *testing.T) {
	const (
		jobs   = 40
		limit  = 3
		period = 10 * time.Second
	)
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		f := newFixture(t, Limits{Rate: rate(limit, period), Handlers: map[string]HandlerLimits{"h": {Rate: rate(2, 7*time.Second)}}})
		type pending struct {
			name string
			n    int32
			due  time.Time // when the executor gets to it
		}
		var queue []pending
		var made []time.Time
		names := make([]string, jobs)
		for i := range names {
			names[i] = string(rune('a'+i%26)) + string(rune('a'+i/26))
			h := ""
			if i%2 == 0 {
				h = "h"
			}
			f.observe(makeJob(names[i]).Handler(h).Ready(at(float64(i))).Obj())
		}
		for range 3000 {
			f.setTime(f.clk.Now().Add(time.Duration(r.IntN(700)) * time.Millisecond))
			now := f.clk.Now()
			switch op := r.IntN(4); {
			case op == 0:
				for _, name := range names { // every waiting job tries; those first in turn start
					if v := f.views[name]; v.State == Waiting && f.admit(name).Admitted {
						delay := time.Duration(r.ExpFloat64() * float64(2*time.Second))
						queue = append(queue, pending{name, f.views[name].Attempts, now.Add(delay)})
					}
				}
			case op == 1 && len(queue) > 0:
				i := r.IntN(len(queue))
				p := queue[i]
				if now.Before(p.due) {
					continue
				}
				ok, retryAt := f.a.Charge(key(p.name), p.n)
				if !ok {
					if !retryAt.After(now) {
						t.Fatalf("seed %d: Charge(%s) refused until %s, not after now %s", seed, p.name, retryAt, now)
					}
					queue[i].due = retryAt
					continue
				}
				made = append(made, now)
				f.a.Sent(key(p.name), p.n)
				if r.IntN(10) == 0 {
					queue[i].due = now.Add(time.Second) // made again (a retried create)
				} else {
					queue = slices.Delete(queue, i, i+1)
					v := f.views[p.name]
					v.State = Waiting // it failed and retries at once
					f.observe(v)
				}
			case op == 2 && len(queue) > 0 && r.IntN(20) == 0:
				// An attempt ends before its side effect (its deadline passed).
				i := r.IntN(len(queue))
				v := f.views[queue[i].name]
				v.State = Idle
				f.observe(v)
				queue = slices.Delete(queue, i, i+1)
			}
		}
		slices.SortFunc(made, time.Time.Compare)
		for i := limit; i < len(made); i++ {
			if made[i].Sub(made[i-limit]) < period {
				t.Fatalf("seed %d: %d side effects within %s: %s .. %s", seed, limit+1, made[i].Sub(made[i-limit]), made[i-limit].Sub(t0), made[i].Sub(t0))
			}
		}
		if len(made) < 100 {
			t.Errorf("seed %d: only %d side effects made; the test should exercise the limit", seed, len(made))
		}
	}
}

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
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestConcurrentWorkers plays 8 reconcile workers on 200 jobs: admissions, status writes that
// land or fail, stale cache reads, finishes and retries, in random order. Never more than the
// limits run at once, and afterwards notifications alone drain the queue.
func TestConcurrentWorkers(t *testing.T) {
	const (
		jobs         = 200
		workers      = 8
		opsPerWorker = 20000
		limit        = 5
		emailLimit   = 2
	)
	type phase int
	const (
		waiting phase = iota
		reserved
		running
		idle
	)
	type simJob struct {
		mu    sync.Mutex
		view  JobView
		phase phase
	}
	clk := clocktesting.NewFakeClock(t0)
	// Notifications are delivered, late: the drain below reconciles every job woken meanwhile.
	var notified atomic.Int64
	var pendingMu sync.Mutex
	pending := map[types.NamespacedName]struct{}{}
	a := New(clk, func(k types.NamespacedName) {
		notified.Add(1)
		pendingMu.Lock()
		pending[k] = struct{}{}
		pendingMu.Unlock()
	})
	a.SetLimits(qk, Limits{Concurrency: limit, Handlers: map[string]HandlerLimits{"email": {Concurrency: emailLimit}}})
	sim := make([]*simJob, jobs)
	for i := range sim {
		h := ""
		if i%3 == 0 {
			h = "email"
		}
		sim[i] = &simJob{view: makeJob(fmt.Sprintf("j%03d", i)).Handler(h).Priority(int32(i % 4)).Ready(at(float64(i))).Obj()}
	}
	a.EnsureQueue(qk, func() []JobView {
		vs := make([]JobView, jobs)
		for i, s := range sim {
			vs[i] = s.view
		}
		return vs
	})

	// Counted from the outside: up after TryAdmit admitted, down before the call that frees the slot.
	var inFlight, emailInFlight, maxSeen, admissions atomic.Int64
	up := func(s *simJob) {
		n := inFlight.Add(1)
		if n > limit {
			t.Errorf("%d running at once, limit %d", n, limit)
		}
		for m := maxSeen.Load(); n > m && !maxSeen.CompareAndSwap(m, n); m = maxSeen.Load() {
		}
		if s.view.Handler == "email" {
			if n := emailInFlight.Add(1); n > emailLimit {
				t.Errorf("%d email jobs running at once, limit %d", n, emailLimit)
			}
		}
		admissions.Add(1)
	}
	down := func(s *simJob) {
		inFlight.Add(-1)
		if s.view.Handler == "email" {
			emailInFlight.Add(-1)
		}
	}
	commit := func(s *simJob) { // the status write that records the reserved attempt
		s.view.Attempts++
		s.view.State = Running
		s.view.AttemptStarts = append(s.view.AttemptStarts[:len(s.view.AttemptStarts):len(s.view.AttemptStarts)], clk.Now())
		a.Observe(s.view)
		s.phase = running
	}

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 42))
			for range opsPerWorker {
				s := sim[r.IntN(jobs)]
				if !s.mu.TryLock() { // one worker per job at a time, as with a workqueue
					continue
				}
				switch s.phase {
				case waiting:
					if r.IntN(10) == 0 {
						s.view.Priority = int32(r.IntN(4))
						a.Observe(s.view)
					}
					if !a.TryAdmit(s.view.Key).Admitted {
						break
					}
					up(s)
					switch r.IntN(10) {
					case 0: // the status write failed
						down(s)
						a.Release(s.view.Key)
					case 1: // the write is in flight
						s.phase = reserved
					default:
						commit(s)
					}
				case reserved:
					stale := s.view
					a.Observe(stale) // the cache does not show the attempt yet
					if r.IntN(2) == 0 {
						down(s)
						a.Release(s.view.Key)
						s.phase = waiting
					} else {
						commit(s)
					}
				case running:
					if r.IntN(3) == 0 { // a stale read from before the admission
						stale := s.view
						stale.Attempts--
						stale.State = Waiting
						stale.AttemptStarts = stale.AttemptStarts[:len(stale.AttemptStarts)-1]
						a.Observe(stale)
						break
					}
					down(s)
					if r.IntN(2) == 0 {
						s.view.State = Waiting // failed, retried at once
						s.phase = waiting
					} else {
						s.view.State = Idle // delayed
						s.phase = idle
					}
					a.Observe(s.view)
				case idle:
					s.view.State = Waiting
					a.Observe(s.view)
					s.phase = waiting
				}
				if st := a.Stats(qk); st.Running > limit {
					t.Errorf("Stats.Running = %d, limit %d", st.Running, limit)
				}
				s.mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := a.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	if maxSeen.Load() != limit {
		t.Errorf("at most %d ran at once; the test should reach the limit %d", maxSeen.Load(), limit)
	}
	t.Logf("%d admissions, %d notifications", admissions.Load(), notified.Load())

	// Drain: the workers stop; from now on a job is reconciled only when admission wakes it.
	var mu sync.Mutex
	var woken []types.NamespacedName
	a.notify = func(k types.NamespacedName) { mu.Lock(); woken = append(woken, k); mu.Unlock() }
	byKey := map[types.NamespacedName]*simJob{}
	for _, s := range sim {
		byKey[s.view.Key] = s
	}
	finish := func(s *simJob) {
		s.view.State = Idle
		s.phase = idle
		a.Observe(s.view)
	}
	for _, s := range sim {
		switch s.phase {
		case reserved:
			commit(s)
			finish(s)
		case running:
			finish(s)
		case idle:
			s.view.State = Waiting
			s.phase = waiting
			a.Observe(s.view)
		}
	}
	for k := range pending {
		woken = append(woken, k)
	}
	for _, s := range sim { // any one reconcile starts the chain
		if s.phase == waiting {
			woken = append(woken, s.view.Key)
			break
		}
	}
	for {
		mu.Lock()
		if len(woken) == 0 {
			mu.Unlock()
			break
		}
		k := woken[0]
		woken = woken[1:]
		mu.Unlock()
		s := byKey[k]
		if s.phase != waiting {
			continue
		}
		a.Observe(s.view) // a reconcile observes, then tries
		if a.TryAdmit(k).Admitted {
			commit(s)
			finish(s)
		}
	}
	for _, s := range sim {
		if s.phase != idle {
			t.Errorf("%s left %v after the drain", s.view.Key.Name, s.phase)
		}
	}
	if st := a.Stats(qk); st.Running != 0 || st.Waiting != 0 {
		t.Errorf("Stats after the drain = %+v", st)
	}
}

// scaleFixture is a queue of n Waiting jobs, job i ready at t0+i ms, with concurrency 5 and
// five of them running.
func scaleFixture(tb testing.TB, n int) (*Admission, []JobView, *[]types.NamespacedName) {
	tb.Helper()
	clk := clocktesting.NewFakeClock(t0)
	woken := &[]types.NamespacedName{}
	a := New(clk, func(k types.NamespacedName) { *woken = append(*woken, k) })
	a.SetLimits(qk, Limits{Concurrency: 5, Rate: rate(1_000_000, time.Hour), Handlers: map[string]HandlerLimits{"email": {Concurrency: 5}}})
	views := make([]JobView, n)
	for i := range views {
		h := "email"
		if i%2 == 1 {
			h = "report"
		}
		views[i] = makeJob(fmt.Sprintf("j%06d", i)).Handler(h).Ready(t0.Add(time.Duration(i) * time.Millisecond)).Obj()
	}
	a.EnsureQueue(qk, func() []JobView { return views })
	for i := range 5 {
		admitCommit(tb, a, &views[i], clk.Now())
	}
	return a, views, woken
}

func admitCommit(tb testing.TB, a *Admission, v *JobView, now time.Time) {
	if d := a.TryAdmit(v.Key); !d.Admitted {
		tb.Fatalf("TryAdmit(%s) = %+v", v.Key.Name, d)
	}
	v.Attempts++
	v.State = Running
	v.AttemptStarts = append(v.AttemptStarts, now)
	a.Observe(*v)
}

// cycle is one job finishing, the woken next one admitted and committed, and a priority change
// of a job at the back of the queue.
func cycle(tb testing.TB, a *Admission, views []JobView, woken *[]types.NamespacedName, c int) {
	done := &views[c]
	done.State = Idle
	*woken = (*woken)[:0]
	a.Observe(*done)
	next := c + 5
	if len(*woken) != 1 || (*woken)[0] != views[next].Key {
		tb.Fatalf("cycle %d: woken %v, want %s", c, *woken, views[next].Key.Name)
	}
	admitCommit(tb, a, &views[next], t0)
	back := &views[len(views)-1-c]
	back.Priority = -1
	a.Observe(*back)
}

// TestPerEventCostDoesNotGrowWithTheQueue runs 10k admission cycles on a queue of 100k Waiting
// jobs and counts the comparisons of jobs they make: a scan of the queue per event would make
// 100k per cycle; heaps make a few dozen.
func TestPerEventCostDoesNotGrowWithTheQueue(t *testing.T) {
	const n, cycles = 100_000, 10_000
	a, views, woken := scaleFixture(t, n)
	a.cmps = 0
	for c := range cycles {
		cycle(t, a, views, woken, c)
	}
	per := float64(a.cmps) / cycles
	t.Logf("%.1f job comparisons per cycle on a queue of %d", per, n)
	if per > 300 {
		t.Errorf("%.1f comparisons per cycle: per-event work grows with the queue", per)
	}
	if err := a.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkAdmissionCycle(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("queue=%d", n), func(b *testing.B) {
			a, views, woken := scaleFixture(b, n)
			c := 0
			for b.Loop() {
				if c+5 >= len(views)/2 {
					b.StopTimer()
					a, views, woken = scaleFixture(b, n)
					c = 0
					b.StartTimer()
				}
				cycle(b, a, views, woken, c)
				c++
			}
		})
	}
}

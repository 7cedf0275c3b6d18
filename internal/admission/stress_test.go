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
	w := newWorkerSim(t)
	var wg sync.WaitGroup
	for i := range simWorkers {
		wg.Go(func() { w.work(rand.New(rand.NewPCG(uint64(i), 42))) })
	}
	wg.Wait()
	if err := w.a.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	if w.maxSeen.Load() != simLimit {
		t.Errorf("at most %d ran at once; the test should reach the limit %d", w.maxSeen.Load(), simLimit)
	}
	t.Logf("%d admissions, %d notifications", w.admissions.Load(), w.notified.Load())

	w.drain()
	for _, s := range w.jobs {
		if s.phase != simIdle {
			t.Errorf("%s left %v after the drain", s.view.Key.Name, s.phase)
		}
	}
	if st := w.a.Stats(qk); st.Running != 0 || st.Waiting != 0 {
		t.Errorf("Stats after the drain = %+v", st)
	}
}

// The world of TestConcurrentWorkers.
const (
	simJobs         = 200
	simWorkers      = 8
	simOpsPerWorker = 20000
	simLimit        = 5
	simEmailLimit   = 2
)

// simPhase is where a simulated job is, as its reconciler knows it.
type simPhase int

const (
	simWaiting simPhase = iota
	simReserved
	simRunning
	simIdle
)

type simJob struct {
	mu    sync.Mutex
	view  JobView
	phase simPhase
}

// workerSim is one admission, the jobs of its queue, and what the workers count of them from
// the outside.
type workerSim struct {
	t   *testing.T
	clk *clocktesting.FakeClock
	a   *Admission
	// jobs; a worker holds a job's mu while it works on it.
	jobs []*simJob
	// Notifications are delivered, late: the drain reconciles every job woken meanwhile.
	notified  atomic.Int64
	pendingMu sync.Mutex
	pending   map[types.NamespacedName]struct{}
	// Counted from the outside: up after TryAdmit admitted, down before the call that frees the
	// slot.
	inFlight, emailInFlight, maxSeen, admissions atomic.Int64
}

func newWorkerSim(t *testing.T) *workerSim {
	w := &workerSim{t: t, clk: clocktesting.NewFakeClock(t0), pending: map[types.NamespacedName]struct{}{}}
	w.a = New(w.clk, func(k types.NamespacedName) {
		w.notified.Add(1)
		w.pendingMu.Lock()
		w.pending[k] = struct{}{}
		w.pendingMu.Unlock()
	})
	w.a.SetLimits(qk, Limits{Concurrency: simLimit, Handlers: map[string]HandlerLimits{"email": {Concurrency: simEmailLimit}}})
	w.jobs = make([]*simJob, simJobs)
	for i := range w.jobs {
		h := ""
		if i%3 == 0 {
			h = "email"
		}
		w.jobs[i] = &simJob{view: makeJob(fmt.Sprintf("j%03d", i)).Handler(h).Priority(int32(i % 4)).Ready(at(float64(i))).Obj()}
	}
	w.a.EnsureQueue(qk, func() []JobView {
		vs := make([]JobView, simJobs)
		for i, s := range w.jobs {
			vs[i] = s.view
		}
		return vs
	})
	return w
}

func (w *workerSim) up(s *simJob) {
	n := w.inFlight.Add(1)
	if n > simLimit {
		w.t.Errorf("%d running at once, limit %d", n, simLimit)
	}
	for m := w.maxSeen.Load(); n > m && !w.maxSeen.CompareAndSwap(m, n); m = w.maxSeen.Load() {
	}
	if s.view.Handler == "email" {
		if n := w.emailInFlight.Add(1); n > simEmailLimit {
			w.t.Errorf("%d email jobs running at once, limit %d", n, simEmailLimit)
		}
	}
	w.admissions.Add(1)
}

func (w *workerSim) down(s *simJob) {
	w.inFlight.Add(-1)
	if s.view.Handler == "email" {
		w.emailInFlight.Add(-1)
	}
}

// commit is the status write that records the reserved attempt.
func (w *workerSim) commit(s *simJob) {
	s.view.Attempts++
	s.view.State = Running
	s.view.AttemptStarts = append(s.view.AttemptStarts[:len(s.view.AttemptStarts):len(s.view.AttemptStarts)], AttemptStart{Attempt: s.view.Attempts})
	w.a.Observe(s.view)
	s.phase = simRunning
}

// work is one worker: random operations on random jobs.
func (w *workerSim) work(r *rand.Rand) {
	for range simOpsPerWorker {
		s := w.jobs[r.IntN(simJobs)]
		if !s.mu.TryLock() { // one worker per job at a time, as with a workqueue
			continue
		}
		w.step(r, s)
		if st := w.a.Stats(qk); st.Running > simLimit {
			w.t.Errorf("Stats.Running = %d, limit %d", st.Running, simLimit)
		}
		s.mu.Unlock()
	}
}

// step is one reconcile of s, by its phase.
func (w *workerSim) step(r *rand.Rand, s *simJob) {
	switch s.phase {
	case simWaiting:
		w.tryAdmit(r, s)
	case simReserved:
		stale := s.view
		w.a.Observe(stale) // the cache does not show the attempt yet
		if r.IntN(2) == 0 {
			w.down(s)
			w.a.Release(s.view.Key)
			s.phase = simWaiting
		} else {
			w.commit(s)
		}
	case simRunning:
		if r.IntN(3) == 0 { // a stale read from before the admission
			stale := s.view
			stale.Attempts--
			stale.State = Waiting
			stale.AttemptStarts = stale.AttemptStarts[:len(stale.AttemptStarts)-1]
			w.a.Observe(stale)
			return
		}
		w.down(s)
		if r.IntN(2) == 0 {
			s.view.State = Waiting // failed, retried at once
			s.phase = simWaiting
		} else {
			s.view.State = Idle // delayed
			s.phase = simIdle
		}
		w.a.Observe(s.view)
	case simIdle:
		s.view.State = Waiting
		w.a.Observe(s.view)
		s.phase = simWaiting
	}
}

// tryAdmit is the reconcile of a waiting job: sometimes its priority changes, and when admitted
// its status write fails, stays in flight, or lands.
func (w *workerSim) tryAdmit(r *rand.Rand, s *simJob) {
	if r.IntN(10) == 0 {
		s.view.Priority = int32(r.IntN(4))
		w.a.Observe(s.view)
	}
	if !w.a.TryAdmit(s.view.Key).Admitted {
		return
	}
	w.up(s)
	switch r.IntN(10) {
	case 0: // the status write failed
		w.down(s)
		w.a.Release(s.view.Key)
	case 1: // the write is in flight
		s.phase = simReserved
	default:
		w.commit(s)
	}
}

// drain stops the workers: from then on a job is reconciled only when admission wakes it, and
// every job it admits finishes.
func (w *workerSim) drain() {
	a := w.a
	var mu sync.Mutex
	var woken []types.NamespacedName
	a.notify = func(k types.NamespacedName) { mu.Lock(); woken = append(woken, k); mu.Unlock() }
	byKey := map[types.NamespacedName]*simJob{}
	for _, s := range w.jobs {
		byKey[s.view.Key] = s
	}
	finish := func(s *simJob) {
		s.view.State = Idle
		s.phase = simIdle
		a.Observe(s.view)
	}
	for _, s := range w.jobs {
		switch s.phase {
		case simReserved:
			w.commit(s)
			finish(s)
		case simRunning:
			finish(s)
		case simIdle:
			s.view.State = Waiting
			s.phase = simWaiting
			a.Observe(s.view)
		}
	}
	for k := range w.pending {
		woken = append(woken, k)
	}
	for _, s := range w.jobs { // any one reconcile starts the chain
		if s.phase == simWaiting {
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
		if s.phase != simWaiting {
			continue
		}
		a.Observe(s.view) // a reconcile observes, then tries
		if a.TryAdmit(k).Admitted {
			w.commit(s)
			finish(s)
		}
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
	v.AttemptStarts = append(v.AttemptStarts, AttemptStart{Attempt: v.Attempts, By: now})
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

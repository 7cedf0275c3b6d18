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
	"container/heap"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

const ns = "shop"

var (
	t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	qk = QueueKey{Namespace: ns, Name: "q"}
)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func key(name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }

// jobWrapper builds JobViews: makeJob("a").Priority(5).Handler("email").Obj().
type jobWrapper struct{ JobView }

func makeJob(name string) *jobWrapper {
	return &jobWrapper{JobView{Key: key(name), Queue: qk, ReadyTime: t0, CreationTime: t0, State: Waiting}}
}

func (w *jobWrapper) Queue(name string) *jobWrapper   { w.JobView.Queue.Name = name; return w }
func (w *jobWrapper) Handler(h string) *jobWrapper    { w.JobView.Handler = h; return w }
func (w *jobWrapper) Priority(p int32) *jobWrapper    { w.JobView.Priority = p; return w }
func (w *jobWrapper) Ready(t time.Time) *jobWrapper   { w.ReadyTime = t; return w }
func (w *jobWrapper) Created(t time.Time) *jobWrapper { w.CreationTime = t; return w }
func (w *jobWrapper) State(s State) *jobWrapper       { w.JobView.State = s; return w }
func (w *jobWrapper) Attempts(n int32) *jobWrapper    { w.JobView.Attempts = n; return w }
func (w *jobWrapper) Obj() JobView                    { return w.JobView }

// Starts records attempts 1..len(ts), each made by its time.
func (w *jobWrapper) Starts(ts ...time.Time) *jobWrapper {
	w.AttemptStarts = nil
	for i, t := range ts {
		w.AttemptStarts = append(w.AttemptStarts, AttemptStart{Attempt: int32(i + 1), By: t})
	}
	return w
}

// fixture is an Admission on a fake clock that plays the reconciler: it keeps each job's last
// view (its "status") and records the jobs admission wakes.
type fixture struct {
	t     *testing.T
	clk   *clocktesting.FakeClock
	a     *Admission
	views map[string]JobView

	mu    sync.Mutex
	woken []string
}

func newFixture(t *testing.T, l Limits) *fixture {
	t.Helper()
	f := &fixture{t: t, clk: clocktesting.NewFakeClock(t0), views: map[string]JobView{}}
	f.a = New(f.clk, func(k types.NamespacedName) {
		_ = f.a.Stats(qk) // deadlocks if notify were called with the lock held
		f.mu.Lock()
		f.woken = append(f.woken, k.Name)
		f.mu.Unlock()
	})
	f.a.SetLimits(qk, l)
	f.a.EnsureQueue(qk, func() []JobView { return nil })
	t.Cleanup(func() { f.check() })
	return f
}

func (f *fixture) setTime(t time.Time) { f.clk.SetTime(t) }

// takeWoken returns the jobs woken since the last call.
func (f *fixture) takeWoken() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.woken
	f.woken = nil
	return w
}

func (f *fixture) observe(vs ...JobView) {
	for _, v := range vs {
		f.views[v.Key.Name] = v
		f.a.Observe(v)
	}
}

// admit is one reconcile of a Waiting job: TryAdmit, and when admitted the status write that
// records attempt n+1 as Running (seen back at once).
func (f *fixture) admit(name string) Decision {
	f.t.Helper()
	d := f.a.TryAdmit(key(name))
	if d.Admitted {
		v := f.views[name]
		v.Attempts++
		v.State = Running
		v.AttemptStarts = append(slices.Clone(v.AttemptStarts), AttemptStart{Attempt: v.Attempts, By: f.clk.Now()})
		f.observe(v)
	}
	return d
}

func (f *fixture) mustAdmit(names ...string) {
	f.t.Helper()
	for _, n := range names {
		if d := f.admit(n); !d.Admitted {
			f.t.Fatalf("TryAdmit(%s) at %s = %+v, want admitted", n, f.clk.Now().Sub(t0), d)
		}
	}
}

// set observes the job with a new state, keeping its attempts and starts.
func (f *fixture) set(name string, s State) {
	v := f.views[name]
	v.State = s
	f.observe(v)
}

func (f *fixture) check() {
	f.t.Helper()
	if err := f.a.checkInvariants(); err != nil {
		f.t.Error(err)
	}
}

// checkInvariants recounts admission's state by scanning it (tests only).
func (a *Admission) checkInvariants() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, j := range a.jobs {
		if j.key != k || j.q.members[k] != j {
			return fmt.Errorf("job %s: not a member of its queue", k)
		}
		if j.q.handlers[j.h.name] != j.h {
			return fmt.Errorf("job %s: handler %q not in its queue", k, j.h.name)
		}
		if j.reserved && j.state != Running {
			return fmt.Errorf("job %s: reserved but %s", k, j.state)
		}
	}
	for qk, q := range a.queues {
		var running int32
		hRunning := map[*handler]int32{}
		hMembers := map[*handler]int{}
		waiting := 0
		for _, j := range q.members {
			if a.jobs[j.key] != j || j.q != q {
				return fmt.Errorf("queue %s: stale member %s", qk, j.key)
			}
			hMembers[j.h]++
			switch j.state {
			case Running:
				running++
				hRunning[j.h]++
			case Waiting:
				waiting++
				if j.g.jobs.items[j.oidx] != j || q.ready.items[j.ridx] != j {
					return fmt.Errorf("queue %s: job %s: heap index wrong", qk, j.key)
				}
			default:
				if j.oidx != -1 || j.ridx != -1 {
					return fmt.Errorf("queue %s: idle job %s in a heap", qk, j.key)
				}
			}
		}
		if running != q.running {
			return fmt.Errorf("queue %s: running %d, counted %d", qk, q.running, running)
		}
		if waiting != q.ready.Len() {
			return fmt.Errorf("queue %s: ready heap %d, counted %d waiting", qk, q.ready.Len(), waiting)
		}
		if !isHeap(&q.ready) {
			return fmt.Errorf("queue %s: ready heap broken", qk)
		}
		sum, err := q.checkHandlers(hRunning, hMembers)
		if err != nil {
			return fmt.Errorf("queue %s: %w", qk, err)
		}
		if sum != waiting {
			return fmt.Errorf("queue %s: handler heaps hold %d, counted %d waiting", qk, sum, waiting)
		}
		if q.window != nil && !isHeap(q.window) {
			return fmt.Errorf("queue %s: window heap broken", qk)
		}
	}
	return nil
}

func isHeap(h heap.Interface) bool {
	for i := 1; i < h.Len(); i++ {
		if h.Less(i, (i-1)/2) {
			return false
		}
	}
	return true
}

// checkGroups checks h's groups: each with Waiting jobs is in exactly one place (h's heap, the
// queue's timed heap, or parked), counts match, heaps hold.
func (q *queue) checkGroups(h *handler) error {
	running := map[*group]int32{}
	members := map[*group]int{}
	for _, j := range q.members {
		if j.h != h {
			continue
		}
		if h.keys[j.g.ks.name] != j.g || j.g.h != h || q.keys[j.g.ks.name] != j.g.ks {
			return fmt.Errorf("job %s: group of key %q not in place", j.key, j.g.ks.name)
		}
		members[j.g]++
		if j.state == Running {
			running[j.g]++
		}
	}
	for name, g := range h.keys {
		if g.members != members[g] || g.running != running[g] {
			return fmt.Errorf("key %q: members %d running %d, counted %d %d", name, g.members, g.running, members[g], running[g])
		}
		if !isHeap(&g.jobs) {
			return fmt.Errorf("key %q: job heap broken", name)
		}
		places := 0
		if g.gidx >= 0 {
			places++
			if h.groups.items[g.gidx] != g {
				return fmt.Errorf("key %q: group index wrong", name)
			}
		}
		if g.tidx >= 0 {
			places++
			if q.timed.items[g.tidx] != g {
				return fmt.Errorf("key %q: timed index wrong", name)
			}
		}
		if g.parked {
			places++
		}
		if want := min(g.jobs.Len(), 1); places != want {
			return fmt.Errorf("key %q: in %d places with %d waiting", name, places, g.jobs.Len())
		}
	}
	return nil
}

// checkHandlers checks the queue's handlers against the counts of its members; it returns how
// many Waiting jobs their groups hold.
func (q *queue) checkHandlers(hRunning map[*handler]int32, hMembers map[*handler]int) (int, error) {
	sum := 0
	for name, h := range q.handlers {
		if h.running != hRunning[h] || h.members != hMembers[h] {
			return 0, fmt.Errorf("handler %q: running %d members %d, counted %d %d", name, h.running, h.members, hRunning[h], hMembers[h])
		}
		_, listed := q.waiting[h]
		if listed != (h.groups.Len() > 0) {
			return 0, fmt.Errorf("handler %q: in waiting set %v with %d groups", name, listed, h.groups.Len())
		}
		if !isHeap(&h.groups) {
			return 0, fmt.Errorf("handler %q: group heap broken", name)
		}
		if err := q.checkGroups(h); err != nil {
			return 0, fmt.Errorf("handler %q: %w", name, err)
		}
		for _, g := range h.keys {
			sum += g.jobs.Len()
		}
		if h.window != nil && !isHeap(h.window) {
			return 0, fmt.Errorf("handler %q: window heap broken", name)
		}
	}
	return sum, nil
}

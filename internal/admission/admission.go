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

// Package admission decides which ready job of a queue may start now. It keeps, per queue, the
// waiting jobs in heaps (one per handler, ordered by priority, then ready time, creation time and
// name), the number of running jobs and the start times of recent attempts (the rate windows).
// It is a cache of stored state: rebuilt from the informer cache when a queue is first seen, and
// kept current by Observe on every reconcile. A reservation made by TryAdmit counts as running
// until the job's status shows the attempt (expectations), so cache lag never lets a limit be
// exceeded. Every per-event operation is O(log n) in the queue's length (plus the number of
// handlers with waiting jobs).
package admission

import (
	"container/heap"
	"fmt"
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// QueueKey names a queue.
type QueueKey struct{ Namespace, Name string }

// RateLimit allows Limit starts in any window of Period.
type RateLimit struct {
	Limit  int32
	Period time.Duration
}

// HandlerLimits apply to the jobs of one handler, inside the queue's limits.
type HandlerLimits struct {
	Concurrency int32 // 0: none
	Rate        *RateLimit
}

// Limits of one queue.
type Limits struct {
	Paused      bool
	Concurrency int32 // 0: none
	Rate        *RateLimit
	Handlers    map[string]HandlerLimits
}

// State is a job's state as admission sees it.
type State int

// States.
const (
	// Waiting jobs are ready and compete for admission.
	Waiting State = iota
	// Running jobs hold a concurrency slot.
	Running
	// Idle jobs do neither: delayed, blocked, suspended, finished.
	Idle
)

// AttemptStart is a recorded attempt start.
type AttemptStart struct {
	Number int32
	Time   time.Time
}

// JobView is what admission needs of a job.
type JobView struct {
	Key           types.NamespacedName
	Queue         QueueKey
	Handler       string
	Priority      int32
	ReadyTime     time.Time
	CreationTime  time.Time
	State         State
	Attempts      int32
	AttemptStarts []AttemptStart
}

// Reason says why a job may not start now.
type Reason string

// Reasons.
const (
	Admitted          Reason = ""
	ReasonPaused      Reason = "Paused"
	ReasonConcurrency Reason = "ConcurrencyLimited"
	ReasonRate        Reason = "RateLimited"
	ReasonQueued      Reason = "Queued"
	ReasonNotWaiting  Reason = "NotWaiting"
)

// Decision is TryAdmit's answer.
type Decision struct {
	Admitted bool
	Reason   Reason
	// RetryAt is, for RateLimited, the instant a slot of the limiting window opens.
	RetryAt time.Time
	Message string
}

// Stats of a queue.
type Stats struct {
	Running         int32
	Waiting         int32
	StartedInWindow int32
}

// Admission is safe for concurrent use.
type Admission struct {
	clock  clock.PassiveClock
	notify func(types.NamespacedName)

	mu     sync.Mutex
	queues map[QueueKey]*queueState
	jobs   map[types.NamespacedName]*jobState
}

type queueState struct {
	key         QueueKey
	initialized bool
	limits      Limits
	running     int32
	window      window
	handlers    map[string]*handlerState
}

type handlerState struct {
	key     string
	waiting jobHeap
	running int32
	window  window
}

type jobState struct {
	view     JobView
	queue    *queueState
	handler  *handlerState
	index    int // in handler.waiting; -1 when not there
	holds    bool
	reserved int32 // attempt number reserved by TryAdmit; 0 none
	counted  map[int32]bool
}

// New returns an admission component. notify is called, outside the lock, with jobs that may
// now start.
func New(clk clock.PassiveClock, notify func(types.NamespacedName)) *Admission {
	return &Admission{clock: clk, notify: notify, queues: map[QueueKey]*queueState{}, jobs: map[types.NamespacedName]*jobState{}}
}

func (a *Admission) queue(k QueueKey) *queueState {
	q := a.queues[k]
	if q == nil {
		q = &queueState{key: k, handlers: map[string]*handlerState{}}
		a.queues[k] = q
	}
	return q
}

func (q *queueState) handler(k string) *handlerState {
	h := q.handlers[k]
	if h == nil {
		h = &handlerState{key: k}
		q.handlers[k] = h
	}
	return h
}

// EnsureQueue rebuilds a queue from list() the first time it is seen.
func (a *Admission) EnsureQueue(k QueueKey, list func() []JobView) {
	a.mu.Lock()
	done := a.queue(k).initialized
	a.mu.Unlock()
	if done {
		return
	}
	views := list()
	a.mu.Lock()
	defer a.mu.Unlock()
	q := a.queue(k)
	if q.initialized {
		return
	}
	q.initialized = true
	for _, v := range views {
		a.observe(v)
	}
}

// SetLimits sets a queue's limits and wakes the job that may now start, if any.
func (a *Admission) SetLimits(k QueueKey, l Limits) {
	a.mu.Lock()
	q := a.queue(k)
	q.limits = l
	wake := a.next(q, a.clock.Now())
	a.mu.Unlock()
	a.wake(wake)
}

// Observe records a job's current state.
func (a *Admission) Observe(v JobView) {
	a.mu.Lock()
	wake := a.observe(v)
	a.mu.Unlock()
	a.wake(wake)
}

func (a *Admission) observe(v JobView) []types.NamespacedName {
	js := a.jobs[v.Key]
	if js == nil {
		js = &jobState{index: -1, counted: map[int32]bool{}}
		a.jobs[v.Key] = js
	}
	q := a.queue(v.Queue)
	h := q.handler(v.Handler)
	if js.queue != nil && (js.queue != q || js.handler != h) {
		a.detach(js)
	}
	js.queue, js.handler = q, h
	for _, s := range v.AttemptStarts {
		a.count(js, s)
	}
	if js.reserved > 0 {
		if v.Attempts < js.reserved {
			// A stale read from before the reservation's status write: keep the reservation.
			js.view.Priority = v.Priority
			return nil
		}
		js.reserved = 0
	}
	old := js.view
	js.view = v
	js.view.AttemptStarts = nil
	freed := false
	switch v.State {
	case Waiting:
		if js.holds {
			a.release(js)
			freed = true
		}
		if js.index < 0 {
			heap.Push(&h.waiting, js)
		} else if old.Priority != v.Priority || !old.ReadyTime.Equal(v.ReadyTime) {
			heap.Fix(&h.waiting, js.index)
		}
	case Running:
		a.unqueue(js)
		if !js.holds {
			js.holds = true
			q.running++
			h.running++
		}
	default:
		a.unqueue(js)
		if js.holds {
			a.release(js)
			freed = true
		}
	}
	if freed {
		return a.next(q, a.clock.Now())
	}
	return nil
}

// count adds a recorded attempt start to the job's windows, once per attempt.
func (a *Admission) count(js *jobState, s AttemptStart) {
	if s.Time.IsZero() || js.counted[s.Number] {
		return
	}
	js.counted[s.Number] = true
	js.queue.window.add(s.Time)
	js.handler.window.add(s.Time)
}

func (a *Admission) release(js *jobState) {
	js.holds = false
	js.queue.running--
	js.handler.running--
}

func (a *Admission) unqueue(js *jobState) {
	if js.index >= 0 {
		heap.Remove(&js.handler.waiting, js.index)
	}
}

// detach removes a job from its queue (it moved to another queue or handler).
func (a *Admission) detach(js *jobState) {
	a.unqueue(js)
	if js.holds {
		a.release(js)
	}
}

// Forget removes a deleted job.
func (a *Admission) Forget(key types.NamespacedName) {
	a.mu.Lock()
	js := a.jobs[key]
	var wake []types.NamespacedName
	if js != nil {
		held := js.holds
		a.detach(js)
		delete(a.jobs, key)
		if held {
			wake = a.next(js.queue, a.clock.Now())
		}
	}
	a.mu.Unlock()
	a.wake(wake)
}

// TryAdmit decides whether the waiting job may start at `at`; if so it reserves a slot and
// records the start in the rate windows.
func (a *Admission) TryAdmit(key types.NamespacedName, at time.Time) Decision {
	a.mu.Lock()
	d, wake := a.tryAdmit(key, at)
	a.mu.Unlock()
	a.wake(wake)
	return d
}

func (a *Admission) tryAdmit(key types.NamespacedName, at time.Time) (Decision, []types.NamespacedName) {
	js := a.jobs[key]
	if js == nil || js.index < 0 {
		return Decision{Reason: ReasonNotWaiting, Message: "the job is not waiting to start"}, nil
	}
	q, h := js.queue, js.handler
	if d, ok := a.queueRoom(q, at); !ok {
		return d, nil
	}
	if d, ok := a.handlerRoom(q, h, at); !ok {
		return d, nil
	}
	if best := a.best(q, at); best != js {
		return Decision{Reason: ReasonQueued, Message: "waiting for its turn: jobs ahead of it in the queue start first"}, nil
	}
	heap.Remove(&h.waiting, js.index)
	js.holds = true
	q.running++
	h.running++
	js.reserved = js.view.Attempts + 1
	a.count(js, AttemptStart{Number: js.reserved, Time: at.Truncate(time.Second)})
	return Decision{Admitted: true}, a.next(q, at)
}

// Release undoes a reservation whose status write failed.
func (a *Admission) Release(key types.NamespacedName) {
	a.mu.Lock()
	js := a.jobs[key]
	var wake []types.NamespacedName
	if js != nil && js.reserved > 0 {
		n := js.reserved
		js.reserved = 0
		if js.counted[n] {
			delete(js.counted, n)
			// The reserved start is the newest of the windows, or near it.
			js.queue.window.removeNewest()
			js.handler.window.removeNewest()
		}
		if js.holds {
			a.release(js)
		}
		if js.index < 0 {
			heap.Push(&js.handler.waiting, js)
		}
		wake = a.next(js.queue, a.clock.Now())
	}
	a.mu.Unlock()
	a.wake(wake)
}

// Stats reports a queue's running and waiting jobs and the starts in its rate window.
func (a *Admission) Stats(k QueueKey) Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	q := a.queues[k]
	if q == nil {
		return Stats{}
	}
	s := Stats{Running: q.running}
	for _, h := range q.handlers {
		s.Waiting += int32(len(h.waiting))
	}
	if q.limits.Rate != nil {
		s.StartedInWindow = int32(q.window.countSince(a.clock.Now().Add(-q.limits.Rate.Period)))
	}
	return s
}

// queueRoom checks the queue's own limits.
func (a *Admission) queueRoom(q *queueState, at time.Time) (Decision, bool) {
	l := q.limits
	if l.Paused {
		return Decision{Reason: ReasonPaused, Message: fmt.Sprintf("queue %s is paused (spec.paused)", q.key.Name)}, false
	}
	if l.Concurrency > 0 && q.running >= l.Concurrency {
		return Decision{Reason: ReasonConcurrency, Message: fmt.Sprintf("queue %s concurrency %d reached (%d running)", q.key.Name, l.Concurrency, q.running)}, false
	}
	if r := l.Rate; r != nil {
		if retry, ok := q.window.room(at, r); !ok {
			return Decision{Reason: ReasonRate, RetryAt: retry, Message: fmt.Sprintf("queue %s rate limit %d per %s reached; next slot at %s",
				q.key.Name, r.Limit, r.Period, retry.UTC().Format(time.RFC3339))}, false
		}
	}
	return Decision{}, true
}

// handlerRoom checks a handler's limits.
func (a *Admission) handlerRoom(q *queueState, h *handlerState, at time.Time) (Decision, bool) {
	l, ok := q.limits.Handlers[h.key]
	if !ok {
		return Decision{}, true
	}
	name := h.key
	if name == "" {
		name = "default"
	}
	if l.Concurrency > 0 && h.running >= l.Concurrency {
		return Decision{Reason: ReasonConcurrency, Message: fmt.Sprintf("handler %s concurrency %d reached (%d running)", name, l.Concurrency, h.running)}, false
	}
	if r := l.Rate; r != nil {
		if retry, ok := h.window.room(at, r); !ok {
			return Decision{Reason: ReasonRate, RetryAt: retry, Message: fmt.Sprintf("handler %s rate limit %d per %s reached; next slot at %s",
				name, r.Limit, r.Period, retry.UTC().Format(time.RFC3339))}, false
		}
	}
	return Decision{}, true
}

// best is the first job in order among the heads of the handlers that have room.
func (a *Admission) best(q *queueState, at time.Time) *jobState {
	var best *jobState
	for _, h := range q.handlers {
		if len(h.waiting) == 0 {
			continue
		}
		if _, ok := a.handlerRoom(q, h, at); !ok {
			continue
		}
		if head := h.waiting[0]; best == nil || before(head, best) {
			best = head
		}
	}
	return best
}

// next returns the job to wake when the queue has room, if any.
func (a *Admission) next(q *queueState, at time.Time) []types.NamespacedName {
	if _, ok := a.queueRoom(q, at); !ok {
		return nil
	}
	if b := a.best(q, at); b != nil {
		return []types.NamespacedName{b.view.Key}
	}
	return nil
}

func (a *Admission) wake(keys []types.NamespacedName) {
	if a.notify == nil {
		return
	}
	for _, k := range keys {
		a.notify(k)
	}
}

// before orders waiting jobs: priority desc, ready time, creation time, name.
func before(x, y *jobState) bool {
	a, b := x.view, y.view
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	if !a.ReadyTime.Equal(b.ReadyTime) {
		return a.ReadyTime.Before(b.ReadyTime)
	}
	if !a.CreationTime.Equal(b.CreationTime) {
		return a.CreationTime.Before(b.CreationTime)
	}
	if a.Key.Namespace != b.Key.Namespace {
		return a.Key.Namespace < b.Key.Namespace
	}
	return a.Key.Name < b.Key.Name
}

// jobHeap is a heap of waiting jobs that tracks each job's index.
type jobHeap []*jobState

func (h jobHeap) Len() int           { return len(h) }
func (h jobHeap) Less(i, j int) bool { return before(h[i], h[j]) }
func (h jobHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *jobHeap) Push(x any) {
	js := x.(*jobState)
	js.index = len(*h)
	*h = append(*h, js)
}
func (h *jobHeap) Pop() any {
	old := *h
	n := len(old)
	js := old[n-1]
	old[n-1] = nil
	js.index = -1
	*h = old[:n-1]
	return js
}

// window holds attempt start times in order. Starts older than any window still configured are
// dropped lazily (prune), so its size is bounded by the starts of the longest period.
type window struct {
	times []time.Time
}

const maxWindow = 24 * time.Hour // the API bounds periodSeconds to a day

func (w *window) add(t time.Time) {
	i := sort.Search(len(w.times), func(i int) bool { return w.times[i].After(t) })
	w.times = append(w.times, time.Time{})
	copy(w.times[i+1:], w.times[i:])
	w.times[i] = t
}

func (w *window) removeNewest() {
	if n := len(w.times); n > 0 {
		w.times = w.times[:n-1]
	}
}

func (w *window) prune(now time.Time) {
	cut := now.Add(-maxWindow)
	i := sort.Search(len(w.times), func(i int) bool { return w.times[i].After(cut) })
	if i > 0 {
		w.times = w.times[i:] // the backing array is reclaimed when add grows it
	}
}

// countSince counts starts after `since`.
func (w *window) countSince(since time.Time) int {
	i := sort.Search(len(w.times), func(i int) bool { return w.times[i].After(since) })
	return len(w.times) - i
}

// room reports whether a start at `at` fits the rate limit; if not, when the next slot opens: the
// oldest start that must leave the window, plus the period.
func (w *window) room(at time.Time, r *RateLimit) (time.Time, bool) {
	w.prune(at)
	since := at.Add(-r.Period)
	first := sort.Search(len(w.times), func(i int) bool { return w.times[i].After(since) })
	// Starts in (at-period, at]; future starts (clock skew) count too.
	n := len(w.times) - first
	if int32(n) < r.Limit {
		return time.Time{}, true
	}
	return w.times[first+n-int(r.Limit)].Add(r.Period), false
}

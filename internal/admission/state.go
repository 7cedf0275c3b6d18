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
	"math"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// startKind says how admission knows of a start, and so what its time means.
type startKind uint8

const (
	// reserved: TryAdmit admitted the attempt at t; its side effect has not been charged. It
	// counts from t, and moves to the instant its executor charges it (Charge), which is never
	// earlier. Targets whose executor charges nothing (pull workers) count from t.
	reserved startKind = iota
	// charged: the attempt's side effect (a webhook call, a pod create) was made at t, or by t
	// (Sent moves it to the instant the side effect was done).
	charged
	// recorded: read from status, made by another manager (before a restart): t is the latest
	// instant status and the cache prove its side effects were made by.
	recorded
)

// start is one attempt start (a side effect, or the reservation of one) of a job, and its
// entries in the rate windows of the job's queue and handler (nil where that window does not
// hold it). An attempt has more than one when its side effect was made again (a webhook called
// again after a restart, a pod create retried): each counts.
type start struct {
	attempt int32
	kind    startKind
	t       time.Time
	qe, he  *entry
}

// maxStartsPerJob bounds the starts admission keeps per job: beyond it the oldest are dropped
// (status keeps fewer: limits.MaxAttemptHistory).
const maxStartsPerJob = 64

// job is admission's record of one job.
type job struct {
	key types.NamespacedName
	q   *queue
	h   *handler

	// The order keys.
	priority int32
	ready    time.Time
	created  time.Time

	// state is Waiting (in h.order and q.ready), Running (holding a slot of q and h; also while
	// reserved) or Idle.
	state      State
	oidx, ridx int // indexes in h.order and q.ready; -1 when not there

	// attempts is the highest status.attempts observed; an observation with fewer is stale.
	attempts int32
	// reserved: TryAdmit admitted attempt attempts+1 and the cache has not shown it yet.
	reserved bool
	resAt    time.Time // when reserved
	res      *start    // the reservation's start (also in starts) while reserved

	// claim is the attempt (0: none) whose side effect Charge refused for a full window; it is
	// counted in claimed's windows until it is charged or its attempt ends.
	claim   int32
	claimed [2]*window

	// wokenAt is when a refusal with ReasonQueued woke this job as the first; zero once it was
	// reconciled since.
	wokenAt time.Time

	// starts are the job's attempt starts, oldest first, up to maxStartsPerJob: also those that
	// left the windows, so that a window whose period grows can be rebuilt without a List.
	starts []*start
	// seen is the highest attempt whose status record was considered: records up to it are not
	// read again (in-memory times are better, and dropped starts stay dropped).
	seen int32
}

// Order is what admission orders a queue's waiting jobs by (kubectl kickq position reads it too).
type Order struct {
	Priority        int32
	Ready, Created  time.Time
	Namespace, Name string
}

// Before is the admission order: priority desc, ready time asc, creation time asc, namespace and
// name asc.
func Before(x, y Order) bool {
	if x.Priority != y.Priority {
		return x.Priority > y.Priority
	}
	if !x.Ready.Equal(y.Ready) {
		return x.Ready.Before(y.Ready)
	}
	if !x.Created.Equal(y.Created) {
		return x.Created.Before(y.Created)
	}
	if x.Namespace != y.Namespace {
		return x.Namespace < y.Namespace
	}
	return x.Name < y.Name
}

// before orders admission's jobs by Before.
func before(x, y *job) bool {
	return Before(Order{x.priority, x.ready, x.created, x.key.Namespace, x.key.Name},
		Order{y.priority, y.ready, y.created, y.key.Namespace, y.key.Name})
}

// queue is admission's state of one queue.
type queue struct {
	key    QueueKey
	limits Limits

	built    bool          // rebuilt from the cache
	building chan struct{} // closed when a rebuild in flight ends; nil when none

	running  int32   // Running and reserved jobs
	window   *window // starts of the queue's rate window; nil without a queue rate limit
	handlers map[string]*handler
	// waiting are the handlers with at least one Waiting job: the heads that compete. There are
	// at most as many as the queue has handlers (bounded by the API) plus "" and "*".
	waiting map[*handler]struct{}
	ready   readyHeap // Waiting jobs by ready time, for Stats
	members map[types.NamespacedName]*job
	cmps    *uint64
}

func newQueue(k QueueKey, cmps *uint64) *queue {
	return &queue{
		key:      k,
		handlers: map[string]*handler{},
		waiting:  map[*handler]struct{}{},
		members:  map[types.NamespacedName]*job{},
		ready:    newReadyHeap(cmps),
		cmps:     cmps,
	}
}

// handler is the state of one handler key inside a queue.
type handler struct {
	name    string
	limits  HandlerLimits
	running int32
	window  *window // nil without a handler rate limit
	order   orderHeap
	members int
}

// handlerFor returns the queue's state of handler name, creating it.
func (q *queue) handlerFor(name string) *handler {
	if h := q.handlers[name]; h != nil {
		return h
	}
	h := &handler{name: name, limits: q.limits.Handlers[name], order: newOrderHeap(q.cmps)}
	if validRate(h.limits.Rate) {
		h.window = newWindow(h.limits.Rate.Period)
	}
	q.handlers[name] = h
	return h
}

// dropIfUnused forgets a handler no job refers to and whose window holds nothing.
func (q *queue) dropIfUnused(h *handler) {
	if h.members == 0 && h.running == 0 && (h.window == nil || h.window.Len() == 0) && q.handlers[h.name] == h {
		delete(q.handlers, h.name)
	}
}

func (q *queue) pushWaiting(j *job) {
	heap.Push(&j.h.order, j)
	heap.Push(&q.ready, j)
	q.waiting[j.h] = struct{}{}
}

func (q *queue) removeWaiting(j *job) {
	heap.Remove(&j.h.order, j.oidx)
	heap.Remove(&q.ready, j.ridx)
	if j.h.order.Len() == 0 {
		delete(q.waiting, j.h)
	}
}

func validRate(r *RateLimit) bool { return r != nil && r.Limit > 0 && r.Period > 0 }

// capacity is how many more attempts the queue's own limits let start now (0 when paused).
func (q *queue) capacity(now time.Time) int {
	if q.limits.Paused {
		return 0
	}
	return room(q.limits.Concurrency, q.running, q.limits.Rate, q.window, now)
}

// capacity is how many more attempts the handler's limits let start now.
func (h *handler) capacity(now time.Time) int {
	return room(h.limits.Concurrency, h.running, h.limits.Rate, h.window, now)
}

func room(concurrency, running int32, rate *RateLimit, w *window, now time.Time) int {
	c := math.MaxInt
	if concurrency > 0 {
		c = min(c, int(concurrency)-int(running))
	}
	if w != nil && validRate(rate) {
		c = min(c, int(rate.Limit)-w.load(now))
	}
	return max(c, 0)
}

// best returns the first job in order among the heads of the handlers with room, or nil. It
// assumes the queue itself has room. O(handlers).
func (q *queue) best(now time.Time) *job {
	var b *job
	for h := range q.waiting {
		head := h.order.items[0]
		if b != nil && !q.less(head, b) {
			continue
		}
		if h.capacity(now) > 0 {
			b = head
		}
	}
	return b
}

func (q *queue) less(x, y *job) bool {
	*q.cmps++
	return before(x, y)
}

// next appends to wake the keys of up to n jobs that may start now, in order, respecting the
// queue's and the handlers' room. It does not change any heap: a best-first walk over the
// handler heaps' implicit trees, O(n log(n + handlers)).
func (q *queue) next(now time.Time, n int, wake []types.NamespacedName) []types.NamespacedName {
	if n > 0 && len(q.waiting) > 0 && !q.limits.Paused && q.rateBound(now) {
		return q.wakeHeads(now, wake)
	}
	n = min(n, q.capacity(now))
	if n <= 0 || len(q.waiting) == 0 {
		return wake
	}
	if n == 1 {
		if b := q.best(now); b != nil {
			wake = append(wake, b.key)
		}
		return wake
	}
	left := map[*handler]int{}
	c := &candidates{q: q}
	for h := range q.waiting {
		if r := h.capacity(now); r > 0 {
			left[h] = r
			heap.Push(c, candidate{h, 0})
		}
	}
	for n > 0 && c.Len() > 0 {
		x := heap.Pop(c).(candidate)
		if left[x.h] <= 0 {
			continue
		}
		wake = append(wake, x.h.order.items[x.i].key)
		n--
		left[x.h]--
		for _, k := range [2]int{2*x.i + 1, 2*x.i + 2} {
			if k < x.h.order.Len() {
				heap.Push(c, candidate{x.h, k})
			}
		}
	}
	return wake
}

// rateBound reports whether a rate window, not concurrency, keeps the queue's waiting jobs from
// starting: the queue's window is full while a slot is free, or no handler with waiting jobs
// has room although the queue has.
func (q *queue) rateBound(now time.Time) bool {
	if q.limits.Concurrency > 0 && q.running >= q.limits.Concurrency {
		return false
	}
	if q.capacity(now) <= 0 {
		return true
	}
	return q.best(now) == nil
}

// wakeHeads wakes the first waiting job of each handler (at most once per queuedWakeAgain each):
// a slot is free but a rate window is full, and no timer of theirs may be set for the instant
// it opens (they were last refused for concurrency). Their reconciles are refused with
// RateLimited and the window's RetryAt, and so timed to it. O(handlers).
func (q *queue) wakeHeads(now time.Time, wake []types.NamespacedName) []types.NamespacedName {
	for h := range q.waiting {
		head := h.order.items[0]
		if head.wokenAt.IsZero() || now.Sub(head.wokenAt) >= queuedWakeAgain {
			head.wokenAt = now
			wake = append(wake, head.key)
		}
	}
	return wake
}

type candidate struct {
	h *handler
	i int
}

// candidates is a min-heap of positions in handler heaps, in admission order.
type candidates struct {
	q     *queue
	items []candidate
}

func (c *candidates) Len() int { return len(c.items) }
func (c *candidates) Less(i, j int) bool {
	return c.q.less(c.items[i].h.order.items[c.items[i].i], c.items[j].h.order.items[c.items[j].i])
}
func (c *candidates) Swap(i, j int) { c.items[i], c.items[j] = c.items[j], c.items[i] }
func (c *candidates) Push(x any)    { c.items = append(c.items, x.(candidate)) }
func (c *candidates) Pop() any {
	n := len(c.items) - 1
	x := c.items[n]
	c.items = c.items[:n]
	return x
}

// indexedHeap is a container/heap whose items know their position (for heap.Fix and
// heap.Remove): index records it, -1 once an item leaves.
type indexedHeap[T any] struct {
	items []T
	less  func(a, b T) bool
	index func(t T, i int)
}

func (h *indexedHeap[T]) Len() int           { return len(h.items) }
func (h *indexedHeap[T]) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *indexedHeap[T]) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.index(h.items[i], i)
	h.index(h.items[j], j)
}
func (h *indexedHeap[T]) Push(x any) {
	t := x.(T)
	h.index(t, len(h.items))
	h.items = append(h.items, t)
}
func (h *indexedHeap[T]) Pop() any {
	n := len(h.items) - 1
	t := h.items[n]
	var zero T
	h.items[n] = zero
	h.items = h.items[:n]
	h.index(t, -1)
	return t
}

// orderHeap holds a handler's Waiting jobs, first in admission order at the root.
type orderHeap = indexedHeap[*job]

func newOrderHeap(cmps *uint64) orderHeap {
	return orderHeap{
		less:  func(x, y *job) bool { *cmps++; return before(x, y) },
		index: func(j *job, i int) { j.oidx = i },
	}
}

// readyHeap holds a queue's Waiting jobs, the one ready longest at the root.
type readyHeap = indexedHeap[*job]

func newReadyHeap(cmps *uint64) readyHeap {
	return readyHeap{
		less: func(x, y *job) bool {
			*cmps++
			if !x.ready.Equal(y.ready) {
				return x.ready.Before(y.ready)
			}
			return before(x, y)
		},
		index: func(j *job, i int) { j.ridx = i },
	}
}

func heapFix(h heap.Interface, i int) {
	if i >= 0 {
		heap.Fix(h, i)
	}
}

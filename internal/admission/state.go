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
	// e are its entries in the job's windows, by the slots of job.windows.
	e [nWindows]*entry
}

// maxStartsPerJob bounds the starts admission keeps per job: beyond it the oldest are dropped
// (status keeps fewer: limits.MaxAttemptHistory).
const maxStartsPerJob = 64

// job is admission's record of one job.
type job struct {
	key types.NamespacedName
	q   *queue
	h   *handler
	g   *group // its key's group in h

	// The order keys.
	priority int32
	ready    time.Time
	created  time.Time

	// state is Waiting (in g.jobs and q.ready), Running (holding a slot of q, h, its key and g;
	// also while reserved) or Idle.
	state      State
	oidx, ridx int // indexes in g.jobs and q.ready; -1 when not there

	// attempts is the highest status.attempts observed; an observation with fewer is stale.
	attempts int32
	// reserved: TryAdmit admitted attempt attempts+1 and the cache has not shown it yet.
	reserved bool
	resAt    time.Time // when reserved
	res      *start    // the reservation's start (also in starts) while reserved

	// claim is the attempt (0: none) whose side effect Charge refused for a full window; it is
	// counted in claimed's windows until it is charged or its attempt ends.
	claim   int32
	claimed [nWindows]*window

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
	Priority int32
	// KeyTurn is when the job's key (spec.key; the key-less group is one key too) last started an
	// attempt in the queue (its side effect, or its admission until then); zero if it never did.
	KeyTurn         time.Time
	Ready, Created  time.Time
	Namespace, Name string
}

// Before is the admission order: priority desc; then key turn asc (keys take turns: the key that
// started a job longest ago, or never, goes first, so one key's backlog never starves another
// key); then ready time asc, creation time asc, namespace and name asc. Jobs a limit holds (the
// queue's, their handler's, their key's) wait out of the order until it lets them start.
func Before(x, y Order) bool {
	if x.Priority != y.Priority {
		return x.Priority > y.Priority
	}
	if !x.KeyTurn.Equal(y.KeyTurn) {
		return x.KeyTurn.Before(y.KeyTurn)
	}
	return staticBefore(x, y)
}

// staticBefore is Before without the key turn: the order of one key's jobs, which no start
// changes.
func staticBefore(x, y Order) bool {
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
func before(x, y *job) bool { return Before(x.order(), y.order()) }

// sameKeyBefore orders jobs of one key (or orders without key turns).
func sameKeyBefore(x, y *job) bool { return staticBefore(x.order(), y.order()) }

func (j *job) order() Order {
	o := Order{Priority: j.priority, Ready: j.ready, Created: j.created, Namespace: j.key.Namespace, Name: j.key.Name}
	if j.g != nil {
		o.KeyTurn = j.g.ks.last
	}
	return o
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
	keys     map[string]*keyState
	// waiting are the handlers with at least one group in their heap: the heads that compete.
	// There are at most as many as the queue has handlers (bounded by the API) plus "" and "*".
	waiting map[*handler]struct{}
	timed   timedHeap // groups parked until a time: their key's rate slot or pause
	// lingering are unused groups and keys kept for their windows or pauses (keys.go).
	lingering []lingering
	ready     readyHeap // Waiting jobs by ready time, for Stats
	members   map[types.NamespacedName]*job
	cmps      *uint64
}

func newQueue(k QueueKey, cmps *uint64) *queue {
	return &queue{
		key:      k,
		handlers: map[string]*handler{},
		keys:     map[string]*keyState{},
		waiting:  map[*handler]struct{}{},
		timed:    newTimedHeap(),
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
	// groups are its keys' groups with Waiting jobs that no key limit was seen to hold, the one
	// whose first job comes first at the root.
	groups  groupHeap
	keys    map[string]*group
	members int
}

// handlerFor returns the queue's state of handler name, creating it.
func (q *queue) handlerFor(name string) *handler {
	if h := q.handlers[name]; h != nil {
		return h
	}
	h := &handler{name: name, limits: q.limits.Handlers[name], groups: newGroupHeap(q.cmps), keys: map[string]*group{}}
	if validRate(h.limits.Rate) {
		h.window = newWindow(h.limits.Rate.Period)
	}
	q.handlers[name] = h
	return h
}

// dropIfUnused forgets a handler no job refers to and whose window holds nothing.
func (q *queue) dropIfUnused(h *handler) {
	if h.members == 0 && h.running == 0 && len(h.keys) == 0 && (h.window == nil || h.window.Len() == 0) && q.handlers[h.name] == h {
		delete(q.handlers, h.name)
	}
}

func (q *queue) pushWaiting(j *job) {
	g := j.g
	heap.Push(&g.jobs, j)
	heap.Push(&q.ready, j)
	g.ks.waiting++
	switch {
	case g.jobs.Len() == 1:
		q.pushGroup(g)
	default:
		heapFix(&g.h.groups, g.gidx)
	}
}

func (q *queue) removeWaiting(j *job) {
	g := j.g
	heap.Remove(&g.jobs, j.oidx)
	heap.Remove(&q.ready, j.ridx)
	g.ks.waiting--
	if g.jobs.Len() == 0 {
		q.takeGroup(g)
		return
	}
	heapFix(&g.h.groups, g.gidx)
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
// assumes the queue itself has room. Groups whose key limits hold them are parked on the way
// (their first jobs appended to wake when only a time can free them). O(handlers log n).
func (q *queue) best(now time.Time, wake []types.NamespacedName) (*job, []types.NamespacedName) {
	q.unparkDue(now)
	var b *job
	for h := range q.waiting {
		if h.capacity(now) <= 0 {
			continue
		}
		var head *job
		head, wake = q.head(h, now, wake)
		if head != nil && (b == nil || q.less(head, b)) {
			b = head
		}
	}
	return b, wake
}

func (q *queue) less(x, y *job) bool {
	*q.cmps++
	return before(x, y)
}

// next appends to wake the keys of up to n jobs that may start now, in order, respecting the
// queue's, the handlers' and the keys' room. It parks groups a key limit holds, but changes no
// other heap: a best-first walk over the handlers' group heaps and the groups' job heaps (their
// implicit trees), O(n log(n + handlers)) plus the groups it parks.
func (q *queue) next(now time.Time, n int, wake []types.NamespacedName) []types.NamespacedName {
	if n > 0 && len(q.waiting)+q.timed.Len() > 0 && !q.limits.Paused && q.rateBound(now) {
		return q.wakeHeads(now, wake)
	}
	n = min(n, q.capacity(now))
	if n <= 0 || len(q.waiting)+q.timed.Len() == 0 {
		return wake
	}
	var b *job
	b, wake = q.best(now, wake)
	if b == nil {
		return q.wakeTimed(now, wake)
	}
	wake = append(wake, b.key)
	if n == 1 {
		return wake
	}
	return q.walk(now, n, b, wake)
}

// walk appends up to n-1 more jobs after first, in order (see next).
func (q *queue) walk(now time.Time, n int, first *job, wake []types.NamespacedName) []types.NamespacedName {
	left := map[*handler]int{}
	room := map[*group]int{}
	c := &candidates{q: q}
	for h := range q.waiting {
		if r := h.capacity(now); r > 0 && h.groups.Len() > 0 {
			left[h] = r
			heap.Push(c, candidate{h, 0, 0})
		}
	}
	for n > 0 && c.Len() > 0 {
		x := heap.Pop(c).(candidate)
		g := x.h.groups.items[x.g]
		if x.j == 0 {
			for _, k := range [2]int{2*x.g + 1, 2*x.g + 2} {
				if k < x.h.groups.Len() {
					heap.Push(c, candidate{x.h, k, 0})
				}
			}
			room[g] = q.keyRoom(g, now)
		}
		if left[x.h] <= 0 || room[g] <= 0 {
			continue
		}
		if j := g.jobs.items[x.j]; j != first {
			wake = append(wake, j.key)
		}
		n--
		left[x.h]--
		room[g]--
		for _, k := range [2]int{2*x.j + 1, 2*x.j + 2} {
			if k < g.jobs.Len() {
				heap.Push(c, candidate{x.h, x.g, k})
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
	for h := range q.waiting {
		if h.capacity(now) > 0 {
			return false
		}
	}
	return len(q.waiting) > 0
}

// wakeHeads wakes the first waiting job of each handler (at most once per queuedWakeAgain each):
// a slot is free but a rate window is full, and no timer of theirs may be set for the instant
// it opens (they were last refused for concurrency). Their reconciles are refused with
// RateLimited and the window's RetryAt, and so timed to it. O(handlers).
func (q *queue) wakeHeads(now time.Time, wake []types.NamespacedName) []types.NamespacedName {
	for h := range q.waiting {
		wake = wakeOnce(h.groups.items[0].jobs.items[0], now, wake)
	}
	return q.wakeTimed(now, wake)
}

// wakeOnce wakes j unless it was woken less than queuedWakeAgain ago and not reconciled since.
func wakeOnce(j *job, now time.Time, wake []types.NamespacedName) []types.NamespacedName {
	if j.wokenAt.IsZero() || now.Sub(j.wokenAt) >= queuedWakeAgain {
		j.wokenAt = now
		wake = append(wake, j.key)
	}
	return wake
}

type candidate struct {
	h    *handler
	g, j int // the group's index in h.groups, the job's in the group's jobs
}

// candidates is a min-heap of positions in handler and group heaps, in admission order.
type candidates struct {
	q     *queue
	items []candidate
}

func (c *candidates) at(i int) *job {
	x := c.items[i]
	return x.h.groups.items[x.g].jobs.items[x.j]
}
func (c *candidates) Len() int           { return len(c.items) }
func (c *candidates) Less(i, j int) bool { return c.q.less(c.at(i), c.at(j)) }
func (c *candidates) Swap(i, j int)      { c.items[i], c.items[j] = c.items[j], c.items[i] }
func (c *candidates) Push(x any)         { c.items = append(c.items, x.(candidate)) }
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

// orderHeap holds a group's Waiting jobs (one key's, in one handler), first in admission order
// at the root.
type orderHeap = indexedHeap[*job]

func newOrderHeap(cmps *uint64) orderHeap {
	return orderHeap{
		less:  func(x, y *job) bool { *cmps++; return sameKeyBefore(x, y) },
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
			return sameKeyBefore(x, y) // key turns change without fixing this heap
		},
		index: func(j *job, i int) { j.ridx = i },
	}
}

func heapFix(h heap.Interface, i int) {
	if i >= 0 {
		heap.Fix(h, i)
	}
}

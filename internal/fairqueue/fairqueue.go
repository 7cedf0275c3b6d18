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

// Package fairqueue is the reconcile work queue of kickq's per-job controllers: it serves
// namespaces in turn, so one namespace with 50,000 jobs waiting does not delay another
// namespace's next job by more than one item per namespace with work ready.
//
// Only the order is written here: Ring is a client-go workqueue.Queue (the storage a
// workqueue.Typed pops from), and NewQueue wraps it in client-go's own Typed, delaying and
// rate-limiting queues. So everything else is client-go's: an item is queued at most once (dirty
// set); an item re-added while it is processed is processed again after Done, never
// concurrently (processing set); AddAfter, AddRateLimited, Forget and NumRequeues; ShutDown and
// ShutDownWithDrain; and the workqueue_* metrics through the provider controller-runtime
// registers (workqueue.SetProvider), labelled with the controller's name.
//
// Within one namespace items are served in arrival order. controller-runtime's priority queue
// (its default) is not used for these controllers: it is FIFO within a priority, and it serves
// a relist's items at a lower priority than new events, which the round robin replaces: after a
// restart, a namespace's new event waits behind that namespace's own backlog only.
package fairqueue

import (
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Ring is a workqueue.Queue that pops items round-robin across the keys (namespaces) that have
// items, and in arrival order within a key — except that an item whose AddAfter time has come
// (a delayed job now due, a cron firing) goes ahead of its key's other items: a due item is
// late by every item served before it, and the others (watch events) carry no time. At most
// dueRun due items of a key are served in a row while the key has other items waiting, so a
// stream of due items does not starve its own key's events. Like every workqueue.Queue, the Typed
// queue calls it under its own lock, so Ring is not safe for concurrent use on its own (its
// timers, below, are).
type Ring[T comparable] struct {
	key func(T) string
	// lanes holds each key's items; a key with no items has no lane.
	lanes map[string]*lane[T]
	// turn is the keys with items, in the order they are served; each key appears once.
	turn []string
	n    int

	timers timers[T]
}

// lane is one key's items: due ones and the rest, each in arrival order.
type lane[T comparable] struct {
	due, rest []T
	// dueServed counts the due items served in a row while rest had items.
	dueServed int
}

// dueRun is how many due items of a key are served in a row while it has other items waiting.
const dueRun = 8

// NewRing returns an empty Ring whose items are grouped by key.
func NewRing[T comparable](key func(T) string) *Ring[T] {
	return &Ring[T]{key: key, lanes: map[string]*lane[T]{}, timers: timers[T]{at: map[T]time.Time{}, clock: clock.RealClock{}}}
}

var _ workqueue.Queue[reconcile.Request] = &Ring[reconcile.Request]{}

// Touch is called when a queued item is added again: it keeps its place.
func (r *Ring[T]) Touch(T) {}

// Push appends item to its key's lane (to its due items when its AddAfter time has come); a key
// that had no items takes its turn after every key already waiting.
func (r *Ring[T]) Push(item T) {
	k := r.key(item)
	l, ok := r.lanes[k]
	if !ok {
		l = &lane[T]{}
		r.lanes[k] = l
		r.turn = append(r.turn, k)
	}
	if r.timers.take(item) {
		l.due = append(l.due, item)
	} else {
		l.rest = append(l.rest, item)
	}
	r.n++
}

// Len is the number of items queued.
func (r *Ring[T]) Len() int { return r.n }

// Pop takes the next item of the key whose turn it is; that key, if it has more, goes to the
// back of the turn. The Typed queue calls Pop only when Len is above zero.
func (r *Ring[T]) Pop() T {
	k := r.turn[0]
	r.turn[0] = ""
	r.turn = r.turn[1:]
	l := r.lanes[k]
	var item T
	if len(l.due) > 0 && (len(l.rest) == 0 || l.dueServed < dueRun) {
		item, l.due = shift(l.due)
		if len(l.rest) > 0 {
			l.dueServed++
		}
	} else {
		item, l.rest = shift(l.rest)
		l.dueServed = 0
	}
	if len(l.due) == 0 && len(l.rest) == 0 {
		delete(r.lanes, k) // a namespace that went quiet costs nothing
	} else {
		r.turn = append(r.turn, k)
	}
	if len(r.turn) == 0 {
		r.turn = nil // let a long drained turn's backing array go
	}
	r.n--
	return item
}

// shift takes the first item off s.
func shift[T comparable](s []T) (T, []T) {
	item := s[0]
	var zero T
	s[0] = zero // the backing array must not keep the item alive
	s = s[1:]
	if len(s) == 0 {
		s = nil
	}
	return item, s
}

// timers are the items added with AddAfter, and when each is due. Push consults them from
// under the Typed queue's lock, AddAfter and Forget set and clear them from the workers: they
// have their own lock. An entry goes when its item is pushed at or after its time, or when the
// item is forgotten after its time (controller-runtime forgets an item after every successful
// reconcile, and just before it adds the item again with RequeueAfter; a timer still to come
// survives that): every timer fires, and the item it pushes (or finds queued) is reconciled and
// forgotten, so a deleted object leaves nothing.
type timers[T comparable] struct {
	mu    sync.Mutex
	at    map[T]time.Time
	clock clock.PassiveClock
}

func (t *timers[T]) set(item T, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.at[item]; !ok || at.Before(old) {
		t.at[item] = at
	}
}

// clearPast forgets item's time if it has passed.
func (t *timers[T]) clearPast(item T) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if at, ok := t.at[item]; ok && !t.clock.Now().Before(at) {
		delete(t.at, item)
	}
}

// take reports whether item is due by its AddAfter time, forgetting the time if so. An item
// pushed before its time (a watch event came first) keeps it.
func (t *timers[T]) take(item T) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.at[item]
	if !ok || t.clock.Now().Before(at) {
		return false
	}
	delete(t.at, item)
	return true
}

// Namespace is the key of a reconcile request: its namespace ("" for cluster-scoped objects,
// which then share one turn).
func Namespace(req reconcile.Request) string { return req.Namespace }

// NewQueue is a controller.Options.NewQueue: client-go's rate-limiting queue, named after the
// controller (for its metrics), over a Ring that serves namespaces in turn and due items first.
func NewQueue(name string, limiter workqueue.TypedRateLimiter[reconcile.Request]) workqueue.TypedRateLimitingInterface[reconcile.Request] {
	return newQueue(name, limiter, workqueue.TypedQueueConfig[reconcile.Request]{})
}

// newQueue builds the queue; tests pass a fake clock or metrics provider in cfg.
func newQueue(name string, limiter workqueue.TypedRateLimiter[reconcile.Request], cfg workqueue.TypedQueueConfig[reconcile.Request]) workqueue.TypedRateLimitingInterface[reconcile.Request] {
	cfg.Name = name
	ring := NewRing(Namespace)
	if cfg.Clock != nil {
		ring.timers.clock = cfg.Clock
	}
	cfg.Queue = ring
	base := workqueue.NewTypedWithConfig(cfg)
	delaying := workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[reconcile.Request]{
		Name: name, MetricsProvider: cfg.MetricsProvider, Clock: cfg.Clock, Queue: base,
	})
	q := workqueue.NewTypedRateLimitingQueueWithConfig(limiter, workqueue.TypedRateLimitingQueueConfig[reconcile.Request]{
		Name: name, MetricsProvider: cfg.MetricsProvider, Clock: cfg.Clock, DelayingQueue: delaying,
	})
	return &timedQueue{TypedRateLimitingInterface: q, ring: ring}
}

// timedQueue records the time of every AddAfter (a reconciler's RequeueAfter) in the ring, so the
// item is served as due when it comes. AddRateLimited (an error's backoff) does not pass through
// here and is not served early: a failing item is not urgent.
type timedQueue struct {
	workqueue.TypedRateLimitingInterface[reconcile.Request]
	ring *Ring[reconcile.Request]
}

func (q *timedQueue) AddAfter(item reconcile.Request, d time.Duration) {
	if d > 0 {
		q.ring.timers.set(item, q.ring.timers.clock.Now().Add(d))
	}
	q.TypedRateLimitingInterface.AddAfter(item, d)
}

func (q *timedQueue) Forget(item reconcile.Request) {
	q.ring.timers.clearPast(item)
	q.TypedRateLimitingInterface.Forget(item)
}

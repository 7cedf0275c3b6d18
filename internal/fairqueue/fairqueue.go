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
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Ring is a workqueue.Queue that pops items round-robin across the keys (namespaces) that have
// items, and in arrival order within a key. Like every workqueue.Queue, the Typed queue calls it
// under its own lock, so Ring is not safe for concurrent use on its own.
type Ring[T comparable] struct {
	key func(T) string
	// lanes holds each key's items in arrival order; a key with no items has no lane.
	lanes map[string][]T
	// turn is the keys with items, in the order they are served; each key appears once.
	turn []string
	n    int
}

// NewRing returns an empty Ring whose items are grouped by key.
func NewRing[T comparable](key func(T) string) *Ring[T] {
	return &Ring[T]{key: key, lanes: map[string][]T{}}
}

var _ workqueue.Queue[reconcile.Request] = &Ring[reconcile.Request]{}

// Touch is called when a queued item is added again: it keeps its place.
func (r *Ring[T]) Touch(T) {}

// Push appends item to its key's lane; a key that had no items takes its turn after every key
// already waiting.
func (r *Ring[T]) Push(item T) {
	k := r.key(item)
	lane, ok := r.lanes[k]
	if !ok {
		r.turn = append(r.turn, k)
	}
	r.lanes[k] = append(lane, item)
	r.n++
}

// Len is the number of items queued.
func (r *Ring[T]) Len() int { return r.n }

// Pop takes the first item of the key whose turn it is; that key, if it has more, goes to the
// back of the turn. The Typed queue calls Pop only when Len is above zero.
func (r *Ring[T]) Pop() T {
	k := r.turn[0]
	r.turn[0] = ""
	r.turn = r.turn[1:]
	lane := r.lanes[k]
	item := lane[0]
	var zero T
	lane[0] = zero // the backing array must not keep the item alive
	lane = lane[1:]
	if len(lane) == 0 {
		delete(r.lanes, k) // a namespace that went quiet costs nothing
	} else {
		r.lanes[k] = lane
		r.turn = append(r.turn, k)
	}
	if len(r.turn) == 0 {
		r.turn = nil // let a long drained turn's backing array go
	}
	r.n--
	return item
}

// Namespace is the key of a reconcile request: its namespace ("" for cluster-scoped objects,
// which then share one turn).
func Namespace(req reconcile.Request) string { return req.Namespace }

// NewQueue is a controller.Options.NewQueue: client-go's rate-limiting queue, named after the
// controller (for its metrics), over a Ring that serves namespaces in turn.
func NewQueue(name string, limiter workqueue.TypedRateLimiter[reconcile.Request]) workqueue.TypedRateLimitingInterface[reconcile.Request] {
	return newQueue(name, limiter, workqueue.TypedQueueConfig[reconcile.Request]{})
}

// newQueue builds the queue; tests pass a fake clock or metrics provider in cfg.
func newQueue(name string, limiter workqueue.TypedRateLimiter[reconcile.Request], cfg workqueue.TypedQueueConfig[reconcile.Request]) workqueue.TypedRateLimitingInterface[reconcile.Request] {
	cfg.Name = name
	cfg.Queue = NewRing(Namespace)
	base := workqueue.NewTypedWithConfig(cfg)
	delaying := workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[reconcile.Request]{
		Name: name, MetricsProvider: cfg.MetricsProvider, Clock: cfg.Clock, Queue: base,
	})
	return workqueue.NewTypedRateLimitingQueueWithConfig(limiter, workqueue.TypedRateLimitingQueueConfig[reconcile.Request]{
		Name: name, MetricsProvider: cfg.MetricsProvider, Clock: cfg.Clock, DelayingQueue: delaying,
	})
}

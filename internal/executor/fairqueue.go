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

package executor

import (
	"container/list"
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
)

// fairQueue orders the webhook pool's waiting calls so that no namespace can hold back another's:
// one FIFO per queue inside one per namespace, round-robin across the namespaces that have calls
// waiting and, inside a namespace, across its queues; a namespace whose calls in flight reach
// maxInFlight is skipped until one ends, so one namespace never takes every worker; and a
// namespace's backlog is bounded (maxQueued): push refuses rather than waits, and remembers who
// was refused (up to maxQueued jobs per namespace) to be woken when there is room again.
//
// It only orders: it starts nothing and holds no lock of its own (Webhooks.mu guards it; the
// pool's side is at the end of this file).
type fairQueue struct {
	maxInFlight int
	maxQueued   int
	spaces      map[string]*nsQueue
	// ring holds the namespaces with calls waiting, in round-robin order; cursor is where the
	// next pop starts looking (nil: at the front).
	ring   list.List
	cursor *list.Element
}

// nsQueue is one namespace's share of the pool.
type nsQueue struct {
	name     string
	inFlight int
	queued   int
	queues   map[string]*subQueue
	ring     list.List // of *subQueue with calls waiting, round-robin
	cursor   *list.Element
	elem     *list.Element // in fairQueue.ring; nil when nothing waits
	// parked are jobs whose call was refused for a full backlog, oldest first, to be woken one
	// per freed place (parkedSet keeps them unique).
	parked    []types.NamespacedName
	parkedSet map[types.NamespacedName]struct{}
}

// subQueue is one queue's FIFO inside a namespace.
type subQueue struct {
	name  string
	calls list.List // of *call
	elem  *list.Element
}

func newFairQueue(maxInFlight, maxQueued int) *fairQueue {
	return &fairQueue{maxInFlight: max(maxInFlight, 1), maxQueued: max(maxQueued, 1), spaces: map[string]*nsQueue{}}
}

// push appends c to its namespace's and queue's FIFO. It reports false, and remembers c's job
// to wake, when the namespace already has maxQueued calls waiting: it never waits itself.
func (q *fairQueue) push(c *call) bool {
	ns := q.space(c.job.Namespace)
	if ns.queued >= q.maxQueued {
		ns.park(c.job, q.maxQueued)
		q.drop(ns)
		return false
	}
	q.link(ns, c, false)
	return true
}

// requeue puts back, first in its queue's FIFO, a call that a worker took but held back (its
// rate window had no free slot), whatever the backlog: it was let in before.
func (q *fairQueue) requeue(c *call) {
	q.link(q.space(c.job.Namespace), c, true)
}

// link appends c to its queue's FIFO (front: prepends), making the queue and the namespace take
// turns.
func (q *fairQueue) link(ns *nsQueue, c *call, front bool) {
	sq := ns.queues[c.queue]
	if sq == nil {
		sq = &subQueue{name: c.queue}
		ns.queues[c.queue] = sq
	}
	if sq.elem == nil {
		sq.elem = ns.ring.PushBack(sq)
	}
	if front {
		c.slot = sq.calls.PushFront(c)
	} else {
		c.slot = sq.calls.PushBack(c)
	}
	c.sub = sq
	ns.queued++
	if ns.elem == nil {
		ns.elem = q.ring.PushBack(ns)
	}
}

// pop takes the next call to make: from the first namespace, in round-robin order from where the
// last pop stopped, that has calls waiting and fewer than maxInFlight in flight; inside it, from
// its next queue in turn. The call counts as in flight until done. It returns nil when no
// namespace may make a call now, and the job to wake when this freed a place in a full backlog.
func (q *fairQueue) pop() (*call, *types.NamespacedName) {
	e := q.cursor
	for range q.ring.Len() {
		if e == nil {
			e = q.ring.Front()
		}
		ns := e.Value.(*nsQueue)
		next := e.Next()
		if ns.inFlight < q.maxInFlight {
			c := ns.take()
			ns.inFlight++
			if ns.queued == 0 {
				q.ring.Remove(e)
				ns.elem = nil
			}
			q.cursor = next
			return c, ns.unpark()
		}
		e = next
	}
	return nil, nil
}

// remove takes a waiting call out of the queue (its job stopped or was forgotten), so it is never
// made. It reports whether c was waiting, and the job to wake for the freed place.
func (q *fairQueue) remove(c *call) (bool, *types.NamespacedName) {
	if c.slot == nil {
		return false, nil
	}
	ns := q.spaces[c.job.Namespace]
	ns.unlink(c)
	if ns.queued == 0 && ns.elem != nil {
		if q.cursor == ns.elem {
			q.cursor = ns.elem.Next()
		}
		q.ring.Remove(ns.elem)
		ns.elem = nil
	}
	wake := ns.unpark()
	q.drop(ns)
	return true, wake
}

// done ends a call that pop returned.
func (q *fairQueue) done(c *call) {
	if ns := q.spaces[c.job.Namespace]; ns != nil && ns.inFlight > 0 {
		ns.inFlight--
		q.drop(ns)
	}
}

// space returns the namespace's share, creating it.
func (q *fairQueue) space(name string) *nsQueue {
	ns := q.spaces[name]
	if ns == nil {
		ns = &nsQueue{name: name, queues: map[string]*subQueue{}}
		q.spaces[name] = ns
	}
	return ns
}

// drop forgets a namespace that has nothing waiting, in flight or parked.
func (q *fairQueue) drop(ns *nsQueue) {
	if ns.queued == 0 && ns.inFlight == 0 && len(ns.parked) == 0 {
		delete(q.spaces, ns.name)
	}
}

// take removes the namespace's next call: the head of its next queue in turn.
func (ns *nsQueue) take() *call {
	e := ns.cursor
	if e == nil {
		e = ns.ring.Front()
	}
	sq := e.Value.(*subQueue)
	ns.cursor = e.Next()
	c := sq.calls.Front().Value.(*call)
	ns.unlink(c)
	return c
}

// unlink removes a waiting call from its queue, and the queue from the ring once it is empty.
func (ns *nsQueue) unlink(c *call) {
	sq := c.sub
	sq.calls.Remove(c.slot)
	c.slot, c.sub = nil, nil
	ns.queued--
	if sq.calls.Len() == 0 {
		if ns.cursor == sq.elem {
			ns.cursor = sq.elem.Next()
		}
		ns.ring.Remove(sq.elem)
		sq.elem = nil
		delete(ns.queues, sq.name)
	}
}

// park remembers a job refused for a full backlog (at most limit of them).
func (ns *nsQueue) park(job types.NamespacedName, limit int) {
	if _, ok := ns.parkedSet[job]; ok || len(ns.parked) >= limit {
		return
	}
	if ns.parkedSet == nil {
		ns.parkedSet = map[types.NamespacedName]struct{}{}
	}
	ns.parked = append(ns.parked, job)
	ns.parkedSet[job] = struct{}{}
}

// unpark returns the oldest parked job, if any, forgetting it.
func (ns *nsQueue) unpark() *types.NamespacedName {
	if len(ns.parked) == 0 {
		return nil
	}
	job := ns.parked[0]
	ns.parked[0] = types.NamespacedName{}
	ns.parked = ns.parked[1:]
	delete(ns.parkedSet, job)
	if len(ns.parked) == 0 {
		ns.parked, ns.parkedSet = nil, nil
	}
	return &job
}

// The pool's side: how Webhooks hands calls to the fair queue and its workers take them.

// take waits for the next call the fair queue lets a worker make; nil once ctx ended.
func (w *Webhooks) take(ctx context.Context) *call {
	w.mu.Lock()
	for {
		if ctx.Err() != nil {
			w.mu.Unlock()
			return nil
		}
		if c, wake := w.fair.pop(); c != nil {
			w.mu.Unlock()
			w.wake(wake)
			return c
		}
		w.ready.Wait()
	}
}

// enqueue hands a new call to the fair queue, or answers ErrBusy when its namespace's backlog is
// full. Called with w.mu held.
func (w *Webhooks) enqueue(c *call) error {
	if !w.fair.push(c) {
		return fmt.Errorf("%w: namespace %s has %d webhook calls waiting; this one is made once there is room",
			ErrBusy, c.job.Namespace, w.opts.NamespaceBacklog)
	}
	w.ready.Signal()
	return nil
}

// dequeue takes a call out of the fair queue if it still waits there, so it is never made.
// Called with w.mu held; it returns the job to wake for the freed place.
func (w *Webhooks) dequeue(c *call) *types.NamespacedName {
	_, wake := w.fair.remove(c)
	return wake
}

// wake tells the reconciler of a job refused for a full backlog that there is room now.
func (w *Webhooks) wake(job *types.NamespacedName) {
	if job != nil && w.opts.Notify != nil {
		w.opts.Notify(*job)
	}
}

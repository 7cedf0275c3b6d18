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
	"cmp"
	"container/heap"
	"fmt"
	"math"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// Per-key limits and turns. A queue keeps one keyState per distinct spec.key of its jobs (what
// the queue's keyLimits count), and each handler one group per key among its jobs (what the
// handler's keyLimits count, and what takes turns): a handler's heap holds its groups with
// Waiting jobs, ordered by their first jobs in admission order, in which the key's last start
// (its turn) comes right after priority. So the key that started a job longest ago goes first,
// and a key with one job is at most one admission behind a key with ten thousand.
//
// A group a key limit holds is parked, out of its handler's heap, when it comes first: on its
// key (concurrency, or a rate window whose slots claims hold) until a Running job of the key
// ends or a claim or reservation is dropped; in the queue's timed heap until its rate window's
// next slot or its pause ends. Each is parked once per block, so the cost stays O(log n) per
// event, amortised.

// Reasons of refusals by a key limit: the API's Blocked reasons.
const (
	ReasonKeyConcurrency Reason = kickqv1alpha1.ReasonKeyConcurrencyLimited
	ReasonKeyRate        Reason = kickqv1alpha1.ReasonKeyRateLimited
	ReasonKeyPaused      Reason = kickqv1alpha1.ReasonKeyPaused
)

// keyState is one key's state in a queue.
type keyState struct {
	name    string
	running int32 // Running and reserved jobs of the key
	waiting int32 // Waiting jobs of the key
	window  *window
	// pause is the latest PauseUntil a job of the key showed; it holds the key while the queue's
	// keyLimits.pauseOnRetryAfter is set.
	pause time.Time
	// last is when the key last started an attempt (its turn); zero if never.
	last   time.Time
	groups map[*handler]*group
}

// group is one key's jobs in one handler.
type group struct {
	ks      *keyState
	h       *handler
	running int32
	members int
	window  *window // the handler's key rate window; nil without one
	pause   time.Time
	jobs    orderHeap // Waiting jobs
	// gidx is its index in h.groups, tidx in the queue's timed heap (-1 when not there); parked:
	// held on its key.
	gidx, tidx int
	parked     bool
	until      time.Time // while in the timed heap
}

// keyFor returns the queue's state of key name, creating it.
func (q *queue) keyFor(name string) *keyState {
	if ks := q.keys[name]; ks != nil {
		return ks
	}
	ks := &keyState{name: name, groups: map[*handler]*group{}}
	if name != "" && validRate(q.limits.Keys.Rate) {
		ks.window = newWindow(q.limits.Keys.Rate.Period)
	}
	q.keys[name] = ks
	return ks
}

// groupFor returns h's group of key name, creating it.
func (q *queue) groupFor(h *handler, name string) *group {
	if g := h.keys[name]; g != nil {
		return g
	}
	ks := q.keyFor(name)
	g := &group{ks: ks, h: h, jobs: newOrderHeap(q.cmps), gidx: -1, tidx: -1}
	if name != "" && validRate(h.limits.Keys.Rate) {
		g.window = newWindow(h.limits.Keys.Rate.Period)
	}
	h.keys[name] = g
	ks.groups[h] = g
	return g
}

// dropGroupIfUnused forgets a group (and then its key) no job refers to, once its windows hold
// nothing and its pause is over: until then it lingers, and sweep looks again when its window's
// period and its pause have passed (a deleted job's starts still count for its key).
func (q *queue) dropGroupIfUnused(g *group, now time.Time) {
	if g.members > 0 || g.running > 0 || q.keyGroup(g) != g {
		return
	}
	if held(g.window, g.pause, now) {
		q.linger(now, g, nil, g.window, g.pause)
		return
	}
	delete(g.h.keys, g.ks.name)
	ks := g.ks
	delete(ks.groups, g.h)
	q.dropKeyIfUnused(ks, now)
}

func (q *queue) keyGroup(g *group) *group { return g.h.keys[g.ks.name] }

func (q *queue) dropKeyIfUnused(ks *keyState, now time.Time) {
	if len(ks.groups) > 0 || ks.running > 0 || q.keys[ks.name] != ks {
		return
	}
	if held(ks.window, ks.pause, now) {
		q.linger(now, nil, ks, ks.window, ks.pause)
		return
	}
	delete(q.keys, ks.name)
}

func held(w *window, pause, now time.Time) bool {
	return (w != nil && w.count(now) > 0) || pause.After(now)
}

// lingering is an unused group or key whose window or pause still holds, to look at again.
type lingering struct {
	g     *group
	ks    *keyState
	until time.Time
}

func (q *queue) linger(now time.Time, g *group, ks *keyState, w *window, pause time.Time) {
	until := pause
	if w != nil {
		until = latest(until, now.Add(w.period))
	}
	q.lingering = append(q.lingering, lingering{g: g, ks: ks, until: until})
}

func latest(x, y time.Time) time.Time {
	if x.After(y) {
		return x
	}
	return y
}

// sweep drops the lingering groups and keys whose time has come (and that are still unused). The
// list is in the order they were added, roughly by time: each is looked at once per period.
func (q *queue) sweep(now time.Time) {
	for len(q.lingering) > 0 && !q.lingering[0].until.After(now) {
		l := q.lingering[0]
		q.lingering[0] = lingering{}
		q.lingering = q.lingering[1:]
		if l.g != nil {
			q.dropGroupIfUnused(l.g, now)
		} else {
			q.dropKeyIfUnused(l.ks, now)
		}
	}
}

// pushGroup puts g (with Waiting jobs, not parked) in its handler's heap.
func (q *queue) pushGroup(g *group) {
	if g.gidx >= 0 || g.tidx >= 0 || g.parked || g.jobs.Len() == 0 {
		return
	}
	heap.Push(&g.h.groups, g)
	q.waiting[g.h] = struct{}{}
}

// takeGroup takes g out of every heap and off its key.
func (q *queue) takeGroup(g *group) {
	if g.gidx >= 0 {
		heap.Remove(&g.h.groups, g.gidx)
		if g.h.groups.Len() == 0 {
			delete(q.waiting, g.h)
		}
	}
	if g.tidx >= 0 {
		heap.Remove(&q.timed, g.tidx)
	}
	g.parked = false
}

// unpark returns a parked or timed group to its handler's heap; a limit that still holds it
// parks it again when it comes first.
func (q *queue) unpark(g *group) {
	if g.tidx >= 0 {
		heap.Remove(&q.timed, g.tidx)
	}
	if g.parked || g.gidx < 0 {
		g.parked = false
		q.pushGroup(g)
	}
}

// unparkKey unparks the groups held on key ks: one of its jobs stopped running, or a claim or a
// reservation of its windows was dropped. O(handlers log n).
func (q *queue) unparkKey(ks *keyState) {
	for _, g := range ks.groups {
		if g.parked {
			q.unpark(g)
		}
	}
}

// unparkAll unparks every group of the queue: its limits changed. O(groups log n).
func (q *queue) unparkAll() {
	for _, ks := range q.keys {
		for _, g := range ks.groups {
			q.unpark(g)
		}
	}
}

// unparkDue unparks the groups whose time has come.
func (q *queue) unparkDue(now time.Time) {
	for q.timed.Len() > 0 && !q.timed.items[0].until.After(now) {
		g := heap.Pop(&q.timed).(*group)
		q.pushGroup(g)
	}
}

// head returns h's first job whose key limits let it start, parking the groups before it that
// they hold; a group parked until a time wakes its first job, so that a timer is set for then.
func (q *queue) head(h *handler, now time.Time, wake []types.NamespacedName) (*job, []types.NamespacedName) {
	for h.groups.Len() > 0 {
		g := h.groups.items[0]
		d, held := q.keyRefusal(g, now)
		if !held {
			return g.jobs.items[0], wake
		}
		heap.Remove(&h.groups, 0)
		if d.RetryAt.IsZero() {
			g.parked = true
			continue
		}
		g.until = d.RetryAt
		heap.Push(&q.timed, g)
		wake = wakeOnce(g.jobs.items[0], now, wake)
	}
	delete(q.waiting, h)
	return nil, wake
}

// wakeTimed wakes the first job of the group parked until the earliest time, when no job can
// start now: its refusal times its reconcile to when the group may start (a group parked while
// the queue was paused or full has no such timer).
func (q *queue) wakeTimed(now time.Time, wake []types.NamespacedName) []types.NamespacedName {
	if q.timed.Len() == 0 {
		return wake
	}
	return wakeOnce(q.timed.items[0].jobs.items[0], now, wake)
}

// keyRefusal says whether g's key limits (the queue's, then the handler's) hold its jobs now.
func (q *queue) keyRefusal(g *group, now time.Time) (Decision, bool) {
	name := g.ks.name
	if name == "" {
		return Decision{}, false
	}
	if d, held := keyCheck("queue", name, &q.limits.Keys, g.ks.running, g.ks.window, g.ks.pause, now); held {
		return d, true
	}
	return keyCheck(g.h.label(), name, &g.h.limits.Keys, g.running, g.window, g.pause, now)
}

func keyCheck(what, key string, l *KeyLimits, running int32, w *window, pause, now time.Time) (Decision, bool) {
	if l.PauseOnRetryAfter && pause.After(now) {
		return Decision{Reason: ReasonKeyPaused, RetryAt: pause, Message: fmt.Sprintf("key %s is paused until %s: an attempt of the key was answered with Retry-After (%s keyLimits.pauseOnRetryAfter)",
			key, pause.UTC().Format(time.RFC3339), what)}, true
	}
	if l.Concurrency > 0 && running >= l.Concurrency {
		return Decision{Reason: ReasonKeyConcurrency, Message: fmt.Sprintf("key %s: %s keyLimits.concurrency %d reached (%d running)", key, what, l.Concurrency, running)}, true
	}
	if d, held := rateRefusal(what+" keyLimits", l.Rate, w, now); held {
		d.Reason, d.Message = ReasonKeyRate, "key "+key+": "+d.Message
		return d, true
	}
	return Decision{}, false
}

// keyRoom is how many more jobs g's key limits let start now.
func (q *queue) keyRoom(g *group, now time.Time) int {
	if g.ks.name == "" {
		return math.MaxInt
	}
	if _, held := q.keyRefusal(g, now); held {
		return 0
	}
	return min(room(q.limits.Keys.Concurrency, g.ks.running, q.limits.Keys.Rate, g.ks.window, now),
		room(g.h.limits.Keys.Concurrency, g.running, g.h.limits.Keys.Rate, g.window, now))
}

// turn records that j's key started an attempt at t: it goes behind the keys that started
// longer ago. O(handlers log n).
func (q *queue) turn(j *job, t time.Time) {
	ks := j.g.ks
	if !t.After(ks.last) {
		return
	}
	ks.last = t
	for _, g := range ks.groups {
		heapFix(&g.h.groups, g.gidx)
	}
}

// pauseKey records a job's PauseUntil on its key and group.
func (j *job) pauseKey(until time.Time) {
	if j.g.ks.name == "" || until.IsZero() {
		return
	}
	if until.After(j.g.ks.pause) {
		j.g.ks.pause = until
	}
	if until.After(j.g.pause) {
		j.g.pause = until
	}
}

// keyStats counts the queue's active keys and lists the busiest. O(keys): for a status write,
// not per event.
func (q *queue) keyStats() (int32, []KeyCount) {
	var active int32
	var all []KeyCount
	for name, ks := range q.keys {
		if name == "" || (ks.waiting == 0 && ks.running == 0) {
			continue
		}
		active++
		if ks.waiting > 0 {
			all = append(all, KeyCount{Key: name, Waiting: ks.waiting, Running: ks.running})
		}
	}
	slices.SortFunc(all, func(x, y KeyCount) int {
		if c := cmp.Compare(y.Waiting, x.Waiting); c != 0 {
			return c
		}
		return cmp.Compare(x.Key, y.Key)
	})
	if len(all) > MaxBusiestKeys {
		all = all[:MaxBusiestKeys]
	}
	return active, all
}

// groupHeap holds a handler's groups, the one whose first job comes first at the root.
type groupHeap = indexedHeap[*group]

func newGroupHeap(cmps *uint64) groupHeap {
	return groupHeap{
		less:  func(x, y *group) bool { *cmps++; return before(x.jobs.items[0], y.jobs.items[0]) },
		index: func(g *group, i int) { g.gidx = i },
	}
}

// timedHeap holds a queue's groups parked until a time, the earliest at the root.
type timedHeap = indexedHeap[*group]

func newTimedHeap() timedHeap {
	return timedHeap{
		less:  func(x, y *group) bool { return x.until.Before(y.until) },
		index: func(g *group, i int) { g.tidx = i },
	}
}

// The slots of a job's rate windows (start.e, job.claimed).
const (
	wQueue = iota
	wHandler
	wKey   // the queue's keyLimits window of the job's key
	wGroup // the handler's keyLimits window of the job's key
	nWindows
)

// windows are j's rate windows by slot (nil where there is none).
func (j *job) windows() [nWindows]*window {
	return [nWindows]*window{j.q.window, j.h.window, j.g.ks.window, j.g.window}
}

// rates are the limits of j's windows by slot.
func (j *job) rates() [nWindows]*RateLimit {
	return [nWindows]*RateLimit{j.q.limits.Rate, j.h.limits.Rate, j.q.limits.Keys.Rate, j.h.limits.Keys.Rate}
}

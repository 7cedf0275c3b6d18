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
	"time"
)

// entry is one attempt start in a rate window.
type entry struct {
	t   time.Time
	w   *window // the window that holds it
	idx int     // its index in w.items; -1 once it left the window
	// owned is false once the job that started it was forgotten: the start still counts until it
	// leaves the window, but no job record points at it.
	owned bool
}

// window holds the attempt starts of one rate limit (a queue's or a handler's) that are inside its
// period, in a min-heap on the start time: the oldest start is at the root, expired starts are
// dropped from there, and any start can be removed by its index or moved later. Starts after now
// count too (a clock ahead of ours recorded them): they are inside every window that ends later.
//
// claims counts the admitted attempts whose side effect is due but was refused a slot (Charge):
// they hold the next slots that open against new admissions, so that a held call is not
// overtaken forever. They have no time: they are not starts yet.
type window struct {
	period time.Duration
	indexedHeap[*entry]
	claims int
}

func newWindow(period time.Duration) *window {
	return &window{period: period, indexedHeap: indexedHeap[*entry]{
		less:  func(x, y *entry) bool { return x.t.Before(y.t) },
		index: func(e *entry, i int) { e.idx = i },
	}}
}

// cutoff is the instant at or before which a start is outside the window that ends at now.
func (w *window) cutoff(now time.Time) time.Time { return now.Add(-w.period) }

// add records a start; it returns nil when the start is already outside the window.
func (w *window) add(t, now time.Time, owned bool) *entry {
	if !t.After(w.cutoff(now)) {
		return nil
	}
	e := &entry{t: t, w: w, owned: owned}
	heap.Push(w, e)
	return e
}

// remove drops a start the window holds; it ignores entries that already left it or belong to
// another window.
func (w *window) remove(e *entry) {
	if e == nil || e.w != w || e.idx < 0 || e.idx >= len(w.items) || w.items[e.idx] != e {
		return
	}
	heap.Remove(w, e.idx)
}

// prune drops the starts that left the window by now. Each start is dropped once, so the cost is
// amortised over the starts added.
func (w *window) prune(now time.Time) {
	c := w.cutoff(now)
	for len(w.items) > 0 && !w.items[0].t.After(c) {
		heap.Pop(w)
	}
}

// count is the number of starts in (now-period, now] (and after now).
func (w *window) count(now time.Time) int {
	w.prune(now)
	return len(w.items)
}

// load is what a new admission competes with: the starts in the window and the claims.
func (w *window) load(now time.Time) int { return w.count(now) + w.claims }

// holds reports whether e is one of the window's starts (not expired, not removed). Call it
// after count, so that expired starts are pruned.
func (w *window) holds(e *entry) bool {
	return e != nil && e.w == w && e.idx >= 0 && e.idx < len(w.items) && w.items[e.idx] == e
}

// move makes a start the window holds count from t instead (t later than its time).
func (w *window) move(e *entry, t time.Time) {
	e.t = t
	heap.Fix(w, e.idx)
}

// nextSlot is the instant at which the window, now holding n >= limit-claims starts, holds
// limit-1-claims of them: when its (n-limit+claims+1)-th oldest start leaves it. With n == limit
// and no claims that is the oldest start plus the period. It is zero when the claims alone fill
// the window: the slot opens once a claim is charged and then leaves. Call it after count.
func (w *window) nextSlot(limit, claims int) time.Time {
	k := len(w.items) + claims - limit + 1
	if k > len(w.items) {
		return time.Time{}
	}
	return w.kth(max(k, 1)).Add(w.period)
}

// kth returns the k-th oldest start (k >= 1) without changing the heap: a best-first walk of the
// heap's implicit tree, O(k log k).
func (w *window) kth(k int) time.Time {
	if k <= 1 {
		return w.items[0].t
	}
	f := &frontier{w: w, idx: []int{0}}
	for {
		i := heap.Pop(f).(int)
		k--
		if k == 0 {
			return w.items[i].t
		}
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < len(w.items) {
				heap.Push(f, c)
			}
		}
	}
}

// frontier is a min-heap of indexes into a window's heap, ordered by their start times.
type frontier struct {
	w   *window
	idx []int
}

func (f *frontier) Len() int           { return len(f.idx) }
func (f *frontier) Less(i, j int) bool { return f.w.items[f.idx[i]].t.Before(f.w.items[f.idx[j]].t) }
func (f *frontier) Swap(i, j int)      { f.idx[i], f.idx[j] = f.idx[j], f.idx[i] }
func (f *frontier) Push(x any)         { f.idx = append(f.idx, x.(int)) }
func (f *frontier) Pop() any {
	n := len(f.idx) - 1
	x := f.idx[n]
	f.idx = f.idx[:n]
	return x
}

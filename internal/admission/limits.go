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
	"maps"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// SetLimits sets or changes a queue's limits. When they changed and the queue has room, the jobs
// that may now start are notified (capacity grew, or the queue was unpaused).
func (a *Admission) SetLimits(k QueueKey, l Limits) {
	var wake []types.NamespacedName
	a.mu.Lock()
	now := a.now()
	q := a.queueLocked(k)
	old := q.limits
	l.Handlers = maps.Clone(l.Handlers)
	q.limits = l
	rb := rebuild{q: periodOf(old.Rate) != periodOf(l.Rate), k: periodOf(old.Keys.Rate) != periodOf(l.Keys.Rate)}
	for name, h := range q.handlers {
		hl := l.Handlers[name]
		if periodOf(h.limits.Rate) != periodOf(hl.Rate) {
			rb.addH(&rb.h, h)
		}
		if periodOf(h.limits.Keys.Rate) != periodOf(hl.Keys.Rate) {
			rb.addH(&rb.g, h)
		}
		h.limits = hl
	}
	if rb.q || rb.k || rb.h != nil || rb.g != nil {
		a.rebuildWindows(q, rb, now)
	}
	if !limitsEqual(old, l) {
		q.unparkAll()
		wake = q.next(now, notifyBurst, wake)
	}
	a.mu.Unlock()
	a.send(wake)
}

func periodOf(r *RateLimit) time.Duration {
	if !validRate(r) {
		return 0
	}
	return r.Period
}

func rateEqual(x, y *RateLimit) bool {
	if !validRate(x) || !validRate(y) {
		return validRate(x) == validRate(y)
	}
	return *x == *y
}

func keyLimitsEqual(x, y KeyLimits) bool {
	return x.Concurrency == y.Concurrency && x.PauseOnRetryAfter == y.PauseOnRetryAfter && rateEqual(x.Rate, y.Rate)
}

func limitsEqual(x, y Limits) bool {
	if x.Paused != y.Paused || x.Concurrency != y.Concurrency || !rateEqual(x.Rate, y.Rate) || !keyLimitsEqual(x.Keys, y.Keys) {
		return false
	}
	return maps.EqualFunc(x.Handlers, y.Handlers, func(a, b HandlerLimits) bool {
		return a.Concurrency == b.Concurrency && rateEqual(a.Rate, b.Rate) && keyLimitsEqual(a.Keys, b.Keys)
	})
}

// rebuild names the windows whose period changed: the queue's (q), its keys' (k), the handlers'
// (h) and the handlers' keys' (g).
type rebuild struct {
	q, k bool
	h, g map[*handler]struct{}
}

func (rebuild) addH(m *map[*handler]struct{}, h *handler) {
	if *m == nil {
		*m = map[*handler]struct{}{}
	}
	(*m)[h] = struct{}{}
}

// rebuildWindows replaces the windows whose period changed (rb): from the starts the queue's
// jobs recorded, and from the starts of forgotten jobs still in the old windows. O(jobs of the
// queue): a change of configuration, not an event.
func (a *Admission) rebuildWindows(q *queue, rb rebuild, now time.Time) {
	fresh := func(old *window, rate *RateLimit, keyed bool) *window {
		if !validRate(rate) || !keyed {
			return nil
		}
		w := newWindow(rate.Period)
		if old != nil {
			for _, e := range old.items {
				if !e.owned {
					w.add(e.t, now, false)
				}
			}
		}
		return w
	}
	if rb.q {
		q.window = fresh(q.window, q.limits.Rate, true)
	}
	for h := range rb.h {
		h.window = fresh(h.window, h.limits.Rate, true)
	}
	for name, ks := range q.keys {
		if rb.k {
			ks.window = fresh(ks.window, q.limits.Keys.Rate, name != "")
		}
		for h, g := range ks.groups {
			if _, ok := rb.g[h]; ok {
				g.window = fresh(g.window, h.limits.Keys.Rate, name != "")
			}
		}
	}
	for _, j := range q.members {
		_, hChanged := rb.h[j.h]
		_, gChanged := rb.g[j.h]
		changed := [nWindows]bool{wQueue: rb.q, wHandler: hChanged, wKey: rb.k, wGroup: gChanged}
		ws := j.windows()
		for _, s := range j.starts {
			for i := range ws {
				if !changed[i] {
					continue
				}
				s.e[i] = nil
				if ws[i] != nil {
					s.e[i] = ws[i].add(s.t, now, true)
				}
			}
		}
		if n := j.claim; n != 0 {
			// The claim moves to the new windows.
			a.unclaim(j)
			a.setClaim(j, n)
		}
	}
}

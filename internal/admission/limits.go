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
	rebuildQ := periodOf(old.Rate) != periodOf(l.Rate)
	var rebuildH map[*handler]struct{}
	for name, h := range q.handlers {
		hl := l.Handlers[name]
		if periodOf(h.limits.Rate) != periodOf(hl.Rate) {
			if rebuildH == nil {
				rebuildH = map[*handler]struct{}{}
			}
			rebuildH[h] = struct{}{}
		}
		h.limits = hl
	}
	if rebuildQ || rebuildH != nil {
		a.rebuildWindows(q, rebuildQ, rebuildH, now)
	}
	if !limitsEqual(old, l) {
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

func limitsEqual(x, y Limits) bool {
	if x.Paused != y.Paused || x.Concurrency != y.Concurrency || !rateEqual(x.Rate, y.Rate) {
		return false
	}
	return maps.EqualFunc(x.Handlers, y.Handlers, func(a, b HandlerLimits) bool {
		return a.Concurrency == b.Concurrency && rateEqual(a.Rate, b.Rate)
	})
}

// rebuildWindows replaces the queue's window (when q is set) and the windows of the handlers in
// hs, for a changed period: from the starts the queue's jobs recorded, and from the starts of
// forgotten jobs still in the old windows. O(jobs of the queue): a change of configuration, not
// an event.
func (a *Admission) rebuildWindows(q *queue, rebuildQ bool, hs map[*handler]struct{}, now time.Time) {
	fresh := func(old *window, rate *RateLimit) *window {
		if !validRate(rate) {
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
	if rebuildQ {
		q.window = fresh(q.window, q.limits.Rate)
	}
	for h := range hs {
		h.window = fresh(h.window, h.limits.Rate)
	}
	re := func(j *job, s *start) {
		if rebuildQ {
			s.qe = nil
			if q.window != nil {
				s.qe = q.window.add(s.t, now, true)
			}
		}
		if _, ok := hs[j.h]; ok {
			s.he = nil
			if j.h.window != nil {
				s.he = j.h.window.add(s.t, now, true)
			}
		}
	}
	for _, j := range q.members {
		for _, s := range j.starts {
			re(j, s)
		}
		if n := j.claim; n != 0 {
			// The claim moves to the new windows.
			a.unclaim(j)
			a.setClaim(j, n)
		}
	}
}

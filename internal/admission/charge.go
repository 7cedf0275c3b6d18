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
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Rate limits at the side effect. TryAdmit counts an admitted attempt's start from the
// reservation, but its side effect comes later: after the status write, and for a webhook after
// the call pool had a worker and a fair turn for it. Counting from the reservation would let a
// call the pool held back land in the same receiver window as the calls admitted after it. So an
// executor charges the side effect right before making it (Charge) and says when it was made
// (Sent): the start then counts from that instant. Every start of the windows is at or after the
// side effect it stands for (modulo the wire), and no window ever holds more than the limit, so
// any window of the side effects themselves holds at most the limit.

// Charge is called by an executor right before attempt n of the job makes its side effect (a
// webhook call is sent, a pod is created). It answers whether the side effect may be made now
// and, when not, when to ask again.
//
// The attempt's reservation, still in its windows, moves to now: it held its slot since the
// admission, so the slot is free. A reservation that left a window meanwhile, or a side effect
// made again (a webhook called again after a restart, a pod create retried), needs a free slot
// now; without one the attempt claims the next (new admissions wait behind it) and the answer is
// the instant that slot opens. A job admission does not know (forgotten) is not limited.
func (a *Admission) Charge(key types.NamespacedName, n int32) (ok bool, retryAt time.Time) {
	a.mu.Lock()
	ok, retryAt, wake := a.chargeLocked(key, n, a.now())
	a.mu.Unlock()
	a.send(wake)
	return ok, retryAt
}

func (a *Admission) chargeLocked(key types.NamespacedName, n int32, now time.Time) (bool, time.Time, []types.NamespacedName) {
	j := a.jobs[key]
	if j == nil {
		return true, time.Time{}, nil
	}
	s := j.uncharged(n)
	if at, free := a.slotFree(j, s, now); !free {
		a.setClaim(j, n)
		return false, at, nil
	}
	if s == nil {
		s = a.addStart(j, n, charged, now, now)
	}
	s.kind = charged
	a.place(j, s, now)
	var wake []types.NamespacedName
	if j.claim == n {
		// Its claim becomes the start. The windows' load is the same, but the jobs refused while
		// claims filled them had no instant to wait for: now the next slot has one.
		a.unclaim(j)
		wake = j.q.next(now, 1, wake)
	}
	return true, time.Time{}, wake
}

// Sent is called by an executor once attempt n's side effect was made (the call's request was
// written, the pod create answered): its latest charged start counts from now, which is later.
// A start that left a window meanwhile (the side effect took a period to make) is counted again
// there, over the limit if need be: it was made.
func (a *Admission) Sent(key types.NamespacedName, n int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	j := a.jobs[key]
	if j == nil {
		return
	}
	var last *start
	for _, s := range j.starts {
		if s.attempt == n && s.kind == charged && (last == nil || !s.t.Before(last.t)) {
			last = s
		}
	}
	if last != nil && last.t.Before(now) {
		a.place(j, last, now)
	}
}

// uncharged returns attempt n's start that TryAdmit reserved and no side effect charged yet.
func (j *job) uncharged(n int32) *start {
	for _, s := range j.starts {
		if s.attempt == n && s.kind == reserved {
			return s
		}
	}
	return nil
}

// slotFree reports whether start s (nil: a new one) may count from now in each of j's windows:
// it is still in the window (it holds its slot), or the window holds fewer starts than its limit
// (claims do not count here: a claim is what asks). When not, at is the latest instant at which
// every full window has a slot again.
func (a *Admission) slotFree(j *job, s *start, now time.Time) (at time.Time, free bool) {
	free = true
	check := func(w *window, r *RateLimit, e *entry) {
		if w == nil || !validRate(r) {
			return
		}
		if c := w.count(now); w.holds(e) || c < int(r.Limit) {
			return
		}
		free = false
		if t := w.nextSlot(int(r.Limit), 0); t.After(at) {
			at = t
		}
	}
	var es [nWindows]*entry
	if s != nil {
		es = s.e
	}
	rates := j.rates()
	for i, w := range j.windows() {
		check(w, rates[i], es[i])
	}
	return at, free
}

// place makes s count from now in j's windows: moved where the window holds it, added where it
// does not.
func (a *Admission) place(j *job, s *start, now time.Time) {
	s.t = now
	for i, w := range j.windows() {
		if w == nil {
			continue
		}
		w.prune(now)
		if w.holds(s.e[i]) {
			w.move(s.e[i], now)
			continue
		}
		s.e[i] = w.add(now, now, true)
	}
	j.q.turn(j, now)
}

// setClaim makes attempt n's refused side effect claim the next slot of j's windows.
func (a *Admission) setClaim(j *job, n int32) {
	if j.claim == n {
		return
	}
	a.unclaim(j)
	j.claim = n
	j.claimed = j.windows()
	for _, w := range j.claimed {
		if w != nil {
			w.claims++
		}
	}
}

// unclaim drops j's claim, if any.
func (a *Admission) unclaim(j *job) {
	if j.claim == 0 {
		return
	}
	for _, w := range j.claimed {
		if w != nil {
			w.claims--
		}
	}
	j.claim, j.claimed = 0, [nWindows]*window{}
	j.q.unparkKey(j.g.ks) // the slot it held for itself may be free
}

// dropClaim drops j's claim because its attempt ended without its side effect, and appends to
// wake the next job the freed slot lets start.
func (a *Admission) dropClaim(j *job, now time.Time, wake []types.NamespacedName) []types.NamespacedName {
	if j.claim == 0 {
		return wake
	}
	a.unclaim(j)
	return j.q.next(now, 1, wake)
}

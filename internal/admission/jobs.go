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
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// observeLocked applies an observation to admission's record of the job: it creates the record,
// moves it to another queue or handler, keeps a reservation the cache does not show yet, and sets
// its state and starts. It appends to wake the jobs that a freed slot lets start.
func (a *Admission) observeLocked(v *JobView, now time.Time, wake []types.NamespacedName) []types.NamespacedName {
	j := a.jobs[v.Key]
	if j != nil && !j.created.IsZero() && !v.CreationTime.IsZero() && !j.created.Equal(v.CreationTime) {
		// Another object under the same name: the one admission knew was deleted.
		wake = a.forgetLocked(j, now, wake)
		j = nil
	}
	if j == nil {
		j = &job{key: v.Key, state: Idle, oidx: -1, ridx: -1, attempts: v.Attempts}
		a.jobs[v.Key] = j
		a.attach(j, a.queueLocked(v.Queue), v.Handler)
	} else {
		j.wokenAt = time.Time{} // it is being reconciled
		if v.Attempts < j.attempts {
			return wake // a stale read: status.attempts never decreases
		}
		if j.reserved {
			if v.Attempts <= j.attempts && now.Sub(j.resAt) < reservationTimeout {
				return wake // the reserved attempt is not in the cache yet
			}
			// The reserved attempt is recorded (or never will be): the observed state rules.
			a.dropReservation(j)
		}
		if j.q.key != v.Queue || j.h.name != v.Handler {
			wake = a.detach(j, now, false, wake)
			a.attach(j, a.queueLocked(v.Queue), v.Handler)
		}
	}
	j.attempts = v.Attempts
	if j.priority != v.Priority || !j.ready.Equal(v.ReadyTime) || !j.created.Equal(v.CreationTime) {
		j.priority, j.ready, j.created = v.Priority, v.ReadyTime, v.CreationTime
		if j.state == Waiting {
			fix(j)
		}
	}
	wake = a.setState(j, v.State, now, wake)
	a.setStarts(j, v.AttemptStarts, now)
	return wake
}

func (a *Admission) forgetLocked(j *job, now time.Time, wake []types.NamespacedName) []types.NamespacedName {
	wake = a.detach(j, now, true, wake)
	delete(a.jobs, j.key)
	return wake
}

// attach makes j a member of q under handler name; j must be Idle without starts.
func (a *Admission) attach(j *job, q *queue, name string) {
	j.q = q
	j.h = q.handlerFor(name)
	j.h.members++
	q.members[j.key] = j
}

// detach takes j out of its queue: it leaves the heaps, frees its slot, and its starts leave the
// windows (forgotten: they stay there, owned by no job, until they expire).
func (a *Admission) detach(j *job, now time.Time, forgotten bool, wake []types.NamespacedName) []types.NamespacedName {
	if j.reserved {
		if forgotten {
			disown(&j.res)
			j.reserved = false
			j.res = start{}
		} else {
			a.dropReservation(j)
		}
	}
	wake = a.setState(j, Idle, now, wake)
	for i := range j.starts {
		if forgotten {
			disown(&j.starts[i])
		} else {
			a.unrecord(j, &j.starts[i])
		}
	}
	j.starts = nil
	q, h := j.q, j.h
	h.members--
	delete(q.members, j.key)
	q.dropIfUnused(h)
	return wake
}

func disown(s *start) {
	if s.qe != nil {
		s.qe.owned = false
	}
	if s.he != nil {
		s.he.owned = false
	}
}

func (a *Admission) dropReservation(j *job) {
	a.unrecord(j, &j.res)
	j.reserved = false
	j.res = start{}
}

// setState moves j to state s, keeping the heaps and the running counts, and appends to wake the
// next job(s) that may start when a slot was freed or a Waiting job left (it may have been the
// one woken for a free slot).
func (a *Admission) setState(j *job, s State, now time.Time, wake []types.NamespacedName) []types.NamespacedName {
	old := j.state
	if old == s {
		return wake
	}
	q, h := j.q, j.h
	switch old {
	case Waiting:
		q.removeWaiting(j)
	case Running:
		q.running--
		h.running--
	}
	j.state = s
	switch s {
	case Waiting:
		q.pushWaiting(j)
	case Running:
		q.running++
		h.running++
	}
	if old == Running || (old == Waiting && s == Idle) {
		wake = q.next(now, 1, wake)
	}
	return wake
}

// fix restores the heaps after j's order keys changed.
func fix(j *job) {
	heapFix(&j.h.order, j.oidx)
	heapFix(&j.q.ready, j.ridx)
}

// setStarts replaces j's recorded starts with ts (sorted, distinct: the same start of the same
// job counts once). Status is the truth: a start it no longer lists leaves the windows.
func (a *Admission) setStarts(j *job, ts []time.Time, now time.Time) {
	if sameStarts(j.starts, ts) {
		return
	}
	norm := slices.Clone(ts)
	// Status stores times to the whole second. A stored start that is the truncation of an exact
	// start admission recorded keeps the exact one: a start at 10.9 s must not leave a rate
	// window 0.9 s early.
	for i, t := range norm {
		for _, o := range j.starts {
			if o.t.After(t) && o.t.Truncate(time.Second).Equal(t) {
				norm[i] = o.t
				break
			}
		}
	}
	slices.SortFunc(norm, time.Time.Compare)
	norm = slices.CompactFunc(norm, time.Time.Equal)
	if sameStarts(j.starts, norm) {
		return
	}
	for i := range j.starts {
		a.unrecord(j, &j.starts[i])
	}
	j.starts = make([]start, len(norm))
	for i, t := range norm {
		j.starts[i] = a.record(j, t, now)
	}
}

func sameStarts(s []start, ts []time.Time) bool {
	if len(s) != len(ts) {
		return false
	}
	for i := range s {
		if !s[i].t.Equal(ts[i]) {
			return false
		}
	}
	return true
}

// record puts a start of j in the windows of its queue and handler.
func (a *Admission) record(j *job, t, now time.Time) start {
	s := start{t: t}
	if w := j.q.window; w != nil {
		s.qe = w.add(t, now, true)
	}
	if w := j.h.window; w != nil {
		s.he = w.add(t, now, true)
	}
	return s
}

func (a *Admission) unrecord(j *job, s *start) {
	if s.qe != nil {
		s.qe.w.remove(s.qe)
		s.qe = nil
	}
	if s.he != nil {
		s.he.w.remove(s.he)
		s.he = nil
	}
}

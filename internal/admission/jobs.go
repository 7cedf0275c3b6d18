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
		a.attach(j, a.queueLocked(v.Queue), v.Handler, v.SpecKey)
	} else {
		j.wokenAt = time.Time{} // it is being reconciled
		if v.Attempts < j.attempts {
			return wake // a stale read: status.attempts never decreases
		}
		if j.reserved {
			if v.Attempts <= j.attempts && now.Sub(j.resAt) < reservationTimeout {
				return wake // the reserved attempt is not in the cache yet
			}
			// The reserved attempt is recorded (or never will be): the observed state rules. Its
			// start stays: its side effect may have been made.
			a.dropReservation(j)
		}
		if j.q.key != v.Queue || j.h.name != v.Handler || j.g.ks.name != v.SpecKey {
			wake = a.detach(j, now, false, wake)
			a.attach(j, a.queueLocked(v.Queue), v.Handler, v.SpecKey)
			for _, s := range j.starts {
				a.record(j, s, now)
			}
		}
	}
	j.attempts = v.Attempts
	if j.priority != v.Priority || !j.ready.Equal(v.ReadyTime) || !j.created.Equal(v.CreationTime) {
		j.priority, j.ready, j.created = v.Priority, v.ReadyTime, v.CreationTime
		if j.state == Waiting {
			fix(j)
		}
	}
	if j.claim != 0 && (v.State != Running || v.Attempts != j.claim) {
		// The attempt that waited for a slot ended without its side effect.
		wake = a.dropClaim(j, now, wake)
	}
	j.pauseKey(v.PauseUntil)
	j.q.sweep(now)
	wake = a.setState(j, v.State, now, wake)
	a.setStarts(j, v.AttemptStarts, now)
	return wake
}

func (a *Admission) forgetLocked(j *job, now time.Time, wake []types.NamespacedName) []types.NamespacedName {
	wake = a.detach(j, now, true, wake)
	delete(a.jobs, j.key)
	return wake
}

// attach makes j a member of q under handler name and key; j must be Idle and in no window.
func (a *Admission) attach(j *job, q *queue, name, key string) {
	j.q = q
	j.h = q.handlerFor(name)
	j.g = q.groupFor(j.h, key)
	j.h.members++
	j.g.members++
	q.members[j.key] = j
}

// detach takes j out of its queue: it leaves the heaps, frees its slot and its claim, and its
// starts leave the windows (forgotten: they stay there, owned by no job, until they expire; a
// job that moves takes them to its new windows).
func (a *Admission) detach(j *job, now time.Time, forgotten bool, wake []types.NamespacedName) []types.NamespacedName {
	if j.reserved {
		a.dropReservation(j)
	}
	wake = a.dropClaim(j, now, wake)
	wake = a.setState(j, Idle, now, wake)
	for _, s := range j.starts {
		if forgotten {
			disown(s)
		} else {
			a.unrecord(s)
		}
	}
	if forgotten {
		j.starts = nil
	}
	q, h, g := j.q, j.h, j.g
	h.members--
	g.members--
	delete(q.members, j.key)
	q.dropGroupIfUnused(g, now)
	q.dropIfUnused(h)
	return wake
}

func disown(s *start) {
	for _, e := range s.e {
		if e != nil {
			e.owned = false
		}
	}
}

// dropReservation ends the reservation (its start stays; Release removes it).
func (a *Admission) dropReservation(j *job) {
	j.reserved = false
	j.res = nil
}

// setState moves j to state s, keeping the heaps and the running counts, and appends to wake the
// next job(s) that may start when a slot was freed or a Waiting job left (it may have been the
// one woken for a free slot).
func (a *Admission) setState(j *job, s State, now time.Time, wake []types.NamespacedName) []types.NamespacedName {
	old := j.state
	if old == s {
		return wake
	}
	q, h, g := j.q, j.h, j.g
	switch old {
	case Waiting:
		q.removeWaiting(j)
	case Running:
		q.running--
		h.running--
		g.running--
		g.ks.running--
		q.unparkKey(g.ks)
	}
	j.state = s
	switch s {
	case Waiting:
		q.pushWaiting(j)
	case Running:
		q.running++
		h.running++
		g.running++
		g.ks.running++
	}
	if old == Running || (old == Waiting && s == Idle) {
		wake = q.next(now, 1, wake)
	}
	return wake
}

// fix restores the heaps after j's order keys changed.
func fix(j *job) {
	heapFix(&j.g.jobs, j.oidx)
	heapFix(&j.h.groups, j.g.gidx)
	heapFix(&j.q.ready, j.ridx)
}

// setStarts adds the recorded attempts admission has no start of: started by another manager,
// before a restart. Each counts from the latest instant its side effects can have been made by
// (AttemptStart.By), at most now. Admission's own starts are exact and stay; a start status no
// longer lists (its record was trimmed) stays too, until it leaves the windows.
func (a *Admission) setStarts(j *job, recs []AttemptStart, now time.Time) {
	for _, r := range recs {
		if r.Attempt <= j.seen || j.hasStart(r.Attempt) {
			continue
		}
		t := now
		if !r.By.IsZero() && r.By.Before(now) {
			t = r.By
		}
		a.addStart(j, r.Attempt, recorded, t, now)
	}
	j.seen = max(j.seen, j.attempts)
}

func (j *job) hasStart(n int32) bool {
	for _, s := range j.starts {
		if s.attempt == n {
			return true
		}
	}
	return false
}

// addStart records a start of attempt n at t in j's windows and in j.starts, dropping the
// oldest start beyond maxStartsPerJob.
func (a *Admission) addStart(j *job, n int32, k startKind, t, now time.Time) *start {
	s := &start{attempt: n, kind: k, t: t}
	a.record(j, s, now)
	j.q.turn(j, t)
	j.starts = append(j.starts, s)
	if len(j.starts) > maxStartsPerJob {
		old := j.starts[0]
		if old != j.res {
			a.unrecord(old)
			j.starts = slices.Delete(j.starts, 0, 1)
		}
	}
	return s
}

// removeStart takes s out of j's windows and starts.
func (a *Admission) removeStart(j *job, s *start) {
	if s == nil {
		return
	}
	a.unrecord(s)
	if i := slices.Index(j.starts, s); i >= 0 {
		j.starts = slices.Delete(j.starts, i, i+1)
	}
	j.q.unparkKey(j.g.ks) // a slot of its key's windows may be free
}

// record puts start s of j in the windows of its queue, handler and key (where it is not yet).
func (a *Admission) record(j *job, s *start, now time.Time) {
	for i, w := range j.windows() {
		if w != nil && s.e[i] == nil {
			s.e[i] = w.add(s.t, now, true)
		}
	}
}

// unrecord takes s out of the windows that hold it.
func (a *Admission) unrecord(s *start) {
	for i, e := range s.e {
		if e != nil {
			e.w.remove(e)
			s.e[i] = nil
		}
	}
}

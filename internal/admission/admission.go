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

// Package admission decides which ready job of a queue may start now.
//
// It is a cache of stored state: per queue, the Waiting jobs in one heap per handler and key
// (spec.key), the keys with Waiting jobs in one heap per handler (their first jobs in admission
// order: priority, then key turn, then ready time, creation time, name; see Before), the number
// of Running jobs per queue, handler and key, and the attempt start times that rate windows
// (the queue's, a handler's, a key's in the queue and in a handler) count, all rebuilt from the informer cache the first time a queue is seen and
// kept current by the reconcilers' observations. An admission is a reservation: it counts as a
// Running attempt, with its start in the rate windows, until the cache shows the job's status
// with that attempt (an expectation), or until Release undoes it because the status write that
// would have committed it failed. So cache lag never lets a limit be exceeded.
//
// Rate limits hold at the side effect (charge.go): an executor charges the attempt's webhook call
// or pod create right before making it, and the start then counts from that instant, exact and
// in memory; a side effect whose slot is no longer free waits (and claims the next one). After a
// restart, starts are rebuilt from what status and the cache prove of when side effects were
// made by, never from a recorded time that could be earlier.
//
// Per-key limits (keys.go) apply to each distinct key separately, inside the queue's and the
// handler's limits; jobs without a key form one key-less group that only those bound. A key that a
// key limit holds leaves its handler's heap ("parked") until what holds it can have changed: one
// of its Running jobs ends, a claim or reservation of its windows is dropped, its rate window's
// next slot or its pause (keyLimits.pauseOnRetryAfter, rebuilt from the jobs whose attempt ended
// with a Retry-After) has come, or the limits change.
//
// Every per-event operation costs O(log n) in the queue's length and its number of keys (plus the
// number of the queue's handlers, which the API bounds); only the rebuild and a change of a rate period read all jobs of
// the queue. Admission is safe for concurrent use; notify is never called with its lock held.
package admission

import (
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// QueueKey names a queue.
type QueueKey struct{ Namespace, Name string }

// String returns namespace/name.
func (q QueueKey) String() string { return q.Namespace + "/" + q.Name }

// RateLimit allows Limit attempt starts in any sliding window of Period.
type RateLimit struct {
	Limit  int32
	Period time.Duration
}

// KeyLimits apply to each distinct key (spec.key) separately; never to the key-less group.
type KeyLimits struct {
	Concurrency int32 // 0 = none
	Rate        *RateLimit
	// PauseOnRetryAfter: a job's PauseUntil holds every job of its key until then.
	PauseOnRetryAfter bool
}

// HandlerLimits are the limits of one handler, inside its queue's.
type HandlerLimits struct {
	Concurrency int32 // 0 = none
	Rate        *RateLimit
	// Keys apply to each key among the handler's jobs, inside the queue's Keys.
	Keys KeyLimits
}

// Limits of one queue. Handler limits apply inside the queue's.
type Limits struct {
	Paused      bool
	Concurrency int32 // 0 = none
	Rate        *RateLimit
	// Keys apply to each key among the queue's jobs.
	Keys KeyLimits
	// Handlers by handler key: a handler's type, "*", or "" for inline targets and the
	// defaultHandler. A key without an entry has no limits of its own.
	Handlers map[string]HandlerLimits
}

// State is a job's state as admission sees it.
type State int

// States.
const (
	// Waiting: ready to run and not running; it competes for admission.
	Waiting State = iota
	// Running: an attempt is running; it holds a concurrency slot.
	Running
	// Idle: anything else (delayed, blocked, suspended, finished).
	Idle
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case Waiting:
		return "Waiting"
	case Running:
		return "Running"
	case Idle:
		return "Idle"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// JobView is what admission needs of a job, read from the cache.
type JobView struct {
	Key     types.NamespacedName
	Queue   QueueKey // same namespace as Key
	Handler string
	// SpecKey is the job's spec.key ("": the key-less group).
	SpecKey  string
	Priority int32
	// ReadyTime is when the job became ready (status.readyTime; else its creation time).
	ReadyTime    time.Time
	CreationTime time.Time
	State        State
	Attempts     int32 // status.attempts
	// AttemptStarts are the recorded attempts (status.attemptHistory). The rate windows count
	// those admission did not start itself (another manager did, before a restart).
	AttemptStarts []AttemptStart
	// PauseUntil is, for a job whose last attempt ended with a Retry-After (a 429 or 503 answer,
	// a worker's RetryAfter) or a 429/503 without one, the time its next attempt waits for
	// (status.nextAttemptTime): under keyLimits.pauseOnRetryAfter every job of its key waits until
	// then. Zero otherwise.
	PauseUntil time.Time
}

// AttemptStart is a recorded attempt, as the rate windows count it after a restart.
type AttemptStart struct {
	Attempt int32
	// By is the latest instant the attempt's side effects (webhook calls, pod creates) can have
	// been made, as status and the cache prove it: its finish, the next attempt's start or its
	// pod's creation, plus the second those whole-second times may have been truncated by. Zero
	// when nothing bounds it (an attempt still running): then the instant admission learns of it,
	// which is after any side effect of a manager that stopped. Never its recorded startTime: the
	// side effect comes after the record, and a start counted from there would leave the window
	// early.
	By time.Time
}

// Stats of a queue, for its status.
type Stats struct {
	Running                int32 // Running and reserved
	Waiting                int32
	StartedInWindow        int32 // starts inside the queue's rate window; 0 without a rate limit
	OldestWaitingReadyTime time.Time
	// ActiveKeys is the number of keys (not the key-less group) with a Waiting or Running job.
	ActiveKeys int32
	// BusiestKeys are up to MaxBusiestKeys keys with the most Waiting jobs, most first, then by
	// key; keys with none are not listed.
	BusiestKeys []KeyCount
}

// KeyCount is one key's jobs, for Stats.
type KeyCount struct {
	Key              string
	Waiting, Running int32
}

// MaxBusiestKeys bounds Stats.BusiestKeys.
const MaxBusiestKeys = 10

const (
	// notifyBurst bounds how many jobs one change of limits wakes at once; each admission wakes
	// the next while room remains.
	notifyBurst = 256
	// reservationTimeout is how long a reservation that the cache never shows (its committing
	// write was lost without Release being called) holds its slot against stale observations.
	reservationTimeout = 5 * time.Minute
	// queuedWakeAgain is how long a job woken because it comes first is not woken again for that
	// reason, unless it was reconciled meanwhile.
	queuedWakeAgain = 10 * time.Second
)

// Admission decides which ready jobs of each queue may start now.
type Admission struct {
	clk    clock.PassiveClock
	notify func(types.NamespacedName)

	mu     sync.Mutex
	queues map[QueueKey]*queue
	jobs   map[types.NamespacedName]*job
	// builds counts rebuilds in flight; forgotten holds the keys forgotten meanwhile, so that a
	// rebuild from an older list does not bring them back.
	builds    int
	forgotten map[types.NamespacedName]struct{}
	// cmps counts comparisons of jobs; tests use it to show that per-event work does not grow
	// with the queue's length.
	cmps uint64
}

// New returns an admission component. notify is called, never with admission's lock held, with
// the key of a job that should be reconciled because it may now be admitted.
func New(clk clock.PassiveClock, notify func(types.NamespacedName)) *Admission {
	return &Admission{
		clk:    clk,
		notify: notify,
		queues: map[QueueKey]*queue{},
		jobs:   map[types.NamespacedName]*job{},
	}
}

// now reads the clock, without a monotonic reading, so that all times compare by wall clock.
func (a *Admission) now() time.Time { return a.clk.Now().Round(0) }

// send calls notify for each distinct key; call it without the lock.
func (a *Admission) send(wake []types.NamespacedName) {
	if a.notify == nil || len(wake) == 0 {
		return
	}
	if len(wake) == 1 {
		a.notify(wake[0])
		return
	}
	seen := make(map[types.NamespacedName]struct{}, len(wake))
	for _, k := range wake {
		if _, ok := seen[k]; ok {
			continue
		}
		seen[k] = struct{}{}
		a.notify(k)
	}
}

// queueLocked returns the state of queue k, creating it (not yet built, without limits).
func (a *Admission) queueLocked(k QueueKey) *queue {
	q := a.queues[k]
	if q == nil {
		q = newQueue(k, &a.cmps)
		a.queues[k] = q
	}
	return q
}

// EnsureQueue rebuilds the queue's state from list() the first time the queue is seen; list
// returns every job of the queue from the cache. Later calls do nothing, except that a call
// during the first one's rebuild waits for it to end. list runs without admission's lock (it must
// not call EnsureQueue for the same queue). Jobs observed or forgotten while list runs keep what
// those calls recorded: they are fresher than the list.
func (a *Admission) EnsureQueue(k QueueKey, list func() []JobView) {
	for {
		a.mu.Lock()
		q := a.queueLocked(k)
		if q.built {
			a.mu.Unlock()
			return
		}
		if ch := q.building; ch != nil {
			a.mu.Unlock()
			<-ch
			continue // built, or the builder's list panicked: then build here
		}
		ch := make(chan struct{})
		q.building = ch
		a.builds++
		if a.forgotten == nil {
			a.forgotten = map[types.NamespacedName]struct{}{}
		}
		a.mu.Unlock()
		a.build(q, ch, list)
		return
	}
}

func (a *Admission) build(q *queue, ch chan struct{}, list func() []JobView) {
	var views []JobView
	listed := false
	defer func() {
		a.mu.Lock()
		if listed {
			now := a.now()
			var discard []types.NamespacedName // no slot is freed by a rebuild
			for i := range views {
				v := &views[i]
				if _, ok := a.jobs[v.Key]; ok {
					continue
				}
				if _, ok := a.forgotten[v.Key]; ok {
					continue
				}
				discard = a.observeLocked(v, now, discard[:0])
			}
			q.built = true
		}
		q.building = nil
		a.builds--
		if a.builds == 0 {
			a.forgotten = nil
		}
		a.mu.Unlock()
		close(ch)
	}()
	views = list()
	listed = true
}

// Observe records a job's current state (see the package documentation for the order and the
// expectations). A job moves when its Queue or Handler differ from what admission has.
func (a *Admission) Observe(v JobView) {
	a.mu.Lock()
	wake := a.observeLocked(&v, a.now(), nil)
	a.mu.Unlock()
	a.send(wake)
}

// Forget removes a deleted job, freeing its slot if it held one. Its attempt starts still count
// in the rate windows until they leave them: deleting a finished job must not make room for
// more starts.
func (a *Admission) Forget(key types.NamespacedName) {
	var wake []types.NamespacedName
	a.mu.Lock()
	if a.forgotten != nil {
		a.forgotten[key] = struct{}{}
	}
	if j := a.jobs[key]; j != nil {
		wake = a.forgetLocked(j, a.now(), wake)
	}
	a.mu.Unlock()
	a.send(wake)
}

// Release undoes TryAdmit's reservation after the status write that would have committed it
// failed: the slot and the window start are freed and the job is Waiting again.
func (a *Admission) Release(key types.NamespacedName) {
	var wake []types.NamespacedName
	a.mu.Lock()
	if j := a.jobs[key]; j != nil && j.reserved {
		a.removeStart(j, j.res) // the status write failed: nothing was started
		a.dropReservation(j)
		wake = a.setState(j, Waiting, a.now(), wake)
	}
	a.mu.Unlock()
	a.send(wake)
}

// Stats returns the queue's counts for its status.
func (a *Admission) Stats(k QueueKey) Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	q := a.queues[k]
	if q == nil {
		return Stats{}
	}
	s := Stats{Running: q.running, Waiting: int32(q.ready.Len())}
	if q.window != nil {
		s.StartedInWindow = int32(q.window.count(a.now()))
	}
	if q.ready.Len() > 0 {
		s.OldestWaitingReadyTime = q.ready.items[0].ready
	}
	s.ActiveKeys, s.BusiestKeys = q.keyStats()
	return s
}

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
// It is a cache of stored state: per queue, the Waiting jobs in one heap per handler (priority,
// then ready time, creation time, name), the number of Running jobs, and the attempt start times
// that rate windows count, all rebuilt from the informer cache the first time a queue is seen and
// kept current by the reconcilers' observations. An admission is a reservation: it counts as a
// Running attempt, with its start in the rate windows, until the cache shows the job's status
// with that attempt (an expectation), or until Release undoes it because the status write that
// would have committed it failed. So cache lag never lets a limit be exceeded.
//
// Every per-event operation costs O(log n) in the queue's length (plus the number of the queue's
// handlers, which the API bounds); only the rebuild and a change of a rate period read all jobs of
// the queue. Admission is safe for concurrent use; notify is never called with its lock held.
package admission

import (
	"fmt"
	"maps"
	"slices"
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

// HandlerLimits are the limits of one handler, inside its queue's.
type HandlerLimits struct {
	Concurrency int32 // 0 = none
	Rate        *RateLimit
}

// Limits of one queue. Handler limits apply inside the queue's.
type Limits struct {
	Paused      bool
	Concurrency int32 // 0 = none
	Rate        *RateLimit
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
	Key      types.NamespacedName
	Queue    QueueKey // same namespace as Key
	Handler  string
	Priority int32
	// ReadyTime is when the job became ready (status.readyTime; else its creation time).
	ReadyTime    time.Time
	CreationTime time.Time
	State        State
	Attempts     int32 // status.attempts
	// AttemptStarts are the start times of the recorded attempts
	// (status.attemptHistory[].startTime); the rate windows count them.
	AttemptStarts []time.Time
}

// Reason says why a job was not admitted.
type Reason string

// Reasons.
const (
	Admitted          Reason = ""
	ReasonPaused      Reason = "Paused"
	ReasonConcurrency Reason = "ConcurrencyLimited"
	ReasonRate        Reason = "RateLimited"
	// ReasonQueued: capacity exists but other jobs come first.
	ReasonQueued Reason = "Queued"
	// ReasonNotWaiting: TryAdmit on a job that is not Waiting, or unknown.
	ReasonNotWaiting Reason = "NotWaiting"
)

// Decision is TryAdmit's answer.
type Decision struct {
	Admitted bool
	Reason   Reason
	// RetryAt is, when RateLimited, the exact instant a slot of the limiting window opens; zero
	// otherwise.
	RetryAt time.Time
	// Message is for people.
	Message string
}

// Stats of a queue, for its status.
type Stats struct {
	Running                int32 // Running and reserved
	Waiting                int32
	StartedInWindow        int32 // starts inside the queue's rate window; 0 without a rate limit
	OldestWaitingReadyTime time.Time
}

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
		for i := range j.starts {
			re(j, &j.starts[i])
		}
		if j.reserved {
			re(j, &j.res)
		}
	}
}

// Observe records a job's current state (see the package documentation for the order and the
// expectations). A job moves when its Queue or Handler differ from what admission has.
func (a *Admission) Observe(v JobView) {
	a.mu.Lock()
	wake := a.observeLocked(&v, a.now(), nil)
	a.mu.Unlock()
	a.send(wake)
}

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

func (a *Admission) forgetLocked(j *job, now time.Time, wake []types.NamespacedName) []types.NamespacedName {
	wake = a.detach(j, now, true, wake)
	delete(a.jobs, j.key)
	return wake
}

// TryAdmit decides whether the Waiting job may start now, and if so reserves its start.
func (a *Admission) TryAdmit(key types.NamespacedName) Decision {
	a.mu.Lock()
	d, wake := a.tryAdmitLocked(key, a.now())
	a.mu.Unlock()
	a.send(wake)
	return d
}

func (a *Admission) tryAdmitLocked(key types.NamespacedName, now time.Time) (Decision, []types.NamespacedName) {
	j := a.jobs[key]
	if j != nil {
		j.wokenAt = time.Time{}
	}
	switch {
	case j == nil:
		return Decision{Reason: ReasonNotWaiting, Message: "job is not known to admission"}, nil
	case j.reserved:
		return Decision{Reason: ReasonNotWaiting, Message: fmt.Sprintf("attempt %d is already admitted", j.attempts+1)}, nil
	case j.state != Waiting:
		return Decision{Reason: ReasonNotWaiting, Message: fmt.Sprintf("job is %s, not waiting for admission", j.state)}, nil
	}
	q, h := j.q, j.h
	if d, refused := q.refusal(now); refused {
		return d, nil
	}
	if d, refused := h.refusal(now); refused {
		return d, nil
	}
	if first := q.best(now); first != j {
		// first is not nil: j's handler has room. Make sure the job that comes first runs, waking
		// it once per reconcile of it (every job behind it would wake it again), or again after
		// queuedWakeAgain in case that wake was lost.
		var wake []types.NamespacedName
		if first.wokenAt.IsZero() || now.Sub(first.wokenAt) >= queuedWakeAgain {
			first.wokenAt = now
			wake = []types.NamespacedName{first.key}
		}
		return Decision{Reason: ReasonQueued, Message: "other jobs of the queue come first"}, wake
	}
	wake := a.setState(j, Running, now, nil)
	j.reserved = true
	j.resAt = now
	j.res = a.record(j, now, now)
	wake = q.next(now, 1, wake)
	return Decision{Admitted: true}, wake
}

func (q *queue) refusal(now time.Time) (Decision, bool) {
	l := &q.limits
	if l.Paused {
		return Decision{Reason: ReasonPaused, Message: fmt.Sprintf("queue %s is paused", q.key.Name)}, true
	}
	if l.Concurrency > 0 && q.running >= l.Concurrency {
		return Decision{Reason: ReasonConcurrency, Message: fmt.Sprintf("queue concurrency %d reached (%d running)", l.Concurrency, q.running)}, true
	}
	return rateRefusal("queue", l.Rate, q.window, now)
}

func (h *handler) refusal(now time.Time) (Decision, bool) {
	l := &h.limits
	if l.Concurrency > 0 && h.running >= l.Concurrency {
		return Decision{Reason: ReasonConcurrency, Message: fmt.Sprintf("%s concurrency %d reached (%d running)", h.label(), l.Concurrency, h.running)}, true
	}
	return rateRefusal(h.label(), l.Rate, h.window, now)
}

func (h *handler) label() string {
	if h.name == "" {
		return "default handler"
	}
	return "handler " + h.name
}

func rateRefusal(what string, r *RateLimit, w *window, now time.Time) (Decision, bool) {
	if w == nil || !validRate(r) || w.count(now) < int(r.Limit) {
		return Decision{}, false
	}
	at := w.nextSlot(int(r.Limit))
	return Decision{
		Reason:  ReasonRate,
		RetryAt: at,
		Message: fmt.Sprintf("%s rate %d/%s reached; next slot at %s", what, r.Limit, periodString(r.Period), at.UTC().Format(time.RFC3339)),
	}, true
}

func periodString(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return d.String()
}

// Release undoes TryAdmit's reservation after the status write that would have committed it
// failed: the slot and the window start are freed and the job is Waiting again.
func (a *Admission) Release(key types.NamespacedName) {
	var wake []types.NamespacedName
	a.mu.Lock()
	if j := a.jobs[key]; j != nil && j.reserved {
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
	return s
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

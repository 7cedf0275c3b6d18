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
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// Reason says why a job was not admitted.
type Reason string

// Reasons.
const (
	// Admitted: the job may start.
	Admitted Reason = ""
	// ReasonPaused, ReasonConcurrency and ReasonRate are the limits a refusal names; they are the
	// API's reasons of the Blocked condition the job then shows.
	ReasonPaused      Reason = kickqv1alpha1.ReasonPaused
	ReasonConcurrency Reason = kickqv1alpha1.ReasonConcurrencyLimited
	ReasonRate        Reason = kickqv1alpha1.ReasonRateLimited
	// ReasonQueued: capacity exists but other jobs come first. Admission's own, as is
	// ReasonNotWaiting: a job refused for either is not Blocked.
	ReasonQueued Reason = "Queued"
	// ReasonNotWaiting: TryAdmit on a job that is not Waiting, or unknown.
	ReasonNotWaiting Reason = "NotWaiting"
)

// Decision is TryAdmit's answer.
type Decision struct {
	Admitted bool
	Reason   Reason
	// RetryAt is, when RateLimited, the exact instant a slot of the limiting window opens; zero
	// otherwise, and when the window's slots are claimed by admitted attempts still to make their
	// side effect (the job is woken when one does).
	RetryAt time.Time
	// At is, when Admitted, the instant of the reservation: the attempt's start as status records
	// it. The rate windows count the start from it until its executor charges the side effect
	// (Charge), never earlier.
	At time.Time
	// Message is for people.
	Message string
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
	if q.limits.Paused {
		return q.refusal(now)
	}
	// A key limit is the most specific answer: it holds the job whatever the queue's room.
	if d, refused := q.keyRefusal(j.g, now); refused {
		return d, nil
	}
	if d, refused := q.limitRefusal(now); refused {
		return d, nil
	}
	if d, refused := h.refusal(now); refused {
		return d, nil
	}
	q.unpark(j.g) // no key limit holds it (a missed unpark must not strand it)
	first, wake := q.best(now, nil)
	if first != j {
		// first is not nil: j's handler and key have room. Make sure the job that comes first
		// runs, waking it once per reconcile of it (every job behind it would wake it again), or
		// again after queuedWakeAgain in case that wake was lost.
		wake = wakeOnce(first, now, wake)
		return Decision{Reason: ReasonQueued, Message: "other jobs of the queue come first"}, wake
	}
	wake = a.setState(j, Running, now, wake)
	j.reserved = true
	j.resAt = now
	j.res = a.addStart(j, j.attempts+1, reserved, now, now)
	wake = q.next(now, 1, wake)
	return Decision{Admitted: true, At: now}, wake
}

func (q *queue) refusal(now time.Time) (Decision, []types.NamespacedName) {
	d, _ := q.limitRefusal(now)
	return d, nil
}

func (q *queue) limitRefusal(now time.Time) (Decision, bool) {
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
	if w == nil || !validRate(r) || w.load(now) < int(r.Limit) {
		return Decision{}, false
	}
	at := w.nextSlot(int(r.Limit), w.claims)
	msg := fmt.Sprintf("%s rate %d/%s reached; next slot at %s", what, r.Limit, periodString(r.Period), at.UTC().Format(time.RFC3339))
	if at.IsZero() {
		msg = fmt.Sprintf("%s rate %d/%s reached; the next slots go to %d admitted attempts waiting to start", what, r.Limit, periodString(r.Period), w.claims)
	}
	return Decision{Reason: ReasonRate, RetryAt: at, Message: msg}, true
}

func periodString(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return d.String()
}

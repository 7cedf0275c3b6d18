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

package executor

import (
	"time"
)

// Rate limits at the call. Admission reserved the attempt's start when it admitted it, but the
// pool may make the call later (it waits for a worker and its namespace's turn). So a worker
// charges the call to its rate windows right before sending it (WebhookOptions.Limiter): the call
// counts from then, and from when its request was written. A call whose window has no free slot
// then is not sent: it leaves its worker and queues again, first in its queue, when the slot
// opens; meanwhile it holds that slot against new admissions. Completion callbacks are not
// attempts and are not limited.

// chargesLimits reports whether c is an attempt call charged to rate limits.
func (w *Webhooks) chargesLimits(c *call) bool {
	return w.opts.Limiter != nil && c.key.attempt != notifyAttempt
}

// charge asks the limiter, right before c is sent, whether it may be sent now. It answers false
// with the instant its slot opens, or false with a zero time when c was stopped meanwhile.
func (w *Webhooks) charge(c *call) (bool, time.Time) {
	if !w.chargesLimits(c) {
		return true, time.Time{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.current(c) {
		return false, time.Time{}
	}
	return w.opts.Limiter.Charge(c.job, c.key.attempt)
}

// holdUntil takes c off its worker until its slot opens at t, then queues it again.
func (w *Webhooks) holdUntil(c *call, t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.current(c) {
		return
	}
	c.state, c.cancel = held, nil
	c.hold = w.opts.Clock.AfterFunc(max(t.Sub(w.opts.Clock.Now()), 0), func() { w.unholdCall(c) })
}

// unholdCall queues a held call again, first in its queue, if it was not stopped meanwhile.
func (w *Webhooks) unholdCall(c *call) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.current(c) || c.state != held {
		return
	}
	c.hold, c.state = nil, queued
	w.fair.requeue(c)
	w.ready.Signal()
}

// unhold stops a held call's timer: it is stopped or forgotten. Called with w.mu held.
func unhold(c *call) {
	if c.hold != nil {
		c.hold.Stop()
		c.hold = nil
	}
}

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

package metrics

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// Recorder turns the job transitions the manager recorded into metrics and queue statistics.
// One manager has one; it is safe for concurrent use.
type Recorder struct {
	Limiter *Limiter
	Stats   *Stats

	mu sync.Mutex
	// starts holds the exact start of running attempts: status keeps whole seconds, and a run
	// time measured from the second would be up to a second long. Bounded by maxStarts.
	starts map[startKey]time.Time
}

type startKey struct {
	uid     types.UID
	attempt int32
}

// maxStarts bounds the exact start times kept; past it, run times count from status's second.
const maxStarts = 100000

// NewRecorder returns a Recorder with these label caps (<= 0: the defaults).
func NewRecorder(maxQueues, maxTypes int) *Recorder {
	return &Recorder{Limiter: NewLimiter(maxQueues, maxTypes), Stats: NewStats(), starts: map[startKey]time.Time{}}
}

// JobWritten records what a status write of job changed, once that write succeeded: attempts
// that started (wait, lateness) and ended (outcome, run time), the job finishing, and the job
// becoming held by a limit. before is the status the write replaced, after the one written (with
// its exact in-memory times); due is when the attempt that started was due (delaySeconds,
// notBeforeTime, backoff, a cron firing), zero when it had no due time.
func (r *Recorder) JobWritten(job *kickqv1alpha1.QueueJob, before, after *kickqv1alpha1.QueueJobStatus, due time.Time) {
	if r == nil {
		return
	}
	ns, q := r.Limiter.Queue(job.Namespace, job.Spec.QueueName)
	typ := r.Limiter.Type(job.Spec.Type)
	key := StatsKey{Namespace: job.Namespace, Queue: job.Spec.QueueName}
	for i := range after.AttemptHistory {
		a := &after.AttemptHistory[i]
		b := attemptByNumber(before, a.Number)
		sk := startKey{job.UID, a.Number}
		if a.StartTime != nil && (b == nil || b.StartTime == nil) {
			r.attemptStarted(key, ns, q, typ, after.ReadyTime, a.StartTime.Time, due)
			r.rememberStart(sk, a.StartTime.Time)
		}
		if a.FinishTime != nil && (b == nil || b.FinishTime == nil) {
			r.attemptEnded(key, ns, q, typ, a, r.takeStart(sk, a.StartTime))
		}
	}
	if finished(after) && !finished(before) && after.FinishTime != nil {
		r.Stats.finished(key, after.FinishTime.Time)
	}
	if limit := limitOf(after); limit != "" && limit != limitOf(before) {
		Limited.WithLabelValues(ns, q, limit).Inc()
	}
}

func (r *Recorder) attemptStarted(key StatsKey, ns, q, typ string, ready *metav1.Time, start, due time.Time) {
	r.Stats.started(key, start)
	if ready != nil && !start.Before(ready.Time) {
		wait := start.Sub(ready.Time)
		JobWait.WithLabelValues(ns, q, typ).Observe(wait.Seconds())
		r.Stats.wait(key, start, wait)
	}
	if !due.IsZero() {
		StartLateness.WithLabelValues(ns, q, typ).Observe(max(start.Sub(due), 0).Seconds())
	}
}

func (r *Recorder) attemptEnded(key StatsKey, ns, q, typ string, a *kickqv1alpha1.AttemptRecord, start time.Time) {
	outcome := string(a.Outcome)
	if outcome == "" {
		outcome = "Unknown"
	}
	Attempts.WithLabelValues(ns, q, typ, outcome).Inc()
	if start.IsZero() || a.FinishTime.Time.Before(start) {
		return
	}
	run := a.FinishTime.Sub(start)
	JobRun.WithLabelValues(ns, q, typ).Observe(run.Seconds())
	r.Stats.run(key, a.FinishTime.Time, run)
}

func (r *Recorder) rememberStart(k startKey, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.starts) < maxStarts {
		r.starts[k] = t
	}
}

// takeStart returns the attempt's exact start when it is kept and agrees with status's (whole
// second) start, else status's start (zero when none), and forgets it.
func (r *Recorder) takeStart(k startKey, recorded *metav1.Time) time.Time {
	r.mu.Lock()
	exact, ok := r.starts[k]
	delete(r.starts, k)
	r.mu.Unlock()
	switch {
	case recorded == nil:
		return time.Time{}
	case ok && exact.Truncate(time.Second).Equal(recorded.Truncate(time.Second)):
		return exact
	}
	return recorded.Time
}

// CronFired records cron firings of one pass once what records them was stored: n firings of
// result (FiringOnTime, FiringMissed, FiringSkipped).
func CronFired(result string, n int) {
	if n > 0 {
		CronFirings.WithLabelValues(result).Add(float64(n))
	}
}

func attemptByNumber(st *kickqv1alpha1.QueueJobStatus, n int32) *kickqv1alpha1.AttemptRecord {
	for i := range st.AttemptHistory {
		if st.AttemptHistory[i].Number == n {
			return &st.AttemptHistory[i]
		}
	}
	return nil
}

func finished(st *kickqv1alpha1.QueueJobStatus) bool {
	return st.Phase == kickqv1alpha1.PhaseSucceeded || st.Phase == kickqv1alpha1.PhaseFailed
}

// limitOf is the limit label of the limit that holds the job (its Blocked condition), or "".
func limitOf(st *kickqv1alpha1.QueueJobStatus) string {
	c := meta.FindStatusCondition(st.Conditions, kickqv1alpha1.JobBlocked)
	if c == nil || c.Status != metav1.ConditionTrue {
		return ""
	}
	return LimitOfReason(c.Reason)
}

// LimitOfReason maps a Blocked reason to the limit label of kickq_limited_total ("" for a reason
// that is not a queue limit).
func LimitOfReason(reason string) string {
	switch reason {
	case kickqv1alpha1.ReasonConcurrencyLimited:
		return LimitConcurrency
	case kickqv1alpha1.ReasonRateLimited:
		return LimitRate
	case kickqv1alpha1.ReasonPaused:
		return LimitPaused
	case kickqv1alpha1.ReasonKeyConcurrencyLimited:
		return LimitKeyConcurrency
	case kickqv1alpha1.ReasonKeyRateLimited:
		return LimitKeyRate
	case kickqv1alpha1.ReasonKeyPaused:
		return LimitKeyPaused
	}
	return ""
}

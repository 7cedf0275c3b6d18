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

package report

import (
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/limits"
)

// DefaultInterval is the least time between two status writes that carry only progress, logs,
// heartbeats or a result. Outcomes are written at once.
const DefaultInterval = time.Second

// Ack is what a reporter waiting for its outcome learns.
type Ack struct {
	// Written: the outcome is in status. False: it was dropped, because the attempt had ended.
	Written bool
}

type entry struct {
	attempt int32
	seq     uint64

	progress    *kickqv1alpha1.Progress
	progressSeq uint64
	logs        []kickqv1alpha1.LogEntry
	logSeqs     []uint64
	dropped     int64
	heartbeat   time.Time
	result      *apiextensionsv1.JSON
	resultSeq   uint64
	outcome     kickqv1alpha1.Outcome
	message     string
	retryAfter  time.Duration
	outcomeSeq  uint64
	waiters     []chan Ack

	lastFlush time.Time
	scheduled bool
}

func (e *entry) empty() bool {
	return e.progress == nil && len(e.logs) == 0 && e.dropped == 0 && e.heartbeat.IsZero() && e.result == nil && e.outcome == ""
}

// Store holds reports until they are written, and wakes the job's reconciler when they are due:
// at once for an outcome or after a quiet interval, else at the end of the interval that follows
// the last write, so a burst of reports costs about one status write per interval.
type Store struct {
	clock    clock.WithDelayedExecution
	wake     func(types.NamespacedName)
	interval time.Duration

	mu   sync.Mutex
	jobs map[types.NamespacedName]*entry
}

// NewStore returns a store that calls wake (which must not block) when a job's reports are due.
func NewStore(clk clock.WithDelayedExecution, wake func(types.NamespacedName)) *Store {
	return &Store{clock: clk, wake: wake, interval: DefaultInterval, jobs: map[types.NamespacedName]*entry{}}
}

// Report is one validated report.
type Report struct {
	Progress   *kickqv1alpha1.Progress
	Logs       []string
	Result     *apiextensionsv1.JSON
	Outcome    kickqv1alpha1.Outcome
	Message    string
	RetryAfter time.Duration
}

// Add records a report for attempt `attempt` of a job. When the report carries an outcome, the
// returned channel receives one Ack once the outcome is written or dropped. At most
// limits.MaxLogEntries log lines (as many as status.logs keeps) wait for the next write; older ones
// are dropped and counted in status.logsDropped.
func (s *Store) Add(key types.NamespacedName, n int32, r Report) <-chan Ack {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.jobs[key]
	if e == nil || e.attempt != n {
		if e != nil && n < e.attempt {
			// A report of an older attempt than one already reported: the server checked the
			// token against a cache behind this store; ignore it.
			return closedAck(false)
		}
		last := time.Time{}
		if e != nil {
			last = e.lastFlush
			dropWaiters(e)
		}
		e = &entry{attempt: n, lastFlush: last}
		s.jobs[key] = e
	}
	e.seq++
	e.heartbeat = now
	if r.Progress != nil {
		e.progress, e.progressSeq = r.Progress, e.seq
	}
	for _, l := range r.Logs {
		e.logs = append(e.logs, kickqv1alpha1.LogEntry{Time: metav1.NewTime(now), Message: l})
		e.logSeqs = append(e.logSeqs, e.seq)
	}
	if extra := len(e.logs) - limits.MaxLogEntries; extra > 0 {
		e.logs = append([]kickqv1alpha1.LogEntry(nil), e.logs[extra:]...)
		e.logSeqs = append([]uint64(nil), e.logSeqs[extra:]...)
		e.dropped += int64(extra)
	}
	if r.Result != nil {
		e.result, e.resultSeq = r.Result, e.seq
	}
	var ch chan Ack
	if r.Outcome != "" {
		e.outcome, e.message, e.retryAfter, e.outcomeSeq = r.Outcome, r.Message, r.RetryAfter, e.seq
		ch = make(chan Ack, 1)
		e.waiters = append(e.waiters, ch)
	}
	s.schedule(key, e, now)
	return ch
}

// schedule wakes the job's reconciler when its reports are due. Called with s.mu held.
func (s *Store) schedule(key types.NamespacedName, e *entry, now time.Time) {
	due := e.lastFlush.Add(s.interval)
	if e.outcome != "" || !now.Before(due) {
		s.wake(key)
		return
	}
	if e.scheduled {
		return
	}
	e.scheduled = true
	// A fake clock runs the function while holding its own lock: take ours in another goroutine.
	s.clock.AfterFunc(due.Sub(now), func() {
		go func() {
			s.mu.Lock()
			if cur := s.jobs[key]; cur == e {
				e.scheduled = false
			}
			s.mu.Unlock()
			s.wake(key)
		}()
	})
}

// Take returns the reports of attempt `attempt` that are due for a status write now (nil when
// there are none, or when they are held back until the interval since the last write ends).
func (s *Store) Take(key types.NamespacedName, n int32) *attempt.Pending {
	return s.take(key, n, false)
}

// Flush returns all the reports of attempt `attempt`, held back or not (nil when there are none).
// It is for the write that ends the attempt: what a worker was answered 202 for goes into that
// write, since the store drops what is left of an ended attempt.
func (s *Store) Flush(key types.NamespacedName, n int32) *attempt.Pending {
	return s.take(key, n, true)
}

func (s *Store) take(key types.NamespacedName, n int32, all bool) *attempt.Pending {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.jobs[key]
	if e == nil || e.attempt != n || e.empty() {
		return nil
	}
	if !all && e.outcome == "" && now.Before(e.lastFlush.Add(s.interval)) {
		s.schedule(key, e, now)
		return nil
	}
	p := &attempt.Pending{Attempt: e.attempt, Seq: e.seq, Taken: now, Progress: e.progress, Heartbeat: e.heartbeat,
		Result: e.result, LogsDropped: e.dropped, Outcome: e.outcome, Message: e.message, RetryAfter: e.retryAfter}
	p.Logs = append([]kickqv1alpha1.LogEntry(nil), e.logs...)
	return p
}

// Ack tells the store that what Take returned as p is written: it is dropped from the store, and
// reporters waiting for its outcome are answered.
func (s *Store) Ack(key types.NamespacedName, p *attempt.Pending) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.jobs[key]
	if e == nil || e.attempt != p.Attempt {
		return
	}
	// The interval counts from the snapshot, not from this Ack: the write in between may take
	// any time (and a test's fake clock may move meanwhile), and the next flush must still come
	// one interval after the previous one.
	e.lastFlush = p.Taken
	if p.Taken.IsZero() || p.Taken.After(now) {
		e.lastFlush = now
	}
	if e.progressSeq <= p.Seq {
		e.progress = nil
	}
	if e.resultSeq <= p.Seq {
		e.result = nil
	}
	i := 0
	for i < len(e.logSeqs) && e.logSeqs[i] <= p.Seq {
		i++
	}
	e.logs, e.logSeqs = e.logs[i:], e.logSeqs[i:]
	e.dropped -= p.LogsDropped
	if !p.Heartbeat.Before(e.heartbeat) {
		e.heartbeat = time.Time{}
	}
	if e.outcome != "" && e.outcomeSeq <= p.Seq {
		e.outcome = ""
		for _, w := range e.waiters {
			w <- Ack{Written: true}
		}
		e.waiters = nil
	}
	if !e.empty() {
		s.schedule(key, e, now)
	}
}

// Drop forgets a job's reports (the attempt ended, or the job finished or was deleted); reporters
// waiting for an outcome learn that it was not written.
func (s *Store) Drop(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.jobs[key]; e != nil {
		dropWaiters(e)
		delete(s.jobs, key)
	}
}

func dropWaiters(e *entry) {
	for _, w := range e.waiters {
		w <- Ack{Written: false}
	}
	e.waiters = nil
}

func closedAck(written bool) <-chan Ack {
	ch := make(chan Ack, 1)
	ch <- Ack{Written: written}
	return ch
}

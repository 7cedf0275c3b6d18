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
	"slices"
	"sync"
	"time"

	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

const (
	// ThroughputWindow is the span of throughputPerMinute and startedPerMinute.
	ThroughputWindow = time.Minute
	// PercentileWindow is the span of the wait and run percentiles (status windowSeconds).
	PercentileWindow = 5 * time.Minute
	// MaxSamples bounds the wait and run samples kept per queue (the newest ones).
	MaxSamples = 256
	// maxQueueStats bounds the queues Stats keeps; past it, queues whose windows are empty are
	// dropped first, then new queues are not measured until room frees.
	maxQueueStats = 100000
)

// StatsKey names a queue.
type StatsKey struct{ Namespace, Queue string }

// Stats keeps each queue's recent samples: finishes and starts per second over the last minute,
// and the newest wait and run times over PercentileWindow. Memory is bounded: a queue holds at
// most 2×MaxSamples samples and 2×60 per-second counts. Time comes from the callers (the times
// the manager recorded) and from Snapshot's now, never from a wall clock.
type Stats struct {
	mu     sync.Mutex
	queues map[StatsKey]*queueStats
}

type queueStats struct {
	finishes, starts perSecond
	waits, runs      samples
}

// NewStats returns empty statistics.
func NewStats() *Stats { return &Stats{queues: map[StatsKey]*queueStats{}} }

// Forget drops a queue's statistics (its Queue was deleted).
func (s *Stats) Forget(key StatsKey) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.queues, key)
}

// Snapshot returns the queue's statistics at now (nil when it has none in its windows) and when
// they next change by time alone (a sample leaving a window; zero when none will).
func (s *Stats) Snapshot(key StatsKey, now time.Time) (*kickqv1alpha1.QueueStatistics, time.Time) {
	if s == nil {
		return nil, time.Time{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[key]
	if q == nil {
		return nil, time.Time{}
	}
	st := &kickqv1alpha1.QueueStatistics{WindowSeconds: int32(PercentileWindow / time.Second)}
	var next time.Time
	st.ThroughputPerMinute, next = q.finishes.count(now, next)
	st.StartedPerMinute, next = q.starts.count(now, next)
	var wait, run []time.Duration
	wait, next = q.waits.within(now, next)
	run, next = q.runs.within(now, next)
	st.WaitP50Milliseconds, st.WaitP95Milliseconds = percentiles(wait)
	st.RunP50Milliseconds, st.RunP95Milliseconds = percentiles(run)
	if st.ThroughputPerMinute == 0 && st.StartedPerMinute == 0 && len(wait) == 0 && len(run) == 0 {
		delete(s.queues, key)
		return nil, time.Time{}
	}
	return st, next
}

func (s *Stats) finished(key StatsKey, at time.Time) {
	s.with(key, func(q *queueStats) { q.finishes.add(at) })
}

func (s *Stats) started(key StatsKey, at time.Time) {
	s.with(key, func(q *queueStats) { q.starts.add(at) })
}

func (s *Stats) wait(key StatsKey, at time.Time, d time.Duration) {
	s.with(key, func(q *queueStats) { q.waits.add(at, d) })
}

func (s *Stats) run(key StatsKey, at time.Time, d time.Duration) {
	s.with(key, func(q *queueStats) { q.runs.add(at, d) })
}

func (s *Stats) with(key StatsKey, f func(*queueStats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[key]
	if q == nil {
		if len(s.queues) >= maxQueueStats {
			return
		}
		q = &queueStats{}
		s.queues[key] = q
	}
	f(q)
}

// perSecond counts events per whole second over the last ThroughputWindow.
type perSecond struct {
	buckets [60]struct {
		sec int64
		n   int32
	}
}

func (p *perSecond) add(at time.Time) {
	sec := at.Unix()
	b := &p.buckets[sec%int64(len(p.buckets))]
	if b.sec != sec {
		b.sec, b.n = sec, 0
	}
	b.n++
}

// count returns the events in (now-ThroughputWindow, now] and the earlier of next and when the
// oldest counted one leaves the window.
func (p *perSecond) count(now time.Time, next time.Time) (int32, time.Time) {
	var n int32
	cur := now.Unix()
	for _, b := range p.buckets {
		if b.n == 0 || b.sec > cur || b.sec <= cur-int64(len(p.buckets)) {
			continue
		}
		n += b.n
		next = earliest(next, time.Unix(b.sec, 0).Add(ThroughputWindow))
	}
	return n, next
}

// samples keeps the newest MaxSamples durations with the times they were taken.
type samples struct {
	at  []time.Time
	dur []time.Duration
}

func (s *samples) add(at time.Time, d time.Duration) {
	if len(s.at) >= MaxSamples {
		s.at, s.dur = s.at[1:], s.dur[1:]
	}
	s.at, s.dur = append(s.at, at), append(s.dur, d)
}

// within returns the durations taken in (now-PercentileWindow, now], dropping older ones, and
// the earlier of next and when the oldest kept one leaves the window.
func (s *samples) within(now time.Time, next time.Time) ([]time.Duration, time.Time) {
	from := now.Add(-PercentileWindow)
	drop := 0
	for drop < len(s.at) && !s.at[drop].After(from) {
		drop++
	}
	s.at, s.dur = s.at[drop:], s.dur[drop:]
	var out []time.Duration
	for i, at := range s.at {
		if at.After(now) || !at.After(from) {
			continue
		}
		out = append(out, s.dur[i])
		next = earliest(next, at.Add(PercentileWindow))
	}
	return out, next
}

// percentiles returns the nearest-rank p50 and p95 in milliseconds (nil without samples).
func percentiles(d []time.Duration) (p50, p95 *int64) {
	if len(d) == 0 {
		return nil, nil
	}
	sorted := slices.Clone(d)
	slices.Sort(sorted)
	rank := func(p int) *int64 {
		i := (p*len(sorted) + 99) / 100 // ceil(p/100 * n), 1-based
		return ptr.To(sorted[max(i, 1)-1].Milliseconds())
	}
	return rank(50), rank(95)
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

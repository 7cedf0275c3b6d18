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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// TestStatsSnapshot: throughput counts the last minute, percentiles the last five, and Snapshot
// says when the next sample leaves its window.
func TestStatsSnapshot(t *testing.T) {
	key := StatsKey{"ns", "q"}
	s := NewStats()
	// 20 runs of 1..20 s ending at t0+1s .. t0+20s; 10 of them also finished their job.
	for i := 1; i <= 20; i++ {
		end := t0.Add(time.Duration(i) * time.Second)
		s.run(key, end, time.Duration(i)*time.Second)
		s.started(key, end)
		if i%2 == 0 {
			s.finished(key, end)
		}
	}
	s.wait(key, t0.Add(30*time.Second), 250*time.Millisecond)
	win := int32(PercentileWindow / time.Second)
	for _, tc := range []struct {
		name     string
		now      time.Time
		want     *kickqv1alpha1.QueueStatistics
		wantNext time.Time
	}{{
		name: "within the minute",
		now:  t0.Add(30 * time.Second),
		want: &kickqv1alpha1.QueueStatistics{ThroughputPerMinute: 10, StartedPerMinute: 20, WindowSeconds: win,
			WaitP50Milliseconds: ptr.To[int64](250), WaitP95Milliseconds: ptr.To[int64](250),
			RunP50Milliseconds: ptr.To[int64](10000), RunP95Milliseconds: ptr.To[int64](19000)},
		wantNext: t0.Add(61 * time.Second),
	}, {
		name: "the first ten seconds left the minute",
		now:  t0.Add(70 * time.Second),
		want: &kickqv1alpha1.QueueStatistics{ThroughputPerMinute: 5, StartedPerMinute: 10, WindowSeconds: win,
			WaitP50Milliseconds: ptr.To[int64](250), WaitP95Milliseconds: ptr.To[int64](250),
			RunP50Milliseconds: ptr.To[int64](10000), RunP95Milliseconds: ptr.To[int64](19000)},
		wantNext: t0.Add(71 * time.Second),
	}, {
		name: "past the minute: percentiles only",
		now:  t0.Add(4 * time.Minute),
		want: &kickqv1alpha1.QueueStatistics{WindowSeconds: win,
			WaitP50Milliseconds: ptr.To[int64](250), WaitP95Milliseconds: ptr.To[int64](250),
			RunP50Milliseconds: ptr.To[int64](10000), RunP95Milliseconds: ptr.To[int64](19000)},
		wantNext: t0.Add(5*time.Minute + time.Second),
	}, {
		name: "the first fifteen runs left the window",
		now:  t0.Add(5*time.Minute + 15*time.Second),
		want: &kickqv1alpha1.QueueStatistics{WindowSeconds: win,
			WaitP50Milliseconds: ptr.To[int64](250), WaitP95Milliseconds: ptr.To[int64](250),
			RunP50Milliseconds: ptr.To[int64](18000), RunP95Milliseconds: ptr.To[int64](20000)},
		wantNext: t0.Add(5*time.Minute + 16*time.Second),
	}, {
		name: "everything left: no statistics",
		now:  t0.Add(6 * time.Minute),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, next := s.Snapshot(key, tc.now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Snapshot (-want +got):\n%s", diff)
			}
			if !next.Equal(tc.wantNext) {
				t.Errorf("next = %v, want %v", next, tc.wantNext)
			}
		})
	}
}

// TestStatsBounded: a queue keeps the newest MaxSamples samples.
func TestStatsBounded(t *testing.T) {
	key := StatsKey{"ns", "q"}
	s := NewStats()
	for i := range MaxSamples + 100 {
		d := time.Second
		if i >= 100 {
			d = 2 * time.Second
		}
		s.run(key, t0.Add(time.Duration(i)*time.Millisecond), d)
	}
	got, _ := s.Snapshot(key, t0.Add(time.Minute))
	if *got.RunP50Milliseconds != 2000 || len(s.queues[key].runs.dur) != MaxSamples {
		t.Errorf("runs kept %d, p50 %d ms; want %d and 2000 (the oldest 100 samples of 1 s dropped)",
			len(s.queues[key].runs.dur), *got.RunP50Milliseconds, MaxSamples)
	}
}

// TestPercentiles: nearest rank.
func TestPercentiles(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	for _, tc := range []struct {
		in       []time.Duration
		p50, p95 int64
	}{
		{ms(5), 5, 5},
		{ms(1, 2), 1, 2},
		{ms(4, 1, 3, 2), 2, 4},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21), 11, 20},
	} {
		p50, p95 := percentiles(tc.in)
		if *p50 != tc.p50 || *p95 != tc.p95 {
			t.Errorf("percentiles(%v) = %d, %d; want %d, %d", tc.in, *p50, *p95, tc.p50, tc.p95)
		}
	}
	if p50, p95 := percentiles(nil); p50 != nil || p95 != nil {
		t.Errorf("percentiles(nil) = %v, %v; want nil", p50, p95)
	}
}

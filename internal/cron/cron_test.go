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

package cron

import (
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

func mustParse(t *testing.T, c *kickqv1alpha1.CronSpec) *Schedule {
	t.Helper()
	s, err := Parse(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNextAcrossDST(t *testing.T) {
	// 02:30 every day in Berlin. On 2026-03-29 clocks jump from 02:00 to 03:00: 02:30 does not
	// exist that day. On 2026-10-25 02:00–03:00 happens twice.
	s := mustParse(t, &kickqv1alpha1.CronSpec{Schedule: "30 2 * * *", TimeZone: ptr.To("Europe/Berlin")})
	berlin, _ := time.LoadLocation("Europe/Berlin")
	got := s.Next(time.Date(2026, 3, 28, 12, 0, 0, 0, berlin))
	// robfig/cron has no 02:30 on the day it does not exist: the next firing is the day after.
	if want := time.Date(2026, 3, 30, 2, 30, 0, 0, berlin); !got.Equal(want) {
		t.Fatalf("spring forward: %s, want %s", got, want)
	}
	if got.UTC() != time.Date(2026, 3, 30, 0, 30, 0, 0, time.UTC) {
		t.Fatalf("spring forward in UTC: %s", got.UTC())
	}
	// Before and after the change, 02:30 local is 01:30 UTC (winter) and 00:30 UTC (summer).
	if got := s.Next(time.Date(2026, 3, 27, 12, 0, 0, 0, berlin)).UTC(); got != time.Date(2026, 3, 28, 1, 30, 0, 0, time.UTC) {
		t.Fatalf("winter: %s", got)
	}
	if got := s.Next(time.Date(2026, 3, 30, 12, 0, 0, 0, berlin)).UTC(); got != time.Date(2026, 3, 31, 0, 30, 0, 0, time.UTC) {
		t.Fatalf("summer: %s", got)
	}
	// Fall back: one firing on 2026-10-25, not two.
	first := s.Next(time.Date(2026, 10, 24, 12, 0, 0, 0, berlin))
	second := s.Next(first)
	if first.Day() != 25 || second.Day() != 26 {
		t.Fatalf("fall back: %s then %s", first, second)
	}
	// A fixed hourly schedule keeps running hourly across the change in UTC terms.
	h := mustParse(t, &kickqv1alpha1.CronSpec{Schedule: "@hourly", TimeZone: ptr.To("Europe/Berlin")})
	a := h.Next(time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC))
	b := h.Next(a)
	if b.Sub(a) != time.Hour {
		t.Fatalf("@hourly across DST: %s then %s", a.UTC(), b.UTC())
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	for _, c := range []struct {
		spec  kickqv1alpha1.CronSpec
		field string
	}{
		{kickqv1alpha1.CronSpec{Schedule: "61 * * * *"}, "spec.cron.schedule"},
		{kickqv1alpha1.CronSpec{Schedule: "every minute"}, "spec.cron.schedule"},
		{kickqv1alpha1.CronSpec{Schedule: "TZ=UTC * * * * *"}, "spec.cron.schedule"},
		{kickqv1alpha1.CronSpec{Schedule: "* * * * *", TimeZone: ptr.To("Mars/Olympus")}, "spec.cron.timeZone"},
	} {
		_, err := Parse(&c.spec)
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%+v: %v, want an error naming %s", c.spec, err, c.field)
		}
	}
	if _, err := Parse(&kickqv1alpha1.CronSpec{Schedule: "@every 30s"}); err != nil {
		t.Errorf("@every: %v", err)
	}
}

// After a gap of 5 periods, each policy.
func TestMissedRunPolicies(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	every := func(p kickqv1alpha1.MissedRunsPolicy) *kickqv1alpha1.CronSpec {
		return &kickqv1alpha1.CronSpec{Schedule: "*/1 * * * *", MissedRuns: p, MaxMissedRuns: ptr.To[int32](3)}
	}
	minutes := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Minute))
		}
		return out
	}
	cases := []struct {
		name    string
		policy  kickqv1alpha1.MissedRunsPolicy
		now     time.Time
		run     []time.Time
		skipped int64
	}{
		// Back 30 s after the 5th boundary: all five are late (grace 10 s).
		{"Skip, all late", kickqv1alpha1.MissedRunsSkip, t0.Add(5*time.Minute + 30*time.Second), nil, 5},
		{"RunLatest, all late", kickqv1alpha1.MissedRunsRunLatest, t0.Add(5*time.Minute + 30*time.Second), minutes(5), 4},
		{"RunAll capped at 3", kickqv1alpha1.MissedRunsRunAll, t0.Add(5*time.Minute + 30*time.Second), minutes(3, 4, 5), 2},
		// Back exactly at the 5th boundary: it is on time; the four before are missed.
		{"Skip, latest on time", kickqv1alpha1.MissedRunsSkip, t0.Add(5 * time.Minute), minutes(5), 4},
		{"RunLatest, latest on time", kickqv1alpha1.MissedRunsRunLatest, t0.Add(5 * time.Minute), minutes(5), 4},
		{"RunAll, latest on time", kickqv1alpha1.MissedRunsRunAll, t0.Add(5 * time.Minute), minutes(2, 3, 4, 5), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := every(c.policy)
			p := Decide(mustParse(t, spec), spec, t0, c.now)
			if len(p.Run) != len(c.run) || p.Skipped != c.skipped {
				t.Fatalf("run %v skipped %d, want %v skipped %d", p.Run, p.Skipped, c.run, c.skipped)
			}
			for i := range c.run {
				if !p.Run[i].Equal(c.run[i]) {
					t.Fatalf("run %v, want %v", p.Run, c.run)
				}
			}
			if !p.Latest.Equal(t0.Add(5*time.Minute)) || !p.Next.Equal(t0.Add(6*time.Minute)) {
				t.Fatalf("latest %s next %s", p.Latest, p.Next)
			}
		})
	}
	// startingDeadlineSeconds widens what is on time.
	spec := &kickqv1alpha1.CronSpec{Schedule: "*/1 * * * *", MissedRuns: kickqv1alpha1.MissedRunsSkip, StartingDeadlineSeconds: ptr.To[int32](45)}
	p := Decide(mustParse(t, spec), spec, t0, t0.Add(5*time.Minute+30*time.Second))
	if len(p.Run) != 1 || p.Skipped != 4 {
		t.Fatalf("with a 45 s deadline: %+v", p)
	}
	// Nothing due.
	p = Decide(mustParse(t, spec), spec, t0, t0.Add(59*time.Second))
	if len(p.Run) != 0 || p.Skipped != 0 || !p.Latest.IsZero() || !p.Next.Equal(t0.Add(time.Minute)) {
		t.Fatalf("nothing due: %+v", p)
	}
	// A very long gap is bounded.
	spec = every(kickqv1alpha1.MissedRunsRunLatest)
	p = Decide(mustParse(t, spec), spec, t0, t0.Add(365*24*time.Hour+30*time.Second))
	if len(p.Run) != 1 || p.Skipped != 365*24*60-1 {
		t.Fatalf("a year down: run %d skipped %d", len(p.Run), p.Skipped)
	}
}

func TestConcurrency(t *testing.T) {
	for _, c := range []struct {
		policy kickqv1alpha1.ConcurrencyPolicy
		active int
		want   Concurrency
	}{
		{kickqv1alpha1.ConcurrencyForbid, 0, Create},
		{kickqv1alpha1.ConcurrencyForbid, 1, Skip},
		{"", 1, Skip},
		{kickqv1alpha1.ConcurrencyAllow, 2, Create},
		{kickqv1alpha1.ConcurrencyReplace, 1, ReplaceRunning},
		{kickqv1alpha1.ConcurrencyReplace, 0, Create},
	} {
		if got := ForConcurrency(c.policy, c.active); got != c.want {
			t.Errorf("%s with %d active: %s, want %s", c.policy, c.active, got, c.want)
		}
	}
	if ChildName("nightly", time.Unix(1795489200, 0)) != "nightly-1795489200" {
		t.Fatal("child name")
	}
}

func TestSchedulesThatNeverFireAreRefused(t *testing.T) {
	for _, sched := range []string{"0 0 30 2 *", "0 0 31 4 *", "0 0 31 2,4,6,9,11 *"} {
		_, err := Parse(&kickqv1alpha1.CronSpec{Schedule: sched})
		if err == nil || !strings.Contains(err.Error(), "spec.cron.schedule") || !strings.Contains(err.Error(), "never fires") {
			t.Errorf("Parse(%q) = %v, want an error naming spec.cron.schedule that says it never fires", sched, err)
		}
	}
	// Rare but real dates still parse.
	for _, sched := range []string{"0 0 29 2 *", "0 0 31 12 *", "0 0 13 * 5"} {
		if _, err := Parse(&kickqv1alpha1.CronSpec{Schedule: sched}); err != nil {
			t.Errorf("Parse(%q): %v", sched, err)
		}
	}
}

// decideWithin runs Decide and fails the test if it does not return within d.
func decideWithin(t *testing.T, d time.Duration, s *Schedule, c *kickqv1alpha1.CronSpec, last, now time.Time) Plan {
	t.Helper()
	done := make(chan Plan, 1)
	go func() { done <- Decide(s, c, last, now) }()
	select {
	case p := <-done:
		return p
	case <-time.After(d):
		t.Fatalf("Decide(last %s, now %s) did not return within %s", last, now, d)
		return Plan{}
	}
}

func TestDecideEndsForAScheduleWithNoNextFiring(t *testing.T) {
	// Bypass Parse: a schedule whose Next is the zero time must not hang the walk.
	never, err := parser.Parse("0 0 30 2 *")
	if err != nil {
		t.Fatal(err)
	}
	s := &Schedule{sched: never, loc: time.UTC}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	p := decideWithin(t, 3*time.Second, s, &kickqv1alpha1.CronSpec{}, now.Add(-time.Hour), now)
	if len(p.Run) != 0 || p.Skipped != 0 || !p.Next.IsZero() {
		t.Errorf("plan %+v, want nothing to run and no next firing", p)
	}
}

func TestDecideIsBoundedForAYearsOldLastFiring(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	last := now.AddDate(-10, 0, 0) // ten years of firings every second: 315 million
	s := mustParse(t, &kickqv1alpha1.CronSpec{Schedule: "@every 1s"})
	c := &kickqv1alpha1.CronSpec{Schedule: "@every 1s", MissedRuns: kickqv1alpha1.MissedRunsSkip}
	p := decideWithin(t, 3*time.Second, s, c, last, now)
	if !p.Latest.Equal(now) {
		t.Errorf("latest due firing %s, want %s", p.Latest, now)
	}
	// Every firing but the one on time is skipped, counted exactly for an evenly spaced schedule.
	if want := int64(now.Sub(last)/time.Second) - 1; p.Skipped != want || len(p.Run) != 1 {
		t.Errorf("run %d skipped %d, want 1 and %d", len(p.Run), p.Skipped, want)
	}
	// Every minute for ten years: also bounded, and the newest firings are exact.
	m := mustParse(t, &kickqv1alpha1.CronSpec{Schedule: "* * * * *"})
	p = decideWithin(t, 3*time.Second, m, &kickqv1alpha1.CronSpec{MissedRuns: kickqv1alpha1.MissedRunsRunLatest}, last, now)
	if !p.Latest.Equal(now) || len(p.Run) != 1 || !p.Run[0].Equal(now) {
		t.Errorf("plan latest %s run %v, want the firing at %s", p.Latest, p.Run, now)
	}
}

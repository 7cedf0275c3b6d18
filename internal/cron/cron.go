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

// Package cron computes what a cron template does at a given time: the firings due since the
// last one handled, which of them run under the missed-runs policy and the starting deadline,
// what the concurrency policy does with a running child, and the next firing time. It is pure:
// the controller gives it the recorded state and the time.
package cron

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // IANA time zones without /usr/share/zoneinfo

	robfig "github.com/robfig/cron/v3"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// DefaultGrace is how late a firing may be handled and still count as on time when the template
// sets no startingDeadlineSeconds. Later firings (a manager down, a template suspended) are missed
// runs, handled by the missedRuns policy.
const DefaultGrace = 10 * time.Second

// DefaultMaxMissedRuns caps RunAll when maxMissedRuns is unset.
const DefaultMaxMissedRuns = 100

// maxScan bounds how many firings one computation walks (a `* * * * *` schedule down for a year
// is 525,600 firings): beyond it, the oldest are counted without being listed.
const maxScan = 10000

var parser = robfig.NewParser(robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow | robfig.Descriptor)

// Schedule is a parsed schedule in its time zone.
type Schedule struct {
	sched robfig.Schedule
	loc   *time.Location
}

// Parse parses spec.cron's schedule and time zone. Errors name the field.
func Parse(c *kickqv1alpha1.CronSpec) (*Schedule, error) {
	loc := time.UTC
	if c.TimeZone != nil {
		l, err := time.LoadLocation(*c.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("spec.cron.timeZone %q is not an IANA time zone: %v", *c.TimeZone, err)
		}
		loc = l
	}
	s := strings.TrimSpace(c.Schedule)
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		return nil, fmt.Errorf("spec.cron.schedule %q: put the time zone in spec.cron.timeZone, not in the schedule", c.Schedule)
	}
	sched, err := parser.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("spec.cron.schedule %q is not a valid schedule: %v", c.Schedule, err)
	}
	// A schedule such as "0 0 30 2 *" parses but names no real date: robfig/cron's Next then
	// returns the zero time. Its search horizon is five years, which holds every date that
	// exists (29 February included), so one probe tells.
	if sched.Next(neverFiresProbe.In(loc)).IsZero() {
		return nil, fmt.Errorf("spec.cron.schedule %q never fires: no date matches it", c.Schedule)
	}
	return &Schedule{sched: sched, loc: loc}, nil
}

// neverFiresProbe is the time Parse asks a schedule for its next firing, to refuse schedules
// that never fire.
var neverFiresProbe = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// Next is the first firing strictly after t. When clocks fall back, a schedule with fixed hours
// ("30 2 * * *") fires once at the repeated wall-clock time, not twice (robfig/cron alone fires
// at both); a schedule with every hour ("0 * * * *", @hourly) keeps firing each real hour. On the
// day clocks spring forward, a time that does not exist is skipped (robfig/cron's behaviour).
func (s *Schedule) Next(t time.Time) time.Time {
	n := s.sched.Next(t.In(s.loc))
	if spec, ok := s.sched.(*robfig.SpecSchedule); ok && spec.Hour&starBit == 0 && !n.IsZero() {
		for i := 0; i < 2 && sameWallClock(n, n.Add(-time.Hour).In(s.loc)); i++ {
			// n repeats the wall-clock time an hour earlier: the first one already fired.
			n = s.sched.Next(n)
		}
	}
	return n
}

// starBit is robfig/cron's marker of a "*" field.
const starBit = 1 << 63

func sameWallClock(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd && a.Hour() == b.Hour() && a.Minute() == b.Minute() && a.Second() == b.Second()
}

// Plan is what a template does now.
type Plan struct {
	// Run are the firings to create children for, oldest first.
	Run []time.Time
	// Skipped counts the due firings that do not run (missed).
	Skipped int64
	// Latest is the newest due firing (zero if none is due): recorded as lastScheduleTime.
	Latest time.Time
	// Next is the next firing after now.
	Next time.Time
}

// Decide plans the firings due in (last, now] for a template whose last handled firing was last
// (its creation time before the first).
func Decide(s *Schedule, c *kickqv1alpha1.CronSpec, last, now time.Time) Plan {
	due, dropped := dueFirings(s, last, now)
	p := Plan{Next: s.Next(now)}
	if len(due) == 0 {
		return p
	}
	p.Latest = due[len(due)-1]
	grace := DefaultGrace
	if c.StartingDeadlineSeconds != nil {
		grace = time.Duration(*c.StartingDeadlineSeconds) * time.Second
	}
	onTime := now.Sub(p.Latest) <= grace
	missed := due
	if onTime {
		missed = due[:len(due)-1]
	}
	p.Skipped = dropped
	switch c.MissedRuns {
	case kickqv1alpha1.MissedRunsRunAll:
		limit := DefaultMaxMissedRuns
		if c.MaxMissedRuns != nil {
			limit = int(*c.MaxMissedRuns)
		}
		if len(missed) > limit {
			p.Skipped += int64(len(missed) - limit)
			missed = missed[len(missed)-limit:] // the newest ones
		}
		p.Run = append(p.Run, missed...)
	case kickqv1alpha1.MissedRunsSkip:
		p.Skipped += int64(len(missed))
	default: // RunLatest
		if len(missed) > 0 {
			if onTime {
				p.Skipped += int64(len(missed))
			} else {
				p.Skipped += int64(len(missed) - 1)
				p.Run = append(p.Run, missed[len(missed)-1])
			}
		}
	}
	if onTime {
		p.Run = append(p.Run, p.Latest)
	}
	return p
}

// dueFirings lists the firings in (last, now], the newest maxScan of them, and counts the older
// ones. The walk is bounded in time as well as in memory: a template whose last firing is years
// old (or whose status someone rewrote) with a schedule every second would walk billions of
// firings. After maxScan firings the walk jumps to the stretch before now that the same number
// of firings covered, and counts the firings it jumped over by the mean period it saw: an
// estimate, exact for evenly spaced schedules. A zero time (no further firing) ends the walk.
func dueFirings(s *Schedule, last, now time.Time) ([]time.Time, int64) {
	var due []time.Time
	var dropped int64
	jumped := false
	for t, n := s.Next(last), 0; !t.IsZero() && !t.After(now); t, n = s.Next(t), n+1 {
		if n == maxScan && !jumped {
			jumped = true
			if span := t.Sub(last); span > 0 && now.Sub(t) > span {
				from := now.Add(-span)
				// t is firing maxScan+1 since last: the mean period over that stretch. The firings
				// in [t, from] are skipped; the walk resumes after from.
				period := span / (maxScan + 1)
				dropped += int64(len(due))
				if period > 0 {
					dropped += int64(from.Sub(t)/period) + 1
				}
				due = due[:0]
				if t = s.Next(from); t.IsZero() || t.After(now) {
					break
				}
			}
		}
		if n >= maxWalk {
			break
		}
		if len(due) == maxScan {
			due = due[1:]
			dropped++
		}
		due = append(due, t)
	}
	return due, dropped
}

// maxWalk bounds the firings one computation visits, whatever the schedule and the times.
const maxWalk = 4 * maxScan

// Concurrency is what a firing does given how many children still run.
type Concurrency string

// Concurrency decisions.
const (
	// Create the child.
	Create Concurrency = "Create"
	// Skip the firing: a child still runs and the policy is Forbid.
	Skip Concurrency = "Skip"
	// ReplaceRunning: cancel the running children, then create the child.
	ReplaceRunning Concurrency = "Replace"
)

// ForConcurrency decides a firing under the concurrency policy with `active` unfinished children.
func ForConcurrency(policy kickqv1alpha1.ConcurrencyPolicy, active int) Concurrency {
	if active == 0 {
		return Create
	}
	switch policy {
	case kickqv1alpha1.ConcurrencyAllow:
		return Create
	case kickqv1alpha1.ConcurrencyReplace:
		return ReplaceRunning
	}
	return Skip // Forbid, the default
}

// ChildName is the deterministic name of the child of a firing.
func ChildName(template string, t time.Time) string {
	return fmt.Sprintf("%s-%d", template, t.Unix())
}

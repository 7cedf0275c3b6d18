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
	"regexp"
	"testing"
	"time"

	robfig "github.com/robfig/cron/v3"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// countingSchedule counts the firings a computation asks for.
type countingSchedule struct {
	robfig.Schedule
	calls int
}

func (c *countingSchedule) Next(t time.Time) time.Time {
	c.calls++
	return c.Schedule.Next(t)
}

// timeZonePattern is spec.cron.timeZone's OpenAPI pattern: the fuzzer keeps to what the API
// server admits (as for the other fields' bounds below).
var timeZonePattern = regexp.MustCompile(`^[A-Za-z0-9_+\-/]+$`)

var missedRunsPolicies = []kickqv1alpha1.MissedRunsPolicy{
	"", kickqv1alpha1.MissedRunsSkip, kickqv1alpha1.MissedRunsRunLatest, kickqv1alpha1.MissedRunsRunAll,
}

// fuzzSpan bounds the times the fuzzer picks: 1970 to about 2600.
const fuzzSpan = int64(20_000_000_000)

// FuzzParseDecide parses any schedule and time zone the API server admits and plans the firings
// between any two times: Parse never panics, and when it accepts, Decide's plan is sound (the
// firings to run are due, oldest first, distinct children, at most the missed-run cap plus the
// on-time one; the next firing is after now) and bounded in work: it asks the schedule for at most
// maxWalk firings and a few more, however far apart the times (a `@every 1s` template whose last
// firing someone set to 1970).
func FuzzParseDecide(f *testing.F) {
	f.Add("*/5 * * * *", "", int64(1_795_000_000), int64(1_795_003_600), int32(0), int32(0), uint8(3))
	f.Add("@every 1s", "UTC", int64(0), int64(19_000_000_000), int32(1), int32(1000), uint8(3))
	f.Add("30 2 * * *", "Europe/Berlin", int64(1_792_000_000), int64(1_793_000_000), int32(60), int32(5), uint8(2))
	f.Add("0 0 29 2 *", "America/New_York", int64(951_000_000), int64(1_900_000_000), int32(31536000), int32(1), uint8(1))
	f.Add("0 0 30 2 *", "", int64(0), int64(1), int32(0), int32(0), uint8(0))
	f.Add("@hourly", "Australia/Lord_Howe", int64(1_800_000_000), int64(1_700_000_000), int32(10), int32(7), uint8(3))
	f.Add("TZ=UTC * * * * *", "Local", int64(5), int64(5), int32(0), int32(0), uint8(0))
	f.Add("@every 1h30m", "Etc/GMT+14", int64(1_000_000_000), int64(1_000_000_000), int32(0), int32(0), uint8(2))
	f.Fuzz(func(t *testing.T, schedule, timeZone string, last, now int64, deadline, maxMissed int32, missed uint8) {
		if len(schedule) == 0 || len(schedule) > 256 || len(timeZone) > 64 || (timeZone != "" && !timeZonePattern.MatchString(timeZone)) {
			t.Skip("the API server refuses this spec.cron")
		}
		spec := &kickqv1alpha1.CronSpec{Schedule: schedule, MissedRuns: missedRunsPolicies[int(missed)%len(missedRunsPolicies)]}
		if timeZone != "" {
			spec.TimeZone = ptr.To(timeZone)
		}
		if deadline >= 1 && deadline <= 31536000 {
			spec.StartingDeadlineSeconds = ptr.To(deadline)
		}
		if maxMissed >= 1 && maxMissed <= 1000 {
			spec.MaxMissedRuns = ptr.To(maxMissed)
		}
		s, err := Parse(spec)
		if err != nil {
			if s != nil {
				t.Fatalf("Parse(%q) returned a schedule and the error %v", schedule, err)
			}
			return
		}
		lastT, nowT := time.Unix(mod(last, fuzzSpan), 0), time.Unix(mod(now, fuzzSpan), 0)
		p := Decide(s, spec, lastT, nowT)
		checkPlan(t, spec, lastT, nowT, p)

		counted := &countingSchedule{Schedule: s.sched}
		Decide(&Schedule{sched: counted, loc: s.loc}, spec, lastT, nowT)
		if counted.calls > maxWalk+3 {
			t.Fatalf("Decide(%q, %v, %v) asked for %d firings; at most %d", schedule, lastT, nowT, counted.calls, maxWalk+3)
		}
	})
}

func checkPlan(t *testing.T, spec *kickqv1alpha1.CronSpec, last, now time.Time, p Plan) {
	t.Helper()
	limit := DefaultMaxMissedRuns
	if spec.MaxMissedRuns != nil {
		limit = int(*spec.MaxMissedRuns)
	}
	if len(p.Run) > limit+1 {
		t.Fatalf("%q: %d firings to run; at most %d missed and the on-time one", spec.Schedule, len(p.Run), limit)
	}
	if p.Skipped < 0 {
		t.Fatalf("%q: Skipped = %d", spec.Schedule, p.Skipped)
	}
	if !p.Next.IsZero() && !p.Next.After(now) {
		t.Fatalf("%q: Next %v is not after now %v", spec.Schedule, p.Next, now)
	}
	if len(p.Run) > 0 && p.Latest.IsZero() {
		t.Fatalf("%q: firings to run but no latest firing", spec.Schedule)
	}
	if !p.Latest.IsZero() && (!p.Latest.After(last) || p.Latest.After(now)) {
		t.Fatalf("%q: Latest %v is not in (%v, %v]", spec.Schedule, p.Latest, last, now)
	}
	names := map[string]bool{}
	for i, r := range p.Run {
		if !r.After(last) || r.After(now) || r.After(p.Latest) || (i > 0 && !r.After(p.Run[i-1])) {
			t.Fatalf("%q: Run[%d] = %v: not due in (%v, %v] after the one before (%v)", spec.Schedule, i, r, last, now, p.Run)
		}
		name := ChildName("t", r)
		if names[name] {
			t.Fatalf("%q: two firings to run have the child name %s", spec.Schedule, name)
		}
		names[name] = true
	}
}

// mod is x modulo m in [0, m).
func mod(x, m int64) int64 {
	if x %= m; x < 0 {
		x += m
	}
	return x
}

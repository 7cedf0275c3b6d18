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

package backoff

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/policy"
)

const (
	fixed       = kickqv1alpha1.BackoffFixed
	linear      = kickqv1alpha1.BackoffLinear
	exponential = kickqv1alpha1.BackoffExponential
)

// builtIn is the backoff of a job, handler and queue that set nothing.
var builtIn = policy.Backoff{
	Type:        policy.DefaultBackoffType,
	BaseSeconds: policy.DefaultBackoffBaseSeconds,
	Factor:      policy.DefaultBackoffFactor,
	MaxSeconds:  policy.DefaultBackoffMaxSeconds,
}

const uid = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"

func TestDelay(t *testing.T) {
	cases := map[string]struct {
		backoff  policy.Backoff
		failures int32
		want     time.Duration
	}{
		// Built-in default: Exponential, 10 s, factor 2, at most 600 s.
		"default, 1 failure":          {backoff: builtIn, failures: 1, want: 10 * time.Second},
		"default, 2 failures":         {backoff: builtIn, failures: 2, want: 20 * time.Second},
		"default, 3 failures":         {backoff: builtIn, failures: 3, want: 40 * time.Second},
		"default, 6 failures":         {backoff: builtIn, failures: 6, want: 320 * time.Second},
		"default, 7 failures: capped": {backoff: builtIn, failures: 7, want: 600 * time.Second},
		"default, 1000 failures":      {backoff: builtIn, failures: 1000, want: 600 * time.Second},
		"default, MaxInt32 failures":  {backoff: builtIn, failures: math.MaxInt32, want: 600 * time.Second},

		// Exponential with other factors and caps.
		"factor 3, 1 failure":          {backoff: policy.Backoff{Type: exponential, BaseSeconds: 5, Factor: 3, MaxSeconds: 1000}, failures: 1, want: 5 * time.Second},
		"factor 3, 2 failures":         {backoff: policy.Backoff{Type: exponential, BaseSeconds: 5, Factor: 3, MaxSeconds: 1000}, failures: 2, want: 15 * time.Second},
		"factor 3, 5 failures":         {backoff: policy.Backoff{Type: exponential, BaseSeconds: 5, Factor: 3, MaxSeconds: 1000}, failures: 5, want: 405 * time.Second},
		"factor 3, 6 failures: capped": {backoff: policy.Backoff{Type: exponential, BaseSeconds: 5, Factor: 3, MaxSeconds: 1000}, failures: 6, want: 1000 * time.Second},
		"factor 10, API maxima, 2 failures": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 86400, Factor: 10, MaxSeconds: 2592000}, failures: 2, want: 864000 * time.Second,
		},
		"factor 10, API maxima, 3 failures: capped": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 86400, Factor: 10, MaxSeconds: 2592000}, failures: 3, want: 2592000 * time.Second,
		},
		"factor 10, API maxima, MaxInt32 failures": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 86400, Factor: 10, MaxSeconds: 2592000}, failures: math.MaxInt32, want: 2592000 * time.Second,
		},
		"base 1, factor 2, 22 failures: 2^21 s under the cap": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 1, Factor: 2, MaxSeconds: 2592000}, failures: 22, want: (1 << 21) * time.Second,
		},
		"base 1, factor 2, 23 failures: capped": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 1, Factor: 2, MaxSeconds: 2592000}, failures: 23, want: 2592000 * time.Second,
		},
		"base 1, factor 2, 1000 failures: capped, no overflow": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 1, Factor: 2, MaxSeconds: 2592000}, failures: 1000, want: 2592000 * time.Second,
		},
		"cap equal to base": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 60, Factor: 2, MaxSeconds: 60}, failures: 5, want: 60 * time.Second,
		},

		// Linear.
		"linear, 1 failure":               {backoff: policy.Backoff{Type: linear, BaseSeconds: 10, Factor: 1, MaxSeconds: 600}, failures: 1, want: 10 * time.Second},
		"linear, 2 failures":              {backoff: policy.Backoff{Type: linear, BaseSeconds: 10, Factor: 1, MaxSeconds: 600}, failures: 2, want: 20 * time.Second},
		"linear, 7 failures":              {backoff: policy.Backoff{Type: linear, BaseSeconds: 10, Factor: 1, MaxSeconds: 600}, failures: 7, want: 70 * time.Second},
		"linear, 60 failures: at the cap": {backoff: policy.Backoff{Type: linear, BaseSeconds: 10, Factor: 1, MaxSeconds: 600}, failures: 60, want: 600 * time.Second},
		"linear, 61 failures: capped":     {backoff: policy.Backoff{Type: linear, BaseSeconds: 10, Factor: 1, MaxSeconds: 600}, failures: 61, want: 600 * time.Second},
		"linear, 1000 failures":           {backoff: policy.Backoff{Type: linear, BaseSeconds: 10, Factor: 1, MaxSeconds: 600}, failures: 1000, want: 600 * time.Second},
		"linear, API maxima, MaxInt32 failures: no overflow": {
			backoff: policy.Backoff{Type: linear, BaseSeconds: 86400, Factor: 1, MaxSeconds: 2592000}, failures: math.MaxInt32, want: 2592000 * time.Second,
		},
		"linear ignores a factor": {backoff: policy.Backoff{Type: linear, BaseSeconds: 10, Factor: 5, MaxSeconds: 600}, failures: 3, want: 30 * time.Second},

		// Fixed.
		"fixed, 1 failure":       {backoff: policy.Backoff{Type: fixed, BaseSeconds: 30, Factor: 1, MaxSeconds: 600}, failures: 1, want: 30 * time.Second},
		"fixed, 5 failures":      {backoff: policy.Backoff{Type: fixed, BaseSeconds: 30, Factor: 1, MaxSeconds: 600}, failures: 5, want: 30 * time.Second},
		"fixed, 1000 failures":   {backoff: policy.Backoff{Type: fixed, BaseSeconds: 30, Factor: 1, MaxSeconds: 600}, failures: 1000, want: 30 * time.Second},
		"fixed ignores a factor": {backoff: policy.Backoff{Type: fixed, BaseSeconds: 30, Factor: 3, MaxSeconds: 600}, failures: 4, want: 30 * time.Second},

		// No counted failure yet.
		"0 failures":        {backoff: builtIn, failures: 0, want: 0},
		"-1 failures":       {backoff: builtIn, failures: -1, want: 0},
		"MinInt32 failures": {backoff: builtIn, failures: math.MinInt32, want: 0},
		"0 failures with jitter": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 10, Factor: 2, MaxSeconds: 600, JitterPercent: 50}, failures: 0, want: 0,
		},

		// Jitter 0 (and below) gives exact values.
		"jitter 0 is exact": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 10, Factor: 2, MaxSeconds: 600, JitterPercent: 0}, failures: 4, want: 80 * time.Second,
		},
		"negative jitter is treated as 0": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 10, Factor: 2, MaxSeconds: 600, JitterPercent: -20}, failures: 4, want: 80 * time.Second,
		},
		"jitter too small to move 1 s": {
			backoff: policy.Backoff{Type: fixed, BaseSeconds: 1, Factor: 1, MaxSeconds: 1, JitterPercent: 10}, failures: 1, want: time.Second,
		},
		"jitter 5% of 10 s rounds to 10 s": {
			backoff: policy.Backoff{Type: fixed, BaseSeconds: 10, Factor: 1, MaxSeconds: 10, JitterPercent: 5}, failures: 3, want: 10 * time.Second,
		},

		// Hand-made backoffs that policy.Resolve never returns.
		"zero backoff":  {backoff: policy.Backoff{}, failures: 3, want: 0},
		"base 0":        {backoff: policy.Backoff{Type: exponential, Factor: 2, MaxSeconds: 600}, failures: 3, want: 0},
		"negative base": {backoff: policy.Backoff{Type: fixed, BaseSeconds: -5, MaxSeconds: 600}, failures: 3, want: 0},
		"unknown type acts as Exponential": {
			backoff: policy.Backoff{Type: "Sideways", BaseSeconds: 10, Factor: 2, MaxSeconds: 600}, failures: 3, want: 40 * time.Second,
		},
		"empty type acts as Exponential": {
			backoff: policy.Backoff{BaseSeconds: 10, Factor: 2, MaxSeconds: 600}, failures: 3, want: 40 * time.Second,
		},
		"exponential factor 1 does not grow": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 10, Factor: 1, MaxSeconds: 600}, failures: math.MaxInt32, want: 10 * time.Second,
		},
		"exponential factor 0 does not grow": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 10, MaxSeconds: 600}, failures: 5, want: 10 * time.Second,
		},
		"cap below base caps at base": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 50, Factor: 2, MaxSeconds: 10}, failures: 4, want: 50 * time.Second,
		},
		"no cap: 31 failures": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 1, Factor: 2}, failures: 31, want: (1 << 30) * time.Second,
		},
		"no cap: saturates at MaxInt32 seconds": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 1, Factor: 2}, failures: 1000, want: math.MaxInt32 * time.Second,
		},
		"no cap, linear: saturates at MaxInt32 seconds": {
			backoff: policy.Backoff{Type: linear, BaseSeconds: math.MaxInt32}, failures: math.MaxInt32, want: math.MaxInt32 * time.Second,
		},
		"no cap, factor MaxInt32: no overflow": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: math.MaxInt32, Factor: math.MaxInt32}, failures: 1000, want: math.MaxInt32 * time.Second,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Delay(tc.backoff, tc.failures, uid); got != tc.want {
				t.Errorf("Delay(%+v, %d) = %v, want %v", tc.backoff, tc.failures, got, tc.want)
			}
		})
	}
}

// TestDelayJitterBounds draws the wait for many seeds and checks every value lies within ±p% of
// the wait without jitter, is whole seconds, and that the values spread over the range.
func TestDelayJitterBounds(t *testing.T) {
	const seeds = 2000
	cases := map[string]struct {
		backoff  policy.Backoff
		failures int32
		// exact is the wait without jitter.
		exact int64
	}{
		"exponential, 10% of 80 s": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 10, Factor: 2, MaxSeconds: 600, JitterPercent: 10}, failures: 4, exact: 80,
		},
		"exponential, 20% of the 600 s cap": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 10, Factor: 2, MaxSeconds: 600, JitterPercent: 20}, failures: 1000, exact: 600,
		},
		"linear, 50% of 30 s": {
			backoff: policy.Backoff{Type: linear, BaseSeconds: 10, Factor: 1, MaxSeconds: 600, JitterPercent: 50}, failures: 3, exact: 30,
		},
		"fixed, 15% of 10 s: 9, 10 or 11 s": {
			backoff: policy.Backoff{Type: fixed, BaseSeconds: 10, Factor: 1, MaxSeconds: 600, JitterPercent: 15}, failures: 2, exact: 10,
		},
		"fixed, 100% of 10 s: 0 to 20 s": {
			backoff: policy.Backoff{Type: fixed, BaseSeconds: 10, Factor: 1, MaxSeconds: 600, JitterPercent: 100}, failures: 1, exact: 10,
		},
		"jitter above 100 is treated as 100": {
			backoff: policy.Backoff{Type: fixed, BaseSeconds: 10, Factor: 1, MaxSeconds: 600, JitterPercent: 250}, failures: 1, exact: 10,
		},
		"1% of the API maximum cap": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 86400, Factor: 10, MaxSeconds: 2592000, JitterPercent: 1}, failures: 1000, exact: 2592000,
		},
		"100% of MaxInt32 seconds: no overflow": {
			backoff: policy.Backoff{Type: exponential, BaseSeconds: 1, Factor: 2, JitterPercent: 100}, failures: 1000, exact: math.MaxInt32,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := int64(min(max(tc.backoff.JitterPercent, 0), 100))
			// Whole seconds s with exact·(1-p/100) ≤ s ≤ exact·(1+p/100).
			lo := (tc.exact*(100-p) + 99) / 100
			hi := tc.exact * (100 + p) / 100
			var sum float64
			gotMin, gotMax := int64(math.MaxInt64), int64(math.MinInt64)
			distinct := map[int64]bool{}
			for i := range seeds {
				seed := fmt.Sprintf("job-%d", i)
				d := Delay(tc.backoff, tc.failures, seed)
				if d%time.Second != 0 {
					t.Fatalf("Delay(seed %q) = %v, not whole seconds", seed, d)
				}
				s := int64(d / time.Second)
				if s < lo || s > hi || s < 0 {
					t.Fatalf("Delay(seed %q) = %ds, outside [%d, %d]", seed, s, lo, hi)
				}
				sum += float64(s)
				gotMin, gotMax = min(gotMin, s), max(gotMax, s)
				distinct[s] = true
			}
			if len(distinct) < 2 {
				t.Fatalf("all %d seeds gave the same wait %ds", seeds, gotMin)
			}
			// Uniform over [lo, hi]: both ends are nearly reached and the mean is near the middle.
			width := float64(hi - lo)
			slack := max(width/20, 1)
			if float64(gotMin-lo) > slack || float64(hi-gotMax) > slack {
				t.Errorf("waits span [%d, %d]s, want nearly all of [%d, %d]", gotMin, gotMax, lo, hi)
			}
			mean, mid := sum/seeds, float64(lo+hi)/2
			if math.Abs(mean-mid) > width/20 {
				t.Errorf("mean wait %.1fs, want near %.1fs", mean, mid)
			}
			if n := hi - lo + 1; n <= 64 && int64(len(distinct)) != n {
				t.Errorf("%d distinct waits, want all %d whole seconds of [%d, %d]", len(distinct), n, lo, hi)
			}
		})
	}
}

// TestDelayJitterVariesWithFailures checks that one job's successive waits are not all scaled
// alike: the failure count takes part in the draw.
func TestDelayJitterVariesWithFailures(t *testing.T) {
	b := policy.Backoff{Type: fixed, BaseSeconds: 1000, Factor: 1, MaxSeconds: 1000, JitterPercent: 50}
	for _, seed := range []string{uid, "a", "", "job-1"} {
		t.Run(fmt.Sprintf("seed %q", seed), func(t *testing.T) {
			distinct := map[time.Duration]bool{}
			var lowHalf int
			for f := int32(1); f <= 200; f++ {
				d := Delay(b, f, seed)
				distinct[d] = true
				if d < 1000*time.Second {
					lowHalf++
				}
			}
			if len(distinct) < 150 {
				t.Errorf("200 failure counts gave %d distinct waits, want at least 150", len(distinct))
			}
			if lowHalf < 60 || lowHalf > 140 {
				t.Errorf("%d of 200 waits below the unjittered wait, want about 100", lowHalf)
			}
		})
	}
}

func TestDelayDeterministic(t *testing.T) {
	b := policy.Backoff{Type: exponential, BaseSeconds: 10, Factor: 2, MaxSeconds: 600, JitterPercent: 20}
	cases := map[string]struct {
		failures int32
		seed     string
	}{
		"uid, 1 failure":     {failures: 1, seed: uid},
		"uid, 5 failures":    {failures: 5, seed: uid},
		"uid, 1000 failures": {failures: 1000, seed: uid},
		"empty seed":         {failures: 3, seed: ""},
		"short seed":         {failures: 3, seed: "a"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			first := Delay(b, tc.failures, tc.seed)
			for range 100 {
				if got := Delay(b, tc.failures, tc.seed); got != first {
					t.Fatalf("Delay(%d, %q) = %v, then %v", tc.failures, tc.seed, first, got)
				}
			}
		})
	}
}

// TestDelayStable pins jittered values: a change here changes the waits that running managers
// computed for existing jobs, so it must be deliberate.
func TestDelayStable(t *testing.T) {
	b := policy.Backoff{Type: exponential, BaseSeconds: 10, Factor: 2, MaxSeconds: 600, JitterPercent: 20}
	cases := map[string]struct {
		failures int32
		seed     string
		want     time.Duration
	}{
		"uid, 1 failure":       {failures: 1, seed: uid, want: 11 * time.Second},
		"uid, 2 failures":      {failures: 2, seed: uid, want: 19 * time.Second},
		"uid, 5 failures":      {failures: 5, seed: uid, want: 137 * time.Second},
		"uid, 1000 failures":   {failures: 1000, seed: uid, want: 572 * time.Second},
		"a, 1 failure":         {failures: 1, seed: "a", want: 12 * time.Second},
		"a, 1000 failures":     {failures: 1000, seed: "a", want: 571 * time.Second},
		"empty, 5 failures":    {failures: 5, seed: "", want: 166 * time.Second},
		"job-1, 1000 failures": {failures: 1000, seed: "job-1", want: 719 * time.Second},
		"job-2, 1000 failures": {failures: 1000, seed: "job-2", want: 598 * time.Second},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Delay(b, tc.failures, tc.seed); got != tc.want {
				t.Errorf("Delay(%d, %q) = %v, want %v", tc.failures, tc.seed, got, tc.want)
			}
		})
	}
}

// TestDelaySeedSeparation checks that seed and failure count are not simply concatenated:
// ("a1", 1) and ("a", 11) are different draws.
func TestDelaySeedSeparation(t *testing.T) {
	b := policy.Backoff{Type: fixed, BaseSeconds: 2592000, Factor: 1, MaxSeconds: 2592000, JitterPercent: 100}
	pairs := map[string]struct {
		seedA     string
		failuresA int32
		seedB     string
		failuresB int32
	}{
		"a1/1 and a/11":   {seedA: "a1", failuresA: 1, seedB: "a", failuresB: 11},
		"x/1 and x/257":   {seedA: "x", failuresA: 1, seedB: "x", failuresB: 257},
		"uid/1 and uid/2": {seedA: uid, failuresA: 1, seedB: uid, failuresB: 2},
		"job-1 and job-2": {seedA: "job-1", failuresA: 3, seedB: "job-2", failuresB: 3},
	}
	for name, tc := range pairs {
		t.Run(name, func(t *testing.T) {
			a, b := Delay(b, tc.failuresA, tc.seedA), Delay(b, tc.failuresB, tc.seedB)
			if a == b {
				t.Errorf("both draws gave %v", a)
			}
		})
	}
}

func TestNextAttemptTime(t *testing.T) {
	failedAt := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	berlin := time.FixedZone("CET", 3600)
	jittered := policy.Backoff{Type: exponential, BaseSeconds: 10, Factor: 2, MaxSeconds: 600, JitterPercent: 20}
	cases := map[string]struct {
		failureTime time.Time
		backoff     policy.Backoff
		failures    int32
		want        time.Time
	}{
		"default, 1 failure": {
			failureTime: failedAt, backoff: builtIn, failures: 1, want: failedAt.Add(10 * time.Second),
		},
		"default, 3 failures": {
			failureTime: failedAt, backoff: builtIn, failures: 3, want: failedAt.Add(40 * time.Second),
		},
		"default, 1000 failures: capped": {
			failureTime: failedAt, backoff: builtIn, failures: 1000, want: failedAt.Add(10 * time.Minute),
		},
		"no failure: the failure time itself": {
			failureTime: failedAt, backoff: builtIn, failures: 0, want: failedAt,
		},
		"sub-second failure time is kept": {
			failureTime: failedAt.Add(500 * time.Millisecond), backoff: builtIn, failures: 2,
			want: time.Date(2026, 11, 23, 10, 0, 20, int(500*time.Millisecond), time.UTC),
		},
		"the failure time's zone is kept": {
			failureTime: failedAt.In(berlin), backoff: builtIn, failures: 2, want: failedAt.Add(20 * time.Second).In(berlin),
		},
		"jittered: failure time plus the pinned delay": {
			failureTime: failedAt, backoff: jittered, failures: 5, want: failedAt.Add(137 * time.Second),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := NextAttemptTime(tc.failureTime, tc.backoff, tc.failures, uid)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("NextAttemptTime() (-want +got):\n%s", diff)
			}
			if got.Location() != tc.want.Location() {
				t.Errorf("NextAttemptTime() in %v, want %v", got.Location(), tc.want.Location())
			}
			if want := tc.failureTime.Add(Delay(tc.backoff, tc.failures, uid)); !got.Equal(want) {
				t.Errorf("NextAttemptTime() = %v, want failure time + Delay = %v", got, want)
			}
		})
	}
}

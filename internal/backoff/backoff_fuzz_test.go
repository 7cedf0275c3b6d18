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
	"math"
	"math/big"
	"testing"
	"time"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/policy"
)

// referenceWait is the documented wait before jitter, in whole seconds, computed with big
// integers (so it cannot overflow, whatever the inputs): the oracle Delay is checked against.
func referenceWait(b policy.Backoff, failures int32) *big.Int {
	base := big.NewInt(int64(b.BaseSeconds))
	limit := big.NewInt(int64(b.MaxSeconds))
	if b.MaxSeconds < 1 {
		limit = big.NewInt(math.MaxInt32)
	}
	if limit.Cmp(base) < 0 {
		limit.Set(base)
	}
	w := new(big.Int).Set(base)
	switch b.Type {
	case kickqv1alpha1.BackoffFixed:
	case kickqv1alpha1.BackoffLinear:
		w.Mul(base, big.NewInt(int64(failures)))
	default:
		if b.Factor >= 2 {
			f := big.NewInt(int64(b.Factor))
			for n := int32(1); n < failures && w.Cmp(limit) < 0; n++ {
				w.Mul(w, f)
			}
		}
	}
	if w.Cmp(limit) > 0 {
		w.Set(limit)
	}
	return w
}

var backoffTypes = []kickqv1alpha1.BackoffType{
	kickqv1alpha1.BackoffFixed, kickqv1alpha1.BackoffLinear, kickqv1alpha1.BackoffExponential, "Unknown",
}

// FuzzDelay checks the backoff arithmetic on any policy a hand-made Backoff can hold, resolved or
// not: the wait is never negative, a whole number of seconds, the documented value (checked against
// a big-integer computation) spread by at most the jitter, the same every time, and never
// overflows into the time the next attempt is due.
func FuzzDelay(f *testing.F) {
	f.Add(uint8(2), int32(10), int32(2), int32(3600), int32(0), int32(3), "uid-1", int64(1_800_000_000))
	f.Add(uint8(2), int32(1), int32(math.MaxInt32), int32(0), int32(100), int32(math.MaxInt32), "", int64(0))
	f.Add(uint8(1), int32(math.MaxInt32), int32(0), int32(math.MaxInt32), int32(50), int32(math.MaxInt32), "x", int64(-1))
	f.Add(uint8(0), int32(5), int32(-3), int32(-1), int32(-20), int32(1), "job-2", int64(4_000_000_000))
	f.Add(uint8(3), int32(7), int32(1), int32(2), int32(1000), int32(40), "seed", int64(1))
	f.Fuzz(func(t *testing.T, typ uint8, base, factor, maxSeconds, jitterPercent, failures int32, seed string, failedAt int64) {
		b := policy.Backoff{Type: backoffTypes[int(typ)%len(backoffTypes)], BaseSeconds: base, Factor: factor,
			MaxSeconds: maxSeconds, JitterPercent: jitterPercent}
		d := Delay(b, failures, seed)
		if d < 0 || d%time.Second != 0 {
			t.Fatalf("Delay(%+v, %d) = %v: not a whole, non-negative number of seconds", b, failures, d)
		}
		if again := Delay(b, failures, seed); again != d {
			t.Fatalf("Delay(%+v, %d) = %v, then %v: not deterministic", b, failures, d, again)
		}
		if failures < 1 || base < 1 {
			if d != 0 {
				t.Fatalf("Delay(%+v, %d) = %v; want 0", b, failures, d)
			}
			return
		}
		w := referenceWait(b, failures)
		p := int64(min(max(jitterPercent, 0), 100))
		// [ceil(w(100-p)/100), floor(w(100+p)/100)], and exactly w without jitter.
		lo := new(big.Int).Mul(w, big.NewInt(100-p))
		lo.Add(lo, big.NewInt(99)).Quo(lo, big.NewInt(100))
		hi := new(big.Int).Mul(w, big.NewInt(100+p))
		hi.Quo(hi, big.NewInt(100))
		if hi.Cmp(lo) < 0 {
			hi.Set(lo)
		}
		got := big.NewInt(int64(d / time.Second))
		if got.Cmp(lo) < 0 || got.Cmp(hi) > 0 {
			t.Fatalf("Delay(%+v, %d) = %v; want %s s spread to [%s, %s] s", b, failures, d, w, lo, hi)
		}
		at := time.Unix(failedAt%(1<<40), 0) // about ±35,000 years around 1970
		if next := NextAttemptTime(at, b, failures, seed); !next.Equal(at.Add(d)) || next.Before(at) {
			t.Fatalf("NextAttemptTime(%v, %+v, %d) = %v; want %v + %v", at, b, failures, next, at, d)
		}
	})
}

// FuzzFixedPolicies checks the two fixed schedules on any count: the completion callback's (5 s
// doubling to 300 s) and the pace of retries asked for at once (1 s doubling to 60 s), both
// never decreasing from one failure to the next.
func FuzzFixedPolicies(f *testing.F) {
	for _, n := range []int32{-1, 0, 1, 2, 7, 31, 32, 64, math.MaxInt32 - 1} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n int32) {
		check := func(name string, fn func(int32) time.Duration, first, most time.Duration) {
			d := fn(n)
			switch {
			case n < 1 && d != 0:
				t.Fatalf("%s(%d) = %v; want 0", name, n, d)
			case n >= 1 && (d < first || d > most):
				t.Fatalf("%s(%d) = %v; want %v to %v", name, n, d, first, most)
			case n >= 1 && n < math.MaxInt32 && fn(n+1) < d:
				t.Fatalf("%s(%d) = %v > %s(%d) = %v: the wait shrank", name, n, d, name, n+1, fn(n+1))
			}
		}
		check("NotifyDelay", NotifyDelay, 5*time.Second, 300*time.Second)
		check("ImmediateRetryDelay", ImmediateRetryDelay, time.Second, 60*time.Second)
	})
}

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

// Package backoff computes the wait between a counted failure and the next attempt of a job, and
// between failed deliveries of a job's completion callback (NotifyDelay). It is pure: the jitter is
// drawn from a hash of a seed and the failure count, not from a random source, and the next attempt
// time is computed from the persisted failure time, not from the clock, so a restarted manager
// computes the same values.
package backoff

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/bits"
	"time"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/policy"
)

// Delay returns the wait before the next attempt after failures counted failures:
//
//   - Fixed: BaseSeconds;
//   - Linear: BaseSeconds × failures;
//   - Exponential: BaseSeconds × Factor^(failures-1);
//
// capped at MaxSeconds (before jitter), computed without overflow. With JitterPercent p the wait w
// becomes a whole number of seconds in [w·(1-p/100), w·(1+p/100)], drawn uniformly and
// deterministically from an FNV-64a hash of seed and failures (mixed by MurmurHash3's finalizer),
// so the same job (seed = its UID) gets the same wait for the same failure count every time it is
// computed, and jobs that fail together spread out. The result is a multiple of time.Second and
// never negative; failures < 1 or BaseSeconds < 1 return 0.
//
// A Backoff from policy.Resolve is always complete. For a hand-made one: MaxSeconds < 1 means no
// cap beyond math.MaxInt32 seconds, MaxSeconds < BaseSeconds caps at BaseSeconds, an Exponential
// Factor < 2 does not grow, an unknown Type acts as Exponential, and JitterPercent is clamped to
// [0, 100].
func Delay(b policy.Backoff, failures int32, seed string) time.Duration {
	if failures < 1 || b.BaseSeconds < 1 {
		return 0
	}
	base := int64(b.BaseSeconds)
	limit := int64(b.MaxSeconds)
	if limit < 1 {
		limit = math.MaxInt32
	}
	limit = max(limit, base)

	var wait int64
	switch b.Type {
	case kickqv1alpha1.BackoffFixed:
		wait = base
	case kickqv1alpha1.BackoffLinear:
		wait = base * int64(failures) // < 2^62: cannot overflow
	default:
		wait = base
		if factor := int64(b.Factor); factor >= 2 {
			// At most 31 rounds: wait at least doubles each round and stops at limit < 2^31.
			for n := int32(1); n < failures && wait < limit; n++ {
				wait *= factor // wait < 2^31 and factor ≤ 2^31: cannot overflow
			}
		}
	}
	wait = min(wait, limit)
	return time.Duration(jitter(wait, b.JitterPercent, failures, seed)) * time.Second
}

// NextAttemptTime returns failureTime + Delay(b, failures, seed). failureTime is the failure time
// recorded in status, so the result does not depend on when it is computed.
func NextAttemptTime(failureTime time.Time, b policy.Backoff, failures int32, seed string) time.Time {
	return failureTime.Add(Delay(b, failures, seed))
}

// jitter spreads wait (whole seconds, 0 ≤ wait < 2^31) uniformly over the whole seconds of
// [wait·(1-p/100), wait·(1+p/100)], choosing by a hash of seed and failures.
func jitter(wait int64, percent int32, failures int32, seed string) int64 {
	p := int64(min(max(percent, 0), 100))
	if p == 0 || wait == 0 {
		return wait
	}
	lo := (wait*(100-p) + 99) / 100 // ceiling: never below the bound
	hi := wait * (100 + p) / 100    // floor: never above the bound
	if hi <= lo {
		return lo
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(seed))
	var n [5]byte // a separator, then failures: ("a1", 1) and ("a", 11) hash differently
	binary.BigEndian.PutUint32(n[1:], uint32(failures))
	_, _ = h.Write(n[:])
	// The hash as a fraction of 2^64 in [0, 1), times the number of choices.
	pick, _ := bits.Mul64(mix(h.Sum64()), uint64(hi-lo+1))
	return lo + int64(pick)
}

// mix is MurmurHash3's 64-bit finalizer. FNV's last step multiplies by its prime once, so inputs
// that differ only in their last bytes (failures 1, 2, 3; seeds job-1, job-2) differ little in the
// high bits that pick the jitter; mixing spreads every input bit over the whole word.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

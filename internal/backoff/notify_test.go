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
	"testing"
	"time"
)

func TestNotifyDelay(t *testing.T) {
	for _, tc := range []struct {
		failures int32
		want     time.Duration
	}{
		{failures: math.MinInt32, want: 0},
		{failures: -1, want: 0},
		{failures: 0, want: 0},
		{failures: 1, want: 5 * time.Second},
		{failures: 2, want: 10 * time.Second},
		{failures: 3, want: 20 * time.Second},
		{failures: 4, want: 40 * time.Second},
		{failures: 5, want: 80 * time.Second},
		{failures: 6, want: 160 * time.Second},
		{failures: 7, want: 300 * time.Second}, // 320 s, capped
		{failures: 8, want: 300 * time.Second},
		{failures: 33, want: 300 * time.Second},
		{failures: 64, want: 300 * time.Second},
		{failures: 1000, want: 300 * time.Second},
		{failures: math.MaxInt32, want: 300 * time.Second},
	} {
		if got := NotifyDelay(tc.failures); got != tc.want {
			t.Errorf("NotifyDelay(%d) = %s, want %s", tc.failures, got, tc.want)
		}
	}
}

// NotifyDelay gives what the lifecycle computed by hand before it (5 s << (n-1), capped at 5 min)
// for every count that shift did not overflow.
func TestNotifyDelayMatchesTheShift(t *testing.T) {
	for n := int32(1); n <= 40; n++ {
		want := 5 * time.Second << (n - 1)
		if want > 5*time.Minute || want <= 0 {
			want = 5 * time.Minute
		}
		if got := NotifyDelay(n); got != want {
			t.Errorf("NotifyDelay(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestImmediateRetryDelay(t *testing.T) {
	for n, want := range map[int32]time.Duration{
		-1: 0, 0: 0, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 6: 32 * time.Second,
		7: time.Minute, 8: time.Minute, 1 << 30: time.Minute,
	} {
		if got := ImmediateRetryDelay(n); got != want {
			t.Errorf("ImmediateRetryDelay(%d) = %s, want %s", n, got, want)
		}
	}
}

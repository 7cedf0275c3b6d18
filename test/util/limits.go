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

package util

import (
	"fmt"
	"slices"
	"time"
)

// OverLimit describes the first limit+1 times within one period (a rate limit exceeded), or "".
func OverLimit(times []time.Time, limit int, period time.Duration) string {
	ts := slices.Clone(times)
	slices.SortFunc(ts, time.Time.Compare)
	for i := limit; i < len(ts); i++ {
		if d := ts[i].Sub(ts[i-limit]); d < period {
			return fmt.Sprintf("%d within %s (from %s)", limit+1, d, ts[i-limit].Format(time.RFC3339Nano))
		}
	}
	return ""
}

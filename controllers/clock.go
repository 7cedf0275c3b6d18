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

package controllers

import (
	"time"

	"k8s.io/utils/clock"
)

// Clock is the one clock the controllers and what they run (admission, executors, the report
// store) use: a clock.WithTicker that can also run a function later. k8s.io/utils/clock's
// RealClock and testing.FakeClock both are one.
type Clock interface {
	clock.WithTicker
	AfterFunc(d time.Duration, f func()) clock.Timer
}

// wakeAfter returns the delay until t (at least a millisecond) for ctrl.Result.RequeueAfter. A
// RequeueAfter counts real time, so under any other clock (a test's fake clock) the wake-up also
// goes through the clock's own timers: wake runs when the clock reaches t.
func wakeAfter(clk Clock, t time.Time, wake func()) time.Duration {
	after := max(t.Sub(clk.Now()), time.Millisecond)
	if _, real := clk.(clock.RealClock); !real {
		clk.AfterFunc(after, wake)
	}
	return after
}

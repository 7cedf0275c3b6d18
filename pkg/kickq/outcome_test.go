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

package kickq

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestOutcomeOf(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		err       error
		want      Outcome
		wantAfter time.Duration
	}{
		{name: "nil: Succeed", want: OutcomeSucceed},
		{name: "an error: Fail (counted)", err: boom, want: OutcomeFail},
		{name: "Die", err: Die(boom), want: OutcomeDie},
		{name: "Die(nil)", err: Die(nil), want: OutcomeDie},
		{name: "Die wrapped by the handler", err: fmt.Errorf("rendering: %w", Die(boom)), want: OutcomeDie},
		{name: "RetryAfter", err: RetryAfter(time.Minute, boom), want: OutcomeRetry, wantAfter: time.Minute},
		{name: "RetryAfter a negative time: at once", err: RetryAfter(-time.Second, nil), want: OutcomeRetry},
		{name: "RetryAfter wrapped", err: fmt.Errorf("x: %w", RetryAfter(2*time.Second, boom)), want: OutcomeRetry, wantAfter: 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, after := OutcomeOf(tc.err)
			if got != tc.want || after != tc.wantAfter {
				t.Errorf("OutcomeOf(%v) = %s, %s; want %s, %s", tc.err, got, after, tc.want, tc.wantAfter)
			}
		})
	}
	if !errors.Is(Die(boom), boom) || !errors.Is(RetryAfter(time.Second, boom), boom) {
		t.Error("Die and RetryAfter must wrap their error (errors.Is)")
	}
}

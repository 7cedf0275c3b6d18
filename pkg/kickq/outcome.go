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
	"time"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// Outcome is how a task ended, in the words kickq uses everywhere (webhook answers, the report
// API, pull workers): Succeed, Fail, Die or Retry.
type Outcome = kickqv1alpha1.Outcome

// The outcome words.
const (
	// OutcomeSucceed: the job succeeded (a handler returned a nil error).
	OutcomeSucceed = kickqv1alpha1.OutcomeSucceed
	// OutcomeFail: a counted failure; the job's retry policy decides (any other error).
	OutcomeFail = kickqv1alpha1.OutcomeFail
	// OutcomeDie: the job fails at once, no more attempts (Die).
	OutcomeDie = kickqv1alpha1.OutcomeDie
	// OutcomeRetry: the job runs again, the failure not counted (RetryAfter).
	OutcomeRetry = kickqv1alpha1.OutcomeRetry
)

// dieError is the error Die returns.
type dieError struct{ err error }

func (e *dieError) Error() string {
	if e.err == nil {
		return "die"
	}
	return e.err.Error()
}
func (e *dieError) Unwrap() error { return e.err }

// Die wraps err so that a handler returning it fails the job at once, with no more attempts
// (outcome Die, job reason Died). err may be nil.
func Die(err error) error { return &dieError{err: err} }

// retryError is the error RetryAfter returns.
type retryError struct {
	after time.Duration
	err   error
}

func (e *retryError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("retry after %s", e.after)
	}
	return e.err.Error()
}
func (e *retryError) Unwrap() error { return e.err }

// RetryAfter wraps err so that a handler returning it makes the job run again after d without
// counting a failure (outcome Retry): for a rate-limited or busy dependency. d is rounded up to
// whole seconds; d <= 0 asks for a retry at once, which kickq still spaces out (1 s, doubling)
// and counts as a failure past 5 in a row. err may be nil.
func RetryAfter(d time.Duration, err error) error { return &retryError{after: d, err: err} }

// OutcomeOf is the outcome a handler's error stands for: Succeed for nil, Die for Die, Retry
// (with its delay) for RetryAfter, Fail for any other error. Wrapped errors are looked through
// (errors.As).
func OutcomeOf(err error) (Outcome, time.Duration) {
	if err == nil {
		return OutcomeSucceed, 0
	}
	var die *dieError
	var retry *retryError
	switch {
	case errors.As(err, &die):
		return OutcomeDie, 0
	case errors.As(err, &retry):
		return OutcomeRetry, max(retry.after, 0)
	}
	return OutcomeFail, 0
}

// panicError is a handler's panic, turned into a counted failure.
type panicError struct{ value any }

func (e *panicError) Error() string { return fmt.Sprintf("handler panicked: %v", e.value) }

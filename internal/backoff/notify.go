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
	"time"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/policy"
)

// notifyBackoff is the completion callback's backoff: 5 s after the first failed delivery,
// doubling, at most 5 min, no jitter. A job's retry policy does not apply to its callback.
var notifyBackoff = policy.Backoff{Type: kickqv1alpha1.BackoffExponential, BaseSeconds: 5, Factor: 2, MaxSeconds: 300}

// NotifyDelay returns the wait before the next delivery of a completion callback after failures
// failed deliveries: 5 s, 10 s, 20 s, … doubling up to 300 s, then 300 s for every further
// failure, computed without overflow; 0 for failures < 1. It is Delay with a fixed policy and no
// jitter, so the same count always gives the same wait.
func NotifyDelay(failures int32) time.Duration {
	return Delay(notifyBackoff, failures, "")
}

// immediateRetryBackoff paces retries that their run asked for at once (a Retry outcome without a
// delay, Retry-After: 0, a rule with action Retry): 1 s, doubling, at most 60 s, no jitter, so an
// answer that keeps asking to retry cannot loop hot on the API server every tenant shares.
var immediateRetryBackoff = policy.Backoff{Type: kickqv1alpha1.BackoffExponential, BaseSeconds: 1, Factor: 2, MaxSeconds: 60}

// ImmediateRetryDelay returns the wait before the attempt after the n-th retry in a row that was
// asked for at once: 1 s, 2 s, 4 s, … up to 60 s; 0 for n < 1.
func ImmediateRetryDelay(n int32) time.Duration {
	return Delay(immediateRetryBackoff, n, "")
}

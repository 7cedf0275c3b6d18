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

// Package executor runs attempts of QueueJobs and sends their completion callbacks. An Executor
// starts and stops the attempt's run (a Pod, a webhook call, a pull worker's claim) and reports
// what it observes of it; Callbacks sends a finished job's callback and reports how it went. Both
// only act and observe: the lifecycle decides what an observation means, whether to retry and
// when (the answer's meaning is outcome's, the waits backoff's). Start is idempotent: a repeated
// Start of one attempt never starts a second run (deterministic pod names, stable webhook ids).
package executor

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
)

// Executor starts, stops and observes attempts of one target kind.
type Executor interface {
	// Start starts attempt `attempt` of the job. A repeated Start of the same attempt is harmless.
	Start(ctx context.Context, job *kickqv1alpha1.QueueJob, target attempt.Target, n int32) error
	// Stop stops attempt `attempt` if it still runs; stopping what is gone is not an error.
	Stop(ctx context.Context, job *kickqv1alpha1.QueueJob, n int32) error
	// Observe reports what the executor sees of the attempt's run; the lifecycle classifies it.
	Observe(ctx context.Context, job *kickqv1alpha1.QueueJob, n int32) (attempt.Observation, error)
	// Settled reports whether every run of the job's attempts before `attempt` has ended (is
	// terminal or gone), so that attempt may start without overlapping them.
	Settled(ctx context.Context, job *kickqv1alpha1.QueueJob, n int32) (bool, error)
	// Forget drops what the executor remembers of a job that finished or was deleted.
	Forget(job types.UID)
}

// Limiter charges attempts' side effects to their queue's rate limits at the moment they are made
// (admission.Admission is one): a webhook call right before it is sent, a pod right before it is
// created. A nil Limiter limits nothing.
type Limiter interface {
	// Charge answers whether attempt n of the job may make its side effect now, recording it if
	// so; when not, retryAt is when its slot opens.
	Charge(job types.NamespacedName, n int32) (ok bool, retryAt time.Time)
	// Sent records that the side effect Charge allowed was made by now.
	Sent(job types.NamespacedName, n int32)
}

// NotYetError is what Start answers when the attempt's side effect may not be made yet: its rate
// window has no free slot until At. Nothing was started; the reconciler looks again at At.
type NotYetError struct{ At time.Time }

func (e *NotYetError) Error() string {
	return fmt.Sprintf("the queue's rate limit has no free slot until %s", e.At.UTC().Format(time.RFC3339Nano))
}

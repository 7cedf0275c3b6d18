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

// Package executor runs attempts of QueueJobs. An Executor starts and stops the attempt's run (a
// Pod, a webhook call, a pull worker's claim) and reports what it observes of it; the lifecycle
// decides what that means. Start is idempotent: a repeated Start of one attempt never starts a
// second run (deterministic pod names, stable webhook ids).
package executor

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/outcome"
)

// TargetKind is the kind of target a job runs on.
type TargetKind string

// Target kinds.
const (
	KindPod     TargetKind = "Pod"
	KindWebhook TargetKind = "Webhook"
	KindWorker  TargetKind = "Worker"
)

// Target is the resolved target of a job: its inline target or its queue's handler.
type Target struct {
	Kind TargetKind
	// Handler is the handler key admission limits apply to: the handler's type, "*", or "" for an
	// inline target or the queue's defaultHandler.
	Handler string
	Pod     *kickqv1alpha1.PodTarget
	Webhook *kickqv1alpha1.WebhookTarget
	Worker  *kickqv1alpha1.WorkerTarget
	// AttemptDeadlineSeconds is the job's effective attempt deadline (nil: none); the pod executor
	// sets it as the pod's activeDeadlineSeconds.
	AttemptDeadlineSeconds *int32
}

// Phase is what an executor observes of an attempt.
type Phase string

// Observed phases of an attempt.
const (
	// Missing: nothing of the attempt exists. Expected tells whether it was started and may not
	// be visible yet, Lost whether it was seen and has disappeared.
	Missing Phase = "Missing"
	// NotStarted: created but not running yet (scheduling, image pulls).
	NotStarted Phase = "NotStarted"
	// Running: the attempt runs.
	Running Phase = "Running"
	// Finished: the attempt ended; Result says how.
	Finished Phase = "Finished"
)

// Observation is what an executor knows of one attempt.
type Observation struct {
	Phase Phase
	// Name identifies the run, e.g. the pod's name.
	Name string
	// CreatedAt is when the run was created (the pod's creation time).
	CreatedAt time.Time
	// Expected: Missing, but the executor started it moments ago (its cache has not caught up).
	Expected bool
	// Lost: Missing, but the executor saw it before: someone deleted it or it was evicted.
	Lost bool
	// Deleting: the run is being stopped.
	Deleting bool
	// WaitingReason and WaitingMessage say why a NotStarted run waits (ImagePullBackOff, ...).
	WaitingReason  string
	WaitingMessage string
	// Accepted: a webhook receiver accepted the call (202) and reports the outcome later; the
	// attempt runs until it does or times out.
	Accepted bool
	// Result is set when Finished (and for an Accepted call, its answer).
	Result outcome.Result
}

// Executor starts, stops and observes attempts of one target kind.
type Executor interface {
	// Start starts attempt `attempt` of the job. A repeated Start of the same attempt is harmless.
	Start(ctx context.Context, job *kickqv1alpha1.QueueJob, target Target, attempt int32) error
	// Stop stops attempt `attempt` if it still runs; stopping what is gone is not an error.
	Stop(ctx context.Context, job *kickqv1alpha1.QueueJob, attempt int32) error
	// Observe reports the attempt's state, with the job's retry rules applied to a finished run.
	Observe(ctx context.Context, job *kickqv1alpha1.QueueJob, attempt int32, rules []kickqv1alpha1.RetryRule) (Observation, error)
	// Settled reports whether every run of the job's attempts before `attempt` has ended (is
	// terminal or gone), so that attempt may start without overlapping them.
	Settled(ctx context.Context, job *kickqv1alpha1.QueueJob, attempt int32) (bool, error)
	// Forget drops what the executor remembers of a job that finished or was deleted.
	Forget(job types.UID)
}

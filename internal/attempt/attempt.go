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

// Package attempt holds the value types that the lifecycle and the executors share: the resolved
// target an attempt runs on, what an executor observes of an attempt's run, and what it knows of a
// completion callback, plus the deterministic names and ids of attempts. It decides nothing and
// imports no HTTP or API client code, so the pure packages (lifecycle) stay pure.
package attempt

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
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
	// Finished: the attempt ended; Pod or Result says how.
	Finished Phase = "Finished"
)

// Observation is what an executor knows of one attempt. Executors report what they saw; the
// lifecycle classifies it (a finished pod through the job's retry rules).
type Observation struct {
	Phase Phase
	// Name identifies the run, e.g. the pod's name.
	Name string
	// CreatedAt is when the run was created: the pod's creation time (for an Expected pod, when
	// the executor created it), when a webhook call was queued. It is the start of an attempt
	// that status does not record yet (lifecycle.StartRecordedBySideEffect).
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
	// Pod is the finished pod of a Finished pod attempt; the lifecycle classifies it with the
	// job's retry rules (outcome.Classify).
	Pod *corev1.Pod
	// Result is, for a Finished webhook attempt, how its call ended (outcome.ClassifyResponse), and
	// for an Accepted one, its answer.
	Result outcome.Result
	// Lease is, for a pull worker's claimed attempt, what the cache holds of its worker's Lease.
	Lease WorkerLease
}

// WorkerLease is what the manager's cache holds of the coordination.k8s.io Lease of the pull
// worker that claimed an attempt (attemptHistory[].worker names it).
type WorkerLease struct {
	// Found: the Lease is in the cache.
	Found bool
	// RenewTime is when the worker last renewed it (its spec.renewTime, else acquireTime).
	RenewTime time.Time
	// Duration is its spec.leaseDurationSeconds.
	Duration time.Duration
}

// NotifyState is what the executor knows of a job's completion callback.
type NotifyState struct {
	// InFlight: a delivery is queued or being sent.
	InFlight bool
	// Done: a delivery ended; Delivered says whether the receiver took it (2xx), Message how.
	Done      bool
	Delivered bool
	Message   string
}

// PodName is the deterministic name of the pod of an attempt.
func PodName(job *kickqv1alpha1.QueueJob, attempt int32) string {
	return fmt.Sprintf("%s-%d", job.Name, attempt)
}

// WebhookID is the stable webhook-id of an attempt's call: the same for every delivery of that
// attempt (receivers de-duplicate on it), different for each attempt.
func WebhookID(uid types.UID, attempt int32) string {
	return fmt.Sprintf("%s-%d", uid, attempt)
}

// NotifyID is the stable webhook-id of a job's completion callback.
func NotifyID(uid types.UID) string { return string(uid) + "-notify" }

// Pending is what an attempt reported (through the report API) that status does not show yet.
type Pending struct {
	Attempt int32
	// Seq identifies this snapshot for Ack.
	Seq uint64
	// Taken is when the store handed out this snapshot: the coalescing interval counts from it.
	Taken time.Time

	Progress *kickqv1alpha1.Progress
	Logs     []kickqv1alpha1.LogEntry
	// LogsDropped counts lines dropped before they were written.
	LogsDropped int64
	// Heartbeat is the time of the latest report (zero: none).
	Heartbeat time.Time
	Result    *apiextensionsv1.JSON

	// Outcome, when set, ends the attempt: Succeed, Fail, Die or Retry.
	Outcome    kickqv1alpha1.Outcome
	Message    string
	RetryAfter time.Duration
}

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

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
)

// Labels and annotations written or read by the kickq manager.
const (
	// LabelQueue names the Queue of a QueueJob (on jobs and on their pods).
	LabelQueue = "kickq.dev/queue"
	// LabelType carries spec.type (on jobs and on their pods).
	LabelType = "kickq.dev/type"
	// LabelKey carries spec.key on a job's pods (where it is a valid label value).
	LabelKey = "kickq.dev/key"
	// LabelBatch mirrors spec.batch on jobs.
	LabelBatch = "kickq.dev/batch"
	// LabelJob names the QueueJob that owns a pod.
	LabelJob = "kickq.dev/job"
	// LabelAttempt is the attempt number a pod runs.
	LabelAttempt = "kickq.dev/attempt"
	// LabelScheduledBy names the cron template QueueJob that created a child.
	LabelScheduledBy = "kickq.dev/scheduled-by"
	// AnnotationRunNow fires one child of a cron template now when its value changes.
	AnnotationRunNow = "kickq.dev/run-now"
	// LabelWebhookSigning marks a Secret whose keys may sign webhook calls and callbacks
	// (secretRef): only a Secret labelled kickq.dev/webhook-signing: "true" signs; any other is
	// treated as missing.
	LabelWebhookSigning = "kickq.dev/webhook-signing"
)

// DefaultQueueName is the queue a job names when it names none. Where a namespace has no Queue of
// that name, jobs run under an implicit queue with no limits that allows inline targets.
const DefaultQueueName = "default"

// RateLimit bounds how many attempts start in any sliding window.
type RateLimit struct {
	// limit is the largest number of attempts that may start in any window of periodSeconds.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	Limit int32 `json:"limit"`

	// periodSeconds is the length of the sliding window, in seconds.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	PeriodSeconds int32 `json:"periodSeconds"`
}

// KeyLimits are limits applied to each distinct spec.key separately, inside the queue's and the
// handler's own limits. Jobs without a key form one key-less group that only the queue's and the
// handler's limits bound.
type KeyLimits struct {
	// concurrency is the most jobs of one key Running at once.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	Concurrency *int32 `json:"concurrency,omitempty"`

	// rateLimit bounds the attempts of one key started in any sliding window.
	// +optional
	RateLimit *RateLimit `json:"rateLimit,omitempty"`

	// pauseOnRetryAfter: when an attempt of key K is answered 429 or 503 (with Retry-After, or a
	// pull worker returns RetryAfter), every job of key K in this queue waits until that time
	// (Blocked, KeyPaused) while other keys keep running; without Retry-After the key pauses for
	// the job's backoff.
	// +optional
	PauseOnRetryAfter *bool `json:"pauseOnRetryAfter,omitempty"`
}

// BackoffType names how the wait between failed attempts grows.
// +kubebuilder:validation:Enum=Fixed;Linear;Exponential
type BackoffType string

const (
	// BackoffFixed waits baseSeconds after every failure.
	BackoffFixed BackoffType = "Fixed"
	// BackoffLinear waits baseSeconds times the number of failures so far.
	BackoffLinear BackoffType = "Linear"
	// BackoffExponential waits baseSeconds times factor to the power of (failures so far - 1).
	BackoffExponential BackoffType = "Exponential"
)

// Backoff is the wait between a counted failure and the next attempt. Fields left unset are taken
// from the handler, then the queue, then the built-in default (Exponential, 10 s, factor 2, at most
// 600 s, no jitter).
// +kubebuilder:validation:XValidation:rule="!has(self.factor) || (has(self.type) && self.type == 'Exponential')",message="backoff.factor may only be set with backoff.type Exponential"
// +kubebuilder:validation:XValidation:rule="!has(self.maxSeconds) || !has(self.baseSeconds) || self.maxSeconds >= self.baseSeconds",message="backoff.maxSeconds must be greater than or equal to backoff.baseSeconds"
type Backoff struct {
	// type is how the wait grows: Fixed, Linear or Exponential.
	// +optional
	Type BackoffType `json:"type,omitempty"`

	// baseSeconds is the wait after the first counted failure.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	BaseSeconds *int32 `json:"baseSeconds,omitempty"`

	// factor multiplies the wait after each further counted failure (Exponential only).
	// +optional
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=10
	Factor *int32 `json:"factor,omitempty"`

	// maxSeconds caps the wait, before jitter.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=2592000
	MaxSeconds *int32 `json:"maxSeconds,omitempty"`

	// jitterPercent spreads the wait at random by up to this percentage, up or down.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	JitterPercent *int32 `json:"jitterPercent,omitempty"`
}

// RetryAction is what a matching retry rule does with a failed attempt.
// +kubebuilder:validation:Enum=Die;Retry;Count
type RetryAction string

const (
	// RetryActionDie fails the job at once, with no more attempts.
	RetryActionDie RetryAction = "Die"
	// RetryActionRetry retries without counting the failure against retry.limit.
	RetryActionRetry RetryAction = "Retry"
	// RetryActionCount counts the failure against retry.limit and retries after the backoff.
	RetryActionCount RetryAction = "Count"
)

// ExitCodeOperator relates a container's exit code to a list of values.
// +kubebuilder:validation:Enum=In;NotIn
type ExitCodeOperator string

const (
	// ExitCodeOperatorIn matches when the exit code is one of the values.
	ExitCodeOperatorIn ExitCodeOperator = "In"
	// ExitCodeOperatorNotIn matches when the exit code is none of the values.
	ExitCodeOperatorNotIn ExitCodeOperator = "NotIn"
)

// ExitCodesMatcher matches a failed pod by the exit codes of its containers, as batch/v1
// podFailurePolicy does.
// +kubebuilder:validation:XValidation:rule="self.operator == 'NotIn' || !(0 in self.values)",message="onExitCodes: the value 0 (success) cannot be used with operator In"
type ExitCodesMatcher struct {
	// containerName restricts the match to the container of this name; unset matches any
	// container that terminated with a non-zero exit code.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	ContainerName *string `json:"containerName,omitempty"`

	// operator is In or NotIn.
	// +required
	Operator ExitCodeOperator `json:"operator"`

	// values are the exit codes to compare with.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=255
	// +kubebuilder:validation:items:Minimum=0
	// +kubebuilder:validation:items:Maximum=255
	Values []int32 `json:"values"`
}

// PodConditionMatcher matches a failed pod by one of its conditions.
type PodConditionMatcher struct {
	// type is the pod condition type, for example DisruptionTarget.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=316
	Type string `json:"type"`

	// status is the condition status to match: True, False or Unknown.
	// +optional
	// +kubebuilder:default=True
	// +kubebuilder:validation:Enum=True;False;Unknown
	Status string `json:"status,omitempty"`
}

// RetryRule decides what a failed attempt means. Rules are tried in order; the first that matches
// wins. A failure that no rule matches is counted.
// +kubebuilder:validation:XValidation:rule="has(self.onExitCodes) != has(self.onPodConditions)",message="a retry rule needs exactly one of onExitCodes or onPodConditions"
type RetryRule struct {
	// action is Die (fail the job now), Retry (retry without counting) or Count (count and retry).
	// +required
	Action RetryAction `json:"action"`

	// onExitCodes matches the attempt's pod by container exit codes.
	// +optional
	OnExitCodes *ExitCodesMatcher `json:"onExitCodes,omitempty"`

	// onPodConditions matches the attempt's pod when it has any of these conditions.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	OnPodConditions []PodConditionMatcher `json:"onPodConditions,omitempty"`
}

// RetryPolicy says how often and how soon a failed job is tried again. Fields left unset are taken
// from the handler, then the queue, then the built-in default (limit 3).
type RetryPolicy struct {
	// limit is the number of retries after the first failed attempt that are counted (the meaning of
	// batch/v1 backoffLimit): limit 0 never retries a counted failure.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	Limit *int32 `json:"limit,omitempty"`

	// backoff is the wait before the next attempt after a counted failure.
	// +optional
	Backoff *Backoff `json:"backoff,omitempty"`

	// rules classify failed attempts; the first that matches wins. After them, a pod with the
	// DisruptionTarget condition is retried without counting.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	Rules []RetryRule `json:"rules,omitempty"`
}

// PodTarget runs each attempt as a Pod.
// +kubebuilder:validation:XValidation:rule="!has(self.template.spec.restartPolicy) || self.template.spec.restartPolicy == 'Never'",message="pod.template.spec.restartPolicy must be unset or Never: kickq retries by creating a new pod"
type PodTarget struct {
	// template is the pod each attempt creates, named <job>-<attempt>. kickq sets restartPolicy
	// Never, labels, an owner reference and the KICKQ_* environment variables.
	// +required
	Template corev1.PodTemplateSpec `json:"template"`

	// startDeadlineSeconds bounds how long an attempt's pod may take to start running (image pulls,
	// scheduling); past it the attempt fails with the waiting reason and its pod is deleted.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	StartDeadlineSeconds *int32 `json:"startDeadlineSeconds,omitempty"`
}

// SecretKeyRef names a key of a Secret in the job's (or queue's) own namespace. The Secret must be
// labelled kickq.dev/webhook-signing: "true" and the key's value must be Standard Webhooks keys
// ("whsec_" + base64, several separated by spaces).
type SecretKeyRef struct {
	// name is the Secret's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key is the key within the Secret. Its value is one or more space-separated Standard Webhooks
	// keys ("whsec_" + base64); each signs every call, so a receiver's secret can be rotated.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// HTTPHeader is a static header sent with each call.
// +kubebuilder:validation:XValidation:rule="!self.name.lowerAscii().startsWith('webhook-') && self.name.lowerAscii() != 'content-type'",message="headers: webhook-* and Content-Type are set by kickq"
type HTTPHeader struct {
	// name is the header name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`
	Name string `json:"name"`

	// value is the header value.
	// +required
	// +kubebuilder:validation:MaxLength=4096
	Value string `json:"value"`
}

// WebhookTarget runs each attempt as a signed HTTP POST (Standard Webhooks).
type WebhookTarget struct {
	// url is the http or https address the call is sent to. Loopback, link-local and metadata
	// addresses, and the cluster's API server, nodes and kickq manager, are refused at dial time
	// unless the manager allows them. A job's own URL must lie under its queue's
	// webhookURLPrefixes when the queue sets them.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://`
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="url must be an absolute http or https URL with a host"
	URL string `json:"url"`

	// secretRef names the Secret key whose value signs each call (webhook-signature). The Secret
	// must carry the label kickq.dev/webhook-signing: "true".
	// +optional
	SecretRef *SecretKeyRef `json:"secretRef,omitempty"`

	// headers are sent with each call.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Headers []HTTPHeader `json:"headers,omitempty"`

	// timeoutSeconds bounds one call (connect, send and read the answer). Default 30.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=600
	TimeoutSeconds *int32 `json:"timeoutSeconds,omitempty"`

	// retryAfterMaxSeconds caps how long a 429 or 503 answer's Retry-After may hold the next
	// attempt back. Default 600.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	RetryAfterMaxSeconds *int32 `json:"retryAfterMaxSeconds,omitempty"`
}

// WorkerTarget marks jobs that pull workers claim and run in the user's own program, through the
// kickq pull-worker library. It has no settings yet.
type WorkerTarget struct{}

// JobPolicies are the settings a queue, a handler or a job may give; the job's value wins, then the
// handler's, then the queue's defaults, then the built-in default.
type JobPolicies struct {
	// retry says how failed attempts are retried.
	// +optional
	Retry *RetryPolicy `json:"retry,omitempty"`

	// attemptDeadlineSeconds bounds one attempt; a timed-out attempt is a counted failure.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=31536000
	AttemptDeadlineSeconds *int32 `json:"attemptDeadlineSeconds,omitempty"`

	// activeDeadlineSeconds bounds the whole job from its first start, across attempts; past it the
	// job fails with reason DeadlineExceeded.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=31536000
	ActiveDeadlineSeconds *int32 `json:"activeDeadlineSeconds,omitempty"`

	// heartbeatTimeoutSeconds, when set, fails a Running attempt that has not reported for this long.
	// At least 5: reports are written to status coalesced, about once a second, in whole seconds.
	// +optional
	// +kubebuilder:validation:Minimum=5
	// +kubebuilder:validation:Maximum=86400
	HeartbeatTimeoutSeconds *int32 `json:"heartbeatTimeoutSeconds,omitempty"`
}

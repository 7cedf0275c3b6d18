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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InlineTargetsPolicy says whether jobs may bring their own target.
// +kubebuilder:validation:Enum=Allow;Deny
type InlineTargetsPolicy string

const (
	// InlineTargetsAllow lets a job carry its own pod, webhook or worker target.
	InlineTargetsAllow InlineTargetsPolicy = "Allow"
	// InlineTargetsDeny makes jobs pick a handler by type; a job with an inline target stays Blocked.
	InlineTargetsDeny InlineTargetsPolicy = "Deny"
)

// AnyType is the handler type that runs jobs whose type no other handler names.
const AnyType = "*"

// HandlerSpec is how jobs run: exactly one target, optional limits inside the queue's, and
// policies that override the queue's defaults.
// +kubebuilder:validation:XValidation:rule="[has(self.pod), has(self.webhook), has(self.worker)].filter(x, x).size() == 1",message="a handler needs exactly one target: pod, webhook or worker"
type HandlerSpec struct {
	// pod runs each attempt as a Pod.
	// +optional
	Pod *PodTarget `json:"pod,omitempty"`

	// webhook runs each attempt as a signed HTTP POST.
	// +optional
	Webhook *WebhookTarget `json:"webhook,omitempty"`

	// worker leaves the jobs to pull workers.
	// +optional
	Worker *WorkerTarget `json:"worker,omitempty"`

	// concurrency is the most jobs of this handler Running at once, inside the queue's concurrency.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	Concurrency *int32 `json:"concurrency,omitempty"`

	// rateLimit bounds the attempts of this handler started in any sliding window, inside the
	// queue's rateLimit.
	// +optional
	RateLimit *RateLimit `json:"rateLimit,omitempty"`

	// keyLimits are limits per distinct spec.key for the jobs of this handler, inside the
	// handler's and the queue's limits (and the queue's keyLimits).
	// +optional
	KeyLimits *KeyLimits `json:"keyLimits,omitempty"`

	JobPolicies `json:",inline"`
}

// Handler runs the jobs whose spec.type equals its type ("*" runs every type no other handler names).
type Handler struct {
	// type is the spec.type of the jobs this handler runs, or "*" for all others.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^(\*|[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$`
	Type string `json:"type"`

	HandlerSpec `json:",inline"`
}

// RetentionPolicy says how long finished jobs of one outcome are kept.
type RetentionPolicy struct {
	// ttlSecondsAfterFinished deletes a finished job this long after it finished (0 = at once).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=31536000
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`

	// historyLimit keeps at most this many finished jobs of the queue, deleting the oldest first.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000
	HistoryLimit *int32 `json:"historyLimit,omitempty"`
}

// Retention deletes finished jobs. It is opt-in: a GitOps tool recreates a job it declared when
// kickq deletes it, and the job runs again; declare such jobs in queues without retention.
type Retention struct {
	// succeeded applies to jobs that ended Succeeded.
	// +optional
	Succeeded *RetentionPolicy `json:"succeeded,omitempty"`

	// failed applies to jobs that ended Failed.
	// +optional
	Failed *RetentionPolicy `json:"failed,omitempty"`
}

// QueueSpec is the configuration of a queue.
// +kubebuilder:validation:XValidation:rule="!has(self.defaultHandler) || !has(self.handlers) || !self.handlers.exists(h, h.type == '*')",message="use either defaultHandler or a handler of type \"*\", not both"
type QueueSpec struct {
	// paused stops starting new attempts; running attempts finish.
	// +optional
	Paused *bool `json:"paused,omitempty"`

	// concurrency is the most jobs of this queue Running at once; unset means no limit.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	Concurrency *int32 `json:"concurrency,omitempty"`

	// rateLimit bounds the attempts started in any sliding window; unset means no limit.
	// +optional
	RateLimit *RateLimit `json:"rateLimit,omitempty"`

	// keyLimits are limits per distinct spec.key, inside the queue's limits: each key gets its
	// own concurrency and rate window; within one priority keys take turns.
	// +optional
	KeyLimits *KeyLimits `json:"keyLimits,omitempty"`

	// inlineTargets says whether a job may bring its own pod, webhook or worker target (Allow) or
	// must pick one of the queue's handlers by type (Deny).
	// +optional
	// +kubebuilder:default=Allow
	InlineTargets InlineTargetsPolicy `json:"inlineTargets,omitempty"`

	// webhookURLPrefixes, when set, are the only places a job of this queue may send its own calls:
	// an inline webhook target's url and a completion callback's url (spec.notify.webhook.url)
	// must each lie under one of them (same scheme, host and port; a path that is the prefix's or
	// continues it at a "/"; any query), else the job waits Blocked with reason
	// WebhookURLNotAllowed. Under inlineTargets Deny they are the callback receivers jobs may name
	// (without them, a job with spec.notify waits Blocked with reason InlineTargetDenied). The
	// handlers' URLs are the queue owner's own and are not checked against them.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=2048
	// +kubebuilder:validation:items:Pattern=`^https?://[^?#]+$`
	// +kubebuilder:validation:XValidation:rule="self.all(p, isURL(p) && url(p).getScheme() in ['http', 'https'] && url(p).getHostname() != '')",message="each webhookURLPrefixes entry must be an absolute http or https URL with a host, and no query or fragment"
	WebhookURLPrefixes []string `json:"webhookURLPrefixes,omitempty"`

	// defaults apply to jobs and handlers of this queue that leave them unset.
	// +optional
	Defaults *JobPolicies `json:"defaults,omitempty"`

	// handlers say how jobs run, chosen by the job's spec.type.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=64
	Handlers []Handler `json:"handlers,omitempty"`

	// defaultHandler runs jobs whose type no handler names (and jobs with no type).
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.pod) || !has(self.pod.template.spec) || (has(self.pod.template.spec.containers) && self.pod.template.spec.containers.all(c, has(c.image) && c.image != '') && (!has(self.pod.template.spec.initContainers) || self.pod.template.spec.initContainers.all(c, has(c.image) && c.image != '')))",message="pod.template: every container and init container needs an image"
	DefaultHandler *HandlerSpec `json:"defaultHandler,omitempty"`

	// retention deletes finished jobs of this queue; unset keeps them.
	// +optional
	Retention *Retention `json:"retention,omitempty"`
}

// QueueCounts are the queue's jobs per phase.
type QueueCounts struct {
	// blocked jobs wait for a queue, a handler, a dependency or a limit.
	// +optional
	Blocked int32 `json:"blocked,omitempty"`
	// delayed jobs wait for their delay or backoff.
	// +optional
	Delayed int32 `json:"delayed,omitempty"`
	// pending jobs are ready and wait for admission.
	// +optional
	Pending int32 `json:"pending,omitempty"`
	// running jobs have an attempt running.
	// +optional
	Running int32 `json:"running,omitempty"`
	// succeeded jobs ended Succeeded.
	// +optional
	Succeeded int32 `json:"succeeded,omitempty"`
	// failed jobs ended Failed.
	// +optional
	Failed int32 `json:"failed,omitempty"`
}

// Queue condition types.
const (
	// QueueReady is True when the queue's configuration is usable.
	QueueReady = "Ready"
	// QueuePaused is True while spec.paused is set.
	QueuePaused = "Paused"
)

// Reasons of the queue's conditions.
const (
	// QueueReasonConfigured: Ready is True.
	QueueReasonConfigured = "Configured"
	// QueueReasonRunning and QueueReasonPaused: Paused is False or True.
	QueueReasonRunning = "Running"
	QueueReasonPaused  = "Paused"
)

// QueueStatus is the observed state of a queue.
type QueueStatus struct {
	// conditions are Ready and Paused (kstatus reads observedGeneration: a queue whose
	// observedGeneration equals its generation is Current).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the spec generation these counts and conditions reflect.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// counts are the queue's jobs per phase.
	// +optional
	Counts QueueCounts `json:"counts,omitempty,omitzero"`

	// startedInWindow is the number of attempts started in the current rate window.
	// +optional
	StartedInWindow int32 `json:"startedInWindow,omitempty"`

	// oldestPendingTime is when the longest-waiting Pending job became ready.
	// +optional
	OldestPendingTime *metav1.Time `json:"oldestPendingTime,omitempty"`

	// statistics are the queue's recent throughput and times, measured by the manager.
	// +optional
	Statistics *QueueStatistics `json:"statistics,omitempty"`

	// keys summarises the queue's jobs by spec.key; unset while no job of the queue has a key.
	// +optional
	Keys *QueueKeys `json:"keys,omitempty"`
}

// MaxBusiestKeys is the most keys status.keys.busiest lists.
const MaxBusiestKeys = 10

// QueueKeys are the queue's keys: how many have work, and the busiest by pending jobs.
type QueueKeys struct {
	// active is the number of distinct keys with a Pending, Blocked-by-a-limit or Running job.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Active int32 `json:"active,omitempty"`

	// busiest are the keys with the most pending jobs, most first (ties by key), at most 10.
	// +optional
	// +listType=map
	// +listMapKey=key
	// +kubebuilder:validation:MaxItems=10
	Busiest []KeyCount `json:"busiest,omitempty"`
}

// KeyCount is one key's jobs.
type KeyCount struct {
	// key is the spec.key of these jobs.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Key string `json:"key"`

	// pending is the number of the key's jobs waiting for admission (Pending, or Blocked by a limit).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Pending int32 `json:"pending,omitempty"`

	// running is the number of the key's jobs Running.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Running int32 `json:"running,omitempty"`
}

// QueueStatistics are a queue's recent throughput and its wait and run times, as the manager
// measured them from the transitions it recorded. The manager keeps them in memory: after it
// restarts they start empty and fill as jobs start and finish. Percentiles are over the newest
// 256 samples of the window.
type QueueStatistics struct {
	// throughputPerMinute is the number of the queue's jobs that finished (Succeeded or Failed)
	// in the last minute.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ThroughputPerMinute int32 `json:"throughputPerMinute,omitempty"`

	// startedPerMinute is the number of attempts that started in the last minute.
	// +optional
	// +kubebuilder:validation:Minimum=0
	StartedPerMinute int32 `json:"startedPerMinute,omitempty"`

	// windowSeconds is the span of the percentiles below: attempts that started (wait) or ended
	// (run) in the last windowSeconds.
	// +optional
	// +kubebuilder:validation:Minimum=0
	WindowSeconds int32 `json:"windowSeconds,omitempty"`

	// waitP50Milliseconds is the median time attempts waited from ready (status.readyTime) to
	// started; unset without a sample in the window.
	// +optional
	// +kubebuilder:validation:Minimum=0
	WaitP50Milliseconds *int64 `json:"waitP50Milliseconds,omitempty"`

	// waitP95Milliseconds is the 95th percentile of that wait.
	// +optional
	// +kubebuilder:validation:Minimum=0
	WaitP95Milliseconds *int64 `json:"waitP95Milliseconds,omitempty"`

	// runP50Milliseconds is the median time attempts ran, from started to ended; unset without
	// a sample in the window.
	// +optional
	// +kubebuilder:validation:Minimum=0
	RunP50Milliseconds *int64 `json:"runP50Milliseconds,omitempty"`

	// runP95Milliseconds is the 95th percentile of that run time.
	// +optional
	// +kubebuilder:validation:Minimum=0
	RunP95Milliseconds *int64 `json:"runP95Milliseconds,omitempty"`
}

// Queue is the configuration of a job queue: limits, handlers and defaults for the QueueJobs that
// name it in spec.queueName.
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=kq,categories=kickq
// +kubebuilder:printcolumn:name="Paused",type=boolean,JSONPath=`.spec.paused`
// +kubebuilder:printcolumn:name="Concurrency",type=integer,JSONPath=`.spec.concurrency`
// +kubebuilder:printcolumn:name="Pending",type=integer,JSONPath=`.status.counts.pending`
// +kubebuilder:printcolumn:name="Running",type=integer,JSONPath=`.status.counts.running`
// +kubebuilder:printcolumn:name="Keys",type=integer,JSONPath=`.status.keys.active`,priority=1
// +kubebuilder:printcolumn:name="Done/min",type=integer,JSONPath=`.status.statistics.throughputPerMinute`
// +kubebuilder:printcolumn:name="Wait-p95-ms",type=integer,JSONPath=`.status.statistics.waitP95Milliseconds`,priority=1
// +kubebuilder:printcolumn:name="Run-p95-ms",type=integer,JSONPath=`.status.statistics.runP95Milliseconds`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name must be at most 63 characters (it is used as a label value)"
type Queue struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the queue's configuration.
	// +optional
	Spec QueueSpec `json:"spec,omitempty"`

	// status is the queue's observed state.
	// +optional
	Status QueueStatus `json:"status,omitempty,omitzero"`
}

// QueueList is a list of Queues.
// +kubebuilder:object:root=true
type QueueList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Queue `json:"items"`
}

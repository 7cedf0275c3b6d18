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
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DependencyRequirement says what the jobs a job waits for must have done.
// +kubebuilder:validation:Enum=AllSucceeded;AllFinished
type DependencyRequirement string

const (
	// RequireAllSucceeded runs the job once every dependency succeeded; a failed dependency fails
	// the job with reason DependencyFailed.
	RequireAllSucceeded DependencyRequirement = "AllSucceeded"
	// RequireAllFinished runs the job once every dependency finished, whatever the outcome.
	RequireAllFinished DependencyRequirement = "AllFinished"
)

// Dependencies are the jobs a job waits for.
// +kubebuilder:validation:XValidation:rule="has(self.batch) || (has(self.jobNames) && size(self.jobNames) > 0)",message="after needs batch or jobNames"
type Dependencies struct {
	// batch waits for every job of this batch (label kickq.dev/batch) in the namespace.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`
	Batch string `json:"batch,omitempty"`

	// jobNames waits for these QueueJobs of the namespace.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	JobNames []string `json:"jobNames,omitempty"`

	// require is AllSucceeded (default) or AllFinished.
	// +optional
	// +kubebuilder:default=AllSucceeded
	Require DependencyRequirement `json:"require,omitempty"`
}

// Notify is called once when the job is terminal.
type Notify struct {
	// webhook receives a signed POST with the job's outcome and result.
	// +required
	Webhook WebhookTarget `json:"webhook"`
}

// ConcurrencyPolicy says what a cron firing does while an earlier child still runs.
// +kubebuilder:validation:Enum=Allow;Forbid;Replace
type ConcurrencyPolicy string

const (
	// ConcurrencyAllow creates the child anyway.
	ConcurrencyAllow ConcurrencyPolicy = "Allow"
	// ConcurrencyForbid skips the firing and records it as missed.
	ConcurrencyForbid ConcurrencyPolicy = "Forbid"
	// ConcurrencyReplace cancels the running child and creates the new one.
	ConcurrencyReplace ConcurrencyPolicy = "Replace"
)

// MissedRunsPolicy says what happens to firings missed during downtime or suspension.
// +kubebuilder:validation:Enum=Skip;RunLatest;RunAll
type MissedRunsPolicy string

const (
	// MissedRunsSkip drops missed firings.
	MissedRunsSkip MissedRunsPolicy = "Skip"
	// MissedRunsRunLatest runs the latest missed firing once.
	MissedRunsRunLatest MissedRunsPolicy = "RunLatest"
	// MissedRunsRunAll runs every missed firing, up to maxMissedRuns.
	MissedRunsRunAll MissedRunsPolicy = "RunAll"
)

// CronSpec makes a QueueJob a template: each firing of the schedule creates a child QueueJob whose
// spec is the template's minus cron. Only suspend may change after creation.
// +kubebuilder:validation:XValidation:rule="self.schedule == oldSelf.schedule",message="cron.schedule is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.timeZone) == has(oldSelf.timeZone) && (!has(self.timeZone) || self.timeZone == oldSelf.timeZone)",message="cron.timeZone is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.concurrencyPolicy) == has(oldSelf.concurrencyPolicy) && (!has(self.concurrencyPolicy) || self.concurrencyPolicy == oldSelf.concurrencyPolicy)",message="cron.concurrencyPolicy is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.startingDeadlineSeconds) == has(oldSelf.startingDeadlineSeconds) && (!has(self.startingDeadlineSeconds) || self.startingDeadlineSeconds == oldSelf.startingDeadlineSeconds)",message="cron.startingDeadlineSeconds is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.missedRuns) == has(oldSelf.missedRuns) && (!has(self.missedRuns) || self.missedRuns == oldSelf.missedRuns)",message="cron.missedRuns is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.maxMissedRuns) == has(oldSelf.maxMissedRuns) && (!has(self.maxMissedRuns) || self.maxMissedRuns == oldSelf.maxMissedRuns)",message="cron.maxMissedRuns is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.successfulJobsHistoryLimit) == has(oldSelf.successfulJobsHistoryLimit) && (!has(self.successfulJobsHistoryLimit) || self.successfulJobsHistoryLimit == oldSelf.successfulJobsHistoryLimit)",message="cron.successfulJobsHistoryLimit is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.failedJobsHistoryLimit) == has(oldSelf.failedJobsHistoryLimit) && (!has(self.failedJobsHistoryLimit) || self.failedJobsHistoryLimit == oldSelf.failedJobsHistoryLimit)",message="cron.failedJobsHistoryLimit is immutable"
type CronSpec struct {
	// schedule is a robfig/cron/v3 expression: five fields, or @every 30s, @hourly and the like.
	// Put the time zone in timeZone, not in a TZ= or CRON_TZ= prefix.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.trim().startsWith('TZ=') && !self.trim().startsWith('CRON_TZ=')",message="cron.schedule must not carry a TZ= or CRON_TZ= prefix: use cron.timeZone"
	Schedule string `json:"schedule"`

	// timeZone is the IANA time zone of the schedule, for example Europe/Berlin; default UTC.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_+\-/]+$`
	TimeZone *string `json:"timeZone,omitempty"`

	// concurrencyPolicy is what a firing does while an earlier child runs: Allow, Forbid (default)
	// or Replace.
	// +optional
	// +kubebuilder:default=Forbid
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`

	// startingDeadlineSeconds: a firing handled later than this after its time is missed.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=31536000
	StartingDeadlineSeconds *int32 `json:"startingDeadlineSeconds,omitempty"`

	// missedRuns is what happens to firings missed during downtime or suspension: Skip, RunLatest
	// (default) or RunAll.
	// +optional
	// +kubebuilder:default=RunLatest
	MissedRuns MissedRunsPolicy `json:"missedRuns,omitempty"`

	// maxMissedRuns caps how many missed firings RunAll runs; default 100.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxMissedRuns *int32 `json:"maxMissedRuns,omitempty"`

	// suspend stops new firings; it may change at any time. The annotation kickq.dev/run-now, set
	// to a new value, fires one child now even while suspended.
	// +optional
	Suspend *bool `json:"suspend,omitempty"`

	// successfulJobsHistoryLimit keeps this many succeeded children; default 3.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	SuccessfulJobsHistoryLimit *int32 `json:"successfulJobsHistoryLimit,omitempty"`

	// failedJobsHistoryLimit keeps this many failed children; default 1.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	FailedJobsHistoryLimit *int32 `json:"failedJobsHistoryLimit,omitempty"`
}

// QueueJobSpec is one job: what to run, with which data, when and how often to try.
// Only priority, suspend, cancel (false to true) and cron.suspend may change after creation.
// +kubebuilder:validation:XValidation:rule="!(has(self.delaySeconds) && has(self.notBeforeTime))",message="set at most one of delaySeconds and notBeforeTime"
// +kubebuilder:validation:XValidation:rule="[has(self.pod), has(self.webhook), has(self.worker)].filter(x, x).size() <= 1",message="set at most one inline target: pod, webhook or worker"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.cancel) || !oldSelf.cancel || (has(self.cancel) && self.cancel)",message="spec.cancel cannot be unset once true"
// +kubebuilder:validation:XValidation:rule="self.queueName == oldSelf.queueName",message="spec.queueName is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.type) == has(oldSelf.type) && (!has(self.type) || self.type == oldSelf.type)",message="spec.type is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.data) == has(oldSelf.data) && (!has(self.data) || self.data == oldSelf.data)",message="spec.data is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.delaySeconds) == has(oldSelf.delaySeconds) && (!has(self.delaySeconds) || self.delaySeconds == oldSelf.delaySeconds)",message="spec.delaySeconds is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.notBeforeTime) == has(oldSelf.notBeforeTime) && (!has(self.notBeforeTime) || self.notBeforeTime == oldSelf.notBeforeTime)",message="spec.notBeforeTime is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.retry) == has(oldSelf.retry) && (!has(self.retry) || self.retry == oldSelf.retry)",message="spec.retry is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.attemptDeadlineSeconds) == has(oldSelf.attemptDeadlineSeconds) && (!has(self.attemptDeadlineSeconds) || self.attemptDeadlineSeconds == oldSelf.attemptDeadlineSeconds)",message="spec.attemptDeadlineSeconds is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.activeDeadlineSeconds) == has(oldSelf.activeDeadlineSeconds) && (!has(self.activeDeadlineSeconds) || self.activeDeadlineSeconds == oldSelf.activeDeadlineSeconds)",message="spec.activeDeadlineSeconds is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.heartbeatTimeoutSeconds) == has(oldSelf.heartbeatTimeoutSeconds) && (!has(self.heartbeatTimeoutSeconds) || self.heartbeatTimeoutSeconds == oldSelf.heartbeatTimeoutSeconds)",message="spec.heartbeatTimeoutSeconds is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.ttlSecondsAfterFinished) == has(oldSelf.ttlSecondsAfterFinished) && (!has(self.ttlSecondsAfterFinished) || self.ttlSecondsAfterFinished == oldSelf.ttlSecondsAfterFinished)",message="spec.ttlSecondsAfterFinished is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.key) == has(oldSelf.key) && (!has(self.key) || self.key == oldSelf.key)",message="spec.key is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.batch) == has(oldSelf.batch) && (!has(self.batch) || self.batch == oldSelf.batch)",message="spec.batch is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.after) == has(oldSelf.after) && (!has(self.after) || self.after == oldSelf.after)",message="spec.after is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.notify) == has(oldSelf.notify) && (!has(self.notify) || self.notify == oldSelf.notify)",message="spec.notify is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.pod) == has(oldSelf.pod) && (!has(self.pod) || self.pod == oldSelf.pod)",message="spec.pod is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.webhook) == has(oldSelf.webhook) && (!has(self.webhook) || self.webhook == oldSelf.webhook)",message="spec.webhook is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.worker) == has(oldSelf.worker) && (!has(self.worker) || self.worker == oldSelf.worker)",message="spec.worker is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.cron) == has(oldSelf.cron)",message="spec.cron cannot be added or removed"
type QueueJobSpec struct {
	// queueName is the Queue this job runs in. Where no Queue named "default" exists, jobs of
	// that name run under an implicit queue with no limits.
	// +optional
	// +kubebuilder:default=default
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`
	QueueName string `json:"queueName,omitempty"`

	// type chooses the queue's handler for this job (label-value syntax).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`
	Type string `json:"type,omitempty"`

	// data is a JSON object handed to the job's worker (KICKQ_DATA, the webhook payload).
	// Its size is capped by the manager.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Data *apiextensionsv1.JSON `json:"data,omitempty"`

	// key names what this job is limited and shared fairly by: a customer, tenant or account
	// (label-value syntax). The queue's and handler's keyLimits apply to each distinct key;
	// within one priority admission takes keys in turn. Unset: the job belongs to the key-less
	// group, bound only by the queue's and handler's limits.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`
	Key string `json:"key,omitempty"`

	// priority orders ready jobs of a queue: higher first, first-come first-served among equals.
	// It may change while the job waits. Default 0.
	// +optional
	// +kubebuilder:validation:Minimum=-1000000
	// +kubebuilder:validation:Maximum=1000000
	Priority *int32 `json:"priority,omitempty"`

	// delaySeconds holds the job this long after creation before its first attempt.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=31536000
	DelaySeconds *int32 `json:"delaySeconds,omitempty"`

	// notBeforeTime holds the job until this time.
	// +optional
	NotBeforeTime *metav1.Time `json:"notBeforeTime,omitempty"`

	// suspend holds the job before its next attempt; a running attempt finishes.
	// +optional
	Suspend *bool `json:"suspend,omitempty"`

	// cancel stops the running attempt and ends the job Failed with reason Cancelled. Once true it
	// cannot be set back.
	// +optional
	Cancel *bool `json:"cancel,omitempty"`

	JobPolicies `json:",inline"`

	// ttlSecondsAfterFinished deletes the job this long after it finished (0 = at once).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=31536000
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`

	// batch groups jobs: kubectl get kqj --field-selector spec.batch=NAME lists them, and
	// spec.after.batch waits for them.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`
	Batch string `json:"batch,omitempty"`

	// after makes the job wait (Blocked, DependenciesPending) for other jobs.
	// +optional
	After *Dependencies `json:"after,omitempty"`

	// notify is called once the job is terminal.
	// +optional
	Notify *Notify `json:"notify,omitempty"`

	// pod is an inline target: each attempt runs as a Pod from this template.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.template.spec) || (has(self.template.spec.containers) && self.template.spec.containers.all(c, has(c.image) && c.image != '') && (!has(self.template.spec.initContainers) || self.template.spec.initContainers.all(c, has(c.image) && c.image != '')))",message="pod.template: every container and init container needs an image"
	Pod *PodTarget `json:"pod,omitempty"`

	// webhook is an inline target: each attempt is a signed HTTP POST.
	// +optional
	Webhook *WebhookTarget `json:"webhook,omitempty"`

	// worker is an inline target: pull workers claim the job.
	// +optional
	Worker *WorkerTarget `json:"worker,omitempty"`

	// cron makes this QueueJob a template that creates one child QueueJob per firing.
	// +optional
	Cron *CronSpec `json:"cron,omitempty"`
}

// QueueJobPhase is a summary of the job's state; conditions are the source of truth. Clients must
// tolerate new phases.
// +kubebuilder:validation:Enum=Blocked;Delayed;Pending;Running;Succeeded;Failed;Scheduled
type QueueJobPhase string

const (
	// PhaseBlocked waits for a queue, a handler, a dependency or a limit (see the Blocked condition).
	PhaseBlocked QueueJobPhase = "Blocked"
	// PhaseDelayed waits for its delay or for the backoff after a failure (see nextAttemptTime).
	PhaseDelayed QueueJobPhase = "Delayed"
	// PhasePending is ready and waits for the queue to admit it.
	PhasePending QueueJobPhase = "Pending"
	// PhaseRunning has an attempt running.
	PhaseRunning QueueJobPhase = "Running"
	// PhaseSucceeded ended with a successful attempt.
	PhaseSucceeded QueueJobPhase = "Succeeded"
	// PhaseFailed ended without success (see reason).
	PhaseFailed QueueJobPhase = "Failed"
	// PhaseScheduled is a cron template.
	PhaseScheduled QueueJobPhase = "Scheduled"
)

// QueueJob condition types.
const (
	// JobComplete is True once the job succeeded (the batch/v1 name).
	JobComplete = "Complete"
	// JobFailed is True once the job failed for good (the batch/v1 name).
	JobFailed = "Failed"
	// JobSuspended is True while spec.suspend holds the job.
	JobSuspended = "Suspended"
	// JobBlocked is True while the job cannot start; its reason says why.
	JobBlocked = "Blocked"
	// JobReconciling is True while the job has work ahead that needs no one's action: it waits
	// for its delay, its turn, a limit or its dependencies, or an attempt runs (kstatus and Flux
	// read it as InProgress). Its reason is the job's phase, or the Blocked reason.
	JobReconciling = "Reconciling"
	// JobStalled is True while the job cannot go on without someone's action: it failed, or it
	// is Blocked on its configuration (no queue, no handler, a denied or unlisted target).
	// kstatus and Flux read it as Failed. Its reason is the Failed or Blocked reason.
	JobStalled = "Stalled"
)

// Reasons of the Reconciling and Stalled conditions when they are False.
const (
	// ReasonSettled: the job is Succeeded, Failed (Reconciling), a cron template, or suspended.
	ReasonSettled = "Settled"
	// ReasonNotStalled: Stalled is False: nothing but time or other jobs holds the job.
	ReasonNotStalled = "NotStalled"
)

// Reasons of the Blocked condition.
const (
	ReasonQueueNotFound       = "QueueNotFound"
	ReasonHandlerNotFound     = "HandlerNotFound"
	ReasonInlineTargetDenied  = "InlineTargetDenied"
	ReasonDependenciesPending = "DependenciesPending"
	ReasonConcurrencyLimited  = "ConcurrencyLimited"
	ReasonRateLimited         = "RateLimited"
	ReasonPaused              = "Paused"
	// ReasonKeyConcurrencyLimited: the job's key has keyLimits.concurrency jobs Running.
	ReasonKeyConcurrencyLimited = "KeyConcurrencyLimited"
	// ReasonKeyRateLimited: the job's key started keyLimits.rateLimit.limit attempts in the window.
	ReasonKeyRateLimited = "KeyRateLimited"
	// ReasonKeyPaused: the job's key waits for a Retry-After (keyLimits.pauseOnRetryAfter).
	ReasonKeyPaused = "KeyPaused"

	// ReasonWebhookURLNotAllowed: the job's own webhook or notify URL is not under its queue's
	// spec.webhookURLPrefixes.
	ReasonWebhookURLNotAllowed = "WebhookURLNotAllowed"
)

// Reasons of a finished job (status.reason and the Complete/Failed conditions).
const (
	ReasonCompleted        = "Completed"
	ReasonRetriesExhausted = "RetriesExhausted"
	ReasonDied             = "Died"
	ReasonDeadlineExceeded = "DeadlineExceeded"
	ReasonDependencyFailed = "DependencyFailed"
	ReasonInvalidSpec      = "InvalidSpec"
	ReasonCancelled        = "Cancelled"
)

// Other reasons of the job's conditions.
const (
	// ReasonUnblocked: the Blocked condition turned False.
	ReasonUnblocked = "Unblocked"
	// ReasonSuspended and ReasonResumed: the Suspended condition turned True or False.
	ReasonSuspended = "Suspended"
	ReasonResumed   = "Resumed"
)

// Reasons of an attempt's end (status.attemptHistory[].reason), besides the ones its run gives
// (a container's reason, an HTTP answer's).
const (
	// AttemptReasonReported: the attempt reported its outcome through the report API.
	AttemptReasonReported = "Reported"
	// AttemptReasonPodLost: the attempt's pod disappeared.
	AttemptReasonPodLost = "PodLost"
	// AttemptReasonHeartbeatTimeout: a running attempt sent no report for heartbeatTimeoutSeconds.
	AttemptReasonHeartbeatTimeout = "HeartbeatTimeout"
	// AttemptReasonAttemptDeadlineExceeded: the attempt ran longer than attemptDeadlineSeconds.
	AttemptReasonAttemptDeadlineExceeded = "AttemptDeadlineExceeded"
	// AttemptReasonStartDeadlineExceeded: the pod did not start, or could not be created, within
	// pod.startDeadlineSeconds (10 minutes when unset, for creates).
	AttemptReasonStartDeadlineExceeded = "StartDeadlineExceeded"
	// AttemptReasonPodRefused: the API server refused the attempt's pod (validation, Pod Security
	// or another admission policy: Die; a missing service account: a counted failure).
	AttemptReasonPodRefused = "PodRefused"
	// AttemptReasonQuotaExceeded: a ResourceQuota refused the attempt's pod (a counted failure).
	AttemptReasonQuotaExceeded = "QuotaExceeded"
	// AttemptReasonHandlerChanged: the attempt's handler was edited to another kind of target or
	// removed while it ran, and the attempt had to be started again.
	AttemptReasonHandlerChanged = "HandlerChanged"
	// AttemptReasonCompleted: the run ended successfully.
	AttemptReasonCompleted = "Completed"
	// AttemptReasonError: a container failed without a more specific reason.
	AttemptReasonError = "Error"
	// Webhook calls that did not get an answer, or could not be made.
	AttemptReasonTimeout           = "Timeout"
	AttemptReasonConnectionError   = "ConnectionError"
	AttemptReasonAddressRefused    = "AddressRefused"
	AttemptReasonInvalidURL        = "InvalidURL"
	AttemptReasonInvalidPayload    = "InvalidPayload"
	AttemptReasonSecretUnavailable = "SecretUnavailable"
	AttemptReasonSecretInvalid     = "SecretInvalid"
	AttemptReasonSigningFailed     = "SigningFailed"
	// Webhook answers (status.attemptHistory[].reason): 202, 410, 429/503 with Retry-After, any
	// other non-2xx status, and a JSON body naming the outcome.
	AttemptReasonAccepted        = "Accepted"
	AttemptReasonGone            = "Gone"
	AttemptReasonRetryAfter      = "RetryAfter"
	AttemptReasonHTTPError       = "HTTPError"
	AttemptReasonReceiverOutcome = "ReceiverOutcome"
)

// Reasons of the Events the manager emits about a job, besides its finishing and Blocked reasons.
const (
	EventReasonStarted       = "Started"
	EventReasonRetrying      = "Retrying"
	EventReasonAttemptFailed = "AttemptFailed"
	EventReasonSuspended     = "Suspended"
	EventReasonNotified      = "Notified"
	EventReasonNotifyFailed  = "NotifyFailed"
	// EventReasonMissedRuns: firings of a cron template did not run (missedRuns,
	// concurrencyPolicy Forbid).
	EventReasonMissedRuns = "MissedRuns"
)

// Outcome is how an attempt ended; the same words serve webhook answers, the report API and pull
// workers.
// +kubebuilder:validation:Enum=Succeed;Fail;Die;Retry
type Outcome string

const (
	// OutcomeSucceed ends the job Succeeded.
	OutcomeSucceed Outcome = "Succeed"
	// OutcomeFail is a counted failure: retried after the backoff while retries remain.
	OutcomeFail Outcome = "Fail"
	// OutcomeDie fails the job at once.
	OutcomeDie Outcome = "Die"
	// OutcomeRetry retries without counting the failure.
	OutcomeRetry Outcome = "Retry"
)

// AttemptRecord is one attempt of a job.
type AttemptRecord struct {
	// number is the attempt's number, from 1.
	// +required
	// +kubebuilder:validation:Minimum=1
	Number int32 `json:"number"`

	// startTime is when the attempt was recorded as started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// finishTime is when the attempt ended.
	// +optional
	FinishTime *metav1.Time `json:"finishTime,omitempty"`

	// outcome is how the attempt ended; unset while it runs.
	// +optional
	Outcome Outcome `json:"outcome,omitempty"`

	// exitCode is the exit code of the attempt's failed (or main) container.
	// +optional
	ExitCode *int32 `json:"exitCode,omitempty"`

	// httpStatusCode is the status of the attempt's webhook answer.
	// +optional
	HTTPStatusCode *int32 `json:"httpStatusCode,omitempty"`

	// podName is the attempt's pod.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PodName string `json:"podName,omitempty"`

	// targetKind is what the attempt runs on (Pod, Webhook or Worker), fixed when it starts: a
	// handler edited or removed while the attempt runs does not move it to another target.
	// +optional
	// +kubebuilder:validation:Enum=Pod;Webhook;Worker
	TargetKind string `json:"targetKind,omitempty"`

	// handler is what runs the attempt: the handler's type, "*", defaultHandler, or inline.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Handler string `json:"handler,omitempty"`

	// worker is the pull worker that claimed the attempt (a Worker target): the name of its
	// coordination.k8s.io Lease in the job's namespace, which is its heartbeat. Unset while the
	// attempt waits for a claim.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Worker string `json:"worker,omitempty"`

	// reason is a CamelCase cause, for example PodLost, ImagePullBackOff or AttemptDeadlineExceeded.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Reason string `json:"reason,omitempty"`

	// message says what happened, for people.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// ResolvedPolicy is the job's policy as resolved when it was first admitted: each field from the
// job, else its handler, else its queue's defaults, else the built-in default. Later changes to
// the queue or handler do not change it.
type ResolvedPolicy struct {
	// handler names what runs the job: "inline", a handler's type, "*", or "defaultHandler".
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Handler string `json:"handler,omitempty"`

	// retry is the resolved retry policy, every backoff field set.
	// +optional
	Retry *RetryPolicy `json:"retry,omitempty"`

	// attemptDeadlineSeconds is the resolved attempt deadline; unset means none.
	// +optional
	// +kubebuilder:validation:Minimum=1
	AttemptDeadlineSeconds *int32 `json:"attemptDeadlineSeconds,omitempty"`

	// activeDeadlineSeconds is the resolved job deadline; unset means none.
	// +optional
	// +kubebuilder:validation:Minimum=1
	ActiveDeadlineSeconds *int32 `json:"activeDeadlineSeconds,omitempty"`

	// heartbeatTimeoutSeconds is the resolved heartbeat timeout; unset means none.
	// +optional
	// +kubebuilder:validation:Minimum=1
	HeartbeatTimeoutSeconds *int32 `json:"heartbeatTimeoutSeconds,omitempty"`
}

// Progress is what the running attempt last reported of its progress.
type Progress struct {
	// percent done, 0 to 100.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Percent int32 `json:"percent,omitempty"`

	// message describes the progress, for example "4/10 pages".
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Message string `json:"message,omitempty"`
}

// LogEntry is one line of the job's log ring.
type LogEntry struct {
	// time is when the line was recorded.
	// +required
	Time metav1.Time `json:"time"`

	// message is the line.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message"`
}

// QueueJobStatus is the observed state of a job.
type QueueJobStatus struct {
	// conditions are Complete, Failed, Suspended and Blocked, and Reconciling and Stalled for
	// kstatus (Flux) and Argo CD: Running, Pending, Delayed and limit-Blocked jobs are
	// Reconciling; Failed jobs and jobs Blocked on their configuration are Stalled; Succeeded,
	// suspended and cron templates (Scheduled) are neither.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the spec generation this status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase summarises the conditions for kubectl get and --field-selector.
	// +optional
	Phase QueueJobPhase `json:"phase,omitempty"`

	// reason is why a finished job ended: Completed, RetriesExhausted, Died, DeadlineExceeded,
	// DependencyFailed, InvalidSpec or Cancelled.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Reason string `json:"reason,omitempty"`

	// message explains the phase and reason, for people.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`

	// attempts is the number of attempts started.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Attempts int32 `json:"attempts,omitempty"`

	// failedAttempts is the number of counted failures, compared with retry.limit.
	// +optional
	// +kubebuilder:validation:Minimum=0
	FailedAttempts int32 `json:"failedAttempts,omitempty"`

	// immediateRetries counts the uncounted retries in a row that their run asked for at once (a
	// Retry outcome without a delay, Retry-After: 0, a retry rule with action Retry). Each waits a
	// growing backoff (1 s, doubling, at most 60 s); past 5 in a row they count as failures. Any
	// other end of an attempt resets it.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ImmediateRetries int32 `json:"immediateRetries,omitempty"`

	// readyTime is when the job last became ready to run (its place among equal priorities).
	// +optional
	ReadyTime *metav1.Time `json:"readyTime,omitempty"`

	// nextAttemptTime is when a Delayed job becomes ready.
	// +optional
	NextAttemptTime *metav1.Time `json:"nextAttemptTime,omitempty"`

	// startTime is when the first attempt started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// finishTime is when the job finished, successfully or not.
	// +optional
	FinishTime *metav1.Time `json:"finishTime,omitempty"`

	// lastHeartbeatTime is when the running attempt last reported.
	// +optional
	LastHeartbeatTime *metav1.Time `json:"lastHeartbeatTime,omitempty"`

	// resolved is the policy the job runs under, fixed when it was first admitted.
	// +optional
	Resolved *ResolvedPolicy `json:"resolved,omitempty"`

	// attemptHistory records the newest attempts (bounded).
	// +optional
	// +listType=map
	// +listMapKey=number
	// +kubebuilder:validation:MaxItems=20
	AttemptHistory []AttemptRecord `json:"attemptHistory,omitempty"`

	// progress is what the running attempt last reported.
	// +optional
	Progress *Progress `json:"progress,omitempty"`

	// logs is a ring of the newest log lines (lifecycle lines and reported lines), bounded by
	// count and bytes.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=100
	Logs []LogEntry `json:"logs,omitempty"`

	// logsDropped counts log lines dropped from the ring.
	// +optional
	// +kubebuilder:validation:Minimum=0
	LogsDropped int64 `json:"logsDropped,omitempty"`

	// result is what the successful attempt returned (any JSON value, size-capped).
	// +optional
	Result *apiextensionsv1.JSON `json:"result,omitempty"`

	// dependencies counts the jobs spec.after waits for, as last seen before the first attempt.
	// +optional
	Dependencies *DependencyCounts `json:"dependencies,omitempty"`

	// notification records the delivery of the completion callback (spec.notify) once the job
	// is terminal.
	// +optional
	Notification *NotificationStatus `json:"notification,omitempty"`

	// lastScheduleTime is when a cron template last fired.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// nextScheduleTime is when a cron template fires next.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`

	// active are the names of a cron template's unfinished children.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MaxLength=63
	Active []string `json:"active,omitempty"`

	// lastSuccessfulTime is when a cron template's child last succeeded.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`

	// missedRuns counts a cron template's firings that were missed.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MissedRuns int64 `json:"missedRuns,omitempty"`

	// lastHandledRunNow is the last value of the kickq.dev/run-now annotation that fired a child.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	LastHandledRunNow string `json:"lastHandledRunNow,omitempty"`
}

// DependencyCounts says how far the jobs a job waits for (spec.after) have got.
type DependencyCounts struct {
	// total is the number of jobs waited for that exist (named jobs and batch members).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Total int32 `json:"total,omitempty"`

	// missing is the number of named jobs (or an empty batch) that do not exist yet.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Missing int32 `json:"missing,omitempty"`

	// finished is the number that are terminal (Succeeded or Failed).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Finished int32 `json:"finished,omitempty"`

	// succeeded is the number that Succeeded.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Succeeded int32 `json:"succeeded,omitempty"`

	// failed is the number that Failed.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Failed int32 `json:"failed,omitempty"`
}

// NotificationStatus is the state of a job's completion callback.
type NotificationStatus struct {
	// id is the callback's stable webhook-id: the same on every delivery attempt.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	ID string `json:"id,omitempty"`

	// deliveredTime is when the receiver accepted the callback (2xx); unset until then.
	// +optional
	DeliveredTime *metav1.Time `json:"deliveredTime,omitempty"`

	// attempts counts the delivery attempts made.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Attempts int32 `json:"attempts,omitempty"`

	// nextAttemptTime is when the next delivery attempt is due after a failed one.
	// +optional
	NextAttemptTime *metav1.Time `json:"nextAttemptTime,omitempty"`

	// failed is true when delivery was given up after the last allowed attempt.
	// +optional
	Failed bool `json:"failed,omitempty"`

	// message says how the last delivery attempt went.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// QueueJob is one job of a queue, run as a Pod, a webhook call or by a pull worker; with cron set,
// a template that creates one child QueueJob per firing.
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=kqj,categories=kickq
// +kubebuilder:printcolumn:name="Queue",type=string,JSONPath=`.spec.queueName`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Attempts",type=integer,JSONPath=`.status.attempts`
// +kubebuilder:printcolumn:name="Progress",type=integer,JSONPath=`.status.progress.percent`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:selectablefield:JSONPath=`.spec.queueName`
// +kubebuilder:selectablefield:JSONPath=`.spec.type`
// +kubebuilder:selectablefield:JSONPath=`.spec.batch`
// +kubebuilder:selectablefield:JSONPath=`.spec.key`
// +kubebuilder:selectablefield:JSONPath=`.status.phase`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name must be at most 63 characters (it names the job's pods and labels)"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.cron) || size(self.metadata.name) <= 52",message="metadata.name of a cron template (spec.cron) must be at most 52 characters: its children add a suffix"
type QueueJob struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the job.
	// +required
	Spec QueueJobSpec `json:"spec"`

	// status is the job's observed state, written by the manager.
	// +optional
	Status QueueJobStatus `json:"status,omitempty,omitzero"`
}

// QueueJobList is a list of QueueJobs.
// +kubebuilder:object:root=true
type QueueJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []QueueJob `json:"items"`
}

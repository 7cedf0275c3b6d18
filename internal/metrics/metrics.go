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

// Package metrics defines every Prometheus metric kickq exports and registers them, once, on
// controller-runtime's registry (sigs.k8s.io/controller-runtime/pkg/metrics.Registry), which the
// manager serves on its metrics endpoint beside controller-runtime's own.
//
// It observes; it never decides. Callers hand it transitions they have recorded (a status write
// that succeeded, a child created, an HTTP answer sent), so that an attempt or a firing is
// counted once however often a reconcile is retried. Label values never carry job names or UIDs,
// and the queues and types that label values name are capped (Limiter): past the cap they are
// counted under "other". It also keeps each queue's recent statistics (Stats) for Queue status.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Label names.
const (
	LabelNamespace = "namespace"
	LabelQueue     = "queue"
	LabelType      = "type"
	LabelPhase     = "phase"
	LabelOutcome   = "outcome"
	LabelLimit     = "limit"
	LabelCodeClass = "code_class"
	LabelResult    = "result"
	LabelCode      = "code"
)

// Values of the limit label of kickq_limited_total.
const (
	LimitConcurrency = "concurrency"
	LimitRate        = "rate"
	LimitPaused      = "paused"
	// The per-key limits (keyLimits) of the job's key.
	LimitKeyConcurrency = "key_concurrency"
	LimitKeyRate        = "key_rate"
	LimitKeyPaused      = "key_paused"
)

// Values of the result label of kickq_cron_firings_total.
const (
	FiringOnTime  = "on_time"
	FiringMissed  = "missed"
	FiringSkipped = "skipped"
)

// Other is the label value that stands for the queues (namespace and queue) and types past the
// cap, and for a webhook call that got no answer (code_class).
const Other = "other"

// durationBuckets span a webhook answer or a short wait (5 ms) to a long job (3 h).
var durationBuckets = []float64{0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 10800}

var (
	// Jobs is the number of jobs per queue and phase, computed from the manager's cache at
	// each scrape (JobsCollector).
	jobsDesc = prometheus.NewDesc("kickq_jobs", "Number of QueueJobs per namespace, queue and phase.",
		[]string{LabelNamespace, LabelQueue, LabelPhase}, nil)
	// oldestPendingDesc is the age of each queue's longest-waiting Pending job.
	oldestPendingDesc = prometheus.NewDesc("kickq_queue_oldest_pending_age_seconds",
		"Age of the queue's longest-waiting Pending job, from its readyTime (0 when none is Pending).",
		[]string{LabelNamespace, LabelQueue}, nil)

	// Attempts counts ended attempts by outcome.
	Attempts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kickq_attempts_total",
		Help: "Attempts that ended, by outcome (Succeed, Fail, Die, Retry)."},
		[]string{LabelNamespace, LabelQueue, LabelType, LabelOutcome})
	// JobWait is the time from ready (status.readyTime) to an attempt's start.
	JobWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kickq_job_wait_seconds",
		Help: "Time from a job's readyTime to the start of its attempt.", Buckets: durationBuckets},
		[]string{LabelNamespace, LabelQueue, LabelType})
	// JobRun is the time from an attempt's start to its end.
	JobRun = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kickq_job_run_seconds",
		Help: "Time from an attempt's start to its end.", Buckets: durationBuckets},
		[]string{LabelNamespace, LabelQueue, LabelType})
	// StartLateness is the time from when an attempt was due (delay, notBeforeTime, backoff, a
	// cron firing) to its start.
	StartLateness = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kickq_start_lateness_seconds",
		Help:    "Time from when an attempt was due (delaySeconds, notBeforeTime, backoff, cron firing) to its start.",
		Buckets: durationBuckets},
		[]string{LabelNamespace, LabelQueue, LabelType})
	// Limited counts the times a job was held by a limit of its queue.
	Limited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kickq_limited_total",
		Help: "Times a job became held by a limit of its queue (concurrency, rate, paused)."},
		[]string{LabelNamespace, LabelQueue, LabelLimit})
	// WebhookRequests counts the webhook calls (attempts and callbacks) by the answer's class.
	WebhookRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kickq_webhook_requests_total",
		Help: "Webhook calls (attempts and completion callbacks) by answer: 1xx..5xx, or other without an answer."},
		[]string{LabelCodeClass})
	// WebhookDuration is how long webhook calls took to answer.
	WebhookDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kickq_webhook_duration_seconds",
		Help: "Time webhook calls took until their answer's headers (or their error).", Buckets: durationBuckets},
		[]string{LabelCodeClass})
	// CronFirings counts cron templates' firings.
	CronFirings = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kickq_cron_firings_total",
		Help: "Cron firings: on_time (child created within the starting deadline), missed (past it, run late or not at all), skipped (concurrencyPolicy Forbid)."},
		[]string{LabelResult})
	// ReportRequests counts the report API's answers by status code.
	ReportRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kickq_report_requests_total",
		Help: "Report API requests by the status code answered."},
		[]string{LabelCode})

	// jobs is the one collector of kickq_jobs and kickq_queue_oldest_pending_age_seconds.
	jobs = &JobsCollector{}
)

// Collectors are every collector this package registers, in a stable order.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{jobs, Attempts, JobWait, JobRun, StartLateness, Limited,
		WebhookRequests, WebhookDuration, CronFirings, ReportRequests}
}

func init() {
	ctrlmetrics.Registry.MustRegister(Collectors()...)
}

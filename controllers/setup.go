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

package controllers

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"time"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/executor"
	"kickq.dev/kickq/internal/fairqueue"
	"kickq.dev/kickq/internal/lifecycle"
	"kickq.dev/kickq/internal/metrics"
	"kickq.dev/kickq/internal/netguard"
	"kickq.dev/kickq/internal/report"
)

// Options configure the controllers.
type Options struct {
	// Clock is the time decisions, timers and wake-ups use; nil means the real clock. Tests pass
	// a fake clock (k8s.io/utils/clock/testing) and step it.
	Clock Clock
	// Client writes to the API server and reads from the cache; nil means the manager's client.
	// Tests wrap it to count writes or inject failures.
	Client client.Client

	// WebhookWorkers is the size of the webhook call pool (default 16).
	WebhookWorkers int
	// WebhookTimeoutMax caps every webhook target's timeoutSeconds; 0 means
	// executor.DefaultWebhookTimeoutMax.
	WebhookTimeoutMax time.Duration
	// WebhookGuard decides which addresses webhook calls may dial; nil refuses loopback,
	// link-local, metadata, unspecified and multicast addresses.
	WebhookGuard *netguard.Guard

	// ReportBindAddress is where the report API listens ("" or "0": not served).
	ReportBindAddress string
	// ReportURL is the report API's base address as workers reach it; empty means
	// http://<the address it listens on>.
	ReportURL string
	// ReportTokenKey signs webhook attempts' report tokens (at least 16 bytes); nil means a
	// random key, which makes tokens of running attempts invalid after a restart.
	ReportTokenKey []byte
	// ReportTokenPrevious, during a key rotation, is the previous key: its tokens are still
	// accepted, and it signs nothing.
	ReportTokenPrevious []byte
	// ReportMaxConnections caps the report API's open connections (0: limits.MaxReportConnections).
	ReportMaxConnections int

	// MetricsMaxQueues and MetricsMaxTypes cap the distinct queues and job types metrics label
	// values name; later ones are counted as "other" (0: metrics.DefaultMaxQueues and
	// DefaultMaxTypes).
	MetricsMaxQueues int
	MetricsMaxTypes  int
	// DefaultRetention is the cluster-wide default retention of finished jobs (--default-retention;
	// nil: none): it applies to a phase for which neither the job (ttlSecondsAfterFinished) nor
	// its queue (spec.retention) sets one.
	DefaultRetention *kickqv1alpha1.Retention
	// RunningWriteDelay is how long a pod attempt or a webhook call no rate limit counts may run
	// before status says Running: one that ends sooner costs one status write (its start and end
	// together). nil: lifecycle.DefaultRunningWriteDelay; 0: Running is written before the
	// attempt starts.
	RunningWriteDelay *time.Duration
}

// Controllers are the registered reconcilers and what they run with.
type Controllers struct {
	Jobs     *QueueJobReconciler
	Queues   *QueueReconciler
	Webhooks *executor.Webhooks
	// Report is the report API (also when it is not served: tests serve its Handler).
	Report *report.Server
	// Endpoint is what attempts are told of the report API.
	Endpoint *report.Endpoint
}

// Setup registers the field indexes and kickq's controllers with a manager.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) (*Controllers, error) {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	c := opts.Client
	if c == nil {
		c = mgr.GetClient()
	}
	if err := SetupIndexes(ctx, mgr); err != nil {
		return nil, fmt.Errorf("registering field indexes: %w", err)
	}
	key := opts.ReportTokenKey
	if key == nil {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("generating a report token key: %w", err)
		}
	}
	var previous [][]byte
	if opts.ReportTokenPrevious != nil {
		previous = append(previous, opts.ReportTokenPrevious)
	}
	signer, err := report.NewSigner(key, previous...)
	if err != nil {
		return nil, err
	}
	endpoint := &report.Endpoint{BaseURL: opts.ReportURL, Signer: signer}
	var listener net.Listener
	if opts.ReportBindAddress != "" && opts.ReportBindAddress != "0" {
		if listener, err = net.Listen("tcp", opts.ReportBindAddress); err != nil {
			return nil, fmt.Errorf("listening for the report API: %w", err)
		}
		if endpoint.BaseURL == "" {
			endpoint.BaseURL = "http://" + listener.Addr().String()
		}
	}

	pods := executor.NewPods(c, mgr.GetCache(), mgr.GetScheme(), opts.Clock)
	pods.Report = endpoint
	jobs := NewQueueJobReconciler(c, opts.Clock, mgr.GetEventRecorder("kickq"),
		map[attempt.TargetKind]executor.Executor{attempt.KindPod: pods})
	pods.Notify = jobs.notify // a refused pod create ends the attempt; no pod event says so
	// Rate limits count pod creates and webhook calls when they are made: admission charges them.
	pods.Limiter = jobs.Admission
	jobs.DefaultRetention = opts.DefaultRetention
	jobs.RunningWriteDelay = lifecycle.DefaultRunningWriteDelay
	if opts.RunningWriteDelay != nil {
		jobs.RunningWriteDelay = max(*opts.RunningWriteDelay, 0)
	}
	jobs.APIReader = mgr.GetAPIReader()
	jobs.Reports = report.NewStore(opts.Clock, jobs.notify)
	jobs.Metrics = metrics.NewRecorder(opts.MetricsMaxQueues, opts.MetricsMaxTypes)
	store, err := jobsSource(ctx, mgr.GetCache())
	if err != nil {
		return nil, fmt.Errorf("finding the cache's QueueJob informer: %w", err)
	}
	metrics.SetJobsSource(&metrics.JobsSource{Store: store, Reader: mgr.GetCache(), Clock: opts.Clock, Leader: mgr.Elected(), Limiter: jobs.Metrics.Limiter})
	workers := opts.WebhookWorkers
	if workers == 0 {
		workers = 16
	}
	hooks := executor.NewWebhooks(executor.WebhookOptions{Workers: workers, TimeoutMax: opts.WebhookTimeoutMax,
		Guard: opts.WebhookGuard, Clock: opts.Clock, Secrets: mgr.GetAPIReader(), Report: endpoint, Notify: jobs.notify,
		Limiter: jobs.Admission})
	jobs.Executors[attempt.KindWebhook] = hooks
	jobs.Executors[attempt.KindWorker] = &executor.Workers{Leases: c}
	jobs.Callbacks = hooks
	if err := mgr.Add(manager.RunnableFunc(hooks.Run)); err != nil {
		return nil, fmt.Errorf("adding the webhook pool: %w", err)
	}
	// Only the leader's reconcilers write reports: until this replica leads, its report API keeps
	// nothing and answers 503 with Retry-After.
	// Pod attempts report with the ServiceAccount token projected into their pod, which a
	// TokenReview vouches for (cached per token; the tokens' expiry is real time).
	podTokens := report.NewPodTokens(report.APIReviewer{Client: c}, clock.RealClock{})
	srv := &report.Server{Reader: c, Live: mgr.GetAPIReader(), Signer: signer, PodTokens: podTokens,
		Store: jobs.Reports, Leader: mgr.Elected()}
	if listener != nil {
		if err := mgr.Add(serveReports(listener, srv, report.ServeOptions{MaxConnections: opts.ReportMaxConnections})); err != nil {
			return nil, fmt.Errorf("adding the report API: %w", err)
		}
	}
	if err := jobs.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the queuejob controller: %w", err)
	}
	leases := &LeaseReconciler{Client: c, Clock: opts.Clock, Wake: jobs.notify}
	if err := leases.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the worker lease controller: %w", err)
	}
	crons := NewCronReconciler(c, mgr.GetScheme(), opts.Clock, mgr.GetEventRecorder("kickq"))
	if err := crons.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the cron controller: %w", err)
	}
	queues := &QueueReconciler{Client: c, Clock: opts.Clock, WriteClock: clock.RealClock{}, Admission: jobs.Admission, Stats: jobs.Metrics.Stats}
	if err := queues.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the queue controller: %w", err)
	}
	retention := &RetentionReconciler{Client: c, PaceClock: clock.RealClock{}, Default: opts.DefaultRetention}
	if err := retention.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the retention controller: %w", err)
	}
	return &Controllers{Jobs: jobs, Queues: queues, Webhooks: hooks, Report: srv, Endpoint: endpoint}, nil
}

// serveReports serves the report API on l while the manager runs, on every replica, so that
// every replica of a Deployment is ready; a replica that is not the leader answers 503 with
// Retry-After and keeps nothing (report.Server.Leader), so reports reach the leader only.
func serveReports(l net.Listener, srv *report.Server, o report.ServeOptions) manager.Runnable {
	return leaderless{manager.RunnableFunc(func(ctx context.Context) error {
		return srv.Serve(ctx, l, o)
	})}
}

type leaderless struct{ manager.Runnable }

func (leaderless) NeedLeaderElection() bool { return false }

// fairQueue gives a controller a work queue that serves namespaces in turn (internal/fairqueue):
// one namespace's backlog of reconciles does not delay another namespace's.
var fairQueue = controller.Options{NewQueue: fairqueue.NewQueue}

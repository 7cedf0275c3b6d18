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

// Command manager runs the kickq operator.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
	_ "time/tzdata" // cron time zones work in images without /usr/share/zoneinfo

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/controllers"
	"kickq.dev/kickq/internal/cachetransform"
	"kickq.dev/kickq/internal/executor"
	"kickq.dev/kickq/internal/lifecycle"
	"kickq.dev/kickq/internal/limits"
	"kickq.dev/kickq/internal/metrics"
	"kickq.dev/kickq/internal/netguard"
)

// options are the manager's command-line settings.
type options struct {
	metricsAddr          string
	probeAddr            string
	secureMetrics        bool
	enableLeaderElection bool
	leaderElectionNS     string
	leaseDuration        time.Duration
	renewDeadline        time.Duration
	retryPeriod          time.Duration
	qps                  float64
	burst                int
	concurrency          int
	pprofAddr            string

	webhookWorkers    int
	webhookTimeoutMax time.Duration
	runningWriteDelay time.Duration
	webhookAllowCIDRs string
	webhookDenyCIDRs  string
	reportAddr        string
	reportURL         string
	reportKeyFile     string
	reportPrevKeyFile string
	reportKeySecret   string
	reportMaxConns    int

	metricsMaxQueues int
	metricsMaxTypes  int
	defaultRetention string
}

// The client's default rate: a queue makes about two writes per job (start, finish) plus its
// pods' creates, so client-go's 5/10 or controller-runtime's usual 20/30 would cap it near ten jobs
// a second whatever the API server allows; 200/400 leaves the bound to the API server (its
// priority and fairness keeps other clients served). docs/operations.md.
const (
	defaultQPS   = 200
	defaultBurst = 400
)

func (o *options) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "Address the Prometheus metrics endpoint binds to; \"0\" disables it.")
	fs.BoolVar(&o.secureMetrics, "metrics-secure", false, "Serve metrics over HTTPS; a scraper must present a token that the API server authenticates (TokenReview) and authorizes for GET /metrics (SubjectAccessReview).")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz probes bind to.")
	fs.BoolVar(&o.enableLeaderElection, "leader-elect", false, "Elect a leader so that only one manager acts at a time.")
	fs.StringVar(&o.leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader-election lease (default: the manager's own namespace).")
	fs.DurationVar(&o.leaseDuration, "leader-elect-lease-duration", defaultLeaseDuration, "How long a standby waits after the leader's last renewal before it takes the lease: a crashed leader is replaced within about this plus two retry periods.")
	fs.DurationVar(&o.renewDeadline, "leader-elect-renew-deadline", defaultRenewDeadline, "How long the leader keeps trying to renew its lease before it stops leading (and exits); shorter than the lease duration.")
	fs.DurationVar(&o.retryPeriod, "leader-elect-retry-period", defaultRetryPeriod, "How often the leader renews its lease and a standby tries to take it.")
	fs.Float64Var(&o.qps, "kube-api-qps", defaultQPS, "Steady queries per second to the Kubernetes API server (the API server's priority and fairness still queues them).")
	fs.IntVar(&o.burst, "kube-api-burst", defaultBurst, "Burst of queries to the Kubernetes API server.")
	fs.IntVar(&o.concurrency, "concurrency", 4, "Reconcile workers per controller.")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "", "Address the pprof endpoints (/debug/pprof/) bind to; empty disables them.")
	fs.IntVar(&o.webhookWorkers, "webhook-workers", 16, "Webhook calls in flight at once (the call pool's size).")
	fs.DurationVar(&o.webhookTimeoutMax, "webhook-timeout-max", executor.DefaultWebhookTimeoutMax, "Longest a webhook call may wait for its answer: a target's timeoutSeconds above it is cut to it.")
	fs.DurationVar(&o.runningWriteDelay, "running-write-delay", lifecycle.DefaultRunningWriteDelay, "How long a pod attempt, or a webhook call no rate limit counts, may run before the job's status says Running: one that ends sooner costs one status write (its start and end together; the pod or the call under its stable webhook-id is the record meanwhile). 0 writes Running before every attempt starts.")
	fs.StringVar(&o.webhookAllowCIDRs, "webhook-allow-cidrs", "", "Comma-separated CIDRs webhook calls may reach although blocked by default (loopback, link-local, cloud metadata, unspecified, multicast, broadcast, and the API server's, nodes' and manager's own addresses), e.g. 127.0.0.0/8 for local tests.")
	fs.StringVar(&o.webhookDenyCIDRs, "webhook-deny-cidrs", "", "Comma-separated CIDRs webhook calls may never reach (checked first).")
	fs.StringVar(&o.reportAddr, "report-bind-address", ":8082", "Address the report API (POST /v1/namespaces/{ns}/queuejobs/{name}/report) listens on; \"0\" disables it.")
	fs.StringVar(&o.reportURL, "report-url", "", "Base URL of the report API as pods and webhook receivers reach it (default: http://<report-bind-address>; in a cluster, the kickq-report Service).")
	fs.StringVar(&o.reportKeyFile, "report-token-key-file", "", "File holding the key that signs webhook attempts' report tokens (at least 16 bytes).")
	fs.StringVar(&o.reportPrevKeyFile, "report-token-previous-key-file", "", "File holding a previous token key, still accepted but never used to sign, during a rotation (with --report-token-key-file).")
	fs.IntVar(&o.reportMaxConns, "report-max-connections", limits.MaxReportConnections, "Connections the report API serves at once; more wait until one closes.")
	fs.IntVar(&o.metricsMaxQueues, "metrics-max-queues", metrics.DefaultMaxQueues, "Distinct queues (namespace/queue) kickq's metrics name in their labels; later queues are counted as namespace and queue \"other\".")
	fs.IntVar(&o.metricsMaxTypes, "metrics-max-types", metrics.DefaultMaxTypes, "Distinct job types kickq's metrics name in their type label; later types are counted as \"other\".")
	fs.StringVar(&o.defaultRetention, "default-retention", "", "Cluster-wide retention of finished jobs for a phase that neither the job (spec.ttlSecondsAfterFinished) nor its queue (spec.retention) sets: comma-separated succeeded|failed.ttl=DURATION and succeeded|failed.historyLimit=COUNT, e.g. succeeded.ttl=24h,failed.ttl=168h. Off by default: with GitOps, a deleted job is recreated and runs again (docs/operations.md).")
	fs.StringVar(&o.reportKeySecret, "report-token-secret", "", "namespace/name of a Secret (key \"key\"; during a rotation also \"previous\", still accepted) the manager keeps the token key in, creating it when missing. Default: kickq-report-token in $POD_NAMESPACE when that is set; else a random key per start.")
}

// Leader-election defaults: a SIGKILLed leader is replaced within the lease duration plus two
// retry periods (with client-go's jitter of 1.2): about 17.4 s, under the 20 s kickq promises
// (docs/reliability.md measures it). controller-runtime's own retry period, 2 s, allowed up to
// about 19.8 s.
const (
	defaultLeaseDuration = 15 * time.Second
	defaultRenewDeadline = 10 * time.Second
	defaultRetryPeriod   = 1 * time.Second
)

func (o *options) validate() error {
	if o.retryPeriod <= 0 || float64(o.renewDeadline) <= 1.2*float64(o.retryPeriod) || o.leaseDuration <= o.renewDeadline {
		return errors.New("leader election needs --leader-elect-lease-duration > --leader-elect-renew-deadline > 1.2 × --leader-elect-retry-period > 0")
	}
	if o.qps <= 0 || o.burst <= 0 {
		return errors.New("--kube-api-qps and --kube-api-burst must be positive")
	}
	if o.concurrency < 1 {
		return errors.New("--concurrency must be at least 1")
	}
	if o.webhookWorkers < 1 {
		return errors.New("--webhook-workers must be at least 1")
	}
	if o.webhookTimeoutMax < time.Second {
		return errors.New("--webhook-timeout-max must be at least 1s")
	}
	if o.reportMaxConns < 1 {
		return errors.New("--report-max-connections must be at least 1")
	}
	if o.metricsMaxQueues < 1 || o.metricsMaxTypes < 1 {
		return errors.New("--metrics-max-queues and --metrics-max-types must be at least 1")
	}
	if _, err := controllers.ParseDefaultRetention(o.defaultRetention); err != nil {
		return fmt.Errorf("--default-retention: %w", err)
	}
	return nil
}

// newScheme registers the types the manager reads and writes.
func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(kickqv1alpha1.AddToScheme(s))
	return s
}

// cacheOptions keep the manager's memory proportional to kickq's own work: only pods that kickq
// labelled are cached, managedFields are stripped from everything cached, a QueueJob's
// spec.data over the cap is cached as a marker of its size and a finished job without what only
// a running one needs (internal/cachetransform). The informers never resync: every pass that
// has a time to wait for asks for it (RequeueAfter), and a periodic resync would only reconcile
// every cached job (100,000 finished ones at rest) again, for nothing.
func cacheOptions() cache.Options {
	kickqPods, err := labels.Parse(kickqv1alpha1.LabelJob)
	utilruntime.Must(err)
	noResync := time.Duration(0)
	return cache.Options{
		SyncPeriod:       &noResync,
		DefaultTransform: cachetransform.Transform,
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}: {Label: kickqPods},
			// Only pull workers' Leases (one per worker process), not every controller's.
			&coordinationv1.Lease{}: {Label: labels.SelectorFromSet(labels.Set{kickqv1alpha1.LabelWorker: "true"})},
		},
	}
}

func main() {
	var opts options
	opts.bind(flag.CommandLine)
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	setupLog := ctrl.Log.WithName("setup")
	if err := opts.validate(); err != nil {
		setupLog.Error(err, "invalid flags")
		os.Exit(2)
	}

	cfg := ctrl.GetConfigOrDie()
	cfg.QPS = float32(opts.qps)
	cfg.Burst = opts.burst

	metrics := metricsserver.Options{
		BindAddress:   opts.metricsAddr,
		SecureServing: opts.secureMetrics,
		// HTTP/2 is disabled against the HTTP/2 rapid-reset class of attacks.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
	if opts.secureMetrics {
		// Every scrape is authenticated and authorized by the API server (RBAC in
		// config/rbac/metrics_auth_role.yaml and metrics_reader_role.yaml).
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        newScheme(),
		Cache:                         cacheOptions(),
		Metrics:                       metrics,
		Controller:                    config.Controller{MaxConcurrentReconciles: opts.concurrency},
		HealthProbeBindAddress:        opts.probeAddr,
		PprofBindAddress:              opts.pprofAddr,
		LeaderElection:                opts.enableLeaderElection,
		LeaderElectionID:              "kickq-manager.kickq.dev",
		LeaderElectionNamespace:       opts.leaderElectionNS,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &opts.leaseDuration,
		RenewDeadline:                 &opts.renewDeadline,
		RetryPeriod:                   &opts.retryPeriod,
	})
	if err != nil {
		setupLog.Error(err, "creating manager")
		os.Exit(1)
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "adding health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "adding ready check")
		os.Exit(1)
	}

	allow, err := netguard.ParseCIDRs(opts.webhookAllowCIDRs)
	if err != nil {
		setupLog.Error(err, "invalid --webhook-allow-cidrs")
		os.Exit(2)
	}
	deny, err := netguard.ParseCIDRs(opts.webhookDenyCIDRs)
	if err != nil {
		setupLog.Error(err, "invalid --webhook-deny-cidrs")
		os.Exit(2)
	}
	if len(allow) > 0 {
		setupLog.Info("webhook calls may reach addresses blocked by default", "allowed", allow)
	}
	key, previous, err := reportKey(context.Background(), cfg, &opts)
	if err != nil {
		setupLog.Error(err, "reading the report token key")
		os.Exit(1)
	}
	defaultRetention, _ := controllers.ParseDefaultRetention(opts.defaultRetention) // validated above
	if defaultRetention != nil {
		setupLog.Info("finished jobs without a retention of their own or their queue's are deleted per --default-retention", "defaultRetention", opts.defaultRetention)
	}
	guard := netguard.New(allow, deny)
	if err := watchClusterAddresses(mgr, guard); err != nil {
		setupLog.Error(err, "adding the cluster address refresher")
		os.Exit(1)
	}
	if _, err := controllers.Setup(context.Background(), mgr, controllers.Options{
		WebhookWorkers:      opts.webhookWorkers,
		WebhookTimeoutMax:   opts.webhookTimeoutMax,
		WebhookGuard:        guard,
		ReportBindAddress:   opts.reportAddr,
		ReportURL:           opts.reportURL,
		ReportTokenKey:      key,
		ReportTokenPrevious: previous,

		ReportMaxConnections: opts.reportMaxConns,
		MetricsMaxQueues:     opts.metricsMaxQueues,
		MetricsMaxTypes:      opts.metricsMaxTypes,
		DefaultRetention:     defaultRetention,
		RunningWriteDelay:    &opts.runningWriteDelay,
	}); err != nil {
		setupLog.Error(err, "setting up controllers")
		os.Exit(1)
	}

	setupLog.Info("starting manager", "concurrency", opts.concurrency, "qps", opts.qps, "burst", opts.burst)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "running manager")
		os.Exit(1)
	}
}

// watchClusterAddresses fills the guard's dynamic deny set (the API server's, the nodes' and the
// manager's own addresses) before the first webhook call can be made, and keeps it current.
func watchClusterAddresses(mgr ctrl.Manager, guard *netguard.Guard) error {
	addrs := &controllers.ClusterAddresses{Reader: mgr.GetAPIReader(), Guard: guard, Namespace: os.Getenv("POD_NAMESPACE")}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := addrs.Refresh(ctx); err != nil {
		ctrl.Log.WithName("setup").Error(err, "listing the cluster addresses webhooks may not reach (retried every minute); check the manager's RBAC (list nodes, get services, list endpointslices)")
	}
	return mgr.Add(addrs)
}

// reportKey finds the key that signs webhook attempts' tokens, and the previous key still
// accepted during a rotation (nil when none): files, a Secret the manager keeps (created with a
// random key when missing; "previous" is read when present), or nil (a random key per start).
func reportKey(ctx context.Context, cfg *rest.Config, o *options) ([]byte, []byte, error) {
	if o.reportKeyFile != "" {
		b, err := os.ReadFile(o.reportKeyFile)
		if err != nil {
			return nil, nil, err
		}
		var prev []byte
		if o.reportPrevKeyFile != "" {
			if prev, err = os.ReadFile(o.reportPrevKeyFile); err != nil {
				return nil, nil, err
			}
			prev = bytes.TrimSpace(prev)
		}
		return bytes.TrimSpace(b), prev, nil
	}
	if o.reportPrevKeyFile != "" {
		return nil, nil, errors.New("--report-token-previous-key-file goes with --report-token-key-file (a Secret holds its previous key as \"previous\")")
	}
	ref := o.reportKeySecret
	if ref == "" {
		ns := os.Getenv("POD_NAMESPACE")
		if ns == "" {
			ctrl.Log.WithName("setup").Info("no --report-token-key-file or --report-token-secret: webhook attempts' report tokens use a random key and become invalid when the manager restarts")
			return nil, nil, nil
		}
		ref = ns + "/kickq-report-token"
	}
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" {
		return nil, nil, fmt.Errorf("--report-token-secret must be namespace/name, not %q", ref)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, nil, err
	}
	for range 3 {
		var s corev1.Secret
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s)
		if err == nil {
			if k := s.Data["key"]; len(k) >= 16 {
				return k, s.Data["previous"], nil
			}
			return nil, nil, fmt.Errorf("secret %s has no key \"key\" of at least 16 bytes", ref)
		}
		if !apierrors.IsNotFound(err) {
			return nil, nil, fmt.Errorf("reading secret %s: %w", ref, err)
		}
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, nil, err
		}
		s = corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{"key": k}}
		if err := c.Create(ctx, &s); err == nil {
			return k, nil, nil
		} else if !apierrors.IsAlreadyExists(err) {
			return nil, nil, fmt.Errorf("creating secret %s: %w", ref, err)
		}
	}
	return nil, nil, fmt.Errorf("secret %s: gave up after concurrent creates", ref)
}

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

// Package suite is the one envtest bootstrap of kickq's Ginkgo suites: New registers the
// BeforeSuite that starts a control plane with kickq's CRDs (and, when asked, a manager), the
// AfterSuite that stops them, and a BeforeEach that sets the suite's fake clock to the real time.
//
// Specs are independent of each other and of their order: each one gets a fresh namespace
// (Env.NewNamespace) whose kickq objects are deleted when it ends, so nothing of one spec is
// still reconciled in the next; and the fake clock starts every spec at the real time that the
// API server stamps on new objects (creationTimestamp), however far an earlier spec moved it.
//
// It lives apart from package util because it imports Ginkgo, whose init attaches the
// -ginkgo.* flags to flag.CommandLine: the hack/ and test/bench programs import package util.
package suite

import (
	"context"
	"net/netip"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/controllers"
	"kickq.dev/kickq/internal/cachetransform"
	"kickq.dev/kickq/internal/netguard"
	"kickq.dev/kickq/pkg/kickqtest"
	"kickq.dev/kickq/test/util"
)

// Options say what a suite runs.
type Options struct {
	// Name prefixes the namespaces of the suite's specs.
	Name string
	// Policies installs every ValidatingAdmissionPolicy of config/policy; without it only the one
	// that keeps a QueueJob's spec immutable (config/policy/queuejob-immutable-spec.yaml).
	Policies bool
	// FakeClock gives the suite a fake clock (Env.Clock), set to the real time before each spec.
	// Managers started without it run on the real clock.
	FakeClock bool
	// Manager, when set, starts a manager with these options once the control plane is up
	// (Env.Manager). Without it no manager runs unless a spec starts one (Env.StartManager).
	Manager *ManagerOptions
	// Setup runs once the control plane is up, before the manager starts: the suite's own
	// fixtures (webhook receivers).
	Setup func()
	// Teardown runs after the manager stopped, before the control plane stops.
	Teardown func()
}

// ManagerOptions say how a manager runs.
type ManagerOptions struct {
	// Workers is each controller's MaxConcurrentReconciles; default 4, as limits must hold under
	// concurrent reconciles.
	Workers int
	// Writes, when set, counts the manager's API writes.
	Writes *util.WriteCounter
	// Intercept, when set, intercepts the manager's client calls (failure injection).
	Intercept *interceptor.Funcs
	// AllowLoopback lets webhook calls reach 127.0.0.0/8 and ::1 (blocked by default).
	AllowLoopback bool
	// WebhookWorkers is the size of the webhook call pool (0: the default).
	WebhookWorkers int
	// Report serves the report API on a loopback port.
	Report bool
	// ReportTokenKey signs attempt tokens; set it so that tokens survive a manager restart.
	ReportTokenKey []byte
	// DefaultRetention is the manager's --default-retention (nil: none).
	DefaultRetention *kickqv1alpha1.Retention
	// RunningWriteDelay is the manager's --running-write-delay. nil: 0, Running is written
	// before each attempt starts, so that specs on the fake clock see Running without stepping
	// it; the specs of the deferred start (test/integration/lifecycle/writes_test.go) set it.
	RunningWriteDelay *time.Duration
}

// Env is a running suite: its control plane, a live client and its fake clock.
type Env struct {
	// Ctx lives until the suite ends.
	Ctx context.Context
	// Client is the test's own live client (no cache), separate from the manager's.
	Client client.Client
	// Config is the control plane's admin config.
	Config *rest.Config
	// Scheme has the built-in types and kickq's.
	Scheme *runtime.Scheme
	// TestEnv is the envtest environment (for AddUser).
	TestEnv *envtest.Environment
	// Clock is the suite's fake clock (with Options.FakeClock), at the real time when each spec
	// starts.
	Clock *clocktesting.FakeClock

	opts    Options
	cancel  context.CancelFunc
	manager *Manager
}

// New registers the suite's BeforeSuite, AfterSuite and BeforeEach. Call it once per suite, at
// package level: var env = suite.New(suite.Options{...}).
func New(opts Options) *Env {
	e := &Env{opts: opts, Scheme: util.NewScheme()}
	if opts.FakeClock {
		e.Clock = clocktesting.NewFakeClock(realNow())
	}
	BeforeSuite(e.start)
	AfterSuite(e.stop)
	BeforeEach(e.resetClock)
	return e
}

// realNow is the real time in whole seconds, as the API server stamps creationTimestamp: a job
// created after it never looks older than the fake clock.
func realNow() time.Time { return time.Now().Truncate(time.Second) }

func (e *Env) start() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	e.Ctx, e.cancel = context.WithCancel(context.Background())
	var err error
	e.TestEnv, e.Config, e.Client, err = util.Start(e.Scheme)
	Expect(err).NotTo(HaveOccurred())
	// Spec immutability is part of the API (a policy, not CRD rules: docs/lifecycle.md), so every
	// suite has it; Policies adds the others. Specs start once the API server enforces it.
	if e.opts.Policies {
		Expect(util.InstallPolicies(e.Ctx, e.Client)).To(Succeed())
	} else {
		Expect(util.InstallPolicies(e.Ctx, e.Client, util.ImmutableSpecPolicyFile)).To(Succeed())
	}
	Expect(kickqtest.AwaitPolicies(e.Ctx, e.Client, corev1.NamespaceDefault, util.Timeout)).To(Succeed())
	if e.opts.Setup != nil {
		e.opts.Setup()
	}
	if e.opts.Manager != nil {
		e.manager = e.StartManager(*e.opts.Manager)
	}
}

func (e *Env) stop() {
	if e.manager != nil {
		e.manager.Stop()
	}
	if e.opts.Teardown != nil {
		e.opts.Teardown()
	}
	if e.cancel != nil {
		e.cancel()
	}
	if e.TestEnv != nil {
		Expect(e.TestEnv.Stop()).To(Succeed())
	}
}

// resetClock starts each spec's fake time at the real time, whatever an earlier spec did with it.
// Timers that an earlier spec's objects set stay on the clock; those objects are deleted.
func (e *Env) resetClock() {
	if e.Clock != nil {
		e.Clock.SetTime(realNow())
	}
}

// NewNamespace creates a namespace for the current spec; the kickq objects in it are deleted
// when the spec ends, so that the manager stops working on them.
func (e *Env) NewNamespace() string {
	GinkgoHelper()
	ns, err := util.NewNamespace(e.Ctx, e.Client, e.opts.Name)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) {
		Expect(e.Client.DeleteAllOf(ctx, &kickqv1alpha1.QueueJob{}, client.InNamespace(ns))).To(Succeed())
		Expect(e.Client.DeleteAllOf(ctx, &kickqv1alpha1.Queue{}, client.InNamespace(ns))).To(Succeed())
		Expect(e.Client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(ns), client.GracePeriodSeconds(0))).To(Succeed())
	})
	return ns
}

// Manager is one running manager.
type Manager struct {
	// Controllers are its controllers (the report API's endpoint, the webhook pool).
	Controllers *controllers.Controllers
	// Cache reads what the manager has seen: a spec that must not race the manager's watch
	// waits until its cache has caught up.
	Cache  client.Reader
	cancel context.CancelFunc
	done   chan struct{}
}

// Stop stops the manager and waits until it has stopped.
func (m *Manager) Stop() {
	GinkgoHelper()
	m.cancel()
	Eventually(m.done, util.Timeout).Should(BeClosed())
}

// Manager is the suite's manager (Options.Manager), the latest one RestartManager started.
func (e *Env) Manager() *Manager { return e.manager }

// RestartManager stops the suite's manager, runs meanwhile (for example, steps the fake clock
// past firings) and starts a new one with the same options.
func (e *Env) RestartManager(meanwhile ...func()) {
	GinkgoHelper()
	Expect(e.opts.Manager).NotTo(BeNil(), "the suite runs no manager of its own")
	e.manager.Stop()
	for _, f := range meanwhile {
		f()
	}
	e.manager = e.StartManager(*e.opts.Manager)
}

// loopback is what AllowLoopback lets webhook calls reach.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// StartManager starts a manager with kickq's controllers on the suite's control plane: on the
// suite's fake clock when it has one, else on the real clock. The caller stops it.
func (e *Env) StartManager(o ManagerOptions) *Manager {
	GinkgoHelper()
	workers := o.Workers
	if workers == 0 {
		workers = 4
	}
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{
		Scheme:                 e.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// The manager binary's cache transform (its pod label selector is left out: suites create
		// pods of their own).
		Cache: cache.Options{DefaultTransform: cachetransform.Transform},
		// Suites start several managers in turn: the controller names repeat.
		Controller: config.Controller{MaxConcurrentReconciles: workers, SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())

	opts := controllers.Options{WebhookWorkers: o.WebhookWorkers, DefaultRetention: o.DefaultRetention, RunningWriteDelay: new(time.Duration)}
	if o.RunningWriteDelay != nil {
		opts.RunningWriteDelay = o.RunningWriteDelay
	}
	if e.Clock != nil {
		// The one place that hands the fake clock to the controllers.
		opts.Clock = e.Clock
	}
	if o.Writes != nil || o.Intercept != nil {
		// The manager's client: reads from its cache, writes to the API server.
		c, err := client.NewWithWatch(e.Config, client.Options{Scheme: e.Scheme, Cache: &client.CacheOptions{Reader: mgr.GetCache()}})
		Expect(err).NotTo(HaveOccurred())
		if o.Intercept != nil {
			c = interceptor.NewClient(c, *o.Intercept)
		}
		if o.Writes != nil {
			c = o.Writes.Wrap(c)
		}
		opts.Client = c
	}
	if o.AllowLoopback {
		GinkgoWriter.Printf("webhook calls may reach loopback (allowed for this test suite: %v)\n", loopback)
		opts.WebhookGuard = netguard.New(loopback, nil)
	}
	if o.Report {
		opts.ReportBindAddress, opts.ReportTokenKey = "127.0.0.1:0", o.ReportTokenKey
	}

	mctx, mcancel := context.WithCancel(e.Ctx)
	ctrls, err := controllers.Setup(mctx, mgr, opts)
	if err != nil {
		mcancel()
	}
	Expect(err).NotTo(HaveOccurred())
	m := &Manager{Controllers: ctrls, Cache: mgr.GetCache(), cancel: mcancel, done: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(m.done)
		Expect(mgr.Start(mctx)).To(Succeed())
	}()
	return m
}

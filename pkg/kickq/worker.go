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

package kickq

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// Defaults of WorkerOptions.
const (
	// DefaultLeaseDuration is how long a worker's Lease lasts unrenewed: a killed worker's attempts
	// fail as WorkerLost at most this long after its last renewal.
	DefaultLeaseDuration = 15 * time.Second
	// DefaultGracePeriod is how long a stopping worker lets its running tasks finish before it
	// releases them.
	DefaultGracePeriod = 30 * time.Second
)

// WorkerOptions configure a pull worker.
type WorkerOptions struct {
	// Namespace is where the worker takes jobs from (required).
	Namespace string
	// Queue is the queue whose jobs it takes; default "default".
	Queue string
	// Concurrency is how many tasks it runs at once; default 1.
	Concurrency int
	// Identity names the worker, for example the pod's name; default the host name. The worker's
	// name — its Lease and what attemptHistory[].worker shows — is the identity (made a valid
	// object name) plus a random suffix per process, so that a restarted process never inherits
	// the claims of the one before it.
	Identity string
	// LeaseDuration is how long the worker's Lease lasts unrenewed (whole seconds, at least 3 s);
	// it is renewed every third of it. Default DefaultLeaseDuration.
	LeaseDuration time.Duration
	// GracePeriod is how long Run, once its context ended, waits for running tasks before it
	// releases them for another worker (WorkerReleased, not counted as a failure). Default
	// DefaultGracePeriod.
	GracePeriod time.Duration
	// Clock is the worker's clock (lease renewals, coalescing, deadlines); nil is the real clock.
	// Tests pass a fake clock.
	Clock clock.WithTicker
	// Logger logs the worker's errors; default the logger of Run's context (logr), else none.
	Logger *logr.Logger
}

// Worker claims admitted attempts of jobs with a worker target and runs them with the handler
// registered for the job's type.
type Worker struct {
	opts   WorkerOptions
	name   string
	cfg    *rest.Config
	c      client.Client
	scheme *runtime.Scheme
	log    logr.Logger

	mu       sync.Mutex
	handlers map[string]HandlerFunc
	tasks    map[types.NamespacedName]*runningTask
	kick     chan struct{}
}

// NewWorker returns a worker that reaches the API server with cfg. Register handlers with Handle,
// then call Run.
func NewWorker(cfg *rest.Config, o WorkerOptions) (*Worker, error) {
	if o.Namespace == "" {
		return nil, errors.New("kickq: WorkerOptions.Namespace is required")
	}
	if o.Queue == "" {
		o.Queue = "default"
	}
	o.Concurrency = max(o.Concurrency, 1)
	if o.LeaseDuration == 0 {
		o.LeaseDuration = DefaultLeaseDuration
	}
	if o.LeaseDuration < 3*time.Second {
		return nil, fmt.Errorf("kickq: WorkerOptions.LeaseDuration %s is under 3s", o.LeaseDuration)
	}
	o.LeaseDuration = o.LeaseDuration.Truncate(time.Second)
	if o.GracePeriod == 0 {
		o.GracePeriod = DefaultGracePeriod
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	name, err := workerName(o.Identity)
	if err != nil {
		return nil, err
	}
	scheme := NewScheme()
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("kickq: creating the worker's client: %w", err)
	}
	return &Worker{opts: o, name: name, cfg: cfg, c: c, scheme: scheme,
		handlers: map[string]HandlerFunc{}, tasks: map[types.NamespacedName]*runningTask{}, kick: make(chan struct{}, 1)}, nil
}

// Name is the worker's name: its Lease's name and what attemptHistory[].worker shows.
func (w *Worker) Name() string { return w.name }

// Handle registers the handler of jobs of type typ (spec.type). Call it before Run.
func (w *Worker) Handle(typ string, h HandlerFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.handlers[typ] = h
}

// Run creates the worker's Lease, claims and runs tasks until ctx ends, then drains: running
// tasks get the grace period to finish, the rest are released for another worker, and the Lease
// is deleted. It returns nil after a drain, or the error that stopped it.
func (w *Worker) Run(ctx context.Context) error {
	w.log = logr.FromContextOrDiscard(ctx)
	if w.opts.Logger != nil {
		w.log = *w.opts.Logger
	}
	w.log = w.log.WithValues("worker", w.name)
	w.mu.Lock()
	n := len(w.handlers)
	w.mu.Unlock()
	if n == 0 {
		return errors.New("kickq: the worker has no handlers (Handle)")
	}
	bg := context.WithoutCancel(ctx)
	deleteStaleLeases(ctx, w.c, w.opts.Namespace, w.opts.Clock.Now())
	l := newLease(w.opts.Namespace, w.name, w.opts.LeaseDuration, w.opts.Clock.Now())
	l.c = w.c
	if err := l.create(ctx); err != nil {
		return err
	}
	renewCtx, cancelRenew := context.WithCancel(bg)
	renewDone := make(chan struct{})
	go func() { defer close(renewDone); w.renewLoop(renewCtx, l) }()
	stopRenew := func() { cancelRenew(); <-renewDone } // the Lease is the loop's until it returns
	defer cancelRenew()

	jobs, stopCache, err := w.startCache(ctx)
	if err != nil {
		stopRenew()
		_ = l.remove(bg)
		return err
	}
	defer stopCache()
	w.dispatch(ctx, jobs)
	w.drain(bg)
	stopRenew()
	return l.remove(bg)
}

// startCache watches the namespace's Running jobs of the worker's queue (field selectors
// status.phase and spec.queueName), and wakes the dispatcher and the running tasks on changes.
func (w *Worker) startCache(ctx context.Context) (cache.Cache, func(), error) {
	sel := fields.SelectorFromSet(fields.Set{"status.phase": string(kickqv1alpha1.PhaseRunning), "spec.queueName": w.opts.Queue})
	jobs, err := cache.New(w.cfg, cache.Options{Scheme: w.scheme,
		DefaultNamespaces: map[string]cache.Config{w.opts.Namespace: {}},
		DefaultTransform:  cache.TransformStripManagedFields(),
		ByObject:          map[client.Object]cache.ByObject{&kickqv1alpha1.QueueJob{}: {Field: sel}}})
	if err != nil {
		return nil, nil, fmt.Errorf("kickq: creating the worker's cache: %w", err)
	}
	inf, err := jobs.GetInformer(ctx, &kickqv1alpha1.QueueJob{})
	if err != nil {
		return nil, nil, fmt.Errorf("kickq: watching jobs: %w", err)
	}
	if _, err := inf.AddEventHandler(jobEvents{w}); err != nil {
		return nil, nil, fmt.Errorf("kickq: watching jobs: %w", err)
	}
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		if err := jobs.Start(cctx); err != nil {
			w.log.Error(err, "job cache stopped")
		}
	}()
	if !jobs.WaitForCacheSync(ctx) {
		cancel()
		return nil, nil, fmt.Errorf("kickq: the job cache did not sync: %w", context.Cause(ctx))
	}
	w.wake()
	return jobs, cancel, nil
}

// wake asks the dispatcher to look for claimable attempts.
func (w *Worker) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// renewLoop renews the Lease every third of its duration. Past a whole duration without a
// successful renewal the manager may have failed the worker's attempts: their tasks are cancelled.
func (w *Worker) renewLoop(ctx context.Context, l *lease) {
	clk := w.opts.Clock
	t := clk.NewTicker(w.opts.LeaseDuration / 3)
	defer t.Stop()
	lastOK := clk.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		now := clk.Now()
		if err := l.renew(ctx, now); err != nil {
			w.log.Error(err, "renewing the worker lease")
			if now.Sub(lastOK) >= w.opts.LeaseDuration {
				w.cancelAll(errLeaseLapsed)
			}
			continue
		}
		lastOK = now
	}
}

// Why a task's context ends (context.Cause).
var (
	errClaimLost   = errors.New("kickq: the attempt is no longer this worker's (cancelled, timed out, or failed)")
	errLeaseLapsed = errors.New("kickq: the worker could not renew its lease: its claims may be lost")
	errDeadline    = errors.New("kickq: the attempt's deadline (attemptDeadlineSeconds) passed")
	errReleased    = errors.New("kickq: the worker stopped and its grace period ended: the task was released")
)

func (w *Worker) cancelAll(cause error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.tasks {
		r.cancel(cause)
	}
}

// workerName is the identity made a valid Lease name, plus a random suffix.
func workerName(identity string) (string, error) {
	if identity == "" {
		identity, _ = os.Hostname()
	}
	var b strings.Builder
	for _, r := range strings.ToLower(identity) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	base := strings.Trim(b.String(), "-.")
	if len(base) > 200 {
		base = strings.Trim(base[:200], "-.")
	}
	if base == "" {
		base = "worker"
	}
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	suffix := make([]byte, 5)
	for i := range suffix {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", fmt.Errorf("kickq: naming the worker: %w", err)
		}
		suffix[i] = alphabet[n.Int64()]
	}
	name := base + "-" + string(suffix)
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", fmt.Errorf("kickq: worker name %q: %s", name, strings.Join(errs, "; "))
	}
	return name, nil
}

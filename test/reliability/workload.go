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

package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

// The mixed workload's queues and their limits. Each queue runs one kind of target, so that its
// limits can be checked at that kind's side effect.
const (
	QueuePods  = "pods"  // pod jobs (type thumb): concurrency and rate, checked at the API server
	QueueHooks = "hooks" // webhook jobs (type mail) and cron templates: concurrency and rate, at the receiver
	QueueWork  = "work"  // pull-worker jobs (type report): concurrency, at the workers' claims

	TypePod     = "thumb"
	TypeWebhook = "mail"
	TypeWorker  = "report"
)

// MixLimits are the limits of the mixed workload's queues.
type MixLimits struct {
	PodConcurrency, PodRate, PodPeriod    int32
	HookConcurrency, HookRate, HookPeriod int32
	WorkConcurrency                       int32
	// Keys is how many keys (spec.key) the pod and webhook jobs are spread over (a fifth of
	// them stay key-less); 0 gives no job a key and the queues no keyLimits. The keys' limits
	// are KeyConcurrency at once and KeyRate per KeyPeriod seconds: on the pod handler's
	// keyLimits, and on the webhook queue's keyLimits with pauseOnRetryAfter.
	Keys                               int
	KeyConcurrency, KeyRate, KeyPeriod int32
}

// DefaultLimits are tight enough that every limit is reached during a run.
var DefaultLimits = MixLimits{
	PodConcurrency: 8, PodRate: 80, PodPeriod: 10,
	HookConcurrency: 5, HookRate: 80, HookPeriod: 10,
	WorkConcurrency: 6,
	Keys:            8, KeyConcurrency: 2, KeyRate: 8, KeyPeriod: 10,
}

// KeyPauseSeconds is the Retry-After of a keyed webhook job's planned first 429: under the
// webhook queue's pauseOnRetryAfter it holds every job of that key for as long.
const KeyPauseSeconds = 3

// Expect is a job's planned outcome.
type Expect struct {
	Phase          kickqv1alpha1.QueueJobPhase
	Reason         string
	Attempts       int32
	FailedAttempts int32
}

// Mix is a mixed run in one namespace: the queues, the receiver and workers that serve it, and
// the jobs submitted with their expected outcomes.
type Mix struct {
	NS       string
	Limits   MixLimits
	Receiver *Receiver
	Claims   *ClaimLog
	// CronPeriod is the templates' @every period.
	CronPeriod time.Duration
	Templates  []string

	mu     sync.Mutex
	expect map[string]Expect
	keyOf  map[string]string // job name -> spec.key, for the jobs with a key
}

// MixOptions shape a mixed run.
type MixOptions struct {
	// Limits of the queues (DefaultLimits when zero).
	Limits MixLimits
	// HookDelay holds every webhook answer back, so that a call occupies its concurrency slot
	// for that long (150 ms when zero).
	HookDelay time.Duration
	// WorkerLease is the pull workers' LeaseDuration (pkg/kickq's default when zero).
	WorkerLease time.Duration
}

// SetupMix creates the namespace, its three queues, a receiver and the pull workers.
func (h *Harness) SetupMix(ctx context.Context, ns string, o MixOptions) (*Mix, error) {
	if o.Limits == (MixLimits{}) {
		o.Limits = DefaultLimits
	}
	if o.HookDelay == 0 {
		o.HookDelay = 150 * time.Millisecond
	}
	l, hookDelay := o.Limits, o.HookDelay
	if err := h.CreateNamespace(ctx, ns); err != nil {
		return nil, err
	}
	recv, err := StartReceiver(func(c *Call, n int) Answer {
		a := PlanAnswer(c, n)
		a.Delay = hookDelay
		return a
	})
	if err != nil {
		return nil, err
	}
	h.OnClose(recv.Close)
	m := &Mix{NS: ns, Limits: l, Receiver: recv, Claims: &ClaimLog{}, CronPeriod: 10 * time.Second, expect: map[string]Expect{}, keyOf: map[string]string{}}
	retry := func() *kickqv1alpha1.RetryPolicy {
		r := utiltesting.RetryPolicy(3, utiltesting.FixedBackoff(time.Second))
		r.Rules = []kickqv1alpha1.RetryRule{utiltesting.ExitCodeRule(kickqv1alpha1.RetryActionDie, 3)}
		return r
	}
	queues := []*kickqv1alpha1.Queue{
		utiltesting.MakeQueue(QueuePods, ns).Concurrency(l.PodConcurrency).Rate(l.PodRate, l.PodPeriod).
			Handler(TypePod, utiltesting.MakeHandler().Pod("registry.invalid/reliability:1").Obj()).
			Defaults(kickqv1alpha1.JobPolicies{Retry: retry()}).Obj(),
		utiltesting.MakeQueue(QueueHooks, ns).Concurrency(l.HookConcurrency).Rate(l.HookRate, l.HookPeriod).
			Handler(TypeWebhook, utiltesting.MakeHandler().Webhook(recv.URL, utiltesting.WithTimeout(10*time.Second)).Obj()).
			Defaults(kickqv1alpha1.JobPolicies{Retry: retry()}).Obj(),
		utiltesting.MakeQueue(QueueWork, ns).Concurrency(l.WorkConcurrency).
			Handler(TypeWorker, utiltesting.MakeHandler().Worker().Obj()).
			Defaults(kickqv1alpha1.JobPolicies{Retry: retry()}).Obj(),
	}
	if l.Keys > 0 {
		queues[0].Spec.Handlers[0].KeyLimits = keyLimits(l, false)
		queues[1].Spec.KeyLimits = keyLimits(l, true)
	}
	for _, q := range queues {
		if err := h.CP.Harness.Create(ctx, q); err != nil {
			return nil, fmt.Errorf("creating queue %s: %w", q.Name, err)
		}
	}
	if err := h.StartWorkers(ctx, WorkerSet{Namespace: ns, Queue: QueueWork, Types: []string{TypeWorker}, Workers: 2, Concurrency: 4, LeaseDuration: o.WorkerLease}, m.Claims); err != nil {
		return nil, err
	}
	return m, nil
}

// keyLimits are the mix's per-key limits (checked per key in checkKeyLimits).
func keyLimits(l MixLimits, pauseOnRetryAfter bool) *kickqv1alpha1.KeyLimits {
	return &kickqv1alpha1.KeyLimits{
		Concurrency:       ptr.To(l.KeyConcurrency),
		RateLimit:         &kickqv1alpha1.RateLimit{Limit: l.KeyRate, PeriodSeconds: l.KeyPeriod},
		PauseOnRetryAfter: ptr.To(pauseOnRetryAfter),
	}
}

// KeyOf returns a copy of the jobs' keys (job name -> spec.key; key-less jobs are absent).
func (m *Mix) KeyOf() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.keyOf))
	for k, v := range m.keyOf {
		out[k] = v
	}
	return out
}

// randomKey is one of the mix's keys, or "" (key-less) for about a fifth of the jobs.
func (m *Mix) randomKey(h *Harness) string {
	if m.Limits.Keys == 0 || h.Rand.IntN(5) == 0 {
		return ""
	}
	return fmt.Sprintf("customer-%d", h.Rand.IntN(m.Limits.Keys))
}

// Expected returns a copy of the planned outcomes.
func (m *Mix) Expected() map[string]Expect {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]Expect, len(m.expect))
	for k, v := range m.expect {
		out[k] = v
	}
	return out
}

// plan is one job's planned behaviour.
type plan struct {
	fail  int32 // counted failures before success
	die   bool
	after bool // an uncounted 429 first (webhooks)
	delay int32
	key   string // spec.key ("" key-less)
}

func (m *Mix) randomPlan(h *Harness, kind string) plan {
	p := plan{}
	switch r := h.Rand.IntN(100); {
	case r < 12:
		p.fail = 1
	case r < 16:
		p.fail = 2
	case r < 20:
		p.die = true
	case r < 26 && kind == TypeWebhook:
		p.after = true
	}
	if h.Rand.IntN(100) < 6 {
		p.delay = int32(1 + h.Rand.IntN(10))
	}
	return p
}

func (p plan) expect() Expect {
	if p.die {
		return Expect{Phase: kickqv1alpha1.PhaseFailed, Reason: kickqv1alpha1.ReasonDied, Attempts: 1, FailedAttempts: 1}
	}
	e := Expect{Phase: kickqv1alpha1.PhaseSucceeded, Reason: kickqv1alpha1.ReasonCompleted, Attempts: p.fail + 1, FailedAttempts: p.fail}
	if p.after {
		e.Attempts++
	}
	return e
}

// data is the job's spec.data: the plan in the shape PlanRun, PlanAnswer and the workers read.
func (p plan) data(kind string, runMillis int) map[string]any {
	switch kind {
	case TypePod:
		d := PodPlan{FailAttempts: int(p.fail), RunMillis: runMillis}
		if p.die {
			d.DieExit = 3
		}
		return map[string]any{"pod": d}
	case TypeWebhook:
		d := WebhookPlan{FailAttempts: p.fail, Die: p.die}
		if p.after {
			d.RetryAfterFirst = 1
			if p.key != "" {
				d.RetryAfterFirst = KeyPauseSeconds
			}
		}
		return map[string]any{"webhook": d}
	}
	return map[string]any{"worker": WorkerPlan{FailAttempts: p.fail, Die: p.die, RunMillis: runMillis}}
}

// Submit creates n jobs of the mix (40% pods, 35% webhooks, 25% pull-worker jobs, about a
// tenth of these in batches of 5 with a follower job after each batch), with random priorities,
// some delays, retries and jobs planned to die, the pod and webhook jobs spread over the mix's
// keys, using parallel goroutines. prefix keeps the names of several submissions apart.
func (m *Mix) Submit(ctx context.Context, h *Harness, prefix string, n int) error {
	type item struct {
		job *kickqv1alpha1.QueueJob
		exp Expect
	}
	var items []item
	add := func(name, kind string, p plan, mutate func(*utiltesting.QueueJobWrapper)) {
		if kind != TypeWorker {
			p.key = m.randomKey(h)
		}
		w := utiltesting.MakeQueueJob(name, m.NS).Type(kind).Priority(int32(h.Rand.IntN(4))).Data(p.data(kind, 50+h.Rand.IntN(400)))
		switch kind {
		case TypePod:
			w.Queue(QueuePods)
		case TypeWebhook:
			w.Queue(QueueHooks)
		default:
			w.Queue(QueueWork)
		}
		if p.delay > 0 {
			w.Delay(time.Duration(p.delay) * time.Second)
		}
		if mutate != nil {
			mutate(w)
		}
		j := w.Obj()
		j.Spec.Key = p.key
		items = append(items, item{j, p.expect()})
	}
	nPods, nHooks := n*40/100, n*35/100
	nWork := n - nPods - nHooks
	batches := nWork / 60
	for i := range nPods {
		add(fmt.Sprintf("%s-p-%05d", prefix, i), TypePod, m.randomPlan(h, TypePod), nil)
	}
	for i := range nHooks {
		add(fmt.Sprintf("%s-h-%05d", prefix, i), TypeWebhook, m.randomPlan(h, TypeWebhook), nil)
	}
	for i := range nWork - 6*batches {
		add(fmt.Sprintf("%s-w-%05d", prefix, i), TypeWorker, m.randomPlan(h, TypeWorker), nil)
	}
	for b := range batches {
		batch := fmt.Sprintf("%s-batch-%03d", prefix, b)
		doomed := b%4 == 3 // one member dies: the follower fails DependencyFailed
		for i := range 5 {
			p := plan{}
			if doomed && i == 0 {
				p.die = true
			}
			add(fmt.Sprintf("%s-m%d", batch, i), TypeWorker, p, func(w *utiltesting.QueueJobWrapper) { w.Batch(batch) })
		}
		follower := plan{}
		name := fmt.Sprintf("%s-after", batch)
		add(name, TypePod, follower, func(w *utiltesting.QueueJobWrapper) {
			w.AfterBatch(batch).Require(kickqv1alpha1.RequireAllSucceeded)
		})
		if doomed {
			items[len(items)-1].exp = Expect{Phase: kickqv1alpha1.PhaseFailed, Reason: kickqv1alpha1.ReasonDependencyFailed}
		}
	}
	h.Rand.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	m.mu.Lock()
	for _, it := range items {
		m.expect[it.job.Name] = it.exp
		if it.job.Spec.Key != "" {
			m.keyOf[it.job.Name] = it.job.Spec.Key
		}
	}
	m.mu.Unlock()
	return parallel(ctx, len(items), 16, func(ctx context.Context, i int) error {
		return createRetrying(ctx, h.CP.Harness, items[i].job)
	})
}

// AddCronTemplates creates n templates firing every CronPeriod into the webhook queue, with
// missedRuns RunAll so that every firing is made up after downtime.
func (m *Mix) AddCronTemplates(ctx context.Context, h *Harness, n int) error {
	for i := range n {
		name := fmt.Sprintf("cron-%d", i)
		w := utiltesting.MakeQueueJob(name, m.NS).Queue(QueueHooks).Type(TypeWebhook).
			Cron(fmt.Sprintf("@every %s", m.CronPeriod)).
			CronMissedRuns(kickqv1alpha1.MissedRunsRunAll, 100).CronStartingDeadline(10*time.Minute).
			CronConcurrency(kickqv1alpha1.ConcurrencyAllow).CronHistory(1000, 1000)
		if err := createRetrying(ctx, h.CP.Harness, w.Obj()); err != nil {
			return err
		}
		m.Templates = append(m.Templates, name)
	}
	return nil
}

// SuspendCron stops the templates' firings (before the end of a run).
func (m *Mix) SuspendCron(ctx context.Context, h *Harness) error {
	for _, name := range m.Templates {
		for try := 0; ; try++ {
			var j kickqv1alpha1.QueueJob
			err := h.CP.Harness.Get(ctx, client.ObjectKey{Namespace: m.NS, Name: name}, &j)
			if err == nil {
				j.Spec.Cron.Suspend = ptr.To(true)
				err = h.CP.Harness.Update(ctx, &j)
			}
			if err == nil {
				break
			}
			if try > 20 || ctx.Err() != nil {
				return fmt.Errorf("suspending %s: %w", name, err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	return nil
}

// createRetrying creates obj, retrying while the API server is away (an AlreadyExists after a
// lost answer counts as created).
func createRetrying(ctx context.Context, c client.Client, obj client.Object) error {
	for try := 0; ; try++ {
		err := c.Create(ctx, obj.DeepCopyObject().(client.Object))
		if err == nil || (try > 0 && isAlreadyExists(err)) {
			return nil
		}
		if try > 60 || ctx.Err() != nil {
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// parallel runs fn for 0..n-1 on workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		})
	}
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

// expectJob records the planned outcome of a job a scenario created itself.
func (m *Mix) expectJob(name string, e Expect) {
	m.mu.Lock()
	m.expect[name] = e
	m.mu.Unlock()
}

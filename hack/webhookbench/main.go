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

// Command webhookbench is a quick measurement, not a test: it starts a local control plane
// (bin/k8s), runs kickq's controllers in-process against it with the real clock, sends N webhook
// jobs to a loopback sink that answers 200 at once, and prints jobs/s from the first create to
// the last Succeeded and the manager's API writes per job. The full benchmark harness is
// `make bench`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/controllers"
	"kickq.dev/kickq/internal/netguard"
	"kickq.dev/kickq/test/util"
)

func main() {
	n := flag.Int("n", 2000, "webhook jobs")
	qps := flag.Float64("qps", 500, "manager API QPS")
	burst := flag.Int("burst", 1000, "manager API burst")
	workers := flag.Int("concurrency", 8, "reconcile workers")
	pool := flag.Int("webhook-workers", 16, "webhook call pool")
	flag.Parse()
	if err := run(*n, *qps, *burst, *workers, *pool); err != nil {
		fmt.Fprintln(os.Stderr, "webhookbench:", err)
		os.Exit(1)
	}
}

func run(n int, qps float64, burst, workers, pool int) error {
	env := util.NewEnvironment()
	cfg, err := env.Start()
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	scheme := util.NewScheme()

	var calls atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer sink.Close()

	mcfg := *cfg
	mcfg.QPS, mcfg.Burst = float32(qps), burst
	mgr, err := ctrl.NewManager(&mcfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0", Controller: config.Controller{MaxConcurrentReconciles: workers}})
	if err != nil {
		return err
	}
	var writes sync.Map // verb -> *atomic.Int64
	count := func(verb string, o client.Object) {
		if _, ok := o.(*eventsv1.Event); ok {
			return
		}
		v, _ := writes.LoadOrStore(verb, &atomic.Int64{})
		v.(*atomic.Int64).Add(1)
	}
	base, err := client.NewWithWatch(&mcfg, client.Options{Scheme: scheme, Cache: &client.CacheOptions{Reader: mgr.GetCache()}})
	if err != nil {
		return err
	}
	c := interceptor.NewClient(base, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
			count("create", o)
			return c.Create(ctx, o, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.UpdateOption) error {
			count("update", o)
			return c.Update(ctx, o, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, o client.Object, p client.Patch, opts ...client.PatchOption) error {
			count("patch", o)
			return c.Patch(ctx, o, p, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
			count("status update", o)
			return c.SubResource(sub).Update(ctx, o, opts...)
		},
	})
	ctrl.SetLogger(logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fmt.Println("webhookbench: webhook calls may reach loopback (allowed for this run only)")
	if _, err := controllers.Setup(ctx, mgr, controllers.Options{Client: c, WebhookWorkers: pool,
		WebhookGuard: netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, nil)}); err != nil {
		return err
	}
	go func() { _ = mgr.Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return errors.New("cache did not sync")
	}

	// The harness's own client: creates at a high rate, watched for completion.
	hcfg := *cfg
	hcfg.QPS, hcfg.Burst = 2000, 4000
	hc, err := client.NewWithWatch(&hcfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	ns := "bench"
	if err := hc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	start := time.Now()
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				j := &kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("j-%05d", i), Namespace: ns},
					Spec: kickqv1alpha1.QueueJobSpec{Webhook: &kickqv1alpha1.WebhookTarget{URL: sink.URL}}}
				if err := hc.Create(ctx, j); err != nil {
					fmt.Fprintln(os.Stderr, "create:", err)
				}
			}
		}()
	}
	go func() {
		for i := range n {
			jobs <- i
		}
		close(jobs)
	}()
	// Poll: a List every 100 ms (the harness's own reads, not the manager's).
	deadline := start.Add(10 * time.Minute)
	for {
		var l kickqv1alpha1.QueueJobList
		if err := hc.List(ctx, &l, client.InNamespace(ns)); err != nil {
			return err
		}
		succeeded := 0
		for i := range l.Items {
			st := &l.Items[i].Status
			if st.Phase == kickqv1alpha1.PhaseSucceeded {
				succeeded++
			}
		}
		if succeeded == n {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d jobs succeeded in 10 min", succeeded, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(start) // polled every 100 ms
	wg.Wait()
	time.Sleep(time.Second) // let late writes land before counting
	fmt.Printf("machine: %d cores, %s; N=%d, manager QPS %.0f burst %d, %d reconcile workers, %d webhook workers\n",
		runtime.NumCPU(), runtime.Version(), n, qps, burst, workers, pool)
	fmt.Printf("first create to last Succeeded: %s = %.0f webhook jobs/s; sink calls %d\n", took.Round(time.Millisecond), float64(n)/took.Seconds(), calls.Load())
	total := int64(0)
	writes.Range(func(k, v any) bool {
		c := v.(*atomic.Int64).Load()
		total += c
		fmt.Printf("manager writes: %-14s %6d (%.2f per job)\n", k, c, float64(c)/float64(n))
		return true
	})
	fmt.Printf("manager writes per job: %.2f\n", float64(total)/float64(n))
	return nil
}

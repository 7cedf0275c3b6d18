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

// Command cronlateness is a quick measurement, not a test: it starts a local control plane
// (bin/k8s), runs kickq's controllers in-process with the real clock, creates N cron templates
// firing every minute, and reports how late their children appear — the time the harness sees
// a child through a watch minus its scheduled time — plus duplicates and misses.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/controllers"
	"kickq.dev/kickq/test/util"
)

func main() {
	n := flag.Int("n", 1000, "cron templates")
	minutes := flag.Int("minutes", 2, "minutes of firings to observe")
	flag.Parse()
	if err := run(*n, *minutes); err != nil {
		fmt.Fprintln(os.Stderr, "cronlateness:", err)
		os.Exit(1)
	}
}

func run(n, minutes int) error {
	env := util.NewEnvironment()
	cfg, err := env.Start()
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	scheme := util.NewScheme()
	ctrl.SetLogger(logr.Discard())
	mcfg := *cfg
	mcfg.QPS, mcfg.Burst = 500, 1000
	mgr, err := ctrl.NewManager(&mcfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0", Controller: config.Controller{MaxConcurrentReconciles: 8}})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := controllers.Setup(ctx, mgr, controllers.Options{}); err != nil {
		return err
	}
	go func() { _ = mgr.Start(ctx) }()
	hcfg := *cfg
	hcfg.QPS, hcfg.Burst = 1000, 2000
	hc, err := client.NewWithWatch(&hcfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	ns := "cron-bench"
	if err := hc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	// Children: worker targets, admitted and left Running unclaimed (no worker runs): only their
	// creation counts.
	var wg sync.WaitGroup
	names := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range names {
				t := &kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("t-%04d", i), Namespace: ns},
					Spec: kickqv1alpha1.QueueJobSpec{Worker: &kickqv1alpha1.WorkerTarget{},
						Cron: &kickqv1alpha1.CronSpec{Schedule: "* * * * *", ConcurrencyPolicy: kickqv1alpha1.ConcurrencyAllow}}}
				if err := hc.Create(ctx, t); err != nil {
					fmt.Fprintln(os.Stderr, "create:", err)
				}
			}
		}()
	}
	for i := range n {
		names <- i
	}
	close(names)
	wg.Wait()
	created := time.Now()
	w, err := hc.Watch(ctx, &kickqv1alpha1.QueueJobList{}, client.InNamespace(ns), client.HasLabels{kickqv1alpha1.LabelScheduledBy})
	if err != nil {
		return err
	}
	// Observe the firings of whole minutes that start after every template exists.
	first := created.Truncate(time.Minute).Add(time.Minute)
	end := first.Add(time.Duration(minutes-1) * time.Minute)
	deadline := time.After(time.Until(end) + 30*time.Second)
	seen := map[string]bool{}
	var late []time.Duration
	dup := 0
loop:
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return errors.New("the watch closed")
			}
			if ev.Type != watch.Added {
				continue
			}
			j := ev.Object.(*kickqv1alpha1.QueueJob)
			at, err := time.Parse(time.RFC3339, j.Annotations[controllers.AnnotationScheduledTime])
			if err != nil || at.Before(first) || at.After(end) {
				continue
			}
			key := j.Labels[kickqv1alpha1.LabelScheduledBy] + "@" + at.Format(time.RFC3339)
			if seen[key] {
				dup++
			}
			seen[key] = true
			late = append(late, time.Since(at))
		case <-deadline:
			break loop
		}
	}
	want := n * minutes
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	q := func(p float64) time.Duration {
		if len(late) == 0 {
			return 0
		}
		return late[min(len(late)-1, int(p*float64(len(late))))].Round(time.Millisecond)
	}
	fmt.Printf("machine: %d cores, %s; %d templates of \"* * * * *\", %d minutes (%s to %s)\n", runtime.NumCPU(), runtime.Version(), n, minutes, first.Format(time.TimeOnly), end.Format(time.TimeOnly))
	fmt.Printf("children: %d of %d expected, %d duplicates, %d missed\n", len(seen), want, dup, want-len(seen))
	fmt.Printf("lateness (watch sees the child − scheduled time): p50 %s, p99 %s, max %s\n", q(0.5), q(0.99), q(1))
	return nil
}

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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// s10Probe is one job namespace B created while namespace A's jobs were queued.
type s10Probe struct {
	created time.Time
	depth   float64 // the queuejob work queue's depth just before the create
}

// s10Fairness measures reconcile fairness across namespaces: namespace A creates N pod jobs into
// a queue of concurrency 1 (each needs a reconcile that records it waiting); meanwhile and right
// after, namespace B creates one job at a time into a queue of its own, and the harness times
// each B job from its create to its pod (the start). With a FIFO work queue a B job waits behind
// every A job queued before it; with the manager's fair queue (internal/fairqueue), behind about
// one A job per reconcile worker.
func (b *bench) s10Fairness(ctx context.Context) *Result {
	r := newResult("S10", "reconcile fairness across namespaces", b.env)
	n := b.cfg.s10N
	r.Params["n"], r.Params["workers"], r.Params["managerQPS"] = n, b.cfg.workers, b.cfg.s10QPS
	nsA, err := b.newNamespace(ctx, "bench-s10-a")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	nsB, err := b.newNamespace(ctx, "bench-s10-b")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	held := &kickqv1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: "held"},
		Spec: kickqv1alpha1.QueueSpec{Concurrency: ptrTo(int32(1))}}
	if err := b.cluster.Harness.Create(ctx, held); err != nil {
		r.Error = err.Error()
		return r
	}
	w, err := StartWatcher(ctx, b.cluster.HarnessCfg, b.cluster.KubeletCfg, nsB, WatchOptions{Kubelet: true, Workers: 2})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer w.Stop()
	// At its default client QPS the manager reconciles fewer jobs a second than A creates: A's
	// jobs queue up, as 50,000 jobs would at any QPS.
	m, err := b.startManager(ctx, "S10", fmt.Sprintf("--kube-api-qps=%d", b.cfg.s10QPS), fmt.Sprintf("--kube-api-burst=%d", 2*b.cfg.s10QPS))
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer m.Stop()

	var mu sync.Mutex
	probes := map[string]s10Probe{}
	probe := func(name string) error {
		d, _ := m.Metric("workqueue_depth", `name="queuejob"`)
		j := podJob(nsB, name)
		if err := b.cluster.Harness.Create(ctx, j); err != nil {
			return err
		}
		mu.Lock()
		probes[name] = s10Probe{created: time.Now(), depth: d}
		mu.Unlock()
		return nil
	}
	// B creates one job a second while A's creates run, and one right after them.
	stopProbes := make(chan struct{})
	probesDone := make(chan error, 1)
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopProbes:
				probesDone <- nil
				return
			case <-tick.C:
				if err := probe(fmt.Sprintf("during-%d", i)); err != nil {
					probesDone <- err
					return
				}
			}
		}
	}()
	t0 := time.Now()
	failed, err := parallel(ctx, n, b.cfg.parallelism, func(ctx context.Context, i int) error {
		j := podJob(nsA, fmt.Sprintf("a-%d", i))
		j.Spec.QueueName = "held"
		return b.cluster.Harness.Create(ctx, j)
	})
	createDur := time.Since(t0)
	close(stopProbes)
	if perr := <-probesDone; perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		r.Error = fmt.Sprintf("creating: %d failed, first: %v", failed, err)
		return r
	}
	if err := probe("after"); err != nil {
		r.Error = err.Error()
		return r
	}
	logf("S10: created %d jobs in A in %.1f s and %d in B", n, createDur.Seconds(), len(probes))
	if err := m.WaitIdle(ctx, 30*time.Minute); err != nil {
		r.Error = err.Error()
		return r
	}
	drained := time.Since(t0)
	snap := w.snapshot()
	var all Durations
	var after time.Duration
	var maxDepth float64
	missing := 0
	each := map[string]map[string]float64{}
	for name, p := range probes {
		seen, ok := snap.podSeen[name]
		if !ok {
			missing++
			continue
		}
		each[name] = map[string]float64{"createToPodMs": ms(seen.Sub(p.created)), "queueDepthAtCreate": p.depth}
		all = append(all, seen.Sub(p.created))
		if name == "after" {
			after = seen.Sub(p.created)
		}
		maxDepth = max(maxDepth, p.depth)
	}
	r.Metrics["harnessCreateSeconds"] = createDur.Seconds()
	r.Metrics["firstCreateToQueueDrainedSeconds"] = drained.Seconds()
	r.Metrics["bCreateToPod"] = all.summary()
	r.Metrics["bJobsEach"] = each
	r.Metrics["bCreateToPodAfterAllOfA"] = ms(after)
	r.Metrics["bJobs"], r.Metrics["bJobsWithoutPod"] = len(probes), missing
	r.Metrics["maxQueueDepthAtBCreate"] = maxDepth
	r.target("B create → pod, max over B's jobs", fmtMS(all.max()), fmt.Sprintf("%d B jobs; queuejob queue depth up to %.0f at their creates", len(probes), maxDepth),
		"≤ 1 s", missing == 0 && all.max() <= time.Second)
	r.row("B create → pod, p50", fmtMS(all.pct(50)), "")
	r.row("B create → pod, B job created right after A's last", fmtMS(after), "")
	r.row("A: creates / until its queue drained", fmt.Sprintf("%.1f s / %.1f s", createDur.Seconds(), drained.Seconds()), "")
	r.note("namespace A creates %d pod jobs into a queue of concurrency 1 with %d goroutines; namespace B creates one job a second meanwhile and one after; a B job's start is its pod as the harness's watch sees it; the manager runs at --kube-api-qps=%d (its default is 50), %d workers", n, b.cfg.parallelism, b.cfg.s10QPS, b.cfg.workers)
	return r
}

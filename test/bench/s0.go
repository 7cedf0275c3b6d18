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
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// Kinds of write S0 measures; later scenarios divide by these.
const (
	wPodCreate    = "pod create"
	wJobCreate    = "queuejob create"
	wStatusUpdate = "queuejob status update"
)

// cpWatch measures the control plane's CPU over a stretch.
type cpWatch struct {
	pids  map[string]int
	start map[string]time.Duration
}

func watchControlPlane() *cpWatch {
	w := &cpWatch{pids: ControlPlanePIDs(), start: map[string]time.Duration{}}
	for n, p := range w.pids {
		s, _ := ReadProc(p)
		w.start[n] = s.CPU
	}
	return w
}

func (w *cpWatch) used() map[string]float64 {
	out := map[string]float64{}
	for n, p := range w.pids {
		s, _ := ReadProc(p)
		out[n] = (s.CPU - w.start[n]).Seconds()
	}
	return out
}

// s0Ceiling measures raw API writes/s with the harness's client settings: pod creates, QueueJob
// creates and QueueJob status updates, no controller running.
func (b *bench) s0Ceiling(ctx context.Context) *Result {
	r := newResult("S0", "API-server ceiling", b.env)
	n, p := b.cfg.s0N, b.cfg.parallelism
	r.Params["n"], r.Params["parallelism"] = n, p
	ns, err := b.newNamespace(ctx, "bench-s0")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	c := b.cluster.Harness
	jobs := make([]*kickqv1alpha1.QueueJob, n)
	kinds := []struct {
		name string
		fn   func(ctx context.Context, i int) error
	}{
		{wPodCreate, func(ctx context.Context, i int) error {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("p-%d", i)}, Spec: podSpec()}
			return c.Create(ctx, pod)
		}},
		{wJobCreate, func(ctx context.Context, i int) error {
			j := podJob(ns, fmt.Sprintf("j-%d", i))
			if err := c.Create(ctx, j); err != nil {
				return err
			}
			jobs[i] = j
			return nil
		}},
		{wStatusUpdate, func(ctx context.Context, i int) error {
			j := jobs[i]
			if j == nil {
				return fmt.Errorf("job %d was not created", i)
			}
			j.Status.Phase = kickqv1alpha1.PhasePending
			j.Status.Message = "bench"
			return c.Status().Update(ctx, j)
		}},
	}
	for _, k := range kinds {
		cp := watchControlPlane()
		var prof chan error
		if b.cfg.profile && k.name != wPodCreate {
			prof = make(chan error, 1)
			path := filepath.Join(b.cfg.out, "S0-kube-apiserver-"+strings.ReplaceAll(k.name, " ", "-")+".cpu.pprof")
			go func() { prof <- b.cluster.Profile(ctx, 3, path) }()
		}
		t0 := time.Now()
		failed, err := parallel(ctx, n, p, k.fn)
		d := time.Since(t0)
		if prof != nil {
			if err := <-prof; err != nil {
				logf("S0: profiling kube-apiserver: %v", err)
			}
		}
		if err != nil {
			r.Error = fmt.Sprintf("%s: %d failed, first: %v", k.name, failed, err)
			return r
		}
		rate := perSec(n, d)
		b.s0[k.name] = rate
		used := cp.used()
		r.Metrics[k.name] = map[string]any{"perSecond": rate, "seconds": d.Seconds(), "controlPlaneCPUSeconds": used}
		r.row(k.name+"s/s", fmt.Sprintf("%.0f", rate),
			fmt.Sprintf("%d writes in %.1f s; kube-apiserver %.1f + etcd %.1f CPU-s", n, d.Seconds(), used["kube-apiserver"], used["etcd"]))
		logf("S0: %s: %.0f/s", k.name, rate)
	}
	// The manager of later scenarios would otherwise run these jobs.
	if err := c.DeleteAllOf(ctx, &kickqv1alpha1.QueueJob{}, client.InNamespace(ns)); err != nil {
		r.Error = "deleting S0's jobs: " + err.Error()
	}
	if err := c.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(ns), client.GracePeriodSeconds(0)); err != nil {
		r.Error = "deleting S0's pods: " + err.Error()
	}
	return r
}

// Profile writes a CPU profile of kube-apiserver of the given length to path.
func (c *Cluster) Profile(ctx context.Context, seconds int, path string) error {
	b, err := c.RawGet(ctx, c.Admin, fmt.Sprintf("/debug/pprof/profile?seconds=%d", seconds))
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

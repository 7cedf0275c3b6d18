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
	"path/filepath"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// memMeasure is the manager's memory at one moment.
type memMeasure struct {
	rss, peak int64
	live      float64 // Go heap in use after a forced GC
}

func (m memMeasure) m() map[string]any {
	return map[string]any{"rssBytes": m.rss, "peakRSSBytes": m.peak, "heapInuseAfterGCBytes": m.live}
}

func (m memMeasure) String() string {
	return fmt.Sprintf("heap %s, RSS %s (peak %s)", mib(int64(m.live)), mib(m.rss), mib(m.peak))
}

// measureMem forces a GC in the manager (through its heap profile) and reads its memory.
func (b *bench) measureMem(m *Manager, id string) (memMeasure, error) {
	if err := m.HeapProfile(filepath.Join(b.cfg.out, id+"-manager.heap.pprof")); err != nil {
		return memMeasure{}, err
	}
	live, err := m.Metric("go_memstats_heap_inuse_bytes")
	s := m.Stats()
	return memMeasure{rss: s.RSS, peak: s.PeakRS, live: live}, err
}

// dataOf is a JSON object of about n bytes.
func dataOf(n int) *apiextensionsv1.JSON {
	return &apiextensionsv1.JSON{Raw: []byte(`{"blob":"` + strings.Repeat("x", max(n-12, 0)) + `"}`)}
}

// s8Memory measures the manager's memory under large jobs: -s8-big create attempts of jobs with
// about 1 MiB of spec.data (over the 64 KiB cap: the API server stores them, the manager fails
// them InvalidSpec), the relist of them after a restart, and -s8-rest finished jobs with 60 KiB
// of data (under the cap) kept at rest. Every job calls a loopback receiver that answers 200.
func (b *bench) s8Memory(ctx context.Context) *Result {
	r := newResult("S8", "manager memory under large jobs", b.env)
	nBig, nRest := b.cfg.s8Big, b.cfg.s8Rest
	r.Params["bigJobs"], r.Params["bigDataBytes"], r.Params["restJobs"], r.Params["restDataBytes"] = nBig, s8BigBytes, nRest, s8RestBytes
	fail := func(err error) *Result { r.Error = err.Error(); return r }
	ns, err := b.newNamespace(ctx, "bench-s8")
	if err != nil {
		return fail(err)
	}
	sk, err := startSink()
	if err != nil {
		return fail(err)
	}
	defer sk.stop()
	w, err := StartWatcher(ctx, b.cluster.HarnessCfg, b.cluster.KubeletCfg, ns, WatchOptions{QueueJobs: true})
	if err != nil {
		return fail(err)
	}
	defer w.Stop()
	flags := []string{"--webhook-allow-cidrs=127.0.0.0/8"}
	m, err := b.startManager(ctx, "S8", flags...)
	if err != nil {
		return fail(err)
	}
	base, err := b.measureMem(m, "S8-empty")
	if err != nil {
		m.Stop()
		return fail(err)
	}
	ResetPeak(m.Pid)
	create := func(prefix string, n, size, par int) (int, error) {
		failed, err := parallel(ctx, n, par, func(ctx context.Context, i int) error {
			j := &kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d", prefix, i)},
				Spec: kickqv1alpha1.QueueJobSpec{Type: "bench", Data: dataOf(size), Webhook: &kickqv1alpha1.WebhookTarget{URL: sk.URL}}}
			return b.cluster.Harness.Create(ctx, j)
		})
		if failed == n {
			return failed, err
		}
		return failed, nil
	}
	refused, err := create("big", nBig, s8BigBytes, 8)
	if err != nil {
		m.Stop()
		return fail(fmt.Errorf("creating the large jobs: all %d refused, first: %w", refused, err))
	}
	if _, err := w.WaitDone(ctx, nBig-refused, 15*time.Minute); err != nil {
		m.Stop()
		return fail(err)
	}
	big, err := b.measureMem(m, "S8-big")
	m.Stop()
	if err != nil {
		return fail(err)
	}
	logf("S8: %d large jobs (%d refused at create): %s", nBig, refused, big)
	m, err = b.startManager(ctx, "S8-restart", flags...)
	if err != nil {
		return fail(err)
	}
	defer m.Stop()
	if err := m.WaitIdle(ctx, 10*time.Minute); err != nil {
		return fail(err)
	}
	relist, err := b.measureMem(m, "S8-restart")
	if err != nil {
		return fail(err)
	}
	logf("S8: after a restart with them: %s", relist)
	if _, err := create("rest", nRest, s8RestBytes, b.cfg.parallelism); err != nil {
		return fail(err)
	}
	if _, err := w.WaitDone(ctx, nBig-refused+nRest, 15*time.Minute); err != nil {
		return fail(err)
	}
	if err := m.WaitIdle(ctx, 10*time.Minute); err != nil {
		return fail(err)
	}
	rest, err := b.measureMem(m, "S8-rest")
	if err != nil {
		return fail(err)
	}
	logf("S8: and %d finished jobs of %d B data: %s", nRest, s8RestBytes, rest)
	perJob := (rest.live - relist.live) / float64(nRest)
	r.Metrics["baseline"], r.Metrics["afterBig"], r.Metrics["afterRestart"], r.Metrics["afterRest"] = base.m(), big.m(), relist.m(), rest.m()
	r.Metrics["refusedAtCreate"] = refused
	r.Metrics["heapBytesPerFinishedJob"] = perJob
	r.target(fmt.Sprintf("manager after %d create attempts of %d KiB jobs", nBig, s8BigBytes>>10), big.String(),
		fmt.Sprintf("empty: %s; %d refused at create", base, refused), "heap ≪ the data (400 MiB)", big.live < float64(nBig)*s8BigBytes/4)
	r.row("… after a restart (relist of them)", relist.String(), "")
	r.row(fmt.Sprintf("Go heap per finished job with %d KiB data", s8RestBytes>>10), fmt.Sprintf("%.0f B", perJob),
		fmt.Sprintf("%d jobs; %s", nRest, rest))
	r.note("large jobs are created with 8 goroutines; heap is go_memstats_heap_inuse_bytes after a forced GC; peak RSS is VmHWM since the manager started (reset after the baseline)")
	return r
}

const (
	s8BigBytes  = 1 << 20
	s8RestBytes = 60 << 10
)

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
	"fmt"
	"sort"
	"strings"
)

// median is the middle value (the mean of the two middle ones for an even count).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medText formats the median of the runs and, when there are several, every run in order:
// "41 (40 · 41 · 45)".
func medText(format string, v []float64) string {
	m := fmt.Sprintf(format, median(v))
	if len(v) < 2 {
		return m
	}
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf(format, x)
	}
	return m + " (" + strings.Join(parts, " · ") + ")"
}

// of collects one figure of one arm over the runs.
func of(runs []*s2Run, kq bool, f func(*armResult) float64) []float64 {
	out := make([]float64, 0, len(runs))
	for _, r := range runs {
		a := r.bj
		if kq {
			a = r.kq
		}
		out = append(out, f(a))
	}
	return out
}

func ratios(runs []*s2Run, f func(*armResult) float64) []float64 {
	out := make([]float64, 0, len(runs))
	for _, r := range runs {
		if d := f(r.bj); d != 0 {
			out = append(out, f(r.kq)/d)
		}
	}
	return out
}

// s2Report writes S2's rows: per setting, each figure the median over the runs (every run shown).
func (b *bench) s2Report(r *Result, settings []s2Setting, all map[string][]*s2Run) {
	for _, s := range settings {
		runs := all[s.name]
		if len(runs) == 0 {
			continue
		}
		r.Metrics[s.name] = runs
		label := func(m string) string { return fmt.Sprintf("%s, %s (N=%d)", m, s.name, s.n) }
		both := func(metric, format string, f func(*armResult) float64) {
			r.row(label(metric), medText(format, of(runs, true, f)), "batch/v1 Job: "+medText(format, of(runs, false, f)))
		}
		done := func(a *armResult) float64 { return a.DonePerSec }
		own := func(a *armResult) float64 { return a.OwnAPIMs }
		doneRatio, ownRatio := ratios(runs, done), ratios(runs, own)
		r.Metrics[s.name+"CompletedPerSecondRatio"], r.Metrics[s.name+"OwnAPIServerCPURatio"] = median(doneRatio), median(ownRatio)
		if s.defaults {
			r.row(label("completed jobs/s"), medText("%.1f", of(runs, true, done))+", "+medText("%.2f×", doneRatio)+" batch/v1",
				"batch/v1 Job: "+medText("%.1f", of(runs, false, done)))
			r.row(label("API-server CPU-ms per job, controller's own requests"), medText("%.2f", of(runs, true, own))+", "+medText("%.2f×", ownRatio)+" batch/v1",
				"batch/v1 Job: "+medText("%.2f", of(runs, false, own)))
		} else {
			r.target(label("completed jobs/s"), medText("%.1f", of(runs, true, done))+", "+medText("%.2f×", doneRatio)+" batch/v1",
				"batch/v1 Job: "+medText("%.1f", of(runs, false, done)), "≥ 1.2× batch/v1 (goal 2×)", median(doneRatio) >= 1.2)
			r.target(label("API-server CPU-ms per job, controller's own requests"), medText("%.2f", of(runs, true, own))+", "+medText("%.2f×", ownRatio)+" batch/v1",
				"batch/v1 Job: "+medText("%.2f", of(runs, false, own)), "≤ 0.5× batch/v1", median(ownRatio) <= 0.5)
		}
		both("pods created/s", "%.1f", func(a *armResult) float64 { return a.PodsPerSec })
		both("create → done p50 ms", "%.0f", func(a *armResult) float64 { return a.DoneLatency["p50ms"] })
		both("create → done p99 ms", "%.0f", func(a *armResult) float64 { return a.DoneLatency["p99ms"] })
		both("kube-apiserver CPU-ms per job, all", "%.2f", func(a *armResult) float64 { return a.APIServerCPU / float64(a.N) * 1000 })
		both("… of it the user's create", "%.2f", func(a *armResult) float64 { return a.UserCreateAPIMs })
		both("… of it the fake kubelet's writes", "%.2f", func(a *armResult) float64 { return a.KubeletAPIMs })
		both("… of it the API server idle over the arm's time", "%.2f", func(a *armResult) float64 { return a.IdleAPIMs })
		both("fake kubelet's share of kube-apiserver CPU", "%.0f %%", func(a *armResult) float64 { return a.KubeletShare * 100 })
		both("etcd CPU-ms per job", "%.2f", func(a *armResult) float64 { return a.ControlPlane["etcd"] / float64(a.N) * 1000 })
		last := runs[len(runs)-1]
		r.row(label("API requests per job, controller (last run)"), fmt.Sprintf("%.2f (%s)", last.kq.RequestsTotal, last.kq.requestsText),
			fmt.Sprintf("batch/v1 Job: %.2f (%s)", last.bj.RequestsTotal, last.bj.requestsText))
		kw := func(a *armResult) string {
			return fmt.Sprintf("user create 1.00, kubelet update pods/status %.2f", float64(a.KubeletWrites)/float64(a.N))
		}
		r.row(label("API requests per job, shared (last run)"), kw(last.kq), "batch/v1 Job: "+kw(last.bj))
		both("controller CPU-s per 1,000 jobs", "%.2f", func(a *armResult) float64 { return a.CPUPer1000 })
		both("controller peak RSS MiB", "%.0f", func(a *armResult) float64 { return float64(a.PeakRSS) / (1 << 20) })
		r.row(label("queuejob reconciles per job / mean reconcile ms"), medText("%.1f", of(runs, true, func(a *armResult) float64 { return a.Reconciles }))+" / "+
			medText("%.1f", of(runs, true, func(a *armResult) float64 { return a.ReconcileMs })), "")
	}
	r.note("%d run(s) of each arm; each figure is the median, every run in order in brackets; each arm runs alone (per run: the two baselines, kickq, then batch/v1 with kube-controller-manager started for it); the harness creates with %d goroutines; completed jobs/s = N / (last finished job seen by the harness's watch − first create)",
		b.cfg.repeat, b.cfg.parallelism)
	r.note("equal: manager %s, kube-controller-manager --kube-api-qps=%g --kube-api-burst=%d --concurrent-job-syncs=%d; defaults: neither gets QPS, burst or worker flags (kickq's defaults; kube-controller-manager v1.37's 20/30 and 5 job syncs); the fake kubelet and the harness keep QPS %g in both",
		strings.Join(b.mflags.Args(), " "), b.cfg.qps, b.cfg.burst, b.cfg.workers, b.cfg.qps)
	r.note("controller's own API-server CPU = kube-apiserver CPU over the arm − the user's creates − the fake kubelet's writes − the API server's idle CPU over the arm's time, each priced by a baseline of the same run with no controller running (3 s idle, N creates of the arm's kind, N pods created by the harness, the kubelet's writes to them: each phase's kube-apiserver CPU alone); see docs/benchmarks.md")
}

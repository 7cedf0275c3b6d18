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
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Result is one scenario's outcome: its parameters, every figure measured, and the table rows.
type Result struct {
	Scenario string         `json:"scenario"`
	Title    string         `json:"title"`
	Env      *EnvInfo       `json:"env"`
	Params   map[string]any `json:"params"`
	Metrics  map[string]any `json:"metrics"`
	Rows     []Row          `json:"rows"`
	Notes    []string       `json:"notes,omitempty"`
	Error    string         `json:"error,omitempty"`
}

// Row is one line of the table.
type Row struct {
	Metric    string `json:"metric"`
	Value     string `json:"value"`
	Reference string `json:"reference,omitempty"`
	Target    string `json:"target,omitempty"`
	Met       string `json:"met,omitempty"`
}

func newResult(id, title string, env *EnvInfo) *Result {
	return &Result{Scenario: id, Title: title, Env: env, Params: map[string]any{}, Metrics: map[string]any{}}
}

func (r *Result) row(metric, value, ref string) {
	r.Rows = append(r.Rows, Row{Metric: metric, Value: value, Reference: ref})
}

func (r *Result) target(metric, value, ref, target string, met bool) {
	m := "no"
	if met {
		m = "yes"
	}
	r.Rows = append(r.Rows, Row{Metric: metric, Value: value, Reference: ref, Target: target, Met: m})
}

func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// EnvInfo is the machine and the versions a run used.
type EnvInfo struct {
	Time         string  `json:"time"`
	Cores        int     `json:"cores"`
	CPUModel     string  `json:"cpuModel"`
	MemoryGiB    float64 `json:"memoryGiB"`
	LoadAvg      string  `json:"loadAvgAtStart"`
	GoVersion    string  `json:"goVersion"`
	Kubernetes   string  `json:"kubernetes"`
	Etcd         string  `json:"etcd"`
	KickqCommit  string  `json:"kickqCommit"`
	ClientQPS    float32 `json:"clientQPS"`
	ClientBurst  int     `json:"clientBurst"`
	Workers      int     `json:"workers"`
	Parallelism  int     `json:"harnessParallelism"`
	ManagerFlags string  `json:"managerFlags"`
	KCMFlags     string  `json:"kubeControllerManagerFlags"`
	Command      string  `json:"command"`
	Quick        bool    `json:"quick"`
}

func (r *Result) write(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, r.Scenario+".json"), append(b, '\n'), 0o644)
}

// writeTable prints every result as one Markdown table.
func writeTable(w io.Writer, results []*Result) {
	fmt.Fprintln(w, "| scenario | metric | kickq / value | reference | target | met |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(w, "| %s | error | %s | | | |\n", r.Scenario, strings.ReplaceAll(r.Error, "|", "/"))
		}
		for _, row := range r.Rows {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.Scenario, row.Metric, row.Value, row.Reference, row.Target, row.Met)
		}
	}
	for _, r := range results {
		for _, n := range r.Notes {
			fmt.Fprintf(w, "\n- %s: %s", r.Scenario, n)
		}
	}
	fmt.Fprintln(w)
}

// Durations summarise latencies.
type Durations []time.Duration

func (d Durations) pct(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append(Durations(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func (d Durations) max() time.Duration { return d.pct(100) }

func (d Durations) summary() map[string]float64 {
	return map[string]float64{"p50ms": ms(d.pct(50)), "p99ms": ms(d.pct(99)), "maxms": ms(d.max()), "n": float64(len(d))}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

func fmtMS(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f ms", float64(d)/1e6)
}

func perSec(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// maxInWindow is the most times within any half-open window [t, t+period).
func maxInWindow(ts []time.Time, period time.Duration) int {
	s := append([]time.Time(nil), ts...)
	sort.Slice(s, func(i, j int) bool { return s[i].Before(s[j]) })
	best, j := 0, 0
	for i := range s {
		for s[i].Sub(s[j]) >= period {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// parallel runs fn(i) for i in [0, n) on p goroutines and returns the first error and how many
// calls failed.
func parallel(ctx context.Context, n, p int, fn func(ctx context.Context, i int) error) (int, error) {
	var next, failed atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range p {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					failed.Add(1)
					once.Do(func() { first = err })
				}
			}
		}()
	}
	wg.Wait()
	return int(failed.Load()), first
}

// requestsTable formats per-job request counts, largest first.
func requestsTable(counts map[string]int, n int) (string, float64) {
	type kv struct {
		k string
		v int
	}
	var all []kv
	total := 0
	for k, v := range counts {
		all = append(all, kv{k, v})
		total += v
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v || (all[i].v == all[j].v && all[i].k < all[j].k) })
	var parts []string
	for _, e := range all {
		parts = append(parts, fmt.Sprintf("%s %.2f", e.k, float64(e.v)/float64(max(n, 1))))
	}
	return strings.Join(parts, ", "), float64(total) / float64(max(n, 1))
}

func perJob(counts map[string]int, n int) map[string]float64 {
	out := map[string]float64{}
	for k, v := range counts {
		out[k] = math.Round(float64(v)/float64(max(n, 1))*1000) / 1000
	}
	return out
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

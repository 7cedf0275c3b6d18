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
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// s7KeysConfig are S7's sizes; zero takes the mode's default (full or quick).
var s7KeysConfig struct {
	keys, perKey, big, concurrency, windowSeconds, profileSeconds int
}

func init() {
	c := &s7KeysConfig
	flag.IntVar(&c.keys, "s7-keys", 0, "S7: small keys (default 100, quick 10).")
	flag.IntVar(&c.perKey, "s7-per-key", 0, "S7: jobs of each small key (default 100, quick 10).")
	flag.IntVar(&c.big, "s7-big", 0, "S7: jobs of the one big key, created before every small key's (default 10000, quick 1000).")
	flag.IntVar(&c.concurrency, "s7-concurrency", 10, "S7: the queue's concurrency (keyLimits.concurrency is 1), so that keys compete for slots.")
	flag.IntVar(&c.windowSeconds, "s7-window", 5, "S7: the window, in seconds, that starts per key are counted in.")
	flag.IntVar(&c.profileSeconds, "s7-profile-seconds", 0, "S7: seconds of the manager's CPU profile, from the last create, that admission's share is read from (default 60, quick 20).")
}

// s7KeyOf is the key of a job of S7 by its name: "big-12" → "big", "k007-3" → "k007".
func s7KeyOf(name string) string {
	k, _, _ := strings.Cut(name, "-")
	return k
}

// s7Keys feeds one webhook queue with keyLimits.concurrency 1 first the big key's jobs, then each
// small key's jobs key by key (the order FIFO serves worst), and measures how soon every small key
// starts its first job, how evenly keys share the starts while they all have work, and admission's
// CPU per job (the share of the manager's CPU profile spent in internal/admission).
func (b *bench) s7Keys(ctx context.Context) *Result {
	r := newResult("S7", "per-key fairness", b.env)
	c := s7KeysConfig
	def := func(v *int, full, quick int) {
		if *v == 0 {
			*v = full
			if b.cfg.quick {
				*v = quick
			}
		}
	}
	def(&c.keys, 100, 10)
	def(&c.perKey, 100, 10)
	def(&c.big, 10000, 1000)
	def(&c.profileSeconds, 60, 20)
	n := c.big + c.keys*c.perKey
	r.Params["smallKeys"], r.Params["jobsPerSmallKey"], r.Params["bigKeyJobs"] = c.keys, c.perKey, c.big
	r.Params["queueConcurrency"], r.Params["keyConcurrency"], r.Params["windowSeconds"] = c.concurrency, 1, c.windowSeconds
	ns, err := b.newNamespace(ctx, "bench-s7")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	sk, err := startSink()
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer sk.stop()
	q := &kickqv1alpha1.Queue{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "keys"},
		Spec: kickqv1alpha1.QueueSpec{
			Concurrency: ptrTo(int32(c.concurrency)),
			KeyLimits:   &kickqv1alpha1.KeyLimits{Concurrency: ptrTo(int32(1))},
			Handlers: []kickqv1alpha1.Handler{{Type: "hook", HandlerSpec: kickqv1alpha1.HandlerSpec{
				Webhook: &kickqv1alpha1.WebhookTarget{URL: sk.URL}}}},
		},
	}
	if err := b.cluster.Harness.Create(ctx, q); err != nil {
		r.Error = err.Error()
		return r
	}
	w, err := StartWatcher(ctx, b.cluster.HarnessCfg, b.cluster.KubeletCfg, ns, WatchOptions{QueueJobs: true})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer w.Stop()
	m, err := b.startWebhookManager(ctx, "S7")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer m.Stop()
	profPath := filepath.Join(b.cfg.out, "S7-manager.cpu.pprof")
	before := m.Stats()
	names := make([]string, 0, n)
	for i := range c.big {
		names = append(names, fmt.Sprintf("big-%d", i))
	}
	for k := range c.keys {
		for i := range c.perKey {
			names = append(names, fmt.Sprintf("k%03d-%d", k, i))
		}
	}
	created := make([]time.Time, n)
	t0 := time.Now()
	// The big key's jobs first, then the small keys': each phase in parallel, so that every small
	// job is created after every big one.
	for _, span := range [][2]int{{0, c.big}, {c.big, n}} {
		failed, err := parallel(ctx, span[1]-span[0], b.cfg.parallelism, func(ctx context.Context, i int) error {
			i += span[0]
			j := &kickqv1alpha1.QueueJob{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names[i]},
				Spec:       kickqv1alpha1.QueueJobSpec{QueueName: "keys", Type: "hook", Key: s7KeyOf(names[i])},
			}
			if err := b.cluster.Harness.Create(ctx, j); err != nil {
				return err
			}
			created[i] = time.Now()
			return nil
		})
		if err != nil {
			r.Error = fmt.Sprintf("creating: %d failed, first: %v", failed, err)
			return r
		}
	}
	logf("S7: created %d jobs in %.1f s", n, time.Since(t0).Seconds())
	// Profiled once every job exists: the manager then mostly admits and runs them.
	profStart := time.Now()
	prof := m.Profile(ctx, c.profileSeconds, profPath)
	snap, err := w.WaitDone(ctx, n, 30*time.Minute)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	after := m.Stats()
	if perr := <-prof; perr != nil {
		logf("S7: profile: %v", perr)
	}
	sk.mu.Lock()
	starts := make(map[string]time.Time, len(sk.first))
	for k, v := range sk.first {
		starts[k] = v
	}
	sk.mu.Unlock()
	s7Report(r, c.keys, names, created, starts, time.Duration(c.windowSeconds)*time.Second)
	if err := s7WriteTimes(filepath.Join(b.cfg.out, "S7-times.json"), names, created, starts); err != nil {
		r.note("writing S7-times.json: %v", err)
	}
	cpu := (after.CPU - before.CPU).Seconds()
	r.Metrics["managerCPUSeconds"] = cpu
	r.Metrics["failedJobs"] = snap.doneFailed
	r.row("manager CPU-s per 1,000 jobs", fmt.Sprintf("%.2f", cpu/float64(n)*1000), fmt.Sprintf("%d jobs", n))
	if adm, total, err := admissionCPU(profPath); err != nil {
		r.note("admission's CPU: reading the profile: %v", err)
	} else {
		inProfile := 0
		for _, t := range starts {
			if !t.Before(profStart) && t.Sub(profStart) <= time.Duration(c.profileSeconds)*time.Second {
				inProfile++
			}
		}
		r.Metrics["admissionCPUSecondsInProfile"], r.Metrics["managerCPUSecondsInProfile"], r.Metrics["startsInProfile"] = adm, total, inProfile
		if inProfile > 0 {
			r.Metrics["admissionCPUMicrosecondsPerJob"] = adm / float64(inProfile) * 1e6
			r.row("admission CPU per job", fmt.Sprintf("%.0f µs", adm/float64(inProfile)*1e6),
				fmt.Sprintf("%.2f of the manager's %.2f CPU-s in %d s after the last create (%d starts); internal/admission inclusive", adm, total, c.profileSeconds, inProfile))
		}
	}
	r.note("one webhook queue (handler to a loopback sink that answers 200 at once) with concurrency %d and keyLimits.concurrency 1; the big key's %d jobs are created before the %d small keys' %d jobs each, key by key; a job starts when the sink receives its call",
		c.concurrency, c.big, c.keys, c.perKey)
	return r
}

// s7Report computes S7's fairness figures from the jobs' creation and start times.
func s7Report(r *Result, keys int, names []string, created []time.Time, starts map[string]time.Time, window time.Duration) {
	firstCreate, firstStart := map[string]time.Time{}, map[string]time.Time{}
	lastStart := map[string]time.Time{}
	var all []time.Time
	for i, name := range names {
		k := s7KeyOf(name)
		if t, ok := firstCreate[k]; !ok || created[i].Before(t) {
			firstCreate[k] = created[i]
		}
		st, ok := starts[name]
		if !ok {
			continue
		}
		all = append(all, st)
		if t, ok := firstStart[k]; !ok || st.Before(t) {
			firstStart[k] = st
		}
		if st.After(lastStart[k]) {
			lastStart[k] = st
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Before(all[j]) })
	// Time to first start of each small key, and how many starts (of any key) came between its
	// first create and its first start: with keys in turn, at most one of each other key.
	var toFirst Durations
	worstAhead := 0
	for k, fs := range firstStart {
		if k == "big" {
			continue
		}
		toFirst = append(toFirst, fs.Sub(firstCreate[k]))
		from := sort.Search(len(all), func(i int) bool { return all[i].After(firstCreate[k]) })
		to := sort.Search(len(all), func(i int) bool { return !all[i].Before(fs) })
		worstAhead = max(worstAhead, to-from)
	}
	r.Metrics["timeToFirstStart"] = toFirst.summary()
	r.Metrics["smallKeysStarted"] = len(toFirst)
	r.Metrics["mostStartsWhileAKeyWaitedForItsFirst"] = worstAhead
	r.target("time to first start of every small key (its first create → its first call)",
		fmt.Sprintf("p50 %s, max %s", fmtMS(toFirst.pct(50)), fmtMS(toFirst.max())), fmt.Sprintf("%d of %d keys started", len(toFirst), keys),
		"every key", len(toFirst) == keys)
	r.target("most starts of other jobs while a small key waited for its first", strconv.Itoa(worstAhead),
		fmt.Sprintf("%d other keys: in turn, at most one start each", keys), fmt.Sprintf("≤ %d", keys), worstAhead <= keys)
	// Starts per key per window while every key has work: from the last small key's first create
	// to the first small key's last start.
	from, to := time.Time{}, time.Time{}
	for k, t := range firstCreate {
		if k != "big" && t.After(from) {
			from = t
		}
	}
	for k, t := range lastStart {
		if k != "big" && (to.IsZero() || t.Before(to)) {
			to = t
		}
	}
	if !to.After(from.Add(window)) {
		r.note("the contended phase (every key with work) lasted %s, less than one %s window: no starts per window", to.Sub(from).Round(time.Millisecond), window)
		return
	}
	windows := int(to.Sub(from) / window)
	perKey := map[string]int{}
	for name, st := range starts {
		if !st.Before(from) && st.Before(from.Add(time.Duration(windows)*window)) {
			perKey[s7KeyOf(name)]++
		}
	}
	lo, hi, sum := -1, 0, 0
	for k := range firstCreate {
		if k == "big" {
			continue
		}
		v := perKey[k]
		sum += v
		hi = max(hi, v)
		if lo < 0 || v < lo {
			lo = v
		}
	}
	mean := float64(sum) / float64(keys) / float64(windows)
	bigPer := float64(perKey["big"]) / float64(windows)
	r.Metrics["contendedWindows"] = windows
	r.Metrics["startsPerKeyPerWindow"] = map[string]float64{"smallMean": mean, "smallMin": float64(lo) / float64(windows),
		"smallMax": float64(hi) / float64(windows), "big": bigPer}
	r.row(fmt.Sprintf("starts per key per %s window, every key with work", window),
		fmt.Sprintf("small keys mean %.2f (min %.2f, max %.2f); big key %.2f", mean, float64(lo)/float64(windows), float64(hi)/float64(windows), bigPer),
		fmt.Sprintf("%d windows from the last small key's first create", windows))
}

// s7WriteTimes writes each job's create and start (first call) time, for a closer look.
func s7WriteTimes(path string, names []string, created []time.Time, starts map[string]time.Time) error {
	type times struct {
		Created time.Time `json:"created"`
		Started time.Time `json:"started,omitzero"`
	}
	out := make(map[string]times, len(names))
	for i, n := range names {
		out[n] = times{Created: created[i], Started: starts[n]}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// admissionCPU reads a CPU profile: the seconds of samples with a frame in internal/admission
// (inclusive), and of all samples.
func admissionCPU(path string) (admission, total float64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = f.Close() }()
	p, err := profile.Parse(f)
	if err != nil {
		return 0, 0, err
	}
	vi := len(p.SampleType) - 1 // cpu nanoseconds
	for _, s := range p.Sample {
		v := float64(s.Value[vi]) / 1e9
		total += v
		if inAdmission(s) {
			admission += v
		}
	}
	return admission, total, nil
}

func inAdmission(s *profile.Sample) bool {
	for _, loc := range s.Location {
		for _, l := range loc.Line {
			if l.Function != nil && strings.HasPrefix(l.Function.Name, "kickq.dev/kickq/internal/admission.") {
				return true
			}
		}
	}
	return false
}

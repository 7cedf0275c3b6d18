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
	"sort"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// s3Delayed creates jobs due spread over a minute plus a group due at one instant, and measures
// how late each attempt started. The start of an attempt is the manager's status write that
// records it (phase Running): its time is when the API server received that write, from the
// audit log (microseconds). Status times themselves have one-second resolution (metav1.Time), so
// the recorded startTime − due figure is given too but only to the second.
func (b *bench) s3Delayed(ctx context.Context) *Result {
	r := newResult("S3", "delayed jobs", b.env)
	spread, burst, secs := b.cfg.s3Spread, b.cfg.s3Burst, b.cfg.s3SpreadSeconds
	r.Params["spread"], r.Params["spreadSeconds"], r.Params["burst"] = spread, secs, burst
	ns, err := b.newNamespace(ctx, "bench-s3")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	w, err := StartWatcher(ctx, b.cluster.HarnessCfg, b.cluster.KubeletCfg, ns, WatchOptions{QueueJobs: true, Kubelet: true, Workers: b.cfg.parallelism})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer w.Stop()
	m, err := b.startManager(ctx, "S3")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer m.Stop()

	total := spread + burst
	rate := b.s0[wJobCreate]
	if rate <= 0 {
		rate = 300
	}
	// Creating the jobs and the manager's Delayed writes both take API time: leave room for both.
	lead := time.Duration(2.5*float64(total)/rate*float64(time.Second)) + 10*time.Second
	t0 := time.Now().Add(lead).Truncate(time.Second).Add(time.Second)
	due, burstDue := s3DueTimes(t0, spread, burst, secs)
	r.Params["firstDue"], r.Params["burstDue"] = t0.Format(time.RFC3339), burstDue.Format(time.RFC3339)
	mark := b.cluster.MarkAudit()
	before := m.Stats()
	created := make([]time.Time, total)
	var mu sync.Mutex
	tc := time.Now()
	failed, err := parallel(ctx, total, b.cfg.parallelism, func(ctx context.Context, i int) error {
		j := podJob(ns, fmt.Sprintf("j-%d", i))
		j.Spec.NotBeforeTime = &metav1.Time{Time: due[i]}
		if err := b.cluster.Harness.Create(ctx, j); err != nil {
			return err
		}
		mu.Lock()
		created[i] = time.Now()
		mu.Unlock()
		return nil
	})
	if err != nil {
		r.Error = fmt.Sprintf("creating: %d failed, first: %v", failed, err)
		return r
	}
	logf("S3: created %d jobs in %.1f s; first due in %.1f s, burst at %s", total, time.Since(tc).Seconds(), time.Until(t0).Seconds(), burstDue.Format("15:04:05"))
	var prof <-chan error
	if b.cfg.profile {
		time.Sleep(time.Until(burstDue.Add(-time.Second)))
		prof = m.Profile(ctx, 10, filepath.Join(b.cfg.out, "S3-manager.cpu.pprof"))
	}
	snap, err := w.WaitDone(ctx, total, time.Until(burstDue)+10*time.Minute)
	if prof != nil {
		if perr := <-prof; perr != nil {
			logf("S3: profile: %v", perr)
		}
	}
	if err != nil {
		r.Error = err.Error()
		return r
	}
	after := m.Stats()
	if rec, secs, err := m.SaveMetrics(filepath.Join(b.cfg.out, "S3-manager.metrics.txt")); err == nil && rec > 0 {
		r.Metrics["reconcilesPerJob"], r.Metrics["meanReconcileMs"] = rec/float64(total), secs/rec*1000
	}
	time.Sleep(200 * time.Millisecond)
	events, err := b.cluster.ReadAudit(mark, 0, func(e *AuditEvent) bool {
		return e.User.Username == userManager && e.Verb == "update" && e.Resource() == "queuejobs/status" &&
			e.ObjectRef.Namespace == ns && e.Code() >= 200 && e.Code() < 300
	})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	writes := map[string][]time.Time{}
	for i := range events {
		writes[events[i].ObjectRef.Name] = append(writes[events[i].ObjectRef.Name], events[i].RequestReceived)
	}
	type group struct {
		name                     string
		audit, watched, recorded Durations
		lateCreated              int
	}
	groups := []*group{{name: fmt.Sprintf("%d due over %d s", spread, secs)}, {name: fmt.Sprintf("%d due at once", burst)}}
	for i := range total {
		g := groups[0]
		if i >= spread {
			g = groups[1]
		}
		if created[i].After(due[i]) {
			g.lateCreated++
			continue
		}
		name := fmt.Sprintf("j-%d", i)
		ws := writes[name]
		sort.Slice(ws, func(a, c int) bool { return ws[a].Before(ws[c]) })
		for _, t := range ws {
			if !t.Before(due[i]) {
				g.audit = append(g.audit, t.Sub(due[i]))
				break
			}
		}
		if t, ok := snap.running[name]; ok {
			g.watched = append(g.watched, t.Sub(due[i]))
		}
		if rec := snap.recorded[name]; len(rec) > 0 {
			g.recorded = append(g.recorded, rec[0].Sub(due[i]))
		}
	}
	for _, g := range groups {
		r.Metrics[g.name] = map[string]any{
			"latenessAtAPIServer":  g.audit.summary(),
			"latenessSeenByWatch":  g.watched.summary(),
			"latenessRecordedSecs": g.recorded.summary(),
			"createdAfterDue":      g.lateCreated,
		}
		r.target("lateness p50 / p99 / max, "+g.name,
			fmt.Sprintf("%s / %s / %s", fmtMS(g.audit.pct(50)), fmtMS(g.audit.pct(99)), fmtMS(g.audit.max())),
			fmt.Sprintf("seen by a watch: %s / %s / %s", fmtMS(g.watched.pct(50)), fmtMS(g.watched.pct(99)), fmtMS(g.watched.max())),
			"p99 ≤ 50 ms", g.audit.pct(99) <= 50*time.Millisecond && len(g.audit) > 0)
	}
	r.Metrics["managerCPUSeconds"] = (after.CPU - before.CPU).Seconds()
	r.Metrics["managerPeakRSSBytes"] = after.PeakRS
	r.Metrics["failedJobs"] = snap.doneFailed
	r.row("manager CPU-s / peak RSS", fmt.Sprintf("%.1f / %s", (after.CPU-before.CPU).Seconds(), mib(after.PeakRS)), fmt.Sprintf("%d jobs", total))
	r.note("lateness = when the API server received the manager's status write that starts the attempt (audit log, µs) − notBeforeTime; due times are whole seconds (metav1.Time); the watch column adds the watch's delivery; jobs created after their due time are left out (%d, %d)",
		groups[0].lateCreated, groups[1].lateCreated)
	return r
}

// s3DueTimes gives the due time of each of the spread+burst jobs: the first spread jobs evenly
// over secs seconds from t0, the burst jobs all at one instant 15 s after the spread ends.
func s3DueTimes(t0 time.Time, spread, burst, secs int) (due []time.Time, burstDue time.Time) {
	burstDue = t0.Add(time.Duration(secs)*time.Second + 15*time.Second)
	due = make([]time.Time, spread+burst)
	for i := range due {
		if i < spread {
			due[i] = t0.Add(time.Duration(i*secs/spread) * time.Second)
		} else {
			due[i] = burstDue
		}
	}
	return due, burstDue
}

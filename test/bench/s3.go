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
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kickq.dev/kickq/test/util/audit"
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
	events, err := b.cluster.ReadAudit(mark, 0, func(e *audit.Event) bool {
		return e.User.Username == userManager && e.ObjectRef != nil && e.ObjectRef.Namespace == ns && audit.Code(e) >= 200 && audit.Code(e) < 300 &&
			((e.Verb == "update" || e.Verb == "patch") && audit.Resource(e) == "queuejobs/status" || e.Verb == "create" && audit.Resource(e) == "pods")
	})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	groups := s3Groups(s3Starts(events), snap, created, due, spread, burst, secs)
	b.s3Report(r, groups)
	r.Metrics["managerCPUSeconds"] = (after.CPU - before.CPU).Seconds()
	r.Metrics["managerPeakRSSBytes"] = after.PeakRS
	r.Metrics["failedJobs"] = snap.doneFailed
	r.row("manager CPU-s / peak RSS", fmt.Sprintf("%.1f / %s", (after.CPU-before.CPU).Seconds(), mib(after.PeakRS)), fmt.Sprintf("%d jobs", total))
	r.note("lateness = the start's side effect as the API server received it (audit log, µs: the job's first pod create, or its first status write at or after the due time if that came first) − notBeforeTime; due times are whole seconds (metav1.Time); the floor is what the API server forces: the jobs due at one instant ÷ S0's status writes/s; the watch column is when the harness's watch saw the job Running; jobs created after their due time are left out (%d, %d)",
		groups[0].lateCreated, groups[1].lateCreated)
	return r
}

// s3Group is one group of S3's jobs (spread, or due at once) and what the audit log and the watch
// showed of their starts.
type s3Group struct {
	name                     string
	audit, watched, recorded Durations
	lateCreated, early       int
	atOnce                   int // most jobs of the group due at one instant
}

// s3Groups measures each job's lateness at its start's side effect and groups the jobs.
func s3Groups(starts map[string]s3Start, snap snapshot, created, due []time.Time, spread, burst, secs int) []*s3Group {
	total := spread + burst
	groups := []*s3Group{{name: fmt.Sprintf("%d due over %d s", spread, secs)}, {name: fmt.Sprintf("%d due at once", burst)}}
	perInstant := map[time.Time]int{}
	for i := range total {
		perInstant[due[i]]++
	}
	for i := range total {
		g := groups[0]
		if i >= spread {
			g = groups[1]
		}
		g.atOnce = max(g.atOnce, perInstant[due[i]])
		if created[i].After(due[i]) {
			g.lateCreated++
			continue
		}
		name := fmt.Sprintf("j-%d", i)
		st := starts[name]
		if !st.firstPod.IsZero() && st.firstPod.Before(due[i]) {
			g.early++
		}
		if t, ok := st.start(due[i]); ok {
			g.audit = append(g.audit, t.Sub(due[i]))
		}
		if t, ok := snap.running[name]; ok {
			g.watched = append(g.watched, t.Sub(due[i]))
		}
		if rec := snap.recorded[name]; len(rec) > 0 {
			g.recorded = append(g.recorded, rec[0].Sub(due[i]))
		}
	}
	return groups
}

// s3Report writes the groups' rows: lateness against 50 ms + the floor, and starts before due.
func (b *bench) s3Report(r *Result, groups []*s3Group) {
	statusRate := b.s0[wStatusUpdate]
	for _, g := range groups {
		// The floor: the API server takes 1/statusRate per status write, and each job due at one
		// instant needs at least one write to start; without S0 in the run there is no floor.
		var floor time.Duration
		if statusRate > 0 {
			floor = time.Duration(float64(g.atOnce) / statusRate * float64(time.Second))
		}
		bound := 50*time.Millisecond + floor
		r.Metrics[g.name] = map[string]any{
			"latenessAtAPIServer":  g.audit.summary(),
			"latenessSeenByWatch":  g.watched.summary(),
			"latenessRecordedSecs": g.recorded.summary(),
			"createdAfterDue":      g.lateCreated,
			"startedEarly":         g.early,
			"dueAtOnce":            g.atOnce,
			"floorMs":              ms(floor),
			"targetP99Ms":          ms(bound),
		}
		r.target("lateness p50 / p99 / max, "+g.name,
			fmt.Sprintf("%s / %s / %s", fmtMS(g.audit.pct(50)), fmtMS(g.audit.pct(99)), fmtMS(g.audit.max())),
			fmt.Sprintf("floor %s (%d due at one instant ÷ S0's %.0f status writes/s); seen by a watch: %s / %s / %s", fmtMS(floor), g.atOnce, statusRate,
				fmtMS(g.watched.pct(50)), fmtMS(g.watched.pct(99)), fmtMS(g.watched.max())),
			fmt.Sprintf("p99 ≤ 50 ms + floor = %s", fmtMS(bound)), g.audit.pct(99) <= bound && len(g.audit) > 0 && statusRate > 0)
		r.target("started before due, "+g.name, strconv.Itoa(g.early), "pods created before notBeforeTime (audit log)", "0", g.early == 0)
	}
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

// s3Start is what the audit log shows of one job's start: its first pod create and its status
// writes, as the API server received them.
type s3Start struct {
	firstPod time.Time
	writes   []time.Time
}

// start is when the job's attempt took effect: its first pod create, or its first status write at
// or after due when that came first (a write before due is the Delayed one). Whichever of the two
// the manager sends first (today the status write; a pod create first once the pod is its own
// record), the figure is the same kind of moment: the first thing a user could see start.
func (s s3Start) start(due time.Time) (time.Time, bool) {
	t := s.firstPod
	for _, w := range s.writes {
		if !w.Before(due) {
			if t.IsZero() || w.Before(t) {
				t = w
			}
			break
		}
	}
	return t, !t.IsZero()
}

// s3Starts groups the manager's pod creates and status writes by job (pods are named
// <job>-<attempt>…; the jobs are j-<i>).
func s3Starts(events []audit.Event) map[string]s3Start {
	out := map[string]s3Start{}
	for i := range events {
		e := &events[i]
		name := e.ObjectRef.Name
		if audit.Resource(e) == "pods" {
			if n := strings.SplitN(name, "-", 3); len(n) == 3 {
				name = n[0] + "-" + n[1]
			}
			s := out[name]
			if s.firstPod.IsZero() || e.RequestReceivedTimestamp.Time.Before(s.firstPod) {
				s.firstPod = e.RequestReceivedTimestamp.Time
			}
			out[name] = s
			continue
		}
		s := out[name]
		s.writes = append(s.writes, e.RequestReceivedTimestamp.Time)
		out[name] = s
	}
	for k, s := range out {
		sort.Slice(s.writes, func(a, c int) bool { return s.writes[a].Before(s.writes[c]) })
		out[k] = s
	}
	return out
}

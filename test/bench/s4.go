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
	"sort"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util/audit"
)

const s4Concurrency = 10

// s4Limits feeds a queue with concurrency 10 and a rate limit and checks, from what the API
// server stored, that neither limit was ever exceeded, and how close to them the queue ran.
// Running jobs are counted over the harness's watch, whose events come in the order the API
// server stored the changes; starts are counted both by the attempt start times recorded in
// status (what the limit is defined on; one-second resolution) and by when the watch saw each
// job turn Running.
func (b *bench) s4Limits(ctx context.Context) *Result {
	r := newResult("S4", "limits under load", b.env)
	n, limit, period := b.cfg.s4N, b.cfg.s4Limit, time.Duration(b.cfg.s4Period)*time.Second
	r.Params["n"], r.Params["concurrency"], r.Params["rateLimit"], r.Params["periodSeconds"] = n, s4Concurrency, limit, b.cfg.s4Period
	ns, err := b.newNamespace(ctx, "bench-s4")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	q := &kickqv1alpha1.Queue{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "limited"},
		Spec: kickqv1alpha1.QueueSpec{
			Concurrency: ptrTo(int32(s4Concurrency)),
			RateLimit:   &kickqv1alpha1.RateLimit{Limit: int32(limit), PeriodSeconds: int32(b.cfg.s4Period)},
		},
	}
	if err := b.cluster.Harness.Create(ctx, q); err != nil {
		r.Error = err.Error()
		return r
	}
	w, err := StartWatcher(ctx, b.cluster.HarnessCfg, b.cluster.KubeletCfg, ns, WatchOptions{QueueJobs: true, Kubelet: true, Workers: b.cfg.parallelism})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer w.Stop()
	m, err := b.startManager(ctx, "S4")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer m.Stop()
	before := m.Stats()
	mark := b.cluster.MarkAudit()
	t0 := time.Now()
	failed, err := parallel(ctx, n, b.cfg.parallelism, func(ctx context.Context, i int) error {
		j := podJob(ns, fmt.Sprintf("j-%d", i))
		j.Spec.QueueName = "limited"
		return b.cluster.Harness.Create(ctx, j)
	})
	if err != nil {
		r.Error = fmt.Sprintf("creating: %d failed, first: %v", failed, err)
		return r
	}
	logf("S4: created %d jobs in %.1f s", n, time.Since(t0).Seconds())
	windows := (n + limit - 1) / limit
	snap, err := w.WaitDone(ctx, n, time.Duration(windows)*period+5*time.Minute)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	after := m.Stats()

	var watched, recorded []time.Time
	for _, t := range snap.running {
		watched = append(watched, t)
	}
	for _, ts := range snap.recorded {
		recorded = append(recorded, ts...)
	}
	sort.Slice(watched, func(i, j int) bool { return watched[i].Before(watched[j]) })
	time.Sleep(200 * time.Millisecond)
	atServer, err := b.startWrites(mark, ns)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	creates, err := b.podCreates(mark, ns)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	maxCreates := maxInWindow(creates, period)
	maxServer := maxInWindow(atServer, period)
	maxRecorded := maxInWindow(recorded, period)
	maxWatched := maxInWindow(watched, period)
	overConc := 0
	for _, p := range snap.series {
		if p.n > s4Concurrency {
			overConc++
		}
	}
	// Utilisation: the rate limit lets the k-th start (from 0) happen at floor(k/limit)·period at
	// the earliest, so the last of n starts needs at least floor((n−1)/limit)·period.
	var rateUtil float64
	ideal := time.Duration((n-1)/limit) * period
	if len(watched) > 1 {
		actual := watched[len(watched)-1].Sub(watched[0])
		if actual > 0 {
			rateUtil = ideal.Seconds() / actual.Seconds()
		}
		if ideal == 0 {
			rateUtil = 1
		}
	}
	// Mean Running jobs over the run, against the concurrency limit.
	var area float64
	var span time.Duration
	for i := 1; i < len(snap.series); i++ {
		d := snap.series[i].t.Sub(snap.series[i-1].t)
		area += float64(snap.series[i-1].n) * d.Seconds()
		span += d
	}
	meanRunning := 0.0
	if span > 0 {
		meanRunning = area / span.Seconds()
	}
	r.Metrics["maxRunning"] = snap.maxRunning
	r.Metrics["changesAboveConcurrency"] = overConc
	r.Metrics["maxStartsInWindowRecorded"] = maxRecorded
	r.Metrics["maxStartsInWindowWatched"] = maxWatched
	r.Metrics["maxStartsInWindowAtAPIServer"] = maxServer
	r.Metrics["startsAtAPIServer"] = len(atServer)
	r.Metrics["maxPodCreatesInWindowAtAPIServer"] = maxCreates
	r.Metrics["podCreatesAtAPIServer"] = len(creates)
	r.Metrics["rateUtilisation"] = rateUtil
	r.Metrics["meanRunning"] = meanRunning
	r.Metrics["idealSeconds"] = ideal.Seconds()
	r.Metrics["failedJobs"] = snap.doneFailed
	r.Metrics["managerCPUSeconds"] = (after.CPU - before.CPU).Seconds()
	if len(watched) > 1 {
		r.Metrics["firstToLastStartSeconds"] = watched[len(watched)-1].Sub(watched[0]).Seconds()
	}
	r.target("most Running at once", strconv.Itoa(snap.maxRunning), fmt.Sprintf("limit %d", s4Concurrency), "0 violations", snap.maxRunning <= s4Concurrency)
	// The limit holds at the side effect: the pod creates as the API server received them.
	r.target(fmt.Sprintf("most pod creates in any %s window", period), fmt.Sprintf("%d (when the API server received the manager's creates)", maxCreates),
		fmt.Sprintf("limit %d; by recorded startTime (1 s resolution) %d; starting status writes at the API server %d; by watch %d", limit, maxRecorded, maxServer, maxWatched),
		"0 violations", maxCreates <= limit)
	r.row("rate utilisation", fmt.Sprintf("%.0f %%", rateUtil*100), fmt.Sprintf("last of %d starts ideally at %s", n, ideal))
	r.row("mean Running", fmt.Sprintf("%.1f", meanRunning), fmt.Sprintf("limit %d", s4Concurrency))
	return r
}

func ptrTo[T any](v T) *T { return &v }

// podCreates returns when the API server received each successful pod create of the manager.
func (b *bench) podCreates(mark AuditMark, ns string) ([]time.Time, error) {
	events, err := b.cluster.ReadAudit(mark, 0, func(e *audit.Event) bool {
		return e.User.Username == userManager && e.Verb == "create" && audit.Resource(e) == "pods" && e.ObjectRef.Namespace == ns &&
			audit.Code(e) >= 200 && audit.Code(e) < 300
	})
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, len(events))
	for i := range events {
		out = append(out, events[i].RequestReceivedTimestamp.Time)
	}
	return out, nil
}

// startWrites returns when the API server received each 2xx status write of the manager that
// made a job Running with a new attempt (the audit policy logs these writes' bodies in bench-s4).
func (b *bench) startWrites(mark AuditMark, ns string) ([]time.Time, error) {
	events, err := b.cluster.ReadAudit(mark, 0, func(e *audit.Event) bool {
		return e.User.Username == userManager && audit.Resource(e) == "queuejobs/status" && e.ObjectRef.Namespace == ns &&
			audit.Code(e) >= 200 && audit.Code(e) < 300 && e.RequestObject != nil && len(e.RequestObject.Raw) > 0
	})
	if err != nil {
		return nil, err
	}
	attempts := map[string]int32{}
	var out []time.Time
	for i := range events {
		var body struct {
			Status struct {
				Phase    kickqv1alpha1.QueueJobPhase `json:"phase"`
				Attempts int32                       `json:"attempts"`
			} `json:"status"`
		}
		if err := json.Unmarshal(events[i].RequestObject.Raw, &body); err != nil {
			continue
		}
		name := events[i].ObjectRef.Name
		if body.Status.Phase == kickqv1alpha1.PhaseRunning && body.Status.Attempts > attempts[name] {
			attempts[name] = body.Status.Attempts
			out = append(out, events[i].RequestReceivedTimestamp.Time)
		}
	}
	return out, nil
}

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

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/lifecycle"
)

// s5AtRest puts N finished QueueJobs in the API server (no pods: as after their pods were
// collected) and measures the manager at rest: RSS and Go heap after its caches synced and it
// reconciled every job, the time to sync on a cold start and after a restart, and the bytes per
// job in etcd.
func (b *bench) s5AtRest(ctx context.Context) *Result {
	r := newResult("S5", "at rest", b.env)
	n := b.cfg.s5N
	r.Params["n"] = n
	c := b.cluster.Harness

	// Earlier scenarios' jobs stay (deleting them takes minutes): the baseline below includes
	// them, so the per-job figures are the cost of S5's jobs on top.
	var left kickqv1alpha1.QueueJobList
	if err := c.List(ctx, &left); err == nil {
		r.Params["otherQueueJobs"] = len(left.Items)
	}
	var t time.Time

	base, err := b.s5Measure(ctx, "S5-empty", 0)
	if err != nil {
		r.Error = "baseline: " + err.Error()
		return r
	}

	ns, err := b.newNamespace(ctx, "bench-s5")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	dbBefore := b.etcdDBSize()
	st := b.finishedStatus
	if st == nil {
		st = synthesizedFinished()
	}
	// One job goes through the API server (create, status write); the others are copies of what
	// the API server stored for it, written straight into etcd in transactions of 128 puts, as
	// writing 100,000 jobs through the API server takes longer than the whole run may.
	model := podJob(ns, "model")
	if err := c.Create(ctx, model); err != nil {
		r.Error = err.Error()
		return r
	}
	model.Status = *st.DeepCopy()
	if err := c.Status().Update(ctx, model); err != nil {
		r.Error = err.Error()
		return r
	}
	raw, err := b.cluster.RawGet(ctx, b.cluster.HarnessCfg, "/apis/kickq.dev/v1alpha1/namespaces/"+ns+"/queuejobs/model")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	t = time.Now()
	if err := b.cluster.PutCopies(ctx, raw, "kickq.dev", "queuejobs", ns, "done-", n); err != nil {
		r.Error = "writing finished jobs into etcd: " + err.Error()
		return r
	}
	if err := waitCount(ctx, c, ns, n+1, 5*time.Minute); err != nil {
		r.Error = err.Error()
		return r
	}
	fill := time.Since(t)
	logf("S5: %d finished jobs written in %.1f s", n, fill.Seconds())
	dbAfter := b.etcdDBSize()
	jsonSize := float64(len(raw))

	cold, err := b.s5Measure(ctx, "S5-cold", n)
	if err != nil {
		r.Error = "cold start: " + err.Error()
		return r
	}
	mark := b.cluster.MarkAudit()
	warm, err := b.s5Measure(ctx, "S5-restart", n)
	if err != nil {
		r.Error = "restart: " + err.Error()
		return r
	}
	events, _ := b.cluster.ReadAudit(mark, 0, nil)
	restartReqs := countRequests(events, userManager, true)
	reqText, _ := requestsTable(restartReqs, 1)

	perJobRSS := float64(warm.rss-base.rss) / float64(n)
	perJobHeap := (warm.heap - base.heap) / float64(n)
	perJobLive := (warm.live - base.live) / float64(n)
	r.Metrics["fillSeconds"] = fill.Seconds()
	r.Metrics["baseline"], r.Metrics["cold"], r.Metrics["restart"] = base.m(), cold.m(), warm.m()
	r.Metrics["rssBytesPerJob"] = perJobRSS
	r.Metrics["heapInuseBytesPerJob"] = perJobHeap
	r.Metrics["heapInuseAfterGCBytesPerJob"] = perJobLive
	r.Metrics["etcdDBBytesPerJob"] = float64(dbAfter-dbBefore) / float64(n)
	r.Metrics["jsonBytesPerJob"] = jsonSize
	r.Metrics["restartRequests"] = restartReqs
	r.target("manager RSS per finished job", fmt.Sprintf("%.0f B (RSS %s with %d jobs, %s with none)", perJobRSS, mib(warm.rss), n, mib(base.rss)),
		fmt.Sprintf("Go heap in use: %.0f B per job, %.0f B after a forced GC", perJobHeap, perJobLive), "≤ 2 KB", perJobRSS <= 2048)
	r.row("time to sync: cold start / restart", fmt.Sprintf("%.1f s / %.1f s", cold.sync.Seconds(), warm.sync.Seconds()),
		fmt.Sprintf("until every job was reconciled: %.1f s / %.1f s", cold.settle.Seconds(), warm.settle.Seconds()))
	r.row("bytes per job in etcd", fmt.Sprintf("%.0f B (etcd DB growth)", float64(dbAfter-dbBefore)/float64(n)),
		fmt.Sprintf("serialized object: %.0f B JSON", jsonSize))
	r.row("manager requests at restart", reqText, "informers start with watch-list streams (sendInitialEvents), not lists")
	from := "a real finished one from S2"
	if b.finishedStatus == nil {
		from = "a synthesized finished pod job (S2 did not run: resolved policy, Complete and health conditions, 3 log lines, a small result)"
	}
	r.note("the %d finished jobs are copies of %s (one attempt, as stored by the API server, managedFields included), written into etcd directly (%.1f s); their pods are not kept (the manager would also cache kickq pods that are kept)", n, from, fill.Seconds())
	return r
}

type restMeasure struct {
	sync, settle time.Duration
	rss, peak    int64
	heap, live   float64
	cpu          float64
}

func (m restMeasure) m() map[string]any {
	return map[string]any{"syncSeconds": m.sync.Seconds(), "settleSeconds": m.settle.Seconds(), "rssBytes": m.rss,
		"peakRSSBytes": m.peak, "heapInuseBytes": m.heap, "heapInuseAfterGCBytes": m.live, "cpuSeconds": m.cpu}
}

// s5Measure starts a manager, waits for its caches and for every job to be reconciled, and
// reads its memory.
func (b *bench) s5Measure(ctx context.Context, id string, n int) (restMeasure, error) {
	var out restMeasure
	f := b.mflags
	m, err := StartManager(f, filepath.Join(b.cfg.out, "manager-"+id+".log"))
	if err != nil {
		return out, err
	}
	defer m.Stop()
	at, err := m.WaitWorkers(ctx, "queuejob", 10*time.Minute)
	if err != nil {
		return out, err
	}
	out.sync = at.Sub(m.Started)
	if err := m.WaitIdle(ctx, 10*time.Minute); err != nil {
		return out, err
	}
	out.settle = time.Since(m.Started)
	time.Sleep(2 * time.Second)
	s := m.Stats()
	out.rss, out.peak, out.cpu = s.RSS, s.PeakRS, s.CPU.Seconds()
	out.heap, _ = m.Metric("go_memstats_heap_inuse_bytes")
	// The heap profile is taken after a forced GC (gc=1): what the manager keeps, without the
	// garbage the last reconciles left.
	if err := m.HeapProfile(filepath.Join(b.cfg.out, id+"-manager.heap.pprof")); err != nil {
		return out, err
	}
	out.live, _ = m.Metric("go_memstats_heap_inuse_bytes")
	logf("S5 %s: sync %.1f s, settled %.1f s, RSS %s, heap in use %.1f MiB (%.1f MiB after a GC)", id, out.sync.Seconds(), out.settle.Seconds(), mib(out.rss), out.heap/(1<<20), out.live/(1<<20))
	return out, ctx.Err()
}

// etcdDBSize is the size of etcd's database file.
func (b *bench) etcdDBSize() int64 {
	pid, ok := ControlPlanePIDs()["etcd"]
	if !ok {
		return 0
	}
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0
	}
	args := strings.Split(string(cmd), "\x00")
	for i, a := range args {
		dir := ""
		switch {
		case strings.HasPrefix(a, "--data-dir="):
			dir = strings.TrimPrefix(a, "--data-dir=")
		case a == "--data-dir" && i+1 < len(args):
			dir = args[i+1]
		}
		if dir != "" {
			fi, err := os.Stat(filepath.Join(dir, "member", "snap", "db"))
			if err == nil {
				return fi.Size()
			}
		}
	}
	return 0
}

// synthesizedFinished is the status of a pod job that succeeded on its first attempt as the
// manager writes it (for S5 run without S2): the resolved policy, the attempt record, the
// Complete and health conditions, observedGeneration 1 (the model's generation), a few log lines
// and a small result, as a worker that reports them leaves. It is what the manager keeps at
// rest: a pass over it decides the same status, so the run measures memory, not status writes.
func synthesizedFinished() *kickqv1alpha1.QueueJobStatus {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	start := metav1.NewTime(now.Add(-3 * time.Second))
	exit := int32(0)
	st := &kickqv1alpha1.QueueJobStatus{
		ObservedGeneration: 1,
		Phase:              kickqv1alpha1.PhaseSucceeded, Reason: kickqv1alpha1.ReasonCompleted, Message: "attempt 1 succeeded: pod succeeded",
		Attempts: 1, ReadyTime: &start, StartTime: &start, FinishTime: &now,
		Resolved: &kickqv1alpha1.ResolvedPolicy{Retry: &kickqv1alpha1.RetryPolicy{Limit: ptrTo(int32(3)),
			Backoff: &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffExponential, BaseSeconds: ptrTo(int32(1)), Factor: ptrTo(int32(2)), MaxSeconds: ptrTo(int32(300))}},
			AttemptDeadlineSeconds: ptrTo(int32(3600))},
		Conditions: []metav1.Condition{{Type: kickqv1alpha1.JobComplete, Status: metav1.ConditionTrue, Reason: kickqv1alpha1.ReasonCompleted,
			Message: "attempt 1 succeeded: pod succeeded", LastTransitionTime: now, ObservedGeneration: 1}},
		AttemptHistory: []kickqv1alpha1.AttemptRecord{{Number: 1, StartTime: &start, FinishTime: &now, Outcome: kickqv1alpha1.OutcomeSucceed,
			ExitCode: &exit, PodName: "model-1", TargetKind: "Pod", Reason: kickqv1alpha1.AttemptReasonCompleted, Message: "pod succeeded"}},
		Logs: []kickqv1alpha1.LogEntry{{Time: start, Message: "starting: 1 item to process"}, {Time: now, Message: "processed item 1 of 1 in 2.1 s"},
			{Time: now, Message: "uploaded the output to s3://bench/out/model.json (12 KiB)"}},
		Result: &apiextensionsv1.JSON{Raw: []byte(`{"items":1,"output":"s3://bench/out/model.json","bytes":12288}`)},
	}
	lifecycle.SetHealth(st, now.Time)
	return st
}

// waitCount waits until the API server lists n QueueJobs in a namespace.
func waitCount(ctx context.Context, c client.Client, ns string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var l kickqv1alpha1.QueueJobList
		if err := c.List(ctx, &l, client.InNamespace(ns), client.Limit(1)); err == nil {
			have := len(l.Items)
			if l.RemainingItemCount != nil {
				have += int(*l.RemainingItemCount)
			}
			if have >= n {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the API server did not list %d jobs in %s within %s", n, ns, timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

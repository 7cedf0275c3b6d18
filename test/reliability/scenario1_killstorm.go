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
	"time"
)

func init() {
	Register(Scenario{ID: 1, Name: "SIGKILL storm", Run: scenario1, Doc: "A new process needs nothing but the API server's state: " +
		"every decision is in a job's status or in a side effect that is its own record (a pod `<job>-<attempt>`, a webhook call under its " +
		"`webhook-id`, a worker's claim in status). A call in flight when the manager dies is made again by the next process under the same " +
		"webhook-id (the repeats counted in the row); receivers de-duplicate on it. Per-key limits are in the run: the pod and webhook jobs " +
		"are spread over keys (`spec.key`) with `keyLimits` on the pod handler and on the webhook queue (`pauseOnRetryAfter`); the limits " +
		"are checked per key at the side effect and in status, and a key paused by a 429 gets no new call before its `Retry-After` " +
		"(calls already admitted when the answer came, in the first second after it, are counted apart). The per-key counts and the " +
		"pause are rebuilt from status by each new process."})
}

// scenario1 SIGKILLs the only manager (leader election off) at random points of a mixed run
// and starts it again at once each time.
func scenario1(ctx context.Context, h *Harness) *Row {
	row := &Row{Scenario: 1, Name: "SIGKILL storm"}
	n, kills, templates := h.Scale(2000, 60), h.Scale(100, 5), 3
	l := DefaultLimits
	row.Done = "one manager, leader election off, SIGKILLed at random points of a mixed run and started again at once each time"
	row.Load = fmt.Sprintf("%d jobs: 40%% pods, 35%% webhooks, 25%% pull-worker jobs (2 workers × 4), a tenth in batches of 5 with a follower each "+
		"(a quarter of the batches hold a job that dies); 20%% retried or dying, 6%% delayed 1–10 s, random priorities; %d cron templates @every 10s (RunAll); "+
		"queues: pods concurrency %d rate %d/%ds, webhooks concurrency %d rate %d/%ds (answers held 150 ms), workers concurrency %d; "+
		"pod and webhook jobs over %d keys (a fifth key-less), each key concurrency %d rate %d/%ds (pod handler's and webhook queue's keyLimits), "+
		"keyed webhook jobs' planned 429 with Retry-After %d s pausing their key",
		n, templates, l.PodConcurrency, l.PodRate, l.PodPeriod, l.HookConcurrency, l.HookRate, l.HookPeriod, l.WorkConcurrency,
		l.Keys, l.KeyConcurrency, l.KeyRate, l.KeyPeriod, KeyPauseSeconds)
	kube, err := h.StartKubelet(ctx, PlanRun)
	if err != nil {
		row.Fail("fake kubelet", err.Error())
		return row
	}
	mix, err := h.SetupMix(ctx, "s1", MixOptions{Limits: l})
	if err != nil {
		row.Fail("setup", err.Error())
		return row
	}
	m, err := h.StartManager(ctx, ManagerOptions{Name: "a"})
	if err != nil {
		row.Fail("manager start", err.Error())
		return row
	}
	if err := mix.AddCronTemplates(ctx, h, templates); err != nil {
		row.Fail("cron templates", err.Error())
		return row
	}
	cronFrom := time.Now()
	submitted := make(chan error, 1)
	go func() { submitted <- mix.Submit(ctx, h, "s1", n) }()
	storm, err := h.KillStorm(ctx, m, kills, 300*time.Millisecond, 1200*time.Millisecond, nil)
	row.Faults = fmt.Sprintf("%d SIGKILLs of the manager in %s (each 0.3–1.2 s after the process's caches synced; longest restart until synced %s)",
		storm.Kills, storm.Took.Round(time.Second), storm.Restart.Round(time.Millisecond))
	if err != nil {
		row.Fail("kill storm", err.Error())
		return row
	}
	if err := <-submitted; err != nil {
		row.Fail("submit", err.Error())
		return row
	}
	// Small runs still see a few firings of each template.
	time.Sleep(time.Until(cronFrom.Add(3*mix.CronPeriod + time.Second)))
	if err := mix.SuspendCron(ctx, h); err != nil {
		row.Fail("suspend cron", err.Error())
	}
	row.Check("SIGKILLs done", storm.Kills == kills, "%d of %d", storm.Kills, kills)
	h.CheckMix(ctx, row, MixRun{Mix: mix, Kubelet: kube, Timeout: 10 * time.Minute})
	row.Check("no panic in the manager's log", m.Panics() == 0, "%d panics over %d processes", m.Panics(), m.Starts)
	return row
}

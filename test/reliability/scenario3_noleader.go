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

	"kickq.dev/kickq/test/util/audit"
)

func init() {
	Register(Scenario{ID: 3, Name: "Two managers, no leader election", Run: scenario3, Doc: "Without leader election both " +
		"managers act on every job, and it stays safe by construction: a pod's name is deterministic, so the second create is refused " +
		"AlreadyExists; every status change is a write with optimistic concurrency, so an attempt is recorded once and a worker claim " +
		"is taken once. What doubles is webhook delivery: both managers call an attempt, under the same webhook-id (the repeats in the " +
		"row), which at-least-once delivery already asks receivers to de-duplicate. Limits and per-key pauses are not guaranteed: each " +
		"manager's admission reserves slots and keeps pauses in its own memory, and nothing stops both from filling the same free slot at the same instant: the row " +
		"reports the limit figures (◦, held or exceeded) without checking them. Run one manager, or several with `--leader-elect` (config/default and the Helm chart do)."})
}

// scenario3 runs two managers without leader election (a misconfiguration) on the same jobs.
func scenario3(ctx context.Context, h *Harness) *Row {
	row := &Row{Scenario: 3, Name: "Two managers, no leader election"}
	n := h.Scale(600, 60)
	l := DefaultLimits
	row.Done = "two managers, both with leader election off (a misconfiguration), run the same namespace at once from the start"
	row.Load = fmt.Sprintf("%d jobs of the mixed workload and 2 cron templates @every 10s; limits as scenario 1", n)
	row.Faults = "a second active manager"
	kube, err := h.StartKubelet(ctx, PlanRun)
	if err != nil {
		row.Fail("fake kubelet", err.Error())
		return row
	}
	mix, err := h.SetupMix(ctx, "s3", MixOptions{Limits: l})
	if err != nil {
		row.Fail("setup", err.Error())
		return row
	}
	var ms []*Manager
	for _, name := range []string{"a", "b"} {
		m, err := h.StartManager(ctx, ManagerOptions{Name: name})
		if err != nil {
			row.Fail("manager "+name+" start", err.Error())
			return row
		}
		ms = append(ms, m)
	}
	if err := mix.AddCronTemplates(ctx, h, 2); err != nil {
		row.Fail("cron templates", err.Error())
		return row
	}
	start := time.Now()
	if err := mix.Submit(ctx, h, "s3", n); err != nil {
		row.Fail("submit", err.Error())
		return row
	}
	time.Sleep(time.Until(start.Add(3*mix.CronPeriod + time.Second)))
	if err := mix.SuspendCron(ctx, h); err != nil {
		row.Fail("suspend cron", err.Error())
	}
	h.CheckMix(ctx, row, MixRun{Mix: mix, Kubelet: kube, Timeout: 10 * time.Minute, LimitsObserved: true})
	conflicts := h.CP.podCreateConflicts()
	row.Note("Both managers act: pod names are deterministic (`<job>-<attempt>`), so the second create of a pod is refused AlreadyExists (%d times here) "+
		"and status writes go through optimistic concurrency, so an attempt is recorded once.", conflicts)
	row.Check("no panic in the managers' logs", ms[0].Panics()+ms[1].Panics() == 0, "%d panics", ms[0].Panics()+ms[1].Panics())
	return row
}

// podCreateConflicts counts pod creates the API server refused with 409 (AlreadyExists).
func (cp *ControlPlane) podCreateConflicts() int {
	evs, _ := cp.ReadAudit(func(e *audit.Event) bool {
		return e.Verb == "create" && e.ObjectRef.Resource == "pods" && audit.Code(e) == 409
	})
	return len(evs)
}

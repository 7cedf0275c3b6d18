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
	Register(Scenario{ID: 4, Name: "API server restart, etcd pause", Run: scenario4, Doc: "The manager's informers relist and " +
		"its watches resume when the API server is back; requests made while etcd is paused wait or fail and are retried; jobs created " +
		"after the faults run (the second wave). With `--leader-elect`, an etcd outage longer than `--leader-elect-renew-deadline` " +
		"(10 s) makes the leader stop leading and exit (controller-runtime), and its Deployment restarts it: this scenario runs without " +
		"leader election so that one process has to recover by itself. Pull workers' Leases are 90 s here (the restarted API server is away about 40 s on this machine, and a " +
		"45 s Lease renewed every 15 s expired in one run: 3 attempts ended WorkerLost); with the default 15 s, an " +
		"outage longer than the Lease can end their attempts as WorkerLost once the manager sees the Lease expired (retried, as documented)."})
}

// etcdPause is how long etcd is stopped (SIGSTOP) in scenario 4.
const etcdPause = 20 * time.Second

// scenario4 restarts kube-apiserver (same address, certificates and etcd) and pauses etcd for
// 20 s under one manager, which is never restarted; jobs created after the faults prove that the
// manager's watches resumed.
func scenario4(ctx context.Context, h *Harness) *Row {
	row := &Row{Scenario: 4, Name: "API server restart, etcd pause"}
	n, after := h.Scale(600, 60), h.Scale(100, 20)
	row.Done = "one manager (leader election off) keeps running while kube-apiserver is stopped and started again on the same address and certificates, " +
		"then etcd is paused (SIGSTOP) for 20 s; a second wave of jobs is created after both faults"
	row.Load = fmt.Sprintf("%d jobs of the mixed workload, 2 cron templates @every 10s, then %d more jobs after the faults; limits as scenario 1; "+
		"pull workers' Lease 90 s (longer than either outage plus a renewal period, so no attempt ends WorkerLost)", n, after)
	kube, err := h.StartKubelet(ctx, PlanRun)
	if err != nil {
		row.Fail("fake kubelet", err.Error())
		return row
	}
	mix, err := h.SetupMix(ctx, "s4", MixOptions{WorkerLease: 90 * time.Second})
	if err != nil {
		row.Fail("setup", err.Error())
		return row
	}
	m, err := h.StartManager(ctx, ManagerOptions{Name: "a"})
	if err != nil {
		row.Fail("manager start", err.Error())
		return row
	}
	if err := mix.AddCronTemplates(ctx, h, 2); err != nil {
		row.Fail("cron templates", err.Error())
		return row
	}
	if err := mix.Submit(ctx, h, "s4", n); err != nil {
		row.Fail("submit", err.Error())
		return row
	}

	h.waitTerminalShare(ctx, mix, 0.25, 3*time.Minute)
	restarted := time.Now()
	away, err := h.CP.RestartAPIServer(ctx, 2*time.Second)
	if err != nil {
		row.Fail("API server restart", err.Error())
		return row
	}
	back := restarted.Add(away)
	h.waitTerminalShare(ctx, mix, 0.5, 3*time.Minute)
	paused := time.Now()
	if err := h.CP.PauseEtcd(ctx, etcdPause); err != nil {
		row.Fail("etcd pause", err.Error())
		return row
	}
	resumed := time.Now()
	row.Faults = fmt.Sprintf("kube-apiserver stopped (SIGTERM) and started again: away %.1f s; etcd SIGSTOPped for %.0f s", away.Seconds(), resumed.Sub(paused).Seconds())

	if err := mix.Submit(ctx, h, "s4-after", after); err != nil {
		row.Fail("submit after the faults", err.Error())
		return row
	}
	time.Sleep(time.Second)
	if err := mix.SuspendCron(ctx, h); err != nil {
		row.Fail("suspend cron", err.Error())
	}
	h.CheckMix(ctx, row, MixRun{Mix: mix, Kubelet: kube, Timeout: 10 * time.Minute})
	row.Check("the manager recovered without a restart", m.Starts == 1 && m.Running(), "%d process(es), running at the end: %v", m.Starts, m.Running())
	for _, f := range []struct {
		what string
		at   time.Time
	}{{"API server's return", back}, {"etcd's return", resumed}} {
		t, ok := h.CP.firstManagerWriteAfter(f.at)
		row.Check("manager writes again after the "+f.what, ok, "first QueueJob status write %.1f s after it", t.Sub(f.at).Seconds())
	}
	row.Check("no panic in the manager's log", m.Panics() == 0, "%d panics", m.Panics())
	return row
}

// firstManagerWriteAfter is the first successful QueueJob status write of the manager received
// after t.
func (cp *ControlPlane) firstManagerWriteAfter(t time.Time) (time.Time, bool) {
	evs, _ := cp.ReadAudit(func(e *audit.Event) bool {
		return e.User.Username == UserManager && e.ObjectRef.Resource == "queuejobs" && e.ObjectRef.Subresource == "status" &&
			audit.Code(e) == 200 && e.RequestReceivedTimestamp.After(t)
	})
	if len(evs) == 0 {
		return time.Time{}, false
	}
	first := evs[0].RequestReceivedTimestamp.Time
	for _, e := range evs {
		if e.RequestReceivedTimestamp.Time.Before(first) {
			first = e.RequestReceivedTimestamp.Time
		}
	}
	return first, true
}

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
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

func init() {
	Register(Scenario{ID: 2, Name: "Leader failover", Run: scenario2, Doc: "With `--leader-elect` a standby takes over once the " +
		"leader's Lease expires (SIGKILL: `--leader-elect-lease-duration` 15 s plus up to two `--leader-elect-retry-period`s of 1 s, " +
		"about 17.4 s at most) or at once when the leader releases it on a clean stop (SIGTERM). This suite found that with " +
		"controller-runtime's 2 s retry period, which kickq used before, a failover could take up to about 19.8 s (measured 19.1 s): " +
		"the default is now 1 s. A standby's report API answers 503 with `Retry-After: 1` and keeps nothing (docs/security.md); clients " +
		"that retry reach the leader."})
}

// maxFailover is the bound on a failover with kickq's default flags.
const maxFailover = 20 * time.Second

// scenario2 runs two managers with leader election (kickq's default lease flags) and kills the
// leader mid-run, once with SIGKILL and once with SIGTERM, measuring each failover; it checks
// the standby's report API and that nothing is doubled in the hand-over.
func scenario2(ctx context.Context, h *Harness) *Row {
	row := &Row{Scenario: 2, Name: "Leader failover"}
	n := h.Scale(600, 60)
	l := DefaultLimits
	row.Done = "two managers with --leader-elect (default lease flags: 15 s duration, 10 s renew deadline, 1 s retry period); the leader is SIGKILLed mid-run " +
		"(then started again as the standby), later the new leader is SIGTERMed; a webhook job answered 202 reports its outcome to the standby, then to the leader"
	row.Load = fmt.Sprintf("%d jobs of the mixed workload (pods, webhooks, pull workers, batches, retries, delays) and 2 cron templates @every 10s; limits as scenario 1", n)
	kube, err := h.StartKubelet(ctx, PlanRun)
	if err != nil {
		row.Fail("fake kubelet", err.Error())
		return row
	}
	mix, err := h.SetupMix(ctx, "s2", MixOptions{Limits: l})
	if err != nil {
		row.Fail("setup", err.Error())
		return row
	}
	a, err := h.StartManager(ctx, ManagerOptions{Name: "a", LeaderElect: true})
	if err != nil {
		row.Fail("manager a start", err.Error())
		return row
	}
	holderA, _, err := h.WaitHolder(ctx, "", 60*time.Second)
	if err != nil {
		row.Fail("manager a leads", err.Error())
		return row
	}
	b, err := h.StartManager(ctx, ManagerOptions{Name: "b", LeaderElect: true})
	if err != nil {
		row.Fail("manager b start", err.Error())
		return row
	}
	if err := mix.AddCronTemplates(ctx, h, 2); err != nil {
		row.Fail("cron templates", err.Error())
		return row
	}
	submitted := make(chan error, 1)
	go func() { submitted <- mix.Submit(ctx, h, "s2", n) }()

	h.checkStandbyReport(ctx, row, mix, a, b)

	// SIGKILL of the leader, about a third into the run.
	h.waitTerminalShare(ctx, mix, 0.3, 3*time.Minute)
	killed := time.Now()
	a.Kill()
	holderB, seen, err := h.WaitHolder(ctx, holderA, 2*time.Minute)
	if err != nil {
		row.Fail("failover after SIGKILL", err.Error())
		return row
	}
	killFailover := seen.Sub(killed)
	row.Check("failover after SIGKILL of the leader", killFailover <= maxFailover, "%.1f s (lease expiry + acquire; bound %s)", killFailover.Seconds(), maxFailover)
	if err := a.Restart(ctx); err != nil {
		row.Fail("manager a restart", err.Error())
		return row
	}

	// SIGTERM of the new leader, about two thirds into the run: it releases the Lease.
	h.waitTerminalShare(ctx, mix, 0.65, 3*time.Minute)
	termed := time.Now()
	b.Terminate()
	_, seen, err = h.WaitHolder(ctx, holderB, 2*time.Minute)
	if err != nil {
		row.Fail("failover after SIGTERM", err.Error())
		return row
	}
	termFailover := seen.Sub(termed)
	row.Check("failover after SIGTERM of the leader", termFailover <= maxFailover, "%.1f s (lease released on stop + acquire; bound %s)", termFailover.Seconds(), maxFailover)
	row.Faults = fmt.Sprintf("SIGKILL of the leader (failover %.1f s), SIGTERM of the next leader (failover %.1f s)", killFailover.Seconds(), termFailover.Seconds())
	if err := <-submitted; err != nil {
		row.Fail("submit", err.Error())
		return row
	}
	time.Sleep(time.Second)
	if err := mix.SuspendCron(ctx, h); err != nil {
		row.Fail("suspend cron", err.Error())
	}
	h.CheckMix(ctx, row, MixRun{Mix: mix, Kubelet: kube, Timeout: 10 * time.Minute})
	row.Check("no panic in the managers' logs", a.Panics()+b.Panics() == 0, "%d panics", a.Panics()+b.Panics())
	return row
}

// checkStandbyReport has a webhook job answered 202, then sends its outcome to the standby (b)
// — docs/security.md: 503 with Retry-After: 1, nothing kept — and then to the leader (a).
func (h *Harness) checkStandbyReport(ctx context.Context, row *Row, mix *Mix, leader, standby *Manager) {
	const name = "s2-accepted"
	job := utiltesting.MakeQueueJob(name, mix.NS).Queue(QueueHooks).Type(TypeWebhook).Priority(10).
		Data(map[string]any{"webhook": WebhookPlan{Accept: true}}).Obj()
	if err := createRetrying(ctx, h.CP.Harness, job); err != nil {
		row.Fail("standby report API", err.Error())
		return
	}
	mix.expectJob(name, Expect{Phase: kickqv1alpha1.PhaseSucceeded, Reason: kickqv1alpha1.ReasonCompleted, Attempts: 1})
	var call *Call
	for deadline := time.Now().Add(2 * time.Minute); call == nil && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, c := range mix.Receiver.Calls() {
			if c.Job == name {
				call = &c
				break
			}
		}
	}
	if call == nil {
		row.Fail("standby report API", "the accepted job's call never came")
		return
	}
	code, retry, err := Report(ctx, standby.ReportURL, mix.NS, name, call.Token, `{"outcome":"Succeed","message":"to the standby"}`)
	time.Sleep(500 * time.Millisecond)
	var j kickqv1alpha1.QueueJob
	_ = h.CP.Harness.Get(ctx, client.ObjectKey{Namespace: mix.NS, Name: name}, &j)
	row.Check("standby report API answers 503 with Retry-After and keeps nothing (docs/security.md)",
		err == nil && code == http.StatusServiceUnavailable && retry == "1" && j.Status.Phase == kickqv1alpha1.PhaseRunning,
		"status %d, Retry-After %q, job still %s%s", code, retry, j.Status.Phase, errSuffix(err))
	code, _, err = Report(ctx, leader.ReportURL, mix.NS, name, call.Token, `{"outcome":"Succeed","message":"to the leader"}`)
	row.Check("leader's report API takes the outcome", err == nil && code == http.StatusOK, "status %d%s", code, errSuffix(err))
}

func errSuffix(err error) string {
	if err != nil {
		return " (" + err.Error() + ")"
	}
	return ""
}

// waitTerminalShare waits until share of the mix's planned jobs are terminal (or timeout).
func (h *Harness) waitTerminalShare(ctx context.Context, mix *Mix, share float64, timeout time.Duration) {
	want := int(share * float64(len(mix.Expected())))
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(500 * time.Millisecond) {
		jobs, err := h.Jobs(ctx, mix.NS)
		if err == nil && countTerminal(jobs) >= want {
			return
		}
	}
}

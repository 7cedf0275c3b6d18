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
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util/fakekubelet"
)

func isAlreadyExists(err error) bool { return apierrors.IsAlreadyExists(err) }

// MixRun is what CheckMix reads: the mix, the fake kubelet, and how long to wait for the end.
type MixRun struct {
	Mix     *Mix
	Kubelet *fakekubelet.Kubelet
	Timeout time.Duration
	// LimitsObserved reports the limit figures without checking them (◦ rows): a configuration
	// kickq does not promise limits for (two managers without leader election).
	LimitsObserved bool
}

// CheckMix waits until every job of the mix is terminal, then checks the invariants every
// fault scenario shares, from the side effects' own records:
//   - every job terminal with its planned outcome (phase, reason, attempts);
//   - no attempt with two pods (audit log creates per name; kubelet's pods per job and attempt);
//   - no attempt with two worker claims (the workers' claim log);
//   - webhook calls repeated only under the same webhook-id (receiver's log);
//   - no limit exceeded: pod creates per rate window (audit log) and pods running at once
//     (create stored → kubelet's terminal write sent); webhook first calls per window and calls
//     in flight (receiver); worker tasks at once (claims); attempt starts per window as
//     recorded in status, per queue; and the same per key (checkKeyLimits), with no call of a
//     key paused by a 429 before its Retry-After ended;
//   - cron firings: one child per scheduled time, none missed between the first and the last.
func (h *Harness) CheckMix(ctx context.Context, row *Row, r MixRun) {
	m := r.Mix
	jobs, err := h.WaitTerminal(ctx, []string{m.NS}, len(m.Expected()), r.Timeout)
	row.Check("every job terminal", err == nil, "%s", errOr(err, fmt.Sprintf("%d jobs terminal", countTerminal(jobs))))
	h.checkOutcomes(row, m, jobs)

	creates, err := h.CP.PodCreates()
	if err != nil {
		row.Fail("audit log readable", err.Error())
	}
	pods := r.Kubelet.Pods()
	dup, attempts := PodsPerAttempt(creates, pods)
	row.Check("no attempt with two pods", len(dup) == 0, "%d pod attempts, %d with two pods%s", attempts, len(dup), list(dup))

	claims := m.Claims.Claims()
	cdup := ClaimsPerAttempt(claims)
	row.Check("no attempt with two worker claims", len(cdup) == 0, "%d claims, %d attempts claimed twice%s", len(claims), len(cdup), list(cdup))

	calls := m.Receiver.Calls()
	_ = m.Receiver.Save(h.Path("receiver-calls.jsonl"))
	bad, repeats, ids := WebhookIDsPerAttempt(calls)
	row.Check("webhook repeats only under the same id", len(bad) == 0, "%d calls under %d ids, %d repeats (same id), %d attempts under two ids%s", len(calls), ids, repeats, len(bad), list(bad))

	limits := row
	if r.LimitsObserved {
		limits = &Row{}
	}
	h.checkLimits(limits, m, jobs, creates, pods, calls, claims)
	h.checkKeyLimits(limits, m, jobs, creates, pods, calls)
	if r.LimitsObserved {
		for _, c := range limits.Checks {
			row.Observe(c.Name, c.OK, "%s", c.Figure)
		}
	}

	if len(m.Templates) > 0 {
		cbad, firings := CronFirings(jobs, m.CronPeriod)
		row.Check("every cron firing exactly once", len(cbad) == 0 && firings > 0, "%d firings of %d templates, %d doubled or missed%s", firings, len(m.Templates), len(cbad), list(cbad))
	}
}

func (h *Harness) checkOutcomes(row *Row, m *Mix, jobs []kickqv1alpha1.QueueJob) {
	exp := m.Expected()
	byName := map[string]*kickqv1alpha1.QueueJob{}
	for i := range jobs {
		byName[jobs[i].Name] = &jobs[i]
	}
	wrong := Duplicates{}
	lost := 0
	for name, e := range exp {
		j := byName[name]
		if j == nil {
			lost++
			wrong[name+" lost"] = 0
			continue
		}
		st := j.Status
		ok := st.Phase == e.Phase && st.Reason == e.Reason
		if ok && e.Phase == kickqv1alpha1.PhaseSucceeded {
			ok = st.Attempts == e.Attempts && st.FailedAttempts == e.FailedAttempts
		}
		if !ok {
			wrong[fmt.Sprintf("%s %s/%s attempts %d failed %d (want %s/%s %d/%d)", name, st.Phase, st.Reason, st.Attempts, st.FailedAttempts,
				e.Phase, e.Reason, e.Attempts, e.FailedAttempts)] = 0
		}
	}
	succeeded, failed := 0, 0
	for _, e := range exp {
		if e.Phase == kickqv1alpha1.PhaseSucceeded {
			succeeded++
		} else {
			failed++
		}
	}
	row.Check("every job has its planned outcome", len(wrong) == 0, "%d jobs (%d to succeed, %d to fail), %d lost, %d other%s",
		len(exp), succeeded, failed, lost, len(wrong)-lost, list(wrong))
	for _, d := range []Duplicates{wrong} {
		for k := range d {
			logf("  outcome: %s", k)
		}
	}
}

func (h *Harness) checkLimits(row *Row, m *Mix, jobs []kickqv1alpha1.QueueJob, creates []PodCreate, pods []fakekubelet.PodRecord,
	calls []Call, claims []Claim) {
	l := m.Limits
	var podStarts []time.Time
	createdAt := map[string]time.Time{}
	for _, c := range creates {
		if c.Namespace == m.NS {
			podStarts = append(podStarts, c.Received)
			createdAt[c.Name] = c.Committed
		}
	}
	var podIv []Interval
	for _, p := range pods {
		if p.Namespace != m.NS || p.Finished.IsZero() {
			continue
		}
		if t, ok := createdAt[p.Name]; ok {
			podIv = append(podIv, Interval{t, p.Finished})
		}
	}
	// An attempt is in flight from its first call's arrival to its last call's answer: a call
	// repeated under the same webhook-id is the same attempt, not another one running.
	firstCall := map[string]Call{}
	held := map[string]Interval{}
	for _, c := range calls {
		if _, ok := firstCall[c.WebhookID]; !ok {
			firstCall[c.WebhookID] = c
			held[c.WebhookID] = Interval{c.Arrival, c.Arrival.Add(c.Held)}
		}
		iv := held[c.WebhookID]
		if end := c.Arrival.Add(c.Held); end.After(iv.End) {
			iv.End = end
		}
		held[c.WebhookID] = iv
	}
	var hookIv []Interval
	for _, iv := range held {
		hookIv = append(hookIv, iv)
	}
	var hookStarts []time.Time
	for _, c := range firstCall {
		hookStarts = append(hookStarts, c.Arrival)
	}
	var workIv []Interval
	for _, c := range claims {
		workIv = append(workIv, Interval{c.Start, c.End})
	}
	recorded := recordedStarts(jobs)
	type lim struct {
		what  string
		got   int
		limit int32
		// strict is the count in windows of the whole period, for a side effect's own records
		// (got is then in windows less WireSlack); -1 otherwise.
		strict int
	}
	podPeriod, hookPeriod := time.Duration(l.PodPeriod)*time.Second, time.Duration(l.HookPeriod)*time.Second
	for _, x := range []lim{
		{fmt.Sprintf("pod creates per %d s (API server)", l.PodPeriod), MaxAtSideEffect(podStarts, podPeriod), l.PodRate, MaxInWindow(podStarts, podPeriod)},
		{"pods running at once (API server, kubelet)", MaxConcurrent(podIv), l.PodConcurrency, -1},
		{fmt.Sprintf("webhook attempts per %d s (receiver)", l.HookPeriod), MaxAtSideEffect(hookStarts, hookPeriod), l.HookRate, MaxInWindow(hookStarts, hookPeriod)},
		{"webhook attempts in flight (receiver)", MaxConcurrent(hookIv), l.HookConcurrency, -1},
		{"worker tasks at once (claims)", MaxConcurrent(workIv), l.WorkConcurrency, -1},
		{fmt.Sprintf("%s starts per %d s (status)", QueuePods, l.PodPeriod), MaxInWindow(recorded[QueuePods], podPeriod), l.PodRate, -1},
		{fmt.Sprintf("%s starts per %d s (status)", QueueHooks, l.HookPeriod), MaxInWindow(recorded[QueueHooks], hookPeriod), l.HookRate, -1},
	} {
		row.Check("limit: "+x.what, int32(x.got) <= x.limit, "max %d, limit %d%s", x.got, x.limit, strictFigure(x.strict))
	}
}

// recordedStarts are the attempt start times in the jobs' attemptHistory, per queue.
func recordedStarts(jobs []kickqv1alpha1.QueueJob) map[string][]time.Time {
	out := map[string][]time.Time{}
	for i := range jobs {
		j := &jobs[i]
		for _, a := range j.Status.AttemptHistory {
			if a.StartTime != nil {
				out[j.Spec.QueueName] = append(out[j.Spec.QueueName], a.StartTime.Time)
			}
		}
	}
	return out
}

func countTerminal(jobs []kickqv1alpha1.QueueJob) int {
	n := 0
	for i := range jobs {
		if Terminal(&jobs[i]) {
			n++
		}
	}
	return n
}

func errOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}

// list is ": a, b, …" for a non-empty set.
func list(d Duplicates) string {
	if len(d) == 0 {
		return ""
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 3 {
		keys = append(keys[:3], fmt.Sprintf("… (%d in all)", len(d)))
	}
	return ": " + strings.Join(keys, "; ")
}

// strictFigure shows a side effect's count in strict windows beside the checked one.
func strictFigure(strict int) string {
	if strict < 0 {
		return ""
	}
	return fmt.Sprintf(" (windows less the %s wire slack; %d in strict windows)", WireSlack, strict)
}

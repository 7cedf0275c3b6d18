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

package cli

import (
	"container/heap"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
)

// Per-key figures (spec.key, a queue's and its handlers' keyLimits) for stats and position.

// keyLimitsInForce describes keyLimits under label ("per key", "email: per key").
func keyLimitsInForce(label string, kl *kickqv1alpha1.KeyLimits) []string {
	if kl == nil {
		return nil
	}
	var out []string
	if kl.Concurrency != nil {
		out = append(out, fmt.Sprintf("%s: concurrency %d", label, *kl.Concurrency))
	}
	if kl.RateLimit != nil {
		out = append(out, fmt.Sprintf("%s: rate %s", label, rateString(kl.RateLimit)))
	}
	if kl.PauseOnRetryAfter != nil && *kl.PauseOnRetryAfter {
		out = append(out, label+": pause on Retry-After")
	}
	return out
}

// activeKeys is the number of the queue's active keys, or "-" while no job has a key.
func activeKeys(k *kickqv1alpha1.QueueKeys) string {
	if k == nil {
		return "-"
	}
	return strconv.Itoa(int(k.Active))
}

// busiestString is "acme=120/1,globex=7/0" (pending/running, busiest first), or "-".
func busiestString(k *kickqv1alpha1.QueueKeys) string {
	if k == nil || len(k.Busiest) == 0 {
		return "-"
	}
	parts := make([]string, len(k.Busiest))
	for i, b := range k.Busiest {
		parts[i] = fmt.Sprintf("%s=%d/%d", b.Key, b.Pending, b.Running)
	}
	return strings.Join(parts, ",")
}

// keyTurns are, per key ("" the key-less group), when the queue last started an attempt of one
// of the key's jobs, as the jobs' attempt records show: admission's key turn.
type keyTurns map[string]time.Time

func (t keyTurns) add(j *kickqv1alpha1.QueueJob) {
	if j.Spec.Cron != nil {
		return
	}
	for _, a := range j.Status.AttemptHistory {
		if a.StartTime != nil && a.StartTime.After(t[j.Spec.Key]) {
			t[j.Spec.Key] = a.StartTime.Time
		}
	}
}

// inAdmissionOrder orders the waiting jobs as admission starts them while no limit holds any:
// each time, the first by admission.Before among the keys' first jobs, with each key's turn
// (Order.KeyTurn) its latest start; a start makes its key's turn the latest of all.
// O(n log keys).
func inAdmissionOrder(waiting []waitingJob, turns keyTurns, now time.Time) []waitingJob {
	byKey := map[string][]waitingJob{}
	for _, w := range waiting {
		byKey[w.key] = append(byKey[w.key], w)
	}
	h := &turnHeap{}
	latest := now
	for k, jobs := range byKey {
		// One key's jobs share their turn: Before is their fixed order.
		sort.Slice(jobs, func(a, b int) bool { return admission.Before(jobs[a].Order, jobs[b].Order) })
		h.groups = append(h.groups, &turnGroup{jobs: jobs, turn: turns[k]})
		if turns[k].After(latest) {
			latest = turns[k]
		}
	}
	heap.Init(h)
	out := make([]waitingJob, 0, len(waiting))
	for h.Len() > 0 {
		g := h.groups[0]
		out = append(out, g.jobs[0])
		g.jobs = g.jobs[1:]
		latest = latest.Add(time.Nanosecond)
		g.turn = latest
		if len(g.jobs) == 0 {
			heap.Pop(h)
		} else {
			heap.Fix(h, 0)
		}
	}
	return out
}

// turnGroup is one key's waiting jobs, in order, and its turn.
type turnGroup struct {
	jobs []waitingJob
	turn time.Time
}

// order is the group's first job's Order with the key's turn.
func (g *turnGroup) order() admission.Order {
	o := g.jobs[0].Order
	o.KeyTurn = g.turn
	return o
}

// turnHeap orders the keys' groups by their first jobs in admission order.
type turnHeap struct{ groups []*turnGroup }

func (h *turnHeap) Len() int { return len(h.groups) }
func (h *turnHeap) Less(i, j int) bool {
	return admission.Before(h.groups[i].order(), h.groups[j].order())
}
func (h *turnHeap) Swap(i, j int) { h.groups[i], h.groups[j] = h.groups[j], h.groups[i] }
func (h *turnHeap) Push(x any)    { h.groups = append(h.groups, x.(*turnGroup)) }
func (h *turnHeap) Pop() any {
	g := h.groups[len(h.groups)-1]
	h.groups = h.groups[:len(h.groups)-1]
	return g
}

// keyUse counts the use of one job's key limits: its key's Running jobs and starts in the rate
// windows, in the queue (the queue's keyLimits) and in the job's handler (the handler's).
type keyUse struct {
	key, handler         string
	now                  time.Time
	queue, handlerLimits *kickqv1alpha1.KeyLimits
	spec                 *kickqv1alpha1.QueueSpec
	running              [2]int32 // in the queue, in the handler
	started              [2]int32
}

// newKeyUse prepares the count for j in q; a job without a key, or without a Queue, has none.
func newKeyUse(j *kickqv1alpha1.QueueJob, q *kickqv1alpha1.Queue, now time.Time) *keyUse {
	u := &keyUse{key: j.Spec.Key, now: now}
	if j.Spec.Key == "" || q == nil {
		return u
	}
	u.spec, u.queue = &q.Spec, q.Spec.KeyLimits
	var hs *kickqv1alpha1.HandlerSpec
	u.handler, hs = handlerOf(u.spec, j)
	if hs != nil {
		u.handlerLimits = hs.KeyLimits
	}
	return u
}

// handlerOf is the handler that runs j, and its label: "" and nil for an inline target or
// without a handler (as the manager resolves it: the type's, else "*", else defaultHandler).
func handlerOf(spec *kickqv1alpha1.QueueSpec, j *kickqv1alpha1.QueueJob) (string, *kickqv1alpha1.HandlerSpec) {
	if j.Spec.Pod != nil || j.Spec.Webhook != nil || j.Spec.Worker != nil {
		return "", nil
	}
	for _, typ := range []string{j.Spec.Type, kickqv1alpha1.AnyType} {
		for i := range spec.Handlers {
			if typ != "" && spec.Handlers[i].Type == typ {
				return typ, &spec.Handlers[i].HandlerSpec
			}
		}
	}
	if spec.DefaultHandler != nil {
		return "defaultHandler", spec.DefaultHandler
	}
	return "", nil
}

// add counts o if it has the key.
func (u *keyUse) add(o *kickqv1alpha1.QueueJob) {
	if u.spec == nil || o.Spec.Key != u.key || o.Spec.Cron != nil {
		return
	}
	h, _ := handlerOf(u.spec, o)
	for i, kl := range []*kickqv1alpha1.KeyLimits{u.queue, u.handlerLimits} {
		if kl == nil || (i == 1 && h != u.handler) {
			continue
		}
		if o.Status.Phase == kickqv1alpha1.PhaseRunning {
			u.running[i]++
		}
		if kl.RateLimit != nil {
			u.started[i] += startsWithin(o, u.now, time.Duration(kl.RateLimit.PeriodSeconds)*time.Second)
		}
	}
}

// inForce describes the key's limits and their use: "per key: concurrency 1/1",
// "email: per key: rate 3/10 per 60s".
func (u *keyUse) inForce() []string {
	var out []string
	for i, kl := range []*kickqv1alpha1.KeyLimits{u.queue, u.handlerLimits} {
		if kl == nil {
			continue
		}
		label := "per key"
		if i == 1 {
			label = u.handler + ": per key"
		}
		if kl.Concurrency != nil {
			out = append(out, fmt.Sprintf("%s: concurrency %d/%d", label, u.running[i], *kl.Concurrency))
		}
		if r := kl.RateLimit; r != nil {
			out = append(out, fmt.Sprintf("%s: rate %d/%d per %ds", label, u.started[i], r.Limit, r.PeriodSeconds))
		}
		if kl.PauseOnRetryAfter != nil && *kl.PauseOnRetryAfter {
			out = append(out, label+": pause on Retry-After")
		}
	}
	return out
}

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
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util/fakekubelet"
)

// PauseSlack is how long after a 429's answer left the receiver a call of the same key may still
// arrive: the pause holds once the manager has recorded the answer in the job's status and seen
// it in its cache, and calls already admitted before then go out.
const PauseSlack = time.Second

// keyed groups times or intervals by key: the worst key's figure is what a check reports.
type keyed[T any] map[string][]T

func (k keyed[T]) add(key string, v T) {
	if key != "" {
		k[key] = append(k[key], v)
	}
}

// worst is the largest figure over the keys, and the key that has it.
func worst[T any](k keyed[T], figure func([]T) int) (int, string) {
	best, at := 0, ""
	keys := make([]string, 0, len(k))
	for key := range k {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if n := figure(k[key]); n > best {
			best, at = n, key
		}
	}
	return best, at
}

// keySides are a run's side effects grouped by key.
type keySides struct {
	podStarts, hookStarts, podRecorded, hookRecorded keyed[time.Time]
	podIv, hookIv, podRecIv, hookRecIv               keyed[Interval]
}

// checkKeyLimits checks the per-key limits at the side effects, per key: pod creates per window
// (audit log) and pods at once (create stored → kubelet's terminal write), webhook attempts per
// window and in flight (receiver), attempt starts per window and attempts at once as recorded in
// status; and that no call of a paused key arrived before its Retry-After ended.
func (h *Harness) checkKeyLimits(row *Row, m *Mix, jobs []kickqv1alpha1.QueueJob, creates []PodCreate, pods []fakekubelet.PodRecord, calls []Call) {
	l := m.Limits
	if l.Keys == 0 {
		return
	}
	keyOf := m.KeyOf()
	s := keySides{keyed[time.Time]{}, keyed[time.Time]{}, keyed[time.Time]{}, keyed[time.Time]{},
		keyed[Interval]{}, keyed[Interval]{}, keyed[Interval]{}, keyed[Interval]{}}
	createdAt := map[string]time.Time{}
	jobOfPod := map[string]string{}
	for _, p := range pods {
		if p.Namespace == m.NS {
			jobOfPod[p.Name] = p.Job
		}
	}
	for _, c := range creates {
		if c.Namespace == m.NS {
			createdAt[c.Name] = c.Committed
			job, ok := jobOfPod[c.Name]
			if !ok { // a pod the kubelet never saw: its name is <job>-<attempt>
				job = c.Name[:max(0, strings.LastIndex(c.Name, "-"))]
			}
			s.podStarts.add(keyOf[job], c.Received)
		}
	}
	for _, p := range pods {
		if t, ok := createdAt[p.Name]; ok && p.Namespace == m.NS && !p.Finished.IsZero() {
			s.podIv.add(keyOf[p.Job], Interval{t, p.Finished})
		}
	}
	first, held := attemptsInFlight(calls)
	for id, c := range first {
		s.hookStarts.add(keyOf[c.Job], c.Arrival)
		s.hookIv.add(keyOf[c.Job], held[id])
	}
	for i := range jobs {
		j := &jobs[i]
		starts, iv := s.podRecorded, s.podRecIv
		if j.Spec.QueueName == QueueHooks {
			starts, iv = s.hookRecorded, s.hookRecIv
		}
		for _, a := range j.Status.AttemptHistory {
			if a.StartTime != nil && (j.Spec.QueueName == QueuePods || j.Spec.QueueName == QueueHooks) {
				starts.add(j.Spec.Key, a.StartTime.Time)
				if a.FinishTime != nil {
					iv.add(j.Spec.Key, Interval{a.StartTime.Time, a.FinishTime.Time})
				}
			}
		}
	}
	period := time.Duration(l.KeyPeriod) * time.Second
	inWindow := func(ts []time.Time) int { return MaxInWindow(ts, period) }
	atSideEffect := func(ts []time.Time) int { return MaxAtSideEffect(ts, period) }
	type lim struct {
		what   string
		got    int
		at     string
		limit  int32
		strict int // as in checkLimits
	}
	checks := []lim{}
	addRate := func(what string, k keyed[time.Time]) {
		n, at := worst(k, inWindow)
		checks = append(checks, lim{fmt.Sprintf("%s per key per %d s (%d keys)", what, l.KeyPeriod, len(k)), n, at, l.KeyRate, -1})
	}
	addSideEffectRate := func(what string, k keyed[time.Time]) {
		n, at := worst(k, atSideEffect)
		strict, _ := worst(k, inWindow)
		checks = append(checks, lim{fmt.Sprintf("%s per key per %d s (%d keys)", what, l.KeyPeriod, len(k)), n, at, l.KeyRate, strict})
	}
	addConc := func(what string, k keyed[Interval]) {
		n, at := worst(k, MaxConcurrent)
		checks = append(checks, lim{fmt.Sprintf("%s per key at once (%d keys)", what, len(k)), n, at, l.KeyConcurrency, -1})
	}
	addSideEffectRate("pod creates (API server)", s.podStarts)
	addConc("pods running (API server, kubelet)", s.podIv)
	addSideEffectRate("webhook attempts (receiver)", s.hookStarts)
	addConc("webhook attempts in flight (receiver)", s.hookIv)
	addRate(QueuePods+" starts (status)", s.podRecorded)
	if x := checks[len(checks)-1]; int32(x.got) > l.KeyRate {
		logKeyStarts(jobs, QueuePods, x.at, period)
	}
	addConc(QueuePods+" attempts (status)", s.podRecIv)
	addRate(QueueHooks+" starts (status)", s.hookRecorded)
	if x := checks[len(checks)-1]; int32(x.got) > l.KeyRate {
		logKeyStarts(jobs, QueueHooks, x.at, period)
	}
	addConc(QueueHooks+" attempts (status)", s.hookRecIv)
	for _, x := range checks {
		row.Check("key limit: "+x.what, int32(x.got) <= x.limit && x.at != "", "max %d (key %s), limit %d%s", x.got, x.at, x.limit, strictFigure(x.strict))
	}
	pauses, early, racing := PausedKeyCalls(calls, keyOf)
	row.Check("no call of a paused key before its Retry-After", pauses > 0 && len(early) == 0,
		"%d 429s with Retry-After under keys, %d calls of their keys in the %s after the answer (allowed), %d later but before the Retry-After ended%s",
		pauses, racing, PauseSlack, len(early), list(early))
}

// attemptsInFlight are each webhook attempt's first call and the span from its first call's
// arrival to its last call's answer, by webhook-id.
func attemptsInFlight(calls []Call) (map[string]Call, map[string]Interval) {
	first := map[string]Call{}
	held := map[string]Interval{}
	for _, c := range calls {
		if _, ok := first[c.WebhookID]; !ok {
			first[c.WebhookID] = c
			held[c.WebhookID] = Interval{c.Arrival, c.Arrival.Add(c.Held)}
		}
		iv := held[c.WebhookID]
		if end := c.Arrival.Add(c.Held); end.After(iv.End) {
			iv.End = end
		}
		held[c.WebhookID] = iv
	}
	return first, held
}

// PausedKeyCalls checks the pauses: for the last 429 answered under each webhook-id of a keyed
// job (an earlier one may not have reached a manager that was killed, which sends the call again),
// no new attempt of the same key may arrive from PauseSlack after the answer until its Retry-After
// ended. It returns the pauses looked at, the early calls, and the calls inside the slack.
func PausedKeyCalls(calls []Call, keyOf map[string]string) (pauses int, early Duplicates, racing int) {
	last := map[string]Call{}
	for _, c := range calls {
		if c.Status == http.StatusTooManyRequests && keyOf[c.Job] != "" {
			last[c.WebhookID] = c
		}
	}
	first, _ := attemptsInFlight(calls)
	early = Duplicates{}
	for _, p := range last {
		pauses++
		answered := p.Arrival.Add(p.Held)
		ends := answered.Add(KeyPauseSeconds * time.Second)
		for id, c := range first {
			if id == p.WebhookID || keyOf[c.Job] != keyOf[p.Job] || !c.Arrival.After(answered) || !c.Arrival.Before(ends) {
				continue
			}
			if c.Arrival.Before(answered.Add(PauseSlack)) {
				racing++
				continue
			}
			early[fmt.Sprintf("%s#%d %s after %s's 429", c.Job, c.Attempt, c.Arrival.Sub(answered).Round(time.Millisecond), p.Job)] = 0
		}
	}
	return pauses, early, racing
}

// logKeyStarts logs, for a key whose rate limit a check found exceeded, the attempt starts that
// status records for the key in the queue's busiest window (job#attempt at start time).
func logKeyStarts(jobs []kickqv1alpha1.QueueJob, queue, key string, period time.Duration) {
	type start struct {
		at   time.Time
		what string
	}
	var ss []start
	for i := range jobs {
		j := &jobs[i]
		if j.Spec.QueueName != queue || j.Spec.Key != key {
			continue
		}
		for _, a := range j.Status.AttemptHistory {
			if a.StartTime != nil {
				ss = append(ss, start{a.StartTime.Time, fmt.Sprintf("%s#%d", j.Name, a.Number)})
			}
		}
	}
	sort.Slice(ss, func(a, b int) bool { return ss[a].at.Before(ss[b].at) })
	best, from, j := 0, 0, 0
	for i := range ss {
		for ss[i].at.Sub(ss[j].at) >= period {
			j++
		}
		if i-j+1 > best {
			best, from = i-j+1, j
		}
	}
	for _, s := range ss[from : from+best] {
		logf("  key %s %s start %s: %s", key, queue, s.at.Format("15:04:05.000000"), s.what)
	}
}

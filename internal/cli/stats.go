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
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// QueueStats is one queue's row of `kubectl kickq stats`.
type QueueStats struct {
	// Queue is the queue's name.
	Queue string `json:"queue"`
	// Exists is false for a queue that jobs name but that has no Queue object: the implicit
	// default queue, or a missing queue whose jobs wait Blocked (QueueNotFound).
	Exists bool `json:"exists"`
	// Counts are the jobs by phase, counted from the jobs (a job the manager has not seen yet
	// counts as pending).
	Counts kickqv1alpha1.QueueCounts `json:"counts"`
	// From says where the throughput and the percentiles come from: "queue status" (the figures
	// the manager measured, status.statistics, to the millisecond) or "jobs" (computed from the
	// jobs' recorded times, whole seconds: with --window, for a queue without a Queue object, or
	// while status has no statistics, as after a manager restart).
	From string `json:"from"`
	// WindowSeconds is the span of the wait and run percentiles.
	WindowSeconds int32 `json:"windowSeconds"`
	// FinishedLastMinute is the throughput: jobs that finished in the last minute;
	// StartedLastMinute the attempts that started in it.
	FinishedLastMinute int `json:"finishedLastMinute"`
	StartedLastMinute  int `json:"startedLastMinute"`
	// Wait is ready → started of the attempts started in the window; Run is started → finished
	// of the attempts that finished in it (nearest-rank percentiles).
	WaitP50Milliseconds *int64 `json:"waitP50Milliseconds,omitempty"`
	WaitP95Milliseconds *int64 `json:"waitP95Milliseconds,omitempty"`
	RunP50Milliseconds  *int64 `json:"runP50Milliseconds,omitempty"`
	RunP95Milliseconds  *int64 `json:"runP95Milliseconds,omitempty"`
	// Keys are the queue's keys (spec.key) from its status: how many have work, and the busiest
	// by pending jobs; nil while no job of the queue has a key.
	Keys *kickqv1alpha1.QueueKeys `json:"keys,omitempty"`
	// Limits are the limits in force, with their use: "paused", "concurrency 2/5" (running/limit),
	// "rate 3/10 per 60s" (started in the window/limit), and the handlers' own.
	Limits []string `json:"limits"`
	// Held counts the waiting jobs by the reason of their Blocked condition (ConcurrencyLimited,
	// RateLimited, Paused).
	Held map[string]int32 `json:"held,omitempty"`
}

// statsWindow is how far back the wait and run percentiles look by default.
const statsWindow = 10 * time.Minute

func newStatsCommand(o *Options) *cobra.Command {
	var output string
	window := statsWindow
	cmd := &cobra.Command{
		Use:   "stats [QUEUE]",
		Short: "Show queues' job counts, throughput, wait and run times, and limits in force",
		Example: "  kubectl kickq stats\n  kubectl kickq stats default -n shop -o yaml\n" +
			"  kubectl kickq stats --window 1h -o wide",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, s *session) error {
				queue := ""
				if len(args) == 1 {
					queue = args[0]
				}
				// An explicit --window asks for figures over that span, which only the jobs give.
				rows, err := s.stats(ctx, queue, window, cmd.Flags().Changed("window"))
				if err != nil {
					return err
				}
				return printStats(s.Out, rows, output)
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: one of (wide, json, yaml); a table by default.")
	cmd.Flags().DurationVar(&window, "window", window, "How far back the wait and run percentiles look; set, they are computed from the jobs\n"+
		"instead of read from the queue's status.statistics (whose window the manager fixes).")
	return cmd
}

// stats reads the namespace's queues (or one) and their jobs, a page at a time.
func (s *session) stats(ctx context.Context, queue string, window time.Duration, fromJobs bool) ([]QueueStats, error) {
	queues := map[string]*kickqv1alpha1.Queue{}
	if queue != "" {
		var q kickqv1alpha1.Queue
		err := s.c.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: queue}, &q)
		switch {
		case err == nil:
			queues[queue] = &q
		case !apierrors.IsNotFound(err):
			return nil, err
		}
	} else {
		var list kickqv1alpha1.QueueList
		if err := s.c.List(ctx, &list, client.InNamespace(s.namespace)); err != nil {
			return nil, fmt.Errorf("listing queues: %w", err)
		}
		for i := range list.Items {
			queues[list.Items[i].Name] = &list.Items[i]
		}
	}
	now := s.Clock.Now()
	acc := map[string]*accumulator{}
	opts := []client.ListOption{client.InNamespace(s.namespace), client.Limit(500)}
	if queue != "" {
		opts = append(opts, client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("spec.queueName", queue)})
	}
	err := s.eachJob(ctx, opts, func(j *kickqv1alpha1.QueueJob) {
		a := acc[j.Spec.QueueName]
		if a == nil {
			a = &accumulator{ratePeriod: ratePeriod(queues[j.Spec.QueueName]), window: window}
			acc[j.Spec.QueueName] = a
		}
		a.add(j, now, window)
	})
	if err != nil {
		return nil, err
	}
	if queue != "" && queues[queue] == nil && acc[queue] == nil {
		return nil, fmt.Errorf("queue %q not found in namespace %s, and no job names it", queue, s.namespace)
	}
	names := make([]string, 0, len(queues)+len(acc))
	for n := range queues {
		names = append(names, n)
	}
	for n := range acc {
		if queues[n] == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	rows := make([]QueueStats, 0, len(names))
	for _, n := range names {
		a := acc[n]
		if a == nil {
			a = &accumulator{window: window}
		}
		rows = append(rows, statsRow(n, queues[n], a, fromJobs))
	}
	return rows, nil
}

// eachJob calls f for every job that opts select, listing a page at a time.
func (s *session) eachJob(ctx context.Context, opts []client.ListOption, f func(*kickqv1alpha1.QueueJob)) error {
	cont := ""
	for {
		var list kickqv1alpha1.QueueJobList
		if err := s.c.List(ctx, &list, append(opts, client.Continue(cont))...); err != nil {
			return fmt.Errorf("listing jobs: %w", err)
		}
		for i := range list.Items {
			f(&list.Items[i])
		}
		if cont = list.Continue; cont == "" {
			return nil
		}
	}
}

// accumulator gathers one queue's figures from its jobs.
type accumulator struct {
	counts             kickqv1alpha1.QueueCounts
	finishedLastMinute int
	startedLastMinute  int
	// window is the span of waits and runs.
	window      time.Duration
	waits, runs []time.Duration
	held        map[string]int32
	// ratePeriod is the queue's rate limit period (0: none); startedInWindow counts the attempts
	// that started within it, as admission's sliding window does.
	ratePeriod      time.Duration
	startedInWindow int32
}

// ratePeriod is the period of q's rate limit; 0 without one.
func ratePeriod(q *kickqv1alpha1.Queue) time.Duration {
	if q == nil || q.Spec.RateLimit == nil {
		return 0
	}
	return time.Duration(q.Spec.RateLimit.PeriodSeconds) * time.Second
}

// startsWithin counts the job's recorded attempt starts in the sliding window of period that
// ends at now.
func startsWithin(j *kickqv1alpha1.QueueJob, now time.Time, period time.Duration) int32 {
	var n int32
	for _, at := range j.Status.AttemptHistory {
		if at.StartTime != nil && !at.StartTime.After(now) && now.Sub(at.StartTime.Time) < period {
			n++
		}
	}
	return n
}

// add counts one job: its phase, whether it finished in the last minute, the wait of its latest
// attempt and the run times of its attempts within the window. Cron templates are not jobs.
func (a *accumulator) add(j *kickqv1alpha1.QueueJob, now time.Time, window time.Duration) {
	if j.Spec.Cron != nil {
		return
	}
	st := &j.Status
	switch st.Phase {
	case kickqv1alpha1.PhaseBlocked:
		a.counts.Blocked++
	case kickqv1alpha1.PhaseDelayed:
		a.counts.Delayed++
	case kickqv1alpha1.PhasePending, "":
		a.counts.Pending++
	case kickqv1alpha1.PhaseRunning:
		a.counts.Running++
	case kickqv1alpha1.PhaseSucceeded:
		a.counts.Succeeded++
	case kickqv1alpha1.PhaseFailed:
		a.counts.Failed++
	}
	if st.Phase == kickqv1alpha1.PhasePending {
		if c := meta.FindStatusCondition(st.Conditions, kickqv1alpha1.JobBlocked); c != nil && c.Status == "True" {
			if a.held == nil {
				a.held = map[string]int32{}
			}
			a.held[c.Reason]++
		}
	}
	if finished(j) && st.FinishTime != nil && within(st.FinishTime.Time, now, time.Minute) {
		a.finishedLastMinute++
	}
	if w, ok := latestWait(j); ok && within(w.start, now, window) {
		a.waits = append(a.waits, w.d)
	}
	for _, at := range st.AttemptHistory {
		if at.StartTime != nil && at.FinishTime != nil && within(at.FinishTime.Time, now, window) {
			a.runs = append(a.runs, at.FinishTime.Sub(at.StartTime.Time))
		}
	}
	a.startedInWindow += startsWithin(j, now, a.ratePeriod)
	a.startedLastMinute += int(startsWithin(j, now, time.Minute))
}

// within tells whether t lies in the window that ends at now.
func within(t, now time.Time, window time.Duration) bool {
	return !t.After(now) && now.Sub(t) <= window
}

type wait struct {
	start time.Time
	d     time.Duration
}

// latestWait is ready → started of the job's latest attempt: status.readyTime (else its creation
// time, as admission takes it) to the attempt's start.
func latestWait(j *kickqv1alpha1.QueueJob) (wait, bool) {
	st := &j.Status
	var last *kickqv1alpha1.AttemptRecord
	for i := range st.AttemptHistory {
		if a := &st.AttemptHistory[i]; a.Number == st.Attempts {
			last = a
		}
	}
	if last == nil || last.StartTime == nil {
		return wait{}, false
	}
	ready := j.CreationTimestamp.Time
	if st.ReadyTime != nil {
		ready = st.ReadyTime.Time
	}
	if ready.After(last.StartTime.Time) {
		return wait{}, false
	}
	return wait{start: last.StartTime.Time, d: last.StartTime.Sub(ready)}, true
}

// statsRow is a queue's row. Counts, held jobs and the limits' use come from its jobs, read in
// one pass, so that they agree with each other and with now (status.counts and
// status.startedInWindow are coalesced and may lag a second). Throughput and percentiles come
// from the queue's status.statistics, which the manager measured to the millisecond, unless
// fromJobs asks for the jobs' (an explicit --window) or status has none.
func statsRow(name string, q *kickqv1alpha1.Queue, a *accumulator, fromJobs bool) QueueStats {
	row := QueueStats{Queue: name, Exists: q != nil, Counts: a.counts, Held: a.held}
	if st := statisticsOf(q); st != nil && !fromJobs {
		row.From, row.WindowSeconds = "queue status", st.WindowSeconds
		row.FinishedLastMinute, row.StartedLastMinute = int(st.ThroughputPerMinute), int(st.StartedPerMinute)
		row.WaitP50Milliseconds, row.WaitP95Milliseconds = st.WaitP50Milliseconds, st.WaitP95Milliseconds
		row.RunP50Milliseconds, row.RunP95Milliseconds = st.RunP50Milliseconds, st.RunP95Milliseconds
	} else {
		row.From, row.WindowSeconds = "jobs", int32(a.window/time.Second)
		row.FinishedLastMinute, row.StartedLastMinute = a.finishedLastMinute, a.startedLastMinute
		row.WaitP50Milliseconds, row.WaitP95Milliseconds = percentiles(a.waits)
		row.RunP50Milliseconds, row.RunP95Milliseconds = percentiles(a.runs)
	}
	if q != nil && q.Status.Keys != nil {
		row.Keys = q.Status.Keys.DeepCopy()
	}
	row.Limits = limitsInForce(name, q, row.Counts.Running, a.startedInWindow)
	return row
}

// statisticsOf is the queue's status.statistics; nil without a Queue or statistics.
func statisticsOf(q *kickqv1alpha1.Queue) *kickqv1alpha1.QueueStatistics {
	if q == nil {
		return nil
	}
	return q.Status.Statistics
}

func percentiles(ds []time.Duration) (p50, p95 *int64) {
	if v, ok := percentile(ds, 50); ok {
		p50 = millisecondsOf(v)
	}
	if v, ok := percentile(ds, 95); ok {
		p95 = millisecondsOf(v)
	}
	return p50, p95
}

func millisecondsOf(d time.Duration) *int64 {
	ms := d.Milliseconds()
	return &ms
}

// limitsInForce describes a queue's limits and their use: running is the queue's Running count,
// started the attempts started in its rate window.
func limitsInForce(name string, q *kickqv1alpha1.Queue, running, started int32) []string {
	if q == nil {
		if name == kickqv1alpha1.DefaultQueueName {
			return []string{"none (implicit default queue)"}
		}
		return []string{"queue not found: its jobs wait Blocked (QueueNotFound)"}
	}
	var out []string
	sp := &q.Spec
	if sp.Paused != nil && *sp.Paused {
		out = append(out, "paused")
	}
	if sp.Concurrency != nil {
		out = append(out, fmt.Sprintf("concurrency %d/%d", running, *sp.Concurrency))
	}
	if sp.RateLimit != nil {
		out = append(out, fmt.Sprintf("rate %d/%d per %ds", started, sp.RateLimit.Limit, sp.RateLimit.PeriodSeconds))
	}
	out = append(out, keyLimitsInForce("per key", sp.KeyLimits)...)
	handler := func(label string, h *kickqv1alpha1.HandlerSpec) {
		if h.Concurrency != nil {
			out = append(out, fmt.Sprintf("%s: concurrency %d", label, *h.Concurrency))
		}
		if h.RateLimit != nil {
			out = append(out, fmt.Sprintf("%s: rate %s", label, rateString(h.RateLimit)))
		}
		out = append(out, keyLimitsInForce(label+": per key", h.KeyLimits)...)
	}
	for i := range sp.Handlers {
		handler(sp.Handlers[i].Type, &sp.Handlers[i].HandlerSpec)
	}
	if sp.DefaultHandler != nil {
		handler("defaultHandler", sp.DefaultHandler)
	}
	if len(out) == 0 {
		out = append(out, "none")
	}
	return out
}

// printStats writes the rows as a table (wide adds the held jobs and the busiest keys) or as
// JSON or YAML.
func printStats(w io.Writer, rows []QueueStats, output string) error {
	switch output {
	case "json":
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(rows)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case "", "wide":
	default:
		return fmt.Errorf("unknown output format %q: use wide, json or yaml", output)
	}
	tw := printers.GetNewTabWriter(w)
	header := "QUEUE\tPENDING\tRUNNING\tDELAYED\tBLOCKED\tSUCCEEDED\tFAILED\tDONE/MIN\tWAIT P50\tWAIT P95\tRUN P50\tRUN P95\tKEYS\tLIMITS"
	if output == "wide" {
		header += "\tHELD\tBUSIEST KEYS"
	}
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		c := r.Counts
		line := fmt.Sprintf("%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s", r.Queue, c.Pending, c.Running, c.Delayed, c.Blocked,
			c.Succeeded, c.Failed, r.FinishedLastMinute, optMilliseconds(r.WaitP50Milliseconds), optMilliseconds(r.WaitP95Milliseconds),
			optMilliseconds(r.RunP50Milliseconds), optMilliseconds(r.RunP95Milliseconds), activeKeys(r.Keys), strings.Join(r.Limits, ", "))
		if output == "wide" {
			line += "\t" + heldString(r.Held) + "\t" + busiestString(r.Keys)
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

// optMilliseconds writes a duration: 40ms below a second, 2.5s below ten, else (and whole seconds)
// as formatSeconds.
func optMilliseconds(ms *int64) string {
	switch {
	case ms == nil:
		return "-"
	case *ms < 1000:
		return fmt.Sprintf("%dms", *ms)
	case *ms < 10000 && *ms%1000 != 0:
		return fmt.Sprintf("%.1fs", float64(*ms)/1000)
	}
	return formatSeconds(time.Duration(*ms) * time.Millisecond)
}

// heldString is "ConcurrencyLimited=3,RateLimited=1" in reason order, or "-".
func heldString(h map[string]int32) string {
	if len(h) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, h[k])
	}
	return strings.Join(parts, ",")
}

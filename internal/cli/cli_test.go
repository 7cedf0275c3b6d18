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
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func mt(s int) *metav1.Time { return ptr.To(metav1.NewTime(at(s))) }

func TestFormatSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {42 * time.Second, "42s"}, {1500 * time.Millisecond, "2s"}, {time.Minute, "1m"},
		{184 * time.Second, "3m4s"}, {time.Hour, "1h"}, {2*time.Hour + 5*time.Minute + 9*time.Second, "2h5m"},
		{24 * time.Hour, "1d"}, {76 * time.Hour, "3d4h"}, {-5 * time.Second, "-5s"},
	} {
		if got := formatSeconds(tc.d); got != tc.want {
			t.Errorf("formatSeconds(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	secs := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Second
		}
		return out
	}
	for name, tc := range map[string]struct {
		ds     []time.Duration
		p      int
		want   time.Duration
		wantOK bool
	}{
		"none":                   {p: 50},
		"one":                    {ds: secs(7), p: 95, want: 7 * time.Second, wantOK: true},
		"p50 of 4, unsorted":     {ds: secs(4, 1, 3, 2), p: 50, want: 2 * time.Second, wantOK: true},
		"p95 of 20 is the 19th":  {ds: secs(20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1), p: 95, want: 19 * time.Second, wantOK: true},
		"p95 of 10 is the 10th":  {ds: secs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), p: 95, want: 10 * time.Second, wantOK: true},
		"p50 of 3 is the middle": {ds: secs(9, 1, 5), p: 50, want: 5 * time.Second, wantOK: true},
	} {
		got, ok := percentile(tc.ds, tc.p)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: percentile = %s, %v; want %s, %v", name, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestRetryNaming(t *testing.T) {
	long := strings.Repeat("a", 63)
	for _, tc := range []struct {
		job      string
		wantBase string
		wantN    int
		next     string // retryName(base, n+1)
	}{
		{job: "import", wantBase: "import", next: "import-retry-1"},
		{job: "import-retry-1", wantBase: "import", wantN: 1, next: "import-retry-2"},
		{job: "import-retry-41", wantBase: "import", wantN: 41, next: "import-retry-42"},
		{job: "import-retry-0", wantBase: "import-retry-0", next: "import-retry-0-retry-1"},
		{job: "retry-7", wantBase: "retry-7", next: "retry-7-retry-1"},
		{job: "import-retry-x", wantBase: "import-retry-x", next: "import-retry-x-retry-1"},
		{job: long, wantBase: long, next: strings.Repeat("a", 55) + "-retry-1"},
		{job: strings.Repeat("a", 55) + "-retry-9", wantBase: strings.Repeat("a", 55), wantN: 9, next: strings.Repeat("a", 54) + "-retry-10"},
		// A cut that would end in a dash or dot drops it: names end alphanumeric.
		{job: strings.Repeat("a", 54) + "-bcdefgh", wantBase: strings.Repeat("a", 54) + "-bcdefgh", next: strings.Repeat("a", 54) + "-retry-1"},
	} {
		base, n := retryBase(tc.job)
		if base != tc.wantBase || n != tc.wantN {
			t.Errorf("retryBase(%q) = %q, %d; want %q, %d", tc.job, base, n, tc.wantBase, tc.wantN)
		}
		got := retryName(base, n+1)
		if got != tc.next {
			t.Errorf("retryName(%q, %d) = %q, want %q", base, n+1, got, tc.next)
		}
		if len(got) > maxNameLength {
			t.Errorf("retryName(%q, %d) has %d characters", base, n+1, len(got))
		}
	}
	// Retrying the newest retry again and again never grows the name.
	name := long
	for range 120 {
		base, n := retryBase(name)
		name = retryName(base, n+1)
		if len(name) > maxNameLength {
			t.Fatalf("%q has %d characters", name, len(name))
		}
	}
	if want := strings.Repeat("a", 53) + "-retry-120"; name != want {
		t.Errorf("after 120 retries: %q, want %q", name, want)
	}
}

func TestRetryOf(t *testing.T) {
	orig := utiltesting.MakeQueueJob("import", "ns").Queue("q").Type("csv").Batch("b1").Pod().Cancel().
		Labels(map[string]string{"app": "shop", kickqv1alpha1.LabelBatch: "b1", kickqv1alpha1.LabelScheduledBy: "nightly",
			"kustomize.toolkit.fluxcd.io/name": "jobs"}).
		Annotations(map[string]string{"note": "x", "kubectl.kubernetes.io/last-applied-configuration": "{}",
			"argocd.argoproj.io/tracking-id": "app:kickq.dev/QueueJob:ns/import", kickqv1alpha1.AnnotationRunNow: "1"}).
		Phase(kickqv1alpha1.PhaseFailed).Obj()
	got := retryOf(orig, "import-retry-1")
	want := orig.Spec.DeepCopy()
	want.Cancel = nil
	if diff := cmp.Diff(*want, got.Spec); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"app": "shop"}, got.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"note": "x", AnnotationRetryOf: "import"}, got.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	if got.Name != "import-retry-1" || got.Namespace != "ns" || got.ResourceVersion != "" || got.Status.Phase != "" {
		t.Errorf("metadata/status not fresh: %+v", got.ObjectMeta)
	}
}

func TestRunNowValue(t *testing.T) {
	now := time.Unix(1764579600, 0)
	tmpl := func(annotation, handled string) *kickqv1alpha1.QueueJob {
		j := utiltesting.MakeQueueJob("t", "ns").Cron("@hourly").Obj()
		if annotation != "" {
			j.Annotations = map[string]string{kickqv1alpha1.AnnotationRunNow: annotation}
		}
		j.Status.LastHandledRunNow = handled
		return j
	}
	for name, tc := range map[string]struct {
		t    *kickqv1alpha1.QueueJob
		want string
	}{
		"first":                    {t: tmpl("", ""), want: "1764579600"},
		"an older value":           {t: tmpl("1764570000", "1764570000"), want: "1764579600"},
		"the same second, set":     {t: tmpl("1764579600", ""), want: "1764579600.2"},
		"the same second, handled": {t: tmpl("1764579600.2", "1764579600"), want: "1764579600.3"},
	} {
		if got := runNowValue(now, tc.t); got != tc.want {
			t.Errorf("%s: runNowValue = %q, want %q", name, got, tc.want)
		}
	}
}

func TestPlaceIn(t *testing.T) {
	waiting := func(name, typ string, priority int32, ready int) waitingJob {
		return waitingJob{Order: admission.Order{Name: name, Priority: priority, Ready: at(ready), Created: at(0)}, typ: typ}
	}
	jobs := []waitingJob{
		waiting("late-urgent", "csv", 10, 50), waiting("b", "csv", 0, 10), waiting("a", "csv", 0, 10),
		waiting("early", "pdf", 0, 5), waiting("low", "csv", -1, 0),
	}
	blocked := metav1.Condition{Type: kickqv1alpha1.JobBlocked, Status: metav1.ConditionTrue,
		Reason: kickqv1alpha1.ReasonConcurrencyLimited, Message: "queue concurrency 1 reached (1 running)"}
	for name, tc := range map[string]struct {
		job  *kickqv1alpha1.QueueJob
		want Position
	}{
		"higher priority first, whatever its ready time": {
			job:  utiltesting.MakeQueueJob("late-urgent", "ns").Type("csv").Phase(kickqv1alpha1.PhasePending).Condition(blocked).Obj(),
			want: Position{Waiting: true, Position: 1, Of: 5, HeldBy: "ConcurrencyLimited: queue concurrency 1 reached (1 running)"},
		},
		"then ready time, then name": {
			job:  utiltesting.MakeQueueJob("b", "ns").Type("csv").Phase(kickqv1alpha1.PhasePending).Obj(),
			want: Position{Waiting: true, Position: 4, Of: 5, Ahead: 2, HeldBy: "3 jobs ahead of it"},
		},
		"lowest priority last": {
			job:  utiltesting.MakeQueueJob("low", "ns").Type("csv").Phase(kickqv1alpha1.PhasePending).Obj(),
			want: Position{Waiting: true, Position: 5, Of: 5, Ahead: 3, HeldBy: "4 jobs ahead of it"},
		},
		"a job that does not wait": {
			job:  utiltesting.MakeQueueJob("gone", "ns").Phase(kickqv1alpha1.PhaseRunning).Obj(),
			want: Position{Of: 5},
		},
	} {
		p := Position{}
		placeIn(&p, tc.job, inAdmissionOrder(append([]waitingJob(nil), jobs...), keyTurns{}, at(100)))
		if diff := cmp.Diff(tc.want, p); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", name, diff)
		}
	}
	// Alone and first: nothing holds it.
	p := Position{}
	placeIn(&p, utiltesting.MakeQueueJob("a", "ns").Phase(kickqv1alpha1.PhasePending).Obj(), []waitingJob{waiting("a", "", 0, 0)})
	if p.HeldBy != "nothing: it is next" {
		t.Errorf("alone: HeldBy = %q", p.HeldBy)
	}
}

func TestLimitsInForce(t *testing.T) {
	q := utiltesting.MakeQueue("q", "ns").Paused().Concurrency(5).Rate(10, 60).
		Handler("email", kickqv1alpha1.HandlerSpec{Concurrency: ptr.To[int32](2), RateLimit: &kickqv1alpha1.RateLimit{Limit: 100, PeriodSeconds: 3600}}).Obj()
	for name, tc := range map[string]struct {
		queue string
		q     *kickqv1alpha1.Queue
		want  []string
	}{
		"all":              {queue: "q", q: q, want: []string{"paused", "concurrency 2/5", "rate 3/10 per 60s", "email: concurrency 2", "email: rate 100/3600s"}},
		"no limits":        {queue: "q", q: utiltesting.MakeQueue("q", "ns").Obj(), want: []string{"none"}},
		"implicit default": {queue: "default", want: []string{"none (implicit default queue)"}},
		"missing":          {queue: "nope", want: []string{"queue not found: its jobs wait Blocked (QueueNotFound)"}},
	} {
		if diff := cmp.Diff(tc.want, limitsInForce(tc.queue, tc.q, 2, 3)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

// finishedJob ran from ready to start to finish (seconds after t0).
func finishedJob(name string, phase kickqv1alpha1.QueueJobPhase, ready, start, finish int) *kickqv1alpha1.QueueJob {
	j := utiltesting.MakeQueueJob(name, "ns").Queue("q").Created(at(ready)).Obj()
	j.Status = kickqv1alpha1.QueueJobStatus{Phase: phase, Attempts: 1, ReadyTime: mt(ready), StartTime: mt(start), FinishTime: mt(finish),
		AttemptHistory: []kickqv1alpha1.AttemptRecord{{Number: 1, StartTime: mt(start), FinishTime: mt(finish)}}}
	return j
}

func TestStatsRow(t *testing.T) {
	now := at(1000)
	held := utiltesting.MakeQueueJob("held", "ns").Queue("q").Phase(kickqv1alpha1.PhasePending).
		Condition(metav1.Condition{Type: kickqv1alpha1.JobBlocked, Status: metav1.ConditionTrue, Reason: kickqv1alpha1.ReasonRateLimited}).Obj()
	retried := finishedJob("retried", kickqv1alpha1.PhaseSucceeded, 900, 960, 990)
	retried.Status.Attempts = 2
	retried.Status.ReadyTime = mt(950) // ready again after the backoff
	retried.Status.AttemptHistory = []kickqv1alpha1.AttemptRecord{{Number: 1, StartTime: mt(900), FinishTime: mt(910)}, {Number: 2, StartTime: mt(960), FinishTime: mt(990)}}
	jobs := []*kickqv1alpha1.QueueJob{
		finishedJob("old", kickqv1alpha1.PhaseSucceeded, 0, 10, 20),    // outside the 10-minute window
		finishedJob("ok", kickqv1alpha1.PhaseSucceeded, 800, 802, 812), // wait 2s, run 10s
		finishedJob("bad", kickqv1alpha1.PhaseFailed, 930, 934, 944),   // wait 4s, run 10s, finished in the last minute
		retried, // wait 10s (950 → 960), runs 10s and 30s
		held,
		utiltesting.MakeQueueJob("tmpl", "ns").Queue("q").Cron("@hourly").Phase(kickqv1alpha1.PhaseScheduled).Obj(), // not a job
	}
	a := &accumulator{window: statsWindow}
	for _, j := range jobs {
		a.add(j, now, statsWindow)
	}
	got := statsRow("q", nil, a, false)
	want := QueueStats{Queue: "q", Counts: kickqv1alpha1.QueueCounts{Pending: 1, Succeeded: 3, Failed: 1}, From: "jobs", WindowSeconds: 600,
		FinishedLastMinute: 2, StartedLastMinute: 1, // retried's second (960); bad's (934) is 66 s old
		WaitP50Milliseconds: ptr.To[int64](4000), WaitP95Milliseconds: ptr.To[int64](10000), RunP50Milliseconds: ptr.To[int64](10000),
		RunP95Milliseconds: ptr.To[int64](30000), Limits: []string{"queue not found: its jobs wait Blocked (QueueNotFound)"}, Held: map[string]int32{kickqv1alpha1.ReasonRateLimited: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statsRow (-want +got):\n%s", diff)
	}
	// With a Queue rate-limited per 100 s, the attempts started in the last 100 s count: bad's
	// (934) and retried's second (960); retried's first (900) is exactly 100 s old and has left
	// the window, ok's (802) long ago.
	q := utiltesting.MakeQueue("q", "ns").Rate(10, 100).Obj()
	b := &accumulator{ratePeriod: ratePeriod(q), window: statsWindow}
	for _, j := range jobs {
		b.add(j, now, statsWindow)
	}
	if got := statsRow("q", q, b, false); !got.Exists || got.Counts != want.Counts || got.Limits[0] != "rate 2/10 per 100s" || got.From != "jobs" {
		t.Errorf("with a queue: %+v", got)
	}
	// A queue whose status carries the manager's statistics and keys: those are shown, unless
	// the figures are asked of the jobs (an explicit --window).
	q.Status.Statistics = &kickqv1alpha1.QueueStatistics{ThroughputPerMinute: 7, StartedPerMinute: 9, WindowSeconds: 300,
		WaitP50Milliseconds: ptr.To[int64](12), RunP95Milliseconds: ptr.To[int64](340)}
	q.Status.Keys = &kickqv1alpha1.QueueKeys{Active: 2, Busiest: []kickqv1alpha1.KeyCount{{Key: "acme", Pending: 3, Running: 1}}}
	q.Spec.KeyLimits = &kickqv1alpha1.KeyLimits{Concurrency: ptr.To[int32](1), RateLimit: &kickqv1alpha1.RateLimit{Limit: 10, PeriodSeconds: 60}}
	got = statsRow("q", q, b, false)
	wantStatus := QueueStats{Queue: "q", Exists: true, Counts: want.Counts, From: "queue status", WindowSeconds: 300,
		FinishedLastMinute: 7, StartedLastMinute: 9, WaitP50Milliseconds: ptr.To[int64](12), RunP95Milliseconds: ptr.To[int64](340),
		Keys: q.Status.Keys, Limits: []string{"rate 2/10 per 100s", "per key: concurrency 1", "per key: rate 10/60s"}, Held: want.Held}
	if diff := cmp.Diff(wantStatus, got); diff != "" {
		t.Errorf("from status (-want +got):\n%s", diff)
	}
	if got := statsRow("q", q, b, true); got.From != "jobs" || got.FinishedLastMinute != 2 || got.Keys == nil {
		t.Errorf("from jobs: %+v", got)
	}
}

func TestPrintStats(t *testing.T) {
	rows := []QueueStats{
		{Queue: "default", Exists: true, Counts: kickqv1alpha1.QueueCounts{Pending: 120, Running: 5, Succeeded: 9810, Failed: 12},
			FinishedLastMinute: 42, WaitP50Milliseconds: ptr.To[int64](40), WaitP95Milliseconds: ptr.To[int64](2500), RunP50Milliseconds: ptr.To[int64](12000),
			RunP95Milliseconds: ptr.To[int64](184000), Keys: &kickqv1alpha1.QueueKeys{Active: 2, Busiest: []kickqv1alpha1.KeyCount{{Key: "acme", Pending: 110, Running: 1}, {Key: "globex", Pending: 7}}},
			Limits: []string{"concurrency 5/5", "rate 5/5 per 60s"}, Held: map[string]int32{"RateLimited": 3, "ConcurrencyLimited": 117}},
		{Queue: "idle", Exists: true, Limits: []string{"none"}},
	}
	var b bytes.Buffer
	if err := printStats(&b, rows, "wide"); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"QUEUE     PENDING   RUNNING   DELAYED   BLOCKED   SUCCEEDED   FAILED   DONE/MIN   WAIT P50   WAIT P95   RUN P50   RUN P95   KEYS   LIMITS                              HELD                                   BUSIEST KEYS\n" +
		"default   120       5         0         0         9810        12       42         40ms       2.5s       12s       3m4s      2      concurrency 5/5, rate 5/5 per 60s   ConcurrencyLimited=117,RateLimited=3   acme=110/1,globex=7/0\n" +
		"idle      0         0         0         0         0           0        0          -          -          -         -         -      none                                -                                      -\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	if err := printStats(&b, rows, "xml"); err == nil {
		t.Error("-o xml: no error")
	}
}

func TestPrintOutcome(t *testing.T) {
	ok := finishedJob("hello", kickqv1alpha1.PhaseSucceeded, 0, 1, 5)
	ok.Status.Reason, ok.Status.Result = kickqv1alpha1.ReasonCompleted, utiltesting.RawJSON(`{"sent":true}`)
	bad := finishedJob("flaky", kickqv1alpha1.PhaseFailed, 0, 1, 75)
	bad.Status.Attempts, bad.Status.Reason, bad.Status.Message = 4, kickqv1alpha1.ReasonRetriesExhausted, "attempt 4 failed: exit code 1 (container main)"
	for _, tc := range []struct {
		job  *kickqv1alpha1.QueueJob
		want string
	}{
		{ok, "queuejob/hello Succeeded (Completed) after 1 attempt in 4s\nresult: {\"sent\":true}\n"},
		{bad, "queuejob/flaky Failed (RetriesExhausted) after 4 attempts in 1m14s\nmessage: attempt 4 failed: exit code 1 (container main)\n"},
	} {
		var b bytes.Buffer
		printOutcome(&b, tc.job)
		if diff := cmp.Diff(tc.want, b.String()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.job.Name, diff)
		}
	}
}

func TestAttemptPod(t *testing.T) {
	pod := utiltesting.MakeQueueJob("j", "ns").Pod().Obj()
	pod.Status.AttemptHistory = []kickqv1alpha1.AttemptRecord{{Number: 3, PodName: "j-3"}}
	hook := utiltesting.MakeQueueJob("h", "ns").Webhook("https://example.com/x").Obj()
	handled := utiltesting.MakeQueueJob("t", "ns").Type("csv").Obj() // its queue's handler decides
	handled.Status.AttemptHistory = []kickqv1alpha1.AttemptRecord{{Number: 1, TargetKind: "Webhook"}}
	for name, tc := range map[string]struct {
		job      *kickqv1alpha1.QueueJob
		n        int32
		want     string
		wantSure bool
	}{
		"recorded":                       {job: pod, n: 3, want: "j-3", wantSure: true},
		"trimmed from an inline pod job": {job: pod, n: 1, want: "j-1", wantSure: true},
		"an inline webhook":              {job: hook, n: 1, wantSure: true},
		"a handler's webhook attempt":    {job: handled, n: 1, wantSure: true},
		"a handler's attempt, trimmed":   {job: handled, n: 2, want: "t-2"},
	} {
		got, sure := attemptPod(tc.job, tc.n)
		if got != tc.want || sure != tc.wantSure {
			t.Errorf("%s: attemptPod = %q, %v; want %q, %v", name, got, sure, tc.want, tc.wantSure)
		}
	}
}

func TestTargetsAndExitCodes(t *testing.T) {
	if err := targets(nil, &jobSet{}, "retry"); err == nil {
		t.Error("no job and no set: no error")
	}
	if err := targets([]string{"a"}, &jobSet{batch: "b"}, "retry"); err == nil {
		t.Error("a job and a set: no error")
	}
	if err := targets(nil, &jobSet{selector: "app=x"}, "cancel"); err != nil {
		t.Errorf("a selector: %v", err)
	}
	for _, tc := range []struct {
		err    error
		code   int
		silent bool
	}{
		{nil, 0, false},
		{errors.New("boom"), ExitError, false},
		{&ExitCodeError{Code: ExitFailed, Err: errReported}, ExitFailed, true},
		{&ExitCodeError{Code: ExitWait, Err: errors.New("timed out")}, ExitWait, false},
	} {
		if got := ExitCode(tc.err); got != tc.code {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.code)
		}
		if got := Silent(tc.err); got != tc.silent {
			t.Errorf("Silent(%v) = %v, want %v", tc.err, got, tc.silent)
		}
	}
}

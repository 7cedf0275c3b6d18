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

package metrics

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time { t := metav1.NewTime(t0.Add(d)); return &t }

// histogram returns a histogram series' sample count and sum.
func histogram(t *testing.T, h *prometheus.HistogramVec, labels ...string) (uint64, float64) {
	t.Helper()
	m, err := h.GetMetricWithLabelValues(labels...)
	if err != nil {
		t.Fatal(err)
	}
	var d dto.Metric
	if err := m.(prometheus.Metric).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetHistogram().GetSampleCount(), d.GetHistogram().GetSampleSum()
}

func testJob(ns string) *kickqv1alpha1.QueueJob {
	j := &kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "j", UID: "u1"}}
	j.Spec.QueueName, j.Spec.Type = "q", "email"
	return j
}

// TestJobWrittenCountsEachTransitionOnce: an attempt's start and end and a job's limit are
// counted by the write that records them, and a write that records nothing new (a repeated pass,
// a retried reconcile) counts nothing.
func TestJobWrittenCountsEachTransitionOnce(t *testing.T) {
	const ns = "recorder-once"
	r := NewRecorder(0, 0)
	job := testJob(ns)
	pending := kickqv1alpha1.QueueJobStatus{Phase: kickqv1alpha1.PhasePending, ReadyTime: at(0)}
	running := *pending.DeepCopy()
	running.Phase, running.Attempts = kickqv1alpha1.PhaseRunning, 1
	running.AttemptHistory = []kickqv1alpha1.AttemptRecord{{Number: 1, StartTime: at(3400 * time.Millisecond)}}
	// As the API server gives it back: whole seconds.
	stored := *running.DeepCopy()
	stored.AttemptHistory[0].StartTime = at(3 * time.Second)
	done := *stored.DeepCopy()
	done.Phase, done.FinishTime = kickqv1alpha1.PhaseSucceeded, at(10500*time.Millisecond)
	done.AttemptHistory[0].FinishTime, done.AttemptHistory[0].Outcome = at(10500*time.Millisecond), kickqv1alpha1.OutcomeSucceed

	r.JobWritten(job, &pending, &running, t0.Add(time.Second))
	r.JobWritten(job, &running, &running, t0.Add(time.Second)) // nothing new
	r.JobWritten(job, &stored, &done, time.Time{})
	r.JobWritten(job, &done, &done, time.Time{})

	// The run counts from the exact start (3.4 s), not from status's whole second.
	for _, h := range []struct {
		name string
		vec  *prometheus.HistogramVec
		want float64
	}{{"kickq_job_wait_seconds", JobWait, 3.4}, {"kickq_start_lateness_seconds", StartLateness, 2.4}, {"kickq_job_run_seconds", JobRun, 7.1}} {
		if n, sum := histogram(t, h.vec, ns, "q", "email"); n != 1 || math.Abs(sum-h.want) > 1e-9 {
			t.Errorf("%s: count %d sum %v, want 1 and %v", h.name, n, sum, h.want)
		}
	}
	if got := testutil.ToFloat64(Attempts.WithLabelValues(ns, "q", "email", "Succeed")); got != 1 {
		t.Errorf("kickq_attempts_total{outcome=Succeed} = %v, want 1", got)
	}
	st, _ := r.Stats.Snapshot(StatsKey{ns, "q"}, t0.Add(20*time.Second))
	if st == nil || st.ThroughputPerMinute != 1 || st.StartedPerMinute != 1 || *st.WaitP50Milliseconds != 3400 || *st.RunP95Milliseconds != 7100 {
		t.Errorf("statistics = %+v, want 1 finished, 1 started, wait 3400 ms, run 7100 ms", st)
	}
}

// TestJobWrittenLimited: a job becoming held by a limit counts once per limit it becomes held by.
func TestJobWrittenLimited(t *testing.T) {
	const ns = "recorder-limited"
	r := NewRecorder(0, 0)
	job := testJob(ns)
	blocked := func(reason string) kickqv1alpha1.QueueJobStatus {
		st := kickqv1alpha1.QueueJobStatus{Phase: kickqv1alpha1.PhasePending}
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: kickqv1alpha1.JobBlocked, Status: metav1.ConditionTrue, Reason: reason})
		return st
	}
	free := kickqv1alpha1.QueueJobStatus{Phase: kickqv1alpha1.PhasePending}
	conc, rate, paused := blocked(kickqv1alpha1.ReasonConcurrencyLimited), blocked(kickqv1alpha1.ReasonRateLimited), blocked(kickqv1alpha1.ReasonPaused)
	deps := blocked(kickqv1alpha1.ReasonDependenciesPending)
	for _, w := range [][2]*kickqv1alpha1.QueueJobStatus{
		{&free, &conc}, {&conc, &conc}, {&conc, &rate}, {&rate, &free}, {&free, &conc}, {&conc, &paused}, {&free, &deps},
	} {
		r.JobWritten(job, w[0], w[1], time.Time{})
	}
	for limit, want := range map[string]float64{LimitConcurrency: 2, LimitRate: 1, LimitPaused: 1} {
		if got := testutil.ToFloat64(Limited.WithLabelValues(ns, "q", limit)); got != want {
			t.Errorf("kickq_limited_total{limit=%s} = %v, want %v", limit, got, want)
		}
	}
}

// TestLimiter: the first queues and types keep their own label values; later ones are "other".
func TestLimiter(t *testing.T) {
	l := NewLimiter(2, 1)
	for _, tc := range []struct{ ns, q, wantNS, wantQ string }{
		{"a", "x", "a", "x"}, {"b", "x", "b", "x"}, {"c", "x", Other, Other}, {"a", "x", "a", "x"}, {"a", "y", Other, Other},
	} {
		if ns, q := l.Queue(tc.ns, tc.q); ns != tc.wantNS || q != tc.wantQ {
			t.Errorf("Queue(%s, %s) = %s, %s; want %s, %s", tc.ns, tc.q, ns, q, tc.wantNS, tc.wantQ)
		}
	}
	for _, tc := range []struct{ typ, want string }{{"email", "email"}, {"sms", Other}, {"", ""}, {"email", "email"}} {
		if got := l.Type(tc.typ); got != tc.want {
			t.Errorf("Type(%q) = %q, want %q", tc.typ, got, tc.want)
		}
	}
}

// TestCronFiredAndCodes: firings and HTTP answers count by their label.
func TestCronFiredAndCodes(t *testing.T) {
	before := testutil.ToFloat64(CronFirings.WithLabelValues(FiringSkipped))
	CronFired(FiringSkipped, 3)
	CronFired(FiringSkipped, 0)
	if got := testutil.ToFloat64(CronFirings.WithLabelValues(FiringSkipped)) - before; got != 3 {
		t.Errorf("kickq_cron_firings_total{result=skipped} grew by %v, want 3", got)
	}
	for code, want := range map[int]string{0: Other, 200: "2xx", 202: "2xx", 404: "4xx", 503: "5xx", 600: Other} {
		if got := CodeClass(code); got != want {
			t.Errorf("CodeClass(%d) = %q, want %q", code, got, want)
		}
	}
}

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

package lifecycle

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/limits"
	"kickq.dev/kickq/internal/outcome"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

// fuzzJobs are the seed jobs of FuzzDecide, as JSON (the fuzzer mutates the bytes).
func fuzzJobs() []*kickqv1alpha1.QueueJob {
	started := t0.Add(5 * time.Second)
	return []*kickqv1alpha1.QueueJob{
		utiltesting.MakeQueueJob("pod", "team-a").Pod().Created(t0).Obj(),
		utiltesting.MakeQueueJob("pod", "team-a").Pod().Created(t0).Retry(3, utiltesting.ExponentialBackoff(time.Second, 2, time.Minute)).
			Rule(utiltesting.ExitCodeRule(kickqv1alpha1.RetryActionDie, 42)).AttemptDeadline(time.Minute).HeartbeatTimeout(10*time.Second).
			Running(2, started).FailedAttempts(1).Obj(),
		utiltesting.MakeQueueJob("hook", "team-b").Webhook("https://hooks.example.test/run").Created(t0).Running(1, started).
			ActiveDeadline(time.Hour).Notify("https://hooks.example.test/done").Obj(),
		utiltesting.MakeQueueJob("worker", "team-b").Worker().Created(t0).Running(1, started).Obj(),
		utiltesting.MakeQueueJob("later", "team-c").Pod().Created(t0).Delay(30 * time.Second).After("first").Batch("b").Obj(),
		utiltesting.MakeQueueJob("stop", "team-c").Pod().Created(t0).Running(1, started).Cancel().Obj(),
		utiltesting.MakeQueueJob("done", "team-c").Pod().Created(t0).TTLAfterFinished(time.Minute).Phase(kickqv1alpha1.PhaseSucceeded).
			Condition(metav1.Condition{Type: kickqv1alpha1.JobComplete, Status: metav1.ConditionTrue, Reason: "Succeeded"}).Obj(),
		utiltesting.MakeQueueJob("tmpl", "team-c").Cron("*/5 * * * *").Pod().Created(t0).Obj(),
	}
}

var fuzzObsPhases = []attempt.Phase{"", attempt.Missing, attempt.NotStarted, attempt.Running, attempt.Finished}

var fuzzOutcomes = []kickqv1alpha1.Outcome{"", kickqv1alpha1.OutcomeSucceed, kickqv1alpha1.OutcomeFail, kickqv1alpha1.OutcomeDie,
	kickqv1alpha1.OutcomeRetry, "Explode"}

// FuzzDecide calls Decide on any job a status or spec can hold (the JSON of one, mutated) and
// anything the executor and the report API may say of its attempt. Decide never panics, decides
// the same twice (a restarted manager decides as the one before), never forgets an attempt, never
// starts more than the next one, never revives a finished job, and keeps every message it writes
// within limits.MaxMessageBytes, however long the receiver's message.
func FuzzDecide(f *testing.F) {
	for i, job := range fuzzJobs() {
		raw, err := json.Marshal(job)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, uint8(i), uint8(i), int64(10+60*i), true, strings.Repeat("why? ", 10*i), int32(200+i*100))
	}
	f.Add([]byte(`{"metadata":{"name":"x","namespace":"y"},"status":{"phase":"Running","attempts":2147483647}}`), uint8(4), uint8(4), int64(-1), false, "", int32(500))
	f.Fuzz(func(t *testing.T, raw []byte, obsPhase, report uint8, nowSec int64, settled bool, msg string, code int32) {
		var job kickqv1alpha1.QueueJob
		if err := json.Unmarshal(raw, &job); err != nil || job.Name == "" {
			t.Skip("not a QueueJob")
		}
		now := t0.Add(time.Duration(nowSec%(10*365*24*3600)) * time.Second)
		in := Input{Job: &job, Queue: QueueView{Implicit: true}, Settled: settled, Now: now,
			Current: attempt.Observation{Phase: fuzzObsPhases[int(obsPhase)%len(fuzzObsPhases)], Name: job.Name + "-1",
				Lost: obsPhase&8 != 0, Expected: obsPhase&16 != 0, Accepted: obsPhase&32 != 0,
				Result: outcome.Result{Outcome: fuzzOutcomes[int(obsPhase/64)%len(fuzzOutcomes)], Reason: "HTTPError", Message: msg,
					HTTPStatusCode: &code}},
		}
		if o := fuzzOutcomes[int(report)%len(fuzzOutcomes)]; report&8 != 0 {
			in.Report = &attempt.Pending{Attempt: job.Status.Attempts, Taken: now, Heartbeat: now, Outcome: o, Message: msg,
				Logs: []kickqv1alpha1.LogEntry{{Time: metav1.Time{Time: now}, Message: msg}}}
		}
		before := job.DeepCopy()
		res := Decide(in)
		if diff := cmp.Diff(before, &job); diff != "" {
			t.Fatalf("Decide changed its input job (-before +after):\n%s", diff)
		}
		if again := Decide(in); !cmp.Equal(res, again, resultOpts) {
			t.Fatalf("Decide decided twice differently:\n%s", cmp.Diff(res, again, resultOpts))
		}
		checkDecision(t, before, res)
	})
}

func checkDecision(t *testing.T, job *kickqv1alpha1.QueueJob, res Result) {
	t.Helper()
	st := &res.Status
	if st.Attempts < job.Status.Attempts || int64(st.Attempts) > int64(job.Status.Attempts)+1 {
		t.Fatalf("attempts %d -> %d", job.Status.Attempts, st.Attempts)
	}
	if res.Action == Start && (res.Attempt != st.Attempts || res.Attempt < 1) {
		t.Fatalf("starts attempt %d with status.attempts %d", res.Attempt, st.Attempts)
	}
	if IsFinished(&job.Status) && job.Spec.Cron == nil {
		if !IsFinished(st) {
			t.Fatalf("the finished job is not finished any more: %+v", st.Conditions)
		}
		if res.Action == Start {
			t.Fatalf("starts attempt %d of a finished job", res.Attempt)
		}
	}
	if bothEnds(st) && !bothEnds(&job.Status) {
		t.Fatalf("Decide made the job both Complete and Failed")
	}
	// Messages the input status already held are not Decide's.
	held := map[string]bool{job.Status.Message: true}
	for _, c := range job.Status.Conditions {
		held[c.Message] = true
	}
	for _, a := range job.Status.AttemptHistory {
		held[a.Message] = true
	}
	for _, l := range job.Status.Logs {
		held[l.Message] = true
	}
	bounded := func(what, s string) {
		if len(s) > limits.MaxMessageBytes && !held[s] {
			t.Fatalf("%s is %d bytes; at most %d", what, len(s), limits.MaxMessageBytes)
		}
	}
	bounded("status.message", st.Message)
	for _, c := range st.Conditions {
		bounded("condition "+c.Type, c.Message)
	}
	for _, a := range st.AttemptHistory {
		bounded("an attempt's message", a.Message)
	}
	for _, l := range st.Logs {
		bounded("a log line", l.Message)
	}
	for _, e := range res.Events {
		bounded("event "+e.Reason, e.Message)
	}
}

// bothEnds reports whether a status says both Complete and Failed.
func bothEnds(st *kickqv1alpha1.QueueJobStatus) bool {
	return meta.IsStatusConditionTrue(st.Conditions, kickqv1alpha1.JobComplete) &&
		meta.IsStatusConditionTrue(st.Conditions, kickqv1alpha1.JobFailed)
}

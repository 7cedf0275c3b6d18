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
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/limits"
)

// records is attempt records from..to, each started at from+n seconds.
func records(from, to int32) []kickqv1alpha1.AttemptRecord {
	var out []kickqv1alpha1.AttemptRecord
	for i := range to - from + 1 {
		out = append(out, kickqv1alpha1.AttemptRecord{Number: from + i, StartTime: mtime(at(int(from + i)))})
	}
	return out
}

// TestSetAttempt updates attempt records, keeping the newest limits.MaxAttemptHistory.
func TestSetAttempt(t *testing.T) {
	finish := func(r *kickqv1alpha1.AttemptRecord) { r.FinishTime = mtime(at(99)) }
	finished := func(rs []kickqv1alpha1.AttemptRecord, n int32) []kickqv1alpha1.AttemptRecord {
		for i := range rs {
			if rs[i].Number == n {
				rs[i].FinishTime = mtime(at(99))
			}
		}
		return rs
	}
	for _, tc := range []struct {
		name    string
		history []kickqv1alpha1.AttemptRecord
		n       int32
		want    []kickqv1alpha1.AttemptRecord
	}{
		{name: "first attempt: added", n: 1,
			want: []kickqv1alpha1.AttemptRecord{{Number: 1, FinishTime: mtime(at(99))}}},
		{name: "kept attempt: updated in place", history: records(1, 2), n: 1, want: finished(records(1, 2), 1)},
		{name: "new attempt beyond limits.MaxAttemptHistory: the oldest dropped", history: records(1, limits.MaxAttemptHistory),
			n:    limits.MaxAttemptHistory + 1,
			want: append(records(2, limits.MaxAttemptHistory), kickqv1alpha1.AttemptRecord{Number: limits.MaxAttemptHistory + 1, FinishTime: mtime(at(99))})},
		{name: "kept attempt at the bound: nothing dropped", history: records(1, limits.MaxAttemptHistory), n: limits.MaxAttemptHistory,
			want: finished(records(1, limits.MaxAttemptHistory), limits.MaxAttemptHistory)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := kickqv1alpha1.QueueJobStatus{AttemptHistory: tc.history}
			setAttempt(&st, tc.n, finish)
			if diff := cmp.Diff(tc.want, st.AttemptHistory); diff != "" {
				t.Errorf("attemptHistory (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLogRingIsBounded keeps the newest lines of the status log within limits.MaxLogEntries and
// limits.MaxLogBytes, counting what it drops.
func TestLogRingIsBounded(t *testing.T) {
	var st kickqv1alpha1.QueueJobStatus
	for i := range limits.MaxLogEntries + 50 {
		appendLog(&st, at(i), fmt.Sprintf("line %d", i))
	}
	if len(st.Logs) != limits.MaxLogEntries || st.LogsDropped != 50 {
		t.Errorf("logs %d dropped %d, want %d and 50", len(st.Logs), st.LogsDropped, limits.MaxLogEntries)
	}
	var want []kickqv1alpha1.LogEntry
	for i := range limits.MaxLogEntries {
		want = append(want, kickqv1alpha1.LogEntry{Time: metav1.NewTime(at(50 + i)), Message: fmt.Sprintf("line %d", 50+i)})
	}
	if diff := cmp.Diff(want, st.Logs); diff != "" {
		t.Errorf("the newest %d lines are kept (-want +got):\n%s", limits.MaxLogEntries, diff)
	}

	big := strings.Repeat("x", 1000)
	for range 40 {
		appendLog(&st, at(500), big)
	}
	size := 0
	for _, l := range st.Logs {
		size += len(l.Message)
	}
	if size > limits.MaxLogBytes {
		t.Errorf("log bytes %d > %d", size, limits.MaxLogBytes)
	}
	// 16 lines of 1000 bytes fit in 16 KiB, 17 do not: the small lines go first, then 24 big ones.
	want = nil
	for range 16 {
		want = append(want, kickqv1alpha1.LogEntry{Time: metav1.NewTime(at(500)), Message: big})
	}
	if diff := cmp.Diff(want, st.Logs); diff != "" {
		t.Errorf("the newest lines within %d bytes are kept (-want +got):\n%s", limits.MaxLogBytes, diff)
	}
	if st.LogsDropped != 50+limits.MaxLogEntries+24 {
		t.Errorf("dropped %d, want %d", st.LogsDropped, 50+limits.MaxLogEntries+24)
	}

	appendLog(&st, at(501), strings.Repeat("y", 2*limits.MaxMessageBytes))
	if got, want := st.Logs[len(st.Logs)-1].Message, strings.Repeat("y", limits.MaxMessageBytes-len(limits.Ellipsis))+limits.Ellipsis; got != want {
		t.Errorf("a line over limits.MaxMessageBytes is cut: got %d bytes, want %d", len(got), len(want))
	}
}

// TestMessage cuts messages to limits.MaxMessageBytes at a rune boundary.
func TestMessage(t *testing.T) {
	for _, tc := range []struct {
		name, s, want string
	}{
		{name: "short: as is", s: "pod j-1 disappeared", want: "pod j-1 disappeared"},
		{name: "exactly the bound: as is", s: strings.Repeat("a", limits.MaxMessageBytes), want: strings.Repeat("a", limits.MaxMessageBytes)},
		{name: "one byte over: cut, ending in an ellipsis", s: strings.Repeat("a", limits.MaxMessageBytes+1),
			want: strings.Repeat("a", limits.MaxMessageBytes-3) + "…"},
		{name: "two-byte runes: cut before the rune the bound splits", s: strings.Repeat("é", 600), want: strings.Repeat("é", 510) + "…"},
		{name: "three-byte runes", s: strings.Repeat("日", 400), want: strings.Repeat("日", 340) + "…"},
		{name: "four-byte runes", s: strings.Repeat("🚀", 300), want: strings.Repeat("🚀", 255) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := message(tc.s)
			if got != tc.want {
				t.Errorf("message: got %d bytes %q…, want %d bytes", len(got), got[:min(len(got), 16)], len(tc.want))
			}
			if len(got) > limits.MaxMessageBytes || !utf8.ValidString(got) {
				t.Errorf("message: %d bytes (bound %d), valid UTF-8 %v", len(got), limits.MaxMessageBytes, utf8.ValidString(got))
			}
		})
	}
}

// TestMessagesAreBoundedInStatus: a run's long message is cut in status, attempt record, log lines
// and Event alike, never in the middle of a rune.
func TestMessagesAreBoundedInStatus(t *testing.T) {
	long := strings.Repeat("é", 600) // 1200 bytes
	cut := func(prefix string, n int) string { return prefix + strings.Repeat("é", n) + "…" }
	reported := cut("attempt 1 reported Die: ", 498) // 24 + 996 + 3 = 1023 bytes
	want := Result{
		Status: runningStatus(1, t0).Ended(1, at(60), kickqv1alpha1.OutcomeDie, kickqv1alpha1.AttemptReasonReported, reported).
			Log(at(60), cut("attempt 1 died: attempt 1 reported Die: ", 490)).
			Phase(kickqv1alpha1.PhaseFailed).Reason(kickqv1alpha1.ReasonDied).Message(reported).Finish(at(60)).
			Cond(kickqv1alpha1.JobFailed, metav1.ConditionTrue, kickqv1alpha1.ReasonDied, reported).
			Log(at(60), cut("job failed: Died: attempt 1 reported Die: ", 489)).Obj(),
		Target: inlinePod(),
		Events: []Event{warning(kickqv1alpha1.ReasonDied, reported)},
	}
	runDecide(t, []decideCase{{
		name: "reported Die with a 1200-byte message",
		job:  makeJob().Status(runningStatus(1, t0)).Obj(), now: at(60),
		obs:    attempt.Observation{Phase: attempt.Missing, Name: "j-1"},
		report: &attempt.Pending{Attempt: 1, Outcome: kickqv1alpha1.OutcomeDie, Message: long},
		want:   want,
	}})
}

// TestSetBlocked sets the Blocked condition True with a reason, or turns a True one False; the
// transition time changes only when the status does.
func TestSetBlocked(t *testing.T) {
	blocked := func(reason, msg string, at time.Time) metav1.Condition {
		return metav1.Condition{Type: kickqv1alpha1.JobBlocked, Status: metav1.ConditionTrue, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(at)}
	}
	unblocked := func(at time.Time) metav1.Condition {
		return metav1.Condition{Type: kickqv1alpha1.JobBlocked, Status: metav1.ConditionFalse, Reason: kickqv1alpha1.ReasonUnblocked,
			Message: "nothing holds the job", LastTransitionTime: metav1.NewTime(at)}
	}
	suspended := metav1.Condition{Type: kickqv1alpha1.JobSuspended, Status: metav1.ConditionTrue, Reason: kickqv1alpha1.ReasonSuspended,
		Message: "s", LastTransitionTime: metav1.NewTime(t0)}
	for _, tc := range []struct {
		name        string
		conditions  []metav1.Condition
		block       bool
		reason, msg string
		want        []metav1.Condition
	}{
		{name: "block a job without conditions: True with the reason, now",
			block: true, reason: kickqv1alpha1.ReasonPaused, msg: "paused",
			want: []metav1.Condition{blocked(kickqv1alpha1.ReasonPaused, "paused", at(60))}},
		{name: "unblock a blocked job: False Unblocked, now",
			conditions: []metav1.Condition{suspended, blocked(kickqv1alpha1.ReasonRateLimited, "rate", t0)},
			want:       []metav1.Condition{suspended, unblocked(at(60))}},
		{name: "unblock a job never blocked: no condition added"},
		{name: "unblock a job no longer blocked: untouched, its transition time kept",
			conditions: []metav1.Condition{unblocked(t0)}, want: []metav1.Condition{unblocked(t0)}},
		{name: "another reason while blocked: reason and message change, the transition time is kept",
			conditions: []metav1.Condition{blocked(kickqv1alpha1.ReasonRateLimited, "rate", t0)},
			block:      true, reason: kickqv1alpha1.ReasonPaused, msg: "paused",
			want: []metav1.Condition{blocked(kickqv1alpha1.ReasonPaused, "paused", t0)}},
		{name: "long message: cut to limits.MaxMessageBytes",
			block: true, reason: kickqv1alpha1.ReasonDependenciesPending, msg: strings.Repeat("m", 2000),
			want: []metav1.Condition{blocked(kickqv1alpha1.ReasonDependenciesPending, strings.Repeat("m", limits.MaxMessageBytes-3)+"…", at(60))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := kickqv1alpha1.QueueJobStatus{Conditions: tc.conditions}
			setBlocked(&st, at(60), tc.block, tc.reason, tc.msg)
			if diff := cmp.Diff(tc.want, st.Conditions); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestApplyReport copies what an attempt reported into status.
func TestApplyReport(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status *statusWrapper
		report attempt.Pending
		want   *statusWrapper
	}{
		{name: "empty report: nothing changes",
			status: runningStatus(1, t0).Progress(10, "a").Heartbeat(at(5)).Result(`1`),
			want:   runningStatus(1, t0).Progress(10, "a").Heartbeat(at(5)).Result(`1`)},
		{name: "progress, result, heartbeat replaced; log lines appended; dropped lines added up",
			status: runningStatus(1, t0).Progress(10, "a").Heartbeat(at(5)).Result(`1`).Log(at(1), "started").Dropped(3),
			report: attempt.Pending{Attempt: 1, Progress: &kickqv1alpha1.Progress{Percent: 60, Message: "b"}, Heartbeat: at(9),
				Result: &apiextensionsv1.JSON{Raw: []byte(`2`)}, LogsDropped: 4,
				Logs: []kickqv1alpha1.LogEntry{{Time: metav1.NewTime(at(8)), Message: "x"}, {Time: metav1.NewTime(at(9)), Message: "y"}}},
			want: runningStatus(1, t0).Progress(60, "b").Heartbeat(at(9)).Result(`2`).Log(at(1), "started").Dropped(7).
				Log(at(8), "x").Log(at(9), "y")},
		{name: "reported log line over limits.MaxMessageBytes: cut",
			status: runningStatus(1, t0),
			report: attempt.Pending{Attempt: 1, Logs: []kickqv1alpha1.LogEntry{{Time: metav1.NewTime(at(8)), Message: strings.Repeat("z", 1500)}}},
			want:   runningStatus(1, t0).Log(at(8), strings.Repeat("z", limits.MaxMessageBytes-3)+"…")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.status.Obj()
			applyReport(&st, &tc.report)
			if diff := cmp.Diff(tc.want.Obj(), st); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEndAttempt closes the running attempt's record once (cancel, job deadline).
func TestEndAttempt(t *testing.T) {
	const die = kickqv1alpha1.OutcomeDie
	for _, tc := range []struct {
		name    string
		status  *statusWrapper
		running bool
		want    *statusWrapper
	}{
		{name: "running: the open record is closed", status: runningStatus(1, t0), running: true,
			want: runningStatus(1, t0).Ended(1, at(60), die, kickqv1alpha1.ReasonCancelled, "c")},
		{name: "running, record already closed: kept as it ended",
			status:  runningStatus(1, t0).Ended(1, at(50), kickqv1alpha1.OutcomeSucceed, "Completed", "done"),
			running: true,
			want:    runningStatus(1, t0).Ended(1, at(50), kickqv1alpha1.OutcomeSucceed, "Completed", "done")},
		{name: "not running: nothing", status: runningStatus(1, t0), want: runningStatus(1, t0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Result{Status: tc.status.Obj()}
			endAttempt(&res, at(60), die, kickqv1alpha1.ReasonCancelled, "c", tc.running)
			if diff := cmp.Diff(tc.want.Obj(), res.Status); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}

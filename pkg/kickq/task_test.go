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

package kickq

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	clocktesting "k8s.io/utils/clock/testing"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
)

// TestCoalescing: a burst of progress and log reports is written at once and then at most once
// per second, the latest progress and every line (within the ring's bound) carried.
func TestCoalescing(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	var mu sync.Mutex
	var writes []report
	flushed := make(chan struct{}, 10)
	c := newCoalescer(clk, func(_ context.Context, r report) error {
		mu.Lock()
		writes = append(writes, r)
		mu.Unlock()
		flushed <- struct{}{}
		return nil
	})
	task := &Task{sink: c, now: clk.Now}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); c.run(ctx) }()

	task.Progress(10, "first")
	<-flushed // the first report is written at once
	for i := range 50 {
		task.Progress(20+i, "burst")
		task.Log("line")
	}
	waitForTimer(t, clk) // held back: the interval since the first write has not passed
	mu.Lock()
	if len(writes) != 1 {
		t.Fatalf("%d writes before the interval passed, want 1", len(writes))
	}
	mu.Unlock()
	clk.Step(reportInterval)
	<-flushed
	cancel()
	<-done

	mu.Lock()
	defer mu.Unlock()
	if len(writes) != 2 {
		t.Fatalf("%d writes, want 2", len(writes))
	}
	if got := writes[0].progress; got == nil || got.Percent != 10 {
		t.Errorf("first write's progress %v, want 10%%", got)
	}
	second := writes[1]
	if got := second.progress; got == nil || got.Percent != 69 || got.Message != "burst" {
		t.Errorf("second write's progress %v, want the latest (69%%, burst)", got)
	}
	if len(second.logs) != 50 || second.heartbeat.IsZero() {
		t.Errorf("second write: %d lines and heartbeat %v, want 50 lines and a heartbeat", len(second.logs), second.heartbeat)
	}
}

// waitForTimer waits until the coalescer waits on the fake clock.
func waitForTimer(t *testing.T, clk *clocktesting.FakeClock) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !clk.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("the coalescer never waited for its interval")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReportBounds: pending lines and the status ring stay within the bounds of status.logs.
func TestReportBounds(t *testing.T) {
	var r report
	for range limits.MaxLogEntries + 7 {
		r.addLog(kickqv1alpha1.LogEntry{Message: "x"})
	}
	if len(r.logs) != limits.MaxLogEntries || r.dropped != 7 {
		t.Errorf("pending: %d lines, %d dropped; want %d and 7", len(r.logs), r.dropped, limits.MaxLogEntries)
	}
	st := kickqv1alpha1.QueueJobStatus{}
	long := strings.Repeat("y", limits.MaxMessageBytes)
	for range 40 {
		appendStatusLog(&st, kickqv1alpha1.LogEntry{Message: long})
	}
	if size := len(st.Logs) * limits.MaxMessageBytes; size > limits.MaxLogBytes || st.LogsDropped != int64(40-len(st.Logs)) {
		t.Errorf("status ring: %d lines (%d bytes), %d dropped", len(st.Logs), size, st.LogsDropped)
	}
}

// TestCallHandlerPanic: a panicking handler fails its attempt with the panic's message; the
// worker goes on.
func TestCallHandlerPanic(t *testing.T) {
	_, err := callHandler(context.Background(), func(context.Context, *Task) (any, error) { panic("nil map") }, &Task{})
	var p *panicError
	if !errors.As(err, &p) || err.Error() != "handler panicked: nil map" {
		t.Fatalf("callHandler: %v, want the panic as an error", err)
	}
	want := attemptEnd{outcome: OutcomeFail, reason: kickqv1alpha1.AttemptReasonHandlerPanic, message: "handler panicked: nil map"}
	if diff := cmp.Diff(want, endOf(nil, err), cmp.AllowUnexported(attemptEnd{})); diff != "" {
		t.Errorf("endOf (-want +got):\n%s", diff)
	}
}

// TestEndOf maps a handler's return to what the worker writes.
func TestEndOf(t *testing.T) {
	boom := errors.New("boom")
	big := strings.Repeat("z", limits.MaxResultBytes)
	for _, tc := range []struct {
		name string
		val  any
		err  error
		want attemptEnd
	}{
		{name: "a result", val: map[string]int{"pages": 10},
			want: attemptEnd{outcome: OutcomeSucceed, reason: "Completed", result: &apiextensionsv1.JSON{Raw: []byte(`{"pages":10}`)}}},
		{name: "no result", want: attemptEnd{outcome: OutcomeSucceed, reason: "Completed"}},
		{name: "a result over 4 KiB: a counted failure", val: big,
			want: attemptEnd{outcome: OutcomeFail, reason: "HandlerError", message: "the result is 4098 bytes; status.result holds at most 4096"}},
		{name: "an error", err: boom, want: attemptEnd{outcome: OutcomeFail, reason: "HandlerError", message: "boom"}},
		{name: "Die", err: Die(boom), want: attemptEnd{outcome: OutcomeDie, reason: "HandlerError", message: "boom"}},
		{name: "RetryAfter", err: RetryAfter(90*time.Second, boom),
			want: attemptEnd{outcome: OutcomeRetry, reason: "RetryAfter", message: "boom", after: 90 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, endOf(tc.val, tc.err), cmp.AllowUnexported(attemptEnd{})); diff != "" {
				t.Errorf("endOf (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAttemptEndApply: the worker's last write closes the record and carries a Retry's delay,
// rounded up to the second.
func TestAttemptEndApply(t *testing.T) {
	now := t0.Add(1500 * time.Millisecond)
	st := admittedJob("a", 1).Status
	st.AttemptHistory[0].Worker = "w-a"
	attemptEnd{outcome: OutcomeRetry, reason: "RetryAfter", message: "busy", after: time.Minute}.apply(&st, 1, now)
	rec := st.AttemptHistory[0]
	if rec.Outcome != OutcomeRetry || rec.FinishTime == nil || rec.Reason != "RetryAfter" || rec.Message != "busy" {
		t.Errorf("record %+v", rec)
	}
	if want := t0.Add(62 * time.Second); st.NextAttemptTime == nil || !st.NextAttemptTime.Time.Equal(want) {
		t.Errorf("nextAttemptTime %v, want %v (rounded up)", st.NextAttemptTime, want)
	}
}

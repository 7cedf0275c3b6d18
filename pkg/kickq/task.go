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
	"encoding/json"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
)

// HandlerFunc runs one task. Its return decides the attempt's outcome: a nil error succeeds with
// the returned value as the job's result (any value encoding/json marshals, 4 KiB at most; nil
// for none); Die(err) fails the job at once; RetryAfter(d, err) runs it again after d without
// counting; any other error is a counted failure and the job's retry policy applies. A panic is a
// counted failure with the panic's message. The context ends when the job is cancelled, its
// attempt deadline passes, or the worker loses the claim (its Lease lapsed, or it stops and its
// grace period is over): the handler should then return soon; what it returns is ignored.
type HandlerFunc func(ctx context.Context, t *Task) (any, error)

// Task is one attempt of a job, as a handler sees it.
type Task struct {
	// Namespace and Name name the QueueJob; UID is its uid.
	Namespace string
	Name      string
	UID       string
	// Queue and Type are the job's spec.queueName and spec.type.
	Queue string
	Type  string
	// Attempt is the attempt's number, from 1.
	Attempt int32

	data json.RawMessage
	sink *coalescer
	now  func() time.Time
}

// ID is the attempt's stable id, <job uid>-<attempt>: the same id a webhook attempt carries in
// webhook-id. Side effects de-duplicated on it happen once per attempt.
func (t *Task) ID() string { return fmt.Sprintf("%s-%d", t.UID, t.Attempt) }

// Data decodes the job's data (a JSON object) into v.
func (t *Task) Data(v any) error {
	if len(t.data) == 0 {
		return json.Unmarshal([]byte("{}"), v)
	}
	return json.Unmarshal(t.data, v)
}

// RawData is the job's data as JSON ("{}" when it has none).
func (t *Task) RawData() json.RawMessage {
	if len(t.data) == 0 {
		return json.RawMessage("{}")
	}
	return t.data
}

// Progress records the task's progress (percent 0 to 100, clamped; message 256 bytes at most).
// It is written to the job's status coalesced, at most about once a second, and counts as a
// heartbeat.
func (t *Task) Progress(percent int, message string) {
	p := &kickqv1alpha1.Progress{Percent: int32(min(max(percent, 0), 100)), Message: limits.Truncate(message, 256, limits.Ellipsis)}
	t.sink.add(func(r *report) { r.progress = p; r.heartbeat = t.now() })
}

// Log adds a line to the job's log (status.logs, the newest 100 lines and 16 KiB), coalesced
// like Progress; it counts as a heartbeat.
func (t *Task) Log(line string) {
	e := kickqv1alpha1.LogEntry{Time: metav1.NewTime(t.now()), Message: limits.Truncate(line, limits.MaxMessageBytes, limits.Ellipsis)}
	t.sink.add(func(r *report) { r.addLog(e); r.heartbeat = e.Time.Time })
}

// Logf is Log with a format.
func (t *Task) Logf(format string, args ...any) { t.Log(fmt.Sprintf(format, args...)) }

// Heartbeat tells kickq the task is alive; it matters only for jobs with heartbeatTimeoutSeconds
// (a task silent that long fails as HeartbeatTimeout). Progress and Log count too.
func (t *Task) Heartbeat() { t.sink.add(func(r *report) { r.heartbeat = t.now() }) }

// report is what a task reported and status does not show yet.
type report struct {
	progress  *kickqv1alpha1.Progress
	logs      []kickqv1alpha1.LogEntry
	dropped   int64
	heartbeat time.Time
}

// addLog keeps at most the ring's count of pending lines; older ones count as dropped.
func (r *report) addLog(e kickqv1alpha1.LogEntry) {
	r.logs = append(r.logs, e)
	if n := len(r.logs) - limits.MaxLogEntries; n > 0 {
		r.logs = r.logs[n:]
		r.dropped += int64(n)
	}
}

// merge puts an unwritten report back under a newer one.
func (r *report) merge(older report) {
	if r.progress == nil {
		r.progress = older.progress
	}
	if r.heartbeat.IsZero() {
		r.heartbeat = older.heartbeat
	}
	logs := r.logs
	r.logs, r.dropped = nil, r.dropped+older.dropped
	for _, e := range append(older.logs, logs...) {
		r.addLog(e)
	}
}

func (r *report) empty() bool {
	return r.progress == nil && len(r.logs) == 0 && r.dropped == 0 && r.heartbeat.IsZero()
}

// apply writes the report into a job's status.
func (r *report) apply(st *kickqv1alpha1.QueueJobStatus) {
	if r.progress != nil {
		st.Progress = r.progress.DeepCopy()
	}
	st.LogsDropped += r.dropped
	for _, e := range r.logs {
		appendStatusLog(st, e)
	}
	if !r.heartbeat.IsZero() && (st.LastHeartbeatTime == nil || r.heartbeat.After(st.LastHeartbeatTime.Time)) {
		hb := metav1.NewTime(r.heartbeat)
		st.LastHeartbeatTime = &hb
	}
}

// appendStatusLog adds a line to status.logs, dropping the oldest beyond the ring's bounds.
func appendStatusLog(st *kickqv1alpha1.QueueJobStatus, e kickqv1alpha1.LogEntry) {
	st.Logs = append(st.Logs, e)
	size := 0
	for _, l := range st.Logs {
		size += len(l.Message)
	}
	for len(st.Logs) > 0 && (len(st.Logs) > limits.MaxLogEntries || size > limits.MaxLogBytes) {
		size -= len(st.Logs[0].Message)
		st.Logs = st.Logs[1:]
		st.LogsDropped++
	}
}

// reportInterval is the least time between two writes of one task's reports: at most about one
// status write per second per job, as the report API.
const reportInterval = time.Second

// flushTimeout bounds one write of reports.
const flushTimeout = 15 * time.Second

// coalescer holds a task's reports and writes them at most once per interval.
type coalescer struct {
	clock    clock.Clock
	interval time.Duration
	flush    func(context.Context, report) error

	mu      sync.Mutex
	pending report
	kick    chan struct{}
	last    time.Time
}

func newCoalescer(clk clock.Clock, flush func(context.Context, report) error) *coalescer {
	return &coalescer{clock: clk, interval: reportInterval, flush: flush, kick: make(chan struct{}, 1)}
}

func (c *coalescer) add(f func(*report)) {
	c.mu.Lock()
	f(&c.pending)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// take hands out what is pending (for the attempt's last write, which carries it).
func (c *coalescer) take() report {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.pending
	c.pending = report{}
	return r
}

// putBack returns a report whose write failed.
func (c *coalescer) putBack(r report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending
	p.merge(r)
	c.pending = p
}

// run writes pending reports, the first at once and then at most once per interval, until ctx
// ends. A failed write keeps its report for the next one.
func (c *coalescer) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		if wait := c.interval - c.clock.Since(c.last); !c.last.IsZero() && wait > 0 {
			t := c.clock.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C():
			}
		}
		r := c.take()
		if r.empty() {
			continue
		}
		c.last = c.clock.Now()
		// A write under way finishes even when the task ends meanwhile: cut off, it might be
		// recorded and then sent again with the attempt's last write.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
		err := c.flush(fctx, r)
		cancel()
		if err != nil {
			c.putBack(r)
			c.add(func(*report) {}) // try again after the interval
		}
	}
}

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
	"errors"
	"fmt"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
)

// runningTask is one claimed attempt the worker runs.
type runningTask struct {
	key    types.NamespacedName
	task   *Task
	ctx    context.Context
	cancel context.CancelCauseFunc
	// done is closed when the handler returned and its outcome is written (or dropped).
	done chan struct{}

	mu sync.Mutex
	// last is the job as this worker last wrote it: the next write starts from it, and reads
	// the job only on a Conflict.
	last *kickqv1alpha1.QueueJob
}

// start runs a claimed attempt's handler in its own goroutine. Its context is not Run's: a
// stopping worker gives it the grace period.
func (w *Worker) start(job *kickqv1alpha1.QueueJob) {
	key := client.ObjectKeyFromObject(job)
	ctx, cancel := context.WithCancelCause(context.Background())
	t := &Task{Namespace: job.Namespace, Name: job.Name, UID: string(job.UID), Queue: job.Spec.QueueName, Type: job.Spec.Type,
		Attempt: job.Status.Attempts, now: w.opts.Clock.Now}
	if job.Spec.Data != nil {
		t.data = append(json.RawMessage(nil), job.Spec.Data.Raw...)
	}
	r := &runningTask{key: key, task: t, ctx: ctx, cancel: cancel, done: make(chan struct{}), last: job}
	t.sink = newCoalescer(w.opts.Clock, func(ctx context.Context, rep report) error {
		return w.write(ctx, r, func(st *kickqv1alpha1.QueueJobStatus) { rep.apply(st) })
	})
	w.mu.Lock()
	h := w.handlers[job.Spec.Type]
	w.tasks[key] = r
	w.mu.Unlock()
	go w.deadline(r, job)
	go w.run(r, h)
}

// deadline cancels the task when its attempt deadline passes (by the worker's clock; the manager
// fails the attempt by its own).
func (w *Worker) deadline(r *runningTask, job *kickqv1alpha1.QueueJob) {
	res, rec := job.Status.Resolved, currentRecord(&job.Status)
	if res == nil || res.AttemptDeadlineSeconds == nil || rec == nil || rec.StartTime == nil {
		return
	}
	due := rec.StartTime.Add(time.Duration(*res.AttemptDeadlineSeconds) * time.Second)
	t := w.opts.Clock.NewTimer(due.Sub(w.opts.Clock.Now()))
	defer t.Stop()
	select {
	case <-r.done:
	case <-r.ctx.Done():
	case <-t.C():
		r.cancel(errDeadline)
	}
}

// run calls the handler and writes the attempt's outcome, unless the task's context ended first
// (the attempt is no longer this worker's, or it was released).
func (w *Worker) run(r *runningTask, h HandlerFunc) {
	defer w.ended(r)
	sinkCtx, stopSink := context.WithCancel(context.Background())
	sinkDone := make(chan struct{})
	go func() { defer close(sinkDone); r.task.sink.run(sinkCtx) }()
	val, err := callHandler(r.ctx, h, r.task)
	stopSink()
	<-sinkDone
	if r.ctx.Err() != nil {
		return
	}
	pending := r.task.sink.take()
	end := endOf(val, err)
	now := w.opts.Clock.Now()
	werr := w.writeOutcome(r, func(st *kickqv1alpha1.QueueJobStatus) {
		pending.apply(st)
		end.apply(st, r.task.Attempt, now)
	})
	if werr != nil {
		w.log.Error(werr, "writing the outcome", "job", r.key, "attempt", r.task.Attempt)
	}
}

// ended forgets a finished task and frees its slot.
func (w *Worker) ended(r *runningTask) {
	close(r.done)
	r.cancel(context.Canceled)
	w.mu.Lock()
	if w.tasks[r.key] == r {
		delete(w.tasks, r.key)
	}
	w.mu.Unlock()
	w.wake()
}

// callHandler runs the handler; a panic becomes a counted failure with its message.
func callHandler(ctx context.Context, h HandlerFunc, t *Task) (val any, err error) {
	defer func() {
		if p := recover(); p != nil {
			val, err = nil, &panicError{value: p}
		}
	}()
	return h(ctx, t)
}

// attemptEnd is what a worker writes into the attempt's record when it ends.
type attemptEnd struct {
	outcome Outcome
	reason  string
	message string
	result  *apiextensionsv1.JSON
	after   time.Duration
}

// endOf turns a handler's return into the attempt's end.
func endOf(val any, err error) attemptEnd {
	o, after := OutcomeOf(err)
	var p *panicError
	switch {
	case o == OutcomeSucceed:
		return succeedWith(val)
	case errors.As(err, &p):
		return attemptEnd{outcome: OutcomeFail, reason: kickqv1alpha1.AttemptReasonHandlerPanic, message: p.Error()}
	case o == OutcomeRetry:
		return attemptEnd{outcome: o, reason: kickqv1alpha1.AttemptReasonRetryAfter, message: err.Error(), after: after}
	}
	return attemptEnd{outcome: o, reason: kickqv1alpha1.AttemptReasonHandlerError, message: err.Error()}
}

// succeedWith is a success with val as the job's result; a value that does not marshal or is over
// the result bound fails the attempt instead (status.result holds 4 KiB).
func succeedWith(val any) attemptEnd {
	end := attemptEnd{outcome: OutcomeSucceed, reason: kickqv1alpha1.AttemptReasonCompleted}
	if val == nil {
		return end
	}
	raw, err := json.Marshal(val)
	switch {
	case err != nil:
		return attemptEnd{outcome: OutcomeFail, reason: kickqv1alpha1.AttemptReasonHandlerError, message: "encoding the result: " + err.Error()}
	case len(raw) > limits.MaxResultBytes:
		return attemptEnd{outcome: OutcomeFail, reason: kickqv1alpha1.AttemptReasonHandlerError,
			message: fmt.Sprintf("the result is %d bytes; status.result holds at most %d", len(raw), limits.MaxResultBytes)}
	case string(raw) == "null":
		return end
	}
	end.result = &apiextensionsv1.JSON{Raw: raw}
	return end
}

// apply records the end in attempt n's record; a Retry's delay goes to status.nextAttemptTime,
// rounded up to the second (never early).
func (e attemptEnd) apply(st *kickqv1alpha1.QueueJobStatus, n int32, now time.Time) {
	rec := currentRecord(st)
	ft := metav1.NewTime(now)
	rec.Outcome, rec.FinishTime = e.outcome, &ft
	rec.Reason, rec.Message = e.reason, limits.Truncate(e.message, limits.MaxMessageBytes, limits.Ellipsis)
	if e.result != nil {
		st.Result = e.result
	}
	if e.outcome == OutcomeRetry && e.after > 0 {
		next := metav1.NewTime(roundUpSecond(now.Add(e.after)))
		st.NextAttemptTime = &next
	}
	st.Message = fmt.Sprintf("attempt %d: the worker reported %s", n, e.outcome)
}

func roundUpSecond(t time.Time) time.Time {
	c := t.Truncate(time.Second)
	if c.Before(t) {
		c = c.Add(time.Second)
	}
	return c
}

// write changes the job's status while the task's attempt is still this worker's: it applies f to
// the copy this worker wrote last and updates it (conditional on its resourceVersion); on a
// Conflict it reads the job, checks the claim and tries again. It gives up silently when the
// attempt is no longer this worker's.
func (w *Worker) write(ctx context.Context, r *runningTask, f func(*kickqv1alpha1.QueueJobStatus)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.task.Attempt
	first := true
	err := retry.OnError(retry.DefaultBackoff, retriable, func() error {
		job := r.last.DeepCopy()
		if !first {
			if err := w.c.Get(ctx, r.key, job); err != nil {
				return err
			}
		}
		first = false
		if !w.mine(job, n) {
			return errNotOurs
		}
		f(&job.Status)
		if err := w.c.Status().Update(ctx, job); err != nil {
			return err
		}
		r.last = job
		return nil
	})
	if errors.Is(err, errNotOurs) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Pauses between tries of an outcome write that failed for a reason that passes.
const (
	claimOutcomeRetryMin = 200 * time.Millisecond
	claimOutcomeRetryMax = 5 * time.Second
)

// writeOutcome writes the attempt's outcome, trying again while the API server cannot take it (a
// restart, an etcd outage: connection errors, timeouts, 429 and 5xx; wait.go's transient), for as long as the attempt is this
// worker's (the task's context ends when the claim is lost or the worker's Lease lapses). A
// dropped outcome would leave the job Running under a Lease that is still renewed, which nothing
// else ends (found by the reliability suite, scenario 4). Conflicts are tried again too: users
// editing the job's labels or annotations change its resourceVersion as often as they like, and
// each write checks again that the attempt is still this worker's (scenario 6).
func (w *Worker) writeOutcome(r *runningTask, f func(*kickqv1alpha1.QueueJobStatus)) error {
	wait := claimOutcomeRetryMin
	for {
		err := w.write(context.Background(), r, f)
		if err == nil || !outcomeRetriable(err) || r.ctx.Err() != nil {
			return err
		}
		w.log.Error(err, "writing the outcome; trying again", "job", r.key, "attempt", r.task.Attempt, "after", wait)
		select {
		case <-r.ctx.Done():
			return err
		case <-w.opts.Clock.After(wait):
		}
		wait = min(2*wait, claimOutcomeRetryMax)
	}
}

// outcomeRetriable: the API server could not take the write (wait.go's transient), or another
// write (a user's edit of the job's metadata) changed the job's resourceVersion first.
func outcomeRetriable(err error) bool { return transient(err) || apierrors.IsConflict(err) }

// mine reports whether the job shows attempt n running, claimed by this worker and not ended.
func (w *Worker) mine(job *kickqv1alpha1.QueueJob, n int32) bool {
	rec := currentRecord(&job.Status)
	return job.Status.Attempts == n && job.Status.Phase == kickqv1alpha1.PhaseRunning && rec != nil && rec.Worker == w.name && rec.FinishTime == nil
}

var errNotOurs = errors.New("the attempt is no longer this worker's")

// retriable: conflicts, throttling, timeouts and unavailable servers are tried again.
func retriable(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) ||
		apierrors.IsTimeout(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err)
}

// drain waits, once Run's context ended, for the running tasks for the grace period, then
// releases the ones still running: their contexts end and their attempts are given back
// (WorkerReleased, retried without counting).
func (w *Worker) drain(ctx context.Context) {
	t := w.opts.Clock.NewTimer(w.opts.GracePeriod)
	defer t.Stop()
	for {
		w.mu.Lock()
		var r *runningTask
		for _, x := range w.tasks {
			r = x
			break
		}
		w.mu.Unlock()
		if r == nil {
			return
		}
		select {
		case <-r.done:
			continue
		case <-t.C():
		}
		w.releaseAll(ctx)
		return
	}
}

// releaseAll gives back every task still running.
func (w *Worker) releaseAll(ctx context.Context) {
	w.mu.Lock()
	tasks := make([]*runningTask, 0, len(w.tasks))
	for _, r := range w.tasks {
		tasks = append(tasks, r)
	}
	w.mu.Unlock()
	now := w.opts.Clock.Now()
	msg := fmt.Sprintf("released by worker %s: it stopped and its grace period (%s) ended", w.name, w.opts.GracePeriod)
	for _, r := range tasks {
		r.cancel(errReleased)
		pending := r.task.sink.take()
		end := attemptEnd{outcome: OutcomeRetry, reason: kickqv1alpha1.AttemptReasonWorkerReleased, message: msg}
		if err := w.write(ctx, r, func(st *kickqv1alpha1.QueueJobStatus) {
			pending.apply(st)
			end.apply(st, r.task.Attempt, now)
		}); err != nil {
			w.log.Error(err, "releasing", "job", r.key, "attempt", r.task.Attempt)
		}
	}
}

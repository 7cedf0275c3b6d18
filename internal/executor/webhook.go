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

package executor

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/limits"
	"kickq.dev/kickq/internal/metrics"
	"kickq.dev/kickq/internal/netguard"
	"kickq.dev/kickq/internal/outcome"
	"kickq.dev/kickq/internal/report"
)

// Webhook call settings.
const (
	// DefaultWebhookTimeout bounds a call whose target sets no timeoutSeconds.
	DefaultWebhookTimeout = 30 * time.Second
	// DefaultRetryAfterMax caps a Retry-After whose target sets no retryAfterMaxSeconds.
	DefaultRetryAfterMax = 10 * time.Minute
	// DefaultWebhookTimeoutMax caps every target's timeoutSeconds (the manager's
	// --webhook-timeout-max).
	DefaultWebhookTimeoutMax = 5 * time.Minute
	// UserAgent identifies kickq's calls.
	UserAgent = "kickq-webhook/v1alpha1"
	// DefaultNamespaceBacklog is how many calls of one namespace may wait for a worker; beyond it
	// Start and Notify answer ErrBusy.
	DefaultNamespaceBacklog = 256
	// drainBytes is how much of an answer beyond limits.MaxResponseBytes is read and dropped, so
	// the connection can be reused.
	drainBytes = 4096
)

// ErrBusy is what Start and Notify answer, at once, when the job's namespace already has as many
// calls waiting as it may: nothing is recorded, the reconciler tries again (with its backoff), and
// the executor wakes the job when its namespace has room again. Other namespaces are not affected.
var ErrBusy = errors.New("too many webhook calls waiting in the namespace")

// Payload is the JSON body of a webhook call.
type Payload struct {
	// ID is the attempt's stable id, also sent as webhook-id: receivers de-duplicate on it.
	ID        string                `json:"id"`
	Namespace string                `json:"namespace"`
	Name      string                `json:"name"`
	Queue     string                `json:"queue"`
	Type      string                `json:"type,omitempty"`
	Data      *apiextensionsv1.JSON `json:"data,omitempty"`
	// Attempt is the attempt's number, as DESIGN.md names it; N repeats it under the key the
	// body used before (receivers written against it keep working).
	Attempt   int32  `json:"attempt"`
	N         int32  `json:"n"`
	ReportURL string `json:"reportURL,omitempty"`
	Token     string `json:"token,omitempty"`
}

// WebhookOptions configure the webhook executor.
type WebhookOptions struct {
	// Workers is the number of calls in flight at once (the pool's size).
	Workers int
	// NamespaceInFlight caps one namespace's calls in flight, so that a namespace whose receivers
	// hang holds at most this many workers; 0 means half the workers (at least 1).
	NamespaceInFlight int
	// NamespaceBacklog caps one namespace's calls waiting for a worker; 0 means
	// DefaultNamespaceBacklog.
	NamespaceBacklog int
	// TimeoutMax caps every target's timeoutSeconds (and the default timeout); 0 means
	// DefaultWebhookTimeoutMax.
	TimeoutMax time.Duration
	// Guard refuses addresses at dial time; nil refuses the default classes.
	Guard *netguard.Guard
	// Clock stamps webhook-timestamp and times calls out.
	Clock clock.WithDelayedExecution
	// Secrets reads signing secrets (a direct API reader: the manager caches no Secrets).
	Secrets client.Reader
	// Report, when set, tells receivers where to report and their token.
	Report *report.Endpoint
	// Notify wakes a job's reconciler when its call ended, or when its namespace has room again
	// for a call that was refused with ErrBusy.
	Notify func(types.NamespacedName)
	// Transport overrides the HTTP transport (tests); nil builds a guarded one.
	Transport http.RoundTripper
	// Limiter charges each attempt call to its queue's rate limits right before it is sent; a
	// call whose slot is not free is held back, off the workers, until it is. Nil: no limits.
	Limiter Limiter
}

// Webhooks runs attempts as HTTP calls, in a bounded pool of workers off the reconcilers, and sends
// completion callbacks (Callbacks, callbacks.go) on the same pool. Waiting calls are taken fairly
// across namespaces and their queues (fairQueue, fairqueue.go); Start and Notify never wait for a
// worker. What it knows of calls lives in memory: after a restart, an attempt recorded as started
// whose answer was not recorded is called again, with the same webhook-id (at-least-once delivery).
type Webhooks struct {
	opts   WebhookOptions
	client *http.Client

	mu sync.Mutex
	// fair holds the calls waiting for a worker; idle workers wait on ready (with mu).
	fair    *fairQueue
	ready   *sync.Cond
	calls   map[attemptKey]*call
	notes   map[types.UID]*call
	secrets map[types.NamespacedName]cachedSecret
}

type callState int

const (
	queued callState = iota
	inFlight
	// held: taken by a worker, but its rate window had no free slot; it waits for hold to fire,
	// then queues again, first in its queue.
	held
	done
)

type call struct {
	key attemptKey
	job types.NamespacedName
	// queue is the job's queue: calls wait in one FIFO per namespace and queue.
	queue   string
	payload Payload
	target  kickqv1alpha1.WebhookTarget

	// body, when set, is sent instead of the attempt payload (completion callbacks).
	body []byte
	// authorURL: the job's author chose the URL (inline target, callback), not the queue's owner.
	authorURL bool
	// queued is when Start queued the call: the attempt's start, as Observe reports it.
	queued time.Time

	state  callState
	result outcome.Result
	// accepted: the receiver answered 202 and reports the outcome later.
	accepted bool
	cancel   context.CancelFunc

	// slot and sub place a waiting call in the fair queue (nil once taken or removed).
	slot *list.Element
	sub  *subQueue
	// hold queues a held call again when its slot opens.
	hold clock.Timer
}

var _ Executor = &Webhooks{}

// NewWebhooks returns a webhook executor; Run starts its workers.
func NewWebhooks(opts WebhookOptions) *Webhooks {
	if opts.Workers < 1 {
		opts.Workers = 1
	}
	if opts.NamespaceInFlight < 1 {
		opts.NamespaceInFlight = max(opts.Workers/2, 1)
	}
	if opts.NamespaceBacklog < 1 {
		opts.NamespaceBacklog = DefaultNamespaceBacklog
	}
	if opts.TimeoutMax <= 0 {
		opts.TimeoutMax = DefaultWebhookTimeoutMax
	}
	if opts.Guard == nil {
		opts.Guard = netguard.New(nil, nil)
	}
	rt := opts.Transport
	if rt == nil {
		rt = GuardedTransport(opts.Guard, opts.Workers)
	}
	w := &Webhooks{
		opts: opts,
		client: &http.Client{
			Transport: rt,
			// Redirects are not followed: a redirect could lead anywhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		fair:    newFairQueue(opts.NamespaceInFlight, opts.NamespaceBacklog),
		calls:   map[attemptKey]*call{},
		notes:   map[types.UID]*call{},
		secrets: map[types.NamespacedName]cachedSecret{},
	}
	w.ready = sync.NewCond(&w.mu)
	return w
}

// Run runs the pool of workers until ctx ends (register it with the manager as a RunnableFunc).
func (w *Webhooks) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.ready.Broadcast()
		w.mu.Unlock()
	})
	defer stop()
	var wg sync.WaitGroup
	for range w.opts.Workers {
		wg.Go(func() {
			for {
				c := w.take(ctx)
				if c == nil {
					return
				}
				w.run(ctx, c)
				w.mu.Lock()
				w.fair.done(c)
				w.mu.Unlock()
			}
		})
	}
	wg.Wait()
	return nil
}

// Start queues attempt `attempt`'s call; it never waits for a worker. A repeated start of a known
// attempt does nothing. When the job's namespace has a full backlog it records nothing and
// answers ErrBusy.
func (w *Webhooks) Start(_ context.Context, job *kickqv1alpha1.QueueJob, target attempt.Target, n int32) error {
	if target.Webhook == nil {
		return fmt.Errorf("job %s has no webhook target", job.Name)
	}
	key := attemptKey{job: job.UID, attempt: n}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.calls[key]; ok {
		return nil
	}
	c := &call{key: key, job: types.NamespacedName{Namespace: job.Namespace, Name: job.Name}, queue: job.Spec.QueueName,
		target: *target.Webhook.DeepCopy(), authorURL: authorChosen(job), queued: w.opts.Clock.Now()}
	c.payload = Payload{ID: attempt.WebhookID(job.UID, n), Namespace: job.Namespace, Name: job.Name,
		Queue: job.Spec.QueueName, Type: job.Spec.Type, Data: job.Spec.Data, Attempt: n, N: n}
	if c.payload.Data == nil {
		c.payload.Data = &apiextensionsv1.JSON{Raw: []byte("{}")}
	}
	if r := w.opts.Report; r != nil {
		c.payload.ReportURL = r.URL(job.Namespace, job.Name)
		c.payload.Token = r.Signer.Token(job.UID, n)
	}
	if err := w.enqueue(c); err != nil {
		return err
	}
	w.calls[key] = c
	return nil
}

// Stop cancels the attempt's call if it is in flight, or takes it out of the queue if it waits.
func (w *Webhooks) Stop(_ context.Context, job *kickqv1alpha1.QueueJob, n int32) error {
	w.mu.Lock()
	key := attemptKey{job: job.UID, attempt: n}
	var wake *types.NamespacedName
	if c := w.calls[key]; c != nil {
		if c.cancel != nil {
			c.cancel()
		}
		unhold(c)
		wake = w.dequeue(c)
		delete(w.calls, key)
	}
	w.mu.Unlock()
	w.wake(wake)
	return nil
}

// Observe reports the attempt: Running while its call is queued or in flight, or after the
// receiver accepted it (202, as recorded in status); Finished with the answer's outcome; Missing
// when this manager has no call for it (it restarted): Decide then starts the call again.
func (w *Webhooks) Observe(_ context.Context, job *kickqv1alpha1.QueueJob, n int32) (attempt.Observation, error) {
	name := attempt.WebhookID(job.UID, n)
	for _, a := range job.Status.AttemptHistory {
		if a.Number == n && a.FinishTime == nil && a.HTTPStatusCode != nil && *a.HTTPStatusCode == http.StatusAccepted {
			return attempt.Observation{Phase: attempt.Running, Name: name, Accepted: true}, nil
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.calls[attemptKey{job: job.UID, attempt: n}]
	switch {
	case c == nil:
		return attempt.Observation{Phase: attempt.Missing, Name: name}, nil
	case c.state != done:
		return attempt.Observation{Phase: attempt.Running, Name: name, CreatedAt: c.queued}, nil
	case c.accepted:
		return attempt.Observation{Phase: attempt.Running, Name: name, CreatedAt: c.queued, Accepted: true, Result: c.result}, nil
	}
	return attempt.Observation{Phase: attempt.Finished, Name: name, CreatedAt: c.queued, Result: c.result}, nil
}

// Settled reports whether no call of an earlier attempt is still queued or in flight.
func (w *Webhooks) Settled(_ context.Context, job *kickqv1alpha1.QueueJob, n int32) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, c := range w.calls {
		if k.job == job.UID && k.attempt < n && c.state != done {
			return false, nil
		}
	}
	return true, nil
}

// Forget drops the job's calls: waiting ones leave the queue and are never made, running ones are
// cancelled.
func (w *Webhooks) Forget(uid types.UID) {
	w.forget(func(k attemptKey, _ *call) bool { return k.job == uid })
}

// JobForgetter is an executor that drops the runs of a deleted job knowing only its name: the
// reconciler of a job that is gone has no UID.
type JobForgetter interface {
	ForgetJob(job types.NamespacedName)
}

var _ JobForgetter = &Webhooks{}

// ForgetJob drops the attempt calls of the job of that name, as Forget does; its completion
// callback, if any, is still sent (the job did finish).
func (w *Webhooks) ForgetJob(job types.NamespacedName) {
	w.forget(func(_ attemptKey, c *call) bool { return c.job == job })
}

// forget drops the attempt calls that match.
func (w *Webhooks) forget(match func(attemptKey, *call) bool) {
	w.mu.Lock()
	var wakes []*types.NamespacedName
	for k, c := range w.calls {
		if match(k, c) {
			if c.cancel != nil && c.state != done {
				c.cancel()
			}
			unhold(c)
			if wake := w.dequeue(c); wake != nil {
				wakes = append(wakes, wake)
			}
			delete(w.calls, k)
		}
	}
	w.mu.Unlock()
	for _, job := range wakes {
		w.wake(job)
	}
}

// timeout is how long the call may take: the target's timeoutSeconds or DefaultWebhookTimeout,
// capped by TimeoutMax; capped says whether the cap cut it.
func (w *Webhooks) timeout(t *kickqv1alpha1.WebhookTarget) (d time.Duration, capped bool) {
	d = DefaultWebhookTimeout
	if t.TimeoutSeconds != nil {
		d = time.Duration(*t.TimeoutSeconds) * time.Second
	}
	if d > w.opts.TimeoutMax {
		return w.opts.TimeoutMax, true
	}
	return d, false
}

// run makes one call and records its result.
func (w *Webhooks) run(pool context.Context, c *call) {
	timeout, capped := w.timeout(&c.target)
	ctx, cancel := context.WithCancel(pool)
	defer cancel()
	w.mu.Lock()
	if !w.current(c) {
		w.mu.Unlock() // stopped while queued
		return
	}
	c.state, c.cancel = inFlight, cancel
	w.mu.Unlock()

	// The timeout runs on the injected clock, so tests drive it with a fake clock.
	var expired atomic.Bool
	t := w.opts.Clock.AfterFunc(timeout, func() { expired.Store(true); cancel() })
	res, retryAt := w.do(ctx, c)
	t.Stop()
	if !retryAt.IsZero() {
		w.holdUntil(c, retryAt)
		return
	}
	if expired.Load() && res.HTTPStatusCode == nil {
		within := "timeoutSeconds"
		if capped {
			within = "the manager's --webhook-timeout-max"
		}
		res = outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: kickqv1alpha1.AttemptReasonTimeout,
			Message: limits.Truncate(fmt.Sprintf("POST %s got no answer within %s (%s)", outcome.RedactURL(c.target.URL), within, timeout),
				limits.MaxMessageBytes, limits.Ellipsis)}
	}

	if pool.Err() != nil {
		// The manager is stopping: the answer is not recorded, and the next manager calls again
		// with the same webhook-id.
		return
	}
	w.mu.Lock()
	if !w.current(c) {
		w.mu.Unlock() // stopped while in flight
		return
	}
	c.state, c.result, c.cancel = done, res, nil
	c.accepted = res.HTTPStatusCode != nil && *res.HTTPStatusCode == http.StatusAccepted && res.Outcome == ""
	w.mu.Unlock()
	logf.FromContext(ctx).V(4).Info("webhook call ended", "queuejob", c.job, "attempt", c.key.attempt, "outcome", res.Outcome, "reason", res.Reason)
	if w.opts.Notify != nil {
		w.opts.Notify(c.job)
	}
}

// do sends the call and classifies its answer. A call its rate window has no slot for is not
// sent: do answers the instant the slot opens instead.
func (w *Webhooks) do(ctx context.Context, c *call) (outcome.Result, time.Time) {
	body, err := c.body, error(nil)
	if body == nil {
		body, err = json.Marshal(c.payload)
	}
	if err != nil {
		return outcome.Result{Outcome: kickqv1alpha1.OutcomeDie, Reason: kickqv1alpha1.AttemptReasonInvalidPayload,
			Message: "encoding the call: " + err.Error()}, time.Time{}
	}
	req, failed := w.request(ctx, c, body)
	if failed != nil {
		return *failed, time.Time{}
	}
	send, retryAt := w.charge(c)
	if !send {
		return outcome.Result{}, retryAt // held back, or stopped meanwhile (run drops it)
	}
	if w.chargesLimits(c) {
		// The call counts from when its request was written, which is after the charge.
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { w.opts.Limiter.Sent(c.job, c.key.attempt) },
		}))
	}
	return w.send(req, c), time.Time{}
}

// send makes the call and classifies its answer.
func (w *Webhooks) send(req *http.Request, c *call) outcome.Result {
	sent := w.opts.Clock.Now()
	resp, err := w.client.Do(req)
	if err != nil {
		metrics.WebhookCalled(0, w.opts.Clock.Since(sent))
		return callError(c.target.URL, err)
	}
	metrics.WebhookCalled(resp.StatusCode, w.opts.Clock.Since(sent))
	defer func() { _ = resp.Body.Close() }()
	answer, readErr := io.ReadAll(io.LimitReader(resp.Body, limits.MaxResponseBytes))
	// Drain a little more so the connection can be reused.
	_, _ = io.CopyN(io.Discard, resp.Body, drainBytes)
	capRetry := DefaultRetryAfterMax
	if c.target.RetryAfterMaxSeconds != nil {
		capRetry = time.Duration(*c.target.RetryAfterMaxSeconds) * time.Second
	}
	if readErr != nil && len(answer) == 0 {
		r := callError(c.target.URL, readErr)
		r.HTTPStatusCode = ptr.To(int32(resp.StatusCode))
		return r
	}
	return w.classify(c, resp.StatusCode, resp.Header, answer, capRetry)
}

// current reports whether c is still the call its key names (not stopped or forgotten). Called
// with w.mu held.
func (w *Webhooks) current(c *call) bool {
	if c.key.attempt == notifyAttempt {
		return w.notes[c.key.job] == c
	}
	return w.calls[c.key] == c
}

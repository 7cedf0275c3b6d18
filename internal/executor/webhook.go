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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/netguard"
	"kickq.dev/kickq/internal/outcome"
	"kickq.dev/kickq/internal/report"
	"kickq.dev/kickq/internal/signing"
)

// Webhook call settings.
const (
	// DefaultWebhookTimeout bounds a call whose target sets no timeoutSeconds.
	DefaultWebhookTimeout = 30 * time.Second
	// DefaultRetryAfterMax caps a Retry-After whose target sets no retryAfterMaxSeconds.
	DefaultRetryAfterMax = 10 * time.Minute
	// MaxResponseBytes is how much of an answer's body is read.
	MaxResponseBytes = 64 * 1024
	// excerptBytes is how much of a failed answer's body the attempt record quotes.
	excerptBytes = 256
	// secretTTL is how long a signing secret read from the API server is reused.
	secretTTL = 10 * time.Second
	// UserAgent identifies kickq's calls.
	UserAgent = "kickq-webhook/v1alpha1"
)

// Payload is the JSON body of a webhook call.
type Payload struct {
	// ID is the attempt's stable id, also sent as webhook-id: receivers de-duplicate on it.
	ID        string                `json:"id"`
	Namespace string                `json:"namespace"`
	Name      string                `json:"name"`
	Queue     string                `json:"queue"`
	Type      string                `json:"type,omitempty"`
	Data      *apiextensionsv1.JSON `json:"data,omitempty"`
	Attempt   int32                 `json:"n"`
	ReportURL string                `json:"reportURL,omitempty"`
	Token     string                `json:"token,omitempty"`
}

// WebhookOptions configure the webhook executor.
type WebhookOptions struct {
	// Workers is the number of calls in flight at once (the pool's size).
	Workers int
	// Guard refuses addresses at dial time; nil refuses the default classes.
	Guard *netguard.Guard
	// Clock stamps webhook-timestamp and times calls out.
	Clock clock.WithDelayedExecution
	// Secrets reads signing secrets (a direct API reader: the manager caches no Secrets).
	Secrets client.Reader
	// Report, when set, tells receivers where to report and their token.
	Report *report.Endpoint
	// Notify wakes a job's reconciler when its call ended.
	Notify func(types.NamespacedName)
	// Transport overrides the HTTP transport (tests); nil builds a guarded one.
	Transport http.RoundTripper
}

// Webhooks runs attempts as HTTP calls, in a bounded pool of workers off the reconcilers. What it
// knows of calls lives in memory: after a restart, an attempt recorded as started whose answer was
// not recorded is called again, with the same webhook-id (at-least-once delivery).
type Webhooks struct {
	opts   WebhookOptions
	client *http.Client
	queue  chan *call

	mu      sync.Mutex
	calls   map[attemptKey]*call
	notes   map[types.UID]*call
	secrets map[types.NamespacedName]cachedSecret
}

type cachedSecret struct {
	data map[string][]byte
	at   time.Time
}

type callState int

const (
	queued callState = iota
	inFlight
	done
)

type call struct {
	key     attemptKey
	job     types.NamespacedName
	payload Payload
	target  kickqv1alpha1.WebhookTarget

	// body, when set, is sent instead of the attempt payload (completion callbacks).
	body []byte

	state  callState
	result outcome.Result
	// accepted: the receiver answered 202 and reports the outcome later.
	accepted bool
	cancel   context.CancelFunc
}

var _ Executor = &Webhooks{}

// NewWebhooks returns a webhook executor; Run starts its workers.
func NewWebhooks(opts WebhookOptions) *Webhooks {
	if opts.Workers < 1 {
		opts.Workers = 1
	}
	if opts.Guard == nil {
		opts.Guard = netguard.New(nil, nil)
	}
	rt := opts.Transport
	if rt == nil {
		rt = GuardedTransport(opts.Guard, opts.Workers)
	}
	return &Webhooks{
		opts: opts,
		client: &http.Client{
			Transport: rt,
			// Redirects are not followed: a redirect could lead anywhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		queue:   make(chan *call, 4096),
		calls:   map[attemptKey]*call{},
		notes:   map[types.UID]*call{},
		secrets: map[types.NamespacedName]cachedSecret{},
	}
}

// GuardedTransport is an HTTP transport that dials only addresses the guard allows, uses no
// proxy (a proxy would dial for us, past the guard) and keeps connections for reuse.
func GuardedTransport(g *netguard.Guard, conns int) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: g.Control}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// Run runs the pool of workers until ctx ends (register it with the manager as a RunnableFunc).
func (w *Webhooks) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range w.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case c := <-w.queue:
					w.run(ctx, c)
				}
			}
		}()
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// Start queues attempt `attempt`'s call. A repeated start of a known attempt does nothing.
func (w *Webhooks) Start(ctx context.Context, job *kickqv1alpha1.QueueJob, target attempt.Target, n int32) error {
	if target.Webhook == nil {
		return fmt.Errorf("job %s has no webhook target", job.Name)
	}
	key := attemptKey{job: job.UID, attempt: n}
	w.mu.Lock()
	if _, ok := w.calls[key]; ok {
		w.mu.Unlock()
		return nil
	}
	c := &call{key: key, job: types.NamespacedName{Namespace: job.Namespace, Name: job.Name}, target: *target.Webhook.DeepCopy()}
	c.payload = Payload{ID: attempt.WebhookID(job.UID, n), Namespace: job.Namespace, Name: job.Name,
		Queue: job.Spec.QueueName, Type: job.Spec.Type, Data: job.Spec.Data, Attempt: n}
	if c.payload.Data == nil {
		c.payload.Data = &apiextensionsv1.JSON{Raw: []byte("{}")}
	}
	if r := w.opts.Report; r != nil {
		c.payload.ReportURL = r.URL(job.Namespace, job.Name)
		c.payload.Token = r.Signer.Token(job.UID, n)
	}
	w.calls[key] = c
	w.mu.Unlock()
	select {
	case w.queue <- c:
		return nil
	case <-ctx.Done():
		w.mu.Lock()
		delete(w.calls, key)
		w.mu.Unlock()
		return ctx.Err()
	}
}

// Stop cancels the attempt's call if it is still queued or in flight.
func (w *Webhooks) Stop(_ context.Context, job *kickqv1alpha1.QueueJob, n int32) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := attemptKey{job: job.UID, attempt: n}
	if c := w.calls[key]; c != nil {
		if c.cancel != nil {
			c.cancel()
		}
		delete(w.calls, key)
	}
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
		return attempt.Observation{Phase: attempt.Running, Name: name}, nil
	case c.accepted:
		return attempt.Observation{Phase: attempt.Running, Name: name, Accepted: true, Result: c.result}, nil
	}
	return attempt.Observation{Phase: attempt.Finished, Name: name, Result: c.result}, nil
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

// Forget drops the job's calls, cancelling any still running.
func (w *Webhooks) Forget(uid types.UID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, c := range w.calls {
		if k.job == uid {
			if c.cancel != nil && c.state != done {
				c.cancel()
			}
			delete(w.calls, k)
		}
	}
}

// run makes one call and records its result.
func (w *Webhooks) run(pool context.Context, c *call) {
	ctx := pool
	timeout := DefaultWebhookTimeout
	if c.target.TimeoutSeconds != nil {
		timeout = time.Duration(*c.target.TimeoutSeconds) * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
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
	res := w.do(ctx, c)
	t.Stop()
	if expired.Load() && res.HTTPStatusCode == nil {
		res = outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: "Timeout",
			Message: fmt.Sprintf("POST %s got no answer within timeoutSeconds (%s)", redact(c.target.URL), timeout)}
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

// do sends the call and classifies its answer.
func (w *Webhooks) do(ctx context.Context, c *call) outcome.Result {
	body, err := c.body, error(nil)
	if body == nil {
		body, err = json.Marshal(c.payload)
	}
	if err != nil {
		return outcome.Result{Outcome: kickqv1alpha1.OutcomeDie, Reason: "InvalidPayload", Message: "encoding the call: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.target.URL, bytes.NewReader(body))
	if err != nil {
		return outcome.Result{Outcome: kickqv1alpha1.OutcomeDie, Reason: "InvalidURL", Message: "spec webhook url: " + err.Error()}
	}
	for _, h := range c.target.Headers {
		req.Header.Set(h.Name, h.Value)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	var keys [][]byte
	if ref := c.target.SecretRef; ref != nil {
		secret, err := w.secret(ctx, types.NamespacedName{Namespace: c.job.Namespace, Name: ref.Name}, ref.Key)
		if err != nil {
			return outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: "SecretUnavailable", Message: err.Error()}
		}
		if keys, err = signing.Keys(secret); err != nil {
			return outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: "SecretInvalid",
				Message: fmt.Sprintf("secret %s key %s: %v", ref.Name, ref.Key, err)}
		}
	}
	if err := signing.SetHeaders(req.Header, keys, c.payload.ID, w.opts.Clock.Now(), body); err != nil {
		return outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: "SigningFailed", Message: err.Error()}
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return callError(c.target.URL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	answer, readErr := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	// Drain a little more so the connection can be reused.
	_, _ = io.CopyN(io.Discard, resp.Body, 4096)
	capRetry := DefaultRetryAfterMax
	if c.target.RetryAfterMaxSeconds != nil {
		capRetry = time.Duration(*c.target.RetryAfterMaxSeconds) * time.Second
	}
	if readErr != nil && len(answer) == 0 {
		r := callError(c.target.URL, readErr)
		r.HTTPStatusCode = ptr32(int32(resp.StatusCode))
		return r
	}
	return ClassifyResponse(c.target.URL, resp.StatusCode, resp.Header, answer, w.opts.Clock.Now(), capRetry)
}

// callError classifies a call that got no answer.
func callError(url string, err error) outcome.Result {
	if r, ok := netguard.IsRefused(err); ok {
		return outcome.Result{Outcome: kickqv1alpha1.OutcomeDie, Reason: "AddressRefused",
			Message: fmt.Sprintf("POST %s refused: %v", redact(url), r)}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: "Timeout", Message: fmt.Sprintf("POST %s: %v", redact(url), err)}
	}
	return outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: "ConnectionError", Message: fmt.Sprintf("POST %s: %v", redact(url), err)}
}

// answerBody is the part of an answer's JSON body kickq reads.
type answerBody struct {
	Outcome           kickqv1alpha1.Outcome `json:"outcome"`
	Message           string                `json:"message"`
	Result            json.RawMessage       `json:"result"`
	RetryAfterSeconds *int32                `json:"retryAfterSeconds"`
}

// ClassifyResponse turns a webhook answer into an attempt result: 2xx succeeds (keeping the JSON
// body's result), 202 is accepted (outcome empty: the receiver reports later), 429 and 503 with
// Retry-After retry uncounted after that time (capped by retryAfterMax), 410 dies, anything else
// fails. A JSON body's outcome (Succeed, Fail, Die, Retry) overrides, with its message.
func ClassifyResponse(url string, code int, h http.Header, body []byte, now time.Time, retryAfterMax time.Duration) outcome.Result {
	r := outcome.Result{HTTPStatusCode: ptr32(int32(code))}
	var ab answerBody
	isJSON := json.Unmarshal(body, &ab) == nil
	switch {
	case code == http.StatusAccepted:
		r.Reason, r.Message = "Accepted", fmt.Sprintf("POST %s answered 202: accepted; waiting for the receiver's report", redact(url))
	case code >= 200 && code < 300:
		r.Outcome, r.Reason, r.Message = kickqv1alpha1.OutcomeSucceed, "Completed", fmt.Sprintf("POST %s answered %d", redact(url), code)
	case code == http.StatusGone:
		r.Outcome, r.Reason, r.Message = kickqv1alpha1.OutcomeDie, "Gone", fmt.Sprintf("POST %s answered 410 Gone: no retries", redact(url))
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if d, ok := retryAfter(h.Get("Retry-After"), now); ok {
			capped := ""
			if d > retryAfterMax {
				d, capped = retryAfterMax, " (capped by retryAfterMaxSeconds)"
			}
			r.Outcome, r.Reason, r.RetryAfter = kickqv1alpha1.OutcomeRetry, "RetryAfter", d
			r.Message = fmt.Sprintf("POST %s answered %d with Retry-After: retrying in %s%s, not counted", redact(url), code, d, capped)
			break
		}
		fallthrough
	default:
		r.Outcome, r.Reason = kickqv1alpha1.OutcomeFail, "HTTPError"
		r.Message = fmt.Sprintf("POST %s answered %d", redact(url), code)
		if ex := excerpt(body); ex != "" {
			r.Message += ": " + ex
		}
	}
	if !isJSON {
		return r
	}
	switch ab.Outcome {
	case kickqv1alpha1.OutcomeSucceed, kickqv1alpha1.OutcomeFail, kickqv1alpha1.OutcomeDie, kickqv1alpha1.OutcomeRetry:
		r.Outcome, r.Reason = ab.Outcome, "ReceiverOutcome"
		r.Message = fmt.Sprintf("POST %s answered %d with outcome %s", redact(url), code, ab.Outcome)
		if ab.Message != "" {
			r.Message += ": " + ab.Message
		}
		if ab.Outcome == kickqv1alpha1.OutcomeRetry && ab.RetryAfterSeconds != nil && *ab.RetryAfterSeconds > 0 {
			r.RetryAfter = min(time.Duration(*ab.RetryAfterSeconds)*time.Second, retryAfterMax)
		}
	}
	if r.Outcome == kickqv1alpha1.OutcomeSucceed && len(ab.Result) > 0 && string(ab.Result) != "null" {
		var compact bytes.Buffer
		if json.Compact(&compact, ab.Result) == nil {
			r.Result = outcome.ResultOf(compact.String())
		}
	}
	return r
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 {
		return time.Duration(min(s, 365*24*3600)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// excerpt is the start of a body, for messages.
func excerpt(b []byte) string {
	s := strings.TrimSpace(string(b))
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s)
	if len(s) > excerptBytes {
		s = s[:excerptBytes] + "…"
	}
	return strings.ToValidUTF8(s, "")
}

// redact drops a URL's query and user info from messages (they may hold credentials).
func redact(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.Index(u[i+3:], "@"); j >= 0 && !strings.Contains(u[i+3:i+3+j], "/") {
			u = u[:i+3] + u[i+3+j+1:]
		}
	}
	return u
}

// secret reads a key of a Secret in the job's namespace, reusing a recent read.
func (w *Webhooks) secret(ctx context.Context, key types.NamespacedName, k string) (string, error) {
	now := w.opts.Clock.Now()
	w.mu.Lock()
	cs, ok := w.secrets[key]
	w.mu.Unlock()
	if !ok || now.Sub(cs.at) > secretTTL || now.Before(cs.at) {
		if w.opts.Secrets == nil {
			return "", fmt.Errorf("secret %s: the manager reads no secrets", key.Name)
		}
		var s corev1.Secret
		if err := w.opts.Secrets.Get(ctx, key, &s); err != nil {
			if apierrors.IsNotFound(err) {
				return "", fmt.Errorf("secret %s not found in namespace %s", key.Name, key.Namespace)
			}
			return "", fmt.Errorf("reading secret %s: %w", key.Name, err)
		}
		cs = cachedSecret{data: s.Data, at: now}
		w.mu.Lock()
		w.secrets[key] = cs
		w.mu.Unlock()
	}
	v, ok := cs.data[k]
	if !ok {
		return "", fmt.Errorf("secret %s has no key %q", key.Name, k)
	}
	return string(v), nil
}

func ptr32(v int32) *int32 { return &v }

// current reports whether c is still the call its key names (not stopped or forgotten). Called
// with w.mu held.
func (w *Webhooks) current(c *call) bool {
	if c.key.attempt == notifyAttempt {
		return w.notes[c.key.job] == c
	}
	return w.calls[c.key] == c
}

// notifyAttempt marks completion-callback calls in attemptKey.
const notifyAttempt = -1

// Notify queues one delivery of a job's completion callback: body is POSTed to target, signed,
// with webhook-id NotifyID(uid). A delivery already queued, in flight or done is not repeated.
func (w *Webhooks) Notify(ctx context.Context, job *kickqv1alpha1.QueueJob, target kickqv1alpha1.WebhookTarget, body []byte) error {
	w.mu.Lock()
	if w.notes[job.UID] != nil {
		w.mu.Unlock()
		return nil
	}
	c := &call{key: attemptKey{job: job.UID, attempt: notifyAttempt}, job: types.NamespacedName{Namespace: job.Namespace, Name: job.Name},
		target: target, body: body, payload: Payload{ID: attempt.NotifyID(job.UID)}}
	w.notes[job.UID] = c
	w.mu.Unlock()
	select {
	case w.queue <- c:
		return nil
	case <-ctx.Done():
		w.mu.Lock()
		delete(w.notes, job.UID)
		w.mu.Unlock()
		return ctx.Err()
	}
}

// NotifyStatus reports the job's callback delivery.
func (w *Webhooks) NotifyStatus(uid types.UID) attempt.NotifyState {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.notes[uid]
	switch {
	case c == nil:
		return attempt.NotifyState{}
	case c.state != done:
		return attempt.NotifyState{InFlight: true}
	}
	delivered := c.result.Outcome == kickqv1alpha1.OutcomeSucceed ||
		(c.result.HTTPStatusCode != nil && *c.result.HTTPStatusCode >= 200 && *c.result.HTTPStatusCode < 300)
	return attempt.NotifyState{Done: true, Delivered: delivered, Message: c.result.Message}
}

// ForgetNotify drops what the executor knows of a job's callback (its result is recorded).
func (w *Webhooks) ForgetNotify(uid types.UID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c := w.notes[uid]; c != nil && c.state == done {
		delete(w.notes, uid)
	}
}

// NotifyPayload is the body of a completion callback.
type NotifyPayload struct {
	ID             string                `json:"id"`
	Namespace      string                `json:"namespace"`
	Name           string                `json:"name"`
	UID            types.UID             `json:"uid"`
	Queue          string                `json:"queue"`
	Type           string                `json:"type,omitempty"`
	Batch          string                `json:"batch,omitempty"`
	Phase          string                `json:"phase"`
	Reason         string                `json:"reason,omitempty"`
	Message        string                `json:"message,omitempty"`
	Result         *apiextensionsv1.JSON `json:"result,omitempty"`
	Attempts       int32                 `json:"attempts"`
	FailedAttempts int32                 `json:"failedAttempts"`
	CreationTime   time.Time             `json:"creationTime"`
	StartTime      *time.Time            `json:"startTime,omitempty"`
	FinishTime     *time.Time            `json:"finishTime,omitempty"`
}

// NotifyBody is the completion callback's JSON body for a finished job.
func NotifyBody(job *kickqv1alpha1.QueueJob) ([]byte, error) {
	st := &job.Status
	p := NotifyPayload{ID: attempt.NotifyID(job.UID), Namespace: job.Namespace, Name: job.Name, UID: job.UID,
		Queue: job.Spec.QueueName, Type: job.Spec.Type, Batch: job.Spec.Batch, Phase: string(st.Phase),
		Reason: st.Reason, Message: st.Message, Result: st.Result, Attempts: st.Attempts,
		FailedAttempts: st.FailedAttempts, CreationTime: job.CreationTimestamp.UTC()}
	if st.StartTime != nil {
		t := st.StartTime.UTC()
		p.StartTime = &t
	}
	if st.FinishTime != nil {
		t := st.FinishTime.UTC()
		p.FinishTime = &t
	}
	return json.Marshal(p)
}

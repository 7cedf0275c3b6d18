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
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"k8s.io/utils/clock"

	"kickq.dev/kickq/internal/limits"
)

// DefaultAcceptAfter is how long WebhookHandler waits for a handler before it answers 202 and
// reports the outcome later: well within a webhook target's default timeoutSeconds (30).
const DefaultAcceptAfter = 10 * time.Second

// maxWebhookBody bounds what WebhookHandler reads of a call: the payload with the largest data
// kickq sends, and room for its other fields.
const maxWebhookBody = limits.MaxDataBytes + 16*1024

// WebhookOption configures WebhookHandler.
type WebhookOption func(*webhookConfig)

type webhookConfig struct {
	acceptAfter time.Duration
	http        *http.Client
	clock       clock.WithTicker
}

// WithAcceptAfter sets how long the handler may take before the call is answered 202 (accepted)
// and the outcome is reported later through the report API; default DefaultAcceptAfter. Keep it
// below the target's timeoutSeconds. 0 answers 202 at once.
func WithAcceptAfter(d time.Duration) WebhookOption {
	return func(c *webhookConfig) { c.acceptAfter = max(d, 0) }
}

// WithReportClient sets the HTTP client that reaches the report API (default http.DefaultClient).
func WithReportClient(c *http.Client) WebhookOption { return func(cfg *webhookConfig) { cfg.http = c } }

// payload is what kickq POSTs to a webhook receiver.
type payload struct {
	ID        string          `json:"id"`
	Namespace string          `json:"namespace"`
	Name      string          `json:"name"`
	Queue     string          `json:"queue"`
	Type      string          `json:"type"`
	Data      json.RawMessage `json:"data"`
	Attempt   int32           `json:"attempt"`
	N         int32           `json:"n"`
	ReportURL string          `json:"reportURL"`
	Token     string          `json:"token"`
}

// answer is a webhook answer's JSON body, in the outcome words.
type answer struct {
	Outcome           Outcome         `json:"outcome,omitempty"`
	Message           string          `json:"message,omitempty"`
	Result            json.RawMessage `json:"result,omitempty"`
	RetryAfterSeconds *int32          `json:"retryAfterSeconds,omitempty"`
}

// WebhookHandler serves kickq's webhook calls with h, the same handler type a pull worker runs.
// secret is the receiver's Standard Webhooks key (whsec_…; several space-separated keys during a
// rotation). A call whose signature or timestamp (5 minutes' tolerance) does not verify is
// answered 401; a body that is not kickq's payload 400. The handler's return is answered in the
// outcome words: 200 {"outcome":"Succeed","result":…}, 500 Fail, 410 Die, 503 with Retry-After
// for RetryAfter (a panic is a Fail with its message). A handler still running after the accept
// time (WithAcceptAfter) makes the answer 202: it goes on, detached from the request, and its
// outcome is POSTed to the report API with the call's reportURL and token (503s and connection
// errors are retried). Progress, Log and Heartbeat go to the report API, coalesced to about one
// report a second. A handler's context ends with the request while it is answered directly, and
// once the report API answers 409 (the attempt ended: cancelled or timed out) afterwards.
//
// Delivery is at-least-once: the same attempt can be called twice (Task.ID is its stable
// webhook-id); de-duplicate side effects on it.
func WebhookHandler(secret string, h HandlerFunc, opts ...WebhookOption) (http.Handler, error) {
	cfg := webhookConfig{acceptAfter: DefaultAcceptAfter, http: http.DefaultClient, clock: clock.RealClock{}}
	for _, o := range opts {
		o(&cfg)
	}
	var hooks []*standardwebhooks.Webhook
	for _, k := range strings.Fields(secret) {
		wh, err := standardwebhooks.NewWebhook(k)
		if err != nil {
			return nil, fmt.Errorf("kickq: webhook secret: %w", err)
		}
		hooks = append(hooks, wh)
	}
	if len(hooks) == 0 {
		return nil, errors.New("kickq: webhook secret is empty")
	}
	return &webhookHandler{cfg: cfg, hooks: hooks, h: h}, nil
}

type webhookHandler struct {
	cfg   webhookConfig
	hooks []*standardwebhooks.Webhook
	h     HandlerFunc
}

func (wh *webhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "kickq webhook calls are POSTs", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	if !wh.verified(body, r.Header) {
		http.Error(w, "the webhook signature or timestamp does not verify", http.StatusUnauthorized)
		return
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil || p.ID == "" || p.Name == "" {
		http.Error(w, "not a kickq webhook payload", http.StatusBadRequest)
		return
	}
	wh.serve(w, r, p)
}

func (wh *webhookHandler) verified(body []byte, h http.Header) bool {
	for _, k := range wh.hooks {
		if k.Verify(body, h) == nil {
			return true
		}
	}
	return false
}

// webhookDone is a handler's return.
type webhookDone struct {
	val any
	err error
}

// serve runs the handler and answers with its outcome, or 202 once the accept time passed.
func (wh *webhookHandler) serve(w http.ResponseWriter, r *http.Request, p payload) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	rep := &reporter{url: p.ReportURL, token: p.Token, http: wh.cfg.http, cancel: cancel}
	t := taskOf(p, wh.cfg.clock, rep)
	done := make(chan webhookDone, 1)
	sinkCtx, stopSink := context.WithCancel(context.Background())
	sinkDone := make(chan struct{})
	go func() { defer close(sinkDone); t.sink.run(sinkCtx) }()
	go func() {
		val, err := callHandler(ctx, wh.h, t)
		done <- webhookDone{val, err}
	}()
	timer := wh.cfg.clock.NewTimer(wh.cfg.acceptAfter)
	select {
	case d := <-done:
		timer.Stop()
		stopSink()
		<-sinkDone
		cancel()
		rep.flushPending(t)
		writeAnswer(w, d.val, d.err)
		return
	case <-r.Context().Done():
		// The caller went away (its timeout): the attempt failed there; stop the handler.
		timer.Stop()
		cancel()
		stopSink()
		return
	case <-timer.C():
	}
	if p.ReportURL == "" || p.Token == "" {
		// Nowhere to report later: wait for the handler (the call's own timeout bounds it).
		d := <-done
		stopSink()
		<-sinkDone
		cancel()
		writeAnswer(w, d.val, d.err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	go func() {
		d := <-done
		stopSink()
		<-sinkDone
		defer cancel()
		rep.flushPending(t)
		if ctx.Err() != nil {
			return // the attempt ended meanwhile (409): nothing to report
		}
		rep.outcome(context.Background(), answerOf(d.val, d.err))
	}()
}

// taskOf is the Task of a webhook call.
func taskOf(p payload, clk clock.WithTicker, rep *reporter) *Task {
	n := p.Attempt
	if n == 0 {
		n = p.N
	}
	uid := strings.TrimSuffix(p.ID, "-"+strconv.Itoa(int(n)))
	t := &Task{Namespace: p.Namespace, Name: p.Name, UID: uid, Queue: p.Queue, Type: p.Type, Attempt: n, data: p.Data, now: clk.Now}
	t.sink = newCoalescer(clk, rep.send)
	if string(p.Data) == "null" {
		t.data = nil
	}
	return t
}

// answerOf is a handler's return in the outcome words.
func answerOf(val any, err error) answer {
	end := endOf(val, err)
	a := answer{Outcome: end.outcome, Message: end.message}
	if end.result != nil {
		a.Result = end.result.Raw
	}
	if end.outcome == OutcomeRetry {
		s := int32(min(roundUpSecond(time.Unix(0, 0).Add(end.after)).Unix(), 365*24*3600))
		a.RetryAfterSeconds = &s
	}
	return a
}

// writeAnswer answers a call directly: the JSON body names the outcome, and the status code says
// the same to readers of logs.
func writeAnswer(w http.ResponseWriter, val any, err error) {
	a := answerOf(val, err)
	code := http.StatusOK
	switch a.Outcome {
	case OutcomeFail:
		code = http.StatusInternalServerError
	case OutcomeDie:
		code = http.StatusGone
	case OutcomeRetry:
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", strconv.Itoa(int(*a.RetryAfterSeconds)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(a)
}

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

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// Call is one webhook call as the receiver saw it.
type Call struct {
	Arrival   time.Time
	WebhookID string
	Namespace string
	Job       string
	Queue     string
	Type      string
	Attempt   int32
	// Status is what the receiver answered.
	Status int
	// Held is how long the receiver held the call before answering.
	Held time.Duration
	// Data is the job's spec.data, as sent.
	Data json.RawMessage
	// ReportURL and Token are the payload's: what a receiver that answered 202 reports with.
	ReportURL, Token string
}

// Answer is what the receiver answers one call.
type Answer struct {
	Status     int
	RetryAfter int // seconds; sent as Retry-After when > 0
	Body       string
	// Delay holds the answer back (a slow receiver).
	Delay time.Duration
}

// AnswerFunc decides the answer to a call; calls is how many calls the receiver has seen for the
// same job before this one (any webhook-id).
type AnswerFunc func(c *Call, calls int) Answer

// Receiver is a loopback webhook receiver that logs every call (arrival time, webhook-id, job,
// attempt, answer) and answers what its AnswerFunc decides (200, 410, 429/503 with Retry-After,
// 500, …). Its log is what the invariants count calls per webhook-id and starts per window from.
type Receiver struct {
	// URL is the receiver's base URL (http://127.0.0.1:port/).
	URL string

	srv    *http.Server
	answer AnswerFunc

	mu    sync.Mutex
	calls []Call
	byJob map[string]int
}

// StartReceiver starts a receiver on a loopback port.
func StartReceiver(answer AnswerFunc) (*Receiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Receiver{URL: "http://" + l.Addr().String() + "/", answer: answer, byJob: map[string]int{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(l) }()
	return r, nil
}

// Close stops the receiver.
func (r *Receiver) Close() { _ = r.srv.Close() }

// ServeHTTP logs the call, then answers it.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	c := Call{Arrival: time.Now(), WebhookID: req.Header.Get("webhook-id")}
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	var p struct {
		Namespace string          `json:"namespace"`
		Name      string          `json:"name"`
		Queue     string          `json:"queue"`
		Type      string          `json:"type"`
		Attempt   int32           `json:"attempt"`
		Data      json.RawMessage `json:"data"`
		ReportURL string          `json:"reportURL"`
		Token     string          `json:"token"`
	}
	_ = json.Unmarshal(body, &p)
	c.Namespace, c.Job, c.Queue, c.Type, c.Attempt, c.Data = p.Namespace, p.Name, p.Queue, p.Type, p.Attempt, p.Data
	c.ReportURL, c.Token = p.ReportURL, p.Token
	key := c.Namespace + "/" + c.Job
	r.mu.Lock()
	n := r.byJob[key]
	r.byJob[key]++
	r.mu.Unlock()
	a := Answer{Status: http.StatusOK}
	if r.answer != nil {
		a = r.answer(&c, n)
	}
	c.Status, c.Held = a.Status, a.Delay
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	if a.Delay > 0 {
		select {
		case <-time.After(a.Delay):
		case <-req.Context().Done():
			return
		}
	}
	if a.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(a.RetryAfter))
	}
	if a.Body != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(a.Status)
	_, _ = io.WriteString(w, a.Body)
}

// Save writes the log as JSON lines (for a look after a failed run).
func (r *Receiver) Save(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, c := range r.Calls() {
		c.Token = ""
		_ = enc.Encode(c)
	}
	return f.Close()
}

// Calls returns a copy of the log.
func (r *Receiver) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// WebhookPlan is the default AnswerFunc's reading of a job's data: the answers of its
// attempts, so that the expected outcome of every job is known before it runs.
type WebhookPlan struct {
	// FailAttempts: attempts 1..FailAttempts are answered 500 (a counted failure).
	FailAttempts int32 `json:"failAttempts,omitempty"`
	// RetryAfterFirst: attempt 1 is answered 429 with Retry-After of this many seconds (a retry
	// that is not counted).
	RetryAfterFirst int `json:"retryAfterFirst,omitempty"`
	// Die: every call is answered 410 (the job fails at once, reason Died).
	Die bool `json:"die,omitempty"`
	// Accept: every call is answered 202; the outcome comes later through the report API.
	Accept bool `json:"accept,omitempty"`
}

// PlanAnswer answers per the job's WebhookPlan (data.webhook); 200 with a result otherwise. It
// decides by attempt, not by call, so that a call repeated under the same webhook-id (after a
// manager restart) gets the same answer.
func PlanAnswer(c *Call, _ int) Answer {
	var d struct {
		Webhook WebhookPlan `json:"webhook"`
	}
	_ = json.Unmarshal(c.Data, &d)
	p := d.Webhook
	switch {
	case p.Die:
		return Answer{Status: http.StatusGone}
	case p.Accept:
		return Answer{Status: http.StatusAccepted}
	case p.RetryAfterFirst > 0 && c.Attempt == 1:
		return Answer{Status: http.StatusTooManyRequests, RetryAfter: p.RetryAfterFirst}
	case c.Attempt <= p.FailAttempts+retryOffset(p):
		return Answer{Status: http.StatusInternalServerError}
	}
	return Answer{Status: http.StatusOK, Body: fmt.Sprintf(`{"result":{"attempt":%d}}`, c.Attempt)}
}

// retryOffset is how many attempt numbers the uncounted 429 retry took.
func retryOffset(p WebhookPlan) int32 {
	if p.RetryAfterFirst > 0 {
		return 1
	}
	return 0
}

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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Bounds of the report client's retries of an outcome.
const (
	outcomeTries      = 10
	outcomeRetryFirst = 500 * time.Millisecond
	outcomeRetryMax   = 30 * time.Second
)

// reporter talks to the report API for one webhook attempt (its reportURL and token).
type reporter struct {
	url, token string
	http       *http.Client
	// cancel ends the task's context: the report API answered 409 (the attempt ended).
	cancel context.CancelFunc
}

// reportBody is a report API request.
type reportBody struct {
	Progress  *reportProgress `json:"progress,omitempty"`
	Log       []string        `json:"log,omitempty"`
	Heartbeat bool            `json:"heartbeat,omitempty"`
	answer
}

type reportProgress struct {
	Percent int32  `json:"percent"`
	Message string `json:"message,omitempty"`
}

// send posts what the task reported (the coalescer calls it at most once a second).
func (r *reporter) send(ctx context.Context, rep report) error {
	if r.url == "" || r.token == "" {
		return nil // a call without a report URL: nowhere to send progress
	}
	b := reportBody{Heartbeat: true}
	if p := rep.progress; p != nil {
		b.Progress = &reportProgress{Percent: p.Percent, Message: p.Message}
	}
	for _, e := range rep.logs {
		b.Log = append(b.Log, e.Message)
	}
	code, _, err := r.post(ctx, b)
	switch {
	case err != nil:
		return err
	case code == http.StatusConflict:
		r.cancel()
		return nil
	case code == http.StatusServiceUnavailable:
		return errors.New("the report API asked to send again (503)")
	}
	return nil
}

// flushPending sends what the coalescer still holds.
func (r *reporter) flushPending(t *Task) {
	if rep := t.sink.take(); !rep.empty() {
		_ = r.send(context.Background(), rep)
	}
}

// outcome posts the attempt's outcome, again on 503 (after its Retry-After) and on connection
// errors, up to outcomeTries times.
func (r *reporter) outcome(ctx context.Context, a answer) {
	wait := outcomeRetryFirst
	for range outcomeTries {
		code, retryAfter, err := r.post(ctx, reportBody{answer: a})
		if err == nil && code != http.StatusServiceUnavailable && code < 500 {
			return // recorded (200), or refused for good (409: the attempt ended; 4xx)
		}
		if retryAfter > 0 {
			wait = retryAfter
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(wait*2, outcomeRetryMax)
	}
}

// post sends one report and returns the answer's status and Retry-After.
func (r *reporter) post(ctx context.Context, b reportBody) (int, time.Duration, error) {
	raw, err := json.Marshal(b)
	if err != nil {
		return 0, 0, fmt.Errorf("encoding the report: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(raw))
	if err != nil {
		return 0, 0, fmt.Errorf("building the report request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.http.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("reporting: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64*1024))
	var after time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		after = min(time.Duration(s)*time.Second, outcomeRetryMax)
	}
	return resp.StatusCode, after, nil
}

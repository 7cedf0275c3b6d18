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
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// reportAPI is a stand-in for kickq's report API: it records the bodies and answers code.
type reportAPI struct {
	mu     sync.Mutex
	bodies []map[string]any
	code   int
	got    chan map[string]any
}

func newReportAPI(t *testing.T, code int) (*reportAPI, *httptest.Server) {
	api := &reportAPI{code: code, got: make(chan map[string]any, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var b map[string]any
		_ = json.NewDecoder(r.Body).Decode(&b)
		api.mu.Lock()
		api.bodies = append(api.bodies, b)
		code := api.code
		api.mu.Unlock()
		api.got <- b
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return api, srv
}

// call POSTs a signed kickq payload to h.
func call(t *testing.T, h http.Handler, secret, reportURL string) *httptest.ResponseRecorder {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"id": "uid-7-2", "namespace": "shop", "name": "welcome-42", "queue": "default",
		"type": "email", "data": map[string]any{"to": "a@b.c"}, "attempt": 2, "reportURL": reportURL, "token": "tok"})
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sig, err := wh.Sign("uid-7-2", now, body)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/jobs", bytes.NewReader(body))
	req.Header.Set("webhook-id", "uid-7-2")
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestWebhookHandlerAnswers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		h          HandlerFunc
		wantCode   int
		wantBody   string
		wantHeader string // Retry-After
	}{
		{name: "a result: 200 Succeed", h: func(_ context.Context, t *Task) (any, error) {
			var in struct{ To string }
			if err := t.Data(&in); err != nil || in.To != "a@b.c" || t.Attempt != 2 || t.UID != "uid-7" || t.ID() != "uid-7-2" {
				return nil, Die(errors.New("bad task"))
			}
			return map[string]bool{"sent": true}, nil
		}, wantCode: 200, wantBody: `{"outcome":"Succeed","result":{"sent":true}}`},
		{name: "an error: 500 Fail", h: func(context.Context, *Task) (any, error) { return nil, errors.New("smtp down") },
			wantCode: 500, wantBody: `{"outcome":"Fail","message":"smtp down"}`},
		{name: "Die: 410", h: func(context.Context, *Task) (any, error) { return nil, Die(errors.New("no such user")) },
			wantCode: 410, wantBody: `{"outcome":"Die","message":"no such user"}`},
		{name: "RetryAfter: 503 with Retry-After", h: func(context.Context, *Task) (any, error) { return nil, RetryAfter(90*time.Second, errors.New("busy")) },
			wantCode: 503, wantBody: `{"outcome":"Retry","message":"busy","retryAfterSeconds":90}`, wantHeader: "90"},
		{name: "a panic: 500 Fail with its message", h: func(context.Context, *Task) (any, error) { panic("oops") },
			wantCode: 500, wantBody: `{"outcome":"Fail","message":"handler panicked: oops"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := WebhookHandler(testSecret, tc.h)
			if err != nil {
				t.Fatal(err)
			}
			rec := call(t, h, testSecret, "")
			if rec.Code != tc.wantCode {
				t.Errorf("status %d, want %d", rec.Code, tc.wantCode)
			}
			if diff := cmp.Diff(tc.wantBody+"\n", rec.Body.String()); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.wantHeader {
				t.Errorf("Retry-After %q, want %q", got, tc.wantHeader)
			}
		})
	}
}

func TestWebhookHandlerRefusesBadSignatures(t *testing.T) {
	h, err := WebhookHandler(testSecret, func(context.Context, *Task) (any, error) {
		t.Error("the handler ran for a call that does not verify")
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec := call(t, h, "whsec_"+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("another key's signature: status %d, want 401", rec.Code)
	}
	req := httptest.NewRequest(http.MethodPost, "/jobs", bytes.NewReader([]byte(`{"id":"x"}`)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("unsigned: status %d, want 401", rec.Code)
	}
	// A receiver holding the old and the new key during a rotation verifies either.
	rotating, _ := WebhookHandler("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA "+testSecret, func(context.Context, *Task) (any, error) { return nil, nil })
	if rec := call(t, rotating, testSecret, ""); rec.Code != http.StatusOK {
		t.Errorf("rotation: status %d, want 200", rec.Code)
	}
}

// TestWebhookHandlerLongTask: a handler still running after the accept time gets the call
// answered 202; its progress and then its outcome reach the report API.
func TestWebhookHandlerLongTask(t *testing.T) {
	api, srv := newReportAPI(t, http.StatusAccepted)
	release := make(chan struct{})
	h, err := WebhookHandler(testSecret, func(_ context.Context, t *Task) (any, error) {
		t.Progress(40, "4/10 pages")
		<-release
		return map[string]int{"pages": 10}, nil
	}, WithAcceptAfter(0))
	if err != nil {
		t.Fatal(err)
	}
	if rec := call(t, h, testSecret, srv.URL); rec.Code != http.StatusAccepted {
		t.Fatalf("status %d, want 202", rec.Code)
	}
	progress := <-api.got
	if diff := cmp.Diff(map[string]any{"progress": map[string]any{"percent": 40.0, "message": "4/10 pages"}, "heartbeat": true}, progress); diff != "" {
		t.Errorf("progress report (-want +got):\n%s", diff)
	}
	api.mu.Lock()
	api.code = http.StatusOK
	api.mu.Unlock()
	close(release)
	outcome := <-api.got
	if diff := cmp.Diff(map[string]any{"outcome": "Succeed", "result": map[string]any{"pages": 10.0}}, outcome); diff != "" {
		t.Errorf("outcome report (-want +got):\n%s", diff)
	}
}

// TestWebhookHandlerAttemptEnded: once the report API answers 409 (the attempt ended, e.g. the
// job was cancelled), the handler's context ends and no outcome is sent.
func TestWebhookHandlerAttemptEnded(t *testing.T) {
	api, srv := newReportAPI(t, http.StatusConflict)
	ended := make(chan error, 1)
	h, _ := WebhookHandler(testSecret, func(ctx context.Context, t *Task) (any, error) {
		t.Log("working")
		<-ctx.Done()
		ended <- ctx.Err()
		return nil, ctx.Err()
	}, WithAcceptAfter(0))
	if rec := call(t, h, testSecret, srv.URL); rec.Code != http.StatusAccepted {
		t.Fatalf("status %d, want 202", rec.Code)
	}
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Errorf("handler context: %v, want cancelled", err)
	}
	first := <-api.got
	if diff := cmp.Diff(map[string]any{"log": []any{"working"}, "heartbeat": true}, first); diff != "" {
		t.Errorf("log report (-want +got):\n%s", diff)
	}
	select {
	case b := <-api.got:
		if _, ok := b["outcome"]; ok {
			t.Errorf("an outcome was reported for an ended attempt: %v", b)
		}
	default:
	}
}

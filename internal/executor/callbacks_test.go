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
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/netguard"
)

func TestNotifyBody(t *testing.T) {
	job := testJob("done")
	job.Spec.Batch = "nightly"
	job.CreationTimestamp = metav1.NewTime(time.Date(2026, 11, 24, 3, 0, 0, 0, time.FixedZone("CET", 3600)))
	start := metav1.NewTime(time.Date(2026, 11, 24, 3, 1, 0, 0, time.UTC))
	job.Status = kickqv1alpha1.QueueJobStatus{Phase: kickqv1alpha1.PhaseSucceeded, Reason: kickqv1alpha1.ReasonCompleted,
		Message: "attempt 2 succeeded", Result: &apiextensionsv1.JSON{Raw: []byte(`{"sent":true}`)},
		Attempts: 2, FailedAttempts: 1, StartTime: &start}
	body, err := NotifyBody(job)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": "uid-done-notify", "namespace": "shop", "name": "done", "uid": "uid-done", "queue": "default",
		"type": "email", "batch": "nightly", "phase": "Succeeded", "reason": "Completed", "message": "attempt 2 succeeded",
		"result": map[string]any{"sent": true}, "attempts": float64(2), "failedAttempts": float64(1),
		"creationTime": "2026-11-24T02:00:00Z", "startTime": "2026-11-24T03:01:00Z",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NotifyBody (-want +got):\n%s", diff)
	}
}

// A completion callback goes out once per Notify, with its stable webhook-id; NotifyStatus follows
// it from in flight to done, and ForgetNotify lets the next Notify send again.
func TestCallbacks(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	status := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		ids = append(ids, r.Header.Get("webhook-id"))
		w.WriteHeader(status)
	}))
	defer srv.Close()
	h := newHarness(t, netguard.New(loopback, nil))
	var cb Callbacks = h.w
	job := testJob("done")
	target := kickqv1alpha1.WebhookTarget{URL: srv.URL + "/done"}
	ctx := context.Background()

	if got := cb.NotifyStatus(job.UID); got != (attempt.NotifyState{}) {
		t.Fatalf("before Notify: %+v", got)
	}
	deliver := func() attempt.NotifyState {
		t.Helper()
		if err := cb.Notify(ctx, job, target, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if st := cb.NotifyStatus(job.UID); !st.InFlight && !st.Done {
			t.Fatalf("after Notify: %+v, want in flight or done", st)
		}
		select {
		case <-h.woken:
		case <-time.After(10 * time.Second):
			t.Fatal("the callback did not end")
		}
		return cb.NotifyStatus(job.UID)
	}

	if st := deliver(); !st.Done || st.Delivered || st.Message == "" {
		t.Fatalf("after a 503: %+v, want done, not delivered, with a message", st)
	}
	// Not forgotten: a repeated Notify sends nothing.
	if err := cb.Notify(ctx, job, target, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	cb.ForgetNotify(job.UID)
	if got := cb.NotifyStatus(job.UID); got != (attempt.NotifyState{}) {
		t.Fatalf("after ForgetNotify: %+v", got)
	}
	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	if st := deliver(); !st.Done || !st.Delivered {
		t.Fatalf("after a 200: %+v, want delivered", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"uid-done-notify", "uid-done-notify"}, ids); diff != "" {
		t.Errorf("deliveries' webhook-ids (-want +got):\n%s", diff)
	}
}

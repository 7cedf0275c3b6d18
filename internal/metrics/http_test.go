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

package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestCountReports: each answer counts once under its status code, an answer without
// WriteHeader as 200, and http.ResponseController still reaches the connection.
func TestCountReports(t *testing.T) {
	h := CountReports(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/accepted":
			if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Errorf("ResponseController through the wrapper: %v", err)
			}
			w.WriteHeader(http.StatusAccepted)
			w.WriteHeader(http.StatusInternalServerError) // superfluous: not counted
		case "/body":
			_, _ = w.Write([]byte("ok"))
		default:
			w.WriteHeader(http.StatusConflict)
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	before := map[string]float64{}
	for _, c := range []string{"202", "200", "409", "500"} {
		before[c] = testutil.ToFloat64(ReportRequests.WithLabelValues(c))
	}
	for _, p := range []string{"/accepted", "/accepted", "/body", "/gone"} {
		resp, err := http.Post(srv.URL+p, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	for c, want := range map[string]float64{"202": 2, "200": 1, "409": 1, "500": 0} {
		if got := testutil.ToFloat64(ReportRequests.WithLabelValues(c)) - before[c]; got != want {
			t.Errorf("kickq_report_requests_total{code=%q} grew by %v, want %v", c, got, want)
		}
	}
}

// TestWebhookCalled: calls count by answer class, with their duration.
func TestWebhookCalled(t *testing.T) {
	count := func(class string) (float64, uint64) {
		return testutil.ToFloat64(WebhookRequests.WithLabelValues(class)), histogramCount(t, class)
	}
	n2, h2 := count("2xx")
	nOther, hOther := count(Other)
	WebhookCalled(204, 30*time.Millisecond)
	WebhookCalled(0, time.Second)
	if n, h := count("2xx"); n-n2 != 1 || h-h2 != 1 {
		t.Errorf("2xx grew by %v requests and %d durations, want 1 and 1", n-n2, h-h2)
	}
	if n, h := count(Other); n-nOther != 1 || h-hOther != 1 {
		t.Errorf("other grew by %v requests and %d durations, want 1 and 1", n-nOther, h-hOther)
	}
}

func histogramCount(t *testing.T, class string) uint64 {
	n, _ := histogram(t, WebhookDuration, class)
	return n
}

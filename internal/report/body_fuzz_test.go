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

package report

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
)

// FuzzParseReport validates any report body: parse never panics, refuses with 400 or 413 and a
// bounded message, or returns a report within every cap status keeps (progress 0 to 100, at most
// maxLogLines lines of at most limits.MaxMessageBytes, a compact JSON result of at most
// limits.MaxResultBytes, a known outcome, a bounded message, retryAfter only with Retry and at
// most a day).
func FuzzParseReport(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"heartbeat":true}`,
		`{"progress":{"percent":40,"message":"step 2 of 5"},"log":"downloaded"}`,
		`{"log":["a","b"],"result":{"rows":3},"outcome":"Succeed","message":"done"}`,
		`{"outcome":"Retry","retryAfterSeconds":30}`,
		`{"outcome":"Fail","retryAfterSeconds":30}`,
		`{"outcome":"Retry","retryAfterSeconds":86401}`,
		`{"progress":{"percent":101}}`,
		`{"log":` + `[` + strings.Repeat(`"x",`, maxLogLines) + `"x"]}`,
		`{"log":"` + strings.Repeat("é", limits.MaxMessageBytes) + `"}`,
		`{"result":"` + strings.Repeat("r", limits.MaxResultBytes) + `"}`,
		`{"result": [1, 2 ,3 ]} {}`,
		`{"outcome":"Explode"}`,
		`{"unknown":1}`,
		`{"log":7}`,
		`null`,
		`{"message":"\udc00\ud800 \u0000"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > limits.MaxReportBodyBytes {
			t.Skip("the server answers 413 before parsing")
		}
		r, code, msg := parse(body)
		if code != 0 {
			if code != http.StatusBadRequest && code != http.StatusRequestEntityTooLarge {
				t.Fatalf("parse answered %d (%s); want 400 or 413", code, msg)
			}
			if msg == "" || len(msg) > 2*limits.MaxMessageBytes {
				t.Fatalf("parse refused with a message of %d bytes", len(msg))
			}
			return
		}
		checkReport(t, r)
	})
}

func checkReport(t *testing.T, r Report) {
	t.Helper()
	if r.Progress != nil && (r.Progress.Percent < 0 || r.Progress.Percent > 100 || len(r.Progress.Message) > maxMessageBytes ||
		!utf8.ValidString(r.Progress.Message)) {
		t.Fatalf("progress %+v is beyond its caps", r.Progress)
	}
	if len(r.Logs) > maxLogLines {
		t.Fatalf("%d log lines; at most %d", len(r.Logs), maxLogLines)
	}
	for i, l := range r.Logs {
		if len(l) > limits.MaxMessageBytes || !utf8.ValidString(l) {
			t.Fatalf("log line %d is %d bytes (at most %d) or not UTF-8", i, len(l), limits.MaxMessageBytes)
		}
	}
	if r.Result != nil && (len(r.Result.Raw) > limits.MaxResultBytes || !json.Valid(r.Result.Raw)) {
		t.Fatalf("result of %d bytes: beyond %d or not JSON", len(r.Result.Raw), limits.MaxResultBytes)
	}
	switch r.Outcome {
	case "", kickqv1alpha1.OutcomeSucceed, kickqv1alpha1.OutcomeFail, kickqv1alpha1.OutcomeDie, kickqv1alpha1.OutcomeRetry:
	default:
		t.Fatalf("outcome %q", r.Outcome)
	}
	if len(r.Message) > maxMessageBytes || !utf8.ValidString(r.Message) {
		t.Fatalf("message of %d bytes (at most %d) or not UTF-8", len(r.Message), maxMessageBytes)
	}
	if r.RetryAfter < 0 || r.RetryAfter > maxRetryAfterSeconds*time.Second || (r.RetryAfter > 0 && r.Outcome != kickqv1alpha1.OutcomeRetry) {
		t.Fatalf("retryAfter %v with outcome %q", r.RetryAfter, r.Outcome)
	}
}

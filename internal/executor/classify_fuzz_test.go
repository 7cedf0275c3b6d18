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
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
)

// fuzzSecrets are the parts of the fuzzed target URL no message may show.
const fuzzURL = "https://deploy:pa55w0rd-secret@hooks.example.test/run/job?token=t0ken-secret#frag-secret"

var fuzzSecrets = []string{"pa55w0rd-secret", "t0ken-secret", "frag-secret"}

// FuzzClassifyAnswer classifies any webhook answer (status code, Retry-After, body up to what the
// executor reads) as the executor does: it never panics; the outcome is one of the four, or none
// only for a 202 that waits for a report; a wait comes only with Retry and never beyond the
// target's retryAfterMaxSeconds; a result only with Succeed, as bounded JSON; the message names
// the URL without its user info, query or fragment, and quotes no body of a failed call to a URL
// the job's author chose.
func FuzzClassifyAnswer(f *testing.F) {
	for _, s := range []struct {
		code       int
		retryAfter string
		body       string
		maxWait    int32
		author     bool
	}{
		{200, "", `{"result":{"ok":true}}`, 600, false},
		{202, "", ``, 600, false},
		{202, "", `{"outcome":"Fail","message":"no"}`, 600, true},
		{429, "120", ``, 60, false},
		{503, "Wed, 21 Oct 2037 07:28:00 GMT", `busy`, 0, false},
		{503, "-5", `{"outcome":"Retry","retryAfterSeconds":2147483647}`, 3600, false},
		{410, "", `gone`, 600, false},
		{500, "", "stack trace: pa55w0rd-secret\n\tat x", 600, true},
		{500, "", strings.Repeat("é", 300), 600, false},
		{200, "", `{"outcome":"Succeed","result":"` + strings.Repeat("r", limits.MaxResultBytes) + `"}`, 600, false},
		{299, "", `{"outcome":"Explode","result":[1,2]}`, 600, false},
		{-1, "1e9", `null`, -1, false},
	} {
		f.Add(s.code, s.retryAfter, []byte(s.body), s.maxWait, s.author)
	}
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC))
	w := &Webhooks{opts: WebhookOptions{Clock: clk}}
	f.Fuzz(func(t *testing.T, code int, retryAfter string, body []byte, maxWait int32, author bool) {
		if len(body) > limits.MaxResponseBytes {
			body = body[:limits.MaxResponseBytes] // what send reads
		}
		c := &call{target: kickqv1alpha1.WebhookTarget{URL: fuzzURL}, authorURL: author}
		capWait := time.Duration(max(maxWait, 0)) * time.Second
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		r := w.classify(c, code, h, body, capWait)
		what := fmt.Sprintf("answer %d (Retry-After %q, body %q, author %v)", code, retryAfter, limitedQuote(body), author)
		switch r.Outcome {
		case kickqv1alpha1.OutcomeSucceed, kickqv1alpha1.OutcomeFail, kickqv1alpha1.OutcomeDie, kickqv1alpha1.OutcomeRetry:
		case "":
			if code != http.StatusAccepted || r.Reason != kickqv1alpha1.AttemptReasonAccepted {
				t.Fatalf("%s: no outcome, reason %q", what, r.Reason)
			}
		default:
			t.Fatalf("%s: outcome %q", what, r.Outcome)
		}
		if r.HTTPStatusCode == nil || int(*r.HTTPStatusCode) != int(int32(code)) {
			t.Fatalf("%s: HTTPStatusCode %v", what, r.HTTPStatusCode)
		}
		if r.RetryAfter < 0 || r.RetryAfter > capWait || (r.RetryAfter > 0 && r.Outcome != kickqv1alpha1.OutcomeRetry) {
			t.Fatalf("%s: waits %v with outcome %q (cap %v)", what, r.RetryAfter, r.Outcome, capWait)
		}
		if r.Result != nil && (r.Outcome != kickqv1alpha1.OutcomeSucceed || len(r.Result.Raw) > limits.MaxResultBytes || !json.Valid(r.Result.Raw)) {
			t.Fatalf("%s: result of %d bytes with outcome %q", what, len(r.Result.Raw), r.Outcome)
		}
		if !strings.Contains(r.Message, "hooks.example.test/run/job") {
			t.Fatalf("%s: the message %q does not name the URL", what, r.Message)
		}
		for _, s := range fuzzSecrets {
			if strings.Contains(r.Message, s) && !strings.Contains(string(body), s) {
				t.Fatalf("%s: the message %q shows %q of the URL", what, r.Message, s)
			}
		}
		if author && r.Reason == kickqv1alpha1.AttemptReasonHTTPError && r.Message != fmt.Sprintf("POST https://hooks.example.test/run/job answered %d", code) {
			t.Fatalf("%s: the message %q quotes the answer of a URL the job's author chose", what, r.Message)
		}
	})
}

func limitedQuote(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

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

package outcome

import (
	"net/http"
	"strings"
	"testing"
	"time"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
)

// retryAfterMax is the executor's default cap on a Retry-After (executor.DefaultRetryAfterMax).
const retryAfterMax = 10 * time.Minute

func TestClassifyResponse(t *testing.T) {
	now := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	h := func(kv ...string) http.Header {
		hd := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			hd.Set(kv[i], kv[i+1])
		}
		return hd
	}
	cases := []struct {
		name       string
		code       int
		header     http.Header
		body       string
		outcome    kickqv1alpha1.Outcome
		reason     string
		retryAfter time.Duration
		result     string
	}{
		{"200 keeps the body's result", 200, nil, `{"result":{"sent":true}}`, kickqv1alpha1.OutcomeSucceed, "Completed", 0, `{"sent":true}`},
		{"204 succeeds", 204, nil, ``, kickqv1alpha1.OutcomeSucceed, "Completed", 0, ``},
		{"200 with a non-JSON body", 200, nil, `ok`, kickqv1alpha1.OutcomeSucceed, "Completed", 0, ``},
		{"202 is accepted", 202, nil, ``, "", "Accepted", 0, ``},
		{"410 dies", 410, nil, `gone`, kickqv1alpha1.OutcomeDie, "Gone", 0, ``},
		{"429 with Retry-After seconds", 429, h("Retry-After", "30"), ``, kickqv1alpha1.OutcomeRetry, "RetryAfter", 30 * time.Second, ``},
		{"503 with Retry-After date", 503, h("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)), ``, kickqv1alpha1.OutcomeRetry, "RetryAfter", 90 * time.Second, ``},
		{"Retry-After is capped", 429, h("Retry-After", "86400"), ``, kickqv1alpha1.OutcomeRetry, "RetryAfter", 10 * time.Minute, ``},
		{"429 without Retry-After fails", 429, nil, ``, kickqv1alpha1.OutcomeFail, "HTTPError", 0, ``},
		{"500 fails", 500, nil, `boom`, kickqv1alpha1.OutcomeFail, "HTTPError", 0, ``},
		{"302 fails: redirects are not followed", 302, h("Location", "http://169.254.169.254/"), ``, kickqv1alpha1.OutcomeFail, "HTTPError", 0, ``},
		{"body outcome Die overrides 200", 200, nil, `{"outcome":"Die","message":"bad address"}`, kickqv1alpha1.OutcomeDie, "ReceiverOutcome", 0, ``},
		{"body outcome Retry overrides 500", 500, nil, `{"outcome":"Retry","retryAfterSeconds":5}`, kickqv1alpha1.OutcomeRetry, "ReceiverOutcome", 5 * time.Second, ``},
		{"body outcome Fail overrides 200", 200, nil, `{"outcome":"Fail"}`, kickqv1alpha1.OutcomeFail, "ReceiverOutcome", 0, ``},
		{"unknown outcome word is ignored", 200, nil, `{"outcome":"Maybe"}`, kickqv1alpha1.OutcomeSucceed, "Completed", 0, ``},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hd := c.header
			if hd == nil {
				hd = http.Header{}
			}
			r := ClassifyResponse("http://sink.example/jobs?token=secret", c.code, hd, []byte(c.body), now, retryAfterMax)
			if r.Outcome != c.outcome || r.Reason != c.reason || r.RetryAfter != c.retryAfter {
				t.Fatalf("got %s/%s/%s, want %s/%s/%s (%s)", r.Outcome, r.Reason, r.RetryAfter, c.outcome, c.reason, c.retryAfter, r.Message)
			}
			if r.HTTPStatusCode == nil || int(*r.HTTPStatusCode) != c.code {
				t.Fatalf("status code %v", r.HTTPStatusCode)
			}
			got := ""
			if r.Result != nil {
				got = string(r.Result.Raw)
			}
			if got != c.result {
				t.Fatalf("result %q, want %q", got, c.result)
			}
			if strings.Contains(r.Message, "secret") {
				t.Fatalf("the message leaks the URL's query: %s", r.Message)
			}
			if c.code == 500 && c.body == "boom" && !strings.Contains(r.Message, "boom") {
				t.Fatalf("a failure quotes the body: %s", r.Message)
			}
		})
	}
	big := `{"result":"` + strings.Repeat("x", 10000) + `"}`
	r := ClassifyResponse("http://x", 200, http.Header{}, []byte(big), now, retryAfterMax)
	if len(r.Result.Raw) > limits.MaxResultBytes {
		t.Fatalf("result capped at 4096 bytes, got %d", len(r.Result.Raw))
	}
}

func TestClassifyResponseMessages(t *testing.T) {
	now := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		code   int
		header http.Header
		body   string
		want   string
	}{
		{name: "200", code: 200, want: "POST http://sink.example/jobs answered 200"},
		{name: "202", code: 202, want: "POST http://sink.example/jobs answered 202: accepted; waiting for the receiver's report"},
		{name: "410", code: 410, want: "POST http://sink.example/jobs answered 410 Gone: no retries"},
		{name: "500 quotes the body on one line", code: 500, body: "boom\n\tat line 3\r\n", want: "POST http://sink.example/jobs answered 500: boom  at line 3"},
		{name: "Retry-After within the cap", code: 503, header: http.Header{"Retry-After": {"30"}},
			want: "POST http://sink.example/jobs answered 503 with Retry-After: retrying in 30s, not counted"},
		{name: "Retry-After capped", code: 429, header: http.Header{"Retry-After": {"3600"}},
			want: "POST http://sink.example/jobs answered 429 with Retry-After: retrying in 10m0s (capped by retryAfterMaxSeconds), not counted"},
		{name: "receiver outcome with its message", code: 200, body: `{"outcome":"Die","message":"bad address"}`,
			want: "POST http://sink.example/jobs answered 200 with outcome Die: bad address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			r := ClassifyResponse("http://user:pw@sink.example/jobs?token=secret", tc.code, h, []byte(tc.body), now, retryAfterMax)
			if r.Message != tc.want {
				t.Errorf("message %q, want %q", r.Message, tc.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		header string
		want   time.Duration
		ok     bool
	}{
		{name: "absent", header: "", ok: false},
		{name: "blank", header: "  ", ok: false},
		{name: "delay-seconds", header: "30", want: 30 * time.Second, ok: true},
		{name: "delay-seconds with spaces", header: " 7 ", want: 7 * time.Second, ok: true},
		{name: "zero", header: "0", want: 0, ok: true},
		{name: "a year at most", header: "99999999999", want: maxRetryAfterSeconds * time.Second, ok: true},
		{name: "negative is no delay-seconds", header: "-5", ok: false},
		{name: "HTTP date", header: now.Add(90 * time.Second).Format(http.TimeFormat), want: 90 * time.Second, ok: true},
		{name: "HTTP date in the past", header: now.Add(-time.Hour).Format(http.TimeFormat), want: 0, ok: true},
		{name: "garbage", header: "soon", ok: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := retryAfter(tc.header, now)
			if got != tc.want || ok != tc.ok {
				t.Errorf("retryAfter(%q) = %s, %t; want %s, %t", tc.header, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("a", excerptBytes-1) + "é" + "tail"
	for _, tc := range []struct {
		name, body, want string
	}{
		{name: "empty", body: "", want: ""},
		{name: "trimmed", body: "  boom \n", want: "boom"},
		{name: "one line", body: "a\nb\tc\rd", want: "a b c d"},
		{name: "fits", body: strings.Repeat("x", excerptBytes), want: strings.Repeat("x", excerptBytes)},
		{name: "cut with an ellipsis", body: strings.Repeat("x", excerptBytes+10), want: strings.Repeat("x", excerptBytes) + limits.Ellipsis},
		{name: "cut at a rune boundary", body: long, want: strings.Repeat("a", excerptBytes-1) + limits.Ellipsis},
		{name: "invalid UTF-8 is replaced", body: "a\xffb", want: "a\uFFFDb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := excerpt([]byte(tc.body)); got != tc.want {
				t.Errorf("excerpt(%q) = %q, want %q", tc.body, got, tc.want)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct {
		url, want string
	}{
		{url: "http://sink.example/jobs", want: "http://sink.example/jobs"},
		{url: "http://sink.example/jobs?token=secret", want: "http://sink.example/jobs"},
		{url: "http://sink.example/jobs#frag", want: "http://sink.example/jobs"},
		{url: "https://user:pw@sink.example:8443/jobs", want: "https://sink.example:8443/jobs"},
		{url: "http://sink.example/a@b", want: "http://sink.example/a@b"},
		{url: "not a url", want: "not a url"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			if got := RedactURL(tc.url); got != tc.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tc.url, got, tc.want)
			}
		})
	}
}

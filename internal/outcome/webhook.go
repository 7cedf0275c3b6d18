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
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
)

// Bounds of what an answer contributes to a message.
const (
	// excerptBytes is how much of a failed answer's body the attempt's message quotes (before the
	// ellipsis).
	excerptBytes = 256
	// maxRetryAfterSeconds bounds a Retry-After in delay-seconds (a year) before retryAfterMax caps
	// it, so the conversion to a time.Duration cannot overflow.
	maxRetryAfterSeconds = 365 * 24 * 3600
)

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
// fails. A JSON body's outcome (Succeed, Fail, Die, Retry) overrides, with its message. now is when
// the answer was read (for a Retry-After date); messages name the URL without its query or user
// info (RedactURL).
func ClassifyResponse(url string, code int, h http.Header, body []byte, now time.Time, retryAfterMax time.Duration) Result {
	r := Result{HTTPStatusCode: ptr.To(int32(code))}
	var ab answerBody
	isJSON := json.Unmarshal(body, &ab) == nil
	switch {
	case code == http.StatusAccepted:
		r.Reason, r.Message = kickqv1alpha1.AttemptReasonAccepted, fmt.Sprintf("POST %s answered 202: accepted; waiting for the receiver's report", RedactURL(url))
	case code >= 200 && code < 300:
		r.Outcome, r.Reason, r.Message = kickqv1alpha1.OutcomeSucceed, kickqv1alpha1.AttemptReasonCompleted, fmt.Sprintf("POST %s answered %d", RedactURL(url), code)
	case code == http.StatusGone:
		r.Outcome, r.Reason, r.Message = kickqv1alpha1.OutcomeDie, kickqv1alpha1.AttemptReasonGone, fmt.Sprintf("POST %s answered 410 Gone: no retries", RedactURL(url))
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if d, ok := retryAfter(h.Get("Retry-After"), now); ok {
			capped := ""
			if d > retryAfterMax {
				d, capped = retryAfterMax, " (capped by retryAfterMaxSeconds)"
			}
			r.Outcome, r.Reason, r.RetryAfter = kickqv1alpha1.OutcomeRetry, kickqv1alpha1.AttemptReasonRetryAfter, d
			r.Message = fmt.Sprintf("POST %s answered %d with Retry-After: retrying in %s%s, not counted", RedactURL(url), code, d, capped)
			break
		}
		fallthrough
	default:
		r.Outcome, r.Reason = kickqv1alpha1.OutcomeFail, kickqv1alpha1.AttemptReasonHTTPError
		r.Message = fmt.Sprintf("POST %s answered %d", RedactURL(url), code)
		if ex := excerpt(body); ex != "" {
			r.Message += ": " + ex
		}
	}
	if !isJSON {
		return r
	}
	switch ab.Outcome {
	case kickqv1alpha1.OutcomeSucceed, kickqv1alpha1.OutcomeFail, kickqv1alpha1.OutcomeDie, kickqv1alpha1.OutcomeRetry:
		r.Outcome, r.Reason = ab.Outcome, kickqv1alpha1.AttemptReasonReceiverOutcome
		r.Message = fmt.Sprintf("POST %s answered %d with outcome %s", RedactURL(url), code, ab.Outcome)
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
			r.Result = ResultOf(compact.String())
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
		return time.Duration(min(s, maxRetryAfterSeconds)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// excerpt is the start of a body, for messages: on one line, its first excerptBytes bytes and an
// ellipsis when it is longer, valid UTF-8.
func excerpt(b []byte) string {
	s := strings.TrimSpace(string(b))
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s)
	if len(s) > excerptBytes {
		s = limits.Truncate(s, excerptBytes, "") + limits.Ellipsis
	}
	return strings.ToValidUTF8(s, "")
}

// RedactURL drops a URL's query, fragment and user info, for messages (they may hold
// credentials).
func RedactURL(u string) string {
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

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

// Package outcome says how an attempt's run ended: what an observed Pod means (its state, why it
// waits, and how a finished pod ended under the job's retry rules, matched as batch/v1
// podFailurePolicy does) and what a webhook's HTTP answer means (ClassifyResponse). It is pure: no
// API client, no network, no clock (the time an answer is read is passed in). It never decides what
// happens next (retry, backoff, status): the lifecycle does, from the Result.
package outcome

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
)

// Result is how a finished run ended: a finished pod (Classify) or a webhook's answer
// (ClassifyResponse).
type Result struct {
	// Outcome is Succeed, Fail, Die or Retry.
	Outcome kickqv1alpha1.Outcome
	// ExitCode is the exit code of the first container that failed (init containers first, each in
	// spec order), or of the first container for success; nil when no container terminated.
	ExitCode *int32
	// Reason is a CamelCase cause: Completed, Error, OOMKilled, DeadlineExceeded, Evicted,
	// DisruptionTarget, ...
	Reason string
	// Message is for people, at most limits.MaxMessageBytes for a pod; it names the rule that matched
	// and the exit code, and may end with an excerpt of the termination message.
	Message string
	// Result is set on success only: the termination message as JSON if it parses, else as a JSON
	// string, or the result of the answer's JSON body; nil if empty; at most limits.MaxResultBytes.
	Result *apiextensionsv1.JSON
	// Rule is the 1-based index of the retry rule that matched, 0 if none, DisruptionRule for the
	// built-in DisruptionTarget rule.
	Rule int
	// HTTPStatusCode is the status of a webhook attempt's answer (nil: no answer).
	HTTPStatusCode *int32
	// RetryAfter is how long a Retry outcome waits before the next attempt (0: at once).
	RetryAfter time.Duration
}

// ResultOf turns a termination message into a result: the message (trimmed of surrounding space)
// as JSON if it is valid UTF-8 JSON, else as a JSON string; nil if empty (or JSON null). A result
// longer than limits.MaxResultBytes becomes a JSON string of the message's first bytes ending in
// limits.TruncatedMark.
func ResultOf(msg string) *apiextensionsv1.JSON {
	msg = strings.TrimSpace(msg)
	if msg == "" || msg == "null" {
		return nil
	}
	if len(msg) <= limits.MaxResultBytes && utf8.ValidString(msg) && json.Valid([]byte(msg)) {
		return &apiextensionsv1.JSON{Raw: []byte(msg)}
	}
	if b := jsonString(msg); len(b) <= limits.MaxResultBytes {
		return &apiextensionsv1.JSON{Raw: b}
	}
	// The longest prefix, cut at a rune boundary, whose encoding with the suffix fits.
	lo, hi := 0, len(msg)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if len(jsonString(limits.Truncate(msg, mid, "")+limits.TruncatedMark)) <= limits.MaxResultBytes {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return &apiextensionsv1.JSON{Raw: jsonString(limits.Truncate(msg, lo, "") + limits.TruncatedMark)}
}

// jsonString encodes s as a JSON string (invalid UTF-8 becomes U+FFFD).
func jsonString(s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

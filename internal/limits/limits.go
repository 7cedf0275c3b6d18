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

// Package limits names the bounds kickq keeps on what it stores and accepts, and holds the one
// helper that cuts text to such a bound and the marker that stands for spec.data over its bound
// in the manager's cache (data.go). It decides nothing else.
package limits

import (
	"time"
	"unicode/utf8"
)

// Bounds of what a job's status holds.
const (
	// MaxMessageBytes bounds every message kickq writes: status.message, condition and attempt
	// messages, log lines, Event notes (the API allows 1024 for a condition's message and more
	// elsewhere; kickq uses one bound).
	MaxMessageBytes = 1024
	// MaxReasonBytes bounds a reason taken from a run (a container's reason).
	MaxReasonBytes = 128
	// MaxDataBytes caps spec.data.
	MaxDataBytes = 64 * 1024
	// MaxResultBytes caps status.result.
	MaxResultBytes = 4096
	// MaxAttemptHistory is how many attempts status.attemptHistory keeps (the newest).
	MaxAttemptHistory = 20
	// MaxLogEntries and MaxLogBytes bound the status.logs ring.
	MaxLogEntries = 100
	MaxLogBytes   = 16 * 1024
)

// Bounds of what kickq reads from the network.
const (
	// MaxResponseBytes is how much of a webhook's answer is read.
	MaxResponseBytes = 64 * 1024
	// MaxReportBodyBytes is the largest report API body accepted (413 beyond).
	MaxReportBodyBytes = 64 * 1024
	// MaxSigningKeys is how many space-separated keys one signing secret may hold (each signs
	// every call: a rotation needs two or three).
	MaxSigningKeys = 8
	// MaxReportHeaderBytes bounds a report request's headers (431 beyond; Go's server allows
	// 4 KiB of slack on top). A report needs a few hundred bytes.
	MaxReportHeaderBytes = 8 * 1024
	// MaxReportConnections is how many connections the report API serves at once; more wait in
	// the listen backlog until one closes.
	MaxReportConnections = 512
)

// Time bounds of a report API connection.
const (
	// ReportReadHeaderTimeout bounds reading a request's headers.
	ReportReadHeaderTimeout = 5 * time.Second
	// ReportReadTimeout bounds reading a whole request, body included (64 KiB at most).
	ReportReadTimeout = 10 * time.Second
	// ReportWriteTimeout bounds a request from its headers to the end of its answer; an outcome's
	// answer, which waits for its status write, gets ReportOutcomeWait more once its body is read.
	ReportWriteTimeout = 15 * time.Second
	// ReportOutcomeWait is how long a report with an outcome waits for its status write before
	// it is answered 503 (send it again).
	ReportOutcomeWait = 10 * time.Second
	// ReportIdleTimeout closes a kept-alive connection that sends no new request.
	ReportIdleTimeout = 30 * time.Second
)

// Suffixes that mark cut text.
const (
	// Ellipsis ends a cut message.
	Ellipsis = "…"
	// TruncatedMark ends a cut result or excerpt, so a reader knows the value is incomplete.
	TruncatedMark = "…(truncated)"
)

// Truncate returns s cut to at most n bytes at a rune boundary, ending in suffix when it was cut
// (the suffix counts within n; a bound smaller than the suffix gives the suffix alone). s is
// returned as is when it fits.
func Truncate(s string, n int, suffix string) string {
	if len(s) <= n {
		return s
	}
	cut := n - len(suffix)
	if cut < 0 {
		cut = 0
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + suffix
}

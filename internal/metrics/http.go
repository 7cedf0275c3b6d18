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
	"strconv"
	"time"
)

// WebhookCalled records one webhook call: its answer's status code (0: no answer, an error) and
// how long it took.
func WebhookCalled(code int, took time.Duration) {
	class := CodeClass(code)
	WebhookRequests.WithLabelValues(class).Inc()
	WebhookDuration.WithLabelValues(class).Observe(max(took, 0).Seconds())
}

// CodeClass is "1xx" to "5xx" for an HTTP status code, else "other" (no answer, or a code out of
// range).
func CodeClass(code int) string {
	if code < 100 || code > 599 {
		return Other
	}
	return strconv.Itoa(code/100) + "xx"
}

// CountReports wraps the report API's handler to count its answers by status code
// (kickq_report_requests_total). Codes out of the 100..599 range are counted as "other".
func CountReports(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &codeWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		code := cw.code
		if code == 0 {
			code = http.StatusOK // nothing written: net/http answers 200
		}
		label := strconv.Itoa(code)
		if code < 100 || code > 599 {
			label = Other
		}
		ReportRequests.WithLabelValues(label).Inc()
	})
}

// codeWriter remembers the status code written; Unwrap keeps http.ResponseController working.
type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 { // 1xx answers are informational; the final one follows
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *codeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

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
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
	"kickq.dev/kickq/internal/metrics"
)

// Bounds of one report, besides limits.MaxReportBodyBytes (the body; 413 beyond),
// limits.MaxResultBytes (the result, what status keeps; 413 beyond) and limits.MaxMessageBytes (a
// log line; longer ones are cut).
const (
	// maxLogLines is the most log lines one report may carry: as many as status.logs keeps.
	maxLogLines = limits.MaxLogEntries
	// maxMessageBytes is the longest progress or outcome message kept; longer ones are cut.
	maxMessageBytes = 256
	// maxRetryAfterSeconds bounds an outcome's retryAfterSeconds.
	maxRetryAfterSeconds = 24 * 3600
	// outcomeWait is how long a report with an outcome waits for its status write.
	outcomeWait = limits.ReportOutcomeWait
)

// Body is the JSON a worker POSTs. Every field is optional; any report counts as a heartbeat.
type Body struct {
	Progress *ProgressBody `json:"progress,omitempty"`
	// Log is one line (a JSON string) or several (an array of strings).
	Log       json.RawMessage `json:"log,omitempty"`
	Heartbeat bool            `json:"heartbeat,omitempty"`
	// Result is any JSON value, kept in status.result.
	Result json.RawMessage `json:"result,omitempty"`
	// Outcome ends the attempt: Succeed, Fail, Die or Retry.
	Outcome           kickqv1alpha1.Outcome `json:"outcome,omitempty"`
	Message           string                `json:"message,omitempty"`
	RetryAfterSeconds *int32                `json:"retryAfterSeconds,omitempty"`
}

// ProgressBody is a progress report.
type ProgressBody struct {
	Percent *int32 `json:"percent,omitempty"`
	Message string `json:"message,omitempty"`
}

// Server serves the report API.
type Server struct {
	// Reader reads jobs (the manager's cache); Live reads them from the API server when the cache
	// may be behind a token (a new attempt the cache has not seen yet).
	// Both read pods too: a pod attempt's token is checked against its pod.
	Reader client.Reader
	Live   client.Reader
	// Signer checks the tokens of webhook attempts (the signed payload's token).
	Signer *Signer
	// PodTokens checks the tokens of pod attempts (ServiceAccount tokens the kubelet projects);
	// nil refuses them.
	PodTokens *PodTokens
	Store     *Store
	// Leader is closed once this replica is the leader (the manager's Elected()); nil means it
	// always is. Only the leader's reconcilers write reports, so until then the server answers
	// every report 503 with Retry-After and keeps nothing: the worker sends it again, and the
	// Service's next connection may reach the leader.
	Leader <-chan struct{}
	// NetClock times what the network needs: the outcome wait and the connection deadlines it
	// extends. Those are kernel deadlines, so it must be a real clock; nil means clock.RealClock.
	// (Decisions never read it: the store and the reconcilers use the controllers' clock.)
	NetClock clock.Clock
}

// netClock is the Server's NetClock, the real clock by default.
func (s *Server) netClock() clock.Clock {
	if s.NetClock != nil {
		return s.NetClock
	}
	return clock.RealClock{}
}

// Handler returns the API's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/namespaces/{namespace}/queuejobs/{name}/report", s.report)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not found: the report API is POST /v1/namespaces/{namespace}/queuejobs/{name}/report")
	})
	return metrics.CountReports(mux)
}

type answer struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, a answer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(a)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, answer{Status: "error", Message: msg})
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	if !s.leading() {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Connection", "close") // the retry opens a new connection, maybe to the leader
		writeError(w, http.StatusServiceUnavailable, "this kickq replica is not the leader; send the report again")
		return
	}
	key := types.NamespacedName{Namespace: r.PathValue("namespace"), Name: r.PathValue("name")}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kickq"`)
		refuse(w, r, http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer <token>, the contents of $KICKQ_TOKEN_FILE (pods) or the payload's token (webhooks)")
		return
	}
	// The token is checked before the body is read: a client without one is never read from.
	job, code, msg := s.authorize(r.Context(), key, token)
	if code != 0 {
		switch code {
		case http.StatusUnauthorized:
			w.Header().Set("WWW-Authenticate", `Bearer realm="kickq", error="invalid_token"`)
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			w.Header().Set("Retry-After", "1")
		}
		refuse(w, r, code, msg)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limits.MaxReportBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the report is larger than %d bytes", limits.MaxReportBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "reading the report: "+err.Error())
		return
	}
	rep, code, msg := parse(raw)
	if code != 0 {
		writeError(w, code, msg)
		return
	}
	n := reportedAttempt(job)
	ack := s.Store.Add(key, n, rep)
	if ack == nil {
		writeJSON(w, http.StatusAccepted, answer{Status: "accepted"})
		return
	}
	awaitOutcome(w, s.netClock().Now())
	select {
	case a := <-ack:
		if !a.Written {
			writeError(w, http.StatusConflict, fmt.Sprintf("attempt %d ended before its outcome was written", n))
			return
		}
		writeJSON(w, http.StatusOK, answer{Status: "recorded", Message: fmt.Sprintf("outcome %s of attempt %d is recorded", rep.Outcome, n)})
	case <-s.netClock().After(outcomeWait):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "the outcome is not written yet; send it again")
	case <-r.Context().Done():
		// The reporter left, or the manager stops: never let the server's default 200 say it is
		// written. (The write may still happen; a repeated outcome is answered 409 then.)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "the manager is stopping; the outcome may not be written: send it again")
	}
}

// parse validates a report body.
func parse(raw []byte) (Report, int, string) {
	var b Body
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return Report{}, http.StatusBadRequest, "the report is not valid JSON of the report schema: " + err.Error()
	}
	if dec.More() {
		return Report{}, http.StatusBadRequest, "the report has data after its JSON object"
	}
	var r Report
	if b.Progress != nil {
		p := &kickqv1alpha1.Progress{Message: limits.Truncate(b.Progress.Message, maxMessageBytes, "")}
		if b.Progress.Percent != nil {
			if *b.Progress.Percent < 0 || *b.Progress.Percent > 100 {
				return r, http.StatusBadRequest, fmt.Sprintf("progress.percent is %d; it must be 0 to 100", *b.Progress.Percent)
			}
			p.Percent = *b.Progress.Percent
		}
		r.Progress = p
	}
	if len(b.Log) > 0 && string(b.Log) != "null" {
		var one string
		if err := json.Unmarshal(b.Log, &one); err == nil {
			r.Logs = []string{one}
		} else if err := json.Unmarshal(b.Log, &r.Logs); err != nil {
			return r, http.StatusBadRequest, "log must be a string or an array of strings"
		}
		if len(r.Logs) > maxLogLines {
			return r, http.StatusRequestEntityTooLarge, fmt.Sprintf("log has %d lines; one report carries at most %d", len(r.Logs), maxLogLines)
		}
		for i := range r.Logs {
			r.Logs[i] = limits.Truncate(r.Logs[i], limits.MaxMessageBytes, "")
		}
	}
	if len(b.Result) > 0 && string(b.Result) != "null" {
		var compact bytes.Buffer
		if err := json.Compact(&compact, b.Result); err != nil {
			return r, http.StatusBadRequest, "result is not valid JSON: " + err.Error()
		}
		if compact.Len() > limits.MaxResultBytes {
			return r, http.StatusRequestEntityTooLarge, fmt.Sprintf("result is %d bytes; status keeps at most %d", compact.Len(), limits.MaxResultBytes)
		}
		r.Result = &apiextensionsv1.JSON{Raw: compact.Bytes()}
	}
	switch b.Outcome {
	case "", kickqv1alpha1.OutcomeSucceed, kickqv1alpha1.OutcomeFail, kickqv1alpha1.OutcomeDie, kickqv1alpha1.OutcomeRetry:
	default:
		return r, http.StatusBadRequest, fmt.Sprintf("outcome %q is not one of Succeed, Fail, Die, Retry", b.Outcome)
	}
	r.Outcome = b.Outcome
	r.Message = limits.Truncate(b.Message, maxMessageBytes, "")
	if b.RetryAfterSeconds != nil {
		if b.Outcome != kickqv1alpha1.OutcomeRetry {
			return r, http.StatusBadRequest, "retryAfterSeconds goes only with outcome Retry"
		}
		if *b.RetryAfterSeconds < 0 || *b.RetryAfterSeconds > maxRetryAfterSeconds {
			return r, http.StatusBadRequest, fmt.Sprintf("retryAfterSeconds must be 0 to %d", maxRetryAfterSeconds)
		}
		r.RetryAfter = time.Duration(*b.RetryAfterSeconds) * time.Second
	}
	return r, 0, ""
}

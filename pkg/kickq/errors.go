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

package kickq

import (
	"fmt"
	"strings"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// FailedError is the error of Wait (and Result.Into) for a job that ended Failed. errors.As finds
// it in what Wait returns.
type FailedError struct {
	// Namespace and Name are the job's.
	Namespace, Name string
	// Reason is why the job failed: RetriesExhausted, Died, DeadlineExceeded, DependencyFailed,
	// InvalidSpec, Cancelled, or a reason added later (status.reason).
	Reason string
	// Message says what happened, for people (status.message).
	Message string
	// Attempts is the number of attempts started.
	Attempts int32
	// LastAttempt is the newest attempt's record (its outcome, reason, message, exit code or
	// HTTP status), or nil when no attempt started (InvalidSpec, DependencyFailed, a job
	// cancelled while it waited).
	LastAttempt *kickqv1alpha1.AttemptRecord
}

func (e *FailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kickq: job %s/%s failed", e.Namespace, e.Name)
	if e.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Reason)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if a := e.LastAttempt; a != nil && (a.Reason != "" || a.Message != "") {
		fmt.Fprintf(&b, "; last attempt %d", a.Number)
		if a.Reason != "" {
			fmt.Fprintf(&b, " %s", a.Reason)
		}
		if a.Message != "" && a.Message != e.Message {
			fmt.Fprintf(&b, ": %s", a.Message)
		}
	}
	return b.String()
}

// SpecMismatchError is returned by Enqueue, together with the existing job, when a job of the
// requested name already exists but was made from a different request. The existing job is not
// changed.
type SpecMismatchError struct {
	// Job is the existing job.
	Job *kickqv1alpha1.QueueJob
	// Fields are the spec fields that differ from the request, for example spec.data.
	Fields []string
}

func (e *SpecMismatchError) Error() string {
	return fmt.Sprintf("kickq: job %s/%s already exists with a different %s: it is returned unchanged",
		e.Job.Namespace, e.Job.Name, strings.Join(e.Fields, ", "))
}

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

package audit

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

// Two lines as kube-apiserver --audit-log-format=json writes them, and the start of a third the
// API server had not finished writing.
const (
	createLine = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"0550135a-af9b-4419-bb55-e26de6bb2253","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/ns/pods","verb":"create","user":{"username":"kickq-manager","groups":["system:authenticated"]},"sourceIPs":["127.0.0.1"],"userAgent":"manager","objectRef":{"resource":"pods","namespace":"ns","name":"j-1-1","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestObject":{"kind":"Pod","apiVersion":"v1"},"requestReceivedTimestamp":"2026-12-01T23:03:26.409350Z","stageTimestamp":"2026-12-01T23:03:26.411083Z"}`
	statusLine = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"17d46e47-daf9-452c-9399-c430ad90cf3c","stage":"ResponseComplete","requestURI":"/apis/kickq.dev/v1alpha1/namespaces/ns/queuejobs/j-1/status","verb":"update","user":{"username":"kickq-manager"},"objectRef":{"resource":"queuejobs","namespace":"ns","name":"j-1","apiGroup":"kickq.dev","apiVersion":"v1alpha1","subresource":"status"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-12-01T23:03:26.500000Z","stageTimestamp":"2026-12-01T23:03:26.502000Z"}`
	cutLine    = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"9f1c","stage":"Respon`
)

// read is what a test keeps of an event.
type read struct {
	Verb, User, Resource, Name string
	Code                       int
	Received, Committed        time.Time
	Body                       string
}

func summary(evs []Event) []read {
	out := make([]read, 0, len(evs))
	for i := range evs {
		e := &evs[i]
		r := read{Verb: e.Verb, User: e.User.Username, Resource: Resource(e), Code: Code(e),
			Received: e.RequestReceivedTimestamp.UTC(), Committed: e.StageTimestamp.UTC()}
		if e.ObjectRef != nil {
			r.Name = e.ObjectRef.Name
		}
		if e.RequestObject != nil {
			r.Body = string(e.RequestObject.Raw)
		}
		out = append(out, r)
	}
	return out
}

func micro(s string) time.Time {
	t, err := time.Parse(metav1.RFC3339Micro, s)
	if err != nil {
		panic(err)
	}
	return t
}

var (
	podCreate = read{Verb: "create", User: "kickq-manager", Resource: "pods", Name: "j-1-1", Code: 201,
		Received: micro("2026-12-01T23:03:26.409350Z"), Committed: micro("2026-12-01T23:03:26.411083Z"),
		Body: `{"kind":"Pod","apiVersion":"v1"}`}
	statusWrite = read{Verb: "update", User: "kickq-manager", Resource: "queuejobs/status", Name: "j-1", Code: 200,
		Received: micro("2026-12-01T23:03:26.500000Z"), Committed: micro("2026-12-01T23:03:26.502000Z")}
)

// TestReadFile: the events between two offsets that the filter keeps, in order; a line that is
// not a whole event (cut at an offset, or still being written) is skipped, not an error.
func TestReadFile(t *testing.T) {
	log := createLine + "\n" + statusLine + "\n" + cutLine
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	second := int64(len(createLine) + 1)
	creates := func(e *Event) bool { return e.Verb == "create" }
	cases := map[string]struct {
		from, to int64
		keep     func(*Event) bool
		want     []read
	}{
		"every whole line":                    {want: []read{podCreate, statusWrite}},
		"the filter drops the status write":   {keep: creates, want: []read{podCreate}},
		"from the second line":                {from: second, want: []read{statusWrite}},
		"to the middle of the second line":    {to: second + 40, want: []read{podCreate}},
		"to the end of the second line":       {to: second + int64(len(statusLine)), want: []read{podCreate, statusWrite}},
		"to at or before from: to the end":    {from: second, to: second, want: []read{statusWrite}},
		"from the middle of the first line":   {from: 10, want: []read{statusWrite}},
		"from the end: nothing":               {from: int64(len(log)), want: []read{}},
		"the filter rejects every whole line": {keep: func(*Event) bool { return false }, want: []read{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			evs, err := ReadFile(path, tc.from, tc.to, tc.keep)
			if err != nil {
				t.Fatalf("ReadFile: %v", err)
			}
			if diff := cmp.Diff(tc.want, summary(evs)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadFileErrors: a missing log is an error; a line over the limit ends the read with
// bufio.ErrTooLong and the events before it.
func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(filepath.Join(dir, "absent.log"), 0, 0, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent log: err = %v, want ErrNotExist", err)
	}
	path := filepath.Join(dir, "audit.log")
	long := createLine + "\n" + strings.Repeat("x", maxLine+1) + "\n" + statusLine + "\n"
	if err := os.WriteFile(path, []byte(long), 0o600); err != nil {
		t.Fatal(err)
	}
	evs, err := ReadFile(path, 0, 0, nil)
	if !errors.Is(err, bufio.ErrTooLong) {
		t.Errorf("over-long line: err = %v, want bufio.ErrTooLong", err)
	}
	if diff := cmp.Diff([]read{podCreate}, summary(evs)); diff != "" {
		t.Errorf("events before the over-long line (-want +got):\n%s", diff)
	}
}

// TestCodeAndResource: 0 without a response status; "resource/subresource" with one, "" without
// an object.
func TestCodeAndResource(t *testing.T) {
	cases := map[string]struct {
		e            Event
		wantCode     int
		wantResource string
	}{
		"no status, no object": {},
		"a pod create": {e: Event{ObjectRef: &auditv1.ObjectReference{Resource: "pods"}, ResponseStatus: &metav1.Status{Code: 201}},
			wantCode: 201, wantResource: "pods"},
		"a status write": {e: Event{ObjectRef: &auditv1.ObjectReference{Resource: "queuejobs", Subresource: "status"}, ResponseStatus: &metav1.Status{Code: 409}},
			wantCode: 409, wantResource: "queuejobs/status"},
	}
	for name, tc := range cases {
		if got := Code(&tc.e); got != tc.wantCode {
			t.Errorf("%s: Code = %d, want %d", name, got, tc.wantCode)
		}
		if got := Resource(&tc.e); got != tc.wantResource {
			t.Errorf("%s: Resource = %q, want %q", name, got, tc.wantResource)
		}
	}
}

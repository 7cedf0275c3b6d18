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

// Package audit reads the API server's audit log (--audit-log-format=json: one audit.k8s.io/v1
// Event per line) for the harnesses that count side effects from it (test/bench,
// test/reliability). It decides nothing about what a count means; it never writes the log, and it
// skips a line it cannot parse (a line cut at a read mark, or the partial last line of a log still
// being written) rather than failing the read.
package audit

import (
	"bufio"
	"encoding/json"
	"io"
	"os"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

// Event is one audit log line: the API server's own type.
type Event = auditv1.Event

// Lines up to maxLine bytes are read (an event with a request body can be large); a longer one
// ends the read with bufio.ErrTooLong.
const (
	initialLine = 1 << 20
	maxLine     = 16 << 20
)

// ReadFile returns the events of the audit log at path between byte offsets from and to (from
// to the end when to <= from) that keep accepts (all when keep is nil), in the log's order.
// A line that is not a JSON event is skipped. A read error ends the read: the events before it
// are returned with the error.
func ReadFile(path string, from, to int64, keep func(*Event) bool) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil, err
	}
	var r io.Reader = f
	if to > from {
		r = io.LimitReader(f, to-from)
	}
	return Read(r, keep)
}

// Read returns the events of a JSON-lines audit log that keep accepts (all when keep is nil),
// skipping lines that are not a JSON event; see ReadFile.
func Read(r io.Reader, keep func(*Event) bool) ([]Event, error) {
	var out []Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, initialLine), maxLine)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue // a line cut at a mark, or the last one still being written
		}
		if keep == nil || keep(&e) {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}

// Code is the response's status code (0 when unknown).
func Code(e *Event) int {
	if e.ResponseStatus == nil {
		return 0
	}
	return int(e.ResponseStatus.Code)
}

// Resource is "resource" or "resource/subresource" ("" for a request that names no object).
func Resource(e *Event) string {
	if e.ObjectRef == nil {
		return ""
	}
	if e.ObjectRef.Subresource != "" {
		return e.ObjectRef.Resource + "/" + e.ObjectRef.Subresource
	}
	return e.ObjectRef.Resource
}

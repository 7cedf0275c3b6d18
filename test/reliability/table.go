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

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// Check is one invariant of a row: its name, the figure measured, and whether it held.
type Check struct {
	Name   string `json:"name"`
	Figure string `json:"figure"`
	OK     bool   `json:"ok"`
	// Observed: a figure the scenario reports without promising it (a misconfiguration's
	// behaviour): shown with ◦, never failing the row.
	Observed bool `json:"observed,omitempty"`
}

// Row is one scenario's line in docs/reliability.md.
type Row struct {
	Scenario int     `json:"scenario"`
	Name     string  `json:"name"`
	Done     string  `json:"done"`   // what was done
	Load     string  `json:"load"`   // the load
	Faults   string  `json:"faults"` // the faults injected
	Checks   []Check `json:"checks"`
	// Notes are findings worth a sentence below the table (what the scenario documents).
	Notes   []string `json:"notes,omitempty"`
	Seconds float64  `json:"seconds"`
	// The run the row comes from: when (UTC), -size, -seed, the load average at its end.
	At      string  `json:"at,omitempty"`
	Size    float64 `json:"size,omitempty"`
	Seed    int64   `json:"seed,omitempty"`
	LoadEnd string  `json:"loadEnd,omitempty"`
}

// NewRow starts a row for a scenario.
func NewRow(s Scenario) *Row { return &Row{Scenario: s.ID, Name: s.Name} }

// Check records an invariant with its figure.
func (r *Row) Check(name string, ok bool, format string, args ...any) bool {
	r.Checks = append(r.Checks, Check{Name: name, Figure: fmt.Sprintf(format, args...), OK: ok})
	return ok
}

// Observe records a figure reported without a promise (◦ in the table): held or not, the row
// does not fail by it.
func (r *Row) Observe(name string, held bool, format string, args ...any) {
	verdict := "held"
	if !held {
		verdict = "exceeded"
	}
	r.Checks = append(r.Checks, Check{Name: name, Figure: fmt.Sprintf(format, args...) + " (" + verdict + ")", OK: true, Observed: true})
}

// Fail records a failed check (an error that stopped the scenario, for one).
func (r *Row) Fail(name, figure string) {
	r.Checks = append(r.Checks, Check{Name: name, Figure: figure})
}

// Note adds a finding below the table.
func (r *Row) Note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// Passed reports whether every check held (and there was at least one).
func (r *Row) Passed() bool {
	if len(r.Checks) == 0 {
		return false
	}
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Verdict is "passed" or "FAILED".
func (r *Row) Verdict() string {
	if r.Passed() {
		return "passed"
	}
	return "FAILED"
}

func (r *Row) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

const tableHeader = `# Reliability

This page is written by ` + "`make reliability`" + ` (` + "`go run ./test/reliability`" + `, the harness in
[test/reliability](../test/reliability)): each scenario starts its own etcd and kube-apiserver (built from
source into bin/k8s), runs bin/manager as a child process with explicit flags, plays the kubelet,
webhook receivers and pull workers, injects the faults below, and checks the invariants from what
the side effects recorded (the API server's audit log of pod creates, the receiver's log of calls
per webhook-id, the workers' claims) rather than from the manager's own status writes. A row is
replaced each time its scenario runs; rows of scenarios not run are kept.

`

// WriteTable writes docs/reliability.md: the rows of this run, plus the rows of an earlier run
// for scenarios not run now (kept from the JSON block at the end of the file).
func WriteTable(path string, rows []*Row) error {
	all := map[int]*Row{}
	for _, r := range readRows(path) {
		all[r.Scenario] = r
	}
	for _, r := range rows {
		all[r.Scenario] = r
	}
	ids := make([]int, 0, len(all))
	for id := range all {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	var b strings.Builder
	b.WriteString(tableHeader)
	fmt.Fprintf(&b, "Machine of the last run: %d cores (%s). Each row says when it ran, its `-size` (1 is the issue's full load), "+
		"its `-seed` (`go run ./test/reliability -scenarios N -seed S` repeats its fault points) and the load average at its end "+
		"(the machine is shared). ✔ is an invariant that held, ✘ one that did not, ◦ a figure reported without a promise. "+
		"A rate limit at a side effect (pod creates in the audit log, calls at the receiver) is checked in windows of its "+
		"period less "+WireSlack.String()+" (the API server and the receiver stamp a create or a call after the manager counted it), "+
		"with the count in strict windows beside it. "+
		"Logs, audit logs and each row's JSON are in `bin/reliability/`.\n\n", runtime.NumCPU(), cpuModel())
	b.WriteString("| # | scenario | what was done | load | faults injected | invariants (figures) | result |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, id := range ids {
		r := all[id]
		var checks []string
		for _, c := range r.Checks {
			m := "✔"
			switch {
			case c.Observed:
				m = "◦"
			case !c.OK:
				m = "✘"
			}
			checks = append(checks, fmt.Sprintf("%s %s: %s", m, cell(c.Name), cell(c.Figure)))
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s in %.0f s (%s, size %g, seed %d, load %s) |\n", r.Scenario, cell(r.Name), cell(r.Done), cell(r.Load), cell(r.Faults),
			strings.Join(checks, "<br>"), r.Verdict(), r.Seconds, r.At, r.Size, r.Seed, r.LoadEnd)
	}
	for _, id := range ids {
		r := all[id]
		doc := scenarios[id].Doc
		if len(r.Notes) == 0 && doc == "" {
			continue
		}
		fmt.Fprintf(&b, "\n**Scenario %d (%s).**", r.Scenario, r.Name)
		if doc != "" {
			b.WriteString(" " + doc)
		}
		for _, n := range r.Notes {
			b.WriteString(" " + n)
		}
		b.WriteString("\n")
	}
	js, err := json.Marshal(rowsOf(all, ids))
	if err != nil {
		return err
	}
	fmt.Fprintf(&b, "\n<!-- rows (read back by the harness): %s -->\n", js)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func rowsOf(all map[int]*Row, ids []int) []*Row {
	out := make([]*Row, 0, len(ids))
	for _, id := range ids {
		out = append(out, all[id])
	}
	return out
}

// readRows reads the rows kept in an earlier table's JSON comment.
func readRows(path string) []*Row {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	const marker = "<!-- rows (read back by the harness): "
	i := strings.LastIndex(string(b), marker)
	if i < 0 {
		return nil
	}
	rest := strings.TrimSuffix(strings.TrimSpace(string(b[i+len(marker):])), "-->")
	var rows []*Row
	if json.Unmarshal([]byte(strings.TrimSpace(rest)), &rows) != nil {
		return nil
	}
	return rows
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

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
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"kickq.dev/kickq/test/util"
)

func init() {
	Register(Scenario{ID: 9, Name: "Fuzzing", Run: scenario9, Doc: "Each fuzz target's seeds (f.Add and testdata/fuzz/<target>) " +
		"run as plain tests in `make test`; `make reliability` fuzzes each for a bounded time. An input that fails is written to the " +
		"target's testdata/fuzz folder: commit it with the fix, as its regression test."})
}

// fuzzTarget is one `go test -fuzz` target of a product package. Its seed corpus (f.Add and
// testdata/fuzz/<Name>) also runs in `make test`, as a plain test.
type fuzzTarget struct {
	Pkg, Name string
	// Seconds is its share of the fuzzing time at -size 1.
	Seconds int
	// What it checks, for the table.
	What string
}

var fuzzTargets = []fuzzTarget{
	{"./internal/cron", "FuzzParseDecide", 20, "cron Parse and Decide: sound plans, a bounded walk"},
	{"./internal/lifecycle", "FuzzDecide", 25, "lifecycle Decide: deterministic, no lost or extra attempt, bounded messages"},
	{"./internal/backoff", "FuzzDelay", 15, "backoff arithmetic against big integers: no overflow"},
	{"./internal/backoff", "FuzzFixedPolicies", 5, "callback and immediate-retry backoff: bounded, monotone"},
	{"./internal/executor", "FuzzClassifyAnswer", 15, "webhook answer classification: outcome, wait cap, redacted URL"},
	{"./internal/report", "FuzzParseReport", 15, "report API bodies: every cap status keeps"},
	{"./internal/report", "FuzzVerifyToken", 10, "webhook report tokens: one spelling, own job only"},
	{"./internal/report", "FuzzParsePodToken", 10, "pod token claims"},
	{"./internal/signing", "FuzzKeys", 10, "signing Secret values: never quoted, signatures the Standard Webhooks library verifies"},
}

var (
	fuzzExecs   = regexp.MustCompile(`execs: (\d+)`)
	fuzzCorpus  = regexp.MustCompile(`\(total: (\d+)\)`)
	fuzzFailing = regexp.MustCompile(`Failing input written to (\S+)`)
)

// scenario9 runs every fuzz target for a bounded time (its share, times -size, at least 3 s), one
// at a time on one worker (-parallel 1). A target that finds an input writes it to its
// testdata/fuzz folder: commit it with the fix, as its regression test.
func scenario9(ctx context.Context, h *Harness) *Row {
	row := &Row{Scenario: 9, Name: "Fuzzing"}
	total := 0
	for _, t := range fuzzTargets {
		total += h.Scale(t.Seconds, 3)
	}
	row.Done = fmt.Sprintf("`go test -fuzz` on %d targets of the product packages, one after the other, each from its committed corpus "+
		"(f.Add seeds and testdata/fuzz)", len(fuzzTargets))
	row.Load = fmt.Sprintf("%d s of fuzzing in all, one worker (-parallel 1)", total)
	row.Faults = "inputs the fuzzer generates: hostile schedules, statuses, answers, bodies, tokens, Secret values"
	for _, t := range fuzzTargets {
		secs := h.Scale(t.Seconds, 3)
		execs, corpus, failing, err := runFuzz(ctx, h, t, secs)
		figure := fmt.Sprintf("%s execs in %d s, corpus %d", humanCount(execs), secs, corpus)
		if err != nil {
			figure = fmt.Sprintf("%s: %v", figure, err)
			if failing != "" {
				figure += "; failing input " + failing
			}
		}
		// Inputs must have run: a run that only gathered its baseline checked nothing new.
		if err == nil && execs == 0 {
			figure += " (no input ran beyond the corpus: the machine is too loaded)"
		}
		row.Check(fmt.Sprintf("%s (%s): %s", t.Name, strings.TrimPrefix(t.Pkg, "./"), t.What), err == nil && execs > 0, "%s", figure)
	}
	row.Note("Fuzzing found that a webhook attempt's report token verified in other spellings (`kq1.+3.…`, `kq1.03.…`, other unused base64 bits " +
		"of the signature): Signer.Verify now compares the whole token (regression test TestTokenHasOneSpelling).")
	return row
}

// runFuzz runs one target and reads its figures from go test's output (kept under the scenario's
// folder).
func runFuzz(ctx context.Context, h *Harness, t fuzzTarget, secs int) (execs, corpus int, failing string, err error) {
	cctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+15*time.Minute) // the instrumented build comes first (minutes, once)
	defer cancel()
	cmd := exec.CommandContext(cctx, "go", "test", "-run", "^$", "-fuzz", "^"+t.Name+"$", "-fuzztime", fmt.Sprintf("%ds", secs),
		"-parallel", "1", t.Pkg)
	cmd.Dir = util.RepoRoot()
	out, runErr := cmd.CombinedOutput()
	_ = os.WriteFile(h.Path(t.Name+".log"), out, 0o644)
	text := string(out)
	if m := fuzzExecs.FindAllStringSubmatch(text, -1); len(m) > 0 {
		execs, _ = strconv.Atoi(m[len(m)-1][1])
	}
	if m := fuzzCorpus.FindAllStringSubmatch(text, -1); len(m) > 0 {
		corpus, _ = strconv.Atoi(m[len(m)-1][1])
	}
	if m := fuzzFailing.FindStringSubmatch(text); m != nil {
		failing = strings.TrimPrefix(t.Pkg, "./") + "/" + m[1]
	}
	if runErr != nil {
		return execs, corpus, failing, fmt.Errorf("go test -fuzz: %v (log %s)", runErr, h.Path(t.Name+".log"))
	}
	return execs, corpus, "", nil
}

func humanCount(n int) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

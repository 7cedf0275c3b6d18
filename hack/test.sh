#!/usr/bin/env bash
# Runs every Go test (unit and envtest suites) and prints a short summary; the whole output is in
# bin/test.log. Extra arguments go to `go test`.
#
# The envtest suites (test/integration/...) run in a second `go test`, with $GINKGO_FLAGS after
# -args (default -ginkgo.randomize-all: specs run in a random order, so that no spec depends on
# another); the other packages are plain Go tests, which refuse Ginkgo's flags. Each suite prints
# its seed: GINKGO_FLAGS="-ginkgo.randomize-all -ginkgo.seed=N" repeats an order.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p bin
log=bin/test.log
export GINKGO_NO_COLOR=TRUE
ginkgo_flags=${GINKGO_FLAGS--ginkgo.randomize-all}
# The real-clock suite measures at a receiver's clock: it runs on its own, after the other
# suites, so that they do not load the machine while it measures.
realclock=./test/integration/realclock
integration=$(go list ./test/integration/... | grep -v '/test/integration/realclock$')
start=$(date +%s)
rc=0
units=$(go list ./... | grep -v '/test/integration/') || rc=$?
if [ $rc -eq 0 ]; then
  # shellcheck disable=SC2086 # one package path per word
  go test -count=1 -v "$@" $units >"$log" 2>&1 || rc=$?
else
  echo "go list ./... failed" >"$log"
fi
# shellcheck disable=SC2086 # the Ginkgo flags and package paths are separate words
go test -count=1 -v "$@" $integration -args $ginkgo_flags >>"$log" 2>&1 || rc=$?
# shellcheck disable=SC2086 # the Ginkgo flags are separate words
go test -count=1 -v "$@" "$realclock" -args $ginkgo_flags >>"$log" 2>&1 || rc=$?
# The real-clock suite's figures (rate limit and delays at the receiver).
grep -E '^\s*MEASURED ' "$log" | sed -E 's/^\s*//' || true
took=$(( $(date +%s) - start ))
# Per package results, the Ginkgo suites' seeds and spec counts.
grep -E '^(ok|FAIL|---)[[:space:]]|^Running Suite: |^Random Seed: |^Ran [0-9]+ of [0-9]+ Specs|^\[FAIL\]|^panic:' "$log" | grep -vE '^--- PASS' || true
specs_passed=$(sed -nE 's/.*SUCCESS! -- ([0-9]+) Passed.*/\1/p; s/.*FAIL! -- ([0-9]+) Passed.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
specs_failed=$(sed -nE 's/.*-- [0-9]+ Passed \| ([0-9]+) Failed.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
suites=$(grep -cE '^Ran [0-9]+ of [0-9]+ Specs' "$log")
# Plain Go tests: top-level and subtests, less the Go tests that only host a Ginkgo suite.
go_passed=$(grep -cE '^[[:space:]]*--- PASS' "$log")
go_failed=$(grep -cE '^[[:space:]]*--- FAIL' "$log")
suite_hosts_failed=$(grep -cE '^FAIL! --' "$log")
passed=$(( go_passed - (suites - suite_hosts_failed) + specs_passed ))
failed=$(( go_failed - suite_hosts_failed + specs_failed ))
[ $passed -ge 0 ] || passed=0
[ $failed -ge 0 ] || failed=0
if [ $rc -ne 0 ]; then
  echo "--- failures (full output in $log) ---"
  grep -nE -B2 -A30 '^\s*\[FAIL|^--- FAIL|^panic:|\[FAILED\]|cannot|build failed' "$log" | head -400
fi
echo "go test took ${took}s; $suites Ginkgo suites ran $specs_passed specs"
echo "tests: $passed passed, $failed failed"
exit $rc

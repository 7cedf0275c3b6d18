#!/usr/bin/env bash
# Fails when a hand-written, non-test Go file in controllers/ or internal/ is over 500 lines: one
# behaviour per file (README's layout section says where each lives). `make verify` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
max=500
status=0
while IFS= read -r f; do
  case "$f" in *_test.go|*zz_generated*) continue ;; esac
  n=$(wc -l <"$f")
  if [ "$n" -gt "$max" ]; then
    echo "$f has $n lines (at most $max): split it by behaviour"
    status=1
  fi
done < <(git ls-files 'controllers/*.go' 'internal/*.go')
exit "$status"

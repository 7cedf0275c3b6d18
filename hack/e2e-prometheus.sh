#!/usr/bin/env bash
# Makes sure Debian's prometheus package is installed, for the e2e spec that scrapes the
# in-cluster manager (test/e2e/prometheus_test.go), and prints the prometheus binary's path.
# The package's own service is not used (and is stopped if the install started it): the spec
# runs its own Prometheus on 127.0.0.1 with its own configuration and data directory.
set -euo pipefail
if ! command -v prometheus >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "prometheus is missing: install Debian's prometheus package (apt-get install prometheus)" >&2
    exit 1
  fi
  echo "installing Debian's prometheus package" >&2
  apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  if [ -x /etc/init.d/prometheus ]; then
    /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  fi
fi
command -v prometheus

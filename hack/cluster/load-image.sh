#!/usr/bin/env bash
# Imports an OCI archive (default: the manager's, from `make image`) into the real node's
# containerd, in the k8s.io namespace the kubelet uses, with all its platforms.
# Usage: hack/cluster/load-image.sh [archive]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
W="$root/bin/cluster"
archive=${1:-$root/bin/image/kickq-manager.tar}
SOCK="$W/containerd/containerd.sock"
[ -S "$SOCK" ] || { echo "[cluster] no containerd at $SOCK: run make cluster-up" >&2; exit 2; }
ctr -a "$SOCK" -n k8s.io images import --all-platforms "$archive" >/dev/null
ref=$(cat "$archive.ref" 2>/dev/null || true)
printf '[cluster] imported %s%s\n' "$archive" "${ref:+ ($ref)}" >&2

#!/usr/bin/env bash
# Stops what hack/cluster/up.sh started (by the PIDs it recorded), removes the pods' containers,
# mounts and network namespaces, and the paths kubelet, containerd and CNI write outside
# bin/cluster. `down --purge` also deletes bin/cluster (certificates, etcd data, images).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
log() { printf '[cluster] %s\n' "$*" >&2; }
[ -d "$root/bin/cluster/pids" ] || { log "nothing to stop"; exit 0; }
# The physical path, as /proc/self/mounts shows it (bin/ may be a symlink).
W=$(cd "$root/bin/cluster" && pwd -P)
SOCK="$W/containerd/containerd.sock"

stop() { # stop <name>: SIGTERM, then SIGKILL after 10 s
  local f="$W/pids/$1"; [ -f "$f" ] || return 0
  local pid; pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$f" "$f.cmd"
}

stop kubelet
# Pods' containers and sandboxes: stop the runc shims containerd started for them.
if [ -S "$SOCK" ]; then
  for t in $(ctr -a "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do ctr -a "$SOCK" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  sleep 1
  for t in $(ctr -a "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do ctr -a "$SOCK" -n k8s.io tasks delete -f "$t" >/dev/null 2>&1; done
  for c in $(ctr -a "$SOCK" -n k8s.io containers ls -q 2>/dev/null); do ctr -a "$SOCK" -n k8s.io containers delete "$c" >/dev/null 2>&1; done
fi
stop containerd
# Shims outlive containerd: kill those of our namespace.
pkill -KILL -f "containerd-shim-runc-v2 -namespace k8s.io -address $SOCK" 2>/dev/null
stop coredns
stop kube-proxy
# The Service rules kube-proxy wrote into iptables (its chains only).
[ -x "$root/bin/k8s/kube-proxy" ] && "$root/bin/k8s/kube-proxy" --cleanup >/dev/null 2>&1
stop kube-scheduler
stop kube-controller-manager
stop kube-apiserver
stop etcd

# The kubelet's root folder is a bind mount of itself that holds the pods' mounts: detaching it
# lazily takes them all at once (one umount per mount would take seconds each in a big table).
while grep -q " $W/kubelet/root " /proc/self/mounts; do umount -l "$W/kubelet/root" || break; done
# Mounts under the work folder (pod volumes, sandbox shm, rootfs), deepest first.
grep -o " $W[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
# Network namespaces of pods, the bridge, and fixed paths written outside bin/cluster.
for ns in /run/netns/cni-*; do [ -e "$ns" ] && { umount "$ns" 2>/dev/null; rm -f "$ns"; }; done
ip link show cni0 >/dev/null 2>&1 && ip link delete cni0 2>/dev/null
rm -rf /var/lib/cni/results /var/lib/cni/networks/kickq /var/lib/kubelet/device-plugins /var/lib/kubelet/plugins_registry \
  /run/containerd/s /run/containerd/io.containerd.runtime.v2.task/k8s.io 2>/dev/null
rm -rf "$W/containerd/state" "$W/cni/ipam" 2>/dev/null
if [ "${1:-}" = --purge ]; then rm -rf "$W"; fi
log "stopped"

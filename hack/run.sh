#!/usr/bin/env bash
# `make run`: runs the kickq manager.
# - If the cluster of your current kubeconfig answers, installs the CRDs and the admission policies
#   there (server-side apply) and runs the manager against it.
# - Otherwise, on Linux as root, brings up a real single-node cluster (hack/cluster/up.sh: pods
#   really run) and runs the manager on the host against it.
# - Otherwise starts a local control plane (etcd + kube-apiserver built from source into bin/k8s),
#   installs the CRDs and policy, writes its kubeconfig to bin/local/kubeconfig and runs the manager
#   on it. Ctrl-C stops the manager and the control plane.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

manager_flags=(--metrics-bind-address=127.0.0.1:8080 --health-probe-bind-address=127.0.0.1:8081 --zap-log-level=info
  --report-bind-address=127.0.0.1:8082)

if kubectl config current-context >/dev/null 2>&1 && kubectl version --request-timeout=3s >/dev/null 2>&1; then
  ctx=$(kubectl config current-context 2>/dev/null || echo "?")
  echo "make run: using the cluster of context '$ctx' from your kubeconfig"
  kubectl apply --server-side --force-conflicts -f config/crd/bases -f config/policy/inline-pod-target.yaml -f config/policy/queuejob-immutable-spec.yaml
  echo "make run: next, in another terminal: kubectl apply -f config/samples/"
  exec go run ./cmd/manager "${manager_flags[@]}"
fi

if [ "$(uname -s)" = Linux ] && [ "$(id -u)" = 0 ] && [ "${KICKQ_RUN_NODE:-1}" != 0 ]; then
  echo "make run: no cluster answers on your kubeconfig; bringing up a real single-node cluster (hack/cluster/up.sh)"
  kubeconfig=$(hack/cluster/up.sh)
  go build -o bin/manager ./cmd/manager
  cat <<EOM

  kickq is running on a real single-node cluster: pod jobs run in real containers (images are
  built locally; busybox:1.37 and localhost/busybox:local are on the node). In another terminal:

    export KUBECONFIG=$kubeconfig
    kubectl apply -f config/samples/
    kubectl get kqj -w

  Ctrl-C here stops the manager; the cluster keeps running until: make cluster-down

EOM
  # Pods reach the report API on the bridge's host address; webhooks may reach loopback and the
  # pod network (local mode only).
  echo "make run: webhook calls may reach loopback (--webhook-allow-cidrs=127.0.0.0/8,::1/128, local mode only)"
  KUBECONFIG="$kubeconfig" exec bin/manager --metrics-bind-address=127.0.0.1:8080 --health-probe-bind-address=127.0.0.1:8081 \
    --zap-log-level=info --report-bind-address=10.88.0.1:8082 --report-url=http://10.88.0.1:8082 \
    --webhook-allow-cidrs=127.0.0.0/8,::1/128
fi

echo "make run: no cluster answers on your kubeconfig; starting a local control plane"
echo "make run: (pod jobs need a node: run as root on Linux for a real single-node cluster; here pods are created but do not run)"
hack/build-control-plane.sh >/dev/null
go build -o bin/localcp ./hack/localcp
go build -o bin/manager ./cmd/manager

kubeconfig="$root/bin/local/kubeconfig"
rm -f "$kubeconfig"
pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  echo "make run: stopped"
}
trap cleanup EXIT INT TERM

KUBEBUILDER_ASSETS="$root/bin/k8s" bin/localcp --write-kubeconfig "$kubeconfig" &
pids+=($!)
for _ in $(seq 1 600); do
  [ -f "$kubeconfig" ] && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "make run: the local control plane failed to start"; exit 1; }
  sleep 0.1
done
[ -f "$kubeconfig" ] || { echo "make run: the local control plane did not come up in 60s"; exit 1; }

cat <<EOM

  kickq is running on a local control plane (no kubelet: pods are created but do not run).
  In another terminal:

    export KUBECONFIG=$kubeconfig
    kubectl apply -f config/samples/

  Ctrl-C here stops the manager and the control plane.

EOM
# Local mode: webhook receivers run on this machine, so loopback is allowed (a deployed manager
# refuses it by default).
manager_flags+=(--webhook-allow-cidrs=127.0.0.0/8,::1/128)
echo "make run: webhook calls may reach loopback (--webhook-allow-cidrs=127.0.0.0/8,::1/128, local mode only)"
KUBECONFIG="$kubeconfig" bin/manager "${manager_flags[@]}" &
pids+=($!)
wait -n "${pids[@]}" || true

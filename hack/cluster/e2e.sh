#!/usr/bin/env bash
# `make e2e`: brings up the real node, builds the manager's image, imports it, deploys the manager
# INTO the node with config/default (kustomize: test/e2e/overlay, the image set to the one just
# built), waits for its Deployment to be Ready, runs the e2e suite against it, and installs once
# with the Helm chart (a smoke test). Times are printed as "[e2e] ..." lines.
#   E2E_FLAGS   extra flags for the suite (e.g. -ginkgo.focus=...)
#   E2E_PLATFORMS the image's platforms (default linux/amd64,linux/arm64)
#   E2E_HELM=0  skips the Helm smoke test; E2E_IN_PROCESS=0 the in-process (fake clock) specs
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export KUBECONFIG="$root/bin/cluster/kubeconfig"
t0=$(date +%s%3N)
since() { local ms=$(( $(date +%s%3N) - t0 )); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
log() { printf '[e2e] %s\n' "$*" >&2; }

hack/cluster/up.sh >/dev/null
ref=$(go run ./hack/image -ref localhost/kickq/manager:e2e -tag-with-digest -out bin/image/kickq-manager.tar \
  -platforms "${E2E_PLATFORMS:-linux/amd64,linux/arm64}")
hack/cluster/load-image.sh bin/image/kickq-manager.tar
log "image $ref built and imported at $(since)s"

# Deploy with kustomize; the one image line of config/default becomes the image just built.
rendered=$(kubectl kustomize test/e2e/overlay)
[ "$(grep -c 'image: kickq/manager:dev' <<<"$rendered")" = 1 ] || { log "config/default no longer names image kickq/manager:dev once"; exit 1; }
sed "s#image: kickq/manager:dev#image: $ref#" <<<"$rendered" | kubectl apply --server-side --force-conflicts -f - >/dev/null
kubectl -n kickq-system rollout status deployment/kickq-manager --timeout=180s >/dev/null
kubectl -n kickq-system wait --for=condition=Available deployment -l app.kubernetes.io/name=kickq,app.kubernetes.io/component=manager --timeout=60s >/dev/null
ready=$(since)
log "manager Ready in the cluster ${ready}s after make e2e started"

suite_start=$(date +%s)
# shellcheck disable=SC2086
KICKQ_E2E_MANAGER=cluster KICKQ_E2E_IMAGE="$ref" KICKQ_E2E_READY_SECONDS="$ready" go test -tags e2e -count=1 -timeout 30m ./test/e2e/ \
  -ginkgo.v -ginkgo.randomize-all -ginkgo.label-filter='!in-process' ${E2E_FLAGS:-}
log "suite against the in-cluster manager took $(( $(date +%s) - suite_start ))s"

# The specs that need a fake clock, with the controllers in the test process: the in-cluster
# manager is scaled to 0 meanwhile (it releases its Lease on the way out), then back.
if [ "${E2E_IN_PROCESS:-1}" != 0 ]; then
  replicas=$(kubectl -n kickq-system get deployment kickq-manager -o jsonpath='{.spec.replicas}')
  kubectl -n kickq-system scale deployment kickq-manager --replicas=0 >/dev/null
  kubectl -n kickq-system wait --for=delete pod -l app.kubernetes.io/name=kickq,app.kubernetes.io/component=manager --timeout=60s >/dev/null
  suite_start=$(date +%s)
  rc=0
  # shellcheck disable=SC2086
  KICKQ_E2E_MANAGER=process go test -tags e2e -count=1 -timeout 10m ./test/e2e/ -ginkgo.v -ginkgo.randomize-all \
    -ginkgo.label-filter=in-process ${E2E_FLAGS:-} || rc=$?
  kubectl -n kickq-system scale deployment kickq-manager --replicas="$replicas" >/dev/null
  [ "$rc" = 0 ] || exit "$rc"
  log "in-process (fake clock) specs took $(( $(date +%s) - suite_start ))s"
fi

[ "${E2E_HELM:-1}" = 0 ] || hack/cluster/helm-smoke.sh "$ref"
log "make e2e took $(since)s"

#!/usr/bin/env bash
# The Helm smoke test of `make e2e`: replaces the kustomize install (all but the CRDs, which Helm
# leaves alone when they exist) with `helm install` of charts/kickq, waits for the manager, runs
# one pod job that reports its outcome through the kickq-report Service, and uninstalls.
# Usage: hack/cluster/helm-smoke.sh <image reference>
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export KUBECONFIG="$root/bin/cluster/kubeconfig"
HELM=${HELM:-$root/bin/helm}
ref=$1
log() { printf '[e2e] helm: %s\n' "$*" >&2; }
t0=$(date +%s)

# The kustomize install's objects but the CRDs (their QueueJobs stay).
kubectl kustomize test/e2e/overlay | kubectl get -f - -o name --ignore-not-found 2>/dev/null |
  grep -v '^customresourcedefinition' | xargs -r kubectl delete --wait=true --ignore-not-found >/dev/null
kubectl create namespace kickq-system >/dev/null
kubectl label namespace kickq-system pod-security.kubernetes.io/enforce=restricted >/dev/null
"$HELM" install kickq charts/kickq --namespace kickq-system --wait --timeout 3m \
  --set image.repository="${ref%:*}" --set image.tag="${ref##*:}" --set 'webhook.allowedCIDRs={10.88.0.1/32}' >/dev/null
log "installed; manager Ready $(( $(date +%s) - t0 ))s after the kustomize install was removed"

ns=helm-smoke-$RANDOM
kubectl create namespace "$ns" >/dev/null
kubectl apply -n "$ns" -f - >/dev/null <<'EOY'
apiVersion: kickq.dev/v1alpha1
kind: QueueJob
metadata: {name: smoke}
spec:
  pod:
    template:
      spec:
        terminationGracePeriodSeconds: 1
        containers:
        - name: main
          image: localhost/busybox:local
          imagePullPolicy: Never
          command: [sh, -c, 'wget -q -O- --header "Authorization: Bearer $(cat $KICKQ_TOKEN_FILE)" --post-data "{\"outcome\":\"Succeed\",\"result\":{\"installed\":\"helm\"}}" "$KICKQ_REPORT_URL"; sleep 30']
EOY
ok=0
kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded queuejob/smoke --timeout=90s >/dev/null && ok=1
result=$(kubectl -n "$ns" get queuejob smoke -o jsonpath='{.status.result}')
kubectl delete namespace "$ns" --wait=false >/dev/null
"$HELM" uninstall kickq --namespace kickq-system --wait >/dev/null
if [ "$ok" = 1 ] && [ "$result" = '{"installed":"helm"}' ]; then
  log "a job reported through the chart's kickq-report Service: result $result; uninstalled ($(( $(date +%s) - t0 ))s in all)"
else
  log "the smoke job did not succeed with its result (got ${result:-nothing}):"
  kubectl -n kickq-system logs deployment/kickq-manager --tail=30 >&2 || true
  exit 1
fi

#!/usr/bin/env bash
# Brings up a real single-node Kubernetes cluster on this machine, for `make run` and `make e2e`:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler (built from the Go module proxy by
# hack/build-control-plane.sh), containerd + runc + CNI plugins (Debian packages), and a kubelet,
# kube-proxy and CoreDNS (built from the Go module proxy too). Pods get 10.88.0.0/16 on the cni0
# bridge; the host is 10.88.0.1 there, and the API server listens and is advertised on that address,
# so pods reach it through the `kubernetes` Service (10.96.0.1:443, kube-proxy's iptables rules) and
# resolve Service names through CoreDNS (the kube-dns Service, 10.96.0.10, in front of a CoreDNS on
# the host at 10.88.0.1:53 that answers only for cluster.local). Everything else binds to 127.0.0.1.
# Images are built here (busybox-static and a Go pause binary), never pulled.
# Everything lives in bin/cluster; hack/cluster/down.sh stops what this started. Idempotent: a
# second `up` reuses what is built and running. Needs Linux and root. Facts it relies on:
# ../shared/REAL-CLUSTER.md (cgroup v1, no CAP_SYS_RESOURCE).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# The physical path (bin/ may be a symlink): the kubelet compares its --root-dir with the mount
# table, and under a symlinked path it bind-mounts the folder onto itself again at every start
# (doubling every pod mount each time), and down.sh would not find the mounts to undo.
mkdir -p "$root/bin/cluster"
W=$(cd "$root/bin/cluster" && pwd -P)
K="$root/bin/k8s"
# The node is named localhost: the API server reaches the kubelet by its Hostname address, and
# the kubelet refuses a loopback --node-ip.
NODE=localhost
log() { printf '[cluster] %s\n' "$*" >&2; }
start=$(date +%s)

[ "$(uname -s)" = Linux ] || { log "needs Linux"; exit 2; }
[ "$(id -u)" = 0 ] || { log "needs root (containerd and the kubelet manage mounts, cgroups and network namespaces)"; exit 2; }

pkgs=()
for p in containerd:containerd runc:runc iptables:iptables conntrack:conntrack; do
  command -v "${p%%:*}" >/dev/null || pkgs+=("${p##*:}")
done
[ -x /usr/lib/cni/bridge ] || pkgs+=(containernetworking-plugins)
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || pkgs+=(busybox-static)
command -v openssl >/dev/null || pkgs+=(openssl)
if [ ${#pkgs[@]} -gt 0 ]; then
  log "installing Debian packages: ${pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}" >/dev/null; }
fi

"$root/hack/build-control-plane.sh" etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy coredns >/dev/null
mkdir -p "$W"/{pki,logs,pids,images,etcd,containerd,cni/net.d,cni/ipam,kubelet}

# --- PKI and kubeconfigs (openssl; once) ---------------------------------------------------------
P="$W/pki"
cert() { # cert <name> <CN> <O or -> [ext file content]
  local n=$1 cn=$2 o=$3 ext=${4:-}
  [ -f "$P/$n.crt" ] && return
  local subj="/CN=$cn"; [ "$o" = - ] || subj="/O=$o/CN=$cn"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$P/$n.key" -subj "$subj" -out "$P/$n.csr" 2>/dev/null
  if [ -n "$ext" ]; then printf '%s\n' "$ext" >"$P/$n.ext"; else printf 'extendedKeyUsage=clientAuth\n' >"$P/$n.ext"; fi
  openssl x509 -req -in "$P/$n.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 3650 -extfile "$P/$n.ext" -out "$P/$n.crt" 2>/dev/null
}
if [ ! -f "$P/ca.crt" ]; then
  log "generating certificates"
  openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$P/ca.key" -subj "/CN=kickq-local-ca" -days 3650 -out "$P/ca.crt" 2>/dev/null
  openssl genrsa -out "$P/sa.key" 2048 2>/dev/null
  openssl rsa -in "$P/sa.key" -pubout -out "$P/sa.pub" 2>/dev/null
fi
cert apiserver kube-apiserver - "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,IP:10.88.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
extendedKeyUsage=serverAuth"
cert admin kickq-admin system:masters
cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
cert controller-manager system:kube-controller-manager -
cert scheduler system:kube-scheduler -
cert kubelet "system:node:$NODE" system:nodes
cert kubelet-serving "$NODE" - "subjectAltName=IP:127.0.0.1,DNS:$NODE
extendedKeyUsage=serverAuth"
cert kube-proxy system:kube-proxy -
cert coredns system:coredns -
# The host's address on the pod bridge: the API server and CoreDNS listen there.
HOSTIP=10.88.0.1
API=https://$HOSTIP:16443
kubeconfig() { # kubeconfig <file> <cert name> (rewritten every time: the server address may change)
  cat >"$1" <<EOK
apiVersion: v1
kind: Config
clusters: [{name: kickq-local, cluster: {server: $API, certificate-authority: $P/ca.crt}}]
users: [{name: $2, user: {client-certificate: $P/$2.crt, client-key: $P/$2.key}}]
contexts: [{name: kickq-local, context: {cluster: kickq-local, user: $2}}]
current-context: kickq-local
EOK
}
kubeconfig "$W/kubeconfig" admin
kubeconfig "$W/controller-manager.kubeconfig" controller-manager
kubeconfig "$W/scheduler.kubeconfig" scheduler
kubeconfig "$W/kubelet.kubeconfig" kubelet
kubeconfig "$W/kube-proxy.kubeconfig" kube-proxy
kubeconfig "$W/coredns.kubeconfig" coredns

# --- processes -------------------------------------------------------------------------------------
running() { [ -f "$W/pids/$1" ] && kill -0 "$(cat "$W/pids/$1")" 2>/dev/null; }
launch() { # launch <name> <cmd...>: a process running with other arguments (an older up) is restarted
  local n=$1; shift
  if running "$n"; then
    [ "$(cat "$W/pids/$n.cmd" 2>/dev/null)" = "$*" ] && return
    log "restarting $n (its arguments changed)"
    local pid; pid=$(cat "$W/pids/$n")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  log "starting $n"
  setsid "$@" >"$W/logs/$n.log" 2>&1 < /dev/null &
  echo $! >"$W/pids/$n"
  printf '%s' "$*" >"$W/pids/$n.cmd"
}
wait_for() { # wait_for <what> <seconds> <cmd...>
  local what=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "$what did not come up in ${secs}s; see $W/logs"; return 1
}

# The bridge exists before the API server and the first pod, so the host's address on it
# (10.88.0.1) can be listened on at once (the API server, CoreDNS, the report API of `make run`).
if ! ip link show cni0 >/dev/null 2>&1; then
  ip link add cni0 type bridge && ip addr add $HOSTIP/16 dev cni0 && ip link set cni0 up
fi
# Traffic between pods on the bridge passes iptables, so a Service's DNAT is undone on the reply.
[ -w /proc/sys/net/bridge/bridge-nf-call-iptables ] && echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables
echo 1 >/proc/sys/net/ipv4/ip_forward

launch etcd "$K/etcd" --name local --data-dir "$W/etcd" --listen-client-urls http://127.0.0.1:23790 \
  --advertise-client-urls http://127.0.0.1:23790 --listen-peer-urls http://127.0.0.1:23800 \
  --initial-advertise-peer-urls http://127.0.0.1:23800 --initial-cluster local=http://127.0.0.1:23800 \
  --listen-metrics-urls http://127.0.0.1:23810
# Node loss is noticed in seconds, not minutes (reliability scenario 7 kills the kubelet): the
# kubelet renews its Lease every 2 s (nodeLeaseDurationSeconds 8), the node controller marks the
# node Unknown after 10 s without one (--node-monitor-grace-period) and taints it; pods tolerate
# the not-ready/unreachable taints 5 s (the API server's default tolerations) before eviction.
launch kube-apiserver "$K/kube-apiserver" --etcd-servers http://127.0.0.1:23790 \
  --bind-address $HOSTIP --advertise-address $HOSTIP --secure-port 16443 \
  --client-ca-file "$P/ca.crt" --tls-cert-file "$P/apiserver.crt" --tls-private-key-file "$P/apiserver.key" \
  --service-account-key-file "$P/sa.pub" --service-account-signing-key-file "$P/sa.key" \
  --service-account-issuer https://kubernetes.default.svc --authorization-mode Node,RBAC \
  --kubelet-client-certificate "$P/apiserver-kubelet-client.crt" --kubelet-client-key "$P/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$P/ca.crt" --kubelet-preferred-address-types Hostname \
  --service-cluster-ip-range 10.96.0.0/16 --endpoint-reconciler-type lease --allow-privileged \
  --default-not-ready-toleration-seconds 5 --default-unreachable-toleration-seconds 5
wait_for kube-apiserver 60 kubectl --kubeconfig "$W/kubeconfig" get --raw /readyz
launch kube-controller-manager "$K/kube-controller-manager" --kubeconfig "$W/controller-manager.kubeconfig" \
  --leader-elect=false --bind-address 127.0.0.1 --secure-port 10257 --use-service-account-credentials \
  --service-account-private-key-file "$P/sa.key" --root-ca-file "$P/ca.crt" \
  --cluster-signing-cert-file "$P/ca.crt" --cluster-signing-key-file "$P/ca.key" \
  --node-monitor-period 2s --node-monitor-grace-period 10s
launch kube-scheduler "$K/kube-scheduler" --kubeconfig "$W/scheduler.kubeconfig" --leader-elect=false \
  --bind-address 127.0.0.1 --secure-port 10259

# containerd with the CRI plugin; the OOM-score restriction is what this VM needs (no CAP_SYS_RESOURCE).
cat >"$W/containerd/config.toml" <<EOC
version = 2
root = "$W/containerd/root"
state = "$W/containerd/state"
[grpc]
  address = "$W/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:local"
  stream_server_address = "127.0.0.1"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$W/cni/net.d"
EOC
cat >"$W/cni/net.d/10-kickq.conflist" <<EON
{"cniVersion": "1.0.0", "name": "kickq", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$W/cni/ipam", "ranges": [[{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "loopback"}]}
EON
launch containerd containerd --config "$W/containerd/config.toml"
SOCK="$W/containerd/containerd.sock"
wait_for containerd 30 ctr -a "$SOCK" version

# Images, built from local files and imported once.
if ! ctr -a "$SOCK" -n k8s.io images ls -q | grep -q '^localhost/busybox:local$'; then
  log "building images"
  (cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$W/images/pause" ./hack/cluster/pause && go build -o "$W/images/ociimage" ./hack/cluster/ociimage)
  "$W/images/ociimage" -name localhost/pause:local -out "$W/images/pause.tar" -add "$W/images/pause=pause" -entrypoint /pause
  links=()
  for a in sh echo cat sleep ls wget nc httpd printf expr test true false env mkdir rm date seq head sed grep tr chmod; do links+=(-link "bin/$a=busybox"); done
  "$W/images/ociimage" -name localhost/busybox:local -out "$W/images/busybox.tar" -add /bin/busybox=bin/busybox "${links[@]}" -entrypoint /bin/sh
  ctr -a "$SOCK" -n k8s.io images import "$W/images/pause.tar" >/dev/null
  ctr -a "$SOCK" -n k8s.io images import "$W/images/busybox.tar" >/dev/null
fi
# The samples (config/samples) name busybox:1.37: the local image answers to that name too, so
# they run here without a pull.
ctr -a "$SOCK" -n k8s.io images tag --force localhost/busybox:local docker.io/library/busybox:1.37 >/dev/null

cat >"$W/kubelet/config.yaml" <<EOK
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
enforceNodeAllocatable: []
evictionHard: {nodefs.available: "2%", imagefs.available: "2%", memory.available: "100Mi"}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
readOnlyPort: 0
address: 127.0.0.1
healthzBindAddress: 127.0.0.1
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: "$P/ca.crt"}}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$SOCK
imageServiceEndpoint: unix://$SOCK
clusterDNS: [10.96.0.10]
clusterDomain: cluster.local
tlsCertFile: "$P/kubelet-serving.crt"
tlsPrivateKeyFile: "$P/kubelet-serving.key"
nodeStatusUpdateFrequency: 2s
nodeLeaseDurationSeconds: 8
EOK
start_kubelet() {
  launch kubelet "$K/kubelet" --config "$W/kubelet/config.yaml" --kubeconfig "$W/kubelet.kubeconfig" \
    --hostname-override "$NODE" --root-dir "$W/kubelet/root"
}
start_kubelet
# containerd 1.6 answers `ctr version` before its CRI serves: a kubelet started in that window
# exits at once ("server is not initialized yet"). Start it again until it is past that check.
for _ in $(seq 1 100); do
  grep -q "Started kubelet" "$W/logs/kubelet.log" 2>/dev/null && break
  if ! running kubelet; then
    log "kubelet exited at start ($(grep -o 'desc = .*' "$W/logs/kubelet.log" | head -1)); starting it again"
    sleep 0.5
    start_kubelet
  fi
  sleep 0.2
done
wait_for "node $NODE Ready" 90 sh -c "kubectl --kubeconfig '$W/kubeconfig' get node $NODE -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -q True"

# --- kube-proxy and cluster DNS ----------------------------------------------------------------
# kube-proxy in iptables mode: ClusterIPs (the kubernetes Service, kube-dns, kickq-report) become
# DNAT rules; its own ports stay on loopback; conntrack limits are left as the VM has them.
# Written only when it changes: kube-proxy exits when its config file is rewritten.
cat >"$W/kube-proxy.yaml.new" <<EOP
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "$W/kube-proxy.kubeconfig"}
mode: iptables
clusterCIDR: 10.88.0.0/16
hostnameOverride: $NODE
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [127.0.0.1/32]
conntrack: {maxPerCore: 0}
# Service traffic is masqueraded to the host's bridge address: a pod reaching a Service whose
# endpoint is a pod on the same bridge gets the reply back through the host, where the DNAT is
# undone (without it the reply goes pod to pod over the bridge and the connection hangs).
iptables: {masqueradeAll: true}
EOP
if cmp -s "$W/kube-proxy.yaml.new" "$W/kube-proxy.yaml"; then rm "$W/kube-proxy.yaml.new"; else mv "$W/kube-proxy.yaml.new" "$W/kube-proxy.yaml"; fi
launch kube-proxy "$K/kube-proxy" --config "$W/kube-proxy.yaml"

# CoreDNS on the host, on the bridge address, answering for cluster.local (and the reverse zones)
# from the API server; it forwards nothing, so no query leaves the machine. The kube-dns Service
# (10.96.0.10, the kubelet's clusterDNS) points at it through a hand-made EndpointSlice.
cat >"$W/Corefile" <<EOC
.:53 {
    bind $HOSTIP
    ready 127.0.0.1:18181
    health 127.0.0.1:18080
    errors
    cache 5
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $W/coredns.kubeconfig kickq-local
        pods insecure
    }
}
EOC
kubectl --kubeconfig "$W/kubeconfig" apply --server-side --force-conflicts -f - >/dev/null <<EOY
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- {apiGroups: [""], resources: [endpoints, services, pods, namespaces], verbs: [list, watch]}
- {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:coredns"}]
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  clusterIP: 10.96.0.10
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-host
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns, endpointslice.kubernetes.io/managed-by: hack-cluster.kickq.dev}
addressType: IPv4
endpoints: [{addresses: [$HOSTIP], conditions: {ready: true}}]
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
EOY
launch coredns "$K/coredns" -conf "$W/Corefile"
wait_for coredns 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/18181 && printf 'GET /ready HTTP/1.0\r\n\r\n' >&3 && grep -q '200 OK' <&3"
# The kubernetes Service has its endpoint (the API server's lease reconciler) and kube-proxy its rules.
wait_for "kube-proxy's rules for the kubernetes Service" 30 sh -c "iptables -t nat -S KUBE-SERVICES 2>/dev/null | grep -q 'default/kubernetes:https'"

kubectl --kubeconfig "$W/kubeconfig" apply --server-side --force-conflicts -f "$root/config/crd/bases" -f "$root/config/policy/inline-pod-target.yaml" \
  -f "$root/config/policy/queuejob-immutable-spec.yaml" >/dev/null
# kubectl wait fails at once (not waits) while a just-applied CRD has no status.conditions yet.
wait_for "kickq's CRDs Established" 60 kubectl --kubeconfig "$W/kubeconfig" wait --for condition=Established \
  crd/queuejobs.kickq.dev crd/queues.kickq.dev --timeout=5s
log "node $NODE Ready in $(( $(date +%s) - start ))s; export KUBECONFIG=$root/bin/cluster/kubeconfig"
echo "$root/bin/cluster/kubeconfig"

#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver) from the Go module proxy into bin/k8s/.
# Nothing is downloaded except Go modules. Each binary is rebuilt only when its pinned version
# (hack/versions.env) changes: a stamp file next to it records what it was built from.
#
# Usage: hack/build-control-plane.sh [component...]   (components: etcd kube-apiserver
#        kube-controller-manager kube-scheduler kubelet kube-proxy coredns; default: etcd kube-apiserver)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
source "$root/hack/versions.env"
out="$root/bin/k8s"
work="$root/bin/.build"
mkdir -p "$out" "$work"

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(etcd kube-apiserver)

log() { printf '[control-plane] %s\n' "$*" >&2; }

fresh() { # fresh <binary> <stamp-content>
  [ -x "$out/$1" ] && [ -f "$out/.$1.stamp" ] && [ "$(cat "$out/.$1.stamp")" = "$2" ]
}

build_etcd() {
  local stamp="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  if fresh etcd "$stamp"; then return; fi
  log "building etcd $ETCD_VERSION (about 30 s on 2 cores, once)"
  local mod="$work/etcd"
  rm -rf "$mod"; mkdir -p "$mod"
  cat >"$mod/go.mod" <<EOM
module kickq.dev/hack/etcd

go 1.26
EOM
  cat >"$mod/tools.go" <<'EOM'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
EOM
  (cd "$mod" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1 && go mod tidy >/dev/null 2>&1 \
    && CGO_ENABLED=0 go build -trimpath -o "$out/etcd" go.etcd.io/etcd/server/v3)
  echo "$stamp" >"$out/.etcd.stamp"
}

# CoreDNS as a library (its documented way to build a custom server): a main that registers only
# the plugins the node's Corefile uses (hack/cluster/up.sh), so none of the cloud plugins' modules
# is built.
build_coredns() {
  local stamp="github.com/coredns/coredns@$COREDNS_VERSION"
  if fresh coredns "$stamp"; then return; fi
  log "building coredns $COREDNS_VERSION (about 2 min on 2 cores, once)"
  local mod="$work/coredns"
  rm -rf "$mod"; mkdir -p "$mod"
  cat >"$mod/go.mod" <<EOM
module kickq.dev/hack/coredns

go 1.26
EOM
  cat >"$mod/main.go" <<'EOM'
// Command coredns is CoreDNS with the plugins of the node's Corefile only.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The plugins in CoreDNS's own order (plugin.cfg).
func init() {
	dnsserver.Directives = []string{"bind", "ready", "health", "errors", "log", "cache", "kubernetes"}
}

func main() { coremain.Run() }
EOM
  (cd "$mod" && go get "github.com/coredns/coredns@$COREDNS_VERSION" >/dev/null 2>&1 && go mod tidy >/dev/null 2>&1 \
    && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/coredns" .)
  echo "$stamp" >"$out/.coredns.stamp"
}

k8s_module() {
  local mod="$work/kubernetes"
  # The stamp names the commands too: a command added to tools.go needs a new `go mod tidy`.
  local stamp="k8s.io/kubernetes@$KUBERNETES_VERSION+kube-proxy"
  if [ -f "$mod/.stamp" ] && [ "$(cat "$mod/.stamp")" = "$stamp" ]; then echo "$mod"; return; fi
  log "preparing a module for k8s.io/kubernetes $KUBERNETES_VERSION"
  rm -rf "$mod"; mkdir -p "$mod"
  local minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
  local staging="v0.${KUBERNETES_VERSION#v1.}"
  cat >"$mod/go.mod" <<EOM
module kickq.dev/hack/kubernetes

go 1.26

require k8s.io/kubernetes $KUBERNETES_VERSION
EOM
  # The staging modules are replaced by ./staging/... in kubernetes' own go.mod; take that list
  # from the module proxy's copy of it and point each at its published v0.Y.Z.
  (cd "$mod" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" >dl.json)
  local gomod
  gomod=$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' "$mod/dl.json")
  grep -E '=> \./staging/' "$gomod" | awk '{print $1}' | while read -r m; do
    printf 'replace %s => %s %s\n' "$m" "$m" "$staging" >>"$mod/go.mod"
  done
  cat >"$mod/tools.go" <<'EOM'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
)
EOM
  (cd "$mod" && go mod tidy >/dev/null)
  echo "$stamp" >"$mod/.stamp"
  echo "$mod"
}

build_kube() { # build_kube <component>
  local c=$1 stamp="k8s.io/kubernetes@$KUBERNETES_VERSION/cmd/$1"
  if fresh "$c" "$stamp"; then return; fi
  local mod; mod=$(k8s_module)
  log "building $c $KUBERNETES_VERSION (the first kube binary takes about 4 min on 2 cores, once)"
  local minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
  local ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  (cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w$ld" -o "$out/$c" "k8s.io/kubernetes/cmd/$c")
  echo "$stamp" >"$out/.$c.stamp"
}

start=$(date +%s)
for c in "${components[@]}"; do
  case "$c" in
    etcd) build_etcd ;;
    coredns) build_coredns ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy) build_kube "$c" ;;
    *) log "unknown component $c"; exit 2 ;;
  esac
done
took=$(( $(date +%s) - start ))
[ "$took" -lt 2 ] || log "built in ${took}s into $out"
echo "$out"

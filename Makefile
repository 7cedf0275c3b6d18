# kickq — build, test and run. `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

include hack/versions.env

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)
IMG ?= kickq/manager:dev
IMAGE_ARCHIVE ?= $(LOCALBIN)/image/kickq-manager.tar
GO_TEST_FLAGS ?=
# What `make generate` and `make manifests` write outside api/ and config/ (checked by `make verify`).
GENERATED_GO := pkg/generated pkg/kickqtest/manifests

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRDs and the manager's ClusterRole from the markers.
	$(CONTROLLER_GEN) crd:generateEmbeddedObjectMeta=true paths=./api/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=kickq-manager-role paths=./controllers/... output:rbac:artifacts:config=config/rbac
	go run ./hack/describecrds config/crd/bases/*.yaml
	@# pkg/kickqtest embeds copies of the CRDs and admission policies (go:embed reaches no parent folder).
	rm -rf pkg/kickqtest/manifests && mkdir -p pkg/kickqtest/manifests/crd pkg/kickqtest/manifests/policy
	cp config/crd/bases/*.yaml pkg/kickqtest/manifests/crd/
	cp $(filter-out %/kustomization.yaml,$(wildcard config/policy/*.yaml)) pkg/kickqtest/manifests/policy/
	cp config/crd/bases/*.yaml charts/kickq/crds/

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate the DeepCopy methods and the Go clients of pkg/generated (k8s.io/code-generator).
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...
	hack/update-codegen.sh

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet -tags e2e ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint with .golangci.yaml (e2e build tag included).
	$(GOLANGCI_LINT) run ./...

.PHONY: verify
verify: generate manifests ## Regenerate code and manifests and fail if they differ from what is committed.
	@gofmt_out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$gofmt_out" ]; then echo "not gofmt-ed: $$gofmt_out"; exit 1; fi
	hack/check-file-size.sh
	go vet -tags e2e ./...
	@if ! git diff --exit-code -- api config charts $(GENERATED_GO); then echo "generated files are out of date: run 'make generate manifests' and commit"; exit 1; fi
	@untracked=$$(git ls-files --others --exclude-standard -- api config charts $(GENERATED_GO)); if [ -n "$$untracked" ]; then echo "untracked generated files: $$untracked"; exit 1; fi
	@echo "verify: generated code and manifests match the sources"
	$(MAKE) --no-print-directory verify-chart

.PHONY: verify-chart
verify-chart: $(HELM) ## helm lint the chart and check that it renders config/default's objects (test/build).
	$(HELM) lint --strict charts/kickq
	HELM=$(HELM) go test -count=1 -run 'TestChart' ./test/build/

.PHONY: control-plane
control-plane: ## Build etcd and kube-apiserver from source into bin/k8s (once per pinned version).
	hack/build-control-plane.sh

# GINKGO_FLAGS go to the envtest suites only: "-ginkgo.randomize-all -ginkgo.seed=N" repeats an order.
GINKGO_FLAGS ?= -ginkgo.randomize-all

.PHONY: test
test: control-plane ## Run the unit and envtest suites (specs in random order) against the control plane built from source.
	KUBEBUILDER_ASSETS=$(LOCALBIN)/k8s GINKGO_FLAGS="$(GINKGO_FLAGS)" hack/test.sh $(GO_TEST_FLAGS)

##@ Real cluster (Linux, root)

.PHONY: cluster-up
cluster-up: ## Bring up the real single-node cluster of hack/cluster (kubeconfig: bin/cluster/kubeconfig).
	hack/cluster/up.sh

.PHONY: cluster-down
cluster-down: ## Stop that cluster and clean what it wrote outside bin/cluster.
	hack/cluster/down.sh

.PHONY: cluster-load
cluster-load: ## Import the manager's image (make image) into the real node's containerd.
	hack/cluster/load-image.sh $(IMAGE_ARCHIVE)

.PHONY: e2e
e2e: $(HELM) ## Build the image, deploy the manager into the real node (kustomize), run the e2e suite against it, then a Helm install.
	HELM=$(HELM) hack/cluster/e2e.sh

##@ Benchmarks

BENCH_FLAGS ?=

.PHONY: bench
bench: bench-deps ## Run the benchmarks at full size (docs/benchmarks.md; results in bin/bench/).
	go run ./test/bench $(BENCH_FLAGS)

.PHONY: bench-quick
bench-quick: bench-deps ## Run the benchmarks at small sizes (under 3 minutes).
	go run ./test/bench -quick $(BENCH_FLAGS)

.PHONY: bench-deps
bench-deps: build
	hack/build-control-plane.sh etcd kube-apiserver kube-controller-manager >/dev/null

##@ Reliability

RELIABILITY_FLAGS ?=

.PHONY: reliability
reliability: build control-plane ## Run the reliability suite (faults, failover; docs/reliability.md; logs in bin/reliability/). As root.
	go run ./test/reliability $(RELIABILITY_FLAGS)

##@ Run

.PHONY: run
run: ## Run kickq: on the cluster of your kubeconfig if one answers, else on a local control plane.
	hack/run.sh

.PHONY: install
install: ## Install the CRDs and the admission policy into the cluster of your kubeconfig.
	kubectl apply --server-side --force-conflicts -f config/crd/bases -f config/policy/inline-pod-target.yaml

##@ Build

.PHONY: build
build: ## Build the manager and the kubectl plugin into bin/manager and bin/kubectl-kickq.
	CGO_ENABLED=0 go build -trimpath -o $(LOCALBIN)/manager ./cmd/manager
	CGO_ENABLED=0 go build -trimpath -o $(LOCALBIN)/kubectl-kickq ./cmd/kubectl-kickq

.PHONY: image
image: ## Build the manager's OCI image (linux/amd64 and linux/arm64, no Docker) into bin/image/kickq-manager.tar.
	go run ./hack/image -ref $(IMG) -out $(IMAGE_ARCHIVE)

.PHONY: helm
helm: $(HELM) ## Build helm (pinned in hack/versions.env) into bin/.

.PHONY: docker-build
docker-build: ## Build the manager image (needs a Docker engine).
	docker build -t $(IMG) .

.PHONY: deploy
deploy: ## Deploy kickq (CRDs, policy, RBAC, manager) into the cluster of your kubeconfig.
	kubectl apply --server-side --force-conflicts -k config/default

$(CONTROLLER_GEN):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN)/.gobin go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/.gobin/controller-gen $(CONTROLLER_GEN)

$(GOLANGCI_LINT):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN)/.gobin go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(LOCALBIN)/.gobin/golangci-lint $(GOLANGCI_LINT)

$(HELM):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN)/.gobin CGO_ENABLED=0 go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION)" helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv $(LOCALBIN)/.gobin/helm $(HELM)

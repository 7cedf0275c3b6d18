/*
Copyright 2026 The kickq Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command localcp runs a local Kubernetes control plane (etcd and kube-apiserver, built from
// source by hack/build-control-plane.sh) with kickq's CRDs and admission policy installed, writes
// an admin kubeconfig, and stops everything it started on SIGINT or SIGTERM. `make run` uses it
// when no cluster is reachable. It runs no kubelet: pods are created but do not run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"kickq.dev/kickq/test/util"
)

func main() {
	kubeconfig := flag.String("write-kubeconfig", filepath.Join(util.RepoRoot(), "bin", "local", "kubeconfig"), "Where to write the admin kubeconfig.")
	flag.Parse()
	if err := run(*kubeconfig); err != nil {
		fmt.Fprintf(os.Stderr, "localcp: %v\n", err)
		os.Exit(1)
	}
}

func run(kubeconfig string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	env := util.NewEnvironment()
	fmt.Fprintf(os.Stderr, "localcp: starting etcd and kube-apiserver from %s\n", util.AssetsDir())
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting the control plane: %w", err)
	}
	defer func() {
		fmt.Fprintln(os.Stderr, "localcp: stopping the control plane")
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "localcp: stopping: %v\n", err)
		}
		_ = os.Remove(kubeconfig)
	}()

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	if err := util.InstallPolicies(ctx, c); err != nil {
		return err
	}
	admin, err := env.AddUser(envtest.User{Name: "kickq-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the admin user: %w", err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(kubeconfig), 0o755); err != nil {
		return err
	}
	tmp := kubeconfig + ".tmp"
	if err := os.WriteFile(tmp, kc, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, kubeconfig); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "localcp: control plane up at %s; kubeconfig %s\n", cfg.Host, kubeconfig)
	<-ctx.Done()
	return nil
}

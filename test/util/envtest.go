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

// Package util holds what kickq's envtest suites share: starting the test control plane with the
// CRDs and policies installed, named timeouts, and helpers.
package util

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// Named timeouts, as kueue's test/util/constants.go has them.
const (
	// Timeout is how long an Eventually waits for the API server or the manager.
	Timeout = 20 * time.Second
	// Interval is how often an Eventually polls.
	Interval = 50 * time.Millisecond
	// ConsistentDuration is how long a Consistently watches.
	ConsistentDuration = 1 * time.Second
)

// RepoRoot is the root of the kickq repository.
func RepoRoot() string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// AssetsDir is where the control-plane binaries are: $KUBEBUILDER_ASSETS, else bin/k8s (built by
// hack/build-control-plane.sh, which `make test` runs first).
func AssetsDir() string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(), "bin", "k8s")
}

// NewScheme returns a scheme with the built-in Kubernetes types and kickq's.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(kickqv1alpha1.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	return s
}

// Start starts a control plane with kickq's CRDs, and returns it, its admin config and a live
// client (no cache) for the test's own reads and writes.
func Start(s *runtime.Scheme) (*envtest.Environment, *rest.Config, client.Client, error) {
	env := NewEnvironment()
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("starting the control plane from %s (make control-plane builds it): %w", AssetsDir(), err)
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		_ = env.Stop()
		return nil, nil, nil, err
	}
	return env, cfg, c, nil
}

// NewNamespace creates a namespace with a generated name for one spec.
func NewNamespace(ctx context.Context, c client.Client, prefix string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := c.Create(ctx, ns); err != nil {
		return "", err
	}
	return ns.Name, nil
}

// NewEnvironment returns an envtest environment with kickq's CRDs.
func NewEnvironment() *envtest.Environment {
	return &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: AssetsDir(),
	}
}

// ReadManifests decodes every object of a YAML file (several documents allowed). Kustomize's
// kustomization.yaml files hold no objects and give none.
func ReadManifests(path string) ([]*unstructured.Unstructured, error) {
	if filepath.Base(path) == "kustomization.yaml" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var objs []*unstructured.Unstructured
	dec := yaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("decoding %s: %w", path, err)
		}
		if len(u.Object) == 0 || u.GetKind() == "Kustomization" {
			continue
		}
		objs = append(objs, u)
	}
}

// ImmutableSpecPolicyFile is the file of config/policy that keeps a QueueJob's spec immutable.
const ImmutableSpecPolicyFile = "queuejob-immutable-spec.yaml"

// InstallPolicies creates the ValidatingAdmissionPolicies and bindings of config/policy: those
// of the named files, or of every file when none is named.
func InstallPolicies(ctx context.Context, c client.Client, files ...string) error {
	paths, err := filepath.Glob(filepath.Join(RepoRoot(), "config", "policy", "*.yaml"))
	if err != nil {
		return err
	}
	for _, p := range paths {
		if len(files) > 0 && !slices.Contains(files, filepath.Base(p)) {
			continue
		}
		objs, err := ReadManifests(p)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if err := c.Create(ctx, o); err != nil {
				return fmt.Errorf("creating %s %s from %s: %w", o.GetKind(), o.GetName(), p, err)
			}
		}
	}
	return nil
}

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

// Package kickqtest starts a Kubernetes control plane with kickq installed, for the tests of
// programs that use kickq: envtest's etcd and kube-apiserver with kickq's CRDs and admission
// policies (embedded in this package: no path to the kickq repository is needed), and, when
// asked, kickq's controllers running in the test's process, on a fake clock the test steps or on
// the real clock. It returns a live client and a kickq.Client on that control plane.
//
//	env, err := kickqtest.Start(kickqtest.Options{Controllers: true})
//	defer env.Stop()
//	job, err := env.Kickq.Enqueue(ctx, kickq.Job{Namespace: "default", Type: "email", Data: payload})
//
// or, in a test, env := kickqtest.New(t, kickqtest.Options{...}), which stops it when the test ends.
//
// The control plane's binaries are the test's to bring, as for any envtest: KUBEBUILDER_ASSETS
// (or Options.AssetsDir) names a folder with etcd and kube-apiserver. In the kickq repository
// `make control-plane` builds them from source into bin/k8s (KUBEBUILDER_ASSETS=$PWD/bin/k8s);
// elsewhere use the ones your project's envtest suites use.
//
// envtest runs no kubelet: pods that pod jobs create are never run; a test plays the kubelet by
// writing their status, uses webhook handlers (Options.AllowLoopbackWebhooks for a receiver of
// the test's own, such as an httptest.Server), or pull workers.
package kickqtest

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"kickq.dev/kickq/pkg/kickq"
)

// manifests are copies of config/crd/bases and config/policy, written by `make manifests`.
//
//go:embed manifests/crd/*.yaml manifests/policy/*.yaml
var manifests embed.FS

// Options say what Start runs.
type Options struct {
	// Controllers runs kickq's controllers (the operator) in this process, so that jobs run.
	// Without it only the API is there: jobs are stored and validated, never started.
	Controllers bool
	// Clock, with Controllers, is the controllers' clock: a fake clock (NewFakeClock) that the test
	// steps to make delays, backoff, deadlines, cron firings and retention happen. nil means the
	// real clock.
	Clock *clocktesting.FakeClock
	// AllowLoopbackWebhooks lets webhook calls reach 127.0.0.0/8 and ::1, where a test's own
	// receiver listens; kickq refuses loopback by default.
	AllowLoopbackWebhooks bool
	// ReportAPI serves kickq's report API on a loopback port (Env.ReportURL).
	ReportAPI bool
	// AssetsDir is the folder with etcd and kube-apiserver; default $KUBEBUILDER_ASSETS.
	AssetsDir string
	// Scheme is the clients' scheme; default kickq.NewScheme() (the built-in types and kickq's).
	Scheme *runtime.Scheme
	// Logger is where the controllers log; default nowhere.
	Logger logr.Logger
}

// Env is a running control plane with kickq installed.
type Env struct {
	// Config is the control plane's admin config.
	Config *rest.Config
	// Client is a live client (no cache) that can watch, with Options.Scheme.
	Client client.WithWatch
	// Kickq is a kickq.Client on Client.
	Kickq *kickq.Client
	// Clock is Options.Clock.
	Clock *clocktesting.FakeClock
	// ReportURL is the report API's base URL, with Options.ReportAPI.
	ReportURL string
	// Environment is the envtest environment (Environment.AddUser makes users with other rights).
	Environment *envtest.Environment

	stopControllers func() error
}

// NewFakeClock returns a fake clock at the real time, in whole seconds as the API server stamps
// creationTimestamp, so that new jobs never look older than the clock.
func NewFakeClock() *clocktesting.FakeClock {
	return clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
}

// New starts an Env for t and stops it when t ends; it fails t if the control plane cannot start.
func New(t testing.TB, opts Options) *Env {
	t.Helper()
	env, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	return env
}

// policyTimeout bounds how long Start waits for the API server to enforce the admission policies.
const policyTimeout = 30 * time.Second

// Start starts a control plane with kickq's CRDs and admission policies (and its controllers,
// with Options.Controllers), and returns once the API server enforces the policies
// (AwaitPolicies). The caller stops it with Stop.
func Start(opts Options) (_ *Env, err error) {
	if opts.Scheme == nil {
		opts.Scheme = kickq.NewScheme()
	}
	assets, err := assetsDir(opts.AssetsDir)
	if err != nil {
		return nil, err
	}
	crds, err := CRDs()
	if err != nil {
		return nil, err
	}
	te := &envtest.Environment{CRDs: crds, BinaryAssetsDirectory: assets}
	cfg, err := te.Start()
	if err != nil {
		return nil, fmt.Errorf("kickqtest: starting the control plane from %s: %w", assets, err)
	}
	env := &Env{Config: cfg, Environment: te, Clock: opts.Clock}
	defer func() {
		if err != nil {
			err = errors.Join(err, env.Stop())
		}
	}()
	if env.Client, err = client.NewWithWatch(cfg, client.Options{Scheme: opts.Scheme}); err != nil {
		return nil, fmt.Errorf("kickqtest: creating a client: %w", err)
	}
	env.Kickq = kickq.NewClientFrom(env.Client)
	if err := installPolicies(context.Background(), env.Client); err != nil {
		return nil, err
	}
	if err := AwaitPolicies(context.Background(), env.Client, metav1.NamespaceDefault, policyTimeout); err != nil {
		return nil, err
	}
	if opts.Controllers {
		if err := env.startControllers(opts); err != nil {
			return nil, err
		}
	}
	return env, nil
}

// Stop stops the controllers and the control plane.
func (e *Env) Stop() error {
	var errs []error
	if e.stopControllers != nil {
		errs = append(errs, e.stopControllers())
		e.stopControllers = nil
	}
	if e.Environment != nil {
		errs = append(errs, e.Environment.Stop())
	}
	return errors.Join(errs...)
}

// NewNamespace creates a namespace with a generated name starting with prefix, for one test.
func (e *Env) NewNamespace(ctx context.Context, prefix string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := e.Client.Create(ctx, ns); err != nil {
		return "", fmt.Errorf("kickqtest: creating a namespace: %w", err)
	}
	return ns.Name, nil
}

func assetsDir(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if dir == "" {
		return "", errors.New("kickqtest: set KUBEBUILDER_ASSETS (or Options.AssetsDir) to a folder with etcd and kube-apiserver; in the kickq repository, make control-plane builds them into bin/k8s")
	}
	for _, bin := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return "", fmt.Errorf("kickqtest: no %s in %s (KUBEBUILDER_ASSETS): %w", bin, dir, err)
		}
	}
	return dir, nil
}

// CRDs returns kickq's CustomResourceDefinitions, as Start installs them.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	objs, err := decodeAll("manifests/crd")
	if err != nil {
		return nil, err
	}
	crds := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(objs))
	for _, o := range objs {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, crd); err != nil {
			return nil, fmt.Errorf("kickqtest: decoding CRD %s: %w", o.GetName(), err)
		}
		crds = append(crds, crd)
	}
	return crds, nil
}

// Policies returns kickq's admission policies and their bindings, as Start installs them.
func Policies() ([]*unstructured.Unstructured, error) { return decodeAll("manifests/policy") }

func installPolicies(ctx context.Context, c client.Client) error {
	objs, err := Policies()
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("kickqtest: creating %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}

// decodeAll decodes every object of the YAML files in an embedded folder.
func decodeAll(dir string) ([]*unstructured.Unstructured, error) {
	entries, err := fs.ReadDir(manifests, dir)
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for _, e := range entries {
		f, err := manifests.Open(path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		dec := yaml.NewYAMLOrJSONDecoder(f, 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); err != nil {
				_ = f.Close()
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("kickqtest: decoding %s: %w", e.Name(), err)
			}
			if len(u.Object) > 0 {
				objs = append(objs, u)
			}
		}
	}
	return objs, nil
}

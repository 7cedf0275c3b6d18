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

package lifecycle

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"kickq.dev/kickq/controllers"
	"kickq.dev/kickq/test/util"
)

// This suite runs the manager's controllers against a real API server with a fake clock. No
// kubelet runs: specs play it by writing pod status.

var (
	testEnv   *envtest.Environment
	k8sClient client.Client // the test's own live client
	scheme    = util.NewScheme()
	ctx       context.Context
	cancel    context.CancelFunc
	fakeClock *clocktesting.FakeClock
	writes    = util.NewWriteCounter()
)

func TestLifecycle(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Lifecycle suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	var cfg *rest.Config
	var err error
	testEnv, cfg, k8sClient, err = util.Start(scheme)
	Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Several workers, as in production: limits must hold under concurrent reconciles.
		Controller: config.Controller{MaxConcurrentReconciles: 4},
	})
	Expect(err).NotTo(HaveOccurred())

	fakeClock = clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	// The manager's client (reads from the cache), wrapped to count writes.
	c, err := util.CountingClient(cfg, scheme, mgr.GetCache(), writes)
	Expect(err).NotTo(HaveOccurred())
	_, err = controllers.Setup(ctx, mgr, controllers.Options{Clock: fakeClock, Client: c})
	Expect(err).NotTo(HaveOccurred())

	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	cancel()
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

func newNamespace() string {
	ns, err := util.NewNamespace(ctx, k8sClient, "lc")
	Expect(err).NotTo(HaveOccurred())
	return ns
}

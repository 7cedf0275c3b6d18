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

package cron

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
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
	"kickq.dev/kickq/internal/netguard"
	"kickq.dev/kickq/test/util"
)

// This suite drives cron templates with a fake clock. Children are webhook jobs on a loopback
// receiver (allowed for this suite only): /ok answers 200, /accept 202 (the child stays Running).

var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	scheme    = util.NewScheme()
	ctx       context.Context
	cancel    context.CancelFunc
	fakeClock *clocktesting.FakeClock
	sink      *httptest.Server
	stopMgr   func()
)

func TestCron(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Cron suite")
}

func startManager() func() {
	m, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{MaxConcurrentReconciles: 4, SkipNameValidation: ptrTrue()},
	})
	Expect(err).NotTo(HaveOccurred())
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	GinkgoWriter.Printf("webhook calls may reach loopback (allowed for this test suite: %v)\n", allow)
	_, err = controllers.Setup(ctx, m, controllers.Options{Clock: fakeClock, WebhookGuard: netguard.New(allow, nil)})
	Expect(err).NotTo(HaveOccurred())
	mctx, mcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(m.Start(mctx)).To(Succeed())
	}()
	return func() { mcancel(); <-done }
}

func ptrTrue() *bool { b := true; return &b }

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	var err error
	testEnv, cfg, k8sClient, err = util.Start(scheme)
	Expect(err).NotTo(HaveOccurred())
	fakeClock = clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	sink = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/accept" {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	stopMgr = startManager()
})

var _ = AfterSuite(func() {
	if stopMgr != nil {
		stopMgr()
	}
	cancel()
	if sink != nil {
		sink.Close()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

func newNamespace() string {
	ns, err := util.NewNamespace(ctx, k8sClient, "cron")
	Expect(err).NotTo(HaveOccurred())
	return ns
}

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

package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
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
	"kickq.dev/kickq/internal/executor"
	"kickq.dev/kickq/internal/netguard"
	"kickq.dev/kickq/test/util"
)

// This suite runs webhook jobs against loopback receivers (httptest servers) and the report API,
// with a fake clock. Loopback is blocked for webhooks by default; the suite's managers allow
// 127.0.0.0/8 and ::1 through the same option the --webhook-allow-cidrs flag sets.

var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	scheme    = util.NewScheme()
	ctx       context.Context
	cancel    context.CancelFunc
	fakeClock *clocktesting.FakeClock
	writes    = util.NewWriteCounter()
	sink      *receiver
	mgr       *runningManager
)

// tokenKey signs attempt tokens in every manager of the suite, as a Secret would across restarts.
var tokenKey = []byte("kickq-webhook-suite-token-key-32b")

func TestWebhook(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Webhook suite")
}

// delivery is one call the receiver got.
type delivery struct {
	ID        string
	Timestamp string
	Signature string
	Path      string
	Payload   executor.Payload
	Raw       []byte
}

// receiver is a loopback webhook receiver whose answer is chosen per job name.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	handlers map[string]http.HandlerFunc
	got      map[string][]delivery
}

func newReceiver() *receiver {
	r := &receiver{handlers: map[string]http.HandlerFunc{}, got: map[string][]delivery{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(req.Body)
	var p executor.Payload
	_ = json.Unmarshal(raw, &p)
	r.mu.Lock()
	key := p.Name
	if req.URL.Path == "/notify" {
		key = "notify/" + p.Name
	}
	r.got[key] = append(r.got[key], delivery{ID: req.Header.Get("webhook-id"), Timestamp: req.Header.Get("webhook-timestamp"),
		Signature: req.Header.Get("webhook-signature"), Path: req.URL.Path, Payload: p, Raw: raw})
	h := r.handlers[key]
	r.mu.Unlock()
	if h == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	h(w, req)
}

// answer sets how the receiver answers calls for a job.
func (r *receiver) answer(job string, h http.HandlerFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[job] = h
}

func (r *receiver) deliveries(job string) []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got[job]...)
}

// runningManager is one manager process's worth of controllers.
type runningManager struct {
	ctrls  *controllers.Controllers
	cancel context.CancelFunc
	done   chan struct{}
}

func (m *runningManager) stop() {
	m.cancel()
	<-m.done
}

// startManager starts the controllers with a counting client, the fake clock, loopback allowed
// for webhooks and the report API on a loopback port.
func startManager() *runningManager {
	m, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{MaxConcurrentReconciles: 4, SkipNameValidation: ptrTrue()},
	})
	Expect(err).NotTo(HaveOccurred())
	c, err := util.CountingClient(cfg, scheme, m.GetCache(), writes)
	Expect(err).NotTo(HaveOccurred())
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	GinkgoWriter.Printf("webhook calls may reach loopback (allowed for this test suite: %v)\n", allow)
	ctrls, err := controllers.Setup(ctx, m, controllers.Options{Clock: fakeClock, Client: c,
		WebhookWorkers: 8, WebhookGuard: netguard.New(allow, nil),
		ReportBindAddress: "127.0.0.1:0", ReportTokenKey: tokenKey})
	Expect(err).NotTo(HaveOccurred())
	mctx, mcancel := context.WithCancel(ctx)
	rm := &runningManager{ctrls: ctrls, cancel: mcancel, done: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(rm.done)
		Expect(m.Start(mctx)).To(Succeed())
	}()
	return rm
}

func ptrTrue() *bool { b := true; return &b }

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	var err error
	testEnv, cfg, k8sClient, err = util.Start(scheme)
	Expect(err).NotTo(HaveOccurred())
	fakeClock = clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	sink = newReceiver()
	mgr = startManager()
})

var _ = AfterSuite(func() {
	if mgr != nil {
		mgr.stop()
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
	ns, err := util.NewNamespace(ctx, k8sClient, "wh")
	Expect(err).NotTo(HaveOccurred())
	return ns
}

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

package executor

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/netguard"
	"kickq.dev/kickq/internal/report"
	"kickq.dev/kickq/internal/signing"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// harness runs a Webhooks executor against loopback servers.
type harness struct {
	t      *testing.T
	clk    *clocktesting.FakeClock
	w      *Webhooks
	woken  chan types.NamespacedName
	cancel context.CancelFunc
}

func newHarness(t *testing.T, guard *netguard.Guard, objs ...runtime.Object) *harness {
	t.Helper()
	return newHarnessWith(t, WebhookOptions{Workers: 2, Guard: guard}, objs...)
}

// newHarnessWith runs an executor with opts (its clock, secrets, report endpoint and Notify are
// the harness's).
func newHarnessWith(t *testing.T, opts WebhookOptions, objs ...runtime.Object) *harness {
	t.Helper()
	s := runtime.NewScheme()
	_ = corev1.AddToScheme(s)
	h := &harness{t: t, clk: clocktesting.NewFakeClock(time.Now().Truncate(time.Second)), woken: make(chan types.NamespacedName, 1024)}
	signer, _ := report.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	opts.Clock = h.clk
	opts.Secrets = fake.NewClientBuilder().WithScheme(s).WithRuntimeObjects(objs...).Build()
	opts.Report = &report.Endpoint{BaseURL: "http://127.0.0.1:8082", Signer: signer}
	opts.Notify = func(k types.NamespacedName) { h.woken <- k }
	h.w = NewWebhooks(opts)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { _ = h.w.Run(ctx) }()
	t.Cleanup(cancel)
	return h
}

func testJob(name string) *kickqv1alpha1.QueueJob {
	return &kickqv1alpha1.QueueJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: types.UID("uid-" + name)},
		Spec: kickqv1alpha1.QueueJobSpec{QueueName: "default", Type: "email",
			Data: &apiextensionsv1.JSON{Raw: []byte(`{"to":"a@b.c"}`)}},
	}
}

// call starts attempt 1 and waits for its call to end.
func (h *harness) call(job *kickqv1alpha1.QueueJob, target kickqv1alpha1.WebhookTarget) attempt.Observation {
	h.t.Helper()
	if err := h.w.Start(context.Background(), job, attempt.Target{Kind: attempt.KindWebhook, Webhook: &target}, 1); err != nil {
		h.t.Fatal(err)
	}
	select {
	case <-h.woken:
	case <-time.After(10 * time.Second):
		h.t.Fatal("the call did not end")
	}
	obs, err := h.w.Observe(context.Background(), job, 1)
	if err != nil {
		h.t.Fatal(err)
	}
	return obs
}

func TestWebhookCallIsSignedAndCarriesThePayload(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	var mu sync.Mutex
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got, body = r, mustRead(r)
		_, _ = io.WriteString(w, `{"result":{"ok":1}}`)
	}))
	defer srv.Close()
	h := newHarness(t, netguard.New(loopback, nil), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: "shop", Labels: map[string]string{kickqv1alpha1.LabelWebhookSigning: "true"}},
		Data:       map[string][]byte{"secret": []byte(secret)}})
	job := testJob("signed")
	obs := h.call(job, kickqv1alpha1.WebhookTarget{URL: srv.URL + "/jobs",
		SecretRef: &kickqv1alpha1.SecretKeyRef{Name: "hook", Key: "secret"},
		Headers:   []kickqv1alpha1.HTTPHeader{{Name: "X-Tenant", Value: "shop"}}})
	if obs.Phase != attempt.Finished || obs.Result.Outcome != kickqv1alpha1.OutcomeSucceed || string(obs.Result.Result.Raw) != `{"ok":1}` {
		t.Fatalf("observation %+v", obs)
	}
	mu.Lock()
	defer mu.Unlock()
	if got.Header.Get("webhook-id") != "uid-signed-1" || got.Header.Get("X-Tenant") != "shop" || got.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", got.Header)
	}
	keys, _ := signing.Keys(secret)
	want, _ := signing.Signature(keys, got.Header.Get("webhook-id"), tsOf(t, got.Header.Get("webhook-timestamp")), body)
	if got.Header.Get("webhook-signature") != want {
		t.Fatalf("signature %q, want %q", got.Header.Get("webhook-signature"), want)
	}
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if p.ID != "uid-signed-1" || p.Namespace != "shop" || p.Name != "signed" || p.Queue != "default" || p.Type != "email" ||
		p.Attempt != 1 || string(p.Data.Raw) != `{"to":"a@b.c"}` ||
		p.ReportURL != "http://127.0.0.1:8082/v1/namespaces/shop/queuejobs/signed/report" || !strings.HasPrefix(p.Token, "kq1.1.") {
		t.Fatalf("payload %+v", p)
	}
	// The attempt's number is under DESIGN.md's key "attempt" (and, as before, "n").
	var keys2 map[string]any
	if err := json.Unmarshal(body, &keys2); err != nil || keys2["attempt"] != float64(1) || keys2["n"] != float64(1) {
		t.Fatalf("payload keys %v (%v)", keys2, err)
	}
}

func TestWebhookMissingSecretFails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	h := newHarness(t, netguard.New(loopback, nil))
	obs := h.call(testJob("nosecret"), kickqv1alpha1.WebhookTarget{URL: srv.URL, SecretRef: &kickqv1alpha1.SecretKeyRef{Name: "absent", Key: "k"}})
	if obs.Result.Outcome != kickqv1alpha1.OutcomeFail || obs.Result.Reason != "SecretUnavailable" {
		t.Fatalf("%+v", obs.Result)
	}
}

// SSRF: each refusal is proven with loopback servers and the guard's own verdict; no other
// address is dialled.
func TestWebhookGuard(t *testing.T) {
	hits := 0
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		w.WriteHeader(200)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	t.Run("loopback by address is refused by default", func(t *testing.T) {
		h := newHarness(t, nil)
		obs := h.call(testJob("lo"), kickqv1alpha1.WebhookTarget{URL: srv.URL})
		if obs.Result.Outcome != kickqv1alpha1.OutcomeDie || obs.Result.Reason != "AddressRefused" || !strings.Contains(obs.Result.Message, "loopback") {
			t.Fatalf("%+v", obs.Result)
		}
	})
	t.Run("a host name resolving to 127.0.0.1 is refused", func(t *testing.T) {
		h := newHarness(t, nil)
		obs := h.call(testJob("name"), kickqv1alpha1.WebhookTarget{URL: "http://localhost:" + port + "/"})
		if obs.Result.Outcome != kickqv1alpha1.OutcomeDie || obs.Result.Reason != "AddressRefused" {
			t.Fatalf("%+v", obs.Result)
		}
	})
	t.Run("a redirect to a blocked address is not followed", func(t *testing.T) {
		redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		}))
		defer redirect.Close()
		h := newHarness(t, netguard.New(loopback, nil))
		obs := h.call(testJob("redirect"), kickqv1alpha1.WebhookTarget{URL: redirect.URL})
		if obs.Result.Outcome != kickqv1alpha1.OutcomeFail || *obs.Result.HTTPStatusCode != 302 {
			t.Fatalf("%+v", obs.Result)
		}
	})
	t.Run("a denied range is refused even when allowed", func(t *testing.T) {
		h := newHarness(t, netguard.New(loopback, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}))
		obs := h.call(testJob("denied"), kickqv1alpha1.WebhookTarget{URL: srv.URL})
		if obs.Result.Reason != "AddressRefused" || !strings.Contains(obs.Result.Message, "deny") {
			t.Fatalf("%+v", obs.Result)
		}
	})
	t.Run("an allowed address works", func(t *testing.T) {
		h := newHarness(t, netguard.New(loopback, nil))
		obs := h.call(testJob("ok"), kickqv1alpha1.WebhookTarget{URL: srv.URL})
		if obs.Result.Outcome != kickqv1alpha1.OutcomeSucceed {
			t.Fatalf("%+v", obs.Result)
		}
	})
	mu.Lock()
	defer mu.Unlock()
	if hits != 1 {
		t.Fatalf("the sink was reached %d times; only the allowed call may reach it", hits)
	}
}

// The call's timeout runs on the injected clock.
func TestWebhookTimeoutOnTheFakeClock(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	h := newHarness(t, netguard.New(loopback, nil))
	job := testJob("slow")
	five := int32(5)
	if err := h.w.Start(context.Background(), job, attempt.Target{Kind: attempt.KindWebhook, Webhook: &kickqv1alpha1.WebhookTarget{URL: srv.URL, TimeoutSeconds: &five}}, 1); err != nil {
		t.Fatal(err)
	}
	<-arrived
	if obs, _ := h.w.Observe(context.Background(), job, 1); obs.Phase != attempt.Running {
		t.Fatalf("in flight: %+v", obs)
	}
	if ok, _ := h.w.Settled(context.Background(), job, 2); ok {
		t.Fatal("attempt 2 may not start while attempt 1's call is in flight")
	}
	h.clk.Step(4 * time.Second)
	select {
	case <-h.woken:
		t.Fatal("timed out before timeoutSeconds")
	case <-time.After(100 * time.Millisecond):
	}
	h.clk.Step(time.Second)
	<-h.woken
	obs, _ := h.w.Observe(context.Background(), job, 1)
	if obs.Phase != attempt.Finished || obs.Result.Outcome != kickqv1alpha1.OutcomeFail || obs.Result.Reason != "Timeout" {
		t.Fatalf("%+v", obs)
	}
	// Forget drops it; a restarted manager sees nothing and calls again.
	h.w.Forget(job.UID)
	if obs, _ := h.w.Observe(context.Background(), job, 1); obs.Phase != attempt.Missing {
		t.Fatalf("after Forget: %+v", obs)
	}
}

func tsOf(t *testing.T, s string) time.Time {
	t.Helper()
	var sec int64
	if err := json.Unmarshal([]byte(s), &sec); err != nil {
		t.Fatal(err)
	}
	return time.Unix(sec, 0)
}

func mustRead(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	return b
}

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
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"kickq.dev/kickq/internal/executor"
	"kickq.dev/kickq/test/util"
	"kickq.dev/kickq/test/util/suite"
)

// This suite runs webhook jobs against loopback receivers (httptest servers) and the report API,
// with a fake clock. Loopback is blocked for webhooks by default; the suite's managers allow
// 127.0.0.0/8 and ::1 through the same option the --webhook-allow-cidrs flag sets.

// tokenKey signs attempt tokens in every manager of the suite, as a Secret would across restarts.
var tokenKey = []byte("kickq-webhook-suite-token-key-32b")

var (
	writes = util.NewWriteCounter()
	sink   *receiver
	// Each manager: a counting client, the fake clock, loopback allowed for webhooks and the
	// report API on a loopback port.
	env = suite.New(suite.Options{Name: "wh", FakeClock: true,
		Manager: &suite.ManagerOptions{Workers: 4, Writes: writes, AllowLoopback: true, WebhookWorkers: 8,
			Report: true, ReportTokenKey: tokenKey},
		Setup: func() { sink = newReceiver() },
		Teardown: func() {
			if sink != nil {
				sink.Close()
			}
		},
	})
)

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

// receiver is a loopback webhook receiver whose answer is chosen per job (namespace and name, so
// that no spec sees another's calls). A completion callback's job part is "notify/<name>".
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
	name := p.Name
	if req.URL.Path == "/notify" {
		name = "notify/" + p.Name
	}
	key := p.Namespace + "/" + name
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

// answer sets how the receiver answers calls for a job of namespace ns.
func (r *receiver) answer(ns, job string, h http.HandlerFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[ns+"/"+job] = h
}

func (r *receiver) deliveries(ns, job string) []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got[ns+"/"+job]...)
}

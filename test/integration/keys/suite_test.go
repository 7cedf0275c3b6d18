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

package keys

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"kickq.dev/kickq/internal/executor"
	"kickq.dev/kickq/test/util"
	"kickq.dev/kickq/test/util/suite"
)

// This suite runs jobs with spec.key through queues with keyLimits, with a fake clock: pod jobs
// (specs play the kubelet) and webhook jobs against a loopback receiver that notes each call's
// time on the manager's clock.

var (
	sink *receiver
	env  = suite.New(suite.Options{Name: "keys", FakeClock: true,
		Manager: &suite.ManagerOptions{Workers: 4, Writes: util.NewWriteCounter(), AllowLoopback: true, WebhookWorkers: 8},
		Setup:   func() { sink = newReceiver() },
		Teardown: func() {
			if sink != nil {
				sink.Close()
			}
		},
	})
)

// clockNow reads the suite's fake clock (set before each spec: env's Setup cannot name env).
var clockNow = time.Now

var _ = BeforeEach(func() { clockNow = env.Clock.Now })

func TestKeys(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Keys suite")
}

// call is one call the receiver got: for which job, at which time of the fake clock.
type call struct {
	Job string
	At  time.Time
}

// receiver answers each call with the answer set for its job (200 when none) and notes it.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	answers map[string]http.HandlerFunc
	calls   map[string][]call // by namespace
}

func newReceiver() *receiver {
	r := &receiver{answers: map[string]http.HandlerFunc{}, calls: map[string][]call{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(req.Body)
	var p executor.Payload
	_ = json.Unmarshal(raw, &p)
	r.mu.Lock()
	r.calls[p.Namespace] = append(r.calls[p.Namespace], call{Job: p.Name, At: clockNow()})
	h := r.answers[p.Namespace+"/"+p.Name]
	r.mu.Unlock()
	if h == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	h(w, req)
}

func (r *receiver) answer(ns, job string, h http.HandlerFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers[ns+"/"+job] = h
}

func (r *receiver) callsIn(ns string) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls[ns]...)
}

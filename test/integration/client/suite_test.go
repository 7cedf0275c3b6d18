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

package client

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"kickq.dev/kickq/test/util/suite"
)

// This suite drives the application API, pkg/kickq (Enqueue, Wait), and the generated clients of
// pkg/generated against a control plane with a manager on a fake clock. Jobs run as webhook calls
// to a loopback receiver (loopback is allowed for this suite's manager).

var (
	sink *receiver
	env  = suite.New(suite.Options{Name: "client", FakeClock: true, Policies: true,
		Manager: &suite.ManagerOptions{AllowLoopback: true},
		Setup:   func() { sink = newReceiver() },
		Teardown: func() {
			if sink != nil {
				sink.Close()
			}
		},
	})
)

func TestClient(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Client suite")
}

// receiver answers webhook calls by path: /echo succeeds with the job's data as its result,
// /gone answers 410 (the job dies), /hold/<name> waits until release(<name>), then succeeds.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	holds map[string]chan struct{}
}

func newReceiver() *receiver {
	r := &receiver{holds: map[string]chan struct{}{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	var p struct{ Data json.RawMessage }
	body, _ := io.ReadAll(req.Body)
	_ = json.Unmarshal(body, &p)
	switch path := req.URL.Path; {
	case path == "/gone":
		w.WriteHeader(http.StatusGone)
	case len(path) > len("/hold/") && path[:len("/hold/")] == "/hold/":
		select {
		case <-r.hold(path[len("/hold/"):]):
		case <-req.Context().Done():
			return
		}
		_, _ = io.WriteString(w, `{"result": "released"}`)
	default:
		if len(p.Data) == 0 {
			p.Data = json.RawMessage("null")
		}
		_, _ = w.Write(append(append([]byte(`{"result": `), p.Data...), '}'))
	}
}

func (r *receiver) hold(key string) chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.holds[key] == nil {
		r.holds[key] = make(chan struct{})
	}
	return r.holds[key]
}

// release lets the calls held under key answer.
func (r *receiver) release(key string) { close(r.hold(key)) }

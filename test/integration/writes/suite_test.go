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

package writes

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"kickq.dev/kickq/internal/lifecycle"
	"kickq.dev/kickq/test/util"
	"kickq.dev/kickq/test/util/suite"
)

// This suite runs the manager with its production --running-write-delay on a fake clock and
// counts its API writes per job: a pod attempt or an unlimited webhook call is its own record,
// so a one-attempt job that ends within the delay costs one status write. No kubelet runs: specs
// play it by writing pod status.

var (
	writes = util.NewWriteCounter()
	delay  = lifecycle.DefaultRunningWriteDelay
	sink   *httptest.Server
	calls  atomic.Int64
	// specStart is the fake clock when the spec began (the real time then, in whole seconds).
	specStart time.Time
	env       = suite.New(suite.Options{Name: "wr", FakeClock: true,
		Setup: func() {
			sink = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				calls.Add(1)
				w.WriteHeader(http.StatusOK)
			}))
		},
		Teardown: func() { sink.Close() },
		Manager:  &suite.ManagerOptions{Workers: 4, Writes: writes, AllowLoopback: true, RunningWriteDelay: &delay}})
)

func TestWrites(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Writes suite")
}

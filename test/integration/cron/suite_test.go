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
	"net/http"
	"net/http/httptest"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"kickq.dev/kickq/test/util/suite"
)

// This suite drives cron templates with a fake clock. Children are webhook jobs on a loopback
// receiver (allowed for this suite only): /ok answers 200, /accept 202 (the child stays Running).

var (
	sink *httptest.Server
	env  = suite.New(suite.Options{Name: "cron", FakeClock: true,
		Manager: &suite.ManagerOptions{Workers: 4, AllowLoopback: true},
		Setup: func() {
			sink = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/accept" {
					w.WriteHeader(http.StatusAccepted)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
		},
		Teardown: func() {
			if sink != nil {
				sink.Close()
			}
		},
	})
)

func TestCron(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Cron suite")
}

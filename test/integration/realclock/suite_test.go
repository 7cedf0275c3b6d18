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

package realclock

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"kickq.dev/kickq/test/util/suite"
)

// This suite measures, on the real clock, what only a receiver's clock can show: rate limits and
// not-before times as a loopback webhook receiver sees them (issue #12, items 13 and 14). It is
// bounded (about 40 s with the control plane's start) and its bounds leave slack for a loaded
// 2-core machine; its figures are in docs/benchmarks.md. Webhook calls reach loopback only.

var env = suite.New(suite.Options{Name: "rc",
	Manager: &suite.ManagerOptions{Workers: 4, AllowLoopback: true}})

func TestRealClock(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Real-clock suite")
}

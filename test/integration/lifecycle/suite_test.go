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
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"kickq.dev/kickq/test/util"
	"kickq.dev/kickq/test/util/suite"
)

// This suite runs the manager's controllers against a real API server with a fake clock. No
// kubelet runs: specs play it by writing pod status.

var (
	writes = util.NewWriteCounter()
	env    = suite.New(suite.Options{Name: "lc", FakeClock: true,
		// The manager's client counts its writes; several workers, as in production: limits must
		// hold under concurrent reconciles.
		Manager: &suite.ManagerOptions{Workers: 4, Writes: writes}})
)

func TestLifecycle(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Lifecycle suite")
}

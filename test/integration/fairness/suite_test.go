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

// Package fairness holds the specs that one namespace's load does not slow another's: reconcile
// work (internal/fairqueue) and webhook calls (the executor's fair call pool). Each spec starts
// its own manager.
package fairness

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"kickq.dev/kickq/test/util/suite"
)

// The fake clock never moves here: no delay, backoff or timeout passes, so what the specs see is
// the order of work, not its timing.
var env = suite.New(suite.Options{Name: "fair", FakeClock: true})

func TestFairness(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Fairness suite")
}

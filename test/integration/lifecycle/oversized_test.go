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
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
	"kickq.dev/kickq/test/util"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

// Data over limits.MaxDataBytes costs the manager a few bytes: its cache holds a marker of the
// size, and the job fails InvalidSpec naming spec.data.
var _ = Describe("A job with spec.data over the cap", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("fails InvalidSpec naming spec.data and its size, and the manager's cache never holds the data", func() {
		const size = 100 * 1024
		big := `{"blob":"` + strings.Repeat("a", size-len(`{"blob":""}`)) + `"}` // spec.data is an object
		create(utiltesting.MakeQueueJob("big", ns).Pod().Data(big).Obj())

		j := expectPhase(ns, "big", kickqv1alpha1.PhaseFailed)
		Expect(j.Status.Reason).To(Equal(kickqv1alpha1.ReasonInvalidSpec))
		Expect(j.Status.Message).To(Equal(fmt.Sprintf("spec.data is %d bytes; the manager accepts at most %d", size, limits.MaxDataBytes)))
		Expect(j.Status.Attempts).To(BeZero())
		Expect(j.Spec.Data.Raw).To(HaveLen(size), "the API server keeps what was written")
		Consistently(podExists(ns, "big-1"), util.ConsistentDuration, util.Interval).Should(BeFalse())

		var cached kickqv1alpha1.QueueJob
		Expect(env.Manager().Cache.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "big"}, &cached)).To(Succeed())
		// Until it failed the cache held the marker of its size (internal/cachetransform's unit
		// tests); a finished job is cached without spec.data at all, nor its pod template.
		Expect(cached.Spec.Data).To(BeNil())
		Expect(cached.Spec.Pod.Template.Spec.Containers).To(BeEmpty())
		Expect(cached.ManagedFields).To(BeEmpty())
	})
})

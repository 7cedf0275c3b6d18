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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

var _ = Describe("A delayed job", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("starts no earlier than delaySeconds after it was first seen", func() {
		// The fake clock starts the spec at the real time (whole seconds) and is not stepped
		// before the manager first sees the job, so first sight is exactly start. The API server
		// stamps creationTimestamp later, in whole seconds: start <= creationTimestamp. The delay
		// counts from the earlier of first sight and creationTimestamp + 1 s: from start.
		start := env.Clock.Now()
		create(utiltesting.MakeQueueJob("patient", ns).Pod().Delay(30 * time.Second).Obj())
		j := expectPhase(ns, "patient", kickqv1alpha1.PhaseDelayed)
		Expect(j.Status.NextAttemptTime).NotTo(BeNil())
		next := j.Status.NextAttemptTime.Time
		created := j.CreationTimestamp.Time
		Expect(created).NotTo(BeTemporally("<", start))
		Expect(next).To(BeTemporally("==", start.Add(30*time.Second)), "30 s after first sight, never early")
		Expect(next).NotTo(BeTemporally(">", created.Add(31*time.Second)), "never later than creationTimestamp + 1 s + 30 s")

		// A second before it is due: still Delayed, no pod.
		stepTo(next.Add(-time.Second))
		Consistently(func(g Gomega) {
			g.Expect(phaseOf(ns, "patient")()).To(Equal(kickqv1alpha1.PhaseDelayed))
			g.Expect(podExists(ns, "patient-1")()).To(BeFalse())
		}, util.ConsistentDuration, util.Interval).Should(Succeed())
		Expect(getJob(ns, "patient").Status.NextAttemptTime.Time).To(BeTemporally("==", next))

		// At nextAttemptTime its pod appears.
		stepTo(next)
		pod := waitPod(ns, "patient", 1)
		Expect(pod.Labels).To(HaveKeyWithValue(kickqv1alpha1.LabelAttempt, "1"))
		started := expectPhase(ns, "patient", kickqv1alpha1.PhaseRunning)
		Expect(started.Status.AttemptHistory[0].StartTime).NotTo(BeNil())
		Expect(started.Status.AttemptHistory[0].StartTime.Time).NotTo(BeTemporally("<", next))
	})
})

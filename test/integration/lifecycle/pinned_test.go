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
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

var _ = Describe("A running attempt pinned to its handler", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("stays on its pod when the queue's handler becomes a webhook, and succeeds from the pod", func() {
		create(utiltesting.MakeQueue("pin", ns).Handler("t", utiltesting.MakeHandler().Pod().Obj()).Obj())
		create(utiltesting.MakeQueueJob("pinned", ns).Queue("pin").Type("t").Obj())
		pod := waitPod(ns, "pinned", 1)
		running := expectPhase(ns, "pinned", kickqv1alpha1.PhaseRunning)
		Expect(running.Status.AttemptHistory).To(HaveLen(1))
		Expect(running.Status.AttemptHistory[0].TargetKind).To(Equal("Pod"))
		Expect(running.Status.AttemptHistory[0].Handler).To(Equal("t"))

		// The queue's owner moves type t to a webhook. Nothing listens there: the running
		// attempt must not be sent to it.
		modify(&kickqv1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pin"}}, func(q *kickqv1alpha1.Queue) {
			q.Spec.Handlers[0].HandlerSpec = utiltesting.MakeHandler().Webhook("http://127.0.0.1:1/never").Obj()
		})
		onItsPod := func(g Gomega) {
			j := getJob(ns, "pinned")
			g.Expect(j.Status.Phase).To(Equal(kickqv1alpha1.PhaseRunning))
			g.Expect(j.Status.Attempts).To(Equal(int32(1)))
			g.Expect(j.Status.AttemptHistory).To(HaveLen(1))
			a := j.Status.AttemptHistory[0]
			g.Expect(a.TargetKind).To(Equal("Pod"))
			g.Expect(a.Handler).To(Equal("t"))
			g.Expect(a.PodName).To(Equal("pinned-1"))
			g.Expect(a.HTTPStatusCode).To(BeNil())
		}
		Consistently(onItsPod, 3*util.ConsistentDuration, util.Interval).Should(Succeed())
		Expect(podExists(ns, "pinned-1")()).To(BeTrue())

		setPodExited(pod, 0, "")
		done := expectPhase(ns, "pinned", kickqv1alpha1.PhaseSucceeded)
		Expect(done.Status.Attempts).To(Equal(int32(1)))
		Expect(done.Status.AttemptHistory).To(HaveLen(1))
		Expect(done.Status.AttemptHistory[0].TargetKind).To(Equal("Pod"))
		Expect(done.Status.AttemptHistory[0].Handler).To(Equal("t"))
		Expect(done.Status.AttemptHistory[0].HTTPStatusCode).To(BeNil())
		Consistently(func() int {
			j := getJob(ns, "pinned")
			n := 0
			for _, a := range j.Status.AttemptHistory {
				if a.HTTPStatusCode != nil || a.TargetKind != "Pod" {
					n++
				}
			}
			return n + len(j.Status.AttemptHistory) - 1
		}, util.ConsistentDuration, util.Interval).Should(BeZero(), "no attempt went to the webhook")
	})
})

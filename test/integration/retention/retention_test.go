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

// Package retention tests the manager's --default-retention on a real API server with a fake
// clock: finished jobs that neither they nor their queue say how long to keep are deleted per the
// cluster-wide default, and a job's or a queue's own retention wins over it.
package retention

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/controllers"
	"kickq.dev/kickq/test/util"
	"kickq.dev/kickq/test/util/suite"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

// defaultRetention is the suite manager's --default-retention.
const defaultRetention = "succeeded.ttl=1h,failed.historyLimit=1"

var env = suite.New(suite.Options{Name: "rt", FakeClock: true, Manager: &suite.ManagerOptions{DefaultRetention: mustParse(defaultRetention)}})

func mustParse(s string) *kickqv1alpha1.Retention {
	r, err := controllers.ParseDefaultRetention(s)
	if err != nil {
		panic(err)
	}
	return r
}

func TestRetention(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Default retention suite")
}

var _ = Describe("The cluster-wide default retention (--default-retention="+defaultRetention+")", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	gone := func(name string) func() bool {
		return func() bool {
			var j kickqv1alpha1.QueueJob
			return apierrors.IsNotFound(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j))
		}
	}
	// run creates a pod job, ends its first pod with code (the test plays the kubelet), waits for
	// phase and returns the finish time.
	run := func(job *kickqv1alpha1.QueueJob, code int32, phase kickqv1alpha1.QueueJobPhase) time.Time {
		GinkgoHelper()
		Expect(env.Client.Create(env.Ctx, job)).To(Succeed())
		var pod corev1.Pod
		Eventually(func() error {
			return env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: job.Name + "-1"}, &pod)
		}, util.Timeout, util.Interval).Should(Succeed())
		p := utiltesting.WrapPod(&pod).Exited(code, "").Obj()
		Expect(env.Client.Status().Update(env.Ctx, p)).To(Succeed())
		var got kickqv1alpha1.QueueJob
		Eventually(func() kickqv1alpha1.QueueJobPhase {
			if env.Client.Get(env.Ctx, client.ObjectKeyFromObject(job), &got) != nil {
				return ""
			}
			return got.Status.Phase
		}, util.Timeout, util.Interval).Should(Equal(phase))
		return got.Status.FinishTime.Time
	}
	stepTo := func(t time.Time) {
		if t.After(env.Clock.Now()) {
			env.Clock.SetTime(t)
		}
	}

	It("deletes a succeeded job of a queue without retention exactly its default TTL after it finished", func() {
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueue("plain", ns).Obj())).To(Succeed())
		done := run(utiltesting.MakeQueueJob("plain-job", ns).Queue("plain").Pod().Obj(), 0, kickqv1alpha1.PhaseSucceeded)
		stepTo(done.Add(time.Hour - time.Second))
		Consistently(gone("plain-job"), util.ConsistentDuration, util.Interval).Should(BeFalse())
		stepTo(done.Add(time.Hour))
		Eventually(gone("plain-job"), util.Timeout, util.Interval).Should(BeTrue())
	})

	It("applies to the implicit default queue too", func() {
		done := run(utiltesting.MakeQueueJob("implicit", ns).Pod().Obj(), 0, kickqv1alpha1.PhaseSucceeded)
		stepTo(done.Add(time.Hour))
		Eventually(gone("implicit"), util.Timeout, util.Interval).Should(BeTrue())
	})

	It("lets a job's own ttlSecondsAfterFinished win", func() {
		done := run(utiltesting.MakeQueueJob("own-ttl", ns).Pod().TTLAfterFinished(2*time.Hour).Obj(), 0, kickqv1alpha1.PhaseSucceeded)
		stepTo(done.Add(time.Hour))
		Consistently(gone("own-ttl"), util.ConsistentDuration, util.Interval).Should(BeFalse())
		stepTo(done.Add(2 * time.Hour))
		Eventually(gone("own-ttl"), util.Timeout, util.Interval).Should(BeTrue())
	})

	It("lets a queue's retention for the phase win, also one with a history limit only", func() {
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueue("short", ns).SucceededTTL(10*time.Minute).Obj())).To(Succeed())
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueue("counted", ns).SucceededHistory(5).Obj())).To(Succeed())
		short := run(utiltesting.MakeQueueJob("short-job", ns).Queue("short").Pod().Obj(), 0, kickqv1alpha1.PhaseSucceeded)
		run(utiltesting.MakeQueueJob("counted-job", ns).Queue("counted").Pod().Obj(), 0, kickqv1alpha1.PhaseSucceeded)
		stepTo(short.Add(10 * time.Minute))
		Eventually(gone("short-job"), util.Timeout, util.Interval).Should(BeTrue())
		stepTo(short.Add(3 * time.Hour))
		Consistently(gone("counted-job"), util.ConsistentDuration, util.Interval).Should(BeFalse())
	})

	It("keeps the newest failed job per queue (default historyLimit 1), also in the implicit queue", func() {
		for i := 1; i <= 2; i++ {
			run(utiltesting.MakeQueueJob(fmt.Sprintf("bad-%d", i), ns).Pod().Retry(0).Obj(), 1, kickqv1alpha1.PhaseFailed)
			env.Clock.Step(time.Second) // distinct finish times: bad-1 is the older
		}
		Eventually(gone("bad-1"), util.Timeout, util.Interval).Should(BeTrue())
		Consistently(gone("bad-2"), util.ConsistentDuration, util.Interval).Should(BeFalse())
	})
})

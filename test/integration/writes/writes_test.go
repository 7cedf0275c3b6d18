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
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

func getJob(ns, name string) *kickqv1alpha1.QueueJob {
	GinkgoHelper()
	var j kickqv1alpha1.QueueJob
	Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j)).To(Succeed())
	return &j
}

func expectPhase(ns, name string, p kickqv1alpha1.QueueJobPhase) *kickqv1alpha1.QueueJob {
	GinkgoHelper()
	Eventually(func() kickqv1alpha1.QueueJobPhase { return getJob(ns, name).Status.Phase }, util.Timeout, util.Interval).Should(Equal(p))
	return getJob(ns, name)
}

func waitPod(ns, job string, n int) *corev1.Pod {
	GinkgoHelper()
	var pod corev1.Pod
	Eventually(func() error {
		return env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("%s-%d", job, n)}, &pod)
	}, util.Timeout, util.Interval).Should(Succeed())
	return &pod
}

func podNames(ns string) func() ([]string, error) {
	return func() ([]string, error) {
		var pods corev1.PodList
		if err := env.Client.List(env.Ctx, &pods, client.InNamespace(ns)); err != nil {
			return nil, err
		}
		names := make([]string, 0, len(pods.Items))
		for i := range pods.Items {
			names = append(names, pods.Items[i].Name)
		}
		return names, nil
	}
}

func podExists(ns, name string) func() bool {
	return func() bool {
		var pod corev1.Pod
		return env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &pod) == nil
	}
}

// expectPodStart: a start taken from the attempt's pod is its creation — or, while the cache has not
// shown the pod yet, the instant this manager created it. Here the manager's clock is the spec's
// fake clock, set to the real time when the spec began (specStart) and not the API server's: the
// start is between that instant and the pod's creation, give or take the second metav1.Time
// truncates to.
func expectPodStart(start time.Time, pod *corev1.Pod) {
	GinkgoHelper()
	created := pod.CreationTimestamp.Time
	Expect(start).To(And(BeTemporally(">=", specStart.Add(-time.Second)), BeTemporally("<=", created.Add(time.Second))),
		"the pod's creation (%s), or the manager's fake clock when it created it (the spec began at %s)", created, specStart)
}

// The kubelet's part.
func writePod(pod *corev1.Pod, w *utiltesting.PodWrapper) {
	GinkgoHelper()
	p := w.Obj()
	Expect(env.Client.Status().Update(env.Ctx, p)).To(Succeed())
	*pod = *p
}

var _ = Describe("The write path of an attempt", func() {
	var ns string
	BeforeEach(func() { ns, specStart = env.NewNamespace(), env.Clock.Now() })

	It("costs a quickly finishing pod attempt one status write, its start taken from the pod", func() {
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("quick", ns).Pod().Obj())).To(Succeed())
		pod := waitPod(ns, "quick", 1)
		Consistently(func() int32 { return getJob(ns, "quick").Status.Attempts }, util.ConsistentDuration, util.Interval).Should(BeZero(),
			"within --running-write-delay the pod is the attempt's record")

		writePod(pod, utiltesting.WrapPod(pod).Exited(0, `{"ok":true}`))
		done := expectPhase(ns, "quick", kickqv1alpha1.PhaseSucceeded)
		Expect(done.Status.Attempts).To(Equal(int32(1)))
		Expect(done.Status.AttemptHistory).To(HaveLen(1))
		Expect(done.Status.AttemptHistory[0].PodName).To(Equal("quick-1"))
		expectPodStart(done.Status.AttemptHistory[0].StartTime.Time, pod)
		expectPodStart(done.Status.StartTime.Time, pod)
		Expect(done.Status.ReadyTime).NotTo(BeNil(), "the one write records when the job was ready (the wait metrics count from it)")
		Expect(done.Status.ReadyTime.Time).To(Equal(done.CreationTimestamp.Time))
		Consistently(func() int { return writes.Of(ns, "quick") }, util.ConsistentDuration, util.Interval).Should(Equal(2),
			"one pod create and one status write (Running and Succeeded together)")
		var events corev1.EventList
		Expect(env.Client.List(env.Ctx, &events, client.InNamespace(ns))).To(Succeed())
		Expect(events.Items).To(BeEmpty(), "status says the job succeeded: no Event")
		AddReportEntry("API writes for a quick one-attempt pod job", writes.Of(ns, "quick"))
	})

	It("shows a pod attempt that runs longer than the delay Running, with its pod's start", func() {
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("long", ns).Pod().Obj())).To(Succeed())
		pod := waitPod(ns, "long", 1)
		writePod(pod, utiltesting.WrapPod(pod).Running(time.Now()))
		env.Clock.Step(delay)
		running := expectPhase(ns, "long", kickqv1alpha1.PhaseRunning)
		Expect(running.Status.Attempts).To(Equal(int32(1)))
		expectPodStart(running.Status.AttemptHistory[0].StartTime.Time, pod)
		var list kickqv1alpha1.QueueJobList
		Expect(env.Client.List(env.Ctx, &list, client.InNamespace(ns), client.MatchingFields{"status.phase": "Running"})).To(Succeed())
		Expect(list.Items).To(HaveLen(1), "field selectors see it Running")

		writePod(pod, utiltesting.WrapPod(pod).Exited(0, ""))
		expectPhase(ns, "long", kickqv1alpha1.PhaseSucceeded)
		Consistently(func() int { return writes.Of(ns, "long") }, util.ConsistentDuration, util.Interval).Should(Equal(3),
			"one pod create, Running, Succeeded")
		Expect(podExists(ns, "long-2")()).To(BeFalse())
	})

	It("keeps a queue's concurrency while a pod attempt is unrecorded", func() {
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueue("one", ns).Concurrency(1).Obj())).To(Succeed())
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("a", ns).Queue("one").Pod().Obj())).To(Succeed())
		pod := waitPod(ns, "a", 1)
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("b", ns).Queue("one").Pod().Obj())).To(Succeed())
		Eventually(func() string { return string(getJob(ns, "b").Status.Phase) }, util.Timeout, util.Interval).Should(Equal(string(kickqv1alpha1.PhasePending)))
		Consistently(podExists(ns, "b-1"), util.ConsistentDuration, util.Interval).Should(BeFalse())

		writePod(pod, utiltesting.WrapPod(pod).Exited(0, ""))
		expectPhase(ns, "a", kickqv1alpha1.PhaseSucceeded)
		waitPod(ns, "b", 1)
	})

	It("costs a one-attempt webhook job answered at once one status write", func() {
		before := calls.Load()
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("hook", ns).Webhook(sink.URL).Obj())).To(Succeed())
		done := expectPhase(ns, "hook", kickqv1alpha1.PhaseSucceeded)
		Expect(done.Status.Attempts).To(Equal(int32(1)))
		Expect(done.Status.AttemptHistory[0].StartTime).NotTo(BeNil())
		Expect(calls.Load() - before).To(Equal(int64(1)))
		Consistently(func() int { return writes.Of(ns, "hook") }, util.ConsistentDuration, util.Interval).Should(Equal(1))
		AddReportEntry("API writes for a one-attempt webhook job", writes.Of(ns, "hook"))
	})

	It("records a rate-limited webhook call Running before it is sent", func() {
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueue("limited", ns).Rate(5, 60).Obj())).To(Succeed())
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("hook", ns).Queue("limited").Webhook(sink.URL).Obj())).To(Succeed())
		expectPhase(ns, "hook", kickqv1alpha1.PhaseSucceeded)
		Consistently(func() int { return writes.Of(ns, "hook") }, util.ConsistentDuration, util.Interval).Should(Equal(2),
			"Running (the durable start the rate window counts after a restart), then Succeeded")
	})
})

var _ = Describe("A restart between a pod's create and the first status write", func() {
	var ns string
	BeforeEach(func() { ns, specStart = env.NewNamespace(), env.Clock.Now() })

	It("adopts the pod: the attempt is neither lost nor doubled, and the queue's concurrency holds", func() {
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueue("one", ns).Concurrency(1).Obj())).To(Succeed())
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("a", ns).Queue("one").Pod().Obj())).To(Succeed())
		pod := waitPod(ns, "a", 1)
		Expect(getJob(ns, "a").Status.Attempts).To(BeZero())
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("b", ns).Queue("one").Pod().Obj())).To(Succeed())
		Eventually(func() string { return string(getJob(ns, "b").Status.Phase) }, util.Timeout, util.Interval).Should(Equal(string(kickqv1alpha1.PhasePending)))

		env.RestartManager()
		running := expectPhase(ns, "a", kickqv1alpha1.PhaseRunning)
		Expect(running.Status.Attempts).To(Equal(int32(1)), "the new manager adopts the pod as attempt 1")
		expectPodStart(running.Status.AttemptHistory[0].StartTime.Time, pod)
		Consistently(podNames(ns), util.ConsistentDuration, util.Interval).Should(ConsistOf("a-1"),
			"no second attempt of a, and b waits for a's slot")

		writePod(pod, utiltesting.WrapPod(pod).Exited(0, ""))
		expectPhase(ns, "a", kickqv1alpha1.PhaseSucceeded)
		waitPod(ns, "b", 1)
	})
})

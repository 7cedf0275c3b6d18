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
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

// A pod the API server refuses ends its attempt with the API server's message and frees the
// queue's slot: the job behind it in a concurrency-1 queue starts.
var _ = Describe("A pod the API server refuses", func() {
	var ns string
	BeforeEach(func() {
		ns = env.NewNamespace()
	})

	// oneAtATime creates a concurrency-1 queue with the handlers given.
	oneAtATime := func(handlers ...kickqv1alpha1.Handler) {
		create(&kickqv1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: ns},
			Spec: kickqv1alpha1.QueueSpec{Concurrency: ptr.To[int32](1), Handlers: handlers}})
	}
	// refusedThenNext creates job "refused" and, once it has started, job "next" behind it.
	refusedThenNext := func(refused, next *kickqv1alpha1.QueueJob) {
		create(refused)
		Eventually(func() int32 { return getJob(ns, "refused").Status.Attempts }, util.Timeout, util.Interval).Should(Equal(int32(1)))
		create(next)
	}
	// expectNextRuns waits for job "next" to run its pod while "refused" holds no slot.
	expectNextRuns := func() {
		waitPod(ns, "next", 1)
		next := expectPhase(ns, "next", kickqv1alpha1.PhaseRunning)
		refused := getJob(ns, "refused")
		Expect(refused.Status.Phase).NotTo(Equal(kickqv1alpha1.PhaseRunning))
		Expect(next.Status.StartTime.Time).NotTo(BeTemporally("<", refused.Status.AttemptHistory[0].FinishTime.Time),
			"the next job starts once the refused attempt ended, not before")
		Consistently(podExists(ns, "refused-1"), util.ConsistentDuration, util.Interval).Should(BeFalse())
	}
	withPod := func(w *utiltesting.QueueJobWrapper, spec corev1.PodSpec) *kickqv1alpha1.QueueJob {
		w.Spec.Pod = &kickqv1alpha1.PodTarget{Template: corev1.PodTemplateSpec{Spec: spec}}
		return w.Obj()
	}
	busybox := corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}

	DescribeTable("ends Failed (Died, PodRefused) with the API server's message when no retry can help",
		func(setup func() (refused, next *kickqv1alpha1.QueueJob), apiMessage string) {
			refusedThenNext(setup())
			j := expectPhase(ns, "refused", kickqv1alpha1.PhaseFailed)
			Expect(j.Status.Reason).To(Equal(kickqv1alpha1.ReasonDied))
			Expect(j.Status.Attempts).To(Equal(int32(1)))
			rec := j.Status.AttemptHistory[0]
			Expect(rec.Outcome).To(Equal(kickqv1alpha1.OutcomeDie))
			Expect(rec.Reason).To(Equal(kickqv1alpha1.AttemptReasonPodRefused))
			Expect(rec.Message).To(ContainSubstring(apiMessage))
			Expect(rec.FinishTime).NotTo(BeNil())
			AddReportEntry("attempt message", rec.Message)
			expectNextRuns()
		},
		Entry("an invalid container port (Invalid)", func() (*kickqv1alpha1.QueueJob, *kickqv1alpha1.QueueJob) {
			oneAtATime()
			return withPod(utiltesting.MakeQueueJob("refused", ns).Queue("one"), corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox",
					Ports: []corev1.ContainerPort{{ContainerPort: 70000}}}}}),
				withPod(utiltesting.MakeQueueJob("next", ns).Queue("one"), busybox)
		}, "must be between 1 and 65535"),
		Entry("a handler's container without an image, which the CRD allows (Invalid)", func() (*kickqv1alpha1.QueueJob, *kickqv1alpha1.QueueJob) {
			oneAtATime(
				kickqv1alpha1.Handler{Type: "broken", HandlerSpec: kickqv1alpha1.HandlerSpec{Pod: &kickqv1alpha1.PodTarget{
					Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main"}}}}}}},
				kickqv1alpha1.Handler{Type: "fine", HandlerSpec: kickqv1alpha1.HandlerSpec{Pod: &kickqv1alpha1.PodTarget{
					Template: corev1.PodTemplateSpec{Spec: busybox}}}})
			return utiltesting.MakeQueueJob("refused", ns).Queue("one").Type("broken").Obj(), utiltesting.MakeQueueJob("next", ns).Queue("one").Type("fine").Obj()
		}, "spec.containers[0].image: Required value"),
		Entry("the namespace's Pod Security level (Forbidden by policy)", func() (*kickqv1alpha1.QueueJob, *kickqv1alpha1.QueueJob) {
			var n corev1.Namespace
			n.Name = ns
			modify(&n, func(n *corev1.Namespace) {
				n.Labels = map[string]string{"pod-security.kubernetes.io/enforce": "baseline"}
			})
			oneAtATime()
			privileged := corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox",
				SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}}}}
			return withPod(utiltesting.MakeQueueJob("refused", ns).Queue("one"), privileged), withPod(utiltesting.MakeQueueJob("next", ns).Queue("one"), busybox)
		}, `violates PodSecurity "baseline:latest"`),
	)

	It("counts a failure with backoff (QuotaExceeded) when a ResourceQuota refuses it", func() {
		// The test plays the quota controller: the quota's status says what is used.
		cpu := corev1.ResourceRequestsCPU
		quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "cpu", Namespace: ns},
			Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{cpu: resource.MustParse("500m")}}}
		create(quota)
		quota.Status = corev1.ResourceQuotaStatus{Hard: corev1.ResourceList{cpu: resource.MustParse("500m")},
			Used: corev1.ResourceList{cpu: resource.MustParse("0")}}
		Expect(env.Client.Status().Update(env.Ctx, quota)).To(Succeed())
		oneAtATime()
		requesting := func(q string) corev1.PodSpec {
			return corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(q)}}}}}
		}
		refusedThenNext(withPod(utiltesting.MakeQueueJob("refused", ns).Queue("one").Retry(3, utiltesting.FixedBackoff(60*time.Second)), requesting("1")),
			withPod(utiltesting.MakeQueueJob("next", ns).Queue("one"), requesting("100m")))

		j := expectPhase(ns, "refused", kickqv1alpha1.PhaseDelayed)
		Expect(j.Status.FailedAttempts).To(Equal(int32(1)))
		rec := j.Status.AttemptHistory[0]
		Expect(rec.Outcome).To(Equal(kickqv1alpha1.OutcomeFail))
		Expect(rec.Reason).To(Equal(kickqv1alpha1.AttemptReasonQuotaExceeded))
		Expect(rec.Message).To(ContainSubstring("exceeded quota: cpu, requested: requests.cpu=1"))
		Expect(j.Status.NextAttemptTime.Time).To(Equal(rec.FinishTime.Add(60 * time.Second)))
		AddReportEntry("attempt message", rec.Message)
		expectNextRuns()
	})
})

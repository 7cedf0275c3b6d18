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
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
	"kickq.dev/kickq/test/util/argocd"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

// health is what GitOps tools make of one object: kstatus's status (Flux, kpt, cli-utils) and
// Argo CD's health from config/argocd's script.
type health struct {
	Kstatus status.Status
	Argo    string
}

// healthOf reads the object as the tools do (unstructured, from the API server) and computes
// both.
func healthOf(kind, ns, name string) func() health {
	script := argocd.ScriptPath("health-queuejob.lua")
	if kind == "Queue" {
		script = argocd.ScriptPath("health-queue.lua")
	}
	return func() health {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(kickqv1alpha1.GroupVersion.WithKind(kind))
		if err := env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
			return health{}
		}
		res, err := status.Compute(u)
		Expect(err).NotTo(HaveOccurred())
		h, err := argocd.Run(script, u.Object)
		Expect(err).NotTo(HaveOccurred())
		return health{Kstatus: res.Status, Argo: h.Status}
	}
}

var _ = Describe("GitOps health", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("is what kstatus and Argo CD compute from real jobs and queues in every state", func() {
		create(utiltesting.MakeQueue("one", ns).Concurrency(1).Obj())
		create(utiltesting.MakeQueue("held", ns).Paused().Obj())
		create(utiltesting.MakeQueueJob("running", ns).Queue("one").Pod().Obj())
		setPodRunning(waitPod(ns, "running", 1))
		expectPhase(ns, "running", kickqv1alpha1.PhaseRunning)
		create(utiltesting.MakeQueueJob("limited", ns).Queue("one").Pod().Obj())
		Eventually(func() string {
			c := meta.FindStatusCondition(getJob(ns, "limited").Status.Conditions, kickqv1alpha1.JobBlocked)
			if c == nil || c.Status != "True" {
				return ""
			}
			return c.Reason
		}, util.Timeout, util.Interval).Should(Equal(kickqv1alpha1.ReasonConcurrencyLimited))
		create(utiltesting.MakeQueueJob("done", ns).Pod().Obj())
		finishPod(ns, "done", 1, 0, "")
		create(utiltesting.MakeQueueJob("cancelled", ns).Pod().Cancel().Obj())
		create(utiltesting.MakeQueueJob("lost", ns).Queue("nope").Pod().Obj())
		create(utiltesting.MakeQueueJob("later", ns).Pod().Delay(time.Hour).Obj())
		create(utiltesting.MakeQueueJob("paused", ns).Queue("held").Pod().Obj())
		create(utiltesting.MakeQueueJob("suspended", ns).Pod().Suspend().Obj())
		create(utiltesting.MakeQueueJob("tick", ns).Pod().Cron("*/5 * * * *").Obj())
		create(utiltesting.MakeQueueJob("tick-off", ns).Pod().Cron("*/5 * * * *").CronSuspend().Obj())

		for _, tc := range []struct {
			kind, name string
			want       health
		}{
			{"QueueJob", "running", health{status.InProgressStatus, "Progressing"}},
			{"QueueJob", "limited", health{status.InProgressStatus, "Progressing"}},
			{"QueueJob", "later", health{status.InProgressStatus, "Progressing"}},
			{"QueueJob", "paused", health{status.InProgressStatus, "Progressing"}},
			{"QueueJob", "done", health{status.CurrentStatus, "Healthy"}},
			{"QueueJob", "suspended", health{status.CurrentStatus, "Suspended"}},
			{"QueueJob", "tick", health{status.CurrentStatus, "Healthy"}},
			{"QueueJob", "tick-off", health{status.CurrentStatus, "Suspended"}},
			{"QueueJob", "cancelled", health{status.FailedStatus, "Degraded"}},
			{"QueueJob", "lost", health{status.FailedStatus, "Degraded"}},
			{"Queue", "one", health{status.CurrentStatus, "Healthy"}},
			{"Queue", "held", health{status.CurrentStatus, "Suspended"}},
		} {
			Eventually(healthOf(tc.kind, ns, tc.name), util.Timeout, util.Interval).Should(Equal(tc.want), "%s %s", tc.kind, tc.name)
		}

		By("a job whose queue appears goes from Failed to InProgress: Stalled is not for ever")
		create(utiltesting.MakeQueue("nope", ns).Obj())
		Eventually(healthOf("QueueJob", ns, "lost"), util.Timeout, util.Interval).Should(Equal(health{status.InProgressStatus, "Progressing"}))
	})

	It("is InProgress for a queue until the manager observed its new generation", func() {
		create(utiltesting.MakeQueue("q", ns).Obj())
		Eventually(healthOf("Queue", ns, "q"), util.Timeout, util.Interval).Should(Equal(health{status.CurrentStatus, "Healthy"}))
		// A spec edit the manager has not seen yet, as a tool reads it right after applying it.
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(kickqv1alpha1.GroupVersion.WithKind("Queue"))
		Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "q"}, u)).To(Succeed())
		u.SetGeneration(u.GetGeneration() + 1)
		res, err := status.Compute(u)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Status).To(Equal(status.InProgressStatus))
		h, err := argocd.Run(argocd.ScriptPath("health-queue.lua"), u.Object)
		Expect(err).NotTo(HaveOccurred())
		Expect(h.Status).To(Equal("Progressing"))
		// The edit itself, observed.
		modify(utiltesting.MakeQueue("q", ns).Obj(), func(q *kickqv1alpha1.Queue) { q.Spec.Concurrency = ptr.To[int32](3) })
		Eventually(healthOf("Queue", ns, "q"), util.Timeout, util.Interval).Should(Equal(health{status.CurrentStatus, "Healthy"}))
	})
})

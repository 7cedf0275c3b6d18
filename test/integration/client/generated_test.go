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

package client

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	kickqapply "kickq.dev/kickq/pkg/generated/applyconfiguration/api/v1alpha1"
	"kickq.dev/kickq/pkg/generated/clientset/versioned"
	"kickq.dev/kickq/pkg/generated/informers/externalversions"
	"kickq.dev/kickq/test/util"
)

var _ = Describe("Generated clients", func() {
	It("apply, read, list and watch QueueJobs through the typed clientset, an informer and its lister", func(ctx SpecContext) {
		ns := env.NewNamespace()
		cs, err := versioned.NewForConfig(env.Config)
		Expect(err).NotTo(HaveOccurred())
		jobs := cs.KickqV1alpha1().QueueJobs(ns)

		By("server-side apply of a QueueJob from its apply configuration")
		cfg := kickqapply.QueueJob("nightly", ns).
			WithLabels(map[string]string{"team": "data"}).
			WithSpec(kickqapply.QueueJobSpec().WithType("export").WithPriority(5).WithDelaySeconds(3600))
		applied, err := jobs.Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: "kickq-test"})
		Expect(err).NotTo(HaveOccurred())
		Expect(applied.Spec.Type).To(Equal("export"))
		Expect(applied.Spec.QueueName).To(Equal(kickqv1alpha1.DefaultQueueName), "the schema default")

		By("applying again with a new priority (the mutable field) changes only that")
		_, err = jobs.Apply(ctx, cfg.WithSpec(kickqapply.QueueJobSpec().WithType("export").WithPriority(9).WithDelaySeconds(3600)),
			metav1.ApplyOptions{FieldManager: "kickq-test"})
		Expect(err).NotTo(HaveOccurred())
		got, err := jobs.Get(ctx, "nightly", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(*got.Spec.Priority).To(Equal(int32(9)))
		Expect(got.UID).To(Equal(applied.UID))

		By("an informer's lister sees it, and the manager's status")
		factory := externalversions.NewSharedInformerFactoryWithOptions(cs, time.Minute, externalversions.WithNamespace(ns))
		lister := factory.Kickq().V1alpha1().QueueJobs().Lister()
		stop := make(chan struct{})
		factory.Start(stop)
		defer func() {
			close(stop)
			factory.Shutdown()
		}()
		factory.WaitForCacheSync(stop)
		Eventually(func(g Gomega) {
			listed, err := lister.QueueJobs(ns).List(labels.SelectorFromSet(labels.Set{"team": "data"}))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(listed).To(HaveLen(1))
			g.Expect(listed[0].Status.Phase).To(Equal(kickqv1alpha1.PhaseDelayed))
		}, util.Timeout, util.Interval).Should(Succeed())

		By("the Queues client")
		_, err = cs.KickqV1alpha1().Queues(ns).Apply(ctx, kickqapply.Queue("default", ns).
			WithSpec(kickqapply.QueueSpec().WithConcurrency(2)), metav1.ApplyOptions{FieldManager: "kickq-test"})
		Expect(err).NotTo(HaveOccurred())
		qs, err := cs.KickqV1alpha1().Queues(ns).List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(qs.Items).To(HaveLen(1))
	})
})

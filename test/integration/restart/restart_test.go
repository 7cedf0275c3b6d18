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

package restart

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
	"kickq.dev/kickq/test/util/suite"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

// kubelet completes every pod of the namespace that has not ended, until stopped.
func kubelet(ns string) (stop func()) {
	kctx, kcancel := context.WithCancel(env.Ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer GinkgoRecover()
		defer wg.Done()
		for kctx.Err() == nil {
			var pods corev1.PodList
			if err := env.Client.List(kctx, &pods, client.InNamespace(ns)); err == nil {
				for i := range pods.Items {
					p := &pods.Items[i]
					if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
						continue
					}
					_ = env.Client.Status().Update(kctx, utiltesting.WrapPod(p).Exited(0, "").Obj())
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() { kcancel(); wg.Wait() }
}

var _ = Describe("Restart safety", func() {
	It("creates exactly one pod for an attempt recorded by a manager that stopped before creating it", func() {
		ns := env.NewNamespace()
		var once sync.Once
		recorded := make(chan struct{})
		// The first manager records the attempt, then "dies" before its pod exists: its pod
		// creates fail, and the test stops it as soon as the attempt is recorded.
		failing := env.StartManager(suite.ManagerOptions{Intercept: &interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
				if _, ok := o.(*corev1.Pod); ok {
					once.Do(func() { close(recorded) })
					return errors.New("injected: the manager stopped before creating the pod")
				}
				return c.Create(ctx, o, opts...)
			},
		}})
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("survivor", ns).Queue("default").Pod().Obj())).To(Succeed())
		Eventually(recorded, util.Timeout).Should(BeClosed())
		failing.Stop()

		var j kickqv1alpha1.QueueJob
		Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "survivor"}, &j)).To(Succeed())
		Expect(j.Status.Phase).To(Equal(kickqv1alpha1.PhaseRunning), "the attempt was recorded before its pod")
		Expect(j.Status.Attempts).To(Equal(int32(1)))
		var pods corev1.PodList
		Expect(env.Client.List(env.Ctx, &pods, client.InNamespace(ns))).To(Succeed())
		Expect(pods.Items).To(BeEmpty())

		next := env.StartManager(suite.ManagerOptions{})
		defer next.Stop()
		Eventually(func() []string {
			var l corev1.PodList
			Expect(env.Client.List(env.Ctx, &l, client.InNamespace(ns))).To(Succeed())
			var names []string
			for _, p := range l.Items {
				names = append(names, p.Name)
			}
			return names
		}, util.Timeout, util.Interval).Should(Equal([]string{"survivor-1"}))
		Consistently(func() int32 {
			Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "survivor"}, &j)).To(Succeed())
			return j.Status.Attempts
		}, util.ConsistentDuration, util.Interval).Should(Equal(int32(1)), "the recorded attempt is resumed, not a new one")
	})

	It("finishes every job of a 100-job run across a stop and start, with one pod per attempt", func() {
		ns := env.NewNamespace()
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueue("bulk", ns).Concurrency(10).Obj())).To(Succeed())
		first := env.StartManager(suite.ManagerOptions{})
		stopKubelet := kubelet(ns)
		defer stopKubelet()
		for i := range 100 {
			Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob(fmt.Sprintf("job-%03d", i), ns).Queue("bulk").Pod().Obj())).To(Succeed())
		}
		succeeded := func() int {
			var l kickqv1alpha1.QueueJobList
			Expect(env.Client.List(env.Ctx, &l, client.InNamespace(ns))).To(Succeed())
			n := 0
			for _, j := range l.Items {
				if j.Status.Phase == kickqv1alpha1.PhaseSucceeded {
					n++
				}
			}
			return n
		}
		Eventually(succeeded, util.Timeout, util.Interval).Should(BeNumerically(">=", 30))
		first.Stop()
		AddReportEntry("succeeded when the first manager stopped", succeeded())
		second := env.StartManager(suite.ManagerOptions{})
		defer second.Stop()
		Eventually(succeeded, 60*time.Second, util.Interval).Should(Equal(100))

		var jobs kickqv1alpha1.QueueJobList
		Expect(env.Client.List(env.Ctx, &jobs, client.InNamespace(ns))).To(Succeed())
		var pods corev1.PodList
		Expect(env.Client.List(env.Ctx, &pods, client.InNamespace(ns))).To(Succeed())
		podsOf := map[string]int{}
		for _, p := range pods.Items {
			podsOf[p.Labels[kickqv1alpha1.LabelJob]]++
		}
		for _, j := range jobs.Items {
			Expect(j.Status.Attempts).To(Equal(int32(1)), "job %s", j.Name)
			Expect(podsOf[j.Name]).To(Equal(1), "job %s has one pod for its one attempt", j.Name)
		}
	})
})

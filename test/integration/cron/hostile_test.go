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

package cron

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

var _ = Describe("A cron template that never fires", func() {
	It("ends Failed with InvalidSpec naming spec.cron.schedule, while another namespace's template keeps firing", func() {
		nsA, nsB := env.NewNamespace(), env.NewNamespace()
		// 30 February: the schedule parses but has no next time.
		Expect(env.Client.Create(env.Ctx, template(nsA, "never", "0 0 30 2 *", "/ok").Obj())).To(Succeed())
		Expect(env.Client.Create(env.Ctx, template(nsB, "often", "@every 2s", "/ok").CronConcurrency(kickqv1alpha1.ConcurrencyAllow).CronHistory(10, -1).Obj())).To(Succeed())

		Eventually(phaseOf(nsA, "never"), timeout, interval).Should(Equal(kickqv1alpha1.PhaseFailed))
		bad := getJob(nsA, "never")
		Expect(bad.Status.Reason).To(Equal(kickqv1alpha1.ReasonInvalidSpec))
		Expect(bad.Status.Message).To(ContainSubstring("spec.cron.schedule"))
		Expect(children(nsA, "never")).To(BeEmpty())

		// B's firings count from its creationTimestamp, which the API server stamps with the real
		// clock, possibly a second past the fake one: each poll steps the fake clock to B's next
		// firing as its status shows it, until B has fired again.
		fired := func(want int) func() int {
			return func() int {
				if n := getJob(nsB, "often").Status.NextScheduleTime; n != nil {
					stepTo(n.Time)
				}
				return len(children(nsB, "often"))
			}
		}
		for i := 1; i <= 3; i++ {
			Eventually(fired(i), timeout, interval).Should(BeNumerically(">=", i))
		}
		Consistently(childCount(nsA, "never"), consistency, interval).Should(BeZero())
		Expect(getJob(nsA, "never").Status.Phase).To(Equal(kickqv1alpha1.PhaseFailed))
	})
})

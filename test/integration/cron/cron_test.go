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
	"fmt"
	"sort"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

const (
	timeout     = 20 * time.Second
	interval    = 25 * time.Millisecond
	consistency = 400 * time.Millisecond
)

// template is a cron template whose children call the suite's receiver at path, without retries.
func template(ns, name, schedule, path string) *utiltesting.QueueJobWrapper {
	return utiltesting.MakeQueueJob(name, ns).Cron(schedule).Webhook(sink.URL + path).Retry(0)
}

func getJob(ns, name string) *kickqv1alpha1.QueueJob {
	var j kickqv1alpha1.QueueJob
	ExpectWithOffset(1, env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j)).To(Succeed())
	return &j
}

// children lists a template's children, sorted by name (= by scheduled time).
func children(ns, tmpl string) []kickqv1alpha1.QueueJob {
	var l kickqv1alpha1.QueueJobList
	ExpectWithOffset(1, env.Client.List(env.Ctx, &l, client.InNamespace(ns), client.MatchingLabels{kickqv1alpha1.LabelScheduledBy: tmpl})).To(Succeed())
	sort.Slice(l.Items, func(a, b int) bool { return l.Items[a].Name < l.Items[b].Name })
	return l.Items
}

// phaseOf returns a job's phase, "" while it does not exist.
func phaseOf(ns, name string) func() kickqv1alpha1.QueueJobPhase {
	return func() kickqv1alpha1.QueueJobPhase {
		var j kickqv1alpha1.QueueJob
		if err := env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j); err != nil {
			return ""
		}
		return j.Status.Phase
	}
}

func childCount(ns, tmpl string) func() int {
	return func() int { return len(children(ns, tmpl)) }
}

func stepTo(t time.Time) {
	if t.After(env.Clock.Now()) {
		env.Clock.SetTime(t)
	}
}

// nextFiring waits until the template's status shows a next firing after `after`, and returns it.
func nextFiring(ns, name string, after time.Time) time.Time {
	var next time.Time
	EventuallyWithOffset(1, func() bool {
		n := getJob(ns, name).Status.NextScheduleTime
		if n == nil {
			return false
		}
		next = n.Time
		return next.After(after)
	}, timeout, interval).Should(BeTrue())
	return next
}

var _ = Describe("Cron templates", func() {
	var ns string
	// Templates count firings from their creation time, which the API server stamps with the
	// real clock: the suite starts each spec with its fake clock at the real time.
	BeforeEach(func() { ns = env.NewNamespace() })

	It("fires exactly one child per minute over 10 minutes, named by the scheduled time", func() {
		Expect(env.Client.Create(env.Ctx, template(ns, "tick", "*/1 * * * *", "/ok").CronConcurrency(kickqv1alpha1.ConcurrencyAllow).CronHistory(20, -1).Obj())).To(Succeed())
		Eventually(func() kickqv1alpha1.QueueJobPhase { return getJob(ns, "tick").Status.Phase }, timeout, interval).Should(Equal(kickqv1alpha1.PhaseScheduled))
		var fired []time.Time
		var prev time.Time
		for i := 1; i <= 10; i++ {
			next := nextFiring(ns, "tick", prev)
			Expect(next.Second()).To(BeZero())
			stepTo(next)
			Eventually(childCount(ns, "tick"), timeout, interval).Should(Equal(i))
			Consistently(childCount(ns, "tick"), consistency, interval).Should(Equal(i))
			fired, prev = append(fired, next), next
		}
		cs := children(ns, "tick")
		for i, c := range cs {
			Expect(c.Name).To(Equal(fmt.Sprintf("tick-%d", fired[i].Unix())))
			Expect(c.Annotations).To(HaveKeyWithValue("kickq.dev/scheduled-time", fired[i].UTC().Format(time.RFC3339)))
			Expect(c.Spec.Cron).To(BeNil())
			Expect(metav1.GetControllerOf(&c).Name).To(Equal("tick"))
			if i > 0 {
				Expect(fired[i].Sub(fired[i-1])).To(Equal(time.Minute))
			}
		}
		Eventually(func() *metav1.Time { return getJob(ns, "tick").Status.LastSuccessfulTime }, timeout, interval).ShouldNot(BeNil())
		Expect(getJob(ns, "tick").Status.LastScheduleTime.Time).To(Equal(fired[9]))
	})

	DescribeTable("applies missedRuns after the manager was down across 5 firings, without duplicates",
		func(policy kickqv1alpha1.MissedRunsPolicy, wantChildren int, wantMissed int64) {
			Expect(env.Client.Create(env.Ctx, template(ns, "gap", "*/1 * * * *", "/ok").CronConcurrency(kickqv1alpha1.ConcurrencyAllow).
				CronMissedRuns(policy, 3).CronHistory(20, -1).Obj())).To(Succeed())
			first := nextFiring(ns, "gap", time.Time{})
			env.RestartManager(func() {
				stepTo(first.Add(4*time.Minute + 30*time.Second)) // five firings pass; back 30 s late
			})
			Eventually(childCount(ns, "gap"), timeout, interval).Should(Equal(wantChildren))
			Consistently(childCount(ns, "gap"), consistency, interval).Should(Equal(wantChildren))
			Eventually(func() int64 { return getJob(ns, "gap").Status.MissedRuns }, timeout, interval).Should(Equal(wantMissed))
			// The next firing runs once, as usual.
			next := nextFiring(ns, "gap", first.Add(4*time.Minute))
			Expect(next).To(Equal(first.Add(5 * time.Minute)))
			stepTo(next)
			Eventually(childCount(ns, "gap"), timeout, interval).Should(Equal(wantChildren + 1))
			Consistently(childCount(ns, "gap"), consistency, interval).Should(Equal(wantChildren + 1))
		},
		Entry("Skip runs none of them", kickqv1alpha1.MissedRunsSkip, 0, int64(5)),
		Entry("RunLatest runs the newest", kickqv1alpha1.MissedRunsRunLatest, 1, int64(4)),
		Entry("RunAll runs maxMissedRuns (3) of them", kickqv1alpha1.MissedRunsRunAll, 3, int64(2)),
	)

	It("fires once per new value of the run-now annotation", func() {
		Expect(env.Client.Create(env.Ctx, template(ns, "manual", "@yearly", "/ok").CronConcurrency(kickqv1alpha1.ConcurrencyAllow).Obj())).To(Succeed())
		nextFiring(ns, "manual", time.Time{})
		annotate := func(k, v string) {
			patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, k, v)
			Expect(env.Client.Patch(env.Ctx, getJob(ns, "manual"), client.RawPatch(types.MergePatchType, []byte(patch)))).To(Succeed())
		}
		annotate(kickqv1alpha1.AnnotationRunNow, "first")
		Eventually(childCount(ns, "manual"), timeout, interval).Should(Equal(1))
		Eventually(func() string { return getJob(ns, "manual").Status.LastHandledRunNow }, timeout, interval).Should(Equal("first"))
		annotate("unrelated", "touch") // the same run-now value does not fire again
		Consistently(childCount(ns, "manual"), consistency, interval).Should(Equal(1))
		env.Clock.Step(2 * time.Second)
		annotate(kickqv1alpha1.AnnotationRunNow, "second")
		Eventually(childCount(ns, "manual"), timeout, interval).Should(Equal(2))
		Consistently(childCount(ns, "manual"), consistency, interval).Should(Equal(2))
	})

	It("stops firing while suspended", func() {
		Expect(env.Client.Create(env.Ctx, template(ns, "pause", "*/1 * * * *", "/ok").CronConcurrency(kickqv1alpha1.ConcurrencyAllow).Obj())).To(Succeed())
		next := nextFiring(ns, "pause", time.Time{})
		stepTo(next)
		Eventually(childCount(ns, "pause"), timeout, interval).Should(Equal(1))
		patch := []byte(`{"spec":{"cron":{"suspend":true}}}`)
		Expect(env.Client.Patch(env.Ctx, getJob(ns, "pause"), client.RawPatch(types.MergePatchType, patch))).To(Succeed())
		Eventually(func() string { return getJob(ns, "pause").Status.Message }, timeout, interval).Should(ContainSubstring("suspended"))
		for range 3 {
			env.Clock.Step(time.Minute)
			Consistently(childCount(ns, "pause"), consistency/2, interval).Should(Equal(1))
		}
	})

	It("keeps successfulJobsHistoryLimit finished children, deleting the oldest", func() {
		Expect(env.Client.Create(env.Ctx, template(ns, "hist", "*/1 * * * *", "/ok").CronConcurrency(kickqv1alpha1.ConcurrencyAllow).CronHistory(2, -1).Obj())).To(Succeed())
		var names []string
		var prev time.Time
		for range 4 {
			next := nextFiring(ns, "hist", prev)
			stepTo(next)
			name := fmt.Sprintf("hist-%d", next.Unix())
			names = append(names, name)
			Eventually(func() kickqv1alpha1.QueueJobPhase {
				var j kickqv1alpha1.QueueJob
				if err := env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j); err != nil {
					return "gone"
				}
				return j.Status.Phase
			}, timeout, interval).Should(BeElementOf(kickqv1alpha1.PhaseSucceeded, "gone"))
			prev = next
		}
		Eventually(func() []string {
			var out []string
			for _, c := range children(ns, "hist") {
				out = append(out, c.Name)
			}
			return out
		}, timeout, interval).Should(Equal(names[2:]))
	})

	It("skips a firing while a child runs under Forbid, and cancels it under Replace", func() {
		Expect(env.Client.Create(env.Ctx, template(ns, "forbid", "*/1 * * * *", "/accept").Obj())).To(Succeed())
		Expect(env.Client.Create(env.Ctx, template(ns, "replace", "*/1 * * * *", "/accept").CronConcurrency(kickqv1alpha1.ConcurrencyReplace).Obj())).To(Succeed())
		next := nextFiring(ns, "forbid", time.Time{})
		Expect(nextFiring(ns, "replace", time.Time{})).To(Equal(next))
		stepTo(next)
		first := fmt.Sprintf("replace-%d", next.Unix())
		Eventually(phaseOf(ns, first), timeout, interval).Should(Equal(kickqv1alpha1.PhaseRunning))
		Eventually(phaseOf(ns, fmt.Sprintf("forbid-%d", next.Unix())), timeout, interval).Should(Equal(kickqv1alpha1.PhaseRunning), func() string { return getJob(ns, fmt.Sprintf("forbid-%d", next.Unix())).Status.Message })
		// Both children's calls are answered (202) before the clock moves a minute: a call still in
		// flight then would outlive its 30 s timeout on the fake clock and fail the child.
		for _, child := range []string{first, fmt.Sprintf("forbid-%d", next.Unix())} {
			Eventually(func() *int32 {
				h := getJob(ns, child).Status.AttemptHistory
				if len(h) == 0 {
					return nil
				}
				return h[len(h)-1].HTTPStatusCode
			}, timeout, interval).Should(HaveValue(Equal(int32(202))), "the call of %s is answered", child)
		}

		stepTo(next.Add(time.Minute))
		Eventually(func() int64 { return getJob(ns, "forbid").Status.MissedRuns }, timeout, interval).Should(Equal(int64(1)))
		Consistently(childCount(ns, "forbid"), consistency, interval).Should(Equal(1))
		Eventually(func() string { return getJob(ns, first).Status.Reason }, timeout, interval).Should(Equal(kickqv1alpha1.ReasonCancelled))
		Eventually(childCount(ns, "replace"), timeout, interval).Should(Equal(2))
	})

	DescribeTable("refuses an invalid schedule or time zone with InvalidSpec naming the field",
		func(schedule, tz, field string) {
			t := template(ns, "bad", schedule, "/ok")
			if tz != "" {
				t.CronTimeZone(tz)
			}
			Expect(env.Client.Create(env.Ctx, t.Obj())).To(Succeed())
			Eventually(func() kickqv1alpha1.QueueJobPhase { return getJob(ns, "bad").Status.Phase }, timeout, interval).Should(Equal(kickqv1alpha1.PhaseFailed))
			j := getJob(ns, "bad")
			Expect(j.Status.Reason).To(Equal(kickqv1alpha1.ReasonInvalidSpec))
			Expect(j.Status.Message).To(ContainSubstring(field))
			Expect(children(ns, "bad")).To(BeEmpty())
		},
		Entry("minute 61", "61 * * * *", "", "spec.cron.schedule"),
		Entry("an unknown descriptor", "@fortnightly", "", "spec.cron.schedule"),
		Entry("an unknown zone", "0 3 * * *", "Mars/Olympus", "spec.cron.timeZone"),
	)
})

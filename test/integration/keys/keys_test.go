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

package keys

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

func create(o client.Object) {
	GinkgoHelper()
	Expect(env.Client.Create(env.Ctx, o)).To(Succeed())
}

func keyedQueue(name, ns string, kl kickqv1alpha1.KeyLimits) *utiltesting.QueueWrapper {
	q := utiltesting.MakeQueue(name, ns)
	q.Spec.KeyLimits = &kl
	return q
}

func podJob(ns, name, queue, key string) *kickqv1alpha1.QueueJob {
	j := utiltesting.MakeQueueJob(name, ns).Queue(queue).Pod().Retry(0).Obj()
	j.Spec.Key = key
	return j
}

func webhookJob(ns, name, queue, key string) *kickqv1alpha1.QueueJob {
	j := utiltesting.MakeQueueJob(name, ns).Queue(queue).Type("email").Data(`{"to":"a@b.c"}`).
		Webhook(sink.URL + "/jobs").Retry(0).Obj()
	j.Spec.Key = key
	return j
}

func jobsOf(ns string) []kickqv1alpha1.QueueJob {
	GinkgoHelper()
	var l kickqv1alpha1.QueueJobList
	Expect(env.Client.List(env.Ctx, &l, client.InNamespace(ns))).To(Succeed())
	return l.Items
}

func getJob(ns, name string) *kickqv1alpha1.QueueJob {
	GinkgoHelper()
	var j kickqv1alpha1.QueueJob
	Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j)).To(Succeed())
	return &j
}

func phaseOf(ns, name string) func() kickqv1alpha1.QueueJobPhase {
	return func() kickqv1alpha1.QueueJobPhase {
		var j kickqv1alpha1.QueueJob
		if env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j) != nil {
			return ""
		}
		return j.Status.Phase
	}
}

// running lists the names of the namespace's Running jobs, sorted.
func running(ns string) []string {
	GinkgoHelper()
	var out []string
	for _, j := range jobsOf(ns) {
		if j.Status.Phase == kickqv1alpha1.PhaseRunning {
			out = append(out, j.Name)
		}
	}
	slices.Sort(out)
	return out
}

// runningPerKey counts the namespace's Running jobs per key.
func runningPerKey(ns string) map[string]int {
	GinkgoHelper()
	out := map[string]int{}
	for _, j := range jobsOf(ns) {
		if j.Status.Phase == kickqv1alpha1.PhaseRunning {
			out[j.Spec.Key]++
		}
	}
	return out
}

// finishPod plays the kubelet: the attempt's pod exits 0.
func finishPod(ns, job string, attempt int) {
	GinkgoHelper()
	var pod corev1.Pod
	Eventually(func() error {
		return env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("%s-%d", job, attempt)}, &pod)
	}, util.Timeout, util.Interval).Should(Succeed())
	Expect(pod.Labels).To(HaveKeyWithValue(kickqv1alpha1.LabelKey, getJob(ns, job).Spec.Key))
	p := utiltesting.WrapPod(&pod).Exited(0, "").Obj()
	Expect(env.Client.Status().Update(env.Ctx, p)).To(Succeed())
	Eventually(phaseOf(ns, job), util.Timeout, util.Interval).Should(Equal(kickqv1alpha1.PhaseSucceeded))
}

// blocked returns the reason and message of a job's Blocked condition when it is True.
func blocked(ns, name string) func() string {
	return func() string {
		var j kickqv1alpha1.QueueJob
		if env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j) != nil {
			return ""
		}
		if c := meta.FindStatusCondition(j.Status.Conditions, kickqv1alpha1.JobBlocked); c != nil && c.Status == "True" {
			return c.Reason + ": " + c.Message
		}
		return ""
	}
}

var _ = Describe("Keys take turns", func() {
	It("starts B's first job second, not 21st, when 20 jobs of key A were created before it", func() {
		ns := env.NewNamespace()
		create(keyedQueue("q", ns, kickqv1alpha1.KeyLimits{Concurrency: ptr.To[int32](1)}).Concurrency(1).Obj())
		// A job of another key holds the one slot while the 22 jobs are created and seen.
		create(podJob(ns, "z-01", "q", "Z"))
		Eventually(phaseOf(ns, "z-01"), util.Timeout, util.Interval).Should(Equal(kickqv1alpha1.PhaseRunning))
		for i := 1; i <= 20; i++ {
			create(podJob(ns, fmt.Sprintf("a-%02d", i), "q", "A"))
		}
		for i := 1; i <= 2; i++ {
			create(podJob(ns, fmt.Sprintf("b-%02d", i), "q", "B"))
		}
		Eventually(func() int {
			n := 0
			for _, j := range jobsOf(ns) {
				if j.Status.Phase == kickqv1alpha1.PhasePending {
					n++
				}
			}
			return n
		}, util.Timeout, util.Interval).Should(Equal(22))
		env.Clock.Step(time.Second)
		finishPod(ns, "z-01", 1)
		var order []string
		for range 5 {
			var now []string
			Eventually(func() []string { now = running(ns); return now }, util.Timeout, util.Interval).Should(HaveLen(1))
			Consistently(func() []string { return running(ns) }, 200*time.Millisecond, util.Interval).Should(Equal(now), "concurrency 1")
			order = append(order, now[0])
			env.Clock.Step(time.Second) // the next start is later: key turns differ
			finishPod(ns, now[0], 1)
		}
		Expect(order).To(Equal([]string{"a-01", "b-01", "a-02", "b-02", "a-03"}))
		Eventually(func() *kickqv1alpha1.QueueKeys {
			var q kickqv1alpha1.Queue
			Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "q"}, &q)).To(Succeed())
			return q.Status.Keys
		}, util.Timeout, util.Interval).Should(Equal(&kickqv1alpha1.QueueKeys{Active: 1,
			Busiest: []kickqv1alpha1.KeyCount{{Key: "A", Pending: 16, Running: 1}}}), "a-04 runs, 16 of A wait, B is done")
	})
})

var _ = Describe("A per-key rate limit", func() {
	It("is never exceeded in any window, at the receiver or in the recorded attempts, while other keys run", func() {
		ns := env.NewNamespace()
		const limit, period = 2, 10 * time.Second
		create(keyedQueue("q", ns, kickqv1alpha1.KeyLimits{RateLimit: &kickqv1alpha1.RateLimit{Limit: limit, PeriodSeconds: 10}}).Obj())
		for i := 1; i <= 6; i++ {
			create(webhookJob(ns, fmt.Sprintf("a-%d", i), "q", "A"))
		}
		for i := 1; i <= 2; i++ {
			create(webhookJob(ns, fmt.Sprintf("b-%d", i), "q", "B"))
			create(webhookJob(ns, fmt.Sprintf("n-%d", i), "q", ""))
		}
		keyOf := func(job string) string { return strings.ToUpper(job[:1]) }
		check := func(g Gomega) {
			perKey := map[string][]time.Time{}
			for _, c := range sink.callsIn(ns) {
				perKey[keyOf(c.Job)] = append(perKey[keyOf(c.Job)], c.At)
			}
			recorded := map[string][]time.Time{}
			for _, j := range jobsOf(ns) {
				for _, a := range j.Status.AttemptHistory {
					if a.StartTime != nil {
						recorded[j.Spec.Key] = append(recorded[j.Spec.Key], a.StartTime.Time)
					}
				}
			}
			for _, k := range []string{"A", "B"} {
				g.Expect(util.OverLimit(perKey[k], limit, period)).To(BeEmpty(), "calls of key %s at the receiver", k)
				g.Expect(util.OverLimit(recorded[k], limit, period)).To(BeEmpty(), "attempts of key %s recorded in status", k)
			}
		}
		// Within the first second, B and the key-less jobs all run: A's limit holds only A.
		Eventually(func() int { return len(sink.callsIn(ns)) }, util.Timeout, util.Interval).Should(Equal(limit + 4))
		Consistently(check, 300*time.Millisecond, util.Interval).Should(Succeed())
		Expect(blocked(ns, "a-3")()).To(Or(BeEmpty(), HavePrefix("KeyRateLimited: key A:")))
		for step := 0; ; step++ {
			Expect(step).To(BeNumerically("<", 40), "all jobs finish within 40 fake seconds")
			Consistently(check, 150*time.Millisecond, util.Interval).Should(Succeed())
			done := 0
			for _, j := range jobsOf(ns) {
				if j.Status.Phase == kickqv1alpha1.PhaseSucceeded {
					done++
				}
			}
			if done == 10 {
				break
			}
			env.Clock.Step(time.Second)
		}
	})
})

var _ = Describe("pauseOnRetryAfter", func() {
	It("pauses only the key whose call was answered 429 with Retry-After, until then, also across a restart", func() {
		ns := env.NewNamespace()
		create(keyedQueue("q", ns, kickqv1alpha1.KeyLimits{PauseOnRetryAfter: ptr.To(true)}).Obj())
		answered := false
		sink.answer(ns, "a-1", func(w http.ResponseWriter, _ *http.Request) {
			if !answered {
				answered = true
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		start := env.Clock.Now()
		create(webhookJob(ns, "a-1", "q", "A"))
		Eventually(phaseOf(ns, "a-1"), util.Timeout, util.Interval).Should(Equal(kickqv1alpha1.PhaseDelayed))
		create(webhookJob(ns, "a-2", "q", "A"))
		create(webhookJob(ns, "b-1", "q", "B"))
		Eventually(phaseOf(ns, "b-1"), util.Timeout, util.Interval).Should(Equal(kickqv1alpha1.PhaseSucceeded), "another key keeps running")
		Eventually(blocked(ns, "a-2"), util.Timeout, util.Interval).Should(HavePrefix("KeyPaused: key A is paused until"))
		Expect(getJob(ns, "a-2").Status.Phase).To(Equal(kickqv1alpha1.PhasePending))

		// A restart rebuilds the pause from a-1's status (its attempt's 429, its next attempt time).
		env.RestartManager()
		env.Clock.Step(20 * time.Second)
		create(webhookJob(ns, "b-2", "q", "B"))
		Eventually(phaseOf(ns, "b-2"), util.Timeout, util.Interval).Should(Equal(kickqv1alpha1.PhaseSucceeded))
		Consistently(phaseOf(ns, "a-2"), 500*time.Millisecond, util.Interval).Should(Equal(kickqv1alpha1.PhasePending))

		env.Clock.SetTime(start.Add(31 * time.Second))
		Eventually(phaseOf(ns, "a-2"), util.Timeout, util.Interval).Should(Equal(kickqv1alpha1.PhaseSucceeded))
		Eventually(phaseOf(ns, "a-1"), util.Timeout, util.Interval).Should(Equal(kickqv1alpha1.PhaseSucceeded))
		for _, c := range sink.callsIn(ns) {
			if c.Job == "a-2" {
				Expect(c.At.Before(start.Add(30*time.Second))).To(BeFalse(), "a-2 called at %s, before the Retry-After ended", c.At)
			}
		}
	})
})

var _ = Describe("A manager restart mid-run", func() {
	It("keeps every per-key limit: running jobs per key and the queue's concurrency", func() {
		ns := env.NewNamespace()
		create(keyedQueue("q", ns, kickqv1alpha1.KeyLimits{Concurrency: ptr.To[int32](1)}).Concurrency(3).Obj())
		for _, k := range []string{"a", "b", "c", "d"} {
			for i := 1; i <= 3; i++ {
				create(podJob(ns, fmt.Sprintf("%s-%d", k, i), "q", strings.ToUpper(k)))
			}
		}
		check := func(g Gomega) {
			total := 0
			for k, n := range runningPerKey(ns) {
				g.Expect(n).To(BeNumerically("<=", 1), "running jobs of key %s", k)
				total += n
			}
			g.Expect(total).To(BeNumerically("<=", 3), "running jobs of the queue")
		}
		Eventually(func() []string { return running(ns) }, util.Timeout, util.Interval).Should(HaveLen(3))
		Consistently(check, 300*time.Millisecond, util.Interval).Should(Succeed())
		env.RestartManager()
		Consistently(check, 500*time.Millisecond, util.Interval).Should(Succeed())
		// want is how many can run: one per key with jobs left, at most the queue's 3.
		want := func() int {
			left := map[string]bool{}
			for _, j := range jobsOf(ns) {
				if j.Status.Phase != kickqv1alpha1.PhaseSucceeded {
					left[j.Spec.Key] = true
				}
			}
			return min(len(left), 3)
		}
		for range 12 {
			now := running(ns)
			Expect(now).NotTo(BeEmpty())
			env.Clock.Step(time.Second)
			finishPod(ns, now[0], 1)
			Eventually(func() int { return len(running(ns)) }, util.Timeout, util.Interval).Should(Equal(want()), func() string {
				var b strings.Builder
				for _, j := range jobsOf(ns) {
					fmt.Fprintf(&b, "%s %s %s; ", j.Name, j.Status.Phase, blocked(ns, j.Name)())
				}
				return fmt.Sprintf("finished %s; jobs: %s", now[0], b.String())
			})
			Consistently(check, 200*time.Millisecond, util.Interval).Should(Succeed())
			if want() == 0 {
				break
			}
		}
		Expect(want()).To(BeZero(), "every job ran")
	})
})

var _ = Describe("A handler's per-key rate limit", func() {
	// Regression (reliability scenario 1): a finished job was observed under no handler, which
	// took its starts out of its handler's key windows while they still counted.
	It("still counts the starts of the key's finished jobs", func() {
		ns := env.NewNamespace()
		q := utiltesting.MakeQueue("q", ns).Handler("email", utiltesting.MakeHandler().Webhook(sink.URL+"/jobs").Obj()).Obj()
		q.Spec.Handlers[0].KeyLimits = &kickqv1alpha1.KeyLimits{RateLimit: &kickqv1alpha1.RateLimit{Limit: 2, PeriodSeconds: 10}}
		create(q)
		for i := 1; i <= 4; i++ {
			j := utiltesting.MakeQueueJob(fmt.Sprintf("a-%d", i), ns).Queue("q").Type("email").Data(`{"to":"a@b.c"}`).Retry(0).Obj()
			j.Spec.Key = "A"
			create(j)
		}
		Eventually(func() int { return len(sink.callsIn(ns)) }, util.Timeout, util.Interval).Should(Equal(2))
		Eventually(phaseOf(ns, "a-1"), util.Timeout, util.Interval).Should(Equal(kickqv1alpha1.PhaseSucceeded))
		Eventually(phaseOf(ns, "a-2"), util.Timeout, util.Interval).Should(Equal(kickqv1alpha1.PhaseSucceeded))
		for range 9 {
			Consistently(func() int { return len(sink.callsIn(ns)) }, 300*time.Millisecond, util.Interval).Should(Equal(2),
				"calls of key A before the handler's 10 s window passed")
			env.Clock.Step(time.Second)
		}
		env.Clock.Step(time.Second)
		Eventually(func() int { return len(sink.callsIn(ns)) }, util.Timeout, util.Interval).Should(Equal(4))
	})
})

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
	"fmt"
	"sort"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

var _ = Describe("A pod job", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("runs one pod and ends Succeeded with the termination message as result, in 2 status writes and 1 pod create", func() {
		create(utiltesting.MakeQueueJob("hello", ns).Pod().Data(`{"who":"world"}`).AttemptDeadline(120 * time.Second).Obj())
		pod := waitPod(ns, "hello", 1)
		Expect(pod.Labels).To(HaveKeyWithValue(kickqv1alpha1.LabelJob, "hello"))
		Expect(pod.Labels).To(HaveKeyWithValue(kickqv1alpha1.LabelQueue, "default"))
		Expect(pod.Labels).To(HaveKeyWithValue(kickqv1alpha1.LabelAttempt, "1"))
		Expect(pod.Spec.RestartPolicy).To(Equal(corev1.RestartPolicyNever))
		Expect(pod.Spec.ActiveDeadlineSeconds).To(Equal(ptr.To[int64](120)))
		Expect(metav1.GetControllerOf(pod).Name).To(Equal("hello"))
		Expect(pod.Spec.Containers[0].Env).To(ContainElements(
			corev1.EnvVar{Name: "KICKQ_JOB", Value: "hello"},
			corev1.EnvVar{Name: "KICKQ_NAMESPACE", Value: ns},
			corev1.EnvVar{Name: "KICKQ_ATTEMPT", Value: "1"},
			corev1.EnvVar{Name: "KICKQ_DATA", Value: `{"who":"world"}`},
		))
		running := expectPhase(ns, "hello", kickqv1alpha1.PhaseRunning)
		Expect(running.Status.Attempts).To(Equal(int32(1)))
		Expect(running.Status.AttemptHistory[0].PodName).To(Equal("hello-1"))

		setPodExited(pod, 0, `{"rows": 42}`)
		done := expectPhase(ns, "hello", kickqv1alpha1.PhaseSucceeded)
		Expect(meta.IsStatusConditionTrue(done.Status.Conditions, kickqv1alpha1.JobComplete)).To(BeTrue())
		Expect(done.Status.Reason).To(Equal(kickqv1alpha1.ReasonCompleted))
		Expect(string(done.Status.Result.Raw)).To(MatchJSON(`{"rows": 42}`))
		Expect(done.Status.FinishTime).NotTo(BeNil())
		Expect(done.Status.Logs).NotTo(BeEmpty())
		Consistently(func() int { return writes.Of(ns, "hello") }, util.ConsistentDuration, util.Interval).Should(Equal(3),
			"a one-attempt pod job costs 2 status writes and 1 pod create")
		AddReportEntry("API writes for a one-attempt pod job", writes.Of(ns, "hello"))

		// Status says the job started and succeeded: neither costs an Event (an API write each).
		Consistently(func() []string {
			var l eventsv1.EventList
			Expect(env.Client.List(env.Ctx, &l, client.InNamespace(ns))).To(Succeed())
			var reasons []string
			for _, e := range l.Items {
				if e.Regarding.Name == "hello" {
					reasons = append(reasons, e.Reason)
				}
			}
			return reasons
		}, util.ConsistentDuration, util.Interval).Should(BeEmpty())
		Expect(done.Status.Logs[0].Message).To(HavePrefix("attempt 1 started"))
	})

	It("keeps a termination message that is not JSON as a string", func() {
		create(utiltesting.MakeQueueJob("plain", ns).Pod().Obj())
		finishPod(ns, "plain", 1, 0, "all done")
		done := expectPhase(ns, "plain", kickqv1alpha1.PhaseSucceeded)
		Expect(string(done.Status.Result.Raw)).To(Equal(`"all done"`))
	})

	It("fails twice with exit 1, waits the configured backoff each time, then succeeds with attempts 3", func() {
		create(utiltesting.MakeQueueJob("flaky", ns).Pod().Retry(3, utiltesting.FixedBackoff(20*time.Second)).Obj())
		finishPod(ns, "flaky", 1, 1, "")
		j := expectPhase(ns, "flaky", kickqv1alpha1.PhaseDelayed)
		Expect(j.Status.FailedAttempts).To(Equal(int32(1)))
		failed1 := j.Status.AttemptHistory[0].FinishTime.Time
		Expect(j.Status.NextAttemptTime.Time).To(Equal(failed1.Add(20 * time.Second)))
		Expect(*j.Status.AttemptHistory[0].ExitCode).To(Equal(int32(1)))

		stepTo(failed1.Add(19 * time.Second))
		Consistently(podExists(ns, "flaky-2"), util.ConsistentDuration, util.Interval).Should(BeFalse(), "no attempt before the backoff ends")
		stepTo(failed1.Add(20 * time.Second))
		finishPod(ns, "flaky", 2, 1, "")
		Eventually(func() int32 { return getJob(ns, "flaky").Status.FailedAttempts }, util.Timeout, util.Interval).Should(Equal(int32(2)))
		j = getJob(ns, "flaky")
		stepTo(j.Status.NextAttemptTime.Time)
		finishPod(ns, "flaky", 3, 0, "")
		j = expectPhase(ns, "flaky", kickqv1alpha1.PhaseSucceeded)
		Expect(j.Status.Attempts).To(Equal(int32(3)))
		Expect(j.Status.FailedAttempts).To(Equal(int32(2)))
		h := j.Status.AttemptHistory
		Expect(h[1].StartTime.Sub(h[0].FinishTime.Time)).To(Equal(20 * time.Second))
		Expect(h[2].StartTime.Sub(h[1].FinishTime.Time)).To(Equal(20 * time.Second))
	})

	It("fails with RetriesExhausted once retry.limit counted failures are exceeded", func() {
		create(utiltesting.MakeQueueJob("doomed", ns).Pod().Retry(0, utiltesting.FixedBackoff(5*time.Second)).Obj())
		finishPod(ns, "doomed", 1, 3, "")
		j := expectPhase(ns, "doomed", kickqv1alpha1.PhaseFailed)
		Expect(j.Status.Reason).To(Equal(kickqv1alpha1.ReasonRetriesExhausted))
		Expect(meta.IsStatusConditionTrue(j.Status.Conditions, kickqv1alpha1.JobFailed)).To(BeTrue())
	})

	It("dies at once on a Die rule and retries without counting on a Retry rule", func() {
		rules := []kickqv1alpha1.RetryRule{utiltesting.ExitCodeRule(kickqv1alpha1.RetryActionDie, 2), utiltesting.ExitCodeRule(kickqv1alpha1.RetryActionRetry, 75)}
		create(utiltesting.MakeQueueJob("die", ns).Pod().Retry(5, utiltesting.FixedBackoff(5*time.Second)).Rule(rules...).Obj())
		finishPod(ns, "die", 1, 2, "")
		j := expectPhase(ns, "die", kickqv1alpha1.PhaseFailed)
		Expect(j.Status.Reason).To(Equal(kickqv1alpha1.ReasonDied))
		Expect(j.Status.Message).To(ContainSubstring("rule 1"))

		create(utiltesting.MakeQueueJob("again", ns).Pod().Retry(5, utiltesting.FixedBackoff(5*time.Second)).Rule(rules...).Obj())
		finishPod(ns, "again", 1, 75, "")
		// An uncounted retry asked for at once still backs off (1 s for the first in a row).
		j = expectPhase(ns, "again", kickqv1alpha1.PhaseDelayed)
		Expect(j.Status.ImmediateRetries).To(Equal(int32(1)))
		stepTo(j.Status.NextAttemptTime.Time)
		finishPod(ns, "again", 2, 0, "")
		j = expectPhase(ns, "again", kickqv1alpha1.PhaseSucceeded)
		Expect(j.Status.Attempts).To(Equal(int32(2)))
		Expect(j.Status.FailedAttempts).To(BeZero())
	})

	It("retries a disrupted pod without counting", func() {
		create(utiltesting.MakeQueueJob("evicted", ns).Pod().Retry(0, utiltesting.FixedBackoff(5*time.Second)).Obj())
		pod := waitPod(ns, "evicted", 1)
		writePodStatus(pod, utiltesting.WrapPod(pod).DisruptionTarget("EvictionByEvictionAPI").Exited(137, ""))
		// A disruption is never counted; it waits the least backoff (1 s).
		j := expectPhase(ns, "evicted", kickqv1alpha1.PhaseDelayed)
		stepTo(j.Status.NextAttemptTime.Time)
		finishPod(ns, "evicted", 2, 0, "")
		j = expectPhase(ns, "evicted", kickqv1alpha1.PhaseSucceeded)
		Expect(j.Status.FailedAttempts).To(BeZero())
		Expect(j.Status.AttemptHistory[0].Reason).To(Equal("DisruptionTarget"))
	})

	It("treats a pod deleted mid-run as a failed attempt (PodLost) and retries", func() {
		create(utiltesting.MakeQueueJob("lost", ns).Pod().Retry(2, utiltesting.FixedBackoff(10*time.Second)).Obj())
		pod := waitPod(ns, "lost", 1)
		setPodRunning(pod)
		expectPhase(ns, "lost", kickqv1alpha1.PhaseRunning)
		Expect(env.Client.Delete(env.Ctx, pod, client.GracePeriodSeconds(0))).To(Succeed())
		j := expectPhase(ns, "lost", kickqv1alpha1.PhaseDelayed)
		Expect(j.Status.AttemptHistory[0].Reason).To(Equal("PodLost"))
		stepTo(j.Status.NextAttemptTime.Time)
		finishPod(ns, "lost", 2, 0, "")
		expectPhase(ns, "lost", kickqv1alpha1.PhaseSucceeded)
	})

	It("fails an attempt whose pod is stuck in ImagePullBackOff past startDeadlineSeconds, deletes that pod and retries", func() {
		create(utiltesting.MakeQueueJob("pull", ns).Pod().StartDeadline(60*time.Second).Retry(1, utiltesting.FixedBackoff(10*time.Second)).Obj())
		pod := waitPod(ns, "pull", 1)
		setPodWaiting(pod, "ImagePullBackOff", "Back-off pulling image busybox")
		Eventually(func() string { return getJob(ns, "pull").Status.Message }, util.Timeout, util.Interval).
			Should(ContainSubstring("waiting to start: ImagePullBackOff"), "the job says why its pod does not start")
		stepTo(pod.CreationTimestamp.Add(60 * time.Second))
		j := expectPhase(ns, "pull", kickqv1alpha1.PhaseDelayed)
		Expect(j.Status.AttemptHistory[0].Reason).To(Equal("ImagePullBackOff"))
		Eventually(func() bool {
			var p corev1.Pod
			err := env.Client.Get(env.Ctx, client.ObjectKeyFromObject(pod), &p)
			return err != nil || p.DeletionTimestamp != nil
		}, util.Timeout, util.Interval).Should(BeTrue(), "the stuck pod is deleted")
	})

	It("delays the first attempt by delaySeconds, exactly", func() {
		// The delay counts from when the manager first saw the job (the spec's clock, which does
		// not move before the first pass) or the second after creationTimestamp, whichever is
		// earlier; status shows it rounded up to the second.
		seen := env.Clock.Now()
		create(utiltesting.MakeQueueJob("later", ns).Pod().Delay(30 * time.Second).Obj())
		j := expectPhase(ns, "later", kickqv1alpha1.PhaseDelayed)
		from := seen
		if limit := j.CreationTimestamp.Add(time.Second); limit.Before(from) {
			from = limit
		}
		due := from.Add(30 * time.Second)
		if rounded := due.Truncate(time.Second); rounded.Before(due) {
			due = rounded.Add(time.Second)
		}
		Expect(j.Status.NextAttemptTime.Time).To(Equal(due))
		stepTo(due.Add(-time.Second))
		Consistently(podExists(ns, "later-1"), util.ConsistentDuration, util.Interval).Should(BeFalse())
		stepTo(due)
		waitPod(ns, "later", 1)
	})

	It("holds a job until notBeforeTime, exactly", func() {
		due := env.Clock.Now().Add(2 * time.Hour)
		create(utiltesting.MakeQueueJob("at-time", ns).Pod().NotBefore(due).Obj())
		got := expectPhase(ns, "at-time", kickqv1alpha1.PhaseDelayed)
		Expect(got.Status.NextAttemptTime.Time).To(Equal(due))
		stepTo(due.Add(-time.Second))
		Consistently(podExists(ns, "at-time-1"), util.ConsistentDuration, util.Interval).Should(BeFalse())
		stepTo(due)
		waitPod(ns, "at-time", 1)
	})

	It("holds a suspended job and runs it once resumed", func() {
		create(utiltesting.MakeQueueJob("held", ns).Pod().Suspend().Obj())
		Eventually(func() bool {
			return meta.IsStatusConditionTrue(getJob(ns, "held").Status.Conditions, kickqv1alpha1.JobSuspended)
		}, util.Timeout, util.Interval).Should(BeTrue())
		Consistently(podExists(ns, "held-1"), util.ConsistentDuration, util.Interval).Should(BeFalse())
		modify(getJob(ns, "held"), func(j *kickqv1alpha1.QueueJob) { j.Spec.Suspend = ptr.To(false) })
		waitPod(ns, "held", 1)
	})

	It("cancels: stops the running pod and ends Failed/Cancelled", func() {
		create(utiltesting.MakeQueueJob("stopme", ns).Pod().Obj())
		setPodRunning(waitPod(ns, "stopme", 1))
		expectPhase(ns, "stopme", kickqv1alpha1.PhaseRunning)
		modify(getJob(ns, "stopme"), func(j *kickqv1alpha1.QueueJob) { j.Spec.Cancel = ptr.To(true) })
		j := expectPhase(ns, "stopme", kickqv1alpha1.PhaseFailed)
		Expect(j.Status.Reason).To(Equal(kickqv1alpha1.ReasonCancelled))
		Eventually(func() bool {
			var p corev1.Pod
			err := env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "stopme-1"}, &p)
			return err != nil || p.DeletionTimestamp != nil
		}, util.Timeout, util.Interval).Should(BeTrue())
	})

	It("fails an attempt past attemptDeadlineSeconds and the job past activeDeadlineSeconds", func() {
		create(utiltesting.MakeQueueJob("slow", ns).Pod().AttemptDeadline(30*time.Second).ActiveDeadline(100*time.Second).Retry(5, utiltesting.FixedBackoff(10*time.Second)).Obj())
		setPodRunning(waitPod(ns, "slow", 1))
		j := expectPhase(ns, "slow", kickqv1alpha1.PhaseRunning)
		started := j.Status.StartTime.Time
		stepTo(started.Add(30 * time.Second))
		j = expectPhase(ns, "slow", kickqv1alpha1.PhaseDelayed)
		Expect(j.Status.AttemptHistory[0].Reason).To(Equal("AttemptDeadlineExceeded"))
		stepTo(started.Add(100 * time.Second))
		j = expectPhase(ns, "slow", kickqv1alpha1.PhaseFailed)
		Expect(j.Status.Reason).To(Equal(kickqv1alpha1.ReasonDeadlineExceeded))
	})
})

var _ = Describe("Queues and handlers", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("blocks a job whose queue does not exist, and runs it once the queue is created", func() {
		create(utiltesting.MakeQueueJob("early", ns).Queue("later").Pod().Obj())
		j := expectBlocked(ns, "early", kickqv1alpha1.ReasonQueueNotFound)
		c := meta.FindStatusCondition(j.Status.Conditions, kickqv1alpha1.JobBlocked)
		Expect(c.Message).To(ContainSubstring(`queue "later" does not exist`))
		create(utiltesting.MakeQueue("later", ns).Obj())
		waitPod(ns, "early", 1)
	})

	It("blocks a type without a handler, and runs it once the handler is added", func() {
		q := utiltesting.MakeQueue("work", ns).Obj()
		create(q)
		create(utiltesting.MakeQueueJob("typed", ns).Queue("work").Type("thumbs").Obj())
		expectBlocked(ns, "typed", kickqv1alpha1.ReasonHandlerNotFound)
		modify(q, func(q *kickqv1alpha1.Queue) {
			q.Spec.Handlers = []kickqv1alpha1.Handler{{Type: "thumbs", HandlerSpec: utiltesting.MakeHandler().Pod("thumbs").Obj()}}
		})
		pod := waitPod(ns, "typed", 1)
		Expect(pod.Spec.Containers[0].Image).To(Equal("thumbs"))
		Expect(pod.Labels).To(HaveKeyWithValue(kickqv1alpha1.LabelType, "thumbs"))
	})

	It("blocks inline targets in a queue with inlineTargets: Deny", func() {
		create(utiltesting.MakeQueue("locked", ns).InlineTargets(kickqv1alpha1.InlineTargetsDeny).Obj())
		create(utiltesting.MakeQueueJob("sneaky", ns).Queue("locked").Pod().Obj())
		j := expectBlocked(ns, "sneaky", kickqv1alpha1.ReasonInlineTargetDenied)
		c := meta.FindStatusCondition(j.Status.Conditions, kickqv1alpha1.JobBlocked)
		Expect(c.Message).To(ContainSubstring("inlineTargets: Deny"))
		Consistently(podExists(ns, "sneaky-1"), util.ConsistentDuration, util.Interval).Should(BeFalse())
	})

	It("never runs more jobs at once than the queue's concurrency, and starts them in priority order", func() {
		q := utiltesting.MakeQueue("narrow", ns).Concurrency(2).Paused().Obj()
		create(q)
		remaining := []string{"p5", "p4", "p3", "p2", "p1", "p0"} // by priority, highest first
		for i := range 6 {
			create(utiltesting.MakeQueueJob(fmt.Sprintf("p%d", i), ns).Queue("narrow").Pod().Priority(int32(i)).Obj())
		}
		for _, n := range remaining {
			expectPhase(ns, n, kickqv1alpha1.PhasePending)
		}
		modify(q, func(q *kickqv1alpha1.Queue) { q.Spec.Paused = ptr.To(false) })

		activePods := func() []string {
			var l corev1.PodList
			Expect(env.Client.List(env.Ctx, &l, client.InNamespace(ns))).To(Succeed())
			var out []string
			for _, p := range l.Items {
				if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
					out = append(out, p.Labels[kickqv1alpha1.LabelJob])
				}
			}
			sort.Strings(out)
			return out
		}
		for len(remaining) > 0 {
			want := append([]string(nil), remaining[:min(2, len(remaining))]...)
			sort.Strings(want)
			Eventually(activePods, util.Timeout, util.Interval).Should(Equal(want), "the two highest priorities run, no more")
			Consistently(activePods, 200*time.Millisecond, util.Interval).Should(Equal(want))
			finishPod(ns, remaining[0], 1, 0, "")
			expectPhase(ns, remaining[0], kickqv1alpha1.PhaseSucceeded)
			remaining = remaining[1:]
		}
	})

	It("holds jobs of a paused queue with reason Paused and starts them on resume", func() {
		q := utiltesting.MakeQueue("sleepy", ns).Paused().Obj()
		create(q)
		create(utiltesting.MakeQueueJob("wait", ns).Queue("sleepy").Pod().Obj())
		Eventually(func() string {
			c := meta.FindStatusCondition(getJob(ns, "wait").Status.Conditions, kickqv1alpha1.JobBlocked)
			if c == nil {
				return ""
			}
			return c.Reason
		}, util.Timeout, util.Interval).Should(Equal(kickqv1alpha1.ReasonPaused))
		Expect(getJob(ns, "wait").Status.Phase).To(Equal(kickqv1alpha1.PhasePending))
		modify(q, func(q *kickqv1alpha1.Queue) { q.Spec.Paused = ptr.To(false) })
		waitPod(ns, "wait", 1)
	})
})

var _ = Describe("Limits under load", func() {
	It("runs 200 jobs through concurrency 5 and 20 starts a minute without exceeding either", func() {
		ns := env.NewNamespace()
		create(utiltesting.MakeQueue("limited", ns).Concurrency(5).Rate(20, 60).Obj())
		const total = 200
		began := time.Now()
		for i := range total {
			create(utiltesting.MakeQueueJob(fmt.Sprintf("load-%03d", i), ns).Queue("limited").Pod().Obj())
		}
		maxRunning := 0
		for step := range 700 {
			var jobs kickqv1alpha1.QueueJobList
			Expect(env.Client.List(env.Ctx, &jobs, client.InNamespace(ns))).To(Succeed())
			running, done := 0, 0
			for _, j := range jobs.Items {
				switch j.Status.Phase {
				case kickqv1alpha1.PhaseRunning:
					running++
				case kickqv1alpha1.PhaseSucceeded:
					done++
				}
			}
			Expect(running).To(BeNumerically("<=", 5), "concurrency 5, observed at step %d", step)
			maxRunning = max(maxRunning, running)
			if done == total {
				break
			}
			// The kubelet finishes every started pod; then a second passes.
			var pods corev1.PodList
			Expect(env.Client.List(env.Ctx, &pods, client.InNamespace(ns))).To(Succeed())
			for i := range pods.Items {
				if p := pods.Items[i].Status.Phase; p != corev1.PodSucceeded && p != corev1.PodFailed {
					setPodExited(&pods.Items[i], 0, "")
				}
			}
			time.Sleep(30 * time.Millisecond)
			env.Clock.Step(time.Second)
		}

		var jobs kickqv1alpha1.QueueJobList
		Expect(env.Client.List(env.Ctx, &jobs, client.InNamespace(ns))).To(Succeed())
		type span struct{ start, finish time.Time }
		var spans []span
		for _, j := range jobs.Items {
			Expect(j.Status.Phase).To(Equal(kickqv1alpha1.PhaseSucceeded), "job %s: %s %v (fake now %s)", j.Name, j.Status.Message, j.Status.Conditions, env.Clock.Now())
			Expect(j.Status.Attempts).To(Equal(int32(1)))
			a := j.Status.AttemptHistory[0]
			spans = append(spans, span{a.StartTime.Time, a.FinishTime.Time})
		}
		sort.Slice(spans, func(i, k int) bool { return spans[i].start.Before(spans[k].start) })
		// From the recorded history: at most 20 starts in any 60 s window, at most 5 attempts overlapping.
		for i, s := range spans {
			inWindow, overlapping := 0, 0
			for _, o := range spans[:i+1] {
				if o.start.After(s.start.Add(-60 * time.Second)) {
					inWindow++
				}
				if o.finish.After(s.start) {
					overlapping++
				}
			}
			Expect(inWindow).To(BeNumerically("<=", 20), "starts in the 60 s before %s", s.start)
			Expect(overlapping).To(BeNumerically("<=", 5), "attempts running at %s", s.start)
		}
		elapsed := spans[len(spans)-1].start.Sub(spans[0].start)
		Expect(elapsed).To(BeNumerically(">=", 9*time.Minute), "200 starts at 20 a minute take at least 9 minutes")
		AddReportEntry("fake time from first to last start", elapsed.String())

		// The queue's status follows, written at most about once a second.
		Eventually(func(g Gomega) {
			var q kickqv1alpha1.Queue
			g.Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "limited"}, &q)).To(Succeed())
			g.Expect(q.Status.Counts).To(Equal(kickqv1alpha1.QueueCounts{Succeeded: total}))
			g.Expect(q.Status.ObservedGeneration).To(Equal(q.Generation))
			g.Expect(meta.IsStatusConditionTrue(q.Status.Conditions, kickqv1alpha1.QueueReady)).To(BeTrue())
			g.Expect(meta.IsStatusConditionFalse(q.Status.Conditions, kickqv1alpha1.QueuePaused)).To(BeTrue())
			g.Expect(q.Status.OldestPendingTime).To(BeNil())
		}, util.Timeout, util.Interval).Should(Succeed())
		realSeconds := int(time.Since(began).Seconds())
		Expect(writes.Of(ns, "limited")).To(BeNumerically("<=", realSeconds+2), "queue status writes are coalesced to about one a second")
		AddReportEntry("queue status writes / real seconds", fmt.Sprintf("%d / %d", writes.Of(ns, "limited"), realSeconds))
		AddReportEntry("most jobs seen running at once", maxRunning)
	})
})

var _ = Describe("Dependencies", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	blockedReason := func(name string) func() string {
		return func() string {
			c := meta.FindStatusCondition(getJob(ns, name).Status.Conditions, kickqv1alpha1.JobBlocked)
			if c == nil || c.Status != metav1.ConditionTrue {
				return ""
			}
			return c.Reason
		}
	}

	It("runs a job after every job of its batch succeeded", func() {
		for _, n := range []string{"part-1", "part-2"} {
			create(utiltesting.MakeQueueJob(n, ns).Pod().Batch("import").Obj())
		}
		create(utiltesting.MakeQueueJob("merge", ns).Pod().AfterBatch("import").Require(kickqv1alpha1.RequireAllSucceeded).Obj())
		Eventually(blockedReason("merge"), util.Timeout, util.Interval).Should(Equal(kickqv1alpha1.ReasonDependenciesPending))
		Expect(getJob(ns, "merge").Status.Phase).To(Equal(kickqv1alpha1.PhaseBlocked))
		finishPod(ns, "part-1", 1, 0, "")
		expectPhase(ns, "part-1", kickqv1alpha1.PhaseSucceeded)
		Consistently(podExists(ns, "merge-1"), util.ConsistentDuration, util.Interval).Should(BeFalse(), "part-2 has not finished")
		finishPod(ns, "part-2", 1, 0, "")
		waitPod(ns, "merge", 1)
	})

	It("starts a follow-up only when all 20 members of its batch are terminal, and shows the counts", func() {
		for i := 1; i <= 20; i++ {
			create(utiltesting.MakeQueueJob(fmt.Sprintf("member-%02d", i), ns).Pod().Retry(0, utiltesting.FixedBackoff(5*time.Second)).Batch("nightly").Obj())
		}
		create(utiltesting.MakeQueueJob("report", ns).Pod().AfterBatch("nightly").Require(kickqv1alpha1.RequireAllFinished).Obj())
		Eventually(blockedReason("report"), util.Timeout, util.Interval).Should(Equal(kickqv1alpha1.ReasonDependenciesPending))
		// spec.batch is mirrored to the kickq.dev/batch label.
		Eventually(func() int {
			var l kickqv1alpha1.QueueJobList
			Expect(env.Client.List(env.Ctx, &l, client.InNamespace(ns), client.MatchingLabels{kickqv1alpha1.LabelBatch: "nightly"})).To(Succeed())
			return len(l.Items)
		}, util.Timeout, util.Interval).Should(Equal(20))
		for i := 1; i <= 19; i++ {
			code := int32(0)
			if i == 7 {
				code = 1 // AllFinished: a failed member counts as finished
			}
			finishPod(ns, fmt.Sprintf("member-%02d", i), 1, code, "")
		}
		Eventually(func() *kickqv1alpha1.DependencyCounts { return getJob(ns, "report").Status.Dependencies }, util.Timeout, util.Interval).
			Should(Equal(&kickqv1alpha1.DependencyCounts{Total: 20, Finished: 19, Succeeded: 18, Failed: 1}))
		Expect(getJob(ns, "report").Status.Phase).To(Equal(kickqv1alpha1.PhaseBlocked))
		Consistently(podExists(ns, "report-1"), util.ConsistentDuration, util.Interval).Should(BeFalse(), "member-20 has not finished")
		finishPod(ns, "member-20", 1, 0, "")
		waitPod(ns, "report", 1)
		Expect(getJob(ns, "report").Status.Dependencies).To(Equal(&kickqv1alpha1.DependencyCounts{Total: 20, Finished: 20, Succeeded: 19, Failed: 1}))
	})

	It("fails a follow-up with DependencyFailed when one batch member failed under AllSucceeded", func() {
		for i := 1; i <= 3; i++ {
			create(utiltesting.MakeQueueJob(fmt.Sprintf("m-%d", i), ns).Pod().Retry(0, utiltesting.FixedBackoff(5*time.Second)).Batch("b").Obj())
		}
		create(utiltesting.MakeQueueJob("follow", ns).Pod().AfterBatch("b").Require(kickqv1alpha1.RequireAllSucceeded).Obj())
		finishPod(ns, "m-2", 1, 1, "")
		j := expectPhase(ns, "follow", kickqv1alpha1.PhaseFailed)
		Expect(j.Status.Reason).To(Equal(kickqv1alpha1.ReasonDependencyFailed))
		Expect(j.Status.Message).To(ContainSubstring("m-2"))
	})

	It("refuses a job that waits for itself, and bounds waiting for a missing job by activeDeadlineSeconds", func() {
		create(utiltesting.MakeQueueJob("self", ns).Pod().After("self").Require(kickqv1alpha1.RequireAllSucceeded).Obj())
		j := expectPhase(ns, "self", kickqv1alpha1.PhaseFailed)
		Expect(j.Status.Reason).To(Equal(kickqv1alpha1.ReasonInvalidSpec))
		Expect(j.Status.Message).To(ContainSubstring("spec.after.jobNames"))

		create(utiltesting.MakeQueueJob("waits", ns).Pod().ActiveDeadline(120 * time.Second).After("never").Require(kickqv1alpha1.RequireAllSucceeded).Obj())
		Eventually(blockedReason("waits"), util.Timeout, util.Interval).Should(Equal(kickqv1alpha1.ReasonDependenciesPending))
		Expect(getJob(ns, "waits").Status.Dependencies).To(Equal(&kickqv1alpha1.DependencyCounts{Missing: 1}))
		created := getJob(ns, "waits").CreationTimestamp.Time
		env.Clock.SetTime(created.Add(119 * time.Second))
		Consistently(phaseOf(ns, "waits"), util.ConsistentDuration, util.Interval).Should(Equal(kickqv1alpha1.PhaseBlocked))
		env.Clock.SetTime(created.Add(120 * time.Second))
		j = expectPhase(ns, "waits", kickqv1alpha1.PhaseFailed)
		Expect(j.Status.Reason).To(Equal(kickqv1alpha1.ReasonDeadlineExceeded))
	})

	It("fails a job with DependencyFailed when a dependency failed and all had to succeed", func() {
		create(utiltesting.MakeQueueJob("first", ns).Pod().Retry(0, utiltesting.FixedBackoff(5*time.Second)).Obj())
		create(utiltesting.MakeQueueJob("second", ns).Pod().After("first").Require(kickqv1alpha1.RequireAllSucceeded).Obj())
		finishPod(ns, "first", 1, 1, "")
		j := expectPhase(ns, "second", kickqv1alpha1.PhaseFailed)
		Expect(j.Status.Reason).To(Equal(kickqv1alpha1.ReasonDependencyFailed))
		Expect(j.Status.Message).To(ContainSubstring("first"))
	})

	It("runs a job once its named dependencies finished, whatever the outcome, with AllFinished", func() {
		create(utiltesting.MakeQueueJob("first", ns).Pod().Retry(0, utiltesting.FixedBackoff(5*time.Second)).Obj())
		create(utiltesting.MakeQueueJob("cleanup", ns).Pod().After("first", "later").Require(kickqv1alpha1.RequireAllFinished).Obj())
		Eventually(func() string { return getJob(ns, "cleanup").Status.Message }, util.Timeout, util.Interval).
			Should(ContainSubstring("later to exist"))
		finishPod(ns, "first", 1, 1, "")
		create(utiltesting.MakeQueueJob("later", ns).Pod().Obj())
		finishPod(ns, "later", 1, 0, "")
		waitPod(ns, "cleanup", 1)
	})
})

var _ = Describe("Clean-up of finished jobs", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	gone := func(name string) func() bool {
		return func() bool {
			var j kickqv1alpha1.QueueJob
			return apierrors.IsNotFound(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j))
		}
	}

	It("deletes a job ttlSecondsAfterFinished after it finished, on the fake clock", func() {
		create(utiltesting.MakeQueueJob("short-lived", ns).Pod().TTLAfterFinished(60 * time.Second).Obj())
		finishPod(ns, "short-lived", 1, 0, "")
		done := expectPhase(ns, "short-lived", kickqv1alpha1.PhaseSucceeded)
		stepTo(done.Status.FinishTime.Add(59 * time.Second))
		Consistently(gone("short-lived"), util.ConsistentDuration, util.Interval).Should(BeFalse())
		stepTo(done.Status.FinishTime.Add(60 * time.Second))
		Eventually(gone("short-lived"), util.Timeout, util.Interval).Should(BeTrue())
	})

	It("applies the queue's retention: a TTL for failed jobs and a history limit for succeeded ones", func() {
		create(utiltesting.MakeQueue("kept", ns).SucceededHistory(2).FailedTTL(30 * time.Second).Obj())
		for i := 1; i <= 4; i++ {
			name := fmt.Sprintf("ok-%d", i)
			create(utiltesting.MakeQueueJob(name, ns).Queue("kept").Pod().Obj())
			finishPod(ns, name, 1, 0, "")
			expectPhase(ns, name, kickqv1alpha1.PhaseSucceeded)
			env.Clock.Step(time.Second) // distinct finish times: ok-1 is the oldest
		}
		Eventually(gone("ok-1"), util.Timeout, util.Interval).Should(BeTrue())
		Eventually(gone("ok-2"), util.Timeout, util.Interval).Should(BeTrue())
		Consistently(func() bool { return gone("ok-3")() || gone("ok-4")() }, util.ConsistentDuration, util.Interval).Should(BeFalse())

		create(utiltesting.MakeQueueJob("bad", ns).Queue("kept").Pod().Retry(0, utiltesting.FixedBackoff(5*time.Second)).Obj())
		finishPod(ns, "bad", 1, 1, "")
		failed := expectPhase(ns, "bad", kickqv1alpha1.PhaseFailed)
		stepTo(failed.Status.FinishTime.Add(29 * time.Second))
		Consistently(gone("bad"), util.ConsistentDuration, util.Interval).Should(BeFalse())
		stepTo(failed.Status.FinishTime.Add(30 * time.Second))
		Eventually(gone("bad"), util.Timeout, util.Interval).Should(BeTrue())
	})
})

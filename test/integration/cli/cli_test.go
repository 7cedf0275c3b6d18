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

package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/cli"
	"kickq.dev/kickq/test/util"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

var _ = Describe("kubectl kickq stats", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("shows counts, throughput, wait and run percentiles and the limits in force of each queue", func() {
		create(utiltesting.MakeQueue("q", ns).Concurrency(1).Rate(10, 60).Obj())
		runJob(ns, utiltesting.MakeQueueJob("first", ns).Queue("q").Pod().Obj(), 5*time.Second, 0, kickqv1alpha1.PhaseSucceeded)
		runJob(ns, utiltesting.MakeQueueJob("second", ns).Queue("q").Pod().Retry(0).Obj(), 20*time.Second, 1, kickqv1alpha1.PhaseFailed)
		create(utiltesting.MakeQueueJob("third", ns).Queue("q").Pod().Obj())
		runPod(ns, "third", 1)
		create(utiltesting.MakeQueueJob("fourth", ns).Queue("q").Pod().Obj())
		Eventually(func() string {
			return string(getJob(ns, "fourth").Status.Phase) + "/" + blockedReason(getJob(ns, "fourth"))
		}, util.Timeout, util.Interval).
			Should(Equal("Pending/" + kickqv1alpha1.ReasonConcurrencyLimited))
		create(utiltesting.MakeQueueJob("implicit", ns).Pod().Obj()) // the implicit default queue
		waitPod(ns, "implicit", 1)

		var rows []cli.QueueStats
		Eventually(func(g Gomega) {
			r := kickq(ns, "stats", "-o", "json")
			g.Expect(r.code).To(Equal(0), r.errOut)
			g.Expect(json.Unmarshal([]byte(r.out), &rows)).To(Succeed())
			g.Expect(rows).To(HaveLen(2))
			g.Expect(rows[1].Counts).To(Equal(kickqv1alpha1.QueueCounts{Pending: 1, Running: 1, Succeeded: 1, Failed: 1}))
			// status.startedInWindow is written at most about once a second.
			g.Expect(rows[1].Limits).To(Equal([]string{"concurrency 1/1", "rate 3/10 per 60s"}))
			// The queue's status.statistics, which the manager measured, once written.
			g.Expect(rows[1].From).To(Equal("queue status"))
			g.Expect(rows[1].RunP95Milliseconds).To(HaveValue(Equal(int64(20000))))
		}, util.Timeout, util.Interval).Should(Succeed())
		Expect(rows[0].Queue).To(Equal("default"))
		Expect(rows[0].Exists).To(BeFalse())
		Expect(rows[0].Limits).To(Equal([]string{"none (implicit default queue)"}))
		q := rows[1]
		Expect(q.Queue).To(Equal("q"))
		Expect(q.FinishedLastMinute).To(Equal(2))
		Expect(q.StartedLastMinute).To(Equal(3))
		Expect(*q.RunP50Milliseconds).To(Equal(int64(5000)))
		Expect(*q.RunP95Milliseconds).To(Equal(int64(20000)))
		// Each started at once on the fake clock, which the spec stepped after creating them: the
		// waits are the steps, with the real time between the spec's creates.
		Expect(q.WaitP50Milliseconds).NotTo(BeNil())
		Expect(q.Keys).To(BeNil(), "no job has a key")
		Expect(q.Limits).To(Equal([]string{"concurrency 1/1", "rate 3/10 per 60s"}))
		Expect(q.Held).To(Equal(map[string]int32{kickqv1alpha1.ReasonConcurrencyLimited: 1}))

		r := kickq(ns, "stats", "q")
		Expect(r.code).To(Equal(0))
		lines := strings.Split(strings.TrimSpace(r.out), "\n")
		Expect(lines).To(HaveLen(2))
		Expect(strings.Fields(lines[0])).To(HaveExactElements("QUEUE", "PENDING", "RUNNING", "DELAYED", "BLOCKED", "SUCCEEDED", "FAILED",
			"DONE/MIN", "WAIT", "P50", "WAIT", "P95", "RUN", "P50", "RUN", "P95", "KEYS", "LIMITS"))
		Expect(strings.Fields(lines[1])[:8]).To(HaveExactElements("q", "1", "1", "0", "0", "1", "1", "2"))
		Expect(strings.Fields(lines[1])[10:13]).To(HaveExactElements("5s", "20s", "-"))
		Expect(lines[1]).To(HaveSuffix("concurrency 1/1, rate 3/10 per 60s"))

		// --window computes the figures from the jobs' recorded times instead.
		var byJobs []cli.QueueStats
		Expect(json.Unmarshal([]byte(kickq(ns, "stats", "q", "--window", "1h", "-o", "json").out), &byJobs)).To(Succeed())
		Expect(byJobs).To(HaveLen(1))
		Expect(byJobs[0].From).To(Equal("jobs"))
		Expect(byJobs[0].WindowSeconds).To(Equal(int32(3600)))
		Expect(*byJobs[0].RunP95Milliseconds).To(Equal(int64(20000)))

		Expect(kickq(ns, "stats", "nope").code).To(Equal(cli.ExitError))
	})

	It("prints a table for config/samples", func() {
		paths, err := filepath.Glob(filepath.Join(util.RepoRoot(), "config", "samples", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		for _, p := range paths {
			objs, err := util.ReadManifests(p)
			Expect(err).NotTo(HaveOccurred())
			for _, o := range objs {
				o.SetNamespace(ns)
				Expect(env.Client.Apply(env.Ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("samples"), client.ForceOwnership)).To(Succeed())
			}
		}
		// The kubelet's part for the pods the queue's limits let start: they run 3 s, then
		// flaky-import fails (and is retried after its backoff) and the others succeed.
		var pods corev1.PodList
		Eventually(func() int {
			Expect(env.Client.List(env.Ctx, &pods, client.InNamespace(ns))).To(Succeed())
			return len(pods.Items)
		}, util.Timeout, util.Interval).Should(BeNumerically(">=", 3))
		for i := range pods.Items {
			p := utiltesting.WrapPod(&pods.Items[i]).Running(env.Clock.Now()).Obj()
			Expect(env.Client.Status().Update(env.Ctx, p)).To(Succeed())
			pods.Items[i] = *p
		}
		env.Clock.Step(3 * time.Second)
		for i := range pods.Items {
			code := int32(0)
			if strings.HasPrefix(pods.Items[i].Name, "flaky-import-") {
				code = 1
			}
			Expect(env.Client.Status().Update(env.Ctx, utiltesting.WrapPod(&pods.Items[i]).Exited(code, "").Obj())).To(Succeed())
		}
		Eventually(func(g Gomega) {
			var rows []cli.QueueStats
			g.Expect(json.Unmarshal([]byte(kickq(ns, "stats", "-o", "json").out), &rows)).To(Succeed())
			g.Expect(rows).To(HaveLen(3))
			g.Expect(rows[0].Counts.Succeeded).To(BeNumerically(">", 0))
		}, util.Timeout, util.Interval).Should(Succeed())
		r := kickq(ns, "stats", "-o", "wide")
		Expect(r.code).To(Equal(0))
		AddReportEntry("kubectl kickq stats -o wide on config/samples", r.out)
		lines := strings.Split(strings.TrimSpace(r.out), "\n")
		Expect(lines[0]).To(HavePrefix("QUEUE"))
		Expect(lines[1]).To(HavePrefix("default "))
		Expect(lines[1]).To(ContainSubstring("concurrency"))
		Expect(lines[2]).To(HavePrefix("locked "))
		Expect(lines[3]).To(HavePrefix("per-customer "))
		Expect(lines[3]).To(ContainSubstring("per key: concurrency 1, per key: rate 10/60s, per key: pause on Retry-After"))
	})
})

func blockedReason(j *kickqv1alpha1.QueueJob) string {
	for _, c := range j.Status.Conditions {
		if c.Type == kickqv1alpha1.JobBlocked && c.Status == "True" {
			return c.Reason
		}
	}
	return ""
}

var _ = Describe("kubectl kickq wait", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("waits through a watch until the job Succeeded, prints its result and exits 0", func() {
		create(utiltesting.MakeQueueJob("hello", ns).Pod().Obj())
		waiting := kickqAsync(ns, "wait", "hello")
		runPod(ns, "hello", 1)
		Consistently(waiting, util.ConsistentDuration, util.Interval).ShouldNot(Receive())
		env.Clock.Step(4 * time.Second)
		finishPod(ns, "hello", 1, 0, `{"sent": true}`)
		var r result
		Eventually(waiting, util.Timeout, util.Interval).Should(Receive(&r))
		Expect(r.code).To(Equal(0))
		Expect(r.out).To(Equal("queuejob/hello Succeeded (Completed) after 1 attempt in 4s\nresult: {\"sent\":true}\n"))
	})

	It("exits 1 when the job Failed, with its reason and message", func() {
		create(utiltesting.MakeQueueJob("bad", ns).Pod().Retry(0).Obj())
		waiting := kickqAsync(ns, "wait", "bad", "--timeout", "1h")
		finishPod(ns, "bad", 1, 3, "")
		var r result
		Eventually(waiting, util.Timeout, util.Interval).Should(Receive(&r))
		Expect(r.code).To(Equal(cli.ExitFailed))
		Expect(r.out).To(HavePrefix("queuejob/bad Failed (RetriesExhausted) after 1 attempt"))
		Expect(r.out).To(ContainSubstring("message: "))
		Expect(r.errOut).To(BeEmpty())
	})

	It("returns at once for a job that already finished", func() {
		runJob(ns, utiltesting.MakeQueueJob("done", ns).Pod().Obj(), time.Second, 0, kickqv1alpha1.PhaseSucceeded)
		Expect(kickq(ns, "wait", "done").code).To(Equal(0))
	})

	It("exits 2 after --timeout on the clock, and for a job that does not exist", func() {
		create(utiltesting.MakeQueueJob("held", ns).Pod().Suspend().Obj())
		// The message names the phase the manager wrote: wait for it before the clock runs out.
		expectPhase(ns, "held", kickqv1alpha1.PhasePending)
		waiting := kickqAsync(ns, "wait", "held", "--timeout", "30s")
		var r result
		Eventually(func() bool {
			env.Clock.Step(31 * time.Second) // the command's timer may not be set yet: step until it fires
			select {
			case r = <-waiting:
				return true
			default:
				return false
			}
		}, util.Timeout, util.Interval).Should(BeTrue())
		Expect(r.code).To(Equal(cli.ExitWait))
		Expect(r.errOut).To(ContainSubstring("timed out after 30s waiting for queuejob held (phase Pending)"))

		r = kickq(ns, "wait", "nope")
		Expect(r.code).To(Equal(cli.ExitWait))
		Expect(r.errOut).To(ContainSubstring("not found"))
	})
})

var _ = Describe("kubectl kickq logs", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("prints the status log lines, then the latest attempt's pod log, or --attempt N's", func() {
		create(utiltesting.MakeQueueJob("flaky", ns).Pod().Retry(2, utiltesting.FixedBackoff(10*time.Second)).Obj())
		finishPod(ns, "flaky", 1, 1, "")
		expectPhase(ns, "flaky", kickqv1alpha1.PhaseDelayed)
		env.Clock.Step(10 * time.Second)
		finishPod(ns, "flaky", 2, 0, "")
		expectPhase(ns, "flaky", kickqv1alpha1.PhaseSucceeded)

		r := kickq(ns, "logs", "flaky")
		Expect(r.code).To(Equal(0), r.errOut)
		Expect(r.out).To(ContainSubstring("attempt 1 failed: exit code 1"))
		Expect(r.out).To(HaveSuffix("--- attempt 2: pod flaky-2, container main\nlog of flaky-2/main\n"))

		r = kickq(ns, "logs", "flaky", "--attempt", "1")
		Expect(r.out).To(HaveSuffix("--- attempt 1: pod flaky-1, container main\nlog of flaky-1/main\n"))

		Expect(env.Client.Delete(env.Ctx, waitPod(ns, "flaky", 1))).To(Succeed())
		Eventually(func() string { return kickq(ns, "logs", "flaky", "--attempt", "1").out }, util.Timeout, util.Interval).
			Should(HaveSuffix("--- attempt 1: pod flaky-1 is gone, and its container log with it\n"))

		r = kickq(ns, "logs", "flaky", "--attempt", "3")
		Expect(r.code).To(Equal(cli.ExitError))
		Expect(r.errOut).To(ContainSubstring("has 2 attempts; there is no attempt 3"))
	})
})

var _ = Describe("kubectl kickq retry", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("makes <job>-retry-<n> from a finished job's spec; a retry of a retry counts on", func() {
		runJob(ns, utiltesting.MakeQueueJob("import", ns).Type("csv").Data(map[string]int{"rows": 3}).Pod().Retry(0).
			Labels(map[string]string{"app": "shop"}).Obj(), time.Second, 1, kickqv1alpha1.PhaseFailed)
		r := kickq(ns, "retry", "import")
		Expect(r.code).To(Equal(0), r.errOut)
		Expect(r.out).To(Equal("queuejob.kickq.dev/import-retry-1 created\n"))
		orig, retry := getJob(ns, "import"), getJob(ns, "import-retry-1")
		Expect(retry.Spec.Data).To(Equal(orig.Spec.Data))
		Expect(retry.Spec.Type).To(Equal("csv"))
		Expect(retry.Labels).To(HaveKeyWithValue("app", "shop"))
		Expect(retry.Annotations).To(HaveKeyWithValue(cli.AnnotationRetryOf, "import"))

		// The retry runs like any job; retrying it again makes import-retry-2, and so does the
		// original once more (the next free number).
		finishPod(ns, "import-retry-1", 1, 1, "")
		expectPhase(ns, "import-retry-1", kickqv1alpha1.PhaseFailed)
		Expect(kickq(ns, "retry", "import-retry-1", "-o", "name").out).To(Equal("queuejob.kickq.dev/import-retry-2\n"))
		Expect(kickq(ns, "retry", "import").out).To(Equal("queuejob.kickq.dev/import-retry-3 created\n"))

		r = kickq(ns, "retry", "import-retry-2")
		Expect(r.code).To(Equal(cli.ExitError))
		Expect(r.errOut).To(ContainSubstring("not finished"))
	})

	It("keeps a long name within 63 characters", func() {
		long := strings.Repeat("x", 63)
		runJob(ns, utiltesting.MakeQueueJob(long, ns).Pod().Obj(), time.Second, 0, kickqv1alpha1.PhaseSucceeded)
		Expect(kickq(ns, "retry", long).out).To(Equal("queuejob.kickq.dev/" + strings.Repeat("x", 55) + "-retry-1 created\n"))
	})

	It("retries the Failed jobs of a batch or a selector that have no retry yet", func() {
		for i, code := range []int32{1, 1, 0} {
			name := fmt.Sprintf("part-%d", i)
			phase := kickqv1alpha1.PhaseFailed
			if code == 0 {
				phase = kickqv1alpha1.PhaseSucceeded
			}
			runJob(ns, utiltesting.MakeQueueJob(name, ns).Batch("b1").Labels(map[string]string{"run": "r1"}).Pod().Retry(0).Obj(), time.Second, code, phase)
		}
		r := kickq(ns, "retry", "--batch", "b1")
		Expect(r.code).To(Equal(0), r.errOut)
		Expect(r.out).To(Equal("queuejob.kickq.dev/part-0-retry-1 created\nqueuejob.kickq.dev/part-1-retry-1 created\n"))
		Expect(getJob(ns, "part-0-retry-1").Spec.Batch).To(Equal("b1"))

		r = kickq(ns, "retry", "-l", "run=r1")
		Expect(r.out).To(BeEmpty())
		Expect(r.errOut).To(ContainSubstring("no Failed job without a retry in selector run=r1"))

		Expect(kickq(ns, "retry", "part-0", "--batch", "b1").code).To(Equal(cli.ExitError))
	})
})

var _ = Describe("kubectl kickq run-now", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("fires a cron template now, also while suspended, and prints the child", func() {
		create(utiltesting.MakeQueueJob("nightly", ns).Pod().Cron("0 3 * * *").CronSuspend().Obj())
		expectPhase(ns, "nightly", kickqv1alpha1.PhaseScheduled)
		r := kickq(ns, "run-now", "nightly")
		Expect(r.code).To(Equal(0), r.errOut)
		child := fmt.Sprintf("nightly-%d", env.Clock.Now().Unix())
		Expect(r.out).To(Equal("queuejob.kickq.dev/" + child + " created\n"))
		Expect(getJob(ns, child).Labels).To(HaveKeyWithValue(kickqv1alpha1.LabelScheduledBy, "nightly"))

		r = kickq(ns, "run-now", child)
		Expect(r.code).To(Equal(cli.ExitError))
		Expect(r.errOut).To(ContainSubstring("is not a cron template"))
	})
})

var _ = Describe("kubectl kickq pause and resume", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("pauses a queue, holding its jobs Paused, and resumes it", func() {
		create(utiltesting.MakeQueue("q", ns).Obj())
		r := kickq(ns, "pause", "q")
		Expect(r.code).To(Equal(0), r.errOut)
		Expect(r.out).To(Equal("queue.kickq.dev/q paused\n"))
		var q kickqv1alpha1.Queue
		Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "q"}, &q)).To(Succeed())
		Expect(*q.Spec.Paused).To(BeTrue())
		create(utiltesting.MakeQueueJob("j", ns).Queue("q").Pod().Obj())
		Eventually(func() string { return blockedReason(getJob(ns, "j")) }, util.Timeout, util.Interval).Should(Equal(kickqv1alpha1.ReasonPaused))
		Expect(kickq(ns, "position", "j").out).To(ContainSubstring("held by: Paused: "))

		Expect(kickq(ns, "resume", "q", "-o", "yaml").out).To(ContainSubstring("kind: Queue"))
		Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "q"}, &q)).To(Succeed())
		Expect(q.Spec.Paused).To(BeNil())
		waitPod(ns, "j", 1)

		r = kickq(ns, "pause", "nope")
		Expect(r.code).To(Equal(cli.ExitError))
		Expect(r.errOut).To(ContainSubstring("not found"))
	})
})

var _ = Describe("kubectl kickq cancel", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("cancels a running job: its pod is stopped and it ends Failed/Cancelled", func() {
		create(utiltesting.MakeQueueJob("slow", ns).Pod().Obj())
		runPod(ns, "slow", 1)
		expectPhase(ns, "slow", kickqv1alpha1.PhaseRunning)
		r := kickq(ns, "cancel", "slow")
		Expect(r.code).To(Equal(0), r.errOut)
		Expect(r.out).To(Equal("queuejob.kickq.dev/slow cancelled\n"))
		Expect(expectPhase(ns, "slow", kickqv1alpha1.PhaseFailed).Status.Reason).To(Equal(kickqv1alpha1.ReasonCancelled))
		Eventually(func() bool {
			return apierrors.IsNotFound(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "slow-1"}, &corev1.Pod{}))
		}, util.Timeout, util.Interval).Should(BeTrue())
	})

	It("cancels the unfinished jobs of a batch and leaves finished ones", func() {
		runJob(ns, utiltesting.MakeQueueJob("done", ns).Batch("b").Pod().Obj(), time.Second, 0, kickqv1alpha1.PhaseSucceeded)
		create(utiltesting.MakeQueueJob("waiting", ns).Batch("b").Pod().Delay(time.Hour).Obj())
		create(utiltesting.MakeQueueJob("held", ns).Batch("b").Pod().Suspend().Obj())
		expectPhase(ns, "waiting", kickqv1alpha1.PhaseDelayed)
		r := kickq(ns, "cancel", "--batch", "b")
		Expect(r.code).To(Equal(0), r.errOut)
		Expect(r.out).To(Equal("queuejob.kickq.dev/held cancelled\nqueuejob.kickq.dev/waiting cancelled\n"))
		Expect(r.errOut).To(ContainSubstring("queuejob done already finished (Succeeded)"))
		Expect(expectPhase(ns, "waiting", kickqv1alpha1.PhaseFailed).Status.Reason).To(Equal(kickqv1alpha1.ReasonCancelled))
		Expect(expectPhase(ns, "held", kickqv1alpha1.PhaseFailed).Status.Reason).To(Equal(kickqv1alpha1.ReasonCancelled))
		Expect(getJob(ns, "done").Status.Phase).To(Equal(kickqv1alpha1.PhaseSucceeded))
	})
})

var _ = Describe("kubectl kickq position", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("places a waiting job in admission order and names the limit holding it", func() {
		create(utiltesting.MakeQueue("q", ns).Concurrency(1).Obj())
		create(utiltesting.MakeQueueJob("running", ns).Queue("q").Pod().Obj())
		runPod(ns, "running", 1)
		expectPhase(ns, "running", kickqv1alpha1.PhaseRunning)
		create(utiltesting.MakeQueueJob("normal", ns).Queue("q").Type("csv").Pod().Obj())
		env.Clock.Step(time.Second)
		create(utiltesting.MakeQueueJob("urgent", ns).Queue("q").Type("csv").Priority(10).Pod().Obj())
		for _, n := range []string{"normal", "urgent"} {
			Eventually(func() string { return blockedReason(getJob(ns, n)) }, util.Timeout, util.Interval).Should(Equal(kickqv1alpha1.ReasonConcurrencyLimited))
		}
		r := kickq(ns, "position", "normal")
		Expect(r.code).To(Equal(0), r.errOut)
		Expect(r.out).To(Equal("queuejob/normal: position 2 of 2 waiting in queue q (1 of its type ahead)\n" +
			"held by: ConcurrencyLimited: queue concurrency 1 reached (1 running)\n" +
			"queue limits: concurrency 1/1\n"))
		var p cli.Position
		Expect(json.Unmarshal([]byte(kickq(ns, "position", "urgent", "-o", "json").out), &p)).To(Succeed())
		Expect(p.Position).To(Equal(1))
		Expect(p.Waiting).To(BeTrue())

		Expect(kickq(ns, "position", "running").out).To(HavePrefix("queuejob/running: Running, not waiting for admission in queue q (2 waiting)\n"))
	})
})

var _ = Describe("kubectl kickq position and stats with keys", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	keyed := func(name, key string) *kickqv1alpha1.QueueJob {
		j := utiltesting.MakeQueueJob(name, ns).Queue("q").Pod().Obj()
		j.Spec.Key = key
		return j
	}

	It("orders keys in turn, shows the key's limits in use, the active and the busiest keys", func() {
		q := utiltesting.MakeQueue("q", ns).Concurrency(1).Obj()
		q.Spec.KeyLimits = &kickqv1alpha1.KeyLimits{Concurrency: ptr.To[int32](1)}
		create(q)
		create(keyed("a0", "acme"))
		runPod(ns, "a0", 1)
		started := expectPhase(ns, "a0", kickqv1alpha1.PhaseRunning).Status.StartTime.UTC().Format(time.RFC3339)
		for _, n := range []string{"a1", "a2"} {
			env.Clock.Step(time.Second)
			create(keyed(n, "acme"))
		}
		env.Clock.Step(time.Second)
		create(keyed("g1", "globex"))
		for _, n := range []string{"a1", "a2", "g1"} {
			Eventually(func() string { return blockedReason(getJob(ns, n)) }, util.Timeout, util.Interval).ShouldNot(BeEmpty())
		}

		// globex never started a job: its job comes first although it is the newest.
		r := kickq(ns, "position", "g1")
		Expect(r.code).To(Equal(0), r.errOut)
		Expect(r.out).To(HavePrefix("queuejob/g1: position 1 of 3 waiting in queue q (0 of its type, 0 of key globex ahead)\n"))
		Expect(r.out).To(HaveSuffix("key globex: never started a job; key limits: per key: concurrency 0/1\n"))
		var p cli.Position
		Expect(json.Unmarshal([]byte(kickq(ns, "position", "a2", "-o", "json").out), &p)).To(Succeed())
		Expect(p.Position).To(Equal(3))
		Expect(p.KeyAhead).To(Equal(1))
		Expect(p.Key).To(Equal("acme"))
		Expect(p.KeyTurn.UTC().Format(time.RFC3339)).To(Equal(started))
		Expect(p.KeyLimits).To(Equal([]string{"per key: concurrency 1/1"}))

		Eventually(func(g Gomega) {
			var rows []cli.QueueStats
			g.Expect(json.Unmarshal([]byte(kickq(ns, "stats", "q", "-o", "json").out), &rows)).To(Succeed())
			g.Expect(rows).To(HaveLen(1))
			g.Expect(rows[0].Keys).To(Equal(&kickqv1alpha1.QueueKeys{Active: 2, Busiest: []kickqv1alpha1.KeyCount{
				{Key: "acme", Pending: 2, Running: 1}, {Key: "globex", Pending: 1}}}))
			g.Expect(rows[0].Limits).To(Equal([]string{"concurrency 1/1", "per key: concurrency 1"}))
		}, util.Timeout, util.Interval).Should(Succeed())
		r = kickq(ns, "stats", "q", "-o", "wide")
		Expect(r.out).To(MatchRegexp(`(?m)^q .* 2 +concurrency 1/1, per key: concurrency 1 .* acme=2/1,globex=1/0\n$`))
	})
})

//go:build e2e

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

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

// workerProcess is examples/worker running on the host against the real cluster.
type workerProcess struct {
	cmd      *exec.Cmd
	identity string
}

// startWorkerProcess runs the worker binary for namespace ns with identity id, 4 tasks at once.
func startWorkerProcess(bin, ns, id string) *workerProcess {
	GinkgoHelper()
	kubeconfig := os.Getenv("KUBECONFIG")
	if kubeconfig == "" {
		kubeconfig = filepath.Join(util.RepoRoot(), "bin", "cluster", "kubeconfig")
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "KICKQ_NAMESPACE="+ns, "KICKQ_CONCURRENCY=4", "POD_NAME="+id)
	cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
	Expect(cmd.Start()).To(Succeed())
	p := &workerProcess{cmd: cmd, identity: id}
	DeferCleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return p
}

// claimedByPrefix reports who claimed the job's attempt n.
func claimedByPrefix(ns, name string, n int32) string {
	j := getJob(ns, name)
	for _, a := range j.Status.AttemptHistory {
		if a.Number == n {
			return a.Worker
		}
	}
	return ""
}

func attemptOf(j *kickqv1alpha1.QueueJob, n int32) *kickqv1alpha1.AttemptRecord {
	for i := range j.Status.AttemptHistory {
		if j.Status.AttemptHistory[i].Number == n {
			return &j.Status.AttemptHistory[i]
		}
	}
	return nil
}

var _ = Describe("Pull workers on a real node", func() {
	It("run 50 jobs of two types; a SIGKILLed worker's attempts end WorkerLost and succeed on retry", func() {
		ns := newNamespace()
		bin := filepath.Join(GinkgoT().TempDir(), "worker")
		build := exec.Command("go", "build", "-o", bin, "./examples/worker")
		build.Dir, build.Stdout, build.Stderr = util.RepoRoot(), GinkgoWriter, GinkgoWriter
		Expect(build.Run()).To(Succeed())

		w := kickqv1alpha1.HandlerSpec{Worker: &kickqv1alpha1.WorkerTarget{}}
		Expect(k8sClient.Create(ctx, utiltesting.MakeQueue("default", ns).Handler("report", w).Handler("thumbnail", w).
			Defaults(kickqv1alpha1.JobPolicies{Retry: utiltesting.RetryPolicy(2, utiltesting.FixedBackoff(time.Second))}).Obj())).To(Succeed())

		By("worker a claims a slow report (30 pages, 15 s)")
		Expect(k8sClient.Create(ctx, utiltesting.MakeQueueJob("slow", ns).Type("report").
			Data(map[string]any{"month": "2026-11", "pages": 30, "pageMillis": 500}).Obj())).To(Succeed())
		a := startWorkerProcess(bin, ns, "e2e-a")
		Eventually(func() string { return claimedByPrefix(ns, "slow", 1) }, timeout, poll).Should(HavePrefix("e2e-a-"))
		b := startWorkerProcess(bin, ns, "e2e-b")

		By("46 more reports and thumbnails for both workers")
		names := []string{"slow"}
		for i := range 24 {
			n := fmt.Sprintf("report-%02d", i)
			names = append(names, n)
			Expect(k8sClient.Create(ctx, utiltesting.MakeQueueJob(n, ns).Type("report").
				Data(map[string]any{"month": "2026-11", "pages": 3, "pageMillis": 200}).Obj())).To(Succeed())
		}
		for i := range 22 {
			n := fmt.Sprintf("thumb-%02d", i)
			names = append(names, n)
			Expect(k8sClient.Create(ctx, utiltesting.MakeQueueJob(n, ns).Type("thumbnail").
				Data(map[string]any{"image": n + ".png", "size": 64}).Obj())).To(Succeed())
		}

		By("SIGKILL worker a mid-task")
		Consistently(func() string { return claimedByPrefix(ns, "slow", 1) }, 2*time.Second, poll).Should(HavePrefix("e2e-a-"))
		Expect(a.cmd.Process.Signal(syscall.SIGKILL)).To(Succeed())
		killed := time.Now()
		_ = a.cmd.Wait()

		By("the jobs whose handlers Die, ask to RetryAfter and panic (run by worker b alone)")
		Expect(k8sClient.Create(ctx, utiltesting.MakeQueueJob("bad-month", ns).Type("report").Data(map[string]any{"pages": 1}).Obj())).To(Succeed())
		Expect(k8sClient.Create(ctx, utiltesting.MakeQueueJob("throttled", ns).Type("thumbnail").
			Data(map[string]any{"image": "t.png", "size": 32, "throttled": true}).Obj())).To(Succeed())
		Expect(k8sClient.Create(ctx, utiltesting.MakeQueueJob("zero", ns).Type("thumbnail").Retry(0).
			Data(map[string]any{"image": "z.png", "size": 0}).Obj())).To(Succeed())
		names = append(names, "bad-month", "throttled", "zero")
		Expect(names).To(HaveLen(50))
		Eventually(func() string {
			if r := attemptOf(getJob(ns, "slow"), 1); r != nil {
				return r.Reason
			}
			return ""
		}, timeout, poll).Should(Equal(kickqv1alpha1.AttemptReasonWorkerLost))
		lost := time.Since(killed)
		GinkgoWriter.Printf("SIGKILL to WorkerLost: %s\n", lost)
		Expect(lost).To(BeNumerically("<", 20*time.Second), "within the 15 s lease duration (renewed every 5 s), with slack")

		By("every job ends as its handler decided")
		for _, n := range names {
			Eventually(func() bool { return lifecycleDone(getJob(ns, n)) }, 2*timeout, poll).Should(BeTrue(), n)
		}
		var list kickqv1alpha1.QueueJobList
		Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
		lostOnes := 0
		for i := range list.Items {
			j := &list.Items[i]
			switch j.Name {
			case "bad-month":
				Expect(j.Status.Reason).To(Equal(kickqv1alpha1.ReasonDied))
				Expect(j.Status.Attempts).To(Equal(int32(1)))
			case "zero":
				Expect(j.Status.Phase).To(Equal(kickqv1alpha1.PhaseFailed))
				Expect(attemptOf(j, 1).Reason).To(Equal(kickqv1alpha1.AttemptReasonHandlerPanic))
				Expect(attemptOf(j, 1).Message).To(ContainSubstring("integer divide by zero"))
			case "throttled":
				Expect(j.Status.Phase).To(Equal(kickqv1alpha1.PhaseSucceeded))
				Expect(attemptOf(j, 1).Reason).To(Equal(kickqv1alpha1.AttemptReasonRetryAfter))
				Expect(j.Status.FailedAttempts).To(BeZero())
			default:
				Expect(j.Status.Phase).To(Equal(kickqv1alpha1.PhaseSucceeded), j.Name+": "+j.Status.Message)
			}
			for _, rec := range j.Status.AttemptHistory {
				if rec.Reason == kickqv1alpha1.AttemptReasonWorkerLost {
					lostOnes++
					Expect(rec.Worker).To(HavePrefix("e2e-a-"), "only the killed worker's attempts are lost")
				}
			}
		}
		Expect(lostOnes).To(BeNumerically(">=", 1))
		slow := getJob(ns, "slow")
		Expect(slow.Status.Attempts).To(Equal(int32(2)))
		Expect(attemptOf(slow, 2).Worker).To(HavePrefix("e2e-b-"))

		By("SIGTERM stops worker b gracefully: its Lease is deleted")
		Expect(b.cmd.Process.Signal(syscall.SIGTERM)).To(Succeed())
		Expect(b.cmd.Wait()).To(Succeed())
		var leases coordinationv1.LeaseList
		Expect(k8sClient.List(ctx, &leases, client.InNamespace(ns))).To(Succeed())
		for _, l := range leases.Items {
			Expect(l.Name).NotTo(HavePrefix("e2e-b-"))
		}
	})
})

// lifecycleDone reports whether the job is Succeeded or Failed.
func lifecycleDone(j *kickqv1alpha1.QueueJob) bool {
	return j.Status.Phase == kickqv1alpha1.PhaseSucceeded || j.Status.Phase == kickqv1alpha1.PhaseFailed
}

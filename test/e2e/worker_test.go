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
	"runtime"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

// workerImage builds examples/worker into an image of the manager's layout (hack/image -pkg),
// imports it into the node's containerd and returns its reference.
func workerImage() string {
	GinkgoHelper()
	out := filepath.Join(GinkgoT().TempDir(), "kickq-worker.tar")
	build := exec.Command("go", "run", "./hack/image", "-pkg", "./examples/worker", "-ref", "localhost/kickq/worker:e2e",
		"-tag-with-digest", "-platforms", "linux/"+runtime.GOARCH, "-out", out)
	build.Dir, build.Stderr = util.RepoRoot(), GinkgoWriter
	ref, err := build.Output()
	Expect(err).NotTo(HaveOccurred())
	load := exec.Command(filepath.Join(util.RepoRoot(), "hack", "cluster", "load-image.sh"), out)
	load.Stdout, load.Stderr = GinkgoWriter, GinkgoWriter
	Expect(load.Run()).To(Succeed())
	return strings.TrimSpace(string(ref))
}

// startWorkerPod runs the worker image as pod name in ns (4 tasks at once), as the ServiceAccount
// of config/samples/03-worker-rbac.yaml, and waits until it runs. The pod's name is its identity.
func startWorkerPod(ns, name, image string) {
	GinkgoHelper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			ServiceAccountName:            "kickq-worker",
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name: "worker", Image: image, ImagePullPolicy: corev1.PullNever,
				Env: []corev1.EnvVar{{Name: "KICKQ_NAMESPACE", Value: ns}, {Name: "KICKQ_CONCURRENCY", Value: "4"},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}
	Expect(k8sClient.Create(ctx, pod)).To(Succeed())
	Eventually(func() corev1.PodPhase {
		var p corev1.Pod
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), &p); err != nil {
			return ""
		}
		return p.Status.Phase
	}, timeout, poll).Should(Equal(corev1.PodRunning), "worker pod %s runs", name)
}

// applyWorkerRBAC applies config/samples/03-worker-rbac.yaml (the worker's least-privilege Role)
// in ns.
func applyWorkerRBAC(ns string) {
	GinkgoHelper()
	kubeconfig := os.Getenv("KUBECONFIG")
	if kubeconfig == "" {
		kubeconfig = filepath.Join(util.RepoRoot(), "bin", "cluster", "kubeconfig")
	}
	cmd := exec.Command("kubectl", "apply", "-n", ns, "-f", filepath.Join(util.RepoRoot(), "config", "samples", "03-worker-rbac.yaml"))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))
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
	It("run as pods, 50 jobs of two types; a worker pod force-deleted mid-task has its attempts end WorkerLost, and they succeed on retry", func() {
		ns := newNamespace()
		image := workerImage()
		applyWorkerRBAC(ns)

		w := kickqv1alpha1.HandlerSpec{Worker: &kickqv1alpha1.WorkerTarget{}}
		Expect(k8sClient.Create(ctx, utiltesting.MakeQueue("default", ns).Handler("report", w).Handler("thumbnail", w).
			Defaults(kickqv1alpha1.JobPolicies{Retry: utiltesting.RetryPolicy(2, utiltesting.FixedBackoff(time.Second))}).Obj())).To(Succeed())

		By("worker pod a claims a slow report (30 pages, 15 s)")
		Expect(k8sClient.Create(ctx, utiltesting.MakeQueueJob("slow", ns).Type("report").
			Data(map[string]any{"month": "2026-11", "pages": 30, "pageMillis": 500}).Obj())).To(Succeed())
		startWorkerPod(ns, "worker-a", image)
		Eventually(func() string { return claimedByPrefix(ns, "slow", 1) }, timeout, poll).Should(HavePrefix("worker-a-"))
		startWorkerPod(ns, "worker-b", image)

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

		By("worker pod a is deleted mid-task with --grace-period=0 --force")
		Consistently(func() string { return claimedByPrefix(ns, "slow", 1) }, 2*time.Second, poll).Should(HavePrefix("worker-a-"))
		Expect(clientset.CoreV1().Pods(ns).Delete(ctx, "worker-a", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})).To(Succeed())
		killed := time.Now()

		Eventually(func() string {
			if r := attemptOf(getJob(ns, "slow"), 1); r != nil {
				return r.Reason
			}
			return ""
		}, timeout, poll).Should(Equal(kickqv1alpha1.AttemptReasonWorkerLost))
		lost := time.Since(killed)
		GinkgoWriter.Printf("worker pod deleted (grace 0, force) to WorkerLost: %s\n", lost)
		Expect(lost).To(BeNumerically("<", 20*time.Second), "within the 15 s lease duration (renewed every 5 s), with slack")

		By("the jobs whose handlers Die, ask to RetryAfter and panic (run by worker b alone)")
		// Only now: a force-deleted pod's process runs on until the kubelet kills it, and worker a
		// could still claim one of them (a Retry(0) job would then end WorkerLost). WorkerLost on
		// "slow" says worker a stopped renewing its Lease: it is gone.
		Expect(k8sClient.Create(ctx, utiltesting.MakeQueueJob("bad-month", ns).Type("report").Data(map[string]any{"pages": 1}).Obj())).To(Succeed())
		Expect(k8sClient.Create(ctx, utiltesting.MakeQueueJob("throttled", ns).Type("thumbnail").
			Data(map[string]any{"image": "t.png", "size": 32, "throttled": true}).Obj())).To(Succeed())
		Expect(k8sClient.Create(ctx, utiltesting.MakeQueueJob("zero", ns).Type("thumbnail").Retry(0).
			Data(map[string]any{"image": "z.png", "size": 0}).Obj())).To(Succeed())
		names = append(names, "bad-month", "throttled", "zero")
		Expect(names).To(HaveLen(50))

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
					Expect(rec.Worker).To(HavePrefix("worker-a-"), "only the killed worker's attempts are lost")
				}
			}
		}
		Expect(lostOnes).To(BeNumerically(">=", 1))
		slow := getJob(ns, "slow")
		Expect(slow.Status.Attempts).To(Equal(int32(2)))
		Expect(attemptOf(slow, 2).Worker).To(HavePrefix("worker-b-"))

		By("deleting worker pod b stops it gracefully (SIGTERM): its Lease is deleted")
		Expect(clientset.CoreV1().Pods(ns).Delete(ctx, "worker-b", metav1.DeleteOptions{})).To(Succeed())
		Eventually(func() []string {
			var leases coordinationv1.LeaseList
			Expect(k8sClient.List(ctx, &leases, client.InNamespace(ns))).To(Succeed())
			var names []string
			for _, l := range leases.Items {
				if strings.HasPrefix(l.Name, "worker-b-") {
					names = append(names, l.Name)
				}
			}
			return names
		}, timeout, poll).Should(BeEmpty())
	})
})

// lifecycleDone reports whether the job is Succeeded or Failed.
func lifecycleDone(j *kickqv1alpha1.QueueJob) bool {
	return j.Status.Phase == kickqv1alpha1.PhaseSucceeded || j.Status.Phase == kickqv1alpha1.PhaseFailed
}

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
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
)

// The kubectl plugin on the real cluster: each verb runs as `kubectl kickq …`, the plugin built
// from cmd/kubectl-kickq and found on the PATH by kubectl, against real pods and their logs.

// pluginDir holds the kubectl-kickq built for this run.
var pluginDir string

// kubectlKickq runs `kubectl kickq ARGS -n ns` and returns its stdout, stderr and exit code.
func kubectlKickq(ns string, args ...string) (string, string, int) {
	GinkgoHelper()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"kickq"}, append(args, "-n", ns)...)...)
	kubeconfig := os.Getenv("KUBECONFIG")
	if kubeconfig == "" {
		kubeconfig = filepath.Join(util.RepoRoot(), "bin", "cluster", "kubeconfig")
	}
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "PATH="+pluginDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else {
		Expect(err).NotTo(HaveOccurred())
	}
	GinkgoWriter.Printf("$ kubectl kickq %s\n%s%s(exit %d)\n", strings.Join(args, " "), out.String(), errOut.String(), code)
	return out.String(), errOut.String(), code
}

var _ = Describe("kubectl kickq on a real node", Ordered, func() {
	var ns string

	BeforeAll(func() {
		pluginDir = GinkgoT().TempDir()
		build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(pluginDir, "kubectl-kickq"), "./cmd/kubectl-kickq")
		build.Dir = util.RepoRoot()
		out, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
	})
	BeforeEach(func() { ns = newNamespace() })

	It("waits for a job (exit 0), prints its container log, and shows the queue's stats", func() {
		q := &kickqv1alpha1.Queue{}
		q.Name, q.Namespace, q.Spec.Concurrency = "q", ns, ptr.To[int32](1)
		Expect(k8sClient.Create(ctx, q)).To(Succeed())
		j := podJob(ns, "hello", `echo "hello from the container"; echo '{"greeted": true}' > /dev/termination-log`)
		j.Spec.QueueName = "q"
		Expect(k8sClient.Create(ctx, j)).To(Succeed())

		out, _, code := kubectlKickq(ns, "wait", "hello", "--timeout", "60s")
		Expect(code).To(Equal(0))
		Expect(out).To(HavePrefix("queuejob/hello Succeeded (Completed) after 1 attempt"))
		Expect(out).To(ContainSubstring(`result: {"greeted":true}`))

		out, _, code = kubectlKickq(ns, "logs", "hello")
		Expect(code).To(Equal(0))
		Expect(out).To(ContainSubstring("--- attempt 1: pod hello-1, container main\nhello from the container\n"))

		Eventually(func() []string {
			out, _, _ := kubectlKickq(ns, "stats", "q")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 {
				return nil
			}
			return strings.Fields(lines[1])[:7]
		}, timeout, time.Second).Should(HaveExactElements("q", "0", "0", "0", "0", "1", "0"))
	})

	It("exits 1 waiting for a job that Failed, and retries it as <job>-retry-1", func() {
		j := podJob(ns, "broken", "echo broken; exit 3")
		j.Labels = map[string]string{"run": "cli-e2e"} // a retry keeps its user labels
		j.Spec.Retry = &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](0)}
		Expect(k8sClient.Create(ctx, j)).To(Succeed())
		out, _, code := kubectlKickq(ns, "wait", "broken", "--timeout", "60s")
		Expect(code).To(Equal(1))
		Expect(out).To(HavePrefix("queuejob/broken Failed (RetriesExhausted)"))

		out, _, code = kubectlKickq(ns, "retry", "broken")
		Expect(code).To(Equal(0))
		Expect(out).To(Equal("queuejob.kickq.dev/broken-retry-1 created\n"))
		_, _, code = kubectlKickq(ns, "wait", "broken-retry-1", "--timeout", "60s")
		Expect(code).To(Equal(1))
		// broken has a retry already; broken-retry-1 has none yet.
		out, _, _ = kubectlKickq(ns, "retry", "--selector", "run=cli-e2e")
		Expect(out).To(Equal("queuejob.kickq.dev/broken-retry-2 created\n"))
	})

	It("fires a cron template now; the child runs", func() {
		j := podJob(ns, "nightly", "echo nightly")
		j.Spec.Cron = &kickqv1alpha1.CronSpec{Schedule: "0 3 * * *"}
		Expect(k8sClient.Create(ctx, j)).To(Succeed())
		waitPhase(ns, "nightly", kickqv1alpha1.PhaseScheduled)
		out, _, code := kubectlKickq(ns, "run-now", "nightly", "-o", "name")
		Expect(code).To(Equal(0))
		child := strings.TrimPrefix(strings.TrimSpace(out), "queuejob.kickq.dev/")
		Expect(child).To(HavePrefix("nightly-"))
		_, _, code = kubectlKickq(ns, "wait", child, "--timeout", "60s")
		Expect(code).To(Equal(0))
	})

	It("pauses a queue (position names the limit), resumes it, and cancels a running job", func() {
		q := &kickqv1alpha1.Queue{}
		q.Name, q.Namespace = "q", ns
		Expect(k8sClient.Create(ctx, q)).To(Succeed())
		out, _, code := kubectlKickq(ns, "pause", "q")
		Expect(code).To(Equal(0))
		Expect(out).To(Equal("queue.kickq.dev/q paused\n"))
		j := podJob(ns, "later", "echo later")
		j.Spec.QueueName = "q"
		Expect(k8sClient.Create(ctx, j)).To(Succeed())
		Eventually(func() string {
			out, _, _ := kubectlKickq(ns, "position", "later")
			return out
		}, timeout, time.Second).Should(ContainSubstring("held by: Paused: queue q is paused"))
		_, _, code = kubectlKickq(ns, "resume", "q")
		Expect(code).To(Equal(0))
		_, _, code = kubectlKickq(ns, "wait", "later", "--timeout", "60s")
		Expect(code).To(Equal(0))

		for i := range 2 {
			s := podJob(ns, fmt.Sprintf("sleeper-%d", i), "sleep 600")
			s.Spec.Batch = "sleepers"
			Expect(k8sClient.Create(ctx, s)).To(Succeed())
			waitPhase(ns, s.Name, kickqv1alpha1.PhaseRunning)
		}
		out, _, code = kubectlKickq(ns, "cancel", "sleeper-0")
		Expect(code).To(Equal(0))
		Expect(out).To(Equal("queuejob.kickq.dev/sleeper-0 cancelled\n"))
		out, _, code = kubectlKickq(ns, "wait", "sleeper-0", "--timeout", "60s")
		Expect(code).To(Equal(1))
		Expect(out).To(HavePrefix("queuejob/sleeper-0 Failed (Cancelled)"))
		out, _, _ = kubectlKickq(ns, "cancel", "--batch", "sleepers")
		Expect(out).To(Equal("queuejob.kickq.dev/sleeper-1 cancelled\n"))
		_, _, code = kubectlKickq(ns, "wait", "sleeper-1", "--timeout", "60s")
		Expect(code).To(Equal(1))
	})
})

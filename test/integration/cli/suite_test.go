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

// Package cli tests kubectl-kickq's commands (internal/cli) against a real API server with the
// manager in-process on the suite's fake clock. Each command runs as a user runs it: from its
// arguments, with --kubeconfig and -n, printing to its streams and ending with its exit code.
// No kubelet runs: specs play it by writing pod status, and pod logs come from a fake source.
package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/cli"
	"kickq.dev/kickq/test/util"
	"kickq.dev/kickq/test/util/suite"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

var (
	env = suite.New(suite.Options{Name: "cli", FakeClock: true, Setup: func() { setup() }, Manager: &suite.ManagerOptions{}})
	// setup is writeKubeconfig, set in init: writeKubeconfig reads env.
	setup      func()
	kubeconfig string
)

func init() { setup = writeKubeconfig }

func TestCLI(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kubectl kickq suite")
}

// writeKubeconfig writes an admin kubeconfig for the commands' --kubeconfig.
func writeKubeconfig() {
	u, err := env.TestEnv.AddUser(envtest.User{Name: "kickq-cli", Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	b, err := u.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	dir, err := os.MkdirTemp("", "kickq-cli-")
	Expect(err).NotTo(HaveOccurred())
	kubeconfig = filepath.Join(dir, "kubeconfig")
	Expect(os.WriteFile(kubeconfig, b, 0o600)).To(Succeed())
	DeferCleanup(os.RemoveAll, dir)
}

// result is what one command printed and how it ended.
type result struct {
	out, errOut string
	code        int
}

// fakeLogs serves "log of POD/CONTAINER" for any pod: envtest has no kubelet to ask.
func fakeLogs(_ context.Context, _, pod, container string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(fmt.Sprintf("log of %s/%s\n", pod, container))), nil
}

// kickq runs `kubectl kickq ARGS --kubeconfig … -n ns` on the suite's clock.
func kickq(ns string, args ...string) result {
	return kickqCtx(env.Ctx, ns, args...)
}

func kickqCtx(ctx context.Context, ns string, args ...string) result {
	var out, errOut syncBuffer
	o := cli.NewOptions(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	o.Clock, o.Logs = env.Clock, fakeLogs
	cmd := cli.NewCommand(o)
	cmd.SetArgs(append(args, "--kubeconfig", kubeconfig, "-n", ns))
	err := cmd.ExecuteContext(ctx)
	if err != nil && !cli.Silent(err) {
		fmt.Fprintln(&errOut, "error:", err)
	}
	r := result{out: out.String(), errOut: errOut.String(), code: cli.ExitCode(err)}
	GinkgoWriter.Printf("$ kubectl kickq %s\n%s%s(exit %d)\n", strings.Join(args, " "), r.out, r.errOut, r.code)
	return r
}

// kickqAsync starts a command and returns where its result will be.
func kickqAsync(ns string, args ...string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		defer GinkgoRecover()
		ch <- kickq(ns, args...)
	}()
	return ch
}

// syncBuffer is a bytes.Buffer safe for a command writing while the spec reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func create(o client.Object) {
	GinkgoHelper()
	Expect(env.Client.Create(env.Ctx, o)).To(Succeed())
}

func getJob(ns, name string) *kickqv1alpha1.QueueJob {
	GinkgoHelper()
	var j kickqv1alpha1.QueueJob
	Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j)).To(Succeed())
	return &j
}

func expectPhase(ns, name string, p kickqv1alpha1.QueueJobPhase) *kickqv1alpha1.QueueJob {
	GinkgoHelper()
	Eventually(func() kickqv1alpha1.QueueJobPhase {
		var j kickqv1alpha1.QueueJob
		if env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j) != nil {
			return ""
		}
		return j.Status.Phase
	}, util.Timeout, util.Interval).Should(Equal(p))
	return getJob(ns, name)
}

// waitPod waits for the pod of a job's attempt.
func waitPod(ns, job string, attempt int) *corev1.Pod {
	GinkgoHelper()
	var pod corev1.Pod
	Eventually(func() error {
		return env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("%s-%d", job, attempt)}, &pod)
	}, util.Timeout, util.Interval).Should(Succeed())
	return &pod
}

// runPod plays the kubelet: the attempt's pod runs.
func runPod(ns, job string, attempt int) {
	GinkgoHelper()
	p := utiltesting.WrapPod(waitPod(ns, job, attempt)).Running(env.Clock.Now()).Obj()
	Expect(env.Client.Status().Update(env.Ctx, p)).To(Succeed())
}

// finishPod plays the kubelet: the attempt's pod exits with code and a termination message.
func finishPod(ns, job string, attempt int, code int32, message string) {
	GinkgoHelper()
	p := utiltesting.WrapPod(waitPod(ns, job, attempt)).Exited(code, message).Obj()
	Expect(env.Client.Status().Update(env.Ctx, p)).To(Succeed())
}

// runJob creates a pod job and ends its first attempt with code, after it ran for d on the clock.
func runJob(ns string, job *kickqv1alpha1.QueueJob, d time.Duration, code int32, phase kickqv1alpha1.QueueJobPhase) *kickqv1alpha1.QueueJob {
	GinkgoHelper()
	create(job)
	runPod(ns, job.Name, 1)
	env.Clock.Step(d)
	finishPod(ns, job.Name, 1, code, "")
	return expectPhase(ns, job.Name, phase)
}

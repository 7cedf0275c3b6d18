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
	"io"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

var _ = Describe("Pod jobs on a real node", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("succeeds with the JSON termination message as result", func() {
		Expect(k8sClient.Create(ctx, podJob(ns, "ok", `echo '{"pages": 10}' > /dev/termination-log; exit 0`))).To(Succeed())
		j := waitPhase(ns, "ok", kickqv1alpha1.PhaseSucceeded)
		Expect(string(j.Status.Result.Raw)).To(MatchJSON(`{"pages": 10}`))
		Expect(*j.Status.AttemptHistory[0].ExitCode).To(BeZero())
	})

	It("dies after one attempt on exit 3 with a Die rule, and its logs are reachable", func() {
		j := podJob(ns, "die", `echo "about to fail"; exit 3`)
		j.Spec.Retry = &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](5), Rules: []kickqv1alpha1.RetryRule{{Action: kickqv1alpha1.RetryActionDie,
			OnExitCodes: &kickqv1alpha1.ExitCodesMatcher{Operator: kickqv1alpha1.ExitCodeOperatorIn, Values: []int32{3}}}}}
		Expect(k8sClient.Create(ctx, j)).To(Succeed())
		j = waitPhase(ns, "die", kickqv1alpha1.PhaseFailed)
		Expect(j.Status.Reason).To(Equal(kickqv1alpha1.ReasonDied))
		Expect(j.Status.Attempts).To(Equal(int32(1)))
		Expect(*j.Status.AttemptHistory[0].ExitCode).To(Equal(int32(3)))
		// What kubectl logs reads: the kubelet's log of the failed attempt's container.
		rc, err := clientset.CoreV1().Pods(ns).GetLogs("die-1", &corev1.PodLogOptions{}).Stream(ctx)
		Expect(err).NotTo(HaveOccurred())
		b, _ := io.ReadAll(rc)
		_ = rc.Close()
		Expect(string(b)).To(ContainSubstring("about to fail"))
	})

	It("reports progress and its outcome with the token the kubelet projects into $KICKQ_TOKEN_FILE", func() {
		// The token is read for each report: the kubelet replaces it before it expires.
		script := `post() { wget -q -O- --header "Authorization: Bearer $(cat "$KICKQ_TOKEN_FILE")" ` +
			`--header "Content-Type: application/json" --post-data "$1" "$KICKQ_REPORT_URL"; }; ` +
			`[ -z "$KICKQ_TOKEN" ] && grep -q . "$KICKQ_TOKEN_FILE" && ` +
			`post '{"progress":{"percent":50,"message":"half"}}' && post '{"outcome":"Succeed","result":{"from":"token file"}}'`
		Expect(k8sClient.Create(ctx, podJob(ns, "reporter", script))).To(Succeed())
		j := waitPhase(ns, "reporter", kickqv1alpha1.PhaseSucceeded)
		Expect(string(j.Status.Result.Raw)).To(MatchJSON(`{"from":"token file"}`))
		Expect(j.Status.Progress).To(Equal(&kickqv1alpha1.Progress{Percent: 50, Message: "half"}))
		Expect(j.Status.AttemptHistory[0].Reason).To(Equal(kickqv1alpha1.AttemptReasonReported))
	})

	It("retries exit 1 twice and succeeds on attempt 3", func() {
		j := podJob(ns, "third", `echo "attempt $KICKQ_ATTEMPT"; [ "$KICKQ_ATTEMPT" -ge 3 ] || exit 1`)
		j.Spec.Retry = &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](3),
			Backoff: &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffFixed, BaseSeconds: ptr.To[int32](1)}}
		Expect(k8sClient.Create(ctx, j)).To(Succeed())
		j = waitPhase(ns, "third", kickqv1alpha1.PhaseSucceeded)
		Expect(j.Status.Attempts).To(Equal(int32(3)))
		Expect(j.Status.FailedAttempts).To(Equal(int32(2)))
	})

	It("fails a sleeping attempt at attemptDeadlineSeconds", func() {
		j := podJob(ns, "sleepy", `sleep 300`)
		j.Spec.AttemptDeadlineSeconds = ptr.To[int32](3)
		j.Spec.Retry = &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](0)}
		Expect(k8sClient.Create(ctx, j)).To(Succeed())
		j = waitPhase(ns, "sleepy", kickqv1alpha1.PhaseFailed)
		Expect(j.Status.Reason).To(Equal(kickqv1alpha1.ReasonRetriesExhausted))
		a := j.Status.AttemptHistory[0]
		Expect(a.FinishTime.Sub(a.StartTime.Time)).To(BeNumerically("<", 30*time.Second))
		Expect(a.Reason).To(Or(Equal("AttemptDeadlineExceeded"), Equal("DeadlineExceeded")))
	})

	It("fails an attempt whose image is not on the node by pod.startDeadlineSeconds", func() {
		j := podJob(ns, "noimage", `true`)
		j.Spec.Pod.Template.Spec.Containers[0].Image = "localhost/not-here:never"
		j.Spec.Pod.StartDeadlineSeconds = ptr.To[int32](5)
		j.Spec.Retry = &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](0)}
		Expect(k8sClient.Create(ctx, j)).To(Succeed())
		j = waitPhase(ns, "noimage", kickqv1alpha1.PhaseFailed)
		Expect(j.Status.AttemptHistory[0].Message).To(ContainSubstring("startDeadlineSeconds"))
	})

	It("never runs more than 2 pods of a queue with concurrency 2", func() {
		Expect(k8sClient.Create(ctx, &kickqv1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "two", Namespace: ns},
			Spec: kickqv1alpha1.QueueSpec{Concurrency: ptr.To[int32](2)}})).To(Succeed())
		for i := range 10 {
			j := podJob(ns, fmt.Sprintf("c-%d", i), `sleep 1`)
			j.Spec.QueueName = "two"
			Expect(k8sClient.Create(ctx, j)).To(Succeed())
		}
		var most atomic.Int32
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			for {
				select {
				case <-done:
					return
				case <-time.After(50 * time.Millisecond):
				}
				pods, err := clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kickqv1alpha1.LabelQueue + "=two"})
				if err != nil {
					continue
				}
				n := int32(0)
				for _, p := range pods.Items {
					if p.Status.Phase == corev1.PodRunning || (p.Status.Phase == corev1.PodPending && p.DeletionTimestamp == nil) {
						n++
					}
				}
				if n > most.Load() {
					most.Store(n)
				}
			}
		}()
		Eventually(func() int {
			var l kickqv1alpha1.QueueJobList
			Expect(k8sClient.List(ctx, &l, client.InNamespace(ns))).To(Succeed())
			n := 0
			for _, j := range l.Items {
				if j.Status.Phase == kickqv1alpha1.PhaseSucceeded {
					n++
				}
			}
			return n
		}, 3*timeout, poll).Should(Equal(10))
		close(done)
		Expect(most.Load()).To(BeNumerically("<=", 2))
		Expect(most.Load()).To(Equal(int32(2)), "the queue ran at its limit")
		AddReportEntry("most kickq pods of the queue seen at once", most.Load())
	})

	It("runs a webhook job whose receiver, a pod, reports progress and its outcome through the bridge", func() {
		cgi := strings.Join([]string{
			`#!/bin/sh`,
			`body=$(head -c "$CONTENT_LENGTH")`,
			`tok=$(echo "$body" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')`,
			`url=$(echo "$body" | sed -n 's/.*"reportURL":"\([^"]*\)".*/\1/p')`,
			`post() { wget -q -O- --header "Authorization: Bearer $tok" --header "Content-Type: application/json" --post-data "$1" "$url"; }`,
			`(sleep 1; post '{"progress":{"percent":50,"message":"half"},"log":"from the receiver pod"}'; sleep 2; post '{"outcome":"Succeed","result":{"from":"pod"}}') >/tmp/report.log 2>&1 &`,
			`printf 'Status: 202 Accepted\r\nContent-Type: text/plain\r\n\r\naccepted\n'`,
		}, "\n")
		script := "mkdir -p /www/cgi-bin && cat > /www/cgi-bin/hook <<'EOS'\n" + cgi + "\nEOS\nchmod +x /www/cgi-bin/hook && exec httpd -f -p 8080 -h /www"
		recv := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "receiver", Namespace: ns}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers:                    []corev1.Container{{Name: "httpd", Image: image, ImagePullPolicy: corev1.PullNever, Command: []string{"sh", "-c", script}}}}}
		Expect(k8sClient.Create(ctx, recv)).To(Succeed())
		Eventually(func() string {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(recv), recv)).To(Succeed())
			if recv.Status.Phase != corev1.PodRunning {
				return ""
			}
			return recv.Status.PodIP
		}, timeout, poll).ShouldNot(BeEmpty())
		job := &kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns},
			Spec: kickqv1alpha1.QueueJobSpec{Data: nil, Webhook: &kickqv1alpha1.WebhookTarget{URL: "http://" + recv.Status.PodIP + ":8080/cgi-bin/hook"}}}
		Expect(k8sClient.Create(ctx, job)).To(Succeed())
		j := waitPhase(ns, "hook", kickqv1alpha1.PhaseSucceeded)
		Expect(string(j.Status.Result.Raw)).To(Equal(`{"from":"pod"}`))
		Expect(j.Status.Progress).To(Equal(&kickqv1alpha1.Progress{Percent: 50, Message: "half"}))
		Expect(*j.Status.AttemptHistory[0].HTTPStatusCode).To(Equal(int32(202)))
		Expect(j.Status.Logs).To(ContainElement(HaveField("Message", "from the receiver pod")))
	})
})

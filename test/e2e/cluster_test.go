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
	"os"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// What an installation with config/default gives, checked on the in-cluster manager.
var _ = Describe("The manager deployed into the node with config/default", func() {
	BeforeEach(func() {
		if !inCluster {
			Skip("checks the in-cluster manager (KICKQ_E2E_MANAGER=cluster)")
		}
	})

	It("runs the image just built as its own service account under the restricted Pod Security profile", func() {
		var ns corev1.Namespace
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: managerNamespace}, &ns)).To(Succeed())
		Expect(ns.Labels).To(HaveKeyWithValue("pod-security.kubernetes.io/enforce", "restricted"))
		pods := managerPods()
		Expect(pods).NotTo(BeEmpty())
		for _, p := range pods {
			Expect(p.Spec.ServiceAccountName).To(Equal("kickq-manager"))
			Expect(p.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem).To(Equal(ptr.To(true)))
			if img := os.Getenv("KICKQ_E2E_IMAGE"); img != "" {
				Expect(p.Spec.Containers[0].Image).To(Equal(img))
			}
			Expect(p.Status.ContainerStatuses).To(ContainElement(HaveField("Ready", true)))
			// The image runs as 65532 without the pod naming a user for the container.
			Expect(p.Spec.Containers[0].SecurityContext.RunAsUser).To(BeNil())
		}
		if s := os.Getenv("KICKQ_E2E_READY_SECONDS"); s != "" {
			AddReportEntry("seconds from make e2e start to the manager Ready", s)
		}
	})

	It("holds the leader election Lease in kickq-system", func() {
		pods := managerPods()
		Eventually(func(g Gomega) {
			var l coordinationv1.Lease
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: managerNamespace, Name: "kickq-manager.kickq.dev"}, &l)).To(Succeed())
			g.Expect(l.Spec.HolderIdentity).NotTo(BeNil())
			holder := *l.Spec.HolderIdentity
			g.Expect(pods).To(ContainElement(WithTransform(func(p corev1.Pod) bool { return strings.HasPrefix(holder, p.Name+"_") }, BeTrue())),
				"the Lease's holder %s is a manager pod", holder)
		}, timeout, poll).Should(Succeed())
	})

	It("created the report token Secret itself, nothing in config/default names it", func() {
		var s corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: managerNamespace, Name: "kickq-report-token"}, &s)).To(Succeed())
		Expect(len(s.Data["key"])).To(BeNumerically(">=", 16))
		Expect(s.ManagedFields).NotTo(BeEmpty())
		Expect(s.ManagedFields[0].Manager).To(Equal("manager"), "created by the manager binary, not by kubectl")
	})

	It("lets pods resolve Service names through cluster DNS and reach the API server through the kubernetes Service", func() {
		ns := newNamespace()
		var report, api corev1.Service
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: managerNamespace, Name: "kickq-report"}, &report)).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "default", Name: "kubernetes"}, &api)).To(Succeed())
		out := podOutput(ns, "dns", `busybox nslookup kickq-report.kickq-system.svc.cluster.local && busybox nslookup kubernetes.default.svc.cluster.local`)
		Expect(out).To(ContainSubstring(report.Spec.ClusterIP))
		Expect(out).To(ContainSubstring(api.Spec.ClusterIP))
		// The API server answers on the kubernetes Service's address (401/403 without a token is
		// an answer: the connection was made through kube-proxy's rules).
		out = podOutput(ns, "api", `busybox nc -w 5 kubernetes.default.svc 443 </dev/null && echo connected`)
		Expect(out).To(ContainSubstring("connected"))
	})

	It("receives a pod job's progress and outcome at kickq-report.kickq-system.svc", func() {
		ns := newNamespace()
		j := podJob(ns, "reporter", strings.Join([]string{
			`post() { wget -q -O- --header "Authorization: Bearer $(cat "$KICKQ_TOKEN_FILE")" --header "Content-Type: application/json" --post-data "$1" "$KICKQ_REPORT_URL"; }`,
			`post '{"progress":{"percent":30,"message":"a third"},"log":"from a pod through the Service"}'`,
			`post '{"outcome":"Succeed","result":{"via":"kickq-report"}}'`,
			`sleep 30`,
		}, "\n"))
		Expect(k8sClient.Create(ctx, j)).To(Succeed())
		j = waitPhase(ns, "reporter", kickqv1alpha1.PhaseSucceeded)
		Expect(j.Status.Result).NotTo(BeNil(), "the reported result (attempt: %+v)", j.Status.AttemptHistory)
		Expect(j.Status.Result.Raw).To(MatchJSON(`{"via":"kickq-report"}`))
		Expect(j.Status.Logs).To(ContainElement(HaveField("Message", "from a pod through the Service")))
		Expect(j.Status.Progress).To(Equal(&kickqv1alpha1.Progress{Percent: 30, Message: "a third"}))
		var pod corev1.Pod
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "reporter-1"}, &pod)).To(Succeed())
		Expect(pod.Spec.Containers[0].Env).To(ContainElement(And(HaveField("Name", "KICKQ_REPORT_URL"),
			HaveField("Value", HavePrefix("http://kickq-report.kickq-system.svc:8082/")))))
	})
})

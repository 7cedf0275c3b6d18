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

package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/report"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

// envtest runs no kubelet: these specs play it, minting the pod-bound token a kubelet projects
// into the pod's kickq-token volume with the TokenRequest API (serviceaccounts/token, bound to the
// pod, audience kickq.dev). The API server signs it with envtest's service-account key, and the
// manager's report API checks it with a TokenReview.

const runner = "runner" // the service account of the specs' pods

var _ = Describe("Pod attempts' report tokens", func() {
	var ns string
	BeforeEach(func() {
		ns = env.NewNamespace()
		// envtest runs no service account controller either.
		Expect(env.Client.Create(env.Ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: runner, Namespace: ns}})).To(Succeed())
	})

	podJob := func(namespace, name string) *utiltesting.QueueJobWrapper {
		t := utiltesting.PodTemplate("")
		t.Spec.ServiceAccountName = runner
		return utiltesting.MakeQueueJob(name, namespace).PodTemplate(t)
	}
	waitPod := func(namespace, name string) *corev1.Pod {
		GinkgoHelper()
		pod := &corev1.Pod{}
		Eventually(func() error { return env.Client.Get(env.Ctx, client.ObjectKey{Namespace: namespace, Name: name}, pod) }, timeout, interval).Should(Succeed())
		return pod
	}
	// mint is what the kubelet does for the pod's kickq-token volume.
	mint := func(pod *corev1.Pod, audience string) string {
		GinkgoHelper()
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: pod.Spec.ServiceAccountName, Namespace: pod.Namespace}}
		tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			Audiences: []string{audience}, ExpirationSeconds: ptr.To[int64](report.TokenExpirationSeconds),
			BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}}}
		Expect(env.Client.SubResource("token").Create(env.Ctx, sa, tr)).To(Succeed())
		return tr.Status.Token
	}
	progress := func(name string) *kickqv1alpha1.Progress { return getJob(ns, name).Status.Progress }

	It("gives pods KICKQ_REPORT_URL and KICKQ_TOKEN_FILE, and accepts the pod's token for its job and attempt", func() {
		Expect(env.Client.Create(env.Ctx, podJob(ns, "podjob").Obj())).To(Succeed())
		pod := waitPod(ns, "podjob-1")
		vars := map[string]string{}
		for _, e := range pod.Spec.Containers[0].Env {
			vars[e.Name] = e.Value
		}
		Expect(vars).To(HaveKeyWithValue("KICKQ_REPORT_URL", env.Manager().Controllers.Endpoint.URL(ns, "podjob")))
		Expect(vars).To(HaveKeyWithValue("KICKQ_TOKEN_FILE", "/var/run/secrets/kickq.dev/token"))
		Expect(vars).NotTo(HaveKey("KICKQ_TOKEN"))
		Expect(pod.Spec.Volumes).To(ContainElement(corev1.Volume{Name: "kickq-token", VolumeSource: corev1.VolumeSource{
			Projected: &corev1.ProjectedVolumeSource{DefaultMode: ptr.To[int32](0o644), Sources: []corev1.VolumeProjection{{
				ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: "kickq.dev", ExpirationSeconds: ptr.To[int64](600), Path: "token"}}}}}}))
		Expect(pod.Spec.Containers[0].VolumeMounts).To(ContainElement(corev1.VolumeMount{Name: "kickq-token", MountPath: "/var/run/secrets/kickq.dev", ReadOnly: true}))

		tok := mint(pod, "kickq.dev")
		code, body := postReport(ns, "podjob", tok, `{"progress":{"percent":75,"message":"3/4"}}`)
		Expect(code).To(Equal(http.StatusAccepted), body)
		Eventually(func() *kickqv1alpha1.Progress { return progress("podjob") }, timeout, interval).Should(Equal(&kickqv1alpha1.Progress{Percent: 75, Message: "3/4"}))

		// The token is no credential for the API server: its audience is kickq's.
		asPod := &rest.Config{Host: env.Config.Host, BearerToken: tok, TLSClientConfig: rest.TLSClientConfig{CAData: env.Config.CAData}}
		c, err := client.New(asPod, client.Options{Scheme: env.Scheme})
		Expect(err).NotTo(HaveOccurred())
		err = c.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: pod.Name}, &corev1.Pod{})
		Expect(apierrors.IsUnauthorized(err)).To(BeTrue(), "the API server answered %v", err)
	})

	It("refuses the token for another job, another namespace, another audience, and an earlier or later attempt", func() {
		job := podJob(ns, "a").Retry(2, utiltesting.FixedBackoff(time.Second)).Obj()
		Expect(env.Client.Create(env.Ctx, job)).To(Succeed())
		Expect(env.Client.Create(env.Ctx, podJob(ns, "b").Obj())).To(Succeed())
		pod1, podB := waitPod(ns, "a-1"), waitPod(ns, "b-1")
		tok1 := mint(pod1, "kickq.dev")

		By("another job's pod token")
		code, body := postReport(ns, "a", mint(podB, "kickq.dev"), `{"progress":{"percent":1}}`)
		Expect(code).To(Equal(http.StatusUnauthorized), body)

		By("the token of another namespace's pod of the same job name")
		other := env.NewNamespace()
		Expect(env.Client.Create(env.Ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: runner, Namespace: other}})).To(Succeed())
		Expect(env.Client.Create(env.Ctx, podJob(other, "a").Obj())).To(Succeed())
		code, body = postReport(ns, "a", mint(waitPod(other, "a-1"), "kickq.dev"), `{"progress":{"percent":2}}`)
		Expect(code).To(Equal(http.StatusUnauthorized), body)

		By("a token of the right pod for another audience, and one for the API server")
		code, body = postReport(ns, "a", mint(pod1, "vault"), `{"progress":{"percent":3}}`)
		Expect(code).To(Equal(http.StatusUnauthorized), body)
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: runner, Namespace: ns}}
		api := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod1.Name, UID: pod1.UID}}}
		Expect(env.Client.SubResource("token").Create(env.Ctx, sa, api)).To(Succeed())
		code, body = postReport(ns, "a", api.Status.Token, `{"progress":{"percent":4}}`)
		Expect(code).To(Equal(http.StatusUnauthorized), body)

		By("a later attempt's pod (made by someone who may create pods) while the job is at attempt 1")
		fake := utiltesting.MakePod("a-2", ns).AttemptOf(getJob(ns, "a"), 2).Obj()
		fake.Spec = utiltesting.PodTemplate("").Spec
		fake.Spec.ServiceAccountName = runner
		Expect(env.Client.Create(env.Ctx, fake)).To(Succeed())
		code, body = postReport(ns, "a", mint(fake, "kickq.dev"), `{"progress":{"percent":5}}`)
		Expect(code).To(Equal(http.StatusConflict), body)
		Expect(body).To(ContainSubstring("the job is at attempt 1"))
		Expect(env.Client.Delete(env.Ctx, fake, client.GracePeriodSeconds(0))).To(Succeed())

		By("the token of an earlier attempt")
		code, body = postReport(ns, "a", tok1, `{"progress":{"percent":6}}`)
		Expect(code).To(Equal(http.StatusAccepted), body, "the attempt's own token")
		Expect(env.Client.Status().Update(env.Ctx, utiltesting.WrapPod(pod1).Exited(1, "").Obj())).To(Succeed())
		Eventually(func() int32 {
			env.Clock.Step(time.Second) // through the backoff
			return getJob(ns, "a").Status.Attempts
		}, timeout, interval).Should(Equal(int32(2)))
		pod2 := waitPod(ns, "a-2")
		code, body = postReport(ns, "a", tok1, `{"progress":{"percent":7}}`)
		Expect(code).To(Equal(http.StatusConflict), body)
		code, body = postReport(ns, "a", mint(pod2, "kickq.dev"), `{"progress":{"percent":8}}`)
		Expect(code).To(Equal(http.StatusAccepted), body, "attempt 2's own token")
		Eventually(func() *kickqv1alpha1.Progress { return progress("a") }, timeout, interval).Should(HaveField("Percent", int32(8)))
	})

	It("refuses the token of a deleted or replaced pod, even one it accepted before", func() {
		Expect(env.Client.Create(env.Ctx, podJob(ns, "gone").Obj())).To(Succeed())
		pod := waitPod(ns, "gone-1")
		tok := mint(pod, "kickq.dev")
		code, body := postReport(ns, "gone", tok, `{"heartbeat":true}`)
		Expect(code).To(Equal(http.StatusAccepted), body)

		Expect(env.Client.Delete(env.Ctx, pod, client.GracePeriodSeconds(0))).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(env.Manager().Cache.Get(env.Ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}))
		}, timeout, interval).Should(BeTrue(), "the manager has seen the pod go")
		// Whoever may create pods makes one of the same name, owned by the job, as kickq would.
		twin := utiltesting.MakePod("gone-1", ns).AttemptOf(getJob(ns, "gone"), 1).Obj()
		twin.Spec = utiltesting.PodTemplate("").Spec
		twin.Spec.ServiceAccountName = runner
		Expect(env.Client.Create(env.Ctx, twin)).To(Succeed())
		Eventually(func() error { return env.Manager().Cache.Get(env.Ctx, client.ObjectKeyFromObject(twin), &corev1.Pod{}) }, timeout, interval).Should(Succeed())

		code, body = postReport(ns, "gone", tok, `{"progress":{"percent":9}}`)
		Expect(code).To(SatisfyAny(Equal(http.StatusUnauthorized), Equal(http.StatusConflict)), body)
		Expect(progress("gone")).To(BeNil())
	})

	It("lets a user with the built-in view role read the pod, and nothing in it is a token the report API accepts", func() {
		Expect(env.Client.Create(env.Ctx, podJob(ns, "seen").Obj())).To(Succeed())
		waitPod(ns, "seen-1")
		aggregateView()
		Expect(env.Client.Create(env.Ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "viewer", Namespace: ns},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "viewer"}}})).To(Succeed())
		cfg := rest.CopyConfig(env.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: "viewer", Groups: []string{"system:authenticated"}}
		viewer, err := client.New(cfg, client.Options{Scheme: env.Scheme})
		Expect(err).NotTo(HaveOccurred())

		pod := &corev1.Pod{}
		Eventually(func() error { return viewer.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "seen-1"}, pod) }, timeout, interval).
			Should(Succeed(), "view may get pods")
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: runner, Namespace: ns}}
		tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"kickq.dev"},
			BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}}}
		Expect(apierrors.IsForbidden(viewer.SubResource("token").Create(env.Ctx, sa, tr))).To(BeTrue(), "view may not mint tokens")
		Expect(apierrors.IsForbidden(viewer.List(env.Ctx, &corev1.SecretList{}, client.InNamespace(ns)))).To(BeTrue(), "view may not read Secrets")

		// Every string of the pod as view sees it, tried as a bearer token.
		raw, err := json.Marshal(pod)
		Expect(err).NotTo(HaveOccurred())
		var tree any
		Expect(json.Unmarshal(raw, &tree)).To(Succeed())
		tried := 0
		for _, s := range stringsIn(tree) {
			code, body := postReport(ns, "seen", s, `{"outcome":"Succeed"}`)
			Expect(code).To(BeNumerically(">=", 400), "%q was accepted: %s", s, body)
			tried++
		}
		Expect(tried).To(BeNumerically(">", 20))
		Expect(getJob(ns, "seen").Status.Phase).To(Equal(kickqv1alpha1.PhaseRunning))
		AddReportEntry("strings of a pod as view reads it, tried as report tokens, all refused", tried)
	})

	It("reviews each token once: 21 reports with the kubelet's two tokens cost two TokenReviews", func() {
		Expect(env.Client.Create(env.Ctx, podJob(ns, "cost").Obj())).To(Succeed())
		pod := waitPod(ns, "cost-1")
		tokens := env.Manager().Controllers.Report.PodTokens
		reviews := tokens.Reviews()
		tok := mint(pod, "kickq.dev")
		for i := range 20 {
			code, body := postReport(ns, "cost", tok, fmt.Sprintf(`{"progress":{"percent":%d}}`, i*5))
			Expect(code).To(Equal(http.StatusAccepted), body)
		}
		Expect(tokens.Reviews()-reviews).To(Equal(int64(1)), "20 reports with one token")
		// The kubelet's next token (it refreshes at 80 % of the token's life) costs one more.
		code, body := postReport(ns, "cost", mint(pod, "kickq.dev"), `{"outcome":"Succeed"}`)
		Expect(code).To(Equal(http.StatusOK), body)
		Expect(tokens.Reviews() - reviews).To(Equal(int64(2)))
		expectPhase(ns, "cost", kickqv1alpha1.PhaseSucceeded)
		AddReportEntry("TokenReviews for 21 reports with two tokens", tokens.Reviews()-reviews)
		AddReportEntry("manager writes of the reporting pod job (pod create and status writes)", writes.Of(ns, "cost"))
	})

	It("creates the pod in a namespace that enforces the restricted Pod Security standard", func() {
		Expect(env.Client.Patch(env.Ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}, client.Merge)).To(Succeed())
		t := utiltesting.PodTemplate("")
		t.Spec.ServiceAccountName = runner
		t.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
		t.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false),
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("strict", ns).PodTemplate(t).Obj())).To(Succeed())
		pod := waitPod(ns, "strict-1")
		Expect(pod.Spec.Volumes).To(ContainElement(HaveField("Name", "kickq-token")))

		// The namespace does enforce it: a template that breaks it is refused.
		loose := utiltesting.PodTemplate("")
		loose.Spec.ServiceAccountName = runner
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("loose", ns).PodTemplate(loose).Obj())).To(Succeed())
		j := expectPhase(ns, "loose", kickqv1alpha1.PhaseFailed)
		Expect(j.Status.AttemptHistory[0].Reason).To(Equal(kickqv1alpha1.AttemptReasonPodRefused))
		Expect(j.Status.AttemptHistory[0].Message).To(ContainSubstring("PodSecurity"))
	})

	It("fails an attempt whose template names kickq's token volume, naming the field", func() {
		t := utiltesting.PodTemplate("")
		t.Spec.Volumes = []corev1.Volume{{Name: "kickq-token", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("clash", ns).PodTemplate(t).Obj())).To(Succeed())
		j := expectPhase(ns, "clash", kickqv1alpha1.PhaseFailed)
		Expect(j.Status.AttemptHistory[0].Reason).To(Equal(kickqv1alpha1.AttemptReasonPodRefused))
		Expect(j.Status.AttemptHistory[0].Message).To(ContainSubstring(`spec.volumes[0].name "kickq-token" is reserved`))
		Expect(apierrors.IsNotFound(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "clash-1"}, &corev1.Pod{}))).To(BeTrue())
	})
})

// aggregateView does what kube-controller-manager's clusterrole-aggregation controller does for
// the built-in view ClusterRole (envtest runs no controller manager, so view has no rules): its
// rules become those of the ClusterRoles labelled to aggregate to it.
func aggregateView() {
	GinkgoHelper()
	view := &rbacv1.ClusterRole{}
	Expect(env.Client.Get(env.Ctx, client.ObjectKey{Name: "view"}, view)).To(Succeed())
	Expect(view.AggregationRule).NotTo(BeNil())
	var rules []rbacv1.PolicyRule
	for _, sel := range view.AggregationRule.ClusterRoleSelectors {
		var parts rbacv1.ClusterRoleList
		Expect(env.Client.List(env.Ctx, &parts, client.MatchingLabels(sel.MatchLabels))).To(Succeed())
		for _, p := range parts.Items {
			rules = append(rules, p.Rules...)
		}
	}
	Expect(rules).NotTo(BeEmpty())
	view.Rules = rules
	Expect(env.Client.Update(env.Ctx, view)).To(Succeed())
}

// stringsIn is every string value in a decoded JSON tree.
func stringsIn(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			out = append(out, stringsIn(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range t {
			out = append(out, stringsIn(e)...)
		}
		return out
	}
	return nil
}

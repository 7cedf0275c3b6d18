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

package api

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/controllers"
	"kickq.dev/kickq/internal/report"
	"kickq.dev/kickq/test/util"
)

// kustomizationNames are the file names kustomize reads in a directory.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// kustomized reads the objects a kustomization directory renders, following its resources.
// Only `resources` is understood: a kustomization with patches or generators fails here, so no
// object of config/ escapes the dry run below unread. It returns the files it read too.
func kustomized(dir string) (objs []*unstructured.Unstructured, files []string) {
	var k map[string]any
	for _, name := range kustomizationNames {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			Expect(yaml.Unmarshal(b, &k)).To(Succeed(), dir)
			files = append(files, filepath.Join(dir, name))
			break
		}
	}
	Expect(k).NotTo(BeNil(), "%s has no kustomization", dir)
	for key := range k {
		Expect([]string{"apiVersion", "kind", "resources"}).To(ContainElement(key),
			"%s: this test reads only resources, not %q", dir, key)
	}
	resources, _ := k["resources"].([]any)
	for _, r := range resources {
		p := filepath.Join(dir, r.(string))
		st, err := os.Stat(p)
		Expect(err).NotTo(HaveOccurred(), "%s lists %s", dir, r)
		if st.IsDir() {
			o, f := kustomized(p)
			objs, files = append(objs, o...), append(files, f...)
			continue
		}
		o, err := util.ReadManifests(p)
		Expect(err).NotTo(HaveOccurred())
		objs, files = append(objs, o...), append(files, p)
	}
	return objs, files
}

func find(objs []*unstructured.Unstructured, kind, name string, into any) {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, into)).To(Succeed())
			return
		}
	}
	Fail(fmt.Sprintf("config/default has no %s %s", kind, name))
}

var _ = Describe("The operator's manifests", func() {
	It("are all accepted by the API server (server-side dry run), every file of config/ included", func() {
		root := filepath.Join(util.RepoRoot(), "config")
		objs, files := kustomized(filepath.Join(root, "default"))
		samples, sampleFiles := kustomized(filepath.Join(root, "samples"))
		files = append(files, sampleFiles...)

		// Every YAML file under config/ is rendered by config/default or is a sample.
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p == filepath.Join(root, "argocd") {
					// Argo CD's own configuration (its argocd-cm health checks), applied to Argo
					// CD's namespace, not the operator; test/util/argocd checks it.
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") || d.Name() == "Kustomization" {
				Expect(files).To(ContainElement(p), "%s is not reached from config/default or config/samples", p)
			}
			return nil
		})
		Expect(err).NotTo(HaveOccurred())

		// Namespaces first, for real (a dry-run namespace holds nothing), then every object as a
		// dry run: the API server validates and admits it (schemas, RBAC escalation checks, Pod
		// Security for the Deployment) and stores nothing.
		apply := func(o *unstructured.Unstructured, opts ...client.ApplyOption) {
			opts = append(opts, client.FieldOwner("config-test"), client.ForceOwnership)
			Expect(env.Client.Apply(env.Ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), opts...)).
				To(Succeed(), "%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
		}
		kinds := map[string]int{}
		for _, o := range objs {
			if o.GetKind() == "Namespace" {
				apply(o)
			}
		}
		for _, o := range objs {
			apply(o, client.DryRunAll)
			kinds[o.GetKind()]++
		}
		ns := env.NewNamespace()
		for _, o := range samples {
			o.SetNamespace(ns)
			apply(o, client.DryRunAll)
		}
		AddReportEntry("objects dry-run created", len(objs)+len(samples))
		for _, k := range []string{"CustomResourceDefinition", "ValidatingAdmissionPolicy", "ClusterRole", "Role",
			"ServiceAccount", "Deployment", "Service", "NetworkPolicy"} {
			Expect(kinds).To(HaveKey(k), "config/default renders no %s", k)
		}
	})

	It("open only the report port to pods and metrics to the monitoring namespace, over authenticated HTTPS", func() {
		objs, _ := kustomized(filepath.Join(util.RepoRoot(), "config", "default"))
		var dep appsv1.Deployment
		find(objs, "Deployment", "kickq-manager", &dep)
		c := dep.Spec.Template.Spec.Containers[0]
		Expect(c.Args).To(ContainElements("--metrics-secure", "--metrics-bind-address=:8443", "--report-bind-address=:8082"))
		ports := map[string]int32{}
		for _, p := range c.Ports {
			ports[p.Name] = p.ContainerPort
		}
		Expect(ports).To(HaveKeyWithValue("report", int32(8082)))
		Expect(ports).To(HaveKeyWithValue("metrics", int32(8443)))

		var np networkingv1.NetworkPolicy
		find(objs, "NetworkPolicy", "kickq-manager", &np)
		Expect(np.Spec.PodSelector.MatchLabels).To(Equal(dep.Spec.Selector.MatchLabels), "the policy selects the manager's pods")
		Expect(np.Spec.PolicyTypes).To(ConsistOf(networkingv1.PolicyTypeIngress))
		open := map[int32][]networkingv1.NetworkPolicyPeer{}
		for _, rule := range np.Spec.Ingress {
			Expect(rule.From).NotTo(BeEmpty(), "every rule names its sources")
			for _, p := range rule.Ports {
				open[p.Port.IntVal] = append(open[p.Port.IntVal], rule.From...)
			}
		}
		Expect(open).To(HaveLen(2), "only the report and metrics ports are open")
		Expect(open[8082]).To(ConsistOf(HaveField("NamespaceSelector.MatchLabels", BeEmpty())), "the report API: all pods")
		Expect(open[8443]).To(ConsistOf(HaveField("NamespaceSelector.MatchLabels",
			Equal(map[string]string{"kubernetes.io/metadata.name": "monitoring"}))), "metrics: the monitoring namespace")

		var auth, reader rbacv1.ClusterRole
		find(objs, "ClusterRole", "kickq-metrics-auth-role", &auth)
		Expect(auth.Rules).To(ContainElements(
			rbacv1.PolicyRule{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
			rbacv1.PolicyRule{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}}))
		find(objs, "ClusterRole", "kickq-metrics-reader", &reader)
		Expect(reader.Rules).To(ConsistOf(rbacv1.PolicyRule{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}))

		var mgrRole rbacv1.ClusterRole
		find(objs, "ClusterRole", "kickq-manager-role", &mgrRole)
		for _, r := range mgrRole.Rules {
			Expect(r.Verbs).NotTo(ContainElement("*"), "the manager's role names its verbs")
			Expect(r.Resources).NotTo(ContainElement("*"))
			if slices.Contains(r.Resources, "events") {
				Expect(r.APIGroups).To(Equal([]string{"events.k8s.io"}), "core Events only in the manager's namespace")
			}
		}
	})
})

var _ = Describe("heartbeatTimeoutSeconds", func() {
	It("is at least 5, above the report store's flush interval and whole-second status times", func() {
		var crd apiextensionsv1.CustomResourceDefinition
		Expect(env.Client.Get(env.Ctx, client.ObjectKey{Name: "queuejobs.kickq.dev"}, &crd)).To(Succeed())
		minimum := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["heartbeatTimeoutSeconds"].Minimum
		Expect(minimum).NotTo(BeNil())
		// A report is written up to one flush interval late, and status keeps whole seconds.
		Expect(time.Duration(*minimum) * time.Second).To(BeNumerically(">", 2*report.DefaultInterval+time.Second))

		ns := env.NewNamespace()
		Expect(env.Client.Create(env.Ctx, obj(ns, job("four", "heartbeatTimeoutSeconds: 4\n"+podTarget)))).
			To(MatchError(ContainSubstring("spec.heartbeatTimeoutSeconds")))
		Expect(env.Client.Create(env.Ctx, obj(ns, queue("q", "defaults: {heartbeatTimeoutSeconds: 4}")))).
			To(MatchError(ContainSubstring("spec.defaults.heartbeatTimeoutSeconds")))
		Expect(env.Client.Create(env.Ctx, obj(ns, job("five", "heartbeatTimeoutSeconds: 5\n"+podTarget)))).To(Succeed())
	})
})

var _ = Describe("The manager's RBAC", func() {
	It("is enough to run a job, write reports, emit Events and hold the leader Lease", func() {
		root := filepath.Join(util.RepoRoot(), "config")
		rbac, _ := kustomized(filepath.Join(root, "rbac"))
		system, _ := util.ReadManifests(filepath.Join(root, "manager", "manager.yaml"))
		for _, o := range append(system[:1:1], rbac...) { // the Namespace, then config/rbac, for real
			Expect(o.GetKind()).NotTo(Equal("Deployment"))
			Expect(env.Client.Apply(env.Ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
				client.FieldOwner("rbac-test"), client.ForceOwnership)).To(Succeed(), "%s %s", o.GetKind(), o.GetName())
		}
		// The manager as its service account: only what config/rbac grants it.
		asManager := rest.CopyConfig(env.Config)
		asManager.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:kickq-system:kickq-manager",
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kickq-system", "system:authenticated"}}
		mgr, err := ctrl.NewManager(asManager, ctrl.Options{
			Scheme:                  env.Scheme,
			Metrics:                 metricsserver.Options{BindAddress: "0"},
			HealthProbeBindAddress:  "0",
			LeaderElection:          true,
			LeaderElectionID:        "kickq-manager.kickq.dev",
			LeaderElectionNamespace: "kickq-system",
			// Released on stop: a later run of this suite need not wait for the Lease to expire.
			LeaderElectionReleaseOnCancel: true,
			Controller:                    config.Controller{SkipNameValidation: ptr.To(true)},
		})
		Expect(err).NotTo(HaveOccurred())
		ctrls, err := controllers.Setup(env.Ctx, mgr, controllers.Options{ReportBindAddress: "127.0.0.1:0"})
		Expect(err).NotTo(HaveOccurred())
		mctx, stop := context.WithCancel(env.Ctx)
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			Expect(mgr.Start(mctx)).To(Succeed())
		}()
		DeferCleanup(func() { stop(); <-done })

		ns := env.NewNamespace()
		Expect(env.Client.Create(env.Ctx, obj(ns, queue("default", "concurrency: 1")))).To(Succeed())
		// The pod's service account (envtest runs no service account controller).
		Expect(env.Client.Create(env.Ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "runner", Namespace: ns}})).To(Succeed())
		Expect(env.Client.Create(env.Ctx, obj(ns, job("j", podTarget+"\n      serviceAccountName: runner")))).To(Succeed())
		pod := &corev1.Pod{}
		Eventually(func() error { return env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "j-1"}, pod) }).
			WithTimeout(30*time.Second).Should(Succeed(), "the manager creates the attempt's pod")

		// A report through the served API, once this replica leads, with the token a kubelet
		// would project into the pod: the manager reviews it (RBAC: create tokenreviews).
		tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: []string{report.TokenAudience},
			BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}}}
		Expect(env.Client.SubResource("token").Create(env.Ctx,
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "runner", Namespace: ns}}, tr)).To(Succeed())
		token := tr.Status.Token
		url := ctrls.Endpoint.URL(ns, "j")
		Eventually(func() int {
			req, _ := http.NewRequestWithContext(env.Ctx, http.MethodPost, url, strings.NewReader(`{"progress":{"percent":50}}`))
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0
			}
			_ = resp.Body.Close()
			return resp.StatusCode
		}).WithTimeout(30 * time.Second).Should(Equal(http.StatusAccepted))
		Eventually(func() int32 {
			var j kickqv1alpha1.QueueJob
			Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "j"}, &j)).To(Succeed())
			if j.Status.Progress == nil {
				return 0
			}
			return j.Status.Progress.Percent
		}).WithTimeout(30 * time.Second).Should(Equal(int32(50)))

		pod.Status.Phase = corev1.PodSucceeded
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}}}
		Expect(env.Client.Status().Update(env.Ctx, pod)).To(Succeed())
		Eventually(func() kickqv1alpha1.QueueJobPhase {
			var j kickqv1alpha1.QueueJob
			Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "j"}, &j)).To(Succeed())
			return j.Status.Phase
		}).WithTimeout(30 * time.Second).Should(Equal(kickqv1alpha1.PhaseSucceeded))
		Eventually(func() int32 {
			var q kickqv1alpha1.Queue
			Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "default"}, &q)).To(Succeed())
			return q.Status.Counts.Succeeded
		}).WithTimeout(30*time.Second).Should(Equal(int32(1)), "queue status is written")
		// A succeeded job emits no Event (status says it); a cancelled one emits its Warning.
		Expect(env.Client.Create(env.Ctx, obj(ns, job("c", "cancel: true\n"+podTarget)))).To(Succeed())
		Eventually(func() []string {
			var evs eventsv1.EventList
			Expect(env.Client.List(env.Ctx, &evs, client.InNamespace(ns))).To(Succeed())
			var reasons []string
			for _, e := range evs.Items {
				reasons = append(reasons, e.Reason)
			}
			return reasons
		}).WithTimeout(30*time.Second).Should(ContainElement(kickqv1alpha1.ReasonCancelled), "Events are written through events.k8s.io")
		var lease coordinationv1.Lease
		Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: "kickq-system", Name: "kickq-manager.kickq.dev"}, &lease)).To(Succeed())
	})
})

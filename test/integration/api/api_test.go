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
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
)

var _ = Describe("Samples", func() {
	It("accepts every file in config/samples with server-side apply", func() {
		ns := env.NewNamespace()
		paths, err := filepath.Glob(filepath.Join(util.RepoRoot(), "config", "samples", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(len(paths)).To(BeNumerically(">=", 10), "config/samples should show every feature")
		applied := 0
		for _, p := range paths {
			objs, err := util.ReadManifests(p)
			Expect(err).NotTo(HaveOccurred())
			for _, o := range objs {
				o.SetNamespace(ns)
				Expect(env.Client.Apply(env.Ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("samples-test"), client.ForceOwnership)).
					To(Succeed(), "applying %s from %s", o.GetName(), filepath.Base(p))
				applied++
			}
		}
		AddReportEntry("applied", applied)
	})
})

var _ = Describe("Defaults", func() {
	It("fills only the documented schema defaults and leaves inherited fields unset", func() {
		ns := env.NewNamespace()
		j := obj(ns, job("j", "type: email\ncron: {schedule: \"@hourly\"}\nafter: {batch: b}\nretry: {rules: [{action: Retry, onPodConditions: [{type: DisruptionTarget}]}]}"))
		Expect(env.Client.Create(env.Ctx, j)).To(Succeed())
		var got kickqv1alpha1.QueueJob
		Expect(env.Client.Get(env.Ctx, client.ObjectKeyFromObject(j), &got)).To(Succeed())
		Expect(got.Spec.QueueName).To(Equal("default"))
		Expect(got.Spec.Cron.ConcurrencyPolicy).To(Equal(kickqv1alpha1.ConcurrencyForbid))
		Expect(got.Spec.Cron.MissedRuns).To(Equal(kickqv1alpha1.MissedRunsRunLatest))
		Expect(got.Spec.After.Require).To(Equal(kickqv1alpha1.RequireAllSucceeded))
		Expect(got.Spec.Retry.Rules[0].OnPodConditions[0].Status).To(Equal("True"))
		// What a queue or handler can supply is not defaulted in the schema.
		Expect(got.Spec.Retry.Limit).To(BeNil())
		Expect(got.Spec.Retry.Backoff).To(BeNil())
		Expect(got.Spec.AttemptDeadlineSeconds).To(BeNil())
		Expect(got.Spec.ActiveDeadlineSeconds).To(BeNil())
		Expect(got.Spec.Priority).To(BeNil())
		Expect(got.Spec.Cron.MaxMissedRuns).To(BeNil())

		q := obj(ns, queue("q", "concurrency: 2"))
		Expect(env.Client.Create(env.Ctx, q)).To(Succeed())
		var gotQ kickqv1alpha1.Queue
		Expect(env.Client.Get(env.Ctx, client.ObjectKeyFromObject(q), &gotQ)).To(Succeed())
		Expect(gotQ.Spec.InlineTargets).To(Equal(kickqv1alpha1.InlineTargetsAllow))
		Expect(gotQ.Spec.Defaults).To(BeNil())
	})

	It("never makes a valid object fail a rule", func() {
		ns := env.NewNamespace()
		// A template with every defaulted field left out, and a job that only names a type.
		Expect(env.Client.Create(env.Ctx, obj(ns, cronJob))).To(Succeed())
		Expect(env.Client.Create(env.Ctx, obj(ns, job("t", "type: t")))).To(Succeed())
		Expect(env.Client.Create(env.Ctx, obj(ns, queue("q", "handlers: [{type: a, worker: {}}]")))).To(Succeed())
	})
})

var _ = Describe("Field selectors", func() {
	It("serves status.phase, spec.type, spec.queueName, spec.batch and spec.key", func() {
		ns := env.NewNamespace()
		for _, m := range []string{
			job("a", "type: email\nbatch: b1\nqueueName: mail\nkey: customer-42"),
			job("b", "type: email\nbatch: b2\nkey: customer-7"),
			job("c", "type: report\nbatch: b1"),
		} {
			Expect(env.Client.Create(env.Ctx, obj(ns, m))).To(Succeed())
		}
		var c kickqv1alpha1.QueueJob
		Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "c"}, &c)).To(Succeed())
		c.Status.Phase = kickqv1alpha1.PhaseFailed
		Expect(env.Client.Status().Update(env.Ctx, &c)).To(Succeed())

		names := func(field, value string) []string {
			var l kickqv1alpha1.QueueJobList
			Expect(env.Client.List(env.Ctx, &l, client.InNamespace(ns),
				client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector(field, value)})).To(Succeed())
			var out []string
			for _, j := range l.Items {
				out = append(out, j.Name)
			}
			sort.Strings(out)
			return out
		}
		Expect(names("spec.type", "email")).To(Equal([]string{"a", "b"}))
		Expect(names("spec.queueName", "mail")).To(Equal([]string{"a"}))
		Expect(names("spec.queueName", "default")).To(Equal([]string{"b", "c"}))
		Expect(names("spec.batch", "b1")).To(Equal([]string{"a", "c"}))
		Expect(names("spec.key", "customer-42")).To(Equal([]string{"a"}))
		Expect(names("status.phase", "Failed")).To(Equal([]string{"c"}))
	})
})

var _ = Describe("CRD schemas", func() {
	It("describe every property, for kubectl explain", func() {
		paths, err := filepath.Glob(filepath.Join(util.RepoRoot(), "config", "crd", "bases", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(paths).To(HaveLen(2))
		for _, p := range paths {
			b, err := os.ReadFile(p)
			Expect(err).NotTo(HaveOccurred())
			var crd apiextensionsv1.CustomResourceDefinition
			Expect(yaml.Unmarshal(b, &crd)).To(Succeed())
			for _, v := range crd.Spec.Versions {
				var missing []string
				for name, p := range v.Schema.OpenAPIV3Schema.Properties {
					// The root metadata may hold nothing but name and generateName (the API server
					// refuses a description there); kubectl explain describes it from ObjectMeta.
					if name == "metadata" {
						continue
					}
					if strings.TrimSpace(p.Description) == "" {
						missing = append(missing, name)
					}
					walkSchema(&p, crd.Spec.Names.Kind+"."+name, &missing)
				}
				Expect(missing).To(BeEmpty(), "properties without a description in %s", filepath.Base(p))
			}
		}
	})

	It("carry no transition rules: the API server would run them on every status write", func() {
		// Spec immutability is the admission policy kickq-queuejob-immutable-spec (UPDATE of the
		// job only, generic over spec's fields): add no oldSelf rule for a new immutable field.
		paths, err := filepath.Glob(filepath.Join(util.RepoRoot(), "config", "crd", "bases", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(paths).To(HaveLen(2))
		for _, p := range paths {
			b, err := os.ReadFile(p)
			Expect(err).NotTo(HaveOccurred())
			var crd apiextensionsv1.CustomResourceDefinition
			Expect(yaml.Unmarshal(b, &crd)).To(Succeed())
			var transition []string
			for _, v := range crd.Spec.Versions {
				collectTransitionRules(v.Schema.OpenAPIV3Schema, crd.Spec.Names.Kind, &transition)
			}
			Expect(transition).To(BeEmpty(), "transition rules in %s", filepath.Base(p))
		}
	})

	It("fit the annotation of client-side kubectl apply (256 KiB of last-applied JSON)", func() {
		paths, err := filepath.Glob(filepath.Join(util.RepoRoot(), "config", "crd", "bases", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		for _, p := range paths {
			b, err := os.ReadFile(p)
			Expect(err).NotTo(HaveOccurred())
			var file map[string]any
			Expect(yaml.Unmarshal(b, &file)).To(Succeed())
			lastApplied, err := json.Marshal(file)
			Expect(err).NotTo(HaveOccurred())
			AddReportEntry(filepath.Base(p), fmt.Sprintf("%d bytes of last-applied JSON", len(lastApplied)))
			// What kubectl apply (client-side) writes: the API server must take it.
			var crd apiextensionsv1.CustomResourceDefinition
			Expect(yaml.Unmarshal(b, &crd)).To(Succeed())
			Expect(env.Client.Get(env.Ctx, client.ObjectKey{Name: crd.Name}, &crd)).To(Succeed())
			crd.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": string(lastApplied)}
			Expect(env.Client.Update(env.Ctx, &crd, client.DryRunAll)).To(Succeed(), "%s with its last-applied annotation", filepath.Base(p))
		}
	})

	It("install with the categories, short names and selectable fields of the design", func() {
		var crd apiextensionsv1.CustomResourceDefinition
		Expect(env.Client.Get(env.Ctx, client.ObjectKey{Name: "queuejobs.kickq.dev"}, &crd)).To(Succeed())
		Expect(crd.Spec.Names.ShortNames).To(ConsistOf("kqj"))
		Expect(crd.Spec.Names.Categories).To(ConsistOf("kickq"))
		var sel []string
		for _, f := range crd.Spec.Versions[0].SelectableFields {
			sel = append(sel, f.JSONPath)
		}
		Expect(sel).To(ConsistOf(".spec.queueName", ".spec.type", ".spec.batch", ".spec.key", ".status.phase"))
		Expect(env.Client.Get(env.Ctx, client.ObjectKey{Name: "queues.kickq.dev"}, &crd)).To(Succeed())
		Expect(crd.Spec.Names.ShortNames).To(ConsistOf("kq"))
		Expect(crd.Spec.Names.Categories).To(ConsistOf("kickq"))
	})
})

// collectTransitionRules collects the rules below s that read oldSelf, by path.
func collectTransitionRules(s *apiextensionsv1.JSONSchemaProps, path string, out *[]string) {
	if s == nil {
		return
	}
	for _, r := range s.XValidations {
		if strings.Contains(r.Rule, "oldSelf") {
			*out = append(*out, path+": "+r.Rule)
		}
	}
	for name, p := range s.Properties {
		collectTransitionRules(&p, path+"."+name, out)
	}
	if s.Items != nil {
		collectTransitionRules(s.Items.Schema, path+"[]", out)
	}
	if s.AdditionalProperties != nil {
		collectTransitionRules(s.AdditionalProperties.Schema, path+"{}", out)
	}
}

// walkSchema collects the paths of properties that have no description. The fields of an
// embedded pod spec (pod.template.spec) have none, on purpose: `kubectl explain pod.spec`
// describes them, and without them the Queue CRD fits client-side apply's annotation.
func walkSchema(s *apiextensionsv1.JSONSchemaProps, path string, missing *[]string) {
	if s == nil {
		return
	}
	for name, p := range s.Properties {
		child := path + "." + name
		if strings.TrimSpace(p.Description) == "" {
			*missing = append(*missing, child)
		}
		if strings.HasSuffix(child, ".pod.template.spec") {
			Expect(p.Description).To(ContainSubstring("kubectl explain pod.spec"), child)
			continue
		}
		walkSchema(&p, child, missing)
	}
	if s.Items != nil && s.Items.Schema != nil {
		walkSchema(s.Items.Schema, path+"[]", missing)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		walkSchema(s.AdditionalProperties.Schema, path+"{}", missing)
	}
}

var _ = Describe("Admission policy for inline pod targets", func() {
	var (
		ns         string
		restricted client.Client // may create QueueJobs and Queues, not pods
		podMaker   client.Client // may also create pods
	)

	userClient := func(name string, rules []rbacv1.PolicyRule) client.Client {
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Rules: rules}
		Expect(env.Client.Create(env.Ctx, role)).To(Succeed())
		Expect(env.Client.Create(env.Ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}},
		})).To(Succeed())
		u, err := env.TestEnv.AddUser(envtest.User{Name: name}, nil)
		Expect(err).NotTo(HaveOccurred())
		c, err := client.New(u.Config(), client.Options{Scheme: env.Scheme})
		Expect(err).NotTo(HaveOccurred())
		return c
	}
	kickqRule := rbacv1.PolicyRule{APIGroups: []string{"kickq.dev"}, Resources: []string{"queuejobs", "queues"}, Verbs: []string{"create", "get", "update"}}

	BeforeEach(func() {
		ns = env.NewNamespace()
		restricted = userClient("alice-"+ns, []rbacv1.PolicyRule{kickqRule})
		podMaker = userClient("bob-"+ns, []rbacv1.PolicyRule{kickqRule,
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create"}}})
		var vap admissionregistrationv1.ValidatingAdmissionPolicy
		Expect(env.Client.Get(env.Ctx, client.ObjectKey{Name: "kickq-inline-pod-target"}, &vap)).To(Succeed())
	})

	It("refuses an inline pod target to a requester who may not create pods, with a clear message", func() {
		// The API server loads a new policy asynchronously: wait until it is enforced.
		Eventually(func() error {
			return restricted.Create(env.Ctx, obj(ns, job("pod-job", podTarget)))
		}, util.Timeout, util.Interval).Should(MatchError(And(
			ContainSubstring("spec.pod"),
			ContainSubstring("may not create pods in namespace "+ns),
		)))
		err := restricted.Create(env.Ctx, obj(ns, job("pod-job", podTarget)))
		Expect(apierrors.IsForbidden(err) || apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		AddReportEntry("refused", err.Error())
	})

	It("allows that requester a webhook target or a type only", func() {
		Eventually(func() error {
			return restricted.Create(env.Ctx, obj(ns, job("pod-job", podTarget)))
		}, util.Timeout, util.Interval).Should(HaveOccurred())
		Expect(restricted.Create(env.Ctx, obj(ns, job("hook", "webhook: {url: \"http://hooks.shop.svc/run\"}")))).To(Succeed())
		Expect(restricted.Create(env.Ctx, obj(ns, job("typed", "type: thumbnail")))).To(Succeed())
	})

	It("allows an inline pod target to a requester who may create pods", func() {
		Eventually(func() error {
			return restricted.Create(env.Ctx, obj(ns, job("probe", podTarget)))
		}, util.Timeout, util.Interval).Should(HaveOccurred())
		Expect(podMaker.Create(env.Ctx, obj(ns, job("pod-job", podTarget)))).To(Succeed())
	})

	It("guards pod handlers of a Queue the same way, and lets others edit the rest of such a queue", func() {
		pq := queue("q", "handlers:\n- type: thumbs\n  "+strings.ReplaceAll(podTarget, "\n", "\n  "))
		Eventually(func() error {
			return restricted.Create(env.Ctx, obj(ns, pq))
		}, util.Timeout, util.Interval).Should(MatchError(ContainSubstring("may not create pods")))
		Expect(podMaker.Create(env.Ctx, obj(ns, pq))).To(Succeed())

		// Unstructured, as kubectl edits it: a typed Go client would add empty fields to the pod
		// template (resources: {}), which counts as a change of the pod handlers.
		q := obj(ns, pq)
		Expect(restricted.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "q"}, q)).To(Succeed())
		Expect(unstructured.SetNestedField(q.Object, true, "spec", "paused")).To(Succeed())
		Expect(restricted.Update(env.Ctx, q)).To(Succeed(), "pausing does not change the pod handlers")
		handlers, _, _ := unstructured.NestedSlice(q.Object, "spec", "handlers")
		containers, _, _ := unstructured.NestedSlice(handlers[0].(map[string]any), "pod", "template", "spec", "containers")
		containers[0].(map[string]any)["image"] = "busybox:2"
		Expect(unstructured.SetNestedSlice(handlers[0].(map[string]any), containers, "pod", "template", "spec", "containers")).To(Succeed())
		Expect(unstructured.SetNestedSlice(q.Object, handlers, "spec", "handlers")).To(Succeed())
		Expect(restricted.Update(env.Ctx, q)).To(MatchError(ContainSubstring("may not create pods")))
	})
})

var _ = Describe("Manager deployment", func() {
	It("runs a pod that the Pod Security restricted profile admits", func() {
		objs, err := util.ReadManifests(filepath.Join(util.RepoRoot(), "config", "manager", "manager.yaml"))
		Expect(err).NotTo(HaveOccurred())
		var dep appsv1.Deployment
		for _, o := range objs {
			if o.GetKind() == "Deployment" {
				Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &dep)).To(Succeed())
			}
		}
		Expect(dep.Name).To(Equal("kickq-manager"))

		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "restricted-",
			Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}
		Expect(env.Client.Create(env.Ctx, ns)).To(Succeed())
		Expect(env.Client.Create(env.Ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: dep.Spec.Template.Spec.ServiceAccountName, Namespace: ns.Name}})).To(Succeed())
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "manager", Namespace: ns.Name, Labels: dep.Spec.Template.Labels},
			Spec:       dep.Spec.Template.Spec,
		}
		Expect(env.Client.Create(env.Ctx, pod)).To(Succeed())

		// The check is real: a pod that runs as root is refused in that namespace.
		bad := pod.DeepCopy()
		bad.Name = "root"
		bad.Spec.SecurityContext.RunAsNonRoot = nil
		bad.Spec.SecurityContext.RunAsUser = nil
		bad.Spec.Containers[0].SecurityContext.Capabilities = nil
		Expect(env.Client.Create(env.Ctx, bad)).To(MatchError(ContainSubstring("violates PodSecurity \"restricted")))
	})
})

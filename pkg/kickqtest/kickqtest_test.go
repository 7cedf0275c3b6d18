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

package kickqtest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/pkg/kickq"
	"kickq.dev/kickq/pkg/kickqtest"
)

func TestEmbeddedManifests(t *testing.T) {
	crds, err := kickqtest.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range crds {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "queuejobs.kickq.dev,queues.kickq.dev" {
		t.Errorf("CRDs = %s, want queuejobs.kickq.dev and queues.kickq.dev", got)
	}
	policies, err := kickqtest.Policies()
	if err != nil {
		t.Fatal(err)
	}
	var objs []string
	for _, p := range policies {
		objs = append(objs, p.GetKind()+"/"+p.GetName())
	}
	want := []string{
		"ValidatingAdmissionPolicy/kickq-inline-pod-target", "ValidatingAdmissionPolicyBinding/kickq-inline-pod-target",
		"ValidatingAdmissionPolicy/kickq-queuejob-immutable-spec", "ValidatingAdmissionPolicyBinding/kickq-queuejob-immutable-spec",
	}
	if diff := cmp.Diff(want, objs); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
}

func TestStartNeedsAssets(t *testing.T) {
	t.Setenv("KUBEBUILDER_ASSETS", "")
	if _, err := kickqtest.Start(kickqtest.Options{}); err == nil || !strings.Contains(err.Error(), "make control-plane") {
		t.Errorf("Start without assets = %v, want an error saying how to get them", err)
	}
	if _, err := kickqtest.Start(kickqtest.Options{AssetsDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "no etcd in") {
		t.Errorf("Start with an empty assets folder = %v, want an error naming etcd", err)
	}
}

// TestAPIOnly: without Controllers jobs are validated and stored, never started, and the embedded
// admission policy is enforced.
func TestAPIOnly(t *testing.T) {
	env := kickqtest.New(t, kickqtest.Options{})
	ctx := t.Context()
	ns, err := env.NewNamespace(ctx, "api")
	if err != nil {
		t.Fatal(err)
	}
	job, err := env.Kickq.Enqueue(ctx, kickq.Job{Namespace: ns, Type: "email", Data: map[string]string{"to": "a@b.c"}})
	if err != nil {
		t.Fatal(err)
	}
	if job.Status.Phase != "" {
		t.Errorf("a new job has phase %q, want none: no controllers run", job.Status.Phase)
	}

	// Start returns once the spec immutability policy is enforced: the first update is refused.
	changed := job.DeepCopy()
	changed.Spec.Type = "sms"
	if err := env.Client.Update(ctx, changed); err == nil || !strings.Contains(err.Error(), "spec.type is immutable") {
		t.Errorf("changing spec.type: %v, want refused naming spec.type", err)
	}
	var probes kickqv1alpha1.QueueJobList
	if err := env.Client.List(ctx, &probes, client.InNamespace(metav1.NamespaceDefault)); err != nil {
		t.Fatal(err)
	}
	if len(probes.Items) != 0 {
		t.Errorf("Start left %d QueueJobs in namespace default, want its policy probe deleted", len(probes.Items))
	}

	// A user who may create QueueJobs but not pods is refused an inline pod target.
	rule := rbacv1.PolicyRule{APIGroups: []string{kickqv1alpha1.GroupVersion.Group}, Resources: []string{"queuejobs"}, Verbs: []string{"create"}}
	if err := env.Client.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "alice"}, Rules: []rbacv1.PolicyRule{rule}}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "alice"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "alice"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}}}); err != nil {
		t.Fatal(err)
	}
	user, err := env.Environment.AddUser(envtest.User{Name: "alice"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := client.New(user.Config(), client.Options{Scheme: kickq.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	podJob := func() *kickqv1alpha1.QueueJob {
		return &kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "pod-"},
			Spec: kickqv1alpha1.QueueJobSpec{Pod: &kickqv1alpha1.PodTarget{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "main", Image: "busybox:1.37"}}}}}}}
	}
	// The API server loads a new policy asynchronously: try until it is enforced.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := alice.Create(ctx, podJob())
		if err != nil && strings.Contains(err.Error(), "may not create pods") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an inline pod target by a user who may not create pods: %v, want refused by the policy", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

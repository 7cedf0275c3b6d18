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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

var _ = Describe("With the controllers in the test process", InProcess, func() {
	It("starts a job delayed by an hour when the fake clock reaches it, and its pod runs on the node", func() {
		ns := newNamespace()
		j := podJob(ns, "later", `echo '"ran"' > /dev/termination-log`)
		j.Spec.DelaySeconds = ptr.To[int32](3600)
		Expect(k8sClient.Create(ctx, j)).To(Succeed())
		waitPhase(ns, "later", kickqv1alpha1.PhaseDelayed)
		Consistently(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "later-1"}, &corev1.Pod{})
		}, time.Second, poll).ShouldNot(Succeed(), "no pod before the delay")
		fakeClock.Step(time.Hour + 2*time.Second)
		j = waitPhase(ns, "later", kickqv1alpha1.PhaseSucceeded)
		Expect(string(j.Status.Result.Raw)).To(Equal(`"ran"`))
	})
})

// ClusterRole aggregation (config/rbac/aggregate_roles.yaml, and the chart's copy): who may do
// what with kickq's kinds through Kubernetes' own view, edit and admin roles.
var _ = Describe("The view, edit and admin roles", func() {
	It("read both kinds at view, write QueueJobs from edit, and Queues at admin only", func() {
		ns := newNamespace()
		for _, role := range []string{"view", "edit", "admin"} {
			Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role, Namespace: ns},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "e2e-" + role}}})).To(Succeed())
		}
		can := func(user, verb, resource string) bool {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user,
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Group: kickqv1alpha1.GroupVersion.Group,
					Resource: resource, Verb: verb}}}
			Expect(k8sClient.Create(ctx, sar)).To(Succeed())
			return sar.Status.Allowed
		}
		type access struct{ user, verb, resource string }
		want := map[access]bool{
			{"e2e-view", "list", "queues"}: true, {"e2e-view", "get", "queuejobs"}: true, {"e2e-view", "watch", "queuejobs"}: true,
			{"e2e-view", "create", "queuejobs"}: false, {"e2e-view", "delete", "queues"}: false,
			{"e2e-edit", "create", "queuejobs"}: true, {"e2e-edit", "patch", "queuejobs"}: true, {"e2e-edit", "delete", "queuejobs"}: true,
			{"e2e-edit", "list", "queues"}: true, {"e2e-edit", "create", "queues"}: false, {"e2e-edit", "update", "queues"}: false,
			{"e2e-admin", "create", "queues"}: true, {"e2e-admin", "update", "queues"}: true, {"e2e-admin", "delete", "queuejobs"}: true,
		}
		// Aggregation is done by the controller-manager, a moment after the roles exist.
		Eventually(func() map[access]bool {
			got := map[access]bool{}
			for a := range want {
				got[a] = can(a.user, a.verb, a.resource)
			}
			return got
		}, timeout, time.Second).Should(Equal(want))
	})
})

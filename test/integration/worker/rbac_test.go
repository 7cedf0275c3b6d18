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

package worker

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/pkg/kickq"
	"kickq.dev/kickq/test/util"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

var _ = Describe("The worker Role (config/samples/03-worker-rbac.yaml)", func() {
	It("is all a worker needs: it claims, reports and finishes jobs, and stops cleanly", func() {
		ns := env.NewNamespace()
		raw, err := os.ReadFile(filepath.Join(util.RepoRoot(), "config", "samples", "03-worker-rbac.yaml"))
		Expect(err).NotTo(HaveOccurred())
		var role rbacv1.Role
		for _, doc := range strings.Split(string(raw), "\n---\n") {
			if strings.Contains(doc, "\nkind: Role\n") {
				Expect(yaml.UnmarshalStrict([]byte(doc), &role)).To(Succeed())
			}
		}
		Expect(role.Rules).NotTo(BeEmpty())
		role.Namespace = ns
		Expect(env.Client.Create(env.Ctx, &role)).To(Succeed())
		user := "worker-" + ns
		Expect(env.Client.Create(env.Ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kickq-worker", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
		})).To(Succeed())
		u, err := env.TestEnv.AddUser(envtest.User{Name: user}, nil)
		Expect(err).NotTo(HaveOccurred())

		Expect(env.Client.Create(env.Ctx, workerQueue(ns).Obj())).To(Succeed())
		w := startWorkerAs(u.Config(), kickq.WorkerOptions{Namespace: ns}, map[string]kickq.HandlerFunc{
			"report": func(_ context.Context, t *kickq.Task) (any, error) {
				t.Progress(50, "half")
				return "done", nil
			}})
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("r", ns).Type("report").Obj())).To(Succeed())
		j := expectPhase(ns, "r", kickqv1alpha1.PhaseSucceeded)
		Expect(attempt(j, 1).Worker).To(Equal(w.Name()))
		stepLive(renewal, w) // a renewal, as the worker's own user
		w.stop()
		Eventually(w.done, util.Timeout).Should(Receive(BeNil()), "the Lease's delete is allowed")
		Expect(apierrors.IsNotFound(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: w.Name()}, &coordinationv1.Lease{}))).To(BeTrue())

		By("and nothing more: it cannot create jobs or read Secrets")
		c, err := client.New(u.Config(), client.Options{Scheme: env.Scheme})
		Expect(err).NotTo(HaveOccurred())
		Expect(apierrors.IsForbidden(c.Create(env.Ctx, utiltesting.MakeQueueJob("x", ns).Type("report").Obj()))).To(BeTrue())
		Expect(apierrors.IsForbidden(c.List(env.Ctx, &corev1.SecretList{}, client.InNamespace(ns)))).To(BeTrue())
	})
})

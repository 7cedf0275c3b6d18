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

// Package e2e runs kickq against the real single-node cluster of hack/cluster/up.sh, where pods
// really run. The harness (this file) gives every spec file of the package a client, a
// clientset and the cluster:
//
//   - KICKQ_E2E_MANAGER=cluster (what `make e2e` runs): the manager runs in the cluster, deployed
//     by hack/cluster/e2e.sh with config/default; the suite checks that its Deployment is Ready
//     and, after the last spec, that its log holds no RBAC denial of its own requests. Specs
//     labelled InProcess are skipped.
//   - KICKQ_E2E_MANAGER=process: the controllers run in this process on the host, with a fake
//     clock (fakeClock) at the real time that specs step; the report API listens on the node's
//     bridge address (10.88.0.1). Run it with the in-cluster manager scaled to 0 (e2e.sh does,
//     for the InProcess specs).
//
// A new spec file needs nothing but `var _ = Describe(...)` using newNamespace, podJob, waitPhase,
// k8sClient and clientset; one that needs the fake clock is labelled InProcess.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/controllers"
	"kickq.dev/kickq/internal/netguard"
	"kickq.dev/kickq/test/util"
)

const (
	image   = "localhost/busybox:local"
	timeout = 60 * time.Second
	poll    = 100 * time.Millisecond

	// bridgeIP is the host's address on the pod bridge: pods reach the test process there.
	bridgeIP = "10.88.0.1"
	// managerNamespace and the labels are those of config/default's Deployment.
	managerNamespace  = "kickq-system"
	managerDeployment = "kickq-manager"
	managerSelector   = "app.kubernetes.io/name=kickq,app.kubernetes.io/component=manager"
	// rbacDenial starts the API server's answer to a request of the manager's service account
	// that its RBAC does not allow.
	rbacDenial = `forbidden: User "system:serviceaccount:` + managerNamespace + `:`
)

// InProcess labels specs that need the controllers in the test process (the fake clock).
var InProcess = Label("in-process")

var (
	ctx       context.Context
	cancel    context.CancelFunc
	k8sClient client.Client
	clientset *kubernetes.Clientset
	// inCluster says the manager under test is the in-cluster Deployment.
	inCluster bool
	// fakeClock is the in-process controllers' clock (nil in cluster mode), at the real time
	// when each spec starts.
	fakeClock *clocktesting.FakeClock
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "E2E suite (real cluster)")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter)))
	ctx, cancel = context.WithCancel(context.Background())
	kubeconfig := os.Getenv("KUBECONFIG")
	if kubeconfig == "" {
		kubeconfig = filepath.Join(util.RepoRoot(), "bin", "cluster", "kubeconfig")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	Expect(err).NotTo(HaveOccurred(), "run hack/cluster/up.sh (make e2e does)")
	cfg.QPS, cfg.Burst = 200, 400
	scheme := util.NewScheme()
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())

	switch mode := os.Getenv("KICKQ_E2E_MANAGER"); mode {
	case "", "cluster":
		inCluster = true
		expectManagerReady()
	case "process":
		startInProcess(cfg)
	default:
		Fail("KICKQ_E2E_MANAGER must be cluster or process, not " + mode)
	}
})

var _ = AfterSuite(func() {
	if inCluster {
		expectNoRBACDenial()
	}
	cancel()
})

// Every spec starts with the fake clock at the real time, whatever an earlier spec did with it.
var _ = BeforeEach(func() {
	if fakeClock != nil {
		fakeClock.SetTime(time.Now())
	}
})

// In cluster mode the InProcess specs are skipped: the in-cluster manager has the real clock.
var _ = BeforeEach(func() {
	if inCluster && slices.Contains(CurrentSpecReport().Labels(), "in-process") {
		Skip("needs the controllers in the test process (KICKQ_E2E_MANAGER=process)")
	}
})

// expectManagerReady checks the in-cluster manager: its Deployment (config/default's labels)
// has all its replicas updated and available.
func expectManagerReady() {
	Eventually(func(g Gomega) {
		var l appsv1.DeploymentList
		g.Expect(k8sClient.List(ctx, &l, client.InNamespace(managerNamespace), client.MatchingLabels{
			"app.kubernetes.io/name": "kickq", "app.kubernetes.io/component": "manager"})).To(Succeed())
		g.Expect(l.Items).To(HaveLen(1), "make e2e deploys the manager (hack/cluster/e2e.sh)")
		d := l.Items[0]
		g.Expect(d.Status.ObservedGeneration).To(Equal(d.Generation))
		g.Expect(d.Status.UpdatedReplicas).To(Equal(*d.Spec.Replicas))
		g.Expect(d.Status.AvailableReplicas).To(Equal(*d.Spec.Replicas))
	}, timeout, poll).Should(Succeed())
}

// managerPods are the manager's running pods.
func managerPods() []corev1.Pod {
	pods, err := clientset.CoreV1().Pods(managerNamespace).List(ctx, metav1.ListOptions{LabelSelector: managerSelector})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	// A pod of an earlier run that ended when its node went down (Succeeded/Failed, kept until
	// its ReplicaSet is gone) or one being deleted is not the manager under test.
	live := pods.Items[:0]
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			live = append(live, p)
		}
	}
	return live
}

// expectNoRBACDenial fails the suite when a manager's log shows a request of its own that its
// RBAC refused. Pods that tests have refused on purpose (Pod Security, quotas) are answered
// "forbidden" for the pod, never for the manager's user, and do not match.
func expectNoRBACDenial() {
	for _, p := range managerPods() {
		rc, err := clientset.CoreV1().Pods(managerNamespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: "manager"}).Stream(context.Background())
		Expect(err).NotTo(HaveOccurred())
		var denials []string
		sc := bufio.NewScanner(rc)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if strings.Contains(sc.Text(), rbacDenial) && len(denials) < 10 {
				denials = append(denials, sc.Text())
			}
		}
		_ = rc.Close()
		Expect(denials).To(BeEmpty(), "the manager %s was refused by its RBAC (config/rbac)", p.Name)
	}
}

// startInProcess runs kickq's controllers in this process with a fake clock. Pods reach its
// report API on the bridge; webhooks may reach receivers the test serves there.
func startInProcess(cfg *rest.Config) {
	fakeClock = clocktesting.NewFakeClock(time.Now())
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: util.NewScheme(), Metrics: metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0", Controller: config.Controller{MaxConcurrentReconciles: 4}})
	Expect(err).NotTo(HaveOccurred())
	allow, err := netguard.ParseCIDRs(bridgeIP + "/32")
	Expect(err).NotTo(HaveOccurred())
	_, err = controllers.Setup(ctx, mgr, controllers.Options{Clock: fakeClock, ReportBindAddress: bridgeIP + ":0",
		WebhookGuard: netguard.New(allow, nil)})
	Expect(err).NotTo(HaveOccurred())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
}

// serveOnBridge serves h on the node's bridge address, where pods and the in-cluster manager
// (which e2e deploys allowing that address for webhooks) reach it; it returns the base URL.
func serveOnBridge(h http.Handler) string {
	l, err := net.Listen("tcp", bridgeIP+":0")
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	DeferCleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String()
}

func newNamespace() string {
	ns, err := util.NewNamespace(ctx, k8sClient, "e2e")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		_ = k8sClient.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	})
	return ns
}

// podJob is a job whose pod runs script in busybox.
func podJob(ns, name, script string) *kickqv1alpha1.QueueJob {
	return &kickqv1alpha1.QueueJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kickqv1alpha1.QueueJobSpec{Pod: &kickqv1alpha1.PodTarget{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers: []corev1.Container{{Name: "main", Image: image, ImagePullPolicy: corev1.PullNever,
				Command: []string{"sh", "-c", script}}}}}}},
	}
}

func getJob(ns, name string) *kickqv1alpha1.QueueJob {
	var j kickqv1alpha1.QueueJob
	ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &j)).To(Succeed())
	return &j
}

func waitPhase(ns, name string, p kickqv1alpha1.QueueJobPhase) *kickqv1alpha1.QueueJob {
	EventuallyWithOffset(1, func() kickqv1alpha1.QueueJobPhase { return getJob(ns, name).Status.Phase }, timeout, poll).Should(Equal(p),
		func() string { return getJob(ns, name).Status.Message })
	return getJob(ns, name)
}

// podOutput runs script in a busybox pod in ns and returns its log once it exited 0.
func podOutput(ns, name, script string) string {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever, TerminationGracePeriodSeconds: ptr.To[int64](1),
		Containers: []corev1.Container{{Name: "main", Image: image, ImagePullPolicy: corev1.PullNever, Command: []string{"sh", "-c", script}}}}}
	ExpectWithOffset(1, k8sClient.Create(ctx, pod)).To(Succeed())
	EventuallyWithOffset(1, func() corev1.PodPhase {
		ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
		return pod.Status.Phase
	}, timeout, poll).Should(BeElementOf(corev1.PodSucceeded, corev1.PodFailed))
	b, err := clientset.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	ExpectWithOffset(1, pod.Status.Phase).To(Equal(corev1.PodSucceeded), fmt.Sprintf("pod %s: %s", name, b))
	return string(b)
}

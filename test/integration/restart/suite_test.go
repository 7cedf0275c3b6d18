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

package restart

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/controllers"
	"kickq.dev/kickq/test/util"
)

// This suite stops and starts managers against one API server: nothing a manager decided may be
// lost or done twice across a restart.

var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	scheme    = util.NewScheme()
	ctx       context.Context
	cancel    context.CancelFunc
)

func TestRestart(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Restart suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	var err error
	testEnv, cfg, k8sClient, err = util.Start(scheme)
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	cancel()
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// manager is one running manager; stop waits until it has stopped.
type manager struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (m *manager) stop() {
	m.cancel()
	Eventually(m.done, util.Timeout).Should(BeClosed())
}

// startManager runs a manager with the real clock; funcs, when set, intercept its writes.
func startManager(funcs *interceptor.Funcs) *manager {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{MaxConcurrentReconciles: 4, SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	opts := controllers.Options{}
	if funcs != nil {
		base, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme, Cache: &client.CacheOptions{Reader: mgr.GetCache()}})
		Expect(err).NotTo(HaveOccurred())
		opts.Client = interceptor.NewClient(base, *funcs)
	}
	mctx, mcancel := context.WithCancel(ctx)
	_, err = controllers.Setup(mctx, mgr, opts)
	Expect(err).NotTo(HaveOccurred())
	m := &manager{cancel: mcancel, done: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(m.done)
		Expect(mgr.Start(mctx)).To(Succeed())
	}()
	return m
}

func newNamespace() string {
	ns, err := util.NewNamespace(ctx, k8sClient, "restart")
	Expect(err).NotTo(HaveOccurred())
	return ns
}

func podJob(ns, name, queue string) *kickqv1alpha1.QueueJob {
	return &kickqv1alpha1.QueueJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kickqv1alpha1.QueueJobSpec{QueueName: queue, Pod: &kickqv1alpha1.PodTarget{Template: corev1.PodTemplateSpec{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}}},
	}
}

// kubelet completes every pod of the namespace that has not ended, until stopped.
func kubelet(ns string) (stop func()) {
	kctx, kcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer GinkgoRecover()
		defer wg.Done()
		for kctx.Err() == nil {
			var pods corev1.PodList
			if err := k8sClient.List(kctx, &pods, client.InNamespace(ns)); err == nil {
				for i := range pods.Items {
					p := &pods.Items[i]
					if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
						continue
					}
					p.Status.Phase = corev1.PodSucceeded
					p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
						Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}}}
					_ = k8sClient.Status().Update(kctx, p)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() { kcancel(); wg.Wait() }
}

var _ = Describe("Restart safety", func() {
	It("creates exactly one pod for an attempt recorded by a manager that stopped before creating it", func() {
		ns := newNamespace()
		var once sync.Once
		recorded := make(chan struct{})
		// The first manager records the attempt, then "dies" before its pod exists: its pod
		// creates fail, and the test stops it as soon as the attempt is recorded.
		failing := startManager(&interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
				if _, ok := o.(*corev1.Pod); ok {
					once.Do(func() { close(recorded) })
					return errors.New("injected: the manager stopped before creating the pod")
				}
				return c.Create(ctx, o, opts...)
			},
		})
		Expect(k8sClient.Create(ctx, podJob(ns, "survivor", "default"))).To(Succeed())
		Eventually(recorded, util.Timeout).Should(BeClosed())
		failing.stop()

		var j kickqv1alpha1.QueueJob
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "survivor"}, &j)).To(Succeed())
		Expect(j.Status.Phase).To(Equal(kickqv1alpha1.PhaseRunning), "the attempt was recorded before its pod")
		Expect(j.Status.Attempts).To(Equal(int32(1)))
		var pods corev1.PodList
		Expect(k8sClient.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
		Expect(pods.Items).To(BeEmpty())

		next := startManager(nil)
		defer next.stop()
		Eventually(func() []string {
			var l corev1.PodList
			Expect(k8sClient.List(ctx, &l, client.InNamespace(ns))).To(Succeed())
			var names []string
			for _, p := range l.Items {
				names = append(names, p.Name)
			}
			return names
		}, util.Timeout, util.Interval).Should(Equal([]string{"survivor-1"}))
		Consistently(func() int32 {
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "survivor"}, &j)).To(Succeed())
			return j.Status.Attempts
		}, util.ConsistentDuration, util.Interval).Should(Equal(int32(1)), "the recorded attempt is resumed, not a new one")
	})

	It("finishes every job of a 100-job run across a stop and start, with one pod per attempt", func() {
		ns := newNamespace()
		Expect(k8sClient.Create(ctx, &kickqv1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "bulk", Namespace: ns},
			Spec: kickqv1alpha1.QueueSpec{Concurrency: ptr.To[int32](10)}})).To(Succeed())
		first := startManager(nil)
		stopKubelet := kubelet(ns)
		defer stopKubelet()
		for i := 0; i < 100; i++ {
			Expect(k8sClient.Create(ctx, podJob(ns, fmt.Sprintf("job-%03d", i), "bulk"))).To(Succeed())
		}
		succeeded := func() int {
			var l kickqv1alpha1.QueueJobList
			Expect(k8sClient.List(ctx, &l, client.InNamespace(ns))).To(Succeed())
			n := 0
			for _, j := range l.Items {
				if j.Status.Phase == kickqv1alpha1.PhaseSucceeded {
					n++
				}
			}
			return n
		}
		Eventually(succeeded, util.Timeout, util.Interval).Should(BeNumerically(">=", 30))
		first.stop()
		AddReportEntry("succeeded when the first manager stopped", succeeded())
		second := startManager(nil)
		defer second.stop()
		Eventually(succeeded, 60*time.Second, util.Interval).Should(Equal(100))

		var jobs kickqv1alpha1.QueueJobList
		Expect(k8sClient.List(ctx, &jobs, client.InNamespace(ns))).To(Succeed())
		var pods corev1.PodList
		Expect(k8sClient.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
		podsOf := map[string]int{}
		for _, p := range pods.Items {
			podsOf[p.Labels[kickqv1alpha1.LabelJob]]++
		}
		for _, j := range jobs.Items {
			Expect(j.Status.Attempts).To(Equal(int32(1)), "job %s", j.Name)
			Expect(podsOf[j.Name]).To(Equal(1), "job %s has one pod for its one attempt", j.Name)
		}
	})
})

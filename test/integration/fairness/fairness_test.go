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

package fairness

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
	"kickq.dev/kickq/test/util/suite"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

// statusWrites records the order of a manager's QueueJob status writes and holds the first write
// of a job in namespace held until release is closed.
type statusWrites struct {
	mu      sync.Mutex
	order   []string
	held    string
	release chan struct{}
	blocked chan struct{} // closed when the held write is waiting
	once    sync.Once
	freed   sync.Once
}

// free lets the held write go on.
func (s *statusWrites) free() { s.freed.Do(func() { close(s.release) }) }

func (s *statusWrites) intercept() *interceptor.Funcs {
	return &interceptor.Funcs{SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
		if _, ok := o.(*kickqv1alpha1.QueueJob); ok && sub == "status" {
			if o.GetNamespace() == s.held {
				s.once.Do(func() {
					close(s.blocked)
					<-s.release
				})
			}
			s.mu.Lock()
			s.order = append(s.order, o.GetNamespace()+"/"+o.GetName())
			s.mu.Unlock()
		}
		return c.SubResource(sub).Update(ctx, o, opts...)
	}}
}

// firstWrite is the position of the first status write of ns/name (-1: none yet).
func (s *statusWrites) firstWrite(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.order {
		if k == key {
			return i
		}
	}
	return -1
}

// queueDepth is the queuejob controller's workqueue_depth, from the metrics registry every
// manager of this process reports to.
func queueDepth() float64 {
	GinkgoHelper()
	families, err := ctrlmetrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	var sum float64
	for _, f := range families {
		if f.GetName() != "workqueue_depth" {
			continue
		}
		for _, m := range f.GetMetric() {
			if label(m, "name") == "queuejob" {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

var _ = Describe("Reconcile fairness", func() {
	It("serves another namespace's new job after one job of a namespace with a backlog", func(ctx SpecContext) {
		const n = 50
		nsA, nsB := env.NewNamespace(), env.NewNamespace()
		w := &statusWrites{held: nsA, release: make(chan struct{}), blocked: make(chan struct{})}
		// One worker: while it is held in A's first write, A's other jobs and then B's queue up
		// behind it, in that order, as when A creates jobs faster than the manager reconciles.
		m := env.StartManager(suite.ManagerOptions{Workers: 1, Intercept: w.intercept()})
		DeferCleanup(m.Stop)
		DeferCleanup(w.free) // before the manager stops
		depth := queueDepth()

		Expect(env.Client.Create(ctx, utiltesting.MakeQueueJob("a-0", nsA).Worker().Obj())).To(Succeed())
		Eventually(w.blocked, util.Timeout).Should(BeClosed())
		for i := 1; i < n; i++ {
			Expect(env.Client.Create(ctx, utiltesting.MakeQueueJob(fmt.Sprintf("a-%d", i), nsA).Worker().Obj())).To(Succeed())
		}
		Eventually(queueDepth, util.Timeout, util.Interval).Should(Equal(depth + n - 1))
		Expect(env.Client.Create(ctx, utiltesting.MakeQueueJob("b", nsB).Worker().Obj())).To(Succeed())
		Eventually(queueDepth, util.Timeout, util.Interval).Should(Equal(depth + n))

		w.free()
		Eventually(func() int { return w.firstWrite(nsB + "/b") }, util.Timeout, util.Interval).Should(BeNumerically(">=", 0))
		// a-0 (held), a-1 (A's turn), then b; a FIFO queue would write all 50 of A's first.
		Expect(w.firstWrite(nsB+"/b")).To(BeNumerically("<=", 2), "status writes: %v", w.order)
	})
})

// hangingReceiver holds every call until it is closed and counts them.
type hangingReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	calls int
	stop  chan struct{}
}

func newHangingReceiver() *hangingReceiver {
	h := &hangingReceiver{stop: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.calls++
		h.mu.Unlock()
		select {
		case <-h.stop:
		case <-r.Context().Done():
		}
	}))
	return h
}

func (h *hangingReceiver) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

func (h *hangingReceiver) close() {
	close(h.stop)
	h.Close()
}

var _ = Describe("Webhook fairness", func() {
	// A real-clock measure with slack for this machine: the target is about a second.
	const slack = 5 * time.Second

	It("makes another namespace's call while 40 calls of one namespace hang", func(ctx SpecContext) {
		nsA, nsB := env.NewNamespace(), env.NewNamespace()
		m := env.StartManager(suite.ManagerOptions{AllowLoopback: true})
		DeferCleanup(m.Stop)
		hang := newHangingReceiver()
		DeferCleanup(hang.close) // before the manager stops: its calls end
		var mu sync.Mutex
		var arrived time.Time
		fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			mu.Lock()
			if arrived.IsZero() {
				arrived = time.Now()
			}
			mu.Unlock()
			w.WriteHeader(http.StatusOK)
		}))
		DeferCleanup(fast.Close)

		for i := range 40 {
			Expect(env.Client.Create(ctx, utiltesting.MakeQueueJob(fmt.Sprintf("hung-%d", i), nsA).
				Webhook(hang.URL, utiltesting.WithTimeout(600*time.Second)).Obj())).To(Succeed())
		}
		// A's calls are made (as many as the pool lets one namespace make) and hang.
		// Settled: the receiver's count is above zero and did not change over half a second.
		last := -1
		Eventually(func() bool {
			c := hang.count()
			settled := c > 0 && c == last
			last = c
			return settled
		}, util.Timeout, 500*time.Millisecond).Should(BeTrue())
		hung := hang.count()

		created := time.Now()
		Expect(env.Client.Create(ctx, utiltesting.MakeQueueJob("b", nsB).Webhook(fast.URL).Obj())).To(Succeed())
		Eventually(func() bool { mu.Lock(); defer mu.Unlock(); return !arrived.IsZero() }, util.Timeout, util.Interval).Should(BeTrue(),
			"B's call was not made while %d of A's calls hang", hung)
		mu.Lock()
		took := arrived.Sub(created)
		mu.Unlock()
		AddReportEntry("B create → B's call at its receiver", took.String())
		GinkgoWriter.Printf("B's call arrived %s after its create, with %d of A's calls hanging\n", took, hung)
		Expect(took).To(BeNumerically("<", slack))
	})
})

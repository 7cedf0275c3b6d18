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
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

var _ = Describe("A rate-limited queue of webhook jobs", func() {
	It("never lets its receiver see more calls than the limit in a window, while the call pool holds calls back and across a restart", func() {
		ns := env.NewNamespace()
		const (
			jobs   = 15
			limit  = 5
			period = 4 * time.Second
		)
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueue("limited", ns).Rate(limit, 4).Obj())).To(Succeed())
		// The receiver notes each call's time on the manager's (fake) clock. The first four calls
		// hang until released: they hold the namespace's share of the pool (half of its 8
		// workers), so the fifth admitted call waits in the pool, past its window.
		var (
			mu      sync.Mutex
			calls   []time.Time
			hanging atomic.Int32
		)
		release := make(chan struct{})
		handler := func(w http.ResponseWriter, _ *http.Request) {
			mu.Lock()
			calls = append(calls, env.Clock.Now())
			mu.Unlock()
			if hanging.Add(1) <= 4 {
				<-release
			}
			w.WriteHeader(http.StatusOK)
		}
		received := func() []time.Time {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(calls)
		}
		names := make([]string, jobs)
		for i := range names {
			names[i] = fmt.Sprintf("call-%02d", i)
			sink.answer(ns, names[i], handler)
			Expect(env.Client.Create(env.Ctx, webhookJob(ns, names[i]).Queue("limited").Obj())).To(Succeed())
		}
		DeferCleanup(func() {
			select {
			case <-release:
			default:
				close(release)
			}
		})
		// status reads every job: how many run and have succeeded, and the starts status records.
		status := func() (running, succeeded int, starts []time.Time) {
			var l kickqv1alpha1.QueueJobList
			Expect(env.Client.List(env.Ctx, &l, client.InNamespace(ns))).To(Succeed())
			for _, j := range l.Items {
				switch j.Status.Phase {
				case kickqv1alpha1.PhaseRunning:
					running++
				case kickqv1alpha1.PhaseSucceeded:
					succeeded++
				}
				for _, a := range j.Status.AttemptHistory {
					if a.StartTime != nil {
						starts = append(starts, a.StartTime.Time)
					}
				}
			}
			return running, succeeded, starts
		}
		// check holds the limit on every observed state: at the receiver and in the recorded starts.
		check := func(g Gomega) {
			g.Expect(util.OverLimit(received(), limit, period)).To(BeEmpty(), "calls at the receiver")
			_, _, starts := status()
			g.Expect(util.OverLimit(starts, limit, period)).To(BeEmpty(), "starts recorded in status")
		}

		Eventually(func() int { r, _, _ := status(); return r }, timeout, interval).Should(Equal(limit))
		Eventually(func() int { return len(received()) }, timeout, interval).Should(Equal(4))
		Consistently(func() int { return len(received()) }, 300*time.Millisecond, interval).Should(Equal(4), "the fifth call waits for a worker of its namespace")
		check(Default)

		// The window passes: five more are admitted and called. The held fifth call's window
		// is over, and the new ones hold the slots: it is not made with them.
		env.Clock.Step(period)
		Eventually(func() int { r, _, _ := status(); return r }, timeout, interval).Should(Equal(2 * limit))
		close(release)
		Eventually(func() int { return len(received()) }, timeout, interval).Should(Equal(4 + limit))
		Consistently(func() int { return len(received()) }, 300*time.Millisecond, interval).Should(Equal(4 + limit))
		check(Default)

		// A restart: the new manager rebuilds the window from status, calls the held one again
		// when a slot is free, and the rest follow.
		env.RestartManager()
		for step := 0; ; step++ {
			Expect(step).To(BeNumerically("<", 40), "all jobs finish within 40 fake seconds")
			// Let the manager act on this second, then check what it did.
			Consistently(check, 150*time.Millisecond, interval).Should(Succeed())
			if _, done, _ := status(); done == jobs {
				break
			}
			env.Clock.Step(time.Second)
		}
		check(Default)
		got := received()
		Expect(len(got)).To(BeNumerically(">=", jobs))
		AddReportEntry("calls at the receiver (fake seconds after the first)", func() []string {
			slices.SortFunc(got, time.Time.Compare)
			var out []string
			for _, t := range got {
				out = append(out, t.Sub(got[0]).String())
			}
			return out
		}())
	})
})

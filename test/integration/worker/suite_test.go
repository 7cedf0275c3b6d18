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
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/pkg/kickq"
	"kickq.dev/kickq/test/util"
	"kickq.dev/kickq/test/util/suite"
)

// This suite runs pull workers (pkg/kickq) in-process against the manager's controllers and a
// real API server, workers and manager on one fake clock: Lease renewals, lease expiry, grace
// periods and backoff move only when a spec steps it.

var (
	writes = util.NewWriteCounter()
	env    = suite.New(suite.Options{Name: "wk", FakeClock: true,
		Manager: &suite.ManagerOptions{Workers: 4, Writes: writes}})
)

func TestWorker(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Pull worker suite")
}

// workerRun is a worker running in the background.
type workerRun struct {
	*kickq.Worker
	stop context.CancelFunc
	done chan error
	// writes counts the worker's API writes (POST, PUT, PATCH, DELETE), Lease renewals included.
	writes *atomic.Int64
	opts   kickq.WorkerOptions
}

// startWorker runs a worker on the suite's fake clock until the spec ends (or Stop).
func startWorker(o kickq.WorkerOptions, handlers map[string]kickq.HandlerFunc) *workerRun {
	GinkgoHelper()
	return startWorkerAs(env.Config, o, handlers)
}

// startWorkerAs is startWorker with the API server reached as base says (another user).
func startWorkerAs(base *rest.Config, o kickq.WorkerOptions, handlers map[string]kickq.HandlerFunc) *workerRun {
	GinkgoHelper()
	o.Clock = env.Clock
	cfg, n := countingConfig(base)
	w, err := kickq.NewWorker(cfg, o)
	Expect(err).NotTo(HaveOccurred())
	for typ, h := range handlers {
		w.Handle(typ, h)
	}
	ctx, cancel := context.WithCancel(env.Ctx)
	r := &workerRun{Worker: w, stop: cancel, done: make(chan error, 1), writes: n, opts: o}
	go func() { r.done <- w.Run(ctx) }()
	DeferCleanup(func() {
		cancel()
		// A worker still draining (its grace period on the fake clock) is left to the suite's end.
	})
	return r
}

// countingConfig is cfg with the worker's API writes counted.
func countingConfig(cfg *rest.Config) (*rest.Config, *atomic.Int64) {
	c := rest.CopyConfig(cfg)
	n := &atomic.Int64{}
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method != http.MethodGet {
				n.Add(1)
			}
			return rt.RoundTrip(req)
		})
	})
	return c, n
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func getJob(ns, name string) *kickqv1alpha1.QueueJob {
	GinkgoHelper()
	var j kickqv1alpha1.QueueJob
	Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j)).To(Succeed())
	return &j
}

func phaseOf(ns, name string) func() kickqv1alpha1.QueueJobPhase {
	return func() kickqv1alpha1.QueueJobPhase {
		var j kickqv1alpha1.QueueJob
		if err := env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j); err != nil {
			return ""
		}
		return j.Status.Phase
	}
}

func expectPhase(ns, name string, p kickqv1alpha1.QueueJobPhase) *kickqv1alpha1.QueueJob {
	GinkgoHelper()
	Eventually(phaseOf(ns, name), util.Timeout, util.Interval).Should(Equal(p))
	return getJob(ns, name)
}

// attempt is the record of the job's attempt n (nil: none).
func attempt(j *kickqv1alpha1.QueueJob, n int32) *kickqv1alpha1.AttemptRecord {
	for i := range j.Status.AttemptHistory {
		if j.Status.AttemptHistory[i].Number == n {
			return &j.Status.AttemptHistory[i]
		}
	}
	return nil
}

// claimedBy polls who claimed the job's attempt n.
func claimedBy(ns, name string, n int32) func() string {
	return func() string {
		var j kickqv1alpha1.QueueJob
		if err := env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j); err != nil {
			return ""
		}
		if a := attempt(&j, n); a != nil {
			return a.Worker
		}
		return ""
	}
}

// renewal is how often a worker with the default lease duration renews its Lease.
const renewal = kickq.DefaultLeaseDuration / 3

// stepLive moves the fake clock by d in steps of one renewal period, waiting after each until the
// running workers' Leases show the renewal: time passes as in a real run, where a live worker's
// Lease never lapses. (One big step would expire every Lease before a worker could renew it.)
func stepLive(d time.Duration, workers ...*workerRun) {
	GinkgoHelper()
	for d > 0 {
		s := min(d, renewal)
		env.Clock.Step(s)
		d -= s
		now := env.Clock.Now()
		for _, w := range workers {
			Eventually(func() bool {
				var l coordinationv1.Lease
				err := env.Client.Get(env.Ctx, client.ObjectKey{Namespace: w.opts.Namespace, Name: w.Name()}, &l)
				if apierrors.IsNotFound(err) {
					return true // stopped
				}
				return err == nil && s < renewal || (l.Spec.RenewTime != nil && !l.Spec.RenewTime.Time.Before(now))
			}, util.Timeout, util.Interval).Should(BeTrue(), "worker %s renews its lease", w.Name())
		}
	}
}

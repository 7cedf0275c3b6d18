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
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/pkg/kickq"
	"kickq.dev/kickq/test/util"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

// workerQueue is a queue whose types report and email run on pull workers.
func workerQueue(ns string) *utiltesting.QueueWrapper {
	w := kickqv1alpha1.HandlerSpec{Worker: &kickqv1alpha1.WorkerTarget{}}
	return utiltesting.MakeQueue("default", ns).Handler("report", w).Handler("email", w)
}

var _ = Describe("Pull workers", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("claims an admitted attempt of its type, runs it and records the claim, progress, logs and result", func() {
		Expect(env.Client.Create(env.Ctx, workerQueue(ns).Obj())).To(Succeed())
		job := utiltesting.MakeQueueJob("r1", ns).Type("report").Data(map[string]any{"pages": 10}).Obj()
		Expect(env.Client.Create(env.Ctx, job)).To(Succeed())
		var sawWaiting string
		Eventually(func() string {
			j := getJob(ns, "r1")
			sawWaiting = j.Status.Message
			return string(j.Status.Phase)
		}, util.Timeout, util.Interval).Should(Equal("Running"))
		Expect(sawWaiting).To(Equal("attempt 1 waiting for a pull worker to claim it"), "admitted, not claimed: no worker runs yet")

		w := startWorker(kickq.WorkerOptions{Namespace: ns, Identity: "report-pod-1"}, map[string]kickq.HandlerFunc{
			"report": func(_ context.Context, t *kickq.Task) (any, error) {
				var in struct{ Pages int }
				if err := t.Data(&in); err != nil {
					return nil, kickq.Die(err)
				}
				t.Progress(40, "4/10 pages")
				t.Log("rendered page 4")
				return map[string]int{"rendered": in.Pages}, nil
			}})
		Expect(w.Name()).To(MatchRegexp(`^report-pod-1-[a-z0-9]{5}$`))
		j := expectPhase(ns, "r1", kickqv1alpha1.PhaseSucceeded)
		a := attempt(j, 1)
		Expect(a.Worker).To(Equal(w.Name()))
		Expect(a.TargetKind).To(Equal("Worker"))
		Expect(a.Outcome).To(Equal(kickqv1alpha1.OutcomeSucceed))
		Expect(j.Status.Result.Raw).To(MatchJSON(`{"rendered": 10}`))
		Expect(j.Status.Progress).To(Equal(&kickqv1alpha1.Progress{Percent: 40, Message: "4/10 pages"}))
		var lines []string
		for _, l := range j.Status.Logs {
			lines = append(lines, l.Message)
		}
		Expect(lines).To(ContainElements("attempt 1 claimed by worker "+w.Name(), "rendered page 4", "attempt 1 succeeded"))

		By("the worker's Lease exists while it runs, and is deleted when it stops")
		var lease coordinationv1.Lease
		Expect(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: w.Name()}, &lease)).To(Succeed())
		Expect(lease.Labels).To(HaveKeyWithValue(kickqv1alpha1.LabelWorker, "true"))
		Expect(*lease.Spec.LeaseDurationSeconds).To(Equal(int32(15)))
		w.stop()
		Eventually(w.done, util.Timeout).Should(Receive(BeNil()))
		Expect(apierrors.IsNotFound(env.Client.Get(env.Ctx, client.ObjectKeyFromObject(&lease), &lease))).To(BeTrue())
	})

	It("never runs more tasks than the queue's concurrency (3) with 4 workers × concurrency 4, and runs each attempt once", func() {
		Expect(env.Client.Create(env.Ctx, workerQueue(ns).Concurrency(3).Obj())).To(Succeed())
		const jobs = 24
		var running, maxRunning atomic.Int32
		var mu sync.Mutex
		runs := map[string]int{}
		release := make(chan struct{})
		var releaseMu sync.Mutex
		current := func() chan struct{} { releaseMu.Lock(); defer releaseMu.Unlock(); return release }
		h := func(ctx context.Context, t *kickq.Task) (any, error) {
			n := running.Add(1)
			defer running.Add(-1)
			for m := maxRunning.Load(); n > m && !maxRunning.CompareAndSwap(m, n); m = maxRunning.Load() {
			}
			mu.Lock()
			runs[fmt.Sprintf("%s/%d", t.Name, t.Attempt)]++
			mu.Unlock()
			select {
			case <-current():
			case <-ctx.Done():
			}
			return nil, nil
		}
		for i := range 4 {
			startWorker(kickq.WorkerOptions{Namespace: ns, Concurrency: 4, Identity: fmt.Sprintf("w%d", i)},
				map[string]kickq.HandlerFunc{"report": h, "email": h})
		}
		// Every state the API server shows has at most 3 Running jobs.
		var list kickqv1alpha1.QueueJobList
		Expect(env.Client.List(env.Ctx, &list, client.InNamespace(ns))).To(Succeed())
		wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
		Expect(err).NotTo(HaveOccurred())
		wi, err := wc.Watch(env.Ctx, &kickqv1alpha1.QueueJobList{}, client.InNamespace(ns),
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
		Expect(err).NotTo(HaveOccurred())
		defer wi.Stop()
		phases := map[string]kickqv1alpha1.QueueJobPhase{}
		var maxObserved atomic.Int32
		go func() {
			defer GinkgoRecover()
			for ev := range wi.ResultChan() {
				j, ok := ev.Object.(*kickqv1alpha1.QueueJob)
				if !ok {
					continue
				}
				phases[j.Name] = j.Status.Phase
				n := int32(0)
				for _, p := range phases {
					if p == kickqv1alpha1.PhaseRunning {
						n++
					}
				}
				if n > maxObserved.Load() {
					maxObserved.Store(n)
				}
			}
		}()
		for i := range jobs {
			typ := []string{"report", "email"}[i%2]
			Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob(fmt.Sprintf("j%02d", i), ns).Type(typ).Obj())).To(Succeed())
		}
		for round := range jobs / 3 {
			Eventually(running.Load, util.Timeout, util.Interval).Should(BeNumerically("==", 3), "round %d: the queue's 3 slots fill", round)
			releaseMu.Lock()
			close(release)
			release = make(chan struct{})
			releaseMu.Unlock()
			Eventually(running.Load, util.Timeout, util.Interval).Should(BeNumerically("<", 3))
		}
		Eventually(func() int {
			var l kickqv1alpha1.QueueJobList
			Expect(env.Client.List(env.Ctx, &l, client.InNamespace(ns))).To(Succeed())
			n := 0
			for _, j := range l.Items {
				if j.Status.Phase == kickqv1alpha1.PhaseSucceeded {
					n++
				}
			}
			return n
		}, util.Timeout, util.Interval).Should(Equal(jobs))
		Expect(maxRunning.Load()).To(BeNumerically("<=", 3), "tasks running at once")
		Expect(maxObserved.Load()).To(BeNumerically("<=", 3), "Running jobs in any observed state")
		mu.Lock()
		defer mu.Unlock()
		Expect(runs).To(HaveLen(jobs))
		for k, n := range runs {
			Expect(n).To(Equal(1), "attempt %s ran %d times", k, n)
		}
	})

	It("applies Die, RetryAfter (uncounted) and a counted failure (retry policy) as the handler returns them", func() {
		Expect(env.Client.Create(env.Ctx, workerQueue(ns).Obj())).To(Succeed())
		boom := errors.New("boom")
		w := startWorker(kickq.WorkerOptions{Namespace: ns, Concurrency: 4}, map[string]kickq.HandlerFunc{
			"report": func(_ context.Context, t *kickq.Task) (any, error) {
				switch {
				case t.Name == "dies":
					return nil, kickq.Die(errors.New("bad input"))
				case t.Name == "busy" && t.Attempt == 1:
					return nil, kickq.RetryAfter(time.Minute, errors.New("rate limited"))
				case t.Name == "flaky":
					return nil, boom
				}
				return "ok", nil
			}})
		for _, name := range []string{"dies", "busy"} {
			Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob(name, ns).Type("report").Obj())).To(Succeed())
		}
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("flaky", ns).Type("report").
			Retry(1, utiltesting.FixedBackoff(10*time.Second)).Obj())).To(Succeed())

		j := expectPhase(ns, "dies", kickqv1alpha1.PhaseFailed)
		Expect(j.Status.Reason).To(Equal(kickqv1alpha1.ReasonDied))
		Expect(j.Status.Attempts).To(Equal(int32(1)))
		Expect(attempt(j, 1).Message).To(Equal("bad input"))

		j = expectPhase(ns, "busy", kickqv1alpha1.PhaseDelayed)
		Expect(j.Status.FailedAttempts).To(BeZero(), "RetryAfter is not counted")
		Expect(attempt(j, 1).Reason).To(Equal(kickqv1alpha1.AttemptReasonRetryAfter))
		Expect(j.Status.NextAttemptTime.Time).To(BeTemporally(">=", attempt(j, 1).FinishTime.Add(59*time.Second)))

		j = expectPhase(ns, "flaky", kickqv1alpha1.PhaseDelayed)
		Expect(j.Status.FailedAttempts).To(Equal(int32(1)))
		Expect(attempt(j, 1).Reason).To(Equal(kickqv1alpha1.AttemptReasonHandlerError))

		stepLive(time.Minute, w)
		j = expectPhase(ns, "busy", kickqv1alpha1.PhaseSucceeded)
		Expect(j.Status.Attempts).To(Equal(int32(2)))
		Expect(j.Status.FailedAttempts).To(BeZero())
		j = expectPhase(ns, "flaky", kickqv1alpha1.PhaseFailed)
		Expect(j.Status.Reason).To(Equal(kickqv1alpha1.ReasonRetriesExhausted))
		Expect(j.Status.FailedAttempts).To(Equal(int32(2)))
	})

	It("fails an attempt whose handler panics with the panic's message, and goes on", func() {
		Expect(env.Client.Create(env.Ctx, workerQueue(ns).Obj())).To(Succeed())
		startWorker(kickq.WorkerOptions{Namespace: ns}, map[string]kickq.HandlerFunc{
			"report": func(_ context.Context, t *kickq.Task) (any, error) {
				if t.Attempt == 1 {
					var pages []int
					_ = pages[t.Attempt] // a bug: index out of range
				}
				return "second time lucky", nil
			}})
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("p", ns).Type("report").
			Retry(2, utiltesting.FixedBackoff(time.Second)).Obj())).To(Succeed())
		j := expectPhase(ns, "p", kickqv1alpha1.PhaseDelayed)
		Expect(attempt(j, 1).Reason).To(Equal(kickqv1alpha1.AttemptReasonHandlerPanic))
		Expect(attempt(j, 1).Message).To(ContainSubstring("handler panicked: runtime error: index out of range [1] with length 0"))
		Expect(j.Status.FailedAttempts).To(Equal(int32(1)))
		env.Clock.Step(time.Second)
		j = expectPhase(ns, "p", kickqv1alpha1.PhaseSucceeded)
		Expect(j.Status.Result.Raw).To(MatchJSON(`"second time lucky"`))
	})

	It("fails the attempts of a worker whose Lease expires as WorkerLost (counted), and another worker runs the retry", func() {
		Expect(env.Client.Create(env.Ctx, workerQueue(ns).Obj())).To(Succeed())
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("l", ns).Type("report").
			Retry(3, utiltesting.FixedBackoff(5*time.Second)).Obj())).To(Succeed())
		expectPhase(ns, "l", kickqv1alpha1.PhaseRunning)

		By("a worker that claims the attempt and is then killed: its Lease is never renewed")
		now := metav1.NewMicroTime(env.Clock.Now())
		Expect(env.Client.Create(env.Ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "killed-x2b4c", Labels: map[string]string{kickqv1alpha1.LabelWorker: "true"}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("killed-x2b4c"), LeaseDurationSeconds: ptr.To[int32](15),
				AcquireTime: &now, RenewTime: &now}})).To(Succeed())
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			j := getJob(ns, "l")
			attempt(j, 1).Worker = "killed-x2b4c"
			hb := metav1.NewTime(env.Clock.Now())
			j.Status.LastHeartbeatTime = &hb
			return env.Client.Status().Update(env.Ctx, j)
		})).To(Succeed())
		Consistently(phaseOf(ns, "l"), util.ConsistentDuration, util.Interval).Should(Equal(kickqv1alpha1.PhaseRunning),
			"the Lease has not expired on the manager's clock")

		env.Clock.Step(15 * time.Second)
		j := expectPhase(ns, "l", kickqv1alpha1.PhaseDelayed)
		a := attempt(j, 1)
		Expect(a.Reason).To(Equal(kickqv1alpha1.AttemptReasonWorkerLost))
		Expect(a.Outcome).To(Equal(kickqv1alpha1.OutcomeFail))
		Expect(a.Message).To(ContainSubstring("the Lease of worker killed-x2b4c expired"))
		Expect(j.Status.FailedAttempts).To(Equal(int32(1)), "WorkerLost is a counted failure")

		w := startWorker(kickq.WorkerOptions{Namespace: ns}, map[string]kickq.HandlerFunc{
			"report": func(context.Context, *kickq.Task) (any, error) { return nil, nil }})
		env.Clock.Step(5 * time.Second)
		j = expectPhase(ns, "l", kickqv1alpha1.PhaseSucceeded)
		Expect(attempt(j, 2).Worker).To(Equal(w.Name()))
	})

	It("releases unfinished tasks when it stops, after its grace period (WorkerReleased, not counted)", func() {
		Expect(env.Client.Create(env.Ctx, workerQueue(ns).Obj())).To(Succeed())
		started := make(chan struct{}, 1)
		var cause atomic.Value
		a := startWorker(kickq.WorkerOptions{Namespace: ns, GracePeriod: 20 * time.Second}, map[string]kickq.HandlerFunc{
			"report": func(ctx context.Context, _ *kickq.Task) (any, error) {
				started <- struct{}{}
				<-ctx.Done()
				cause.Store(context.Cause(ctx).Error())
				return nil, ctx.Err()
			}})
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("g", ns).Type("report").Obj())).To(Succeed())
		Eventually(started, util.Timeout).Should(Receive())
		a.stop()
		Consistently(phaseOf(ns, "g"), util.ConsistentDuration, util.Interval).Should(Equal(kickqv1alpha1.PhaseRunning),
			"a stopping worker lets its tasks run for the grace period")
		stepLive(20*time.Second, a)
		Eventually(a.done, util.Timeout).Should(Receive(BeNil()))
		Expect(cause.Load()).To(ContainSubstring("released"))
		j := expectPhase(ns, "g", kickqv1alpha1.PhaseDelayed)
		rec := attempt(j, 1)
		Expect(rec.Reason).To(Equal(kickqv1alpha1.AttemptReasonWorkerReleased))
		Expect(rec.Outcome).To(Equal(kickqv1alpha1.OutcomeRetry))
		Expect(j.Status.FailedAttempts).To(BeZero())
		Expect(apierrors.IsNotFound(env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: a.Name()}, &coordinationv1.Lease{}))).To(BeTrue())

		b := startWorker(kickq.WorkerOptions{Namespace: ns}, map[string]kickq.HandlerFunc{
			"report": func(context.Context, *kickq.Task) (any, error) { return nil, nil }})
		env.Clock.Step(time.Second)
		j = expectPhase(ns, "g", kickqv1alpha1.PhaseSucceeded)
		Expect(attempt(j, 2).Worker).To(Equal(b.Name()))
	})

	It("cancels a task's context when its job is cancelled or its attempt deadline passes", func() {
		Expect(env.Client.Create(env.Ctx, workerQueue(ns).Obj())).To(Succeed())
		causes := make(chan string, 2)
		w := startWorker(kickq.WorkerOptions{Namespace: ns, Concurrency: 2}, map[string]kickq.HandlerFunc{
			"report": func(ctx context.Context, t *kickq.Task) (any, error) {
				<-ctx.Done()
				causes <- t.Name + ": " + context.Cause(ctx).Error()
				return nil, ctx.Err()
			}})
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("c", ns).Type("report").Obj())).To(Succeed())
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob("d", ns).Type("report").AttemptDeadline(30*time.Second).Retry(0).Obj())).To(Succeed())
		Eventually(claimedBy(ns, "c", 1), util.Timeout, util.Interval).ShouldNot(BeEmpty())
		Eventually(claimedBy(ns, "d", 1), util.Timeout, util.Interval).ShouldNot(BeEmpty())

		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			j := getJob(ns, "c")
			j.Spec.Cancel = ptr.To(true)
			return env.Client.Update(env.Ctx, j)
		})).To(Succeed())
		Eventually(causes, util.Timeout).Should(Receive(HavePrefix("c: ")))
		Expect(getJob(ns, "c").Status.Reason).To(Equal(kickqv1alpha1.ReasonCancelled))

		stepLive(30*time.Second, w)
		Eventually(causes, util.Timeout).Should(Receive(HavePrefix("d: ")))
		j := expectPhase(ns, "d", kickqv1alpha1.PhaseFailed)
		Expect(attempt(j, 1).Reason).To(Equal(kickqv1alpha1.AttemptReasonAttemptDeadlineExceeded))
	})
})

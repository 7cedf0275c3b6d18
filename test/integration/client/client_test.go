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

package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/pkg/kickq"
	"kickq.dev/kickq/test/util"
)

// queue creates the namespace's default queue with handlers echo, gone and hold (see receiver),
// and retention, when given.
func queue(ctx context.Context, ns string, retention *kickqv1alpha1.Retention) {
	GinkgoHelper()
	hook := func(path string) kickqv1alpha1.HandlerSpec {
		return kickqv1alpha1.HandlerSpec{Webhook: &kickqv1alpha1.WebhookTarget{URL: sink.URL + path}}
	}
	q := &kickqv1alpha1.Queue{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: kickqv1alpha1.DefaultQueueName},
		Spec: kickqv1alpha1.QueueSpec{Retention: retention, Handlers: []kickqv1alpha1.Handler{
			{Type: "echo", HandlerSpec: hook("/echo")},
			{Type: "gone", HandlerSpec: hook("/gone")},
			{Type: "hold", HandlerSpec: hook("/hold/" + ns)},
		}},
	}
	Expect(env.Client.Create(ctx, q)).To(Succeed())
}

// watchingClient is the suite's live client as a client.WithWatch; opened receives once per
// watch Wait opens.
func watchingClient(opened chan<- struct{}) client.WithWatch {
	GinkgoHelper()
	c, err := client.NewWithWatch(env.Config, client.Options{Scheme: kickq.NewScheme()})
	Expect(err).NotTo(HaveOccurred())
	if opened == nil {
		return c
	}
	return interceptor.NewClient(c, interceptor.Funcs{Watch: func(ctx context.Context, c client.WithWatch, l client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
		opened <- struct{}{}
		return c.Watch(ctx, l, opts...)
	}})
}

var _ = Describe("Enqueue", func() {
	var (
		ctx context.Context
		ns  string
		kc  *kickq.Client
	)
	BeforeEach(func() {
		ctx, ns = env.Ctx, env.NewNamespace()
		kc = kickq.NewClientFrom(watchingClient(nil))
	})

	It("creates the QueueJob that the Job describes", func() {
		notBefore := env.Clock.Now().Add(time.Hour + 300*time.Millisecond)
		job, err := kc.Enqueue(ctx, kickq.Job{Namespace: ns, Type: "echo", Data: map[string]any{"to": "a@b.c"},
			Priority: 10, NotBefore: notBefore, Key: "customer-42", Batch: "import-1", Labels: map[string]string{"user-id": "42"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(job.Name).To(HavePrefix("echo-"))
		stored := &kickqv1alpha1.QueueJob{}
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(job), stored)).To(Succeed())
		Expect(stored.Spec.QueueName).To(Equal(kickqv1alpha1.DefaultQueueName))
		Expect(stored.Spec.Type).To(Equal("echo"))
		Expect(string(stored.Spec.Data.Raw)).To(MatchJSON(`{"to": "a@b.c"}`))
		Expect(stored.Spec.Priority).To(Equal(ptr.To[int32](10)))
		Expect(stored.Spec.Batch).To(Equal("import-1"))
		Expect(stored.Spec.Key).To(Equal("customer-42"))
		Expect(stored.Labels).To(HaveKeyWithValue("user-id", "42"))
		Expect(stored.Spec.NotBeforeTime.Time).To(Equal(notBefore.Truncate(time.Second).Add(time.Second)), "rounded up, never early")
	})

	It("is idempotent for a set Name: the second Enqueue returns the first job", func() {
		j := kickq.Job{Namespace: ns, Name: "welcome-42", Type: "echo", Data: map[string]any{"to": "a", "n": 1}, Delay: time.Hour}
		first, err := kc.Enqueue(ctx, j)
		Expect(err).NotTo(HaveOccurred())
		j.Data = map[string]any{"n": 1, "to": "a"}
		j.Priority = 7 // priority may change after creation: not a different request
		again, err := kc.Enqueue(ctx, j)
		Expect(err).NotTo(HaveOccurred())
		Expect(again.UID).To(Equal(first.UID))
		jobs := &kickqv1alpha1.QueueJobList{}
		Expect(env.Client.List(ctx, jobs, client.InNamespace(ns))).To(Succeed())
		Expect(jobs.Items).To(HaveLen(1))
	})

	It("returns the existing job unchanged and a SpecMismatchError when the request differs", func() {
		first, err := kc.Enqueue(ctx, kickq.Job{Namespace: ns, Name: "welcome-42", Type: "echo", Data: map[string]int{"n": 1}, Delay: time.Hour})
		Expect(err).NotTo(HaveOccurred())
		existing, err := kc.Enqueue(ctx, kickq.Job{Namespace: ns, Name: "welcome-42", Type: "gone", Data: map[string]int{"n": 2}, Delay: time.Hour})
		var mismatch *kickq.SpecMismatchError
		Expect(errors.As(err, &mismatch)).To(BeTrue(), "error %v", err)
		Expect(mismatch.Fields).To(Equal([]string{"spec.type", "spec.data"}))
		Expect(existing.UID).To(Equal(first.UID))
		Expect(existing.Spec.Type).To(Equal("echo"))
		Expect(string(existing.Spec.Data.Raw)).To(MatchJSON(`{"n": 1}`))
	})

	It("sets the job's key, which selects its jobs (spec.key), and refuses a key that is no label value before sending", func() {
		for i, key := range []string{"acme", "acme", "globex", ""} {
			_, err := kc.Enqueue(ctx, kickq.Job{Namespace: ns, Name: fmt.Sprintf("j-%d", i), Type: "echo", Key: key, Delay: time.Hour})
			Expect(err).NotTo(HaveOccurred())
		}
		jobs := &kickqv1alpha1.QueueJobList{}
		Expect(env.Client.List(ctx, jobs, client.InNamespace(ns), client.MatchingFields{"spec.key": "acme"})).To(Succeed())
		Expect(names(jobs.Items)).To(ConsistOf("j-0", "j-1"))

		existing, err := kc.Enqueue(ctx, kickq.Job{Namespace: ns, Name: "j-0", Type: "echo", Key: "globex", Delay: time.Hour})
		var mismatch *kickq.SpecMismatchError
		Expect(errors.As(err, &mismatch)).To(BeTrue(), "error %v", err)
		Expect(mismatch.Fields).To(Equal([]string{"spec.key"}))
		Expect(existing.Spec.Key).To(Equal("acme"))

		_, err = kc.Enqueue(ctx, kickq.Job{Namespace: ns, Name: "bad", Type: "echo", Key: "acme corp"})
		Expect(err).To(MatchError(ContainSubstring(`Job.Key "acme corp"`)))
		err = env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "bad"}, &kickqv1alpha1.QueueJob{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue())
	})

	It("makes a new job for every Enqueue without a Name", func() {
		for range 2 {
			_, err := kc.Enqueue(ctx, kickq.Job{Namespace: ns, Type: "echo", Delay: time.Hour})
			Expect(err).NotTo(HaveOccurred())
		}
		jobs := &kickqv1alpha1.QueueJobList{}
		Expect(env.Client.List(ctx, jobs, client.InNamespace(ns))).To(Succeed())
		Expect(jobs.Items).To(HaveLen(2))
	})

	It("refuses data that is not a JSON object before sending anything, and passes the API server's refusals on", func() {
		_, err := kc.Enqueue(ctx, kickq.Job{Namespace: ns, Name: "a", Type: "echo", Data: []string{"x"}})
		Expect(err).To(MatchError(ContainSubstring("must marshal to a JSON object, not an array")))
		err = env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a"}, &kickqv1alpha1.QueueJob{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue())

		_, err = kc.Enqueue(ctx, kickq.Job{Namespace: ns, Name: "b", Type: "not a type!"})
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "error %v", err)
		Expect(err).To(MatchError(ContainSubstring("spec.type")))
	})
})

var _ = Describe("Wait", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx, ns = env.Ctx, env.NewNamespace()
	})

	It("returns the result of a job that succeeds", func() {
		queue(ctx, ns, nil)
		kc := kickq.NewClientFrom(watchingClient(nil))
		job, err := kc.Enqueue(ctx, kickq.Job{Namespace: ns, Type: "echo", Data: map[string]any{"pages": 10}})
		Expect(err).NotTo(HaveOccurred())
		res, err := kc.Wait(ctx, ns, job.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Phase).To(Equal(kickqv1alpha1.PhaseSucceeded))
		Expect(res.Reason).To(Equal(kickqv1alpha1.ReasonCompleted))
		Expect(res.Attempts).To(Equal(int32(1)))
		var out struct{ Pages int }
		Expect(res.Into(&out)).To(Succeed())
		Expect(out.Pages).To(Equal(10))

		By("waiting again once it has finished")
		again, err := kc.Wait(ctx, ns, job.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(again.Result).To(MatchJSON(res.Result))
	})

	It("returns the result and a FailedError for a job that fails", func() {
		queue(ctx, ns, nil)
		kc := kickq.NewClientFrom(watchingClient(nil))
		job, err := kc.Enqueue(ctx, kickq.Job{Namespace: ns, Type: "gone"})
		Expect(err).NotTo(HaveOccurred())
		res, err := kc.Wait(ctx, ns, job.Name)
		var failed *kickq.FailedError
		Expect(errors.As(err, &failed)).To(BeTrue(), "error %v", err)
		Expect(res.Phase).To(Equal(kickqv1alpha1.PhaseFailed))
		Expect(failed.Reason).To(Equal(kickqv1alpha1.ReasonDied))
		Expect(failed.LastAttempt).NotTo(BeNil())
		Expect(failed.LastAttempt.HTTPStatusCode).To(Equal(ptr.To[int32](410)))
	})

	It("reports the outcome of a job that retention deletes the moment it finishes", func() {
		queue(ctx, ns, &kickqv1alpha1.Retention{Succeeded: &kickqv1alpha1.RetentionPolicy{TTLSecondsAfterFinished: ptr.To[int32](0)}})
		opened := make(chan struct{}, 4)
		kc := kickq.NewClientFrom(watchingClient(opened))
		job, err := kc.Enqueue(ctx, kickq.Job{Namespace: ns, Name: "report", Type: "hold"})
		Expect(err).NotTo(HaveOccurred())
		type outcome struct {
			res *kickq.Result
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			defer GinkgoRecover()
			res, err := kc.Wait(ctx, ns, job.Name)
			done <- outcome{res, err}
		}()
		Eventually(opened, util.Timeout).Should(Receive(), "Wait read the job and opened its watch")
		sink.release(ns)
		var got outcome
		Eventually(done, util.Timeout).Should(Receive(&got))
		Expect(got.err).NotTo(HaveOccurred())
		Expect(got.res.Phase).To(Equal(kickqv1alpha1.PhaseSucceeded))
		Expect(got.res.Result).To(MatchJSON(`"released"`))
		Eventually(func() bool {
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(job), &kickqv1alpha1.QueueJob{})
			return apierrors.IsNotFound(err)
		}, util.Timeout, util.Interval).Should(BeTrue(), "retention deleted the job")

		By("waiting for it once it is gone")
		_, err = kc.Wait(ctx, ns, job.Name)
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "error %v", err)
	})

	It("waits out a delay on the manager's clock", func() {
		queue(ctx, ns, nil)
		kc := kickq.NewClientFrom(watchingClient(nil))
		job, err := kc.Enqueue(ctx, kickq.Job{Namespace: ns, Type: "echo", Data: map[string]int{"n": 3}, Delay: 30 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		Expect(job.Spec.DelaySeconds).To(Equal(ptr.To[int32](30)))
		Eventually(func(g Gomega) {
			j := &kickqv1alpha1.QueueJob{}
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(job), j)).To(Succeed())
			g.Expect(j.Status.Phase).To(Equal(kickqv1alpha1.PhaseDelayed))
		}, util.Timeout, util.Interval).Should(Succeed())
		done := make(chan *kickq.Result, 1)
		go func() {
			defer GinkgoRecover()
			res, err := kc.Wait(ctx, ns, job.Name)
			Expect(err).NotTo(HaveOccurred())
			done <- res
		}()
		Consistently(done, util.ConsistentDuration).ShouldNot(Receive(), "the job is still delayed")
		env.Clock.Step(31 * time.Second)
		var res *kickq.Result
		Eventually(done, util.Timeout).Should(Receive(&res))
		Expect(res.Result).To(MatchJSON(`{"n": 3}`))
	})

	It("returns ctx.Err() when the context ends first", func() {
		kc := kickq.NewClientFrom(watchingClient(nil))
		job, err := kc.Enqueue(ctx, kickq.Job{Namespace: ns, Type: "echo", Delay: time.Hour})
		Expect(err).NotTo(HaveOccurred())
		wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err = kc.Wait(wctx, ns, job.Name)
		Expect(err).To(MatchError(context.DeadlineExceeded))
	})
})

// names are the jobs' names.
func names(jobs []kickqv1alpha1.QueueJob) []string {
	out := make([]string, len(jobs))
	for i := range jobs {
		out[i] = jobs[i].Name
	}
	return out
}

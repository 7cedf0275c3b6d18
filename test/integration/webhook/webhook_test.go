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
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

const (
	timeout  = 20 * time.Second
	interval = 25 * time.Millisecond
)

const hookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// signingLabel marks the suite's Secrets for signing: kickq signs with no other.
var signingLabel = map[string]string{kickqv1alpha1.LabelWebhookSigning: "true"}

// hookQueue is a queue whose "email" handler calls the suite's receiver at /jobs, and whose
// jobs' own URLs must start with one of prefixes (none: no such rule).
func hookQueue(ns, name string, prefixes ...string) *utiltesting.QueueWrapper {
	q := utiltesting.MakeQueue(name, ns).Handler("email", utiltesting.MakeHandler().Webhook(sink.URL+"/jobs").Obj())
	q.Spec.WebhookURLPrefixes = prefixes
	return q
}

// handlerJob is a job of type "email" run by its queue's handler (no inline target), with no retries.
func handlerJob(ns, name, queue string) *utiltesting.QueueJobWrapper {
	return utiltesting.MakeQueueJob(name, ns).Queue(queue).Type("email").Data(`{"to":"a@b.c"}`).Retry(0)
}

// webhookJob is a job with an inline webhook target on the suite's receiver and no retries.
func webhookJob(ns, name string, opts ...utiltesting.WebhookOption) *utiltesting.QueueJobWrapper {
	return utiltesting.MakeQueueJob(name, ns).Type("email").Data(`{"to":"a@b.c"}`).
		Webhook(sink.URL+"/jobs", opts...).Retry(0)
}

func getJob(ns, name string) *kickqv1alpha1.QueueJob {
	var j kickqv1alpha1.QueueJob
	ExpectWithOffset(1, env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j)).To(Succeed())
	return &j
}

func expectPhase(ns, name string, p kickqv1alpha1.QueueJobPhase) *kickqv1alpha1.QueueJob {
	EventuallyWithOffset(1, func() kickqv1alpha1.QueueJobPhase { return getJob(ns, name).Status.Phase }, timeout, interval).Should(Equal(p))
	return getJob(ns, name)
}

func waitDeliveries(ns, job string, n int) []delivery {
	EventuallyWithOffset(1, func() int { return len(sink.deliveries(ns, job)) }, timeout, interval).Should(BeNumerically(">=", n))
	return sink.deliveries(ns, job)
}

// postReport sends a report to the current manager's report API.
func postReport(ns, name, token, body string) (int, string) {
	req, err := http.NewRequest(http.MethodPost, env.Manager().Controllers.Endpoint.URL(ns, name), strings.NewReader(body))
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func lastAttempt(j *kickqv1alpha1.QueueJob) kickqv1alpha1.AttemptRecord {
	ExpectWithOffset(1, j.Status.AttemptHistory).NotTo(BeEmpty())
	return j.Status.AttemptHistory[len(j.Status.AttemptHistory)-1]
}

var _ = Describe("Webhook jobs", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("POSTs a signed payload and succeeds with the answer's result in two status writes", func() {
		Expect(env.Client.Create(env.Ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns, Labels: signingLabel},
			StringData: map[string]string{"secret": hookSecret}})).To(Succeed())
		sink.answer(ns, "signed", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"result":{"messageId":"m-1"}}`)
		})
		Expect(env.Client.Create(env.Ctx, webhookJob(ns, "signed", utiltesting.WithSecret("hook", "secret")).Obj())).To(Succeed())
		j := expectPhase(ns, "signed", kickqv1alpha1.PhaseSucceeded)
		Expect(string(j.Status.Result.Raw)).To(Equal(`{"messageId":"m-1"}`))
		Expect(*lastAttempt(j).HTTPStatusCode).To(Equal(int32(200)))

		d := sink.deliveries(ns, "signed")
		Expect(d).To(HaveLen(1))
		Expect(d[0].ID).To(Equal(string(j.UID) + "-1"))
		Expect(d[0].Payload.ID).To(Equal(d[0].ID))
		Expect(d[0].Payload.Attempt).To(Equal(int32(1)))
		Expect(d[0].Payload.Queue).To(Equal("default"))
		Expect(string(d[0].Payload.Data.Raw)).To(Equal(`{"to":"a@b.c"}`))
		Expect(d[0].Payload.ReportURL).To(HaveSuffix("/v1/namespaces/" + ns + "/queuejobs/signed/report"))
		Expect(d[0].Payload.Token).To(HavePrefix("kq1.1."))
		h := http.Header{}
		h.Set("webhook-id", d[0].ID)
		h.Set("webhook-timestamp", d[0].Timestamp)
		h.Set("webhook-signature", d[0].Signature)
		Expect(verifyIndependently(hookSecret, h, d[0].Raw)).To(BeTrue(), "signature %q", d[0].Signature)
		Expect(d[0].Timestamp).To(Equal(strconv.FormatInt(env.Clock.Now().Unix(), 10)))

		// Attempt recorded as Running, then Succeeded: two status writes, and no more after.
		Expect(writes.Of(ns, "signed")).To(Equal(2))
		Consistently(func() int { return writes.Of(ns, "signed") }, 500*time.Millisecond, 50*time.Millisecond).Should(Equal(2))
	})

	DescribeTable("answers, row by row",
		func(code int, header map[string]string, body string, phase kickqv1alpha1.QueueJobPhase, reason, attemptReason string, outcome kickqv1alpha1.Outcome) {
			name := fmt.Sprintf("code-%d-%d", code, len(body))
			sink.answer(ns, name, func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(code)
				_, _ = io.WriteString(w, body)
			})
			Expect(env.Client.Create(env.Ctx, webhookJob(ns, name).Obj())).To(Succeed())
			j := expectPhase(ns, name, phase)
			Expect(j.Status.Reason).To(Equal(reason))
			a := lastAttempt(j)
			Expect(a.Reason).To(Equal(attemptReason))
			Expect(a.Outcome).To(Equal(outcome))
			Expect(*a.HTTPStatusCode).To(Equal(int32(code)))
		},
		Entry("200 succeeds", 200, nil, `{"result":1}`, kickqv1alpha1.PhaseSucceeded, kickqv1alpha1.ReasonCompleted, "Completed", kickqv1alpha1.OutcomeSucceed),
		Entry("204 succeeds", 204, nil, ``, kickqv1alpha1.PhaseSucceeded, kickqv1alpha1.ReasonCompleted, "Completed", kickqv1alpha1.OutcomeSucceed),
		Entry("410 dies", 410, nil, `gone`, kickqv1alpha1.PhaseFailed, kickqv1alpha1.ReasonDied, "Gone", kickqv1alpha1.OutcomeDie),
		Entry("500 fails, counted", 500, nil, `database down`, kickqv1alpha1.PhaseFailed, kickqv1alpha1.ReasonRetriesExhausted, "HTTPError", kickqv1alpha1.OutcomeFail),
		Entry("429 without Retry-After fails, counted", 429, nil, ``, kickqv1alpha1.PhaseFailed, kickqv1alpha1.ReasonRetriesExhausted, "HTTPError", kickqv1alpha1.OutcomeFail),
		Entry("302 is not followed and fails", 302, map[string]string{"Location": "http://169.254.169.254/"}, ``, kickqv1alpha1.PhaseFailed, kickqv1alpha1.ReasonRetriesExhausted, "HTTPError", kickqv1alpha1.OutcomeFail),
		Entry("a body outcome Die overrides 200", 200, nil, `{"outcome":"Die","message":"no such user"}`, kickqv1alpha1.PhaseFailed, kickqv1alpha1.ReasonDied, "ReceiverOutcome", kickqv1alpha1.OutcomeDie),
		Entry("a body outcome Fail overrides 200", 200, nil, `{"outcome":"Fail"}`, kickqv1alpha1.PhaseFailed, kickqv1alpha1.ReasonRetriesExhausted, "ReceiverOutcome", kickqv1alpha1.OutcomeFail),
		Entry("a body outcome Succeed overrides 500", 500, nil, `{"outcome":"Succeed"}`, kickqv1alpha1.PhaseSucceeded, kickqv1alpha1.ReasonCompleted, "ReceiverOutcome", kickqv1alpha1.OutcomeSucceed),
	)

	It("quotes a failed answer's body for a handler's receiver, never for the job's own URL", func() {
		for _, name := range []string{"quote-handler", "quote-inline"} {
			sink.answer(ns, name, func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(502)
				_, _ = io.WriteString(w, "upstream mailer unreachable")
			})
		}
		Expect(env.Client.Create(env.Ctx, hookQueue(ns, "hooks").Obj())).To(Succeed())
		Expect(env.Client.Create(env.Ctx, handlerJob(ns, "quote-handler", "hooks").Obj())).To(Succeed())
		Expect(env.Client.Create(env.Ctx, webhookJob(ns, "quote-inline").Obj())).To(Succeed())
		j := expectPhase(ns, "quote-handler", kickqv1alpha1.PhaseFailed)
		Expect(lastAttempt(j).Message).To(And(ContainSubstring("502"), ContainSubstring("upstream mailer unreachable")))
		j = expectPhase(ns, "quote-inline", kickqv1alpha1.PhaseFailed)
		Expect(lastAttempt(j).Message).To(Equal("POST " + sink.URL + "/jobs answered 502"))
	})

	It("keeps a job's own URLs to its queue's webhookURLPrefixes", func() {
		Expect(env.Client.Create(env.Ctx, hookQueue(ns, "bad", "ftp://files.example/").Obj())).NotTo(Succeed(),
			"a prefix must be an http(s) URL")
		Expect(env.Client.Create(env.Ctx, hookQueue(ns, "locked", sink.URL+"/notify").
			InlineTargets(kickqv1alpha1.InlineTargetsDeny).Obj())).To(Succeed())
		Expect(env.Client.Create(env.Ctx, handlerJob(ns, "prefix-out", "locked").Notify(sink.URL+"/elsewhere").Obj())).To(Succeed())
		Expect(env.Client.Create(env.Ctx, handlerJob(ns, "prefix-in", "locked").Notify(sink.URL+"/notify").Obj())).To(Succeed())

		j := expectPhase(ns, "prefix-out", kickqv1alpha1.PhaseBlocked)
		Expect(j.Status.Conditions).To(ContainElement(And(HaveField("Type", kickqv1alpha1.JobBlocked),
			HaveField("Reason", kickqv1alpha1.ReasonWebhookURLNotAllowed), HaveField("Message", ContainSubstring("spec.notify.webhook.url")))))
		expectPhase(ns, "prefix-in", kickqv1alpha1.PhaseSucceeded)
		Expect(waitDeliveries(ns, "notify/prefix-in", 1)).To(HaveLen(1))
		Consistently(func() int { return len(sink.deliveries(ns, "prefix-out")) }, 300*time.Millisecond, 25*time.Millisecond).Should(BeZero())
	})

	It("retries after exactly Retry-After on 429, without counting a failure", func() {
		calls := 0
		sink.answer(ns, "busy", func(w http.ResponseWriter, _ *http.Request) {
			calls++
			if calls == 1 {
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(429)
				return
			}
			w.WriteHeader(200)
		})
		Expect(env.Client.Create(env.Ctx, webhookJob(ns, "busy").Obj())).To(Succeed())
		j := expectPhase(ns, "busy", kickqv1alpha1.PhaseDelayed)
		first := lastAttempt(j)
		Expect(first.Outcome).To(Equal(kickqv1alpha1.OutcomeRetry))
		Expect(j.Status.FailedAttempts).To(BeZero())
		Expect(j.Status.NextAttemptTime.Time).To(Equal(first.FinishTime.Add(30 * time.Second)))

		env.Clock.Step(29 * time.Second)
		Consistently(func() int { return len(sink.deliveries(ns, "busy")) }, 300*time.Millisecond, 25*time.Millisecond).Should(Equal(1))
		env.Clock.Step(time.Second)
		j = expectPhase(ns, "busy", kickqv1alpha1.PhaseSucceeded)
		Expect(j.Status.Attempts).To(Equal(int32(2)))
		Expect(j.Status.FailedAttempts).To(BeZero())
		Expect(j.Status.AttemptHistory[1].StartTime.Time).To(Equal(first.FinishTime.Add(30 * time.Second)))
		d := sink.deliveries(ns, "busy")
		Expect(d[1].ID).To(HaveSuffix("-2"), "each attempt has its own webhook-id")
	})

	It("caps Retry-After by retryAfterMaxSeconds", func() {
		sink.answer(ns, "capped", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "86400")
			w.WriteHeader(503)
		})
		Expect(env.Client.Create(env.Ctx, webhookJob(ns, "capped", utiltesting.WithRetryAfterMax(120*time.Second)).Obj())).To(Succeed())
		j := expectPhase(ns, "capped", kickqv1alpha1.PhaseDelayed)
		Expect(j.Status.NextAttemptTime.Time).To(Equal(lastAttempt(j).FinishTime.Add(120 * time.Second)))
	})

	It("fails an attempt whose call outlives timeoutSeconds, on the fake clock", func() {
		arrived := make(chan struct{}, 1)
		sink.answer(ns, "slow", func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			<-r.Context().Done()
		})
		Expect(env.Client.Create(env.Ctx, webhookJob(ns, "slow", utiltesting.WithTimeout(5*time.Second)).Obj())).To(Succeed())
		Eventually(arrived, timeout).Should(Receive())
		env.Clock.Step(4 * time.Second)
		Consistently(func() kickqv1alpha1.QueueJobPhase { return getJob(ns, "slow").Status.Phase }, 300*time.Millisecond, 25*time.Millisecond).Should(Equal(kickqv1alpha1.PhaseRunning))
		env.Clock.Step(time.Second)
		j := expectPhase(ns, "slow", kickqv1alpha1.PhaseFailed)
		Expect(lastAttempt(j).Reason).To(Equal("Timeout"))
		Expect(lastAttempt(j).HTTPStatusCode).To(BeNil())
	})

	It("keeps a 202-accepted job Running until the receiver reports its outcome", func() {
		sink.answer(ns, "async", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(202) })
		Expect(env.Client.Create(env.Ctx, webhookJob(ns, "async").Obj())).To(Succeed())
		d := waitDeliveries(ns, "async", 1)
		Eventually(func() *int32 { return lastAttempt(getJob(ns, "async")).HTTPStatusCode }, timeout, interval).ShouldNot(BeNil())
		j := getJob(ns, "async")
		Expect(j.Status.Phase).To(Equal(kickqv1alpha1.PhaseRunning))
		Expect(*lastAttempt(j).HTTPStatusCode).To(Equal(int32(202)))

		code, body := postReport(ns, "async", d[0].Payload.Token, `{"progress":{"percent":50,"message":"half"},"log":"halfway"}`)
		Expect(code).To(Equal(http.StatusAccepted), body)
		Eventually(func() *kickqv1alpha1.Progress { return getJob(ns, "async").Status.Progress }, timeout, interval).Should(Equal(&kickqv1alpha1.Progress{Percent: 50, Message: "half"}))

		code, body = postReport(ns, "async", d[0].Payload.Token, `{"outcome":"Succeed","result":{"sent":3}}`)
		Expect(code).To(Equal(http.StatusOK), body)
		j = expectPhase(ns, "async", kickqv1alpha1.PhaseSucceeded)
		Expect(string(j.Status.Result.Raw)).To(Equal(`{"sent":3}`))
		Expect(j.Status.Logs).To(ContainElement(HaveField("Message", "halfway")))
		Expect(sink.deliveries(ns, "async")).To(HaveLen(1))
		// The finished attempt's token is refused once the manager's cache shows the job finished.
		Eventually(func() int {
			code, _ := postReport(ns, "async", d[0].Payload.Token, `{"heartbeat":true}`)
			return code
		}, timeout, interval).Should(Equal(http.StatusConflict))
	})

	It("retries a reported Retry outcome after retryAfterSeconds, uncounted", func() {
		calls := 0
		sink.answer(ns, "later", func(w http.ResponseWriter, _ *http.Request) {
			calls++
			if calls == 1 {
				w.WriteHeader(202)
				return
			}
			w.WriteHeader(200)
		})
		Expect(env.Client.Create(env.Ctx, webhookJob(ns, "later").Obj())).To(Succeed())
		d := waitDeliveries(ns, "later", 1)
		Eventually(func() *int32 { return lastAttempt(getJob(ns, "later")).HTTPStatusCode }, timeout, interval).ShouldNot(BeNil())
		code, body := postReport(ns, "later", d[0].Payload.Token, `{"outcome":"Retry","retryAfterSeconds":60,"message":"rate limited upstream"}`)
		Expect(code).To(Equal(http.StatusOK), body)
		j := expectPhase(ns, "later", kickqv1alpha1.PhaseDelayed)
		Expect(j.Status.FailedAttempts).To(BeZero())
		Expect(j.Status.NextAttemptTime.Time).To(Equal(env.Clock.Now().Add(60 * time.Second)))
		env.Clock.Step(60 * time.Second)
		expectPhase(ns, "later", kickqv1alpha1.PhaseSucceeded)
	})

	It("repeats a call interrupted by a manager restart with the same webhook-id, and succeeds once", func() {
		arrived := make(chan struct{}, 4)
		release := make(chan struct{})
		calls := 0
		sink.answer(ns, "restart", func(w http.ResponseWriter, r *http.Request) {
			calls++
			arrived <- struct{}{}
			if calls == 1 {
				// The manager stops while this call is in flight: no answer is recorded.
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
			_, _ = io.WriteString(w, `{"result":"done"}`)
		})
		Expect(env.Client.Create(env.Ctx, webhookJob(ns, "restart").Obj())).To(Succeed())
		Eventually(arrived, timeout).Should(Receive())
		Expect(getJob(ns, "restart").Status.Phase).To(Equal(kickqv1alpha1.PhaseRunning), "the attempt is recorded before the call")

		env.RestartManager(func() { close(release) })

		j := expectPhase(ns, "restart", kickqv1alpha1.PhaseSucceeded)
		d := sink.deliveries(ns, "restart")
		Expect(d).To(HaveLen(2))
		Expect(d[1].ID).To(Equal(d[0].ID), "the repeated call carries the same webhook-id")
		Expect(j.Status.Attempts).To(Equal(int32(1)))
		Expect(j.Status.AttemptHistory).To(HaveLen(1))
		Expect(string(j.Status.Result.Raw)).To(Equal(`"done"`))
		Consistently(func() int { return len(sink.deliveries(ns, "restart")) }, 500*time.Millisecond, 50*time.Millisecond).Should(Equal(2))
	})
})

var _ = Describe("The report API", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	// accepted creates a 202-accepted webhook job and returns its delivery.
	accepted := func(job *utiltesting.QueueJobWrapper) delivery {
		name := job.Name
		sink.answer(ns, name, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(202) })
		ExpectWithOffset(1, env.Client.Create(env.Ctx, job.Obj())).To(Succeed())
		d := waitDeliveries(ns, name, 1)
		EventuallyWithOffset(1, func() *int32 { return lastAttempt(getJob(ns, name)).HTTPStatusCode }, timeout, interval).ShouldNot(BeNil())
		return d[0]
	}

	It("refuses missing, forged and other jobs' tokens with 401", func() {
		a := accepted(webhookJob(ns, "auth-a"))
		b := accepted(webhookJob(ns, "auth-b"))
		code, body := postReport(ns, "auth-a", "", `{"heartbeat":true}`)
		Expect(code).To(Equal(http.StatusUnauthorized))
		Expect(body).To(ContainSubstring("bearer token"))
		code, _ = postReport(ns, "auth-a", b.Payload.Token, `{"heartbeat":true}`)
		Expect(code).To(Equal(http.StatusUnauthorized), "another job's token")
		code, _ = postReport(ns, "auth-a", "kq1.1.AAAA", `{"heartbeat":true}`)
		Expect(code).To(Equal(http.StatusUnauthorized), "a forged token")
		code, _ = postReport(ns, "no-such-job", a.Payload.Token, `{"heartbeat":true}`)
		Expect(code).To(Equal(http.StatusNotFound))
		code, _ = postReport(ns, "auth-a", a.Payload.Token, `{"heartbeat":true}`)
		Expect(code).To(Equal(http.StatusAccepted))
	})

	It("refuses a stale attempt's token with 409", func() {
		calls := 0
		sink.answer(ns, "stale", func(w http.ResponseWriter, _ *http.Request) {
			calls++
			w.WriteHeader(202)
		})
		Expect(env.Client.Create(env.Ctx, webhookJob(ns, "stale").Retry(3).Obj())).To(Succeed())
		first := waitDeliveries(ns, "stale", 1)[0]
		Eventually(func() *int32 { return lastAttempt(getJob(ns, "stale")).HTTPStatusCode }, timeout, interval).ShouldNot(BeNil())
		code, body := postReport(ns, "stale", first.Payload.Token, `{"outcome":"Retry"}`)
		Expect(code).To(Equal(http.StatusOK), body)
		// An uncounted retry backs off (1 s at first) on the fake clock: move it to the next attempt.
		j := expectPhase(ns, "stale", kickqv1alpha1.PhaseDelayed)
		Expect(j.Status.NextAttemptTime).NotTo(BeNil())
		env.Clock.Step(j.Status.NextAttemptTime.Sub(env.Clock.Now()))
		second := waitDeliveries(ns, "stale", 2)[1]
		Expect(second.Payload.Attempt).To(Equal(int32(2)))
		code, body = postReport(ns, "stale", first.Payload.Token, `{"progress":{"percent":10}}`)
		Expect(code).To(Equal(http.StatusConflict))
		Expect(body).To(ContainSubstring("attempt 1"))
	})

	It("answers 413 to oversized reports and 400 with a message to malformed ones", func() {
		d := accepted(webhookJob(ns, "bad"))
		code, _ := postReport(ns, "bad", d.Payload.Token, `{"log":"`+strings.Repeat("x", 70*1024)+`"}`)
		Expect(code).To(Equal(http.StatusRequestEntityTooLarge))
		code, _ = postReport(ns, "bad", d.Payload.Token, `{"result":"`+strings.Repeat("x", 5000)+`"}`)
		Expect(code).To(Equal(http.StatusRequestEntityTooLarge))
		code, body := postReport(ns, "bad", d.Payload.Token, `{"progress":`)
		Expect(code).To(Equal(http.StatusBadRequest))
		Expect(body).To(ContainSubstring("not valid JSON"))
		code, body = postReport(ns, "bad", d.Payload.Token, `{"outcome":"Done"}`)
		Expect(code).To(Equal(http.StatusBadRequest))
		Expect(body).To(ContainSubstring("Succeed, Fail, Die, Retry"))
		Expect(getJob(ns, "bad").Status.Phase).To(Equal(kickqv1alpha1.PhaseRunning))
	})

	It("coalesces 100 progress reports in a second into at most 2 status writes", func() {
		d := accepted(webhookJob(ns, "burst"))
		before := writes.Of(ns, "burst")
		percent := func(r client.Reader) func() int32 {
			return func() int32 {
				var j kickqv1alpha1.QueueJob
				if err := r.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "burst"}, &j); err != nil || j.Status.Progress == nil {
					return 0
				}
				return j.Status.Progress.Percent
			}
		}
		report := func(i int) {
			code, body := postReport(ns, "burst", d.Payload.Token, fmt.Sprintf(`{"progress":{"percent":%d}}`, i))
			Expect(code).To(Equal(http.StatusAccepted), body)
		}
		// Each write waits for the manager's cache to hold the one before it, else it would meet a
		// conflict (a write too, and counted). The first report is written at once, and the store
		// counts its interval from the end of that write: wait for it, so that the clock does not
		// move while it is in flight.
		cached := env.Manager().Cache
		Eventually(func() *int32 {
			var j kickqv1alpha1.QueueJob
			if err := cached.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: "burst"}, &j); err != nil || len(j.Status.AttemptHistory) == 0 {
				return nil
			}
			return lastAttempt(&j).HTTPStatusCode
		}, timeout, interval).ShouldNot(BeNil())
		report(1)
		Eventually(percent(env.Client), timeout, interval).Should(Equal(int32(1)))
		Eventually(percent(cached), timeout, interval).Should(Equal(int32(1)))
		for i := 2; i <= 100; i++ {
			report(i)
		}
		env.Clock.Step(time.Second)
		Eventually(percent(env.Client), timeout, interval).Should(Equal(int32(100)))
		Consistently(func() int { return writes.Of(ns, "burst") - before }, 500*time.Millisecond, 50*time.Millisecond).Should(BeNumerically("<=", 2))
		AddReportEntry("status writes for 100 progress reports", writes.Of(ns, "burst")-before)
	})

	It("records heartbeats and fails an attempt that stops sending them", func() {
		d := accepted(webhookJob(ns, "beat").HeartbeatTimeout(60 * time.Second))
		env.Clock.Step(30 * time.Second)
		sent := env.Clock.Now()
		code, _ := postReport(ns, "beat", d.Payload.Token, `{"heartbeat":true}`)
		Expect(code).To(Equal(http.StatusAccepted))
		Eventually(func() *metav1.Time { return getJob(ns, "beat").Status.LastHeartbeatTime }, timeout, interval).Should(Equal(ptr.To(metav1.NewTime(sent))))
		// 59 s after the heartbeat the attempt still runs; at 60 s it is stuck.
		env.Clock.Step(59 * time.Second)
		Consistently(func() kickqv1alpha1.QueueJobPhase { return getJob(ns, "beat").Status.Phase }, 300*time.Millisecond, 25*time.Millisecond).Should(Equal(kickqv1alpha1.PhaseRunning))
		env.Clock.Step(time.Second)
		j := expectPhase(ns, "beat", kickqv1alpha1.PhaseFailed)
		Expect(lastAttempt(j).Reason).To(Equal("HeartbeatTimeout"))
	})

	It("keeps the job small whatever a worker sends", func() {
		d := accepted(webhookJob(ns, "flood"))
		line := strings.Repeat("y", 500)
		for i := range 30 {
			lines := make([]string, 100)
			for k := range lines {
				lines[k] = fmt.Sprintf("%d-%d %s", i, k, line)
			}
			b, _ := json.Marshal(map[string]any{"log": lines, "result": map[string]string{"blob": strings.Repeat("z", 3900)}})
			code, body := postReport(ns, "flood", d.Payload.Token, string(b))
			Expect(code).To(Equal(http.StatusAccepted), body)
			env.Clock.Step(time.Second)
		}
		// The store writes what is due an interval after its last write ended, and a write may end
		// after a later step: fake time goes on passing, as real time would, until all is written.
		Eventually(func() int64 {
			env.Clock.Step(time.Second)
			return getJob(ns, "flood").Status.LogsDropped
		}, timeout, interval).Should(BeNumerically(">", 2000))
		j := getJob(ns, "flood")
		raw, _ := json.Marshal(j)
		Expect(len(j.Status.Logs)).To(BeNumerically("<=", 100))
		Expect(len(raw)).To(BeNumerically("<", 64*1024), "the whole object stays far below etcd's 1.5 MiB")
		AddReportEntry("flooded job size (bytes)", len(raw))
	})
})

var _ = Describe("Completion callbacks", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	withNotify := func(name string) *kickqv1alpha1.QueueJob {
		return webhookJob(ns, name).Notify(sink.URL+"/notify", utiltesting.WithSecret("hook", "secret")).Obj()
	}
	secret := func() {
		ExpectWithOffset(1, env.Client.Create(env.Ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns, Labels: signingLabel},
			StringData: map[string]string{"secret": hookSecret}})).To(Succeed())
	}
	delivered := func(name string) *kickqv1alpha1.NotificationStatus {
		var n *kickqv1alpha1.NotificationStatus
		EventuallyWithOffset(1, func() *metav1.Time {
			n = getJob(ns, name).Status.Notification
			if n == nil {
				return nil
			}
			return n.DeliveredTime
		}, timeout, interval).ShouldNot(BeNil())
		return n
	}

	It("delivers a signed callback once when the job succeeds", func() {
		secret()
		sink.answer(ns, "ok", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"result":{"n":1}}`) })
		Expect(env.Client.Create(env.Ctx, withNotify("ok"))).To(Succeed())
		n := delivered("ok")
		j := getJob(ns, "ok")
		Expect(n.Attempts).To(Equal(int32(1)))
		Expect(n.ID).To(Equal(string(j.UID) + "-notify"))
		d := sink.deliveries(ns, "notify/ok")
		Expect(d).To(HaveLen(1))
		Expect(d[0].ID).To(Equal(n.ID))
		var p map[string]any
		Expect(json.Unmarshal(d[0].Raw, &p)).To(Succeed())
		Expect(p).To(HaveKeyWithValue("phase", "Succeeded"))
		Expect(p).To(HaveKeyWithValue("reason", "Completed"))
		Expect(p).To(HaveKeyWithValue("result", map[string]any{"n": float64(1)}))
		Expect(p).To(HaveKeyWithValue("attempts", float64(1)))
		Expect(p).To(HaveKey("finishTime"))
		h := http.Header{}
		h.Set("webhook-id", d[0].ID)
		h.Set("webhook-timestamp", d[0].Timestamp)
		h.Set("webhook-signature", d[0].Signature)
		Expect(verifyIndependently(hookSecret, h, d[0].Raw)).To(BeTrue())
		Consistently(func() int { return len(sink.deliveries(ns, "notify/ok")) }, 500*time.Millisecond, 50*time.Millisecond).Should(Equal(1))
	})

	It("delivers the callback when the job fails", func() {
		secret()
		sink.answer(ns, "dies", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(410) })
		Expect(env.Client.Create(env.Ctx, withNotify("dies"))).To(Succeed())
		delivered("dies")
		d := sink.deliveries(ns, "notify/dies")
		Expect(d).To(HaveLen(1))
		var p map[string]any
		Expect(json.Unmarshal(d[0].Raw, &p)).To(Succeed())
		Expect(p).To(HaveKeyWithValue("phase", "Failed"))
		Expect(p).To(HaveKeyWithValue("reason", "Died"))
	})

	It("retries a callback answered 500 with backoff, then records its delivery", func() {
		secret()
		calls := 0
		sink.answer(ns, "notify/flaky", func(w http.ResponseWriter, _ *http.Request) {
			calls++
			if calls == 1 {
				w.WriteHeader(500)
				return
			}
			w.WriteHeader(204)
		})
		Expect(env.Client.Create(env.Ctx, withNotify("flaky"))).To(Succeed())
		Eventually(func() int32 {
			if n := getJob(ns, "flaky").Status.Notification; n != nil {
				return n.Attempts
			}
			return 0
		}, timeout, interval).Should(Equal(int32(1)))
		n := getJob(ns, "flaky").Status.Notification
		Expect(n.DeliveredTime).To(BeNil())
		Expect(n.Message).To(ContainSubstring("500"))
		Expect(n.NextAttemptTime.Time).To(Equal(env.Clock.Now().Add(5 * time.Second)))
		env.Clock.Step(4 * time.Second)
		Consistently(func() int { return len(sink.deliveries(ns, "notify/flaky")) }, 300*time.Millisecond, 25*time.Millisecond).Should(Equal(1))
		env.Clock.Step(time.Second)
		n = delivered("flaky")
		Expect(n.Attempts).To(Equal(int32(2)))
		d := sink.deliveries(ns, "notify/flaky")
		Expect(d).To(HaveLen(2))
		Expect(d[1].ID).To(Equal(d[0].ID), "every delivery attempt carries the same webhook-id")
	})

	It("does not repeat a delivered callback after a manager restart", func() {
		secret()
		Expect(env.Client.Create(env.Ctx, withNotify("once"))).To(Succeed())
		delivered("once")
		env.RestartManager()
		// The new manager has reconciled the job (it re-observes every job at start).
		Consistently(func() int { return len(sink.deliveries(ns, "notify/once")) }, time.Second, 50*time.Millisecond).Should(Equal(1))
		Expect(getJob(ns, "once").Status.Notification.Attempts).To(Equal(int32(1)))
	})
})

// verifyIndependently checks a Standard Webhooks signature with the official Go library, as a
// receiver holding the secret does (its timestamp window aside: the suite's clock is fake).
func verifyIndependently(secret string, h http.Header, body []byte) bool {
	wh, err := standardwebhooks.NewWebhook(secret)
	return err == nil && wh.VerifyIgnoringTimestamp(body, h) == nil
}

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

package api

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// obj decodes a manifest into an object in namespace ns.
func obj(ns, manifest string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal([]byte(manifest), &u.Object)).To(Succeed(), manifest)
	u.SetNamespace(ns)
	return u
}

func job(name, spec string) string {
	return fmt.Sprintf("apiVersion: kickq.dev/v1alpha1\nkind: QueueJob\nmetadata: {name: %s}\nspec:\n%s", name, indent(spec))
}

func queue(name, spec string) string {
	return fmt.Sprintf("apiVersion: kickq.dev/v1alpha1\nkind: Queue\nmetadata: {name: %s}\nspec:\n%s", name, indent(spec))
}

func indent(s string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

const podTarget = `pod:
  template:
    spec:
      containers: [{name: main, image: busybox}]`

var long64 = strings.Repeat("a", 64)

type badCase struct {
	manifest string
	message  string // a part of the API server's answer that names the field or rule
}

// badManifests are refused at create. Each message names the field or the rule broken.
var badManifests = []TableEntry{
	Entry("delaySeconds and notBeforeTime together", badCase{job("j", "delaySeconds: 5\nnotBeforeTime: \"2030-01-01T00:00:00Z\"\n"+podTarget), "set at most one of delaySeconds and notBeforeTime"}),
	Entry("two inline targets", badCase{job("j", podTarget+"\nwebhook: {url: \"http://a.b.svc/x\"}"), "set at most one inline target: pod, webhook or worker"}),
	Entry("negative delaySeconds", badCase{job("j", "delaySeconds: -1"), "spec.delaySeconds"}),
	Entry("backoff factor above 10", badCase{job("j", "retry: {backoff: {type: Exponential, factor: 11}}"), "spec.retry.backoff.factor"}),
	Entry("backoff factor below 2", badCase{job("j", "retry: {backoff: {type: Exponential, factor: 1}}"), "spec.retry.backoff.factor"}),
	Entry("factor without Exponential", badCase{job("j", "retry: {backoff: {type: Linear, factor: 3}}"), "backoff.factor may only be set with backoff.type Exponential"}),
	Entry("factor as a float", badCase{job("j", "retry: {backoff: {type: Exponential, factor: 1.5}}"), "spec.retry.backoff.factor"}),
	Entry("maxSeconds below baseSeconds", badCase{job("j", "retry: {backoff: {baseSeconds: 60, maxSeconds: 30}}"), "backoff.maxSeconds must be greater than or equal to backoff.baseSeconds"}),
	Entry("jitterPercent above 100", badCase{job("j", "retry: {backoff: {jitterPercent: 101}}"), "spec.retry.backoff.jitterPercent"}),
	Entry("unknown backoff type", badCase{job("j", "retry: {backoff: {type: Random}}"), "spec.retry.backoff.type"}),
	Entry("negative retry limit", badCase{job("j", "retry: {limit: -1}"), "spec.retry.limit"}),
	Entry("retry rule with two matchers", badCase{job("j", "retry: {rules: [{action: Die, onExitCodes: {operator: In, values: [1]}, onPodConditions: [{type: DisruptionTarget}]}]}"), "a retry rule needs exactly one of onExitCodes or onPodConditions"}),
	Entry("retry rule with no matcher", badCase{job("j", "retry: {rules: [{action: Die}]}"), "a retry rule needs exactly one of onExitCodes or onPodConditions"}),
	Entry("unknown retry action", badCase{job("j", "retry: {rules: [{action: Explode, onExitCodes: {operator: In, values: [1]}}]}"), "spec.retry.rules[0].action"}),
	Entry("exit code 0 with In", badCase{job("j", "retry: {rules: [{action: Die, onExitCodes: {operator: In, values: [0, 2]}}]}"), "the value 0 (success) cannot be used with operator In"}),
	Entry("unknown exit-code operator", badCase{job("j", "retry: {rules: [{action: Die, onExitCodes: {operator: Between, values: [2]}}]}"), "spec.retry.rules[0].onExitCodes.operator"}),
	Entry("restartPolicy OnFailure in the pod template", badCase{job("j", "pod:\n  template:\n    spec:\n      restartPolicy: OnFailure\n      containers: [{name: main, image: busybox}]"), "pod.template.spec.restartPolicy must be unset or Never"}),
	Entry("webhook URL with another scheme", badCase{job("j", "webhook: {url: \"ftp://files.svc/x\"}"), "spec.webhook.url"}),
	Entry("webhook URL without a host", badCase{job("j", "webhook: {url: \"http://\"}"), "url must be an absolute http or https URL with a host"}),
	Entry("webhook header kickq sets itself", badCase{job("j", "webhook: {url: \"http://a.b.svc/x\", headers: [{name: Webhook-Id, value: x}]}"), "headers: webhook-* and Content-Type are set by kickq"}),
	Entry("webhook timeout of 0", badCase{job("j", "webhook: {url: \"http://a.b.svc/x\", timeoutSeconds: 0}"), "spec.webhook.timeoutSeconds"}),
	Entry("type that is not a label value", badCase{job("j", "type: \"send email!\""), "spec.type"}),
	Entry("type longer than 63", badCase{job("j", "type: "+long64), "spec.type"}),
	Entry("batch that is not a label value", badCase{job("j", "batch: \"-import\"\n"+podTarget), "spec.batch"}),
	Entry("key that is not a label value", badCase{job("j", "key: \"customer 42\""), "spec.key"}),
	Entry("key longer than 63", badCase{job("j", "key: "+long64), "spec.key"}),
	Entry("queueName that is not a label value", badCase{job("j", "queueName: \"my queue\""), "spec.queueName"}),
	Entry("priority out of bounds", badCase{job("j", "priority: 2000000"), "spec.priority"}),
	Entry("data that is not an object", badCase{job("j", "data: [1, 2]"), "spec.data"}),
	Entry("job name longer than 63", badCase{job(long64, podTarget), "metadata.name must be at most 63 characters"}),
	Entry("cron template name longer than 52", badCase{job(strings.Repeat("c", 53), "cron: {schedule: \"@hourly\"}\n"+podTarget), "metadata.name of a cron template (spec.cron) must be at most 52 characters"}),
	Entry("cron without schedule", badCase{job("j", "cron: {timeZone: UTC}\n"+podTarget), "spec.cron.schedule: Required value"}),
	Entry("cron schedule with a TZ= prefix", badCase{job("j", "cron: {schedule: \"CRON_TZ=Europe/Berlin 0 9 * * *\"}\n"+podTarget), "cron.schedule must not carry a TZ= or CRON_TZ= prefix"}),
	Entry("unknown cron concurrencyPolicy", badCase{job("j", "cron: {schedule: \"@hourly\", concurrencyPolicy: Sometimes}\n"+podTarget), "spec.cron.concurrencyPolicy"}),
	Entry("unknown cron missedRuns", badCase{job("j", "cron: {schedule: \"@hourly\", missedRuns: Never}\n"+podTarget), "spec.cron.missedRuns"}),
	Entry("after with neither batch nor jobNames", badCase{job("j", "after: {require: AllFinished}\n"+podTarget), "after needs batch or jobNames"}),
	Entry("attemptDeadlineSeconds of 0", badCase{job("j", "attemptDeadlineSeconds: 0"), "spec.attemptDeadlineSeconds"}),
	Entry("negative ttlSecondsAfterFinished", badCase{job("j", "ttlSecondsAfterFinished: -1"), "spec.ttlSecondsAfterFinished"}),
	Entry("a job without spec", badCase{"apiVersion: kickq.dev/v1alpha1\nkind: QueueJob\nmetadata: {name: j}\n", "spec: Required value"}),
	Entry("queue concurrency of 0", badCase{queue("q", "concurrency: 0"), "spec.concurrency"}),
	Entry("queue rate limit of 0", badCase{queue("q", "rateLimit: {limit: 0, periodSeconds: 60}"), "spec.rateLimit.limit"}),
	Entry("queue rate period of 0", badCase{queue("q", "rateLimit: {limit: 5, periodSeconds: 0}"), "spec.rateLimit.periodSeconds"}),
	Entry("unknown inlineTargets", badCase{queue("q", "inlineTargets: Maybe"), "spec.inlineTargets"}),
	Entry("handler without a target", badCase{queue("q", "handlers: [{type: email}]"), "a handler needs exactly one target: pod, webhook or worker"}),
	Entry("handler with two targets", badCase{queue("q", "handlers: [{type: email, worker: {}, webhook: {url: \"http://a.b.svc/x\"}}]"), "a handler needs exactly one target: pod, webhook or worker"}),
	Entry("defaultHandler without a target", badCase{queue("q", "defaultHandler: {concurrency: 2}"), "a handler needs exactly one target: pod, webhook or worker"}),
	Entry("two handlers of one type", badCase{queue("q", "handlers: [{type: email, worker: {}}, {type: email, worker: {}}]"), "Duplicate value"}),
	Entry("defaultHandler beside a \"*\" handler", badCase{queue("q", "handlers: [{type: \"*\", worker: {}}]\ndefaultHandler: {worker: {}}"), "use either defaultHandler or a handler of type \"*\", not both"}),
	Entry("handler pod with restartPolicy Always", badCase{queue("q", "handlers:\n- type: thumbs\n  pod:\n    template:\n      spec:\n        restartPolicy: Always\n        containers: [{name: main, image: busybox}]"), "pod.template.spec.restartPolicy must be unset or Never"}),
	Entry("pod container without an image", badCase{job("j", "pod:\n  template:\n    spec:\n      containers: [{name: main}]"), "pod.template: every container and init container needs an image"}),
	Entry("pod container with an empty image", badCase{job("j", "pod:\n  template:\n    spec:\n      containers: [{name: main, image: \"\"}]"), "pod.template: every container and init container needs an image"}),
	Entry("pod init container without an image", badCase{job("j", "pod:\n  template:\n    spec:\n      initContainers: [{name: setup}]\n      containers: [{name: main, image: busybox}]"), "pod.template: every container and init container needs an image"}),
	Entry("defaultHandler pod container without an image", badCase{queue("q", "defaultHandler:\n  pod:\n    template:\n      spec:\n        containers: [{name: main}]"), "pod.template: every container and init container needs an image"}),
	Entry("handler concurrency of 0", badCase{queue("q", "handlers: [{type: email, worker: {}, concurrency: 0}]"), "spec.handlers[0].concurrency"}),
	Entry("queue name longer than 63", badCase{queue(long64, "paused: true"), "metadata.name must be at most 63 characters"}),
}

var _ = Describe("Validation at create", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	DescribeTable("refuses bad input with a message naming the field or rule",
		func(c badCase) {
			err := env.Client.Create(env.Ctx, obj(ns, c.manifest))
			Expect(err).To(HaveOccurred(), "the API server accepted:\n%s", c.manifest)
			Expect(err.Error()).To(ContainSubstring(c.message))
			AddReportEntry("refused", err.Error())
		},
		badManifests,
	)
})

type updateCase struct {
	before  string
	mutate  func(u *unstructured.Unstructured)
	message string // empty: the update is allowed
}

func set(value any, path ...string) func(u *unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		Expect(unstructured.SetNestedField(u.Object, value, path...)).To(Succeed())
	}
}

func remove(path ...string) func(u *unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) { unstructured.RemoveNestedField(u.Object, path...) }
}

var cronJob = job("c", "cron: {schedule: \"*/5 * * * *\"}\n"+podTarget)

var _ = Describe("Validation at update", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	DescribeTable("spec is immutable but for priority, suspend and cancel",
		func(c updateCase) {
			u := obj(ns, c.before)
			Expect(env.Client.Create(env.Ctx, u)).To(Succeed())
			c.mutate(u)
			err := env.Client.Update(env.Ctx, u)
			if c.message == "" {
				Expect(err).NotTo(HaveOccurred())
				return
			}
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(c.message))
			AddReportEntry("refused", err.Error())
		},
		Entry("queueName changed", updateCase{job("j", podTarget), set("other", "spec", "queueName"), "spec.queueName is immutable"}),
		Entry("type changed", updateCase{job("j", "type: a"), set("b", "spec", "type"), "spec.type is immutable"}),
		Entry("type added", updateCase{job("j", podTarget), set("b", "spec", "type"), "spec.type is immutable"}),
		Entry("data changed", updateCase{job("j", "type: a\ndata: {x: 1}"), set(int64(2), "spec", "data", "x"), "spec.data is immutable"}),
		Entry("delaySeconds added", updateCase{job("j", podTarget), set(int64(30), "spec", "delaySeconds"), "spec.delaySeconds is immutable"}),
		Entry("retry changed", updateCase{job("j", "type: a\nretry: {limit: 1}"), set(int64(5), "spec", "retry", "limit"), "spec.retry is immutable"}),
		Entry("pod image changed", updateCase{job("j", podTarget), func(u *unstructured.Unstructured) {
			Expect(unstructured.SetNestedSlice(u.Object, []any{map[string]any{"name": "main", "image": "busybox:2"}}, "spec", "pod", "template", "spec", "containers")).To(Succeed())
		}, "spec.pod is immutable"}),
		Entry("inline target removed", updateCase{job("j", "webhook: {url: \"http://a.b.svc/x\"}"), remove("spec", "webhook"), "spec.webhook is immutable"}),
		Entry("key changed", updateCase{job("j", "type: a\nkey: one"), set("two", "spec", "key"), "spec.key is immutable"}),
		Entry("key added", updateCase{job("j", "type: a"), set("two", "spec", "key"), "spec.key is immutable"}),
		Entry("batch changed", updateCase{job("j", "type: a\nbatch: one"), set("two", "spec", "batch"), "spec.batch is immutable"}),
		Entry("cancel set back to false", updateCase{job("j", "type: a\ncancel: true"), set(false, "spec", "cancel"), "spec.cancel cannot be unset once true"}),
		Entry("cancel removed once true", updateCase{job("j", "type: a\ncancel: true"), remove("spec", "cancel"), "spec.cancel cannot be unset once true"}),
		Entry("cron schedule changed", updateCase{cronJob, set("@hourly", "spec", "cron", "schedule"), "cron.schedule is immutable"}),
		Entry("cron removed", updateCase{cronJob, remove("spec", "cron"), "spec.cron cannot be added or removed"}),
		Entry("cron added", updateCase{job("j", podTarget), set("@hourly", "spec", "cron", "schedule"), "spec.cron cannot be added or removed"}),
		Entry("cron timeZone added", updateCase{cronJob, set("Europe/Berlin", "spec", "cron", "timeZone"), "spec.cron.timeZone is immutable"}),
		Entry("cron defaulted field changed", updateCase{cronJob, set("Allow", "spec", "cron", "concurrencyPolicy"), "spec.cron.concurrencyPolicy is immutable"}),
		Entry("notify added", updateCase{job("j", podTarget), set("http://a.b.svc/done", "spec", "notify", "webhook", "url"), "spec.notify is immutable"}),
		Entry("worker target removed", updateCase{job("j", "type: a\nworker: {}"), remove("spec", "worker"), "spec.worker is immutable"}),
		Entry("priority allowed, batch not, in one update", updateCase{job("j", "type: a\nbatch: one"), func(u *unstructured.Unstructured) {
			set(int64(5), "spec", "priority")(u)
			set("two", "spec", "batch")(u)
		}, "spec.batch is immutable"}),
		Entry("cron suspended and schedule changed in one update", updateCase{cronJob, func(u *unstructured.Unstructured) {
			set(true, "spec", "cron", "suspend")(u)
			set("@daily", "spec", "cron", "schedule")(u)
		}, "spec.cron.schedule is immutable"}),
		Entry("priority, suspend, cancel and cron.suspend in one update (allowed)", updateCase{cronJob, func(u *unstructured.Unstructured) {
			set(int64(7), "spec", "priority")(u)
			set(true, "spec", "suspend")(u)
			set(true, "spec", "cancel")(u)
			set(true, "spec", "cron", "suspend")(u)
		}, ""}),
		Entry("priority changed (allowed)", updateCase{job("j", "type: a\npriority: 1"), set(int64(100), "spec", "priority"), ""}),
		Entry("suspend set (allowed)", updateCase{job("j", "type: a"), set(true, "spec", "suspend"), ""}),
		Entry("cancel set (allowed)", updateCase{job("j", "type: a\ncancel: false"), set(true, "spec", "cancel"), ""}),
		Entry("cron suspended (allowed)", updateCase{cronJob, set(true, "spec", "cron", "suspend"), ""}),
		Entry("labels changed (allowed)", updateCase{job("j", podTarget), func(u *unstructured.Unstructured) { u.SetLabels(map[string]string{"team": "a"}) }, ""}),
	)

	It("names every immutable field an update changes", func() {
		u := obj(ns, job("j", "type: a\nbatch: one\ndata: {x: 1}"))
		Expect(env.Client.Create(env.Ctx, u)).To(Succeed())
		set("b", "spec", "type")(u)
		set("two", "spec", "batch")(u)
		remove("spec", "data")(u)
		err := env.Client.Update(env.Ctx, u)
		Expect(err).To(MatchError(And(ContainSubstring("spec.type"), ContainSubstring("spec.batch"), ContainSubstring("spec.data"),
			ContainSubstring("are immutable"))))
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want 422 Invalid (the policy's reason), got %v", err)
		AddReportEntry("refused", err.Error())
	})

	It("allows cancel on a job with large data and a large pod template (the comparison stays within CEL's budget)", func() {
		data := map[string]any{}
		for i := range 4000 {
			data[fmt.Sprintf("key-%d", i)] = strings.Repeat("v", 100)
		}
		vars := make([]any, 0, 500)
		for i := range 500 {
			vars = append(vars, map[string]any{"name": fmt.Sprintf("E%d", i), "value": strings.Repeat("x", 100)})
		}
		u := obj(ns, job("j", podTarget))
		Expect(unstructured.SetNestedMap(u.Object, data, "spec", "data")).To(Succeed())
		Expect(unstructured.SetNestedSlice(u.Object, []any{map[string]any{"name": "main", "image": "busybox", "env": vars}},
			"spec", "pod", "template", "spec", "containers")).To(Succeed())
		Expect(env.Client.Create(env.Ctx, u)).To(Succeed())
		set(true, "spec", "cancel")(u)
		Expect(env.Client.Update(env.Ctx, u)).To(Succeed())
		set("other", "spec", "data", "key-3999")(u)
		Expect(env.Client.Update(env.Ctx, u)).To(MatchError(ContainSubstring("spec.data is immutable")))
	})

	It("lets status writes through whatever the spec holds: the policy matches spec updates only", func() {
		u := obj(ns, job("j", podTarget))
		Expect(env.Client.Create(env.Ctx, u)).To(Succeed())
		set("Pending", "status", "phase")(u)
		Expect(env.Client.Status().Update(env.Ctx, u)).To(Succeed())
		Expect(unstructured.SetNestedSlice(u.Object, []any{map[string]any{"name": "main", "image": "busybox:2"}}, "spec", "pod", "template", "spec", "containers")).To(Succeed())
		set("Running", "status", "phase")(u)
		// A status write ignores spec (the API server keeps the stored one) and is not refused.
		Expect(env.Client.Status().Update(env.Ctx, u)).To(Succeed())
		got := obj(ns, job("j", podTarget))
		Expect(env.Client.Get(env.Ctx, client.ObjectKeyFromObject(got), got)).To(Succeed())
		image, _, _ := unstructured.NestedSlice(got.Object, "spec", "pod", "template", "spec", "containers")
		Expect(image).To(Equal([]any{map[string]any{"name": "main", "image": "busybox"}}))
		phase, _, _ := unstructured.NestedString(got.Object, "status", "phase")
		Expect(phase).To(Equal("Running"))
	})
})

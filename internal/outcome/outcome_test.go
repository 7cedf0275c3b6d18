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

package outcome

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
)

const (
	succeed = kickqv1alpha1.OutcomeSucceed
	fail    = kickqv1alpha1.OutcomeFail
	die     = kickqv1alpha1.OutcomeDie
	retry   = kickqv1alpha1.OutcomeRetry
)

func onExitCodes(action kickqv1alpha1.RetryAction, op kickqv1alpha1.ExitCodeOperator, values ...int32) kickqv1alpha1.RetryRule {
	return kickqv1alpha1.RetryRule{Action: action, OnExitCodes: &kickqv1alpha1.ExitCodesMatcher{Operator: op, Values: values}}
}

func onContainerExitCodes(action kickqv1alpha1.RetryAction, container string, op kickqv1alpha1.ExitCodeOperator, values ...int32) kickqv1alpha1.RetryRule {
	r := onExitCodes(action, op, values...)
	r.OnExitCodes.ContainerName = &container
	return r
}

func onConditions(action kickqv1alpha1.RetryAction, conds ...kickqv1alpha1.PodConditionMatcher) kickqv1alpha1.RetryRule {
	return kickqv1alpha1.RetryRule{Action: action, OnPodConditions: conds}
}

func rawJSON(s string) *apiextensionsv1.JSON { return &apiextensionsv1.JSON{Raw: []byte(s)} }

const (
	in    = kickqv1alpha1.ExitCodeOperatorIn
	notIn = kickqv1alpha1.ExitCodeOperatorNotIn
	dieA  = kickqv1alpha1.RetryActionDie
	retA  = kickqv1alpha1.RetryActionRetry
	cntA  = kickqv1alpha1.RetryActionCount
)

func TestState(t *testing.T) {
	cases := map[string]struct {
		pod  *corev1.Pod
		want PodState
	}{
		"no phase":  {pod: makePod("").Obj(), want: PodNotStarted},
		"Pending":   {pod: makePod(corev1.PodPending).Container("main", waiting("ContainerCreating", "")).Obj(), want: PodNotStarted},
		"Running":   {pod: makePod(corev1.PodRunning).Container("main", running()).Obj(), want: PodRunning},
		"Succeeded": {pod: makePod(corev1.PodSucceeded).Container("main", exited(0, "Completed", "")).Obj(), want: PodSucceeded},
		"Failed":    {pod: makePod(corev1.PodFailed).Container("main", exited(1, "Error", "")).Obj(), want: PodFailed},
		"Unknown":   {pod: makePod(corev1.PodUnknown).Obj(), want: PodNotStarted},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, State(tc.pod)); diff != "" {
				t.Errorf("State() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWaitingReasonAndMessage(t *testing.T) {
	type want struct{ Reason, Message string }
	long := strings.Repeat("m", 2000)
	cases := map[string]struct {
		pod  *corev1.Pod
		want want
	}{
		"ImagePullBackOff": {
			pod:  makePod(corev1.PodPending).Container("main", waiting("ImagePullBackOff", `Back-off pulling image "ghcr.io/shop/thumbs:1.4"`)).Obj(),
			want: want{"ImagePullBackOff", `container main: Back-off pulling image "ghcr.io/shop/thumbs:1.4"`},
		},
		"ErrImagePull": {
			pod:  makePod(corev1.PodPending).Container("main", waiting("ErrImagePull", "manifest unknown")).Obj(),
			want: want{"ErrImagePull", "container main: manifest unknown"},
		},
		"CreateContainerConfigError": {
			pod:  makePod(corev1.PodPending).Container("main", waiting("CreateContainerConfigError", `secret "mailer" not found`)).Obj(),
			want: want{"CreateContainerConfigError", `container main: secret "mailer" not found`},
		},
		"waiting without a message": {
			pod:  makePod(corev1.PodPending).Container("main", waiting("ImagePullBackOff", "")).Obj(),
			want: want{"ImagePullBackOff", "container main"},
		},
		"init container waits: reported before the containers": {
			pod: makePod(corev1.PodPending).
				InitContainer("setup", waiting("ImagePullBackOff", "back-off")).
				Container("main", waiting("CreateContainerConfigError", "no secret")).Obj(),
			want: want{"ImagePullBackOff", "container setup: back-off"},
		},
		"second init container waits after the first ran": {
			pod: makePod(corev1.PodPending).
				InitContainer("fetch", exited(0, "Completed", "")).
				InitContainer("migrate", waiting("ErrImagePull", "denied")).
				Container("main", waiting("PodInitializing", "")).Obj(),
			want: want{"ErrImagePull", "container migrate: denied"},
		},
		"containers waiting in spec order, not status order": {
			pod: makePod(corev1.PodPending).
				Container("zeta", waiting("ErrImagePull", "zeta image")).
				Container("alpha", waiting("ImagePullBackOff", "alpha image")).
				StatusesByName().Obj(),
			want: want{"ErrImagePull", "container zeta: zeta image"},
		},
		"ContainerCreating is not a reason; a later container's is": {
			pod: makePod(corev1.PodPending).
				Container("main", waiting("ContainerCreating", "")).
				Container("sidecar", waiting("ImagePullBackOff", "back-off")).Obj(),
			want: want{"ImagePullBackOff", "container sidecar: back-off"},
		},
		"only ContainerCreating: no reason": {
			pod:  makePod(corev1.PodPending).Container("main", waiting("ContainerCreating", "")).Obj(),
			want: want{},
		},
		"init container running, containers PodInitializing: no reason": {
			pod: makePod(corev1.PodPending).
				InitContainer("setup", running()).
				Container("main", waiting("PodInitializing", "")).Obj(),
			want: want{},
		},
		"Unschedulable": {
			pod: makePod(corev1.PodPending).
				Condition(corev1.PodScheduled, corev1.ConditionFalse, "Unschedulable", "0/3 nodes are available: 3 Insufficient cpu.").Obj(),
			want: want{"Unschedulable", "0/3 nodes are available: 3 Insufficient cpu."},
		},
		"PodScheduled False for another reason": {
			pod:  makePod(corev1.PodPending).Condition(corev1.PodScheduled, corev1.ConditionFalse, "SchedulingGated", "gated").Obj(),
			want: want{},
		},
		"scheduled, no status yet": {
			pod:  makePod(corev1.PodPending).Condition(corev1.PodScheduled, corev1.ConditionTrue, "", "").Obj(),
			want: want{},
		},
		"running pod": {
			pod:  makePod(corev1.PodRunning).Container("main", running()).Condition(corev1.PodScheduled, corev1.ConditionTrue, "", "").Obj(),
			want: want{},
		},
		"long message trimmed to 1024 bytes": {
			pod:  makePod(corev1.PodPending).Container("main", waiting("ErrImagePull", long)).Obj(),
			want: want{"ErrImagePull", "container main: " + long[:limits.MaxMessageBytes-len("container main: ")-len(limits.TruncatedMark)] + limits.TruncatedMark},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got want
			got.Reason, got.Message = WaitingReason(tc.pod)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("WaitingReason() mismatch (-want +got):\n%s", diff)
			}
			if len(got.Message) > limits.MaxMessageBytes {
				t.Errorf("message has %d bytes, more than %d", len(got.Message), limits.MaxMessageBytes)
			}
		})
	}
}

func TestClassifySucceeded(t *testing.T) {
	ok := func(msg string) corev1.ContainerState { return exited(0, "Completed", msg) }
	cases := map[string]struct {
		pod  *corev1.Pod
		want Result
	}{
		"JSON result, kept as written (trimmed)": {
			pod:  makePod(corev1.PodSucceeded).Container("main", ok("{\"sent\": 3, \"ids\": [1, 2]}\n")).Obj(),
			want: Result{Outcome: succeed, ExitCode: ptr.To[int32](0), Reason: "Completed", Message: "exit code 0 (container main)", Result: rawJSON(`{"sent": 3, "ids": [1, 2]}`)},
		},
		"JSON scalar result": {
			pod:  makePod(corev1.PodSucceeded).Container("main", ok("42")).Obj(),
			want: Result{Outcome: succeed, ExitCode: ptr.To[int32](0), Reason: "Completed", Message: "exit code 0 (container main)", Result: rawJSON(`42`)},
		},
		"plain-text result becomes a JSON string": {
			pod:  makePod(corev1.PodSucceeded).Container("main", ok("sent 3 mails\n")).Obj(),
			want: Result{Outcome: succeed, ExitCode: ptr.To[int32](0), Reason: "Completed", Message: "exit code 0 (container main)", Result: rawJSON(`"sent 3 mails"`)},
		},
		"invalid UTF-8 is not kept as JSON": {
			pod:  makePod(corev1.PodSucceeded).Container("main", ok("\"a\xffb\"")).Obj(),
			want: Result{Outcome: succeed, ExitCode: ptr.To[int32](0), Reason: "Completed", Message: "exit code 0 (container main)", Result: rawJSON(`"\"a\ufffdb\""`)},
		},
		"empty message: no result": {
			pod:  makePod(corev1.PodSucceeded).Container("main", ok("")).Obj(),
			want: Result{Outcome: succeed, ExitCode: ptr.To[int32](0), Reason: "Completed", Message: "exit code 0 (container main)"},
		},
		"blank message: no result": {
			pod:  makePod(corev1.PodSucceeded).Container("main", ok(" \n")).Obj(),
			want: Result{Outcome: succeed, ExitCode: ptr.To[int32](0), Reason: "Completed", Message: "exit code 0 (container main)"},
		},
		"JSON null: no result": {
			pod:  makePod(corev1.PodSucceeded).Container("main", ok("null")).Obj(),
			want: Result{Outcome: succeed, ExitCode: ptr.To[int32](0), Reason: "Completed", Message: "exit code 0 (container main)"},
		},
		"oversize message: a truncated JSON string": {
			pod: makePod(corev1.PodSucceeded).Container("main", ok(strings.Repeat("a", 5000))).Obj(),
			want: Result{Outcome: succeed, ExitCode: ptr.To[int32](0), Reason: "Completed", Message: "exit code 0 (container main)",
				// 2 quotes + 4080 bytes + 14 bytes of suffix = 4096.
				Result: rawJSON(`"` + strings.Repeat("a", 4080) + `…(truncated)"`)},
		},
		"oversize JSON: a truncated JSON string": {
			pod: makePod(corev1.PodSucceeded).Container("main", ok("["+strings.Repeat("1,", 3000)+"1]")).Obj(),
			want: Result{Outcome: succeed, ExitCode: ptr.To[int32](0), Reason: "Completed", Message: "exit code 0 (container main)",
				Result: rawJSON(`"[` + strings.Repeat("1,", 2039) + `1…(truncated)"`)},
		},
		"oversize message cut at a rune boundary": {
			pod: makePod(corev1.PodSucceeded).Container("main", ok("x"+strings.Repeat("é", 3000))).Obj(),
			want: Result{Outcome: succeed, ExitCode: ptr.To[int32](0), Reason: "Completed", Message: "exit code 0 (container main)",
				// 4080 bytes would split an é: 1 + 2·2039 = 4079.
				Result: rawJSON(`"x` + strings.Repeat("é", 2039) + `…(truncated)"`)},
		},
		"oversize message with escapes: the encoding fits": {
			pod: makePod(corev1.PodSucceeded).Container("main", ok(strings.Repeat("x\x01", 1000))).Obj(),
			want: Result{Outcome: succeed, ExitCode: ptr.To[int32](0), Reason: "Completed", Message: "exit code 0 (container main)",
				// each pair encodes to 7 bytes: 2 + 7·582 + 14 = 4090, plus one more "x" = 4091.
				Result: rawJSON(`"` + strings.Repeat(`x\u0001`, 582) + `x…(truncated)"`)},
		},
		"main's message wins over an earlier container's": {
			pod: makePod(corev1.PodSucceeded).
				Container("sidecar", ok("sidecar done")).
				Container("main", ok(`{"ok":true}`)).Obj(),
			want: Result{Outcome: succeed, ExitCode: ptr.To[int32](0), Reason: "Completed", Message: "exit code 0 (container sidecar)", Result: rawJSON(`{"ok":true}`)},
		},
		"main without a message: no result, even if another has one": {
			pod: makePod(corev1.PodSucceeded).
				Container("main", ok("")).
				Container("sidecar", ok("sidecar done")).Obj(),
			want: Result{Outcome: succeed, ExitCode: ptr.To[int32](0), Reason: "Completed", Message: "exit code 0 (container main)"},
		},
		"no main: the first container with a message, in spec order": {
			pod: makePod(corev1.PodSucceeded).
				Container("worker", ok("")).
				Container("b-reporter", ok(`"second"`)).
				Container("a-reporter", ok(`"third"`)).
				StatusesByName().Obj(),
			want: Result{Outcome: succeed, ExitCode: ptr.To[int32](0), Reason: "Completed", Message: "exit code 0 (container worker)", Result: rawJSON(`"second"`)},
		},
		"init containers' messages are not results": {
			pod: makePod(corev1.PodSucceeded).
				InitContainer("setup", ok("setup done")).
				Container("worker", ok("")).Obj(),
			want: Result{Outcome: succeed, ExitCode: ptr.To[int32](0), Reason: "Completed", Message: "exit code 0 (container worker)"},
		},
		"no container status": {
			pod:  makePod(corev1.PodSucceeded).Obj(),
			want: Result{Outcome: succeed, Reason: "Completed", Message: "pod succeeded"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Classify(tc.pod, []kickqv1alpha1.RetryRule{onExitCodes(dieA, notIn, 1)})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Classify() mismatch (-want +got):\n%s", diff)
			}
			if got.Result != nil && len(got.Result.Raw) > limits.MaxResultBytes {
				t.Errorf("result has %d bytes, more than %d", len(got.Result.Raw), limits.MaxResultBytes)
			}
		})
	}
}

func TestClassifyFailed(t *testing.T) {
	errExit := func(code int32) corev1.ContainerState { return exited(code, "Error", "") }
	disrupted := makePod(corev1.PodFailed).
		Condition(corev1.DisruptionTarget, corev1.ConditionTrue, "PreemptionByScheduler", "Preempted in order to admit critical pod").
		Container("main", exited(137, "Error", "")).Obj()
	evicted := makePod(corev1.PodFailed).
		Reason("Evicted", "The node was low on resource: memory.").
		Container("main", exited(137, "ContainerStatusUnknown", "The container could not be located when the pod was terminated"))
	longMsg := strings.Repeat("x", 3000)

	cases := map[string]struct {
		pod   *corev1.Pod
		rules []kickqv1alpha1.RetryRule
		want  Result
	}{
		"no rules: counted failure": {
			pod:  makePod(corev1.PodFailed).Container("main", errExit(3)).Obj(),
			want: Result{Outcome: fail, ExitCode: ptr.To[int32](3), Reason: "Error", Message: "exit code 3 (container main)"},
		},
		"termination message excerpt follows": {
			pod:  makePod(corev1.PodFailed).Container("main", exited(1, "Error", "panic: boom\n")).Obj(),
			want: Result{Outcome: fail, ExitCode: ptr.To[int32](1), Reason: "Error", Message: "exit code 1 (container main): panic: boom"},
		},
		"long termination message trimmed to 1024 bytes": {
			pod: makePod(corev1.PodFailed).Container("main", exited(1, "Error", longMsg)).Obj(),
			want: Result{Outcome: fail, ExitCode: ptr.To[int32](1), Reason: "Error",
				Message: "exit code 1 (container main): " + longMsg[:limits.MaxMessageBytes-len("exit code 1 (container main): ")-len(limits.TruncatedMark)] + limits.TruncatedMark},
		},
		"In matches": {
			pod:   makePod(corev1.PodFailed).Container("main", errExit(2)).Obj(),
			rules: []kickqv1alpha1.RetryRule{onExitCodes(dieA, in, 2)},
			want: Result{Outcome: die, ExitCode: ptr.To[int32](2), Reason: "Error", Rule: 1,
				Message: "rule 1 (Die on exit codes In [2]) matched: exit code 2 (container main)"},
		},
		"In matches, with the excerpt": {
			pod:   makePod(corev1.PodFailed).Container("main", exited(2, "Error", "bad input")).Obj(),
			rules: []kickqv1alpha1.RetryRule{onExitCodes(dieA, in, 2, 64)},
			want: Result{Outcome: die, ExitCode: ptr.To[int32](2), Reason: "Error", Rule: 1,
				Message: "rule 1 (Die on exit codes In [2 64]) matched: exit code 2 (container main): bad input"},
		},
		"In does not match": {
			pod:   makePod(corev1.PodFailed).Container("main", errExit(3)).Obj(),
			rules: []kickqv1alpha1.RetryRule{onExitCodes(dieA, in, 2)},
			want:  Result{Outcome: fail, ExitCode: ptr.To[int32](3), Reason: "Error", Message: "exit code 3 (container main)"},
		},
		"NotIn matches": {
			pod:   makePod(corev1.PodFailed).Container("main", errExit(75)).Obj(),
			rules: []kickqv1alpha1.RetryRule{onExitCodes(retA, notIn, 1, 2)},
			want: Result{Outcome: retry, ExitCode: ptr.To[int32](75), Reason: "Error", Rule: 1,
				Message: "rule 1 (Retry on exit codes NotIn [1 2]) matched: exit code 75 (container main)"},
		},
		"NotIn does not match": {
			pod:   makePod(corev1.PodFailed).Container("main", errExit(1)).Obj(),
			rules: []kickqv1alpha1.RetryRule{onExitCodes(retA, notIn, 1, 2)},
			want:  Result{Outcome: fail, ExitCode: ptr.To[int32](1), Reason: "Error", Message: "exit code 1 (container main)"},
		},
		"NotIn ignores containers that exited 0": {
			pod:   makePod(corev1.PodFailed).Container("main", exited(0, "Completed", "")).Container("sidecar", errExit(5)).Obj(),
			rules: []kickqv1alpha1.RetryRule{onExitCodes(dieA, notIn, 5)},
			want:  Result{Outcome: fail, ExitCode: ptr.To[int32](5), Reason: "Error", Message: "exit code 5 (container sidecar)"},
		},
		"containerName matches that container only": {
			pod:   makePod(corev1.PodFailed).Container("main", errExit(1)).Container("uploader", errExit(2)).Obj(),
			rules: []kickqv1alpha1.RetryRule{onContainerExitCodes(dieA, "uploader", in, 2)},
			want: Result{Outcome: die, ExitCode: ptr.To[int32](1), Reason: "Error", Rule: 1,
				Message: "rule 1 (Die on exit codes In [2] of container uploader) matched: exit code 2 (container uploader); exit code 1 (container main)"},
		},
		"containerName of another container: no match": {
			pod:   makePod(corev1.PodFailed).Container("main", errExit(1)).Container("uploader", errExit(2)).Obj(),
			rules: []kickqv1alpha1.RetryRule{onContainerExitCodes(dieA, "main", in, 2)},
			want:  Result{Outcome: fail, ExitCode: ptr.To[int32](1), Reason: "Error", Message: "exit code 1 (container main)"},
		},
		"containerName with NotIn": {
			pod:   makePod(corev1.PodFailed).Container("main", errExit(9)).Obj(),
			rules: []kickqv1alpha1.RetryRule{onContainerExitCodes(cntA, "main", notIn, 2)},
			want: Result{Outcome: fail, ExitCode: ptr.To[int32](9), Reason: "Error", Rule: 1,
				Message: "rule 1 (Count on exit codes NotIn [2] of container main) matched: exit code 9 (container main)"},
		},
		"multiple containers: the first failed in spec order, not status order": {
			pod: makePod(corev1.PodFailed).
				Container("zeta", exited(3, "Error", "zeta failed")).
				Container("alpha", exited(4, "OOMKilled", "")).
				StatusesByName().Obj(),
			want: Result{Outcome: fail, ExitCode: ptr.To[int32](3), Reason: "Error", Message: "exit code 3 (container zeta): zeta failed"},
		},
		"multiple containers: a rule matches a later one": {
			pod: makePod(corev1.PodFailed).
				Container("zeta", errExit(3)).
				Container("alpha", errExit(4)).
				StatusesByName().Obj(),
			rules: []kickqv1alpha1.RetryRule{onExitCodes(retA, in, 4)},
			want: Result{Outcome: retry, ExitCode: ptr.To[int32](3), Reason: "Error", Rule: 1,
				Message: "rule 1 (Retry on exit codes In [4]) matched: exit code 4 (container alpha); exit code 3 (container zeta)"},
		},
		"init container failure": {
			pod: makePod(corev1.PodFailed).
				InitContainer("migrate", exited(2, "Error", "schema locked")).
				Container("main", waiting("PodInitializing", "")).Obj(),
			rules: []kickqv1alpha1.RetryRule{onExitCodes(dieA, in, 2)},
			want: Result{Outcome: die, ExitCode: ptr.To[int32](2), Reason: "Error", Rule: 1,
				Message: "rule 1 (Die on exit codes In [2]) matched: exit code 2 (container migrate): schema locked"},
		},
		"init container failure matched by containerName": {
			pod: makePod(corev1.PodFailed).
				InitContainer("fetch", exited(0, "Completed", "")).
				InitContainer("migrate", errExit(7)).
				Container("main", waiting("PodInitializing", "")).Obj(),
			rules: []kickqv1alpha1.RetryRule{onContainerExitCodes(retA, "migrate", in, 7)},
			want: Result{Outcome: retry, ExitCode: ptr.To[int32](7), Reason: "Error", Rule: 1,
				Message: "rule 1 (Retry on exit codes In [7] of container migrate) matched: exit code 7 (container migrate)"},
		},
		"onPodConditions match (default status True)": {
			pod: makePod(corev1.PodFailed).
				Condition("ConfigIssue", corev1.ConditionTrue, "", "").
				Container("main", errExit(1)).Obj(),
			rules: []kickqv1alpha1.RetryRule{onConditions(dieA, kickqv1alpha1.PodConditionMatcher{Type: "ConfigIssue"})},
			want: Result{Outcome: die, ExitCode: ptr.To[int32](1), Reason: "Error", Rule: 1,
				Message: "rule 1 (Die on pod conditions ConfigIssue=True) matched: pod condition ConfigIssue=True; exit code 1 (container main)"},
		},
		"onPodConditions: any of the listed conditions": {
			pod: makePod(corev1.PodFailed).
				Condition("ConfigIssue", corev1.ConditionFalse, "", "").
				Container("main", errExit(1)).Obj(),
			rules: []kickqv1alpha1.RetryRule{onConditions(retA,
				kickqv1alpha1.PodConditionMatcher{Type: "ConfigIssue"},
				kickqv1alpha1.PodConditionMatcher{Type: "ConfigIssue", Status: "False"})},
			want: Result{Outcome: retry, ExitCode: ptr.To[int32](1), Reason: "Error", Rule: 1,
				Message: "rule 1 (Retry on pod conditions ConfigIssue=True, ConfigIssue=False) matched: pod condition ConfigIssue=False; exit code 1 (container main)"},
		},
		"onPodConditions status mismatch": {
			pod: makePod(corev1.PodFailed).
				Condition("ConfigIssue", corev1.ConditionFalse, "", "").
				Container("main", errExit(1)).Obj(),
			rules: []kickqv1alpha1.RetryRule{onConditions(dieA, kickqv1alpha1.PodConditionMatcher{Type: "ConfigIssue", Status: "True"})},
			want:  Result{Outcome: fail, ExitCode: ptr.To[int32](1), Reason: "Error", Message: "exit code 1 (container main)"},
		},
		"onPodConditions: condition absent": {
			pod:   makePod(corev1.PodFailed).Container("main", errExit(1)).Obj(),
			rules: []kickqv1alpha1.RetryRule{onConditions(dieA, kickqv1alpha1.PodConditionMatcher{Type: "ConfigIssue"})},
			want:  Result{Outcome: fail, ExitCode: ptr.To[int32](1), Reason: "Error", Message: "exit code 1 (container main)"},
		},
		"rule order: the first match wins": {
			pod: makePod(corev1.PodFailed).Container("main", errExit(2)).Obj(),
			rules: []kickqv1alpha1.RetryRule{
				onExitCodes(dieA, in, 5),
				onExitCodes(retA, in, 2),
				onExitCodes(dieA, in, 2),
			},
			want: Result{Outcome: retry, ExitCode: ptr.To[int32](2), Reason: "Error", Rule: 2,
				Message: "rule 2 (Retry on exit codes In [2]) matched: exit code 2 (container main)"},
		},
		"rule order: a Count rule first makes a later Die rule moot": {
			pod: makePod(corev1.PodFailed).Container("main", errExit(2)).Obj(),
			rules: []kickqv1alpha1.RetryRule{
				onExitCodes(cntA, notIn, 9),
				onExitCodes(dieA, in, 2),
			},
			want: Result{Outcome: fail, ExitCode: ptr.To[int32](2), Reason: "Error", Rule: 1,
				Message: "rule 1 (Count on exit codes NotIn [9]) matched: exit code 2 (container main)"},
		},
		"DisruptionTarget: built-in retry": {
			pod: disrupted,
			want: Result{Outcome: retry, ExitCode: ptr.To[int32](137), Reason: "DisruptionTarget", Rule: DisruptionRule,
				Message: "built-in rule (Retry on pod condition DisruptionTarget=True) matched: PreemptionByScheduler: Preempted in order to admit critical pod; exit code 137 (container main)"},
		},
		"DisruptionTarget after user rules that do not match": {
			pod:   disrupted,
			rules: []kickqv1alpha1.RetryRule{onExitCodes(dieA, in, 2), onConditions(dieA, kickqv1alpha1.PodConditionMatcher{Type: "ConfigIssue"})},
			want: Result{Outcome: retry, ExitCode: ptr.To[int32](137), Reason: "DisruptionTarget", Rule: DisruptionRule,
				Message: "built-in rule (Retry on pod condition DisruptionTarget=True) matched: PreemptionByScheduler: Preempted in order to admit critical pod; exit code 137 (container main)"},
		},
		"a user rule that matches comes before DisruptionTarget": {
			pod:   disrupted,
			rules: []kickqv1alpha1.RetryRule{onExitCodes(dieA, in, 137)},
			want: Result{Outcome: die, ExitCode: ptr.To[int32](137), Reason: "Error", Rule: 1,
				Message: "rule 1 (Die on exit codes In [137]) matched: exit code 137 (container main)"},
		},
		"a user Count rule on DisruptionTarget overrides the built-in": {
			pod:   disrupted,
			rules: []kickqv1alpha1.RetryRule{onConditions(cntA, kickqv1alpha1.PodConditionMatcher{Type: "DisruptionTarget"})},
			want: Result{Outcome: fail, ExitCode: ptr.To[int32](137), Reason: "Error", Rule: 1,
				Message: "rule 1 (Count on pod conditions DisruptionTarget=True) matched: pod condition DisruptionTarget=True; exit code 137 (container main)"},
		},
		"DisruptionTarget False: counted": {
			pod: makePod(corev1.PodFailed).
				Condition(corev1.DisruptionTarget, corev1.ConditionFalse, "", "").
				Container("main", errExit(1)).Obj(),
			want: Result{Outcome: fail, ExitCode: ptr.To[int32](1), Reason: "Error", Message: "exit code 1 (container main)"},
		},
		"OOMKilled": {
			pod:  makePod(corev1.PodFailed).Container("main", exited(137, "OOMKilled", "")).Obj(),
			want: Result{Outcome: fail, ExitCode: ptr.To[int32](137), Reason: "OOMKilled", Message: "exit code 137 (container main)"},
		},
		"OOMKilled matched by a rule": {
			pod:   makePod(corev1.PodFailed).Container("main", exited(137, "OOMKilled", "")).Obj(),
			rules: []kickqv1alpha1.RetryRule{onExitCodes(dieA, in, 137)},
			want: Result{Outcome: die, ExitCode: ptr.To[int32](137), Reason: "OOMKilled", Rule: 1,
				Message: "rule 1 (Die on exit codes In [137]) matched: exit code 137 (container main)"},
		},
		"OOMKilled wins over the pod's reason": {
			pod:  makePod(corev1.PodFailed).Reason("Evicted", "low on memory").Container("main", exited(137, "OOMKilled", "")).Obj(),
			want: Result{Outcome: fail, ExitCode: ptr.To[int32](137), Reason: "OOMKilled", Message: "exit code 137 (container main)"},
		},
		"DeadlineExceeded while running": {
			pod: makePod(corev1.PodFailed).
				Reason("DeadlineExceeded", "Pod was active on the node longer than the specified deadline").
				Container("main", errExit(137)).Obj(),
			want: Result{Outcome: fail, ExitCode: ptr.To[int32](137), Reason: "DeadlineExceeded", Message: "exit code 137 (container main)"},
		},
		"DeadlineExceeded before any container ran": {
			pod: makePod(corev1.PodFailed).
				Reason("DeadlineExceeded", "Pod was active on the node longer than the specified deadline").
				Container("main", waiting("ContainerCreating", "")).Obj(),
			want: Result{Outcome: fail, Reason: "DeadlineExceeded",
				Message: "pod failed (DeadlineExceeded): Pod was active on the node longer than the specified deadline"},
		},
		"DeadlineExceeded before start: exit code rules cannot match": {
			pod: makePod(corev1.PodFailed).
				Reason("DeadlineExceeded", "Pod was active on the node longer than the specified deadline").
				Container("main", waiting("ContainerCreating", "")).Obj(),
			rules: []kickqv1alpha1.RetryRule{onExitCodes(dieA, notIn, 1)},
			want: Result{Outcome: fail, Reason: "DeadlineExceeded",
				Message: "pod failed (DeadlineExceeded): Pod was active on the node longer than the specified deadline"},
		},
		"Evicted": {
			pod: evicted.Obj(),
			want: Result{Outcome: fail, ExitCode: ptr.To[int32](137), Reason: "Evicted",
				Message: "exit code 137 (container main): The container could not be located when the pod was terminated"},
		},
		"Evicted with DisruptionTarget: retried": {
			pod: evicted.Condition(corev1.DisruptionTarget, corev1.ConditionTrue, "TerminationByKubelet", "").Obj(),
			want: Result{Outcome: retry, ExitCode: ptr.To[int32](137), Reason: "DisruptionTarget", Rule: DisruptionRule,
				Message: "built-in rule (Retry on pod condition DisruptionTarget=True) matched: TerminationByKubelet; exit code 137 (container main): The container could not be located when the pod was terminated"},
		},
		"Evicted before any container terminated": {
			pod: makePod(corev1.PodFailed).Reason("Evicted", "The node was low on resource: ephemeral-storage.").Obj(),
			want: Result{Outcome: fail, Reason: "Evicted",
				Message: "pod failed (Evicted): The node was low on resource: ephemeral-storage."},
		},
		"no container terminated, no reason": {
			pod:  makePod(corev1.PodFailed).Obj(),
			want: Result{Outcome: fail, Reason: "Error", Message: "pod failed"},
		},
		"no container terminated, pod condition rule still applies": {
			pod: makePod(corev1.PodFailed).
				Reason("DeadlineExceeded", "too long").
				Condition("ConfigIssue", corev1.ConditionTrue, "", "").Obj(),
			rules: []kickqv1alpha1.RetryRule{onConditions(dieA, kickqv1alpha1.PodConditionMatcher{Type: "ConfigIssue"})},
			want: Result{Outcome: die, Reason: "DeadlineExceeded", Rule: 1,
				Message: "rule 1 (Die on pod conditions ConfigIssue=True) matched: pod condition ConfigIssue=True; pod failed (DeadlineExceeded): too long"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Classify(tc.pod, tc.rules)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Classify() mismatch (-want +got):\n%s", diff)
			}
			if len(got.Message) > limits.MaxMessageBytes {
				t.Errorf("message has %d bytes, more than %d", len(got.Message), limits.MaxMessageBytes)
			}
		})
	}
}

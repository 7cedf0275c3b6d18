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

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
)

func terminated(name string, code int32, reason, msg string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: msg}}}
}

func failedPod(statuses ...corev1.ContainerStatus) *corev1.Pod {
	return &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: statuses}}
}

func onCodes(action kickqv1alpha1.RetryAction, op kickqv1alpha1.ExitCodeOperator, container string, codes ...int32) kickqv1alpha1.RetryRule {
	m := &kickqv1alpha1.ExitCodesMatcher{Operator: op, Values: codes}
	if container != "" {
		m.ContainerName = ptr.To(container)
	}
	return kickqv1alpha1.RetryRule{Action: action, OnExitCodes: m}
}

func onCondition(action kickqv1alpha1.RetryAction, typ, status string) kickqv1alpha1.RetryRule {
	return kickqv1alpha1.RetryRule{Action: action, OnPodConditions: []kickqv1alpha1.PodConditionMatcher{{Type: typ, Status: status}}}
}

func TestClassifyFailures(t *testing.T) {
	disrupted := failedPod(terminated("main", 137, "Error", ""))
	disrupted.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}
	deadline := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "DeadlineExceeded", Message: "Pod was active on the node longer than the specified deadline"}}
	withInit := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed,
		InitContainerStatuses: []corev1.ContainerStatus{terminated("setup", 4, "Error", "")}}}
	configIssue := failedPod(terminated("main", 1, "Error", ""))
	configIssue.Status.Conditions = []corev1.PodCondition{{Type: "ConfigIssue", Status: corev1.ConditionFalse}}

	cases := []struct {
		name        string
		pod         *corev1.Pod
		rules       []kickqv1alpha1.RetryRule
		want        kickqv1alpha1.Outcome
		wantRule    int
		wantCode    *int32
		wantReason  string
		msgContains []string
	}{
		{name: "no rules: counted", pod: failedPod(terminated("main", 3, "Error", "boom")), want: kickqv1alpha1.OutcomeFail, wantCode: ptr.To[int32](3), wantReason: "Error",
			msgContains: []string{"exit code 3 (container main)", "boom"}},
		{name: "In matches: Die", pod: failedPod(terminated("main", 2, "Error", "")),
			rules: []kickqv1alpha1.RetryRule{onCodes(kickqv1alpha1.RetryActionDie, kickqv1alpha1.ExitCodeOperatorIn, "", 2)},
			want:  kickqv1alpha1.OutcomeDie, wantRule: 1, wantCode: ptr.To[int32](2), msgContains: []string{"rule 1", "Die on exit codes In [2]", "exit code 2"}},
		{name: "In does not match: counted", pod: failedPod(terminated("main", 3, "Error", "")),
			rules: []kickqv1alpha1.RetryRule{onCodes(kickqv1alpha1.RetryActionDie, kickqv1alpha1.ExitCodeOperatorIn, "", 2)}, want: kickqv1alpha1.OutcomeFail},
		{name: "NotIn matches", pod: failedPod(terminated("main", 9, "Error", "")),
			rules: []kickqv1alpha1.RetryRule{onCodes(kickqv1alpha1.RetryActionRetry, kickqv1alpha1.ExitCodeOperatorNotIn, "", 1, 2)}, want: kickqv1alpha1.OutcomeRetry, wantRule: 1},
		{name: "NotIn excludes", pod: failedPod(terminated("main", 1, "Error", "")),
			rules: []kickqv1alpha1.RetryRule{onCodes(kickqv1alpha1.RetryActionRetry, kickqv1alpha1.ExitCodeOperatorNotIn, "", 1, 2)}, want: kickqv1alpha1.OutcomeFail},
		{name: "containerName restricts the match", pod: failedPod(terminated("main", 0, "Completed", ""), terminated("sidecar", 5, "Error", "")),
			rules: []kickqv1alpha1.RetryRule{onCodes(kickqv1alpha1.RetryActionDie, kickqv1alpha1.ExitCodeOperatorIn, "main", 5)}, want: kickqv1alpha1.OutcomeFail,
			wantCode: ptr.To[int32](5)},
		{name: "containerName matches its container", pod: failedPod(terminated("main", 0, "Completed", ""), terminated("sidecar", 5, "Error", "")),
			rules: []kickqv1alpha1.RetryRule{onCodes(kickqv1alpha1.RetryActionDie, kickqv1alpha1.ExitCodeOperatorIn, "sidecar", 5)}, want: kickqv1alpha1.OutcomeDie, wantRule: 1},
		{name: "init container failure counts", pod: withInit,
			rules: []kickqv1alpha1.RetryRule{onCodes(kickqv1alpha1.RetryActionDie, kickqv1alpha1.ExitCodeOperatorIn, "setup", 4)}, want: kickqv1alpha1.OutcomeDie, wantRule: 1, wantCode: ptr.To[int32](4)},
		{name: "first matching rule wins", pod: failedPod(terminated("main", 2, "Error", "")),
			rules: []kickqv1alpha1.RetryRule{
				onCodes(kickqv1alpha1.RetryActionCount, kickqv1alpha1.ExitCodeOperatorIn, "", 7),
				onCodes(kickqv1alpha1.RetryActionRetry, kickqv1alpha1.ExitCodeOperatorIn, "", 2),
				onCodes(kickqv1alpha1.RetryActionDie, kickqv1alpha1.ExitCodeOperatorIn, "", 2),
			}, want: kickqv1alpha1.OutcomeRetry, wantRule: 2},
		{name: "pod condition matches its status", pod: configIssue,
			rules: []kickqv1alpha1.RetryRule{onCondition(kickqv1alpha1.RetryActionDie, "ConfigIssue", "False")}, want: kickqv1alpha1.OutcomeDie, wantRule: 1,
			msgContains: []string{"pod condition ConfigIssue=False"}},
		{name: "pod condition with another status does not match", pod: configIssue,
			rules: []kickqv1alpha1.RetryRule{onCondition(kickqv1alpha1.RetryActionDie, "ConfigIssue", "True")}, want: kickqv1alpha1.OutcomeFail},
		{name: "DisruptionTarget: retried without counting", pod: disrupted, want: kickqv1alpha1.OutcomeRetry, wantRule: DisruptionRule, wantReason: "DisruptionTarget"},
		{name: "a user rule comes before the built-in disruption rule", pod: disrupted,
			rules: []kickqv1alpha1.RetryRule{onCondition(kickqv1alpha1.RetryActionCount, string(corev1.DisruptionTarget), "")}, want: kickqv1alpha1.OutcomeFail, wantRule: 1},
		{name: "OOMKilled reason", pod: failedPod(terminated("main", 137, "OOMKilled", "")), want: kickqv1alpha1.OutcomeFail, wantReason: "OOMKilled"},
		{name: "pod deadline before any container ran", pod: deadline, want: kickqv1alpha1.OutcomeFail, wantReason: "DeadlineExceeded",
			msgContains: []string{"DeadlineExceeded"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify(tc.pod, tc.rules)
			if got.Outcome != tc.want || got.Rule != tc.wantRule {
				t.Errorf("outcome %q rule %d, want %q rule %d (message %q)", got.Outcome, got.Rule, tc.want, tc.wantRule, got.Message)
			}
			if tc.wantCode != nil && (got.ExitCode == nil || *got.ExitCode != *tc.wantCode) {
				t.Errorf("exit code %v, want %d", got.ExitCode, *tc.wantCode)
			}
			if tc.wantReason != "" && got.Reason != tc.wantReason {
				t.Errorf("reason %q, want %q", got.Reason, tc.wantReason)
			}
			for _, s := range tc.msgContains {
				if !strings.Contains(got.Message, s) {
					t.Errorf("message %q does not contain %q", got.Message, s)
				}
			}
		})
	}
}

func TestClassifySuccessResult(t *testing.T) {
	succeeded := func(msg string) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{terminated("main", 0, "Completed", msg)}}}
	}
	cases := []struct{ name, msg, want string }{
		{"JSON object", `{"rows": 42}`, `{"rows": 42}`},
		{"JSON number", `42`, `42`},
		{"plain text becomes a string", "all done\n", `"all done"`},
		{"empty: no result", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify(succeeded(tc.msg), nil)
			if got.Outcome != kickqv1alpha1.OutcomeSucceed {
				t.Fatalf("outcome %q", got.Outcome)
			}
			if tc.want == "" {
				if got.Result != nil {
					t.Errorf("result %s, want none", got.Result.Raw)
				}
				return
			}
			if got.Result == nil || string(got.Result.Raw) != tc.want {
				t.Errorf("result %v, want %s", got.Result, tc.want)
			}
		})
	}
	big := Classify(succeeded(strings.Repeat("é", 5000)), nil)
	if big.Result == nil || len(big.Result.Raw) > limits.MaxResultBytes || !strings.Contains(string(big.Result.Raw), "truncated") {
		t.Errorf("an oversized message is cut to at most %d bytes with a mark: %d bytes", limits.MaxResultBytes, len(big.Result.Raw))
	}
}

func TestWaitingReason(t *testing.T) {
	waiting := func(reason string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: "main", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "details"}}}
	}
	cases := []struct {
		name string
		pod  corev1.PodStatus
		want string
	}{
		{"image pull back-off", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{waiting("ImagePullBackOff")}}, "ImagePullBackOff"},
		{"init container first", corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{waiting("ErrImagePull")},
			ContainerStatuses: []corev1.ContainerStatus{waiting("PodInitializing")}}, "ErrImagePull"},
		{"unschedulable", corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: "0/1 nodes"}}}, "Unschedulable"},
		{"creating: no reason", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{waiting("ContainerCreating")}}, ""},
		{"running: no reason", corev1.PodStatus{Phase: corev1.PodRunning}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := WaitingReason(&corev1.Pod{Status: tc.pod}); got != tc.want {
				t.Errorf("reason %q, want %q", got, tc.want)
			}
		})
	}
}

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

// Package outcome says what an attempt's observed Pod means: its state, why it waits, and how a
// finished pod ended under the job's retry rules (matched as batch/v1 podFailurePolicy does).
package outcome

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// MaxResultBytes caps the result kept from a termination message.
const MaxResultBytes = 4096

// maxMessage caps messages for people.
const maxMessage = 1024

// PodState summarises an observed pod.
type PodState string

// Pod states.
const (
	PodNotStarted PodState = "NotStarted"
	PodRunning    PodState = "Running"
	PodSucceeded  PodState = "Succeeded"
	PodFailed     PodState = "Failed"
)

// DisruptionRule is Result.Rule for the built-in rule that retries disrupted pods.
const DisruptionRule = -1

// Result is how a finished pod ended.
type Result struct {
	Outcome  kickqv1alpha1.Outcome
	ExitCode *int32
	Reason   string
	Message  string
	Result   *apiextensionsv1.JSON
	// Rule is the 1-based index of the matching retry rule, 0 if none, DisruptionRule for the
	// built-in DisruptionTarget rule.
	Rule int
}

// State reports the pod's state.
func State(pod *corev1.Pod) PodState {
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		return PodSucceeded
	case corev1.PodFailed:
		return PodFailed
	case corev1.PodRunning:
		return PodRunning
	}
	return PodNotStarted
}

// WaitingReason says why a pod that has not started waits: the first waiting container's reason
// (init containers first), or Unschedulable.
func WaitingReason(pod *corev1.Pod) (string, string) {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "PodInitializing" && w.Reason != "ContainerCreating" {
				return w.Reason, trim(fmt.Sprintf("container %s: %s", cs.Name, w.Message))
			}
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return corev1.PodReasonUnschedulable, trim(c.Message)
		}
	}
	return "", ""
}

// Classify says what a finished pod means under the rules.
func Classify(pod *corev1.Pod, rules []kickqv1alpha1.RetryRule) Result {
	if pod.Status.Phase == corev1.PodSucceeded {
		r := Result{Outcome: kickqv1alpha1.OutcomeSucceed, Reason: "Completed", Message: "all containers exited 0"}
		msg := ""
		for _, cs := range pod.Status.ContainerStatuses {
			t := cs.State.Terminated
			if t == nil {
				continue
			}
			if r.ExitCode == nil {
				r.ExitCode = &t.ExitCode
			}
			if cs.Name == "main" && t.Message != "" {
				msg = t.Message
				r.ExitCode = &t.ExitCode
				break
			}
			if msg == "" && t.Message != "" {
				msg = t.Message
			}
		}
		r.Result = resultOf(msg)
		return r
	}

	failed := failedContainers(pod)
	r := Result{Outcome: kickqv1alpha1.OutcomeFail}
	if len(failed) > 0 {
		c := failed[0]
		r.ExitCode = &c.exitCode
		r.Reason = c.reason
		r.Message = fmt.Sprintf("exit code %d (container %s)", c.exitCode, c.name)
		if c.message != "" {
			r.Message += ": " + strings.TrimSpace(c.message)
		}
	} else {
		r.Reason = pod.Status.Reason
		r.Message = "pod failed"
		if pod.Status.Reason != "" {
			r.Message += ": " + pod.Status.Reason
		}
		if pod.Status.Message != "" {
			r.Message += ": " + pod.Status.Message
		}
	}
	if pod.Status.Reason != "" && (r.Reason == "" || r.Reason == "Error") {
		r.Reason = pod.Status.Reason
	}
	if r.Reason == "" {
		r.Reason = "Error"
	}

	for i, rule := range rules {
		matched, what := matches(rule, pod, failed)
		if !matched {
			continue
		}
		r.Rule = i + 1
		r.Outcome = outcomeOf(rule.Action)
		r.Message = trim(fmt.Sprintf("rule %d (%s) matched: %s", i+1, describe(rule), what) + "; " + r.Message)
		return r
	}
	if hasCondition(pod, corev1.DisruptionTarget, corev1.ConditionTrue) {
		r.Rule = DisruptionRule
		r.Outcome = kickqv1alpha1.OutcomeRetry
		r.Reason = string(corev1.DisruptionTarget)
		r.Message = trim("the pod was disrupted (condition DisruptionTarget); " + r.Message)
		return r
	}
	r.Message = trim(r.Message)
	return r
}

type failedContainer struct {
	name     string
	exitCode int32
	reason   string
	message  string
}

// failedContainers lists containers that terminated with a non-zero exit code: init containers
// first, then containers, each in status order.
func failedContainers(pod *corev1.Pod) []failedContainer {
	var out []failedContainer
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
				out = append(out, failedContainer{name: cs.Name, exitCode: t.ExitCode, reason: t.Reason, message: t.Message})
			}
		}
	}
	return out
}

func matches(rule kickqv1alpha1.RetryRule, pod *corev1.Pod, failed []failedContainer) (bool, string) {
	if m := rule.OnExitCodes; m != nil {
		for _, c := range failed {
			if m.ContainerName != nil && *m.ContainerName != c.name {
				continue
			}
			in := slices.Contains(m.Values, c.exitCode)
			if (m.Operator == kickqv1alpha1.ExitCodeOperatorIn) == in {
				return true, fmt.Sprintf("exit code %d (container %s)", c.exitCode, c.name)
			}
		}
		return false, ""
	}
	for _, pc := range rule.OnPodConditions {
		status := corev1.ConditionStatus(pc.Status)
		if status == "" {
			status = corev1.ConditionTrue
		}
		if hasCondition(pod, corev1.PodConditionType(pc.Type), status) {
			return true, fmt.Sprintf("pod condition %s=%s", pc.Type, status)
		}
	}
	return false, ""
}

func hasCondition(pod *corev1.Pod, t corev1.PodConditionType, s corev1.ConditionStatus) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t && c.Status == s {
			return true
		}
	}
	return false
}

func outcomeOf(a kickqv1alpha1.RetryAction) kickqv1alpha1.Outcome {
	switch a {
	case kickqv1alpha1.RetryActionDie:
		return kickqv1alpha1.OutcomeDie
	case kickqv1alpha1.RetryActionRetry:
		return kickqv1alpha1.OutcomeRetry
	}
	return kickqv1alpha1.OutcomeFail
}

func describe(r kickqv1alpha1.RetryRule) string {
	if m := r.OnExitCodes; m != nil {
		s := fmt.Sprintf("%s on exit codes %s %v", r.Action, m.Operator, m.Values)
		if m.ContainerName != nil {
			s += " of container " + *m.ContainerName
		}
		return s
	}
	types := make([]string, 0, len(r.OnPodConditions))
	for _, c := range r.OnPodConditions {
		types = append(types, c.Type)
	}
	return fmt.Sprintf("%s on pod conditions %s", r.Action, strings.Join(types, ","))
}

// resultOf turns a termination message into a result: JSON if it parses, else a JSON string;
// capped at MaxResultBytes.
func resultOf(msg string) *apiextensionsv1.JSON {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return nil
	}
	if len(msg) <= MaxResultBytes && json.Valid([]byte(msg)) {
		return &apiextensionsv1.JSON{Raw: []byte(msg)}
	}
	s := msg
	const suffix = "…(truncated)"
	if len(s) > MaxResultBytes-len(suffix)-2 {
		cut := MaxResultBytes - len(suffix) - 64 // room for JSON escaping of the tail
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + suffix
	}
	b, _ := json.Marshal(s)
	for len(b) > MaxResultBytes { // heavy escaping: shorten until it fits
		s = s[:len(s)/2] + suffix
		b, _ = json.Marshal(s)
	}
	return &apiextensionsv1.JSON{Raw: b}
}

func trim(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

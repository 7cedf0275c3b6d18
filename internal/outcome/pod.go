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
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
)

// MainContainer is the container whose termination message is the result, when the pod has one.
const MainContainer = "main"

// DisruptionRule is Result.Rule when the built-in rule (a pod with condition DisruptionTarget=True
// is retried without counting) decided.
const DisruptionRule = -1

// PodState summarises an observed pod of an attempt.
type PodState string

const (
	// PodNotStarted: Pending, no container running or terminated yet.
	PodNotStarted PodState = "NotStarted"
	// PodRunning: the pod's phase is Running.
	PodRunning PodState = "Running"
	// PodSucceeded: the pod's phase is Succeeded.
	PodSucceeded PodState = "Succeeded"
	// PodFailed: the pod's phase is Failed.
	PodFailed PodState = "Failed"
)

// State reports the pod's state: Succeeded or Failed from its phase, Running if its phase is
// Running, else NotStarted.
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

// startingReasons are waiting reasons every starting container passes through; they say nothing
// about why a pod does not start, so WaitingReason does not report them.
var startingReasons = []string{"ContainerCreating", "PodInitializing"}

// WaitingReason says why a pod that has not started waits: the reason of the first waiting
// container (init containers first, each in spec order), e.g. ImagePullBackOff, ErrImagePull or
// CreateContainerConfigError, or Unschedulable when the PodScheduled condition is False with reason
// Unschedulable; "" otherwise. The message is "container <name>: <its waiting message>" or the
// condition's message, at most limits.MaxMessageBytes. ContainerCreating and PodInitializing,
// which every starting container passes through, are not reasons.
func WaitingReason(pod *corev1.Pod) (reason, message string) {
	statuses := slices.Concat(
		inSpecOrder(pod.Spec.InitContainers, pod.Status.InitContainerStatuses),
		inSpecOrder(pod.Spec.Containers, pod.Status.ContainerStatuses))
	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && !slices.Contains(startingReasons, w.Reason) {
			return w.Reason, waitingMessage(cs)
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return corev1.PodReasonUnschedulable, limits.Truncate(strings.TrimSpace(c.Message), limits.MaxMessageBytes, limits.TruncatedMark)
		}
	}
	return "", ""
}

func waitingMessage(cs corev1.ContainerStatus) string {
	msg := "container " + cs.Name
	if m := strings.TrimSpace(cs.State.Waiting.Message); m != "" {
		msg += ": " + m
	}
	return limits.Truncate(msg, limits.MaxMessageBytes, limits.TruncatedMark)
}

// Classify says what a finished (Succeeded or Failed) pod means under the retry rules.
//
// Succeeded: OutcomeSucceed, with the result taken from the termination message of the container
// named "main" if the pod has one, else of the first container with a non-empty message.
//
// Failed: the first rule that matches wins, matched as batch/v1 podFailurePolicy does: onExitCodes
// looks only at containers (init containers included) that terminated with a non-zero exit code,
// optionally only the one named containerName; onPodConditions matches a pod condition of that type
// whose status equals the matcher's (default True). Die gives OutcomeDie, Retry OutcomeRetry and
// Count OutcomeFail. When no rule matches, a pod with condition DisruptionTarget=True is retried
// (OutcomeRetry, Rule DisruptionRule, Reason DisruptionTarget); anything else is OutcomeFail.
func Classify(pod *corev1.Pod, rules []kickqv1alpha1.RetryRule) Result {
	if pod.Status.Phase == corev1.PodSucceeded {
		return succeeded(pod)
	}
	return failed(pod, rules)
}

func succeeded(pod *corev1.Pod) Result {
	r := Result{Outcome: kickqv1alpha1.OutcomeSucceed, Reason: kickqv1alpha1.AttemptReasonCompleted, Message: "pod succeeded"}
	var first, source *corev1.ContainerStatus
	statuses := inSpecOrder(pod.Spec.Containers, pod.Status.ContainerStatuses)
	for i := range statuses {
		cs := &statuses[i]
		if cs.State.Terminated == nil {
			continue
		}
		if first == nil {
			first = cs
		}
		if cs.Name == MainContainer {
			source = cs
			break
		}
		if source == nil && cs.State.Terminated.Message != "" {
			source = cs
		}
	}
	if first != nil {
		code := first.State.Terminated.ExitCode
		r.ExitCode = &code
		r.Message = fmt.Sprintf("exit code %d (container %s)", code, first.Name)
	}
	if source != nil {
		r.Result = ResultOf(source.State.Terminated.Message)
	}
	return r
}

// failedContainer is a container that terminated with a non-zero exit code.
type failedContainer struct {
	name       string
	exitCode   int32
	terminated *corev1.ContainerStateTerminated
}

func (c failedContainer) String() string {
	return fmt.Sprintf("exit code %d (container %s)", c.exitCode, c.name)
}

// genericReasons are container reasons that say less than the pod's own reason (DeadlineExceeded,
// Evicted) when it has one.
var genericReasons = []string{"", kickqv1alpha1.AttemptReasonError, "ContainerStatusUnknown"}

func failed(pod *corev1.Pod, rules []kickqv1alpha1.RetryRule) Result {
	containers := failedContainers(pod)
	r := Result{Outcome: kickqv1alpha1.OutcomeFail}

	// what is the failure itself: "exit code 3 (container main)" or "pod failed (Evicted): ...".
	var what, excerpt string
	if len(containers) > 0 {
		c := containers[0]
		code := c.exitCode
		r.ExitCode = &code
		r.Reason = c.terminated.Reason
		what = c.String()
		excerpt = strings.TrimSpace(c.terminated.Message)
	} else {
		what = "pod failed"
		if pod.Status.Reason != "" {
			what += " (" + pod.Status.Reason + ")"
		}
		excerpt = strings.TrimSpace(pod.Status.Message)
	}
	if pod.Status.Reason != "" && slices.Contains(genericReasons, r.Reason) {
		r.Reason = pod.Status.Reason
	}
	if r.Reason == "" {
		r.Reason = kickqv1alpha1.AttemptReasonError
	}
	r.Reason = limits.Truncate(r.Reason, limits.MaxReasonBytes, limits.TruncatedMark)

	r.Message = what
	for i, rule := range rules {
		matched, ok := matches(rule, pod, containers)
		if !ok {
			continue
		}
		r.Rule = i + 1
		r.Outcome = outcomeOf(rule.Action)
		r.Message = fmt.Sprintf("rule %d (%s) matched: %s", i+1, describe(rule), matched)
		if matched != what {
			r.Message += "; " + what
		}
		r.Message = withExcerpt(r.Message, excerpt)
		return r
	}
	if c, ok := condition(pod, corev1.DisruptionTarget, corev1.ConditionTrue); ok {
		r.Rule = DisruptionRule
		r.Outcome = kickqv1alpha1.OutcomeRetry
		r.Reason = string(corev1.DisruptionTarget)
		r.Message = "built-in rule (Retry on pod condition DisruptionTarget=True) matched"
		if c.Reason != "" {
			r.Message += ": " + c.Reason
		}
		if m := strings.TrimSpace(c.Message); m != "" {
			r.Message += ": " + m
		}
		r.Message = withExcerpt(r.Message+"; "+what, excerpt)
		return r
	}
	r.Message = withExcerpt(what, excerpt)
	return r
}

func withExcerpt(msg, excerpt string) string {
	if excerpt != "" {
		msg += ": " + excerpt
	}
	return limits.Truncate(msg, limits.MaxMessageBytes, limits.TruncatedMark)
}

// failedContainers lists the containers that terminated with a non-zero exit code: init containers
// first, then containers, each in spec order.
func failedContainers(pod *corev1.Pod) []failedContainer {
	var out []failedContainer
	statuses := slices.Concat(
		inSpecOrder(pod.Spec.InitContainers, pod.Status.InitContainerStatuses),
		inSpecOrder(pod.Spec.Containers, pod.Status.ContainerStatuses))
	for i := range statuses {
		if t := statuses[i].State.Terminated; t != nil && t.ExitCode != 0 {
			out = append(out, failedContainer{name: statuses[i].Name, exitCode: t.ExitCode, terminated: t})
		}
	}
	return out
}

// inSpecOrder orders statuses as their containers appear in the spec (the kubelet sorts container
// statuses by name); statuses of containers the spec does not name follow, in their own order.
func inSpecOrder(spec []corev1.Container, statuses []corev1.ContainerStatus) []corev1.ContainerStatus {
	out := make([]corev1.ContainerStatus, 0, len(statuses))
	used := make([]bool, len(statuses))
	for _, c := range spec {
		for i, cs := range statuses {
			if !used[i] && cs.Name == c.Name {
				out = append(out, cs)
				used[i] = true
				break
			}
		}
	}
	for i, cs := range statuses {
		if !used[i] {
			out = append(out, cs)
		}
	}
	return out
}

// matches reports whether the rule matches the failed pod, and what it matched.
func matches(rule kickqv1alpha1.RetryRule, pod *corev1.Pod, containers []failedContainer) (string, bool) {
	if m := rule.OnExitCodes; m != nil {
		for _, c := range containers {
			if m.ContainerName != nil && *m.ContainerName != c.name {
				continue
			}
			in := slices.Contains(m.Values, c.exitCode)
			switch {
			case m.Operator == kickqv1alpha1.ExitCodeOperatorIn && in,
				m.Operator == kickqv1alpha1.ExitCodeOperatorNotIn && !in:
				return c.String(), true
			}
		}
		return "", false
	}
	for _, pc := range rule.OnPodConditions {
		status := conditionStatus(pc)
		if _, ok := condition(pod, corev1.PodConditionType(pc.Type), status); ok {
			return fmt.Sprintf("pod condition %s=%s", pc.Type, status), true
		}
	}
	return "", false
}

func conditionStatus(pc kickqv1alpha1.PodConditionMatcher) corev1.ConditionStatus {
	if pc.Status == "" {
		return corev1.ConditionTrue
	}
	return corev1.ConditionStatus(pc.Status)
}

func condition(pod *corev1.Pod, t corev1.PodConditionType, s corev1.ConditionStatus) (corev1.PodCondition, bool) {
	for _, c := range pod.Status.Conditions {
		if c.Type == t && c.Status == s {
			return c, true
		}
	}
	return corev1.PodCondition{}, false
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

// describe names a rule for people: "Die on exit codes In [2]", "Retry on pod conditions
// DisruptionTarget=True".
func describe(r kickqv1alpha1.RetryRule) string {
	if m := r.OnExitCodes; m != nil {
		s := fmt.Sprintf("%s on exit codes %s %v", r.Action, m.Operator, m.Values)
		if m.ContainerName != nil {
			s += " of container " + *m.ContainerName
		}
		return s
	}
	conds := make([]string, 0, len(r.OnPodConditions))
	for _, pc := range r.OnPodConditions {
		conds = append(conds, fmt.Sprintf("%s=%s", pc.Type, conditionStatus(pc)))
	}
	return fmt.Sprintf("%s on pod conditions %s", r.Action, strings.Join(conds, ", "))
}

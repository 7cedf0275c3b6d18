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

package testing

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// TerminatedState is a container that exited.
func TerminatedState(code int32, reason, message string) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: message}}
}

// WaitingState is a container that has not started (ContainerCreating, ImagePullBackOff, …).
func WaitingState(reason, message string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}
}

// RunningState is a container running since startedAt (zero: unknown).
func RunningState(startedAt time.Time) corev1.ContainerState {
	s := &corev1.ContainerStateRunning{}
	if !startedAt.IsZero() {
		s.StartedAt = metav1.NewTime(startedAt)
	}
	return corev1.ContainerState{Running: s}
}

// PodWrapper builds a Pod, or the status a test writes for one (envtest runs no kubelet):
// MakePod("job-1", ns).Phase(corev1.PodFailed).Container("main", TerminatedState(2, "Error", "")).Obj().
type PodWrapper struct{ corev1.Pod }

// MakePod starts a Pod with a name and namespace and no containers.
func MakePod(name, ns string) *PodWrapper {
	return &PodWrapper{corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}}
}

// WrapPod starts from a copy of an existing pod (one read from the API server, whose status the
// test then writes).
func WrapPod(p *corev1.Pod) *PodWrapper { return &PodWrapper{*p.DeepCopy()} }

// Obj returns a copy of the Pod built so far.
func (p *PodWrapper) Obj() *corev1.Pod { return p.DeepCopy() }

// Phase sets status.phase.
func (p *PodWrapper) Phase(phase corev1.PodPhase) *PodWrapper { p.Status.Phase = phase; return p }

// Container sets the state of a container, adding the container to the spec (image "img") and
// its status to the statuses where missing.
func (p *PodWrapper) Container(name string, state corev1.ContainerState) *PodWrapper {
	p.Spec.Containers = withContainer(p.Spec.Containers, name)
	p.Status.ContainerStatuses = withState(p.Status.ContainerStatuses, name, state)
	return p
}

// InitContainer is Container for an init container.
func (p *PodWrapper) InitContainer(name string, state corev1.ContainerState) *PodWrapper {
	p.Spec.InitContainers = withContainer(p.Spec.InitContainers, name)
	p.Status.InitContainerStatuses = withState(p.Status.InitContainerStatuses, name, state)
	return p
}

func withContainer(cs []corev1.Container, name string) []corev1.Container {
	for _, c := range cs {
		if c.Name == name {
			return cs
		}
	}
	return append(cs, corev1.Container{Name: name, Image: "img"})
}

func withState(ss []corev1.ContainerStatus, name string, state corev1.ContainerState) []corev1.ContainerStatus {
	for i := range ss {
		if ss[i].Name == name {
			ss[i].State = state
			return ss
		}
	}
	return append(ss, corev1.ContainerStatus{Name: name, State: state})
}

// StatusesByName sorts the container statuses by name, as the kubelet does.
func (p *PodWrapper) StatusesByName() *PodWrapper {
	sort.Slice(p.Status.ContainerStatuses, func(i, j int) bool {
		return p.Status.ContainerStatuses[i].Name < p.Status.ContainerStatuses[j].Name
	})
	return p
}

// Exited ends the pod as the kubelet would after its main container exited with code: phase
// Succeeded (reason Completed) for 0, else Failed (reason Error); message is the container's
// termination message.
func (p *PodWrapper) Exited(code int32, message string) *PodWrapper {
	phase, reason := corev1.PodFailed, "Error"
	if code == 0 {
		phase, reason = corev1.PodSucceeded, "Completed"
	}
	return p.Phase(phase).Container(MainContainer, TerminatedState(code, reason, message))
}

// Running marks the pod Running with its main container running since startedAt.
func (p *PodWrapper) Running(startedAt time.Time) *PodWrapper {
	return p.Phase(corev1.PodRunning).Container(MainContainer, RunningState(startedAt))
}

// Waiting marks the pod Pending with its main container waiting for a reason.
func (p *PodWrapper) Waiting(reason, message string) *PodWrapper {
	return p.Phase(corev1.PodPending).Container(MainContainer, WaitingState(reason, message))
}

// Reason sets the pod-level reason and message (DeadlineExceeded, Evicted).
func (p *PodWrapper) Reason(reason, message string) *PodWrapper {
	p.Status.Reason, p.Status.Message = reason, message
	return p
}

// Condition adds a pod condition.
func (p *PodWrapper) Condition(t corev1.PodConditionType, s corev1.ConditionStatus, reason, message string) *PodWrapper {
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: s, Reason: reason, Message: message})
	return p
}

// DisruptionTarget adds the condition an eviction or preemption sets (True, with a reason such as
// EvictionByEvictionAPI).
func (p *PodWrapper) DisruptionTarget(reason string) *PodWrapper {
	return p.Condition(corev1.DisruptionTarget, corev1.ConditionTrue, reason, "")
}

// Labels adds labels.
func (p *PodWrapper) Labels(l map[string]string) *PodWrapper {
	if p.ObjectMeta.Labels == nil {
		p.ObjectMeta.Labels = map[string]string{}
	}
	for k, v := range l {
		p.ObjectMeta.Labels[k] = v
	}
	return p
}

// Owner makes a QueueJob the pod's controller.
func (p *PodWrapper) Owner(job *kickqv1alpha1.QueueJob) *PodWrapper {
	p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{
		APIVersion: kickqv1alpha1.GroupVersion.String(), Kind: "QueueJob", Name: job.Name, UID: job.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	})
	return p
}

// AttemptOf names and labels the pod as attempt n of a job, owned by it, as the manager makes
// it: name <job>-<n> and the kickq.dev/job, queue and attempt labels.
func (p *PodWrapper) AttemptOf(job *kickqv1alpha1.QueueJob, attempt int) *PodWrapper {
	p.Name = fmt.Sprintf("%s-%d", job.Name, attempt)
	p.Namespace = job.Namespace
	queue := job.Spec.QueueName
	if queue == "" {
		queue = kickqv1alpha1.DefaultQueueName
	}
	return p.Labels(map[string]string{
		kickqv1alpha1.LabelJob: job.Name, kickqv1alpha1.LabelQueue: queue, kickqv1alpha1.LabelAttempt: strconv.Itoa(attempt),
	}).Owner(job)
}

// Created sets metadata.creationTimestamp (for unit tests; the API server sets its own).
func (p *PodWrapper) Created(t time.Time) *PodWrapper {
	p.CreationTimestamp = metav1.NewTime(t)
	return p
}

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
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podWrapper builds test pods: makePod(corev1.PodFailed).Container("main", exited(2, "Error", "")).Obj().
type podWrapper struct{ corev1.Pod }

func makePod(phase corev1.PodPhase) *podWrapper {
	return &podWrapper{corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "job-1", Namespace: "ns"},
		Status:     corev1.PodStatus{Phase: phase},
	}}
}

// Container adds a container to the spec and its status.
func (p *podWrapper) Container(name string, state corev1.ContainerState) *podWrapper {
	p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: name, Image: "img"})
	p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: name, State: state})
	return p
}

// InitContainer adds an init container to the spec and its status.
func (p *podWrapper) InitContainer(name string, state corev1.ContainerState) *podWrapper {
	p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: name, Image: "img"})
	p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses, corev1.ContainerStatus{Name: name, State: state})
	return p
}

// StatusesByName sorts the container statuses by name, as the kubelet does.
func (p *podWrapper) StatusesByName() *podWrapper {
	sort.Slice(p.Status.ContainerStatuses, func(i, j int) bool {
		return p.Status.ContainerStatuses[i].Name < p.Status.ContainerStatuses[j].Name
	})
	return p
}

// Reason sets the pod-level reason and message (DeadlineExceeded, Evicted).
func (p *podWrapper) Reason(reason, message string) *podWrapper {
	p.Status.Reason, p.Status.Message = reason, message
	return p
}

// Condition adds a pod condition.
func (p *podWrapper) Condition(t corev1.PodConditionType, s corev1.ConditionStatus, reason, message string) *podWrapper {
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: s, Reason: reason, Message: message})
	return p
}

func (p *podWrapper) Obj() *corev1.Pod { return p.DeepCopy() }

func exited(code int32, reason, message string) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: message}}
}

func waiting(reason, message string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}
}

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
}

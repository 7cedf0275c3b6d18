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

package lifecycle

import (
	"fmt"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
)

// jobWrapper builds QueueJobs for tests, as jobset's and kueue's wrappers do.
type jobWrapper struct{ kickqv1alpha1.QueueJob }

func makeJob(name, ns string) *jobWrapper {
	return &jobWrapper{kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}}
}

func (w *jobWrapper) Pod() *jobWrapper {
	w.Spec.Pod = &kickqv1alpha1.PodTarget{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}}
	return w
}
func (w *jobWrapper) Queue(q string) *jobWrapper { w.Spec.QueueName = q; return w }
func (w *jobWrapper) Type(t string) *jobWrapper  { w.Spec.Type = t; return w }
func (w *jobWrapper) Data(raw string) *jobWrapper {
	w.Spec.Data = &apiextensionsv1.JSON{Raw: []byte(raw)}
	return w
}
func (w *jobWrapper) Delay(s int32) *jobWrapper    { w.Spec.DelaySeconds = &s; return w }
func (w *jobWrapper) Priority(p int32) *jobWrapper { w.Spec.Priority = &p; return w }
func (w *jobWrapper) Suspend() *jobWrapper         { w.Spec.Suspend = ptr.To(true); return w }
func (w *jobWrapper) AttemptDeadline(s int32) *jobWrapper {
	w.Spec.AttemptDeadlineSeconds = &s
	return w
}
func (w *jobWrapper) ActiveDeadline(s int32) *jobWrapper { w.Spec.ActiveDeadlineSeconds = &s; return w }
func (w *jobWrapper) StartDeadline(s int32) *jobWrapper {
	w.Spec.Pod.StartDeadlineSeconds = &s
	return w
}
func (w *jobWrapper) Retry(limit int32, typ kickqv1alpha1.BackoffType, base int32, rules ...kickqv1alpha1.RetryRule) *jobWrapper {
	w.Spec.Retry = &kickqv1alpha1.RetryPolicy{Limit: &limit, Backoff: &kickqv1alpha1.Backoff{Type: typ, BaseSeconds: &base}, Rules: rules}
	return w
}
func (w *jobWrapper) Obj() *kickqv1alpha1.QueueJob { return &w.QueueJob }

func exitRule(action kickqv1alpha1.RetryAction, codes ...int32) kickqv1alpha1.RetryRule {
	return kickqv1alpha1.RetryRule{Action: action, OnExitCodes: &kickqv1alpha1.ExitCodesMatcher{Operator: kickqv1alpha1.ExitCodeOperatorIn, Values: codes}}
}

func create(o client.Object) {
	ExpectWithOffset(1, k8sClient.Create(ctx, o)).To(Succeed())
}

// modify reads o afresh, applies change and updates it, again on a conflict:
// the manager writes the same objects' status at any time, so an update from
// a copy read earlier may meet a newer resourceVersion.
func modify[T client.Object](o T, change func(T)) {
	ExpectWithOffset(1, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
			return err
		}
		change(o)
		return k8sClient.Update(ctx, o)
	})).To(Succeed())
}

func getJob(ns, name string) *kickqv1alpha1.QueueJob {
	var j kickqv1alpha1.QueueJob
	ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &j)).To(Succeed())
	return &j
}

// phaseOf polls a job's phase.
func phaseOf(ns, name string) func() kickqv1alpha1.QueueJobPhase {
	return func() kickqv1alpha1.QueueJobPhase {
		var j kickqv1alpha1.QueueJob
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &j); err != nil {
			return ""
		}
		return j.Status.Phase
	}
}

func expectPhase(ns, name string, p kickqv1alpha1.QueueJobPhase) *kickqv1alpha1.QueueJob {
	EventuallyWithOffset(1, phaseOf(ns, name), util.Timeout, util.Interval).Should(Equal(p))
	return getJob(ns, name)
}

// expectBlocked waits until a job is Blocked for the given reason. The
// manager may first block a job for an earlier reason (its cache has not seen
// a queue created just before the job yet) and move to the final one when it
// does, so the reason is awaited, not read once.
func expectBlocked(ns, name, reason string) *kickqv1alpha1.QueueJob {
	EventuallyWithOffset(1, func() string {
		var j kickqv1alpha1.QueueJob
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &j); err != nil || j.Status.Phase != kickqv1alpha1.PhaseBlocked {
			return ""
		}
		if c := meta.FindStatusCondition(j.Status.Conditions, kickqv1alpha1.JobBlocked); c != nil {
			return c.Reason
		}
		return ""
	}, util.Timeout, util.Interval).Should(Equal(reason))
	return getJob(ns, name)
}

// waitPod waits for the pod of a job's attempt and returns it.
func waitPod(ns, job string, attempt int) *corev1.Pod {
	var pod corev1.Pod
	EventuallyWithOffset(1, func() error {
		return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("%s-%d", job, attempt)}, &pod)
	}, util.Timeout, util.Interval).Should(Succeed())
	return &pod
}

func podExists(ns, name string) func() bool {
	return func() bool {
		var pod corev1.Pod
		return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &pod) == nil
	}
}

// The kubelet's part: writing pod status.

func setPodRunning(pod *corev1.Pod) {
	pod.Status.Phase = corev1.PodRunning
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
		Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
	ExpectWithOffset(1, k8sClient.Status().Update(ctx, pod)).To(Succeed())
}

func setPodExited(pod *corev1.Pod, code int32, message string) {
	pod.Status.Phase = corev1.PodFailed
	reason := "Error"
	if code == 0 {
		pod.Status.Phase = corev1.PodSucceeded
		reason = "Completed"
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: message}}}}
	ExpectWithOffset(1, k8sClient.Status().Update(ctx, pod)).To(Succeed())
}

func setPodWaiting(pod *corev1.Pod, reason, message string) {
	pod.Status.Phase = corev1.PodPending
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
		Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}}}
	ExpectWithOffset(1, k8sClient.Status().Update(ctx, pod)).To(Succeed())
}

// finishPod waits for the attempt's pod and ends it with an exit code.
func finishPod(ns, job string, attempt int, code int32, message string) {
	pod := waitPod(ns, job, attempt)
	setPodExited(pod, code, message)
}

// stepTo moves the fake clock to t (never backwards).
func stepTo(t time.Time) {
	if t.After(fakeClock.Now()) {
		fakeClock.SetTime(t)
	}
}

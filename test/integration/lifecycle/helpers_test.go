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

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

func create(o client.Object) {
	ExpectWithOffset(1, env.Client.Create(env.Ctx, o)).To(Succeed())
}

// modify reads o afresh, applies change and updates it, again on a conflict:
// the manager writes the same objects' status at any time, so an update from
// a copy read earlier may meet a newer resourceVersion.
func modify[T client.Object](o T, change func(T)) {
	ExpectWithOffset(1, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(env.Ctx, client.ObjectKeyFromObject(o), o); err != nil {
			return err
		}
		change(o)
		return env.Client.Update(env.Ctx, o)
	})).To(Succeed())
}

func getJob(ns, name string) *kickqv1alpha1.QueueJob {
	var j kickqv1alpha1.QueueJob
	ExpectWithOffset(1, env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j)).To(Succeed())
	return &j
}

// phaseOf polls a job's phase.
func phaseOf(ns, name string) func() kickqv1alpha1.QueueJobPhase {
	return func() kickqv1alpha1.QueueJobPhase {
		var j kickqv1alpha1.QueueJob
		if err := env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j); err != nil {
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
		if err := env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &j); err != nil || j.Status.Phase != kickqv1alpha1.PhaseBlocked {
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
		return env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("%s-%d", job, attempt)}, &pod)
	}, util.Timeout, util.Interval).Should(Succeed())
	return &pod
}

func podExists(ns, name string) func() bool {
	return func() bool {
		var pod corev1.Pod
		return env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: name}, &pod) == nil
	}
}

// The kubelet's part: writing pod status.

// writePodStatus writes the status built on a copy of pod, and keeps what the API server returned
// in pod.
func writePodStatus(pod *corev1.Pod, w *utiltesting.PodWrapper) {
	GinkgoHelper()
	p := w.Obj()
	Expect(env.Client.Status().Update(env.Ctx, p)).To(Succeed())
	*pod = *p
}

func setPodRunning(pod *corev1.Pod) {
	GinkgoHelper()
	writePodStatus(pod, utiltesting.WrapPod(pod).Running(time.Now()))
}

func setPodExited(pod *corev1.Pod, code int32, message string) {
	GinkgoHelper()
	writePodStatus(pod, utiltesting.WrapPod(pod).Exited(code, message))
}

func setPodWaiting(pod *corev1.Pod, reason, message string) {
	GinkgoHelper()
	writePodStatus(pod, utiltesting.WrapPod(pod).Waiting(reason, message))
}

// finishPod waits for the attempt's pod and ends it with an exit code.
func finishPod(ns, job string, attempt int, code int32, message string) {
	GinkgoHelper()
	pod := waitPod(ns, job, attempt)
	setPodExited(pod, code, message)
}

// stepTo moves the fake clock to t (never backwards).
func stepTo(t time.Time) {
	if t.After(env.Clock.Now()) {
		env.Clock.SetTime(t)
	}
}

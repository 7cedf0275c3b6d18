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

package controllers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/report"
)

// A pod that reports progress and logs and exits within the coalescing interval: the reports
// were answered 202, so the write that ends the attempt carries them.
func TestAttemptEndWritesReportsHeldForCoalescing(t *testing.T) {
	r, c, pods, _, _ := newTestReconciler(t, podJob("a"))
	key := types.NamespacedName{Namespace: "ns", Name: "a"}
	r.Reports = report.NewStore(r.Clock.(*clocktesting.FakeClock), func(types.NamespacedName) {})
	reconcileJob(t, r, "a") // attempt 1 starts
	pods.obs = attempt.Observation{Phase: attempt.Running, Name: "a-1"}

	r.Reports.Add(key, 1, report.Report{Progress: &kickqv1alpha1.Progress{Percent: 10}, Logs: []string{"first"}})
	reconcileJob(t, r, "a") // due at once: written
	if j := getJob(t, c, "a"); j.Status.Progress == nil || j.Status.Progress.Percent != 10 {
		t.Fatalf("the first report was not written: %+v", j.Status.Progress)
	}

	// Within the interval after that write: held back for coalescing.
	r.Reports.Add(key, 1, report.Report{Progress: &kickqv1alpha1.Progress{Percent: 100, Message: "all done"}, Logs: []string{"last"}})
	pods.obs = attempt.Observation{Phase: attempt.Finished, Name: "a-1", Pod: &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "a-1", Namespace: "ns"},
		Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{Name: "main",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}}}}}}
	reconcileJob(t, r, "a")

	j := getJob(t, c, "a")
	if j.Status.Phase != kickqv1alpha1.PhaseSucceeded {
		t.Fatalf("phase %s, want Succeeded", j.Status.Phase)
	}
	if j.Status.Progress == nil || j.Status.Progress.Percent != 100 || j.Status.Progress.Message != "all done" {
		t.Errorf("progress %+v, want the 100%% reported just before the pod exited", j.Status.Progress)
	}
	var lines []string
	for _, l := range j.Status.Logs {
		lines = append(lines, l.Message)
	}
	found := false
	for _, l := range lines {
		found = found || l == "last"
	}
	if !found {
		t.Errorf("logs %q lack the line reported just before the pod exited", lines)
	}
}

// A heartbeat held back for coalescing when the heartbeat timeout comes due keeps the attempt
// running: the timeout is checked against it, not against the older written heartbeat.
func TestHeldBackHeartbeatKeepsTheAttemptRunning(t *testing.T) {
	job := podJob("a")
	job.Spec.HeartbeatTimeoutSeconds = ptr.To[int32](5)
	r, c, pods, _, _ := newTestReconciler(t, job)
	clk := r.Clock.(*clocktesting.FakeClock)
	key := types.NamespacedName{Namespace: "ns", Name: "a"}
	r.Reports = report.NewStore(clk, func(types.NamespacedName) {})
	reconcileJob(t, r, "a") // attempt 1 starts at t0
	pods.obs = attempt.Observation{Phase: attempt.Running, Name: "a-1"}

	r.Reports.Add(key, 1, report.Report{}) // a heartbeat at t0 ...
	clk.Step(4500 * time.Millisecond)
	reconcileJob(t, r, "a") // ... written late (a busy manager): the interval runs to t0+5.5s
	clk.Step(300 * time.Millisecond)
	r.Reports.Add(key, 1, report.Report{}) // a heartbeat at t0+4.8s, held back for coalescing
	clk.Step(300 * time.Millisecond)       // t0+5.1s: past the timeout of the written heartbeat
	reconcileJob(t, r, "a")

	j := getJob(t, c, "a")
	if j.Status.Phase != kickqv1alpha1.PhaseRunning {
		t.Fatalf("phase %s (%s), want Running: a heartbeat came 0.3 s ago", j.Status.Phase, j.Status.Message)
	}
	if hb := j.Status.LastHeartbeatTime; hb == nil || hb.Time.Before(t0.Add(4*time.Second)) {
		t.Errorf("lastHeartbeatTime %v, want the held-back heartbeat written", hb)
	}
}

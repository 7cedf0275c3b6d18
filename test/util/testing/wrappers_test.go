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

package testing_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestMakeQueueJob(t *testing.T) {
	got := utiltesting.MakeQueueJob("a", "ns").Queue("q").Type("email").Priority(5).Delay(30*time.Second).
		Data(map[string]string{"to": "a@b.c"}).Pod("img").StartDeadline(time.Minute).
		Retry(3, utiltesting.FixedBackoff(20*time.Second)).Rule(utiltesting.ExitCodeRule(kickqv1alpha1.RetryActionDie, 2)).
		Rule(utiltesting.PodConditionRule(kickqv1alpha1.RetryActionRetry, utiltesting.ConditionMatch("DisruptionTarget", "True"))).
		AttemptDeadline(2*time.Minute).Batch("b").After("x", "y").Notify("http://h/notify", utiltesting.WithSecret("s", "k")).
		Suspend().Labels(map[string]string{"team": "a"}).Obj()
	want := &kickqv1alpha1.QueueJob{
		ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", Labels: map[string]string{"team": "a"}},
		Spec: kickqv1alpha1.QueueJobSpec{
			QueueName: "q", Type: "email", Priority: ptr.To[int32](5), DelaySeconds: ptr.To[int32](30),
			Data:    &apiextensionsv1.JSON{Raw: []byte(`{"to":"a@b.c"}`)},
			Suspend: ptr.To(true),
			JobPolicies: kickqv1alpha1.JobPolicies{
				Retry: &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](3),
					Backoff: &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffFixed, BaseSeconds: ptr.To[int32](20)},
					Rules: []kickqv1alpha1.RetryRule{
						{Action: kickqv1alpha1.RetryActionDie,
							OnExitCodes: &kickqv1alpha1.ExitCodesMatcher{Operator: kickqv1alpha1.ExitCodeOperatorIn, Values: []int32{2}}},
						{Action: kickqv1alpha1.RetryActionRetry,
							OnPodConditions: []kickqv1alpha1.PodConditionMatcher{{Type: "DisruptionTarget", Status: "True"}}},
					}},
				AttemptDeadlineSeconds: ptr.To[int32](120),
			},
			Batch:  "b",
			After:  &kickqv1alpha1.Dependencies{JobNames: []string{"x", "y"}, Require: kickqv1alpha1.RequireAllSucceeded},
			Notify: &kickqv1alpha1.Notify{Webhook: kickqv1alpha1.WebhookTarget{URL: "http://h/notify", SecretRef: &kickqv1alpha1.SecretKeyRef{Name: "s", Key: "k"}}},
			Pod: &kickqv1alpha1.PodTarget{StartDeadlineSeconds: ptr.To[int32](60), Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "img"}}}}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MakeQueueJob mismatch (-want +got):\n%s", diff)
	}
}

func TestMakeQueueJobCronAndStatus(t *testing.T) {
	got := utiltesting.MakeQueueJob("tick", "ns").Cron("*/1 * * * *").CronConcurrency(kickqv1alpha1.ConcurrencyAllow).
		CronMissedRuns(kickqv1alpha1.MissedRunsRunAll, 3).CronHistory(20, -1).
		Webhook("http://h/ok", utiltesting.WithTimeout(5*time.Second)).Retry(0).
		UID("uid-1").Created(t0).Running(2, t0).FailedAttempts(1).Obj()
	want := &kickqv1alpha1.QueueJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "ns", UID: "uid-1", CreationTimestamp: metav1.NewTime(t0)},
		Spec: kickqv1alpha1.QueueJobSpec{
			Cron: &kickqv1alpha1.CronSpec{Schedule: "*/1 * * * *", ConcurrencyPolicy: kickqv1alpha1.ConcurrencyAllow,
				MissedRuns: kickqv1alpha1.MissedRunsRunAll, MaxMissedRuns: ptr.To[int32](3), SuccessfulJobsHistoryLimit: ptr.To[int32](20)},
			Webhook:     &kickqv1alpha1.WebhookTarget{URL: "http://h/ok", TimeoutSeconds: ptr.To[int32](5)},
			JobPolicies: kickqv1alpha1.JobPolicies{Retry: &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](0)}},
		},
		Status: kickqv1alpha1.QueueJobStatus{Phase: kickqv1alpha1.PhaseRunning, Attempts: 2, FailedAttempts: 1,
			StartTime:      &metav1.Time{Time: t0},
			AttemptHistory: []kickqv1alpha1.AttemptRecord{{Number: 2, StartTime: &metav1.Time{Time: t0}}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cron template mismatch (-want +got):\n%s", diff)
	}
}

func TestObjReturnsACopy(t *testing.T) {
	w := utiltesting.MakeQueueJob("a", "ns").Pod()
	first := w.Obj()
	first.Spec.Pod.Template.Spec.Containers[0].Image = "changed"
	if got := w.Obj().Spec.Pod.Template.Spec.Containers[0].Image; got != utiltesting.DefaultImage {
		t.Errorf("a change to one Obj reached the builder: image %q", got)
	}
}

func TestMakeQueue(t *testing.T) {
	got := utiltesting.MakeQueue("q", "ns").Concurrency(2).Rate(5, 60).Paused().InlineTargets(kickqv1alpha1.InlineTargetsDeny).
		Handler("thumbs", utiltesting.MakeHandler().Pod("thumbs").Concurrency(1).Obj()).
		DefaultHandler(utiltesting.MakeHandler().Worker().Obj()).
		SucceededHistory(2).FailedTTL(30 * time.Second).Obj()
	want := &kickqv1alpha1.Queue{
		ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "ns"},
		Spec: kickqv1alpha1.QueueSpec{
			Paused: ptr.To(true), Concurrency: ptr.To[int32](2), RateLimit: &kickqv1alpha1.RateLimit{Limit: 5, PeriodSeconds: 60},
			InlineTargets: kickqv1alpha1.InlineTargetsDeny,
			Handlers: []kickqv1alpha1.Handler{{Type: "thumbs", HandlerSpec: kickqv1alpha1.HandlerSpec{Concurrency: ptr.To[int32](1),
				Pod: &kickqv1alpha1.PodTarget{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "thumbs"}}}}}}}},
			DefaultHandler: &kickqv1alpha1.HandlerSpec{Worker: &kickqv1alpha1.WorkerTarget{}},
			Retention: &kickqv1alpha1.Retention{
				Succeeded: &kickqv1alpha1.RetentionPolicy{HistoryLimit: ptr.To[int32](2)},
				Failed:    &kickqv1alpha1.RetentionPolicy{TTLSecondsAfterFinished: ptr.To[int32](30)},
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MakeQueue mismatch (-want +got):\n%s", diff)
	}
}

func TestMakePod(t *testing.T) {
	job := utiltesting.MakeQueueJob("j", "ns").UID("uid-j").Obj()
	got := utiltesting.MakePod("", "").AttemptOf(job, 1).Exited(137, "").DisruptionTarget("EvictionByEvictionAPI").Obj()
	want := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "j-1", Namespace: "ns",
			Labels: map[string]string{kickqv1alpha1.LabelJob: "j", kickqv1alpha1.LabelQueue: "default", kickqv1alpha1.LabelAttempt: "1"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "kickq.dev/v1alpha1", Kind: "QueueJob", Name: "j", UID: "uid-j",
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "img"}}},
		Status: corev1.PodStatus{Phase: corev1.PodFailed,
			Conditions: []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI"}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
				Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Error"}}}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MakePod mismatch (-want +got):\n%s", diff)
	}

	// A later state of the same container replaces the earlier one.
	p := utiltesting.WrapPod(got).Waiting("ImagePullBackOff", "back-off").Obj()
	if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].State.Waiting == nil || p.Status.Phase != corev1.PodPending {
		t.Errorf("Waiting after Exited: %+v", p.Status)
	}
	if got.Status.Phase != corev1.PodFailed {
		t.Errorf("WrapPod changed the pod it wraps")
	}
}

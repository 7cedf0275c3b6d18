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
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/executor"
)

// A deleted job's webhook call still waiting in the pool is dropped when its reconciler finds the
// job gone: it is never made.
func TestReconcileOfADeletedJobDropsItsWaitingWebhookCall(t *testing.T) {
	r, _, _, _, _ := newTestReconciler(t)
	hooks := executor.NewWebhooks(executor.WebhookOptions{Clock: clocktesting.NewFakeClock(t0)}) // not run: calls wait
	r.Executors[attempt.KindWebhook] = hooks
	job := podJob("gone") // never stored: the reconciler finds it deleted
	target := attempt.Target{Kind: attempt.KindWebhook, Webhook: &kickqv1alpha1.WebhookTarget{URL: "http://127.0.0.1:1/"}}
	if err := hooks.Start(context.Background(), job, target, 1); err != nil {
		t.Fatal(err)
	}
	reconcileJob(t, r, "gone")
	if obs, _ := hooks.Observe(context.Background(), job, 1); obs.Phase != attempt.Missing {
		t.Fatalf("the deleted job's call is still kept: %+v", obs)
	}
}

// A deleted job's pod expectation is dropped when its reconciler finds the job gone: the pod
// executor keeps nothing of it.
func TestReconcileOfADeletedJobDropsItsPodExpectations(t *testing.T) {
	r, c, _, _, _ := newTestReconciler(t)
	pods := executor.NewPods(c, c, testScheme(t), clocktesting.NewFakeClock(t0))
	r.Executors[attempt.KindPod] = pods
	job := podJob("gone") // never stored: the reconciler finds it deleted
	if err := pods.Start(context.Background(), job, attempt.Target{Kind: attempt.KindPod, Pod: job.Spec.Pod}, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteAllOf(context.Background(), &corev1.Pod{}, client.InNamespace("ns")); err != nil {
		t.Fatal(err)
	}
	if obs, _ := pods.Observe(context.Background(), job, 1); !obs.Expected {
		t.Fatalf("before the reconcile, the created pod is not expected: %+v", obs)
	}
	reconcileJob(t, r, "gone")
	if obs, _ := pods.Observe(context.Background(), job, 1); obs.Expected {
		t.Fatalf("the deleted job's pod is still expected: %+v", obs)
	}
}

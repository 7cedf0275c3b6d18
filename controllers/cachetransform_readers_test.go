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
	"time"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/cachetransform"
)

// trimmingClient reads as the manager's cache does: every object through the cache transform.
// Writes go to the client it wraps (the API server of the test).
type trimmingClient struct{ client.Client }

func (c trimmingClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := c.Client.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	_, err := cachetransform.Transform(obj)
	return err
}

func (c trimmingClient) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := c.Client.List(ctx, list, opts...); err != nil {
		return err
	}
	if l, ok := list.(*kickqv1alpha1.QueueJobList); ok {
		for i := range l.Items {
			if _, err := cachetransform.Transform(&l.Items[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// finishedAt stores a Succeeded one-attempt status for the job, with what the transform trims:
// logs, progress, result, resolved policy, an attempt message.
func finishedAt(t *testing.T, c client.Client, name string, at time.Time) *kickqv1alpha1.QueueJob {
	t.Helper()
	j := getJob(t, c, name)
	mt := metav1.NewTime(at)
	j.Status = kickqv1alpha1.QueueJobStatus{
		Phase: kickqv1alpha1.PhaseSucceeded, Reason: kickqv1alpha1.ReasonCompleted, Attempts: 1, StartTime: &mt, FinishTime: &mt,
		Conditions: []metav1.Condition{{Type: kickqv1alpha1.JobComplete, Status: metav1.ConditionTrue, Reason: kickqv1alpha1.ReasonCompleted, LastTransitionTime: mt}},
		AttemptHistory: []kickqv1alpha1.AttemptRecord{{Number: 1, StartTime: &mt, FinishTime: &mt, Outcome: kickqv1alpha1.OutcomeSucceed,
			PodName: name + "-1", Reason: kickqv1alpha1.AttemptReasonCompleted, Message: "pod succeeded"}},
		Logs:     []kickqv1alpha1.LogEntry{{Time: mt, Message: "done"}},
		Progress: &kickqv1alpha1.Progress{Percent: 100},
		Result:   &apiextensionsv1.JSON{Raw: []byte(`{"n":1}`)},
		Resolved: &kickqv1alpha1.ResolvedPolicy{AttemptDeadlineSeconds: ptr.To(int32(60))},
	}
	if err := c.Status().Update(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	return getJob(t, c, name)
}

// TestTrimmedFinishedJobReaders: with the cache holding finished jobs trimmed, what reads them
// still works, and a status write of a finished job keeps what the cache does not hold.
func TestTrimmedFinishedJobReaders(t *testing.T) {
	t.Run("callback delivery recorded: logs, result, progress, resolved policy and attempt messages stay in the API server", func(t *testing.T) {
		j := podJob("a")
		j.Spec.Notify = &kickqv1alpha1.Notify{Webhook: kickqv1alpha1.WebhookTarget{URL: "https://example.invalid/done"}}
		r, c, _, cb, _ := newTestReconciler(t, j)
		before := finishedAt(t, c, "a", t0.Add(-time.Minute))
		r.Client, r.APIReader = trimmingClient{c}, c
		cb.state = attempt.NotifyState{Done: true, Delivered: true}

		reconcileJob(t, r, "a")

		after := getJob(t, c, "a")
		if after.Status.Notification == nil || after.Status.Notification.DeliveredTime == nil {
			t.Fatalf("the delivery was not recorded: %+v", after.Status.Notification)
		}
		keep := func(st kickqv1alpha1.QueueJobStatus) any {
			return []any{st.Logs, st.Progress, st.Result, st.Resolved, st.AttemptHistory}
		}
		if diff := cmp.Diff(keep(before.Status), keep(after.Status)); diff != "" {
			t.Errorf("trimmed fields after the write (-before +after):\n%s", diff)
		}
	})
	t.Run("time to live: the trimmed job is deleted when due", func(t *testing.T) {
		j := podJob("a")
		j.Spec.TTLSecondsAfterFinished = ptr.To(int32(30))
		r, c, _, _, _ := newTestReconciler(t, j)
		finishedAt(t, c, "a", t0.Add(-time.Minute))
		r.Client, r.APIReader = trimmingClient{c}, c

		reconcileJob(t, r, "a")

		err := c.Get(context.Background(), types.NamespacedName{Namespace: "ns", Name: "a"}, &kickqv1alpha1.QueueJob{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("job after its time to live: %v, want NotFound", err)
		}
	})
	t.Run("spec.after a trimmed finished job: the dependent starts", func(t *testing.T) {
		b := podJob("b")
		b.Spec.After = &kickqv1alpha1.Dependencies{JobNames: []string{"a"}}
		r, c, pods, _, _ := newTestReconciler(t, podJob("a"), b)
		finishedAt(t, c, "a", t0.Add(-time.Minute))
		r.Client, r.APIReader = trimmingClient{c}, c

		reconcileJob(t, r, "b")

		if diff := cmp.Diff([]int32{1}, pods.started); diff != "" {
			t.Errorf("starts of the dependent (-want +got):\n%s", diff)
		}
	})
}

// TestWindowsNeed: admission keeps a finished job only while a rate window of its queue may count
// its starts.
func TestWindowsNeed(t *testing.T) {
	now := t0
	finished := func(at time.Time) *kickqv1alpha1.QueueJob {
		mt := metav1.NewTime(at)
		j := podJob("a")
		j.Status = kickqv1alpha1.QueueJobStatus{Attempts: 1, FinishTime: &mt,
			Conditions:     []metav1.Condition{{Type: kickqv1alpha1.JobComplete, Status: metav1.ConditionTrue}},
			AttemptHistory: []kickqv1alpha1.AttemptRecord{{Number: 1, StartTime: &mt, FinishTime: &mt}}}
		return j
	}
	running := podJob("a")
	running.Status.Phase, running.Status.Attempts = kickqv1alpha1.PhaseRunning, 1
	cron := finished(now)
	cron.Spec.Cron = &kickqv1alpha1.CronSpec{Schedule: "@every 1m"}
	cases := map[string]struct {
		job       *kickqv1alpha1.QueueJob
		period    time.Duration
		want      bool
		wantUntil time.Time
	}{
		"finished, queue without rate limits": {job: finished(now), period: 0},
		"finished inside the window": {job: finished(now.Add(-30 * time.Second)), period: time.Minute, want: true,
			wantUntil: now.Add(-30*time.Second + time.Second + time.Minute)},
		"finished, its start left the window": {job: finished(now.Add(-2 * time.Minute)), period: time.Minute,
			wantUntil: now.Add(-2*time.Minute + time.Second + time.Minute)},
		"running":       {job: running, period: 0, want: true},
		"cron template": {job: cron, period: 0, want: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, until := windowsNeed(tc.job, tc.period, now)
			if got != tc.want || !until.Equal(tc.wantUntil) {
				t.Errorf("windowsNeed = %v, %v; want %v, %v", got, until, tc.want, tc.wantUntil)
			}
		})
	}
}

// TestLongestRatePeriod: the longest window among the queue's, its handlers' and its default
// handler's rate limits.
func TestLongestRatePeriod(t *testing.T) {
	rl := func(s int32) *kickqv1alpha1.RateLimit { return &kickqv1alpha1.RateLimit{Limit: 1, PeriodSeconds: s} }
	spec := &kickqv1alpha1.QueueSpec{RateLimit: rl(60),
		Handlers:       []kickqv1alpha1.Handler{{Type: "x", HandlerSpec: kickqv1alpha1.HandlerSpec{RateLimit: rl(3600)}}},
		DefaultHandler: &kickqv1alpha1.HandlerSpec{RateLimit: rl(600)}}
	if got := longestRatePeriod(spec); got != time.Hour {
		t.Errorf("longestRatePeriod = %v, want 1h", got)
	}
	keys := func(s int32) *kickqv1alpha1.KeyLimits { return &kickqv1alpha1.KeyLimits{RateLimit: rl(s)} }
	for name, spec := range map[string]*kickqv1alpha1.QueueSpec{
		"queue keyLimits":           {RateLimit: rl(60), KeyLimits: keys(7200)},
		"handler keyLimits":         {Handlers: []kickqv1alpha1.Handler{{Type: "x", HandlerSpec: kickqv1alpha1.HandlerSpec{KeyLimits: keys(7200)}}}},
		"default handler keyLimits": {DefaultHandler: &kickqv1alpha1.HandlerSpec{RateLimit: rl(60), KeyLimits: keys(7200)}},
	} {
		if got := longestRatePeriod(spec); got != 2*time.Hour {
			t.Errorf("%s: longestRatePeriod = %v, want 2h (a per-key window counts finished jobs' starts too)", name, got)
		}
	}
	if got := longestRatePeriod(nil); got != 0 {
		t.Errorf("longestRatePeriod(nil) = %v, want 0", got)
	}
}

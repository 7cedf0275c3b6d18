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
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// retainingQueue is queue "q" of namespace "ns" keeping at most succeeded and failed finished
// jobs of each phase (nil: no limit).
func retainingQueue(succeeded, failed *int32) *kickqv1alpha1.Queue {
	q := &kickqv1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "ns"}}
	r := &kickqv1alpha1.Retention{}
	if succeeded != nil {
		r.Succeeded = &kickqv1alpha1.RetentionPolicy{HistoryLimit: succeeded}
	}
	if failed != nil {
		r.Failed = &kickqv1alpha1.RetentionPolicy{HistoryLimit: failed}
	}
	q.Spec.Retention = r
	return q
}

// manyFinished returns n jobs of queue q finished in phase, a second apart, named prefix-<i>.
func manyFinished(prefix, queue string, phase kickqv1alpha1.QueueJobPhase, n int) []kickqv1alpha1.QueueJob {
	out := make([]kickqv1alpha1.QueueJob, n)
	for i := range out {
		out[i] = finishedJob(fmt.Sprintf("%s-%03d", prefix, i), queue, phase, epoch.Add(time.Duration(i)*time.Second))
	}
	return out
}

func TestHasHistoryLimit(t *testing.T) {
	ttlOnly := &kickqv1alpha1.QueueSpec{Retention: &kickqv1alpha1.Retention{
		Succeeded: &kickqv1alpha1.RetentionPolicy{TTLSecondsAfterFinished: ptr.To[int32](60)}}}
	for name, tc := range map[string]struct {
		spec *kickqv1alpha1.QueueSpec
		def  *kickqv1alpha1.Retention
		want bool
	}{
		"no retention":                                 {spec: &kickqv1alpha1.QueueSpec{}, want: false},
		"a TTL only":                                   {spec: ttlOnly, want: false},
		"succeeded limited":                            {spec: &retainingQueue(ptr.To[int32](3), nil).Spec, want: true},
		"failed limited":                               {spec: &retainingQueue(nil, ptr.To[int32](0)).Spec, want: true},
		"empty retention":                              {spec: &retainingQueue(nil, nil).Spec, want: false},
		"both phases limited":                          {spec: &retainingQueue(ptr.To[int32](1), ptr.To[int32](1)).Spec, want: true},
		"the implicit queue":                           {spec: nil, want: false},
		"the implicit queue, a default limit":          {spec: nil, def: retainingQueue(nil, ptr.To[int32](5)).Spec.Retention, want: true},
		"a default TTL only":                           {spec: &kickqv1alpha1.QueueSpec{}, def: ttlOnly.Retention, want: false},
		"a default limit for a phase the queue leaves": {spec: ttlOnly, def: retainingQueue(nil, ptr.To[int32](5)).Spec.Retention, want: true},
		"the queue's policy for the phase wins":        {spec: ttlOnly, def: retainingQueue(ptr.To[int32](5), nil).Spec.Retention, want: false},
	} {
		if got := hasHistoryLimit(tc.spec, tc.def); got != tc.want {
			t.Errorf("%s: hasHistoryLimit = %v, want %v", name, got, tc.want)
		}
	}
}

func TestEnforceHistoryLimits(t *testing.T) {
	t.Run("each phase keeps its own limit", func(t *testing.T) {
		jobs := append(manyFinished("ok", "q", kickqv1alpha1.PhaseSucceeded, 4), manyFinished("bad", "q", kickqv1alpha1.PhaseFailed, 2)...)
		c, calls := recordingClient(t, jobs, nil)
		n, err := enforceHistoryLimits(context.Background(), c, &retainingQueue(ptr.To[int32](2), ptr.To[int32](1)).Spec, nil, jobs)
		if err != nil {
			t.Fatal(err)
		}
		if want := deletes("ok-000", "ok-001", "bad-000"); n != len(want) || !cmp.Equal(want, *calls) {
			t.Errorf("deleted %d: %v; want %v", n, *calls, want)
		}
	})
	t.Run("a phase without a limit keeps everything", func(t *testing.T) {
		jobs := append(manyFinished("ok", "q", kickqv1alpha1.PhaseSucceeded, 3), manyFinished("bad", "q", kickqv1alpha1.PhaseFailed, 3)...)
		c, calls := recordingClient(t, jobs, nil)
		n, err := enforceHistoryLimits(context.Background(), c, &retainingQueue(nil, ptr.To[int32](2)).Spec, nil, jobs)
		if err != nil {
			t.Fatal(err)
		}
		if want := deletes("bad-000"); n != 1 || !cmp.Equal(want, *calls) {
			t.Errorf("deleted %d: %v; want %v", n, *calls, want)
		}
	})
	t.Run("one pass deletes at most maxDeletesPerPass over both phases", func(t *testing.T) {
		jobs := append(manyFinished("ok", "q", kickqv1alpha1.PhaseSucceeded, 300), manyFinished("bad", "q", kickqv1alpha1.PhaseFailed, 300)...)
		c, calls := recordingClient(t, jobs, nil)
		n, err := enforceHistoryLimits(context.Background(), c, &retainingQueue(ptr.To[int32](0), ptr.To[int32](0)).Spec, nil, jobs)
		if err != nil {
			t.Fatal(err)
		}
		if n != maxDeletesPerPass || len(*calls) != maxDeletesPerPass {
			t.Fatalf("deleted %d (%d calls), want %d", n, len(*calls), maxDeletesPerPass)
		}
		// All 300 succeeded ones first, then the 200 oldest failed ones.
		if got := (*calls)[299].Name; got != "ok-299" {
			t.Errorf("call 300 deleted %s, want ok-299", got)
		}
		if got := (*calls)[499].Name; got != "bad-199" {
			t.Errorf("call 500 deleted %s, want bad-199", got)
		}
	})
}

func TestRetentionReconciler(t *testing.T) {
	ctx := context.Background()
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "q"}}

	t.Run("deletes beyond the limit, then paces the next pass", func(t *testing.T) {
		jobs := append(manyFinished("ok", "q", kickqv1alpha1.PhaseSucceeded, 3), manyFinished("other", "other-queue", kickqv1alpha1.PhaseSucceeded, 3)...)
		c, calls := recordingClient(t, jobs, nil)
		if err := c.Create(ctx, retainingQueue(ptr.To[int32](1), nil)); err != nil {
			t.Fatal(err)
		}
		clk := clocktesting.NewFakeClock(epoch)
		r := &RetentionReconciler{Client: c, PaceClock: clk}
		res, err := r.Reconcile(ctx, req)
		if err != nil || res != (ctrl.Result{}) {
			t.Fatalf("Reconcile = %+v, %v; want {}, nil", res, err)
		}
		if diff := cmp.Diff(deletes("ok-000", "ok-001"), *calls); diff != "" {
			t.Errorf("deletes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"ok-002", "other-000", "other-001", "other-002"}, remaining(t, c)); diff != "" {
			t.Errorf("remaining (-want +got):\n%s", diff)
		}

		clk.Step(300 * time.Millisecond)
		res, err = r.Reconcile(ctx, req)
		if err != nil || res != (ctrl.Result{RequeueAfter: 700 * time.Millisecond}) {
			t.Errorf("a pass within the interval = %+v, %v; want RequeueAfter 700ms", res, err)
		}
		clk.Step(700 * time.Millisecond)
		if res, err = r.Reconcile(ctx, req); err != nil || res != (ctrl.Result{}) {
			t.Errorf("a pass after the interval = %+v, %v; want {}, nil", res, err)
		}
	})
	t.Run("a queue without a history limit is left alone", func(t *testing.T) {
		jobs := manyFinished("ok", "q", kickqv1alpha1.PhaseSucceeded, 3)
		c, calls := recordingClient(t, jobs, nil)
		q := retainingQueue(nil, nil)
		q.Spec.Retention.Succeeded = &kickqv1alpha1.RetentionPolicy{TTLSecondsAfterFinished: ptr.To[int32](1)}
		if err := c.Create(ctx, q); err != nil {
			t.Fatal(err)
		}
		r := &RetentionReconciler{Client: c, PaceClock: clocktesting.NewFakeClock(epoch)}
		if res, err := r.Reconcile(ctx, req); err != nil || res != (ctrl.Result{}) || len(*calls) != 0 {
			t.Errorf("Reconcile = %+v, %v with %d deletes; want {}, nil, none", res, err, len(*calls))
		}
	})
	t.Run("a missing queue is not an error", func(t *testing.T) {
		c, _ := recordingClient(t, manyFinished("ok", "q", kickqv1alpha1.PhaseSucceeded, 3), nil)
		r := &RetentionReconciler{Client: c, PaceClock: clocktesting.NewFakeClock(epoch)}
		if res, err := r.Reconcile(ctx, req); err != nil || res != (ctrl.Result{}) {
			t.Errorf("Reconcile = %+v, %v; want {}, nil", res, err)
		}
	})
	t.Run("a pass that used its whole budget comes back", func(t *testing.T) {
		jobs := manyFinished("ok", "q", kickqv1alpha1.PhaseSucceeded, maxDeletesPerPass+2)
		c, calls := recordingClient(t, jobs, nil)
		if err := c.Create(ctx, retainingQueue(ptr.To[int32](1), nil)); err != nil {
			t.Fatal(err)
		}
		clk := clocktesting.NewFakeClock(epoch)
		r := &RetentionReconciler{Client: c, PaceClock: clk}
		res, err := r.Reconcile(ctx, req)
		if err != nil || res != (ctrl.Result{RequeueAfter: RetentionInterval}) || len(*calls) != maxDeletesPerPass {
			t.Fatalf("Reconcile = %+v, %v with %d deletes; want RequeueAfter %s after %d", res, err, len(*calls), RetentionInterval, maxDeletesPerPass)
		}
		clk.Step(RetentionInterval)
		if res, err = r.Reconcile(ctx, req); err != nil || res != (ctrl.Result{}) {
			t.Fatalf("second Reconcile = %+v, %v; want {}, nil", res, err)
		}
		if diff := cmp.Diff([]string{fmt.Sprintf("ok-%03d", maxDeletesPerPass+1)}, remaining(t, c)); diff != "" {
			t.Errorf("remaining (-want +got):\n%s", diff)
		}
	})
}

func TestEnteredHistory(t *testing.T) {
	done := finishedJob("a", "q", kickqv1alpha1.PhaseSucceeded, epoch)
	running := done.DeepCopy()
	running.Status = kickqv1alpha1.QueueJobStatus{Phase: kickqv1alpha1.PhaseRunning}
	notifyDue := done.DeepCopy()
	notifyDue.Spec.Notify = &kickqv1alpha1.Notify{}
	notifySettled := notifyDue.DeepCopy()
	notifySettled.Status.Notification = &kickqv1alpha1.NotificationStatus{Failed: true}
	deleting := done.DeepCopy()
	deleting.DeletionTimestamp = mtime(epoch)
	relabelled := done.DeepCopy()
	relabelled.Labels = map[string]string{"x": "y"}

	updates := map[string]struct {
		old, new *kickqv1alpha1.QueueJob
		want     bool
	}{
		"finishing":                        {old: running, new: &done, want: true},
		"a completion callback settling":   {old: notifyDue, new: notifySettled, want: true},
		"finishing with a callback due":    {old: running, new: notifyDue, want: false},
		"a finished job's other changes":   {old: &done, new: relabelled, want: false},
		"a finished job starting deletion": {old: &done, new: deleting, want: false},
		"an unfinished job's changes":      {old: running, new: running, want: false},
	}
	for name, tc := range updates {
		if got := enteredHistory.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.want {
			t.Errorf("update %s: %v, want %v", name, got, tc.want)
		}
	}
	if !enteredHistory.Create(event.CreateEvent{Object: &done}) {
		t.Error("the creation (or first sight) of a finished job should pass")
	}
	if enteredHistory.Create(event.CreateEvent{Object: running}) {
		t.Error("the creation of an unfinished job should not pass")
	}
	if enteredHistory.Delete(event.DeleteEvent{Object: &done}) {
		t.Error("a deletion should not pass: it only makes room")
	}
}

func TestParseDefaultRetention(t *testing.T) {
	for name, tc := range map[string]struct {
		in      string
		want    *kickqv1alpha1.Retention
		wantErr string
	}{
		"empty: off":  {in: ""},
		"spaces: off": {in: "  "},
		"a TTL per phase": {in: "succeeded.ttl=24h,failed.ttl=168h", want: &kickqv1alpha1.Retention{
			Succeeded: &kickqv1alpha1.RetentionPolicy{TTLSecondsAfterFinished: ptr.To[int32](86400)},
			Failed:    &kickqv1alpha1.RetentionPolicy{TTLSecondsAfterFinished: ptr.To[int32](604800)}}},
		"TTL and history limit, spaces around items": {in: "succeeded.ttl=1h, succeeded.historyLimit=1000", want: &kickqv1alpha1.Retention{
			Succeeded: &kickqv1alpha1.RetentionPolicy{TTLSecondsAfterFinished: ptr.To[int32](3600), HistoryLimit: ptr.To[int32](1000)}}},
		"0s deletes at once": {in: "failed.ttl=0s", want: &kickqv1alpha1.Retention{
			Failed: &kickqv1alpha1.RetentionPolicy{TTLSecondsAfterFinished: ptr.To[int32](0)}}},
		"unknown phase":      {in: "running.ttl=1h", wantErr: `the phase is succeeded or failed, not "running"`},
		"unknown field":      {in: "failed.keep=1h", wantErr: `the field is ttl or historyLimit, not "keep"`},
		"no field":           {in: "failed=1h", wantErr: "want PHASE.FIELD=VALUE"},
		"fractional seconds": {in: "failed.ttl=1.5s", wantErr: "whole seconds"},
		"negative TTL":       {in: "failed.ttl=-1h", wantErr: "whole seconds, 0s or more"},
		"TTL beyond int32":   {in: "failed.ttl=600000h", wantErr: "whole seconds"},
		"not a count":        {in: "succeeded.historyLimit=lots", wantErr: "historyLimit must be a count"},
		"negative count":     {in: "succeeded.historyLimit=-1", wantErr: "historyLimit must be a count"},
	} {
		got, err := ParseDefaultRetention(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: ParseDefaultRetention (-want +got):\n%s", name, diff)
		}
	}
}

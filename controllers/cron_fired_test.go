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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// cronFixture is a cron reconciler over a fake client holding one template, whose List can hide
// the children (a cache that has not seen them yet), counting creates and status writes.
type cronFixture struct {
	r                     *CronReconciler
	c                     client.Client
	hideChildren          bool
	creates, statusWrites int
	createdNames          []string
}

func newCronFixture(t *testing.T, tmpl *kickqv1alpha1.QueueJob, now time.Time) *cronFixture {
	t.Helper()
	f := &cronFixture{}
	f.c = fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(tmpl).
		WithStatusSubresource(&kickqv1alpha1.QueueJob{}).
		WithInterceptorFuncs(interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
				f.creates++
				f.createdNames = append(f.createdNames, o.GetName())
				return c.Create(ctx, o, opts...)
			},
			List: func(ctx context.Context, c client.WithWatch, l client.ObjectList, opts ...client.ListOption) error {
				if f.hideChildren {
					return nil
				}
				return c.List(ctx, l, opts...)
			},
			SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
				f.statusWrites++
				return c.SubResource(sub).Update(ctx, o, opts...)
			},
		}).Build()
	f.r = NewCronReconciler(f.c, testScheme(t), clocktesting.NewFakeClock(now), events.NewFakeRecorder(16))
	return f
}

func (f *cronFixture) pass(t *testing.T) ctrl.Result {
	t.Helper()
	res, err := f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "nightly"}})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	return res
}

func (f *cronFixture) template(t *testing.T) *kickqv1alpha1.QueueJob {
	t.Helper()
	var tmpl kickqv1alpha1.QueueJob
	if err := f.c.Get(context.Background(), types.NamespacedName{Namespace: "ns", Name: "nightly"}, &tmpl); err != nil {
		t.Fatal(err)
	}
	return &tmpl
}

// TestCronFiringCreatesFirstWritesStatusNext: a pass that fires creates the child and queues a
// second pass at once instead of writing the status; the second pass records the firing
// (lastScheduleTime, active) and sets the timer, without creating the child again even when the
// cache does not show it yet.
func TestCronFiringCreatesFirstWritesStatusNext(t *testing.T) {
	due := epoch.Add(5 * time.Minute)
	for _, hide := range []bool{false, true} {
		f := newCronFixture(t, cronTemplate(func(j *kickqv1alpha1.QueueJob) {
			j.Status.LastScheduleTime = mtime(epoch)
		}), due)
		if res := f.pass(t); res != (ctrl.Result{}) {
			t.Errorf("firing pass = %+v; want no timer (the second pass sets it)", res)
		}
		if f.creates != 1 || f.statusWrites != 0 {
			t.Fatalf("firing pass: %d creates, %d status writes; want 1 and 0", f.creates, f.statusWrites)
		}
		select {
		case ev := <-f.r.wake:
			if ev.Object.GetName() != "nightly" {
				t.Errorf("woke %s; want nightly", ev.Object.GetName())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the firing pass queued no second pass")
		}
		f.hideChildren = hide
		res := f.pass(t)
		if f.creates != 1 || f.statusWrites != 1 {
			t.Errorf("hidden=%v: after the second pass %d creates (%v), %d status writes; want 1 and 1", hide, f.creates, f.createdNames, f.statusWrites)
		}
		next := due.Add(5 * time.Minute)
		want := scheduled(next, func(st *kickqv1alpha1.QueueJobStatus) {
			st.LastScheduleTime = mtime(due)
			st.Active = []string{childOf(due)}
		})
		got := f.template(t).Status
		got.Conditions = nil
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("hidden=%v: status after the second pass (-want +got):\n%s", hide, diff)
		}
		if res.RequeueAfter != 5*time.Minute {
			t.Errorf("hidden=%v: second pass requeues after %s; want 5m (the next firing)", hide, res.RequeueAfter)
		}
		if len(f.r.fired.m) != 0 {
			t.Errorf("hidden=%v: remembered children after the status write: %v; want none", hide, f.r.fired.m)
		}
	}
}

// TestCronRunNowSecondPassDoesNotFireAgain: the run-now value a first pass fired for counts as
// handled on the second pass even before the cache shows its child.
func TestCronRunNowSecondPassDoesNotFireAgain(t *testing.T) {
	now := epoch.Add(time.Minute)
	f := newCronFixture(t, cronTemplate(func(j *kickqv1alpha1.QueueJob) {
		j.Status.LastScheduleTime = mtime(epoch)
		j.Annotations = map[string]string{kickqv1alpha1.AnnotationRunNow: "first"}
	}), now)
	f.pass(t)
	<-f.r.wake
	f.hideChildren = true
	f.r.Clock.(*clocktesting.FakeClock).Step(2 * time.Second)
	f.pass(t)
	if f.creates != 1 {
		t.Fatalf("run-now: %d creates (%v); want 1", f.creates, f.createdNames)
	}
	if got := f.template(t).Status.LastHandledRunNow; got != "first" {
		t.Errorf("lastHandledRunNow = %q; want first", got)
	}
}

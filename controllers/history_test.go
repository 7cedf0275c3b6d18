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
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// finishedJob returns job name of queue, finished in phase at `at`, in namespace "ns".
func finishedJob(name, queue string, phase kickqv1alpha1.QueueJobPhase, at time.Time) kickqv1alpha1.QueueJob {
	cond := kickqv1alpha1.JobComplete
	if phase == kickqv1alpha1.PhaseFailed {
		cond = kickqv1alpha1.JobFailed
	}
	return kickqv1alpha1.QueueJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec:       kickqv1alpha1.QueueJobSpec{QueueName: queue},
		Status: kickqv1alpha1.QueueJobStatus{Phase: phase, FinishTime: mtime(at),
			Conditions: []metav1.Condition{{Type: cond, Status: metav1.ConditionTrue, Reason: "Test", LastTransitionTime: metav1.NewTime(at)}}},
	}
}

// deleteCall is one Delete the client saw.
type deleteCall struct {
	Name        string
	UID         types.UID
	Propagation metav1.DeletionPropagation
}

// recordingClient returns a fake client holding jobs, and the deletes it is asked for. fail, when
// set, answers a delete instead of the fake client.
func recordingClient(t *testing.T, jobs []kickqv1alpha1.QueueJob, fail func(name string) error) (client.WithWatch, *[]deleteCall) {
	t.Helper()
	var calls []deleteCall
	b := fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithStatusSubresource(&kickqv1alpha1.QueueJob{}, &kickqv1alpha1.Queue{}).
		WithIndex(&kickqv1alpha1.QueueJob{}, QueueNameIndex, func(o client.Object) []string {
			return []string{o.(*kickqv1alpha1.QueueJob).Spec.QueueName}
		}).
		WithInterceptorFuncs(interceptor.Funcs{Delete: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.DeleteOption) error {
			do := &client.DeleteOptions{}
			do.ApplyOptions(opts)
			call := deleteCall{Name: o.GetName()}
			if do.Preconditions != nil && do.Preconditions.UID != nil {
				call.UID = *do.Preconditions.UID
			}
			if do.PropagationPolicy != nil {
				call.Propagation = *do.PropagationPolicy
			}
			calls = append(calls, call)
			if fail != nil {
				if err := fail(o.GetName()); err != nil {
					return err
				}
			}
			return c.Delete(ctx, o, opts...)
		}})
	for i := range jobs {
		b = b.WithObjects(jobs[i].DeepCopy())
	}
	return b.Build(), &calls
}

func deletes(names ...string) []deleteCall {
	out := make([]deleteCall, 0, len(names))
	for _, n := range names {
		out = append(out, deleteCall{Name: n, UID: types.UID("uid-" + n), Propagation: metav1.DeletePropagationBackground})
	}
	return out
}

// remaining lists the names of the jobs left in the client, sorted.
func remaining(t *testing.T, c client.Client) []string {
	t.Helper()
	var l kickqv1alpha1.QueueJobList
	if err := c.List(context.Background(), &l); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range l.Items {
		names = append(names, j.Name)
	}
	slices.Sort(names)
	return names
}

func TestDeleteOldestFinished(t *testing.T) {
	ok := func(name string, minute int) kickqv1alpha1.QueueJob {
		return finishedJob(name, "q", kickqv1alpha1.PhaseSucceeded, epoch.Add(time.Duration(minute)*time.Minute))
	}
	template := ok("template", 0)
	template.Spec.Cron = &kickqv1alpha1.CronSpec{Schedule: "@daily"}
	beingDeleted := ok("being-deleted", 0)
	beingDeleted.DeletionTimestamp = mtime(epoch)
	beingDeleted.Finalizers = []string{"kickq.dev/test"}
	notifyDue := ok("notify-due", 0)
	notifyDue.Spec.Notify = &kickqv1alpha1.Notify{}
	notifySettled := ok("notify-settled", 1)
	notifySettled.Spec.Notify = &kickqv1alpha1.Notify{}
	notifySettled.Status.Notification = &kickqv1alpha1.NotificationStatus{DeliveredTime: mtime(epoch)}
	unfinished := ok("unfinished", 0)
	unfinished.Status.Conditions = nil
	noFinishTime := ok("no-finish-time", 0)
	noFinishTime.Status.FinishTime = nil
	noFinishTime.CreationTimestamp = metav1.NewTime(epoch.Add(3 * time.Minute))

	all := []kickqv1alpha1.QueueJob{
		ok("e", 5), ok("b", 2), ok("a", 2), ok("d", 4),
		finishedJob("failed", "q", kickqv1alpha1.PhaseFailed, epoch),
		template, beingDeleted, notifyDue, notifySettled, unfinished, noFinishTime,
	}
	// Succeeded and counted, oldest first: notify-settled (1), a (2), b (2, by name),
	// no-finish-time (3, its creation), d (4), e (5).
	cases := []struct {
		name        string
		keep, limit int
		want        []deleteCall
	}{
		{name: "keep the newest 2", keep: 2, limit: 100, want: deletes("notify-settled", "a", "b", "no-finish-time")},
		{name: "the budget bounds the deletes, oldest first", keep: 2, limit: 3, want: deletes("notify-settled", "a", "b")},
		{name: "within the limit: nothing", keep: 6, limit: 100, want: []deleteCall{}},
		{name: "keep none", keep: 0, limit: 100, want: deletes("notify-settled", "a", "b", "no-finish-time", "d", "e")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, calls := recordingClient(t, all, nil)
			n, err := deleteOldestFinished(context.Background(), c, all, kickqv1alpha1.PhaseSucceeded, tc.keep, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(tc.want) {
				t.Errorf("deleted %d, want %d", n, len(tc.want))
			}
			if diff := cmp.Diff(tc.want, append([]deleteCall{}, *calls...)); diff != "" {
				t.Errorf("deletes (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("a job gone already is not an error", func(t *testing.T) {
		c, _ := recordingClient(t, nil, nil)
		jobs := []kickqv1alpha1.QueueJob{ok("a", 1), ok("b", 2)}
		n, err := deleteOldestFinished(context.Background(), c, jobs, kickqv1alpha1.PhaseSucceeded, 1, 10)
		if err != nil || n != 1 {
			t.Errorf("deleteOldestFinished = %d, %v; want 1, nil", n, err)
		}
	})
	t.Run("a failed delete is returned, naming the job", func(t *testing.T) {
		boom := errors.New("boom")
		jobs := []kickqv1alpha1.QueueJob{ok("a", 1), ok("b", 2), ok("c", 3)}
		c, calls := recordingClient(t, jobs, func(name string) error {
			if name == "b" {
				return boom
			}
			return nil
		})
		_, err := deleteOldestFinished(context.Background(), c, jobs, kickqv1alpha1.PhaseSucceeded, 0, 10)
		if !errors.Is(err, boom) || apierrors.IsNotFound(err) {
			t.Fatalf("err = %v, want boom", err)
		}
		if want := fmt.Sprintf("deleting finished job b beyond the history limit: %v", boom); err.Error() != want {
			t.Errorf("err = %q, want %q", err, want)
		}
		if diff := cmp.Diff(deletes("a", "b"), *calls); diff != "" {
			t.Errorf("deletes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"b", "c"}, remaining(t, c)); diff != "" {
			t.Errorf("remaining (-want +got):\n%s", diff)
		}
	})
}

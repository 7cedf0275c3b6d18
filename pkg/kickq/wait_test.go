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

package kickq

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

const testNS, testName = "shop", "welcome-42"

// job is a QueueJob in phase p, with resourceVersion rv (the fake client's tracker keeps its own).
func job(p kickqv1alpha1.QueueJobPhase, mutate ...func(*kickqv1alpha1.QueueJob)) *kickqv1alpha1.QueueJob {
	j := &kickqv1alpha1.QueueJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: testName, UID: "uid-1"},
		Status:     kickqv1alpha1.QueueJobStatus{Phase: p, Attempts: 1},
	}
	for _, m := range mutate {
		m(j)
	}
	return j
}

func withRV(rv string) func(*kickqv1alpha1.QueueJob) {
	return func(j *kickqv1alpha1.QueueJob) { j.ResourceVersion = rv }
}

func succeededWith(result string) func(*kickqv1alpha1.QueueJob) {
	return func(j *kickqv1alpha1.QueueJob) {
		j.Status.Reason = kickqv1alpha1.ReasonCompleted
		j.Status.Result = &apiextensionsv1.JSON{Raw: []byte(result)}
	}
}

func failedWith(reason, message string) func(*kickqv1alpha1.QueueJob) {
	return func(j *kickqv1alpha1.QueueJob) {
		j.Status.Reason, j.Status.Message, j.Status.Attempts = reason, message, 2
		j.Status.AttemptHistory = []kickqv1alpha1.AttemptRecord{
			{Number: 2, Outcome: kickqv1alpha1.OutcomeDie, Reason: "Gone", Message: "410 from the receiver"},
			{Number: 1, Outcome: kickqv1alpha1.OutcomeFail, Reason: "HTTPError"},
		}
	}
}

// script is what the fake API server does: the watches it opens, in order, and what each sends.
type script struct {
	t *testing.T
	// watches are called in turn for each Watch; a Watch past the last one fails the test.
	watches []func(w *watch.FakeWatcher) error
	mu      sync.Mutex
	opened  []metav1.ListOptions // what each Watch asked for
	started chan struct{}        // receives once per opened watch
}

// listRV is the resourceVersion of every list the fake API server answers (the fake client's
// lists carry none; the API server's carry its current version).
const listRV = "5000"

func (s *script) funcs() interceptor.Funcs {
	return interceptor.Funcs{List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
		if err := c.List(ctx, list, opts...); err != nil {
			return err
		}
		list.SetResourceVersion(listRV)
		return nil
	}, Watch: func(ctx context.Context, _ client.WithWatch, _ client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
		s.mu.Lock()
		n := len(s.opened)
		lo := (&client.ListOptions{}).ApplyOptions(opts)
		s.opened = append(s.opened, *lo.AsListOptions())
		s.mu.Unlock()
		if n >= len(s.watches) {
			s.t.Errorf("watch %d opened, the script has %d", n+1, len(s.watches))
			return nil, errors.New("no more watches in the script")
		}
		w := watch.NewFakeWithChanSize(10, false)
		if err := s.watches[n](w); err != nil {
			return nil, err
		}
		if s.started != nil {
			s.started <- struct{}{}
		}
		return w, nil
	}}
}

// newTestClient returns a Client on a fake API server holding objs and following s.
func newTestClient(t *testing.T, s *script, objs ...client.Object) (*Client, client.WithWatch) {
	t.Helper()
	s.t = t
	base := fake.NewClientBuilder().WithScheme(NewScheme()).WithObjects(objs...).
		// The fake client serves field selectors through indexes; the API server knows metadata.name.
		WithIndex(&kickqv1alpha1.QueueJob{}, "metadata.name", func(o client.Object) []string { return []string{o.GetName()} }).
		Build()
	c := NewClientFrom(interceptor.NewClient(base, s.funcs()))
	c.pause = func(ctx context.Context, _ int) error { return ctx.Err() }
	return c, base
}

// stored returns the job as the fake API server holds it (with its resourceVersion).
func stored(t *testing.T, c client.Client) *kickqv1alpha1.QueueJob {
	t.Helper()
	j := &kickqv1alpha1.QueueJob{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: testNS, Name: testName}, j); err != nil {
		t.Fatal(err)
	}
	return j
}

func TestWaitAlreadyFinished(t *testing.T) {
	c, _ := newTestClient(t, &script{}, job(kickqv1alpha1.PhaseSucceeded, succeededWith(`{"sent":true}`)))
	res, err := c.Wait(context.Background(), testNS, testName)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if res.Phase != kickqv1alpha1.PhaseSucceeded || res.Reason != kickqv1alpha1.ReasonCompleted || res.Attempts != 1 {
		t.Errorf("Result = %+v, want Succeeded/Completed after 1 attempt", res)
	}
	var out struct{ Sent bool }
	if err := res.Into(&out); err != nil || !out.Sent {
		t.Errorf("Into = %v, %+v; want sent", err, out)
	}
}

func TestWaitAlreadyFailed(t *testing.T) {
	c, _ := newTestClient(t, &script{}, job(kickqv1alpha1.PhaseFailed, failedWith(kickqv1alpha1.ReasonDied, "the receiver answered 410")))
	res, err := c.Wait(context.Background(), testNS, testName)
	var failed *FailedError
	if !errors.As(err, &failed) {
		t.Fatalf("Wait error = %v, want a *FailedError", err)
	}
	if res == nil || res.Phase != kickqv1alpha1.PhaseFailed {
		t.Fatalf("Result = %+v, want the Failed job's result", res)
	}
	want := &FailedError{Namespace: testNS, Name: testName, Reason: kickqv1alpha1.ReasonDied, Message: "the receiver answered 410", Attempts: 2,
		LastAttempt: &kickqv1alpha1.AttemptRecord{Number: 2, Outcome: kickqv1alpha1.OutcomeDie, Reason: "Gone", Message: "410 from the receiver"}}
	if diff := cmp.Diff(want, failed); diff != "" {
		t.Errorf("FailedError (-want +got):\n%s", diff)
	}
	if got, want := failed.Error(), "kickq: job shop/welcome-42 failed (Died): the receiver answered 410; last attempt 2 Gone: 410 from the receiver"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var out map[string]any
	if err := res.Into(&out); !errors.As(err, &failed) || out != nil {
		t.Errorf("Into on a failed job = %v (out %v), want its FailedError and out untouched", err, out)
	}
}

func TestWaitSeesTheOutcomeWhileWatching(t *testing.T) {
	running := job(kickqv1alpha1.PhaseRunning)
	s := &script{}
	c, base := newTestClient(t, s, running)
	rv := stored(t, base).ResourceVersion
	s.watches = []func(*watch.FakeWatcher) error{func(w *watch.FakeWatcher) error {
		w.Modify(job(kickqv1alpha1.PhaseRunning, withRV("101"), func(j *kickqv1alpha1.QueueJob) {
			j.Status.Progress = &kickqv1alpha1.Progress{Percent: 40}
		}))
		w.Modify(job(kickqv1alpha1.PhaseSucceeded, withRV("102"), succeededWith(`"done"`)))
		return nil
	}}
	res, err := c.Wait(context.Background(), testNS, testName)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if res.Phase != kickqv1alpha1.PhaseSucceeded || string(res.Result) != `"done"` || res.Job.ResourceVersion != "102" {
		t.Errorf("Result = %+v, want Succeeded with \"done\" at rv 102", res)
	}
	want := []metav1.ListOptions{{ResourceVersion: rv, AllowWatchBookmarks: true, FieldSelector: "metadata.name=" + testName}}
	if diff := cmp.Diff(want, s.opened); diff != "" {
		t.Errorf("watches opened (-want +got):\n%s", diff)
	}
}

// TestWaitJobDeletedRightAfterFinishing: retention deletes a job the moment it finishes. However
// the watch delivers that — the final update and then DELETED, or only a DELETED that carries the
// final state — Wait reports the outcome, never NotFound.
func TestWaitJobDeletedRightAfterFinishing(t *testing.T) {
	final := func() *kickqv1alpha1.QueueJob {
		return job(kickqv1alpha1.PhaseSucceeded, withRV("200"), succeededWith(`{"n":1}`))
	}
	cases := map[string]func(w *watch.FakeWatcher) error{
		"update then delete": func(w *watch.FakeWatcher) error {
			w.Modify(final())
			w.Delete(final())
			w.Stop()
			return nil
		},
		"only the delete": func(w *watch.FakeWatcher) error {
			w.Delete(final())
			w.Stop()
			return nil
		},
		"failed, then deleted": func(w *watch.FakeWatcher) error {
			w.Delete(job(kickqv1alpha1.PhaseFailed, withRV("200"), failedWith(kickqv1alpha1.ReasonRetriesExhausted, "3 attempts failed")))
			return nil
		},
	}
	for name, watch0 := range cases {
		t.Run(name, func(t *testing.T) {
			s := &script{watches: []func(*watch.FakeWatcher) error{watch0}}
			c, _ := newTestClient(t, s, job(kickqv1alpha1.PhaseRunning))
			res, err := c.Wait(context.Background(), testNS, testName)
			if apierrors.IsNotFound(err) || res == nil {
				t.Fatalf("Wait = %v, %v; want the job's outcome", res, err)
			}
			if res.Phase == kickqv1alpha1.PhaseSucceeded && (err != nil || string(res.Result) != `{"n":1}`) {
				t.Errorf("Wait = %+v, %v; want Succeeded with its result", res, err)
			}
			var failed *FailedError
			if res.Phase == kickqv1alpha1.PhaseFailed && (!errors.As(err, &failed) || failed.Reason != kickqv1alpha1.ReasonRetriesExhausted) {
				t.Errorf("Wait error = %v, want a FailedError RetriesExhausted", err)
			}
		})
	}
}

func TestWaitJobDeletedBeforeFinishing(t *testing.T) {
	s := &script{watches: []func(*watch.FakeWatcher) error{func(w *watch.FakeWatcher) error {
		w.Delete(job(kickqv1alpha1.PhaseRunning, withRV("150")))
		return nil
	}}}
	c, _ := newTestClient(t, s, job(kickqv1alpha1.PhaseRunning))
	res, err := c.Wait(context.Background(), testNS, testName)
	if res != nil || !apierrors.IsNotFound(err) {
		t.Fatalf("Wait = %v, %v; want a NotFound error", res, err)
	}
}

func TestWaitJobMissing(t *testing.T) {
	c, _ := newTestClient(t, &script{})
	_, err := c.Wait(context.Background(), testNS, testName)
	if !apierrors.IsNotFound(err) {
		t.Fatalf("Wait error = %v, want NotFound", err)
	}
}

func TestWaitJobReplacedBySameName(t *testing.T) {
	s := &script{watches: []func(*watch.FakeWatcher) error{func(w *watch.FakeWatcher) error {
		w.Add(job(kickqv1alpha1.PhaseSucceeded, withRV("300"), func(j *kickqv1alpha1.QueueJob) { j.UID = "uid-2" }))
		return nil
	}}}
	c, _ := newTestClient(t, s, job(kickqv1alpha1.PhasePending))
	if _, err := c.Wait(context.Background(), testNS, testName); !apierrors.IsNotFound(err) {
		t.Fatalf("Wait error = %v, want NotFound: the job waited for is gone", err)
	}
}

func TestWaitContextCancelled(t *testing.T) {
	t.Run("while watching", func(t *testing.T) {
		s := &script{started: make(chan struct{}, 1), watches: []func(*watch.FakeWatcher) error{
			func(*watch.FakeWatcher) error { return nil }, // sends nothing
		}}
		c, _ := newTestClient(t, s, job(kickqv1alpha1.PhaseRunning))
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-s.started
			cancel()
		}()
		res, err := c.Wait(ctx, testNS, testName)
		if res != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, %v; want ctx.Err()", res, err)
		}
	})
	t.Run("before the call", func(t *testing.T) {
		c, _ := newTestClient(t, &script{}, job(kickqv1alpha1.PhaseSucceeded))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.Wait(ctx, testNS, testName); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait error = %v, want context.Canceled", err)
		}
	})
}

// TestWaitWatchExpired: a watch that cannot resume (410 Gone, at open or as an event) makes Wait
// read the job again and watch from its new resourceVersion.
func TestWaitWatchExpired(t *testing.T) {
	t.Run("at open, finished meanwhile", func(t *testing.T) {
		s := &script{}
		c, base := newTestClient(t, s, job(kickqv1alpha1.PhaseRunning))
		s.watches = []func(*watch.FakeWatcher) error{func(*watch.FakeWatcher) error {
			j := stored(t, base)
			j.Status = job(kickqv1alpha1.PhaseSucceeded, succeededWith("7")).Status
			if err := base.Update(context.Background(), j); err != nil {
				t.Fatal(err)
			}
			return apierrors.NewResourceExpired("too old resource version")
		}}
		res, err := c.Wait(context.Background(), testNS, testName)
		if err != nil || string(res.Result) != "7" {
			t.Fatalf("Wait = %+v, %v; want Succeeded with 7 from the re-read", res, err)
		}
	})
	t.Run("as an event, still running", func(t *testing.T) {
		s := &script{}
		c, base := newTestClient(t, s, job(kickqv1alpha1.PhaseRunning))
		s.watches = []func(*watch.FakeWatcher) error{
			func(w *watch.FakeWatcher) error {
				j := stored(t, base)
				j.Status.Progress = &kickqv1alpha1.Progress{Percent: 10}
				if err := base.Update(context.Background(), j); err != nil {
					t.Fatal(err)
				}
				w.Error(&apierrors.NewResourceExpired("too old resource version").ErrStatus)
				return nil
			},
			func(w *watch.FakeWatcher) error {
				w.Modify(job(kickqv1alpha1.PhaseSucceeded, withRV("900")))
				return nil
			},
		}
		res, err := c.Wait(context.Background(), testNS, testName)
		if err != nil || !res.Succeeded() {
			t.Fatalf("Wait = %+v, %v; want Succeeded", res, err)
		}
		if len(s.opened) != 2 || s.opened[1].ResourceVersion != listRV {
			t.Errorf("watches opened %+v; want a second one from the re-read list's resourceVersion %s", s.opened, listRV)
		}
	})
	// A job unchanged for longer than the API server keeps watch history: a watch from its own
	// resourceVersion is refused at once, and so would every later one from that version; Wait
	// watches from the re-read list's version instead.
	t.Run("at open, job unchanged for long", func(t *testing.T) {
		s := &script{watches: []func(*watch.FakeWatcher) error{
			func(*watch.FakeWatcher) error { return apierrors.NewResourceExpired("too old resource version") },
			func(w *watch.FakeWatcher) error {
				w.Modify(job(kickqv1alpha1.PhaseSucceeded, withRV("5001")))
				return nil
			},
		}}
		c, base := newTestClient(t, s, job(kickqv1alpha1.PhaseDelayed))
		res, err := c.Wait(context.Background(), testNS, testName)
		if err != nil || !res.Succeeded() {
			t.Fatalf("Wait = %+v, %v; want Succeeded", res, err)
		}
		want := []string{stored(t, base).ResourceVersion, listRV}
		if diff := cmp.Diff(want, []string{s.opened[0].ResourceVersion, s.opened[1].ResourceVersion}); diff != "" {
			t.Errorf("resourceVersions watched from (-want +got):\n%s", diff)
		}
	})
	t.Run("deleted meanwhile", func(t *testing.T) {
		s := &script{}
		c, base := newTestClient(t, s, job(kickqv1alpha1.PhaseRunning))
		s.watches = []func(*watch.FakeWatcher) error{func(*watch.FakeWatcher) error {
			if err := base.Delete(context.Background(), stored(t, base)); err != nil {
				t.Fatal(err)
			}
			// A plain 410 Gone, as older API servers answer.
			return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonGone}}
		}}
		if _, err := c.Wait(context.Background(), testNS, testName); !apierrors.IsNotFound(err) {
			t.Fatalf("Wait error = %v, want NotFound: the outcome was never seen", err)
		}
	})
}

// TestWaitWatchResumes: a watch the server closes is reopened from the newest resourceVersion
// seen (an event's or a bookmark's); a transient error is retried.
func TestWaitWatchResumes(t *testing.T) {
	s := &script{watches: []func(*watch.FakeWatcher) error{
		func(w *watch.FakeWatcher) error {
			w.Modify(job(kickqv1alpha1.PhaseRunning, withRV("501")))
			w.Action(watch.Bookmark, &kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "510"}})
			w.Stop()
			return nil
		},
		func(*watch.FakeWatcher) error { return apierrors.NewServiceUnavailable("restarting") },
		func(w *watch.FakeWatcher) error {
			w.Modify(job(kickqv1alpha1.PhaseSucceeded, withRV("520")))
			return nil
		},
	}}
	c, _ := newTestClient(t, s, job(kickqv1alpha1.PhaseRunning))
	res, err := c.Wait(context.Background(), testNS, testName)
	if err != nil || !res.Succeeded() {
		t.Fatalf("Wait = %+v, %v; want Succeeded", res, err)
	}
	var rvs []string
	for _, o := range s.opened[1:] {
		rvs = append(rvs, o.ResourceVersion)
	}
	if diff := cmp.Diff([]string{"510", "510"}, rvs); diff != "" {
		t.Errorf("resourceVersions of the reopened watches (-want +got):\n%s", diff)
	}
}

func TestWaitFinalErrors(t *testing.T) {
	t.Run("forbidden watch", func(t *testing.T) {
		s := &script{watches: []func(*watch.FakeWatcher) error{func(*watch.FakeWatcher) error {
			return apierrors.NewForbidden(kickqv1alpha1.Resource("queuejobs"), "", errors.New("no watch verb"))
		}}}
		c, _ := newTestClient(t, s, job(kickqv1alpha1.PhaseRunning))
		if _, err := c.Wait(context.Background(), testNS, testName); !apierrors.IsForbidden(err) {
			t.Fatalf("Wait error = %v, want Forbidden", err)
		}
	})
	t.Run("cron template", func(t *testing.T) {
		c, _ := newTestClient(t, &script{}, job(kickqv1alpha1.PhaseScheduled, func(j *kickqv1alpha1.QueueJob) {
			j.Spec.Cron = &kickqv1alpha1.CronSpec{Schedule: "@hourly"}
		}))
		if _, err := c.Wait(context.Background(), testNS, testName); err == nil {
			t.Fatal("Wait on a cron template returned no error")
		}
	})
	t.Run("client that cannot watch", func(t *testing.T) {
		base := fake.NewClientBuilder().WithScheme(NewScheme()).WithObjects(job(kickqv1alpha1.PhaseRunning)).Build()
		c := NewClientFrom(readerOnly{base})
		if _, err := c.Wait(context.Background(), testNS, testName); !errors.Is(err, ErrCannotWatch) {
			t.Fatalf("Wait error = %v, want ErrCannotWatch", err)
		}
	})
}

// readerOnly hides a client's Watch, as a manager's cached client has none.
type readerOnly struct{ client.Client }

func TestResultInto(t *testing.T) {
	res := resultOf(job(kickqv1alpha1.PhaseSucceeded))
	out := map[string]int{"kept": 1}
	if err := res.Into(&out); err != nil || out["kept"] != 1 {
		t.Errorf("Into without a result = %v, %v; want nil and out untouched", err, out)
	}
	res = resultOf(job(kickqv1alpha1.PhaseSucceeded, succeededWith(`"text"`)))
	var n int
	if err := res.Into(&n); err == nil {
		t.Error("Into a mismatching type returned no error")
	}
	var s string
	if err := res.Into(&s); err != nil || s != "text" {
		t.Errorf("Into = %v, %q; want text", err, s)
	}
	var raw json.RawMessage
	_ = res.Into(&raw)
	if string(raw) != `"text"` {
		t.Errorf("Into a RawMessage = %s", raw)
	}
}

// TestWaitPausesOnEmptyWatches: a server that closes watches at once is asked again after a
// growing pause, not in a tight loop.
func TestWaitPausesOnEmptyWatches(t *testing.T) {
	closeAtOnce := func(w *watch.FakeWatcher) error {
		w.Stop()
		return nil
	}
	s := &script{watches: []func(*watch.FakeWatcher) error{closeAtOnce, closeAtOnce, func(w *watch.FakeWatcher) error {
		w.Modify(job(kickqv1alpha1.PhaseSucceeded, withRV("700")))
		return nil
	}}}
	c, _ := newTestClient(t, s, job(kickqv1alpha1.PhaseRunning))
	var pauses []int
	c.pause = func(_ context.Context, n int) error {
		pauses = append(pauses, n)
		return nil
	}
	if res, err := c.Wait(context.Background(), testNS, testName); err != nil || !res.Succeeded() {
		t.Fatalf("Wait = %+v, %v; want Succeeded", res, err)
	}
	if diff := cmp.Diff([]int{1, 2}, pauses); diff != "" {
		t.Errorf("pauses before reopening (-want +got):\n%s", diff)
	}
}

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

package executor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/netguard"
)

// liveness bounds the waits of these tests: generous, they check that something happens at all.
const liveness = 5 * time.Second

// hangingReceiver is a loopback receiver that never answers: each call is counted and then held
// until the test ends.
func hangingReceiver(t *testing.T) (srv *httptest.Server, arrived *atomic.Int32) {
	t.Helper()
	release := make(chan struct{})
	arrived = &atomic.Int32{}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: Close waits for the held calls
	return srv, arrived
}

// recordingReceiver is a loopback receiver that answers 200 at once and says, on its channel,
// which webhook-id it received when.
type arrival struct {
	id string
	at time.Time
}

func recordingReceiver(t *testing.T) (*httptest.Server, chan arrival) {
	t.Helper()
	got := make(chan arrival, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- arrival{id: r.Header.Get("webhook-id"), at: time.Now()}
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func nsJob(ns, name string) *kickqv1alpha1.QueueJob {
	j := testJob(name)
	j.Namespace, j.UID = ns, types.UID("uid-"+ns+"-"+name)
	return j
}

func webhookTarget(url string, timeoutSeconds int32) attempt.Target {
	return attempt.Target{Kind: attempt.KindWebhook, Webhook: &kickqv1alpha1.WebhookTarget{URL: url, TimeoutSeconds: ptr.To(timeoutSeconds)}}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(liveness)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", liveness, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Namespace a has 40 calls hanging on a receiver that never answers (timeoutSeconds 600); namespace
// b's one call is made all the same, while a's hang, and a holds no more than its share of the
// pool (half of the 16 workers).
func TestWebhookSlowNamespaceDoesNotHoldBackAnother(t *testing.T) {
	hang, arrived := hangingReceiver(t)
	fast, got := recordingReceiver(t)
	h := newHarnessWith(t, WebhookOptions{Workers: 16, Guard: netguard.New(loopback, nil)})
	ctx := context.Background()
	for i := range 40 {
		if err := h.w.Start(ctx, nsJob("a", fmt.Sprintf("slow-%d", i)), webhookTarget(hang.URL, 600), 1); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "namespace a's calls reach its receiver", func() bool { return arrived.Load() >= 8 })

	job := nsJob("b", "quick")
	start := time.Now()
	if err := h.w.Start(ctx, job, webhookTarget(fast.URL, 600), 1); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-got:
		if a.id != attempt.WebhookID(job.UID, 1) {
			t.Fatalf("namespace b's receiver got %q", a.id)
		}
		t.Logf("namespace b's call reached its receiver %s after its Start, with namespace a's 40 calls hanging (%d in flight)",
			a.at.Sub(start), arrived.Load())
	case <-time.After(liveness):
		t.Fatalf("namespace b's call was not made within %s while namespace a's 40 calls hang", liveness)
	}
	if n := arrived.Load(); n != 8 {
		t.Fatalf("namespace a has %d calls in flight; its share is 8 of the 16 workers", n)
	}
	if obs, _ := h.w.Observe(ctx, nsJob("a", "slow-39"), 1); obs.Phase != attempt.Running {
		t.Fatalf("a waiting call is Running: %+v", obs)
	}
}

// Start and Notify never wait for a worker: once a namespace's backlog is full they answer ErrBusy
// at once, record nothing (Observe says Missing, so the lifecycle starts it again), and another
// namespace's calls are still taken and made.
func TestWebhookStartNeverWaits(t *testing.T) {
	hang, arrived := hangingReceiver(t)
	fast, got := recordingReceiver(t)
	h := newHarnessWith(t, WebhookOptions{Workers: 2, Guard: netguard.New(loopback, nil)})
	ctx := context.Background()
	const calls = 5000 // more than the old pool's 4096 places and its 2 workers
	var busy atomic.Int32
	var other error
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for i := range calls {
			err := h.w.Start(ctx, nsJob("a", fmt.Sprintf("j-%d", i)), webhookTarget(hang.URL, 600), 1)
			switch {
			case errors.Is(err, ErrBusy):
				busy.Add(1)
			case err != nil && other == nil:
				other = err
			}
		}
	}()
	select {
	case <-finished:
	case <-time.After(liveness):
		t.Fatalf("%d Starts did not return within %s: Start waits for the pool", calls, liveness)
	}
	if other != nil {
		t.Fatal(other)
	}
	// One of a's calls may be in flight (its share of 2 workers) and DefaultNamespaceBacklog wait.
	if b := int(busy.Load()); b < calls-DefaultNamespaceBacklog-1 || b > calls-DefaultNamespaceBacklog {
		t.Fatalf("%d of %d Starts answered ErrBusy; the backlog is %d", b, calls, DefaultNamespaceBacklog)
	}
	refused := nsJob("a", fmt.Sprintf("j-%d", calls-1))
	if obs, _ := h.w.Observe(ctx, refused, 1); obs.Phase != attempt.Missing {
		t.Fatalf("a refused call is recorded: %+v", obs)
	}
	if err := h.w.Notify(ctx, nsJob("a", "finished"), kickqv1alpha1.WebhookTarget{URL: hang.URL}, []byte(`{}`)); !errors.Is(err, ErrBusy) {
		t.Fatalf("Notify in the full namespace: %v, want ErrBusy", err)
	}
	if s := h.w.NotifyStatus(nsJob("a", "finished").UID); s.InFlight || s.Done {
		t.Fatalf("a refused callback is recorded: %+v", s)
	}
	if err := h.w.Notify(ctx, nsJob("b", "finished"), kickqv1alpha1.WebhookTarget{URL: fast.URL}, []byte(`{}`)); err != nil {
		t.Fatalf("Notify in another namespace: %v", err)
	}
	select {
	case a := <-got:
		if a.id != attempt.NotifyID(nsJob("b", "finished").UID) {
			t.Fatalf("namespace b's receiver got %q", a.id)
		}
	case <-time.After(liveness):
		t.Fatal("namespace b's callback was not made while namespace a's backlog is full")
	}
	if n := arrived.Load(); n != 1 {
		t.Fatalf("namespace a has %d calls in flight; its share of 2 workers is 1", n)
	}
}

// A job's waiting call that is forgotten (by UID, or by name once the job is gone) or stopped
// leaves the queue: it is never made, its place in the backlog is free at once, and a job refused
// for the full backlog is woken to try again.
func TestWebhookForgetAndStopTakeWaitingCallsOut(t *testing.T) {
	srv, got := recordingReceiver(t)
	hang, arrived := hangingReceiver(t)
	h := newHarnessWith(t, WebhookOptions{Workers: 1, NamespaceBacklog: 3, Guard: netguard.New(loopback, nil)})
	ctx := context.Background()
	// The one worker is held by a call that never answers; three more wait (the backlog).
	if err := h.w.Start(ctx, nsJob("a", "held"), webhookTarget(hang.URL, 600), 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first call is in flight", func() bool { return arrived.Load() == 1 })
	deleted, gone, stopped, refused := nsJob("a", "deleted"), nsJob("a", "gone"), nsJob("a", "stopped"), nsJob("a", "refused")
	for _, j := range []*kickqv1alpha1.QueueJob{deleted, gone, stopped} {
		if err := h.w.Start(ctx, j, webhookTarget(srv.URL, 600), 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.w.Start(ctx, refused, webhookTarget(srv.URL, 600), 1); !errors.Is(err, ErrBusy) {
		t.Fatalf("Start beyond the backlog: %v, want ErrBusy", err)
	}
	if !strings.Contains(fmt.Sprint(h.w.Start(ctx, refused, webhookTarget(srv.URL, 600), 1)), "namespace a has 3 webhook calls waiting") {
		t.Fatal("ErrBusy does not say which namespace is full")
	}

	h.w.Forget(deleted.UID)
	select {
	case k := <-h.woken:
		if k != (types.NamespacedName{Namespace: "a", Name: "refused"}) {
			t.Fatalf("woke %v, want the refused job", k)
		}
	case <-time.After(liveness):
		t.Fatal("the refused job was not woken when Forget freed a place")
	}
	if err := h.w.Start(ctx, refused, webhookTarget(srv.URL, 600), 1); err != nil {
		t.Fatalf("Start once there is room: %v", err)
	}
	h.w.ForgetJob(types.NamespacedName{Namespace: "a", Name: "gone"})
	if err := h.w.Stop(ctx, stopped, 1); err != nil {
		t.Fatal(err)
	}

	// Free the worker: only the refused job's call is made, never the deleted or stopped one's.
	h.w.Forget(nsJob("a", "held").UID)
	select {
	case a := <-got:
		if a.id != attempt.WebhookID(refused.UID, 1) {
			t.Fatalf("the receiver got %q first; the forgotten and stopped calls must never be made", a.id)
		}
	case <-time.After(liveness):
		t.Fatal("the waiting call was not made once the worker was free")
	}
	<-h.woken // the refused job's call ended
	for _, j := range []*kickqv1alpha1.QueueJob{deleted, gone, stopped} {
		if obs, _ := h.w.Observe(ctx, j, 1); obs.Phase != attempt.Missing {
			t.Fatalf("%s: %+v", j.Name, obs)
		}
	}
	select {
	case a := <-got:
		t.Fatalf("the receiver got %q", a.id)
	default:
	}
}

// --webhook-timeout-max caps a target's timeoutSeconds (on the injected clock) and the message
// says the manager's cap cut it.
func TestWebhookTimeoutMaxCapsTimeoutSeconds(t *testing.T) {
	hang, arrived := hangingReceiver(t)
	h := newHarnessWith(t, WebhookOptions{Workers: 1, TimeoutMax: 2 * time.Second, Guard: netguard.New(loopback, nil)})
	job := testJob("capped")
	if err := h.w.Start(context.Background(), job, webhookTarget(hang.URL, 600), 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the call is in flight", func() bool { return arrived.Load() == 1 })
	eventually(t, "the call's timer is set", func() bool { return h.clk.HasWaiters() })
	h.clk.Step(2 * time.Second)
	select {
	case <-h.woken:
	case <-time.After(liveness):
		t.Fatal("the call did not time out at --webhook-timeout-max")
	}
	obs, _ := h.w.Observe(context.Background(), job, 1)
	if obs.Result.Reason != kickqv1alpha1.AttemptReasonTimeout || !strings.Contains(obs.Result.Message, "--webhook-timeout-max (2s)") {
		t.Fatalf("%+v", obs.Result)
	}
}

func TestWebhookTimeout(t *testing.T) {
	w := NewWebhooks(WebhookOptions{TimeoutMax: time.Minute})
	cases := []struct {
		name       string
		seconds    *int32
		want       time.Duration
		wantCapped bool
	}{
		{name: "unset: the default", want: DefaultWebhookTimeout},
		{name: "below the cap", seconds: ptr.To[int32](59), want: 59 * time.Second},
		{name: "at the cap", seconds: ptr.To[int32](60), want: time.Minute},
		{name: "above the cap", seconds: ptr.To[int32](600), want: time.Minute, wantCapped: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, capped := w.timeout(&kickqv1alpha1.WebhookTarget{TimeoutSeconds: tc.seconds})
			if got != tc.want || capped != tc.wantCapped {
				t.Fatalf("timeout = %s, %v; want %s, %v", got, capped, tc.want, tc.wantCapped)
			}
		})
	}
	if d, _ := NewWebhooks(WebhookOptions{}).timeout(&kickqv1alpha1.WebhookTarget{TimeoutSeconds: ptr.To[int32](600)}); d != DefaultWebhookTimeoutMax {
		t.Fatalf("the default cap is %s, want %s", d, DefaultWebhookTimeoutMax)
	}
	if d, _ := NewWebhooks(WebhookOptions{TimeoutMax: 10 * time.Second}).timeout(&kickqv1alpha1.WebhookTarget{}); d != 10*time.Second {
		t.Fatalf("a cap below the default timeout gives %s, want 10s", d)
	}
}

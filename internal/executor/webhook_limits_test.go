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
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/netguard"
)

// fakeLimiter refuses side effects until its open time, and logs what it was asked.
type fakeLimiter struct {
	mu   sync.Mutex
	clk  interface{ Now() time.Time }
	open time.Time
	log  []string
}

func (l *fakeLimiter) Charge(job types.NamespacedName, n int32) (bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clk.Now().Before(l.open) {
		l.log = append(l.log, "refused "+job.Name)
		return false, l.open
	}
	l.log = append(l.log, "charged "+job.Name)
	return true, time.Time{}
}

func (l *fakeLimiter) Sent(job types.NamespacedName, n int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, "sent "+job.Name)
}

func (l *fakeLimiter) entries() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.log...)
}

func TestWebhookCallHeldUntilItsSlotIsFree(t *testing.T) {
	srv, got := recordingReceiver(t)
	lim := &fakeLimiter{}
	h := newHarnessWith(t, WebhookOptions{Workers: 2, Guard: netguard.New(loopback, nil), Limiter: lim})
	lim.clk = h.clk
	lim.open = h.clk.Now().Add(4 * time.Second)
	held, stopped := nsJob("a", "held"), nsJob("a", "stopped")
	for _, j := range []string{"held", "stopped"} {
		job := held
		if j == "stopped" {
			job = stopped
		}
		if err := h.w.Start(context.Background(), job, webhookTarget(srv.URL, 30), 1); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "both calls are refused a slot", func() bool { return len(lim.entries()) == 2 })
	if err := h.w.Stop(context.Background(), stopped, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-got:
		t.Fatalf("a call was made before its slot was free: %s", a.id)
	case <-time.After(100 * time.Millisecond):
	}
	if obs, _ := h.w.Observe(context.Background(), held, 1); obs.Phase != attempt.Running {
		t.Errorf("a held call is observed %s, want Running", obs.Phase)
	}
	h.clk.Step(4 * time.Second)
	select {
	case a := <-got:
		if a.id != attempt.WebhookID(held.UID, 1) {
			t.Fatalf("receiver got %s, want the held call", a.id)
		}
	case <-time.After(liveness):
		t.Fatal("the held call was not made once its slot opened")
	}
	eventually(t, "the call ends", func() bool {
		obs, _ := h.w.Observe(context.Background(), held, 1)
		return obs.Phase == attempt.Finished
	})
	want := []string{"refused held", "refused stopped", "charged held", "sent held"}
	if e := lim.entries(); len(e) != 4 || e[2] != want[2] || e[3] != want[3] {
		t.Errorf("limiter log = %v, want the two refusals, then %v", e, want[2:])
	}
	select {
	case a := <-got:
		t.Errorf("the stopped call was made: %s", a.id)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestCallbacksAreNotCharged(t *testing.T) {
	srv, got := recordingReceiver(t)
	lim := &fakeLimiter{}
	h := newHarnessWith(t, WebhookOptions{Workers: 1, Guard: netguard.New(loopback, nil), Limiter: lim})
	lim.clk, lim.open = h.clk, h.clk.Now().Add(time.Hour)
	job := nsJob("a", "done")
	if err := h.w.Notify(context.Background(), job, kickqv1alpha1.WebhookTarget{URL: srv.URL}, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(liveness):
		t.Fatal("the callback was not sent")
	}
	if e := lim.entries(); len(e) != 0 {
		t.Errorf("limiter asked %v for a completion callback", e)
	}
}

func TestPodCreateChargedWhenMade(t *testing.T) {
	s := runtime.NewScheme()
	_ = corev1.AddToScheme(s)
	_ = kickqv1alpha1.AddToScheme(s)
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	lim := &fakeLimiter{clk: clk, open: clk.Now().Add(2 * time.Second)}
	var creates int
	c := fake.NewClientBuilder().WithScheme(s).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, cl client.WithWatch, o client.Object, opts ...client.CreateOption) error {
			creates++
			lim.mu.Lock()
			lim.log = append(lim.log, "create")
			lim.mu.Unlock()
			return cl.Create(ctx, o, opts...)
		},
	}).Build()
	p := NewPods(c, c, s, clk)
	p.Limiter = lim
	job := testJob("pod")
	target := podTarget()
	err := p.Start(context.Background(), job, target, 1)
	var later *NotYetError
	if !errors.As(err, &later) || !later.At.Equal(lim.open) {
		t.Fatalf("Start before the slot = %v, want NotYetError until the slot", err)
	}
	if creates != 0 {
		t.Fatalf("%d pods created before the slot was free", creates)
	}
	clk.Step(2 * time.Second)
	if err := p.Start(context.Background(), job, target, 1); err != nil {
		t.Fatal(err)
	}
	want := []string{"refused pod", "charged pod", "create", "sent pod"}
	if e := lim.entries(); len(e) != len(want) || e[1] != want[1] || e[2] != want[2] || e[3] != want[3] {
		t.Errorf("log = %v, want %v", e, want)
	}
}

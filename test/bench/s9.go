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

package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// hangSink is a loopback receiver that never answers: it counts the calls that arrived and holds
// each until it is stopped.
type hangSink struct {
	srv  *http.Server
	URL  string
	stop chan struct{}
	once sync.Once
	mu   sync.Mutex
	n    int
}

func startHangSink() (*hangSink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &hangSink{URL: "http://" + l.Addr().String() + "/hang", stop: make(chan struct{})}
	s.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.n++
		s.mu.Unlock()
		select {
		case <-s.stop:
		case <-r.Context().Done():
		}
	})}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

func (s *hangSink) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *hangSink) close() {
	s.once.Do(func() {
		close(s.stop)
		_ = s.srv.Close()
	})
}

// s9WebhookFairness measures the webhook call pool's fairness: namespace A creates -s9-hung
// webhook jobs whose receiver never answers (timeoutSeconds 600), and once their calls are made
// (as many as the pool makes), namespace B creates one webhook job to a receiver that answers at
// once; the figure is the time from B's create to its call's arrival (given up after
// -s9-give-up seconds).
func (b *bench) s9WebhookFairness(ctx context.Context) *Result {
	r := newResult("S9", "webhook fairness across namespaces", b.env)
	n, giveUp := b.cfg.s9Hung, time.Duration(b.cfg.s9GiveUp)*time.Second
	r.Params["hungCalls"], r.Params["webhookWorkers"], r.Params["giveUpSeconds"] = n, b.cfg.webhookWorkers, b.cfg.s9GiveUp
	fail := func(err error) *Result { r.Error = err.Error(); return r }
	nsA, err := b.newNamespace(ctx, "bench-s9-a")
	if err != nil {
		return fail(err)
	}
	nsB, err := b.newNamespace(ctx, "bench-s9-b")
	if err != nil {
		return fail(err)
	}
	hang, err := startHangSink()
	if err != nil {
		return fail(err)
	}
	defer hang.close()
	sk, err := startSink()
	if err != nil {
		return fail(err)
	}
	defer sk.stop()
	m, err := b.startWebhookManager(ctx, "S9")
	if err != nil {
		return fail(err)
	}
	defer m.Stop()
	defer hang.close() // release the hung calls before the manager stops
	for i := range n {
		j := &kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: fmt.Sprintf("hung-%d", i)},
			Spec: kickqv1alpha1.QueueJobSpec{Webhook: &kickqv1alpha1.WebhookTarget{URL: hang.URL, TimeoutSeconds: ptrTo(int32(600))}}}
		if err := b.cluster.Harness.Create(ctx, j); err != nil {
			return fail(err)
		}
	}
	// A's calls are made once the receiver's count stops growing.
	last, since := -1, time.Now()
	for time.Since(since) < 3*time.Second && ctx.Err() == nil {
		if c := hang.calls(); c != last {
			last, since = c, time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
	j := &kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{Namespace: nsB, Name: "b"},
		Spec: kickqv1alpha1.QueueJobSpec{Webhook: &kickqv1alpha1.WebhookTarget{URL: sk.URL}}}
	if err := b.cluster.Harness.Create(ctx, j); err != nil {
		return fail(err)
	}
	created := time.Now()
	var arrived time.Time
	for time.Since(created) < giveUp && ctx.Err() == nil {
		sk.mu.Lock()
		arrived = sk.first["b"]
		sk.mu.Unlock()
		if !arrived.IsZero() {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	value := fmt.Sprintf("> %s (not made)", giveUp)
	if !arrived.IsZero() {
		value = fmtMS(arrived.Sub(created))
		r.Metrics["bCreateToCallMs"] = ms(arrived.Sub(created))
	}
	r.Metrics["hungCallsArrived"] = last
	r.target("B create → B's call at its receiver", value, fmt.Sprintf("%d of A's %d calls hanging at their receiver", last, n),
		"≤ 1 s", !arrived.IsZero() && arrived.Sub(created) <= time.Second)
	r.note("namespace A's %d webhook jobs call a loopback receiver that never answers (timeoutSeconds 600); then namespace B creates one webhook job to a receiver that answers at once; manager --webhook-workers=%d", n, b.cfg.webhookWorkers)
	// A's jobs would call the closed receiver in later scenarios' managers: delete them.
	_ = b.cluster.Harness.DeleteAllOf(ctx, &kickqv1alpha1.QueueJob{}, client.InNamespace(nsA))
	return r
}

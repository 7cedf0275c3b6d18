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

package fairqueue

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	testingclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func req(ns, name string) reconcile.Request {
	return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}
}

// names renders requests as "ns/name" for readable diffs.
func names(reqs []reconcile.Request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.String()
	}
	return out
}

func TestRingOrder(t *testing.T) {
	cases := map[string]struct {
		push []reconcile.Request
		want []string
	}{
		"one namespace: arrival order": {
			push: []reconcile.Request{req("a", "1"), req("a", "2"), req("a", "3")},
			want: []string{"a/1", "a/2", "a/3"},
		},
		"a namespace that comes late is served after one item of the namespace ahead": {
			push: []reconcile.Request{req("a", "1"), req("a", "2"), req("a", "3"), req("a", "4"), req("b", "1")},
			want: []string{"a/1", "b/1", "a/2", "a/3", "a/4"},
		},
		"three namespaces take turns in the order they first had work": {
			push: []reconcile.Request{req("b", "1"), req("a", "1"), req("b", "2"), req("c", "1"), req("a", "2"), req("b", "3")},
			want: []string{"b/1", "a/1", "c/1", "b/2", "a/2", "b/3"},
		},
		"cluster-scoped requests share one turn": {
			push: []reconcile.Request{req("", "x"), req("", "y"), req("a", "1")},
			want: []string{"/x", "a/1", "/y"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := NewRing(Namespace)
			for _, p := range tc.push {
				r.Push(p)
			}
			var got []reconcile.Request
			for r.Len() > 0 {
				got = append(got, r.Pop())
			}
			if diff := cmp.Diff(tc.want, names(got)); diff != "" {
				t.Errorf("pop order (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRingInterleaved: a namespace that drained and gets work again waits behind the others; a
// drained namespace leaves nothing behind.
func TestRingInterleaved(t *testing.T) {
	r := NewRing(Namespace)
	r.Push(req("a", "1"))
	r.Push(req("b", "1"))
	if got := r.Pop(); got != req("a", "1") {
		t.Fatalf("Pop = %v, want a/1", got)
	}
	r.Push(req("a", "2"))
	r.Push(req("c", "1"))
	var got []reconcile.Request
	for r.Len() > 0 {
		got = append(got, r.Pop())
	}
	if diff := cmp.Diff([]string{"b/1", "a/2", "c/1"}, names(got)); diff != "" {
		t.Errorf("pop order (-want +got):\n%s", diff)
	}
	if len(r.lanes) != 0 || len(r.turn) != 0 {
		t.Errorf("drained ring keeps lanes %v, turn %v", r.lanes, r.turn)
	}
}

// getAll takes n items off q; it fails the test rather than hang if they never come.
func getAll(t *testing.T, q workqueue.TypedRateLimitingInterface[reconcile.Request], n int) []reconcile.Request {
	t.Helper()
	got := make(chan reconcile.Request, n)
	go func() {
		for range n {
			item, shutdown := q.Get()
			if shutdown {
				close(got)
				return
			}
			got <- item
		}
	}()
	var out []reconcile.Request
	guard := time.After(30 * time.Second) // a safety net against a hang, not a timing assertion
	for len(out) < n {
		select {
		case item, ok := <-got:
			if !ok {
				t.Fatalf("queue shut down after %v", names(out))
			}
			out = append(out, item)
		case <-guard:
			t.Fatalf("got %v, want %d items", names(out), n)
		}
	}
	return out
}

func newTestQueue(t *testing.T, limiter workqueue.TypedRateLimiter[reconcile.Request]) (workqueue.TypedRateLimitingInterface[reconcile.Request], *testingclock.FakeClock, *countingProvider) {
	t.Helper()
	clk := testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	mp := &countingProvider{}
	if limiter == nil {
		limiter = workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](time.Second, time.Minute)
	}
	q := newQueue("test", limiter, workqueue.TypedQueueConfig[reconcile.Request]{Clock: clk, MetricsProvider: mp})
	t.Cleanup(q.ShutDown)
	return q, clk, mp
}

// TestQueueFairAndDeduplicated: a namespace with a backlog does not hold another back, and an
// item added again while queued is queued once.
func TestQueueFairAndDeduplicated(t *testing.T) {
	q, _, _ := newTestQueue(t, nil)
	for i := range 100 {
		q.Add(req("a", strconv.Itoa(i)))
	}
	q.Add(req("a", "0")) // already queued: keeps its place, not queued twice
	q.Add(req("b", "x"))
	q.Add(req("b", "x"))
	if got := q.Len(); got != 101 {
		t.Errorf("Len = %d, want 101", got)
	}
	got := getAll(t, q, 3)
	if diff := cmp.Diff([]string{"a/0", "b/x", "a/1"}, names(got)); diff != "" {
		t.Errorf("first items (-want +got):\n%s", diff)
	}
}

// TestQueueProcessingAndDirty: an item re-added while it is processed is not handed to a second
// worker; it comes back once after Done.
func TestQueueProcessingAndDirty(t *testing.T) {
	q, _, _ := newTestQueue(t, nil)
	q.Add(req("a", "1"))
	first := getAll(t, q, 1)[0]
	q.Add(first)
	q.Add(first)
	q.Add(req("b", "1"))
	if got := getAll(t, q, 1)[0]; got != req("b", "1") {
		t.Fatalf("second Get = %v, want b/1 (a/1 is being processed)", got)
	}
	if got := q.Len(); got != 0 {
		t.Errorf("Len while a/1 is processed = %d, want 0 (dirty, not queued)", got)
	}
	q.Done(first)
	if got := q.Len(); got != 1 {
		t.Errorf("Len after Done = %d, want 1", got)
	}
	if got := getAll(t, q, 1)[0]; got != first {
		t.Errorf("Get after Done = %v, want %v", got, first)
	}
	q.Done(first)
	if got := q.Len(); got != 0 {
		t.Errorf("Len = %d, want 0", got)
	}
}

func TestQueueAddAfter(t *testing.T) {
	q, clk, _ := newTestQueue(t, nil)
	q.AddAfter(req("a", "later"), 10*time.Second)
	q.AddAfter(req("b", "now"), 0)
	if got := getAll(t, q, 1)[0]; got != req("b", "now") {
		t.Fatalf("Get = %v, want b/now", got)
	}
	if got := q.Len(); got != 0 {
		t.Fatalf("Len before the delay = %d, want 0", got)
	}
	waitForWaiters(t, clk)
	clk.Step(10 * time.Second)
	if got := getAll(t, q, 1)[0]; got != req("a", "later") {
		t.Errorf("Get after the delay = %v, want a/later", got)
	}
}

func TestQueueRateLimited(t *testing.T) {
	q, clk, mp := newTestQueue(t, nil)
	item := req("a", "1")
	q.AddRateLimited(item)
	q.AddRateLimited(item)
	if got := q.NumRequeues(item); got != 2 {
		t.Errorf("NumRequeues = %d, want 2", got)
	}
	waitForWaiters(t, clk)
	clk.Step(time.Second) // the first backoff (1 s) is due; the second (2 s) is merged into it
	if got := getAll(t, q, 1)[0]; got != item {
		t.Errorf("Get = %v, want %v", got, item)
	}
	q.Forget(item)
	if got := q.NumRequeues(item); got != 0 {
		t.Errorf("NumRequeues after Forget = %d, want 0", got)
	}
	if got := mp.retries.Load(); got != 2 {
		t.Errorf("retries metric = %d, want 2", got)
	}
}

// TestQueueMetrics: client-go's metrics are kept.
func TestQueueMetrics(t *testing.T) {
	q, _, mp := newTestQueue(t, nil)
	q.Add(req("a", "1"))
	q.Add(req("b", "1"))
	q.Add(req("b", "1"))
	if got := mp.adds.Load(); got != 2 {
		t.Errorf("adds = %d, want 2", got)
	}
	if got := mp.depth.Load(); got != 2 {
		t.Errorf("depth = %d, want 2", got)
	}
	q.Done(getAll(t, q, 1)[0])
	if got := mp.depth.Load(); got != 1 {
		t.Errorf("depth after one Get = %d, want 1", got)
	}
}

func TestQueueShutDown(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	q, _, _ := newTestQueue(t, nil)
	q.Add(req("a", "1"))
	item := getAll(t, q, 1)[0]
	var wg sync.WaitGroup
	shutdown := make(chan bool, 1)
	wg.Go(func() { // a worker waiting for work is released by ShutDown
		_, s := q.Get()
		shutdown <- s
	})
	drained := make(chan struct{})
	go func() {
		q.ShutDownWithDrain() // waits for the item in flight
		close(drained)
	}()
	select {
	case <-drained:
		t.Fatal("ShutDownWithDrain returned while an item was processed")
	case s := <-shutdown:
		if !s {
			t.Error("Get after ShutDown: shutdown = false")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Get was not released by ShutDown")
	}
	q.Done(item)
	<-drained
	wg.Wait()
	// client-go's delaying queue stops its timer loop on ShutDown only (ShutDownWithDrain is its
	// inner queue's); controller-runtime calls ShutDown when the manager stops.
	q.ShutDown()
	if !q.ShuttingDown() {
		t.Error("ShuttingDown = false")
	}
	q.Add(req("a", "2"))
	if got := q.Len(); got != 0 {
		t.Errorf("Len after an Add past ShutDown = %d, want 0", got)
	}
}

// waitForWaiters returns once the delaying queue has set its timer on the fake clock, so that a
// Step reaches it.
func waitForWaiters(t *testing.T, clk *testingclock.FakeClock) {
	t.Helper()
	for range 30000 {
		if clk.HasWaiters() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the delaying queue set no timer")
}

// countingProvider is a workqueue.MetricsProvider that counts adds, depth and retries.
type countingProvider struct{ adds, depth, retries atomic.Int64 }

type counter struct{ v *atomic.Int64 }

func (c counter) Inc()            { c.v.Add(1) }
func (c counter) Dec()            { c.v.Add(-1) }
func (c counter) Set(float64)     {}
func (c counter) Observe(float64) {}

func (p *countingProvider) NewDepthMetric(string) workqueue.GaugeMetric  { return counter{&p.depth} }
func (p *countingProvider) NewAddsMetric(string) workqueue.CounterMetric { return counter{&p.adds} }
func (p *countingProvider) NewRetriesMetric(string) workqueue.CounterMetric {
	return counter{&p.retries}
}
func (p *countingProvider) NewLatencyMetric(string) workqueue.HistogramMetric {
	return counter{new(atomic.Int64)}
}
func (p *countingProvider) NewWorkDurationMetric(string) workqueue.HistogramMetric {
	return counter{new(atomic.Int64)}
}
func (p *countingProvider) NewUnfinishedWorkSecondsMetric(string) workqueue.SettableGaugeMetric {
	return counter{new(atomic.Int64)}
}
func (p *countingProvider) NewLongestRunningProcessorSecondsMetric(string) workqueue.SettableGaugeMetric {
	return counter{new(atomic.Int64)}
}

// TestQueueDueFirst: within a namespace an item whose AddAfter time has come is served before the
// namespace's events queued ahead of it; namespaces still take turns; an item pushed before its
// time (an event came first) is not served early as due; an error's backoff is not due.
func TestQueueDueFirst(t *testing.T) {
	q, clk, _ := newTestQueue(t, nil)
	q.AddAfter(req("a", "due"), 10*time.Second)
	q.AddAfter(req("a", "early"), 10*time.Second)
	q.AddRateLimited(req("a", "failing")) // 1 s backoff
	waitForWaiters(t, clk)
	q.Add(req("a", "early")) // its event comes before its time: an ordinary item
	for i := range 3 {
		q.Add(req("a", "event-"+strconv.Itoa(i)))
	}
	q.Add(req("b", "event"))
	if got := names(getAll(t, q, 2)); !cmp.Equal(got, []string{"a/early", "b/event"}) {
		t.Fatalf("before the time: %v, want [a/early b/event]", got)
	}
	q.Done(req("a", "early"))
	q.Done(req("b", "event"))
	clk.Step(10 * time.Second)
	for i := 0; q.Len() < 6; i++ {
		if i > 30000 { // a safety net against a hang, not a timing assertion
			t.Fatalf("queued %d items after the time, want 6", q.Len())
		}
		time.Sleep(time.Millisecond) // the delaying queue hands the due items over
	}
	got := names(getAll(t, q, 6))
	// a/early's timer still fires at its time: it is due then.
	want := []string{"a/due", "a/early", "a/event-0", "a/event-1", "a/event-2", "a/failing"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after the time (-want +got):\n%s", diff)
	}
}

// TestRingDueDoesNotStarve: a namespace's due items go first, but at most dueRun in a row while
// its other items wait.
func TestRingDueDoesNotStarve(t *testing.T) {
	r := NewRing(Namespace)
	clk := testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r.timers.clock = clk
	r.Push(req("a", "event"))
	for i := range dueRun + 2 {
		item := req("a", "due-"+strconv.Itoa(i))
		r.timers.set(item, clk.Now())
		r.Push(item)
	}
	var got []string
	for r.Len() > 0 {
		got = append(got, r.Pop().Name)
	}
	want := []string{"due-0", "due-1", "due-2", "due-3", "due-4", "due-5", "due-6", "due-7", "event", "due-8", "due-9"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pop order (-want +got):\n%s", diff)
	}
	if len(r.timers.at) != 0 {
		t.Errorf("timers left after the due items were pushed: %v", r.timers.at)
	}
}

// TestQueueForgetKeepsFutureTimer: controller-runtime forgets an item just before it adds it
// again with RequeueAfter, and after every success: a timer still to come survives, one that
// has passed goes (a deleted object leaves nothing behind).
func TestQueueForgetKeepsFutureTimer(t *testing.T) {
	q, clk, _ := newTestQueue(t, nil)
	ring := q.(*timedQueue).ring
	item := req("a", "1")
	q.AddAfter(item, 10*time.Second)
	q.Forget(item)
	ring.timers.mu.Lock()
	_, kept := ring.timers.at[item]
	ring.timers.mu.Unlock()
	if !kept {
		t.Fatal("Forget before the time dropped the timer")
	}
	waitForWaiters(t, clk)
	clk.Step(10 * time.Second)
	if got := getAll(t, q, 1)[0]; got != item {
		t.Fatalf("Get = %v, want %v", got, item)
	}
	q.Done(item)
	q.Forget(item)
	ring.timers.mu.Lock()
	defer ring.timers.mu.Unlock()
	if len(ring.timers.at) != 0 {
		t.Errorf("timers after the item was served and forgotten: %v", ring.timers.at)
	}
}

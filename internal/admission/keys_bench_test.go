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

package admission

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

// keysBench plays a queue in steady state for the per-job cost of admission: concurrency 10,
// keyLimits.concurrency 1, a rate limit (so that the windows count), and a constant backlog of
// Waiting jobs spread round-robin over a number of keys. One job's life is one op: it is
// observed Waiting, the oldest running job finishes, the jobs admission wakes try to start,
// and the one admitted is committed (observed Running with its start).
type keysBench struct {
	a       *Admission
	clk     *clocktesting.FakeClock
	keys    int
	created int
	views   map[types.NamespacedName]*JobView
	running []*JobView
	woken   []types.NamespacedName
	admits  int
}

const keysBenchBacklog = 10_000

func newKeysBench(tb testing.TB, keys int) *keysBench {
	tb.Helper()
	k := &keysBench{clk: clocktesting.NewFakeClock(t0), keys: keys, views: map[types.NamespacedName]*JobView{}}
	k.a = New(k.clk, func(n types.NamespacedName) { k.woken = append(k.woken, n) })
	k.a.SetLimits(qk, Limits{Concurrency: 10, Rate: rate(1_000_000, time.Hour), Keys: KeyLimits{Concurrency: 1}})
	backlog := make([]JobView, 0, keysBenchBacklog)
	for range keysBenchBacklog {
		backlog = append(backlog, *k.newJob())
	}
	k.a.EnsureQueue(qk, func() []JobView { return backlog })
	for i := range backlog {
		v := k.views[backlog[i].Key]
		if k.a.TryAdmit(v.Key).Admitted {
			k.commit(v)
		}
	}
	if len(k.running) != min(10, keys) {
		tb.Fatalf("%d running after the first admissions, want %d", len(k.running), min(10, keys))
	}
	k.woken = k.woken[:0]
	return k
}

// newJob is the next Waiting job, of key created mod keys, ready a millisecond after the last.
func (k *keysBench) newJob() *JobView {
	v := makeJob(fmt.Sprintf("j%07d", k.created)).Ready(t0.Add(time.Duration(k.created) * time.Millisecond)).Obj()
	v.SpecKey = fmt.Sprintf("k%05d", k.created%k.keys)
	k.created++
	k.views[v.Key] = &v
	return &v
}

func (k *keysBench) commit(v *JobView) {
	v.Attempts++
	v.State = Running
	v.AttemptStarts = append(v.AttemptStarts, AttemptStart{Attempt: v.Attempts, By: k.clk.Now()})
	k.a.Observe(*v)
	k.running = append(k.running, v)
	k.admits++
}

// job is one job's life.
func (k *keysBench) job() {
	k.clk.Step(time.Millisecond)
	k.a.Observe(*k.newJob())
	if len(k.running) > 0 {
		done := k.running[0]
		k.running = k.running[1:]
		done.State = Idle
		k.a.Observe(*done)
		delete(k.views, done.Key)
	}
	for len(k.woken) > 0 {
		n := k.woken[0]
		k.woken = k.woken[1:]
		v := k.views[n]
		if v == nil || v.State != Waiting {
			continue
		}
		k.a.Observe(*v) // a reconcile observes, then tries
		if k.a.TryAdmit(n).Admitted {
			k.commit(v)
		}
	}
}

// BenchmarkAdmissionPerJobByKeys is admission's cost per job with 1, 100 and 10,000 keys over a
// backlog of 10,000 Waiting jobs: the figure the closing note of #16 gives (ns/op is per job;
// cmps/op counts job and group comparisons).
func BenchmarkAdmissionPerJobByKeys(b *testing.B) {
	for _, keys := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			k := newKeysBench(b, keys)
			k.a.cmps, k.admits = 0, 0
			cpu := processCPU(b)
			for b.Loop() {
				k.job()
			}
			// CPU time, unlike ns/op, does not count the time other processes of a shared machine
			// take the cores.
			b.ReportMetric(float64((processCPU(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(k.a.cmps)/float64(b.N), "cmps/op")
			b.ReportMetric(float64(k.admits)/float64(b.N), "admits/op")
		})
	}
}

// processCPU is the CPU time the process used so far (user and system).
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestKeysBenchAdmitsEveryJob checks the benchmark's play: in steady state, each job's life
// admits one job, with every limit and invariant kept.
func TestKeysBenchAdmitsEveryJob(t *testing.T) {
	for _, keys := range []int{1, 100, 10_000} {
		k := newKeysBench(t, keys)
		k.admits = 0
		for range 500 {
			k.job()
		}
		if k.admits != 500 {
			t.Errorf("keys=%d: %d admitted in 500 job lives, want 500", keys, k.admits)
		}
		if err := k.a.checkInvariants(); err != nil {
			t.Errorf("keys=%d: %v", keys, err)
		}
	}
}

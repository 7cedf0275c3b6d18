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

package realclock

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"kickq.dev/kickq/internal/executor"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

// receiver is a loopback webhook receiver that notes when each call arrived, by job name.
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got map[string][]time.Time
}

func newReceiver() *receiver {
	r := &receiver{got: map[string][]time.Time{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		at := time.Now()
		raw, _ := io.ReadAll(req.Body)
		var p executor.Payload
		_ = json.Unmarshal(raw, &p)
		r.mu.Lock()
		r.got[p.Name] = append(r.got[p.Name], at)
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	DeferCleanup(r.Close)
	return r
}

// calls returns every call's arrival, sorted, and how many jobs were called.
func (r *receiver) calls() (all []time.Time, jobs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ts := range r.got {
		all = append(all, ts...)
	}
	slices.SortFunc(all, time.Time.Compare)
	return all, len(r.got)
}

func (r *receiver) first(job string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ts := r.got[job]; len(ts) > 0 {
		return ts[0], true
	}
	return time.Time{}, false
}

// maxInWindow is the most arrivals in any window [t, t+period) of sorted times.
func maxInWindow(ts []time.Time, period time.Duration) int {
	most := 0
	for i := range ts {
		n := 0
		for _, u := range ts[i:] {
			if u.Sub(ts[i]) >= period {
				break
			}
			n++
		}
		most = max(most, n)
	}
	return most
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

var _ = Describe("Rate limits at a real receiver", func() {
	It("calls 30 jobs of a 5 per 4 s queue with at most 5 calls in any 4 s, in about the ideal time", func() {
		ns := env.NewNamespace()
		rcv := newReceiver()
		const (
			jobs   = 30
			limit  = 5
			period = 4 * time.Second
			// The first call of each window of 5 is period after the window before's: the 30th
			// call comes (30/5 - 1) periods after the first.
			ideal = (jobs/limit - 1) * period
		)
		Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueue("limited", ns).Rate(limit, int32(period/time.Second)).Obj())).To(Succeed())
		created := time.Now()
		for i := range jobs {
			j := utiltesting.MakeQueueJob(fmt.Sprintf("rate-%02d", i), ns).Queue("limited").Webhook(rcv.URL + "/jobs").Retry(0).Obj()
			Expect(env.Client.Create(env.Ctx, j)).To(Succeed())
		}
		Eventually(func() int { _, n := rcv.calls(); return n }, ideal+4*period, 50*time.Millisecond).Should(Equal(jobs))
		all, _ := rcv.calls()
		most := maxInWindow(all, period)
		total := all[len(all)-1].Sub(all[0])
		report := fmt.Sprintf("%d calls (%d jobs); most in any 4 s window: %d (limit %d); first to last call: %s (ideal %s, +%s); first create to last call: %s",
			len(all), jobs, most, limit, total.Round(time.Millisecond), ideal, (total - ideal).Round(time.Millisecond), all[len(all)-1].Sub(created).Round(time.Millisecond))
		AddReportEntry("rate 5/4s at the receiver", report)
		fmt.Fprintln(GinkgoWriter, "MEASURED rate:", report)
		Expect(most).To(BeNumerically("<=", limit), "calls in one 4 s window at the receiver")
		Expect(total).To(BeNumerically(">=", ideal), "5 per 4 s cannot be faster than the ideal")
		// Within one window of the ideal, as the issue asks, and one more for a loaded machine
		// (on a quiet one: +0.8 s; see docs/benchmarks.md).
		Expect(total).To(BeNumerically("<=", ideal+2*period), "within a window of the ideal (and one of slack)")
	})

	It("calls delaySeconds: 2 jobs never earlier than 2 s after their create returned", func() {
		ns := env.NewNamespace()
		rcv := newReceiver()
		const (
			jobs  = 10
			delay = 2 * time.Second
		)
		returned := map[string]time.Time{}
		for i := range jobs {
			name := fmt.Sprintf("late-%02d", i)
			j := utiltesting.MakeQueueJob(name, ns).Delay(delay).Webhook(rcv.URL + "/jobs").Retry(0).Obj()
			Expect(env.Client.Create(env.Ctx, j)).To(Succeed())
			returned[name] = time.Now()
			time.Sleep(137 * time.Millisecond) // spread the creates over the second
		}
		Eventually(func() int { _, n := rcv.calls(); return n }, 4*delay+5*time.Second, 50*time.Millisecond).Should(Equal(jobs))
		var lateness []time.Duration
		for name, r := range returned {
			at, ok := rcv.first(name)
			Expect(ok).To(BeTrue())
			after := at.Sub(r)
			Expect(after).To(BeNumerically(">=", delay), "job %s called %s after its create returned", name, after)
			lateness = append(lateness, after-delay)
		}
		report := fmt.Sprintf("%d jobs, delaySeconds 2: called after create returned + 2 s + lateness; lateness min %s, p50 %s, max %s",
			jobs, quantile(lateness, 0).Round(time.Millisecond), quantile(lateness, 0.5).Round(time.Millisecond), quantile(lateness, 1).Round(time.Millisecond))
		AddReportEntry("delaySeconds 2 at the receiver", report)
		fmt.Fprintln(GinkgoWriter, "MEASURED delay:", report)
		// Late by the writes it needs: tens of milliseconds on a quiet machine, seconds when
		// every core is busy (see docs/benchmarks.md); the bound is the slack for the latter.
		Expect(quantile(lateness, 1)).To(BeNumerically("<", 4*time.Second), "late by the writes it needs, with slack for a loaded machine")
	})
})

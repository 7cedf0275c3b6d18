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

package worker

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/pkg/kickq"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

// The throughput measurement runs only when asked, as it takes a minute or more:
//
//	KICKQ_WORKER_BENCH=1000 KUBEBUILDER_ASSETS=$PWD/bin/k8s go test ./test/integration/worker/ \
//	  -run TestWorker -args -ginkgo.focus=throughput -ginkgo.v
//
// N no-op jobs are created and admitted (Running, waiting for a claim) before the workers start;
// the figure is N over the time from the workers' start to the last Succeeded, and the API writes
// per job are the manager's and the workers' (claims, outcomes, Lease writes).
var _ = Describe("Worker throughput", Label("bench"), func() {
	for _, workers := range []int{1, 4} {
		It(fmt.Sprintf("runs no-op tasks with %d worker(s) × concurrency 4", workers), func() {
			n, _ := strconv.Atoi(os.Getenv("KICKQ_WORKER_BENCH"))
			if n == 0 {
				Skip("set KICKQ_WORKER_BENCH=<jobs> to measure worker throughput")
			}
			ns := env.NewNamespace()
			Expect(env.Client.Create(env.Ctx, workerQueue(ns).Obj())).To(Succeed())
			for i := range n {
				Expect(env.Client.Create(env.Ctx, utiltesting.MakeQueueJob(fmt.Sprintf("n%04d", i), ns).Type("report").Obj())).To(Succeed())
			}
			Eventually(func() int { return countPhase(ns, kickqv1alpha1.PhaseRunning) }, 5*time.Minute, 200*time.Millisecond).Should(Equal(n))
			admitWrites := managerWrites(ns, n)

			var mu sync.Mutex
			runs := map[string]int{}
			noop := func(_ context.Context, t *kickq.Task) (any, error) {
				mu.Lock()
				runs[t.Name]++
				mu.Unlock()
				return nil, nil
			}
			start := time.Now()
			var ws []*workerRun
			for i := range workers {
				ws = append(ws, startWorker(kickq.WorkerOptions{Namespace: ns, Concurrency: 4, Identity: fmt.Sprintf("bench-%d", i)},
					map[string]kickq.HandlerFunc{"report": noop}))
			}
			Eventually(func() int { return countPhase(ns, kickqv1alpha1.PhaseSucceeded) }, 10*time.Minute, 100*time.Millisecond).Should(Equal(n))
			elapsed := time.Since(start)
			var workerWrites int64
			for _, w := range ws {
				workerWrites += w.writes.Load()
			}
			total := managerWrites(ns, n)
			GinkgoWriter.Printf("worker throughput: %d no-op jobs, %d worker(s) × 4: %s, %.1f jobs/s; API writes per job: %.2f (manager %.2f: admit %.2f, end %.2f; workers %.2f incl. %d Lease writes)\n",
				n, workers, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(),
				float64(total+int(workerWrites))/float64(n), float64(total)/float64(n), float64(admitWrites)/float64(n),
				float64(total-admitWrites)/float64(n), float64(workerWrites)/float64(n), workers)
			AddReportEntry("jobs/s", float64(n)/elapsed.Seconds())
			mu.Lock()
			defer mu.Unlock()
			Expect(runs).To(HaveLen(n))
			for name, c := range runs {
				Expect(c).To(Equal(1), "%s ran %d times", name, c)
			}
		})
	}
})

func countPhase(ns string, p kickqv1alpha1.QueueJobPhase) int {
	var l kickqv1alpha1.QueueJobList
	if err := env.Client.List(env.Ctx, &l, client.InNamespace(ns)); err != nil {
		return -1
	}
	c := 0
	for i := range l.Items {
		if l.Items[i].Status.Phase == p {
			c++
		}
	}
	return c
}

// managerWrites sums the manager's counted writes of the namespace's n jobs.
func managerWrites(ns string, n int) int {
	total := 0
	for i := range n {
		total += writes.Of(ns, fmt.Sprintf("n%04d", i))
	}
	return total
}

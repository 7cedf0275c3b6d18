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

package lifecycle

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/metrics"
	"kickq.dev/kickq/test/util"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

func statisticsOf(ns, queue string) func() *kickqv1alpha1.QueueStatistics {
	return func() *kickqv1alpha1.QueueStatistics {
		var q kickqv1alpha1.Queue
		if err := env.Client.Get(env.Ctx, client.ObjectKey{Namespace: ns, Name: queue}, &q); err != nil {
			return nil
		}
		return q.Status.Statistics
	}
}

var _ = Describe("Queue statistics", func() {
	var ns string
	BeforeEach(func() { ns = env.NewNamespace() })

	It("show the last minute's throughput and the window's wait and run percentiles, and empty as time passes", func() {
		create(utiltesting.MakeQueue("stats", ns).Obj())
		due := env.Clock.Now().Truncate(time.Second).Add(10 * time.Second)
		for i := range 3 {
			create(utiltesting.MakeQueueJob(fmt.Sprintf("j%d", i), ns).Queue("stats").Type("resize").Pod().NotBefore(due).Obj())
		}
		for i := range 3 {
			expectPhase(ns, fmt.Sprintf("j%d", i), kickqv1alpha1.PhaseDelayed)
		}
		started := due.Add(4 * time.Second) // each job waits 4 s past its readyTime
		stepTo(started)
		for i := range 3 {
			setPodRunning(waitPod(ns, fmt.Sprintf("j%d", i), 1))
			expectPhase(ns, fmt.Sprintf("j%d", i), kickqv1alpha1.PhaseRunning)
		}
		// The runs take 6, 8 and 10 s.
		for i := range 3 {
			stepTo(started.Add(time.Duration(6+2*i) * time.Second))
			finishPod(ns, fmt.Sprintf("j%d", i), 1, 0, "")
			expectPhase(ns, fmt.Sprintf("j%d", i), kickqv1alpha1.PhaseSucceeded)
		}
		win := int32(metrics.PercentileWindow / time.Second)
		Eventually(statisticsOf(ns, "stats"), util.Timeout, util.Interval).Should(Equal(&kickqv1alpha1.QueueStatistics{
			ThroughputPerMinute: 3, StartedPerMinute: 3, WindowSeconds: win,
			WaitP50Milliseconds: ptr.To[int64](4000), WaitP95Milliseconds: ptr.To[int64](4000),
			RunP50Milliseconds: ptr.To[int64](8000), RunP95Milliseconds: ptr.To[int64](10000),
		}))

		By("each transition was counted once in the manager's metrics, whatever the passes")
		Expect(testutil.ToFloat64(metrics.Attempts.WithLabelValues(ns, "stats", "resize", string(kickqv1alpha1.OutcomeSucceed)))).To(Equal(3.0))

		By("a minute later the throughput is 0 and the percentiles stay, without any job event")
		stepTo(started.Add(10*time.Second + metrics.ThroughputWindow))
		Eventually(statisticsOf(ns, "stats"), util.Timeout, util.Interval).Should(Equal(&kickqv1alpha1.QueueStatistics{
			WindowSeconds:       win,
			WaitP50Milliseconds: ptr.To[int64](4000), WaitP95Milliseconds: ptr.To[int64](4000),
			RunP50Milliseconds: ptr.To[int64](8000), RunP95Milliseconds: ptr.To[int64](10000),
		}))

		By("past the window nothing is left")
		stepTo(started.Add(10*time.Second + metrics.PercentileWindow))
		Eventually(statisticsOf(ns, "stats"), util.Timeout, util.Interval).Should(BeNil())
	})
})

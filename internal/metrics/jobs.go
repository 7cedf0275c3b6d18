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

package metrics

import (
	"context"
	"iter"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// listTimeout bounds the cache list of one scrape.
const listTimeout = 5 * time.Second

// JobsSource is where the jobs collector reads from: the manager's cache, its clock, whether
// this replica leads (only the leader exports the gauges, so that replicas do not double them),
// and the label caps.
type JobsSource struct {
	// Store, when set, is the cache's own store of QueueJobs: a scrape reads the cached objects
	// in place (a slice of pointers, 16 bytes a job), never a copy of each. Else Reader is listed
	// (a shallow copy of every job per scrape: about 1 KB each).
	Store   JobStore
	Reader  client.Reader
	Clock   clock.PassiveClock
	Leader  <-chan struct{}
	Limiter *Limiter
}

// JobsCollector exports kickq_jobs and kickq_queue_oldest_pending_age_seconds, computed from the
// manager's cache at each scrape: exact whatever the manager missed, and without series left
// behind by deleted queues.
type JobsCollector struct {
	mu  sync.Mutex
	src *JobsSource
}

// SetJobsSource points the registered jobs collector at a manager (the last one set wins; nil
// stops it exporting).
func SetJobsSource(src *JobsSource) {
	jobs.mu.Lock()
	defer jobs.mu.Unlock()
	jobs.src = src
}

// Describe sends the collector's two descriptors.
func (c *JobsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobsDesc
	ch <- oldestPendingDesc
}

// Collect lists the jobs from the cache and sends their counts per queue and phase and each
// queue's oldest pending age.
func (c *JobsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	src := c.src
	c.mu.Unlock()
	if src == nil || !leading(src.Leader) {
		return
	}
	jobs, err := src.jobs()
	if err != nil {
		return
	}
	for _, m := range jobMetrics(jobs, src.Limiter, src.Clock.Now()) {
		ch <- m
	}
}

// JobStore is a store of cached QueueJobs (client-go's cache.Store): List returns the stored
// objects themselves, to be read only.
type JobStore interface {
	List() []any
}

// jobs returns the jobs to count, read only.
func (s *JobsSource) jobs() (iter.Seq[*kickqv1alpha1.QueueJob], error) {
	if s.Store != nil {
		objs := s.Store.List()
		return func(yield func(*kickqv1alpha1.QueueJob) bool) {
			for _, o := range objs {
				if j, ok := o.(*kickqv1alpha1.QueueJob); ok && !yield(j) {
					return
				}
			}
		}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
	defer cancel()
	var list kickqv1alpha1.QueueJobList
	if err := s.Reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	return func(yield func(*kickqv1alpha1.QueueJob) bool) {
		for i := range list.Items {
			if !yield(&list.Items[i]) {
				return
			}
		}
	}, nil
}

type phaseKey struct {
	ns, queue string
	phase     kickqv1alpha1.QueueJobPhase
}

// jobMetrics counts jobs per queue (capped by l) and phase, and each queue's oldest pending
// age at now.
func jobMetrics(jobs iter.Seq[*kickqv1alpha1.QueueJob], l *Limiter, now time.Time) []prometheus.Metric {
	counts := map[phaseKey]int{}
	oldest := map[queueKey]time.Time{}
	labels := map[queueKey]queueKey{} // each queue's label values, asked of l once per scrape
	for j := range jobs {
		if j.Status.Phase == "" {
			continue // not seen by the manager yet
		}
		own := queueKey{j.Namespace, j.Spec.QueueName}
		k, ok := labels[own]
		if !ok {
			k.namespace, k.name = l.Queue(own.namespace, own.name)
			labels[own] = k
		}
		counts[phaseKey{k.namespace, k.name, j.Status.Phase}]++
		o, seen := oldest[k]
		if !seen {
			oldest[k] = time.Time{}
		}
		if j.Status.Phase == kickqv1alpha1.PhasePending && j.Status.ReadyTime != nil && (o.IsZero() || j.Status.ReadyTime.Time.Before(o)) {
			oldest[k] = j.Status.ReadyTime.Time
		}
	}
	out := make([]prometheus.Metric, 0, len(counts)+len(oldest))
	for k, n := range counts {
		out = append(out, prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n), k.ns, k.queue, string(k.phase)))
	}
	for k, t := range oldest {
		age := 0.0
		if !t.IsZero() {
			age = max(now.Sub(t), 0).Seconds()
		}
		out = append(out, prometheus.MustNewConstMetric(oldestPendingDesc, prometheus.GaugeValue, age, k.namespace, k.name))
	}
	return out
}

func leading(ch <-chan struct{}) bool {
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

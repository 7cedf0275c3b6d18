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

package controllers

import (
	"context"
	"fmt"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/cron"
	"kickq.dev/kickq/internal/lifecycle"
	"kickq.dev/kickq/internal/metrics"
)

// attemptDue is when the attempt a pass starts was due, for kickq_start_lateness_seconds: its
// delay, notBeforeTime or backoff, else a cron child's firing time for its first attempt; zero
// when the pass starts none or it had no due time.
func attemptDue(p *pass) time.Time {
	if p.res.Action != lifecycle.Start && !p.res.Adopted { // adopted: started unrecorded
		return time.Time{}
	}
	if due, ok := lifecycle.DueTime(p.in); ok {
		return due
	}
	if p.job.Status.Attempts > 0 {
		return time.Time{}
	}
	if v := p.job.Annotations[AnnotationScheduledTime]; v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t
		}
	}
	return time.Time{}
}

// firingResult says whether a firing's child created at now was on time (within the template's
// starting deadline) or missed it and runs late.
func firingResult(c *kickqv1alpha1.CronSpec, at, now time.Time) string {
	grace := cron.DefaultGrace
	if c.StartingDeadlineSeconds != nil {
		grace = time.Duration(*c.StartingDeadlineSeconds) * time.Second
	}
	if now.Sub(at) <= grace {
		return metrics.FiringOnTime
	}
	return metrics.FiringMissed
}

// jobsSource is what the jobs gauges read: the cache's own store of QueueJobs, read in place at
// each scrape (no copy of every cached job).
func jobsSource(ctx context.Context, c cache.Cache) (metrics.JobStore, error) {
	inf, err := c.GetInformer(ctx, &kickqv1alpha1.QueueJob{}, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, err
	}
	if si, ok := inf.(toolscache.SharedIndexInformer); ok {
		return si.GetStore(), nil
	}
	return nil, fmt.Errorf("the cache's QueueJob informer is a %T, not a client-go shared informer", inf)
}

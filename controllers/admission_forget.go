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

// Admission keeps a record of every job it is told of. A finished job holds no slot and waits for
// nothing: admission needs it only while one of its attempt starts is inside a rate window of its
// queue. So a finished job is observed while a window may count its starts, and forgotten once no
// window can (or at once in a queue without rate limits); the rebuild after a restart leaves such
// jobs out; a queue whose longest rate period grows has its finished jobs inside the new window
// observed again. A manager at rest with many finished jobs keeps no admission record for them.

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
	"kickq.dev/kickq/internal/lifecycle"
)

// longestRatePeriod is the longest rate window of a queue's limits (0: it has none; nil spec:
// the implicit queue, or no queue).
func longestRatePeriod(spec *kickqv1alpha1.QueueSpec) time.Duration {
	if spec == nil {
		return 0
	}
	var longest time.Duration
	add := func(rl *kickqv1alpha1.RateLimit) {
		if rl != nil {
			longest = max(longest, time.Duration(rl.PeriodSeconds)*time.Second)
		}
	}
	addKeys := func(k *kickqv1alpha1.KeyLimits) {
		if k != nil {
			add(k.RateLimit)
		}
	}
	add(spec.RateLimit)
	addKeys(spec.KeyLimits)
	for i := range spec.Handlers {
		add(spec.Handlers[i].RateLimit)
		addKeys(spec.Handlers[i].KeyLimits)
	}
	if spec.DefaultHandler != nil {
		add(spec.DefaultHandler.RateLimit)
		addKeys(spec.DefaultHandler.KeyLimits)
	}
	return longest
}

// windowsNeed reports whether a rate window of the given period may still count a finished job's
// attempt starts at now, and until when. An unfinished job (and a cron template) is always needed.
func windowsNeed(job *kickqv1alpha1.QueueJob, period time.Duration, now time.Time) (bool, time.Time) {
	if job.Spec.Cron != nil || !lifecycle.IsFinished(&job.Status) {
		return true, time.Time{}
	}
	if period <= 0 {
		return false, time.Time{}
	}
	var until time.Time
	for _, s := range attemptStarts(&job.Status) {
		if s.By.IsZero() {
			return true, time.Time{} // no bound on when its side effect was made: keep it
		}
		until = maxTime(until, s.By.Add(period))
	}
	return until.After(now), until
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// observeStored tells admission the job's stored state, or forgets a finished job that no rate
// window needs. It returns when a finished job kept for a window leaves it (zero: nothing to do
// then), for a pass that forgets it.
func (r *QueueJobReconciler) observeStored(p *pass) time.Time {
	need, until := windowsNeed(p.job, longestRatePeriod(p.in.Queue.Spec), p.in.Now)
	if !need {
		r.Admission.Forget(p.key) // its starts, if any are still counted, stay until they expire
		return time.Time{}
	}
	r.Admission.Observe(r.jobView(p.job, p.qkey, storedHandler(p), &p.job.Status, p.waiting))
	return until
}

// storedHandler is the handler a job's starts are counted under. Decide leaves a finished job's
// handler unresolved (""), and observing it so would move the job, and its starts, out of its
// handler's rate windows (rateLimit and keyLimits.rateLimit) while they still count: resolve it
// as the rebuild does (listViews, observeWindowed).
func storedHandler(p *pass) string {
	if p.res.Handler != "" || !lifecycle.IsFinished(&p.job.Status) {
		return p.res.Handler
	}
	t, _, _ := lifecycle.ResolveTarget(p.job, p.in.Queue)
	return t.Handler
}

// observeWindowed observes the queue's finished jobs that the rate windows of its new longest
// period may count (the queue's limits grew: admission forgot them, or never learnt them).
func (r *QueueJobReconciler) observeWindowed(ctx context.Context, qkey admission.QueueKey, qv lifecycle.QueueView) {
	period := longestRatePeriod(qv.Spec)
	now := r.Clock.Now()
	var list kickqv1alpha1.QueueJobList
	if err := r.Client.List(ctx, &list, client.InNamespace(qkey.Namespace), client.MatchingFields{QueueNameIndex: qkey.Name}, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing jobs of queue", "queue", qkey.Name)
		return
	}
	for i := range list.Items {
		j := &list.Items[i]
		if !lifecycle.IsFinished(&j.Status) || j.Spec.Cron != nil {
			continue // unfinished jobs are observed by their own passes
		}
		if need, _ := windowsNeed(j, period, now); need {
			t, _, _ := lifecycle.ResolveTarget(j, qv)
			r.Admission.Observe(r.jobView(j, qkey, t.Handler, &j.Status, false))
		}
	}
}

// periodGrew remembers the queue's longest rate period and reports whether it grew since the last
// call (a queue seen for the first time is rebuilt whole, not here).
func (r *QueueJobReconciler) periodGrew(qkey admission.QueueKey, spec *kickqv1alpha1.QueueSpec) bool {
	p := longestRatePeriod(spec)
	r.mu.Lock()
	defer r.mu.Unlock()
	old, ok := r.periods[qkey]
	r.periods[qkey] = p
	return ok && p > old
}

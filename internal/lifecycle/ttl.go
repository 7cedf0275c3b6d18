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
	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// TTL returns how long a finished job is kept: spec.ttlSecondsAfterFinished, else its queue's
// retention for the phase it ended in, else the manager's --default-retention for that phase;
// nil keeps it.
func TTL(job *kickqv1alpha1.QueueJob, q QueueView) *int32 {
	if job.Spec.TTLSecondsAfterFinished != nil {
		return job.Spec.TTLSecondsAfterFinished
	}
	if p := EffectiveRetention(q.Spec, q.DefaultRetention, job.Status.Phase); p != nil {
		return p.TTLSecondsAfterFinished
	}
	return nil
}

// EffectiveRetention is the retention policy for jobs that ended in phase: the queue's own for
// that phase when it sets one (even one without a TTL or history limit), else the cluster-wide
// default def (nil: none).
func EffectiveRetention(q *kickqv1alpha1.QueueSpec, def *kickqv1alpha1.Retention, phase kickqv1alpha1.QueueJobPhase) *kickqv1alpha1.RetentionPolicy {
	if p := RetentionFor(q, phase); p != nil {
		return p
	}
	if def == nil {
		return nil
	}
	return RetentionFor(&kickqv1alpha1.QueueSpec{Retention: def}, phase)
}

// RetentionFor is the queue's retention policy for jobs that ended in phase (nil: none).
func RetentionFor(q *kickqv1alpha1.QueueSpec, phase kickqv1alpha1.QueueJobPhase) *kickqv1alpha1.RetentionPolicy {
	if q == nil || q.Retention == nil {
		return nil
	}
	switch phase {
	case kickqv1alpha1.PhaseSucceeded:
		return q.Retention.Succeeded
	case kickqv1alpha1.PhaseFailed:
		return q.Retention.Failed
	}
	return nil
}

// decideTTL deletes a finished job whose time to live has passed, or wakes it then.
func decideTTL(res *Result, in Input) {
	st := &res.Status
	ttl := TTL(in.Job, in.Queue)
	if ttl == nil || st.FinishTime == nil || in.Job.Spec.Cron != nil {
		return
	}
	due := st.FinishTime.Add(seconds(*ttl))
	if in.Now.Before(due) {
		res.requeue(due)
		return
	}
	res.Action = Delete
}

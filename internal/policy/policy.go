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

// Package policy resolves a QueueJob's effective settings, field by field: the job's value wins,
// then its handler's, then its queue's defaults, then the built-in default. It is pure: no API
// client, no clock.
package policy

import (
	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// Built-in defaults, used where neither the job, its handler nor its queue sets a value.
const (
	// DefaultRetryLimit is the number of counted retries after the first failed attempt.
	DefaultRetryLimit int32 = 3
	// DefaultBackoffType is how the wait between attempts grows.
	DefaultBackoffType = kickqv1alpha1.BackoffExponential
	// DefaultBackoffBaseSeconds is the wait after the first counted failure.
	DefaultBackoffBaseSeconds int32 = 10
	// DefaultBackoffFactor multiplies the wait after each further counted failure (Exponential).
	DefaultBackoffFactor int32 = 2
	// DefaultBackoffMaxSeconds caps the wait, before jitter.
	DefaultBackoffMaxSeconds int32 = 600
	// DefaultBackoffJitterPercent spreads the wait by this percentage up or down (none).
	DefaultBackoffJitterPercent int32 = 0
)

// Backoff is a fully resolved backoff: every field has a value.
type Backoff struct {
	// Type is Fixed, Linear or Exponential.
	Type kickqv1alpha1.BackoffType
	// BaseSeconds is the wait after the first counted failure.
	BaseSeconds int32
	// Factor multiplies the wait after each further counted failure; 1 unless Type is Exponential.
	Factor int32
	// MaxSeconds caps the wait before jitter; never below BaseSeconds.
	MaxSeconds int32
	// JitterPercent spreads the wait by up to this percentage, up or down.
	JitterPercent int32
}

// Effective is a job's resolved policy.
type Effective struct {
	// RetryLimit is the number of counted retries after the first failed attempt.
	RetryLimit int32
	// Backoff is the wait before the next attempt after a counted failure.
	Backoff Backoff
	// Rules are the first non-empty retry.rules list among job, handler and queue (lists are not
	// merged element by element); nil when none sets any.
	Rules []kickqv1alpha1.RetryRule
	// AttemptDeadlineSeconds bounds one attempt; nil means no bound.
	AttemptDeadlineSeconds *int32
	// ActiveDeadlineSeconds bounds the whole job from its first start; nil means no bound.
	ActiveDeadlineSeconds *int32
	// HeartbeatTimeoutSeconds fails a silent Running attempt; nil means no heartbeat check.
	HeartbeatTimeoutSeconds *int32
}

// Resolve merges the job's, the handler's and the queue's policies field by field: the first of
// job, handler, queue defaults that sets a field wins, else the built-in default. job, handler and
// queue may each be nil. Backoff fields resolve independently, so a job may set only baseSeconds
// and inherit the type from its queue. When the resolved type is not Exponential, Factor is 1;
// MaxSeconds is raised to BaseSeconds when it is lower. The result shares no memory with its
// arguments.
func Resolve(job *kickqv1alpha1.QueueJobSpec, handler *kickqv1alpha1.HandlerSpec, queue *kickqv1alpha1.QueueSpec) Effective {
	// layers in order of precedence; a nil layer sets nothing.
	var layers [3]*kickqv1alpha1.JobPolicies
	if job != nil {
		layers[0] = &job.JobPolicies
	}
	if handler != nil {
		layers[1] = &handler.JobPolicies
	}
	if queue != nil {
		layers[2] = queue.Defaults
	}

	retry := func(p *kickqv1alpha1.JobPolicies) *kickqv1alpha1.RetryPolicy {
		if p == nil {
			return nil
		}
		return p.Retry
	}
	backoff := func(p *kickqv1alpha1.JobPolicies) *kickqv1alpha1.Backoff {
		if r := retry(p); r != nil {
			return r.Backoff
		}
		return nil
	}
	// first returns the first value get finds among the layers, else def.
	first := func(def int32, get func(*kickqv1alpha1.JobPolicies) *int32) int32 {
		for _, l := range layers {
			if l == nil {
				continue
			}
			if v := get(l); v != nil {
				return *v
			}
		}
		return def
	}
	// firstPtr is first for optional fields: nil when no layer sets it.
	firstPtr := func(get func(*kickqv1alpha1.JobPolicies) *int32) *int32 {
		for _, l := range layers {
			if l == nil {
				continue
			}
			if v := get(l); v != nil {
				c := *v
				return &c
			}
		}
		return nil
	}
	backoffField := func(def int32, get func(*kickqv1alpha1.Backoff) *int32) int32 {
		return first(def, func(p *kickqv1alpha1.JobPolicies) *int32 {
			if b := backoff(p); b != nil {
				return get(b)
			}
			return nil
		})
	}

	var eff Effective
	eff.RetryLimit = first(DefaultRetryLimit, func(p *kickqv1alpha1.JobPolicies) *int32 {
		if r := retry(p); r != nil {
			return r.Limit
		}
		return nil
	})

	eff.Backoff.Type = DefaultBackoffType
	for _, l := range layers {
		if b := backoff(l); b != nil && b.Type != "" {
			eff.Backoff.Type = b.Type
			break
		}
	}
	eff.Backoff.BaseSeconds = backoffField(DefaultBackoffBaseSeconds, func(b *kickqv1alpha1.Backoff) *int32 { return b.BaseSeconds })
	eff.Backoff.Factor = backoffField(DefaultBackoffFactor, func(b *kickqv1alpha1.Backoff) *int32 { return b.Factor })
	eff.Backoff.MaxSeconds = backoffField(DefaultBackoffMaxSeconds, func(b *kickqv1alpha1.Backoff) *int32 { return b.MaxSeconds })
	eff.Backoff.JitterPercent = backoffField(DefaultBackoffJitterPercent, func(b *kickqv1alpha1.Backoff) *int32 { return b.JitterPercent })
	if eff.Backoff.Type != kickqv1alpha1.BackoffExponential {
		eff.Backoff.Factor = 1
	}
	if eff.Backoff.MaxSeconds < eff.Backoff.BaseSeconds {
		eff.Backoff.MaxSeconds = eff.Backoff.BaseSeconds
	}

	for _, l := range layers {
		if r := retry(l); r != nil && len(r.Rules) > 0 {
			eff.Rules = make([]kickqv1alpha1.RetryRule, len(r.Rules))
			for i := range r.Rules {
				r.Rules[i].DeepCopyInto(&eff.Rules[i])
			}
			break
		}
	}

	eff.AttemptDeadlineSeconds = firstPtr(func(p *kickqv1alpha1.JobPolicies) *int32 { return p.AttemptDeadlineSeconds })
	eff.ActiveDeadlineSeconds = firstPtr(func(p *kickqv1alpha1.JobPolicies) *int32 { return p.ActiveDeadlineSeconds })
	eff.HeartbeatTimeoutSeconds = firstPtr(func(p *kickqv1alpha1.JobPolicies) *int32 { return p.HeartbeatTimeoutSeconds })
	return eff
}

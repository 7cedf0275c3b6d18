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

package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

func i32(v int32) *int32 { return &v }

// defaults is the Effective of a job that sets nothing, anywhere.
func defaults() Effective {
	return Effective{
		RetryLimit: DefaultRetryLimit,
		Backoff: Backoff{
			Type:          DefaultBackoffType,
			BaseSeconds:   DefaultBackoffBaseSeconds,
			Factor:        DefaultBackoffFactor,
			MaxSeconds:    DefaultBackoffMaxSeconds,
			JitterPercent: DefaultBackoffJitterPercent,
		},
	}
}

// with returns defaults() changed by f.
func with(f func(*Effective)) Effective {
	e := defaults()
	f(&e)
	return e
}

func jobWith(p kickqv1alpha1.JobPolicies) *kickqv1alpha1.QueueJobSpec {
	return &kickqv1alpha1.QueueJobSpec{QueueName: "q", Type: "email", JobPolicies: p}
}

func handlerWith(p kickqv1alpha1.JobPolicies) *kickqv1alpha1.HandlerSpec {
	return &kickqv1alpha1.HandlerSpec{Worker: &kickqv1alpha1.WorkerTarget{}, JobPolicies: p}
}

func queueWith(p kickqv1alpha1.JobPolicies) *kickqv1alpha1.QueueSpec {
	return &kickqv1alpha1.QueueSpec{Defaults: &p}
}

func retry(limit *int32, b *kickqv1alpha1.Backoff, rules ...kickqv1alpha1.RetryRule) *kickqv1alpha1.RetryPolicy {
	return &kickqv1alpha1.RetryPolicy{Limit: limit, Backoff: b, Rules: rules}
}

func dieOn(codes ...int32) kickqv1alpha1.RetryRule {
	return kickqv1alpha1.RetryRule{
		Action:      kickqv1alpha1.RetryActionDie,
		OnExitCodes: &kickqv1alpha1.ExitCodesMatcher{Operator: kickqv1alpha1.ExitCodeOperatorIn, Values: codes},
	}
}

func retryOnCondition(condition string) kickqv1alpha1.RetryRule {
	return kickqv1alpha1.RetryRule{
		Action:          kickqv1alpha1.RetryActionRetry,
		OnPodConditions: []kickqv1alpha1.PodConditionMatcher{{Type: condition, Status: "True"}},
	}
}

func TestBuiltInDefaults(t *testing.T) {
	want := Effective{
		RetryLimit: 3,
		Backoff:    Backoff{Type: kickqv1alpha1.BackoffExponential, BaseSeconds: 10, Factor: 2, MaxSeconds: 600, JitterPercent: 0},
	}
	if diff := cmp.Diff(want, defaults()); diff != "" {
		t.Errorf("built-in defaults (-want +got):\n%s", diff)
	}
}

func TestResolve(t *testing.T) {
	fullBackoff := func(typ kickqv1alpha1.BackoffType, base, factor, maxSeconds, jitter int32) *kickqv1alpha1.Backoff {
		b := &kickqv1alpha1.Backoff{Type: typ, BaseSeconds: i32(base), MaxSeconds: i32(maxSeconds), JitterPercent: i32(jitter)}
		if factor != 0 {
			b.Factor = i32(factor)
		}
		return b
	}
	jobLayer := kickqv1alpha1.JobPolicies{
		Retry:                   retry(i32(7), fullBackoff(kickqv1alpha1.BackoffExponential, 5, 3, 300, 10), dieOn(2)),
		AttemptDeadlineSeconds:  i32(11),
		ActiveDeadlineSeconds:   i32(12),
		HeartbeatTimeoutSeconds: i32(13),
	}
	handlerLayer := kickqv1alpha1.JobPolicies{
		Retry:                   retry(i32(8), fullBackoff(kickqv1alpha1.BackoffExponential, 6, 4, 400, 20), dieOn(3)),
		AttemptDeadlineSeconds:  i32(21),
		ActiveDeadlineSeconds:   i32(22),
		HeartbeatTimeoutSeconds: i32(23),
	}
	queueLayer := kickqv1alpha1.JobPolicies{
		Retry:                   retry(i32(9), fullBackoff(kickqv1alpha1.BackoffExponential, 7, 5, 500, 30), dieOn(4)),
		AttemptDeadlineSeconds:  i32(31),
		ActiveDeadlineSeconds:   i32(32),
		HeartbeatTimeoutSeconds: i32(33),
	}
	jobEff := Effective{
		RetryLimit:              7,
		Backoff:                 Backoff{Type: kickqv1alpha1.BackoffExponential, BaseSeconds: 5, Factor: 3, MaxSeconds: 300, JitterPercent: 10},
		Rules:                   []kickqv1alpha1.RetryRule{dieOn(2)},
		AttemptDeadlineSeconds:  i32(11),
		ActiveDeadlineSeconds:   i32(12),
		HeartbeatTimeoutSeconds: i32(13),
	}
	handlerEff := Effective{
		RetryLimit:              8,
		Backoff:                 Backoff{Type: kickqv1alpha1.BackoffExponential, BaseSeconds: 6, Factor: 4, MaxSeconds: 400, JitterPercent: 20},
		Rules:                   []kickqv1alpha1.RetryRule{dieOn(3)},
		AttemptDeadlineSeconds:  i32(21),
		ActiveDeadlineSeconds:   i32(22),
		HeartbeatTimeoutSeconds: i32(23),
	}
	queueEff := Effective{
		RetryLimit:              9,
		Backoff:                 Backoff{Type: kickqv1alpha1.BackoffExponential, BaseSeconds: 7, Factor: 5, MaxSeconds: 500, JitterPercent: 30},
		Rules:                   []kickqv1alpha1.RetryRule{dieOn(4)},
		AttemptDeadlineSeconds:  i32(31),
		ActiveDeadlineSeconds:   i32(32),
		HeartbeatTimeoutSeconds: i32(33),
	}

	cases := map[string]struct {
		job     *kickqv1alpha1.QueueJobSpec
		handler *kickqv1alpha1.HandlerSpec
		queue   *kickqv1alpha1.QueueSpec
		want    Effective
	}{
		"all nil: built-in defaults": {
			want: defaults(),
		},
		"empty job, nil handler and queue: built-in defaults": {
			job:  jobWith(kickqv1alpha1.JobPolicies{}),
			want: defaults(),
		},
		"empty job, handler and queue: built-in defaults": {
			job:     jobWith(kickqv1alpha1.JobPolicies{}),
			handler: handlerWith(kickqv1alpha1.JobPolicies{}),
			queue:   queueWith(kickqv1alpha1.JobPolicies{}),
			want:    defaults(),
		},
		"queue without defaults: built-in defaults": {
			job:   jobWith(kickqv1alpha1.JobPolicies{}),
			queue: &kickqv1alpha1.QueueSpec{},
			want:  defaults(),
		},
		"empty retry blocks everywhere: built-in defaults": {
			job:     jobWith(kickqv1alpha1.JobPolicies{Retry: &kickqv1alpha1.RetryPolicy{}}),
			handler: handlerWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{})}),
			queue:   queueWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, nil, []kickqv1alpha1.RetryRule{}...)}),
			want:    defaults(),
		},
		"job only": {
			job:  jobWith(jobLayer),
			want: jobEff,
		},
		"handler only": {
			handler: handlerWith(handlerLayer),
			want:    handlerEff,
		},
		"handler only, job without policies": {
			job:     jobWith(kickqv1alpha1.JobPolicies{}),
			handler: handlerWith(handlerLayer),
			queue:   &kickqv1alpha1.QueueSpec{},
			want:    handlerEff,
		},
		"queue only": {
			queue: queueWith(queueLayer),
			want:  queueEff,
		},
		"queue only, job and handler without policies": {
			job:     jobWith(kickqv1alpha1.JobPolicies{}),
			handler: handlerWith(kickqv1alpha1.JobPolicies{}),
			queue:   queueWith(queueLayer),
			want:    queueEff,
		},
		"all three set: the job wins every field": {
			job:     jobWith(jobLayer),
			handler: handlerWith(handlerLayer),
			queue:   queueWith(queueLayer),
			want:    jobEff,
		},
		"handler and queue set: the handler wins every field": {
			job:     jobWith(kickqv1alpha1.JobPolicies{}),
			handler: handlerWith(handlerLayer),
			queue:   queueWith(queueLayer),
			want:    handlerEff,
		},
		"job and queue, nil handler: the job wins every field": {
			job:   jobWith(jobLayer),
			queue: queueWith(queueLayer),
			want:  jobEff,
		},
		"mixed: each field from a different layer": {
			job: jobWith(kickqv1alpha1.JobPolicies{
				Retry:                 retry(nil, &kickqv1alpha1.Backoff{BaseSeconds: i32(30)}),
				ActiveDeadlineSeconds: i32(7200),
			}),
			handler: handlerWith(kickqv1alpha1.JobPolicies{
				Retry:                  retry(i32(5), &kickqv1alpha1.Backoff{JitterPercent: i32(25)}, retryOnCondition("DisruptionTarget")),
				AttemptDeadlineSeconds: i32(120),
			}),
			queue: queueWith(kickqv1alpha1.JobPolicies{
				Retry:                   retry(i32(1), &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffExponential, Factor: i32(3), MaxSeconds: i32(900)}, dieOn(1)),
				AttemptDeadlineSeconds:  i32(300),
				ActiveDeadlineSeconds:   i32(3600),
				HeartbeatTimeoutSeconds: i32(60),
			}),
			want: Effective{
				RetryLimit:              5,
				Backoff:                 Backoff{Type: kickqv1alpha1.BackoffExponential, BaseSeconds: 30, Factor: 3, MaxSeconds: 900, JitterPercent: 25},
				Rules:                   []kickqv1alpha1.RetryRule{retryOnCondition("DisruptionTarget")},
				AttemptDeadlineSeconds:  i32(120),
				ActiveDeadlineSeconds:   i32(7200),
				HeartbeatTimeoutSeconds: i32(60),
			},
		},
		"job sets only baseSeconds and inherits the type from the queue": {
			job:   jobWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{BaseSeconds: i32(20)})}),
			queue: queueWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffLinear})}),
			want: with(func(e *Effective) {
				e.Backoff.Type = kickqv1alpha1.BackoffLinear
				e.Backoff.BaseSeconds = 20
				e.Backoff.Factor = 1
			}),
		},
		"job sets only the limit: backoff from the handler, rules from the queue": {
			job:     jobWith(kickqv1alpha1.JobPolicies{Retry: retry(i32(10), nil)}),
			handler: handlerWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffFixed, BaseSeconds: i32(45)})}),
			queue:   queueWith(kickqv1alpha1.JobPolicies{Retry: retry(i32(2), nil, dieOn(2, 3))}),
			want: with(func(e *Effective) {
				e.RetryLimit = 10
				e.Backoff = Backoff{Type: kickqv1alpha1.BackoffFixed, BaseSeconds: 45, Factor: 1, MaxSeconds: 600}
				e.Rules = []kickqv1alpha1.RetryRule{dieOn(2, 3)}
			}),
		},
		"retry limit 0 is a value and wins over the handler's": {
			job:     jobWith(kickqv1alpha1.JobPolicies{Retry: retry(i32(0), nil)}),
			handler: handlerWith(kickqv1alpha1.JobPolicies{Retry: retry(i32(5), nil)}),
			want:    with(func(e *Effective) { e.RetryLimit = 0 }),
		},
		"jitter 0 on the job wins over the queue's jitter": {
			job:   jobWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{JitterPercent: i32(0)})}),
			queue: queueWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{JitterPercent: i32(50)})}),
			want:  defaults(),
		},
		"handler jitter over the queue's": {
			handler: handlerWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{JitterPercent: i32(15)})}),
			queue:   queueWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{JitterPercent: i32(50)})}),
			want:    with(func(e *Effective) { e.Backoff.JitterPercent = 15 }),
		},
		"type Fixed from the job: the queue's factor is unused and reported as 1": {
			job:   jobWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffFixed})}),
			queue: queueWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffExponential, Factor: i32(3)})}),
			want: with(func(e *Effective) {
				e.Backoff.Type = kickqv1alpha1.BackoffFixed
				e.Backoff.Factor = 1
			}),
		},
		"type Linear from the handler: factor reported as 1": {
			handler: handlerWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffLinear})}),
			want: with(func(e *Effective) {
				e.Backoff.Type = kickqv1alpha1.BackoffLinear
				e.Backoff.Factor = 1
			}),
		},
		"type Exponential from the job, factor from the handler": {
			job:     jobWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffExponential})}),
			handler: handlerWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffExponential, Factor: i32(4)})}),
			queue:   queueWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffLinear})}),
			want:    with(func(e *Effective) { e.Backoff.Factor = 4 }),
		},
		"type Exponential over a Linear queue, no factor anywhere: default factor": {
			job:   jobWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffExponential})}),
			queue: queueWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{Type: kickqv1alpha1.BackoffLinear})}),
			want:  defaults(),
		},
		"maxSeconds below the job's baseSeconds is raised to it (default max)": {
			job: jobWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{BaseSeconds: i32(900)})}),
			want: with(func(e *Effective) {
				e.Backoff.BaseSeconds = 900
				e.Backoff.MaxSeconds = 900
			}),
		},
		"maxSeconds from the queue below the job's baseSeconds is raised to it": {
			job:   jobWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{BaseSeconds: i32(120)})}),
			queue: queueWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{BaseSeconds: i32(5), MaxSeconds: i32(60)})}),
			want: with(func(e *Effective) {
				e.Backoff.BaseSeconds = 120
				e.Backoff.MaxSeconds = 120
			}),
		},
		"maxSeconds below the default baseSeconds is raised to it": {
			handler: handlerWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{MaxSeconds: i32(3)})}),
			want:    with(func(e *Effective) { e.Backoff.MaxSeconds = 10 }),
		},
		"maxSeconds equal to baseSeconds is kept": {
			job: jobWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, &kickqv1alpha1.Backoff{BaseSeconds: i32(60), MaxSeconds: i32(60)})}),
			want: with(func(e *Effective) {
				e.Backoff.BaseSeconds = 60
				e.Backoff.MaxSeconds = 60
			}),
		},
		"rules: the job's list wins whole, not merged": {
			job:     jobWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, nil, dieOn(2))}),
			handler: handlerWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, nil, dieOn(3), retryOnCondition("A"))}),
			queue:   queueWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, nil, dieOn(4), retryOnCondition("B"), dieOn(5))}),
			want:    with(func(e *Effective) { e.Rules = []kickqv1alpha1.RetryRule{dieOn(2)} }),
		},
		"rules: an empty job list falls through to the handler's": {
			job:     jobWith(kickqv1alpha1.JobPolicies{Retry: &kickqv1alpha1.RetryPolicy{Rules: []kickqv1alpha1.RetryRule{}}}),
			handler: handlerWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, nil, dieOn(3), retryOnCondition("A"))}),
			queue:   queueWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, nil, dieOn(4))}),
			want:    with(func(e *Effective) { e.Rules = []kickqv1alpha1.RetryRule{dieOn(3), retryOnCondition("A")} }),
		},
		"rules: nil handler, the queue's list": {
			job:   jobWith(kickqv1alpha1.JobPolicies{Retry: retry(i32(1), nil)}),
			queue: queueWith(kickqv1alpha1.JobPolicies{Retry: retry(nil, nil, dieOn(4), retryOnCondition("B"))}),
			want: with(func(e *Effective) {
				e.RetryLimit = 1
				e.Rules = []kickqv1alpha1.RetryRule{dieOn(4), retryOnCondition("B")}
			}),
		},
		"rules: none anywhere is nil": {
			job:     jobWith(kickqv1alpha1.JobPolicies{Retry: retry(i32(1), nil)}),
			handler: handlerWith(kickqv1alpha1.JobPolicies{Retry: retry(i32(2), nil)}),
			queue:   queueWith(kickqv1alpha1.JobPolicies{Retry: retry(i32(3), nil)}),
			want:    with(func(e *Effective) { e.RetryLimit = 1 }),
		},
		"deadlines: each from its own layer": {
			job:     jobWith(kickqv1alpha1.JobPolicies{HeartbeatTimeoutSeconds: i32(30)}),
			handler: handlerWith(kickqv1alpha1.JobPolicies{AttemptDeadlineSeconds: i32(60)}),
			queue:   queueWith(kickqv1alpha1.JobPolicies{ActiveDeadlineSeconds: i32(3600), AttemptDeadlineSeconds: i32(300)}),
			want: with(func(e *Effective) {
				e.AttemptDeadlineSeconds = i32(60)
				e.ActiveDeadlineSeconds = i32(3600)
				e.HeartbeatTimeoutSeconds = i32(30)
			}),
		},
		"deadlines: the job's over the queue's, nil handler": {
			job:   jobWith(kickqv1alpha1.JobPolicies{AttemptDeadlineSeconds: i32(10), ActiveDeadlineSeconds: i32(20)}),
			queue: queueWith(kickqv1alpha1.JobPolicies{AttemptDeadlineSeconds: i32(300), ActiveDeadlineSeconds: i32(3600), HeartbeatTimeoutSeconds: i32(120)}),
			want: with(func(e *Effective) {
				e.AttemptDeadlineSeconds = i32(10)
				e.ActiveDeadlineSeconds = i32(20)
				e.HeartbeatTimeoutSeconds = i32(120)
			}),
		},
		"deadlines: the handler's over the queue's, nil job": {
			handler: handlerWith(kickqv1alpha1.JobPolicies{ActiveDeadlineSeconds: i32(99)}),
			queue:   queueWith(kickqv1alpha1.JobPolicies{ActiveDeadlineSeconds: i32(3600)}),
			want:    with(func(e *Effective) { e.ActiveDeadlineSeconds = i32(99) }),
		},
		"deadlines: none set anywhere stay nil": {
			job:     jobWith(kickqv1alpha1.JobPolicies{Retry: retry(i32(2), nil)}),
			handler: handlerWith(kickqv1alpha1.JobPolicies{}),
			queue:   queueWith(kickqv1alpha1.JobPolicies{}),
			want:    with(func(e *Effective) { e.RetryLimit = 2 }),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Resolve(tc.job, tc.handler, tc.queue)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Resolve() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResolveSharesNoMemory checks that changing the inputs after Resolve, as a later informer
// update or a careless caller might, leaves the result alone, and that the result's changes do not
// reach the inputs.
func TestResolveSharesNoMemory(t *testing.T) {
	cases := map[string]struct {
		job     *kickqv1alpha1.QueueJobSpec
		handler *kickqv1alpha1.HandlerSpec
		queue   *kickqv1alpha1.QueueSpec
	}{
		"from the job": {
			job: jobWith(kickqv1alpha1.JobPolicies{
				Retry:                  retry(nil, nil, dieOn(2, 3)),
				AttemptDeadlineSeconds: i32(5), ActiveDeadlineSeconds: i32(6), HeartbeatTimeoutSeconds: i32(7),
			}),
		},
		"from the handler": {
			handler: handlerWith(kickqv1alpha1.JobPolicies{
				Retry:                  retry(nil, nil, dieOn(2, 3)),
				AttemptDeadlineSeconds: i32(5), ActiveDeadlineSeconds: i32(6), HeartbeatTimeoutSeconds: i32(7),
			}),
		},
		"from the queue": {
			queue: queueWith(kickqv1alpha1.JobPolicies{
				Retry:                  retry(nil, nil, dieOn(2, 3)),
				AttemptDeadlineSeconds: i32(5), ActiveDeadlineSeconds: i32(6), HeartbeatTimeoutSeconds: i32(7),
			}),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			layer := func() *kickqv1alpha1.JobPolicies {
				switch {
				case tc.job != nil:
					return &tc.job.JobPolicies
				case tc.handler != nil:
					return &tc.handler.JobPolicies
				default:
					return tc.queue.Defaults
				}
			}()
			before := *layer.DeepCopy()

			got := Resolve(tc.job, tc.handler, tc.queue)
			want := Effective{
				RetryLimit: got.RetryLimit, Backoff: got.Backoff,
				Rules:                  []kickqv1alpha1.RetryRule{dieOn(2, 3)},
				AttemptDeadlineSeconds: i32(5), ActiveDeadlineSeconds: i32(6), HeartbeatTimeoutSeconds: i32(7),
			}

			// Changing the input leaves the result alone.
			layer.Retry.Rules[0].Action = kickqv1alpha1.RetryActionCount
			layer.Retry.Rules[0].OnExitCodes.Values[0] = 99
			*layer.AttemptDeadlineSeconds = 50
			*layer.ActiveDeadlineSeconds = 60
			*layer.HeartbeatTimeoutSeconds = 70
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("result changed with its input (-want +got):\n%s", diff)
			}

			// Changing the result leaves the input alone.
			*layer = *before.DeepCopy()
			again := Resolve(tc.job, tc.handler, tc.queue)
			again.Rules[0].Action = kickqv1alpha1.RetryActionRetry
			again.Rules[0].OnExitCodes.Values[1] = 98
			*again.AttemptDeadlineSeconds = 51
			*again.ActiveDeadlineSeconds = 61
			*again.HeartbeatTimeoutSeconds = 71
			if diff := cmp.Diff(before, *layer); diff != "" {
				t.Errorf("input changed with the result (-want +got):\n%s", diff)
			}
		})
	}
}

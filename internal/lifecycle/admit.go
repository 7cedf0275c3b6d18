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
	"kickq.dev/kickq/internal/admission"
)

// Admit completes a decision whose Action was AwaitAdmission with admission's answer: the attempt
// starts (recorded in status first, or by its own side effect: StartRecordedBySideEffect), or the job waits Pending with a Blocked condition naming the
// limit.
func Admit(res Result, in Input, d admission.Decision) Result {
	if !d.Admitted {
		refused(&res, in, d)
		return res
	}
	now := in.Now
	// The start is admission's reservation instant: the rate windows count it from there (or
	// later, once its side effect is made), so the starts status records keep the limit too.
	start := now
	if !d.At.IsZero() {
		start = d.At
	}
	n := recordStart(&res, in, start)
	deferStart(&res, in, start)
	res.Action, res.Attempt = Start, n
	if eff := res.Target.AttemptDeadlineSeconds; eff != nil {
		res.requeue(now.Add(seconds(*eff)))
	}
	return res
}

// refused keeps a job that admission did not admit Pending: Blocked when a limit holds it,
// waiting for its turn when other jobs come first.
func refused(res *Result, in Input, d admission.Decision) {
	st := &res.Status
	res.Action = None
	st.Phase = kickqv1alpha1.PhasePending
	st.Message = message(d.Message)
	switch d.Reason {
	case admission.ReasonPaused, admission.ReasonConcurrency, admission.ReasonRate,
		admission.ReasonKeyConcurrency, admission.ReasonKeyRate, admission.ReasonKeyPaused:
		setBlocked(st, in.Now, true, string(d.Reason), d.Message)
	default:
		setBlocked(st, in.Now, false, "", "")
		if st.Message == "" {
			st.Message = "waiting for its turn in the queue"
		}
	}
	if !d.RetryAt.IsZero() {
		res.requeue(d.RetryAt)
	}
}

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
	"strings"
	"testing"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
)

// TestAnAttemptIsPinnedToItsTarget: an attempt records the kind of target and the handler it
// started on; when it must be started again (its run not seen, e.g. after a restart) while its
// handler now names another target, it fails instead of running a second time elsewhere.
func TestAnAttemptIsPinnedToItsTarget(t *testing.T) {
	podHandler := &QueueView{Spec: &kickqv1alpha1.QueueSpec{Handlers: []kickqv1alpha1.Handler{{Type: "email",
		HandlerSpec: kickqv1alpha1.HandlerSpec{Pod: podTemplate()}}}}}
	hookHandler := &QueueView{Spec: &kickqv1alpha1.QueueSpec{Handlers: []kickqv1alpha1.Handler{{Type: "email",
		HandlerSpec: kickqv1alpha1.HandlerSpec{Webhook: &kickqv1alpha1.WebhookTarget{URL: "https://mail.example/jobs"}}}}}}
	noHandler := &QueueView{Spec: &kickqv1alpha1.QueueSpec{}}
	pinned := runningStatus(1, t0).Record(kickqv1alpha1.AttemptRecord{Number: 1, StartTime: mtime(t0), PodName: "j-1",
		TargetKind: "Pod", Handler: "email"})
	job := makeJob().NoTarget().Type("email").Status(pinned).Obj()
	missing := attempt.Observation{Phase: attempt.Missing}

	for _, tc := range []struct {
		name       string
		queue      *QueueView
		wantAction Action
		wantReason string // of attempt 1's record, when it ended
	}{
		{name: "same handler: started again (idempotent)", queue: podHandler, wantAction: Start},
		{name: "handler turned into a webhook: the attempt fails, no call", queue: hookHandler, wantReason: kickqv1alpha1.AttemptReasonHandlerChanged},
		{name: "handler removed: the attempt fails, not wedged", queue: noHandler, wantReason: kickqv1alpha1.AttemptReasonHandlerChanged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Decide(Input{Job: job, Queue: *tc.queue, Current: missing, Settled: true, Now: at(5)})
			if res.Action != tc.wantAction {
				t.Errorf("action %q, want %q", res.Action, tc.wantAction)
			}
			rec := attemptRecord(&res.Status, 1)
			if tc.wantReason == "" {
				if rec.FinishTime != nil {
					t.Errorf("attempt 1 ended: %+v", rec)
				}
				return
			}
			if rec.Reason != tc.wantReason || rec.Outcome != kickqv1alpha1.OutcomeFail || !strings.Contains(rec.Message, `started on Pod "email"`) {
				t.Errorf("attempt 1 record %+v, want a counted %s failure naming where it started", rec, tc.wantReason)
			}
			if res.Status.FailedAttempts != 1 || res.Status.Phase != kickqv1alpha1.PhaseDelayed {
				t.Errorf("failed %d phase %s, want 1 counted failure and a backoff", res.Status.FailedAttempts, res.Status.Phase)
			}
		})
	}
}

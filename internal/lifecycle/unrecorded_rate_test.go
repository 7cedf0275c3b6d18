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
	"testing"

	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
)

// TestStartRecordedBySideEffect: a webhook call that any rate window counts — the queue's, its
// handler's, or a per-key one — is recorded before it is sent; other calls and pods are not.
func TestStartRecordedBySideEffect(t *testing.T) {
	rate := &kickqv1alpha1.RateLimit{Limit: 10, PeriodSeconds: 60}
	keyRate := &kickqv1alpha1.KeyLimits{RateLimit: rate}
	keyConc := &kickqv1alpha1.KeyLimits{Concurrency: ptr.To[int32](1)}
	hook := func(h string) attempt.Target { return attempt.Target{Kind: attempt.KindWebhook, Handler: h} }
	cases := map[string]struct {
		spec *kickqv1alpha1.QueueSpec
		t    attempt.Target
		want bool
	}{
		"pod under a rate limit":            {&kickqv1alpha1.QueueSpec{RateLimit: rate}, attempt.Target{Kind: attempt.KindPod}, true},
		"webhook, no queue":                 {nil, hook(""), true},
		"webhook, no limits":                {&kickqv1alpha1.QueueSpec{}, hook(""), true},
		"webhook, queue rate":               {&kickqv1alpha1.QueueSpec{RateLimit: rate}, hook("mail"), false},
		"webhook, queue key rate":           {&kickqv1alpha1.QueueSpec{KeyLimits: keyRate}, hook("mail"), false},
		"webhook, queue key concurrency":    {&kickqv1alpha1.QueueSpec{KeyLimits: keyConc}, hook("mail"), true},
		"webhook, handler key rate":         {&kickqv1alpha1.QueueSpec{Handlers: []kickqv1alpha1.Handler{{Type: "mail", HandlerSpec: kickqv1alpha1.HandlerSpec{KeyLimits: keyRate}}}}, hook("mail"), false},
		"webhook, other handler key rate":   {&kickqv1alpha1.QueueSpec{Handlers: []kickqv1alpha1.Handler{{Type: "sms", HandlerSpec: kickqv1alpha1.HandlerSpec{KeyLimits: keyRate}}}}, hook("mail"), true},
		"webhook, default handler key rate": {&kickqv1alpha1.QueueSpec{DefaultHandler: &kickqv1alpha1.HandlerSpec{KeyLimits: keyRate}}, hook(""), false},
		"worker":                            {&kickqv1alpha1.QueueSpec{}, attempt.Target{Kind: attempt.KindWorker}, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := StartRecordedBySideEffect(QueueView{Spec: tc.spec}, tc.t); got != tc.want {
				t.Errorf("StartRecordedBySideEffect = %v, want %v", got, tc.want)
			}
		})
	}
}

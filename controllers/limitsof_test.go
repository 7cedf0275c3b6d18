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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
)

func TestLimitsOf(t *testing.T) {
	cases := []struct {
		name string
		spec *kickqv1alpha1.QueueSpec
		want admission.Limits
	}{{
		name: "the implicit queue has no limits",
		spec: nil,
		want: admission.Limits{},
	}, {
		name: "a queue without limits",
		spec: &kickqv1alpha1.QueueSpec{},
		want: admission.Limits{Handlers: map[string]admission.HandlerLimits{}},
	}, {
		name: "queue limits",
		spec: &kickqv1alpha1.QueueSpec{Paused: ptr.To(true), Concurrency: ptr.To[int32](5),
			RateLimit: &kickqv1alpha1.RateLimit{Limit: 20, PeriodSeconds: 60}},
		want: admission.Limits{Paused: true, Concurrency: 5, Rate: &admission.RateLimit{Limit: 20, Period: time.Minute},
			Handlers: map[string]admission.HandlerLimits{}},
	}, {
		name: "paused: false is not paused",
		spec: &kickqv1alpha1.QueueSpec{Paused: ptr.To(false)},
		want: admission.Limits{Handlers: map[string]admission.HandlerLimits{}},
	}, {
		name: "handlers with limits, by type; the default handler under the empty key; handlers without limits left out",
		spec: &kickqv1alpha1.QueueSpec{
			Handlers: []kickqv1alpha1.Handler{
				{Type: "email", HandlerSpec: kickqv1alpha1.HandlerSpec{Concurrency: ptr.To[int32](2)}},
				{Type: "sms", HandlerSpec: kickqv1alpha1.HandlerSpec{RateLimit: &kickqv1alpha1.RateLimit{Limit: 1, PeriodSeconds: 1}}},
				{Type: "*", HandlerSpec: kickqv1alpha1.HandlerSpec{Concurrency: ptr.To[int32](1),
					RateLimit: &kickqv1alpha1.RateLimit{Limit: 3, PeriodSeconds: 3600}}},
				{Type: "free"},
			},
			DefaultHandler: &kickqv1alpha1.HandlerSpec{Concurrency: ptr.To[int32](7)},
		},
		want: admission.Limits{Handlers: map[string]admission.HandlerLimits{
			"email": {Concurrency: 2},
			"sms":   {Rate: &admission.RateLimit{Limit: 1, Period: time.Second}},
			"*":     {Concurrency: 1, Rate: &admission.RateLimit{Limit: 3, Period: time.Hour}},
			"":      {Concurrency: 7},
		}},
	}, {
		name: "a default handler without limits is left out",
		spec: &kickqv1alpha1.QueueSpec{DefaultHandler: &kickqv1alpha1.HandlerSpec{}},
		want: admission.Limits{Handlers: map[string]admission.HandlerLimits{}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, LimitsOf(tc.spec)); diff != "" {
				t.Errorf("LimitsOf (-want +got):\n%s", diff)
			}
		})
	}
}

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

package kickq

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

func TestJobQueueJob(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		job     Job
		want    *kickqv1alpha1.QueueJob
		wantErr string
	}{
		"every field": {
			job: Job{Namespace: "shop", Name: "welcome-42", Queue: "mail", Type: "email",
				Data: map[string]any{"to": "a@b.c"}, Priority: 10, Delay: 1500 * time.Millisecond,
				Key: "customer-42", Batch: "import-1", Labels: map[string]string{"user-id": "42"}},
			want: &kickqv1alpha1.QueueJob{
				ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "welcome-42", Labels: map[string]string{"user-id": "42"}},
				Spec: kickqv1alpha1.QueueJobSpec{QueueName: "mail", Type: "email",
					Data:     &apiextensionsv1.JSON{Raw: []byte(`{"to":"a@b.c"}`)},
					Priority: ptr.To[int32](10), DelaySeconds: ptr.To[int32](2), Key: "customer-42", Batch: "import-1"},
			},
		},
		"generated name from the type, not-before rounded up": {
			job: Job{Namespace: "shop", Type: "email", NotBefore: at.Add(time.Millisecond)},
			want: &kickqv1alpha1.QueueJob{
				ObjectMeta: metav1.ObjectMeta{Namespace: "shop", GenerateName: "email-"},
				Spec:       kickqv1alpha1.QueueJobSpec{Type: "email", NotBeforeTime: ptr.To(metav1.NewTime(at.Add(time.Second)))},
			},
		},
		"generated name without a type; raw JSON data; nil map is no data": {
			job: Job{Namespace: "shop", Data: json.RawMessage(` { "a" : 1 } `)},
			want: &kickqv1alpha1.QueueJob{
				ObjectMeta: metav1.ObjectMeta{Namespace: "shop", GenerateName: "job-"},
				Spec:       kickqv1alpha1.QueueJobSpec{Data: &apiextensionsv1.JSON{Raw: []byte(`{"a":1}`)}},
			},
		},
		"nil map": {
			job:  Job{Namespace: "shop", GenerateName: "x-", Data: map[string]any(nil)},
			want: &kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", GenerateName: "x-"}},
		},
		"array data":         {job: Job{Namespace: "shop", Data: []int{1}}, wantErr: "must marshal to a JSON object, not an array"},
		"string data":        {job: Job{Namespace: "shop", Data: "x"}, wantErr: "not a string"},
		"number data":        {job: Job{Namespace: "shop", Data: 3}, wantErr: "not a number"},
		"raw array":          {job: Job{Namespace: "shop", Data: json.RawMessage("[]")}, wantErr: "not an array"},
		"unmarshalable data": {job: Job{Namespace: "shop", Data: map[string]any{"f": func() {}}}, wantErr: "encoding Job.Data"},
		"no namespace":       {job: Job{Name: "a"}, wantErr: "Namespace is required"},
		"delay and not-before": {
			job: Job{Namespace: "shop", Delay: time.Second, NotBefore: at}, wantErr: "at most one of Job.Delay and Job.NotBefore",
		},
		"negative delay":      {job: Job{Namespace: "shop", Delay: -time.Second}, wantErr: "Job.Delay must be between"},
		"delay over one year": {job: Job{Namespace: "shop", Delay: 366 * 24 * time.Hour}, wantErr: "Job.Delay must be between"},
		"key with a space":    {job: Job{Namespace: "shop", Key: "acme corp"}, wantErr: `Job.Key "acme corp"`},
		"key over 63 characters": {
			job: Job{Namespace: "shop", Key: strings.Repeat("k", 64)}, wantErr: "must be no more than 63 bytes",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := tc.job.queueJob()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("QueueJob (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSpecMismatch(t *testing.T) {
	base := Job{Namespace: "shop", Name: "a", Type: "email", Data: map[string]any{"to": "a", "n": 1}, Delay: time.Minute, Batch: "b"}
	cases := map[string]struct {
		existing Job
		want     []string
	}{
		"same request, data keys reordered and queue defaulted": {
			existing: Job{Namespace: "shop", Name: "a", Queue: "default", Type: "email", Data: json.RawMessage(`{"n":1,"to":"a"}`), Delay: time.Minute, Batch: "b"},
		},
		"priority and labels may change": {
			existing: Job{Namespace: "shop", Name: "a", Type: "email", Data: map[string]any{"to": "a", "n": 1}, Delay: time.Minute, Batch: "b",
				Priority: 5, Labels: map[string]string{"x": "y"}},
		},
		"everything differs": {
			existing: Job{Namespace: "shop", Name: "a", Queue: "q", Type: "sms", Data: map[string]any{"to": "b"},
				NotBefore: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Key: "acme"},
			want: []string{"spec.queueName", "spec.type", "spec.data", "spec.delaySeconds", "spec.notBeforeTime", "spec.key", "spec.batch"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w, err := base.queueJob()
			if err != nil {
				t.Fatal(err)
			}
			e, err := tc.existing.queueJob()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, specMismatch(w, e)); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnqueueExistingName(t *testing.T) {
	ctx := context.Background()
	c := NewClientFrom(fake.NewClientBuilder().WithScheme(NewScheme()).Build())
	first, err := c.Enqueue(ctx, Job{Namespace: "shop", Name: "a", Type: "email", Data: map[string]string{"to": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Enqueue(ctx, Job{Namespace: "shop", Name: "a", Type: "email", Data: map[string]string{"to": "x"}})
	if err != nil || again.UID != first.UID {
		t.Fatalf("second Enqueue = %v, %v; want the first job", again, err)
	}
	other, err := c.Enqueue(ctx, Job{Namespace: "shop", Name: "a", Type: "email", Data: map[string]string{"to": "y"}})
	var mismatch *SpecMismatchError
	if !errors.As(err, &mismatch) || other == nil || other.UID != first.UID {
		t.Fatalf("Enqueue with other data = %v, %v; want the first job and a SpecMismatchError", other, err)
	}
	if diff := cmp.Diff([]string{"spec.data"}, mismatch.Fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

func TestEnqueueSchemeWithoutKickq(t *testing.T) {
	c := NewClientFrom(fake.NewClientBuilder().Build()) // client-go's scheme only
	if _, err := c.Enqueue(context.Background(), Job{Namespace: "shop", Type: "email"}); err == nil || !strings.Contains(err.Error(), "AddToScheme") {
		t.Fatalf("Enqueue error = %v, want one naming AddToScheme", err)
	}
}

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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// maxDelay is the largest spec.delaySeconds the API accepts (a year).
const maxDelay = 31536000 * time.Second

// Job describes a job to enqueue: the QueueJob that Enqueue creates.
type Job struct {
	// Namespace is the job's namespace (required).
	Namespace string
	// Name is the job's name. Set, it makes Enqueue idempotent (see Enqueue); empty, the API
	// server generates a name from GenerateName.
	Name string
	// GenerateName is the prefix of a generated name when Name is empty; default the Type and a
	// dash, or "job-" without a Type.
	GenerateName string

	// Queue is the Queue the job runs in (spec.queueName); empty means "default".
	Queue string
	// Type chooses the queue's handler for the job (spec.type).
	Type string
	// Data is handed to the job's worker (spec.data): any value that encoding/json marshals to a
	// JSON object. nil means no data.
	Data any
	// Priority orders the queue's ready jobs, higher first (spec.priority).
	Priority int32
	// Delay holds the job this long after its creation (spec.delaySeconds, rounded up to whole
	// seconds, at most a year). Exclusive with NotBefore.
	Delay time.Duration
	// NotBefore holds the job until this time (spec.notBeforeTime, rounded up to a whole second).
	// Exclusive with Delay.
	NotBefore time.Time
	// Key is what the job is limited and shared fairly by: a customer, tenant or account
	// (spec.key; label-value syntax, at most 63 characters). The queue's and its handler's
	// keyLimits apply to each distinct key, and within one priority the queue takes keys in turn,
	// so that a key with many jobs does not starve one with few (docs/lifecycle.md). Empty: the
	// job belongs to the key-less group, bound only by the queue's and handler's limits.
	Key string
	// Batch groups jobs (spec.batch, mirrored to the label kickq.dev/batch).
	Batch string
	// Labels are the job's own labels (user-id: "42"), for selecting jobs.
	Labels map[string]string
}

// Enqueue creates the QueueJob of j and returns it as the API server stored it. With j.Name set,
// a job of that name that already exists is returned instead of an AlreadyExists error; if it
// differs from j in a field fixed at creation (queue, type, data, delay, not-before time, key,
// batch),
// Enqueue returns it unchanged together with a *SpecMismatchError. Errors of the API server
// (validation, RBAC) are wrapped, so apierrors' Is... functions work on them.
func (c *Client) Enqueue(ctx context.Context, j Job) (*kickqv1alpha1.QueueJob, error) {
	want, err := j.queueJob()
	if err != nil {
		return nil, err
	}
	if err := c.checkScheme(); err != nil {
		return nil, err
	}
	// A job deleted between our create's AlreadyExists and our read is created again; a name that
	// keeps appearing and vanishing ends after a few tries.
	for range 3 {
		job := want.DeepCopy()
		err := c.client.Create(ctx, job)
		if err == nil {
			return job, nil
		}
		if want.Name == "" || !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("kickq: enqueuing job %s: %w", j.describe(), err)
		}
		existing := &kickqv1alpha1.QueueJob{}
		err = c.client.Get(ctx, client.ObjectKeyFromObject(want), existing)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("kickq: reading existing job %s: %w", j.describe(), err)
		}
		if fields := specMismatch(want, existing); len(fields) > 0 {
			return existing, &SpecMismatchError{Job: existing, Fields: fields}
		}
		return existing, nil
	}
	return nil, fmt.Errorf("kickq: enqueuing job %s: it exists at every create and is gone at every read", j.describe())
}

func (j Job) describe() string {
	name := j.Name
	if name == "" {
		name = "(generated name)"
	}
	return j.Namespace + "/" + name
}

// queueJob builds the QueueJob of j, refusing what the API server would refuse less clearly.
func (j Job) queueJob() (*kickqv1alpha1.QueueJob, error) {
	if j.Namespace == "" {
		return nil, errors.New("kickq: Job.Namespace is required")
	}
	if j.Delay != 0 && !j.NotBefore.IsZero() {
		return nil, errors.New("kickq: set at most one of Job.Delay and Job.NotBefore")
	}
	if j.Delay < 0 || j.Delay > maxDelay {
		return nil, fmt.Errorf("kickq: Job.Delay must be between 0 and %s, got %s", maxDelay, j.Delay)
	}
	if errs := validation.IsValidLabelValue(j.Key); len(errs) > 0 {
		return nil, fmt.Errorf("kickq: Job.Key %q: %s", j.Key, strings.Join(errs, "; "))
	}
	data, err := marshalData(j.Data)
	if err != nil {
		return nil, err
	}
	job := &kickqv1alpha1.QueueJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: j.Namespace, Name: j.Name, Labels: maps.Clone(j.Labels)},
		Spec: kickqv1alpha1.QueueJobSpec{
			QueueName: j.Queue,
			Type:      j.Type,
			Data:      data,
			Key:       j.Key,
			Batch:     j.Batch,
		},
	}
	if j.Name == "" {
		job.GenerateName = generateName(j)
	}
	if j.Priority != 0 {
		job.Spec.Priority = ptr.To(j.Priority)
	}
	if j.Delay > 0 {
		job.Spec.DelaySeconds = ptr.To(int32(math.Ceil(j.Delay.Seconds())))
	}
	if !j.NotBefore.IsZero() {
		job.Spec.NotBeforeTime = ptr.To(metav1.NewTime(ceilSecond(j.NotBefore)))
	}
	return job, nil
}

func generateName(j Job) string {
	switch {
	case j.GenerateName != "":
		return j.GenerateName
	case j.Type != "":
		return j.Type + "-"
	default:
		return "job-"
	}
}

// ceilSecond rounds t up to a whole second: the API keeps whole seconds, and a job must not
// start before the time asked for.
func ceilSecond(t time.Time) time.Time {
	if s := t.Truncate(time.Second); !s.Equal(t) {
		return s.Add(time.Second)
	}
	return t
}

// marshalData encodes a job's data, which must be a JSON object; nil (or what marshals to null)
// is no data.
func marshalData(v any) (*apiextensionsv1.JSON, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("kickq: encoding Job.Data: %w", err)
	}
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil, nil
	}
	if b[0] != '{' {
		return nil, fmt.Errorf("kickq: Job.Data must marshal to a JSON object, not %s (%T): wrap it, as in map[string]any{\"items\": v}", jsonKind(b), v)
	}
	return &apiextensionsv1.JSON{Raw: b}, nil
}

func jsonKind(b []byte) string {
	switch b[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number"
	}
}

// specMismatch names the fields fixed at creation in which existing differs from want.
func specMismatch(want, existing *kickqv1alpha1.QueueJob) []string {
	w, e := want.Spec, existing.Spec
	var fields []string
	if queueName(w.QueueName) != queueName(e.QueueName) {
		fields = append(fields, "spec.queueName")
	}
	if w.Type != e.Type {
		fields = append(fields, "spec.type")
	}
	if !sameJSON(w.Data, e.Data) {
		fields = append(fields, "spec.data")
	}
	if !ptr.Equal(w.DelaySeconds, e.DelaySeconds) {
		fields = append(fields, "spec.delaySeconds")
	}
	if !sameTime(w.NotBeforeTime, e.NotBeforeTime) {
		fields = append(fields, "spec.notBeforeTime")
	}
	if w.Key != e.Key {
		fields = append(fields, "spec.key")
	}
	if w.Batch != e.Batch {
		fields = append(fields, "spec.batch")
	}
	return fields
}

func queueName(q string) string {
	if q == "" {
		return kickqv1alpha1.DefaultQueueName
	}
	return q
}

// sameJSON compares JSON values, not their spelling (the API server reorders object keys).
func sameJSON(a, b *apiextensionsv1.JSON) bool {
	if a == nil || b == nil {
		return (a == nil || string(a.Raw) == "null") && (b == nil || string(b.Raw) == "null")
	}
	var va, vb any
	if json.Unmarshal(a.Raw, &va) != nil || json.Unmarshal(b.Raw, &vb) != nil {
		return bytes.Equal(a.Raw, b.Raw)
	}
	return reflect.DeepEqual(va, vb)
}

func sameTime(a, b *metav1.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Time.Equal(b.Time)
}

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

package cachetransform

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/limits"
)

// data is a JSON string of n bytes.
func data(n int) *apiextensionsv1.JSON {
	raw := bytes.Repeat([]byte("a"), n)
	raw[0], raw[n-1] = '"', '"'
	return &apiextensionsv1.JSON{Raw: raw}
}

var managed = []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}

func job(d *apiextensionsv1.JSON) *kickqv1alpha1.QueueJob {
	return &kickqv1alpha1.QueueJob{
		ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", ManagedFields: managed},
		Spec:       kickqv1alpha1.QueueJobSpec{QueueName: "q", Type: "t", Data: d},
	}
}

// finished is the status of a job that ended with the given condition, with what status holds.
func finished(cond string) kickqv1alpha1.QueueJobStatus {
	phase := kickqv1alpha1.PhaseSucceeded
	if cond == kickqv1alpha1.JobFailed {
		phase = kickqv1alpha1.PhaseFailed
	}
	return kickqv1alpha1.QueueJobStatus{
		Conditions: []metav1.Condition{{Type: cond, Status: metav1.ConditionTrue, Reason: "Done", Message: "attempt 1: done"}},
		Phase:      phase, Reason: "Done", Message: "attempt 1: done", Attempts: 1,
		Result:         &apiextensionsv1.JSON{Raw: []byte(`{"ok":true}`)},
		Logs:           []kickqv1alpha1.LogEntry{{Message: "hello"}},
		Progress:       &kickqv1alpha1.Progress{Percent: 100, Message: "all done"},
		Resolved:       &kickqv1alpha1.ResolvedPolicy{Handler: "h", AttemptDeadlineSeconds: ptr(int32(60))},
		AttemptHistory: []kickqv1alpha1.AttemptRecord{{Number: 1, PodName: "a-1", TargetKind: "Pod", Reason: "Completed", Message: "pod succeeded"}},
	}
}

// trimmed is st as the cache keeps it for a finished job: no logs, progress, resolved policy or
// attempt messages, and no result unless keepResult (a callback still to carry it).
func trimmed(st kickqv1alpha1.QueueJobStatus, keepResult bool) kickqv1alpha1.QueueJobStatus {
	st = *st.DeepCopy()
	st.Logs, st.Progress, st.Resolved = nil, nil, nil
	if !keepResult {
		st.Result = nil
	}
	for i := range st.AttemptHistory {
		st.AttemptHistory[i].Message = ""
	}
	return st
}

// settled is st with its callback delivered.
func settled(st kickqv1alpha1.QueueJobStatus) kickqv1alpha1.QueueJobStatus {
	st.Notification = &kickqv1alpha1.NotificationStatus{DeliveredTime: &metav1.Time{}}
	return st
}

// withoutNotify is a job without spec.notify.
func withoutNotify(j *kickqv1alpha1.QueueJob) *kickqv1alpha1.QueueJob {
	j.Spec.Notify = nil
	return j
}

// podJob is a job with data, a pod target, a callback and a finished or unfinished status.
func podJob(st kickqv1alpha1.QueueJobStatus, keepBulk bool) *kickqv1alpha1.QueueJob {
	j := job(data(100))
	j.ManagedFields = nil
	j.Spec.Batch = "b"
	j.Spec.Notify = &kickqv1alpha1.Notify{Webhook: kickqv1alpha1.WebhookTarget{URL: "https://example.invalid/done"}}
	j.Spec.Pod = &kickqv1alpha1.PodTarget{StartDeadlineSeconds: ptr(int32(30)),
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}}
	j.Labels = map[string]string{"kickq.dev/batch": "b"}
	j.OwnerReferences = []metav1.OwnerReference{{Kind: "QueueJob", Name: "template", UID: "u"}}
	j.Status = st
	if !keepBulk {
		j.Spec.Data = nil
		j.Spec.Pod = &kickqv1alpha1.PodTarget{}
	}
	return j
}

func ptr[T any](v T) *T { return &v }

func runningWithReports() kickqv1alpha1.QueueJobStatus {
	st := finished(kickqv1alpha1.JobComplete)
	st.Conditions, st.Phase = nil, kickqv1alpha1.PhaseRunning
	return st
}

func TestTransform(t *testing.T) {
	cases := map[string]struct {
		in, want any
	}{
		"QueueJob with data over the cap: the marker of its size": {
			in: job(data(limits.MaxDataBytes + 1)),
			want: func() any {
				j := job(&apiextensionsv1.JSON{Raw: []byte(`{"kickq.dev/oversized-bytes":65537}`)})
				j.ManagedFields = nil
				return j
			}(),
		},
		"QueueJob with data at the cap: kept": {
			in:   job(data(limits.MaxDataBytes)),
			want: func() any { j := job(data(limits.MaxDataBytes)); j.ManagedFields = nil; return j }(),
		},
		"QueueJob without data: kept": {
			in:   job(nil),
			want: func() any { j := job(nil); j.ManagedFields = nil; return j }(),
		},
		"finished (Complete), callback not delivered: data, pod template, logs, progress, resolved, attempt messages go; result, conditions, attempts, notify, batch, labels, owners stay": {
			in:   podJob(finished(kickqv1alpha1.JobComplete), true),
			want: podJob(trimmed(finished(kickqv1alpha1.JobComplete), true), false),
		},
		"finished (Failed), callback not delivered: the result stays for its body": {
			in:   podJob(finished(kickqv1alpha1.JobFailed), true),
			want: podJob(trimmed(finished(kickqv1alpha1.JobFailed), true), false),
		},
		"finished, callback delivered: the result goes too": {
			in:   podJob(settled(finished(kickqv1alpha1.JobComplete)), true),
			want: podJob(trimmed(settled(finished(kickqv1alpha1.JobComplete)), false), false),
		},
		"finished without a callback: the result goes": {
			in:   withoutNotify(podJob(finished(kickqv1alpha1.JobComplete), true)),
			want: withoutNotify(podJob(trimmed(finished(kickqv1alpha1.JobComplete), false), false)),
		},
		"running: logs, progress, result and resolved policy kept": {
			in:   podJob(runningWithReports(), true),
			want: podJob(runningWithReports(), true),
		},
		"running: kept whole": {
			in:   podJob(kickqv1alpha1.QueueJobStatus{Phase: kickqv1alpha1.PhaseRunning, Attempts: 1}, true),
			want: podJob(kickqv1alpha1.QueueJobStatus{Phase: kickqv1alpha1.PhaseRunning, Attempts: 1}, true),
		},
		"finished cron template (e.g. Failed InvalidSpec): its spec, the model of its children, stays": {
			in: func() any {
				j := podJob(finished(kickqv1alpha1.JobFailed), true)
				j.Spec.Cron = &kickqv1alpha1.CronSpec{Schedule: "@every 1m"}
				return j
			}(),
			want: func() any {
				j := podJob(finished(kickqv1alpha1.JobFailed), true)
				j.Spec.Cron = &kickqv1alpha1.CronSpec{Schedule: "@every 1m"}
				return j
			}(),
		},
		"QueueJob applied with kubectl: last-applied-configuration goes, other annotations stay": {
			in: func() any {
				j := job(data(10))
				j.Annotations = map[string]string{LastAppliedAnnotation: `{"spec":{"data":"…"}}`, "kickq.dev/run-now": "1"}
				return j
			}(),
			want: func() any {
				j := job(data(10))
				j.ManagedFields = nil
				j.Annotations = map[string]string{"kickq.dev/run-now": "1"}
				return j
			}(),
		},
		"not a QueueJob: only managedFields go": {
			in: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", ManagedFields: managed},
				Data: map[string]string{"k": string(bytes.Repeat([]byte("x"), limits.MaxDataBytes+1))}},
			want: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"},
				Data: map[string]string{"k": string(bytes.Repeat([]byte("x"), limits.MaxDataBytes+1))}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Transform(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Transform (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMarkerRoundTrip: the lifecycle reads back the size the transform recorded.
func TestMarkerRoundTrip(t *testing.T) {
	j := job(data(1400000))
	DropOversizedData(j)
	if got := limits.DataBytes(j.Spec.Data.Raw); got != 1400000 {
		t.Errorf("DataBytes of the marker = %d, want 1400000", got)
	}
	if len(j.Spec.Data.Raw) > 64 {
		t.Errorf("marker is %d bytes, want a few", len(j.Spec.Data.Raw))
	}
}

// TestRestore: a status decided from a trimmed copy gets back, from the API server's, what the
// transform took, and keeps what the pass decided.
func TestRestore(t *testing.T) {
	full := finished(kickqv1alpha1.JobComplete)
	cases := map[string]struct {
		decided func(st *kickqv1alpha1.QueueJobStatus)
		want    func(st *kickqv1alpha1.QueueJobStatus)
	}{
		"nothing decided: the full status": {},
		"callback delivery recorded, observedGeneration moved: kept, the rest restored": {
			decided: func(st *kickqv1alpha1.QueueJobStatus) {
				st.Notification = &kickqv1alpha1.NotificationStatus{Attempts: 1}
				st.ObservedGeneration = 2
			},
			want: func(st *kickqv1alpha1.QueueJobStatus) {
				st.Notification = &kickqv1alpha1.NotificationStatus{Attempts: 1}
				st.ObservedGeneration = 2
			},
		},
		"an attempt record that ended otherwise keeps its own (empty) message": {
			decided: func(st *kickqv1alpha1.QueueJobStatus) { st.AttemptHistory[0].Reason = "Cancelled" },
			want: func(st *kickqv1alpha1.QueueJobStatus) {
				st.AttemptHistory[0].Reason, st.AttemptHistory[0].Message = "Cancelled", ""
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			j := podJob(*full.DeepCopy(), true)
			if !Trimmed(j) {
				t.Fatal("a finished job is not Trimmed")
			}
			if _, err := Transform(j); err != nil {
				t.Fatal(err)
			}
			if tc.decided != nil {
				tc.decided(&j.Status)
			}
			Restore(&j.Status, &full)
			want := *full.DeepCopy()
			if tc.want != nil {
				tc.want(&want)
			}
			if diff := cmp.Diff(want, j.Status); diff != "" {
				t.Errorf("restored status (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTrimmed(t *testing.T) {
	cron := podJob(finished(kickqv1alpha1.JobFailed), true)
	cron.Spec.Cron = &kickqv1alpha1.CronSpec{Schedule: "@every 1m"}
	cases := map[string]struct {
		job  *kickqv1alpha1.QueueJob
		want bool
	}{
		"finished":               {job: podJob(finished(kickqv1alpha1.JobComplete), true), want: true},
		"running":                {job: podJob(runningWithReports(), true)},
		"finished cron template": {job: cron},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Trimmed(tc.job); got != tc.want {
				t.Errorf("Trimmed = %v, want %v", got, tc.want)
			}
		})
	}
}

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

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// retentionQueue keeps succeeded jobs for an hour and failed ones for a minute.
func retentionQueue() *kickqv1alpha1.QueueSpec {
	return &kickqv1alpha1.QueueSpec{Retention: &kickqv1alpha1.Retention{
		Succeeded: &kickqv1alpha1.RetentionPolicy{TTLSecondsAfterFinished: ptr.To[int32](3600)},
		Failed:    &kickqv1alpha1.RetentionPolicy{TTLSecondsAfterFinished: ptr.To[int32](60)},
	}}
}

// dayAndWeek is a default retention of a day for succeeded jobs and a week for failed ones.
func dayAndWeek() *kickqv1alpha1.Retention {
	return &kickqv1alpha1.Retention{
		Succeeded: &kickqv1alpha1.RetentionPolicy{TTLSecondsAfterFinished: ptr.To[int32](86400)},
		Failed:    &kickqv1alpha1.RetentionPolicy{TTLSecondsAfterFinished: ptr.To[int32](604800)},
	}
}

// failedAt60 is a job whose first attempt died at 60 s.
func failedAt60() *statusWrapper {
	return runningStatus(1, t0).Ended(1, at(60), kickqv1alpha1.OutcomeDie, "Error", "exit 2").
		Log(at(60), "attempt 1 died: exit 2").JobFailed(at(60), kickqv1alpha1.ReasonDied, "exit 2")
}

// TestTTL: spec.ttlSecondsAfterFinished, else the queue's retention for the phase the job ended in.
func TestTTL(t *testing.T) {
	historyOnly := &kickqv1alpha1.QueueSpec{Retention: &kickqv1alpha1.Retention{
		Succeeded: &kickqv1alpha1.RetentionPolicy{HistoryLimit: ptr.To[int32](10)}}}
	for _, tc := range []struct {
		name  string
		job   *kickqv1alpha1.QueueJob
		queue *kickqv1alpha1.QueueSpec
		def   *kickqv1alpha1.Retention
		want  *int32
	}{
		{name: "spec TTL wins over the queue's retention", job: makeJob().TTL(10).Status(succeededAt60()).Obj(), queue: retentionQueue(), want: ptr.To[int32](10)},
		{name: "spec TTL 0", job: makeJob().TTL(0).Status(failedAt60()).Obj(), queue: retentionQueue(), want: ptr.To[int32](0)},
		{name: "Succeeded: the queue's retention.succeeded", job: makeJob().Status(succeededAt60()).Obj(), queue: retentionQueue(), want: ptr.To[int32](3600)},
		{name: "Failed: the queue's retention.failed", job: makeJob().Status(failedAt60()).Obj(), queue: retentionQueue(), want: ptr.To[int32](60)},
		{name: "not finished: no retention", job: makeJob().Status(runningStatus(1, t0)).Obj(), queue: retentionQueue()},
		{name: "retention without a TTL (historyLimit only): kept", job: makeJob().Status(succeededAt60()).Obj(), queue: historyOnly},
		{name: "queue without retention: kept", job: makeJob().Status(succeededAt60()).Obj(), queue: &kickqv1alpha1.QueueSpec{}},
		{name: "no queue (implicit): kept", job: makeJob().Status(succeededAt60()).Obj()},
		{name: "default retention: a queue without retention", job: makeJob().Status(succeededAt60()).Obj(), queue: &kickqv1alpha1.QueueSpec{}, def: dayAndWeek(), want: ptr.To[int32](86400)},
		{name: "default retention: the implicit queue", job: makeJob().Status(failedAt60()).Obj(), def: dayAndWeek(), want: ptr.To[int32](604800)},
		{name: "default retention: the queue's own for the phase wins", job: makeJob().Status(succeededAt60()).Obj(), queue: retentionQueue(), def: dayAndWeek(), want: ptr.To[int32](3600)},
		{name: "default retention: the queue's historyLimit-only policy wins (kept)", job: makeJob().Status(succeededAt60()).Obj(), queue: historyOnly, def: dayAndWeek()},
		{name: "default retention: the queue sets only the other phase", job: makeJob().Status(failedAt60()).Obj(), queue: historyOnly, def: dayAndWeek(), want: ptr.To[int32](604800)},
		{name: "default retention: the job's own TTL wins", job: makeJob().TTL(10).Status(succeededAt60()).Obj(), def: dayAndWeek(), want: ptr.To[int32](10)},
		{name: "default retention without a TTL for the phase: kept", job: makeJob().Status(succeededAt60()).Obj(), def: &kickqv1alpha1.Retention{Failed: dayAndWeek().Failed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, TTL(tc.job, QueueView{Spec: tc.queue, DefaultRetention: tc.def})); diff != "" {
				t.Errorf("TTL (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecideTTL deletes a finished job once its time to live has passed, or looks again then.
func TestDecideTTL(t *testing.T) {
	runDecide(t, []decideCase{
		{
			name: "spec TTL just ahead: look again when it is due",
			job:  makeJob().TTL(300).Status(succeededAt60()).Obj(), now: at(359),
			want: Result{Status: succeededAt60().Obj(), RequeueAt: at(360)},
		},
		{
			name: "spec TTL due: delete",
			job:  makeJob().TTL(300).Status(succeededAt60()).Obj(), now: at(360),
			want: Result{Status: succeededAt60().Obj(), Action: Delete},
		},
		{
			name: "spec TTL 0: deleted at once",
			job:  makeJob().TTL(0).Status(failedAt60()).Obj(), now: at(60),
			want: Result{Status: failedAt60().Obj(), Action: Delete},
		},
		{
			name: "Failed, the queue's retention.failed due: delete",
			job:  makeJob().Status(failedAt60()).Obj(), queue: &QueueView{Spec: retentionQueue()}, now: at(120),
			want: Result{Status: failedAt60().Obj(), Action: Delete},
		},
		{
			name: "Succeeded, the queue's retention.succeeded ahead: look again when it is due",
			job:  makeJob().Status(succeededAt60()).Obj(), queue: &QueueView{Spec: retentionQueue()}, now: at(120),
			want: Result{Status: succeededAt60().Obj(), RequeueAt: at(3660)},
		},
		{
			name: "spec TTL longer than the queue's retention: the spec's",
			job:  makeJob().TTL(7200).Status(failedAt60()).Obj(), queue: &QueueView{Spec: retentionQueue()}, now: at(120),
			want: Result{Status: failedAt60().Obj(), RequeueAt: at(7260)},
		},
		{
			name: "no TTL anywhere: kept",
			job:  makeJob().Status(succeededAt60()).Obj(), now: at(1e6),
			want: Result{Status: succeededAt60().Obj()},
		},
	})
}

// TestDecideTTLIgnoresCronTemplatesAndUnfinishedJobs: decideTTL never deletes a cron template,
// nor a job without a finish time.
func TestDecideTTLIgnoresCronTemplatesAndUnfinishedJobs(t *testing.T) {
	for _, tc := range []struct {
		name string
		job  *kickqv1alpha1.QueueJob
	}{
		{name: "cron template with a finish time and TTL 0", job: makeJob().Cron("@hourly").TTL(0).Status(succeededAt60()).Obj()},
		{name: "no finish time, TTL 0", job: makeJob().TTL(0).Status(runningStatus(1, t0)).Obj()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Result{Status: tc.job.Status}
			decideTTL(&res, Input{Job: tc.job, Queue: QueueView{Implicit: true}, Now: at(1e6)})
			diffResult(t, Result{Status: tc.job.Status}, res)
		})
	}
}

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

// Package cachetransform decides what the manager's cache keeps of each object it lists and
// watches. It never changes what is stored in the API server: the manager writes QueueJobs only
// through the status subresource (which ignores spec and metadata) and merge patches of labels.
//
// Of every object, managedFields go. Of a QueueJob:
//   - the kubectl.kubernetes.io/last-applied-configuration annotation goes (a second copy of the
//     whole object, spec.data included, that the manager never reads);
//   - spec.data over limits.MaxDataBytes is replaced by a marker with its size
//     (limits.OversizedDataMarker), which the lifecycle fails InvalidSpec naming spec.data;
//   - of a finished job (condition Complete or Failed true) that is not a cron template, spec.data
//     and spec.pod go but for its presence (one shared empty PodTarget): only starting and
//     running an attempt read them; the status's repeated strings are interned. Of its status, logs,
//     progress, the resolved policy (status.resolved), each attempt record's message, and the
//     result once no callback will carry it (no spec.notify, or its delivery is settled) go: the
//     lifecycle reads them only while the job runs, and the manager's other readers of finished
//     jobs do not read them (kubectl kickq and kubectl read the API server, not this cache).
//     Everything else is kept, because something reads it after the job finished: conditions
//     whole (the lifecycle's health conditions are set on every pass: a message dropped here
//     would make every pass a write), phase, reason, message, attempts and times (retention,
//     history, cron, queue statistics, metrics, admission's rate windows, notify's body, the
//     report API's attempt checks), attempt records but their messages (admission counts their
//     starts, the report API their numbers, kinds and finish times), spec.queueName, type,
//     batch, after (field indexes, dependencies, notify's body), spec.notify (the callback is
//     sent and retried after the job finished), spec.ttlSecondsAfterFinished, spec.cancel,
//     spec.pod's presence, spec.webhook and spec.worker (the target
//     kind resolves from them), and labels, annotations other than last-applied and owner
//     references (cron's children). Cron templates keep their spec whatever their status: they
//     are the model of every child.
//
// The reconciler writes status whole with an Update, so a trimmed status must never be written
// as it is: before it writes a finished job's status, it reads the job from the API server and
// puts back what was trimmed (Restore). A finished job's status is written rarely: when its
// callback's delivery is recorded, or when its spec changed (status.observedGeneration).
//
// So a flood of large jobs, the relist after a restart and thousands of finished jobs kept for
// their history cost the manager their status and a few hundred bytes each, not their data.
package cachetransform

import (
	"unique"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/lifecycle"
	"kickq.dev/kickq/internal/limits"
)

// LastAppliedAnnotation is the annotation kubectl apply keeps the applied object in.
const LastAppliedAnnotation = corev1.LastAppliedConfigAnnotation

var stripManagedFields = cache.TransformStripManagedFields()

// Transform is the manager's cache.Options.DefaultTransform: it strips managedFields from every
// object and trims QueueJobs (see the package comment). The informer hands it objects it owns,
// so it edits them in place.
func Transform(obj any) (any, error) {
	obj, err := stripManagedFields(obj)
	if err != nil {
		return obj, err
	}
	if job, ok := obj.(*kickqv1alpha1.QueueJob); ok {
		delete(job.Annotations, LastAppliedAnnotation)
		DropOversizedData(job)
		DropFinishedBulk(job)
		DropFinishedStatus(job)
	}
	return obj, nil
}

var _ toolscache.TransformFunc = Transform

// DropOversizedData replaces spec.data over limits.MaxDataBytes by the marker of its size.
func DropOversizedData(job *kickqv1alpha1.QueueJob) {
	if d := job.Spec.Data; d != nil && len(d.Raw) > limits.MaxDataBytes {
		job.Spec.Data = &apiextensionsv1.JSON{Raw: limits.OversizedDataMarker(len(d.Raw))}
	}
}

// DropFinishedBulk drops what only starting an attempt reads, spec.data and spec.pod.template,
// from a finished job that is not a cron template.
func DropFinishedBulk(job *kickqv1alpha1.QueueJob) {
	if job.Spec.Cron != nil || !lifecycle.IsFinished(&job.Status) {
		return
	}
	job.Spec.Data = nil
	if job.Spec.Pod != nil {
		// One shared, empty PodTarget for all: a PodTarget is 832 bytes with its template
		// empty, and a finished job needs only its presence (the target's kind).
		job.Spec.Pod = finishedPod
	}
	internStatus(&job.Status)
}

// finishedPod is spec.pod of every finished pod job in the cache. Cached objects are never
// modified (readers get deep copies, or read in place), so it is never written.
var finishedPod = &kickqv1alpha1.PodTarget{}

// internStatus makes the status's strings that repeat across finished jobs (condition types,
// reasons and messages, phase, reason and message, attempts' reasons) share one copy each
// (unique.Make: an entry no job uses any more is collected).
func internStatus(st *kickqv1alpha1.QueueJobStatus) {
	in := func(s string) string { return unique.Make(s).Value() }
	st.Reason, st.Message = in(st.Reason), in(st.Message)
	for i := range st.Conditions {
		c := &st.Conditions[i]
		c.Type, c.Reason, c.Message = in(c.Type), in(c.Reason), in(c.Message)
	}
	for i := range st.AttemptHistory {
		a := &st.AttemptHistory[i]
		a.Reason, a.TargetKind, a.Handler = in(a.Reason), in(a.TargetKind), in(a.Handler)
	}
}

// Trimmed reports whether the transform trims the job's status: a finished job that is not a
// cron template. Such a cached copy must be restored (Restore) before its status is written.
func Trimmed(job *kickqv1alpha1.QueueJob) bool {
	return job.Spec.Cron == nil && lifecycle.IsFinished(&job.Status)
}

// DropFinishedStatus drops from a finished job's status what no reader of a finished job needs
// (see the package comment): logs, progress, the resolved policy, attempt messages, and the
// result unless a callback still has to carry it.
func DropFinishedStatus(job *kickqv1alpha1.QueueJob) {
	if !Trimmed(job) {
		return
	}
	st := &job.Status
	st.Logs, st.Progress, st.Resolved = nil, nil, nil
	if job.Spec.Notify == nil || lifecycle.NotifySettled(st) {
		st.Result = nil
	}
	for i := range st.AttemptHistory {
		st.AttemptHistory[i].Message = ""
	}
}

// Restore puts back into st, a status decided from a trimmed cached copy, what
// DropFinishedStatus took, from full, the status the API server holds: logs, progress, the
// resolved policy and the result when st has none, and the message of each attempt record that
// has none and ended as full's record of the same number did. What st says otherwise wins.
func Restore(st, full *kickqv1alpha1.QueueJobStatus) {
	if st.Logs == nil {
		st.Logs = full.Logs
	}
	if st.Progress == nil {
		st.Progress = full.Progress
	}
	if st.Resolved == nil {
		st.Resolved = full.Resolved
	}
	if st.Result == nil {
		st.Result = full.Result
	}
	for i := range st.AttemptHistory {
		a := &st.AttemptHistory[i]
		if a.Message != "" {
			continue
		}
		for j := range full.AttemptHistory {
			f := &full.AttemptHistory[j]
			if f.Number == a.Number && f.Reason == a.Reason && f.Outcome == a.Outcome {
				a.Message = f.Message
				break
			}
		}
	}
}

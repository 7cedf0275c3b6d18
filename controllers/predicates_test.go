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

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

func TestFinishedChanged(t *testing.T) {
	succeeded := finishedJob("a", "q", kickqv1alpha1.PhaseSucceeded, epoch)
	failed := finishedJob("a", "q", kickqv1alpha1.PhaseFailed, epoch)
	running := succeeded.DeepCopy()
	running.Status = kickqv1alpha1.QueueJobStatus{Phase: kickqv1alpha1.PhaseRunning}
	pending := running.DeepCopy()
	pending.Status.Phase = kickqv1alpha1.PhasePending
	relabelled := succeeded.DeepCopy()
	relabelled.Labels = map[string]string{"x": "y"}

	updates := map[string]struct {
		old, new any
		want     bool
	}{
		"finishing":               {old: running, new: &succeeded, want: true},
		"failing":                 {old: pending, new: &failed, want: true},
		"unfinishing (a rerun)":   {old: &succeeded, new: running, want: true},
		"running on":              {old: pending, new: running, want: false},
		"a finished job's labels": {old: &succeeded, new: relabelled, want: false},
		"finished either way":     {old: &succeeded, new: &failed, want: false},
		"not a QueueJob":          {old: &corev1.Pod{}, new: &corev1.Pod{}, want: false},
	}
	for name, tc := range updates {
		e := event.UpdateEvent{}
		switch o := tc.old.(type) {
		case *kickqv1alpha1.QueueJob:
			e.ObjectOld, e.ObjectNew = o, tc.new.(*kickqv1alpha1.QueueJob)
		case *corev1.Pod:
			e.ObjectOld, e.ObjectNew = o, tc.new.(*corev1.Pod)
		}
		if got := finishedChanged.Update(e); got != tc.want {
			t.Errorf("update %s: %v, want %v", name, got, tc.want)
		}
	}
	// Creations and deletions pass: a job appearing or going away changes its dependents' answer.
	if !finishedChanged.Create(event.CreateEvent{Object: running}) {
		t.Error("a creation should pass")
	}
	if !finishedChanged.Delete(event.DeleteEvent{Object: &succeeded}) {
		t.Error("a deletion should pass")
	}
}

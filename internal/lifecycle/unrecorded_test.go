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
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
)

// TestDecideUnrecorded adopts the run of an attempt that status does not record yet (a pod, an
// unlimited webhook call made before its start was written): its start comes from the run, it is
// left unwritten while it runs within RunningWriteDelay of this manager's start, and it is
// written with its end, or at once after a restart.
func TestDecideUnrecorded(t *testing.T) {
	succeeded := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "j-1"}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded,
		ContainerStatuses: []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}}}}
	type want struct {
		Phase     kickqv1alpha1.QueueJobPhase
		Attempts  int32
		Start     time.Time
		Ready     time.Time
		Deferred  bool
		Adopted   bool
		RequeueAt time.Time
	}
	for _, tc := range []struct {
		name      string
		obs       attempt.Observation
		startedAt time.Time
		now       time.Time
		want      want
	}{
		{
			name:      "pod ended within the delay: Succeeded in one write, started at the pod's creation",
			obs:       attempt.Observation{Phase: attempt.Finished, Name: "j-1", CreatedAt: at(1), Pod: succeeded},
			startedAt: at(1).Add(300 * time.Millisecond), now: at(1).Add(800 * time.Millisecond),
			want: want{Phase: kickqv1alpha1.PhaseSucceeded, Attempts: 1, Start: at(1), Ready: t0, Adopted: true},
		},
		{
			name:      "pod running within the delay: not written, looked at again when it ends",
			obs:       attempt.Observation{Phase: attempt.Running, Name: "j-1", CreatedAt: at(1)},
			startedAt: at(1).Add(300 * time.Millisecond), now: at(1).Add(800 * time.Millisecond),
			want: want{Phase: kickqv1alpha1.PhaseRunning, Attempts: 1, Start: at(1), Ready: t0, Adopted: true, Deferred: true,
				RequeueAt: at(1).Add(1300 * time.Millisecond)},
		},
		{
			name:      "pod running past the delay: written Running",
			obs:       attempt.Observation{Phase: attempt.Running, Name: "j-1", CreatedAt: at(1)},
			startedAt: at(1).Add(300 * time.Millisecond), now: at(2).Add(300 * time.Millisecond),
			want: want{Phase: kickqv1alpha1.PhaseRunning, Attempts: 1, Start: at(1), Ready: t0, Adopted: true},
		},
		{
			name: "after a restart (this manager did not start it): written Running at once",
			obs:  attempt.Observation{Phase: attempt.NotStarted, Name: "j-1", CreatedAt: at(1)},
			now:  at(1).Add(100 * time.Millisecond),
			want: want{Phase: kickqv1alpha1.PhaseRunning, Attempts: 1, Start: at(1), Ready: t0, Adopted: true},
		},
		{
			name:      "seen and gone before it was written: adopted, and failed as lost",
			obs:       attempt.Observation{Phase: attempt.Missing, Name: "j-1", Lost: true},
			startedAt: at(1), now: at(1).Add(500 * time.Millisecond),
			want: want{Phase: kickqv1alpha1.PhaseDelayed, Attempts: 1, Start: at(1), Ready: t0, Adopted: true},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := decideCase{job: makeJob().Obj(), now: tc.now}.input()
			obs := tc.obs
			in.Unrecorded, in.StartedAt = &obs, tc.startedAt
			res := Decide(in)
			got := want{Phase: res.Status.Phase, Attempts: res.Status.Attempts, Deferred: res.Deferred, Adopted: res.Adopted, RequeueAt: res.RequeueAt}
			if rec := attemptRecord(&res.Status, 1); rec != nil && rec.StartTime != nil {
				got.Start = rec.StartTime.Time
			}
			if res.Status.ReadyTime != nil {
				got.Ready = res.Status.ReadyTime.Time
			}
			if !tc.want.Deferred {
				got.RequeueAt = time.Time{} // only a deferred pass's requeue is asserted
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Decide (-want +got):\n%s", diff)
			}
		})
	}
}

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
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
)

// t0 is the fixed time every test starts from: jobs are created at t0.
var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// at is t0 plus sec seconds.
func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// resultOpts compare Results whole: every exported field, conditions without their transition
// times (the package's unexported policy cache is not part of what a caller sees).
var resultOpts = cmp.Options{
	cmpopts.IgnoreUnexported(Result{}),
	cmpopts.IgnoreFields(metav1.Condition{}, "LastTransitionTime"),
}

func diffResult(t *testing.T, want, got Result) {
	t.Helper()
	if diff := cmp.Diff(want, got, resultOpts); diff != "" {
		t.Errorf("Result mismatch (-want +got):\n%s", diff)
	}
}

// decideCase is one Decide call: a job, what the reconciler found around it, and the whole Result.
type decideCase struct {
	name         string
	job          *kickqv1alpha1.QueueJob
	queue        *QueueView // nil: the implicit default queue
	obs          attempt.Observation
	report       *attempt.Pending
	deps         Dependencies
	notification attempt.NotifyState
	unsettled    bool
	now          time.Time
	firstSeen    time.Time // Input.FirstSeen
	exactNext    time.Time // Input.NextAttemptTime
	want         Result
}

func (tc decideCase) input() Input {
	q := QueueView{Implicit: true}
	if tc.queue != nil {
		q = *tc.queue
	}
	return Input{Job: tc.job, Queue: q, Current: tc.obs, Settled: !tc.unsettled, Deps: tc.deps, Report: tc.report,
		Notification: tc.notification, Now: tc.now, FirstSeen: tc.firstSeen, NextAttemptTime: tc.exactNext,
		RunningWriteDelay: DefaultRunningWriteDelay}
}

func runDecide(t *testing.T, cases []decideCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.job.DeepCopy()
			diffResult(t, tc.want, Decide(tc.input()))
			if diff := cmp.Diff(before, tc.job); diff != "" {
				t.Errorf("Decide changed its input job (-before +after):\n%s", diff)
			}
		})
	}
}

// jobWrapper builds test jobs: makeJob().Delay(30).Status(runningStatus(1, t0)).Obj().
// A job is named j in namespace ns, created at t0, generation 1, in queue "default", with an
// inline pod target.
type jobWrapper struct{ kickqv1alpha1.QueueJob }

func makeJob() *jobWrapper {
	return &jobWrapper{kickqv1alpha1.QueueJob{
		ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns", UID: "uid-1", Generation: 1, CreationTimestamp: metav1.NewTime(t0)},
		Spec:       kickqv1alpha1.QueueJobSpec{QueueName: "default", Pod: podTemplate()},
	}}
}

// podTemplate is the inline pod target of makeJob.
func podTemplate() *kickqv1alpha1.PodTarget {
	return &kickqv1alpha1.PodTarget{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "main", Image: "x"}}}}}
}

func (w *jobWrapper) Generation(g int64) *jobWrapper { w.ObjectMeta.Generation = g; return w }
func (w *jobWrapper) Queue(name string) *jobWrapper  { w.Spec.QueueName = name; return w }
func (w *jobWrapper) Type(t string) *jobWrapper      { w.Spec.Type = t; return w }

// NoTarget removes the inline pod: the queue's handlers decide.
func (w *jobWrapper) NoTarget() *jobWrapper { w.Spec.Pod = nil; return w }

// Webhook replaces the inline pod with an inline webhook target.
func (w *jobWrapper) Webhook(url string) *jobWrapper {
	w.Spec.Pod, w.Spec.Webhook = nil, &kickqv1alpha1.WebhookTarget{URL: url}
	return w
}

// Worker replaces the inline pod with an inline pull-worker target.
func (w *jobWrapper) Worker() *jobWrapper {
	w.Spec.Pod, w.Spec.Worker = nil, &kickqv1alpha1.WorkerTarget{}
	return w
}

func (w *jobWrapper) StartDeadline(s int32) *jobWrapper {
	w.Spec.Pod.StartDeadlineSeconds = ptr.To(s)
	return w
}
func (w *jobWrapper) Delay(s int32) *jobWrapper { w.Spec.DelaySeconds = ptr.To(s); return w }
func (w *jobWrapper) NotBefore(t time.Time) *jobWrapper {
	w.Spec.NotBeforeTime = ptr.To(metav1.NewTime(t))
	return w
}
func (w *jobWrapper) Suspend() *jobWrapper { w.Spec.Suspend = ptr.To(true); return w }
func (w *jobWrapper) Cancel() *jobWrapper  { w.Spec.Cancel = ptr.To(true); return w }
func (w *jobWrapper) After(names ...string) *jobWrapper {
	w.Spec.After = &kickqv1alpha1.Dependencies{JobNames: names}
	return w
}
func (w *jobWrapper) Notify(url string) *jobWrapper {
	w.Spec.Notify = &kickqv1alpha1.Notify{Webhook: kickqv1alpha1.WebhookTarget{URL: url}}
	return w
}
func (w *jobWrapper) TTL(s int32) *jobWrapper { w.Spec.TTLSecondsAfterFinished = ptr.To(s); return w }
func (w *jobWrapper) Cron(schedule string) *jobWrapper {
	w.Spec.Cron = &kickqv1alpha1.CronSpec{Schedule: schedule}
	return w
}

// Data gives the job a spec.data of n bytes.
// RawData sets spec.data to raw as it is (the cache's marker of oversized data, for one).
func (w *jobWrapper) RawData(raw []byte) *jobWrapper {
	w.Spec.Data = &apiextensionsv1.JSON{Raw: raw}
	return w
}

func (w *jobWrapper) Data(n int) *jobWrapper {
	raw := make([]byte, n)
	for i := range raw {
		raw[i] = ' '
	}
	if n >= 2 {
		raw[0], raw[n-1] = '"', '"'
	}
	w.Spec.Data = &apiextensionsv1.JSON{Raw: raw}
	return w
}

func (w *jobWrapper) retry() *kickqv1alpha1.RetryPolicy {
	if w.Spec.Retry == nil {
		w.Spec.Retry = &kickqv1alpha1.RetryPolicy{}
	}
	return w.Spec.Retry
}
func (w *jobWrapper) RetryLimit(n int32) *jobWrapper { w.retry().Limit = ptr.To(n); return w }
func (w *jobWrapper) Backoff(b kickqv1alpha1.Backoff) *jobWrapper {
	w.retry().Backoff = &b
	return w
}
func (w *jobWrapper) Rules(rules ...kickqv1alpha1.RetryRule) *jobWrapper {
	w.retry().Rules = rules
	return w
}
func (w *jobWrapper) AttemptDeadline(s int32) *jobWrapper {
	w.Spec.AttemptDeadlineSeconds = ptr.To(s)
	return w
}
func (w *jobWrapper) ActiveDeadline(s int32) *jobWrapper {
	w.Spec.ActiveDeadlineSeconds = ptr.To(s)
	return w
}
func (w *jobWrapper) HeartbeatTimeout(s int32) *jobWrapper {
	w.Spec.HeartbeatTimeoutSeconds = ptr.To(s)
	return w
}
func (w *jobWrapper) Status(s *statusWrapper) *jobWrapper { w.QueueJob.Status = s.Obj(); return w }
func (w *jobWrapper) Obj() *kickqv1alpha1.QueueJob        { return w.DeepCopy() }

// statusWrapper builds statuses, for a job's input and for the expected result alike.
type statusWrapper struct{ kickqv1alpha1.QueueJobStatus }

// makeStatus is a status written for generation 1.
func makeStatus() *statusWrapper {
	return &statusWrapper{kickqv1alpha1.QueueJobStatus{ObservedGeneration: 1}}
}

// runningStatus is the status of a job whose attempt n (the first of them started at first)
// started at started, as Admit writes it.
func runningStatus(n int32, started time.Time) *statusWrapper {
	return makeStatus().Phase(kickqv1alpha1.PhaseRunning).Attempts(n).Start(started).Ready(t0).
		Message("attempt " + itoa(n) + " running").
		Record(kickqv1alpha1.AttemptRecord{Number: n, StartTime: mtime(started), PodName: "j-" + itoa(n)})
}

func (s *statusWrapper) Generation(g int64) *statusWrapper {
	s.ObservedGeneration = g
	return s
}
func (s *statusWrapper) Phase(p kickqv1alpha1.QueueJobPhase) *statusWrapper {
	s.QueueJobStatus.Phase = p
	return s
}
func (s *statusWrapper) Reason(r string) *statusWrapper    { s.QueueJobStatus.Reason = r; return s }
func (s *statusWrapper) Message(m string) *statusWrapper   { s.QueueJobStatus.Message = m; return s }
func (s *statusWrapper) Attempts(n int32) *statusWrapper   { s.QueueJobStatus.Attempts = n; return s }
func (s *statusWrapper) Failures(n int32) *statusWrapper   { s.FailedAttempts = n; return s }
func (s *statusWrapper) Immediate(n int32) *statusWrapper  { s.ImmediateRetries = n; return s }
func (s *statusWrapper) Ready(t time.Time) *statusWrapper  { s.ReadyTime = mtime(t); return s }
func (s *statusWrapper) NoReady() *statusWrapper           { s.ReadyTime = nil; return s }
func (s *statusWrapper) Next(t time.Time) *statusWrapper   { s.NextAttemptTime = mtime(t); return s }
func (s *statusWrapper) NoNext() *statusWrapper            { s.NextAttemptTime = nil; return s }
func (s *statusWrapper) Start(t time.Time) *statusWrapper  { s.StartTime = mtime(t); return s }
func (s *statusWrapper) Finish(t time.Time) *statusWrapper { s.FinishTime = mtime(t); return s }
func (s *statusWrapper) Heartbeat(t time.Time) *statusWrapper {
	s.LastHeartbeatTime = mtime(t)
	return s
}
func (s *statusWrapper) Resolved(r *kickqv1alpha1.ResolvedPolicy) *statusWrapper {
	s.QueueJobStatus.Resolved = r
	return s
}
func (s *statusWrapper) Notification(n *kickqv1alpha1.NotificationStatus) *statusWrapper {
	s.QueueJobStatus.Notification = n
	return s
}
func (s *statusWrapper) Deps(c kickqv1alpha1.DependencyCounts) *statusWrapper {
	s.Dependencies = &c
	return s
}
func (s *statusWrapper) Progress(percent int32, msg string) *statusWrapper {
	s.QueueJobStatus.Progress = &kickqv1alpha1.Progress{Percent: percent, Message: msg}
	return s
}
func (s *statusWrapper) Result(raw string) *statusWrapper {
	s.QueueJobStatus.Result = &apiextensionsv1.JSON{Raw: []byte(raw)}
	return s
}
func (s *statusWrapper) Dropped(n int64) *statusWrapper { s.LogsDropped = n; return s }

// Record adds attempt r.Number's record, or replaces it.
func (s *statusWrapper) Record(r kickqv1alpha1.AttemptRecord) *statusWrapper {
	for i := range s.AttemptHistory {
		if s.AttemptHistory[i].Number == r.Number {
			s.AttemptHistory[i] = r
			return s
		}
	}
	s.AttemptHistory = append(s.AttemptHistory, r)
	return s
}

func (s *statusWrapper) record(n int32) *kickqv1alpha1.AttemptRecord {
	for i := range s.AttemptHistory {
		if s.AttemptHistory[i].Number == n {
			return &s.AttemptHistory[i]
		}
	}
	panic("no record of attempt " + itoa(n))
}

// Ended closes attempt n's record.
func (s *statusWrapper) Ended(n int32, t time.Time, o kickqv1alpha1.Outcome, reason, msg string) *statusWrapper {
	r := s.record(n)
	r.FinishTime, r.Outcome, r.Reason, r.Message = mtime(t), o, reason, msg
	return s
}

// Exit sets attempt n's exit code.
func (s *statusWrapper) Exit(n, code int32) *statusWrapper {
	s.record(n).ExitCode = ptr.To(code)
	return s
}

// HTTP sets attempt n's HTTP status code (and, with reason or msg, its reason and message).
func (s *statusWrapper) HTTP(n, code int32, reason, msg string) *statusWrapper {
	r := s.record(n)
	r.HTTPStatusCode, r.Reason, r.Message = ptr.To(code), reason, msg
	return s
}

// Log appends a line to the log ring.
func (s *statusWrapper) Log(t time.Time, msg string) *statusWrapper {
	s.Logs = append(s.Logs, kickqv1alpha1.LogEntry{Time: metav1.NewTime(t), Message: msg})
	return s
}

// Cond sets a condition as meta.SetStatusCondition does (the transition time is not compared).
func (s *statusWrapper) Cond(typ string, st metav1.ConditionStatus, reason, msg string) *statusWrapper {
	meta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: typ, Status: st, Reason: reason, Message: msg})
	return s
}

func (s *statusWrapper) Blocked(reason, msg string) *statusWrapper {
	return s.Cond(kickqv1alpha1.JobBlocked, metav1.ConditionTrue, reason, msg)
}
func (s *statusWrapper) Unblocked() *statusWrapper {
	return s.Cond(kickqv1alpha1.JobBlocked, metav1.ConditionFalse, kickqv1alpha1.ReasonUnblocked, "nothing holds the job")
}
func (s *statusWrapper) Suspended() *statusWrapper {
	return s.Cond(kickqv1alpha1.JobSuspended, metav1.ConditionTrue, kickqv1alpha1.ReasonSuspended,
		"spec.suspend holds the job before its next attempt")
}
func (s *statusWrapper) Resumed() *statusWrapper {
	return s.Cond(kickqv1alpha1.JobSuspended, metav1.ConditionFalse, kickqv1alpha1.ReasonResumed, "spec.suspend is unset")
}

// JobFailed is how a job that failed for reason at t looks: phase, reason, message, finish time,
// no next attempt, the Failed condition and the "job failed" log line.
func (s *statusWrapper) JobFailed(t time.Time, reason, msg string) *statusWrapper {
	s.QueueJobStatus.Phase, s.QueueJobStatus.Reason, s.QueueJobStatus.Message = kickqv1alpha1.PhaseFailed, reason, msg
	s.FinishTime, s.NextAttemptTime = mtime(t), nil
	return s.Cond(kickqv1alpha1.JobFailed, metav1.ConditionTrue, reason, msg).Log(t, "job failed: "+reason+": "+msg)
}

// JobSucceeded is how a job that succeeded at t looks.
func (s *statusWrapper) JobSucceeded(t time.Time, msg string) *statusWrapper {
	s.QueueJobStatus.Phase, s.QueueJobStatus.Reason, s.QueueJobStatus.Message = kickqv1alpha1.PhaseSucceeded, kickqv1alpha1.ReasonCompleted, msg
	s.FinishTime, s.NextAttemptTime = mtime(t), nil
	return s.Cond(kickqv1alpha1.JobComplete, metav1.ConditionTrue, kickqv1alpha1.ReasonCompleted, msg)
}

func (s *statusWrapper) Obj() kickqv1alpha1.QueueJobStatus { return *s.DeepCopy() }

func normal(reason, msg string) Event {
	return Event{Type: corev1.EventTypeNormal, Reason: reason, Message: msg}
}
func warning(reason, msg string) Event {
	return Event{Type: corev1.EventTypeWarning, Reason: reason, Message: msg}
}

// inlinePod is the Target of makeJob's inline pod.
func inlinePod() attempt.Target { return attempt.Target{Kind: attempt.KindPod, Pod: podTemplate()} }

// withDeadline sets a target's attempt deadline.
func withDeadline(t attempt.Target, s int32) attempt.Target {
	t.AttemptDeadlineSeconds = ptr.To(s)
	return t
}

// withStartDeadline sets a pod target's start deadline.
func withStartDeadline(t attempt.Target, s int32) attempt.Target {
	t.Pod.StartDeadlineSeconds = ptr.To(s)
	return t
}

// failedPod is a Failed pod of attempt 1 whose main container exited with code.
func failedPod(code int32, conds ...corev1.PodCondition) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "j-1", Namespace: "ns"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "x"}}},
		Status: corev1.PodStatus{Phase: corev1.PodFailed, Conditions: conds, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "main", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Error"}}}}},
	}
}

// succeededPod is a Succeeded pod of attempt 1 whose main container wrote msg as its termination
// message.
func succeededPod(msg string) *corev1.Pod {
	p := failedPod(0)
	p.Status.Phase = corev1.PodSucceeded
	p.Status.ContainerStatuses[0].State.Terminated.Reason = "Completed"
	p.Status.ContainerStatuses[0].State.Terminated.Message = msg
	return p
}

func mtime(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

func itoa(n int32) string { return strconv.Itoa(int(n)) }

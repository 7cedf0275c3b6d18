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
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/executor"
	"kickq.dev/kickq/internal/lifecycle"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// fakeExecutor records what the reconciler asks of it and observes what the test says.
type fakeExecutor struct {
	obs     attempt.Observation
	started []int32
	stopped []int32
	forgot  int
}

func (f *fakeExecutor) Start(_ context.Context, _ *kickqv1alpha1.QueueJob, _ attempt.Target, n int32) error {
	f.started = append(f.started, n)
	return nil
}

func (f *fakeExecutor) Stop(_ context.Context, _ *kickqv1alpha1.QueueJob, n int32) error {
	f.stopped = append(f.stopped, n)
	return nil
}

func (f *fakeExecutor) Observe(context.Context, *kickqv1alpha1.QueueJob, int32) (attempt.Observation, error) {
	return f.obs, nil
}

func (f *fakeExecutor) Settled(context.Context, *kickqv1alpha1.QueueJob, int32) (bool, error) {
	return true, nil
}

func (f *fakeExecutor) Forget(types.UID) { f.forgot++ }

// fakeCallbacks records deliveries and answers NotifyStatus with state.
type fakeCallbacks struct {
	state  attempt.NotifyState
	sent   int
	forgot int
}

func (f *fakeCallbacks) Notify(context.Context, *kickqv1alpha1.QueueJob, kickqv1alpha1.WebhookTarget, []byte) error {
	f.sent++
	return nil
}
func (f *fakeCallbacks) NotifyStatus(types.UID) attempt.NotifyState { return f.state }
func (f *fakeCallbacks) ForgetNotify(types.UID)                     { f.forgot++ }

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(kickqv1alpha1.AddToScheme(s))
	return s
}

// newTestReconciler returns a reconciler over a fake client holding objs, with a fake pod
// executor and fake callbacks, on a fake clock at t0.
func newTestReconciler(t *testing.T, objs ...client.Object) (*QueueJobReconciler, client.Client, *fakeExecutor, *fakeCallbacks, *events.FakeRecorder) {
	t.Helper()
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithObjects(objs...).
		WithStatusSubresource(&kickqv1alpha1.QueueJob{}).
		WithIndex(&kickqv1alpha1.QueueJob{}, QueueNameIndex, func(o client.Object) []string {
			return []string{o.(*kickqv1alpha1.QueueJob).Spec.QueueName}
		}).
		Build()
	pods := &fakeExecutor{}
	cb := &fakeCallbacks{}
	rec := events.NewFakeRecorder(16)
	r := NewQueueJobReconciler(c, clocktesting.NewFakeClock(t0), rec, map[attempt.TargetKind]executor.Executor{attempt.KindPod: pods})
	r.Callbacks = cb
	return r, c, pods, cb, rec
}

func podJob(name string) *kickqv1alpha1.QueueJob {
	return &kickqv1alpha1.QueueJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name + "-uid")},
		Spec: kickqv1alpha1.QueueJobSpec{QueueName: kickqv1alpha1.DefaultQueueName, Pod: &kickqv1alpha1.PodTarget{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}}},
	}
}

func reconcileJob(t *testing.T, r *QueueJobReconciler, name string) ctrl.Result {
	t.Helper()
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: name}})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	return res
}

func getJob(t *testing.T, c client.Client, name string) *kickqv1alpha1.QueueJob {
	t.Helper()
	j := &kickqv1alpha1.QueueJob{}
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: "ns", Name: name}, j); err != nil {
		t.Fatalf("getting job %s: %v", name, err)
	}
	return j
}

// A pod attempt is its own record: it is started before status says Running, and written
// Running once it has run for --running-write-delay, its start taken from the pod.
func TestReconcileStartsAPodAttemptBeforeRecordingIt(t *testing.T) {
	r, c, pods, _, rec := newTestReconciler(t, podJob("a"))
	r.RunningWriteDelay = lifecycle.DefaultRunningWriteDelay
	clk := r.Clock.(*clocktesting.FakeClock)
	pods.obs = attempt.Observation{Phase: attempt.Missing, Name: "a-1"}
	reconcileJob(t, r, "a")

	if diff := cmp.Diff([]int32{1}, pods.started); diff != "" {
		t.Errorf("starts (-want +got):\n%s", diff)
	}
	if j := getJob(t, c, "a"); j.Status.Attempts != 0 || j.Status.Phase != "" {
		t.Fatalf("phase %q attempts %d after the start, want nothing written yet", j.Status.Phase, j.Status.Attempts)
	}

	// The pod runs: within the window nothing is written and nothing started again.
	created := t0.Add(-500 * time.Millisecond).Truncate(time.Second)
	pods.obs = attempt.Observation{Phase: attempt.Running, Name: "a-1", CreatedAt: created}
	clk.Step(500 * time.Millisecond)
	reconcileJob(t, r, "a")
	if j := getJob(t, c, "a"); j.Status.Attempts != 0 {
		t.Fatalf("attempts %d within the window, want 0", j.Status.Attempts)
	}
	if diff := cmp.Diff([]int32{1}, pods.started); diff != "" {
		t.Errorf("starts after a second pass (-want +got):\n%s", diff)
	}

	// Past the window: Running, attempt 1, started when its pod was created.
	clk.Step(lifecycle.DefaultRunningWriteDelay)
	reconcileJob(t, r, "a")
	j := getJob(t, c, "a")
	if j.Status.Phase != kickqv1alpha1.PhaseRunning || j.Status.Attempts != 1 {
		t.Fatalf("phase %s attempts %d, want Running 1", j.Status.Phase, j.Status.Attempts)
	}
	if got := j.Status.AttemptHistory[0].StartTime; got == nil || !got.Time.Equal(created) {
		t.Errorf("attempt start %v, want the pod's creation %v", got, created)
	}
	if diff := cmp.Diff([]int32{1}, pods.started); diff != "" {
		t.Errorf("starts after the write (-want +got):\n%s", diff)
	}
	if len(rec.Events) != 0 {
		t.Errorf("a first start emits no Event, got %d", len(rec.Events))
	}
}

func TestReconcileClassifiesAFinishedPodWithTheJobsRules(t *testing.T) {
	job := podJob("a")
	job.Spec.Retry = &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](5), Rules: []kickqv1alpha1.RetryRule{{
		Action: kickqv1alpha1.RetryActionDie, OnExitCodes: &kickqv1alpha1.ExitCodesMatcher{Operator: kickqv1alpha1.ExitCodeOperatorIn, Values: []int32{3}}}}}
	r, c, pods, _, _ := newTestReconciler(t, job)
	reconcileJob(t, r, "a")

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a-1", Namespace: "ns"}, Status: corev1.PodStatus{Phase: corev1.PodFailed,
		ContainerStatuses: []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error"}}}}}}
	pods.obs = attempt.Observation{Phase: attempt.Finished, Name: "a-1", Pod: pod}
	reconcileJob(t, r, "a")

	j := getJob(t, c, "a")
	if j.Status.Phase != kickqv1alpha1.PhaseFailed || j.Status.Reason != kickqv1alpha1.ReasonDied {
		t.Errorf("phase %s reason %s, want Failed Died (the Die rule on exit 3)", j.Status.Phase, j.Status.Reason)
	}
	if pods.forgot == 0 {
		t.Error("the executor was not told to forget the finished job")
	}
}

func TestReconcileEmitsEventsOnlyAfterTheStatusWrite(t *testing.T) {
	job := podJob("a")
	job.Spec.Cancel = ptr.To(true)
	r, c, _, _, rec := newTestReconciler(t, job)
	failing := &failingStatusClient{Client: c, fail: true}
	r.Client = failing

	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "a"}}); err == nil {
		t.Fatal("Reconcile returned no error although the status write failed")
	}
	if len(rec.Events) != 0 {
		t.Fatalf("%d Events emitted although the status write failed", len(rec.Events))
	}
	failing.fail = false
	reconcileJob(t, r, "a")
	if len(rec.Events) != 1 {
		t.Fatalf("%d Events after the write, want 1 (Cancelled)", len(rec.Events))
	}
	if got := <-rec.Events; got != "Warning Cancelled cancelled by spec.cancel" {
		t.Errorf("event %q", got)
	}
}

// failingStatusClient fails status writes while fail is set.
type failingStatusClient struct {
	client.Client
	fail bool
}

func (f *failingStatusClient) Status() client.SubResourceWriter {
	if f.fail {
		return failingWriter{f.Client.Status()}
	}
	return f.Client.Status()
}

type failingWriter struct{ client.SubResourceWriter }

func (failingWriter) Update(context.Context, client.Object, ...client.SubResourceUpdateOption) error {
	return errors.New("injected: the API server is unavailable")
}

func TestReconcileSendsTheCallbackThroughCallbacks(t *testing.T) {
	job := podJob("a")
	job.Spec.Cancel = ptr.To(true)
	job.Spec.Notify = &kickqv1alpha1.Notify{Webhook: kickqv1alpha1.WebhookTarget{URL: "http://127.0.0.1:1/done"}}
	r, c, _, cb, _ := newTestReconciler(t, job)
	reconcileJob(t, r, "a") // cancelled: Failed
	reconcileJob(t, r, "a") // finished: send the callback
	if cb.sent != 1 {
		t.Fatalf("callbacks sent %d, want 1", cb.sent)
	}
	cb.state = attempt.NotifyState{Done: true, Delivered: true, Message: "200 OK"}
	reconcileJob(t, r, "a")
	j := getJob(t, c, "a")
	if j.Status.Notification == nil || j.Status.Notification.DeliveredTime == nil {
		t.Fatalf("notification %+v, want delivered", j.Status.Notification)
	}
	if cb.forgot != 1 {
		t.Errorf("ForgetNotify called %d times, want 1 once the delivery is recorded", cb.forgot)
	}
}

func TestExecutorFor(t *testing.T) {
	pods, hooks := &fakeExecutor{}, &fakeExecutor{}
	r := &QueueJobReconciler{Executors: map[attempt.TargetKind]executor.Executor{attempt.KindPod: pods, attempt.KindWebhook: hooks}}
	withPodRecord := podJob("a")
	withPodRecord.Status.Attempts = 1
	withPodRecord.Status.AttemptHistory = []kickqv1alpha1.AttemptRecord{{Number: 1, PodName: "a-1"}}
	pinnedToPod := podJob("a")
	pinnedToPod.Status.Attempts = 1
	pinnedToPod.Status.AttemptHistory = []kickqv1alpha1.AttemptRecord{{Number: 1, PodName: "a-1", TargetKind: "Pod", Handler: "email"}}
	for _, tc := range []struct {
		name     string
		job      *kickqv1alpha1.QueueJob
		kind     attempt.TargetKind
		want     executor.Executor
		terminal bool
	}{
		{name: "pod target", job: podJob("a"), kind: attempt.KindPod, want: pods},
		{name: "webhook target", job: podJob("a"), kind: attempt.KindWebhook, want: hooks},
		{name: "worker target has no executor here", job: podJob("a"), kind: attempt.KindWorker},
		{name: "unresolved target without a pod attempt", job: podJob("a"), kind: ""},
		{name: "unresolved target of a pod attempt follows the pod", job: withPodRecord, kind: "", want: pods},
		{name: "unknown kind is an error, never the pod executor", job: podJob("a"), kind: "Lambda", terminal: true},
		{name: "a pod attempt stays on the pod executor when its handler turned into a webhook", job: pinnedToPod, kind: attempt.KindWebhook, want: pods},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.executorFor(tc.job, attempt.Target{Kind: tc.kind})
			if tc.terminal {
				if !errors.Is(err, reconcile.TerminalError(nil)) {
					t.Fatalf("err = %v, want a terminal error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got != tc.want {
				t.Errorf("executor %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWrittenStateTellsAStaleCopy(t *testing.T) {
	w := writtenState{uid: "u", attempts: 2, running: true}
	for _, tc := range []struct {
		name string
		st   kickqv1alpha1.QueueJobStatus
		want bool
	}{
		{name: "fewer attempts", st: kickqv1alpha1.QueueJobStatus{Attempts: 1, Phase: kickqv1alpha1.PhaseDelayed}, want: true},
		{name: "the same write", st: kickqv1alpha1.QueueJobStatus{Attempts: 2, Phase: kickqv1alpha1.PhaseRunning}},
		{name: "newer attempts", st: kickqv1alpha1.QueueJobStatus{Attempts: 3, Phase: kickqv1alpha1.PhasePending}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := w.newerThan(&tc.st); got != tc.want {
				t.Errorf("newerThan = %v, want %v", got, tc.want)
			}
		})
	}
	ended := writtenState{uid: "u", attempts: 2, finished: true}
	if !ended.newerThan(&kickqv1alpha1.QueueJobStatus{Attempts: 2, Phase: kickqv1alpha1.PhaseRunning}) {
		t.Error("a running copy is behind a write that finished the job")
	}
}

func TestLabelBatchPatchesOnce(t *testing.T) {
	job := podJob("a")
	job.Spec.Batch = "import-1"
	r, c, _, _, _ := newTestReconciler(t, job)
	reconcileJob(t, r, "a")
	j := getJob(t, c, "a")
	if j.Labels[kickqv1alpha1.LabelBatch] != "import-1" {
		t.Fatalf("labels %v, want %s=import-1", j.Labels, kickqv1alpha1.LabelBatch)
	}
	rv := j.ResourceVersion
	if err := r.labelBatch(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	if getJob(t, c, "a").ResourceVersion != rv {
		t.Error("a job that carries its batch label was patched again")
	}
}

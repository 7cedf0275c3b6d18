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
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/executor"
	"kickq.dev/kickq/internal/lifecycle"
	"kickq.dev/kickq/internal/metrics"
	"kickq.dev/kickq/internal/report"
)

// conflictRetryDelay is when a pass whose status write met a conflict (a newer copy of the job
// exists) or a deleted job looks again; the watch event of the newer copy usually comes first.
const conflictRetryDelay = 100 * time.Millisecond

// QueueJobReconciler drives QueueJobs through their lifecycle, one pass as named steps: observe
// (the job, its queue, its attempt's run, its dependencies, reports, its callback) → decide
// (lifecycle.Decide, a pure function, and admission for a job that is ready) → write status once
// (Events after the write) → act (at most one side effect, and when to look again).
type QueueJobReconciler struct {
	Client    client.Client
	Clock     Clock
	Recorder  events.EventRecorder
	Admission *admission.Admission
	// Executors run attempts, by target kind. A kind without an executor (pull workers) is left
	// to the lifecycle, which keeps such jobs waiting.
	Executors map[attempt.TargetKind]executor.Executor
	// Reports holds what running attempts reported until it is written (nil: no report API).
	Reports *report.Store
	// Callbacks sends completion callbacks (spec.notify); nil: none are sent.
	Callbacks executor.Callbacks
	// Metrics records the transitions each status write stored (nil: none).
	Metrics *metrics.Recorder
	// APIReader reads a finished job from the API server before its status is written: the
	// cache holds it trimmed (internal/cachetransform). Nil: the cached copy is written as it is
	// (a cache without the transform).
	APIReader client.Reader
	// DefaultRetention is --default-retention: the TTL of finished jobs whose queue sets no
	// retention for their phase (nil: kept).
	DefaultRetention *kickqv1alpha1.Retention
	// RunningWriteDelay is --running-write-delay: how long a pod attempt or an unlimited webhook
	// call may run before status says Running (0: written before it starts).
	RunningWriteDelay time.Duration

	// wake carries jobs that admission says may start now.
	wake chan event.TypedGenericEvent[*kickqv1alpha1.QueueJob]

	mu         sync.Mutex
	limitsFrom map[admission.QueueKey]int64         // queue generation whose limits admission has; -1 implicit
	periods    map[admission.QueueKey]time.Duration // each queue's longest rate period (admission_forget.go)
	// written is what this reconciler last wrote to each job's status: a cached job that is
	// behind it is stale (the watch event of the write will bring it), and deciding on it would
	// repeat side effects (a webhook call) and end in a conflict.
	written map[types.NamespacedName]writtenState
	// times holds the exact times status cannot: when the job was first seen (delaySeconds
	// counts from it) and the exact next-attempt time status keeps rounded up. Lost on restart,
	// which only makes a start up to a second later, never earlier.
	times map[types.NamespacedName]jobTimes
}

// NewQueueJobReconciler wires a reconciler with its admission component.
func NewQueueJobReconciler(c client.Client, clk Clock, rec events.EventRecorder, execs map[attempt.TargetKind]executor.Executor) *QueueJobReconciler {
	r := &QueueJobReconciler{
		Client: c, Clock: clk, Recorder: rec, Executors: execs,
		wake:       make(chan event.TypedGenericEvent[*kickqv1alpha1.QueueJob], wakeBuffer),
		limitsFrom: map[admission.QueueKey]int64{},
		periods:    map[admission.QueueKey]time.Duration{},
		written:    map[types.NamespacedName]writtenState{},
		times:      map[types.NamespacedName]jobTimes{},
	}
	r.Admission = admission.New(clk, r.notify)
	return r
}

// wakeBuffer is how many wake-ups wait for the controller before notify hands them to a goroutine.
const wakeBuffer = 1024

// notify asks for a reconcile of a job admission may now start. It never blocks the caller.
func (r *QueueJobReconciler) notify(key types.NamespacedName) {
	j := &kickqv1alpha1.QueueJob{}
	j.Namespace, j.Name = key.Namespace, key.Name
	select {
	case r.wake <- event.TypedGenericEvent[*kickqv1alpha1.QueueJob]{Object: j}:
	default:
		go func() { r.wake <- event.TypedGenericEvent[*kickqv1alpha1.QueueJob]{Object: j} }()
	}
}

// Reconcile runs one pass for one job.
func (r *QueueJobReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	job := &kickqv1alpha1.QueueJob{}
	if err := r.Client.Get(ctx, req.NamespacedName, job); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithValues("queuejob", klog.KObj(job)))
	switch {
	case job.DeletionTimestamp != nil:
		r.Admission.Forget(req.NamespacedName)
		r.dropReports(req.NamespacedName)
		return ctrl.Result{}, nil
	case job.Spec.Cron != nil:
		return ctrl.Result{}, nil // templates are the cron controller's
	case r.isStale(job):
		ctrl.LoggerFrom(ctx).V(4).Info("cached job is behind this reconciler's last status write; waiting for the watch")
		return ctrl.Result{}, nil
	}
	return r.reconcile(ctx, job)
}

// pass is one reconcile of one job: what it observed and decided.
type pass struct {
	job  *kickqv1alpha1.QueueJob
	key  types.NamespacedName
	qkey admission.QueueKey
	in   lifecycle.Input
	// exec runs the job's current attempt (nil: no executor, e.g. a pull worker's target).
	exec     executor.Executor
	res      lifecycle.Result
	admitted bool // admission reserved a slot for the attempt res starts
	waiting  bool // the job waits for admission
}

func (r *QueueJobReconciler) reconcile(ctx context.Context, job *kickqv1alpha1.QueueJob) (ctrl.Result, error) {
	if err := r.labelBatch(ctx, job); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	p, err := r.observe(ctx, job)
	if err != nil {
		return ctrl.Result{}, err
	}
	r.decide(p)
	retry, err := r.writeStatus(ctx, p)
	switch {
	case err != nil:
		return ctrl.Result{}, err
	case retry:
		return ctrl.Result{RequeueAfter: conflictRetryDelay}, nil
	}
	return r.act(ctx, p)
}

// labelBatch mirrors spec.batch to the kickq.dev/batch label, so that
// `kubectl get -l kickq.dev/batch=...` works. A status write cannot carry metadata, so this is
// its own patch, once per batch job.
func (r *QueueJobReconciler) labelBatch(ctx context.Context, job *kickqv1alpha1.QueueJob) error {
	b := job.Spec.Batch
	if b == "" || job.Labels[kickqv1alpha1.LabelBatch] == b {
		return nil
	}
	patch := client.MergeFrom(job.DeepCopy())
	if job.Labels == nil {
		job.Labels = map[string]string{}
	}
	job.Labels[kickqv1alpha1.LabelBatch] = b
	if err := r.Client.Patch(ctx, job, patch); err != nil {
		return fmt.Errorf("labelling the job with its batch: %w", err)
	}
	return nil
}

// observe gathers what Decide looks at: the queue, the attempt's run, whether earlier runs
// ended, the dependencies, the callback's delivery and what the attempt reported.
func (r *QueueJobReconciler) observe(ctx context.Context, job *kickqv1alpha1.QueueJob) (*pass, error) {
	qv, qkey, err := r.queueView(ctx, job)
	if err != nil {
		return nil, err
	}
	p := &pass{job: job, key: client.ObjectKeyFromObject(job), qkey: qkey,
		in: lifecycle.Input{Job: job, Queue: qv, Now: r.Clock.Now(), Settled: true, RunningWriteDelay: r.RunningWriteDelay}}
	p.in.FirstSeen, p.in.NextAttemptTime = r.exactTimes(p.key, job, p.in.Now)
	target, _, _ := lifecycle.ResolveTarget(job, qv)
	if p.exec, err = r.executorFor(job, target); err != nil {
		return nil, err
	}
	st := &job.Status
	if p.exec != nil && st.Attempts > 0 {
		if p.in.Current, err = p.exec.Observe(ctx, job, st.Attempts); err != nil {
			return nil, err
		}
	}
	if p.exec != nil && st.Phase != kickqv1alpha1.PhaseRunning && !lifecycle.IsFinished(st) {
		if p.in.Settled, err = p.exec.Settled(ctx, job, st.Attempts+1); err != nil {
			return nil, err
		}
	}
	if err := r.observeUnrecorded(ctx, p, target); err != nil {
		return nil, err
	}
	if p.in.Deps, err = r.dependencies(ctx, job); err != nil {
		return nil, err
	}
	if r.Callbacks != nil && job.Spec.Notify != nil && lifecycle.IsFinished(st) {
		p.in.Notification = r.Callbacks.NotifyStatus(job.UID)
	}
	switch {
	case r.Reports == nil:
	case st.Phase == kickqv1alpha1.PhaseRunning:
		p.in.Report = r.Reports.Take(p.key, st.Attempts)
	case p.in.Unrecorded != nil:
		p.in.Report = r.Reports.Take(p.key, st.Attempts+1)
	}
	return p, nil
}

// executorFor returns the executor of the job's current attempt: the one of the kind of target
// it was started on (status.attemptHistory[].targetKind), else of its resolved target's kind.
// When the target does not resolve (its handler is gone) a pod attempt is still followed through
// its recorded pod name. A kind without an executor (pull workers) gives nil;
// a kind this manager does not know is an error, never another executor.
func (r *QueueJobReconciler) executorFor(job *kickqv1alpha1.QueueJob, t attempt.Target) (executor.Executor, error) {
	if rec := currentAttempt(job); rec != nil && rec.TargetKind != "" {
		// The attempt is pinned to the kind of target it started on, whatever its handler
		// says now.
		t.Kind = attempt.TargetKind(rec.TargetKind)
	}
	switch t.Kind {
	case "":
		if rec := currentAttempt(job); rec != nil && rec.PodName != "" {
			return r.Executors[attempt.KindPod], nil
		}
		return nil, nil
	case attempt.KindWorker:
		return r.Executors[attempt.KindWorker], nil
	}
	if e := r.Executors[t.Kind]; e != nil {
		return e, nil
	}
	return nil, reconcile.TerminalError(fmt.Errorf("no executor for target kind %q", t.Kind))
}

// currentAttempt is the record of the job's latest attempt (nil: none kept).
func currentAttempt(job *kickqv1alpha1.QueueJob) *kickqv1alpha1.AttemptRecord {
	for i := range job.Status.AttemptHistory {
		if job.Status.AttemptHistory[i].Number == job.Status.Attempts {
			return &job.Status.AttemptHistory[i]
		}
	}
	return nil
}

// decide runs the lifecycle and, for a ready job, admission: waiting frees no slot (the job holds
// none), so admission may learn it before the write.
func (r *QueueJobReconciler) decide(p *pass) {
	defer func() { lifecycle.SetHealth(&p.res.Status, p.in.Now) }()
	p.res = lifecycle.Decide(p.in)
	if r.flushReports(p) {
		p.res = lifecycle.Decide(p.in)
	}
	if p.res.Action != lifecycle.AwaitAdmission {
		return
	}
	r.Admission.Observe(r.jobView(p.job, p.qkey, p.res.Handler, &p.res.Status, true))
	d := r.Admission.TryAdmit(p.key)
	p.res = lifecycle.Admit(p.res, p.in, d)
	p.admitted = d.Admitted
	p.waiting = !d.Admitted
}

// writeStatus writes the decided status once, if it changed, then emits the pass's Events. A
// conflict or a deleted job releases the reserved slot and asks to look again (retry).
func (r *QueueJobReconciler) writeStatus(ctx context.Context, p *pass) (retry bool, err error) {
	if p.res.Deferred {
		r.deferWrite(p) // its side effect records it (queuejob_unrecorded.go)
		return false, nil
	}
	if equality.Semantic.DeepEqual(p.job.Status, p.res.Status) {
		if p.admitted {
			// An admitted attempt is always recorded, so this does not happen; be safe all the same.
			r.Admission.Release(p.key)
			p.admitted = false
		}
		r.ackReport(p)
		r.rememberTimes(p)
		return false, nil
	}
	updated := p.job.DeepCopy()
	updated.Status = p.res.Status
	if retry, err := r.restoreTrimmed(ctx, p.job, updated); retry || err != nil {
		return retry, err
	}
	due := attemptDue(p)
	if err := r.Client.Status().Update(ctx, updated); err != nil {
		if p.admitted {
			r.Admission.Release(p.key)
		}
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, fmt.Errorf("writing status: %w", err)
	}
	r.Metrics.JobWritten(p.job, &p.job.Status, &p.res.Status, due)
	p.job = updated
	r.mu.Lock()
	r.written[p.key] = writtenOf(updated)
	r.mu.Unlock()
	r.rememberTimes(p)
	r.ackReport(p)
	for _, e := range p.res.Events {
		r.Recorder.Eventf(updated, nil, e.Type, e.Reason, e.Reason, "%s", e.Message)
	}
	return false, nil
}

// act runs the pass's side effect once its status is stored, and says when to look again.
func (r *QueueJobReconciler) act(ctx context.Context, p *pass) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	job, res := p.job, &p.res
	if job.Status.Phase != kickqv1alpha1.PhaseRunning && !res.Deferred {
		// Reports belong to a running attempt; what is left of an ended one is dropped.
		r.dropReports(p.key)
	}
	// Admission learns the job's new state only once it is stored: a finished job frees its slot
	// after its status says so, never before, so the next job's Running never overlaps it.
	// A finished job no rate window needs is forgotten; one a window still counts is looked at
	// again when it leaves the window, to be forgotten then.
	if leaves := r.observeStored(p); !leaves.IsZero() && (res.RequeueAt.IsZero() || leaves.Before(res.RequeueAt)) {
		res.RequeueAt = leaves
	}

	switch res.Action {
	case lifecycle.Start:
		log.V(2).Info("starting attempt", "attempt", res.Attempt, "target", res.Target.Kind)
		exec, err := r.executorFor(job, res.Target)
		if err != nil {
			return ctrl.Result{}, err
		}
		if exec == nil {
			return ctrl.Result{}, reconcile.TerminalError(fmt.Errorf("no executor starts target kind %q", res.Target.Kind))
		}
		if res.Deferred {
			retry, err := r.startDeferred(ctx, p, exec)
			if err != nil {
				return ctrl.Result{}, err
			}
			if retry {
				return ctrl.Result{RequeueAfter: conflictRetryDelay}, nil
			}
		} else if err := exec.Start(ctx, job, res.Target, res.Attempt); err != nil && !startLater(res, err) {
			return ctrl.Result{}, err
		}
	case lifecycle.Stop:
		log.V(2).Info("stopping attempt", "attempt", res.Attempt)
		if p.exec != nil {
			if err := p.exec.Stop(ctx, job, res.Attempt); err != nil {
				return ctrl.Result{}, err
			}
		}
	case lifecycle.Notify:
		if err := r.sendCallback(ctx, job); err != nil {
			return ctrl.Result{}, err
		}
	case lifecycle.NotifyRecorded:
		if r.Callbacks != nil {
			r.Callbacks.ForgetNotify(job.UID)
		}
	case lifecycle.Delete:
		log.V(2).Info("deleting the finished job: its time to live has passed")
		uid := job.UID
		if err := r.Client.Delete(ctx, job, client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("deleting the finished job: %w", err)
		}
	}
	if lifecycle.IsFinished(&job.Status) && res.Action != lifecycle.Stop && p.exec != nil {
		p.exec.Forget(job.UID)
	}
	if res.RequeueAt.IsZero() {
		return ctrl.Result{}, nil
	}
	key := p.key
	return ctrl.Result{RequeueAfter: wakeAfter(r.Clock, res.RequeueAt, func() { r.notify(key) })}, nil
}

// sendCallback queues the completion callback of a finished job.
func (r *QueueJobReconciler) sendCallback(ctx context.Context, job *kickqv1alpha1.QueueJob) error {
	if r.Callbacks == nil {
		return nil
	}
	body, err := executor.NotifyBody(job)
	if err != nil {
		return fmt.Errorf("encoding the completion callback: %w", err)
	}
	ctrl.LoggerFrom(ctx).V(2).Info("sending the completion callback")
	return r.Callbacks.Notify(ctx, job, job.Spec.Notify.Webhook, body)
}

// SetupWithManager registers the controller: QueueJobs, their pods, their queues, and admission's
// wake-ups.
func (r *QueueJobReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("queuejob").
		WithOptions(fairQueue).
		For(&kickqv1alpha1.QueueJob{}).
		Owns(&corev1.Pod{}).
		// Spec changes, creation and deletion of queues only: status writes do not wake every job.
		Watches(&kickqv1alpha1.Queue{}, handler.EnqueueRequestsFromMapFunc(r.jobsOfQueue), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Channel(r.wake, &handler.TypedEnqueueRequestForObject[*kickqv1alpha1.QueueJob]{})).
		// Jobs that wait for others (spec.after) wake when one appears, finishes or goes away.
		Watches(&kickqv1alpha1.QueueJob{}, handler.EnqueueRequestsFromMapFunc(r.dependents), builder.WithPredicates(finishedChanged)).
		Complete(r)
}

// jobsOfQueue enqueues the unfinished jobs of a queue that changed (created, edited, deleted), so
// that blocked jobs start without a restart and limits apply at once.
func (r *QueueJobReconciler) jobsOfQueue(ctx context.Context, o client.Object) []reconcile.Request {
	var list kickqv1alpha1.QueueJobList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{QueueNameIndex: o.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
		return nil // read only: no deep copy of the queue's every job
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if !lifecycle.IsFinished(&list.Items[i].Status) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}

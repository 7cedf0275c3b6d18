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
	"k8s.io/apimachinery/pkg/runtime"
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
	"kickq.dev/kickq/internal/report"
)

// QueueJobReconciler drives QueueJobs through their lifecycle: observe the job, its queue and its
// attempt, decide (lifecycle.Decide, a pure function), write status once, then run at most one
// side effect.
type QueueJobReconciler struct {
	Client    client.Client
	Scheme    *runtime.Scheme
	Clock     Clock
	Recorder  events.EventRecorder
	Admission *admission.Admission
	Executors map[attempt.TargetKind]executor.Executor
	// Reports holds what running attempts reported until it is written (nil: no report API).
	Reports *report.Store
	// Hooks sends completion callbacks (spec.notify); nil: none are sent.
	Hooks *executor.Webhooks

	// wake carries jobs that admission says may start now.
	wake chan event.TypedGenericEvent[*kickqv1alpha1.QueueJob]

	mu         sync.Mutex
	limitsFrom map[admission.QueueKey]int64 // queue generation whose limits admission has; -1 implicit
	// written is what this reconciler last wrote to each job's status: a cached job that is
	// behind it is stale (the watch event of the write will bring it), and deciding on it would
	// repeat side effects (a webhook call) and end in a conflict.
	written map[types.NamespacedName]writtenState
}

// writtenState is the part of a written status that tells a stale cached copy.
type writtenState struct {
	uid      types.UID
	attempts int32
	running  bool
	finished bool
}

func (w writtenState) newerThan(st *kickqv1alpha1.QueueJobStatus) bool {
	switch {
	case st.Attempts < w.attempts:
		return true
	case st.Attempts > w.attempts:
		return false
	}
	return (w.finished && !lifecycle.IsFinished(st)) || (!w.running && st.Phase == kickqv1alpha1.PhaseRunning)
}

// NewQueueJobReconciler wires a reconciler with its admission component.
func NewQueueJobReconciler(c client.Client, scheme *runtime.Scheme, clk Clock, rec events.EventRecorder, execs map[attempt.TargetKind]executor.Executor) *QueueJobReconciler {
	r := &QueueJobReconciler{
		Client: c, Scheme: scheme, Clock: clk, Recorder: rec, Executors: execs,
		wake:       make(chan event.TypedGenericEvent[*kickqv1alpha1.QueueJob], 1024),
		limitsFrom: map[admission.QueueKey]int64{},
		written:    map[types.NamespacedName]writtenState{},
	}
	r.Admission = admission.New(clk, r.notify)
	return r
}

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
			r.Admission.Forget(req.NamespacedName)
			r.dropReports(req.NamespacedName)
			r.mu.Lock()
			delete(r.written, req.NamespacedName)
			r.mu.Unlock()
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	log := ctrl.LoggerFrom(ctx).WithValues("queuejob", klog.KObj(job))
	ctx = ctrl.LoggerInto(ctx, log)
	if job.DeletionTimestamp != nil {
		r.Admission.Forget(req.NamespacedName)
		r.dropReports(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	if job.Spec.Cron != nil {
		return ctrl.Result{}, nil
	}
	r.mu.Lock()
	w, ok := r.written[req.NamespacedName]
	r.mu.Unlock()
	if ok && w.uid == job.UID && w.newerThan(&job.Status) {
		log.V(4).Info("cached job is behind this reconciler's last status write; waiting for the watch")
		return ctrl.Result{}, nil
	}
	return r.reconcile(ctx, job)
}

func (r *QueueJobReconciler) reconcile(ctx context.Context, job *kickqv1alpha1.QueueJob) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	if b := job.Spec.Batch; b != "" && job.Labels[kickqv1alpha1.LabelBatch] != b {
		// spec.batch is mirrored to a label so that `kubectl get -l kickq.dev/batch=...` works.
		patch := client.MergeFrom(job.DeepCopy())
		if job.Labels == nil {
			job.Labels = map[string]string{}
		}
		job.Labels[kickqv1alpha1.LabelBatch] = b
		if err := r.Client.Patch(ctx, job, patch); err != nil {
			if apierrors.IsNotFound(err) {
				return ctrl.Result{}, nil
			}
			return ctrl.Result{}, fmt.Errorf("labelling the job with its batch: %w", err)
		}
	}
	now := r.Clock.Now()
	qv, qkey, err := r.queueView(ctx, job)
	if err != nil {
		return ctrl.Result{}, err
	}

	in := lifecycle.Input{Job: job, Queue: qv, Now: now}
	target, _, _ := lifecycle.ResolveTarget(job, qv)
	exec := r.Executors[target.Kind]
	if exec == nil {
		exec = r.Executors[attempt.KindPod]
	}
	if job.Status.Attempts > 0 {
		if in.Current, err = exec.Observe(ctx, job, job.Status.Attempts); err != nil {
			return ctrl.Result{}, err
		}
	}
	if job.Status.Phase != kickqv1alpha1.PhaseRunning && !lifecycle.IsFinished(&job.Status) {
		if in.Settled, err = exec.Settled(ctx, job, job.Status.Attempts+1); err != nil {
			return ctrl.Result{}, err
		}
	}

	if in.Deps, err = r.dependencies(ctx, job); err != nil {
		return ctrl.Result{}, err
	}
	if r.Hooks != nil && job.Spec.Notify != nil && lifecycle.IsFinished(&job.Status) {
		in.Notification = r.Hooks.NotifyStatus(job.UID)
	}
	key := client.ObjectKeyFromObject(job)
	if r.Reports != nil && job.Status.Phase == kickqv1alpha1.PhaseRunning {
		in.Report = r.Reports.Take(key, job.Status.Attempts)
	}

	res := lifecycle.Decide(in)
	waiting := res.Action == lifecycle.AwaitAdmission
	admitted := false
	if waiting {
		// Waiting frees no slot (the job holds none), so admission may learn it before the write.
		r.Admission.Observe(r.jobView(job, qkey, res.Handler, &res.Status, true))
		d := r.Admission.TryAdmit(key)
		res = lifecycle.Admit(res, in, d)
		admitted = d.Admitted
		waiting = !admitted
	}

	if !equality.Semantic.DeepEqual(job.Status, res.Status) {
		updated := job.DeepCopy()
		updated.Status = res.Status
		if err := r.Client.Status().Update(ctx, updated); err != nil {
			if admitted {
				r.Admission.Release(key)
			}
			if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
				return ctrl.Result{Requeue: true}, nil
			}
			return ctrl.Result{}, fmt.Errorf("writing status: %w", err)
		}
		job = updated
		r.mu.Lock()
		r.written[key] = writtenState{uid: job.UID, attempts: job.Status.Attempts, running: job.Status.Phase == kickqv1alpha1.PhaseRunning,
			finished: lifecycle.IsFinished(&job.Status)}
		r.mu.Unlock()
		if in.Report != nil {
			r.Reports.Ack(key, in.Report)
		}
		for _, e := range res.Events {
			r.Recorder.Eventf(job, nil, e.Type, e.Reason, e.Reason, "%s", e.Message)
		}
	} else {
		if in.Report != nil {
			r.Reports.Ack(key, in.Report)
		}
		if admitted {
			// An admitted attempt is always recorded, so this does not happen; be safe all the same.
			r.Admission.Release(key)
			admitted = false
		}
	}
	if job.Status.Phase != kickqv1alpha1.PhaseRunning {
		// Reports belong to a running attempt; what is left of an ended one is dropped.
		r.dropReports(key)
	}
	// Admission learns the job's new state only once it is stored: a finished job frees its slot
	// after its status says so, never before, so the next job's Running never overlaps it.
	r.Admission.Observe(r.jobView(job, qkey, res.Handler, &job.Status, waiting))

	switch res.Action {
	case lifecycle.Start:
		log.V(2).Info("starting attempt", "attempt", res.Attempt, "target", res.Target.Kind)
		if err := r.executorFor(res.Target).Start(ctx, job, res.Target, res.Attempt); err != nil {
			return ctrl.Result{}, err
		}
	case lifecycle.Stop:
		log.V(2).Info("stopping attempt", "attempt", res.Attempt)
		if err := exec.Stop(ctx, job, res.Attempt); err != nil {
			return ctrl.Result{}, err
		}
	case lifecycle.Notify:
		if r.Hooks != nil {
			body, err := executor.NotifyBody(job)
			if err != nil {
				return ctrl.Result{}, fmt.Errorf("encoding the completion callback: %w", err)
			}
			log.V(2).Info("sending the completion callback")
			if err := r.Hooks.Notify(ctx, job, job.Spec.Notify.Webhook, body); err != nil {
				return ctrl.Result{}, err
			}
		}
	case lifecycle.Delete:
		log.V(2).Info("deleting the finished job: its time to live has passed")
		uid := job.UID
		if err := r.Client.Delete(ctx, job, client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("deleting the finished job: %w", err)
		}
	case lifecycle.NotifyRecorded:
		if r.Hooks != nil {
			r.Hooks.ForgetNotify(job.UID)
		}
	}
	if lifecycle.IsFinished(&job.Status) && res.Action != lifecycle.Stop {
		exec.Forget(job.UID)
	}
	if !res.RequeueAt.IsZero() {
		return ctrl.Result{RequeueAfter: wakeAfter(r.Clock, res.RequeueAt, func() { r.notify(key) })}, nil
	}
	return ctrl.Result{}, nil
}

func (r *QueueJobReconciler) dropReports(key types.NamespacedName) {
	if r.Reports != nil {
		r.Reports.Drop(key)
	}
}

func (r *QueueJobReconciler) executorFor(t attempt.Target) executor.Executor {
	if e := r.Executors[t.Kind]; e != nil {
		return e
	}
	return r.Executors[attempt.KindPod]
}

// queueView reads the job's queue from the cache and makes sure admission knows the queue and
// its current limits.
func (r *QueueJobReconciler) queueView(ctx context.Context, job *kickqv1alpha1.QueueJob) (lifecycle.QueueView, admission.QueueKey, error) {
	qkey := admission.QueueKey{Namespace: job.Namespace, Name: job.Spec.QueueName}
	var q kickqv1alpha1.Queue
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: job.Namespace, Name: job.Spec.QueueName}, &q)
	var qv lifecycle.QueueView
	gen := int64(-2) // no queue
	switch {
	case err == nil:
		qv.Spec = &q.Spec
		gen = q.Generation
	case apierrors.IsNotFound(err):
		if job.Spec.QueueName == kickqv1alpha1.DefaultQueueName {
			qv.Implicit = true
			gen = -1
		}
	default:
		return qv, qkey, err
	}
	r.Admission.EnsureQueue(qkey, func() []admission.JobView { return r.listViews(ctx, qkey, qv) })
	r.mu.Lock()
	known, ok := r.limitsFrom[qkey]
	if !ok || known != gen {
		r.limitsFrom[qkey] = gen
	}
	r.mu.Unlock()
	if !ok || known != gen {
		r.Admission.SetLimits(qkey, LimitsOf(qv.Spec))
	}
	return qv, qkey, nil
}

// listViews lists the queue's jobs from the cache, for admission's rebuild.
func (r *QueueJobReconciler) listViews(ctx context.Context, qkey admission.QueueKey, qv lifecycle.QueueView) []admission.JobView {
	var list kickqv1alpha1.QueueJobList
	if err := r.Client.List(ctx, &list, client.InNamespace(qkey.Namespace), client.MatchingFields{QueueNameIndex: qkey.Name}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing jobs of queue", "queue", qkey.Name)
		return nil
	}
	views := make([]admission.JobView, 0, len(list.Items))
	for i := range list.Items {
		j := &list.Items[i]
		if j.Spec.Cron != nil {
			continue
		}
		t, _, _ := lifecycle.ResolveTarget(j, qv)
		waiting := j.Status.Phase == kickqv1alpha1.PhasePending && !suspended(j)
		views = append(views, r.jobView(j, qkey, t.Handler, &j.Status, waiting))
	}
	return views
}

func suspended(j *kickqv1alpha1.QueueJob) bool { return j.Spec.Suspend != nil && *j.Spec.Suspend }

// jobView is what admission needs of a job with status st.
func (r *QueueJobReconciler) jobView(job *kickqv1alpha1.QueueJob, qkey admission.QueueKey, handler string, st *kickqv1alpha1.QueueJobStatus, waiting bool) admission.JobView {
	v := admission.JobView{
		Key:          client.ObjectKeyFromObject(job),
		Queue:        qkey,
		Handler:      handler,
		CreationTime: job.CreationTimestamp.Time,
		ReadyTime:    job.CreationTimestamp.Time,
		Attempts:     st.Attempts,
		State:        admission.Idle,
	}
	if job.Spec.Priority != nil {
		v.Priority = *job.Spec.Priority
	}
	if st.ReadyTime != nil {
		v.ReadyTime = st.ReadyTime.Time
	}
	switch {
	case st.Phase == kickqv1alpha1.PhaseRunning:
		v.State = admission.Running
	case waiting:
		v.State = admission.Waiting
	}
	for _, a := range st.AttemptHistory {
		if a.StartTime != nil {
			v.AttemptStarts = append(v.AttemptStarts, a.StartTime.Time)
		}
	}
	return v
}

// LimitsOf converts a queue's spec to admission limits (nil: the implicit queue, no limits).
func LimitsOf(spec *kickqv1alpha1.QueueSpec) admission.Limits {
	var l admission.Limits
	if spec == nil {
		return l
	}
	l.Paused = spec.Paused != nil && *spec.Paused
	if spec.Concurrency != nil {
		l.Concurrency = *spec.Concurrency
	}
	l.Rate = rateOf(spec.RateLimit)
	l.Handlers = map[string]admission.HandlerLimits{}
	add := func(key string, h *kickqv1alpha1.HandlerSpec) {
		var hl admission.HandlerLimits
		if h.Concurrency != nil {
			hl.Concurrency = *h.Concurrency
		}
		hl.Rate = rateOf(h.RateLimit)
		if hl.Concurrency > 0 || hl.Rate != nil {
			l.Handlers[key] = hl
		}
	}
	for i := range spec.Handlers {
		add(spec.Handlers[i].Type, &spec.Handlers[i].HandlerSpec)
	}
	if spec.DefaultHandler != nil {
		add("", spec.DefaultHandler)
	}
	return l
}

func rateOf(rl *kickqv1alpha1.RateLimit) *admission.RateLimit {
	if rl == nil {
		return nil
	}
	return &admission.RateLimit{Limit: rl.Limit, Period: time.Duration(rl.PeriodSeconds) * time.Second}
}

// SetupWithManager registers the controller: QueueJobs, their pods, their queues, and admission's
// wake-ups.
func (r *QueueJobReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("queuejob").
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
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{QueueNameIndex: o.GetName()}); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if !lifecycle.IsFinished(&list.Items[i].Status) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}

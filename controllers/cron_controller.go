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
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/cron"
	"kickq.dev/kickq/internal/lifecycle"
)

// AnnotationScheduledTime records on a cron child the firing it was created for (RFC 3339).
const AnnotationScheduledTime = "kickq.dev/scheduled-time"

// Default history limits of a cron template's finished children.
const (
	defaultSuccessfulHistory = 3
	defaultFailedHistory     = 1
)

// CronReconciler drives cron templates (QueueJobs with spec.cron): one child QueueJob per firing,
// named <template>-<scheduled unix seconds>, so that a repeated create is AlreadyExists and never a
// second run. What it has fired is recorded in the template's status (lastScheduleTime), so a
// restart applies the missed-runs policy to what it did not see.
type CronReconciler struct {
	Client   client.Client
	Scheme   *runtime.Scheme
	Clock    Clock
	Recorder events.EventRecorder

	wake chan event.TypedGenericEvent[*kickqv1alpha1.QueueJob]
}

// NewCronReconciler returns a cron reconciler.
func NewCronReconciler(c client.Client, scheme *runtime.Scheme, clk Clock, rec events.EventRecorder) *CronReconciler {
	return &CronReconciler{Client: c, Scheme: scheme, Clock: clk, Recorder: rec,
		wake: make(chan event.TypedGenericEvent[*kickqv1alpha1.QueueJob], 1024)}
}

func (r *CronReconciler) notify(key types.NamespacedName) {
	j := &kickqv1alpha1.QueueJob{}
	j.Namespace, j.Name = key.Namespace, key.Name
	go func() { r.wake <- event.TypedGenericEvent[*kickqv1alpha1.QueueJob]{Object: j} }()
}

// Reconcile runs one pass for one template.
func (r *CronReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	t := &kickqv1alpha1.QueueJob{}
	if err := r.Client.Get(ctx, req.NamespacedName, t); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if t.Spec.Cron == nil || t.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithValues("template", klog.KObj(t)))
	return r.reconcile(ctx, t)
}

func (r *CronReconciler) reconcile(ctx context.Context, t *kickqv1alpha1.QueueJob) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	now := r.Clock.Now()
	st := t.Status.DeepCopy()
	st.ObservedGeneration = t.Generation
	c := t.Spec.Cron

	sched, err := cron.Parse(c)
	if err != nil {
		if st.Phase != kickqv1alpha1.PhaseFailed {
			r.Recorder.Eventf(t, nil, corev1.EventTypeWarning, kickqv1alpha1.ReasonInvalidSpec, kickqv1alpha1.ReasonInvalidSpec, "%s", err.Error())
		}
		st.Phase, st.Reason, st.Message = kickqv1alpha1.PhaseFailed, kickqv1alpha1.ReasonInvalidSpec, err.Error()
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: kickqv1alpha1.JobFailed, Status: metav1.ConditionTrue,
			Reason: kickqv1alpha1.ReasonInvalidSpec, Message: err.Error(), LastTransitionTime: metav1.NewTime(now)})
		st.NextScheduleTime = nil
		return ctrl.Result{}, r.writeStatus(ctx, t, st)
	}

	children, err := r.children(ctx, t)
	if err != nil {
		return ctrl.Result{}, err
	}
	active := r.observeChildren(st, children)
	if err := r.trimHistory(ctx, c, children); err != nil {
		return ctrl.Result{}, err
	}

	// kickq.dev/run-now=<new value>: one child now, even while suspended.
	if v := t.Annotations[kickqv1alpha1.AnnotationRunNow]; v != "" && v != st.LastHandledRunNow {
		fired := false
		for i := range children {
			// A pass whose status write did not land fired it already.
			fired = fired || children[i].Annotations[kickqv1alpha1.AnnotationRunNow] == v
		}
		if !fired {
			name, err := r.fire(ctx, t, now, v)
			if err != nil {
				return ctrl.Result{}, err
			}
			active = append(active, name)
		}
		st.LastHandledRunNow = v
	}

	st.Phase, st.Reason = kickqv1alpha1.PhaseScheduled, ""
	last := t.CreationTimestamp.Time
	if st.LastScheduleTime != nil {
		last = st.LastScheduleTime.Time
	}
	if c.Suspend != nil && *c.Suspend {
		// Firings during the suspension are not recorded: on resume, missedRuns decides.
		st.Message = "suspended by spec.cron.suspend"
		st.NextScheduleTime = nil
		st.Active = active
		return ctrl.Result{}, r.writeStatus(ctx, t, st)
	}

	existing := map[string]bool{}
	for i := range children {
		existing[children[i].Name] = true
	}
	plan := cron.Decide(sched, c, last, now)
	for _, at := range plan.Run {
		if existing[cron.ChildName(t.Name, at)] {
			// Fired already by a pass whose status write did not land (or is not in the cache
			// yet): not a new firing, so no concurrency decision and no second child.
			continue
		}
		switch cron.ForConcurrency(c.ConcurrencyPolicy, len(active)) {
		case cron.Skip:
			plan.Skipped++
			log.V(2).Info("firing skipped: a child still runs (concurrencyPolicy Forbid)", "scheduled", at)
			continue
		case cron.ReplaceRunning:
			if err := r.cancel(ctx, t.Namespace, active); err != nil {
				return ctrl.Result{}, err
			}
			active = nil
		}
		name, err := r.fire(ctx, t, at, "")
		if err != nil {
			return ctrl.Result{}, err
		}
		active = append(active, name)
	}
	st.MissedRuns += plan.Skipped
	if !plan.Latest.IsZero() {
		st.LastScheduleTime = &metav1.Time{Time: plan.Latest}
	}
	st.NextScheduleTime = &metav1.Time{Time: plan.Next}
	st.Active = active
	st.Message = "next firing at " + plan.Next.UTC().Format(time.RFC3339)
	if err := r.writeStatus(ctx, t, st); err != nil {
		return ctrl.Result{}, err
	}
	if plan.Skipped > 0 {
		r.Recorder.Eventf(t, nil, corev1.EventTypeWarning, "MissedRuns", "MissedRuns", "%d firings did not run (missedRuns %s, concurrencyPolicy %s)",
			plan.Skipped, c.MissedRuns, c.ConcurrencyPolicy)
	}
	key := client.ObjectKeyFromObject(t)
	return ctrl.Result{RequeueAfter: wakeAfter(r.Clock, plan.Next, func() { r.notify(key) })}, nil
}

// writeStatus writes the template's status if it changed.
func (r *CronReconciler) writeStatus(ctx context.Context, t *kickqv1alpha1.QueueJob, st *kickqv1alpha1.QueueJobStatus) error {
	if equality.Semantic.DeepEqual(&t.Status, st) {
		return nil
	}
	u := t.DeepCopy()
	u.Status = *st
	if err := r.Client.Status().Update(ctx, u); err != nil {
		return fmt.Errorf("writing the template's status: %w", err)
	}
	t.Status = u.Status
	return nil
}

// children lists the template's children from the cache.
func (r *CronReconciler) children(ctx context.Context, t *kickqv1alpha1.QueueJob) ([]kickqv1alpha1.QueueJob, error) {
	var l kickqv1alpha1.QueueJobList
	if err := r.Client.List(ctx, &l, client.InNamespace(t.Namespace), client.MatchingLabels{kickqv1alpha1.LabelScheduledBy: t.Name}); err != nil {
		return nil, err
	}
	out := l.Items[:0]
	for _, c := range l.Items {
		if metav1.IsControlledBy(&c, t) {
			out = append(out, c)
		}
	}
	return out, nil
}

// observeChildren returns the unfinished children's names and records the last success.
func (r *CronReconciler) observeChildren(st *kickqv1alpha1.QueueJobStatus, children []kickqv1alpha1.QueueJob) []string {
	var active []string
	for i := range children {
		c := &children[i]
		switch {
		case !lifecycle.IsFinished(&c.Status):
			if c.DeletionTimestamp == nil {
				active = append(active, c.Name)
			}
		case c.Status.Phase == kickqv1alpha1.PhaseSucceeded && c.Status.FinishTime != nil:
			if st.LastSuccessfulTime == nil || c.Status.FinishTime.After(st.LastSuccessfulTime.Time) {
				st.LastSuccessfulTime = c.Status.FinishTime.DeepCopy()
			}
		}
	}
	sort.Strings(active)
	return active
}

// fire creates the child of the firing at `at`. A child that exists already (a repeated pass, a
// restart before the status write) is the same firing: nothing more is created.
// runNow, when set, is the kickq.dev/run-now value that asked for this child; it is recorded on it.
func (r *CronReconciler) fire(ctx context.Context, t *kickqv1alpha1.QueueJob, at time.Time, runNow string) (string, error) {
	child := &kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{
		Name:        cron.ChildName(t.Name, at),
		Namespace:   t.Namespace,
		Labels:      map[string]string{},
		Annotations: map[string]string{AnnotationScheduledTime: at.UTC().Format(time.RFC3339)},
	}}
	for k, v := range t.Labels {
		child.Labels[k] = v
	}
	child.Labels[kickqv1alpha1.LabelScheduledBy] = t.Name
	if runNow != "" {
		child.Annotations[kickqv1alpha1.AnnotationRunNow] = runNow
	}
	child.Spec = *t.Spec.DeepCopy()
	child.Spec.Cron = nil
	if err := controllerutil.SetControllerReference(t, child, r.Scheme); err != nil {
		return "", err
	}
	if err := r.Client.Create(ctx, child); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return child.Name, nil
		}
		return "", fmt.Errorf("creating child %s: %w", child.Name, err)
	}
	ctrl.LoggerFrom(ctx).V(2).Info("fired", "child", child.Name, "scheduled", at, "runNow", runNow)
	return child.Name, nil
}

// cancel sets spec.cancel on running children (concurrencyPolicy Replace): the lifecycle stops
// their attempt and ends them Failed/Cancelled.
func (r *CronReconciler) cancel(ctx context.Context, ns string, names []string) error {
	for _, n := range names {
		c := &kickqv1alpha1.QueueJob{}
		c.Namespace, c.Name = ns, n
		patch := []byte(`{"spec":{"cancel":true}}`)
		if err := r.Client.Patch(ctx, c, client.RawPatch(types.MergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("cancelling child %s (concurrencyPolicy Replace): %w", n, err)
		}
	}
	return nil
}

// trimHistory deletes the oldest finished children beyond the history limits.
func (r *CronReconciler) trimHistory(ctx context.Context, c *kickqv1alpha1.CronSpec, children []kickqv1alpha1.QueueJob) error {
	limit := func(p *int32, def int) int {
		if p != nil {
			return int(*p)
		}
		return def
	}
	for _, g := range []struct {
		phase kickqv1alpha1.QueueJobPhase
		keep  int
	}{
		{kickqv1alpha1.PhaseSucceeded, limit(c.SuccessfulJobsHistoryLimit, defaultSuccessfulHistory)},
		{kickqv1alpha1.PhaseFailed, limit(c.FailedJobsHistoryLimit, defaultFailedHistory)},
	} {
		if _, err := deleteOldestFinished(ctx, r.Client, children, g.phase, g.keep, len(children)); err != nil {
			return err
		}
	}
	return nil
}

// isTemplate passes cron templates only.
var isTemplate = predicate.NewPredicateFuncs(func(o client.Object) bool {
	j, ok := o.(*kickqv1alpha1.QueueJob)
	return ok && j.Spec.Cron != nil
})

// SetupWithManager registers the controller: templates, their children, and timer wake-ups.
func (r *CronReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("cron").
		// Its own status writes do not wake a template: spec changes (suspend) and annotations
		// (run-now) do, as do its children and its timer.
		For(&kickqv1alpha1.QueueJob{}, builder.WithPredicates(isTemplate,
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&kickqv1alpha1.QueueJob{}, handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &kickqv1alpha1.QueueJob{}, handler.OnlyControllerOwner()),
			builder.WithPredicates(finishedChanged)).
		WatchesRawSource(source.Channel(r.wake, &handler.TypedEnqueueRequestForObject[*kickqv1alpha1.QueueJob]{})).
		Complete(r)
}

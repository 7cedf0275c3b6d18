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
	"slices"
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
	"kickq.dev/kickq/internal/metrics"
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
	// fired remembers the children this process created whose firing the template's status does
	// not record yet (cron_fired.go).
	fired firedChildren
}

// NewCronReconciler returns a cron reconciler.
func NewCronReconciler(c client.Client, scheme *runtime.Scheme, clk Clock, rec events.EventRecorder) *CronReconciler {
	return &CronReconciler{Client: c, Scheme: scheme, Clock: clk, Recorder: rec,
		wake: make(chan event.TypedGenericEvent[*kickqv1alpha1.QueueJob], 1024), fired: firedChildren{m: map[types.NamespacedName]map[string]string{}}}
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
		if apierrors.IsNotFound(err) {
			r.fired.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if t.Spec.Cron == nil || t.DeletionTimestamp != nil {
		r.fired.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithValues("template", klog.KObj(t)))
	return r.reconcile(ctx, t)
}

// reconcile observes the template's children, plans the pass, creates and cancels children,
// writes the status once, emits the pass's events, and trims the history, in that order.
//
// Children are created before the status that records their firing (lastScheduleTime) is
// written: a firing recorded before its child exists would be lost if the manager stopped between
// the two. The other way round, a child whose status write did not land is found by its
// deterministic name on the next pass, and that firing is neither fired twice nor decided again.
//
// A pass that created children leaves the status write to a second pass it queues at once
// (behind the templates already queued): when many templates fire at the same instant, every
// child is created before any of their status writes, the costlier request, is sent. The second
// pass sees the children it created even before the cache does (r.fired).
func (r *CronReconciler) reconcile(ctx context.Context, t *kickqv1alpha1.QueueJob) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	children, err := r.children(ctx, t)
	if err != nil {
		return ctrl.Result{}, err
	}
	key := client.ObjectKeyFromObject(t)
	now := r.Clock.Now()
	seen := observeChildren(children)
	r.fired.addTo(key, &seen)
	p := planCron(t, seen, now)
	for _, at := range p.forbidden {
		log.V(2).Info("firing skipped: a child still runs (concurrencyPolicy Forbid)", "scheduled", at)
	}
	if len(p.actions) > 0 {
		err := r.act(ctx, t, key, p.actions)
		r.notify(key) // the status write, after the children other templates fire now
		return ctrl.Result{}, err
	}
	lifecycle.SetHealth(&p.status, now)
	if err := r.writeStatus(ctx, t, &p.status); err != nil {
		return ctrl.Result{}, err
	}
	r.fired.forget(key)
	metrics.CronFired(metrics.FiringMissed, int(p.missed))
	metrics.CronFired(metrics.FiringSkipped, len(p.forbidden))
	for _, e := range p.events {
		r.Recorder.Eventf(t, nil, e.Type, e.Reason, e.Reason, "%s", e.Note)
	}
	if p.trim {
		if err := r.trimHistory(ctx, t.Spec.Cron, children); err != nil {
			return ctrl.Result{}, err
		}
	}
	if !p.timer {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: wakeAfter(r.Clock, p.next, func() { r.notify(key) })}, nil
}

// cronChildren is what a pass sees of a template's children.
type cronChildren struct {
	// Existing names every child: a firing whose child exists has fired.
	Existing map[string]bool
	// RunNow holds the kickq.dev/run-now values children were created for.
	RunNow map[string]bool
	// Active names the unfinished children not being deleted, sorted.
	Active []string
	// LastSuccess is the latest finish time of a succeeded child.
	LastSuccess *metav1.Time
}

// observeChildren summarizes the template's children for planCron.
func observeChildren(children []kickqv1alpha1.QueueJob) cronChildren {
	seen := cronChildren{Existing: map[string]bool{}, RunNow: map[string]bool{}}
	for i := range children {
		c := &children[i]
		seen.Existing[c.Name] = true
		if v := c.Annotations[kickqv1alpha1.AnnotationRunNow]; v != "" {
			seen.RunNow[v] = true
		}
		switch {
		case !lifecycle.IsFinished(&c.Status):
			if c.DeletionTimestamp == nil {
				seen.Active = append(seen.Active, c.Name)
			}
		case c.Status.Phase == kickqv1alpha1.PhaseSucceeded && c.Status.FinishTime != nil:
			if seen.LastSuccess == nil || c.Status.FinishTime.After(seen.LastSuccess.Time) {
				seen.LastSuccess = c.Status.FinishTime.DeepCopy()
			}
		}
	}
	sort.Strings(seen.Active)
	return seen
}

// cronPlan is what one pass does for a template.
type cronPlan struct {
	// actions are the children to create, each after cancelling the ones it replaces, in order.
	actions []cronAction
	// status is the template's status to write.
	status kickqv1alpha1.QueueJobStatus
	// events are emitted once status is written.
	events []cronEvent
	// forbidden are the firings skipped because a child still runs (concurrencyPolicy Forbid).
	forbidden []time.Time
	// missed counts the firings the missedRuns policy dropped.
	missed int64
	// trim: the history limits apply (not while the spec is invalid).
	trim bool
	// timer: wake the template at next.
	timer bool
	next  time.Time
}

// cronAction creates one child, after cancelling the running children it replaces
// (concurrencyPolicy Replace).
type cronAction struct {
	Cancel []string
	Create cronChild
}

// cronChild is the child of one firing.
type cronChild struct {
	Name string
	At   time.Time
	// RunNow is the kickq.dev/run-now value that asked for the child, if one did.
	RunNow string
}

// cronEvent is an Event about the template.
type cronEvent struct {
	Type, Reason, Note string
}

// planCron decides a pass for template t from what it sees of its children, at now. It does no
// I/O.
func planCron(t *kickqv1alpha1.QueueJob, seen cronChildren, now time.Time) cronPlan {
	st := t.Status.DeepCopy()
	st.ObservedGeneration = t.Generation
	c := t.Spec.Cron
	sched, err := cron.Parse(c)
	if err != nil {
		return planInvalid(st, err, now)
	}
	p := cronPlan{trim: true}
	if seen.LastSuccess != nil && (st.LastSuccessfulTime == nil || seen.LastSuccess.After(st.LastSuccessfulTime.Time)) {
		st.LastSuccessfulTime = seen.LastSuccess.DeepCopy()
	}
	active := slices.Clone(seen.Active)

	// kickq.dev/run-now=<new value>: one child now, even while suspended.
	if v := t.Annotations[kickqv1alpha1.AnnotationRunNow]; v != "" && v != st.LastHandledRunNow {
		// A child made for v means a pass whose status write did not land fired it already.
		if !seen.RunNow[v] {
			name := cron.ChildName(t.Name, now)
			p.actions = append(p.actions, cronAction{Create: cronChild{Name: name, At: now, RunNow: v}})
			active = append(active, name)
		}
		st.LastHandledRunNow = v
	}

	st.Phase, st.Reason = kickqv1alpha1.PhaseScheduled, ""
	if c.Suspend != nil && *c.Suspend {
		// Firings during the suspension are not recorded: on resume, missedRuns decides.
		st.Message = "suspended by spec.cron.suspend"
		st.NextScheduleTime = nil
		st.Active = active
		p.status = *st
		return p
	}

	last := t.CreationTimestamp.Time
	if st.LastScheduleTime != nil {
		last = st.LastScheduleTime.Time
	}
	d := cron.Decide(sched, c, last, now)
	skipped := d.Skipped
	for _, at := range d.Run {
		a := cronAction{Create: cronChild{Name: cron.ChildName(t.Name, at), At: at}}
		if seen.Existing[a.Create.Name] {
			// Fired already by a pass whose status write did not land (or is not in the cache
			// yet): not a new firing, so no concurrency decision and no second child.
			continue
		}
		switch cron.ForConcurrency(c.ConcurrencyPolicy, len(active)) {
		case cron.Skip:
			skipped++
			p.forbidden = append(p.forbidden, at)
			continue
		case cron.ReplaceRunning:
			a.Cancel, active = active, nil
		}
		p.actions = append(p.actions, a)
		active = append(active, a.Create.Name)
	}
	st.MissedRuns += skipped
	p.missed = d.Skipped
	if !d.Latest.IsZero() {
		st.LastScheduleTime = &metav1.Time{Time: d.Latest}
	}
	st.NextScheduleTime = &metav1.Time{Time: d.Next}
	st.Active = active
	st.Message = "next firing at " + d.Next.UTC().Format(time.RFC3339)
	p.status = *st
	if skipped > 0 {
		p.events = append(p.events, cronEvent{Type: corev1.EventTypeWarning, Reason: kickqv1alpha1.EventReasonMissedRuns,
			Note: fmt.Sprintf("%d firings did not run (missedRuns %s, concurrencyPolicy %s)", skipped, c.MissedRuns, c.ConcurrencyPolicy)})
	}
	p.timer, p.next = true, d.Next
	return p
}

// planInvalid fails a template whose schedule or time zone does not parse; the Event is new only
// when it was not failed already.
func planInvalid(st *kickqv1alpha1.QueueJobStatus, err error, now time.Time) cronPlan {
	var p cronPlan
	if st.Phase != kickqv1alpha1.PhaseFailed {
		p.events = append(p.events, cronEvent{Type: corev1.EventTypeWarning, Reason: kickqv1alpha1.ReasonInvalidSpec, Note: err.Error()})
	}
	st.Phase, st.Reason, st.Message = kickqv1alpha1.PhaseFailed, kickqv1alpha1.ReasonInvalidSpec, err.Error()
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: kickqv1alpha1.JobFailed, Status: metav1.ConditionTrue,
		Reason: kickqv1alpha1.ReasonInvalidSpec, Message: err.Error(), LastTransitionTime: metav1.NewTime(now)})
	st.NextScheduleTime = nil
	p.status = *st
	return p
}

// act creates and cancels children as planned. Both are idempotent: a child that exists is the
// same firing, and a cancelled or missing child is left as it is.
func (r *CronReconciler) act(ctx context.Context, t *kickqv1alpha1.QueueJob, key types.NamespacedName, actions []cronAction) error {
	for _, a := range actions {
		if err := r.cancel(ctx, t.Namespace, a.Cancel); err != nil {
			return err
		}
		if err := r.fire(ctx, t, a.Create); err != nil {
			return err
		}
		r.fired.add(key, a.Create)
	}
	return nil
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
		return nil, fmt.Errorf("listing the template's children: %w", err)
	}
	out := l.Items[:0]
	for _, c := range l.Items {
		if metav1.IsControlledBy(&c, t) {
			out = append(out, c)
		}
	}
	return out, nil
}

// fire creates the child of a firing. A child that exists already (a repeated pass, a restart
// before the status write) is the same firing: nothing more is created.
func (r *CronReconciler) fire(ctx context.Context, t *kickqv1alpha1.QueueJob, c cronChild) error {
	child := &kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{
		Name:        c.Name,
		Namespace:   t.Namespace,
		Labels:      map[string]string{},
		Annotations: map[string]string{AnnotationScheduledTime: c.At.UTC().Format(time.RFC3339)},
	}}
	for k, v := range t.Labels {
		child.Labels[k] = v
	}
	child.Labels[kickqv1alpha1.LabelScheduledBy] = t.Name
	if c.RunNow != "" {
		child.Annotations[kickqv1alpha1.AnnotationRunNow] = c.RunNow
	}
	child.Spec = *t.Spec.DeepCopy()
	child.Spec.Cron = nil
	if err := controllerutil.SetControllerReference(t, child, r.Scheme); err != nil {
		return fmt.Errorf("setting the owner of child %s: %w", child.Name, err)
	}
	if err := r.Client.Create(ctx, child); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return fmt.Errorf("creating child %s: %w", child.Name, err)
	}
	metrics.CronFired(firingResult(t.Spec.Cron, c.At, r.Clock.Now()), 1)
	ctrl.LoggerFrom(ctx).V(2).Info("fired", "child", child.Name, "scheduled", c.At, "runNow", c.RunNow)
	return nil
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
		WithOptions(fairQueue).
		// Its own status writes do not wake a template: spec changes (suspend) and annotations
		// (run-now) do, as do its children and its timer.
		For(&kickqv1alpha1.QueueJob{}, builder.WithPredicates(isTemplate,
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&kickqv1alpha1.QueueJob{}, handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &kickqv1alpha1.QueueJob{}, handler.OnlyControllerOwner()),
			builder.WithPredicates(finishedChanged)).
		WatchesRawSource(source.Channel(r.wake, &handler.TypedEnqueueRequestForObject[*kickqv1alpha1.QueueJob]{})).
		Complete(r)
}

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

package kickq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// Result is how a job ended, as Wait saw it.
type Result struct {
	// Namespace and Name are the job's.
	Namespace, Name string
	// UID is the job's UID: a later job of the same name has another.
	UID types.UID
	// Phase is Succeeded or Failed.
	Phase kickqv1alpha1.QueueJobPhase
	// Reason is status.reason: Completed for a success; why it failed otherwise.
	Reason string
	// Message is status.message.
	Message string
	// Attempts is the number of attempts started; FailedAttempts the counted failures among them.
	Attempts, FailedAttempts int32
	// Result is what the successful attempt returned (status.result, any JSON value); empty when
	// it returned nothing.
	Result json.RawMessage
	// FinishTime is when the job finished (status.finishTime).
	FinishTime time.Time
	// Job is the job's last state that Wait saw.
	Job *kickqv1alpha1.QueueJob
}

// Succeeded reports whether the job succeeded.
func (r *Result) Succeeded() bool { return r.Phase == kickqv1alpha1.PhaseSucceeded }

// Err is nil for a job that succeeded, and its *FailedError for one that failed.
func (r *Result) Err() error {
	if r.Succeeded() {
		return nil
	}
	return r.failedError()
}

// Into decodes the job's result into v (a pointer), as encoding/json does. For a job that failed
// it returns its *FailedError and leaves v alone; a job that returned no result leaves v alone.
func (r *Result) Into(v any) error {
	if err := r.Err(); err != nil {
		return err
	}
	if len(r.Result) == 0 {
		return nil
	}
	if err := json.Unmarshal(r.Result, v); err != nil {
		return fmt.Errorf("kickq: decoding the result of job %s/%s: %w", r.Namespace, r.Name, err)
	}
	return nil
}

func (r *Result) failedError() *FailedError {
	e := &FailedError{Namespace: r.Namespace, Name: r.Name, Reason: r.Reason, Message: r.Message, Attempts: r.Attempts}
	for i := range r.Job.Status.AttemptHistory {
		a := &r.Job.Status.AttemptHistory[i]
		if e.LastAttempt == nil || a.Number > e.LastAttempt.Number {
			e.LastAttempt = a
		}
	}
	if e.LastAttempt != nil {
		e.LastAttempt = e.LastAttempt.DeepCopy()
	}
	return e
}

// Wait blocks until the job namespace/name is Succeeded or Failed and returns how it ended. For
// a Failed job it returns the Result and its *FailedError. It returns ctx.Err() when ctx ends
// first, and an error for which apierrors.IsNotFound is true when the job is gone without Wait
// having seen it finish (see the package documentation for the rules).
func (c *Client) Wait(ctx context.Context, namespace, name string) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	wc, ok := c.client.(client.WithWatch)
	if !ok {
		return nil, ErrCannotWatch
	}
	if err := c.checkScheme(); err != nil {
		return nil, err
	}
	w := &waiter{c: wc, key: client.ObjectKey{Namespace: namespace, Name: name}, pause: c.pause}
	job := &kickqv1alpha1.QueueJob{}
	if err := wc.Get(ctx, w.key, job); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("kickq: waiting for job %s: %w", w.key, err)
	}
	if job.Spec.Cron != nil {
		return nil, fmt.Errorf("kickq: job %s is a cron template (spec.cron): it never finishes; wait for its children (label %s=%s)",
			w.key, kickqv1alpha1.LabelScheduledBy, name)
	}
	w.uid, w.rv = job.UID, job.ResourceVersion
	final, err := w.untilFinished(ctx, job)
	if err != nil {
		return nil, err
	}
	res := resultOf(final)
	return res, res.Err()
}

// waiter follows one job until it finishes.
type waiter struct {
	c     client.WithWatch
	key   client.ObjectKey
	uid   types.UID
	pause func(ctx context.Context, n int) error
	// rv is the resourceVersion to watch from: the job's as first read, then the newest one an
	// event or bookmark carried, or a re-read list's.
	rv string
	// failures counts transient errors in a row.
	failures int
}

// untilFinished returns the job's first terminal state after (or in) job, watching from the
// read's resourceVersion and reading the job again whenever the watch cannot resume.
func (w *waiter) untilFinished(ctx context.Context, job *kickqv1alpha1.QueueJob) (*kickqv1alpha1.QueueJob, error) {
	for {
		if finished(job) {
			return job, nil
		}
		next, err := w.watch(ctx)
		switch {
		case err == nil && next != nil:
			return next, nil
		case err == nil: // the watch cannot resume from w.rv: read the job again
			if job, err = w.relist(ctx); err != nil {
				return nil, err
			}
		default:
			return nil, err
		}
	}
}

// watch watches the job from w.rv, reopening the watch where it ended, until the job finishes
// (the job), it is gone (an error), or the watch expired (nil, nil).
func (w *waiter) watch(ctx context.Context) (*kickqv1alpha1.QueueJob, error) {
	for {
		wi, err := w.c.Watch(ctx, &kickqv1alpha1.QueueJobList{}, client.InNamespace(w.key.Namespace),
			client.MatchingFields{"metadata.name": w.key.Name},
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: w.rv, AllowWatchBookmarks: true}})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if isExpired(err) {
				return nil, nil
			}
			if err := w.retry(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		from := w.rv
		job, expired, err := w.follow(ctx, wi)
		wi.Stop()
		if job != nil || err != nil || expired {
			return job, err
		}
		// The server ended the watch (its timeout, a lost connection): resume from w.rv, after a
		// pause if the watch brought nothing, so that a server closing watches at once is not
		// asked again in a tight loop.
		if w.rv == from {
			w.failures++
			if err := w.pause(ctx, w.failures); err != nil {
				return nil, err
			}
		}
	}
}

// follow reads one watch's events until the job finishes or is gone, the watch expires, or it
// closes (all three nil).
func (w *waiter) follow(ctx context.Context, wi watch.Interface) (job *kickqv1alpha1.QueueJob, expired bool, err error) {
	for {
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return nil, false, nil
			}
			switch ev.Type {
			case watch.Error:
				if isExpired(apierrors.FromObject(ev.Object)) {
					return nil, true, nil
				}
				// Any other error event ends this watch; resume it after a pause.
				if err := w.retry(ctx, apierrors.FromObject(ev.Object)); err != nil {
					return nil, false, err
				}
				return nil, false, nil
			case watch.Bookmark:
				if m, err := apimeta.Accessor(ev.Object); err == nil {
					w.rv = m.GetResourceVersion()
				}
			case watch.Added, watch.Modified, watch.Deleted:
				j, ok := ev.Object.(*kickqv1alpha1.QueueJob)
				if !ok {
					continue
				}
				w.failures = 0
				if j.UID != w.uid {
					return nil, false, w.gone("was replaced by another job of the same name before it finished")
				}
				w.rv = j.ResourceVersion
				if finished(j) {
					// Also for DELETED: the event carries the job's last state.
					return j, false, nil
				}
				if ev.Type == watch.Deleted {
					return nil, false, w.gone(fmt.Sprintf("was deleted before it finished (phase %q)", j.Status.Phase))
				}
			}
		}
	}
}

// read lists the job by name (nil when there is none) and sets w.rv to the list's
// resourceVersion, the API server's current one: a watch from there misses nothing after the read
// and cannot be too old, as a watch from the version of a job unchanged for longer than the API
// server keeps watch history is (410 Gone).
func (w *waiter) read(ctx context.Context) (*kickqv1alpha1.QueueJob, error) {
	list := &kickqv1alpha1.QueueJobList{}
	if err := w.c.List(ctx, list, client.InNamespace(w.key.Namespace), client.MatchingFields{"metadata.name": w.key.Name}); err != nil {
		return nil, err
	}
	w.rv = list.ResourceVersion
	for i := range list.Items {
		if list.Items[i].Name == w.key.Name {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

// relist reads the job again after its watch expired (410 Gone): the job's own resourceVersion
// was older than the API server's watch history, or a watch was reopened too late.
func (w *waiter) relist(ctx context.Context) (*kickqv1alpha1.QueueJob, error) {
	for {
		job, err := w.read(ctx)
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err == nil && job == nil:
			return nil, w.gone("was deleted while its watch was being renewed: how it ended is unknown")
		case err == nil && job.UID != w.uid:
			return nil, w.gone("was replaced by another job of the same name before Wait saw it finish")
		case err == nil:
			return job, nil
		}
		if err := w.retry(ctx, err); err != nil {
			return nil, err
		}
	}
}

// retry pauses before trying again after a transient error, and returns what is not transient.
func (w *waiter) retry(ctx context.Context, err error) error {
	if !transient(err) {
		return fmt.Errorf("kickq: waiting for job %s: %w", w.key, err)
	}
	w.failures++
	return w.pause(ctx, w.failures)
}

// gone is the NotFound error of a job that Wait did not see finish.
func (w *waiter) gone(why string) error {
	return fmt.Errorf("kickq: job %s %s: %w", w.key, why,
		apierrors.NewNotFound(kickqv1alpha1.Resource("queuejobs"), w.key.Name))
}

// isExpired reports a watch that cannot resume from its resourceVersion (410 Gone / Expired).
func isExpired(err error) bool {
	return apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
}

// transient reports errors worth retrying: the API server is busy, restarting or unreachable.
// Answers such as Forbidden or NotFound (no such resource: the CRDs are missing) are final.
func transient(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true // a connection error
	}
	code := status.Status().Code
	return code == http.StatusTooManyRequests || code >= http.StatusInternalServerError ||
		apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err)
}

// finished reports whether the job is terminal: its phase, or the Complete or Failed condition
// (the source of truth).
func finished(j *kickqv1alpha1.QueueJob) bool {
	return succeeded(j) || failed(j)
}

func succeeded(j *kickqv1alpha1.QueueJob) bool {
	return j.Status.Phase == kickqv1alpha1.PhaseSucceeded ||
		apimeta.IsStatusConditionTrue(j.Status.Conditions, kickqv1alpha1.JobComplete)
}

func failed(j *kickqv1alpha1.QueueJob) bool {
	return j.Status.Phase == kickqv1alpha1.PhaseFailed ||
		apimeta.IsStatusConditionTrue(j.Status.Conditions, kickqv1alpha1.JobFailed)
}

func resultOf(j *kickqv1alpha1.QueueJob) *Result {
	r := &Result{
		Namespace: j.Namespace, Name: j.Name, UID: j.UID,
		Phase: kickqv1alpha1.PhaseFailed, Reason: j.Status.Reason, Message: j.Status.Message,
		Attempts: j.Status.Attempts, FailedAttempts: j.Status.FailedAttempts, Job: j,
	}
	if succeeded(j) {
		r.Phase = kickqv1alpha1.PhaseSucceeded
	}
	if j.Status.Result != nil && string(j.Status.Result.Raw) != "null" {
		r.Result = json.RawMessage(j.Status.Result.Raw)
	}
	if j.Status.FinishTime != nil {
		r.FinishTime = j.Status.FinishTime.Time
	}
	return r
}

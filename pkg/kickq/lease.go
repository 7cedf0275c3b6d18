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
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// staleLeaseAge is how long after its expiry a worker's Lease left behind (its process was
// killed) is deleted by the next worker that starts in the namespace. The manager has long failed
// its attempts by then: it does so within the lease duration, and treats a missing Lease as
// expired.
const staleLeaseAge = 10 * time.Minute

// lease is one worker process's coordination.k8s.io Lease: created before the first claim,
// renewed every third of its duration, deleted when the worker stops gracefully.
type lease struct {
	c        client.Client
	obj      *coordinationv1.Lease
	duration time.Duration
}

func newLease(namespace, name string, d time.Duration, now time.Time) *lease {
	t := metav1.NewMicroTime(now)
	return &lease{duration: d, obj: &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name,
			Labels: map[string]string{kickqv1alpha1.LabelWorker: "true"}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(name), LeaseDurationSeconds: ptr.To(int32(d / time.Second)),
			AcquireTime: &t, RenewTime: &t},
	}}
}

// create makes the Lease; another process holding the name is an error.
func (l *lease) create(ctx context.Context) error {
	if err := l.c.Create(ctx, l.obj); err != nil {
		return fmt.Errorf("creating worker lease %s: %w", l.obj.Name, err)
	}
	return nil
}

// renew sets renewTime to now. A conflict (someone else wrote the Lease) is read again and
// overwritten: the name is this process's own.
func (l *lease) renew(ctx context.Context, now time.Time) error {
	t := metav1.NewMicroTime(now)
	next := l.obj.DeepCopy()
	next.Spec.RenewTime = &t
	err := l.c.Update(ctx, next)
	if apierrors.IsConflict(err) {
		if err = l.c.Get(ctx, client.ObjectKeyFromObject(l.obj), next); err == nil {
			next.Spec.RenewTime = &t
			err = l.c.Update(ctx, next)
		}
	}
	if apierrors.IsNotFound(err) {
		// Deleted under us (by hand): the manager treats our claims as lost; recreate so that new
		// claims are alive. The task contexts of the old ones end through their jobs' status.
		next = newLease(l.obj.Namespace, l.obj.Name, l.duration, now).obj
		err = l.c.Create(ctx, next)
	}
	if err != nil {
		return fmt.Errorf("renewing worker lease %s: %w", l.obj.Name, err)
	}
	l.obj = next
	return nil
}

// remove deletes the Lease once the worker stopped and released its tasks.
func (l *lease) remove(ctx context.Context) error {
	if err := l.c.Delete(ctx, l.obj); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting worker lease %s: %w", l.obj.Name, err)
	}
	return nil
}

// deleteStaleLeases deletes the Leases of kickq workers in the namespace that expired over
// staleLeaseAge ago (their processes were killed). Each delete is conditional on the Lease's
// resourceVersion, so a Lease renewed meanwhile stays. Errors are ignored: it is tidying.
func deleteStaleLeases(ctx context.Context, c client.Client, namespace string, now time.Time) {
	var list coordinationv1.LeaseList
	if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{kickqv1alpha1.LabelWorker: "true"}); err != nil {
		return
	}
	for i := range list.Items {
		l := &list.Items[i]
		if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
			continue
		}
		expiry := l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second)
		if now.Sub(expiry) > staleLeaseAge {
			rv := l.ResourceVersion
			_ = c.Delete(ctx, l, client.Preconditions{ResourceVersion: &rv})
		}
	}
}

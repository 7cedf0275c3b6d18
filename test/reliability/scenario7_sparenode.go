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

package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// spareNodeName is a Node object without a kubelet that the harness keeps Ready while scenario 7
// runs. With the real node alone, losing it makes every Node not-Ready: the node lifecycle
// controller then assumes the control plane is cut off ("full disruption"), lifts its taints and
// evicts nothing, and whether the pods were evicted before it noticed was a race. With one Node
// of two Ready the zone stays "normal" and the loss is handled as on a real cluster: taint, then
// eviction after the pods' toleration. A NoSchedule taint keeps every pod off it.
const spareNodeName = "kickq-spare"

// spareNodeTaint keeps pods off the spare node.
const spareNodeTaint = "kickq.dev/spare"

// spareNode creates the spare Node and renews its Lease in kube-node-lease every 2 s (the real
// kubelet's period here) until stop is called (once or more), which deletes both.
func spareNode(ctx context.Context, c client.Client) (stop func(), err error) {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: spareNodeName, Labels: map[string]string{"kubernetes.io/hostname": spareNodeName}},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: spareNodeTaint, Effect: corev1.TaintEffectNoSchedule}}},
	}
	if err := c.Create(ctx, node); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("spare node: %w", err)
	}
	if err := markSpareReady(ctx, c); err != nil {
		return nil, err
	}
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: spareNodeName, Namespace: corev1.NamespaceNodeLease},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(spareNodeName), LeaseDurationSeconds: ptr.To[int32](8),
			RenewTime: &metav1.MicroTime{Time: time.Now()}},
	}
	if err := c.Create(ctx, lease); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("spare node lease: %w", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-tick.C:
			}
			var l coordinationv1.Lease
			if err := c.Get(rctx, client.ObjectKeyFromObject(lease), &l); err != nil {
				continue
			}
			l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
			if err := c.Update(rctx, &l); err != nil && rctx.Err() == nil {
				logf("scenario 7: renewing the spare node's Lease: %v", err)
			}
			// The node controller also reads the Ready condition: keep it True (it sets it
			// Unknown only when the Lease goes stale, which it does not).
			_ = markSpareReady(rctx, c)
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
			bg := context.Background()
			_ = c.Delete(bg, lease)
			_ = c.Delete(bg, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: spareNodeName}})
		})
	}, nil
}

// markSpareReady sets the spare node's Ready condition True with a fresh heartbeat, unless it is.
func markSpareReady(ctx context.Context, c client.Client) error {
	var n corev1.Node
	if err := c.Get(ctx, client.ObjectKey{Name: spareNodeName}, &n); err != nil {
		return fmt.Errorf("spare node: %w", err)
	}
	now := metav1.Now()
	for i := range n.Status.Conditions {
		if cnd := &n.Status.Conditions[i]; cnd.Type == corev1.NodeReady {
			if cnd.Status == corev1.ConditionTrue && now.Sub(cnd.LastHeartbeatTime.Time) < 10*time.Second {
				return nil
			}
			if cnd.Status != corev1.ConditionTrue {
				cnd.LastTransitionTime = now
			}
			cnd.Status, cnd.Reason, cnd.LastHeartbeatTime = corev1.ConditionTrue, "KubeletReady", now
			return c.Status().Update(ctx, &n)
		}
	}
	n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
		Reason: "KubeletReady", Message: "kept Ready by the reliability harness", LastHeartbeatTime: now, LastTransitionTime: now})
	if err := c.Status().Update(ctx, &n); err != nil {
		return fmt.Errorf("spare node Ready: %w", err)
	}
	return nil
}

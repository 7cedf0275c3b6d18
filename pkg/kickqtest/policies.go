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

package kickqtest

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ImmutableSpecPolicy is the ValidatingAdmissionPolicy that keeps a QueueJob's spec immutable
// (but for priority, suspend, cancel and cron.suspend), in config/policy and in this package.
const ImmutableSpecPolicy = "kickq-queuejob-immutable-spec"

// policyProbe is the QueueJob AwaitPolicies updates (dry run) to see the policy enforced.
const policyProbe = "kickq-policy-probe"

// AwaitPolicies waits until the API server enforces ImmutableSpecPolicy, which it loads
// asynchronously after the policy and its binding are created: until then an update that changes
// a QueueJob's spec would be accepted. It creates a QueueJob named kickq-policy-probe in
// namespace, tries a dry-run update of its spec.type until the policy refuses it, and deletes
// the probe. Start calls it (in namespace default) before it returns; call it after installing
// the policies into a control plane of your own, before any kickq controller runs.
func AwaitPolicies(ctx context.Context, c client.Client, namespace string, timeout time.Duration) error {
	probe := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kickq.dev/v1alpha1",
		"kind":       "QueueJob",
		"metadata":   map[string]any{"name": policyProbe, "namespace": namespace},
		"spec":       map[string]any{"type": "probe", "suspend": true},
	}}
	if err := c.Create(ctx, probe); err != nil {
		return fmt.Errorf("kickqtest: creating the policy probe %s/%s: %w", namespace, policyProbe, err)
	}
	var last error
	poll := func(ctx context.Context) (bool, error) {
		changed := probe.DeepCopy()
		if err := unstructured.SetNestedField(changed.Object, "probe-changed", "spec", "type"); err != nil {
			return false, err
		}
		last = c.Update(ctx, changed, client.DryRunAll)
		return last != nil && strings.Contains(last.Error(), ImmutableSpecPolicy), nil
	}
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, poll)
	if derr := c.Delete(ctx, probe); derr != nil && !apierrors.IsNotFound(derr) && err == nil {
		err = fmt.Errorf("kickqtest: deleting the policy probe: %w", derr)
	}
	if err != nil {
		return fmt.Errorf("kickqtest: the API server did not enforce %s within %s (last dry-run update of spec.type: %v): %w", ImmutableSpecPolicy, timeout, last, err)
	}
	return nil
}

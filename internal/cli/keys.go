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

package cli

import (
	"fmt"
	"strconv"
	"strings"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// Per-key figures (spec.key, a queue's and its handlers' keyLimits) for stats and position.

// keyLimitsInForce describes keyLimits under label ("per key", "email: per key").
func keyLimitsInForce(label string, kl *kickqv1alpha1.KeyLimits) []string {
	if kl == nil {
		return nil
	}
	var out []string
	if kl.Concurrency != nil {
		out = append(out, fmt.Sprintf("%s: concurrency %d", label, *kl.Concurrency))
	}
	if kl.RateLimit != nil {
		out = append(out, fmt.Sprintf("%s: rate %s", label, rateString(kl.RateLimit)))
	}
	if kl.PauseOnRetryAfter != nil && *kl.PauseOnRetryAfter {
		out = append(out, label+": pause on Retry-After")
	}
	return out
}

// activeKeys is the number of the queue's active keys, or "-" while no job has a key.
func activeKeys(k *kickqv1alpha1.QueueKeys) string {
	if k == nil {
		return "-"
	}
	return strconv.Itoa(int(k.Active))
}

// busiestString is "acme=120/1,globex=7/0" (pending/running, busiest first), or "-".
func busiestString(k *kickqv1alpha1.QueueKeys) string {
	if k == nil || len(k.Busiest) == 0 {
		return "-"
	}
	parts := make([]string, len(k.Busiest))
	for i, b := range k.Busiest {
		parts[i] = fmt.Sprintf("%s=%d/%d", b.Key, b.Pending, b.Running)
	}
	return strings.Join(parts, ",")
}

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
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// Formatting and selection helpers shared by the commands.

// formatSeconds writes a duration of whole seconds as kubectl writes ages, but exact: 0s, 42s,
// 3m4s, 2h5m (seconds dropped from an hour on), 3d4h.
func formatSeconds(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 0:
		return "-" + formatSeconds(-d)
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		if s%60 == 0 {
			return fmt.Sprintf("%dm", s/60)
		}
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case s < 86400:
		if s%3600/60 == 0 {
			return fmt.Sprintf("%dh", s/3600)
		}
		return fmt.Sprintf("%dh%dm", s/3600, s%3600/60)
	default:
		if s%86400/3600 == 0 {
			return fmt.Sprintf("%dd", s/86400)
		}
		return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
	}
}

// percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of ds; ok is false when ds is
// empty. ds is sorted in place.
func percentile(ds []time.Duration, p int) (time.Duration, bool) {
	if len(ds) == 0 {
		return 0, false
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	rank := (p*len(ds) + 99) / 100 // ceil(p/100 × n)
	return ds[max(rank, 1)-1], true
}

// rateString is a rate limit as "10/60s".
func rateString(r *kickqv1alpha1.RateLimit) string {
	return fmt.Sprintf("%d/%ds", r.Limit, r.PeriodSeconds)
}

// finished tells whether a job has ended (Succeeded or Failed).
func finished(j *kickqv1alpha1.QueueJob) bool {
	return j.Status.Phase == kickqv1alpha1.PhaseSucceeded || j.Status.Phase == kickqv1alpha1.PhaseFailed
}

// jobSet is the --batch and --selector of the commands that act on several jobs.
type jobSet struct {
	batch    string
	selector string
}

func (js *jobSet) empty() bool { return js.batch == "" && js.selector == "" }

func (js *jobSet) String() string {
	var parts []string
	if js.batch != "" {
		parts = append(parts, "batch "+js.batch)
	}
	if js.selector != "" {
		parts = append(parts, "selector "+js.selector)
	}
	return strings.Join(parts, " and ")
}

// listOptions select the set's jobs in namespace: spec.batch (a selectable field, set before the
// manager mirrors it to the kickq.dev/batch label) and the label selector.
func (js *jobSet) listOptions(namespace string) ([]client.ListOption, error) {
	opts := []client.ListOption{client.InNamespace(namespace)}
	if js.batch != "" {
		opts = append(opts, client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("spec.batch", js.batch)})
	}
	if js.selector != "" {
		sel, err := labels.Parse(js.selector)
		if err != nil {
			return nil, fmt.Errorf("parsing --selector: %w", err)
		}
		opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
	}
	return opts, nil
}

// targets are the job names of a command's arguments, or nil with a set; exactly one of them.
func targets(args []string, js *jobSet, verb string) error {
	switch {
	case len(args) == 0 && js.empty():
		return fmt.Errorf("%s needs a job name, --batch or --selector", verb)
	case len(args) > 0 && !js.empty():
		return fmt.Errorf("%s takes job names or --batch/--selector, not both", verb)
	}
	return nil
}

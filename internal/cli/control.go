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
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// The commands that change a job or a queue the way a user would with kubectl patch.

func newPauseCommand(o *Options, pause bool) *cobra.Command {
	verb, op, short := "pause", "paused", "Pause a queue: start no new attempts; running ones finish (spec.paused)"
	if !pause {
		verb, op, short = "resume", "resumed", "Resume a paused queue (removes spec.paused)"
	}
	pf := printFlags(op)
	cmd := &cobra.Command{
		Use:     verb + " QUEUE",
		Short:   short,
		Example: "  kubectl kickq " + verb + " default -n shop",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, s *session) error {
				q, err := s.setPaused(ctx, args[0], pause)
				if err != nil {
					return err
				}
				return printObject(pf, q, s.Out)
			})
		},
	}
	pf.AddFlags(cmd)
	return cmd
}

// setPaused sets spec.paused (pause) or removes it (resume), so that a queue a GitOps repository
// declares without the field matches it again once resumed.
func (s *session) setPaused(ctx context.Context, name string, pause bool) (*kickqv1alpha1.Queue, error) {
	q := &kickqv1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Namespace: s.namespace, Name: name}}
	patch := `{"spec":{"paused":null}}`
	if pause {
		patch = `{"spec":{"paused":true}}`
	}
	if err := s.c.Patch(ctx, q, client.RawPatch(types.MergePatchType, []byte(patch)), fieldOwner); err != nil {
		return nil, fmt.Errorf("patching queue %s: %w", name, err)
	}
	return q, nil
}

func newCancelCommand(o *Options) *cobra.Command {
	var set jobSet
	pf := printFlags("cancelled")
	cmd := &cobra.Command{
		Use:   "cancel (JOB... | --batch B | --selector S)",
		Short: "Cancel unfinished jobs: stop the running attempt, end them Failed/Cancelled (spec.cancel)",
		Long: "cancel sets spec.cancel on each unfinished job: the manager stops a running attempt (deletes its\n" +
			"pod) and ends the job Failed with reason Cancelled; a waiting job never starts. It cannot be\n" +
			"undone (kubectl kickq retry runs a cancelled job again as a new job). Finished jobs are left\n" +
			"alone. A cron template is not cancelled: suspend it with spec.cron.suspend.",
		Example: "  kubectl kickq cancel slow-report\n  kubectl kickq cancel --batch import-2026-11-23",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := targets(args, &set, "cancel"); err != nil {
				return err
			}
			return o.run(cmd, func(ctx context.Context, s *session) error {
				jobs, err := s.cancelTargets(ctx, args, &set)
				if err != nil {
					return err
				}
				for _, j := range jobs {
					patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cancel":true}}`))
					if err := s.c.Patch(ctx, j, patch, fieldOwner); err != nil {
						return fmt.Errorf("cancelling queuejob %s: %w", j.Name, err)
					}
					if err := printObject(pf, j, s.Out); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	set.addFlags(cmd)
	pf.AddFlags(cmd)
	return cmd
}

// cancelTargets are the named or selected jobs that are unfinished, not templates and not
// cancelled already; each one left out is said on stderr.
func (s *session) cancelTargets(ctx context.Context, names []string, set *jobSet) ([]*kickqv1alpha1.QueueJob, error) {
	var all []*kickqv1alpha1.QueueJob
	for _, n := range names {
		j, err := s.getJob(ctx, n)
		if err != nil {
			return nil, err
		}
		all = append(all, j)
	}
	if !set.empty() {
		opts, err := set.listOptions(s.namespace)
		if err != nil {
			return nil, err
		}
		if err := s.eachJob(ctx, append(opts, client.Limit(500)), func(j *kickqv1alpha1.QueueJob) {
			all = append(all, j.DeepCopy())
		}); err != nil {
			return nil, err
		}
	}
	var out []*kickqv1alpha1.QueueJob
	for _, j := range all {
		switch {
		case j.Spec.Cron != nil:
			fmt.Fprintf(s.ErrOut, "queuejob %s is a cron template: not cancelled (suspend it with spec.cron.suspend)\n", j.Name)
		case finished(j):
			fmt.Fprintf(s.ErrOut, "queuejob %s already finished (%s)\n", j.Name, j.Status.Phase)
		case j.Spec.Cancel != nil && *j.Spec.Cancel:
			fmt.Fprintf(s.ErrOut, "queuejob %s is being cancelled already\n", j.Name)
		default:
			out = append(out, j)
		}
	}
	if len(out) == 0 && !set.empty() {
		fmt.Fprintf(s.ErrOut, "no unfinished job in %s\n", set)
	}
	return out, nil
}

func newRunNowCommand(o *Options) *cobra.Command {
	timeout := 30 * time.Second
	pf := printFlags("created")
	cmd := &cobra.Command{
		Use:   "run-now TEMPLATE",
		Short: "Fire a cron template now: one child job, even while the template is suspended",
		Long: "run-now sets the template's kickq.dev/run-now annotation to a new value (the current Unix time), as\n" +
			"kubectl create job --from=cronjob/NAME does for a CronJob, and waits for the manager to create\n" +
			"the child <template>-<unix seconds>, which it prints. The same value never fires twice.",
		Example: "  kubectl kickq run-now nightly-report\n  kubectl kickq run-now nightly-report --timeout 0",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, s *session) error {
				return s.runNow(ctx, args[0], timeout, pf)
			})
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", timeout, "How long to wait for the child; 0 does not wait (prints the template).")
	pf.AddFlags(cmd)
	return cmd
}

// runNowValue is a run-now value not used yet by the template: the Unix time, with .2, .3 … when
// that value has fired already in the same second.
func runNowValue(now time.Time, t *kickqv1alpha1.QueueJob) string {
	base := strconv.FormatInt(now.Unix(), 10)
	used := func(v string) bool {
		return v == t.Annotations[kickqv1alpha1.AnnotationRunNow] || v == t.Status.LastHandledRunNow
	}
	v := base
	for i := 2; used(v); i++ {
		v = base + "." + strconv.Itoa(i)
	}
	return v
}

// runNow annotates the template with a new run-now value and, unless timeout is 0, waits for the
// child the manager creates for it (label kickq.dev/scheduled-by, annotation kickq.dev/run-now).
func (s *session) runNow(ctx context.Context, name string, timeout time.Duration, pf *genericclioptions.PrintFlags) error {
	t, err := s.getJob(ctx, name)
	if err != nil {
		return err
	}
	if t.Spec.Cron == nil {
		return fmt.Errorf("queuejob %s is not a cron template (it has no spec.cron): kubectl kickq retry runs a finished job again", name)
	}
	v := runNowValue(s.Clock.Now(), t)
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{kickqv1alpha1.AnnotationRunNow: v}}})
	if err != nil {
		return err
	}
	if err := s.c.Patch(ctx, t, client.RawPatch(types.MergePatchType, patch), fieldOwner); err != nil {
		return fmt.Errorf("annotating queuejob %s: %w", name, err)
	}
	if timeout == 0 {
		fmt.Fprintf(s.ErrOut, "queuejob %s: %s=%s set; the manager creates the child\n", name, kickqv1alpha1.AnnotationRunNow, v)
		return printObject(pf, t, s.Out)
	}
	ctx, cancel := s.withTimeout(ctx, timeout)
	defer cancel()
	sel := labels.SelectorFromSet(labels.Set{kickqv1alpha1.LabelScheduledBy: name}).String()
	ev, err := watchtools.UntilWithSync(ctx, s.jobsWatcher("", sel), &kickqv1alpha1.QueueJob{}, nil, func(ev watch.Event) (bool, error) {
		c, ok := ev.Object.(*kickqv1alpha1.QueueJob)
		return ok && ev.Type != watch.Deleted && c.Annotations[kickqv1alpha1.AnnotationRunNow] == v, nil
	})
	if err != nil {
		return fmt.Errorf("queuejob %s: %s=%s is set, but no child appeared within %s (is the manager running?): %w",
			name, kickqv1alpha1.AnnotationRunNow, v, timeout, err)
	}
	return printObject(pf, ev.Object, s.Out)
}

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
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

func newLogsCommand(o *Options) *cobra.Command {
	var attempt int32
	var container string
	cmd := &cobra.Command{
		Use:   "logs JOB",
		Short: "Print a job's status log lines, then its attempt pod's container log",
		Long: "logs prints the job's status.logs (lifecycle lines and lines reported through the report API),\n" +
			"then, for a pod job, the container log of the latest attempt's pod (or of --attempt N) while the\n" +
			"pod exists. Webhook and worker attempts have no pod: their lines are in status.logs.",
		Example: "  kubectl kickq logs flaky-import\n  kubectl kickq logs flaky-import --attempt 1 -c main",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, s *session) error {
				return s.printLogs(ctx, args[0], attempt, container)
			})
		},
	}
	cmd.Flags().Int32Var(&attempt, "attempt", 0, "The attempt whose pod log to print (default: the latest).")
	cmd.Flags().StringVarP(&container, "container", "c", "", "The pod's container (default: the first).")
	return cmd
}

// printLogs writes the job's status log, then the attempt's pod log when there is a pod.
func (s *session) printLogs(ctx context.Context, name string, attempt int32, container string) error {
	j, err := s.getJob(ctx, name)
	if err != nil {
		return err
	}
	for _, l := range j.Status.Logs {
		fmt.Fprintf(s.Out, "%s %s\n", l.Time.UTC().Format(time.RFC3339), l.Message)
	}
	if j.Status.LogsDropped > 0 {
		fmt.Fprintf(s.Out, "(%d older lines dropped from status.logs)\n", j.Status.LogsDropped)
	}
	if attempt == 0 {
		attempt = j.Status.Attempts
	}
	if attempt == 0 {
		return nil // no attempt yet
	}
	if attempt < 0 || attempt > j.Status.Attempts {
		return fmt.Errorf("queuejob %s has %s; there is no attempt %d", name, plural(int(j.Status.Attempts), "attempt"), attempt)
	}
	pod, sure := attemptPod(j, attempt)
	if pod == "" {
		return nil // not a pod attempt
	}
	var p corev1.Pod
	if err := s.c.Get(ctx, client.ObjectKey{Namespace: j.Namespace, Name: pod}, &p); err != nil {
		if apierrors.IsNotFound(err) {
			if sure {
				fmt.Fprintf(s.Out, "--- attempt %d: pod %s is gone, and its container log with it\n", attempt, pod)
			}
			return nil
		}
		return err
	}
	if container == "" && len(p.Spec.Containers) > 0 {
		container = p.Spec.Containers[0].Name
	}
	fmt.Fprintf(s.Out, "--- attempt %d: pod %s, container %s\n", attempt, pod, container)
	r, err := s.logs(ctx, j.Namespace, pod, container)
	if err != nil {
		return fmt.Errorf("reading the log of pod %s: %w", pod, err)
	}
	defer r.Close()
	_, err = io.Copy(s.Out, r)
	return err
}

// attemptPod is the pod of attempt n: the one its record names (sure), none for a webhook or
// worker attempt, and otherwise (the record was trimmed from the history, or the pod is not
// recorded yet) the pod name the manager gives attempt n, <job>-<n>, which may not exist.
func attemptPod(j *kickqv1alpha1.QueueJob, n int32) (name string, sure bool) {
	for _, a := range j.Status.AttemptHistory {
		if a.Number != n {
			continue
		}
		if a.PodName != "" {
			return a.PodName, true
		}
		if a.TargetKind != "" && a.TargetKind != "Pod" {
			return "", true
		}
	}
	if j.Spec.Webhook != nil || j.Spec.Worker != nil {
		return "", true
	}
	return fmt.Sprintf("%s-%d", j.Name, n), j.Spec.Pod != nil
}

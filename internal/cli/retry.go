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
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// AnnotationRetryOf is set by `kubectl kickq retry` on the job it creates: the job it retries.
// `retry --batch`/`--selector` skips failed jobs that already have a retry.
const AnnotationRetryOf = "kickq.dev/retry-of"

// fieldOwner is the field manager of kubectl-kickq's writes.
const fieldOwner = client.FieldOwner("kubectl-kickq")

// maxNameLength is a QueueJob's longest name (its pods are named <job>-<attempt>, and the name
// is a label value).
const maxNameLength = 63

// maxRetryNumberTries bounds how many taken <job>-retry-<n> names retry steps over.
const maxRetryNumberTries = 100

var retrySuffix = regexp.MustCompile(`-retry-([0-9]+)$`)

// retryBase splits a job's name into what its retries are named from and its own retry number:
// "import-retry-2" is ("import", 2), "import" is ("import", 0). So a retry of a retry is
// <base>-retry-3, not <base>-retry-2-retry-1.
func retryBase(name string) (string, int) {
	m := retrySuffix.FindStringSubmatchIndex(name)
	if m == nil {
		return name, 0
	}
	n, err := strconv.Atoi(name[m[2]:m[3]])
	if err != nil || n < 1 {
		return name, 0
	}
	return name[:m[0]], n
}

// retryName is <base>-retry-<n>, base shortened so the name has at most 63 characters and still
// starts and ends with an alphanumeric character.
func retryName(base string, n int) string {
	suffix := fmt.Sprintf("-retry-%d", n)
	if len(base)+len(suffix) > maxNameLength {
		base = strings.TrimRight(base[:maxNameLength-len(suffix)], "-.")
	}
	return base + suffix
}

// droppedMetadata are the label and annotation prefixes a retry does not inherit: what kickq's
// manager and kubectl write, and GitOps tools' ownership marks (a retry copied with them would be
// pruned by the tool that owns the original).
var droppedMetadata = []string{"kickq.dev/", "kubectl.kubernetes.io/", "argocd.argoproj.io/",
	"kustomize.toolkit.fluxcd.io/", "helm.toolkit.fluxcd.io/", "meta.helm.sh/"}

func inherited(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		keep := true
		for _, p := range droppedMetadata {
			if strings.HasPrefix(k, p) {
				keep = false
				break
			}
		}
		if keep {
			out[k] = v
		}
	}
	return out
}

// retryOf is a new job with orig's spec (not cancelled), user labels and annotations, named name.
func retryOf(orig *kickqv1alpha1.QueueJob, name string) *kickqv1alpha1.QueueJob {
	j := &kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: orig.Namespace, Labels: inherited(orig.Labels), Annotations: inherited(orig.Annotations)}}
	j.Annotations[AnnotationRetryOf] = orig.Name
	j.Spec = *orig.Spec.DeepCopy()
	j.Spec.Cancel = nil
	return j
}

func newRetryCommand(o *Options) *cobra.Command {
	var set jobSet
	pf := printFlags("created")
	cmd := &cobra.Command{
		Use:   "retry (JOB... | --batch B | --selector S)",
		Short: "Run finished jobs again as new jobs <job>-retry-<n> with the same spec",
		Long: "retry creates a new QueueJob from a finished job's spec, named <job>-retry-<n> (at most 63\n" +
			"characters; a retry of a retry counts on: import-retry-1 becomes import-retry-2), annotated\n" +
			"kickq.dev/retry-of=<job>. The original stays as it is. A named job may have Succeeded or Failed;\n" +
			"--batch and --selector retry the Failed jobs of the set that have no retry yet.",
		Example: "  kubectl kickq retry flaky-import\n  kubectl kickq retry --batch import-2026-11-23\n" +
			"  kubectl kickq retry -l app=shop -o name",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := targets(args, &set, "retry"); err != nil {
				return err
			}
			return o.run(cmd, func(ctx context.Context, s *session) error {
				jobs, err := s.retryTargets(ctx, args, &set)
				if err != nil {
					return err
				}
				for _, j := range jobs {
					made, err := s.retry(ctx, j)
					if err != nil {
						return err
					}
					if err := printObject(pf, made, s.Out); err != nil {
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

func (js *jobSet) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&js.batch, "batch", "", "Act on the jobs of this batch (spec.batch).")
	cmd.Flags().StringVarP(&js.selector, "selector", "l", "", "Act on the jobs these labels select (kubectl's -l syntax).")
}

// retryTargets are the named jobs (each must be finished and not a template), or the set's
// Failed jobs that no job of the set retries yet.
func (s *session) retryTargets(ctx context.Context, names []string, set *jobSet) ([]*kickqv1alpha1.QueueJob, error) {
	var out []*kickqv1alpha1.QueueJob
	for _, n := range names {
		j, err := s.getJob(ctx, n)
		if err != nil {
			return nil, err
		}
		switch {
		case j.Spec.Cron != nil:
			return nil, fmt.Errorf("queuejob %s is a cron template: fire it with kubectl kickq run-now %s", n, n)
		case !finished(j):
			return nil, fmt.Errorf("queuejob %s is %s, not finished: retry makes a new job from a finished one", n, phaseOrNew(j.Status.Phase))
		}
		out = append(out, j)
	}
	if set.empty() {
		return out, nil
	}
	opts, err := set.listOptions(s.namespace)
	if err != nil {
		return nil, err
	}
	var failed []*kickqv1alpha1.QueueJob
	retried := map[string]bool{}
	err = s.eachJob(ctx, append(opts, client.Limit(500)), func(j *kickqv1alpha1.QueueJob) {
		if of := j.Annotations[AnnotationRetryOf]; of != "" {
			retried[of] = true
		}
		if j.Spec.Cron == nil && j.Status.Phase == kickqv1alpha1.PhaseFailed {
			failed = append(failed, j.DeepCopy())
		}
	})
	if err != nil {
		return nil, err
	}
	for _, j := range failed {
		if !retried[j.Name] {
			out = append(out, j)
		}
	}
	if len(out) == 0 {
		fmt.Fprintf(s.ErrOut, "no Failed job without a retry in %s\n", set)
	}
	return out, nil
}

// retry creates orig's retry under the first free <base>-retry-<n>, counting on from orig's own
// retry number.
func (s *session) retry(ctx context.Context, orig *kickqv1alpha1.QueueJob) (*kickqv1alpha1.QueueJob, error) {
	base, n := retryBase(orig.Name)
	for range maxRetryNumberTries {
		n++
		j := retryOf(orig, retryName(base, n))
		err := s.c.Create(ctx, j, fieldOwner)
		if err == nil {
			return j, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating the retry of queuejob %s: %w", orig.Name, err)
		}
	}
	return nil, fmt.Errorf("creating the retry of queuejob %s: %s-retry-1 … %d are all taken", orig.Name, base, n)
}

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
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

func newWaitCommand(o *Options) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait JOB",
		Short: "Wait until a job Succeeded or Failed; print its outcome; exit 0 (Succeeded), 1 (Failed) or 2 (timeout)",
		Long: "wait watches a QueueJob until it is Succeeded or Failed — what kubectl wait cannot do with one\n" +
			"condition — and prints the outcome (the result of a Succeeded job, the reason and message of a\n" +
			"Failed one). It exits 0 when the job Succeeded, 1 when it Failed, and 2 when it timed out or the\n" +
			"job does not exist. A cron template never finishes: wait for one of its children instead.",
		Example: "  kubectl kickq wait hello --timeout 5m && echo done",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := o.run(cmd, func(ctx context.Context, s *session) error {
				return s.wait(ctx, args[0], timeout)
			})
			var ec *ExitCodeError
			if err != nil && !errors.As(err, &ec) {
				return &ExitCodeError{Code: ExitWait, Err: err}
			}
			return err
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "Give up after this long (exit 2); 0 waits until the job finishes.")
	return cmd
}

// wait watches the job until it finished, then prints its outcome; a Failed job is an
// ExitCodeError with ExitFailed.
func (s *session) wait(ctx context.Context, name string, timeout time.Duration) error {
	j, err := s.getJob(ctx, name)
	if err != nil {
		return err
	}
	if j.Spec.Cron != nil {
		return fmt.Errorf("queuejob %s is a cron template, which never finishes: wait for one of its children", name)
	}
	parent := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = s.withTimeout(ctx, timeout)
		defer cancel()
	}
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	ev, err := watchtools.UntilWithSync(ctx, s.jobsWatcher(sel, ""), &kickqv1alpha1.QueueJob{}, nil, jobFinished)
	if err != nil && ctx.Err() != nil && parent.Err() == nil {
		phase := j.Status.Phase
		if ev != nil {
			if last, ok := ev.Object.(*kickqv1alpha1.QueueJob); ok {
				phase = last.Status.Phase
			}
		}
		return fmt.Errorf("timed out after %s waiting for queuejob %s (phase %s)", timeout, name, phaseOrNew(phase))
	}
	if err != nil {
		return fmt.Errorf("waiting for queuejob %s: %w", name, err)
	}
	done, ok := ev.Object.(*kickqv1alpha1.QueueJob)
	if !ok {
		return fmt.Errorf("waiting for queuejob %s: unexpected %T", name, ev.Object)
	}
	printOutcome(s.Out, done)
	if done.Status.Phase == kickqv1alpha1.PhaseFailed {
		return &ExitCodeError{Code: ExitFailed, Err: errReported}
	}
	return nil
}

func phaseOrNew(p kickqv1alpha1.QueueJobPhase) string {
	if p == "" {
		return "not yet seen by the manager"
	}
	return string(p)
}

// jobFinished ends the watch once the job is Succeeded or Failed; a deleted job is an error.
func jobFinished(ev watch.Event) (bool, error) {
	switch ev.Type {
	case watch.Deleted:
		return false, errors.New("the job was deleted before it finished")
	case watch.Error:
		return false, apierrors.FromObject(ev.Object)
	}
	j, ok := ev.Object.(*kickqv1alpha1.QueueJob)
	return ok && finished(j), nil
}

// jobsWatcher lists and watches the namespace's jobs that a field and a label selector pick, as
// UntilWithSync needs to resume a watch that the API server closed.
func (s *session) jobsWatcher(fieldSel, labelSel string) cache.ListerWatcher {
	with := func(opts metav1.ListOptions) *client.ListOptions {
		opts.FieldSelector, opts.LabelSelector = fieldSel, labelSel
		return &client.ListOptions{Namespace: s.namespace, Raw: &opts}
	}
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			var list kickqv1alpha1.QueueJobList
			err := s.c.List(ctx, &list, with(opts))
			return &list, err
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return s.c.Watch(ctx, &kickqv1alpha1.QueueJobList{}, with(opts))
		},
	}
}

// withTimeout is ctx cancelled after d on the session's clock (a test's fake clock steps it).
func (s *session) withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	t := s.Clock.NewTimer(d)
	go func() {
		defer t.Stop()
		select {
		case <-t.C():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// printOutcome writes how a finished job ended:
//
//	queuejob/hello Succeeded (Completed) after 1 attempt in 4s
//	result: {"sent":true}
func printOutcome(w io.Writer, j *kickqv1alpha1.QueueJob) {
	st := &j.Status
	line := fmt.Sprintf("queuejob/%s %s (%s) after %s", j.Name, st.Phase, st.Reason, plural(int(st.Attempts), "attempt"))
	if st.StartTime != nil && st.FinishTime != nil {
		line += " in " + formatSeconds(st.FinishTime.Sub(st.StartTime.Time))
	}
	fmt.Fprintln(w, line)
	if st.Phase == kickqv1alpha1.PhaseFailed && st.Message != "" {
		fmt.Fprintf(w, "message: %s\n", st.Message)
	}
	if st.Result != nil && len(st.Result.Raw) > 0 {
		fmt.Fprintf(w, "result: %s\n", st.Result.Raw)
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

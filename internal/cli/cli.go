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

// Package cli is kubectl-kickq, the kubectl plugin that operates kickq's queues and jobs: stats,
// wait, logs, retry, run-now, pause, resume, cancel and position. cmd/kubectl-kickq only calls
// NewCommand; everything else is here, so that the envtest suite (test/integration/cli) drives
// the same commands with the same flags.
//
// It takes kubectl's flags from k8s.io/cli-runtime (--kubeconfig, --context, -n/--namespace and
// the rest of genericclioptions.ConfigFlags) and -o from PrintFlags where it prints objects. It
// changes jobs and queues only through what a user could write with kubectl (spec.cancel,
// spec.paused, the kickq.dev/run-now annotation, new QueueJobs); it never writes status.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// Exit codes of kubectl-kickq. Commands exit 0 on success and ExitError on an error; wait exits
// ExitFailed when the job failed and ExitError when it could not tell (timeout, no such job).
const (
	ExitFailed = 1
	ExitError  = 1
	ExitWait   = 2
)

// ExitCodeError carries the process exit code of a command that ran but whose answer is a
// failure (wait on a job that Failed): main exits with Code and prints nothing more.
type ExitCodeError struct {
	Code int
	Err  error
}

func (e *ExitCodeError) Error() string { return e.Err.Error() }
func (e *ExitCodeError) Unwrap() error { return e.Err }

// ExitCode is the process exit code for err (nil: 0).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec *ExitCodeError
	if errors.As(err, &ec) {
		return ec.Code
	}
	return ExitError
}

// Silent tells whether err was already reported on the command's output (a Failed job's result).
func Silent(err error) bool {
	var ec *ExitCodeError
	return errors.As(err, &ec) && ec.Err == errReported
}

var errReported = errors.New("reported")

// PodLogs streams a container's log (kubectl logs). Tests replace it: envtest runs no kubelet.
type PodLogs func(ctx context.Context, namespace, pod, container string) (io.ReadCloser, error)

// Options are what every command shares: kubectl's connection flags, the streams, the clock
// (timeouts, "now" for stats and run-now values) and where pod logs come from.
type Options struct {
	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
	// Clock is the real clock unless a test sets another.
	Clock clock.WithTicker
	// Logs is nil for the API server's pod log endpoint.
	Logs PodLogs
}

// Scheme has the types kubectl-kickq reads and writes.
var Scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(corev1.AddToScheme(s))
	utilruntime.Must(kickqv1alpha1.AddToScheme(s))
	return s
}()

// NewOptions returns options with kubectl's flags and the real clock.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{ConfigFlags: genericclioptions.NewConfigFlags(true), IOStreams: streams, Clock: clock.RealClock{}}
}

// NewCommand is `kubectl kickq` with all its verbs.
func NewCommand(o *Options) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-kickq",
		Short: "Operate kickq queues and jobs",
		Long: "kubectl kickq operates kickq's Queues and QueueJobs: statistics of queues, waiting for a job's\n" +
			"outcome, its logs, retrying, cancelling, pausing, firing cron templates now, and a job's place\n" +
			"in its queue.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl kickq"},
	}
	o.ConfigFlags.AddFlags(root.PersistentFlags())
	root.AddCommand(newStatsCommand(o), newWaitCommand(o), newLogsCommand(o), newRetryCommand(o),
		newRunNowCommand(o), newPauseCommand(o, true), newPauseCommand(o, false), newCancelCommand(o),
		newPositionCommand(o))
	root.SetOut(o.Out)
	root.SetErr(o.ErrOut)
	return root
}

// session is one command's connection: a client, the namespace it works in, and pod logs.
type session struct {
	*Options
	c         client.WithWatch
	namespace string
	logs      PodLogs
}

func (o *Options) session() (*session, error) {
	cfg, err := o.ConfigFlags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	ns, _, err := o.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: Scheme})
	if err != nil {
		return nil, fmt.Errorf("connecting to the API server: %w", err)
	}
	s := &session{Options: o, c: c, namespace: ns, logs: o.Logs}
	if s.logs == nil {
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		s.logs = func(ctx context.Context, namespace, pod, container string) (io.ReadCloser, error) {
			return cs.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{Container: container}).Stream(ctx)
		}
	}
	return s, nil
}

// run connects and runs f with the command's context.
func (o *Options) run(cmd *cobra.Command, f func(ctx context.Context, s *session) error) error {
	s, err := o.session()
	if err != nil {
		return err
	}
	return f(cmd.Context(), s)
}

// getJob reads one QueueJob of the session's namespace.
func (s *session) getJob(ctx context.Context, name string) (*kickqv1alpha1.QueueJob, error) {
	var j kickqv1alpha1.QueueJob
	if err := s.c.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: name}, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// printFlags are -o for a command that prints the objects it changed or made, as kubectl does:
// "queuejob.kickq.dev/NAME <operation>" by default, or the objects as yaml, json, name….
func printFlags(operation string) *genericclioptions.PrintFlags {
	return genericclioptions.NewPrintFlags(operation).WithTypeSetter(Scheme)
}

func printObject(pf *genericclioptions.PrintFlags, obj runtime.Object, out io.Writer) error {
	p, err := pf.ToPrinter()
	if err != nil {
		return err
	}
	return p.PrintObj(obj, out)
}

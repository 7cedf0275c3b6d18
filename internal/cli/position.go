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
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/admission"
)

// Position is where a job stands in its queue (`kubectl kickq position`).
type Position struct {
	Job   string                      `json:"job"`
	Queue string                      `json:"queue"`
	Phase kickqv1alpha1.QueueJobPhase `json:"phase"`
	// Waiting tells whether the job competes for admission (Pending and not suspended); only then
	// are Position and Ahead set.
	Waiting bool `json:"waiting"`
	// Position counts from 1 among the queue's waiting jobs in admission order (keys taking
	// turns, as admission takes them while no limit holds them); Of is how many wait. Ahead is how
	// many of the jobs before it run on the same handler (spec.type), KeyAhead how many have its
	// key.
	Position int `json:"position,omitempty"`
	Of       int `json:"of"`
	Ahead    int `json:"aheadOfSameType,omitempty"`
	KeyAhead int `json:"aheadOfSameKey,omitempty"`
	// Key is the job's spec.key ("": the key-less group); KeyTurn when its key last started an
	// attempt in the queue, as the jobs' attempt records show (unset: never, so it goes first
	// among keys of its priority); KeyLimits the key limits in force for it, with their use.
	Key       string       `json:"key,omitempty"`
	KeyTurn   *metav1.Time `json:"keyTurn,omitempty"`
	KeyLimits []string     `json:"keyLimits,omitempty"`
	// HeldBy is the reason and message of the job's Blocked condition (a limit, a missing queue
	// or handler, dependencies), or why it does not wait.
	HeldBy string `json:"heldBy,omitempty"`
	// Limits are the queue's limits in force, as stats shows them.
	Limits []string `json:"limits"`
}

func newPositionCommand(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "position JOB",
		Short: "Show a job's place in its queue's admission order and the limit holding it",
		Long: "position lists the job's queue and orders its waiting jobs as admission does (priority, higher\n" +
			"first; then key turn: keys take turns, the key that last started a job longest ago, or never,\n" +
			"first; then ready time; then creation time; then name), and says where the job is, how many\n" +
			"jobs of its type and of its key are ahead of it, its key's limits in use, and what holds it (its\n" +
			"Blocked condition: ConcurrencyLimited, RateLimited, Paused, KeyConcurrencyLimited, KeyRateLimited,\n" +
			"KeyPaused, a missing queue or handler, dependencies).",
		Example: "  kubectl kickq position report-42 -n shop",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, s *session) error {
				p, err := s.position(ctx, args[0])
				if err != nil {
					return err
				}
				return printPosition(s.Out, p, output)
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: one of (json, yaml); text by default.")
	return cmd
}

// waitingJob is a waiting job in admission's order, its type and key.
type waitingJob struct {
	admission.Order
	typ, key string
}

func waitingOf(j *kickqv1alpha1.QueueJob) (waitingJob, bool) {
	w := waitingJob{Order: admission.Order{Namespace: j.Namespace, Name: j.Name, Ready: j.CreationTimestamp.Time,
		Created: j.CreationTimestamp.Time}, typ: j.Spec.Type, key: j.Spec.Key}
	if j.Spec.Priority != nil {
		w.Priority = *j.Spec.Priority
	}
	if j.Status.ReadyTime != nil {
		w.Ready = j.Status.ReadyTime.Time
	}
	suspended := j.Spec.Suspend != nil && *j.Spec.Suspend
	return w, j.Spec.Cron == nil && j.Status.Phase == kickqv1alpha1.PhasePending && !suspended
}

// position reads the job, its queue and the queue's jobs.
func (s *session) position(ctx context.Context, name string) (*Position, error) {
	j, err := s.getJob(ctx, name)
	if err != nil {
		return nil, err
	}
	p := &Position{Job: j.Name, Queue: j.Spec.QueueName, Phase: j.Status.Phase}
	var q *kickqv1alpha1.Queue
	var got kickqv1alpha1.Queue
	switch err := s.c.Get(ctx, client.ObjectKey{Namespace: j.Namespace, Name: j.Spec.QueueName}, &got); {
	case err == nil:
		q = &got
	case !apierrors.IsNotFound(err):
		return nil, err
	}
	var waiting []waitingJob
	opts := []client.ListOption{client.InNamespace(j.Namespace), client.Limit(500),
		client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("spec.queueName", j.Spec.QueueName)}}
	var running, started int32
	now, period := s.Clock.Now(), ratePeriod(q)
	turns := keyTurns{}
	use := newKeyUse(j, q, now)
	if err := s.eachJob(ctx, opts, func(o *kickqv1alpha1.QueueJob) {
		if w, ok := waitingOf(o); ok {
			waiting = append(waiting, w)
		}
		if o.Status.Phase == kickqv1alpha1.PhaseRunning {
			running++
		}
		started += startsWithin(o, now, period)
		turns.add(o)
		use.add(o)
	}); err != nil {
		return nil, err
	}
	p.Limits = limitsInForce(j.Spec.QueueName, q, running, started)
	p.Key, p.KeyLimits = j.Spec.Key, use.inForce()
	if t, ok := turns[j.Spec.Key]; ok {
		p.KeyTurn = &metav1.Time{Time: t}
	}
	placeIn(p, j, inAdmissionOrder(waiting, turns, now))
	return p, nil
}

// placeIn sets the job's place among the waiting jobs, in admission order, and what holds it.
func placeIn(p *Position, j *kickqv1alpha1.QueueJob, waiting []waitingJob) {
	p.Of = len(waiting)
	for i, w := range waiting {
		if w.Name == j.Name {
			p.Waiting, p.Position = true, i+1
			break
		}
		if w.typ == j.Spec.Type {
			p.Ahead++
		}
		if j.Spec.Key != "" && w.key == j.Spec.Key {
			p.KeyAhead++
		}
	}
	if !p.Waiting {
		p.Ahead, p.KeyAhead = 0, 0
	}
	if c := meta.FindStatusCondition(j.Status.Conditions, kickqv1alpha1.JobBlocked); c != nil && c.Status == "True" {
		p.HeldBy = c.Reason + ": " + c.Message
		return
	}
	st := &j.Status
	switch {
	case j.Spec.Suspend != nil && *j.Spec.Suspend && !finished(j):
		p.HeldBy = "Suspended: spec.suspend holds it"
	case st.Phase == kickqv1alpha1.PhaseDelayed && st.NextAttemptTime != nil:
		p.HeldBy = "Delayed: ready at " + st.NextAttemptTime.UTC().Format(time.RFC3339)
	case p.Waiting && p.Position == 1:
		p.HeldBy = "nothing: it is next"
	case p.Waiting:
		p.HeldBy = fmt.Sprintf("%d jobs ahead of it", p.Position-1)
	}
}

// printPosition writes p as text, JSON or YAML.
func printPosition(w io.Writer, p *Position, output string) error {
	switch output {
	case "json":
		b, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(p)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case "":
	default:
		return fmt.Errorf("unknown output format %q: use json or yaml", output)
	}
	switch {
	case p.Waiting && p.Key != "":
		fmt.Fprintf(w, "queuejob/%s: position %d of %d waiting in queue %s (%d of its type, %d of key %s ahead)\n",
			p.Job, p.Position, p.Of, p.Queue, p.Ahead, p.KeyAhead, p.Key)
	case p.Waiting:
		fmt.Fprintf(w, "queuejob/%s: position %d of %d waiting in queue %s (%d of its type ahead)\n", p.Job, p.Position, p.Of, p.Queue, p.Ahead)
	default:
		fmt.Fprintf(w, "queuejob/%s: %s, not waiting for admission in queue %s (%d waiting)\n", p.Job, phaseOrNew(p.Phase), p.Queue, p.Of)
	}
	if p.HeldBy != "" {
		fmt.Fprintf(w, "held by: %s\n", p.HeldBy)
	}
	fmt.Fprintf(w, "queue limits: %s\n", strings.Join(p.Limits, ", "))
	if p.Key != "" {
		turn := "never started a job"
		if p.KeyTurn != nil {
			turn = "last started a job at " + p.KeyTurn.UTC().Format(time.RFC3339)
		}
		limits := "none"
		if len(p.KeyLimits) > 0 {
			limits = strings.Join(p.KeyLimits, ", ")
		}
		fmt.Fprintf(w, "key %s: %s; key limits: %s\n", p.Key, turn, limits)
	}
	return nil
}

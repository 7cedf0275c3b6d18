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

package controllers

import (
	"context"
	"fmt"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kickq.dev/kickq/internal/executor"
)

// Options configure the controllers.
type Options struct {
	// Clock is the time decisions use (a fake clock in tests).
	Clock clock.PassiveClock
	// Timers, when set, also wakes jobs through the clock's timers (tests with a fake clock).
	Timers clock.WithDelayedExecution
	// Client writes to the API server and reads from the cache; nil means the manager's client.
	// Tests wrap it to count writes or inject failures.
	Client client.Client
}

// Controllers are the registered reconcilers.
type Controllers struct {
	Jobs   *QueueJobReconciler
	Queues *QueueReconciler
}

// Setup registers the field indexes and kickq's controllers with a manager.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) (*Controllers, error) {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	c := opts.Client
	if c == nil {
		c = mgr.GetClient()
	}
	if err := SetupIndexes(ctx, mgr); err != nil {
		return nil, fmt.Errorf("registering field indexes: %w", err)
	}
	pods := executor.NewPods(c, mgr.GetCache(), mgr.GetScheme(), opts.Clock)
	jobs := NewQueueJobReconciler(c, mgr.GetScheme(), opts.Clock, mgr.GetEventRecorder("kickq"),
		map[executor.TargetKind]executor.Executor{executor.KindPod: pods})
	jobs.Timers = opts.Timers
	if err := jobs.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the queuejob controller: %w", err)
	}
	queues := &QueueReconciler{Client: c, Clock: opts.Clock, WriteClock: clock.RealClock{}, Admission: jobs.Admission}
	if err := queues.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the queue controller: %w", err)
	}
	return &Controllers{Jobs: jobs, Queues: queues}, nil
}

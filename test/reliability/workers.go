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

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"kickq.dev/kickq/pkg/kickq"
)

// Claim is one task a pull worker ran: the worker claimed the attempt, its handler ran from
// Start to End.
type Claim struct {
	Namespace, Job, Queue, Type string
	Attempt                     int32
	Worker                      string
	Start, End                  time.Time
}

// ClaimLog records the claims of every worker of a scenario.
type ClaimLog struct {
	mu     sync.Mutex
	claims []Claim
}

// Claims returns a copy of the log.
func (l *ClaimLog) Claims() []Claim {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Claim(nil), l.claims...)
}

func (l *ClaimLog) add(c Claim) {
	l.mu.Lock()
	l.claims = append(l.claims, c)
	l.mu.Unlock()
}

// WorkerSet is a group of in-process pull workers (pkg/kickq) of one namespace and queue.
type WorkerSet struct {
	Namespace, Queue string
	Types            []string
	// Workers is the number of worker processes played (each its own Lease), Concurrency their
	// tasks at once.
	Workers, Concurrency int
	// LeaseDuration of each worker (default pkg/kickq's).
	LeaseDuration time.Duration
}

// WorkerPlan is a worker job's data read by the harness's handler: how its attempts end.
type WorkerPlan struct {
	// FailAttempts: attempts 1..FailAttempts return an error (a counted failure).
	FailAttempts int32 `json:"failAttempts,omitempty"`
	// Die: the handler returns kickq.Die (the job fails, reason Died).
	Die bool `json:"die,omitempty"`
	// RunMillis is how long the handler works.
	RunMillis int `json:"runMillis,omitempty"`
}

// StartWorkers starts the set's workers with the worker identity; their handler follows each
// job's WorkerPlan (data.worker) and records the claim in log. They stop when the scenario ends.
func (h *Harness) StartWorkers(ctx context.Context, s WorkerSet, log *ClaimLog) error {
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range max(s.Workers, 1) {
		w, err := kickq.NewWorker(h.CP.Config(UserWorker), kickq.WorkerOptions{
			Namespace: s.Namespace, Queue: s.Queue, Concurrency: max(s.Concurrency, 1),
			Identity: fmt.Sprintf("rel-%s-%d", s.Queue, i), LeaseDuration: s.LeaseDuration, GracePeriod: 2 * time.Second,
		})
		if err != nil {
			cancel()
			return err
		}
		name := w.Name()
		for _, t := range s.Types {
			w.Handle(t, func(ctx context.Context, t *kickq.Task) (any, error) {
				return runPlannedTask(ctx, t, name, log)
			})
		}
		wg.Go(func() {
			for wctx.Err() == nil {
				if err := w.Run(wctx); err != nil && wctx.Err() == nil {
					// The API server went away (scenario 4): start again, as a supervisor would.
					time.Sleep(time.Second)
					continue
				}
				return
			}
		})
	}
	h.OnClose(func() { cancel(); wg.Wait() })
	return nil
}

func runPlannedTask(ctx context.Context, t *kickq.Task, worker string, log *ClaimLog) (any, error) {
	c := Claim{Namespace: t.Namespace, Job: t.Name, Queue: t.Queue, Type: t.Type, Attempt: t.Attempt, Worker: worker, Start: time.Now()}
	defer func() { c.End = time.Now(); log.add(c) }()
	var d struct {
		Worker WorkerPlan `json:"worker"`
	}
	_ = json.Unmarshal(t.RawData(), &d)
	if d.Worker.RunMillis > 0 {
		select {
		case <-time.After(time.Duration(d.Worker.RunMillis) * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	switch {
	case d.Worker.Die:
		return nil, kickq.Die(errors.New("planned to die"))
	case t.Attempt <= d.Worker.FailAttempts:
		return nil, fmt.Errorf("planned failure of attempt %d", t.Attempt)
	}
	return map[string]any{"attempt": t.Attempt, "worker": worker}, nil
}

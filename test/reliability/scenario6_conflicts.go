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
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

func init() {
	Register(Scenario{ID: 6, Name: "Conflict storms", Run: scenario6, Doc: "Users may edit a running job's or a queue's labels and " +
		"annotations at any time: the manager writes status through the status subresource, so such edits never conflict with " +
		"its transitions and are never undone by them; a user's own Update may get a conflict from another edit and is retried."})
}

// stormLabel and stormAnnotation are what the users of the storm edit.
const (
	stormLabel      = "storm.reliability.kickq.dev/edit"
	stormAnnotation = "storm.reliability.kickq.dev/note"
)

// scenario6 has users edit the labels and annotations of running jobs and of the queues at 100
// updates/s during a mixed run: half of the edits read-modify-write with the object's
// resourceVersion (Update, conflicting with the manager's writes), half merge patches without one.
// Invariants: the mix's (every job ends as planned with its planned attempts, no attempt with two
// pods, claims or webhook ids, no limit exceeded) and no user edit lost: each object keeps the
// last label value its user wrote.
func scenario6(ctx context.Context, h *Harness) *Row {
	row := &Row{Scenario: 6, Name: "Conflict storms"}
	n := h.Scale(600, 60)
	perSecond := 100
	l := DefaultLimits
	row.Done = "users edit labels and annotations of running jobs and of the queues while a mixed run goes on; one manager"
	row.Load = fmt.Sprintf("%d jobs of the mixed workload (limits as scenario 1); %d edits/s: half Update with resourceVersion, half merge patch", n, perSecond)
	kube, err := h.StartKubelet(ctx, PlanRun)
	if err != nil {
		row.Fail("fake kubelet", err.Error())
		return row
	}
	mix, err := h.SetupMix(ctx, "s6", MixOptions{Limits: l})
	if err != nil {
		row.Fail("setup", err.Error())
		return row
	}
	pprof := fmt.Sprintf("127.0.0.1:%d", freePort())
	m, err := h.StartManager(ctx, ManagerOptions{Name: "a", Extra: []string{"--pprof-bind-address=" + pprof}})
	if err != nil {
		row.Fail("manager start", err.Error())
		return row
	}
	logf("scenario 6: the manager's pprof is at http://%s/debug/pprof/", pprof)
	sctx, stopStorm := context.WithCancel(ctx)
	st := &editStorm{h: h, ns: mix.NS, last: map[string]string{}, lastRV: map[string]int64{}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); st.run(sctx, perSecond) }()
	if err := mix.Submit(ctx, h, "s6", n); err != nil {
		stopStorm()
		row.Fail("submit", err.Error())
		return row
	}
	h.CheckMix(ctx, row, MixRun{Mix: mix, Kubelet: kube, Timeout: 10 * time.Minute})
	stopStorm()
	wg.Wait()
	row.Faults = fmt.Sprintf("%d edits in %s (%.0f/s): %d of running jobs, %d of queues; %d Updates refused with a conflict (the user's, retried), %d failed otherwise",
		st.done.Load(), st.took.Round(time.Second), float64(st.done.Load())/st.took.Seconds(), st.jobs.Load(), st.queues.Load(), st.conflicts.Load(), st.failed.Load())
	if st.firstErr != "" {
		row.Note("Scenario 6: the first edit that failed otherwise than by a conflict: %s", st.firstErr)
	}
	row.Check("edit rate reached (at least 80 % of 100/s)", float64(st.done.Load())/st.took.Seconds() >= 0.8*float64(perSecond),
		"%.0f edits/s", float64(st.done.Load())/st.took.Seconds())
	lost := st.lostEdits(ctx)
	row.Check("no user edit lost (each object keeps the last label its user wrote)", lost == 0, "%d of %d edited objects lost an edit", lost, len(st.last))
	row.Check("no panic in the manager's log", m.Panics() == 0, "%d panics", m.Panics())
	return row
}

// editStorm is the users: it edits running jobs and queues and remembers the last label value
// written to each.
type editStorm struct {
	h  *Harness
	ns string

	mu sync.Mutex
	// last is, per object ("queuejob/<name>", "queue/<name>"), the label value of the newest
	// successful edit: the one whose answer had the highest resourceVersion (etcd's revision).
	last     map[string]string
	lastRV   map[string]int64
	firstErr string

	done, jobs, queues, conflicts, failed atomic.Int64
	took                                  time.Duration
}

func (s *editStorm) run(ctx context.Context, perSecond int) {
	start := time.Now()
	defer func() { s.took = time.Since(start) }()
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var running []string
	for i := 0; ctx.Err() == nil; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(perSecond))))
		if i%50 == 0 {
			running = s.runningJobs(ctx)
		}
		var obj client.Object
		kind := "queue"
		if len(running) > 0 && i%4 != 0 {
			kind = "queuejob"
			obj = &kickqv1alpha1.QueueJob{}
			obj.SetName(running[s.h.Rand.IntN(len(running))])
		} else {
			obj = &kickqv1alpha1.Queue{}
			obj.SetName([]string{QueuePods, QueueHooks, QueueWork}[i%3])
		}
		obj.SetNamespace(s.ns)
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			s.edit(ctx, kind, obj, i)
		}(i)
	}
	wg.Wait()
}

// runningJobs lists the names of the namespace's running jobs.
func (s *editStorm) runningJobs(ctx context.Context) []string {
	jobs, err := s.h.Jobs(ctx, s.ns)
	if err != nil {
		return nil
	}
	var out []string
	for i := range jobs {
		if jobs[i].Status.Phase == kickqv1alpha1.PhaseRunning {
			out = append(out, jobs[i].Name)
		}
	}
	return out
}

// edit sets the label (and an annotation) on obj: by Update with the resourceVersion just read
// (retried on a conflict, as a user's tool does) for even i, by a merge patch for odd i.
func (s *editStorm) edit(ctx context.Context, kind string, obj client.Object, i int) {
	key := kind + "/" + obj.GetName()
	value := strconv.Itoa(i)
	c := s.h.CP.Harness
	var err error
	if i%2 == 0 {
		for range 10 {
			if err = c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				break
			}
			setEdit(obj, value)
			if err = c.Update(ctx, obj); !apierrors.IsConflict(err) {
				break
			}
			s.conflicts.Add(1)
		}
	} else {
		patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q},"annotations":{%q:"edited %s at %s"}}}`, stormLabel, value, stormAnnotation,
			value, time.Now().Format(time.RFC3339Nano))
		err = c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(patch)))
	}
	switch {
	case err == nil:
		rv, _ := strconv.ParseInt(obj.GetResourceVersion(), 10, 64)
		s.mu.Lock()
		if rv > s.lastRV[key] {
			s.last[key], s.lastRV[key] = value, rv
		}
		s.mu.Unlock()
		s.done.Add(1)
		if kind == "queue" {
			s.queues.Add(1)
		} else {
			s.jobs.Add(1)
		}
	case apierrors.IsNotFound(err):
	default:
		s.mu.Lock()
		if s.firstErr == "" {
			s.firstErr = err.Error()
		}
		s.mu.Unlock()
		s.failed.Add(1)
	}
}

func setEdit(obj client.Object, value string) {
	l := obj.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	l[stormLabel] = value
	obj.SetLabels(l)
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[stormAnnotation] = "edited " + value + " at " + time.Now().Format(time.RFC3339Nano)
	obj.SetAnnotations(a)
}

// lostEdits counts the edited objects whose label is not the last value written (a write of
// the manager that put back an older copy of the metadata). Jobs deleted since (retention) are
// not counted.
func (s *editStorm) lostEdits(ctx context.Context) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	lost := 0
	for key, want := range s.last {
		var obj client.Object = &kickqv1alpha1.Queue{}
		name, isJob := strings.CutPrefix(key, "queuejob/")
		if isJob {
			obj = &kickqv1alpha1.QueueJob{}
		} else {
			name = strings.TrimPrefix(key, "queue/")
		}
		if err := s.h.CP.Harness.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: name}, obj); err != nil {
			continue
		}
		if obj.GetLabels()[stormLabel] != want {
			lost++
		}
	}
	return lost
}

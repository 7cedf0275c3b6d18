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
	"kickq.dev/kickq/test/util"
)

func init() {
	Register(Scenario{ID: 6, Name: "Conflict storms", Run: scenario6, Doc: "Users may edit a running job's or a queue's labels and " +
		"annotations at any time. Every edit changes the object's resourceVersion, so the manager's and the pull workers' status " +
		"writes (conditional on it) may get a Conflict: they read the object again, check that the transition still holds and " +
		"write again, so no transition is lost, no attempt added and no edit undone (status writes leave metadata alone). A " +
		"user's own Update may get a conflict too and is retried, as kubectl's tools do; kubectl label and annotate patch."})
}

// stormLabel and stormAnnotation are what the users of the storm edit.
const (
	stormLabel      = "storm.reliability.kickq.dev/edit"
	stormAnnotation = "storm.reliability.kickq.dev/note"
)

// scenario6 has users edit the labels and annotations of running jobs and of the queues at 100
// updates/s during a mixed run: half of the edits read-modify-write with the object's
// resourceVersion (Update), half merge patches without one; either makes the manager's and the
// workers' next status write conflict. Each object is edited at most about 5 times a second (see
// editStorm); when every running job and queue is busy, jobs not started yet are edited.
// Invariants: the mix's (every job ends as planned with its planned attempts, no attempt with two
// pods, claims or webhook ids, no limit exceeded) and no user edit lost: each object keeps the
// last label value its user wrote.
func scenario6(ctx context.Context, h *Harness) *Row {
	row := &Row{Scenario: 6, Name: "Conflict storms"}
	n := h.Scale(600, 60)
	perSecond := 100
	l := DefaultLimits
	row.Done = "users edit labels and annotations of running jobs (else of jobs not started yet) and of the queues while a mixed run goes on; one manager, in-process pull workers"
	row.Load = fmt.Sprintf("%d jobs of the mixed workload (limits as scenario 1); %d edits/s from the users' own client: half Update with resourceVersion, half merge patch", n, perSecond)
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
	st, err := newEditStorm(h, mix.NS, perSecond)
	if err != nil {
		row.Fail("storm client", err.Error())
		return row
	}
	sctx, stopStorm := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); st.run(ctx, sctx, perSecond) }()
	if err := mix.Submit(ctx, h, "s6", n); err != nil {
		stopStorm()
		row.Fail("submit", err.Error())
		return row
	}
	h.CheckMix(ctx, row, MixRun{Mix: mix, Kubelet: kube, Timeout: 10 * time.Minute})
	stopStorm()
	wg.Wait()
	row.Faults = fmt.Sprintf("%d edits in %s (%.0f/s; at most %d in flight, %d per object %s apart): %d of running jobs, %d of queues; %d Updates refused with a conflict (the user's, retried), %d failed otherwise, %d ticks skipped (every object busy)",
		st.done.Load(), st.took.Round(time.Second), float64(st.done.Load())/st.took.Seconds(), stormInFlight, stormPerObject, stormSpacing, st.jobs.Load(), st.queues.Load(), st.conflicts.Load(),
		st.failed.Load(), st.skipped.Load())
	if st.firstErr != "" {
		row.Note("Scenario 6: the first edit that failed otherwise than by a conflict: %s", st.firstErr)
	}
	// Ticks skipped are time with every object paced (the run's tail: a few jobs delayed or
	// retrying); the rate is checked over the rest, where the storm had an object to edit.
	busy := st.took - time.Duration(st.skipped.Load())*time.Second/time.Duration(perSecond)
	rate := float64(st.done.Load()) / max(busy.Seconds(), 1)
	row.Check("edit rate reached while an object was free to edit (at least 80 % of 100/s)", rate >= 0.8*float64(perSecond),
		"%.0f edits/s over %s (%.0f/s over the whole storm)", rate, busy.Round(time.Second), float64(st.done.Load())/st.took.Seconds())
	lost := st.lostEdits(ctx)
	row.Check("no user edit lost (each object keeps the last label its user wrote)", lost == 0, "%d of %d edited objects lost an edit", lost, len(st.last))
	row.Check("no panic in the manager's log", m.Panics() == 0, "%d panics", m.Panics())
	return row
}

// editStorm is the users: it edits running jobs and queues and remembers the last label value
// written to each. It has its own client (its own rate limiter: the harness's polls are not
// queued behind it), keeps at most stormInFlight edits in flight and paces each object's edits
// (stormPerObject, stormSpacing): two users' Updates of one object only conflict with each other,
// which tells nothing about kickq.
type editStorm struct {
	h  *Harness
	ns string
	c  client.Client

	mu sync.Mutex
	// last is, per object ("queuejob/<name>", "queue/<name>"), the label value of the newest
	// successful edit: the one whose answer had the highest resourceVersion (etcd's revision).
	last     map[string]string
	lastRV   map[string]int64
	busy     map[string]*objectEdits
	firstErr string

	done, jobs, queues, conflicts, failed, skipped atomic.Int64
	took                                           time.Duration
}

// stormInFlight bounds the edits in flight; stormTimeout bounds one edit (its retries included).
// On one object at most stormPerObject edits are in flight (one of them an Update) and they start
// at least stormSpacing apart: a user editing one object without pause would hold the manager's
// own writes of it back (each one's conflict), which is that user's job only.
const (
	stormInFlight  = 64
	stormTimeout   = 30 * time.Second
	stormPerObject = 2
	stormSpacing   = 200 * time.Millisecond
)

// objectEdits is one object's edits in flight.
type objectEdits struct {
	inFlight  int
	update    bool
	lastStart time.Time
}

// newEditStorm makes the users' client: the harness's identity with a rate limit well above the
// edit rate (retries of conflicting Updates read and write again).
func newEditStorm(h *Harness, ns string, perSecond int) (*editStorm, error) {
	cfg := h.CP.Config(UserHarness)
	cfg.QPS, cfg.Burst = float32(6*perSecond), 6*perSecond
	c, err := client.New(cfg, client.Options{Scheme: util.NewScheme()})
	if err != nil {
		return nil, err
	}
	return &editStorm{h: h, ns: ns, c: c, last: map[string]string{}, lastRV: map[string]int64{}, busy: map[string]*objectEdits{}}, nil
}

// run edits perSecond objects a second until stop ends, then waits for the edits in flight. The
// edits themselves run under ctx (not stop): an edit cut off after the API server stored it would
// be counted as failed while its label is the object's newest.
func (s *editStorm) run(ctx, stop context.Context, perSecond int) {
	start := time.Now()
	defer func() { s.took = time.Since(start) }()
	sem := make(chan struct{}, stormInFlight)
	var wg sync.WaitGroup
	// The jobs are listed apart from the ticks: a List of every job takes longer than a tick.
	var live atomic.Pointer[[2][]string]
	live.Store(&[2][]string{})
	wg.Go(func() {
		for stop.Err() == nil {
			running, waiting := s.liveJobs(ctx)
			live.Store(&[2][]string{running, waiting})
			time.Sleep(100 * time.Millisecond)
		}
	})
	for i := 0; stop.Err() == nil; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(perSecond))))
		update := i%2 == 0
		l := live.Load()
		kind, name := s.pick(i, l[0], l[1], update)
		if name == "" {
			s.skipped.Add(1)
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-stop.Done():
			s.release(kind, name, update)
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer func() { s.release(kind, name, update); <-sem; wg.Done() }()
			ectx, cancel := context.WithTimeout(ctx, stormTimeout)
			defer cancel()
			s.edit(ectx, kind, name, i, update)
		}(i)
	}
	wg.Wait()
}

// pick chooses the i-th edit's object and counts the edit in: for three edits in four a running
// job, else one not started yet, else a queue; for the fourth a queue first. An object is passed
// over while it has stormPerObject edits in flight (or an Update, for an Update) or its last edit
// started less than stormSpacing ago; "" when every object is passed over.
func (s *editStorm) pick(i int, running, waiting []string, update bool) (kind, name string) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	try := func(k string, names []string) bool {
		if len(names) == 0 {
			return false
		}
		from := s.h.Rand.IntN(len(names))
		for j := range names {
			n := names[(from+j)%len(names)]
			e := s.busy[k+"/"+n]
			if e == nil {
				e = &objectEdits{}
				s.busy[k+"/"+n] = e
			}
			if e.inFlight < stormPerObject && (!update || !e.update) && now.Sub(e.lastStart) >= stormSpacing {
				kind, name = k, n
				e.inFlight++
				e.update = e.update || update
				e.lastStart = now
				return true
			}
		}
		return false
	}
	queues := []string{QueuePods, QueueHooks, QueueWork}
	if i%4 == 0 && try("queue", queues) {
		return kind, name
	}
	_ = try("queuejob", running) || try("queuejob", waiting) || try("queue", queues)
	return kind, name
}

func (s *editStorm) release(kind, name string, update bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.busy[kind+"/"+name]
	e.inFlight--
	e.update = e.update && !update
}

// liveJobs lists the names of the namespace's running jobs and of those not started yet.
func (s *editStorm) liveJobs(ctx context.Context) (running, waiting []string) {
	jobs, err := s.h.Jobs(ctx, s.ns)
	if err != nil {
		return nil, nil
	}
	for i := range jobs {
		switch {
		case jobs[i].Status.Phase == kickqv1alpha1.PhaseRunning:
			running = append(running, jobs[i].Name)
		case !Terminal(&jobs[i]):
			waiting = append(waiting, jobs[i].Name)
		}
	}
	return running, waiting
}

// edit sets the label (and an annotation) on obj: by Update with the resourceVersion just read
// (retried on a conflict, as a user's tool does) when update, else by a merge patch (kubectl
// label/annotate).
func (s *editStorm) edit(ctx context.Context, kind, name string, i int, update bool) {
	var obj client.Object = &kickqv1alpha1.Queue{}
	if kind == "queuejob" {
		obj = &kickqv1alpha1.QueueJob{}
	}
	obj.SetNamespace(s.ns)
	obj.SetName(name)
	key := kind + "/" + name
	value := strconv.Itoa(i)
	c := s.c
	var err error
	if update {
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

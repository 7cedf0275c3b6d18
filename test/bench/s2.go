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
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// armResult is what one arm of S2 measured.
type armResult struct {
	Name          string             `json:"name"`
	N             int                `json:"n"`
	CreateSeconds float64            `json:"harnessCreateSeconds"`
	PodsPerSec    float64            `json:"podsCreatedPerSecond"`
	DonePerSec    float64            `json:"completedPerSecond"`
	PodLatency    map[string]float64 `json:"createToPodLatency"`
	DoneLatency   map[string]float64 `json:"createToDoneLatency"`
	Requests      map[string]float64 `json:"apiRequestsPerJob"`
	RequestsTotal float64            `json:"apiRequestsPerJobTotal"`
	Writes        float64            `json:"apiWritesPerJob"`
	CPUSeconds    float64            `json:"controllerCPUSeconds"`
	CPUPer1000    float64            `json:"controllerCPUSecondsPer1000Jobs"`
	PeakRSS       int64              `json:"controllerPeakRSSBytes"`
	ControlPlane  map[string]float64 `json:"controlPlaneCPUSeconds"`
	Failed        int                `json:"failedJobs"`
	KubeletErrors int                `json:"kubeletErrors"`
	// KubeletWrites are the fake kubelet's pod status writes (conflicts included).
	KubeletWrites int `json:"kubeletWrites"`
	// APIServerCPU is kube-apiserver's CPU-seconds over the arm; UserCreateAPIMs and KubeletAPIMs
	// what the shared requests cost of it per job (priced by the baseline); OwnAPIMs the rest per
	// job: the controller's own requests; KubeletShare the kubelet's part of APIServerCPU.
	APIServerCPU    float64   `json:"apiServerCPUSeconds"`
	UserCreateAPIMs float64   `json:"userCreateAPIServerCPUMsPerJob"`
	KubeletAPIMs    float64   `json:"kubeletAPIServerCPUMsPerJob"`
	OwnAPIMs        float64   `json:"controllerOwnAPIServerCPUMsPerJob"`
	IdleAPIMs       float64   `json:"idleAPIServerCPUMsPerJob"`
	WallSeconds     float64   `json:"wallSeconds"`
	KubeletShare    float64   `json:"kubeletShareOfAPIServerCPU"`
	Baseline        *baseline `json:"baseline,omitempty"`
	Reconciles      float64   `json:"reconcilesPerJob,omitempty"`
	ReconcileMs     float64   `json:"meanReconcileMs,omitempty"`
	requestsText    string
}

func isWrite(verbResource string) bool {
	v := strings.SplitN(verbResource, " ", 2)[0]
	return v == "create" || v == "update" || v == "patch" || v == "delete" || v == "deletecollection"
}

// allowedRate is the jobs/s the S0 ceiling allows for the given writes per job: a job needing
// w_k writes of kind k costs Σ w_k / ceiling_k seconds of the API server.
func (b *bench) allowedRate(writes map[string]float64) float64 {
	var cost float64
	for vr, w := range writes {
		if !isWrite(vr) {
			continue
		}
		kind := wStatusUpdate
		switch {
		case vr == "create pods":
			kind = wPodCreate
		case strings.HasPrefix(vr, "create "):
			kind = wJobCreate
		}
		if c := b.s0[kind]; c > 0 {
			cost += w / c
		}
	}
	if cost == 0 {
		return 0
	}
	return 1 / cost
}

func writesOf(perJob map[string]float64) float64 {
	var w float64
	for vr, v := range perJob {
		if isWrite(vr) {
			w += v
		}
	}
	return w
}

// s2Setting is one side-by-side comparison of S2: both arms at the same client settings and
// workers, or each at its own defaults.
type s2Setting struct {
	name     string // "equal" or "defaults"
	defaults bool
	n        int
}

// s2Run is one repetition of one setting: both arms and the baselines their API-server CPU is
// corrected with.
type s2Run struct {
	kq, bj         *armResult
	kqBase, bjBase *baseline
}

// s2PodDispatch runs N one-container pod QueueJobs, then N batch/v1 Jobs through
// kube-controller-manager's Job controller: first with the same client settings and workers,
// then each side at its own defaults; -repeat times, each figure the median with every run shown.
func (b *bench) s2PodDispatch(ctx context.Context) *Result {
	r := newResult("S2", "pod dispatch vs batch/v1 Job", b.env)
	settings := []s2Setting{{name: "equal", n: b.cfg.s2N}, {name: "defaults", defaults: true, n: b.cfg.s2DefaultsN}}
	r.Params["n"], r.Params["defaultsN"], r.Params["repeat"] = b.cfg.s2N, b.cfg.s2DefaultsN, b.cfg.repeat
	runs := map[string][]*s2Run{}
	for rep := range b.cfg.repeat {
		for _, s := range settings {
			run, err := b.s2Once(ctx, s, rep)
			if err != nil {
				r.Error = fmt.Sprintf("%s settings, run %d: %v", s.name, rep+1, err)
				b.s2Report(r, settings, runs)
				return r
			}
			runs[s.name] = append(runs[s.name], run)
		}
	}
	b.s2Report(r, settings, runs)
	return r
}

// s2Once runs one repetition of one setting: the baselines, then kickq, then batch/v1.
func (b *bench) s2Once(ctx context.Context, s s2Setting, rep int) (*s2Run, error) {
	suffix := fmt.Sprintf("%s-%d", s.name, rep+1)
	run := &s2Run{}
	var err error
	if run.kqBase, err = b.s2Baseline(ctx, "bench-s2-base-kickq-"+suffix, s.n, func(ns string, i int) client.Object {
		return podJob(ns, fmt.Sprintf("j-%d", i))
	}); err != nil {
		return nil, fmt.Errorf("kickq baseline: %w", err)
	}
	if run.bjBase, err = b.s2Baseline(ctx, "bench-s2-base-batch-"+suffix, s.n, func(ns string, i int) client.Object {
		return batchJob(ns, fmt.Sprintf("j-%d", i))
	}); err != nil {
		return nil, fmt.Errorf("batch/v1 baseline: %w", err)
	}
	if run.kq, err = b.s2Kickq(ctx, s, "bench-s2-kickq-"+suffix); err != nil {
		return nil, fmt.Errorf("kickq arm: %w", err)
	}
	run.kq.correct(run.kqBase)
	if run.bj, err = b.s2Batch(ctx, s, "bench-s2-batch-"+suffix); err != nil {
		return nil, fmt.Errorf("batch/v1 arm: %w", err)
	}
	run.bj.correct(run.bjBase)
	logf("S2 %s run %d: kickq %.1f done/s, %.2f API CPU-ms/job of its own; batch/v1 %.1f done/s, %.2f", s.name, rep+1,
		run.kq.DonePerSec, run.kq.OwnAPIMs, run.bj.DonePerSec, run.bj.OwnAPIMs)
	return run, nil
}

func (b *bench) s2Kickq(ctx context.Context, s s2Setting, name string) (*armResult, error) {
	n := s.n
	ns, err := b.newNamespace(ctx, name)
	if err != nil {
		return nil, err
	}
	w, err := StartWatcher(ctx, b.cluster.HarnessCfg, b.cluster.KubeletCfg, ns, WatchOptions{QueueJobs: true, Kubelet: true, Workers: b.cfg.parallelism})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	f := b.mflags
	f.Defaults = s.defaults
	m, err := b.startManagerWith(ctx, f, "S2-"+strings.TrimPrefix(name, "bench-s2-"))
	if err != nil {
		return nil, err
	}
	defer m.Stop()
	var prof <-chan error
	if b.cfg.profile && !s.defaults {
		prof = m.Profile(ctx, 15, filepath.Join(b.cfg.out, "S2-"+strings.TrimPrefix(name, "bench-s2-")+"-manager.cpu.pprof"))
	}
	res, err := b.runArm(ctx, "kickq", ns, n, w, m.Pid, userManager, func(i int) client.Object {
		return podJob(ns, fmt.Sprintf("j-%d", i))
	})
	if prof != nil {
		if err := <-prof; err != nil {
			logf("S2: profile: %v", err)
		}
	}
	if err == nil {
		rec, secs, merr := m.SaveMetrics(filepath.Join(b.cfg.out, "S2-"+strings.TrimPrefix(name, "bench-s2-")+"-manager.metrics.txt"))
		if merr == nil && rec > 0 {
			res.Reconciles, res.ReconcileMs = rec/float64(n), secs/rec*1000
		}
		// A real finished job's status is the model of S5's jobs at rest.
		var j kickqv1alpha1.QueueJob
		if err := b.cluster.Harness.Get(ctx, client.ObjectKey{Namespace: ns, Name: "j-0"}, &j); err == nil {
			b.finishedStatus = j.Status.DeepCopy()
		}
	}
	return res, err
}

func (b *bench) s2Batch(ctx context.Context, s s2Setting, name string) (*armResult, error) {
	n := s.n
	ns, err := b.newNamespace(ctx, name)
	if err != nil {
		return nil, err
	}
	w, err := StartWatcher(ctx, b.cluster.HarnessCfg, b.cluster.KubeletCfg, ns, WatchOptions{Jobs: true, Kubelet: true, Workers: b.cfg.parallelism})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	workers := b.cfg.workers
	if s.defaults {
		workers = 0 // kube-controller-manager's own QPS, burst and --concurrent-job-syncs
	}
	k, err := b.cluster.StartKCM("job", workers, filepath.Join(b.cfg.out, "kube-controller-manager-"+strings.TrimPrefix(name, "bench-")+".log"))
	if err != nil {
		return nil, err
	}
	defer k.Stop()
	if err := b.warmUpJobController(ctx); err != nil {
		return nil, err
	}
	return b.runArm(ctx, "batch/v1 Job", ns, n, w, k.Pid, userKCM, func(i int) client.Object {
		return batchJob(ns, fmt.Sprintf("j-%d", i))
	})
}

func batchJob(ns, name string) *batchv1.Job {
	spec := podSpec()
	spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: spec}},
	}
}

// warmUpJobController waits until kube-controller-manager's Job controller creates the pod of a
// Job in a namespace of its own: its caches have synced.
func (b *bench) warmUpJobController(ctx context.Context) error {
	ns, err := b.newNamespace(ctx, fmt.Sprintf("bench-warmup-%d", time.Now().UnixNano()))
	if err != nil {
		return err
	}
	if err := b.cluster.Harness.Create(ctx, batchJob(ns, "warmup")); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var pods corev1.PodList
		if err := b.cluster.Harness.List(ctx, &pods, client.InNamespace(ns)); err == nil && len(pods.Items) > 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("kube-controller-manager created no pod for a warm-up Job within 2 minutes")
}

// runArm creates n objects, waits for all to finish, and measures.
func (b *bench) runArm(ctx context.Context, name, ns string, n int, w *Watcher, pid int, user string, obj func(int) client.Object) (*armResult, error) {
	before, _ := ReadProc(pid)
	mark := b.cluster.MarkAudit()
	cp := watchControlPlane()
	created := make([]time.Time, n)
	var mu sync.Mutex
	t0 := time.Now()
	failed, err := parallel(ctx, n, b.cfg.parallelism, func(ctx context.Context, i int) error {
		if err := b.cluster.Harness.Create(ctx, obj(i)); err != nil {
			return err
		}
		mu.Lock()
		created[i] = time.Now()
		mu.Unlock()
		return nil
	})
	createDur := time.Since(t0)
	if err != nil {
		return nil, fmt.Errorf("creating: %d failed, first: %w", failed, err)
	}
	snap, err := w.WaitDone(ctx, n, 15*time.Minute)
	if err != nil {
		return nil, err
	}
	after, _ := ReadProc(pid)
	cpUsed, wall := cp.used(), time.Since(t0)
	time.Sleep(200 * time.Millisecond) // the audit log is written before each response; let the last lines land
	events, err := b.cluster.ReadAudit(mark, 0, nil)
	if err != nil {
		return nil, err
	}
	res := &armResult{Name: name, N: n, CreateSeconds: createDur.Seconds(), Failed: snap.doneFailed, KubeletErrors: snap.kubeletErrs, KubeletWrites: w.KubeletWrites(),
		CPUSeconds: (after.CPU - before.CPU).Seconds(), PeakRSS: after.PeakRS, ControlPlane: cpUsed, WallSeconds: wall.Seconds()}
	res.CPUPer1000 = res.CPUSeconds / float64(n) * 1000
	var podLat, doneLat Durations
	var lastPod, lastDone time.Time
	for i := range n {
		jn := fmt.Sprintf("j-%d", i)
		if t, ok := snap.podSeen[jn]; ok {
			podLat = append(podLat, t.Sub(created[i]))
			if t.After(lastPod) {
				lastPod = t
			}
		}
		if t, ok := snap.done[jn]; ok {
			doneLat = append(doneLat, t.Sub(created[i]))
			if t.After(lastDone) {
				lastDone = t
			}
		}
	}
	res.PodsPerSec = perSec(len(podLat), lastPod.Sub(t0))
	res.DonePerSec = perSec(len(doneLat), lastDone.Sub(t0))
	res.PodLatency, res.DoneLatency = podLat.summary(), doneLat.summary()
	counts := RequestCounts(events, user, ns)
	res.Requests = perJob(counts, n)
	res.requestsText, res.RequestsTotal = requestsTable(counts, n)
	res.Writes = writesOf(res.Requests)
	logf("S2 %s: %.0f pods/s, %.0f done/s, %.2f requests/job (%s), %.2f CPU-s/1000 jobs", name, res.PodsPerSec, res.DonePerSec, res.RequestsTotal, res.requestsText, res.CPUPer1000)
	return res, nil
}

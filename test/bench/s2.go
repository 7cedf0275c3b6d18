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
	Reconciles    float64            `json:"reconcilesPerJob,omitempty"`
	ReconcileMs   float64            `json:"meanReconcileMs,omitempty"`
	requestsText  string
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

// s2PodDispatch runs N one-container pod QueueJobs, then N batch/v1 Jobs through
// kube-controller-manager's Job controller, with the same client settings and workers.
func (b *bench) s2PodDispatch(ctx context.Context) *Result {
	r := newResult("S2", "pod dispatch vs batch/v1 Job", b.env)
	n := b.cfg.s2N
	r.Params["n"] = n
	kq, err := b.s2Kickq(ctx, n)
	if err != nil {
		r.Error = "kickq arm: " + err.Error()
		return r
	}
	bj, err := b.s2Batch(ctx, n)
	if err != nil {
		r.Error = "batch/v1 arm: " + err.Error()
		r.Metrics["kickq"] = kq
		return r
	}
	r.Metrics["kickq"], r.Metrics["batchv1"] = kq, bj
	ratio := kq.PodsPerSec / bj.PodsPerSec
	r.Metrics["podsPerSecondRatio"] = ratio
	ref := func(f string, args ...any) string { return "batch/v1 Job: " + fmt.Sprintf(f, args...) }
	r.target("pods created/s", fmt.Sprintf("%.0f (%.2f× batch/v1)", kq.PodsPerSec, ratio), ref("%.0f", bj.PodsPerSec), "≥ 2× batch/v1", ratio >= 2)
	r.row("create → pod p50 / p99", fmt.Sprintf("%.0f / %.0f ms", kq.PodLatency["p50ms"], kq.PodLatency["p99ms"]),
		ref("%.0f / %.0f ms", bj.PodLatency["p50ms"], bj.PodLatency["p99ms"]))
	r.row("completed jobs/s", fmt.Sprintf("%.0f", kq.DonePerSec), ref("%.0f", bj.DonePerSec))
	r.row("create → done p50 / p99", fmt.Sprintf("%.0f / %.0f ms", kq.DoneLatency["p50ms"], kq.DoneLatency["p99ms"]),
		ref("%.0f / %.0f ms", bj.DoneLatency["p50ms"], bj.DoneLatency["p99ms"]))
	r.row("API requests per job (controller)", fmt.Sprintf("%.2f (%s)", kq.RequestsTotal, kq.requestsText),
		ref("%.2f (%s)", bj.RequestsTotal, bj.requestsText))
	r.row("queuejob reconciles per job / mean reconcile", fmt.Sprintf("%.1f / %.1f ms", kq.Reconciles, kq.ReconcileMs), "")
	cpPerJob := func(a *armResult) string {
		return fmt.Sprintf("%.1f + %.1f", a.ControlPlane["kube-apiserver"]/float64(a.N)*1000, a.ControlPlane["etcd"]/float64(a.N)*1000)
	}
	r.row("kube-apiserver + etcd CPU-ms per job", cpPerJob(kq), "batch/v1 Job: "+cpPerJob(bj))
	r.row("controller CPU-s per 1,000 jobs", fmt.Sprintf("%.2f", kq.CPUPer1000), ref("%.2f", bj.CPUPer1000))
	r.row("controller peak RSS", mib(kq.PeakRSS), ref("%s", mib(bj.PeakRSS)))
	r.note("each arm runs alone (kickq first, then batch/v1 with kube-controller-manager started for it); the harness creates the N objects with %d goroutines (%.1f s kickq, %.1f s batch/v1); pods/s = N / (last pod seen by the harness's watch − first create)",
		b.cfg.parallelism, kq.CreateSeconds, bj.CreateSeconds)
	return r
}

func (b *bench) s2Kickq(ctx context.Context, n int) (*armResult, error) {
	ns, err := b.newNamespace(ctx, "bench-s2-kickq")
	if err != nil {
		return nil, err
	}
	w, err := StartWatcher(ctx, b.cluster.HarnessCfg, b.cluster.KubeletCfg, ns, WatchOptions{QueueJobs: true, Kubelet: true, Workers: b.cfg.parallelism})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	m, err := b.startManager(ctx, "S2")
	if err != nil {
		return nil, err
	}
	defer m.Stop()
	var prof <-chan error
	if b.cfg.profile {
		prof = m.Profile(ctx, 15, filepath.Join(b.cfg.out, "S2-manager.cpu.pprof"))
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
		rec, secs, merr := m.SaveMetrics(filepath.Join(b.cfg.out, "S2-manager.metrics.txt"))
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

func (b *bench) s2Batch(ctx context.Context, n int) (*armResult, error) {
	ns, err := b.newNamespace(ctx, "bench-s2-batch")
	if err != nil {
		return nil, err
	}
	w, err := StartWatcher(ctx, b.cluster.HarnessCfg, b.cluster.KubeletCfg, ns, WatchOptions{Jobs: true, Kubelet: true, Workers: b.cfg.parallelism})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	k, err := b.cluster.StartKCM("job", b.cfg.workers, filepath.Join(b.cfg.out, "kube-controller-manager-S2.log"))
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
	time.Sleep(200 * time.Millisecond) // the audit log is written before each response; let the last lines land
	events, err := b.cluster.ReadAudit(mark, 0, nil)
	if err != nil {
		return nil, err
	}
	res := &armResult{Name: name, N: n, CreateSeconds: createDur.Seconds(), Failed: snap.doneFailed, KubeletErrors: snap.kubeletErrs,
		CPUSeconds: (after.CPU - before.CPU).Seconds(), PeakRSS: after.PeakRS, ControlPlane: cp.used()}
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

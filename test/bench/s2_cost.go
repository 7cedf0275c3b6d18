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
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// baseline is what the API server spends on the requests both arms of S2 share, measured with
// no controller running: the user's N creates of the arm's kind, then N pods the harness creates
// itself (standing in for the controller's), then the fake kubelet's writes to them — each
// phase alone, its kube-apiserver CPU-seconds read from /proc.
type baseline struct {
	N             int     `json:"n"`
	CreateCPU     float64 `json:"userCreatesAPIServerCPUSeconds"`
	PodCreateCPU  float64 `json:"podCreatesAPIServerCPUSeconds"`
	KubeletCPU    float64 `json:"kubeletAPIServerCPUSeconds"`
	KubeletWrites int     `json:"kubeletWrites"`
	// IdleCPUPerSec is kube-apiserver's CPU-seconds per second with nothing running (3 s).
	IdleCPUPerSec float64 `json:"apiServerIdleCPUPerSecond"`
}

// s2Baseline measures one baseline in a namespace of its own and deletes what it created (a
// manager or kube-controller-manager started later would otherwise run it).
func (b *bench) s2Baseline(ctx context.Context, name string, n int, obj func(ns string, i int) client.Object) (*baseline, error) {
	ns, err := b.newNamespace(ctx, name)
	if err != nil {
		return nil, err
	}
	w, err := StartWatcher(ctx, b.cluster.HarnessCfg, b.cluster.KubeletCfg, ns, WatchOptions{QueueJobs: true, Jobs: true, Kubelet: true, Hold: true, Workers: b.cfg.parallelism})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	base := &baseline{N: n}
	api := ControlPlanePIDs()["kube-apiserver"]
	idle0, _ := ReadProc(api)
	t0 := time.Now()
	time.Sleep(3 * time.Second)
	idle1, _ := ReadProc(api)
	base.IdleCPUPerSec = (idle1.CPU - idle0.CPU).Seconds() / time.Since(t0).Seconds()
	phase := func(fn func(ctx context.Context, i int) error) (float64, error) {
		before, _ := ReadProc(api)
		if failed, err := parallel(ctx, n, b.cfg.parallelism, fn); err != nil {
			return 0, fmt.Errorf("%d failed, first: %w", failed, err)
		}
		after, _ := ReadProc(api)
		return (after.CPU - before.CPU).Seconds(), nil
	}
	if base.CreateCPU, err = phase(func(ctx context.Context, i int) error { return b.cluster.Harness.Create(ctx, obj(ns, i)) }); err != nil {
		return nil, fmt.Errorf("creates: %w", err)
	}
	if base.PodCreateCPU, err = phase(func(ctx context.Context, i int) error { return b.cluster.Harness.Create(ctx, baselinePod(ns, i)) }); err != nil {
		return nil, fmt.Errorf("pod creates: %w", err)
	}
	before, _ := ReadProc(api)
	w.Release()
	if err := w.WaitKubelet(ctx, n, 5*time.Minute); err != nil {
		return nil, err
	}
	after, _ := ReadProc(api)
	base.KubeletCPU = (after.CPU - before.CPU).Seconds()
	base.KubeletWrites = w.KubeletWrites()
	for _, o := range []client.Object{&kickqv1alpha1.QueueJob{}, &batchv1.Job{}, &corev1.Pod{}} {
		if err := b.cluster.Harness.DeleteAllOf(ctx, o, client.InNamespace(ns), client.GracePeriodSeconds(0)); err != nil {
			return nil, fmt.Errorf("deleting the baseline's objects: %w", err)
		}
	}
	logf("S2 %s: kube-apiserver CPU-ms per job: user's create %.2f, pod create %.2f, kubelet %.2f (%d writes)", name,
		base.CreateCPU/float64(n)*1000, base.PodCreateCPU/float64(n)*1000, base.KubeletCPU/float64(n)*1000, base.KubeletWrites)
	return base, nil
}

// baselinePod is a pod like the arms' (one container), labelled as a job's so the watcher's
// kubelet runs it.
func baselinePod(ns string, i int) *corev1.Pod {
	spec := podSpec()
	spec.RestartPolicy = corev1.RestartPolicyNever
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("p-%d", i),
		Labels: map[string]string{batchv1.JobNameLabel: fmt.Sprintf("j-%d", i)}}, Spec: spec}
}

// correct splits the arm's kube-apiserver CPU: what the shared requests cost (the user's
// creates and the kubelet's writes, priced per request by the baseline) and what is left, the
// controller's own requests (its reads, writes, events, pod creates, and the watch events the
// API server sends it), once the API server's idle CPU over the arm's time is taken out too.
func (a *armResult) correct(base *baseline) {
	n := float64(a.N)
	perCreate := base.CreateCPU / float64(max(base.N, 1))
	perKubelet := base.KubeletCPU / float64(max(base.KubeletWrites, 1))
	a.APIServerCPU = a.ControlPlane["kube-apiserver"]
	createCPU := perCreate * n
	kubeletCPU := perKubelet * float64(a.KubeletWrites)
	a.UserCreateAPIMs = createCPU / n * 1000
	a.KubeletAPIMs = kubeletCPU / n * 1000
	idleCPU := base.IdleCPUPerSec * a.WallSeconds
	a.IdleAPIMs = idleCPU / n * 1000
	a.OwnAPIMs = (a.APIServerCPU - createCPU - kubeletCPU - idleCPU) / n * 1000
	if a.APIServerCPU > 0 {
		a.KubeletShare = kubeletCPU / a.APIServerCPU
	}
	a.Baseline = base
}

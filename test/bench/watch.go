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
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
)

// Watcher watches one scenario's namespace: it records when each job's pod appeared and when
// each job started and finished, counts Running QueueJobs in the order the API server stored
// their changes, and plays the kubelet (each new pod is marked Succeeded in one status write).
type Watcher struct {
	ns      string
	cache   cache.Cache
	kubelet client.Client
	cancel  context.CancelFunc
	pods    chan *corev1.Pod

	mu          sync.Mutex
	podSeen     map[string]time.Time // job name → first time its pod was seen
	running     map[string]time.Time // QueueJob name → first time seen Running
	done        map[string]time.Time // job name → first time seen finished
	doneFailed  int
	phase       map[string]kickqv1alpha1.QueueJobPhase
	nRunning    int
	maxRunning  int
	series      []point // Running count after each change
	recorded    map[string][]time.Time
	kubeletErrs int
	// kubeletWrites counts the fake kubelet's pod status writes (conflicts included).
	kubeletWrites int
	podsRun       int
	release       chan struct{}
	releaseOnce   sync.Once
}

type point struct {
	t time.Time
	n int
}

// WatchOptions choose what a Watcher watches.
type WatchOptions struct {
	QueueJobs bool
	Jobs      bool
	Kubelet   bool // watch pods and play the kubelet
	Workers   int  // kubelet workers
	// Hold keeps the kubelet from running pods until Release (S2's baseline measures pod creates
	// and the kubelet's writes apart).
	Hold bool
}

// StartWatcher starts watching a namespace and waits for its caches.
func StartWatcher(ctx context.Context, harness, kubelet *rest.Config, ns string, o WatchOptions) (*Watcher, error) {
	c, err := cache.New(harness, cache.Options{
		Scheme:            util.NewScheme(),
		DefaultNamespaces: map[string]cache.Config{ns: {}},
		DefaultTransform:  cache.TransformStripManagedFields(),
	})
	if err != nil {
		return nil, err
	}
	kc, err := client.New(kubelet, client.Options{Scheme: util.NewScheme()})
	if err != nil {
		return nil, err
	}
	w := &Watcher{ns: ns, cache: c, kubelet: kc, pods: make(chan *corev1.Pod, 1<<16),
		podSeen: map[string]time.Time{}, running: map[string]time.Time{}, done: map[string]time.Time{},
		phase: map[string]kickqv1alpha1.QueueJobPhase{}, recorded: map[string][]time.Time{}, release: make(chan struct{})}
	if !o.Hold {
		w.Release()
	}
	wctx, cancel := context.WithCancel(ctx)
	w.cancel = cancel

	if o.Kubelet {
		inf, err := c.GetInformer(wctx, &corev1.Pod{})
		if err != nil {
			cancel()
			return nil, err
		}
		_, _ = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) { w.onPod(obj.(*corev1.Pod)) },
		})
		for range max(o.Workers, 1) {
			go w.kubeletLoop(wctx)
		}
	}
	if o.QueueJobs {
		inf, err := c.GetInformer(wctx, &kickqv1alpha1.QueueJob{})
		if err != nil {
			cancel()
			return nil, err
		}
		_, _ = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { w.onQueueJob(obj.(*kickqv1alpha1.QueueJob)) },
			UpdateFunc: func(_, obj any) { w.onQueueJob(obj.(*kickqv1alpha1.QueueJob)) },
		})
	}
	if o.Jobs {
		inf, err := c.GetInformer(wctx, &batchv1.Job{})
		if err != nil {
			cancel()
			return nil, err
		}
		_, _ = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { w.onJob(obj.(*batchv1.Job)) },
			UpdateFunc: func(_, obj any) { w.onJob(obj.(*batchv1.Job)) },
		})
	}
	go func() { _ = c.Start(wctx) }()
	if !c.WaitForCacheSync(wctx) {
		cancel()
		return nil, fmt.Errorf("watcher caches of %s did not sync", ns)
	}
	return w, nil
}

// Release lets a held kubelet run the pods it has seen and every later one.
func (w *Watcher) Release() { w.releaseOnce.Do(func() { close(w.release) }) }

// KubeletWrites is how many pod status writes the fake kubelet sent.
func (w *Watcher) KubeletWrites() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.kubeletWrites
}

// WaitKubelet waits until the fake kubelet has finished n pods (or the timeout passes).
func (w *Watcher) WaitKubelet(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		d := w.podsRun
		w.mu.Unlock()
		if d >= n {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the fake kubelet finished %d of %d pods in %s within %s", d, n, w.ns, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the watches and the kubelet.
func (w *Watcher) Stop() { w.cancel() }

func ownerJob(pod *corev1.Pod) string {
	if j := pod.Labels[kickqv1alpha1.LabelJob]; j != "" {
		return j
	}
	if j := pod.Labels[batchv1.JobNameLabel]; j != "" {
		return j
	}
	return pod.Labels["job-name"]
}

func (w *Watcher) onPod(pod *corev1.Pod) {
	now := time.Now()
	job := ownerJob(pod)
	w.mu.Lock()
	if _, ok := w.podSeen[job]; !ok {
		w.podSeen[job] = now
	}
	w.mu.Unlock()
	if pod.Status.Phase == "" || pod.Status.Phase == corev1.PodPending {
		w.pods <- pod
	}
}

func (w *Watcher) onQueueJob(j *kickqv1alpha1.QueueJob) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	prev := w.phase[j.Name]
	cur := j.Status.Phase
	w.phase[j.Name] = cur
	if cur == kickqv1alpha1.PhaseRunning {
		if _, ok := w.running[j.Name]; !ok {
			w.running[j.Name] = now
		}
	}
	if (prev == kickqv1alpha1.PhaseRunning) != (cur == kickqv1alpha1.PhaseRunning) {
		if cur == kickqv1alpha1.PhaseRunning {
			w.nRunning++
		} else {
			w.nRunning--
		}
		w.maxRunning = max(w.maxRunning, w.nRunning)
		w.series = append(w.series, point{now, w.nRunning})
	}
	if cur == kickqv1alpha1.PhaseSucceeded || cur == kickqv1alpha1.PhaseFailed {
		if _, ok := w.done[j.Name]; !ok {
			w.done[j.Name] = now
			if cur == kickqv1alpha1.PhaseFailed {
				w.doneFailed++
			}
			var starts []time.Time
			for _, a := range j.Status.AttemptHistory {
				if a.StartTime != nil {
					starts = append(starts, a.StartTime.Time)
				}
			}
			w.recorded[j.Name] = starts
		}
	}
}

func (w *Watcher) onJob(j *batchv1.Job) {
	now := time.Now()
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			w.mu.Lock()
			if _, ok := w.done[j.Name]; !ok {
				w.done[j.Name] = now
				if c.Type == batchv1.JobFailed {
					w.doneFailed++
				}
			}
			w.mu.Unlock()
		}
	}
}

// kubeletLoop marks each pod Succeeded with exit code 0, in one status write.
func (w *Watcher) kubeletLoop(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-w.release:
	}
	for {
		select {
		case <-ctx.Done():
			return
		case pod := <-w.pods:
			err := w.runPod(ctx, pod.DeepCopy())
			w.mu.Lock()
			if err != nil && ctx.Err() == nil {
				w.kubeletErrs++
			} else if err == nil {
				w.podsRun++
			}
			w.mu.Unlock()
		}
	}
}

// runPod writes the pod's status straight to Succeeded (exit code 0): one write per pod, the
// cheapest a kubelet can be, and the same for every arm. A real kubelet writes Running first; no
// controller measured here needs to see it (kickq's attempt starts with its pod, the Job
// controller counts a pod when it finishes).
func (w *Watcher) runPod(ctx context.Context, pod *corev1.Pod) error {
	for try := 0; ; try++ {
		now := metav1.Now()
		pod.Status.Phase = corev1.PodSucceeded
		pod.Status.StartTime = &now
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now}}}}
		err := w.kubelet.Status().Update(ctx, pod)
		w.mu.Lock()
		w.kubeletWrites++
		w.mu.Unlock()
		if err == nil {
			return nil
		}
		if !apierrors.IsConflict(err) || try > 10 {
			return err
		}
		if err := w.kubelet.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return err
		}
	}
}

// snapshot copies what the watcher recorded.
type snapshot struct {
	podSeen, running, done map[string]time.Time
	recorded               map[string][]time.Time
	doneFailed, maxRunning int
	series                 []point
	kubeletErrs            int
}

func (w *Watcher) snapshot() snapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	cp := func(m map[string]time.Time) map[string]time.Time {
		o := make(map[string]time.Time, len(m))
		for k, v := range m {
			o[k] = v
		}
		return o
	}
	rec := make(map[string][]time.Time, len(w.recorded))
	for k, v := range w.recorded {
		rec[k] = v
	}
	return snapshot{podSeen: cp(w.podSeen), running: cp(w.running), done: cp(w.done), recorded: rec,
		doneFailed: w.doneFailed, maxRunning: w.maxRunning, series: append([]point(nil), w.series...), kubeletErrs: w.kubeletErrs}
}

// WaitDone waits until n jobs finished or the timeout passes, and returns the snapshot.
func (w *Watcher) WaitDone(ctx context.Context, n int, timeout time.Duration) (snapshot, error) {
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		d := len(w.done)
		w.mu.Unlock()
		if d >= n {
			return w.snapshot(), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return w.snapshot(), fmt.Errorf("%d of %d jobs finished in %s within %s", d, n, w.ns, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

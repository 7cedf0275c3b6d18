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

// Package fakekubelet plays the kubelet for kickq's pods on a control plane without nodes
// (envtest, the benchmark and reliability harnesses): it watches pods labelled kickq.dev/job,
// marks each new one Running, holds it for a while, then terminates its container with the exit
// code a Decide function chooses. It records every pod it saw, by UID, per job and attempt, so a
// harness can count pods per attempt. Its watch resumes across API server restarts (an informer
// relists), and status writes that fail are retried until the pod is gone or the context ends.
package fakekubelet

import (
	"context"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// Run is what a pod's container does: run for RunFor, then exit with ExitCode and Message (the
// termination message).
type Run struct {
	RunFor   time.Duration
	ExitCode int32
	Message  string
}

// DecideFunc chooses a pod's run.
type DecideFunc func(pod *corev1.Pod) Run

// Options configure a Kubelet.
type Options struct {
	// Scheme of the clients (core types at least).
	Scheme *runtime.Scheme
	// Namespaces watched; empty watches all.
	Namespaces []string
	// Workers run pods at once (default 16); a pod waiting for a worker stays Pending.
	Workers int
	// Decide chooses each pod's run; nil succeeds at once with exit code 0.
	Decide DecideFunc
}

// PodRecord is one pod the kubelet saw.
type PodRecord struct {
	UID       types.UID
	Namespace string
	Name      string
	Job       string
	Attempt   string
	Seen      time.Time
	// Started and Finished are when the kubelet sent the Running and the terminal status writes
	// that succeeded (zero when not done): the API server stored them later.
	Started  time.Time
	Finished time.Time
	ExitCode int32
}

// Kubelet is a fake kubelet.
type Kubelet struct {
	opts  Options
	c     client.Client
	cache cache.Cache
	work  chan types.UID

	mu    sync.Mutex
	pods  map[types.UID]*PodRecord
	byUID map[types.UID]types.NamespacedName
	errs  int
}

// Start starts the kubelet with the identity of cfg and waits for its cache to sync.
func Start(ctx context.Context, cfg *rest.Config, o Options) (*Kubelet, error) {
	if o.Workers <= 0 {
		o.Workers = 16
	}
	sel, err := labels.Parse(kickqv1alpha1.LabelJob)
	if err != nil {
		return nil, err
	}
	co := cache.Options{Scheme: o.Scheme, DefaultLabelSelector: sel, DefaultTransform: cache.TransformStripManagedFields()}
	if len(o.Namespaces) > 0 {
		co.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range o.Namespaces {
			co.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	ca, err := cache.New(cfg, co)
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: o.Scheme})
	if err != nil {
		return nil, err
	}
	k := &Kubelet{opts: o, c: c, cache: ca, work: make(chan types.UID, 1<<16),
		pods: map[types.UID]*PodRecord{}, byUID: map[types.UID]types.NamespacedName{}}
	inf, err := ca.GetInformer(ctx, &corev1.Pod{})
	if err != nil {
		return nil, err
	}
	_, _ = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.observe(obj) },
		UpdateFunc: func(_, obj any) { k.observe(obj) },
	})
	for range o.Workers {
		go k.loop(ctx)
	}
	go func() { _ = ca.Start(ctx) }()
	if !ca.WaitForCacheSync(ctx) {
		return nil, ctx.Err()
	}
	return k, nil
}

func (k *Kubelet) observe(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, seen := k.pods[pod.UID]; seen {
		return
	}
	k.pods[pod.UID] = &PodRecord{UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name,
		Job: pod.Labels[kickqv1alpha1.LabelJob], Attempt: pod.Labels[kickqv1alpha1.LabelAttempt], Seen: time.Now()}
	k.byUID[pod.UID] = types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return
	}
	k.work <- pod.UID
}

func (k *Kubelet) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case uid := <-k.work:
			k.run(ctx, uid)
		}
	}
}

// run plays one pod: Running, then terminated after its run time.
func (k *Kubelet) run(ctx context.Context, uid types.UID) {
	k.mu.Lock()
	key := k.byUID[uid]
	k.mu.Unlock()
	var pod corev1.Pod
	if !k.retry(ctx, func() error { return k.c.Get(ctx, key, &pod) }) || pod.UID != uid {
		return
	}
	r := Run{}
	if k.opts.Decide != nil {
		r = k.opts.Decide(&pod)
	}
	start := metav1.Now()
	sent, ok := k.write(ctx, key, uid, func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.StartTime = &start
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: containerName(p), Ready: true, Started: new(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}}}}
	})
	if !ok {
		return
	}
	k.record(uid, func(pr *PodRecord) { pr.Started = sent })
	select {
	case <-ctx.Done():
		return
	case <-time.After(r.RunFor):
	}
	phase := corev1.PodSucceeded
	reason := "Completed"
	if r.ExitCode != 0 {
		phase, reason = corev1.PodFailed, "Error"
	}
	sent, ok = k.write(ctx, key, uid, func(p *corev1.Pod) {
		p.Status.Phase = phase
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: containerName(p), Started: new(false),
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: r.ExitCode, Reason: reason,
				Message: r.Message, StartedAt: start, FinishedAt: metav1.Now()}}}}
	})
	if !ok {
		return
	}
	k.record(uid, func(pr *PodRecord) { pr.Finished, pr.ExitCode = sent, r.ExitCode })
}

func containerName(p *corev1.Pod) string {
	if len(p.Spec.Containers) > 0 {
		return p.Spec.Containers[0].Name
	}
	return "main"
}

// write applies a status change to the pod of uid, re-reading it on conflicts and retrying
// while the API server is unreachable. It returns when the write that succeeded was sent, and
// false when the pod is gone or replaced.
func (k *Kubelet) write(ctx context.Context, key types.NamespacedName, uid types.UID, mutate func(*corev1.Pod)) (time.Time, bool) {
	var sent time.Time
	ok := k.retry(ctx, func() error {
		var p corev1.Pod
		if err := k.c.Get(ctx, key, &p); err != nil {
			return err
		}
		if p.UID != uid {
			return apierrors.NewNotFound(corev1.Resource("pods"), key.Name)
		}
		mutate(&p)
		sent = time.Now()
		return k.c.Status().Update(ctx, &p)
	})
	return sent, ok
}

// retry runs fn until it succeeds (true), the pod is gone or the context ends (false).
func (k *Kubelet) retry(ctx context.Context, fn func() error) bool {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		err := fn()
		if err == nil {
			return true
		}
		if apierrors.IsNotFound(err) || ctx.Err() != nil {
			return false
		}
		k.mu.Lock()
		k.errs++
		k.mu.Unlock()
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}

func (k *Kubelet) record(uid types.UID, f func(*PodRecord)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if pr := k.pods[uid]; pr != nil {
		f(pr)
	}
}

// Pods returns a copy of every pod seen.
func (k *Kubelet) Pods() []PodRecord {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]PodRecord, 0, len(k.pods))
	for _, p := range k.pods {
		out = append(out, *p)
	}
	return out
}

// Errors counts failed API calls the kubelet retried.
func (k *Kubelet) Errors() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.errs
}

// AttemptOf is a pod's attempt number (its kickq.dev/attempt label), 0 when unlabelled.
func AttemptOf(p *corev1.Pod) int {
	n, _ := strconv.Atoi(p.Labels[kickqv1alpha1.LabelAttempt])
	return n
}

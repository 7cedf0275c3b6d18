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
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
)

// The real node (hack/cluster) is shared by scenarios 7 and 8: brought up by the first of them
// that runs and down after the last one selected. Its name is hack/cluster's NODE.
const (
	realNodeName  = "localhost"
	realNodeImage = "localhost/busybox:local"
)

// RealNode is the single-node cluster of hack/cluster (bin/cluster), used where pods must really
// run: a kubelet, containerd and the node controller of a kube-controller-manager.
type RealNode struct {
	root string
	// Kubeconfig is its admin kubeconfig (bin/cluster/kubeconfig).
	Kubeconfig string
	// C is an admin client without a cache.
	C client.Client
	// Up is how long `hack/cluster/up.sh` took the first time in this run.
	Up time.Duration
}

var realNode struct {
	once sync.Once
	node *RealNode
	err  error
}

// RealNode brings the real node up (once per run) and returns it; scenario id is the caller's,
// and the node goes down when the last selected real-node scenario ends.
func (h *Harness) RealNode(ctx context.Context, id int) (*RealNode, error) {
	realNode.once.Do(func() { realNode.node, realNode.err = startRealNode(ctx) })
	if realNode.err != nil {
		return nil, realNode.err
	}
	if id == lastRealNodeScenario(h.cfg.scenarios) && os.Getenv("RELIABILITY_KEEP_NODE") == "" {
		h.OnClose(func() {
			if err := realNode.node.script(context.Background(), "down.sh"); err != nil {
				logf("hack/cluster/down.sh: %v", err)
			}
		})
	}
	return realNode.node, nil
}

// lastRealNodeScenario is the highest of 7 and 8 among the selected scenarios.
func lastRealNodeScenario(spec string) int {
	list, err := selected(spec)
	if err != nil {
		return 0
	}
	last := 0
	for _, s := range list {
		if s.ID == 7 || s.ID == 8 {
			last = s.ID
		}
	}
	return last
}

func startRealNode(ctx context.Context) (*RealNode, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the real node (hack/cluster) needs root")
	}
	n := &RealNode{root: util.RepoRoot()}
	n.Kubeconfig = filepath.Join(n.root, "bin", "cluster", "kubeconfig")
	t0 := time.Now()
	logf("real node: hack/cluster/up.sh")
	if err := n.script(ctx, "up.sh"); err != nil {
		return nil, err
	}
	n.Up = time.Since(t0)
	cfg, err := clientcmd.BuildConfigFromFlags("", n.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 100, 200
	if n.C, err = client.New(cfg, client.Options{Scheme: util.NewScheme()}); err != nil {
		return nil, err
	}
	n.stopLeftManager(ctx)
	return n, nil
}

// script runs hack/cluster/<name>, its output in bin/reliability/cluster-<name>.log.
func (n *RealNode) script(ctx context.Context, name string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(n.root, "hack", "cluster", name))
	cmd.Dir = n.root
	out, err := cmd.CombinedOutput()
	_ = os.WriteFile(filepath.Join(n.root, "bin", "reliability", "cluster-"+strings.TrimSuffix(name, ".sh")+".log"), out, 0o644)
	if err != nil {
		return fmt.Errorf("hack/cluster/%s: %v: %s", name, err, lastLines(string(out), 5))
	}
	return nil
}

// Kubectl runs kubectl against the node.
func (n *RealNode) Kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", n.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, lastLines(string(out), 5))
	}
	return string(out), nil
}

// KillKubelet SIGKILLs the node's kubelet (its containers keep running under containerd).
func (n *RealNode) KillKubelet() error {
	b, err := os.ReadFile(filepath.Join(n.root, "bin", "cluster", "pids", "kubelet"))
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// StartKubelet starts the kubelet again (up.sh relaunches what is not running) and waits for
// the node to be Ready.
func (n *RealNode) StartKubelet(ctx context.Context) error { return n.script(ctx, "up.sh") }

// NodeReady is the node's Ready condition status ("" when the node object is gone).
func (n *RealNode) NodeReady(ctx context.Context) corev1.ConditionStatus {
	var node corev1.Node
	if err := n.C.Get(ctx, client.ObjectKey{Name: realNodeName}, &node); err != nil {
		return ""
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

// WaitFor polls cond every 200 ms until it holds or timeout passes, and returns how long it took.
func WaitFor(ctx context.Context, timeout time.Duration, cond func() bool) (time.Duration, bool) {
	t0 := time.Now()
	for time.Since(t0) < timeout && ctx.Err() == nil {
		if cond() {
			return time.Since(t0), true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return time.Since(t0), false
}

// CreateNamespace creates a fresh namespace on the node.
func (n *RealNode) CreateNamespace(ctx context.Context, name string) error {
	return n.C.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

// DeleteNamespace deletes a namespace and waits (up to a minute) until it is gone, so that no
// pod of it is still terminating when the node goes down.
func (n *RealNode) DeleteNamespace(name string) {
	ctx := context.Background()
	if err := n.C.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		return
	}
	WaitFor(ctx, time.Minute, func() bool {
		return apierrors.IsNotFound(n.C.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{}))
	})
}

// PodSighting is what the pod log saw of one pod name (`<job>-<attempt>`).
type PodSighting struct {
	UIDs map[string]bool
	// Disrupted: the pod carried condition DisruptionTarget=True (its reason kept).
	Disrupted string
	// Phases seen, in order, without repeats.
	Phases []corev1.PodPhase
}

// PodLog polls the pods of a namespace (every 250 ms) and records every UID under each name:
// two UIDs under one name would be a second pod of one attempt.
type PodLog struct {
	mu   sync.Mutex
	pods map[string]*PodSighting
}

// WatchPods starts a pod log of ns until ctx ends.
func (n *RealNode) WatchPods(ctx context.Context, ns string) *PodLog {
	l := &PodLog{pods: map[string]*PodSighting{}}
	go func() {
		for ctx.Err() == nil {
			var pods corev1.PodList
			if err := n.C.List(ctx, &pods, client.InNamespace(ns)); err == nil {
				l.record(pods.Items)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()
	return l
}

func (l *PodLog) record(pods []corev1.Pod) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range pods {
		p := &pods[i]
		s := l.pods[p.Name]
		if s == nil {
			s = &PodSighting{UIDs: map[string]bool{}}
			l.pods[p.Name] = s
		}
		s.UIDs[string(p.UID)] = true
		if len(s.Phases) == 0 || s.Phases[len(s.Phases)-1] != p.Status.Phase {
			s.Phases = append(s.Phases, p.Status.Phase)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
				s.Disrupted = c.Reason
			}
		}
	}
}

// Sightings is a copy of what was seen, by pod name.
func (l *PodLog) Sightings() map[string]PodSighting {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]PodSighting, len(l.pods))
	for k, v := range l.pods {
		out[k] = *v
	}
	return out
}

// Doubled counts names seen with more than one UID, and the names seen.
func (l *PodLog) Doubled() (doubled, names int) {
	for _, s := range l.Sightings() {
		names++
		if len(s.UIDs) > 1 {
			doubled++
		}
	}
	return doubled, names
}

// RealJobs lists the jobs of a namespace on the node.
func (n *RealNode) RealJobs(ctx context.Context, ns string) ([]kickqv1alpha1.QueueJob, error) {
	var l kickqv1alpha1.QueueJobList
	err := n.C.List(ctx, &l, client.InNamespace(ns))
	return l.Items, err
}

// WaitJobs waits until every job of ns is terminal and returns them.
func (n *RealNode) WaitJobs(ctx context.Context, ns string, want int, timeout time.Duration) ([]kickqv1alpha1.QueueJob, error) {
	var jobs []kickqv1alpha1.QueueJob
	_, ok := WaitFor(ctx, timeout, func() bool {
		var err error
		if jobs, err = n.RealJobs(ctx, ns); err != nil || len(jobs) < want {
			return false
		}
		for i := range jobs {
			if !Terminal(&jobs[i]) {
				return false
			}
		}
		return true
	})
	if !ok {
		return jobs, fmt.Errorf("%d jobs of %s not all terminal within %s", len(jobs), ns, timeout)
	}
	return jobs, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// stopLeftManager scales to 0 a kickq manager Deployment that an earlier `make e2e` or `make run`
// left in the node's cluster (its etcd is kept across up.sh): it would act on the scenarios' jobs
// beside the harness's own manager. Scenario 8 deploys its own.
func (n *RealNode) stopLeftManager(ctx context.Context) {
	if _, err := n.Kubectl(ctx, "", "-n", "kickq-system", "get", "deployment/kickq-manager"); err != nil {
		return // none
	}
	logf("real node: scaling the kickq manager left in kickq-system to 0")
	_, _ = n.Kubectl(ctx, "", "-n", "kickq-system", "scale", "deployment/kickq-manager", "--replicas=0")
	_, _ = n.Kubectl(ctx, "", "-n", "kickq-system", "wait", "--for=delete", "pod",
		"-l", "app.kubernetes.io/name=kickq,app.kubernetes.io/component=manager", "--timeout=60s")
}

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
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

func init() {
	Register(Scenario{ID: 7, Name: "Node loss", Run: scenario7, Doc: "Runs on the real node of hack/cluster, whose node " +
		"controller notices a silent kubelet in about 10 s (`--node-monitor-grace-period 10s`, kubelet Lease renewed every 2 s) and " +
		"whose pods tolerate the unreachable taint 5 s (the API server's `--default-unreachable-toleration-seconds 5`; " +
		"Kubernetes' defaults are 50 s and 300 s, so on a stock cluster the same happens about 6 minutes after the kubelet stops). " +
		"An evicted pod carries condition `DisruptionTarget` (reason `DeletionByTaintManager`, or `DeletionByPodGC` once its node " +
		"object is gone), and kickq retries that attempt without counting it (the built-in rule in the README's table of pod endings, docs/operations.md); a pod that vanishes " +
		"before kickq saw such a condition ends its attempt `PodLost`, a counted failure. The pod of the next attempt is created only " +
		"once the evicted one is gone, so while the kubelet is away the job waits (an evicted pod stays Terminating until a kubelet " +
		"confirms it stopped) and runs as soon as the node is back. The harness keeps a second Node object (`kickq-spare`, " +
		"tainted NoSchedule, its Lease renewed by the harness) Ready: with the real node alone, its loss makes every Node not-Ready, " +
		"and the node controller then assumes it is itself cut off (\"full disruption\"), lifts its taints and evicts nothing, so " +
		"whether pods were evicted first was a race. On a cluster of one node, a lost kubelet's pods wait for it to return."})
}

// nodeLossScript: attempt 1 runs until the node is lost; later attempts succeed at once.
const nodeLossScript = `if [ "$KICKQ_ATTEMPT" = 1 ]; then exec sleep 600; fi; echo '{"ok":true}' > /dev/termination-log`

// scenario7 loses the real node twice under running attempts: the kubelet is SIGKILLed (and
// started again once the pods were evicted), then the Node object is deleted (and the kubelet
// restarted, registering it again).
func scenario7(ctx context.Context, h *Harness) *Row {
	row := &Row{Scenario: 7, Name: "Node loss"}
	n := h.Scale(4, 2)
	row.Done = "pod jobs on the real node (hack/cluster) whose first attempt runs until the node is lost; manager on the host (bin/manager, leader election off)"
	row.Load = fmt.Sprintf("%d pod jobs per fault (busybox; attempt 1 sleeps, attempt 2 exits 0), retry limit 3, queue concurrency 10", n)
	node, err := h.RealNode(ctx, 7)
	if err != nil {
		row.Fail("real node up", err.Error())
		return row
	}
	stopSpare, err := spareNode(ctx, node.C)
	if err != nil {
		row.Fail("spare node", err.Error())
		return row
	}
	defer stopSpare()
	ns := fmt.Sprintf("s7-%d", time.Now().Unix())
	h.OnClose(func() { node.DeleteNamespace(ns) })
	if err := setupNodeLossQueue(ctx, node, ns); err != nil {
		row.Fail("setup", err.Error())
		return row
	}
	m, err := h.StartManager(ctx, ManagerOptions{Name: "a", Extra: []string{"--kubeconfig=" + node.Kubeconfig}})
	if err != nil {
		row.Fail("manager start", err.Error())
		return row
	}
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	pods := node.WatchPods(pctx, ns)

	kubelet := nodeLossFault{name: "kubelet", prefix: "kl"}
	kubelet.run(ctx, row, node, ns, n, func() error { return node.KillKubelet() }, func() bool {
		// Evicted: every first attempt's pod carries DisruptionTarget (or is gone).
		return kubelet.evicted(ctx, node, ns, n)
	})
	// The spare node is for the kubelet half only: with the real Node deleted it would be the
	// only Node, and its taint would leave the next attempts' pods Unschedulable until the
	// scheduler's next full retry (minutes) after the real node registers again.
	stopSpare()
	object := nodeLossFault{name: "node object", prefix: "nd"}
	object.run(ctx, row, node, ns, n, func() error {
		return node.C.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: realNodeName}})
	}, func() bool { return object.gone(ctx, node, ns, n) })
	row.Faults = fmt.Sprintf("kubelet SIGKILLed mid-attempt (node NotReady after %s, pods evicted after %s, kubelet started again: jobs terminal %s later); "+
		"Node object deleted mid-attempt (first attempts' pods gone after %s, kubelet restarted to register the node: jobs terminal %s later)",
		kubelet.notReady.Round(100*time.Millisecond), kubelet.lost.Round(100*time.Millisecond), kubelet.finish.Round(100*time.Millisecond),
		object.lost.Round(100*time.Millisecond), object.finish.Round(100*time.Millisecond))

	jobs, err := node.RealJobs(ctx, ns)
	if err != nil {
		row.Fail("list jobs", err.Error())
		return row
	}
	checkNodeLossJobs(row, jobs, 2*n, pods)
	doubled, names := pods.Doubled()
	row.Check("no attempt with two pods", doubled == 0 && names >= 4*n, "%d pod names (`<job>-<attempt>`) seen, %d with two pods", names, doubled)
	row.Check("no panic in the manager's log", m.Panics() == 0, "%d panics", m.Panics())
	return row
}

// setupNodeLossQueue makes the namespace and its pod queue.
func setupNodeLossQueue(ctx context.Context, node *RealNode, ns string) error {
	if err := node.CreateNamespace(ctx, ns); err != nil {
		return err
	}
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr.To[int64](2),
		Containers: []corev1.Container{{Name: utiltesting.MainContainer, Image: realNodeImage, ImagePullPolicy: corev1.PullNever,
			Command: []string{"sh", "-c", nodeLossScript}}},
	}}
	q := utiltesting.MakeQueue(QueuePods, ns).Concurrency(10).
		Handler(TypePod, utiltesting.MakeHandler().PodTemplate(tmpl).Obj()).
		Defaults(kickqv1alpha1.JobPolicies{Retry: utiltesting.RetryPolicy(3, utiltesting.FixedBackoff(time.Second))}).Obj()
	return node.C.Create(ctx, q)
}

// nodeLossFault is one node loss: jobs started, their first attempts running, the fault, the
// loss noticed, the node back, the jobs finished.
type nodeLossFault struct {
	name, prefix           string
	notReady, lost, finish time.Duration
}

func (f *nodeLossFault) jobName(i int) string { return fmt.Sprintf("%s-%02d", f.prefix, i) }

func (f *nodeLossFault) run(ctx context.Context, row *Row, node *RealNode, ns string, n int, fault func() error, lost func() bool) {
	for i := range n {
		job := utiltesting.MakeQueueJob(f.jobName(i), ns).Queue(QueuePods).Type(TypePod).Obj()
		if err := node.C.Create(ctx, job); err != nil {
			row.Fail(f.name+": create jobs", err.Error())
			return
		}
	}
	if _, ok := WaitFor(ctx, 90*time.Second, func() bool { return f.running(ctx, node, ns, n) }); !ok {
		row.Fail(f.name+": first attempts running", "not every first attempt's pod Running within 90 s")
		return
	}
	time.Sleep(time.Second)
	logf("scenario 7: %s: fault", f.name)
	if err := fault(); err != nil {
		row.Fail(f.name+": fault", err.Error())
		return
	}
	t0 := time.Now()
	WaitFor(ctx, 60*time.Second, func() bool { return node.NodeReady(ctx) != corev1.ConditionTrue })
	f.notReady = time.Since(t0)
	var ok bool
	if _, ok = WaitFor(ctx, 150*time.Second, lost); !ok {
		row.Fail(f.name+": loss noticed", "first attempts' pods not evicted or gone within 150 s")
	}
	f.lost = time.Since(t0)
	logf("scenario 7: %s: node NotReady after %s, pods lost after %s; kubelet back", f.name, f.notReady, f.lost)
	if f.name != "kubelet" {
		if err := node.KillKubelet(); err != nil {
			row.Fail(f.name+": kubelet restart", err.Error())
			return
		}
	}
	t1 := time.Now()
	if err := node.StartKubelet(ctx); err != nil {
		row.Fail(f.name+": kubelet start", err.Error())
		return
	}
	if _, ok := WaitFor(ctx, 3*time.Minute, func() bool { return f.terminal(ctx, node, ns, n) }); !ok {
		row.Fail(f.name+": jobs finish after the node returns", "not every job terminal within 3 minutes of the kubelet's return")
	}
	f.finish = time.Since(t1)
}

// pod is the pod of job i's attempt.
func (f *nodeLossFault) pod(ctx context.Context, node *RealNode, ns string, i, attempt int) (*corev1.Pod, bool) {
	var p corev1.Pod
	if err := node.C.Get(ctx, client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("%s-%d", f.jobName(i), attempt)}, &p); err != nil {
		return nil, false
	}
	return &p, true
}

func (f *nodeLossFault) running(ctx context.Context, node *RealNode, ns string, n int) bool {
	for i := range n {
		if p, ok := f.pod(ctx, node, ns, i, 1); !ok || p.Status.Phase != corev1.PodRunning {
			return false
		}
	}
	return true
}

func (f *nodeLossFault) evicted(ctx context.Context, node *RealNode, ns string, n int) bool {
	for i := range n {
		p, ok := f.pod(ctx, node, ns, i, 1)
		if ok && p.DeletionTimestamp == nil {
			return false
		}
	}
	return true
}

func (f *nodeLossFault) gone(ctx context.Context, node *RealNode, ns string, n int) bool {
	for i := range n {
		if _, ok := f.pod(ctx, node, ns, i, 1); ok {
			return false
		}
	}
	return true
}

func (f *nodeLossFault) terminal(ctx context.Context, node *RealNode, ns string, n int) bool {
	for i := range n {
		var j kickqv1alpha1.QueueJob
		if err := node.C.Get(ctx, client.ObjectKey{Namespace: ns, Name: f.jobName(i)}, &j); err != nil || !Terminal(&j) {
			return false
		}
	}
	return true
}

// checkNodeLossJobs: every job Succeeded, and each lost first attempt ended as documented: a
// pod with DisruptionTarget is retried uncounted (outcome Retry, reason DisruptionTarget); one
// that vanished before the manager saw the condition is PodLost, counted.
func checkNodeLossJobs(row *Row, jobs []kickqv1alpha1.QueueJob, want int, pods *PodLog) {
	seen := pods.Sightings()
	ok, asDocumented, sawCondition := 0, 0, 0
	endings := map[string]int{}
	var wrong []string
	for i := range jobs {
		j := &jobs[i]
		if j.Status.Phase == kickqv1alpha1.PhaseSucceeded {
			ok++
		}
		if len(j.Status.AttemptHistory) == 0 {
			wrong = append(wrong, j.Name+": no attempt history")
			continue
		}
		first := j.Status.AttemptHistory[0]
		key := fmt.Sprintf("%s/%s", first.Outcome, first.Reason)
		if first.Reason == "" {
			key = string(first.Outcome)
		}
		endings[key]++
		disrupted := seen[j.Name+"-1"].Disrupted
		if disrupted != "" {
			sawCondition++
		}
		counted := j.Status.FailedAttempts > 0
		switch {
		case first.Outcome == kickqv1alpha1.OutcomeRetry && first.Reason == string(corev1.DisruptionTarget) && !counted:
			asDocumented++
		case first.Reason == kickqv1alpha1.AttemptReasonPodLost && counted:
			asDocumented++
		default:
			wrong = append(wrong, fmt.Sprintf("%s: attempt 1 %s (pod's DisruptionTarget %q), failedAttempts %d", j.Name, key, disrupted, j.Status.FailedAttempts))
		}
	}
	row.Check("every job Succeeded after the node returned", ok == want && len(jobs) == want, "%d of %d", ok, want)
	var ends []string
	for k, v := range endings {
		ends = append(ends, fmt.Sprintf("%d %s", v, k))
	}
	sort.Strings(ends)
	row.Check("lost attempts ended as documented (DisruptionTarget: Retry, uncounted; vanished: PodLost, counted)", asDocumented == want,
		"first attempts: %s (the harness's 250 ms pod poll saw DisruptionTarget on %d of them: PodGC deletes at once after setting it)%s",
		strings.Join(ends, ", "), sawCondition, wrongSuffix(wrong))
}

func wrongSuffix(w []string) string {
	if len(w) == 0 {
		return ""
	}
	if len(w) > 4 {
		w = append(w[:4], fmt.Sprintf("… %d more", len(w)-4))
	}
	return "; " + strings.Join(w, "; ")
}

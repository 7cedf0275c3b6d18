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
	"path/filepath"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
)

// annotationScheduledTime is what kickq's cron reconciler records on a child (controllers.
// AnnotationScheduledTime).
const annotationScheduledTime = "kickq.dev/scheduled-time"

// s6Grace is how long after the last counted minute a child may still appear: a firing whose
// child has not appeared by then is missed.
const s6Grace = 75 * time.Second

// firingKey is one firing of one template.
type firingKey struct {
	template string
	at       int64 // Unix seconds: time.Time values with other locations or monotonic readings differ as map keys
}

// firings records, per template and scheduled time, how many children appeared and when the
// first was seen.
type firings struct {
	mu    sync.Mutex
	count map[firingKey]int
	seen  map[firingKey]time.Time
}

func (f *firings) add(template, scheduled string) {
	now := time.Now()
	at, err := time.Parse(time.RFC3339, scheduled)
	if err != nil || template == "" {
		return
	}
	k := firingKey{template, at.Unix()}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count[k]++
	if _, ok := f.seen[k]; !ok {
		f.seen[k] = now
	}
}

// s6Cron runs N `* * * * *` QueueJob templates beside N batch/v1 CronJobs (kube-controller-manager
// with only its CronJob controller) for a few minutes, and counts missed and duplicated firings and
// the skew between a firing's scheduled time and when its child appeared (harness's watch). The
// children are suspended (the template's spec.suspend; the CronJob's jobTemplate.spec.suspend) and
// the policy is Allow, so that nothing runs and firings never wait for running children.
func (b *bench) s6Cron(ctx context.Context) *Result {
	r := newResult("S6", "cron", b.env)
	n, minutes := b.cfg.s6N, b.cfg.s6Minutes
	r.Params["n"], r.Params["minutes"] = n, minutes
	nsK, err := b.newNamespace(ctx, "bench-s6-kickq")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	nsB, err := b.newNamespace(ctx, "bench-s6-batch")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	kq := &firings{count: map[firingKey]int{}, seen: map[firingKey]time.Time{}}
	bj := &firings{count: map[firingKey]int{}, seen: map[firingKey]time.Time{}}
	c, err := cache.New(b.cluster.HarnessCfg, cache.Options{Scheme: util.NewScheme(),
		DefaultNamespaces: map[string]cache.Config{nsK: {}, nsB: {}}, DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	qi, err := c.GetInformer(wctx, &kickqv1alpha1.QueueJob{})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	_, _ = qi.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: func(o any) {
		j := o.(*kickqv1alpha1.QueueJob)
		kq.add(j.Labels[kickqv1alpha1.LabelScheduledBy], j.Annotations[annotationScheduledTime])
	}})
	ji, err := c.GetInformer(wctx, &batchv1.Job{})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	_, _ = ji.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: func(o any) {
		j := o.(*batchv1.Job)
		owner := ""
		if ref := metav1.GetControllerOf(j); ref != nil && ref.Kind == "CronJob" {
			owner = ref.Name
		}
		bj.add(owner, j.Annotations[batchv1.CronJobScheduledTimestampAnnotation])
	}})
	go func() { _ = c.Start(wctx) }()
	if !c.WaitForCacheSync(wctx) {
		r.Error = "S6 watches did not sync"
		return r
	}
	m, err := b.startManager(ctx, "S6")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer m.Stop()
	k, err := b.cluster.StartKCM(b.cfg.s6Controllers, b.cfg.workers, filepath.Join(b.cfg.out, "kube-controller-manager-S6.log"))
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer k.Stop()
	kBefore, _ := ReadProc(k.Pid)
	mBefore := m.Stats()
	mark := b.cluster.MarkAudit()
	failed, err := parallel(ctx, 2*n, b.cfg.parallelism, func(ctx context.Context, i int) error {
		if i < n {
			return b.cluster.Harness.Create(ctx, cronTemplate(nsK, fmt.Sprintf("t-%d", i)))
		}
		return b.cluster.Harness.Create(ctx, cronJob(nsB, fmt.Sprintf("t-%d", i-n)))
	})
	if err != nil {
		r.Error = fmt.Sprintf("creating: %d failed, first: %v", failed, err)
		return r
	}
	// The firings counted are the first `minutes` whole minutes at least 10 s after every
	// template exists.
	first := time.Now().Add(10 * time.Second).Truncate(time.Minute).Add(time.Minute)
	var expected []time.Time
	for i := range minutes {
		expected = append(expected, first.Add(time.Duration(i)*time.Minute))
	}
	last := expected[len(expected)-1]
	logf("S6: %d templates and %d CronJobs; counting firings %s … %s", n, n, first.Format("15:04:05"), last.Format("15:04:05"))
	select {
	case <-ctx.Done():
		r.Error = ctx.Err().Error()
		return r
	case <-time.After(time.Until(last.Add(s6Grace))):
	}
	kAfter, _ := ReadProc(k.Pid)
	mAfter := m.Stats()
	events, _ := b.cluster.ReadAudit(mark, 0, nil)
	arm := func(name string, f *firings, cpu float64, rss int64, reqs map[string]int) map[string]any {
		f.mu.Lock()
		defer f.mu.Unlock()
		var skew Durations
		missed, dup := 0, 0
		for i := range n {
			t := fmt.Sprintf("t-%d", i)
			for _, at := range expected {
				key := firingKey{t, at.Unix()}
				cnt := f.count[key]
				if cnt == 0 {
					missed++
					continue
				}
				dup += cnt - 1
				skew = append(skew, f.seen[key].Sub(at))
			}
		}
		// Requests are counted over the whole scenario, which also saw the firings before the
		// counted minutes: divide by every child that appeared.
		children := 0
		for _, c := range f.count {
			children += c
		}
		text, total := requestsTable(reqs, children)
		res := map[string]any{"missed": missed, "duplicates": dup, "skew": skew.summary(), "expected": n * minutes,
			"cpuSeconds": cpu, "peakRSSBytes": rss, "apiRequestsPerFiring": perJob(reqs, children), "apiRequestsPerFiringTotal": total, "children": children}
		r.Metrics[name] = res
		res["text"] = fmt.Sprintf("missed %d, duplicates %d, skew p50 %s / p99 %s / max %s; %.2f requests per firing (%s); %.1f CPU-s, peak RSS %s",
			missed, dup, fmtMS(skew.pct(50)), fmtMS(skew.pct(99)), fmtMS(skew.max()), total, text, cpu, mib(rss))
		return res
	}
	a := arm("kickq", kq, (mAfter.CPU - mBefore.CPU).Seconds(), mAfter.PeakRS, RequestCounts(events, userManager, nsK))
	ref := arm("batchv1", bj, (kAfter.CPU - kBefore.CPU).Seconds(), kAfter.PeakRS, RequestCounts(events, userKCM, nsB))
	skewP99 := a["skew"].(map[string]float64)["p99ms"]
	r.target("missed / duplicated firings", fmt.Sprintf("%d / %d of %d", a["missed"], a["duplicates"], n*minutes),
		fmt.Sprintf("batch/v1 CronJob: %d / %d", ref["missed"], ref["duplicates"]), "0 / 0", a["missed"] == 0 && a["duplicates"] == 0)
	refP99 := ref["skew"].(map[string]float64)["p99ms"]
	r.target("firing skew p50 / p99", fmt.Sprintf("%.0f / %.0f ms", a["skew"].(map[string]float64)["p50ms"], skewP99),
		fmt.Sprintf("batch/v1 CronJob: %.0f / %.0f ms", ref["skew"].(map[string]float64)["p50ms"], refP99),
		"p99 ≤ batch/v1 CronJob's (same run)", skewP99 <= refP99 && a["missed"] == 0 && a["duplicates"] == 0)
	r.row("kickq", a["text"].(string), "")
	r.row("batch/v1 CronJob", ref["text"].(string), "")
	r.note("%d templates `* * * * *` (concurrencyPolicy Allow, suspended children) beside %d CronJobs (kube-controller-manager --controllers=%s: with the Job controller, the CronJob's children are handled as kickq's manager handles its own), both created at once; firings counted: %d whole minutes; skew = when the harness's watch saw the child − its scheduled time; a firing without a child %s after the last counted minute is missed", n, n, b.cfg.s6Controllers, minutes, s6Grace)
	return r
}

func cronTemplate(ns, name string) *kickqv1alpha1.QueueJob {
	j := podJob(ns, name)
	j.Spec.Suspend = ptrTo(true)
	j.Spec.Cron = &kickqv1alpha1.CronSpec{Schedule: "* * * * *", ConcurrencyPolicy: kickqv1alpha1.ConcurrencyPolicy("Allow")}
	return j
}

func cronJob(ns, name string) *batchv1.CronJob {
	spec := podSpec()
	spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: batchv1.CronJobSpec{
			Schedule:          "* * * * *",
			ConcurrencyPolicy: batchv1.AllowConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				Suspend:  ptrTo(true),
				Template: corev1.PodTemplateSpec{Spec: spec},
			}},
		},
	}
}

var _ client.Object = &batchv1.CronJob{}

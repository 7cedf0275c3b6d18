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
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// sink is a loopback HTTP receiver that answers every webhook call at once with 200 and records
// when each job's first call arrived.
type sink struct {
	srv   *http.Server
	URL   string
	mu    sync.Mutex
	first map[string]time.Time
	calls int
}

func startSink() (*sink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{first: map[string]time.Time{}, URL: "http://" + l.Addr().String() + "/hook"}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	body, _ := io.ReadAll(r.Body)
	var p struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(body, &p)
	s.mu.Lock()
	s.calls++
	if _, ok := s.first[p.Name]; !ok {
		s.first[p.Name] = now
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"result":{"ok":true}}`))
}

func (s *sink) stop() { _ = s.srv.Close() }

// s1Webhook creates N webhook QueueJobs whose target is the loopback sink and measures
// throughput, create → delivery latency, the API requests per job and the manager's cost.
func (b *bench) s1Webhook(ctx context.Context) *Result {
	r := newResult("S1", "webhook burst", b.env)
	n := b.cfg.s1N
	r.Params["n"], r.Params["webhookWorkers"] = n, b.cfg.webhookWorkers
	ns, err := b.newNamespace(ctx, "bench-s1")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook", Labels: map[string]string{kickqv1alpha1.LabelWebhookSigning: "true"}}, Data: map[string][]byte{"secret": []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")}}
	if err := b.cluster.Harness.Create(ctx, secret); err != nil {
		r.Error = err.Error()
		return r
	}
	sk, err := startSink()
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer sk.stop()
	w, err := StartWatcher(ctx, b.cluster.HarnessCfg, b.cluster.KubeletCfg, ns, WatchOptions{QueueJobs: true})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer w.Stop()
	m, err := b.startWebhookManager(ctx, "S1")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer m.Stop()
	var prof <-chan error
	if b.cfg.profile {
		prof = m.Profile(ctx, 10, filepath.Join(b.cfg.out, "S1-manager.cpu.pprof"))
	}
	before := m.Stats()
	mark := b.cluster.MarkAudit()
	cp := watchControlPlane()
	created := make([]time.Time, n)
	var mu sync.Mutex
	t0 := time.Now()
	failed, err := parallel(ctx, n, b.cfg.parallelism, func(ctx context.Context, i int) error {
		j := &kickqv1alpha1.QueueJob{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("h-%d", i)},
			Spec: kickqv1alpha1.QueueJobSpec{Webhook: &kickqv1alpha1.WebhookTarget{
				URL: sk.URL, SecretRef: &kickqv1alpha1.SecretKeyRef{Name: "hook", Key: "secret"}}},
		}
		if err := b.cluster.Harness.Create(ctx, j); err != nil {
			return err
		}
		mu.Lock()
		created[i] = time.Now()
		mu.Unlock()
		return nil
	})
	createDur := time.Since(t0)
	if err != nil {
		r.Error = fmt.Sprintf("creating: %d failed, first: %v", failed, err)
		return r
	}
	snap, err := w.WaitDone(ctx, n, 15*time.Minute)
	if prof != nil {
		if perr := <-prof; perr != nil {
			logf("S1: profile: %v", perr)
		}
	}
	if err != nil {
		r.Error = err.Error()
		return r
	}
	after := m.Stats()
	used := cp.used()
	if rec, secs, err := m.SaveMetrics(filepath.Join(b.cfg.out, "S1-manager.metrics.txt")); err == nil && rec > 0 {
		r.Metrics["reconcilesPerJob"], r.Metrics["meanReconcileMs"] = rec/float64(n), secs/rec*1000
	}
	time.Sleep(200 * time.Millisecond)
	events, err := b.cluster.ReadAudit(mark, 0, nil)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	var lastDone time.Time
	var delivery Durations
	sk.mu.Lock()
	calls := sk.calls
	for i := range n {
		name := fmt.Sprintf("h-%d", i)
		if t, ok := sk.first[name]; ok {
			delivery = append(delivery, t.Sub(created[i]))
		}
		if t := snap.done[name]; t.After(lastDone) {
			lastDone = t
		}
	}
	sk.mu.Unlock()
	total := lastDone.Sub(t0)
	rate := perSec(n, total)
	counts := RequestCounts(events, userManager, ns)
	perJobReq := perJob(counts, n)
	reqText, reqTotal := requestsTable(counts, n)
	statusWrites := perJobReq["update queuejobs/status"] + perJobReq["patch queuejobs/status"]
	// The writes each job needs: the client's create plus the manager's writes.
	need := map[string]float64{"create queuejobs": 1}
	for k, v := range perJobReq {
		if isWrite(k) {
			need[k] += v
		}
	}
	allowed := b.allowedRate(need)
	cpu := (after.CPU - before.CPU).Seconds()
	r.Metrics["firstCreateToLastSucceededSeconds"] = total.Seconds()
	r.Metrics["harnessCreateSeconds"] = createDur.Seconds()
	r.Metrics["jobsPerSecond"] = rate
	r.Metrics["ceilingJobsPerSecond"] = allowed
	r.Metrics["createToDelivery"] = delivery.summary()
	r.Metrics["apiRequestsPerJob"] = perJobReq
	r.Metrics["statusWritesPerJob"] = statusWrites
	r.Metrics["managerCPUSeconds"] = cpu
	r.Metrics["managerPeakRSSBytes"] = after.PeakRS
	r.Metrics["controlPlaneCPUSeconds"] = used
	r.Metrics["calls"] = calls
	r.Metrics["failedJobs"] = snap.doneFailed
	r.target("jobs/s (first create → last Succeeded)", fmt.Sprintf("%.0f (%.1f s)", rate, total.Seconds()), fmt.Sprintf("%d jobs", n), "≥ 300/s", rate >= 300)
	ratio := 0.0
	if allowed > 0 {
		ratio = rate / allowed
	}
	r.target("share of the S0 ceiling", fmt.Sprintf("%.1f %%", ratio*100), fmt.Sprintf("S0 allows %.0f jobs/s for %.2f writes per job", allowed, writesOf(need)), "≥ 60 %", ratio >= 0.6)
	r.target("status writes per job", fmt.Sprintf("%.2f", statusWrites), "one attempt each", "≤ 2", statusWrites <= 2)
	r.row("create → delivery p50 / p99", fmt.Sprintf("%s / %s", fmtMS(delivery.pct(50)), fmtMS(delivery.pct(99))), fmt.Sprintf("%d calls for %d jobs", calls, n))
	r.row("API requests per job (manager)", fmt.Sprintf("%.2f", reqTotal), reqText)
	r.row("manager CPU-s per 1,000 jobs / peak RSS", fmt.Sprintf("%.2f / %s", cpu/float64(n)*1000, mib(after.PeakRS)),
		fmt.Sprintf("kube-apiserver %.1f CPU-s, etcd %.1f CPU-s", used["kube-apiserver"], used["etcd"]))
	r.note("jobs carry an inline webhook target with a signing secret; the sink answers 200 at once; the manager runs with --webhook-allow-cidrs=127.0.0.0/8 --webhook-workers=%d; the harness created the jobs in %.1f s with %d goroutines", b.cfg.webhookWorkers, createDur.Seconds(), b.cfg.parallelism)
	return r
}

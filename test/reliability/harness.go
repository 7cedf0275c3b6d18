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
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kickq.dev/kickq/test/util"
	"kickq.dev/kickq/test/util/fakekubelet"
)

// Harness is what a scenario runs with: its own control plane, and the managers, kubelet,
// receivers and workers it starts (all stopped by Close).
type Harness struct {
	cfg config
	dir string
	// CP is the scenario's control plane.
	CP *ControlPlane
	// Rand is seeded from -seed and the scenario's number: fault points repeat with a seed.
	Rand *rand.Rand

	reportKeyFile string
	closers       []func()
}

// NewHarness starts a control plane for one scenario under dir.
func NewHarness(ctx context.Context, cfg config, id int, dir string) (*Harness, error) {
	// Logs of an earlier run would be read as this one's (they are appended across restarts).
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	logf("scenario %d: starting etcd and kube-apiserver from %s", id, cfg.assets)
	cp, err := StartControlPlane(ctx, cfg.assets, filepath.Join(dir, "cluster"), float32(cfg.qps), cfg.burst)
	if err != nil {
		return nil, err
	}
	h := &Harness{cfg: cfg, dir: dir, CP: cp, Rand: rand.New(rand.NewPCG(uint64(cfg.seed), uint64(id)))}
	h.closers = append(h.closers, cp.Stop)
	h.reportKeyFile = h.Path("report-token.key")
	if err := os.WriteFile(h.reportKeyFile, []byte(randomHex(32)), 0o600); err != nil {
		h.Close()
		return nil, err
	}
	if err := h.CreateNamespace(ctx, LeaderNamespace); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// Path is a file under the scenario's output folder.
func (h *Harness) Path(name string) string { return filepath.Join(h.dir, name) }

// Scale multiplies a full-size figure by -size (at least min).
func (h *Harness) Scale(full, least int) int {
	return max(least, int(math.Round(float64(full)*h.cfg.size)))
}

// Size is -size.
func (h *Harness) Size() float64 { return h.cfg.size }

// OnClose runs f when the scenario ends (last registered, first run).
func (h *Harness) OnClose(f func()) { h.closers = append(h.closers, f) }

// Close stops everything the scenario started.
func (h *Harness) Close() {
	for i := len(h.closers) - 1; i >= 0; i-- {
		h.closers[i]()
	}
	h.closers = nil
}

// CreateNamespace creates a namespace.
func (h *Harness) CreateNamespace(ctx context.Context, name string) error {
	return h.CP.Harness.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

// StartKubelet plays the kubelet for every kickq pod (stopped by Close).
func (h *Harness) StartKubelet(ctx context.Context, decide fakekubelet.DecideFunc) (*fakekubelet.Kubelet, error) {
	kctx, cancel := context.WithCancel(ctx)
	k, err := fakekubelet.Start(kctx, h.CP.Config(UserKubelet), fakekubelet.Options{Scheme: util.NewScheme(), Workers: 32, Decide: decide})
	if err != nil {
		cancel()
		return nil, err
	}
	h.OnClose(cancel)
	return k, nil
}

// PodPlan is a pod job's data read by PlanRun: how its attempts end.
type PodPlan struct {
	// FailAttempts: attempts 1..FailAttempts exit 1 (a counted failure).
	FailAttempts int `json:"failAttempts,omitempty"`
	// DieExit: every attempt exits with this code, which a Die rule matches (0: none).
	DieExit int32 `json:"dieExit,omitempty"`
	// RunMillis is how long each attempt's container runs.
	RunMillis int `json:"runMillis,omitempty"`
}

// PlanRun decides a pod's run from its job's data (KICKQ_DATA's "pod" key) and attempt
// (KICKQ_ATTEMPT).
func PlanRun(pod *corev1.Pod) fakekubelet.Run {
	var d struct {
		Pod PodPlan `json:"pod"`
	}
	attempt := 0
	for _, c := range pod.Spec.Containers {
		for _, e := range c.Env {
			switch e.Name {
			case "KICKQ_DATA":
				_ = json.Unmarshal([]byte(e.Value), &d)
			case "KICKQ_ATTEMPT":
				attempt, _ = strconv.Atoi(e.Value)
			}
		}
	}
	r := fakekubelet.Run{RunFor: time.Duration(d.Pod.RunMillis) * time.Millisecond}
	switch {
	case d.Pod.DieExit != 0:
		r.ExitCode = d.Pod.DieExit
	case attempt <= d.Pod.FailAttempts:
		r.ExitCode = 1
	default:
		r.Message = fmt.Sprintf(`{"attempt":%d}`, attempt)
	}
	return r
}

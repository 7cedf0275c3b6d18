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

// Command reliability is kickq's reliability suite (`make reliability`): it injects faults into a
// running kickq — SIGKILL storms of the manager, leader failover, two managers without leader
// election, an API server restart and an etcd pause, … — and checks that no job is lost, no
// attempt runs twice and limits hold. It writes one row per scenario into docs/reliability.md.
//
//	go run ./test/reliability                    # every scenario, full size
//	go run ./test/reliability -scenarios 1,4     # some of them
//	go run ./test/reliability -size 0.1          # a tenth of the load (while developing)
//
// # Harness API (for scenario files)
//
// A scenario is a function registered in init() with Register(Scenario{ID, Name, Run}). Run gets
// a *Harness, sized by Harness.Scale, and returns a *Row: what was done, the load, the faults
// injected, and the invariants checked, each with its figure (Row.Check). Scenario files are
// named scenarioN*.go; relcore owns 1–4, relmore 5–9.
//
// Each scenario gets a fresh control plane (Harness.CP, a *ControlPlane): etcd and kube-apiserver
// run as child processes from bin/k8s (not through envtest), with kickq's CRDs and admission
// policies installed, an audit log of pod creates/deletes and QueueJob status writes
// (ReadAudit), one bearer-token identity per client (UserHarness, UserKubelet, UserManager,
// UserWorker; Config and Kubeconfig), RestartAPIServer (same address and certificates) and
// PauseEtcd (SIGSTOP/SIGCONT).
//
// Around it:
//   - Harness.StartManager(ctx, ManagerOptions{Name, LeaderElect, Extra}) runs bin/manager (built
//     by `make build`) with explicit flags; Manager.Kill (SIGKILL), Terminate (SIGTERM), Restart,
//     LogEvents, Panics. Every manager of a run shares one report token key file.
//   - Harness.StartKubelet(ctx, fakekubelet.DecideFunc) plays the kubelet
//     (test/util/fakekubelet); PodPlan/PlanRun decide exit codes per attempt from the job's data.
//   - StartReceiver(AnswerFunc) is a loopback webhook receiver logging each call (arrival,
//     webhook-id, job, attempt, answer); PlanAnswer answers per the job's data (429/503 with
//     Retry-After, 500, 410).
//   - Harness.StartWorkers(ctx, WorkerSet{...}) runs pkg/kickq pull workers in-process and records
//     every claim (ClaimLog).
//   - The mixed workload (workload.go): Harness.SetupMix(ctx, ns, MixOptions) creates three
//     queues with limits (pods, webhooks, pull workers), a receiver and workers; Mix.Submit
//     creates jobs with planned outcomes (retries, dying jobs, delays, batches with followers),
//     Mix.AddCronTemplates and SuspendCron the cron templates.
//   - Faults (faults.go, leader.go): Harness.KillStorm (SIGKILL and restart, random uptimes),
//     LeaseHolder/WaitHolder (the leader Lease), Report (POST to a manager's report API),
//     ControlPlane.RestartAPIServer and PauseEtcd.
//   - Invariants (checks.go, invariants.go): Harness.CheckMix waits for every job and checks
//     outcomes, pods per attempt (PodsPerAttempt, from the audit log and the kubelet), worker
//     claims per attempt (ClaimsPerAttempt), webhook-ids per attempt (WebhookIDsPerAttempt),
//     limits at the side effects (MaxInWindow, MaxConcurrent) and cron firings (CronFirings).
//   - Harness.Path(name) is a file under -out (logs, audit, JSON of each row).
//
// The table (docs/reliability.md) is written by WriteTable after the scenarios ran; -table
// chooses the file, and a run of some scenarios keeps the other rows already in it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"kickq.dev/kickq/test/util"
)

// Scenario is one reliability scenario.
type Scenario struct {
	// ID is its number in the issue (1–9).
	ID int
	// Name is a short title for the table.
	Name string
	// Run runs it on a fresh control plane and returns its row.
	Run func(ctx context.Context, h *Harness) *Row
	// Doc is printed below the table: what the scenario shows beyond its figures (behaviour a
	// user relies on, what is documented where).
	Doc string
}

var scenarios = map[int]Scenario{}

// Register adds a scenario (from an init function of its file).
func Register(s Scenario) {
	if _, dup := scenarios[s.ID]; dup {
		panic(fmt.Sprintf("scenario %d registered twice", s.ID))
	}
	scenarios[s.ID] = s
}

type config struct {
	out        string
	table      string
	assets     string
	manager    string
	scenarios  string
	size       float64
	seed       int64
	managerQPS int
	qps        float64
	burst      int
	render     bool
}

func (c *config) bind(fs *flag.FlagSet) {
	root := util.RepoRoot()
	fs.StringVar(&c.out, "out", filepath.Join(root, "bin", "reliability"), "Where logs, audit logs and each row's JSON go.")
	fs.StringVar(&c.table, "table", filepath.Join(root, "docs", "reliability.md"), "The Markdown table written at the end (rows of scenarios not run are kept).")
	fs.StringVar(&c.assets, "assets", util.AssetsDir(), "Folder with etcd and kube-apiserver.")
	fs.StringVar(&c.manager, "manager", filepath.Join(root, "bin", "manager"), "The manager binary (make build).")
	fs.StringVar(&c.scenarios, "scenarios", "", "Comma-separated scenario numbers (default: all registered).")
	fs.Float64Var(&c.size, "size", 1, "Scale of every scenario's load and fault count (0.1 while developing).")
	fs.Int64Var(&c.seed, "seed", 0, "Seed of the random fault points (default: the time).")
	fs.IntVar(&c.managerQPS, "manager-qps", 200, "The manager's --kube-api-qps (burst twice that).")
	fs.Float64Var(&c.qps, "qps", 500, "QPS of the harness's, kubelet's and workers' clients.")
	fs.IntVar(&c.burst, "burst", 1000, "Burst of those clients.")
	fs.BoolVar(&c.render, "render", false, "Run nothing: write the table again from the rows kept in it (after a change of the page's text).")
}

func main() {
	var cfg config
	cfg.bind(flag.CommandLine)
	flag.Parse()
	if cfg.seed == 0 {
		cfg.seed = time.Now().UnixNano()
	}
	ctrllog.SetLogger(logr.Discard())
	if err := run(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "reliability: %v\n", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s reliability: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func selected(spec string) ([]Scenario, error) {
	var ids []int
	if spec == "" {
		for id := range scenarios {
			ids = append(ids, id)
		}
	} else {
		for _, f := range strings.Split(spec, ",") {
			id, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(f), "S")))
			if err != nil {
				return nil, fmt.Errorf("scenario %q: not a number", f)
			}
			if _, ok := scenarios[id]; !ok {
				return nil, fmt.Errorf("scenario %d is not registered", id)
			}
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	out := make([]Scenario, 0, len(ids))
	for _, id := range ids {
		out = append(out, scenarios[id])
	}
	return out, nil
}

func run(cfg config) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if cfg.render {
		return WriteTable(cfg.table, nil)
	}
	list, err := selected(cfg.scenarios)
	if err != nil {
		return err
	}
	for _, b := range []string{filepath.Join(cfg.assets, "etcd"), filepath.Join(cfg.assets, "kube-apiserver"), cfg.manager} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%s missing (make control-plane build)", b)
		}
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	start := time.Now()
	logf("seed %d, size %g", cfg.seed, cfg.size)
	var rows []*Row
	failed := 0
	for _, s := range list {
		logf("scenario %d (%s): start", s.ID, s.Name)
		t0 := time.Now()
		row := runScenario(ctx, cfg, s)
		row.Seconds = time.Since(t0).Seconds()
		row.At, row.Size, row.Seed, row.LoadEnd = t0.UTC().Format("2006-01-02 15:04 MST"), cfg.size, cfg.seed, loadAvg()
		logf("scenario %d: %s in %s", s.ID, row.Verdict(), time.Since(t0).Round(time.Second))
		for _, c := range row.Checks {
			logf("  %s %s: %s", mark(c.OK), c.Name, c.Figure)
		}
		if !row.Passed() {
			failed++
		}
		rows = append(rows, row)
		_ = row.writeJSON(filepath.Join(cfg.out, fmt.Sprintf("scenario%d.json", s.ID)))
		if ctx.Err() != nil {
			break
		}
	}
	if err := WriteTable(cfg.table, rows); err != nil {
		return err
	}
	logf("table: %s (%d scenarios, %d failed, %s)", cfg.table, len(rows), failed, time.Since(start).Round(time.Second))
	if failed > 0 {
		return fmt.Errorf("%d scenario(s) failed", failed)
	}
	return nil
}

// runScenario gives a scenario its own control plane and harness.
func runScenario(ctx context.Context, cfg config, s Scenario) (row *Row) {
	dir := filepath.Join(cfg.out, fmt.Sprintf("scenario%d", s.ID))
	h, err := NewHarness(ctx, cfg, s.ID, dir)
	if err != nil {
		r := NewRow(s)
		r.Fail("harness start", err.Error())
		return r
	}
	defer h.Close()
	defer func() {
		if p := recover(); p != nil {
			row = NewRow(s)
			row.Fail("scenario ran to its end", fmt.Sprintf("panic: %v", p))
		}
	}()
	row = s.Run(ctx, h)
	if row.Scenario == 0 {
		row.Scenario, row.Name = s.ID, s.Name
	}
	return row
}

func mark(ok bool) string {
	if ok {
		return "ok  "
	}
	return "FAIL"
}

// loadAvg is the 1-minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b))[0]
}

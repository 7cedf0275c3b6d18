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
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"
)

// ManagerOptions are the flags of one manager process (bin/manager).
type ManagerOptions struct {
	// Name names the process in logs and the result table ("a", "b").
	Name string
	// LeaderElect passes --leader-elect (with --leader-election-namespace=kickq-system).
	LeaderElect bool
	// Extra flags, appended last.
	Extra []string
}

// Manager is one kickq manager run by the harness as a child process with explicit flags. Its
// addresses (metrics, probes, report API) stay the same across Restart, and so does its report
// token key (a file shared by every manager of a run), so that tokens survive a restart.
type Manager struct {
	h    *Harness
	opts ManagerOptions
	args []string
	log  string
	// ReportURL is the base URL of its report API.
	ReportURL string
	probe     string
	metrics   string

	proc *Process
	// Starts counts the processes started (1 + restarts).
	Starts int
}

// StartManager starts a manager and waits until its probes answer; it is stopped when the
// scenario ends.
func (h *Harness) StartManager(ctx context.Context, o ManagerOptions) (*Manager, error) {
	m := &Manager{
		h: h, opts: o, log: h.Path("manager-" + o.Name + ".log"),
		probe:   fmt.Sprintf("127.0.0.1:%d", freePort()),
		metrics: fmt.Sprintf("127.0.0.1:%d", freePort()),
	}
	report := fmt.Sprintf("127.0.0.1:%d", freePort())
	m.ReportURL = "http://" + report
	m.args = []string{
		"--metrics-bind-address=" + m.metrics,
		"--health-probe-bind-address=" + m.probe,
		"--report-bind-address=" + report,
		"--report-token-key-file=" + h.reportKeyFile,
		"--webhook-allow-cidrs=127.0.0.0/8",
		"--zap-time-encoding=rfc3339nano",
		fmt.Sprintf("--kube-api-qps=%d", h.cfg.managerQPS),
		fmt.Sprintf("--kube-api-burst=%d", 2*h.cfg.managerQPS),
	}
	if o.LeaderElect {
		m.args = append(m.args, "--leader-elect", "--leader-election-namespace="+LeaderNamespace)
	}
	m.args = append(m.args, o.Extra...)
	h.OnClose(m.Stop)
	return m, m.start(ctx)
}

// LeaderNamespace holds the managers' leader-election Lease.
const LeaderNamespace = "kickq-system"

// LeaderLease is the Lease's name (cmd/manager's LeaderElectionID).
const LeaderLease = "kickq-manager.kickq.dev"

func (m *Manager) start(ctx context.Context) error {
	p, err := StartProcess(m.h.cfg.manager, m.args, []string{"KUBECONFIG=" + m.h.CP.Kubeconfig(UserManager)}, m.log)
	if err != nil {
		return err
	}
	m.proc = p
	m.Starts++
	return waitHTTP(ctx, http.DefaultClient, "http://"+m.probe+"/readyz", 60*time.Second, p)
}

// WaitSynced waits until the current process's queuejob controller started its workers (its
// caches synced: the process is working, not starting), as its log says.
func (m *Manager) WaitSynced(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if m.syncedStarts() >= m.Starts {
			return nil
		}
		if !m.Running() {
			return fmt.Errorf("manager %s exited; see %s", m.opts.Name, m.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("manager %s's queuejob controller did not start its workers within %s; see %s", m.opts.Name, timeout, m.log)
}

// syncedStarts counts the processes whose queuejob controller started its workers.
func (m *Manager) syncedStarts() int {
	n := 0
	for _, e := range m.LogEvents("Starting workers") {
		if strings.Contains(e.Raw, `"controller":"queuejob"`) {
			n++
		}
	}
	return n
}

// Pid is the current process's id.
func (m *Manager) Pid() int { return m.proc.Pid() }

// Log is the manager's log file (every process of it, appended).
func (m *Manager) Log() string { return m.log }

// Running reports whether the current process is alive.
func (m *Manager) Running() bool { return m.proc != nil && !m.proc.Exited() }

// Kill sends SIGKILL and waits until the process is gone.
func (m *Manager) Kill() { m.proc.Signal(syscall.SIGKILL) }

// Terminate sends SIGTERM and waits up to 30 s for a clean exit (then SIGKILL).
func (m *Manager) Terminate() { m.proc.Stop(30 * time.Second) }

// Restart starts a new process with the same flags (after Kill or Terminate).
func (m *Manager) Restart(ctx context.Context) error {
	if m.Running() {
		return fmt.Errorf("manager %s still running", m.opts.Name)
	}
	return m.start(ctx)
}

// Stop ends the manager (SIGTERM, then SIGKILL after 30 s) if it runs.
func (m *Manager) Stop() {
	if m.Running() {
		m.Terminate()
	}
}

// LogEvent is one line of the manager's JSON log.
type LogEvent struct {
	Time    time.Time
	Level   string
	Message string
	Raw     string
}

// LogEvents returns the log lines whose message contains substr, in order.
func (m *Manager) LogEvents(substr string) []LogEvent {
	f, err := os.Open(m.log)
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }()
	var out []LogEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, substr) {
			continue
		}
		var l struct {
			TS    string `json:"ts"`
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || !strings.Contains(l.Msg, substr) {
			continue
		}
		t, _ := time.Parse(time.RFC3339Nano, l.TS)
		out = append(out, LogEvent{Time: t, Level: l.Level, Message: l.Msg, Raw: line})
	}
	return out
}

// Panics counts "panic" lines in the manager's log (a Go panic's stack, or a recovered panic
// that controller-runtime logged).
func (m *Manager) Panics() int {
	b, err := os.ReadFile(m.log)
	if err != nil {
		return 0
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "panic:") || strings.Contains(l, "Observed a panic") {
			n++
		}
	}
	return n
}

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
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Manager is a kickq manager process (bin/manager) started by the harness.
type Manager struct {
	cmd     *exec.Cmd
	Pid     int
	Args    []string
	Log     string
	Started time.Time
	metrics string
	probe   string
	pprof   string
	done    chan struct{}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// ManagerFlags are the flags every manager of a run gets.
type ManagerFlags struct {
	Binary     string
	Kubeconfig string
	QPS        float32
	Burst      int
	Workers    int
	// Defaults leaves out --kube-api-qps, --kube-api-burst and --concurrency: the manager runs at
	// its own defaults (S2's side-by-side at each side's defaults).
	Defaults bool
	Extra    []string
}

// Args are the manager's command-line flags (without the per-process ports).
func (f ManagerFlags) Args() []string {
	var a []string
	if !f.Defaults {
		a = append(a,
			fmt.Sprintf("--kube-api-qps=%g", f.QPS),
			fmt.Sprintf("--kube-api-burst=%d", f.Burst),
			fmt.Sprintf("--concurrency=%d", f.Workers))
	}
	return append(a, f.Extra...)
}

// StartManager starts a manager and waits until its probes answer.
func StartManager(f ManagerFlags, logPath string) (*Manager, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		Log:     logPath,
		metrics: fmt.Sprintf("127.0.0.1:%d", freePort()),
		probe:   fmt.Sprintf("127.0.0.1:%d", freePort()),
		pprof:   fmt.Sprintf("127.0.0.1:%d", freePort()),
		done:    make(chan struct{}),
	}
	m.Args = f.Args()
	args := append([]string{
		"--metrics-bind-address=" + m.metrics,
		"--health-probe-bind-address=" + m.probe,
		"--pprof-bind-address=" + m.pprof,
		"--zap-time-encoding=rfc3339nano",
		fmt.Sprintf("--report-bind-address=127.0.0.1:%d", freePort()),
	}, m.Args...)
	m.cmd = exec.Command(f.Binary, args...)
	m.cmd.Env = append(os.Environ(), "KUBECONFIG="+f.Kubeconfig)
	m.cmd.Stdout, m.cmd.Stderr = lf, lf
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	m.Started = time.Now()
	if err := m.cmd.Start(); err != nil {
		_ = lf.Close()
		return nil, fmt.Errorf("starting %s: %w", f.Binary, err)
	}
	m.Pid = m.cmd.Process.Pid
	go func() { _ = m.cmd.Wait(); _ = lf.Close(); close(m.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + m.probe + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m, nil
			}
		}
		select {
		case <-m.done:
			return nil, fmt.Errorf("manager exited at start; see %s", logPath)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.Stop()
			return nil, fmt.Errorf("manager not ready after 60s; see %s", logPath)
		}
	}
}

// WaitWorkers waits until the log says the named controller started its workers (its caches
// synced) and returns when that was logged.
func (m *Manager) WaitWorkers(ctx context.Context, ctrl string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if t, ok := m.workersStarted(ctrl); ok {
			return t, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("controller %s did not start its workers within %s; see %s", ctrl, timeout, m.Log)
}

func (m *Manager) workersStarted(ctrl string) (time.Time, bool) {
	f, err := os.Open(m.Log)
	if err != nil {
		return time.Time{}, false
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			TS         string `json:"ts"`
			Msg        string `json:"msg"`
			Controller string `json:"controller"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		if l.Msg == "Starting workers" && l.Controller == ctrl {
			t, err := time.Parse(time.RFC3339Nano, l.TS)
			return t, err == nil
		}
	}
	return time.Time{}, false
}

// Metric sums the samples of a metric whose labels contain every given label pair.
func (m *Manager) Metric(name string, labels ...string) (float64, error) {
	resp, err := http.Get("http://" + m.metrics + "/metrics")
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	return sumMetric(resp.Body, name, labels...)
}

func sumMetric(r io.Reader, name string, labels ...string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var sum float64
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, sc.Err()
}

// WaitIdle waits until the queuejob controller's work queue is empty and stays empty for a
// moment.
func (m *Manager) WaitIdle(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	quiet := 0
	for time.Now().Before(deadline) && ctx.Err() == nil {
		d, err := m.Metric("workqueue_depth", `name="queuejob"`)
		u, err2 := m.Metric("workqueue_unfinished_work_seconds", `name="queuejob"`)
		if err == nil && err2 == nil && d == 0 && u == 0 {
			quiet++
			if quiet >= 5 {
				return nil
			}
		} else {
			quiet = 0
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the queuejob work queue did not drain within %s", timeout)
}

// SaveMetrics writes the manager's /metrics text to path and returns reconciles of the queuejob
// controller and their summed time.
func (m *Manager) SaveMetrics(path string) (reconciles, seconds float64, err error) {
	resp, err := http.Get("http://" + m.metrics + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return 0, 0, err
	}
	reconciles, _ = sumMetric(strings.NewReader(string(b)), "controller_runtime_reconcile_total", `controller="queuejob"`)
	seconds, _ = sumMetric(strings.NewReader(string(b)), "controller_runtime_reconcile_time_seconds_sum", `controller="queuejob"`)
	return reconciles, seconds, nil
}

// Profile writes a CPU profile of the manager of the given length to path, in the background.
func (m *Manager) Profile(ctx context.Context, seconds int, path string) <-chan error {
	out := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", m.pprof, seconds), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- err
			return
		}
		defer func() { _ = resp.Body.Close() }()
		f, err := os.Create(path)
		if err != nil {
			out <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		_ = f.Close()
		out <- err
	}()
	return out
}

// HeapProfile forces a garbage collection in the manager and writes its heap profile to path.
func (m *Manager) HeapProfile(path string) error {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/heap?gc=1", m.pprof))
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	_, err = io.Copy(f, resp.Body)
	return err
}

// Stats reads the manager's CPU time and memory.
func (m *Manager) Stats() ProcStats {
	s, _ := ReadProc(m.Pid)
	return s
}

// Stop stops the manager (SIGTERM, then SIGKILL after 10 s).
func (m *Manager) Stop() {
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

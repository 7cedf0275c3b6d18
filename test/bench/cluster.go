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
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"kickq.dev/kickq/test/util"
	"kickq.dev/kickq/test/util/audit"
)

// Identities of the clients: each has its own client certificate, so the API server's audit log
// tells their requests apart. The harness's and the fake kubelet's requests are not logged.
const (
	userHarness = "bench-harness"
	userKubelet = "bench-kubelet"
	userManager = "bench-kickq-manager"
	userKCM     = "bench-kube-controller-manager"
)

// auditPolicy logs the metadata (user, verb, resource, name, code, timestamps) of every request of
// the controllers under test, and nothing of the harness's own clients. S4's status writes are
// logged with their body, so that the write that starts an attempt can be told from the others.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
- level: None
  users: ["bench-harness", "bench-kubelet", "system:apiserver"]
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/metrics", "/version", "/api*", "/openapi*"]
- level: Request
  users: ["bench-kickq-manager"]
  namespaces: ["bench-s4"]
  verbs: ["update", "patch"]
  resources: [{group: "kickq.dev", resources: ["queuejobs/status"]}]
- level: Metadata
`

// Cluster is the control plane of one benchmark run: etcd and kube-apiserver started by envtest
// from the binaries hack/build-control-plane.sh builds, with kickq's CRDs, an audit log, and one
// client certificate per client.
type Cluster struct {
	env       *envtest.Environment
	dir       string
	auditPath string
	assets    string
	qps       float32
	burst     int

	Admin       *rest.Config
	Harness     client.WithWatch
	HarnessCfg  *rest.Config
	KubeletCfg  *rest.Config
	kubeconfigs map[string]string
}

// StartCluster starts the control plane and creates the clients' identities.
func StartCluster(assets, dir string, qps float32, burst int) (*Cluster, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, assets: assets, qps: qps, burst: burst, auditPath: filepath.Join(dir, "audit.log"), kubeconfigs: map[string]string{}}
	policy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o644); err != nil {
		return nil, err
	}
	_ = os.Remove(c.auditPath)
	env := util.NewEnvironment()
	env.BinaryAssetsDirectory = assets
	api := env.ControlPlane.GetAPIServer()
	api.Configure().
		Set("audit-policy-file", policy).
		Set("audit-log-path", c.auditPath).
		Set("audit-log-format", "json").
		Set("audit-log-maxsize", "0").
		Set("profiling", "true")
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane from %s: %w", assets, err)
	}
	c.env = env
	c.Admin = cfg
	for _, u := range []string{userHarness, userKubelet, userManager, userKCM} {
		au, err := env.AddUser(envtest.User{Name: u, Groups: []string{"system:masters"}}, nil)
		if err != nil {
			_ = env.Stop()
			return nil, fmt.Errorf("adding user %s: %w", u, err)
		}
		kc, err := au.KubeConfig()
		if err != nil {
			_ = env.Stop()
			return nil, err
		}
		p := filepath.Join(dir, u+".kubeconfig")
		if err := os.WriteFile(p, kc, 0o600); err != nil {
			_ = env.Stop()
			return nil, err
		}
		c.kubeconfigs[u] = p
		switch u {
		case userHarness:
			c.HarnessCfg = c.clientConfig(au.Config(), u)
		case userKubelet:
			c.KubeletCfg = c.clientConfig(au.Config(), u)
		}
	}
	c.Harness, err = client.NewWithWatch(c.HarnessCfg, client.Options{Scheme: util.NewScheme()})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) clientConfig(cfg *rest.Config, agent string) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst, cfg.UserAgent = c.qps, c.burst, agent
	return cfg
}

// Kubeconfig is the kubeconfig file of one of the identities.
func (c *Cluster) Kubeconfig(user string) string { return c.kubeconfigs[user] }

// Stop stops the control plane.
func (c *Cluster) Stop() error { return c.env.Stop() }

// ServerVersion is the API server's version string.
func (c *Cluster) ServerVersion() string {
	b, err := c.RawGet(context.Background(), c.Admin, "/version")
	if err != nil {
		return "unknown"
	}
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	_ = json.Unmarshal(b, &v)
	return v.GitVersion
}

// Metrics returns the API server's /metrics text.
func (c *Cluster) Metrics(ctx context.Context) (string, error) {
	b, err := c.RawGet(ctx, c.Admin, "/metrics")
	return string(b), err
}

// RawGet returns what the API server serves at a path, as the identity of cfg.
func (c *Cluster) RawGet(ctx context.Context, cfg *rest.Config, path string) ([]byte, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	p, query, _ := strings.Cut(path, "?")
	req := cs.Discovery().RESTClient().Get().AbsPath(p)
	if query != "" {
		for _, kv := range strings.Split(query, "&") {
			k, v, _ := strings.Cut(kv, "=")
			req = req.Param(k, v)
		}
	}
	return req.DoRaw(ctx)
}

// ControlPlanePIDs finds etcd's and kube-apiserver's processes (children of this one).
func ControlPlanePIDs() map[string]int {
	out := map[string]int{}
	entries, _ := os.ReadDir("/proc")
	me := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		open, closeIdx := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closeIdx < 0 {
			continue
		}
		comm := s[open+1 : closeIdx]
		f := strings.Fields(s[closeIdx+2:])
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid != me {
			continue
		}
		switch comm {
		case "etcd", "kube-apiserver":
			out[comm] = pid
		}
	}
	return out
}

// ProcStats are a process's CPU time and memory, from /proc.
type ProcStats struct {
	CPU    time.Duration // user + system
	RSS    int64         // bytes
	PeakRS int64         // VmHWM, bytes
}

// ReadProc reads a process's stats.
func ReadProc(pid int) (ProcStats, error) {
	var st ProcStats
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// Fields after the command: state(0) ppid(1) ... utime(11) stime(12), in clock ticks (USER_HZ=100).
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	st.CPU = time.Duration(ut+stt) * 10 * time.Millisecond
	sf, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	defer func() { _ = sf.Close() }()
	sc := bufio.NewScanner(sf)
	for sc.Scan() {
		line := sc.Text()
		kb := func() int64 {
			v, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return v * 1024
		}
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			st.RSS = kb()
		case strings.HasPrefix(line, "VmHWM:"):
			st.PeakRS = kb()
		}
	}
	return st, nil
}

// ResetPeak resets a process's VmHWM to its current RSS.
func ResetPeak(pid int) {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0o600)
}

// AuditMark is a position in the audit log.
type AuditMark int64

// MarkAudit returns the audit log's current end.
func (c *Cluster) MarkAudit() AuditMark {
	fi, err := os.Stat(c.auditPath)
	if err != nil {
		return 0
	}
	return AuditMark(fi.Size())
}

// ReadAudit returns the audit events written between two marks (from to the end when to is 0)
// that keep accepts (all when keep is nil).
// Blocking-mode audit logging writes an event before the response is sent, so every request that
// returned before the mark is in it.
func (c *Cluster) ReadAudit(from, to AuditMark, keep func(*audit.Event) bool) ([]audit.Event, error) {
	return audit.ReadFile(c.auditPath, int64(from), int64(to), keep)
}

// RequestCounts counts requests by "verb resource" for one user in some namespaces (all when
// none is given), excluding watches (long-running, one per informer).
func RequestCounts(events []audit.Event, user string, namespaces ...string) map[string]int {
	return countRequests(events, user, false, namespaces...)
}

func countRequests(events []audit.Event, user string, watches bool, namespaces ...string) map[string]int {
	ns := map[string]bool{}
	for _, n := range namespaces {
		ns[n] = true
	}
	out := map[string]int{}
	for i := range events {
		e := &events[i]
		if e.User.Username != user || (e.Verb == "watch" && !watches) || e.ObjectRef == nil {
			continue
		}
		if len(ns) > 0 && !ns[e.ObjectRef.Namespace] {
			continue
		}
		out[e.Verb+" "+audit.Resource(e)]++
	}
	return out
}

// KCM is a kube-controller-manager process running only the given controllers.
type KCM struct {
	cmd *exec.Cmd
	Pid int
	Log string
}

// StartKCM starts kube-controller-manager with only the named controllers, with the run's client
// QPS and burst and the given workers; workers 0 leaves QPS, burst and workers at
// kube-controller-manager's own defaults (v1.37: --kube-api-qps=20, --kube-api-burst=30,
// --concurrent-job-syncs=5, --concurrent-cron-job-syncs=5).
func (c *Cluster) StartKCM(controllers string, workers int, logPath string) (*KCM, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := []string{
		"--kubeconfig=" + c.Kubeconfig(userKCM),
		"--controllers=" + controllers,
		"--leader-elect=false",
		"--secure-port=0",
		"--v=1",
	}
	if workers > 0 {
		args = append(args,
			fmt.Sprintf("--kube-api-qps=%g", c.qps),
			fmt.Sprintf("--kube-api-burst=%d", c.burst),
			fmt.Sprintf("--concurrent-job-syncs=%d", workers),
			fmt.Sprintf("--concurrent-cron-job-syncs=%d", workers))
	}
	cmd := exec.Command(filepath.Join(c.assets, "kube-controller-manager"), args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = lf.Close()
		return nil, err
	}
	return &KCM{cmd: cmd, Pid: cmd.Process.Pid, Log: logPath}, nil
}

// Stop stops kube-controller-manager.
func (k *KCM) Stop() {
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = k.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = k.cmd.Process.Kill()
		<-done
	}
}

// PutCopies writes n copies of a stored object (JSON as the API server serves it) into etcd
// under the API server's keys, named prefix0…prefix(n−1), each with its own uid, through etcd's
// JSON gateway (/v3/kv/txn), 128 puts per transaction (etcd's --max-txn-ops).
func (c *Cluster) PutCopies(ctx context.Context, raw []byte, group, resource, ns, prefix string, n int) error {
	var model map[string]any
	if err := json.Unmarshal(raw, &model); err != nil {
		return err
	}
	meta := model["metadata"].(map[string]any)
	delete(meta, "resourceVersion")
	statusJSON, _ := json.Marshal(model["status"])
	oldName, _ := meta["name"].(string)
	etcd := c.env.ControlPlane.Etcd.URL.String()
	const perTxn = 128
	batches := (n + perTxn - 1) / perTxn
	_, err := parallel(ctx, batches, 8, func(ctx context.Context, bi int) error {
		type put struct {
			Key   []byte `json:"key"`
			Value []byte `json:"value"`
		}
		type op struct {
			RequestPut put `json:"requestPut"`
		}
		var ops []op
		for i := bi * perTxn; i < min(n, (bi+1)*perTxn); i++ {
			name := fmt.Sprintf("%s%d", prefix, i)
			obj := map[string]any{}
			for k, v := range model {
				obj[k] = v
			}
			m := map[string]any{}
			for k, v := range meta {
				m[k] = v
			}
			m["name"] = name
			m["uid"] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			obj["metadata"] = m
			// Pod names in the status follow the job's name.
			var st any
			_ = json.Unmarshal([]byte(strings.ReplaceAll(string(statusJSON), `"`+oldName+`-`, `"`+name+`-`)), &st)
			obj["status"] = st
			v, err := json.Marshal(obj)
			if err != nil {
				return err
			}
			ops = append(ops, op{put{Key: []byte(fmt.Sprintf("/registry/%s/%s/%s/%s", group, resource, ns, name)), Value: v}})
		}
		body, err := json.Marshal(map[string]any{"success": ops})
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, etcd+"/v3/kv/txn", bytes.NewReader(body))
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("etcd txn: %s: %s", resp.Status, out)
		}
		return nil
	})
	return err
}

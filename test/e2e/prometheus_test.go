//go:build e2e

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

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
)

// The in-cluster manager's metrics, as config/default serves them.
const (
	metricsService     = "kickq-metrics"
	metricsReaderRole  = "kickq-metrics-reader"
	prometheusInterval = 2 * time.Second
)

// prometheus is a Prometheus server from Debian's package, run on the host for one spec.
type prometheus struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:PORT
	log  *os.File
}

// startPrometheus writes a configuration that scrapes target over HTTPS with the bearer token in
// tokenFile (the manager's serving certificate is self-signed) and starts Prometheus on a free
// loopback port, with its data in dir.
func startPrometheus(dir, target, tokenFile string) *prometheus {
	GinkgoHelper()
	out, err := exec.Command(filepath.Join(util.RepoRoot(), "hack", "e2e-prometheus.sh")).Output()
	Expect(err).NotTo(HaveOccurred(), "hack/e2e-prometheus.sh installs Debian's prometheus package")
	bin := strings.TrimSpace(string(out))
	cfg := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
scrape_configs:
- job_name: kickq
  scheme: https
  tls_config:
    insecure_skip_verify: true
  authorization:
    type: Bearer
    credentials_file: %s
  static_configs:
  - targets: [%q]
`, prometheusInterval, prometheusInterval, tokenFile, target)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	Expect(os.WriteFile(cfgFile, []byte(cfg), 0o600)).To(Succeed())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	addr := l.Addr().String()
	Expect(l.Close()).To(Succeed())
	logFile, err := os.Create(filepath.Join(dir, "prometheus.log"))
	Expect(err).NotTo(HaveOccurred())
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--storage.tsdb.retention.time=1h")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	Expect(cmd.Start()).To(Succeed())
	p := &prometheus{cmd: cmd, base: "http://" + addr, log: logFile}
	DeferCleanup(p.stop)
	Eventually(func() error {
		resp, err := http.Get(p.base + "/-/ready")
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/-/ready answered %d", resp.StatusCode)
		}
		return nil
	}, timeout, poll).Should(Succeed(), "Prometheus becomes ready (its log: %s)", logFile.Name())
	return p
}

func (p *prometheus) stop() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	_ = p.log.Close()
}

// query returns the value of an instant PromQL query that yields one sample, or an error.
func (p *prometheus) query(q string) (float64, error) {
	resp, err := http.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	if body.Status != "success" {
		return 0, fmt.Errorf("query %s: %s", q, body.Error)
	}
	if len(body.Data.Result) != 1 {
		return 0, fmt.Errorf("query %s: %d samples, want 1", q, len(body.Data.Result))
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}

// targetUp is the scrape health of the kickq target, with the scrape error when it is down.
func (p *prometheus) targetUp() error {
	resp, err := http.Get(p.base + "/api/v1/targets?state=active")
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Data struct {
			ActiveTargets []struct {
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return err
	}
	if len(body.Data.ActiveTargets) != 1 {
		return fmt.Errorf("%d active targets, want 1", len(body.Data.ActiveTargets))
	}
	if t := body.Data.ActiveTargets[0]; t.Health != "up" {
		return fmt.Errorf("target %s: %s", t.Health, t.LastError)
	}
	return nil
}

// scraperToken makes a service account in ns allowed to read the manager's metrics (the
// ClusterRole of config/rbac) and returns a file holding a token of it.
func scraperToken(ns, dir string) string {
	GinkgoHelper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "prometheus", Namespace: ns}}
	Expect(k8sClient.Create(ctx, sa)).To(Succeed())
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "kickq-e2e-metrics-" + ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: metricsReaderRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: ns}},
	}
	Expect(k8sClient.Create(ctx, binding)).To(Succeed())
	DeferCleanup(func() { _ = k8sClient.Delete(context.Background(), binding) })
	tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa.Name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	file := filepath.Join(dir, "token")
	Expect(os.WriteFile(file, []byte(tr.Status.Token), 0o600)).To(Succeed())
	return file
}

var _ = Describe("Metrics in Prometheus", func() {
	It("scrapes the in-cluster manager through its Service with a token, and PromQL counts a known workload", func() {
		var svc corev1.Service
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: managerNamespace, Name: metricsService}, &svc)).To(Succeed(),
			"the manager runs in the cluster with config/default (its metrics Service %s/%s)", managerNamespace, metricsService)
		Expect(svc.Spec.ClusterIP).NotTo(BeEmpty())
		ns := newNamespace()
		dir := GinkgoT().TempDir()
		// The host reaches the Service's cluster IP through kube-proxy. The NetworkPolicy
		// kickq-manager admits scrapes from the namespace monitoring only; the node's bridge CNI
		// does not enforce NetworkPolicies, so the host's scrape is not subject to it here.
		target := net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(svc.Spec.Ports[0].Port)))
		prom := startPrometheus(dir, target, scraperToken(ns, dir))
		Eventually(prom.targetUp, timeout, poll).Should(Succeed(), "Prometheus scrapes %s with the token (secure metrics)", target)

		By("a known workload: three jobs succeed, one dies")
		for i := range 3 {
			Expect(k8sClient.Create(ctx, podJob(ns, fmt.Sprintf("ok-%d", i), "exit 0"))).To(Succeed())
		}
		bad := podJob(ns, "bad", "exit 3")
		bad.Spec.Retry = &kickqv1alpha1.RetryPolicy{Limit: ptr.To[int32](5), Rules: []kickqv1alpha1.RetryRule{{Action: kickqv1alpha1.RetryActionDie,
			OnExitCodes: &kickqv1alpha1.ExitCodesMatcher{Operator: kickqv1alpha1.ExitCodeOperatorIn, Values: []int32{3}}}}}
		Expect(k8sClient.Create(ctx, bad)).To(Succeed())
		for i := range 3 {
			waitPhase(ns, fmt.Sprintf("ok-%d", i), kickqv1alpha1.PhaseSucceeded)
		}
		waitPhase(ns, "bad", kickqv1alpha1.PhaseFailed)

		By("PromQL returns the counts")
		sel := fmt.Sprintf(`namespace=%q`, ns)
		for q, want := range map[string]float64{
			`sum(kickq_attempts_total{` + sel + `,outcome="Succeed"})`: 3,
			`sum(kickq_attempts_total{` + sel + `,outcome="Die"})`:     1,
			`sum(kickq_jobs{` + sel + `,phase="Succeeded"})`:           3,
			`sum(kickq_jobs{` + sel + `,phase="Failed"})`:              1,
			`sum(kickq_job_run_seconds_count{` + sel + `})`:            4,
			`sum(kickq_job_wait_seconds_count{` + sel + `})`:           4,
			`sum(kickq_queue_oldest_pending_age_seconds{` + sel + `})`: 0,
		} {
			Eventually(func() (float64, error) { return prom.query(q) }, timeout, poll).Should(Equal(want), q)
		}
	})
})

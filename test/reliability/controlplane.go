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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/test/util"
)

// Identities of the clients. Each has its own bearer token, so the audit log tells their
// requests apart. All are in system:masters: the suite tests the manager's behaviour, not its RBAC.
const (
	UserHarness = "reliability-harness"
	UserKubelet = "reliability-kubelet"
	UserManager = "reliability-kickq-manager"
	UserWorker  = "reliability-worker"
)

// auditPolicy records, at Metadata level, the side effects whose counts the invariants check:
// pod creates and deletes, and writes of QueueJob status (claims by workers, transitions by the
// manager). Nothing of the harness's or the fake kubelet's own reads is logged.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
- level: None
  users: ["reliability-harness", "system:apiserver"]
- level: Metadata
  verbs: ["create", "delete"]
  resources: [{group: "", resources: ["pods"]}]
- level: Metadata
  verbs: ["update", "patch"]
  resources: [{group: "kickq.dev", resources: ["queuejobs/status"]}]
- level: None
`

// ControlPlane is etcd and kube-apiserver run as child processes from bin/k8s (not through
// envtest), so that a scenario can restart the API server on the same address and certificates
// (RestartAPIServer) and pause etcd (PauseEtcd).
type ControlPlane struct {
	Dir    string
	Assets string
	// Host is the API server's URL (https://127.0.0.1:port), the same across restarts.
	Host string

	etcdURL  string
	etcd     *Process
	apiArgs  []string
	api      *Process
	caPEM    []byte
	tokens   map[string]string
	kubecfgs map[string]string
	qps      float32
	burst    int

	// Harness is the harness's own client (no cache).
	Harness client.WithWatch
}

// StartControlPlane starts etcd and kube-apiserver under dir, installs kickq's CRDs and
// admission policies, and writes one kubeconfig per identity.
func StartControlPlane(ctx context.Context, assets, dir string, qps float32, burst int) (*ControlPlane, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cp := &ControlPlane{Dir: dir, Assets: assets, tokens: map[string]string{}, kubecfgs: map[string]string{}, qps: qps, burst: burst}
	if err := cp.writeCredentials(); err != nil {
		return nil, err
	}
	if err := cp.startEtcd(); err != nil {
		return nil, err
	}
	apiPort := freePort()
	cp.Host = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	if err := cp.writeKubeconfigs(); err != nil {
		cp.Stop()
		return nil, err
	}
	cp.apiArgs = []string{
		"--etcd-servers=" + cp.etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", apiPort),
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file=" + filepath.Join(dir, "serving.crt"),
		"--tls-private-key-file=" + filepath.Join(dir, "serving.key"),
		"--token-auth-file=" + filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + filepath.Join(dir, "sa.key"),
		"--service-account-signing-key-file=" + filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
		"--endpoint-reconciler-type=none",
		// No kube-controller-manager creates ServiceAccounts here.
		"--disable-admission-plugins=ServiceAccount",
		"--audit-policy-file=" + filepath.Join(dir, "audit-policy.yaml"),
		"--audit-log-path=" + cp.AuditPath(),
		"--audit-log-format=json",
		"--audit-log-maxsize=0",
		"--audit-log-mode=blocking",
	}
	if err := cp.startAPIServer(ctx); err != nil {
		cp.Stop()
		return nil, err
	}
	var err error
	cp.Harness, err = client.NewWithWatch(cp.Config(UserHarness), client.Options{Scheme: util.NewScheme()})
	if err != nil {
		cp.Stop()
		return nil, err
	}
	if err := cp.install(ctx); err != nil {
		cp.Stop()
		return nil, err
	}
	return cp, nil
}

// AuditPath is the API server's audit log (JSON lines; see auditPolicy).
func (cp *ControlPlane) AuditPath() string { return filepath.Join(cp.Dir, "audit.log") }

// Config is a client config of one identity.
func (cp *ControlPlane) Config(user string) *rest.Config {
	return &rest.Config{
		Host: cp.Host, BearerToken: cp.tokens[user], UserAgent: user,
		TLSClientConfig: rest.TLSClientConfig{CAData: cp.caPEM},
		QPS:             cp.qps, Burst: cp.burst,
	}
}

// Kubeconfig is the kubeconfig file of one identity (for child processes).
func (cp *ControlPlane) Kubeconfig(user string) string { return cp.kubecfgs[user] }

// EtcdPid and APIServerPid are the processes' ids.
func (cp *ControlPlane) EtcdPid() int      { return cp.etcd.Pid() }
func (cp *ControlPlane) APIServerPid() int { return cp.api.Pid() }

// Stop stops kube-apiserver, then etcd.
func (cp *ControlPlane) Stop() {
	if cp.api != nil {
		cp.api.Stop(10 * time.Second)
	}
	if cp.etcd != nil {
		_ = syscall.Kill(cp.etcd.Pid(), syscall.SIGCONT)
		cp.etcd.Stop(10 * time.Second)
	}
}

// RestartAPIServer stops kube-apiserver (SIGTERM) and starts it again with the same flags:
// the same address, certificates, tokens and etcd. It returns how long the API server was away
// (from the stop until /readyz answered again).
func (cp *ControlPlane) RestartAPIServer(ctx context.Context, down time.Duration) (time.Duration, error) {
	t0 := time.Now()
	cp.api.Stop(30 * time.Second)
	select {
	case <-time.After(down):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if err := cp.startAPIServer(ctx); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// PauseEtcd stops etcd with SIGSTOP for d, then continues it (SIGCONT).
func (cp *ControlPlane) PauseEtcd(ctx context.Context, d time.Duration) error {
	if err := syscall.Kill(cp.etcd.Pid(), syscall.SIGSTOP); err != nil {
		return err
	}
	defer func() { _ = syscall.Kill(cp.etcd.Pid(), syscall.SIGCONT) }()
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (cp *ControlPlane) startEtcd() error {
	client, peer := freePort(), freePort()
	cp.etcdURL = fmt.Sprintf("http://127.0.0.1:%d", client)
	p, err := StartProcess(filepath.Join(cp.Assets, "etcd"), []string{
		"--data-dir=" + filepath.Join(cp.Dir, "etcd"),
		"--listen-client-urls=" + cp.etcdURL,
		"--advertise-client-urls=" + cp.etcdURL,
		fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", peer),
		fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", peer),
		fmt.Sprintf("--initial-cluster=default=http://127.0.0.1:%d", peer),
		"--unsafe-no-fsync=true",
		"--quota-backend-bytes=4294967296",
	}, nil, filepath.Join(cp.Dir, "etcd.log"))
	if err != nil {
		return err
	}
	cp.etcd = p
	return waitHTTP(context.Background(), http.DefaultClient, cp.etcdURL+"/health", 30*time.Second, p)
}

func (cp *ControlPlane) startAPIServer(ctx context.Context) error {
	p, err := StartProcess(filepath.Join(cp.Assets, "kube-apiserver"), cp.apiArgs, nil, filepath.Join(cp.Dir, "kube-apiserver.log"))
	if err != nil {
		return err
	}
	cp.api = p
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cp.caPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	return waitHTTP(ctx, hc, cp.Host+"/readyz", 90*time.Second, p)
}

// waitHTTP waits until url answers 200 (a bearer token is not needed: /readyz and etcd's
// /health are public).
func waitHTTP(ctx context.Context, hc *http.Client, url string, timeout time.Duration, p *Process) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := hc.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if p != nil && p.Exited() {
			return fmt.Errorf("%s exited at start; see %s", filepath.Base(p.Path), p.Log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready within %s", url, timeout)
}

// install creates kickq's CRDs (config/crd/bases) and admission policies (config/policy), and
// waits until the CRDs are served.
func (cp *ControlPlane) install(ctx context.Context) error {
	paths, err := filepath.Glob(filepath.Join(util.RepoRoot(), "config", "crd", "bases", "*.yaml"))
	if err != nil {
		return err
	}
	for _, p := range paths {
		objs, err := util.ReadManifests(p)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if err := cp.Harness.Create(ctx, o); err != nil {
				return fmt.Errorf("creating %s from %s: %w", o.GetName(), p, err)
			}
		}
	}
	if err := util.InstallPolicies(ctx, cp.Harness); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := client.New(cp.Config(UserHarness), client.Options{Scheme: util.NewScheme()})
		if err == nil {
			if _, err = c.RESTMapper().RESTMapping(queueJobGK, "v1alpha1"); err == nil {
				if _, err = c.RESTMapper().RESTMapping(queueGK, "v1alpha1"); err == nil {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kickq's CRDs not served within 60s: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// writeCredentials writes a CA, the API server's serving certificate, the service-account key,
// the token file, the audit policy and one kubeconfig per identity.
func (cp *ControlPlane) writeCredentials() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kickq-reliability-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, IsCA: true, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	cp.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	srvKeyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"ca.crt":            cp.caPEM,
		"serving.crt":       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
		"serving.key":       pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: srvKeyDER}),
		"sa.key":            pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}),
		"audit-policy.yaml": []byte(auditPolicy),
	}
	var tokens strings.Builder
	for i, u := range []string{UserHarness, UserKubelet, UserManager, UserWorker} {
		t := randomHex(24)
		cp.tokens[u] = t
		fmt.Fprintf(&tokens, "%s,%s,%d,\"system:masters\"\n", t, u, 1000+i)
	}
	files["tokens.csv"] = []byte(tokens.String())
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(cp.Dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// writeKubeconfigs writes one kubeconfig per identity; called once Host is known.
func (cp *ControlPlane) writeKubeconfigs() error {
	for u, t := range cp.tokens {
		kc := clientcmdapi.NewConfig()
		kc.Clusters["reliability"] = &clientcmdapi.Cluster{Server: cp.Host, CertificateAuthorityData: cp.caPEM}
		kc.AuthInfos[u] = &clientcmdapi.AuthInfo{Token: t}
		kc.Contexts[u] = &clientcmdapi.Context{Cluster: "reliability", AuthInfo: u}
		kc.CurrentContext = u
		p := filepath.Join(cp.Dir, u+".kubeconfig")
		if err := clientcmd.WriteToFile(*kc, p); err != nil {
			return err
		}
		cp.kubecfgs[u] = p
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

var (
	queueJobGK = schema.GroupKind{Group: kickqv1alpha1.GroupVersion.Group, Kind: "QueueJob"}
	queueGK    = schema.GroupKind{Group: kickqv1alpha1.GroupVersion.Group, Kind: "Queue"}
)

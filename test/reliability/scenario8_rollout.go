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
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/pkg/kickq"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

func init() {
	Register(Scenario{ID: 8, Name: "Rolling update", Run: scenario8, Doc: "The manager runs in the real node as `make e2e` " +
		"installs it (config/default through test/e2e/overlay: one replica, `--leader-elect`, the Deployment's default RollingUpdate " +
		"with a surge of 1). `kubectl rollout restart` starts the new pod next to the old one; it waits as a standby (its report API " +
		"answers 503 with `Retry-After`) until the old pod, stopped with SIGTERM, releases the Lease. Reports reach whichever pod the " +
		"`kickq-report` Service picks meanwhile, so clients must send again on 503 and on connection errors: pkg/kickq's WebhookHandler " +
		"does for outcomes (docs/go.md), and a pod's report must too (`curl --retry 5 --retry-connrefused`, or a loop as in this " +
		"scenario: busybox `wget` until it succeeds)."})
}

// rolloutScript is a pod job: it reports a log line through the report API until it is answered
// 2xx (at most 60 tries, 1 s apart), then exits 0 with the number of tries as its result.
const rolloutScript = `sleep $((RANDOM % 4)); n=1
until wget -q -O /dev/null --header "Authorization: Bearer $(cat "$KICKQ_TOKEN_FILE")" --header 'Content-Type: application/json' \
  --post-data '{"log":"pod report"}' "$KICKQ_REPORT_URL" 2>/dev/null; do
  [ $n -ge 60 ] && exit 7; n=$((n+1)); sleep 1; done
echo "{\"tries\":$n}" > /dev/termination-log`

// scenario8 restarts the in-cluster manager's Deployment (rollout restart) twice while pod and
// webhook jobs run and report.
func scenario8(ctx context.Context, h *Harness) *Row {
	row := &Row{Scenario: 8, Name: "Rolling update"}
	pods, hooks, restarts := h.Scale(30, 6), h.Scale(30, 6), 2
	row.Done = "the manager runs in the real node (make image, config/default via test/e2e/overlay); pod jobs report through the " +
		"kickq-report Service, webhook jobs are served by pkg/kickq's WebhookHandler (answers 202, reports the outcome later)"
	row.Load = fmt.Sprintf("%d pod jobs (busybox: a report sent until answered 2xx, exit 0) and %d webhook jobs (handler 3 s, accepted after 0.5 s), "+
		"created over about 40 s", pods, hooks)
	node, err := h.RealNode(ctx, 8)
	if err != nil {
		row.Fail("real node up", err.Error())
		return row
	}
	if err := deployManager(ctx, h, node); err != nil {
		row.Fail("deploy the manager", err.Error())
		return row
	}
	ns := fmt.Sprintf("s8-%d", time.Now().Unix())
	h.OnClose(func() { node.DeleteNamespace(ns) })
	recv, err := startRolloutReceiver(ctx, node)
	if err != nil {
		row.Fail("webhook receiver", err.Error())
		return row
	}
	h.OnClose(recv.close)
	if err := setupRolloutQueues(ctx, node, ns, recv); err != nil {
		row.Fail("setup", err.Error())
		return row
	}
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	podLog := node.WatchPods(pctx, ns)

	created := make(chan error, 1)
	go func() { created <- createRolloutJobs(ctx, node, ns, pods, hooks) }()
	var rolls []string
	for i := range restarts {
		time.Sleep(6 * time.Second)
		t0 := time.Now()
		logf("scenario 8: rollout restart %d", i+1)
		if _, err := node.Kubectl(ctx, "", "-n", "kickq-system", "rollout", "restart", "deployment/kickq-manager"); err != nil {
			row.Fail("rollout restart", err.Error())
			return row
		}
		if _, err := node.Kubectl(ctx, "", "-n", "kickq-system", "rollout", "status", "deployment/kickq-manager", "--timeout=120s"); err != nil {
			row.Fail("rollout status", err.Error())
			return row
		}
		rolls = append(rolls, time.Since(t0).Round(100*time.Millisecond).String())
	}
	if err := <-created; err != nil {
		row.Fail("create jobs", err.Error())
		return row
	}
	row.Faults = fmt.Sprintf("%d × `kubectl rollout restart deployment/kickq-manager` mid-run (rollouts complete in %s)", restarts, strings.Join(rolls, ", "))
	jobs, err := node.WaitJobs(ctx, ns, pods+hooks, 4*time.Minute)
	checkRolloutJobs(row, jobs, pods+hooks, err)
	doubled, names := podLog.Doubled()
	row.Check("no attempt with two pods", doubled == 0 && names >= pods, "%d pod names seen, %d with two pods", names, doubled)
	recv.check(row, hooks)
	checkPodReports(row, jobs)
	return row
}

// deployManager builds the manager's image (this platform only), imports it into the node and
// applies config/default as `make e2e` does (test/e2e/overlay, the image set to the one built).
func deployManager(ctx context.Context, h *Harness, node *RealNode) error {
	archive := filepath.Join(node.root, "bin", "image", "kickq-manager.tar")
	logf("scenario 8: building the manager's image")
	cmd := exec.CommandContext(ctx, "go", "run", "./hack/image", "-ref", "localhost/kickq/manager:reliability", "-tag-with-digest",
		"-out", archive, "-platforms", "linux/amd64")
	cmd.Dir = node.root
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("hack/image: %w", err)
	}
	ref := strings.TrimSpace(lastLines(string(out), 1))
	if err := node.script(ctx, "load-image.sh"); err != nil {
		return err
	}
	rendered, err := node.Kubectl(ctx, "", "kustomize", filepath.Join(node.root, "test", "e2e", "overlay"))
	if err != nil {
		return err
	}
	if strings.Count(rendered, "image: kickq/manager:dev") != 1 {
		return errors.New("config/default no longer names image kickq/manager:dev once")
	}
	rendered = strings.Replace(rendered, "image: kickq/manager:dev", "image: "+ref, 1)
	if _, err := node.Kubectl(ctx, rendered, "apply", "--server-side", "--force-conflicts", "-f", "-"); err != nil {
		return err
	}
	_, err = node.Kubectl(ctx, "", "-n", "kickq-system", "rollout", "status", "deployment/kickq-manager", "--timeout=180s")
	if err == nil {
		// Scaled to 0 and waited for: a pod still terminating when the node goes down stays in
		// etcd as Terminating (and `make e2e` waits for it in vain after the next up).
		h.OnClose(func() {
			bg := context.Background()
			_, _ = node.Kubectl(bg, "", "-n", "kickq-system", "scale", "deployment/kickq-manager", "--replicas=0")
			_, _ = node.Kubectl(bg, "", "-n", "kickq-system", "wait", "--for=delete", "pod",
				"-l", "app.kubernetes.io/name=kickq,app.kubernetes.io/component=manager", "--timeout=60s")
		})
	}
	return err
}

// rolloutReceiver serves webhook calls with pkg/kickq's WebhookHandler on the node's bridge
// address, logging each call's webhook-id, and each report the handler's client sent.
type rolloutReceiver struct {
	url, secret string
	srv         *http.Server

	mu      sync.Mutex
	calls   map[string][]string // job name -> webhook-ids of its calls, in order
	answers map[string]int      // report answers by status ("error" for a failed request)
}

// reportDialer points the report API's in-cluster name at its Service's ClusterIP from the host
// (kube-proxy's rules apply to the host's own connections too).
func reportDialer(ctx context.Context, node *RealNode) (func(context.Context, string, string) (net.Conn, error), error) {
	var svc corev1.Service
	if err := node.C.Get(ctx, client.ObjectKey{Namespace: "kickq-system", Name: "kickq-report"}, &svc); err != nil {
		return nil, err
	}
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, port, err := net.SplitHostPort(addr); err == nil && strings.HasPrefix(host, "kickq-report.") {
			addr = net.JoinHostPort(svc.Spec.ClusterIP, port)
		}
		return d.DialContext(ctx, network, addr)
	}, nil
}

// countingTransport records every report answer.
type countingTransport struct {
	rt http.RoundTripper
	r  *rolloutReceiver
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	key := "error"
	if err == nil {
		key = strconv.Itoa(resp.StatusCode)
	}
	t.r.mu.Lock()
	t.r.answers[key]++
	t.r.mu.Unlock()
	return resp, err
}

func startRolloutReceiver(ctx context.Context, node *RealNode) (*rolloutReceiver, error) {
	key := make([]byte, 24)
	_, _ = rand.Read(key)
	r := &rolloutReceiver{secret: "whsec_" + base64.StdEncoding.EncodeToString(key), calls: map[string][]string{}, answers: map[string]int{}}
	dial, err := reportDialer(ctx, node)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: countingTransport{rt: &http.Transport{DialContext: dial}, r: r}}
	hh, err := kickq.WebhookHandler(r.secret, func(ctx context.Context, t *kickq.Task) (any, error) {
		time.Sleep(3 * time.Second)
		return map[string]string{"id": t.ID()}, nil
	}, kickq.WithAcceptAfter(500*time.Millisecond), kickq.WithReportClient(hc))
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "10.88.0.1:0")
	if err != nil {
		return nil, err
	}
	r.url = "http://" + l.Addr().String() + "/hook"
	r.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		id := req.Header.Get("webhook-id")
		req.Body = &peekBody{rc: req.Body, onName: func(name string) {
			r.mu.Lock()
			r.calls[name] = append(r.calls[name], id)
			r.mu.Unlock()
		}}
		hh.ServeHTTP(w, req)
	})}
	go func() { _ = r.srv.Serve(l) }()
	return r, nil
}

func (r *rolloutReceiver) close() { _ = r.srv.Close() }

// check: every webhook job was called under one webhook-id per attempt (repeats only under it),
// and the report answers.
func (r *rolloutReceiver) check(row *Row, want int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls, repeats, twoIDs := 0, 0, 0
	for _, ids := range r.calls {
		calls += len(ids)
		distinct := map[string]bool{}
		for _, id := range ids {
			distinct[id] = true
		}
		repeats += len(ids) - len(distinct)
		if len(distinct) > 1 {
			twoIDs++
		}
	}
	row.Check("webhook repeats only under the same id", len(r.calls) == want && twoIDs == 0,
		"%d jobs called, %d calls, %d repeats (same id), %d jobs under two ids", len(r.calls), calls, repeats, twoIDs)
	var parts []string
	for _, k := range []string{"200", "202", "409", "503", "error"} {
		if r.answers[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d × %s", r.answers[k], k))
		}
	}
	row.Check("WebhookHandler's reports answered or sent again (503, connection errors)", r.answers["200"] >= want,
		"answers: %s; %d outcomes recorded (200) for %d jobs", strings.Join(parts, ", "), r.answers["200"], want)
}

// peekBody reads the job's name from the call's JSON body as the handler reads it.
type peekBody struct {
	rc     io.ReadCloser
	buf    []byte
	onName func(string)
	done   bool
}

func (p *peekBody) Read(b []byte) (int, error) {
	n, err := p.rc.Read(b)
	p.buf = append(p.buf, b[:n]...)
	if err != nil && !p.done {
		p.done = true
		var v struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(p.buf, &v) == nil && v.Name != "" {
			p.onName(v.Name)
		}
	}
	return n, err
}

func (p *peekBody) Close() error { return p.rc.Close() }

// setupRolloutQueues: the webhook's Secret, a pod queue and a webhook queue.
func setupRolloutQueues(ctx context.Context, node *RealNode, ns string, r *rolloutReceiver) error {
	if err := node.CreateNamespace(ctx, ns); err != nil {
		return err
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns, Labels: map[string]string{"kickq.dev/webhook-signing": "true"}},
		StringData: map[string]string{"key": r.secret}}
	if err := node.C.Create(ctx, sec); err != nil {
		return err
	}
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr.To[int64](2),
		Containers: []corev1.Container{{Name: utiltesting.MainContainer, Image: realNodeImage, ImagePullPolicy: corev1.PullNever,
			Command: []string{"sh", "-c", rolloutScript}}},
	}}
	retry := kickqv1alpha1.JobPolicies{Retry: utiltesting.RetryPolicy(3, utiltesting.FixedBackoff(time.Second))}
	for _, q := range []*kickqv1alpha1.Queue{
		utiltesting.MakeQueue(QueuePods, ns).Concurrency(8).Handler(TypePod, utiltesting.MakeHandler().PodTemplate(tmpl).Obj()).Defaults(retry).Obj(),
		utiltesting.MakeQueue(QueueHooks, ns).Concurrency(10).
			Handler(TypeWebhook, utiltesting.MakeHandler().Webhook(r.url, utiltesting.WithSecret("hook", "key"), utiltesting.WithTimeout(30*time.Second)).Obj()).
			Defaults(retry).Obj(),
	} {
		if err := node.C.Create(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// createRolloutJobs creates the jobs over about 40 s (both rollouts fall inside), pods and webhooks interleaved.
func createRolloutJobs(ctx context.Context, node *RealNode, ns string, pods, hooks int) error {
	total := pods + hooks
	gap := 40 * time.Second / time.Duration(total)
	for i := range total {
		var job *kickqv1alpha1.QueueJob
		if i%2 == 0 && i/2 < pods || i/2 >= hooks {
			job = utiltesting.MakeQueueJob(fmt.Sprintf("pod-%03d", i), ns).Queue(QueuePods).Type(TypePod).Obj()
		} else {
			job = utiltesting.MakeQueueJob(fmt.Sprintf("hook-%03d", i), ns).Queue(QueueHooks).Type(TypeWebhook).Obj()
		}
		if err := node.C.Create(ctx, job); err != nil {
			return err
		}
		time.Sleep(gap)
	}
	return nil
}

// checkRolloutJobs: every job Succeeded with its one attempt.
func checkRolloutJobs(row *Row, jobs []kickqv1alpha1.QueueJob, want int, err error) {
	ok, once := 0, 0
	var other []string
	for i := range jobs {
		j := &jobs[i]
		if j.Status.Phase == kickqv1alpha1.PhaseSucceeded {
			ok++
		} else {
			other = append(other, fmt.Sprintf("%s %s/%s (%s)", j.Name, j.Status.Phase, j.Status.Reason, j.Status.Message))
		}
		if j.Status.Attempts == 1 {
			once++
		}
	}
	row.Check("every job Succeeded (nothing lost)", err == nil && ok == want, "%d of %d%s%s", ok, want, errSuffix(err), wrongSuffix(other))
	row.Check("one attempt per job (nothing doubled)", once == want, "%d of %d jobs with 1 attempt", once, want)
}

// checkPodReports: each pod's report was answered 2xx, after how many tries (its result).
func checkPodReports(row *Row, jobs []kickqv1alpha1.QueueJob) {
	n, most, retried := 0, 0, 0
	for i := range jobs {
		j := &jobs[i]
		if j.Spec.Type != TypePod || j.Status.Result == nil {
			continue
		}
		var r struct {
			Tries int `json:"tries"`
		}
		if json.Unmarshal(j.Status.Result.Raw, &r) != nil || r.Tries == 0 {
			continue
		}
		n++
		most = max(most, r.Tries)
		if r.Tries > 1 {
			retried++
		}
	}
	pods := 0
	for i := range jobs {
		if jobs[i].Spec.Type == TypePod {
			pods++
		}
	}
	row.Check("pods' reports answered 2xx (sent again until then)", n == pods, "%d of %d pods reported; %d needed more than one try, at most %d tries",
		n, pods, retried, most)
}

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

package report

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
)

// These tests serve the report API on a real loopback listener. Server timeouts in them are short
// (their point is a real connection's timeout); what the tests wait for is bounded by
// patience, generously.
const patience = 10 * time.Second

// shortTimeout is the server timeout under test where a test waits for it to cut a connection.
const shortTimeout = 200 * time.Millisecond

// apiFixture is a report API served on 127.0.0.1 for one running job (ns/j, attempt 1).
type apiFixture struct {
	t     *testing.T
	addr  string
	key   types.NamespacedName
	token string
	store *Store
	clk   *clocktesting.FakeClock
	wakes chan types.NamespacedName
	conns *countingListener
	// stop ends the server's context (as a stopping manager does).
	stop context.CancelFunc
}

func newAPI(t *testing.T, o ServeOptions, leader <-chan struct{}) *apiFixture {
	t.Helper()
	s := runtime.NewScheme()
	utilruntime.Must(kickqv1alpha1.AddToScheme(s))
	start := metav1.NewTime(time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC))
	job := &kickqv1alpha1.QueueJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "j", UID: "uid-j"},
		Status: kickqv1alpha1.QueueJobStatus{Phase: kickqv1alpha1.PhaseRunning, Attempts: 1,
			AttemptHistory: []kickqv1alpha1.AttemptRecord{{Number: 1, StartTime: &start}}},
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(job).WithStatusSubresource(job).Build()
	signer, err := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	f := &apiFixture{t: t, key: types.NamespacedName{Namespace: "ns", Name: "j"}, token: signer.Token("uid-j", 1),
		clk: clocktesting.NewFakeClock(start.Time), wakes: make(chan types.NamespacedName, 100)}
	f.store = NewStore(f.clk, func(k types.NamespacedName) { f.wakes <- k })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.conns = &countingListener{Listener: l, accepted: make(chan struct{}, 100)}
	f.addr = l.Addr().String()
	srv := &Server{Reader: c, Signer: signer, Store: f.store, Leader: leader}
	ctx, cancel := context.WithCancel(context.Background())
	f.stop = cancel
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, f.conns, o) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(patience):
			t.Error("Serve did not return after its context ended")
		}
	})
	return f
}

// countingListener counts the connections the server holds open, and the most at once.
type countingListener struct {
	net.Listener
	accepted chan struct{}

	mu        sync.Mutex
	open, max int
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.open++
	l.max = max(l.max, l.open)
	l.mu.Unlock()
	l.accepted <- struct{}{}
	return &countedConn{Conn: c, l: l}, nil
}

func (l *countingListener) most() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

func (f *apiFixture) dial() net.Conn {
	f.t.Helper()
	c, err := net.DialTimeout("tcp", f.addr, patience)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = c.Close() })
	return c
}

// request is a raw report request with the fixture's token and body.
func (f *apiFixture) request(body string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: kickq\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		Path(f.key.Namespace, f.key.Name), f.token, len(body), body)
}

// post sends a report on a new connection and returns the answer.
func (f *apiFixture) post(body string) *http.Response {
	f.t.Helper()
	c := f.dial()
	if _, err := io.WriteString(c, f.request(body)); err != nil {
		f.t.Fatal(err)
	}
	return readResponse(f.t, c)
}

func readResponse(t *testing.T, c net.Conn) *http.Response {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(patience))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp
}

// expectClosedByServer waits (bounded by patience) for the server to close c, reading and
// discarding what it sends before.
func expectClosedByServer(t *testing.T, c net.Conn, why string) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(patience))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the server kept the connection open for %s", why, patience)
	}
	return time.Since(start)
}

func TestServeCutsSlowHeaders(t *testing.T) {
	f := newAPI(t, ServeOptions{ReadHeaderTimeout: shortTimeout}, nil)
	c := f.dial()
	// A client that sends its headers slowly, and never finishes them (slowloris).
	if _, err := io.WriteString(c, "POST "+Path("ns", "j")+" HTTP/1.1\r\nHost: kickq\r\n"); err != nil {
		t.Fatal(err)
	}
	expectClosedByServer(t, c, "headers never finished")
}

func TestServeCutsASlowBody(t *testing.T) {
	f := newAPI(t, ServeOptions{ReadTimeout: shortTimeout, WriteTimeout: patience}, nil)
	c := f.dial()
	// Authenticated, but the body never arrives in full.
	req := f.request(`{"heartbeat":true}`)
	if _, err := io.WriteString(c, req[:len(req)-5]); err != nil {
		t.Fatal(err)
	}
	expectClosedByServer(t, c, "the body never finished")
	if p := f.store.Take(f.key, 1); p != nil {
		t.Fatalf("an unfinished report was kept: %+v", p)
	}
}

func TestServeClosesIdleConnections(t *testing.T) {
	f := newAPI(t, ServeOptions{IdleTimeout: shortTimeout}, nil)
	c := f.dial()
	if _, err := io.WriteString(c, f.request(`{"heartbeat":true}`)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(patience))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusAccepted || resp.Close {
		t.Fatalf("answer %d (close %v), want 202 on a kept-alive connection", resp.StatusCode, resp.Close)
	}
	// The kept-alive connection, now idle, is closed by the server.
	if _, err := io.Copy(io.Discard, br); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("an idle connection was kept open for %s", patience)
		}
	}
}

func TestServeRefusesLargeHeaders(t *testing.T) {
	f := newAPI(t, ServeOptions{}, nil)
	c := f.dial()
	big := "X-Padding: " + strings.Repeat("p", 64<<10) + "\r\n"
	req := strings.Replace(f.request(`{}`), "Host: kickq\r\n", "Host: kickq\r\n"+big, 1)
	if _, err := io.WriteString(c, req); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		// The server may close before the whole request is written.
		t.Logf("writing: %v", err)
	}
	if resp := readResponse(t, c); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("answer %d, want 431 for 64 KiB of headers", resp.StatusCode)
	}
}

func TestServeRefusesUnauthenticatedBodiesUnread(t *testing.T) {
	for _, size := range []int{60 << 10, 10 << 20} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			f := newAPI(t, ServeOptions{}, nil)
			c := f.dial()
			// Headers that announce a large body, with a wrong token; the body is never sent: an
			// answer proves the server did not wait to read it.
			f.token = "kq1.1.forged"
			req := f.request("")
			req = strings.Replace(req, "Content-Length: 0", fmt.Sprintf("Content-Length: %d", size), 1)
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
			resp := readResponse(t, c)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("answer %d, want 401", resp.StatusCode)
			}
			if !resp.Close {
				t.Error("the answer must close the connection (the unread body is not drained)")
			}
		})
	}
}

func TestServeCapsConnections(t *testing.T) {
	f := newAPI(t, ServeOptions{MaxConnections: 2}, nil)
	held := []net.Conn{f.dial(), f.dial()}
	for range held {
		select {
		case <-f.conns.accepted:
		case <-time.After(patience):
			t.Fatal("the server did not accept two connections")
		}
	}
	third := f.dial() // the kernel completes the handshake; the server does not take it yet
	if _, err := io.WriteString(third, f.request(`{"heartbeat":true}`)); err != nil {
		t.Fatal(err)
	}
	// While two connections are open, the third is not served. The wait is a real connection's
	// read timeout: that nothing comes back is the point.
	_ = third.SetReadDeadline(time.Now().Add(shortTimeout))
	var ne net.Error
	if _, err := third.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("a third connection was served while two were open (read: %v)", err)
	}
	_ = held[0].Close()
	if resp := readResponse(t, third); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("answer %d, want 202 once a connection closed", resp.StatusCode)
	}
	if m := f.conns.most(); m > 2 {
		t.Fatalf("the server held %d connections at once, the cap is 2", m)
	}
}

func TestServeNonLeaderKeepsNothing(t *testing.T) {
	elected := make(chan struct{})
	f := newAPI(t, ServeOptions{}, elected)
	resp := f.post(`{"progress":{"percent":40},"log":"a line","outcome":"Succeed"}`)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" || !resp.Close {
		t.Fatalf("a non-leader answered %d, Retry-After %q, close %v; want 503, 1, true",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close)
	}
	select {
	case k := <-f.wakes:
		t.Fatalf("a non-leader woke the reconciler of %s", k)
	default:
	}
	if p := f.store.Take(f.key, 1); p != nil {
		t.Fatalf("a non-leader kept a report: %+v", p)
	}

	// Elected, the same replica takes reports.
	close(elected)
	if resp := f.post(`{"progress":{"percent":40}}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("the leader answered %d, want 202", resp.StatusCode)
	}
	if p := f.store.Take(f.key, 1); p == nil || p.Progress.Percent != 40 {
		t.Fatalf("the leader's store holds %+v", p)
	}
}

func TestServeOutcomeCarriesWhatWasAcceptedBefore(t *testing.T) {
	f := newAPI(t, ServeOptions{}, nil)
	if resp := f.post(`{"progress":{"percent":10},"log":"first"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("answer %d", resp.StatusCode)
	}
	p := f.store.Take(f.key, 1)
	if p == nil {
		t.Fatal("the first report is due at once")
	}
	f.store.Ack(f.key, p) // written: the next reports within the interval are held back
	<-f.wakes

	if resp := f.post(`{"progress":{"percent":90,"message":"9/10"},"log":["second","third"],"result":{"rows":9}}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("answer %d", resp.StatusCode)
	}
	if p := f.store.Take(f.key, 1); p != nil {
		t.Fatalf("reports inside the interval are held back for coalescing, got %+v", p)
	}
	answered := make(chan *http.Response, 1)
	go func() { answered <- f.post(`{"outcome":"Succeed","message":"done"}`) }()
	var out *attempt.Pending
	deadline := time.Now().Add(patience)
	for out == nil && time.Now().Before(deadline) {
		select {
		case <-f.wakes:
			out = f.store.Take(f.key, 1)
		case <-time.After(patience):
		}
	}
	if out == nil || out.Outcome != kickqv1alpha1.OutcomeSucceed {
		t.Fatalf("the outcome is due at once, got %+v", out)
	}
	// The outcome's one write carries everything accepted before it.
	if out.Progress == nil || out.Progress.Percent != 90 || out.Result == nil || string(out.Result.Raw) != `{"rows":9}` {
		t.Fatalf("the outcome's write lacks the progress or result accepted before it: %+v", out)
	}
	if len(out.Logs) != 2 || out.Logs[0].Message != "second" || out.Logs[1].Message != "third" {
		t.Fatalf("the outcome's write lacks the log lines accepted before it: %+v", out.Logs)
	}
	f.store.Ack(f.key, out)
	select {
	case resp := <-answered:
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("the outcome's answer is %d, want 200 once written", resp.StatusCode)
		}
	case <-time.After(patience):
		t.Fatal("the outcome's reporter got no answer")
	}
}

// postOutcome sends an outcome in the background and waits until the store holds it.
func (f *apiFixture) postOutcome() <-chan *http.Response {
	f.t.Helper()
	answered := make(chan *http.Response, 1)
	c := f.dial()
	if _, err := io.WriteString(c, f.request(`{"outcome":"Succeed"}`)); err != nil {
		f.t.Fatal(err)
	}
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(patience))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			resp = &http.Response{StatusCode: 0, Status: err.Error()}
		}
		answered <- resp
	}()
	for {
		select {
		case <-f.wakes:
			if p := f.store.Take(f.key, 1); p != nil && p.Outcome != "" {
				return answered
			}
		case <-time.After(patience):
			f.t.Fatal("the outcome did not reach the store")
		}
	}
}

func awaitAnswer(t *testing.T, answered <-chan *http.Response) *http.Response {
	t.Helper()
	select {
	case resp := <-answered:
		return resp
	case <-time.After(patience):
		t.Fatal("no answer")
		return nil
	}
}

// An outcome waits for its write past the connection's read timeout, which bounds reading the
// request only.
func TestServeOutcomeOutlastsTheReadTimeout(t *testing.T) {
	f := newAPI(t, ServeOptions{ReadTimeout: shortTimeout, WriteTimeout: shortTimeout}, nil)
	answered := f.postOutcome()
	// Another connection with a body that never ends is cut by the same read timeout: once it is,
	// the outcome's request has outlived that timeout too.
	slow := f.dial()
	req := f.request(`{"heartbeat":true}`)
	if _, err := io.WriteString(slow, req[:len(req)-3]); err != nil {
		t.Fatal(err)
	}
	expectClosedByServer(t, slow, "the body never finished")
	f.store.Ack(f.key, f.store.Take(f.key, 1))
	if resp := awaitAnswer(t, answered); resp.StatusCode != http.StatusOK {
		t.Fatalf("the outcome's answer is %d %s, want 200 once written", resp.StatusCode, resp.Status)
	}
}

// A manager that stops while an outcome waits for its write says it is not written.
func TestServeOutcomeNotWrittenAtShutdown(t *testing.T) {
	f := newAPI(t, ServeOptions{}, nil)
	answered := f.postOutcome()
	f.stop()
	resp := awaitAnswer(t, answered)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("an unwritten outcome was answered %d (Retry-After %q), want 503 with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

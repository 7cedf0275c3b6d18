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
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rssWatch samples a manager's resident memory every 250 ms.
type rssWatch struct {
	done       chan struct{}
	wg         sync.WaitGroup
	base, peak int64
}

func watchRSS(m *Manager) *rssWatch {
	w := &rssWatch{done: make(chan struct{}), base: rss(m.Pid())}
	w.peak = w.base
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.done:
				return
			case <-time.After(250 * time.Millisecond):
				w.peak = max(w.peak, rss(m.Pid()))
			}
		}
	}()
	return w
}

// stop ends the sampling and returns the memory before and the most seen, in bytes.
func (w *rssWatch) stop() (base, peak int64) {
	close(w.done)
	w.wg.Wait()
	return w.base, w.peak
}

// rss reads VmRSS of a process (0 when it cannot).
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// slowResults are how long the server kept each misbehaving connection open (0: not closed
// within a minute, or the probe failed).
type slowResults struct{ headers, body, idle time.Duration }

// probeSlowClients opens three connections to the report API at once: one that sends its
// headers a byte a second, one that sends its body a byte a second, and one kept alive and idle
// after a request, and measures when the server closes each.
func probeSlowClients(ctx context.Context, baseURL, ns string, j spamJob) slowResults {
	addr := strings.TrimPrefix(baseURL, "http://")
	path := "/v1/namespaces/" + ns + "/queuejobs/" + j.name + "/report"
	auth := "Authorization: Bearer " + j.token + "\r\n"
	var r slowResults
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		r.headers = trickle(ctx, addr, "POST "+path+" HTTP/1.1\r\nHost: report\r\n", "X-Slow: "+strings.Repeat("a", 100))
	}()
	go func() {
		defer wg.Done()
		r.body = trickle(ctx, addr, "POST "+path+" HTTP/1.1\r\nHost: report\r\n"+auth+
			"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n", strings.Repeat(" ", 100))
	}()
	go func() {
		defer wg.Done()
		r.idle = idleAfterRequest(ctx, addr, path, auth)
	}()
	wg.Wait()
	return r
}

// trickle sends head at once, then rest a byte a second, and returns how long after the first
// byte the server closed the connection (or answered: an answer before the request is whole is
// the server giving up on it).
func trickle(ctx context.Context, addr, head, rest string) time.Duration {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0
	}
	defer func() { _ = conn.Close() }()
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		return 0
	}
	closed := make(chan time.Duration, 1)
	go func() {
		_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
		_, _ = conn.Read(make([]byte, 1))
		closed <- time.Since(start)
	}()
	for i := range len(rest) {
		select {
		case d := <-closed:
			return d
		case <-time.After(time.Second):
		}
		if _, err := conn.Write([]byte{rest[i]}); err != nil {
			return time.Since(start)
		}
	}
	return 0
}

// idleAfterRequest sends one request on a kept-alive connection, reads its answer, stays idle and
// returns how long after the answer the server closed the connection.
func idleAfterRequest(ctx context.Context, addr, path, auth string) time.Duration {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0
	}
	defer func() { _ = conn.Close() }()
	if _, err := io.WriteString(conn, "POST "+path+" HTTP/1.1\r\nHost: report\r\n"+auth+
		"Content-Type: application/json\r\nContent-Length: 18\r\n\r\n{\"heartbeat\":true}"); err != nil {
		return 0
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := br.ReadByte(); err == nil {
		return 0 // the server sent more than its answer
	}
	if d := time.Since(start); d < time.Minute-time.Second {
		return d
	}
	return 0
}

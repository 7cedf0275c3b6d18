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
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"

	"kickq.dev/kickq/internal/limits"
)

// shutdownTimeout is how long Serve waits, once its context ends, for requests in flight.
const shutdownTimeout = 5 * time.Second

// ServeOptions bound the report API's connections. Zero fields take the bounds of
// internal/limits; tests shorten the timeouts.
type ServeOptions struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// MaxConnections caps the connections served at once; more wait in the listen backlog.
	MaxConnections int
}

func (o ServeOptions) withDefaults() ServeOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, limits.ReportReadHeaderTimeout)
	def(&o.ReadTimeout, limits.ReportReadTimeout)
	def(&o.WriteTimeout, limits.ReportWriteTimeout)
	def(&o.IdleTimeout, limits.ReportIdleTimeout)
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = limits.MaxReportHeaderBytes
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = limits.MaxReportConnections
	}
	return o
}

// Serve serves the report API on l until ctx ends, then shuts it down. Every connection is
// bounded in time (headers, whole request, answer, idleness), in header size, and in number:
// slow or idle clients cannot hold the manager's connections, goroutines or memory.
func (s *Server) Serve(ctx context.Context, l net.Listener, o ServeOptions) error {
	o = o.withDefaults()
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	if err := hs.Serve(netutil.LimitListener(l, o.MaxConnections)); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving the report API: %w", err)
	}
	<-stopped // requests in flight have ended, or the shutdown gave up on them
	return nil
}

// leading reports whether this replica is the leader, the one whose reconcilers write reports.
func (s *Server) leading() bool {
	if s.Leader == nil {
		return true
	}
	select {
	case <-s.Leader:
		return true
	default:
		return false
	}
}

// refuse answers an error before the body is read. The connection is closed after the answer, so
// the server never reads or drains a body it refused (a client may have announced megabytes).
func refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
	}
	writeError(w, code, msg)
}

// awaitOutcome lets an outcome's answer, which waits up to outcomeWait for its status write,
// outlast the connection's read and write timeouts, which bound reading the request.
func awaitOutcome(w http.ResponseWriter, now time.Time) {
	rc := http.NewResponseController(w)
	until := now.Add(outcomeWait + time.Second)
	_ = rc.SetReadDeadline(until)
	_ = rc.SetWriteDeadline(until)
}

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

// Command worker is a kickq pull worker: it runs the jobs of types "report" and "thumbnail" of
// one queue, four at a time. Run it in a Deployment (as the ServiceAccount of
// config/samples/03-worker-rbac.yaml) or on a machine with a kubeconfig:
//
//	KICKQ_NAMESPACE=shop go run ./examples/worker
//
// Environment: KICKQ_NAMESPACE (default "default"), KICKQ_QUEUE (default "default"),
// KICKQ_CONCURRENCY (default 4), POD_NAME (the worker's identity; default the host name), and
// the usual KUBECONFIG or in-cluster configuration. SIGTERM or Ctrl-C stops it gracefully: running
// tasks get 30 s to finish, the rest are released to another worker.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client/config"

	"kickq.dev/kickq/pkg/kickq"
)

// ReportArgs is a report job's data: {"month": "2026-11", "pages": 10, "pageMillis": 200}.
type ReportArgs struct {
	Month      string `json:"month"`
	Pages      int    `json:"pages"`
	PageMillis int    `json:"pageMillis"`
}

// ThumbnailArgs is a thumbnail job's data: {"image": "cat.png", "size": 128}.
type ThumbnailArgs struct {
	Image string `json:"image"`
	Size  int    `json:"size"`
	// Throttled makes the (pretend) image service answer "slow down" to the first attempt.
	Throttled bool `json:"throttled"`
}

func main() {
	cfg, err := config.GetConfig()
	if err != nil {
		log.Fatal(err)
	}
	concurrency, _ := strconv.Atoi(os.Getenv("KICKQ_CONCURRENCY"))
	if concurrency == 0 {
		concurrency = 4
	}
	w, err := kickq.NewWorker(cfg, kickq.WorkerOptions{Namespace: env("KICKQ_NAMESPACE", "default"),
		Queue: env("KICKQ_QUEUE", "default"), Concurrency: concurrency, Identity: os.Getenv("POD_NAME")})
	if err != nil {
		log.Fatal(err)
	}
	w.Handle("report", report)
	w.Handle("thumbnail", thumbnail)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Println("worker", w.Name(), "running")
	if err := w.Run(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("worker", w.Name(), "stopped")
}

// report renders a month's report page by page, reporting progress.
func report(ctx context.Context, t *kickq.Task) (any, error) {
	var in ReportArgs
	if err := t.Data(&in); err != nil || in.Month == "" || in.Pages < 0 {
		return nil, kickq.Die(fmt.Errorf("invalid report request %s: month and pages >= 0 are required", t.RawData()))
	}
	for p := 1; p <= in.Pages; p++ {
		select {
		case <-ctx.Done(): // cancelled, timed out, or the worker lost the claim
			return nil, ctx.Err()
		case <-time.After(time.Duration(in.PageMillis) * time.Millisecond):
		}
		t.Progress(100*p/in.Pages, fmt.Sprintf("%d/%d pages", p, in.Pages))
		t.Logf("rendered page %d", p)
	}
	return map[string]any{"month": in.Month, "pages": in.Pages}, nil
}

// thumbnail scales an image. A busy image service asks to come back later (RetryAfter, not a
// failure); a size of 0 is a bug that panics (the attempt fails with the panic's message).
func thumbnail(_ context.Context, t *kickq.Task) (any, error) {
	var in ThumbnailArgs
	if err := t.Data(&in); err != nil {
		return nil, kickq.Die(err)
	}
	if in.Throttled && t.Attempt == 1 {
		return nil, kickq.RetryAfter(2*time.Second, errors.New("image service: slow down"))
	}
	scale := 1000 / in.Size // panics on size 0: integer divide by zero
	return map[string]any{"image": in.Image, "size": in.Size, "scale": scale}, nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

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
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// LeaseHolder is the leader Lease's holder ("" when there is no Lease or nobody holds it).
func (h *Harness) LeaseHolder(ctx context.Context) string {
	var l coordinationv1.Lease
	if err := h.CP.Harness.Get(ctx, client.ObjectKey{Namespace: LeaderNamespace, Name: LeaderLease}, &l); err != nil {
		return ""
	}
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// WaitHolder polls the Lease every 50 ms until its holder is non-empty and not old, and
// returns the holder and when it was seen.
func (h *Harness) WaitHolder(ctx context.Context, old string, timeout time.Duration) (string, time.Time, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if cur := h.LeaseHolder(ctx); cur != "" && cur != old {
			return cur, time.Now(), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", time.Time{}, fmt.Errorf("no new holder of lease %s/%s within %s (old %q)", LeaderNamespace, LeaderLease, timeout, old)
}

// Report POSTs a report body to a manager's report API for a job, with a bearer token, and
// returns the status code and the Retry-After header.
func Report(ctx context.Context, baseURL, ns, name, token, body string) (int, string, error) {
	url := fmt.Sprintf("%s/v1/namespaces/%s/queuejobs/%s/report", baseURL, ns, name)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

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
	"encoding/json"
	"io"
	"net/http"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	utiltesting "kickq.dev/kickq/test/util/testing"
)

// A webhook job on the real node: the manager (in the cluster, or in this process) calls a
// receiver this test serves on the node's bridge, the address e2e allows for webhooks.
var _ = Describe("Webhook jobs on a real node", func() {
	It("calls the receiver on the bridge with a stable webhook-id and keeps its result", func() {
		ns := newNamespace()
		var mu sync.Mutex
		var ids []string
		var payload map[string]any
		url := serveOnBridge(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			ids = append(ids, r.Header.Get("webhook-id"))
			_ = json.Unmarshal(body, &payload)
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"result":{"sent":true}}`))
		}))
		Expect(k8sClient.Create(ctx, utiltesting.MakeQueueJob("hook", ns).Type("email").
			Data(map[string]any{"to": "a@example.com"}).Webhook(url+"/send").Obj())).To(Succeed())
		j := waitPhase(ns, "hook", kickqv1alpha1.PhaseSucceeded)
		Expect(string(j.Status.Result.Raw)).To(MatchJSON(`{"sent":true}`))
		mu.Lock()
		defer mu.Unlock()
		Expect(ids).To(HaveLen(1))
		Expect(ids[0]).NotTo(BeEmpty())
		Expect(payload).To(HaveKeyWithValue("type", "email"))
		Expect(payload).To(HaveKeyWithValue("data", map[string]any{"to": "a@example.com"}))
	})
})

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

// Command webhook-receiver serves kickq webhook jobs of type "email" with kickq.WebhookHandler:
// it verifies each call's Standard Webhooks signature, runs the handler, and answers with the
// outcome; a task that takes longer than 10 s is answered 202 and reports its outcome later
// through the report API. Point a queue handler at it:
//
//	handlers:
//	- type: email
//	  webhook: {url: "http://mailer.shop.svc:8080/jobs", secretRef: {name: mailer-hook, key: secret}}
//
// Environment: WEBHOOK_SECRET (the Secret's value, whsec_…), LISTEN (default :8080).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"kickq.dev/kickq/pkg/kickq"
)

// Email is an email job's data: {"to": "a@b.c", "template": "welcome"}.
type Email struct {
	To       string `json:"to"`
	Template string `json:"template"`
}

func main() {
	h, err := kickq.WebhookHandler(os.Getenv("WEBHOOK_SECRET"), send)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /jobs", h)
	addr := os.Getenv("LISTEN")
	if addr == "" {
		addr = ":8080"
	}
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// send sends one email, once per attempt id (t.ID() is the webhook-id: de-duplicate on it).
func send(ctx context.Context, t *kickq.Task) (any, error) {
	var m Email
	if err := t.Data(&m); err != nil || !strings.Contains(m.To, "@") {
		return nil, kickq.Die(fmt.Errorf("not an email address: %q", m.To)) // no retry can fix it
	}
	if m.Template == "" {
		return nil, errors.New("no template") // a counted failure: the retry policy applies
	}
	t.Logf("sending %s to %s", m.Template, m.To)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(100 * time.Millisecond): // the mail server's answer
	}
	return map[string]any{"sent": true, "id": t.ID()}, nil
}

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

package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/netguard"
	"kickq.dev/kickq/internal/outcome"
	"kickq.dev/kickq/internal/signing"
)

// secretTTL is how long a signing secret read from the API server is reused.
const secretTTL = 10 * time.Second

// GuardedTransport is an HTTP transport that dials only addresses the guard allows, uses no
// proxy (a proxy would dial for us, past the guard) and keeps connections for reuse.
func GuardedTransport(g *netguard.Guard, conns int) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: g.Control}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// request builds the call's POST of body: the target's headers, kickq's, and the signature
// headers (webhook-id, webhook-timestamp, and webhook-signature when the target names a signing
// secret). It returns the result of a call that cannot be made.
func (w *Webhooks) request(ctx context.Context, c *call, body []byte) (*http.Request, *outcome.Result) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.target.URL, bytes.NewReader(body))
	if err != nil {
		return nil, &outcome.Result{Outcome: kickqv1alpha1.OutcomeDie, Reason: kickqv1alpha1.AttemptReasonInvalidURL,
			Message: "spec webhook url: " + err.Error()}
	}
	for _, h := range c.target.Headers {
		req.Header.Set(h.Name, h.Value)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	var keys [][]byte
	if ref := c.target.SecretRef; ref != nil {
		secret, err := w.secret(ctx, types.NamespacedName{Namespace: c.job.Namespace, Name: ref.Name}, ref.Key)
		if err != nil {
			return nil, &outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: kickqv1alpha1.AttemptReasonSecretUnavailable,
				Message: err.Error()}
		}
		if keys, err = signing.Keys(secret); err != nil {
			return nil, &outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: kickqv1alpha1.AttemptReasonSecretInvalid,
				Message: fmt.Sprintf("secret %s key %s: %v", ref.Name, ref.Key, err)}
		}
	}
	if err := signing.SetHeaders(req.Header, keys, c.payload.ID, w.opts.Clock.Now(), body); err != nil {
		return nil, &outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: kickqv1alpha1.AttemptReasonSigningFailed,
			Message: err.Error()}
	}
	return req, nil
}

// callError classifies a call that got no answer.
func callError(url string, err error) outcome.Result {
	if r, ok := netguard.IsRefused(err); ok {
		return outcome.Result{Outcome: kickqv1alpha1.OutcomeDie, Reason: kickqv1alpha1.AttemptReasonAddressRefused,
			Message: fmt.Sprintf("POST %s refused: %v", outcome.RedactURL(url), r)}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: kickqv1alpha1.AttemptReasonTimeout,
			Message: fmt.Sprintf("POST %s: %v", outcome.RedactURL(url), err)}
	}
	return outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: kickqv1alpha1.AttemptReasonConnectionError,
		Message: fmt.Sprintf("POST %s: %v", outcome.RedactURL(url), err)}
}

// cachedSecret is a Secret's data as read at a time.
type cachedSecret struct {
	data map[string][]byte
	at   time.Time
}

// secret reads a key of a Secret in the job's namespace, reusing a recent read.
func (w *Webhooks) secret(ctx context.Context, key types.NamespacedName, k string) (string, error) {
	now := w.opts.Clock.Now()
	w.mu.Lock()
	cs, ok := w.secrets[key]
	w.mu.Unlock()
	if !ok || now.Sub(cs.at) > secretTTL || now.Before(cs.at) {
		if w.opts.Secrets == nil {
			return "", fmt.Errorf("secret %s: the manager reads no secrets", key.Name)
		}
		var s corev1.Secret
		if err := w.opts.Secrets.Get(ctx, key, &s); err != nil {
			if apierrors.IsNotFound(err) {
				return "", fmt.Errorf("secret %s not found in namespace %s", key.Name, key.Namespace)
			}
			return "", fmt.Errorf("reading secret %s: %w", key.Name, err)
		}
		cs = cachedSecret{data: s.Data, at: now}
		w.mu.Lock()
		w.secrets[key] = cs
		w.mu.Unlock()
	}
	v, ok := cs.data[k]
	if !ok {
		return "", fmt.Errorf("secret %s has no key %q", key.Name, k)
	}
	return string(v), nil
}

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
	"kickq.dev/kickq/internal/limits"
	"kickq.dev/kickq/internal/netguard"
	"kickq.dev/kickq/internal/outcome"
	"kickq.dev/kickq/internal/signing"
)

// secretTTL is how long a signing secret read from the API server is reused.
const secretTTL = 10 * time.Second

// authorChosen reports whether the job's attempt calls a URL its author chose (an inline webhook
// target: it wins over any handler) rather than one of its queue owner's handlers.
// Completion callbacks (spec.notify) are always the author's.
func authorChosen(job *kickqv1alpha1.QueueJob) bool {
	return job.Spec.Webhook != nil
}

// classify turns an answer into the call's result. Only a receiver the queue's owner configured
// (a handler) has its failed answer's body quoted in the attempt's message: a URL the job's author
// chose could point at a service inside the cluster, whose answers the author must not read
// through the job's status. Their answers keep what kickq's answer protocol defines (status code,
// a JSON body's outcome, message and result).
func (w *Webhooks) classify(c *call, code int, h http.Header, body []byte, retryAfterMax time.Duration) outcome.Result {
	now := w.opts.Clock.Now()
	r := outcome.ClassifyResponse(c.target.URL, code, h, body, now, retryAfterMax)
	if c.authorURL && r.Reason == kickqv1alpha1.AttemptReasonHTTPError {
		r = outcome.ClassifyResponse(c.target.URL, code, h, nil, now, retryAfterMax)
	}
	return r
}

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
		var failed *outcome.Result
		if keys, failed = w.signingKeys(ctx, c.job.Namespace, ref); failed != nil {
			return nil, failed
		}
	}
	if err := signing.SetHeaders(req.Header, keys, c.payload.ID, w.opts.Clock.Now(), body); err != nil {
		return nil, &outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: kickqv1alpha1.AttemptReasonSigningFailed,
			Message: err.Error()}
	}
	return req, nil
}

// signingKeys reads the keys a secretRef names, or the result of a call that cannot be signed.
func (w *Webhooks) signingKeys(ctx context.Context, ns string, ref *kickqv1alpha1.SecretKeyRef) ([][]byte, *outcome.Result) {
	fail := func(reason, msg string) *outcome.Result {
		return &outcome.Result{Outcome: kickqv1alpha1.OutcomeFail, Reason: reason, Message: limits.Truncate(msg, limits.MaxMessageBytes, limits.Ellipsis)}
	}
	secret, err := w.secret(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, ref.Key)
	switch {
	case errors.Is(err, errNoSigningKey):
		return nil, fail(kickqv1alpha1.AttemptReasonSecretUnavailable, noSigningKey(ns, ref))
	case err != nil:
		return nil, fail(kickqv1alpha1.AttemptReasonSecretUnavailable, fmt.Sprintf("secretRef %s: %v", ref.Name, err))
	}
	keys, err := signing.Keys(secret)
	if err != nil {
		return nil, fail(kickqv1alpha1.AttemptReasonSecretInvalid, fmt.Sprintf("secretRef %s key %s: %v", ref.Name, ref.Key, err))
	}
	return keys, nil
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

// errNoSigningKey: the Secret is missing, is not labelled for signing, or has no such key. The
// three read alike (noSigningKey), so secretRef cannot tell an author which Secrets and keys
// exist in the namespace.
var errNoSigningKey = errors.New("no signing key")

// noSigningKey is the one message of errNoSigningKey.
func noSigningKey(ns string, ref *kickqv1alpha1.SecretKeyRef) string {
	return fmt.Sprintf(`secretRef: namespace %s has no Secret %q labelled %s: "true" with a key %q (kickq signs only with Secrets labelled for signing)`,
		ns, ref.Name, kickqv1alpha1.LabelWebhookSigning, ref.Key)
}

// cachedSecret is what a read of a Secret found: its data when it is labelled for signing (nil
// otherwise: kickq keeps no other Secret's data), as read at a time.
type cachedSecret struct {
	data map[string][]byte
	at   time.Time
}

// secret reads a key of a signing Secret in the job's namespace, reusing a recent read. A Secret
// that is missing or not labelled kickq.dev/webhook-signing: "true", and a missing key, are all
// errNoSigningKey.
func (w *Webhooks) secret(ctx context.Context, key types.NamespacedName, k string) (string, error) {
	now := w.opts.Clock.Now()
	w.mu.Lock()
	cs, ok := w.secrets[key]
	w.mu.Unlock()
	if !ok || now.Sub(cs.at) > secretTTL || now.Before(cs.at) {
		if w.opts.Secrets == nil {
			return "", errors.New("the manager reads no secrets")
		}
		var s corev1.Secret
		switch err := w.opts.Secrets.Get(ctx, key, &s); {
		case apierrors.IsNotFound(err):
			cs = cachedSecret{at: now}
		case err != nil:
			return "", fmt.Errorf("reading a signing secret: %w", err)
		case s.Labels[kickqv1alpha1.LabelWebhookSigning] == "true":
			cs = cachedSecret{data: s.Data, at: now}
		default:
			cs = cachedSecret{at: now}
		}
		w.mu.Lock()
		w.secrets[key] = cs
		w.mu.Unlock()
	}
	v, ok := cs.data[k]
	if !ok {
		return "", errNoSigningKey
	}
	return string(v), nil
}

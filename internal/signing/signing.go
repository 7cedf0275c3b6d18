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

// Package signing signs webhook calls per the Standard Webhooks specification
// (https://www.standardwebhooks.com): webhook-id, webhook-timestamp and webhook-signature, the
// last being "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)). Keys are
// Standard Webhooks secrets ("whsec_" + base64), so receivers verify with the official libraries.
// Which Secrets may sign (kickqv1alpha1.LabelWebhookSigning) is the executor's check.
package signing

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"kickq.dev/kickq/internal/limits"
)

// Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Prefix starts every Standard Webhooks secret: "whsec_" and the base64 of the key's bytes.
const Prefix = "whsec_"

// Keys parses a signing secret's value: one or more space-separated Standard Webhooks keys
// ("whsec_" + standard base64, several during a rotation, at most limits.MaxSigningKeys), with
// leading and trailing white space (a file's final newline) ignored. Anything else is refused,
// so that a value which is not meant as a key (a password, a certificate, a multi-line file) is
// never used to sign; raw keys are refused too, since the Standard Webhooks libraries base64-decode
// the secret and would not verify them. Errors name the key's position, never its value.
func Keys(secret string) ([][]byte, error) {
	fields := strings.Split(strings.TrimSpace(secret), " ")
	keys := make([][]byte, 0, len(fields))
	for _, f := range fields {
		if f == "" {
			continue // several spaces between keys
		}
		if len(keys) == limits.MaxSigningKeys {
			return nil, fmt.Errorf("the value holds more than %d keys", limits.MaxSigningKeys)
		}
		b, err := key(f)
		if err != nil {
			return nil, fmt.Errorf("key %d of the value %w: a Standard Webhooks key is %q followed by the standard base64 of 24 to 64 random bytes, and several keys are separated by spaces", len(keys)+1, err, Prefix)
		}
		keys = append(keys, b)
	}
	if len(keys) == 0 {
		return nil, errors.New("the value holds no key")
	}
	return keys, nil
}

// key decodes one "whsec_<base64>" key.
func key(f string) ([]byte, error) {
	if strings.ContainsAny(f, "\t\r\n\v\f") {
		return nil, errors.New("holds a tab or a line break")
	}
	if !strings.HasPrefix(f, Prefix) {
		return nil, fmt.Errorf("does not start with %q", Prefix)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(f, Prefix))
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("is not base64 after %q", Prefix)
	}
	return b, nil
}

// Signature returns the webhook-signature header value: one "v1,<base64>" per key,
// space-separated.
func Signature(keys [][]byte, id string, ts time.Time, body []byte) (string, error) {
	sigs := make([]string, 0, len(keys))
	for _, k := range keys {
		wh, err := standardwebhooks.NewWebhookRaw(k)
		if err != nil {
			return "", fmt.Errorf("preparing a signing key: %w", err)
		}
		s, err := wh.Sign(id, ts, body)
		if err != nil {
			return "", fmt.Errorf("signing: %w", err)
		}
		sigs = append(sigs, s)
	}
	return strings.Join(sigs, " "), nil
}

// SetHeaders sets the three Standard Webhooks headers on h. With no keys, only webhook-id and
// webhook-timestamp are set (an unsigned call). An empty id is refused: receivers could neither
// verify the call (the Standard Webhooks libraries require the header) nor de-duplicate it.
func SetHeaders(h http.Header, keys [][]byte, id string, ts time.Time, body []byte) error {
	if id == "" {
		return errors.New("signing: the webhook-id is empty")
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	if len(keys) == 0 {
		return nil
	}
	sig, err := Signature(keys, id, ts, body)
	if err != nil {
		return err
	}
	h.Set(HeaderSignature, sig)
	return nil
}

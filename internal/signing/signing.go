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
// last being "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)).
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
)

// Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// prefix marks a base64-encoded secret, as the specification writes them.
const prefix = "whsec_"

// Keys parses a secret value: one or more space-separated keys (several during a rotation). A key
// written "whsec_<base64>" is the base64-decoded bytes; any other key is used as its raw bytes.
func Keys(secret string) ([][]byte, error) {
	var keys [][]byte
	for _, f := range strings.Fields(secret) {
		if strings.HasPrefix(f, prefix) {
			b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(f, prefix))
			if err != nil || len(b) == 0 {
				return nil, fmt.Errorf("a key starting %q must be base64 after the prefix", prefix)
			}
			keys = append(keys, b)
			continue
		}
		keys = append(keys, []byte(f))
	}
	if len(keys) == 0 {
		return nil, errors.New("the secret holds no key")
	}
	return keys, nil
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
// webhook-timestamp are set (an unsigned call).
func SetHeaders(h http.Header, keys [][]byte, id string, ts time.Time, body []byte) error {
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

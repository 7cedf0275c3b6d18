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

package signing

import (
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"kickq.dev/kickq/internal/limits"
)

// FuzzKeys parses any signing Secret value: Keys never panics, accepts only 1 to
// limits.MaxSigningKeys non-empty keys, never quotes the value in its error, and what it accepts
// signs calls that the Standard Webhooks library verifies with each key.
func FuzzKeys(f *testing.F) {
	f.Add(specSecret, "msg_1", int64(1_795_000_000), []byte(`{"id":"u-1"}`))
	f.Add(specSecret+" whsec_"+strings.Repeat("A", 43)+"=\n", "u/2", int64(0), []byte{})
	f.Add("whsec_", "", int64(-1), []byte(nil))
	f.Add("whsec_!!notbase64-but-a-long-password", "id", int64(1), []byte("x"))
	f.Add("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----", "id", int64(1), []byte("x"))
	f.Add(strings.Repeat("whsec_AAAA ", limits.MaxSigningKeys+1), "id", int64(2), []byte("y"))
	f.Add("whsec_AAAA\twhsec_BBBB", "id", int64(3), []byte("z"))
	f.Fuzz(func(t *testing.T, secret, id string, ts int64, body []byte) {
		keys, err := Keys(secret)
		if err != nil {
			if keys != nil {
				t.Fatalf("Keys returned keys and the error %v", err)
			}
			for _, field := range strings.Fields(secret) {
				if len(field) >= 16 && strings.Contains(err.Error(), field) {
					t.Fatalf("the error %q quotes part of the value (%q)", err, field)
				}
			}
			return
		}
		if len(keys) < 1 || len(keys) > limits.MaxSigningKeys {
			t.Fatalf("Keys returned %d keys; 1 to %d", len(keys), limits.MaxSigningKeys)
		}
		h := http.Header{}
		at := time.Unix(ts%(1<<40), 0)
		if id == "" {
			// Found by this target: an empty webhook-id signed a call no receiver could verify.
			if err := SetHeaders(h, keys, id, at, body); err == nil {
				t.Fatal("SetHeaders accepted an empty webhook-id")
			}
			return
		}
		if err := SetHeaders(h, keys, id, at, body); err != nil {
			t.Fatalf("SetHeaders with keys Keys accepted: %v", err)
		}
		if got := len(strings.Split(h.Get(HeaderSignature), " ")); got != len(keys) {
			t.Fatalf("%d signatures for %d keys", got, len(keys))
		}
		for i, k := range keys {
			if len(k) == 0 {
				t.Fatalf("key %d is empty", i+1)
			}
			wh, err := standardwebhooks.NewWebhookRaw(k)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.VerifyIgnoringTimestamp(body, h); err != nil {
				t.Fatalf("the Standard Webhooks library does not verify the call with key %d: %v", i+1, err)
			}
		}
	})
}

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
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The example vector the Standard Webhooks project publishes with its libraries.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specPayload   = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSpecExampleVector(t *testing.T) {
	keys, err := Keys(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Signature(keys, specID, time.Unix(specTimestamp, 0), []byte(specPayload))
	if err != nil {
		t.Fatal(err)
	}
	if got != specSignature {
		t.Fatalf("signature %q, want the spec's %q", got, specSignature)
	}
}

// verify is an independent verifier, written from the specification's algorithm: the signed
// content is "<id>.<timestamp>.<body>", the key is the base64 after "whsec_", and the header holds
// space-separated "v1,<base64 HMAC-SHA256>" signatures, any of which may match.
func verify(secret string, h http.Header, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body)))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Split(h.Get("webhook-signature"), " ") {
		v, sig, ok := strings.Cut(s, ",")
		if ok && v == "v1" && hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

func TestSetHeadersVerifyIndependently(t *testing.T) {
	body := []byte(`{"id":"u-1","attempt":1}`)
	ts := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	keys, err := Keys(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	if err := SetHeaders(h, keys, "u-1", ts, body); err != nil {
		t.Fatal(err)
	}
	if h.Get("webhook-id") != "u-1" || h.Get("webhook-timestamp") != "1795489200" {
		t.Fatalf("headers %v", h)
	}
	if !verify(specSecret, h, body) {
		t.Fatalf("the independent verifier refused %q", h.Get("webhook-signature"))
	}
	if verify(specSecret, h, []byte(`{"id":"u-1","attempt":2}`)) {
		t.Fatal("a changed body verified")
	}
	if verify("whsec_"+base64.StdEncoding.EncodeToString([]byte("another key entirely")), h, body) {
		t.Fatal("another key verified")
	}
}

func TestRotationSignsWithEachKey(t *testing.T) {
	oldKey := "whsec_" + base64.StdEncoding.EncodeToString([]byte("the old signing key, 32 bytes.."))
	newKey := "whsec_" + base64.StdEncoding.EncodeToString([]byte("the new signing key, 32 bytes.."))
	keys, err := Keys(oldKey + " " + newKey)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{}`)
	h := http.Header{}
	if err := SetHeaders(h, keys, "id-1", time.Unix(1700000000, 0), body); err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(h.Get("webhook-signature"))); n != 2 {
		t.Fatalf("%d signatures, want 2: %q", n, h.Get("webhook-signature"))
	}
	if !verify(oldKey, h, body) || !verify(newKey, h, body) {
		t.Fatal("a receiver holding either key must verify")
	}
}

func TestKeys(t *testing.T) {
	k24 := base64.StdEncoding.EncodeToString([]byte("twenty-four bytes of key"))
	k32 := base64.StdEncoding.EncodeToString([]byte("thirty-two bytes of signing key."))
	for _, tc := range []struct {
		name    string
		value   string
		keys    []string // the decoded keys
		wantErr string   // a substring of the error; "" = accepted
	}{
		{name: "one whsec_ key", value: "whsec_" + k24, keys: []string{"twenty-four bytes of key"}},
		{name: "a final newline (kubectl --from-file) is ignored", value: "whsec_" + k24 + "\n", keys: []string{"twenty-four bytes of key"}},
		{name: "two keys during a rotation", value: "whsec_" + k24 + " whsec_" + k32,
			keys: []string{"twenty-four bytes of key", "thirty-two bytes of signing key."}},
		{name: "several spaces between keys", value: "whsec_" + k24 + "   whsec_" + k32,
			keys: []string{"twenty-four bytes of key", "thirty-two bytes of signing key."}},
		{name: "empty", value: "  ", wantErr: "the value holds no key"},
		{name: "a raw key is refused", value: "plain-secret", wantErr: `key 1 of the value does not start with "whsec_"`},
		{name: "a raw key after a good one is refused", value: "whsec_" + k24 + " hunter2", wantErr: `key 2 of the value does not start with "whsec_"`},
		{name: "not base64 after the prefix", value: "whsec_not*base64", wantErr: `key 1 of the value is not base64 after "whsec_"`},
		{name: "nothing after the prefix", value: "whsec_", wantErr: `is not base64 after "whsec_"`},
		{name: "url-safe base64 is not the standard encoding", value: "whsec_-_-_", wantErr: "is not base64"},
		{name: "a multi-line value is not split into keys", value: "whsec_" + k24 + "\nwhsec_" + k32, wantErr: "key 1 of the value holds a tab or a line break"},
		{name: "a PEM file is refused", value: "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n", wantErr: "does not start with"},
		{name: "at most MaxSigningKeys keys", value: strings.Repeat("whsec_"+k24+" ", 9), wantErr: "more than 8 keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := Keys(tc.value)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Keys: %v, want an error with %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "MIIB") {
					t.Fatalf("the error quotes the value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Keys: %v", err)
			}
			var got []string
			for _, k := range keys {
				got = append(got, string(k))
			}
			if strings.Join(got, "|") != strings.Join(tc.keys, "|") {
				t.Fatalf("keys %q, want %q", got, tc.keys)
			}
		})
	}
	// Unsigned: no key, no signature header.
	h := http.Header{}
	if err := SetHeaders(h, nil, "x", time.Unix(1, 0), nil); err != nil || h.Get("webhook-signature") != "" {
		t.Fatalf("unsigned call: %v %v", h, err)
	}
}

// TestOfficialLibraryVerifies: a receiver using the Standard Webhooks Go library, with the secret
// as it is stored, verifies kickq's signatures, with one key and with each key of a rotation.
func TestOfficialLibraryVerifies(t *testing.T) {
	oldKey := "whsec_" + base64.StdEncoding.EncodeToString([]byte("the old signing key, 32 bytes.."))
	newKey := "whsec_" + base64.StdEncoding.EncodeToString([]byte("the new signing key, 32 bytes.."))
	body := []byte(`{"id":"u-1","n":1}`)
	for _, tc := range []struct {
		name    string
		stored  string   // the Secret's value kickq signs with
		holders []string // the secrets receivers hold
	}{
		{name: "the spec's example secret", stored: specSecret, holders: []string{specSecret}},
		{name: "a rotation: either key verifies", stored: oldKey + " " + newKey, holders: []string{oldKey, newKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := Keys(tc.stored)
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			// Verify checks the timestamp against the wall clock (5 minutes' tolerance).
			if err := SetHeaders(h, keys, "msg-1", time.Now(), body); err != nil {
				t.Fatal(err)
			}
			for _, secret := range tc.holders {
				wh, err := standardwebhooks.NewWebhook(secret)
				if err != nil {
					t.Fatal(err)
				}
				if err := wh.Verify(body, h); err != nil {
					t.Errorf("the official library refused the signature for %s: %v", secret[:10], err)
				}
				if err := wh.Verify([]byte(`{"id":"u-1","n":2}`), h); err == nil {
					t.Error("the official library verified a changed body")
				}
			}
			other, _ := standardwebhooks.NewWebhook("whsec_" + base64.StdEncoding.EncodeToString([]byte("another key entirely")))
			if err := other.Verify(body, h); err == nil {
				t.Error("another key verified")
			}
		})
	}
}

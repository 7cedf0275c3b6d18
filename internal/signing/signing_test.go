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
	if _, err := Keys("  "); err == nil {
		t.Fatal("an empty secret must be refused")
	}
	if _, err := Keys("whsec_not base64!"); err == nil {
		t.Fatal("a whsec_ key that is not base64 must be refused")
	}
	k, err := Keys("plain-secret")
	if err != nil || string(k[0]) != "plain-secret" {
		t.Fatalf("a plain key is used as its bytes: %q %v", k, err)
	}
	// Unsigned: no key, no signature header.
	h := http.Header{}
	if err := SetHeaders(h, nil, "x", time.Unix(1, 0), nil); err != nil || h.Get("webhook-signature") != "" {
		t.Fatalf("unsigned call: %v %v", h, err)
	}
}

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

package report

import (
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

var fuzzKey, fuzzOldKey = []byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")

// FuzzVerifyToken checks webhook attempts' HMAC tokens on any string: a token the signer made
// verifies, for its own job only, and a token verifies only if it is, character for character, one
// the signer makes for that job and attempt (with the current or the previous key): there is one
// spelling of each token, so whoever sees a token cannot make a second one for the same attempt.
func FuzzVerifyToken(f *testing.F) {
	s, err := NewSigner(fuzzKey, fuzzOldKey)
	if err != nil {
		f.Fatal(err)
	}
	old, err := NewSigner(fuzzOldKey)
	if err != nil {
		f.Fatal(err)
	}
	uid := types.UID("3f1c2a9e-uid")
	good := s.Token(uid, 3)
	f.Add(good, string(uid), int32(3))
	f.Add(old.Token(uid, 1), string(uid), int32(1))
	f.Add(strings.Replace(good, ".3.", ".+3.", 1), string(uid), int32(3))
	f.Add(strings.Replace(good, ".3.", ".03.", 1), string(uid), int32(3))
	f.Add(good[:len(good)-1]+"R", string(uid), int32(3))
	f.Add(good+"=", string(uid), int32(3))
	f.Add("kq1.0.", "", int32(0))
	f.Add("kq1.2147483648.AAAA", "u", int32(-1))
	f.Fuzz(func(t *testing.T, token, jobUID string, n int32) {
		uid := types.UID(jobUID)
		if n >= 1 {
			tok := s.Token(uid, n)
			if got, err := s.Verify(tok, uid); err != nil || got != n {
				t.Fatalf("Verify(Token(%q, %d)) = %d, %v", uid, n, got, err)
			}
			if _, err := s.Verify(tok, uid+"x"); err == nil {
				t.Fatalf("the token of job %q verifies for job %q", uid, uid+"x")
			}
		}
		got, err := s.Verify(token, uid)
		if err != nil {
			if got != 0 {
				t.Fatalf("Verify(%q) = %d with the error %v", token, got, err)
			}
			return
		}
		if got < 1 || (token != s.Token(uid, got) && token != old.Token(uid, got)) {
			t.Fatalf("Verify(%q, %q) accepts a token the signer does not make (attempt %d; it makes %q)", token, uid, got, s.Token(uid, got))
		}
	})
}

// FuzzParsePodToken reads the claims of any bearer string: it never panics, accepts only a
// bounded token bound to a named pod in a namespace for kickq's audience, and reads back what a
// token of the API server's form says.
func FuzzParsePodToken(f *testing.F) {
	exp := time.Date(2026, 11, 24, 3, 10, 0, 0, time.UTC)
	f.Add(podJWT(TokenAudience, exp, "team-a", "job-1", "pod-uid"), "team-a", "job-1", "pod-uid", false)
	f.Add(podJWT([]string{"api", TokenAudience}, exp, "ns", "p", "u"), "ns", "p", "u", true)
	f.Add(podJWT("https://kubernetes.default.svc", exp, "ns", "p", "u"), "", "", "", false)
	f.Add("a.b.c", "ns", "", "u", false)
	f.Add("eyJ9.eyJhdWQiOjF9.", "n\u00e9", "p\x00", "u", true)
	f.Add(strings.Repeat("a", 4097), "ns", "p", "u", false)
	f.Fuzz(func(t *testing.T, token, ns, pod, uid string, audList bool) {
		checkPodClaims(t, token)
		var aud any = TokenAudience
		if audList {
			aud = []string{"https://kubernetes.default.svc", TokenAudience}
		}
		made := podJWT(aud, exp, ns, pod, uid)
		c, err := ParsePodToken(made)
		valid := ns != "" && pod != "" && uid != "" && len(made) <= maxTokenBytes
		if !valid {
			if err == nil {
				t.Fatalf("ParsePodToken accepted a token of namespace %q, pod %q, uid %q (%d bytes)", ns, pod, uid, len(made))
			}
			return
		}
		if err != nil {
			t.Fatalf("ParsePodToken refused a token of namespace %q, pod %q, uid %q: %v", ns, pod, uid, err)
		}
		// encoding/json reads invalid UTF-8 as U+FFFD, as the API server does.
		if c.Namespace != strings.ToValidUTF8(ns, "\uFFFD") && !strings.ContainsRune(c.Namespace, '\uFFFD') ||
			c.Expiry != exp.Unix() || !slices.Contains(c.Audience, TokenAudience) {
			t.Fatalf("ParsePodToken read %+v from a token of namespace %q, pod %q, uid %q", c, ns, pod, uid)
		}
	})
}

// checkPodClaims: a token ParsePodToken accepts is bounded and names a namespace, a pod and its
// UID, for TokenAudience.
func checkPodClaims(t *testing.T, token string) {
	t.Helper()
	c, err := ParsePodToken(token)
	if err != nil {
		return
	}
	if len(token) > maxTokenBytes || c.Namespace == "" || c.PodName == "" || c.PodUID == "" || !slices.Contains(c.Audience, TokenAudience) {
		t.Fatalf("ParsePodToken(%q) accepted %+v", token, c)
	}
}

// TestTokenHasOneSpelling is the regression test of what FuzzVerifyToken found: Verify accepted
// other spellings of a token ("kq1.+3.…", "kq1.03.…", a signature with other unused base64 bits).
func TestTokenHasOneSpelling(t *testing.T) {
	s, err := NewSigner(fuzzKey)
	if err != nil {
		t.Fatal(err)
	}
	tok := s.Token("uid-a", 3)
	sig := tok[len("kq1.3."):]
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", sig[len(sig)-1])
	// 32 bytes are 43 base64 characters: the last one carries 4 bits and 2 unused ones.
	otherBits := string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last^1])
	for _, other := range []string{"kq1.+3." + sig, "kq1.03." + sig, "kq1.3." + sig[:len(sig)-1] + otherBits, tok + "="} {
		if n, err := s.Verify(other, "uid-a"); err == nil {
			t.Errorf("Verify(%q) = attempt %d; want ErrBadToken (the token is %q)", other, n, tok)
		}
	}
	if n, err := s.Verify(tok, "uid-a"); err != nil || n != 3 {
		t.Errorf("Verify(the token) = %d, %v; want 3", n, err)
	}
}

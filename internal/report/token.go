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

// Package report is the report API a running attempt talks back through: how an attempt proves
// itself (a webhook attempt's HMAC token, a pod attempt's projected ServiceAccount token checked
// with a cached TokenReview), the HTTP server (POST /v1/namespaces/{ns}/queuejobs/{name}/report),
// and the store that holds reports until the job's reconciler writes them to status, coalesced.
// It never writes to the API server: TokenReviews are its only requests besides reads.
package report

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"kickq.dev/kickq/internal/limits"
)

// tokenPrefix versions the token format.
const tokenPrefix = "kq1"

// ErrBadToken: the token is malformed or was not signed for this job.
var ErrBadToken = errors.New("the token is not valid for this job")

// Signer signs and checks the tokens of webhook attempts:
// "kq1.<attempt>.<base64url HMAC-SHA256(key, uid/attempt)>". A token names its attempt in clear,
// so a stale token is told from a forged one. (Pod attempts use the ServiceAccount token the
// kubelet projects into their pod instead: see PodTokens.)
//
// The first key signs; every key verifies. A rotation puts a new key first and keeps the old one
// as a previous key until every attempt that was given a token under it has ended.
type Signer struct {
	keys [][]byte
}

// NewSigner returns a signer that signs with key and also accepts tokens signed with the
// previous keys; each key should be at least 32 random bytes (16 at the least), and there are at
// most limits.MaxSigningKeys in all.
func NewSigner(key []byte, previous ...[]byte) (*Signer, error) {
	all := append([][]byte{key}, previous...)
	if len(all) > limits.MaxSigningKeys {
		return nil, fmt.Errorf("%d report token keys; at most %d", len(all), limits.MaxSigningKeys)
	}
	s := &Signer{}
	for i, k := range all {
		if len(k) < 16 {
			what := "the report token key"
			if i > 0 {
				what = fmt.Sprintf("previous report token key %d", i)
			}
			return nil, fmt.Errorf("%s has %d bytes; at least 16 are needed", what, len(k))
		}
		s.keys = append(s.keys, append([]byte(nil), k...))
	}
	return s, nil
}

func mac(key []byte, uid types.UID, attempt int32) []byte {
	h := hmac.New(sha256.New, key)
	fmt.Fprintf(h, "%s/%d", uid, attempt)
	return h.Sum(nil)
}

// Token returns the token of attempt `attempt` of the job with this UID, signed with the first key.
func (s *Signer) Token(uid types.UID, attempt int32) string {
	return tokenWith(s.keys[0], uid, attempt)
}

// tokenWith is the token of an attempt signed with key.
func tokenWith(key []byte, uid types.UID, attempt int32) string {
	return fmt.Sprintf("%s.%d.%s", tokenPrefix, attempt, base64.RawURLEncoding.EncodeToString(mac(key, uid, attempt)))
}

// Verify checks that token was signed, with any of the keys, for the job with this UID and
// returns its attempt.
func (s *Signer) Verify(token string, uid types.UID) (int32, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] != tokenPrefix {
		return 0, ErrBadToken
	}
	n, err := strconv.ParseInt(parts[1], 10, 32)
	if err != nil || n < 1 {
		return 0, ErrBadToken
	}
	// Compared whole, as the signer spells it: "+3", "03" or a signature whose unused base64 bits
	// differ name the same attempt but are not its token (one spelling per token).
	for _, k := range s.keys {
		if hmac.Equal([]byte(token), []byte(tokenWith(k, uid, int32(n)))) {
			return int32(n), nil
		}
	}
	return 0, ErrBadToken
}

// Endpoint is what a running attempt is told: where to report, and (webhooks) its token.
type Endpoint struct {
	// BaseURL is the report API's address as workers reach it, e.g.
	// http://kickq-report.kickq-system.svc:8082.
	BaseURL string
	Signer  *Signer
}

// URL is the job's report address.
func (e *Endpoint) URL(namespace, name string) string {
	return strings.TrimRight(e.BaseURL, "/") + Path(namespace, name)
}

// Path is the report API's path for a job.
func Path(namespace, name string) string {
	return "/v1/namespaces/" + url.PathEscape(namespace) + "/queuejobs/" + url.PathEscape(name) + "/report"
}

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

// Package report is the report API a running attempt talks back through: per-attempt tokens, the
// HTTP server (POST /v1/namespaces/{ns}/queuejobs/{name}/report), and the store that holds
// reports until the job's reconciler writes them to status, coalesced.
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
)

// tokenPrefix versions the token format.
const tokenPrefix = "kq1"

// ErrBadToken: the token is malformed or was not signed for this job.
var ErrBadToken = errors.New("the token is not valid for this job")

// Signer signs and checks attempt tokens: "kq1.<attempt>.<base64url HMAC-SHA256(key, uid/attempt)>".
// A token names its attempt in clear, so a stale token is told from a forged one.
type Signer struct {
	key []byte
}

// NewSigner returns a signer; the key should be at least 32 random bytes.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 16 {
		return nil, fmt.Errorf("the report token key has %d bytes; at least 16 are needed", len(key))
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

func (s *Signer) mac(uid types.UID, attempt int32) []byte {
	h := hmac.New(sha256.New, s.key)
	fmt.Fprintf(h, "%s/%d", uid, attempt)
	return h.Sum(nil)
}

// Token returns the token of attempt `attempt` of the job with this UID.
func (s *Signer) Token(uid types.UID, attempt int32) string {
	return fmt.Sprintf("%s.%d.%s", tokenPrefix, attempt, base64.RawURLEncoding.EncodeToString(s.mac(uid, attempt)))
}

// Verify checks that token was signed for the job with this UID and returns its attempt.
func (s *Signer) Verify(token string, uid types.UID) (int32, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] != tokenPrefix {
		return 0, ErrBadToken
	}
	n, err := strconv.ParseInt(parts[1], 10, 32)
	if err != nil || n < 1 {
		return 0, ErrBadToken
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, s.mac(uid, int32(n))) {
		return 0, ErrBadToken
	}
	return int32(n), nil
}

// Endpoint is what a running attempt is told: where to report, and its token.
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

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
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A pod attempt proves who it is with a ServiceAccount token the kubelet projects into the pod
// (volume TokenVolume, file TokenFile, env KICKQ_TOKEN_FILE): bound to the pod, for TokenAudience,
// short-lived and refreshed by the kubelet. It is not in the pod spec, so whoever may only `get
// pods` (the built-in view role) cannot read it; the API server does not accept it as a credential
// (its audience is not the API server's).
const (
	// TokenAudience is the audience of the tokens the report API accepts from pods.
	TokenAudience = "kickq.dev"
	// TokenVolume is the projected volume that holds the token in every kickq pod.
	TokenVolume = "kickq-token"
	// TokenDir is where TokenVolume is mounted, read-only, in every container.
	TokenDir = "/var/run/secrets/kickq.dev"
	// TokenFileName is the token's file in TokenDir.
	TokenFileName = "token"
	// TokenFile is the token's path, the value of KICKQ_TOKEN_FILE.
	TokenFile = TokenDir + "/" + TokenFileName
	// TokenExpirationSeconds is the token's lifetime (the least the API server allows). The
	// kubelet writes a new token when 80 % of it has passed: read the file for each report.
	TokenExpirationSeconds = 600
)

// maxTokenBytes bounds a bearer token (the report API's headers are bounded as well).
const maxTokenBytes = 4096

// Claims the API server sets on an extra of a pod-bound token's user (TokenReview status).
const (
	extraPodName = "authentication.kubernetes.io/pod-name"
	extraPodUID  = "authentication.kubernetes.io/pod-uid"
	saPrefix     = "system:serviceaccount:"
)

// PodClaims are what a pod token says of itself, read without checking its signature: they pick
// the attempt the token is for and let the report API refuse a token that cannot be right without
// asking the API server. Only a TokenReview (PodIdentity) vouches for them.
type PodClaims struct {
	Audience  []string
	Expiry    int64 // Unix seconds
	Namespace string
	PodName   string
	PodUID    types.UID
}

// jwtClaims is the part of a Kubernetes ServiceAccount JWT's payload the report API reads.
type jwtClaims struct {
	Audience   json.RawMessage `json:"aud"`
	Expiry     int64           `json:"exp"`
	Kubernetes struct {
		Namespace string `json:"namespace"`
		Pod       *struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"pod"`
	} `json:"kubernetes.io"`
}

// ParsePodToken reads the claims of a pod-bound ServiceAccount token for TokenAudience. It checks
// the token's form only, never its signature: ErrBadToken when it is no such token.
func ParsePodToken(token string) (PodClaims, error) {
	parts := strings.Split(token, ".")
	if len(token) > maxTokenBytes || len(parts) != 3 {
		return PodClaims{}, ErrBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return PodClaims{}, ErrBadToken
	}
	var c jwtClaims
	if err := json.Unmarshal(raw, &c); err != nil || c.Kubernetes.Pod == nil || c.Kubernetes.Pod.Name == "" ||
		c.Kubernetes.Pod.UID == "" || c.Kubernetes.Namespace == "" {
		return PodClaims{}, ErrBadToken
	}
	out := PodClaims{Expiry: c.Expiry, Namespace: c.Kubernetes.Namespace, PodName: c.Kubernetes.Pod.Name,
		PodUID: types.UID(c.Kubernetes.Pod.UID)}
	// "aud" is a string or an array of strings (RFC 7519).
	var one string
	if json.Unmarshal(c.Audience, &one) == nil {
		out.Audience = []string{one}
	} else if json.Unmarshal(c.Audience, &out.Audience) != nil {
		return PodClaims{}, ErrBadToken
	}
	if !slices.Contains(out.Audience, TokenAudience) {
		return PodClaims{}, fmt.Errorf("%w: its audience is not %s", ErrBadToken, TokenAudience)
	}
	return out, nil
}

// PodIdentity is what the API server vouches for a pod token: the pod it is bound to and its
// service account.
type PodIdentity struct {
	Namespace      string
	ServiceAccount string
	PodName        string
	PodUID         types.UID
}

// TokenReviewer asks the API server who a token is. It returns ErrBadToken when the API server
// does not authenticate the token for TokenAudience as a pod-bound ServiceAccount token, and
// another error when it could not answer.
type TokenReviewer interface {
	Review(ctx context.Context, token string) (PodIdentity, error)
}

// APIReviewer reviews tokens with the TokenReview API (authentication.k8s.io/v1) for
// TokenAudience. The manager's RBAC has create on tokenreviews.
type APIReviewer struct {
	Client client.Client
}

// Review creates a TokenReview of token and reads the pod it is bound to.
func (r APIReviewer) Review(ctx context.Context, token string) (PodIdentity, error) {
	tr := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: []string{TokenAudience}}}
	if err := r.Client.Create(ctx, tr); err != nil {
		return PodIdentity{}, fmt.Errorf("reviewing a pod token: %w", err)
	}
	return IdentityOf(tr.Status)
}

// IdentityOf reads a TokenReview's status: ErrBadToken unless it authenticated a pod-bound
// ServiceAccount token for TokenAudience.
func IdentityOf(st authenticationv1.TokenReviewStatus) (PodIdentity, error) {
	if !st.Authenticated || !slices.Contains(st.Audiences, TokenAudience) {
		return PodIdentity{}, ErrBadToken
	}
	rest, ok := strings.CutPrefix(st.User.Username, saPrefix)
	ns, sa, ok2 := strings.Cut(rest, ":")
	name, uid := st.User.Extra[extraPodName], st.User.Extra[extraPodUID]
	if !ok || !ok2 || ns == "" || sa == "" || len(name) != 1 || len(uid) != 1 || name[0] == "" || uid[0] == "" {
		return PodIdentity{}, fmt.Errorf("%w: it is not a token bound to a pod", ErrBadToken)
	}
	return PodIdentity{Namespace: ns, ServiceAccount: sa, PodName: name[0], PodUID: types.UID(uid[0])}, nil
}

// ErrThrottled: the namespace has asked for too many token reviews; try again in a second.
var ErrThrottled = errors.New("too many new tokens from this namespace; try again")

// tokenKey is what the caches keep of a token: its hash, never the token.
type tokenKey [sha256.Size]byte

func keyOf(token string) tokenKey { return sha256.Sum256([]byte(token)) }

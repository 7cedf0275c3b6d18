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
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

var tokenNow = time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)

// podJWT is a token of the form the API server mints for a pod (unsigned: the reviewer vouches).
func podJWT(aud any, exp time.Time, ns, pod, uid string) string {
	claims := map[string]any{"aud": aud, "exp": exp.Unix(), "iss": "https://kubernetes.default.svc",
		"sub": "system:serviceaccount:" + ns + ":default",
		"kubernetes.io": map[string]any{"namespace": ns, "pod": map[string]string{"name": pod, "uid": uid},
			"serviceaccount": map[string]string{"name": "default", "uid": "sa-uid"}}}
	raw, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k"}`)) + "." + enc(raw) + "." + enc([]byte("signature"))
}

func TestParsePodToken(t *testing.T) {
	exp := tokenNow.Add(10 * time.Minute)
	cases := map[string]struct {
		token string
		want  PodClaims
		bad   bool
	}{
		"a pod token": {token: podJWT([]string{"kickq.dev"}, exp, "ns", "j-2", "pod-uid"),
			want: PodClaims{Audience: []string{"kickq.dev"}, Expiry: exp.Unix(), Namespace: "ns", PodName: "j-2", PodUID: "pod-uid"}},
		"aud as a string": {token: podJWT("kickq.dev", exp, "ns", "j-2", "pod-uid"),
			want: PodClaims{Audience: []string{"kickq.dev"}, Expiry: exp.Unix(), Namespace: "ns", PodName: "j-2", PodUID: "pod-uid"}},
		"several audiences": {token: podJWT([]string{"vault", "kickq.dev"}, exp, "ns", "j-2", "u"),
			want: PodClaims{Audience: []string{"vault", "kickq.dev"}, Expiry: exp.Unix(), Namespace: "ns", PodName: "j-2", PodUID: "u"}},
		"the API server's audience": {token: podJWT([]string{"https://kubernetes.default.svc"}, exp, "ns", "j-2", "u"), bad: true},
		"not bound to a pod":        {token: podJWT([]string{"kickq.dev"}, exp, "ns", "", ""), bad: true},
		"an HMAC token":             {token: "kq1.1.c2ln", bad: true},
		"garbage":                   {token: "a.b.c", bad: true},
		"no payload JSON":           {token: "eyJ9.bm90IGpzb24.c2ln", bad: true},
		"too long":                  {token: podJWT([]string{"kickq.dev"}, exp, "ns", strings.Repeat("p", maxTokenBytes), "u"), bad: true},
		"empty":                     {token: "", bad: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ParsePodToken(c.token)
			if c.bad {
				if !errors.Is(err, ErrBadToken) {
					t.Fatalf("error %v, want ErrBadToken", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("claims (-want +got):\n%s", d)
			}
		})
	}
}

func TestIdentityOf(t *testing.T) {
	podUser := authenticationv1.UserInfo{Username: "system:serviceaccount:ns:worker", Extra: map[string]authenticationv1.ExtraValue{
		extraPodName: {"j-2"}, extraPodUID: {"pod-uid"}}}
	cases := map[string]struct {
		status authenticationv1.TokenReviewStatus
		want   PodIdentity
		bad    bool
	}{
		"a pod-bound token": {status: authenticationv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"kickq.dev"}, User: podUser},
			want: PodIdentity{Namespace: "ns", ServiceAccount: "worker", PodName: "j-2", PodUID: "pod-uid"}},
		"not authenticated": {status: authenticationv1.TokenReviewStatus{Authenticated: false, User: podUser}, bad: true},
		"another audience": {status: authenticationv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"api"}, User: podUser},
			bad: true},
		"a user, not a service account": {status: authenticationv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"kickq.dev"},
			User: authenticationv1.UserInfo{Username: "alice", Extra: podUser.Extra}}, bad: true},
		"a service account token bound to no pod": {status: authenticationv1.TokenReviewStatus{Authenticated: true,
			Audiences: []string{"kickq.dev"}, User: authenticationv1.UserInfo{Username: podUser.Username}}, bad: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := IdentityOf(c.status)
			if c.bad {
				if !errors.Is(err, ErrBadToken) {
					t.Fatalf("error %v, want ErrBadToken", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("identity (-want +got):\n%s", d)
			}
		})
	}
}

// fakeReviewer answers reviews from a table of tokens and counts them.
type fakeReviewer struct {
	mu      sync.Mutex
	ids     map[string]PodIdentity
	err     error // answered to every review when set
	reviews map[string]int
	// gate, when set, holds every review until it is closed.
	gate chan struct{}
}

func newFakeReviewer() *fakeReviewer {
	return &fakeReviewer{ids: map[string]PodIdentity{}, reviews: map[string]int{}}
}

func (f *fakeReviewer) Review(_ context.Context, token string) (PodIdentity, error) {
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reviews[token]++
	if f.err != nil {
		return PodIdentity{}, f.err
	}
	id, ok := f.ids[token]
	if !ok {
		return PodIdentity{}, ErrBadToken
	}
	return id, nil
}

func (f *fakeReviewer) count(token string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reviews[token]
}

// mint makes a token the fake API server vouches for.
func (f *fakeReviewer) mint(ns, pod, uid string, exp time.Time) (string, PodClaims) {
	tok := podJWT([]string{TokenAudience}, exp, ns, pod, uid)
	f.mu.Lock()
	f.ids[tok] = PodIdentity{Namespace: ns, ServiceAccount: "default", PodName: pod, PodUID: types.UID(uid)}
	f.mu.Unlock()
	c, err := ParsePodToken(tok)
	if err != nil {
		panic(err)
	}
	return tok, c
}

func mustClaims(t *testing.T, tok string) PodClaims {
	t.Helper()
	c, err := ParsePodToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPodTokensReviewsEachTokenOnce(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakePassiveClock(tokenNow)
	r := newFakeReviewer()
	p := NewPodTokens(r, clk)
	tok, c := r.mint("ns", "j-1", "u1", tokenNow.Add(10*time.Minute))
	for range 100 {
		id, err := p.Verify(ctx, tok, c)
		if err != nil || id.PodUID != "u1" {
			t.Fatalf("Verify: %v, %v", id, err)
		}
	}
	if n := r.count(tok); n != 1 {
		t.Errorf("100 reports with one token: %d reviews, want 1", n)
	}
	// The kubelet's next token is reviewed once too.
	next, nc := r.mint("ns", "j-1", "u1", tokenNow.Add(18*time.Minute))
	if _, err := p.Verify(ctx, next, nc); err != nil || r.count(next) != 1 {
		t.Errorf("a refreshed token: %v, %d reviews", err, r.count(next))
	}
	if p.Reviews() != 2 {
		t.Errorf("Reviews() = %d, want 2", p.Reviews())
	}
	// An expired token is refused without a review, cached or not.
	clk.SetTime(tokenNow.Add(10 * time.Minute))
	if _, err := p.Verify(ctx, tok, c); !errors.Is(err, ErrBadToken) {
		t.Errorf("an expired token: %v, want ErrBadToken", err)
	}
	if r.count(tok) != 1 {
		t.Errorf("an expired token was reviewed again")
	}
}

// TestPodTokensReviewAConcurrentTokenOnce: reports that bring one new token at once wait for
// one review.
func TestPodTokensReviewAConcurrentTokenOnce(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(tokenNow)
	r := newFakeReviewer()
	r.gate = make(chan struct{})
	p := NewPodTokens(r, clk)
	tok, c := r.mint("ns", "j-1", "u1", tokenNow.Add(10*time.Minute))
	errs := make(chan error, 20)
	for range 20 {
		go func() {
			_, err := p.Verify(context.Background(), tok, c)
			errs <- err
		}()
	}
	// Let the callers pile up on the held review (no timing is asserted: any interleaving must
	// give one review).
	time.Sleep(50 * time.Millisecond)
	close(r.gate)
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := r.count(tok); n != 1 {
		t.Errorf("20 concurrent reports with one new token: %d reviews, want 1", n)
	}
}

func TestPodTokensTrustAReviewAtMostMaxValidTokenTTL(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakePassiveClock(tokenNow)
	r := newFakeReviewer()
	p := NewPodTokens(r, clk)
	tok, c := r.mint("ns", "j-1", "u1", tokenNow.Add(time.Hour)) // a longer-lived token than kickq asks for
	if _, err := p.Verify(ctx, tok, c); err != nil {
		t.Fatal(err)
	}
	clk.SetTime(tokenNow.Add(MaxValidTokenTTL - time.Second))
	_, _ = p.Verify(ctx, tok, c)
	if r.count(tok) != 1 {
		t.Fatalf("reviewed %d times within MaxValidTokenTTL, want 1", r.count(tok))
	}
	clk.SetTime(tokenNow.Add(MaxValidTokenTTL))
	_, _ = p.Verify(ctx, tok, c)
	if r.count(tok) != 2 {
		t.Errorf("reviewed %d times after MaxValidTokenTTL, want 2", r.count(tok))
	}
}

func TestPodTokensRememberRefusals(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakePassiveClock(tokenNow)
	r := newFakeReviewer()
	p := NewPodTokens(r, clk)
	forged := podJWT([]string{TokenAudience}, tokenNow.Add(10*time.Minute), "ns", "j-1", "u1")
	c := mustClaims(t, forged)
	for range 10 {
		if _, err := p.Verify(ctx, forged, c); !errors.Is(err, ErrBadToken) {
			t.Fatalf("a forged token: %v", err)
		}
	}
	if r.count(forged) != 1 {
		t.Errorf("a repeated forged token: %d reviews, want 1", r.count(forged))
	}
	clk.SetTime(tokenNow.Add(InvalidTokenTTL))
	_, _ = p.Verify(ctx, forged, c)
	if r.count(forged) != 2 {
		t.Errorf("after InvalidTokenTTL: %d reviews, want 2", r.count(forged))
	}

	// A token the API server vouches for, but for another pod than it claims, is refused.
	tok, _ := r.mint("ns", "other-1", "u9", tokenNow.Add(20*time.Minute))
	lying := mustClaims(t, tok)
	lying.PodName, lying.PodUID = "j-1", "u1"
	if _, err := p.Verify(ctx, tok, lying); !errors.Is(err, ErrBadToken) {
		t.Errorf("claims that differ from the review: %v, want ErrBadToken", err)
	}

	// An API server that cannot answer is no refusal: the next report asks again.
	down := newFakeReviewer()
	down.err = errors.New("connection refused")
	q := NewPodTokens(down, clk)
	good := podJWT([]string{TokenAudience}, tokenNow.Add(20*time.Minute), "ns", "j-1", "u1")
	for range 2 {
		if _, err := q.Verify(ctx, good, mustClaims(t, good)); err == nil || errors.Is(err, ErrBadToken) {
			t.Fatalf("an unreachable API server: %v, want a transient error", err)
		}
	}
	if down.count(good) != 2 {
		t.Errorf("transient errors are cached: %d reviews, want 2", down.count(good))
	}
}

func TestPodTokensLimitReviewsPerNamespace(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakePassiveClock(tokenNow)
	r := newFakeReviewer()
	p := NewPodTokens(r, clk)
	exp := tokenNow.Add(10 * time.Minute)
	throttled := 0
	for i := range TokenReviewBurst + 20 {
		tok := podJWT([]string{TokenAudience}, exp, "noisy", "j-1", fmt.Sprint("forged-", i))
		if _, err := p.Verify(ctx, tok, mustClaims(t, tok)); errors.Is(err, ErrThrottled) {
			throttled++
		}
	}
	if throttled != 20 {
		t.Errorf("%d of %d new tokens throttled, want 20 (burst %d)", throttled, TokenReviewBurst+20, TokenReviewBurst)
	}
	// Another namespace is not slowed; a token already reviewed is answered from the cache.
	tok, c := r.mint("quiet", "k-1", "u2", exp)
	if _, err := p.Verify(ctx, tok, c); err != nil {
		t.Errorf("another namespace's token: %v", err)
	}
	// The noisy namespace's budget refills with time.
	clk.SetTime(tokenNow.Add(time.Second))
	tok, c = r.mint("noisy", "j-1", "u1", exp)
	if _, err := p.Verify(ctx, tok, c); err != nil {
		t.Errorf("a second later: %v", err)
	}
}

func TestPodTokensCachesAreBounded(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakePassiveClock(tokenNow)
	r := newFakeReviewer()
	p := NewPodTokens(r, clk)
	exp := tokenNow.Add(10 * time.Minute)
	for i := range MaxInvalidTokens + 10 {
		ns := fmt.Sprint("ns-", i%100) // spread over namespaces to stay within their budgets
		tok := podJWT([]string{TokenAudience}, exp, ns, "j-1", fmt.Sprint("forged-", i))
		_, _ = p.Verify(ctx, tok, mustClaims(t, tok))
	}
	if n := len(p.invalid); n > MaxInvalidTokens {
		t.Errorf("%d refused tokens kept, at most %d", n, MaxInvalidTokens)
	}
	// The valid cache is bounded the same way (evict itself is shared); fill it directly.
	for i := range MaxValidTokens + 5 {
		p.remember(keyOf(strconv.Itoa(i)), PodIdentity{}, nil, PodClaims{Expiry: exp.Add(time.Duration(i) * time.Second).Unix()}, tokenNow)
	}
	if n := len(p.valid); n > MaxValidTokens {
		t.Errorf("%d valid tokens kept, at most %d", n, MaxValidTokens)
	}
}

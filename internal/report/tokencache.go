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
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"
)

// Bounds of the pod token cache and of the token reviews it asks for.
const (
	// MaxValidTokens is how many reviewed tokens are remembered (a few hundred bytes each). A
	// token is remembered until it expires; each running pod has one or two at a time.
	MaxValidTokens = 16384
	// MaxInvalidTokens is how many refused tokens are remembered, for InvalidTokenTTL, so a
	// repeated bad token costs no review.
	MaxInvalidTokens = 4096
	// InvalidTokenTTL is how long a refused token is remembered.
	InvalidTokenTTL = time.Minute
	// MaxValidTokenTTL caps how long a reviewed token is trusted without a new review. (The pod
	// it is bound to is checked on every report: a deleted or replaced pod's token is refused at
	// once.)
	MaxValidTokenTTL = TokenExpirationSeconds * time.Second
	// TokenReviewsPerSecond and TokenReviewBurst bound the reviews of tokens not in the cache,
	// per namespace: a namespace sending new or forged tokens spends its own budget only.
	TokenReviewsPerSecond = 20
	TokenReviewBurst      = 100
	// limiterIdle is how long an unused namespace's limiter is kept (it is full again by then),
	// once more than maxLimiters namespaces have one.
	limiterIdle = time.Minute
	maxLimiters = 1024
)

type validToken struct {
	id      PodIdentity
	expires time.Time
}

type limiter struct {
	rl       flowcontrol.PassiveRateLimiter
	lastUsed time.Time
}

// PodTokens verifies pod tokens with a TokenReviewer and remembers the answers, per token (by
// hash): a pod's reports cost one review per token the kubelet gives it, not one per report.
// Both caches are bounded and expire; reviews of tokens not in them are rate limited per
// namespace. Times are read from a real clock (the tokens' expiry is the API server's real time).
type PodTokens struct {
	reviewer TokenReviewer
	clock    clock.PassiveClock
	// flight makes the reports that bring one new token at once wait for one review.
	flight singleflight.Group

	mu       sync.Mutex
	valid    map[tokenKey]validToken
	invalid  map[tokenKey]time.Time
	limiters map[string]*limiter
	// reviews counts the reviews asked for (Reviews).
	reviews int64
}

// NewPodTokens returns a verifier that asks r and reads clk (a real clock in the manager).
func NewPodTokens(r TokenReviewer, clk clock.PassiveClock) *PodTokens {
	return &PodTokens{reviewer: r, clock: clk, valid: map[tokenKey]validToken{}, invalid: map[tokenKey]time.Time{},
		limiters: map[string]*limiter{}}
}

// Reviews returns how many token reviews the verifier asked for.
func (p *PodTokens) Reviews() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reviews
}

// Verify returns the identity the API server vouches for token, whose claims c were read by
// ParsePodToken: from the cache, else from a review. ErrBadToken: the token is expired, forged,
// bound to a pod that is gone, or not for this namespace. ErrThrottled: the namespace asked for
// too many reviews. Other errors: the API server could not answer.
func (p *PodTokens) Verify(ctx context.Context, token string, c PodClaims) (PodIdentity, error) {
	now := p.clock.Now()
	if !now.Before(time.Unix(c.Expiry, 0)) {
		return PodIdentity{}, ErrBadToken
	}
	k := keyOf(token)
	if id, known, err := p.lookup(k, now); known {
		return id, err
	}
	v, err, _ := p.flight.Do(string(k[:]), func() (any, error) {
		if id, known, err := p.lookup(k, now); known { // reviewed while this call waited
			return id, err
		}
		if !p.allow(c.Namespace, now) {
			return PodIdentity{}, ErrThrottled
		}
		id, err := p.reviewer.Review(ctx, token)
		if err != nil && !errors.Is(err, ErrBadToken) {
			return PodIdentity{}, err
		}
		if err == nil && (id.Namespace != c.Namespace || id.PodName != c.PodName || id.PodUID != c.PodUID) {
			err = ErrBadToken // signed, but not what it says of itself
		}
		p.remember(k, id, err, c, p.clock.Now())
		return id, err
	})
	if err != nil {
		return PodIdentity{}, err
	}
	return v.(PodIdentity), nil
}

// lookup answers from the caches; known is false when the token must be reviewed.
func (p *PodTokens) lookup(k tokenKey, now time.Time) (PodIdentity, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.valid[k]; ok {
		if now.Before(v.expires) {
			return v.id, true, nil
		}
		delete(p.valid, k)
	}
	if until, ok := p.invalid[k]; ok {
		if now.Before(until) {
			return PodIdentity{}, true, ErrBadToken
		}
		delete(p.invalid, k)
	}
	return PodIdentity{}, false, nil
}

// allow takes one review from the namespace's budget.
func (p *PodTokens) allow(ns string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.limiters[ns]
	if l == nil {
		if len(p.limiters) >= maxLimiters {
			for n, old := range p.limiters {
				if now.Sub(old.lastUsed) >= limiterIdle {
					delete(p.limiters, n)
				}
			}
		}
		l = &limiter{rl: flowcontrol.NewTokenBucketPassiveRateLimiterWithClock(TokenReviewsPerSecond, TokenReviewBurst, p.clock)}
		p.limiters[ns] = l
	}
	l.lastUsed = now
	if !l.rl.TryAccept() {
		return false
	}
	p.reviews++
	return true
}

// remember keeps a review's answer: a valid token until it expires (at most MaxValidTokenTTL), a
// refused one (ErrBadToken) for InvalidTokenTTL.
func (p *PodTokens) remember(k tokenKey, id PodIdentity, err error, c PodClaims, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err == nil:
		expires := time.Unix(c.Expiry, 0)
		if limit := now.Add(MaxValidTokenTTL); expires.After(limit) {
			expires = limit
		}
		if len(p.valid) >= MaxValidTokens {
			evict(p.valid, MaxValidTokens, now, func(v validToken) time.Time { return v.expires })
		}
		p.valid[k] = validToken{id: id, expires: expires}
	case errors.Is(err, ErrBadToken):
		if len(p.invalid) >= MaxInvalidTokens {
			evict(p.invalid, MaxInvalidTokens, now, func(t time.Time) time.Time { return t })
		}
		p.invalid[k] = now.Add(InvalidTokenTTL)
	}
}

// evict makes room in a cache of at most limit entries: it drops the expired entries and, when that
// leaves it full, the one that expires first (a dropped valid token costs one more review).
func evict[V any](m map[tokenKey]V, limit int, now time.Time, expiry func(V) time.Time) {
	var first tokenKey
	var firstAt time.Time
	for k, v := range m {
		at := expiry(v)
		if !now.Before(at) {
			delete(m, k)
			continue
		}
		if firstAt.IsZero() || at.Before(firstAt) {
			first, firstAt = k, at
		}
	}
	if len(m) >= limit && !firstAt.IsZero() {
		delete(m, first)
	}
}

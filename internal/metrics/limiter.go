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

package metrics

import "sync"

// Default caps of the label values (the manager's --metrics-max-queues and --metrics-max-types).
const (
	DefaultMaxQueues = 1000
	DefaultMaxTypes  = 100
)

// Limiter caps the distinct queues (namespace and queue) and job types label values name, so
// that tenants creating queues or types cannot grow the manager's series without bound: the
// first queues and types seen keep their own series (for the process's life), every later one is
// counted under "other". It is safe for concurrent use.
type Limiter struct {
	mu        sync.Mutex
	maxQueues int
	maxTypes  int
	queues    map[queueKey]struct{}
	types     map[string]struct{}
}

type queueKey struct{ namespace, name string }

// NewLimiter returns a Limiter with these caps (a cap <= 0 takes the default).
func NewLimiter(maxQueues, maxTypes int) *Limiter {
	if maxQueues <= 0 {
		maxQueues = DefaultMaxQueues
	}
	if maxTypes <= 0 {
		maxTypes = DefaultMaxTypes
	}
	return &Limiter{maxQueues: maxQueues, maxTypes: maxTypes, queues: map[queueKey]struct{}{}, types: map[string]struct{}{}}
}

// Queue returns the namespace and queue label values of a queue: its own, or "other" twice past
// the cap.
func (l *Limiter) Queue(namespace, name string) (string, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := queueKey{namespace, name}
	if _, ok := l.queues[k]; ok {
		return namespace, name
	}
	if len(l.queues) >= l.maxQueues {
		return Other, Other
	}
	l.queues[k] = struct{}{}
	return namespace, name
}

// Type returns the type label value of a job type: its own, or "other" past the cap. The empty
// type (a job without spec.type) is always its own.
func (l *Limiter) Type(t string) string {
	if t == "" {
		return t
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.types[t]; ok {
		return t
	}
	if len(l.types) >= l.maxTypes {
		return Other
	}
	l.types[t] = struct{}{}
	return t
}

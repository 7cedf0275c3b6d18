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

package kickq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// ErrCannotWatch is returned by Wait when the Client was made by NewClientFrom with a client that
// cannot watch (a manager's cached client, or one from client.New): give NewClientFrom a
// client.WithWatch (client.NewWithWatch) or use NewClient.
var ErrCannotWatch = errors.New("kickq: Wait needs a client that can watch: pass a client.WithWatch (client.NewWithWatch) to NewClientFrom, or use NewClient")

// Client enqueues jobs and waits for their outcome. It is safe for concurrent use.
type Client struct {
	client client.Client
	// pause waits before the n-th retry (from 1) of a watch that failed with a transient error;
	// tests replace it so that no test waits for real time.
	pause func(ctx context.Context, n int) error
}

// NewClient returns a Client that talks to the API server of cfg, with a client that can watch
// (client.NewWithWatch) and the scheme of NewScheme.
func NewClient(cfg *rest.Config) (*Client, error) {
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: NewScheme()})
	if err != nil {
		return nil, fmt.Errorf("kickq: creating a client: %w", err)
	}
	return NewClientFrom(c), nil
}

// NewClientFrom returns a Client that uses c, whose scheme must know kickq's types
// (kickqv1alpha1.AddToScheme, or NewScheme). Wait needs c to be a client.WithWatch too (see
// ErrCannotWatch); Enqueue works with any client.
func NewClientFrom(c client.Client) *Client {
	return &Client{client: c, pause: backoffPause}
}

// Kubernetes returns the controller-runtime client the Client uses, for what this package does not
// wrap (listing jobs, setting spec.cancel).
func (c *Client) Kubernetes() client.Client { return c.client }

// checkScheme says clearly when the client's scheme lacks kickq's types, which would otherwise
// fail as "no kind is registered".
func (c *Client) checkScheme() error {
	s := c.client.Scheme()
	if s == nil || s.Recognizes(kickqv1alpha1.GroupVersion.WithKind("QueueJob")) {
		return nil
	}
	return errors.New("kickq: the client's scheme does not know kickq.dev/v1alpha1: add kickqv1alpha1.AddToScheme to it, or build the client with kickq.NewScheme()")
}

// backoffPause waits 200 ms, doubling up to 10 s, or until ctx ends.
func backoffPause(ctx context.Context, n int) error {
	d := 200 * time.Millisecond
	for i := 1; i < n && d < 10*time.Second; i++ {
		d *= 2
	}
	t := time.NewTimer(min(d, 10*time.Second))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

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

package util

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// WriteCounter counts a manager's API writes per QueueJob (namespace/name). A pod's create counts
// for the job named by its kickq.dev/job label; Events are not counted (the recorder writes them
// through its own client in production).
type WriteCounter struct {
	mu    sync.Mutex
	byJob map[string]int
}

// NewWriteCounter returns an empty counter.
func NewWriteCounter() *WriteCounter { return &WriteCounter{byJob: map[string]int{}} }

func (w *WriteCounter) add(o client.Object) {
	if _, ok := o.(*eventsv1.Event); ok {
		return
	}
	name := o.GetName()
	if p, ok := o.(*corev1.Pod); ok && p.Labels[kickqv1alpha1.LabelJob] != "" {
		name = p.Labels[kickqv1alpha1.LabelJob]
	}
	w.mu.Lock()
	w.byJob[o.GetNamespace()+"/"+name]++
	w.mu.Unlock()
}

// Of returns the writes counted for a job (or a queue: writes are keyed by object name).
func (w *WriteCounter) Of(ns, name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.byJob[ns+"/"+name]
}

// CountingClient is a manager's client — reads from reader (its cache), writes to the API server —
// with every create, update, patch and status update counted in w.
func CountingClient(cfg *rest.Config, scheme *runtime.Scheme, reader client.Reader, w *WriteCounter) (client.Client, error) {
	base, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme, Cache: &client.CacheOptions{Reader: reader}})
	if err != nil {
		return nil, err
	}
	return w.Wrap(base), nil
}

// Wrap returns base with every create, update, patch and status update counted in w.
func (w *WriteCounter) Wrap(base client.WithWatch) client.WithWatch {
	return interceptor.NewClient(base, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
			w.add(o)
			return c.Create(ctx, o, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.UpdateOption) error {
			w.add(o)
			return c.Update(ctx, o, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, o client.Object, p client.Patch, opts ...client.PatchOption) error {
			w.add(o)
			return c.Patch(ctx, o, p, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
			w.add(o)
			return c.SubResource(sub).Update(ctx, o, opts...)
		},
	})
}

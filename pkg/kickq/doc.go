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

// Package kickq is the Go API for applications that use kickq: enqueue a job and wait for its
// result, from any program that reaches the Kubernetes API server.
//
//	c, err := kickq.NewClient(cfg) // or kickq.NewClientFrom(aControllerRuntimeClient)
//	job, err := c.Enqueue(ctx, kickq.Job{
//		Namespace: "shop", Name: "welcome-42",
//		Queue: "default", Type: "email", Data: payload,
//		Priority: 10, Delay: 30 * time.Second,
//		Batch: "import-1", Labels: map[string]string{"user-id": "42"},
//	})
//	res, err := c.Wait(ctx, "shop", job.Name) // until Succeeded or Failed
//	err = res.Into(&out)
//
// A job is a QueueJob object (kickq.dev/v1alpha1): Enqueue creates one and Wait watches it; the
// kickq operator decides when it runs and records the outcome in its status. Nothing here runs
// jobs or talks to the operator directly.
//
// # Enqueue
//
// Enqueue creates the QueueJob that a Job describes and returns it. Without a Name the API server
// generates one (generateName: the Type, or "job", and a dash). With a Name, Enqueue is
// idempotent: when a job of that name already exists, Enqueue returns the existing job instead of
// an AlreadyExists error, so a request that is retried after a lost answer enqueues once. When the
// existing job was made from a different request — its queue, type, data, delay, not-before time
// or batch differ (the fields fixed at creation; priority and labels may change later and are not
// compared) — Enqueue returns the existing job unchanged together with a *SpecMismatchError that
// names the differing fields; it never changes or replaces the existing job. A job of that name
// that already finished (and is still kept) is returned as it is: it does not run again.
//
// Data is any value that encoding/json marshals to a JSON object (a struct, a map, a
// json.RawMessage holding an object); arrays, strings, numbers and booleans are refused before
// anything is sent. Delay (a duration from the job's creation, spec.delaySeconds) and NotBefore (a
// time, spec.notBeforeTime) are exclusive, and both are rounded up to whole seconds: a job never
// starts early.
//
// # Wait
//
// Wait returns once the job is Succeeded or Failed. It reads the job once and then watches it
// (a watch from the resourceVersion it read, never polling), so it returns at once for a job that
// finished before the call, and it sees every change after its read, including the final state of
// a job that retention deletes right after it finished: the watch delivers that state (and the
// DELETED event carries it too), so such a Wait returns the outcome, not NotFound. A watch the
// server ends is reopened from the newest resourceVersion seen; when one expires (410 Gone, as for
// a job unchanged for longer than the API server keeps watch history), Wait lists the job by name
// and watches from the list's resourceVersion. It needs get, list and watch on queuejobs.
//
// For a Failed job Wait returns both the Result and a *FailedError (errors.As) with the reason,
// message and last attempt. When the job is gone — it did not exist when Wait first read it, or
// it was deleted before it finished, or it was deleted while no watch was open and Wait could not
// see how it ended — Wait returns an error for which apierrors.IsNotFound is true: Wait reports
// only an outcome it has seen. (To wait for a job whose queue deletes finished jobs at once, call
// Wait before the job can finish, as the enqueuing program does.) When ctx ends first, Wait
// returns ctx.Err(). A cron template (spec.cron) never finishes: Wait refuses it.
//
// Wait needs a client that can watch: NewClient's, or a client.WithWatch given to NewClientFrom
// (client.NewWithWatch, a fake client, kickqtest's). A manager's cached client cannot watch; Wait
// then returns ErrCannotWatch, while Enqueue works with any client.
package kickq

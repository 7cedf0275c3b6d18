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

package v1alpha1

// Pull workers (worker targets): the label of their Leases and the reasons their attempts end with.
const (
	// LabelWorker marks the coordination.k8s.io Lease of a pull-worker process (value "true"):
	// the manager watches only Leases with this label.
	LabelWorker = "kickq.dev/worker"

	// AttemptReasonWorkerLost: the Lease of the worker that claimed the attempt expired or was
	// deleted while the attempt ran (a counted failure, like PodLost).
	AttemptReasonWorkerLost = "WorkerLost"
	// AttemptReasonWorkerReleased: a worker stopping gracefully gave the attempt back after its
	// grace period (an uncounted retry).
	AttemptReasonWorkerReleased = "WorkerReleased"
	// AttemptReasonHandlerError: the worker's handler returned an error (a counted failure, or
	// Die when it returned kickq.Die).
	AttemptReasonHandlerError = "HandlerError"
	// AttemptReasonHandlerPanic: the worker's handler panicked (a counted failure).
	AttemptReasonHandlerPanic = "HandlerPanic"
)

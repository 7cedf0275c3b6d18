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
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// TestOutcomeSurvivesAnAPIServerOutage: a handler's outcome written while the API server is
// unreachable (a restart: connection refused) is written once it is back, as long as the attempt
// is still the worker's; a dropped outcome left the job Running under a live Lease for ever
// (reliability suite, scenario 4). When the claim is lost meanwhile, the worker gives up.
func TestOutcomeSurvivesAnAPIServerOutage(t *testing.T) {
	cases := []struct {
		name string
		// refused is how many status writes the unreachable API server refuses.
		refused int32
		// edited is how many status writes (after the claim) lose to a user's edit of the job's
		// labels: the edit lands first, so the write's resourceVersion is stale (a Conflict).
		edited int32
		// loseClaim ends the task's context after the first refusal (the claim was lost).
		loseClaim   bool
		wantOutcome kickqv1alpha1.Outcome
		wantErr     bool
	}{
		{name: "reachable", wantOutcome: OutcomeSucceed},
		{name: "back after five refused writes", refused: 5, wantOutcome: OutcomeSucceed},
		{name: "claim lost during the outage", refused: 1000, loseClaim: true, wantErr: true},
		// More conflicts than one write's retries (retry.DefaultBackoff: 4 tries): the outcome was
		// dropped, the job stayed Running for ever (reliability suite, scenario 6).
		{name: "users edit the labels through ten writes", edited: 10, wantOutcome: OutcomeSucceed},
		{name: "claim lost during the edits", edited: 1000, loseClaim: true, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			var calls atomic.Int32
			c := fake.NewClientBuilder().WithScheme(NewScheme()).WithStatusSubresource(&kickqv1alpha1.QueueJob{}).
				WithObjects(admittedJob("j", 1)).
				WithInterceptorFuncs(interceptor.Funcs{SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
					n := calls.Add(1)
					if n > 1 && n <= tc.refused+1 { // the claim itself (call 1) goes through
						return errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
					}
					if n > 1 && n <= tc.edited+1 {
						userEdit(ctx, t, c, client.ObjectKeyFromObject(obj), strconv.Itoa(int(n)))
					}
					return c.SubResource(sub).Update(ctx, obj, opts...)
				}}).Build()
			job := &kickqv1alpha1.QueueJob{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "j"}, job); err != nil {
				t.Fatal(err)
			}
			claimed, err := claim(ctx, c, job, "w-a", t0)
			if err != nil || claimed == nil {
				t.Fatalf("claim: %v, %v", claimed, err)
			}
			clk := clocktesting.NewFakeClock(t0)
			w := &Worker{opts: WorkerOptions{Clock: clk}, name: "w-a", c: c, log: logr.Discard()}
			tctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			r := &runningTask{key: client.ObjectKeyFromObject(job), task: &Task{Attempt: 1}, ctx: tctx, cancel: cancel, last: claimed}
			done := make(chan error, 1)
			go func() {
				done <- w.writeOutcome(r, func(st *kickqv1alpha1.QueueJobStatus) { succeedWith("ok").apply(st, 1, t0) })
			}()
			var werr error
			for waiting := true; waiting; {
				select {
				case werr = <-done:
					waiting = false
				default:
					if clk.HasWaiters() {
						if tc.loseClaim {
							cancel(errClaimLost)
						}
						clk.Step(claimOutcomeRetryMax)
					}
					time.Sleep(time.Millisecond) // polls the fake clock's waiters
				}
			}
			if (werr != nil) != tc.wantErr {
				t.Fatalf("writeOutcome = %v, want error %v", werr, tc.wantErr)
			}
			if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "j"}, job); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantOutcome, currentRecord(&job.Status).Outcome); diff != "" {
				t.Errorf("stored outcome (-want +got):\n%s", diff)
			}
			if tc.edited > 0 && !tc.loseClaim {
				if diff := cmp.Diff(strconv.Itoa(int(tc.edited+1)), job.Labels["edit"]); diff != "" {
					t.Errorf("the user's last label edit (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// userEdit sets the job's label "edit" to value with an Update, as a user's kubectl label does.
func userEdit(ctx context.Context, t *testing.T, c client.Client, key client.ObjectKey, value string) {
	t.Helper()
	job := &kickqv1alpha1.QueueJob{}
	if err := c.Get(ctx, key, job); err != nil {
		t.Fatal(err)
	}
	job.Labels = map[string]string{"edit": value}
	if err := c.Update(ctx, job); err != nil {
		t.Fatal(err)
	}
}

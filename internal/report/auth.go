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
	"fmt"
	"net/http"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
)

// How an attempt proves itself: a webhook attempt with the HMAC token of its signed payload
// (Signer), a pod attempt with the ServiceAccount token projected into its pod (PodTokens). Each
// kind accepts only its own token, so a pod attempt's HMAC token, which nobody is given, is
// refused too. An attempt recorded before attempts had a targetKind accepts either.

// authorize finds the job and checks that the token is the one of its running attempt. It
// returns an HTTP status and message when it is not.
func (s *Server) authorize(ctx context.Context, key types.NamespacedName, token string) (*kickqv1alpha1.QueueJob, int, string) {
	job := &kickqv1alpha1.QueueJob{}
	if err := s.Reader.Get(ctx, key, job); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, http.StatusNotFound, fmt.Sprintf("queuejob %s not found", key)
		}
		logf.FromContext(ctx).Error(err, "reading a job for a report", "queuejob", key)
		return nil, http.StatusServiceUnavailable, "cannot read the job now; try again"
	}
	invalid := "the token is not valid for queuejob " + key.String()
	var claims *PodClaims
	var n int32
	if strings.HasPrefix(token, tokenPrefix+".") {
		var err error
		if n, err = s.Signer.Verify(token, job.UID); err != nil {
			return nil, http.StatusUnauthorized, invalid
		}
	} else {
		c, err := ParsePodToken(token)
		if err != nil {
			return nil, http.StatusUnauthorized, "the token is neither a kickq pod token nor a webhook token: send the contents of $KICKQ_TOKEN_FILE (pods) or the payload's token (webhooks)"
		}
		var ok bool
		if n, ok = podAttempt(job, c.PodName); !ok || c.Namespace != job.Namespace {
			return nil, http.StatusUnauthorized, invalid
		}
		claims = &c
	}
	if n > job.Status.Attempts && s.Live != nil && (claims == nil || s.podCached(ctx, job, n, claims.PodUID)) {
		// The attempt is newer than the cache's copy of the job: ask the API server. (A pod
		// token's claims are not checked yet: only an attempt whose pod the cache holds is
		// worth a read.)
		if err := s.Live.Get(ctx, key, job); err != nil {
			return nil, http.StatusServiceUnavailable, "cannot read the job now; try again"
		}
	}
	if code, msg := running(job, n); code != 0 {
		return nil, code, msg
	}
	kind := targetKind(job, n)
	switch {
	case claims == nil && kind == string(attempt.KindPod):
		return nil, http.StatusUnauthorized, fmt.Sprintf("attempt %d runs as a pod: it reports with the token in $KICKQ_TOKEN_FILE", n)
	case claims != nil && kind != "" && kind != string(attempt.KindPod):
		return nil, http.StatusUnauthorized, fmt.Sprintf("attempt %d does not run as a pod: %s", n, invalid)
	case claims != nil:
		if code, msg := s.verifyPod(ctx, job, n, token, *claims); code != 0 {
			return nil, code, msg
		}
	}
	return job, 0, ""
}

// running checks that attempt n is the job's running attempt.
func running(job *kickqv1alpha1.QueueJob, n int32) (int, string) {
	switch {
	case n == job.Status.Attempts+1 && unrecorded(job):
		// Started before status records it (a pod, an unlimited webhook call): its token and,
		// for a pod, the pod itself prove it runs; the reconciler writes its start with this.
		return 0, ""
	case n != job.Status.Attempts:
		return http.StatusConflict, fmt.Sprintf("the token is for attempt %d; the job is at attempt %d", n, job.Status.Attempts)
	case meta.IsStatusConditionTrue(job.Status.Conditions, kickqv1alpha1.JobComplete),
		meta.IsStatusConditionTrue(job.Status.Conditions, kickqv1alpha1.JobFailed):
		return http.StatusConflict, fmt.Sprintf("the job has finished (%s)", job.Status.Phase)
	case job.Status.Phase != kickqv1alpha1.PhaseRunning || attemptEnded(job, n):
		return http.StatusConflict, fmt.Sprintf("attempt %d has ended", n)
	}
	return 0, ""
}

// unrecorded reports whether the job may have an attempt running that status does not record
// yet: it is neither running nor finished. A token of attempt status.attempts+1 proves it then.
func unrecorded(job *kickqv1alpha1.QueueJob) bool {
	return job.Status.Phase != kickqv1alpha1.PhaseRunning &&
		!meta.IsStatusConditionTrue(job.Status.Conditions, kickqv1alpha1.JobComplete) &&
		!meta.IsStatusConditionTrue(job.Status.Conditions, kickqv1alpha1.JobFailed)
}

// reportedAttempt is the attempt an authorized report is of.
func reportedAttempt(job *kickqv1alpha1.QueueJob) int32 {
	if unrecorded(job) {
		return job.Status.Attempts + 1
	}
	return job.Status.Attempts
}

// podAttempt is the attempt whose pod is named pod (attempt.PodName), false when it is no pod of
// this job's.
func podAttempt(job *kickqv1alpha1.QueueJob, pod string) (int32, bool) {
	suffix, ok := strings.CutPrefix(pod, job.Name+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(suffix, 10, 32)
	if err != nil || n < 1 || attempt.PodName(job, int32(n)) != pod {
		return 0, false
	}
	return int32(n), true
}

// verifyPod checks a pod token of attempt n: the API server vouches for it (a TokenReview, or the
// cache of earlier ones), and the pod it is bound to is the attempt's pod as the manager sees it
// now, so the token of a deleted or replaced pod is refused at once, cached or not.
func (s *Server) verifyPod(ctx context.Context, job *kickqv1alpha1.QueueJob, n int32, token string, c PodClaims) (int, string) {
	if s.PodTokens == nil {
		return http.StatusUnauthorized, "this report API accepts no pod tokens"
	}
	name := attempt.PodName(job, n)
	notOurs := fmt.Sprintf("the token is bound to a pod that is not attempt %d's pod %s (deleted or replaced)", n, name)
	key := types.NamespacedName{Namespace: job.Namespace, Name: name}
	pod := &corev1.Pod{}
	err := s.Reader.Get(ctx, key, pod)
	cached := err == nil
	if cached && pod.UID != c.PodUID {
		return http.StatusUnauthorized, notOurs // no review needed
	}
	id, err := s.PodTokens.Verify(ctx, token, c)
	switch {
	case errors.Is(err, ErrThrottled):
		return http.StatusTooManyRequests, err.Error()
	case errors.Is(err, ErrBadToken):
		return http.StatusUnauthorized, "the token is not valid (expired, forged, of another audience, or its pod is gone): read $KICKQ_TOKEN_FILE again for each report"
	case err != nil:
		logf.FromContext(ctx).Error(err, "reviewing a pod token", "pod", key)
		return http.StatusServiceUnavailable, "cannot check the token now; try again"
	}
	if !cached && s.Live != nil {
		// The cache has not seen the pod yet (or has dropped it): ask the API server.
		if err := s.Live.Get(ctx, key, pod); err != nil && !apierrors.IsNotFound(err) {
			return http.StatusServiceUnavailable, "cannot read the attempt's pod now; try again"
		}
	}
	if pod.UID == "" || pod.UID != id.PodUID || !metav1.IsControlledBy(pod, job) {
		return http.StatusUnauthorized, notOurs
	}
	return 0, ""
}

// targetKind is what attempt n runs on, as its record says ("" for an attempt recorded before
// records had it).
func targetKind(job *kickqv1alpha1.QueueJob, n int32) string {
	for _, a := range job.Status.AttemptHistory {
		if a.Number == n {
			return a.TargetKind
		}
	}
	return ""
}

func attemptEnded(job *kickqv1alpha1.QueueJob, n int32) bool {
	for _, a := range job.Status.AttemptHistory {
		if a.Number == n {
			return a.FinishTime != nil
		}
	}
	return false
}

// podCached reports whether the manager's cache holds attempt n's pod with this UID.
func (s *Server) podCached(ctx context.Context, job *kickqv1alpha1.QueueJob, n int32, uid types.UID) bool {
	pod := &corev1.Pod{}
	err := s.Reader.Get(ctx, types.NamespacedName{Namespace: job.Namespace, Name: attempt.PodName(job, n)}, pod)
	return err == nil && pod.UID == uid
}

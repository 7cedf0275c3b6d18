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
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
)

// authFixture: job ns/j at attempt 2 (a pod attempt, pod j-2 with UID pod-2), job ns/k at attempt 1
// (pod k-1), and job ns/w at attempt 1 (a webhook attempt).
type authFixture struct {
	srv      *Server
	reviewer *fakeReviewer
	signer   *Signer
	c        client.Client
	exp      time.Time
}

func running2(name string, uid types.UID, n int32, kind string) *kickqv1alpha1.QueueJob {
	start := metav1.NewTime(tokenNow)
	hist := []kickqv1alpha1.AttemptRecord{}
	for i := int32(1); i <= n; i++ {
		r := kickqv1alpha1.AttemptRecord{Number: i, StartTime: &start, TargetKind: kind}
		if i < n {
			r.FinishTime = &start
		}
		hist = append(hist, r)
	}
	return &kickqv1alpha1.QueueJob{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: uid},
		Status: kickqv1alpha1.QueueJobStatus{Phase: kickqv1alpha1.PhaseRunning, Attempts: n, AttemptHistory: hist}}
}

func ownedPod(job *kickqv1alpha1.QueueJob, name string, uid types.UID) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: job.Namespace, Name: name, UID: uid,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: kickqv1alpha1.GroupVersion.String(), Kind: "QueueJob",
			Name: job.Name, UID: job.UID, Controller: ptr.To(true)}}}}
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(kickqv1alpha1.AddToScheme(s))
	j := running2("j", "uid-j", 2, "Pod")
	k := running2("k", "uid-k", 1, "Pod")
	w := running2("w", "uid-w", 1, "Webhook")
	legacy := running2("old", "uid-old", 1, "")
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(j, k, w, legacy,
		ownedPod(j, "j-1", "pod-1"), ownedPod(j, "j-2", "pod-2"), ownedPod(k, "k-1", "pod-k"), ownedPod(legacy, "old-1", "pod-old")).Build()
	signer, err := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	r := newFakeReviewer()
	return &authFixture{reviewer: r, signer: signer, c: c, exp: tokenNow.Add(10 * time.Minute),
		srv: &Server{Reader: c, Signer: signer, PodTokens: NewPodTokens(r, clocktesting.NewFakePassiveClock(tokenNow))}}
}

func TestAuthorizeTokens(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		job   string
		token func(f *authFixture) string
		setup func(f *authFixture)
		code  int
		// reviewed: the answer needed a TokenReview.
		reviewed bool
	}{
		"the running attempt's pod token": {job: "j", code: 0, reviewed: true,
			token: func(f *authFixture) string { tok, _ := f.reviewer.mint("ns", "j-2", "pod-2", f.exp); return tok }},
		"an earlier attempt's pod token": {job: "j", code: http.StatusConflict,
			token: func(f *authFixture) string { tok, _ := f.reviewer.mint("ns", "j-1", "pod-1", f.exp); return tok }},
		"a later attempt's pod token": {job: "j", code: http.StatusConflict,
			token: func(f *authFixture) string { tok, _ := f.reviewer.mint("ns", "j-3", "pod-3", f.exp); return tok }},
		"another job's pod token": {job: "j", code: http.StatusUnauthorized,
			token: func(f *authFixture) string { tok, _ := f.reviewer.mint("ns", "k-1", "pod-k", f.exp); return tok }},
		"a token of another namespace's pod of that name": {job: "j", code: http.StatusUnauthorized,
			token: func(f *authFixture) string { tok, _ := f.reviewer.mint("other", "j-2", "pod-x", f.exp); return tok }},
		"a token of a replaced pod": {job: "j", code: http.StatusUnauthorized,
			token: func(f *authFixture) string { tok, _ := f.reviewer.mint("ns", "j-2", "pod-2-before", f.exp); return tok }},
		"a token of a deleted pod, reviewed while it ran": {job: "j", code: http.StatusUnauthorized,
			token: func(f *authFixture) string { tok, _ := f.reviewer.mint("ns", "j-2", "pod-2", f.exp); return tok },
			setup: func(f *authFixture) {
				tok, c := f.reviewer.mint("ns", "j-2", "pod-2", f.exp)
				if _, err := f.srv.PodTokens.Verify(ctx, tok, c); err != nil {
					t.Fatal(err)
				}
				if err := f.c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "j-2"}}); err != nil {
					t.Fatal(err)
				}
			}},
		"a forged pod token": {job: "j", code: http.StatusUnauthorized, reviewed: true,
			token: func(f *authFixture) string { return podJWT([]string{TokenAudience}, f.exp, "ns", "j-2", "pod-2") }},
		"a pod token of another audience": {job: "j", code: http.StatusUnauthorized,
			token: func(f *authFixture) string { return podJWT([]string{"vault"}, f.exp, "ns", "j-2", "pod-2") }},
		"an expired pod token": {job: "j", code: http.StatusUnauthorized,
			token: func(f *authFixture) string { tok, _ := f.reviewer.mint("ns", "j-2", "pod-2", tokenNow); return tok }},
		"the HMAC token of a pod attempt": {job: "j", code: http.StatusUnauthorized,
			token: func(f *authFixture) string { return f.signer.Token("uid-j", 2) }},
		"a webhook attempt's HMAC token": {job: "w", code: 0,
			token: func(f *authFixture) string { return f.signer.Token("uid-w", 1) }},
		"a pod token for a webhook attempt": {job: "w", code: http.StatusUnauthorized,
			token: func(f *authFixture) string { tok, _ := f.reviewer.mint("ns", "w-1", "pod-w", f.exp); return tok }},
		"an attempt recorded without targetKind takes the HMAC token": {job: "old", code: 0,
			token: func(f *authFixture) string { return f.signer.Token("uid-old", 1) }},
		"an attempt recorded without targetKind takes its pod token": {job: "old", code: 0, reviewed: true,
			token: func(f *authFixture) string { tok, _ := f.reviewer.mint("ns", "old-1", "pod-old", f.exp); return tok }},
		"an API server that cannot review": {job: "j", code: http.StatusServiceUnavailable, reviewed: true,
			token: func(f *authFixture) string { tok, _ := f.reviewer.mint("ns", "j-2", "pod-2", f.exp); return tok },
			setup: func(f *authFixture) { f.reviewer.err = errors.New("etcd is slow") }},
		"a namespace past its review budget": {job: "j", code: http.StatusTooManyRequests,
			token: func(f *authFixture) string { tok, _ := f.reviewer.mint("ns", "j-2", "pod-2", f.exp); return tok },
			setup: func(f *authFixture) {
				for range TokenReviewBurst {
					f.srv.PodTokens.allow("ns", tokenNow)
				}
			}},
		"not a token": {job: "j", code: http.StatusUnauthorized, token: func(*authFixture) string { return "hunter2" }},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newAuthFixture(t)
			tok := c.token(f)
			if c.setup != nil {
				c.setup(f)
			}
			before := f.srv.PodTokens.Reviews()
			_, code, msg := f.srv.authorize(ctx, types.NamespacedName{Namespace: "ns", Name: c.job}, tok)
			if code != c.code {
				t.Errorf("code %d (%s), want %d", code, msg, c.code)
			}
			if code != 0 && msg == "" {
				t.Error("a refusal needs a message")
			}
			if reviewed := f.srv.PodTokens.Reviews() > before; reviewed != c.reviewed {
				t.Errorf("reviewed: %v, want %v", reviewed, c.reviewed)
			}
		})
	}
}

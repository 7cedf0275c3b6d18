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

package executor

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/netguard"
)

const whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func signingSecret(name string, labels map[string]string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: labels}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

// recorder is a loopback receiver that keeps the calls it got and answers with answer.
type recorder struct {
	*httptest.Server
	mu     sync.Mutex
	header []http.Header
	bodies [][]byte
}

func newRecorder(t *testing.T, answer http.HandlerFunc) *recorder {
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.header, r.bodies = append(r.header, req.Header.Clone()), append(r.bodies, b)
		r.mu.Unlock()
		answer(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// Only Secrets labelled kickq.dev/webhook-signing: "true" sign; a missing Secret, an unlabelled
// one and a missing key read alike; a value that is not Standard Webhooks keys is refused; what
// is signed verifies with the official library.
func TestSigningSecrets(t *testing.T) {
	signingLabel := map[string]string{kickqv1alpha1.LabelWebhookSigning: "true"}
	objs := []runtime.Object{
		signingSecret("labelled", signingLabel, map[string]string{"secret": whsec, "raw": "plain-secret", "lines": whsec + "\n" + whsec}),
		signingSecret("unlabelled", nil, map[string]string{"secret": whsec}),
		signingSecret("label-false", map[string]string{kickqv1alpha1.LabelWebhookSigning: "false"}, map[string]string{"secret": whsec}),
	}
	noKey := func(name, key string) string {
		return `secretRef: namespace shop has no Secret "` + name + `" labelled kickq.dev/webhook-signing: "true" with a key "` + key +
			`" (kickq signs only with Secrets labelled for signing)`
	}
	for _, tc := range []struct {
		name, secret, key string
		reason            string // "" = signed and sent
		message           string // the exact message, or a substring for SecretInvalid
	}{
		{name: "labelled whsec_ key signs", secret: "labelled", key: "secret"},
		{name: "missing Secret", secret: "absent", key: "secret", reason: "SecretUnavailable", message: noKey("absent", "secret")},
		{name: "unlabelled Secret reads as missing", secret: "unlabelled", key: "secret", reason: "SecretUnavailable", message: noKey("unlabelled", "secret")},
		{name: "label not \"true\" reads as missing", secret: "label-false", key: "secret", reason: "SecretUnavailable", message: noKey("label-false", "secret")},
		{name: "missing key of a labelled Secret reads as missing", secret: "labelled", key: "nope", reason: "SecretUnavailable", message: noKey("labelled", "nope")},
		{name: "a raw key is refused", secret: "labelled", key: "raw", reason: "SecretInvalid",
			message: `secretRef labelled key raw: key 1 of the value does not start with "whsec_"`},
		{name: "a multi-line value is refused", secret: "labelled", key: "lines", reason: "SecretInvalid",
			message: "key 1 of the value holds a tab or a line break"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
			h := newHarness(t, netguard.New(loopback, nil), objs...)
			obs := h.call(testJob("s"), kickqv1alpha1.WebhookTarget{URL: rec.URL, SecretRef: &kickqv1alpha1.SecretKeyRef{Name: tc.secret, Key: tc.key}})
			if tc.reason != "" {
				if obs.Result.Outcome != kickqv1alpha1.OutcomeFail || obs.Result.Reason != tc.reason || !strings.Contains(obs.Result.Message, tc.message) {
					t.Fatalf("result %+v, want Fail %s with %q", obs.Result, tc.reason, tc.message)
				}
				if tc.reason == "SecretUnavailable" && obs.Result.Message != tc.message {
					t.Fatalf("message %q, want exactly %q", obs.Result.Message, tc.message)
				}
				if strings.Contains(obs.Result.Message, "plain-secret") || strings.Contains(obs.Result.Message, whsec) {
					t.Fatalf("the message quotes the value: %q", obs.Result.Message)
				}
				if rec.calls() != 0 {
					t.Fatal("an unsigned call was sent")
				}
				return
			}
			if obs.Result.Outcome != kickqv1alpha1.OutcomeSucceed || rec.calls() != 1 {
				t.Fatalf("result %+v, %d calls", obs.Result, rec.calls())
			}
			wh, err := standardwebhooks.NewWebhook(whsec)
			if err != nil {
				t.Fatal(err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			// The harness's fake clock stamps the timestamp: the official check of the signature,
			// without the wall clock's tolerance window.
			if err := wh.VerifyIgnoringTimestamp(rec.bodies[0], rec.header[0]); err != nil {
				t.Fatalf("the official library refused kickq's signature: %v", err)
			}
		})
	}
}

// A failed answer's body is quoted in the attempt's message only for a handler's URL (the queue
// owner's receiver), never for a URL the job's author chose (inline target, callback).
func TestAnswerBodyEchoedOnlyForOwnersReceivers(t *testing.T) {
	const body = "internal: db password is hunter2"
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/outcome" {
			_, _ = io.WriteString(w, `{"outcome":"Die","message":"no such user"}`)
			return
		}
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, body)
	})
	inline := func(name, path string) *kickqv1alpha1.QueueJob {
		j := testJob(name)
		j.Spec.Webhook = &kickqv1alpha1.WebhookTarget{URL: rec.URL + path}
		return j
	}
	for _, tc := range []struct {
		name        string
		job         *kickqv1alpha1.QueueJob
		path        string
		wantMessage string
	}{
		{name: "handler's URL: the body is quoted", job: testJob("handler"), path: "/fail",
			wantMessage: "POST " + rec.URL + "/fail answered 502: " + body},
		{name: "inline target's URL: the status only", job: inline("inline", "/fail"), path: "/fail",
			wantMessage: "POST " + rec.URL + "/fail answered 502"},
		{name: "inline target's URL: kickq's answer protocol still applies", job: inline("outcome", "/outcome"), path: "/outcome",
			wantMessage: "POST " + rec.URL + "/outcome answered 200 with outcome Die: no such user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, netguard.New(loopback, nil))
			obs := h.call(tc.job, kickqv1alpha1.WebhookTarget{URL: rec.URL + tc.path})
			if obs.Result.Message != tc.wantMessage {
				t.Fatalf("message %q, want %q", obs.Result.Message, tc.wantMessage)
			}
		})
	}
	t.Run("completion callback: the status only", func(t *testing.T) {
		h := newHarness(t, netguard.New(loopback, nil))
		job := testJob("cb")
		if err := h.w.Notify(context.Background(), job, kickqv1alpha1.WebhookTarget{URL: rec.URL + "/cb"}, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-h.woken:
		case <-time.After(10 * time.Second):
			t.Fatal("the callback did not end")
		}
		if st := h.w.NotifyStatus(job.UID); st.Message != "POST "+rec.URL+"/cb answered 502" {
			t.Fatalf("callback message %q", st.Message)
		}
	})
}

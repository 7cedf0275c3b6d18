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
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/limits"
	"kickq.dev/kickq/internal/outcome"
	"kickq.dev/kickq/internal/report"
)

var podEpoch = time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)

func podScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := kickqv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func podJob(name string) *kickqv1alpha1.QueueJob {
	return &kickqv1alpha1.QueueJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: types.UID("uid-" + name)},
		Spec: kickqv1alpha1.QueueJobSpec{QueueName: "default", Type: "email",
			Data: &apiextensionsv1.JSON{Raw: []byte(`{"to":"a@b.c"}`)}},
	}
}

// podTarget is a pod target with one container and no template metadata.
func podTarget() attempt.Target {
	return attempt.Target{Kind: attempt.KindPod, Pod: &kickqv1alpha1.PodTarget{Template: corev1.PodTemplateSpec{
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "worker:1"}}},
	}}}
}

func testEndpoint(t *testing.T) *report.Endpoint {
	t.Helper()
	signer, err := report.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return &report.Endpoint{BaseURL: "http://kickq-report.kickq-system.svc:8082/", Signer: signer}
}

func TestBuildPod(t *testing.T) {
	s := podScheme(t)
	rep := testEndpoint(t)
	job := podJob("mail")
	target := attempt.Target{Kind: attempt.KindPod, AttemptDeadlineSeconds: ptr.To[int32](600),
		Pod: &kickqv1alpha1.PodTarget{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{
				Labels:      map[string]string{"app": "mailer", kickqv1alpha1.LabelJob: "spoofed"},
				Annotations: map[string]string{"team": "billing"},
			},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyOnFailure,
				Volumes:       []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				InitContainers: []corev1.Container{{Name: "setup", Image: "setup:1",
					Env: []corev1.EnvVar{{Name: "KICKQ_ATTEMPT", Value: "stale"}, {Name: "MODE", Value: "init"}}}},
				Containers: []corev1.Container{{Name: "main", Image: "worker:1",
					Env:          []corev1.EnvVar{{Name: "LEVEL", Value: "debug"}, {Name: "KICKQ_TOKEN_FILE", Value: "/forged"}},
					VolumeMounts: []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}}}},
			},
		}}}
	pristine := target.Pod.DeepCopy()

	got, err := BuildPod(job, target, 3, s, rep)
	if err != nil {
		t.Fatal(err)
	}
	kickq := []corev1.EnvVar{
		{Name: "KICKQ_JOB", Value: "mail"},
		{Name: "KICKQ_NAMESPACE", Value: "shop"},
		{Name: "KICKQ_QUEUE", Value: "default"},
		{Name: "KICKQ_TYPE", Value: "email"},
		{Name: "KICKQ_ATTEMPT", Value: "3"},
		{Name: "KICKQ_DATA", Value: `{"to":"a@b.c"}`},
		{Name: "KICKQ_REPORT_URL", Value: "http://kickq-report.kickq-system.svc:8082/v1/namespaces/shop/queuejobs/mail/report"},
		{Name: "KICKQ_TOKEN_FILE", Value: "/var/run/secrets/kickq.dev/token"},
	}
	tokenMount := corev1.VolumeMount{Name: "kickq-token", MountPath: "/var/run/secrets/kickq.dev", ReadOnly: true}
	want := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "mail-3",
			Namespace: "shop",
			Labels: map[string]string{"app": "mailer", kickqv1alpha1.LabelJob: "mail", kickqv1alpha1.LabelQueue: "default",
				kickqv1alpha1.LabelAttempt: "3", kickqv1alpha1.LabelType: "email"},
			Annotations: map[string]string{"team": "billing"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: kickqv1alpha1.GroupVersion.String(), Kind: "QueueJob",
				Name: "mail", UID: "uid-mail", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:         corev1.RestartPolicyNever,
			ActiveDeadlineSeconds: ptr.To[int64](600),
			ServiceAccountName:    "default",
			Volumes: []corev1.Volume{
				{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "kickq-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
						Audience: "kickq.dev", ExpirationSeconds: ptr.To[int64](600), Path: "token"}}}}}},
			},
			InitContainers: []corev1.Container{{Name: "setup", Image: "setup:1",
				Env:          append([]corev1.EnvVar{{Name: "MODE", Value: "init"}}, kickq...),
				VolumeMounts: []corev1.VolumeMount{tokenMount}}},
			Containers: []corev1.Container{{Name: "main", Image: "worker:1",
				Env:          append([]corev1.EnvVar{{Name: "LEVEL", Value: "debug"}}, kickq...),
				VolumeMounts: []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}, tokenMount}}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("BuildPod (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(pristine, target.Pod); diff != "" {
		t.Errorf("BuildPod changed the target's template (-before +after):\n%s", diff)
	}
	if IndexPodOwner(got)[0] != "mail" {
		t.Errorf("IndexPodOwner = %v, want [mail]", IndexPodOwner(got))
	}
}

func TestBuildPodDefaults(t *testing.T) {
	s := podScheme(t)
	job := podJob("bare")
	job.Spec.Type, job.Spec.Data = "", nil
	got, err := BuildPod(job, podTarget(), 1, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{kickqv1alpha1.LabelJob: "bare", kickqv1alpha1.LabelQueue: "default", kickqv1alpha1.LabelAttempt: "1"}
	if diff := cmp.Diff(wantLabels, got.Labels); diff != "" {
		t.Errorf("labels without a type (-want +got):\n%s", diff)
	}
	wantEnv := []corev1.EnvVar{
		{Name: "KICKQ_JOB", Value: "bare"},
		{Name: "KICKQ_NAMESPACE", Value: "shop"},
		{Name: "KICKQ_QUEUE", Value: "default"},
		{Name: "KICKQ_TYPE", Value: ""},
		{Name: "KICKQ_ATTEMPT", Value: "1"},
		{Name: "KICKQ_DATA", Value: "{}"},
	}
	if diff := cmp.Diff(wantEnv, got.Spec.Containers[0].Env); diff != "" {
		t.Errorf("env without data or report endpoint (-want +got):\n%s", diff)
	}
	if got.Spec.ActiveDeadlineSeconds != nil || got.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("activeDeadlineSeconds %v, restartPolicy %s; want nil, Never", got.Spec.ActiveDeadlineSeconds, got.Spec.RestartPolicy)
	}

	if _, err := BuildPod(job, attempt.Target{Kind: attempt.KindPod}, 1, s, nil); err == nil {
		t.Error("BuildPod without a pod target: no error")
	}
	if _, err := BuildPod(job, podTarget(), 1, runtime.NewScheme(), nil); err == nil {
		t.Error("BuildPod with a scheme that does not know QueueJob: no error")
	}
}

// podsHarness is a Pods executor whose writes and cache are separate fake clients, so a test
// decides what the cache shows.
type podsHarness struct {
	t      *testing.T
	scheme *runtime.Scheme
	clk    *clocktesting.FakeClock
	writes client.Client
	cache  client.WithWatch
	pods   *Pods
}

func newPodsHarness(t *testing.T, funcs interceptor.Funcs, cached ...client.Object) *podsHarness {
	t.Helper()
	h := &podsHarness{t: t, scheme: podScheme(t), clk: clocktesting.NewFakeClock(podEpoch)}
	h.writes = fake.NewClientBuilder().WithScheme(h.scheme).Build()
	h.cache = fake.NewClientBuilder().WithScheme(h.scheme).WithObjects(cached...).
		WithIndex(&corev1.Pod{}, PodOwnerIndex, IndexPodOwner).WithInterceptorFuncs(funcs).Build()
	h.pods = NewPods(h.writes, h.cache, h.scheme, h.clk)
	return h
}

// cachedPod is the pod of attempt n of job, created a minute ago, in the phase given.
func cachedPod(t *testing.T, job *kickqv1alpha1.QueueJob, n int32, phase corev1.PodPhase) *corev1.Pod {
	t.Helper()
	p, err := BuildPod(job, podTarget(), n, podScheme(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	p.CreationTimestamp = metav1.NewTime(podEpoch.Add(-time.Minute))
	p.Status.Phase = phase
	return p
}

func (h *podsHarness) pod(job *kickqv1alpha1.QueueJob, n int32, phase corev1.PodPhase) *corev1.Pod {
	h.t.Helper()
	return cachedPod(h.t, job, n, phase)
}

func (h *podsHarness) observe(job *kickqv1alpha1.QueueJob, n int32) attempt.Observation {
	h.t.Helper()
	obs, err := h.pods.Observe(context.Background(), job, n)
	if err != nil {
		h.t.Fatal(err)
	}
	return obs
}

func TestPodsObserveCachedPod(t *testing.T) {
	job := podJob("mail")
	created := podEpoch.Add(-time.Minute).Truncate(time.Second)
	cases := map[string]struct {
		pod  func(t *testing.T) *corev1.Pod
		want attempt.Observation
	}{
		"pending without a reason is NotStarted": {
			pod:  func(t *testing.T) *corev1.Pod { return cachedPod(t, job, 1, corev1.PodPending) },
			want: attempt.Observation{Phase: attempt.NotStarted, Name: "mail-1", CreatedAt: created},
		},
		"pending with a waiting container says why": {
			pod: func(t *testing.T) *corev1.Pod {
				p := cachedPod(t, job, 1, corev1.PodPending)
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
					Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "Back-off pulling image \"worker:1\""}}}}
				return p
			},
			want: attempt.Observation{Phase: attempt.NotStarted, Name: "mail-1", CreatedAt: created,
				WaitingReason: "ImagePullBackOff", WaitingMessage: "container main: Back-off pulling image \"worker:1\""},
		},
		"running": {
			pod:  func(t *testing.T) *corev1.Pod { return cachedPod(t, job, 1, corev1.PodRunning) },
			want: attempt.Observation{Phase: attempt.Running, Name: "mail-1", CreatedAt: created},
		},
		"running and being deleted": {
			pod: func(t *testing.T) *corev1.Pod {
				p := cachedPod(t, job, 1, corev1.PodRunning)
				p.Finalizers = []string{"kickq.dev/test"}
				p.DeletionTimestamp = ptr.To(metav1.NewTime(podEpoch))
				return p
			},
			want: attempt.Observation{Phase: attempt.Running, Name: "mail-1", CreatedAt: created, Deleting: true},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			// Built with the pod, not Create: a pod being deleted cannot be created.
			h := newPodsHarness(t, interceptor.Funcs{}, tc.pod(t))
			got := h.observe(job, 1)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Observe (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodsObserveFinishedCarriesThePod(t *testing.T) {
	job := podJob("mail")
	for _, phase := range []corev1.PodPhase{corev1.PodSucceeded, corev1.PodFailed} {
		t.Run(string(phase), func(t *testing.T) {
			h := newPodsHarness(t, interceptor.Funcs{})
			p := h.pod(job, 2, phase)
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
				Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error", Message: "boom"}}}}
			if err := h.cache.Create(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			got := h.observe(job, 2)
			if got.Phase != attempt.Finished || got.Name != "mail-2" || got.Pod == nil {
				t.Fatalf("Observe = %+v, want Finished mail-2 with its pod", got)
			}
			if got.Pod.Name != "mail-2" || got.Pod.Status.Phase != phase ||
				!cmp.Equal(got.Pod.Status.ContainerStatuses, p.Status.ContainerStatuses) {
				t.Errorf("the observation carries pod %s in %s with %+v; want the cached pod", got.Pod.Name, got.Pod.Status.Phase, got.Pod.Status.ContainerStatuses)
			}
		})
	}
}

func TestPodsObserveMissing(t *testing.T) {
	ctx := context.Background()
	job := podJob("mail")

	t.Run("never started", func(t *testing.T) {
		h := newPodsHarness(t, interceptor.Funcs{})
		if diff := cmp.Diff(attempt.Observation{Phase: attempt.Missing, Name: "mail-1"}, h.observe(job, 1)); diff != "" {
			t.Errorf("Observe (-want +got):\n%s", diff)
		}
	})
	t.Run("started, the cache behind: expected until the expectation expires", func(t *testing.T) {
		h := newPodsHarness(t, interceptor.Funcs{})
		if err := h.pods.Start(ctx, job, podTarget(), 1); err != nil {
			t.Fatal(err)
		}
		var created corev1.Pod
		if err := h.writes.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "mail-1"}, &created); err != nil {
			t.Fatalf("Start created no pod: %v", err)
		}
		createdAt := h.clk.Now()
		h.clk.Step(expectationTTL - time.Second)
		// Expected carries when it was created: the start of an attempt status does not record yet.
		if diff := cmp.Diff(attempt.Observation{Phase: attempt.Missing, Name: "mail-1", Expected: true, CreatedAt: createdAt}, h.observe(job, 1)); diff != "" {
			t.Errorf("Observe within the TTL (-want +got):\n%s", diff)
		}
		h.clk.Step(time.Second)
		if diff := cmp.Diff(attempt.Observation{Phase: attempt.Missing, Name: "mail-1"}, h.observe(job, 1)); diff != "" {
			t.Errorf("Observe after the TTL (-want +got):\n%s", diff)
		}
	})
	t.Run("seen, then gone: lost", func(t *testing.T) {
		h := newPodsHarness(t, interceptor.Funcs{})
		p := h.pod(job, 1, corev1.PodRunning)
		if err := h.cache.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		if obs := h.observe(job, 1); obs.Phase != attempt.Running {
			t.Fatalf("Observe = %+v, want Running", obs)
		}
		if err := h.cache.Delete(ctx, p); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(attempt.Observation{Phase: attempt.Missing, Name: "mail-1", Lost: true}, h.observe(job, 1)); diff != "" {
			t.Errorf("Observe (-want +got):\n%s", diff)
		}
	})
	t.Run("a pod of that name another job owns: expected until it is collected", func(t *testing.T) {
		h := newPodsHarness(t, interceptor.Funcs{})
		other := podJob("mail")
		other.UID = "uid-an-older-mail"
		if err := h.cache.Create(ctx, h.pod(other, 1, corev1.PodSucceeded)); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(attempt.Observation{Phase: attempt.Missing, Name: "mail-1", Expected: true}, h.observe(job, 1)); diff != "" {
			t.Errorf("Observe (-want +got):\n%s", diff)
		}
	})
	t.Run("a failed read is an error", func(t *testing.T) {
		h := newPodsHarness(t, interceptor.Funcs{Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return errors.New("cache down")
		}})
		if _, err := h.pods.Observe(ctx, job, 1); err == nil {
			t.Error("Observe with a failing reader: no error")
		}
	})
}

func TestPodsForget(t *testing.T) {
	ctx := context.Background()
	job := podJob("mail")
	h := newPodsHarness(t, interceptor.Funcs{})

	// Attempt 1 is started (expected); attempt 2's pod is seen and then deleted (lost).
	if err := h.pods.Start(ctx, job, podTarget(), 1); err != nil {
		t.Fatal(err)
	}
	p := h.pod(job, 2, corev1.PodRunning)
	if err := h.cache.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	h.observe(job, 2)
	if err := h.cache.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	other := podJob("other")
	if err := h.pods.Start(ctx, other, podTarget(), 1); err != nil {
		t.Fatal(err)
	}

	h.pods.Forget(job.UID)
	for n := int32(1); n <= 2; n++ {
		if obs := h.observe(job, n); obs.Expected || obs.Lost {
			t.Errorf("attempt %d after Forget: %+v, want neither expected nor lost", n, obs)
		}
	}
	if obs := h.observe(other, 1); !obs.Expected {
		t.Errorf("another job after Forget: %+v, want still expected", obs)
	}
}

func TestPodsSettled(t *testing.T) {
	job := podJob("mail")
	stranger := podJob("mail")
	stranger.UID = "uid-an-older-mail"
	cases := map[string]struct {
		pods func(h *podsHarness) []*corev1.Pod
		want bool
	}{
		"no pods": {
			pods: func(*podsHarness) []*corev1.Pod { return nil },
			want: true,
		},
		"an earlier attempt's pod runs": {
			pods: func(h *podsHarness) []*corev1.Pod {
				return []*corev1.Pod{h.pod(job, 1, corev1.PodFailed), h.pod(job, 2, corev1.PodRunning)}
			},
			want: false,
		},
		"an earlier attempt's pod has not started": {
			pods: func(h *podsHarness) []*corev1.Pod { return []*corev1.Pod{h.pod(job, 2, corev1.PodPending)} },
			want: false,
		},
		"earlier attempts' pods ended": {
			pods: func(h *podsHarness) []*corev1.Pod {
				return []*corev1.Pod{h.pod(job, 1, corev1.PodFailed), h.pod(job, 2, corev1.PodSucceeded)}
			},
			want: true,
		},
		"the attempt's own pod does not count": {
			pods: func(h *podsHarness) []*corev1.Pod { return []*corev1.Pod{h.pod(job, 3, corev1.PodRunning)} },
			want: true,
		},
		"another job's pod of the same name does not count": {
			pods: func(h *podsHarness) []*corev1.Pod { return []*corev1.Pod{h.pod(stranger, 1, corev1.PodRunning)} },
			want: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newPodsHarness(t, interceptor.Funcs{})
			for _, p := range tc.pods(h) {
				if err := h.cache.Create(context.Background(), p); err != nil {
					t.Fatal(err)
				}
			}
			got, err := h.pods.Settled(context.Background(), job, 3)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Settled = %t, want %t", got, tc.want)
			}
		})
	}
	t.Run("a failed list is an error", func(t *testing.T) {
		h := newPodsHarness(t, interceptor.Funcs{List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return errors.New("cache down")
		}})
		if _, err := h.pods.Settled(context.Background(), job, 3); err == nil {
			t.Error("Settled with a failing reader: no error")
		}
	})
}

func TestPodsStartAndStop(t *testing.T) {
	ctx := context.Background()
	job := podJob("mail")
	h := newPodsHarness(t, interceptor.Funcs{})
	h.pods.Report = testEndpoint(t)

	if err := h.pods.Start(ctx, job, podTarget(), 1); err != nil {
		t.Fatal(err)
	}
	if err := h.pods.Start(ctx, job, podTarget(), 1); err != nil {
		t.Errorf("a repeated Start (AlreadyExists): %v", err)
	}
	var pods corev1.PodList
	if err := h.writes.List(ctx, &pods); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Name != "mail-1" {
		t.Fatalf("pods after two Starts: %d, want the one pod mail-1", len(pods.Items))
	}
	if env := pods.Items[0].Spec.Containers[0].Env; env[len(env)-1].Name != "KICKQ_TOKEN_FILE" {
		t.Errorf("a pod of an executor with a report endpoint has no KICKQ_TOKEN_FILE: %v", env)
	}
	for _, e := range pods.Items[0].Spec.Containers[0].Env {
		if e.Name == "KICKQ_TOKEN" || strings.HasPrefix(e.Value, "kq1.") {
			t.Errorf("a pod carries a token in its spec, where whoever may get pods reads it: %v", e)
		}
	}
	if err := h.pods.Start(ctx, job, attempt.Target{Kind: attempt.KindPod}, 2); err == nil {
		t.Error("Start without a pod target: no error")
	}

	if err := h.pods.Stop(ctx, job, 1); err != nil {
		t.Fatal(err)
	}
	if err := h.writes.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "mail-1"}, &corev1.Pod{}); !apierrors.IsNotFound(err) {
		t.Errorf("after Stop, reading the pod: %v, want NotFound", err)
	}
	if err := h.pods.Stop(ctx, job, 1); err != nil {
		t.Errorf("stopping a pod that is gone: %v", err)
	}
}

// TestPodsStartRefused: a create the API server refuses ends the attempt (Observe reports it
// Finished with the API server's message, the job is woken, no reconcile error); transient errors
// are returned so the reconcile is retried, and nothing is remembered.
func TestPodsStartRefused(t *testing.T) {
	pods := corev1.Resource("pods")
	invalid := apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Pod").GroupKind(), "mail-1", field.ErrorList{
		field.Invalid(field.NewPath("spec", "containers").Index(0).Child("ports").Index(0).Child("containerPort"), 70000, "must be between 1 and 65535, inclusive")})
	const (
		die  = kickqv1alpha1.OutcomeDie
		fail = kickqv1alpha1.OutcomeFail
	)
	terminating := apierrors.NewForbidden(pods, "mail-1", errors.New("unable to create new content in namespace shop because it is being terminated"))
	terminating.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause, Message: "namespace shop is being terminated"}}
	quotaInCause := apierrors.NewForbidden(pods, "mail-1", errors.New("refused"))
	quotaInCause.ErrStatus.Details.Causes = []metav1.StatusCause{{Message: "exceeded quota: pods, requested: pods=1, used: pods=0, limited: pods=0"}}
	cases := map[string]struct {
		err error
		// want is the attempt's end; empty Outcome: not a refusal, Start returns the error.
		want outcome.Result
	}{
		"invalid pod (validation): Die": {
			err: invalid,
			want: outcome.Result{Outcome: die, Reason: kickqv1alpha1.AttemptReasonPodRefused,
				Message: `the API server refused pod mail-1: Pod "mail-1" is invalid: spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive`},
		},
		"Pod Security (policy): Die": {
			err: apierrors.NewForbidden(pods, "mail-1", errors.New(`violates PodSecurity "restricted:latest": privileged (container "main" must not set securityContext.privileged=true)`)),
			want: outcome.Result{Outcome: die, Reason: kickqv1alpha1.AttemptReasonPodRefused,
				Message: `the API server refused pod mail-1: pods "mail-1" is forbidden: violates PodSecurity "restricted:latest": privileged (container "main" must not set securityContext.privileged=true)`},
		},
		"admission webhook denial: Die": {
			err: apierrors.NewForbidden(pods, "mail-1", errors.New(`admission webhook "policy.example.com" denied the request: no latest tags`)),
			want: outcome.Result{Outcome: die, Reason: kickqv1alpha1.AttemptReasonPodRefused,
				Message: `the API server refused pod mail-1: pods "mail-1" is forbidden: admission webhook "policy.example.com" denied the request: no latest tags`},
		},
		"exceeded quota: counted failure": {
			err: apierrors.NewForbidden(pods, "mail-1", errors.New("exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2")),
			want: outcome.Result{Outcome: fail, Reason: kickqv1alpha1.AttemptReasonQuotaExceeded,
				Message: `the API server refused pod mail-1: pods "mail-1" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2`},
		},
		"exceeded quota in a cause: counted failure": {
			err: quotaInCause,
			want: outcome.Result{Outcome: fail, Reason: kickqv1alpha1.AttemptReasonQuotaExceeded,
				Message: `the API server refused pod mail-1: pods "mail-1" is forbidden: refused`},
		},
		"quota without status yet: counted failure": {
			err: apierrors.NewForbidden(pods, "mail-1", errors.New("status unknown for quota: pods, resources: pods")),
			want: outcome.Result{Outcome: fail, Reason: kickqv1alpha1.AttemptReasonQuotaExceeded,
				Message: `the API server refused pod mail-1: pods "mail-1" is forbidden: status unknown for quota: pods, resources: pods`},
		},
		"service account not created yet: counted failure": {
			err: apierrors.NewForbidden(pods, "mail-1", errors.New(`error looking up service account shop/default: serviceaccount "default" not found`)),
			want: outcome.Result{Outcome: fail, Reason: kickqv1alpha1.AttemptReasonPodRefused,
				Message: `the API server refused pod mail-1: pods "mail-1" is forbidden: error looking up service account shop/default: serviceaccount "default" not found`},
		},
		"namespace being deleted: counted failure": {
			err: terminating,
			want: outcome.Result{Outcome: fail, Reason: kickqv1alpha1.AttemptReasonPodRefused,
				Message: `the API server refused pod mail-1: pods "mail-1" is forbidden: unable to create new content in namespace shop because it is being terminated`},
		},
		"internal error: retried": {err: apierrors.NewInternalError(errors.New("etcd leader changed"))},
		"timeout: retried":        {err: apierrors.NewTimeoutError("request did not complete", 2)},
		"server timeout: retried": {err: apierrors.NewServerTimeout(pods, "create", 1)},
		"conflict: retried":       {err: apierrors.NewConflict(pods, "mail-1", errors.New("changed"))},
		"throttled: retried":      {err: apierrors.NewTooManyRequests("slow down", 1)},
		"no connection: retried":  {err: errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newPodsHarness(t, interceptor.Funcs{})
			creates := 0
			h.writes = fake.NewClientBuilder().WithScheme(h.scheme).WithInterceptorFuncs(interceptor.Funcs{
				Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
					creates++
					return tc.err
				}}).Build()
			h.pods.Client = h.writes
			var woken []types.NamespacedName
			h.pods.Notify = func(k types.NamespacedName) { woken = append(woken, k) }
			job := podJob("mail")

			err := h.pods.Start(context.Background(), job, podTarget(), 1)
			got := h.observe(job, 1)
			if tc.want.Outcome == "" {
				if err == nil || !errors.Is(err, tc.err) {
					t.Fatalf("Start = %v, want the create's error wrapped", err)
				}
				if diff := cmp.Diff(attempt.Observation{Phase: attempt.Missing, Name: "mail-1"}, got); diff != "" {
					t.Errorf("Observe after a failed create (-want +got):\n%s", diff)
				}
				if len(woken) != 0 {
					t.Errorf("woken %v after a failed create; the returned error retries", woken)
				}
				return
			}
			if err != nil {
				t.Fatalf("Start = %v, want nil: a refusal is the attempt's outcome", err)
			}
			if diff := cmp.Diff(attempt.Observation{Phase: attempt.Finished, Name: "mail-1", Result: tc.want}, got); diff != "" {
				t.Errorf("Observe after a refused create (-want +got):\n%s", diff)
			}
			if want := []types.NamespacedName{{Namespace: "shop", Name: "mail"}}; !cmp.Equal(woken, want) {
				t.Errorf("woken %v, want %v", woken, want)
			}
			// A repeated Start of the refused attempt does not create again; it wakes the job again.
			if err := h.pods.Start(context.Background(), job, podTarget(), 1); err != nil || creates != 1 || len(woken) != 2 {
				t.Errorf("a repeated Start: err %v, %d creates, %d wake-ups; want nil, 1, 2", err, creates, len(woken))
			}
			if ok, err := h.pods.Settled(context.Background(), job, 2); err != nil || !ok {
				t.Errorf("Settled after a refused attempt = %t, %v; want true: it has no pod", ok, err)
			}
		})
	}
}

func TestClassifyRefusalBoundsTheMessage(t *testing.T) {
	huge := apierrors.NewForbidden(corev1.Resource("pods"), "mail-1", errors.New(strings.Repeat("denied ", 1000)))
	r, ok := ClassifyRefusal("mail-1", huge)
	if !ok || len(r.Message) > limits.MaxMessageBytes || !strings.HasSuffix(r.Message, limits.Ellipsis) {
		t.Errorf("ClassifyRefusal of a %d-byte answer: ok %t, a %d-byte message; want a refusal cut to %d bytes",
			len(huge.Error()), ok, len(r.Message), limits.MaxMessageBytes)
	}
}

// TestPodsRefusalsAreForgotten: Forget drops a job's refusal; a later attempt's refusal drops
// the earlier one; refusals older than refusalTTL are dropped. Each time Observe then says
// Missing, and the lifecycle starts the attempt again (refused again: idempotent).
func TestPodsRefusalsAreForgotten(t *testing.T) {
	ctx := context.Background()
	h := newPodsHarness(t, interceptor.Funcs{})
	h.writes = fake.NewClientBuilder().WithScheme(h.scheme).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
			return apierrors.NewForbidden(corev1.Resource("pods"), "x", errors.New("violates PodSecurity"))
		}}).Build()
	h.pods.Client = h.writes
	mail, other, old := podJob("mail"), podJob("other"), podJob("old")
	start := func(job *kickqv1alpha1.QueueJob, n int32) {
		t.Helper()
		if err := h.pods.Start(ctx, job, podTarget(), n); err != nil {
			t.Fatal(err)
		}
	}
	phase := func(job *kickqv1alpha1.QueueJob, n int32) attempt.Phase { t.Helper(); return h.observe(job, n).Phase }

	start(old, 1)
	h.clk.Step(refusalTTL)
	start(mail, 1)
	start(other, 1)
	if got := phase(old, 1); got != attempt.Missing {
		t.Errorf("a refusal older than refusalTTL: %s, want Missing", got)
	}
	start(mail, 2)
	if got1, got2 := phase(mail, 1), phase(mail, 2); got1 != attempt.Missing || got2 != attempt.Finished {
		t.Errorf("after attempt 2's refusal: attempt 1 %s, attempt 2 %s; want Missing, Finished", got1, got2)
	}
	h.pods.Forget(mail.UID)
	if got := phase(mail, 2); got != attempt.Missing {
		t.Errorf("after Forget: %s, want Missing", got)
	}
	if got := phase(other, 1); got != attempt.Finished {
		t.Errorf("another job after Forget: %s, want still Finished", got)
	}
}

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
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	kickqv1alpha1 "kickq.dev/kickq/api/v1alpha1"
	"kickq.dev/kickq/internal/attempt"
	"kickq.dev/kickq/internal/outcome"
)

// TestBuildPodRefusesKickqsTokenNames: a template that names kickq's token volume or mounts
// something at its path is refused, naming the field, rather than overwritten; one that mounts
// kickq's volume elsewhere keeps its mount.
func TestBuildPodRefusesKickqsTokenNames(t *testing.T) {
	emptyDir := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	cases := map[string]struct {
		spec  corev1.PodSpec
		field string // "": built
	}{
		"a volume named kickq-token": {
			spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "data", VolumeSource: emptyDir}, {Name: "kickq-token", VolumeSource: emptyDir}},
				Containers: []corev1.Container{{Name: "main", Image: "w"}}},
			field: "spec.volumes[1].name",
		},
		"a container mount at kickq's path": {
			spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "data", VolumeSource: emptyDir}},
				Containers: []corev1.Container{{Name: "side", Image: "s"}, {Name: "main", Image: "w",
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/var/run/secrets/kickq.dev"}}}}},
			field: "spec.containers[1].volumeMounts[0].mountPath",
		},
		"an init container mount at kickq's path": {
			spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "data", VolumeSource: emptyDir}},
				InitContainers: []corev1.Container{{Name: "init", Image: "i",
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/var/run/secrets/kickq.dev/"}}}},
				Containers: []corev1.Container{{Name: "main", Image: "w"}}},
			field: "spec.initContainers[0].volumeMounts[0].mountPath",
		},
		"a mount of kickq's volume elsewhere": {
			spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "w",
				VolumeMounts: []corev1.VolumeMount{{Name: "kickq-token", MountPath: "/etc/kickq", ReadOnly: true}}}}},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			target := attempt.Target{Kind: attempt.KindPod, Pod: &kickqv1alpha1.PodTarget{Template: corev1.PodTemplateSpec{Spec: c.spec}}}
			pod, err := BuildPod(podJob("mail"), target, 1, podScheme(t), testEndpoint(t))
			if c.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				want := []corev1.VolumeMount{{Name: "kickq-token", MountPath: "/etc/kickq", ReadOnly: true},
					{Name: "kickq-token", MountPath: "/var/run/secrets/kickq.dev", ReadOnly: true}}
				if d := cmp.Diff(want, pod.Spec.Containers[0].VolumeMounts); d != "" {
					t.Errorf("mounts (-want +got):\n%s", d)
				}
				return
			}
			var te *TemplateError
			if !errors.As(err, &te) || te.Field != c.field {
				t.Fatalf("error %v, want a TemplateError naming %s", err, c.field)
			}
		})
	}
	// Without a report endpoint nothing is reserved (and no volume is added).
	target := attempt.Target{Kind: attempt.KindPod, Pod: &kickqv1alpha1.PodTarget{Template: corev1.PodTemplateSpec{Spec: cases["a volume named kickq-token"].spec}}}
	pod, err := BuildPod(podJob("mail"), target, 1, podScheme(t), nil)
	if err != nil || len(pod.Spec.Volumes) != 2 {
		t.Errorf("without a report endpoint: %v, %d volumes; want the template's 2", err, len(pod.Spec.Volumes))
	}
}

// TestPodsStartRefusesAReservedTemplate: the attempt dies at once with the message naming the
// field, and no pod is created.
func TestPodsStartRefusesAReservedTemplate(t *testing.T) {
	ctx := context.Background()
	h := newPodsHarness(t, interceptor.Funcs{})
	h.pods.Report = testEndpoint(t)
	job := podJob("mail")
	target := podTarget()
	target.Pod.Template.Spec.Volumes = []corev1.Volume{{Name: "kickq-token", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	if err := h.pods.Start(ctx, job, target, 1); err != nil {
		t.Fatalf("Start: %v, want the refusal recorded, not returned", err)
	}
	var pods corev1.PodList
	if err := h.writes.List(ctx, &pods); err != nil || len(pods.Items) != 0 {
		t.Fatalf("pods: %d (%v), want none", len(pods.Items), err)
	}
	obs, err := h.pods.Observe(ctx, job, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := outcome.Result{Outcome: kickqv1alpha1.OutcomeDie, Reason: kickqv1alpha1.AttemptReasonPodRefused,
		Message: `the pod template's spec.volumes[0].name "kickq-token" is reserved: kickq mounts the attempt's report token (volume kickq-token at /var/run/secrets/kickq.dev)`}
	if obs.Phase != attempt.Finished || obs.Result != want {
		t.Errorf("Observe: %v %+v, want Finished %+v", obs.Phase, obs.Result, want)
	}
}

// TestBuildPodNamesTheServiceAccount: a token projection needs a named service account; a
// template's own is kept, and one without gets "default", as admission would give it.
func TestBuildPodNamesTheServiceAccount(t *testing.T) {
	for tmpl, want := range map[string]string{"": "default", "worker": "worker"} {
		target := podTarget()
		target.Pod.Template.Spec.ServiceAccountName = tmpl
		pod, err := BuildPod(podJob("mail"), target, 1, podScheme(t), testEndpoint(t))
		if err != nil || pod.Spec.ServiceAccountName != want {
			t.Errorf("template service account %q: pod's %q (%v), want %q", tmpl, pod.Spec.ServiceAccountName, err, want)
		}
	}
}

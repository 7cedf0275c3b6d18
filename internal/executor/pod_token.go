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
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"kickq.dev/kickq/internal/report"
)

// TemplateError: a pod template uses what kickq reserves in the pods it builds from it. Retrying
// cannot help: the attempt dies with this message.
type TemplateError struct {
	// Field is the template's field, from its spec (spec.volumes[2].name).
	Field string
	// Value is what it holds.
	Value string
}

func (e *TemplateError) Error() string {
	return fmt.Sprintf("the pod template's %s %q is reserved: kickq mounts the attempt's report token (volume %s at %s)",
		e.Field, e.Value, report.TokenVolume, report.TokenDir)
}

// addTokenVolume gives a pod the projected volume report.TokenVolume — a ServiceAccount token
// for report.TokenAudience, bound to the pod, that the kubelet mints and refreshes — and mounts
// it read-only at report.TokenDir in every container and init container; a template without a
// service account gets "default", as admission would give it. The token is never in
// the pod spec, so whoever may only read pods cannot read it. A template that has a volume of
// that name, or a container mount at that path, is refused (*TemplateError) rather than
// overwritten; a template's own mount of the volume elsewhere is left as it is.
func addTokenVolume(spec *corev1.PodSpec) error {
	for i, v := range spec.Volumes {
		if v.Name == report.TokenVolume {
			return &TemplateError{Field: fmt.Sprintf("spec.volumes[%d].name", i), Value: v.Name}
		}
	}
	if err := checkMounts("spec.initContainers", spec.InitContainers); err != nil {
		return err
	}
	if err := checkMounts("spec.containers", spec.Containers); err != nil {
		return err
	}
	if spec.ServiceAccountName == "" {
		// A token projection needs the pod's service account named: name the one the API
		// server's ServiceAccount admission would give it.
		spec.ServiceAccountName = spec.DeprecatedServiceAccount
		if spec.ServiceAccountName == "" {
			spec.ServiceAccountName = "default"
		}
	}
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: report.TokenVolume, VolumeSource: corev1.VolumeSource{
		Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{
			ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Audience:          report.TokenAudience,
				ExpirationSeconds: ptr.To[int64](report.TokenExpirationSeconds),
				Path:              report.TokenFileName,
			}}}}}})
	mount := corev1.VolumeMount{Name: report.TokenVolume, MountPath: report.TokenDir, ReadOnly: true}
	for i := range spec.InitContainers {
		spec.InitContainers[i].VolumeMounts = append(spec.InitContainers[i].VolumeMounts, mount)
	}
	for i := range spec.Containers {
		spec.Containers[i].VolumeMounts = append(spec.Containers[i].VolumeMounts, mount)
	}
	return nil
}

// checkMounts refuses a container mount at report.TokenDir.
func checkMounts(field string, cs []corev1.Container) error {
	for i, c := range cs {
		for k, m := range c.VolumeMounts {
			if m.MountPath == report.TokenDir || m.MountPath == report.TokenDir+"/" {
				return &TemplateError{Field: fmt.Sprintf("%s[%d].volumeMounts[%d].mountPath", field, i, k), Value: m.MountPath}
			}
		}
	}
	return nil
}

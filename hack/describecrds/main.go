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

// Command describecrds gives a description to the properties controller-gen leaves without one:
// the root metadata and the fields of embedded ObjectMeta (crd:generateEmbeddedObjectMeta=true), so
// that every property of kickq's CRDs reads well in `kubectl explain`. It also drops the
// descriptions inside each embedded pod spec (pod.template.spec, core/v1's PodSpec, which
// `kubectl explain pod.spec` describes): they are most of the CRDs' bytes, and without them the
// Queue CRD (two embedded pod templates) fits the 256 KiB annotation that client-side
// `kubectl apply` writes. Types, formats, enums and required fields stay. It rewrites the CRD files
// named on the command line in place; `make manifests` runs it after controller-gen.
package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

var metadataDescriptions = map[string]string{
	"metadata":    "metadata is the standard object metadata of the template.",
	"name":        "name of the object.",
	"namespace":   "namespace of the object.",
	"labels":      "labels are copied to the created object.",
	"annotations": "annotations are copied to the created object.",
	"finalizers":  "finalizers are copied to the created object.",
}

func main() {
	for _, path := range os.Args[1:] {
		if err := describe(path); err != nil {
			fmt.Fprintf(os.Stderr, "describecrds: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
}

func describe(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var crd map[string]any
	if err := yaml.Unmarshal(b, &crd); err != nil {
		return err
	}
	versions, _ := dig(crd, "spec", "versions").([]any)
	for _, v := range versions {
		schema, _ := dig(v, "schema", "openAPIV3Schema").(map[string]any)
		// The API server refuses anything but name and generateName in the root metadata schema;
		// kubectl explain describes it from ObjectMeta.
		props, _ := schema["properties"].(map[string]any)
		for name, p := range props {
			if name != "metadata" {
				ps, _ := p.(map[string]any)
				walk(ps, false)
			}
		}
	}
	out, err := yaml.Marshal(crd)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte("---\n"), out...), 0o644)
}

// walk fills missing descriptions below s; inMeta is true inside a metadata object.
func walk(s map[string]any, inMeta bool) {
	if s == nil {
		return
	}
	props, _ := s["properties"].(map[string]any)
	for name, p := range props {
		ps, _ := p.(map[string]any)
		if ps == nil {
			continue
		}
		if d, _ := ps["description"].(string); d == "" {
			if text, ok := metadataDescriptions[name]; ok && (inMeta || name == "metadata") {
				ps["description"] = text
			}
		}
		if name == "template" && isPodTemplate(ps) {
			shortenPodSpec(ps)
		}
		walk(ps, name == "metadata")
	}
	if items, ok := s["items"].(map[string]any); ok {
		walk(items, false)
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		walk(ap, false)
	}
}

// podSpecDescription replaces the description of an embedded pod spec.
const podSpecDescription = "spec is the pod's spec, a core/v1 PodSpec: `kubectl explain pod.spec` describes its fields."

// isPodTemplate tells an embedded PodTemplateSpec by its properties: metadata, and a spec with
// containers.
func isPodTemplate(s map[string]any) bool {
	props, _ := s["properties"].(map[string]any)
	_, meta := props["metadata"]
	return meta && dig(props, "spec", "properties", "containers") != nil
}

// shortenPodSpec drops every description below a pod template's spec and gives the spec one
// that points to kubectl explain pod.spec.
func shortenPodSpec(template map[string]any) {
	spec, _ := dig(template, "properties", "spec").(map[string]any)
	dropDescriptions(spec)
	spec["description"] = podSpecDescription
}

// dropDescriptions removes the descriptions of s and of everything below it.
func dropDescriptions(s map[string]any) {
	delete(s, "description")
	props, _ := s["properties"].(map[string]any)
	for _, p := range props {
		if ps, ok := p.(map[string]any); ok {
			dropDescriptions(ps)
		}
	}
	for _, k := range []string{"items", "additionalProperties"} {
		if ps, ok := s[k].(map[string]any); ok {
			dropDescriptions(ps)
		}
	}
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

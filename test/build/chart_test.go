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

package build

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"kickq.dev/kickq/test/util"
)

// helmLabels are the labels the chart puts on every object and config/default does not: they
// are dropped from both sides before comparing (docs/install.md, "Helm and kustomize").
var helmLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance",
	"app.kubernetes.io/version", "app.kubernetes.io/name"}

// notInChart are config/default's objects the chart does not render, each for a documented
// reason: Helm installs into a namespace that exists (`--create-namespace`, or created with its
// Pod Security label beforehand, as docs/install.md says).
var notInChart = map[string]string{"Namespace//kickq-system": "Helm installs into an existing namespace"}

func decode(t *testing.T, what string, b []byte) map[string]*unstructured.Unstructured {
	t.Helper()
	objs := map[string]*unstructured.Unstructured{}
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		var o unstructured.Unstructured
		if err := d.Decode(&o.Object); err != nil {
			if err.Error() == "EOF" {
				return objs
			}
			t.Fatalf("%s: %v", what, err)
		}
		if len(o.Object) == 0 {
			continue
		}
		labels := o.GetLabels()
		for _, l := range helmLabels {
			delete(labels, l)
		}
		if len(labels) == 0 {
			labels = nil
		}
		o.SetLabels(labels)
		o.Object = squeezeSpaces(o.Object).(map[string]any)
		objs[fmt.Sprintf("%s/%s/%s", o.GetKind(), o.GetNamespace(), o.GetName())] = &o
	}
}

// squeezeSpaces turns each run of white space in every string into one space: kustomize
// re-emits folded YAML scalars (the admission policy's CEL) with other line breaks than the file
// has, which changes no expression.
func squeezeSpaces(v any) any {
	switch x := v.(type) {
	case string:
		return strings.Join(strings.Fields(x), " ")
	case map[string]any:
		for k, e := range x {
			x[k] = squeezeSpaces(e)
		}
	case []any:
		for i, e := range x {
			x[i] = squeezeSpaces(e)
		}
	}
	return v
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = util.RepoRoot()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return out
}

// TestChartRendersConfigDefault: `helm template` of charts/kickq with its default values renders
// the objects of config/default (kubectl kustomize), field for field, but for Helm's labels and
// the objects of notInChart. `make verify` runs it with HELM set (bin/helm-<version>).
func TestChartRendersConfigDefault(t *testing.T) {
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Skip("HELM is not set: make verify-chart runs this test with the helm it builds")
	}
	chart := decode(t, "helm template", run(t, helm, "template", "kickq", "charts/kickq", "--namespace", "kickq-system", "--include-crds", "--kube-version", "1.37.2"))
	kustomize := decode(t, "kubectl kustomize", run(t, "kubectl", "kustomize", "config/default"))
	var keys []string
	for k := range kustomize {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, skip := notInChart[k]; skip {
			if _, ok := chart[k]; ok {
				t.Errorf("%s is listed as not in the chart, but the chart renders it", k)
			}
			continue
		}
		c, ok := chart[k]
		if !ok {
			t.Errorf("the chart does not render %s of config/default", k)
			continue
		}
		if diff := cmp.Diff(kustomize[k].Object, c.Object); diff != "" {
			t.Errorf("%s differs (-config/default +chart):\n%s", k, diff)
		}
		delete(chart, k)
	}
	for k := range chart {
		t.Errorf("the chart renders %s, which config/default does not", k)
	}
}

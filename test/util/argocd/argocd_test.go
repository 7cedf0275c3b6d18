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

package argocd

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// TestKustomization: config/argocd's kustomization puts each script under the argocd-cm key Argo
// CD reads for its kind (resource.customizations.health.<group>_<kind>).
func TestKustomization(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(ScriptPath("x")), "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		ConfigMapGenerator []struct {
			Name  string   `json:"name"`
			Files []string `json:"files"`
		} `json:"configMapGenerator"`
	}
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"resource.customizations.health.kickq.dev_Queue=health-queue.lua",
		"resource.customizations.health.kickq.dev_QueueJob=health-queuejob.lua",
	}
	if len(k.ConfigMapGenerator) != 1 || k.ConfigMapGenerator[0].Name != "argocd-cm" {
		t.Fatalf("configMapGenerator = %+v, want one argocd-cm", k.ConfigMapGenerator)
	}
	if diff := cmp.Diff(want, k.ConfigMapGenerator[0].Files); diff != "" {
		t.Errorf("argocd-cm files (-want +got):\n%s", diff)
	}
	for _, f := range []string{"health-queue.lua", "health-queuejob.lua"} {
		if _, err := os.Stat(ScriptPath(f)); err != nil {
			t.Error(err)
		}
	}
}

// TestRunWithoutStatus: an object the manager has not seen is Progressing for both scripts.
func TestRunWithoutStatus(t *testing.T) {
	for _, s := range []string{"health-queue.lua", "health-queuejob.lua"} {
		h, err := Run(ScriptPath(s), map[string]any{"metadata": map[string]any{"name": "x", "generation": int64(1)}, "spec": map[string]any{}})
		if err != nil {
			t.Fatal(err)
		}
		if h.Status != "Progressing" {
			t.Errorf("%s on an object without status: %q, want Progressing", s, h.Status)
		}
	}
}

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

// Package build checks the repository's build files against the code.
package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"kickq.dev/kickq/test/util"
)

// TestDockerfileCopiesEveryPackageOfTheManager guards the image build, which this machine cannot
// run (no Docker engine): every folder of the module that cmd/manager imports must be copied.
func TestDockerfileCopiesEveryPackageOfTheManager(t *testing.T) {
	root := util.RepoRoot()
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	copied := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^COPY ([a-z0-9_-]+)/ `).FindAllStringSubmatch(string(b), -1) {
		copied[m[1]] = true
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./cmd/manager")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "kickq.dev/kickq/"
	for _, pkg := range strings.Fields(string(out)) {
		if !strings.HasPrefix(pkg, module) {
			continue
		}
		top := strings.SplitN(strings.TrimPrefix(pkg, module), "/", 2)[0]
		if !copied[top] {
			t.Errorf("the manager imports %s, but the Dockerfile does not COPY %s/", pkg, top)
		}
	}
}

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
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kickq.dev/kickq/hack/ociimage"
	"kickq.dev/kickq/test/util"
)

// TestDockerfileDescribesTheImageOfMakeImage: a user with a Docker engine builds the image that
// `make image` builds (hack/ociimage/manager.go): same labels, user, entrypoint, build flags.
func TestDockerfileDescribesTheImageOfMakeImage(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(util.RepoRoot(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Continuation lines joined, comments dropped.
	text := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(string(b), " ")
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	final := lines[slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "FROM gcr.io/distroless/static:nonroot") }):]
	instr := func(name string) []string {
		var got []string
		for _, l := range final {
			if rest, ok := strings.CutPrefix(l, name+" "); ok {
				got = append(got, rest)
			}
		}
		return got
	}
	labels := map[string]string{}
	for _, l := range instr("LABEL") {
		for _, m := range regexp.MustCompile(`([a-z0-9.]+)="([^"]*)"`).FindAllStringSubmatch(l, -1) {
			labels[m[1]] = m[2]
		}
	}
	want := ociimage.ManagerLabels("${VERSION}", "${REVISION}", "${CREATED}")
	if diff := cmp.Diff(want, labels); diff != "" {
		t.Errorf("Dockerfile LABELs differ from hack/ociimage's (-want +got):\n%s", diff)
	}
	cfg := ociimage.ManagerConfig(nil)
	if diff := cmp.Diff([]string{cfg.User}, instr("USER")); diff != "" {
		t.Errorf("USER (-want +got):\n%s", diff)
	}
	entry, _ := json.Marshal(cfg.Entrypoint)
	if diff := cmp.Diff([]string{string(entry)}, instr("ENTRYPOINT")); diff != "" {
		t.Errorf("ENTRYPOINT (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"--from=builder /workspace/manager " + ociimage.ManagerBinary}, instr("COPY")); diff != "" {
		t.Errorf("COPY of the binary (-want +got):\n%s", diff)
	}
	var build string
	for _, l := range lines {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
			build = strings.ReplaceAll(l, `"`, "")
		}
	}
	for _, f := range append([]string{"CGO_ENABLED=0"}, ociimage.ManagerBuildFlags...) {
		if !strings.Contains(build, f) {
			t.Errorf("the Dockerfile's go build (%q) lacks %q", build, f)
		}
	}
}

// TestManagerEmbedsTzdata: cron time zones need no zoneinfo in the image.
func TestManagerEmbedsTzdata(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./cmd/manager")
	cmd.Dir = util.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if !slices.Contains(strings.Fields(string(out)), "time/tzdata") {
		t.Error("cmd/manager does not import time/tzdata")
	}
}

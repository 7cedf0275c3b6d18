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

// Command image builds the manager's OCI image (hack/ociimage) for each platform — a static
// binary cross-compiled with CGO_ENABLED=0 — and writes an image index of them as an OCI archive
// that `ctr images import` and other OCI tools read (`make image`). It prints the image's full
// reference and writes it beside the archive (<out>.ref).
//
//	go run ./hack/image -ref kickq/manager:dev -out bin/image/kickq-manager.tar
package main

import (
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1"

	"kickq.dev/kickq/hack/ociimage"
)

func main() {
	ref := flag.String("ref", "kickq/manager:dev", "image reference")
	out := flag.String("out", "bin/image/kickq-manager.tar", "OCI archive to write")
	platforms := flag.String("platforms", "linux/amd64,linux/arm64", "comma-separated os/arch list")
	tagDigest := flag.Bool("tag-with-digest", false, "append the first 12 hex digits of the index digest to the tag (a new tag for each new image)")
	ca := flag.String("ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "CA certificates put at /"+ociimage.ManagerCABundle)
	pkg := flag.String("pkg", "./cmd/manager", "the Go package whose binary the image runs (e2e builds ./examples/worker into an image of the same layout)")
	flag.Parse()
	mainPackage = *pkg
	if err := run(*ref, *out, *platforms, *ca, *tagDigest); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(ref, out, platforms, caFile string, tagDigest bool) error {
	start := time.Now()
	caBundle, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("the CA bundle (Debian: apt-get install ca-certificates): %w", err)
	}
	version, revision, created := gitInfo()
	labels := ociimage.ManagerLabels(version, revision, created)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	var imgs []v1.Image
	for _, p := range strings.Split(platforms, ",") {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok {
			return fmt.Errorf("platform %q: want os/arch", p)
		}
		bin := filepath.Join(filepath.Dir(out), goos+"-"+goarch, "manager")
		if err := buildManager(goos, goarch, bin); err != nil {
			return err
		}
		b, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		img, err := ociimage.Image(v1.Platform{OS: goos, Architecture: goarch}, ociimage.ManagerFiles(b, caBundle), ociimage.ManagerConfig(labels))
		if err != nil {
			return err
		}
		imgs = append(imgs, img)
	}
	idx, err := ociimage.Index(imgs...)
	if err != nil {
		return err
	}
	full := ociimage.FullReference(ref)
	if tagDigest {
		d, err := idx.Digest()
		if err != nil {
			return err
		}
		full += "-" + d.Hex[:12]
	}
	if err := ociimage.WriteArchive(out, full, idx); err != nil {
		return err
	}
	if err := os.WriteFile(out+".ref", []byte(full+"\n"), 0o644); err != nil {
		return err
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "image: %s (%s) in %s: %.1f MiB for %d platforms, built in %s\n", full, version, out,
		float64(st.Size())/(1<<20), len(imgs), time.Since(start).Round(time.Second))
	fmt.Println(full)
	return nil
}

// mainPackage is the package buildManager compiles (-pkg).
var mainPackage = "./cmd/manager"

// buildManager cross-compiles mainPackage (./cmd/manager unless -pkg says otherwise) and checks
// that the result is a static binary.
func buildManager(goos, goarch, out string) error {
	args := append([]string{"build"}, ociimage.ManagerBuildFlags...)
	cmd := exec.Command("go", append(args, "-o", out, mainPackage)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for %s/%s: %w", goos, goarch, err)
	}
	f, err := elf.Open(out)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New(out + " is dynamically linked: the image has no C library")
		}
	}
	return nil
}

// gitInfo is the version (git describe), the commit and its time, for the labels; the commit
// time (not the build time) keeps rebuilding the same commit byte-for-byte the same.
func gitInfo() (version, revision, created string) {
	git := func(args ...string) string {
		b, err := exec.Command("git", args...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	version = git("describe", "--tags", "--always", "--dirty")
	revision = git("rev-parse", "HEAD")
	created = git("show", "-s", "--format=%cI", "HEAD")
	if version == "" {
		version = "unknown"
	}
	if created == "" {
		created = time.Unix(0, 0).UTC().Format(time.RFC3339)
	}
	return version, revision, created
}

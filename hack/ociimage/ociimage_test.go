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

package ociimage

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func TestFullReference(t *testing.T) {
	for in, want := range map[string]string{
		"kickq/manager:dev":               "docker.io/kickq/manager:dev",
		"busybox":                         "docker.io/library/busybox:latest",
		"localhost/busybox:local":         "localhost/busybox:local",
		"registry.example:5000/kickq/m:1": "registry.example:5000/kickq/m:1",
		"ghcr.io/kickq/manager":           "ghcr.io/kickq/manager:latest",
	} {
		if got := FullReference(in); got != want {
			t.Errorf("FullReference(%q) = %q, want %q", in, got, want)
		}
	}
}

// untar unpacks an archive WriteArchive wrote, so go-containerregistry's layout reads it back.
func untar(t *testing.T, archive string) string {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name)
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, _ := io.ReadAll(tr)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// layerFiles lists a layer's entries as "type link-or-content mode uid" by name.
func layerFiles(t *testing.T, l v1.Layer) map[string]string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	got := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = fmt.Sprintf("%c %s%s %o %d", h.Typeflag, h.Linkname, b, h.Mode, h.Uid)
	}
}

func TestManagerIndexArchive(t *testing.T) {
	labels := ManagerLabels("v1.2.3", "abc", "2026-12-01T00:00:00Z")
	var imgs []v1.Image
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := Image(v1.Platform{OS: "linux", Architecture: arch}, ManagerFiles([]byte("binary-"+arch), []byte("ca")), ManagerConfig(labels))
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	idx, err := Index(imgs...)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "m.tar")
	if err := WriteArchive(out, "docker.io/kickq/manager:dev", idx); err != nil {
		t.Fatal(err)
	}
	top, err := layout.ImageIndexFromPath(untar(t, out))
	if err != nil {
		t.Fatal(err)
	}
	topM, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(topM.Manifests) != 1 {
		t.Fatalf("index.json has %d entries, want 1", len(topM.Manifests))
	}
	if diff := cmp.Diff(map[string]string{"io.containerd.image.name": "docker.io/kickq/manager:dev",
		"org.opencontainers.image.ref.name": "docker.io/kickq/manager:dev"}, topM.Manifests[0].Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	inner, err := top.ImageIndex(topM.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := inner.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, d := range m.Manifests {
		platforms = append(platforms, d.Platform.String())
		img, err := inner.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Config.User != "65532:65532" || cf.Architecture != d.Platform.Architecture {
			t.Errorf("%s: user %q, architecture %q", d.Platform, cf.Config.User, cf.Architecture)
		}
		if diff := cmp.Diff(labels, cf.Config.Labels); diff != "" {
			t.Errorf("%s labels (-want +got):\n%s", d.Platform, diff)
		}
		layers, _ := img.Layers()
		files := layerFiles(t, layers[0])
		for path, want := range map[string]string{
			"manager":                           "0 binary-" + d.Platform.Architecture + " 755 0",
			"etc/ssl/certs/ca-certificates.crt": "0 ca 644 0",
			"home/nonroot/":                     "5  700 65532",
			"tmp/":                              "5  1777 0",
		} {
			if files[path] != want {
				t.Errorf("%s: %s is %q, want %q", d.Platform, path, files[path], want)
			}
		}
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, platforms); diff != "" {
		t.Errorf("platforms (-want +got):\n%s", diff)
	}
}

func TestLayerIsReproducible(t *testing.T) {
	files := []File{{Path: "bin/busybox", Data: []byte("x")}, {Path: "bin/sh", Link: "busybox"}}
	digest := func() v1.Hash {
		l, err := Layer(files)
		if err != nil {
			t.Fatal(err)
		}
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if a, b := digest(), digest(); a != b {
		t.Errorf("the same files gave layers %s and %s", a, b)
	}
}

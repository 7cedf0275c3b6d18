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

// Package ociimage builds OCI images from local files with go-containerregistry and writes them
// as OCI archives (an OCI image layout in a tar) that `ctr images import` loads: the manager's
// image (hack/image) and the real node's busybox and pause images (hack/cluster/ociimage) are
// built here, without a Docker engine and without pulling anything.
package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// File is one entry of an image layer: a regular file (Data), a symlink (Link) or a directory (Dir).
type File struct {
	Path string // inside the image, without a leading slash
	Data []byte
	Link string
	Dir  bool
	Mode int64 // permission bits; 0 means 0755 for files and directories
	UID  int
	GID  int
}

// epoch is every entry's modification time, so the same files give the same digest.
var epoch = time.Unix(0, 0).UTC()

// baseDirs are created in every layer unless a File names them (tmp is world-writable, sticky).
var baseDirs = []File{{Path: "tmp", Dir: true, Mode: 0o1777}, {Path: "etc", Dir: true}, {Path: "proc", Dir: true},
	{Path: "sys", Dir: true}, {Path: "dev", Dir: true}}

// Layer is a gzip layer of the files, their parent directories and the base directories, in a
// fixed order with fixed times: the same files always give the same layer digest.
func Layer(files []File) (v1.Layer, error) {
	entries := map[string]File{}
	for _, d := range baseDirs {
		entries[d.Path] = d
	}
	for _, f := range files {
		p := strings.Trim(path.Clean("/"+f.Path), "/")
		if p == "" {
			return nil, fmt.Errorf("file %q: empty path", f.Path)
		}
		f.Path = p
		entries[p] = f
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = File{Path: d, Dir: true}
			}
		}
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		if err := writeEntry(tw, entries[n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

func writeEntry(tw *tar.Writer, f File) error {
	h := &tar.Header{Name: f.Path, Mode: f.Mode, ModTime: epoch, Uid: f.UID, Gid: f.GID, Format: tar.FormatPAX}
	if h.Mode == 0 {
		h.Mode = 0o755
	}
	switch {
	case f.Dir:
		h.Typeflag, h.Name = tar.TypeDir, f.Path+"/"
	case f.Link != "":
		h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.Link, 0o777
	default:
		h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Data))
	}
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	if h.Typeflag == tar.TypeReg {
		if _, err := tw.Write(f.Data); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	return nil
}

// Image is an OCI image for the platform with one layer of the files and the given config.
func Image(platform v1.Platform, files []File, cfg v1.Config) (v1.Image, error) {
	layer, err := Layer(files)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
	cf.Created = v1.Time{Time: epoch}
	cf.Config = cfg
	return mutate.ConfigFile(img, cf)
}

// Index is an OCI image index of the images, each described with its platform.
func Index(imgs ...v1.Image) (v1.ImageIndex, error) {
	adds := make([]mutate.IndexAddendum, 0, len(imgs))
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}}})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...), nil
}

// refAnnotations name the image for containerd (io.containerd.image.name, a full reference) and
// for OCI tools (org.opencontainers.image.ref.name).
func refAnnotations(ref string) map[string]string {
	return map[string]string{"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": ref}
}

// WriteArchive writes an OCI image layout holding img (a v1.Image or a v1.ImageIndex) named ref
// as a tar at out.
func WriteArchive(out, ref string, img any) error {
	dir, err := os.MkdirTemp(filepath.Dir(out), ".oci-layout-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	switch v := img.(type) {
	case v1.ImageIndex:
		err = p.AppendIndex(v, layout.WithAnnotations(refAnnotations(ref)))
	case v1.Image:
		err = p.AppendImage(v, layout.WithAnnotations(refAnnotations(ref)))
	default:
		err = fmt.Errorf("cannot write a %T", img)
	}
	if err != nil {
		return err
	}
	return tarDir(dir, out)
}

// tarDir writes the files under dir, in name order, as a tar at out (written to a temporary
// file first, so a failed build never leaves half an archive).
func tarDir(dir, out string) error {
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Name: rel + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch})
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: rel, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b)), ModTime: epoch}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, out)
}

// FullReference is ref as containerd and the kubelet name it: a reference without a registry
// host is on docker.io (and a single name under library/), e.g. kickq/manager:dev ->
// docker.io/kickq/manager:dev; a reference without a tag gets :latest.
func FullReference(ref string) string {
	name, tag := ref, ""
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		name, tag = ref[:i], ref[i:]
	}
	if tag == "" && !strings.Contains(ref, "@") {
		tag = ":latest"
	}
	first, _, hasSlash := strings.Cut(name, "/")
	switch {
	case !hasSlash:
		name = "docker.io/library/" + name
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		name = "docker.io/" + name
	}
	return name + tag
}

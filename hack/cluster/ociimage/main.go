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

// Command ociimage writes an OCI image archive (one gzip layer, config, manifest, index with the
// io.containerd.image.name annotation) that `ctr images import` loads, from local files: the
// local cluster's images are built here, never pulled.
//
//	ociimage -name localhost/busybox:local -out busybox.tar -add /bin/busybox=bin/busybox \
//	  -link bin/sh=busybox -entrypoint /bin/sh
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	name := flag.String("name", "", "image reference, e.g. localhost/busybox:local")
	out := flag.String("out", "", "archive to write")
	entry := flag.String("entrypoint", "", "entrypoint (space-separated)")
	var adds, links list
	flag.Var(&adds, "add", "host-file=path-in-image (repeatable)")
	flag.Var(&links, "link", "path-in-image=target (symlink, repeatable)")
	flag.Parse()
	if err := write(*name, *out, *entry, adds, links); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

func digest(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }

func write(name, out, entry string, adds, links []string) error {
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	mtime := time.Unix(0, 0)
	dirs := map[string]bool{}
	mkdirs := func(p string) error {
		parts := strings.Split(p, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/") + "/"
			if !dirs[d] {
				dirs[d] = true
				if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime}); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, a := range adds {
		src, dst, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("-add %q: want host-file=path", a)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := mkdirs(dst); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: dst, Mode: 0o755, Size: int64(len(b)), ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	for _, l := range links {
		p, target, ok := strings.Cut(l, "=")
		if !ok {
			return fmt.Errorf("-link %q: want path=target", l)
		}
		if err := mkdirs(p); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: p, Linkname: target, Typeflag: tar.TypeSymlink, Mode: 0o777, ModTime: mtime}); err != nil {
			return err
		}
	}
	for _, d := range []string{"tmp/", "etc/", "proc/", "sys/", "dev/"} {
		if !dirs[d] {
			if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: mtime}); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	diffID := digest(tarBuf.Bytes())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	layer := gz.Bytes()
	cfg := map[string]any{
		"architecture": runtime.GOARCH, "os": "linux",
		"config": map[string]any{"Entrypoint": strings.Fields(entry), "Env": []string{"PATH=/bin:/usr/bin:/sbin"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	}
	cfgB, _ := json.Marshal(cfg)
	manifest := map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(cfgB), "size": len(cfgB)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(layer), "size": len(layer)}},
	}
	manB, _ := json.Marshal(manifest)
	index := map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []any{map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manB), "size": len(manB),
			"annotations": map[string]string{"io.containerd.image.name": name, "org.opencontainers.image.ref.name": name}}},
	}
	idxB, _ := json.Marshal(index)

	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	ow := tar.NewWriter(f)
	put := func(p string, b []byte) error {
		if err := ow.WriteHeader(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(b)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := ow.Write(b)
		return err
	}
	blob := func(b []byte) string { return "blobs/sha256/" + strings.TrimPrefix(digest(b), "sha256:") }
	for _, e := range []struct {
		p string
		b []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", idxB},
		{blob(cfgB), cfgB},
		{blob(manB), manB},
		{blob(layer), layer},
	} {
		if err := put(e.p, e.b); err != nil {
			return err
		}
	}
	return ow.Close()
}

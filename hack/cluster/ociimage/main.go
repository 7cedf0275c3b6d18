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

// Command ociimage writes a one-layer OCI image archive that `ctr images import` loads, from
// local files (hack/ociimage, on go-containerregistry): the real node's images are built here,
// never pulled.
//
//	ociimage -name localhost/busybox:local -out busybox.tar -add /bin/busybox=bin/busybox \
//	  -link bin/sh=busybox -entrypoint /bin/sh
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1"

	"kickq.dev/kickq/hack/ociimage"
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

func write(name, out, entry string, adds, links []string) error {
	var files []ociimage.File
	for _, a := range adds {
		src, dst, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("-add %q: want host-file=path", a)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		files = append(files, ociimage.File{Path: dst, Data: b})
	}
	for _, l := range links {
		p, target, ok := strings.Cut(l, "=")
		if !ok {
			return fmt.Errorf("-link %q: want path=target", l)
		}
		files = append(files, ociimage.File{Path: p, Link: target})
	}
	img, err := ociimage.Image(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, files,
		v1.Config{Entrypoint: strings.Fields(entry), Env: []string{"PATH=/bin:/usr/bin:/sbin"}})
	if err != nil {
		return err
	}
	return ociimage.WriteArchive(out, ociimage.FullReference(name), img)
}

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
	"github.com/google/go-containerregistry/pkg/v1"
)

// The manager's image, as hack/image builds it and as the Dockerfile describes it on top of
// gcr.io/distroless/static:nonroot (test/build checks that the two agree): a static binary at
// /manager (cron time zones come from time/tzdata, built into it), run as the non-root user
// 65532, with the system CA bundle for HTTPS webhooks, /etc/passwd and /etc/group naming the
// user, and a world-writable /tmp.
const (
	ManagerUser       = "65532:65532"
	ManagerBinary     = "/manager"
	ManagerCABundle   = "etc/ssl/certs/ca-certificates.crt"
	managerUID        = 65532
	managerPasswd     = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	managerGroup      = "root:x:0:\nnonroot:x:65532:\n"
	managerTitle      = "kickq-manager"
	managerDescriptor = "The kickq operator: a Kubernetes-native job queue (Queue and QueueJob, kickq.dev/v1alpha1)."
)

// ManagerBuildFlags are the go build flags of the manager's binary (with CGO_ENABLED=0).
var ManagerBuildFlags = []string{"-trimpath", "-ldflags=-s -w"}

// ManagerLabels are the image's OCI labels (org.opencontainers.image.*); version, revision and
// created (RFC 3339) come from the build.
func ManagerLabels(version, revision, created string) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       managerTitle,
		"org.opencontainers.image.description": managerDescriptor,
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.vendor":      "The kickq Authors",
		"org.opencontainers.image.version":     version,
		"org.opencontainers.image.revision":    revision,
		"org.opencontainers.image.created":     created,
	}
}

// ManagerConfig is the image's run configuration.
func ManagerConfig(labels map[string]string) v1.Config {
	return v1.Config{
		User:       ManagerUser,
		Entrypoint: []string{ManagerBinary},
		WorkingDir: "/",
		Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin",
			"SSL_CERT_FILE=/" + ManagerCABundle},
		Labels: labels,
	}
}

// ManagerFiles are the image's files: the binary, the CA bundle, the user's passwd and group
// entries and home.
func ManagerFiles(binary, caBundle []byte) []File {
	return []File{
		{Path: ManagerBinary[1:], Data: binary, Mode: 0o755},
		{Path: ManagerCABundle, Data: caBundle, Mode: 0o644},
		{Path: "etc/passwd", Data: []byte(managerPasswd), Mode: 0o644},
		{Path: "etc/group", Data: []byte(managerGroup), Mode: 0o644},
		{Path: "home/nonroot", Dir: true, Mode: 0o700, UID: managerUID, GID: managerUID},
	}
}

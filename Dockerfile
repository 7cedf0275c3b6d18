# The manager's image for users with a Docker engine. `make image` builds the same image without
# one (hack/image, go-containerregistry): a static binary at /manager (cmd/manager imports
# time/tzdata, so cron time zones work without /usr/share/zoneinfo), user 65532, the system CA
# bundle, /etc/passwd with the nonroot user, the OCI labels below; test/build checks that the two
# agree (hack/ociimage/manager.go).
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=$(git describe --tags --always --dirty) --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(git show -s --format=%cI HEAD) -t kickq/manager:dev .
FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS=linux
ARG TARGETARCH=amd64
WORKDIR /workspace
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o manager ./cmd/manager

# A distroless static image, non-root: /etc/passwd (nonroot = 65532), CA certificates, /tmp.
FROM gcr.io/distroless/static:nonroot
ARG VERSION=unknown
ARG REVISION=
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="kickq-manager" \
      org.opencontainers.image.description="The kickq operator: a Kubernetes-native job queue (Queue and QueueJob, kickq.dev/v1alpha1)." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="The kickq Authors" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
WORKDIR /
COPY --from=builder /workspace/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]

# syntax=docker/dockerfile:1
#
# Meridian's container image: the static `meridian` binary and CA
# certificates on distroless, running as a numeric non-root user.
#
#   docker build -t meridian:dev .
#   docker run --rm meridian:dev help
#
# `meridian serve` runs as PID 1: it handles SIGTERM and SIGINT itself
# (drain, then exit 0), SIGHUP reloads the topology, and it starts no child
# processes, so no init process is needed to reap zombies.
# docs/operations.md ("Kubernetes") covers the chart in deploy/helm/meridian.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# go build fetches only the modules the binary needs (the test-only
# modules, such as the Helm SDK, stay out); the cache mounts keep them and
# the build cache between builds.
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/meridian ./cmd/meridian
# The working directory of the final image, writable by the runtime user
# (relative audit.dir and server.data_dir land here when no volume is given).
RUN mkdir -p /out/var/lib/meridian

FROM gcr.io/distroless/static:nonroot
LABEL org.opencontainers.image.title="meridian" \
      org.opencontainers.image.description="Meridian cross-region LLM inference gateway" \
      org.opencontainers.image.source="https://github.com/meridian-gateway/meridian"
COPY --from=build /out/meridian /meridian
COPY --from=build --chown=65532:65532 /out/var/lib/meridian /var/lib/meridian
WORKDIR /var/lib/meridian
USER 65532:65532
EXPOSE 8080 9443 9090
ENTRYPOINT ["/meridian"]
CMD ["help"]

# syntax=docker/dockerfile:1
#
# The multilink daemon: the static binary plus OpenVPN, nothing else.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) --build-arg COMMIT=$(git rev-parse --short=12 HEAD) -t multilink .
#   docker run -d --name multilink --network host --device /dev/net/tun \
#     --cap-drop ALL --cap-add NET_ADMIN --cap-add NET_RAW --cap-add BPF --cap-add PERFMON \
#     -v /var/lib/multilink:/var/lib/multilink -v /sys/fs/bpf:/sys/fs/bpf multilink
#
# On Kubernetes use the charts in charts/ (docs/kubernetes.md); they set the
# same capabilities. deploytest/ checks this file without a Docker engine:
# pinned bases, build inputs in the context, flags the binary knows.
#
# Base images are pinned by the digest of their multi-arch index (the tag is
# for humans; docker-library/repo-info lists both). golang:1.26.8 is go.mod's
# go line (the image sets GOTOOLCHAIN=local); bookworm-20260918 is the Debian
# snapshot that golang image is built on.

FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm@sha256:f4191582e1522dfc5980a6bdc0309a756f9697f3e7d0f199c7e26fc82ab324fd AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=
# Static (no cgo), as `make build`: the runtime image needs no Go and no libc match.
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" -o /out/multilink ./cmd/multilink

FROM debian:bookworm-20260918-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251
ARG DEBIAN_FRONTEND=noninteractive
# openvpn: one process per link (bookworm ships 2.6). ca-certificates: a hub
# API given as https://. busybox: one 1 MB binary whose wget runs the
# HEALTHCHECK (curl would pull in a dozen libraries). No iproute2: the daemon
# speaks netlink itself and OpenVPN gets no ifconfig/route directives.
# Versions are not pinned: the base digest fixes the snapshot, and Debian
# drops superseded versions from its mirrors, which would break the build.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openvpn ca-certificates busybox \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/multilink /usr/local/bin/multilink

# Root uid, few capabilities. The daemon execs openvpn, which must keep
# CAP_NET_ADMIN (SO_MARK on every new socket after a ping-restart, attaching
# to the TAP the daemon made). A non-root user would need ambient
# capabilities (Kubernetes has none) or file capabilities on both binaries,
# which no_new_privs (allowPrivilegeEscalation: false) voids. So the uid is
# 0, but the container gets only NET_ADMIN, NET_RAW, BPF and PERFMON
# (--cap-drop ALL, then add; the charts do the same and explain each one),
# no privilege escalation and a read-only root filesystem. Root owns the
# state dir and /dev/net/tun is 0666, so no DAC_OVERRIDE either.
USER 0:0

# Desired state, link keys, tunnel configs: keep it across container restarts.
VOLUME /var/lib/multilink
EXPOSE 3333/tcp

# /health answers 200 when ok or degraded and 503 when down; busybox wget
# exits non-zero on any status >= 400, and on no answer within 2 s.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["busybox", "wget", "-q", "-T", "2", "-O", "/dev/null", "http://127.0.0.1:3333/health"]

ENTRYPOINT ["multilink", "daemon"]
CMD ["--listen", "0.0.0.0:3333", "--state-dir", "/var/lib/multilink"]

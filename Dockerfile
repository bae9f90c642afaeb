# syntax=docker/dockerfile:1
#
# wecom-home-ops: one static binary in a distroless image.
#
#   docker build -t wecom-home-ops --build-arg VERSION=$(git describe --tags --always) .
#   docker run -d --name bot -p 127.0.0.1:8080:8080 \
#     -v "$PWD/deploy/config:/config:ro" -v bot-data:/data wecom-home-ops
#
# The config must say server.listen: "0.0.0.0:8080" and data_dir: /data
# (deploy/config/config.yaml does). See docs/setup.md and deploy/.

# ---- build: runs on the build machine's platform, cross-compiles for the target.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src

# Modules first, so that a source change does not download them again.
# In mainland China: --build-arg GOPROXY=https://goproxy.cn,direct (empty: Go's default).
ARG GOPROXY
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
# CGO_ENABLED=0: a static binary (the SQLite driver is pure Go).
# timetzdata: the time zone database is embedded, so TZ=Asia/Shanghai works
# in an image without /usr/share/zoneinfo.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -tags timetzdata \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/bot ./cmd/bot \
 && mkdir -p /out/data

# ---- run: distroless static has CA certificates, /etc/passwd with nonroot
# (65532) and no shell. The bot is its own health check (bot healthcheck).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bot /bot
# /data must belong to the bot before the volume is first created from it.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/bot", "healthcheck"]
ENTRYPOINT ["/bot"]
CMD ["serve", "-config", "/config/config.yaml"]

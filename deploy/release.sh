#!/usr/bin/env sh
# The release targets of .goreleaser.yaml built with plain `go build`, plus checksums:
# static linux amd64, arm64 and armv7 binaries in dist/ and dist/checksums.txt.
#   deploy/release.sh [version]     (default: dev)
# CI runs this instead of GoReleaser's snapshot build: compiling GoReleaser (hundreds of
# modules) takes minutes and needs the module proxy, while these three builds reuse the
# module cache the tests already filled and work offline. The flags match .goreleaser.yaml;
# TestReleaseScriptMatchesGoreleaser keeps the two in step.
set -eu
cd "$(dirname "$0")/.."
version="${1:-dev}"
out=dist
rm -rf "$out"
mkdir -p "$out"
for target in amd64: arm64: arm:7; do
  arch="${target%%:*}"
  arm="${target#*:}"
  name="wecom-home-ops_${version}_linux_${arch}${arm:+v$arm}"
  CGO_ENABLED=0 GOOS=linux GOARCH="$arch" GOARM="$arm" \
    go build -trimpath -tags timetzdata -ldflags "-s -w -X main.version=$version" \
    -o "$out/$name/wecom-home-ops" ./cmd/bot
done
(cd "$out" && sha256sum */wecom-home-ops > checksums.txt)
cat "$out/checksums.txt"

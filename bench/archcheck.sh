#!/usr/bin/env bash
# Cross-architecture check (docs/performance.md): runs MANIFEST (default
# manifests/arch.yaml) once with the amd64 plugin binaries of bin/ and once
# with arm64 builds of the same plugins executed by qemu-user through
# binfmt_misc, each into a fresh store, and fails unless every OutputID agrees.
# Needs: make build, Debian qemu-user-static, and the qemu-aarch64 binfmt_misc
# handler registered (root; .ci/run does it).
set -euo pipefail
cd "$(dirname "$0")/.."
manifest=${1:-manifests/arch.yaml}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/arm64"
for p in datagen hessian train select; do
  GOARCH=arm64 CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags=-buildid= \
    -o "$tmp/arm64/pipeline-plugin-$p" "./plugins/$p"
done
run() { bin/pipeline "$@" --log-level error run --out "" --json "$manifest"; }
t0=$(date +%s)
run --store "$tmp/s-amd64" > "$tmp/amd64.json"
t1=$(date +%s)
run --plugin-dir "$tmp/arm64" --store "$tmp/s-arm64" > "$tmp/arm64.json"
t2=$(date +%s)
echo "amd64 run $((t1 - t0)) s, arm64 run (qemu) $((t2 - t1)) s"
go build -o "$tmp/runids" ./bench/runids
"$tmp/runids" "$tmp/amd64.json" > "$tmp/amd64.ids"
"$tmp/runids" "$tmp/arm64.json" > "$tmp/arm64.ids"
if ! diff "$tmp/amd64.ids" "$tmp/arm64.ids"; then
  echo "archcheck: OutputIDs differ between amd64 (<) and arm64 (>)"; exit 1
fi
echo "archcheck: $(wc -l < "$tmp/amd64.ids") outputs, identical OutputIDs on amd64 and arm64"

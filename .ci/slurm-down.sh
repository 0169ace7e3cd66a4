#!/usr/bin/env bash
# slurm-down.sh - stop the daemons that slurm-up.sh started, and only those
# (slurmd, slurmctld, slurmdbd, mariadbd, munged, in that order):
# each by the pid recorded in $SLURM_CI_STATE/pids (checked against its
# process name first), never by name. Jobs still queued or running are
# cancelled through Slurm first (set SLURM_CI_KEEP_JOBS=1 to skip that).
set -uo pipefail

STATE=${SLURM_CI_STATE:-/tmp/slurm-ci}
CONF=${SLURM_CI_CONF:-/etc/slurm/slurm.conf}
PIDS=$STATE/pids
export SLURM_CONF=$CONF

log() { printf '[slurm-down %(%H:%M:%S)T] %s\n' -1 "$*"; }

alive() { # PID NAME: live (non-zombie) process whose comm is NAME
  local pid=$1 name=$2 st
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$st" != Z ] && [ "$st" != X ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]
}

stop_one() { # NAME
  local name=$1 f=$PIDS/$1.pid pid
  [ -f "$f" ] || return 0   # not started by slurm-up.sh
  pid=$(cat "$f")
  if ! alive "$pid" "$name"; then
    log "$name: recorded pid $pid is not running"; rm -f "$f"; return 0
  fi
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 200); do alive "$pid" "$name" || break; sleep 0.1; done
  if alive "$pid" "$name"; then
    log "$name: pid $pid ignored SIGTERM for 20 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    for _ in $(seq 1 50); do alive "$pid" "$name" || break; sleep 0.1; done
  fi
  alive "$pid" "$name" && { log "$name: pid $pid still running!"; return 1; }
  rm -f "$f"; log "$name: stopped (pid $pid)"
}

ours_ctld=0
[ -f "$PIDS/slurmctld.pid" ] && alive "$(cat "$PIDS/slurmctld.pid")" slurmctld && ours_ctld=1
if [ "$ours_ctld" = 1 ] && [ "${SLURM_CI_KEEP_JOBS:-0}" != 1 ]; then
  jobs=$(squeue -h -o '%A' 2>/dev/null | sort -u | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    log "cancelling jobs: $jobs"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null
    for _ in $(seq 1 100); do
      [ -z "$(squeue -h -o '%A' 2>/dev/null)" ] && break; sleep 0.1
    done
  fi
fi

rc=0
for d in slurmd slurmctld slurmdbd mariadbd munged; do
  stop_one $d || rc=1
done
exit $rc

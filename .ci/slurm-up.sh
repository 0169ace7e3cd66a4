#!/usr/bin/env bash
# slurm-up.sh - start a real single-node Slurm cluster (munged, slurmctld,
# slurmd; optionally mariadbd + slurmdbd for sacct) on this machine WITHOUT
# systemd and without cgroups. Idempotent: installs the Debian packages if
# missing, writes the config, starts only the daemons that are not already
# running (pids recorded in $SLURM_CI_STATE/pids), then waits until the node
# "localhost" is idle and a warm-up job has run. Must run as root.
# Tested on Debian 12 bookworm (Slurm 22.05.8, munge 0.5.15, MariaDB 10.11).
#
# Environment knobs (all optional):
#   SLURM_CI_STATE        state/log/spool/pid dir        (default /tmp/slurm-ci)
#   SLURM_CI_CONF         slurm.conf path                (default /etc/slurm/slurm.conf)
#                         (if not the default, export SLURM_CONF=<path> for clients)
#   SLURM_CI_TIMEOUT      seconds to wait for idle node  (default 60)
#   SLURM_CI_MIN_JOB_AGE  MinJobAge: seconds a finished job stays visible to
#                         squeue/scontrol (default 300; a value <= 4 makes
#                         `sbatch --wait` poll every 2 s instead of 2,8,32,32..)
#   SLURM_CI_ACCOUNTING=1 also run a private MariaDB + slurmdbd so that plain
#                         `sacct` works (adds 5-11 s install, 2-3 s start).
#                         Switching it on/off needs slurm-down.sh first.
#   SLURM_CI_DB_PORT      MariaDB TCP port on 127.0.0.1  (default 3307)
#   SLURM_CI_CLEAN=1      wipe controller state, job log and database first
#                         (job ids restart at 1)
#   SLURM_CI_WARMUP=0     skip the trivial warm-up job run after a fresh start
#   SLURM_CI_KILL_WAIT    KillWait: seconds between SIGTERM and SIGKILL when a
#                         job is cancelled or hits its time limit (default 5;
#                         Slurm's own default is 30)
#   SLURM_CI_OVER_TIME_LIMIT  OverTimeLimit: minutes a job may run past its
#                         time limit before it is killed (default 0)
# The values in force are printed by `scontrol show config`. Changing a knob
# of a running cluster needs `.ci/slurm-down.sh` first (the config is only
# rewritten while no daemon of ours runs).
#
# Used by .ci/run and by the tests of pipeline/internal/slurm (the project's
# Slurm executor); see docs/slurm.md. Adapted from the measured recipe in
# shared/SLURM.md.
set -euo pipefail

STATE=${SLURM_CI_STATE:-/tmp/slurm-ci}
CONF=${SLURM_CI_CONF:-/etc/slurm/slurm.conf}
CONFDIR=$(dirname "$CONF")
TIMEOUT=${SLURM_CI_TIMEOUT:-60}
MIN_JOB_AGE=${SLURM_CI_MIN_JOB_AGE:-300}
KILL_WAIT=${SLURM_CI_KILL_WAIT:-5}
OVER_TIME_LIMIT=${SLURM_CI_OVER_TIME_LIMIT:-0}
ACCT=${SLURM_CI_ACCOUNTING:-0}
DB_PORT=${SLURM_CI_DB_PORT:-3307}
PIDS=$STATE/pids
DB=$STATE/db
MUNGE_SOCKET=/run/munge/munge.socket.2
export SLURM_CONF=$CONF

log() { printf '[slurm-up %(%H:%M:%S)T] %s\n' -1 "$*"; }
die() { log "ERROR: $*"; exit 1; }
since() { local d=$(( ($(date +%s%N) - $1) / 10000000 )); printf "%d.%02d" $((d / 100)) $((d % 100)); }  # seconds since $1 (date +%s%N)

[ "$(id -u)" = 0 ] || die "must run as root"

# alive PID NAME: true if PID is a live (non-zombie) process whose comm is NAME.
# (Killed daemons can linger as zombies until PID 1 reaps them; kill -0 would
# still succeed on those.)
alive() {
  local pid=$1 name=$2 st
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$st" != Z ] && [ "$st" != X ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]
}
recorded_alive() { # NAME -> true if our recorded daemon NAME is running
  local f=$PIDS/$1.pid
  [ -f "$f" ] && alive "$(cat "$f")" "$1"
}
# start_bg NAME LOGFILE CMD... : start CMD in its own session, in the
# foreground mode of the daemon, and record its pid. setsid and setpriv
# exec (no fork) when run from a script, so $! is the daemon's own pid.
start_bg() {
  local name=$1 out=$2; shift 2
  setsid "$@" </dev/null >>"$out" 2>&1 &
  echo $! >"$PIDS/$name.pid"
  sleep 0.05
  alive "$!" "$name" || { tail -n 30 "$out" >&2; die "$name exited at once"; }
  log "$name started (pid $!)"
}

# ---------------------------------------------------------------- install
t0=$(date +%s%N)
need=()
for c in slurmctld slurmd sbatch munged; do command -v $c >/dev/null || need=(slurmctld slurmd slurm-client munge); done
if [ "$ACCT" = 1 ]; then
  command -v slurmdbd >/dev/null || need+=(slurmdbd)
  command -v mariadbd >/dev/null || need+=(mariadb-server)
fi
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  log "installed in $(since "$t0") s"
fi

mkdir -p "$STATE"/{ctld,spool,log} "$PIDS" "$CONFDIR"

# ---------------------------------------------------------------- munge
munge_ok() { munge -n -S "$MUNGE_SOCKET" 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1; }
if recorded_alive munged && munge_ok; then
  log "munged already running (ours, pid $(cat "$PIDS/munged.pid"))"
elif munge_ok; then
  log "munged already running (not started by us; will not stop it)"
else
  rm -f "$PIDS/munged.pid"
  if [ ! -s /etc/munge/munge.key ]; then   # the munge package normally makes it
    log "creating /etc/munge/munge.key"
    mkdir -p /etc/munge
    mungekey -c -k /etc/munge/munge.key
  fi
  # munged refuses to run as root unless --force: run it as user munge and
  # give that user everything munged checks the ownership of.
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /etc/munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge
  chmod 0700 /etc/munge /var/log/munge
  chmod 0600 /etc/munge/munge.key
  chmod 0711 /var/lib/munge
  chmod 0755 /run/munge
  rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
  start_bg munged "$STATE/log/munged.out" \
    setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F
  for _ in $(seq 1 50); do munge_ok && break; sleep 0.1; done
  munge_ok || { tail -n 20 /var/log/munge/munged.log >&2 || true; die "munged does not answer"; }
fi

# ---------------------------------------------------------------- config
running=0
for d in slurmctld slurmd slurmdbd; do recorded_alive $d && running=1; done
if [ $running = 1 ]; then
  log "slurm daemons already running: keeping $CONF as it is"
else
  if [ "${SLURM_CI_CLEAN:-0}" = 1 ]; then
    log "SLURM_CI_CLEAN=1: wiping controller state, job log and database"
    rm -rf "${STATE:?}/ctld"/* "${STATE:?}/spool"/* "$STATE/log/jobcomp.log"
    recorded_alive mariadbd || rm -rf "$DB"
  fi
  # One node called localhost with exactly what slurmd detects (CPUs,
  # sockets, cores, threads, RealMemory), so it is never drained as INVAL.
  NODELINE=$(slurmd -C | head -n1 | sed 's/^NodeName=[^ ]*/NodeName=localhost/')
  case "$NODELINE" in NodeName=localhost*CPUs=*RealMemory=*) ;; *) die "slurmd -C gave: $NODELINE";; esac
  if [ "$ACCT" = 1 ]; then
    ACCT_LINES="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/linux"
  else
    ACCT_LINES="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
  fi
  cat >"$CONF.tmp" <<EOF
# written by slurm-up.sh - single-node CI cluster, no systemd, no cgroups
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pidfile
SlurmdPidFile=$STATE/slurmd.pidfile
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
$ACCT_LINES
# completed-job log, readable without slurmdbd with: sacct -c
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/log/jobcomp.log
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
EnforcePartLimits=ALL
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
MinJobAge=$MIN_JOB_AGE
KillWait=$KILL_WAIT
OverTimeLimit=$OVER_TIME_LIMIT
SlurmctldTimeout=30
SlurmdTimeout=60
$NODELINE State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
  log "wrote $CONF ($NODELINE)"
fi

# ---------------------------------------------------------------- accounting
if [ "$ACCT" = 1 ]; then
  t2=$(date +%s%N)
  if recorded_alive mariadbd; then
    log "mariadbd already running (pid $(cat "$PIDS/mariadbd.pid"))"
  else
    mkdir -p "$DB"; chown mysql:mysql "$DB"
    if [ ! -d "$DB/data/mysql" ]; then
      mariadb-install-db --user=mysql --datadir="$DB/data" --skip-test-db \
        --auth-root-authentication-method=socket >"$STATE/log/mariadb-install.log" 2>&1 \
        || { tail -n 20 "$STATE/log/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
    fi
    start_bg mariadbd "$STATE/log/mariadbd.out" \
      mariadbd --no-defaults --user=mysql --datadir="$DB/data" --socket="$DB/mysql.sock" \
        --pid-file="$DB/mariadbd.pidfile" --bind-address=127.0.0.1 --port="$DB_PORT" \
        --log-error="$STATE/log/mariadbd.log" --innodb-lock-wait-timeout=900
  fi
  sql() { mariadb --no-defaults -S "$DB/mysql.sock" -uroot -e "$1"; }
  for _ in $(seq 1 150); do sql 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done
  sql 'select 1' >/dev/null || { tail -n 20 "$STATE/log/mariadbd.log" >&2; die "mariadbd does not answer"; }
  sql "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmci';
       GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;"
  if recorded_alive slurmdbd; then
    log "slurmdbd already running (pid $(cat "$PIDS/slurmdbd.pid"))"
  else
    # slurmdbd reads slurmdbd.conf from the directory of slurm.conf; it must
    # be owned by SlurmUser (root) and mode 600.
    cat >"$CONFDIR/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
LogFile=$STATE/log/slurmdbd.log
PidFile=$STATE/slurmdbd.pidfile
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurmci
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$CONFDIR/slurmdbd.conf"
    start_bg slurmdbd "$STATE/log/slurmdbd.out" slurmdbd -D
  fi
  for _ in $(seq 1 150); do sacctmgr -n -P show cluster format=cluster >/dev/null 2>&1 && break; sleep 0.1; done
  sacctmgr -n -P show cluster format=cluster >/dev/null \
    || { tail -n 20 "$STATE/log/slurmdbd.log" >&2; die "slurmdbd does not answer"; }
  sacctmgr -n -P show cluster format=cluster | grep -qx ci || sacctmgr -i add cluster ci >/dev/null
  log "accounting (mariadbd + slurmdbd, cluster ci) ready after $(since "$t2") s"
fi

# ---------------------------------------------------------------- slurm daemons
t1=$(date +%s%N)
started_ctld=0
if recorded_alive slurmctld; then
  log "slurmctld already running (pid $(cat "$PIDS/slurmctld.pid"))"
else
  scontrol ping 2>/dev/null | grep -q 'is UP' && die "another slurmctld answers on this machine; not ours"
  start_bg slurmctld "$STATE/log/slurmctld.out" slurmctld -D -f "$CONF"
  started_ctld=1
fi
if recorded_alive slurmd; then
  log "slurmd already running (pid $(cat "$PIDS/slurmd.pid"))"
else
  start_bg slurmd "$STATE/log/slurmd.out" slurmd -D -N localhost -f "$CONF"
fi

# ---------------------------------------------------------------- wait for idle
deadline=$(( $(date +%s) + TIMEOUT ))
state=
while :; do
  state=$(sinfo -h -n localhost -o '%T' 2>/dev/null || true)
  case "$state" in idle|mixed|allocated) break;; esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "node not ready after ${TIMEOUT}s (state='$state')"
    for d in munged slurmctld slurmd; do recorded_alive $d || log "$d is NOT running (ours)"; done
    scontrol show node localhost 2>&1 | grep -E 'State|Reason' >&2 || true
    tail -n 30 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 2>/dev/null || true
    exit 1
  fi
  # drained/down for a stale reason (e.g. after an unclean stop): resume it
  case "$state" in down*|drain*) scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true;; esac
  sleep 0.2
done
log "node localhost is $state, $(since "$t1") s after starting slurmctld/slurmd"

# ---------------------------------------------------------------- warm-up job
# A fresh slurmctld runs its first scheduling pass ~3 s after start; jobs
# submitted before that wait for it. Run one trivial job end to end so the
# caller's first job is not slowed down (and so we know jobs really run).
if [ "$started_ctld" = 1 ] && [ "${SLURM_CI_WARMUP:-1}" = 1 ]; then
  tw=$(date +%s%N)
  wj=$(sbatch --parsable -J slurm-up-warmup -o /dev/null --wrap true) || die "warm-up sbatch failed"
  st=
  while [ "$(date +%s)" -lt "$deadline" ]; do
    st=$(scontrol show job -o "$wj" 2>/dev/null | grep -oE 'JobState=[A-Z_]+' | cut -d= -f2 || true)
    case "$st" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE) break;; esac
    sleep 0.2
  done
  [ "$st" = COMPLETED ] || { tail -n 30 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2; die "warm-up job $wj: state '$st'"; }
  log "warm-up job $wj COMPLETED after $(since "$tw") s"
fi
sinfo
scontrol ping

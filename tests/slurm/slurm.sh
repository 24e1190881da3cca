#!/usr/bin/env bash
# A single-node Slurm cluster for the tests, everything under one folder: munged, slurmctld and
# slurmd (Debian's slurm-wlm and munge), two fake GPUs, no systemd, nothing under /etc. After the
# recipe in the team's feasibility notes (local Slurm on this machine kind, tested there).
#
#   slurm.sh start DIR [OWNER_PID]   starts the cluster; prints SLURM_CONF=DIR/slurm.conf. When
#                                    OWNER_PID is given, a watchdog stops the cluster once that
#                                    process is gone (a test that crashed leaves nothing behind).
#   slurm.sh stop DIR                cancels every job, stops the daemons it started (by the pid
#                                    files under DIR, never by name) and removes DIR.
#
# Ports: two free ports picked by the kernel (bound to port 0, then released). The node has more
# CPUs than the machine (config_overrides) so that several sleeping test jobs run at once, and the
# scheduler runs at once after each submission and each end (the tests wait on it).
set -uo pipefail

cmd=${1:?usage: slurm.sh start|stop DIR [OWNER_PID]}
d=${2:?usage: slurm.sh start|stop DIR [OWNER_PID]}
owner=${3:-}
gpus=${SLURM_TEST_GPUS:-2}
cpus=${SLURM_TEST_CPUS:-8}
mem=${SLURM_TEST_MEM:-4096}  # MiB the node offers (DefMemPerCPU=128 per job)

alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${s#Z}" = "$s" ]; }  # zombie = dead

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop() {
  [ -d "$d" ] || return 0
  export SLURM_CONF=$d/slurm.conf
  if [ -s "$d/slurmctld.pid" ] && alive "$(cat "$d/slurmctld.pid")"; then
    timeout 10 scancel --user="$(id -un)" 2>/dev/null
    timeout 10 scontrol shutdown 2>/dev/null
  fi
  local p pid i
  for p in "$d/slurmctld.pid" "$d/slurmd.pid" "$d/munge/munged.pid" "$d/watchdog.pid"; do
    [ -s "$p" ] || continue
    pid=$(cat "$p")
    [ "$pid" = "$$" ] && continue
    alive "$pid" || continue
    kill "$pid" 2>/dev/null
    for i in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -9 "$pid" 2>/dev/null
  done
  # Job processes the daemons left behind (slurmstepd and the jobs under it) are ours too: they
  # run with this cluster's spool folder on their command line or in their environment.
  for pid in $(pgrep -f "slurmstepd.*" 2>/dev/null); do
    if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "SLURM_CONF=$d/slurm.conf"; then
      kill -9 "$pid" 2>/dev/null
    fi
  done
  rm -rf "$d"
  # The folder above, when the test fixture made it for the cluster alone (empty now): a test
  # process killed by a timeout leaves nothing behind in /tmp.
  rmdir "$(dirname "$d")" 2>/dev/null || true
}

start() {
  mkdir -p "$d"/{munge,state,spool,log,fakegpu} || return 1
  chmod 755 "$d" "$d/munge"  # munged wants o+x on the socket's folder
  mungekey --create --keyfile="$d/munge/munge.key" 2>/dev/null ||
    dd if=/dev/urandom of="$d/munge/munge.key" bs=1 count=1024 2>/dev/null || return 1
  chmod 600 "$d/munge/munge.key"
  munged --key-file="$d/munge/munge.key" --socket="$d/munge/munge.sock" \
    --pid-file="$d/munge/munged.pid" --log-file="$d/munge/munged.log" \
    --seed-file="$d/munge/munged.seed" || { cat "$d/munge/munged.log" >&2; return 1; }
  local i
  for ((i = 0; i < gpus; i++)); do
    # gres/gpu ignores GPUs without a File= and wants character devices; 195 is NVIDIA's major.
    mknod "$d/fakegpu/nvidia$i" c 195 "$i" || return 1
  done
  local ctld_port slurmd_port
  ctld_port=$(free_port) && slurmd_port=$(free_port) || return 1
  cat > "$d/slurm.conf" <<CONF
ClusterName=wfruntest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
AuthType=auth/munge
AuthInfo=socket=$d/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,default_queue_depth=1000
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$d/log/jobcomp.txt
MinJobAge=3600
KillWait=2
DefMemPerCPU=128
InactiveLimit=0
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus Sockets=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem Gres=gpu:$gpus State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  cat > "$d/gres.conf" <<CONF
AutoDetect=off
NodeName=localhost Name=gpu File=$d/fakegpu/nvidia[0-$((gpus - 1))]
CONF
  export SLURM_CONF=$d/slurm.conf
  slurmctld -f "$SLURM_CONF" || { tail -20 "$d/log/slurmctld.log" >&2; return 1; }
  slurmd -f "$SLURM_CONF" -N localhost || { tail -20 "$d/log/slurmd.log" >&2; return 1; }
  if [ -n "$owner" ]; then
    (
      trap '' INT TERM HUP
      while alive "$owner" && [ -d "$d" ]; do sleep 1; done
      "$0" stop "$d"
    ) </dev/null >/dev/null 2>&1 &
    echo $! > "$d/watchdog.pid"
  fi
  local st=""
  for i in $(seq 1 300); do  # up to 30 s for the node to be idle
    st=$(sinfo -h -n localhost -o %T 2>/dev/null)
    if [ "$st" = idle ]; then
      echo "SLURM_CONF=$SLURM_CONF"
      return 0
    fi
    sleep 0.1
  done
  echo "slurm did not come up (node state: $st)" >&2
  tail -20 "$d/log/slurmctld.log" "$d/log/slurmd.log" >&2
  return 1
}

case $cmd in
  start) start || { stop; exit 1; } ;;
  stop) stop ;;
  *) echo "usage: slurm.sh start|stop DIR [OWNER_PID]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# bench/slurm: the 200-job DAG of bench/dag-overhead (10 layers of 20 jobs; each layer needs the
# whole previous one; every job runs `true`) through a real single-node Slurm (tests/slurm/slurm.sh,
# 20 CPUs configured so that a whole layer runs at once), two ways in one run, repeated:
#   wfrun    `wfrun run dag.yaml --executor slurm` (one sbatch per job as its needs finish)
#   sbatch   a shell script that submits the same DAG up front with --dependency=afterok:... and
#            waits for the last layer (squeue every 0.1 s: the best a script can do)
# Then wfrun following 100 jobs that sleep 60 s at once: its CPU time while it waits, its peak RSS,
# and the squeue calls per minute (counted by a squeue wrapper on PATH).
# Usage: bench/slurm/run.sh [REPEATS]   (needs slurm-wlm and munge; a built wfrun)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
reps=${1:-3}
work=$(mktemp -d /tmp/wfrun-bench-slurm.XXXXXX)
chmod 755 "$work"  # munged wants every folder above its socket searchable by all
cluster=$work/cluster
cleanup() { "$BENCH_ROOT/tests/slurm/slurm.sh" stop "$cluster" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
export SLURM_CONF
SLURM_CONF=$(SLURM_TEST_CPUS=${SLURM_BENCH_JOBS:-100} SLURM_TEST_MEM=16384 "$BENCH_ROOT/tests/slurm/slurm.sh" start "$cluster" $$ | sed -n 's/^SLURM_CONF=//p')

# --- the DAG, for wfrun ----------------------------------------------------------------------
dag_yaml > dag.yaml

# --- the same DAG as sbatch --dependency ---------------------------------------------------------
cat > job.sh <<'SH'
#!/bin/sh
true
SH
cat > sbatch-dag.sh <<'SH'
#!/usr/bin/env bash
# Submits 10 layers of 20 `true` jobs, each layer after the whole previous one, and waits for the
# last layer to end.
set -euo pipefail
out=$1; mkdir -p "$out"
prev=""
for l in $(seq 0 9); do
  ids=()
  for j in $(seq 0 19); do
    dep=(); [ -n "$prev" ] && dep=(--dependency="afterok:$prev")
    ids+=("$(sbatch --parsable -J "dag-l${l}_${j}" -o "$out/l${l}_${j}.out" "${dep[@]}" job.sh)")
  done
  prev=$(IFS=:; echo "${ids[*]}")
done
last=$(IFS=,; echo "${ids[*]}")
while squeue -h -j "$last" -t PENDING,RUNNING,CONFIGURING,COMPLETING 2>/dev/null | grep -q .; do
  sleep 0.1
done
bad=$(squeue -h -j "$last" -t all -o %T | grep -vc COMPLETED || true)
[ "$bad" = 0 ] || { echo "some jobs did not complete" >&2; exit 1; }
SH
chmod +x sbatch-dag.sh

# Warm up: the first jobs after the cluster starts are slow, and wfrun's probe job runs once (its
# result is kept for an hour, as it is for a user who runs again).
"$WFRUN" run -q --executor slurm --state-dir state dag.yaml >/dev/null
./sbatch-dag.sh out >/dev/null

for i in $(seq 1 "$reps"); do
  measure wfrun.txt "$WFRUN" run -q --executor slurm --state-dir state dag.yaml
  rm -rf out; measure sbatch.txt ./sbatch-dag.sh out
done
w=$(median wfrun.txt 1); s=$(median sbatch.txt 1)
wc=$(median wfrun.txt 3); sc=$(median sbatch.txt 3)
ratio=$(awk -v a="$w" -v b="$s" 'BEGIN{printf "%.2f", a/b}')

# --- waiting: N jobs of 60 s at once; wfrun's CPU time, RSS and squeue calls -------------------
n=${SLURM_BENCH_JOBS:-100}
mkdir -p bin
real_squeue=$(command -v squeue)
cat > bin/squeue <<SH
#!/bin/sh
echo x >> $work/squeue.calls
exec $real_squeue "\$@"
SH
chmod +x bin/squeue
{
  echo "jobs:"
  for j in $(seq 1 "$n"); do
    echo "  s$j: {uses: script@v1, with: {script: \"sleep 60\"}}"
  done
} > sleep.yaml
: > squeue.calls
# CPU ticks of wfrun and of the children it waited for (sbatch, squeue, ...): /proc/PID/stat
# fields 14-17.
ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
PATH=$work/bin:$PATH /usr/bin/time -f '%e %U %S %M' -o sleep.time "$WFRUN" run -q --executor slurm --state-dir state sleep.yaml >/dev/null &
tpid=$!
sleep 0.5
wpid=$(pgrep -P "$tpid" -f "wfrun run" | head -1)
# Waiting means: every job submitted and running. Measure 30 s of that.
for i in $(seq 1 600); do
  [ "$(squeue -h -t RUNNING -o %j | grep -c '^wfrun-')" -ge "$n" ] && break
  sleep 0.1
done
sleep 2
t0=$(ticks "$wpid"); c0=$(wc -l < squeue.calls); s0=$(date +%s.%N)
sleep 30
t1=$(ticks "$wpid"); c1=$(wc -l < squeue.calls); s1=$(date +%s.%N)
wait "$tpid"
read -r sw su ss srss < sleep.time
hz=$(getconf CLK_TCK)
window=$(awk -v a="$s0" -v b="$s1" 'BEGIN{printf "%.1f", b - a}')
cpu_pct=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v w="$window" 'BEGIN{printf "%.2f", 100 * (b - a) / hz / w}')
wait_calls=$((c1 - c0))
calls=$(wc -l < squeue.calls)
cpu=$(awk -v u="$su" -v s="$ss" 'BEGIN{printf "%.2f", u + s}')
per_min=$(awk -v c="$calls" -v w="$sw" 'BEGIN{printf "%.1f", 60 * c / w}')

body=$(mktemp)
{
  echo "## slurm (issue 10)"
  echo
  echo "\`bench/slurm/run.sh $reps\`: the 200-job DAG of dag-overhead (10 layers × 20 \`true\` jobs, each layer needs the whole previous one) on a real single-node Slurm $(sinfo --version | awk '{print $2}') (tests/slurm/slurm.sh, ${SLURM_BENCH_JOBS:-100} CPUs configured on the 2-core machine, scheduler run at each submission and end); medians of $reps runs after one warm-up run each. $(machine_line) Other helpers' builds ran on the machine at the same time: wall times are noisy, CPU times less so."
  echo
  echo "| runner | wall time (s) | CPU time (s, with its children) | vs sbatch |"
  echo "|---|---|---|---|"
  echo "| wfrun \`--executor slurm\` | $w | $wc | ${ratio}× |"
  echo "| shell script, \`sbatch --dependency=afterok\` up front, \`squeue\` every 0.1 s for the last layer | $s | $sc | 1 |"
  echo
  echo "Goal: wfrun within 1.1× of the sbatch script's wall time (measured: ${ratio}×)."
  echo
  echo "Waiting: $n jobs of \`sleep 60\` at once (metrics sampled every second on the node, as by default). Over ${window} s with every job running, wfrun and the commands it ran used ${cpu_pct}% of one core (goal < 1%; $(getconf CLK_TCK) ticks a second, so one tick is $(awk -v w="$window" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", 100 / hz / w}')% here) and called squeue $wait_calls times. The whole run: ${sw} s, ${cpu} s of CPU with the $n submissions, peak RSS $(awk -v k="$srss" 'BEGIN{printf "%.1f", k/1024}') MB, squeue $calls times (${per_min} per minute): one call for all its jobs, 5 s after a change, then doubling up to 60 s while nothing changes."
} > "$body"
cat "$body"
write_section slurm "$body"

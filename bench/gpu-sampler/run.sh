#!/usr/bin/env bash
# bench/gpu-sampler: what the metrics sampler costs. 8 simulated GPUs (8xH100), 8 running jobs
# (each a process group of a shell and two sleeps, one GPU each), every sample stored in a real
# run store (SQLite, WAL). Reports CPU time per sample (a tight loop of TICKS samples) and the
# CPU share of one core while sampling at 1 Hz in real time for SECONDS, with the machine's own
# processes plus EXTRA sleeping ones (the sampler reads every /proc/PID/stat).
# Usage: bench/gpu-sampler/run.sh [TICKS] [SECONDS] [EXTRA]   (needs a build with gpu_sampler_bench)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
ticks=${1:-300}
seconds=${2:-30}
extra=${3:-500}
bench=${GPU_SAMPLER_BENCH:-$BENCH_ROOT/build/tests/gpu/gpu_sampler_bench}
[ -x "$bench" ] || { echo "no $bench: build the gpu_sampler_bench target (or set GPU_SAMPLER_BENCH)" >&2; exit 1; }

work=$(mktemp -d /tmp/wfrun-bench-sampler.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bench" --ticks "$ticks" --seconds "$seconds" --extra-procs 0 > "$work/base.txt"
"$bench" --ticks "$ticks" --seconds "$seconds" --extra-procs "$extra" > "$work/busy.txt"
cat "$work/base.txt" "$work/busy.txt"
get() { awk -v k="$2" '$1 == k {print $2}' "$1"; }

{
  echo "## Metrics sampler cost (bench/gpu-sampler)"
  echo
  echo "$(machine_line) 8 simulated H100s (\`WFRUN_FAKE_GPUS=8xH100\`), 8 jobs of 3 processes with one GPU each; every sample (8 GPU rows + 8 process-tree rows) stored in the run store. Tight loop: $ticks samples back to back. Live: sampling at 1 Hz for $seconds s as the engine's loop drives it (\`next_due()\` / \`sample_now()\`)."
  echo
  echo "| processes on the machine | CPU per sample | wall per sample | share of one core at 1 Hz (tight loop) | share of one core at 1 Hz (live) |"
  echo "|---|---|---|---|---|"
  for f in base busy; do
    printf '| %s | %s ms | %s ms | %s%% | %s%% |\n' "$(get "$work/$f.txt" processes_on_machine)" \
      "$(get "$work/$f.txt" cpu_ms_per_sample)" "$(get "$work/$f.txt" wall_ms_per_sample)" \
      "$(get "$work/$f.txt" cpu_pct_at_1hz_from_tight_loop)" "$(get "$work/$f.txt" cpu_pct_at_1hz_live)"
  done
  echo
  echo "The simulated provider costs nothing, so this is the sampler's own cost: the /proc walk (every /proc/PID/stat on every fifth sample, the jobs' known processes in between) and the SQLite insert. NVML adds a few calls per GPU; with nvidia-smi as the source the sampler reads one long-running \`nvidia-smi -lms\` instead of starting it every second."
} > "$work/section.md"
write_section gpu-sampler "$work/section.md"
echo "written to docs/benchmarks.md (section gpu-sampler)"

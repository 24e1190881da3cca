#!/usr/bin/env bash
# bench/gpu-check: the issue's checks on a machine with an NVIDIA GPU. Builds nothing: it runs the
# wfrun bundled into .gpu/ (on the build machine: scripts/bundle build .gpu, then unpack the
# tarball there: tar -C .gpu -xzf .gpu/wfrun-*-linux-x86_64.tar.gz).
#   1. `wfrun gpus --json`: the GPUs, found through NVML;
#   2. examples/gpu-notebook/workflow.yaml (a notebook training an MLP with PyTorch): the job's
#      CUDA_VISIBLE_DEVICES and device, and the mean GPU utilisation of the samples taken during
#      the training cell (`wfrun metrics RUN train --json`);
#   3. wfrun's wall-time overhead: the whole `wfrun run` against the same notebook converted with
#      `wfrun nb2py` and run with plain python3 (same parameters), median of REPEATS each, after
#      one warm-up of each.
# Usage: bench/gpu-check/run.sh [REPEATS=3]   (PYTHON: the interpreter with a CUDA torch, default
# python3; OUT: a folder for the logs and figures, default a temporary one)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
wfrun=${WFRUN:-$(ls -d "$root"/.gpu/wfrun-*/bin/wfrun 2>/dev/null | tail -n1)}
python=${PYTHON:-python3}
reps=${1:-3}
[ -x "$wfrun" ] || { echo "no wfrun in .gpu/: bundle a build there (scripts/bundle build .gpu && tar -C .gpu -xzf .gpu/wfrun-*-linux-x86_64.tar.gz)" >&2; exit 1; }
"$python" -c 'import torch' || { echo "$python has no torch" >&2; exit 1; }
out=${OUT:-$(mktemp -d /tmp/wfrun-gpu-check.XXXXXX)}
mkdir -p "$out"
export WFRUN_HOME=$out/state
wf=$root/examples/gpu-notebook/workflow.yaml
nb=$root/examples/gpu-notebook/notebooks/train.ipynb
now() { date +%s.%N; }

echo "== wfrun gpus --json"
"$wfrun" gpus --json | tee "$out/gpus.json"

echo "== the notebook as a plain script"
"$wfrun" nb2py "$nb" -o "$out/train.py"
mkdir -p "$out/plain"

plain() { (cd "$out/plain" && "$python" "$out/train.py" > "$out/plain.log" 2>&1); }
with_wfrun() { "$wfrun" run "$wf" --input python="$python" > "$out/wfrun-$1.log" 2>&1; }

echo "== warm-up (CUDA and file caches)"
plain
with_wfrun warmup
: > "$out/times"
for i in $(seq "$reps"); do
  t0=$(now); plain; t1=$(now); with_wfrun "$i"; t2=$(now)
  awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "%.3f %.3f\n", b - a, c - b }' | tee -a "$out/times"
done

# The measured runs' figures: the last wfrun run.
log=$out/wfrun-$reps.log
run_id=$(sed -n 's/^run \([0-9]*\) (#[0-9]*) started:.*/\1/p' "$log" | head -1)
run_dir=$(sed -n 's/^run [0-9]* (#[0-9]*) started: //p' "$log" | head -1)
"$wfrun" metrics "$run_id" train --json > "$out/metrics.json"
"$wfrun" metrics "$run_id" > "$out/metrics.txt"
cp "$run_dir/jobs/train/metrics.svg" "$out/" 2>/dev/null || true
cp "$run_dir/jobs/train/log" "$out/train.log"

"$python" - "$out" "$reps" <<'PY'
import json, re, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
gpus = json.load(open(f"{out}/gpus.json"))
log = open(f"{out}/train.log").read()
t0 = float(re.search(r"training started at ([0-9.]+)", log).group(1))
t1 = float(re.search(r"training ended at ([0-9.]+)", log).group(1))
device = re.search(r"device: (.*)", log).group(1)
visible = re.search(r"CUDA_VISIBLE_DEVICES = (.*)", log).group(1)
m = json.load(open(f"{out}/metrics.json"))
during = [s["util"] for s in m["samples"] if s["gpu"] is not None and s["util"] is not None
          and t0 <= s["t"] <= t1]
times = [tuple(map(float, l.split())) for l in open(f"{out}/times") if l.strip()]
plain = statistics.median(t[0] for t in times)
wf = statistics.median(t[1] for t in times)
names = ", ".join(g["name"] for g in gpus["gpus"]) or "none"
lines = [
    f"GPU source: {gpus['source']}; GPUs: {names}",
    f"job: CUDA_VISIBLE_DEVICES={visible}; device: {device}",
    f"training cell: {t1 - t0:.1f} s; GPU samples during it: {len(during)}; "
    f"mean GPU utilisation: {statistics.mean(during):.0f}%" if during else
    "training cell: no GPU samples during it",
    f"wall time, median of {reps}: plain python3 {plain:.2f} s, wfrun run {wf:.2f} s, "
    f"overhead {100 * (wf - plain) / plain:+.1f}%",
]
print("\n".join(lines))
open(f"{out}/figures.txt", "w").write("\n".join(lines) + "\n")
PY
echo "(logs, metrics and the chart in $out)"

#!/usr/bin/env bash
# bench/nbexec: (1) a 30-cell notebook of light cells run by `wfrun nbrun` and by
# `jupyter nbconvert --to notebook --execute`, same run; (2) a compute-heavy notebook (a few
# seconds of numpy per cell): `wfrun nbrun` against `python3` running the `wfrun nb2py` script.
# Usage: bench/nbexec/run.sh [REPEATS=2]   (needs: a built wfrun, /usr/bin/jupyter, python3-numpy;
# WFRUN=path/to/wfrun picks another binary than build/cli/wfrun)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
[ -x "$WFRUN" ] || { echo "no wfrun at $WFRUN: build it (cmake --build build) or set WFRUN" >&2; exit 1; }
[ -x /usr/bin/jupyter ] || { echo "needs /usr/bin/jupyter (Debian's jupyter-nbconvert)" >&2; exit 1; }
reps=${1:-2}
py=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d /tmp/wfrun-bench-nbexec.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

$py - <<'PY'
import json
def nb(cells):
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3",
            "language": "python", "display_name": "Python 3"}},
            "cells": [{"cell_type": "code", "id": "c%d" % i, "metadata": {}, "execution_count": None,
                       "outputs": [], "source": s} for i, s in enumerate(cells)]}
light = ["x = %d\nprint('cell', x)\nx * 2" % i for i in range(30)]
json.dump(nb(light), open("light.ipynb", "w"))
heavy = ["import numpy as np\nrng = np.random.default_rng(0)"] + [
    "a = rng.random((1200, 1200))\nfor _ in range(12):\n    a = a @ a\n    a /= a.max()\nfloat(a.sum())"
    for _ in range(4)]
json.dump(nb(heavy), open("heavy.ipynb", "w"))
PY
"$WFRUN" nb2py heavy.ipynb -o heavy.py

for _ in $(seq "$reps"); do
  measure light-w "$WFRUN" nbrun -q --python "$py" light.ipynb -o light.out.ipynb
  measure light-j /usr/bin/jupyter nbconvert --to notebook --execute --output-dir jup light.ipynb
  measure heavy-w "$WFRUN" nbrun -q --python "$py" heavy.ipynb -o heavy.out.ipynb
  measure heavy-p "$py" heavy.py
done
lw=$(median light-w 1); lj=$(median light-j 1); hw=$(median heavy-w 1); hp=$(median heavy-p 1)
hwc=$(median heavy-w 3); hpc=$(median heavy-p 3)
{
  echo "## nbexec: running notebooks"
  echo
  echo "$(machine_line) Median of $reps runs; Python is $py."
  echo
  echo "| notebook | wfrun nbrun | other | ratio |"
  echo "|---|---|---|---|"
  echo "| 30 light cells | ${lw} s | jupyter nbconvert --execute: ${lj} s | $(awk -v a="$lj" -v b="$lw" 'BEGIN{printf "%.1f× faster", a/b}') (goal ≥ 5×) |"
  echo "| 5 cells, seconds of numpy each | ${hw} s | python3 on the nb2py script: ${hp} s | $(awk -v a="$hw" -v b="$hp" 'BEGIN{printf "%+.1f%% overhead", (a/b-1)*100}') (goal ≤ 3%) |"
  echo "| the same, CPU time (user + system, all processes) | ${hwc} s | ${hpc} s | $(awk -v a="$hwc" -v b="$hpc" 'BEGIN{printf "%+.1f%%", (a/b-1)*100}') |"
  echo
  echo "Wall time on a shared 2-core machine swings by more than the overhead being measured;"
  echo "the CPU-time row is the steadier measure of what wfrun adds. An upper bound on wfrun's"
  echo "cost per cell, from the light notebook (its whole run, Python start-up included, over 30"
  echo "cells): $(awk -v a="$lw" 'BEGIN{printf "%.1f ms", a/30*1000}'), which is"
  echo "$(awk -v a="$lw" -v h="$hp" 'BEGIN{printf "%.2f%%", a/30*5/h*100}') of the heavy notebook's five cells."
} > section
cat section
write_section nbexec section

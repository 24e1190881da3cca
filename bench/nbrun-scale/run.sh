#!/usr/bin/env bash
# bench/nbrun-scale: `wfrun nbrun` on notebooks of 1,000, 2,000 and 4,000 trivial cells (`x = N`),
# to show that a run's time grows linearly with its cells (it grew with their square when the
# executed notebook was rewritten after every cell), and `jupyter nbconvert --execute` on the
# 1,000-cell one in the same run. Goal: 4,000 cells in under 3 s.
# Usage: bench/nbrun-scale/run.sh [REPEATS=3]   (needs: a built wfrun, /usr/bin/jupyter from
# `scripts/install-deps --bench`; WFRUN=path/to/wfrun picks another binary than build/cli/wfrun)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
[ -x "$WFRUN" ] || { echo "no wfrun at $WFRUN: build it (cmake --build build) or set WFRUN" >&2; exit 1; }
[ -x /usr/bin/jupyter ] || { echo "needs /usr/bin/jupyter (Debian's jupyter-nbconvert)" >&2; exit 1; }
reps=${1:-3}
py=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d /tmp/wfrun-bench-nbrun-scale.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
sizes=(1000 2000 4000)
for n in "${sizes[@]}"; do
  $py - "$n" <<'PY'
import json, sys
n = int(sys.argv[1])
nb = {"nbformat": 4, "nbformat_minor": 5,
      "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
      "cells": [{"cell_type": "code", "id": "c%d" % i, "metadata": {}, "execution_count": None,
                 "outputs": [], "source": "x = %d" % i} for i in range(n)]}
json.dump(nb, open("cells%d.ipynb" % n, "w"))
PY
done
for _ in $(seq "$reps"); do
  for n in "${sizes[@]}"; do
    measure "w$n" "$WFRUN" nbrun -q --python "$py" "cells$n.ipynb" -o "out$n.ipynb"
  done
  measure j1000 /usr/bin/jupyter nbconvert --to notebook --execute --output-dir jup cells1000.ipynb
done
for n in "${sizes[@]}"; do
  [ "$($py -c "import json,sys; print(sum(1 for c in json.load(open(sys.argv[1]))['cells'] if c['execution_count']))" "out$n.ipynb")" = "$n" ] ||
    { echo "out$n.ipynb does not have $n executed cells" >&2; exit 1; }
done
{
  echo "## nbrun-scale: trivial cells"
  echo
  echo "$(machine_line) Median of $reps runs; Python is $py. Each cell is \`x = N\`; the executed notebook is written as it goes."
  echo
  echo "| cells | wfrun nbrun wall | CPU time | per cell (wall) | jupyter nbconvert --execute |"
  echo "|---|---|---|---|---|"
  for n in "${sizes[@]}"; do
    w=$(median "w$n" 1); c=$(median "w$n" 3)
    jcol=""
    [ "$n" = 1000 ] && jcol="$(median j1000 1) s ($(awk -v a="$(median j1000 1)" -v b="$w" 'BEGIN{printf "%.0f× slower", a/b}'))"
    echo "| $n | ${w} s | ${c} s | $(awk -v a="$w" -v n="$n" 'BEGIN{printf "%.2f ms", a/n*1000}') | $jcol |"
  done
  w1=$(median w1000 1); w4=$(median w4000 1)
  echo
  echo "4,000 cells take $(awk -v a="$w4" -v b="$w1" 'BEGIN{printf "%.1f", a/b}')× the wall time of 1,000 and $(awk -v a="$(median w4000 3)" -v b="$(median w1000 3)" 'BEGIN{printf "%.1f", a/b}')× the CPU time: no worse than linear (4×), start-up being a fixed part. Before, it was 17× (6.3 s, 25 s and 109 s for 1,000, 2,000 and 4,000 cells), the executed notebook being rewritten after every cell. Goal: 4,000 cells in under 3 s."
  echo "Run: \`bench/nbrun-scale/run.sh $reps\`."
} > section
cat section
write_section nbrun-scale section

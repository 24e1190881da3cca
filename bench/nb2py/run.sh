#!/usr/bin/env bash
# bench/nb2py: convert every fixture notebook (tests/notebook/fixtures/*/input/*.ipynb) with
# `wfrun nb2py` and with `jupyter nbconvert --to script`, in one run; total wall time of each.
# Usage: bench/nb2py/run.sh [REPEATS=2]   (needs: a built wfrun, /usr/bin/jupyter; WFRUN=path/to/wfrun
# picks another binary than build/cli/wfrun)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
[ -x "$WFRUN" ] || { echo "no wfrun at $WFRUN: build it (cmake --build build) or set WFRUN" >&2; exit 1; }
[ -x /usr/bin/jupyter ] || { echo "needs /usr/bin/jupyter (Debian's jupyter-nbconvert)" >&2; exit 1; }
reps=${1:-2}
fixtures=${FIXTURES:-$BENCH_ROOT/tests/notebook/fixtures}
work=$(mktemp -d /tmp/wfrun-bench-nb2py.XXXXXX)
trap 'rm -rf "$work"' EXIT
mapfile -t nbs < <(ls "$fixtures"/*/input/*.ipynb)

wfrun_all() {
  for nb in "${nbs[@]}"; do
    "$WFRUN" nb2py --unsupported-magic-runtime-error "$nb" -o "$work/out.py"
  done
}
jupyter_all() {
  for nb in "${nbs[@]}"; do
    /usr/bin/jupyter nbconvert --to script --output-dir "$work/jup" "$nb" 2>/dev/null
  done
}
export -f wfrun_all jupyter_all
export WFRUN work
for _ in $(seq "$reps"); do
  measure "$work/w" bash -c "$(declare -p nbs); $(declare -f wfrun_all); wfrun_all"
  measure "$work/j" bash -c "$(declare -p nbs); $(declare -f jupyter_all); jupyter_all"
done
w=$(median "$work/w" 1); j=$(median "$work/j" 1)
ratio=$(awk -v a="$j" -v b="$w" 'BEGIN { printf "%.0f", (b > 0 ? a / b : 0) }')
{
  echo "## nb2py: converting ${#nbs[@]} notebooks"
  echo
  echo "$(machine_line) Median of $reps runs, total wall time for all notebooks, one process per notebook."
  echo
  echo "| tool | wall time |"
  echo "|---|---|"
  echo "| wfrun nb2py | ${w} s |"
  echo "| jupyter nbconvert --to script | ${j} s |"
  echo
  echo "wfrun is **${ratio}×** faster (goal: at least 50×)."
} > "$work/section"
cat "$work/section"
write_section nb2py "$work/section"

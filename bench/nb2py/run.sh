#!/usr/bin/env bash
# bench/nb2py: convert every fixture notebook (tests/notebook/fixtures/*/input/*.ipynb) to a
# script with one `wfrun nb2py ... -d OUT` call and with one `jupyter nbconvert --to script` call
# over the same files, in the same run; wall time and CPU time of each (and, for reference, wfrun
# with one process per notebook).
# Usage: bench/nb2py/run.sh [REPEATS=3]   (needs: a built wfrun, /usr/bin/jupyter from
# `scripts/install-deps --bench`; WFRUN=path/to/wfrun picks another binary than build/cli/wfrun,
# FIXTURES=dir another set of notebooks)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
[ -x "$WFRUN" ] || { echo "no wfrun at $WFRUN: build it (cmake --build build) or set WFRUN" >&2; exit 1; }
[ -x /usr/bin/jupyter ] || { echo "needs /usr/bin/jupyter (Debian's jupyter-nbconvert)" >&2; exit 1; }
reps=${1:-3}
fixtures=${FIXTURES:-$BENCH_ROOT/tests/notebook/fixtures}
work=$(mktemp -d /tmp/wfrun-bench-nb2py.XXXXXX)
trap 'rm -rf "$work"' EXIT
mapfile -t nbs < <(ls "$fixtures"/*/input/*.ipynb)
[ ${#nbs[@]} -gt 0 ] || { echo "no notebooks in $fixtures/*/input" >&2; exit 1; }
bytes=$(cat "${nbs[@]}" | wc -c)

each_wfrun() {
  for nb in "${nbs[@]}"; do
    "$WFRUN" nb2py --unsupported-magic-runtime-error "$nb" -o "$work/each.py"
  done
}
for _ in $(seq "$reps"); do
  rm -rf "$work/w" "$work/j"
  measure "$work/one-w" "$WFRUN" nb2py --unsupported-magic-runtime-error -d "$work/w" "${nbs[@]}"
  measure "$work/one-j" /usr/bin/jupyter nbconvert --to script --output-dir "$work/j" "${nbs[@]}"
  measure "$work/each-w" bash -c "$(declare -p nbs WFRUN work); $(declare -f each_wfrun); each_wfrun"
done
[ "$(ls "$work/w" | wc -l)" -eq ${#nbs[@]} ] || { echo "wfrun wrote $(ls "$work/w" | wc -l) scripts for ${#nbs[@]} notebooks" >&2; exit 1; }
ow=$(median "$work/one-w" 1); oj=$(median "$work/one-j" 1); ew=$(median "$work/each-w" 1)
owc=$(median "$work/one-w" 3); ojc=$(median "$work/one-j" 3); ewc=$(median "$work/each-w" 3)
owm=$(median "$work/one-w" 2); ojm=$(median "$work/one-j" 2)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f×", a / b; else print "n/a (below the timer'"'"'s 10 ms)" }'; }
{
  echo "## nb2py: converting ${#nbs[@]} notebooks"
  echo
  echo "$(machine_line) ${#nbs[@]} notebooks, $((bytes / 1024)) KiB in all (the Jupyter fixtures). Median of $reps runs; CPU time is user + system of the command and its children, which other work on a shared machine disturbs less than wall time."
  echo
  echo "| command | wall time | CPU time | peak memory |"
  echo "|---|---|---|---|"
  echo "| \`wfrun nb2py -d OUT *.ipynb\` (one call) | ${ow} s | ${owc} s | $((owm / 1024)) MB |"
  echo "| \`jupyter nbconvert --to script --output-dir OUT *.ipynb\` (one call) | ${oj} s | ${ojc} s | $((ojm / 1024)) MB |"
  echo "| \`wfrun nb2py\`, one process per notebook | ${ew} s | ${ewc} s | |"
  echo
  echo "One wfrun call is **$(ratio "$oj" "$ow")** faster than one nbconvert call in wall time and **$(ratio "$ojc" "$owc")** in CPU time (goal: at least 100×)."
  echo "Run: \`bench/nb2py/run.sh $reps\`."
} > "$work/section"
cat "$work/section"
write_section nb2py "$work/section"

#!/usr/bin/env bash
# bench/dag-overhead: a 200-job DAG (10 layers of 20 jobs; each layer needs the whole previous one;
# every job is `true` run by bash) run by wfrun, by `make -j2` and by `snakemake -j2` in one run,
# repeated. Then one job printing 1 GiB: wfrun's peak RSS and the log's size.
# Usage: bench/dag-overhead/run.sh [REPEATS]   (needs: scripts/install-deps --bench; a built wfrun)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
reps=${1:-5}
jobs=2
work=$(mktemp -d /tmp/wfrun-bench-dag.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

# --- the same graph three times --------------------------------------------------------------
dag_yaml > dag.yaml
{
  printf 'all:'; for j in $(seq 0 19); do printf ' l9_%d' "$j"; done; echo
  for l in $(seq 0 9); do for j in $(seq 0 19); do
    printf 'l%d_%d:' "$l" "$j"
    if ((l > 0)); then for k in $(seq 0 19); do printf ' l%d_%d' $((l-1)) "$k"; done; fi
    printf '\n\t@bash -c true\n'
  done; done
  printf '.PHONY: all'; for l in $(seq 0 9); do for j in $(seq 0 19); do printf ' l%d_%d' "$l" "$j"; done; done; echo
} > Makefile
{
  printf 'rule all:\n    input: [%s]\n' "$(for j in $(seq 0 19); do printf '"out/l9_%d",' "$j"; done)"
  for l in $(seq 0 9); do for j in $(seq 0 19); do
    printf 'rule l%d_%d:\n' "$l" "$j"
    if ((l > 0)); then printf '    input: [%s]\n' "$(for k in $(seq 0 19); do printf '"out/l%d_%d",' $((l-1)) "$k"; done)"; fi
    printf '    output: "out/l%d_%d"\n    shell: "bash -c true && touch {output}"\n' "$l" "$j"
  done; done
} > Snakefile

have_snakemake=1; command -v snakemake >/dev/null || have_snakemake=0
"$WFRUN" validate dag.yaml >/dev/null
for i in $(seq 1 "$reps"); do
  rm -rf state; measure wfrun.txt "$WFRUN" run dag.yaml -q -j $jobs --state-dir state
  measure make.txt make -s -j$jobs -f Makefile all
  if ((have_snakemake)); then
    rm -rf out .snakemake; measure snakemake.txt snakemake -j$jobs -q --snakefile Snakefile --nolock
  fi
done

w=$(median wfrun.txt 1); m=$(median make.txt 1); wr=$(median wfrun.txt 2)
mr=$(median make.txt 2)
ratio_make=$(awk -v a="$w" -v b="$m" 'BEGIN{printf "%.2f", a/b}')
if ((have_snakemake)); then
  s=$(median snakemake.txt 1); sr=$(median snakemake.txt 2)
  ratio_snake=$(awk -v a="$s" -v b="$w" 'BEGIN{printf "%.1f", a/b}')
fi

# --- one job printing 1 GiB ---------------------------------------------------------------------
cat > big.yaml <<'YAML'
jobs:
  loud:
    uses: script@v1
    with:
      script: yes 'wfrun 1 GiB output benchmark, one line of text after another ......' | head -c 1073741824
YAML
rm -rf state
/usr/bin/time -f '%e %M' -o big.txt "$WFRUN" run big.yaml -q --state-dir state >/dev/null
big_wall=$(awk '{print $1}' big.txt); big_rss=$(awk '{print $2}' big.txt)
log_bytes=$(stat -c %s state/runs/1/jobs/loud/log)

body=$(mktemp)
{
  echo "## dag-overhead (issue 2)"
  echo
  echo "\`bench/dag-overhead/run.sh $reps\`: a 200-job DAG (10 layers × 20 jobs, each layer needs the whole previous one, every job runs \`true\` through bash) at 2 jobs at once; medians of $reps runs. $(machine_line)"
  echo
  echo "| runner | wall time (s) | peak RSS (MB) | vs wfrun |"
  echo "|---|---|---|---|"
  echo "| wfrun $("$WFRUN" --version | awk '{print $2}') | $w | $(awk -v k="$wr" 'BEGIN{printf "%.1f", k/1024}') | 1 |"
  echo "| make -j2 | $m | $(awk -v k="$mr" 'BEGIN{printf "%.1f", k/1024}') | wfrun is ${ratio_make}× make's time |"
  if ((have_snakemake)); then
    echo "| snakemake -j2 $(snakemake --version) | $s | $(awk -v k="$sr" 'BEGIN{printf "%.1f", k/1024}') | ${ratio_snake}× slower than wfrun |"
  else
    echo "| snakemake | not installed | | |"
  fi
  echo
  echo "Goals: wfrun ≤ 1.5× make's wall time (measured: ${ratio_make}×); ≥ 10× faster than snakemake (measured: ${ratio_snake:-n/a}×); peak RSS < 30 MB (measured: $(awk -v k="$wr" 'BEGIN{printf "%.1f", k/1024}') MB)."
  echo
  echo "One job printing 1 GiB (\`yes ... | head -c 1073741824\`, \`wfrun run -q\`): wall $big_wall s, wfrun peak RSS $(awk -v k="$big_rss" 'BEGIN{printf "%.1f", k/1024}') MB (goal < 50 MB), log file $log_bytes bytes (expected 1073741824)."
} > "$body"
cat "$body"
write_section dag-overhead "$body"

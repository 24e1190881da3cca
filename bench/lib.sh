# Shared helpers for the benchmarks (source it). Benchmarks are not tests: they print figures and
# write them to docs/benchmarks.md, each into its own section between BEGIN/END markers.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WFRUN=${WFRUN:-$BENCH_ROOT/build/cli/wfrun}

# measure OUTFILE CMD...: runs CMD, appends "wall_seconds peak_rss_kb cpu_seconds" to OUTFILE
# (cpu = user + system time of CMD and the children it waited for: less sensitive than wall time
# to other work on the machine).
measure() {
  local out=$1; shift
  /usr/bin/time -f '%e %M %U %S' -o "$out.one" "$@" >/dev/null 2>"$out.err" || {
    echo "benchmark command failed: $*" >&2; cat "$out.err" >&2; return 1; }
  awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$out.one" >> "$out"
}

# dag_yaml: prints the benchmarks' 200-job DAG (10 layers of 20 `true` jobs; each layer needs the
# whole previous one) as a workflow.
dag_yaml() {
  local l j k
  echo "jobs:"
  for l in $(seq 0 9); do for j in $(seq 0 19); do
    echo "  l${l}_${j}:"
    echo "    uses: script@v1"
    if ((l > 0)); then
      printf '    needs: ['; for k in $(seq 0 19); do printf '%sl%d_%d' "$([ $k -gt 0 ] && echo ', ')" $((l-1)) "$k"; done; echo ']'
    fi
    echo "    with:"
    echo "      script: \"true\""
  done; done
}

# median FILE COLUMN: median of a column of numbers.
median() {
  awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{a[NR]=$1} END {
    if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2] + a[NR/2+1]) / 2 }'
}

# write_section NAME FILE [DOC]: replaces the section NAME of DOC (default docs/benchmarks.md)
# with FILE's text.
write_section() {
  local name=$1 body=$2 doc=${3:-$BENCH_ROOT/docs/benchmarks.md}
  [ -f "$doc" ] || printf '# %s\n\nFigures written by the scripts under `bench/`; each section says how it was measured.\n' \
    "$([ "$(basename "$doc")" = benchmarks.md ] && echo Benchmarks || echo Reliability)" > "$doc"
  python3 - "$doc" "$name" "$body" <<'PY'
import sys, re
doc, name, body = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().rstrip() + "\n"
text = open(doc).read()
begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
block = f"{begin}\n{body}{end}\n"
if begin in text:
    text = re.sub(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", lambda m: block, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n" + block
open(doc, "w").write(text)
PY
}

machine_line() {
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME"), $(date -u +%Y-%m-%d), load average $(cut -d' ' -f1 /proc/loadavg) at the end."
}

# example_push NAME REPO: writes the @octokit/webhooks-examples push (one that creates a branch)
# for repository REPO as compact JSON to stdout; NAME (the bench) is for the error message.
example_push() {
  local examples=$BENCH_ROOT/node_modules/@octokit/webhooks-examples/api.github.com/index.json
  [ -f "$examples" ] || { echo "bench/$1: $examples is missing (npm ci)" >&2; return 1; }
  /usr/bin/python3 - "$examples" "$2" <<'PY'
import json, sys
push = [e for e in json.load(open(sys.argv[1])) if e["name"] == "push"][0]["examples"][4]
push["repository"]["full_name"] = sys.argv[2]
print(json.dumps(push, separators=(",", ":")), end="")
PY
}

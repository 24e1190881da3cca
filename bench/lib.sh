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

# median FILE COLUMN: median of a column of numbers.
median() {
  awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{a[NR]=$1} END {
    if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2] + a[NR/2+1]) / 2 }'
}

# write_section NAME FILE: replaces the section NAME of docs/benchmarks.md with FILE's text.
write_section() {
  local name=$1 body=$2 doc=$BENCH_ROOT/docs/benchmarks.md
  [ -f "$doc" ] || printf '# Benchmarks\n\nFigures written by the scripts under `bench/`; each section says how it was measured.\n' > "$doc"
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

#!/usr/bin/env bash
# bench/dashboard: the dashboard on a big store, in Debian's Chromium (docs/benchmarks.md).
#  - 10,000 runs (100,000 jobs): the runs page's first screen, request to painted table
#    (goal < 200 ms); `wfrun runs -n 50` on the same store beside it, the terminal's view.
#  - a job with a 1 GB log: its tail on screen (goal < 200 ms).
#  - a job printing 10,000 lines/s for 30 s, followed live: lag, rows in the DOM, JS heap.
#  - the binary's growth (the dashboard library and its embedded files) and `wfrun serve`'s RSS
#    idle, then with a page open. BASELINE_WFRUN=path (a wfrun built without the dashboard;
#    BASELINE_DESC says which) adds the whole-binary and idle-memory comparisons.
# RUNS, JOBS and LOG_MB make the store smaller for a quick try.
# Needs: a build (build/cli/wfrun, build/tests/dashboard/dashboard_fixture), chromium, ui/node_modules.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
FIXTURE=${FIXTURE:-$BENCH_ROOT/build/tests/dashboard/dashboard_fixture}
RUNS=${RUNS:-10000} JOBS=${JOBS:-10} LOG_MB=${LOG_MB:-1024}
work=$(mktemp -d /tmp/wfrun-bench-dash-XXXXXX)
ui_pid='' serve_pid=''
trap 'for p in $ui_pid $serve_pid; do kill $p 2>/dev/null || true; done; rm -rf "$work"' EXIT
state=$work/state

load_start=$(cut -d' ' -f1 /proc/loadavg)
echo "filling a store with $RUNS runs of $JOBS jobs ..."
t0=$(date +%s.%N)
"$FIXTURE" bulk "$state" "$RUNS" "$JOBS"
fill_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b - a}')
big=$("$FIXTURE" biglog "$state" "$LOG_MB")
cat > "$work/firehose.yaml" <<'YAML'
jobs:
  fire:
    uses: script@v1
    with:
      script: |
        /usr/bin/python3 - <<'PY'
        import sys, time
        t0 = time.time(); n = 0
        while time.time() - t0 < 30:
            target = int((time.time() - t0) * 10000)
            out = []
            while n < target:
                n += 1
                out.append(f"line {n} " + "x" * 60 + "\n")
            sys.stdout.write("".join(out)); sys.stdout.flush()
            time.sleep(0.01)
        print(f"line {n + 1} the end")
        PY
YAML

: > "$work/cli"
for i in 1 2 3 4 5; do measure "$work/cli" "$WFRUN" --state-dir "$state" runs -n 50; done
cli_ms=$(echo "$(median "$work/cli" 1) * 1000" | bc)

"$WFRUN" --state-dir "$state" ui --listen 127.0.0.1:0 > "$work/ui.out" 2> "$work/ui.err" &
ui_pid=$!
for _ in $(seq 100); do grep -q 'token=' "$work/ui.out" 2>/dev/null && break; sleep 0.1; done
link=$(grep -o 'http://127.0.0.1:[0-9]*/?token=[0-9a-f]*' "$work/ui.out")
base=${link%%/?token=*}
node "$(dirname "$0")/measure.mjs" "$base" "$link" "$big" "$work/firehose.yaml" "$state" "$WFRUN" > "$work/measure.json"
ui_rss=$(awk '/VmHWM/{print $2}' /proc/$ui_pid/status)
kill $ui_pid; wait $ui_pid 2>/dev/null || true; ui_pid=''

# wfrun serve: RSS idle, then after a browser's worth of dashboard requests.
mkdir -p "$work/serve"
echo secret > "$work/serve/hook"; echo tok > "$work/serve/api"
cat > "$work/serve/server.yaml" <<YAML
listen: 127.0.0.1:0
webhook: {secret-file: hook}
api: {tokens-file: api}
state-dir: $work/serve-state
repositories:
  - repo: acme/bench
    clone-url: file://$work/none.git
YAML
# RSS counts the binary's pages it touched; RssAnon is the memory the process made itself.
serve_rss() { # BINARY -> "idle_rss idle_anon opened_rss opened_anon" (KB)
  "$1" serve --config "$work/serve/server.yaml" > "$work/serve.out" 2>&1 &
  serve_pid=$!
  for _ in $(seq 100); do grep -q 'listening on port' "$work/serve.out" && break; sleep 0.1; done
  local port; port=$(grep -o 'listening on port [0-9]*' "$work/serve.out" | awk '{print $4}')
  sleep 1
  local idle; idle=$(awk '/VmRSS|RssAnon/{printf "%s ", $2}' /proc/$serve_pid/status)
  for p in / /api/session /api/runs /api/runs/facets /api/gpus; do
    curl -s -o /dev/null -H 'Authorization: Bearer tok' "http://127.0.0.1:$port$p" || true
  done
  local opened; opened=$(awk '/VmRSS|RssAnon/{printf "%s ", $2}' /proc/$serve_pid/status)
  kill $serve_pid; wait $serve_pid 2>/dev/null || true; serve_pid=''
  echo "$idle $opened"
}
read -r serve_idle serve_idle_anon serve_open serve_open_anon < <(serve_rss "$WFRUN")
base_idle='' base_idle_anon='' base_size=''
if [[ -n ${BASELINE_WFRUN:-} ]]; then
  read -r base_idle base_idle_anon _ < <(serve_rss "$BASELINE_WFRUN")
  base_size=$(stat -c %s "$BASELINE_WFRUN")
  base_strip=$(strip -o "$work/base.stripped" "$BASELINE_WFRUN" && stat -c %s "$work/base.stripped")
fi
size_strip=$(strip -o "$work/wfrun.stripped" "$WFRUN" && stat -c %s "$work/wfrun.stripped")
lib_bytes=$(size -t "$BENCH_ROOT/build/http/dashboard/libdashboard.a" | awk 'END{print $1 + $2}')
cat > "$work/shell.json" <<JSON
{"runs": $RUNS, "jobs": $((RUNS * JOBS)), "fill_s": $fill_s, "log_mb": $LOG_MB, "cli_ms": $cli_ms,
 "ui_rss_kb": $ui_rss, "serve_idle_kb": $serve_idle, "serve_open_kb": $serve_open,
 "serve_idle_anon_kb": $serve_idle_anon, "serve_open_anon_kb": $serve_open_anon,
 "base_idle_kb": ${base_idle:-null}, "base_idle_anon_kb": ${base_idle_anon:-null},
 "base_desc": "${BASELINE_DESC:-}", "load_start": $load_start, "cores": $(nproc), "base_strip": ${base_strip:-null}, "size_strip": $size_strip,
 "lib_bytes": $lib_bytes, "assets_cc": "$BENCH_ROOT/build/http/dashboard/ui_assets.cc"}
JSON
python3 "$(dirname "$0")/section.py" "$work/measure.json" "$work/shell.json" > "$work/section.md"
machine_line >> "$work/section.md"
cat "$work/section.md"
write_section dashboard "$work/section.md"

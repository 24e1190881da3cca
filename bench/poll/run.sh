#!/usr/bin/env bash
# bench/poll: `wfrun serve` polling REPOS repositories every INTERVAL for SECONDS with nothing
# changing, against a local stand-in GitHub (bench/poll/standin.py: ETags and 304s like GitHub),
# compared with the same server and repositories without `poll:` (webhook-only), in one run.
# Reports the server's CPU time (user + system, from /proc) over the idle window, its RSS at the
# end of it (and the difference to webhook-only), the requests made and how many were 304s, and
# then the time from a push (the stand-in's head changing) to its run starting (started_at in
# the API), median and worst over PUSHES pushes spread over a few intervals. Runs are carried out
# by tests/serve/fake-serve-run.sh (ends at once): this measures the server, not the workflows.
# Usage: bench/poll/run.sh [REPOS] [INTERVAL] [SECONDS] [PUSHES]   (defaults 100 10s 60 10)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
repos=${1:-100}
interval=${2:-10s}
secs=${3:-60}
pushes=${4:-10}
[ -x "$WFRUN" ] || { echo "bench/poll: no wfrun at $WFRUN (build it, or set WFRUN)" >&2; exit 1; }
work=$(mktemp -d /tmp/wfrun-bench-poll.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

/usr/bin/python3 "$BENCH_ROOT/bench/poll/standin.py" > "$work/standin.port" 2>"$work/standin.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/standin.port" ] && break; sleep 0.05; done
gh=http://127.0.0.1:$(head -1 "$work/standin.port")
echo secret > "$work/secret"; echo bench-api > "$work/tokens"; echo bench-token > "$work/repo-token"

config() {  # config DIR POLL ("" = webhook-only)
  mkdir -p "$1"
  { echo "listen: 127.0.0.1:0"; echo "webhook: {secret-file: ../secret}"; echo "api: {tokens-file: ../tokens}"
    echo "state-dir: state"; echo "github-api: $gh"; echo "max-concurrent: 8"
    echo "runner: [/bin/sh, $BENCH_ROOT/tests/serve/fake-serve-run.sh, '0']"
    echo "repositories:"
    for i in $(seq "$repos"); do
      echo "  - {repo: bench/repo$i, token-file: ../repo-token, clone-url: 'file:///nonexistent'${2:+, poll: $2}}"
    done; } > "$1/server.yaml"
}
serve() {  # serve DIR: starts wfrun serve there; sets spid and sport
  (cd "$1" && exec "$WFRUN" serve --config server.yaml > stdout 2> server.log) &
  spid=$!; pids+=($spid)
  for _ in $(seq 200); do grep -q 'port' "$1/stdout" 2>/dev/null && break; sleep 0.05; done
  sport=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$1/stdout" | head -1)
}
cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.3f\n", ($14 + $15) / t}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
stats() { curl -sf "$gh/stats"; }

# 1. Polling, nothing changing.
config "$work/poll" "$interval"
serve "$work/poll"
for _ in $(seq 600); do
  [ "$(grep -c 'first poll' "$work/poll/server.log" || true)" -ge "$repos" ] && break; sleep 0.1
done
sleep 1
before=$(stats); c0=$(cpu $spid)
sleep "$secs"
c1=$(cpu $spid); poll_rss=$(rss $spid); after=$(stats)

# 2. Push -> run latency.
for i in $(seq "$pushes"); do
  curl -sf -X POST "$gh/push/bench/repo$(( (i * 37) % repos + 1 ))" >/dev/null
  sleep "$(/usr/bin/python3 -c "import random; print(round(random.uniform(0, 2.5), 2))")"
done
for _ in $(seq 600); do
  n=$(curl -sf -H 'Authorization: Bearer bench-api' "http://127.0.0.1:$sport/api/runs?limit=500&status=success" \
      | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))')
  [ "$n" -ge "$pushes" ] && break; sleep 0.2
done
curl -sf -H 'Authorization: Bearer bench-api' "http://127.0.0.1:$sport/api/runs?limit=500" > "$work/runs.json"
kill $spid; wait $spid 2>/dev/null || true

# 3. The same server and repositories, webhook-only.
config "$work/hook" ""
serve "$work/hook"
sleep 2
h0=$(cpu $spid)
sleep "$secs"
h1=$(cpu $spid); hook_rss=$(rss $spid)
kill $spid; wait $spid 2>/dev/null || true

out=$work/section.md
/usr/bin/python3 - "$before" "$after" "$(stats)" "$work/runs.json" "$c0" "$c1" "$h0" "$h1" "$poll_rss" "$hook_rss" \
  "$repos" "$interval" "$secs" "$pushes" > "$out" <<'PY'
import json, statistics, sys, os, platform
b, a, final = (json.loads(x) for x in sys.argv[1:4])
runs = json.load(open(sys.argv[4]))["runs"]
c0, c1, h0, h1 = map(float, sys.argv[5:9]); prss, hrss = int(sys.argv[9]), int(sys.argv[10])
repos, interval, secs, pushes = sys.argv[11], sys.argv[12], float(sys.argv[13]), sys.argv[14]
n200 = a["counts"]["200"] - b["counts"]["200"]; n304 = a["counts"]["304"] - b["counts"]["304"]
lat = sorted(r["started_at"] - final["pushed"][r["sha"]] for r in runs if r["sha"] in final["pushed"] and "started_at" in r)
cpu = c1 - c0
print(f"`bench/poll/run.sh {repos} {interval} {secs:g} {pushes}`: `wfrun serve` polls {repos} repositories every {interval} for {secs:g} s "
      "with nothing changing, against a local stand-in GitHub (bench/poll/standin.py, ETags and 304s), then "
      f"{pushes} pushes spread over ~{int(pushes) * 1.25:g} s; then the same server with the same repositories webhook-only (no `poll:`), idle for as long. "
      f"CPU time is user + system of the server process (from /proc) over the idle window. Machine: {os.cpu_count()} cores, "
      f"{platform.platform()}, shared with other work (load average {os.getloadavg()[0]:.1f} at the end): wall times are noisy, CPU time less so.\n")
print("| server | CPU time | share of one core | RSS at the end | requests (304s) |")
print("|---|---|---|---|---|")
print(f"| polling | {cpu:.2f} s | {100 * cpu / secs:.2f} % | {prss / 1024:.1f} MB | {n200 + n304} ({n304}) |")
print(f"| webhook-only | {h1 - h0:.2f} s | {100 * (h1 - h0) / secs:.2f} % | {hrss / 1024:.1f} MB | 0 |")
print()
print(f"RSS difference: {(prss - hrss) / 1024:+.1f} MB. Requests per repository per interval: "
      f"{(n200 + n304) / float(repos) / (secs / float(interval.rstrip('s'))):.2f} (all 304s while nothing changes: "
      f"none counted against the rate limit).")
if lat:
    print(f"Push to run start over {len(lat)} pushes: median {statistics.median(lat):.2f} s, worst {lat[-1]:.2f} s "
          f"(goal: under one interval plus 1 s).")
PY
cat "$out"
write_section poll "$out"

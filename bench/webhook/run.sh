#!/usr/bin/env bash
# bench/webhook: wrk posting one signed `push` for a branch no workflow listens to, each request
# with its own X-GitHub-Delivery, against `wfrun serve` and against Debian's `webhook`
# (adnanh/webhook) configured with a rule that does not match it (the signature must be good
# and the ref must be refs/heads/main: it checks the HMAC and runs nothing), on this machine, in
# one run, rounds alternating. wfrun verifies, parses and records every delivery (SQLite, before
# the 202); the first delivery runs `wfrun serve-run` once against a local bare repository,
# which finds no matching `on:` and ends `skipped`, and every later one is answered from that
# decision without a run.
# Usage: bench/webhook/run.sh [SECONDS] [REPEATS]
#   (needs: scripts/install-deps --bench for wrk and webhook; a Release wfrun:
#    cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build-rel wfrun;
#    WFRUN=path overrides)
set -euo pipefail
WFRUN=${WFRUN:-$(cd "$(dirname "$0")/../.." && pwd)/build-rel/cli/wfrun}  # before lib.sh's default
source "$(dirname "$0")/../lib.sh"
secs=${1:-10}
reps=${2:-3}
threads=2
conns=32
for tool in wrk webhook git curl openssl; do
  command -v $tool >/dev/null || { echo "bench/webhook: $tool is missing (scripts/install-deps --bench)" >&2; exit 1; }
done
[ -x "$WFRUN" ] || { echo "bench/webhook: no wfrun at $WFRUN (build the Release one, or set WFRUN)" >&2; exit 1; }
examples=$BENCH_ROOT/node_modules/@octokit/webhooks-examples/api.github.com/index.json
[ -f "$examples" ] || { echo "bench/webhook: $examples is missing (npm ci)" >&2; exit 1; }

work=$(mktemp -d /tmp/wfrun-bench-webhook.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
secret=bench-webhook-secret-$RANDOM$RANDOM
token=bench-api-token-$RANDOM$RANDOM
printf '%s\n' "$secret" > secret
printf '%s\n' "$token" > tokens

# --- a repository whose only workflow listens to main; the push is to another branch --------
git init -q -b main src
mkdir -p src/.wfrun/workflows
cat > src/.wfrun/workflows/ci.yaml <<'YAML'
on:
  github:
    branches:
      only: main
jobs:
  test:
    uses: script@v1
    with:
      script: echo this must not run in the benchmark
YAML
git -C src add -A
git -C src -c user.name=bench -c user.email=bench@example.com commit -q -m "ci on main only"
git clone -q --bare src repo.git
sha=$(git -C src rev-parse HEAD)

# The real example payload (a push that creates a branch), pointed at the bench repository.
/usr/bin/python3 - "$examples" "$sha" "$work/repo.git" > body.json <<'PY'
import json, sys
examples, sha, url = sys.argv[1], sys.argv[2], sys.argv[3]
push = [e for e in json.load(open(examples)) if e["name"] == "push"][0]["examples"][4]
push["ref"] = "refs/heads/bench-unwatched"
push["after"] = sha
push["head_commit"]["id"] = sha
push["head_commit"]["message"] = "ci on main only"
push["repository"]["full_name"] = "bench/webhook-repo"
push["repository"]["clone_url"] = "file://" + url
print(json.dumps(push, separators=(",", ":")), end="")
PY
sig="sha256=$(openssl dgst -sha256 -hmac "$secret" -r body.json | cut -d' ' -f1)"
body_bytes=$(stat -c %s body.json)

cat > post.lua <<'LUA'
-- One signed push, a fresh X-GitHub-Delivery for every request.
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "push"
wrk.headers["User-Agent"] = "GitHub-Hookshot/bench"
wrk.headers["X-Hub-Signature-256"] = os.getenv("BENCH_SIG")
local next_id = 1
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end
local n = 0
function request()
  n = n + 1
  wrk.headers["X-GitHub-Delivery"] = string.format("%s-%d-%d", os.getenv("BENCH_TAG"), tid, n)
  return wrk.format()
end
LUA

# --- wfrun serve ---------------------------------------------------------------------------
cat > server.yaml <<YAML
listen: 127.0.0.1:0
webhook: {secret-file: secret}
api: {tokens-file: tokens}
state-dir: state
repositories:
  - repo: bench/webhook-repo
    clone-url: file://$work/repo.git
YAML
"$WFRUN" serve --config server.yaml > serve.out 2> serve.err &
wpid=$!; pids+=("$wpid")
for _ in $(seq 100); do grep -q 'port ' serve.out 2>/dev/null && break; sleep 0.1; done
wport=$(sed -n "s/.*listening on port \([0-9]*\).*/\1/p" serve.out | head -1)
[ -n "$wport" ] || { echo "wfrun serve did not start:" >&2; cat serve.err >&2; exit 1; }
api() { curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$wport$1"; }
post() {  # post URL DELIVERY: the answer's body
  curl -s -X POST --data-binary @body.json -H 'Content-Type: application/json' \
    -H 'X-GitHub-Event: push' -H "X-GitHub-Delivery: $2" -H "X-Hub-Signature-256: $sig" "$1"
}
# Prime: the first delivery runs serve-run once; it fetches, finds no matching on:, ends skipped.
prime=$(post "http://127.0.0.1:$wport/webhook" prime-1)
[ "$prime" = '{"runs":[1]}' ] || { echo "priming delivery: unexpected answer $prime" >&2; exit 1; }
for _ in $(seq 300); do api /api/runs/1 | grep -q '"status":"skipped"' && break; sleep 0.1; done
api /api/runs/1 | grep -q '"status":"skipped"' || { echo "run 1 did not end skipped:" >&2; api /api/runs/1 >&2; cat state/serve/runs/1/log >&2; exit 1; }
answer=$(post "http://127.0.0.1:$wport/webhook" prime-2)
case $answer in *'"ignored":"no workflow'*'(decided by run 1)"'*) ;; *) echo "second delivery: $answer" >&2; exit 1 ;; esac
sleep 1
rss() { awk -v k="$2:" '$1 == k {print $2}' /proc/"$1"/status; }
w_idle=$(rss "$wpid" VmRSS)

# --- webhook (adnanh) --------------------------------------------------------------------------
hport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The same decision as wfrun's: a good signature and a push to main would run /bin/true; the
# benchmark's push is to another branch, so the rule does not match and nothing runs.
cat > hooks.json <<JSON
[{"id": "push", "execute-command": "/bin/true", "response-message": "ok",
  "trigger-rule": {"and": [
    {"match": {"type": "payload-hmac-sha256", "secret": "$secret",
               "parameter": {"source": "header", "name": "X-Hub-Signature-256"}}},
    {"match": {"type": "value", "value": "refs/heads/main",
               "parameter": {"source": "payload", "name": "ref"}}}]}}]
JSON
webhook -hooks hooks.json -ip 127.0.0.1 -port "$hport" > webhook.log 2>&1 &
hpid=$!; pids+=("$hpid")
for _ in $(seq 100); do curl -s "http://127.0.0.1:$hport/" >/dev/null 2>&1 && break; sleep 0.1; done
# The rule is checked: the same body pushed to main and signed matches; unsigned it does not.
sed 's|"ref":"refs/heads/bench-unwatched"|"ref":"refs/heads/main"|' body.json > main.json
main_sig="sha256=$(openssl dgst -sha256 -hmac "$secret" -r main.json | cut -d' ' -f1)"
hook() { curl -s -X POST --data-binary @"$1" -H 'Content-Type: application/json' -H "X-Hub-Signature-256: $2" "http://127.0.0.1:$hport/hooks/push"; }
[ "$(hook main.json "$main_sig")" = ok ] || { echo "webhook did not run the rule's command for a signed push to main" >&2; cat webhook.log >&2; exit 1; }
[ "$(hook main.json "sha256=$(printf '0%.0s' $(seq 64))")" != ok ] || { echo "webhook accepted a bad signature: the rule is not checked" >&2; exit 1; }
miss=$(hook body.json "$sig")
[ "$miss" != ok ] || { echo "webhook's rule matched the benchmark's push" >&2; exit 1; }
h_idle=$(rss "$hpid" VmRSS)

# --- load, alternating ---------------------------------------------------------------------------
load() {  # load NAME URL REP
  BENCH_BODY=$work/body.json BENCH_SIG=$sig BENCH_TAG="$1-$3" \
    wrk -t$threads -c$conns -d"${secs}s" --latency -s post.lua "$2" > "wrk-$1-$3.txt"
  awk -v name="$1" '
    /Requests\/sec/ {rps = $2}
    $1 == "Latency" && !max {max = $4}
    $1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2}
    /requests in/ {total = $1}
    /Non-2xx/ {bad = $NF}
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    END {printf "%s %.0f %.2f %.2f %d %d %.2f\n", name, rps, ms(p50), ms(p99), total, bad + 0, ms(max)}' "wrk-$1-$3.txt" >> results.txt
}
# Let each server's leftovers (requests in flight, a checkpoint) finish before the next round
# starts, so that neither round runs on the other's backlog.
settle() {  # settle PID: until the server has used no CPU for a whole second (at most 2 min)
  local before now
  before=$(awk '{print $14 + $15}' "/proc/$1/stat")
  for _ in $(seq 120); do
    sleep 1
    now=$(awk '{print $14 + $15}' "/proc/$1/stat")
    [ "$now" = "$before" ] && ! pgrep -P "$1" >/dev/null && break
    before=$now
  done
  sleep 1
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq 1 "$reps"); do
  load wfrun "http://127.0.0.1:$wport/webhook" "$i"
  settle "$wpid"
  load webhook "http://127.0.0.1:$hport/hooks/push" "$i"
  settle "$hpid"
done
w_peak=$(rss "$wpid" VmHWM)
h_peak=$(rss "$hpid" VmHWM)
w_after=$(rss "$wpid" VmRSS)

runs=$(api '/api/runs?limit=500' | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))')
depth=$(api /metrics | awk '$1 == "wfrun_queue_depth" {print $2}')
known=$(api /metrics | awk -F' ' '/result="known_skip"/ {print $2}')
kill "$wpid"; wait "$wpid" 2>/dev/null || true
recorded=$(/usr/bin/python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])' state/serve/queue.db)
sent=$(awk '$1 == "wfrun" {s += $5} END {print s}' results.txt)

# Medians over the repeats (by requests/s; p50 and p99 medians of their own).
med() { awk -v n="$1" -v c="$2" '$1 == n {print $c}' results.txt | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
w_rps=$(med wfrun 2); w_p50=$(med wfrun 3); w_p99=$(med wfrun 4); w_bad=$(awk '$1=="wfrun"{s+=$6} END{print s+0}' results.txt)
h_rps=$(med webhook 2); h_p50=$(med webhook 3); h_p99=$(med webhook 4); h_bad=$(awk '$1=="webhook"{s+=$6} END{print s+0}' results.txt)
# The slowest single request of all rounds (wrk's Max), not a median.
w_max=$(awk '$1=="wfrun" && $7 > m {m = $7} END {print m + 0}' results.txt)
h_max=$(awk '$1=="webhook" && $7 > m {m = $7} END {print m + 0}' results.txt)
rounds=$(awk '{printf "%s%s %s req/s, p99 %s ms, max %s ms", (NR > 1 ? "; " : ""), $1, $2, $4, $7}' results.txt)
cat results.txt
mb() { awk -v k="$1" 'BEGIN {printf "%.1f MB", k / 1024}'; }

out=$(mktemp)
{
  echo "## webhook (issue 9)"
  echo
  echo "\`bench/webhook/run.sh $secs $reps\`: \`wrk -t$threads -c$conns -d${secs}s --latency\` posting one signed \`push\` (the @octokit/webhooks-examples push that creates a branch, $body_bytes bytes, pointed at a local bare repository) for \`refs/heads/bench-unwatched\`, whose only workflow listens to \`main\`; every request has its own \`X-GitHub-Delivery\`. Neither server runs anything: wfrun answers from the skip decision its first run made, and Debian's \`webhook\` $(webhook -version | awk '{print $3}') has a rule that checks the signature and wants \`refs/heads/main\`, so it answers \"Hook rules were not satisfied.\" They take turns on the same cores, $reps rounds each; medians of the rounds, and the slowest request of all rounds. $(machine_line) Load average (1, 5, 15 min) when the rounds started: $load_before: other work shared these cores."
  echo
  echo "| server | requests/s | p50 latency | p99 latency | slowest request | non-2xx | idle RSS | peak RSS |"
  echo "|---|---|---|---|---|---|---|---|"
  echo "| wfrun serve | $w_rps | $w_p50 ms | $w_p99 ms | $w_max ms | $w_bad | $(mb "$w_idle") | $(mb "$w_peak") |"
  echo "| webhook (adnanh) | $h_rps | $h_p50 ms | $h_p99 ms | $h_max ms | $h_bad | $(mb "$h_idle") | $(mb "$h_peak") |"
  echo
  echo "Rounds in order: $rounds."
  echo
  echo "What each does per request. **wfrun**: its front end reads the request whole (the HMAC computed as the body arrives), a worker checks the signature again, reads the 15 fields its decision needs in one pass over the JSON that checks it whole and allocates nothing for the rest (http/serve/payload_fields.h), looks the repository up in the config, then hands the delivery to the queue's writer thread, which looks up the skip decision and records the delivery in SQLite (WAL) in a transaction shared by every delivery waiting at that moment (group commit); the 202 \`{\"ignored\": \"no workflow's on: matches refs/heads/bench-unwatched at SHA (decided by run 1)\"}\` is sent after the commit. A delivery that queues no run does not wait for the disk (a crash of the process loses none; only a power cut could, and no run was promised); one that queues a run waits for the WAL's fdatasync. WAL checkpoints run on their own thread and connection. **webhook**: reads the body, parses the JSON, checks the HMAC and the ref, answers; it records nothing."
  echo
  echo "wfrun recorded $recorded deliveries: the 2 priming ones, the $sent that wrk saw answered, and those still in flight when wrk stopped; $known of them were answered from run 1's skip decision (/metrics), and the load queued $((runs - 1)) runs (runs in total: $runs, the priming one; queue depth at the end: $depth). RSS: $(mb "$w_idle") idle after the priming run, $(mb "$w_peak") peak (VmHWM) over the whole benchmark, $(mb "$w_after") at the end."
  echo
  verdict() { if awk -v a="$1" -v b="$2" "BEGIN {exit !($3)}"; then echo met; else echo "**not met**"; fi; }
  echo "Goals (issue 9): at least 1.5x webhook's requests/s: $(verdict "$w_rps" "$h_rps" 'a >= 1.5 * b') ($w_rps against $h_rps, $(awk -v a="$w_rps" -v b="$h_rps" 'BEGIN {printf "%.2fx", a / b}')); p99 under 10 ms: $(verdict "$w_p99" 10 'a < b') ($w_p99 ms); no request over 50 ms: $(verdict "$w_max" 50 'a <= b') (slowest $w_max ms)."
} > "$out"
cat "$out"
write_section webhook "$out"
rm -f "$out"

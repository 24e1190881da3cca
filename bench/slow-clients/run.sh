#!/usr/bin/env bash
# bench/slow-clients: 50 connections trickle a webhook request one byte a second (a slowloris,
# reconnecting whenever the server drops them) while a genuine signed delivery is posted every
# quarter second and timed. The server: `wfrun serve` with its defaults (8 workers, a 10 s
# deadline to read a whole request); runs are answered from a skip decision, as in bench/webhook,
# so the figures are the request path alone. Writes its section of docs/reliability.md.
# Usage: bench/slow-clients/run.sh [SECONDS] [SLOW_CONNECTIONS]   (WFRUN=path: another binary)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
secs=${1:-60}
slow=${2:-50}
[ -x "$WFRUN" ] || { echo "bench/slow-clients: no wfrun at $WFRUN" >&2; exit 1; }
work=$(mktemp -d /tmp/wfrun-bench-slow.XXXXXX)
wpid=
cleanup() { [ -z "$wpid" ] || { kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null; } || true; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
secret=bench-slow-secret-$RANDOM$RANDOM
printf '%s\n' "$secret" > secret
printf 'bench-token-%s\n' "$RANDOM" > tokens
example_push slow-clients bench/slow-clients > body.json
cat > server.yaml <<YAML
listen: 127.0.0.1:0
webhook: {secret-file: secret}
api: {tokens-file: tokens}
state-dir: state
runner: [/bin/sh, $BENCH_ROOT/tests/serve/fake-serve-run.sh, skip]
repositories: [bench/slow-clients]
YAML
"$WFRUN" serve --config server.yaml > serve.out 2> serve.err &
wpid=$!
for _ in $(seq 100); do grep -q 'port ' serve.out 2>/dev/null && break; sleep 0.1; done
port=$(sed -n "s/.*listening on port \([0-9]*\).*/\1/p" serve.out | head -1)
[ -n "$port" ] || { echo "wfrun serve did not start:" >&2; cat serve.err >&2; exit 1; }
# Prime: the first delivery's run ends skipped; the rest are answered from that decision.
sig="sha256=$(openssl dgst -sha256 -hmac "$secret" -r body.json | cut -d' ' -f1)"
curl -s -X POST --data-binary @body.json -H 'Content-Type: application/json' -H 'X-GitHub-Event: push' \
  -H 'X-GitHub-Delivery: prime-1' -H "X-Hub-Signature-256: $sig" "http://127.0.0.1:$port/webhook" > /dev/null
for _ in $(seq 100); do
  curl -sf -H "Authorization: Bearer $(cat tokens)" "http://127.0.0.1:$port/api/runs/1" | grep -q '"status":"skipped"' && break
  sleep 0.1
done
/usr/bin/python3 "$BENCH_ROOT/bench/slow-clients/slow.py" "$port" body.json "$secret" "$slow" "$secs" 0.25 bench | tee result.json
rss=$(awk '$1 == "VmRSS:" {print $2}' /proc/"$wpid"/status)
/usr/bin/python3 - result.json "$secs" "$rss" "$(machine_line)" > section.md <<'PY'
import json, sys
r, secs, rss, machine = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = r["slow"]
ok = r["statuses"].get("202", 0)
print("## Slow clients (bench/slow-clients)\n")
print(f"`bench/slow-clients/run.sh {secs} {r['slow_connections']}`: {r['slow_connections']} connections each trickle a "
      "signed webhook request one byte a second (reconnecting whenever the server drops them), while one "
      f"client posts a genuine signed `push` every 0.25 s for {secs} s and times each answer. `wfrun serve` "
      "with its defaults: 8 workers, `read-timeout: 10s` for a whole request. " + machine + "\n")
print("| genuine deliveries | answered 202 | p50 | p99 | max | slow connections opened | answered 408 | dropped | server RSS after |")
print("|---|---|---|---|---|---|---|---|---|")
print(f"| {r['genuine']} | {ok} | {r['p50_ms']} ms | {r['p99_ms']} ms | {r['max_ms']} ms | {s['opened']} | "
      f"{s['answered_408']} | {s['dropped']} | {rss / 1024:.1f} MB |\n")
goal = "met" if r["p99_ms"] < 1000 and ok == r["genuine"] else "**not met**"
print(f"Goal (issue 9): a genuine delivery answered in under 1 s at p99 while {r['slow_connections']} "
      f"connections trickle: {goal}. Before the front end (cpp-httplib's workers read the requests "
      "themselves, with a timeout per read that a trickle never trips), eight such clients held all "
      "eight workers and genuine deliveries waited until a slow client gave up.")
PY
cat section.md
write_section slow-clients section.md "$BENCH_ROOT/docs/reliability.md"

#!/usr/bin/env bash
# bench/soak: DELIVERIES signed pushes to `wfrun serve` (8 senders at once), a tenth of them
# forged and a tenth redelivered, while the server is killed with SIGKILL KILLS times and
# restarted at once; each delivery whose answer a kill swallowed is sent again with the same
# X-GitHub-Delivery until answered. Every answered delivery must end as exactly one finished
# run: none lost, none doubled (soak.py checks the queue database). Runs are carried out by
# tests/serve/fake-serve-run.sh (the serve-run contract, no git), so the figures are the
# server's. Writes its section of docs/reliability.md.
# Usage: bench/soak/run.sh [DELIVERIES] [KILLS]   (WFRUN=path: another binary)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
n=${1:-10000}
kills=${2:-20}
[ -x "$WFRUN" ] || { echo "bench/soak: no wfrun at $WFRUN" >&2; exit 1; }
work=$(mktemp -d /tmp/wfrun-bench-soak.XXXXXX)
trap 'rm -rf "$work"' EXIT  # soak.py stops the servers it started
cd "$work"
secret=bench-soak-secret-$RANDOM$RANDOM
printf '%s\n' "$secret" > secret
printf 'bench-token-%s\n' "$RANDOM" > tokens
example_push soak bench/soak > body.json
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > server.yaml <<YAML
listen: 127.0.0.1:$port
webhook: {secret-file: secret}
api: {tokens-file: tokens}
state-dir: state
max-concurrent: 4
runner: [/bin/sh, $BENCH_ROOT/tests/serve/fake-serve-run.sh, '0']
repositories: [bench/soak]
YAML
/usr/bin/python3 "$BENCH_ROOT/bench/soak/soak.py" "$WFRUN" "$work" body.json "$secret" "$n" "$kills" 8 "$port" | tee result.json
db_kb=$(du -k state/serve/queue.db | cut -f1)
# Growth: everything under STATE/serve (queue.db, its WAL, the run folders) per answered delivery.
state_kb=$(du -sk state/serve | cut -f1)
runs_kb=$(du -sk state/serve/runs 2>/dev/null | cut -f1 || echo 0)
/usr/bin/python3 - result.json "$n" "$kills" "$db_kb" "$(machine_line)" "$state_kb" "$runs_kb" > section.md <<'PY'
import json, sys
r, n, kills, db_kb, machine = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
state_kb, runs_kb = int(sys.argv[6]), int(sys.argv[7])
print("## Soak (bench/soak)\n")
print(f"`bench/soak/run.sh {n} {kills}`: {r['deliveries']} signed `push` deliveries from 8 senders at once "
      f"({r['forged']} forged, {r['redelivered']} redeliveries of an earlier delivery's id), while the server "
      f"is killed with SIGKILL {r['kills']} times and restarted at once. A delivery whose answer a kill swallowed "
      f"is sent again with the same `X-GitHub-Delivery` until answered ({r['resent_after_a_kill']} resends). "
      "Runs by tests/serve/fake-serve-run.sh (`max-concurrent: 4`). " + machine + "\n")
print("| answered deliveries | runs | lost | doubled | wrong duplicate answers | forged recorded | forged not 401 | unfinished | send time | drain time | p50 / p99 / max answer |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
l = r["latency_ms"]
print(f"| {r['answered']} | {r['runs']} | {r['lost']} | {r['doubled']} | {r['duplicate_answers_wrong']} | "
      f"{r['forged_recorded']} | {r['forged_not_401']} | {r['unfinished']} | {r['send_seconds']} s | "
      f"{r['drain_seconds']} s | {l['p50']} / {l['p99']} / {l['max']} ms |\n")
st = ", ".join(f"{k} {v}" for k, v in sorted(r["runs_by_status"].items()))
at = ", ".join(f"{v} with {k}" for k, v in sorted(r["runs_by_attempts"].items()))
print(f"Runs by status: {st}. Child processes per run: {at} (a run a kill interrupted is queued once "
      f"more, as `requeue-interrupted` says). queue.db at the end: {db_kb / 1024:.1f} MB.")
print(f"\nGrowth: STATE/serve holds {state_kb / 1024:.1f} MB after {r['answered']} answered deliveries "
      f"({r['runs']} runs), {state_kb / max(r['answered'], 1):.1f} KB per delivery: queue.db (the 7.6 KB payload, "
      f"kept once, and the rows) {db_kb / max(r['answered'], 1):.1f} KB per delivery, and the run folders "
      f"{runs_kb / max(r['runs'], 1):.1f} KB per run in 4 KB disk blocks (here the fake runner's log, request.json, "
      f"result.json, env.txt and its copy of the payload; a real run's folder also holds its checkout and outputs). "
      f"Nothing is pruned within the soak (`retention:` defaults: 90 days for runs, 30 for run-less deliveries).")
goal = "met" if r["lost"] == 0 and r["doubled"] == 0 and r["unfinished"] == 0 and not r["errors"] else "**not met**"
print(f"\nGoal (issue 9): 0 lost, 0 doubled: {goal}." + (f" Errors: {r['errors']}" if r["errors"] else ""))
PY
cat section.md
write_section soak section.md "$BENCH_ROOT/docs/reliability.md"

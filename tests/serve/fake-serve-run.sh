#!/bin/sh
# A stand-in for `wfrun serve-run` that keeps the contract (docs/serve.md): it reads nothing
# but its folder, prints like the terminal printer, and writes result.json atomically; SIGTERM
# makes it write `cancelled` and exit 130. The server tests use it to control how long a run
# takes; the real child is tested in tests/cli.
# usage: fake-serve-run.sh SECONDS --state-dir STATE --dir RUNDIR
secs=$1; dir=$5
result() {
  printf '{"status":"%s","message":"%s","workflows":[]}\n' "$1" "$2" > "$dir/result.json.tmp"
  mv "$dir/result.json.tmp" "$dir/result.json"
}
trap 'result cancelled "cancelled by SIGTERM"; exit 130' TERM
env > "$dir/env.txt"
echo "build   | hello from the job"
# A run queued again after an interruption finishes at once.
if grep -q 'attempt 2' "$dir/log" 2>/dev/null; then secs=0; fi
sleep "$secs" & wait $!
result success "fake run done"

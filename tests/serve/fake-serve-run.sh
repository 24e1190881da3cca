#!/bin/sh
# A stand-in for `wfrun serve-run` that keeps the contract (docs/serve.md): it reads nothing
# but its folder, prints like the terminal printer, and writes result.json atomically; SIGTERM
# makes it write `cancelled` and exit 130. The server tests use it to control how long a run
# takes; the real child is tested in tests/cli.
# usage: fake-serve-run.sh SECONDS --state-dir STATE --dir RUNDIR
# SECONDS `skip`: ends at once `skipped` (no workflow's on: matched) with the `trigger` field
# serve-run writes, taken from request.json; `skip-untagged`: `skipped` without it.
secs=$1; dir=$5
result() {
  printf '{"status":"%s","message":"%s","workflows":[]%s}\n' "$1" "$2" "${3:-}" > "$dir/result.json.tmp"
  mv "$dir/result.json.tmp" "$dir/result.json"
}
field() {  # request.json's string field $1 ("" when null)
  sed -n "s/^  \"$1\": \"\(.*\)\",\{0,1\}\$/\1/p" "$dir/request.json"
}
case $secs in
  skip)
    result skipped "push to $(field ref): no workflow's 'on:' matched" \
      ",\"trigger\":{\"event\":\"$(field event)\",\"ref\":\"$(field ref)\",\"base_ref\":\"$(field base_ref)\",\"sha\":\"$(field sha)\"}"
    exit 0 ;;
  skip-untagged) result skipped "no workflow's 'on:' matched"; exit 0 ;;
esac
trap 'result cancelled "cancelled by SIGTERM"; exit 130' TERM
env > "$dir/env.txt"
cp "$dir/payload.json" "$dir/payload-seen.json"  # what the child got (the server removes its copy)
echo "build   | hello from the job"
# A run queued again after an interruption finishes at once.
if grep -q 'attempt 2' "$dir/log" 2>/dev/null; then secs=0; fi
sleep "$secs" & wait $!
result success "fake run done"

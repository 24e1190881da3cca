#!/bin/sh
# A stand-in for `wfrun serve-run` (the contract in docs/serve.md) for the reporting tests,
# which need to decide when a run ends (the commit statuses must reach the fixtures server in
# a known order). It records its environment, prints a job line, waits until GATE exists
# ("-": no wait) and ends with STATUS. The real child is used in the full-loop test.
# usage: gated-serve-run.sh GATE STATUS --state-dir STATE --dir RUNDIR
gate=$1; status=$2; dir=$6
result() {
  printf '{"status":"%s","message":"%s","workflows":[]}\n' "$1" "$2" > "$dir/result.json.tmp"
  mv "$dir/result.json.tmp" "$dir/result.json"
}
trap 'result cancelled "cancelled by SIGTERM"; exit 130' TERM
env > "$dir/env.txt"
echo "build   | gated run"
if [ "$gate" != "-" ]; then
  while [ ! -e "$gate" ]; do sleep 0.05; done
fi
result "$status" "gated run: $status"
case $status in success|skipped) exit 0 ;; failure) exit 1 ;; *) exit 2 ;; esac

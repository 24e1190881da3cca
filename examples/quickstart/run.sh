#!/usr/bin/env bash
# The quickstart's whole loop (scripts/quickstart builds wfrun, then runs this):
#   1. seed a workspace from a repository (wfrun seed),
#   2. run its notebook with parameters (notebook@v1),
#   3. commit the executed notebook and its results to the `results` branch and push (git-commit@v1),
#   4. print where they went.
#
# Usage: examples/quickstart/run.sh [WFRUN]        (default: build/cli/wfrun)
#
# Without GITHUB_TOKEN, a local bare repository stands in for GitHub: the first run creates it at
# $WFRUN_HOME/origin.git from examples/quickstart/repo/ (a notebook with a `parameters` cell).
# With GITHUB_TOKEN and WFRUN_QUICKSTART_REPO=OWNER/NAME it uses that GitHub repository, which
# must hold analysis.ipynb (copy examples/quickstart/repo/ into it) and which the token can push
# to. State (runs, the clone cache, the workspace, the stand-in repository) goes to $WFRUN_HOME,
# by default build/quickstart-state. Every run adds a commit to `results`; run it again at will.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
wfrun=$(realpath "${1:-$here/../../build/cli/wfrun}")
export WFRUN_HOME=${WFRUN_HOME:-$here/../../build/quickstart-state}
mkdir -p "$WFRUN_HOME"
WFRUN_HOME=$(realpath "$WFRUN_HOME")

repo=${WFRUN_QUICKSTART_REPO:-}
if [[ -n ${GITHUB_TOKEN:-} && -z $repo ]]; then
  echo "quickstart: GITHUB_TOKEN is set but WFRUN_QUICKSTART_REPO is not: using a local stand-in" \
    "for GitHub (set WFRUN_QUICKSTART_REPO=OWNER/NAME, a repository holding analysis.ipynb, to" \
    "use GitHub)"
fi
if [[ -n ${GITHUB_TOKEN:-} && -n $repo ]]; then
  if [[ ! $repo =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]]; then
    echo "quickstart: WFRUN_QUICKSTART_REPO must be OWNER/NAME, not '$repo'" >&2
    exit 2
  fi
  gh=${WFRUN_GITHUB_URL:-https://github.com}  # GitHub Enterprise's https://HOST (or a test server)
  url=${gh%/}/$repo
  push_url=$url.git
  look="$url/tree/results (or: git clone -b results $push_url)"
else
  origin=$WFRUN_HOME/origin.git
  if [[ ! -d $origin ]]; then
    echo "== making the stand-in for GitHub: $origin (from examples/quickstart/repo/)"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    git init -q --bare -b main "$origin.tmp"
    git init -q -b main "$tmp/work"
    cp -r "$here/repo/." "$tmp/work/"
    git -C "$tmp/work" add -A
    git -C "$tmp/work" -c user.name=wfrun -c user.email=wfrun@users.noreply.github.com \
      commit -q -m "analysis notebook"
    git -C "$tmp/work" push -q "$origin.tmp" main
    mv "$origin.tmp" "$origin"
  fi
  url=$origin
  push_url=$origin
  look="git --git-dir $origin log --stat -3 results"
fi

echo "== 1. seed a workspace from $url"
ws=$WFRUN_HOME/workspace
rm -rf "$ws"
"$wfrun" seed "$url" "$ws"

echo
echo "== 2-3. run its notebook, commit the results to the results branch, push"
"$wfrun" run "$here/workflow.yaml" --input workspace="$ws" --input repo="$push_url"

echo
echo "== 4. where the results went"
run_dir=$("$wfrun" runs --limit 1 --json | sed -n 's/^ *"dir": "\(.*\)",$/\1/p')
echo "repository: $url"
echo "branch:     results ($(sed -n 's/^ *"number": \([0-9]*\),$/runs\/\1/p' "$run_dir/run.json" | head -1): the executed notebook and its results)"
echo "commit:     $(cat "$run_dir/jobs/publish/outputs/sha")"
echo "look:       $look"

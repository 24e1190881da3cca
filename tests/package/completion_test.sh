#!/usr/bin/env bash
# The generated completions (packaging/generate.cmake) complete wfrun's subcommands, options
# and option values. bash: the completion function called with COMP_WORDS as bash splits the
# line (`=` is a word of its own). zsh: its real completion system in a pseudo-terminal.
# Usage: completion_test.sh BUILD_SHARE_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
share=$(cd "$1" && pwd)
bash_script=$share/bash-completion/completions/wfrun
zsh_dir=$share/zsh/vendor-completions
[[ -f $bash_script && -f $zsh_dir/_wfrun ]] || { echo "FAIL: no completions in $share (build first)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/sub"
touch "$work/train.yaml" "$work/notes.txt" "$work/sub/deep.yaml"

# bash_complete WORD... : what bash offers for the last word, one per line.
bash_complete() {
  (cd "$work" && bash --norc --noprofile -c '
    source "$1"; shift
    complete -p wfrun >/dev/null || { echo "no completion for wfrun" >&2; exit 1; }
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _wfrun wfrun "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$bash_script" "$@")
}

# Subcommands: every one --help lists, never the internal ones.
subcommands=$(bash_complete wfrun '' | grep -v '\.yaml$\|^sub$' )
for c in run validate graph runs show logs gpus serve nb2py; do
  expect_contains "bash: subcommands" "$c" "$subcommands"
done
for hidden in serve-run git-checkout git-commit __man __completion; do
  expect_lacks "bash: internal subcommand $hidden" "$hidden"$'\n' "$subcommands"$'\n'
done
expect_lines "bash: wfrun r" $'run\nruns' "$(bash_complete wfrun r)"
# `wfrun FILE` runs a workflow: YAML files and folders, not other files.
expect_lines "bash: wfrun tr" 'train.yaml' "$(bash_complete wfrun tr)"
expect_lacks "bash: wfrun ''" 'notes.txt' "$(bash_complete wfrun '')"

# Options of the subcommand, plus the global --state-dir.
expect_lines "bash: wfrun run --j" '--jobs' "$(bash_complete wfrun run --j)"
expect_lines "bash: wfrun run --s" $'--secret\n--secrets-file\n--state-dir' "$(bash_complete wfrun run --s)"
expect_lines "bash: wfrun graph -" $'-h\n--help\n--format\n--state-dir' "$(bash_complete wfrun graph -)"
expect_lines "bash: wfrun --" $'--help\n--version\n--state-dir' "$(bash_complete wfrun --)"
# After the workflow file (and after options with values) still the run's options.
expect_lines "bash: wfrun run x.yaml -j 2 --dr" '--dry-run' "$(bash_complete wfrun run x.yaml -j 2 --dr)"
expect_lines "bash: wfrun x.yaml --dr" '--dry-run' "$(bash_complete wfrun x.yaml --dr)"

# Values: choices, nothing for numbers and run ids, folders for --state-dir, files otherwise.
expect_lines "bash: graph --format" $'dot\nmermaid' "$(bash_complete wfrun graph --format '')"
expect_lines "bash: graph --format=" $'dot\nmermaid' "$(bash_complete wfrun graph --format =)"
expect_lines "bash: graph --format=m" 'mermaid' "$(bash_complete wfrun graph --format = m)"
expect_lines "bash: run --paths n" 'namespace' "$(bash_complete wfrun run --paths n)"
expect_lines "bash: run -j" '' "$(bash_complete wfrun run -j '')"
expect_lines "bash: show RUN" '' "$(bash_complete wfrun show '')"
expect_lines "bash: --state-dir" 'sub' "$(bash_complete wfrun --state-dir '')"
expect_lines "bash: run FILE" $'notes.txt\nsub\ntrain.yaml' "$(bash_complete wfrun run '')"
expect_lines "bash: run --inputs-file t" 'train.yaml' "$(bash_complete wfrun run --inputs-file t)"
expect_lines "bash: validate A B" $'notes.txt\nsub\ntrain.yaml' "$(bash_complete wfrun validate a.yaml '')"

if ! command -v zsh >/dev/null; then
  require "zsh is not installed (scripts/install-deps installs it)"
fi
zsh_complete() { timeout 20 zsh -f "$here/zsh-complete.zsh" "$zsh_dir" "$work" "$1"; }

zsubs=$(zsh_complete 'wfrun ')
for c in run validate graph runs show logs gpus serve nb2py train.yaml; do
  expect_contains "zsh: subcommands" "$c" "$zsubs"
done
for hidden in serve-run git-checkout __man; do
  expect_lacks "zsh: internal subcommand $hidden" "$hidden"$'\n' "$zsubs"$'\n'
done
expect_lines "zsh: wfrun r" $'run\nruns' "$(zsh_complete 'wfrun r')"
expect_lines "zsh: wfrun run --j" '--jobs' "$(zsh_complete 'wfrun run --j')"
expect_lines "zsh: wfrun run --se" $'--secret\n--secrets-file' "$(zsh_complete 'wfrun run --se')"
expect_lines "zsh: wfrun run --st" '--state-dir' "$(zsh_complete 'wfrun run --st')"
expect_lines "zsh: graph --format" $'dot\nmermaid' "$(zsh_complete 'wfrun graph --format ')"
expect_lines "zsh: graph --format=" $'dot\nmermaid' "$(zsh_complete 'wfrun graph --format=')"
expect_lines "zsh: run --paths r" 'rewrite' "$(zsh_complete 'wfrun run --paths r')"
expect_lines "zsh: --state-dir" 'sub' "$(zsh_complete 'wfrun --state-dir ')"
expect_lines "zsh: run FILE" $'notes.txt\nsub\ntrain.yaml' "$(zsh_complete 'wfrun run ')"
finish

# Sourced by zsh-complete.zsh inside the interactive zsh it drives: $1 holds _wfrun, $2 is the
# folder to complete file names in.
PROMPT='' RPROMPT=''
fpath=($1 $fpath)
autoload -Uz compinit && compinit -u -D
cd $2
bindkey '^M' undefined
bindkey '^J' undefined
bindkey '^I' complete-word
zstyle ':completion:*' insert-tab false
zstyle ':completion:*' list-grouped false
# A NUL before and after the matches; then the shell exits.
__mark() { print -rn -- $'\0' }
compprefuncs=(__mark)
comppostfuncs=(__mark exit)
# compadd as the completion functions call it, also printing the matches that survive the
# word typed so far. Calls that only fill arrays (-O -A -D) are not offers.
compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
    builtin compadd "$@"
    return
  fi
  local -a __hits
  builtin compadd -A __hits "$@"
  (( $#__hits )) || return 1
  print -rl -- '' $__hits
  builtin compadd "$@"
}
print wfrun-zsh-ready

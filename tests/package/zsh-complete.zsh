# Prints the matches zsh's completion system offers for a command line, one per line. A real
# interactive zsh runs in a pseudo-terminal (zpty), loads the completion functions from
# FPATH_DIR with compinit, gets the line typed and then TAB; zsh-complete-rc.zsh wraps compadd
# so that it prints what it is given.
# Usage: zsh -f zsh-complete.zsh FPATH_DIR WORKDIR 'wfrun run --j'
zmodload zsh/zpty || { print -u2 'zsh-complete: zsh/zpty is missing'; exit 2 }
fpath_dir=$1 workdir=$2 line=$3
rc=${0:A:h}/zsh-complete-rc.zsh

zpty z zsh -f -i
zpty -w z "source ${(q)rc} ${(q)fpath_dir} ${(q)workdir}"
zpty -r z ready '*wfrun-zsh-ready*' || { print -u2 'zsh-complete: the shell did not start'; exit 2 }
zpty -w -n z "$line"$'\t'
out=''
while zpty -r z chunk; do out+=$chunk; done
zpty -d z
# The matches are between the two NUL marks the completion hooks print.
parts=("${(@ps:\0:)out}")
(( $#parts >= 3 )) || { print -u2 "zsh-complete: no completion ran: ${(q)out}"; exit 2 }
# Each match once (completers such as _files may offer one in several groups, shown once).
typeset -aU matches
for m in "${(@f)${parts[2]//$'\r'/}}"; do
  [[ -n $m ]] && matches+=($m)
done
(( $#matches )) && print -rl -- $matches
exit 0

#!/usr/bin/env bash
# The Debian package as a user gets it: built by CPack from this build, installed into this
# machine with dpkg, used (wfrun --version, man pages, the unit, the service user, `wfrun serve`
# as that user with the packaged configuration), then removed and purged. The machine is left
# as it was: no wfrun package, user, group, /etc/wfrun or /var/lib/wfrun. Needs root; a lock
# keeps two test runs on one machine from installing at once.
# Usage: deb_test.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
build=$(cd "$1" && pwd)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8
# A sanitizer build's binary is what gets packaged then: its leak report at exit is not what
# this test is about (the other tests check leaks), and env -i below would drop the options.
san=ASAN_OPTIONS=detect_leaks=0

[[ $(id -u) == 0 ]] || require "not root: the test installs the package with dpkg"
for tool in dpkg dpkg-deb dpkg-shlibdeps cpack man groff systemd-analyze setpriv curl flock; do
  command -v "$tool" >/dev/null || require "$tool is missing (scripts/install-deps installs it)"
done

exec 9>/run/lock/wfrun-deb-test.lock
flock 9
# Never touch a wfrun someone installed: the test would remove it at the end.
if dpkg-query -W -f='${Status}' wfrun 2>/dev/null | grep -q 'installed'; then
  echo "FAIL: a wfrun package is installed on this machine; the test would remove it" >&2
  exit 1
fi
for leftover in /etc/wfrun /var/lib/wfrun; do
  [[ ! -e $leftover ]] || { echo "FAIL: $leftover exists; the test would remove it" >&2; exit 1; }
done
if getent passwd wfrun >/dev/null; then
  echo "FAIL: a user wfrun exists; the test would remove it" >&2
  exit 1
fi

work=$(mktemp -d)
chmod 0755 "$work"

# dpkg, waiting while another dpkg or apt holds its lock (a shared machine).
dpkg() {
  local i rc=1
  for i in $(seq 300); do
    command dpkg "$@" 2>"$work/dpkg.err"
    rc=$?
    cat "$work/dpkg.err" >&2
    ((rc == 0)) && return 0
    grep -q 'lock' "$work/dpkg.err" || return $rc
    sleep 1
  done
  return $rc
}
serve_pid=''
cleanup() {
  [[ -n $serve_pid ]] && kill -KILL "$serve_pid" 2>/dev/null
  dpkg --purge wfrun >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# --- build -----------------------------------------------------------------------------------
t0=$(date +%s%N)
if ! (cd "$build" && cpack -G DEB -B "$work/pkg") >"$work/cpack.log" 2>&1; then
  cat "$work/cpack.log" >&2
  echo "FAIL: cpack" >&2
  exit 1
fi
echo "cpack: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
version=$("$build/cli/wfrun" --version)
version=${version#wfrun }
deb=$work/pkg/wfrun_${version}_$(dpkg --print-architecture).deb
[[ -f $deb ]] || { ls -R "$work/pkg" >&2; echo "FAIL: no $deb" >&2; exit 1; }

contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/wfrun ./usr/share/man/man1/wfrun.1.gz ./usr/share/man/man1/wfrun-run.1.gz \
         ./usr/share/man/man1/wfrun-serve.1.gz ./usr/share/bash-completion/completions/wfrun \
         ./usr/share/zsh/vendor-completions/_wfrun ./lib/systemd/system/wfrun-serve.service \
         ./etc/wfrun/server.yaml ./usr/share/doc/wfrun/serve.md; do
  expect_contains "package contents" "$f"$'\n' "$contents"$'\n'
done
expect_lacks "package contents (internal commands have no man page)" 'wfrun-serve-run' "$contents"
depends=$(dpkg-deb -f "$deb" Depends)
expect_contains "Depends (dpkg-shlibdeps)" 'libgit2-1.5' "$depends"
expect_contains "Depends" 'passwd' "$depends"
mkdir "$work/control"
dpkg-deb -e "$deb" "$work/control"
expect_eq "conffiles" '/etc/wfrun/server.yaml' "$(cat "$work/control/conffiles")"

# --- install ---------------------------------------------------------------------------------
# Container images often tell dpkg to drop man pages (path-exclude); ours are the point here.
t0=$(date +%s%N)
if ! dpkg -i --path-include='/usr/share/man/man1/wfrun*' "$deb" >"$work/dpkg.log" 2>&1; then
  cat "$work/dpkg.log" >&2
  echo "FAIL: dpkg -i" >&2
  exit 1
fi
echo "dpkg -i: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
expect_eq "command -v wfrun" /usr/bin/wfrun "$(command -v wfrun)"
expect_eq "wfrun --version" "wfrun $version" "$(env -i $san PATH=/usr/bin:/bin wfrun --version)"

# Man pages render, without groff warnings; `man wfrun-run` shows the options of --help.
page=$(MANWIDTH=100 MANPAGER=cat man wfrun-run 2>"$work/man.err")
expect_eq "man wfrun-run: stderr" '' "$(cat "$work/man.err")"
expect_contains "man wfrun-run" 'wfrun-run - run a workflow' "$page"
expect_contains "man wfrun-run" '-j, --jobs INT' "$page"
expect_contains "man wfrun-run" '--paths auto|namespace|rewrite' "$page"
expect_contains "man wfrun-run" 'EXIT STATUS' "$page"
expect_contains "man wfrun" 'wfrun serve' "$(MANPAGER=cat man wfrun 2>&1)"
for f in /usr/share/man/man1/wfrun*.1.gz; do
  warnings=$(man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null)
  expect_eq "man --warnings $f" '' "$warnings"
done

# The service user and the webhook secret.
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd wfrun)
((uid < 1000)) || fail "wfrun's uid $uid is not a system uid"
expect_eq "wfrun's home" /var/lib/wfrun "$home"
expect_eq "wfrun's shell" /usr/sbin/nologin "$shell"
expect_eq "/etc/wfrun/webhook-secret" '640 root wfrun' "$(stat -c '%a %U %G' /etc/wfrun/webhook-secret)"
[[ $(cat /etc/wfrun/webhook-secret) =~ ^[0-9a-f]{64}$ ]] || fail "the webhook secret is not 64 hex digits"
expect_eq "/var/lib/wfrun" '750 wfrun wfrun' "$(stat -c '%a %U %G' /var/lib/wfrun)"

# The unit: systemd's own checker. It exits 0 on warnings, so any output is a failure.
unit=/lib/systemd/system/wfrun-serve.service
expect_contains "the unit's ExecStart" 'ExecStart=/usr/bin/wfrun serve --config /etc/wfrun/server.yaml' "$(cat "$unit")"
verify=$(cd / && systemd-analyze verify "$unit" 2>&1)
rc=$?
expect_eq "systemd-analyze verify $unit (exit code)" 0 "$rc"
expect_eq "systemd-analyze verify $unit (output)" '' "$verify"
# Enabling works offline too (no systemd as PID 1 here); removal must undo it (prerm).
systemctl enable wfrun-serve.service >/dev/null 2>&1 ||
  fail "systemctl enable wfrun-serve.service"
[[ -L /etc/systemd/system/multi-user.target.wants/wfrun-serve.service ]] ||
  fail "systemctl enable made no link in multi-user.target.wants"

# wfrun serve as the unit runs it: user wfrun, no new privileges, the packaged configuration
# with a repository added, listening on any free port, state in a folder of the test.
mkdir "$work/state" && chown wfrun:wfrun "$work/state"
sed -e 's/^listen: .*/listen: 127.0.0.1:0/' \
    -e 's|secret-file: webhook-secret|secret-file: /etc/wfrun/webhook-secret|' \
    -e "s|^state-dir: .*|state-dir: $work/state|" \
    -e 's|^  # - repo: OWNER/NAME|  - repo: octo/demo|' /etc/wfrun/server.yaml >"$work/server.yaml"
setpriv --reuid=wfrun --regid=wfrun --init-groups --no-new-privs \
  env -i $san PATH=/usr/bin:/bin HOME=/var/lib/wfrun /usr/bin/wfrun serve --config "$work/server.yaml" \
  >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
port=''
for _ in $(seq 100); do
  port=$(sed -n 's/^wfrun serve: listening on port \([0-9]*\)$/\1/p' "$work/serve.out")
  [[ -n $port ]] && break
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z $port ]]; then
  fail "wfrun serve as user wfrun did not start: $(cat "$work/serve.err")"
else
  expect_contains "GET /healthz" '"status":"ok"' "$(curl -sS "http://127.0.0.1:$port/healthz")"
  kill -TERM "$serve_pid"
  wait "$serve_pid"
  expect_eq "wfrun serve exit code after SIGTERM" 0 "$?"
  [[ -f $work/state/serve/queue.db ]] || fail "wfrun serve wrote no queue in its state dir"
fi
serve_pid=''

# Installing again keeps a changed conffile and the secret (postinst runs twice safely).
secret=$(cat /etc/wfrun/webhook-secret)
echo '# changed by the admin' >>/etc/wfrun/server.yaml
dpkg -i "$deb" >"$work/dpkg2.log" 2>&1 || { cat "$work/dpkg2.log" >&2; fail "dpkg -i (again)"; }
expect_contains "server.yaml after reinstall" '# changed by the admin' "$(cat /etc/wfrun/server.yaml)"
expect_eq "webhook secret after reinstall" "$secret" "$(cat /etc/wfrun/webhook-secret)"

# --- remove, purge -----------------------------------------------------------------------------
dpkg -r wfrun >"$work/remove.log" 2>&1 || { cat "$work/remove.log" >&2; fail "dpkg -r"; }
[[ ! -e /usr/bin/wfrun ]] || fail "/usr/bin/wfrun is still there after dpkg -r"
[[ ! -e /usr/share/man/man1/wfrun-run.1.gz ]] || fail "man pages are still there after dpkg -r"
[[ ! -L /etc/systemd/system/multi-user.target.wants/wfrun-serve.service ]] ||
  fail "dpkg -r left the service enabled"
[[ -f /etc/wfrun/server.yaml ]] || fail "dpkg -r removed the conffile (only purge may)"
dpkg -P wfrun >"$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "dpkg -P"; }
for gone in /etc/wfrun /var/lib/wfrun /lib/systemd/system/wfrun-serve.service; do
  [[ ! -e $gone ]] || fail "$gone is still there after purge"
done
getent passwd wfrun >/dev/null && fail "the user wfrun is still there after purge"
getent group wfrun >/dev/null && fail "the group wfrun is still there after purge"
dpkg-query -W -f='${Status}' wfrun 2>/dev/null | grep -q 'installed' && fail "wfrun is still installed"
finish

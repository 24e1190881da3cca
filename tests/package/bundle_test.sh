#!/usr/bin/env bash
# scripts/bundle's tarball runs where nothing of wfrun is installed: unpacked into another
# folder and run with LD_LIBRARY_PATH empty and a PATH without the build, it answers --version,
# runs a workflow (shell and python jobs see the host unchanged; a git-checkout@v1 job starts
# wfrun again through the launcher) and `wfrun gpus`; it loads no library from outside the
# bundle. Then the same in a root file system that holds nothing but busybox and the bundle
# (a chroot in a user namespace): no libc, no libraries, no Debian.
# Usage: bundle_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A sanitizer build's binary is what gets bundled then: its leak report at exit is not what
# this test is about (the other tests check leaks), and env -i below would drop the options.
san=ASAN_OPTIONS=detect_leaks=0

t0=$(date +%s%N)
tarball=$("$src/scripts/bundle" "$build" "$work/out") || { echo "FAIL: scripts/bundle" >&2; exit 1; }
echo "scripts/bundle: $(( ($(date +%s%N) - t0) / 1000000 )) ms, $(du -k "$tarball" | cut -f1) KiB"
version=$("$build/cli/wfrun" --version)
version=${version#wfrun }
expect_eq "tarball name" "$work/out/wfrun-$version-linux-x86_64.tar.gz" "$tarball"

mkdir "$work/elsewhere"
tar -C "$work/elsewhere" -xzf "$tarball" || { echo "FAIL: tar -xzf" >&2; exit 1; }
root=$work/elsewhere/wfrun-$version-linux-x86_64
for f in bin/wfrun libexec/wfrun lib/ld-linux-x86-64.so.2 lib/libc.so.6 lib/libgit2.so.1.5 \
         share/man/man1/wfrun-run.1.gz share/doc/wfrun/licenses/libc6; do
  [[ -e $root/$f ]] || fail "the bundle has no $f"
done

# run_bundle ARGS...: the launcher through a symlink on PATH, with the host's tools only.
mkdir "$work/path" "$work/home"
ln -s "$root/bin/wfrun" "$work/path/wfrun"
run_bundle() {
  (cd "$work/home" && env -i $san PATH="$work/path:/usr/bin:/bin" HOME="$work/home" LD_LIBRARY_PATH= \
    WFRUN_HOME="$work/home/state" "$@")
}
expect_eq "wfrun --version" "wfrun $version" "$(run_bundle wfrun --version)"

# Every object the loader maps into wfrun comes from the bundle: LD_DEBUG=files logs what each
# process loads to LD_DEBUG_OUTPUT.PID. The launcher (/bin/sh, the host's libc) execs the
# bundled loader in the same process, so wfrun's part of that log starts at libexec/wfrun.
run_bundle env LD_DEBUG=files LD_DEBUG_OUTPUT="$work/ld-debug" wfrun --version >/dev/null
wfrun_log=$(grep -l 'libexec/wfrun' "$work"/ld-debug.* 2>/dev/null | head -n1)
if [[ -z $wfrun_log ]]; then
  fail "LD_DEBUG=files logged no process that loaded libexec/wfrun"
else
  loaded=$(sed -n '/libexec\/wfrun/,$ s/.*calling init: //p' "$wfrun_log")
  expect_contains "libraries wfrun loaded" "$root/lib/libgit2.so.1.5" "$loaded"
  expect_eq "libraries wfrun loaded from outside the bundle" '' \
    "$(printf '%s\n' "$loaded" | grep -v "^$root/lib/")"
fi

# A workflow: a shell job, a python job with the host's python and its ssl and sqlite3 (the
# host's libraries, not the bundle's), and git-checkout@v1, whose job is `wfrun git-checkout`.
git init -q -b main "$work/repo" && git -C "$work/repo" -c user.name=t -c user.email=t@t \
  commit -q --allow-empty -m first || { echo "FAIL: git init" >&2; exit 1; }
# checkout_job URL: a git-checkout@v1 job, whose process is `wfrun git-checkout`.
checkout_job() {
  printf '  checkout:\n    uses: git-checkout@v1\n    outputs:\n      repo:\n        type: volume\n'
  printf '    with:\n      url: %s\n' "$1"
}
cat >"$work/home/workflow.yaml" <<YAML
jobs:
  hello:
    uses: script@v1
    with:
      script: |
        echo "hello from \$(uname -s), LD_LIBRARY_PATH='\${LD_LIBRARY_PATH-}'"
  python:
    uses: script@v1
    needs: [hello]
    with:
      script: /usr/bin/python3 -c "import ssl, sqlite3; print('python', ssl.OPENSSL_VERSION.split()[0], sqlite3.sqlite_version)"
$(checkout_job "file://$work/repo")
YAML
out=$(run_bundle wfrun run workflow.yaml 2>&1)
rc=$?
expect_eq "wfrun run: exit code (output: $out)" 0 "$rc"
# The bundle's libraries stay wfrun's: a job's environment does not point at them.
expect_contains "the shell job" "hello from Linux, LD_LIBRARY_PATH=''" "$out"
expect_lacks "the jobs' output" "$root/lib" "$out"
expect_contains "the python job" "python OpenSSL" "$out"
expect_eq "wfrun runs" 1 "$(run_bundle wfrun runs | grep -c succeeded)"

# man finds the bundle's pages next to its bin/ on PATH.
if command -v man >/dev/null; then
  expect_eq "man -w wfrun-run" "$root/share/man/man1/wfrun-run.1.gz" \
    "$(env -i PATH="$root/bin:/usr/bin:/bin" man -w wfrun-run 2>&1)"
fi

gpus=$(run_bundle wfrun gpus 2>&1)
expect_eq "wfrun gpus: exit code ($gpus)" 0 "$?"
fake=$(run_bundle env WFRUN_FAKE_GPUS=2xH100 wfrun gpus 2>&1)
expect_contains "wfrun gpus (simulated)" 'NVIDIA H100 80GB HBM3' "$fake"

# --- a root file system with busybox and the bundle only ----------------------------------------
busybox=$(command -v busybox || true)
[[ -n $busybox ]] || require "busybox is missing (scripts/install-deps installs busybox-static)"
file -L "$busybox" | grep -q 'statically linked' || require "$busybox is not the static busybox"
unshare -r true 2>/dev/null || require "no user namespaces here (unshare -r)"
rootfs=$work/rootfs
mkdir -p "$rootfs/bin" "$rootfs/proc" "$rootfs/dev" "$rootfs/tmp" "$rootfs/opt" "$rootfs/home"
cp "$busybox" "$rootfs/bin/busybox"
for applet in sh env uname cat ls echo readlink dirname; do ln -s busybox "$rootfs/bin/$applet"; done
cp -a "$root" "$rootfs/opt/"
cp -a "$work/repo" "$rootfs/repo"
[[ ! -e $rootfs/lib && ! -e $rootfs/usr ]] || fail "the root file system has a /lib or /usr"
cat >"$rootfs/home/workflow.yaml" <<YAML
jobs:
  first:
    uses: script@v1
    with:
      script: uname -s
  second:
    uses: script@v1
    needs: [first]
    with:
      script: ls /opt
$(checkout_job file:///repo)
YAML
# in_rootfs COMMAND: runs COMMAND (busybox sh) in the root file system, with /proc and the
# host's /dev (jobs' stdin is /dev/null).
in_rootfs() {
  unshare -r -m -p -f --mount-proc="$rootfs/proc" sh -c '
    mount --rbind /dev "$0/dev" &&
      exec chroot "$0" /bin/env -i $2 PATH=/bin HOME=/home WFRUN_HOME=/home/state /bin/sh -c "$1"' \
    "$rootfs" "cd /home && $1" "$san"
}
wfrun=/opt/wfrun-$version-linux-x86_64/bin/wfrun
expect_eq "chroot: wfrun --version" "wfrun $version" "$(in_rootfs "$wfrun --version" 2>&1)"
out=$(in_rootfs "$wfrun run workflow.yaml" 2>&1)
expect_eq "chroot: wfrun run: exit code (output: $out)" 0 "$?"
expect_contains "chroot: the first job" 'Linux' "$out"
expect_contains "chroot: the second job" "wfrun-$version-linux-x86_64" "$out"
gpus=$(in_rootfs "$wfrun gpus" 2>&1)
expect_eq "chroot: wfrun gpus: exit code ($gpus)" 0 "$?"
finish

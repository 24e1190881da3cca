#!/bin/bash
# Prints the name of a podman image that holds nothing but a Python interpreter: the binary,
# its standard library (without tests, IDLE, tkinter, site-packages) and the shared libraries
# they load, copied from this machine (no registry is reachable here). Built once and then
# found by name: the tag is a hash of this script, the interpreter and its version.
# usage: python-image.sh PYTHON   (with CONTAINERS_CONF set as the tests set it)
set -euo pipefail
py=$(readlink -f "$(command -v "$1")")
podman=(podman --runtime runc)
read -r ver stdlib < <("$py" -c 'import sys, sysconfig
print("%d.%d" % sys.version_info[:2], sysconfig.get_paths()["stdlib"])')
hash=$( (cat "$0" "$py"; echo "$ver $stdlib") | sha256sum | cut -c1-12)
image=localhost/wfrun-test-python:$ver-$hash
if "${podman[@]}" image exists "$image"; then echo "$image"; exit 0; fi

work=$(mktemp -d /tmp/wfrun-pyimage-XXXXXX)
trap 'rm -rf "$work"' EXIT
r=$work/rootfs
mkdir -p "$r/tmp" "$r/usr/bin" "$r/etc"
chmod 1777 "$r/tmp"
echo 'root:x:0:0:root:/root:/bin/sh' > "$r/etc/passwd"
# The interpreter at its own path (its prefix is found from there), python3 pointing at it.
mkdir -p "$r$(dirname "$py")"
cp "$py" "$r$py"
[ -e "$r/usr/bin/python3" ] || ln -s "$py" "$r/usr/bin/python3"
tar -C / -cf - --exclude='*/test' --exclude='*/tests' --exclude='*/idlelib' \
  --exclude='*/tkinter' --exclude='*/turtledemo' --exclude='*/ensurepip' --exclude='*/lib2to3' \
  --exclude='*/site-packages' --exclude='*/dist-packages' --exclude='*/config-*' \
  --exclude='*.opt-1.pyc' --exclude='*.opt-2.pyc' "${stdlib#/}" | tar -C "$r" -xf -
# Every shared library the interpreter and its extension modules load, and the loader.
for f in "$py" $(find "$stdlib/lib-dynload" -name '*.so' 2>/dev/null); do
  ldd "$f" 2>/dev/null | grep -o '/[^ ]*' || true
done | sort -u | while read -r lib; do
  [ -e "$r$lib" ] && continue
  mkdir -p "$r$(dirname "$lib")"
  cp -L "$lib" "$r$lib"
done
tar -C "$r" -cf "$work/image.tar" .
"${podman[@]}" import -q --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  "$work/image.tar" "$image" >/dev/null
echo "$image"

#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# install_test.sh BUILD_DIR VERSION - `cmake --install` into a temporary prefix gives working
# programs, the documentation, the example configuration (which vigild accepts), the sysusers
# entry and a systemd unit that names the installed vigild and passes `systemd-analyze
# verify` (skipped, with a message, where systemd-analyze is missing).
set -u
build=$1 version=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-install-XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
prefix=$dir/usr
fail=0
check() { # check DESCRIPTION COMMAND...
    what=$1
    shift
    if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fail=1; fi
}

if ! cmake --install "$build" --prefix "$prefix" >"$dir/install.log" 2>&1; then
    cat "$dir/install.log"
    echo "FAIL: cmake --install"
    exit 1
fi
for prog in vigild vigilctl vigil-sim vigil-broker; do
    out=$("$prefix/bin/$prog" --version 2>&1)
    check "$prog --version: $out" test "${out#"$prog $version (git "}" != "$out"
done
doc=$prefix/share/doc/vigil
for f in README.md LICENSE vigil.conf.example docs/events.md docs/outputs.md docs/redis.md docs/deploying.md \
         kamailio/vigil-enforce.cfg; do
    check "installed $f" test -s "$doc/$f"
done
quiet() { "$@" >/dev/null; }
check "vigild accepts the installed vigil.conf.example" \
    quiet "$prefix/bin/vigild" --print-config --config "$doc/vigil.conf.example"
check "sysusers entry" grep -q '^u vigil ' "$prefix/lib/sysusers.d/vigil.conf"
unit=$prefix/lib/systemd/system/vigild.service
check "unit runs the installed vigild" grep -q "^ExecStart=$prefix/bin/vigild " "$unit"
check "unit reloads with SIGHUP" grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$unit"
check "unit reads the Redis password from an environment file" \
    grep -q "^EnvironmentFile=-$prefix/etc/vigil/vigild.env$" "$unit"
if command -v systemd-analyze >/dev/null 2>&1; then
    # A failure is a non-zero status or any complaint that names our unit (verify may also
    # talk about the system's own units, which are not ours to judge).
    if out=$(systemd-analyze verify "$unit" 2>&1) && ! printf '%s' "$out" | grep -q vigild; then
        echo "ok: systemd-analyze verify"
    else
        printf '%s\n' "$out"
        echo "FAIL: systemd-analyze verify"
        fail=1
    fi
else
    echo "skip: systemd-analyze not found (Debian package systemd); the unit was not verified"
fi
exit $fail

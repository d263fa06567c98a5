#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# cli_version.sh BIN_DIR VERSION - every program answers --version with one line
# "PROGRAM VERSION (git COMMIT)" on stdout and exit status 0.
set -u
bin=$1 version=$2
fail=0
for prog in vigild vigilctl vigil-sim vigil-broker; do
    out=$("$bin/$prog" --version) || { echo "FAIL: $prog --version exited $?"; fail=1; continue; }
    case "$out" in
    "$prog $version (git "?*")") echo "ok: $out" ;;
    *) echo "FAIL: $prog --version printed '$out'"; fail=1 ;;
    esac
    [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || { echo "FAIL: $prog: more than one line"; fail=1; }
done
exit $fail

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test.sh - the one command that runs every test: installs dependencies, then builds and runs
#   1. the whole suite (unit + integration against real redis-server, vigil-broker, vigild),
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer,
#   3. the concurrency tests under ThreadSanitizer,
#   4. the parser fuzzer for a bounded time (libFuzzer, clang).
# Environment: FUZZ_SECONDS (default 60), JOBS (default: cores).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${JOBS:-$(nproc)}
fuzz_seconds=${FUZZ_SECONDS:-60}

bash scripts/install-deps.sh

step() { printf '\n==== %s\n' "$*"; }

step "build (RelWithDebInfo, -Werror)"
cmake -S . -B build -DVIGIL_WERROR=ON >/dev/null
cmake --build build -j "$jobs"
step "tests: unit + integration"
ctest --test-dir build --output-on-failure -j 1

step "build with AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DVIGIL_SANITIZE='address;undefined' -DVIGIL_BUILD_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j "$jobs"
step "tests under ASan + UBSan: unit + integration (not the resident-memory bound)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j 1 -LE memory

step "build with ThreadSanitizer"
cmake -S . -B build-tsan -DVIGIL_SANITIZE=thread -DVIGIL_BUILD_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-tsan -j "$jobs"
step "tests under TSan: concurrency"
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan -L concurrency --output-on-failure

step "fuzz the event parser for ${fuzz_seconds}s"
CC=clang cmake -S . -B build-fuzz -DVIGIL_FUZZ=ON -DVIGIL_BUILD_TESTS=ON -DVIGIL_BUILD_BENCH=OFF \
    -DVIGIL_SANITIZE='address;undefined;fuzzer-no-link' -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j "$jobs" --target fuzz_event_parse
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp tests/fuzz/corpus/event_parse/* "$corpus"/
build-fuzz/bin/fuzz_event_parse -max_total_time="$fuzz_seconds" -print_final_stats=1 \
    "$corpus" 2>&1 | tail -n 12
echo "fuzz: no crash in ${fuzz_seconds}s"

step "all test stages passed"

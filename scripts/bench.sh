#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench.sh - builds Release into build-bench, runs every benchmark, writes bench/RESULTS.md
# (a markdown table of the result lines with date, machine and commit) and prints it.
#
#   bench_ring, bench_parse             the ring and the parser alone
#   bench_detectors at 10 k and 1 M accounts   the detector core on one core, and its memory
#   bench_e2e (E2E_RUNS times, default 3)      vigild against a bare Kafka consumer, same run
#
# Benchmarks assert nothing about speed; this script fails only when one of them cannot run.
# Machines are shared and noisy: compare the ratios measured side by side within one line,
# and look at the spread of the bench_e2e runs before trusting a figure.
# Environment: JOBS (default: cores), E2E_RUNS (default 3), E2E_ARGS (extra bench_e2e flags),
# SKIP_DEPS=1 to skip scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
e2e_runs=${E2E_RUNS:-3}
build="build-bench"
results=bench/RESULTS.md

if [ "${SKIP_DEPS:-0}" != 1 ]; then
    bash scripts/install-deps.sh >&2
fi

echo "==== build (Release) into $build" >&2
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DVIGIL_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target bench_ring bench_parse bench_detectors bench_e2e \
    vigild vigil-broker vigil-sim >/dev/null

bin=$build/bin
lines=()
run() {
    echo "==== $*" >&2
    local out
    out=$("$@")
    printf '%s\n' "$out" >&2
    lines+=("$out")
}

run "$bin/bench_ring"
run "$bin/bench_parse"
run "$bin/bench_detectors" --accounts 10000
run "$bin/bench_detectors" --accounts 1000000
for _ in $(seq 1 "$e2e_runs"); do
    # shellcheck disable=SC2086 # E2E_ARGS is a list of flags
    run "$bin/bench_e2e" ${E2E_ARGS:-}
done

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null | grep -v '^??' || true)" ]; then
    commit="$commit (with uncommitted changes)"
fi
{
    echo "# Benchmark results"
    echo
    echo "Written by \`scripts/bench.sh\`. Date $(date -u +%Y-%m-%dT%H:%M:%SZ), machine" \
        "\`$(uname -m)\`, $(nproc) cores, commit \`$commit\`."
    echo "Machines are shared and noisy: compare the ratios within one line, not absolute"
    echo "figures between machines or runs."
    echo
    echo "| benchmark | result |"
    echo "|---|---|"
    for l in "${lines[@]}"; do
        name=${l%% *}
        rest=${l#* }
        echo "| \`$name\` | \`$rest\` |"
    done
} >"$results"
echo "==== $results" >&2
cat "$results"

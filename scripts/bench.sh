#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench.sh - builds Release into build-bench, runs every benchmark, writes bench/RESULTS.md
# (a markdown table of the result lines with date, machine and commit) and prints it.
#
#   bench_ring, bench_parse             the ring and the parser alone
#   bench_detectors at 10 k and 1 M accounts   the detector core on one core, and its memory
#   bench_e2e (E2E_RUNS times, default 3)      vigild against a bare Kafka consumer, same run
#   bench_latency                              event -> order latency at a fixed offered rate
#
# Benchmarks assert nothing about speed; this script fails only when one of them cannot run.
# Machines are shared and noisy: compare the ratios measured side by side within one line,
# and look at the spread of the bench_e2e runs before trusting a figure.
# Environment: JOBS (default: cores), E2E_RUNS (default 3), E2E_ARGS (extra bench_e2e flags),
# LATENCY_ARGS (extra bench_latency flags, e.g. --rate 20000), SKIP_DEPS=1 to skip
# scripts/install-deps.sh.
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
    bench_latency vigild vigil-broker vigil-sim >/dev/null

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
run "$bin/bench_parse" --compare
run "$bin/bench_detectors" --accounts 10000
run "$bin/bench_detectors" --accounts 1000000
for _ in $(seq 1 "$e2e_runs"); do
    # shellcheck disable=SC2086 # E2E_ARGS is a list of flags
    run "$bin/bench_e2e" ${E2E_ARGS:-}
done
# shellcheck disable=SC2086 # LATENCY_ARGS is a list of flags
run "$bin/bench_latency" ${LATENCY_ARGS:-}

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null | grep -v '^??' || true)" ]; then
    commit="$commit (with uncommitted changes)"
fi
# Side-by-side comparisons recorded by hand under "## History" survive a rewrite.
history=$(sed -n '/^## History/,$p' "$results" 2>/dev/null || true)
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
    echo
    cat <<'EOF'
`bench_latency` (event -> order): vigild, vigil-broker and Redis run as in `bench_e2e`, with
`toll_fraud.concurrent_high_risk` and its off-hours level set to K = 8. The benchmark offers a
fixed rate (default 50,000 events/s, paced in 1 ms slices, 16 partitions) of vigil-sim
background (100 k accounts, written to a file beforehand) and, every 20-50 ms, a fresh account
that opens K calls to +881; the K-th `call_start` completes the rule, which orders
`block_international` at that event. Latency runs from handing that event to our producer
(`linger.ms` 5) to a consumer of `vigil.orders` (`fetch.wait.max.ms` 2) holding the order,
matched by key: p50/p99/p99.9/max over the patterns sent in a 20 s window, once vigild has
caught up with the start and after 3 s of warm-up (of ~570 patterns, p99.9 is the maximum).
`in_*`/`out_*` split it at the order's `ts` (when the worker issued it). `missing` counts
patterns without an order 10 s after the window; it should be 0, and is not when vigild lags so
far that the mock broker (~5 MiB per partition) dropped their events. `delivered_ev_s` below
the rate means the broker did not take the load; `machine_idle` near 0 means the cores were
saturated. Either way the figures then measure queueing more than vigild. The mock broker holds
an empty fetch for the consumer's whole `fetch.wait.max.ms` (vigild's `kafka.fetch_wait_max_ms`,
default 100 ms): up to that much of `in_*` is the test broker, which a real broker does not do
(`LATENCY_ARGS="--set kafka.fetch_wait_max_ms=10"` shows the rest).
EOF
    if [ -n "$history" ]; then
        echo
        printf '%s\n' "$history"
    fi
} >"$results"
echo "==== $results" >&2
cat "$results"

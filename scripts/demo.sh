#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# demo.sh - the main job: builds vigil, starts the embedded broker and a redis-server on free
# loopback ports, streams simulated traffic with abuse through vigild, shows the orders,
# alerts, dead letters and Redis block state, then stops everything.
# Environment: DEMO_ACCOUNTS (default 300), DEMO_MINUTES (event time, default 180),
# DEMO_KEEP=1 keeps the logs in .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/install-deps.sh
echo "demo: building"
cmake -S . -B build -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_BENCH=OFF >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
bin=$root/build/bin

work=$root/.demo
rm -rf "$work"
mkdir -p "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "${DEMO_KEEP:-0}" != 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
redis="127.0.0.1:$redis_port"

"$bin/vigil-broker" >"$work/broker.out" 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 100); do
    [ -s "$work/broker.out" ] && break
    sleep 0.1
done
brokers=$(head -n 1 "$work/broker.out")
echo "demo: embedded Kafka broker at $brokers, Redis at $redis"

accounts=${DEMO_ACCOUNTS:-300}
minutes=${DEMO_MINUTES:-180}
echo "demo: simulating $minutes minutes of traffic from $accounts accounts, with a hacked PBX"
echo "      (toll_concurrent at minute 40), a busy call centre and a family call abroad"
"$bin/vigil-sim" --brokers "$brokers" --accounts "$accounts" --duration "$minutes" --seed 7 \
    --scenario toll_concurrent@40:acc-hacked-pbx \
    --scenario callcenter_busy@0:acc-callcenter \
    --scenario family_abroad@60:acc-family \
    --invalid 5 --truth "$work/truth.jsonl" 2>"$work/sim.log"
tail -n 3 "$work/sim.log"

echo "demo: starting vigild (group demo)"
"$bin/vigild" --brokers "$brokers" --redis "$redis" --group demo 2>"$work/vigild.log" &
vigild_pid=$!
pids+=($vigild_pid)

# Wait until the order is in Redis (the group join alone takes about 3 s).
for _ in $(seq 300); do
    if "$bin/vigilctl" blocks --redis "$redis" 2>/dev/null | grep -q acc-hacked-pbx; then
        break
    fi
    sleep 0.1
done
sleep 2

table() {
    python3 -c 'import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
for d in rows:
    if "alert_id" in d:   # an alert: its severity, and the order it came with
        what = d["severity"] + (" -> " + d["action"] if "order_id" in d else "")
    else:                 # an order: its action
        what = d["action"]
    print("  %-16s %-32s %-34s %s" % (d["account"], what, d["rule"], d["reason"][:80]))
if not rows:
    print("  (none)")'
}
echo
echo "==== suspension orders (topic vigil.orders): account, action, rule, reason"
"$bin/vigilctl" tail --brokers "$brokers" --topic vigil.orders --timeout-ms 1500 >"$work/orders.jsonl"
table <"$work/orders.jsonl"
echo
echo "==== the first order as provisioning receives it"
head -n 1 "$work/orders.jsonl" | python3 -m json.tool | sed 's/^/  /'
echo
echo "==== NOC alerts (topic vigil.alerts): account, severity, rule, reason"
"$bin/vigilctl" tail --brokers "$brokers" --topic vigil.alerts --timeout-ms 1500 | table
echo
echo "==== dead letters (topic vigil.dlq): reasons"
"$bin/vigilctl" tail --brokers "$brokers" --topic vigil.dlq --timeout-ms 1500 |
    python3 -c 'import json,sys
for l in sys.stdin:
    d = json.loads(l); print("  %-24s partition %s offset %s" % (d["reason"], d["partition"], d["offset"]))'
echo
echo "==== active blocks in Redis (what a SIP proxy checks)"
"$bin/vigilctl" blocks --redis "$redis"
echo
echo "==== vigilctl show acc-hacked-pbx"
"$bin/vigilctl" show --redis "$redis" acc-hacked-pbx

kill -TERM "$vigild_pid"
wait "$vigild_pid" && echo && echo "demo: vigild stopped cleanly (exit 0)"
echo "demo: vigild's log:"
sed 's/^/  /' "$work/vigild.log" | tail -n 8

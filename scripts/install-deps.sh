#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# install-deps.sh - installs every Debian package vigil's build, demo and tests need.
# Safe to run again: it only calls apt-get when something is missing.
set -euo pipefail

packages=(
    build-essential cmake pkg-config      # toolchain
    clang libclang-rt-14-dev              # libFuzzer and sanitizer runtimes
    librdkafka-dev                        # Kafka client and the mock cluster (embedded broker)
    libhiredis-dev                        # Redis client
    libjemalloc-dev                       # allocator for the long-running programs
    libjsmn-dev                           # JSON tokenizer for lift orders, vigilctl, tests
    libmicrohttpd-dev                     # vigild --http: /metrics, /healthz, /readyz
    libcurl4-openssl-dev                  # alert delivery to Alertmanager and webhooks
    libcmocka-dev                         # unit and integration tests
    prometheus                            # tests: promtool check metrics
    prometheus-alertmanager               # tests: a real Alertmanager receives alerts
    redis-server                          # tests and demo
    kamailio kamailio-redis-modules       # SIP proxy enforcement test (itest_sip): ndb_redis
    sip-tester                            # sipp, the SIP caller of itest_sip
    python3                               # demo output formatting
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
# The Debian packages start system-wide redis-server, prometheus and alertmanager services;
# tests and the demo run their own on free ports.
for svc in redis-server prometheus prometheus-alertmanager; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
        "${sudo_cmd[@]}" systemctl stop "$svc" || true
    fi
done
# Likewise Debian's kamailio service (its default configuration holds port 5060); the tests
# start their own Kamailio on free loopback ports and never use it. Disabled, so it does not
# come back at boot either.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    "${sudo_cmd[@]}" systemctl disable --now kamailio >/dev/null 2>&1 || true
elif [ -x /etc/init.d/kamailio ]; then
    "${sudo_cmd[@]}" /etc/init.d/kamailio stop >/dev/null 2>&1 || true
fi

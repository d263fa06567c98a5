/* SPDX-License-Identifier: Apache-2.0 */
/* vigild - the fraud and abuse detection daemon: flags and wiring only (see pipeline/). */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "version.h"

#define MAX_SETS 256

static atomic_bool stop_requested;
static atomic_bool reload_requested;

static void on_signal(int sig)
{
    (void)sig;
    /* Relaxed store from a signal handler; lock-free atomics are async-signal-safe. */
    atomic_store_explicit(&stop_requested, true, memory_order_relaxed);
}

static void on_hangup(int sig)
{
    (void)sig;
    /* As on_signal: relaxed, lock-free, async-signal-safe. */
    atomic_store_explicit(&reload_requested, true, memory_order_relaxed);
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: vigild --brokers LIST [--redis ADDR] [--group ID] [--config FILE]\n"
            "              [--set KEY=VALUE]... [--workers N] [--http HOST:PORT] [--verbose]\n"
            "              [--print-config]\n"
            "       vigild --version\n"
            "\n"
            "Consumes call and SMS events (wire format v1) from Kafka as a member of a consumer\n"
            "group, runs the fraud and abuse detectors, and emits suspension orders, NOC alerts\n"
            "and dead letters to Kafka and block state and counters to Redis. Stops cleanly on\n"
            "SIGTERM or SIGINT: finishes in-flight events, flushes, commits, exits 0.\n"
            "SIGHUP re-reads the --config file (with the same --set over it) without a restart:\n"
            "thresholds, profiles, allowlist and number tables change, no event or state is\n"
            "lost; a bad file is refused with one log line and the running configuration\n"
            "stays; keys that need a restart (topics, Redis, Kafka, workers, ...) keep their\n"
            "running values.\n"
            "\n"
            "  -b, --brokers LIST   Kafka bootstrap servers, e.g. 127.0.0.1:9092 (required)\n"
            "  -r, --redis ADDR     Redis as HOST:PORT or redis://[USER:PASSWORD@]HOST:PORT[/DB]\n"
            "                       (default 127.0.0.1:6379); without a password in it, the\n"
            "                       file redis.password_file names, then $VIGIL_REDIS_PASSWORD\n"
            "  -g, --group ID       consumer group id; instances with the same id share the\n"
            "                       partitions (default vigil)\n"
            "  -c, --config FILE    configuration file (see vigil.conf.example); defaults\n"
            "                       apply without one\n"
            "  -s, --set KEY=VALUE  override one configuration key, e.g.\n"
            "                       --set toll_fraud.concurrent_high_risk=6 (repeatable);\n"
            "                       librdkafka.PROPERTY=VALUE reaches every Kafka client\n"
            "  -w, --workers N      worker threads (default: vigild.workers, 0 = cores)\n"
            "      --http HOST:PORT serve GET /metrics (Prometheus), /healthz and /readyz\n"
            "                       there (default: http.listen, empty = off)\n"
            "  -v, --verbose        debug logging\n"
            "  -h, --help           this help\n"
            "      --version        print the version and the commit it was built from\n"
            "      --print-config   print the effective configuration (every key = value,\n"
            "                       librdkafka.* included, secrets as ***) and exit\n"
            "\n"
            "Exit status: 0 clean stop; 1 could not start (one line on stderr says why);\n"
            "2 bad flag; 3 stopped but some outputs were not durable in time.\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'}, {"redis", required_argument, NULL, 'r'},
        {"group", required_argument, NULL, 'g'},   {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},     {"workers", required_argument, NULL, 'w'},
        {"verbose", no_argument, NULL, 'v'},       {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"print-config", no_argument, NULL, 'P'},
        {"http", required_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    struct vigil_daemon_opts o = {.redis = "127.0.0.1:6379", .group = "vigil"};
    static const char *sets[MAX_SETS];
    enum vigil_log_level level = VIGIL_LOG_INFO;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":b:r:g:c:s:w:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': o.brokers = optarg; break;
        case 'r': o.redis = optarg; break;
        case 'g': o.group = optarg; break;
        case 'c': o.config_path = optarg; break;
        case 's':
            if (o.n_sets == MAX_SETS) {
                fprintf(stderr, "vigild: error: more than %d --set flags\n", MAX_SETS);
                return 2;
            }
            sets[o.n_sets++] = optarg;
            break;
        case 'w': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 64) {
                fprintf(stderr, "vigild: error: --workers takes a number from 1 to 64, not '%s'\n",
                        optarg);
                return 2;
            }
            o.workers = (int)n;
            break;
        }
        case 'v': level = VIGIL_LOG_DEBUG; break;
        case 'h': usage(stdout); return 0;
        case 'V': vigil_print_version("vigild"); return 0;
        case 'P': o.print_config = true; break;
        case 'H': o.http = optarg; break;
        case ':':
            fprintf(stderr, "vigild: error: %s needs a value (see --help)\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "vigild: error: unknown flag '%s' (see --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vigild: error: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    o.sets = sets;
    if (o.print_config)
        return vigil_daemon_print_config(&o);
    if (!o.brokers) {
        fprintf(stderr, "vigild: error: --brokers is required (see --help)\n");
        return 2;
    }
    vigil_log_setup("vigild", level);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hangup;
    /* A reload is routine: system calls it lands in on any thread carry on, not fail. */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    o.reload = &reload_requested;
    signal(SIGPIPE, SIG_IGN);

    return vigil_daemon_run(&o, &stop_requested);
}

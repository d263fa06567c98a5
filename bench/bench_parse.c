/* SPDX-License-Identifier: Apache-2.0 */
/* bench_parse.c - how many events per second does one thread parse and validate?
 *
 * Parses the call_start example of events.md N times and prints one line:
 *   bench_parse events=2000000 bytes=200 mev_s=2.9 ns_per_event=345
 * With --compare it also times the previous parser (tests/unit/event_parse_ref.c), the two taking
 * turns in 10 rounds so that both see the same machine load, and adds its figures and the
 * ratio:
 *   ... old_mev_s=1.9 old_ns_per_event=518 speedup=1.50
 * Asserts nothing about speed. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event_parse_ref.h"
#include "vigil/event.h"

static const char event_json[] =
    "{\"v\":1,\"type\":\"call_start\",\"id\":\"e-7f3a\",\"ts\":1795402746539,"
    "\"account\":\"acc-1042\",\"call_id\":\"c-9\",\"from\":\"+31201234567\","
    "\"to\":\"+5351234567\",\"dir\":\"out\",\"device\":\"pbx-1042/trunk1\","
    "\"src_ip\":\"203.0.113.5\"}";

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_parse [--n EVENTS] [--compare]\n"
               "Parses the call_start example of events.md EVENTS times (default 2000000)\n"
               "and prints one result line. --compare: the previous parser as well, in turns,\n"
               "and the ratio of the two.\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef int (*parse_fn)(const char *buf, size_t len, const char *key, size_t key_len,
                        const struct vigil_parse_opts *opts, struct vigil_event *ev,
                        struct vigil_parse_error *err);

/* Seconds for n parses with fn; -1 if the example is rejected. */
static double run(parse_fn fn, long n, const struct vigil_parse_opts *opts)
{
    struct vigil_event ev;
    struct vigil_parse_error err;
    const size_t len = sizeof event_json - 1;
    /* Written every iteration so the compiler cannot drop any of the work. */
    volatile unsigned long sink = 0;

    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        if (fn(event_json, len, "acc-1042", 8, opts, &ev, &err) != 0)
            return -1;
        sink += (unsigned long)ev.ts_ms + (unsigned char)ev.to[3];
    }
    (void)sink;
    return now_s() - t0;
}

int main(int argc, char **argv)
{
    long n = 2000000;
    struct vigil_parse_opts opts = {.default_cc = "31", .now_ms = 1795402700000LL};
    struct vigil_event ev, ev_old;
    struct vigil_parse_error err;
    const size_t len = sizeof event_json - 1;
    bool compare = false;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--compare") == 0) {
            compare = true;
            continue;
        }
        if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            char *end;
            n = strtol(argv[++i], &end, 10);
            if (*end != '\0' || n <= 0) {
                fprintf(stderr, "bench_parse: --n needs a positive integer\n");
                return 2;
            }
            continue;
        }
        usage(stderr);
        return 2;
    }

    /* The event must be valid, or we would be timing the rejection path; and both parsers
     * must read it the same. */
    if (vigil_event_parse(event_json, len, "acc-1042", 8, &opts, &ev, &err) != 0) {
        fprintf(stderr, "bench_parse: example rejected: %s (%s)\n", err.reason, err.detail);
        return 1;
    }
    if (compare) {
        memset(&ev_old, 0, sizeof ev_old);
        memset(&ev, 0, sizeof ev);
        if (vigil_event_parse_ref(event_json, len, "acc-1042", 8, &opts, &ev_old, &err) != 0 ||
            vigil_event_parse(event_json, len, "acc-1042", 8, &opts, &ev, &err) != 0 ||
            memcmp(&ev, &ev_old, sizeof ev) != 0) {
            fprintf(stderr, "bench_parse: the two parsers disagree on the example\n");
            return 1;
        }
    }

    const int rounds = compare ? 10 : 1;
    double dt = 0, dt_old = 0;
    for (int r = 0; r < rounds; r++) {
        long part = n / rounds + (r < n % rounds ? 1 : 0);
        double t = run(vigil_event_parse, part, &opts);
        if (t < 0)
            return 1;
        dt += t;
        if (compare) {
            t = run(vigil_event_parse_ref, part, &opts);
            if (t < 0)
                return 1;
            dt_old += t;
        }
    }

    printf("bench_parse events=%ld bytes=%zu mev_s=%.2f ns_per_event=%.0f", n, len,
           (double)n / dt / 1e6, dt * 1e9 / (double)n);
    if (compare)
        printf(" old_mev_s=%.2f old_ns_per_event=%.0f speedup=%.2f", (double)n / dt_old / 1e6,
               dt_old * 1e9 / (double)n, dt_old / dt);
    printf("\n");
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* bench_parse.c - how many events per second does one thread parse and validate?
 *
 * Parses the call_start example of events.md N times and prints one line:
 *   bench_parse events=2000000 mev_s=2.9 ns_per_event=345
 * Asserts nothing about speed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/event.h"

static const char event_json[] =
    "{\"v\":1,\"type\":\"call_start\",\"id\":\"e-7f3a\",\"ts\":1795402746539,"
    "\"account\":\"acc-1042\",\"call_id\":\"c-9\",\"from\":\"+31201234567\","
    "\"to\":\"+5351234567\",\"dir\":\"out\",\"device\":\"pbx-1042/trunk1\","
    "\"src_ip\":\"203.0.113.5\"}";

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_parse [--n EVENTS]\n"
               "Parses the call_start example of events.md EVENTS times (default 2000000)\n"
               "and prints one result line.\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long n = 2000000;
    struct vigil_parse_opts opts = {.default_cc = "31", .now_ms = 1795402700000LL};
    struct vigil_event ev;
    struct vigil_parse_error err;
    const size_t len = sizeof event_json - 1;
    /* Written every iteration so the compiler cannot drop any of the work. */
    volatile unsigned long sink = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
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

    /* The event must be valid, or we would be timing the rejection path. */
    if (vigil_event_parse(event_json, len, "acc-1042", 8, &opts, &ev, &err) != 0) {
        fprintf(stderr, "bench_parse: example rejected: %s (%s)\n", err.reason, err.detail);
        return 1;
    }

    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        if (vigil_event_parse(event_json, len, "acc-1042", 8, &opts, &ev, &err) != 0)
            return 1;
        sink += (unsigned long)ev.ts_ms + (unsigned char)ev.to[3];
    }
    double dt = now_s() - t0;
    (void)sink;

    printf("bench_parse events=%ld bytes=%zu mev_s=%.2f ns_per_event=%.0f\n", n, len,
           (double)n / dt / 1e6, dt * 1e9 / (double)n);
    return 0;
}

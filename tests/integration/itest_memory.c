/* SPDX-License-Identifier: Apache-2.0 */
/* itest_memory.c - a cardinality attack: 1,000,000 distinct one-off account ids through
 * vigild with a cap on the accounts a worker keeps in memory. Resident memory stays under a
 * bound that holds only if the cap works (uncapped, the accounts alone would need about
 * 2 GB), every event is still committed, and the eviction is logged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define T0 1793610000000LL
#define N_ACCOUNTS 1000000
#define CAP "20000"                    /* accounts per worker */
#define RSS_BOUND_KB (400LL * 1024)    /* 2 workers x 20,000 accounts plus rings and dedupe */

static struct harness_redis redis;
static struct harness_broker broker;

/* VmRSS of a process in kB, or -1. */
static long long rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long long kb = -1;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmRSS: %lld", &kb) == 1)
            break;
    }
    fclose(f);
    return kb;
}

static int64_t events_done(void)
{
    return harness_committed_sum(broker.bootstrap, "g-mem", "vigil.events");
}

static void test_million_accounts_stay_under_the_cap(void **state)
{
    (void)state;
    const char *argv[] = {harness_bin("vigild"), "--brokers", broker.bootstrap, "--redis",
                          redis.addr, "--group", "g-mem", "--workers", "2",
                          "--set", "vigild.max_accounts=" CAP, NULL};
    struct harness_proc vd;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(&vd, argv, &o), 0);

    struct harness_producer *prod = harness_producer_create(broker.bootstrap);
    assert_non_null(prod);
    long long peak = 0;
    char acc[32], json[384];
    for (int i = 0; i < N_ACCOUNTS; i++) {
        snprintf(acc, sizeof acc, "one-off-%07d", i);
        snprintf(json, sizeof json,
                 "{\"v\":1,\"type\":\"sms\",\"id\":\"m%d\",\"ts\":%lld,\"account\":\"%s\","
                 "\"from\":\"+3161%07d\",\"to\":\"+31622%06d\"}",
                 i, (long long)(T0 + i / 10), acc, i, i % 1000000);
        assert_int_equal(harness_producer_send(prod, "vigil.events", -1, acc, json,
                                               strlen(json)),
                         0);
        /* Paced so the mock broker (about 5 MiB kept per partition) never drops unread
         * messages; the memory is sampled on the way. */
        if (i % 20000 == 19999) {
            assert_int_equal(harness_producer_flush(prod, 30000), 0);
            long long kb = rss_kb(vd.pid);
            if (kb > peak)
                peak = kb;
            while (events_done() + 200000 < i)
                harness_sleep_ms(50);
        }
    }
    assert_int_equal(harness_producer_destroy(prod), 0);
    for (int tries = 0; tries < 600 && events_done() < N_ACCOUNTS; tries++) {
        long long kb = rss_kb(vd.pid);
        if (kb > peak)
            peak = kb;
        harness_sleep_ms(100);
    }
    assert_int_equal(events_done(), N_ACCOUNTS);
    fprintf(stderr, "peak resident memory %lld kB for %d accounts, cap %s per worker\n", peak,
            N_ACCOUNTS, CAP);
    HARNESS_ASSERT(peak > 0 && peak < RSS_BOUND_KB);
    assert_int_equal(harness_proc_stop(&vd, 10000), 0);
    char *log = harness_read_file(vd.err_path, NULL);
    assert_non_null(log);
    HARNESS_ASSERT(strstr(log, "passed vigild.max_accounts") != NULL);
    free(log);
}

static int setup(void **state)
{
    (void)state;
    if (!harness_redis_start(&redis, 0))
        return -1;
    const char *topics[] = {"--topic", "vigil.events:8", "--topic", "vigil.orders:1",
                            "--topic", "vigil.alerts:1", "--topic", "vigil.dlq:1", NULL};
    return harness_broker_start(&broker, topics) ? 0 : -1;
}

static int teardown(void **state)
{
    harness_teardown(state);
    harness_broker_stop(&broker);
    harness_redis_fini(&redis);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_million_accounts_stay_under_the_cap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

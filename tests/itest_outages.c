/* SPDX-License-Identifier: Apache-2.0 */
/* itest_outages.c - vigild through a Redis outage: it must hold its outputs and offsets,
 * retry, and lose nothing once Redis is back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define T0 1793610000000LL /* Monday 2026-11-02 10:00 Amsterdam */

static struct harness_redis redis;
static struct harness_broker broker;
static struct harness_producer *prod;

static void burst(const char *account, int64_t t0)
{
    static const char *dest[] = {"+5351234567", "+8816123456", "+252612345678", "+5357654321"};
    for (int i = 0; i < 9; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"v\":1,\"type\":\"call_start\",\"id\":\"%s-%d\",\"ts\":%lld,\"account\":"
                 "\"%s\",\"call_id\":\"%s-c%d\",\"from\":\"+31201234567\",\"to\":\"%s%d\","
                 "\"dir\":\"out\"}",
                 account, i, (long long)(t0 + i * 5000), account, account, i, dest[i % 4], i);
        assert_int_equal(harness_producer_send(prod, "vigil.events", -1, account, json,
                                               strlen(json)),
                         0);
    }
    assert_int_equal(harness_producer_flush(prod, 10000), 0);
}

static ssize_t count_orders(void)
{
    struct harness_msg *m = NULL;
    ssize_t n = harness_consume_all(broker.bootstrap, "vigil.orders", 2000, 0, &m);
    harness_msgs_free(m, (size_t)(n > 0 ? n : 0));
    return n;
}

static void test_redis_outage_loses_nothing(void **state)
{
    const char *argv[] = {harness_bin("vigild"), "--brokers", broker.bootstrap, "--redis",
                          redis.addr, "--group", "g-outage", "--workers", "2",
                          "--set", "redis.timeout_ms=500", NULL};
    struct harness_proc vd;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(&vd, argv, &o), 0);

    burst("acc-before", T0);
    HARNESS_ASSERT(harness_redis_wait_exists(&redis, "vigil:block:acc-before", 30000));

    /* Redis goes away; an attack goes on meanwhile. */
    assert_int_equal(harness_redis_stop(&redis), 0);
    burst("acc-during", T0 + 600000);
    harness_sleep_ms(4000);
    HARNESS_ASSERT(harness_proc_running(&vd));

    /* The outage is logged once, not once per retry. */
    char *log = harness_read_file(vd.err_path, NULL);
    assert_non_null(log);
    int warnings = 0;
    for (const char *p = log; (p = strstr(p, "not durable yet")) != NULL; p++)
        warnings++;
    free(log);
    assert_int_equal(warnings, 1);

    assert_int_equal(harness_redis_restart(&redis), 0);
    HARNESS_ASSERT(harness_redis_wait_exists(&redis, "vigil:block:acc-during", 30000));
    /* What was written before the outage survived it (AOF), and the new block arrived. */
    assert_true(harness_redis_exists(&redis, "vigil:block:acc-before"));
    assert_int_equal(count_orders(), 2);

    log = harness_read_file(vd.err_path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "durable again"));
    free(log);

    assert_int_equal(harness_proc_stop(&vd, 10000), 0);
    /* Every event committed once Redis had everything. */
    int parts = harness_topic_partitions(broker.bootstrap, "vigil.events");
    int64_t committed[64];
    assert_int_equal(harness_committed_offsets(broker.bootstrap, "g-outage", "vigil.events",
                                               committed, parts),
                     0);
    int64_t sum = 0;
    for (int p = 0; p < parts; p++)
        sum += committed[p] < 0 ? 0 : committed[p];
    assert_int_equal(sum, 18);
}

static int setup(void **state)
{
    if (!harness_redis_start(&redis, HARNESS_REDIS_PERSIST) ||
        !harness_broker_start(&broker, NULL))
        return -1;
    prod = harness_producer_create(broker.bootstrap);
    return prod ? 0 : -1;
}

static int teardown(void **state)
{
    harness_producer_destroy(prod);
    harness_teardown(state);
    harness_broker_stop(&broker);
    harness_redis_fini(&redis);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_redis_outage_loses_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

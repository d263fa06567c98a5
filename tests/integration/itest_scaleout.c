/* SPDX-License-Identifier: Apache-2.0 */
/* itest_scaleout.c - two vigild in one consumer group share the partitions: every attack is
 * ordered exactly once, nothing is read twice or left uncommitted, both stop cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define T0 1793610000000LL /* Monday 2026-11-02 10:00 Amsterdam */
#define N_FRAUD 12

static struct harness_redis redis;
static struct harness_broker broker;
static struct harness_producer *prod;
static int64_t produced;

static void send(const char *account, const char *json)
{
    assert_int_equal(
        harness_producer_send(prod, "vigil.events", -1, account, json, strlen(json)), 0);
    produced++;
}

/* Nine parallel calls to high-risk numbers for `account`, and a quiet neighbour. */
static void traffic(int k, int64_t t0)
{
    char acc[32], quiet[32], json[512];
    snprintf(acc, sizeof acc, "acc-fraud-%02d", k);
    snprintf(quiet, sizeof quiet, "acc-quiet-%02d", k);
    for (int i = 0; i < 9; i++) {
        snprintf(json, sizeof json,
                 "{\"v\":1,\"type\":\"call_start\",\"id\":\"%s-%d\",\"ts\":%lld,\"account\":"
                 "\"%s\",\"call_id\":\"%s-c%d\",\"from\":\"+31201234567\",\"to\":\"+53%d1234567\","
                 "\"dir\":\"out\"}",
                 acc, i, (long long)(t0 + i * 4000), acc, acc, i, i);
        send(acc, json);
        snprintf(json, sizeof json,
                 "{\"v\":1,\"type\":\"sms\",\"id\":\"%s-m%d\",\"ts\":%lld,\"account\":\"%s\","
                 "\"from\":\"+31612345678\",\"to\":\"+3161111%04d\"}",
                 quiet, i, (long long)(t0 + i * 60000), quiet, k * 10 + i);
        send(quiet, json);
    }
}

static void start(struct harness_proc *p)
{
    const char *argv[] = {harness_bin("vigild"), "--brokers", broker.bootstrap, "--redis",
                          redis.addr, "--group", "g-scale", "--workers", "2",
                          /* the test counts block orders: no interim invoices beside them */
                          "--set", "credit.interim_on_critical=0",
                          "--set", "kafka.session_timeout_ms=6000",
                          "--set", "kafka.heartbeat_interval_ms=500", NULL};
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(p, argv, &o), 0);
}

static void test_two_instances_share_the_work(void **state)
{
    struct harness_proc a, b;
    char key[64];
    /* The first instance takes every partition and handles the first half. */
    start(&a);
    for (int k = 0; k < N_FRAUD / 2; k++)
        traffic(k, T0 + k * 300000);
    assert_int_equal(harness_producer_flush(prod, 10000), 0);
    for (int k = 0; k < N_FRAUD / 2; k++) {
        snprintf(key, sizeof key, "vigil:block:acc-fraud-%02d", k);
        HARNESS_ASSERT(harness_redis_wait_exists(&redis, key, 30000));
    }
    /* Within a few commit intervals the first half is committed. */
    harness_sleep_ms(3000);
    assert_int_equal(harness_committed_sum(broker.bootstrap, "g-scale", "vigil.events"), produced);
    /* The second joins: a rebalance moves partitions from a to b mid-stream. */
    start(&b);
    harness_sleep_ms(8000);
    for (int k = N_FRAUD / 2; k < N_FRAUD; k++)
        traffic(k, T0 + k * 300000);
    assert_int_equal(harness_producer_flush(prod, 10000), 0);

    for (int k = 0; k < N_FRAUD; k++) {
        snprintf(key, sizeof key, "vigil:block:acc-fraud-%02d", k);
        HARNESS_ASSERT(harness_redis_wait_exists(&redis, key, 30000));
    }
    struct harness_msg *orders = NULL;
    ssize_t n = harness_consume_all(broker.bootstrap, "vigil.orders", 3000, N_FRAUD + 5, &orders);
    for (ssize_t i = 0; n != N_FRAUD && i < n; i++)
        fprintf(stderr, "order: %.200s\n", orders[i].value);
    HARNESS_ASSERT(n == N_FRAUD); /* each attack exactly once, none for the quiet accounts */
    harness_msgs_free(orders, (size_t)n);

    /* Both worked: each logged an assignment of its own share. */
    assert_int_equal(harness_proc_stop(&a, 10000), 0);
    assert_int_equal(harness_proc_stop(&b, 10000), 0);
    char *la = harness_read_file(a.err_path, NULL), *lb = harness_read_file(b.err_path, NULL);
    assert_non_null(strstr(la, "assigned 8 partition(s)")); /* alone at first */
    assert_non_null(strstr(la, "revoking 8 partition(s)")); /* the rebalance when b joined */
    assert_non_null(strstr(lb, "assigned"));
    free(la);
    free(lb);

    /* Everything committed exactly up to the end. */
    assert_int_equal(harness_committed_sum(broker.bootstrap, "g-scale", "vigil.events"), produced);
}

static int setup(void **state)
{
    (void)state;
    return harness_stack_start(&redis, 0, &broker, NULL, &prod);
}

static int teardown(void **state)
{
    return harness_stack_stop(state, &redis, &broker, &prod);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_instances_share_the_work, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* itest_credit.c - credit limits through the real vigild: billing keeps limits in the Redis
 * hash vigil:credit; account A spends EUR 60 of a EUR 100 limit (nothing), then billing lowers
 * A's limit to EUR 50 while vigild runs and the suspend order (credit.limit) follows, with its
 * block key; an account spending steadily below its limit and an account without a limit
 * that spends more than A gets no order. And an interim invoice (credit.interim_on_critical)
 * goes to the orders topic but writes no block key. And resale warns a consumer account with
 * six calls open at once, and nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define T0 1793610000000LL /* Monday 2026-11-02 10:00 Amsterdam */
#define MIN 60000LL

static struct harness_redis redis;
static struct harness_broker broker;
static struct harness_producer *prod;
static int seq;

static void send(const char *account, const char *json)
{
    assert_int_equal(
        harness_producer_send(prod, "vigil.events", -1, account, json, strlen(json)), 0);
}

/* One finished outbound call to a Dutch mobile that cost `eur`, ending at ts. */
static void paid_call(const char *account, int64_t ts, double eur)
{
    char json[512];
    int n = ++seq;
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_end\",\"id\":\"e%d\",\"ts\":%lld,\"account\":\"%s\","
             "\"call_id\":\"c%d\",\"from\":\"+31201234567\",\"to\":\"+31612345678\","
             "\"dir\":\"out\",\"duration\":60,\"cost\":%.2f}",
             n, (long long)ts, account, n, eur);
    send(account, json);
}

static bool wait_log(const struct harness_proc *p, const char *needle, int timeout_ms)
{
    int64_t until = harness_now_ms() + timeout_ms;
    do {
        char *log = harness_read_file(p->err_path, NULL);
        bool found = log && strstr(log, needle);
        free(log);
        if (found)
            return true;
        harness_sleep_ms(100);
    } while (harness_now_ms() < until);
    return false;
}

static void test_billing_lowers_limit(void **state)
{
    (void)state;
    /* Billing's limits, in place before vigild starts: "LIMIT_EUR PERIOD_START_MS". */
    char v[64];
    snprintf(v, sizeof v, "100 %lld", (long long)(T0 - 60 * MIN));
    redisReply *r = harness_redis_cmd(&redis, "HSET vigil:credit acc-cr-a %s", v);
    HARNESS_ASSERT(r != NULL);
    freeReplyObject(r);
    snprintf(v, sizeof v, "1000 %lld", (long long)(T0 - 60 * MIN));
    r = harness_redis_cmd(&redis, "HSET vigil:credit acc-cr-steady %s", v);
    HARNESS_ASSERT(r != NULL);
    freeReplyObject(r);

    const char *argv[] = {harness_bin("vigild"), "--brokers", broker.bootstrap, "--redis",
                          redis.addr, "--group", "g-credit", "--workers", "1", NULL};
    struct harness_proc vd;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(&vd, argv, &o), 0);
    HARNESS_ASSERT(wait_log(&vd, "assigned", 30000));

    /* Phase 1: A spends EUR 60 of 100, the steady account EUR 60 of 1000, the account without
     * a limit EUR 80 (more than A's limit, under toll_fraud's hourly block). */
    for (int i = 0; i < 20; i++) {
        paid_call("acc-cr-a", T0 + i * MIN, 3.0);
        paid_call("acc-cr-steady", T0 + i * MIN, 3.0);
        paid_call("acc-cr-none", T0 + i * MIN, 4.0);
    }
    assert_int_equal(harness_producer_flush(prod, 10000), 0);
    HARNESS_ASSERT(harness_redis_wait_field(&redis, "vigil:cnt:acc-cr-a", "credit:updated_ms", 30000));
    long long spend = 0;
    int64_t until = harness_now_ms() + 30000;
    int k = 0;
    while (spend != 6000 && harness_now_ms() < until) {
        /* Ticks need events: a cheap call now and then moves the watermark on. */
        paid_call("acc-cr-tick", T0 + 21 * MIN + (k++) * 20000, 0.01);
        harness_producer_flush(prod, 5000);
        harness_sleep_ms(300);
        harness_redis_int(&redis, &spend, "HGET vigil:cnt:acc-cr-a credit:spend_period_cents");
    }
    HARNESS_ASSERT(spend == 6000);
    HARNESS_ASSERT(!harness_redis_exists(&redis, "vigil:block:acc-cr-a"));

    /* Phase 2: billing lowers A's limit to EUR 50 while vigild runs; the order follows. */
    snprintf(v, sizeof v, "50 %lld", (long long)(T0 - 60 * MIN));
    r = harness_redis_cmd(&redis, "HSET vigil:credit acc-cr-a %s", v);
    HARNESS_ASSERT(r != NULL);
    freeReplyObject(r);
    until = harness_now_ms() + 60000;
    while (!harness_redis_exists(&redis, "vigil:block:acc-cr-a") && harness_now_ms() < until) {
        paid_call("acc-cr-tick", T0 + 21 * MIN + (k++) * 20000, 0.01);
        harness_producer_flush(prod, 5000);
        harness_sleep_ms(300);
    }
    HARNESS_ASSERT(harness_redis_exists(&redis, "vigil:block:acc-cr-a"));

    struct harness_msg *orders = NULL;
    ssize_t n = harness_consume_all(broker.bootstrap, "vigil.orders", 3000, 2, &orders);
    for (ssize_t i = 0; n != 1 && i < n; i++)
        fprintf(stderr, "order: %.300s\n", orders[i].value);
    HARNESS_ASSERT(n == 1); /* A only: not the steady account, not the one without a limit */
    char acc[80], action[40], rule[80];
    assert_true(harness_json_str(orders[0].value, "account", acc, sizeof acc) > 0);
    assert_true(harness_json_str(orders[0].value, "action", action, sizeof action) > 0);
    assert_true(harness_json_str(orders[0].value, "rule", rule, sizeof rule) > 0);
    assert_string_equal(acc, "acc-cr-a");
    assert_string_equal(action, "suspend");
    assert_string_equal(rule, "credit.limit");
    long long lim;
    assert_int_equal(harness_json_int(orders[0].value, "evidence.credit_limit_eur", &lim), 0);
    assert_int_equal(lim, 50);
    assert_true(harness_json_array_has(orders[0].value, "exempt", "112"));
    harness_msgs_free(orders, (size_t)n);
    assert_false(harness_redis_exists(&redis, "vigil:block:acc-cr-steady"));
    assert_false(harness_redis_exists(&redis, "vigil:block:acc-cr-none"));

    assert_int_equal(harness_proc_stop(&vd, 10000), 0);
}

/* With credit.interim_on_critical = 1, a hacked PBX (nine parallel calls to Cuba) gets its
 * block_international and an interim_invoice order; the interim invoice writes no block key
 * (the SIP proxy never sees it) and is asked once however long the fraud goes on that day. */
static void test_interim_invoice_blocks_nothing(void **state)
{
    (void)state;
    const char *argv[] = {harness_bin("vigild"), "--brokers", broker.bootstrap, "--redis",
                          redis.addr, "--group", "g-interim", "--workers", "1",
                          "--set", "credit.interim_on_critical=1", NULL};
    struct harness_proc vd;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(&vd, argv, &o), 0);
    HARNESS_ASSERT(wait_log(&vd, "assigned", 30000));
    for (int i = 0; i < 9; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"v\":1,\"type\":\"call_start\",\"id\":\"hs%d\",\"ts\":%lld,"
                 "\"account\":\"acc-cr-pbx\",\"call_id\":\"hc%d\",\"from\":\"+31201234567\","
                 "\"to\":\"+53%d1234567\",\"dir\":\"out\"}",
                 i, (long long)(T0 + i * 4000), i, i);
        send("acc-cr-pbx", json);
    }
    assert_int_equal(harness_producer_flush(prod, 10000), 0);
    HARNESS_ASSERT(harness_redis_wait_exists(&redis, "vigil:block:acc-cr-pbx", 30000));

    struct harness_msg *orders = NULL;
    ssize_t n = harness_consume_all(broker.bootstrap, "vigil.orders", 3000, 3, &orders);
    for (ssize_t i = 0; n != 2 && i < n; i++)
        fprintf(stderr, "order: %.300s\n", orders[i].value);
    HARNESS_ASSERT(n == 2);
    bool block = false, interim = false;
    for (ssize_t i = 0; i < n; i++) {
        char action[40], rule[80];
        assert_true(harness_json_str(orders[i].value, "action", action, sizeof action) > 0);
        assert_true(harness_json_str(orders[i].value, "rule", rule, sizeof rule) > 0);
        if (strcmp(action, "interim_invoice") == 0) {
            interim = true;
            assert_string_equal(rule, "credit.interim_invoice");
        } else {
            block = strcmp(action, "block_international") == 0;
        }
    }
    HARNESS_ASSERT(block && interim);
    harness_msgs_free(orders, (size_t)n);
    /* The block key holds the block (and its expiry) only. */
    redisReply *k = harness_redis_cmd(&redis, "HKEYS vigil:block:acc-cr-pbx");
    HARNESS_ASSERT(k && k->type == REDIS_REPLY_ARRAY && k->elements > 0);
    for (size_t i = 0; i < k->elements; i++)
        HARNESS_ASSERT(strncmp(k->element[i]->str, "block_international", 19) == 0);
    freeReplyObject(k);
    assert_int_equal(harness_proc_stop(&vd, 10000), 0);
}

/* Resale through the real vigild: a consumer account with six outbound calls open at once
 * gets one resale.parallel_calls warning and no order; a consumer family with two calls abroad
 * at once and a business line with eight get nothing from resale. */
static void open_call(const char *account, int k, int64_t ts, const char *to)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_start\",\"id\":\"%s-s%d\",\"ts\":%lld,"
             "\"account\":\"%s\",\"call_id\":\"%s-c%d\",\"from\":\"+31201234567\","
             "\"to\":\"%s\",\"dir\":\"out\"}",
             account, k, (long long)ts, account, account, k, to);
    send(account, json);
}

static void test_resale_warning_only(void **state)
{
    (void)state;
    const char *argv[] = {harness_bin("vigild"), "--brokers", broker.bootstrap, "--redis",
                          redis.addr, "--group", "g-resale", "--workers", "1", "--set",
                          "profiles.consumer=acc-rs-shop acc-rs-family", NULL};
    struct harness_proc vd;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(&vd, argv, &o), 0);
    HARNESS_ASSERT(wait_log(&vd, "assigned", 30000));
    char to[24];
    for (int k = 0; k < 2; k++)
        open_call("acc-rs-family", k, T0 + k * MIN, "+34912345678");
    for (int k = 0; k < 8; k++) {
        snprintf(to, sizeof to, "+3491234%04d", 17 * k + 3);
        open_call("acc-rs-biz", k, T0 + k * MIN, to);
    }
    for (int k = 0; k < 6; k++) {
        snprintf(to, sizeof to, "+3161%07d", 104729 * (k + 1) % 10000000);
        open_call("acc-rs-shop", k, T0 + k * MIN, to);
    }
    assert_int_equal(harness_producer_flush(prod, 10000), 0);

    /* Wait for the shop's warning, then take everything the alerts topic holds. */
    struct harness_msg *alerts = NULL;
    ssize_t n = 0;
    bool found = false;
    for (int64_t until = harness_now_ms() + 30000; !found && harness_now_ms() < until;) {
        harness_msgs_free(alerts, n > 0 ? (size_t)n : 0);
        alerts = NULL;
        n = harness_consume_all(broker.bootstrap, "vigil.alerts", 3000, 64, &alerts);
        for (ssize_t i = 0; i < n; i++)
            found |= strstr(alerts[i].value, "\"resale.parallel_calls\"") != NULL;
    }
    HARNESS_ASSERT(found);
    size_t shop = 0;
    for (ssize_t i = 0; i < n; i++) {
        char account[64], rule[80], sev[16];
        assert_true(harness_json_str(alerts[i].value, "account", account, sizeof account) >= 0);
        assert_true(harness_json_str(alerts[i].value, "rule", rule, sizeof rule) >= 0);
        assert_true(harness_json_str(alerts[i].value, "severity", sev, sizeof sev) > 0);
        if (strncmp(rule, "resale.", 7) != 0)
            continue;
        if (strcmp(account, "acc-rs-shop") != 0)
            fail_msg("resale alert for %s: %.300s", account, alerts[i].value);
        assert_string_equal(rule, "resale.parallel_calls");
        assert_string_equal(sev, "warning");
        long long ets = 0;
        assert_int_equal(harness_json_int(alerts[i].value, "event_ts", &ets), 0);
        assert_int_equal(ets, T0 + 5 * MIN); /* the sixth call */
        shop++;
    }
    HARNESS_ASSERT(shop == 1);
    harness_msgs_free(alerts, (size_t)n);
    /* Warnings only: nothing on the orders topic (which may not even exist yet). */
    struct harness_msg *orders = NULL;
    n = harness_consume_all(broker.bootstrap, "vigil.orders", 2000, 8, &orders);
    for (ssize_t i = 0; i < n; i++)
        fprintf(stderr, "order: %.300s\n", orders[i].value);
    HARNESS_ASSERT(n <= 0);
    harness_msgs_free(orders, n > 0 ? (size_t)n : 0);
    assert_int_equal(harness_proc_stop(&vd, 10000), 0);
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
        cmocka_unit_test_setup_teardown(test_billing_lowers_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interim_invoice_blocks_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resale_warning_only, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

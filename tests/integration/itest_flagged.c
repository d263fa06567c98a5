/* SPDX-License-Identifier: Apache-2.0 */
/* itest_flagged.c - flagged callers across instances: two vigild in one group, accounts A and
 * B commit toll fraud on partitions of one instance and are ordered; their numbers reach
 * Redis (<prefix>flagged) and both instances' flagged sets; then calls from A's and B's
 * numbers to account S's 0900 service number, on a partition of the other instance, withhold
 * S's payouts (premium.inbound_flagged_callers), while account T's service number, called by
 * ordinary callers, gets nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "vigil/flagged.h"

#define T0 1793610000000LL /* Monday 2026-11-02 10:00 Amsterdam */
#define MIN 60000LL
#define NUM_A "+31201110001"
#define NUM_B "+31201110002"
#define SERVICE_S "+319001112233"
#define SERVICE_T "+319001112244"
/* Partitions of vigil.events (8): with the range assignor one instance takes 0-3, the other
 * 4-7, so the fraudsters and the service numbers are on different instances. */
#define PART_A 0
#define PART_B 1
#define PART_S 6
#define PART_T 7

static struct harness_redis redis;
static struct harness_broker broker;
static struct harness_producer *prod;
static int seq;

static void send(int32_t partition, const char *account, const char *json)
{
    assert_int_equal(
        harness_producer_send(prod, "vigil.events", partition, account, json, strlen(json)), 0);
}

/* One call of `account` from `from` to `to`; duration_s < 0: left open (no call_end). */
static void call(int32_t partition, const char *account, int64_t ts, const char *from,
                 const char *to, const char *dir, int duration_s)
{
    char json[512];
    int n = ++seq;
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_start\",\"id\":\"s%d\",\"ts\":%lld,\"account\":\"%s\","
             "\"call_id\":\"c%d\",\"from\":\"%s\",\"to\":\"%s\",\"dir\":\"%s\"}",
             n, (long long)ts, account, n, from, to, dir);
    send(partition, account, json);
    if (duration_s < 0)
        return;
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_end\",\"id\":\"e%d\",\"ts\":%lld,\"account\":\"%s\","
             "\"call_id\":\"c%d\",\"from\":\"%s\",\"to\":\"%s\",\"dir\":\"%s\",\"duration\":%d}",
             n, (long long)(ts + duration_s * 1000LL), account, n, from, to, dir, duration_s);
    send(partition, account, json);
}

static void start(struct harness_proc *p)
{
    const char *argv[] = {harness_bin("vigild"), "--brokers", broker.bootstrap, "--redis",
                          redis.addr, "--group", "g-flagged", "--workers", "2",
                          /* the test counts block orders: no interim invoices beside them */
                          "--set", "credit.interim_on_critical=0",
                          "--set", "kafka.session_timeout_ms=6000",
                          "--set", "kafka.heartbeat_interval_ms=500", NULL};
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(p, argv, &o), 0);
}

/* Polls the process's stderr log until it holds `needle`, up to timeout_ms. */
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

static void test_flagged_callers_across_instances(void **state)
{
    struct harness_proc a, b;
    start(&a);
    HARNESS_ASSERT(wait_log(&a, "assigned 8 partition(s)", 30000));
    start(&b);
    HARNESS_ASSERT(wait_log(&a, "assigned 4 partition(s)", 30000));
    HARNESS_ASSERT(wait_log(&b, "assigned 4 partition(s)", 30000));

    /* Phase 1: A and B, hacked PBXs, dial Cuba on 9 lines at once from their numbers. */
    for (int i = 0; i < 9; i++) {
        char to[32];
        snprintf(to, sizeof to, "+53%d1234567", i);
        call(PART_A, "acc-flag-a", T0 + i * 4000, NUM_A, to, "out", -1);
        call(PART_B, "acc-flag-b", T0 + i * 4000, NUM_B, to, "out", -1);
    }
    assert_int_equal(harness_producer_flush(prod, 10000), 0);
    HARNESS_ASSERT(harness_redis_wait_exists(&redis, "vigil:block:acc-flag-a", 30000));
    HARNESS_ASSERT(harness_redis_wait_exists(&redis, "vigil:block:acc-flag-b", 30000));

    /* Their numbers are in Redis, flagged for as long as their orders stand... */
    char member[17];
    long long now_s = 0;
    redisReply *t = harness_redis_cmd(&redis, "TIME");
    HARNESS_ASSERT(t && t->type == REDIS_REPLY_ARRAY && t->elements == 2);
    now_s = atoll(t->element[0]->str);
    freeReplyObject(t);
    const char *nums[] = {NUM_A, NUM_B};
    for (int i = 0; i < 2; i++) {
        snprintf(member, sizeof member, "%016llx",
                 (unsigned long long)vigil_flagged_hash(nums[i]));
        redisReply *r = harness_redis_cmd(&redis, "ZSCORE vigil:flagged %s", member);
        HARNESS_ASSERT(r && r->type == REDIS_REPLY_STRING);
        long long until_s = (long long)(atof(r->str) / 1000);
        freeReplyObject(r);
        HARNESS_ASSERT(until_s > now_s + 2592000 - 120 && until_s <= now_s + 2592000 + 5);
    }
    long long ttl = harness_redis_ttl(&redis, "vigil:flagged");
    HARNESS_ASSERT(ttl > 2592000 - 120 && ttl <= 2592000);
    /* ... and both instances have read them. */
    HARNESS_ASSERT(wait_log(&a, "2 in all", 20000));
    HARNESS_ASSERT(wait_log(&b, "2 in all", 20000));

    /* Phase 2: S's 0900 number is called by three ordinary callers and from A's and B's
     * numbers; T's by three ordinary callers only. */
    static const char *const s_callers[] = {"+31612340001", "+31612340002", NUM_A,
                                            "+31612340003", NUM_B};
    for (int i = 0; i < 5; i++)
        call(PART_S, "acc-flag-s", T0 + 5 * MIN + i * MIN, s_callers[i], SERVICE_S, "in", 120);
    for (int i = 0; i < 3; i++) {
        char from[32];
        snprintf(from, sizeof from, "+3161235000%d", i);
        call(PART_T, "acc-flag-t", T0 + 5 * MIN + i * MIN, from, SERVICE_T, "in", 120);
    }
    assert_int_equal(harness_producer_flush(prod, 10000), 0);
    HARNESS_ASSERT(harness_redis_wait_exists(&redis, "vigil:block:acc-flag-s", 30000));

    struct harness_msg *orders = NULL;
    ssize_t n = harness_consume_all(broker.bootstrap, "vigil.orders", 3000, 4, &orders);
    for (ssize_t i = 0; n != 3 && i < n; i++)
        fprintf(stderr, "order: %.300s\n", orders[i].value);
    HARNESS_ASSERT(n == 3); /* A, B and S, once each; none for T */
    bool s_ordered = false;
    for (ssize_t i = 0; i < n; i++) {
        char acc[80], action[40], rule[80];
        assert_true(harness_json_str(orders[i].value, "account", acc, sizeof acc) > 0);
        assert_true(harness_json_str(orders[i].value, "action", action, sizeof action) > 0);
        assert_true(harness_json_str(orders[i].value, "rule", rule, sizeof rule) > 0);
        if (strcmp(acc, "acc-flag-s") != 0) {
            assert_string_equal(action, "block_international");
            continue;
        }
        s_ordered = true;
        assert_string_equal(action, "withhold_payout");
        assert_string_equal(rule, "premium.inbound_flagged_callers");
        long long v;
        assert_int_equal(harness_json_int(orders[i].value, "evidence.flagged_callers_1h", &v), 0);
        assert_int_equal(v, 2);
        assert_int_equal(
            harness_json_int(orders[i].value, "evidence.threshold_flagged_callers", &v), 0);
        assert_int_equal(v, 2);
        assert_int_equal(harness_json_int(orders[i].value, "evidence.inbound_callers_1h", &v), 0);
        assert_int_equal(v, 5);
        assert_int_equal(harness_json_int(orders[i].value, "event_ts", &v), 0);
        assert_int_equal(v, T0 + 9 * MIN); /* B's call, the second flagged caller */
        assert_true(harness_json_array_has(orders[i].value, "exempt", "112"));
    }
    HARNESS_ASSERT(s_ordered);
    harness_msgs_free(orders, (size_t)n);

    /* S had a warning at A's call; T had nothing at all. */
    struct harness_msg *alerts = NULL;
    ssize_t na = harness_consume_all(broker.bootstrap, "vigil.alerts", 3000, 0, &alerts);
    bool s_warned = false;
    for (ssize_t i = 0; i < na; i++) {
        HARNESS_ASSERT(!harness_json_has(alerts[i].value, "\"account\":\"acc-flag-t\""));
        if (harness_json_has(alerts[i].value, "\"account\":\"acc-flag-s\"") &&
            harness_json_has(alerts[i].value, "\"severity\":\"warning\"") &&
            harness_json_has(alerts[i].value, "\"rule\":\"premium.inbound_flagged_callers\""))
            s_warned = true;
    }
    HARNESS_ASSERT(s_warned);
    harness_msgs_free(alerts, (size_t)na);
    assert_false(harness_redis_exists(&redis, "vigil:block:acc-flag-t"));

    assert_int_equal(harness_proc_stop(&a, 10000), 0);
    assert_int_equal(harness_proc_stop(&b, 10000), 0);
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
        cmocka_unit_test_setup_teardown(test_flagged_callers_across_instances, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

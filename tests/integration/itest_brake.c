/* SPDX-License-Identifier: Apache-2.0 */
/* itest_brake.c - orders that are not issued, end to end: the order brake and report-only
 * mode through a real vigild, vigil-broker and redis-server, and vigilctl held / release /
 * discard on what the brake held.
 *
 * A threshold set so low (one open call to Cuba) that every account of the test trips it
 * within seconds: with the brake at MAX orders a minute, exactly MAX orders reach the orders
 * topic and the rest are held. Nothing here is timed: every wait polls with a generous
 * deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

/* Monday 2026-11-02 10:00 Amsterdam: office hours. */
#define T0 1793610000000LL
#define N_ACCOUNTS 100
#define MAX 5
#define WAIT_MS 60000

struct env {
    struct harness_redis redis;
    struct harness_broker broker;
    struct harness_producer *prod;
};

static struct env E;

static int setup(void **state)
{
    memset(&E, 0, sizeof E);
    return harness_stack_start(&E.redis, 0, &E.broker, NULL, &E.prod);
}

static int teardown(void **state)
{
    return harness_stack_stop(state, &E.redis, &E.broker, &E.prod);
}

/* One outbound call to Cuba from each of n accounts, left open. */
static void one_call_each(int n)
{
    for (int i = 0; i < n; i++) {
        char account[32], json[512];
        snprintf(account, sizeof account, "acc-%03d", i);
        snprintf(json, sizeof json,
                 "{\"v\":1,\"type\":\"call_start\",\"id\":\"%s-s\",\"ts\":%lld,\"account\":\"%s\","
                 "\"call_id\":\"%s-c\",\"from\":\"+31201234567\",\"to\":\"+5351234567\","
                 "\"dir\":\"out\",\"device\":\"pbx/trunk1\"}",
                 account, (long long)(T0 + i * 100LL), account, account);
        assert_int_equal(
            harness_producer_send(E.prod, "vigil.events", -1, account, json, strlen(json)), 0);
    }
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);
}

static void start_vigild(struct harness_proc *p, const char *group, const char *extra_set)
{
    const char *argv[] = {harness_bin("vigild"),
                          "--brokers",
                          E.broker.bootstrap,
                          "--redis",
                          E.redis.addr,
                          "--group",
                          group,
                          "--workers",
                          "2",
                          "--set", /* the brake's count is about block orders: none beside */
                          "credit.interim_on_critical=0",
                          "--set",
                          "toll_fraud.concurrent_high_risk=1",
                          "--set",
                          "toll_fraud.concurrent_high_risk_offhours=1",
                          "--set",
                          "toll_fraud.concurrent_high_risk_warning=0",
                          "--set",
                          extra_set,
                          NULL};
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(p, argv, &o), 0);
}

static int count_substr(const struct harness_msg *m, ssize_t n, const char *needle)
{
    int c = 0;
    for (ssize_t i = 0; i < n; i++)
        c += harness_json_has(m[i].value, needle);
    return c;
}

/* Polls the topic until `needle` is in at least `want` messages (WAIT_MS at most). Returns
 * the messages of the last read (caller frees) and their count in *n. */
static struct harness_msg *wait_topic(const char *topic, const char *needle, int want, ssize_t *n)
{
    int64_t deadline = harness_now_ms() + WAIT_MS;
    struct harness_msg *m = NULL;
    for (;;) {
        *n = harness_consume_all(E.broker.bootstrap, topic, 1000, 0, &m);
        if (*n > 0 && count_substr(m, *n, needle) >= want)
            return m;
        if (harness_now_ms() > deadline)
            return m;
        harness_msgs_free(m, *n > 0 ? (size_t)*n : 0);
        m = NULL;
        harness_sleep_ms(500);
    }
}

static long long held_count(void)
{
    long long n = -1;
    assert_int_equal(harness_redis_int(&E.redis, &n, "HLEN %s", "vigil:held"), 0);
    return n;
}

static long long block_keys(void)
{
    redisReply *r = harness_redis_cmd(&E.redis, "KEYS %s", "vigil:block:*");
    assert_non_null(r);
    long long n = (long long)r->elements;
    freeReplyObject(r);
    return n;
}

/* Exactly `want` orders on the orders topic: ask for one more and expect none. */
static ssize_t orders_on_topic(int want)
{
    struct harness_msg *m = NULL;
    ssize_t n = harness_consume_all(E.broker.bootstrap, "vigil.orders", 1500, (size_t)want + 1, &m);
    harness_msgs_free(m, n > 0 ? (size_t)n : 0);
    return n < 0 ? 0 : n;
}

struct run {
    int status;
    char *out, *err;
};

static struct run run_ctl(const char *const args[])
{
    const char *argv[32] = {harness_bin("vigilctl")};
    int n = 1;
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    struct harness_proc p;
    struct harness_proc_opts o = {.out = HARNESS_OUT_FILE};
    struct run r = {.status = -1};
    if (harness_proc_start(&p, argv, &o) != 0)
        return r;
    if (!harness_proc_wait(&p, 60000, &r.status)) {
        harness_proc_kill9(&p);
        r.status = -1;
    }
    r.out = harness_read_file(p.out_path, NULL);
    r.err = harness_read_file(p.err_path, NULL);
    if (!r.out)
        r.out = strdup("");
    if (!r.err)
        r.err = strdup("");
    return r;
}

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* 100 accounts trip within a minute, the brake allows MAX: the rest are held, each with its
 * alert marked held, one alert says the brake engaged; vigilctl lists, releases (once) and
 * discards them. */
static void test_brake_holds_and_vigilctl_releases(void **state)
{
    one_call_each(N_ACCOUNTS);
    struct harness_proc vd;
    char max_set[64];
    snprintf(max_set, sizeof max_set, "orders.max_per_minute=%d", MAX);
    start_vigild(&vd, "g-brake", max_set);

    /* Every account's critical alert: MAX naming an issued order, the rest held. */
    ssize_t na = 0;
    struct harness_msg *alerts =
        wait_topic("vigil.alerts", "\"rule\":\"toll_fraud.concurrent_high_risk\"", N_ACCOUNTS, &na);
    HARNESS_ASSERT(count_substr(alerts, na, "\"held\":\"brake\"") == N_ACCOUNTS - MAX);
    HARNESS_ASSERT(count_substr(alerts, na, "\"rule\":\"vigil.order_brake\"") == 1);
    HARNESS_ASSERT(count_substr(alerts, na, "\"rule\":\"toll_fraud.concurrent_high_risk\"") ==
                   N_ACCOUNTS);
    for (ssize_t i = 0; i < na; i++) {
        if (!harness_json_has(alerts[i].value, "vigil.order_brake"))
            continue;
        long long v = 0;
        assert_int_equal(harness_json_int(alerts[i].value, "evidence.max_per_minute", &v), 0);
        assert_int_equal(v, MAX);
        assert_int_equal(harness_json_int(alerts[i].value, "evidence.orders_last_minute", &v), 0);
        assert_int_equal(v, MAX + 1);
        assert_true(harness_json_has(alerts[i].value, "\"severity\":\"critical\""));
        assert_true(harness_json_has(alerts[i].value, "\"detector\":\"vigil\""));
    }

    /* Held in Redis (the batch is durable within a flush of its alert), not on the topic,
     * no block key. */
    int64_t deadline = harness_now_ms() + WAIT_MS;
    while (held_count() < N_ACCOUNTS - MAX && harness_now_ms() < deadline)
        harness_sleep_ms(200);
    HARNESS_ASSERT(held_count() == N_ACCOUNTS - MAX);
    HARNESS_ASSERT(orders_on_topic(MAX) == MAX);
    HARNESS_ASSERT(block_keys() == MAX);

    /* A held alert's order_id is the held entry's field, and its JSON is an order. */
    char id[64] = "", account[32] = "";
    for (ssize_t i = 0; i < na && !id[0]; i++) {
        if (harness_json_has(alerts[i].value, "\"held\":\"brake\"")) {
            assert_true(harness_json_str(alerts[i].value, "order_id", id, sizeof id) > 0);
            assert_true(harness_json_str(alerts[i].value, "account", account, sizeof account) > 0);
        }
    }
    char *held = NULL;
    redisReply *r = harness_redis_cmd(&E.redis, "HGET vigil:held %s", id);
    assert_non_null(r);
    HARNESS_ASSERT(r->type == REDIS_REPLY_STRING);
    held = strdup(r->str);
    freeReplyObject(r);
    assert_true(harness_json_has(held, "\"action\":\"block_international\""));
    assert_true(harness_json_array_has(held, "exempt", "112"));
    harness_msgs_free(alerts, (size_t)na);

    /* vigilctl held: one line per held order, and as JSON. */
    struct run c = run_ctl((const char *const[]){"held", "--redis", E.redis.addr, NULL});
    HARNESS_ASSERT(c.status == 0);
    HARNESS_ASSERT(lines(c.out) == N_ACCOUNTS - MAX);
    HARNESS_ASSERT(strstr(c.out, id) != NULL);
    run_free(&c);
    c = run_ctl((const char *const[]){"held", "--redis", E.redis.addr, "--json", NULL});
    HARNESS_ASSERT(c.status == 0);
    {
        int ids = 0;
        for (const char *p = c.out; (p = strstr(p, "\"order_id\":\"ord-")); p++)
            ids++;
        /* Each entry names its id twice: the listing's and the stored order's. */
        HARNESS_ASSERT(ids == 2 * (N_ACCOUNTS - MAX));
    }
    run_free(&c);

    /* Release one: on the topic once, with exactly the held JSON, and its block key. */
    const char *rel[] = {"release", "--brokers", E.broker.bootstrap, "--redis", E.redis.addr,
                         id,        NULL};
    c = run_ctl(rel);
    HARNESS_ASSERT(c.status == 0);
    HARNESS_ASSERT(strstr(c.out, "released") != NULL);
    run_free(&c);
    struct harness_msg *orders = NULL;
    ssize_t no = harness_consume_all(E.broker.bootstrap, "vigil.orders", 1500, MAX + 2, &orders);
    HARNESS_ASSERT(no == MAX + 1);
    int found = 0;
    for (ssize_t i = 0; i < no; i++)
        found += strcmp(orders[i].value, held) == 0 && strcmp(orders[i].key, account) == 0;
    HARNESS_ASSERT(found == 1);
    harness_msgs_free(orders, (size_t)no);
    long long exists = 0;
    char key[64];
    snprintf(key, sizeof key, "vigil:block:%s", account);
    assert_int_equal(harness_redis_int(&E.redis, &exists, "HEXISTS %s block_international", key),
                     0);
    HARNESS_ASSERT(exists == 1);
    assert_true(harness_redis_ttl(&E.redis, key) > 0);
    assert_int_equal(harness_redis_int(&E.redis, &exists, "ZSCORE vigil:blocks %s", account), 0);
    HARNESS_ASSERT(exists > 0);
    HARNESS_ASSERT(held_count() == N_ACCOUNTS - MAX - 1);

    /* Releasing it again issues nothing. */
    c = run_ctl(rel);
    HARNESS_ASSERT(c.status == 1);
    HARNESS_ASSERT(strstr(c.err, "no held order") != NULL);
    run_free(&c);
    HARNESS_ASSERT(orders_on_topic(MAX + 1) == MAX + 1);

    /* Discard another: gone from held, nothing issued. */
    c = run_ctl((const char *const[]){"held", "--redis", E.redis.addr, NULL});
    char other[64] = "";
    sscanf(c.out, "%63s", other);
    run_free(&c);
    HARNESS_ASSERT(other[0] && strcmp(other, id) != 0);
    c = run_ctl((const char *const[]){"discard", "--redis", E.redis.addr, other, NULL});
    HARNESS_ASSERT(c.status == 0);
    HARNESS_ASSERT(strstr(c.out, "discarded") != NULL);
    run_free(&c);
    HARNESS_ASSERT(held_count() == N_ACCOUNTS - MAX - 2);
    HARNESS_ASSERT(orders_on_topic(MAX + 1) == MAX + 1);
    HARNESS_ASSERT(block_keys() == MAX + 1);

    /* The log says what was held and that the brake engaged. */
    assert_int_equal(harness_proc_stop(&vd, 15000), 0);
    char *log = harness_read_file(vd.err_path, NULL);
    assert_non_null(log);
    HARNESS_ASSERT(strstr(log, "order brake engaged") != NULL);
    HARNESS_ASSERT(strstr(log, "held by the brake") != NULL);
    free(log);
    free(held);
}

/* orders.mode = report: every would-be order is a critical alert with would_order; no order,
 * no block key. */
static void test_report_only_issues_nothing(void **state)
{
    enum { N = 10 };
    one_call_each(N);
    struct harness_proc vd;
    start_vigild(&vd, "g-report", "orders.mode=report");

    ssize_t na = 0;
    struct harness_msg *alerts =
        wait_topic("vigil.alerts", "\"would_order\":\"block_international\"", N, &na);
    HARNESS_ASSERT(count_substr(alerts, na, "\"would_order\":\"block_international\"") == N);
    for (ssize_t i = 0; i < na; i++) {
        assert_true(harness_json_has(alerts[i].value, "\"severity\":\"critical\""));
        assert_true(harness_json_has(alerts[i].value, "\"order_id\":\"ord-"));
        assert_false(harness_json_has(alerts[i].value, "\"held\""));
    }
    harness_msgs_free(alerts, (size_t)na);
    HARNESS_ASSERT(orders_on_topic(0) == 0);
    assert_int_equal(harness_proc_stop(&vd, 15000), 0);
    HARNESS_ASSERT(block_keys() == 0);
    HARNESS_ASSERT(!harness_redis_exists(&E.redis, "vigil:blocks"));
    HARNESS_ASSERT(!harness_redis_exists(&E.redis, "vigil:held"));
}

/* Redis refuses the brake's script (an ACL takes EVAL away; everything else works): this
 * process counts on its own, with the same limit, and says so in its log. */
static void test_brake_counts_locally_without_redis(void **state)
{
    enum { N = 20 };
    redisReply *r = harness_redis_cmd(&E.redis, "ACL SETUSER default -eval");
    assert_non_null(r);
    HARNESS_ASSERT(r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    one_call_each(N);
    struct harness_proc vd;
    char max_set[64];
    snprintf(max_set, sizeof max_set, "orders.max_per_minute=%d", MAX);
    start_vigild(&vd, "g-local", max_set);

    ssize_t na = 0;
    struct harness_msg *alerts =
        wait_topic("vigil.alerts", "\"rule\":\"toll_fraud.concurrent_high_risk\"", N, &na);
    HARNESS_ASSERT(count_substr(alerts, na, "\"rule\":\"toll_fraud.concurrent_high_risk\"") == N);
    HARNESS_ASSERT(count_substr(alerts, na, "\"held\":\"brake\"") == N - MAX);
    HARNESS_ASSERT(count_substr(alerts, na, "\"counted_locally\":1") == 1);
    harness_msgs_free(alerts, (size_t)na);
    HARNESS_ASSERT(orders_on_topic(MAX) == MAX);
    assert_int_equal(harness_proc_stop(&vd, 15000), 0);
    HARNESS_ASSERT(held_count() == N - MAX);
    char *log = harness_read_file(vd.err_path, NULL);
    assert_non_null(log);
    HARNESS_ASSERT(strstr(log, "counting this process's orders only") != NULL);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_brake_holds_and_vigilctl_releases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_only_issues_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_brake_counts_locally_without_redis, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

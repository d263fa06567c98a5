/* SPDX-License-Identifier: Apache-2.0 */
/* itest_safety.c - safe to switch on: time faults and lost events never suspend innocent
 * customers. Real vigil-broker, redis-server, vigild and vigilctl.
 *
 * - one event stamped 23 h ahead of the stream does not move the clock that fires every
 *   other account's timers (vigild and vigilctl replay agree: no order);
 * - live events after a month of silence are accepted (ts_future is judged against the wall
 *   clock), and the silence is reported as one gap alert;
 * - events lost under the consumer (it fell behind the broker's retention) are reported as
 *   one alert, and the open calls whose ends were lost are not suspended. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "harness.h"

#define T0 1793610000000LL /* Monday 2026-11-02 10:00 Amsterdam */
#define SEC 1000LL
#define MIN 60000LL
#define HOUR 3600000LL

static struct harness_redis redis;
static struct harness_broker broker;
static struct harness_producer *prod;
static FILE *copy; /* every event produced is also written here when set (for replay) */
static int64_t produced;

static void send_to(const char *topic, const char *account, const char *fmt, ...)
{
    char json[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(json, sizeof json, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof json);
    assert_int_equal(harness_producer_send(prod, topic, -1, account, json, (size_t)n), 0);
    if (copy)
        fprintf(copy, "%s\n", json);
    produced++;
}

static void call_start(const char *topic, const char *acc, int i, int64_t ts, const char *to)
{
    send_to(topic, acc,
            "{\"v\":1,\"type\":\"call_start\",\"id\":\"%s-s%d\",\"ts\":%lld,\"account\":\"%s\","
            "\"call_id\":\"%s-c%d\",\"from\":\"+31201234567\",\"to\":\"%s\",\"dir\":\"out\"}",
            acc, i, (long long)ts, acc, acc, i, to);
}

static void call_end(const char *topic, const char *acc, int i, int64_t ts, const char *to,
                     int duration)
{
    send_to(topic, acc,
            "{\"v\":1,\"type\":\"call_end\",\"id\":\"%s-e%d\",\"ts\":%lld,\"account\":\"%s\","
            "\"call_id\":\"%s-c%d\",\"from\":\"+31201234567\",\"to\":\"%s\",\"dir\":\"out\","
            "\"duration\":%d}",
            acc, i, (long long)ts, acc, acc, i, to, duration);
}

static void sms(const char *topic, const char *acc, int i, int64_t ts, const char *pad)
{
    send_to(topic, acc,
            "{\"v\":1,\"type\":\"sms\",\"id\":\"%s-m%d\",\"ts\":%lld,\"account\":\"%s\","
            "\"from\":\"+31612345678\",\"to\":\"+31687654321\",\"pad\":\"%s\"}",
            acc, i, (long long)ts, acc, pad ? pad : "");
}

/* vigild on topics <ns>.events/.orders/.alerts/.dlq, with one more --set when extra. */
static void start_vigild(struct harness_proc *p, const char *ns, const char *extra)
{
    char topic[64], orders[64], alerts[64], dlq[64], group[64];
    snprintf(topic, sizeof topic, "kafka.events_topic=%s.events", ns);
    snprintf(orders, sizeof orders, "kafka.orders_topic=%s.orders", ns);
    snprintf(alerts, sizeof alerts, "kafka.alerts_topic=%s.alerts", ns);
    snprintf(dlq, sizeof dlq, "kafka.dlq_topic=%s.dlq", ns);
    snprintf(group, sizeof group, "g-%s", ns);
    const char *argv[] = {harness_bin("vigild"), "--brokers", broker.bootstrap, "--redis",
                          redis.addr, "--group", group, "--workers", "2",
                          "--set", "kafka.session_timeout_ms=6000",
                          "--set", "kafka.heartbeat_interval_ms=500",
                          "--set", topic, "--set", orders, "--set", alerts, "--set", dlq,
                          "--set", extra ? extra : "vigild.checkpoint=1", NULL};
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(p, argv, &o), 0);
}

static void wait_committed(const char *ns, int64_t want)
{
    char group[64], topic[64];
    snprintf(group, sizeof group, "g-%s", ns);
    snprintf(topic, sizeof topic, "%s.events", ns);
    int64_t sum = 0;
    for (int tries = 0; tries < 900; tries++) {
        sum = harness_committed_sum(broker.bootstrap, group, topic);
        if (sum == want)
            return;
        harness_sleep_ms(100);
    }
    harness_dump_logs(30);
    fail_msg("group %s committed %lld of %lld events", group, (long long)sum, (long long)want);
}

/* Messages of <ns>.<what>, all of them (a quiet second ends the read). */
static ssize_t read_topic(const char *ns, const char *what, struct harness_msg **out)
{
    char topic[64];
    snprintf(topic, sizeof topic, "%s.%s", ns, what);
    ssize_t n = harness_consume_all(broker.bootstrap, topic, 2000, 0, out);
    return n < 0 ? 0 : n;
}

static size_t count_rule(const struct harness_msg *m, ssize_t n, const char *rule,
                         const char *severity)
{
    size_t k = 0;
    for (ssize_t i = 0; i < n; i++) {
        char r[96], s[32];
        if (harness_json_str(m[i].value, "rule", r, sizeof r) > 0 && strcmp(r, rule) == 0 &&
            (!severity ||
             (harness_json_str(m[i].value, "severity", s, sizeof s) > 0 && strcmp(s, severity) == 0)))
            k++;
    }
    return k;
}

static void show(const char *what, const struct harness_msg *m, ssize_t n)
{
    for (ssize_t i = 0; i < n && i < 10; i++)
        fprintf(stderr, "%s: %s\n", what, m[i].value);
}

/* 50 ordinary accounts each with a domestic call open for half an hour, a clock account
 * calling every 5 minutes, and one unrelated account whose exporter stamps a call 23 h
 * ahead. Without a clock that resists it, every open call looked 23 h old: 50 suspensions. */
static void test_one_event_ahead(void **state)
{
    (void)state;
    const char *t = "ahead.events";
    char path[4200];
    snprintf(path, sizeof path, "%s/ahead.jsonl", harness_tmpdir());
    copy = fopen(path, "w");
    assert_non_null(copy);
    produced = 0;
    char acc[32];
    for (int i = 0; i < 50; i++) {
        snprintf(acc, sizeof acc, "open-%d", i);
        call_start(t, acc, 0, T0 + i * 2 * SEC, "+31207654321");
    }
    for (int k = 0; k <= 12; k++) {
        call_start(t, "clock", k, T0 + k * 5 * MIN, "+31301234567");
        if (k == 2)
            call_start(t, "wrong-clock", 0, T0 + 10 * MIN + 23 * HOUR, "+31101234567");
        call_end(t, "clock", k, T0 + k * 5 * MIN + 60 * SEC, "+31301234567", 60);
        if (k == 6) {
            for (int i = 0; i < 50; i++) {
                snprintf(acc, sizeof acc, "open-%d", i);
                call_end(t, acc, 0, T0 + 30 * MIN + i * 2 * SEC, "+31207654321", 1800);
            }
        }
    }
    fclose(copy);
    copy = NULL;
    assert_int_equal(harness_producer_flush(prod, 10000), 0);

    struct harness_proc vd;
    start_vigild(&vd, "ahead", NULL);
    wait_committed("ahead", produced);
    assert_int_equal(harness_proc_stop(&vd, 10000), 0);
    struct harness_msg *orders = NULL, *dlq = NULL;
    ssize_t n = read_topic("ahead", "orders", &orders);
    ssize_t nd = read_topic("ahead", "dlq", &dlq);
    show("order", orders, n);
    HARNESS_ASSERT(n == 0);
    HARNESS_ASSERT(nd == 0);
    harness_msgs_free(orders, (size_t)n);
    harness_msgs_free(dlq, (size_t)nd);
    char *log = harness_read_file(vd.err_path, NULL);
    assert_non_null(log);
    HARNESS_ASSERT(strstr(log, "1 events ahead of their clock") != NULL);
    free(log);

    /* The backtest gives the same answer. */
    char cmd[17000], out[4300];
    snprintf(out, sizeof out, "%s/ahead.out", harness_tmpdir());
    snprintf(cmd, sizeof cmd, "%s replay %s > %s 2>%s.err", harness_bin("vigilctl"), path, out,
             out);
    assert_int_equal(system(cmd), 0);
    char *replayed = harness_read_file(out, NULL);
    assert_non_null(replayed);
    HARNESS_ASSERT(strstr(replayed, "\"kind\":\"order\"") == NULL);
    free(replayed);

    /* And the same stream with the clock made to follow every event, as before: the check
     * above can fail. */
    snprintf(cmd, sizeof cmd,
             "%s replay --set vigild.clock_confirm_accounts=1 --set vigild.gap_ms=86400000 %s "
             "> %s 2>%s.err",
             harness_bin("vigilctl"), path, out, out);
    assert_int_equal(system(cmd), 0);
    replayed = harness_read_file(out, NULL);
    assert_non_null(replayed);
    HARNESS_ASSERT(strstr(replayed, "\"kind\":\"order\"") != NULL);
    free(replayed);
}

/* A month of silence, then live traffic stamped now: accepted (ts_future is judged against
 * the wall clock, not the stream's newest time), and the silence is one gap alert. */
static void test_live_after_silence(void **state)
{
    (void)state;
    const char *t = "quiet.events";
    produced = 0;
    char acc[32];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t wall = (int64_t)now.tv_sec * 1000 - 5 * SEC;
    for (int i = 0; i < 5; i++) {
        snprintf(acc, sizeof acc, "old-%d", i);
        sms(t, acc, 0, T0 + i * SEC, NULL);
    }
    for (int i = 0; i < 5; i++) {
        snprintf(acc, sizeof acc, "live-%d", i);
        sms(t, acc, 0, wall + i * SEC, NULL);
    }
    assert_int_equal(harness_producer_flush(prod, 10000), 0);
    struct harness_proc vd;
    start_vigild(&vd, "quiet", NULL);
    wait_committed("quiet", produced);
    assert_true(harness_redis_wait_field(&redis, "vigil:cnt:live-4", "bulk_sms:updated_ms", 20000));
    assert_int_equal(harness_proc_stop(&vd, 10000), 0);
    struct harness_msg *dlq = NULL, *alerts = NULL;
    ssize_t nd = read_topic("quiet", "dlq", &dlq);
    show("dead letter", dlq, nd);
    HARNESS_ASSERT(nd == 0);
    ssize_t na = read_topic("quiet", "alerts", &alerts);
    show("alert", alerts, na);
    HARNESS_ASSERT(count_rule(alerts, na, "vigil.stream_gap", "warning") == 1);
    harness_msgs_free(dlq, (size_t)nd);
    harness_msgs_free(alerts, (size_t)na);
}

/* vigild sees 40 calls start, is stopped, and while it is away the calls' ends and a flood
 * of other traffic push everything it has not read out of the broker's window (about 5 MiB
 * per partition). When it comes back: one alert says events were lost, and the 40 calls,
 * whose ends it never saw, reach 8 h of event time without a single suspension. */
static void run_loss(const char *ns, const char *extra, size_t *alerts_lost, size_t *orders_out,
                     size_t *held_gap)
{
    char t[64];
    snprintf(t, sizeof t, "%s.events", ns);
    produced = 0;
    char acc[32];
    for (int i = 0; i < 40; i++) {
        snprintf(acc, sizeof acc, "line-%d", i);
        call_start(t, acc, 0, T0 + i * SEC, "+31207654321");
    }
    for (int i = 0; i < 3; i++) {
        snprintf(acc, sizeof acc, "tick-%d", i);
        sms(t, acc, 0, T0 + 2 * MIN, NULL);
    }
    assert_int_equal(harness_producer_flush(prod, 10000), 0);
    struct harness_proc vd;
    start_vigild(&vd, ns, extra);
    wait_committed(ns, produced);
    assert_int_equal(harness_proc_stop(&vd, 10000), 0);

    /* Away: the ends, then 2,000 messages of about 3.5 KB (7 MB) in the next 20 minutes. */
    for (int i = 0; i < 40; i++) {
        snprintf(acc, sizeof acc, "line-%d", i);
        call_end(t, acc, 0, T0 + 10 * MIN + i * SEC, "+31207654321", 600);
    }
    static char pad[3501];
    memset(pad, 'x', sizeof pad - 1);
    for (int i = 0; i < 2000; i++) {
        snprintf(acc, sizeof acc, "flood-%d", i % 50);
        sms(t, acc, i, T0 + 10 * MIN + i * 600, pad);
        if (i % 200 == 199)
            assert_int_equal(harness_producer_flush(prod, 10000), 0);
    }
    /* Then ordinary traffic for ten hours of event time: the 8 h marks of the lost calls
     * pass. */
    for (int k = 0; k < 60; k++) {
        for (int a = 0; a < 3; a++) {
            snprintf(acc, sizeof acc, "tick-%d", a);
            sms(t, acc, 1 + k, T0 + 35 * MIN + k * 10 * MIN + a * SEC, NULL);
        }
    }
    assert_int_equal(harness_producer_flush(prod, 20000), 0);
    start_vigild(&vd, ns, extra);
    wait_committed(ns, produced);
    assert_int_equal(harness_proc_stop(&vd, 10000), 0);

    struct harness_msg *orders = NULL, *alerts = NULL;
    ssize_t n = read_topic(ns, "orders", &orders);
    ssize_t na = read_topic(ns, "alerts", &alerts);
    show("order", orders, n);
    *orders_out = (size_t)n;
    *alerts_lost = count_rule(alerts, na, "vigil.stream_gap", NULL);
    *held_gap = 0;
    for (ssize_t i = 0; i < na; i++)
        *held_gap += harness_json_has(alerts[i].value, "\"held\":\"gap\"");
    for (ssize_t i = 0; i < na; i++) {
        if (harness_json_has(alerts[i].value, "vigil.stream_gap"))
            fprintf(stderr, "gap alert: %s\n", alerts[i].value);
    }
    harness_msgs_free(orders, (size_t)n);
    harness_msgs_free(alerts, (size_t)na);
}

/* With the order brake on (the default, 20 a minute) and off: the gap alone holds them. */
static void test_events_lost(void **state)
{
    (void)state;
    size_t gap_alerts, orders, held;
    run_loss("lost", NULL, &gap_alerts, &orders, &held);
    HARNESS_ASSERT(gap_alerts == 1);
    HARNESS_ASSERT(orders == 0);
    HARNESS_ASSERT(held == 40); /* each lost call's 8 h mark: an alert that names its order */
    run_loss("lostnb", "orders.max_per_minute=0", &gap_alerts, &orders, &held);
    HARNESS_ASSERT(gap_alerts == 1);
    HARNESS_ASSERT(orders == 0);
    HARNESS_ASSERT(held == 40);
}

static int setup(void **state)
{
    (void)state;
    const char *topics[] = {"--topic", "ahead.events:4", "--topic", "quiet.events:1",
                            "--topic", "lost.events:1", "--topic", "lostnb.events:1", NULL};
    return harness_stack_start(&redis, 0, &broker, topics, &prod);
}

static int teardown(void **state)
{
    return harness_stack_stop(state, &redis, &broker, &prod);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_event_ahead),
        cmocka_unit_test(test_live_after_silence),
        cmocka_unit_test(test_events_lost),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* itest_detectors.c - one abuse pattern per detector through the real vigild, with the
 * embedded broker and a real Redis, next to legitimate heavy users that must get no order.
 *
 * Every detector is also tested in depth through its interface (test_<detector>.c); this
 * test proves the same code catches the patterns when events arrive over Kafka, spread over
 * partitions and workers, with timers driven by the stream's clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define T0 1793606400000LL /* Monday 2026-11-02 09:00 Amsterdam: office hours */
#define MIN 60000LL
#define HOUR 3600000LL

static struct harness_redis redis;
static struct harness_broker broker;
static struct harness_producer *prod;
static int seq;

/* Events are collected, then sent in event-time order: the contract allows an account's
 * events at most 60 s of disorder, and calls written start-then-end would break it. */
struct pending_event {
    int64_t ts;
    int seq;
    char account[64];
    char json[512];
};
static struct pending_event *events;
static size_t n_events, cap_events;

static void send(const char *account, int64_t ts, const char *fmt, ...)
{
    if (n_events == cap_events) {
        cap_events = cap_events ? cap_events * 2 : 1024;
        events = realloc(events, cap_events * sizeof *events);
        assert_non_null(events);
    }
    struct pending_event *e = &events[n_events];
    e->ts = ts;
    e->seq = (int)n_events++;
    snprintf(e->account, sizeof e->account, "%s", account);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->json, sizeof e->json, fmt, ap);
    va_end(ap);
}

static int by_time(const void *a, const void *b)
{
    const struct pending_event *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq - y->seq;
}

static void send_all(void)
{
    qsort(events, n_events, sizeof *events, by_time);
    /* The same events as a file, so a failure can be replayed offline (VIGIL_KEEP_TMP=1). */
    char path[4200];
    snprintf(path, sizeof path, "%s/events.jsonl", harness_tmpdir());
    FILE *f = fopen(path, "w");
    for (size_t i = 0; f && i < n_events; i++)
        fprintf(f, "%s\n", events[i].json);
    if (f)
        fclose(f);
    for (size_t i = 0; i < n_events; i++)
        assert_int_equal(harness_producer_send(prod, "vigil.events", -1, events[i].account,
                                               events[i].json, strlen(events[i].json)),
                         0);
    free(events);
    events = NULL;
    n_events = cap_events = 0;
}

static void call(const char *acc, int64_t start, int duration_s, const char *to,
                 const char *dir, const char *device)
{
    int n = ++seq;
    char dev[160] = "";
    if (device)
        snprintf(dev, sizeof dev, ",\"device\":\"%s\"", device);
    send(acc, start,
         "{\"v\":1,\"type\":\"call_start\",\"id\":\"s%d\",\"ts\":%lld,\"account\":\"%s\","
         "\"call_id\":\"c%d\",\"from\":\"+31201110000\",\"to\":\"%s\",\"dir\":\"%s\"%s}",
         n, (long long)start, acc, n, to, dir, dev);
    if (duration_s >= 0)
        send(acc, start + duration_s * 1000LL,
             "{\"v\":1,\"type\":\"call_end\",\"id\":\"e%d\",\"ts\":%lld,\"account\":\"%s\","
             "\"call_id\":\"c%d\",\"from\":\"+31201110000\",\"to\":\"%s\",\"dir\":\"%s\","
             "\"duration\":%d%s}",
             n, (long long)(start + duration_s * 1000LL), acc, n, to, dir, duration_s, dev);
}

static void sms(const char *acc, int64_t ts, const char *to, const char *body_hash)
{
    send(acc, ts,
         "{\"v\":1,\"type\":\"sms\",\"id\":\"m%d\",\"ts\":%lld,\"account\":\"%s\","
         "\"from\":\"+31612345678\",\"to\":\"%s\",\"body_hash\":\"%s\"}",
         ++seq, (long long)ts, acc, to, body_hash);
}

struct expect {
    const char *account;
    const char *action;
    const char *rule;
    int64_t event_ts_min, event_ts_max; /* the order's event_ts must be in this range */
};

static void test_one_pattern_per_detector(void **state)
{
    char to[32];
    /* Stream clock: an ordinary account calling every 10 minutes for 9 hours. */
    for (int i = 0; i < 54; i++)
        call("acc-clock", T0 + i * 10 * MIN, 120, "+31207654321", "out", NULL);

    /* bulk_sms: 60 copies of one text to 60 recipients in 6 minutes. */
    for (int i = 0; i < 60; i++) {
        snprintf(to, sizeof to, "+3161%07d", 1000 + i);
        sms("acc-spam", T0 + 10 * MIN + i * 6000, to, "9f86d081884c7d65");
    }
    int64_t spam_done = T0 + 10 * MIN + 49 * 6000; /* the 50th recipient */

    /* continuous: a baby monitor, one call left open (no call_end at all). */
    call("acc-monitor", T0 + 5 * MIN, -1, "+31301234567", "out", NULL);

    /* premium: 21 short calls to 0900 numbers within 42 minutes. */
    for (int i = 0; i < 21; i++) {
        snprintf(to, sizeof to, "+31900%07d", 2000 + i);
        call("acc-premium", T0 + 20 * MIN + i * 2 * MIN, 45, to, "out", NULL);
    }
    int64_t premium_done = T0 + 20 * MIN + 19 * 2 * MIN; /* the 20th call */

    /* fair_use: three devices on calls at once for 20 minutes: a warning, never an order. */
    call("acc-devices", T0 + 30 * MIN, 1200, "+31101234567", "out", "dev-a");
    call("acc-devices", T0 + 30 * MIN + 1000, 1200, "+31101234568", "out", "dev-b");
    call("acc-devices", T0 + 30 * MIN + 2000, 1200, "+31101234569", "out", "dev-c");

    /* Leave alone: a call centre with 25 lines to NL/BE/DE/FR/GB all morning, and a family
     * calling Morocco for an hour. */
    static const char *cc_dest[] = {"+31201234567", "+3221234567", "+49301234567",
                                    "+33123456789", "+442071234567"};
    for (int line = 0; line < 25; line++) {
        int64_t t = T0 + line * 7000;
        for (int k = 0; t < T0 + 3 * HOUR; k++) {
            int dur = 180 + (line * 37 + k * 53) % 420;
            call("acc-callcentre", t, dur, cc_dest[(line + k) % 5], "out", NULL);
            t += dur * 1000LL + 20000;
        }
    }
    call("acc-family", T0 + 2 * HOUR, 3600, "+212612345678", "out", NULL);
    send_all();
    assert_int_equal(harness_producer_flush(prod, 20000), 0);

    const char *argv[] = {harness_bin("vigild"), "--brokers", broker.bootstrap, "--redis",
                          redis.addr, "--group", "g-detectors", "--workers", "2", NULL};
    struct harness_proc vd;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(&vd, argv, &o), 0);

    static const struct expect want[] = {
        {"acc-spam", "block_sms", "bulk_sms.", 0, 0},
        {"acc-monitor", "suspend", "continuous.single_call", T0 + 5 * MIN + 8 * HOUR,
         T0 + 5 * MIN + 8 * HOUR},
        {"acc-premium", "block_premium", "premium.outbound", 0, 0},
        /* a critical premium finding also asks billing for an interim invoice */
        {"acc-premium", "interim_invoice", "credit.interim_invoice", 0, 0},
    };
    const size_t nwant = sizeof want / sizeof want[0];
    char key[128];
    bool all_blocked = true;
    for (size_t i = 0; i < nwant; i++) {
        snprintf(key, sizeof key, "vigil:block:%s", want[i].account);
        all_blocked = all_blocked && harness_redis_wait_exists(&redis, key, 30000);
    }

    struct harness_msg *orders = NULL;
    ssize_t n = harness_consume_all(broker.bootstrap, "vigil.orders", 3000, nwant + 5, &orders);
    if (!all_blocked || n != (ssize_t)nwant) {
        for (ssize_t j = 0; j < n; j++)
            fprintf(stderr, "order: %s\n", orders[j].value);
        fail_msg("expected exactly %zu orders, for the accounts listed in the test", nwant);
    }
    for (size_t i = 0; i < nwant; i++) {
        bool found = false;
        for (ssize_t j = 0; j < n && !found; j++) {
            char acc[80], action[40], rule[80];
            long long ets;
            harness_json_str(orders[j].value, "account", acc, sizeof acc);
            harness_json_str(orders[j].value, "action", action, sizeof action);
            if (strcmp(acc, want[i].account) != 0 || strcmp(action, want[i].action) != 0)
                continue;
            found = true;
            harness_json_str(orders[j].value, "rule", rule, sizeof rule);
            assert_string_equal(action, want[i].action);
            assert_true(strncmp(rule, want[i].rule, strlen(want[i].rule)) == 0);
            assert_true(harness_json_array_has(orders[j].value, "exempt", "112"));
            assert_int_equal(harness_json_int(orders[j].value, "event_ts", &ets), 0);
            if (want[i].event_ts_min)
                assert_true(ets >= want[i].event_ts_min && ets <= want[i].event_ts_max);
            if (strcmp(want[i].account, "acc-spam") == 0)
                assert_true(ets <= spam_done && ets >= spam_done - 6 * MIN);
            if (strcmp(want[i].account, "acc-premium") == 0)
                assert_true(ets <= premium_done + 2 * MIN);
        }
        if (!found)
            fail_msg("no order for %s", want[i].account);
    }
    harness_msgs_free(orders, (size_t)n);

    /* fair_use speaks through an alert only. */
    struct harness_msg *alerts = NULL;
    ssize_t na = harness_consume_all(broker.bootstrap, "vigil.alerts", 3000, 0, &alerts);
    bool devices_warned = false;
    for (ssize_t j = 0; j < na; j++) {
        if (harness_json_has(alerts[j].value, "\"rule\":\"fair_use.devices\"") &&
            harness_json_has(alerts[j].value, "\"account\":\"acc-devices\"") &&
            harness_json_has(alerts[j].value, "\"severity\":\"warning\""))
            devices_warned = true;
        /* Legitimate heavy users: no critical alert either. */
        if (harness_json_has(alerts[j].value, "\"severity\":\"critical\"")) {
            assert_false(harness_json_has(alerts[j].value, "\"account\":\"acc-callcentre\""));
            assert_false(harness_json_has(alerts[j].value, "\"account\":\"acc-family\""));
            assert_false(harness_json_has(alerts[j].value, "\"account\":\"acc-clock\""));
        }
    }
    if (!devices_warned)
        for (ssize_t j = 0; j < na; j++)
            fprintf(stderr, "alert: %s\n", alerts[j].value);
    assert_true(devices_warned);
    harness_msgs_free(alerts, (size_t)na);
    assert_false(harness_redis_exists(&redis, "vigil:block:acc-devices"));
    assert_false(harness_redis_exists(&redis, "vigil:block:acc-callcentre"));

    /* The counters of every detector that saw the account are in Redis. */
    assert_true(
        harness_redis_wait_field(&redis, "vigil:cnt:acc-spam", "bulk_sms:updated_ms", 10000));
    assert_true(
        harness_redis_wait_field(&redis, "vigil:cnt:acc-premium", "premium:updated_ms", 10000));
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
        cmocka_unit_test_setup_teardown(test_one_pattern_per_detector, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

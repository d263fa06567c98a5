/* SPDX-License-Identifier: Apache-2.0 */
/* test_premium.c - the premium detector through its vtable: events parsed from the wire
 * format, the real config, number plan, profiles and emit layer, and a sink that records every
 * order, alert and counter set. Rules: premium.outbound, premium.inbound_pumping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detector_fixture.h"
#include "vigil/config.h"
#include "vigil/detector.h"
#include "vigil/emit.h"
#include "vigil/event.h"
#include "vigil/numplan.h"
#include "vigil/profile.h"
#include "vigil/status.h"

#define DETECTOR "premium"
#define T0 1795399800000LL /* 10 minutes into an hour, near events.md's example time */
#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define SERVICE "+319001234567" /* the account's own 0900 service number */
#define MAX_RECS 4096

/* --- fixture (tests/detector_fixture.h) ---------------------------------------------------- */

static struct fx *new_fx(const char *const *sets)
{
    return fx_create(DETECTOR, sets, MAX_RECS, T0 + DAY);
}

static int setup(void **state)
{
    *state = new_fx(NULL);
    return 0;
}

/* --- premium helpers ---------------------------------------------------------------------- */

static const char *const premium_numbers[] = {"+319001234567", "+319061234567", "0909 1234567"};

/* Outbound premium call i: event ids "s-<i>" / "x-<i>", call id "c-<i>". */
static void out_start(struct fx *fx, const char *account, int i, int64_t ts)
{
    char id[32], cid[32];
    snprintf(id, sizeof id, "s-%d", i);
    snprintf(cid, sizeof cid, "c-%d", i);
    fx_feed_call(fx, "call_start", "out", account, id, cid, ts, "+31201234567",
                 premium_numbers[i % 3], "");
}

static void out_end(struct fx *fx, const char *account, int i, int64_t ts, int duration,
                    bool answered)
{
    char id[32], cid[32], extra[64];
    snprintf(id, sizeof id, "x-%d", i);
    snprintf(cid, sizeof cid, "c-%d", i);
    snprintf(extra, sizeof extra, ",\"duration\":%d%s", duration,
             answered ? "" : ",\"answered\":false");
    fx_feed_call(fx, "call_end", "out", account, id, cid, ts, "+31201234567",
                 premium_numbers[i % 3], extra);
}

/* Inbound call i to `to` from caller number c (+316120000<c>). */
static void in_start(struct fx *fx, const char *account, int i, int64_t ts, int c, const char *to)
{
    char id[32], cid[32], from[32];
    snprintf(id, sizeof id, "i-%d", i);
    snprintf(cid, sizeof cid, "ci-%d", i);
    snprintf(from, sizeof from, "+3161%07d", c);
    fx_feed_call(fx, "call_start", "in", account, id, cid, ts, from, to, "");
}

static void in_end(struct fx *fx, const char *account, int i, int64_t ts, int c, const char *to,
                   int duration)
{
    char id[32], cid[32], from[32], extra[32];
    snprintf(id, sizeof id, "ie-%d", i);
    snprintf(cid, sizeof cid, "ci-%d", i);
    snprintf(from, sizeof from, "+3161%07d", c);
    snprintf(extra, sizeof extra, ",\"duration\":%d", duration);
    fx_feed_call(fx, "call_end", "in", account, id, cid, ts, from, to, extra);
}

static long long evidence_int(const struct fx_json *d, const char *key)
{
    int ev = fx_json_get(d, 0, "evidence");
    assert_true(ev > 0);
    return fx_json_int(d, fx_json_get(d, ev, key));
}

/* --- premium.outbound --------------------------------------------------------------------- */

/* 25 short calls to 0900/0906/0909 two minutes apart: a warning at the 10th call, one order
 * (block_premium) and its critical alert at the 20th, nothing more after. */
static void test_outbound_twenty_calls_block(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 19; i++) {
        out_start(fx, "acc-prem", i, T0 + i * 2 * MIN);
        out_end(fx, "acc-prem", i, T0 + i * 2 * MIN + MIN, 60, true);
        if (i == 9)
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
        if (i == 10)
            assert_int_equal(
                fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, "premium.outbound"), 1);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    out_start(fx, "acc-prem", 20, T0 + 40 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 1);

    const struct fx_rec *o = fx_find_kind(fx, VIGIL_OUT_ORDER, 0);
    assert_int_equal(o->action, VIGIL_ACT_BLOCK_PREMIUM);
    assert_string_equal(o->account, "acc-prem");
    assert_string_equal(o->detector, "premium");
    struct fx_json d;
    fx_json_parse(&d, o->json);
    fx_json_assert_str(&d, 0, "action", "block_premium");
    fx_json_assert_str(&d, 0, "rule", "premium.outbound");
    fx_json_assert_str(&d, 0, "severity", "critical");
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 40 * MIN);
    assert_true(fx_json_array_has(&d, 0, "exempt", "112"));
    assert_int_equal(evidence_int(&d, "premium_calls_1h"), 20);
    assert_int_equal(evidence_int(&d, "premium_minutes_1h"), 19);
    assert_int_equal(evidence_int(&d, "threshold_calls"), 20);
    assert_int_equal(evidence_int(&d, "threshold_minutes"), 60);
    static const char *const samples[] = {"s-16", "s-17", "s-18", "s-19", "s-20"};
    fx_json_assert_strings(&d, fx_json_get(&d, 0, "evidence"), "sample_event_ids", samples, 5);
    int reason = fx_json_get(&d, 0, "reason");
    assert_non_null(strstr(d.js + d.t[reason].start,
                           "20 calls and 19 minutes to premium-rate numbers in the last hour "
                           "(block at 20 calls or 60 minutes)"));

    struct vigil_emit_stats before, after;
    vigil_emit_get_stats(fx->out, &before);
    for (int i = 21; i <= 25; i++)
        out_start(fx, "acc-prem", i, T0 + 40 * MIN + i * 1000);
    fx_tick(fx, T0 + 42 * MIN);
    vigil_emit_get_stats(fx->out, &after);
    assert_memory_equal(&before, &after, sizeof before);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-prem"), "premium_calls_1h"), 25);
}

/* One 61-minute call to 0906, still open: a warning when it has been open 30 minutes and the
 * order when it reaches 60, both judged on the watermark and dated at the exact mark, before
 * the call ends. Its end adds nothing. */
static void test_outbound_open_call_minutes(void **state)
{
    struct fx *fx = *state;
    const int64_t s = T0 + 5000;
    fx_feed_call(fx, "call_start", "out", "acc-long", "l-1", "long", s, "+31201234567",
                 "+319061234567", "");
    fx_tick(fx, s + 29 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    fx_tick(fx, s + 31 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING), 1);
    struct fx_json d;
    fx_json_parse(&d, fx_find_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING)->json);
    fx_json_assert_str(&d, 0, "rule", "premium.outbound");
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), s + 30 * MIN);

    fx_tick(fx, s + 59 * MIN + 59000);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    /* The next minute of watermark: within 2 minutes of the mark. */
    fx_tick(fx, s + 60 * MIN + 30000);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    const struct fx_rec *o = fx_find_kind(fx, VIGIL_OUT_ORDER, 0);
    assert_int_equal(o->action, VIGIL_ACT_BLOCK_PREMIUM);
    fx_json_parse(&d, o->json);
    fx_json_assert_str(&d, 0, "rule", "premium.outbound");
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), s + 60 * MIN);
    assert_int_equal(evidence_int(&d, "premium_minutes_1h"), 60);
    assert_int_equal(evidence_int(&d, "open_premium_calls"), 1);
    static const char *const samples[] = {"l-1"};
    fx_json_assert_strings(&d, fx_json_get(&d, 0, "evidence"), "sample_event_ids", samples, 1);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-long"), "premium_minutes_1h"), 60);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-long"), "premium_calls_1h"), 1);

    size_t before = fx->cap.n;
    fx_feed_call(fx, "call_end", "out", "acc-long", "l-2", "long", s + 61 * MIN, "+31201234567",
                 "+319061234567", ",\"duration\":3660");
    fx_tick(fx, s + 61 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 2);
    assert_true(fx->cap.n <= before + 1); /* at most a counter update */
}

/* Minutes of finished calls: 35 minutes, then 25 more in the same hour -> the order at the end
 * of the second call, dated at that call_end. */
static void test_outbound_closed_minutes(void **state)
{
    struct fx *fx = *state;
    out_start(fx, "acc-min", 1, T0);
    out_end(fx, "acc-min", 1, T0 + 35 * MIN, 35 * 60, true);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, "premium.outbound"), 1);
    out_start(fx, "acc-min", 2, T0 + 35 * MIN + 30000);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    out_end(fx, "acc-min", 2, T0 + 60 * MIN + 30000, 25 * 60, true);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    struct fx_json d;
    fx_json_parse(&d, fx_find_kind(fx, VIGIL_OUT_ORDER, 0)->json);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 60 * MIN + 30000);
    assert_int_equal(evidence_int(&d, "premium_minutes_1h"), 60);
    assert_int_equal(evidence_int(&d, "premium_calls_1h"), 2);
}

/* Someone calling a 0900 helpdesk three times a day, ten minutes each, for a week: nothing,
 * not even a warning. */
static void test_helpdesk_three_times_a_day_left_alone(void **state)
{
    struct fx *fx = *state;
    int64_t day0 = (T0 / DAY) * DAY;
    int n = 0;
    for (int day = 0; day < 7; day++) {
        for (int k = 0; k < 3; k++) {
            int64_t s = day0 + day * DAY + (8 + 4 * k) * HOUR; /* 09:00, 13:00, 17:00 CET */
            n++;
            char id[16], cid[16];
            snprintf(id, sizeof id, "h-%d", n);
            snprintf(cid, sizeof cid, "hc-%d", n);
            fx_feed_call(fx, "call_start", "out", "acc-help", id, cid, s, "+31201234567",
                         "0900 1234567", "");
            for (int m = 1; m <= 10; m++)
                fx_tick(fx, s + m * MIN);
            snprintf(id, sizeof id, "he-%d", n);
            fx_feed_call(fx, "call_end", "out", "acc-help", id, cid, s + 10 * MIN, "+31201234567",
                         "0900 1234567", ",\"duration\":600");
            fx_tick(fx, s + 11 * MIN);
        }
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    assert_true(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0) > 0);
}

/* At-least-once delivery: starts and ends delivered twice count once; an unanswered attempt
 * (an end without a start) counts as a call but not as minutes; an end that arrives before
 * its start counts once. */
static void test_outbound_duplicates_and_attempts(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 14; i++) {
        out_start(fx, "acc-dup", i, T0 + i * MIN);
        out_start(fx, "acc-dup", i, T0 + i * MIN);
        out_end(fx, "acc-dup", i, T0 + i * MIN + 30000, 30, true);
        out_end(fx, "acc-dup", i, T0 + i * MIN + 30000, 30, true);
    }
    for (int i = 15; i <= 18; i++) {
        out_end(fx, "acc-dup", i, T0 + i * MIN, 0, false);
        out_end(fx, "acc-dup", i, T0 + i * MIN, 0, false);
    }
    /* Disorder: the end of call 19 before its start. */
    out_end(fx, "acc-dup", 19, T0 + 19 * MIN + 45000, 40, true);
    out_start(fx, "acc-dup", 19, T0 + 19 * MIN + 5000);
    fx_tick(fx, T0 + 20 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    const struct fx_rec *c = fx_last_counters(fx, "acc-dup");
    assert_int_equal(fx_counter(c, "premium_calls_1h"), 19);
    assert_int_equal(fx_counter(c, "premium_minutes_1h"), (14 * 30 + 40) / 60);
    out_start(fx, "acc-dup", 20, T0 + 21 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
}

/* The hour slides: 19 calls, then the 20th more than an hour after them is no attack; the
 * counters follow the window down to zero and the account is then forgotten. */
static void test_outbound_window_slides(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 19; i++) {
        out_start(fx, "acc-slow", i, T0 + i * MIN);
        out_end(fx, "acc-slow", i, T0 + i * MIN + 30000, 30, true);
    }
    fx_tick(fx, T0 + 20 * MIN);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-slow"), "premium_calls_1h"), 19);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-slow"), "premium_minutes_1h"), 9);
    out_start(fx, "acc-slow", 20, T0 + 82 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    fx_tick(fx, T0 + 82 * MIN);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-slow"), "premium_calls_1h"), 1);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-slow"), "premium_minutes_1h"), 0);

    /* Calls that never end stay open, and their minutes add up: 19 calls open for four
     * minutes on average pass 60 minutes. */
    for (int i = 21; i <= 35; i++)
        out_start(fx, "acc-slow", i, T0 + 83 * MIN + (i - 21) * 10000);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    fx_tick(fx, T0 + 90 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    const struct fx_rec *o = fx_find_kind(fx, VIGIL_OUT_ORDER, 0);
    struct fx_json d;
    fx_json_parse(&d, o->json);
    fx_json_assert_str(&d, 0, "rule", "premium.outbound");
    assert_int_equal(evidence_int(&d, "premium_minutes_1h"), 60);
    assert_int_equal(evidence_int(&d, "open_premium_calls"), 16);
    assert_int_equal(evidence_int(&d, "premium_calls_1h"), 16);
}

/* Calls that end: the window slides, the counters decay to zero once, then silence. */
static void test_counters_decay(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 3; i++) {
        out_start(fx, "acc-c", i, T0 + i * 3 * MIN);
        out_end(fx, "acc-c", i, T0 + i * 3 * MIN + 2 * MIN, 120, true);
    }
    for (int i = 1; i <= 5; i++)
        in_start(fx, "acc-c", i, T0 + 10 * MIN + i * 1000, i % 3, SERVICE);
    fx_tick(fx, T0 + 12 * MIN);
    const struct fx_rec *c = fx_last_counters(fx, "acc-c");
    assert_string_equal(c->detector, "premium");
    assert_int_equal(fx_counter(c, "premium_calls_1h"), 3);
    assert_int_equal(fx_counter(c, "premium_minutes_1h"), 6);
    assert_int_equal(fx_counter(c, "inbound_calls_1h"), 5);
    assert_int_equal(fx_counter(c, "inbound_callers_1h"), 3);
    size_t n = fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0);
    fx_tick(fx, T0 + 12 * MIN + 10000); /* nothing changed */
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), n);
    fx_tick(fx, T0 + 40 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), n);
    fx_tick(fx, T0 + 75 * MIN);
    c = fx_last_counters(fx, "acc-c");
    assert_int_equal(fx_counter(c, "premium_calls_1h"), 0);
    assert_int_equal(fx_counter(c, "premium_minutes_1h"), 0);
    assert_int_equal(fx_counter(c, "inbound_calls_1h"), 0);
    assert_int_equal(fx_counter(c, "inbound_callers_1h"), 0);
    n = fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0);
    for (int m = 76; m < 300; m += 7)
        fx_tick(fx, T0 + m * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), n);
}

/* Per-profile thresholds: premium.out_calls_1h@business = 40 lets a business make 30 calls;
 * the same 30 calls block a default account. */
static void test_outbound_profile_override(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"profiles.business", "acc-biz",
                                       "premium.out_calls_1h@business", "40", NULL};
    struct fx *fx = new_fx(sets);
    for (int i = 1; i <= 30; i++) {
        out_start(fx, "acc-biz", i, T0 + i * MIN);
        out_end(fx, "acc-biz", i, T0 + i * MIN + 1000, 1, true);
        out_start(fx, "acc-dfl", i, T0 + i * MIN);
        out_end(fx, "acc-dfl", i, T0 + i * MIN + 1000, 1, true);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_string_equal(fx_find_kind(fx, VIGIL_OUT_ORDER, 0)->account, "acc-dfl");
    void *state = fx;
    fx_teardown(&state);
}

/* --- premium.inbound_pumping -------------------------------------------------------------- */

/* The simulator's pumping: 120 short calls from 40 callers to the account's 0900 number in
 * 50 minutes. A warning at a third (34 calls, 10+ callers), the order at the 100th call. */
static void test_inbound_pumping_withholds_payout(void **state)
{
    struct fx *fx = *state;
    for (int k = 0; k < 120; k++) {
        int64_t t = T0 + k * 25000;
        int caller = k < 40 ? k : (k * 7) % 40;
        in_start(fx, "acc-pump", k, t, caller, SERVICE);
        in_end(fx, "acc-pump", k, t + 20000, caller, SERVICE, 20);
        if (k == 32)
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
        if (k == 33) {
            assert_int_equal(
                fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, "premium.inbound_pumping"),
                1);
            struct fx_json d;
            fx_json_parse(&d, fx_find_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING)->json);
            assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 33 * 25000);
        }
        if (k == 98)
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
        if (k == 99)
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 1);
    const struct fx_rec *o = fx_find_kind(fx, VIGIL_OUT_ORDER, 0);
    assert_int_equal(o->action, VIGIL_ACT_WITHHOLD_PAYOUT);
    struct fx_json d;
    fx_json_parse(&d, o->json);
    fx_json_assert_str(&d, 0, "action", "withhold_payout");
    fx_json_assert_str(&d, 0, "rule", "premium.inbound_pumping");
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 99 * 25000);
    assert_int_equal(evidence_int(&d, "inbound_calls_1h"), 100);
    assert_int_equal(evidence_int(&d, "inbound_callers_1h"), 40);
    assert_int_equal(evidence_int(&d, "short_calls_1h"), 99);
    assert_int_equal(evidence_int(&d, "threshold_calls"), 100);
    assert_int_equal(evidence_int(&d, "threshold_callers"), 30);
    static const char *const samples[] = {"i-95", "i-96", "i-97", "i-98", "i-99"};
    fx_json_assert_strings(&d, fx_json_get(&d, 0, "evidence"), "sample_event_ids", samples, 5);
    int reason = fx_json_get(&d, 0, "reason");
    assert_non_null(strstr(d.js + d.t[reason].start,
                           "100 inbound calls from 40 distinct callers in the last hour to "
                           "service number +319001234567"));
    fx_tick(fx, T0 + 50 * MIN);
    const struct fx_rec *c = fx_last_counters(fx, "acc-pump");
    assert_int_equal(fx_counter(c, "inbound_calls_1h"), 120);
    assert_int_equal(fx_counter(c, "inbound_callers_1h"), 40);
    assert_int_equal(fx_counter(c, "premium_calls_1h"), 0);
}

/* Many calls from few callers (20 < 30) is not pumping by this rule: no order. Calls to an
 * ordinary (non-service) number never count. Duplicated starts count once. */
static void test_inbound_needs_callers_and_service_number(void **state)
{
    struct fx *fx = *state;
    for (int k = 0; k < 150; k++) {
        in_start(fx, "acc-few", k, T0 + k * 20000, k % 20, SERVICE);
        in_start(fx, "acc-cc", k, T0 + k * 20000, k, "+31201234567");
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(
        fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, "premium.inbound_pumping"), 0);
    fx_tick(fx, T0 + 50 * MIN);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-few"), "inbound_callers_1h"), 20);
    assert_null(fx_last_counters(fx, "acc-cc"));

    /* 99 calls from 99 callers, each start delivered twice: still 99. */
    for (int k = 0; k < 99; k++) {
        in_start(fx, "acc-twice", k, T0 + k * 20000, k, SERVICE);
        in_start(fx, "acc-twice", k, T0 + k * 20000, k, SERVICE);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    in_start(fx, "acc-twice", 99, T0 + 99 * 20000, 99, SERVICE);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
}

/* Inbound ends whose start was lost count as calls, once however often they are delivered;
 * a third service number of the account takes the slot of the quieter one. */
static void test_inbound_orphan_ends_and_slots(void **state)
{
    struct fx *fx = *state;
    for (int k = 0; k < 99; k++) {
        in_end(fx, "acc-orph", k, T0 + k * 20000, k, SERVICE, 300);
        in_end(fx, "acc-orph", k, T0 + k * 20000, k, SERVICE, 300);
    }
    /* Other numbers of the account: a quiet one, then a third that replaces it. */
    in_start(fx, "acc-orph", 500, T0 + 99 * 20000, 1, "+319061111111");
    in_start(fx, "acc-orph", 501, T0 + 99 * 20000 + 1, 2, "+319092222222");
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    fx_tick(fx, T0 + 99 * 20000);
    const struct fx_rec *c = fx_last_counters(fx, "acc-orph");
    assert_int_equal(fx_counter(c, "inbound_calls_1h"), 99);
    assert_int_equal(fx_counter(c, "inbound_callers_1h"), 64); /* the set's bound */
    in_end(fx, "acc-orph", 99, T0 + 99 * 20000 + 2, 99, SERVICE, 300);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    struct fx_json d;
    fx_json_parse(&d, fx_find_kind(fx, VIGIL_OUT_ORDER, 0)->json);
    fx_json_assert_str(&d, 0, "rule", "premium.inbound_pumping");
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 99 * 20000 + 2);
    assert_int_equal(evidence_int(&d, "short_calls_1h"), 0);
}

struct evrec {
    int64_t ts;
    int k, caller, dur;
    bool end;
};

static int evrec_cmp(const void *a, const void *b)
{
    const struct evrec *x = a, *y = b;
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* 400 calls from 300 callers with natural durations (30 s to 15 min), `span` ms long,
 * fed in time order with a tick every minute. */
static void popular_traffic(struct fx *fx, const char *account, int64_t span)
{
    static struct evrec evs[800];
    uint64_t rng = 42;
    for (int k = 0; k < 400; k++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        int dur = 30 + (int)((rng >> 33) % 870);
        int64_t t = T0 + span * k / 400 + (int64_t)((rng >> 20) % 1000);
        int caller = k < 300 ? k : (int)((rng >> 40) % 300);
        evs[2 * k] = (struct evrec){.ts = t, .k = k, .caller = caller, .dur = dur};
        evs[2 * k + 1] =
            (struct evrec){.ts = t + dur * 1000LL, .k = k, .caller = caller, .dur = dur, .end = 1};
    }
    qsort(evs, 800, sizeof evs[0], evrec_cmp);
    int64_t next_tick = T0 + MIN;
    for (int i = 0; i < 800; i++) {
        while (evs[i].ts - MIN >= next_tick) {
            fx_tick(fx, next_tick);
            next_tick += MIN;
        }
        if (evs[i].end)
            in_end(fx, account, evs[i].k, evs[i].ts, evs[i].caller, SERVICE, evs[i].dur);
        else
            in_start(fx, account, evs[i].k, evs[i].ts, evs[i].caller, SERVICE);
    }
    fx_tick(fx, next_tick);
}

/* A popular service number (profile service_popular): 400 calls from 300 callers over a day
 * is left alone, and so is the same traffic within one hour; for a default-profile account the
 * hour-long burst is pumping. */
static void test_service_popular_left_alone(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"profiles.service_popular", "acc-svc acc-svc2", NULL};
    struct fx *fx = new_fx(sets);
    popular_traffic(fx, "acc-svc", DAY);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    popular_traffic(fx, "acc-svc2", HOUR);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(
        fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, "premium.inbound_pumping"), 0);
    popular_traffic(fx, "acc-dflt", HOUR);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    const struct fx_rec *o = fx_find_kind(fx, VIGIL_OUT_ORDER, 0);
    assert_string_equal(o->account, "acc-dflt");
    assert_int_equal(o->action, VIGIL_ACT_WITHHOLD_PAYOUT);
    /* The default account's day-long traffic is left alone too (17 calls an hour). */
    popular_traffic(fx, "acc-dflt-day", DAY);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    void *state = fx;
    fx_teardown(&state);
}

/* An operator's inbound_calls_1h@service_popular replaces the popular default. */
static void test_service_popular_override(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"profiles.service_popular", "acc-svc",
                                       "premium.inbound_calls_1h@service_popular", "200", NULL};
    struct fx *fx = new_fx(sets);
    popular_traffic(fx, "acc-svc", HOUR);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    struct fx_json d;
    fx_json_parse(&d, fx_find_kind(fx, VIGIL_OUT_ORDER, 0)->json);
    assert_int_equal(evidence_int(&d, "threshold_calls"), 200);
    assert_int_equal(evidence_int(&d, "inbound_calls_1h"), 200);
    void *state = fx;
    fx_teardown(&state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outbound_twenty_calls_block, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_outbound_open_call_minutes, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_outbound_closed_minutes, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_helpdesk_three_times_a_day_left_alone, setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_outbound_duplicates_and_attempts, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_outbound_window_slides, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_counters_decay, setup, fx_teardown),
        cmocka_unit_test(test_outbound_profile_override),
        cmocka_unit_test_setup_teardown(test_inbound_pumping_withholds_payout, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_inbound_needs_callers_and_service_number, setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_inbound_orphan_ends_and_slots, setup, fx_teardown),
        cmocka_unit_test(test_service_popular_left_alone),
        cmocka_unit_test(test_service_popular_override),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

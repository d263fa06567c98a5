/* SPDX-License-Identifier: Apache-2.0 */
/* test_premium.c - the premium detector through its vtable: events parsed from the wire
 * format, the real config, number plan, profiles and emit layer, and a sink that records every
 * order, alert and counter set. Rules: premium.outbound, premium.inbound_pumping,
 * premium.inbound_flagged_callers (with the fixture's flagged set filled by the test). */
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
#include "vigil/flagged.h"
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

/* --- fixture (tests/unit/detector_fixture.h) ---------------------------------------------------- */

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
    /* The call counted at its start, 60.5 minutes before: out of the hour by now. */
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-long"), "premium_calls_1h"), 0);

    size_t before = fx->cap.n;
    fx_feed_call(fx, "call_end", "out", "acc-long", "l-2", "long", s + 61 * MIN, "+31201234567",
                 "+319061234567", ",\"duration\":3660");
    fx_tick(fx, s + 61 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 2);
    assert_true(fx->cap.n <= before + 1); /* at most a counter update */
}

/* Minutes of finished calls: 35 minutes, then 25 more ending exactly an hour after the first
 * began -> the order at the end of the second call, dated at that call_end. Had the second
 * started and ended 30 s later, the first's first half-minute would have left the hour: 59.5
 * minutes, no order (test_edge_outbound_stretched_never). */
static void test_outbound_closed_minutes(void **state)
{
    struct fx *fx = *state;
    out_start(fx, "acc-min", 1, T0);
    out_end(fx, "acc-min", 1, T0 + 35 * MIN, 35 * 60, true);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, "premium.outbound"), 1);
    out_start(fx, "acc-min", 2, T0 + 35 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    out_end(fx, "acc-min", 2, T0 + 60 * MIN, 25 * 60, true);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    struct fx_json d;
    fx_json_parse(&d, fx_find_kind(fx, VIGIL_OUT_ORDER, 0)->json);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 60 * MIN);
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

/* service_popular's 1000 is a per-profile default (inbound_calls_1h@service_popular, config.h):
 * lowering the base key to 50 leaves it at 1000, and an operator's value for the profile
 * holds even when it equals the base (100). */
static void test_service_popular_default_is_per_profile(void **unused)
{
    (void)unused;
    static const char *const base[] = {"profiles.service_popular", "acc-svc",
                                       "premium.inbound_calls_1h", "50", NULL};
    struct fx *fx = new_fx(base);
    popular_traffic(fx, "acc-svc", HOUR);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    popular_traffic(fx, "acc-dflt", HOUR);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    struct fx_json d;
    fx_json_parse(&d, fx_find_kind(fx, VIGIL_OUT_ORDER, 0)->json);
    assert_int_equal(evidence_int(&d, "threshold_calls"), 50);
    fx_destroy(fx);

    static const char *const same[] = {"profiles.service_popular", "acc-svc",
                                       "premium.inbound_calls_1h@service_popular", "100", NULL};
    fx = new_fx(same);
    popular_traffic(fx, "acc-svc", HOUR);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    fx_json_parse(&d, fx_find_kind(fx, VIGIL_OUT_ORDER, 0)->json);
    assert_int_equal(evidence_int(&d, "threshold_calls"), 100);
    fx_destroy(fx);
}

/* --- premium.inbound_flagged_callers -------------------------------------------------------- */

#define FLAG_RULE "premium.inbound_flagged_callers"

/* Flags caller number c (in_start's +3161<c>) until `until` in the fixture's set, as vigild's
 * refresh does when another account that calls from it has been ordered. */
static void flag_caller(struct fx *fx, int c, int64_t until)
{
    char from[32];
    snprintf(from, sizeof from, "+3161%07d", c);
    assert_int_equal(vigil_flagged_add(fx->flagged, vigil_flagged_hash(from), until), 0);
}

/* Calls k and k + 1000 of caller c: a 90 s call to `to`, start and end. */
static void in_call(struct fx *fx, const char *account, int k, int64_t t, int c, const char *to)
{
    in_start(fx, account, k, t, c, to);
    in_end(fx, account, k, t + 90000, c, to, 90);
}

/* Five ordinary callers, then callers 9001 and 9002, whose numbers belong to blocked accounts:
 * a warning at the first flagged caller, the order (withhold_payout) at the second, whose
 * evidence names the flagged callers and the threshold; a third adds nothing. */
static void test_flagged_callers_withhold_payout(void **state)
{
    struct fx *fx = *state;
    vigil_flagged_advance(fx->flagged, T0);
    flag_caller(fx, 9001, T0 + DAY);
    flag_caller(fx, 9002, T0 + DAY);
    flag_caller(fx, 9003, T0 + DAY);
    for (int k = 0; k < 5; k++)
        in_call(fx, "acc-svc", k, T0 + k * MIN, k, SERVICE);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);

    in_call(fx, "acc-svc", 10, T0 + 10 * MIN, 9001, SERVICE);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, FLAG_RULE), 1);
    struct fx_json d;
    fx_json_parse(&d, fx_find_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, FLAG_RULE)->json);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 10 * MIN);
    assert_int_equal(evidence_int(&d, "flagged_callers_1h"), 1);
    assert_int_equal(evidence_int(&d, "threshold_flagged_callers"), 1);
    /* The same flagged caller again is not a second one. */
    in_call(fx, "acc-svc", 11, T0 + 12 * MIN, 9001, SERVICE);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 1);

    in_call(fx, "acc-svc", 12, T0 + 20 * MIN, 9002, SERVICE);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, FLAG_RULE), 1);
    const struct fx_rec *o = fx_find_kind(fx, VIGIL_OUT_ORDER, 0);
    assert_int_equal(o->action, VIGIL_ACT_WITHHOLD_PAYOUT);
    assert_string_equal(o->account, "acc-svc");
    fx_json_parse(&d, o->json);
    fx_json_assert_str(&d, 0, "action", "withhold_payout");
    fx_json_assert_str(&d, 0, "rule", FLAG_RULE);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 20 * MIN);
    assert_int_equal(evidence_int(&d, "flagged_callers_1h"), 2);
    assert_int_equal(evidence_int(&d, "threshold_flagged_callers"), 2);
    assert_int_equal(evidence_int(&d, "inbound_calls_1h"), 8);
    assert_int_equal(evidence_int(&d, "inbound_callers_1h"), 7);
    assert_true(fx_json_array_has(&d, fx_json_get(&d, 0, "evidence"), "sample_event_ids", "i-12"));
    assert_true(fx_json_array_has(&d, 0, "exempt", "112"));
    int reason = fx_json_get(&d, 0, "reason");
    assert_non_null(strstr(d.js + d.t[reason].start,
                           "2 of the 7 callers of service number +319001234567 in the last "
                           "hour called from numbers of accounts vigil has blocked"));

    in_call(fx, "acc-svc", 13, T0 + 25 * MIN, 9003, SERVICE);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 2);
}

/* Left alone: a service number called by ordinary callers while other numbers are flagged; a
 * flagged caller of an ordinary number; flagged numbers whose flag expired; two flagged callers
 * more than an hour apart. */
static void test_flagged_callers_left_alone(void **state)
{
    struct fx *fx = *state;
    vigil_flagged_advance(fx->flagged, T0);
    flag_caller(fx, 9001, T0 + DAY);
    flag_caller(fx, 9002, T0 + DAY);
    flag_caller(fx, 9011, T0 + HOUR);
    flag_caller(fx, 9012, T0 + HOUR);
    for (int k = 0; k < 20; k++)
        in_call(fx, "acc-plain-svc", k, T0 + k * MIN, k, SERVICE);
    for (int k = 0; k < 2; k++)
        in_call(fx, "acc-office", 100 + k, T0 + k * MIN, 9001 + k, "+31201234567");
    /* The flags of 9011 and 9012 run out before they call. */
    vigil_flagged_advance(fx->flagged, T0 + HOUR);
    in_call(fx, "acc-late", 200, T0 + HOUR + MIN, 9011, SERVICE);
    in_call(fx, "acc-late", 201, T0 + HOUR + 2 * MIN, 9012, SERVICE);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);

    /* An hour and more apart: a warning each time, never an order. */
    in_call(fx, "acc-apart", 300, T0 + 2 * HOUR, 9001, SERVICE);
    in_call(fx, "acc-apart", 301, T0 + 3 * HOUR + 2 * MIN, 9002, SERVICE);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, FLAG_RULE), 1);
}

/* A caller flagged while its call is open counts from the call's end; one flagged only after
 * its call has ended counts from its next call. */
static void test_flagged_during_call(void **state)
{
    struct fx *fx = *state;
    vigil_flagged_advance(fx->flagged, T0);
    in_start(fx, "acc-svc", 1, T0, 9001, SERVICE);
    in_call(fx, "acc-svc", 2, T0 + MIN, 9002, SERVICE);
    flag_caller(fx, 9001, T0 + DAY);
    flag_caller(fx, 9002, T0 + DAY);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    in_end(fx, "acc-svc", 1, T0 + 5 * MIN, 9001, SERVICE, 300);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, FLAG_RULE), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    in_start(fx, "acc-svc", 3, T0 + 10 * MIN, 9002, SERVICE);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    struct fx_json d;
    fx_json_parse(&d, fx_find_kind(fx, VIGIL_OUT_ORDER, 0)->json);
    fx_json_assert_str(&d, 0, "rule", FLAG_RULE);
    assert_int_equal(evidence_int(&d, "flagged_callers_1h"), 2);
    assert_int_equal(evidence_int(&d, "inbound_calls_1h"), 3);
}

/* A caller whose flag runs out stops counting at its next call: with a second flagged caller
 * after that, one flagged caller in the hour, not two. */
static void test_flagged_caller_expires(void **state)
{
    struct fx *fx = *state;
    vigil_flagged_advance(fx->flagged, T0);
    flag_caller(fx, 9001, T0 + 10 * MIN);
    flag_caller(fx, 9002, T0 + DAY);
    in_call(fx, "acc-svc", 1, T0, 9001, SERVICE);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, FLAG_RULE), 1);
    vigil_flagged_advance(fx->flagged, T0 + 10 * MIN);
    in_call(fx, "acc-svc", 2, T0 + 20 * MIN, 9001, SERVICE);
    in_call(fx, "acc-svc", 3, T0 + 25 * MIN, 9002, SERVICE);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    /* The episode ended at 9001's second call: 9002 warns afresh (past the cool-down). */
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, FLAG_RULE), 2);
    struct fx_json d;
    fx_json_parse(&d, fx->cap.recs[fx->cap.n - 1].json);
    assert_int_equal(evidence_int(&d, "flagged_callers_1h"), 1);
}

/* The threshold per profile, 0 for off, 1 for an order at the first flagged caller; and a
 * detector without a flagged set (env.flagged NULL) never counts one. */
static void test_flagged_callers_config(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"premium.inbound_flagged_callers",
                                       "1",
                                       "premium.inbound_flagged_callers@service_popular",
                                       "0",
                                       "profiles.service_popular",
                                       "acc-popular",
                                       "profiles.business",
                                       "acc-biz",
                                       "premium.inbound_flagged_callers@business",
                                       "3",
                                       NULL};
    struct fx *fx = new_fx(sets);
    flag_caller(fx, 9001, T0 + DAY);
    flag_caller(fx, 9002, T0 + DAY);
    in_call(fx, "acc-popular", 1, T0, 9001, SERVICE);
    in_call(fx, "acc-popular", 2, T0 + MIN, 9002, SERVICE);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    in_call(fx, "acc-biz", 3, T0, 9001, SERVICE);
    in_call(fx, "acc-biz", 4, T0 + MIN, 9002, SERVICE);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, FLAG_RULE), 1);
    in_call(fx, "acc-one", 5, T0, 9001, SERVICE);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    struct fx_json d;
    fx_json_parse(&d, fx_find_kind(fx, VIGIL_OUT_ORDER, 0)->json);
    assert_int_equal(evidence_int(&d, "threshold_flagged_callers"), 1);
    fx_destroy(fx);

    /* No set: the same traffic is two ordinary callers. */
    fx = new_fx(NULL);
    void *st = NULL;
    struct vigil_detector_env env = {.cfg = fx->cfg, .numplan = fx->np, .profiles = fx->pr};
    assert_int_equal(fx->ops->init(&st, &env), 0);
    flag_caller(fx, 9001, T0 + DAY);
    flag_caller(fx, 9002, T0 + DAY);
    fx->ops->destroy(fx->st);
    fx->st = st;
    in_call(fx, "acc-svc", 1, T0, 9001, SERVICE);
    in_call(fx, "acc-svc", 2, T0 + MIN, 9002, SERVICE);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    fx_destroy(fx);
}

/* --- checkpoints: save, load, forget ------------------------------------------------------- */

#define CP_ACC "acc-cp"
#define CP_FINDINGS_MAX 64

/* Appends fx's saved bytes of `account` to b; save must succeed. */
static void cp_save(struct fx *fx, const char *account, struct vigil_bytes *b)
{
    assert_non_null(fx->ops->save);
    assert_int_equal(fx->ops->save(fx->st, account, b), 0);
}

/* Traffic of another account in B before the load, with no open call (so no timer of its
 * own makes B sweep when the loaded account's timer is due). */
static void cp_other_traffic(struct fx *fx)
{
    out_start(fx, "acc-other", 900, T0);
    out_end(fx, "acc-other", 900, T0 + 30000, 30, true);
    in_start(fx, "acc-other", 900, T0 + 1000, 7, SERVICE);
}

/* Orders and alerts of `account` in fx, in order, appended to v[*n]. */
static void cp_findings(const struct fx *fx, const char *account, const struct fx_rec **v,
                        size_t *n)
{
    for (size_t i = 0; i < fx->cap.n; i++) {
        const struct fx_rec *r = &fx->cap.recs[i];
        if ((r->kind != VIGIL_OUT_ORDER && r->kind != VIGIL_OUT_ALERT) ||
            strcmp(r->account, account) != 0)
            continue;
        assert_true(*n < CP_FINDINGS_MAX);
        v[(*n)++] = r;
    }
}

/* Asserts that the orders and alerts of `account` from A and then B are C's, record for
 * record (kind, id, severity, whole JSON), and returns how many there are. */
static size_t cp_assert_same(const struct fx *a, const struct fx *b, const struct fx *c,
                             const char *account)
{
    const struct fx_rec *ab[CP_FINDINGS_MAX], *want[CP_FINDINGS_MAX];
    size_t n_ab = 0, n_want = 0;
    cp_findings(a, account, ab, &n_ab);
    cp_findings(b, account, ab, &n_ab);
    cp_findings(c, account, want, &n_want);
    assert_int_equal(n_ab, n_want);
    for (size_t i = 0; i < n_want; i++) {
        assert_int_equal(ab[i]->kind, want[i]->kind);
        assert_string_equal(ab[i]->id, want[i]->id);
        assert_int_equal(ab[i]->severity, want[i]->severity);
        assert_string_equal(ab[i]->json, want[i]->json);
    }
    return n_want;
}

/* A stream in steps: step(fx, i) feeds step i, events and ticks, of CP_ACC. */
struct cp_run {
    void (*step)(struct fx *fx, int i);
    int split;    /* A gets steps [0, split), B the rest */
    int64_t b_wm; /* watermark B's own traffic has reached at the load: A's last one */
    struct fx *a, *b, *c;
};

/* Feeds steps [0, split) to A and saves CP_ACC; a fresh B sees another account's traffic up to
 * watermark b_wm, loads the bytes and gets steps [split, n); C gets all n steps uninterrupted.
 * On the way: the load leaves B's other account as it was, B's next tick publishes the counters
 * A published last, and B saves the same bytes as A did. The caller compares the findings and
 * calls cp_run_done. */
static void cp_run_split(struct cp_run *r, int n)
{
    r->a = new_fx(NULL);
    r->b = new_fx(NULL);
    r->c = new_fx(NULL);
    for (int i = 0; i < n; i++)
        r->step(r->c, i);
    for (int i = 0; i < r->split; i++)
        r->step(r->a, i);
    struct vigil_bytes saved = {0}, again = {0}, other = {0}, other_after = {0};
    cp_save(r->a, CP_ACC, &saved);
    assert_true(saved.len > 1);
    cp_other_traffic(r->b);
    fx_tick(r->b, r->b_wm);
    cp_save(r->b, "acc-other", &other);
    assert_int_equal(r->b->ops->load(r->b->st, CP_ACC, saved.p, saved.len), 0);
    /* The other account is untouched. */
    cp_save(r->b, "acc-other", &other_after);
    assert_int_equal(other_after.len, other.len);
    assert_memory_equal(other_after.p, other.p, other.len);
    /* The next tick publishes the loaded account's counters: those A published last. */
    fx_tick(r->b, r->b_wm);
    static const char *const names[] = {"premium_calls_1h", "premium_minutes_1h",
                                        "inbound_calls_1h", "inbound_callers_1h"};
    for (int k = 0; k < 4; k++) {
        assert_true(fx_latest(r->a, CP_ACC, names[k]) >= 0);
        assert_int_equal(fx_latest(r->b, CP_ACC, names[k]), fx_latest(r->a, CP_ACC, names[k]));
    }
    cp_save(r->b, CP_ACC, &again);
    assert_int_equal(again.len, saved.len);
    assert_memory_equal(again.p, saved.p, saved.len);
    for (int i = r->split; i < n; i++)
        r->step(r->b, i);
    vigil_bytes_fini(&saved);
    vigil_bytes_fini(&again);
    vigil_bytes_fini(&other);
    vigil_bytes_fini(&other_after);
}

static void cp_run_done(struct cp_run *r)
{
    /* B's other account never has a finding. */
    const struct fx_rec *v[CP_FINDINGS_MAX];
    size_t n = 0;
    cp_findings(r->b, "acc-other", v, &n);
    assert_int_equal(n, 0);
    fx_destroy(r->a);
    fx_destroy(r->b);
    fx_destroy(r->c);
}

/* Step i of the outbound pattern: call c-0 opens at T0 and never ends; calls 1..21 of 30 s
 * each, two minutes apart; a tick a minute after each. Step 17 delivers call 16 again. The
 * warning comes at call 9 (10 calls), the order at call 19. */
static void cp_step_outbound(struct fx *fx, int i)
{
    int64_t t = T0 + i * 2 * MIN;
    if (i == 0) {
        out_start(fx, CP_ACC, 0, t);
    } else {
        out_start(fx, CP_ACC, i, t);
        out_end(fx, CP_ACC, i, t + 30000, 30, true);
    }
    if (i == 17) {
        out_start(fx, CP_ACC, 16, T0 + 16 * 2 * MIN);
        out_end(fx, CP_ACC, 16, T0 + 16 * 2 * MIN + 30000, 30, true);
    }
    fx_tick(fx, t + MIN);
}

/* Cut after the open call, just before the call that warns, between the warning and the order
 * (B needs the open call, the counts, the seen call ids so call 16 again counts nothing, the
 * samples s-15 and s-16, and that the warning fired) and after the order (B fires nothing). */
static void test_checkpoint_outbound_round_trip(void **unused)
{
    (void)unused;
    static const int splits[] = {1, 9, 17, 20};
    for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
        struct cp_run r = {.step = cp_step_outbound, .split = splits[k]};
        r.b_wm = T0 + (splits[k] - 1) * 2 * MIN + MIN;
        cp_run_split(&r, 22);
        assert_int_equal(cp_assert_same(r.a, r.b, r.c, CP_ACC), 3); /* warning, order, alert */
        assert_int_equal(fx_count_rule(r.c, VIGIL_OUT_ORDER, 0, "premium.outbound"), 1);
        if (splits[k] == 17) {
            const struct fx_rec *o = fx_find_kind(r.b, VIGIL_OUT_ORDER, 0);
            assert_non_null(o);
            struct fx_json d;
            fx_json_parse(&d, o->json);
            assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 38 * MIN);
            static const char *const samples[] = {"s-15", "s-16", "s-17", "s-18", "s-19"};
            fx_json_assert_strings(&d, fx_json_get(&d, 0, "evidence"), "sample_event_ids", samples,
                                   5);
            assert_int_equal(fx_latest(r.b, CP_ACC, "premium_calls_1h"),
                             fx_latest(r.c, CP_ACC, "premium_calls_1h"));
            assert_int_equal(fx_latest(r.b, CP_ACC, "premium_minutes_1h"),
                             fx_latest(r.c, CP_ACC, "premium_minutes_1h"));
        }
        cp_run_done(&r);
    }
}

/* Step k of the pumping pattern (test_inbound_pumping_withholds_payout): 120 short calls from
 * 40 callers to SERVICE, 25 s apart, with a tick at each; step 60 delivers call 59's start
 * again. */
static void cp_step_pumping(struct fx *fx, int k)
{
    int64_t t = T0 + k * 25000;
    int caller = k < 40 ? k : (k * 7) % 40;
    in_start(fx, CP_ACC, k, t, caller, SERVICE);
    in_end(fx, CP_ACC, k, t + 20000, caller, SERVICE, 20);
    if (k == 60)
        in_start(fx, CP_ACC, 59, T0 + 59 * 25000, (59 * 7) % 40, SERVICE);
    fx_tick(fx, t);
}

/* Cut before the warning (call 33), between it and the order (call 99), and just before the
 * order: B needs the calls, the caller set (no caller after call 39 is new), the seen call ids
 * (call 59 again counts nothing) and the fired flags. */
static void test_checkpoint_pumping_round_trip(void **unused)
{
    (void)unused;
    static const int splits[] = {20, 60, 99};
    for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
        struct cp_run r = {.step = cp_step_pumping, .split = splits[k]};
        r.b_wm = T0 + (splits[k] - 1) * 25000;
        cp_run_split(&r, 120);
        assert_int_equal(cp_assert_same(r.a, r.b, r.c, CP_ACC), 3);
        assert_int_equal(fx_count_rule(r.b, VIGIL_OUT_ORDER, 0, "premium.inbound_pumping"), 1);
        const struct fx_rec *o = fx_find_kind(r.b, VIGIL_OUT_ORDER, 0);
        assert_int_equal(o->action, VIGIL_ACT_WITHHOLD_PAYOUT);
        struct fx_json d;
        fx_json_parse(&d, o->json);
        assert_int_equal(evidence_int(&d, "inbound_calls_1h"), 100);
        assert_int_equal(evidence_int(&d, "inbound_callers_1h"), 40);
        assert_int_equal(fx_latest(r.b, CP_ACC, "inbound_calls_1h"), 120);
        assert_int_equal(fx_latest(r.b, CP_ACC, "inbound_callers_1h"), 40);
        cp_run_done(&r);
    }
}

/* Step m of one 0906 call open from T0 + 5 s: a tick at every minute T0 + m min up to 60,
 * then at T0 + 60 min 10 s (just past the 60-minute mark, in the minute already swept), then
 * at every minute again. Only ticks: the warning (30 min) and order (60 min) come from the
 * watermark. */
static void cp_step_open_call(struct fx *fx, int m)
{
    if (m == 0)
        fx_feed_call(fx, "call_start", "out", CP_ACC, "l-1", "long", T0 + 5000, "+31201234567",
                     "+319061234567", "");
    if (m <= 60)
        fx_tick(fx, T0 + m * MIN);
    else if (m == 61)
        fx_tick(fx, T0 + 60 * MIN + 10000);
    else
        fx_tick(fx, T0 + (m - 1) * MIN);
}

/* Cut before the warning, between warning and order, and just before the tick at 60 min 10 s
 * that fires the order: B had swept that minute for its own account before the load, so only
 * the loaded account's timer (its due in the state-wide next_due) makes that tick sweep again
 * and fire the order, dated at the 60-minute mark as in C. */
static void test_checkpoint_open_call_fires_from_tick(void **unused)
{
    (void)unused;
    static const int splits[] = {1, 20, 45, 61};
    for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
        struct cp_run r = {.step = cp_step_open_call, .split = splits[k]};
        r.b_wm = T0 + (splits[k] - 1) * MIN;
        cp_run_split(&r, 62); /* up to the tick at 60 min 10 s */
        assert_int_equal(fx_count_rule(r.c, VIGIL_OUT_ORDER, 0, "premium.outbound"), 1);
        assert_int_equal(fx_count_rule(r.b, VIGIL_OUT_ORDER, 0, "premium.outbound"), 1);
        struct fx_json d;
        fx_json_parse(&d, fx_find_kind(r.b, VIGIL_OUT_ORDER, 0)->json);
        assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 5000 + 60 * MIN);
        assert_int_equal(evidence_int(&d, "open_premium_calls"), 1);
        for (int m = 62; m < 70; m++) {
            cp_step_open_call(r.b, m);
            cp_step_open_call(r.c, m);
        }
        assert_int_equal(cp_assert_same(r.a, r.b, r.c, CP_ACC), 3);
        assert_int_equal(fx_latest(r.b, CP_ACC, "premium_minutes_1h"), 60);
        cp_run_done(&r);
    }
}

/* The profile comes from the loading state's profiles: an account saved as `default` and
 * loaded where it is a business with premium.out_calls_1h@business = 40 is judged as one. */
static void test_checkpoint_profile_from_loader(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"profiles.business", CP_ACC, "premium.out_calls_1h@business",
                                       "40", NULL};
    struct fx *a = new_fx(NULL), *b = new_fx(sets);
    for (int i = 1; i <= 15; i++) {
        out_start(a, CP_ACC, i, T0 + i * MIN);
        out_end(a, CP_ACC, i, T0 + i * MIN + 1000, 1, true);
    }
    assert_int_equal(fx_count_rule(a, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, "premium.outbound"), 1);
    struct vigil_bytes saved = {0};
    cp_save(a, CP_ACC, &saved);
    assert_int_equal(b->ops->load(b->st, CP_ACC, saved.p, saved.len), 0);
    for (int i = 16; i <= 30; i++) {
        out_start(b, CP_ACC, i, T0 + i * MIN);
        out_end(b, CP_ACC, i, T0 + i * MIN + 1000, 1, true);
    }
    assert_int_equal(fx_count_kind(b, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(b, VIGIL_OUT_ALERT, 0), 0); /* the warning stays fired */
    vigil_bytes_fini(&saved);
    fx_destroy(a);
    fx_destroy(b);
}

/* An account the detector holds nothing for saves nothing, and save appends to what the
 * buffer already holds without changing the state. */
static void test_checkpoint_unknown_account_saves_nothing(void **state)
{
    struct fx *fx = *state;
    struct vigil_bytes b = {0}, alone = {0};
    cp_save(fx, "acc-none", &b);
    assert_int_equal(b.len, 0);
    /* Traffic the detector ignores: a call to an ordinary number. */
    fx_feed_call(fx, "call_start", "out", "acc-plain", "p-1", "pc-1", T0, "+31201234567",
                 "+31207654321", "");
    cp_save(fx, "acc-plain", &b);
    assert_int_equal(b.len, 0);

    out_start(fx, "acc-x", 1, T0);
    assert_int_equal(vigil_bytes_put(&b, "xyz", 3), 0);
    cp_save(fx, "acc-none", &b);
    assert_int_equal(b.len, 3);
    cp_save(fx, "acc-x", &b);
    cp_save(fx, "acc-x", &alone);
    assert_int_equal(b.len, 3 + alone.len);
    assert_memory_equal(b.p, "xyz", 3);
    assert_memory_equal(b.p + 3, alone.p, alone.len);
    assert_int_equal(alone.p[0], 5); /* the version byte */
    vigil_bytes_fini(&b);
    vigil_bytes_fini(&alone);
}

/* Asserts that loading data[0..len) into `account` is refused. */
static void cp_refused(struct fx *fx, const char *account, const void *data, size_t len)
{
    assert_int_equal(fx->ops->load(fx->st, account, data, len), VIGIL_ERR_INVALID);
}

/* Truncated, extended, wrong-version and garbage bytes are refused, into a held account and
 * a new one, and change nothing: the same bytes save, nothing comes out, and the held
 * account's open call still fires its order. */
/* A premium call of more than eight days (the longest span a checkpoint holds) saves and
 * loads like any other: the account's state survives a restart. */
static void test_checkpoint_very_long_call(void **state)
{
    struct fx *fx = *state;
    static const int durations[] = {691200, 691201, 31622400};
    for (int k = 0; k < 3; k++) {
        char acc[32];
        snprintf(acc, sizeof acc, "acc-long-%d", k);
        out_end(fx, acc, 700 + k, T0 + k * 1000, durations[k], true);
        struct vigil_bytes b = {0};
        cp_save(fx, acc, &b);
        assert_true(b.len > 0);
        assert_int_equal(fx->ops->load(fx->st, acc, b.p, b.len), 0);
        vigil_bytes_fini(&b);
    }
}

static void test_checkpoint_bad_bytes_refused(void **state)
{
    struct fx *fx = *state;
    fx_feed_call(fx, "call_start", "out", "acc-x", "l-1", "long", T0 + 5000, "+31201234567",
                 "+319061234567", "");
    fx_tick(fx, T0);
    struct vigil_bytes good = {0}, after = {0}, none = {0};
    cp_save(fx, "acc-x", &good);
    size_t n = good.len, recs = fx->cap.n;
    unsigned char *bad = malloc(n + 1);
    assert_non_null(bad);

    const char *const accounts[] = {"acc-x", "acc-new"};
    for (int k = 0; k < 2; k++) {
        const char *acc = accounts[k];
        cp_refused(fx, acc, good.p, 0);
        cp_refused(fx, acc, good.p, 1);
        cp_refused(fx, acc, good.p, n - 1);
        memcpy(bad, good.p, n);
        bad[n] = 0;
        cp_refused(fx, acc, bad, n + 1);
        bad[0] = 6; /* a version this build does not know */
        cp_refused(fx, acc, bad, n);
        bad[0] = 0;
        cp_refused(fx, acc, bad, n);
        memset(bad, 0xff, n);
        cp_refused(fx, acc, bad, n);
        memset(bad, 0, n);
        bad[0] = 5; /* the right version over zeros: times before 2000 */
        cp_refused(fx, acc, bad, n);
        uint64_t rng = 7;
        for (size_t i = 1; i < n; i++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            bad[i] = (unsigned char)(rng >> 56);
        }
        cp_refused(fx, acc, bad, n);
    }
    cp_refused(fx, "", good.p, n); /* no account id */

    cp_save(fx, "acc-x", &after);
    assert_int_equal(after.len, n);
    assert_memory_equal(after.p, good.p, n);
    cp_save(fx, "acc-new", &none);
    assert_int_equal(none.len, 0);
    assert_int_equal(fx->cap.n, recs);
    for (int m = 1; m <= 61; m++)
        fx_tick(fx, T0 + m * MIN);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ORDER, 0, "premium.outbound"), 1);
    assert_int_equal(fx_latest(fx, "acc-new", "premium_calls_1h"), -1);
    free(bad);
    vigil_bytes_fini(&good);
    vigil_bytes_fini(&after);
    vigil_bytes_fini(&none);
}

/* Loading over an account the detector already holds replaces it whole. */
static void test_checkpoint_load_replaces(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 5; i++) {
        out_start(fx, "acc-a", i, T0 + i * MIN);
        out_end(fx, "acc-a", i, T0 + i * MIN + 1000, 1, true);
    }
    for (int i = 1; i <= 9; i++) {
        out_start(fx, "acc-b", i, T0 + i * MIN);
        out_end(fx, "acc-b", i, T0 + i * MIN + 1000, 1, true);
    }
    struct vigil_bytes a = {0}, b = {0};
    cp_save(fx, "acc-a", &a);
    assert_int_equal(fx->ops->load(fx->st, "acc-b", a.p, a.len), 0);
    cp_save(fx, "acc-b", &b);
    assert_int_equal(b.len, a.len);
    assert_memory_equal(b.p, a.p, a.len);
    fx_tick(fx, T0 + 10 * MIN);
    assert_int_equal(fx_latest(fx, "acc-b", "premium_calls_1h"), 5);
    /* One more call: 6 calls, not the 10 that would warn. */
    out_start(fx, "acc-b", 10, T0 + 10 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    vigil_bytes_fini(&a);
    vigil_bytes_fini(&b);
}

/* One long call of `account` open from T0 + 5 s: warning at 30 min, order at 60. */
static void cp_long_call(struct fx *fx, const char *account)
{
    fx_feed_call(fx, "call_start", "out", account, "l-1", "long", T0 + 5000, "+31201234567",
                 "+319061234567", "");
}

/* forget drops the account, its counters and its timers; entry numbers of the accounts
 * changed since the last tick stay right whichever entry goes (the first, one not listed
 * while the moved last one is, the last one), so ticks publish the right accounts and never
 * read past the table; other accounts fire exactly as in a state that never held it. */
static void test_checkpoint_forget(void **state)
{
    struct fx *fx = *state;
    struct fx *ref = new_fx(NULL);
    cp_long_call(fx, "acc-f");
    cp_long_call(fx, "acc-g");
    cp_long_call(ref, "acc-g");
    for (int i = 1; i <= 3; i++) {
        out_start(fx, "acc-h", i, T0 + i * 1000);
        out_start(ref, "acc-h", i, T0 + i * 1000);
    }
    /* Entries f, g, h, all listed: f goes and h moves into its place. */
    fx->ops->forget(fx->st, "acc-f");
    fx->ops->forget(fx->st, "acc-f"); /* not held: nothing */
    fx->ops->forget(fx->st, "acc-none");
    struct vigil_bytes b = {0};
    cp_save(fx, "acc-f", &b);
    assert_int_equal(b.len, 0);
    fx_tick(fx, T0 + MIN);
    fx_tick(ref, T0 + MIN);
    assert_int_equal(fx_latest(fx, "acc-f", "premium_calls_1h"), -1);
    assert_int_equal(fx_latest(fx, "acc-g", "premium_calls_1h"), 1);
    assert_int_equal(fx_latest(fx, "acc-h", "premium_calls_1h"), 3);

    /* Entries h, g, k; g and k listed. k goes, the last entry and listed; then h, not
     * listed, while g, listed as the last entry, moves into its place. */
    cp_long_call(fx, "acc-k");
    out_start(fx, "acc-g", 1, T0 + 2 * MIN);
    out_start(ref, "acc-g", 1, T0 + 2 * MIN);
    fx->ops->forget(fx->st, "acc-k");
    fx->ops->forget(fx->st, "acc-h");
    fx_tick(fx, T0 + 2 * MIN);
    fx_tick(ref, T0 + 2 * MIN);
    assert_int_equal(fx_latest(fx, "acc-g", "premium_calls_1h"), 2);
    assert_int_equal(fx_latest(fx, "acc-h", "premium_calls_1h"), 3); /* as before forget */
    assert_int_equal(fx_latest(fx, "acc-k", "premium_calls_1h"), -1);

    /* Timers: g's warning and order come as in ref; f's and k's never do. */
    for (int m = 4; m <= 70; m++) {
        fx_tick(fx, T0 + m * MIN);
        fx_tick(ref, T0 + m * MIN);
    }
    const struct fx_rec *got[CP_FINDINGS_MAX], *want[CP_FINDINGS_MAX];
    size_t n_got = 0, n_want = 0;
    cp_findings(fx, "acc-g", got, &n_got);
    cp_findings(ref, "acc-g", want, &n_want);
    assert_int_equal(n_got, 3);
    assert_int_equal(n_got, n_want);
    for (size_t i = 0; i < n_got; i++)
        assert_string_equal(got[i]->json, want[i]->json);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 2);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);

    /* A later event starts the account afresh. */
    out_start(fx, "acc-f", 1, T0 + 70 * MIN);
    fx_tick(fx, T0 + 70 * MIN);
    assert_int_equal(fx_latest(fx, "acc-f", "premium_calls_1h"), 1);
    assert_int_equal(fx_latest(fx, "acc-f", "premium_minutes_1h"), 0);
    vigil_bytes_fini(&b);
    fx_destroy(ref);
}

/* The flagged marks travel with the checkpoint: A sees the first flagged caller (warning), B
 * loads A's bytes and orders at the second, counting both; states of the versions before
 * (minute times, another layout) are refused. */
static void test_checkpoint_flagged_callers(void **unused)
{
    (void)unused;
    struct fx *a = new_fx(NULL), *b = new_fx(NULL);
    flag_caller(a, 9001, T0 + DAY);
    flag_caller(b, 9002, T0 + DAY);
    in_call(a, CP_ACC, 1, T0, 1, SERVICE);
    in_call(a, CP_ACC, 2, T0 + MIN, 9001, SERVICE);
    assert_int_equal(fx_count_rule(a, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, FLAG_RULE), 1);
    struct vigil_bytes saved = {0};
    cp_save(a, CP_ACC, &saved);
    assert_int_equal(saved.p[0], 5);
    assert_int_equal(b->ops->load(b->st, CP_ACC, saved.p, saved.len), 0);
    /* 9001 is not flagged in B's set, but its mark from A counts for the hour. */
    in_call(b, CP_ACC, 3, T0 + 2 * MIN, 9002, SERVICE);
    assert_int_equal(fx_count_kind(b, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING), 0); /* fired in A */
    assert_int_equal(fx_count_rule(b, VIGIL_OUT_ORDER, 0, FLAG_RULE), 1);
    struct fx_json d;
    fx_json_parse(&d, fx_find_kind(b, VIGIL_OUT_ORDER, 0)->json);
    assert_int_equal(evidence_int(&d, "flagged_callers_1h"), 2);
    vigil_bytes_fini(&saved);

    /* Versions 1 and 2 had minute times, 3 and 4 the struct as it lay in memory: refused. */
    struct fx *c = new_fx(NULL), *e = new_fx(NULL);
    in_call(c, CP_ACC, 1, T0, 1, SERVICE);
    cp_save(c, CP_ACC, &saved);
    for (uint8_t v = 1; v <= 4; v++) {
        saved.p[0] = v;
        assert_int_equal(e->ops->load(e->st, CP_ACC, saved.p, saved.len), VIGIL_ERR_INVALID);
    }
    vigil_bytes_fini(&saved);
    fx_destroy(a);
    fx_destroy(b);
    fx_destroy(c);
    fx_destroy(e);
}

/* --- exact at the threshold ---------------------------------------------------------------- */

#define OUT_RULE "premium.outbound"
#define PUMP_RULE "premium.inbound_pumping"

static const struct fx_rec *order_of(const struct fx *fx, const char *account)
{
    for (size_t i = 0;;) {
        const struct fx_rec *r = fx_next_finding(fx, &i);
        if (!r)
            return NULL;
        if (r->kind == VIGIL_OUT_ORDER && strcmp(r->account, account) == 0)
            return r;
    }
}

static void assert_order_at(const struct fx *fx, const char *account, const char *rule, int64_t ts)
{
    const struct fx_rec *o = order_of(fx, account);
    assert_non_null(o);
    assert_true(fx_rec_rule_is(o, rule));
    struct fx_json d;
    fx_json_parse(&d, o->json);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), ts);
}

/* Exactly at the threshold, exactly within the hour (the first and the completing event an
 * hour apart): 20 outbound premium attempts; 100 inbound calls from 30 callers; two flagged
 * callers. Each is ordered at its completing event. */
static void test_edge_premium_exact(void **state)
{
    struct fx *fx = *state;
    vigil_flagged_advance(fx->flagged, T0);
    flag_caller(fx, 9001, T0 + DAY);
    flag_caller(fx, 9002, T0 + DAY);
    for (int i = 0; i < 20; i++)
        out_end(fx, "acc-o20", i, i == 19 ? T0 + 60 * MIN : T0 + i * 3 * MIN, 0, false);
    assert_order_at(fx, "acc-o20", OUT_RULE, T0 + 60 * MIN);
    for (int k = 0; k < 100; k++)
        in_start(fx, "acc-p100", k, k == 99 ? T0 + 60 * MIN : T0 + k * 36000, k % 30, SERVICE);
    assert_order_at(fx, "acc-p100", PUMP_RULE, T0 + 60 * MIN);
    in_start(fx, "acc-f2", 1, T0, 9001, SERVICE);
    in_start(fx, "acc-f2", 2, T0 + 60 * MIN, 9002, SERVICE);
    assert_order_at(fx, "acc-f2", FLAG_RULE, T0 + 60 * MIN);
}

/* The same stretched by one second, and one short in every hour for three hours: never an
 * order or critical alert. Minutes: 35 + 25 minutes, the first call having begun a second
 * before the hour that ends with the second (59 min 59 s inside). */
static void test_edge_premium_stretched_never(void **state)
{
    struct fx *fx = *state;
    vigil_flagged_advance(fx->flagged, T0);
    flag_caller(fx, 9001, T0 + DAY);
    flag_caller(fx, 9002, T0 + DAY);
    for (int i = 0; i < 20; i++)
        out_end(fx, "acc-o20s", i, i == 19 ? T0 + 60 * MIN + 1000 : T0 + i * 3 * MIN, 0, false);
    for (int i = 0; i < 3 * 18; i++) /* 19 in every closed hour */
        out_end(fx, "acc-o19", i, T0 + (int64_t)i * 200000, 0, false);
    out_end(fx, "acc-m60s", 1, T0 + 35 * MIN - 1000, 35 * 60, true);
    out_end(fx, "acc-m60s", 2, T0 + 60 * MIN, 25 * 60, true);
    for (int k = 0; k < 100; k++)
        in_start(fx, "acc-p100s", k, k == 99 ? T0 + 60 * MIN + 1000 : T0 + k * 36000, k % 30,
                 SERVICE);
    for (int k = 0; k < 3 * 98; k++) /* 99 calls from 30 callers in every hour */
        in_start(fx, "acc-p99", k, T0 + (int64_t)k * (60 * MIN / 98 + 1), k % 30, SERVICE);
    for (int k = 0; k < 100; k++) /* 100 calls an hour from 29 callers */
        in_start(fx, "acc-p29", k, T0 + k * 36000, k % 29, SERVICE);
    in_start(fx, "acc-f2s", 1, T0, 9001, SERVICE);
    in_start(fx, "acc-f2s", 2, T0 + 60 * MIN + 1000, 9002, SERVICE);
    fx_tick(fx, T0 + 4 * 60 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 0);
}

/* premium.outbound's minutes over forty closed calls, more than the PM_SPANS kept in the
 * account's array, the hour starting mid-minute (S = T0 + 30 s) inside the first call: call 0
 * runs [S - 30 s, S + 90 s], calls 1-39 90 s each back to back up to S + 1 h: exactly 60
 * minutes in [S, S + 1 h], blocked at the last end. The same with a second's gap between
 * calls 20 and 21 (59:59 in the hour ending at the last end), or 90-second calls every 91 s
 * for five hours, never. (Calls set to 100, so minutes decide.) */
static void test_edge_outbound_minutes_many_calls(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"premium.out_calls_1h", "100",
                                       "premium.out_calls_1h_warning", "0", NULL};
    struct fx *fx = new_fx(sets);
    const int64_t S = T0 + 30000;
    static const char *const acc[] = {"acc-m60", "acc-m59"};
    for (int a = 0; a < 2; a++) {
        out_end(fx, acc[a], 0, S + 90000, 120, true);
        for (int k = 1; k <= 39; k++) {
            int64_t end = S + 90000 + (int64_t)k * 90000 + (a == 1 && k > 20 ? 1000 : 0);
            out_end(fx, acc[a], k, end, 90, true);
            if (a == 0 && k == 38)
                assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
        }
    }
    for (int k = 1; k <= 5 * 40; k++)
        out_end(fx, "acc-m91", k, S + (int64_t)k * 91000, 90, true);
    fx_tick(fx, S + 6 * HOUR);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, OUT_RULE);
    assert_non_null(o);
    assert_string_equal(o->account, "acc-m60");
    struct fx_json d;
    fx_json_parse(&d, o->json);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), S + HOUR);
    fx_destroy(fx);
}

/* service_popular's shipped level, 1000 calls (from 30 callers), far above the PM_IN_EXACT
 * times a number keeps: 1000 calls whose first and last are exactly an hour apart withhold at
 * the 1000th, dated by it, with 1000 as evidence (the number's kept times grew on demand). */
static void test_edge_pumping_popular_exact(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"profiles.service_popular", "acc-pop", NULL};
    struct fx *fx = new_fx(sets);
    for (int i = 0; i < 1000; i++) {
        int64_t t = T0 + (int64_t)i * HOUR / 999;
        in_start(fx, "acc-pop", i, t, i % 30, SERVICE);
        if (i == 998)
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, PUMP_RULE);
    assert_non_null(o);
    struct fx_json d;
    fx_json_parse(&d, o->json);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + HOUR);
    assert_int_equal(evidence_int(&d, "inbound_calls_1h"), 1000);
    assert_int_equal(evidence_int(&d, "inbound_callers_1h"), 30);
    fx_destroy(fx);
}

/* The same 1000 stretched by one second (first and last an hour and a second apart), and 999
 * in every closed hour for four hours (one call every 3604 ms): never withheld, though minute
 * buckets of 60 to 61 minutes would have seen 1000 and more. */
static void test_edge_pumping_popular_never(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"profiles.service_popular", "acc-pop acc-pop999", NULL};
    struct fx *fx = new_fx(sets);
    for (int i = 0; i < 1000; i++)
        in_start(fx, "acc-pop", i, T0 + (int64_t)i * (HOUR + 1000) / 999, i % 30, SERVICE);
    for (int i = 0; i < 4 * 999; i++)
        in_start(fx, "acc-pop999", i, T0 + (int64_t)i * 3604, i % 30, SERVICE);
    fx_tick(fx, T0 + 5 * HOUR);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, PUMP_RULE), 0);
    /* Both were near it: the warning (a third) came. */
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, PUMP_RULE), 2);
    fx_destroy(fx);
}

/* premium.out_calls_1h set to 50, above the PM_OUT_EXACT times kept: 50 calls in exactly an
 * hour block at the 50th; 50 stretched by a second never. */
static void test_edge_outbound_level_above_kept(void **unused)
{
    (void)unused;
    /* Minutes set aside: the open calls would reach them first. */
    static const char *const sets[] = {"premium.out_calls_1h",
                                       "50",
                                       "premium.out_minutes_1h",
                                       "100000",
                                       "premium.out_minutes_1h_warning",
                                       "0",
                                       NULL};
    struct fx *fx = new_fx(sets);
    char id[32];
    for (int i = 0; i < 50; i++) {
        snprintf(id, sizeof id, "o-%d", i);
        fx_feed_call(fx, "call_start", "out", "acc-o50", id, id, T0 + (int64_t)i * HOUR / 49,
                     "+31201234567", "+319061234567", "");
        snprintf(id, sizeof id, "s-%d", i);
        fx_feed_call(fx, "call_start", "out", "acc-o49", id, id,
                     T0 + (int64_t)i * (HOUR + 1000) / 49, "+31201234568", "+319061234567", "");
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, OUT_RULE);
    assert_non_null(o);
    assert_string_equal(o->account, "acc-o50");
    struct fx_json d;
    fx_json_parse(&d, o->json);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + HOUR);
    fx_destroy(fx);
}

/* events.md allows 60 s of disorder: the 100th call to the service number, 50 s older than
 * the 99th, completes the hour ending at the 99th: withheld at the late call. */
static void test_edge_pumping_late_call(void **state)
{
    struct fx *fx = *state;
    int64_t last = T0 + 59 * MIN + 30000;
    for (int k = 0; k < 99; k++)
        in_start(fx, "acc-plate", k, T0 + (int64_t)k * (last - T0) / 98, k % 30, SERVICE);
    assert_null(order_of(fx, "acc-plate"));
    in_start(fx, "acc-plate", 99, last - 50000, 7, SERVICE);
    assert_order_at(fx, "acc-plate", PUMP_RULE, last - 50000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outbound_twenty_calls_block, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_outbound_open_call_minutes, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_outbound_closed_minutes, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_edge_premium_exact, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_edge_premium_stretched_never, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_edge_pumping_late_call, setup, fx_teardown),
        cmocka_unit_test(test_edge_pumping_popular_exact),
        cmocka_unit_test(test_edge_pumping_popular_never),
        cmocka_unit_test(test_edge_outbound_level_above_kept),
        cmocka_unit_test(test_edge_outbound_minutes_many_calls),
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
        cmocka_unit_test(test_service_popular_default_is_per_profile),
        cmocka_unit_test_setup_teardown(test_flagged_callers_withhold_payout, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flagged_callers_left_alone, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flagged_during_call, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flagged_caller_expires, setup, fx_teardown),
        cmocka_unit_test(test_flagged_callers_config),
        cmocka_unit_test(test_checkpoint_outbound_round_trip),
        cmocka_unit_test(test_checkpoint_pumping_round_trip),
        cmocka_unit_test(test_checkpoint_open_call_fires_from_tick),
        cmocka_unit_test(test_checkpoint_profile_from_loader),
        cmocka_unit_test_setup_teardown(test_checkpoint_unknown_account_saves_nothing, setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_very_long_call, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_bad_bytes_refused, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_load_replaces, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_forget, setup, fx_teardown),
        cmocka_unit_test(test_checkpoint_flagged_callers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

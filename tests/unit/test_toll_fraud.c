/* SPDX-License-Identifier: Apache-2.0 */
/* test_toll_fraud.c - the toll_fraud detector through its vtable: events parsed from the
 * wire format, the real config, number plan and emit layer, and a sink that records every
 * order, alert and counter set. Rules: concurrent_high_risk, velocity_high_risk, spend_1h,
 * sequential_dialling, slow_high_risk, their night levels and per-profile levels, and the
 * detection.md cases toll_fraud must leave alone. */
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

/* Monday 2026-11-23 11:10 Amsterdam: 10 minutes into an hour of office time, near events.md's
 * example time. Office time keeps the day levels in force (night and weekend ones are lower). */
#define T0 1795428600000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define CUBA "+535123456" /* start_n(.., i, .., CUBA) dials +535123456<i>000 */
#define MAX_RECS 512

/* --- fixture (tests/unit/detector_fixture.h) ----------------------------------------------------
 */

static struct fx *new_fx(const char *const *sets)
{
    return fx_create("toll_fraud", sets, MAX_RECS, T0 + DAY);
}

static int setup(void **state)
{
    *state = new_fx(NULL);
    return 0;
}

/* --- feeding events ----------------------------------------------------------------------- */

static void call_start(struct fx *fx, const char *account, const char *id, const char *call_id,
                       int64_t ts, const char *to)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_start\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
             "\"call_id\":\"%s\",\"from\":\"+31201234567\",\"to\":\"%s\",\"dir\":\"out\","
             "\"device\":\"pbx/trunk1\",\"src_ip\":\"203.0.113.5\"}",
             id, (long long)ts, account, call_id, to);
    fx_feed_json(fx, account, json);
}

static void call_end(struct fx *fx, const char *account, const char *id, const char *call_id,
                     int64_t ts, const char *to, int duration)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_end\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
             "\"call_id\":\"%s\",\"from\":\"+31201234567\",\"to\":\"%s\",\"dir\":\"out\","
             "\"duration\":%d}",
             id, (long long)ts, account, call_id, to, duration);
    fx_feed_json(fx, account, json);
}

/* Call i of a series: event id "s-<i>", call id "c-<i>", to <prefix><i>000. Each call of a
 * series goes to a number block of its own (the digits before the last 3 differ), so a
 * series is not a range scan; scan tests dial their numbers themselves. */
static void start_n(struct fx *fx, const char *account, int i, int64_t ts, const char *prefix)
{
    char id[32], cid[32], to[32];
    snprintf(id, sizeof id, "s-%d", i);
    snprintf(cid, sizeof cid, "c-%d", i);
    snprintf(to, sizeof to, "%s%d000", prefix, i);
    call_start(fx, account, id, cid, ts, to);
}

static void end_n(struct fx *fx, const char *account, int i, int64_t ts, const char *prefix,
                  int duration)
{
    char id[32], cid[32], to[32];
    snprintf(id, sizeof id, "x-%d", i);
    snprintf(cid, sizeof cid, "c-%d", i);
    snprintf(to, sizeof to, "%s%d000", prefix, i);
    call_end(fx, account, id, cid, ts, to, duration);
}

#define CONC "toll_fraud.concurrent_high_risk"

/* --- tests -------------------------------------------------------------------------------- */

/* Eight parallel calls to Cuba: a warning at the 5th, one order and its critical alert at
 * the 8th, nothing more for the 9th and 10th. */
static void test_eight_parallel_calls_block(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 7; i++)
        start_n(fx, "acc-1042", i, T0 + i * 1000, CUBA);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 0);

    start_n(fx, "acc-1042", 8, T0 + 8000, CUBA);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 1);

    const struct fx_rec *o = fx_find_kind(fx, VIGIL_OUT_ORDER, 0);
    assert_int_equal(o->action, VIGIL_ACT_BLOCK_INTERNATIONAL);
    assert_string_equal(o->account, "acc-1042");
    assert_string_equal(o->detector, "toll_fraud");
    assert_int_equal(o->severity, VIGIL_SEV_CRITICAL);

    struct fx_json d;
    fx_json_parse(&d, o->json);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "v")), 1);
    fx_json_assert_str(&d, 0, "order_id", o->id);
    fx_json_assert_str(&d, 0, "account", "acc-1042");
    fx_json_assert_str(&d, 0, "action", "block_international");
    fx_json_assert_str(&d, 0, "detector", "toll_fraud");
    fx_json_assert_str(&d, 0, "rule", "toll_fraud.concurrent_high_risk");
    fx_json_assert_str(&d, 0, "severity", "critical");
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 8000);
    assert_true(fx_json_array_has(&d, 0, "exempt", "112"));
    int ev = fx_json_get(&d, 0, "evidence");
    assert_true(ev > 0);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, ev, "open_high_risk_calls")), 8);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, ev, "threshold")), 8);
    static const char *const samples[] = {"s-4", "s-5", "s-6", "s-7", "s-8"};
    fx_json_assert_strings(&d, ev, "sample_event_ids", samples, 5);
    int reason = fx_json_get(&d, 0, "reason");
    assert_non_null(strstr(d.js + d.t[reason].start,
                           "8 simultaneous outbound calls to high-risk destinations "
                           "(threshold 8): likely hacked PBX or stolen credentials"));

    /* The critical alert that comes with it. */
    const struct fx_rec *a = fx_find_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL);
    struct fx_json da;
    fx_json_parse(&da, a->json);
    fx_json_assert_str(&da, 0, "severity", "critical");
    fx_json_assert_str(&da, 0, "rule", "toll_fraud.concurrent_high_risk");
    assert_int_equal(fx_json_int(&da, fx_json_get(&da, 0, "event_ts")), T0 + 8000);

    /* The 10th call within 15 minutes raises the velocity rule's warning; the concurrency
     * rule adds nothing. */
    size_t before = fx_count_rule(fx, VIGIL_OUT_ALERT, 0, CONC);
    start_n(fx, "acc-1042", 9, T0 + 9000, CUBA);
    start_n(fx, "acc-1042", 10, T0 + 10000, CUBA);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, 0, CONC), before);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);

    fx_tick(fx, T0 + 10000);
    const struct fx_rec *c = fx_last_counters(fx, "acc-1042");
    assert_int_equal(fx_counter(c, "open_high_risk"), 10);
    assert_int_equal(fx_counter(c, "high_risk_calls_1h"), 10);
    assert_int_equal(fx_counter(c, "calls_out_1h"), 10);
    assert_int_equal(c->ttl_s, 172800);
}

static void test_seven_parallel_calls_warn_only(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 7; i++)
        start_n(fx, "acc-7", i, T0 + i * 1000, "+8816310000");
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    const struct fx_rec *w = fx_find_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING);
    assert_non_null(w);
    struct fx_json d;
    fx_json_parse(&d, w->json);
    fx_json_assert_str(&d, 0, "severity", "warning");
    fx_json_assert_str(&d, 0, "rule", "toll_fraud.concurrent_high_risk");
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 5000);
    assert_true(fx_json_get(&d, 0, "action") < 0);
    assert_true(fx_json_get(&d, 0, "exempt") < 0);
    int ev = fx_json_get(&d, 0, "evidence");
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, ev, "open_high_risk_calls")), 5);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, ev, "threshold")), 5);
}

/* detection.md: a call centre with 25 simultaneous calls to NL, BE, DE, FR, GB. */
static void test_call_centre_left_alone(void **state)
{
    struct fx *fx = *state;
    static const char *const dest[] = {"+3120555", "+3225550", "+4930555", "+3314268", "+4420794"};
    for (int i = 0; i < 25; i++)
        start_n(fx, "acc-callcentre", 100 + i, T0 + i * 100, dest[i % 5]);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    for (int i = 0; i < 25; i++)
        end_n(fx, "acc-callcentre", 100 + i, T0 + 600000 + i * 100, dest[i % 5], 600);
    fx_tick(fx, T0 + 700000);
    const struct fx_rec *c = fx_last_counters(fx, "acc-callcentre");
    assert_int_equal(fx_counter(c, "calls_out_1h"), 25);
    assert_int_equal(fx_counter(c, "high_risk_calls_1h"), 0);
    assert_int_equal(fx_counter(c, "open_high_risk"), 0);
    assert_int_equal(fx_counter(c, "minutes_out_1h"), 250);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
}

/* Calls that end before the next starts never add up, however many there are. */
static void test_sequential_calls_do_not_add_up(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 20; i++) {
        start_n(fx, "acc-seq", i, T0 + i * 60000, CUBA);
        end_n(fx, "acc-seq", i, T0 + i * 60000 + 30000, CUBA, 30);
    }
    /* 16 of them within any 15 minutes: the velocity and slow rules warn, nothing blocks. */
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, 0, CONC), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    fx_tick(fx, T0 + 21 * 60000);
    const struct fx_rec *c = fx_last_counters(fx, "acc-seq");
    assert_int_equal(fx_counter(c, "open_high_risk"), 0);
    assert_int_equal(fx_counter(c, "high_risk_calls_1h"), 20);
    assert_int_equal(fx_counter(c, "minutes_out_1h"), 10);
    /* 20 x 30 s to Cuba at EUR 1.20 per minute: EUR 12. */
    assert_int_equal(fx_counter(c, "spend_eur_cents_1h"), 1200);
}

/* A start delivered twice (at-least-once), or repeated under a new event id, is one call. */
static void test_duplicate_start_counts_once(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 7; i++) {
        start_n(fx, "acc-dup", i, T0 + i * 1000, CUBA);
        start_n(fx, "acc-dup", i, T0 + i * 1000, CUBA);
    }
    call_start(fx, "acc-dup", "other-id", "c-3", T0 + 7500, CUBA "3");
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    fx_tick(fx, T0 + 7500);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-dup"), "open_high_risk"), 7);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-dup"), "high_risk_calls_1h"), 7);
    start_n(fx, "acc-dup", 8, T0 + 8000, CUBA);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
}

/* Ends close their calls; an end without a start changes nothing; 112 never counts. */
static void test_ends_and_emergency(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 7; i++)
        start_n(fx, "acc-end", i, T0 + i * 1000, CUBA);
    end_n(fx, "acc-end", 3, T0 + 8000, CUBA, 5);
    end_n(fx, "acc-end", 99, T0 + 8100, CUBA, 5); /* never started: nothing to close */
    start_n(fx, "acc-end", 8, T0 + 9000, CUBA);   /* 7 open again */
    call_start(fx, "acc-end", "e-112a", "c-112a", T0 + 9100, "112");
    call_start(fx, "acc-end", "e-112b", "c-112b", T0 + 9200, "112");
    call_start(fx, "acc-end", "e-in", "c-in", T0 + 9300, CUBA "0");
    /* Inbound calls from high-risk numbers are not toll fraud. */
    char json[512];
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_start\",\"id\":\"in-1\",\"ts\":%lld,"
             "\"account\":\"acc-end\",\"call_id\":\"in-1\",\"from\":\"+5351234567\","
             "\"to\":\"+31201234567\",\"dir\":\"in\"}",
             (long long)(T0 + 9400));
    fx_feed_json(fx, "acc-end", json);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1); /* "c-in" was the 8th */

    /* Start over on a fresh account: 7 high-risk plus emergency and inbound calls. */
    for (int i = 1; i <= 7; i++)
        start_n(fx, "acc-112", i, T0 + i * 1000, CUBA);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "em-%d", i);
        call_start(fx, "acc-112", id, id, T0 + 8000 + i, "112");
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    fx_tick(fx, T0 + 9000);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-112"), "open_high_risk"), 7);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-112"), "calls_out_1h"), 10);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-end"), "open_high_risk"), 8);
}

/* events.md allows 60 s of disorder: an end that arrives before its start closes the call
 * before it is opened, and the call counts once. */
static void test_end_before_start(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 7; i++)
        start_n(fx, "acc-dis", i, T0 + i * 1000, CUBA);
    end_n(fx, "acc-dis", 20, T0 + 20000, CUBA, 10);
    start_n(fx, "acc-dis", 20, T0 + 10000, CUBA);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    fx_tick(fx, T0 + 20000);
    const struct fx_rec *c = fx_last_counters(fx, "acc-dis");
    assert_int_equal(fx_counter(c, "open_high_risk"), 7);
    assert_int_equal(fx_counter(c, "high_risk_calls_1h"), 8);
    start_n(fx, "acc-dis", 8, T0 + 21000, CUBA);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
}

/* orders.allowlist: the critical alert still goes out (marked), the order does not. */
static void test_allowlisted_account_alert_only(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"orders.allowlist", "acc-trusted acc-other", NULL};
    struct fx *fx = new_fx(sets);
    for (int i = 1; i <= 8; i++)
        start_n(fx, "acc-trusted", i, T0 + i * 1000, "+2521234");
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    const struct fx_rec *a = fx_find_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL);
    assert_non_null(a);
    struct fx_json d;
    fx_json_parse(&d, a->json);
    fx_json_assert_str(&d, 0, "rule", "toll_fraud.concurrent_high_risk");
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 8000);
    int al = fx_json_get(&d, 0, "allowlisted");
    assert_true(al > 0 && fx_json_str_eq(&d, al, "true"));
    void *state = fx;
    fx_teardown(&state);
}

/* A call whose end never comes stops counting after max_open_call_ms of event time. */
static void test_open_calls_expire_on_tick(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 7; i++)
        start_n(fx, "acc-exp", i, T0 + i * 1000, CUBA);
    /* One millisecond before the first call's deadline all seven still count. */
    fx_tick(fx, T0 + 1000 + DAY - 1);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-exp"), "open_high_risk"), 7);
    /* Past every deadline: none left, and that is published. */
    fx_tick(fx, T0 + 7000 + DAY);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-exp"), "open_high_risk"), 0);
    /* Seven calls to Cuba open for a day cost EUR 12,000: the spend rule blocked long ago;
     * the concurrency rule must not count the expired calls. */
    assert_non_null(fx_find_rule(fx, VIGIL_OUT_ORDER, 0, "toll_fraud.spend_1h"));
    start_n(fx, "acc-exp", 8, T0 + 8000 + DAY, CUBA);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, 0, CONC), 1); /* the warning at 5 */
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ORDER, 0, CONC), 0);
    fx_tick(fx, T0 + 8000 + DAY);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-exp"), "open_high_risk"), 1);
}

/* Without a tick the account's own later events expire its stale calls; a shorter
 * configured limit applies. */
static void test_expiry_by_event_time_and_config(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"toll_fraud.max_open_call_ms", "600000", NULL};
    struct fx *fx = new_fx(sets);
    for (int i = 1; i <= 7; i++)
        start_n(fx, "acc-cfg", i, T0 + i * 1000, CUBA);
    start_n(fx, "acc-cfg", 8, T0 + 601000, CUBA); /* call 1 ran out at T0 + 601000 */
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    start_n(fx, "acc-cfg", 9, T0 + 601500, CUBA);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    void *state = fx;
    fx_teardown(&state);
}

static void test_thresholds_from_config(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"toll_fraud.concurrent_high_risk", "3",
                                       "toll_fraud.concurrent_high_risk_warning", "0", NULL};
    struct fx *fx = new_fx(sets);
    for (int i = 1; i <= 3; i++)
        start_n(fx, "acc-3", i, T0 + i * 1000, "+8821600");
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    struct fx_json d;
    fx_json_parse(&d, fx_find_kind(fx, VIGIL_OUT_ORDER, 0)->json);
    int ev = fx_json_get(&d, 0, "evidence");
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, ev, "threshold")), 3);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, ev, "open_high_risk_calls")), 3);
    static const char *const samples[] = {"s-1", "s-2", "s-3"};
    fx_json_assert_strings(&d, ev, "sample_event_ids", samples, 3);
    void *state = fx;
    fx_teardown(&state);
}

/* After the open count falls below the warning level the rule re-arms: a new episode after
 * the alert cool-down warns again. Between the warning level and the block level it stays
 * fired: churning calls of one attack ask the emit layer for nothing new. */
static void test_rearm_after_episode(void **unused)
{
    (void)unused;
    /* The 15 high-risk calls of this test within 24 h would also raise the slow rule's
     * warning; this test is about the concurrency rule alone. */
    static const char *const sets[] = {"toll_fraud.slow_high_risk_calls_warning", "0", NULL};
    struct fx *fx = new_fx(sets);
    for (int i = 1; i <= 5; i++)
        start_n(fx, "acc-re", i, T0 + i * 1000, CUBA);
    start_n(fx, "acc-re", 6, T0 + 6000, CUBA); /* still the same episode */
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING), 1);
    for (int i = 1; i <= 5; i++)
        end_n(fx, "acc-re", i, T0 + 60000 + i, CUBA, 50);
    /* One call (c-6) stays open throughout. */
    int64_t later = T0 + 2 * HOUR;
    for (int i = 11; i <= 14; i++)
        start_n(fx, "acc-re", i, later + i, CUBA);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING), 2);
    for (int i = 15; i <= 17; i++)
        start_n(fx, "acc-re", i, later + i, CUBA);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 1);

    struct vigil_emit_stats before, after;
    vigil_emit_get_stats(fx->out, &before);
    end_n(fx, "acc-re", 11, later + 100, CUBA, 1);
    end_n(fx, "acc-re", 12, later + 101, CUBA, 1);
    start_n(fx, "acc-re", 18, later + 102, CUBA);
    start_n(fx, "acc-re", 19, later + 103, CUBA);
    vigil_emit_get_stats(fx->out, &after);
    assert_memory_equal(&before, &after, sizeof before);
    void *state = fx;
    fx_teardown(&state);
}

/* Past 64 tracked calls an account's calls are counted without their ids; their ends still
 * bring the count back down. */
static void test_untracked_overflow(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 70; i++)
        start_n(fx, "acc-big", i, T0 + i * 10, CUBA);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    fx_tick(fx, T0 + 1000);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-big"), "open_high_risk"), 70);
    for (int i = 1; i <= 70; i++)
        end_n(fx, "acc-big", i, T0 + 60000 + i, CUBA, 60);
    fx_tick(fx, T0 + 70000);
    const struct fx_rec *c = fx_last_counters(fx, "acc-big");
    assert_int_equal(fx_counter(c, "open_high_risk"), 0);
    assert_int_equal(fx_counter(c, "high_risk_calls_1h"), 70);
    assert_int_equal(fx_counter(c, "minutes_out_1h"), 70);
}

/* Counters go out once per tick for accounts that changed; a new hour of event time
 * publishes zeros once and then forgets the account. */
static void test_counters_publish_and_roll(void **state)
{
    struct fx *fx = *state;
    int64_t h0 = (T0 / HOUR) * HOUR;
    call_start(fx, "acc-a", "a1", "ca1", h0 + 1000, "+31201111111");
    call_end(fx, "acc-a", "a2", "ca1", h0 + 91000, "+31201111111", 90);
    char json[512];
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_end\",\"id\":\"a3\",\"ts\":%lld,\"account\":\"acc-a\","
             "\"call_id\":\"ca2\",\"from\":\"+31201234567\",\"to\":\"+5351234567\","
             "\"dir\":\"out\",\"duration\":0,\"answered\":false}",
             (long long)(h0 + 95000));
    fx_feed_json(fx, "acc-a", json);
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_end\",\"id\":\"a4\",\"ts\":%lld,\"account\":\"acc-a\","
             "\"call_id\":\"ca3\",\"from\":\"+31201234567\",\"to\":\"+4420794\","
             "\"dir\":\"out\",\"duration\":120,\"cost\":0.5}",
             (long long)(h0 + 99000));
    fx_feed_json(fx, "acc-a", json);
    fx_tick(fx, h0 + 100000);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), 1);
    const struct fx_rec *c = fx_last_counters(fx, "acc-a");
    assert_string_equal(c->detector, "toll_fraud");
    /* One start, one unanswered attempt; an end whose start was lost (ca3) is not a new
     * call unless it is high-risk. */
    assert_int_equal(fx_counter(c, "calls_out_1h"), 2);
    assert_int_equal(fx_counter(c, "high_risk_calls_1h"), 1);
    assert_int_equal(fx_counter(c, "minutes_out_1h"), 3);
    /* 90 s at EUR 0.02 + the exporter's EUR 0.50 = 53 cents. */
    assert_int_equal(fx_counter(c, "spend_eur_cents_1h"), 53);
    assert_int_equal(fx_counter(c, "open_high_risk"), 0);

    fx_tick(fx, h0 + 200000); /* nothing changed */
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), 1);

    /* Next hour of event time: acc-a (idle) publishes zeros once; acc-b is live. */
    call_start(fx, "acc-b", "b1", "cb1", h0 + HOUR + 5, "+31201111111");
    fx_tick(fx, h0 + HOUR + 10);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), 3);
    c = fx_last_counters(fx, "acc-a");
    assert_int_equal(fx_counter(c, "calls_out_1h"), 0);
    assert_int_equal(fx_counter(c, "minutes_out_1h"), 0);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-b"), "calls_out_1h"), 1);
    fx_tick(fx, h0 + 2 * HOUR + 10);
    fx_tick(fx, h0 + 3 * HOUR + 10);
    /* acc-b zeroed once at the second roll; acc-a gone. */
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), 4);

    /* acc-a comes back: a fresh hour. */
    call_start(fx, "acc-a", "a5", "ca5", h0 + 3 * HOUR + 20, "+31201111111");
    fx_tick(fx, h0 + 3 * HOUR + 30);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-a"), "calls_out_1h"), 1);
}

/* Many accounts at once: each keeps its own count; one attacker among 400 quiet ones. */
static void test_many_accounts(void **state)
{
    struct fx *fx = *state;
    char acct[32];
    for (int i = 0; i < 400; i++) {
        snprintf(acct, sizeof acct, "acc-%d", i);
        for (int k = 0; k < 4; k++)
            start_n(fx, acct, k, T0 + i * 10 + k, CUBA);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    for (int k = 4; k < 8; k++)
        start_n(fx, "acc-123", k, T0 + 30000 + k, CUBA);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_string_equal(fx_find_kind(fx, VIGIL_OUT_ORDER, 0)->account, "acc-123");
    fx_tick(fx, T0 + 40000);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), 400);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-399"), "open_high_risk"), 4);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-123"), "open_high_risk"), 8);
}

/* --- velocity, spend, scanning, slow attacks, night levels, profiles ------------------------ */

#define MIN 60000LL
#define SAT_NIGHT 1795903200000LL /* Saturday 2026-11-28 23:00 Amsterdam */
#define MON_0900 1795420800000LL  /* Monday 2026-11-23 09:00 Amsterdam */
#define SATPHONE "+8816310"       /* Iridium: EUR 10 a minute */
#define SRI_LANKA "+9477123"      /* high-risk, EUR 0.40 a minute */

/* An attempt that never connected: a call_end with answered false and no start. */
static void attempt(struct fx *fx, const char *account, const char *id, const char *call_id,
                    int64_t ts, const char *to)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_end\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
             "\"call_id\":\"%s\",\"from\":\"+31201234567\",\"to\":\"%s\",\"dir\":\"out\","
             "\"duration\":0,\"answered\":false}",
             id, (long long)ts, account, call_id, to);
    fx_feed_json(fx, account, json);
}

/* A call_end that carries the exporter's cost. */
static void end_cost(struct fx *fx, const char *account, const char *id, const char *call_id,
                     int64_t ts, const char *to, int duration, const char *cost)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_end\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
             "\"call_id\":\"%s\",\"from\":\"+31201234567\",\"to\":\"%s\",\"dir\":\"out\","
             "\"duration\":%d,\"cost\":%s}",
             id, (long long)ts, account, call_id, to, duration, cost);
    fx_feed_json(fx, account, json);
}

/* The highest value counter `name` of `account` was published with. */
static int64_t max_counter(const struct fx *fx, const char *account, const char *name)
{
    int64_t max = -1;
    for (size_t i = 0; i < fx->cap.n; i++) {
        const struct fx_rec *r = &fx->cap.recs[i];
        if (r->kind == VIGIL_OUT_COUNTERS && strcmp(r->account, account) == 0 &&
            fx_counter(r, name) > max)
            max = fx_counter(r, name);
    }
    return max;
}

static int64_t rec_event_ts(const struct fx_rec *r)
{
    assert_non_null(r);
    struct fx_json d;
    fx_json_parse(&d, r->json);
    return fx_json_int(&d, fx_json_get(&d, 0, "event_ts"));
}

static double rec_evidence(const struct fx_rec *r, const char *name)
{
    assert_non_null(r);
    struct fx_json d;
    fx_json_parse(&d, r->json);
    int ev = fx_json_get(&d, 0, "evidence");
    assert_true(ev > 0);
    int i = fx_json_get(&d, ev, name);
    if (i < 0)
        fail_msg("no evidence %s in %s", name, r->json);
    return strtod(d.js + d.t[i].start, NULL);
}

static bool rec_reason_has(const struct fx_rec *r, const char *text)
{
    struct fx_json d;
    fx_json_parse(&d, r->json);
    int i = fx_json_get(&d, 0, "reason");
    assert_true(i > 0);
    char reason[512];
    snprintf(reason, sizeof reason, "%.*s", d.t[i].end - d.t[i].start, d.js + d.t[i].start);
    return strstr(reason, text) != NULL;
}

/* Twenty high-risk calls within 15 minutes, one at a time: starts, unanswered attempts
 * (delivered twice) and an end whose start was lost all count, each once. Warning at the
 * 10th, order at the 20th, with that call's time. */
static void test_velocity_twenty_calls_block(void **state)
{
    struct fx *fx = *state;
    int64_t ts[21];
    for (int i = 1; i <= 20; i++) {
        int64_t t = T0 + (int64_t)i * 40000; /* 20 calls in 13 min 20 s */
        ts[i] = t;
        char id[16], cid[16], to[32];
        snprintf(id, sizeof id, "v-%d", i);
        snprintf(cid, sizeof cid, "vc-%d", i);
        snprintf(to, sizeof to, "%s%d000", CUBA, i);
        if (i % 4 == 0) {
            attempt(fx, "acc-vel", id, cid, t, to);
            attempt(fx, "acc-vel", id, cid, t + 5, to); /* redelivered */
        } else if (i == 7) {
            call_end(fx, "acc-vel", id, cid, t, to, 20); /* its start was lost */
            call_end(fx, "acc-vel", id, cid, t + 5, to, 20);
        } else {
            call_start(fx, "acc-vel", id, cid, t, to);
            call_start(fx, "acc-vel", id, cid, t + 5, to); /* redelivered */
            snprintf(id, sizeof id, "ve-%d", i);
            call_end(fx, "acc-vel", id, cid, t + 20000, to, 20);
        }
        if (i == 19)
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    }
    const char *rule = "toll_fraud.velocity_high_risk";
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, rule);
    assert_non_null(o);
    assert_int_equal(o->action, VIGIL_ACT_BLOCK_INTERNATIONAL);
    assert_int_equal(rec_event_ts(o), ts[20]);
    assert_true(rec_evidence(o, "high_risk_calls_15m") == 20);
    assert_true(rec_evidence(o, "threshold") == 20);
    assert_true(rec_reason_has(o, "20 outbound calls to high-risk destinations within 15 "
                                  "minutes (threshold 20)"));
    const struct fx_rec *c = fx_find_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, rule);
    assert_int_equal(rec_event_ts(c), ts[20]);
    const struct fx_rec *w = fx_find_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, rule);
    assert_int_equal(rec_event_ts(w), ts[10]);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, 0, rule), 2);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, 0, CONC), 0);

    fx_tick(fx, ts[20]);
    const struct fx_rec *k = fx_last_counters(fx, "acc-vel");
    assert_int_equal(fx_counter(k, "high_risk_calls_15m"), 20);
    assert_int_equal(fx_counter(k, "high_risk_calls_1h"), 20);
    /* 16 minutes after the 10th call (40 s apart) the first eleven have left the window:
     * calls 12 to 20 and the new one. */
    attempt(fx, "acc-vel", "late", "late", ts[10] + 16 * MIN, CUBA "99000");
    fx_tick(fx, ts[10] + 16 * MIN);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-vel"), "high_risk_calls_15m"), 10);
}

/* Nineteen calls in 15 minutes, and twenty spread over 30: no order. */
static void test_velocity_below_threshold(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 19; i++) {
        start_n(fx, "acc-v19", i, T0 + i * 45000, CUBA);
        end_n(fx, "acc-v19", i, T0 + i * 45000 + 10000, CUBA, 10);
    }
    for (int i = 1; i <= 20; i++) {
        start_n(fx, "acc-v30", i, T0 + i * 90000, CUBA);
        end_n(fx, "acc-v30", i, T0 + i * 90000 + 10000, CUBA, 10);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 0);
}

/* Saturday night: ten high-risk calls in 15 minutes block (the day level is twenty). */
static void test_velocity_offhours(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 10; i++) {
        start_n(fx, "acc-vn", i, SAT_NIGHT + i * 30000, CUBA);
        end_n(fx, "acc-vn", i, SAT_NIGHT + i * 30000 + 15000, CUBA, 15);
        if (i == 9)
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    }
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, "toll_fraud.velocity_high_risk");
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), SAT_NIGHT + 10 * 30000);
    assert_true(rec_evidence(o, "threshold") == 10);
    assert_true(rec_reason_has(o, "at night or weekend"));
    /* The night warning keeps the day's ratio: 10 of 20 by day, 5 of 10 at night. */
    const struct fx_rec *w =
        fx_find_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, "toll_fraud.velocity_high_risk");
    assert_int_equal(rec_event_ts(w), SAT_NIGHT + 5 * 30000);
}

/* detection.md: calls at night and at weekends deserve lower thresholds. Five parallel
 * high-risk calls on a Saturday night block; by day five only warn. */
static void test_concurrent_offhours(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 4; i++)
        start_n(fx, "acc-night", i, SAT_NIGHT + i * 2000, CUBA);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    const struct fx_rec *w = fx_find_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, CONC);
    assert_int_equal(rec_event_ts(w), SAT_NIGHT + 3 * 2000); /* night warning: 3 */
    start_n(fx, "acc-night", 5, SAT_NIGHT + 5 * 2000, CUBA);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, CONC);
    assert_non_null(o);
    assert_int_equal(o->action, VIGIL_ACT_BLOCK_INTERNATIONAL);
    assert_int_equal(rec_event_ts(o), SAT_NIGHT + 5 * 2000);
    assert_true(rec_evidence(o, "threshold") == 5);
    assert_true(rec_reason_has(o, "5 simultaneous outbound calls to high-risk destinations "
                                  "(threshold 5 at night or weekend)"));

    /* The same five on a Monday afternoon: a warning, no order. */
    for (int i = 1; i <= 5; i++)
        start_n(fx, "acc-day", i, T0 + 3 * HOUR + i * 2000, CUBA);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 1);
}

/* Spend of ended calls, from the exporter's cost: warning above EUR 75, order above EUR 100
 * at the end that crossed it. */
static void test_spend_from_exporter_cost(void **state)
{
    struct fx *fx = *state;
    const char *rule = "toll_fraud.spend_1h";
    int64_t end3 = 0;
    for (int i = 1; i <= 3; i++) {
        char id[16], cid[16], to[32];
        int64_t t = T0 + (int64_t)i * 5 * MIN;
        snprintf(id, sizeof id, "p-%d", i);
        snprintf(cid, sizeof cid, "pc-%d", i);
        snprintf(to, sizeof to, "%s%d000", SATPHONE, i);
        call_start(fx, "acc-spend", id, cid, t, to);
        snprintf(id, sizeof id, "pe-%d", i);
        end3 = t + 4 * MIN;
        end_cost(fx, "acc-spend", id, cid, end3, to, 240, i == 3 ? "30.5" : "40");
        if (i == 2) {
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
            assert_int_equal(
                rec_event_ts(fx_find_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, rule)), end3);
        }
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, rule);
    assert_non_null(o);
    assert_int_equal(o->action, VIGIL_ACT_BLOCK_INTERNATIONAL);
    assert_int_equal(rec_event_ts(o), end3);
    assert_true(rec_evidence(o, "spend_eur_1h") == 110.5);
    assert_true(rec_evidence(o, "threshold_eur") == 100);
    assert_true(rec_reason_has(o, "Outbound spend of EUR 110.50 within the last hour"));
    fx_tick(fx, end3);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-spend"), "spend_eur_cents_1h"), 11050);
}

/* Spend on Dutch premium numbers (not international, no cost field: the rate table's EUR 1
 * a minute): blocking international calls would not stop it, so the order is suspend. Spend
 * counts in the hour it was spent: two such calls one after the other never add up. */
static void test_spend_domestic_suspends(void **state)
{
    struct fx *fx = *state;
    const char *num = "+319091234567";
    call_start(fx, "acc-0909", "d-1", "dc-1", T0, num);
    call_start(fx, "acc-0909", "d-2", "dc-2", T0 + MIN, num);
    call_end(fx, "acc-0909", "de-1", "dc-1", T0 + 55 * MIN, num, 3300);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    call_end(fx, "acc-0909", "de-2", "dc-2", T0 + 56 * MIN, num, 3300);
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, "toll_fraud.spend_1h");
    assert_non_null(o);
    assert_int_equal(o->action, VIGIL_ACT_SUSPEND);
    assert_int_equal(rec_event_ts(o), T0 + 56 * MIN);
    assert_true(rec_evidence(o, "spend_eur_1h") == 110);

    call_start(fx, "acc-far", "f-1", "fc-1", T0, num);
    call_end(fx, "acc-far", "fe-1", "fc-1", T0 + 55 * MIN, num, 3300);
    call_start(fx, "acc-far", "f-2", "fc-2", T0 + 56 * MIN, num);
    call_end(fx, "acc-far", "fe-2", "fc-2", T0 + 111 * MIN, num, 3300);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, "toll_fraud.spend_1h"),
                     1);
}

/* A hacked PBX running 6 parallel satellite calls at EUR 10 a minute crosses EUR 100 about
 * 100 s in, before any call ends: the tick that sees it orders, within 2 minutes. */
static void test_spend_open_calls_at_tick(void **state)
{
    struct fx *fx = *state;
    for (int k = 0; k < 6; k++)
        start_n(fx, "acc-sat", k, T0 + k * 1000, SATPHONE);
    /* Calls k = 0..5 have run x - k seconds at x seconds: EUR (6x - 15) / 6 = EUR 100 at
     * x = 102.5 s. */
    int64_t crossing = T0 + 102500;
    const char *rule = "toll_fraud.spend_1h";
    int64_t wm = T0;
    for (; wm <= T0 + 5 * MIN && !fx_find_rule(fx, VIGIL_OUT_ORDER, 0, rule); wm += 30000) {
        fx_tick(fx, wm);
        if (wm < crossing)
            assert_null(fx_find_rule(fx, VIGIL_OUT_ORDER, 0, rule));
    }
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, rule);
    assert_non_null(o);
    assert_int_equal(o->action, VIGIL_ACT_BLOCK_INTERNATIONAL);
    assert_true(rec_event_ts(o) >= crossing);
    assert_true(rec_event_ts(o) <= crossing + 2 * MIN);
    assert_true(rec_evidence(o, "open_calls") == 6);
    assert_true(rec_evidence(o, "spend_eur_1h") > 100);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    /* Further ticks of the same episode ask for nothing new. */
    size_t n = fx_count_rule(fx, VIGIL_OUT_ALERT, 0, rule);
    fx_tick(fx, wm + MIN);
    fx_tick(fx, wm + 2 * MIN);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, 0, rule), n);
}

/* Range scanning as vigil-sim plays it: 12 calls 20 s apart to numbers that differ in the
 * last 2 digits, mostly unanswered. Warning at the 6th distinct number, order at the 10th. */
static void test_sequential_dialling_scan(void **state)
{
    struct fx *fx = *state;
    const char *rule = "toll_fraud.sequential_dialling";
    int64_t ts[12];
    for (int k = 0; k < 12; k++) {
        char id[16], cid[16], to[32];
        int64_t t = T0 + (int64_t)k * 20000;
        ts[k] = t;
        snprintf(id, sizeof id, "q-%d", k);
        snprintf(cid, sizeof cid, "qc-%d", k);
        snprintf(to, sizeof to, "+53512345%02d", 40 + k);
        if (k % 3 == 0) {
            call_start(fx, "acc-scan", id, cid, t, to);
            snprintf(id, sizeof id, "qe-%d", k);
            call_end(fx, "acc-scan", id, cid, t + 8000, to, 8);
        } else {
            attempt(fx, "acc-scan", id, cid, t, to);
        }
        if (k == 8)
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    }
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, rule);
    assert_non_null(o);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(o->action, VIGIL_ACT_BLOCK_INTERNATIONAL);
    assert_int_equal(rec_event_ts(o), ts[9]);
    assert_true(rec_evidence(o, "distinct_numbers_10m") == 10);
    assert_true(rec_reason_has(o, "10 distinct numbers in the range +5351234xxx"));
    const struct fx_rec *w = fx_find_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, rule);
    assert_int_equal(rec_event_ts(w), ts[5]);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, 0, rule), 2);
}

/* A domestic scan: the order is suspend. Redialling one number, or nine numbers of a range,
 * or ten spread over more than 15 minutes, is no scan. */
/* A range scanned, then left while others are dialled (its part given back once stale), then
 * scanned again 30 minutes on: the second scan counts afresh (no number of the first within
 * its 10 minutes), warns again at its 6th number and orders at its 10th, as the first would
 * have. */
static void test_sequential_dialling_range_again(void **state)
{
    struct fx *fx = *state;
    const char *rule = "toll_fraud.sequential_dialling";
    char id[16], to[32];
    for (int k = 0; k < 9; k++) {
        snprintf(id, sizeof id, "ra-%d", k);
        snprintf(to, sizeof to, "+53512345%02d", 10 + k);
        attempt(fx, "acc-again", id, id, T0 + (int64_t)k * 20000, to);
    }
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, rule), 1);
    for (int k = 0; k < 6; k++) {
        snprintf(id, sizeof id, "rb-%d", k);
        snprintf(to, sizeof to, "+4930%d1234567", k);
        attempt(fx, "acc-again", id, id, T0 + 5 * MIN + (int64_t)k * 4 * MIN, to);
    }
    int64_t ts[10];
    for (int k = 0; k < 10; k++) {
        ts[k] = T0 + 30 * MIN + (int64_t)k * 20000;
        snprintf(id, sizeof id, "rc-%d", k);
        snprintf(to, sizeof to, "+53512345%02d", 50 + k);
        attempt(fx, "acc-again", id, id, ts[k], to);
        if (k == 8)
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    }
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, rule);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), ts[9]);
    assert_true(rec_evidence(o, "distinct_numbers_10m") == 10);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, rule), 2);
}

static void test_sequential_dialling_domestic_and_not(void **state)
{
    struct fx *fx = *state;
    const char *rule = "toll_fraud.sequential_dialling";
    char to[32], id[16];
    for (int k = 0; k < 10; k++) {
        snprintf(to, sizeof to, "+3120555%03d", 100 + k * 7);
        snprintf(id, sizeof id, "n-%d", k);
        attempt(fx, "acc-nlscan", id, id, T0 + k * 10000, to);
    }
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, rule);
    assert_non_null(o);
    assert_int_equal(o->action, VIGIL_ACT_SUSPEND);
    assert_int_equal(rec_event_ts(o), T0 + 9 * 10000);

    for (int k = 0; k < 15; k++) {
        snprintf(id, sizeof id, "r-%d", k);
        attempt(fx, "acc-redial", id, id, T0 + k * 20000, "+31201234567");
    }
    for (int k = 0; k < 9; k++) {
        snprintf(to, sizeof to, "+3120555%03d", k);
        snprintf(id, sizeof id, "m-%d", k);
        attempt(fx, "acc-nine", id, id, T0 + k * 10000, to);
    }
    for (int k = 0; k < 10; k++) {
        snprintf(to, sizeof to, "+3120555%03d", k);
        snprintf(id, sizeof id, "s-%d", k);
        attempt(fx, "acc-slowscan", id, id, T0 + k * 2 * MIN, to);
    }
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, rule), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
}

/* A slow attack by calls: 30 short high-risk calls 20 minutes apart from an account with no
 * high-risk history: warning at the 15th, order at the 30th. */
static void test_slow_attack_calls(void **state)
{
    struct fx *fx = *state;
    const char *rule = "toll_fraud.slow_high_risk";
    for (int i = 1; i <= 30; i++) {
        int64_t t = T0 + (int64_t)(i - 1) * 20 * MIN;
        start_n(fx, "acc-slow", i, t, SRI_LANKA);
        end_n(fx, "acc-slow", i, t + MIN, SRI_LANKA, 60);
        if (i == 29)
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    }
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, rule);
    assert_non_null(o);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(o->action, VIGIL_ACT_BLOCK_INTERNATIONAL);
    assert_int_equal(rec_event_ts(o), T0 + 29 * 20 * MIN);
    assert_true(rec_evidence(o, "high_risk_calls_24h") == 30);
    const struct fx_rec *w = fx_find_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, rule);
    assert_int_equal(rec_event_ts(w), T0 + 14 * 20 * MIN);
}

/* A slow attack by minutes: three 35-minute calls to Sri Lanka two hours apart, 105
 * minutes; order at the end that passes 90 minutes. */
static void test_slow_attack_minutes(void **state)
{
    struct fx *fx = *state;
    const char *rule = "toll_fraud.slow_high_risk";
    for (int i = 1; i <= 3; i++) {
        int64_t t = T0 + (int64_t)(i - 1) * 2 * HOUR;
        start_n(fx, "acc-slowm", i, t, SRI_LANKA);
        end_n(fx, "acc-slowm", i, t + 35 * MIN, SRI_LANKA, 35 * 60);
    }
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, rule);
    assert_non_null(o);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(rec_event_ts(o), T0 + 4 * HOUR + 35 * MIN);
    assert_true(rec_evidence(o, "high_risk_minutes_24h") == 105);
    const struct fx_rec *w = fx_find_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, rule);
    assert_int_equal(rec_event_ts(w), T0 + 2 * HOUR + 35 * MIN);
}

/* One long call that has not ended: its minutes count at the ticks, so the order comes
 * within 15 minutes of the 90th minute. */
static void test_slow_attack_open_call(void **state)
{
    struct fx *fx = *state;
    const char *rule = "toll_fraud.slow_high_risk";
    call_start(fx, "acc-long", "l-1", "lc-1", T0, SRI_LANKA "5000");
    for (int64_t wm = T0; wm <= T0 + 3 * HOUR && !fx_find_rule(fx, VIGIL_OUT_ORDER, 0, rule);
         wm += 5 * MIN)
        fx_tick(fx, wm);
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, rule);
    assert_non_null(o);
    assert_true(rec_event_ts(o) >= T0 + 90 * MIN);
    assert_true(rec_event_ts(o) <= T0 + 105 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1); /* EUR 36: no spend order */
}

/* An account that called high-risk destinations days before has history: the slow rule
 * leaves its 30 calls alone (velocity and concurrency still apply). */
static void test_slow_attack_needs_no_history(void **state)
{
    struct fx *fx = *state;
    start_n(fx, "acc-old", 100, T0 - 3 * DAY, SRI_LANKA);
    end_n(fx, "acc-old", 100, T0 - 3 * DAY + MIN, SRI_LANKA, 60);
    fx_tick(fx, T0 - 2 * DAY);
    for (int i = 1; i <= 30; i++) {
        int64_t t = T0 + (int64_t)(i - 1) * 20 * MIN;
        start_n(fx, "acc-old", i, t, SRI_LANKA);
        end_n(fx, "acc-old", i, t + MIN, SRI_LANKA, 60);
    }
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, 0, "toll_fraud.slow_high_risk"), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
}

/* Per-profile levels: `spend_1h_eur@callcenter = 400` lets a call centre spend EUR 110 an
 * hour; the same spend blocks a default account. */
static void test_profile_levels(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"profiles.callcenter", "acc-cc",
                                       "toll_fraud.spend_1h_eur@callcenter", "400", NULL};
    struct fx *fx = new_fx(sets);
    const char *num = "+319091234567";
    const char *accts[] = {"acc-cc", "acc-def"};
    for (int a = 0; a < 2; a++) {
        call_start(fx, accts[a], "d-1", "dc-1", T0, num);
        call_start(fx, accts[a], "d-2", "dc-2", T0 + MIN, num);
        call_end(fx, accts[a], "de-1", "dc-1", T0 + 55 * MIN, num, 3300);
        call_end(fx, accts[a], "de-2", "dc-2", T0 + 56 * MIN, num, 3300);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_string_equal(fx_find_kind(fx, VIGIL_OUT_ORDER, 0)->account, "acc-def");
    void *state = fx;
    fx_teardown(&state);
}

/* --- what toll_fraud must leave alone (detection.md, default profile) --------------------- */

struct tev {
    int64_t ts;
    int seq;
    bool end;
    int dur;
    char call_id[16];
    char to[24];
};

static int tev_cmp(const void *pa, const void *pb)
{
    const struct tev *a = pa, *b = pb;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a->seq - b->seq;
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* Feeds events in time order, ticking every 5 minutes of event time (watermark = time - 60 s,
 * as vigild's). */
static void feed_sorted(struct fx *fx, const char *account, struct tev *ev, size_t n)
{
    qsort(ev, n, sizeof *ev, tev_cmp);
    int64_t next_tick = ev[0].ts;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].ts >= next_tick) {
            fx_tick(fx, ev[i].ts - 60000);
            next_tick = ev[i].ts + 5 * MIN;
        }
        char id[32];
        snprintf(id, sizeof id, "%s-%c", ev[i].call_id, ev[i].end ? 'e' : 's');
        if (ev[i].end)
            call_end(fx, account, id, ev[i].call_id, ev[i].ts, ev[i].to, ev[i].dur);
        else
            call_start(fx, account, id, ev[i].call_id, ev[i].ts, ev[i].to);
    }
    fx_tick(fx, ev[n - 1].ts);
}

static size_t add_call(struct tev *ev, size_t n, int64_t start, int dur, const char *to, int k)
{
    struct tev *s = &ev[n], *e = &ev[n + 1];
    memset(s, 0, 2 * sizeof *s);
    s->ts = start;
    s->seq = (int)n;
    snprintf(s->call_id, sizeof s->call_id, "k-%d", k);
    snprintf(s->to, sizeof s->to, "%s", to);
    *e = *s;
    e->end = true;
    e->ts = start + dur * 1000LL;
    e->dur = dur;
    e->seq = (int)n + 1;
    return n + 2;
}

/* A call centre's day into ev (room for CC_CAP events): 25 lines busy for `hours` from
 * `from`, each calling numbers of prefix[c] plus digits[c] random digits (c drawn from
 * nprefix) back to back, 3-10 minute calls with 20-90 s between: 25 calls open at once.
 * Returns the number of events. */
enum { CC_CAP = 8000 };
static size_t call_centre(struct tev *ev, int64_t from, int hours, const char *const *prefix,
                          const int *digits, int nprefix)
{
    uint64_t rng = 42;
    size_t n = 0;
    int k = 0;
    for (int line = 0; line < 25; line++) {
        for (int64_t t = from + line * 7000; t < from + hours * HOUR;) {
            int c = (int)(lcg(&rng) % (uint64_t)nprefix);
            char to[24];
            int len = snprintf(to, sizeof to, "%s", prefix[c]);
            for (int d = 0; d < digits[c]; d++)
                to[len++] = (char)('0' + lcg(&rng) % 10);
            to[len] = '\0';
            int dur = 180 + (int)(lcg(&rng) % 421);
            assert_true(n + 2 <= CC_CAP);
            n = add_call(ev, n, t, dur, to, k++);
            t += dur * 1000LL + 20000 + (int64_t)(lcg(&rng) % 70) * 1000;
        }
    }
    return n;
}

/* A call centre: 25 lines busy 09:00-17:00 on a Monday, each line calling NL, BE, DE, FR and
 * GB numbers back to back (3-10 minute calls, 20-90 s between): 25 calls open at once, about
 * EUR 40 an hour. */
static void test_call_centre_office_day_left_alone(void **state)
{
    struct fx *fx = *state;
    struct tev *ev = calloc(CC_CAP, sizeof *ev);
    assert_non_null(ev);
    static const char *const cc[] = {"+3120", "+322", "+4930", "+331", "+44207"};
    static const int digits[] = {7, 7, 8, 8, 7};
    size_t n = call_centre(ev, MON_0900, 8, cc, digits, 5);
    feed_sorted(fx, "acc-cc25", ev, n);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    /* The traffic was there: over 100 calls and 1000 minutes an hour, under EUR 50. */
    assert_true(max_counter(fx, "acc-cc25", "calls_out_1h") > 100);
    assert_true(max_counter(fx, "acc-cc25", "minutes_out_1h") > 1000);
    assert_true(max_counter(fx, "acc-cc25", "spend_eur_cents_1h") < 5000);
    free(ev);
}

/* The shipped callcenter default `*_offhours@callcenter = 0` (no night levels): the same 25
 * lines working a Saturday 10:00-16:00, mostly to Dutch mobiles (EUR 0.05 a minute), spend
 * some EUR 55-65 an hour. A default account doing that is suspended at the weekend spend
 * block (EUR 50); the call centre stays under its day warning (EUR 75) and is left alone. An
 * operator's spend_1h_eur_offhours@callcenter brings the night block back. */
static void test_call_centre_weekend_profile_default(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"profiles.callcenter", "acc-cc", NULL};
    static const char *const sets_op[] = {
        "profiles.callcenter", "acc-cc", "toll_fraud.spend_1h_eur_offhours@callcenter", "50", NULL};
    struct fx *cc = new_fx(sets), *dflt = new_fx(NULL), *op = new_fx(sets_op);
    struct tev *ev = calloc(CC_CAP, sizeof *ev);
    assert_non_null(ev);
    static const char *const prefix[] = {"+316", "+316", "+316", "+316", "+3120"};
    static const int digits[] = {8, 8, 8, 8, 7};
    const int64_t sat_1000 = SAT_NIGHT - 13 * HOUR;
    size_t n = call_centre(ev, sat_1000, 6, prefix, digits, 5);
    assert_true(vigil_off_hours(sat_1000));
    feed_sorted(cc, "acc-cc", ev, n);
    feed_sorted(dflt, "acc-cc", ev, n);
    feed_sorted(op, "acc-cc", ev, n);

    assert_int_equal(fx_count_kind(cc, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(cc, VIGIL_OUT_ALERT, 0), 0);
    int64_t spend = max_counter(cc, "acc-cc", "spend_eur_cents_1h");
    assert_true(spend > 5000 && spend < 7500);
    const struct fx_rec *o = fx_find_kind(dflt, VIGIL_OUT_ORDER, 0);
    assert_non_null(o);
    assert_true(fx_rec_rule_is(o, "toll_fraud.spend_1h"));
    assert_true(rec_evidence(o, "threshold_eur") == 50);
    assert_int_equal(fx_count_rule(op, VIGIL_OUT_ORDER, 0, "toll_fraud.spend_1h"), 1);
    free(ev);
    fx_destroy(cc);
    fx_destroy(dflt);
    fx_destroy(op);
}

/* The same default for the high-risk rules: five agents of a call centre on calls to Tunisia
 * (+216, high-risk) at once on a Saturday morning, or ten short such calls in 15 minutes,
 * only warn (the day warnings), where they block a default account (night blocks 5 and 10).
 * A hacked call-centre PBX is still blocked at the weekend, at the day levels. */
static void test_call_centre_weekend_high_risk(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"profiles.callcenter", "acc-cc acc-cc-vel", NULL};
    struct fx *cc = new_fx(sets), *dflt = new_fx(NULL);
    const int64_t sat_1100 = SAT_NIGHT - 12 * HOUR;
    const char *tunis = "+21671";
    for (int i = 1; i <= 5; i++) {
        start_n(cc, "acc-cc", i, sat_1100 + i * 1000, tunis);
        start_n(dflt, "acc-cc", i, sat_1100 + i * 1000, tunis);
    }
    assert_int_equal(fx_count_rule(dflt, VIGIL_OUT_ORDER, 0, CONC), 1);
    assert_int_equal(fx_count_kind(cc, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_rule(cc, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, CONC), 1);
    for (int i = 6; i <= 8; i++)
        start_n(cc, "acc-cc", i, sat_1100 + i * 1000, tunis);
    const struct fx_rec *o = fx_find_rule(cc, VIGIL_OUT_ORDER, 0, CONC);
    assert_non_null(o);
    assert_true(rec_evidence(o, "threshold") == 8);

    const char *vel = "toll_fraud.velocity_high_risk";
    for (int i = 1; i <= 10; i++) {
        start_n(cc, "acc-cc-vel", i, sat_1100 + i * 30000, tunis);
        end_n(cc, "acc-cc-vel", i, sat_1100 + i * 30000 + 15000, tunis, 15);
        start_n(dflt, "acc-cc-vel", i, sat_1100 + i * 30000, tunis);
        end_n(dflt, "acc-cc-vel", i, sat_1100 + i * 30000 + 15000, tunis, 15);
    }
    assert_int_equal(fx_count_rule(dflt, VIGIL_OUT_ORDER, 0, vel), 1);
    assert_int_equal(fx_count_rule(cc, VIGIL_OUT_ORDER, 0, vel), 0);
    assert_int_equal(fx_count_rule(cc, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, vel), 1);
    fx_destroy(cc);
    fx_destroy(dflt);
}

/* A business calling the USA and India during the day: 30 calls of 5-20 minutes between
 * 09:00 and 17:00. */
static void test_business_usa_india_left_alone(void **state)
{
    struct fx *fx = *state;
    struct tev ev[64];
    uint64_t rng = 7;
    size_t n = 0;
    for (int i = 0; i < 30; i++) {
        char to[24];
        int len = snprintf(to, sizeof to, "%s", i % 2 ? "+9122" : "+1212");
        for (int d = 0; d < (i % 2 ? 8 : 7); d++)
            to[len++] = (char)('0' + lcg(&rng) % 10);
        to[len] = '\0';
        int dur = 300 + (int)(lcg(&rng) % 901);
        n = add_call(ev, n, MON_0900 + (int64_t)i * 16 * MIN, dur, to, i);
    }
    feed_sorted(fx, "acc-biz", ev, n);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
}

/* A person calling family in Morocco and Turkey for an hour each: in the evening, late at
 * night (night levels) and on a Saturday night. */
static void test_family_abroad_left_alone(void **state)
{
    struct fx *fx = *state;
    static const int64_t when[] = {T0 + 9 * HOUR, T0 + 11 * HOUR + 20 * MIN, SAT_NIGHT};
    struct tev ev[16];
    size_t n = 0;
    for (int w = 0; w < 3; w++) {
        n = add_call(ev, n, when[w], 3600, "+212612345678", 2 * w);
        n = add_call(ev, n, when[w] + 61 * MIN, 3600, "+905321234567", 2 * w + 1);
    }
    feed_sorted(fx, "acc-family", ev, n);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    /* Both calls of one evening within the hour: EUR 21 + EUR 12. */
    assert_true(vigil_off_hours(when[1]) && vigil_off_hours(SAT_NIGHT) &&
                !vigil_off_hours(when[0]));
}

/* --- checkpoints: save, load, forget ------------------------------------------------------ */

/* Appends the saved state of `account` to *b. */
static void save(struct fx *fx, const char *account, struct vigil_bytes *b)
{
    assert_int_equal(fx->ops->save(fx->st, account, b), 0);
}

/* Counter records of `account` from record `from` on. */
static size_t count_counters(const struct fx *fx, size_t from, const char *account)
{
    size_t n = 0;
    for (size_t i = from; i < fx->cap.n; i++) {
        const struct fx_rec *r = &fx->cap.recs[i];
        if (r->kind == VIGIL_OUT_COUNTERS && strcmp(r->account, account) == 0)
            n++;
    }
    return n;
}

/* Round trip, events: six parallel calls to Cuba (the concurrency warning) and five numbers
 * of a Dutch range go to A; both accounts move to a fresh B, which gets the rest: the order
 * at the 8th call (its samples reach back before the move), the velocity warning at the
 * 10th, the scan's warning and suspend order. C, fed everything, writes the same. */
static void rt_scan(struct fx *fx, int from, int to)
{
    char num[32], id[16];
    for (int k = from; k < to; k++) {
        snprintf(num, sizeof num, "+3120555%03d", 100 + k * 7);
        snprintf(id, sizeof id, "n-%d", k);
        attempt(fx, "acc-rtscan", id, id, T0 + 10000 + k * 5000, num);
    }
}

static void test_checkpoint_round_trip_events(void **unused)
{
    (void)unused;
    struct fx *a = new_fx(NULL), *b = new_fx(NULL), *c = new_fx(NULL);
    struct fx *first[] = {a, c}, *second[] = {b, c};
    for (int f = 0; f < 2; f++) {
        for (int i = 1; i <= 6; i++)
            start_n(first[f], "acc-rt", i, T0 + i * 1000, CUBA);
        rt_scan(first[f], 0, 5);
        fx_tick(first[f], T0 + 30000);
    }
    assert_int_equal(fx_count_rule(a, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, CONC), 1);
    size_t c_from = c->cap.n;
    fx_move_account(a, b, "acc-rt");
    fx_move_account(a, b, "acc-rtscan");
    for (int f = 0; f < 2; f++) {
        for (int i = 7; i <= 10; i++)
            start_n(second[f], "acc-rt", i, T0 + 30000 + i * 1000, CUBA);
        rt_scan(second[f], 5, 10);
        fx_tick(second[f], T0 + 60000);
    }
    assert_int_equal(fx_assert_same_findings(b, 0, c, c_from), 6);
    assert_non_null(fx_find_rule(b, VIGIL_OUT_ORDER, 0, CONC));
    assert_null(fx_find_rule(b, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, CONC)); /* fired in A */
    assert_non_null(
        fx_find_rule(b, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, "toll_fraud.velocity_high_risk"));
    const struct fx_rec *o = fx_find_rule(b, VIGIL_OUT_ORDER, 0, "toll_fraud.sequential_dialling");
    assert_non_null(o);
    assert_int_equal(o->action, VIGIL_ACT_SUSPEND);
    assert_int_equal(fx_latest(b, "acc-rt", "open_high_risk"), 10);
    assert_int_equal(fx_latest(b, "acc-rt", "high_risk_calls_1h"), 10);
    fx_destroy(a);
    fx_destroy(b);
    fx_destroy(c);
}

/* Round trip, ticks: six satellite calls open (EUR 10 a minute) move to B a minute in; the
 * spend warning and order come from B's ticks at the same watermarks as C's. */
static void test_checkpoint_round_trip_spend_at_tick(void **unused)
{
    (void)unused;
    struct fx *a = new_fx(NULL), *b = new_fx(NULL), *c = new_fx(NULL);
    const char *rule = "toll_fraud.spend_1h";
    struct fx *first[] = {a, c}, *second[] = {b, c};
    for (int f = 0; f < 2; f++) {
        for (int k = 0; k < 6; k++)
            start_n(first[f], "acc-rtsat", k, T0 + k * 1000, SATPHONE);
        for (int64_t wm = T0; wm <= T0 + MIN; wm += 30000)
            fx_tick(first[f], wm);
    }
    assert_null(fx_find_rule(a, VIGIL_OUT_ORDER, 0, rule));
    size_t c_from = c->cap.n;
    fx_move_account(a, b, "acc-rtsat");
    for (int f = 0; f < 2; f++) {
        for (int64_t wm = T0 + MIN + 30000; wm <= T0 + 5 * MIN; wm += 30000)
            fx_tick(second[f], wm);
    }
    /* The warning above EUR 75, then the order and its critical alert, all at ticks. */
    assert_int_equal(fx_assert_same_findings(b, 0, c, c_from), 3);
    assert_non_null(fx_find_rule(b, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, rule));
    const struct fx_rec *o = fx_find_rule(b, VIGIL_OUT_ORDER, 0, rule);
    assert_non_null(o);
    assert_true(rec_evidence(o, "open_calls") == 6);
    assert_true(rec_event_ts(o) > T0 + MIN);
    fx_destroy(a);
    fx_destroy(b);
    fx_destroy(c);
}

/* Round trip, ticks: one long call to Sri Lanka, moved after its slow-rule warning (50
 * minutes in): B neither warns again nor misses the order the ticks give at 90 minutes. */
static void test_checkpoint_round_trip_slow_at_tick(void **unused)
{
    (void)unused;
    struct fx *a = new_fx(NULL), *b = new_fx(NULL), *c = new_fx(NULL);
    const char *rule = "toll_fraud.slow_high_risk";
    struct fx *first[] = {a, c}, *second[] = {b, c};
    for (int f = 0; f < 2; f++) {
        call_start(first[f], "acc-rtlong", "l-1", "lc-1", T0, SRI_LANKA "5000");
        for (int64_t wm = T0; wm <= T0 + 50 * MIN; wm += 5 * MIN)
            fx_tick(first[f], wm);
    }
    assert_non_null(fx_find_rule(a, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, rule));
    size_t c_from = c->cap.n;
    fx_move_account(a, b, "acc-rtlong");
    for (int f = 0; f < 2; f++) {
        for (int64_t wm = T0 + 55 * MIN; wm <= T0 + 2 * HOUR; wm += 5 * MIN)
            fx_tick(second[f], wm);
    }
    assert_int_equal(fx_assert_same_findings(b, 0, c, c_from), 2);
    assert_non_null(fx_find_rule(b, VIGIL_OUT_ORDER, 0, rule));
    assert_null(fx_find_rule(b, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, rule));
    fx_destroy(a);
    fx_destroy(b);
    fx_destroy(c);
}

/* load re-arms the expiry of open calls within an hour B has already ticked in (calls
 * expire after 10 minutes here): the sweep at 11 minutes closes them in B as in C. */
static void test_checkpoint_load_rearms_expiry(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"toll_fraud.max_open_call_ms", "600000", NULL};
    struct fx *a = new_fx(sets), *b = new_fx(sets), *c = new_fx(sets);
    for (int i = 1; i <= 7; i++) {
        start_n(a, "acc-rtexp", i, T0 + i * 1000, CUBA);
        start_n(c, "acc-rtexp", i, T0 + i * 1000, CUBA);
    }
    call_start(b, "acc-other", "o-1", "oc-1", T0, "+31201111111");
    struct fx *all[] = {a, b, c};
    for (int f = 0; f < 3; f++)
        fx_tick(all[f], T0 + 10000);
    fx_move_account(a, b, "acc-rtexp");
    /* Listed by load, and changed again before the tick: published once, with both. */
    size_t from = b->cap.n;
    call_start(b, "acc-rtexp", "d-1", "dc-1", T0 + 15000, "+31201111111");
    fx_tick(b, T0 + 20000);
    assert_int_equal(count_counters(b, from, "acc-rtexp"), 1);
    assert_int_equal(fx_latest(b, "acc-rtexp", "open_high_risk"), 7);
    assert_int_equal(fx_latest(b, "acc-rtexp", "calls_out_1h"), 8);
    fx_tick(b, T0 + 11 * MIN);
    fx_tick(c, T0 + 11 * MIN);
    assert_int_equal(fx_latest(c, "acc-rtexp", "open_high_risk"), 0);
    assert_int_equal(fx_latest(b, "acc-rtexp", "open_high_risk"), 0);
    /* An 8th call is one open call, not eight. */
    start_n(b, "acc-rtexp", 8, T0 + 11 * MIN + 1000, CUBA);
    assert_int_equal(fx_count_kind(b, VIGIL_OUT_ORDER, 0), 0);
    fx_destroy(a);
    fx_destroy(b);
    fx_destroy(c);
}

/* load replaces: what B held for the account (seven open calls to Cuba, their history) is
 * gone when the saved state has only a Dutch scan, so one more call to Cuba orders nothing. */
static void test_checkpoint_load_replaces(void **unused)
{
    (void)unused;
    struct fx *a = new_fx(NULL), *b = new_fx(NULL), *c = new_fx(NULL);
    for (int i = 1; i <= 7; i++)
        start_n(b, "acc-rtrep", 100 + i, T0 + i * 1000, CUBA);
    size_t b_from = b->cap.n;
    char num[32], id[16];
    for (int k = 0; k < 5; k++) {
        snprintf(num, sizeof num, "+3120555%03d", k);
        snprintf(id, sizeof id, "n-%d", k);
        attempt(a, "acc-rtrep", id, id, T0 + 10000 + k * 1000, num);
        attempt(c, "acc-rtrep", id, id, T0 + 10000 + k * 1000, num);
    }
    fx_move_account(a, b, "acc-rtrep");
    size_t c_from = c->cap.n;
    struct fx *second[] = {b, c};
    for (int f = 0; f < 2; f++) {
        start_n(second[f], "acc-rtrep", 1, T0 + 20000, CUBA);
        fx_tick(second[f], T0 + 20000);
    }
    assert_int_equal(fx_assert_same_findings(b, b_from, c, c_from), 0);
    assert_int_equal(fx_latest(b, "acc-rtrep", "open_high_risk"), 1);
    assert_int_equal(fx_latest(b, "acc-rtrep", "calls_out_1h"), 6);
    fx_destroy(a);
    fx_destroy(b);
    fx_destroy(c);
}

/* load takes the profile from B's config, not from the bytes: for B the account is a call
 * centre blocked at 20 open calls, so the 8th call A would have blocked at only warns. */
static void test_checkpoint_load_takes_profile(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"profiles.callcenter", "acc-rtprof",
                                       "toll_fraud.concurrent_high_risk@callcenter", "20", NULL};
    struct fx *a = new_fx(NULL), *b = new_fx(sets);
    for (int i = 1; i <= 4; i++)
        start_n(a, "acc-rtprof", i, T0 + i * 1000, CUBA);
    fx_move_account(a, b, "acc-rtprof");
    for (int i = 5; i <= 8; i++) {
        start_n(a, "acc-rtprof", i, T0 + i * 1000, CUBA);
        start_n(b, "acc-rtprof", i, T0 + i * 1000, CUBA);
    }
    assert_int_equal(fx_count_rule(a, VIGIL_OUT_ORDER, 0, CONC), 1);
    assert_int_equal(fx_count_kind(b, VIGIL_OUT_ORDER, 0), 0);
    fx_destroy(a);
    fx_destroy(b);
}

/* save appends nothing for an account the detector does not hold (nor for a bad key), does
 * not change the state, and empty bytes load as "nothing held". */
static void test_checkpoint_save_unknown(void **state)
{
    struct fx *fx = *state;
    struct vigil_bytes b = {0};
    assert_int_equal(vigil_bytes_put(&b, "xyz", 3), 0);
    save(fx, "acc-none", &b);
    save(fx, "", &b);
    save(fx, "acc-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789", &b);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.p, "xyz", 3);

    for (int i = 1; i <= 4; i++)
        start_n(fx, "acc-some", i, T0 + i * 1000, CUBA);
    save(fx, "acc-some", &b);
    size_t one = b.len - 3;
    assert_true(one > 2);
    save(fx, "acc-some", &b);
    assert_int_equal(b.len, 3 + 2 * one);
    assert_memory_equal(b.p + 3, b.p + 3 + one, one);
    assert_memory_equal(b.p, "xyz", 3);

    assert_int_equal(fx->ops->load(fx->st, "acc-some", NULL, 0), 0);
    struct vigil_bytes none = {0};
    save(fx, "acc-some", &none);
    assert_int_equal(none.len, 0);
    vigil_bytes_fini(&b);
}

/* Loads every bad form of good bytes into fx for `account`; each must be refused. */
static void load_bad_forms(struct fx *fx, const char *account, const struct vigil_bytes *good)
{
    unsigned char *p = malloc(good->len + 1);
    assert_non_null(p);
    for (size_t n = 1; n < good->len; n++) /* truncated, through the header and the body */
        assert_int_equal(fx->ops->load(fx->st, account, good->p, n), VIGIL_ERR_INVALID);
    memcpy(p, good->p, good->len);
    p[good->len] = 0;
    assert_int_equal(fx->ops->load(fx->st, account, p, good->len + 1), VIGIL_ERR_INVALID);
    for (int v = 0; v < 256; v++) { /* every other version */
        p[0] = (unsigned char)v;
        if (v != good->p[0])
            assert_int_equal(fx->ops->load(fx->st, account, p, good->len), VIGIL_ERR_INVALID);
    }
    p[0] = good->p[0];
    static const unsigned char masks[] = {0, 2, 8, 0x80, 0xff};
    for (size_t m = 0; m < sizeof masks; m++) {
        p[1] = masks[m];
        assert_int_equal(fx->ops->load(fx->st, account, p, good->len), VIGIL_ERR_INVALID);
    }
    p[1] = good->p[1];
    memset(p + 2, 0xff, good->len - 2); /* counts, times and flags out of range */
    assert_int_equal(fx->ops->load(fx->st, account, p, good->len), VIGIL_ERR_INVALID);
    uint64_t rng = 99;
    for (int k = 0; k < 64; k++) { /* garbage behind a good header */
        for (size_t i = 2; i < good->len; i++)
            p[i] = (unsigned char)lcg(&rng);
        assert_int_equal(fx->ops->load(fx->st, account, p, good->len), VIGIL_ERR_INVALID);
    }
    free(p);
}

/* Truncated, lengthened, wrong-version and garbage bytes give VIGIL_ERR_INVALID and change
 * nothing: the account B holds goes on as before, an account it did not hold stays fresh. */
static void test_checkpoint_bad_bytes(void **unused)
{
    (void)unused;
    struct fx *a = new_fx(NULL), *b = new_fx(NULL);
    for (int i = 1; i <= 7; i++) {
        start_n(a, "acc-bad", i, T0 + i * 1000, CUBA);
        start_n(b, "acc-bad", 100 + i, T0 + i * 1000, CUBA);
    }
    struct vigil_bytes good = {0};
    save(a, "acc-bad", &good);
    load_bad_forms(b, "acc-bad", &good);
    load_bad_forms(b, "acc-new", &good);
    assert_int_equal(b->ops->load(b->st, "", good.p, good.len), VIGIL_ERR_INVALID);

    struct vigil_bytes none = {0};
    save(b, "acc-new", &none);
    assert_int_equal(none.len, 0);
    size_t from = b->cap.n;
    start_n(b, "acc-bad", 108, T0 + 8000, CUBA); /* B's own 8th call: the order */
    assert_int_equal(fx_count_rule(b, VIGIL_OUT_ORDER, 0, CONC), 1);
    for (int i = 1; i <= 7; i++) /* fresh: the warning at the 5th, no order */
        start_n(b, "acc-new", i, T0 + 8000 + i * 1000, CUBA);
    fx_tick(b, T0 + 20000);
    assert_int_equal(fx_count_rule(b, VIGIL_OUT_ORDER, 0, CONC), 1);
    assert_int_equal(fx_count_rule(b, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, CONC), 2);
    assert_int_equal(fx_latest(b, "acc-new", "open_high_risk"), 7);
    assert_int_equal(fx_latest(b, "acc-bad", "open_high_risk"), 8);
    assert_int_equal(count_counters(b, from, "acc-new"), 1);
    vigil_bytes_fini(&good);
    fx_destroy(a);
    fx_destroy(b);
}

/* The fixture and watermark a corruption sweep loads into and runs on. */
struct corrupt_run {
    struct fx *d;
    int64_t wm;
};

/* Loads p into d and runs it: a start, an end and a tick 10 s after the last (so that open
 * calls are judged every time). Refused or not, nothing may go wrong. */
static void load_and_run(void *ctx, const unsigned char *p, size_t len)
{
    struct corrupt_run *run = ctx;
    struct fx *d = run->d;
    int64_t *wm = &run->wm;
    int rc = d->ops->load(d->st, "acc-cor", p, len);
    assert_true(rc == 0 || rc == VIGIL_ERR_INVALID);
    *wm += 10000;
    start_n(d, "acc-cor", 7, *wm, CUBA);
    end_n(d, "acc-cor", 2, *wm, CUBA, 5);
    fx_tick(d, *wm);
    d->cap.n = 0; /* only the absence of errors counts here */
}

/* Any one byte of a saved state set to 0xff or 0x00, or any 8-byte field (they sit at 2 +
 * 8k) set to INT64_MIN or INT64_MAX, is refused or loads a state that runs without an
 * out-of-bounds index, overflow or memory error (the sanitizers of CI's build see those). */
static void test_checkpoint_corrupt_byte(void **unused)
{
    (void)unused;
    struct fx *a = new_fx(NULL), *d = new_fx(NULL);
    for (int i = 1; i <= 6; i++)
        start_n(a, "acc-cor", i, T0 + i * 1000, CUBA);
    end_n(a, "acc-cor", 1, T0 + 10000, CUBA, 9);
    end_n(a, "acc-cor", 50, T0 + 11000, CUBA, 9); /* an orphan end */
    attempt(a, "acc-cor", "q-1", "q-1", T0 + 12000, "+31205550100");
    struct vigil_bytes good = {0};
    save(a, "acc-cor", &good);
    struct corrupt_run run = {d, T0 + 13000};
    fx_corruption_sweep(&good, 2, load_and_run, &run);
    vigil_bytes_fini(&good);
    fx_destroy(a);
    fx_destroy(d);
}

/* forget: the account's state and timers are gone (its spend order never comes, save
 * appends nothing, its calls start over), other accounts are untouched, and the changed
 * accounts listed for the next tick are each published once even though forgetting moved
 * entries around. */
static void test_checkpoint_forget(void **state)
{
    struct fx *fx = *state;
    char acct[32];
    for (int i = 0; i < 20; i++) {
        snprintf(acct, sizeof acct, "acc-q%d", i);
        call_start(fx, acct, "q", "qc", T0, "+31201111111");
        if (i == 9) {
            for (int k = 0; k < 6; k++) {
                start_n(fx, "acc-gone", k, T0 + k * 1000, SATPHONE);
                start_n(fx, "acc-keep", k, T0 + k * 1000, SATPHONE);
            }
        }
    }
    fx->ops->forget(fx->st, "acc-gone"); /* in the middle, listed */
    fx->ops->forget(fx->st, "acc-q0");   /* the first */
    fx->ops->forget(fx->st, "acc-q19");  /* the last */
    fx->ops->forget(fx->st, "acc-gone");
    fx->ops->forget(fx->st, "acc-never");
    struct vigil_bytes none = {0};
    save(fx, "acc-gone", &none);
    assert_int_equal(none.len, 0);
    fx_tick(fx, T0 + 10000);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), 19);
    for (int i = 1; i < 19; i++) {
        snprintf(acct, sizeof acct, "acc-q%d", i);
        assert_int_equal(count_counters(fx, 0, acct), 1);
        assert_int_equal(fx_latest(fx, acct, "calls_out_1h"), 1);
    }
    assert_int_equal(fx_latest(fx, "acc-keep", "open_high_risk"), 6);
    for (int64_t wm = T0 + 30000; wm <= T0 + 5 * MIN; wm += 30000)
        fx_tick(fx, wm);
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, "toll_fraud.spend_1h");
    assert_non_null(o);
    assert_string_equal(o->account, "acc-keep");
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    for (int64_t wm = T0 + HOUR; wm <= T0 + DAY + 2 * HOUR; wm += HOUR)
        fx_tick(fx, wm);
    assert_int_equal(count_counters(fx, 0, "acc-gone"), 0);
    assert_int_equal(count_counters(fx, 0, "acc-q0"), 0);
    save(fx, "acc-gone", &none);
    assert_int_equal(none.len, 0);
    /* A later event starts it afresh: seven calls warn, the concurrency rule orders nothing. */
    size_t from = fx->cap.n;
    for (int i = 1; i <= 7; i++)
        start_n(fx, "acc-gone", 10 + i, T0 + DAY + 3 * HOUR + i * 1000, CUBA);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    size_t i = from;
    const struct fx_rec *w = fx_next_finding(fx, &i);
    assert_non_null(w);
    assert_true(fx_rec_rule_is(w, CONC));
    assert_null(fx_next_finding(fx, &i));
}

/* --- exact at the threshold ---------------------------------------------------------------- */

#define VEL "toll_fraud.velocity_high_risk"

/* Attempt i of an edge series: to <prefix><i>000, a number block of its own. */
static void attempt_n(struct fx *fx, const char *account, int i, int64_t ts, const char *prefix)
{
    char id[32], to[32];
    snprintf(id, sizeof id, "a-%d", i);
    snprintf(to, sizeof to, "%s%d000", prefix, i);
    attempt(fx, account, id, id, ts, to);
}

/* Twenty high-risk attempts, the first and the last exactly 15 minutes apart: ordered at the
 * 20th, dated by it. */
static void test_edge_velocity_exact_window(void **state)
{
    struct fx *fx = *state;
    for (int i = 0; i < 20; i++) {
        int64_t t = T0 + (int64_t)i * 15 * MIN / 19;
        if (i == 19)
            t = T0 + 15 * MIN;
        attempt_n(fx, "acc-ve", i, t, CUBA);
        if (i == 18)
            assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, VEL), 0);
    }
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, VEL);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + 15 * MIN);
    assert_true(rec_evidence(o, "high_risk_calls_15m") == 20);
}

/* The same twenty stretched by one second, sustained for four office hours (any twenty
 * consecutive span 15:01), and nineteen in every 15 minutes for four hours: never a velocity
 * order or critical alert. (The slow rule is set aside: it would rightly see these.) */
static void test_edge_velocity_stretched_never(void **state)
{
    (void)state;
    static const char *const sets[] = {"toll_fraud.slow_high_risk_calls", "100000",
                                       "toll_fraud.slow_high_risk_calls_warning", "0", NULL};
    struct fx *fx = new_fx(sets);
    for (int i = 0; i < 4 * 4 * 19; i++)
        attempt_n(fx, "acc-vs", i, T0 + (int64_t)i * (15 * MIN + 1000) / 19, CUBA);
    /* Nineteen in every closed 15 minutes: one every 50 s. */
    for (int i = 0; i < 4 * 4 * 18; i++)
        attempt_n(fx, "acc-v19", i, T0 + (int64_t)i * 50000, CUBA);
    fx_tick(fx, T0 + 5 * HOUR);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ORDER, 0, VEL), 0);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, VEL), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    fx_destroy(fx);
}

/* velocity_high_risk set to 50, above the TF_VEL_EXACT times kept: 50 attempts whose first
 * and last are exactly 15 minutes apart order at the 50th, with 50 as evidence; the same
 * stretched by a second for four hours, and 49 in every closed 15 minutes (one every
 * 18,368 ms), never. */
static void test_edge_velocity_level_above_kept(void **state)
{
    (void)state;
    static const char *const sets[] = {VEL,
                                       "50",
                                       "toll_fraud.velocity_high_risk_warning",
                                       "20",
                                       "toll_fraud.velocity_high_risk_offhours",
                                       "0",
                                       "toll_fraud.slow_high_risk_calls",
                                       "100000",
                                       "toll_fraud.slow_high_risk_calls_warning",
                                       "0",
                                       NULL};
    struct fx *fx = new_fx(sets);
    for (int i = 0; i < 50; i++) {
        attempt_n(fx, "acc-v50", i, T0 + (int64_t)i * 15 * MIN / 49, CUBA);
        if (i == 48)
            assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, VEL), 0);
    }
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, VEL);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + 15 * MIN);
    assert_true(rec_evidence(o, "high_risk_calls_15m") == 50);
    for (int i = 0; i < 16 * 49; i++)
        attempt_n(fx, "acc-vs50", i, T0 + (int64_t)i * (15 * MIN + 1000) / 49, CUBA);
    for (int i = 0; i < 16 * 48; i++)
        attempt_n(fx, "acc-v49", i, T0 + (int64_t)i * 18368, CUBA);
    fx_tick(fx, T0 + 5 * HOUR);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ORDER, 0, VEL), 1);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, VEL), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    fx_destroy(fx);
}

#define SEQ "toll_fraud.sequential_dialling"

/* One attempt to +4930123<suffix as 3 digits>: a German block (not high-risk, so no other
 * rule counts it). */
static void scan_attempt(struct fx *fx, const char *account, int k, int suffix, int64_t ts)
{
    char id[32], to[32];
    snprintf(id, sizeof id, "sc-%d", k);
    snprintf(to, sizeof to, "+4930123%03d", suffix);
    attempt(fx, account, id, id, ts, to);
}

/* Ten distinct numbers of one block, all with the same last digits modulo 64 (000, 064, ...,
 * 576), the first and the last exactly 10 minutes apart: ordered at the 10th. Then a shuffled
 * scan whose numbers share last digits in every way (x00, x50, 0x0 ...): also at its 10th. */
static void test_edge_sequential_distinct_exact(void **state)
{
    struct fx *fx = *state;
    for (int k = 0; k < 10; k++) {
        int64_t t = k == 9 ? T0 + 10 * MIN : T0 + (int64_t)k * 60000;
        scan_attempt(fx, "acc-fold", k, k * 64, t);
        if (k == 8)
            assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, SEQ), 0);
    }
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, SEQ);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + 10 * MIN);
    assert_true(rec_evidence(o, "distinct_numbers_10m") == 10);

    static const int shuffled[] = {500, 0, 950, 50, 100, 900, 150, 450, 5, 550};
    for (int k = 0; k < 10; k++) {
        scan_attempt(fx, "acc-shuf", k, shuffled[k], T0 + (int64_t)k * 30000);
        if (k == 0)
            scan_attempt(fx, "acc-shuf", 100, shuffled[k], T0 + 1000); /* a redial */
        if (k == 8)
            assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ORDER, 0, SEQ), 1); /* acc-fold's */
    }
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ORDER, 0, SEQ), 2);
    const struct fx_rec *last = NULL;
    for (size_t i = 0;;) {
        const struct fx_rec *r = fx_next_finding(fx, &i);
        if (!r)
            break;
        if (r->kind == VIGIL_OUT_ORDER && fx_rec_rule_is(r, SEQ))
            last = r;
    }
    assert_non_null(last);
    assert_string_equal(last->account, "acc-shuf");
    assert_int_equal(rec_event_ts(last), T0 + 9 * 30000);
}

/* Ten distinct numbers stretched over 10 minutes and 1 second, a scan sustained for four
 * hours at that pace (new numbers all the time), and nine distinct numbers in every 10
 * minutes: never a scanning order or critical alert. */
static void test_edge_sequential_stretched_never(void **state)
{
    struct fx *fx = *state;
    for (int k = 0; k < 4 * 6 * 9; k++)
        scan_attempt(fx, "acc-s10", k, k % 1000, T0 + (int64_t)k * (10 * MIN + 1000) / 9);
    for (int k = 0; k < 4 * 6 * 8; k++)
        scan_attempt(fx, "acc-s9", k, (k * 7) % 1000, T0 + (int64_t)k * 75000);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, SEQ), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
}

/* sequential_dialling set to 30, above the TF_SEQ_EXACT numbers a range keeps: 30 distinct
 * numbers (last digits 0, 64, 128, ...: equal modulo 64, so the old fold saw few) whose first
 * and last are exactly 10 minutes apart order at the 30th; stretched by a second, never; 29
 * distinct numbers in every closed 10 minutes (one every 21,428 ms) for three hours, never. */
static void test_edge_sequential_level_above_kept(void **state)
{
    (void)state;
    static const char *const sets[] = {SEQ, "30", NULL};
    struct fx *fx = new_fx(sets);
    for (int k = 0; k < 30; k++) {
        scan_attempt(fx, "acc-s30", k, (k * 64) % 1000, T0 + (int64_t)k * 10 * MIN / 29);
        scan_attempt(fx, "acc-s30st", k, (k * 64) % 1000, T0 + (int64_t)k * (10 * MIN + 1000) / 29);
        if (k == 28)
            assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, SEQ), 0);
    }
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, SEQ);
    assert_non_null(o);
    assert_string_equal(o->account, "acc-s30");
    assert_int_equal(rec_event_ts(o), T0 + 10 * MIN);
    assert_true(rec_evidence(o, "distinct_numbers_10m") == 30);
    for (int k = 0; k < 3 * 28; k++)
        scan_attempt(fx, "acc-s29", k, (k * 7) % 1000, T0 + (int64_t)k * 21428);
    fx_tick(fx, T0 + 4 * HOUR);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ORDER, 0, SEQ), 1);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, SEQ), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    fx_destroy(fx);
}

#define SPEND "toll_fraud.spend_1h"

/* Call k of a spend series: an end with the exporter's cost to a German number of a block of
 * its own (not high-risk: only spend counts it), having run `secs` up to ts. */
static void spend_call(struct fx *fx, const char *account, int k, int64_t ts, int secs,
                       const char *cost)
{
    char id[32], to[32];
    snprintf(id, sizeof id, "sp-%d", k);
    snprintf(to, sizeof to, "+49305%02d%04d", k % 100, k);
    end_cost(fx, account, id, id, ts, to, secs, cost);
}

/* Four 15-minute calls back to back, the first starting exactly an hour before the last one
 * ends: EUR 100.01 is ordered at that end; EUR 100.00 is not (the limit is "above"). */
static void test_edge_spend_exact_hour(void **state)
{
    struct fx *fx = *state;
    for (int k = 1; k <= 4; k++) {
        spend_call(fx, "acc-sx", k, T0 + k * 15 * MIN, 900, k == 4 ? "25.01" : "25");
        spend_call(fx, "acc-s100", k, T0 + k * 15 * MIN, 900, "25");
    }
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, SPEND);
    assert_non_null(o);
    assert_string_equal(o->account, "acc-sx");
    assert_int_equal(rec_event_ts(o), T0 + 60 * MIN);
    assert_true(rec_evidence(o, "spend_eur_1h") == 100.01);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
}

/* The same stretched by one second (the first call starts a second before the hour: only
 * 900 of its 901 seconds count), a steady EUR 99.96 an hour in 10-minute calls for five
 * hours, and EUR 99.90 an hour in 30 two-minute calls an hour (more calls than are kept
 * whole) for five hours: never a spend order or critical alert. */
static void test_edge_spend_stretched_never(void **state)
{
    struct fx *fx = *state;
    for (int k = 1; k <= 4; k++)
        spend_call(fx, "acc-s901", k, T0 + k * 15 * MIN, k == 1 ? 901 : 900,
                   k == 4 ? "25.01" : "25");
    for (int k = 1; k <= 30; k++)
        spend_call(fx, "acc-steady", k, T0 + k * 10 * MIN, 600, "16.66");
    for (int k = 1; k <= 150; k++)
        spend_call(fx, "acc-short", k, T0 + k * 2 * MIN, 120, "3.33");
    fx_tick(fx, T0 + 6 * HOUR);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, SPEND), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
}

/* Forty calls in the hour, more than the TF_SPEND_SPANS kept in the account's array, the hour
 * starting mid-bucket (S = T0 + 2 min) inside the first call: call 0 runs [S - 30 s, S + 90 s]
 * for EUR 3 (EUR 2.25 of it inside), calls 1-39 run 90 s each back to back up to S + 1 h,
 * EUR 2.50 each but the last. Last EUR 2.76: EUR 100.01 in [S, S + 1 h], ordered at the last
 * end. Last EUR 2.75 (EUR 100.00), or the last call a second longer (the hour then starts a
 * second later: EUR 99.985), never; nor forty 90-second calls at EUR 2.50 back to back for
 * five hours (EUR 100.00 in every hour, never above). */
static void test_edge_spend_many_calls_exact(void **state)
{
    struct fx *fx = *state;
    const int64_t S = T0 + 2 * MIN;
    static const char *const acc[] = {"acc-m10001", "acc-m10000", "acc-mlong"};
    for (int a = 0; a < 3; a++) {
        spend_call(fx, acc[a], 0, S + 90000, 120, "3");
        for (int k = 1; k <= 39; k++) {
            int64_t end = S + 90000 + (int64_t)k * 90000;
            const char *cost = k < 39 ? "2.5" : a == 1 ? "2.75" : "2.76";
            spend_call(fx, acc[a], k, a == 2 && k == 39 ? end + 1000 : end,
                       a == 2 && k == 39 ? 91 : 90, cost);
        }
    }
    for (int k = 1; k <= 5 * 40; k++)
        spend_call(fx, "acc-msteady", k, S + (int64_t)k * 90000, 90, "2.5");
    fx_tick(fx, S + 6 * HOUR);
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, SPEND);
    assert_non_null(o);
    assert_string_equal(o->account, "acc-m10001");
    assert_int_equal(rec_event_ts(o), S + HOUR);
    assert_true(rec_evidence(o, "spend_eur_1h") == 100.01);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, SPEND), 1);
}

/* Round trip of an account holding ten ended calls (its spans grown past the small block)
 * and four number ranges, warned at EUR 90: B, given the account by checkpoint, orders at
 * the same call as C, which kept it all along, with the same spend; three hours later, with
 * two calls only (the spans back in the small block), neither finds anything more. */
static void test_checkpoint_round_trip_spans_grown(void **unused)
{
    (void)unused;
    struct fx *a = new_fx(NULL), *b = new_fx(NULL), *c = new_fx(NULL);
    struct fx *first[] = {a, c}, *second[] = {b, c};
    for (int f = 0; f < 2; f++) {
        for (int k = 1; k <= 10; k++)
            spend_call(first[f], "acc-rtspan", k, T0 + k * 5 * MIN, 300, "9");
    }
    assert_null(fx_find_rule(a, VIGIL_OUT_ORDER, 0, SPEND));
    size_t c_from = c->cap.n;
    fx_move_account(a, b, "acc-rtspan");
    for (int f = 0; f < 2; f++) {
        for (int k = 11; k <= 13; k++)
            spend_call(second[f], "acc-rtspan", k, T0 + k * 5 * MIN, 300, "9");
        for (int k = 14; k <= 15; k++)
            spend_call(second[f], "acc-rtspan", k, T0 + 3 * HOUR + k * 5 * MIN, 300, "9");
    }
    /* EUR 108 at the 12th call: the order and its critical alert. */
    assert_int_equal(fx_assert_same_findings(b, 0, c, c_from), 2);
    const struct fx_rec *o = fx_find_rule(b, VIGIL_OUT_ORDER, 0, SPEND);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + 12 * 5 * MIN);
    assert_true(rec_evidence(o, "spend_eur_1h") == 108);
    fx_destroy(a);
    fx_destroy(b);
    fx_destroy(c);
}

#define SLOW "toll_fraud.slow_high_risk"

/* Thirty high-risk attempts from a new account, the first and the last exactly 24 hours
 * apart: ordered at the 30th. Two 45-minute calls whose ends alone are seen, the first
 * having begun exactly 24 hours before the second ends: ordered at that end (90 minutes). */
static void test_edge_slow_exact_day(void **state)
{
    struct fx *fx = *state;
    for (int i = 0; i < 30; i++) {
        attempt_n(fx, "acc-slow", i, T0 + (int64_t)i * DAY / 29, CUBA);
        if (i == 28)
            assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, SLOW), 0);
    }
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, SLOW);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + DAY);
    assert_true(rec_evidence(o, "high_risk_calls_24h") == 30);

    end_cost(fx, "acc-slowm", "m-1", "m-1", T0 + 45 * MIN, CUBA "1000", 2700, "0.01");
    end_cost(fx, "acc-slowm", "m-2", "m-2", T0 + DAY, CUBA "2000", 2700, "0.01");
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ORDER, 0, SLOW), 2);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 2);
}

/* Stretched by one second (the first call began 24 h and 1 s before the last), and 29
 * calls in every 24 hours for three days: never a slow order or critical alert. */
static void test_edge_slow_stretched_never(void **state)
{
    struct fx *fx = *state;
    for (int i = 0; i < 30; i++)
        attempt_n(fx, "acc-slow1", i, T0 + (int64_t)i * (DAY + 1000) / 29, CUBA);
    end_cost(fx, "acc-slowm1", "m-1", "m-1", T0 + 45 * MIN, CUBA "1000", 2701, "0.01");
    end_cost(fx, "acc-slowm1", "m-2", "m-2", T0 + DAY, CUBA "2000", 2700, "0.01");
    for (int i = 0; i < 3 * 28; i++) /* one every 24 h / 28: 29 in a closed 24 h */
        attempt_n(fx, "acc-slow29", i, T0 + (int64_t)i * DAY / 28, CUBA);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, SLOW), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
}

/* Eight high-risk calls open at once: ordered at the 8th start. Seven open at every moment
 * for four hours (each call ends the millisecond before the next one starts): never a
 * concurrency order or critical alert (other rules may rightly see this much traffic). */
static void test_edge_concurrent_exact(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 8; i++)
        start_n(fx, "acc-c8", i, T0 + i * 1000, CUBA);
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, CONC);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + 8000);

    for (int i = 1; i <= 7; i++)
        start_n(fx, "acc-c7", i, T0 + i * 1000, CUBA);
    for (int i = 8; i < 8 + 7 * 8; i++) { /* call i replaces call i - 7, 30 minutes on */
        int64_t t = T0 + (int64_t)(i - 7) * 1000 + (int64_t)((i - 1) / 7) * 30 * MIN;
        end_n(fx, "acc-c7", i - 7, t - 1, CUBA, 1800);
        start_n(fx, "acc-c7", i, t, CUBA);
    }
    size_t n = 0;
    for (size_t k = 0;;) {
        const struct fx_rec *r = fx_next_finding(fx, &k);
        if (!r)
            break;
        if (fx_rec_rule_is(r, CONC) && r->severity == VIGIL_SEV_CRITICAL &&
            strcmp(r->account, "acc-c7") == 0)
            n++;
    }
    assert_int_equal(n, 0);
}

/* events.md allows 60 s of disorder: the 20th call, 50 s older than the 19th (which came
 * 14 min 40 s after the first), completes the 15 minutes ending at the 19th: ordered at it. */
static void test_edge_velocity_late_call(void **state)
{
    struct fx *fx = *state;
    for (int i = 0; i < 19; i++)
        attempt_n(fx, "acc-vlate", i, T0 + (int64_t)i * (14 * MIN + 40000) / 18, CUBA);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ORDER, 0, VEL), 0);
    int64_t late = T0 + 14 * MIN + 40000 - 50000;
    attempt_n(fx, "acc-vlate", 19, late, CUBA);
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, VEL);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), late);
}

/* velocity_high_risk at 33, above the TF_VEL_EXACT times kept: one call at 50 s, 31 at 60 to
 * 90 s, one at 1000 s, then one at 950 s arriving 50 s late. [50 s, 950 s] holds 33: ordered
 * at the late call, though newer ones had pushed the first out of the ring. The same with
 * the first call a second earlier (32 in any 15 minutes): never. */
static void late_velocity_series(struct fx *fx, const char *account, int64_t first)
{
    int k = 0;
    attempt_n(fx, account, k++, T0 + first, CUBA);
    for (int s = 60; s <= 90; s++)
        attempt_n(fx, account, k++, T0 + s * 1000LL, CUBA);
    attempt_n(fx, account, k++, T0 + 1000000, CUBA);
    attempt_n(fx, account, k++, T0 + 950000, CUBA);
}

static void test_edge_velocity_late_call_above_kept(void **state)
{
    (void)state;
    static const char *const sets[] = {VEL,
                                       "33",
                                       "toll_fraud.velocity_high_risk_offhours",
                                       "0",
                                       "toll_fraud.slow_high_risk_calls",
                                       "100000",
                                       "toll_fraud.slow_high_risk_calls_warning",
                                       "0",
                                       NULL};
    struct fx *fx = new_fx(sets);
    late_velocity_series(fx, "acc-vl33", 50000);
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, VEL);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + 950000);
    assert_true(rec_evidence(o, "high_risk_calls_15m") == 33);
    fx_destroy(fx);

    fx = new_fx(sets);
    late_velocity_series(fx, "acc-vl32", 49000);
    fx_tick(fx, T0 + HOUR);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ORDER, 0, VEL), 0);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, VEL), 0);
    fx_destroy(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_eight_parallel_calls_block, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_seven_parallel_calls_warn_only, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_call_centre_left_alone, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sequential_calls_do_not_add_up, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_start_counts_once, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ends_and_emergency, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_end_before_start, setup, fx_teardown),
        cmocka_unit_test(test_allowlisted_account_alert_only),
        cmocka_unit_test_setup_teardown(test_open_calls_expire_on_tick, setup, fx_teardown),
        cmocka_unit_test(test_expiry_by_event_time_and_config),
        cmocka_unit_test(test_thresholds_from_config),
        cmocka_unit_test(test_rearm_after_episode),
        cmocka_unit_test_setup_teardown(test_untracked_overflow, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_counters_publish_and_roll, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_many_accounts, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_velocity_twenty_calls_block, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_velocity_below_threshold, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_edge_velocity_exact_window, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_edge_velocity_stretched_never, setup, fx_teardown),
        cmocka_unit_test(test_edge_velocity_level_above_kept),
        cmocka_unit_test(test_edge_sequential_level_above_kept),
        cmocka_unit_test_setup_teardown(test_edge_spend_many_calls_exact, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_edge_velocity_late_call, setup, fx_teardown),
        cmocka_unit_test(test_edge_velocity_late_call_above_kept),
        cmocka_unit_test_setup_teardown(test_edge_sequential_distinct_exact, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_edge_sequential_stretched_never, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_edge_spend_exact_hour, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_edge_spend_stretched_never, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_edge_slow_exact_day, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_edge_slow_stretched_never, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_edge_concurrent_exact, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_velocity_offhours, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_offhours, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_spend_from_exporter_cost, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_spend_domestic_suspends, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_spend_open_calls_at_tick, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sequential_dialling_scan, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sequential_dialling_range_again, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sequential_dialling_domestic_and_not, setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_slow_attack_calls, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_slow_attack_minutes, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_slow_attack_open_call, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_slow_attack_needs_no_history, setup, fx_teardown),
        cmocka_unit_test(test_profile_levels),
        cmocka_unit_test_setup_teardown(test_call_centre_office_day_left_alone, setup, fx_teardown),
        cmocka_unit_test(test_call_centre_weekend_profile_default),
        cmocka_unit_test(test_call_centre_weekend_high_risk),
        cmocka_unit_test_setup_teardown(test_business_usa_india_left_alone, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_family_abroad_left_alone, setup, fx_teardown),
        cmocka_unit_test(test_checkpoint_round_trip_events),
        cmocka_unit_test(test_checkpoint_round_trip_spend_at_tick),
        cmocka_unit_test(test_checkpoint_round_trip_spans_grown),
        cmocka_unit_test(test_checkpoint_round_trip_slow_at_tick),
        cmocka_unit_test(test_checkpoint_load_rearms_expiry),
        cmocka_unit_test(test_checkpoint_load_replaces),
        cmocka_unit_test(test_checkpoint_load_takes_profile),
        cmocka_unit_test_setup_teardown(test_checkpoint_save_unknown, setup, fx_teardown),
        cmocka_unit_test(test_checkpoint_bad_bytes),
        cmocka_unit_test(test_checkpoint_corrupt_byte),
        cmocka_unit_test_setup_teardown(test_checkpoint_forget, setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* test_continuous.c - the continuous detector through its vtable: events parsed from the
 * wire format, the real config, profiles and emit layer, and a sink that records every order,
 * alert and counter set together with the stream time at which it came out. Rules:
 * continuous.single_call, continuous.near_continuous. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

#define T0 1795399800000LL /* a multiple of 5 minutes, near events.md's example time */
#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define LATE (5 * MIN) /* detection.md: open calls within 5 minutes of the mark */
#define MAX_RECS 8192

/* --- fixture (tests/unit/detector_fixture.h) ----------------------------------------------------
 */

static struct fx *new_fx(const char *const *sets)
{
    return fx_create("continuous", sets, MAX_RECS, T0 + 3 * DAY);
}

static int setup(void **state)
{
    *state = new_fx(NULL);
    return 0;
}

/* --- feeding events ----------------------------------------------------------------------- */

static void call_start_to(struct fx *fx, const char *account, const char *id, const char *call_id,
                          int64_t ts, const char *dir, const char *to)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_start\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
             "\"call_id\":\"%s\",\"from\":\"+31201234567\",\"to\":\"%s\","
             "\"dir\":\"%s\",\"device\":\"cpe-1\"}",
             id, (long long)ts, account, call_id, to, dir);
    fx_feed_json(fx, account, json);
}

static void call_start(struct fx *fx, const char *account, const char *id, const char *call_id,
                       int64_t ts, const char *dir)
{
    call_start_to(fx, account, id, call_id, ts, dir, "+31207654321");
}

static void call_end(struct fx *fx, const char *account, const char *id, const char *call_id,
                     int64_t ts, int64_t duration_s)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_end\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
             "\"call_id\":\"%s\",\"from\":\"+31201234567\",\"to\":\"+31207654321\","
             "\"dir\":\"out\",\"duration\":%lld}",
             id, (long long)ts, account, call_id, (long long)duration_s);
    fx_feed_json(fx, account, json);
}

static void sms(struct fx *fx, const char *account, int64_t ts)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"sms\",\"id\":\"sms-%lld\",\"ts\":%lld,\"account\":\"%s\","
             "\"from\":\"+31612345678\",\"to\":\"0687654321\"}",
             (long long)ts, (long long)ts, account);
    fx_feed_json(fx, account, json);
}

/* Like the pipeline after a batch: the watermark is the newest event time minus 60 s. */
static void tick_stream(struct fx *fx)
{
    fx_tick(fx, fx->cap.stream_ts - MIN);
}

/* Event time advances from `from` to `to` through another account only: an SMS from
 * acc-clock every minute and a 30-second call of it every 10 minutes, each followed by a
 * tick as the pipeline would. */
static void clock_run(struct fx *fx, int64_t from, int64_t to)
{
    char id[64], cid[64];
    for (int64_t t = from; t <= to; t += MIN) {
        int64_t m = (t - T0) / MIN, r = ((m % 10) + 10) % 10;
        if (r == 0) {
            snprintf(id, sizeof id, "clk-s-%lld", (long long)m);
            snprintf(cid, sizeof cid, "clk-%lld", (long long)m);
            call_start(fx, "acc-clock", id, cid, t, "out");
        } else if (r == 1) {
            snprintf(id, sizeof id, "clk-e-%lld", (long long)m);
            snprintf(cid, sizeof cid, "clk-%lld", (long long)(m - 1));
            call_end(fx, "acc-clock", id, cid, t - 30000, 30);
        }
        sms(fx, "acc-clock", t);
        tick_stream(fx);
    }
}

/* --- looking at what came out ------------------------------------------------------------- */

static int64_t rec_event_ts(const struct fx_rec *r)
{
    struct fx_json d;
    fx_json_parse(&d, r->json);
    return fx_json_int(&d, fx_json_get(&d, 0, "event_ts"));
}

/* Evidence value `name` of an order or alert. */
static long long rec_evidence(const struct fx_rec *r, const char *name)
{
    struct fx_json d;
    fx_json_parse(&d, r->json);
    int ev = fx_json_get(&d, 0, "evidence");
    assert_true(ev > 0);
    return fx_json_int(&d, fx_json_get(&d, ev, name));
}

static bool rec_has_sample(const struct fx_rec *r, const char *event_id)
{
    struct fx_json d;
    fx_json_parse(&d, r->json);
    int ev = fx_json_get(&d, 0, "evidence");
    assert_true(ev > 0);
    return fx_json_array_has(&d, ev, "sample_event_ids", event_id);
}

/* Orders or alerts (kind) of `account`, of `severity` (0: any) and `rule` (NULL: any). */
static size_t count_out(const struct fx *fx, enum vigil_out_kind kind, const char *account,
                        int severity, const char *rule)
{
    size_t n = 0;
    for (size_t i = 0; i < fx->cap.n; i++) {
        const struct fx_rec *r = &fx->cap.recs[i];
        if (r->kind == kind && (!account || strcmp(r->account, account) == 0) &&
            (severity == 0 || (int)r->severity == severity) && (!rule || fx_rec_rule_is(r, rule)))
            n++;
    }
    return n;
}

static const struct fx_rec *find_out(const struct fx *fx, enum vigil_out_kind kind,
                                     const char *account, int severity, const char *rule)
{
    for (size_t i = 0; i < fx->cap.n; i++) {
        const struct fx_rec *r = &fx->cap.recs[i];
        if (r->kind == kind && (!account || strcmp(r->account, account) == 0) &&
            (severity == 0 || (int)r->severity == severity) && (!rule || fx_rec_rule_is(r, rule)))
            return r;
    }
    return NULL;
}

#define SINGLE "continuous.single_call"
#define NEAR "continuous.near_continuous"

/* --- single call -------------------------------------------------------------------------- */

/* A baby monitor: one call, no end; only another account's events move event time. Warning at
 * start + 4 h, suspend order at start + 8 h, each within 5 minutes of stream time of the mark;
 * after that nothing more for the call, and after 24 h it is no longer open. */
static void test_single_call_open_by_watermark(void **state)
{
    struct fx *fx = *state;
    clock_run(fx, T0 - 10 * MIN, T0 - MIN);
    call_start(fx, "acc-monitor", "mon-start", "mon-1", T0, "out");
    tick_stream(fx);

    clock_run(fx, T0, T0 + 4 * HOUR - MIN);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, "acc-monitor", 0, NULL), 0);
    clock_run(fx, T0 + 4 * HOUR, T0 + 4 * HOUR + LATE);
    const struct fx_rec *w =
        find_out(fx, VIGIL_OUT_ALERT, "acc-monitor", VIGIL_SEV_WARNING, SINGLE);
    assert_non_null(w);
    assert_int_equal(rec_event_ts(w), T0 + 4 * HOUR);
    assert_true(w->stream_ts <= T0 + 4 * HOUR + LATE);
    assert_true(w->stream_ts >= T0 + 4 * HOUR);
    assert_int_equal(rec_evidence(w, "threshold"), 240);
    assert_true(rec_has_sample(w, "mon-start"));
    assert_int_equal(count_out(fx, VIGIL_OUT_ORDER, NULL, 0, NULL), 0);

    fx_tick(fx, fx->cap.stream_ts - MIN);
    const struct fx_rec *c = fx_last_counters(fx, "acc-monitor");
    assert_int_equal(fx_counter(c, "open_calls"), 1);
    assert_true(fx_counter(c, "longest_open_min") >= 240);

    clock_run(fx, T0 + 4 * HOUR + LATE + MIN, T0 + 8 * HOUR - MIN);
    assert_int_equal(count_out(fx, VIGIL_OUT_ORDER, NULL, 0, NULL), 0);
    clock_run(fx, T0 + 8 * HOUR, T0 + 8 * HOUR + LATE);
    const struct fx_rec *o = find_out(fx, VIGIL_OUT_ORDER, "acc-monitor", 0, SINGLE);
    assert_non_null(o);
    assert_int_equal(o->action, VIGIL_ACT_SUSPEND);
    assert_int_equal(o->severity, VIGIL_SEV_CRITICAL);
    assert_string_equal(o->detector, "continuous");
    assert_int_equal(rec_event_ts(o), T0 + 8 * HOUR);
    assert_true(o->stream_ts <= T0 + 8 * HOUR + LATE);
    assert_int_equal(rec_evidence(o, "threshold"), 480);
    assert_int_equal(rec_evidence(o, "open_minutes"), 480);
    assert_true(rec_has_sample(o, "mon-start"));
    struct fx_json d;
    fx_json_parse(&d, o->json);
    assert_true(fx_json_array_has(&d, 0, "exempt", "112"));
    const struct fx_rec *a =
        find_out(fx, VIGIL_OUT_ALERT, "acc-monitor", VIGIL_SEV_CRITICAL, SINGLE);
    assert_non_null(a);
    assert_int_equal(rec_event_ts(a), T0 + 8 * HOUR);

    /* Nothing more for that call: not at 12 h or 18 h of union, not at its expiry. */
    size_t findings = count_out(fx, VIGIL_OUT_ALERT, "acc-monitor", 0, NULL) +
                      count_out(fx, VIGIL_OUT_ORDER, "acc-monitor", 0, NULL);
    clock_run(fx, T0 + 8 * HOUR + LATE + MIN, T0 + 25 * HOUR);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, "acc-monitor", 0, NULL) +
                         count_out(fx, VIGIL_OUT_ORDER, "acc-monitor", 0, NULL),
                     findings);
    c = fx_last_counters(fx, "acc-monitor");
    assert_int_equal(fx_counter(c, "open_calls"), 0);
    assert_int_equal(fx_counter(c, "longest_open_min"), 0);
    /* [T0, T0 + 24 h) stayed connected; the window now starts about an hour later. */
    assert_in_range(fx_counter(c, "connected_min_24h"), 1370, 1390);
    /* The clock account, 30 s every 10 minutes, is nowhere near anything. */
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, "acc-clock", 0, NULL), 0);
    assert_in_range(fx_counter(fx_last_counters(fx, "acc-clock"), "connected_min_24h"), 70, 74);
}

/* Without any tick, the account's own later events show that the marks have passed. */
static void test_single_call_by_own_events(void **state)
{
    struct fx *fx = *state;
    call_start(fx, "acc-router", "r-1", "call-a", T0, "in");
    call_start(fx, "acc-router", "r-2", "call-b", T0 + 4 * HOUR + 30000, "out");
    const struct fx_rec *w = find_out(fx, VIGIL_OUT_ALERT, "acc-router", VIGIL_SEV_WARNING, SINGLE);
    assert_non_null(w);
    assert_int_equal(rec_event_ts(w), T0 + 4 * HOUR);
    assert_true(rec_has_sample(w, "r-1"));
    call_end(fx, "acc-router", "r-3", "call-b", T0 + 4 * HOUR + 90000, 60);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, "acc-router", 0, NULL), 1);

    /* The end of call-a, 8 h 10 s after its start, arrives before any tick saw the mark. */
    call_end(fx, "acc-router", "r-4", "call-a", T0 + 8 * HOUR + 10000, 8 * 3600 + 10);
    const struct fx_rec *o = find_out(fx, VIGIL_OUT_ORDER, "acc-router", 0, SINGLE);
    assert_non_null(o);
    assert_int_equal(o->action, VIGIL_ACT_SUSPEND);
    assert_int_equal(rec_event_ts(o), T0 + 8 * HOUR);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, "acc-router", VIGIL_SEV_WARNING, NULL), 1);
    fx_tick(fx, T0 + 9 * HOUR);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-router"), "open_calls"), 0);
    assert_int_equal(count_out(fx, VIGIL_OUT_ORDER, NULL, 0, NULL), 1);
}

/* A call_end whose start was lost: its interval counts, and a 9-hour one is reported at
 * start + 8 h as its own fields show. */
static void test_end_without_start(void **state)
{
    struct fx *fx = *state;
    call_end(fx, "acc-lost", "l-1", "lost-1", T0 + 3 * HOUR, 3 * 3600);
    fx_tick(fx, T0 + 3 * HOUR);
    const struct fx_rec *c = fx_last_counters(fx, "acc-lost");
    assert_int_equal(fx_counter(c, "connected_min_24h"), 180);
    assert_int_equal(fx_counter(c, "open_calls"), 0);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, NULL, 0, NULL), 0);

    call_end(fx, "acc-lost2", "l-2", "lost-2", T0 + 9 * HOUR, 9 * 3600);
    const struct fx_rec *o = find_out(fx, VIGIL_OUT_ORDER, "acc-lost2", 0, SINGLE);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + 8 * HOUR);
    assert_true(rec_has_sample(o, "l-2"));

    /* The start of a call whose end came first (disorder) does not open it again. */
    call_end(fx, "acc-dis", "d-2", "dis-1", T0 + 120000, 60);
    call_start(fx, "acc-dis", "d-1", "dis-1", T0 + 60000, "out");
    fx_tick(fx, T0 + 120000);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-dis"), "open_calls"), 0);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-dis"), "connected_min_24h"), 1);
    fx_tick(fx, T0 + 10 * HOUR);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, "acc-dis", 0, NULL), 0);
}

/* At-least-once delivery: a start twice is one open call; an end twice adds its time once. */
static void test_duplicates_count_once(void **state)
{
    struct fx *fx = *state;
    call_start(fx, "acc-dup", "u-1", "dup-1", T0, "out");
    call_start(fx, "acc-dup", "u-1", "dup-1", T0, "out");
    fx_tick(fx, T0 + MIN);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-dup"), "open_calls"), 1);
    call_end(fx, "acc-dup", "u-2", "dup-1", T0 + 3 * HOUR, 3 * 3600);
    call_end(fx, "acc-dup", "u-2", "dup-1", T0 + 3 * HOUR, 3 * 3600);
    /* And a late repeat of the start does not open the ended call again. */
    call_start(fx, "acc-dup", "u-1", "dup-1", T0, "out");
    fx_tick(fx, T0 + 3 * HOUR);
    const struct fx_rec *c = fx_last_counters(fx, "acc-dup");
    assert_int_equal(fx_counter(c, "open_calls"), 0);
    assert_int_equal(fx_counter(c, "connected_min_24h"), 180);
    /* A 2-minute call inside one 5-minute slot: its repeated end must not make it 4. */
    call_start(fx, "acc-dup", "u-3", "dup-2", T0 + 4 * HOUR + MIN, "out");
    call_end(fx, "acc-dup", "u-4", "dup-2", T0 + 4 * HOUR + 3 * MIN, 120);
    call_end(fx, "acc-dup", "u-4", "dup-2", T0 + 4 * HOUR + 3 * MIN, 120);
    fx_tick(fx, T0 + 4 * HOUR + 3 * MIN);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-dup"), "connected_min_24h"), 182);
    fx_tick(fx, T0 + 10 * HOUR);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, NULL, 0, NULL), 0);
}

/* A start whose end never comes stops being open after 24 h; with a shorter configured limit
 * it goes before the 4-hour mark and nothing is reported. */
static void test_open_call_expiry(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"continuous.max_open_call_ms", "10800000", NULL};
    struct fx *fx = new_fx(sets);
    call_start(fx, "acc-exp", "x-1", "exp-1", T0, "out");
    fx_tick(fx, T0 + 3 * HOUR - 1);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-exp"), "open_calls"), 1);
    fx_tick(fx, T0 + 3 * HOUR);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-exp"), "open_calls"), 0);
    fx_tick(fx, T0 + 10 * HOUR);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, NULL, 0, NULL), 0);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-exp"), "connected_min_24h"), 180);
    /* Its end arriving later closes nothing, and adds no time twice. */
    call_end(fx, "acc-exp", "x-2", "exp-1", T0 + 10 * HOUR, 10 * 3600);
    fx_tick(fx, T0 + 10 * HOUR);
    fx_destroy(fx);
}

/* Thresholds per profile: a call centre's operator allows 10-hour calls. */
static void test_profile_thresholds(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"profiles.callcenter", "acc-cc",
                                       "continuous.single_call_critical_min@callcenter", "600",
                                       NULL};
    struct fx *fx = new_fx(sets);
    call_start(fx, "acc-cc", "p-1", "cc-1", T0, "out");
    call_start(fx, "acc-home", "p-2", "home-1", T0, "out");
    for (int64_t t = T0; t <= T0 + 9 * HOUR; t += 5 * MIN)
        fx_tick(fx, t);
    assert_non_null(find_out(fx, VIGIL_OUT_ORDER, "acc-home", 0, SINGLE));
    assert_null(find_out(fx, VIGIL_OUT_ORDER, "acc-cc", 0, NULL));
    assert_non_null(find_out(fx, VIGIL_OUT_ALERT, "acc-cc", VIGIL_SEV_WARNING, SINGLE));
    fx_tick(fx, T0 + 10 * HOUR);
    const struct fx_rec *o = find_out(fx, VIGIL_OUT_ORDER, "acc-cc", 0, SINGLE);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + 10 * HOUR);
    assert_int_equal(rec_evidence(o, "threshold"), 600);
    fx_destroy(fx);
}

/* --- near-continuous ---------------------------------------------------------------------- */

/* 19 calls of 58 minutes back to back with 2-minute gaps: the union passes 12 h during the
 * 13th call and 18 h during the 19th (18 x 58 = 1044 min, + 36 min); both are found while
 * that call is open, within 5 minutes of stream time. */
static void test_near_continuous_repeated_calls(void **state)
{
    struct fx *fx = *state;
    char id[32], cid[32];
    int64_t t = T0;
    for (int i = 0; i < 19; i++) {
        int64_t s = T0 + i * HOUR, e = s + 58 * MIN;
        snprintf(id, sizeof id, "n-s-%d", i);
        snprintf(cid, sizeof cid, "near-%d", i);
        if (t < s)
            clock_run(fx, t, s - MIN);
        call_start(fx, "acc-near", id, cid, s, "out");
        tick_stream(fx);
        clock_run(fx, s, e - MIN);
        snprintf(id, sizeof id, "n-e-%d", i);
        call_end(fx, "acc-near", id, cid, e, 58 * 60);
        tick_stream(fx);
        t = e;
    }
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, "acc-near", 0, SINGLE), 0);

    const struct fx_rec *w = find_out(fx, VIGIL_OUT_ALERT, "acc-near", VIGIL_SEV_WARNING, NEAR);
    assert_non_null(w);
    int64_t wmark = T0 + 12 * HOUR + 24 * MIN;
    assert_in_range(rec_event_ts(w), wmark - LATE, wmark + LATE);
    assert_true(w->stream_ts <= wmark + LATE);
    assert_int_equal(rec_evidence(w, "threshold"), 720);

    const struct fx_rec *o = find_out(fx, VIGIL_OUT_ORDER, "acc-near", 0, NEAR);
    assert_non_null(o);
    assert_int_equal(o->action, VIGIL_ACT_SUSPEND);
    int64_t mark = T0 + 18 * HOUR + 36 * MIN;
    assert_in_range(rec_event_ts(o), mark - LATE, mark + LATE);
    assert_true(o->stream_ts <= mark + LATE);
    assert_int_equal(rec_evidence(o, "threshold"), 1080);
    assert_in_range(rec_evidence(o, "connected_min_24h"), 1080, 1085);
    assert_true(rec_has_sample(o, "n-s-18"));
    assert_int_equal(count_out(fx, VIGIL_OUT_ORDER, NULL, 0, NULL), 1);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, "acc-near", VIGIL_SEV_CRITICAL, NEAR), 1);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-near"), "connected_min_24h"), 19 * 58);
}

/* The same calls with no ticks at all: found at the call_end that completes 18 h. */
static void test_near_continuous_at_call_end(void **state)
{
    struct fx *fx = *state;
    char id[32], cid[32];
    for (int i = 0; i < 19; i++) {
        int64_t s = T0 + i * HOUR, e = s + 58 * MIN;
        snprintf(id, sizeof id, "n-s-%d", i);
        snprintf(cid, sizeof cid, "near-%d", i);
        call_start(fx, "acc-near", id, cid, s, "out");
        snprintf(id, sizeof id, "n-e-%d", i);
        call_end(fx, "acc-near", id, cid, e, 58 * 60);
        if (i < 18)
            assert_int_equal(count_out(fx, VIGIL_OUT_ORDER, NULL, 0, NULL), 0);
    }
    const struct fx_rec *o = find_out(fx, VIGIL_OUT_ORDER, "acc-near", 0, NEAR);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + 18 * HOUR + 58 * MIN);
    assert_int_equal(rec_evidence(o, "connected_min_24h"), 1102);
    assert_true(rec_has_sample(o, "n-e-18"));
    /* The warning came at the 13th call's end (13 x 58 = 754 min). */
    const struct fx_rec *w = find_out(fx, VIGIL_OUT_ALERT, "acc-near", VIGIL_SEV_WARNING, NEAR);
    assert_non_null(w);
    assert_int_equal(rec_event_ts(w), T0 + 12 * HOUR + 58 * MIN);
}

/* Parallel calls do not add up: three rounds of three parallel calls of 3 h 50 min (34.5 h of
 * calls, 11.5 h of union) stay below even the warning; two more rounds bring the union to
 * 19 h 10 min, and the rule then warns and suspends. No call reaches 4 h. */
static void test_parallel_calls_do_not_add_up(void **state)
{
    struct fx *fx = *state;
    char id[32], cid[32];
    for (int r = 0; r < 5; r++) {
        int64_t s = T0 + r * 4 * HOUR, e = s + 230 * MIN;
        for (int k = 0; k < 3; k++) {
            snprintf(id, sizeof id, "p-s-%d-%d", r, k);
            snprintf(cid, sizeof cid, "par-%d-%d", r, k);
            call_start(fx, "acc-par", id, cid, s + k * 1000, "out");
        }
        for (int64_t t = s + 5 * MIN; t < e; t += 5 * MIN)
            fx_tick(fx, t);
        for (int k = 0; k < 3; k++) {
            snprintf(id, sizeof id, "p-e-%d-%d", r, k);
            snprintf(cid, sizeof cid, "par-%d-%d", r, k);
            call_end(fx, "acc-par", id, cid, e + k * 1000, 230 * 60);
        }
        fx_tick(fx, e + 5 * MIN);
        if (r == 2) {
            assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, NULL, 0, NULL), 0);
            assert_int_equal(fx_counter(fx_last_counters(fx, "acc-par"), "connected_min_24h"), 690);
        }
    }
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, NULL, 0, SINGLE), 0);
    /* Round 4 (index 3) passes 720 min 30 min in; round 5 passes 1080 min 160 min in. */
    const struct fx_rec *w = find_out(fx, VIGIL_OUT_ALERT, "acc-par", VIGIL_SEV_WARNING, NEAR);
    assert_non_null(w);
    assert_in_range(rec_event_ts(w), T0 + 12 * HOUR + 30 * MIN, T0 + 12 * HOUR + 35 * MIN);
    const struct fx_rec *o = find_out(fx, VIGIL_OUT_ORDER, "acc-par", 0, NEAR);
    assert_non_null(o);
    assert_in_range(rec_event_ts(o), T0 + 16 * HOUR + 160 * MIN, T0 + 16 * HOUR + 165 * MIN);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-par"), "connected_min_24h"), 5 * 230);
}

/* Many accounts with open calls at once: each is judged at its own marks through the timer
 * heap, whatever the order their calls started in; calls that end in time are forgotten. */
static void test_many_accounts_timers(void **state)
{
    struct fx *fx = *state;
    char acct[32], id[32];
    for (int i = 0; i < 300; i++) {
        /* Starts spread over 50 minutes in a scrambled order of accounts. */
        int k = (i * 97) % 300;
        snprintf(acct, sizeof acct, "acc-m%d", k);
        snprintf(id, sizeof id, "m-s-%d", k);
        call_start(fx, acct, id, "call", T0 + k * 10000, k % 2 ? "in" : "out");
    }
    for (int k = 0; k < 300; k++) {
        if (k % 100 == 42)
            continue; /* three calls are never hung up */
        snprintf(acct, sizeof acct, "acc-m%d", k);
        snprintf(id, sizeof id, "m-e-%d", k);
        call_end(fx, acct, id, "call", T0 + k * 10000 + HOUR + k * 30000, 3600 + k * 30);
    }
    for (int64_t t = T0; t <= T0 + 9 * HOUR; t += MIN)
        fx_tick(fx, t);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, NULL, VIGIL_SEV_WARNING, SINGLE), 3);
    assert_int_equal(count_out(fx, VIGIL_OUT_ORDER, NULL, 0, SINGLE), 3);
    assert_int_equal(count_out(fx, VIGIL_OUT_ORDER, NULL, 0, NULL), 3);
    for (int k = 42; k < 300; k += 100) {
        snprintf(acct, sizeof acct, "acc-m%d", k);
        const struct fx_rec *w = find_out(fx, VIGIL_OUT_ALERT, acct, VIGIL_SEV_WARNING, SINGLE);
        assert_non_null(w);
        assert_int_equal(rec_event_ts(w), T0 + k * 10000 + 4 * HOUR);
        const struct fx_rec *o = find_out(fx, VIGIL_OUT_ORDER, acct, 0, SINGLE);
        assert_non_null(o);
        assert_int_equal(rec_event_ts(o), T0 + k * 10000 + 8 * HOUR);
        assert_int_equal(fx_counter(fx_last_counters(fx, acct), "open_calls"), 1);
    }
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-m299"), "open_calls"), 0);
}

/* Timers must fire on time, not only carry the right event time, however many compactions
 * of the heap run meanwhile: long calls started in shuffled order among short calls that
 * leave stale entries behind; at every minute of watermark exactly the long calls whose
 * 4 h mark has passed have been reported. */
static void test_timers_fire_on_time_through_compactions(void **state)
{
    struct fx *fx = *state;
    enum { MON = 120, CHURN = 60 };
    char acct[32], id[48], cid[32];
    int64_t mark[MON], mon_start[MON];
    for (int j = 0; j < MON; j++) { /* shuffled starts, 89 s apart */
        mon_start[j] = T0 + (int64_t)((j * 37) % MON) * 89000 + 250;
        mark[j] = INT64_MAX;
    }
    long long total = 0;
    for (int64_t t = T0; t <= T0 + 7 * HOUR + 30 * MIN; t += MIN) {
        if (t < T0 + 3 * HOUR) {
            for (int j = 0; j < MON; j++)
                if (mon_start[j] >= t && mon_start[j] < t + MIN) {
                    snprintf(acct, sizeof acct, "acc-mon%d", j);
                    snprintf(id, sizeof id, "mon-start-%d", j);
                    call_start(fx, acct, id, "mon", mon_start[j], "out");
                    mark[j] = mon_start[j] + 4 * HOUR;
                }
            long long m = (long long)((t - T0) / MIN);
            if (m % 15 == 0) /* end memory (10 min) gone by the next round: stale 4 h entries */
                for (int k = 0; k < CHURN; k++) {
                    snprintf(acct, sizeof acct, "acc-s%d", k);
                    snprintf(cid, sizeof cid, "s%d-%lld", k, m);
                    snprintf(id, sizeof id, "s-s%d-%lld", k, m);
                    call_start(fx, acct, id, cid, t + k * 500, "out");
                    snprintf(id, sizeof id, "s-e%d-%lld", k, m);
                    call_end(fx, acct, id, cid, t + k * 500 + 30000, 30);
                }
        }
        fx_tick(fx, t);
        total += (long long)count_out(fx, VIGIL_OUT_ALERT, NULL, VIGIL_SEV_WARNING, SINGLE);
        fx->cap.n = 0;
        long long want = 0;
        for (int j = 0; j < MON; j++)
            want += mark[j] <= t;
        if (total != want)
            fail_msg("at watermark T0%+lld min: %lld single-call warnings, want %lld",
                     (long long)((t - T0) / MIN), total, want);
    }
    assert_int_equal(total, MON);
}

/* Timers due at the same time fire in the order of their accounts' names, whatever order they
 * were armed in: the order brake then holds the same orders after a restart. */
static void test_same_deadline_fires_in_name_order(void **state)
{
    struct fx *fx = *state;
    struct fx *rev = new_fx(NULL);
    static const char *names[] = {"acc-d", "acc-a", "acc-c", "acc-b", "acc-e"};
    enum { N = sizeof names / sizeof names[0] };
    char id[32];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "tie-%d", i);
        call_start(fx, names[i], id, "tie", T0, "out");
        call_start(rev, names[N - 1 - i], id, "tie", T0, "out");
    }
    fx_tick(fx, T0 + 4 * HOUR + MIN);
    fx_tick(rev, T0 + 4 * HOUR + MIN);
    const char *prev = "";
    size_t seen = 0;
    for (size_t i = 0, j = 0; i < fx->cap.n; i++) {
        const struct fx_rec *r = &fx->cap.recs[i];
        if (r->kind != VIGIL_OUT_ALERT)
            continue;
        while (j < rev->cap.n && rev->cap.recs[j].kind != VIGIL_OUT_ALERT)
            j++;
        assert_true(j < rev->cap.n);
        assert_string_equal(r->account, rev->cap.recs[j++].account);
        assert_true(strcmp(prev, r->account) < 0);
        prev = r->account;
        seen++;
    }
    assert_int_equal(seen, N);
    fx_destroy(rev);
}

/* A call longer than the 25 h of stretches kept, whose start was lost, ends after an older
 * stretch is dropped: the union must still load back (nothing before its floor). */
static void test_checkpoint_long_lost_start_loads(void **state)
{
    struct fx *fx = *state;
    call_start(fx, "acc-lost", "ls-1", "lc-1", T0, "out");
    call_end(fx, "acc-lost", "le-1", "lc-1", T0 + MIN, 60);
    fx_tick(fx, T0 + 2 * MIN);
    call_end(fx, "acc-lost", "le-2", "lc-2", T0 + 26 * HOUR, 26 * 3600 + 600); /* start lost */
    struct fx *to = new_fx(NULL);
    fx_move_account(fx, to, "acc-lost");
    fx_destroy(to);
}

/* Short calls, one per account every 15 minutes, leave stale timer entries behind (each
 * call's start deadline is superseded by its end's, 10 minutes later), far more than the
 * heap's first 256 slots; dropped when the heap is full, they must take no live entry with
 * them nor mix up whose entry is whose: the long calls' marks fire at their exact times, for
 * their own accounts only. */
static void test_stale_timers_dropped(void **state)
{
    struct fx *fx = *state;
    char acct[32], id[48], cid[32];
    int monitors = 0;
    for (int64_t t = T0; t < T0 + 3 * HOUR; t += 15 * MIN) {
        long long m = (long long)((t - T0) / MIN);
        if (monitors < 8) {
            /* Long calls starting among the short ones: 4 h later each is reported. */
            snprintf(acct, sizeof acct, "acc-mon%d", monitors);
            snprintf(id, sizeof id, "mon-start-%d", monitors);
            call_start(fx, acct, id, "mon", t + 500, monitors % 2 ? "in" : "out");
            monitors++;
        }
        for (int k = 0; k < 40; k++) {
            snprintf(acct, sizeof acct, "acc-s%d", k);
            snprintf(cid, sizeof cid, "s%d-%lld", k, m);
            snprintf(id, sizeof id, "s-s%d-%lld", k, m);
            call_start(fx, acct, id, cid, t + k * 1000, "out");
            snprintf(id, sizeof id, "s-e%d-%lld", k, m);
            call_end(fx, acct, id, cid, t + k * 1000 + 2 * MIN, 120);
        }
        fx_tick(fx, t + 13 * MIN); /* past the ends' 10 minutes: the next start re-arms */
    }
    for (int64_t t = T0 + 3 * HOUR; t <= T0 + 7 * HOUR; t += MIN)
        fx_tick(fx, t);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, NULL, 0, NULL), 8);
    assert_int_equal(count_out(fx, VIGIL_OUT_ORDER, NULL, 0, NULL), 0);
    for (int j = 0; j < 8; j++) {
        snprintf(acct, sizeof acct, "acc-mon%d", j);
        snprintf(id, sizeof id, "mon-start-%d", j);
        const struct fx_rec *w = find_out(fx, VIGIL_OUT_ALERT, acct, VIGIL_SEV_WARNING, SINGLE);
        assert_non_null(w);
        assert_int_equal(rec_event_ts(w), T0 + j * 15 * MIN + 500 + 4 * HOUR);
        assert_true(rec_has_sample(w, id));
        assert_int_equal(fx_counter(fx_last_counters(fx, acct), "open_calls"), 1);
    }
    /* The short calls' own timers (the end remembered 10 minutes) ran too: nothing open. */
    for (int k = 0; k < 40; k += 13) {
        snprintf(acct, sizeof acct, "acc-s%d", k);
        assert_int_equal(fx_counter(fx_last_counters(fx, acct), "open_calls"), 0);
        assert_int_equal(fx_counter(fx_last_counters(fx, acct), "connected_min_24h"), 24);
    }
}

/* A call to 112 left open is never held against the account. */
static void test_emergency_call_ignored(void **state)
{
    struct fx *fx = *state;
    call_start_to(fx, "acc-sos", "sos-1", "sos", T0, "out", "112");
    for (int64_t t = T0; t <= T0 + 25 * HOUR; t += 10 * MIN)
        fx_tick(fx, t);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, NULL, 0, NULL), 0);
    assert_null(fx_last_counters(fx, "acc-sos"));
    /* The same call to an ordinary number is a baby monitor. */
    call_start(fx, "acc-sos", "sos-2", "nosos", T0 + 25 * HOUR, "out");
    fx_tick(fx, T0 + 33 * HOUR);
    assert_non_null(find_out(fx, VIGIL_OUT_ORDER, "acc-sos", 0, SINGLE));
}

/* --- must leave alone --------------------------------------------------------------------- */

/* A 2-hour conference call with five legs on one account. */
static void test_conference_call_left_alone(void **state)
{
    struct fx *fx = *state;
    char id[32], cid[32];
    for (int k = 0; k < 5; k++) {
        snprintf(id, sizeof id, "c-s-%d", k);
        snprintf(cid, sizeof cid, "conf-%d", k);
        call_start(fx, "acc-conf", id, cid, T0 + k * 20000, k % 2 ? "in" : "out");
    }
    clock_run(fx, T0, T0 + 2 * HOUR);
    for (int k = 0; k < 5; k++) {
        snprintf(id, sizeof id, "c-e-%d", k);
        snprintf(cid, sizeof cid, "conf-%d", k);
        call_end(fx, "acc-conf", id, cid, T0 + 2 * HOUR + k * 1000, 7200 - k * 19);
    }
    clock_run(fx, T0 + 2 * HOUR + MIN, T0 + 27 * HOUR);
    assert_int_equal(count_out(fx, VIGIL_OUT_ORDER, NULL, 0, NULL), 0);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, NULL, 0, NULL), 0);
    /* Once the watermark is 24 h past its end, its time has slid out of the union. */
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-conf"), "connected_min_24h"), 0);
}

/* Feeds `n` events sorted by time, ticking like the pipeline every 100 events. */
struct sev {
    int64_t ts;
    bool end;
    int line, call;
    int64_t dur_s;
};

static int sev_cmp(const void *x, const void *y)
{
    const struct sev *a = x, *b = y;
    return a->ts < b->ts ? -1 : a->ts > b->ts;
}

static void feed_sorted(struct fx *fx, const char *account, struct sev *e, size_t n)
{
    qsort(e, n, sizeof *e, sev_cmp);
    char id[64], cid[48];
    for (size_t i = 0; i < n; i++) {
        snprintf(cid, sizeof cid, "%s-%d-%d", account, e[i].line, e[i].call);
        snprintf(id, sizeof id, "%s-%s", e[i].end ? "e" : "s", cid);
        if (e[i].end)
            call_end(fx, account, id, cid, e[i].ts, e[i].dur_s);
        else
            call_start(fx, account, id, cid, e[i].ts, "out");
        if (i % 100 == 99)
            tick_stream(fx);
    }
    tick_stream(fx);
}

/* A call centre agent line on two working days: 60 calls of 6-10 minutes with 1-minute gaps
 * from 08:00, about 8 h of calls each day. */
static void test_agent_line_left_alone(void **state)
{
    struct fx *fx = *state;
    static struct sev ev[240];
    size_t n = 0;
    int64_t talk_s = 0;
    for (int day = 0; day < 2; day++) {
        int64_t t = T0 + day * DAY;
        for (int i = 0; i < 60; i++) {
            int64_t dur = 360 + (i * 53) % 241;
            if (day == 0)
                talk_s += dur;
            ev[n++] = (struct sev){.ts = t, .line = day, .call = i};
            ev[n++] = (struct sev){
                .ts = t + dur * 1000, .end = true, .line = day, .call = i, .dur_s = dur};
            t += dur * 1000 + MIN;
        }
        assert_true(t - (T0 + day * DAY) <= 9 * HOUR + 30 * MIN);
    }
    assert_in_range(talk_s, 450 * 60, 510 * 60);
    feed_sorted(fx, "acc-agent", ev, n);
    fx_tick(fx, T0 + DAY + 12 * HOUR);
    assert_int_equal(count_out(fx, VIGIL_OUT_ORDER, NULL, 0, NULL), 0);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, NULL, 0, NULL), 0);
    /* Pro-rata slots: the union is the talk time, not 9 h of touched slots. */
    assert_in_range(fx_counter(fx_last_counters(fx, "acc-agent"), "connected_min_24h"),
                    talk_s / 60 - 2, talk_s / 60 + 2);
}

/* A call centre whose 25 parallel lines are busy all office hours (08:00-18:00) on two days:
 * calls of 5-20 minutes back to back on every line, one account; the union is 10 h a day. */
static void test_busy_call_centre_left_alone(void **state)
{
    struct fx *fx = *state;
    size_t cap = 6000, n = 0;
    struct sev *ev = calloc(cap, sizeof *ev);
    assert_non_null(ev);
    unsigned seed = 12345;
    for (int day = 0; day < 2; day++) {
        int64_t open = T0 + day * DAY, close = open + 10 * HOUR;
        for (int line = 0; line < 25; line++) {
            int64_t t = open + line * 7000;
            for (int call = 0; t < close; call++) {
                seed = seed * 1103515245u + 12345u;
                int64_t dur = 300 + (int64_t)((seed >> 8) % 901); /* 5-20 min */
                if (t + dur * 1000 > close)
                    dur = (close - t) / 1000;
                assert_true(n + 2 <= cap);
                ev[n++] = (struct sev){.ts = t, .line = day * 100 + line, .call = call};
                ev[n++] = (struct sev){.ts = t + dur * 1000,
                                       .end = true,
                                       .line = day * 100 + line,
                                       .call = call,
                                       .dur_s = dur};
                t += dur * 1000 + 10000;
            }
        }
    }
    /* Look at the open count in the middle of day one. */
    qsort(ev, n, sizeof *ev, sev_cmp);
    size_t half = 0;
    while (ev[half].ts < T0 + 5 * HOUR)
        half++;
    feed_sorted(fx, "acc-callcentre", ev, half);
    const struct fx_rec *c = fx_last_counters(fx, "acc-callcentre");
    assert_in_range(fx_counter(c, "open_calls"), 20, 25);
    assert_in_range(fx_counter(c, "connected_min_24h"), 295, 305);
    feed_sorted(fx, "acc-callcentre", ev + half, n - half);
    fx_tick(fx, T0 + DAY + 12 * HOUR);
    free(ev);
    assert_int_equal(count_out(fx, VIGIL_OUT_ORDER, NULL, 0, NULL), 0);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, NULL, 0, NULL), 0);
    c = fx_last_counters(fx, "acc-callcentre");
    assert_int_equal(fx_counter(c, "open_calls"), 0);
    assert_in_range(fx_counter(c, "connected_min_24h"), 595, 610);
}

/* --- checkpoints -------------------------------------------------------------------------- */

/* The saved bytes of `account`, appended to an empty buffer (len 0: nothing saved). The
 * caller releases them with vigil_bytes_fini. */
static struct vigil_bytes save_bytes(struct fx *fx, const char *account)
{
    struct vigil_bytes b = {0};
    assert_int_equal(fx->ops->save(fx->st, account, &b), 0);
    return b;
}

static int load_bytes(struct fx *fx, const char *account, const void *p, size_t len)
{
    return fx->ops->load(fx->st, account, p, len);
}

static bool same_bytes(const struct vigil_bytes *x, const struct vigil_bytes *y)
{
    return x->len == y->len && (x->len == 0 || memcmp(x->p, y->p, x->len) == 0);
}

static bool is_finding(const struct fx_rec *r, const char *account)
{
    return (r->kind == VIGIL_OUT_ORDER || r->kind == VIGIL_OUT_ALERT) &&
           strcmp(r->account, account) == 0;
}

/* Fails unless the orders and alerts of `account` that x wrote from record from_x on are the
 * ones y wrote from record from_y on: same order, kind, id and JSON (rule, event_ts, evidence,
 * samples). Returns how many there were. */
static size_t assert_same_findings(const struct fx *x, size_t from_x, const struct fx *y,
                                   size_t from_y, const char *account)
{
    size_t i = from_x, j = from_y, n = 0;
    for (;;) {
        while (i < x->cap.n && !is_finding(&x->cap.recs[i], account))
            i++;
        while (j < y->cap.n && !is_finding(&y->cap.recs[j], account))
            j++;
        if (i == x->cap.n || j == y->cap.n)
            break;
        const struct fx_rec *a = &x->cap.recs[i++], *b = &y->cap.recs[j++];
        assert_int_equal(a->kind, b->kind);
        assert_string_equal(a->id, b->id);
        assert_string_equal(a->json, b->json);
        n++;
    }
    assert_int_equal(i, x->cap.n);
    assert_int_equal(j, y->cap.n);
    return n;
}

/* A baby monitor's call survives a restart: saved an hour in, loaded into a fresh state, and
 * from then on only ticks move event time. The restored timer brings the warning at 4 h and
 * the suspend order at 8 h exactly as in the state that never restarted: same records, same
 * ids. Another account of the old state, not loaded, stays out of the new one. */
static void test_checkpoint_single_call(void **unused)
{
    (void)unused;
    struct fx *a = new_fx(NULL), *b = new_fx(NULL);
    call_start(a, "acc-mon", "mon-start", "mon-1", T0, "out");
    call_start(a, "acc-other", "oth-start", "oth-1", T0 + 10 * MIN, "in");
    for (int64_t t = T0; t <= T0 + HOUR; t += 5 * MIN)
        fx_tick(a, t);
    struct vigil_bytes saved = save_bytes(a, "acc-mon");
    assert_true(saved.len > 0);
    assert_int_equal(load_bytes(b, "acc-mon", saved.p, saved.len), 0);

    size_t from_a = a->cap.n, from_b = b->cap.n;
    for (int64_t t = T0 + HOUR + 5 * MIN; t <= T0 + 9 * HOUR; t += 5 * MIN) {
        fx_tick(a, t);
        fx_tick(b, t);
    }
    assert_int_equal(assert_same_findings(a, from_a, b, from_b, "acc-mon"), 3);
    const struct fx_rec *w = find_out(b, VIGIL_OUT_ALERT, "acc-mon", VIGIL_SEV_WARNING, SINGLE);
    assert_non_null(w);
    assert_int_equal(rec_event_ts(w), T0 + 4 * HOUR);
    assert_true(rec_has_sample(w, "mon-start"));
    const struct fx_rec *o = find_out(b, VIGIL_OUT_ORDER, "acc-mon", 0, SINGLE);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + 8 * HOUR);
    assert_int_equal(count_out(b, VIGIL_OUT_ALERT, "acc-mon", VIGIL_SEV_CRITICAL, SINGLE), 1);
    assert_int_equal(count_out(b, VIGIL_OUT_ORDER, NULL, 0, NULL), 1);
    assert_int_equal(count_out(b, VIGIL_OUT_ALERT, "acc-other", 0, NULL), 0);
    assert_non_null(find_out(a, VIGIL_OUT_ORDER, "acc-other", 0, SINGLE));
    const struct fx_rec *c = fx_last_counters(b, "acc-mon");
    assert_int_equal(fx_counter(c, "open_calls"), 1);
    assert_in_range(fx_counter(c, "longest_open_min"), 8 * 60, 9 * 60);

    /* Both states now hold the same for the account; save changed nothing. */
    struct vigil_bytes sa = save_bytes(a, "acc-mon"), sb = save_bytes(b, "acc-mon");
    assert_true(same_bytes(&sa, &sb));
    vigil_bytes_fini(&sb);
    sb = save_bytes(b, "acc-mon");
    assert_true(same_bytes(&sa, &sb));
    vigil_bytes_fini(&sa);
    vigil_bytes_fini(&sb);
    vigil_bytes_fini(&saved);
    fx_destroy(a);
    fx_destroy(b);
}

/* One minute of the schedule of test_near_continuous_repeated_calls on fx: call i (0..18)
 * of acc-near opens at T0 + i h and ends 58 minutes later; then a tick at t. */
static void near_minute(struct fx *fx, int64_t t)
{
    int64_t i = (t - T0) / HOUR, m = (t - T0) % HOUR;
    char id[32], cid[32];
    snprintf(cid, sizeof cid, "near-%lld", (long long)i);
    if (t >= T0 && i < 19 && m == 0) {
        snprintf(id, sizeof id, "n-s-%lld", (long long)i);
        call_start(fx, "acc-near", id, cid, t, "out");
    } else if (t >= T0 && i < 19 && m == 58 * MIN) {
        snprintf(id, sizeof id, "n-e-%lld", (long long)i);
        call_end(fx, "acc-near", id, cid, t, 58 * 60);
    }
    fx_tick(fx, t);
}

/* The near-continuous pattern straddles a restart: saved 20 minutes into the 16th call, after
 * the 12-hour warning; the restored union, open call and fired level make the new state
 * suspend during the 19th call exactly as the old one does, without warning again. */
static void test_checkpoint_near_continuous(void **unused)
{
    (void)unused;
    struct fx *a = new_fx(NULL), *b = new_fx(NULL);
    int64_t save_at = T0 + 15 * HOUR + 20 * MIN;
    for (int64_t t = T0; t < save_at; t += MIN)
        near_minute(a, t);
    assert_non_null(find_out(a, VIGIL_OUT_ALERT, "acc-near", VIGIL_SEV_WARNING, NEAR));
    assert_int_equal(count_out(a, VIGIL_OUT_ORDER, NULL, 0, NULL), 0);
    struct vigil_bytes saved = save_bytes(a, "acc-near");
    assert_int_equal(load_bytes(b, "acc-near", saved.p, saved.len), 0);

    size_t from_a = a->cap.n, from_b = b->cap.n;
    for (int64_t t = save_at; t <= T0 + 20 * HOUR; t += MIN) {
        near_minute(a, t);
        near_minute(b, t);
    }
    assert_int_equal(assert_same_findings(a, from_a, b, from_b, "acc-near"), 2);
    const struct fx_rec *o = find_out(b, VIGIL_OUT_ORDER, "acc-near", 0, NEAR);
    assert_non_null(o);
    int64_t mark = T0 + 18 * HOUR + 36 * MIN;
    assert_in_range(rec_event_ts(o), mark - LATE, mark + LATE); /* by the timer, mid-call */
    assert_true(rec_has_sample(o, "n-s-18"));
    assert_int_equal(count_out(b, VIGIL_OUT_ALERT, "acc-near", VIGIL_SEV_WARNING, NULL), 0);
    assert_int_equal(count_out(b, VIGIL_OUT_ALERT, "acc-near", VIGIL_SEV_CRITICAL, NEAR), 1);
    assert_int_equal(fx_counter(fx_last_counters(b, "acc-near"), "connected_min_24h"), 19 * 58);
    vigil_bytes_fini(&saved);
    fx_destroy(a);
    fx_destroy(b);
}

/* The saved bytes do not depend on where the account's arrays lie: saved after 3, 8 and 15
 * separate calls (its stretches in each size of block) and loaded elsewhere, it saves the same
 * bytes again. After a quiet day (its slots all zero and given back) it saves nothing. */
static void test_checkpoint_same_bytes_any_block(void **unused)
{
    (void)unused;
    struct fx *a = new_fx(NULL);
    int64_t at[] = {T0 + 2 * HOUR + 59 * MIN, T0 + 7 * HOUR + 59 * MIN, T0 + 14 * HOUR + 59 * MIN};
    int64_t t = T0;
    for (int k = 0; k < 3; k++) {
        for (; t <= at[k]; t += MIN)
            near_minute(a, t);
        struct vigil_bytes saved = save_bytes(a, "acc-near");
        assert_true(saved.len > 0);
        struct fx *b = new_fx(NULL);
        assert_int_equal(load_bytes(b, "acc-near", saved.p, saved.len), 0);
        struct vigil_bytes again = save_bytes(b, "acc-near");
        assert_int_equal(again.len, saved.len);
        assert_memory_equal(again.p, saved.p, saved.len);
        vigil_bytes_fini(&again);
        vigil_bytes_fini(&saved);
        fx_destroy(b);
    }
    fx_tick(a, T0 + 3 * DAY);
    struct vigil_bytes idle = save_bytes(a, "acc-near");
    assert_int_equal(idle.len, 0);
    vigil_bytes_fini(&idle);
    fx_destroy(a);
}

/* Loading over what a state holds replaces it: the call it had is gone with its timers, the
 * loaded one's marks come. */
static void test_checkpoint_load_replaces(void **unused)
{
    (void)unused;
    struct fx *a = new_fx(NULL), *b = new_fx(NULL);
    call_start(a, "acc-mon", "mon-start", "mon-1", T0, "out");
    fx_tick(a, T0 + HOUR);
    struct vigil_bytes saved = save_bytes(a, "acc-mon");
    call_start(b, "acc-mon", "old-start", "old-1", T0 - 2 * HOUR, "in");
    call_end(b, "acc-mon", "old-end", "old-0", T0 - 3 * HOUR, 1800);
    fx_tick(b, T0 + HOUR);
    assert_int_equal(load_bytes(b, "acc-mon", saved.p, saved.len), 0);
    for (int64_t t = T0 + HOUR; t <= T0 + 9 * HOUR; t += 5 * MIN)
        fx_tick(b, t);
    const struct fx_rec *w = find_out(b, VIGIL_OUT_ALERT, "acc-mon", VIGIL_SEV_WARNING, SINGLE);
    assert_non_null(w);
    assert_int_equal(rec_event_ts(w), T0 + 4 * HOUR);
    assert_true(rec_has_sample(w, "mon-start"));
    assert_int_equal(count_out(b, VIGIL_OUT_ALERT, "acc-mon", VIGIL_SEV_WARNING, NULL), 1);
    const struct fx_rec *o = find_out(b, VIGIL_OUT_ORDER, "acc-mon", 0, SINGLE);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + 8 * HOUR);
    assert_false(rec_has_sample(o, "old-start"));
    /* The old call's 30 minutes went with it; the loaded call is open since T0. */
    const struct fx_rec *c = fx_last_counters(b, "acc-mon");
    assert_int_equal(fx_counter(c, "open_calls"), 1);
    assert_in_range(fx_counter(c, "connected_min_24h"), 8 * 60, 9 * 60);
    vigil_bytes_fini(&saved);
    fx_destroy(a);
    fx_destroy(b);
}

/* Under other thresholds the saved deadline is not trusted: with a 2-hour critical level the
 * account is re-judged at the first tick and suspended when the call reaches 2 h, not when
 * the old 4-hour deadline comes. */
static void test_checkpoint_load_new_thresholds(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"continuous.single_call_critical_min", "120", NULL};
    struct fx *a = new_fx(NULL), *b = new_fx(sets);
    call_start(a, "acc-mon", "mon-start", "mon-1", T0, "out");
    fx_tick(a, T0 + HOUR);
    struct vigil_bytes saved = save_bytes(a, "acc-mon");
    assert_int_equal(load_bytes(b, "acc-mon", saved.p, saved.len), 0);
    fx_tick(b, T0 + 2 * HOUR - MIN);
    assert_int_equal(count_out(b, VIGIL_OUT_ORDER, NULL, 0, NULL), 0);
    fx_tick(b, T0 + 2 * HOUR);
    const struct fx_rec *o = find_out(b, VIGIL_OUT_ORDER, "acc-mon", 0, SINGLE);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + 2 * HOUR);
    vigil_bytes_fini(&saved);
    fx_destroy(a);
    fx_destroy(b);
}

/* Nothing held, nothing written; what is written goes after what the buffer had. */
static void test_checkpoint_nothing_to_save(void **state)
{
    struct fx *fx = *state;
    call_start(fx, "acc-a", "a-1", "call-a", T0, "out");
    call_start_to(fx, "acc-sos", "sos-1", "sos", T0, "out", "112");
    fx_tick(fx, T0 + MIN);
    struct vigil_bytes b = {0};
    assert_int_equal(vigil_bytes_put(&b, "xy", 2), 0);
    assert_int_equal(fx->ops->save(fx->st, "acc-none", &b), 0);
    assert_int_equal(fx->ops->save(fx->st, "acc-sos", &b), 0);
    assert_int_equal(fx->ops->save(fx->st, "", &b), 0);
    assert_int_equal(b.len, 2);
    assert_int_equal(fx->ops->save(fx->st, "acc-a", &b), 0);
    assert_true(b.len > 2);
    assert_memory_equal(b.p, "xy", 2);
    struct vigil_bytes alone = save_bytes(fx, "acc-a");
    assert_int_equal(alone.len, b.len - 2);
    assert_memory_equal(alone.p, b.p + 2, alone.len);

    /* A call that ended more than 24 h ago leaves nothing worth saving. */
    call_start(fx, "acc-old", "o-1", "call-o", T0, "out");
    call_end(fx, "acc-old", "o-2", "call-o", T0 + 10 * MIN, 600);
    fx_tick(fx, T0 + 10 * MIN);
    struct vigil_bytes old = save_bytes(fx, "acc-old");
    assert_true(old.len > 0);
    vigil_bytes_fini(&old);
    fx_tick(fx, T0 + 2 * DAY);
    old = save_bytes(fx, "acc-old");
    assert_int_equal(old.len, 0);
    vigil_bytes_fini(&old);
    vigil_bytes_fini(&alone);
    vigil_bytes_fini(&b);
}

/* A little-endian writer for crafted checkpoints (the layout above ct_save, continuous.c). */
struct craft {
    unsigned char p[8192];
    size_t n;
};

static void cput(struct craft *c, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        c->p[c->n++] = (unsigned char)(v >> (8 * i));
}

/* A state with a call of 150 minutes ended at T0 - 1 h, `calls` tracked calls open since T0
 * (ids 1..calls, or all 7 when dup), start event ids of eid_len bytes, and `ends` ends. */
static void craft_state(struct craft *c, int calls, int ends, size_t eid_len, bool dup)
{
    int64_t head = T0 / (5 * MIN);
    unsigned char units[288] = {0};
    for (int64_t slot = head - 42; slot < head - 12; slot++) /* [T0 - 210 min, T0 - 60 min) */
        units[slot % 288] = 150;
    c->n = 0;
    cput(c, 2, 1);                         /* version */
    cput(c, 0, 8);                         /* thresholds: not the current ones, re-judged */
    cput(c, (uint64_t)head, 8);            /* head: the slot of T0 */
    cput(c, (uint64_t)(T0 + 4 * HOUR), 8); /* due */
    cput(c, (uint64_t)INT64_MIN, 8);       /* no single-call critical */
    cput(c, 150, 4);                       /* covered_min */
    cput(c, 0, 1);                         /* near_fired */
    for (int i = 0; i < 288; i++)
        cput(c, units[i], 1);
    cput(c, (uint64_t)(T0 - 210 * MIN), 8); /* iv_floor */
    cput(c, 1, 1);                          /* one stretch: */
    cput(c, (uint64_t)(T0 - 210 * MIN), 8); /* [T0 - 210 min, T0 - 60 min) */
    cput(c, (uint64_t)(T0 - 60 * MIN), 8);
    cput(c, 1, 1); /* has_open */
    cput(c, 0, 4); /* untracked */
    cput(c, 0, 8); /* untracked_last_ms */
    cput(c, (uint64_t)calls, 1);
    for (int i = 0; i < calls; i++) {
        cput(c, dup ? 7 : (uint64_t)i + 1, 8); /* call id hash */
        cput(c, (uint64_t)T0, 8);              /* start */
        cput(c, 0, 1);                         /* fired */
        cput(c, eid_len, 1);
        for (size_t k = 0; k < eid_len; k++)
            cput(c, 'a' + (i + k) % 26, 1);
    }
    cput(c, (uint64_t)ends, 1);
    for (int i = 0; i < ends; i++) {
        cput(c, 100 + (uint64_t)i, 8);
        cput(c, (uint64_t)(T0 - HOUR), 8);
    }
}

/* Fails unless loading p[0..len) into acc-bad and acc-b is refused and leaves both as they
 * were (acc-b holds a call of its own, acc-bad nothing). */
static void assert_refused(struct fx *fx, const struct vigil_bytes *b_before, const void *p,
                           size_t len)
{
    assert_int_equal(load_bytes(fx, "acc-bad", p, len), VIGIL_ERR_INVALID);
    assert_int_equal(load_bytes(fx, "acc-b", p, len), VIGIL_ERR_INVALID);
    struct vigil_bytes bad = save_bytes(fx, "acc-bad"), b = save_bytes(fx, "acc-b");
    assert_int_equal(bad.len, 0);
    assert_true(same_bytes(&b, b_before));
    vigil_bytes_fini(&bad);
    vigil_bytes_fini(&b);
}

/* Truncated, extended, garbage and wrong-version bytes, and counts past the arrays, are
 * refused with the state unchanged; counts at the limits load. Every single-byte corruption
 * is either refused or loads a state that later ticks handle (CI: ASan/UBSan). */
static void test_checkpoint_bad_bytes(void **unused)
{
    (void)unused;
    struct fx *a = new_fx(NULL), *fx = new_fx(NULL);
    call_start(a, "acc-mon", "mon-start", "mon-1", T0, "out");
    call_start(a, "acc-mon", "mon-s2", "mon-2", T0 + MIN, "in");
    call_end(a, "acc-mon", "mon-e2", "mon-2", T0 + 30 * MIN, 29 * 60);
    fx_tick(a, T0 + HOUR);
    struct vigil_bytes good = save_bytes(a, "acc-mon");
    call_start(fx, "acc-b", "b-start", "b-1", T0 + 30 * MIN, "out");
    fx_tick(fx, T0 + HOUR);
    struct vigil_bytes b0 = save_bytes(fx, "acc-b");

    for (size_t n = 0; n < good.len; n++)
        assert_refused(fx, &b0, good.p, n);
    unsigned char *p = malloc(good.len + 1);
    assert_non_null(p);
    memcpy(p, good.p, good.len);
    p[good.len] = 0;
    assert_refused(fx, &b0, p, good.len + 1);
    static const unsigned char versions[] = {0, 1, 3, 0xff};
    for (size_t i = 0; i < sizeof versions; i++) {
        p[0] = versions[i];
        assert_refused(fx, &b0, p, good.len);
    }
    memset(p, 0xff, good.len);
    assert_refused(fx, &b0, p, good.len);
    unsigned seed = 7;
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)round * good.len / 100;
        unsigned char *g = malloc(n + 1);
        assert_non_null(g);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            g[i] = (unsigned char)(seed >> 16);
        }
        if (n > 0)
            g[0] = 2; /* the right version, garbage after it */
        assert_refused(fx, &b0, g, n);
        free(g);
    }
    assert_int_equal(load_bytes(fx, "", good.p, good.len), VIGIL_ERR_INVALID);
    char long_acct[VIGIL_ACCOUNT_MAX + 2];
    memset(long_acct, 'x', sizeof long_acct - 1);
    long_acct[sizeof long_acct - 1] = 0;
    assert_int_equal(load_bytes(fx, long_acct, good.p, good.len), VIGIL_ERR_INVALID);

    /* Counts and lengths at the limits load; one past them is refused. */
    struct craft *c = calloc(1, sizeof *c);
    assert_non_null(c);
    craft_state(c, 16, 8, VIGIL_ID_MAX, false);
    assert_int_equal(load_bytes(fx, "acc-max", c->p, c->n), 0);
    craft_state(c, 17, 0, 4, false);
    assert_refused(fx, &b0, c->p, c->n);
    craft_state(c, 1, 9, 4, false);
    assert_refused(fx, &b0, c->p, c->n);
    craft_state(c, 1, 0, VIGIL_ID_MAX + 1, false);
    assert_refused(fx, &b0, c->p, c->n);
    craft_state(c, 2, 0, 4, true);
    assert_refused(fx, &b0, c->p, c->n);
    craft_state(c, 1, 0, 4, false);
    c->p[1 + 8 + 24 + 4 + 1] = 151; /* units[0]: more than a slot holds */
    assert_refused(fx, &b0, c->p, c->n);

    /* Every byte set to 0xff in turn, into an account of its own. */
    for (size_t i = 0; i < good.len; i++) {
        memcpy(p, good.p, good.len);
        p[i] = 0xff;
        struct vigil_bytes before = save_bytes(fx, "acc-sweep");
        int rc = load_bytes(fx, "acc-sweep", p, good.len);
        assert_true(rc == 0 || rc == VIGIL_ERR_INVALID);
        if (rc != 0) {
            struct vigil_bytes after = save_bytes(fx, "acc-sweep");
            assert_true(same_bytes(&before, &after));
            vigil_bytes_fini(&after);
        }
        vigil_bytes_fini(&before);
    }
    free(p);
    free(c);

    /* Nothing was harmed: acc-b goes on to its own marks, acc-max to its 16 calls' ones. */
    for (int64_t t = T0 + HOUR; t <= T0 + 30 * HOUR; t += 5 * MIN)
        fx_tick(fx, t);
    const struct fx_rec *o = find_out(fx, VIGIL_OUT_ORDER, "acc-b", 0, SINGLE);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + 30 * MIN + 8 * HOUR);
    assert_non_null(find_out(fx, VIGIL_OUT_ORDER, "acc-max", 0, SINGLE)); /* one for all 16 */
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-max"), "open_calls"), 0);
    /* Open [T0, T0 + 24 h), seen from T0 + 30 h. */
    assert_in_range(fx_counter(fx_last_counters(fx, "acc-max"), "connected_min_24h"), 1075, 1090);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, "acc-bad", 0, NULL), 0);
    vigil_bytes_fini(&good);
    vigil_bytes_fini(&b0);
    fx_destroy(a);
    fx_destroy(fx);
}

/* forget drops an account with its timers; others keep theirs. Forgetting accounts changed
 * since the last tick (one in the middle of the table, one at its end) leaves the next tick
 * publishing exactly the remaining ones. An account forgotten and then seen again starts
 * afresh: its old call's marks never come. */
static void test_checkpoint_forget(void **state)
{
    struct fx *fx = *state;
    call_start(fx, "acc-f", "f-1", "call-f", T0, "out");
    call_start(fx, "acc-k", "k-1", "call-k", T0, "out");
    call_start(fx, "acc-r", "r-1", "call-r", T0, "out");
    static const char *const d[] = {"acc-d1", "acc-d2", "acc-d3", "acc-d4"};
    for (int i = 0; i < 4; i++)
        call_start(fx, d[i], d[i], "call-d", T0 + MIN, "out");
    fx_tick(fx, T0 + 2 * MIN);

    size_t forgotten = fx->cap.n;
    fx->ops->forget(fx->st, "acc-f");
    fx->ops->forget(fx->st, "acc-unknown");
    struct vigil_bytes none = save_bytes(fx, "acc-f");
    assert_int_equal(none.len, 0);
    for (int i = 0; i < 4; i++)
        call_start(fx, d[i], "second", "call-d2", T0 + 3 * MIN, "in");
    fx->ops->forget(fx->st, "acc-d2");
    fx->ops->forget(fx->st, "acc-d4");
    size_t from = fx->cap.n;
    fx_tick(fx, T0 + 4 * MIN);
    size_t n_counters = 0;
    for (size_t i = from; i < fx->cap.n; i++) {
        const struct fx_rec *r = &fx->cap.recs[i];
        assert_int_equal(r->kind, VIGIL_OUT_COUNTERS);
        assert_true(strcmp(r->account, "acc-d1") == 0 || strcmp(r->account, "acc-d3") == 0);
        assert_int_equal(fx_counter(r, "open_calls"), 2);
        n_counters++;
    }
    assert_int_equal(n_counters, 2);

    fx_tick(fx, T0 + HOUR);
    fx->ops->forget(fx->st, "acc-r");
    call_start(fx, "acc-r", "r-2", "call-r2", T0 + 2 * HOUR, "out");
    for (int64_t t = T0 + HOUR; t <= T0 + 11 * HOUR; t += 5 * MIN)
        fx_tick(fx, t);
    assert_non_null(find_out(fx, VIGIL_OUT_ORDER, "acc-k", 0, SINGLE));
    assert_non_null(find_out(fx, VIGIL_OUT_ORDER, "acc-d1", 0, SINGLE));
    assert_non_null(find_out(fx, VIGIL_OUT_ORDER, "acc-d3", 0, SINGLE));
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, "acc-f", 0, NULL), 0);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, "acc-d2", 0, NULL), 0);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, "acc-d4", 0, NULL), 0);
    for (size_t i = forgotten; i < fx->cap.n; i++)
        assert_string_not_equal(fx->cap.recs[i].account, "acc-f");
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, "acc-r", VIGIL_SEV_WARNING, NULL), 1);
    const struct fx_rec *w = find_out(fx, VIGIL_OUT_ALERT, "acc-r", VIGIL_SEV_WARNING, SINGLE);
    assert_non_null(w);
    assert_int_equal(rec_event_ts(w), T0 + 6 * HOUR);
    const struct fx_rec *o = find_out(fx, VIGIL_OUT_ORDER, "acc-r", 0, SINGLE);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + 10 * HOUR);
    assert_true(rec_has_sample(o, "r-2"));
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-r"), "open_calls"), 1);

    /* Forgotten, then loaded back: the account and its timers return. */
    struct vigil_bytes k = save_bytes(fx, "acc-k");
    fx->ops->forget(fx->st, "acc-k");
    assert_int_equal(load_bytes(fx, "acc-k", k.p, k.len), 0);
    from = fx->cap.n;
    fx_tick(fx, T0 + 25 * HOUR);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-k"), "open_calls"), 0);
    /* Expired at T0 + 24 h, connected [T0, T0 + 24 h): 23 h of the last 24. */
    assert_in_range(fx_counter(fx_last_counters(fx, "acc-k"), "connected_min_24h"), 1370, 1385);
    vigil_bytes_fini(&k);
    vigil_bytes_fini(&none);
}

/* --- exact at the threshold ---------------------------------------------------------------- */

/* A call open exactly 8 hours whose end alone is seen: ordered, dated at its end (start + 8 h).
 * Calls of 8 h less one second, back to back for a day, with the stream's clock running: never
 * a single-call order or critical alert (the union rule rightly sees a day of calls). */
static void test_edge_single_call(void **state)
{
    struct fx *fx = *state;
    call_end(fx, "acc-8h", "e8-1", "c8-1", T0 + 8 * HOUR, 8 * 3600);
    const struct fx_rec *o = find_out(fx, VIGIL_OUT_ORDER, "acc-8h", 0, SINGLE);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + 8 * HOUR);

    char id[32], cid[32];
    int64_t t = T0;
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof id, "s8-%d", i);
        snprintf(cid, sizeof cid, "c8s-%d", i);
        call_start(fx, "acc-8h-1s", id, cid, t, "out");
        tick_stream(fx);
        clock_run(fx, t + MIN, t + 8 * HOUR - MIN);
        snprintf(id, sizeof id, "e8s-%d", i);
        call_end(fx, "acc-8h-1s", id, cid, t + 8 * HOUR - 1000, 8 * 3600 - 1);
        tick_stream(fx);
        t += 8 * HOUR;
    }
    assert_int_equal(count_out(fx, VIGIL_OUT_ORDER, "acc-8h-1s", 0, SINGLE), 0);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, "acc-8h-1s", VIGIL_SEV_CRITICAL, SINGLE), 0);
}

/* 18 hours of calls within exactly 24 hours (three 6-hour calls, the first beginning 24 h
 * before the last ends; their ends alone are seen): ordered at the last end. The same with
 * the first call a second earlier (17 h 59 min 59 s inside), and calls of 6 h less a second
 * every 8 h for three days: never a near-continuous order or critical alert. */
static void test_edge_near_continuous(void **state)
{
    struct fx *fx = *state;
    char id[32];
    for (int k = 0; k < 3; k++) {
        int64_t end = T0 + 6 * HOUR + k * 9 * HOUR;
        snprintf(id, sizeof id, "n18-%d", k);
        call_end(fx, "acc-18h", id, id, end, 6 * 3600);
        snprintf(id, sizeof id, "n18s-%d", k);
        call_end(fx, "acc-18h-1s", id, id, k == 0 ? end - 1000 : end, 6 * 3600);
    }
    const struct fx_rec *o = find_out(fx, VIGIL_OUT_ORDER, "acc-18h", 0, NEAR);
    assert_non_null(o);
    assert_int_equal(rec_event_ts(o), T0 + 24 * HOUR);
    assert_int_equal(rec_evidence(o, "connected_min_24h"), 1080);
    for (int k = 0; k < 9; k++) {
        snprintf(id, sizeof id, "n17-%d", k);
        call_end(fx, "acc-17h", id, id, T0 + 6 * HOUR + k * 8 * HOUR - 1000, 6 * 3600 - 1);
        tick_stream(fx);
    }
    assert_int_equal(count_out(fx, VIGIL_OUT_ORDER, "acc-18h-1s", 0, NEAR), 0);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, "acc-18h-1s", VIGIL_SEV_CRITICAL, NEAR), 0);
    assert_int_equal(count_out(fx, VIGIL_OUT_ORDER, "acc-17h", 0, NEAR), 0);
    assert_int_equal(count_out(fx, VIGIL_OUT_ALERT, "acc-17h", VIGIL_SEV_CRITICAL, NEAR), 0);
}

/* Calls that overlap inside a 5-minute slot are counted once: two parallel calls of 17 h
 * 59 min starting 30 s apart never make 18 h. */
static void test_edge_near_continuous_overlap(void **state)
{
    struct fx *fx = *state;
    call_end(fx, "acc-par", "p-1", "p-1", T0 + 18 * HOUR - MIN, 18 * 3600 - 60);
    call_end(fx, "acc-par", "p-2", "p-2", T0 + 18 * HOUR - 30000, 18 * 3600 - 60);
    assert_int_equal(count_out(fx, VIGIL_OUT_ORDER, "acc-par", 0, NEAR), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_single_call_open_by_watermark, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_single_call_by_own_events, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_edge_single_call, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_edge_near_continuous, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_edge_near_continuous_overlap, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_end_without_start, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_count_once, setup, fx_teardown),
        cmocka_unit_test(test_open_call_expiry),
        cmocka_unit_test(test_profile_thresholds),
        cmocka_unit_test_setup_teardown(test_near_continuous_repeated_calls, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_near_continuous_at_call_end, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_parallel_calls_do_not_add_up, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_many_accounts_timers, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stale_timers_dropped, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_timers_fire_on_time_through_compactions, setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_same_deadline_fires_in_name_order, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_long_lost_start_loads, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_emergency_call_ignored, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_conference_call_left_alone, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_agent_line_left_alone, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_busy_call_centre_left_alone, setup, fx_teardown),
        cmocka_unit_test(test_checkpoint_single_call),
        cmocka_unit_test(test_checkpoint_near_continuous),
        cmocka_unit_test(test_checkpoint_same_bytes_any_block),
        cmocka_unit_test(test_checkpoint_load_replaces),
        cmocka_unit_test(test_checkpoint_load_new_thresholds),
        cmocka_unit_test_setup_teardown(test_checkpoint_nothing_to_save, setup, fx_teardown),
        cmocka_unit_test(test_checkpoint_bad_bytes),
        cmocka_unit_test_setup_teardown(test_checkpoint_forget, setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

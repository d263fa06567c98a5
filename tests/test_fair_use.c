/* SPDX-License-Identifier: Apache-2.0 */
/* test_fair_use.c - the fair_use detector through its vtable: events parsed from the wire
 * format, the real config, profiles and emit layer, and a sink that records every alert and
 * counter set. Rules: fair_use.devices, fair_use.abroad; never an order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define JSMN_STATIC
#include <jsmn.h>

#include "vigil/config.h"
#include "vigil/detector.h"
#include "vigil/emit.h"
#include "vigil/event.h"
#include "vigil/numplan.h"
#include "vigil/profile.h"
#include "vigil/status.h"

#define DETECTOR "fair_use"
#define T0 1795399800000LL /* 10 minutes into an hour, near events.md's example time */
#define SEC 1000LL
#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define MAX_RECS 2048

/* --- a sink that keeps copies of everything --------------------------------------------- */

struct rec {
    enum vigil_out_kind kind;
    char account[VIGIL_ACCOUNT_MAX + 1];
    char detector[32];
    enum vigil_action action;
    enum vigil_severity severity;
    char id[64];
    char json[4096];
    struct vigil_counter counters[16];
    char names[16][32];
    size_t n_counters;
    int64_t ttl_s;
};

struct capture {
    struct rec *recs;
    size_t n;
};

static int cap_write(void *ctx, const struct vigil_out_record *r)
{
    struct capture *c = ctx;
    assert_true(c->n < MAX_RECS);
    struct rec *d = &c->recs[c->n++];
    memset(d, 0, sizeof *d);
    d->kind = r->kind;
    snprintf(d->account, sizeof d->account, "%s", r->account);
    snprintf(d->detector, sizeof d->detector, "%s", r->detector);
    d->action = r->action;
    d->severity = r->severity;
    if (r->id)
        snprintf(d->id, sizeof d->id, "%s", r->id);
    if (r->json) {
        assert_true(r->json_len < sizeof d->json);
        memcpy(d->json, r->json, r->json_len);
    }
    assert_true(r->n_counters <= 16);
    for (size_t i = 0; i < r->n_counters; i++) {
        snprintf(d->names[i], sizeof d->names[i], "%s", r->counters[i].name);
        d->counters[i].name = d->names[i];
        d->counters[i].value = r->counters[i].value;
    }
    d->n_counters = r->n_counters;
    d->ttl_s = r->ttl_s;
    return 0;
}

static int64_t fixed_clock(void *ctx)
{
    (void)ctx;
    return T0 + DAY;
}

/* --- fixture ------------------------------------------------------------------------------ */

struct fx {
    struct vigil_config *cfg;
    struct vigil_numplan *np;
    struct vigil_profiles *pr;
    struct vigil_emit *out;
    const struct vigil_detector_ops *ops;
    void *st;
    struct capture cap;
};

/* Builds everything with the defaults plus `sets` ("key", "value", ..., NULL). */
static struct fx *fx_new(const char *const *sets)
{
    struct fx *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->cap.recs = calloc(MAX_RECS, sizeof *fx->cap.recs);
    assert_non_null(fx->cap.recs);
    fx->cfg = vigil_config_create();
    assert_non_null(fx->cfg);
    for (size_t i = 0; sets && sets[i]; i += 2)
        assert_int_equal(vigil_config_set(fx->cfg, sets[i], sets[i + 1], "test"), 0);
    char err[256];
    fx->np = vigil_numplan_create(fx->cfg, err, sizeof err);
    assert_non_null(fx->np);
    struct vigil_sink sink = {.ctx = &fx->cap, .write = cap_write};
    fx->out = vigil_emit_create(fx->cfg, sink, fixed_clock, NULL);
    assert_non_null(fx->out);
    fx->ops = vigil_detector_find(DETECTOR);
    assert_non_null(fx->ops);
    fx->pr = vigil_profiles_create(fx->cfg);
    assert_non_null(fx->pr);
    struct vigil_detector_env env = {.cfg = fx->cfg, .numplan = fx->np, .profiles = fx->pr};
    assert_int_equal(fx->ops->init(&fx->st, &env), 0);
    assert_non_null(fx->st);
    return fx;
}

static int setup(void **state)
{
    *state = fx_new(NULL);
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    fx->ops->destroy(fx->st);
    vigil_emit_destroy(fx->out);
    vigil_profiles_destroy(fx->pr);
    vigil_numplan_destroy(fx->np);
    vigil_config_destroy(fx->cfg);
    free(fx->cap.recs);
    free(fx);
    return 0;
}

/* --- feeding events ----------------------------------------------------------------------- */

static void feed_json(struct fx *fx, const char *account, const char *json)
{
    struct vigil_event ev;
    struct vigil_parse_error perr;
    struct vigil_parse_opts opts = {.default_cc = "31", .stream_ts_ms = 0};
    int rc = vigil_event_parse(json, strlen(json), account, strlen(account), &opts, &ev, &perr);
    if (rc != 0)
        fail_msg("parse %s: %s (%s)", json, perr.reason, perr.detail);
    assert_int_equal(fx->ops->on_event(fx->st, &ev, fx->out), 0);
}

/* One call event; `extra` is appended to the JSON object (",\"duration\":60"). */
static void call_ev(struct fx *fx, const char *type, const char *dir, const char *account,
                    const char *id, const char *call_id, int64_t ts, const char *from,
                    const char *to, const char *extra)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"%s\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
             "\"call_id\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"dir\":\"%s\"%s}",
             type, id, (long long)ts, account, call_id, from, to, dir, extra);
    feed_json(fx, account, json);
}

static void tick(struct fx *fx, int64_t watermark)
{
    assert_int_equal(fx->ops->on_tick(fx->st, watermark, fx->out), 0);
}

/* --- looking at what came out ------------------------------------------------------------- */

static size_t count_kind(const struct fx *fx, enum vigil_out_kind kind, int severity)
{
    size_t n = 0;
    for (size_t i = 0; i < fx->cap.n; i++) {
        if (fx->cap.recs[i].kind == kind &&
            (severity == 0 || (int)fx->cap.recs[i].severity == severity))
            n++;
    }
    return n;
}

static const struct rec *find_kind(const struct fx *fx, enum vigil_out_kind kind, int severity)
{
    for (size_t i = 0; i < fx->cap.n; i++) {
        if (fx->cap.recs[i].kind == kind &&
            (severity == 0 || (int)fx->cap.recs[i].severity == severity))
            return &fx->cap.recs[i];
    }
    return NULL;
}

struct jdoc {
    const char *js;
    jsmntok_t t[256];
    int n;
};

static void jparse(struct jdoc *d, const char *js)
{
    jsmn_parser p;
    jsmn_init(&p);
    d->js = js;
    d->n = jsmn_parse(&p, js, strlen(js), d->t, 256);
    assert_true(d->n > 0);
    assert_int_equal(d->t[0].type, JSMN_OBJECT);
}

/* Index of the token after the subtree at i. */
static int jskip(const struct jdoc *d, int i)
{
    for (int pending = 1; pending > 0; i++)
        pending += d->t[i].size - 1;
    return i;
}

static bool jeq(const struct jdoc *d, int i, const char *s)
{
    int len = d->t[i].end - d->t[i].start;
    return (int)strlen(s) == len && memcmp(d->js + d->t[i].start, s, (size_t)len) == 0;
}

/* The value token of `key` in the object at obj, or -1. */
static int jget(const struct jdoc *d, int obj, const char *key)
{
    int i = obj + 1;
    for (int k = 0; k < d->t[obj].size; k++) {
        if (jeq(d, i, key))
            return i + 1;
        i = jskip(d, i + 1);
    }
    return -1;
}

static long long jint(const struct jdoc *d, int i)
{
    assert_true(i > 0);
    assert_int_equal(d->t[i].type, JSMN_PRIMITIVE);
    return strtoll(d->js + d->t[i].start, NULL, 10);
}

static void assert_jstr(const struct jdoc *d, int obj, const char *key, const char *want)
{
    int i = jget(d, obj, key);
    assert_true(i > 0);
    assert_int_equal(d->t[i].type, JSMN_STRING);
    if (!jeq(d, i, want))
        fail_msg("%s: want '%s', got '%.*s'", key, want, d->t[i].end - d->t[i].start,
                 d->js + d->t[i].start);
}

/* Array `key` of the object at obj holds the strings want[0..n) (and nothing else). */
static void assert_jstrings(const struct jdoc *d, int obj, const char *key, const char *const *want,
                            int n)
{
    int a = jget(d, obj, key);
    assert_true(a > 0);
    assert_int_equal(d->t[a].type, JSMN_ARRAY);
    assert_int_equal(d->t[a].size, n);
    for (int k = 0; k < n; k++)
        assert_true(jeq(d, a + 1 + k, want[k]));
}

static bool jarray_has(const struct jdoc *d, int obj, const char *key, const char *s)
{
    int a = jget(d, obj, key);
    assert_true(a > 0);
    assert_int_equal(d->t[a].type, JSMN_ARRAY);
    for (int k = 0; k < d->t[a].size; k++) {
        if (jeq(d, a + 1 + k, s))
            return true;
    }
    return false;
}

/* --- fair_use helpers --------------------------------------------------------------------- */

/* A call start (`end` false) or end of call i on `device` ("" = no device field) from
 * `country` ("" = none). Event ids "s-<i>" / "x-<i>", call id "c-<i>". */
static void call(struct fx *fx, const char *account, bool end, int i, int64_t ts,
                 const char *device, const char *country)
{
    char id[32], cid[32], extra[256];
    snprintf(id, sizeof id, "%s-%d", end ? "x" : "s", i);
    snprintf(cid, sizeof cid, "c-%d", i);
    int n = snprintf(extra, sizeof extra, "%s", end ? ",\"duration\":30" : "");
    if (device[0])
        n += snprintf(extra + n, sizeof extra - (size_t)n, ",\"device\":\"%s\"", device);
    if (country[0])
        snprintf(extra + n, sizeof extra - (size_t)n, ",\"country\":\"%s\"", country);
    call_ev(fx, end ? "call_end" : "call_start", "out", account, id, cid, ts, "+31612345678",
            "+31201234567", extra);
}

static size_t count_rule(const struct fx *fx, enum vigil_out_kind kind, const char *rule)
{
    size_t n = 0;
    char want[96];
    snprintf(want, sizeof want, "\"rule\":\"%s\"", rule);
    for (size_t i = 0; i < fx->cap.n; i++) {
        if (fx->cap.recs[i].kind == kind && strstr(fx->cap.recs[i].json, want))
            n++;
    }
    return n;
}

/* The latest published value of counter `name` for `account`, or -1. */
static int64_t latest(const struct fx *fx, const char *account, const char *name)
{
    for (size_t i = fx->cap.n; i-- > 0;) {
        const struct rec *r = &fx->cap.recs[i];
        if (r->kind != VIGIL_OUT_COUNTERS || strcmp(r->account, account) != 0)
            continue;
        for (size_t k = 0; k < r->n_counters; k++) {
            if (strcmp(r->counters[k].name, name) == 0)
                return r->counters[k].value;
        }
    }
    return -1;
}

/* --- fair_use.devices --------------------------------------------------------------------- */

/* Three devices with calls open together for 11 minutes: one warning, dated 10 minutes after
 * the third device joined, found by the watermark; no order. */
static void test_three_devices_eleven_minutes(void **state)
{
    struct fx *fx = *state;
    call(fx, "acc-fu", false, 1, T0, "acc-fu/desk", "");
    call(fx, "acc-fu", false, 2, T0 + 10 * SEC, "acc-fu/app", "");
    call(fx, "acc-fu", false, 3, T0 + 20 * SEC, "acc-fu/laptop", "");
    tick(fx, T0 + 20 * SEC);
    assert_int_equal(latest(fx, "acc-fu", "devices_open"), 3);
    for (int m = 1; m <= 9; m++)
        tick(fx, T0 + 20 * SEC + m * MIN);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    tick(fx, T0 + 20 * SEC + 10 * MIN);
    tick(fx, T0 + 20 * SEC + 11 * MIN);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    const struct rec *a = find_kind(fx, VIGIL_OUT_ALERT, 0);
    assert_int_equal(a->severity, VIGIL_SEV_WARNING);
    assert_string_equal(a->account, "acc-fu");
    assert_string_equal(a->detector, "fair_use");
    struct jdoc d;
    jparse(&d, a->json);
    assert_jstr(&d, 0, "rule", "fair_use.devices");
    assert_jstr(&d, 0, "severity", "warning");
    assert_int_equal(jint(&d, jget(&d, 0, "event_ts")), T0 + 20 * SEC + 10 * MIN);
    int ev = jget(&d, 0, "evidence");
    assert_int_equal(jint(&d, jget(&d, ev, "devices_open")), 3);
    assert_int_equal(jint(&d, jget(&d, ev, "threshold_devices")), 3);
    static const char *const samples[] = {"s-1", "s-2", "s-3"};
    assert_jstrings(&d, ev, "sample_event_ids", samples, 3);
    int reason = jget(&d, 0, "reason");
    assert_non_null(strstr(d.js + d.t[reason].start,
                           "Account active on 3 devices at the same time for 10 minutes"));
    /* The episode goes on: nothing more, however long. */
    for (int m = 12; m < 60; m += 5)
        tick(fx, T0 + m * MIN);
    call(fx, "acc-fu", false, 4, T0 + 61 * MIN, "acc-fu/tablet", "");
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
}

/* Without a tick the account's own later event finds the mark; the end of one call (carrying
 * no device, as events.md's example end) closes it and ends the episode. */
static void test_devices_found_by_event_and_ended(void **state)
{
    struct fx *fx = *state;
    call(fx, "acc-ev", false, 1, T0, "d1", "");
    call(fx, "acc-ev", false, 2, T0 + SEC, "d2", "");
    call(fx, "acc-ev", false, 3, T0 + 2 * SEC, "d3", "");
    call(fx, "acc-ev", false, 4, T0 + 11 * MIN, "d1", "");
    assert_int_equal(count_rule(fx, VIGIL_OUT_ALERT, "fair_use.devices"), 1);
    struct jdoc d;
    jparse(&d, find_kind(fx, VIGIL_OUT_ALERT, 0)->json);
    assert_int_equal(jint(&d, jget(&d, 0, "event_ts")), T0 + 2 * SEC + 10 * MIN);

    /* Nine minutes only: d3's call ends (no device field), the episode is over. */
    call(fx, "acc-9", false, 1, T0, "d1", "");
    call(fx, "acc-9", false, 2, T0 + SEC, "d2", "");
    call(fx, "acc-9", false, 3, T0 + 2 * SEC, "d3", "");
    tick(fx, T0 + 5 * MIN);
    call(fx, "acc-9", true, 3, T0 + 9 * MIN, "", "");
    tick(fx, T0 + 9 * MIN);
    assert_int_equal(latest(fx, "acc-9", "devices_open"), 2);
    for (int m = 10; m <= 40; m++)
        tick(fx, T0 + m * MIN);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
}

/* vigild ticks after a batch of events, not after each: three devices open for 20 minutes
 * whose ends arrive with no tick in between must still be seen, dated at the mark. */
static void test_devices_ended_before_any_tick(void **state)
{
    struct fx *fx = *state;
    call(fx, "acc-batch", false, 1, T0, "d1", "");
    call(fx, "acc-batch", false, 2, T0 + SEC, "d2", "");
    call(fx, "acc-batch", false, 3, T0 + 2 * SEC, "d3", "");
    call(fx, "acc-batch", true, 1, T0 + 20 * MIN, "d1", "");
    call(fx, "acc-batch", true, 2, T0 + 20 * MIN + SEC, "d2", "");
    call(fx, "acc-batch", true, 3, T0 + 20 * MIN + 2 * SEC, "d3", "");
    assert_int_equal(count_rule(fx, VIGIL_OUT_ALERT, "fair_use.devices"), 1);
    struct jdoc d;
    jparse(&d, find_kind(fx, VIGIL_OUT_ALERT, 0)->json);
    assert_int_equal(jint(&d, jget(&d, 0, "event_ts")), T0 + 2 * SEC + 10 * MIN);
    tick(fx, T0 + 60 * MIN);
    assert_int_equal(count_rule(fx, VIGIL_OUT_ALERT, "fair_use.devices"), 1);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
}

/* Two devices (many calls on each), calls without a device field, and a repeated start never
 * make three devices. */
static void test_two_devices_left_alone(void **state)
{
    struct fx *fx = *state;
    for (int i = 0; i < 8; i++) {
        call(fx, "acc-2", false, i, T0 + i * SEC, i % 2 ? "desk" : "app", "");
        call(fx, "acc-2", false, i, T0 + i * SEC, i % 2 ? "desk" : "app", "");
    }
    for (int i = 10; i < 15; i++)
        call(fx, "acc-2", false, i, T0 + i * SEC, "", "");
    for (int m = 1; m <= 60; m++)
        tick(fx, T0 + m * MIN);
    assert_int_equal(latest(fx, "acc-2", "devices_open"), 2);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    /* The calls end; the account's counters go to zero and it is forgotten. */
    for (int i = 0; i < 8; i++)
        call(fx, "acc-2", true, i, T0 + 61 * MIN + i, "", "");
    tick(fx, T0 + 62 * MIN);
    assert_int_equal(latest(fx, "acc-2", "devices_open"), 0);
    size_t n = count_kind(fx, VIGIL_OUT_COUNTERS, 0);
    for (int m = 63; m < 120; m++)
        tick(fx, T0 + m * MIN);
    assert_int_equal(count_kind(fx, VIGIL_OUT_COUNTERS, 0), n);
}

/* The devices threshold is per profile: devices@business = 5 leaves a business with three
 * busy extensions alone. */
static void test_devices_per_profile(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"profiles.business", "acc-biz", "fair_use.devices@business",
                                       "5", NULL};
    struct fx *fx = fx_new(sets);
    for (int i = 1; i <= 3; i++) {
        call(fx, "acc-biz", false, i, T0 + i * SEC, i == 1 ? "t1" : i == 2 ? "t2" : "t3", "");
        call(fx, "acc-home", false, i, T0 + i * SEC, i == 1 ? "t1" : i == 2 ? "t2" : "t3", "");
    }
    tick(fx, T0 + 20 * MIN);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    assert_string_equal(find_kind(fx, VIGIL_OUT_ALERT, 0)->account, "acc-home");
    void *state = fx;
    teardown(&state);
}

/* An end that arrives before its start (disorder) closes the call before it opens; a start
 * whose end never comes stops counting after 24 h of event time. */
static void test_devices_disorder_and_expiry(void **state)
{
    struct fx *fx = *state;
    call(fx, "acc-d", false, 1, T0, "d1", "");
    call(fx, "acc-d", false, 2, T0 + SEC, "d2", "");
    call(fx, "acc-d", true, 3, T0 + 40 * SEC, "d3", "");
    call(fx, "acc-d", false, 3, T0 + 10 * SEC, "d3", "");
    for (int m = 1; m <= 30; m++)
        tick(fx, T0 + m * MIN);
    assert_int_equal(latest(fx, "acc-d", "devices_open"), 2);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    tick(fx, T0 + DAY + MIN);
    assert_int_equal(latest(fx, "acc-d", "devices_open"), 0);
    /* The stale calls are gone: two new devices are two, not four. */
    call(fx, "acc-d", false, 4, T0 + DAY + 2 * MIN, "d3", "");
    call(fx, "acc-d", false, 5, T0 + DAY + 2 * MIN, "d4", "");
    tick(fx, T0 + DAY + 2 * MIN);
    assert_int_equal(latest(fx, "acc-d", "devices_open"), 2);
}

/* --- fair_use.abroad ---------------------------------------------------------------------- */

/* A phone abroad on every other day for 60 days (30 days) is left alone; one more day abroad
 * within the window (31 of 60) raises one warning at that event. Several calls a day count
 * one day. */
static void test_abroad_31_of_60_days(void **state)
{
    struct fx *fx = *state;
    int64_t day0 = (T0 / DAY) * DAY + 12 * HOUR;
    int i = 0;
    for (int day = 0; day < 59; day++) {
        const char *country = day % 2 == 0 ? (day % 4 ? "ES" : "BE") : "NL";
        call(fx, "acc-ab", false, ++i, day0 + day * DAY, "acc-ab/phone", country);
        call(fx, "acc-ab", true, i, day0 + day * DAY + 30 * SEC, "acc-ab/phone", country);
        call(fx, "acc-ab", false, ++i, day0 + day * DAY + HOUR, "acc-ab/phone", country);
        tick(fx, day0 + day * DAY + HOUR);
    }
    assert_int_equal(latest(fx, "acc-ab", "abroad_days_60d"), 30);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    /* Day 59: the window is days 0..59, 31 days abroad. */
    int64_t ts = day0 + 59 * DAY + 5 * HOUR;
    call(fx, "acc-ab", false, ++i, ts, "acc-ab/phone", "FR");
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    const struct rec *a = find_kind(fx, VIGIL_OUT_ALERT, 0);
    assert_int_equal(a->severity, VIGIL_SEV_WARNING);
    struct jdoc d;
    jparse(&d, a->json);
    assert_jstr(&d, 0, "rule", "fair_use.abroad");
    assert_int_equal(jint(&d, jget(&d, 0, "event_ts")), ts);
    int ev = jget(&d, 0, "evidence");
    assert_int_equal(jint(&d, jget(&d, ev, "abroad_days")), 31);
    assert_int_equal(jint(&d, jget(&d, ev, "threshold_days")), 30);
    assert_int_equal(jint(&d, jget(&d, ev, "window_days")), 60);
    char want[16];
    snprintf(want, sizeof want, "s-%d", i);
    assert_true(jarray_has(&d, ev, "sample_event_ids", want));
    int reason = jget(&d, 0, "reason");
    assert_non_null(strstr(d.js + d.t[reason].start,
                           "Device 'acc-ab/phone' of the account was used abroad (last in FR) on "
                           "31 of the last 60 days"));
    /* More days abroad: the same episode. */
    call(fx, "acc-ab", false, ++i, ts + DAY, "acc-ab/phone", "FR");
    tick(fx, ts + DAY);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    /* Days 1..60 now: day 0 left the window, days 59 and 60 came in. */
    assert_int_equal(latest(fx, "acc-ab", "abroad_days_60d"), 31);
}

/* The window slides: 30 days abroad, a month at home, then single days abroad never make
 * more than 30 of the last 60. Another device of the account counts on its own. */
static void test_abroad_window_slides(void **state)
{
    struct fx *fx = *state;
    int64_t day0 = (T0 / DAY) * DAY + 12 * HOUR;
    int i = 0;
    for (int day = 0; day < 30; day++)
        call(fx, "acc-sl", false, ++i, day0 + day * DAY, "phone", "TR");
    for (int day = 30; day < 60; day++)
        call(fx, "acc-sl", false, ++i, day0 + day * DAY, "phone", "NL");
    for (int day = 60; day < 64; day++) {
        call(fx, "acc-sl", false, ++i, day0 + day * DAY, "phone", "TR");
        call(fx, "acc-sl", false, ++i, day0 + day * DAY + HOUR, "tablet", "TR");
        tick(fx, day0 + day * DAY + HOUR);
    }
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    assert_int_equal(latest(fx, "acc-sl", "abroad_days_60d"), 30);
    /* Long after, the window is empty: zero once, then the account is forgotten. */
    tick(fx, day0 + 130 * DAY);
    assert_int_equal(latest(fx, "acc-sl", "abroad_days_60d"), 0);
    size_t n = count_kind(fx, VIGIL_OUT_COUNTERS, 0);
    tick(fx, day0 + 131 * DAY);
    assert_int_equal(count_kind(fx, VIGIL_OUT_COUNTERS, 0), n);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
}

/* Configured thresholds: abroad_days = 3 in a 7-day window. */
static void test_abroad_from_config(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"fair_use.abroad_days", "3", "fair_use.abroad_window_days",
                                       "7", NULL};
    struct fx *fx = fx_new(sets);
    int64_t day0 = (T0 / DAY) * DAY + 12 * HOUR;
    call(fx, "acc-c", false, 1, day0, "", "DE");
    call(fx, "acc-c", false, 2, day0 + 2 * DAY, "", "DE");
    call(fx, "acc-c", false, 3, day0 + 4 * DAY, "", "DE");
    call(fx, "acc-c", false, 4, day0 + 7 * DAY, "", "DE"); /* day 0 left the window */
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    call(fx, "acc-c", false, 5, day0 + 8 * DAY, "", "DE");
    assert_int_equal(count_rule(fx, VIGIL_OUT_ALERT, "fair_use.abroad"), 1);
    struct jdoc d;
    jparse(&d, find_kind(fx, VIGIL_OUT_ALERT, 0)->json);
    int reason = jget(&d, 0, "reason");
    assert_non_null(strstr(d.js + d.t[reason].start, "Device (unnamed) of the account"));
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    void *state = fx;
    teardown(&state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_three_devices_eleven_minutes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices_found_by_event_and_ended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices_ended_before_any_tick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_devices_left_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices_disorder_and_expiry, setup, teardown),
        cmocka_unit_test(test_devices_per_profile),
        cmocka_unit_test_setup_teardown(test_abroad_31_of_60_days, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abroad_window_slides, setup, teardown),
        cmocka_unit_test(test_abroad_from_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

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

#include "detector_fixture.h"
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
    fx_feed_call(fx, end ? "call_end" : "call_start", "out", account, id, cid, ts, "+31612345678",
                 "+31201234567", extra);
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
    fx_tick(fx, T0 + 20 * SEC);
    assert_int_equal(fx_latest(fx, "acc-fu", "devices_open"), 3);
    for (int m = 1; m <= 9; m++)
        fx_tick(fx, T0 + 20 * SEC + m * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    fx_tick(fx, T0 + 20 * SEC + 10 * MIN);
    fx_tick(fx, T0 + 20 * SEC + 11 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    const struct fx_rec *a = fx_find_kind(fx, VIGIL_OUT_ALERT, 0);
    assert_int_equal(a->severity, VIGIL_SEV_WARNING);
    assert_string_equal(a->account, "acc-fu");
    assert_string_equal(a->detector, "fair_use");
    struct fx_json d;
    fx_json_parse(&d, a->json);
    fx_json_assert_str(&d, 0, "rule", "fair_use.devices");
    fx_json_assert_str(&d, 0, "severity", "warning");
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 20 * SEC + 10 * MIN);
    int ev = fx_json_get(&d, 0, "evidence");
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, ev, "devices_open")), 3);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, ev, "threshold_devices")), 3);
    static const char *const samples[] = {"s-1", "s-2", "s-3"};
    fx_json_assert_strings(&d, ev, "sample_event_ids", samples, 3);
    int reason = fx_json_get(&d, 0, "reason");
    assert_non_null(strstr(d.js + d.t[reason].start,
                           "Account active on 3 devices at the same time for 10 minutes"));
    /* The episode goes on: nothing more, however long. */
    for (int m = 12; m < 60; m += 5)
        fx_tick(fx, T0 + m * MIN);
    call(fx, "acc-fu", false, 4, T0 + 61 * MIN, "acc-fu/tablet", "");
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
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
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, 0, "fair_use.devices"), 1);
    struct fx_json d;
    fx_json_parse(&d, fx_find_kind(fx, VIGIL_OUT_ALERT, 0)->json);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 2 * SEC + 10 * MIN);

    /* Nine minutes only: d3's call ends (no device field), the episode is over. */
    call(fx, "acc-9", false, 1, T0, "d1", "");
    call(fx, "acc-9", false, 2, T0 + SEC, "d2", "");
    call(fx, "acc-9", false, 3, T0 + 2 * SEC, "d3", "");
    fx_tick(fx, T0 + 5 * MIN);
    call(fx, "acc-9", true, 3, T0 + 9 * MIN, "", "");
    fx_tick(fx, T0 + 9 * MIN);
    assert_int_equal(fx_latest(fx, "acc-9", "devices_open"), 2);
    for (int m = 10; m <= 40; m++)
        fx_tick(fx, T0 + m * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
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
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, 0, "fair_use.devices"), 1);
    struct fx_json d;
    fx_json_parse(&d, fx_find_kind(fx, VIGIL_OUT_ALERT, 0)->json);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 2 * SEC + 10 * MIN);
    fx_tick(fx, T0 + 60 * MIN);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, 0, "fair_use.devices"), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
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
        fx_tick(fx, T0 + m * MIN);
    assert_int_equal(fx_latest(fx, "acc-2", "devices_open"), 2);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    /* The calls end; the account's counters go to zero and it is forgotten. */
    for (int i = 0; i < 8; i++)
        call(fx, "acc-2", true, i, T0 + 61 * MIN + i, "", "");
    fx_tick(fx, T0 + 62 * MIN);
    assert_int_equal(fx_latest(fx, "acc-2", "devices_open"), 0);
    size_t n = fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0);
    for (int m = 63; m < 120; m++)
        fx_tick(fx, T0 + m * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), n);
}

/* The devices threshold is per profile: devices@business = 5 leaves a business with three
 * busy extensions alone. */
static void test_devices_per_profile(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"profiles.business", "acc-biz", "fair_use.devices@business",
                                       "5", NULL};
    struct fx *fx = new_fx(sets);
    for (int i = 1; i <= 3; i++) {
        call(fx, "acc-biz", false, i, T0 + i * SEC, i == 1 ? "t1" : i == 2 ? "t2" : "t3", "");
        call(fx, "acc-home", false, i, T0 + i * SEC, i == 1 ? "t1" : i == 2 ? "t2" : "t3", "");
    }
    fx_tick(fx, T0 + 20 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    assert_string_equal(fx_find_kind(fx, VIGIL_OUT_ALERT, 0)->account, "acc-home");
    void *state = fx;
    fx_teardown(&state);
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
        fx_tick(fx, T0 + m * MIN);
    assert_int_equal(fx_latest(fx, "acc-d", "devices_open"), 2);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    fx_tick(fx, T0 + DAY + MIN);
    assert_int_equal(fx_latest(fx, "acc-d", "devices_open"), 0);
    /* The stale calls are gone: two new devices are two, not four. */
    call(fx, "acc-d", false, 4, T0 + DAY + 2 * MIN, "d3", "");
    call(fx, "acc-d", false, 5, T0 + DAY + 2 * MIN, "d4", "");
    fx_tick(fx, T0 + DAY + 2 * MIN);
    assert_int_equal(fx_latest(fx, "acc-d", "devices_open"), 2);
}

/* The first alert of `account`, or NULL. */
static const struct fx_rec *alert_of(const struct fx *fx, const char *account)
{
    for (size_t i = 0; i < fx->cap.n; i++)
        if (fx->cap.recs[i].kind == VIGIL_OUT_ALERT &&
            strcmp(fx->cap.recs[i].account, account) == 0)
            return &fx->cap.recs[i];
    return NULL;
}

static int64_t threshold_devices(const struct fx_rec *a)
{
    assert_non_null(a);
    struct fx_json d;
    fx_json_parse(&d, a->json);
    return fx_json_int(&d, fx_json_get(&d, fx_json_get(&d, 0, "evidence"), "threshold_devices"));
}

/* The shipped default devices@business = 10: a business PBX with four extensions on calls
 * at once for 20 minutes is an office day, no warning, where a consumer or default account
 * on four devices is warned; ten extensions at once warn the business too. */
static void test_devices_business_default(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"profiles.business", "acc-biz acc-biz10",
                                       "profiles.consumer", "acc-cons", NULL};
    struct fx *fx = new_fx(sets);
    static const char *const accts[] = {"acc-biz", "acc-cons", "acc-dflt"};
    for (int a = 0; a < 3; a++) {
        for (int i = 1; i <= 4; i++) {
            char dev[32];
            snprintf(dev, sizeof dev, "%s/ext%d", accts[a], i);
            call(fx, accts[a], false, i, T0 + i * SEC, dev, "");
        }
    }
    for (int m = 1; m <= 20; m++)
        fx_tick(fx, T0 + m * MIN);
    assert_int_equal(fx_latest(fx, "acc-biz", "devices_open"), 4);
    assert_null(alert_of(fx, "acc-biz"));
    assert_int_equal(threshold_devices(alert_of(fx, "acc-cons")), 3);
    assert_int_equal(threshold_devices(alert_of(fx, "acc-dflt")), 3);

    for (int i = 1; i <= 10; i++) {
        char dev[32];
        snprintf(dev, sizeof dev, "acc-biz10/ext%d", i);
        call(fx, "acc-biz10", false, i, T0 + 21 * MIN + i * SEC, dev, "");
    }
    for (int m = 22; m <= 32; m++)
        fx_tick(fx, T0 + m * MIN);
    assert_int_equal(threshold_devices(alert_of(fx, "acc-biz10")), 10);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, 0, "fair_use.devices"), 3);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    fx_destroy(fx);
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
        fx_tick(fx, day0 + day * DAY + HOUR);
    }
    assert_int_equal(fx_latest(fx, "acc-ab", "abroad_days_60d"), 30);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    /* Day 59: the window is days 0..59, 31 days abroad. */
    int64_t ts = day0 + 59 * DAY + 5 * HOUR;
    call(fx, "acc-ab", false, ++i, ts, "acc-ab/phone", "FR");
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    const struct fx_rec *a = fx_find_kind(fx, VIGIL_OUT_ALERT, 0);
    assert_int_equal(a->severity, VIGIL_SEV_WARNING);
    struct fx_json d;
    fx_json_parse(&d, a->json);
    fx_json_assert_str(&d, 0, "rule", "fair_use.abroad");
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), ts);
    int ev = fx_json_get(&d, 0, "evidence");
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, ev, "abroad_days")), 31);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, ev, "threshold_days")), 30);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, ev, "window_days")), 60);
    char want[16];
    snprintf(want, sizeof want, "s-%d", i);
    assert_true(fx_json_array_has(&d, ev, "sample_event_ids", want));
    int reason = fx_json_get(&d, 0, "reason");
    assert_non_null(strstr(d.js + d.t[reason].start,
                           "Device 'acc-ab/phone' of the account was used abroad (last in FR) on "
                           "31 of the last 60 days"));
    /* More days abroad: the same episode. */
    call(fx, "acc-ab", false, ++i, ts + DAY, "acc-ab/phone", "FR");
    fx_tick(fx, ts + DAY);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    /* Days 1..60 now: day 0 left the window, days 59 and 60 came in. */
    assert_int_equal(fx_latest(fx, "acc-ab", "abroad_days_60d"), 31);
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
        fx_tick(fx, day0 + day * DAY + HOUR);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    assert_int_equal(fx_latest(fx, "acc-sl", "abroad_days_60d"), 30);
    /* Long after, the window is empty: zero once, then the account is forgotten. */
    fx_tick(fx, day0 + 130 * DAY);
    assert_int_equal(fx_latest(fx, "acc-sl", "abroad_days_60d"), 0);
    size_t n = fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0);
    fx_tick(fx, day0 + 131 * DAY);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), n);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
}

/* Configured thresholds: abroad_days = 3 in a 7-day window. */
static void test_abroad_from_config(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"fair_use.abroad_days", "3", "fair_use.abroad_window_days",
                                       "7", NULL};
    struct fx *fx = new_fx(sets);
    int64_t day0 = (T0 / DAY) * DAY + 12 * HOUR;
    call(fx, "acc-c", false, 1, day0, "", "DE");
    call(fx, "acc-c", false, 2, day0 + 2 * DAY, "", "DE");
    call(fx, "acc-c", false, 3, day0 + 4 * DAY, "", "DE");
    call(fx, "acc-c", false, 4, day0 + 7 * DAY, "", "DE"); /* day 0 left the window */
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    call(fx, "acc-c", false, 5, day0 + 8 * DAY, "", "DE");
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, 0, "fair_use.abroad"), 1);
    struct fx_json d;
    fx_json_parse(&d, fx_find_kind(fx, VIGIL_OUT_ALERT, 0)->json);
    int reason = fx_json_get(&d, 0, "reason");
    assert_non_null(strstr(d.js + d.t[reason].start, "Device (unnamed) of the account"));
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    void *state = fx;
    fx_teardown(&state);
}

/* --- checkpoints: save, load, forget ------------------------------------------------------ */

/* Appends the saved state of `account` to *b. */
static void save(struct fx *fx, const char *account, struct vigil_bytes *b)
{
    assert_int_equal(fx->ops->save(fx->st, account, b), 0);
}

/* Counter records of `account` from record `from` on that carry counter `name` ("" any). */
static size_t count_counters(const struct fx *fx, size_t from, const char *account,
                             const char *name)
{
    size_t n = 0;
    for (size_t i = from; i < fx->cap.n; i++) {
        const struct fx_rec *r = &fx->cap.recs[i];
        if (r->kind != VIGIL_OUT_COUNTERS || strcmp(r->account, account) != 0)
            continue;
        for (size_t k = 0; k < r->n_counters; k++) {
            if (!name[0] || strcmp(r->counters[k].name, name) == 0) {
                n++;
                break;
            }
        }
    }
    return n;
}

/* Three devices with calls open together; the start of call i is on device d<i>. */
static void three_devices(struct fx *fx, const char *account, int64_t ts)
{
    call(fx, account, false, 1, ts, "d1", "");
    call(fx, account, false, 2, ts + 10 * SEC, "d2", "");
    call(fx, account, false, 3, ts + 20 * SEC, "d3", "");
}

/* Round trip: a phone abroad on 30 of 59 days, and three devices on calls for 5 minutes, go
 * to A and move to a fresh B. B's 60th day abroad gives the abroad warning at the event (its
 * samples reach back before the move), its ticks the devices warning at the episode's mark;
 * C, fed everything, writes the same alerts. */
static void test_checkpoint_round_trip(void **unused)
{
    (void)unused;
    struct fx *a = new_fx(NULL), *b = new_fx(NULL), *c = new_fx(NULL);
    int64_t day0 = (T0 / DAY - 59) * DAY + 12 * HOUR; /* day 59 is T0's */
    struct fx *first[] = {a, c}, *second[] = {b, c};
    for (int f = 0; f < 2; f++) {
        for (int day = 0; day < 59; day++)
            call(first[f], "acc-rtab", false, 100 + day, day0 + day * DAY, "phone",
                 day % 2 == 0 ? "ES" : "NL");
        three_devices(first[f], "acc-rtdev", T0);
        fx_tick(first[f], T0 + 20 * SEC);
        fx_tick(first[f], T0 + 5 * MIN);
    }
    assert_int_equal(fx_count_kind(a, VIGIL_OUT_ALERT, 0), 0);
    size_t c_from = c->cap.n;
    fx_move_account(a, b, "acc-rtab");
    fx_move_account(a, b, "acc-rtdev");
    for (int f = 0; f < 2; f++) {
        call(second[f], "acc-rtab", false, 200, T0 + 6 * MIN, "phone", "FR");
        for (int m = 6; m <= 12; m++)
            fx_tick(second[f], T0 + m * MIN);
    }
    assert_int_equal(fx_assert_same_findings(b, 0, c, c_from), 2);
    assert_non_null(fx_find_rule(b, VIGIL_OUT_ALERT, 0, "fair_use.abroad"));
    const struct fx_rec *w = fx_find_rule(b, VIGIL_OUT_ALERT, 0, "fair_use.devices");
    assert_non_null(w);
    struct fx_json d;
    fx_json_parse(&d, w->json);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), T0 + 20 * SEC + 10 * MIN);
    assert_int_equal(fx_latest(b, "acc-rtab", "abroad_days_60d"), 31);
    /* A published the three devices; B knows it and does not publish them again. */
    assert_int_equal(fx_latest(a, "acc-rtdev", "devices_open"), 3);
    assert_int_equal(fx_latest(b, "acc-rtdev", "devices_open"), -1);
    fx_destroy(a);
    fx_destroy(b);
    fx_destroy(c);
}

/* load brings next_due forward to the loaded episode's mark: B swept in this minute of
 * watermark already, and only the mark makes it sweep again within the minute. */
static void test_checkpoint_load_rearms_mark(void **unused)
{
    (void)unused;
    struct fx *a = new_fx(NULL), *b = new_fx(NULL), *c = new_fx(NULL);
    three_devices(a, "acc-rtmark", T0);
    three_devices(c, "acc-rtmark", T0);
    call(b, "acc-other", false, 1, T0, "x", "");
    int64_t wm1 = T0 + 10 * MIN + 5 * SEC, mark = T0 + 20 * SEC + 10 * MIN;
    struct fx *all[] = {a, b, c};
    for (int f = 0; f < 3; f++) {
        fx_tick(all[f], T0 + 20 * SEC);
        fx_tick(all[f], wm1);
    }
    assert_int_equal(fx_count_kind(a, VIGIL_OUT_ALERT, 0), 0);
    size_t c_from = c->cap.n;
    fx_move_account(a, b, "acc-rtmark");
    fx_tick(b, mark + 10 * SEC);
    fx_tick(c, mark + 10 * SEC);
    assert_int_equal(fx_assert_same_findings(b, 0, c, c_from), 1);
    assert_int_equal(fx_count_rule(b, VIGIL_OUT_ALERT, 0, "fair_use.devices"), 1);
    fx_destroy(a);
    fx_destroy(b);
    fx_destroy(c);
}

/* load replaces: B's two open devices of the account are gone when the saved state holds
 * only a day abroad, so a third device is the account's first, and B lists the loaded
 * account for the next tick, as its events would have. */
static void test_checkpoint_load_replaces(void **unused)
{
    (void)unused;
    struct fx *a = new_fx(NULL), *b = new_fx(NULL), *c = new_fx(NULL);
    call(b, "acc-rtrep", false, 1, T0, "d1", "");
    call(b, "acc-rtrep", false, 2, T0 + SEC, "d2", "");
    call(a, "acc-rtrep", false, 9, T0, "", "DE");
    call(c, "acc-rtrep", false, 9, T0, "", "DE");
    size_t b_from = b->cap.n, c_from = c->cap.n;
    fx_move_account(a, b, "acc-rtrep");
    struct fx *second[] = {b, c};
    for (int f = 0; f < 2; f++) {
        call(second[f], "acc-rtrep", false, 3, T0 + 2 * SEC, "d3", "");
        for (int m = 1; m <= 15; m++)
            fx_tick(second[f], T0 + m * MIN);
    }
    assert_int_equal(fx_assert_same_findings(b, b_from, c, c_from), 0);
    assert_int_equal(fx_latest(b, "acc-rtrep", "devices_open"), -1); /* one device: unpublished */
    assert_int_equal(fx_latest(b, "acc-rtrep", "abroad_days_60d"), 1);
    fx_destroy(a);
    fx_destroy(b);
    fx_destroy(c);
}

/* load takes the profile from B's config, not from the bytes: for B the account is a
 * business allowed five devices, so A's three-device episode warns no one there. */
static void test_checkpoint_load_takes_profile(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"profiles.business", "acc-rtprof",
                                       "fair_use.devices@business", "5", NULL};
    struct fx *a = new_fx(NULL), *b = new_fx(sets);
    three_devices(a, "acc-rtprof", T0);
    fx_tick(a, T0 + MIN);
    fx_move_account(a, b, "acc-rtprof");
    for (int m = 2; m <= 15; m++) {
        fx_tick(a, T0 + m * MIN);
        fx_tick(b, T0 + m * MIN);
    }
    assert_int_equal(fx_count_kind(a, VIGIL_OUT_ALERT, 0), 1);
    assert_int_equal(fx_count_kind(b, VIGIL_OUT_ALERT, 0), 0);
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
    call(fx, "acc-nodev", false, 1, T0, "", ""); /* no device, no country: nothing kept */
    save(fx, "acc-nodev", &b);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.p, "xyz", 3);

    call(fx, "acc-some", false, 1, T0, "d1", "BE");
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

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
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
    static const unsigned char masks[] = {0, 1, 2, 4, 0x80, 0xff}; /* good is both tables: 3 */
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
    call(a, "acc-bad", false, 1, T0, "d1", "BE");
    call(a, "acc-bad", false, 2, T0 + SEC, "d2", "");
    call(b, "acc-bad", false, 11, T0, "d1", "");
    call(b, "acc-bad", false, 12, T0 + SEC, "d2", "");
    struct vigil_bytes good = {0};
    save(a, "acc-bad", &good);
    assert_int_equal(good.p[1], 3);
    load_bad_forms(b, "acc-bad", &good);
    load_bad_forms(b, "acc-new", &good);
    assert_int_equal(b->ops->load(b->st, "", good.p, good.len), VIGIL_ERR_INVALID);

    struct vigil_bytes none = {0};
    save(b, "acc-new", &none);
    assert_int_equal(none.len, 0);
    call(b, "acc-bad", false, 13, T0 + 2 * SEC, "d3", ""); /* B's own third device */
    call(b, "acc-new", false, 1, T0 + 2 * SEC, "d1", "");  /* fresh: two devices */
    call(b, "acc-new", false, 2, T0 + 3 * SEC, "d2", "");
    for (int m = 1; m <= 15; m++)
        fx_tick(b, T0 + m * MIN);
    assert_int_equal(fx_count_kind(b, VIGIL_OUT_ALERT, 0), 1);
    assert_string_equal(fx_find_kind(b, VIGIL_OUT_ALERT, 0)->account, "acc-bad");
    assert_int_equal(fx_latest(b, "acc-bad", "devices_open"), 3);
    assert_int_equal(fx_latest(b, "acc-bad", "abroad_days_60d"), -1); /* A's, never loaded */
    assert_int_equal(fx_latest(b, "acc-new", "devices_open"), 2);
    vigil_bytes_fini(&good);
    fx_destroy(a);
    fx_destroy(b);
}

/* The fixture and watermark a corruption sweep loads into and runs on. */
struct corrupt_run {
    struct fx *d;
    int64_t wm;
};

/* Loads p into d and runs it: a start, an end and a tick a minute after the last (a sweep
 * every time). Refused or not, nothing may go wrong. */
static void load_and_run(void *ctx, const unsigned char *p, size_t len)
{
    struct corrupt_run *run = ctx;
    struct fx *d = run->d;
    int64_t *wm = &run->wm;
    int rc = d->ops->load(d->st, "acc-cor", p, len);
    assert_true(rc == 0 || rc == VIGIL_ERR_INVALID);
    *wm += MIN;
    call(d, "acc-cor", false, 4, *wm, "d4", "FR");
    call(d, "acc-cor", true, 2, *wm, "", "");
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
    three_devices(a, "acc-cor", T0);
    call(a, "acc-cor", true, 9, T0 + 30 * SEC, "d9", ""); /* an end before its start */
    call(a, "acc-cor", false, 5, T0 + 40 * SEC, "d5", "ES");
    call(a, "acc-cor", false, 6, T0 + DAY, "d6", "ES");
    struct vigil_bytes good = {0};
    save(a, "acc-cor", &good);
    struct corrupt_run run = {d, T0 + DAY};
    fx_corruption_sweep(&good, 2, load_and_run, &run);
    vigil_bytes_fini(&good);
    fx_destroy(a);
    fx_destroy(d);
}

/* forget: the account's state and its episode's mark are gone (no warning, save appends
 * nothing, a later event starts afresh), other accounts are untouched, and the accounts
 * listed for the next tick in both tables are each published once even though forgetting
 * moved entries around. */
static void test_checkpoint_forget(void **state)
{
    struct fx *fx = *state;
    char acct[32];
    for (int i = 0; i < 20; i++) {
        snprintf(acct, sizeof acct, "acc-q%d", i);
        call(fx, acct, false, 1, T0, "p", "BE");
        call(fx, acct, false, 2, T0, "t", "");
        if (i == 9) {
            three_devices(fx, "acc-gone", T0);
            call(fx, "acc-gone", false, 4, T0, "d4", "BE");
            three_devices(fx, "acc-keep", T0);
            call(fx, "acc-keep", false, 4, T0, "d4", "BE");
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
    fx_tick(fx, T0 + 30 * SEC);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), 38);
    for (int i = 1; i < 19; i++) {
        snprintf(acct, sizeof acct, "acc-q%d", i);
        assert_int_equal(count_counters(fx, 0, acct, "devices_open"), 1);
        assert_int_equal(count_counters(fx, 0, acct, "abroad_days_60d"), 1);
        assert_int_equal(fx_latest(fx, acct, "devices_open"), 2);
        assert_int_equal(fx_latest(fx, acct, "abroad_days_60d"), 1);
    }
    assert_int_equal(fx_latest(fx, "acc-keep", "devices_open"), 4);
    for (int64_t wm = T0 + MIN; wm <= T0 + 2 * DAY; wm += 10 * MIN)
        fx_tick(fx, wm);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    assert_string_equal(fx_find_kind(fx, VIGIL_OUT_ALERT, 0)->account, "acc-keep");
    assert_int_equal(count_counters(fx, 0, "acc-gone", ""), 0);
    assert_int_equal(count_counters(fx, 0, "acc-q0", ""), 0);
    /* A later event starts it afresh: two devices are published (the forgotten state had
     * published four), and the warning is not held back by the forgotten one's. */
    int64_t t = T0 + 2 * DAY + MIN;
    call(fx, "acc-gone", false, 11, t, "d1", "");
    call(fx, "acc-gone", false, 12, t, "d2", "");
    fx_tick(fx, t);
    assert_int_equal(fx_latest(fx, "acc-gone", "devices_open"), 2);
    call(fx, "acc-gone", false, 13, t, "d3", "");
    for (int m = 1; m <= 12; m++)
        fx_tick(fx, t + m * MIN);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, 0, "fair_use.devices"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_three_devices_eleven_minutes, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_devices_found_by_event_and_ended, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_devices_ended_before_any_tick, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_two_devices_left_alone, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_devices_disorder_and_expiry, setup, fx_teardown),
        cmocka_unit_test(test_devices_per_profile),
        cmocka_unit_test(test_devices_business_default),
        cmocka_unit_test_setup_teardown(test_abroad_31_of_60_days, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_abroad_window_slides, setup, fx_teardown),
        cmocka_unit_test(test_abroad_from_config),
        cmocka_unit_test(test_checkpoint_round_trip),
        cmocka_unit_test(test_checkpoint_load_rearms_mark),
        cmocka_unit_test(test_checkpoint_load_replaces),
        cmocka_unit_test(test_checkpoint_load_takes_profile),
        cmocka_unit_test_setup_teardown(test_checkpoint_save_unknown, setup, fx_teardown),
        cmocka_unit_test(test_checkpoint_bad_bytes),
        cmocka_unit_test(test_checkpoint_corrupt_byte),
        cmocka_unit_test_setup_teardown(test_checkpoint_forget, setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

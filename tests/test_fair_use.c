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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_three_devices_eleven_minutes, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_devices_found_by_event_and_ended, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_devices_ended_before_any_tick, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_two_devices_left_alone, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_devices_disorder_and_expiry, setup, fx_teardown),
        cmocka_unit_test(test_devices_per_profile),
        cmocka_unit_test_setup_teardown(test_abroad_31_of_60_days, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_abroad_window_slides, setup, fx_teardown),
        cmocka_unit_test(test_abroad_from_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

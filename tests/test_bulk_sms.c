/* SPDX-License-Identifier: Apache-2.0 */
/* test_bulk_sms.c - the bulk_sms detector through its vtable: SMS events parsed from the wire
 * format, the real config, profiles and emit layer, and a sink that records every order,
 * alert and counter set. Rules: bulk_sms.rate, bulk_sms.distinct_recipients,
 * bulk_sms.same_body. */
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

#define T0 1795399800000LL /* a whole minute (Monday 2026-11-23 09:10 in Amsterdam) */
#define SEC 1000LL
#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define FROM_A "+31612345678"
#define FROM_B "+31687654321"
#define BODY_X "9f86d081884c7d65"
#define MAX_RECS 2048

/* --- fixture (tests/detector_fixture.h) ---------------------------------------------------- */

static struct fx *new_fx(const char *const *sets)
{
    return fx_create("bulk_sms", sets, MAX_RECS, T0 + DAY);
}

static int setup(void **state)
{
    *state = new_fx(NULL);
    return 0;
}

/* --- feeding events ----------------------------------------------------------------------- */

/* One SMS; body NULL: no body_hash field; segments 0: no segments field. */
static void sms(struct fx *fx, const char *account, const char *id, int64_t ts, const char *from,
                const char *to, const char *body, int segments)
{
    char json[1024], extra[128] = "";
    size_t n = 0;
    if (body)
        n += (size_t)snprintf(extra + n, sizeof extra - n, ",\"body_hash\":\"%s\"", body);
    if (segments > 0)
        snprintf(extra + n, sizeof extra - n, ",\"segments\":%d", segments);
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"sms\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
             "\"from\":\"%s\",\"to\":\"%s\"%s}",
             id, (long long)ts, account, from, to, extra);
    fx_feed_json(fx, account, json);
}

/* SMS number i of a series: event id "<tag>-<i>", to recipient number `rcpt` (a Dutch
 * mobile, national format), text `body` (NULL: a text of its own, "b<i>"). */
static void sms_n(struct fx *fx, const char *account, const char *tag, int i, int64_t ts,
                  const char *from, int rcpt, const char *body)
{
    char id[48], to[32], own[32];
    snprintf(id, sizeof id, "%s-%d", tag, i);
    snprintf(to, sizeof to, "06%08d", rcpt);
    if (!body) {
        snprintf(own, sizeof own, "b%07x%08x", (unsigned)i, (unsigned)rcpt);
        body = own;
    }
    sms(fx, account, id, ts, from, to, body, 1);
}

/* --- looking at what came out ------------------------------------------------------------- */

/* The rule, severity and event_ts of an alert or order. */
static void assert_finding(const struct fx_rec *r, const char *rule, const char *severity,
                           int64_t event_ts)
{
    assert_non_null(r);
    struct fx_json d;
    fx_json_parse(&d, r->json);
    fx_json_assert_str(&d, 0, "rule", rule);
    fx_json_assert_str(&d, 0, "severity", severity);
    fx_json_assert_str(&d, 0, "detector", "bulk_sms");
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, 0, "event_ts")), event_ts);
}

/* Evidence value `name` of a record. */
static long long evidence(const struct fx_rec *r, const char *name)
{
    struct fx_json d;
    fx_json_parse(&d, r->json);
    int ev = fx_json_get(&d, 0, "evidence");
    assert_true(ev > 0);
    int v = fx_json_get(&d, ev, name);
    if (v < 0)
        fail_msg("no evidence %s in %s", name, r->json);
    return fx_json_int(&d, v);
}

/* Index of the first record of a kind and severity, or -1. */
static long first_index(const struct fx *fx, enum vigil_out_kind kind, int severity)
{
    const struct fx_rec *r = fx_find_kind(fx, kind, severity);
    return r ? (long)(r - fx->cap.recs) : -1;
}

/* Deterministic pseudo-random numbers for the leave-alone traffic. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* --- tests -------------------------------------------------------------------------------- */

/* detection.md: >= 50 SMS with the same text to different recipients within 15 minutes. The
 * simulator's blast: 400 SMS 1.5 s apart to distinct recipients, 9 in 10 of them one text.
 * Warnings first (same text at 17 copies, distinct recipients at 34), then one critical
 * finding at the 50th copy and one order for the whole blast, though the distinct-recipient
 * (100) and rate (300) levels are passed later. */
static void test_same_body_blast_one_order(void **state)
{
    struct fx *fx = *state;
    static const char *const alt[] = {"a1a1a1a1", "b2b2b2b2", "c3c3c3c3"};
    int copies = 0;
    int64_t t17 = 0, t50 = 0;
    for (int i = 1; i <= 400; i++) {
        int64_t ts = T0 + i * 1500;
        bool main_text = i % 10 != 0;
        sms_n(fx, "acc-spam", "s", i, ts, FROM_A, 1000 + i, main_text ? BODY_X : alt[(i / 10) % 3]);
        if (!main_text)
            continue;
        copies++;
        if (copies == 17)
            t17 = ts;
        if (copies == 49) {
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 0);
        }
        if (copies == 50) {
            t50 = ts;
            assert_int_equal(i, 55);
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
        }
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING), 2);
    struct vigil_emit_stats es;
    vigil_emit_get_stats(fx->out, &es);
    assert_int_equal(es.orders, 1);
    assert_int_equal(es.orders_suppressed, 0); /* the detector did not even ask again */

    const struct fx_rec *o = fx_find_kind(fx, VIGIL_OUT_ORDER, 0);
    assert_int_equal(o->action, VIGIL_ACT_BLOCK_SMS);
    assert_string_equal(o->account, "acc-spam");
    assert_string_equal(o->detector, "bulk_sms");
    assert_finding(o, "bulk_sms.same_body", "critical", t50);
    struct fx_json d;
    fx_json_parse(&d, o->json);
    fx_json_assert_str(&d, 0, "action", "block_sms");
    fx_json_assert_str(&d, 0, "order_id", o->id);
    assert_true(fx_json_array_has(&d, 0, "exempt", "112"));
    int ev = fx_json_get(&d, 0, "evidence");
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, ev, "same_body_recipients_15m")), 50);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, ev, "threshold")), 50);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, ev, "recipients_15m")), 55);
    assert_int_equal(fx_json_int(&d, fx_json_get(&d, ev, "sms_15m")), 55);
    static const char *const samples[] = {"s-51", "s-52", "s-53", "s-54", "s-55"};
    fx_json_assert_strings(&d, ev, "sample_event_ids", samples, 5);
    int reason = fx_json_get(&d, 0, "reason");
    assert_non_null(strstr(d.js + d.t[reason].start,
                           "Number +31612345678 sent the same text to 50 distinct recipients "
                           "within 15 minutes (threshold 50)"));

    /* The warning came first, for the same text at 17 copies. */
    long w = first_index(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING);
    assert_true(w >= 0 && w < first_index(fx, VIGIL_OUT_ORDER, 0));
    const struct fx_rec *wr = &fx->cap.recs[w];
    assert_finding(wr, "bulk_sms.same_body", "warning", t17);
    assert_int_equal(evidence(wr, "threshold"), 17);
    assert_int_equal(evidence(wr, "block_threshold"), 50);
    fx_json_parse(&d, wr->json);
    assert_true(fx_json_get(&d, 0, "action") < 0);
    assert_finding(fx_find_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), "bulk_sms.same_body",
                   "critical", t50);
}

/* detection.md: >= 300 SMS within 15 minutes from one number, here to 20 recipients with
 * varied texts so that only the count matters. Warning at the 100th, block at the 300th. */
static void test_rate_rule(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 300; i++) {
        if (i == 300) {
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING), 1);
        }
        sms_n(fx, "acc-rate", "r", i, T0 + i * 2000, FROM_A, 1 + i % 20, NULL);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 2);
    assert_finding(fx_find_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING), "bulk_sms.rate", "warning",
                   T0 + 100 * 2000);
    const struct fx_rec *o = fx_find_kind(fx, VIGIL_OUT_ORDER, 0);
    assert_int_equal(o->action, VIGIL_ACT_BLOCK_SMS);
    assert_finding(o, "bulk_sms.rate", "critical", T0 + 300 * 2000);
    assert_int_equal(evidence(o, "sms_15m"), 300);
    assert_int_equal(evidence(o, "threshold"), 300);
    assert_int_equal(evidence(o, "recipients_15m"), 20);
    assert_int_equal(evidence(o, "same_body_recipients_15m"), 1);
    assert_true(first_index(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING) <
                first_index(fx, VIGIL_OUT_ORDER, 0));
    struct fx_json d;
    fx_json_parse(&d, o->json);
    int reason = fx_json_get(&d, 0, "reason");
    assert_non_null(strstr(d.js + d.t[reason].start,
                           "Number +31612345678 sent 300 SMS within 15 minutes (threshold 300)"));
    /* More of the same: nothing new. */
    size_t before = fx->cap.n;
    for (int i = 301; i <= 320; i++)
        sms_n(fx, "acc-rate", "r", i, T0 + i * 2000, FROM_A, 1 + i % 20, NULL);
    assert_int_equal(fx->cap.n, before);
}

/* detection.md: >= 100 distinct recipients within 15 minutes. 99 recipients twice each (198
 * SMS) is not enough; the 100th recipient is. */
static void test_distinct_recipients_rule(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 99; i++)
        sms_n(fx, "acc-rcpt", "d", i, T0 + i * 3000, FROM_A, 500 + i, NULL);
    for (int i = 1; i <= 99; i++)
        sms_n(fx, "acc-rcpt", "d", 100 + i, T0 + 300000 + i * 3000, FROM_A, 500 + i, NULL);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 0);
    /* Warnings: 34 recipients, then 100 SMS. */
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING), 2);
    assert_finding(fx_find_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING),
                   "bulk_sms.distinct_recipients", "warning", T0 + 34 * 3000);
    assert_finding(&fx->cap.recs[first_index(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING) + 1],
                   "bulk_sms.rate", "warning", T0 + 303000);

    sms_n(fx, "acc-rcpt", "d", 999, T0 + 600000, FROM_A, 600, NULL);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    const struct fx_rec *o = fx_find_kind(fx, VIGIL_OUT_ORDER, 0);
    assert_finding(o, "bulk_sms.distinct_recipients", "critical", T0 + 600000);
    assert_int_equal(evidence(o, "recipients_15m"), 100);
    assert_int_equal(evidence(o, "sms_15m"), 199);
    assert_int_equal(o->action, VIGIL_ACT_BLOCK_SMS);
}

/* A recipient who gets the same text again counts once; a duplicated event (same id, as
 * at-least-once delivery can bring) changes no recipient count but does count as an SMS. */
static void test_same_body_recipient_once_and_duplicates(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 49; i++) {
        sms_n(fx, "acc-dup", "x", i, T0 + i * 5000, FROM_A, 5000 + i, BODY_X);
        sms_n(fx, "acc-dup", "x", i, T0 + i * 5000, FROM_A, 5000 + i, BODY_X); /* duplicate */
    }
    for (int i = 1; i <= 30; i++)
        sms_n(fx, "acc-dup", "again", i, T0 + 300000 + i * 1000, FROM_A, 5000 + i, BODY_X);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 0);
    fx_tick(fx, T0 + 330000);
    const struct fx_rec *c = fx_last_counters(fx, "acc-dup");
    assert_int_equal(fx_counter(c, "sms_15m"), 128); /* 49 + 49 duplicates + 30 */
    assert_int_equal(fx_counter(c, "recipients_15m"), 49);

    sms_n(fx, "acc-dup", "x", 50, T0 + 340000, FROM_A, 5050, BODY_X);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    const struct fx_rec *o = fx_find_kind(fx, VIGIL_OUT_ORDER, 0);
    assert_finding(o, "bulk_sms.same_body", "critical", T0 + 340000);
    assert_int_equal(evidence(o, "same_body_recipients_15m"), 50);
    assert_int_equal(evidence(o, "sms_15m"), 129);
}

/* 299 SMS, the first at a whole minute T0, then one more: an SMS counts for at least 15 and
 * less than 16 minutes (it leaves at the start of the 16th minute after its own). */
static void boundary_case(int64_t last_offset, size_t want_orders)
{
    struct fx *fx = new_fx(NULL);
    sms_n(fx, "acc-edge", "e", 0, T0, FROM_A, 1, NULL);
    for (int i = 1; i <= 298; i++)
        sms_n(fx, "acc-edge", "e", i, T0 + 5 * MIN + i * 1000, FROM_A, 1 + i % 20, NULL);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    sms_n(fx, "acc-edge", "e", 299, T0 + last_offset, FROM_A, 7, NULL);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), want_orders);
    if (want_orders)
        assert_finding(fx_find_kind(fx, VIGIL_OUT_ORDER, 0), "bulk_sms.rate", "critical",
                       T0 + last_offset);
    fx_destroy(fx);
}

static void test_window_boundary(void **unused)
{
    (void)unused;
    boundary_case(15 * MIN, 1);     /* exactly 15 minutes apart: within */
    boundary_case(16 * MIN - 1, 1); /* the first SMS's minute is still in the window */
    boundary_case(16 * MIN, 0);     /* the first has left: 299 in the window */
    boundary_case(20 * MIN, 0);
}

/* events.md allows 60 s of disorder: an SMS 40 s older than the newest counts (and completes
 * the pattern, so the order carries its ts); one older than the window is ignored. */
static void test_disorder(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 299; i++)
        sms_n(fx, "acc-dis", "o", i, T0 + i * 1000, FROM_A, 1 + i % 20, NULL);
    sms_n(fx, "acc-dis", "o", 300, T0 + 299000 - 40000, FROM_A, 3, NULL);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_finding(fx_find_kind(fx, VIGIL_OUT_ORDER, 0), "bulk_sms.rate", "critical", T0 + 259000);

    for (int i = 1; i <= 299; i++)
        sms_n(fx, "acc-late", "l", i, T0 + 20 * MIN + i * 1000, FROM_A, 1 + i % 20, NULL);
    sms_n(fx, "acc-late", "l", 300, T0, FROM_A, 3, NULL); /* 20 minutes late */
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
}

/* Two sending numbers of one account are counted separately: 200 + 200 SMS is no rate
 * finding; the account's counters add both up. */
static void test_two_numbers_counted_separately(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 200; i++) {
        sms_n(fx, "acc-two", "a", i, T0 + i * 2000, FROM_A, 1 + i % 20, NULL);
        sms_n(fx, "acc-two", "b", i, T0 + i * 2000 + 500, FROM_B, 1 + i % 20, NULL);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING), 1); /* cool-down */
    fx_tick(fx, T0 + 401000);
    const struct fx_rec *c = fx_last_counters(fx, "acc-two");
    assert_int_equal(fx_counter(c, "sms_15m"), 400);
    assert_int_equal(fx_counter(c, "recipients_15m"), 20);

    for (int i = 201; i <= 300; i++)
        sms_n(fx, "acc-two", "a", i, T0 + 401000 + (i - 200) * 1000, FROM_A, 1 + i % 20, NULL);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    const struct fx_rec *o = fx_find_kind(fx, VIGIL_OUT_ORDER, 0);
    assert_finding(o, "bulk_sms.rate", "critical", T0 + 501000);
    assert_int_equal(evidence(o, "sms_15m"), 300);
    assert_non_null(strstr(o->json, FROM_A));
}

/* Two numbers of one account blasting at once: the detector reports each number's critical
 * finding, and the emit layer issues one order per (account, block_sms, bulk_sms). */
static void test_two_numbers_blast_one_order(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 100; i++) {
        sms_n(fx, "acc-pair", "a", i, T0 + i * 1000, FROM_A, 1000 + i, NULL);
        sms_n(fx, "acc-pair", "b", i, T0 + i * 1000 + 500, FROM_B, 2000 + i, NULL);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_finding(fx_find_kind(fx, VIGIL_OUT_ORDER, 0), "bulk_sms.distinct_recipients", "critical",
                   T0 + 100000);
    struct vigil_emit_stats es;
    vigil_emit_get_stats(fx->out, &es);
    assert_int_equal(es.orders, 1);
    assert_int_equal(es.orders_suppressed, 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 1);
}

/* detection.md, leave alone: a person sending 150 SMS spread over a day (random times, 25
 * contacts, varied texts). */
static void test_person_150_a_day_left_alone(void **state)
{
    struct fx *fx = *state;
    int64_t ts[150];
    for (int k = 0; k < 150; k++)
        ts[k] = T0 + (int64_t)(rnd() % (uint64_t)DAY);
    qsort(ts, 150, sizeof ts[0], cmp_i64);
    for (int k = 0; k < 150; k++) {
        char body[24];
        snprintf(body, sizeof body, "%016llx", (unsigned long long)rnd());
        sms_n(fx, "acc-person", "p", k, ts[k], FROM_A, 100 + (int)(rnd() % 25), body);
        if (k % 10 == 9)
            fx_tick(fx, ts[k] - MIN);
    }
    fx_tick(fx, ts[149]);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    assert_true(fx_counter(fx_last_counters(fx, "acc-person"), "sms_1h") >= 1);
}

/* detection.md, leave alone: a business sending 40 appointment reminders an hour through
 * office hours (09:00-17:00, one every 90 s), each to its own client, one template text. */
static void test_business_reminders_left_alone(void **state)
{
    struct fx *fx = *state;
    int64_t t9 = T0 - 10 * MIN; /* 09:00 Amsterdam */
    for (int i = 0; i < 8 * 40; i++) {
        int64_t ts = t9 + i * 90 * SEC;
        sms_n(fx, "acc-clinic", "rem", i, ts, FROM_A, 10000 + i, "5e884898da280471");
        if (i % 40 == 39)
            fx_tick(fx, ts - MIN);
    }
    fx_tick(fx, t9 + 8 * HOUR);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    const struct fx_rec *c = fx_last_counters(fx, "acc-clinic");
    assert_int_equal(fx_counter(c, "sms_1h"), 40);
    assert_true(fx_counter(c, "recipients_15m") <= 11);
}

/* The same business sending each hour's 40 reminders in one 2-minute batch: warnings (40
 * recipients of one text), but no order and no critical alert. */
static void test_business_reminder_batches_no_order(void **state)
{
    struct fx *fx = *state;
    int64_t t9 = T0 - 10 * MIN;
    for (int h = 0; h < 8; h++) {
        for (int k = 0; k < 40; k++) {
            int64_t ts = t9 + h * HOUR + k * 3 * SEC;
            sms_n(fx, "acc-clinic", "rem", h * 40 + k, ts, FROM_A, 10000 + h * 40 + k,
                  "5e884898da280471");
        }
        fx_tick(fx, t9 + h * HOUR + 30 * MIN);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 0);
    assert_true(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING) >= 8);
}

/* Counters: sms_15m and segments_15m of all numbers, recipients_15m of the busiest number,
 * sms_1h; they slide to zero with the watermark, are published when they change, and an idle
 * account is forgotten. Calls are not this detector's business. */
static void test_counters_slide_and_idle(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 10; i++) {
        char id[16], to[16];
        snprintf(id, sizeof id, "c-%d", i);
        snprintf(to, sizeof to, "06%08d", 1 + i % 4);
        sms(fx, "acc-cnt", id, T0 + i * 10 * SEC, FROM_A, to, NULL, 2);
    }
    for (int i = 1; i <= 5; i++)
        sms_n(fx, "acc-cnt", "d", i, T0 + 2 * MIN + i * SEC, FROM_B, 50 + i, NULL);
    char json[512];
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_start\",\"id\":\"k1\",\"ts\":%lld,\"account\":\"acc-call\","
             "\"call_id\":\"k1\",\"from\":\"+31201234567\",\"to\":\"+31201111111\","
             "\"dir\":\"out\"}",
             (long long)(T0 + MIN));
    fx_feed_json(fx, "acc-call", json);

    fx_tick(fx, T0 + 3 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), 1);
    const struct fx_rec *c = fx_last_counters(fx, "acc-cnt");
    assert_string_equal(c->detector, "bulk_sms");
    assert_int_equal(c->ttl_s, 172800);
    assert_int_equal(fx_counter(c, "sms_15m"), 15);
    assert_int_equal(fx_counter(c, "segments_15m"), 25);
    assert_int_equal(fx_counter(c, "recipients_15m"), 5);
    assert_int_equal(fx_counter(c, "sms_1h"), 15);
    assert_null(fx_last_counters(fx, "acc-call"));

    fx_tick(fx, T0 + 4 * MIN); /* nothing changed */
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), 1);

    fx_tick(fx, T0 + 20 * MIN); /* the 15-minute window is empty, the hour is not */
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), 2);
    c = fx_last_counters(fx, "acc-cnt");
    assert_int_equal(fx_counter(c, "sms_15m"), 0);
    assert_int_equal(fx_counter(c, "segments_15m"), 0);
    assert_int_equal(fx_counter(c, "recipients_15m"), 0);
    assert_int_equal(fx_counter(c, "sms_1h"), 15);

    fx_tick(fx, T0 + 60 * MIN); /* the first 5-minute slot is still in the hour */
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), 2);
    fx_tick(fx, T0 + 70 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), 3);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-cnt"), "sms_1h"), 0);
    fx_tick(fx, T0 + 80 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), 3);

    /* Back after being forgotten: a fresh count. */
    sms_n(fx, "acc-cnt", "n", 1, T0 + 81 * MIN, FROM_A, 1, NULL);
    fx_tick(fx, T0 + 81 * MIN);
    c = fx_last_counters(fx, "acc-cnt");
    assert_int_equal(fx_counter(c, "sms_15m"), 1);
    assert_int_equal(fx_counter(c, "sms_1h"), 1);
}

/* An idle number is dropped at on_tick and starts again from nothing: two bursts of 200
 * 20 minutes apart are no rate finding. */
static void test_idle_number_forgotten(void **state)
{
    struct fx *fx = *state;
    for (int burst = 0; burst < 3; burst++) {
        int64_t t = T0 + burst * 20 * MIN;
        for (int i = 1; i <= 200; i++)
            sms_n(fx, "acc-idle", "i", burst * 1000 + i, t + i * 1000, FROM_A, 1 + i % 20, NULL);
        fx_tick(fx, t + 19 * MIN);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-idle"), "sms_15m"), 0);
}

/* A number that keeps writing to new people at 5 a minute for 2 hours: its recipient set
 * keeps only the window (stale entries reused or purged), the count stays exact at 80 and
 * never reaches 100. */
static void test_recipient_window_slides(void **state)
{
    struct fx *fx = *state;
    int n = 0;
    for (int m = 0; m < 120; m++) {
        for (int k = 0; k < 5; k++, n++)
            sms_n(fx, "acc-slide", "w", n, T0 + m * MIN + k * 10 * SEC, FROM_A, 100000 + n, NULL);
        fx_tick(fx, T0 + m * MIN);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 0);
    const struct fx_rec *c = fx_last_counters(fx, "acc-slide");
    assert_int_equal(fx_counter(c, "recipients_15m"), 80);
    assert_int_equal(fx_counter(c, "sms_15m"), 80);
    /* A minute later the oldest minute has left: 75 SMS, while recipients_15m keeps the
     * highest count reached in the window. */
    fx_tick(fx, T0 + 120 * MIN);
    c = fx_last_counters(fx, "acc-slide");
    assert_int_equal(fx_counter(c, "sms_15m"), 75);
    assert_int_equal(fx_counter(c, "recipients_15m"), 80);
}

/* A blast without body_hash to 600 people: one order at the 100th recipient; the recipient
 * set saturates (7/8 of 256 entries) without harm. */
static void test_recipient_set_saturates(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 600; i++) {
        char id[16], to[16];
        snprintf(id, sizeof id, "z-%d", i);
        snprintf(to, sizeof to, "06%08d", 7000 + i);
        sms(fx, "acc-sat", id, T0 + i * 1000, FROM_A, to, NULL, 0);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_finding(fx_find_kind(fx, VIGIL_OUT_ORDER, 0), "bulk_sms.distinct_recipients", "critical",
                   T0 + 100000);
    fx_tick(fx, T0 + 600000);
    int64_t r = fx_counter(fx_last_counters(fx, "acc-sat"), "recipients_15m");
    assert_int_equal(r, 224);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-sat"), "sms_15m"), 600);
}

/* The blast text is not pushed out of its slot by a stream of one-off texts in between. */
static void test_blast_text_among_varied_texts(void **state)
{
    struct fx *fx = *state;
    int64_t t = T0;
    for (int i = 1; i <= 50; i++) {
        t += 2000;
        sms_n(fx, "acc-mix", "v", i, t, FROM_A, 100 + i, BODY_X);
        if (i == 50)
            break;
        for (int k = 0; k < 3; k++) {
            t += 500;
            sms_n(fx, "acc-mix", "u", i * 10 + k, t, FROM_A, 1 + (i + k) % 10, NULL);
        }
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    const struct fx_rec *o = fx_find_kind(fx, VIGIL_OUT_ORDER, 0);
    assert_finding(o, "bulk_sms.same_body", "critical", t);
    assert_int_equal(evidence(o, "same_body_recipients_15m"), 50);
}

/* Thresholds per profile: a business account with sms_15m@business = 5 and no warning is
 * blocked at its 5th SMS (still in the per-SMS list: the sample is that SMS); a default
 * account is not. */
static void test_profile_thresholds(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"profiles.business",
                                       "acc-biz",
                                       "bulk_sms.sms_15m@business",
                                       "5",
                                       "bulk_sms.sms_15m_warning@business",
                                       "0",
                                       NULL};
    struct fx *fx = new_fx(sets);
    for (int i = 1; i <= 5; i++) {
        sms_n(fx, "acc-biz", "p", i, T0 + i * 1000, FROM_A, 1, NULL);
        sms_n(fx, "acc-default", "q", i, T0 + i * 1000, FROM_B, 1, NULL);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING), 0);
    const struct fx_rec *o = fx_find_kind(fx, VIGIL_OUT_ORDER, 0);
    assert_string_equal(o->account, "acc-biz");
    assert_finding(o, "bulk_sms.rate", "critical", T0 + 5000);
    assert_int_equal(evidence(o, "threshold"), 5);
    struct fx_json d;
    fx_json_parse(&d, o->json);
    static const char *const samples[] = {"p-5"};
    fx_json_assert_strings(&d, fx_json_get(&d, 0, "evidence"), "sample_event_ids", samples, 1);
    fx_destroy(fx);
}

/* Many quiet accounts and numbers among one spammer. */
static void test_many_accounts(void **state)
{
    struct fx *fx = *state;
    char acct[32];
    for (int i = 0; i < 300; i++) {
        snprintf(acct, sizeof acct, "acc-%d", i);
        for (int k = 0; k < 12; k++)
            sms_n(fx, acct, "m", k, T0 + i * 10 + k * 1000, FROM_A, k, NULL);
    }
    for (int k = 0; k < 100; k++)
        sms_n(fx, "acc-77", "s", k, T0 + 20000 + k * 100, FROM_B, 1000 + k, NULL);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_string_equal(fx_find_kind(fx, VIGIL_OUT_ORDER, 0)->account, "acc-77");
    fx_tick(fx, T0 + 40000);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), 300);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-299"), "sms_15m"), 12);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-77"), "sms_15m"), 112);
    fx_tick(fx, T0 + 2 * HOUR);
    fx_tick(fx, T0 + 3 * HOUR);
    size_t n = fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0);
    fx_tick(fx, T0 + 4 * HOUR);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_same_body_blast_one_order, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rate_rule, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_distinct_recipients_rule, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_same_body_recipient_once_and_duplicates, setup,
                                        fx_teardown),
        cmocka_unit_test(test_window_boundary),
        cmocka_unit_test_setup_teardown(test_disorder, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_two_numbers_counted_separately, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_two_numbers_blast_one_order, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_person_150_a_day_left_alone, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_business_reminders_left_alone, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_business_reminder_batches_no_order, setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_counters_slide_and_idle, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_idle_number_forgotten, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_recipient_window_slides, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_recipient_set_saturates, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_blast_text_among_varied_texts, setup, fx_teardown),
        cmocka_unit_test(test_profile_thresholds),
        cmocka_unit_test_setup_teardown(test_many_accounts, setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

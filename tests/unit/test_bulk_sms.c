/* SPDX-License-Identifier: Apache-2.0 */
/* test_bulk_sms.c - the bulk_sms detector through its vtable: SMS events parsed from the wire
 * format, the real config, profiles and emit layer, and a sink that records every order,
 * alert and counter set. Rules: bulk_sms.rate, bulk_sms.distinct_recipients,
 * bulk_sms.same_body; checkpoints: save, load, forget. */
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

/* --- fixture (tests/unit/detector_fixture.h) ---------------------------------------------------- */

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

/* 299 SMS, the first at a whole minute T0, then one more: the window is exactly the 15
 * minutes ending at the SMS being judged, both ends included. */
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
    boundary_case(15 * MIN + 1, 0); /* a millisecond more: the first has left, 299 */
    boundary_case(16 * MIN - 1, 0); /* (the old minute buckets still counted it here) */
    boundary_case(16 * MIN, 0);
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

/* The ticks visit only the accounts whose counts leave a window at that minute: with 3000
 * idle accounts held (one SMS each at minute 0) and one more that sent at minutes 7 and 10,
 * every tick publishes exactly the accounts due then (sms_15m at minutes 16, 23 and 26,
 * sms_1h at 65, when the idle ones are forgotten, 70 and 75) and nothing in between. */
#define IDLE_ACCTS 3000
static void test_sweep_visits_due_accounts(void **state)
{
    (void)state;
    struct fx *fx = fx_create("bulk_sms", NULL, 4 * IDLE_ACCTS, T0 + DAY);
    char acct[32];
    for (int i = 0; i < IDLE_ACCTS; i++) {
        snprintf(acct, sizeof acct, "acc-idle-%d", i);
        sms_n(fx, acct, "z", i, T0 + (i % 50) * SEC, FROM_A, 1 + i % 7, NULL);
    }
    size_t seen = 0;
    for (int t = 1; t <= 75; t++) {
        if (t == 8 || t == 11)
            sms_n(fx, "acc-late", "l", t, T0 + (t - 1) * MIN + 30 * SEC, FROM_B, t, NULL);
        fx_tick(fx, T0 + t * MIN);
        size_t now = fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), want = 0;
        if (t == 1)
            want = IDLE_ACCTS; /* the first tick publishes all of them */
        else if (t == 16 || t == 65)
            want = IDLE_ACCTS;
        else if (t == 8 || t == 11 || t == 23 || t == 26 || t == 70 || t == 75)
            want = 1;
        if (now - seen != want)
            fail_msg("tick at minute %d: %zu counter records, want %zu", t, now - seen, want);
        seen = now;
        const struct fx_rec *c = fx_last_counters(fx, "acc-late");
        if (t == 23 || t == 26) {
            assert_int_equal(fx_counter(c, "sms_15m"), t == 23 ? 1 : 0);
            assert_int_equal(fx_counter(c, "sms_1h"), 2);
        }
        if (t == 70)
            assert_int_equal(fx_counter(c, "sms_1h"), 1);
    }
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-late"), "sms_1h"), 0);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-idle-2999"), "sms_1h"), 0);
    /* Forgotten: a new SMS counts from nothing. */
    sms_n(fx, "acc-idle-7", "n", 1, T0 + 76 * MIN, FROM_A, 1, NULL);
    fx_tick(fx, T0 + 76 * MIN);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-idle-7"), "sms_1h"), 1);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-idle-7"), "sms_15m"), 1);
    fx_destroy(fx);
}

/* An account the ticks left alone (nothing of it due) is where a walk of every account would
 * have left it: an SMS 24 minutes behind the watermark (a lagging partition) is outside the
 * account's 15 minutes, as it was before, and only its hour counts it. */
static void test_sweep_skipped_account_is_current(void **state)
{
    struct fx *fx = *state;
    sms_n(fx, "acc-lag", "g", 1, T0, FROM_A, 1, NULL);
    for (int t = 1; t <= 64; t++)
        fx_tick(fx, T0 + t * MIN); /* due at 16 (sms_15m) and 65 (sms_1h) only */
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-lag"), "sms_15m"), 0);
    sms_n(fx, "acc-lag", "g", 2, T0 + 40 * MIN, FROM_A, 2, NULL);
    fx_tick(fx, T0 + 64 * MIN + 30 * SEC);
    const struct fx_rec *c = fx_last_counters(fx, "acc-lag");
    assert_int_equal(fx_counter(c, "sms_15m"), 0);
    assert_int_equal(fx_counter(c, "sms_1h"), 2);
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
 * keeps only the window (stale entries reused or purged), the count stays exact at 76 (the
 * 15 minutes ending at each SMS, both ends included) and never reaches 100; the account's
 * sms_15m counter is kept in minute buckets (15 to 16 minutes: 80). */
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
    assert_int_equal(fx_counter(c, "recipients_15m"), 76);
    assert_int_equal(fx_counter(c, "sms_15m"), 80);
    /* A minute later the oldest minute has left: 75 SMS, while recipients_15m keeps the
     * highest count reached in the window. */
    fx_tick(fx, T0 + 120 * MIN);
    c = fx_last_counters(fx, "acc-slide");
    assert_int_equal(fx_counter(c, "sms_15m"), 75);
    assert_int_equal(fx_counter(c, "recipients_15m"), 76);
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

/* --- checkpoints (save, load, forget) ----------------------------------------------------- */

/* The account's saved bytes appended to *b (emptied first); save must succeed. */
static void save(struct fx *fx, const char *account, struct vigil_bytes *b)
{
    b->len = 0;
    assert_int_equal(fx->ops->save(fx->st, account, b), 0);
}

static int load(struct fx *fx, const char *account, const void *p, size_t len)
{
    return fx->ops->load(fx->st, account, p, len);
}

/* The orders and alerts of `account` from record `from` on, at most max, in order. */
static size_t findings(const struct fx *fx, const char *account, size_t from,
                       const struct fx_rec **out, size_t max)
{
    size_t n = 0;
    for (size_t i = from; i < fx->cap.n; i++) {
        const struct fx_rec *r = &fx->cap.recs[i];
        if (r->kind == VIGIL_OUT_COUNTERS || strcmp(r->account, account) != 0)
            continue;
        assert_true(n < max);
        out[n++] = r;
    }
    return n;
}

/* Fails unless got[0..n) and want[0..n) are the same records: kind, id and whole JSON (rule,
 * severity, evidence, samples). */
static void assert_same_records(const struct fx_rec *const *got, size_t n_got,
                                const struct fx_rec *const *want, size_t n_want)
{
    assert_int_equal(n_got, n_want);
    for (size_t i = 0; i < n_want; i++) {
        assert_int_equal(got[i]->kind, want[i]->kind);
        assert_string_equal(got[i]->id, want[i]->id);
        assert_string_equal(got[i]->json, want[i]->json);
    }
}

/* One SMS of a scripted stream. */
struct ck_sms {
    int64_t ts;
    const char *from;
    const char *tag; /* event id "<tag>-<i>" */
    int i;
    int rcpt;
    const char *body; /* NULL: a text of its own */
};

static int cmp_ck(const void *a, const void *b)
{
    const struct ck_sms *x = a, *y = b;
    if (x->ts != y->ts)
        return (x->ts > y->ts) - (x->ts < y->ts);
    return strcmp(x->tag, y->tag) != 0 ? strcmp(x->tag, y->tag) : x->i - y->i;
}

#define CK_MAX 600
#define FROM_C "+31611111111"
#define FROM_D "+31622222222"
#define BODY_Z "c0ffeec0ffeec0ff"
#define BODY_D "d00dd00dd00dd00d"

static void ck_add(struct ck_sms *e, size_t *n, int64_t ts, const char *from, const char *tag,
                   int i, int rcpt, const char *body)
{
    assert_true(*n < CK_MAX);
    e[(*n)++] =
        (struct ck_sms){.ts = ts, .from = from, .tag = tag, .i = i, .rcpt = rcpt, .body = body};
}

/* The checkpoint is taken here: in the middle of number A's blast, between its 52nd and
 * 53rd SMS, after its warnings and before its critical finding (the 55th). */
#define CK_SPLIT (T0 + 16 * MIN + 263 * SEC)

/* The stream of account acc-ck around the checkpoint, in time order:
 *   A: a same-text blast from minute 16 (200 SMS, 5 s apart): warnings before the split,
 *      the critical finding after it, with samples from both sides (heavy, pool entry);
 *   B: 6 new recipients a minute, minutes 5-35: a recipients warning before the split and
 *      a window that keeps sliding across it (never 100 in 16 minutes);
 *   C: 4 copies of a text before the split (still light), 14 after: the 17th copy warns
 *      only if the 4 came back;
 *   D: 16 copies at minutes 0-1, one at minute 17 (heavy, with stale set entries at the
 *      split), the 16 recipients again at minute 21: 17 in the window. */
static size_t ck_stream(struct ck_sms *e)
{
    static const char *const alt[] = {"a1a1a1a1", "b2b2b2b2", "c3c3c3c3"};
    size_t n = 0;
    for (int i = 1; i <= 200; i++)
        ck_add(e, &n, T0 + 16 * MIN + i * 5 * SEC, FROM_A, "a", i, 1000 + i,
               i % 10 ? BODY_X : alt[(i / 10) % 3]);
    for (int i = 0; i < 180; i++)
        ck_add(e, &n, T0 + 5 * MIN + i * 10 * SEC, FROM_B, "b", i, 5000 + i, NULL);
    for (int i = 0; i < 18; i++)
        ck_add(e, &n, i < 4 ? T0 + 19 * MIN + i * SEC : T0 + 21 * MIN + i * 2 * SEC, FROM_C, "c", i,
               6000 + i, BODY_Z);
    for (int i = 0; i < 16; i++) {
        ck_add(e, &n, T0 + i * 5 * SEC, FROM_D, "d", i, 3000 + i, BODY_D);
        ck_add(e, &n, T0 + 21 * MIN + 30 * SEC + i * SEC, FROM_D, "e", i, 3000 + i, BODY_D);
    }
    ck_add(e, &n, T0 + 17 * MIN, FROM_D, "f", 0, 4000, BODY_D);
    qsort(e, n, sizeof *e, cmp_ck);
    return n;
}

/* Feeds e[lo, hi) to account `account`, each SMS followed by a tick one minute behind it. */
static void ck_feed(struct fx *fx, const char *account, const struct ck_sms *e, size_t lo,
                    size_t hi)
{
    for (size_t k = lo; k < hi; k++) {
        sms_n(fx, account, e[k].tag, e[k].i, e[k].ts, e[k].from, e[k].rcpt, e[k].body);
        fx_tick(fx, e[k].ts - MIN);
    }
}

/* Alert cool-down off, so that every finding of the detector comes out as an alert. */
static const char *const no_cooldown[] = {"alerts.cooldown_s", "0", NULL};

/* A checkpoint in the middle of a blast: fixture A runs up to the split and saves acc-ck, a
 * fresh fixture B (holding other things for acc-ck and another account) loads it and runs
 * the rest. A's and then B's orders and alerts are exactly those of fixture C, which ran the
 * whole stream, and so are the counters in the end. */
static void test_checkpoint_round_trip(void **unused)
{
    (void)unused;
    static struct ck_sms e[CK_MAX];
    size_t n = ck_stream(e), split = 0;
    while (e[split].ts < CK_SPLIT)
        split++;
    struct fx *a = new_fx(no_cooldown), *b = new_fx(no_cooldown), *c = new_fx(no_cooldown);

    ck_feed(a, "acc-ck", e, 0, split);
    ck_feed(c, "acc-ck", e, 0, split);
    struct vigil_bytes saved = {0}, again = {0};
    save(a, "acc-ck", &saved);
    assert_true(saved.len > 0);
    save(a, "acc-ck", &again); /* saving changes nothing */
    assert_int_equal(again.len, saved.len);
    assert_memory_equal(again.p, saved.p, saved.len);

    /* What B held for acc-ck is replaced; the other account stays. */
    sms_n(b, "acc-ck", "x", 1, CK_SPLIT - 30 * SEC, "+31633333333", 1, NULL);
    sms_n(b, "acc-by", "y", 1, CK_SPLIT - 20 * SEC, FROM_A, 1, NULL);
    assert_int_equal(load(b, "acc-ck", saved.p, saved.len), 0);
    /* B's first tick, at A's last watermark, publishes the counters A last published. */
    static const char *const names[] = {"sms_15m", "segments_15m", "recipients_15m", "sms_1h"};
    fx_tick(b, e[split - 1].ts - MIN);
    for (int k = 0; k < 4; k++)
        assert_int_equal(fx_latest(b, "acc-ck", names[k]), fx_latest(a, "acc-ck", names[k]));
    ck_feed(b, "acc-ck", e, split, n);
    ck_feed(c, "acc-ck", e, split, n);
    fx_tick(b, T0 + 2 * HOUR);
    fx_tick(c, T0 + 2 * HOUR);

    static const struct fx_rec *got[512], *want[512];
    size_t n_a = findings(a, "acc-ck", 0, got, 512);
    size_t n_got = n_a + findings(b, "acc-ck", 0, got + n_a, 512 - n_a);
    size_t n_want = findings(c, "acc-ck", 0, want, 512);
    assert_same_records(got, n_got, want, n_want);
    /* The stream does what it is meant to: warnings before the split, the blast's order
     * after it with samples from both sides, C's and D's warnings after it. */
    assert_true(n_a >= 3);
    assert_int_equal(fx_count_kind(a, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(b, VIGIL_OUT_ORDER, 0), 1);
    const struct fx_rec *o = fx_find_kind(b, VIGIL_OUT_ORDER, 0);
    assert_finding(o, "bulk_sms.same_body", "critical", T0 + 16 * MIN + 55 * 5 * SEC);
    struct fx_json d;
    fx_json_parse(&d, o->json);
    static const char *const samples[] = {"a-51", "a-52", "a-53", "a-54", "a-55"};
    fx_json_assert_strings(&d, fx_json_get(&d, 0, "evidence"), "sample_event_ids", samples, 5);
    assert_int_equal(fx_count_rule(b, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, "bulk_sms.same_body"), 2);
    assert_null(fx_find_rule(b, VIGIL_OUT_ALERT, 0, "bulk_sms.distinct_recipients"));

    for (int k = 0; k < 4; k++)
        assert_int_equal(fx_latest(b, "acc-ck", names[k]), fx_latest(c, "acc-ck", names[k]));
    assert_int_equal(fx_latest(b, "acc-by", "sms_1h"), 0); /* published, then slid to 0 */
    vigil_bytes_fini(&saved);
    vigil_bytes_fini(&again);
    fx_destroy(a);
    fx_destroy(b);
    fx_destroy(c);
}

/* save appends nothing for an account the detector holds nothing for: never seen, or
 * dropped after being idle; for a known one it appends, after what was there. */
static void test_checkpoint_unknown_account_saves_nothing(void **state)
{
    struct fx *fx = *state;
    struct vigil_bytes b = {0};
    assert_int_equal(vigil_bytes_put(&b, "xyz", 3), 0);
    assert_int_equal(fx->ops->save(fx->st, "acc-nobody", &b), 0);
    assert_int_equal(b.len, 3);

    sms_n(fx, "acc-seen", "s", 1, T0, FROM_A, 1, NULL);
    assert_int_equal(fx->ops->save(fx->st, "acc-nobody", &b), 0);
    assert_int_equal(b.len, 3);
    assert_int_equal(fx->ops->save(fx->st, "acc-seen", &b), 0);
    assert_true(b.len > 3);
    assert_memory_equal(b.p, "xyz", 3);

    fx_tick(fx, T0 + 3 * HOUR); /* idle: the number and then the account are dropped */
    save(fx, "acc-seen", &b);
    assert_int_equal(b.len, 0);
    vigil_bytes_fini(&b);
}

/* Fails unless the detector holds exactly `want` (len 0: nothing) for `account`. */
static void assert_holds(struct fx *fx, const char *account, const struct vigil_bytes *want)
{
    struct vigil_bytes now = {0};
    save(fx, account, &now);
    assert_int_equal(now.len, want->len);
    if (want->len)
        assert_memory_equal(now.p, want->p, want->len);
    vigil_bytes_fini(&now);
}

/* acc-v with a heavy number (30 copies of one text) and a light one (3 SMS). */
static void feed_acc_v(struct fx *fx)
{
    for (int i = 1; i <= 30; i++)
        sms_n(fx, "acc-v", "h", i, T0 + i * SEC, FROM_A, 100 + i, BODY_X);
    for (int i = 1; i <= 3; i++)
        sms_n(fx, "acc-v", "l", i, T0 + 40 * SEC + i * SEC, FROM_B, 200 + i, NULL);
}

/* Bytes that are not a whole valid state of this version are refused with
 * VIGIL_ERR_INVALID and change nothing: empty, every truncation, a byte too many, another
 * version, garbage, one number twice. */
static void test_checkpoint_bad_bytes_refused(void **unused)
{
    (void)unused;
    struct fx *src = new_fx(NULL), *dst = new_fx(NULL);
    feed_acc_v(src);
    struct vigil_bytes good = {0}, before_v = {0}, before_w = {0}, none = {0}, bad = {0};
    save(src, "acc-v", &good);
    /* dst holds other things for acc-v, another account, and nothing for acc-new. */
    sms_n(dst, "acc-v", "o", 1, T0, FROM_D, 1, NULL);
    feed_acc_v(dst);
    sms_n(dst, "acc-w", "w", 1, T0, FROM_A, 1, NULL);
    save(dst, "acc-v", &before_v);
    save(dst, "acc-w", &before_w);

    assert_int_equal(load(dst, "acc-v", good.p, 0), VIGIL_ERR_INVALID);
    for (size_t len = 1; len < good.len; len++) {
        assert_int_equal(load(dst, "acc-v", good.p, len), VIGIL_ERR_INVALID);
        assert_int_equal(load(dst, "acc-new", good.p, len), VIGIL_ERR_INVALID);
    }
    assert_int_equal(vigil_bytes_put(&bad, good.p, good.len), 0);
    assert_int_equal(vigil_bytes_put(&bad, "", 1), 0);
    assert_int_equal(load(dst, "acc-v", bad.p, bad.len), VIGIL_ERR_INVALID);
    static const unsigned char versions[] = {0, 1, 2, 4, 255}; /* 3 is this build's */
    for (size_t k = 0; k < sizeof versions; k++) {
        bad.p[0] = versions[k];
        assert_int_equal(load(dst, "acc-v", bad.p, good.len), VIGIL_ERR_INVALID);
    }
    for (int k = 0; k < 200; k++) {
        unsigned char junk[600];
        size_t len = 1 + rnd() % sizeof junk;
        for (size_t i = 0; i < len; i++)
            junk[i] = (unsigned char)rnd();
        junk[0] = k % 2 ? 3 : junk[0]; /* half of them with the right version */
        assert_int_equal(load(dst, "acc-v", junk, len), VIGIL_ERR_INVALID);
    }
    assert_int_equal(load(dst, "", good.p, good.len), VIGIL_ERR_INVALID);

    assert_holds(dst, "acc-v", &before_v);
    assert_holds(dst, "acc-w", &before_w);
    assert_holds(dst, "acc-new", &none);
    assert_int_equal(load(dst, "acc-v", good.p, good.len), 0); /* the good bytes do load */
    assert_holds(dst, "acc-w", &before_w);
    vigil_bytes_fini(&good);
    vigil_bytes_fini(&before_v);
    vigil_bytes_fini(&before_w);
    vigil_bytes_fini(&bad);
    fx_destroy(src);
    fx_destroy(dst);
}

/* Bytes spliced from two saves: an account whose only number has been dropped (the account
 * part and a count of 0), and one with a single light number (the same, a count of 1, that
 * number, ending with the minute of its one SMS). Refused, leaving the account as it was: one
 * number twice, an SMS outside its number's window. Loaded: the first account with the
 * second one's number, an hour ahead of its counters, which must not outlive it. */
static void test_checkpoint_spliced_bytes(void **state)
{
    struct fx *fx = *state;
    struct vigil_bytes bare = {0}, one = {0}, dup = {0}, mix = {0};
    sms_n(fx, "acc-bare", "b", 1, T0, FROM_A, 1, NULL);
    fx_tick(fx, T0 + 20 * MIN); /* the number is dropped, sms_1h keeps the account */
    save(fx, "acc-bare", &bare);
    sms_n(fx, "acc-one", "o", 1, T0 + 80 * MIN, FROM_A, 1, NULL);
    save(fx, "acc-one", &one);
    size_t head = bare.len - 4; /* up to the count of numbers */
    assert_true(bare.len >= 4 && one.len > bare.len);
    uint32_t two = 2;
    assert_int_equal(vigil_bytes_put(&dup, one.p, head), 0);
    assert_int_equal(vigil_bytes_put(&dup, &two, sizeof two), 0);
    assert_int_equal(vigil_bytes_put(&dup, one.p + bare.len, one.len - bare.len), 0);
    assert_int_equal(vigil_bytes_put(&dup, one.p + bare.len, one.len - bare.len), 0);
    assert_int_equal(load(fx, "acc-one", dup.p, dup.len), VIGIL_ERR_INVALID);
    assert_holds(fx, "acc-one", &one);

    int32_t min;
    memcpy(&min, one.p + one.len - 4, sizeof min);
    min -= 16; /* one minute before the window of the number */
    memcpy(one.p + one.len - 4, &min, sizeof min);
    assert_int_equal(load(fx, "acc-one", one.p, one.len), VIGIL_ERR_INVALID);
    min += 16;
    memcpy(one.p + one.len - 4, &min, sizeof min);
    assert_holds(fx, "acc-one", &one);

    assert_int_equal(vigil_bytes_put(&mix, bare.p, bare.len), 0);
    memcpy(mix.p + head, &(uint32_t){1}, 4);
    assert_int_equal(vigil_bytes_put(&mix, one.p + bare.len, one.len - bare.len), 0);
    assert_int_equal(load(fx, "acc-mix", mix.p, mix.len), 0);
    fx_tick(fx, T0 + 70 * MIN);  /* the account's counters read 0; its number is live */
    fx_tick(fx, T0 + 100 * MIN); /* the number is dropped, then the account */
    struct vigil_bytes none = {0};
    assert_holds(fx, "acc-mix", &none);
    assert_int_equal(fx_latest(fx, "acc-mix", "sms_1h"), 0);
    vigil_bytes_fini(&bare);
    vigil_bytes_fini(&one);
    vigil_bytes_fini(&dup);
    vigil_bytes_fini(&mix);
}

/* A recipient set saved under a larger recipients_15m no longer fits the default set (7/8
 * of 256 entries): refused. Into the same configuration it loads, and a smaller saved set
 * loads into any, taking the profile the current configuration gives the account. Every
 * byte flipped in turn: refused or loaded, never harm (ASan). */
static void test_checkpoint_config_change_and_flips(void **unused)
{
    (void)unused;
    static const char *const big[] = {"bulk_sms.recipients_15m", "1000", NULL};
    static const char *const biz[] = {"profiles.business", "acc-v",
                                      "bulk_sms.same_body_15m@business", "32", NULL};
    struct fx *wide = new_fx(big), *narrow = new_fx(NULL), *wide2 = new_fx(big);
    struct fx *bizfx = new_fx(biz);
    for (int i = 1; i <= 300; i++)
        sms_n(wide, "acc-big", "g", i, T0 + i * 2 * SEC, FROM_A, 7000 + i, NULL);
    struct vigil_bytes b = {0}, none = {0};
    save(wide, "acc-big", &b);
    assert_int_equal(load(narrow, "acc-big", b.p, b.len), VIGIL_ERR_INVALID);
    assert_holds(narrow, "acc-big", &none);
    assert_int_equal(load(wide2, "acc-big", b.p, b.len), 0);
    assert_holds(wide2, "acc-big", &b);

    feed_acc_v(narrow);
    save(narrow, "acc-v", &b);
    assert_int_equal(load(wide2, "acc-v", b.p, b.len), 0);
    assert_int_equal(load(bizfx, "acc-v", b.p, b.len), 0);
    sms_n(bizfx, "acc-v", "h", 31, T0 + 50 * SEC, FROM_A, 131, BODY_X);
    assert_int_equal(fx_count_kind(bizfx, VIGIL_OUT_ORDER, 0), 0);
    sms_n(bizfx, "acc-v", "h", 32, T0 + 51 * SEC, FROM_A, 132, BODY_X);
    assert_int_equal(fx_count_kind(bizfx, VIGIL_OUT_ORDER, 0), 1); /* 32: business level */
    assert_int_equal(evidence(fx_find_kind(bizfx, VIGIL_OUT_ORDER, 0), "threshold"), 32);
    for (size_t i = 0; i < b.len; i++) {
        b.p[i] ^= 0xff;
        int rc = load(wide2, "acc-flip", b.p, b.len);
        assert_true(rc == 0 || rc == VIGIL_ERR_INVALID);
        b.p[i] ^= 0xff;
    }
    for (int i = 31; i <= 80; i++) /* the account goes on from whatever it last loaded */
        sms_n(wide2, "acc-flip", "h", i, T0 + 40 * SEC + i * SEC, FROM_A, 100 + i, BODY_X);
    fx_tick(wide2, T0 + 3 * HOUR);
    vigil_bytes_fini(&b);
    fx_destroy(wide);
    fx_destroy(narrow);
    fx_destroy(wide2);
    fx_destroy(bizfx);
}

/* forget drops an account and its numbers (pool entries back to the free list) between
 * ticks, with three accounts waiting to publish, the last of which moves into the
 * forgotten one's place: the others publish once with their own counters, keep their
 * windows and numbers, and later ticks purge safely; the forgotten one starts afresh. */
static void test_checkpoint_forget(void **unused)
{
    (void)unused;
    struct fx *fx = new_fx(no_cooldown);
    for (int i = 1; i <= 60; i++) /* heavy, blocked at the 50th copy */
        sms_n(fx, "acc-f1", "a", i, T0 + i * SEC, FROM_A, 100 + i, BODY_X);
    for (int i = 1; i <= 3; i++)
        sms_n(fx, "acc-f1", "b", i, T0 + i * SEC, FROM_B, 100 + i, NULL);
    for (int i = 1; i <= 60; i++) /* heavy: 60 distinct recipients */
        sms_n(fx, "acc-f2", "a", i, T0 + i * SEC, FROM_A, 1000 + i, NULL);
    for (int i = 1; i <= 2; i++)
        sms_n(fx, "acc-f3", "a", i, T0 + i * SEC, FROM_B, 1000 + i, NULL);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);

    fx->ops->forget(fx->st, "acc-f1");
    fx->ops->forget(fx->st, "acc-f1"); /* twice, and unknown: nothing */
    fx->ops->forget(fx->st, "acc-nobody");
    struct vigil_bytes b = {0};
    save(fx, "acc-f1", &b);
    assert_int_equal(b.len, 0);

    size_t before = fx->cap.n;
    fx_tick(fx, T0 + 2 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0), 2);
    assert_null(fx_last_counters(fx, "acc-f1"));
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-f2"), "sms_15m"), 60);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-f2"), "recipients_15m"), 60);
    assert_int_equal(fx_counter(fx_last_counters(fx, "acc-f3"), "sms_15m"), 2);

    /* A fresh count for acc-f1: the same-text warning again at its 17th copy. Its pool entry
     * went back to the free list and serves the next heavy number. */
    for (int i = 1; i <= 17; i++)
        sms_n(fx, "acc-f1", "n", i, T0 + 2 * MIN + i * SEC, FROM_A, 100 + i, BODY_X);
    const struct fx_rec *got[64];
    size_t n = findings(fx, "acc-f1", before, got, 64);
    assert_int_equal(n, 1);
    assert_finding(got[0], "bulk_sms.same_body", "warning", T0 + 2 * MIN + 17 * SEC);
    for (int i = 1; i <= 12; i++)
        sms_n(fx, "acc-f4", "a", i, T0 + 2 * MIN + i * SEC, FROM_C, 1 + i, NULL);

    /* acc-f2 kept its window: blocked at exactly its 100th recipient. */
    for (int i = 61; i <= 100; i++)
        sms_n(fx, "acc-f2", "a", i, T0 + 2 * MIN + i * SEC, FROM_A, 1000 + i, NULL);
    const struct fx_rec *o = fx_find_rule(fx, VIGIL_OUT_ORDER, 0, "bulk_sms.distinct_recipients");
    assert_non_null(o);
    assert_string_equal(o->account, "acc-f2");
    assert_int_equal(evidence(o, "recipients_15m"), 100);
    assert_int_equal(evidence(o, "sms_15m"), 100);

    /* Forget with nothing waiting, then ticks purge every number and account left. */
    fx_tick(fx, T0 + 5 * MIN);
    fx->ops->forget(fx->st, "acc-f2");
    fx->ops->forget(fx->st, "acc-f4");
    fx_tick(fx, T0 + 30 * MIN);
    fx_tick(fx, T0 + 3 * HOUR);
    save(fx, "acc-f3", &b); /* its number and then itself went, through the moved entries */
    assert_int_equal(b.len, 0);
    save(fx, "acc-f1", &b);
    assert_int_equal(b.len, 0);
    vigil_bytes_fini(&b);
    fx_destroy(fx);
}

/* Random traffic of 12 accounts, two of them blasting, and every so often one account saved,
 * forgotten and loaded back in place (or loaded over itself): the orders and alerts are
 * those of a twin fixture that was left alone. Entry numbers move with every forget, pool
 * entries are freed and reused; ASan watches. */
static void test_checkpoint_in_place_changes_nothing(void **unused)
{
    (void)unused;
    static const char *const froms[] = {FROM_A, FROM_B, FROM_C};
    static const char *const texts[] = {BODY_X, BODY_Z, BODY_D, NULL};
    struct fx *p = new_fx(NULL), *q = new_fx(NULL);
    struct vigil_bytes b = {0};
    int64_t ts = T0;
    for (int k = 0; k < 3000; k++) {
        ts += (int64_t)(rnd() % 3000);
        int acc = rnd() % 10 < 4 ? (int)(rnd() % 2) : 2 + (int)(rnd() % 10);
        char account[16];
        snprintf(account, sizeof account, "acc-r%d", acc);
        int range = acc < 2 ? 400 : 5 + acc * 3;
        const char *from = froms[acc < 2 ? 0 : rnd() % 3];
        int rcpt = (int)(rnd() % (uint64_t)range);
        const char *body = texts[rnd() % 4];
        sms_n(p, account, "r", k, ts, from, rcpt, body);
        sms_n(q, account, "r", k, ts, from, rcpt, body);
        if (k % 40 == 39) {
            fx_tick(p, ts - MIN);
            fx_tick(q, ts - MIN);
        }
        if (k % 23 == 22) {
            snprintf(account, sizeof account, "acc-r%d", (int)(rnd() % 12));
            save(p, account, &b);
            if (k % 2)
                p->ops->forget(p->st, account);
            if (b.len)
                assert_int_equal(load(p, account, b.p, b.len), 0);
        }
    }
    fx_tick(p, ts + HOUR);
    fx_tick(q, ts + HOUR);
    assert_true(fx_count_kind(q, VIGIL_OUT_ORDER, 0) >= 1);
    for (int acc = 0; acc < 12; acc++) {
        char account[16];
        snprintf(account, sizeof account, "acc-r%d", acc);
        static const struct fx_rec *got[512], *want[512];
        size_t n_got = findings(p, account, 0, got, 512);
        size_t n_want = findings(q, account, 0, want, 512);
        assert_same_records(got, n_got, want, n_want);
    }
    vigil_bytes_fini(&b);
    fx_destroy(p);
    fx_destroy(q);
}

/* --- exact at the threshold ---------------------------------------------------------------- */

/* n SMS from FROM_A, the first at `start` and one every `step_ms` (the last at `last` when
 * non-zero), to recipients 06<base + k x 1000> (all ending in 000: distinct numbers that share
 * their last digits), with text `body` (NULL: a text of their own). */
static void series(struct fx *fx, const char *account, int n, int64_t start, int64_t step_ms,
                   int64_t last, int base, const char *body)
{
    for (int k = 0; k < n; k++) {
        int64_t t = k == n - 1 && last ? last : start + (int64_t)k * step_ms;
        sms_n(fx, account, "ed", k, t, FROM_A, base + k * 1000, body);
    }
}

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

/* 100 distinct recipients (numbers all ending in 000), the first and the last exactly 15
 * minutes apart: ordered at the 100th; 50 recipients of one text likewise at the 50th. */
static void test_edge_recipients_and_body_exact(void **state)
{
    struct fx *fx = *state;
    series(fx, "acc-r100", 100, T0, 9 * SEC, T0 + 15 * MIN, 1000, NULL);
    const struct fx_rec *o = order_of(fx, "acc-r100");
    assert_non_null(o);
    assert_finding(o, "bulk_sms.distinct_recipients", "critical", T0 + 15 * MIN);
    assert_int_equal(evidence(o, "recipients_15m"), 100);

    series(fx, "acc-b50", 50, T0, 18 * SEC, T0 + 15 * MIN, 1000, BODY_X);
    o = order_of(fx, "acc-b50");
    assert_non_null(o);
    assert_finding(o, "bulk_sms.same_body", "critical", T0 + 15 * MIN);
    assert_int_equal(evidence(o, "same_body_recipients_15m"), 50);
}

/* The same stretched by one second, and one short in every 15 minutes for two hours (new
 * recipients all the time): never an order or critical alert. */
static void test_edge_recipients_and_body_stretched_never(void **state)
{
    struct fx *fx = *state;
    series(fx, "acc-r100s", 100, T0, 9 * SEC, T0 + 15 * MIN + SEC, 1000, NULL);
    series(fx, "acc-b50s", 50, T0, 18 * SEC, T0 + 15 * MIN + SEC, 1000, BODY_X);
    /* 300 SMS to 20 people over 15:01, and 299 in every 15 minutes for two hours. */
    for (int k = 0; k < 300; k++)
        sms_n(fx, "acc-rate300s", "rt", k, k == 299 ? T0 + 15 * MIN + SEC : T0 + k * 3 * SEC,
              FROM_A, 1 + k % 20, NULL);
    for (int k = 0; k < 8 * 298; k++)
        sms_n(fx, "acc-rate299", "rn", k, T0 + k * (15 * MIN / 298 + 1), FROM_A, 1 + k % 20, NULL);
    /* 99 in every closed 15 minutes: one every 15 min / 98 (and rounded up). */
    series(fx, "acc-r99", 8 * 98, T0, 15 * MIN / 98 + 1, 0, 1000, NULL);
    series(fx, "acc-b49", 8 * 48, T0, 15 * MIN / 48 + 1, 0, 1000, BODY_X);
    fx_tick(fx, T0 + 3 * 60 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 0);
}

/* bulk_sms.rate set to 5000, above the 4096 SMS times a heavy number keeps in its entry: 5000
 * SMS to 20 people, the first and the last exactly 15 minutes apart, ordered at the 5000th
 * (the number's times grew on demand); the same over 15:01, and for an hour 4999 in every
 * closed 15 minutes (SMS k at k x 900002 / 4999 ms), never. */
static void test_edge_rate_level_above_kept(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"bulk_sms.sms_15m", "5000", NULL};
    struct fx *fx = new_fx(sets);
    for (int k = 0; k < 5000; k++) {
        sms_n(fx, "acc-r5000", "r5", k, T0 + (int64_t)k * 15 * MIN / 4999, FROM_A, 1 + k % 20,
              NULL);
        if (k == 4998)
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    }
    const struct fx_rec *o = order_of(fx, "acc-r5000");
    assert_non_null(o);
    assert_finding(o, "bulk_sms.rate", "critical", T0 + 15 * MIN);
    assert_int_equal(evidence(o, "sms_15m"), 5000);
    for (int k = 0; k < 5000; k++)
        sms_n(fx, "acc-r5000s", "r5s", k, T0 + (int64_t)k * (15 * MIN + SEC) / 4999, FROM_A,
              1 + k % 20, NULL);
    for (int k = 0; k < 4 * 4999; k++)
        sms_n(fx, "acc-r4999", "r49", k, T0 + (int64_t)k * 900002 / 4999, FROM_A, 1 + k % 20, NULL);
    fx_tick(fx, T0 + 2 * HOUR);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL, "bulk_sms.rate"), 1);
    fx_destroy(fx);
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
        cmocka_unit_test_setup_teardown(test_edge_recipients_and_body_exact, setup, fx_teardown),
        cmocka_unit_test(test_edge_rate_level_above_kept),
        cmocka_unit_test_setup_teardown(test_edge_recipients_and_body_stretched_never, setup,
                                        fx_teardown),
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
        cmocka_unit_test(test_checkpoint_round_trip),
        cmocka_unit_test_setup_teardown(test_checkpoint_unknown_account_saves_nothing, setup,
                                        fx_teardown),
        cmocka_unit_test(test_checkpoint_bad_bytes_refused),
        cmocka_unit_test_setup_teardown(test_checkpoint_spliced_bytes, setup, fx_teardown),
        cmocka_unit_test(test_checkpoint_config_change_and_flips),
        cmocka_unit_test(test_checkpoint_forget),
        cmocka_unit_test(test_checkpoint_in_place_changes_nothing),
        cmocka_unit_test(test_sweep_visits_due_accounts),
        cmocka_unit_test_setup_teardown(test_sweep_skipped_account_is_current, setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

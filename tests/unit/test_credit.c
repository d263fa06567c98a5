/* SPDX-License-Identifier: Apache-2.0 */
/* test_credit.c - the credit detector through its vtable (tests/unit/detector_fixture.h), with
 * limits set directly in the fixture's limits table as vigild's credit sync would: rules
 * credit.limit and credit.interim_invoice (both of its triggers, once a day), the limits
 * table itself, and the value format billing writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "credit_sync.h"
#include "detector_fixture.h"
#include "vigil/bytes.h"
#include "vigil/credit.h"
#include "vigil/detector.h"
#include "vigil/emit.h"
#include "vigil/flagged.h"
#include "vigil/status.h"

#define DETECTOR "credit"
#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define D0 (1795392000000LL - 1795392000000LL % DAY) /* a UTC midnight in 2026 */
#define T0 (D0 + 9 * HOUR)
#define MAX_RECS 4096
#define CUBA "+5372345678"        /* high-risk, EUR 1.20 a minute in the table */
#define SAT "+881612345678"       /* satellite, EUR 10 a minute */
#define MOBILE "+31612345678"

static struct fx *new_fx(const char *const *sets)
{
    return fx_create(DETECTOR, sets, MAX_RECS, T0 + 40 * DAY);
}

static int setup(void **state)
{
    *state = new_fx(NULL);
    return 0;
}

static void set_limit(struct fx *fx, const char *account, double eur, int64_t start)
{
    assert_int_equal(
        vigil_credit_set(fx->credit, vigil_credit_hash(account), (int64_t)(eur * 100), start), 0);
}

static int n_call;

/* One finished outbound call costing `eur` (the exporter's cost), ending at `end`. */
static void paid_call(struct fx *fx, const char *account, int64_t end, double eur)
{
    char id[32], cid[32], extra[64];
    n_call++;
    snprintf(id, sizeof id, "e-%d", n_call);
    snprintf(cid, sizeof cid, "c-%d", n_call);
    snprintf(extra, sizeof extra, ",\"duration\":60,\"cost\":%.2f", eur);
    fx_feed_call(fx, "call_end", "out", account, id, cid, end, "+31201234567", MOBILE, extra);
}

static size_t orders_of(const struct fx *fx, enum vigil_action a)
{
    size_t n = 0;
    for (size_t i = 0; i < fx->cap.n; i++)
        n += fx->cap.recs[i].kind == VIGIL_OUT_ORDER && fx->cap.recs[i].action == a;
    return n;
}

static const struct fx_rec *last_order(const struct fx *fx)
{
    for (size_t i = fx->cap.n; i-- > 0;) {
        if (fx->cap.recs[i].kind == VIGIL_OUT_ORDER)
            return &fx->cap.recs[i];
    }
    return NULL;
}

static long long order_event_ts(const struct fx_rec *r)
{
    struct fx_json d;
    fx_json_parse(&d, r->json);
    return fx_json_int(&d, fx_json_get(&d, 0, "event_ts"));
}

/* --- credit.limit ------------------------------------------------------------------------- */

/* EUR 100 limit: 79 spent is quiet, 80 warns, 100 suspends at the call that reaches it, with
 * 112 exempt; more spend adds nothing. */
static void test_limit_warns_then_suspends(void **state)
{
    struct fx *fx = *state;
    set_limit(fx, "acc-c", 100, D0);
    for (int i = 0; i < 79; i++)
        paid_call(fx, "acc-c", T0 + i * MIN, 1.00);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, 0, "credit.limit"), 0);
    paid_call(fx, "acc-c", T0 + 80 * MIN, 1.00);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, "credit.limit"), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    for (int i = 81; i < 100; i++)
        paid_call(fx, "acc-c", T0 + i * MIN, 1.00);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    paid_call(fx, "acc-c", T0 + 100 * MIN, 1.00);
    assert_int_equal(orders_of(fx, VIGIL_ACT_SUSPEND), 1);
    const struct fx_rec *o = last_order(fx);
    assert_true(fx_rec_rule_is(o, "credit.limit"));
    assert_int_equal(order_event_ts(o), T0 + 100 * MIN);
    struct fx_json d;
    fx_json_parse(&d, o->json);
    assert_true(fx_json_array_has(&d, 0, "exempt", "112"));
    for (int i = 101; i < 120; i++)
        paid_call(fx, "acc-c", T0 + i * MIN, 1.00);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
}

/* Spend before the period start does not count. */
static void test_spend_before_period_not_counted(void **state)
{
    struct fx *fx = *state;
    set_limit(fx, "acc-p", 50, T0 + HOUR);
    paid_call(fx, "acc-p", T0, 45.0);
    paid_call(fx, "acc-p", T0 + 2 * HOUR, 30.0);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, 0, "credit.limit"), 0);
    paid_call(fx, "acc-p", T0 + 3 * HOUR, 15.0); /* 45 of 50: a warning */
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, "credit.limit"), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
}

/* Leave alone: an account without a limit, however much it spends. */
static void test_no_limit_never_ordered(void **state)
{
    struct fx *fx = *state;
    for (int i = 0; i < 200; i++)
        paid_call(fx, "acc-free", T0 + i * MIN, 25.0);
    fx_tick(fx, T0 + 300 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
}

/* Leave alone: EUR 20 a day against a EUR 1000 monthly limit for 30 days. */
static void test_steady_below_limit(void **state)
{
    struct fx *fx = *state;
    set_limit(fx, "acc-steady", 1000, D0);
    for (int day = 0; day < 30; day++) {
        for (int i = 0; i < 4; i++)
            paid_call(fx, "acc-steady", D0 + day * DAY + 9 * HOUR + i * HOUR, 5.0);
        fx_tick(fx, D0 + day * DAY + 20 * HOUR);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    assert_int_equal(fx_latest(fx, "acc-steady", "spend_period_cents"), 60000);
}

/* An open satellite call (EUR 10 a minute) against a EUR 100 limit: ordered by a tick within
 * 2 minutes of event time after it has run 10 minutes, before it ends. */
static void test_open_call_accrues(void **state)
{
    struct fx *fx = *state;
    set_limit(fx, "acc-sat", 100, D0);
    fx_feed_call(fx, "call_start", "out", "acc-sat", "s-1", "c-sat", T0, "+31201234567", SAT, "");
    int64_t cross = T0 + 10 * MIN;
    for (int64_t wm = T0; wm <= T0 + 30 * MIN && orders_of(fx, VIGIL_ACT_SUSPEND) == 0;
         wm += 20000)
        fx_tick(fx, wm);
    assert_int_equal(orders_of(fx, VIGIL_ACT_SUSPEND), 1);
    long long ets = order_event_ts(last_order(fx));
    assert_true(ets >= cross && ets <= cross + 2 * MIN);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, "credit.limit"), 1);
}

/* A backlog: the watermark jumps half an hour in one tick past the moment an open call (EUR 10
 * a minute) took the spend to the EUR 100 limit; the order is dated at that moment. The same
 * when the call's end is the first thing seen after it. */
static void test_open_call_dated_when_passed(void **state)
{
    struct fx *fx = *state;
    set_limit(fx, "acc-jump", 100, D0);
    paid_call(fx, "acc-jump", T0 - HOUR, 20.0);
    fx_feed_call(fx, "call_start", "out", "acc-jump", "s-j", "c-j", T0, "+31201234567", SAT, "");
    fx_tick(fx, T0 + 30 * MIN);
    assert_int_equal(orders_of(fx, VIGIL_ACT_SUSPEND), 1);
    long long ets = order_event_ts(last_order(fx));
    assert_true(ets >= T0 + 8 * MIN && ets <= T0 + 8 * MIN + 1000);
    const struct fx_rec *w = fx_find_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, "credit.limit");
    assert_null(w); /* passed both levels at once: the critical alert only */

    set_limit(fx, "acc-end", 100, D0);
    fx_feed_call(fx, "call_start", "out", "acc-end", "s-e", "c-e", T0, "+31201234567", SAT, "");
    fx_feed_call(fx, "call_end", "out", "acc-end", "e-e", "c-e", T0 + 20 * MIN, "+31201234567",
                 SAT, ",\"duration\":1200");
    assert_int_equal(orders_of(fx, VIGIL_ACT_SUSPEND), 2);
    ets = order_event_ts(last_order(fx));
    assert_true(ets >= T0 + 10 * MIN && ets <= T0 + 10 * MIN + 1000);
}

/* A sweep visits only what can change: with 3000 idle accounts held (each with one paid
 * call, the first 1000 with a limit: the fixture's table holds 1024), a tick publishes only
 * the account with a call open (its spend grows every minute) and orders it when that call
 * passes the limit, until the UTC day ends: then every account with a limit publishes its
 * spend_today_cents, fallen to 0, at that very tick. */
#define IDLE_ACCTS 3000
#define IDLE_LIMITS 1000
static void test_sweep_visits_due_accounts(void **state)
{
    (void)state;
    struct fx *fx = fx_create(DETECTOR, NULL, 4 * IDLE_ACCTS, T0 + 40 * DAY);
    int64_t start = D0 + 23 * HOUR + 30 * MIN;
    char acct[32];
    for (int i = 0; i < IDLE_ACCTS; i++) {
        snprintf(acct, sizeof acct, "acc-idle-%d", i);
        if (i < IDLE_LIMITS)
            set_limit(fx, acct, 1000, D0);
        paid_call(fx, acct, start - 10 * MIN, 10.0);
    }
    set_limit(fx, "acc-open", 100, D0);
    fx_feed_call(fx, "call_start", "out", "acc-open", "s-o", "c-o", start, "+31201234567", SAT,
                 "");
    size_t seen = 0;
    for (int t = 1; t <= 40; t++) {
        fx_tick(fx, start + t * MIN);
        size_t now = fx_count_kind(fx, VIGIL_OUT_COUNTERS, 0);
        size_t want = t == 1 || t == 30 ? IDLE_LIMITS + 1 : 1; /* 30: a new UTC day */
        if (now - seen != want)
            fail_msg("tick at minute %d: %zu counter records, want %zu", t, now - seen, want);
        seen = now;
        assert_int_equal(fx_latest(fx, "acc-open", "spend_period_cents"), t * 1000);
        assert_int_equal(orders_of(fx, VIGIL_ACT_SUSPEND), t < 10 ? 0 : 1);
    }
    assert_int_equal(order_event_ts(last_order(fx)), start + 10 * MIN);
    assert_int_equal(fx_latest(fx, "acc-idle-999", "spend_today_cents"), 0);
    assert_int_equal(fx_latest(fx, "acc-idle-999", "spend_period_cents"), 1000);
    assert_int_equal(fx_latest(fx, "acc-open", "spend_today_cents"), 10 * 1000);
    fx_destroy(fx);
}

/* An account the sweeps left alone counts as judged at each of them, as when every account
 * was visited: a call that started 10 minutes behind the watermark and passed the limit
 * before the last sweep is dated at its end, not searched back past that sweep. */
static void test_sweep_skipped_account_judged(void **state)
{
    struct fx *fx = *state;
    set_limit(fx, "acc-lag", 100, D0);
    paid_call(fx, "acc-lag", T0 - HOUR, 20.0);
    for (int t = -59; t <= 30; t++)
        fx_tick(fx, T0 + t * MIN);
    fx_feed_call(fx, "call_start", "out", "acc-lag", "s-l", "c-l", T0 + 20 * MIN,
                 "+31201234567", SAT, "");
    fx_feed_call(fx, "call_end", "out", "acc-lag", "e-l", "c-l", T0 + 31 * MIN, "+31201234567",
                 SAT, ",\"duration\":660");
    assert_int_equal(orders_of(fx, VIGIL_ACT_SUSPEND), 1);
    assert_int_equal(order_event_ts(last_order(fx)), T0 + 31 * MIN);
}

/* Billing lowers the limit while vigil runs: the next tick orders, even within the same
 * minute of watermark; a raised limit and a new period re-arm. */
static void test_billing_changes_limit(void **state)
{
    struct fx *fx = *state;
    set_limit(fx, "acc-b", 500, D0);
    paid_call(fx, "acc-b", T0, 120.0);
    fx_tick(fx, T0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    set_limit(fx, "acc-b", 100, D0);
    fx_tick(fx, T0 + 1000); /* the same minute: the table's version moved */
    assert_int_equal(orders_of(fx, VIGIL_ACT_SUSPEND), 1);
    assert_int_equal(order_event_ts(last_order(fx)), T0 + 1000);

    /* A new period from now on: the spend starts again at 0, nothing more is said. */
    set_limit(fx, "acc-b", 100, T0 + MIN);
    fx_tick(fx, T0 + 2 * MIN);
    paid_call(fx, "acc-b", T0 + 3 * MIN, 50.0);
    fx_tick(fx, T0 + 4 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 1); /* the critical one only */
    assert_int_equal(fx_latest(fx, "acc-b", "spend_period_cents"), 5000);

    /* Billing removes the limit: the account is no longer judged. */
    vigil_credit_clear(fx->credit, vigil_credit_hash("acc-b"));
    paid_call(fx, "acc-b", T0 + 5 * MIN, 500.0);
    fx_tick(fx, T0 + 6 * MIN);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
}

/* The spend survives a checkpoint: saved at EUR 90 of 100, loaded into a new state, the next
 * EUR 15 orders there. */
static void test_checkpoint_keeps_spend(void **state)
{
    struct fx *a = *state;
    set_limit(a, "acc-k", 100, D0);
    paid_call(a, "acc-k", T0, 70.0);
    fx_feed_call(a, "call_start", "out", "acc-k", "s-k", "c-k", T0 + MIN, "+31201234567", CUBA,
                 "");
    struct fx *b = new_fx(NULL);
    set_limit(b, "acc-k", 100, D0);
    fx_move_account(a, b, "acc-k");
    paid_call(b, "acc-k", T0 + 2 * MIN, 15.0); /* 85: a warning */
    assert_int_equal(fx_count_rule(b, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING, "credit.limit"), 1);
    /* The Cuba call opened before the save still accrues: EUR 1.20 a minute, 15 more to go. */
    for (int64_t wm = T0 + 2 * MIN; wm <= T0 + 20 * MIN; wm += 30000)
        fx_tick(b, wm);
    assert_int_equal(orders_of(b, VIGIL_ACT_SUSPEND), 1);

    /* Bad bytes are refused. */
    struct vigil_bytes good = {0};
    assert_int_equal(b->ops->save(b->st, "acc-k", &good), 0);
    assert_true(good.len > 1);
    unsigned char *bad = malloc(good.len);
    memcpy(bad, good.p, good.len);
    bad[0] = 99;
    assert_int_equal(b->ops->load(b->st, "acc-k", bad, good.len), VIGIL_ERR_INVALID);
    assert_int_equal(b->ops->load(b->st, "acc-k", good.p, good.len - 1), VIGIL_ERR_INVALID);
    free(bad);
    free(good.p);
    fx_destroy(b);
}

/* --- credit.interim_invoice -------------------------------------------------------------- */

/* Ten days of EUR 10 a day, then EUR 60 in a morning: one interim invoice, not a block; more
 * spend the same day adds nothing; the next day's burst asks again. */
static void test_interim_on_unusual_day(void **state)
{
    struct fx *fx = *state;
    for (int day = 0; day < 10; day++)
        paid_call(fx, "acc-i", D0 + day * DAY + 10 * HOUR, 10.0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    int64_t d10 = D0 + 10 * DAY;
    paid_call(fx, "acc-i", d10 + 8 * HOUR, 30.0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0); /* under EUR 50 */
    paid_call(fx, "acc-i", d10 + 9 * HOUR, 30.0);
    assert_int_equal(orders_of(fx, VIGIL_ACT_INTERIM_INVOICE), 1);
    const struct fx_rec *o = last_order(fx);
    assert_true(fx_rec_rule_is(o, "credit.interim_invoice"));
    assert_string_equal(vigil_action_str(o->action), "interim_invoice");
    assert_false(vigil_flagged_action(o->action)); /* flags no number */
    assert_int_equal(order_event_ts(o), d10 + 9 * HOUR);
    paid_call(fx, "acc-i", d10 + 10 * HOUR, 100.0);
    fx_tick(fx, d10 + 12 * HOUR);
    assert_int_equal(orders_of(fx, VIGIL_ACT_INTERIM_INVOICE), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    /* The next day: the usual spend is now the mean of 11 days with yesterday's 160 (23.64);
     * 250 is more than five times that. */
    paid_call(fx, "acc-i", d10 + DAY + 9 * HOUR, 250.0);
    assert_int_equal(orders_of(fx, VIGIL_ACT_INTERIM_INVOICE), 2);
}

/* The spend trigger passed by an open call, seen by a tick an hour later: dated when passed
 * (EUR 50 after 5 minutes at EUR 10 a minute). */
static void test_interim_open_call_dated_when_passed(void **state)
{
    struct fx *fx = *state;
    for (int day = 0; day < 10; day++)
        paid_call(fx, "acc-io", D0 + day * DAY + 10 * HOUR, 10.0);
    int64_t t = D0 + 10 * DAY + 9 * HOUR;
    fx_feed_call(fx, "call_start", "out", "acc-io", "s-io", "c-io", t, "+31201234567", SAT, "");
    fx_tick(fx, t + HOUR);
    assert_int_equal(orders_of(fx, VIGIL_ACT_INTERIM_INVOICE), 1);
    long long ets = order_event_ts(last_order(fx));
    assert_true(ets >= t + 5 * MIN && ets <= t + 5 * MIN + 1000);
}

/* Leave alone: a new account (fewer days than interim_history_days) and a steady spender. */
static void test_interim_needs_history(void **state)
{
    struct fx *fx = *state;
    paid_call(fx, "acc-new", D0 + 10 * HOUR, 1.0);
    paid_call(fx, "acc-new", D0 + 3 * DAY + 10 * HOUR, 400.0);
    for (int day = 0; day < 20; day++)
        paid_call(fx, "acc-busy", D0 + day * DAY + 10 * HOUR, 80.0 + (day % 3) * 20.0);
    fx_tick(fx, D0 + 21 * DAY);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
}

/* The other trigger, in the emit layer: a critical toll_fraud finding asks for one interim
 * invoice per account and UTC day (with credit.interim_on_critical = 1). */
static void test_interim_on_critical_finding(void **state)
{
    (void)state;
    static const char *const sets[] = {"credit.interim_on_critical", "1", NULL};
    struct fx *fx = new_fx(sets);
    struct vigil_finding f = {
        .detector = "toll_fraud",
        .rule = "toll_fraud.concurrent_high_risk",
        .severity = VIGIL_SEV_CRITICAL,
        .action = VIGIL_ACT_BLOCK_INTERNATIONAL,
        .account = "acc-t",
        .event_ts_ms = T0,
        .window_ms = HOUR,
        .reason = "test",
    };
    assert_int_equal(vigil_emit_finding(fx->out, &f), 0);
    assert_int_equal(orders_of(fx, VIGIL_ACT_BLOCK_INTERNATIONAL), 1);
    assert_int_equal(orders_of(fx, VIGIL_ACT_INTERIM_INVOICE), 1);
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL,
                                   "credit.interim_invoice"), 1);
    /* Another critical finding the same day (premium): no second interim invoice. */
    f.detector = "premium";
    f.rule = "premium.outbound";
    f.action = VIGIL_ACT_BLOCK_PREMIUM;
    f.event_ts_ms = T0 + 2 * HOUR;
    assert_int_equal(vigil_emit_finding(fx->out, &f), 0);
    assert_int_equal(orders_of(fx, VIGIL_ACT_INTERIM_INVOICE), 1);
    /* A warning asks nothing; a critical one the next day asks again. */
    f.severity = VIGIL_SEV_WARNING;
    f.event_ts_ms = T0 + DAY;
    assert_int_equal(vigil_emit_finding(fx->out, &f), 0);
    assert_int_equal(orders_of(fx, VIGIL_ACT_INTERIM_INVOICE), 1);
    f.severity = VIGIL_SEV_CRITICAL;
    assert_int_equal(vigil_emit_finding(fx->out, &f), 0);
    assert_int_equal(orders_of(fx, VIGIL_ACT_INTERIM_INVOICE), 2);
    /* Other detectors' critical findings ask nothing. */
    f.detector = "bulk_sms";
    f.rule = "bulk_sms.rate";
    f.action = VIGIL_ACT_BLOCK_SMS;
    f.event_ts_ms = T0 + 3 * DAY;
    assert_int_equal(vigil_emit_finding(fx->out, &f), 0);
    assert_int_equal(orders_of(fx, VIGIL_ACT_INTERIM_INVOICE), 2);
    fx_destroy(fx);
}

/* On by default; with credit.interim_on_critical = 0 a critical finding asks no interim
 * invoice (the detector fixture sets 0 unless a test asks, so this sets it explicitly). */
static void test_interim_on_critical_can_be_turned_off(void **state)
{
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_int(cfg, "credit.interim_on_critical"), 1);
    vigil_config_destroy(cfg);
    (void)state;
    static const char *const sets[] = {"credit.interim_on_critical", "0", NULL};
    struct fx *fx = new_fx(sets);
    struct vigil_finding f = {
        .detector = "toll_fraud",
        .rule = "toll_fraud.spend_1h",
        .severity = VIGIL_SEV_CRITICAL,
        .action = VIGIL_ACT_BLOCK_INTERNATIONAL,
        .account = "acc-t",
        .event_ts_ms = T0,
        .window_ms = HOUR,
        .reason = "test",
    };
    assert_int_equal(vigil_emit_finding(fx->out, &f), 0);
    assert_int_equal(orders_of(fx, VIGIL_ACT_INTERIM_INVOICE), 0);
    fx_destroy(fx);
}

/* --- the limits table and billing's value format -------------------------------------------- */

static void test_table_and_format(void **state)
{
    (void)state;
    struct vigil_credit *t = vigil_credit_create(4);
    assert_non_null(t);
    int64_t l, s;
    assert_false(vigil_credit_get(t, vigil_credit_hash("a"), &l, &s));
    uint64_t v0 = vigil_credit_version(t);
    assert_int_equal(vigil_credit_set(t, vigil_credit_hash("a"), 50000, 7), 0);
    assert_true(vigil_credit_get(t, vigil_credit_hash("a"), &l, &s));
    assert_int_equal(l, 50000);
    assert_int_equal(s, 7);
    uint64_t v1 = vigil_credit_version(t);
    assert_true(v1 != v0);
    assert_int_equal(vigil_credit_set(t, vigil_credit_hash("a"), 50000, 7), 0);
    assert_true(vigil_credit_version(t) == v1); /* nothing changed */
    for (int i = 0; i < 3; i++) {
        char name[8];
        snprintf(name, sizeof name, "b%d", i);
        assert_int_equal(vigil_credit_set(t, vigil_credit_hash(name), 100, 0), 0);
    }
    assert_int_equal(vigil_credit_set(t, vigil_credit_hash("c"), 100, 0), VIGIL_ERR_FULL);
    assert_int_equal(vigil_credit_count(t), 4);
    vigil_credit_clear(t, vigil_credit_hash("a"));
    assert_false(vigil_credit_get(t, vigil_credit_hash("a"), &l, &s));
    assert_int_equal(vigil_credit_count(t), 3);
    assert_int_equal(vigil_credit_set(t, vigil_credit_hash("a"), 200, 9), 0); /* its slot again */
    assert_true(vigil_credit_get(t, vigil_credit_hash("a"), &l, &s));
    assert_int_equal(l, 200);
    vigil_credit_destroy(t);
    vigil_credit_destroy(NULL);

    long long c, st;
    assert_int_equal(vigil_credit_parse("500 1796083200000", &c, &st), 0);
    assert_int_equal(c, 50000);
    assert_int_equal(st, 1796083200000LL);
    assert_int_equal(vigil_credit_parse("  499.95\t0 ", &c, &st), 0);
    assert_int_equal(c, 49995);
    assert_int_equal(vigil_credit_parse("500", &c, &st), VIGIL_ERR_INVALID);
    assert_int_equal(vigil_credit_parse("0 5", &c, &st), VIGIL_ERR_INVALID);
    assert_int_equal(vigil_credit_parse("-1 5", &c, &st), VIGIL_ERR_INVALID);
    assert_int_equal(vigil_credit_parse("500 -5", &c, &st), VIGIL_ERR_INVALID);
    assert_int_equal(vigil_credit_parse("500 5x", &c, &st), VIGIL_ERR_INVALID);
    assert_int_equal(vigil_credit_parse("EUR500 5", &c, &st), VIGIL_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_limit_warns_then_suspends, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_spend_before_period_not_counted, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_limit_never_ordered, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_steady_below_limit, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_call_accrues, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_call_dated_when_passed, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_billing_changes_limit, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_keeps_spend, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_interim_on_unusual_day, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_interim_open_call_dated_when_passed, setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_interim_needs_history, setup, fx_teardown),
        cmocka_unit_test(test_interim_on_critical_finding),
        cmocka_unit_test(test_interim_on_critical_can_be_turned_off),
        cmocka_unit_test(test_table_and_format),
        cmocka_unit_test(test_sweep_visits_due_accounts),
        cmocka_unit_test_setup_teardown(test_sweep_skipped_account_judged, setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

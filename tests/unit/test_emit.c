/* SPDX-License-Identifier: Apache-2.0 */
/* test_emit.c - the action discipline's memory across a checkpoint: standing orders and
 * alert cool-downs saved for one account and loaded into a fresh emit layer (a restarted or
 * new owner) keep suppressing what they suppressed before; forget drops them. And orders
 * not issued: report-only (whole discipline, per rule, per detector) and the hold hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/bytes.h"
#include "vigil/config.h"
#include "vigil/emit.h"
#include "vigil/numplan.h"
#include "vigil/status.h"

#define T0 1795399800000LL
#define MIN 60000LL

struct counts {
    int orders, alerts;
    char last_alert[4096]; /* the latest alert's JSON */
    char last_order[4096]; /* the latest order's JSON */
};

static int count_write(void *ctx, const struct vigil_out_record *rec)
{
    struct counts *c = ctx;
    if (rec->kind == VIGIL_OUT_ORDER) {
        c->orders++;
        snprintf(c->last_order, sizeof c->last_order, "%.*s", (int)rec->json_len, rec->json);
    } else if (rec->kind == VIGIL_OUT_ALERT) {
        c->alerts++;
        snprintf(c->last_alert, sizeof c->last_alert, "%.*s", (int)rec->json_len, rec->json);
    }
    return 0;
}

static int64_t fixed_clock(void *ctx)
{
    (void)ctx;
    return T0;
}

struct rig {
    struct vigil_config *cfg;
    struct vigil_emit *a, *b; /* the old owner, the new one */
    struct counts ca, cb;
};

static int setup(void **state)
{
    static struct rig r;
    memset(&r, 0, sizeof r);
    r.cfg = vigil_config_create();
    assert_non_null(r.cfg);
    /* These tests count the orders of one finding: no interim invoice beside them. */
    assert_int_equal(vigil_config_set(r.cfg, "credit.interim_on_critical", "0", "test"), 0);
    r.a = vigil_emit_create(r.cfg, (struct vigil_sink){&r.ca, count_write}, fixed_clock, NULL);
    r.b = vigil_emit_create(r.cfg, (struct vigil_sink){&r.cb, count_write}, fixed_clock, NULL);
    assert_non_null(r.a);
    assert_non_null(r.b);
    *state = &r;
    return 0;
}

static int teardown(void **state)
{
    struct rig *r = *state;
    vigil_emit_destroy(r->a);
    vigil_emit_destroy(r->b);
    vigil_config_destroy(r->cfg);
    return 0;
}

static struct vigil_finding finding(const char *account, enum vigil_severity sev,
                                    const char *rule, int64_t ts)
{
    return (struct vigil_finding){
        .detector = "toll_fraud",
        .rule = rule,
        .severity = sev,
        .action = VIGIL_ACT_BLOCK_INTERNATIONAL,
        .account = account,
        .event_ts_ms = ts,
        .window_ms = 15 * MIN,
        .reason = "test",
    };
}

static void move_account(struct rig *r, const char *account)
{
    struct vigil_bytes b = {0};
    assert_int_equal(vigil_emit_save(r->a, account, &b), 0);
    assert_true(b.len > 0);
    assert_int_equal(vigil_emit_load(r->b, account, b.p, b.len), 0);
    vigil_bytes_fini(&b);
}

/* An order that stands on the old owner stands on the new one: no second order, even in a
 * later window (a new order_id). */
static void test_standing_order_moves(void **state)
{
    struct rig *r = *state;
    struct vigil_finding f = finding("acc-1", VIGIL_SEV_CRITICAL, "toll_fraud.x", T0);
    assert_int_equal(vigil_emit_finding(r->a, &f), 0);
    assert_int_equal(r->ca.orders, 1);
    move_account(r, "acc-1");
    f.event_ts_ms = T0 + 60 * MIN;
    assert_int_equal(vigil_emit_finding(r->b, &f), 0);
    assert_int_equal(r->cb.orders, 0);
    /* Without the move, the same finding orders (the test can fail). */
    f.account = "acc-2";
    assert_int_equal(vigil_emit_finding(r->b, &f), 0);
    assert_int_equal(r->cb.orders, 1);
}

/* A warning in cool-down stays quiet on the new owner until the cool-down ends. */
static void test_cooldown_moves(void **state)
{
    struct rig *r = *state;
    struct vigil_finding f = finding("acc-1", VIGIL_SEV_WARNING, "toll_fraud.x", T0);
    assert_int_equal(vigil_emit_finding(r->a, &f), 0);
    assert_int_equal(r->ca.alerts, 1);
    move_account(r, "acc-1");
    f.event_ts_ms = T0 + MIN;
    assert_int_equal(vigil_emit_finding(r->b, &f), 0);
    assert_int_equal(r->cb.alerts, 0);
    f.event_ts_ms = T0 + 7 * 24 * 60 * MIN;
    assert_int_equal(vigil_emit_finding(r->b, &f), 0);
    assert_int_equal(r->cb.alerts, 1);
}

/* Nothing remembered: nothing saved. Bad bytes: refused, nothing changed. */
static void test_bad_bytes(void **state)
{
    struct rig *r = *state;
    struct vigil_bytes b = {0};
    assert_int_equal(vigil_emit_save(r->a, "nobody", &b), 0);
    assert_int_equal(b.len, 0);

    struct vigil_finding f = finding("acc-1", VIGIL_SEV_CRITICAL, "toll_fraud.x", T0);
    assert_int_equal(vigil_emit_finding(r->a, &f), 0);
    assert_int_equal(vigil_emit_save(r->a, "acc-1", &b), 0);
    unsigned char bad[512];
    memcpy(bad, b.p, b.len);
    assert_int_equal(vigil_emit_load(r->b, "acc-1", bad, b.len - 1), VIGIL_ERR_INVALID);
    bad[0] ^= 0x40; /* another version */
    assert_int_equal(vigil_emit_load(r->b, "acc-1", bad, b.len), VIGIL_ERR_INVALID);
    assert_int_equal(vigil_emit_load(r->b, "acc-1", b.p, 1), VIGIL_ERR_INVALID);
    vigil_bytes_fini(&b);
    /* b remembered nothing: the finding orders there. */
    assert_int_equal(vigil_emit_finding(r->b, &f), 0);
    assert_int_equal(r->cb.orders, 1);
}

/* forget drops the account's marks: the next critical finding orders again. */
static void test_forget(void **state)
{
    struct rig *r = *state;
    struct vigil_finding f = finding("acc-1", VIGIL_SEV_CRITICAL, "toll_fraud.x", T0);
    assert_int_equal(vigil_emit_finding(r->a, &f), 0);
    vigil_emit_forget(r->a, "acc-1");
    struct vigil_bytes b = {0};
    assert_int_equal(vigil_emit_save(r->a, "acc-1", &b), 0);
    assert_int_equal(b.len, 0);
    f.event_ts_ms = T0 + MIN;
    assert_int_equal(vigil_emit_finding(r->a, &f), 0);
    assert_int_equal(r->ca.orders, 2);
}

/* More marks than a record holds: standing orders are kept before cool-downs, and many
 * accounts whose marks expired are swept (no unbounded growth, no crash under ASan). */
static void test_full_record_and_sweep(void **state)
{
    struct rig *r = *state;
    struct vigil_finding f = finding("acc-1", VIGIL_SEV_CRITICAL, "toll_fraud.x", T0);
    assert_int_equal(vigil_emit_finding(r->a, &f), 0);
    char rule[32];
    for (int i = 0; i < 40; i++) {
        snprintf(rule, sizeof rule, "toll_fraud.w%d", i);
        struct vigil_finding w = finding("acc-1", VIGIL_SEV_WARNING, rule, T0 + i);
        assert_int_equal(vigil_emit_finding(r->a, &w), 0);
    }
    f.event_ts_ms = T0 + 100;
    assert_int_equal(vigil_emit_finding(r->a, &f), 0);
    assert_int_equal(r->ca.orders, 1); /* the order still stands */

    char acct[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(acct, sizeof acct, "one-off-%d", i);
        struct vigil_finding w = finding(acct, VIGIL_SEV_WARNING, "toll_fraud.w",
                                         T0 + (int64_t)i * 24 * 60 * MIN);
        assert_int_equal(vigil_emit_finding(r->a, &w), 0);
    }
    /* Every warning alerted; the second critical finding may alert again when its cool-down
     * was the mark a full record gave up. */
    assert_in_range(r->ca.alerts, 1 + 40 + 5000, 2 + 40 + 5000);
}

/* An emit layer over a configuration with one key set. */
static struct vigil_emit *emit_with(struct vigil_config **cfg, const char *key, const char *val,
                                    struct counts *c)
{
    *cfg = vigil_config_create();
    assert_non_null(*cfg);
    assert_int_equal(vigil_config_set(*cfg, "credit.interim_on_critical", "0", "test"), 0);
    assert_int_equal(vigil_config_set(*cfg, key, val, "test"), 0);
    struct vigil_emit *e =
        vigil_emit_create(*cfg, (struct vigil_sink){c, count_write}, fixed_clock, NULL);
    assert_non_null(e);
    return e;
}

/* orders.mode = report: no order record; the critical alert says what would have been
 * ordered, with the order_id an enforced run issues for the same finding. */
static void test_report_mode(void **state)
{
    struct rig *r = *state;
    struct vigil_finding f = finding("acc-1", VIGIL_SEV_CRITICAL, "toll_fraud.x", T0);
    assert_int_equal(vigil_emit_finding(r->a, &f), 0);
    assert_int_equal(r->ca.orders, 1);
    const char *id = strstr(r->ca.last_alert, "\"order_id\":\"");
    assert_non_null(id);
    char enforced_id[64];
    snprintf(enforced_id, sizeof enforced_id, "%.32s", id);
    assert_null(strstr(r->ca.last_alert, "would_order"));

    struct vigil_config *cfg;
    struct counts c = {0};
    struct vigil_emit *e = emit_with(&cfg, "orders.mode", "report", &c);
    assert_int_equal(vigil_emit_finding(e, &f), 0);
    assert_int_equal(c.orders, 0);
    assert_int_equal(c.alerts, 1);
    assert_non_null(strstr(c.last_alert, "\"severity\":\"critical\""));
    assert_non_null(strstr(c.last_alert, "\"would_order\":\"block_international\""));
    assert_non_null(strstr(c.last_alert, "\"action\":\"block_international\""));
    assert_non_null(strstr(c.last_alert, enforced_id));
    assert_null(strstr(c.last_alert, "\"held\""));
    /* The would-be order stands: its repeat within the cool-down stays quiet. */
    f.event_ts_ms = T0 + MIN;
    assert_int_equal(vigil_emit_finding(e, &f), 0);
    assert_int_equal(c.alerts, 1);
    struct vigil_emit_stats st;
    vigil_emit_get_stats(e, &st);
    assert_int_equal(st.reported, 1);
    assert_int_equal(st.orders, 0);
    /* Warnings are untouched by report-only. */
    struct vigil_finding w = finding("acc-2", VIGIL_SEV_WARNING, "toll_fraud.x", T0);
    assert_int_equal(vigil_emit_finding(e, &w), 0);
    assert_int_equal(c.alerts, 2);
    assert_null(strstr(c.last_alert, "would_order"));
    vigil_emit_destroy(e);
    vigil_config_destroy(cfg);
}

/* orders.report_rules: the named rule (or every rule of a named detector) reports, the
 * others still order. */
static void test_report_rules(void **state)
{
    (void)state;
    struct vigil_config *cfg;
    struct counts c = {0};
    struct vigil_emit *e =
        emit_with(&cfg, "orders.report_rules", "toll_fraud.spend_1h bulk_sms", &c);
    struct vigil_finding f = finding("acc-1", VIGIL_SEV_CRITICAL, "toll_fraud.spend_1h", T0);
    assert_int_equal(vigil_emit_finding(e, &f), 0);
    assert_int_equal(c.orders, 0);
    assert_non_null(strstr(c.last_alert, "\"would_order\":\"block_international\""));

    f = finding("acc-2", VIGIL_SEV_CRITICAL, "bulk_sms.rate", T0);
    f.detector = "bulk_sms";
    f.action = VIGIL_ACT_BLOCK_SMS;
    assert_int_equal(vigil_emit_finding(e, &f), 0);
    assert_int_equal(c.orders, 0);
    assert_non_null(strstr(c.last_alert, "\"would_order\":\"block_sms\""));

    f = finding("acc-3", VIGIL_SEV_CRITICAL, "toll_fraud.concurrent_high_risk", T0);
    assert_int_equal(vigil_emit_finding(e, &f), 0);
    assert_int_equal(c.orders, 1);
    assert_null(strstr(c.last_alert, "would_order"));
    vigil_emit_destroy(e);
    vigil_config_destroy(cfg);

    /* A name that is no registered detector or declared rule is refused at load. */
    cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_set(cfg, "credit.interim_on_critical", "0", "test"), 0);
    assert_int_not_equal(vigil_config_set(cfg, "orders.report_rules", "tol_fraud.spend_1h", "t"),
                         0);
    assert_int_not_equal(vigil_config_set(cfg, "orders.report_rules", "toll_fraud.spend", "t"),
                         0);
    assert_string_equal(vigil_config_errstr(cfg),
                        "t: bad entry 'toll_fraud.spend' in 'orders.report_rules': not a detector "
                        "or one of its rules (e.g. bulk_sms, toll_fraud.spend_1h)");
    assert_int_equal(vigil_config_set(cfg, "orders.report_rules",
                                      "premium.inbound_flagged_callers fair_use", "t"),
                     0);
    assert_int_not_equal(vigil_config_set(cfg, "orders.mode", "dry", "t"), 0);
    vigil_config_destroy(cfg);
}

static const char *hold_all(void *ctx, const struct vigil_finding *f)
{
    (void)f;
    return ctx;
}

/* The hold hook: no order record, the alert says held (not would_order) and names the order. */
static void test_hold_hook(void **state)
{
    struct rig *r = *state;
    vigil_emit_set_hold(r->a, hold_all, "brake");
    struct vigil_finding f = finding("acc-1", VIGIL_SEV_CRITICAL, "toll_fraud.x", T0);
    assert_int_equal(vigil_emit_finding(r->a, &f), 0);
    assert_int_equal(r->ca.orders, 0);
    assert_int_equal(r->ca.alerts, 1);
    assert_non_null(strstr(r->ca.last_alert, "\"held\":\"brake\""));
    assert_non_null(strstr(r->ca.last_alert, "\"order_id\":\"ord-"));
    assert_null(strstr(r->ca.last_alert, "would_order"));
    /* Removed: the next account orders. */
    vigil_emit_set_hold(r->a, NULL, NULL);
    f.account = "acc-2";
    assert_int_equal(vigil_emit_finding(r->a, &f), 0);
    assert_int_equal(r->ca.orders, 1);
}

/* exempt: 112, the number table's emergency numbers (911 built in, 999 added), then
 * orders.exempt as a SIP proxy sees the numbers (national and 00-numbers as E.164), once
 * each. */
static void test_exempt_from_table(void **state)
{
    (void)state;
    struct vigil_config *cfg;
    struct counts c = {0};
    struct vigil_emit *e = emit_with(&cfg, "orders.exempt", "0800123456 0044201234 112 116000",
                                     &c);
    assert_int_equal(vigil_config_set(cfg, "numbering.emergency", "999", "test"), 0);
    char err[256];
    struct vigil_numplan *np = vigil_numplan_create(cfg, err, sizeof err);
    assert_non_null(np);
    vigil_emit_set_exempt(e, np);
    vigil_numplan_destroy(np); /* the list is copied */
    struct vigil_finding f = finding("acc-1", VIGIL_SEV_CRITICAL, "toll_fraud.x", T0);
    assert_int_equal(vigil_emit_finding(e, &f), 0);
    assert_int_equal(c.orders, 1);
    assert_non_null(strstr(c.last_order, "\"exempt\":[\"112\",\"911\",\"999\","
                                         "\"+31800123456\",\"+44201234\",\"116000\"]"));
    vigil_emit_destroy(e);
    vigil_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_standing_order_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cooldown_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_record_and_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_hook, setup, teardown),
        cmocka_unit_test(test_exempt_from_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* test_toll_fraud.c - the toll_fraud detector through its vtable: events parsed from the
 * wire format, the real config, number plan and emit layer, and a sink that records every
 * order, alert and counter set. Rule: toll_fraud.concurrent_high_risk. */
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
#include "vigil/status.h"

#define T0 1795399800000LL /* 10 minutes into an hour, near events.md's example time */
#define HOUR 3600000LL
#define DAY 86400000LL
#define CUBA "+535123456" /* + one digit: +5351234560.. */
#define MAX_RECS 512

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
    fx->ops = vigil_detector_find("toll_fraud");
    assert_non_null(fx->ops);
    struct vigil_detector_env env = {.cfg = fx->cfg, .numplan = fx->np};
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

static void call_start(struct fx *fx, const char *account, const char *id, const char *call_id,
                       int64_t ts, const char *to)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_start\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
             "\"call_id\":\"%s\",\"from\":\"+31201234567\",\"to\":\"%s\",\"dir\":\"out\","
             "\"device\":\"pbx/trunk1\",\"src_ip\":\"203.0.113.5\"}",
             id, (long long)ts, account, call_id, to);
    feed_json(fx, account, json);
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
    feed_json(fx, account, json);
}

/* Call i of a series: event id "s-<i>", call id "c-<i>", to <prefix><i>. */
static void start_n(struct fx *fx, const char *account, int i, int64_t ts, const char *prefix)
{
    char id[32], cid[32], to[32];
    snprintf(id, sizeof id, "s-%d", i);
    snprintf(cid, sizeof cid, "c-%d", i);
    snprintf(to, sizeof to, "%s%d", prefix, i);
    call_start(fx, account, id, cid, ts, to);
}

static void end_n(struct fx *fx, const char *account, int i, int64_t ts, const char *prefix,
                  int duration)
{
    char id[32], cid[32], to[32];
    snprintf(id, sizeof id, "x-%d", i);
    snprintf(cid, sizeof cid, "c-%d", i);
    snprintf(to, sizeof to, "%s%d", prefix, i);
    call_end(fx, account, id, cid, ts, to, duration);
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

/* The last counter record of `account`, or NULL. */
static const struct rec *last_counters(const struct fx *fx, const char *account)
{
    for (size_t i = fx->cap.n; i-- > 0;) {
        const struct rec *r = &fx->cap.recs[i];
        if (r->kind == VIGIL_OUT_COUNTERS && strcmp(r->account, account) == 0)
            return r;
    }
    return NULL;
}

static int64_t counter(const struct rec *r, const char *name)
{
    assert_non_null(r);
    for (size_t i = 0; i < r->n_counters; i++) {
        if (strcmp(r->counters[i].name, name) == 0)
            return r->counters[i].value;
    }
    fail_msg("no counter %s", name);
    return -1;
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

/* --- tests -------------------------------------------------------------------------------- */

/* Eight parallel calls to Cuba: a warning at the 5th, one order and its critical alert at
 * the 8th, nothing more for the 9th and 10th. */
static void test_eight_parallel_calls_block(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 7; i++)
        start_n(fx, "acc-1042", i, T0 + i * 1000, CUBA);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING), 1);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 0);

    start_n(fx, "acc-1042", 8, T0 + 8000, CUBA);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 1);

    const struct rec *o = find_kind(fx, VIGIL_OUT_ORDER, 0);
    assert_int_equal(o->action, VIGIL_ACT_BLOCK_INTERNATIONAL);
    assert_string_equal(o->account, "acc-1042");
    assert_string_equal(o->detector, "toll_fraud");
    assert_int_equal(o->severity, VIGIL_SEV_CRITICAL);

    struct jdoc d;
    jparse(&d, o->json);
    assert_int_equal(jint(&d, jget(&d, 0, "v")), 1);
    assert_jstr(&d, 0, "order_id", o->id);
    assert_jstr(&d, 0, "account", "acc-1042");
    assert_jstr(&d, 0, "action", "block_international");
    assert_jstr(&d, 0, "detector", "toll_fraud");
    assert_jstr(&d, 0, "rule", "toll_fraud.concurrent_high_risk");
    assert_jstr(&d, 0, "severity", "critical");
    assert_int_equal(jint(&d, jget(&d, 0, "event_ts")), T0 + 8000);
    assert_true(jarray_has(&d, 0, "exempt", "112"));
    int ev = jget(&d, 0, "evidence");
    assert_true(ev > 0);
    assert_int_equal(jint(&d, jget(&d, ev, "open_high_risk_calls")), 8);
    assert_int_equal(jint(&d, jget(&d, ev, "threshold")), 8);
    static const char *const samples[] = {"s-4", "s-5", "s-6", "s-7", "s-8"};
    assert_jstrings(&d, ev, "sample_event_ids", samples, 5);
    int reason = jget(&d, 0, "reason");
    assert_non_null(strstr(d.js + d.t[reason].start,
                           "8 simultaneous outbound calls to high-risk destinations "
                           "(threshold 8): likely hacked PBX or stolen credentials"));

    /* The critical alert that comes with it. */
    const struct rec *a = find_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL);
    struct jdoc da;
    jparse(&da, a->json);
    assert_jstr(&da, 0, "severity", "critical");
    assert_jstr(&da, 0, "rule", "toll_fraud.concurrent_high_risk");
    assert_int_equal(jint(&da, jget(&da, 0, "event_ts")), T0 + 8000);

    size_t before = fx->cap.n;
    start_n(fx, "acc-1042", 9, T0 + 9000, CUBA);
    start_n(fx, "acc-1042", 10, T0 + 10000, CUBA);
    assert_int_equal(fx->cap.n, before);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 1);

    tick(fx, T0 + 10000);
    const struct rec *c = last_counters(fx, "acc-1042");
    assert_int_equal(counter(c, "open_high_risk"), 10);
    assert_int_equal(counter(c, "high_risk_calls_1h"), 10);
    assert_int_equal(counter(c, "calls_out_1h"), 10);
    assert_int_equal(c->ttl_s, 172800);
}

static void test_seven_parallel_calls_warn_only(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 7; i++)
        start_n(fx, "acc-7", i, T0 + i * 1000, "+8816310000");
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    const struct rec *w = find_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING);
    assert_non_null(w);
    struct jdoc d;
    jparse(&d, w->json);
    assert_jstr(&d, 0, "severity", "warning");
    assert_jstr(&d, 0, "rule", "toll_fraud.concurrent_high_risk");
    assert_int_equal(jint(&d, jget(&d, 0, "event_ts")), T0 + 5000);
    assert_true(jget(&d, 0, "action") < 0);
    assert_true(jget(&d, 0, "exempt") < 0);
    int ev = jget(&d, 0, "evidence");
    assert_int_equal(jint(&d, jget(&d, ev, "open_high_risk_calls")), 5);
    assert_int_equal(jint(&d, jget(&d, ev, "threshold")), 5);
}

/* detection.md: a call centre with 25 simultaneous calls to NL, BE, DE, FR, GB. */
static void test_call_centre_left_alone(void **state)
{
    struct fx *fx = *state;
    static const char *const dest[] = {"+3120555", "+3225550", "+4930555", "+3314268", "+4420794"};
    for (int i = 0; i < 25; i++)
        start_n(fx, "acc-callcentre", 100 + i, T0 + i * 100, dest[i % 5]);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    for (int i = 0; i < 25; i++)
        end_n(fx, "acc-callcentre", 100 + i, T0 + 600000 + i * 100, dest[i % 5], 600);
    tick(fx, T0 + 700000);
    const struct rec *c = last_counters(fx, "acc-callcentre");
    assert_int_equal(counter(c, "calls_out_1h"), 25);
    assert_int_equal(counter(c, "high_risk_calls_1h"), 0);
    assert_int_equal(counter(c, "open_high_risk"), 0);
    assert_int_equal(counter(c, "minutes_out_1h"), 250);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
}

/* Calls that end before the next starts never add up, however many there are. */
static void test_sequential_calls_do_not_add_up(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 20; i++) {
        start_n(fx, "acc-seq", i, T0 + i * 60000, CUBA);
        end_n(fx, "acc-seq", i, T0 + i * 60000 + 30000, CUBA, 30);
    }
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    tick(fx, T0 + 21 * 60000);
    const struct rec *c = last_counters(fx, "acc-seq");
    assert_int_equal(counter(c, "open_high_risk"), 0);
    assert_int_equal(counter(c, "high_risk_calls_1h"), 20);
    assert_int_equal(counter(c, "minutes_out_1h"), 10);
    /* 20 x 30 s to Cuba at EUR 1.20 per minute: EUR 12. */
    assert_int_equal(counter(c, "spend_eur_cents_1h"), 1200);
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
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    tick(fx, T0 + 7500);
    assert_int_equal(counter(last_counters(fx, "acc-dup"), "open_high_risk"), 7);
    assert_int_equal(counter(last_counters(fx, "acc-dup"), "high_risk_calls_1h"), 7);
    start_n(fx, "acc-dup", 8, T0 + 8000, CUBA);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
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
    feed_json(fx, "acc-end", json);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 1); /* "c-in" was the 8th */

    /* Start over on a fresh account: 7 high-risk plus emergency and inbound calls. */
    for (int i = 1; i <= 7; i++)
        start_n(fx, "acc-112", i, T0 + i * 1000, CUBA);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "em-%d", i);
        call_start(fx, "acc-112", id, id, T0 + 8000 + i, "112");
    }
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    tick(fx, T0 + 9000);
    assert_int_equal(counter(last_counters(fx, "acc-112"), "open_high_risk"), 7);
    assert_int_equal(counter(last_counters(fx, "acc-112"), "calls_out_1h"), 10);
    assert_int_equal(counter(last_counters(fx, "acc-end"), "open_high_risk"), 8);
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
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    tick(fx, T0 + 20000);
    const struct rec *c = last_counters(fx, "acc-dis");
    assert_int_equal(counter(c, "open_high_risk"), 7);
    assert_int_equal(counter(c, "high_risk_calls_1h"), 8);
    start_n(fx, "acc-dis", 8, T0 + 21000, CUBA);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
}

/* orders.allowlist: the critical alert still goes out (marked), the order does not. */
static void test_allowlisted_account_alert_only(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"orders.allowlist", "acc-trusted acc-other", NULL};
    struct fx *fx = fx_new(sets);
    for (int i = 1; i <= 8; i++)
        start_n(fx, "acc-trusted", i, T0 + i * 1000, "+2521234");
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    const struct rec *a = find_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL);
    assert_non_null(a);
    struct jdoc d;
    jparse(&d, a->json);
    assert_jstr(&d, 0, "rule", "toll_fraud.concurrent_high_risk");
    assert_int_equal(jint(&d, jget(&d, 0, "event_ts")), T0 + 8000);
    int al = jget(&d, 0, "allowlisted");
    assert_true(al > 0 && jeq(&d, al, "true"));
    void *state = fx;
    teardown(&state);
}

/* A call whose end never comes stops counting after max_open_call_ms of event time. */
static void test_open_calls_expire_on_tick(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 7; i++)
        start_n(fx, "acc-exp", i, T0 + i * 1000, CUBA);
    /* One millisecond before the first call's deadline all seven still count. */
    tick(fx, T0 + 1000 + DAY - 1);
    assert_int_equal(counter(last_counters(fx, "acc-exp"), "open_high_risk"), 7);
    /* Past every deadline: none left, and that is published. */
    tick(fx, T0 + 7000 + DAY);
    assert_int_equal(counter(last_counters(fx, "acc-exp"), "open_high_risk"), 0);
    start_n(fx, "acc-exp", 8, T0 + 8000 + DAY, CUBA);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    tick(fx, T0 + 8000 + DAY);
    assert_int_equal(counter(last_counters(fx, "acc-exp"), "open_high_risk"), 1);
}

/* Without a tick the account's own later events expire its stale calls; a shorter
 * configured limit applies. */
static void test_expiry_by_event_time_and_config(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"toll_fraud.max_open_call_ms", "600000", NULL};
    struct fx *fx = fx_new(sets);
    for (int i = 1; i <= 7; i++)
        start_n(fx, "acc-cfg", i, T0 + i * 1000, CUBA);
    start_n(fx, "acc-cfg", 8, T0 + 601000, CUBA); /* call 1 ran out at T0 + 601000 */
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    start_n(fx, "acc-cfg", 9, T0 + 601500, CUBA);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    void *state = fx;
    teardown(&state);
}

static void test_thresholds_from_config(void **unused)
{
    (void)unused;
    static const char *const sets[] = {"toll_fraud.concurrent_high_risk", "3",
                                       "toll_fraud.concurrent_high_risk_warning", "0", NULL};
    struct fx *fx = fx_new(sets);
    for (int i = 1; i <= 3; i++)
        start_n(fx, "acc-3", i, T0 + i * 1000, "+8821600");
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING), 0);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    struct jdoc d;
    jparse(&d, find_kind(fx, VIGIL_OUT_ORDER, 0)->json);
    int ev = jget(&d, 0, "evidence");
    assert_int_equal(jint(&d, jget(&d, ev, "threshold")), 3);
    assert_int_equal(jint(&d, jget(&d, ev, "open_high_risk_calls")), 3);
    static const char *const samples[] = {"s-1", "s-2", "s-3"};
    assert_jstrings(&d, ev, "sample_event_ids", samples, 3);
    void *state = fx;
    teardown(&state);
}

/* After the open count falls below the warning level the rule re-arms: a new episode after
 * the alert cool-down warns again. Between the warning level and the block level it stays
 * fired: churning calls of one attack ask the emit layer for nothing new. */
static void test_rearm_after_episode(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 5; i++)
        start_n(fx, "acc-re", i, T0 + i * 1000, CUBA);
    start_n(fx, "acc-re", 6, T0 + 6000, CUBA); /* still the same episode */
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING), 1);
    for (int i = 1; i <= 5; i++)
        end_n(fx, "acc-re", i, T0 + 60000 + i, CUBA, 50);
    /* One call (c-6) stays open throughout. */
    int64_t later = T0 + 2 * HOUR;
    for (int i = 11; i <= 14; i++)
        start_n(fx, "acc-re", i, later + i, CUBA);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING), 2);
    for (int i = 15; i <= 17; i++)
        start_n(fx, "acc-re", i, later + i, CUBA);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, VIGIL_SEV_CRITICAL), 1);

    struct vigil_emit_stats before, after;
    vigil_emit_get_stats(fx->out, &before);
    end_n(fx, "acc-re", 11, later + 100, CUBA, 1);
    end_n(fx, "acc-re", 12, later + 101, CUBA, 1);
    start_n(fx, "acc-re", 18, later + 102, CUBA);
    start_n(fx, "acc-re", 19, later + 103, CUBA);
    vigil_emit_get_stats(fx->out, &after);
    assert_memory_equal(&before, &after, sizeof before);
}

/* Past 64 tracked calls an account's calls are counted without their ids; their ends still
 * bring the count back down. */
static void test_untracked_overflow(void **state)
{
    struct fx *fx = *state;
    for (int i = 1; i <= 70; i++)
        start_n(fx, "acc-big", i, T0 + i * 10, CUBA);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    tick(fx, T0 + 1000);
    assert_int_equal(counter(last_counters(fx, "acc-big"), "open_high_risk"), 70);
    for (int i = 1; i <= 70; i++)
        end_n(fx, "acc-big", i, T0 + 60000 + i, CUBA, 60);
    tick(fx, T0 + 70000);
    const struct rec *c = last_counters(fx, "acc-big");
    assert_int_equal(counter(c, "open_high_risk"), 0);
    assert_int_equal(counter(c, "high_risk_calls_1h"), 70);
    assert_int_equal(counter(c, "minutes_out_1h"), 70);
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
    feed_json(fx, "acc-a", json);
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_end\",\"id\":\"a4\",\"ts\":%lld,\"account\":\"acc-a\","
             "\"call_id\":\"ca3\",\"from\":\"+31201234567\",\"to\":\"+4420794\","
             "\"dir\":\"out\",\"duration\":120,\"cost\":0.5}",
             (long long)(h0 + 99000));
    feed_json(fx, "acc-a", json);
    tick(fx, h0 + 100000);
    assert_int_equal(count_kind(fx, VIGIL_OUT_COUNTERS, 0), 1);
    const struct rec *c = last_counters(fx, "acc-a");
    assert_string_equal(c->detector, "toll_fraud");
    /* One start, one unanswered attempt; an end whose start was lost (ca3) is not a new
     * call unless it is high-risk. */
    assert_int_equal(counter(c, "calls_out_1h"), 2);
    assert_int_equal(counter(c, "high_risk_calls_1h"), 1);
    assert_int_equal(counter(c, "minutes_out_1h"), 3);
    /* 90 s at EUR 0.02 + the exporter's EUR 0.50 = 53 cents. */
    assert_int_equal(counter(c, "spend_eur_cents_1h"), 53);
    assert_int_equal(counter(c, "open_high_risk"), 0);

    tick(fx, h0 + 200000); /* nothing changed */
    assert_int_equal(count_kind(fx, VIGIL_OUT_COUNTERS, 0), 1);

    /* Next hour of event time: acc-a (idle) publishes zeros once; acc-b is live. */
    call_start(fx, "acc-b", "b1", "cb1", h0 + HOUR + 5, "+31201111111");
    tick(fx, h0 + HOUR + 10);
    assert_int_equal(count_kind(fx, VIGIL_OUT_COUNTERS, 0), 3);
    c = last_counters(fx, "acc-a");
    assert_int_equal(counter(c, "calls_out_1h"), 0);
    assert_int_equal(counter(c, "minutes_out_1h"), 0);
    assert_int_equal(counter(last_counters(fx, "acc-b"), "calls_out_1h"), 1);
    tick(fx, h0 + 2 * HOUR + 10);
    tick(fx, h0 + 3 * HOUR + 10);
    /* acc-b zeroed once at the second roll; acc-a gone. */
    assert_int_equal(count_kind(fx, VIGIL_OUT_COUNTERS, 0), 4);

    /* acc-a comes back: a fresh hour. */
    call_start(fx, "acc-a", "a5", "ca5", h0 + 3 * HOUR + 20, "+31201111111");
    tick(fx, h0 + 3 * HOUR + 30);
    assert_int_equal(counter(last_counters(fx, "acc-a"), "calls_out_1h"), 1);
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
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    for (int k = 4; k < 8; k++)
        start_n(fx, "acc-123", k, T0 + 30000 + k, CUBA);
    assert_int_equal(count_kind(fx, VIGIL_OUT_ORDER, 0), 1);
    assert_string_equal(find_kind(fx, VIGIL_OUT_ORDER, 0)->account, "acc-123");
    tick(fx, T0 + 40000);
    assert_int_equal(count_kind(fx, VIGIL_OUT_COUNTERS, 0), 400);
    assert_int_equal(counter(last_counters(fx, "acc-399"), "open_high_risk"), 4);
    assert_int_equal(counter(last_counters(fx, "acc-123"), "open_high_risk"), 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_eight_parallel_calls_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seven_parallel_calls_warn_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_centre_left_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sequential_calls_do_not_add_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_start_counts_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ends_and_emergency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_before_start, setup, teardown),
        cmocka_unit_test(test_allowlisted_account_alert_only),
        cmocka_unit_test_setup_teardown(test_open_calls_expire_on_tick, setup, teardown),
        cmocka_unit_test(test_expiry_by_event_time_and_config),
        cmocka_unit_test(test_thresholds_from_config),
        cmocka_unit_test_setup_teardown(test_rearm_after_episode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untracked_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters_publish_and_roll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_accounts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* detector_fixture.c - one detector behind the real config, number plan, profiles and emit
 * layer, a capturing sink and a small JSON reader, shared by the detector unit tests.
 * Threading: none; a fixture belongs to one test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define JSMN_STATIC
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "detector_fixture.h"

/* --- the sink ------------------------------------------------------------------------------ */

static int cap_write(void *ctx, const struct vigil_out_record *r)
{
    struct fx_capture *c = ctx;
    assert_true(c->n < c->max);
    struct fx_rec *d = &c->recs[c->n++];
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
    assert_true(r->n_counters <= FX_MAX_COUNTERS);
    for (size_t i = 0; i < r->n_counters; i++) {
        snprintf(d->names[i], sizeof d->names[i], "%s", r->counters[i].name);
        d->counters[i].name = d->names[i];
        d->counters[i].value = r->counters[i].value;
    }
    d->n_counters = r->n_counters;
    d->ttl_s = r->ttl_s;
    d->stream_ts = c->stream_ts;
    /* Every rule a detector reports is one it declares (orders.report_rules relies on it). */
    if (r->kind == VIGIL_OUT_ORDER || r->kind == VIGIL_OUT_ALERT) {
        const struct vigil_detector_ops *ops = vigil_detector_find(r->detector);
        assert_non_null(ops);
        bool declared = false;
        for (const char *const *rule = ops->rules; rule && *rule && !declared; rule++)
            declared = fx_rec_rule_is(d, *rule);
        if (!declared)
            fail_msg("%s reported a rule it does not declare in its ops.rules: %s", r->detector,
                     d->json);
    }
    return 0;
}

static int64_t fixed_clock(void *ctx)
{
    const struct fx *fx = ctx;
    return fx->now_ms;
}

/* --- fixture ------------------------------------------------------------------------------- */

struct fx *fx_create(const char *detector, const char *const *sets, size_t max_recs, int64_t now_ms)
{
    struct fx *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->now_ms = now_ms;
    fx->cap.max = max_recs;
    fx->cap.recs = calloc(max_recs, sizeof *fx->cap.recs);
    assert_non_null(fx->cap.recs);
    fx->cfg = vigil_config_create();
    assert_non_null(fx->cfg);
    /* A detector's tests count that detector's orders: the interim invoice that a critical
     * toll_fraud or premium finding also asks for (on by default, emit.c) is off here unless
     * a test sets it. */
    assert_int_equal(vigil_config_set(fx->cfg, "credit.interim_on_critical", "0", "test"), 0);
    for (size_t i = 0; sets && sets[i]; i += 2)
        assert_int_equal(vigil_config_set(fx->cfg, sets[i], sets[i + 1], "test"), 0);
    char err[256];
    fx->np = vigil_numplan_create(fx->cfg, err, sizeof err);
    if (!fx->np)
        fail_msg("numplan: %s", err);
    fx->pr = vigil_profiles_create(fx->cfg);
    assert_non_null(fx->pr);
    struct vigil_sink sink = {.ctx = &fx->cap, .write = cap_write};
    fx->out = vigil_emit_create(fx->cfg, sink, fixed_clock, fx);
    assert_non_null(fx->out);
    fx->flagged = vigil_flagged_create(1024);
    assert_non_null(fx->flagged);
    fx->credit = vigil_credit_create(1024);
    assert_non_null(fx->credit);
    fx->ops = vigil_detector_find(detector);
    assert_non_null(fx->ops);
    fx->recs = vigil_recs_create(0);
    assert_non_null(fx->recs);
    struct vigil_detector_env env = {.cfg = fx->cfg, .numplan = fx->np, .profiles = fx->pr,
                                     .flagged = fx->flagged, .credit = fx->credit,
                                     .recs = fx->recs};
    assert_int_equal(fx->ops->init(&fx->st, &env), 0);
    assert_non_null(fx->st);
    return fx;
}

void fx_destroy(struct fx *fx)
{
    if (!fx)
        return;
    vigil_recs_destroy(fx->recs); /* before the state: its fini calls reach into it */
    if (fx->ops)
        fx->ops->destroy(fx->st);
    vigil_emit_destroy(fx->out);
    vigil_flagged_destroy(fx->flagged);
    vigil_credit_destroy(fx->credit);
    vigil_profiles_destroy(fx->pr);
    vigil_numplan_destroy(fx->np);
    vigil_config_destroy(fx->cfg);
    free(fx->cap.recs);
    free(fx);
}

int fx_teardown(void **state)
{
    fx_destroy(*state);
    *state = NULL;
    return 0;
}

/* --- feeding ------------------------------------------------------------------------------- */

void fx_feed_json(struct fx *fx, const char *account, const char *json)
{
    struct vigil_event ev;
    struct vigil_parse_error perr;
    struct vigil_parse_opts opts = {.default_cc = "31", .now_ms = 0};
    int rc = vigil_event_parse(json, strlen(json), account, strlen(account), &opts, &ev, &perr);
    if (rc != 0)
        fail_msg("parse %s: %s (%s)", json, perr.reason, perr.detail);
    if (ev.ts_ms > fx->cap.stream_ts)
        fx->cap.stream_ts = ev.ts_ms;
    /* The engine's one lookup of the account (pipeline/engine.c). */
    assert_int_equal(vigil_recs_enter(fx->recs, &ev), 0);
    assert_int_equal(fx->ops->on_event(fx->st, &ev, fx->out), 0);
    vigil_recs_leave(fx->recs);
}

void fx_feed(struct fx *fx, const char *account, const char *fmt, ...)
{
    char json[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(json, sizeof json, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof json);
    fx_feed_json(fx, account, json);
}

void fx_feed_call(struct fx *fx, const char *type, const char *dir, const char *account,
                  const char *id, const char *call_id, int64_t ts, const char *from, const char *to,
                  const char *extra)
{
    fx_feed(fx, account,
            "{\"v\":1,\"type\":\"%s\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
            "\"call_id\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"dir\":\"%s\"%s}",
            type, id, (long long)ts, account, call_id, from, to, dir, extra);
}

void fx_tick(struct fx *fx, int64_t watermark_ms)
{
    assert_int_equal(fx->ops->on_tick(fx->st, watermark_ms, fx->out), 0);
}

/* --- looking at what came out ------------------------------------------------------------- */

static bool rec_is(const struct fx_rec *r, enum vigil_out_kind kind, int severity)
{
    return r->kind == kind && (severity == 0 || (int)r->severity == severity);
}

size_t fx_count_kind(const struct fx *fx, enum vigil_out_kind kind, int severity)
{
    size_t n = 0;
    for (size_t i = 0; i < fx->cap.n; i++) {
        if (rec_is(&fx->cap.recs[i], kind, severity))
            n++;
    }
    return n;
}

const struct fx_rec *fx_find_kind(const struct fx *fx, enum vigil_out_kind kind, int severity)
{
    for (size_t i = 0; i < fx->cap.n; i++) {
        if (rec_is(&fx->cap.recs[i], kind, severity))
            return &fx->cap.recs[i];
    }
    return NULL;
}

bool fx_rec_rule_is(const struct fx_rec *r, const char *rule)
{
    struct fx_json d;
    fx_json_parse(&d, r->json);
    int i = fx_json_get(&d, 0, "rule");
    return i > 0 && fx_json_str_eq(&d, i, rule);
}

size_t fx_count_rule(const struct fx *fx, enum vigil_out_kind kind, int severity, const char *rule)
{
    size_t n = 0;
    for (size_t i = 0; i < fx->cap.n; i++) {
        const struct fx_rec *r = &fx->cap.recs[i];
        if (rec_is(r, kind, severity) && fx_rec_rule_is(r, rule))
            n++;
    }
    return n;
}

const struct fx_rec *fx_find_rule(const struct fx *fx, enum vigil_out_kind kind, int severity,
                                  const char *rule)
{
    for (size_t i = 0; i < fx->cap.n; i++) {
        const struct fx_rec *r = &fx->cap.recs[i];
        if (rec_is(r, kind, severity) && fx_rec_rule_is(r, rule))
            return r;
    }
    return NULL;
}

const struct fx_rec *fx_last_counters(const struct fx *fx, const char *account)
{
    for (size_t i = fx->cap.n; i-- > 0;) {
        const struct fx_rec *r = &fx->cap.recs[i];
        if (r->kind == VIGIL_OUT_COUNTERS && strcmp(r->account, account) == 0)
            return r;
    }
    return NULL;
}

int64_t fx_counter(const struct fx_rec *r, const char *name)
{
    assert_non_null(r);
    for (size_t i = 0; i < r->n_counters; i++) {
        if (strcmp(r->counters[i].name, name) == 0)
            return r->counters[i].value;
    }
    fail_msg("no counter %s", name);
    return -1;
}

int64_t fx_latest(const struct fx *fx, const char *account, const char *name)
{
    for (size_t i = fx->cap.n; i-- > 0;) {
        const struct fx_rec *r = &fx->cap.recs[i];
        if (r->kind != VIGIL_OUT_COUNTERS || strcmp(r->account, account) != 0)
            continue;
        for (size_t k = 0; k < r->n_counters; k++) {
            if (strcmp(r->counters[k].name, name) == 0)
                return r->counters[k].value;
        }
    }
    return -1;
}

/* --- JSON ---------------------------------------------------------------------------------- */

static enum fx_json_type tok_type(jsmntype_t t)
{
    switch (t) {
    case JSMN_OBJECT:
        return FX_JSON_OBJECT;
    case JSMN_ARRAY:
        return FX_JSON_ARRAY;
    case JSMN_STRING:
        return FX_JSON_STRING;
    case JSMN_PRIMITIVE:
        return FX_JSON_PRIMITIVE;
    default:
        return FX_JSON_UNDEFINED;
    }
}

void fx_json_parse(struct fx_json *d, const char *js)
{
    jsmntok_t t[FX_JSON_TOKENS];
    jsmn_parser p;
    jsmn_init(&p);
    d->js = js;
    d->n = jsmn_parse(&p, js, strlen(js), t, FX_JSON_TOKENS);
    if (d->n <= 0)
        fail_msg("not JSON (%d): %s", d->n, js);
    for (int i = 0; i < d->n; i++) {
        d->t[i].type = tok_type(t[i].type);
        d->t[i].start = t[i].start;
        d->t[i].end = t[i].end;
        d->t[i].size = t[i].size;
    }
    assert_int_equal(d->t[0].type, FX_JSON_OBJECT);
}

int fx_json_skip(const struct fx_json *d, int i)
{
    for (int pending = 1; pending > 0; i++)
        pending += d->t[i].size - 1;
    return i;
}

bool fx_json_str_eq(const struct fx_json *d, int i, const char *s)
{
    int len = d->t[i].end - d->t[i].start;
    return (int)strlen(s) == len && memcmp(d->js + d->t[i].start, s, (size_t)len) == 0;
}

int fx_json_get(const struct fx_json *d, int obj, const char *key)
{
    int i = obj + 1;
    for (int k = 0; k < d->t[obj].size; k++) {
        if (fx_json_str_eq(d, i, key))
            return i + 1;
        i = fx_json_skip(d, i + 1);
    }
    return -1;
}

long long fx_json_int(const struct fx_json *d, int i)
{
    assert_true(i > 0);
    assert_int_equal(d->t[i].type, FX_JSON_PRIMITIVE);
    return strtoll(d->js + d->t[i].start, NULL, 10);
}

void fx_json_assert_str(const struct fx_json *d, int obj, const char *key, const char *want)
{
    int i = fx_json_get(d, obj, key);
    assert_true(i > 0);
    assert_int_equal(d->t[i].type, FX_JSON_STRING);
    if (!fx_json_str_eq(d, i, want))
        fail_msg("%s: want '%s', got '%.*s'", key, want, d->t[i].end - d->t[i].start,
                 d->js + d->t[i].start);
}

void fx_json_assert_strings(const struct fx_json *d, int obj, const char *key,
                            const char *const *want, int n)
{
    int a = fx_json_get(d, obj, key);
    assert_true(a > 0);
    assert_int_equal(d->t[a].type, FX_JSON_ARRAY);
    assert_int_equal(d->t[a].size, n);
    for (int k = 0; k < n; k++)
        assert_true(fx_json_str_eq(d, a + 1 + k, want[k]));
}

bool fx_json_array_has(const struct fx_json *d, int obj, const char *key, const char *s)
{
    int a = fx_json_get(d, obj, key);
    assert_true(a > 0);
    assert_int_equal(d->t[a].type, FX_JSON_ARRAY);
    for (int k = 0; k < d->t[a].size; k++) {
        if (fx_json_str_eq(d, a + 1 + k, s))
            return true;
    }
    return false;
}

/* --- checkpoints ---------------------------------------------------------------------------- */

void fx_move_account(struct fx *from, struct fx *to, const char *account)
{
    struct vigil_bytes b = {0};
    assert_int_equal(from->ops->save(from->st, account, &b), 0);
    assert_true(b.len > 0);
    assert_int_equal(to->ops->load(to->st, account, b.p, b.len), 0);
    vigil_bytes_fini(&b);
}

void fx_corruption_sweep(const struct vigil_bytes *good, size_t from,
                         void (*try_load)(void *ctx, const unsigned char *p, size_t len),
                         void *ctx)
{
    unsigned char *p = malloc(good->len ? good->len : 1);
    assert_non_null(p);
    for (size_t i = from; i < good->len; i++) {
        for (int v = 0; v < 2; v++) {
            memcpy(p, good->p, good->len);
            p[i] = v ? 0xff : 0x00;
            try_load(ctx, p, good->len);
        }
    }
    static const int64_t extremes[] = {INT64_MIN, INT64_MAX};
    for (size_t i = from; i + 8 <= good->len; i += 8) {
        for (int v = 0; v < 2; v++) {
            memcpy(p, good->p, good->len);
            memcpy(p + i, &extremes[v], 8);
            try_load(ctx, p, good->len);
        }
    }
    free(p);
}

const struct fx_rec *fx_next_finding(const struct fx *fx, size_t *i)
{
    for (; *i < fx->cap.n; (*i)++) {
        if (fx->cap.recs[*i].kind != VIGIL_OUT_COUNTERS)
            return &fx->cap.recs[(*i)++];
    }
    return NULL;
}

size_t fx_assert_same_findings(const struct fx *fx, size_t from, const struct fx *ref,
                               size_t ref_from)
{
    size_t n = 0;
    for (;;) {
        const struct fx_rec *a = fx_next_finding(fx, &from), *b = fx_next_finding(ref, &ref_from);
        if (!a || !b) {
            if (a || b)
                fail_msg("finding %zu only on one side: %s", n, a ? a->json : b->json);
            return n;
        }
        assert_int_equal(a->kind, b->kind);
        assert_string_equal(a->id, b->id);
        assert_string_equal(a->json, b->json);
        n++;
    }
}


/* SPDX-License-Identifier: Apache-2.0 */
/* resale.c - a consumer account that behaves like a reseller of calls or SMS (the providers'
 * fair-use terms: no commercial exploitation, no reselling to third parties). Warnings only:
 * whether it is resale is for a person to decide, never an order.
 *
 * Rules (accounts of the `consumer` profile only; others are not looked at):
 *   resale.distinct_numbers  outbound calls (attempts included) and SMS to at least
 *       distinct_numbers_day (100) distinct numbers within one UTC day -> warning. A busy
 *       household calls and texts a few dozen numbers on its busiest day; a call shop or an
 *       SMS gateway on a consumer line reaches hundreds. Emergency numbers never count.
 *   resale.parallel_calls  at least parallel_calls (6) outbound calls open at once ->
 *       warning. A household has one or two lines in use at once (a family calling abroad
 *       too); six is far beyond it.
 * Each rule warns at most once per account and UTC day (the alert cool-down of emit.c on top).
 *
 * Distinct numbers are counted with a 2048-bit linear-counting bitmap of the numbers' hashes
 * per account and day (256 bytes): the estimate -m ln(empty / m) is within a few numbers of
 * the truth up to several hundred, deterministic, and never over-counts a repeated number.
 *
 * State per worker: a pointer slot in the account records (acct_rec.h; 8 bytes of every
 * record); consumer accounts with outbound traffic in the last two days or a call open have
 * a struct rs_acct, allocated at their first such event and freed when idle, 544 bytes: the bitmap,
 * RS_OPEN_MAX (16) open calls (beyond, a call is not tracked: parallel_calls is at most 16), days
 * and marks. Open calls stop counting after 24 h of event time (events.md).
 *
 * Checkpoints (detector.h), in the shared encoding (state_codec.h): the version byte
 * (RS_SAVE_VERSION), then last_ms, the three days, the bitmap and the open calls; load checks
 * every field's range and changes nothing unless all of it is valid.
 *
 * Threading: one state per worker thread (detector.h): no locks, no atomics.
 * Ownership: init allocates the state (and account records of its own when the env has none);
 * destroy frees them. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/acct_rec.h"
#include "vigil/acct_table.h"
#include "vigil/detector.h"
#include "vigil/numplan.h"
#include "vigil/open_calls.h"
#include "vigil/privacy.h"
#include "vigil/profile.h"
#include "vigil/state_codec.h"
#include "vigil/status.h"

#define RS_NAME "resale"
#define RS_RULE_DISTINCT "resale.distinct_numbers"
#define RS_RULE_PARALLEL "resale.parallel_calls"
#define RS_DAY_MS 86400000LL
#define RS_HOUR_MS 3600000LL
#define RS_BITS 2048
#define RS_OPEN_MAX 16
/* 3: the shared little-endian encoding (2 was struct rs_acct as it lay in memory); 2: the
 * bitmap's bit is taken from the hash above its forced low bit (version 1 set other bits for
 * the same numbers: refused, so the day's count starts again). */
#define RS_SAVE_VERSION 3

struct rs_acct {
    int64_t last_ms;
    int32_t day;             /* UTC day the bitmap counts */
    int32_t warned_distinct; /* UTC day of the last warning of each rule; INT32_MIN: none */
    int32_t warned_parallel;
    uint64_t bits[RS_BITS / 64];
    struct vigil_open_call open[RS_OPEN_MAX];
    uint8_t n_open;
};

struct rs_state {
    const struct vigil_numplan *np;
    const struct vigil_profiles *profiles;
    int64_t distinct_thr;        /* 0: off */
    int64_t parallel_thr;        /* 0: off */
    struct vigil_recs *recs;     /* slot `slot`: a pointer to struct rs_acct */
    struct vigil_recs *own_recs; /* recs when the env gave none; NULL otherwise */
    int slot;
    struct vigil_pool *pool; /* the struct rs_acct parts */
    int64_t wm_hour;         /* hour of the last sweep's watermark */
};

static const struct vigil_config_key rs_keys[] = {
    {"resale.distinct_numbers_day", VIGIL_CFG_INT, "100", 0, 1000,
     "Distinct numbers a consumer account calls or texts within one UTC day that raise a "
     "resale warning (0: off)."},
    {"resale.parallel_calls", VIGIL_CFG_INT, "6", 0, RS_OPEN_MAX,
     "Outbound calls open at once on a consumer account that raise a resale warning (0: off; "
     "at most 16)."},
    {0},
};

/* The part of slot s (a pointer to struct rs_acct), zeroed and allocated when `fresh`; NULL
 * (the slot released) when out of memory. */
static struct rs_acct *acct_take(struct rs_state *st, void **s, bool fresh)
{
    if (!fresh)
        return *s;
    if (!(*s = vigil_pool_alloc(st->pool)))
        vigil_recs_release(st->recs, st->slot, s);
    return *s;
}

/* fini of the slot (acct_rec.h): frees the part. */
static void acct_fini(void *ctx, void *slot)
{
    void **s = slot;
    vigil_pool_free(ctx, *s);
    *s = NULL;
}

static int32_t day_of(int64_t ts)
{
    return (int32_t)vigil_floor_div(ts, RS_DAY_MS);
}

/* Keyed when pseudonymised: the numbers' bitmap goes to Redis with the state. */
static uint64_t str_hash(const char *s)
{
    uint64_t h = vigil_privacy_enabled() ? vigil_privacy_hash(s, strlen(s))
                                         : vigil_acct_table_hash(s, strlen(s));
    return h | 1;
}

/* Linear counting: the distinct numbers the bitmap has seen, rounded down. */
static uint32_t distinct(const struct rs_acct *a)
{
    unsigned set = 0;
    for (size_t i = 0; i < RS_BITS / 64; i++)
        set += (unsigned)__builtin_popcountll(a->bits[i]);
    if (set == 0)
        return 0;
    if (set >= RS_BITS)
        return RS_BITS * 8; /* saturated: far beyond any threshold */
    double n = -(double)RS_BITS * log((double)(RS_BITS - set) / (double)RS_BITS);
    return (uint32_t)(n + 1e-9);
}

static int warn(const struct rs_state *st, const char *account, const char *rule, const char *ev_id,
                int64_t ts, const char *what, int64_t value, int64_t thr, struct vigil_emit *out)
{
    char reason[200];
    snprintf(reason, sizeof reason,
             "Consumer account with %lld %s (a household stays far below %lld): it may be "
             "reselling the service.",
             (long long)value, what, (long long)thr);
    (void)st;
    struct vigil_finding f = {
        .detector = RS_NAME,
        .rule = rule,
        .severity = VIGIL_SEV_WARNING,
        .action = VIGIL_ACT_NONE,
        .account = account,
        .event_ts_ms = ts,
        .window_ms = RS_DAY_MS,
        .reason = reason,
        .evidence = {{strcmp(rule, RS_RULE_DISTINCT) == 0 ? "distinct_numbers_today" : "open_calls",
                      (double)value},
                     {"threshold", (double)thr}},
        .n_evidence = 2,
        .samples = {ev_id},
        .n_samples = 1,
    };
    return vigil_emit_finding(out, &f);
}

static int rs_on_event(void *state, const struct vigil_event *ev, struct vigil_emit *out)
{
    struct rs_state *st = state;
    bool call = ev->type == VIGIL_EV_CALL_START || ev->type == VIGIL_EV_CALL_END;
    if ((call && ev->dir != VIGIL_DIR_OUT) || (!call && ev->type != VIGIL_EV_SMS))
        return 0;
    if (vigil_profiles_lookup(st->profiles, ev->account) != VIGIL_PROFILE_CONSUMER)
        return 0;
    struct vigil_numclass nc;
    vigil_numplan_classify(st->np, ev->to, &nc);
    if (nc.emergency)
        return 0;
    bool created;
    void **as = vigil_recs_slot(st->recs, st->slot, ev, &created);
    struct rs_acct *a = as ? acct_take(st, as, created) : NULL;
    if (!a)
        return VIGIL_ERR_NOMEM;
    int32_t today = day_of(ev->ts_ms);
    if (created) {
        a->day = today;
        a->warned_distinct = a->warned_parallel = INT32_MIN;
    }
    if (ev->ts_ms > a->last_ms)
        a->last_ms = ev->ts_ms;
    if (today > a->day) {
        memset(a->bits, 0, sizeof a->bits);
        a->day = today;
    }
    int rc = 0;
    if (today == a->day) { /* an event of an earlier day counts for nothing now */
        /* The hash's lowest bit is always set (str_hash): the bit is chosen from the rest,
         * or only every other bit of the map could ever be set. */
        uint64_t bit = (str_hash(ev->to) >> 1) % RS_BITS;
        a->bits[bit / 64] |= 1ULL << (bit % 64);
        uint32_t n = distinct(a);
        if (st->distinct_thr > 0 && n >= st->distinct_thr && a->warned_distinct != today) {
            a->warned_distinct = today;
            rc = warn(st, ev->account, RS_RULE_DISTINCT, ev->id, ev->ts_ms,
                      "distinct numbers called or texted today", n, st->distinct_thr, out);
        }
    }
    if (!call || rc != 0)
        return rc;
    uint64_t id = str_hash(ev->call_id);
    if (ev->type == VIGIL_EV_CALL_END) {
        size_t i = vigil_open_find(a->open, sizeof a->open[0], a->n_open, id);
        if (i < a->n_open)
            vigil_open_remove_at(a->open, sizeof a->open[0], &a->n_open, i);
        return 0;
    }
    if (!vigil_open_start(a->open, sizeof a->open[0], &a->n_open, RS_OPEN_MAX, id, ev->ts_ms))
        return 0; /* open already, or beyond RS_OPEN_MAX */
    if (st->parallel_thr > 0 && a->n_open >= st->parallel_thr && a->warned_parallel != today) {
        a->warned_parallel = today;
        return warn(st, ev->account, RS_RULE_PARALLEL, ev->id, ev->ts_ms,
                    "outbound calls open at once", a->n_open, st->parallel_thr, out);
    }
    return 0;
}

/* Once per hour of watermark: open calls past 24 h, accounts idle for two days. */
static int rs_on_tick(void *state, int64_t watermark_ms, struct vigil_emit *out)
{
    (void)out;
    struct rs_state *st = state;
    if (watermark_ms == INT64_MIN)
        return 0;
    int64_t hour = vigil_floor_div(watermark_ms, RS_HOUR_MS);
    if (hour <= st->wm_hour)
        return 0;
    st->wm_hour = hour;
    void **as;
    for (size_t it = 0; (as = vigil_recs_next(st->recs, st->slot, &it));) {
        struct rs_acct *a = *as;
        vigil_open_expire(a->open, sizeof a->open[0], &a->n_open, watermark_ms);
        if (a->n_open == 0 && a->last_ms <= watermark_ms - 2 * RS_DAY_MS) {
            vigil_pool_free(st->pool, a);
            vigil_recs_release(st->recs, st->slot, as);
        }
    }
    return 0;
}

static int rs_save(void *state, const char *account, struct vigil_bytes *out)
{
    const struct rs_state *st = state;
    void *const *as = vigil_recs_find(st->recs, st->slot, account);
    if (!as)
        return 0;
    const struct rs_acct *a = *as;
    struct vigil_state_writer w;
    vigil_state_write_begin(&w, out, RS_SAVE_VERSION);
    vigil_state_put_i64(&w, a->last_ms);
    vigil_state_put_i32(&w, a->day);
    vigil_state_put_i32(&w, a->warned_distinct);
    vigil_state_put_i32(&w, a->warned_parallel);
    for (int i = 0; i < RS_BITS / 64; i++)
        vigil_state_put_u64(&w, a->bits[i]);
    vigil_state_put_u8(&w, a->n_open);
    for (int i = 0; i < a->n_open; i++) {
        vigil_state_put_u64(&w, a->open[i].id);
        vigil_state_put_i64(&w, a->open[i].start_ms);
    }
    return vigil_state_write_end(&w);
}

static bool day_ok(int32_t d)
{
    return d == INT32_MIN || (d >= 0 && d <= VIGIL_SAVED_TS_MAX / RS_DAY_MS);
}

static int rs_load(void *state, const char *account, const void *data, size_t len)
{
    struct rs_state *st = state;
    struct vigil_bytes_reader r;
    struct rs_acct c = {0};
    vigil_state_read_begin(&r, data, len, RS_SAVE_VERSION);
    c.last_ms = vigil_state_get_time(&r);
    c.day = vigil_state_get_i32(&r);
    c.warned_distinct = vigil_state_get_i32(&r);
    c.warned_parallel = vigil_state_get_i32(&r);
    vigil_state_check(&r, c.day >= 0 && day_ok(c.day) && day_ok(c.warned_distinct) &&
                              day_ok(c.warned_parallel));
    for (int i = 0; i < RS_BITS / 64; i++)
        c.bits[i] = vigil_state_get_u64(&r);
    c.n_open = vigil_state_get_count8(&r, RS_OPEN_MAX);
    for (int i = 0; i < c.n_open; i++) {
        c.open[i].id = vigil_state_get_u64(&r);
        c.open[i].start_ms = vigil_state_get_time(&r);
        /* One entry per call: a second would never end (only the first is ever found). */
        vigil_state_check(&r, vigil_open_find(c.open, sizeof c.open[0], (size_t)i, c.open[i].id) ==
                                  (size_t)i);
    }
    if (vigil_state_read_end(&r) != 0 || !vigil_acct_key_ok(account))
        return VIGIL_ERR_INVALID;
    bool fresh;
    void **as = vigil_recs_slot_of(st->recs, st->slot, account, &fresh);
    struct rs_acct *a = as ? acct_take(st, as, fresh) : NULL;
    if (!a)
        return VIGIL_ERR_NOMEM;
    *a = c;
    return 0;
}

static void rs_forget(void *state, const char *account)
{
    struct rs_state *st = state;
    vigil_recs_forget(st->recs, st->slot, account);
}

static void rs_resweep(void *state)
{
    struct rs_state *st = state;
    st->wm_hour = INT64_MIN;
}

static void rs_destroy(void *state)
{
    struct rs_state *st = state;
    if (!st)
        return;
    vigil_recs_destroy(st->own_recs);
    vigil_pool_destroy(st->pool);
    free(st);
}

static int rs_init(void **state, const struct vigil_detector_env *env)
{
    *state = NULL;
    if (!env || !env->cfg || !env->numplan)
        return VIGIL_ERR_INVALID;
    struct rs_state *st = calloc(1, sizeof *st);
    if (!st)
        return VIGIL_ERR_NOMEM;
    st->np = env->numplan;
    st->profiles = env->profiles;
    st->distinct_thr = vigil_config_int(env->cfg, "resale.distinct_numbers_day");
    st->parallel_thr = vigil_config_int(env->cfg, "resale.parallel_calls");
    st->wm_hour = INT64_MIN;
    st->recs = env->recs ? env->recs : (st->own_recs = vigil_recs_create(64));
    st->pool = vigil_pool_create(sizeof(struct rs_acct));
    if (!st->recs || !st->pool) {
        rs_destroy(st);
        return VIGIL_ERR_NOMEM;
    }
    st->slot = vigil_recs_declare_part(st->recs, acct_fini, st->pool);
    if (st->slot < 0) {
        int rc = st->slot;
        rs_destroy(st);
        return rc;
    }
    *state = st;
    return 0;
}

static const char *const rs_rules[] = {RS_RULE_DISTINCT, RS_RULE_PARALLEL, NULL};

const struct vigil_detector_ops vigil_det_resale = {
    .name = RS_NAME,
    .keys = rs_keys,
    .rules = rs_rules,
    .init = rs_init,
    .on_event = rs_on_event,
    .on_tick = rs_on_tick,
    .destroy = rs_destroy,
    .save = rs_save,
    .load = rs_load,
    .forget = rs_forget,
    .resweep = rs_resweep,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* toll_fraud.c - toll fraud: a hacked PBX or stolen credentials pumping outbound calls to
 * high-cost destinations (shared/spec/detection.md, "toll_fraud").
 *
 * Rules:
 *   toll_fraud.concurrent_high_risk  >= concurrent_high_risk (8) outbound calls to high-risk
 *       destinations open at the same time -> critical finding, block_international; a
 *       warning (alert only) first at concurrent_high_risk_warning (5). Each level fires once
 *       per episode and re-arms when the open count falls below the warning level, so the
 *       9th and 10th call of the same attack add nothing (emit.c also holds a standing order).
 *
 * Open calls are an event-time view per account: a call_start (dir out, to a high-risk
 * number, not an emergency number) opens the call under its call_id, once however often
 * the start is delivered; the call_end with that call_id closes it; a call open for
 * max_open_call_ms of event time (events.md: 24 h) is dropped, both when the account's own
 * events pass that age and at on_tick(watermark). The finding is judged at the start event
 * that reaches the threshold, so its event_ts is that call_start's ts.
 * - Up to TF_TRACKED_MAX (64) open calls per account are tracked by call_id; beyond that
 *   a call is counted but its id is not kept. An end whose call_id is not tracked then
 *   closes one untracked call (it may be one of them), and untracked calls all expire
 *   max_open_call_ms after the latest of them started. An account with 64 open high-risk
 *   calls was flagged long before, so the loss of precision is past the point that matters.
 * - A call_end without a known start does not change the open count. A high-risk one is
 *   remembered (up to TF_ORPHANS_MAX per account, until the watermark passes its end by
 *   TF_ORPHAN_GRACE_MS) so that its start, if it arrives late (events.md allows 60 s of
 *   disorder), does not open a call that has already ended.
 * - An end that arrives after a later start (disorder) is counted as open at that start:
 *   deciding at the event keeps detection immediate, and the error is one call for less
 *   than the disorder window.
 *
 * Counters, published at on_tick for accounts changed since the last tick (TTL
 * redis.counter_ttl_s), per tumbling hour of event time (the hour of the account's latest
 * event; a late event from the previous hour counts in the current one):
 *   open_high_risk (now), calls_out_1h (starts, plus unanswered attempts, plus high-risk ends
 *   without a start), high_risk_calls_1h (of those, to high-risk numbers), minutes_out_1h
 *   (answered seconds / 60, rounded down), spend_eur_cents_1h (the exporter's cost, else
 *   rate x duration). When the watermark enters a new hour, accounts left in an older hour
 *   publish zeros once and are dropped.
 *
 * State per worker, two account tables (acct_table.h):
 *   accts: every account with an outbound call in the current hour: struct tf_acct, 28
 *          bytes (a 32-byte slot; 112 bytes with the key, ~128 bytes with the index slot).
 *   hr:    accounts with a high-risk call open (or a remembered orphan end): struct tf_hr,
 *          1896 bytes (1984 with the key; 1 KB of it the 64 tracked calls, 720 bytes the 5
 *          sample event ids). Most accounts never have one; it is dropped when idle.
 * Call ids are kept as 64-bit hashes (acct_table's hash): two call ids of one account
 * colliding among its <= 64 open calls is a ~1e-16 event.
 *
 * Later rules, and where their state goes (not implemented yet):
 *   - >= 20 high-risk calls in 15 min: a 15-slot per-minute ring of uint16 counts in tf_hr
 *     (~36 bytes); tf_hr then stays while the ring is non-empty (hr_idle()).
 *   - spend > EUR 100 in the last hour: a 12 x 5-min ring of spend (EUR x 1e4) in tf_acct
 *     (~52 bytes), fed at call_end and, for calls still open, by rate x elapsed at tick.
 *   - sequential dialling (>= 10 numbers differing in the last 1-3 digits in 10 min): the
 *     current run in tf_acct: number without its last 3 digits as uint64, run start, count
 *     (~24 bytes).
 *   - slow attack (>= 30 calls or 90 min to high-risk in 24 h, no such history): 24 hourly
 *     {calls, minutes} uint16 pairs in tf_hr (96 bytes) and a long-lived "has high-risk
 *     history" set outside both tables; night/weekend and per-profile thresholds read the
 *     event's local time and the account's profile.
 *
 * Threading: one state per worker thread (detector.h): no locks, no atomics.
 * Ownership: init allocates the state and its tables; destroy frees them. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct_table.h"
#include "vigil/detector.h"
#include "vigil/numplan.h"
#include "vigil/status.h"

#define TF_NAME "toll_fraud"
#define TF_RULE_CONCURRENT "toll_fraud.concurrent_high_risk"
#define TF_TRACKED_MAX 64
#define TF_ORPHANS_MAX 8
#define TF_ORPHAN_GRACE_MS 600000LL /* keep an orphan end 10 min past the watermark */
#define TF_HOUR_MS 3600000LL
#define TF_WINDOW_MS 3600000LL /* order and alert ids hash floor(event_ts / 1 h) */

enum {
    TF_FIRED_WARNING = 1,
    TF_FIRED_CRITICAL = 2,
};

/* Every account with an outbound call in the current hour of event time. */
struct tf_acct {
    uint32_t hour;      /* event-time hour (ts / 1 h) the *_1h counters are for */
    uint32_t calls_out; /* outbound calls this hour */
    uint32_t hr_calls;  /* of which to high-risk destinations */
    uint32_t secs_out;  /* answered outbound seconds this hour */
    uint32_t spend_e4;  /* outbound spend this hour, EUR x 10^4 */
    uint32_t open_hr;   /* open high-risk calls now (tf_hr's count, kept for publishing) */
    bool has_hr;        /* the account has an entry in tf_state.hr */
    bool dirty;         /* listed in tf_state.dirty: publish at the next tick */
};

struct tf_call {
    uint64_t id; /* hash of call_id */
    int64_t start_ms;
};

struct tf_orphan {
    uint64_t id; /* hash of call_id of an end seen without its start */
    int64_t end_ms;
};

struct tf_sample {
    uint64_t id; /* hash of call_id */
    bool untracked;
    char event_id[VIGIL_ID_MAX + 1];
};

/* Accounts with high-risk calls open now. */
struct tf_hr {
    struct tf_call calls[TF_TRACKED_MAX];
    struct tf_orphan orphans[TF_ORPHANS_MAX];
    struct tf_sample samples[VIGIL_SAMPLES_MAX]; /* the latest high-risk call_starts */
    int64_t untracked_last_ms;                   /* latest start among untracked calls */
    uint32_t untracked;                          /* open calls past TF_TRACKED_MAX */
    uint8_t n_calls, n_orphans, n_samples, next_sample;
    uint8_t fired; /* TF_FIRED_* of the current episode */
};

struct tf_state {
    const struct vigil_numplan *np;
    int64_t crit;                   /* toll_fraud.concurrent_high_risk */
    int64_t warn;                   /* toll_fraud.concurrent_high_risk_warning; 0 = off */
    int64_t max_open_ms;            /* toll_fraud.max_open_call_ms */
    int64_t ttl_s;                  /* redis.counter_ttl_s */
    struct vigil_acct_table *accts; /* struct tf_acct */
    struct vigil_acct_table *hr;    /* struct tf_hr */
    /* Entry numbers in accts changed since the last tick. Valid because accts removes
     * entries only in on_tick, after publishing and emptying this list. */
    uint32_t *dirty;
    size_t n_dirty, cap_dirty;
    int64_t next_due; /* earliest event time at which something in hr expires */
    int64_t wm_hour;  /* hour of the last tick's watermark */
};

static const struct vigil_config_key tf_keys[] = {
    {"toll_fraud.concurrent_high_risk", VIGIL_CFG_INT, "8", 1, 100000,
     "outbound calls to high-risk destinations open at once that block international calls"},
    {"toll_fraud.concurrent_high_risk_warning", VIGIL_CFG_INT, "5", 0, 100000,
     "open high-risk calls that raise a warning alert first (0: no warning)"},
    {"toll_fraud.max_open_call_ms", VIGIL_CFG_INT, "86400000", 60000, 604800000,
     "event time after which a call_start without its call_end stops counting as open"},
    {0},
};

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

static uint32_t sat_add(uint32_t a, uint64_t b)
{
    return b >= UINT32_MAX - a ? UINT32_MAX : (uint32_t)(a + b);
}

static uint64_t call_hash(const struct vigil_event *ev)
{
    return vigil_acct_table_hash(ev->call_id, strlen(ev->call_id));
}

static uint32_t hr_open(const struct tf_hr *h)
{
    return h->n_calls + h->untracked;
}

static bool hr_idle(const struct tf_hr *h)
{
    return h->n_calls == 0 && h->untracked == 0 && h->n_orphans == 0;
}

static int hr_find_call(const struct tf_hr *h, uint64_t id)
{
    for (int i = 0; i < h->n_calls; i++) {
        if (h->calls[i].id == id)
            return i;
    }
    return -1;
}

/* Level at or above which a fired episode stays fired. */
static int64_t rearm_level(const struct tf_state *st)
{
    return st->warn > 0 ? st->warn : st->crit;
}

static void hr_after_close(const struct tf_state *st, struct tf_hr *h)
{
    if (hr_open(h) < rearm_level(st))
        h->fired = 0;
}

/* Drops calls open since `cutoff` or earlier; true if any went. */
static bool hr_expire_calls(struct tf_hr *h, int64_t cutoff)
{
    bool changed = false;
    for (int i = 0; i < h->n_calls;) {
        if (h->calls[i].start_ms <= cutoff) {
            h->calls[i] = h->calls[--h->n_calls];
            changed = true;
        } else {
            i++;
        }
    }
    if (h->untracked > 0 && h->untracked_last_ms <= cutoff) {
        h->untracked = 0;
        changed = true;
    }
    return changed;
}

/* Takes the orphan end of call `id`, if remembered. */
static bool hr_take_orphan(struct tf_hr *h, uint64_t id)
{
    for (int i = 0; i < h->n_orphans; i++) {
        if (h->orphans[i].id == id) {
            h->orphans[i] = h->orphans[--h->n_orphans];
            return true;
        }
    }
    return false;
}

static void hr_add_orphan(struct tf_hr *h, uint64_t id, int64_t end_ms)
{
    int slot = h->n_orphans;
    if (slot == TF_ORPHANS_MAX) {
        /* Full: the oldest end is the one whose start is least likely still to come. */
        slot = 0;
        for (int i = 1; i < TF_ORPHANS_MAX; i++) {
            if (h->orphans[i].end_ms < h->orphans[slot].end_ms)
                slot = i;
        }
    } else {
        h->n_orphans++;
    }
    h->orphans[slot] = (struct tf_orphan){.id = id, .end_ms = end_ms};
}

static void hr_add_sample(struct tf_hr *h, uint64_t id, bool untracked, const char *event_id)
{
    struct tf_sample *s = &h->samples[h->next_sample];
    s->id = id;
    s->untracked = untracked;
    snprintf(s->event_id, sizeof s->event_id, "%s", event_id);
    h->next_sample = (uint8_t)((h->next_sample + 1) % VIGIL_SAMPLES_MAX);
    if (h->n_samples < VIGIL_SAMPLES_MAX)
        h->n_samples++;
}

/* Earliest event time at which something in h expires. */
static int64_t hr_next_due(const struct tf_state *st, const struct tf_hr *h)
{
    int64_t due = INT64_MAX;
    for (int i = 0; i < h->n_calls; i++) {
        if (h->calls[i].start_ms + st->max_open_ms < due)
            due = h->calls[i].start_ms + st->max_open_ms;
    }
    if (h->untracked > 0 && h->untracked_last_ms + st->max_open_ms < due)
        due = h->untracked_last_ms + st->max_open_ms;
    for (int i = 0; i < h->n_orphans; i++) {
        if (h->orphans[i].end_ms + TF_ORPHAN_GRACE_MS < due)
            due = h->orphans[i].end_ms + TF_ORPHAN_GRACE_MS;
    }
    return due;
}

static int mark_dirty(struct tf_state *st, struct tf_acct *a)
{
    if (a->dirty)
        return 0;
    if (st->n_dirty == st->cap_dirty) {
        /* Amortised: at most one entry per account, so this stops growing. */
        size_t cap = st->cap_dirty * 2;
        uint32_t *d = realloc(st->dirty, cap * sizeof *d);
        if (!d)
            return VIGIL_ERR_NOMEM;
        st->dirty = d;
        st->cap_dirty = cap;
    }
    st->dirty[st->n_dirty++] = (uint32_t)vigil_acct_table_index(st->accts, a);
    a->dirty = true;
    return 0;
}

static void acct_zero(struct tf_acct *a)
{
    a->calls_out = a->hr_calls = a->secs_out = a->spend_e4 = 0;
}

static bool acct_counters_zero(const struct tf_acct *a)
{
    return a->calls_out == 0 && a->hr_calls == 0 && a->secs_out == 0 && a->spend_e4 == 0;
}

static struct tf_hr *hr_get(struct tf_state *st, struct tf_acct *a, const char *account)
{
    struct tf_hr *h = vigil_acct_table_get(st->hr, account, NULL);
    if (h)
        a->has_hr = true;
    return h;
}

static void hr_drop(struct tf_state *st, struct tf_acct *a, const char *account)
{
    vigil_acct_table_remove(st->hr, account);
    a->has_hr = false;
}

static int emit_concurrent(const struct tf_state *st, const struct tf_hr *h,
                           const struct vigil_event *ev, enum vigil_severity sev,
                           struct vigil_emit *out)
{
    uint32_t open = hr_open(h);
    int64_t threshold = sev == VIGIL_SEV_CRITICAL ? st->crit : st->warn;
    char reason[256];
    if (sev == VIGIL_SEV_CRITICAL)
        snprintf(reason, sizeof reason,
                 "%" PRIu32 " simultaneous outbound calls to high-risk destinations "
                 "(threshold %" PRId64 "): likely hacked PBX or stolen credentials",
                 open, threshold);
    else
        snprintf(reason, sizeof reason,
                 "%" PRIu32 " simultaneous outbound calls to high-risk destinations "
                 "(warning level %" PRId64 ", block at %" PRId64
                 "): possible hacked PBX or stolen credentials",
                 open, threshold, st->crit);

    struct vigil_finding f = {
        .detector = TF_NAME,
        .rule = TF_RULE_CONCURRENT,
        .severity = sev,
        .action = sev == VIGIL_SEV_CRITICAL ? VIGIL_ACT_BLOCK_INTERNATIONAL : VIGIL_ACT_NONE,
        .account = ev->account,
        .event_ts_ms = ev->ts_ms,
        .window_ms = TF_WINDOW_MS,
        .reason = reason,
        .evidence = {{"open_high_risk_calls", (double)open}, {"threshold", (double)threshold}},
        .n_evidence = 2,
    };
    /* The latest call_starts that are still open, oldest first. */
    for (int k = 0; k < h->n_samples; k++) {
        int i = (h->next_sample + VIGIL_SAMPLES_MAX - h->n_samples + k) % VIGIL_SAMPLES_MAX;
        const struct tf_sample *s = &h->samples[i];
        if (hr_find_call(h, s->id) >= 0 || (s->untracked && h->untracked > 0))
            f.samples[f.n_samples++] = s->event_id;
    }
    return vigil_emit_finding(out, &f);
}

static int check_concurrent(const struct tf_state *st, struct tf_hr *h,
                            const struct vigil_event *ev, struct vigil_emit *out)
{
    uint32_t open = hr_open(h);
    if (open >= st->crit) {
        if (h->fired & TF_FIRED_CRITICAL)
            return 0;
        h->fired |= TF_FIRED_CRITICAL | TF_FIRED_WARNING;
        return emit_concurrent(st, h, ev, VIGIL_SEV_CRITICAL, out);
    }
    if (st->warn > 0 && open >= st->warn && !(h->fired & TF_FIRED_WARNING)) {
        h->fired |= TF_FIRED_WARNING;
        return emit_concurrent(st, h, ev, VIGIL_SEV_WARNING, out);
    }
    return 0;
}

static int on_start(struct tf_state *st, struct tf_acct *a, const struct vigil_event *ev,
                    bool high_risk, struct vigil_emit *out)
{
    if (!high_risk) {
        a->calls_out = sat_add(a->calls_out, 1);
        return 0;
    }
    struct tf_hr *h = hr_get(st, a, ev->account);
    if (!h)
        return VIGIL_ERR_NOMEM;
    uint64_t id = call_hash(ev);
    if (hr_expire_calls(h, ev->ts_ms - st->max_open_ms))
        hr_after_close(st, h);
    /* Its end came first (disorder): the call was counted then and is over. A repeated
     * start of a call already open is the same call. */
    if (hr_take_orphan(h, id) || hr_find_call(h, id) >= 0) {
        a->open_hr = hr_open(h);
        if (hr_idle(h))
            hr_drop(st, a, ev->account);
        return 0;
    }
    a->calls_out = sat_add(a->calls_out, 1);
    a->hr_calls = sat_add(a->hr_calls, 1);
    bool untracked = h->n_calls == TF_TRACKED_MAX;
    if (untracked) {
        h->untracked++;
        if (ev->ts_ms > h->untracked_last_ms)
            h->untracked_last_ms = ev->ts_ms;
    } else {
        h->calls[h->n_calls++] = (struct tf_call){.id = id, .start_ms = ev->ts_ms};
    }
    if (ev->ts_ms + st->max_open_ms < st->next_due)
        st->next_due = ev->ts_ms + st->max_open_ms;
    hr_add_sample(h, id, untracked, ev->id);
    a->open_hr = hr_open(h);
    return check_concurrent(st, h, ev, out);
}

static int on_end(struct tf_state *st, struct tf_acct *a, const struct vigil_event *ev,
                  const struct vigil_numclass *nc, bool high_risk)
{
    if (!ev->answered) {
        /* An attempt that never connected: it has no start; it counts as a call, not as
         * minutes or spend. */
        a->calls_out = sat_add(a->calls_out, 1);
        if (high_risk)
            a->hr_calls = sat_add(a->hr_calls, 1);
        return 0;
    }
    uint64_t secs = ev->duration_s > 0 ? (uint64_t)ev->duration_s : 0;
    double cost = ev->has_cost ? ev->cost_eur : nc->rate_eur_min * (double)secs / 60.0;
    a->secs_out = sat_add(a->secs_out, secs);
    a->spend_e4 = sat_add(a->spend_e4, cost < 4e5 ? (uint64_t)(cost * 1e4 + 0.5) : UINT32_MAX);

    uint64_t id = call_hash(ev);
    if (a->has_hr) {
        struct tf_hr *h = vigil_acct_table_find(st->hr, ev->account);
        int i = h ? hr_find_call(h, id) : -1;
        if (i >= 0 || (high_risk && h && h->untracked > 0)) {
            if (i >= 0)
                h->calls[i] = h->calls[--h->n_calls];
            else
                h->untracked--; /* maybe one of the calls whose id we could not keep */
            hr_after_close(st, h);
            a->open_hr = hr_open(h);
            if (hr_idle(h))
                hr_drop(st, a, ev->account);
            return 0;
        }
    }
    if (!high_risk)
        return 0;
    /* An end without a start we know of: count the call from its own fields, and remember
     * it so a late start does not open it again. */
    a->calls_out = sat_add(a->calls_out, 1);
    a->hr_calls = sat_add(a->hr_calls, 1);
    struct tf_hr *h = hr_get(st, a, ev->account);
    if (!h)
        return VIGIL_ERR_NOMEM;
    hr_add_orphan(h, id, ev->ts_ms);
    if (ev->ts_ms + TF_ORPHAN_GRACE_MS < st->next_due)
        st->next_due = ev->ts_ms + TF_ORPHAN_GRACE_MS;
    return 0;
}

static int tf_on_event(void *state, const struct vigil_event *ev, struct vigil_emit *out)
{
    struct tf_state *st = state;
    if (ev->dir != VIGIL_DIR_OUT ||
        (ev->type != VIGIL_EV_CALL_START && ev->type != VIGIL_EV_CALL_END))
        return 0;

    struct vigil_numclass nc;
    vigil_numplan_classify(st->np, ev->to, &nc);
    /* 112 is never held against anyone, whatever an operator puts on the high-risk list. */
    bool high_risk = nc.high_risk && !nc.emergency;

    bool created;
    struct tf_acct *a = vigil_acct_table_get(st->accts, ev->account, &created);
    if (!a)
        return VIGIL_ERR_NOMEM;
    int64_t hour = floor_div(ev->ts_ms, TF_HOUR_MS);
    if (created || hour > (int64_t)a->hour) {
        acct_zero(a);
        a->hour = (uint32_t)hour;
    }
    if (mark_dirty(st, a) != 0)
        return VIGIL_ERR_NOMEM;

    if (ev->type == VIGIL_EV_CALL_START)
        return on_start(st, a, ev, high_risk, out);
    return on_end(st, a, ev, &nc, high_risk);
}

/* Expires open calls and orphan ends up to the watermark; drops idle high-risk states. */
static int sweep_hr(struct tf_state *st, int64_t watermark)
{
    int64_t due = INT64_MAX;
    for (size_t i = vigil_acct_table_count(st->hr); i-- > 0;) {
        const char *account;
        struct tf_hr *h = vigil_acct_table_at(st->hr, i, &account);
        struct tf_acct *a = vigil_acct_table_find(st->accts, account);
        bool changed = hr_expire_calls(h, watermark - st->max_open_ms);
        for (int k = 0; k < h->n_orphans;) {
            if (h->orphans[k].end_ms + TF_ORPHAN_GRACE_MS <= watermark)
                h->orphans[k] = h->orphans[--h->n_orphans];
            else
                k++;
        }
        if (changed)
            hr_after_close(st, h);
        if (a && changed) {
            a->open_hr = hr_open(h);
            if (mark_dirty(st, a) != 0)
                return VIGIL_ERR_NOMEM;
        }
        if (hr_idle(h)) {
            if (a)
                a->has_hr = false;
            vigil_acct_table_remove_at(st->hr, i);
            continue;
        }
        int64_t d = hr_next_due(st, h);
        if (d < due)
            due = d;
    }
    st->next_due = due;
    return 0;
}

/* The watermark entered hour wm_hour: accounts still in an older hour publish zeros. */
static int roll_hour(struct tf_state *st, int64_t wm_hour)
{
    for (size_t i = 0; i < vigil_acct_table_count(st->accts); i++) {
        struct tf_acct *a = vigil_acct_table_at(st->accts, i, NULL);
        if ((int64_t)a->hour < wm_hour && !acct_counters_zero(a)) {
            acct_zero(a);
            if (mark_dirty(st, a) != 0)
                return VIGIL_ERR_NOMEM;
        }
    }
    return 0;
}

static int publish(struct tf_state *st, struct vigil_emit *out)
{
    size_t done = 0;
    int rc = 0;
    for (; done < st->n_dirty; done++) {
        const char *account;
        struct tf_acct *a = vigil_acct_table_at(st->accts, st->dirty[done], &account);
        struct vigil_counter c[] = {
            {"open_high_risk", a->open_hr},
            {"calls_out_1h", a->calls_out},
            {"high_risk_calls_1h", a->hr_calls},
            {"minutes_out_1h", a->secs_out / 60},
            {"spend_eur_cents_1h", (a->spend_e4 + 50) / 100},
        };
        rc = vigil_emit_counters(out, account, TF_NAME, c, sizeof c / sizeof c[0], st->ttl_s);
        if (rc != 0)
            break;
        a->dirty = false;
    }
    /* After a sink failure the rest stays listed for the next tick. */
    memmove(st->dirty, st->dirty + done, (st->n_dirty - done) * sizeof *st->dirty);
    st->n_dirty -= done;
    return rc;
}

/* Drops accounts with nothing left to count or publish (after publish(), with an empty
 * dirty list, since removal renumbers entries). */
static void reap_accounts(struct tf_state *st, int64_t wm_hour)
{
    for (size_t i = vigil_acct_table_count(st->accts); i-- > 0;) {
        const struct tf_acct *a = vigil_acct_table_at(st->accts, i, NULL);
        if (!a->has_hr && !a->dirty && (int64_t)a->hour < wm_hour && acct_counters_zero(a))
            vigil_acct_table_remove_at(st->accts, i);
    }
}

static int tf_on_tick(void *state, int64_t watermark_ms, struct vigil_emit *out)
{
    struct tf_state *st = state;
    int64_t wm_hour = floor_div(watermark_ms, TF_HOUR_MS);
    bool rolled = wm_hour > st->wm_hour;
    int rc = 0;

    if (watermark_ms >= st->next_due || rolled)
        rc = sweep_hr(st, watermark_ms);
    if (rc == 0 && rolled)
        rc = roll_hour(st, wm_hour);
    if (rc == 0)
        rc = publish(st, out);
    if (rc != 0)
        return rc; /* a later tick redoes what is left: every step is idempotent */
    if (rolled) {
        reap_accounts(st, wm_hour);
        st->wm_hour = wm_hour;
    }
    return 0;
}

static void tf_destroy(void *state)
{
    struct tf_state *st = state;
    if (!st)
        return;
    vigil_acct_table_destroy(st->hr);
    vigil_acct_table_destroy(st->accts);
    free(st->dirty);
    free(st);
}

static int tf_init(void **state, const struct vigil_detector_env *env)
{
    *state = NULL;
    if (!env || !env->cfg || !env->numplan)
        return VIGIL_ERR_INVALID;
    struct tf_state *st = calloc(1, sizeof *st);
    if (!st)
        return VIGIL_ERR_NOMEM;
    st->np = env->numplan;
    st->crit = vigil_config_int(env->cfg, "toll_fraud.concurrent_high_risk");
    st->warn = vigil_config_int(env->cfg, "toll_fraud.concurrent_high_risk_warning");
    if (st->warn >= st->crit)
        st->warn = 0; /* a warning at or above the block level would never come first */
    st->max_open_ms = vigil_config_int(env->cfg, "toll_fraud.max_open_call_ms");
    st->ttl_s = vigil_config_int(env->cfg, "redis.counter_ttl_s");
    st->next_due = INT64_MAX;
    st->wm_hour = INT64_MIN;
    st->cap_dirty = 256;
    st->dirty = malloc(st->cap_dirty * sizeof *st->dirty);
    st->accts = vigil_acct_table_create(sizeof(struct tf_acct), 1024);
    st->hr = vigil_acct_table_create(sizeof(struct tf_hr), 16);
    if (!st->dirty || !st->accts || !st->hr)
        goto fail;
    *state = st;
    return 0;

fail:
    tf_destroy(st);
    return VIGIL_ERR_NOMEM;
}

const struct vigil_detector_ops vigil_det_toll_fraud = {
    .name = TF_NAME,
    .keys = tf_keys,
    .init = tf_init,
    .on_event = tf_on_event,
    .on_tick = tf_on_tick,
    .destroy = tf_destroy,
};

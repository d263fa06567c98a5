/* SPDX-License-Identifier: Apache-2.0 */
/* credit.c - the customer's credit limit and interim invoicing (the providers' terms:
 * service may be cut at the credit limit; the provider may invoice in between).
 *
 * Rules:
 *   credit.limit  the account's spend since the start of its current unbilled period reaches
 *       its credit limit -> critical, suspend; a warning first at warning_pct (80) % of it.
 *       Limits and period starts come from the billing system through the shared table of
 *       vigil/credit.h (vigild copies the Redis hash <prefix>credit into it every 2 s); an
 *       account without a limit is never judged. Spend is what toll_fraud counts: the
 *       exporter's `cost` at call_end, else the rate table's rate x the billed duration,
 *       booked at the call's end; outbound calls still open add rate x the time they have
 *       run since the period start, judged at every call end, once per minute of watermark
 *       and at once at the next tick after billing changed any limit. A level that open calls
 *       passed between two judgements is dated when it was passed (a search over the time
 *       since the last judgement: spend only grows while no call ends), so a backlog read in
 *       one go is ordered on time; a lowered limit is dated at the tick that saw it. Each level fires once per
 *       episode: it re-arms when spend falls below the warning level (a raised limit, a new
 *       period).
 *   credit.interim_invoice  the account's spend in one UTC day (closed and open calls)
 *       exceeds interim_multiple (5) times its usual daily spend and at least interim_min_eur
 *       (50) -> critical, interim_invoice, at most once per account and UTC day. Usual daily
 *       spend: the mean of the account's daily spend over the days before today that vigil
 *       has seen, up to 28 (from the day ring below), once interim_history_days (7) are
 *       known; days without calls count as 0; dated like credit.limit. With credit.interim_on_critical = 1 the same
 *       order is also asked by the emit layer for every critical toll_fraud or premium
 *       finding (emit.c); the discipline keeps one
 *       interim_invoice per account and UTC day, whichever asked first. An interim invoice is
 *       for billing: no block key, no flagged numbers (publisher.c, flagged.c).
 *
 * Period starts: the sum since the period start is kept as calls end. When billing moves an
 * account's period start, the sum is taken again from the day ring: days after the start's
 * UTC day count in full, and the start's own day counts in full too unless the start lies
 * after every call booked so far (then the sum is 0). Billing periods that start at midnight
 * UTC are therefore exact; a start in the middle of a day that is already behind counts that
 * whole day. Days older than the ring (CR_DAYS, 32) are not recounted.
 *
 * Counters, published once per minute of watermark for accounts with a limit whose values
 * changed: spend_period_cents (closed and open calls since the period start),
 * credit_limit_cents, spend_today_cents (the UTC day's, open calls included).
 *
 * State per worker: a pointer slot in the account records (acct_rec.h; 8 bytes of every
 * record); every account with outbound calls in the last 32 days or a call open has a struct
 * cr_acct, allocated at its first such event and freed when idle, 424 bytes: the ring of 32
 * daily spends (4 bytes each), up to CR_OPEN_MAX (8) open calls with their start and rate
 * (beyond, a call counts at its end only), sums and marks.
 *
 * Sweeps cost what can change, not what is held: a minute's sweep visits, in record order,
 * the accounts with an event since the last sweep or a call open (the slot's dirty list); an
 * account with neither would be judged on the same spend, limit and day as at its last visit,
 * to the same result, so only its judgement time moves, and that is brought up to date when
 * the account is next used (struct cr_acct.epoch). Every account is visited when the UTC day
 * of the watermark changes (spend today), when billing changed the limits table, and after a
 * load. Accounts go at the sweep whose watermark is 32 days past their latest event: a
 * min-heap of those times (16 bytes an entry, about one per account).
 *
 * Checkpoints (detector.h), in the shared encoding (state_codec.h): the version byte
 * (CR_SAVE_VERSION), the sums, times and days, the day ring, the fired bits and the open calls
 * (not the published counters: a loaded account publishes afresh); load checks every field's
 * range (acct_ok) and changes nothing unless all of it is valid.
 *
 * Threading: one state per worker thread (detector.h); the limits table is read lock-free.
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
#include "vigil/credit.h"
#include "vigil/detector.h"
#include "vigil/due_heap.h"
#include "vigil/episode.h"
#include "vigil/numplan.h"
#include "vigil/open_calls.h"
#include "vigil/state_codec.h"
#include "vigil/status.h"

#define CR_NAME "credit"
#define CR_RULE_LIMIT "credit.limit"
#define CR_RULE_INTERIM "credit.interim_invoice"
#define CR_MIN_MS 60000LL
#define CR_DAY_MS 86400000LL
#define CR_DAYS 32       /* daily spends kept: a month and a day */
#define CR_BASE_DAYS 28  /* days the usual daily spend is the mean of, at most */
#define CR_OPEN_MAX 8
#define CR_SAVE_VERSION 2 /* 2: the shared encoding (1 was struct cr_acct as in memory) */
#define CR_E4 10000.0 /* spend is kept in 1/10000 EUR */

enum {
    CR_FIRED_WARNING = 1,
    CR_FIRED_CRITICAL = 2,
};

struct cr_open {
    struct vigil_open_call c; /* hash of call_id, call_start's time */
    double rate;              /* EUR per minute, the rate table's */
};

struct cr_acct {
    int64_t last_ms;        /* latest event time of the account */
    int64_t booked_ms;      /* latest call end booked, INT64_MIN before the first */
    int64_t period_ms;      /* period start period_e4 counts from; INT64_MIN: none known */
    int64_t period_e4;      /* closed calls' spend since period_ms */
    int64_t limit_cents;    /* the limit last judged against; 0: none */
    int64_t judged_ms;      /* event time the account was last judged at; INT64_MIN: never */
    int64_t pub[3];         /* counters as last published */
    int32_t cur_day;        /* UTC day (ts / 1 day) of day[cur_day % CR_DAYS] */
    int32_t first_day;      /* the first UTC day the account was seen */
    int32_t interim_day;    /* UTC day of the last interim invoice asked; INT32_MIN: none */
    uint32_t day[CR_DAYS];  /* spend per UTC day, 1/10000 EUR (saturating) */
    struct cr_open open[CR_OPEN_MAX];
    int64_t gone_ms;        /* when it may go (last_ms + 32 days, or sooner), with an
                               entry in the state's heap */
    uint32_t epoch;         /* the state's sweeps counted when it was last brought up to date */
    uint8_t n_open;
    uint8_t fired; /* CR_FIRED_* of credit.limit */
    bool published;
};

/* An account a sweep visits, with its record number: visits go in record order, as a walk of
 * every account (vigil_recs_next) would make them. */
struct cr_visit {
    size_t num;
    void **home;
};

struct cr_state {
    const struct vigil_numplan *np;
    const struct vigil_credit *credit; /* NULL: no account has a limit */
    int64_t warn_pct;
    int64_t multiple; /* 0: the spend trigger of credit.interim_invoice is off */
    int64_t interim_min_e4;
    int64_t history_days;
    int64_t ttl_s;
    struct vigil_recs *recs;        /* slot `slot`: a pointer to struct cr_acct */
    struct vigil_recs *own_recs;    /* recs when the env gave none; NULL otherwise */
    int slot;
    struct vigil_pool *pool; /* the struct cr_acct parts */
    int64_t wm_min;                 /* minute of the last sweep's watermark */
    uint64_t version;               /* the limits table's version at the last sweep */
    /* A sweep visits only the accounts that can change: those with an event since the last
     * sweep or a call open (the slot's dirty list), all of them after a new UTC day, a
     * billing change or a load (full), and the heap's accounts whose time to go came. An
     * account a sweep left alone is brought up to date (judged_ms) when next used: epoch
     * counts the sweeps done, swept_ms is the latest one's watermark. */
    bool full;
    bool gone_lost;  /* a heap entry could not be added: the next sweep walks them all */
    uint32_t epoch;
    int64_t swept_ms;
    int32_t swept_day;
    /* The heap of accounts that may go: (when, the account's slot in the records). Entries
     * are not removed when an account goes or its time moves: one whose time is not its
     * account's gone_ms any more is skipped. */
    struct vigil_due_heap gone;
    struct cr_visit *visit;
    size_t n_visit, cap_visit;
};

static const struct vigil_config_key cr_keys[] = {
    {"credit.warning_pct", VIGIL_CFG_INT, "80", 1, 99,
     "Percentage of its credit limit an account's spend in the current period reaches for a "
     "warning alert (the order comes at 100 %)."},
    {"credit.interim_multiple", VIGIL_CFG_INT, "5", 0, 1000,
     "A day's spend above this many times the account's usual daily spend asks billing for an "
     "interim invoice (0: only critical toll_fraud and premium findings do)."},
    {"credit.interim_min_eur", VIGIL_CFG_INT, "50", 0, 100000000,
     "Spend in a day (EUR) below which no interim invoice is asked, however quiet the account "
     "usually is."},
    {"credit.interim_history_days", VIGIL_CFG_INT, "7", 1, CR_BASE_DAYS,
     "Days of an account's spend vigil must have seen before its usual daily spend is "
     "trusted for interim invoices."},
    /* On by default, as the providers' terms allow: every toll_fraud or premium order comes
     * with an interim_invoice order (once a day per account) for billing; provisioning and
     * the SIP proxy ignore that action. 0 leaves only the spend trigger. */
    {"credit.interim_on_critical", VIGIL_CFG_INT, "1", 0, 1,
     "1: every critical toll_fraud or premium finding also asks billing for an interim invoice "
     "(one per account and UTC day); 0: only the spend trigger does."},
    {0},
};

static uint64_t e4_of(double eur)
{
    if (!(eur > 0)) /* also NaN */
        return 0;
    double v = eur * CR_E4 + 0.5;
    return v >= 9e18 ? (uint64_t)9e18 : (uint64_t)v;
}

static uint64_t call_hash(const char *call_id)
{
    return vigil_acct_table_hash(call_id, strlen(call_id)) | 1;
}

/* --- the day ring ----------------------------------------------------------------------- */

static int32_t day_of(int64_t ts)
{
    return (int32_t)vigil_floor_div(ts, CR_DAY_MS);
}

/* The spend booked on UTC day d (0 outside the ring). */
static uint64_t day_get(const struct cr_acct *a, int32_t d)
{
    if (d > a->cur_day || d <= a->cur_day - CR_DAYS)
        return 0;
    return a->day[(uint32_t)d % CR_DAYS];
}

static void day_add(struct cr_acct *a, int32_t d, uint64_t e4)
{
    if (d > a->cur_day) {
        int32_t from = d - a->cur_day >= CR_DAYS ? d - CR_DAYS + 1 : a->cur_day + 1;
        for (int32_t k = from; k <= d; k++)
            a->day[(uint32_t)k % CR_DAYS] = 0;
        a->cur_day = d;
    }
    if (d <= a->cur_day - CR_DAYS)
        return; /* older than the ring */
    uint32_t *v = &a->day[(uint32_t)d % CR_DAYS];
    *v = *v + e4 >= UINT32_MAX ? UINT32_MAX : (uint32_t)(*v + e4);
}

/* --- open calls ------------------------------------------------------------------------- */

/* What the open calls have cost from `from` until `now`. */
static uint64_t open_e4(const struct cr_acct *a, int64_t from, int64_t now)
{
    double eur = 0;
    for (int i = 0; i < a->n_open; i++) {
        int64_t s = a->open[i].c.start_ms > from ? a->open[i].c.start_ms : from;
        if (now > s)
            eur += a->open[i].rate * (double)(now - s) / (double)CR_MIN_MS;
    }
    return e4_of(eur);
}

static void expire_open(struct cr_acct *a, int64_t now)
{
    vigil_open_expire(a->open, sizeof a->open[0], &a->n_open, now);
}

/* --- credit.limit ------------------------------------------------------------------------- */

/* The sum since a new period start, from the day ring (see the file comment). */
static int64_t period_from_days(const struct cr_acct *a, int64_t start)
{
    if (a->booked_ms == INT64_MIN || start > a->booked_ms)
        return 0;
    int32_t sd = day_of(start);
    int64_t sum = 0;
    for (int32_t d = a->cur_day - CR_DAYS + 1; d <= a->cur_day; d++) {
        if (d >= sd)
            sum += (int64_t)day_get(a, d);
    }
    return sum;
}

/* The account's limit now, with its period sum brought to the period start billing set.
 * False when it has none. */
static bool limit_sync(const struct cr_state *st, struct cr_acct *a, const char *account,
                       int64_t *limit_cents)
{
    int64_t start;
    if (!st->credit || !vigil_credit_get(st->credit, vigil_credit_hash(account), limit_cents,
                                         &start)) {
        a->limit_cents = 0;
        return false;
    }
    if (start != a->period_ms) {
        a->period_e4 = period_from_days(a, start);
        a->period_ms = start;
        a->fired = 0; /* a new period: a new episode */
    }
    a->limit_cents = *limit_cents;
    return true;
}

static int emit_limit(const struct cr_state *st, const struct cr_acct *a, const char *account,
                      int64_t spend_e4, int64_t limit_cents, int64_t now,
                      enum vigil_severity sev, struct vigil_emit *out)
{
    char reason[200];
    double spend = (double)spend_e4 / CR_E4, limit = (double)limit_cents / 100.0;
    snprintf(reason, sizeof reason,
             "Spend of EUR %.2f in the current billing period is %.0f %% of the credit limit of "
             "EUR %.2f.",
             spend, 100.0 * spend / limit, limit);
    struct vigil_finding f = {
        .detector = CR_NAME,
        .rule = CR_RULE_LIMIT,
        .severity = sev,
        .action = VIGIL_ACT_SUSPEND,
        .account = account,
        .event_ts_ms = now,
        .window_ms = CR_DAY_MS,
        .reason = reason,
        .evidence = {{"spend_period_eur", spend},
                     {"credit_limit_eur", limit},
                     {"percent_of_limit", floor(100.0 * spend / limit)},
                     {"threshold_warning_pct", (double)st->warn_pct},
                     {"period_start_ms", (double)a->period_ms}},
        .n_evidence = 5,
    };
    return vigil_emit_finding(out, &f);
}

static int64_t spend_at(const struct cr_acct *a, int64_t t)
{
    return a->period_e4 + (int64_t)open_e4(a, a->period_ms, t);
}

/* The moment open calls took spend(a, t) to `level` (1/10000 EUR), searched from `from` or
 * the time the account was last judged (when it was below), whichever is later, up to `now`
 * (when it is not): a level passed by calls still open is dated when it was passed, not at the
 * tick or call end that saw it, however far the watermark jumped (a backlog). Spend only grows
 * with time while no call is booked. */
static int64_t passed_at(const struct cr_acct *a, int64_t (*spend)(const struct cr_acct *, int64_t),
                         int64_t level, int64_t from, int64_t now)
{
    int64_t lo = a->judged_ms > from ? a->judged_ms : from;
    if (lo >= now || spend(a, lo) >= level)
        return now;
    int64_t hi = now;
    while (hi - lo > 1000) {
        int64_t mid = lo + (hi - lo) / 2;
        if (spend(a, mid) >= level)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

/* search: the level may have been passed by open calls before `now` (nothing was booked
 * since the last judgement); false right after a call end was booked at `now`. */
static int check_limit(const struct cr_state *st, struct cr_acct *a, const char *account,
                       int64_t now, bool search, struct vigil_emit *out)
{
    int64_t limit;
    if (!limit_sync(st, a, account, &limit))
        return 0;
    int64_t spend = spend_at(a, now);
    /* In 1/10000 EUR: the limit is in cents. */
    int64_t crit_level = limit * 100, warn_level = (limit * st->warn_pct + 99) / 100 * 100;
    bool crit = spend >= crit_level;
    bool warn = spend >= warn_level;
    /* credit.warning_pct is below 100: crit implies warn. */
    int sev = vigil_episode_level(&a->fired, warn, crit);
    if (sev == 0)
        return 0;
    int64_t at = search ? passed_at(a, spend_at, crit ? crit_level : warn_level, a->period_ms, now)
                        : now;
    return emit_limit(st, a, account, spend_at(a, at), limit, at, (enum vigil_severity)sev, out);
}

/* --- credit.interim_invoice (the spend trigger) --------------------------------------------- */

static uint64_t today_e4(const struct cr_acct *a, int64_t now)
{
    int32_t today = day_of(now);
    return day_get(a, today) + open_e4(a, (int64_t)today * CR_DAY_MS, now);
}

static int64_t today_at(const struct cr_acct *a, int64_t t)
{
    return (int64_t)today_e4(a, t);
}

/* search: as for check_limit. */
static int check_interim(const struct cr_state *st, struct cr_acct *a, const char *account,
                         int64_t now, bool search, struct vigil_emit *out)
{
    int32_t today = day_of(now);
    if (st->multiple <= 0 || a->interim_day == today)
        return 0;
    int64_t known = (int64_t)today - a->first_day; /* whole days seen before today */
    if (known < st->history_days)
        return 0;
    uint64_t spend = today_e4(a, now);
    if ((int64_t)spend < st->interim_min_e4)
        return 0;
    int64_t n = known < CR_BASE_DAYS ? known : CR_BASE_DAYS;
    uint64_t sum = 0;
    for (int64_t k = 1; k <= n; k++)
        sum += day_get(a, (int32_t)(today - k));
    double usual = (double)sum / (double)n;
    if ((double)spend <= (double)st->multiple * usual)
        return 0;
    a->interim_day = today;
    if (search) {
        /* The first 1/10000 EUR over both levels. */
        int64_t level = (int64_t)floor((double)st->multiple * usual) + 1;
        if (level < st->interim_min_e4)
            level = st->interim_min_e4;
        now = passed_at(a, today_at, level, (int64_t)today * CR_DAY_MS, now);
        spend = today_e4(a, now);
    }
    char reason[200];
    snprintf(reason, sizeof reason,
             "Spend of EUR %.2f today is more than %lld times the account's usual EUR %.2f a "
             "day: invoice in between.",
             (double)spend / CR_E4, (long long)st->multiple, usual / CR_E4);
    struct vigil_finding f = {
        .detector = CR_NAME,
        .rule = CR_RULE_INTERIM,
        .severity = VIGIL_SEV_CRITICAL,
        .action = VIGIL_ACT_INTERIM_INVOICE,
        .account = account,
        .event_ts_ms = now,
        .window_ms = CR_DAY_MS,
        .reason = reason,
        .evidence = {{"spend_today_eur", (double)spend / CR_E4},
                     {"usual_daily_eur", usual / CR_E4},
                     {"days_of_history", (double)n},
                     {"threshold_multiple", (double)st->multiple},
                     {"threshold_min_eur", (double)st->interim_min_e4 / CR_E4}},
        .n_evidence = 5,
    };
    return vigil_emit_finding(out, &f);
}

/* --- what a sweep visits --------------------------------------------------------------------- */

static bool grow(void **v, size_t *cap, size_t size)
{
    size_t n = *cap ? *cap * 2 : 256;
    void *p = realloc(*v, n * size);
    if (!p)
        return false;
    *v = p;
    *cap = n;
    return true;
}

/* The judgement time the sweeps since a was last brought up to date would have left it: each
 * judged it at its latest event or the watermark, whichever is later, and changed nothing
 * else of an account with no event and no call open (they only visit the others). */
static int64_t judged_now(const struct cr_state *st, const struct cr_acct *a)
{
    if (a->epoch == st->epoch)
        return a->judged_ms;
    int64_t j = a->last_ms > st->swept_ms ? a->last_ms : st->swept_ms;
    return j > a->judged_ms ? j : a->judged_ms;
}

static void catch_up(const struct cr_state *st, struct cr_acct *a)
{
    a->judged_ms = judged_now(st, a);
    a->epoch = st->epoch;
}

/* a may go at `ms`: an entry in the heap. */
static void gone_push(struct cr_state *st, struct cr_acct *a, void **home, int64_t ms)
{
    if (vigil_due_push(&st->gone, ms, home) != 0) {
        st->gone_lost = true;
        return;
    }
    a->gone_ms = ms;
}

static bool visit_add(struct cr_state *st, void **home)
{
    if (st->n_visit == st->cap_visit &&
        !grow((void **)&st->visit, &st->cap_visit, sizeof *st->visit))
        return false;
    st->visit[st->n_visit++] =
        (struct cr_visit){vigil_recs_number(st->recs, st->slot, home), home};
    return true;
}

static int cmp_visit(const void *x, const void *y)
{
    size_t a = ((const struct cr_visit *)x)->num, b = ((const struct cr_visit *)y)->num;
    return (a > b) - (a < b);
}

/* --- events --------------------------------------------------------------------------------- */

/* The part of slot s (a pointer to struct cr_acct), zeroed and allocated when `fresh`; NULL
 * (the slot released) when out of memory. */
static struct cr_acct *acct_take(struct cr_state *st, void **s, bool fresh)
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

/* ev's account's part, brought up to date and listed for the next sweep. */
static struct cr_acct *acct_get(struct cr_state *st, const struct vigil_event *ev)
{
    bool created;
    void **as = vigil_recs_slot(st->recs, st->slot, ev, &created);
    struct cr_acct *a = as ? acct_take(st, as, created) : NULL;
    if (!a)
        return NULL;
    if (created) {
        a->booked_ms = INT64_MIN;
        a->period_ms = INT64_MIN;
        a->judged_ms = INT64_MIN;
        a->cur_day = day_of(ev->ts_ms);
        a->first_day = a->cur_day;
        a->interim_day = INT32_MIN;
        a->last_ms = ev->ts_ms;
        a->epoch = st->epoch;
        gone_push(st, a, as, a->last_ms + CR_DAYS * CR_DAY_MS);
    } else {
        catch_up(st, a);
    }
    if (vigil_recs_mark(st->recs, st->slot, as) != 0)
        st->full = true; /* not listed: the next sweep visits every account */
    return a;
}

static int cr_on_event(void *state, const struct vigil_event *ev, struct vigil_emit *out)
{
    struct cr_state *st = state;
    if ((ev->type != VIGIL_EV_CALL_START && ev->type != VIGIL_EV_CALL_END) ||
        ev->dir != VIGIL_DIR_OUT)
        return 0;
    if (ev->type == VIGIL_EV_CALL_END && !ev->answered)
        return 0; /* an attempt costs nothing */
    struct vigil_numclass nc;
    vigil_numplan_classify(st->np, ev->to, &nc);
    if (nc.emergency)
        return 0;
    struct cr_acct *a = acct_get(st, ev);
    if (!a)
        return VIGIL_ERR_NOMEM;
    if (ev->ts_ms > a->last_ms)
        a->last_ms = ev->ts_ms;
    if (day_of(ev->ts_ms) < a->first_day)
        a->first_day = day_of(ev->ts_ms);
    uint64_t id = call_hash(ev->call_id);
    if (ev->type == VIGIL_EV_CALL_START) {
        struct vigil_open_call *c =
            vigil_open_start(a->open, sizeof a->open[0], &a->n_open, CR_OPEN_MAX, id, ev->ts_ms);
        if (c)
            ((struct cr_open *)(void *)c)->rate = nc.rate_eur_min;
        return 0;
    }
    size_t i = vigil_open_find(a->open, sizeof a->open[0], a->n_open, id);
    if (i < a->n_open) {
        /* First as the open call it was until now: a level it passed while open is dated
         * when it was passed. */
        int rc = check_limit(st, a, ev->account, ev->ts_ms, true, out);
        rc = rc ? rc : check_interim(st, a, ev->account, ev->ts_ms, true, out);
        if (rc != 0)
            return rc;
        vigil_open_remove_at(a->open, sizeof a->open[0], &a->n_open, i);
    }
    double secs = ev->duration_s > 0 ? (double)ev->duration_s : 0;
    uint64_t e4 = e4_of(ev->has_cost ? ev->cost_eur : nc.rate_eur_min * secs / 60.0);
    day_add(a, day_of(ev->ts_ms), e4);
    if (a->booked_ms == INT64_MIN || ev->ts_ms > a->booked_ms)
        a->booked_ms = ev->ts_ms;
    if (a->period_ms != INT64_MIN && ev->ts_ms >= a->period_ms)
        a->period_e4 += (int64_t)e4;
    int rc = check_limit(st, a, ev->account, ev->ts_ms, false, out);
    rc = rc ? rc : check_interim(st, a, ev->account, ev->ts_ms, false, out);
    if (ev->ts_ms > a->judged_ms)
        a->judged_ms = ev->ts_ms;
    return rc;
}

/* --- ticks ---------------------------------------------------------------------------------- */

static int publish_one(const struct cr_state *st, struct cr_acct *a, const char *account,
                       int64_t now, struct vigil_emit *out)
{
    if (a->limit_cents <= 0)
        return 0; /* only accounts billing gave a limit: the others' spend is toll_fraud's */
    int64_t v[3] = {0, a->limit_cents, 0};
    v[0] = (a->period_e4 + (int64_t)open_e4(a, a->period_ms, now)) / 100;
    v[2] = (int64_t)today_e4(a, now) / 100;
    if (a->published && memcmp(v, a->pub, sizeof v) == 0)
        return 0;
    struct vigil_counter c[] = {
        {"spend_period_cents", v[0]},
        {"credit_limit_cents", v[1]},
        {"spend_today_cents", v[2]},
    };
    int rc = vigil_emit_counters(out, account, CR_NAME, c, sizeof c / sizeof c[0], st->ttl_s);
    if (rc != 0)
        return rc;
    memcpy(a->pub, v, sizeof v);
    a->published = true;
    return 0;
}

/* Judges and publishes one account at the watermark wm. */
static int visit(struct cr_state *st, void **as, int64_t wm, struct vigil_emit *out)
{
    const char *account = vigil_recs_account(st->recs, st->slot, as);
    struct cr_acct *a = *as;
    catch_up(st, a);
    expire_open(a, wm);
    /* Judged at the watermark, or at the account's own latest event if that is later. */
    int64_t now = a->last_ms > wm ? a->last_ms : wm;
    int rc = check_limit(st, a, account, now, true, out);
    rc = rc ? rc : check_interim(st, a, account, now, true, out);
    if (rc == 0 && now > a->judged_ms)
        a->judged_ms = now;
    a->epoch = st->epoch + 1; /* up to date with this sweep once it is done */
    return rc ? rc : publish_one(st, a, account, now, out);
}

/* Frees the accounts with nothing left in the day ring and nothing open, in record order:
 * those whose time in the heap came (every account after a lost entry). */
static void remove_idle(struct cr_state *st, int64_t wm)
{
    int64_t cut = wm - CR_DAYS * CR_DAY_MS;
    void **as;
    if (st->gone_lost) {
        st->gone_lost = false;
        st->gone.n = 0;
        for (size_t it = 0; (as = vigil_recs_next(st->recs, st->slot, &it));) {
            struct cr_acct *a = *as;
            if (a->n_open == 0 && a->last_ms <= cut) {
                vigil_pool_free(st->pool, a);
                vigil_recs_release(st->recs, st->slot, as);
            } else {
                gone_push(st, a, as, a->last_ms + CR_DAYS * CR_DAY_MS);
            }
        }
        return;
    }
    st->n_visit = 0;
    while (vigil_due_ready(&st->gone, wm)) {
        struct vigil_due e = vigil_due_pop(&st->gone);
        void **home = e.item;
        struct cr_acct *a = *home;
        if (!a || a->gone_ms != e.at)
            continue; /* gone already, or a later entry stands for it */
        if (!visit_add(st, home)) {
            gone_push(st, a, home, e.at); /* never fails: the entry just left */
            st->gone_lost = true;
            return;
        }
        a->gone_ms = INT64_MIN;
    }
    if (st->n_visit > 1) /* qsort's array may not be NULL, which an empty list's is */
        qsort(st->visit, st->n_visit, sizeof *st->visit, cmp_visit);
    for (size_t i = 0; i < st->n_visit; i++) {
        as = st->visit[i].home;
        struct cr_acct *a = *as;
        if (a->n_open == 0 && a->last_ms <= cut) {
            vigil_pool_free(st->pool, a);
            vigil_recs_release(st->recs, st->slot, as);
        } else {
            /* A call open: asked again in a minute (while open it is visited anyway). */
            int64_t at = a->n_open ? wm + CR_MIN_MS : a->last_ms + CR_DAYS * CR_DAY_MS;
            gone_push(st, a, as, at);
        }
    }
}

static int sweep(struct cr_state *st, int64_t wm, bool full, struct vigil_emit *out)
{
    void **as;
    st->n_visit = 0;
    if (full) {
        for (size_t it = 0; (as = vigil_recs_next(st->recs, st->slot, &it));) {
            int rc = visit(st, as, wm, out);
            if (rc != 0)
                return rc;
        }
    } else {
        size_t n = vigil_recs_dirty_count(st->recs, st->slot);
        for (size_t i = 0; i < n; i++) {
            if (!visit_add(st, vigil_recs_dirty_at(st->recs, st->slot, i))) {
                st->full = true; /* the next tick visits every account */
                return VIGIL_ERR_NOMEM;
            }
        }
        if (st->n_visit > 1) /* qsort's array may not be NULL, which an empty list's is */
            qsort(st->visit, st->n_visit, sizeof *st->visit, cmp_visit);
        for (size_t i = 0; i < st->n_visit; i++) {
            int rc = visit(st, st->visit[i].home, wm, out);
            if (rc != 0)
                return rc; /* the list stays: the next tick visits it again */
        }
    }
    vigil_recs_dirty_consume(st->recs, st->slot, vigil_recs_dirty_count(st->recs, st->slot));
    /* Calls still open: their spend grows, so the next sweep visits them again. Only a
     * visited account can have one (an event or a load listed it). */
    size_t it = 0, i = 0;
    for (;;) {
        as = full ? vigil_recs_next(st->recs, st->slot, &it)
                  : (i < st->n_visit ? st->visit[i++].home : NULL);
        if (!as)
            break;
        const struct cr_acct *a = *as;
        if (a->n_open > 0 && vigil_recs_mark(st->recs, st->slot, as) != 0)
            st->full = true;
    }
    st->epoch++;
    st->swept_ms = wm > st->swept_ms ? wm : st->swept_ms;
    st->swept_day = day_of(wm);
    remove_idle(st, wm);
    return 0;
}

static int cr_on_tick(void *state, int64_t watermark_ms, struct vigil_emit *out)
{
    struct cr_state *st = state;
    if (watermark_ms == INT64_MIN)
        return 0;
    int64_t wm_min = vigil_floor_div(watermark_ms, CR_MIN_MS);
    uint64_t version = vigil_credit_version(st->credit);
    if (wm_min <= st->wm_min && version == st->version)
        return 0;
    /* A new UTC day changes every account's spend today; new limits or period starts
     * change any account's judgement. */
    bool full = st->full || version != st->version || st->wm_min == INT64_MIN ||
                day_of(watermark_ms) != st->swept_day;
    st->full = false;
    int rc = sweep(st, watermark_ms, full, out);
    if (rc != 0) {
        st->full = st->full || full;
        return rc; /* the next tick sweeps again */
    }
    if (wm_min > st->wm_min)
        st->wm_min = wm_min;
    st->version = version;
    return 0;
}

/* --- checkpoints ---------------------------------------------------------------------------- */

static int cr_save(void *state, const char *account, struct vigil_bytes *out)
{
    const struct cr_state *st = state;
    void *const *as = vigil_recs_find(st->recs, st->slot, account);
    if (!as)
        return 0;
    const struct cr_acct *a = *as;
    struct vigil_state_writer w;
    vigil_state_write_begin(&w, out, CR_SAVE_VERSION);
    vigil_state_put_i64(&w, a->last_ms);
    vigil_state_put_i64(&w, a->booked_ms);
    vigil_state_put_i64(&w, a->period_ms);
    vigil_state_put_i64(&w, a->period_e4);
    vigil_state_put_i64(&w, a->limit_cents);
    vigil_state_put_i64(&w, judged_now(st, a));
    vigil_state_put_i32(&w, a->cur_day);
    vigil_state_put_i32(&w, a->first_day);
    vigil_state_put_i32(&w, a->interim_day);
    for (int i = 0; i < CR_DAYS; i++)
        vigil_state_put_u32(&w, a->day[i]);
    vigil_state_put_u8(&w, a->fired);
    vigil_state_put_u8(&w, a->n_open);
    for (int i = 0; i < a->n_open; i++) {
        vigil_state_put_u64(&w, a->open[i].c.id);
        vigil_state_put_i64(&w, a->open[i].c.start_ms);
        vigil_state_put_f64(&w, a->open[i].rate);
    }
    return vigil_state_write_end(&w);
}

static bool day_ok(int32_t d)
{
    return d >= VIGIL_TS_MIN_MS / CR_DAY_MS && d <= VIGIL_SAVED_TS_MAX / CR_DAY_MS;
}

static bool acct_ok(const struct cr_acct *a)
{
    if (a->n_open > CR_OPEN_MAX || !vigil_episode_ok(a->fired) ||
        !vigil_saved_time_ok(a->last_ms) || !day_ok(a->cur_day) || !day_ok(a->first_day) ||
        a->first_day > a->cur_day ||
        (a->booked_ms != INT64_MIN && !vigil_saved_time_ok(a->booked_ms)) ||
        (a->period_ms != INT64_MIN && !vigil_saved_time_ok(a->period_ms)) ||
        (a->judged_ms != INT64_MIN && !vigil_saved_time_ok(a->judged_ms)) ||
        a->period_e4 < 0 || a->period_e4 > (1LL << 60) || a->limit_cents < 0 ||
        (a->interim_day != INT32_MIN && !day_ok(a->interim_day)))
        return false;
    for (int i = 0; i < a->n_open; i++) {
        if (!vigil_saved_time_ok(a->open[i].c.start_ms) || !(a->open[i].rate >= 0) ||
            a->open[i].rate > 1e6)
            return false;
    }
    return true;
}

static int cr_load(void *state, const char *account, const void *data, size_t len)
{
    struct cr_state *st = state;
    struct vigil_bytes_reader r;
    struct cr_acct c = {0};
    vigil_state_read_begin(&r, data, len, CR_SAVE_VERSION);
    c.last_ms = vigil_state_get_i64(&r);
    c.booked_ms = vigil_state_get_i64(&r);
    c.period_ms = vigil_state_get_i64(&r);
    c.period_e4 = vigil_state_get_i64(&r);
    c.limit_cents = vigil_state_get_i64(&r);
    c.judged_ms = vigil_state_get_i64(&r);
    c.cur_day = vigil_state_get_i32(&r);
    c.first_day = vigil_state_get_i32(&r);
    c.interim_day = vigil_state_get_i32(&r);
    for (int i = 0; i < CR_DAYS; i++)
        c.day[i] = vigil_state_get_u32(&r);
    c.fired = vigil_state_get_u8(&r);
    c.n_open = vigil_state_get_count8(&r, CR_OPEN_MAX);
    for (int i = 0; i < c.n_open; i++) {
        c.open[i].c.id = vigil_state_get_u64(&r);
        c.open[i].c.start_ms = vigil_state_get_i64(&r);
        c.open[i].rate = vigil_state_get_f64(&r);
        /* One entry per call: a second would accrue twice and never end. */
        vigil_state_check(&r, vigil_open_find(c.open, sizeof c.open[0], (size_t)i,
                                              c.open[i].c.id) == (size_t)i);
    }
    vigil_state_check(&r, acct_ok(&c));
    if (vigil_state_read_end(&r) != 0 || !vigil_acct_key_ok(account))
        return VIGIL_ERR_INVALID;
    bool fresh;
    void **as = vigil_recs_slot_of(st->recs, st->slot, account, &fresh);
    struct cr_acct *a = as ? acct_take(st, as, fresh) : NULL;
    if (!a)
        return VIGIL_ERR_NOMEM;
    *a = c;
    a->published = false;
    a->epoch = st->epoch;
    gone_push(st, a, as, a->last_ms + CR_DAYS * CR_DAY_MS);
    if (vigil_recs_mark(st->recs, st->slot, as) != 0)
        st->full = true;
    return 0;
}

static void cr_forget(void *state, const char *account)
{
    struct cr_state *st = state;
    vigil_recs_forget(st->recs, st->slot, account);
}

/* The next tick sweeps every account, whatever the minute. */
static void cr_resweep(void *state)
{
    struct cr_state *st = state;
    st->wm_min = INT64_MIN;
    st->full = true;
}

static void cr_destroy(void *state)
{
    struct cr_state *st = state;
    if (!st)
        return;
    vigil_recs_destroy(st->own_recs);
    vigil_pool_destroy(st->pool);
    vigil_due_fini(&st->gone);
    free(st->visit);
    free(st);
}

static int cr_init(void **state, const struct vigil_detector_env *env)
{
    *state = NULL;
    if (!env || !env->cfg || !env->numplan)
        return VIGIL_ERR_INVALID;
    struct cr_state *st = calloc(1, sizeof *st);
    if (!st)
        return VIGIL_ERR_NOMEM;
    const struct vigil_config *cfg = env->cfg;
    st->np = env->numplan;
    st->credit = env->credit;
    st->warn_pct = vigil_config_int(cfg, "credit.warning_pct");
    st->multiple = vigil_config_int(cfg, "credit.interim_multiple");
    st->interim_min_e4 = vigil_config_int(cfg, "credit.interim_min_eur") * (int64_t)CR_E4;
    st->history_days = vigil_config_int(cfg, "credit.interim_history_days");
    st->ttl_s = vigil_config_int(cfg, "redis.counter_ttl_s");
    st->wm_min = INT64_MIN;
    st->swept_ms = INT64_MIN;
    st->full = true;
    st->version = vigil_credit_version(st->credit);
    st->recs = env->recs ? env->recs : (st->own_recs = vigil_recs_create(64));
    st->pool = vigil_pool_create(sizeof(struct cr_acct));
    if (!st->recs || !st->pool) {
        cr_destroy(st);
        return VIGIL_ERR_NOMEM;
    }
    st->slot = vigil_recs_declare_part(st->recs, acct_fini, st->pool);
    if (st->slot < 0) {
        int rc = st->slot;
        cr_destroy(st);
        return rc;
    }
    *state = st;
    return 0;
}

static const char *const cr_rules[] = {CR_RULE_LIMIT, CR_RULE_INTERIM, NULL};

const struct vigil_detector_ops vigil_det_credit = {
    .name = CR_NAME,
    .keys = cr_keys,
    .rules = cr_rules,
    .init = cr_init,
    .on_event = cr_on_event,
    .on_tick = cr_on_tick,
    .destroy = cr_destroy,
    .save = cr_save,
    .load = cr_load,
    .forget = cr_forget,
    .resweep = cr_resweep,
};

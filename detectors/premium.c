/* SPDX-License-Identifier: Apache-2.0 */
/* premium.c - premium-rate number abuse: outbound calls to premium numbers, and inbound
 * traffic pumping to a customer's own service number (shared/spec/detection.md, "premium").
 *
 * Rules (thresholds per account profile, profile.h). Every window is exactly the hour
 * [t - 1 h, t] ending at the event or moment t being judged, both ends included, at
 * millisecond event time (window.h): calls are counted from the times of the latest
 * PM_OUT_EXACT (32) outbound calls and PM_IN_EXACT (128) inbound calls of each service number,
 * grown in the worker's store (window.h) while more lie within reach, up to the highest level
 * configured, so every level is exact, service_popular's 1000 too (per-minute buckets of 60 to
 * 61 minutes add what the times no longer hold only in the hour after a restore); callers by
 * the millisecond each last called; minutes as below. An inbound call that arrives late (up to
 * the 60 s of disorder events.md allows) is also judged on the hour ending at the newest call
 * of its service number, which it may complete (dated at the late call).
 *   premium.outbound  >= out_calls_1h (20) calls or >= out_minutes_1h (60) minutes to
 *       premium-rate numbers (numplan's premium flag: +31900/906/909, +979 IPRS) within one
 *       hour -> critical, block_premium; a warning first at out_calls_1h_warning (10) calls
 *       or out_minutes_1h_warning (30) minutes. A call counts at its call_start (once per
 *       call_id however often it is delivered), or at its call_end when no start was seen; an
 *       unanswered attempt counts as a call, never as minutes. Minutes are the answered
 *       seconds that fall inside the hour (a finished call ran evenly over [end - duration,
 *       end]: the latest PM_SPANS (16) closed calls are kept whole and count their part inside,
 *       older ones still within reach too, from the worker's store (window.h); only in the
 *       hour after a restore do those count from the minutes wholly inside) plus the elapsed
 *       time inside the hour
 *       of premium calls still open, judged at every
 *       event, at every minute of watermark, and at the tick whose watermark passes the moment
 *       the open calls reach the next level: one 61-minute call to 0906 trips the rule when it
 *       has been open 60 minutes, before it ends. A finding found by the watermark is dated
 *       at that moment (start + 60 min for the single call), not at the tick.
 *   premium.inbound_pumping  >= inbound_calls_1h (100) inbound calls within one hour to one
 *       service number of the account (dir in, `to` a premium-rate number the account owns)
 *       from >= inbound_callers_1h (30) distinct callers -> critical, withhold_payout; a
 *       warning first when both reach a third of their thresholds. Pumping pays per minute
 *       for artificial calls, so a burst from many callers is the signal; the share of short
 *       calls (< short_call_s) goes into the evidence, not into the decision, because pumps
 *       also use long calls (the simulator's run 2 to 8 minutes).
 *       The profile service_popular (a popular helpdesk) must be left alone: its calls
 *       threshold is the per-profile default inbound_calls_1h@service_popular (1000, config.h)
 *       unless an operator sets that key. (A config naming the former key
 *       inbound_calls_1h_popular is refused with this spelling in the message, config.c.)
 *   premium.inbound_flagged_callers  >= inbound_flagged_callers (2) distinct callers within
 *       one hour to one service number whose numbers belong to flagged accounts -> critical,
 *       withhold_payout; a warning at the first one (the spec's "or callers that are
 *       themselves flagged accounts": pumping through hacked PBXs and stolen accounts, which
 *       vigil has blocked for toll fraud, spam or abuse). A caller is flagged when its number
 *       is in the process-wide set of flagged accounts' numbers (vigil/flagged.h, from
 *       vigil_detector_env; none when NULL) at the time the call is processed: a caller
 *       flagged after its call counts from its next call (or call end) within the hour; one
 *       whose flag has run out stops counting at its next call. 0 turns the rule off. The two
 *       rules share one order: emit.c issues one withhold_payout per account while it stands.
 *
 * Each level fires once per episode: a rule re-arms when its counts fall below the warning
 * levels, so the 21st call of the same hour adds nothing (emit.c also holds a standing order
 * and cools alerts down).
 *
 * Counters, published at on_tick for accounts whose values changed (TTL
 * redis.counter_ttl_s), over the sliding hour ending at max(account's latest event,
 * watermark): premium_calls_1h, premium_minutes_1h (closed and open, rounded down),
 * inbound_calls_1h and inbound_callers_1h (of the busiest tracked service number).
 *
 * State per worker: a pointer in the account records (acct_rec.h; 8 bytes of every record).
 * An account with premium activity in the last hour or a premium call open has a struct
 * pm_acct, allocated at its first premium event and freed once it is idle, 7880 bytes:
 * 1.3 KB the two sample rings of event ids, 4.6 KB the two service numbers (1 KB of call
 * times, 1 KB of caller set and 256 of minute ring each), 1.3 KB the outbound minute rings,
 * call times and closed calls, the rest open calls and seen call ids. Accounts without
 * premium traffic have only the pointer, and only in a record another detector keeps. Two stores
 * (window.h) hold what the few busier keys keep past that: call times past 32 per account and 128
 * per service number (8 bytes each, up to the profile's level) and closed calls past 16 within
 * reach (16 bytes each), freed once the arrays hold all within reach again. Bounds:
 * PM_OPEN_MAX (16) open premium calls tracked with their start (beyond, a call counts at its start
 * and its minutes at its end); PM_SEEN_MAX (32) recent call ids per direction for de-duplication;
 * PM_SVC_MAX (2) service numbers per account (a third replaces the quieter one); PM_CALLERS_MAX
 * (64) distinct callers per service number (so inbound_callers_1h is at most 64). Open calls stop
 * counting after 24 h of event time (events.md). Call ids and callers are kept as 64-bit
 * hashes.
 *
 * Checkpoints (detector.h), in the shared encoding (state_codec.h): the version byte
 * (PM_SAVE_VERSION), then every field of struct pm_acct but the process-internal ones
 * (dirty, published, pub[], the profile and the key of grown rings), little-endian, and of
 * the open calls only those there are; nothing for an account not held. load reads into a
 * scratch account, accepts it only when every count is inside its array, every string
 * terminated and every time in range (acct_ok) and no byte is left over, and re-derives the
 * profile, the key and the timer. Any change to the fields or their meaning bumps the
 * version. Version 2 added the flagged mark (bit 0 of pm_caller.h, always 0 before) and the
 * flagged rule's fired bits; version 3 the exact windows (call times, closed calls, callers
 * to the millisecond), version 4 the account's key of grown rings, version 5 the shared
 * encoding (4 was struct pm_acct as it lay in memory): older states are refused (the account
 * starts afresh). Grown rings and calls kept past spans[] are not saved
 * (window.h: the hour after a restore falls back on the minute buckets).
 *
 * Threading: one state per worker thread (detector.h): no locks, no atomics.
 * Ownership: init allocates the state and its table; destroy frees them. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/acct_rec.h"
#include "vigil/acct_table.h"
#include "vigil/detector.h"
#include "vigil/episode.h"
#include "vigil/flagged.h"
#include "vigil/numplan.h"
#include "vigil/open_calls.h"
#include "vigil/privacy.h"
#include "vigil/profile.h"
#include "vigil/state_codec.h"
#include "vigil/status.h"
#include "vigil/text.h"
#include "vigil/window.h"

#define PM_NAME "premium"
#define PM_RULE_OUT "premium.outbound"
#define PM_RULE_PUMP "premium.inbound_pumping"
#define PM_RULE_FLAGGED "premium.inbound_flagged_callers"
#define PM_MIN_MS 60000LL
#define PM_HOUR_MS 3600000LL
#define PM_WIN_MIN 60 /* the window is the current minute and the 60 before it */
#define PM_RING 64    /* minutes kept: more than the window, a power of two */
#define PM_OPEN_MAX 16
#define PM_SEEN_MAX 32
#define PM_SVC_MAX 2
#define PM_CALLERS_MAX 64
#define PM_MAX_OPEN_MS 86400000LL /* events.md: a start without an end is open for 24 h */
#define PM_SAVE_VERSION 5         /* 5: the shared encoding; 3: exact hours */
#define PM_OUT_EXACT 32           /* outbound premium call times kept: exact up to this level */
#define PM_IN_EXACT 128           /* inbound call times kept per service number */
#define PM_SPANS 16               /* closed outbound calls kept whole */
/* Event times a loaded state may hold: from events.md's earliest time until minutes stop
 * fitting pm_caller.min's 32 bits (the year 6000), so no arithmetic on them overflows. */
#define PM_TS_MAX_MS ((int64_t)INT32_MAX * PM_MIN_MS)

enum {
    PM_FIRED_WARNING = 1,
    PM_FIRED_CRITICAL = 2,
    /* pm_svc.fired only: the flagged-callers rule, next to the pumping rule's bits. */
    PM_FIRED_FLAGGED_WARNING = 4,
    PM_FIRED_FLAGGED_CRITICAL = 8,
};

/* pm_caller.h bit 0 (str_hash leaves it clear): the caller's number was flagged when it
 * called. */
#define PM_CALLER_FLAGGED 1ULL

/* Seen call ids: the hash with bit 0 replaced by "its end was seen". */
#define PM_SEEN_ENDED 1ULL

/* Two counts per minute over the last PM_RING minutes of event time. */
struct pm_ring {
    int64_t cur; /* the latest minute (ts / 1 min) added to */
    uint16_t a[PM_RING];
    uint16_t b[PM_RING];
};

struct pm_samples {
    char id[VIGIL_SAMPLES_MAX][VIGIL_ID_MAX + 1];
    uint8_t n, next;
};

struct pm_caller {
    uint64_t h;  /* hash of the caller's number | PM_CALLER_FLAGGED; 0 = empty. 64 bits: two
                  * distinct callers of one number never fold into one (~1e-17) */
    int32_t min; /* minute (ts / 1 min) last seen: fits 32 bits until the year 6000 */
    uint16_t ms; /* and the millisecond in it */
};

/* A closed outbound call's answered time. */
struct pm_span {
    int64_t end_ms;
    int64_t dur_ms;
};

/* One service number of an account. */
struct pm_svc {
    char to[VIGIL_NUMBER_MAX + 2]; /* "" = free slot */
    struct pm_ring ring;           /* a: calls, b: short answered calls */
    int64_t in_ts[PM_IN_EXACT];    /* the latest calls' times, sorted (window.h) */
    uint16_t n_in_ts;
    struct pm_caller callers[PM_CALLERS_MAX];
    uint8_t fired; /* PM_FIRED_* of both inbound rules */
};

struct pm_acct {
    int64_t last_ms;              /* latest event time of the account */
    int64_t eval_ms;              /* event time up to which premium.outbound was judged */
    int64_t due;                  /* when open calls reach the next level (out_due), or INT64_MAX */
    struct pm_ring out;           /* a: premium calls, b: answered seconds (counters' fallback) */
    struct pm_ring old;           /* b: answered seconds of closed calls pushed out of spans[] */
    int64_t out_ts[PM_OUT_EXACT]; /* the latest premium calls' times, sorted (window.h) */
    struct pm_span spans[PM_SPANS]; /* the latest closed calls, kept whole */
    uint64_t key; /* the account's hash (keys of its grown rings, window.h); set at load */
    uint16_t n_out_ts;
    uint8_t n_spans;
    struct vigil_open_call open[PM_OPEN_MAX];
    uint64_t seen_out[PM_SEEN_MAX]; /* ended, or started but not in open[] */
    uint64_t seen_in[PM_SEEN_MAX];
    struct pm_svc svc[PM_SVC_MAX];
    struct pm_samples smp_out, smp_in;
    uint32_t pub[4]; /* counters as last published */
    uint8_t n_open, next_seen_out, next_seen_in;
    uint8_t profile;
    uint8_t fired_out;
    bool published;       /* pub[] holds what went out */
    bool dirty;           /* on the records' dirty list of our slot */
    struct pm_slot *home; /* our slot in the account records */
};

/* The slot premium declares in the account records: an account with premium activity has
 * its state, the others nothing. */
struct pm_slot {
    struct pm_acct *a;
};

struct pm_state {
    const struct vigil_numplan *np;
    const struct vigil_profiles *profiles;
    const struct vigil_flagged *flagged; /* NULL: no caller is flagged */
    int64_t out_calls[VIGIL_PROFILE_COUNT], out_calls_warn[VIGIL_PROFILE_COUNT];
    int64_t out_mins[VIGIL_PROFILE_COUNT], out_mins_warn[VIGIL_PROFILE_COUNT];
    int64_t in_calls[VIGIL_PROFILE_COUNT], in_callers[VIGIL_PROFILE_COUNT];
    int64_t in_flagged[VIGIL_PROFILE_COUNT]; /* 0: the flagged-callers rule is off */
    int64_t short_s;
    int64_t ttl_s;
    /* Slot `slot`: struct pm_slot; its dirty list: the accounts changed since the last tick. */
    struct vigil_recs *recs;
    struct vigil_recs *own_recs; /* recs when the env gave none; NULL otherwise */
    int slot;
    struct vigil_pool *pool;      /* the struct pm_acct parts */
    struct vigil_win_more *more;  /* grown call-time rings of busy accounts and numbers */
    struct vigil_win_more *spans; /* closed calls kept whole past PM_SPANS */
    /* Per profile, the highest calls level judged (window.h grows call times up to it). */
    uint32_t out_level[VIGIL_PROFILE_COUNT], in_level[VIGIL_PROFILE_COUNT];
    int64_t wm_min;   /* minute of the last sweep's watermark */
    int64_t next_due; /* the earliest pm_acct.due */
};

static const struct vigil_config_key pm_keys[] = {
    {"premium.out_calls_1h", VIGIL_CFG_INT, "20", 1, VIGIL_WIN_LEVEL_MAX,
     "Outbound calls to premium-rate numbers within one hour that block premium calls. At most "
     "10000, the highest level counted exactly."
     ""},
    {"premium.out_calls_1h_warning", VIGIL_CFG_INT, "10", 0, VIGIL_WIN_LEVEL_MAX,
     "Outbound premium-rate calls within one hour that raise a warning alert first (0: no "
     "warning)."},
    {"premium.out_minutes_1h", VIGIL_CFG_INT, "60", 1, 100000,
     "Minutes of outbound calls to premium-rate numbers within one hour, open calls included, "
     "that block premium calls."},
    {"premium.out_minutes_1h_warning", VIGIL_CFG_INT, "30", 0, 100000,
     "Outbound premium-rate minutes within one hour that raise a warning alert first (0: no "
     "warning)."},
    {"premium.inbound_calls_1h", VIGIL_CFG_INT, "100", 1, VIGIL_WIN_LEVEL_MAX,
     "Inbound calls within one hour to one service number of an account that, with enough "
     "distinct callers, withhold its payouts (a warning at a third). At most 10000, the highest "
     "level counted exactly."
     ""},
    {"premium.inbound_callers_1h", VIGIL_CFG_INT, "30", 1, PM_CALLERS_MAX,
     "Distinct callers within one hour to one service number needed besides the calls "
     "(at most 64, the tracked set's size)."},
    {"premium.inbound_flagged_callers", VIGIL_CFG_INT, "2", 0, PM_CALLERS_MAX,
     "Distinct callers within one hour to one service number whose numbers belong to flagged "
     "accounts (a standing suspend or block order of vigil) that withhold its payouts; a "
     "warning at the first one (0: off)."},
    /* A popular service number takes calls from many callers all day and hundreds in a busy
     * hour (detection.md: leave it alone): ten times the default, the value of the former
     * key premium.inbound_calls_1h_popular. */
    {"premium.inbound_calls_1h@service_popular", VIGIL_CFG_INT, "1000", 1, VIGIL_WIN_LEVEL_MAX,
     "Inbound calls threshold of the service_popular profile: a popular service number "
     "gets many calls from many callers, so ten times the default."},
    {"premium.short_call_s", VIGIL_CFG_INT, "60", 1, 3600,
     "Inbound calls shorter than this many seconds are reported as short in the evidence."},
    {0},
};

static uint16_t sat16(uint32_t a, uint32_t b)
{
    return a + b >= UINT16_MAX ? UINT16_MAX : (uint16_t)(a + b);
}

/* Never 0 (an empty slot) and bit 0 free for PM_SEEN_ENDED. */
/* Keyed when pseudonymised: callers' numbers are hashed, and the state goes to Redis. */
static uint64_t str_hash(const char *s)
{
    uint64_t h = vigil_privacy_enabled() ? vigil_privacy_hash(s, strlen(s))
                                         : vigil_acct_table_hash(s, strlen(s));
    return (h & ~PM_SEEN_ENDED) | 2;
}

/* --- per-minute ring ---------------------------------------------------------------------- */

static void ring_add(struct pm_ring *r, int64_t min, uint32_t da, uint32_t db)
{
    if (min > r->cur) {
        int64_t gap = min - r->cur;
        for (int64_t m = gap >= PM_RING ? min - PM_RING + 1 : r->cur + 1; m <= min; m++) {
            r->a[m & (PM_RING - 1)] = 0;
            r->b[m & (PM_RING - 1)] = 0;
        }
        r->cur = min;
    }
    if (min <= r->cur - PM_RING)
        return; /* older than the ring: outside every window */
    size_t i = (size_t)(min & (PM_RING - 1));
    r->a[i] = sat16(r->a[i], da);
    r->b[i] = sat16(r->b[i], db);
}

/* Sums of the window ending at minute now_min: minutes now_min - PM_WIN_MIN .. now_min (and
 * any later minute already added, up to r->cur). */
static void ring_sum(const struct pm_ring *r, int64_t now_min, uint32_t *sa, uint32_t *sb)
{
    uint32_t a = 0, b = 0;
    int64_t lo = now_min - PM_WIN_MIN;
    if (lo < r->cur - PM_RING + 1)
        lo = r->cur - PM_RING + 1;
    for (int64_t m = lo; m <= r->cur; m++) {
        a += r->a[m & (PM_RING - 1)];
        b += r->b[m & (PM_RING - 1)];
    }
    *sa = a;
    if (sb)
        *sb = b;
}

static void ring_init(struct pm_ring *r, int64_t min)
{
    memset(r, 0, sizeof *r);
    r->cur = min;
}

/* Adds the answered seconds of the call [end - dur, end] to the minutes it lasted. */
static void ring_add_duration(struct pm_ring *r, int64_t end_ms, int64_t dur_s)
{
    if (dur_s <= 0)
        return;
    int64_t start_ms = end_ms - dur_s * 1000;
    int64_t m0 = vigil_floor_div(start_ms, PM_MIN_MS), m1 = vigil_floor_div(end_ms, PM_MIN_MS);
    if (m0 < m1 - PM_RING + 1)
        m0 = m1 - PM_RING + 1;
    ring_add(r, m1, 0, 0);
    int64_t prev = (m0 * PM_MIN_MS - start_ms) / 1000;
    if (prev < 0)
        prev = 0;
    for (int64_t m = m0; m <= m1; m++) {
        int64_t upto = (m + 1) * PM_MIN_MS < end_ms ? (m + 1) * PM_MIN_MS : end_ms;
        int64_t secs = (upto - start_ms) / 1000;
        if (secs > dur_s)
            secs = dur_s;
        if (secs > prev) {
            ring_add(r, m, 0, (uint32_t)(secs - prev));
            prev = secs;
        }
    }
}

/* --- seen call ids and samples ------------------------------------------------------------ */

/* 0: never seen; 1: started; 2: ended. */
static int seen_get(const uint64_t *seen, uint64_t id)
{
    for (int i = 0; i < PM_SEEN_MAX; i++) {
        if ((seen[i] & ~PM_SEEN_ENDED) == id)
            return (seen[i] & PM_SEEN_ENDED) ? 2 : 1;
    }
    return 0;
}

static void seen_put(uint64_t *seen, uint8_t *next, uint64_t id, bool ended)
{
    uint64_t v = id | (ended ? PM_SEEN_ENDED : 0);
    for (int i = 0; i < PM_SEEN_MAX; i++) {
        if ((seen[i] & ~PM_SEEN_ENDED) == id) {
            seen[i] = v;
            return;
        }
    }
    seen[*next] = v;
    *next = (uint8_t)((*next + 1) % PM_SEEN_MAX);
}

static void sample_add(struct pm_samples *s, const char *event_id)
{
    vigil_text_copy(s->id[s->next], sizeof s->id[s->next], event_id);
    s->next = (uint8_t)((s->next + 1) % VIGIL_SAMPLES_MAX);
    if (s->n < VIGIL_SAMPLES_MAX)
        s->n++;
}

static void samples_fill(const struct pm_samples *s, struct vigil_finding *f)
{
    for (int k = 0; k < s->n; k++) {
        int i = (s->next + VIGIL_SAMPLES_MAX - s->n + k) % VIGIL_SAMPLES_MAX;
        f->samples[f->n_samples++] = s->id[i];
    }
}

/* --- accounts ----------------------------------------------------------------------------- */

static int mark_dirty(struct pm_state *st, struct pm_acct *a)
{
    if (a->dirty)
        return 0;
    if (vigil_recs_mark(st->recs, st->slot, a->home) != 0)
        return VIGIL_ERR_NOMEM;
    a->dirty = true;
    return 0;
}

static uint64_t acct_key(const char *account)
{
    return vigil_acct_table_hash(account, strlen(account));
}

/* The key of a service number's grown ring: the account's, mixed with the number's. */
static uint64_t svc_key(const struct pm_acct *a, const struct pm_svc *s)
{
    return a->key ^ (str_hash(s->to) * 0x9e3779b97f4a7c15ULL + 1);
}

/* The account's state in slot s, allocated when the slot is fresh; NULL (the slot released)
 * when out of memory. */
static struct pm_acct *acct_take(struct pm_state *st, struct pm_slot *s, bool fresh)
{
    if (!fresh)
        return s->a;
    s->a = vigil_pool_alloc(st->pool);
    if (!s->a) {
        vigil_recs_release(st->recs, st->slot, s);
        return NULL;
    }
    s->a->home = s;
    return s->a;
}

/* Frees the account's state and releases its slot. */
static void acct_drop(struct pm_state *st, struct pm_slot *s)
{
    vigil_pool_free(st->pool, s->a);
    vigil_recs_release(st->recs, st->slot, s);
}

/* fini of the slot (acct_rec.h): the records go, and the states with them. */
static void slot_fini(void *ctx, void *slot)
{
    struct pm_slot *s = slot;
    vigil_pool_free(ctx, s->a);
    s->a = NULL;
}

static struct pm_acct *acct_get(struct pm_state *st, const struct vigil_event *ev)
{
    bool created;
    struct pm_slot *s = vigil_recs_slot(st->recs, st->slot, ev, &created);
    struct pm_acct *a = s ? acct_take(st, s, created) : NULL;
    if (!a)
        return NULL;
    if (created) {
        int64_t min = vigil_floor_div(ev->ts_ms, PM_MIN_MS);
        ring_init(&a->out, min);
        a->last_ms = a->eval_ms = ev->ts_ms;
        a->due = INT64_MAX;
        a->key = acct_key(ev->account);
        a->profile = (uint8_t)vigil_profiles_lookup(st->profiles, ev->account);
    }
    if (ev->ts_ms > a->last_ms)
        a->last_ms = ev->ts_ms;
    if (mark_dirty(st, a) != 0)
        return NULL;
    return a;
}

/* Drops open calls older than the 24 h limit. */
static void expire_open(struct pm_acct *a, int64_t now)
{
    vigil_open_expire(a->open, sizeof a->open[0], &a->n_open, now);
}

/* Seconds of the open calls inside the hour ending at t. */
static int64_t open_secs(const struct pm_acct *a, int64_t t)
{
    int64_t ms = 0;
    for (int i = 0; i < a->n_open; i++) {
        int64_t from = a->open[i].start_ms > t - PM_HOUR_MS ? a->open[i].start_ms : t - PM_HOUR_MS;
        if (t > from)
            ms += t - from;
    }
    return ms / 1000;
}

/* --- premium.outbound --------------------------------------------------------------------- */

struct pm_out_now {
    uint32_t calls;
    int64_t closed_s, open_s;
};

/* Seconds in minutes of ring r wholly inside [now - 1 h, now]. */
static uint32_t ring_inside(const struct pm_ring *r, int64_t now)
{
    uint32_t b = 0;
    int64_t lo = -vigil_floor_div(-(now - PM_HOUR_MS), PM_MIN_MS); /* first whole minute */
    int64_t hi = vigil_floor_div(now + 1, PM_MIN_MS) - 1;          /* last whole minute */
    if (lo < r->cur - PM_RING + 1)
        lo = r->cur - PM_RING + 1;
    if (hi > r->cur)
        hi = r->cur;
    for (int64_t m = lo; m <= hi; m++)
        b += r->b[m & (PM_RING - 1)];
    return b;
}

/* The hour [now - 1 h, now], exactly: calls from the call times (the latest PM_OUT_EXACT,
 * grown up to the highest level when more lie in the hour; past that many, or when the times
 * before a restore are missing, the minute buckets say how many more), closed seconds from the
 * latest PM_SPANS closed calls, each counting its part inside (older calls' seconds only from
 * minutes wholly inside), and the open calls' time inside. */
static void out_measure(const struct pm_state *st, const struct pm_acct *a, int64_t now,
                        struct pm_out_now *m)
{
    int64_t from = now - PM_HOUR_MS;
    bool more;
    uint32_t calls = vigil_win_more_count(st->more, a->key, a->out_ts, PM_OUT_EXACT, a->n_out_ts,
                                          from, now, &more);
    if (more) {
        uint32_t b;
        ring_sum(&a->out, vigil_floor_div(now, PM_MIN_MS), &b, NULL);
        calls = b > calls ? b : calls;
    }
    int64_t ms = 0;
    for (int i = 0; i < a->n_spans; i++) {
        const struct pm_span *sp = &a->spans[i];
        ms += (int64_t)vigil_win_span_part((uint64_t)sp->dur_ms, sp->end_ms - sp->dur_ms,
                                           sp->end_ms, from, now);
    }
    m->calls = calls;
    uint64_t kept;
    if (vigil_win_more_span_sum(st->spans, a->key, from, now, &kept))
        m->closed_s = (ms + (int64_t)kept) / 1000;
    else
        m->closed_s = ms / 1000 + ring_inside(&a->old, now);
    m->open_s = open_secs(a, now);
}

/* A premium call counted at time t. */
static void out_count(struct pm_state *st, struct pm_acct *a, int64_t t)
{
    ring_add(&a->out, vigil_floor_div(t, PM_MIN_MS), 1, 0);
    vigil_win_more_add(st->more, a->key, a->out_ts, PM_OUT_EXACT, &a->n_out_ts, t,
                       st->out_level[a->profile], PM_HOUR_MS);
}

/* A closed call's answered seconds: kept whole among the latest PM_SPANS; when full, the one
 * that ended first goes to the minute buckets of `old`. */
static void out_closed(struct pm_state *st, struct pm_acct *a, int64_t end_ms, int64_t dur_s)
{
    if (dur_s <= 0)
        return;
    ring_add_duration(&a->out, end_ms, dur_s);
    for (int i = 0; i < a->n_spans;) {
        if (a->spans[i].end_ms < end_ms - PM_HOUR_MS - 2 * PM_MIN_MS)
            a->spans[i] = a->spans[--a->n_spans];
        else
            i++;
    }
    /* A span longer than a checkpoint may hold (acct_ok) covers every window the same. */
    struct pm_span sp = {.end_ms = end_ms,
                         .dur_ms =
                             dur_s < PM_MAX_OPEN_MS * 8 / 1000 ? dur_s * 1000 : PM_MAX_OPEN_MS * 8};
    if (a->n_spans < PM_SPANS) {
        a->spans[a->n_spans++] = sp;
        return;
    }
    int old = 0;
    for (int i = 1; i < a->n_spans; i++) {
        if (a->spans[i].end_ms < a->spans[old].end_ms)
            old = i;
    }
    struct pm_span gone = sp;
    if (sp.end_ms > a->spans[old].end_ms) {
        gone = a->spans[old];
        a->spans[old] = sp;
    }
    /* Kept whole as well while it may overlap an hour still to be judged (window.h); the
     * minute ring is the fallback when those are not all known (after a restore, or a span
     * that could not be kept: no memory; window.c marks it, so the return needs no action). */
    if (gone.end_ms >= end_ms - PM_HOUR_MS - 2 * PM_MIN_MS)
        (void)vigil_win_more_span_add(
            st->spans, a->key, gone.end_ms,
            gone.dur_ms >= UINT32_MAX ? UINT32_MAX : (uint32_t)gone.dur_ms,
            gone.dur_ms >= UINT32_MAX ? UINT32_MAX : (uint32_t)gone.dur_ms, PM_HOUR_MS + PM_MIN_MS);
    if (a->old.cur == 0)
        ring_init(&a->old, vigil_floor_div(gone.end_ms, PM_MIN_MS));
    ring_add_duration(&a->old, gone.end_ms, gone.dur_ms / 1000);
}

/* The earliest time in (lo, hi] at which closed_s + open calls reach `secs` (binary search on
 * a non-decreasing function), so a timer finding carries the moment the pattern completed
 * rather than the tick that noticed it. */
static int64_t out_crossing(const struct pm_acct *a, int64_t closed_s, int64_t secs, int64_t lo,
                            int64_t hi)
{
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (closed_s + open_secs(a, mid) >= secs)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

static int emit_outbound(const struct pm_state *st, const struct pm_acct *a, const char *account,
                         const struct pm_out_now *m, int64_t event_ts, enum vigil_severity sev,
                         struct vigil_emit *out)
{
    int p = a->profile;
    bool crit = sev == VIGIL_SEV_CRITICAL;
    int64_t calls_thr = crit ? st->out_calls[p] : st->out_calls_warn[p];
    int64_t mins_thr = crit ? st->out_mins[p] : st->out_mins_warn[p];
    int64_t mins = (m->closed_s + m->open_s) / 60;
    char reason[320];
    snprintf(reason, sizeof reason,
             "%" PRIu32 " calls and %" PRId64 " minutes to premium-rate numbers in the last hour"
             " (%s at %" PRId64 " calls or %" PRId64 " minutes%s): %s",
             m->calls, mins, crit ? "block" : "warning", calls_thr, mins_thr,
             m->open_s > 0 ? ", calls still open included" : "",
             crit ? "premium-rate abuse, premium calls blocked" : "possible premium-rate abuse");
    struct vigil_finding f = {
        .detector = PM_NAME,
        .rule = PM_RULE_OUT,
        .severity = sev,
        .action = crit ? VIGIL_ACT_BLOCK_PREMIUM : VIGIL_ACT_NONE,
        .account = account,
        .event_ts_ms = event_ts,
        .window_ms = PM_HOUR_MS,
        .reason = reason,
        .evidence = {{"premium_calls_1h", (double)m->calls},
                     {"premium_minutes_1h", (double)mins},
                     {"open_premium_calls", (double)a->n_open},
                     {"threshold_calls", (double)calls_thr},
                     {"threshold_minutes", (double)mins_thr}},
        .n_evidence = 5,
    };
    samples_fill(&a->smp_out, &f);
    return vigil_emit_finding(out, &f);
}

/* When the open calls alone will take the account to its next level not yet fired, if no
 * other event comes: the tick sweeps then, so a long open call is caught at its mark and not
 * only at the next minute of watermark. INT64_MAX when nothing is due. */
static int64_t out_due(const struct pm_state *st, const struct pm_acct *a, int64_t now,
                       int64_t closed_s)
{
    int p = a->profile;
    int64_t level;
    if (a->n_open == 0)
        return INT64_MAX;
    if (!(a->fired_out & PM_FIRED_WARNING) && st->out_mins_warn[p] > 0)
        level = st->out_mins_warn[p] * 60;
    else if (!(a->fired_out & PM_FIRED_CRITICAL))
        level = st->out_mins[p] * 60;
    else
        return INT64_MAX;
    /* An hour on, every open call counts a full hour: what is not reached then never is. */
    if (closed_s + open_secs(a, now + PM_HOUR_MS) < level)
        return INT64_MAX;
    if (closed_s + open_secs(a, now) >= level)
        return now;
    return out_crossing(a, closed_s, level, now, now + PM_HOUR_MS);
}

/* Fires the level premium.outbound has reached at `now`, once per episode. */
static int check_outbound_level(const struct pm_state *st, struct pm_acct *a, const char *account,
                                int64_t now, struct vigil_emit *out)
{
    int p = a->profile;
    struct pm_out_now m;
    out_measure(st, a, now, &m);
    int64_t secs = m.closed_s + m.open_s;
    int64_t lo = a->eval_ms;
    if (now > a->eval_ms)
        a->eval_ms = now;
    bool crit = m.calls >= st->out_calls[p] || secs >= st->out_mins[p] * 60;
    bool warn = (st->out_calls_warn[p] > 0 && m.calls >= st->out_calls_warn[p]) ||
                (st->out_mins_warn[p] > 0 && secs >= st->out_mins_warn[p] * 60);
    if (!crit && !warn) {
        a->fired_out = 0; /* the episode is over: re-arm */
        return 0;
    }
    enum vigil_severity sev = (enum vigil_severity)vigil_episode_fire(&a->fired_out, warn, crit);
    if (sev == 0)
        return 0;
    int64_t level_s;
    if (sev == VIGIL_SEV_CRITICAL) {
        level_s = st->out_mins[p] * 60;
        if (m.calls >= st->out_calls[p])
            level_s = -1; /* tripped by calls: no timer crossing */
    } else {
        level_s = st->out_mins_warn[p] * 60;
        if (st->out_calls_warn[p] > 0 && m.calls >= st->out_calls_warn[p])
            level_s = -1;
    }
    int64_t event_ts = now;
    if (level_s >= 0 && m.open_s > 0 && lo < now && m.closed_s + open_secs(a, lo) < level_s)
        event_ts = out_crossing(a, m.closed_s, level_s, lo, now);
    if (event_ts != now)
        out_measure(st, a, event_ts, &m); /* the evidence as it stood at the mark */
    return emit_outbound(st, a, account, &m, event_ts, sev, out);
}

/* Sets when premium.outbound is next due for the account, seen from `now`, and keeps the
 * state-wide next_due no later than that. */
static void arm_due(struct pm_state *st, struct pm_acct *a, int64_t now)
{
    struct pm_out_now m;
    out_measure(st, a, now, &m);
    a->due = out_due(st, a, now, m.closed_s);
    if (a->due < st->next_due)
        st->next_due = a->due;
}

/* Judges premium.outbound at `now` (an event's time, or the watermark at a tick) and sets
 * when it is next due. */
static int check_outbound(struct pm_state *st, struct pm_acct *a, const char *account, int64_t now,
                          struct vigil_emit *out)
{
    int rc = check_outbound_level(st, a, account, now, out);
    arm_due(st, a, now);
    return rc;
}

static int open_find(const struct pm_acct *a, uint64_t id)
{
    size_t i = vigil_open_find(a->open, sizeof a->open[0], a->n_open, id);
    return i < a->n_open ? (int)i : -1;
}

static int on_out(struct pm_state *st, const struct vigil_event *ev, struct vigil_emit *out)
{
    struct pm_acct *a = acct_get(st, ev);
    if (!a)
        return VIGIL_ERR_NOMEM;
    uint64_t id = str_hash(ev->call_id);
    expire_open(a, a->last_ms);
    if (ev->type == VIGIL_EV_CALL_START) {
        /* A repeated start, or a start arriving after its own end (disorder), is no new
         * call. */
        if (open_find(a, id) >= 0 || seen_get(a->seen_out, id) != 0)
            return 0;
        out_count(st, a, ev->ts_ms);
        sample_add(&a->smp_out, ev->id);
        if (!vigil_open_start(a->open, sizeof a->open[0], &a->n_open, PM_OPEN_MAX, id, ev->ts_ms))
            seen_put(a->seen_out, &a->next_seen_out, id, false);
    } else {
        int i = open_find(a, id);
        int seen = i >= 0 ? 1 : seen_get(a->seen_out, id);
        if (seen == 2)
            return 0; /* a repeated end */
        if (i >= 0)
            vigil_open_remove_at(a->open, sizeof a->open[0], &a->n_open, (size_t)i);
        if (seen == 0) {
            /* No start seen: count the call from its own fields; an attempt that never
             * connected counts as a call, not as minutes. */
            out_count(st, a, ev->ts_ms);
            sample_add(&a->smp_out, ev->id);
        }
        if (ev->answered)
            out_closed(st, a, ev->ts_ms, ev->duration_s);
        seen_put(a->seen_out, &a->next_seen_out, id, true);
    }
    return check_outbound(st, a, ev->account, ev->ts_ms, out);
}

/* --- premium.inbound_pumping -------------------------------------------------------------- */

static struct pm_svc *svc_get(struct pm_acct *a, const char *to, int64_t now_min)
{
    int free_slot = -1, quiet = 0;
    uint32_t quiet_calls = UINT32_MAX;
    for (int i = 0; i < PM_SVC_MAX; i++) {
        struct pm_svc *s = &a->svc[i];
        if (s->to[0] == '\0') {
            if (free_slot < 0)
                free_slot = i;
            continue;
        }
        if (strcmp(s->to, to) == 0)
            return s;
        uint32_t calls;
        ring_sum(&s->ring, now_min, &calls, NULL);
        if (calls < quiet_calls) {
            quiet_calls = calls;
            quiet = i;
        }
    }
    /* All slots taken: the quietest number is the least likely to be pumped. */
    struct pm_svc *s = &a->svc[free_slot >= 0 ? free_slot : quiet];
    memset(s, 0, sizeof *s);
    vigil_text_copy(s->to, sizeof s->to, to);
    ring_init(&s->ring, now_min);
    return s;
}

static int64_t caller_ms(const struct pm_caller *c)
{
    return (int64_t)c->min * PM_MIN_MS + c->ms;
}

/* Distinct callers of the number last seen in [now - 1 h, now]. */
static uint32_t svc_callers(const struct pm_svc *s, int64_t now)
{
    uint32_t n = 0;
    for (int i = 0; i < PM_CALLERS_MAX; i++) {
        int64_t t = caller_ms(&s->callers[i]);
        if (s->callers[i].h != 0 && t >= now - PM_HOUR_MS && t <= now)
            n++;
    }
    return n;
}

/* Of those, the callers whose numbers were flagged when they called. */
static uint32_t svc_flagged_callers(const struct pm_svc *s, int64_t now)
{
    uint32_t n = 0;
    for (int i = 0; i < PM_CALLERS_MAX; i++) {
        int64_t t = caller_ms(&s->callers[i]);
        if ((s->callers[i].h & PM_CALLER_FLAGGED) && t >= now - PM_HOUR_MS && t <= now)
            n++;
    }
    return n;
}

/* Inbound calls to the number in [now - 1 h, now]: exact up to the highest level (the
 * latest PM_IN_EXACT times, grown while more lie in the hour); past that, or when times from
 * before a restore are missing, the minute buckets (60 to 61 minutes). */
static uint32_t svc_calls(const struct pm_state *st, const struct pm_acct *a,
                          const struct pm_svc *s, int64_t now)
{
    bool more;
    uint64_t key = s->n_in_ts == PM_IN_EXACT ? svc_key(a, s) : 0; /* else unused */
    uint32_t n = vigil_win_more_count(st->more, key, s->in_ts, PM_IN_EXACT, s->n_in_ts,
                                      now - PM_HOUR_MS, now, &more);
    if (more) {
        uint32_t b;
        ring_sum(&s->ring, vigil_floor_div(now, PM_MIN_MS), &b, NULL);
        n = b > n ? b : n;
    }
    return n;
}

/* The caller's slot, or NULL. */
static struct pm_caller *svc_find_caller(struct pm_svc *s, uint64_t h)
{
    for (int i = 0; i < PM_CALLERS_MAX; i++) {
        if ((s->callers[i].h & ~PM_CALLER_FLAGGED) == h)
            return &s->callers[i];
    }
    return NULL;
}

/* Marks a caller already listed as flagged (its number was flagged during its call). True
 * when that is news. */
static bool svc_mark_flagged(struct pm_svc *s, const char *from)
{
    struct pm_caller *c = svc_find_caller(s, str_hash(from));
    if (!c || (c->h & PM_CALLER_FLAGGED))
        return false;
    c->h |= PM_CALLER_FLAGGED;
    return true;
}

/* Lists the caller as seen at time t, marked as flagged or not as its number is now. */
static void svc_add_caller(struct pm_svc *s, const char *from, int64_t t, bool flagged)
{
    uint64_t h = str_hash(from); /* never 0: str_hash sets bit 1 */
    int64_t min = vigil_floor_div(t, PM_MIN_MS);
    int32_t m32 = (int32_t)min;
    uint16_t ms = (uint16_t)(t - min * PM_MIN_MS);
    int slot = -1;
    struct pm_caller *c = svc_find_caller(s, h);
    if (c) {
        if (t > caller_ms(c)) {
            c->min = m32;
            c->ms = ms;
        }
        c->h = flagged ? c->h | PM_CALLER_FLAGGED : c->h & ~PM_CALLER_FLAGGED;
        return;
    }
    /* A new caller: an empty slot, else the caller seen longest ago (when every slot is in
     * the window the set already holds PM_CALLERS_MAX >= any threshold). */
    for (int i = 0; i < PM_CALLERS_MAX; i++) {
        if (s->callers[i].h == 0) {
            slot = i;
            break;
        }
        if (slot < 0 || caller_ms(&s->callers[i]) < caller_ms(&s->callers[slot]))
            slot = i;
    }
    s->callers[slot] =
        (struct pm_caller){.h = h | (flagged ? PM_CALLER_FLAGGED : 0), .min = m32, .ms = ms};
}

static int emit_pumping(const struct pm_state *st, const struct pm_acct *a, const char *account,
                        const struct pm_svc *s, uint32_t calls, uint32_t callers,
                        uint32_t short_calls, int64_t event_ts, enum vigil_severity sev,
                        struct vigil_emit *out)
{
    int p = a->profile;
    bool crit = sev == VIGIL_SEV_CRITICAL;
    int64_t calls_thr = crit ? st->in_calls[p] : (st->in_calls[p] + 2) / 3;
    int64_t callers_thr = crit ? st->in_callers[p] : (st->in_callers[p] + 2) / 3;
    char reason[320];
    snprintf(reason, sizeof reason,
             "%" PRIu32 " inbound calls from %" PRIu32 " distinct callers in the last hour to "
             "service number %s (%s at %" PRId64 " calls from %" PRId64 " callers; %" PRIu32
             " short calls): %s",
             calls, callers, s->to, crit ? "withhold" : "warning", calls_thr, callers_thr,
             short_calls,
             crit ? "likely traffic pumping, payouts withheld" : "possible traffic pumping");
    struct vigil_finding f = {
        .detector = PM_NAME,
        .rule = PM_RULE_PUMP,
        .severity = sev,
        .action = crit ? VIGIL_ACT_WITHHOLD_PAYOUT : VIGIL_ACT_NONE,
        .account = account,
        .event_ts_ms = event_ts,
        .window_ms = PM_HOUR_MS,
        .reason = reason,
        .evidence = {{"inbound_calls_1h", (double)calls},
                     {"inbound_callers_1h", (double)callers},
                     {"short_calls_1h", (double)short_calls},
                     {"threshold_calls", (double)calls_thr},
                     {"threshold_callers", (double)callers_thr}},
        .n_evidence = 5,
    };
    samples_fill(&a->smp_in, &f);
    return vigil_emit_finding(out, &f);
}

/* Each level of an inbound rule fires once per episode (vigil_episode_level); the two
 * inbound rules share a byte, the flagged one's bits shifted by 2 (PM_FIRED_FLAGGED_*). */
static int episode_level(uint8_t *fired, unsigned shift, bool warn, bool crit)
{
    uint8_t f = (uint8_t)((*fired >> shift) & 3u);
    int sev = vigil_episode_level(&f, warn, crit);
    *fired = (uint8_t)((*fired & ~(3u << shift)) | ((unsigned)f << shift));
    return sev;
}

static int check_pumping(const struct pm_state *st, struct pm_acct *a, const char *account,
                         struct pm_svc *s, int64_t now, struct vigil_emit *out)
{
    int p = a->profile;
    int64_t now_min = vigil_floor_div(now, PM_MIN_MS);
    uint32_t ring_calls, short_calls;
    ring_sum(&s->ring, now_min, &ring_calls, &short_calls); /* short calls: evidence only */
    uint32_t calls = svc_calls(st, a, s, now);
    uint32_t callers = svc_callers(s, now);
    bool crit = calls >= st->in_calls[p] && callers >= st->in_callers[p];
    bool warn = calls >= (st->in_calls[p] + 2) / 3 && callers >= (st->in_callers[p] + 2) / 3;
    /* A call that arrives late (events.md: up to 60 s of disorder) may complete the hour
     * ending at the newest call seen, judged before it came. */
    int64_t newest = s->n_in_ts ? s->in_ts[s->n_in_ts - 1] : now;
    if (!crit && newest > now && newest - now <= PM_HOUR_MS) {
        uint32_t c2 = svc_calls(st, a, s, newest), k2 = svc_callers(s, newest);
        bool crit2 = c2 >= st->in_calls[p] && k2 >= st->in_callers[p];
        bool warn2 = c2 >= (st->in_calls[p] + 2) / 3 && k2 >= (st->in_callers[p] + 2) / 3;
        if (crit2 || (warn2 && !warn)) {
            calls = c2;
            callers = k2;
            crit = crit2;
            warn = true;
        }
    }
    int sev = episode_level(&s->fired, 0, warn, crit);
    return sev ? emit_pumping(st, a, account, s, calls, callers, short_calls, now,
                              (enum vigil_severity)sev, out)
               : 0;
}

/* --- premium.inbound_flagged_callers ------------------------------------------------------ */

static int emit_flagged(const struct pm_state *st, const struct pm_acct *a, const char *account,
                        const struct pm_svc *s, uint32_t flagged, int64_t event_ts,
                        enum vigil_severity sev, struct vigil_emit *out)
{
    bool crit = sev == VIGIL_SEV_CRITICAL;
    int64_t thr = crit ? st->in_flagged[a->profile] : 1;
    uint32_t calls = svc_calls(st, a, s, event_ts);
    uint32_t callers = svc_callers(s, event_ts);
    char reason[320];
    snprintf(reason, sizeof reason,
             "%" PRIu32 " of the %" PRIu32 " callers of service number %s in the last hour "
             "called from numbers of accounts vigil has blocked (%s at %" PRId64 "): %s",
             flagged, callers, s->to, crit ? "withhold" : "warning", thr,
             crit ? "likely traffic pumping through compromised accounts, payouts withheld"
                  : "possible traffic pumping through a compromised account");
    struct vigil_finding f = {
        .detector = PM_NAME,
        .rule = PM_RULE_FLAGGED,
        .severity = sev,
        .action = crit ? VIGIL_ACT_WITHHOLD_PAYOUT : VIGIL_ACT_NONE,
        .account = account,
        .event_ts_ms = event_ts,
        .window_ms = PM_HOUR_MS,
        .reason = reason,
        .evidence = {{"flagged_callers_1h", (double)flagged},
                     {"threshold_flagged_callers", (double)thr},
                     {"inbound_calls_1h", (double)calls},
                     {"inbound_callers_1h", (double)callers}},
        .n_evidence = 4,
    };
    samples_fill(&a->smp_in, &f);
    return vigil_emit_finding(out, &f);
}

/* Judges premium.inbound_flagged_callers for the service number at `now`, each level once
 * per episode (re-armed when no flagged caller is left in the hour). */
static int check_flagged(const struct pm_state *st, struct pm_acct *a, const char *account,
                         struct pm_svc *s, int64_t now, struct vigil_emit *out)
{
    int64_t thr = st->in_flagged[a->profile];
    if (thr <= 0)
        return 0;
    uint32_t flagged = svc_flagged_callers(s, now);
    /* A late call may complete the hour ending at the newest call seen (disorder). */
    int64_t newest = s->n_in_ts ? s->in_ts[s->n_in_ts - 1] : now;
    if (newest > now && newest - now <= PM_HOUR_MS) {
        uint32_t f2 = svc_flagged_callers(s, newest);
        flagged = f2 > flagged ? f2 : flagged;
    }
    int sev = episode_level(&s->fired, 2, flagged > 0, flagged >= thr);
    return sev ? emit_flagged(st, a, account, s, flagged, now, (enum vigil_severity)sev, out) : 0;
}

/* Whether the caller's number belongs to a flagged account now (not asked when the rule is
 * off for the account's profile). */
static bool caller_flagged(const struct pm_state *st, const struct pm_acct *a, const char *from)
{
    return st->flagged && st->in_flagged[a->profile] > 0 &&
           vigil_flagged_contains(st->flagged, vigil_flagged_hash(from));
}

/* --- inbound calls ------------------------------------------------------------------------ */

static int on_in(struct pm_state *st, const struct vigil_event *ev, struct vigil_emit *out)
{
    struct pm_acct *a = acct_get(st, ev);
    if (!a)
        return VIGIL_ERR_NOMEM;
    uint64_t id = str_hash(ev->call_id);
    int64_t min = vigil_floor_div(ev->ts_ms, PM_MIN_MS);
    int seen = seen_get(a->seen_in, id);
    bool count = false, is_short = false;
    if (ev->type == VIGIL_EV_CALL_START) {
        if (seen != 0)
            return 0;
        count = true;
    } else {
        if (seen == 2)
            return 0;
        count = seen == 0; /* no start seen: count the call at its end */
        is_short = ev->answered && ev->duration_s < st->short_s;
    }
    seen_put(a->seen_in, &a->next_seen_in, id, ev->type == VIGIL_EV_CALL_END);
    bool flagged = caller_flagged(st, a, ev->from);
    if (!count && !is_short && !flagged)
        return 0;
    /* With pseudonymisation the service number is kept (and checkpointed) as its token. */
    char tok[VIGIL_PRIVACY_TOKEN_LEN + 1];
    struct pm_svc *s = svc_get(a, vigil_privacy_show(ev->to, tok), min);
    ring_add(&s->ring, min, count ? 1 : 0, is_short ? 1 : 0);
    if (!count) {
        /* The end of a call already counted: its caller was flagged during the call. */
        if (flagged && svc_mark_flagged(s, ev->from))
            return check_flagged(st, a, ev->account, s, ev->ts_ms, out);
        return 0;
    }
    vigil_win_more_add(st->more, s->n_in_ts == PM_IN_EXACT ? svc_key(a, s) : 0, s->in_ts,
                       PM_IN_EXACT, &s->n_in_ts, ev->ts_ms, st->in_level[a->profile], PM_HOUR_MS);
    svc_add_caller(s, ev->from, ev->ts_ms, flagged);
    sample_add(&a->smp_in, ev->id);
    int rc = check_pumping(st, a, ev->account, s, ev->ts_ms, out);
    return rc ? rc : check_flagged(st, a, ev->account, s, ev->ts_ms, out);
}

/* --- events and ticks --------------------------------------------------------------------- */

static int pm_on_event(void *state, const struct vigil_event *ev, struct vigil_emit *out)
{
    struct pm_state *st = state;
    if (ev->type != VIGIL_EV_CALL_START && ev->type != VIGIL_EV_CALL_END)
        return 0;
    if (ev->dir != VIGIL_DIR_OUT && ev->dir != VIGIL_DIR_IN)
        return 0;
    struct vigil_numclass nc;
    vigil_numplan_classify(st->np, ev->to, &nc);
    if (!nc.premium || nc.emergency)
        return 0;
    return ev->dir == VIGIL_DIR_OUT ? on_out(st, ev, out) : on_in(st, ev, out);
}

/* The account's counters over the hour ending at `now`. */
static void acct_counters(const struct pm_state *st, const struct pm_acct *a, int64_t now,
                          uint32_t v[4])
{
    struct pm_out_now m;
    out_measure(st, a, now, &m);
    v[0] = m.calls;
    v[1] = (uint32_t)((m.closed_s + m.open_s) / 60);
    v[2] = v[3] = 0;
    for (int i = 0; i < PM_SVC_MAX; i++) {
        const struct pm_svc *s = &a->svc[i];
        if (s->to[0] == '\0')
            continue;
        uint32_t calls = svc_calls(st, a, s, now), callers = svc_callers(s, now);
        if (calls > v[2] || (calls == v[2] && callers > v[3])) {
            v[2] = calls;
            v[3] = callers;
        }
    }
}

/* Publishes the account's counters if they changed since last time. */
static int publish_one(const struct pm_state *st, struct pm_acct *a, const char *account,
                       int64_t wm, struct vigil_emit *out)
{
    uint32_t v[4];
    acct_counters(st, a, a->last_ms > wm ? a->last_ms : wm, v);
    if (a->published && memcmp(v, a->pub, sizeof v) == 0)
        return 0;
    struct vigil_counter c[] = {
        {"premium_calls_1h", v[0]},
        {"premium_minutes_1h", v[1]},
        {"inbound_calls_1h", v[2]},
        {"inbound_callers_1h", v[3]},
    };
    int rc = vigil_emit_counters(out, account, PM_NAME, c, sizeof c / sizeof c[0], st->ttl_s);
    if (rc != 0)
        return rc;
    memcpy(a->pub, v, sizeof v);
    a->published = true;
    return 0;
}

static int publish_dirty(struct pm_state *st, int64_t wm, struct vigil_emit *out)
{
    size_t done = 0;
    int rc = 0;
    for (; done < vigil_recs_dirty_count(st->recs, st->slot); done++) {
        struct pm_slot *s = vigil_recs_dirty_at(st->recs, st->slot, done);
        const char *account = vigil_recs_account(st->recs, st->slot, s);
        struct pm_acct *a = s->a;
        rc = publish_one(st, a, account, wm, out);
        if (rc != 0)
            break;
        a->dirty = false;
    }
    /* After a sink failure the rest stays listed for the next tick. */
    vigil_recs_dirty_consume(st->recs, st->slot, done);
    return rc;
}

static bool acct_idle(const struct pm_acct *a)
{
    static const uint32_t zero[4];
    return a->n_open == 0 && a->published && memcmp(a->pub, zero, sizeof zero) == 0 && !a->dirty;
}

/* Once per minute of watermark: open calls' minutes, sliding windows, idle accounts. */
static int sweep(struct pm_state *st, int64_t wm, struct vigil_emit *out)
{
    st->next_due = INT64_MAX;
    struct pm_slot *s;
    for (size_t it = 0; (s = vigil_recs_next(st->recs, st->slot, &it));) {
        const char *account = vigil_recs_account(st->recs, st->slot, s);
        struct pm_acct *a = s->a;
        expire_open(a, wm);
        if (wm > a->eval_ms) {
            int rc = check_outbound(st, a, account, wm, out);
            if (rc != 0)
                return rc;
        } else if (a->due < st->next_due) {
            st->next_due = a->due;
        }
        int rc = publish_one(st, a, account, wm, out);
        if (rc != 0)
            return rc;
    }
    for (size_t it = 0; (s = vigil_recs_next(st->recs, st->slot, &it));) {
        /* An hour after its last event nothing of the account is left to count. */
        if (acct_idle(s->a) && s->a->last_ms <= wm - PM_HOUR_MS - 2 * PM_MIN_MS)
            acct_drop(st, s);
    }
    return 0;
}

static int pm_on_tick(void *state, int64_t watermark_ms, struct vigil_emit *out)
{
    struct pm_state *st = state;
    int rc = publish_dirty(st, watermark_ms, out);
    if (rc != 0)
        return rc;
    if (watermark_ms == INT64_MIN)
        return 0;
    int64_t wm_min = vigil_floor_div(watermark_ms, PM_MIN_MS);
    if (wm_min <= st->wm_min && watermark_ms < st->next_due)
        return 0;
    rc = sweep(st, watermark_ms, out);
    if (rc != 0)
        return rc; /* the next tick sweeps again */
    vigil_win_more_sweep(st->more, watermark_ms);
    vigil_win_more_sweep(st->spans, watermark_ms);
    if (wm_min > st->wm_min)
        st->wm_min = wm_min;
    return 0;
}

/* --- checkpoints ------------------------------------------------------------------------- */

static void put_ring(struct vigil_state_writer *w, const struct pm_ring *r)
{
    vigil_state_put_i64(w, r->cur);
    for (int k = 0; k < PM_RING; k++) {
        vigil_state_put_u16(w, r->a[k]);
        vigil_state_put_u16(w, r->b[k]);
    }
}

static void get_ring(struct vigil_bytes_reader *r, struct pm_ring *g)
{
    g->cur = vigil_state_get_i64(r);
    for (int k = 0; k < PM_RING; k++) {
        g->a[k] = vigil_state_get_u16(r);
        g->b[k] = vigil_state_get_u16(r);
    }
}

static void put_samples(struct vigil_state_writer *w, const struct pm_samples *s)
{
    vigil_state_put_raw(w, s->id, sizeof s->id);
    vigil_state_put_u8(w, s->n);
    vigil_state_put_u8(w, s->next);
}

static void get_samples(struct vigil_bytes_reader *r, struct pm_samples *s)
{
    vigil_state_get_raw(r, s->id, sizeof s->id);
    s->n = vigil_state_get_u8(r);
    s->next = vigil_state_get_u8(r);
}

/* A free slot (to == "") is all zero: a byte says so and nothing more is written. */
static void put_svc(struct vigil_state_writer *w, const struct pm_svc *s)
{
    vigil_state_put_bool(w, s->to[0] != '\0');
    if (s->to[0] == '\0')
        return;
    vigil_state_put_raw(w, s->to, sizeof s->to);
    put_ring(w, &s->ring);
    for (int i = 0; i < PM_IN_EXACT; i++)
        vigil_state_put_i64(w, s->in_ts[i]);
    vigil_state_put_u16(w, s->n_in_ts);
    for (int k = 0; k < PM_CALLERS_MAX; k++) {
        vigil_state_put_u64(w, s->callers[k].h);
        vigil_state_put_i32(w, s->callers[k].min);
        vigil_state_put_u16(w, s->callers[k].ms);
    }
    vigil_state_put_u8(w, s->fired);
}

static void get_svc(struct vigil_bytes_reader *r, struct pm_svc *s)
{
    if (!vigil_state_get_bool(r))
        return; /* left all zero */
    vigil_state_get_raw(r, s->to, sizeof s->to);
    vigil_state_check(r, s->to[0] != '\0');
    get_ring(r, &s->ring);
    for (int i = 0; i < PM_IN_EXACT; i++)
        s->in_ts[i] = vigil_state_get_i64(r);
    s->n_in_ts = vigil_state_get_u16(r);
    for (int k = 0; k < PM_CALLERS_MAX; k++) {
        s->callers[k].h = vigil_state_get_u64(r);
        s->callers[k].min = vigil_state_get_i32(r);
        s->callers[k].ms = vigil_state_get_u16(r);
    }
    s->fired = vigil_state_get_u8(r);
}

static int pm_save(void *state, const char *account, struct vigil_bytes *out)
{
    const struct pm_state *st = state;
    const struct pm_slot *s = vigil_recs_find(st->recs, st->slot, account);
    if (!s)
        return 0; /* nothing held: nothing written */
    const struct pm_acct *a = s->a;
    /* What this process published, its dirty list, the profile and the key are not saved:
     * they mean nothing to another process, or load derives them. */
    struct vigil_state_writer w;
    vigil_state_write_begin(&w, out, PM_SAVE_VERSION);
    vigil_state_put_i64(&w, a->last_ms);
    vigil_state_put_i64(&w, a->eval_ms);
    vigil_state_put_i64(&w, a->due);
    put_ring(&w, &a->out);
    put_ring(&w, &a->old);
    for (int i = 0; i < PM_OUT_EXACT; i++)
        vigil_state_put_i64(&w, a->out_ts[i]);
    vigil_state_put_u16(&w, a->n_out_ts);
    for (int i = 0; i < PM_SPANS; i++) {
        vigil_state_put_i64(&w, a->spans[i].end_ms);
        vigil_state_put_i64(&w, a->spans[i].dur_ms);
    }
    vigil_state_put_u8(&w, a->n_spans);
    vigil_state_put_u8(&w, a->n_open);
    for (int i = 0; i < a->n_open; i++) {
        vigil_state_put_u64(&w, a->open[i].id);
        vigil_state_put_i64(&w, a->open[i].start_ms);
    }
    for (int i = 0; i < PM_SEEN_MAX; i++) {
        vigil_state_put_u64(&w, a->seen_out[i]);
        vigil_state_put_u64(&w, a->seen_in[i]);
    }
    vigil_state_put_u8(&w, a->next_seen_out);
    vigil_state_put_u8(&w, a->next_seen_in);
    for (int i = 0; i < PM_SVC_MAX; i++)
        put_svc(&w, &a->svc[i]);
    put_samples(&w, &a->smp_out);
    put_samples(&w, &a->smp_in);
    vigil_state_put_u8(&w, a->fired_out);
    return vigil_state_write_end(&w);
}

static bool time_ok(int64_t t)
{
    return t >= VIGIL_TS_MIN_MS && t <= PM_TS_MAX_MS;
}

static bool ring_ok(const struct pm_ring *r)
{
    /* Compared as minutes: multiplying a bad one could overflow. */
    return r->cur >= VIGIL_TS_MIN_MS / PM_MIN_MS && r->cur <= PM_TS_MAX_MS / PM_MIN_MS;
}

/* NUL-terminated within its array, so it can be printed and compared. */
static bool str_ok(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

static bool samples_ok(const struct pm_samples *s)
{
    if (s->n > VIGIL_SAMPLES_MAX || s->next >= VIGIL_SAMPLES_MAX)
        return false;
    for (int i = 0; i < VIGIL_SAMPLES_MAX; i++) {
        if (!str_ok(s->id[i], sizeof s->id[i]))
            return false;
    }
    return true;
}

/* Whether loaded bytes are a state this code can run on: every count and ring position inside
 * its array, every string terminated, every time in range (ring arithmetic never overflows).
 * Free service slots are all zero and not checked. */
static bool acct_ok(const struct pm_acct *a)
{
    if (a->n_open > PM_OPEN_MAX || a->next_seen_out >= PM_SEEN_MAX ||
        a->next_seen_in >= PM_SEEN_MAX || !time_ok(a->last_ms) || !time_ok(a->eval_ms) ||
        !ring_ok(&a->out) || !samples_ok(&a->smp_out) || !samples_ok(&a->smp_in))
        return false;
    for (int i = 0; i < a->n_open; i++) {
        if (!time_ok(a->open[i].start_ms))
            return false;
    }
    if (!vigil_win_ok(a->out_ts, PM_OUT_EXACT, a->n_out_ts) || a->n_spans > PM_SPANS ||
        (a->old.cur != 0 && !ring_ok(&a->old)))
        return false;
    for (int i = 0; i < a->n_spans; i++) {
        if (!time_ok(a->spans[i].end_ms) || a->spans[i].dur_ms < 0 ||
            a->spans[i].dur_ms > PM_MAX_OPEN_MS * 8)
            return false;
    }
    for (int i = 0; i < PM_SVC_MAX; i++) {
        const struct pm_svc *s = &a->svc[i];
        if (!str_ok(s->to, sizeof s->to) || (s->to[0] != '\0' && !ring_ok(&s->ring)) ||
            !vigil_win_ok(s->in_ts, PM_IN_EXACT, s->n_in_ts))
            return false;
        for (int k = 0; k < PM_CALLERS_MAX; k++) {
            if (s->callers[k].ms >= PM_MIN_MS)
                return false;
        }
    }
    return true;
}

static int pm_load(void *state, const char *account, const void *data, size_t len)
{
    struct pm_state *st = state;
    struct vigil_bytes_reader r;
    struct pm_acct cs, *c = &cs;
    memset(c, 0, sizeof *c); /* what is not saved starts at zero */
    vigil_state_read_begin(&r, data, len, PM_SAVE_VERSION);
    c->last_ms = vigil_state_get_i64(&r);
    c->eval_ms = vigil_state_get_i64(&r);
    c->due = vigil_state_get_i64(&r);
    get_ring(&r, &c->out);
    get_ring(&r, &c->old);
    for (int i = 0; i < PM_OUT_EXACT; i++)
        c->out_ts[i] = vigil_state_get_i64(&r);
    c->n_out_ts = vigil_state_get_u16(&r);
    for (int i = 0; i < PM_SPANS; i++) {
        c->spans[i].end_ms = vigil_state_get_i64(&r);
        c->spans[i].dur_ms = vigil_state_get_i64(&r);
    }
    c->n_spans = vigil_state_get_u8(&r);
    c->n_open = vigil_state_get_count8(&r, PM_OPEN_MAX);
    for (int i = 0; i < c->n_open; i++) {
        c->open[i].id = vigil_state_get_u64(&r);
        c->open[i].start_ms = vigil_state_get_i64(&r);
        /* One entry per call: a second would never end (only the first is ever found). */
        vigil_state_check(
            &r, vigil_open_find(c->open, sizeof c->open[0], (size_t)i, c->open[i].id) == (size_t)i);
    }
    for (int i = 0; i < PM_SEEN_MAX; i++) {
        c->seen_out[i] = vigil_state_get_u64(&r);
        c->seen_in[i] = vigil_state_get_u64(&r);
    }
    c->next_seen_out = vigil_state_get_u8(&r);
    c->next_seen_in = vigil_state_get_u8(&r);
    for (int i = 0; i < PM_SVC_MAX; i++)
        get_svc(&r, &c->svc[i]);
    get_samples(&r, &c->smp_out);
    get_samples(&r, &c->smp_in);
    c->fired_out = vigil_state_get_u8(&r);
    vigil_state_check(&r,
                      acct_ok(c) && account[0] != '\0' && strlen(account) <= VIGIL_ACCT_KEY_MAX);
    if (vigil_state_read_end(&r) != 0)
        return VIGIL_ERR_INVALID;

    bool created;
    struct pm_slot *s = vigil_recs_slot_of(st->recs, st->slot, account, &created);
    struct pm_acct *a = s ? acct_take(st, s, created) : NULL;
    if (!a)
        return VIGIL_ERR_NOMEM;
    /* Listed for the next tick, which publishes the counters afresh: the previous owner's
     * values may have expired or gone with a restart, and pub[] is not ours. */
    if (mark_dirty(st, a) != 0) {
        if (created)
            acct_drop(st, s);
        return VIGIL_ERR_NOMEM;
    }
    *a = *c;
    a->home = s;
    a->dirty = true; /* mark_dirty listed it */
    a->published = false;
    a->profile = (uint8_t)vigil_profiles_lookup(st->profiles, account);
    a->key = acct_key(account);
    /* The closed calls kept whole past spans[] are not in the checkpoint: an hour reaching
     * back before the account's latest event counts them from the minute ring (an account
     * that never pushed one out has an empty ring and needs no mark). */
    vigil_win_more_forget(st->spans, a->key);
    bool pushed = false;
    for (int k = 0; k < PM_RING; k++)
        pushed |= a->old.b[k] != 0;
    if (pushed)
        vigil_win_more_span_restore(st->spans, a->key, a->last_ms + 1, PM_HOUR_MS + PM_MIN_MS);
    /* A full ring may have had more times than it holds: known again once they are old. */
    vigil_win_more_restore(st->more, a->key, a->out_ts, PM_OUT_EXACT, a->n_out_ts,
                           st->out_level[a->profile], PM_HOUR_MS);
    for (int i = 0; i < PM_SVC_MAX; i++) {
        if (a->svc[i].to[0] != '\0')
            vigil_win_more_restore(st->more, svc_key(a, &a->svc[i]), a->svc[i].in_ts, PM_IN_EXACT,
                                   a->svc[i].n_in_ts, st->in_level[a->profile], PM_HOUR_MS);
    }
    /* Re-arm the timer under this state's thresholds, from the time last judged, and let the
     * state-wide next_due see it, so a tick inside an already swept minute still fires. */
    arm_due(st, a, a->eval_ms);
    return 0;
}

/* The next tick sweeps every account, whatever the minute. */
static void pm_resweep(void *state)
{
    struct pm_state *st = state;
    st->wm_min = INT64_MIN;
}

static void pm_forget(void *state, const char *account)
{
    struct pm_state *st = state;
    struct pm_slot *s = vigil_recs_find(st->recs, st->slot, account);
    if (!s)
        return;
    const struct pm_acct *a = s->a;
    vigil_win_more_forget(st->more, a->key);
    vigil_win_more_forget(st->spans, a->key);
    for (int k = 0; k < PM_SVC_MAX; k++)
        vigil_win_more_forget(st->more, svc_key(a, &a->svc[k]));
    acct_drop(st, s); /* off the dirty list too */
    /* next_due may still hold the account's timer: that costs one early sweep, which sets it
     * from the accounts left. */
}

static void pm_destroy(void *state)
{
    struct pm_state *st = state;
    if (!st)
        return;
    vigil_recs_destroy(st->own_recs);
    vigil_pool_destroy(st->pool);
    vigil_win_more_destroy(st->more);
    vigil_win_more_destroy(st->spans);
    free(st);
}

static int pm_init(void **state, const struct vigil_detector_env *env)
{
    *state = NULL;
    if (!env || !env->cfg || !env->numplan)
        return VIGIL_ERR_INVALID;
    struct pm_state *st = calloc(1, sizeof *st);
    if (!st)
        return VIGIL_ERR_NOMEM;
    const struct vigil_config *cfg = env->cfg;
    st->np = env->numplan;
    st->profiles = env->profiles;
    st->flagged = env->flagged;
    vigil_profile_ints(cfg, "premium.out_calls_1h", st->out_calls);
    vigil_profile_ints(cfg, "premium.out_calls_1h_warning", st->out_calls_warn);
    vigil_profile_ints(cfg, "premium.out_minutes_1h", st->out_mins);
    vigil_profile_ints(cfg, "premium.out_minutes_1h_warning", st->out_mins_warn);
    vigil_profile_ints(cfg, "premium.inbound_calls_1h", st->in_calls);
    vigil_profile_ints(cfg, "premium.inbound_callers_1h", st->in_callers);
    vigil_profile_ints(cfg, "premium.inbound_flagged_callers", st->in_flagged);
    for (int p = 0; p < VIGIL_PROFILE_COUNT; p++) {
        /* A warning at or above the block level would never come first. */
        if (st->out_calls_warn[p] >= st->out_calls[p])
            st->out_calls_warn[p] = 0;
        if (st->out_mins_warn[p] >= st->out_mins[p])
            st->out_mins_warn[p] = 0;
        if (st->in_callers[p] > PM_CALLERS_MAX)
            st->in_callers[p] = PM_CALLERS_MAX;
    }
    st->short_s = vigil_config_int(cfg, "premium.short_call_s");
    st->ttl_s = vigil_config_int(cfg, "redis.counter_ttl_s");
    st->wm_min = INT64_MIN;
    st->next_due = INT64_MAX;
    for (int p = 0; p < VIGIL_PROFILE_COUNT; p++) {
        /* The config bounds every level by VIGIL_WIN_LEVEL_MAX. */
        int64_t w =
            st->out_calls_warn[p] > st->out_calls[p] ? st->out_calls_warn[p] : st->out_calls[p];
        st->out_level[p] = (uint32_t)w;
        st->in_level[p] = (uint32_t)st->in_calls[p]; /* its warning is a third */
    }
    st->recs = env->recs ? env->recs : (st->own_recs = vigil_recs_create(64));
    st->pool = vigil_pool_create(sizeof(struct pm_acct));
    st->more = vigil_win_more_create();
    st->spans = vigil_win_more_create();
    if (!st->recs || !st->pool || !st->more || !st->spans)
        goto fail;
    st->slot = vigil_recs_declare_part(st->recs, slot_fini, st->pool);
    if (st->slot < 0) {
        pm_destroy(st);
        return VIGIL_ERR_INVALID;
    }
    *state = st;
    return 0;

fail:
    pm_destroy(st);
    return VIGIL_ERR_NOMEM;
}

static const char *const pm_rules[] = {PM_RULE_OUT, PM_RULE_PUMP, PM_RULE_FLAGGED, NULL};

const struct vigil_detector_ops vigil_det_premium = {
    .name = PM_NAME,
    .keys = pm_keys,
    .rules = pm_rules,
    .init = pm_init,
    .on_event = pm_on_event,
    .on_tick = pm_on_tick,
    .destroy = pm_destroy,
    .save = pm_save,
    .load = pm_load,
    .forget = pm_forget,
    .resweep = pm_resweep,
};

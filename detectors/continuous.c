/* SPDX-License-Identifier: Apache-2.0 */
/* continuous.c - long-open connections: a baby monitor or a router that keeps a call up for
 * hours, or redials all day (shared/spec/detection.md, "continuous").
 *
 * Rules (both directions count: a monitor may call out or be called; outbound calls to an
 * emergency number such as 112 never count, however long they stay open):
 *   continuous.single_call  one call open for single_call_warning_min (240 = 4 h) -> warning
 *       alert; open for single_call_critical_min (480 = 8 h) -> critical, order suspend.
 *       Judged while the call is still open: at on_tick(watermark) once the watermark reaches
 *       start + mark, and at the account's own events once their time passes it. The
 *       finding's event_ts is start + mark, the moment the call reached it (not the watermark,
 *       which lags it by the pipeline's disorder allowance). Each level fires once per call.
 *       A call_end without a known start (start lost) whose duration passed a mark reports
 *       the highest level it reached, at end - duration + mark. 8 h is far above any human
 *       call (the 2-hour conference call stays alone) and well inside the 24 h after which
 *       events.md stops treating a start without its end as open.
 *   continuous.near_continuous  within [t - 24 h, t] the union of the account's call
 *       intervals (parallel calls do not add up) reaches near_continuous_min (1080 = 18 h)
 *       -> critical, order suspend; near_continuous_warning_min (720 = 12 h) -> warning.
 *       Judged at every call_start and call_end (event_ts = that event's ts) and, while calls
 *       are open, by a timer at the earliest time the union could reach the next level
 *       (event_ts = the watermark). A call centre agent line (~8 h of calls in a 9-hour day)
 *       and 25 parallel lines busy through office hours (union = office hours, 10 h) stay
 *       below the 12 h warning. Re-arms when the union falls below the warning level.
 *       Not judged for 24 h after a single-call critical of the account (that call already
 *       caused the suspend order; one 18-hour call must not report twice).
 *
 * Union of call intervals, per account, exact: the ended calls' union as up to CT_IV_MAX (24)
 * disjoint stretches [from, to) to the millisecond (a call that overlaps or touches a stretch
 * merges into it), and the open calls' union [earliest open start, now), counted on the fly.
 * Stretches that ended more than 25 h before go; when more than 24 separate stretches remain
 * (an account with more than 24 gaps between its calls in a day), the earliest goes and
 * iv_floor rises past it: a window that starts before iv_floor is judged on the slots below
 * instead, with their error. The slots, kept for that and for nothing else:
 * a ring of 288 slots of 5 minutes (the last 24 h of
 * event time, ending at the slot of the account's newest event or of the watermark), each
 * holding the covered time of that slot in 2-second units, capped at the slot length (150).
 * An ended call adds its overlap with each slot (pro-rata, rounded to 2 s); open calls are
 * not written but counted on the fly as [earliest open start, now), whose slots are full.
 * Error: calls that overlap inside one slot (both partly covering it) are summed there, so
 * the union is over-counted by at most 5 minutes per such slot boundary, and never when one
 * line is busy the whole slot; back-to-back calls on one line add exactly (+-1 s per call).
 * The 24 h window is the 288 slots ending at the current slot: 23 h 55 min to 24 h.
 * An interval is written once: repeated call_ends are recognised by call_id (the last
 * CT_ENDS_MAX ends per account, kept for CT_END_GRACE_MS), so at-least-once delivery does
 * not add time twice, and a start that arrives after its own end does not open a call.
 *
 * Open calls: up to CT_TRACKED_MAX (16) per account are tracked by call_id (64-bit hash)
 * with their start; further calls are counted but untracked: they get no single-call marks,
 * add to the union only when they end, expire max_open_call_ms after the latest of them
 * started, and an end with an unknown call_id closes one of them. An account with 16 open
 * calls is a call centre or a PBX; an account that leaves one connection up has one call.
 * A call open for max_open_call_ms (24 h, events.md) is dropped and its 24 h added to the
 * union; after its critical nothing more comes for it.
 *
 * Timers: a per-worker binary min-heap of (deadline, account), one live entry per account:
 * its earliest next single-call mark, expiry, end-memory expiry, or union bound. on_tick pops
 * only what is due, so a tick with nothing due costs one comparison (and publishing what
 * changed). An account whose deadline moves earlier pushes a new entry; stale entries
 * (deadline no longer the account's) are skipped when popped, and dropped all at once when
 * the heap is full, which keeps it within about four times the accounts with a deadline.
 * Timers due at the same time fire in the order of their accounts' names. Once per hour of
 * watermark every account's union is slid to the watermark (published counters decay) and accounts
 * with nothing in the last 24 h are dropped.
 *
 * Checkpoints (save / load / forget, detector.h): one account's ct_acct, its ct_open and the
 * start event ids of its tracked calls, in the byte format described above ct_save. load
 * re-arms the timer at the saved deadline, so marks and union bounds fire as they would have
 * without the restart (under changed thresholds: at the next tick, which re-judges the
 * account); forget removes the account from every table and leaves its heap entries to be
 * skipped as stale.
 *
 * Counters, published at on_tick for accounts changed since the last tick (and for every
 * account with open calls or a changed union at each hour of watermark), TTL
 * redis.counter_ttl_s: open_calls (now), longest_open_min (age of the oldest tracked open
 * call at the watermark), connected_min_24h (the union above, minutes).
 *
 * State per worker: two pointer slots in the account records (acct_rec.h; 16 bytes of every
 * record), each pointing to a part allocated when the account first needs it:
 *   acct:  every account with a call in the last 24 h: struct ct_acct, 80 bytes, and its
 *          heavy arrays, each from a pool of its own and only while it holds something: the
 *          288-byte slot ring while it has call time in the window (allocated at a call's
 *          end, given back once the ring slides empty), and the exact stretches in a block
 *          sized to them (4, 12 or 24 stretches: 64, 192 or 384 bytes; moved to the smaller
 *          block when fewer remain). An account with a call or two a day: 432 bytes. Dropped,
 *          arrays with it, at the hourly reap once idle. No memory for the ring: the end is
 *          not taken (an error for the caller; a tracked call stays open, an expired one is
 *          counted later); for a larger block of stretches: the earliest go as past 24 and
 *          windows reaching before them are judged on the ring.
 *   open:  accounts with open calls or recent ends: struct ct_open, 416 bytes; dropped when
 *          idle. The two reach each other through the record (vigil_recs_sibling).
 * and an account table of its own (acct_table.h):
 *   ids:   the call_start event id of each tracked open call (for the findings' samples),
 *          keyed by a hash of account and call_id: ~240 bytes per open call.
 *   heap:  16 bytes per timer entry and its account's name (65 bytes) and free-list slot
 *          (4 bytes) beside it: one live entry per account with open calls or recent ends,
 *          and stale ones up to about four times that (heap_compact).
 *
 * Threading: one state per worker thread (detector.h): no locks, no atomics.
 * Ownership: init allocates the state, its table and heap (and account records of its own
 * when the env has none); destroy frees them; a slot owns the part it points to. */
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
#include "vigil/numplan.h"
#include "vigil/profile.h"
#include "vigil/state_codec.h"
#include "vigil/status.h"
#include "vigil/text.h"

#define CT_NAME "continuous"
#define CT_RULE_SINGLE "continuous.single_call"
#define CT_RULE_NEAR "continuous.near_continuous"
#define CT_MIN_MS 60000LL
#define CT_HOUR_MS 3600000LL
#define CT_DAY_MS 86400000LL
#define CT_SLOT_MS 300000LL /* 5 minutes */
#define CT_SLOTS 288        /* 24 h of slots */
#define CT_UNIT_MS 2000LL   /* covered time is kept in 2-second units */
#define CT_SLOT_UNITS 150   /* CT_SLOT_MS / CT_UNIT_MS: fits a uint8_t */
#define CT_UNITS_PER_MIN 30
#define CT_TRACKED_MAX 16
#define CT_ENDS_MAX 8
#define CT_END_GRACE_MS 600000LL /* remember an end 10 min: disorder is at most 60 s */
#define CT_WINDOW_MS CT_DAY_MS   /* order and alert ids hash floor(event_ts / 24 h) */
#define CT_IV_MAX 24             /* separate stretches of ended calls kept exactly */
#define CT_IV_SMALL 4            /* the blocks iv[] lies in: 4, 12 or CT_IV_MAX stretches */
#define CT_IV_MID 12

enum {
    CT_FIRED_WARNING = 1,
    CT_FIRED_CRITICAL = 2,
};

/* A stretch of time covered by ended calls, [from, to). */
struct ct_iv {
    int64_t from, to;
};

/* Every account with a call in the last 24 h of event time. */
struct ct_acct {
    /* The union of ended calls since iv_floor: disjoint, sorted; a block of cap_iv stretches
     * from the state's pools, sized to what it holds (NULL: none). */
    struct ct_iv *iv;
    int64_t iv_floor; /* iv[] holds every ended call's time from here on */
    /* Covered time per slot (slot % CT_SLOTS), CT_UNIT_MS units: CT_SLOTS bytes from p_units
     * while sum_units > 0 (or a call is being added); NULL: all zero. */
    uint8_t *units;
    int64_t head;           /* absolute slot (ts / CT_SLOT_MS) of the newest slot; MIN: none */
    int64_t due;            /* deadline of the account's live heap entry; MAX: none; MIN:
                             * the next tick (loaded under other thresholds) */
    int64_t single_crit_ms; /* event_ts of the latest single-call critical; MIN: none */
    uint32_t sum_units;     /* sum of units[] */
    uint32_t covered_min;   /* union at the last evaluation, minutes (published) */
    uint32_t open;          /* open calls, tracked + untracked (published) */
    uint8_t profile;        /* enum vigil_profile */
    uint8_t near_fired;     /* CT_FIRED_* of the current near-continuous episode */
    uint8_t n_iv;           /* entries of iv[] */
    uint8_t cap_iv;         /* 0, CT_IV_SMALL, CT_IV_MID or CT_IV_MAX: the size of iv[] */
    bool has_open;          /* the account has its struct ct_open */
    bool dirty;             /* on the records' dirty list of s_acct */
    void **home;            /* the account's s_acct slot (the pointer to this struct) */
};

struct ct_call {
    uint64_t id; /* hash of call_id */
    int64_t start_ms;
};

struct ct_end {
    uint64_t id; /* hash of call_id of a recent call_end */
    int64_t end_ms;
};

/* Accounts with open calls, or ends recent enough that a repeat or a late start may come. */
struct ct_open {
    struct ct_call calls[CT_TRACKED_MAX];
    struct ct_end ends[CT_ENDS_MAX];
    int64_t untracked_last_ms;     /* latest start among untracked calls */
    uint32_t untracked;            /* open calls past CT_TRACKED_MAX */
    uint8_t fired[CT_TRACKED_MAX]; /* CT_FIRED_* per tracked call */
    uint8_t n_calls, n_ends;
};

struct ct_timer {
    int64_t due;
    char account[VIGIL_ACCOUNT_MAX + 1];
};

/* A heap entry: 16 bytes, so that sifting through many timers stays in the cache; the
 * account's name waits in ct_state.names until the entry is popped. */
struct ct_heap_ent {
    int64_t due;
    uint32_t name; /* slot in ct_state.names */
};

struct ct_state {
    const struct vigil_numplan *np; /* may be NULL: only "112" is an emergency number */
    const struct vigil_profiles *profiles;
    int64_t warn_ms[VIGIL_PROFILE_COUNT]; /* single call; 0 = no warning */
    int64_t crit_ms[VIGIL_PROFILE_COUNT];
    int64_t near_min[VIGIL_PROFILE_COUNT];
    int64_t near_warn_min[VIGIL_PROFILE_COUNT]; /* 0 = no warning */
    int64_t max_open_ms;
    int64_t ttl_s;
    /* Two pointer slots in the account records (acct_rec.h): s_acct (struct ct_acct) and
     * s_open (struct ct_open), each part allocated when the account first needs it; the
     * dirty list of s_acct: the accounts changed since the last tick. */
    struct vigil_recs *recs;
    struct vigil_recs *own_recs; /* recs when the env gave none; NULL otherwise */
    int s_acct, s_open;
    struct vigil_pool *p_acct, *p_open; /* their parts */
    /* The heavy arrays of a ct_acct, allocated when needed: its slot ring (CT_SLOTS bytes)
     * and blocks of CT_IV_SMALL, CT_IV_MID and CT_IV_MAX stretches. */
    struct vigil_pool *p_units, *p_iv_s, *p_iv_m, *p_iv_l;
    struct vigil_acct_table *ids; /* char[VIGIL_ID_MAX + 1]: start event id per open call */
    struct ct_heap_ent *heap;
    size_t n_heap, cap_heap;
    char (*names)[VIGIL_ACCOUNT_MAX + 1]; /* cap_heap slots: the accounts of heap entries */
    uint32_t *free_names;                 /* slots not in use, n_heap of cap_heap in use */
    size_t n_free, n_names;               /* n_names: slots ever used (the rest are free) */
    int64_t wm;                           /* the last watermark */
    int64_t wm_hour;                      /* hour of the last hourly sweep */
};

static const struct vigil_config_key ct_keys[] = {
    {"continuous.single_call_warning_min", VIGIL_CFG_INT, "240", 0, 10080,
     "Minutes one call may stay open before a warning alert (0: no warning)."},
    {"continuous.single_call_critical_min", VIGIL_CFG_INT, "480", 1, 10080,
     "Minutes one call may stay open before a critical alert and a suspend order."},
    {"continuous.near_continuous_min", VIGIL_CFG_INT, "1080", 1, 1440,
     "Minutes of the last 24 hours covered by calls (parallel calls counted once) that "
     "suspend the account."},
    {"continuous.near_continuous_warning_min", VIGIL_CFG_INT, "720", 0, 1440,
     "Minutes of the last 24 hours covered by calls that raise a warning alert (0: no "
     "warning)."},
    {"continuous.max_open_call_ms", VIGIL_CFG_INT, "86400000", 60000, 604800000,
     "Event time after which a call_start without its call_end stops counting as open."},
    {0},
};

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static uint64_t call_hash(const char *call_id)
{
    return vigil_acct_table_hash(call_id, strlen(call_id));
}

/* --- the union ring ------------------------------------------------------------------------ */

static int slot_index(int64_t slot)
{
    return (int)(slot - vigil_floor_div(slot, CT_SLOTS) * CT_SLOTS);
}

/* Slides the ring so that its newest slot is `slot` (never backwards). */
static void ring_advance(struct ct_acct *a, int64_t slot)
{
    if (a->head != INT64_MIN && slot <= a->head)
        return;
    if (!a->units) {
        /* all zero: nothing to clear */
    } else if (a->head == INT64_MIN || slot - a->head >= CT_SLOTS) {
        memset(a->units, 0, CT_SLOTS);
        a->sum_units = 0;
    } else {
        for (int64_t s = a->head + 1; s <= slot; s++) {
            int i = slot_index(s);
            a->sum_units -= a->units[i];
            a->units[i] = 0;
        }
    }
    a->head = slot;
}

/* Covered 2-second units of [from, to) inside slot s. */
static uint32_t slot_overlap(int64_t s, int64_t from, int64_t to)
{
    int64_t b = max64(from, s * CT_SLOT_MS);
    int64_t e = min64(to, (s + 1) * CT_SLOT_MS);
    return e > b ? (uint32_t)((e - b + CT_UNIT_MS / 2) / CT_UNIT_MS) : 0;
}

/* Adds the interval [from, to) of an ended call (units allocated when to > from). */
static void ring_add(struct ct_acct *a, int64_t from, int64_t to)
{
    if (to <= from)
        return;
    int64_t s1 = vigil_floor_div(to - 1, CT_SLOT_MS);
    ring_advance(a, s1);
    int64_t s0 = max64(vigil_floor_div(from, CT_SLOT_MS), a->head - CT_SLOTS + 1);
    for (int64_t s = s0; s <= s1; s++) {
        int i = slot_index(s);
        uint32_t v = a->units[i] + slot_overlap(s, from, to);
        if (v > CT_SLOT_UNITS)
            v = CT_SLOT_UNITS;
        a->sum_units += v - a->units[i];
        a->units[i] = (uint8_t)v;
    }
}

/* The size of block that holds n stretches (0: none). */
static int iv_tier(int n)
{
    return n == 0 ? 0 : n <= CT_IV_SMALL ? CT_IV_SMALL : n <= CT_IV_MID ? CT_IV_MID : CT_IV_MAX;
}

static struct vigil_pool *iv_pool(const struct ct_state *st, int cap)
{
    return cap == CT_IV_SMALL ? st->p_iv_s : cap == CT_IV_MID ? st->p_iv_m : st->p_iv_l;
}

/* Adds the ended call [from, to) to the exact union: merged with the stretches it overlaps or
 * touches. Stretches that ended more than 25 h before the newest time known go, and when more
 * than CT_IV_MAX remain the earliest goes: iv_floor rises past what went, so a window that
 * starts before it is judged on the slots instead. */
static void iv_add(const struct ct_state *st, struct ct_acct *a, int64_t from, int64_t to)
{
    if (from < a->iv_floor)
        from = a->iv_floor; /* before the floor the slots hold it */
    if (to <= from)
        return;
    struct ct_iv out[CT_IV_MAX + 1], n = {from, to};
    int k = 0;
    bool placed = false;
    int64_t newest = to;
    if (a->head != INT64_MIN)
        newest = max64(newest, (a->head + 1) * CT_SLOT_MS);
    for (int i = 0; i < a->n_iv; i++) {
        struct ct_iv v = a->iv[i];
        if (v.to < newest - CT_DAY_MS - CT_HOUR_MS) {
            a->iv_floor = max64(a->iv_floor, v.to);
            continue;
        }
        if (v.to < n.from) {
            out[k++] = v;
        } else if (v.from > n.to) {
            if (!placed)
                out[k++] = n;
            placed = true;
            out[k++] = v;
        } else {
            n.from = min64(n.from, v.from);
            n.to = max64(n.to, v.to);
        }
    }
    if (!placed)
        out[k++] = n;
    /* A stretch dropped above may have raised the floor past the start of the new one (a
     * call longer than the 25 h kept, whose start was lost): the slots hold what lies
     * before the floor, and nothing in the union may start before it (ct_load checks). */
    int kept = 0;
    for (int i = 0; i < k; i++) {
        if (out[i].from < a->iv_floor)
            out[i].from = a->iv_floor;
        if (out[i].to > out[i].from)
            out[kept++] = out[i];
    }
    k = kept;
    /* The block is sized to what it holds. One that cannot grow (no memory) holds what fits:
     * the earliest go as past CT_IV_MAX, and windows reaching before the floor are judged on
     * the slots. */
    int want = iv_tier(k < CT_IV_MAX ? k : CT_IV_MAX);
    if (want != a->cap_iv) {
        struct ct_iv *b = want > 0 ? vigil_pool_alloc(iv_pool(st, want)) : NULL;
        if (b || want == 0) {
            if (a->iv)
                vigil_pool_free(iv_pool(st, a->cap_iv), a->iv);
            a->iv = b;
            a->cap_iv = (uint8_t)want;
        }
    }
    int skip = k > a->cap_iv ? k - a->cap_iv : 0;
    if (skip > 0)
        a->iv_floor = max64(a->iv_floor, out[skip - 1].to);
    a->n_iv = (uint8_t)(k - skip);
    if (a->n_iv > 0)
        memcpy(a->iv, out + skip, (size_t)a->n_iv * sizeof *a->iv);
}

/* The slot ring is there (allocated when missing). 0, or VIGIL_ERR_NOMEM (nothing changed). */
static int units_ready(const struct ct_state *st, struct ct_acct *a)
{
    if (!a->units && !(a->units = vigil_pool_alloc(st->p_units)))
        return VIGIL_ERR_NOMEM;
    return 0;
}

/* Gives the slot ring back once it holds nothing (all zero, as NULL reads). */
static void units_trim(const struct ct_state *st, struct ct_acct *a)
{
    if (a->units && a->sum_units == 0) {
        vigil_pool_free(st->p_units, a->units);
        a->units = NULL;
    }
}

/* Adds the interval [from, to) of an ended call to the slots and to the exact union. 0, or
 * VIGIL_ERR_NOMEM when the slots cannot be allocated (nothing changed). */
static int union_add(const struct ct_state *st, struct ct_acct *a, int64_t from, int64_t to)
{
    if (to > from && units_ready(st, a) != 0)
        return VIGIL_ERR_NOMEM;
    ring_add(a, from, to);
    iv_add(st, a, from, to);
    return 0;
}

/* Covered units of the window with the open calls' union [from, now) counted on the fly. */
static uint32_t ring_covered(const struct ct_acct *a, int64_t from, int64_t now)
{
    uint32_t sum = a->sum_units;
    if (a->head == INT64_MIN || from >= now)
        return sum;
    int64_t s0 = max64(vigil_floor_div(from, CT_SLOT_MS), a->head - CT_SLOTS + 1);
    int64_t s1 = min64(vigil_floor_div(now - 1, CT_SLOT_MS), a->head);
    for (int64_t s = s0; s <= s1; s++) {
        int i = slot_index(s);
        uint32_t u = a->units ? a->units[i] : 0;
        uint32_t v = u + slot_overlap(s, from, now);
        if (v > CT_SLOT_UNITS)
            v = CT_SLOT_UNITS;
        sum += v - u;
    }
    return sum;
}

/* Minutes covered in [now - 24 h, now): the ended calls' stretches and the open calls' union
 * [open_from, now), exactly to the millisecond, when iv[] holds the whole window; else (more
 * than CT_IV_MAX separate stretches in it) from the slots. */
static uint32_t union_minutes(const struct ct_acct *a, int64_t open_from, int64_t now)
{
    int64_t lo = now - CT_DAY_MS;
    if (a->iv_floor > lo)
        return ring_covered(a, open_from, now) / CT_UNITS_PER_MIN;
    int64_t os = max64(open_from, lo), ms = 0;
    for (int i = 0; i < a->n_iv; i++) {
        int64_t b = max64(a->iv[i].from, lo), e = min64(a->iv[i].to, now);
        if (e > b)
            ms += e - b;
        if (os < now && e > max64(b, os))
            ms -= e - max64(b, os); /* counted with the open calls below */
    }
    if (os < now)
        ms += now - os;
    return (uint32_t)(ms / CT_MIN_MS);
}

/* --- open calls ---------------------------------------------------------------------------- */

static int find_call(const struct ct_open *o, uint64_t id)
{
    for (int i = 0; i < o->n_calls; i++) {
        if (o->calls[i].id == id)
            return i;
    }
    return -1;
}

static bool has_end(const struct ct_open *o, uint64_t id)
{
    for (int i = 0; i < o->n_ends; i++) {
        if (o->ends[i].id == id)
            return true;
    }
    return false;
}

static void add_end(struct ct_open *o, uint64_t id, int64_t end_ms)
{
    int slot = o->n_ends;
    if (slot == CT_ENDS_MAX) {
        /* Full: the oldest end is the least likely to be repeated or to meet a late start. */
        slot = 0;
        for (int i = 1; i < CT_ENDS_MAX; i++) {
            if (o->ends[i].end_ms < o->ends[slot].end_ms)
                slot = i;
        }
    } else {
        o->n_ends++;
    }
    o->ends[slot] = (struct ct_end){.id = id, .end_ms = end_ms};
}

static bool open_idle(const struct ct_open *o)
{
    return o->n_calls == 0 && o->untracked == 0 && o->n_ends == 0;
}

/* Earliest start among tracked open calls; INT64_MAX when none. */
static int64_t open_min_start(const struct ct_open *o)
{
    int64_t m = INT64_MAX;
    for (int i = 0; o && i < o->n_calls; i++)
        m = min64(m, o->calls[i].start_ms);
    return m;
}

/* Key of a call in st->ids: 16 hex digits of a hash of account and call hash. */
static void id_key(char key[17], const char *account, uint64_t id)
{
    uint64_t h[2] = {vigil_acct_table_hash(account, strlen(account)), id};
    vigil_text_hex64(key, vigil_acct_table_hash(h, sizeof h));
}

static int ids_put(struct ct_state *st, const char *account, uint64_t id, const char *event_id)
{
    char key[17];
    id_key(key, account, id);
    char *v = vigil_acct_table_get(st->ids, key, NULL);
    if (!v)
        return VIGIL_ERR_NOMEM;
    vigil_text_copy(v, VIGIL_ID_MAX + 1, event_id);
    return 0;
}

static const char *ids_get(const struct ct_state *st, const char *account, uint64_t id)
{
    char key[17];
    id_key(key, account, id);
    return vigil_acct_table_find(st->ids, key);
}

static void ids_del(struct ct_state *st, const char *account, uint64_t id)
{
    char key[17];
    id_key(key, account, id);
    vigil_acct_table_remove(st->ids, key);
}

static void drop_call(struct ct_state *st, struct ct_open *o, const char *account, int i)
{
    ids_del(st, account, o->calls[i].id);
    o->n_calls--;
    o->calls[i] = o->calls[o->n_calls];
    o->fired[i] = o->fired[o->n_calls];
}

/* --- bookkeeping --------------------------------------------------------------------------- */

/* The part *s of a slot of `slot`, zeroed and allocated when `fresh`; NULL (the slot
 * released) when out of memory. */
/* The pool of slot `slot`'s parts. */
static struct vigil_pool *pool_of(const struct ct_state *st, int slot)
{
    return slot == st->s_acct ? st->p_acct : st->p_open;
}

static void *part_take(struct ct_state *st, int slot, void **s, bool fresh)
{
    if (!fresh)
        return *s;
    if (!(*s = vigil_pool_alloc(pool_of(st, slot))))
        vigil_recs_release(st->recs, slot, s);
    return *s;
}

/* Frees the part of slot s and releases the slot (off its dirty list too). */
static void part_drop(struct ct_state *st, int slot, void **s)
{
    vigil_pool_free(pool_of(st, slot), *s);
    vigil_recs_release(st->recs, slot, s);
}

/* fini of s_open (acct_rec.h): the slot holds one pointer to its part. */
static void part_fini(void *ctx, void *slot)
{
    void **s = slot;
    vigil_pool_free(ctx, *s);
    *s = NULL;
}

/* Gives back an account's heavy arrays (slot ring and stretches) to their pools. */
static void acct_parts_free(const struct ct_state *st, struct ct_acct *a)
{
    vigil_pool_free(st->p_units, a->units);
    a->units = NULL;
    a->sum_units = 0;
    if (a->iv)
        vigil_pool_free(iv_pool(st, a->cap_iv), a->iv);
    a->iv = NULL;
    a->n_iv = a->cap_iv = 0;
}

/* fini of s_acct: the ct_acct and the arrays it points to. */
static void acct_fini(void *ctx, void *slot)
{
    const struct ct_state *st = ctx;
    void **s = slot;
    if (*s)
        acct_parts_free(st, *s);
    vigil_pool_free(st->p_acct, *s);
    *s = NULL;
}

/* The account's ct_acct by id (a lookup), or NULL. */
static struct ct_acct *acct_find(const struct ct_state *st, const char *account)
{
    void **s = vigil_recs_find(st->recs, st->s_acct, account);
    return s ? *s : NULL;
}

/* The account's ct_open (no lookup), or NULL. */
static struct ct_open *open_find(const struct ct_state *st, const struct ct_acct *a)
{
    void **s = vigil_recs_sibling_find(st->recs, st->s_acct, a->home, st->s_open);
    return s ? *s : NULL;
}

/* Frees the account's ct_open, if any (has_open is the caller's). */
static void open_free(struct ct_state *st, const struct ct_acct *a)
{
    void **s = vigil_recs_sibling_find(st->recs, st->s_acct, a->home, st->s_open);
    if (s)
        part_drop(st, st->s_open, s);
}

static int mark_dirty(struct ct_state *st, struct ct_acct *a)
{
    if (a->dirty)
        return 0;
    if (vigil_recs_mark(st->recs, st->s_acct, a->home) != 0)
        return VIGIL_ERR_NOMEM;
    a->dirty = true;
    return 0;
}

static void heap_swap(struct ct_heap_ent *h, size_t i, size_t j)
{
    struct ct_heap_ent t = h[i];
    h[i] = h[j];
    h[j] = t;
}

/* Heap order: by deadline, and accounts due at the same time by name, so that what one tick
 * fires comes out in the same order whatever order the timers were armed in (a restart, a
 * compaction): the order brake holds the same orders. */
static bool heap_before(const struct ct_state *st, size_t i, size_t j)
{
    const struct ct_heap_ent *a = &st->heap[i], *b = &st->heap[j];
    if (a->due != b->due)
        return a->due < b->due;
    return strcmp(st->names[a->name], st->names[b->name]) < 0;
}

static void heap_sift_down(struct ct_state *st, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < st->n_heap && heap_before(st, l, m))
            m = l;
        if (r < st->n_heap && heap_before(st, r, m))
            m = r;
        if (m == i)
            break;
        heap_swap(st->heap, i, m);
        i = m;
    }
}

/* Drops the entries a pop would skip as stale (their account gone, or its deadline another
 * one), then restores the heap order: O(entries), run only when the heap is full. Stale
 * entries (one per re-armed deadline, each waiting for its own due time) can fill a heap
 * between two compactions, but after one at least half of it is free (heap_push grows it
 * otherwise), so it stays within about four times the live entries (one per account). */
static void heap_compact(struct ct_state *st)
{
    size_t k = 0;
    for (size_t i = 0; i < st->n_heap; i++) {
        struct ct_heap_ent e = st->heap[i];
        const struct ct_acct *a = acct_find(st, st->names[e.name]);
        if (a && a->due == e.due)
            st->heap[k++] = e;
        else
            st->free_names[st->n_free++] = e.name;
    }
    st->n_heap = k;
    for (size_t i = k / 2; i-- > 0;)
        heap_sift_down(st, i);
}

static int heap_grow(struct ct_state *st)
{
    size_t cap = st->cap_heap * 2;
    struct ct_heap_ent *h = realloc(st->heap, cap * sizeof *h);
    if (h)
        st->heap = h;
    char(*names)[VIGIL_ACCOUNT_MAX + 1] = h ? realloc(st->names, cap * sizeof *names) : NULL;
    if (names)
        st->names = names;
    uint32_t *fr = names ? realloc(st->free_names, cap * sizeof *fr) : NULL;
    if (!fr)
        return VIGIL_ERR_NOMEM; /* what was grown stays, unused: the old capacity holds */
    st->free_names = fr;
    st->cap_heap = cap;
    return 0;
}

static int heap_push(struct ct_state *st, int64_t due, const char *account)
{
    if (st->n_heap == st->cap_heap) {
        heap_compact(st);
        /* Grow unless compaction left at least half free: amortised O(1) per push. */
        if (st->n_heap > st->cap_heap / 2 && heap_grow(st) != 0 && st->n_heap == st->cap_heap)
            return VIGIL_ERR_NOMEM;
    }
    uint32_t name = st->n_free > 0 ? st->free_names[--st->n_free] : (uint32_t)st->n_names++;
    vigil_text_copy(st->names[name], sizeof st->names[name], account);
    size_t i = st->n_heap++;
    st->heap[i] = (struct ct_heap_ent){.due = due, .name = name};
    while (i > 0 && heap_before(st, i, (i - 1) / 2)) {
        heap_swap(st->heap, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return 0;
}

static void heap_pop(struct ct_state *st, struct ct_timer *top)
{
    uint32_t name = st->heap[0].name;
    top->due = st->heap[0].due;
    memcpy(top->account, st->names[name], sizeof top->account);
    st->free_names[st->n_free++] = name;
    st->heap[0] = st->heap[--st->n_heap];
    heap_sift_down(st, 0);
}

/* The near-continuous rule stands down for 24 h after a single-call critical. */
static bool near_suppressed(const struct ct_acct *a, int64_t now)
{
    return a->single_crit_ms != INT64_MIN && now < a->single_crit_ms + CT_DAY_MS;
}

static int64_t near_warn_level(const struct ct_state *st, const struct ct_acct *a)
{
    int64_t w = st->near_warn_min[a->profile];
    return w < st->near_min[a->profile] ? w : 0;
}

static int64_t single_warn_ms(const struct ct_state *st, const struct ct_acct *a)
{
    int64_t w = st->warn_ms[a->profile];
    return w < st->crit_ms[a->profile] ? w : 0;
}

/* The account's next deadline after an evaluation at `now`; INT64_MAX when none. */
static int64_t acct_due(const struct ct_state *st, const struct ct_acct *a, const struct ct_open *o,
                        int64_t now)
{
    int64_t due = INT64_MAX;
    if (!o)
        return due;
    int64_t warn = single_warn_ms(st, a), crit = st->crit_ms[a->profile];
    for (int i = 0; i < o->n_calls; i++) {
        int64_t s = o->calls[i].start_ms, d = s + st->max_open_ms;
        if (!(o->fired[i] & CT_FIRED_CRITICAL))
            d = min64(d, s + ((warn > 0 && !(o->fired[i] & CT_FIRED_WARNING)) ? warn : crit));
        due = min64(due, d);
    }
    if (o->untracked > 0)
        due = min64(due, o->untracked_last_ms + st->max_open_ms);
    for (int i = 0; i < o->n_ends; i++)
        due = min64(due, o->ends[i].end_ms + CT_END_GRACE_MS);
    if (o->n_calls > 0 && !(a->near_fired & CT_FIRED_CRITICAL)) {
        if (near_suppressed(a, now)) {
            due = min64(due, a->single_crit_ms + CT_DAY_MS);
        } else {
            /* The union grows at most as fast as event time while calls are open, so it
             * cannot reach the next level before `gap` minutes; a slot of slack covers the
             * rounding of partly covered slots. */
            int64_t w = near_warn_level(st, a);
            int64_t level =
                (w > 0 && !(a->near_fired & CT_FIRED_WARNING)) ? w : st->near_min[a->profile];
            int64_t gap_ms = (level - (int64_t)a->covered_min) * CT_MIN_MS - CT_SLOT_MS;
            due = min64(due, now + max64(CT_MIN_MS, gap_ms));
        }
    }
    return due;
}

static int register_due(struct ct_state *st, struct ct_acct *a, const char *account, int64_t due)
{
    if (due >= a->due)
        return 0; /* the live entry comes first; the account is re-judged then */
    int rc = heap_push(st, due, account);
    if (rc == 0)
        a->due = due;
    return rc;
}

/* --- findings ------------------------------------------------------------------------------ */

static int emit_single(const struct ct_state *st, const struct ct_acct *a, const char *account,
                       int64_t start_ms, enum vigil_severity sev, const char *sample,
                       struct vigil_emit *out)
{
    int64_t crit_min = st->crit_ms[a->profile] / CT_MIN_MS;
    int64_t mark_ms = sev == VIGIL_SEV_CRITICAL ? st->crit_ms[a->profile] : single_warn_ms(st, a);
    int64_t mark_min = mark_ms / CT_MIN_MS;
    char reason[256];
    if (sev == VIGIL_SEV_CRITICAL)
        snprintf(reason, sizeof reason,
                 "One call stayed open for %" PRId64
                 " minutes without hanging up (threshold %" PRId64
                 "): a long-open connection such as a baby monitor or a router",
                 mark_min, crit_min);
    else
        snprintf(reason, sizeof reason,
                 "One call stayed open for %" PRId64 " minutes without hanging up (warning "
                 "level %" PRId64 ", suspend at %" PRId64
                 "): possibly a baby monitor or a router left connected",
                 mark_min, mark_min, crit_min);
    struct vigil_finding f = {
        .detector = CT_NAME,
        .rule = CT_RULE_SINGLE,
        .severity = sev,
        .action = sev == VIGIL_SEV_CRITICAL ? VIGIL_ACT_SUSPEND : VIGIL_ACT_NONE,
        .account = account,
        .event_ts_ms = start_ms + mark_ms,
        .window_ms = CT_WINDOW_MS,
        .reason = reason,
        .evidence = {{"open_minutes", (double)mark_min},
                     {"threshold", (double)mark_min},
                     {"open_calls", (double)a->open}},
        .n_evidence = 3,
    };
    if (sample && sample[0])
        f.samples[f.n_samples++] = sample;
    return vigil_emit_finding(out, &f);
}

/* Fires the single-call marks of tracked calls reached by `now`, and expires calls, untracked
 * calls and remembered ends whose time is up. */
static int service_calls(struct ct_state *st, struct ct_acct *a, struct ct_open *o,
                         const char *account, int64_t now, struct vigil_emit *out)
{
    int64_t warn = single_warn_ms(st, a), crit = st->crit_ms[a->profile];
    int rc = 0;
    for (int i = 0; i < o->n_calls;) {
        const struct ct_call *c = &o->calls[i];
        /* A call never counts as open past max_open_ms, even if first seen after that. */
        int64_t age = min64(now - c->start_ms, st->max_open_ms);
        if (age >= crit && !(o->fired[i] & CT_FIRED_CRITICAL)) {
            o->fired[i] |= CT_FIRED_CRITICAL | CT_FIRED_WARNING;
            a->single_crit_ms = max64(a->single_crit_ms, c->start_ms + crit);
            if (rc == 0)
                rc = emit_single(st, a, account, c->start_ms, VIGIL_SEV_CRITICAL,
                                 ids_get(st, account, c->id), out);
        } else if (warn > 0 && age >= warn && !(o->fired[i] & CT_FIRED_WARNING)) {
            o->fired[i] |= CT_FIRED_WARNING;
            if (rc == 0)
                rc = emit_single(st, a, account, c->start_ms, VIGIL_SEV_WARNING,
                                 ids_get(st, account, c->id), out);
        }
        if (now - c->start_ms >= st->max_open_ms) {
            /* events.md: no longer open; it was connected all that time. No memory for its
             * time: it stays open until a later event or timer can count it. */
            if (union_add(st, a, c->start_ms, c->start_ms + st->max_open_ms) != 0) {
                if (rc == 0)
                    rc = VIGIL_ERR_NOMEM;
                i++;
                continue;
            }
            drop_call(st, o, account, i);
            continue;
        }
        i++;
    }
    if (o->untracked > 0 && now - o->untracked_last_ms >= st->max_open_ms)
        o->untracked = 0;
    for (int i = 0; i < o->n_ends;) {
        if (o->ends[i].end_ms + CT_END_GRACE_MS <= now)
            o->ends[i] = o->ends[--o->n_ends];
        else
            i++;
    }
    return rc;
}

/* Judges the near-continuous rule at `now` (ev: the event that triggered it, or NULL). */
static int check_near(struct ct_state *st, struct ct_acct *a, const struct ct_open *o,
                      const char *account, int64_t now, const struct vigil_event *ev,
                      struct vigil_emit *out)
{
    ring_advance(a, vigil_floor_div(now, CT_SLOT_MS));
    units_trim(st, a);
    uint32_t cov = union_minutes(a, open_min_start(o), now);
    if (cov != a->covered_min) {
        a->covered_min = cov;
        if (mark_dirty(st, a) != 0)
            return VIGIL_ERR_NOMEM;
    }
    int64_t crit = st->near_min[a->profile], warn = near_warn_level(st, a);
    if ((int64_t)cov < (warn > 0 ? warn : crit))
        a->near_fired = 0;
    if (near_suppressed(a, now))
        return 0;
    enum vigil_severity sev = (enum vigil_severity)vigil_episode_fire(
        &a->near_fired, warn > 0 && (int64_t)cov >= warn, (int64_t)cov >= crit);
    if (sev == 0)
        return 0;

    char reason[256];
    if (sev == VIGIL_SEV_CRITICAL)
        snprintf(reason, sizeof reason,
                 "Calls were connected for %" PRIu32 " of the last 1440 minutes (threshold %" PRId64
                 ", parallel calls counted once): near-continuous use such as a baby "
                 "monitor or a router redialling",
                 cov, crit);
    else
        snprintf(reason, sizeof reason,
                 "Calls were connected for %" PRIu32
                 " of the last 1440 minutes (warning level %" PRId64 ", suspend at %" PRId64
                 "): possibly near-continuous use",
                 cov, warn, crit);
    struct vigil_finding f = {
        .detector = CT_NAME,
        .rule = CT_RULE_NEAR,
        .severity = sev,
        .action = sev == VIGIL_SEV_CRITICAL ? VIGIL_ACT_SUSPEND : VIGIL_ACT_NONE,
        .account = account,
        .event_ts_ms = now,
        .window_ms = CT_WINDOW_MS,
        .reason = reason,
        .evidence = {{"connected_min_24h", (double)cov},
                     {"threshold", (double)(sev == VIGIL_SEV_CRITICAL ? crit : warn)},
                     {"open_calls", (double)a->open}},
        .n_evidence = 3,
    };
    if (ev)
        f.samples[f.n_samples++] = ev->id;
    for (int i = 0; o && i < o->n_calls && f.n_samples < VIGIL_SAMPLES_MAX; i++) {
        const char *s = ids_get(st, account, o->calls[i].id);
        if (s && (!ev || strcmp(s, ev->id) != 0))
            f.samples[f.n_samples++] = s;
    }
    return vigil_emit_finding(out, &f);
}

/* --- events -------------------------------------------------------------------------------- */

static struct ct_open *open_get(struct ct_state *st, struct ct_acct *a, const char *account)
{
    (void)account;
    bool fresh;
    void **s = vigil_recs_sibling(st->recs, st->s_acct, a->home, st->s_open, &fresh);
    struct ct_open *o = part_take(st, st->s_open, s, fresh);
    if (o)
        a->has_open = true;
    return o;
}

static int on_start(struct ct_state *st, struct ct_acct *a, struct ct_open **op,
                    const struct vigil_event *ev)
{
    uint64_t id = call_hash(ev->call_id);
    struct ct_open *o = *op;
    /* A repeated start of an open call, or the start of a call whose end came first. */
    if (o && (find_call(o, id) >= 0 || has_end(o, id)))
        return 0;
    if (!o && !(o = *op = open_get(st, a, ev->account)))
        return VIGIL_ERR_NOMEM;
    if (o->n_calls == CT_TRACKED_MAX) {
        o->untracked++;
        o->untracked_last_ms = max64(o->untracked_last_ms, ev->ts_ms);
        return 0;
    }
    int i = o->n_calls++;
    o->calls[i] = (struct ct_call){.id = id, .start_ms = ev->ts_ms};
    o->fired[i] = 0;
    return ids_put(st, ev->account, id, ev->id);
}

static int on_end(struct ct_state *st, struct ct_acct *a, struct ct_open **op,
                  const struct vigil_event *ev, struct vigil_emit *out)
{
    uint64_t id = call_hash(ev->call_id);
    struct ct_open *o = *op;
    if (o && has_end(o, id))
        return 0; /* delivered twice: its time is in the ring already */
    /* The slots first: without them the end is not taken (a tracked call stays open). */
    if (units_ready(st, a) != 0)
        return VIGIL_ERR_NOMEM;
    int i = o ? find_call(o, id) : -1;
    int64_t from;
    int rc = 0;
    if (i >= 0) {
        from = o->calls[i].start_ms;
        drop_call(st, o, ev->account, i);
    } else {
        if (o && o->untracked > 0)
            o->untracked--; /* maybe one of the calls whose id we could not keep */
        from = ev->ts_ms - (ev->duration_s > 0 ? ev->duration_s : 0) * 1000;
        /* Start lost: the end alone shows how long the call was open. */
        int64_t dur = ev->ts_ms - from;
        int64_t warn = single_warn_ms(st, a), crit = st->crit_ms[a->profile];
        if (dur >= crit) {
            a->single_crit_ms = max64(a->single_crit_ms, from + crit);
            rc = emit_single(st, a, ev->account, from, VIGIL_SEV_CRITICAL, ev->id, out);
        } else if (warn > 0 && dur >= warn) {
            rc = emit_single(st, a, ev->account, from, VIGIL_SEV_WARNING, ev->id, out);
        }
    }
    (void)union_add(st, a, from, ev->ts_ms); /* the slots are there: it cannot fail */
    if (!o && !(o = *op = open_get(st, a, ev->account)))
        return VIGIL_ERR_NOMEM;
    add_end(o, id, ev->ts_ms);
    return rc;
}

/* After an event or a timer: publishes the open count, drops an idle open entry, re-arms the
 * account's timer. */
static int settle(struct ct_state *st, struct ct_acct *a, struct ct_open *o, const char *account,
                  int64_t now)
{
    /* With calls open, longest_open_min has moved: publish at the next tick. */
    a->open = o ? o->n_calls + o->untracked : 0;
    if (o && mark_dirty(st, a) != 0)
        return VIGIL_ERR_NOMEM;
    if (o && open_idle(o)) {
        open_free(st, a);
        a->has_open = false;
        o = NULL;
    }
    return register_due(st, a, account, acct_due(st, a, o, now));
}

static bool is_emergency(const struct ct_state *st, const char *number)
{
    if (!st->np)
        return strcmp(number, "112") == 0;
    struct vigil_numclass nc;
    vigil_numplan_classify(st->np, number, &nc);
    return nc.emergency;
}

static int ct_on_event(void *state, const struct vigil_event *ev, struct vigil_emit *out)
{
    struct ct_state *st = state;
    if (ev->type != VIGIL_EV_CALL_START && ev->type != VIGIL_EV_CALL_END)
        return 0;
    if (ev->type == VIGIL_EV_CALL_END && !ev->answered)
        return 0; /* an attempt that never connected: no time on the line */
    if (ev->dir == VIGIL_DIR_OUT && is_emergency(st, ev->to))
        return 0; /* 112 is never held against anyone, however long the call */

    bool created;
    void **as = vigil_recs_slot(st->recs, st->s_acct, ev, &created);
    struct ct_acct *a = as ? part_take(st, st->s_acct, as, created) : NULL;
    if (!a)
        return VIGIL_ERR_NOMEM;
    if (created) {
        a->home = as;
        a->head = INT64_MIN;
        a->iv_floor = INT64_MIN;
        a->due = INT64_MAX;
        a->single_crit_ms = INT64_MIN;
        a->profile = (uint8_t)vigil_profiles_lookup(st->profiles, ev->account);
    }
    if (mark_dirty(st, a) != 0)
        return VIGIL_ERR_NOMEM;

    struct ct_open *o = a->has_open ? open_find(st, a) : NULL;
    int rc = 0;
    if (o) {
        a->open = o->n_calls + o->untracked; /* for the findings' evidence */
        rc = service_calls(st, a, o, ev->account, ev->ts_ms, out);
    }
    int r2 = ev->type == VIGIL_EV_CALL_START ? on_start(st, a, &o, ev) : on_end(st, a, &o, ev, out);
    if (rc == 0)
        rc = r2;
    if (rc == VIGIL_ERR_NOMEM)
        return rc;
    a->open = o ? o->n_calls + o->untracked : 0;
    int r3 = check_near(st, a, o, ev->account, ev->ts_ms, ev, out);
    int r4 = settle(st, a, o, ev->account, ev->ts_ms);
    if (rc == 0)
        rc = r3;
    return rc != 0 ? rc : r4;
}

/* --- ticks --------------------------------------------------------------------------------- */

/* A timer of `account` came due at the watermark. */
static int run_timer(struct ct_state *st, struct ct_acct *a, const char *account, int64_t wm,
                     struct vigil_emit *out)
{
    a->due = INT64_MAX;
    struct ct_open *o = a->has_open ? open_find(st, a) : NULL;
    int rc = 0;
    if (o) {
        a->open = o->n_calls + o->untracked; /* for the findings' evidence */
        rc = service_calls(st, a, o, account, wm, out);
    }
    a->open = o ? o->n_calls + o->untracked : 0;
    int r2 = check_near(st, a, o, account, wm, NULL, out);
    int r3 = settle(st, a, o, account, wm);
    if (rc == 0)
        rc = r2;
    return rc != 0 ? rc : r3;
}

/* The watermark entered a new hour: slide every account's union to it, so published
 * counters decay and empty accounts can go; accounts with open calls publish their age. */
static int sweep_hour(struct ct_state *st, int64_t wm)
{
    void **s;
    for (size_t it = 0; (s = vigil_recs_next(st->recs, st->s_acct, &it));) {
        struct ct_acct *a = *s;
        const struct ct_open *o = a->has_open ? open_find(st, a) : NULL;
        ring_advance(a, vigil_floor_div(wm, CT_SLOT_MS));
        units_trim(st, a);
        uint32_t cov = union_minutes(a, open_min_start(o), wm);
        int64_t warn = near_warn_level(st, a);
        if ((int64_t)cov < (warn > 0 ? warn : st->near_min[a->profile]))
            a->near_fired = 0;
        if (cov != a->covered_min || (o && o->n_calls > 0)) {
            a->covered_min = cov;
            if (mark_dirty(st, a) != 0)
                return VIGIL_ERR_NOMEM;
        }
    }
    return 0;
}

static int publish(struct ct_state *st, struct vigil_emit *out)
{
    size_t done = 0;
    int rc = 0;
    for (; done < vigil_recs_dirty_count(st->recs, st->s_acct); done++) {
        void **as = vigil_recs_dirty_at(st->recs, st->s_acct, done);
        const char *account = vigil_recs_account(st->recs, st->s_acct, as);
        struct ct_acct *a = *as;
        int64_t longest = 0;
        if (a->has_open && st->wm != INT64_MIN) {
            int64_t m = open_min_start(open_find(st, a));
            if (m != INT64_MAX && st->wm > m)
                longest = (st->wm - m) / CT_MIN_MS;
        }
        struct vigil_counter c[] = {
            {"open_calls", a->open},
            {"longest_open_min", longest},
            {"connected_min_24h", a->covered_min},
        };
        rc = vigil_emit_counters(out, account, CT_NAME, c, sizeof c / sizeof c[0], st->ttl_s);
        if (rc != 0)
            break;
        a->dirty = false;
    }
    /* After a sink failure the rest stays listed for the next tick. */
    vigil_recs_dirty_consume(st->recs, st->s_acct, done);
    return rc;
}

/* Nothing in the last 24 h and no open calls: nothing that could change a later report. */
static bool acct_idle(const struct ct_acct *a)
{
    return !a->has_open && a->sum_units == 0 && a->covered_min == 0;
}

/* Drops idle accounts (after publish()). Their stale heap entries find no account and are
 * skipped. */
static void reap_accounts(struct ct_state *st)
{
    void **s;
    for (size_t it = 0; (s = vigil_recs_next(st->recs, st->s_acct, &it));) {
        struct ct_acct *a = *s;
        if (!a->dirty && acct_idle(a)) {
            acct_parts_free(st, a);
            part_drop(st, st->s_acct, s);
        }
    }
}

static int ct_on_tick(void *state, int64_t watermark_ms, struct vigil_emit *out)
{
    struct ct_state *st = state;
    if (watermark_ms == INT64_MIN)
        return publish(st, out);
    if (watermark_ms > st->wm || st->wm == INT64_MIN)
        st->wm = watermark_ms;
    int64_t wm = st->wm;
    int rc = 0;
    while (rc == 0 && st->n_heap > 0 && st->heap[0].due <= wm) {
        struct ct_timer t;
        heap_pop(st, &t);
        struct ct_acct *a = acct_find(st, t.account);
        if (!a || a->due != t.due)
            continue; /* stale: the account was dropped or re-armed earlier since */
        rc = run_timer(st, a, t.account, wm, out);
    }
    int64_t hour = vigil_floor_div(wm, CT_HOUR_MS);
    bool rolled = hour > st->wm_hour;
    if (rc == 0 && rolled)
        rc = sweep_hour(st, wm);
    if (rc == 0)
        rc = publish(st, out);
    if (rc != 0)
        return rc;
    if (rolled) {
        reap_accounts(st);
        st->wm_hour = hour;
    }
    return 0;
}

/* --- checkpoints --------------------------------------------------------------------------- */

/* Bytes of one account (ct_save), in the shared encoding (state_codec.h: integers
 * little-endian, i64 as two's complement):
 *   u8  version (CT_SAVE_VERSION)
 *   u64 cfg_sig of the account's thresholds when it was saved
 *   ct_acct: i64 head, due, single_crit_ms (their INT64_MIN / INT64_MAX markers kept);
 *            u32 covered_min; u8 near_fired;
 *            u8 units[CT_SLOTS] (absolute slot s at s % CT_SLOTS)
 *            i64 iv_floor; u8 n_iv (<= CT_IV_MAX), per stretch: i64 from, i64 to
 *   u8  has_open (0 or 1), then, when 1, its ct_open:
 *            u32 untracked; i64 untracked_last_ms;
 *            u8 n_calls (<= CT_TRACKED_MAX), per call: u64 id, i64 start_ms, u8 fired,
 *               u8 length of its start event id (CT_NO_EID: none kept), that many bytes
 *            u8 n_ends (<= CT_ENDS_MAX), per end: u64 id, i64 end_ms
 * Not saved but derived on load: sum_units (from units), open (from the calls), profile
 * (from the current profiles), has_open and dirty (this process's bookkeeping). */
#define CT_SAVE_VERSION 2 /* 2: the exact union's stretches */
#define CT_NO_EID 0xff    /* above VIGIL_ID_MAX */
/* Loaded times lie within +-2^53 ms (285,000 years): beyond any event time, and far enough
 * from the int64_t limits that adding a day or turning a slot into ms never overflows. */
#define CT_TS_LIM (1LL << 53)

/* The thresholds an account's deadline was computed with. Saved with the state: a load under
 * other thresholds must not trust that deadline. */
static uint64_t cfg_sig(const struct ct_state *st, int profile)
{
    int64_t v[] = {st->warn_ms[profile], st->crit_ms[profile], st->near_min[profile],
                   st->near_warn_min[profile], st->max_open_ms};
    return vigil_acct_table_hash(v, sizeof v);
}

static void save_acct(struct vigil_state_writer *w, const struct ct_state *st,
                      const struct ct_acct *a)
{
    vigil_state_put_u64(w, cfg_sig(st, a->profile));
    vigil_state_put_i64(w, a->head);
    vigil_state_put_i64(w, a->due);
    vigil_state_put_i64(w, a->single_crit_ms);
    vigil_state_put_u32(w, a->covered_min);
    vigil_state_put_u8(w, a->near_fired);
    static const uint8_t zero[CT_SLOTS];
    vigil_state_put_raw(w, a->units ? a->units : zero, CT_SLOTS);
    vigil_state_put_i64(w, a->iv_floor);
    vigil_state_put_u8(w, a->n_iv);
    for (int i = 0; i < a->n_iv; i++) {
        vigil_state_put_i64(w, a->iv[i].from);
        vigil_state_put_i64(w, a->iv[i].to);
    }
}

static void save_open(struct vigil_state_writer *w, const struct ct_state *st,
                      const struct ct_open *o, const char *account)
{
    vigil_state_put_u8(w, o != NULL);
    if (!o)
        return;
    vigil_state_put_u32(w, o->untracked);
    vigil_state_put_i64(w, o->untracked_last_ms);
    vigil_state_put_u8(w, o->n_calls);
    for (int i = 0; i < o->n_calls; i++) {
        /* A call whose id did not fit in st->ids (out of memory) has none. */
        const char *eid = ids_get(st, account, o->calls[i].id);
        size_t n = eid ? strnlen(eid, VIGIL_ID_MAX) : 0;
        vigil_state_put_u64(w, o->calls[i].id);
        vigil_state_put_i64(w, o->calls[i].start_ms);
        vigil_state_put_u8(w, o->fired[i]);
        vigil_state_put_u8(w, (uint8_t)(eid ? n : CT_NO_EID));
        if (n > 0) /* eid may be NULL then */
            vigil_state_put_raw(w, eid, n);
    }
    vigil_state_put_u8(w, o->n_ends);
    for (int i = 0; i < o->n_ends; i++) {
        vigil_state_put_u64(w, o->ends[i].id);
        vigil_state_put_i64(w, o->ends[i].end_ms);
    }
}

/* Looks up the account and its open calls only: O(its state). An idle account (kept until
 * the next hourly reap) holds nothing and writes nothing. */
static int ct_save(void *state, const char *account, struct vigil_bytes *out)
{
    const struct ct_state *st = state;
    const struct ct_acct *a = acct_find(st, account);
    if (!a || acct_idle(a))
        return 0;
    const struct ct_open *o = a->has_open ? open_find(st, a) : NULL;
    struct vigil_state_writer w;
    vigil_state_write_begin(&w, out, CT_SAVE_VERSION);
    save_acct(&w, st, a);
    save_open(&w, st, o, account);
    return vigil_state_write_end(&w); /* on failure out is as it was */
}

/* Frees the account's ct_acct and releases its slot (off the dirty list too). */
static void remove_acct(struct ct_state *st, struct ct_acct *a)
{
    acct_parts_free(st, a);
    part_drop(st, st->s_acct, a->home);
}

/* Drops the account's open calls: their start event ids and its struct ct_open. */
static void drop_open(struct ct_state *st, struct ct_acct *a, const char *account)
{
    const struct ct_open *o = a->has_open ? open_find(st, a) : NULL;
    if (o) {
        for (int i = 0; i < o->n_calls; i++)
            ids_del(st, account, o->calls[i].id);
        open_free(st, a);
    }
    a->has_open = false;
}

/* Heap entries are left in place (removing them would mean a walk of the heap): they find no
 * account when popped, or one re-created since with another deadline, and are skipped. Should
 * a re-created account's deadline be equal, the entry fires exactly when its own would. */
static void ct_forget(void *state, const char *account)
{
    struct ct_state *st = state;
    struct ct_acct *a = acct_find(st, account);
    if (!a)
        return;
    drop_open(st, a, account);
    remove_acct(st, a);
}

/* An account's state read back from bytes and checked, not yet in the tables. */
struct ct_saved {
    uint64_t sig;
    struct ct_acct a; /* its pointers unused: the arrays are read into units and iv */
    uint8_t units[CT_SLOTS];
    struct ct_iv iv[CT_IV_MAX];
    struct ct_open o;
    bool has_open;
    bool has_eid[CT_TRACKED_MAX];
    char eid[CT_TRACKED_MAX][VIGIL_ID_MAX + 1];
};

static bool ms_ok(int64_t t)
{
    return t >= -CT_TS_LIM && t <= CT_TS_LIM;
}

static bool slot_ok(int64_t slot)
{
    return slot >= -CT_TS_LIM / CT_SLOT_MS && slot <= CT_TS_LIM / CT_SLOT_MS;
}

static bool load_acct(struct vigil_bytes_reader *r, struct ct_saved *s)
{
    struct ct_acct *a = &s->a;
    if (r->bad) /* the version byte (vigil_state_read_begin) */
        return false;
    s->sig = vigil_state_get_u64(r);
    a->head = vigil_state_get_i64(r);
    a->due = vigil_state_get_i64(r);
    a->single_crit_ms = vigil_state_get_i64(r);
    uint64_t cov = vigil_state_get_u32(r), fired = vigil_state_get_u8(r);
    vigil_state_get_raw(r, s->units, sizeof s->units);
    if (r->bad)
        return false;
    for (int i = 0; i < CT_SLOTS; i++) {
        if (s->units[i] > CT_SLOT_UNITS)
            return false;
        a->sum_units += s->units[i];
    }
    a->covered_min = (uint32_t)cov;
    a->near_fired = (uint8_t)fired;
    /* The stretches: sorted, disjoint, not touching, none before the floor. */
    a->iv_floor = vigil_state_get_i64(r);
    uint64_t n_iv = vigil_state_get_u8(r);
    if (n_iv > CT_IV_MAX || (a->iv_floor != INT64_MIN && !ms_ok(a->iv_floor)))
        return false;
    a->n_iv = (uint8_t)n_iv;
    struct ct_iv *iv = s->iv;
    for (int i = 0; i < a->n_iv; i++) {
        iv[i].from = vigil_state_get_i64(r);
        iv[i].to = vigil_state_get_i64(r);
        if (!ms_ok(iv[i].from) || !ms_ok(iv[i].to) || iv[i].to <= iv[i].from ||
            iv[i].from < a->iv_floor || (i > 0 && iv[i].from <= iv[i - 1].to))
            return false;
    }
    bool head_ok = a->head == INT64_MIN ? a->sum_units == 0 : slot_ok(a->head);
    bool due_ok = a->due == INT64_MIN || a->due == INT64_MAX || ms_ok(a->due);
    bool crit_ok = a->single_crit_ms == INT64_MIN || ms_ok(a->single_crit_ms);
    return head_ok && due_ok && crit_ok && cov <= CT_SLOTS * CT_SLOT_UNITS / CT_UNITS_PER_MIN &&
           fired <= (CT_FIRED_WARNING | CT_FIRED_CRITICAL);
}

/* Tracked call i (s->o.n_calls already set; the calls after i are still zero). */
static bool load_call(struct vigil_bytes_reader *r, struct ct_saved *s, int i)
{
    struct ct_call *c = &s->o.calls[i];
    c->id = vigil_state_get_u64(r);
    c->start_ms = vigil_state_get_i64(r);
    uint64_t fired = vigil_state_get_u8(r), n = vigil_state_get_u8(r);
    /* Two calls with one id would share one entry in st->ids. */
    if (r->bad || !ms_ok(c->start_ms) || fired > (CT_FIRED_WARNING | CT_FIRED_CRITICAL) ||
        find_call(&s->o, c->id) != i)
        return false;
    s->o.fired[i] = (uint8_t)fired;
    if (n == CT_NO_EID)
        return true;
    s->has_eid[i] = true;
    return n <= VIGIL_ID_MAX && vigil_bytes_get(r, s->eid[i], n) && !memchr(s->eid[i], 0, n);
}

static bool load_open(struct vigil_bytes_reader *r, struct ct_saved *s)
{
    struct ct_open *o = &s->o;
    uint64_t has = vigil_state_get_u8(r);
    if (has == 0)
        return !r->bad;
    o->untracked = (uint32_t)vigil_state_get_u32(r);
    o->untracked_last_ms = vigil_state_get_i64(r);
    uint64_t n = vigil_state_get_u8(r);
    /* open = n_calls + untracked must fit its uint32_t. */
    if (r->bad || has != 1 || o->untracked > UINT32_MAX - CT_TRACKED_MAX ||
        !ms_ok(o->untracked_last_ms) || n > CT_TRACKED_MAX)
        return false;
    o->n_calls = (uint8_t)n;
    for (int i = 0; i < o->n_calls; i++) {
        if (!load_call(r, s, i))
            return false;
    }
    n = vigil_state_get_u8(r);
    if (n > CT_ENDS_MAX)
        return false;
    o->n_ends = (uint8_t)n;
    for (int i = 0; i < o->n_ends; i++) {
        o->ends[i].id = vigil_state_get_u64(r);
        o->ends[i].end_ms = vigil_state_get_i64(r);
        if (!ms_ok(o->ends[i].end_ms))
            return false;
    }
    /* settle() never leaves an idle entry; should one come, it is simply not kept. */
    s->has_open = !open_idle(o);
    return !r->bad;
}

/* The account's slot ring (when not all zero) and stretches (in a block sized to them), from
 * s; a has none yet. */
static int restore_parts(const struct ct_state *st, struct ct_acct *a, const struct ct_saved *s)
{
    a->units = NULL;
    a->iv = NULL;
    a->cap_iv = 0;
    if (a->sum_units > 0) {
        if (units_ready(st, a) != 0)
            goto fail;
        memcpy(a->units, s->units, CT_SLOTS);
    }
    if (a->n_iv > 0) {
        int cap = iv_tier(a->n_iv);
        if (!(a->iv = vigil_pool_alloc(iv_pool(st, cap))))
            goto fail;
        a->cap_iv = (uint8_t)cap;
        memcpy(a->iv, s->iv, (size_t)a->n_iv * sizeof *a->iv);
    }
    return 0;

fail:
    a->n_iv = 0; /* the account goes (ct_load): what it holds must be consistent to free */
    a->sum_units = 0;
    return VIGIL_ERR_NOMEM;
}

/* The account's open calls and their start event ids, from s. */
static int restore_open(struct ct_state *st, struct ct_acct *a, const char *account,
                        const struct ct_saved *s)
{
    a->open = 0;
    if (!s->has_open)
        return 0;
    struct ct_open *o = open_get(st, a, account);
    if (!o)
        return VIGIL_ERR_NOMEM;
    *o = s->o;
    a->open = o->n_calls + o->untracked;
    for (int i = 0; i < o->n_calls; i++) {
        if (s->has_eid[i] && ids_put(st, account, o->calls[i].id, s->eid[i]) != 0)
            return VIGIL_ERR_NOMEM;
    }
    return 0;
}

/* The next tick runs the hourly sweep, whatever the hour. */
static void ct_resweep(void *state)
{
    struct ct_state *st = state;
    st->wm_hour = INT64_MIN;
}

/* Puts the checked state in place of whatever the account had. The timer is re-armed at the
 * saved deadline when the thresholds are those it was computed with; otherwise it is due at
 * once, and the first tick re-judges the account under the current thresholds (a timer that
 * comes early fires nothing the state does not call for). */
static int load_apply(struct ct_state *st, const char *account, const struct ct_saved *s)
{
    bool created;
    void **as = vigil_recs_slot_of(st->recs, st->s_acct, account, &created);
    struct ct_acct *a = as ? part_take(st, st->s_acct, as, created) : NULL;
    if (!a)
        return VIGIL_ERR_NOMEM;
    if (created)
        a->home = as;
    /* A live heap entry exists for the old deadline: no second one for the same. */
    int64_t old_due = created ? INT64_MAX : a->due;
    bool dirty = a->dirty;
    drop_open(st, a, account);
    acct_parts_free(st, a); /* the saved arrays take their place */
    *a = s->a;
    a->dirty = dirty;
    a->home = as;
    a->profile = (uint8_t)vigil_profiles_lookup(st->profiles, account);
    if (a->due != INT64_MAX && cfg_sig(st, a->profile) != s->sig)
        a->due = INT64_MIN;
    int rc = restore_parts(st, a, s);
    if (rc == 0)
        rc = restore_open(st, a, account, s);
    if (rc == 0)
        rc = mark_dirty(st, a); /* publish its counters at the next tick */
    if (rc == 0 && a->due != INT64_MAX && a->due != old_due)
        rc = heap_push(st, a->due, account);
    /* This state's hourly sweep may have passed the account's hour: sweep again at the
     * next tick, as if the account had been here all along. */
    ct_resweep(st);
    return rc;
}

/* Reads and checks everything before touching the state. */
static int ct_load(void *state, const char *account, const void *data, size_t len)
{
    struct ct_state *st = state;
    if (!vigil_acct_key_ok(account))
        return VIGIL_ERR_INVALID;
    struct ct_saved s;
    memset(&s, 0, sizeof s);
    struct vigil_bytes_reader r;
    vigil_state_read_begin(&r, data, len, CT_SAVE_VERSION);
    if (!load_acct(&r, &s) || !load_open(&r, &s) || vigil_state_read_end(&r) != 0)
        return VIGIL_ERR_INVALID;
    int rc = load_apply(st, account, &s);
    if (rc != 0)
        ct_forget(st, account); /* out of memory half way: nothing rather than half */
    return rc;
}

/* --- life cycle ---------------------------------------------------------------------------- */

static void ct_destroy(void *state)
{
    struct ct_state *st = state;
    if (!st)
        return;
    vigil_recs_destroy(st->own_recs);
    vigil_pool_destroy(st->p_acct);
    vigil_pool_destroy(st->p_open);
    vigil_pool_destroy(st->p_units);
    vigil_pool_destroy(st->p_iv_s);
    vigil_pool_destroy(st->p_iv_m);
    vigil_pool_destroy(st->p_iv_l);
    vigil_acct_table_destroy(st->ids);
    free(st->heap);
    free(st->names);
    free(st->free_names);
    free(st);
}

static int ct_init(void **state, const struct vigil_detector_env *env)
{
    *state = NULL;
    if (!env || !env->cfg)
        return VIGIL_ERR_INVALID;
    struct ct_state *st = calloc(1, sizeof *st);
    if (!st)
        return VIGIL_ERR_NOMEM;
    st->np = env->numplan;
    st->profiles = env->profiles;
    int64_t warn_min[VIGIL_PROFILE_COUNT], crit_min[VIGIL_PROFILE_COUNT];
    vigil_profile_ints(env->cfg, "continuous.single_call_warning_min", warn_min);
    vigil_profile_ints(env->cfg, "continuous.single_call_critical_min", crit_min);
    vigil_profile_ints(env->cfg, "continuous.near_continuous_min", st->near_min);
    vigil_profile_ints(env->cfg, "continuous.near_continuous_warning_min", st->near_warn_min);
    for (int p = 0; p < VIGIL_PROFILE_COUNT; p++) {
        st->warn_ms[p] = warn_min[p] * CT_MIN_MS;
        st->crit_ms[p] = crit_min[p] * CT_MIN_MS;
    }
    st->max_open_ms = vigil_config_int(env->cfg, "continuous.max_open_call_ms");
    st->ttl_s = vigil_config_int(env->cfg, "redis.counter_ttl_s");
    st->wm = INT64_MIN;
    st->wm_hour = INT64_MIN;
    st->cap_heap = 256;
    st->heap = malloc(st->cap_heap * sizeof *st->heap);
    st->names = malloc(st->cap_heap * sizeof *st->names);
    st->free_names = malloc(st->cap_heap * sizeof *st->free_names);
    st->recs = env->recs ? env->recs : (st->own_recs = vigil_recs_create(1024));
    st->ids = vigil_acct_table_create(VIGIL_ID_MAX + 1, 64);
    st->p_acct = vigil_pool_create(sizeof(struct ct_acct));
    st->p_open = vigil_pool_create(sizeof(struct ct_open));
    st->p_units = vigil_pool_create(CT_SLOTS);
    st->p_iv_s = vigil_pool_create(CT_IV_SMALL * sizeof(struct ct_iv));
    st->p_iv_m = vigil_pool_create(CT_IV_MID * sizeof(struct ct_iv));
    st->p_iv_l = vigil_pool_create(CT_IV_MAX * sizeof(struct ct_iv));
    if (!st->heap || !st->names || !st->free_names || !st->recs || !st->ids || !st->p_acct ||
        !st->p_open || !st->p_units || !st->p_iv_s || !st->p_iv_m || !st->p_iv_l)
        goto fail;
    st->s_acct = vigil_recs_declare_part(st->recs, acct_fini, st);
    st->s_open = vigil_recs_declare_part(st->recs, part_fini, st->p_open);
    if (st->s_acct < 0 || st->s_open < 0)
        goto fail;
    *state = st;
    return 0;

fail:
    ct_destroy(st);
    return VIGIL_ERR_NOMEM;
}

static const char *const ct_rules[] = {CT_RULE_SINGLE, CT_RULE_NEAR, NULL};

const struct vigil_detector_ops vigil_det_continuous = {
    .name = CT_NAME,
    .keys = ct_keys,
    .rules = ct_rules,
    .init = ct_init,
    .on_event = ct_on_event,
    .on_tick = ct_on_tick,
    .destroy = ct_destroy,
    .save = ct_save,
    .load = ct_load,
    .forget = ct_forget,
    .resweep = ct_resweep,
};

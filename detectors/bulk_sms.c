/* SPDX-License-Identifier: Apache-2.0 */
/* bulk_sms.c - spam and bulk SMS from one sending number (shared/spec/detection.md,
 * "bulk_sms"; terms.md, fair use clause 5).
 *
 * Rules, per sending number (`from`) of an account, thresholds per account profile
 * (profile.h); every rule acts when its count reaches the level, at the SMS that completes
 * it (event_ts = that SMS's ts), so detection is immediate in event time:
 *   bulk_sms.rate  >= sms_15m (300) SMS within 15 minutes -> critical, block_sms; a warning
 *       first at sms_15m_warning (100, a third). The spec counts messages (events), not the
 *       segments billed for them; segments go into the counters.
 *   bulk_sms.distinct_recipients  >= recipients_15m (100) distinct `to` numbers within
 *       15 minutes -> critical, block_sms; warning at recipients_15m_warning (34).
 *   bulk_sms.same_body  >= same_body_15m (50) distinct recipients of one text (`body_hash`)
 *       within 15 minutes -> critical, block_sms; warning at same_body_15m_warning (17). A
 *       recipient who gets the same text twice counts once; an SMS without body_hash never
 *       counts here (identical texts cannot be told apart).
 * A number gets at most one critical finding per episode (the first rule to reach its level;
 * a blast trips all three, and three critical alerts for one blast tell the NOC nothing
 * more), and each rule warns at most once per episode, never after the critical. A rule
 * re-arms when its count falls below its warning level; the critical re-arms when all three
 * have. emit.c adds one order per (account, block_sms, bulk_sms) while it stands.
 *
 * Windows: every rule is judged on exactly [newest - 15 min, newest], both ends included, at
 * millisecond event time, where newest is the number's newest SMS (the SMS being judged
 * unless it arrived late: events.md allows 60 s of disorder; a late SMS is judged on the 15
 * minutes ending at it as well, each rule on the larger count). Per-minute buckets (the
 * newest SMS's minute and the 15 before it) give a cheap upper bound; a rule whose bound
 * reaches its lowest level is counted again exactly (window.h): SMS from the times of the
 * number's latest cap_t SMS (cap_t = the highest sms_15m of any profile, at most 4096 in the
 * pool entry; a higher level, up to VIGIL_WIN_LEVEL_MAX, grows the number's times in the
 * worker's store while more lie within reach, window.h; only in the window after a restore
 * are the buckets used above cap_t), recipients from the millisecond each was last sent to. A light
 * number (at most 8 SMS) is always counted exactly from its list. An SMS older than the number's
 * bucket window is ignored. The account's counters (sms_15m, segments_15m, sms_1h) stay in
 * buckets: they order nothing.
 *
 * Duplicates (the same event id delivered twice): a duplicate counts again for bulk_sms.rate
 * and the sms/segments counters (events carry nothing cheaper than the id to tell it by);
 * it does not change distinct recipients or same-body counts, which are sets of recipients.
 * A duplicate storm can therefore only raise the rate count of a number that really sent the
 * SMS; full event-id dedup is a later pipeline feature.
 *
 * State per worker, in a pointer slot of the account records (acct_rec.h; 8 bytes of every
 * record), an account table (acct_table.h) and a pool:
 *   acct:    every account with an SMS in the last hour: struct bs_acct, 152 bytes,
 *            allocated at its first SMS and freed once idle: per-minute rings of SMS,
 *            segments and busiest-number recipients, 5-minute slots for sms_1h, and the
 *            entry number of one of its senders.
 *   senders: every (account, from) with an SMS in its window, keyed by
 *            "<hash of account as 16 hex digits><from>": struct bs_sender, 232 bytes
 *            (~330 bytes with the key and index slot). A number that sent at
 *            most BS_RECENT (8) SMS in its window keeps them as (recipient hash, text hash,
 *            minute) and all counts are computed from that list, exactly. The senders of
 *            one account form a ring (entry numbers of the next and previous one, and a
 *            pointer to its account's part, which never moves), so that one account's
 *            numbers are found without a walk of all senders; removals keep the rings right.
 *   heavy:   the 9th SMS in a window promotes the number to a pool entry (and replays its
 *            list into it): per-minute SMS counts, a set of recipient hashes with the minute
 *            each was last sent to, and BS_BODIES (4) text slots each with its own recipient
 *            set, plus the last 5 event ids as samples, and the times of its latest cap_t
 *            SMS. Bytes per heavy number: ~900 + 16 x (cap_r + 4 x cap_b) + 8 x cap_t,
 *            where cap_r / cap_b are the powers of two >= 2 x the highest recipients_15m /
 *            same_body_15m of any profile (defaults 256 and 128) and cap_t the highest
 *            sms_15m (300): ~15.6 KB. The pool grows amortised and reuses freed entries; a number
 *            stays heavy until it has been idle for a whole window.
 * Numbers with no SMS in their window (at the watermark) are dropped at on_tick, freeing
 * their pool entry; accounts are dropped once every counter reads 0 (published once) and
 * none of their numbers is left. The watermark is the whole stream's: a partition lagging it
 * by more than 15 minutes of event time would see its numbers start again from nothing.
 *   due:     a min-heap of (minute, account) with, per account, a minute no later than the
 *            first at which one of its counts leaves its rings (struct bs_acct.due: a
 *            count of minute x leaves the 16-minute rings at x + 16, one of 5-minute slot
 *            y leaves sms5 at (y + 13) x 5), and a list of the accounts that may have
 *            become removable (published, or their last number dropped) since the last
 *            moving tick: a tick rolls and judges only those, in record order, so that
 *            its cost is what is due, not what is held, and what it marks, publishes and
 *            frees comes out as a walk of every account would have. Stale heap entries
 *            (the account gone, or its due moved) are skipped when they come up. 16 bytes
 *            per entry, about one per account.
 *
 * Bounds and their error:
 * - Recipients are kept as 64-bit hashes (two recipients of one number colliding among the
 *   few hundred that matter: ~1e-15), texts as 32-bit ones (two of a number's 4 texts
 *   colliding: ~1e-9, and would merge their recipient sets).
 * - A recipient set holds at most 7/8 of its capacity of live entries (>= 1.75 x the
 *   highest threshold); past that, new recipients are not counted. The rule has fired by
 *   then, so only the recipients_15m counter saturates (at 224 with the defaults). Entries
 *   whose minute left the window are reused in place or purged when the set fills.
 * - Texts: 4 slots per number; a new text takes the slot with the fewest recipients in
 *   the window (the oldest of equals). A blast that rotates more than 4 texts evenly can
 *   keep every slot small, but then needs 100 distinct recipients or 300 SMS for 50 copies
 *   of each, which the other two rules catch.
 *
 * Counters, per account, published at on_tick for accounts whose values changed (every
 * minute of watermark while they slide to zero; TTL redis.counter_ttl_s): sms_15m and
 * segments_15m (all numbers, in minute buckets: 15-16 minutes), recipients_15m (the highest
 * distinct-recipient count any of its numbers reached in that window), sms_1h (5-minute
 * slots: the current one and the 12 before it, 60-65 minutes).
 *
 * Checkpoints (detector.h): save writes an account and its numbers, heavy ones with their
 * sets and samples by value in the shared little-endian encoding (state_codec.h; the order
 * of fields is bs_save's), in O(that account's state) through its ring of senders; load
 * checks the bytes completely before it changes anything, and refuses sets that no longer
 * fit the current cap_r / cap_b; forget drops an account and its numbers, fixing the entry
 * numbers that sender removals move (rings).
 *
 * Threading: one state per worker thread (detector.h): no locks, no atomics.
 * Ownership: init allocates the state, its table, pool and scratch (and account records of its
 * own when the env has none); destroy frees them; the slot owns the part it points to. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/acct_rec.h"
#include "vigil/acct_table.h"
#include "vigil/detector.h"
#include "vigil/due_heap.h"
#include "vigil/privacy.h"
#include "vigil/profile.h"
#include "vigil/state_codec.h"
#include "vigil/status.h"
#include "vigil/text.h"
#include "vigil/window.h"

#define BS_NAME "bulk_sms"
#define BS_MIN_MS 60000LL
#define BS_WIN_MIN 15                         /* whole minutes before the newest one */
#define BS_SLOTS 16                           /* BS_WIN_MIN + 1, a power of two */
#define BS_WINDOW_MS (BS_WIN_MIN * BS_MIN_MS) /* order and alert ids hash ts / 15 min */
#define BS_H_SLOTS 13                         /* 5-minute slots for sms_1h */
#define BS_H_MIN 5
#define BS_RECENT 8 /* SMS a number keeps one by one; the 9th in a window promotes it */
#define BS_BODIES 4 /* texts tracked per heavy number */
#define BS_FIRED_CRIT 0x8
#define BS_TIMES_MAX 4096 /* SMS times in a heavy number's pool entry; more grow (window.h) */

enum { BS_RATE = 0, BS_RCPT = 1, BS_BODY = 2, BS_RULES = 3 };

static const char *const rule_names[BS_RULES] = {
    "bulk_sms.rate",
    "bulk_sms.distinct_recipients",
    "bulk_sms.same_body",
};
static const char *const metric_names[BS_RULES] = {
    "sms_15m",
    "recipients_15m",
    "same_body_recipients_15m",
};

/* One SMS of a number that has sent few. */
struct bs_recent {
    uint64_t to;   /* hash of `to`, never 0 */
    uint32_t body; /* hash of body_hash; 0 when the SMS had none */
    int32_t min;   /* event-time minute */
    uint16_t ms;   /* and the millisecond in it */
};

/* Every (account, from) with an SMS in its window. */
struct bs_sender {
    int32_t head_min; /* minute of the newest SMS: the window is [head - 15, head] */
    uint16_t head_ms; /* and its millisecond: rules judge [newest - 15 min, newest] */
    uint32_t heavy;   /* pool index + 1; 0 while the number keeps recent[] */
    struct bs_recent recent[BS_RECENT];
    struct bs_acct *acct; /* its account's part (never moves while the sender lives) */
    uint32_t next, prev; /* entry numbers of its account's other senders: a ring */
    uint8_t n_recent;
    uint8_t fired; /* bit r: rule r warned; BS_FIRED_CRIT: the critical fired */
};

/* A set of recipient hashes with the minute each was last sent to; rmin[slot(m)] counts the
 * entries whose minute is m, so the distinct recipients in the window are the sum. The
 * entries (struct bs_ent, open addressing, linear probing, h == 0 empty) live in the pool
 * entry after the header. */
struct bs_wset {
    uint32_t used; /* non-empty entries, live or stale */
    uint16_t rmin[BS_SLOTS];
};

struct bs_ent {
    uint64_t h;  /* hash of the recipient, never 0 */
    int32_t min; /* minute the recipient was last sent to */
    uint16_t ms; /* and the millisecond in it */
};

struct bs_body {
    uint32_t key;     /* hash of body_hash; 0: free */
    int32_t last_min; /* newest SMS with this text */
    struct bs_wset set;
};

/* A number past BS_RECENT SMS in its window. Followed in the pool by cap_r recipient
 * entries, BS_BODIES x cap_b text-recipient entries and cap_t SMS times. */
struct bs_heavy {
    /* 8-aligned, so its size is too: the 64-bit entries after it are aligned. */
    _Alignas(8) uint16_t cnt[BS_SLOTS]; /* SMS per minute (saturating) */
    uint16_t n_t;                       /* SMS times kept (window.h time ring, sorted) */
    struct bs_wset rcpt;
    struct bs_body body[BS_BODIES];
    char samples[VIGIL_SAMPLES_MAX][VIGIL_ID_MAX + 1]; /* the latest event ids */
    uint8_t n_samples, next_sample;
    uint32_t next_free; /* free list: pool index + 1 of the next free entry */
};

/* Every account with an SMS in the last hour. */
struct bs_acct {
    int32_t head_min;          /* newest minute of the 16-slot rings */
    uint16_t sms[BS_SLOTS];    /* SMS per minute */
    uint16_t seg[BS_SLOTS];    /* segments per minute */
    uint16_t rcpt[BS_SLOTS];   /* highest distinct-recipient count of a number, per minute */
    uint16_t sms5[BS_H_SLOTS]; /* SMS per 5 minutes, slots up to head_min / 5 */
    uint8_t profile;
    uint8_t flags;    /* BS_A_DIRTY, BS_A_CAND */
    uint32_t sender1; /* entry number + 1 of one of its senders (the ring); 0: none */
    int32_t due;      /* a minute <= the first at which a count leaves its rings (a roll to
                         it changes something), with an entry in the due heap; 0: none */
    void **home;      /* the account's slot in the records (the pointer to this struct) */
    uint32_t epoch;   /* the state's rolling ticks counted when its head was last brought up
                         to date (roll_min) */
};

#define BS_A_DIRTY 0x1 /* on the records' dirty list of s_acct */
#define BS_A_CAND 0x2  /* in the state's list of accounts to check for removal */

/* An account to visit at a tick, with its record number: visits go in record order, the
 * order of a walk of every account (vigil_recs_next), so that what they mark dirty and free
 * comes out in the same order as that walk's. */
struct bs_visit {
    size_t num;
    void **home;
};

struct bs_state {
    const struct vigil_profiles *profiles;
    int64_t crit[BS_RULES][VIGIL_PROFILE_COUNT];
    int64_t warn[BS_RULES][VIGIL_PROFILE_COUNT]; /* 0: no warning */
    int64_t ttl_s;
    uint32_t cap_r, cap_b; /* entries per recipient set / per text set, powers of two */
    uint16_t cap_t;        /* SMS times per heavy number: the highest sms_15m, <= 4096 */
    uint32_t rate_level[VIGIL_PROFILE_COUNT]; /* sms_15m, or its warning if higher: times
                                                 grow past cap_t up to it */
    struct vigil_win_more *more; /* grown SMS-time rings of heavy numbers, keyed by entry */
    size_t times_off;            /* bytes from a pool entry to its SMS times (8-aligned) */
    size_t stride;               /* bytes per pool entry */
    unsigned char *pool;
    uint32_t n_pool, cap_pool, free_pool; /* free_pool: index + 1 of a free entry, or 0 */
    struct bs_ent *scratch;               /* max(cap_r, cap_b) entries, for purges */
    /* Slot s_acct of the account records (acct_rec.h): a pointer to struct bs_acct,
     * allocated at the account's first SMS; its dirty list: the accounts changed since the
     * last tick. */
    struct vigil_recs *recs;
    struct vigil_recs *own_recs;      /* recs when the env gave none; NULL otherwise */
    int s_acct;
    struct vigil_pool *p_acct;        /* the struct bs_acct parts */
    struct vigil_acct_table *senders; /* struct bs_sender */
    int64_t wm_min;              /* minute of the last tick's watermark */
    /* The ticks visit only what is due: a min-heap of due minutes (struct bs_acct.due), and
     * the accounts that may have become removable (published, or their last number
     * dropped) since the last removal pass. due_lost / cand_lost: an entry could not be
     * added (out of memory), so the next moving tick walks every account as it used to. */
    /* The due heap: (minute, the account's slot in the records) for accounts whose rings must
     * be rolled at the tick that reaches that minute. Entries are not removed when the
     * account's due changes or it goes: one whose minute is not its account's due any more is
     * skipped. */
    struct vigil_due_heap due;
    struct bs_visit *cand;
    size_t n_cand, cap_cand;
    struct bs_visit *visit; /* scratch: the accounts due at a tick */
    size_t n_visit, cap_visit;
    bool due_lost, cand_lost;
    /* A tick rolls what is due; the other accounts would only have moved their head_min to
     * the tick's minute (nothing leaves their rings), which is done when they are next used:
     * roll_epoch counts the ticks that rolled, roll_min is the latest one's minute. */
    uint32_t roll_epoch;
    int32_t roll_min;
};

static const struct vigil_config_key bs_keys[] = {
    {"bulk_sms.sms_15m", VIGIL_CFG_INT, "300", 1, VIGIL_WIN_LEVEL_MAX,
     "SMS from one sending number within 15 minutes that block the account's SMS. At most 10000, "
     "the highest level counted exactly."
     ""},
    {"bulk_sms.sms_15m_warning", VIGIL_CFG_INT, "100", 0, VIGIL_WIN_LEVEL_MAX,
     "SMS from one sending number within 15 minutes that raise a warning alert first (0: no "
     "warning)."},
    {"bulk_sms.recipients_15m", VIGIL_CFG_INT, "100", 1, 4096,
     "Distinct recipients of one sending number within 15 minutes that block the account's "
     "SMS."},
    {"bulk_sms.recipients_15m_warning", VIGIL_CFG_INT, "34", 0, 4096,
     "Distinct recipients of one sending number within 15 minutes that raise a warning alert "
     "first (0: no warning)."},
    {"bulk_sms.same_body_15m", VIGIL_CFG_INT, "50", 1, 4096,
     "Distinct recipients of one text (body_hash) from one sending number within 15 minutes "
     "that block the account's SMS."},
    {"bulk_sms.same_body_15m_warning", VIGIL_CFG_INT, "17", 0, 4096,
     "Distinct recipients of one text from one sending number within 15 minutes that raise a "
     "warning alert first (0: no warning)."},
    {0},
};

static const char *const crit_keys[BS_RULES] = {
    "bulk_sms.sms_15m",
    "bulk_sms.recipients_15m",
    "bulk_sms.same_body_15m",
};
static const char *const warn_keys[BS_RULES] = {
    "bulk_sms.sms_15m_warning",
    "bulk_sms.recipients_15m_warning",
    "bulk_sms.same_body_15m_warning",
};

/* Event times are after 2000 (events.md), so minutes are positive and fit an int32. */
static unsigned slot(int32_t m)
{
    return (unsigned)m & (BS_SLOTS - 1);
}

static uint16_t sat16(uint32_t v)
{
    return v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
}

/* 64 bits for recipients: two distinct recipients of one number never fold into one
 * (~1e-16 among a few hundred), so distinct counts are exact up to their thresholds. */
/* Of a recipient's number: keyed when pseudonymised, as the state is checkpointed to Redis
 * and an unkeyed hash of a number is reversed by trying numbers. */
static uint64_t hash64(const char *s)
{
    uint64_t h = vigil_privacy_enabled() ? vigil_privacy_hash(s, strlen(s))
                                         : vigil_acct_table_hash(s, strlen(s));
    return h ? h : 1;
}

static uint32_t hash32(const char *s)
{
    uint64_t h = vigil_acct_table_hash(s, strlen(s));
    uint32_t v = (uint32_t)(h ^ (h >> 32));
    return v ? v : 1;
}

static uint32_t ring_sum(const uint16_t *r, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += r[i];
    return s;
}

/* Moves a 16-slot per-minute ring from newest minute `from` to `to` (> from), clearing the
 * minutes that enter it. True if a non-zero count left. */
static bool ring_roll(uint16_t *r, int32_t from, int32_t to)
{
    bool changed = false;
    if ((int64_t)to - from >= BS_SLOTS) {
        changed = ring_sum(r, BS_SLOTS) != 0;
        memset(r, 0, BS_SLOTS * sizeof *r);
        return changed;
    }
    for (int32_t m = from + 1; m <= to; m++) {
        changed |= r[slot(m)] != 0;
        r[slot(m)] = 0;
    }
    return changed;
}

/* --- the heavy pool ------------------------------------------------------------------------ */

static struct bs_heavy *heavy_at(const struct bs_state *st, uint32_t idx)
{
    return (struct bs_heavy *)(void *)(st->pool + (size_t)idx * st->stride);
}

static struct bs_ent *rcpt_ents(struct bs_heavy *h)
{
    return (struct bs_ent *)(void *)(h + 1);
}

static struct bs_ent *body_ents(const struct bs_state *st, struct bs_heavy *h, int k)
{
    return rcpt_ents(h) + st->cap_r + (size_t)k * st->cap_b;
}

static int64_t *heavy_times(const struct bs_state *st, struct bs_heavy *h)
{
    return (int64_t *)(void *)((unsigned char *)h + st->times_off);
}

/* The key of a heavy number's grown time ring: its pool entry's number + 1. */
static uint64_t heavy_key(const struct bs_state *st, const struct bs_heavy *h)
{
    return (uint64_t)(((const unsigned char *)h - st->pool) / (ptrdiff_t)st->stride) + 1;
}

static int64_t ent_ms(int32_t min, uint16_t ms)
{
    return (int64_t)min * BS_MIN_MS + ms;
}

/* A zeroed pool entry; its number + 1 in *out. Grows the pool amortised. */
static int heavy_alloc(struct bs_state *st, uint32_t *out)
{
    uint32_t idx;
    if (st->free_pool) {
        idx = st->free_pool - 1;
        st->free_pool = heavy_at(st, idx)->next_free;
    } else {
        if (st->n_pool == st->cap_pool) {
            uint32_t cap = st->cap_pool ? st->cap_pool * 2 : 16;
            unsigned char *p = realloc(st->pool, (size_t)cap * st->stride);
            if (!p)
                return VIGIL_ERR_NOMEM;
            st->pool = p;
            st->cap_pool = cap;
        }
        idx = st->n_pool++;
    }
    memset(heavy_at(st, idx), 0, st->stride);
    *out = idx + 1;
    return 0;
}

static void heavy_free(struct bs_state *st, uint32_t ref)
{
    struct bs_heavy *h = heavy_at(st, ref - 1);
    vigil_win_more_forget(st->more, ref);
    h->next_free = st->free_pool;
    st->free_pool = ref;
}

/* --- windowed recipient sets --------------------------------------------------------------- */

static void wset_place(struct bs_ent *e, uint32_t cap, struct bs_ent v)
{
    uint32_t i = (uint32_t)v.h & (cap - 1);
    while (e[i].h != 0)
        i = (i + 1) & (cap - 1);
    e[i] = v;
}

/* Drops entries whose minute is before lo (they no longer count anywhere). */
static void wset_purge(struct bs_wset *w, struct bs_ent *e, uint32_t cap, struct bs_ent *scratch,
                       int32_t lo)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < cap; i++) {
        if (e[i].h != 0 && e[i].min >= lo)
            scratch[n++] = e[i];
    }
    memset(e, 0, (size_t)cap * sizeof *e);
    for (uint32_t k = 0; k < n; k++)
        wset_place(e, cap, scratch[k]);
    w->used = n;
}

/* Records that recipient h got an SMS in minute m (lo <= m <= the window's newest minute):
 * a recipient not in the window is counted in m; one already counted in an earlier minute
 * moves to m (so it leaves the window 15 minutes after its latest SMS); one already counted
 * in m or later is unchanged. When the set is full of live entries, h is not counted. */
static void wset_touch(struct bs_wset *w, struct bs_ent *e, uint32_t cap, struct bs_ent *scratch,
                       uint64_t h, int32_t m, uint16_t ms, int32_t lo)
{
    uint32_t mask = cap - 1;
    for (int attempt = 0; attempt < 2; attempt++) {
        uint32_t i = (uint32_t)h & mask;
        int64_t reuse = -1;
        bool empty = false;
        for (uint32_t n = 0; n < cap; n++, i = (i + 1) & mask) {
            if (e[i].h == 0) {
                empty = true;
                break;
            }
            if (e[i].h == h) {
                int32_t prev = e[i].min;
                if (prev >= lo && prev > m)
                    return;
                if (prev >= lo && prev == m) {
                    if (ms > e[i].ms)
                        e[i].ms = ms; /* the latest time it was sent to, to the millisecond */
                    return;
                }
                if (prev >= lo)
                    w->rmin[slot(prev)]--;
                e[i].min = m;
                e[i].ms = ms;
                w->rmin[slot(m)]++;
                return;
            }
            /* A stale entry (its minute left the window) counts nowhere: its place can be
             * taken, but the probe goes on in case h sits further down the chain. */
            if (reuse < 0 && e[i].min < lo)
                reuse = i;
        }
        if (reuse >= 0) {
            e[reuse] = (struct bs_ent){h, m, ms};
            w->rmin[slot(m)]++;
            return;
        }
        if (empty && w->used < cap - cap / 8) {
            e[i] = (struct bs_ent){h, m, ms};
            w->used++;
            w->rmin[slot(m)]++;
            return;
        }
        /* Full: worth a purge only if some entries are stale. */
        if (attempt > 0 || ring_sum(w->rmin, BS_SLOTS) >= w->used)
            return;
        wset_purge(w, e, cap, scratch, lo);
    }
}

static uint32_t wset_count(const struct bs_wset *w)
{
    return ring_sum(w->rmin, BS_SLOTS);
}

/* --- per number ---------------------------------------------------------------------------- */

/* What the rules look at: SMS, distinct recipients, and the highest count of distinct
 * recipients of one text, in the number's window. */
struct bs_measure {
    uint32_t v[BS_RULES];
};

/* Recipients of a set last sent to in [from, to]. */
static uint32_t wset_exact(const struct bs_ent *e, uint32_t cap, int64_t from, int64_t to)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < cap; i++) {
        if (e[i].h != 0) {
            int64_t t = ent_ms(e[i].min, e[i].ms);
            n += t >= from && t <= to;
        }
    }
    return n;
}

/* A light number's SMS in [from, to], one by one: exact. */
static void light_measure(const struct bs_sender *s, int64_t from, int64_t to,
                          struct bs_measure *out)
{
    struct bs_recent in[BS_RECENT];
    int n_in = 0;
    for (int i = 0; i < s->n_recent; i++) {
        int64_t t = ent_ms(s->recent[i].min, s->recent[i].ms);
        if (t >= from && t <= to)
            in[n_in++] = s->recent[i];
    }
    memset(out, 0, sizeof *out);
    out->v[BS_RATE] = (uint32_t)n_in;
    for (int i = 0; i < n_in; i++) {
        bool first = true;
        for (int j = 0; j < i && first; j++)
            first = in[j].to != in[i].to;
        out->v[BS_RCPT] += first;
        if (in[i].body == 0)
            continue;
        /* Distinct recipients of this text, counted once per text (at its first entry). */
        bool first_body = true;
        for (int j = 0; j < i && first_body; j++)
            first_body = in[j].body != in[i].body;
        if (!first_body)
            continue;
        uint32_t n = 0;
        for (int j = i; j < n_in; j++) {
            if (in[j].body != in[i].body)
                continue;
            bool seen = false;
            for (int k = i; k < j && !seen; k++)
                seen = in[k].body == in[i].body && in[k].to == in[j].to;
            n += !seen;
        }
        if (n > out->v[BS_BODY])
            out->v[BS_BODY] = n;
    }
}

/* A heavy number's counts. The per-minute counts cover the window's 15 to 16 minutes, more
 * than [from, to]: an upper bound, enough while below every level of the rule. A rule at or
 * above its lowest level (low[r]) is counted again exactly on [from, to], from the SMS times
 * and the time each recipient was last sent to. */
static void heavy_measure(const struct bs_state *st, struct bs_heavy *h, int64_t from, int64_t to,
                          const int64_t low[BS_RULES], struct bs_measure *out)
{
    out->v[BS_RATE] = ring_sum(h->cnt, BS_SLOTS);
    out->v[BS_RCPT] = wset_count(&h->rcpt);
    out->v[BS_BODY] = 0;
    for (int k = 0; k < BS_BODIES; k++) {
        uint32_t n = wset_count(&h->body[k].set);
        if (n > out->v[BS_BODY])
            out->v[BS_BODY] = n;
    }
    if ((int64_t)out->v[BS_RATE] >= low[BS_RATE]) {
        bool more;
        uint32_t n = vigil_win_more_count(st->more, heavy_key(st, h), heavy_times(st, h), st->cap_t,
                                          h->n_t, from, to, &more);
        /* Every time kept inside (the highest level reached, or the times before a restore
         * missing): at least that many, the buckets say how many more. */
        if (!more || n > out->v[BS_RATE])
            out->v[BS_RATE] = n;
    }
    if ((int64_t)out->v[BS_RCPT] >= low[BS_RCPT])
        out->v[BS_RCPT] = wset_exact(rcpt_ents(h), st->cap_r, from, to);
    if ((int64_t)out->v[BS_BODY] >= low[BS_BODY]) {
        out->v[BS_BODY] = 0;
        for (int k = 0; k < BS_BODIES; k++) {
            if (h->body[k].key == 0)
                continue;
            uint32_t n = wset_exact(body_ents(st, h, k), st->cap_b, from, to);
            if (n > out->v[BS_BODY])
                out->v[BS_BODY] = n;
        }
    }
}

/* The slot of text `body` in h, taking the quietest one (the oldest of equals) for a new
 * text. */
static int body_slot(const struct bs_state *st, struct bs_heavy *h, uint32_t body)
{
    int victim = 0;
    uint32_t best = UINT32_MAX;
    for (int k = 0; k < BS_BODIES; k++) {
        if (h->body[k].key == body)
            return k;
        uint32_t n = h->body[k].key ? wset_count(&h->body[k].set) : 0;
        if (n < best || (n == best && h->body[k].last_min < h->body[victim].last_min)) {
            best = n;
            victim = k;
        }
    }
    struct bs_body *b = &h->body[victim];
    if (b->set.used > 0)
        memset(body_ents(st, h, victim), 0, (size_t)st->cap_b * sizeof(struct bs_ent));
    memset(b, 0, sizeof *b);
    b->key = body;
    return victim;
}

/* Adds an SMS to a heavy number; its times grow past cap_t up to the highest sms_15m of the
 * account's profile. */
static void heavy_add(struct bs_state *st, struct bs_heavy *h, const struct bs_recent *r,
                      int32_t lo, int profile)
{
    h->cnt[slot(r->min)] = sat16(h->cnt[slot(r->min)] + 1u);
    vigil_win_more_add(st->more, heavy_key(st, h), heavy_times(st, h), st->cap_t, &h->n_t,
                       ent_ms(r->min, r->ms), st->rate_level[profile], BS_WINDOW_MS);
    wset_touch(&h->rcpt, rcpt_ents(h), st->cap_r, st->scratch, r->to, r->min, r->ms, lo);
    if (r->body == 0)
        return;
    int k = body_slot(st, h, r->body);
    struct bs_body *b = &h->body[k];
    wset_touch(&b->set, body_ents(st, h, k), st->cap_b, st->scratch, r->to, r->min, r->ms, lo);
    if (r->min > b->last_min)
        b->last_min = r->min;
}

static void heavy_sample(struct bs_heavy *h, const char *event_id)
{
    vigil_text_copy(h->samples[h->next_sample], sizeof h->samples[0], event_id);
    h->next_sample = (uint8_t)((h->next_sample + 1) % VIGIL_SAMPLES_MAX);
    if (h->n_samples < VIGIL_SAMPLES_MAX)
        h->n_samples++;
}

/* Moves the number's window so that minute m (millisecond ms in it) is its newest. */
static void sender_advance(struct bs_state *st, struct bs_sender *s, int32_t m, uint16_t ms)
{
    if (m == s->head_min && ms > s->head_ms)
        s->head_ms = ms;
    if (m <= s->head_min)
        return;
    s->head_ms = ms;
    if (s->heavy) {
        struct bs_heavy *h = heavy_at(st, s->heavy - 1);
        ring_roll(h->cnt, s->head_min, m);
        ring_roll(h->rcpt.rmin, s->head_min, m);
        for (int k = 0; k < BS_BODIES; k++)
            ring_roll(h->body[k].set.rmin, s->head_min, m);
    }
    s->head_min = m;
}

/* The lowest level of each rule for a profile: counts below it need no exact count. */
static void low_levels(const struct bs_state *st, int profile, int64_t low[BS_RULES])
{
    for (int r = 0; r < BS_RULES; r++) {
        int64_t w = st->warn[r][profile], c = st->crit[r][profile];
        low[r] = w > 0 && w < c ? w : c;
    }
}

/* Adds one SMS (its minute within the window) and measures [newest - 15 min, newest]. */
static int sender_add(struct bs_state *st, struct bs_sender *s, const struct bs_recent *r,
                      const char *event_id, int profile, struct bs_measure *m)
{
    int32_t lo = s->head_min - BS_WIN_MIN;
    int64_t to = ent_ms(s->head_min, s->head_ms), from = to - BS_WINDOW_MS;
    if (!s->heavy) {
        int n = 0;
        for (int i = 0; i < s->n_recent; i++) {
            if (s->recent[i].min >= lo)
                s->recent[n++] = s->recent[i];
        }
        s->n_recent = (uint8_t)n;
        if (n < BS_RECENT) {
            s->recent[s->n_recent++] = *r;
            light_measure(s, from, to, m);
            int64_t t = ent_ms(r->min, r->ms);
            if (t < to) {
                /* A late SMS: the 15 minutes ending at it count too. */
                struct bs_measure m2;
                light_measure(s, t - BS_WINDOW_MS, t, &m2);
                for (int k = 0; k < BS_RULES; k++)
                    m->v[k] = m2.v[k] > m->v[k] ? m2.v[k] : m->v[k];
            }
            return 0;
        }
        /* The 9th SMS in the window: from here on counts and sets. */
        uint32_t ref;
        if (heavy_alloc(st, &ref) != 0)
            return VIGIL_ERR_NOMEM;
        s->heavy = ref;
        struct bs_heavy *h = heavy_at(st, ref - 1);
        for (int i = 0; i < s->n_recent; i++)
            heavy_add(st, h, &s->recent[i], lo, profile);
        s->n_recent = 0;
    }
    struct bs_heavy *h = heavy_at(st, s->heavy - 1);
    heavy_add(st, h, r, lo, profile);
    heavy_sample(h, event_id);
    int64_t low[BS_RULES];
    low_levels(st, profile, low);
    heavy_measure(st, h, from, to, low, m);
    int64_t t = ent_ms(r->min, r->ms);
    if (t < to) {
        /* A late SMS: the 15 minutes ending at it count too (what they hold from before the
         * number's bucket window may already be gone: never more than they held). */
        struct bs_measure m2;
        heavy_measure(st, h, t - BS_WINDOW_MS, t, low, &m2);
        for (int k = 0; k < BS_RULES; k++)
            m->v[k] = m2.v[k] > m->v[k] ? m2.v[k] : m->v[k];
    }
    return 0;
}

/* --- findings ------------------------------------------------------------------------------ */

static int emit_rule(const struct bs_state *st, const struct bs_sender *s, int rule,
                     enum vigil_severity sev, int profile, const struct bs_measure *m,
                     const struct vigil_event *ev, struct vigil_emit *out)
{
    int64_t crit = st->crit[rule][profile];
    int64_t level = sev == VIGIL_SEV_CRITICAL ? crit : st->warn[rule][profile];
    uint32_t v = m->v[rule];
    char what[96], reason[320], tok[VIGIL_PRIVACY_TOKEN_LEN + 1];
    const char *from = vigil_privacy_show(ev->from, tok);
    switch (rule) {
    case BS_RATE:
        snprintf(what, sizeof what, "sent %" PRIu32 " SMS", v);
        break;
    case BS_RCPT:
        snprintf(what, sizeof what, "sent SMS to %" PRIu32 " distinct recipients", v);
        break;
    default:
        snprintf(what, sizeof what, "sent the same text to %" PRIu32 " distinct recipients", v);
        break;
    }
    if (sev == VIGIL_SEV_CRITICAL)
        snprintf(reason, sizeof reason,
                 "Number %s %s within 15 minutes (threshold %" PRId64
                 "): bulk SMS or spam from one number, SMS blocked.",
                 from, what, level);
    else
        snprintf(reason, sizeof reason,
                 "Number %s %s within 15 minutes (warning level %" PRId64 ", block at %" PRId64
                 "): possible bulk SMS or spam from one number.",
                 from, what, level, crit);

    struct vigil_finding f = {
        .detector = BS_NAME,
        .rule = rule_names[rule],
        .severity = sev,
        .action = sev == VIGIL_SEV_CRITICAL ? VIGIL_ACT_BLOCK_SMS : VIGIL_ACT_NONE,
        .account = ev->account,
        .event_ts_ms = ev->ts_ms,
        .window_ms = BS_WINDOW_MS,
        .reason = reason,
    };
    f.evidence[f.n_evidence++] = (struct vigil_evidence){metric_names[rule], (double)v};
    f.evidence[f.n_evidence++] = (struct vigil_evidence){"threshold", (double)level};
    if (sev == VIGIL_SEV_WARNING)
        f.evidence[f.n_evidence++] = (struct vigil_evidence){"block_threshold", (double)crit};
    for (int r = 0; r < BS_RULES; r++) {
        if (r != rule)
            f.evidence[f.n_evidence++] = (struct vigil_evidence){metric_names[r], (double)m->v[r]};
    }
    if (s->heavy) {
        const struct bs_heavy *h = heavy_at(st, s->heavy - 1);
        for (int k = 0; k < h->n_samples; k++) {
            int i = (h->next_sample + VIGIL_SAMPLES_MAX - h->n_samples + k) % VIGIL_SAMPLES_MAX;
            f.samples[f.n_samples++] = h->samples[i];
        }
    } else {
        f.samples[f.n_samples++] = ev->id;
    }
    return vigil_emit_finding(out, &f);
}

static int check_rules(const struct bs_state *st, struct bs_sender *s, int profile,
                       const struct bs_measure *m, const struct vigil_event *ev,
                       struct vigil_emit *out)
{
    bool all_low = true;
    for (int r = 0; r < BS_RULES; r++) {
        int64_t rearm = st->warn[r][profile] > 0 ? st->warn[r][profile] : st->crit[r][profile];
        if ((int64_t)m->v[r] < rearm)
            s->fired &= (uint8_t) ~(1u << r);
        else
            all_low = false;
    }
    if (all_low)
        s->fired = 0;
    if (s->fired & BS_FIRED_CRIT)
        return 0;
    for (int r = 0; r < BS_RULES; r++) {
        if ((int64_t)m->v[r] >= st->crit[r][profile]) {
            s->fired = BS_FIRED_CRIT | 0x7;
            return emit_rule(st, s, r, VIGIL_SEV_CRITICAL, profile, m, ev, out);
        }
    }
    for (int r = 0; r < BS_RULES; r++) {
        int64_t w = st->warn[r][profile];
        if (w > 0 && (int64_t)m->v[r] >= w && !(s->fired & (1u << r))) {
            s->fired |= (uint8_t)(1u << r);
            int rc = emit_rule(st, s, r, VIGIL_SEV_WARNING, profile, m, ev, out);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* --- per account --------------------------------------------------------------------------- */

/* Moves the account's rings so that minute m is the newest; true if a count left. */
static bool acct_roll(struct bs_acct *a, int32_t m)
{
    if (m <= a->head_min)
        return false;
    bool changed = ring_roll(a->sms, a->head_min, m);
    changed |= ring_roll(a->seg, a->head_min, m);
    changed |= ring_roll(a->rcpt, a->head_min, m);
    int32_t from5 = a->head_min / BS_H_MIN, to5 = m / BS_H_MIN;
    if ((int64_t)to5 - from5 >= BS_H_SLOTS) {
        changed |= ring_sum(a->sms5, BS_H_SLOTS) != 0;
        memset(a->sms5, 0, sizeof a->sms5);
    } else {
        for (int32_t x = from5 + 1; x <= to5; x++) {
            changed |= a->sms5[x % BS_H_SLOTS] != 0;
            a->sms5[x % BS_H_SLOTS] = 0;
        }
    }
    a->head_min = m;
    return changed;
}

static uint16_t ring_max(const uint16_t *r)
{
    uint16_t mx = 0;
    for (int i = 0; i < BS_SLOTS; i++)
        mx = r[i] > mx ? r[i] : mx;
    return mx;
}

static bool acct_zero(const struct bs_acct *a)
{
    return ring_sum(a->sms, BS_SLOTS) == 0 && ring_sum(a->seg, BS_SLOTS) == 0 &&
           ring_sum(a->rcpt, BS_SLOTS) == 0 && ring_sum(a->sms5, BS_H_SLOTS) == 0;
}

static int mark_dirty(struct bs_state *st, struct bs_acct *a)
{
    if (a->flags & BS_A_DIRTY)
        return 0;
    if (vigil_recs_mark(st->recs, st->s_acct, a->home) != 0)
        return VIGIL_ERR_NOMEM;
    a->flags |= BS_A_DIRTY;
    return 0;
}

/* The first minute at which a roll changes a's rings (a non-zero count leaves), or 0 when
 * they are all zero: a count of minute x leaves the 16-minute rings at x + 16, one of
 * 5-minute slot y leaves sms5 at (y + 13) x 5. */
static int32_t acct_due(const struct bs_acct *a)
{
    int32_t due = 0, h = a->head_min;
    for (int32_t x = h - BS_WIN_MIN; x <= h; x++) {
        unsigned k = slot(x);
        if (a->sms[k] | a->seg[k] | a->rcpt[k]) {
            due = x + BS_SLOTS;
            break;
        }
    }
    int32_t h5 = h / BS_H_MIN;
    for (int32_t y = h5 - (BS_H_SLOTS - 1); y <= h5; y++) {
        if (a->sms5[y % BS_H_SLOTS]) {
            int32_t d = (y + BS_H_SLOTS) * BS_H_MIN;
            due = due == 0 || d < due ? d : due;
            break;
        }
    }
    return due;
}

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

/* Brings a's head to where the ticks since it was last used would have moved it. */
static void catch_up(const struct bs_state *st, struct bs_acct *a)
{
    if (a->epoch != st->roll_epoch) {
        acct_roll(a, st->roll_min); /* nothing leaves: a would have been due */
        a->epoch = st->roll_epoch;
    }
}

/* a's head_min as catch_up would make it, without changing a. */
static int32_t head_now(const struct bs_state *st, const struct bs_acct *a)
{
    if (a->epoch != st->roll_epoch && st->roll_min > a->head_min)
        return st->roll_min;
    return a->head_min;
}

/* A count of a's leaves its rings at minute d (0: none): a's due becomes d if that is
 * sooner, with a heap entry. */
static void due_lower(struct bs_state *st, struct bs_acct *a, int32_t d)
{
    if (d == 0 || (a->due != 0 && a->due <= d))
        return;
    if (vigil_due_push(&st->due, d, a->home) != 0) {
        st->due_lost = true;
        return;
    }
    a->due = d;
}

static bool visit_add(struct bs_state *st, struct bs_visit **v, size_t *n, size_t *cap,
                      void **home)
{
    if (*n == *cap && !grow((void **)v, cap, sizeof **v))
        return false;
    (*v)[(*n)++] = (struct bs_visit){vigil_recs_number(st->recs, st->s_acct, home), home};
    return true;
}

static int cmp_visit(const void *x, const void *y)
{
    size_t a = ((const struct bs_visit *)x)->num, b = ((const struct bs_visit *)y)->num;
    return (a > b) - (a < b);
}

/* a may be removable at the next removal pass. */
static void cand_add(struct bs_state *st, struct bs_acct *a)
{
    if (a->flags & BS_A_CAND)
        return;
    if (visit_add(st, &st->cand, &st->n_cand, &st->cap_cand, a->home))
        a->flags |= BS_A_CAND;
    else
        st->cand_lost = true;
}

/* --- each account's ring of senders -------------------------------------------------------- */

/* A sender's key: the account's hash as 16 hex digits, then `from` (cut to fit the key). */
static void sender_key(char key[VIGIL_ACCT_KEY_MAX + 1], uint64_t acct_hash, const char *from,
                       size_t from_len)
{
    size_t n = vigil_text_hex64(key, acct_hash);
    vigil_text_copyn(key + n, VIGIL_ACCT_KEY_MAX + 1 - n, from, from_len);
}

static struct bs_sender *sender_at(const struct bs_state *st, uint32_t i)
{
    return vigil_acct_table_at(st->senders, i, NULL);
}

/* Puts a new sender s into the ring of account a. */
static void sender_link(struct bs_state *st, struct bs_acct *a, struct bs_sender *s)
{
    uint32_t i = (uint32_t)vigil_acct_table_index(st->senders, s);
    s->acct = a;
    if (a->sender1 == 0) {
        s->next = s->prev = i;
        a->sender1 = i + 1;
        return;
    }
    struct bs_sender *first = sender_at(st, a->sender1 - 1);
    s->prev = a->sender1 - 1;
    s->next = first->next;
    sender_at(st, first->next)->prev = i;
    first->next = i;
}

/* Takes sender entry i (s) out of its account's ring. */
static void sender_unlink(struct bs_state *st, const struct bs_sender *s, uint32_t i)
{
    struct bs_acct *a = s->acct;
    if (s->next == i) {
        a->sender1 = 0; /* it was the only one */
        return;
    }
    sender_at(st, s->prev)->next = s->next;
    sender_at(st, s->next)->prev = s->prev;
    if (a->sender1 == i + 1)
        a->sender1 = s->next + 1;
}

/* The sender that was entry `from` is now entry `to`: its neighbours and account follow. */
static void sender_renumber(struct bs_state *st, uint32_t from, uint32_t to)
{
    struct bs_sender *s = sender_at(st, to);
    struct bs_acct *a = s->acct;
    if (s->next == from) {
        s->next = s->prev = to;
    } else {
        sender_at(st, s->prev)->next = to;
        sender_at(st, s->next)->prev = to;
    }
    if (a->sender1 == from + 1)
        a->sender1 = to + 1;
}

/* Removes sender entry i with its pool entry. The table moves its last entry into i, so a
 * caller walking the senders walks down (acct_table.h); account entries do not move. */
static void sender_remove(struct bs_state *st, uint32_t i)
{
    struct bs_sender *s = sender_at(st, i);
    sender_unlink(st, s, i);
    if (s->heavy)
        heavy_free(st, s->heavy);
    uint32_t last = (uint32_t)vigil_acct_table_count(st->senders) - 1;
    vigil_acct_table_remove_at(st->senders, i);
    if (i != last)
        sender_renumber(st, last, i);
}

/* fini of the slot (acct_rec.h): the records go, and the accounts' parts with them. */
static void acct_fini(void *ctx, void *slot)
{
    void **s = slot;
    vigil_pool_free(ctx, *s);
    *s = NULL;
}

/* Removes account a, which has no senders left: frees its part and releases its slot (off
 * the dirty list too). */
static void acct_remove(struct bs_state *st, struct bs_acct *a)
{
    void **s = a->home;
    vigil_pool_free(st->p_acct, a);
    vigil_recs_release(st->recs, st->s_acct, s);
}

/* The account's part by id (a lookup), or NULL. */
static struct bs_acct *acct_find(const struct bs_state *st, const char *account)
{
    void **s = vigil_recs_find(st->recs, st->s_acct, account);
    return s ? *s : NULL;
}

/* The part of slot s, zeroed and allocated when `fresh`; NULL (the slot released) when out
 * of memory. */
static struct bs_acct *acct_take(struct bs_state *st, void **s, bool fresh)
{
    if (!fresh)
        return *s;
    struct bs_acct *a = vigil_pool_alloc(st->p_acct);
    if (!a) {
        vigil_recs_release(st->recs, st->s_acct, s);
        return NULL;
    }
    a->home = s;
    *s = a;
    return a;
}

/* --- events -------------------------------------------------------------------------------- */

static int bs_on_event(void *state, const struct vigil_event *ev, struct vigil_emit *out)
{
    struct bs_state *st = state;
    if (ev->type != VIGIL_EV_SMS)
        return 0;
    int32_t m = (int32_t)vigil_floor_div(ev->ts_ms, BS_MIN_MS);
    uint16_t ms = (uint16_t)(ev->ts_ms - (int64_t)m * BS_MIN_MS);

    bool created;
    void **as = vigil_recs_slot(st->recs, st->s_acct, ev, &created);
    struct bs_acct *a = as ? acct_take(st, as, created) : NULL;
    if (!a)
        return VIGIL_ERR_NOMEM;
    if (created) {
        a->head_min = m;
        a->profile = (uint8_t)vigil_profiles_lookup(st->profiles, ev->account);
        a->epoch = st->roll_epoch;
    } else {
        catch_up(st, a);
    }
    acct_roll(a, m);
    int32_t due = 0; /* when the counts added here leave the rings */
    if (m >= a->head_min - BS_WIN_MIN) {
        a->sms[slot(m)] = sat16(a->sms[slot(m)] + 1u);
        a->seg[slot(m)] = sat16(a->seg[slot(m)] + (uint32_t)(ev->segments > 0 ? ev->segments : 1));
        due = m + BS_SLOTS;
    }
    if (m / BS_H_MIN >= a->head_min / BS_H_MIN - (BS_H_SLOTS - 1)) {
        uint16_t *c = &a->sms5[(m / BS_H_MIN) % BS_H_SLOTS];
        *c = sat16(*c + 1u);
        int32_t d5 = (m / BS_H_MIN + BS_H_SLOTS) * BS_H_MIN;
        due = due == 0 || d5 < due ? d5 : due;
    }
    due_lower(st, a, due);
    if (mark_dirty(st, a) != 0)
        return VIGIL_ERR_NOMEM;

    /* With pseudonymisation the sender is kept (and checkpointed) under its token. */
    char key[VIGIL_ACCT_KEY_MAX + 1], tok[VIGIL_PRIVACY_TOKEN_LEN + 1];
    const char *from = vigil_privacy_show(ev->from, tok);
    sender_key(key, vigil_acct_table_hash(ev->account, strlen(ev->account)), from, strlen(from));
    struct bs_sender *s = vigil_acct_table_get(st->senders, key, &created);
    if (!s)
        return VIGIL_ERR_NOMEM;
    if (created) {
        s->head_min = m;
        s->head_ms = ms;
        sender_link(st, a, s);
    }
    sender_advance(st, s, m, ms);
    if (m < s->head_min - BS_WIN_MIN)
        return 0; /* older than the number's window: it would already have left it */

    struct bs_recent r = {
        .to = hash64(ev->to),
        .body = ev->body_hash[0] ? hash32(ev->body_hash) : 0,
        .min = m,
        .ms = ms,
    };
    struct bs_measure meas;
    if (sender_add(st, s, &r, ev->id, a->profile, &meas) != 0)
        return VIGIL_ERR_NOMEM;
    if (m >= a->head_min - BS_WIN_MIN && meas.v[BS_RCPT] > a->rcpt[slot(m)])
        a->rcpt[slot(m)] = sat16(meas.v[BS_RCPT]);
    return check_rules(st, s, a->profile, &meas, ev, out);
}

/* --- ticks --------------------------------------------------------------------------------- */

static int publish(struct bs_state *st, struct vigil_emit *out)
{
    size_t done = 0;
    int rc = 0;
    for (; done < vigil_recs_dirty_count(st->recs, st->s_acct); done++) {
        void **as = vigil_recs_dirty_at(st->recs, st->s_acct, done);
        const char *account = vigil_recs_account(st->recs, st->s_acct, as);
        struct bs_acct *a = *as;
        struct vigil_counter c[] = {
            {"sms_15m", ring_sum(a->sms, BS_SLOTS)},
            {"segments_15m", ring_sum(a->seg, BS_SLOTS)},
            {"recipients_15m", ring_max(a->rcpt)},
            {"sms_1h", ring_sum(a->sms5, BS_H_SLOTS)},
        };
        rc = vigil_emit_counters(out, account, BS_NAME, c, sizeof c / sizeof c[0], st->ttl_s);
        if (rc != 0)
            break;
        a->flags &= (uint8_t)~BS_A_DIRTY;
        cand_add(st, a);
    }
    /* After a sink failure the rest stays listed for the next tick. */
    vigil_recs_dirty_consume(st->recs, st->s_acct, done);
    return rc;
}

/* Rolls every account whose due minute the watermark's minute m reached (only they change),
 * in record order, marking those whose counts changed; after a lost heap entry, every
 * account, and the heap is built again. */
static int roll_due(struct bs_state *st, int32_t m)
{
    if (st->due_lost) {
        st->due_lost = false;
        st->due.n = 0;
        void **as;
        for (size_t it = 0; (as = vigil_recs_next(st->recs, st->s_acct, &it));) {
            struct bs_acct *a = *as;
            a->due = 0;
            bool changed = acct_roll(a, m);
            a->epoch = st->roll_epoch + 1;
            due_lower(st, a, acct_due(a));
            if (changed && mark_dirty(st, a) != 0) {
                st->due_lost = true;
                return VIGIL_ERR_NOMEM;
            }
        }
        st->roll_epoch++;
        if (m > st->roll_min)
            st->roll_min = m;
        return 0;
    }
    st->n_visit = 0;
    while (vigil_due_ready(&st->due, m)) {
        struct vigil_due e = vigil_due_pop(&st->due);
        void **home = e.item;
        struct bs_acct *a = *home;
        if (!a || a->due != e.at)
            continue; /* gone, or its due moved: a later entry stands for it */
        if (!visit_add(st, &st->visit, &st->n_visit, &st->cap_visit, home)) {
            st->due_lost = true; /* the next tick walks them all */
            return VIGIL_ERR_NOMEM;
        }
        a->due = 0;
    }
    if (st->n_visit > 1) /* qsort's array may not be NULL, which an empty list's is */
        qsort(st->visit, st->n_visit, sizeof *st->visit, cmp_visit);
    for (size_t i = 0; i < st->n_visit; i++) {
        struct bs_acct *a = *st->visit[i].home;
        bool changed = acct_roll(a, m);
        a->epoch = st->roll_epoch + 1;
        due_lower(st, a, acct_due(a));
        if (changed && mark_dirty(st, a) != 0) {
            st->due_lost = true;
            return VIGIL_ERR_NOMEM;
        }
    }
    /* Only a minute later than every head it can reach moves them (the watermark's minutes
     * rise; after a resweep a lower one moves nothing). */
    st->roll_epoch++;
    if (m > st->roll_min)
        st->roll_min = m;
    return 0;
}

/* Frees the accounts left with nothing: every counter zero (and published) and no number.
 * Only the candidates can be (published or their last number dropped since the last pass),
 * visited in record order; every account when a candidate was lost. */
static void remove_idle(struct bs_state *st)
{
    if (st->cand_lost) {
        st->cand_lost = false;
        void **as;
        for (size_t it = 0; (as = vigil_recs_next(st->recs, st->s_acct, &it));) {
            /* An account outlives its numbers: they point to it. */
            struct bs_acct *a = *as;
            a->flags &= (uint8_t)~BS_A_CAND;
            if (!(a->flags & BS_A_DIRTY) && acct_zero(a) && a->sender1 == 0)
                acct_remove(st, a);
        }
        st->n_cand = 0;
        return;
    }
    if (st->n_cand > 1) /* qsort's array may not be NULL, which an empty list's is */
        qsort(st->cand, st->n_cand, sizeof *st->cand, cmp_visit);
    for (size_t i = 0; i < st->n_cand; i++) {
        struct bs_acct *a = *st->cand[i].home;
        if (!a)
            continue; /* gone meanwhile (forget) */
        a->flags &= (uint8_t)~BS_A_CAND;
        if (!(a->flags & BS_A_DIRTY) && acct_zero(a) && a->sender1 == 0)
            acct_remove(st, a);
    }
    st->n_cand = 0;
}

static int bs_on_tick(void *state, int64_t watermark_ms, struct vigil_emit *out)
{
    struct bs_state *st = state;
    int64_t wm_min = vigil_floor_div(watermark_ms, BS_MIN_MS);
    bool moved = wm_min > st->wm_min && watermark_ms != INT64_MIN;

    if (moved) {
        /* Windows slide with the watermark: counters that changed are published (down to
         * zero), numbers with nothing left in their window are forgotten. */
        int32_t m = wm_min > INT32_MAX ? INT32_MAX : (int32_t)wm_min;
        int rc = roll_due(st, m);
        if (rc != 0)
            return rc;
        for (size_t i = vigil_acct_table_count(st->senders); i-- > 0;) {
            const struct bs_sender *s = sender_at(st, (uint32_t)i);
            if ((int64_t)s->head_min < wm_min - BS_WIN_MIN) {
                struct bs_acct *a = s->acct;
                sender_remove(st, (uint32_t)i);
                if (a->sender1 == 0)
                    cand_add(st, a);
            }
        }
    }
    if (moved)
        vigil_win_more_sweep(st->more, watermark_ms);
    int rc = publish(st, out);
    if (rc != 0)
        return rc; /* a later tick publishes what is left */
    if (moved) {
        remove_idle(st);
        st->wm_min = wm_min;
    }
    return 0;
}

/* --- checkpoints --------------------------------------------------------------------------- */

/* Version 2 of one account's saved state, fields in this build's byte order (detector.h: only
 * the same build reads it back):
 *   u8 version; the account: i32 head_min, u16 sms[16], seg[16], rcpt[16], sms5[13];
 *   u32 number of senders, then each sender:
 *     u8 length and bytes of its `from` (its key after the account hash), i32 head_min,
 *     u16 head_ms, u8 fired, u8 heavy (0 or 1), then
 *       light: u8 n, n x {u64 to, u32 body, i32 min, u16 ms}: recent[]
 *       heavy: u16 cnt[16], u16 n, n x i64: the SMS times in the window, oldest first, the
 *              recipient set, BS_BODIES x {u32 key, i32 last_min, its set},
 *              u8 n, n x {u8 length, event id bytes}: the samples, oldest first;
 *   a set: u32 n, n x {u64 h, i32 min, u16 ms}: its live entries. Stale ones count nowhere and only
 *     make room when the set is full, which a purge would do anyway, so they are left out;
 *     rmin[] and `used` are re-derived from the entries at load.
 * Not written: pool indices, entry numbers, the dirty flag, and the profile, which load takes
 * from the current profiles. */
#define BS_SAVE_VERSION 3 /* 3: the shared little-endian encoding; 2: times to the ms */
#define BS_KEY_HASH 16    /* hex digits before `from` in a key */
#define BS_FROM_MAX (VIGIL_ACCT_KEY_MAX - BS_KEY_HASH) /* bytes of `from` a key keeps */
#define BS_ENT_BYTES 14                                /* a saved set entry */
#define BS_SENDER_MIN 10 /* bytes of the smallest saved sender: a light one with no SMS */
/* Minutes are after 2000 (events.md); a saved minute before that is not a valid state. */
#define BS_MIN_HEAD ((int32_t)(VIGIL_TS_MIN_MS / BS_MIN_MS))

static void put_u16s(struct vigil_state_writer *w, const uint16_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vigil_state_put_u16(w, v[i]);
}

/* The live entries (minute >= lo) of a set of cap entries. */
static void save_set(struct vigil_state_writer *w, const struct bs_ent *e, uint32_t cap, int32_t lo)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < cap; i++)
        n += e[i].h != 0 && e[i].min >= lo;
    vigil_state_put_u32(w, n);
    for (uint32_t i = 0; i < cap; i++) {
        if (e[i].h != 0 && e[i].min >= lo) {
            vigil_state_put_u64(w, e[i].h);
            vigil_state_put_i32(w, e[i].min);
            vigil_state_put_u16(w, e[i].ms);
        }
    }
}

static void save_heavy(const struct bs_state *st, struct vigil_state_writer *w, struct bs_heavy *h,
                       int32_t lo)
{
    put_u16s(w, h->cnt, sizeof h->cnt / sizeof h->cnt[0]);
    const int64_t *t = heavy_times(st, h);
    uint16_t first = 0;
    while (first < h->n_t && t[first] < (int64_t)lo * BS_MIN_MS)
        first++;
    vigil_state_put_u16(w, (uint16_t)(h->n_t - first));
    for (uint16_t k = first; k < h->n_t; k++)
        vigil_state_put_i64(w, t[k]);
    save_set(w, rcpt_ents(h), st->cap_r, lo);
    for (int k = 0; k < BS_BODIES; k++) {
        vigil_state_put_u32(w, h->body[k].key);
        vigil_state_put_i32(w, h->body[k].last_min);
        save_set(w, body_ents(st, h, k), st->cap_b, lo);
    }
    vigil_state_put_u8(w, h->n_samples);
    for (int k = 0; k < h->n_samples; k++) {
        const char *id =
            h->samples[(h->next_sample + VIGIL_SAMPLES_MAX - h->n_samples + k) % VIGIL_SAMPLES_MAX];
        size_t len = strlen(id); /* <= VIGIL_ID_MAX */
        vigil_state_put_u8(w, (uint8_t)len);
        vigil_state_put_raw(w, id, len);
    }
}

/* Sender entry i: its `from` out of the key, its window, and its SMS list or pool entry. */
static void save_sender(const struct bs_state *st, struct vigil_state_writer *w, uint32_t i)
{
    const char *key;
    const struct bs_sender *s = vigil_acct_table_at(st->senders, i, &key);
    size_t from_len = strlen(key + BS_KEY_HASH);
    vigil_state_put_u8(w, (uint8_t)from_len);
    vigil_state_put_raw(w, key + BS_KEY_HASH, from_len);
    vigil_state_put_i32(w, s->head_min);
    vigil_state_put_u16(w, s->head_ms);
    vigil_state_put_u8(w, s->fired);
    vigil_state_put_u8(w, s->heavy != 0);
    if (s->heavy) {
        save_heavy(st, w, heavy_at(st, s->heavy - 1), s->head_min - BS_WIN_MIN);
        return;
    }
    vigil_state_put_u8(w, s->n_recent);
    for (int k = 0; k < s->n_recent; k++) {
        vigil_state_put_u64(w, s->recent[k].to);
        vigil_state_put_u32(w, s->recent[k].body);
        vigil_state_put_i32(w, s->recent[k].min);
        vigil_state_put_u16(w, s->recent[k].ms);
    }
}

/* The senders of account a, walking its ring once per call. */
static uint32_t acct_senders(const struct bs_state *st, const struct bs_acct *a)
{
    uint32_t n = 0;
    if (a->sender1 == 0)
        return 0;
    uint32_t first = a->sender1 - 1, k = first;
    do {
        n++;
        k = sender_at(st, k)->next;
    } while (k != first);
    return n;
}

static int bs_save(void *state, const char *account, struct vigil_bytes *out)
{
    const struct bs_state *st = state;
    const struct bs_acct *a = acct_find(st, account);
    if (!a)
        return 0; /* nothing held: an account outlives its numbers */
    struct vigil_state_writer w;
    vigil_state_write_begin(&w, out, BS_SAVE_VERSION);
    vigil_state_put_i32(&w, head_now(st, a));
    put_u16s(&w, a->sms, BS_SLOTS);
    put_u16s(&w, a->seg, BS_SLOTS);
    put_u16s(&w, a->rcpt, BS_SLOTS);
    put_u16s(&w, a->sms5, BS_H_SLOTS);
    vigil_state_put_u32(&w, acct_senders(st, a));
    if (a->sender1 != 0) {
        uint32_t first = a->sender1 - 1, k = first;
        do {
            save_sender(st, &w, k);
            k = sender_at(st, k)->next;
        } while (k != first);
    }
    return vigil_state_write_end(&w); /* out of memory: no half account in out */
}

/* Reading (state_codec.h): each getter returns 0 past the end and leaves `bad` set. */
static void get_u16s(struct vigil_bytes_reader *r, uint16_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = vigil_state_get_u16(r);
}

/* The next n bytes where they are, or NULL (and `bad` set) when fewer are left. */
static const unsigned char *get_span(struct vigil_bytes_reader *r, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    const unsigned char *p = r->p + r->pos;
    r->pos += n;
    return p;
}

/* A saved set: n entries of BS_ENT_BYTES at p, still in the saved bytes. */
struct bs_saved_set {
    const unsigned char *p;
    uint32_t n;
};

static struct bs_ent saved_ent(const struct bs_saved_set *set, uint32_t k)
{
    const unsigned char *p = set->p + (size_t)k * BS_ENT_BYTES;
    struct bs_ent v;
    v.h = vigil_state_u64_at(p);
    v.min = vigil_state_i32_at(p + 8);
    v.ms = vigil_state_u16_at(p + 12);
    return v;
}

/* One saved sender, checked by read_sender; its `from`, sets and samples point into the
 * saved bytes. */
struct bs_saved_sender {
    const char *from;
    uint8_t from_len, fired, heavy, n_recent, n_samples;
    int32_t head_min;
    uint16_t head_ms, n_t;
    const unsigned char *times; /* n_t x i64 */
    struct bs_recent recent[BS_RECENT];
    uint16_t cnt[BS_SLOTS];
    struct bs_saved_set rcpt, body_set[BS_BODIES];
    uint32_t body_key[BS_BODIES];
    int32_t body_last[BS_BODIES];
    const unsigned char *sample[VIGIL_SAMPLES_MAX];
    uint8_t sample_len[VIGIL_SAMPLES_MAX];
};

/* Adds v to a scratch set of cap entries; false if its recipient is there already. */
static bool scratch_add(struct bs_ent *e, uint32_t cap, struct bs_ent v)
{
    uint32_t i = (uint32_t)v.h & (cap - 1);
    for (; e[i].h != 0; i = (i + 1) & (cap - 1)) {
        if (e[i].h == v.h)
            return false;
    }
    e[i] = v;
    return true;
}

/* A set for cap entries of the current configuration: within its 7/8 load limit (a set saved
 * under a larger cap may not fit), each entry a recipient (h != 0) of a minute in [lo, hi]
 * and none twice (checked in st->scratch, which holds no state between calls). */
static bool read_set(struct bs_state *st, struct vigil_bytes_reader *r, uint32_t cap, int32_t lo,
                     int32_t hi, struct bs_saved_set *out)
{
    out->n = vigil_state_get_u32(r);
    if (out->n > cap - cap / 8)
        return false;
    out->p = get_span(r, (size_t)out->n * BS_ENT_BYTES);
    if (!out->p)
        return false;
    memset(st->scratch, 0, (size_t)cap * sizeof *st->scratch);
    for (uint32_t k = 0; k < out->n; k++) {
        struct bs_ent v = saved_ent(out, k);
        if (v.h == 0 || v.min < lo || v.min > hi || v.ms >= BS_MIN_MS ||
            !scratch_add(st->scratch, cap, v))
            return false;
    }
    return true;
}

/* The samples: at most VIGIL_SAMPLES_MAX event ids of at most VIGIL_ID_MAX bytes, no NUL. */
static bool read_samples(struct vigil_bytes_reader *r, struct bs_saved_sender *ss)
{
    ss->n_samples = vigil_state_get_u8(r);
    if (ss->n_samples > VIGIL_SAMPLES_MAX)
        return false;
    for (int k = 0; k < ss->n_samples; k++) {
        ss->sample_len[k] = vigil_state_get_u8(r);
        ss->sample[k] = get_span(r, ss->sample_len[k]);
        if (!ss->sample[k] || ss->sample_len[k] > VIGIL_ID_MAX ||
            memchr(ss->sample[k], 0, ss->sample_len[k]))
            return false;
    }
    return true;
}

/* A heavy sender's counts, sets (a free text slot is all zero; no text in two slots) and
 * samples. */
static bool read_heavy(struct bs_state *st, struct vigil_bytes_reader *r,
                       struct bs_saved_sender *ss)
{
    int32_t lo = ss->head_min - BS_WIN_MIN, hi = ss->head_min;
    get_u16s(r, ss->cnt, sizeof ss->cnt / sizeof ss->cnt[0]);
    /* SMS times: sorted, inside the window's minutes. */
    ss->n_t = vigil_state_get_u16(r);
    ss->times = get_span(r, (size_t)ss->n_t * sizeof(int64_t));
    if (!ss->times)
        return false;
    int64_t prev = (int64_t)lo * BS_MIN_MS;
    for (uint16_t k = 0; k < ss->n_t; k++) {
        int64_t t = vigil_state_i64_at(ss->times + (size_t)k * sizeof t);
        if (t < prev || t >= ((int64_t)hi + 1) * BS_MIN_MS)
            return false;
        prev = t;
    }
    if (!read_set(st, r, st->cap_r, lo, hi, &ss->rcpt))
        return false;
    for (int k = 0; k < BS_BODIES; k++) {
        uint32_t key = ss->body_key[k] = vigil_state_get_u32(r);
        int32_t last = ss->body_last[k] = vigil_state_get_i32(r);
        if (!read_set(st, r, st->cap_b, lo, hi, &ss->body_set[k]))
            return false;
        if (key == 0 && (ss->body_set[k].n != 0 || last != 0))
            return false;
        for (int j = 0; j < k; j++) {
            if (key != 0 && ss->body_key[j] == key)
                return false;
        }
        if (key != 0 && last > hi)
            return false;
    }
    return read_samples(r, ss);
}

/* A light sender's SMS list: at most BS_RECENT, each to a recipient, in the window. */
static bool read_light(struct vigil_bytes_reader *r, struct bs_saved_sender *ss)
{
    ss->n_recent = vigil_state_get_u8(r);
    if (ss->n_recent > BS_RECENT)
        return false;
    for (int k = 0; k < ss->n_recent; k++) {
        struct bs_recent *e = &ss->recent[k];
        e->to = vigil_state_get_u64(r);
        e->body = vigil_state_get_u32(r);
        e->min = vigil_state_get_i32(r);
        e->ms = vigil_state_get_u16(r);
        if (!r->bad && (e->to == 0 || e->min < ss->head_min - BS_WIN_MIN || e->min > ss->head_min ||
                        e->ms >= BS_MIN_MS))
            return false;
    }
    return !r->bad;
}

/* Reads and checks one saved sender into *ss. */
static bool read_sender(struct bs_state *st, struct vigil_bytes_reader *r,
                        struct bs_saved_sender *ss)
{
    memset(ss, 0, sizeof *ss);
    ss->from_len = vigil_state_get_u8(r);
    ss->from = (const char *)get_span(r, ss->from_len);
    ss->head_min = vigil_state_get_i32(r);
    ss->head_ms = vigil_state_get_u16(r);
    ss->fired = vigil_state_get_u8(r);
    ss->heavy = vigil_state_get_u8(r);
    if (r->bad || ss->from_len > BS_FROM_MAX || memchr(ss->from, 0, ss->from_len) ||
        ss->head_min < BS_MIN_HEAD || ss->head_ms >= BS_MIN_MS || (ss->fired & ~0xfu) != 0 ||
        ss->heavy > 1)
        return false;
    return ss->heavy ? read_heavy(st, r, ss) : read_light(r, ss);
}

/* Reads and checks the version and the account (profile, ring and dirty flag left 0). */
static bool read_acct(struct vigil_bytes_reader *r, struct bs_acct *a, uint32_t *n_senders)
{
    memset(a, 0, sizeof *a);
    if (vigil_state_get_u8(r) != BS_SAVE_VERSION)
        return false;
    a->head_min = vigil_state_get_i32(r);
    get_u16s(r, a->sms, BS_SLOTS);
    get_u16s(r, a->seg, BS_SLOTS);
    get_u16s(r, a->rcpt, BS_SLOTS);
    get_u16s(r, a->sms5, BS_H_SLOTS);
    *n_senders = vigil_state_get_u32(r);
    return !r->bad && a->head_min >= BS_MIN_HEAD;
}

/* A sender's `from`, to find one saved twice. */
struct bs_from {
    const char *p;
    size_t len;
};

static int cmp_from(const void *x, const void *y)
{
    const struct bs_from *a = x, *b = y;
    int c = memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);
    return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

/* True if the key of saved number ss belongs to a number of another account than `own`
 * (NULL: none yet), which takes two account ids with one 64-bit hash: loading it would tie
 * one number to two accounts. */
static bool sender_taken(const struct bs_state *st, const struct bs_acct *own, uint64_t acct_hash,
                         const struct bs_saved_sender *ss)
{
    char key[VIGIL_ACCT_KEY_MAX + 1];
    sender_key(key, acct_hash, ss->from, ss->from_len);
    const struct bs_sender *s = vigil_acct_table_find(st->senders, key);
    return s && s->acct != own;
}

/* Checks saved bytes for `account` completely without changing the state: the account, every
 * sender, no `from` twice or taken by another account, nothing after the last sender.
 * 0, VIGIL_ERR_INVALID or VIGIL_ERR_NOMEM. */
static int check_saved(struct bs_state *st, const char *account, const void *data, size_t len)
{
    struct vigil_bytes_reader r = {data, len, 0, false};
    const struct bs_acct *own = acct_find(st, account);
    uint64_t h = vigil_acct_table_hash(account, strlen(account));
    struct bs_acct a;
    uint32_t n;
    /* The smallest sender bounds their number before anything is allocated for them. */
    if (!read_acct(&r, &a, &n) || n > (r.len - r.pos) / BS_SENDER_MIN)
        return VIGIL_ERR_INVALID;
    struct bs_from *from = malloc(((size_t)n + 1) * sizeof *from);
    if (!from)
        return VIGIL_ERR_NOMEM;
    int rc = 0;
    struct bs_saved_sender ss;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        if (read_sender(st, &r, &ss) && !sender_taken(st, own, h, &ss))
            from[i] = (struct bs_from){ss.from, ss.from_len};
        else
            rc = VIGIL_ERR_INVALID;
    }
    /* r.bad too: a read past the end returns 0, which some fields take as valid (a heavy
     * sender's sample count cut off read as "no samples"). */
    if (rc == 0 && (r.bad || r.pos != r.len))
        rc = VIGIL_ERR_INVALID;
    if (rc == 0 && n > 1) {
        qsort(from, n, sizeof *from, cmp_from);
        for (uint32_t i = 1; i < n && rc == 0; i++) {
            if (cmp_from(&from[i - 1], &from[i]) == 0)
                rc = VIGIL_ERR_INVALID;
        }
    }
    free(from);
    return rc;
}

/* Fills set w (its entries e, cap of them, zeroed) from a checked saved set. */
static void load_set(struct bs_wset *w, struct bs_ent *e, uint32_t cap,
                     const struct bs_saved_set *saved)
{
    for (uint32_t k = 0; k < saved->n; k++) {
        struct bs_ent v = saved_ent(saved, k);
        wset_place(e, cap, v);
        w->rmin[slot(v.min)]++; /* every saved entry is in the window */
    }
    w->used = saved->n;
}

/* Fills a zeroed pool entry from a checked heavy sender; samples come back oldest first. */
static void load_heavy(const struct bs_state *st, struct bs_heavy *h,
                       const struct bs_saved_sender *ss)
{
    memcpy(h->cnt, ss->cnt, sizeof h->cnt);
    /* The latest cap_t times (a configuration with a lower sms_15m keeps fewer). */
    uint16_t skip = ss->n_t > st->cap_t ? (uint16_t)(ss->n_t - st->cap_t) : 0;
    h->n_t = (uint16_t)(ss->n_t - skip);
    int64_t *t = heavy_times(st, h);
    for (uint16_t k = 0; k < h->n_t; k++)
        t[k] = vigil_state_i64_at(ss->times + (size_t)(skip + k) * sizeof(int64_t));
    load_set(&h->rcpt, rcpt_ents(h), st->cap_r, &ss->rcpt);
    for (int k = 0; k < BS_BODIES; k++) {
        h->body[k].key = ss->body_key[k];
        h->body[k].last_min = ss->body_last[k];
        load_set(&h->body[k].set, body_ents(st, h, k), st->cap_b, &ss->body_set[k]);
    }
    for (int k = 0; k < ss->n_samples; k++) {
        memcpy(h->samples[k], ss->sample[k], ss->sample_len[k]);
        h->samples[k][ss->sample_len[k]] = '\0';
    }
    h->n_samples = ss->n_samples;
    h->next_sample = (uint8_t)(ss->n_samples % VIGIL_SAMPLES_MAX);
}

/* Adds a checked sender to account a (hash acct_hash), with a pool entry when heavy. */
static int load_sender(struct bs_state *st, struct bs_acct *a, uint64_t acct_hash,
                       const struct bs_saved_sender *ss)
{
    char key[VIGIL_ACCT_KEY_MAX + 1];
    sender_key(key, acct_hash, ss->from, ss->from_len);
    bool created;
    struct bs_sender *s = vigil_acct_table_get(st->senders, key, &created);
    if (!s)
        return VIGIL_ERR_NOMEM;
    if (!created)
        return VIGIL_ERR_INVALID; /* taken (sender_taken): never tie a number to two rings */
    sender_link(st, a, s);
    s->head_min = ss->head_min;
    s->head_ms = ss->head_ms;
    s->fired = ss->fired;
    if (!ss->heavy) {
        memcpy(s->recent, ss->recent, sizeof s->recent);
        s->n_recent = ss->n_recent;
        return 0;
    }
    uint32_t ref;
    if (heavy_alloc(st, &ref) != 0)
        return VIGIL_ERR_NOMEM;
    s->heavy = ref;
    load_heavy(st, heavy_at(st, ref - 1), ss);
    /* A full ring may have had more times than it holds: known again once they are old. */
    vigil_win_more_restore(st->more, ref, heavy_times(st, heavy_at(st, ref - 1)), st->cap_t,
                           heavy_at(st, ref - 1)->n_t, st->rate_level[a->profile], BS_WINDOW_MS);
    return 0;
}

/* Adds the account of checked bytes, absent until now, and its senders. Listed as dirty so
 * that the next tick publishes its counters from this process. */
static int apply_saved(struct bs_state *st, const char *account, const void *data, size_t len)
{
    struct vigil_bytes_reader r = {data, len, 0, false};
    struct bs_acct saved;
    uint32_t n;
    read_acct(&r, &saved, &n);
    bool fresh;
    void **as = vigil_recs_slot_of(st->recs, st->s_acct, account, &fresh);
    struct bs_acct *a = as ? acct_take(st, as, fresh) : NULL;
    if (!a)
        return VIGIL_ERR_NOMEM;
    saved.home = as;
    *a = saved; /* no flags, no due */
    a->epoch = st->roll_epoch;
    a->profile = (uint8_t)vigil_profiles_lookup(st->profiles, account);
    due_lower(st, a, acct_due(a));
    if (mark_dirty(st, a) != 0)
        return VIGIL_ERR_NOMEM;
    /* Sender inserts may move sender entries, never a: it stays valid. */
    uint64_t h = vigil_acct_table_hash(account, strlen(account));
    struct bs_saved_sender ss;
    for (uint32_t i = 0; i < n; i++) {
        read_sender(st, &r, &ss);
        int rc = load_sender(st, a, h, &ss);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The next tick rolls every account's rings and purges senders, moved or not. */
static void bs_resweep(void *state)
{
    struct bs_state *st = state;
    st->wm_min = INT64_MIN;
}

static void bs_forget(void *state, const char *account)
{
    struct bs_state *st = state;
    struct bs_acct *a = acct_find(st, account);
    if (!a)
        return;
    /* Removing a sender moves another sender entry, never an account: a stays valid. */
    while (a->sender1 != 0)
        sender_remove(st, a->sender1 - 1);
    acct_remove(st, a);
}

static int bs_load(void *state, const char *account, const void *data, size_t len)
{
    struct bs_state *st = state;
    if (!vigil_acct_key_ok(account))
        return VIGIL_ERR_INVALID;
    int rc = check_saved(st, account, data, len);
    if (rc != 0)
        return rc;
    bs_forget(st, account);
    rc = apply_saved(st, account, data, len);
    if (rc != 0)
        bs_forget(st, account); /* failed half-way (memory): the account starts afresh */
    /* This state may have purged past the account's windows already: purge again at the
     * next tick, so they expire here as they would have where it was saved. */
    bs_resweep(st);
    return rc;
}

/* --- life cycle ---------------------------------------------------------------------------- */

static void bs_destroy(void *state)
{
    struct bs_state *st = state;
    if (!st)
        return;
    vigil_recs_destroy(st->own_recs);
    vigil_pool_destroy(st->p_acct);
    vigil_acct_table_destroy(st->senders);
    vigil_win_more_destroy(st->more);
    vigil_due_fini(&st->due);
    free(st->cand);
    free(st->visit);
    free(st->pool);
    free(st->scratch);
    free(st);
}

/* Entries for a set that must count up to `threshold`: a power of two >= 2 x threshold,
 * so that the 7/8 load limit leaves room past it. */
static uint32_t set_cap(int64_t threshold)
{
    uint32_t cap = 16;
    while ((int64_t)cap < 2 * threshold)
        cap *= 2;
    return cap;
}

static int bs_init(void **state, const struct vigil_detector_env *env)
{
    *state = NULL;
    if (!env || !env->cfg)
        return VIGIL_ERR_INVALID;
    struct bs_state *st = calloc(1, sizeof *st);
    if (!st)
        return VIGIL_ERR_NOMEM;
    st->profiles = env->profiles;
    int64_t max_r = 0, max_b = 0;
    for (int r = 0; r < BS_RULES; r++) {
        vigil_profile_ints(env->cfg, crit_keys[r], st->crit[r]);
        vigil_profile_ints(env->cfg, warn_keys[r], st->warn[r]);
        for (int p = 0; p < VIGIL_PROFILE_COUNT; p++) {
            /* A warning at or above the block level would never come first. */
            if (st->warn[r][p] >= st->crit[r][p])
                st->warn[r][p] = 0;
        }
    }
    for (int p = 0; p < VIGIL_PROFILE_COUNT; p++) {
        max_r = st->crit[BS_RCPT][p] > max_r ? st->crit[BS_RCPT][p] : max_r;
        max_b = st->crit[BS_BODY][p] > max_b ? st->crit[BS_BODY][p] : max_b;
    }
    int64_t max_t = 0;
    for (int p = 0; p < VIGIL_PROFILE_COUNT; p++)
        max_t = st->crit[BS_RATE][p] > max_t ? st->crit[BS_RATE][p] : max_t;
    st->cap_r = set_cap(max_r);
    st->cap_b = set_cap(max_b);
    st->cap_t = (uint16_t)(max_t < BS_TIMES_MAX ? max_t : BS_TIMES_MAX);
    for (int p = 0; p < VIGIL_PROFILE_COUNT; p++) /* the config bounds both by 10000 */
        st->rate_level[p] =
            (uint32_t)(st->warn[BS_RATE][p] > st->crit[BS_RATE][p] ? st->warn[BS_RATE][p]
                                                                   : st->crit[BS_RATE][p]);
    st->times_off = sizeof(struct bs_heavy) +
                    ((size_t)st->cap_r + (size_t)BS_BODIES * st->cap_b) * sizeof(struct bs_ent);
    st->times_off = (st->times_off + 7) & ~(size_t)7;
    st->stride = st->times_off + (size_t)st->cap_t * sizeof(int64_t);
    st->stride = (st->stride + 7) & ~(size_t)7;
    st->ttl_s = vigil_config_int(env->cfg, "redis.counter_ttl_s");
    st->wm_min = INT64_MIN;
    st->scratch =
        malloc((size_t)(st->cap_r > st->cap_b ? st->cap_r : st->cap_b) * sizeof *st->scratch);
    st->recs = env->recs ? env->recs : (st->own_recs = vigil_recs_create(1024));
    st->p_acct = vigil_pool_create(sizeof(struct bs_acct));
    st->senders = vigil_acct_table_create(sizeof(struct bs_sender), 1024);
    st->more = vigil_win_more_create();
    if (!st->scratch || !st->recs || !st->p_acct || !st->senders || !st->more)
        goto fail;
    st->s_acct = vigil_recs_declare_part(st->recs, acct_fini, st->p_acct);
    if (st->s_acct < 0)
        goto fail;
    *state = st;
    return 0;

fail:
    bs_destroy(st);
    return VIGIL_ERR_NOMEM;
}

static const char *const bs_rules[] = {"bulk_sms.rate", "bulk_sms.distinct_recipients",
                                       "bulk_sms.same_body", NULL};

const struct vigil_detector_ops vigil_det_bulk_sms = {
    .name = BS_NAME,
    .keys = bs_keys,
    .rules = bs_rules,
    .init = bs_init,
    .on_event = bs_on_event,
    .on_tick = bs_on_tick,
    .destroy = bs_destroy,
    .save = bs_save,
    .load = bs_load,
    .forget = bs_forget,
    .resweep = bs_resweep,
};

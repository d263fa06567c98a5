/* SPDX-License-Identifier: Apache-2.0 */
/* toll_fraud.c - toll fraud: a hacked PBX or stolen credentials pumping outbound calls to
 * high-cost destinations (shared/spec/detection.md, "toll_fraud").
 *
 * Rules (defaults for the `default` profile; every INT key can be set per profile with
 * `key@profile`, profile.h). "Night" means vigil_off_hours(): Saturday, Sunday, or before
 * 07:00 / from 22:00 Amsterdam time on a weekday, when nobody watches the PBX; the night
 * level of a rule is its `*_offhours` key and the night warning level is the day warning level
 * scaled by the same ratio (concurrency 5 of 8 by day -> 3 of 5 at night). Every critical
 * finding orders block_international, except spend and scanning that are not international
 * (suspend: blocking international calls would not stop them). An `*_offhours` key of 0 means
 * no night level: the day one holds all week. Profile callcenter has that by default
 * (`*_offhours@callcenter = 0`, tf_keys): a call centre working weekends is watched then.
 *   toll_fraud.concurrent_high_risk  >= concurrent_high_risk (8; night 5) outbound calls to
 *       high-risk destinations open at the same time -> critical; warning at
 *       concurrent_high_risk_warning (5). Decided at the call_start that reaches the level.
 *       Each level fires once per episode and re-arms when the open count falls below the
 *       warning level in force when it fired, so the 9th and 10th call add nothing.
 *   toll_fraud.velocity_high_risk  >= velocity_high_risk (20; night 10) outbound calls to
 *       high-risk destinations within 15 minutes -> critical; warning at 10. Calls are
 *       call_starts (once per call_id), unanswered attempts, and answered ends without a
 *       start. Judged at the event on exactly [ts - 15 min, ts] (window.h): the times of the
 *       latest TF_VEL_EXACT (32) calls are kept, and grown in the worker's store while more
 *       lie within reach, up to the highest velocity level configured (window.h), so every
 *       level is exact; minute buckets (15 to 16 minutes) add to it only in the window after
 *       a restore, when a full ring's older times are missing.
 *       A call that arrives late (up to the 60 s of disorder events.md allows) is also judged
 *       on the 15 minutes ending at the newest call seen, which it may complete (dated at the
 *       late call); sequential dialling does the same.
 *   toll_fraud.spend_1h  outbound spend in [ts - 1 h, ts] > spend_1h_eur (EUR 100; night
 *       EUR 50) -> critical; warning above EUR 75 (night 37). A busy 25-line call centre
 *       spends about EUR 50 an hour at EU rates: the warning stays above it, and an episode
 *       ends when spend falls below 80% of the first level. Spend is the exporter's `cost`
 *       at call_end, else the rate table's rate x duration, accrued evenly over the time the
 *       call ran: a call that straddles the start of the hour counts only its part after it.
 *       The latest TF_SPEND_SPANS (16) ended calls are kept whole (end, duration, cost);
 *       older ones still within reach are kept whole as well, in the worker's store (spans,
 *       window.h), so the hour is exact however many calls end in it. Older calls' spend also
 *       goes to 5-minute buckets, which count (only those wholly inside the hour: never spend
 *       from before it, at most 5 minutes of it missed) only in the hour after a restore,
 *       when the calls kept in the store are not known. At every tick (at most
 *       every 10 s of watermark) the calls still open to high-risk destinations add rate x
 *       the time they ran within the last hour, so parallel satellite calls are stopped while
 *       they run, not when they hang up.
 *       Decided at the call_end, or at the tick (event_ts = the watermark). Family calls to
 *       Morocco or Turkey (EUR 0.35 / 0.20 a minute: EUR 21 for an hour, EUR 33 for both
 *       in one hour) stay under even the night warning level (EUR 37).
 *   toll_fraud.sequential_dialling  >= sequential_dialling (10) DISTINCT numbers that differ
 *       only in their last 3 digits (same length, same leading digits), any destination,
 *       attempts included, within [ts - 10 min, ts] -> critical; warning at 6. Redialling one
 *       number is not a scan. Each range keeps its last 3 digits of up to TF_SEQ_EXACT (16)
 *       distinct numbers with the time each was last dialled (window.h), so distinct numbers
 *       always count as distinct, whatever digits they share. A level set above 16 (up to
 *       64) grows the range's numbers in the worker's store while more lie within reach, so it
 *       is exact too; only in the window after a restore, with 16 inside, does it fall back on
 *       the old fold (last 3 digits mod 64 in 5-minute generations).
 *       Up to 4 ranges per account are followed; a new range replaces a stale one first,
 *       then the one with fewest numbers, so a scan outlives the one-off calls around it.
 *   toll_fraud.slow_high_risk  >= slow_high_risk_calls (30) calls or >=
 *       slow_high_risk_minutes (90) minutes to high-risk destinations within 24 h, from an
 *       account with no earlier high-risk history -> critical; warning at 15 calls / 45
 *       minutes. Counted in hourly buckets (25: 24 to 25 h); minutes are answered seconds
 *       at call_end plus, at ticks, the time the open high-risk calls have run. Exact on
 *       [ts - 24 h, ts]: the rule judges only streaks that began (their first call's start,
 *       an end without start counted from when it began) at most 24 h before, so every call
 *       and second of the streak lies inside the window. History
 *       (there is no persistent store yet): the high-risk calls vigil has seen, as a streak
 *       that breaks after 7 days without one. An account has history when its streak began
 *       more than 24 h before the event: the slow rule is for accounts whose first
 *       high-risk call is less than 24 h old.
 *
 * Open calls are an event-time view per account: a call_start (dir out, to a high-risk
 * number, not an emergency number) opens the call under its call_id, once however often
 * the start is delivered; the call_end with that call_id closes it; a call open for
 * max_open_call_ms of event time (events.md: 24 h) is dropped, both when the account's own
 * events pass that age and at on_tick(watermark).
 * - Up to TF_TRACKED_MAX (64) open calls per account are tracked by call_id; beyond that
 *   a call is counted but its id is not kept. An end whose call_id is not tracked then
 *   closes one untracked call (it may be one of them), and untracked calls all expire
 *   max_open_call_ms after the latest of them started. Untracked calls accrue no spend. An
 *   account with 64 open high-risk calls was flagged long before.
 * - A call_end without a known start does not change the open count. A high-risk one is
 *   remembered (up to TF_ORPHANS_MAX per account, until the watermark passes its end by
 *   TF_ORPHAN_GRACE_MS) so that its start, if it arrives late (events.md allows 60 s of
 *   disorder), does not open a call that has already ended.
 * - The last TF_RECENT_MAX high-risk call ids closed or attempted are remembered, so a
 *   redelivered end or attempt (at-least-once) is not counted twice. Ends of other calls are
 *   not deduplicated: their spend could count twice when redelivered.
 * - An end that arrives after a later start (disorder) is counted as open at that start:
 *   deciding at the event keeps detection immediate, and the error is one call for less
 *   than the disorder window.
 * When one event completes several rules, scanning is judged first, then concurrency,
 * velocity, slow and spend: the emit layer gives the one order (per account, action) to the
 * first, the others add their critical alerts.
 *
 * Counters, published at on_tick for accounts changed since the last tick (TTL
 * redis.counter_ttl_s): the *_1h ones per tumbling hour of event time (the hour of the
 * account's latest event; a late event from the previous hour counts in the current one):
 *   open_high_risk (now), calls_out_1h (starts, plus unanswered attempts, plus high-risk ends
 *   without a start), high_risk_calls_1h (of those, to high-risk numbers), minutes_out_1h
 *   (answered seconds / 60, rounded down), spend_eur_cents_1h (the exporter's cost, else
 *   rate x duration), high_risk_calls_15m (the velocity rule's sliding count, up to the
 *   later of the watermark and the account's latest high-risk call). When the watermark
 *   enters a new hour, accounts left in an older hour publish zeros once.
 *
 * State per worker: three pointer slots in the account records (acct_rec.h; 24 bytes of
 * every record), each pointing to a part allocated when the account first needs it and
 * freed when it is idle:
 *   acct:  every account with an outbound call in the last 1-2 hours: struct tf_acct, 152
 *          bytes (13 spend buckets 52, counters 52, pointers to its heavy arrays 40), and
 *          those arrays, each from a pool of its own and only while it holds something:
 *          the ended calls kept whole in a block of 4 (64 bytes; an ordinary account's calls
 *          of an hour) grown to 16 (256) while more end within the hour and moved back when
 *          4 hold them again, and each number range dialled, struct tf_seq, 176 bytes (128
 *          the exact distinct numbers), up to 4, given back at the account's next event once
 *          no event can reach it (4 five-minute generations behind its newest event, 15
 *          minutes or more). An ordinary account with one range: 392 bytes. Dropped, arrays
 *          with it, at the first hour roll 65 minutes after its last event. A block or range
 *          that cannot be allocated: the calls go to the store past the block (below) as
 *          past a full one; the range is not followed and the event returns
 *          VIGIL_ERR_NOMEM.
 *   hr:    accounts with a high-risk call open, a remembered orphan end, or a high-risk call
 *          in the last 16 minutes: struct tf_hr, 2872 bytes (1.5 KB of it the 64 tracked
 *          calls, 720 bytes the 5 sample event ids, 128 the 16 recent ids, 64 the velocity
 *          ring, 256 the times of the latest 32 high-risk calls). Most accounts never have
 *          one; it is dropped when idle.
 *   hist:  accounts with a high-risk call in the last 7 days: struct tf_hist, 232 bytes
 *          (25 hourly {calls, seconds}).
 * The three reach each other through the record (vigil_recs_sibling): no lookup.
 * and two stores of grown rings (window.h), for the few accounts beyond the fixed arrays:
 *   more:  velocity times past 32 (8 bytes each, keyed by the account) and scanned numbers
 *          past 16 in a range (8 bytes, keyed by account and range);
 *   spans: ended calls past the 16 within reach of the spend hour (16 bytes, by account).
 *          Nothing for an account within its arrays; freed at the tick once the arrays hold
 *          everything within reach again, and with the account.
 * Call ids are kept as 64-bit hashes (acct_table's hash): two call ids of one account
 * colliding among its <= 64 open calls is a ~1e-16 event.
 *
 * Checkpoints (detector.h): save writes the account's three parts field by
 * field in the shared little-endian encoding (state_codec.h) behind a version byte and a mask
 * of the parts present; load checks every count,
 * time and flag before it replaces the account's entries, takes the profile from the current
 * profiles, lists the account as changed and brings next_due forward to its expiries;
 * forget removes its parts (a released slot leaves the records' dirty list by itself).
 *
 * Threading: one state per worker thread (detector.h): no locks, no atomics.
 * Ownership: init allocates the state (and account records of its own when the env has none);
 * destroy frees them; a slot owns the part it points to. */
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
#include "vigil/privacy.h"
#include "vigil/profile.h"
#include "vigil/state_codec.h"
#include "vigil/status.h"
#include "vigil/text.h"
#include "vigil/window.h"

#define TF_NAME "toll_fraud"
#define TF_RULE_CONCURRENT "toll_fraud.concurrent_high_risk"
#define TF_RULE_VELOCITY "toll_fraud.velocity_high_risk"
#define TF_RULE_SPEND "toll_fraud.spend_1h"
#define TF_RULE_SEQUENTIAL "toll_fraud.sequential_dialling"
#define TF_RULE_SLOW "toll_fraud.slow_high_risk"
#define TF_TRACKED_MAX 64
#define TF_ORPHANS_MAX 8
#define TF_RECENT_MAX 16
#define TF_ORPHAN_GRACE_MS 600000LL /* keep an orphan end 10 min past the watermark */
#define TF_MIN_MS 60000LL
#define TF_HOUR_MS 3600000LL
#define TF_DAY_MS 86400000LL
#define TF_WINDOW_MS 3600000LL /* concurrency order and alert ids hash floor(event_ts / 1 h) */
#define TF_VEL_SLOTS 16        /* minutes: the event's and the 15 before */
#define TF_VEL_WINDOW_MS (15 * TF_MIN_MS)
#define TF_VEL_EXACT 32   /* times of the latest high-risk calls: exact up to this level */
#define TF_SPEND_SLOTS 13 /* 5-minute buckets: 60 to 65 minutes */
#define TF_SPEND_SLOT_MS (5 * TF_MIN_MS)
#define TF_SPEND_SPANS 16 /* ended calls kept whole: spend exact while no more end in an hour */
#define TF_SPANS_SMALL 4  /* the first block of spans: an ordinary account's calls of an hour */
#define TF_SEQ_SLOTS 4    /* number ranges followed per account */
#define TF_SEQ_GENS 3     /* 5-minute generations: 10 to 15 minutes */
#define TF_SEQ_GEN_MS (5 * TF_MIN_MS)
#define TF_SEQ_WINDOW_MS (10 * TF_MIN_MS)
#define TF_SEQ_EXACT 16  /* distinct numbers of a range kept exactly */
#define TF_SLOW_SLOTS 25 /* hours: 24 to 25 */
#define TF_HISTORY_GAP_MS (7 * TF_DAY_MS)
#define TF_EVAL_EVERY_MS 10000LL /* open-call spend and minutes are judged this often */

enum {
    TF_FIRED_WARNING = 1,
    TF_FIRED_CRITICAL = 2,
};

/* One number range an account dialled (sequential dialling). */
struct tf_seq {
    uint64_t key;               /* leading digits x 32 + length; 0 = free */
    uint64_t bits[TF_SEQ_GENS]; /* last 3 digits mod 64 seen, generation g at [g % 3] */
    int64_t gen;                /* latest generation (ts / 5 min) */
    int64_t sfx[TF_SEQ_EXACT];  /* when each distinct number was last dialled, tagged with its
                                   last 3 digits (window.h's tagged ring) */
    uint16_t n_sfx;
    uint8_t fired;
};

/* An ended call's spend, accrued evenly over the time it ran. */
struct tf_span {
    int64_t end_ms;
    uint32_t dur_ms; /* answered time, ms (UINT32_MAX at most) */
    uint32_t e4;     /* EUR x 10^4 */
};

/* Every account with an outbound call in the last hour or two of event time. */
struct tf_acct {
    /* The latest ended calls, kept whole: a block of TF_SPANS_SMALL or TF_SPEND_SPANS spans
     * from the state's pools (cap_spans), NULL while none is held. */
    struct tf_span *spans;
    /* The number ranges dialled, each a block of its own from p_seq when first used; NULL is
     * a free range (as all zeros). */
    struct tf_seq *seq[TF_SEQ_SLOTS];
    int64_t last_ms;                /* latest event time of the account */
    int64_t spend_head;             /* 5-minute bucket of the newest spend slot */
    uint32_t spend[TF_SPEND_SLOTS]; /* spend of calls pushed out of spans, bucket b at [b % 13] */
    uint32_t hour;                  /* event-time hour (ts / 1 h) the *_1h counters are for */
    uint32_t calls_out;             /* outbound calls this hour */
    uint32_t hr_calls;              /* of which to high-risk destinations */
    uint32_t secs_out;              /* answered outbound seconds this hour */
    uint32_t spend_e4;              /* outbound spend this hour, EUR x 10^4 */
    uint32_t open_hr;    /* open high-risk calls now (tf_hr's count, kept for publishing) */
    uint8_t profile;     /* enum vigil_profile */
    uint8_t spend_fired; /* TF_FIRED_* of the current spend episode */
    uint8_t n_spans;     /* entries of spans */
    uint8_t cap_spans;   /* 0, TF_SPANS_SMALL or TF_SPEND_SPANS: the size of spans */
    bool has_hr;         /* the account has its tf_hr */
    bool dirty;          /* on the records' dirty list of s_acct: publish at the next tick */
    void **home;         /* the account's s_acct slot (the pointer to this struct) */
};

struct tf_call {
    uint64_t id; /* hash of call_id */
    int64_t start_ms;
    float rate; /* EUR per minute, for the spend of calls still open */
    bool intl;
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

/* Accounts with high-risk calls open now or lately. */
struct tf_hr {
    struct tf_call calls[TF_TRACKED_MAX];
    struct tf_orphan orphans[TF_ORPHANS_MAX];
    struct tf_sample samples[VIGIL_SAMPLES_MAX]; /* the latest high-risk calls */
    uint64_t recent[TF_RECENT_MAX];              /* ids closed or attempted lately */
    int64_t vel_ts[TF_VEL_EXACT];                /* latest high-risk calls' times, sorted */
    uint32_t vel[TF_VEL_SLOTS];                  /* high-risk calls per minute m at [m % 16] */
    int64_t vel_head;                            /* newest minute of vel */
    uint16_t n_vel_ts;                           /* entries of vel_ts */
    int64_t untracked_last_ms;                   /* latest start among untracked calls */
    uint32_t untracked;                          /* open calls past TF_TRACKED_MAX */
    uint32_t conc_rearm; /* open count below which the concurrency episode is over */
    uint8_t n_calls, n_orphans, n_samples, next_sample, n_recent, next_recent;
    uint8_t fired;     /* TF_FIRED_* of the current concurrency episode */
    uint8_t vel_fired; /* TF_FIRED_* of the current velocity episode */
};

/* High-risk history of an account (slow attack). */
struct tf_hist {
    int64_t first_ms;              /* first high-risk call of the current streak */
    int64_t last_ms;               /* latest high-risk call */
    int64_t head;                  /* newest hour of the rings */
    uint32_t calls[TF_SLOW_SLOTS]; /* high-risk calls per hour h at [h % 25] */
    uint32_t secs[TF_SLOW_SLOTS];  /* answered high-risk seconds per hour */
    uint8_t fired;
};

/* A rule's levels per profile. */
struct tf_level {
    int64_t crit[VIGIL_PROFILE_COUNT];
    int64_t warn[VIGIL_PROFILE_COUNT]; /* 0: no warning */
    int64_t off[VIGIL_PROFILE_COUNT];  /* night/weekend critical level; 0: same as by day */
};

struct tf_state {
    const struct vigil_numplan *np;
    const struct vigil_profiles *profiles;
    struct tf_level conc, vel, spend, seq, slow_calls, slow_mins;
    struct vigil_win_more *more;  /* grown velocity rings of accounts above TF_VEL_EXACT */
    struct vigil_win_more *spans; /* ended calls kept whole past TF_SPEND_SPANS */
    /* Per profile, the highest level judged (window.h grows times and numbers up to it). */
    uint32_t vel_level[VIGIL_PROFILE_COUNT];
    uint32_t seq_level[VIGIL_PROFILE_COUNT];
    /* the highest sequential_dialling level of any profile */ /* the highest velocity level of
                                                                  any profile, day or night */
    int64_t max_open_ms;                                       /* toll_fraud.max_open_call_ms */
    int64_t ttl_s;                                             /* redis.counter_ttl_s */
    /* Three pointer slots in the account records (acct_rec.h): s_acct (struct tf_acct),
     * s_hr (struct tf_hr), s_hist (struct tf_hist), each part allocated when the account
     * first needs it; the dirty list of s_acct: the accounts changed since the last tick. */
    struct vigil_recs *recs;
    struct vigil_recs *own_recs; /* recs when the env gave none; NULL otherwise */
    int s_acct, s_hr, s_hist;
    struct vigil_pool *p_acct, *p_hr, *p_hist; /* their parts */
    /* The heavy arrays of a tf_acct, allocated when first used: blocks of TF_SPANS_SMALL and
     * of TF_SPEND_SPANS spans, and one range (struct tf_seq) each. */
    struct vigil_pool *p_span_s, *p_span_l, *p_seq;
    int64_t next_due;  /* earliest event time at which something in hr expires */
    int64_t wm_hour;   /* hour of the last tick's watermark */
    int64_t last_eval; /* watermark of the last open-call judgement */
};

static const struct vigil_config_key tf_keys[] = {
    {"toll_fraud.concurrent_high_risk", VIGIL_CFG_INT, "8", 1, 100000,
     "Outbound calls to high-risk destinations open at once that block international calls."},
    {"toll_fraud.concurrent_high_risk_warning", VIGIL_CFG_INT, "5", 0, 100000,
     "Open high-risk calls that raise a warning alert first (0: no warning)."},
    {"toll_fraud.concurrent_high_risk_offhours", VIGIL_CFG_INT, "5", 0, 100000,
     "Open high-risk calls that block international calls at night and at weekends (0: the "
     "day level all week)."},
    /* A call centre that works evenings and weekends is staffed then: somebody watches the
     * PBX, and its traffic is what it is by day. So the callcenter profile has no night
     * levels (0: the day ones hold all week; they meet detection.md's obligations, so a
     * hacked call-centre PBX is still stopped at night). The night levels would order a
     * working call centre: 25 lines to NL and its neighbours spend EUR 40 to 75 an hour, past
     * the night spend block (50), and five agents calling customers in a high-risk country
     * (Tunisia, the Baltics) are at the night blocks of 5 open calls and 10 in 15 minutes. */
    {"toll_fraud.concurrent_high_risk_offhours@callcenter", VIGIL_CFG_INT, "0", 0, 100000,
     "Night and weekend level of the callcenter profile: 0, the day level all week, as a call "
     "centre working then is staffed."},
    {"toll_fraud.max_open_call_ms", VIGIL_CFG_INT, "86400000", 60000, 604800000,
     "Event time after which a call_start without its call_end stops counting as open."},
    {"toll_fraud.velocity_high_risk", VIGIL_CFG_INT, "20", 1, VIGIL_WIN_LEVEL_MAX,
     "Outbound calls to high-risk destinations within 15 minutes that block international "
     "calls. At most 10000, the highest level counted exactly."
     ""},
    {"toll_fraud.velocity_high_risk_warning", VIGIL_CFG_INT, "10", 0, VIGIL_WIN_LEVEL_MAX,
     "High-risk calls within 15 minutes that raise a warning alert first (0: no warning)."},
    {"toll_fraud.velocity_high_risk_offhours", VIGIL_CFG_INT, "10", 0, VIGIL_WIN_LEVEL_MAX,
     "High-risk calls within 15 minutes that block international calls at night and at "
     "weekends (0: the day level all week)."},
    {"toll_fraud.velocity_high_risk_offhours@callcenter", VIGIL_CFG_INT, "0", 0,
     VIGIL_WIN_LEVEL_MAX,
     "Night and weekend level of the callcenter profile: 0, the day level all week, as a call "
     "centre working then is staffed."},
    {"toll_fraud.spend_1h_eur", VIGIL_CFG_INT, "100", 1, 10000000,
     "Outbound spend in EUR within one hour above which calls are blocked (open high-risk "
     "calls count what they cost in that hour)."},
    {"toll_fraud.spend_1h_eur_warning", VIGIL_CFG_INT, "75", 0, 10000000,
     "Outbound spend in EUR within one hour above which a warning alert goes out first (0: no "
     "warning)."},
    {"toll_fraud.spend_1h_eur_offhours", VIGIL_CFG_INT, "50", 0, 10000000,
     "Outbound spend in EUR within one hour above which calls are blocked at night and at "
     "weekends (0: the day level all week)."},
    {"toll_fraud.spend_1h_eur_offhours@callcenter", VIGIL_CFG_INT, "0", 0, 10000000,
     "Night and weekend level of the callcenter profile: 0, the day level all week, as a call "
     "centre working then is staffed."},
    {"toll_fraud.sequential_dialling", VIGIL_CFG_INT, "10", 2, 64,
     "Distinct numbers differing only in their last 3 digits dialled within 10 minutes that "
     "block the account (range scanning)."},
    {"toll_fraud.sequential_dialling_warning", VIGIL_CFG_INT, "6", 0, 64,
     "Distinct numbers of one range within 10 minutes that raise a warning alert first (0: no "
     "warning)."},
    {"toll_fraud.slow_high_risk_calls", VIGIL_CFG_INT, "30", 1, 100000,
     "High-risk calls within 24 hours that block an account without earlier high-risk "
     "calls."},
    {"toll_fraud.slow_high_risk_calls_warning", VIGIL_CFG_INT, "15", 0, 100000,
     "High-risk calls within 24 hours from such an account that raise a warning alert (0: no "
     "warning)."},
    {"toll_fraud.slow_high_risk_minutes", VIGIL_CFG_INT, "90", 1, 1000000,
     "Minutes to high-risk destinations within 24 hours that block an account without earlier "
     "high-risk calls."},
    {"toll_fraud.slow_high_risk_minutes_warning", VIGIL_CFG_INT, "45", 0, 1000000,
     "Minutes to high-risk destinations within 24 hours from such an account that raise a "
     "warning alert (0: no warning)."},
    {0},
};

static uint32_t sat_add(uint32_t a, uint64_t b)
{
    return b >= UINT32_MAX - a ? UINT32_MAX : (uint32_t)(a + b);
}

static uint64_t call_hash(const struct vigil_event *ev)
{
    return vigil_acct_table_hash(ev->call_id, strlen(ev->call_id));
}

/* EUR as EUR x 10^4, saturating. */
static uint64_t eur_e4(double eur)
{
    if (!(eur > 0.0))
        return 0;
    return eur < 4e5 ? (uint64_t)(eur * 1e4 + 0.5) : UINT32_MAX;
}

/* --- levels --------------------------------------------------------------------------------- */

static void level_read(const struct vigil_config *cfg, struct tf_level *l, const char *crit,
                       const char *warn, const char *off)
{
    vigil_profile_ints(cfg, crit, l->crit);
    vigil_profile_ints(cfg, warn, l->warn);
    if (off)
        vigil_profile_ints(cfg, off, l->off);
}

/* The critical and warning levels in force for a profile by day or by night. */
static void level_get(const struct tf_level *l, int profile, bool night, int64_t *crit,
                      int64_t *warn)
{
    int64_t c = l->crit[profile], w = l->warn[profile];
    if (night && l->off[profile] > 0 && l->off[profile] < c) {
        /* The night warning keeps the day's ratio to the block level. */
        w = w * l->off[profile] / c;
        c = l->off[profile];
    }
    *crit = c;
    *warn = w > 0 && w < c ? w : 0; /* a warning at or above the block would never come first */
}

/* --- bucket rings ------------------------------------------------------------------------- */

/* Empties the buckets a ring of n passes when its newest bucket moves from head to idx. */
static void ring_move(uint32_t *r, int n, int64_t head, int64_t idx)
{
    int64_t k = idx - head < n ? idx - head : n;
    for (int64_t i = 1; i <= k; i++)
        r[(head + i) % n] = 0;
}

/* Adds v to bucket idx; false if idx is older than the ring holds. */
static bool ring_add(uint32_t *r, int n, int64_t *head, int64_t idx, uint64_t v)
{
    if (idx > *head) {
        ring_move(r, n, *head, idx);
        *head = idx;
    } else if (idx <= *head - n) {
        return false;
    }
    r[idx % n] = sat_add(r[idx % n], v);
    return true;
}

/* Sum of buckets [from, to] that the ring still holds. */
static uint64_t ring_sum(const uint32_t *r, int n, int64_t head, int64_t from, int64_t to)
{
    if (to > head)
        to = head;
    if (from <= head - n)
        from = head - n + 1;
    uint64_t s = 0;
    for (int64_t i = from; i <= to; i++)
        s += r[i % n];
    return s;
}

static bool ring_empty(const uint32_t *r, int n)
{
    for (int i = 0; i < n; i++) {
        if (r[i])
            return false;
    }
    return true;
}

/* --- the high-risk state ------------------------------------------------------------------ */

static uint32_t hr_open(const struct tf_hr *h)
{
    return h->n_calls + h->untracked;
}

static bool hr_idle(const struct tf_hr *h)
{
    return h->n_calls == 0 && h->untracked == 0 && h->n_orphans == 0 &&
           ring_empty(h->vel, TF_VEL_SLOTS);
}

static int hr_find_call(const struct tf_hr *h, uint64_t id)
{
    for (int i = 0; i < h->n_calls; i++) {
        if (h->calls[i].id == id)
            return i;
    }
    return -1;
}

static void hr_after_close(struct tf_hr *h)
{
    if (hr_open(h) < h->conc_rearm)
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

static bool hr_has_orphan(const struct tf_hr *h, uint64_t id)
{
    for (int i = 0; i < h->n_orphans; i++) {
        if (h->orphans[i].id == id)
            return true;
    }
    return false;
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

static bool hr_recent_has(const struct tf_hr *h, uint64_t id)
{
    for (int i = 0; i < h->n_recent; i++) {
        if (h->recent[i] == id)
            return true;
    }
    return false;
}

static void hr_add_recent(struct tf_hr *h, uint64_t id)
{
    h->recent[h->next_recent] = id;
    h->next_recent = (uint8_t)((h->next_recent + 1) % TF_RECENT_MAX);
    if (h->n_recent < TF_RECENT_MAX)
        h->n_recent++;
}

static void hr_add_sample(struct tf_hr *h, uint64_t id, bool untracked, const char *event_id)
{
    struct tf_sample *s = &h->samples[h->next_sample];
    s->id = id;
    s->untracked = untracked;
    vigil_text_copy(s->event_id, sizeof s->event_id, event_id);
    h->next_sample = (uint8_t)((h->next_sample + 1) % VIGIL_SAMPLES_MAX);
    if (h->n_samples < VIGIL_SAMPLES_MAX)
        h->n_samples++;
}

/* The latest samples, oldest first; `open_only` keeps those still open. */
static void hr_samples(const struct tf_hr *h, bool open_only, struct vigil_finding *f)
{
    for (int k = 0; k < h->n_samples; k++) {
        int i = (h->next_sample + VIGIL_SAMPLES_MAX - h->n_samples + k) % VIGIL_SAMPLES_MAX;
        const struct tf_sample *s = &h->samples[i];
        if (!open_only || hr_find_call(h, s->id) >= 0 || (s->untracked && h->untracked > 0))
            f->samples[f->n_samples++] = s->event_id;
    }
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
    if (!ring_empty(h->vel, TF_VEL_SLOTS) && (h->vel_head + TF_VEL_SLOTS) * TF_MIN_MS < due)
        due = (h->vel_head + TF_VEL_SLOTS) * TF_MIN_MS;
    return due;
}

static void due_at(struct tf_state *st, int64_t t)
{
    if (t < st->next_due)
        st->next_due = t;
}

/* The part *s of a slot of `slot`, zeroed and allocated when `fresh`; NULL (the slot
 * released) when out of memory. */
/* The pool of slot `slot`'s parts. */
static struct vigil_pool *pool_of(const struct tf_state *st, int slot)
{
    return slot == st->s_acct ? st->p_acct : slot == st->s_hr ? st->p_hr : st->p_hist;
}

static void *part_take(struct tf_state *st, int slot, void **s, bool fresh)
{
    if (!fresh)
        return *s;
    if (!(*s = vigil_pool_alloc(pool_of(st, slot))))
        vigil_recs_release(st->recs, slot, s);
    return *s;
}

/* Frees the part of slot s and releases the slot (off its dirty list too). */
static void part_drop(struct tf_state *st, int slot, void **s)
{
    vigil_pool_free(pool_of(st, slot), *s);
    vigil_recs_release(st->recs, slot, s);
}

/* fini of the three slots (acct_rec.h): each holds one pointer to its part. */
static void part_fini(void *ctx, void *slot)
{
    void **s = slot;
    vigil_pool_free(ctx, *s);
    *s = NULL;
}

/* The pool of a block of cap spans. */
static struct vigil_pool *span_pool(const struct tf_state *st, int cap)
{
    return cap == TF_SPANS_SMALL ? st->p_span_s : st->p_span_l;
}

/* Gives back an account's heavy arrays (its spans and ranges) to their pools. */
static void acct_parts_free(const struct tf_state *st, struct tf_acct *a)
{
    if (a->spans)
        vigil_pool_free(span_pool(st, a->cap_spans), a->spans);
    a->spans = NULL;
    a->n_spans = a->cap_spans = 0;
    for (int i = 0; i < TF_SEQ_SLOTS; i++) {
        vigil_pool_free(st->p_seq, a->seq[i]);
        a->seq[i] = NULL;
    }
}

/* fini of s_acct: the tf_acct and the arrays it points to. */
static void acct_fini(void *ctx, void *slot)
{
    const struct tf_state *st = ctx;
    void **s = slot;
    if (*s)
        acct_parts_free(st, *s);
    vigil_pool_free(st->p_acct, *s);
    *s = NULL;
}

/* Moves the account's spans to a block of cap (> n_spans) spans, or gives the block back
 * when cap is 0 (no span held). False when out of memory (nothing changed). */
static bool spans_resize(const struct tf_state *st, struct tf_acct *a, int cap)
{
    struct tf_span *b = NULL;
    if (cap > 0) {
        if (!(b = vigil_pool_alloc(span_pool(st, cap))))
            return false;
        if (a->n_spans > 0)
            memcpy(b, a->spans, (size_t)a->n_spans * sizeof *b);
    }
    if (a->spans)
        vigil_pool_free(span_pool(st, a->cap_spans), a->spans);
    a->spans = b;
    a->cap_spans = (uint8_t)cap;
    return true;
}

/* The account's tf_hr, or NULL. */
static struct tf_hr *hr_find(const struct tf_state *st, const struct tf_acct *a)
{
    void **s = vigil_recs_sibling_find(st->recs, st->s_acct, a->home, st->s_hr);
    return s ? *s : NULL;
}

/* The account's part of slot `slot` by account id (a lookup), or NULL. */
static void *part_find(const struct tf_state *st, int slot, const char *account)
{
    void **s = vigil_recs_find(st->recs, slot, account);
    return s ? *s : NULL;
}

/* Drops the account's part of `slot`, if any. */
static void part_forget(struct tf_state *st, int slot, const char *account)
{
    vigil_recs_forget(st->recs, slot, account); /* part_fini frees it */
}

static int mark_dirty(struct tf_state *st, struct tf_acct *a)
{
    if (a->dirty)
        return 0;
    if (vigil_recs_mark(st->recs, st->s_acct, a->home) != 0)
        return VIGIL_ERR_NOMEM;
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
    (void)account;
    bool fresh;
    void **s = vigil_recs_sibling(st->recs, st->s_acct, a->home, st->s_hr, &fresh);
    struct tf_hr *h = part_take(st, st->s_hr, s, fresh);
    if (h)
        a->has_hr = true;
    return h;
}

static void hr_drop(struct tf_state *st, struct tf_acct *a, const char *account)
{
    (void)account;
    void **s = vigil_recs_sibling_find(st->recs, st->s_acct, a->home, st->s_hr);
    if (s)
        part_drop(st, st->s_hr, s);
    a->has_hr = false;
}

static const char *night_note(bool night)
{
    return night ? " at night or weekend" : "";
}

/* --- concurrent_high_risk ------------------------------------------------------------------ */

static int emit_concurrent(const struct tf_hr *h, const struct vigil_event *ev,
                           enum vigil_severity sev, int64_t threshold, int64_t crit, bool night,
                           struct vigil_emit *out)
{
    uint32_t open = hr_open(h);
    char reason[256];
    if (sev == VIGIL_SEV_CRITICAL)
        snprintf(reason, sizeof reason,
                 "%" PRIu32 " simultaneous outbound calls to high-risk destinations "
                 "(threshold %" PRId64 "%s): likely hacked PBX or stolen credentials",
                 open, threshold, night_note(night));
    else
        snprintf(reason, sizeof reason,
                 "%" PRIu32 " simultaneous outbound calls to high-risk destinations "
                 "(warning level %" PRId64 ", block at %" PRId64
                 "%s): possible hacked PBX or stolen credentials",
                 open, threshold, crit, night_note(night));

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
    hr_samples(h, true, &f);
    return vigil_emit_finding(out, &f);
}

static int check_concurrent(const struct tf_acct *a, struct tf_hr *h, const struct tf_state *st,
                            const struct vigil_event *ev, struct vigil_emit *out)
{
    bool night = vigil_off_hours(ev->ts_ms);
    int64_t crit, warn;
    level_get(&st->conc, a->profile, night, &crit, &warn);
    uint32_t open = hr_open(h);
    if (open >= crit) {
        if (h->fired & TF_FIRED_CRITICAL)
            return 0;
        if (!h->fired)
            h->conc_rearm = (uint32_t)(warn > 0 ? warn : crit);
        h->fired |= TF_FIRED_CRITICAL | TF_FIRED_WARNING;
        return emit_concurrent(h, ev, VIGIL_SEV_CRITICAL, crit, crit, night, out);
    }
    if (warn > 0 && open >= warn && !(h->fired & TF_FIRED_WARNING)) {
        h->fired |= TF_FIRED_WARNING;
        h->conc_rearm = (uint32_t)warn;
        return emit_concurrent(h, ev, VIGIL_SEV_WARNING, warn, crit, night, out);
    }
    return 0;
}

/* --- velocity_high_risk -------------------------------------------------------------------- */

/* The key of an account's grown rings (window.h). */
static uint64_t tf_key(const char *account)
{
    return vigil_acct_table_hash(account, strlen(account));
}

/* High-risk calls in [ts - 15 min, ts]: exact up to the highest velocity level (the latest
 * TF_VEL_EXACT times, grown while more lie in the window); past that, or when times from
 * before a restore are missing, at least that many, and the minute buckets (which may hold
 * a 16th minute) say how many more. */
static uint64_t vel_count(const struct tf_state *st, const char *account, const struct tf_hr *h,
                          int64_t ts)
{
    bool more;
    uint64_t key = h->n_vel_ts == TF_VEL_EXACT ? tf_key(account) : 0; /* else unused */
    uint64_t n = vigil_win_more_count(st->more, key, h->vel_ts, TF_VEL_EXACT, h->n_vel_ts,
                                      ts - TF_VEL_WINDOW_MS, ts, &more);
    if (!more)
        return n;
    int64_t minute = vigil_floor_div(ts, TF_MIN_MS);
    uint64_t b = ring_sum(h->vel, TF_VEL_SLOTS, h->vel_head, minute - (TF_VEL_SLOTS - 1), minute);
    return b > n ? b : n;
}

static int check_velocity(const struct tf_acct *a, struct tf_hr *h, const struct tf_state *st,
                          const struct vigil_event *ev, struct vigil_emit *out)
{
    bool night = vigil_off_hours(ev->ts_ms);
    int64_t crit, warn;
    level_get(&st->vel, a->profile, night, &crit, &warn);
    uint64_t n = vel_count(st, ev->account, h, ev->ts_ms);
    /* A call that arrives late (events.md: up to 60 s of disorder) may complete the window
     * that ends at the newest call seen, judged before it came. */
    int64_t newest = h->n_vel_ts ? h->vel_ts[h->n_vel_ts - 1] : ev->ts_ms;
    if (newest > ev->ts_ms && newest - ev->ts_ms <= TF_VEL_WINDOW_MS) {
        uint64_t m = vel_count(st, ev->account, h, newest);
        n = m > n ? m : n;
    }
    enum vigil_severity sev = (enum vigil_severity)vigil_episode_fire(
        &h->vel_fired, warn > 0 && (int64_t)n >= warn, (int64_t)n >= crit);
    if (sev == 0) {
        if ((int64_t)n < (warn > 0 ? warn : crit))
            h->vel_fired = 0; /* the episode is over: a new one may fire again */
        return 0;
    }
    int64_t threshold = sev == VIGIL_SEV_CRITICAL ? crit : warn;
    char reason[256];
    snprintf(reason, sizeof reason,
             "%" PRIu64 " outbound calls to high-risk destinations within 15 minutes "
             "(%s %" PRId64 "%s): %s hacked PBX or stolen credentials",
             n, sev == VIGIL_SEV_CRITICAL ? "threshold" : "warning level", threshold,
             night_note(night), sev == VIGIL_SEV_CRITICAL ? "likely" : "possible");
    struct vigil_finding f = {
        .detector = TF_NAME,
        .rule = TF_RULE_VELOCITY,
        .severity = sev,
        .action = sev == VIGIL_SEV_CRITICAL ? VIGIL_ACT_BLOCK_INTERNATIONAL : VIGIL_ACT_NONE,
        .account = ev->account,
        .event_ts_ms = ev->ts_ms,
        .window_ms = TF_VEL_WINDOW_MS,
        .reason = reason,
        .evidence = {{"high_risk_calls_15m", (double)n},
                     {"threshold", (double)threshold},
                     {"block_level", (double)crit}},
        .n_evidence = 3,
    };
    hr_samples(h, false, &f);
    return vigil_emit_finding(out, &f);
}

/* --- slow_high_risk ----------------------------------------------------------------------- */

/* Judges the slow rule at event time ts; extra_secs: time the open calls have run. */
static int check_slow(const struct tf_state *st, const struct tf_acct *a, const char *account,
                      struct tf_hist *hs, int64_t ts, uint64_t extra_secs, const char *sample,
                      struct vigil_emit *out)
{
    if (hs->first_ms < ts - TF_DAY_MS)
        return 0; /* high-risk calls before this 24 h: not a first-time burst */
    int64_t hour = vigil_floor_div(ts, TF_HOUR_MS);
    int64_t from = hour - (TF_SLOW_SLOTS - 1);
    uint64_t calls = ring_sum(hs->calls, TF_SLOW_SLOTS, hs->head, from, hour);
    uint64_t mins = (ring_sum(hs->secs, TF_SLOW_SLOTS, hs->head, from, hour) + extra_secs) / 60;
    int64_t cc, cw, mc, mw;
    level_get(&st->slow_calls, a->profile, false, &cc, &cw);
    level_get(&st->slow_mins, a->profile, false, &mc, &mw);
    bool crit = (int64_t)calls >= cc || (int64_t)mins >= mc;
    bool warn = (cw > 0 && (int64_t)calls >= cw) || (mw > 0 && (int64_t)mins >= mw);
    enum vigil_severity sev;
    if (crit && !(hs->fired & TF_FIRED_CRITICAL)) {
        sev = VIGIL_SEV_CRITICAL;
        hs->fired |= TF_FIRED_CRITICAL | TF_FIRED_WARNING;
    } else if (!crit && warn && !(hs->fired & TF_FIRED_WARNING)) {
        sev = VIGIL_SEV_WARNING;
        hs->fired |= TF_FIRED_WARNING;
    } else {
        if (!crit && !warn)
            hs->fired = 0;
        return 0;
    }
    bool c = sev == VIGIL_SEV_CRITICAL;
    char reason[320];
    snprintf(reason, sizeof reason,
             "%" PRIu64 " calls and %" PRIu64 " minutes to high-risk destinations within 24 "
             "hours from an account with no earlier high-risk calls (%s %" PRId64
             " calls or %" PRId64 " minutes): %s slow toll fraud through a hacked PBX or "
             "stolen credentials",
             calls, mins, c ? "threshold" : "warning level", c ? cc : cw, c ? mc : mw,
             c ? "likely" : "possible");
    struct vigil_finding f = {
        .detector = TF_NAME,
        .rule = TF_RULE_SLOW,
        .severity = sev,
        .action = c ? VIGIL_ACT_BLOCK_INTERNATIONAL : VIGIL_ACT_NONE,
        .account = account,
        .event_ts_ms = ts,
        .window_ms = TF_DAY_MS,
        .reason = reason,
        .evidence = {{"high_risk_calls_24h", (double)calls},
                     {"high_risk_minutes_24h", (double)mins},
                     {"threshold_calls", (double)(c ? cc : cw)},
                     {"threshold_minutes", (double)(c ? mc : mw)}},
        .n_evidence = 4,
    };
    if (sample)
        f.samples[f.n_samples++] = sample;
    return vigil_emit_finding(out, &f);
}

/* Books `calls` high-risk calls and `secs` answered seconds at the event and judges. */
static int slow_note(struct tf_state *st, const struct tf_acct *a, const struct vigil_event *ev,
                     uint64_t calls, uint64_t secs, struct vigil_emit *out)
{
    bool fresh;
    void **hslot = vigil_recs_sibling(st->recs, st->s_acct, a->home, st->s_hist, &fresh);
    struct tf_hist *hs = part_take(st, st->s_hist, hslot, fresh);
    if (!hs)
        return VIGIL_ERR_NOMEM;
    /* The streak begins when its first call began: an end without its start ran for secs
     * before it. So every call of a streak being judged (it began at most 24 h ago) and
     * every second of them lies inside the 24 h ending at the event: counts and minutes are
     * exact without keeping their times. */
    int64_t began = ev->ts_ms - (int64_t)(secs < (uint64_t)TF_DAY_MS ? secs : TF_DAY_MS) * 1000;
    if (hs->last_ms == 0 || ev->ts_ms - hs->last_ms > TF_HISTORY_GAP_MS) {
        /* First high-risk call, or the first after a week without: a new streak. */
        memset(hs, 0, sizeof *hs);
        hs->first_ms = began;
    }
    if (calls > 0 && began < hs->first_ms)
        hs->first_ms = began;
    if (ev->ts_ms > hs->last_ms)
        hs->last_ms = ev->ts_ms;
    int64_t hour = vigil_floor_div(ev->ts_ms, TF_HOUR_MS);
    if (hour > hs->head) {
        /* Both rings share one head. */
        ring_move(hs->calls, TF_SLOW_SLOTS, hs->head, hour);
        ring_move(hs->secs, TF_SLOW_SLOTS, hs->head, hour);
        hs->head = hour;
    }
    if (hour > hs->head - TF_SLOW_SLOTS) {
        hs->calls[hour % TF_SLOW_SLOTS] = sat_add(hs->calls[hour % TF_SLOW_SLOTS], calls);
        hs->secs[hour % TF_SLOW_SLOTS] = sat_add(hs->secs[hour % TF_SLOW_SLOTS], secs);
    }
    return check_slow(st, a, ev->account, hs, ev->ts_ms, 0, ev->id, out);
}

/* A high-risk call counted (start, attempt or end without start): velocity and slow. */
static int count_hr_call(struct tf_state *st, struct tf_acct *a, struct tf_hr *h,
                         const struct vigil_event *ev, uint64_t secs, struct vigil_emit *out)
{
    int64_t m = vigil_floor_div(ev->ts_ms, TF_MIN_MS);
    if (ring_add(h->vel, TF_VEL_SLOTS, &h->vel_head, m, 1))
        due_at(st, (h->vel_head + TF_VEL_SLOTS) * TF_MIN_MS);
    vigil_win_more_add(st->more, h->n_vel_ts == TF_VEL_EXACT ? tf_key(ev->account) : 0, h->vel_ts,
                       TF_VEL_EXACT, &h->n_vel_ts, ev->ts_ms, st->vel_level[a->profile],
                       TF_VEL_WINDOW_MS);
    int rc = check_velocity(a, h, st, ev, out);
    if (rc != 0)
        return rc;
    return slow_note(st, a, ev, 1, secs, out);
}

/* --- spend_1h ------------------------------------------------------------------------------ */

/* Books a call's cost over the 5-minute buckets it ran in, so that the spend of the last
 * hour holds what was spent in that hour: a one-hour call that ended 50 minutes ago counts
 * with a sixth of its cost. Parts older than the ring go. */
static void spend_bucket(struct tf_acct *a, int64_t start, int64_t end, uint64_t cost)
{
    int64_t b_end = vigil_floor_div(end, TF_SPEND_SLOT_MS);
    int64_t from = (b_end - (TF_SPEND_SLOTS - 1)) * TF_SPEND_SLOT_MS;
    if (start < from) {
        cost = cost * (uint64_t)(end - from) / (uint64_t)(end - start);
        start = from;
    }
    if (end <= start) {
        ring_add(a->spend, TF_SPEND_SLOTS, &a->spend_head, b_end, cost);
        return;
    }
    uint64_t left = cost;
    for (int64_t b = vigil_floor_div(start, TF_SPEND_SLOT_MS); b <= b_end; b++) {
        int64_t lo = b * TF_SPEND_SLOT_MS > start ? b * TF_SPEND_SLOT_MS : start;
        int64_t hi = (b + 1) * TF_SPEND_SLOT_MS < end ? (b + 1) * TF_SPEND_SLOT_MS : end;
        uint64_t part = b == b_end ? left : cost * (uint64_t)(hi - lo) / (uint64_t)(end - start);
        left -= part;
        ring_add(a->spend, TF_SPEND_SLOTS, &a->spend_head, b, part);
    }
}

/* Books an ended call's spend: kept whole among the latest TF_SPEND_SPANS calls, so the
 * hour counts exactly its part inside; when they are full, the call that ended first goes to
 * the buckets. Calls that ended more than an hour (plus the disorder allowance) before this
 * one count no more and go first. */
static void spend_book(struct tf_state *st, struct tf_acct *a, const char *account, int64_t start,
                       int64_t end, uint64_t cost)
{
    for (int i = 0; i < a->n_spans;) {
        if (a->spans[i].end_ms < end - TF_HOUR_MS - 2 * TF_MIN_MS)
            a->spans[i] = a->spans[--a->n_spans];
        else
            i++;
    }
    struct tf_span sp = {
        .end_ms = end,
        .dur_ms = end - start >= (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)(end - start),
        .e4 = cost >= UINT32_MAX ? UINT32_MAX : (uint32_t)cost,
    };
    /* The block is sized to what it holds: the small one for an ordinary account, the large
     * one while more calls end within the hour. A block that cannot grow (no memory) counts
     * as full: the call that ended first is then kept past it, as past the large one. */
    if (a->n_spans == a->cap_spans && a->n_spans < TF_SPEND_SPANS)
        (void)spans_resize(st, a, a->n_spans < TF_SPANS_SMALL ? TF_SPANS_SMALL : TF_SPEND_SPANS);
    else if (a->cap_spans == TF_SPEND_SPANS && a->n_spans < TF_SPANS_SMALL)
        (void)spans_resize(st, a, TF_SPANS_SMALL); /* no memory: it stays in the large one */
    if (a->n_spans < a->cap_spans) {
        a->spans[a->n_spans++] = sp;
        return;
    }
    int old = 0;
    for (int i = 1; i < a->n_spans; i++) {
        if (a->spans[i].end_ms < a->spans[old].end_ms)
            old = i;
    }
    struct tf_span out = sp;
    if (a->n_spans > 0 && sp.end_ms > a->spans[old].end_ms) {
        out = a->spans[old];
        a->spans[old] = sp;
    }
    /* Kept whole as well while it may overlap an hour still to be judged (window.h): only an
     * account with more than TF_SPEND_SPANS calls ending within the hour pays for that. The
     * buckets are the fallback when those are not all known (after a restore, or a span that
     * could not be kept: no memory; window.c marks it, so the return needs no action). */
    if (out.end_ms >= end - TF_HOUR_MS - 2 * TF_MIN_MS)
        (void)vigil_win_more_span_add(st->spans, tf_key(account), out.end_ms, out.dur_ms, out.e4,
                                      TF_HOUR_MS + TF_MIN_MS);
    spend_bucket(a, out.end_ms - (int64_t)out.dur_ms, out.end_ms, out.e4);
}

/* Spend in [ts - 1 h, ts]: each kept call counts the part of its time inside (a call that
 * straddles the start counts only its seconds after it), the latest TF_SPEND_SPANS from the
 * account's array, older ones from those kept whole past it (window.h), so the hour is exact
 * however many calls end in it. Only when those may be incomplete (the hour reaches back
 * before a restore, or past VIGIL_WIN_SPANS_MAX calls) does the spend pushed out count from
 * the buckets instead, only from buckets wholly after the start, never from before the
 * hour. */
static uint64_t spend_window_e4(const struct tf_state *st, const struct tf_acct *a,
                                const char *account, int64_t ts)
{
    int64_t from = ts - TF_HOUR_MS;
    uint64_t s = 0;
    for (int i = 0; i < a->n_spans; i++) {
        const struct tf_span *sp = &a->spans[i];
        s += vigil_win_span_part(sp->e4, sp->end_ms - (int64_t)sp->dur_ms, sp->end_ms, from, ts);
    }
    uint64_t kept;
    if (vigil_win_more_span_sum(st->spans, tf_key(account), from, ts, &kept))
        return s + kept;
    int64_t b = vigil_floor_div(ts, TF_SPEND_SLOT_MS);
    int64_t b_from = -vigil_floor_div(-from, TF_SPEND_SLOT_MS); /* first bucket after from */
    return s + ring_sum(a->spend, TF_SPEND_SLOTS, a->spend_head, b_from, b);
}

/* Judges spend (EUR x 10^4, of which open_e4 on n_open calls still open) at time ts. */
static int check_spend(const struct tf_state *st, struct tf_acct *a, const char *account,
                       int64_t ts, uint64_t spend, uint64_t open_e4, uint32_t n_open, bool intl,
                       const struct tf_hr *h, const char *sample, struct vigil_emit *out)
{
    bool night = vigil_off_hours(ts);
    int64_t crit, warn;
    level_get(&st->spend, a->profile, night, &crit, &warn);
    enum vigil_severity sev = (enum vigil_severity)vigil_episode_fire(
        &a->spend_fired, warn > 0 && (int64_t)spend > warn * 10000, (int64_t)spend > crit * 10000);
    if (sev == 0) {
        /* Over when spend is well below the first level (a steady spender hovering at the
         * level would otherwise warn at every cool-down), and only when nothing is open: an
         * end alone does not see what open calls cost. */
        if ((int64_t)spend * 10 <= (warn > 0 ? warn : crit) * 10000 * 8 && a->open_hr == 0)
            a->spend_fired = 0;
        return 0;
    }
    bool c = sev == VIGIL_SEV_CRITICAL;
    int64_t threshold = c ? crit : warn;
    char reason[320];
    snprintf(reason, sizeof reason,
             "Outbound spend of EUR %.2f within the last hour, EUR %.2f of it on %" PRIu32
             " calls still open (%s EUR %" PRId64 "%s): %s hacked PBX or stolen credentials",
             (double)spend / 1e4, (double)open_e4 / 1e4, n_open, c ? "limit" : "warning level",
             threshold, night_note(night), c ? "likely" : "possible");
    struct vigil_finding f = {
        .detector = TF_NAME,
        .rule = TF_RULE_SPEND,
        .severity = sev,
        /* Blocking international calls does not stop domestic spend. */
        .action = !c     ? VIGIL_ACT_NONE
                  : intl ? VIGIL_ACT_BLOCK_INTERNATIONAL
                         : VIGIL_ACT_SUSPEND,
        .account = account,
        .event_ts_ms = ts,
        .window_ms = TF_HOUR_MS,
        .reason = reason,
        .evidence = {{"spend_eur_1h", (double)(spend / 100) / 100.0},
                     {"open_calls_eur", (double)(open_e4 / 100) / 100.0},
                     {"open_calls", (double)n_open},
                     {"threshold_eur", (double)threshold}},
        .n_evidence = 4,
    };
    if (h)
        hr_samples(h, true, &f);
    if (sample && f.n_samples < VIGIL_SAMPLES_MAX)
        f.samples[f.n_samples++] = sample;
    return vigil_emit_finding(out, &f);
}

/* --- sequential_dialling ----------------------------------------------------------------- */

/* The range key (leading digits and length) and last 3 digits of an E.164 number of at
 * least 7 digits. */
static bool seq_key(const char *num, uint64_t *key, unsigned *suffix)
{
    if (num[0] != '+')
        return false;
    size_t n = strlen(num + 1);
    if (n < 7 || n > VIGIL_NUMBER_MAX)
        return false;
    uint64_t p = 0;
    for (size_t i = 1; i <= n - 3; i++)
        p = p * 10 + (uint64_t)(num[i] - '0');
    unsigned s = 0;
    for (size_t i = n - 2; i <= n; i++)
        s = s * 10 + (unsigned)(num[i] - '0');
    *key = p * 32 + n; /* p < 10^17, so this fits; n >= 7 keeps it non-zero */
    /* Pseudonymised, the range is kept (and checkpointed) as a keyed hash, not its digits. */
    if (vigil_privacy_enabled())
        *key = vigil_privacy_hash(num, n + 1 - 3) | 1;
    *suffix = s;
    return true;
}

static uint64_t seq_bits(const struct tf_seq *s)
{
    uint64_t u = 0;
    for (int g = 0; g < TF_SEQ_GENS; g++)
        u |= s->bits[g];
    return u;
}

/* The key of a range's grown tagged ring: the account's, mixed with the range's. */
static uint64_t seq_more_key(const char *account, uint64_t range)
{
    return tf_key(account) ^ (range * 0x9e3779b97f4a7c15ULL + 0x5e9ULL);
}

/* Notes ev's number in its range and judges the range. *lost: the range could not be
 * followed (no memory for a new one; nothing else changed). */
static int seq_note(const struct tf_state *st, struct tf_acct *a, const struct vigil_event *ev,
                    bool intl, struct vigil_emit *out, bool *lost)
{
    static const struct tf_seq none; /* what a range not allocated holds */
    /* Ranges no event of the account can reach any more go back to the pool: the account's
     * events come at most 60 s out of order (events.md), so every later one lies in a
     * generation at most one before the newest, to which a range 4 or more generations older
     * is stale. A stale range counts nothing: its numbers lie more than 10 minutes back and
     * the event that finds it clears its bits; its key found again starts it afresh, with
     * the same count a free range gets (1, below every level, which clears fired), and it is
     * the first to be replaced, as a free one is. So giving it back changes no finding. */
    int64_t g_newest = vigil_floor_div(a->last_ms, TF_SEQ_GEN_MS);
    for (int i = 0; i < TF_SEQ_SLOTS; i++) {
        struct tf_seq *q = a->seq[i];
        if (q && q->gen <= g_newest - TF_SEQ_GENS - 1) {
            vigil_win_more_forget(st->more, seq_more_key(ev->account, q->key));
            vigil_pool_free(st->p_seq, q);
            a->seq[i] = NULL;
        }
    }
    uint64_t key;
    unsigned suffix;
    if (!seq_key(ev->to, &key, &suffix))
        return 0;
    int64_t g = vigil_floor_div(ev->ts_ms, TF_SEQ_GEN_MS);
    struct tf_seq *s = NULL;
    int victim = 0;
    for (int i = 0; i < TF_SEQ_SLOTS && !s; i++) {
        const struct tf_seq *c = a->seq[i] ? a->seq[i] : &none;
        const struct tf_seq *v = a->seq[victim] ? a->seq[victim] : &none;
        if (c->key == key) {
            s = a->seq[i];
            break;
        }
        /* Replace a free or stale range first, then the one with fewest numbers, then the
         * oldest: a scan in progress outlives the one-off numbers around it. */
        bool c_dead = c->key == 0 || c->gen <= g - TF_SEQ_GENS;
        bool v_dead = v->key == 0 || v->gen <= g - TF_SEQ_GENS;
        int cn = __builtin_popcountll(seq_bits(c)), vn = __builtin_popcountll(seq_bits(v));
        if (c_dead != v_dead ? c_dead : (cn != vn ? cn < vn : c->gen < v->gen))
            victim = i;
    }
    if (!s) {
        if (!a->seq[victim] && !(a->seq[victim] = vigil_pool_alloc(st->p_seq))) {
            *lost = true;
            return 0;
        }
        s = a->seq[victim];
        if (s->key != 0)
            vigil_win_more_forget(st->more, seq_more_key(ev->account, s->key));
        memset(s, 0, sizeof *s);
        s->key = key;
        s->gen = g;
    }
    if (g > s->gen) {
        int64_t k = g - s->gen < TF_SEQ_GENS ? g - s->gen : TF_SEQ_GENS;
        for (int64_t i = 1; i <= k; i++)
            s->bits[(s->gen + i) % TF_SEQ_GENS] = 0;
        s->gen = g;
    } else if (g <= s->gen - TF_SEQ_GENS) {
        return 0; /* older than any window still followed */
    }
    s->bits[g % TF_SEQ_GENS] |= 1ULL << (suffix % 64);
    uint64_t mk = s->n_sfx == TF_SEQ_EXACT ? seq_more_key(ev->account, key) : 0; /* else unused */
    vigil_win_more_tag_note(st->more, mk, s->sfx, TF_SEQ_EXACT, &s->n_sfx, suffix, ev->ts_ms,
                            st->seq_level[a->profile], TF_SEQ_WINDOW_MS);
    mk = s->n_sfx == TF_SEQ_EXACT ? seq_more_key(ev->account, key) : 0;
    /* Exact distinct numbers in [ts - 10 min, ts] up to the highest level (TF_SEQ_EXACT kept in
     * the range, grown while more lie within reach, window.h); only when the numbers from
     * before a restore are missing does it fall back on the folded generations (10 to 15
     * minutes, folded digits). */
    bool more;
    int64_t n = vigil_win_more_tag_count(st->more, mk, s->sfx, TF_SEQ_EXACT, s->n_sfx,
                                         ev->ts_ms - TF_SEQ_WINDOW_MS, ev->ts_ms, &more);
    /* A late number may complete the window ending at the newest number seen (disorder). */
    int64_t newest = ev->ts_ms;
    for (int k = 0; k < s->n_sfx; k++)
        newest =
            (s->sfx[k] >> VIGIL_WIN_TAG_BITS) > newest ? s->sfx[k] >> VIGIL_WIN_TAG_BITS : newest;
    if (newest > ev->ts_ms) {
        bool more2;
        int64_t m = vigil_win_more_tag_count(st->more, mk, s->sfx, TF_SEQ_EXACT, s->n_sfx,
                                             newest - TF_SEQ_WINDOW_MS, newest, &more2);
        if (m > n) {
            n = m;
            more = more2;
        }
    }
    if (more && __builtin_popcountll(seq_bits(s)) > n)
        n = __builtin_popcountll(seq_bits(s));

    int64_t crit, warn;
    level_get(&st->seq, a->profile, false, &crit, &warn);
    enum vigil_severity sev;
    if (n >= crit && !(s->fired & TF_FIRED_CRITICAL)) {
        sev = VIGIL_SEV_CRITICAL;
        s->fired |= TF_FIRED_CRITICAL | TF_FIRED_WARNING;
    } else if (warn > 0 && n >= warn && n < crit && !(s->fired & TF_FIRED_WARNING)) {
        sev = VIGIL_SEV_WARNING;
        s->fired |= TF_FIRED_WARNING;
    } else {
        if (n < (warn > 0 ? warn : crit))
            s->fired = 0;
        return 0;
    }
    bool c = sev == VIGIL_SEV_CRITICAL;
    int64_t threshold = c ? crit : warn;
    /* The range is the number without its last 3 digits; pseudonymised, the range's token. */
    char range[VIGIL_NUMBER_MAX + 2], tok[VIGIL_PRIVACY_TOKEN_LEN + 1];
    snprintf(range, sizeof range, "%.*s", (int)(strlen(ev->to) - 3), ev->to);
    char reason[320];
    snprintf(reason, sizeof reason,
             "%" PRId64 " distinct numbers in the range %sxxx dialled within 10 minutes "
             "(%s %" PRId64 "): %s range scanning from a hacked PBX or stolen credentials",
             n, vigil_privacy_show(range, tok), c ? "threshold" : "warning level", threshold,
             c ? "likely" : "possible");
    struct vigil_finding f = {
        .detector = TF_NAME,
        .rule = TF_RULE_SEQUENTIAL,
        .severity = sev,
        /* A domestic scan is not stopped by blocking international calls. */
        .action = !c     ? VIGIL_ACT_NONE
                  : intl ? VIGIL_ACT_BLOCK_INTERNATIONAL
                         : VIGIL_ACT_SUSPEND,
        .account = ev->account,
        .event_ts_ms = ev->ts_ms,
        .window_ms = TF_SEQ_WINDOW_MS,
        .reason = reason,
        .evidence = {{"distinct_numbers_10m", (double)n}, {"threshold", (double)threshold}},
        .n_evidence = 2,
        .samples = {ev->id},
        .n_samples = 1,
    };
    return vigil_emit_finding(out, &f);
}

/* --- events ------------------------------------------------------------------------------- */

static int on_start(struct tf_state *st, struct tf_acct *a, const struct vigil_event *ev,
                    const struct vigil_numclass *nc, bool high_risk, struct vigil_emit *out)
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
        hr_after_close(h);
    /* Its end came first (disorder): the call was counted then and is over. A repeated
     * start of a call already open, or already ended, is the same call. */
    bool orphan = hr_take_orphan(h, id);
    if (orphan || hr_find_call(h, id) >= 0 || hr_recent_has(h, id)) {
        if (orphan)
            hr_add_recent(h, id);
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
        h->calls[h->n_calls++] = (struct tf_call){.id = id,
                                                  .start_ms = ev->ts_ms,
                                                  .rate = (float)nc->rate_eur_min,
                                                  .intl = nc->international};
    }
    due_at(st, ev->ts_ms + st->max_open_ms);
    hr_add_sample(h, id, untracked, ev->id);
    a->open_hr = hr_open(h);
    int rc = check_concurrent(a, h, st, ev, out);
    if (rc != 0)
        return rc;
    return count_hr_call(st, a, h, ev, 0, out);
}

static int on_end(struct tf_state *st, struct tf_acct *a, const struct vigil_event *ev,
                  const struct vigil_numclass *nc, bool high_risk, struct vigil_emit *out)
{
    uint64_t id = call_hash(ev);
    struct tf_hr *h = a->has_hr ? hr_find(st, a) : NULL;
    /* A redelivered end or attempt of a high-risk call already counted changes nothing. */
    if (high_risk && h && (hr_recent_has(h, id) || hr_has_orphan(h, id)))
        return 0;
    if (!ev->answered) {
        /* An attempt that never connected: it has no start; it counts as a call, not as
         * minutes or spend. */
        a->calls_out = sat_add(a->calls_out, 1);
        if (!high_risk)
            return 0;
        a->hr_calls = sat_add(a->hr_calls, 1);
        h = hr_get(st, a, ev->account);
        if (!h)
            return VIGIL_ERR_NOMEM;
        hr_add_recent(h, id);
        hr_add_sample(h, id, false, ev->id);
        return count_hr_call(st, a, h, ev, 0, out);
    }
    uint64_t secs = ev->duration_s > 0 ? (uint64_t)ev->duration_s : 0;
    double cost = ev->has_cost ? ev->cost_eur : nc->rate_eur_min * (double)secs / 60.0;
    uint64_t cost_e4 = eur_e4(cost);
    a->secs_out = sat_add(a->secs_out, secs);
    a->spend_e4 = sat_add(a->spend_e4, cost_e4);
    spend_book(st, a, ev->account, ev->ts_ms - (int64_t)secs * 1000, ev->ts_ms, cost_e4);

    int rc = 0;
    int i = h ? hr_find_call(h, id) : -1;
    if (i >= 0 || (high_risk && h && h->untracked > 0)) {
        if (i >= 0)
            h->calls[i] = h->calls[--h->n_calls];
        else
            h->untracked--; /* maybe one of the calls whose id we could not keep */
        hr_add_recent(h, id);
        hr_after_close(h);
        a->open_hr = hr_open(h);
        if (hr_idle(h))
            hr_drop(st, a, ev->account);
        if (high_risk)
            rc = slow_note(st, a, ev, 0, secs, out); /* the call itself counted at its start */
    } else if (high_risk) {
        /* An end without a start we know of: count the call from its own fields, and
         * remember it so a late start does not open it again. */
        a->calls_out = sat_add(a->calls_out, 1);
        a->hr_calls = sat_add(a->hr_calls, 1);
        h = hr_get(st, a, ev->account);
        if (!h)
            return VIGIL_ERR_NOMEM;
        hr_add_orphan(h, id, ev->ts_ms);
        due_at(st, ev->ts_ms + TF_ORPHAN_GRACE_MS);
        hr_add_sample(h, id, false, ev->id);
        rc = count_hr_call(st, a, h, ev, secs, out);
    }
    if (rc != 0)
        return rc;
    /* Ended calls only here: open calls add what they cost so far at on_tick. */
    return check_spend(st, a, ev->account, ev->ts_ms,
                       spend_window_e4(st, a, ev->account, ev->ts_ms), 0, 0, nc->international,
                       NULL, ev->id, out);
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
    void **as = vigil_recs_slot(st->recs, st->s_acct, ev, &created);
    struct tf_acct *a = as ? part_take(st, st->s_acct, as, created) : NULL;
    if (!a)
        return VIGIL_ERR_NOMEM;
    if (created) {
        a->home = as;
        a->profile = (uint8_t)vigil_profiles_lookup(st->profiles, ev->account);
    }
    int64_t hour = vigil_floor_div(ev->ts_ms, TF_HOUR_MS);
    if (created || hour > (int64_t)a->hour) {
        acct_zero(a);
        a->hour = (uint32_t)hour;
    }
    if (ev->ts_ms > a->last_ms)
        a->last_ms = ev->ts_ms;
    if (mark_dirty(st, a) != 0)
        return VIGIL_ERR_NOMEM;

    /* Scanning first: its order names the rule a scan completes, even at night when the
     * lower velocity level is reached by the same call. */
    bool lost = false;
    if (!nc.emergency) {
        int rc = seq_note(st, a, ev, nc.international, out, &lost);
        if (rc != 0)
            return rc;
    }
    int rc = ev->type == VIGIL_EV_CALL_START ? on_start(st, a, ev, &nc, high_risk, out)
                                             : on_end(st, a, ev, &nc, high_risk, out);
    /* A range that could not be followed is an error for the caller, after the other rules. */
    return rc != 0 ? rc : lost ? VIGIL_ERR_NOMEM : 0;
}

/* --- ticks -------------------------------------------------------------------------------- */

/* Expires open calls, orphan ends and velocity counts up to the watermark; drops idle
 * high-risk states. */
static int sweep_hr(struct tf_state *st, int64_t watermark)
{
    int64_t due = INT64_MAX;
    int64_t wm_min = vigil_floor_div(watermark, TF_MIN_MS);
    void **hslot;
    for (size_t it = 0; (hslot = vigil_recs_next(st->recs, st->s_hr, &it));) {
        struct tf_hr *h = *hslot;
        void **as = vigil_recs_sibling_find(st->recs, st->s_hr, hslot, st->s_acct);
        struct tf_acct *a = as ? *as : NULL;
        bool changed = hr_expire_calls(h, watermark - st->max_open_ms);
        for (int k = 0; k < h->n_orphans;) {
            if (h->orphans[k].end_ms + TF_ORPHAN_GRACE_MS <= watermark)
                h->orphans[k] = h->orphans[--h->n_orphans];
            else
                k++;
        }
        if (h->vel_head + TF_VEL_SLOTS <= wm_min) {
            /* Every call of the buckets is older than 15 minutes, so are their times. */
            memset(h->vel, 0, sizeof h->vel);
            h->n_vel_ts = 0;
            h->vel_fired = 0;
        }
        if (changed)
            hr_after_close(h);
        if (a && changed) {
            a->open_hr = hr_open(h);
            if (mark_dirty(st, a) != 0)
                return VIGIL_ERR_NOMEM;
        }
        if (hr_idle(h)) {
            if (a)
                a->has_hr = false;
            part_drop(st, st->s_hr, hslot);
            continue;
        }
        int64_t d = hr_next_due(st, h);
        if (d < due)
            due = d;
    }
    st->next_due = due;
    return 0;
}

/* What the open high-risk calls have cost so far, and how long they have run within 24 h,
 * at the watermark: spend and slow are judged with them. */
static int judge_open_calls(struct tf_state *st, int64_t watermark, struct vigil_emit *out)
{
    void **hslot;
    for (size_t it = 0; (hslot = vigil_recs_next(st->recs, st->s_hr, &it));) {
        const struct tf_hr *h = *hslot;
        if (h->n_calls == 0)
            continue;
        void **as = vigil_recs_sibling_find(st->recs, st->s_hr, hslot, st->s_acct);
        if (!as)
            continue;
        struct tf_acct *a = *as;
        const char *account = vigil_recs_account(st->recs, st->s_hr, hslot);
        double open_eur = 0.0;
        uint64_t open_secs = 0;
        uint32_t n_open = 0;
        bool intl = false;
        for (int k = 0; k < h->n_calls; k++) {
            const struct tf_call *c = &h->calls[k];
            if (c->start_ms >= watermark)
                continue;
            int64_t ran = watermark - c->start_ms;
            /* What it cost within the last hour: the rest is older spend. */
            int64_t in_hour = ran < TF_HOUR_MS ? ran : TF_HOUR_MS;
            open_eur += (double)c->rate * (double)in_hour / (double)TF_MIN_MS;
            open_secs += (uint64_t)((ran < TF_DAY_MS ? ran : TF_DAY_MS) / 1000);
            intl = intl || c->intl;
            n_open++;
        }
        if (n_open == 0)
            continue;
        uint64_t open_e4 = eur_e4(open_eur);
        int rc = check_spend(st, a, account, watermark,
                             spend_window_e4(st, a, account, watermark) + open_e4, open_e4, n_open,
                             intl, h, NULL, out);
        if (rc != 0)
            return rc;
        void **hsl = vigil_recs_sibling_find(st->recs, st->s_hr, hslot, st->s_hist);
        struct tf_hist *hs = hsl ? *hsl : NULL;
        if (hs) {
            rc = check_slow(st, a, account, hs, watermark, open_secs, NULL, out);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* The watermark entered hour wm_hour: accounts still in an older hour publish zeros, and
 * histories older than a week go. */
static int roll_hour(struct tf_state *st, int64_t watermark, int64_t wm_hour)
{
    void **s;
    for (size_t it = 0; (s = vigil_recs_next(st->recs, st->s_acct, &it));) {
        struct tf_acct *a = *s;
        if ((int64_t)a->hour < wm_hour && !acct_counters_zero(a)) {
            acct_zero(a);
            if (mark_dirty(st, a) != 0)
                return VIGIL_ERR_NOMEM;
        }
    }
    for (size_t it = 0; (s = vigil_recs_next(st->recs, st->s_hist, &it));) {
        const struct tf_hist *hs = *s;
        if (hs->last_ms + TF_HISTORY_GAP_MS < watermark)
            part_drop(st, st->s_hist, s);
    }
    return 0;
}

static int publish(struct tf_state *st, int64_t watermark, struct vigil_emit *out)
{
    size_t done = 0;
    int rc = 0;
    for (; done < vigil_recs_dirty_count(st->recs, st->s_acct); done++) {
        void **as = vigil_recs_dirty_at(st->recs, st->s_acct, done);
        const char *account = vigil_recs_account(st->recs, st->s_acct, as);
        struct tf_acct *a = *as;
        int64_t hr15 = 0;
        const struct tf_hr *h = a->has_hr ? hr_find(st, a) : NULL;
        if (h) {
            int64_t newest = h->n_vel_ts ? h->vel_ts[h->n_vel_ts - 1] : 0;
            hr15 = (int64_t)vel_count(st, account, h, newest > watermark ? newest : watermark);
        }
        struct vigil_counter c[] = {
            {"open_high_risk", a->open_hr},
            {"calls_out_1h", a->calls_out},
            {"high_risk_calls_1h", a->hr_calls},
            {"minutes_out_1h", a->secs_out / 60},
            {"spend_eur_cents_1h", (a->spend_e4 + 50) / 100},
            {"high_risk_calls_15m", hr15},
        };
        rc = vigil_emit_counters(out, account, TF_NAME, c, sizeof c / sizeof c[0], st->ttl_s);
        if (rc != 0)
            break;
        a->dirty = false;
    }
    /* After a sink failure the rest stays listed for the next tick. */
    vigil_recs_dirty_consume(st->recs, st->s_acct, done);
    return rc;
}

/* Drops accounts with nothing left to count, publish or judge (after publish()). */
static void reap_accounts(struct tf_state *st, int64_t watermark, int64_t wm_hour)
{
    void **s;
    for (size_t it = 0; (s = vigil_recs_next(st->recs, st->s_acct, &it));) {
        struct tf_acct *a = *s;
        /* The spend window reaches back 65 minutes. */
        bool quiet = a->last_ms + TF_SPEND_SLOTS * TF_SPEND_SLOT_MS <= watermark;
        if (!a->has_hr && !a->dirty && quiet && (int64_t)a->hour < wm_hour &&
            acct_counters_zero(a)) {
            acct_parts_free(st, *s);
            part_drop(st, st->s_acct, s);
        }
    }
}

static int tf_on_tick(void *state, int64_t watermark_ms, struct vigil_emit *out)
{
    struct tf_state *st = state;
    if (watermark_ms < VIGIL_TS_MIN_MS)
        return publish(st, watermark_ms, out); /* no event time yet: nothing can expire */
    int64_t wm_hour = vigil_floor_div(watermark_ms, TF_HOUR_MS);
    bool rolled = wm_hour > st->wm_hour;
    int rc = 0;

    if (watermark_ms >= st->next_due || rolled)
        rc = sweep_hr(st, watermark_ms);
    vigil_win_more_sweep(st->more, watermark_ms);
    vigil_win_more_sweep(st->spans, watermark_ms);
    if (rc == 0 && watermark_ms >= st->last_eval + TF_EVAL_EVERY_MS) {
        rc = judge_open_calls(st, watermark_ms, out);
        if (rc == 0)
            st->last_eval = watermark_ms;
    }
    if (rc == 0 && rolled)
        rc = roll_hour(st, watermark_ms, wm_hour);
    if (rc == 0)
        rc = publish(st, watermark_ms, out);
    if (rc != 0)
        return rc; /* a later tick redoes what is left: every step is idempotent */
    if (rolled) {
        reap_accounts(st, watermark_ms, wm_hour);
        st->wm_hour = wm_hour;
    }
    return 0;
}

/* --- checkpoints -------------------------------------------------------------------------- */

/* Drops the account's tf_acct outside a tick (off the dirty list too). */
static void acct_remove(struct tf_state *st, const char *account)
{
    part_forget(st, st->s_acct, account);
}

/* Drops what the account keeps past its own arrays (window.h): its ranges' grown rings
 * (a: its entry in accts, or NULL) and its calls kept whole. */
static void forget_kept(struct tf_state *st, const char *account, const struct tf_acct *a)
{
    for (int i = 0; a && i < TF_SEQ_SLOTS; i++) {
        if (a->seq[i] && a->seq[i]->key != 0)
            vigil_win_more_forget(st->more, seq_more_key(account, a->seq[i]->key));
    }
    vigil_win_more_forget(st->spans, tf_key(account));
}

/* Drops every entry of the account. Its timers go with its entries: next_due may now be
 * earlier than anything left, which costs one sweep that recomputes it. */
static void tf_forget(void *state, const char *account)
{
    struct tf_state *st = state;
    forget_kept(st, account, part_find(st, st->s_acct, account));
    acct_remove(st, account);
    part_forget(st, st->s_hr, account);
    part_forget(st, st->s_hist, account);
    vigil_win_more_forget(st->more, tf_key(account));
}

/* Saved form (TF_SAVE_VERSION): a version byte, a byte with TF_SAVED_* set for each table
 * holding the account, then the fields of each of those tables' struct in that order
 * (put_acct, put_hr, put_hist; not what load sets itself: profile, has_hr, open_hr, dirty). */
#define TF_SAVE_VERSION 3 /* 3: the shared encoding; 2: exact windows (vel_ts, spans, sfx) */

enum {
    TF_SAVED_ACCT = 1,
    TF_SAVED_HR = 2,
    TF_SAVED_HIST = 4,
};

struct tf_saved {
    uint8_t mask;        /* TF_SAVED_* */
    struct tf_acct acct; /* its pointers unused: the arrays are read into spans and seq */
    struct tf_span spans[TF_SPEND_SPANS];
    struct tf_seq seq[TF_SEQ_SLOTS];
    struct tf_hr hr;
    struct tf_hist hist;
};

/* The arrays are written whole as when they lay in the struct: spans past n_spans and ranges
 * not allocated as zeros. */
static void put_acct(struct vigil_state_writer *w, const struct tf_acct *a)
{
    static const struct tf_seq none;
    for (int i = 0; i < TF_SPEND_SPANS; i++) {
        struct tf_span sp = i < a->n_spans ? a->spans[i] : (struct tf_span){0};
        vigil_state_put_i64(w, sp.end_ms);
        vigil_state_put_u32(w, sp.dur_ms);
        vigil_state_put_u32(w, sp.e4);
    }
    vigil_state_put_i64(w, a->last_ms);
    vigil_state_put_i64(w, a->spend_head);
    for (int i = 0; i < TF_SPEND_SLOTS; i++)
        vigil_state_put_u32(w, a->spend[i]);
    vigil_state_put_u32(w, a->hour);
    vigil_state_put_u32(w, a->calls_out);
    vigil_state_put_u32(w, a->hr_calls);
    vigil_state_put_u32(w, a->secs_out);
    vigil_state_put_u32(w, a->spend_e4);
    for (int i = 0; i < TF_SEQ_SLOTS; i++) {
        const struct tf_seq *q = a->seq[i] ? a->seq[i] : &none;
        vigil_state_put_u64(w, q->key);
        for (int g = 0; g < TF_SEQ_GENS; g++)
            vigil_state_put_u64(w, q->bits[g]);
        vigil_state_put_i64(w, q->gen);
        for (int k = 0; k < TF_SEQ_EXACT; k++)
            vigil_state_put_i64(w, q->sfx[k]);
        vigil_state_put_u16(w, q->n_sfx);
        vigil_state_put_u8(w, q->fired);
    }
    vigil_state_put_u8(w, a->spend_fired);
    vigil_state_put_u8(w, a->n_spans);
}

static void get_acct(struct vigil_bytes_reader *r, struct tf_saved *s)
{
    struct tf_acct *a = &s->acct;
    for (int i = 0; i < TF_SPEND_SPANS; i++) {
        s->spans[i].end_ms = vigil_state_get_i64(r);
        s->spans[i].dur_ms = vigil_state_get_u32(r);
        s->spans[i].e4 = vigil_state_get_u32(r);
    }
    a->last_ms = vigil_state_get_i64(r);
    a->spend_head = vigil_state_get_i64(r);
    for (int i = 0; i < TF_SPEND_SLOTS; i++)
        a->spend[i] = vigil_state_get_u32(r);
    a->hour = vigil_state_get_u32(r);
    a->calls_out = vigil_state_get_u32(r);
    a->hr_calls = vigil_state_get_u32(r);
    a->secs_out = vigil_state_get_u32(r);
    a->spend_e4 = vigil_state_get_u32(r);
    for (int i = 0; i < TF_SEQ_SLOTS; i++) {
        struct tf_seq *q = &s->seq[i];
        q->key = vigil_state_get_u64(r);
        for (int g = 0; g < TF_SEQ_GENS; g++)
            q->bits[g] = vigil_state_get_u64(r);
        q->gen = vigil_state_get_i64(r);
        for (int k = 0; k < TF_SEQ_EXACT; k++)
            q->sfx[k] = vigil_state_get_i64(r);
        q->n_sfx = vigil_state_get_u16(r);
        q->fired = vigil_state_get_u8(r);
    }
    a->spend_fired = vigil_state_get_u8(r);
    a->n_spans = vigil_state_get_u8(r);
}

static void put_hr(struct vigil_state_writer *w, const struct tf_hr *h)
{
    for (int i = 0; i < TF_TRACKED_MAX; i++) {
        vigil_state_put_u64(w, h->calls[i].id);
        vigil_state_put_i64(w, h->calls[i].start_ms);
        vigil_state_put_f64(w, h->calls[i].rate); /* a float, exactly */
        vigil_state_put_bool(w, h->calls[i].intl);
    }
    for (int i = 0; i < TF_ORPHANS_MAX; i++) {
        vigil_state_put_u64(w, h->orphans[i].id);
        vigil_state_put_i64(w, h->orphans[i].end_ms);
    }
    for (int i = 0; i < VIGIL_SAMPLES_MAX; i++) {
        vigil_state_put_u64(w, h->samples[i].id);
        vigil_state_put_bool(w, h->samples[i].untracked);
        vigil_state_put_raw(w, h->samples[i].event_id, sizeof h->samples[i].event_id);
    }
    for (int i = 0; i < TF_RECENT_MAX; i++)
        vigil_state_put_u64(w, h->recent[i]);
    for (int i = 0; i < TF_VEL_EXACT; i++)
        vigil_state_put_i64(w, h->vel_ts[i]);
    for (int i = 0; i < TF_VEL_SLOTS; i++)
        vigil_state_put_u32(w, h->vel[i]);
    vigil_state_put_i64(w, h->vel_head);
    vigil_state_put_u16(w, h->n_vel_ts);
    vigil_state_put_i64(w, h->untracked_last_ms);
    vigil_state_put_u32(w, h->untracked);
    vigil_state_put_u32(w, h->conc_rearm);
    const uint8_t bytes[] = {h->n_calls,  h->n_orphans,   h->n_samples, h->next_sample,
                             h->n_recent, h->next_recent, h->fired,     h->vel_fired};
    vigil_state_put_raw(w, bytes, sizeof bytes);
}

static void get_hr(struct vigil_bytes_reader *r, struct tf_hr *h)
{
    for (int i = 0; i < TF_TRACKED_MAX; i++) {
        h->calls[i].id = vigil_state_get_u64(r);
        h->calls[i].start_ms = vigil_state_get_i64(r);
        double rate = vigil_state_get_f64(r);
        /* In a float's range (saved_hr_ok checks it further; !(x <= y) refuses NaN). */
        vigil_state_check(r, rate >= 0.0 && rate <= 1e6);
        h->calls[i].rate = rate >= 0.0 && rate <= 1e6 ? (float)rate : 0.0f;
        h->calls[i].intl = vigil_state_get_bool(r);
    }
    for (int i = 0; i < TF_ORPHANS_MAX; i++) {
        h->orphans[i].id = vigil_state_get_u64(r);
        h->orphans[i].end_ms = vigil_state_get_i64(r);
    }
    for (int i = 0; i < VIGIL_SAMPLES_MAX; i++) {
        h->samples[i].id = vigil_state_get_u64(r);
        h->samples[i].untracked = vigil_state_get_bool(r);
        vigil_state_get_raw(r, h->samples[i].event_id, sizeof h->samples[i].event_id);
    }
    for (int i = 0; i < TF_RECENT_MAX; i++)
        h->recent[i] = vigil_state_get_u64(r);
    for (int i = 0; i < TF_VEL_EXACT; i++)
        h->vel_ts[i] = vigil_state_get_i64(r);
    for (int i = 0; i < TF_VEL_SLOTS; i++)
        h->vel[i] = vigil_state_get_u32(r);
    h->vel_head = vigil_state_get_i64(r);
    h->n_vel_ts = vigil_state_get_u16(r);
    h->untracked_last_ms = vigil_state_get_i64(r);
    h->untracked = vigil_state_get_u32(r);
    h->conc_rearm = vigil_state_get_u32(r);
    uint8_t b[8];
    vigil_state_get_raw(r, b, sizeof b);
    h->n_calls = b[0];
    h->n_orphans = b[1];
    h->n_samples = b[2];
    h->next_sample = b[3];
    h->n_recent = b[4];
    h->next_recent = b[5];
    h->fired = b[6];
    h->vel_fired = b[7];
}

static void put_hist(struct vigil_state_writer *w, const struct tf_hist *hs)
{
    vigil_state_put_i64(w, hs->first_ms);
    vigil_state_put_i64(w, hs->last_ms);
    vigil_state_put_i64(w, hs->head);
    for (int i = 0; i < TF_SLOW_SLOTS; i++) {
        vigil_state_put_u32(w, hs->calls[i]);
        vigil_state_put_u32(w, hs->secs[i]);
    }
    vigil_state_put_u8(w, hs->fired);
}

static void get_hist(struct vigil_bytes_reader *r, struct tf_hist *hs)
{
    hs->first_ms = vigil_state_get_i64(r);
    hs->last_ms = vigil_state_get_i64(r);
    hs->head = vigil_state_get_i64(r);
    for (int i = 0; i < TF_SLOW_SLOTS; i++) {
        hs->calls[i] = vigil_state_get_u32(r);
        hs->secs[i] = vigil_state_get_u32(r);
    }
    hs->fired = vigil_state_get_u8(r);
}

static int tf_save(void *state, const char *account, struct vigil_bytes *out)
{
    const struct tf_state *st = state;
    const struct tf_acct *a = part_find(st, st->s_acct, account);
    const struct tf_hr *h = part_find(st, st->s_hr, account);
    const struct tf_hist *hs = part_find(st, st->s_hist, account);
    if (!a && !h && !hs)
        return 0;
    struct vigil_state_writer w;
    vigil_state_write_begin(&w, out, TF_SAVE_VERSION);
    vigil_state_put_u8(
        &w, (uint8_t)((a ? TF_SAVED_ACCT : 0) | (h ? TF_SAVED_HR : 0) | (hs ? TF_SAVED_HIST : 0)));
    if (a)
        put_acct(&w, a);
    if (h)
        put_hr(&w, h);
    if (hs)
        put_hist(&w, hs);
    return vigil_state_write_end(&w); /* on failure *out is as it was */
}

static bool saved_fired_ok(uint8_t fired)
{
    return vigil_episode_ok(fired);
}

/* has_hr, dirty, open_hr and profile are not checked: load sets them. */
static bool saved_acct_ok(const struct tf_saved *s)
{
    const struct tf_acct *a = &s->acct;
    if (!vigil_saved_time_ok(a->last_ms) || !vigil_saved_time_ok(a->spend_head) ||
        !saved_fired_ok(a->spend_fired) || a->n_spans > TF_SPEND_SPANS)
        return false;
    for (int i = 0; i < a->n_spans; i++) {
        if (!vigil_saved_time_ok(s->spans[i].end_ms) ||
            s->spans[i].end_ms < (int64_t)s->spans[i].dur_ms)
            return false;
    }
    for (int i = 0; i < TF_SEQ_SLOTS; i++) {
        const struct tf_seq *q = &s->seq[i];
        if (!vigil_saved_time_ok(q->gen) || !saved_fired_ok(q->fired) ||
            !vigil_win_tag_ok(q->sfx, TF_SEQ_EXACT, q->n_sfx, 999))
            return false;
    }
    return true;
}

static bool saved_hr_ok(const struct tf_hr *h)
{
    if (h->n_calls > TF_TRACKED_MAX || h->n_orphans > TF_ORPHANS_MAX ||
        h->n_samples > VIGIL_SAMPLES_MAX || h->next_sample >= VIGIL_SAMPLES_MAX ||
        h->n_recent > TF_RECENT_MAX || h->next_recent >= TF_RECENT_MAX ||
        !saved_fired_ok(h->fired) || !saved_fired_ok(h->vel_fired) ||
        !vigil_saved_time_ok(h->vel_head) || !vigil_win_ok(h->vel_ts, TF_VEL_EXACT, h->n_vel_ts) ||
        !vigil_saved_time_ok(h->untracked_last_ms))
        return false;
    for (int i = 0; i < TF_TRACKED_MAX; i++) {
        const struct tf_call *c = &h->calls[i];
        /* !(rate >= 0) also refuses NaN. */
        if (!vigil_saved_time_ok(c->start_ms) || !vigil_saved_bool_ok(&c->intl) ||
            !(c->rate >= 0.0f) || c->rate > 1e6f)
            return false;
    }
    for (int i = 0; i < TF_ORPHANS_MAX; i++) {
        if (!vigil_saved_time_ok(h->orphans[i].end_ms))
            return false;
    }
    for (int i = 0; i < VIGIL_SAMPLES_MAX; i++) {
        const struct tf_sample *s = &h->samples[i];
        if (!vigil_saved_bool_ok(&s->untracked) ||
            !vigil_saved_str_ok(s->event_id, sizeof s->event_id))
            return false;
    }
    return true;
}

static bool saved_hist_ok(const struct tf_hist *hs)
{
    return vigil_saved_time_ok(hs->first_ms) && vigil_saved_time_ok(hs->last_ms) &&
           vigil_saved_time_ok(hs->head) && saved_fired_ok(hs->fired);
}

/* Parses and checks saved bytes; false unless they are a whole state of this version. */
static bool tf_read(struct tf_saved *s, const void *data, size_t len)
{
    struct vigil_bytes_reader r;
    memset(s, 0, sizeof *s); /* what is not saved starts at zero */
    vigil_state_read_begin(&r, data, len, TF_SAVE_VERSION);
    s->mask = vigil_state_get_u8(&r);
    /* hr without accts never happens (has_hr lives in accts): refused as corrupt. */
    const uint8_t all = TF_SAVED_ACCT | TF_SAVED_HR | TF_SAVED_HIST;
    vigil_state_check(&r, s->mask != 0 && !(s->mask & ~all) &&
                              (!(s->mask & TF_SAVED_HR) || (s->mask & TF_SAVED_ACCT)));
    if (r.bad)
        return false;
    if (s->mask & TF_SAVED_ACCT) {
        get_acct(&r, s);
        vigil_state_check(&r, saved_acct_ok(s));
    }
    if (s->mask & TF_SAVED_HR) {
        get_hr(&r, &s->hr);
        vigil_state_check(&r, saved_hr_ok(&s->hr));
    }
    if (s->mask & TF_SAVED_HIST) {
        get_hist(&r, &s->hist);
        vigil_state_check(&r, saved_hist_ok(&s->hist));
    }
    return vigil_state_read_end(&r) == 0;
}

/* Puts the arrays of a saved tf_acct in blocks of their own (s->acct's pointers), sized to
 * what they hold; on failure none is left. */
static int saved_parts_take(const struct tf_state *st, struct tf_saved *s)
{
    static const struct tf_seq none;
    struct tf_acct *a = &s->acct;
    if (a->n_spans > 0) {
        int cap = a->n_spans <= TF_SPANS_SMALL ? TF_SPANS_SMALL : TF_SPEND_SPANS;
        if (!(a->spans = vigil_pool_alloc(span_pool(st, cap))))
            goto fail;
        a->cap_spans = (uint8_t)cap;
        memcpy(a->spans, s->spans, (size_t)a->n_spans * sizeof *a->spans);
    }
    for (int i = 0; i < TF_SEQ_SLOTS; i++) {
        if (memcmp(&s->seq[i], &none, sizeof none) == 0)
            continue; /* a free range */
        if (!(a->seq[i] = vigil_pool_alloc(st->p_seq)))
            goto fail;
        memcpy(a->seq[i], &s->seq[i], sizeof s->seq[i]);
    }
    return 0;

fail:
    acct_parts_free(st, a);
    return VIGIL_ERR_NOMEM;
}

/* The slots of the tables s fills, in TF_SAVED_* order (NULL for the others), and the
 * account marked dirty, as its events would have; on failure nothing is left behind. */
static int tf_load_slots(struct tf_state *st, const char *account, uint8_t mask, void *slot[3])
{
    const int slots[3] = {st->s_acct, st->s_hr, st->s_hist};
    bool created[3] = {false, false, false};
    int i = 0;
    for (; i < 3; i++) {
        slot[i] = NULL;
        if (!(mask & (1 << i)))
            continue;
        void **s = vigil_recs_slot_of(st->recs, slots[i], account, &created[i]);
        if (!s || !(slot[i] = part_take(st, slots[i], s, created[i]))) {
            created[i] = false; /* part_take released it */
            break;
        }
        if (i == 0 && created[0])
            ((struct tf_acct *)slot[0])->home = s;
    }
    if (i == 3 && (!slot[0] || mark_dirty(st, slot[0]) == 0))
        return 0;
    /* Only the parts created here go (off the dirty list too). */
    for (int k = 0; k < 3; k++) {
        if (created[k])
            part_forget(st, slots[k], account);
    }
    return VIGIL_ERR_NOMEM;
}

/* The next tick rolls every account's hour counters and sweeps the high-risk calls. */
static void tf_resweep(void *state)
{
    struct tf_state *st = state;
    st->wm_hour = INT64_MIN;
}

/* Replaces the account's entries by saved ones. Fields that describe this process or the
 * current config are set here, not read back: dirty, has_hr, open_hr and the profile. */
static int tf_load(void *state, const char *account, const void *data, size_t len)
{
    struct tf_state *st = state;
    if (!vigil_acct_key_ok(account))
        return VIGIL_ERR_INVALID;
    if (len == 0) {
        tf_forget(st, account); /* what tf_save writes for an account it does not hold */
        return 0;
    }
    struct tf_saved s;
    if (!tf_read(&s, data, len))
        return VIGIL_ERR_INVALID;
    if ((s.mask & TF_SAVED_ACCT) && saved_parts_take(st, &s) != 0)
        return VIGIL_ERR_NOMEM;
    void *slot[3];
    int rc = tf_load_slots(st, account, s.mask, slot);
    if (rc != 0) {
        acct_parts_free(st, &s.acct);
        return rc;
    }
    /* Tables the saved state leaves out lose the account (without accts there is no hr). */
    if (!slot[0]) {
        forget_kept(st, account, part_find(st, st->s_acct, account));
        acct_remove(st, account);
    }
    if (!slot[1])
        part_forget(st, st->s_hr, account);
    if (!slot[2])
        part_forget(st, st->s_hist, account);
    if (slot[0]) {
        s.acct.dirty = true; /* tf_load_slots listed it */
        s.acct.has_hr = slot[1] != NULL;
        s.acct.open_hr = slot[1] ? hr_open(&s.hr) : 0;
        s.acct.profile = (uint8_t)vigil_profiles_lookup(st->profiles, account);
        /* What this state kept past the account's arrays goes (a fresh slot is all zeros). */
        forget_kept(st, account, slot[0]);
        acct_parts_free(st, slot[0]); /* the saved arrays take their place */
        s.acct.home = ((struct tf_acct *)slot[0])->home;
        memcpy(slot[0], &s.acct, sizeof s.acct);
        /* A full range may have had more numbers than it holds: known again once old. */
        for (int i = 0; i < TF_SEQ_SLOTS; i++) {
            const struct tf_seq *q = &s.seq[i];
            if (q->key != 0)
                vigil_win_more_tag_restore(st->more, seq_more_key(account, q->key), q->sfx,
                                           TF_SEQ_EXACT, q->n_sfx, st->seq_level[s.acct.profile],
                                           TF_SEQ_WINDOW_MS);
        }
        /* The calls it kept whole past its array are not in the checkpoint: an hour that
         * reaches back before the account's latest event counts them from the buckets (an
         * account that never pushed a call out has empty buckets and needs no mark). */
        bool pushed = false;
        for (int k = 0; k < TF_SPEND_SLOTS; k++)
            pushed |= s.acct.spend[k] != 0;
        if (pushed)
            vigil_win_more_span_restore(st->spans, tf_key(account), s.acct.last_ms + 1,
                                        TF_HOUR_MS + TF_MIN_MS);
        /* This state may have entered a later hour already: roll again at the next tick, so
         * the account's hour counters go back to zero as they would have here. */
        if ((int64_t)s.acct.hour < st->wm_hour)
            st->wm_hour = s.acct.hour;
    }
    if (slot[1]) {
        memcpy(slot[1], &s.hr, sizeof s.hr);
        /* A full ring may have had more times than it holds: known again once they are old. */
        vigil_win_more_restore(st->more, tf_key(account), s.hr.vel_ts, TF_VEL_EXACT, s.hr.n_vel_ts,
                               st->vel_level[vigil_profiles_lookup(st->profiles, account)],
                               TF_VEL_WINDOW_MS);
        due_at(st, hr_next_due(st, slot[1])); /* its expiries fire at the ticks */
    }
    if (slot[2])
        memcpy(slot[2], &s.hist, sizeof s.hist);
    return 0;
}

static void tf_destroy(void *state)
{
    struct tf_state *st = state;
    if (!st)
        return;
    vigil_recs_destroy(st->own_recs);
    vigil_pool_destroy(st->p_acct);
    vigil_pool_destroy(st->p_hr);
    vigil_pool_destroy(st->p_hist);
    vigil_pool_destroy(st->p_span_s);
    vigil_pool_destroy(st->p_span_l);
    vigil_pool_destroy(st->p_seq);
    vigil_win_more_destroy(st->more);
    vigil_win_more_destroy(st->spans);
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
    const struct vigil_config *cfg = env->cfg;
    st->np = env->numplan;
    st->profiles = env->profiles;
    level_read(cfg, &st->conc, "toll_fraud.concurrent_high_risk",
               "toll_fraud.concurrent_high_risk_warning",
               "toll_fraud.concurrent_high_risk_offhours");
    level_read(cfg, &st->vel, "toll_fraud.velocity_high_risk",
               "toll_fraud.velocity_high_risk_warning", "toll_fraud.velocity_high_risk_offhours");
    level_read(cfg, &st->spend, "toll_fraud.spend_1h_eur", "toll_fraud.spend_1h_eur_warning",
               "toll_fraud.spend_1h_eur_offhours");
    level_read(cfg, &st->seq, "toll_fraud.sequential_dialling",
               "toll_fraud.sequential_dialling_warning", NULL);
    level_read(cfg, &st->slow_calls, "toll_fraud.slow_high_risk_calls",
               "toll_fraud.slow_high_risk_calls_warning", NULL);
    level_read(cfg, &st->slow_mins, "toll_fraud.slow_high_risk_minutes",
               "toll_fraud.slow_high_risk_minutes_warning", NULL);
    st->max_open_ms = vigil_config_int(cfg, "toll_fraud.max_open_call_ms");
    st->ttl_s = vigil_config_int(cfg, "redis.counter_ttl_s");
    st->next_due = INT64_MAX;
    st->wm_hour = INT64_MIN;
    st->last_eval = INT64_MIN / 2;
    for (int p = 0; p < VIGIL_PROFILE_COUNT; p++) {
        /* The config bounds every level by VIGIL_WIN_LEVEL_MAX. */
        int64_t v = st->vel.crit[p] > st->vel.off[p] ? st->vel.crit[p] : st->vel.off[p];
        v = v > st->vel.warn[p] ? v : st->vel.warn[p];
        st->vel_level[p] = (uint32_t)v;
    }
    for (int p = 0; p < VIGIL_PROFILE_COUNT; p++) {
        int64_t v = st->seq.crit[p] > st->seq.warn[p] ? st->seq.crit[p] : st->seq.warn[p];
        st->seq_level[p] = (uint32_t)v;
    }
    st->more = vigil_win_more_create();
    st->spans = vigil_win_more_create();
    st->recs = env->recs ? env->recs : (st->own_recs = vigil_recs_create(1024));
    st->p_acct = vigil_pool_create(sizeof(struct tf_acct));
    st->p_hr = vigil_pool_create(sizeof(struct tf_hr));
    st->p_hist = vigil_pool_create(sizeof(struct tf_hist));
    st->p_span_s = vigil_pool_create(TF_SPANS_SMALL * sizeof(struct tf_span));
    st->p_span_l = vigil_pool_create(TF_SPEND_SPANS * sizeof(struct tf_span));
    st->p_seq = vigil_pool_create(sizeof(struct tf_seq));
    if (!st->recs || !st->more || !st->spans || !st->p_acct || !st->p_hr || !st->p_hist ||
        !st->p_span_s || !st->p_span_l || !st->p_seq)
        goto fail;
    st->s_acct = vigil_recs_declare_part(st->recs, acct_fini, st);
    st->s_hr = vigil_recs_declare_part(st->recs, part_fini, st->p_hr);
    st->s_hist = vigil_recs_declare_part(st->recs, part_fini, st->p_hist);
    if (st->s_acct < 0 || st->s_hr < 0 || st->s_hist < 0) {
        tf_destroy(st);
        return VIGIL_ERR_INVALID;
    }
    *state = st;
    return 0;

fail:
    tf_destroy(st);
    return VIGIL_ERR_NOMEM;
}

static const char *const tf_rules[] = {TF_RULE_CONCURRENT, TF_RULE_VELOCITY, TF_RULE_SPEND,
                                       TF_RULE_SEQUENTIAL, TF_RULE_SLOW,     NULL};

const struct vigil_detector_ops vigil_det_toll_fraud = {
    .name = TF_NAME,
    .keys = tf_keys,
    .rules = tf_rules,
    .init = tf_init,
    .on_event = tf_on_event,
    .on_tick = tf_on_tick,
    .destroy = tf_destroy,
    .save = tf_save,
    .load = tf_load,
    .forget = tf_forget,
    .resweep = tf_resweep,
};

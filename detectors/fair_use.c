/* SPDX-License-Identifier: Apache-2.0 */
/* fair_use.c - fair-use warnings for unlimited bundles: one account on several devices at
 * once, and a device kept abroad (shared/spec/detection.md, "Fair-use warnings";
 * reference/terms.md, "reasonable use" 1 and 3). Alerts only: every finding is a warning
 * with no action, so no order ever comes from this detector.
 *
 * Rules (thresholds per account profile, profile.h):
 *   fair_use.devices  calls open on >= devices (3) distinct `device` values of one account
 *       at the same time, without a break, for devices_min (10) minutes -> warning. The
 *       clock starts at the event that brought the count to the threshold and the warning
 *       is dated at that moment + devices_min; it fires at the account's next event or at
 *       on_tick once the watermark passes the mark, so an episode with no further event is
 *       still seen. Calls without a `device` field do not count. Once per episode: it
 *       re-arms when the count falls below the threshold. Profile business: 10 devices
 *       (devices@business, below): each extension of an office PBX is a device.
 *   fair_use.abroad  a device seen abroad (`country` present and not "NL") on more than
 *       abroad_days (30) distinct days of the last abroad_window_days (60) -> warning, at the
 *       event that brings the count to abroad_days + 1. Days are UTC calendar days (an
 *       event's ts / 86400000): the rule counts days, and the one or two hours Amsterdam is
 *       ahead of UTC move a call across midnight, not a month of travel. A call event with a
 *       country but no device is counted under the account's unnamed device. Once per
 *       episode per device: re-arms when the count is back at or under abroad_days.
 *
 * Open calls are tracked per call_id: a repeated start is the same call, an end closes it,
 * an end seen before its start (60 s of disorder) is remembered so the late start does not
 * open it, and a call without an end stops counting after 24 h of event time (events.md).
 *
 * Counters, published at on_tick for accounts that changed (TTL redis.counter_ttl_s):
 * devices_open (distinct devices with a call open now; first published when an account reaches
 * two, so a missing field means at most one) and abroad_days_60d (abroad days in the window of
 * the account's most-travelled device). They go out in two sets, as each table
 * changes; Redis keeps both fields in the account's counter hash.
 *
 * State per worker: two pointer slots in the account records (acct_rec.h), 16 bytes of every
 * record; the parts they point to are allocated when an account first needs them:
 *   calls:  accounts with a call open on a named device: struct fu_calls, 1200 bytes (16
 *           open calls, 8 remembered early ends, 5 sample event ids). Dropped when no call is
 *           open and its zero is published, so idle accounts cost nothing.
 *   abroad: accounts with a device abroad within the window: struct fu_abroad, 1944 bytes
 *           (8 devices with their names and 64-day bitmaps, 5 sample event ids). Dropped when
 *           every bitmap has left the window. Past 8 devices the one seen abroad longest ago
 *           gives way. Call ids and device names are compared as 64-bit hashes.
 *
 * Checkpoints (detector.h): save writes the account's entries of both tables field by field
 * in the shared little-endian encoding (state_codec.h) behind a version byte and a mask of
 * the tables present; load checks every count, time,
 * flag and string before it replaces the account's entries, takes the profile from the
 * current profiles, lists the account as changed and brings next_due forward to its
 * episode's mark; forget removes its entries. The dirty lists are the records' (one per
 * slot), which drop a released slot themselves.
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
#include "vigil/profile.h"
#include "vigil/state_codec.h"
#include "vigil/status.h"
#include "vigil/text.h"

#define FU_NAME "fair_use"
#define FU_RULE_DEVICES "fair_use.devices"
#define FU_RULE_ABROAD "fair_use.abroad"
#define FU_MIN_MS 60000LL
#define FU_HOUR_MS 3600000LL
#define FU_DAY_MS 86400000LL
#define FU_OPEN_MAX 16
#define FU_ENDED_MAX 8
#define FU_DEVICES_MAX 8          /* devices tracked abroad per account */
#define FU_MAX_OPEN_MS 86400000LL /* events.md: a start without an end is open for 24 h */
#define FU_NONE INT64_MIN

struct fu_open {
    uint64_t call; /* hash of call_id */
    uint64_t dev;  /* hash of device */
    int64_t start_ms;
};

struct fu_sample {
    uint64_t call;
    char id[VIGIL_ID_MAX + 1];
};

/* Accounts with a call open on a named device. */
struct fu_calls {
    struct fu_open open[FU_OPEN_MAX];
    uint64_t ended[FU_ENDED_MAX];                /* call ids whose end came before any start */
    struct fu_sample samples[VIGIL_SAMPLES_MAX]; /* the latest call_starts */
    int64_t since;   /* when the distinct devices reached the threshold, or FU_NONE */
    int64_t last_ms; /* latest event time */
    uint32_t pub;    /* devices_open as last published */
    uint8_t n_open, next_ended, next_sample, profile;
    bool fired, published, dirty;
};

struct fu_device {
    uint64_t h;       /* hash of the device name; 0 = free slot */
    int64_t last_day; /* latest UTC day seen abroad; bit i of days = day last_day - i */
    uint64_t days;
    char name[VIGIL_DEVICE_MAX + 1];
    bool fired;
};

/* Accounts with a device seen abroad within the window. */
struct fu_abroad {
    struct fu_device dev[FU_DEVICES_MAX];
    char samples[VIGIL_SAMPLES_MAX][VIGIL_ID_MAX + 1]; /* first abroad event of recent days */
    uint32_t pub;                                      /* abroad_days_60d as last published */
    uint8_t n_samples, next_sample, profile;
    bool published, dirty;
};

/* The two slots fair_use declares in the account records. */
struct fu_cslot {
    struct fu_calls *c;
};
struct fu_aslot {
    struct fu_abroad *a;
};

struct fu_state {
    const struct vigil_profiles *profiles;
    int64_t devices[VIGIL_PROFILE_COUNT];     /* fair_use.devices */
    int64_t devices_ms[VIGIL_PROFILE_COUNT];  /* fair_use.devices_min, in ms */
    int64_t abroad_days[VIGIL_PROFILE_COUNT]; /* fair_use.abroad_days */
    int64_t window_days;                      /* fair_use.abroad_window_days */
    int64_t ttl_s;
    /* Slots s_calls (struct fu_cslot) and s_abroad (struct fu_aslot); their dirty lists:
     * the accounts changed since the last tick. */
    struct vigil_recs *recs;
    struct vigil_recs *own_recs; /* recs when the env gave none; NULL otherwise */
    int s_calls, s_abroad;
    struct vigil_pool *p_calls, *p_abroad; /* their parts */
    int64_t wm_min;   /* minute of the last sweep's watermark */
    int64_t next_due; /* earliest since + devices_min of an unfired episode */
};

static const struct vigil_config_key fu_keys[] = {
    {"fair_use.devices", VIGIL_CFG_INT, "3", 2, FU_OPEN_MAX,
     "Distinct devices of one account with calls open at the same time that raise a fair-use "
     "warning when it lasts fair_use.devices_min minutes."},
    /* A business account is an office: a small PBX has an extension (desk phone, softphone,
     * mobile app) per employee, and several of them on calls at once is its normal day, not
     * one subscriber's bundle shared out (terms.md, reasonable use 1). Ten leaves room for a
     * small office of up to ten people on the phone together; more than that on one account
     * looks like resale (reasonable use 4) and still warns, well inside the 16 open calls an
     * account's devices are counted among (FU_OPEN_MAX). */
    {"fair_use.devices@business", VIGIL_CFG_INT, "10", 2, FU_OPEN_MAX,
     "Devices at once that raise the warning for a business account: each extension of its "
     "PBX is a device, and a small office has several on calls together."},
    {"fair_use.devices_min", VIGIL_CFG_INT, "10", 1, 1440,
     "Minutes the account must stay on that many devices at once before the warning."},
    {"fair_use.abroad_days", VIGIL_CFG_INT, "30", 1, 63,
     "Days abroad (country not NL) of one device within the window above which a fair-use "
     "warning is raised."},
    {"fair_use.abroad_window_days", VIGIL_CFG_INT, "60", 2, 64,
     "Length in UTC days of the window in which days abroad are counted."},
    {0},
};

static uint64_t str_hash(const char *s)
{
    uint64_t h = vigil_acct_table_hash(s, strlen(s));
    return h ? h : 1; /* 0 marks a free slot */
}


/* --- fair_use.devices --------------------------------------------------------------------- */

static uint32_t distinct_devices(const struct fu_calls *c)
{
    uint32_t n = 0;
    for (int i = 0; i < c->n_open; i++) {
        bool dup = false;
        for (int k = 0; k < i && !dup; k++)
            dup = c->open[k].dev == c->open[i].dev;
        if (!dup)
            n++;
    }
    return n;
}

static int open_find(const struct fu_calls *c, uint64_t call)
{
    for (int i = 0; i < c->n_open; i++) {
        if (c->open[i].call == call)
            return i;
    }
    return -1;
}

static bool ended_take(struct fu_calls *c, uint64_t call)
{
    for (int i = 0; i < FU_ENDED_MAX; i++) {
        if (c->ended[i] == call) {
            c->ended[i] = 0;
            return true;
        }
    }
    return false;
}

static void expire_open(struct fu_calls *c, int64_t now)
{
    for (int i = 0; i < c->n_open;) {
        if (c->open[i].start_ms <= now - FU_MAX_OPEN_MS)
            c->open[i] = c->open[--c->n_open];
        else
            i++;
    }
}

static int emit_devices(const struct fu_state *st, const struct fu_calls *c, const char *account,
                        int64_t event_ts, struct vigil_emit *out)
{
    int p = c->profile;
    uint32_t n = distinct_devices(c);
    int64_t mins = st->devices_ms[p] / FU_MIN_MS;
    char reason[256];
    snprintf(reason, sizeof reason,
             "Account active on %" PRIu32 " devices at the same time for %" PRId64
             " minutes (fair-use limit: fewer than %" PRId64 " devices at once): "
             "not reasonable use of an unlimited bundle",
             n, mins, st->devices[p]);
    struct vigil_finding f = {
        .detector = FU_NAME,
        .rule = FU_RULE_DEVICES,
        .severity = VIGIL_SEV_WARNING,
        .action = VIGIL_ACT_NONE,
        .account = account,
        .event_ts_ms = event_ts,
        .window_ms = FU_HOUR_MS,
        .reason = reason,
        .evidence = {{"devices_open", (double)n},
                     {"open_calls", (double)c->n_open},
                     {"minutes", (double)mins},
                     {"threshold_devices", (double)st->devices[p]}},
        .n_evidence = 4,
    };
    /* The latest call_starts that are still open, oldest first. */
    for (int k = 0; k < VIGIL_SAMPLES_MAX; k++) {
        const struct fu_sample *s = &c->samples[(c->next_sample + k) % VIGIL_SAMPLES_MAX];
        if (s->call != 0 && open_find(c, s->call) >= 0)
            f.samples[f.n_samples++] = s->id;
    }
    return vigil_emit_finding(out, &f);
}

/* Judges fair_use.devices at `now` (an event's time or the watermark). */
static int check_devices(struct fu_state *st, struct fu_calls *c, const char *account, int64_t now,
                         struct vigil_emit *out)
{
    int p = c->profile;
    if (distinct_devices(c) < (uint32_t)st->devices[p]) {
        c->since = FU_NONE;
        c->fired = false; /* the episode is over: re-arm */
        return 0;
    }
    if (c->since == FU_NONE)
        c->since = now;
    if (c->fired)
        return 0;
    int64_t mark = c->since + st->devices_ms[p];
    if (now < mark) {
        if (mark < st->next_due)
            st->next_due = mark;
        return 0;
    }
    c->fired = true;
    return emit_devices(st, c, account, mark, out);
}

/* The part *p of slot s (of `slot`), zeroed and allocated when `fresh`; NULL (the slot
 * released) when out of memory. */
static void *part_take(struct fu_state *st, int slot, void *s, void **p,
                       struct vigil_pool *pool, bool fresh)
{
    if (!fresh)
        return *p;
    if (!(*p = vigil_pool_alloc(pool)))
        vigil_recs_release(st->recs, slot, s);
    return *p;
}

/* Frees the part *p of slot s and releases the slot (off its dirty list too). */
static void part_drop(struct fu_state *st, int slot, void *s, void **p,
                      struct vigil_pool *pool)
{
    vigil_pool_free(pool, *p);
    vigil_recs_release(st->recs, slot, s);
}

/* fini of both slots (acct_rec.h): each holds one pointer to its part. */
static void part_fini(void *ctx, void *slot)
{
    void **p = slot;
    vigil_pool_free(ctx, *p);
    *p = NULL;
}

static struct fu_calls *calls_get(struct fu_state *st, const struct vigil_event *ev,
                                  struct fu_cslot **cs, bool *created)
{
    *cs = vigil_recs_slot(st->recs, st->s_calls, ev, created);
    return *cs ? part_take(st, st->s_calls, *cs, (void **)&(*cs)->c, st->p_calls, *created)
               : NULL;
}

static struct fu_abroad *abroad_get(struct fu_state *st, const struct vigil_event *ev,
                                    struct fu_aslot **as, bool *created)
{
    *as = vigil_recs_slot(st->recs, st->s_abroad, ev, created);
    return *as ? part_take(st, st->s_abroad, *as, (void **)&(*as)->a, st->p_abroad, *created)
               : NULL;
}

static int on_device_call(struct fu_state *st, const struct vigil_event *ev, struct vigil_emit *out)
{
    uint64_t call = str_hash(ev->call_id);
    bool created;
    struct fu_cslot *cs;
    struct fu_calls *c = calls_get(st, ev, &cs, &created);
    if (!c)
        return VIGIL_ERR_NOMEM;
    if (created) {
        c->since = FU_NONE;
        c->profile = (uint8_t)vigil_profiles_lookup(st->profiles, ev->account);
    }
    if (ev->ts_ms > c->last_ms)
        c->last_ms = ev->ts_ms;
    if (!c->dirty) {
        if (vigil_recs_mark(st->recs, st->s_calls, cs) != 0)
            return VIGIL_ERR_NOMEM;
        c->dirty = true;
    }
    expire_open(c, c->last_ms);
    /* A mark that fell due before this event is judged on the state before it: an end that
     * closes one of the devices must not hide an episode that already lasted long enough
     * (vigild ticks per batch, not per event). */
    int rc = check_devices(st, c, ev->account, ev->ts_ms, out);
    if (rc != 0)
        return rc;
    int i = open_find(c, call);
    if (ev->type == VIGIL_EV_CALL_START) {
        /* A repeated start is the same call; a start after its own end opens nothing. */
        if (i < 0 && !ended_take(c, call) && c->n_open < FU_OPEN_MAX) {
            c->open[c->n_open++] =
                (struct fu_open){.call = call, .dev = str_hash(ev->device), .start_ms = ev->ts_ms};
            struct fu_sample *s = &c->samples[c->next_sample];
            s->call = call;
            vigil_text_copy(s->id, sizeof s->id, ev->id);
            c->next_sample = (uint8_t)((c->next_sample + 1) % VIGIL_SAMPLES_MAX);
        }
    } else if (i >= 0) {
        c->open[i] = c->open[--c->n_open];
    } else if (ev->answered && ev->device[0] != '\0') {
        c->ended[c->next_ended] = call;
        c->next_ended = (uint8_t)((c->next_ended + 1) % FU_ENDED_MAX);
    }
    return check_devices(st, c, ev->account, ev->ts_ms, out);
}

/* --- fair_use.abroad ---------------------------------------------------------------------- */

/* Days abroad of the device within the window ending on day `today`. */
static uint32_t device_days(const struct fu_state *st, const struct fu_device *d, int64_t today)
{
    if (d->h == 0)
        return 0;
    int64_t keep = d->last_day - (today - st->window_days + 1) + 1; /* bits 0..keep-1 count */
    if (keep <= 0)
        return 0;
    uint64_t bits = keep >= 64 ? d->days : d->days & ((1ULL << keep) - 1);
    return (uint32_t)__builtin_popcountll(bits);
}

static uint32_t acct_abroad_days(const struct fu_state *st, const struct fu_abroad *a,
                                 int64_t today)
{
    uint32_t best = 0;
    for (int i = 0; i < FU_DEVICES_MAX; i++) {
        uint32_t n = device_days(st, &a->dev[i], today);
        if (n > best)
            best = n;
    }
    return best;
}

static struct fu_device *device_get(struct fu_abroad *a, const char *name, int64_t day)
{
    uint64_t h = str_hash(name);
    int slot = -1;
    for (int i = 0; i < FU_DEVICES_MAX; i++) {
        if (a->dev[i].h == h)
            return &a->dev[i];
        /* A free slot, else the device seen abroad longest ago gives way. */
        if (slot < 0 || (a->dev[slot].h != 0 &&
                         (a->dev[i].h == 0 || a->dev[i].last_day < a->dev[slot].last_day)))
            slot = i;
    }
    struct fu_device *d = &a->dev[slot];
    memset(d, 0, sizeof *d);
    d->h = h;
    d->last_day = day;
    vigil_text_copy(d->name, sizeof d->name, name);
    return d;
}

/* Marks `day` abroad; true if it was a new day for the device. */
static bool device_mark(struct fu_device *d, int64_t day)
{
    if (day > d->last_day) {
        int64_t shift = day - d->last_day;
        d->days = shift >= 64 ? 0 : d->days << shift;
        d->last_day = day;
    }
    int64_t bit = d->last_day - day;
    if (bit >= 64)
        return false; /* older than any window */
    bool fresh = !(d->days & (1ULL << bit));
    d->days |= 1ULL << bit;
    return fresh;
}

static int emit_abroad(const struct fu_state *st, const struct fu_abroad *a, const char *account,
                       const struct fu_device *d, uint32_t days, const struct vigil_event *ev,
                       struct vigil_emit *out)
{
    int p = a->profile;
    char reason[320];
    snprintf(reason, sizeof reason,
             "Device %s%s%s of the account was used abroad (last in %s) on %" PRIu32
             " of the last %" PRId64 " days (fair-use limit: %" PRId64
             "): longer than a holiday or business trip explains",
             d->name[0] ? "'" : "", d->name[0] ? d->name : "(unnamed)", d->name[0] ? "'" : "",
             ev->country, days, st->window_days, st->abroad_days[p]);
    struct vigil_finding f = {
        .detector = FU_NAME,
        .rule = FU_RULE_ABROAD,
        .severity = VIGIL_SEV_WARNING,
        .action = VIGIL_ACT_NONE,
        .account = account,
        .event_ts_ms = ev->ts_ms,
        .window_ms = FU_DAY_MS,
        .reason = reason,
        .evidence = {{"abroad_days", (double)days},
                     {"window_days", (double)st->window_days},
                     {"threshold_days", (double)st->abroad_days[p]}},
        .n_evidence = 3,
    };
    for (int k = 0; k < a->n_samples; k++) {
        int i = (a->next_sample + VIGIL_SAMPLES_MAX - a->n_samples + k) % VIGIL_SAMPLES_MAX;
        f.samples[f.n_samples++] = a->samples[i];
    }
    return vigil_emit_finding(out, &f);
}

static int on_country(struct fu_state *st, const struct vigil_event *ev, struct vigil_emit *out)
{
    int64_t day = vigil_floor_div(ev->ts_ms, FU_DAY_MS);
    bool created;
    struct fu_aslot *as;
    struct fu_abroad *a = abroad_get(st, ev, &as, &created);
    if (!a)
        return VIGIL_ERR_NOMEM;
    if (created)
        a->profile = (uint8_t)vigil_profiles_lookup(st->profiles, ev->account);
    struct fu_device *d = device_get(a, ev->device, day);
    if (!device_mark(d, day))
        return 0; /* a day already counted: nothing changes */
    if (!a->dirty) {
        if (vigil_recs_mark(st->recs, st->s_abroad, as) != 0)
            return VIGIL_ERR_NOMEM;
        a->dirty = true;
    }
    vigil_text_copy(a->samples[a->next_sample], sizeof a->samples[0], ev->id);
    a->next_sample = (uint8_t)((a->next_sample + 1) % VIGIL_SAMPLES_MAX);
    if (a->n_samples < VIGIL_SAMPLES_MAX)
        a->n_samples++;

    int64_t today = day > d->last_day ? day : d->last_day;
    uint32_t days = device_days(st, d, today);
    if (days <= (uint32_t)st->abroad_days[a->profile]) {
        d->fired = false;
        return 0;
    }
    if (d->fired)
        return 0;
    d->fired = true;
    return emit_abroad(st, a, ev->account, d, days, ev, out);
}

/* --- events and ticks --------------------------------------------------------------------- */

static int fu_on_event(void *state, const struct vigil_event *ev, struct vigil_emit *out)
{
    struct fu_state *st = state;
    if (ev->type != VIGIL_EV_CALL_START && ev->type != VIGIL_EV_CALL_END)
        return 0;
    int rc = 0;
    if (ev->country[0] != '\0' && strcmp(ev->country, "NL") != 0)
        rc = on_country(st, ev, out);
    /* An end often carries no device (events.md's example): it still closes its call. */
    if (rc == 0 && (ev->device[0] != '\0' || (ev->type == VIGIL_EV_CALL_END &&
                                              vigil_recs_peek(st->recs, st->s_calls, ev))))
        rc = on_device_call(st, ev, out);
    return rc;
}

static int publish_calls(const struct fu_state *st, struct fu_calls *c, const char *account,
                         struct vigil_emit *out)
{
    uint32_t v = distinct_devices(c);
    /* One device at a time is what nearly every account does: its counter starts once the
     * account reaches two, which saves Redis a write per ordinary call. */
    if (c->published ? v == c->pub : v < 2)
        return 0;
    struct vigil_counter k[] = {{"devices_open", v}};
    int rc = vigil_emit_counters(out, account, FU_NAME, k, 1, st->ttl_s);
    if (rc != 0)
        return rc;
    c->pub = v;
    c->published = true;
    return 0;
}

static int publish_abroad(const struct fu_state *st, struct fu_abroad *a, const char *account,
                          int64_t wm, struct vigil_emit *out)
{
    int64_t today = wm == FU_NONE ? INT64_MIN : vigil_floor_div(wm, FU_DAY_MS);
    for (int i = 0; i < FU_DEVICES_MAX; i++) {
        if (a->dev[i].h != 0 && a->dev[i].last_day > today)
            today = a->dev[i].last_day;
    }
    uint32_t v = acct_abroad_days(st, a, today);
    if (a->published && v == a->pub)
        return 0;
    struct vigil_counter k[] = {{"abroad_days_60d", v}};
    int rc = vigil_emit_counters(out, account, FU_NAME, k, 1, st->ttl_s);
    if (rc != 0)
        return rc;
    a->pub = v;
    a->published = true;
    return 0;
}

static int publish_dirty(struct fu_state *st, int64_t wm, struct vigil_emit *out)
{
    int rc = 0;
    size_t done = 0;
    for (; done < vigil_recs_dirty_count(st->recs, st->s_calls); done++) {
        struct fu_cslot *cs = vigil_recs_dirty_at(st->recs, st->s_calls, done);
        const char *account = vigil_recs_account(st->recs, st->s_calls, cs);
        if ((rc = publish_calls(st, cs->c, account, out)) != 0)
            break;
        cs->c->dirty = false;
    }
    vigil_recs_dirty_consume(st->recs, st->s_calls, done);
    if (rc != 0)
        return rc;
    for (done = 0; done < vigil_recs_dirty_count(st->recs, st->s_abroad); done++) {
        struct fu_aslot *as = vigil_recs_dirty_at(st->recs, st->s_abroad, done);
        const char *account = vigil_recs_account(st->recs, st->s_abroad, as);
        if ((rc = publish_abroad(st, as->a, account, wm, out)) != 0)
            break;
        as->a->dirty = false;
    }
    vigil_recs_dirty_consume(st->recs, st->s_abroad, done);
    return rc;
}

/* Timers, expiry, window slides and idle accounts, once per minute of watermark or when an
 * episode's mark is due. */
static int sweep(struct fu_state *st, int64_t wm, struct vigil_emit *out)
{
    st->next_due = INT64_MAX;
    struct fu_cslot *cs;
    struct fu_aslot *as;
    for (size_t it = 0; (cs = vigil_recs_next(st->recs, st->s_calls, &it));) {
        const char *account = vigil_recs_account(st->recs, st->s_calls, cs);
        struct fu_calls *c = cs->c;
        expire_open(c, wm);
        int rc = check_devices(st, c, account, wm > c->last_ms ? wm : c->last_ms, out);
        if (rc == 0)
            rc = publish_calls(st, c, account, out);
        if (rc != 0)
            return rc;
    }
    for (size_t it = 0; (as = vigil_recs_next(st->recs, st->s_abroad, &it));) {
        const char *account = vigil_recs_account(st->recs, st->s_abroad, as);
        int rc = publish_abroad(st, as->a, account, wm, out);
        if (rc != 0)
            return rc;
    }
    for (size_t it = 0; (cs = vigil_recs_next(st->recs, st->s_calls, &it));) {
        const struct fu_calls *c = cs->c;
        if (c->n_open == 0 && (!c->published || c->pub == 0) && !c->dirty &&
            c->last_ms <= wm - 2 * FU_MIN_MS)
            part_drop(st, st->s_calls, cs, (void **)&cs->c, st->p_calls);
    }
    for (size_t it = 0; (as = vigil_recs_next(st->recs, st->s_abroad, &it));) {
        const struct fu_abroad *a = as->a;
        if (a->published && a->pub == 0 && !a->dirty)
            part_drop(st, st->s_abroad, as, (void **)&as->a, st->p_abroad);
    }
    return 0;
}

static int fu_on_tick(void *state, int64_t watermark_ms, struct vigil_emit *out)
{
    struct fu_state *st = state;
    int64_t wm = watermark_ms == INT64_MIN ? FU_NONE : watermark_ms;
    int rc = publish_dirty(st, wm, out);
    if (rc != 0 || wm == FU_NONE)
        return rc;
    int64_t wm_min = vigil_floor_div(wm, FU_MIN_MS);
    if (wm_min <= st->wm_min && wm < st->next_due)
        return 0;
    rc = sweep(st, wm, out);
    if (rc != 0)
        return rc; /* the next tick sweeps again */
    if (wm_min > st->wm_min)
        st->wm_min = wm_min;
    return 0;
}

/* --- checkpoints -------------------------------------------------------------------------- */

/* Drops the account's part of `slot` (off its dirty list too). */
static void listed_remove(struct fu_state *st, int slot, const char *account)
{
    vigil_recs_forget(st->recs, slot, account); /* part_fini frees the part */
}

/* Drops both entries of the account. Its mark goes with its entry: next_due may now be
 * earlier than anything left, which costs one sweep that recomputes it. */
static void fu_forget(void *state, const char *account)
{
    struct fu_state *st = state;
    listed_remove(st, st->s_calls, account);
    listed_remove(st, st->s_abroad, account);
}

/* Saved form (FU_SAVE_VERSION): a version byte, a byte with FU_SAVED_* set for each table
 * holding the account, then the fields of each of those tables' struct in that order, in the
 * shared little-endian encoding (put_calls, put_abroad; not dirty and profile: load sets
 * them). */
#define FU_SAVE_VERSION 2 /* 2: the shared encoding (1 was the structs as in memory) */

enum {
    FU_SAVED_CALLS = 1,
    FU_SAVED_ABROAD = 2,
};

struct fu_saved {
    uint8_t mask; /* FU_SAVED_* */
    struct fu_calls calls;
    struct fu_abroad abroad;
};

static void put_calls(struct vigil_state_writer *w, const struct fu_calls *c)
{
    for (int i = 0; i < FU_OPEN_MAX; i++) {
        vigil_state_put_u64(w, c->open[i].call);
        vigil_state_put_u64(w, c->open[i].dev);
        vigil_state_put_i64(w, c->open[i].start_ms);
    }
    for (int i = 0; i < FU_ENDED_MAX; i++)
        vigil_state_put_u64(w, c->ended[i]);
    for (int i = 0; i < VIGIL_SAMPLES_MAX; i++) {
        vigil_state_put_u64(w, c->samples[i].call);
        vigil_state_put_raw(w, c->samples[i].id, sizeof c->samples[i].id);
    }
    vigil_state_put_i64(w, c->since);
    vigil_state_put_i64(w, c->last_ms);
    vigil_state_put_u32(w, c->pub);
    vigil_state_put_u8(w, c->n_open);
    vigil_state_put_u8(w, c->next_ended);
    vigil_state_put_u8(w, c->next_sample);
    vigil_state_put_bool(w, c->fired);
    vigil_state_put_bool(w, c->published);
}

static void get_calls(struct vigil_bytes_reader *r, struct fu_calls *c)
{
    for (int i = 0; i < FU_OPEN_MAX; i++) {
        c->open[i].call = vigil_state_get_u64(r);
        c->open[i].dev = vigil_state_get_u64(r);
        c->open[i].start_ms = vigil_state_get_i64(r);
    }
    for (int i = 0; i < FU_ENDED_MAX; i++)
        c->ended[i] = vigil_state_get_u64(r);
    for (int i = 0; i < VIGIL_SAMPLES_MAX; i++) {
        c->samples[i].call = vigil_state_get_u64(r);
        vigil_state_get_raw(r, c->samples[i].id, sizeof c->samples[i].id);
    }
    c->since = vigil_state_get_i64(r);
    c->last_ms = vigil_state_get_i64(r);
    c->pub = vigil_state_get_u32(r);
    c->n_open = vigil_state_get_u8(r);
    c->next_ended = vigil_state_get_u8(r);
    c->next_sample = vigil_state_get_u8(r);
    c->fired = vigil_state_get_bool(r);
    c->published = vigil_state_get_bool(r);
}

static void put_abroad(struct vigil_state_writer *w, const struct fu_abroad *a)
{
    for (int i = 0; i < FU_DEVICES_MAX; i++) {
        const struct fu_device *d = &a->dev[i];
        vigil_state_put_u64(w, d->h);
        vigil_state_put_i64(w, d->last_day);
        vigil_state_put_u64(w, d->days);
        vigil_state_put_raw(w, d->name, sizeof d->name);
        vigil_state_put_bool(w, d->fired);
    }
    vigil_state_put_raw(w, a->samples, sizeof a->samples);
    vigil_state_put_u32(w, a->pub);
    vigil_state_put_u8(w, a->n_samples);
    vigil_state_put_u8(w, a->next_sample);
    vigil_state_put_bool(w, a->published);
}

static void get_abroad(struct vigil_bytes_reader *r, struct fu_abroad *a)
{
    for (int i = 0; i < FU_DEVICES_MAX; i++) {
        struct fu_device *d = &a->dev[i];
        d->h = vigil_state_get_u64(r);
        d->last_day = vigil_state_get_i64(r);
        d->days = vigil_state_get_u64(r);
        vigil_state_get_raw(r, d->name, sizeof d->name);
        d->fired = vigil_state_get_bool(r);
    }
    vigil_state_get_raw(r, a->samples, sizeof a->samples);
    a->pub = vigil_state_get_u32(r);
    a->n_samples = vigil_state_get_u8(r);
    a->next_sample = vigil_state_get_u8(r);
    a->published = vigil_state_get_bool(r);
}

static int fu_save(void *state, const char *account, struct vigil_bytes *out)
{
    const struct fu_state *st = state;
    const struct fu_cslot *cs = vigil_recs_find(st->recs, st->s_calls, account);
    const struct fu_aslot *as = vigil_recs_find(st->recs, st->s_abroad, account);
    const struct fu_calls *c = cs ? cs->c : NULL;
    const struct fu_abroad *a = as ? as->a : NULL;
    if (!c && !a)
        return 0;
    struct vigil_state_writer w;
    vigil_state_write_begin(&w, out, FU_SAVE_VERSION);
    vigil_state_put_u8(&w, (uint8_t)((c ? FU_SAVED_CALLS : 0) | (a ? FU_SAVED_ABROAD : 0)));
    if (c)
        put_calls(&w, c);
    if (a)
        put_abroad(&w, a);
    return vigil_state_write_end(&w); /* on failure *out is as it was */
}

/* dirty and profile are not checked: load sets them. */
static bool saved_calls_ok(const struct fu_calls *c)
{
    if (c->n_open > FU_OPEN_MAX || c->next_ended >= FU_ENDED_MAX ||
        c->next_sample >= VIGIL_SAMPLES_MAX || !vigil_saved_bool_ok(&c->fired) ||
        !vigil_saved_bool_ok(&c->published) || !vigil_saved_time_ok(c->last_ms) ||
        (c->since != FU_NONE && !vigil_saved_time_ok(c->since)))
        return false;
    for (int i = 0; i < FU_OPEN_MAX; i++) {
        if (!vigil_saved_time_ok(c->open[i].start_ms))
            return false;
    }
    for (int i = 0; i < VIGIL_SAMPLES_MAX; i++) {
        if (!vigil_saved_str_ok(c->samples[i].id, sizeof c->samples[i].id))
            return false;
    }
    return true;
}

static bool saved_abroad_ok(const struct fu_abroad *a)
{
    if (a->n_samples > VIGIL_SAMPLES_MAX || a->next_sample >= VIGIL_SAMPLES_MAX ||
        !vigil_saved_bool_ok(&a->published))
        return false;
    for (int i = 0; i < FU_DEVICES_MAX; i++) {
        const struct fu_device *d = &a->dev[i];
        if (!vigil_saved_time_ok(d->last_day) || !vigil_saved_bool_ok(&d->fired) ||
            !vigil_saved_str_ok(d->name, sizeof d->name))
            return false;
    }
    for (int i = 0; i < VIGIL_SAMPLES_MAX; i++) {
        if (!vigil_saved_str_ok(a->samples[i], sizeof a->samples[i]))
            return false;
    }
    return true;
}

/* Parses and checks saved bytes; false unless they are a whole state of this version. */
static bool fu_read(struct fu_saved *s, const void *data, size_t len)
{
    struct vigil_bytes_reader r;
    memset(s, 0, sizeof *s); /* what is not saved starts at zero */
    vigil_state_read_begin(&r, data, len, FU_SAVE_VERSION);
    s->mask = vigil_state_get_u8(&r);
    vigil_state_check(&r, s->mask != 0 && !(s->mask & ~(FU_SAVED_CALLS | FU_SAVED_ABROAD)));
    if (r.bad)
        return false;
    if (s->mask & FU_SAVED_CALLS) {
        get_calls(&r, &s->calls);
        vigil_state_check(&r, saved_calls_ok(&s->calls));
    }
    if (s->mask & FU_SAVED_ABROAD) {
        get_abroad(&r, &s->abroad);
        vigil_state_check(&r, saved_abroad_ok(&s->abroad));
    }
    return vigil_state_read_end(&r) == 0;
}

/* Lists slot s of `slot` as changed, unless *dirty says it is already. */
static int list_dirty(struct fu_state *st, int slot, void *s, bool *dirty)
{
    if (*dirty)
        return 0;
    if (vigil_recs_mark(st->recs, slot, s) != 0)
        return VIGIL_ERR_NOMEM;
    *dirty = true;
    return 0;
}

/* The slots of the tables `mask` names (NULL for the other), each listed as changed as the
 * account's events would have it; on failure the entries created here are gone again. */
static int fu_load_slots(struct fu_state *st, const char *account, uint8_t mask,
                         struct fu_calls **c, struct fu_abroad **a)
{
    bool c_new = false, a_new = false;
    struct fu_cslot *cs = NULL;
    struct fu_aslot *as = NULL;
    *c = NULL;
    *a = NULL;
    if (mask & FU_SAVED_CALLS) {
        cs = vigil_recs_slot_of(st->recs, st->s_calls, account, &c_new);
        *c = cs ? part_take(st, st->s_calls, cs, (void **)&cs->c, st->p_calls, c_new) : NULL;
        if (!*c) {
            c_new = false; /* part_take released it */
            goto fail;
        }
        if (list_dirty(st, st->s_calls, cs, &(*c)->dirty) != 0)
            goto fail;
    }
    if (mask & FU_SAVED_ABROAD) {
        as = vigil_recs_slot_of(st->recs, st->s_abroad, account, &a_new);
        *a = as ? part_take(st, st->s_abroad, as, (void **)&as->a, st->p_abroad, a_new) : NULL;
        if (!*a) {
            a_new = false;
            goto fail;
        }
        if (list_dirty(st, st->s_abroad, as, &(*a)->dirty) != 0)
            goto fail;
    }
    return 0;

fail:
    /* An entry that was there may stay listed: its values are published once more. */
    if (c_new)
        listed_remove(st, st->s_calls, account);
    if (a_new)
        listed_remove(st, st->s_abroad, account);
    return VIGIL_ERR_NOMEM;
}

/* The next tick sweeps every account, moved or not. */
static void fu_resweep(void *state)
{
    struct fu_state *st = state;
    st->wm_min = INT64_MIN;
}

/* Replaces the account's entries by saved ones. Fields that describe this process or the
 * current config are set here, not read back: dirty and the profile. The episode mark of
 * fair_use.devices comes from the current profile's devices_min and joins next_due. */
static int fu_load(void *state, const char *account, const void *data, size_t len)
{
    struct fu_state *st = state;
    if (!vigil_acct_key_ok(account))
        return VIGIL_ERR_INVALID;
    if (len == 0) {
        fu_forget(st, account); /* what fu_save writes for an account it does not hold */
        return 0;
    }
    struct fu_saved s;
    if (!fu_read(&s, data, len))
        return VIGIL_ERR_INVALID;
    struct fu_calls *c;
    struct fu_abroad *a;
    int rc = fu_load_slots(st, account, s.mask, &c, &a);
    if (rc != 0)
        return rc;
    uint8_t profile = (uint8_t)vigil_profiles_lookup(st->profiles, account);
    if (c) {
        s.calls.dirty = true; /* fu_load_slots listed it */
        s.calls.profile = profile;
        *c = s.calls;
        if (c->since != FU_NONE && !c->fired && c->since + st->devices_ms[profile] < st->next_due)
            st->next_due = c->since + st->devices_ms[profile];
    } else {
        listed_remove(st, st->s_calls, account);
    }
    if (a) {
        s.abroad.dirty = true;
        s.abroad.profile = profile;
        *a = s.abroad;
    } else {
        listed_remove(st, st->s_abroad, account);
    }
    /* This state may have swept past the account's windows already: sweep again at the next
     * tick, so they expire here as they would have where it was saved. */
    fu_resweep(st);
    return 0;
}

static void fu_destroy(void *state)
{
    struct fu_state *st = state;
    if (!st)
        return;
    vigil_recs_destroy(st->own_recs);
    vigil_pool_destroy(st->p_calls);
    vigil_pool_destroy(st->p_abroad);
    free(st);
}

static int fu_init(void **state, const struct vigil_detector_env *env)
{
    *state = NULL;
    if (!env || !env->cfg)
        return VIGIL_ERR_INVALID;
    struct fu_state *st = calloc(1, sizeof *st);
    if (!st)
        return VIGIL_ERR_NOMEM;
    const struct vigil_config *cfg = env->cfg;
    st->profiles = env->profiles;
    vigil_profile_ints(cfg, "fair_use.devices", st->devices);
    vigil_profile_ints(cfg, "fair_use.devices_min", st->devices_ms);
    vigil_profile_ints(cfg, "fair_use.abroad_days", st->abroad_days);
    st->window_days = vigil_config_int(cfg, "fair_use.abroad_window_days");
    for (int p = 0; p < VIGIL_PROFILE_COUNT; p++)
        st->devices_ms[p] *= FU_MIN_MS;
    st->ttl_s = vigil_config_int(cfg, "redis.counter_ttl_s");
    st->wm_min = INT64_MIN;
    st->next_due = INT64_MAX;
    st->recs = env->recs ? env->recs : (st->own_recs = vigil_recs_create(256));
    st->p_calls = vigil_pool_create(sizeof(struct fu_calls));
    st->p_abroad = vigil_pool_create(sizeof(struct fu_abroad));
    if (!st->recs || !st->p_calls || !st->p_abroad) {
        fu_destroy(st);
        return VIGIL_ERR_NOMEM;
    }
    st->s_calls = vigil_recs_declare_part(st->recs, part_fini, st->p_calls);
    st->s_abroad = vigil_recs_declare_part(st->recs, part_fini, st->p_abroad);
    if (st->s_calls < 0 || st->s_abroad < 0) {
        fu_destroy(st);
        return VIGIL_ERR_INVALID;
    }
    *state = st;
    return 0;
}

static const char *const fu_rules[] = {FU_RULE_DEVICES, FU_RULE_ABROAD, NULL};

const struct vigil_detector_ops vigil_det_fair_use = {
    .name = FU_NAME,
    .keys = fu_keys,
    .rules = fu_rules,
    .init = fu_init,
    .on_event = fu_on_event,
    .on_tick = fu_on_tick,
    .destroy = fu_destroy,
    .save = fu_save,
    .load = fu_load,
    .forget = fu_forget,
    .resweep = fu_resweep,
};

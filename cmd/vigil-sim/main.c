/* SPDX-License-Identifier: Apache-2.0 */
/* vigil-sim - seeded, reproducible call and SMS traffic generator (wire format v1)
 *
 * Background accounts (consumers, businesses, call centres) make calls and send SMS with a
 * diurnal rhythm in Amsterdam local time; named abuse and heavy-but-legitimate scenarios are
 * injected at chosen event times; malformed messages can be mixed in for dead-letter demos.
 * Events go to stdout (JSON lines), a file, or a Kafka topic keyed by account; the ground
 * truth (which account abuses, which rule should fire, when the pattern completes) goes to
 * a JSON-lines file.
 *
 * Event time is simulated: a binary heap holds every pending item (call_ends due later,
 * SMS of a burst, each account's next activity, each call-centre line's next call) ordered
 * by (ts, insertion sequence), so events leave in event-time order and the same flags give
 * byte-identical output. Randomness is splitmix64 only: one stream per account and one per
 * scenario, seeded from --seed and the account id, so a scenario never shifts background
 * traffic. Events due after the end of the window are not written (calls stay open).
 *
 * The generator runs twice: a counting pass that fills the ground truth (events' indexes
 * and ids) and knows the total for progress lines, then the writing pass. Both see the
 * same flags, hence the same events.
 *
 * Background traffic is shaped to stay clear of every rule in shared/spec/detection.md at
 * default thresholds: no high-risk destinations at all, at most two 0900 calls per account,
 * one device at a time per consumer and at most two per business, SMS far below the bulk
 * limits, call centres only to NL/BE/DE/FR/GB, no call longer than 90 minutes.
 *
 * Threading: single-threaded (librdkafka runs its own threads behind the producer).
 * Ownership: main creates and destroys the simulation and the sink; nothing crosses. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "kafka_conf.h"
#include "version.h"
#include "vigil/config.h"
#include "vigil/event.h"
#include "vigil/profile.h"
#include "jbuf.h"

#define EXIT_USAGE 2
#define MAX_SCENARIOS 64
#define MAX_SETS 64
#define MAX_ACCOUNTS 100000
#define MAX_INVALID 100000
#define MAX_DURATION_MIN 43200           /* 30 days */
#define DEFAULT_START_MS 1793606400000LL /* 2026-11-02T08:00:00Z, Monday 09:00 Amsterdam */
#define SEC_MS 1000LL
#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
#define NUM_LEN 20 /* "+" and at most 17 digits, NUL */
#define MAX_CONTACTS 10
#define MAX_PAR 3         /* background calls open at once per account */
#define PREMIUM_MAX 2     /* background 0900 calls per account per run */
#define CC_BUSY_LINES 25  /* callcenter_busy */
#define PROGRESS_MIN 5000 /* progress lines only for runs above this many events */
#define EVENT_BUF 1024

/* ---- random numbers: splitmix64, portable and seedable ---- */

struct rng {
    uint64_t s;
};

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rng_next(struct rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return mix64(r->s);
}

static void rng_seed(struct rng *r, uint64_t seed, const char *name, uint64_t salt)
{
    r->s = mix64(vigil_fnv1a(VIGIL_FNV_OFFSET, name, strlen(name)) ^ mix64(seed) ^ salt);
}

static double rng_unit(struct rng *r) /* [0, 1) */
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static uint64_t rng_below(struct rng *r, uint64_t n)
{
    return rng_next(r) % n;
}

static int64_t rng_range(struct rng *r, int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)rng_below(r, (uint64_t)(hi - lo + 1));
}

static double rng_exp(struct rng *r, double mean)
{
    return -mean * log(1.0 - rng_unit(r));
}

/* Log-normal seconds with the given median, clamped to [lo, hi]. */
static int64_t rng_lognormal(struct rng *r, double median, double sigma, int64_t lo, int64_t hi)
{
    double u1 = 1.0 - rng_unit(r), u2 = rng_unit(r);
    double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    double v = median * exp(sigma * z);
    int64_t s = (int64_t)(v + 0.5);
    return s < lo ? lo : s > hi ? hi : s;
}

/* ---- Amsterdam local time: the detectors' own (vigil/profile.h) ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

struct local {
    bool weekday; /* Monday .. Friday */
    double hour;  /* 0 <= hour < 24, fractional */
    int64_t day;  /* local day number */
};

static void local_time(int64_t ts, struct local *lt)
{
    struct vigil_local_time v;
    vigil_local_time(ts, &v);
    lt->day = v.day;
    lt->weekday = v.wday >= 1 && v.wday <= 5; /* 0 = Sunday */
    lt->hour = (double)v.ms_of_day / (double)HOUR_MS;
}

static bool office_hours(const struct local *lt)
{
    return lt->weekday && lt->hour >= 8.0 && lt->hour < 18.0;
}

/* The next 08:00 local on a weekday strictly after ts. */
static int64_t next_office_open(int64_t ts)
{
    struct local lt;
    local_time(ts, &lt);
    int64_t day = lt.weekday && lt.hour < 8.0 ? lt.day : lt.day + 1;
    struct vigil_local_time v;
    /* Noon UTC of a local day falls on that day: its weekday. */
    for (vigil_local_time(day * DAY_MS + 12 * HOUR_MS, &v); v.wday == 0 || v.wday == 6;
         vigil_local_time(day * DAY_MS + 12 * HOUR_MS, &v))
        day++;
    int64_t l = day * DAY_MS + 8 * HOUR_MS;
    vigil_local_time(l - HOUR_MS, &v);
    return l - v.offset_ms;
}

/* ---- numbering ---- */

struct numrange {
    const char *prefix; /* E.164 */
    int digits;         /* digits after the prefix */
    const char *first;  /* allowed first digit after the prefix */
    int weight;
};

#define NR(a) (sizeof(a) / sizeof((a)[0]))

static const struct numrange nl_fixed[] = {
    {"+3120", 7, "3456789", 30}, {"+3110", 7, "2345678", 15}, {"+3170", 7, "3456789", 12},
    {"+3130", 7, "2345678", 12}, {"+3140", 7, "2345678", 8},  {"+3150", 7, "3456789", 6},
    {"+3143", 7, "3456", 4},     {"+3158", 7, "2345", 4},     {"+31229", 6, "2345", 3},
    {"+31497", 6, "3456", 3},    {"+31348", 6, "4", 3},
};
static const struct numrange nl_mobile[] = {{"+316", 8, "123458", 1}};
static const struct numrange nl_company[] = {{"+3188", 7, "1234567", 1}};
static const struct numrange nl_voip[] = {{"+3185", 7, "0123456789", 1}};
static const struct numrange nl_helpdesk[] = {{"+31900", 7, "0123456789", 1}};
static const struct numrange nl_premium[] = {
    {"+31900", 7, "0123456789", 2}, {"+31906", 7, "0123456789", 5}, {"+31909", 7, "0123", 3}};
/* Ordinary international destinations: consumers' family, businesses' partners. */
static const struct numrange intl_ordinary[] = {
    {"+324", 8, "5679", 9},         {"+322", 7, "2345", 6},     {"+4930", 8, "2345678", 8},
    {"+49151", 8, "0123456789", 8}, {"+4989", 8, "2345", 4},    {"+331", 8, "4", 7},
    {"+336", 8, "1234", 6},         {"+4420", 8, "37", 9},      {"+447", 9, "4579", 9},
    {"+1212", 7, "2345678", 4},     {"+1415", 7, "2345678", 3}, {"+1646", 7, "2345678", 3},
    {"+919", 9, "0123456789", 3},   {"+9180", 8, "2345", 3},    {"+2126", 8, "0123456789", 6},
    {"+2127", 8, "0123", 3},        {"+905", 9, "345", 6},      {"+90212", 7, "2345", 3},
};
/* What a call centre may call besides NL: BE, DE, FR, GB. */
static const struct numrange intl_callcenter[] = {
    {"+324", 8, "5679", 3},         {"+322", 7, "2345", 2}, {"+4930", 8, "2345678", 2},
    {"+49151", 8, "0123456789", 2}, {"+331", 8, "4", 2},    {"+336", 8, "1234", 2},
    {"+4420", 8, "37", 2},          {"+447", 9, "4579", 2},
};
static const struct numrange intl_business_far[] = {
    {"+1212", 7, "2345678", 3},
    {"+1415", 7, "2345678", 2},
    {"+919", 9, "0123456789", 2},
    {"+9180", 8, "2345", 2},
};
static const struct numrange intl_family[] = {
    {"+2126", 8, "0123456789", 3},
    {"+2127", 8, "0123", 1},
    {"+905", 9, "345", 3},
};
/* High-risk (IRSF) ranges, shared/reference/numbering.md; the hacked-PBX favourites first. */
static const struct numrange high_risk[] = {
    {"+535", 7, "0123456789", 12},  {"+8816", 8, "0123456789", 8},   {"+25261", 7, "0123456789", 6},
    {"+25290", 7, "0123456789", 4}, {"+88216", 8, "0123456789", 3},  {"+8707", 8, "6789", 2},
    {"+3712", 7, "0123456789", 3},  {"+3706", 7, "0123456789", 2},   {"+3725", 7, "0123456789", 2},
    {"+2162", 7, "0123456789", 2},  {"+2135", 8, "0123456789", 2},   {"+23276", 6, "0123456789", 2},
    {"+22462", 7, "0123456789", 2}, {"+9607", 6, "0123456789", 2},   {"+6757", 7, "0123456789", 2},
    {"+6825", 4, "0123456789", 1},  {"+674555", 4, "0123456789", 1}, {"+68890", 4, "0123456789", 1},
    {"+937", 8, "0123456789", 2},   {"+2356", 7, "0123456789", 1},   {"+26132", 7, "0123456789", 1},
    {"+947", 8, "0123456789", 2},
};
/* High-risk ranges at most EUR 1.20/min by the default rate table: velocity and scanning
 * scenarios stay under the spend rule so that their own rule is the one that fires. */
static const struct numrange high_risk_cheap[] = {
    {"+535", 7, "0123456789", 6},  {"+25261", 7, "0123456789", 4}, {"+3712", 7, "0123456789", 3},
    {"+3706", 7, "0123456789", 2}, {"+3725", 7, "0123456789", 2},  {"+2162", 7, "0123456789", 2},
    {"+2135", 8, "0123456789", 2}, {"+23276", 6, "0123456789", 2}, {"+22462", 7, "0123456789", 2},
    {"+937", 8, "0123456789", 2},  {"+947", 8, "0123456789", 2},   {"+9607", 6, "0123456789", 1},
};

static const struct numrange *pick_range(struct rng *r, const struct numrange *t, size_t n)
{
    int total = 0;
    for (size_t i = 0; i < n; i++)
        total += t[i].weight;
    int x = (int)rng_below(r, (uint64_t)total);
    for (size_t i = 0; i < n; i++) {
        if (x < t[i].weight)
            return &t[i];
        x -= t[i].weight;
    }
    return &t[n - 1];
}

static void gen_in(struct rng *r, const struct numrange *nr, char *out)
{
    size_t n = strlen(nr->prefix);
    memcpy(out, nr->prefix, n);
    out[n++] = nr->first[rng_below(r, strlen(nr->first))];
    for (int i = 1; i < nr->digits; i++)
        out[n++] = (char)('0' + rng_below(r, 10));
    out[n] = '\0';
}

#define GEN(r, table, out) gen_in((r), pick_range((r), (table), NR(table)), (out))

/* ---- options ---- */

enum profile { PROF_CONSUMER, PROF_BUSINESS, PROF_CALLCENTER };
static const char *const prof_names[] = {"consumer", "business", "callcenter"};

struct sim;
struct scen;

struct scen_def {
    const char *name;
    const char *acc_prefix; /* default account: "<prefix>-<n>" */
    enum profile prof;
    const char *detector; /* NULL: legitimate traffic, "expect":null */
    const char *rule;
    const char *action;
    int64_t deadline_ms;
    void (*plan)(struct sim *s, struct scen *sc);
    const char *doc;
    /* A second order expected besides `action` (NULL: none): "interim_invoice" for the
     * toll_fraud and premium scenarios, which vigild issues with credit.interim_on_critical
     * = 1 (as the detection report runs it), one per account and day. */
    const char *also;
};

struct scen_spec {
    int def;
    int minute;
    char account[VIGIL_ACCOUNT_MAX + 1]; /* "" = default name */
};

struct options {
    const char *out; /* "-" = stdout */
    bool out_set;
    const char *brokers;
    const char *topic;
    const char *truth;
    int64_t start_ms;
    int duration_min;
    int accounts;
    uint64_t seed;
    int invalid;
    double rate;
    bool quiet;
    const char *config;                /* --config: for its librdkafka.* keys */
    const char *sets[MAX_SETS];        /* --set KEY=VALUE, applied after the file */
    int nsets;
    int nscen;
    struct scen_spec scen[MAX_SCENARIOS];
};

/* ---- simulation state ---- */

struct account {
    char id[VIGIL_ACCOUNT_MAX + 1];
    enum profile prof;
    bool background; /* has its own Poisson activity (from --accounts) */
    bool sms_habit;  /* a consumer who texts */
    bool reminders;  /* a business that sends appointment reminders */
    int ndev;
    int cc_lines; /* background call-centre lines */
    int premium_calls;
    int ncontacts;
    uint32_t ip;
    double rate_out, rate_in, rate_sms; /* activities per hour at the diurnal peak */
    int64_t busy_until[MAX_PAR];
    int64_t batch_after;  /* no reminder batch before this ts */
    char home[NUM_LEN];   /* calls from / to this number */
    char mobile[NUM_LEN]; /* SMS sender */
    char contacts[MAX_CONTACTS][NUM_LEN];
    struct rng rng;
};

enum item_kind { IT_CALL_START, IT_CALL_END, IT_SMS, IT_INVALID, IT_GEN_ACT, IT_GEN_LINE };

/* One pending item of the heap: an event to write or a generator to run. */
struct item {
    int64_t ts;
    uint64_t seq;
    uint8_t kind;
    bool in;
    bool answered;
    uint8_t segments;
    int16_t dev;  /* -1: no device field */
    int16_t scen; /* -1: background */
    int32_t acc;
    int32_t aux; /* IT_GEN_LINE: line; IT_INVALID: index into sim.inv */
    uint32_t duration;
    uint32_t ip; /* 0: the account's own */
    uint64_t call_no;
    uint64_t hash;
    char from[NUM_LEN];
    char to[NUM_LEN];
};

struct scen {
    const struct scen_def *def;
    int minute;
    int acc;
    int64_t t0;
    int64_t complete_ts; /* -1: none (legitimate traffic) */
    const char *rule;
    struct rng rng;
    uint64_t events;
    int64_t first_ts, last_ts;
    /* What billing must have set for the scenario (credit_limit): the account's credit limit
     * and the start of its period, written to the truth as "billing"; 0: nothing. */
    double credit_limit_eur;
    int64_t period_start_ms;
};

enum inv_kind { INV_NOT_JSON, INV_NO_CALL_ID, INV_BAD_NUMBER, INV_TS_STRING, INV_BAD_TYPE, INV_N };
static const char *const inv_names[] = {"not_json", "missing_call_id", "bad_number", "ts_string",
                                        "unknown_type"};
static const char *const inv_reasons[] = {"json_syntax", "missing_field:call_id", "bad_number:to",
                                          "bad_field:ts", "bad_type"};

struct invalid {
    int kind;
    int acc;
    int64_t ts;
    uint64_t index;
    char id[48];
};

struct stats {
    uint64_t written, start, end, sms, invalid, cut;
};

struct sink;

struct sim {
    const struct options *opt;
    char tag[9]; /* run hash, part of every id */
    int64_t end_ts;
    struct account *acc;
    int nacc;
    struct scen scen[MAX_SCENARIOS];
    int nscen;
    struct invalid *inv;
    struct item *heap;
    size_t hlen, hcap;
    uint64_t seq;
    uint64_t calls;
    int64_t last_ts;
    bool oom;
    struct stats st;
};

/* ---- heap of pending items, ordered by (ts, seq) ---- */

static bool item_before(const struct item *a, const struct item *b)
{
    return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}

static void push(struct sim *s, struct item *it)
{
    if (s->hlen == s->hcap) {
        size_t cap = s->hcap ? s->hcap * 2 : 1024;
        struct item *h = realloc(s->heap, cap * sizeof *h);
        if (h == NULL) {
            s->oom = true;
            return;
        }
        s->heap = h;
        s->hcap = cap;
    }
    it->seq = s->seq++;
    size_t i = s->hlen++;
    while (i > 0 && item_before(it, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = *it;
}

static void pop(struct sim *s, struct item *out)
{
    *out = s->heap[0];
    struct item last = s->heap[--s->hlen];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->hlen)
            break;
        if (c + 1 < s->hlen && item_before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!item_before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->hlen > 0)
        s->heap[i] = last;
}

/* ---- building calls and SMS ---- */

struct call {
    int acc, scen, dev;
    bool in, answered;
    int64_t ts;      /* answer time, or dial time of an attempt */
    int64_t dur_s;   /* answered: billable seconds */
    int64_t ring_ms; /* attempt: ringing until hang-up */
    uint32_t ip;
    const char *from, *to;
};

/* Queues a call's events (start and end, or an unanswered attempt's end alone). Returns
 * the ts of its first event, when a detector first sees the call. */
static int64_t add_call(struct sim *s, const struct call *c)
{
    struct item it = {0};
    it.in = c->in;
    it.dev = (int16_t)c->dev;
    it.scen = (int16_t)c->scen;
    it.acc = c->acc;
    it.ip = c->ip;
    it.call_no = ++s->calls;
    snprintf(it.from, sizeof it.from, "%s", c->from);
    snprintf(it.to, sizeof it.to, "%s", c->to);
    if (!c->answered) {
        it.kind = IT_CALL_END;
        it.ts = c->ts + c->ring_ms;
        it.answered = false;
        push(s, &it);
        return it.ts;
    }
    it.kind = IT_CALL_START;
    it.ts = c->ts;
    it.answered = true;
    push(s, &it);
    it.kind = IT_CALL_END;
    it.ts = c->ts + c->dur_s * SEC_MS;
    it.duration = (uint32_t)c->dur_s;
    push(s, &it);
    return c->ts;
}

static void add_sms(struct sim *s, int acc, int scen, int64_t ts, const char *from, const char *to,
                    int segments, uint64_t hash)
{
    struct item it = {0};
    it.kind = IT_SMS;
    it.ts = ts;
    it.dev = -1;
    it.scen = (int16_t)scen;
    it.acc = acc;
    it.segments = (uint8_t)segments;
    it.hash = hash;
    snprintf(it.from, sizeof it.from, "%s", from);
    snprintf(it.to, sizeof it.to, "%s", to);
    push(s, &it);
}

/* Reserves one of the account's background call slots for [t, end); false when busy. */
static bool take_slot(struct account *a, int64_t t, int64_t end)
{
    int slots = a->prof == PROF_CONSUMER ? 1 : MAX_PAR;
    for (int i = 0; i < slots; i++) {
        if (a->busy_until[i] <= t) {
            a->busy_until[i] = end;
            return true;
        }
    }
    return false;
}

/* ---- background accounts ---- */

/* Activity by local hour, 0..1, weekday and weekend. */
static const double w_consumer[2][24] = {
    {0.10, 0.04, 0.02, 0.01, 0.01, 0.02, 0.08, 0.25, 0.45, 0.55, 0.60, 0.65,
     0.70, 0.65, 0.60, 0.60, 0.70, 0.85, 1.00, 1.00, 0.95, 0.80, 0.50, 0.25},
    {0.15, 0.08, 0.04, 0.02, 0.01, 0.01, 0.03, 0.10, 0.30, 0.55, 0.70, 0.75,
     0.80, 0.75, 0.70, 0.70, 0.75, 0.85, 0.95, 1.00, 0.95, 0.80, 0.55, 0.30},
};
static const double w_business[2][24] = {
    {0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.03, 0.15, 0.60, 1.00, 1.00, 0.95,
     0.55, 0.85, 1.00, 0.95, 0.85, 0.45, 0.15, 0.06, 0.04, 0.03, 0.02, 0.01},
    {0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.04, 0.06, 0.08, 0.08,
     0.06, 0.06, 0.06, 0.05, 0.04, 0.03, 0.02, 0.02, 0.01, 0.01, 0.01, 0.01},
};

static double activity_weight(enum profile p, int64_t ts)
{
    struct local lt;
    local_time(ts, &lt);
    const double(*w)[24] = p == PROF_CONSUMER ? w_consumer : w_business;
    int we = !lt.weekday, h = (int)lt.hour;
    double f = lt.hour - h;
    return w[we][h] * (1.0 - f) + w[we][(h + 1) % 24] * f;
}

static void random_nl(struct rng *r, char *out)
{
    if (rng_unit(r) < 0.55)
        GEN(r, nl_mobile, out);
    else
        GEN(r, nl_fixed, out);
}

static void account_init(struct account *a, const char *id, enum profile p, uint64_t seed)
{
    struct rng *r = &a->rng;
    memset(a, 0, sizeof *a);
    snprintf(a->id, sizeof a->id, "%s", id);
    a->prof = p;
    rng_seed(r, seed, id, 0x6163636f756e74ULL);
    /* Customers signal from the shared address space 100.64.0.0/10 (RFC 6598). */
    a->ip = (100u << 24) | (uint32_t)rng_range(r, 64, 127) << 16 |
            (uint32_t)rng_below(r, 256) << 8 | (uint32_t)rng_range(r, 1, 254);
    GEN(r, nl_mobile, a->mobile);
    switch (p) {
    case PROF_CONSUMER:
        if (rng_unit(r) < 0.55)
            snprintf(a->home, sizeof a->home, "%s", a->mobile);
        else
            GEN(r, nl_fixed, a->home);
        a->ndev = rng_unit(r) < 0.6 ? 2 : 1;
        a->sms_habit = rng_unit(r) < 0.8;
        a->rate_out = 0.7;
        a->rate_in = 0.4;
        a->rate_sms = a->sms_habit ? 0.6 : 0.0;
        a->ncontacts = (int)rng_range(r, 3, MAX_CONTACTS);
        for (int i = 0; i < a->ncontacts; i++) {
            double u = rng_unit(r);
            if (u < 0.06)
                GEN(r, intl_ordinary, a->contacts[i]);
            else if (u < 0.80)
                GEN(r, nl_mobile, a->contacts[i]);
            else
                GEN(r, nl_fixed, a->contacts[i]);
        }
        break;
    case PROF_BUSINESS:
        if (rng_unit(r) < 0.6)
            GEN(r, nl_fixed, a->home);
        else
            GEN(r, nl_voip, a->home);
        a->ndev = 2;
        a->reminders = rng_unit(r) < 0.2;
        a->rate_out = 6.0;
        a->rate_in = 4.0;
        a->rate_sms = a->reminders ? 3.0 : 0.0;
        a->ncontacts = (int)rng_range(r, 4, MAX_CONTACTS);
        for (int i = 0; i < a->ncontacts; i++) {
            double u = rng_unit(r);
            if (u < 0.08)
                GEN(r, intl_ordinary, a->contacts[i]);
            else
                random_nl(r, a->contacts[i]);
        }
        break;
    case PROF_CALLCENTER:
        GEN(r, nl_company, a->home);
        a->ndev = 1;
        a->cc_lines = (int)rng_range(r, 8, 14);
        break;
    }
}

static const char *device_name(const struct account *a, int dev)
{
    static const char *const names[3][2] = {
        {"desk", "app"}, {"trunk1", "softphone"}, {"trunk1", "trunk1"}};
    return names[a->prof][dev & 1];
}

static int64_t call_duration(struct rng *r, enum profile p, bool intl)
{
    if (p == PROF_CONSUMER)
        return rng_lognormal(r, intl ? 420.0 : 150.0, 1.0, 4, 5400);
    return rng_lognormal(r, intl ? 300.0 : 170.0, 0.9, 5, 3600);
}

static void act_call_out(struct sim *s, int ai, int64_t t)
{
    struct account *a = &s->acc[ai];
    struct rng *r = &a->rng;
    char to[NUM_LEN];
    bool premium = false;
    double prem_share = a->prof == PROF_CONSUMER ? 0.012 : 0.004;

    if (a->premium_calls < PREMIUM_MAX && rng_unit(r) < prem_share) {
        premium = true;
        /* A handful of well-known helpdesks rather than random 0900 numbers. */
        struct rng h = {.s = (uint64_t)rng_below(r, 6)};
        GEN(&h, nl_helpdesk, to);
    } else if (a->ncontacts > 0 && rng_unit(r) < (a->prof == PROF_CONSUMER ? 0.7 : 0.4)) {
        snprintf(to, sizeof to, "%s", a->contacts[rng_below(r, (uint64_t)a->ncontacts)]);
    } else if (rng_unit(r) < (a->prof == PROF_CONSUMER ? 0.02 : 0.04)) {
        GEN(r, intl_ordinary, to);
    } else {
        random_nl(r, to);
    }
    bool intl = strncmp(to, "+31", 3) != 0;
    struct call c = {.acc = ai, .scen = -1, .ts = t, .from = a->home, .to = to, .ip = 0};
    c.dev = (int)rng_below(r, (uint64_t)a->ndev);
    c.answered = rng_unit(r) < 0.86;
    c.dur_s = premium ? rng_lognormal(r, 300.0, 0.6, 30, 1500) : call_duration(r, a->prof, intl);
    c.ring_ms = rng_range(r, 6000, 35000);
    if (!take_slot(a, t, c.answered ? t + c.dur_s * SEC_MS : t + c.ring_ms))
        return;
    if (premium)
        a->premium_calls++;
    add_call(s, &c);
}

static void act_call_in(struct sim *s, int ai, int64_t t)
{
    struct account *a = &s->acc[ai];
    struct rng *r = &a->rng;
    char from[NUM_LEN];

    if (a->ncontacts > 0 && rng_unit(r) < 0.5)
        snprintf(from, sizeof from, "%s", a->contacts[rng_below(r, (uint64_t)a->ncontacts)]);
    else
        random_nl(r, from);
    struct call c = {.acc = ai, .scen = -1, .in = true, .ts = t, .from = from, .to = a->home};
    c.dev = (int)rng_below(r, (uint64_t)a->ndev);
    c.answered = rng_unit(r) < 0.8;
    c.dur_s = call_duration(r, a->prof, strncmp(from, "+31", 3) != 0);
    c.ring_ms = rng_range(r, 8000, 30000);
    if (!take_slot(a, t, c.answered ? t + c.dur_s * SEC_MS : t + c.ring_ms))
        return;
    add_call(s, &c);
}

/* A consumer's short exchange: one to three SMS to one person. */
static void act_sms(struct sim *s, int ai, int64_t t)
{
    struct account *a = &s->acc[ai];
    struct rng *r = &a->rng;
    char to[NUM_LEN];

    if (a->ncontacts > 0 && rng_unit(r) < 0.8)
        snprintf(to, sizeof to, "%s", a->contacts[rng_below(r, (uint64_t)a->ncontacts)]);
    else
        GEN(r, nl_mobile, to);
    int n = (int)rng_range(r, 1, 3);
    for (int i = 0; i < n; i++) {
        double u = rng_unit(r);
        int seg = u < 0.85 ? 1 : u < 0.97 ? 2 : 3;
        add_sms(s, ai, -1, t, a->mobile, to, seg, rng_next(r));
        t += rng_range(r, 15000, 180000);
    }
}

/* A business's batch of personalised appointment reminders (distinct texts). */
static void act_reminders(struct sim *s, int ai, int64_t t)
{
    struct account *a = &s->acc[ai];
    struct rng *r = &a->rng;
    char to[NUM_LEN];
    int n = (int)rng_range(r, 2, 5);

    /* At most one batch per 10 minutes keeps any 15 minutes far below bulk_sms warnings. */
    if (t < a->batch_after)
        return;
    a->batch_after = t + 10 * MIN_MS;
    for (int i = 0; i < n; i++) {
        GEN(r, nl_mobile, to);
        add_sms(s, ai, -1, t, a->mobile, to, rng_unit(r) < 0.8 ? 1 : 2, rng_next(r));
        t += rng_range(r, 1000, 6000);
    }
}

static void schedule_activity(struct sim *s, int ai, int64_t after)
{
    struct account *a = &s->acc[ai];
    double per_hour = a->rate_out + a->rate_in + a->rate_sms;
    struct item it = {0};

    it.ts = after + (int64_t)rng_exp(&a->rng, (double)HOUR_MS / per_hour) + 1;
    if (it.ts >= s->end_ts)
        return;
    it.kind = IT_GEN_ACT;
    it.acc = ai;
    it.scen = -1;
    push(s, &it);
}

/* Poisson activity thinned by the diurnal weight. */
static void gen_activity(struct sim *s, const struct item *g)
{
    struct account *a = &s->acc[g->acc];
    struct rng *r = &a->rng;

    if (rng_unit(r) < activity_weight(a->prof, g->ts)) {
        double x = rng_unit(r) * (a->rate_out + a->rate_in + a->rate_sms);
        if (x < a->rate_out)
            act_call_out(s, g->acc, g->ts);
        else if (x < a->rate_out + a->rate_in)
            act_call_in(s, g->acc, g->ts);
        else if (a->prof == PROF_CONSUMER)
            act_sms(s, g->acc, g->ts);
        else
            act_reminders(s, g->acc, g->ts);
    }
    schedule_activity(s, g->acc, g->ts);
}

static void push_line(struct sim *s, int acc, int line, int scen, int64_t ts)
{
    struct item it = {0};
    if (ts >= s->end_ts)
        return;
    it.kind = IT_GEN_LINE;
    it.ts = ts;
    it.acc = acc;
    it.aux = line;
    it.scen = (int16_t)scen;
    push(s, &it);
}

/* One call-centre line: back-to-back outbound calls to NL/BE/DE/FR/GB in office hours. */
static void gen_line(struct sim *s, const struct item *g)
{
    struct account *a = &s->acc[g->acc];
    struct rng *r = g->scen >= 0 ? &s->scen[g->scen].rng : &a->rng;
    bool busy = g->scen >= 0;
    struct local lt;
    char to[NUM_LEN];

    local_time(g->ts, &lt);
    if (!office_hours(&lt)) {
        push_line(s, g->acc, g->aux, g->scen, next_office_open(g->ts) + rng_range(r, 0, 600000));
        return;
    }
    if (rng_unit(r) < 0.85)
        random_nl(r, to);
    else
        GEN(r, intl_callcenter, to);
    struct call c = {.acc = g->acc, .scen = g->scen, .dev = 0, .ts = g->ts, .from = a->home};
    c.to = to;
    c.answered = rng_unit(r) < (busy ? 0.85 : 0.8);
    c.dur_s = rng_lognormal(r, busy ? 240.0 : 200.0, 0.6, 10, 1800);
    c.ring_ms = rng_range(r, 8000, 30000);
    add_call(s, &c);
    int64_t next = g->ts + (c.answered ? c.dur_s * SEC_MS : c.ring_ms);
    next += busy ? rng_range(r, 5000, 25000) : rng_range(r, 10000, 60000);
    if (!busy && rng_unit(r) < 0.05)
        next += rng_range(r, 5 * MIN_MS, 15 * MIN_MS); /* a break */
    push_line(s, g->acc, g->aux, g->scen, next);
}

/* ---- scenarios ---- */

static int64_t kth_smallest(int64_t *v, int n, int k) /* k is 1-based; sorts v */
{
    for (int i = 1; i < n; i++) {
        int64_t x = v[i];
        int j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
    return v[k - 1];
}

static uint32_t attacker_ip(struct rng *r)
{
    /* TEST-NET-3 (RFC 5737): plainly not a customer's own address. */
    return (203u << 24) | (0u << 16) | (113u << 8) | (uint32_t)rng_range(r, 1, 254);
}

/* Hacked PBX: 12 parallel calls to high-risk ranges a few seconds apart, 20-40 min each;
 * the pattern completes at the 8th simultaneous call. */
static void plan_toll_concurrent(struct sim *s, struct scen *sc)
{
    struct account *a = &s->acc[sc->acc];
    struct rng *r = &sc->rng;
    uint32_t ip = attacker_ip(r);
    int64_t t = sc->t0;
    char to[NUM_LEN];

    for (int k = 0; k < 12; k++) {
        if (k > 0)
            t += rng_range(r, 2000, 7000);
        GEN(r, high_risk, to);
        struct call c = {.acc = sc->acc,
                         .scen = (int)(sc - s->scen),
                         .dev = 0,
                         .answered = true,
                         .ts = t,
                         .dur_s = rng_range(r, 1200, 2400),
                         .ip = ip,
                         .from = a->home,
                         .to = to};
        add_call(s, &c);
        if (k == 7)
            sc->complete_ts = t;
    }
}

/* 25 short calls to high-risk ranges in about 10 minutes, at most 3 open at once. */
static void plan_toll_velocity(struct sim *s, struct scen *sc)
{
    struct account *a = &s->acc[sc->acc];
    struct rng *r = &sc->rng;
    uint32_t ip = attacker_ip(r);
    int64_t t = sc->t0, first[25];
    char to[NUM_LEN];

    for (int k = 0; k < 25; k++) {
        if (k > 0)
            t += rng_range(r, 15000, 33000);
        GEN(r, high_risk_cheap, to);
        struct call c = {.acc = sc->acc,
                         .scen = (int)(sc - s->scen),
                         .dev = 0,
                         .ts = t,
                         .ip = ip,
                         .from = a->home,
                         .to = to};
        c.answered = rng_unit(r) < 0.8;
        c.dur_s = rng_range(r, 10, 45);
        c.ring_ms = rng_range(r, 8000, 25000);
        first[k] = add_call(s, &c);
    }
    sc->complete_ts = kth_smallest(first, 25, 20);
}

/* Range scanning: 12 calls within 5 minutes to numbers differing in the last 2 digits. */
static void plan_toll_scan(struct sim *s, struct scen *sc)
{
    struct account *a = &s->acc[sc->acc];
    struct rng *r = &sc->rng;
    uint32_t ip = attacker_ip(r);
    int64_t t = sc->t0, first[12];
    char base[NUM_LEN], to[NUM_LEN + 12]; /* room the compiler can prove for any int */
    int last = (int)rng_range(r, 0, 87);

    GEN(r, high_risk_cheap, base);
    base[strlen(base) - 2] = '\0';
    for (int k = 0; k < 12; k++) {
        if (k > 0)
            t += rng_range(r, 12000, 26000);
        snprintf(to, sizeof to, "%s%02d", base, last + k);
        struct call c = {.acc = sc->acc,
                         .scen = (int)(sc - s->scen),
                         .dev = 0,
                         .ts = t,
                         .ip = ip,
                         .from = a->home,
                         .to = to};
        c.answered = rng_unit(r) < 0.3;
        c.dur_s = rng_range(r, 3, 20);
        c.ring_ms = rng_range(r, 5000, 15000);
        first[k] = add_call(s, &c);
    }
    sc->complete_ts = kth_smallest(first, 12, 10);
}

/* 400 SMS in 10 minutes from one number to distinct recipients, 90% one text. The rule
 * that completes first (of 300 SMS, 100 recipients, 50 same texts) is the expected one. */
static void plan_sms_blast(struct sim *s, struct scen *sc)
{
    struct account *a = &s->acc[sc->acc];
    struct rng *r = &sc->rng;
    enum { N = 400 };
    char to[N][NUM_LEN];
    uint64_t h0 = rng_next(r), alt[3] = {rng_next(r), rng_next(r), rng_next(r)};
    int64_t t = sc->t0, t_same = -1, t_distinct = -1, t_count = -1;
    int same = 0;

    for (int k = 0; k < N; k++) {
        bool dup;
        do {
            GEN(r, nl_mobile, to[k]);
            dup = strcmp(to[k], a->mobile) == 0;
            for (int j = 0; j < k && !dup; j++)
                dup = strcmp(to[j], to[k]) == 0;
        } while (dup);
        if (k > 0)
            t += rng_range(r, 700, 2300);
        bool main_text = rng_unit(r) < 0.9;
        add_sms(s, sc->acc, (int)(sc - s->scen), t, a->mobile, to[k], 1,
                main_text ? h0 : alt[rng_below(r, 3)]);
        if (main_text && ++same == 50)
            t_same = t;
        if (k + 1 == 100)
            t_distinct = t;
        if (k + 1 == 300)
            t_count = t;
    }
    sc->complete_ts = t_same;
    sc->rule = "bulk_sms.same_body";
    if (t_distinct < sc->complete_ts) {
        sc->complete_ts = t_distinct;
        sc->rule = "bulk_sms.distinct_recipients";
    }
    if (t_count < sc->complete_ts) {
        sc->complete_ts = t_count;
        sc->rule = "bulk_sms.rate";
    }
}

/* One call left open for 9 hours; critical at the 8-hour mark. */
static void plan_baby_monitor(struct sim *s, struct scen *sc)
{
    struct account *a = &s->acc[sc->acc];
    struct rng *r = &sc->rng;
    char to[NUM_LEN];

    GEN(r, nl_mobile, to);
    struct call c = {.acc = sc->acc,
                     .scen = (int)(sc - s->scen),
                     .dev = 0,
                     .answered = true,
                     .ts = sc->t0,
                     .dur_s = 9 * 3600,
                     .from = a->home,
                     .to = to};
    add_call(s, &c);
    sc->complete_ts = sc->t0 + 8 * HOUR_MS;
}

/* 25 calls to Dutch premium numbers within 40 minutes (short: the minutes rule stays far). */
static void plan_premium_out(struct sim *s, struct scen *sc)
{
    struct account *a = &s->acc[sc->acc];
    struct rng *r = &sc->rng;
    char nums[3][NUM_LEN];
    int64_t t = sc->t0, first[25];

    for (int i = 0; i < 3; i++)
        GEN(r, nl_premium, nums[i]);
    for (int k = 0; k < 25; k++) {
        if (k > 0)
            t += rng_range(r, 60000, 125000);
        struct call c = {.acc = sc->acc,
                         .scen = (int)(sc - s->scen),
                         .ts = t,
                         .from = a->home,
                         .to = nums[rng_below(r, 3)]};
        c.dev = (int)rng_below(r, (uint64_t)a->ndev);
        c.answered = rng_unit(r) < 0.9;
        c.dur_s = rng_range(r, 30, 100);
        c.ring_ms = rng_range(r, 5000, 20000);
        first[k] = add_call(s, &c);
    }
    sc->complete_ts = kth_smallest(first, 25, 20);
}

/* Inbound pumping: 120 calls from 40 callers to the account's service number in 50 min;
 * the first 40 calls cover every caller, so the 100th call completes the pattern. */
static void plan_pumping(struct sim *s, struct scen *sc)
{
    struct rng *r = &sc->rng;
    enum { CALLERS = 40, CALLS = 120 };
    char callers[CALLERS][NUM_LEN], service[NUM_LEN];
    int order[CALLERS];
    int64_t t = sc->t0;

    GEN(r, nl_helpdesk, service);
    for (int i = 0; i < CALLERS; i++) {
        if (rng_unit(r) < 0.7)
            GEN(r, nl_mobile, callers[i]);
        else
            GEN(r, intl_callcenter, callers[i]);
        order[i] = i;
    }
    for (int i = CALLERS - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint64_t)i + 1), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    for (int k = 0; k < CALLS; k++) {
        if (k > 0)
            t += rng_range(r, 15000, 34000);
        int who = k < CALLERS ? order[k] : (int)rng_below(r, CALLERS);
        struct call c = {.acc = sc->acc,
                         .scen = (int)(sc - s->scen),
                         .dev = -1,
                         .in = true,
                         .answered = true,
                         .ts = t,
                         .dur_s = rng_range(r, 120, 480),
                         .from = callers[who],
                         .to = service};
        add_call(s, &c);
        if (k + 1 == 100)
            sc->complete_ts = t;
    }
}

/* A business calling Morocco (+2126, EUR 0.35 a minute in data/numbering.tsv: no
 * high-risk destination, and at EUR 21 an hour far under toll_fraud's spend levels) one
 * 40-minute call after another against a EUR 50 credit limit whose period started at the
 * scenario's start: the limit is reached 22 min 51 s into the fourth call, while it is open. */
#define CREDIT_RATE_EUR_MIN 0.35
#define CREDIT_LIMIT_EUR 50.0
static const struct numrange morocco_mobile[] = {{"+2126", 8, "0123456789", 1}};
static void plan_credit_limit(struct sim *s, struct scen *sc)
{
    struct account *a = &s->acc[sc->acc];
    struct rng *r = &sc->rng;
    char to[NUM_LEN];
    int64_t t = sc->t0;
    double spent = 0;

    sc->credit_limit_eur = CREDIT_LIMIT_EUR;
    sc->period_start_ms = sc->t0 - HOUR_MS;
    for (int k = 0; k < 6; k++) {
        GEN(r, morocco_mobile, to);
        struct call c = {.acc = sc->acc,
                         .scen = (int)(sc - s->scen),
                         .dev = 0,
                         .answered = true,
                         .ts = t,
                         .dur_s = 2400,
                         .from = a->home,
                         .to = to};
        add_call(s, &c);
        double cost = CREDIT_RATE_EUR_MIN * 40.0;
        if (sc->complete_ts < 0 && spent + cost >= CREDIT_LIMIT_EUR)
            sc->complete_ts =
                t + (int64_t)((CREDIT_LIMIT_EUR - spent) / CREDIT_RATE_EUR_MIN * MIN_MS) + 1;
        spent += cost;
        t += 2400 * SEC_MS + rng_range(r, 2 * MIN_MS, 4 * MIN_MS);
    }
}

/* A call centre with 25 lines busy through office hours: legitimate. */
static void plan_callcenter_busy(struct sim *s, struct scen *sc)
{
    for (int line = 0; line < CC_BUSY_LINES; line++)
        push_line(s, sc->acc, line, (int)(sc - s->scen), sc->t0 + rng_range(&sc->rng, 0, 60000));
}

/* An hour-long call to family in Morocco or Turkey: legitimate. */
static void plan_family_abroad(struct sim *s, struct scen *sc)
{
    struct account *a = &s->acc[sc->acc];
    struct rng *r = &sc->rng;
    char to[NUM_LEN];

    GEN(r, intl_family, to);
    struct call c = {.acc = sc->acc,
                     .scen = (int)(sc - s->scen),
                     .dev = 0,
                     .answered = true,
                     .ts = sc->t0,
                     .dur_s = rng_range(r, 3300, 4200),
                     .from = a->home,
                     .to = to};
    add_call(s, &c);
}

/* A business calling the USA and India through the day, one call at a time: legitimate. */
static void plan_business_intl(struct sim *s, struct scen *sc)
{
    struct account *a = &s->acc[sc->acc];
    struct rng *r = &sc->rng;
    char to[NUM_LEN];
    int64_t t = sc->t0;

    for (int k = 0; k < 16; k++) {
        GEN(r, intl_business_far, to);
        struct call c = {.acc = sc->acc,
                         .scen = (int)(sc - s->scen),
                         .dev = 0,
                         .ts = t,
                         .from = a->home,
                         .to = to};
        c.answered = rng_unit(r) < 0.85;
        c.dur_s = rng_lognormal(r, 420.0, 0.7, 30, 2700);
        c.ring_ms = rng_range(r, 10000, 30000);
        add_call(s, &c);
        t += (c.answered ? c.dur_s * SEC_MS : c.ring_ms) + rng_range(r, 2 * MIN_MS, 12 * MIN_MS);
    }
}

/* Expected rule names follow detectors/toll_fraud.c (toll_fraud.concurrent_high_risk); the
 * others name rules that detection.md requires and are to be kept in step with their
 * detectors as those are written. */
static const struct scen_def scen_defs[] = {
    {"toll_concurrent", "fraud-toll", PROF_BUSINESS, "toll_fraud",
     "toll_fraud.concurrent_high_risk", "block_international", 120000, plan_toll_concurrent,
     "hacked PBX: 12 parallel calls to +53/+881/+252... 20-40 min each", "interim_invoice"},
    {"toll_velocity", "fraud-velocity", PROF_BUSINESS, "toll_fraud",
     "toll_fraud.velocity_high_risk", "block_international", 120000, plan_toll_velocity,
     "25 short calls to high-risk ranges in 10 min", "interim_invoice"},
    {"toll_scan", "fraud-scan", PROF_BUSINESS, "toll_fraud", "toll_fraud.sequential_dialling",
     "block_international", 120000, plan_toll_scan,
     "12 calls in 5 min to numbers differing in the last 2 digits", "interim_invoice"},
    {"sms_blast", "fraud-sms", PROF_CONSUMER, "bulk_sms", "bulk_sms.same_body", "block_sms", 60000,
     plan_sms_blast, "400 SMS in 10 min from one number, mostly one text", NULL},
    {"baby_monitor", "fraud-monitor", PROF_CONSUMER, "continuous", "continuous.single_call",
     "suspend", 300000, plan_baby_monitor, "one call open for 9 h (critical at 8 h)", NULL},
    {"premium_out", "fraud-premium", PROF_CONSUMER, "premium", "premium.outbound", "block_premium",
     120000, plan_premium_out, "25 calls to +31900/906/909 in 40 min", "interim_invoice"},
    {"pumping", "fraud-pump", PROF_BUSINESS, "premium", "premium.inbound_pumping",
     "withhold_payout", 120000, plan_pumping,
     "120 inbound calls from 40 callers to a 0900 service number in 50 min", "interim_invoice"},
    {"credit_limit", "over-credit", PROF_BUSINESS, "credit", "credit.limit", "suspend", 120000,
     plan_credit_limit,
     "40-min calls to Morocco one after another past a EUR 50 credit limit (billing sets it)", NULL},
    {"interim_invoice", "fraud-interim", PROF_BUSINESS, "credit", "credit.interim_invoice",
     "interim_invoice", 120000, plan_toll_concurrent,
     "hacked PBX as toll_concurrent: billing is asked for an interim invoice with the block",
     "block_international"},
    {"callcenter_busy", "legit-callcenter", PROF_CALLCENTER, NULL, NULL, NULL, 0,
     plan_callcenter_busy, "legit: 25 lines busy to NL/BE/DE/FR/GB through office hours", NULL},
    {"family_abroad", "legit-family", PROF_CONSUMER, NULL, NULL, NULL, 0, plan_family_abroad,
     "legit: a 1-hour call to +212 or +90", NULL},
    {"business_intl", "legit-business", PROF_BUSINESS, NULL, NULL, NULL, 0, plan_business_intl,
     "legit: 16 calls to the USA and India, one at a time", NULL},
};

/* ---- setup ---- */

static int find_account(const struct sim *s, const char *id)
{
    for (int i = 0; i < s->nacc; i++)
        if (strcmp(s->acc[i].id, id) == 0)
            return i;
    return -1;
}

static void sim_destroy(struct sim *s)
{
    if (s == NULL)
        return;
    free(s->acc);
    free(s->inv);
    free(s->heap);
    free(s);
}

static struct sim *sim_create(const struct options *o)
{
    struct sim *s = calloc(1, sizeof *s);
    char id[VIGIL_ACCOUNT_MAX + 1];
    int counters[NR(scen_defs)] = {0};
    uint64_t h = VIGIL_FNV_OFFSET;

    if (s == NULL)
        return NULL;
    s->opt = o;
    s->end_ts = o->start_ms + (int64_t)o->duration_min * MIN_MS;
    s->last_ts = INT64_MIN;
    /* The run hash goes into every id: runs with other flags never reuse an event id. */
    h = vigil_fnv1a(h, &o->seed, sizeof o->seed);
    h = vigil_fnv1a(h, &o->start_ms, sizeof o->start_ms);
    h = vigil_fnv1a(h, &o->duration_min, sizeof o->duration_min);
    h = vigil_fnv1a(h, &o->accounts, sizeof o->accounts);
    h = vigil_fnv1a(h, &o->invalid, sizeof o->invalid);
    for (int i = 0; i < o->nscen; i++) {
        h = vigil_fnv1a(h, scen_defs[o->scen[i].def].name, strlen(scen_defs[o->scen[i].def].name));
        h = vigil_fnv1a(h, &o->scen[i].minute, sizeof o->scen[i].minute);
        h = vigil_fnv1a(h, o->scen[i].account, strlen(o->scen[i].account));
    }
    snprintf(s->tag, sizeof s->tag, "%08" PRIx32, (uint32_t)(h ^ (h >> 32)));

    s->acc = calloc((size_t)o->accounts + (size_t)o->nscen + 1, sizeof *s->acc);
    s->inv = calloc((size_t)o->invalid + 1, sizeof *s->inv);
    if (s->acc == NULL || s->inv == NULL)
        goto fail;

    /* Background: ~72% consumers, the rest businesses, one or two call centres. */
    for (int i = 0; i < o->accounts; i++) {
        struct rng r;
        snprintf(id, sizeof id, "acc-%05d", i + 1);
        rng_seed(&r, o->seed, id, 0x70726f66ULL);
        enum profile p = rng_unit(&r) < 0.72 ? PROF_CONSUMER : PROF_BUSINESS;
        if ((o->accounts >= 10 && i == 6) || (o->accounts >= 100 && i == o->accounts / 2 + 2))
            p = PROF_CALLCENTER;
        account_init(&s->acc[i], id, p, o->seed);
        s->acc[i].background = true;
    }
    s->nacc = o->accounts;
    for (int i = 0; i < s->nacc; i++) {
        struct account *a = &s->acc[i];
        if (a->prof == PROF_CALLCENTER) {
            for (int line = 0; line < a->cc_lines; line++)
                push_line(s, i, line, -1, o->start_ms + rng_range(&a->rng, 0, 120000));
        } else {
            schedule_activity(s, i, o->start_ms);
        }
    }

    for (int i = 0; i < o->nscen; i++) {
        const struct scen_spec *sp = &o->scen[i];
        const struct scen_def *d = &scen_defs[sp->def];
        struct scen *sc = &s->scen[i];
        if (sp->account[0] != '\0')
            snprintf(id, sizeof id, "%s", sp->account);
        else
            snprintf(id, sizeof id, "%s-%d", d->acc_prefix, ++counters[sp->def]);
        sc->acc = find_account(s, id);
        if (sc->acc < 0) {
            sc->acc = s->nacc++;
            account_init(&s->acc[sc->acc], id, d->prof, o->seed);
        }
        sc->def = d;
        sc->minute = sp->minute;
        sc->rule = d->rule;
        sc->complete_ts = -1;
        sc->first_ts = sc->last_ts = -1;
        rng_seed(&sc->rng, o->seed, id, 0x7363656eULL ^ ((uint64_t)i << 32) ^ (uint64_t)sp->minute);
        sc->t0 = o->start_ms + (int64_t)sp->minute * MIN_MS + rng_range(&sc->rng, 0, 999);
        d->plan(s, sc);
    }
    s->nscen = o->nscen;

    /* Malformed messages, spread over the window, each kind in turn. */
    for (int i = 0; i < o->invalid; i++) {
        struct rng r;
        struct item it = {0};
        rng_seed(&r, o->seed, "invalid", (uint64_t)i);
        s->inv[i].kind = i % INV_N;
        s->inv[i].acc = s->nacc > 0 ? (int)rng_below(&r, (uint64_t)s->nacc) : -1;
        s->inv[i].ts = o->start_ms + (int64_t)rng_below(&r, (uint64_t)(s->end_ts - o->start_ms));
        it.kind = IT_INVALID;
        it.ts = s->inv[i].ts;
        it.acc = s->inv[i].acc;
        it.aux = i;
        it.scen = -1;
        it.hash = rng_next(&r);
        push(s, &it);
    }
    if (s->oom)
        goto fail;
    return s;
fail:
    sim_destroy(s);
    return NULL;
}

/* ---- output ---- */

enum sink_kind { SINK_COUNT, SINK_FILE, SINK_KAFKA };

struct sink {
    enum sink_kind kind;
    FILE *f;
    const char *name;
    rd_kafka_t *rk;
    const char *topic;
    uint64_t total, sent, delivered, failed;
    char err[256];
    double rate;
    bool progress;
    int64_t t_begin_ns, t_progress_ns;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct sink *k = opaque;
    (void)rk;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        k->delivered++;
        return;
    }
    if (k->failed++ == 0)
        snprintf(k->err, sizeof k->err, "%s", rd_kafka_err2str(m->err));
}

/* The configuration --config and --set describe (NULL after one line on stderr). */
static struct vigil_config *load_config(const struct options *o)
{
    struct vigil_config *cfg = vigil_config_create();
    if (cfg == NULL) {
        fprintf(stderr, "vigil-sim: out of memory\n");
        return NULL;
    }
    if (o->config != NULL && vigil_config_load_file(cfg, o->config) != 0)
        goto fail;
    for (int i = 0; i < o->nsets; i++) {
        char key[256];
        const char *eq = strchr(o->sets[i], '=');
        snprintf(key, sizeof key, "%.*s", (int)(eq - o->sets[i]), o->sets[i]);
        if (vigil_config_set(cfg, key, eq + 1, "--set") != 0)
            goto fail;
    }
    return cfg;
fail:
    fprintf(stderr, "vigil-sim: %s\n", vigil_config_errstr(cfg));
    vigil_config_destroy(cfg);
    return NULL;
}

static int sink_open_kafka(struct sink *k, const struct options *o)
{
    char errstr[512];
    const char *const defaults[] = {
        "client.id", "vigil-sim",
        "linger.ms", "20",
        "batch.num.messages", "10000",
        "queue.buffering.max.messages", "200000",
        "message.timeout.ms", "30000",
        NULL,
    };
    /* Idempotence keeps each partition in produce order across retries. */
    const char *const owned[] = {"bootstrap.servers", o->brokers, "enable.idempotence", "true",
                                 NULL};
    struct vigil_config *cfg = load_config(o);
    if (cfg == NULL)
        return -1;
    rd_kafka_conf_t *conf = vigil_kafka_conf_create(cfg, defaults, owned, errstr, sizeof errstr);
    vigil_config_destroy(cfg);
    if (conf == NULL) {
        fprintf(stderr, "vigil-sim: kafka: %s\n", errstr);
        return -1;
    }
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (k->rk == NULL) {
        fprintf(stderr, "vigil-sim: kafka: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    /* Fail fast with one line when the brokers cannot be reached at all. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(k->rk, 0, NULL, &md, 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "vigil-sim: kafka: cannot reach brokers %s: %s\n", o->brokers,
                rd_kafka_err2str(err));
        rd_kafka_destroy(k->rk);
        k->rk = NULL;
        return -1;
    }
    rd_kafka_metadata_destroy(md);
    k->topic = o->topic;
    k->name = o->topic;
    return 0;
}

static void sink_progress(struct sink *k, bool final)
{
    int64_t now = now_ns();
    if (!k->progress || (!final && now - k->t_progress_ns < 1000000000LL))
        return;
    k->t_progress_ns = now;
    fprintf(stderr, "vigil-sim: %" PRIu64 "/%" PRIu64 " events (%d%%)\n", k->sent, k->total,
            k->total ? (int)(k->sent * 100 / k->total) : 100);
}

static int sink_write(struct sink *k, const char *key, const char *val, size_t len)
{
    if (k->kind == SINK_FILE) {
        if (fwrite(val, 1, len, k->f) != len || fputc('\n', k->f) == EOF) {
            fprintf(stderr, "vigil-sim: writing %s: %s\n", k->name, strerror(errno));
            return -1;
        }
    } else if (k->kind == SINK_KAFKA) {
        for (;;) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                k->rk, RD_KAFKA_V_TOPIC(k->topic), RD_KAFKA_V_KEY(key, strlen(key)),
                RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "vigil-sim: kafka: produce to %s: %s\n", k->topic,
                        rd_kafka_err2str(err));
                return -1;
            }
            rd_kafka_poll(k->rk, 50); /* queue full: let deliveries drain */
        }
        if ((k->sent & 1023) == 0)
            rd_kafka_poll(k->rk, 0);
        if (k->failed > 0) {
            fprintf(stderr, "vigil-sim: kafka: delivery failed: %s\n", k->err);
            return -1;
        }
    }
    k->sent++;
    if (k->kind == SINK_COUNT)
        return 0;
    if (k->rate > 0) {
        int64_t due = k->t_begin_ns + (int64_t)((double)k->sent * 1e9 / k->rate);
        int64_t wait = due - now_ns();
        if (wait > 0) {
            struct timespec ts = {.tv_sec = wait / 1000000000LL, .tv_nsec = wait % 1000000000LL};
            nanosleep(&ts, NULL);
        }
    }
    if ((k->sent & 255) == 0)
        sink_progress(k, false);
    return 0;
}

/* Flushes and closes; returns 0, or -1 when events were lost. */
static int sink_close(struct sink *k)
{
    int rc = 0;
    if (k->kind == SINK_FILE && k->f != NULL) {
        if (fflush(k->f) != 0 || ferror(k->f)) {
            fprintf(stderr, "vigil-sim: writing %s: %s\n", k->name, strerror(errno));
            rc = -1;
        }
        if (k->f != stdout && fclose(k->f) != 0)
            rc = -1;
        k->f = NULL;
    } else if (k->kind == SINK_KAFKA && k->rk != NULL) {
        rd_kafka_flush(k->rk, 60000);
        int left = rd_kafka_outq_len(k->rk);
        if (left > 0) {
            fprintf(stderr, "vigil-sim: kafka: %d events not delivered after 60 s\n", left);
            rc = -1;
        }
        if (k->failed > 0) {
            fprintf(stderr, "vigil-sim: kafka: %" PRIu64 " events failed: %s\n", k->failed, k->err);
            rc = -1;
        }
        rd_kafka_destroy(k->rk);
        k->rk = NULL;
    }
    return rc;
}

/* ---- writing events ---- */

static const char *acc_id(const struct sim *s, int acc)
{
    return acc >= 0 ? s->acc[acc].id : "acc-invalid";
}

static size_t format_invalid(struct sim *s, const struct item *it, const char *id, char *buf,
                             size_t cap)
{
    const char *acc = acc_id(s, it->acc);
    const char *from = it->acc >= 0 ? s->acc[it->acc].mobile : "+31612345678";
    long long ts = (long long)it->ts;
    unsigned long long h = (unsigned long long)it->hash;
    int n = 0;

    switch (s->inv[it->aux].kind) {
    case INV_NOT_JSON: /* cut off mid-value, as a broken exporter would */
        n = snprintf(buf, cap,
                     "{\"v\":1,\"type\":\"sms\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
                     "\"from\":\"%s\",\"to\":\"+3161",
                     id, ts, acc, from);
        break;
    case INV_NO_CALL_ID:
        n = snprintf(buf, cap,
                     "{\"v\":1,\"type\":\"call_start\",\"id\":\"%s\",\"ts\":%lld,\"account\":"
                     "\"%s\",\"from\":\"%s\",\"to\":\"+31201234567\",\"dir\":\"out\"}",
                     id, ts, acc, from);
        break;
    case INV_BAD_NUMBER:
        n = snprintf(buf, cap,
                     "{\"v\":1,\"type\":\"sms\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
                     "\"from\":\"%s\",\"to\":\"abc\",\"segments\":1,\"body_hash\":\"%016llx\"}",
                     id, ts, acc, from, h);
        break;
    case INV_TS_STRING:
        n = snprintf(buf, cap,
                     "{\"v\":1,\"type\":\"sms\",\"id\":\"%s\",\"ts\":\"%lld\",\"account\":\"%s\","
                     "\"from\":\"%s\",\"to\":\"+31687654321\",\"segments\":1,"
                     "\"body_hash\":\"%016llx\"}",
                     id, ts, acc, from, h);
        break;
    default:
        n = snprintf(buf, cap,
                     "{\"v\":1,\"type\":\"mms\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
                     "\"from\":\"%s\",\"to\":\"+31687654321\"}",
                     id, ts, acc, from);
        break;
    }
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

static size_t format_event(struct sim *s, const struct item *it, const char *id, char *buf,
                           size_t cap)
{
    static const char *const types[] = {"call_start", "call_end", "sms"};
    const struct account *a = &s->acc[it->acc];
    struct vigil_jbuf b;
    char tmp[VIGIL_DEVICE_MAX + 1];

    vigil_jbuf_init(&b, buf, cap);
    vigil_jbuf_open(&b, '{');
    vigil_jbuf_key(&b, "v");
    vigil_jbuf_int(&b, 1);
    vigil_jbuf_key(&b, "type");
    vigil_jbuf_cstr(&b, types[it->kind]);
    vigil_jbuf_key(&b, "id");
    vigil_jbuf_cstr(&b, id);
    vigil_jbuf_key(&b, "ts");
    vigil_jbuf_int(&b, it->ts);
    vigil_jbuf_key(&b, "account");
    vigil_jbuf_cstr(&b, a->id);
    if (it->kind != IT_SMS) {
        snprintf(tmp, sizeof tmp, "c-%s-%" PRIu64, s->tag, it->call_no);
        vigil_jbuf_key(&b, "call_id");
        vigil_jbuf_cstr(&b, tmp);
    }
    vigil_jbuf_key(&b, "from");
    vigil_jbuf_cstr(&b, it->from);
    vigil_jbuf_key(&b, "to");
    vigil_jbuf_cstr(&b, it->to);
    if (it->kind == IT_SMS) {
        snprintf(tmp, sizeof tmp, "%016" PRIx64, it->hash);
        vigil_jbuf_key(&b, "segments");
        vigil_jbuf_int(&b, it->segments);
        vigil_jbuf_key(&b, "body_hash");
        vigil_jbuf_cstr(&b, tmp);
    } else {
        vigil_jbuf_key(&b, "dir");
        vigil_jbuf_cstr(&b, it->in ? "in" : "out");
        if (it->dev >= 0) {
            uint32_t ip = it->ip ? it->ip : a->ip;
            snprintf(tmp, sizeof tmp, "%s/%s", a->id, device_name(a, it->dev));
            vigil_jbuf_key(&b, "device");
            vigil_jbuf_cstr(&b, tmp);
            snprintf(tmp, sizeof tmp, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
                     ip & 255);
            vigil_jbuf_key(&b, "src_ip");
            vigil_jbuf_cstr(&b, tmp);
        }
        if (it->kind == IT_CALL_END) {
            vigil_jbuf_key(&b, "duration");
            vigil_jbuf_int(&b, it->duration);
            if (!it->answered) {
                vigil_jbuf_key(&b, "answered");
                vigil_jbuf_bool(&b, false);
            }
        }
    }
    vigil_jbuf_close(&b, '}');
    return b.overflow ? 0 : b.len;
}

static int emit(struct sim *s, struct sink *k, const struct item *it)
{
    char buf[EVENT_BUF], id[48];
    size_t len;

    snprintf(id, sizeof id, "e-%s-%" PRIu64, s->tag, s->st.written);
    if (it->kind == IT_INVALID) {
        struct invalid *inv = &s->inv[it->aux];
        len = format_invalid(s, it, id, buf, sizeof buf);
        inv->index = s->st.written;
        snprintf(inv->id, sizeof inv->id, "%s", id);
        s->st.invalid++;
    } else {
        len = format_event(s, it, id, buf, sizeof buf);
        s->st.start += it->kind == IT_CALL_START;
        s->st.end += it->kind == IT_CALL_END;
        s->st.sms += it->kind == IT_SMS;
    }
    if (len == 0) {
        fprintf(stderr, "vigil-sim: internal error: event %s does not fit\n", id);
        return -1;
    }
    if (it->scen >= 0) {
        struct scen *sc = &s->scen[it->scen];
        if (sc->events++ == 0)
            sc->first_ts = it->ts;
        sc->last_ts = it->ts;
    }
    s->st.written++;
    return sink_write(k, acc_id(s, it->acc), buf, len);
}

/* Runs the simulation to the end of the window; returns 0 or -1 when the sink failed. */
static int sim_run(struct sim *s, struct sink *k)
{
    struct item it;

    while (s->hlen > 0) {
        pop(s, &it);
        if (it.ts >= s->end_ts) {
            s->st.cut += it.kind <= IT_INVALID;
            continue;
        }
        /* The heap only ever receives items at or after the one being handled. */
        if (it.ts < s->last_ts) {
            fprintf(stderr, "vigil-sim: internal error: time went back at %" PRId64 "\n", it.ts);
            return -1;
        }
        s->last_ts = it.ts;
        if (it.kind == IT_GEN_ACT)
            gen_activity(s, &it);
        else if (it.kind == IT_GEN_LINE)
            gen_line(s, &it);
        else if (emit(s, k, &it) != 0)
            return -1;
        if (s->oom) {
            fprintf(stderr, "vigil-sim: out of memory\n");
            return -1;
        }
    }
    return 0;
}

/* ---- ground truth ---- */

static int cmp_invalid(const void *a, const void *b)
{
    const struct invalid *x = a, *y = b;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Writes the ground truth after a run; sorts s->inv, so the run must be over. */
static int write_truth(struct sim *s, const char *path)
{
    FILE *f = fopen(path, "w");
    char buf[1024];
    struct vigil_jbuf b;

    if (f == NULL) {
        fprintf(stderr, "vigil-sim: --truth %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (int i = 0; i < s->nscen; i++) {
        const struct scen *sc = &s->scen[i];
        const struct scen_def *d = sc->def;
        vigil_jbuf_init(&b, buf, sizeof buf);
        vigil_jbuf_open(&b, '{');
        vigil_jbuf_key(&b, "scenario");
        vigil_jbuf_cstr(&b, d->name);
        vigil_jbuf_key(&b, "account");
        vigil_jbuf_cstr(&b, s->acc[sc->acc].id);
        vigil_jbuf_key(&b, "profile");
        vigil_jbuf_cstr(&b, prof_names[s->acc[sc->acc].prof]);
        vigil_jbuf_key(&b, "minute");
        vigil_jbuf_int(&b, sc->minute);
        vigil_jbuf_key(&b, "start_ts");
        vigil_jbuf_int(&b, sc->first_ts >= 0 ? sc->first_ts : sc->t0);
        vigil_jbuf_key(&b, "complete_ts");
        if (sc->complete_ts >= 0)
            vigil_jbuf_int(&b, sc->complete_ts);
        else
            vigil_jbuf_num(&b, NAN); /* null */
        vigil_jbuf_key(&b, "expect");
        if (d->detector != NULL) {
            vigil_jbuf_open(&b, '{');
            vigil_jbuf_key(&b, "detector");
            vigil_jbuf_cstr(&b, d->detector);
            vigil_jbuf_key(&b, "rule");
            vigil_jbuf_cstr(&b, sc->rule);
            vigil_jbuf_key(&b, "action");
            vigil_jbuf_cstr(&b, d->action);
            if (d->also) {
                vigil_jbuf_key(&b, "also");
                vigil_jbuf_cstr(&b, d->also);
            }
            vigil_jbuf_close(&b, '}');
            vigil_jbuf_key(&b, "deadline_ms");
            vigil_jbuf_int(&b, d->deadline_ms);
        } else {
            vigil_jbuf_num(&b, NAN);
            vigil_jbuf_key(&b, "deadline_ms");
            vigil_jbuf_num(&b, NAN);
        }
        if (sc->credit_limit_eur > 0) {
            /* For whoever plays billing: HSET <prefix>credit ACCOUNT "LIMIT START". */
            vigil_jbuf_key(&b, "billing");
            vigil_jbuf_open(&b, '{');
            vigil_jbuf_key(&b, "credit_limit_eur");
            vigil_jbuf_num(&b, sc->credit_limit_eur);
            vigil_jbuf_key(&b, "period_start_ms");
            vigil_jbuf_int(&b, sc->period_start_ms);
            vigil_jbuf_close(&b, '}');
        }
        /* False when the window ends before the pattern completes (e.g. baby_monitor
         * needs --duration past minute + 8 h). */
        vigil_jbuf_key(&b, "in_window");
        vigil_jbuf_bool(&b, sc->complete_ts < 0 || sc->complete_ts < s->end_ts);
        vigil_jbuf_key(&b, "events");
        vigil_jbuf_int(&b, (int64_t)sc->events);
        vigil_jbuf_key(&b, "last_ts");
        if (sc->events > 0)
            vigil_jbuf_int(&b, sc->last_ts);
        else
            vigil_jbuf_num(&b, NAN);
        vigil_jbuf_close(&b, '}');
        fprintf(f, "%s\n", buf);
    }
    /* Invalid events in output order. */
    qsort(s->inv, (size_t)s->opt->invalid, sizeof *s->inv, cmp_invalid);
    for (int i = 0; i < s->opt->invalid; i++) {
        const struct invalid *inv = &s->inv[i];
        vigil_jbuf_init(&b, buf, sizeof buf);
        vigil_jbuf_open(&b, '{');
        vigil_jbuf_key(&b, "invalid");
        vigil_jbuf_cstr(&b, inv_names[inv->kind]);
        vigil_jbuf_key(&b, "reason");
        vigil_jbuf_cstr(&b, inv_reasons[inv->kind]);
        vigil_jbuf_key(&b, "account");
        vigil_jbuf_cstr(&b, acc_id(s, inv->acc));
        vigil_jbuf_key(&b, "id");
        vigil_jbuf_cstr(&b, inv->id);
        vigil_jbuf_key(&b, "ts");
        vigil_jbuf_int(&b, inv->ts);
        vigil_jbuf_key(&b, "index");
        vigil_jbuf_int(&b, (int64_t)inv->index);
        vigil_jbuf_close(&b, '}');
        fprintf(f, "%s\n", buf);
    }
    if (fflush(f) != 0 || ferror(f)) {
        fprintf(stderr, "vigil-sim: --truth %s: %s\n", path, strerror(errno));
        fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- command line ---- */

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: vigil-sim [OPTIONS]\n"
            "Generate seeded, reproducible call and SMS events (wire format v1) with background\n"
            "traffic and injected scenarios, in event-time order. Same flags, same bytes.\n"
            "\n"
            "Output:\n"
            "  --out PATH             write JSON lines to PATH, '-' for stdout (default)\n"
            "  --brokers LIST         produce to Kafka instead (bootstrap servers), keyed by\n"
            "                         account; progress on stderr about every second\n"
            "  --topic NAME           Kafka topic (default vigil.events)\n"
            "  --rate EV_PER_S        pace writing to this many events per second (default: as\n"
            "                         fast as possible)\n"
            "  --truth FILE           write the ground truth as JSON lines: one per scenario\n"
            "                         (expected detector/rule/action, complete_ts, deadline_ms;\n"
            "                         expect null for legitimate traffic), one per invalid\n"
            "                         event (its expected dead-letter reason and index)\n"
            "  --quiet                no progress and no summary on stderr\n"
            "  --config FILE          vigil configuration file, for its librdkafka.* keys\n"
            "                         (security.protocol, sasl.*, ssl.*: see the README)\n"
            "  --set KEY=VALUE        one configuration key, e.g.\n"
            "                         --set librdkafka.security.protocol=SASL_SSL (repeatable)\n"
            "\n"
            "Traffic:\n"
            "  --start MS|ISO         event time of the start, Unix ms or YYYY-MM-DDTHH:MM:SSZ\n"
            "                         (default %lld = 2026-11-02T08:00:00Z, Monday 09:00\n"
            "                         Amsterdam)\n"
            "  --duration MIN         minutes of event time (default 120, max %d); events due\n"
            "                         later are not written (calls stay open)\n"
            "  --accounts N           background accounts acc-00001.. (default 200, max %d):\n"
            "                         ~72%% consumer, business, 1-2 callcenter\n"
            "  --seed N               random seed (default 1)\n"
            "  --scenario NAME@MINUTE[:ACCOUNT]\n"
            "                         inject a scenario MINUTE minutes after --start\n"
            "                         (repeatable, up to %d). ACCOUNT defaults to a new account\n"
            "                         such as fraud-toll-1; naming a background account\n"
            "                         (acc-00042) injects into its traffic\n"
            "  --invalid N            mix in N malformed messages (not JSON, missing call_id,\n"
            "                         to:\"abc\", ts as a string, unknown type), in turn\n"
            "  -h, --help             show this help and exit\n"
            "      --version          print the version and the commit it was built from\n"
            "\n"
            "Scenarios:\n",
            (long long)DEFAULT_START_MS, MAX_DURATION_MIN, MAX_ACCOUNTS, MAX_SCENARIOS);
    for (size_t i = 0; i < NR(scen_defs); i++)
        fprintf(out, "  %-16s %s\n", scen_defs[i].name, scen_defs[i].doc);
    fprintf(out, "\nExit status: 0 done, 1 output or Kafka failure, 2 bad usage.\n");
}

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long v;

    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    int64_t v;
    if (parse_i64(s, lo, hi, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

/* Unix milliseconds, or YYYY-MM-DDTHH:MM[:SS]Z. */
static int parse_start(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec = 0, n = 0;

    if (parse_i64(s, VIGIL_TS_MIN_MS, 253402300799999LL, out) == 0)
        return 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 &&
        sscanf(s, "%4d-%2d-%2dT%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &n) != 5)
        return -1;
    if (s[n] != '\0' || y < 2000 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 59 || h < 0 || mi < 0 || sec < 0)
        return -1;
    *out = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * MIN_MS + sec * SEC_MS;
    return 0;
}

static bool valid_account(const char *s, size_t n)
{
    if (n == 0 || n > VIGIL_ACCOUNT_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

/* "NAME@MINUTE[:ACCOUNT]"; on failure *why says what was wrong. */
static int parse_scenario(const char *arg, struct scen_spec *sp, const char **why)
{
    const char *at = strchr(arg, '@');
    char num[16];

    *why = "expected NAME@MINUTE[:ACCOUNT]";
    if (at == NULL)
        return -1;
    sp->def = -1;
    for (size_t i = 0; i < NR(scen_defs); i++)
        if (strlen(scen_defs[i].name) == (size_t)(at - arg) &&
            strncmp(scen_defs[i].name, arg, (size_t)(at - arg)) == 0)
            sp->def = (int)i;
    if (sp->def < 0) {
        *why = "unknown scenario name (see --help)";
        return -1;
    }
    const char *colon = strchr(at + 1, ':');
    size_t nlen = colon ? (size_t)(colon - at - 1) : strlen(at + 1);
    if (nlen == 0 || nlen >= sizeof num)
        return -1;
    memcpy(num, at + 1, nlen);
    num[nlen] = '\0';
    if (parse_int(num, 0, MAX_DURATION_MIN, &sp->minute) != 0) {
        *why = "MINUTE must be a whole number of minutes from 0";
        return -1;
    }
    sp->account[0] = '\0';
    if (colon != NULL) {
        if (!valid_account(colon + 1, strlen(colon + 1))) {
            *why = "ACCOUNT must be 1..64 characters of [A-Za-z0-9._:-]";
            return -1;
        }
        snprintf(sp->account, sizeof sp->account, "%s", colon + 1);
    }
    return 0;
}

static const char *const value_flags[] = {"--out",      "--brokers",  "--topic",    "--truth",
                                          "--start",    "--duration", "--accounts", "--seed",
                                          "--scenario", "--invalid",  "--rate", "--config", "--set"};

/* Returns 0, 1 for --help, 2 for --version, or -1 after one line on stderr. */
static int parse_args(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    o->out = "-";
    o->topic = "vigil.events";
    o->start_ms = DEFAULT_START_MS;
    o->duration_min = 120;
    o->accounts = 200;
    o->seed = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL, *eq, *why;
        char flag[32];
        bool takes_value = false;
        int64_t v;

        if (strncmp(a, "--", 2) == 0 && (eq = strchr(a, '=')) != NULL &&
            (size_t)(eq - a) < sizeof flag) {
            memcpy(flag, a, (size_t)(eq - a));
            flag[eq - a] = '\0';
            a = flag;
            val = eq + 1;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        if (strcmp(a, "--version") == 0 && val == NULL)
            return 2;
        if (strcmp(a, "--quiet") == 0 && val == NULL) {
            o->quiet = true;
            continue;
        }
        for (size_t f = 0; f < NR(value_flags); f++)
            takes_value |= strcmp(a, value_flags[f]) == 0;
        if (!takes_value) {
            fprintf(stderr, "vigil-sim: unknown option '%s' (see --help)\n", argv[i]);
            return -1;
        }
        if (val == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "vigil-sim: option '%s' needs a value (see --help)\n", a);
                return -1;
            }
            val = argv[++i];
        }

        if (strcmp(a, "--out") == 0) {
            if (*val == '\0') {
                fprintf(stderr, "vigil-sim: --out: expected a path or '-'\n");
                return -1;
            }
            o->out = val;
            o->out_set = true;
        } else if (strcmp(a, "--brokers") == 0) {
            if (*val == '\0') {
                fprintf(stderr, "vigil-sim: --brokers: expected HOST:PORT[,HOST:PORT...]\n");
                return -1;
            }
            o->brokers = val;
        } else if (strcmp(a, "--topic") == 0) {
            if (*val == '\0' || strlen(val) > 249) {
                fprintf(stderr, "vigil-sim: --topic: expected a topic name\n");
                return -1;
            }
            o->topic = val;
        } else if (strcmp(a, "--truth") == 0) {
            o->truth = val;
        } else if (strcmp(a, "--start") == 0) {
            if (parse_start(val, &o->start_ms) != 0) {
                fprintf(stderr,
                        "vigil-sim: --start '%s': expected Unix milliseconds after 2000 "
                        "or YYYY-MM-DDTHH:MM:SSZ\n",
                        val);
                return -1;
            }
        } else if (strcmp(a, "--duration") == 0) {
            if (parse_int(val, 1, MAX_DURATION_MIN, &o->duration_min) != 0) {
                fprintf(stderr, "vigil-sim: --duration '%s': expected minutes, 1 to %d\n", val,
                        MAX_DURATION_MIN);
                return -1;
            }
        } else if (strcmp(a, "--accounts") == 0) {
            if (parse_int(val, 0, MAX_ACCOUNTS, &o->accounts) != 0) {
                fprintf(stderr, "vigil-sim: --accounts '%s': expected 0 to %d\n", val,
                        MAX_ACCOUNTS);
                return -1;
            }
        } else if (strcmp(a, "--seed") == 0) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(val, &end, 10);
            if (*val == '\0' || *val == '-' || *end != '\0' || errno != 0) {
                fprintf(stderr, "vigil-sim: --seed '%s': expected a non-negative integer\n", val);
                return -1;
            }
            o->seed = s;
        } else if (strcmp(a, "--scenario") == 0) {
            if (o->nscen == MAX_SCENARIOS) {
                fprintf(stderr, "vigil-sim: --scenario: at most %d scenarios\n", MAX_SCENARIOS);
                return -1;
            }
            if (parse_scenario(val, &o->scen[o->nscen], &why) != 0) {
                fprintf(stderr, "vigil-sim: --scenario '%s': %s\n", val, why);
                return -1;
            }
            o->nscen++;
        } else if (strcmp(a, "--config") == 0) {
            o->config = val;
        } else if (strcmp(a, "--set") == 0) {
            if (o->nsets == MAX_SETS || strchr(val, '=') == NULL || *val == '=') {
                fprintf(stderr, "vigil-sim: --set '%s': expected KEY=VALUE (at most %d)\n", val,
                        MAX_SETS);
                return -1;
            }
            o->sets[o->nsets++] = val;
        } else if (strcmp(a, "--invalid") == 0) {
            if (parse_i64(val, 0, MAX_INVALID, &v) != 0) {
                fprintf(stderr, "vigil-sim: --invalid '%s': expected 0 to %d\n", val, MAX_INVALID);
                return -1;
            }
            o->invalid = (int)v;
        } else if (strcmp(a, "--rate") == 0) {
            char *end;
            errno = 0;
            o->rate = strtod(val, &end);
            if (*val == '\0' || *end != '\0' || errno != 0 || !(o->rate > 0) || o->rate > 1e9) {
                fprintf(stderr, "vigil-sim: --rate '%s': expected events per second > 0\n", val);
                return -1;
            }
        }
    }
    if (o->brokers != NULL && o->out_set) {
        fprintf(stderr, "vigil-sim: --out and --brokers exclude each other\n");
        return -1;
    }
    for (int i = 0; i < o->nscen; i++) {
        if (o->scen[i].minute >= o->duration_min) {
            fprintf(stderr, "vigil-sim: --scenario %s@%d: minute is past --duration %d\n",
                    scen_defs[o->scen[i].def].name, o->scen[i].minute, o->duration_min);
            return -1;
        }
    }
    return 0;
}

static void summary(const struct sim *s, const struct sink *k)
{
    const struct stats *st = &s->st;
    fprintf(stderr,
            "vigil-sim: %" PRIu64 " events written to %s: call_start %" PRIu64 ", call_end %" PRIu64
            ", sms %" PRIu64 ", invalid %" PRIu64 "\n",
            st->written, k->kind == SINK_KAFKA ? k->topic : k->name, st->start, st->end, st->sms,
            st->invalid);
    fprintf(stderr,
            "vigil-sim: %d accounts (%d background), seed %" PRIu64 ", %d min from %" PRId64
            "; %" PRIu64 " events due after the window not written\n",
            s->nacc, s->opt->accounts, s->opt->seed, s->opt->duration_min, s->opt->start_ms,
            st->cut);
    for (int i = 0; i < s->nscen; i++) {
        const struct scen *sc = &s->scen[i];
        fprintf(stderr, "vigil-sim: scenario %s@%d %s: %" PRIu64 " events", sc->def->name,
                sc->minute, s->acc[sc->acc].id, sc->events);
        if (sc->complete_ts >= 0)
            fprintf(stderr, ", completes at %" PRId64 " (+%" PRId64 " s)%s", sc->complete_ts,
                    (int64_t)((sc->complete_ts - sc->t0) / SEC_MS),
                    sc->complete_ts < s->end_ts ? "" : " AFTER the window");
        else
            fprintf(stderr, ", legitimate");
        fputc('\n', stderr);
    }
}

int main(int argc, char **argv)
{
    struct options o;
    struct sink count = {.kind = SINK_COUNT, .name = "nowhere"};
    struct sink out = {.kind = SINK_FILE};
    struct sim *s;
    int rc = parse_args(argc, argv, &o);

    if (rc != 0) {
        if (rc == 1)
            usage(stdout);
        if (rc == 2)
            vigil_print_version("vigil-sim");
        return rc > 0 ? 0 : EXIT_USAGE;
    }

    /* Pass 1: count, and learn what the ground truth needs (indexes, ids, end times). */
    s = sim_create(&o);
    if (s == NULL || sim_run(s, &count) != 0) {
        fprintf(stderr, "vigil-sim: out of memory\n");
        sim_destroy(s);
        return 1;
    }
    if (o.truth != NULL && write_truth(s, o.truth) != 0) {
        sim_destroy(s);
        return 1;
    }
    sim_destroy(s);

    /* Pass 2: the same run, written. */
    if (o.brokers != NULL) {
        out.kind = SINK_KAFKA;
        if (sink_open_kafka(&out, &o) != 0)
            return 1;
    } else if (strcmp(o.out, "-") == 0) {
        out.f = stdout;
        out.name = "stdout";
    } else {
        out.f = fopen(o.out, "w");
        out.name = o.out;
        if (out.f == NULL) {
            fprintf(stderr, "vigil-sim: --out %s: %s\n", o.out, strerror(errno));
            return 1;
        }
    }
    if (out.f != NULL)
        setvbuf(out.f, NULL, _IOFBF, 1 << 20);
    out.total = count.sent;
    out.rate = o.rate;
    out.progress = !o.quiet && count.sent > PROGRESS_MIN;
    out.t_begin_ns = out.t_progress_ns = now_ns();

    s = sim_create(&o);
    if (s == NULL) {
        fprintf(stderr, "vigil-sim: out of memory\n");
        sink_close(&out);
        return 1;
    }
    rc = sim_run(s, &out);
    if (sink_close(&out) != 0)
        rc = -1;
    if (rc == 0 && out.total > PROGRESS_MIN && out.t_progress_ns != out.t_begin_ns)
        sink_progress(&out, true);
    if (!o.quiet)
        summary(s, &out);
    sim_destroy(s);
    return rc == 0 ? 0 : 1;
}

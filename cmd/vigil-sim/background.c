/* SPDX-License-Identifier: Apache-2.0 */
/* background.c - vigil-sim: background accounts (consumers, businesses, call centres)
 * with a diurnal rhythm, shaped to stay clear of every rule at default thresholds.
 *
 * Threading: single-threaded, like the whole program. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

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

void account_init(struct account *a, const char *id, enum profile p, uint64_t seed)
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

const char *device_name(const struct account *a, int dev)
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

void schedule_activity(struct sim *s, int ai, int64_t after)
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
void gen_activity(struct sim *s, const struct item *g)
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

void push_line(struct sim *s, int acc, int line, int scen, int64_t ts)
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
void gen_line(struct sim *s, const struct item *g)
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

/* SPDX-License-Identifier: Apache-2.0 */
/* scenarios.c - vigil-sim: the named scenarios: each one's generator (plan_*) and the
 * table of them with the detector, rule and action the ground truth expects.
 *
 * Threading: single-threaded, like the whole program. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

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
const struct scen_def scen_defs[] = {
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
     "40-min calls to Morocco one after another past a EUR 50 credit limit (billing sets it)",
     NULL},
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

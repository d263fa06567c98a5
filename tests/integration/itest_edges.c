/* SPDX-License-Identifier: Apache-2.0 */
/* itest_edges.c - every rule that can order, at the edge of its threshold and window,
 * through `vigilctl replay` (the real parser, clock and detectors, offline).
 *
 * One JSON-lines file holds, for each rule, an account whose pattern reaches exactly the
 * threshold exactly inside the window ("ex-<rule>": ordered by that rule at the completing
 * event, event_ts checked) and accounts whose pattern is the same stretched by one second, or
 * one short of the threshold sustained ("st-<rule>...": never ordered by anything, or, where
 * another rule rightly orders the same traffic, never by that rule). The
 * events are sorted by time, as a live stream would bring them, and replayed once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Monday 2026-11-02 10:00 Amsterdam: office hours, so the daytime thresholds apply. */
#define T0 1793610000000LL
#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define CUBA "+535123456" /* high-risk */

/* ---- the event file ---------------------------------------------------------------------- */

static struct harness_evfile file;
static unsigned next_id;

#define add(at, ...) harness_evfile_add(&file, (at), __VA_ARGS__)

/* An unanswered outbound attempt at ts, placed in the file among the events of time `at`
 * (later than ts: it arrives late). */
static void attempt_arriving(const char *acc, int64_t ts, const char *to, int64_t at)
{
    unsigned id = next_id++;
    add(at,
        "{\"v\":1,\"type\":\"call_end\",\"id\":\"e%u\",\"ts\":%lld,\"account\":\"%s\","
        "\"call_id\":\"c%u\",\"from\":\"+31201234567\",\"to\":\"%s\",\"dir\":\"out\","
        "\"duration\":0,\"answered\":false}",
        id, (long long)ts, acc, id, to);
}

/* An unanswered outbound attempt. */
static void attempt(const char *acc, int64_t ts, const char *to)
{
    attempt_arriving(acc, ts, to, ts);
}

static void call_start(const char *acc, const char *call_id, int64_t ts, const char *dir,
                       const char *from, const char *to)
{
    unsigned id = next_id++;
    add(ts,
        "{\"v\":1,\"type\":\"call_start\",\"id\":\"e%u\",\"ts\":%lld,\"account\":\"%s\","
        "\"call_id\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"dir\":\"%s\"}",
        id, (long long)ts, acc, call_id, from, to, dir);
}

/* A call_end; cost NULL: none (the rate table's estimate). */
static void call_end(const char *acc, const char *call_id, int64_t ts, const char *dir,
                     const char *from, const char *to, int secs, const char *cost)
{
    unsigned id = next_id++;
    char c[48] = "";
    if (cost)
        snprintf(c, sizeof c, ",\"cost\":%s", cost);
    add(ts,
        "{\"v\":1,\"type\":\"call_end\",\"id\":\"e%u\",\"ts\":%lld,\"account\":\"%s\","
        "\"call_id\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"dir\":\"%s\",\"duration\":%d%s}",
        id, (long long)ts, acc, call_id, from, to, dir, secs, c);
}

/* An outbound call_end without its start, with the exporter's cost. */
static void spend(const char *acc, int64_t ts, const char *to, int secs, const char *cost)
{
    char cid[32];
    snprintf(cid, sizeof cid, "s%u", next_id);
    call_end(acc, cid, ts, "out", "+31201234567", to, secs, cost);
}

static void sms(const char *acc, int64_t ts, const char *from, const char *to, const char *body)
{
    unsigned id = next_id++;
    char b[48] = "";
    if (body)
        snprintf(b, sizeof b, ",\"body_hash\":\"%s\"", body);
    add(ts,
        "{\"v\":1,\"type\":\"sms\",\"id\":\"e%u\",\"ts\":%lld,\"account\":\"%s\","
        "\"from\":\"%s\",\"to\":\"%s\"%s}",
        id, (long long)ts, acc, from, to, b);
}

/* ---- expectations ------------------------------------------------------------------------ */

struct want {
    const char *account, *rule;
    int64_t event_ts;
    bool seen;
};

static struct want wants[32];
static size_t n_wants;

static void want(const char *account, const char *rule, int64_t event_ts)
{
    assert_true(n_wants < sizeof wants / sizeof wants[0]);
    wants[n_wants++] = (struct want){account, rule, event_ts, false};
}

/* An "st-" account is never ordered at all, unless listed here with the one rule that must
 * not order it (its pattern is rightly ordered by another rule). */
struct never {
    const char *account, *rule;
};

static struct never nevers[16];
static size_t n_nevers;

static void never_by(const char *account, const char *rule)
{
    assert_true(n_nevers < sizeof nevers / sizeof nevers[0]);
    nevers[n_nevers++] = (struct never){account, rule};
}

static bool forbidden(const char *account, const char *rule)
{
    for (size_t i = 0; i < n_nevers; i++) {
        if (strcmp(nevers[i].account, account) == 0)
            return strcmp(nevers[i].rule, rule) == 0;
    }
    return strncmp(account, "st-", 3) == 0;
}

/* ---- the patterns, rule by rule ---------------------------------------------------------- */

static void toll_fraud_edges(void)
{
    char to[32], cid[32];
    /* concurrent_high_risk: 8 open at once; 7 open at every moment (each call ends 1 ms
     * before the next starts) for two hours: their spend is rightly ordered, never the
     * concurrency. */
    for (int i = 1; i <= 8; i++) {
        snprintf(to, sizeof to, "%s%d000", CUBA, i);
        snprintf(cid, sizeof cid, "cc%d", i);
        call_start("ex-conc", cid, T0 + i * 1000, "out", "+31201234567", to);
    }
    want("ex-conc", "toll_fraud.concurrent_high_risk", T0 + 8000);
    never_by("st-conc", "toll_fraud.concurrent_high_risk");
    for (int i = 1; i <= 7 * 5; i++) {
        int64_t t = T0 + (int64_t)((i - 1) % 7) * 1000 + (int64_t)((i - 1) / 7) * 20 * MIN;
        snprintf(to, sizeof to, "%s%d000", CUBA, i);
        snprintf(cid, sizeof cid, "c7-%d", i);
        if (i > 7) {
            char prev[32], pto[32];
            snprintf(prev, sizeof prev, "c7-%d", i - 7);
            snprintf(pto, sizeof pto, "%s%d000", CUBA, i - 7);
            call_end("st-conc", prev, t - 1, "out", "+31201234567", pto, 1200, "0.01");
        }
        call_start("st-conc", cid, t, "out", "+31201234567", to);
    }

    /* velocity_high_risk: 20 attempts, first and last exactly 15 minutes apart; the same
     * stretched to 15:01. */
    for (int i = 0; i < 20; i++) {
        snprintf(to, sizeof to, "%s%d000", CUBA, i);
        attempt("ex-vel", i == 19 ? T0 + 15 * MIN : T0 + (int64_t)i * 15 * MIN / 19, to);
        attempt("st-vel", T0 + (int64_t)i * (15 * MIN + 1000) / 19, to);
    }
    want("ex-vel", "toll_fraud.velocity_high_risk", T0 + 15 * MIN);

    /* spend_1h: four 15-minute calls back to back, EUR 100.01 in exactly an hour; the same
     * with the first call starting a second earlier (EUR 99.98 inside the hour); EUR 99.96
     * an hour in 10-minute calls for three hours. */
    for (int k = 1; k <= 4; k++) {
        snprintf(to, sizeof to, "+49305%02d0000", k);
        spend("ex-spend", T0 + k * 15 * MIN, to, 900, k == 4 ? "25.01" : "25");
        spend("st-spend", T0 + k * 15 * MIN, to, k == 1 ? 901 : 900, k == 4 ? "25.01" : "25");
    }
    want("ex-spend", "toll_fraud.spend_1h", T0 + 60 * MIN);
    for (int k = 1; k <= 18; k++) {
        snprintf(to, sizeof to, "+49306%02d0000", k);
        spend("st-spend-steady", T0 + k * 10 * MIN, to, 600, "16.66");
    }

    /* sequential_dialling: ten numbers of one block whose last digits are equal modulo 64,
     * first and last exactly 10 minutes apart; the same stretched to 10:01; nine distinct
     * numbers in every 10 minutes for three hours. */
    for (int k = 0; k < 10; k++) {
        snprintf(to, sizeof to, "+4930123%03d", k * 64);
        attempt("ex-seq", k == 9 ? T0 + 10 * MIN : T0 + (int64_t)k * MIN, to);
        attempt("st-seq", k == 9 ? T0 + 10 * MIN + 1000 : T0 + (int64_t)k * MIN, to);
    }
    want("ex-seq", "toll_fraud.sequential_dialling", T0 + 10 * MIN);
    for (int k = 0; k < 3 * 6 * 8; k++) {
        snprintf(to, sizeof to, "+4930124%03d", (k * 7) % 1000);
        attempt("st-seq9", T0 + (int64_t)k * 75000, to);
    }

    /* slow_high_risk: 30 attempts from a new account, first and last exactly 24 h apart;
     * the same stretched to 24 h and 1 s. */
    for (int i = 0; i < 30; i++) {
        snprintf(to, sizeof to, "%s%d000", "+88216", 100 + i);
        attempt("ex-slow", T0 + (int64_t)i * DAY / 29, to);
        attempt("st-slow", T0 + (int64_t)i * (DAY + 1000) / 29, to);
    }
    want("ex-slow", "toll_fraud.slow_high_risk", T0 + DAY);
}

static void bulk_sms_edges(void)
{
    char to[32];
    /* rate: 300 SMS to 20 people, first and last exactly 15 minutes apart; stretched to
     * 15:01. distinct_recipients: 100 numbers all ending in 000, likewise. same_body: 50
     * recipients of one text, likewise. */
    for (int k = 0; k < 300; k++) {
        int64_t t = k == 299 ? T0 + 15 * MIN : T0 + (int64_t)k * 3000;
        snprintf(to, sizeof to, "+316100000%02d", k % 20);
        sms("ex-rate", t, "+31611111111", to, NULL);
        sms("st-rate", k == 299 ? t + 1000 : t, "+31611111111", to, NULL);
    }
    want("ex-rate", "bulk_sms.rate", T0 + 15 * MIN);
    for (int k = 0; k < 100; k++) {
        int64_t t = k == 99 ? T0 + 15 * MIN : T0 + (int64_t)k * 9000;
        snprintf(to, sizeof to, "+3162%04d000", k);
        sms("ex-rcpt", t, "+31622222222", to, NULL);
        sms("st-rcpt", k == 99 ? t + 1000 : t, "+31622222222", to, NULL);
    }
    want("ex-rcpt", "bulk_sms.distinct_recipients", T0 + 15 * MIN);
    for (int k = 0; k < 50; k++) {
        int64_t t = k == 49 ? T0 + 15 * MIN : T0 + (int64_t)k * 18000;
        snprintf(to, sizeof to, "+3163%04d000", k);
        sms("ex-body", t, "+31633333333", to, "9f86d081884c7d65");
        sms("st-body", k == 49 ? t + 1000 : t, "+31633333333", to, "9f86d081884c7d65");
    }
    want("ex-body", "bulk_sms.same_body", T0 + 15 * MIN);
    /* 99 new recipients in every 15 minutes for two hours. */
    for (int k = 0; k < 8 * 98; k++) {
        snprintf(to, sizeof to, "+3164%04d000", k);
        sms("st-rcpt99", T0 + (int64_t)k * (15 * MIN / 98 + 1), "+31644444444", to, NULL);
    }
}

static void premium_edges(void)
{
    char from[32], cid[32];
    /* outbound: 20 premium attempts, first and last exactly an hour apart; stretched to
     * 60:01. Minutes: 35 then 25 minutes, the first beginning exactly an hour before the
     * second ends; stretched by a second. */
    for (int i = 0; i < 20; i++) {
        int64_t t = i == 19 ? T0 + 60 * MIN : T0 + (int64_t)i * 3 * MIN;
        attempt("ex-pout", t, "+319061234567");
        attempt("st-pout", i == 19 ? t + 1000 : t, "+319061234567");
    }
    want("ex-pout", "premium.outbound", T0 + 60 * MIN);
    snprintf(cid, sizeof cid, "pm1");
    call_end("ex-pmin", cid, T0 + 35 * MIN, "out", "+31201234567", "+319091234567", 2100, NULL);
    call_end("st-pmin", cid, T0 + 35 * MIN - 1000, "out", "+31201234567", "+319091234567", 2100,
             NULL);
    snprintf(cid, sizeof cid, "pm2");
    call_end("ex-pmin", cid, T0 + 60 * MIN, "out", "+31201234567", "+319091234567", 1500, NULL);
    call_end("st-pmin", cid, T0 + 60 * MIN, "out", "+31201234567", "+319091234567", 1500, NULL);
    want("ex-pmin", "premium.outbound", T0 + 60 * MIN);

    /* inbound_pumping: 100 calls from 30 callers to one 0900 number, first and last exactly
     * an hour apart; stretched to 60:01. */
    for (int k = 0; k < 100; k++) {
        int64_t t = k == 99 ? T0 + 60 * MIN : T0 + (int64_t)k * 36000;
        snprintf(from, sizeof from, "+3161%07d", k % 30);
        snprintf(cid, sizeof cid, "in%d", k);
        call_start("ex-pump", cid, t, "in", from, "+319001234567");
        call_start("st-pump", cid, k == 99 ? t + 1000 : t, "in", from, "+319001234567");
    }
    want("ex-pump", "premium.inbound_pumping", T0 + 60 * MIN);
    never_by("st-pump", "premium.inbound_pumping"); /* its calls stay open: single_call */

    /* inbound_flagged_callers: two accounts ordered at T0 (eight parallel calls to Cuba, each
     * from its own number), whose numbers then call a 0900 number an hour apart exactly;
     * stretched by a second. */
    static const char *const flagged[] = {"+31201110001", "+31201110002"};
    static const char *const who[] = {"fl-a", "fl-b"};
    for (int f = 0; f < 2; f++) {
        for (int i = 1; i <= 8; i++) {
            char to[32];
            snprintf(to, sizeof to, "%s%d000", CUBA, i);
            snprintf(cid, sizeof cid, "fl%d-%d", f, i);
            call_start(who[f], cid, T0 + f * 10000 + i * 100, "out", flagged[f], to);
        }
    }
    call_start("ex-flag", "fc1", T0 + 10 * MIN, "in", flagged[0], "+319001112222");
    call_start("ex-flag", "fc2", T0 + 70 * MIN, "in", flagged[1], "+319001112222");
    call_start("st-flag", "fc1", T0 + 10 * MIN, "in", flagged[0], "+319001113333");
    call_start("st-flag", "fc2", T0 + 70 * MIN + 1000, "in", flagged[1], "+319001113333");
    want("ex-flag", "premium.inbound_flagged_callers", T0 + 70 * MIN);
    never_by("st-flag", "premium.inbound_flagged_callers");
}

/* Levels above what the detectors keep for every account (32 velocity times, 128 inbound
 * call times per service number, 16 numbers per scanned range, 16 whole calls of spend and
 * of premium minutes, bulk_sms's former 4096 SMS times): service_popular's shipped 1000
 * calls, spend and premium minutes over 40 calls, and velocity 50, sequential_dialling 30 and
 * bulk_sms.rate 5000 set for the business profile (the replay's --set), exact as well. */
static void above_kept_edges(void)
{
    char to[32], from[32], cid[32];
    /* service_popular: 1000 calls from 30 callers, first and last exactly an hour apart;
     * stretched by a second; 999 in every closed hour (one every 3604 ms) for three hours. */
    for (int k = 0; k < 1000; k++) {
        snprintf(from, sizeof from, "+3161%07d", k % 30);
        snprintf(cid, sizeof cid, "pop%d", k);
        call_start("ex-pop", cid, T0 + (int64_t)k * HOUR / 999, "in", from, "+319005550000");
        call_start("st-pop", cid, T0 + (int64_t)k * (HOUR + 1000) / 999, "in", from,
                   "+319005550000");
    }
    want("ex-pop", "premium.inbound_pumping", T0 + 60 * MIN);

    /* premium.outbound minutes over forty closed calls (calls set to 100 for the callcenter
     * profile, so minutes decide), the hour starting mid-minute (S = T0 + 30 s) inside the
     * first call: call 0 runs [S - 30 s, S + 90 s], calls 1-39 90 s each back to back up to
     * S + 1 h: exactly 60 minutes, blocked at the last end; with a second's gap after call
     * 20, never; 90-second calls every 91 s for five hours, never. */
    const int64_t S2 = T0 + 30000;
    static const char *const pm40[] = {"ex-pmin40", "st-pmin40"};
    for (int a = 0; a < 2; a++) {
        call_end(pm40[a], "pmc0", S2 + 90000, "out", "+31201234567", "+319061234567", 120, "0.01");
        for (int k = 1; k <= 39; k++) {
            snprintf(cid, sizeof cid, "pmc%d", k);
            call_end(pm40[a], cid, S2 + 90000 + (int64_t)k * 90000 + (a == 1 && k > 20 ? 1000 : 0),
                     "out", "+31201234567", "+319061234567", 90, "0.01");
        }
    }
    want("ex-pmin40", "premium.outbound", S2 + HOUR);
    for (int k = 1; k <= 5 * 40; k++) {
        snprintf(cid, sizeof cid, "pmd%d", k);
        call_end("st-pmin91", cid, S2 + (int64_t)k * 91000, "out", "+31201234567", "+319061234567",
                 90, "0.01");
    }
    never_by("st-pop", "premium.inbound_pumping"); /* its calls stay open: single_call */
    for (int k = 0; k < 3 * 999; k++) {
        snprintf(from, sizeof from, "+3161%07d", k % 30);
        snprintf(cid, sizeof cid, "pop%d", k);
        call_start("st-pop999", cid, T0 + (int64_t)k * 3604, "in", from, "+319005550000");
    }
    never_by("st-pop999", "premium.inbound_pumping");

    /* velocity 50: 50 attempts, first and last exactly 15 minutes apart; stretched to 15:01
     * for four hours; 49 in every closed 15 minutes (one every 18,368 ms) for four hours. */
    for (int i = 0; i < 50; i++) {
        snprintf(to, sizeof to, "%s%d000", CUBA, i);
        attempt("ex-vel50", T0 + (int64_t)i * 15 * MIN / 49, to);
    }
    want("ex-vel50", "toll_fraud.velocity_high_risk", T0 + 15 * MIN);

    /* velocity 33 (consumer), above the 32 times kept, completed by a late call: one attempt
     * at 50 s, 31 at 60 to 90 s, one at 1000 s, then one at 950 s arriving 50 s late (after
     * the one at 1000 s). [50 s, 950 s] holds 33: ordered at the late call. The same with the
     * first at 49 s (32 in any 15 minutes): never. */
    static const char *const late33[] = {"ex-vel33late", "st-vel33late"};
    for (int a = 0; a < 2; a++) {
        int k = 0;
        snprintf(to, sizeof to, "%s%d000", CUBA, k++);
        attempt(late33[a], T0 + (a == 0 ? 50000 : 49000), to);
        for (int s = 60; s <= 90; s++) {
            snprintf(to, sizeof to, "%s%d000", CUBA, k++);
            attempt(late33[a], T0 + s * 1000LL, to);
        }
        snprintf(to, sizeof to, "%s%d000", CUBA, k++);
        attempt(late33[a], T0 + 1000000, to);
        snprintf(to, sizeof to, "%s%d000", CUBA, k++);
        attempt_arriving(late33[a], T0 + 950000, to, T0 + 1000000);
    }
    want("ex-vel33late", "toll_fraud.velocity_high_risk", T0 + 950000);

    /* sequential_dialling 30: 30 distinct numbers of one block (last digits equal modulo 64),
     * first and last exactly 10 minutes apart; stretched to 10:01; 29 distinct numbers in
     * every closed 10 minutes (one every 21,428 ms) for three hours. */
    for (int k = 0; k < 30; k++) {
        snprintf(to, sizeof to, "+4930125%03d", (k * 64) % 1000);
        attempt("ex-seq30", T0 + (int64_t)k * 10 * MIN / 29, to);
        attempt("st-seq30", T0 + (int64_t)k * (10 * MIN + 1000) / 29, to);
    }
    want("ex-seq30", "toll_fraud.sequential_dialling", T0 + 10 * MIN);
    for (int k = 0; k < 3 * 28; k++) {
        snprintf(to, sizeof to, "+4930126%03d", (k * 7) % 1000);
        attempt("st-seq29", T0 + (int64_t)k * 21428, to);
    }

    /* spend_1h over forty calls, more than an account keeps in its own array, the hour
     * starting mid-bucket inside the first call (S = T0 + 2 min): call 0 runs [S - 30 s,
     * S + 90 s] for EUR 3 (EUR 2.25 inside), calls 1-39 90 s each back to back up to S + 1 h at
     * EUR 2.50, the last EUR 2.76: EUR 100.01, ordered at the last end. The last at EUR 2.75
     * (EUR 100.00), or a second longer (EUR 99.985 in the hour ending at it), never; nor
     * 90-second calls at EUR 2.50 back to back for five hours (EUR 100.00 in every hour). */
    static const char *const sp40[] = {"ex-spend40", "st-spend40-100", "st-spend40-long"};
    const int64_t S = T0 + 2 * MIN;
    for (int a = 0; a < 3; a++) {
        snprintf(to, sizeof to, "+4931%03d0000", 0);
        spend(sp40[a], S + 90000, to, 120, "3");
        for (int k = 1; k <= 39; k++) {
            int64_t end = S + 90000 + (int64_t)k * 90000;
            snprintf(to, sizeof to, "+4931%03d0000", k);
            spend(sp40[a], a == 2 && k == 39 ? end + 1000 : end, to, a == 2 && k == 39 ? 91 : 90,
                  k < 39   ? "2.5"
                  : a == 1 ? "2.75"
                           : "2.76");
        }
    }
    want("ex-spend40", "toll_fraud.spend_1h", S + HOUR);
    for (int k = 1; k <= 5 * 40; k++) {
        snprintf(to, sizeof to, "+4932%03d0000", k);
        spend("st-spend40-steady", S + (int64_t)k * 90000, to, 90, "2.5");
    }
    for (int i = 0; i < 16 * 49; i++) {
        snprintf(to, sizeof to, "%s%d000", CUBA, i);
        attempt("st-vel50", T0 + (int64_t)i * (15 * MIN + 1000) / 49, to);
        if (i < 16 * 48)
            attempt("st-vel49", T0 + (int64_t)i * 18368, to);
    }

    /* bulk_sms.rate 5000: 5000 SMS to 20 people, first and last exactly 15 minutes apart;
     * stretched to 15:01; for an hour 4999 in every closed 15 minutes (SMS k at
     * k x 900002 / 4999 ms: any 4999 later ones span more than 15 minutes). */
    for (int k = 0; k < 5000; k++) {
        snprintf(to, sizeof to, "+316100000%02d", k % 20);
        sms("ex-rate5k", T0 + (int64_t)k * 15 * MIN / 4999, "+31615555555", to, NULL);
        sms("st-rate5k", T0 + (int64_t)k * (15 * MIN + 1000) / 4999, "+31615555555", to, NULL);
    }
    want("ex-rate5k", "bulk_sms.rate", T0 + 15 * MIN);
    for (int k = 0; k < 4 * 4999; k++) {
        snprintf(to, sizeof to, "+316100000%02d", k % 20);
        sms("st-rate4999", T0 + (int64_t)k * 900002 / 4999, "+31616666666", to, NULL);
    }
}

static void continuous_edges(void)
{
    /* single_call: a call open 8 h, judged on the replay's clock (the other accounts' events
     * run on for a day), ordered at start + 8 h; a call of 8 h less a second never. */
    /* A clock account: an SMS a minute, so the stream's clock moves steadily (a jump in event
     * time would hold the timers' orders, as vigild does). */
    for (int m = 0; m <= 9 * 60; m++)
        sms("clock", T0 + m * MIN, "+31699999999", "+31698888888", NULL);
    call_start("ex-single", "sc1", T0 + 1000, "out", "+31201234567", "+31207654321");
    want("ex-single", "continuous.single_call", T0 + 1000 + 8 * HOUR);
    /* near_continuous: three 6-hour calls, the first beginning exactly 24 h before the last
     * ends (18 h); the same with the first a second earlier (17 h 59 min 59 s inside). */
    for (int k = 0; k < 3; k++) {
        char cid[32];
        int64_t end = T0 + 6 * HOUR + k * 9 * HOUR;
        snprintf(cid, sizeof cid, "nc%d", k);
        call_end("ex-near", cid, end, "out", "+31201234567", "+31207654321", 6 * 3600, NULL);
        call_end("st-near", cid, k == 0 ? end - 1000 : end, "out", "+31201234567", "+31207654321",
                 6 * 3600, NULL);
    }
    want("ex-near", "continuous.near_continuous", T0 + 24 * HOUR);
    call_start("st-single", "sc1", T0 + 1000, "out", "+31201234567", "+31207654321");
    call_end("st-single", "sc1", T0 + 1000 + 8 * HOUR - 1000, "out", "+31201234567", "+31207654321",
             8 * 3600 - 1, NULL);
}

/* ---- the test ---------------------------------------------------------------------------- */

static void test_every_rule_at_its_edge(void **state)
{
    (void)state;
    toll_fraud_edges();
    bulk_sms_edges();
    premium_edges();
    continuous_edges();
    above_kept_edges();

    char dir[PATH_MAX], path[PATH_MAX + 32];
    assert_int_equal(harness_mkdir("edges", dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/edges.jsonl", dir);
    harness_evfile_write(&file, path);

    /* The profiles of above_kept_edges() and their levels (the slow rule, which 50 high-risk
     * calls from a new account rightly reach, set aside for business). */
    const char *argv[] = {harness_bin("vigilctl"),
                          "replay",
                          "--set",
                          "profiles.service_popular=ex-pop st-pop st-pop999",
                          "--set",
                          "profiles.business=ex-vel50 st-vel50 st-vel49 ex-rate5k st-rate5k "
                          "st-rate4999 ex-seq30 st-seq30 st-seq29",
                          "--set",
                          "toll_fraud.sequential_dialling@business=30",
                          "--set",
                          "profiles.consumer=ex-vel33late st-vel33late",
                          "--set",
                          "toll_fraud.velocity_high_risk@consumer=33",
                          "--set",
                          "toll_fraud.velocity_high_risk_offhours@consumer=0",
                          "--set",
                          "toll_fraud.slow_high_risk_calls@consumer=100000",
                          "--set",
                          "profiles.callcenter=ex-pmin40 st-pmin40 st-pmin91",
                          "--set",
                          "premium.out_calls_1h@callcenter=100",
                          "--set",
                          "premium.out_calls_1h_warning@callcenter=0",
                          "--set",
                          "toll_fraud.velocity_high_risk@business=50",
                          "--set",
                          "toll_fraud.slow_high_risk_calls@business=100000",
                          "--set",
                          "bulk_sms.sms_15m@business=5000",
                          path,
                          NULL};
    struct harness_proc p;
    struct harness_proc_opts o = {.out = HARNESS_OUT_FILE};
    assert_int_equal(harness_proc_start(&p, argv, &o), 0);
    int status = -1;
    if (!harness_proc_wait(&p, 60000, &status))
        harness_proc_kill9(&p);
    char *out = harness_read_file(p.out_path, NULL);
    char *err = harness_read_file(p.err_path, NULL);
    assert_non_null(out);
    if (status != 0)
        fail_msg("replay exited %d: %s", status, err ? err : "");

    int bad = 0;
    for (char *s = out, *e; *s; s = e + 1) {
        e = strchr(s, '\n');
        if (!e)
            break;
        *e = '\0';
        char kind[32], account[80], rule[80];
        long long ts = 0;
        if (harness_json_str(s, "kind", kind, sizeof kind) < 0 || strcmp(kind, "order") != 0)
            continue;
        assert_true(harness_json_str(s, "value.account", account, sizeof account) > 0);
        assert_true(harness_json_str(s, "value.rule", rule, sizeof rule) > 0);
        assert_int_equal(harness_json_int(s, "value.event_ts", &ts), 0);
        if (forbidden(account, rule)) {
            print_error("ordered, but never should be: %s by %s at %lld\n", account, rule, ts);
            bad++;
            continue;
        }
        /* An "ex-" account may also be ordered by another rule for another action (a call
         * left open is a single call of 8 h by then); its own rule orders once, at its
         * completing event. */
        for (size_t i = 0; i < n_wants; i++) {
            if (strcmp(wants[i].account, account) != 0 || strcmp(wants[i].rule, rule) != 0)
                continue;
            if (wants[i].event_ts != ts || wants[i].seen) {
                print_error("%s: ordered by %s at %lld, want once at %lld\n", account, rule, ts,
                            (long long)wants[i].event_ts);
                bad++;
            }
            wants[i].seen = true;
        }
    }
    for (size_t i = 0; i < n_wants; i++) {
        if (!wants[i].seen) {
            print_error("%s: no order (want %s at %lld)\n", wants[i].account, wants[i].rule,
                        (long long)wants[i].event_ts);
            bad++;
        }
    }
    free(out);
    free(err);
    harness_evfile_free(&file);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_every_rule_at_its_edge, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

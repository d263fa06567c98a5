/* SPDX-License-Identifier: Apache-2.0 */
/* sim.h - what vigil-sim's files share: limits, the simulation's types, the number ranges,
 * and the functions one file defines for another.
 *
 * Threading: single-threaded, like the whole program. */
#ifndef VIGIL_SIM_H
#define VIGIL_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

#include "vigil/event.h"

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

#define SCEN_DEFS 12 /* entries of scen_defs (scenarios.c) */

struct rng {
    uint64_t s;
};

struct local {
    bool weekday; /* Monday .. Friday */
    double hour;  /* 0 <= hour < 24, fractional */
    int64_t day;  /* local day number */
};

struct numrange {
    const char *prefix; /* E.164 */
    int digits;         /* digits after the prefix */
    const char *first;  /* allowed first digit after the prefix */
    int weight;
};

#define NR(a) (sizeof(a) / sizeof((a)[0]))

#define GEN(r, table, out) gen_in((r), pick_range((r), (table), NR(table)), (out))

enum profile { PROF_CONSUMER, PROF_BUSINESS, PROF_CALLCENTER };

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
    const char *config;         /* --config: for its librdkafka.* keys */
    const char *sets[MAX_SETS]; /* --set KEY=VALUE, applied after the file */
    int nsets;
    int nscen;
    struct scen_spec scen[MAX_SCENARIOS];
};

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

struct call {
    int acc, scen, dev;
    bool in, answered;
    int64_t ts;      /* answer time, or dial time of an attempt */
    int64_t dur_s;   /* answered: billable seconds */
    int64_t ring_ms; /* attempt: ringing until hang-up */
    uint32_t ip;
    const char *from, *to;
};

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

static const char *const prof_names[] = {"consumer", "business", "callcenter"};

static const char *const inv_names[] = {"not_json", "missing_call_id", "bad_number", "ts_string",
                                        "unknown_type"};

static const char *const inv_reasons[] = {"json_syntax", "missing_field:call_id", "bad_number:to",
                                          "bad_field:ts", "bad_type"};

uint64_t rng_next(struct rng *r);

void rng_seed(struct rng *r, uint64_t seed, const char *name, uint64_t salt);

double rng_unit(struct rng *r);

uint64_t rng_below(struct rng *r, uint64_t n);

int64_t rng_range(struct rng *r, int64_t lo, int64_t hi);

double rng_exp(struct rng *r, double mean);

int64_t rng_lognormal(struct rng *r, double median, double sigma, int64_t lo, int64_t hi);

void local_time(int64_t ts, struct local *lt);

bool office_hours(const struct local *lt);

int64_t next_office_open(int64_t ts);

const struct numrange *pick_range(struct rng *r, const struct numrange *t, size_t n);

void gen_in(struct rng *r, const struct numrange *nr, char *out);

void push(struct sim *s, struct item *it);

void pop(struct sim *s, struct item *out);

int64_t add_call(struct sim *s, const struct call *c);

void add_sms(struct sim *s, int acc, int scen, int64_t ts, const char *from, const char *to,
             int segments, uint64_t hash);

bool take_slot(struct account *a, int64_t t, int64_t end);

void account_init(struct account *a, const char *id, enum profile p, uint64_t seed);

const char *device_name(const struct account *a, int dev);

void schedule_activity(struct sim *s, int ai, int64_t after);

void gen_activity(struct sim *s, const struct item *g);

void push_line(struct sim *s, int acc, int line, int scen, int64_t ts);

void gen_line(struct sim *s, const struct item *g);

extern const struct scen_def scen_defs[SCEN_DEFS];

int64_t now_ns(void);

int sink_open_kafka(struct sink *k, const struct options *o);

void sink_progress(struct sink *k, bool final);

int sink_close(struct sink *k);

int sim_run(struct sim *s, struct sink *k);

int write_truth(struct sim *s, const char *path);

#endif

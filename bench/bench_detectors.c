/* SPDX-License-Identifier: Apache-2.0 */
/* bench_detectors.c - how fast is the detector core on one core, and how much memory does it
 * keep per account?
 *
 * Builds every registered detector the way a worker does (env: defaults from
 * vigil_config_create(), the default number plan, no profiles), an emit layer whose sink only
 * counts records, and feeds a generated, event-time-ordered stream from --accounts accounts:
 * call_start/call_end pairs (mostly outbound, mostly domestic, ~1% to high-risk ranges, a few
 * premium and unanswered attempts) and SMS. on_tick runs every 256 events with
 * watermark = max ts - vigild.disorder_ms, as pipeline/worker.c does.
 *
 * Two passes over the same stream, each with fresh detector state:
 *   preparsed: struct vigil_event array -> detectors            (preparsed_mev_s)
 *   parsed:    JSON text -> vigil_event_parse -> detectors      (parsed_mev_s)
 * Events are produced in chunks outside the timed region (chunk buffers are allocated and
 * touched before the memory baseline). Memory: resident set size (/proc/self/statm) before
 * the detectors are created and after the preparsed pass has fed every account, divided by
 * the accounts fed (every account gets events: accounts are visited in a fixed permutation).
 * Event time advances so that each account is active about every --interval-s seconds, so
 * at 1 M accounts the whole stream sits within one hour of event time and every account is
 * still tracked when memory is read.
 *
 * Prints one line, e.g.
 *   bench_detectors accounts=10000 events=2000000 detectors=5 preparsed_mev_s=4.1 ...
 * Asserts nothing about speed. Exits 1 if a generated event is rejected or a detector fails.
 * Threading: single-threaded. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vigil/acct_rec.h"
#include "vigil/config.h"
#include "vigil/detector.h"
#include "vigil/emit.h"
#include "vigil/event.h"
#include "vigil/numplan.h"
#include "vigil/status.h"

#define TICK_EVERY 256     /* events between two on_tick calls, as worker.c's BATCH_MAX */
#define JSON_SLOT 512      /* bytes per generated JSON event */
#define START_MS 1793606460000LL /* 2026-11-02T08:01:00Z: Monday 09:01 Amsterdam */

/* ---- options ---------------------------------------------------------------------------- */

struct opts {
    uint64_t accounts;
    uint64_t events; /* 0: max(2 M, 3 x accounts) */
    uint64_t seed;
    uint64_t interval_s;
    uint64_t chunk;
    const char *only[16]; /* --detector NAME: run only these (default: every registered) */
    size_t n_only;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_detectors [--accounts N] [--events N] [--interval-s S] [--seed N]\n"
            "                       [--chunk N] [--detector NAME]...\n"
            "Feeds every registered detector (one thread, one state, as one worker) with a\n"
            "generated call/SMS stream, first as parsed structs, then as JSON through\n"
            "vigil_event_parse, and prints one line:\n"
            "  bench_detectors accounts=.. events=.. detectors=.. preparsed_mev_s=..\n"
            "  parsed_mev_s=.. orders=.. alerts=.. counters=.. rss_delta_mb=..\n"
            "  bytes_per_account=..\n"
            "  --accounts N    distinct accounts (default 10000)\n"
            "  --events N      events per pass (default max(2000000, 3 x accounts))\n"
            "  --interval-s S  mean event-time seconds between two activities of one account\n"
            "                  (default 600)\n"
            "  --seed N        generator seed (default 1)\n"
            "  --chunk N       events generated ahead of each timed stretch (default 65536)\n"
            "  --detector NAME run only this registered detector (repeatable; default: all),\n"
            "                  to see what each one costs in time and memory\n"
            "Progress goes to stderr. Asserts nothing about speed.\n");
}

static int parse_u64(const char *flag, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s ? s : "", &end, 10);
    if (!s || !*s || *end || errno || *s == '-' || v == 0) {
        fprintf(stderr, "bench_detectors: %s wants a positive integer, got '%s'\n", flag,
                s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &res) != 2)
        res = -1;
    fclose(f);
    return res < 0 ? -1 : res * sysconf(_SC_PAGESIZE);
}

/* ---- the stream generator: deterministic, event-time ordered ---------------------------- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

struct pending_end { /* a call_end waiting for its time */
    int64_t ts;
    uint32_t acct;
    uint32_t call;     /* call number, for call_id */
    uint32_t duration; /* seconds */
    uint8_t kind;      /* destination kind, to rebuild `to` */
    uint8_t dir_in;
    uint32_t to_n;     /* destination digits seed */
};

struct gen {
    uint64_t rng;
    uint64_t accounts;
    uint64_t stride; /* coprime to accounts: activity i goes to account (i * stride) % N */
    uint64_t activity;
    double t_ms;     /* event time of the next activity */
    double dt_ms;    /* event time between two activities */
    uint64_t next_id;
    uint32_t next_call;
    struct pending_end *heap; /* min-heap on ts */
    size_t n_heap, cap_heap;
};

static uint64_t rnd(struct gen *g)
{
    g->rng += 0x9e3779b97f4a7c15ULL;
    return mix64(g->rng);
}

static double unit(struct gen *g)
{
    return (double)(rnd(g) >> 11) * 0x1.0p-53;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static void gen_init(struct gen *g, const struct opts *o)
{
    memset(g, 0, sizeof *g);
    g->rng = mix64(o->seed);
    g->accounts = o->accounts;
    /* A stride near 0.618 N coprime to N visits every account once per N activities in a
     * scattered order (not acc-1, acc-2, ...). */
    uint64_t s = (uint64_t)((double)o->accounts * 0.6180339887) | 1;
    while (o->accounts > 1 && gcd(s, o->accounts) != 1)
        s++;
    g->stride = o->accounts > 1 ? s % o->accounts : 0;
    if (g->stride == 0)
        g->stride = 1;
    g->t_ms = (double)START_MS;
    g->dt_ms = (double)o->interval_s * 1000.0 / (double)o->accounts;
}

static void gen_free(struct gen *g)
{
    free(g->heap);
}

static int heap_push(struct gen *g, const struct pending_end *e)
{
    if (g->n_heap == g->cap_heap) {
        size_t cap = g->cap_heap ? 2 * g->cap_heap : 1024;
        struct pending_end *h = realloc(g->heap, cap * sizeof *h);
        if (!h)
            return -1;
        g->heap = h;
        g->cap_heap = cap;
    }
    size_t i = g->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (g->heap[p].ts <= e->ts)
            break;
        g->heap[i] = g->heap[p];
        i = p;
    }
    g->heap[i] = *e;
    return 0;
}

static void heap_pop(struct gen *g, struct pending_end *out)
{
    *out = g->heap[0];
    struct pending_end last = g->heap[--g->n_heap];
    size_t i = 0, n = g->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && g->heap[c + 1].ts < g->heap[c].ts)
            c++;
        if (g->heap[c].ts >= last.ts)
            break;
        g->heap[i] = g->heap[c];
        i = c;
    }
    if (n > 0)
        g->heap[i] = last;
}

enum dest_kind {
    DEST_NL_FIXED,
    DEST_NL_MOBILE,
    DEST_NL_NATIONAL, /* written in national format, normalised by the parser */
    DEST_EU,
    DEST_HIGH_RISK_CU,
    DEST_HIGH_RISK_SAT,
    DEST_PREMIUM,
};

static enum dest_kind pick_dest(struct gen *g)
{
    double u = unit(g);
    if (u < 0.40)
        return DEST_NL_FIXED;
    if (u < 0.70)
        return DEST_NL_MOBILE;
    if (u < 0.85)
        return DEST_NL_NATIONAL;
    if (u < 0.985)
        return DEST_EU;
    if (u < 0.992)
        return DEST_HIGH_RISK_CU;
    if (u < 0.995)
        return DEST_HIGH_RISK_SAT;
    return DEST_PREMIUM;
}

static void dest_number(enum dest_kind k, uint32_t n, char *out, size_t cap)
{
    static const char *const eu[] = {"+3222", "+4930", "+4420", "+3314"};
    switch (k) {
    case DEST_NL_FIXED: snprintf(out, cap, "+3120%07u", n % 10000000u); break;
    case DEST_NL_MOBILE: snprintf(out, cap, "+316%08u", n % 100000000u); break;
    case DEST_NL_NATIONAL: snprintf(out, cap, "06 %04u %04u", (n / 10000u) % 10000u, n % 10000u);
        break;
    case DEST_EU: snprintf(out, cap, "%s%07u", eu[n % 4], (n / 4) % 10000000u); break;
    case DEST_HIGH_RISK_CU: snprintf(out, cap, "+535%07u", n % 10000000u); break;
    case DEST_HIGH_RISK_SAT: snprintf(out, cap, "+8816%07u", n % 10000000u); break;
    case DEST_PREMIUM: snprintf(out, cap, "0900%06u", n % 1000000u); break;
    }
}

/* Writes one JSON event of account `acct` into buf; returns its length. */
static int fmt_call(char *buf, size_t cap, bool end, uint64_t id, int64_t ts, uint32_t acct,
                    uint32_t call, bool dir_in, const char *to, uint32_t duration, bool answered)
{
    char own[24];
    snprintf(own, sizeof own, "+3185%07u", acct % 10000000u);
    const char *from = dir_in ? to : own;
    const char *dst = dir_in ? own : to;
    int n = snprintf(buf, cap,
                     "{\"v\":1,\"type\":\"%s\",\"id\":\"e-%" PRIx64 "\",\"ts\":%" PRId64
                     ",\"account\":\"acc-%07u\",\"call_id\":\"c-%x\",\"from\":\"%s\","
                     "\"to\":\"%s\",\"dir\":\"%s\",\"device\":\"pbx-%u/trunk1\","
                     "\"src_ip\":\"198.51.%u.%u\"",
                     end ? "call_end" : "call_start", id, ts, acct, call, from, dst,
                     dir_in ? "in" : "out", acct, (acct >> 8) & 255u, acct & 255u);
    if (end) {
        n += snprintf(buf + n, cap - (size_t)n, ",\"duration\":%u%s", duration,
                      answered ? "" : ",\"answered\":false");
    }
    n += snprintf(buf + n, cap - (size_t)n, "}");
    return n;
}

/* The next event of the stream into buf (JSON) and its account into key; returns the
 * length, or -1 when out of memory. */
static int gen_next(struct gen *g, char *buf, size_t cap, char *key, size_t key_cap)
{
    char to[32];
    /* Call ends that are due come before the next activity. */
    if (g->n_heap > 0 && (double)g->heap[0].ts <= g->t_ms) {
        struct pending_end e;
        heap_pop(g, &e);
        dest_number((enum dest_kind)e.kind, e.to_n, to, sizeof to);
        snprintf(key, key_cap, "acc-%07u", e.acct);
        return fmt_call(buf, cap, true, g->next_id++, e.ts, e.acct, e.call, e.dir_in, to,
                        e.duration, true);
    }
    uint32_t acct = (uint32_t)((g->activity++ * g->stride) % g->accounts);
    int64_t ts = (int64_t)g->t_ms;
    g->t_ms += g->dt_ms * (0.5 + unit(g)); /* jitter, mean dt */
    snprintf(key, key_cap, "acc-%07u", acct);
    double u = unit(g);
    uint32_t to_n = (uint32_t)rnd(g);
    if (u < 0.40) { /* SMS */
        dest_number(unit(g) < 0.8 ? DEST_NL_MOBILE : DEST_NL_NATIONAL, to_n, to, sizeof to);
        return snprintf(buf, cap,
                        "{\"v\":1,\"type\":\"sms\",\"id\":\"e-%" PRIx64 "\",\"ts\":%" PRId64
                        ",\"account\":\"acc-%07u\",\"from\":\"+316%08u\",\"to\":\"%s\","
                        "\"segments\":%d,\"body_hash\":\"%016" PRIx64 "\"}",
                        g->next_id++, ts, acct, acct % 100000000u, to, 1 + (int)(rnd(g) % 2),
                        rnd(g) % 64);
    }
    bool dir_in = u < 0.49; /* ~15% of calls inbound */
    enum dest_kind k = dir_in ? DEST_NL_MOBILE : pick_dest(g);
    dest_number(k, to_n, to, sizeof to);
    uint32_t call = g->next_call++;
    if (!dir_in && unit(g) < 0.10) /* an unanswered attempt: an end without a start */
        return fmt_call(buf, cap, true, g->next_id++, ts, acct, call, false, to, 0, false);
    /* Log-normal-ish duration: median ~70 s, capped at 1 h. */
    double d = 70.0 * exp2(2.0 * (unit(g) + unit(g) + unit(g) - 1.5));
    uint32_t dur = d < 1 ? 1 : d > 3600 ? 3600 : (uint32_t)d;
    struct pending_end e = {.ts = ts + (int64_t)dur * 1000, .acct = acct, .call = call,
                            .duration = dur, .kind = (uint8_t)k, .dir_in = dir_in, .to_n = to_n};
    if (heap_push(g, &e) != 0)
        return -1;
    return fmt_call(buf, cap, false, g->next_id++, ts, acct, call, dir_in, to, 0, true);
}

/* ---- the detector core ------------------------------------------------------------------ */

struct count_sink {
    uint64_t orders, alerts, counters;
};

static int count_write(void *ctx, const struct vigil_out_record *rec)
{
    struct count_sink *c = ctx;
    switch (rec->kind) {
    case VIGIL_OUT_ORDER: c->orders++; break;
    case VIGIL_OUT_ALERT: c->alerts++; break;
    case VIGIL_OUT_COUNTERS: c->counters++; break;
    }
    return 0;
}

struct core {
    size_t n;
    const struct vigil_detector_ops **ops;
    void **states;
    struct vigil_recs *recs; /* the states' account records, entered per event */
    struct vigil_emit *emit;
    struct count_sink sink;
    int64_t max_ts, disorder_ms;
    uint64_t since_tick;
    int failed;
};

/* The detectors to run: every registered one, or those named by --detector. */
static const struct vigil_detector_ops *pick(const struct opts *o, size_t i)
{
    return o->n_only ? vigil_detector_find(o->only[i]) : vigil_detector_get(i);
}

static size_t n_picked(const struct opts *o)
{
    return o->n_only ? o->n_only : vigil_detector_count();
}

static int core_init(struct core *c, const struct opts *o, const struct vigil_config *cfg,
                     const struct vigil_numplan *np)
{
    memset(c, 0, sizeof *c);
    c->n = n_picked(o);
    c->ops = calloc(c->n ? c->n : 1, sizeof *c->ops);
    c->states = calloc(c->n ? c->n : 1, sizeof *c->states);
    c->recs = vigil_recs_create(o->accounts);
    if (!c->ops || !c->states || !c->recs)
        return -1;
    c->emit = vigil_emit_create(cfg, (struct vigil_sink){.ctx = &c->sink, .write = count_write},
                                NULL, NULL);
    if (!c->emit)
        return -1;
    struct vigil_detector_env env = {.cfg = cfg, .numplan = np, .profiles = NULL,
                                     .recs = c->recs};
    for (size_t i = 0; i < c->n; i++) {
        c->ops[i] = pick(o, i);
        int rc = c->ops[i]->init(&c->states[i], &env);
        if (rc != 0) {
            fprintf(stderr, "bench_detectors: detector %s: init failed: %s\n", c->ops[i]->name,
                    vigil_status_str(rc));
            return -1;
        }
    }
    c->disorder_ms = vigil_config_int(cfg, "vigild.disorder_ms");
    return 0;
}

static void core_fini(struct core *c)
{
    vigil_recs_destroy(c->recs); /* before the states: its fini calls reach into them */
    for (size_t i = 0; c->states && i < c->n; i++) {
        if (c->ops[i])
            c->ops[i]->destroy(c->states[i]);
    }
    free(c->states);
    free(c->ops);
    vigil_emit_destroy(c->emit);
    memset(c, 0, sizeof *c);
}

static void core_tick(struct core *c)
{
    int64_t wm = c->max_ts > 0 ? c->max_ts - c->disorder_ms : INT64_MIN;
    for (size_t i = 0; i < c->n; i++) {
        if (c->ops[i]->on_tick(c->states[i], wm, c->emit) != 0)
            c->failed++;
    }
    c->since_tick = 0;
}

static inline void core_event(struct core *c, const struct vigil_event *ev)
{
    if (ev->ts_ms > c->max_ts)
        c->max_ts = ev->ts_ms;
    /* The engine's one lookup of the account's record (pipeline/engine.c). */
    (void)vigil_recs_enter(c->recs, ev);
    for (size_t i = 0; i < c->n; i++) {
        if (c->ops[i]->on_event(c->states[i], ev, c->emit) != 0)
            c->failed++;
    }
    vigil_recs_leave(c->recs);
    if (++c->since_tick == TICK_EVERY)
        core_tick(c);
}

/* ---- passes ----------------------------------------------------------------------------- */

struct chunk {
    size_t cap, n;
    char *json;      /* cap x JSON_SLOT */
    uint16_t *len;   /* JSON length */
    char (*key)[VIGIL_ACCOUNT_MAX + 1];
    struct vigil_event *ev;
};

static int chunk_alloc(struct chunk *k, size_t cap)
{
    k->cap = cap;
    k->json = malloc(cap * JSON_SLOT);
    k->len = malloc(cap * sizeof *k->len);
    k->key = malloc(cap * sizeof *k->key);
    k->ev = malloc(cap * sizeof *k->ev);
    if (!k->json || !k->len || !k->key || !k->ev)
        return -1;
    /* Touch every page now so the memory baseline already holds the buffers (a non-zero
     * fill: the compiler turns malloc + memset(0) into calloc, which touches nothing). */
    memset(k->json, 1, cap * JSON_SLOT);
    memset(k->len, 1, cap * sizeof *k->len);
    memset(k->key, 1, cap * sizeof *k->key);
    memset(k->ev, 1, cap * sizeof *k->ev);
    return 0;
}

static void chunk_free(struct chunk *k)
{
    free(k->json);
    free(k->len);
    free(k->key);
    free(k->ev);
}

/* Fills the chunk with the next events (JSON, and parsed structs when `parse`). */
static int chunk_fill(struct chunk *k, struct gen *g, size_t want, bool parse,
                      const struct vigil_parse_opts *base, int64_t *stream_ts)
{
    struct vigil_parse_opts po = *base;
    struct vigil_parse_error err;
    k->n = 0;
    for (size_t i = 0; i < want; i++) {
        char *buf = k->json + i * JSON_SLOT;
        int n = gen_next(g, buf, JSON_SLOT, k->key[i], sizeof k->key[i]);
        if (n < 0 || n >= JSON_SLOT) {
            fprintf(stderr, "bench_detectors: generator failed\n");
            return -1;
        }
        k->len[i] = (uint16_t)n;
        if (parse) {
            po.now_ms = *stream_ts;
            if (vigil_event_parse(buf, (size_t)n, k->key[i], strlen(k->key[i]), &po, &k->ev[i],
                                  &err) != 0) {
                fprintf(stderr, "bench_detectors: generated event rejected: %s (%s): %.*s\n",
                        err.reason, err.detail, n, buf);
                return -1;
            }
            if (k->ev[i].ts_ms > *stream_ts)
                *stream_ts = k->ev[i].ts_ms;
        }
        k->n++;
    }
    return 0;
}

struct pass_result {
    double seconds;
    struct count_sink out;
    uint64_t activities; /* account activities generated: min(this, accounts) were fed */
    long rss_after;
};

static int run_pass(bool preparsed, const struct opts *o, uint64_t events,
                    const struct vigil_config *cfg, const struct vigil_numplan *np,
                    struct chunk *k, struct pass_result *res)
{
    struct gen g;
    struct core c;
    struct vigil_parse_opts po = {.default_cc = vigil_config_str(cfg, "numbering.home_cc")};
    int64_t stream_ts = 0; /* chunk_fill's clock (preparsed) */
    int64_t parse_ts = 0;  /* the timed parser's clock (parsed), as worker.c keeps max_ts */
    struct vigil_event ev;
    struct vigil_parse_error err;
    int rc = -1;
    gen_init(&g, o);
    if (core_init(&c, o, cfg, np) != 0)
        goto out;
    double busy = 0, last_report = now_s();
    uint64_t done = 0;
    while (done < events) {
        size_t want = events - done < k->cap ? (size_t)(events - done) : k->cap;
        if (chunk_fill(k, &g, want, preparsed, &po, &stream_ts) != 0)
            goto out;
        double t0 = now_s();
        if (preparsed) {
            for (size_t i = 0; i < k->n; i++)
                core_event(&c, &k->ev[i]);
        } else {
            for (size_t i = 0; i < k->n; i++) {
                po.now_ms = parse_ts;
                if (vigil_event_parse(k->json + i * JSON_SLOT, k->len[i], k->key[i],
                                      strlen(k->key[i]), &po, &ev, &err) != 0) {
                    fprintf(stderr, "bench_detectors: event rejected: %s (%s)\n", err.reason,
                            err.detail);
                    goto out;
                }
                if (ev.ts_ms > parse_ts)
                    parse_ts = ev.ts_ms;
                core_event(&c, &ev);
            }
        }
        busy += now_s() - t0;
        done += k->n;
        if (now_s() - last_report > 2.0) {
            fprintf(stderr, "bench_detectors: %s pass: %" PRIu64 "/%" PRIu64 " events\n",
                    preparsed ? "preparsed" : "parsed", done, events);
            last_report = now_s();
        }
    }
    double t0 = now_s();
    core_tick(&c);
    busy += now_s() - t0;
    if (c.failed) {
        fprintf(stderr, "bench_detectors: detectors returned %d errors\n", c.failed);
        goto out;
    }
    res->seconds = busy;
    res->out = c.sink;
    res->activities = g.activity;
    res->rss_after = rss_bytes(); /* before destroy: every account's state still held */
    rc = 0;
out:
    core_fini(&c);
    gen_free(&g);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o = {.accounts = 10000, .events = 0, .seed = 1, .interval_s = 600,
                     .chunk = 65536};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t *dst;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--accounts")) {
            dst = &o.accounts;
        } else if (!strcmp(a, "--events")) {
            dst = &o.events;
        } else if (!strcmp(a, "--seed")) {
            dst = &o.seed;
        } else if (!strcmp(a, "--interval-s")) {
            dst = &o.interval_s;
        } else if (!strcmp(a, "--chunk")) {
            dst = &o.chunk;
        } else if (!strcmp(a, "--detector") && i + 1 < argc) {
            const char *name = argv[++i];
            if (!vigil_detector_find(name)) {
                fprintf(stderr, "bench_detectors: no detector '%s' is registered\n", name);
                return 2;
            }
            if (o.n_only == sizeof o.only / sizeof o.only[0]) {
                fprintf(stderr, "bench_detectors: too many --detector flags\n");
                return 2;
            }
            o.only[o.n_only++] = name;
            continue;
        } else {
            fprintf(stderr, "bench_detectors: unknown flag '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (parse_u64(a, i + 1 < argc ? argv[++i] : NULL, dst))
            return 2;
    }
    if (o.accounts > 10000000) {
        fprintf(stderr, "bench_detectors: --accounts at most 10000000\n");
        return 2;
    }
    uint64_t events = o.events ? o.events : (3 * o.accounts > 2000000 ? 3 * o.accounts : 2000000);

    struct vigil_config *cfg = vigil_config_create();
    char err[256];
    if (!cfg) {
        fprintf(stderr, "bench_detectors: no memory for the configuration\n");
        return 1;
    }
    struct vigil_numplan *np = vigil_numplan_create(cfg, err, sizeof err);
    if (!np) {
        fprintf(stderr, "bench_detectors: number plan: %s\n", err);
        vigil_config_destroy(cfg);
        return 1;
    }
    struct chunk k = {0};
    int rc = 1;
    if (chunk_alloc(&k, (size_t)o.chunk) != 0) {
        fprintf(stderr, "bench_detectors: no memory for %" PRIu64 " events\n", o.chunk);
        goto out;
    }

    long rss0 = rss_bytes();
    struct pass_result pre = {0}, par = {0};
    fprintf(stderr, "bench_detectors: %zu detectors, %" PRIu64 " accounts, %" PRIu64
                    " events per pass\n",
            n_picked(&o), o.accounts, events);
    if (run_pass(true, &o, events, cfg, np, &k, &pre) != 0)
        goto out;
    if (run_pass(false, &o, events, cfg, np, &k, &par) != 0)
        goto out;

    /* Every account gets an activity once per `accounts` activities; fewer events than
     * that leave some accounts out. */
    uint64_t fed = pre.activities < o.accounts ? pre.activities : o.accounts;
    double delta = rss0 > 0 && pre.rss_after > 0 ? (double)(pre.rss_after - rss0) : -1;
    char names[256] = "";
    for (size_t i = 0; i < n_picked(&o); i++) {
        size_t len = strlen(names);
        snprintf(names + len, sizeof names - len, "%s%s", i ? "," : "", pick(&o, i)->name);
    }
    printf("bench_detectors accounts=%" PRIu64 " events=%" PRIu64 " detectors=%zu"
           " preparsed_mev_s=%.2f parsed_mev_s=%.2f orders=%" PRIu64 " alerts=%" PRIu64
           " counters=%" PRIu64 " rss_delta_mb=%.1f bytes_per_account=%.0f%s%s\n",
           o.accounts, events, n_picked(&o), (double)events / pre.seconds / 1e6,
           (double)events / par.seconds / 1e6, pre.out.orders, pre.out.alerts, pre.out.counters,
           delta / 1048576.0, delta / (double)fed, o.n_only ? " only=" : "",
           o.n_only ? names : "");
    rc = 0;
out:
    chunk_free(&k);
    vigil_numplan_destroy(np);
    vigil_config_destroy(cfg);
    return rc;
}

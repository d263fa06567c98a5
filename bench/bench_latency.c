/* SPDX-License-Identifier: Apache-2.0 */
/* bench_latency.c - how long after the event that completes a fraud pattern does the order
 * reach the orders topic, while vigild carries a steady background load?
 *
 * 1. Starts vigil-broker (events topic with --partitions partitions), a redis-server on a free
 *    loopback port and vigild (--workers W, group bench-lat-<pid>, with
 *    toll_fraud.concurrent_high_risk and its _offhours level both set to --calls K, so K is
 *    the level by day and by night), all in a temp dir. While vigild joins, `vigil-sim
 *    --accounts N` writes the background to a file there first (generating it while measuring
 *    would take about half a core from vigild).
 * 2. A consumer thread reads vigil.orders from the beginning (assigned, no group join) and
 *    notes, per pattern account, the monotonic and wall-clock time its first order arrived
 *    and the order's `ts` (the wall clock when vigild's worker issued it).
 * 3. The main thread offers --rate events/s, paced in 1 ms slices: the file's lines keyed
 *    by account (background; vigil-sim keeps it clear of every rule), and every 20-50 ms
 *    (uniformly drawn, so patterns do not beat with vigild's 50 ms flush) a pattern: a fresh
 *    account `lat-NNNNNN` places K outbound calls to +881 (high risk) that stay open; the
 *    K-th call_start completes toll_fraud.concurrent_high_risk, which orders
 *    block_international at that event. Pattern events carry the event time of the latest
 *    background event, so they are in order with the stream. The monotonic and wall-clock
 *    time just before the K-th call_start is handed to the producer is the send time.
 * 4. Phases: offering starts once vigil-sim is done (vigild has joined meanwhile); "caught
 *    up" when every pattern up to the first one sent after the first
 *    order arrived has its order (the backlog of the start is gone); then --warmup-s more;
 *    then --seconds measured; then background goes on (no more patterns) until every
 *    pattern has its order, at most DRAIN_MAX_S. Only patterns sent in the measured window
 *    count. When vigild cannot catch up within --timeout-s it is measured all the same (and
 *    the figures show it).
 * 5. SIGTERM everything, remove the temp dir.
 *
 * Latency = arrival - send (monotonic), percentiles by nearest rank. It is split at the
 * order's `ts` (wall clock, ms): in = ts - send (our producer's linger, broker, vigild's
 * fetch, ring, detector), out = arrival - ts (out ring, publisher, vigild's producer, broker,
 * our fetch). Our consumer fetches with fetch.wait.max.ms=FETCH_WAIT_MS: the mock broker
 * holds an empty fetch for the whole wait even when data arrives meanwhile (vigild's own
 * consumer keeps librdkafka's 500 ms, so up to 500 ms of `in` is that mock behaviour; a real
 * broker answers as soon as data arrives).
 * The broker keeps ~5 MiB per partition: when vigild lags by more than that (about 7 s at
 * 50 k events/s over 16 partitions) events are dropped and their patterns show as missing.
 *
 * Prints one line:
 *   bench_latency rate=.. offered_ev_s=.. seconds=.. ... patterns=.. missing=.. p50_ms=..
 *   p99_ms=.. p999_ms=.. max_ms=.. in_p50_ms=.. out_p50_ms=.. ...
 * Also on stderr: the rate the broker took (delivered), vigild's cores, the machine's idle
 * share and load average, and how fast event time ran (vigil-sim's accounts make about 0.1
 * events a minute each by day, so 50 k events/s at 100 k accounts run ~5 minutes a second).
 * Asserts nothing about speed. Exits 1 when something could not be started, vigild never
 * ordered, or the background ran out (vigild took too long to catch up).
 * Threading: the main thread offers events and runs the children; one consumer thread owns
 * its own librdkafka consumer and writes only the arrival arrays and the atomics of struct
 * watch, which the main thread reads after joining it (the atomics meanwhile).
 * Ownership: main allocates the pattern arrays before the thread starts and frees them after
 * it is joined. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "bench_util.h"

#define SLICE_NS 1000000L       /* pacing slice: 1 ms */
#define MAX_SLICE_CATCH_UP 0.02 /* at most 20 ms of events per slice when behind */
#define GAP_MIN_MS 20           /* patterns every 20..50 ms, uniformly */
#define GAP_MAX_MS 50
#define DRAIN_MAX_S 10.0  /* a pattern without an order this long after the window: missing */
#define FETCH_WAIT_MS "2" /* our orders consumer; see the file comment */
#define SIM_DAY_RATE_PER_ACCOUNT_MIN 0.1 /* vigil-sim's weekday daytime rate */
#define SIM_DAY_MIN 480                  /* vigil-sim starts at 09:00: daytime until 17:00 */
#define ATTACK_FROM "+31201234567"
#define ATTACK_TO "+881612345678" /* Iridium: on the default high-risk list */
#define LINE_MAX_BYTES 4096

/* ---- options ---------------------------------------------------------------------------- */

struct opts {
    char bin_dir[BENCH_DIR_MAX];
    const char *redis_server;
    long rate, seconds, warmup_s, accounts, partitions, workers, calls, linger_ms, timeout_s;
    bool keep_tmp;
    const char *sets[16]; /* extra vigild --set KEY=VALUE */
    int n_sets;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_latency [--rate EV_S] [--seconds S] [--warmup-s S] [--accounts N]\n"
            "                     [--partitions N] [--workers N] [--calls K] [--linger-ms MS]\n"
            "                     [--timeout-s S] [--bin-dir DIR] [--redis-server PATH]\n"
            "                     [--set KEY=VALUE]... [--keep-tmp]\n"
            "Runs vigil-broker, redis-server, vigil-sim and vigild on loopback, offers a fixed\n"
            "rate of vigil-sim events and, every 20-50 ms, a fresh account that completes\n"
            "toll_fraud.concurrent_high_risk (K open calls to +881), and measures the time from\n"
            "handing the completing event to the producer to its order arriving on\n"
            "vigil.orders. Prints one line:\n"
            "  bench_latency rate=.. patterns=.. missing=.. p50_ms=.. p99_ms=.. p999_ms=.. ...\n"
            "  --rate EV_S            events offered per second, patterns included (default\n"
            "                         50000)\n"
            "  --seconds S            measured window (default 20)\n"
            "  --warmup-s S           load before the window, once vigild has caught up with\n"
            "                         the start (default 3)\n"
            "  --accounts N           vigil-sim background accounts (default 100000, at most\n"
            "                         100000; fewer make event time run faster)\n"
            "  --partitions N         partitions of vigil.events (default 16: with many, our\n"
            "                         producer's batches get small and it falls behind the\n"
            "                         rate; with few, the mock broker's ~5 MiB per partition\n"
            "                         last only seconds and a lagging vigild loses events)\n"
            "  --workers N            vigild --workers (default 2)\n"
            "  --calls K              open high-risk calls that complete a pattern: vigild runs\n"
            "                         with toll_fraud.concurrent_high_risk and _offhours = K\n"
            "                         (default 8, vigild's daytime default)\n"
            "  --linger-ms MS         our producer's linger.ms (default 5, librdkafka's)\n"
            "  --timeout-s S          give up when vigild has ordered nothing after S seconds\n"
            "                         of load; measure anyway when it has not caught up by\n"
            "                         then (default 20)\n"
            "  --bin-dir DIR          where vigil-broker, vigil-sim, vigild are (default: the\n"
            "                         directory of this program)\n"
            "  --redis-server PATH    redis-server to run (default: redis-server from PATH)\n"
            "  --set KEY=VALUE        passed on to vigild as --set (repeatable, at most 16), to\n"
            "                         compare settings, e.g. vigild.flush_interval_ms=10\n"
            "  --keep-tmp             keep the temp dir with the children's logs\n"
            "Progress goes to stderr. Asserts nothing about speed.\n");
}

static struct bench_child broker_c = BENCH_CHILD("vigil-broker");
static struct bench_child redis_c = BENCH_CHILD("redis-server");
static struct bench_child vigild_c = BENCH_CHILD("vigild");
static struct bench_child sim_c = BENCH_CHILD("vigil-sim");

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64: the pattern gaps, the same every run. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The wait before the next pattern: GAP_MIN_MS..GAP_MAX_MS, uniformly, in whole ms. */
static double gap_s(uint64_t *rnd)
{
    return (double)(GAP_MIN_MS + next_rand(rnd) % (GAP_MAX_MS - GAP_MIN_MS + 1)) / 1000.0;
}

/* ---- the orders consumer thread --------------------------------------------------------- */

struct watch {
    /* Set before the thread starts; read-only afterwards. */
    const char *bootstrap;
    long max_patterns;
    /* Written by the thread only, read by main after the join. 0: no order yet. */
    double *arrival_s; /* monotonic */
    double *arrival_wall_s;
    double *order_ts_s; /* the order's `ts` */
    /* Statistics; relaxed everywhere: main uses them for progress and to decide when to
     * stop waiting, and reads the arrays above only after pthread_join. */
    atomic_long matched;   /* patterns with an order */
    atomic_long low_water; /* lowest pattern index without an order */
    atomic_long stray;     /* orders for accounts that are no pattern */
    atomic_long repeats;   /* further orders for a pattern that had one */
    atomic_bool stop;      /* set by main */
    atomic_int failed;     /* set by the thread when it could not consume */
};

/* The pattern index of a `lat-NNNNNN` key, or -1. */
static long pattern_index(const char *key, size_t len)
{
    char buf[32];
    if (len < 5 || len >= sizeof buf || memcmp(key, "lat-", 4) != 0)
        return -1;
    memcpy(buf, key + 4, len - 4);
    buf[len - 4] = '\0';
    char *end;
    long i = strtol(buf, &end, 10);
    return *end || i < 0 ? -1 : i;
}

/* The top-level "ts" of an order (its first "ts" key: "event_ts" does not match), or 0. */
static double order_ts(const char *json, size_t len)
{
    char buf[LINE_MAX_BYTES + 1];
    if (len > LINE_MAX_BYTES)
        len = LINE_MAX_BYTES;
    memcpy(buf, json, len);
    buf[len] = '\0';
    const char *p = strstr(buf, "\"ts\":");
    return p ? (double)strtoll(p + 5, NULL, 10) / 1000.0 : 0;
}

static void *watch_main(void *arg)
{
    struct watch *w = arg;
    char group[64];
    snprintf(group, sizeof group, "bench-lat-watch-%d", (int)getpid());
    const char *props[] = {"bootstrap.servers", w->bootstrap, "group.id", group,
                           "client.id", "bench-lat-orders", "enable.auto.commit", "false",
                           "fetch.wait.max.ms", FETCH_WAIT_MS, NULL};
    rd_kafka_t *rk = bench_kafka_new(RD_KAFKA_CONSUMER, props);
    if (!rk) {
        atomic_store_explicit(&w->failed, 1, memory_order_relaxed);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, BENCH_ORDERS_TOPIC, 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (e) {
        bench_say("assign %s: %s", BENCH_ORDERS_TOPIC, rd_kafka_err2str(e));
        atomic_store_explicit(&w->failed, 1, memory_order_relaxed);
        rd_kafka_destroy(rk);
        return NULL;
    }
    while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        /* Both clocks first: the arrival is when the poll handed the message over. */
        double t = bench_now_s(), tw = wall_s();
        if (!m->err) {
            long i = pattern_index(m->key, m->key_len);
            if (i < 0 || i >= w->max_patterns) {
                atomic_fetch_add_explicit(&w->stray, 1, memory_order_relaxed);
            } else if (w->arrival_s[i] != 0) {
                atomic_fetch_add_explicit(&w->repeats, 1, memory_order_relaxed);
            } else {
                w->arrival_s[i] = t;
                w->arrival_wall_s[i] = tw;
                w->order_ts_s[i] = order_ts(m->payload, m->len);
                atomic_fetch_add_explicit(&w->matched, 1, memory_order_relaxed);
                long low = atomic_load_explicit(&w->low_water, memory_order_relaxed);
                while (low < w->max_patterns && w->arrival_s[low] != 0)
                    low++;
                atomic_store_explicit(&w->low_water, low, memory_order_relaxed);
            }
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            bench_say("orders consumer: %s", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_destroy(rk); /* assigned, not subscribed: nothing to leave */
    return NULL;
}

/* ---- the offering loop ------------------------------------------------------------------ */

struct offer {
    const struct opts *o;
    rd_kafka_t *rk;
    FILE *sim;
    char *line;
    size_t cap;
    long long stream_ts_ms; /* event time of the latest background event */
    long offered;           /* events handed to the producer, patterns included */
    long patterns;
    double *send_s; /* [max_patterns] monotonic */
    double *send_wall_s;
    long long *event_ts_ms; /* [max_patterns] the pattern's event time */
    bool sim_done;
};

/* Hands one message to the producer, serving delivery reports while its queue is full. */
static int produce(struct offer *of, const char *key, size_t key_len, const char *val, size_t len)
{
    for (;;) {
        rd_kafka_resp_err_t r = rd_kafka_producev(
            of->rk, RD_KAFKA_V_TOPIC(BENCH_EVENTS_TOPIC), RD_KAFKA_V_KEY(key, key_len),
            RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        if (r == RD_KAFKA_RESP_ERR_NO_ERROR) {
            of->offered++;
            return 0;
        }
        if (r != RD_KAFKA_RESP_ERR__QUEUE_FULL || bench_stop) {
            bench_say("produce: %s", rd_kafka_err2str(r));
            return -1;
        }
        rd_kafka_poll(of->rk, 10);
    }
}

/* The next vigil-sim line as one background event. */
static int offer_background(struct offer *of)
{
    ssize_t len;
    for (;;) {
        len = getline(&of->line, &of->cap, of->sim);
        if (len <= 0) {
            of->sim_done = true;
            return -1;
        }
        if (of->line[len - 1] == '\n')
            of->line[--len] = '\0';
        const char *a;
        size_t a_len;
        if (bench_event_account(of->line, &a, &a_len) == 0) {
            const char *ts = strstr(of->line, "\"ts\":");
            if (ts)
                of->stream_ts_ms = strtoll(ts + 5, NULL, 10);
            return produce(of, a, a_len, of->line, (size_t)len);
        }
    }
}

/* Pattern i: K call_starts to a high-risk number from account lat-<i>, all open. */
static int offer_pattern(struct offer *of)
{
    long i = of->patterns;
    char acc[32], ev[512];
    int acc_len = snprintf(acc, sizeof acc, "lat-%06ld", i);
    for (long k = 0; k < of->o->calls; k++) {
        int n = snprintf(ev, sizeof ev,
                         "{\"v\":1,\"type\":\"call_start\",\"id\":\"%s-%ld\",\"ts\":%lld,"
                         "\"account\":\"%s\",\"call_id\":\"%s-c%ld\",\"from\":\"" ATTACK_FROM
                         "\",\"to\":\"" ATTACK_TO "\",\"dir\":\"out\"}",
                         acc, k, of->stream_ts_ms, acc, acc, k);
        if (k == of->o->calls - 1) {
            /* The completing event: its send time is taken just before the hand-over. */
            of->send_s[i] = bench_now_s();
            of->send_wall_s[i] = wall_s();
            of->event_ts_ms[i] = of->stream_ts_ms;
        }
        if (produce(of, acc, (size_t)acc_len, ev, (size_t)n) != 0)
            return -1;
    }
    of->patterns++;
    return 0;
}

/* ---- the run ---------------------------------------------------------------------------- */

enum phase { PH_JOIN, PH_CATCH_UP, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_DONE };

static const char *phase_name(enum phase p)
{
    static const char *const names[] = {"waiting for the first order", "catching up",
                                        "warm-up", "measuring", "draining", "done"};
    return names[p];
}

/* What the offering loop saw at the two ends of the measured window. */
struct mark {
    double t, vigild_cpu_s, broker_cpu_s, redis_cpu_s, self_cpu_s, idle, total;
    long patterns, offered, delivered;
    long long stream_ts_ms;
};

struct run {
    struct offer of;
    struct watch w;
    struct bench_produce_state ps;
    struct mark m0, m1;
    long backlog; /* messages our producer still held at the end of the window */
};

static void mark(struct run *r, struct mark *m, double now)
{
    m->t = now;
    m->patterns = r->of.patterns;
    m->offered = r->of.offered;
    m->delivered = r->ps.delivered;
    m->stream_ts_ms = r->of.stream_ts_ms;
    m->vigild_cpu_s = bench_proc_cpu_s(vigild_c.pid);
    m->broker_cpu_s = bench_proc_cpu_s(broker_c.pid);
    m->redis_cpu_s = bench_proc_cpu_s(redis_c.pid);
    m->self_cpu_s = bench_proc_cpu_s(getpid());
    bench_machine_jiffies(&m->idle, &m->total);
}

/* Sleeps to the next slice boundary; a late wake-up is caught up by the pacing. */
static void next_slice(struct timespec *slice)
{
    slice->tv_nsec += SLICE_NS;
    if (slice->tv_nsec >= 1000000000L) {
        slice->tv_nsec -= 1000000000L;
        slice->tv_sec++;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > slice->tv_sec || (now.tv_sec == slice->tv_sec && now.tv_nsec > slice->tv_nsec))
        *slice = now; /* behind: do not sleep, and do not bank the lost slices */
    else
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, slice, NULL);
}

/* Offers the rate through every phase until the drain is over. 0, or -1 when something
 * failed (said). */
static int offer_all(struct run *r)
{
    struct offer *of = &r->of;
    const struct opts *o = of->o;
    /* The first background line gives the stream's event time for the first pattern. */
    if (offer_background(of) != 0) {
        bench_say("vigil-sim wrote nothing");
        return -1;
    }
    enum phase ph = PH_JOIN;
    uint64_t rnd = 42;
    double t0 = bench_now_s(), t_phase = t0, last_report = t0;
    double next_pattern = t0 + gap_s(&rnd);
    long catch_up_from = -1; /* the first pattern sent after the first order arrived */
    struct timespec slice;
    clock_gettime(CLOCK_MONOTONIC, &slice);
    bench_say("offering %ld events/s: %s", o->rate, phase_name(ph));
    while (ph != PH_DONE && !bench_stop) {
        double now = bench_now_s();
        long due = (long)((now - t0) * (double)o->rate);
        long cap = of->offered + (long)((double)o->rate * MAX_SLICE_CATCH_UP) + 1;
        while (of->offered < (due < cap ? due : cap)) {
            if (offer_background(of) != 0) {
                if (of->sim_done)
                    bench_say("the background ran out after %ld events (vigild was slow to "
                              "catch up)",
                              of->offered);
                return -1;
            }
        }
        if (ph != PH_DRAIN && now >= next_pattern && of->patterns < r->w.max_patterns) {
            if (offer_pattern(of) != 0)
                return -1;
            next_pattern += gap_s(&rnd);
        }
        rd_kafka_poll(of->rk, 0);
        if (r->ps.failed > 0 || atomic_load_explicit(&r->w.failed, memory_order_relaxed))
            return -1;
        if (bench_child_reap(&vigild_c, false)) {
            bench_say("vigild exited early with status %d", vigild_c.status);
            bench_child_dump_log(&vigild_c, 20);
            return -1;
        }

        long matched = atomic_load_explicit(&r->w.matched, memory_order_relaxed);
        long low_water = atomic_load_explicit(&r->w.low_water, memory_order_relaxed);
        enum phase was = ph;
        switch (ph) {
        case PH_JOIN:
            if (matched > 0) {
                catch_up_from = of->patterns;
                ph = PH_CATCH_UP;
            } else if (now - t0 > (double)o->timeout_s) {
                bench_say("no order after %ld s of load: giving up", o->timeout_s);
                bench_child_dump_log(&vigild_c, 20);
                return -1;
            }
            break;
        case PH_CATCH_UP:
            if (low_water > catch_up_from) {
                ph = PH_WARMUP;
            } else if (now - t0 > (double)o->timeout_s) {
                bench_say("vigild has not caught up after %ld s of load: measuring all the same",
                          o->timeout_s);
                ph = PH_WARMUP;
            }
            break;
        case PH_WARMUP:
            if (now - t_phase >= (double)o->warmup_s) {
                mark(r, &r->m0, now);
                ph = PH_MEASURE;
            }
            break;
        case PH_MEASURE:
            if (now - t_phase >= (double)o->seconds) {
                mark(r, &r->m1, now);
                r->backlog = rd_kafka_outq_len(of->rk);
                ph = PH_DRAIN;
            }
            break;
        case PH_DRAIN:
            if (matched >= of->patterns || now - t_phase >= DRAIN_MAX_S)
                ph = PH_DONE;
            break;
        case PH_DONE:
            break;
        }
        if (ph != was) {
            t_phase = now;
            bench_say("%.1f s: %s (%ld patterns sent, %ld with an order)", now - t0,
                      phase_name(ph), of->patterns, matched);
        }
        if (now - last_report >= 2.0) {
            bench_say("%.1f s: %s; offered %ld events (%.0f/s), %ld patterns, %ld orders",
                      now - t0, phase_name(ph), of->offered, (double)of->offered / (now - t0),
                      of->patterns, matched);
            last_report = now;
        }
        next_slice(&slice);
    }
    return bench_stop ? -1 : 0;
}

/* ---- results ---------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank of sorted v[n]; -1 when empty. */
static double pct(const double *v, long n, double q)
{
    if (n == 0)
        return -1;
    long k = (long)ceil(q * (double)n);
    return v[k < 1 ? 0 : k > n ? n - 1 : k - 1];
}

/* Says the median latency of each quarter of the window: one that keeps growing means that
 * vigild (or the broker) falls behind the rate. scratch holds end - first doubles. */
static void diagnose(const struct run *r, long first, long end, double *scratch)
{
    char line[256];
    int len = 0;
    for (int q = 0; q < 4; q++) {
        long n = 0;
        for (long i = first + (end - first) * q / 4; i < first + (end - first) * (q + 1) / 4; i++) {
            if (r->w.arrival_s[i] != 0)
                scratch[n++] = (r->w.arrival_s[i] - r->of.send_s[i]) * 1000.0;
        }
        qsort(scratch, (size_t)n, sizeof *scratch, cmp_double);
        len += snprintf(line + len, sizeof line - (size_t)len, " %.0f", pct(scratch, n, 0.5));
    }
    bench_say("median latency per quarter of the window, ms:%s", line);
    /* The three slowest, with when they were sent and their event time (minute:second in
     * the event-time hour): stalls that line up with an hour roll are the detectors' hourly
     * counter work. */
    double prev = INFINITY;
    for (int k = 0; k < 3; k++) {
        long worst = -1;
        double worst_ms = -1;
        for (long i = first; i < end; i++) {
            double ms = (r->w.arrival_s[i] - r->of.send_s[i]) * 1000.0;
            if (r->w.arrival_s[i] != 0 && ms < prev && ms > worst_ms) {
                worst = i;
                worst_ms = ms;
            }
        }
        if (worst < 0)
            break;
        prev = worst_ms;
        long long ms_in_hour = r->of.event_ts_ms[worst] % 3600000LL;
        bench_say("slow: %.0f ms, sent %.1f s into the window, event time hh:%02lld:%02lld",
                  worst_ms, r->of.send_s[worst] - r->m0.t, ms_in_hour / 60000,
                  ms_in_hour / 1000 % 60);
    }
}

/* Prints the result line from the measured window, once the consumer thread is joined and
 * vigild has stopped. 0, or -1 when nothing was measured. */
static int report(const struct run *r, int vigild_exit)
{
    const struct opts *o = r->of.o;
    const struct watch *w = &r->w;
    long first = r->m0.patterns, end = r->m1.patterns;
    double *lat = calloc((size_t)(end - first) * 3 + 1, sizeof(double));
    if (!lat) {
        bench_say("out of memory");
        return -1;
    }
    double *in_ms = lat + (end - first), *out_ms = in_ms + (end - first);
    diagnose(r, first, end, lat); /* before lat is filled: it is the scratch space */
    long n = 0, missing = 0, n_split = 0;
    for (long i = first; i < end; i++) {
        if (w->arrival_s[i] == 0) {
            missing++;
            continue;
        }
        lat[n++] = (w->arrival_s[i] - r->of.send_s[i]) * 1000.0;
        if (w->order_ts_s[i] > 0) {
            in_ms[n_split] = (w->order_ts_s[i] - r->of.send_wall_s[i]) * 1000.0;
            out_ms[n_split] = (w->arrival_wall_s[i] - w->order_ts_s[i]) * 1000.0;
            n_split++;
        }
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    qsort(in_ms, (size_t)n_split, sizeof *in_ms, cmp_double);
    qsort(out_ms, (size_t)n_split, sizeof *out_ms, cmp_double);

    struct bench_vigild_status vs;
    bench_vigild_status(vigild_c.log, &vs);
    double win = r->m1.t - r->m0.t;
    double vigild_cores = r->m0.vigild_cpu_s >= 0 && r->m1.vigild_cpu_s >= 0
                              ? (r->m1.vigild_cpu_s - r->m0.vigild_cpu_s) / win
                              : -1;
    double idle = r->m1.total > r->m0.total
                      ? (r->m1.idle - r->m0.idle) / (r->m1.total - r->m0.total)
                      : 0;
    double offered = (double)(r->m1.offered - r->m0.offered) / win;
    double delivered = (double)(r->m1.delivered - r->m0.delivered) / win;
    double ev_min_per_s = (double)(r->m1.stream_ts_ms - r->m0.stream_ts_ms) / 60000.0 / win;
    long stray = atomic_load_explicit(&w->stray, memory_order_relaxed);
    double load[1] = {-1};
    getloadavg(load, 1);
    bench_say("measured %.1f s: %ld patterns, %ld orders, %ld missing; %ld stray orders, %ld "
              "repeated; delivered %.0f events/s, %ld still queued at the end; cores: vigild "
              "%.2f, broker %.2f, redis %.2f, this program %.2f; machine idle %.0f%%, load "
              "average %.1f; event time %.1f min/s; vigild exit %d, %lld dead letters, %lld "
              "orders",
              win, end - first, n, missing, stray,
              atomic_load_explicit(&w->repeats, memory_order_relaxed), delivered, r->backlog,
              vigild_cores, (r->m1.broker_cpu_s - r->m0.broker_cpu_s) / win,
              (r->m1.redis_cpu_s - r->m0.redis_cpu_s) / win,
              (r->m1.self_cpu_s - r->m0.self_cpu_s) / win, 100 * idle, load[0], ev_min_per_s,
              vigild_exit, vs.dead, vs.orders);
    printf("bench_latency rate=%ld offered_ev_s=%.0f delivered_ev_s=%.0f seconds=%.1f"
           " accounts=%ld partitions=%ld workers=%ld calls=%ld linger_ms=%ld patterns=%ld"
           " missing=%ld p50_ms=%.1f p99_ms=%.1f p999_ms=%.1f max_ms=%.1f in_p50_ms=%.0f"
           " in_p99_ms=%.0f out_p50_ms=%.0f out_p99_ms=%.0f vigild_cores=%.2f"
           " machine_idle=%.2f event_min_per_s=%.1f stray_orders=%ld dead=%lld\n",
           o->rate, offered, delivered, win, o->accounts, o->partitions, o->workers, o->calls,
           o->linger_ms, end - first, missing, pct(lat, n, 0.50), pct(lat, n, 0.99),
           pct(lat, n, 0.999), n ? lat[n - 1] : -1.0, pct(in_ms, n_split, 0.50),
           pct(in_ms, n_split, 0.99), pct(out_ms, n_split, 0.50), pct(out_ms, n_split, 0.99),
           vigild_cores, idle, ev_min_per_s, stray, vs.dead);
    fflush(stdout);
    free(lat);
    return n > 0 ? 0 : -1;
}

/* ---- set-up ----------------------------------------------------------------------------- */

static int start_vigild(const struct opts *o, const char *bootstrap, int redis_port)
{
    char group[64], conc[96], conc_night[96];
    snprintf(group, sizeof group, "bench-lat-%d", (int)getpid());
    snprintf(conc, sizeof conc, "toll_fraud.concurrent_high_risk=%ld", o->calls);
    snprintf(conc_night, sizeof conc_night, "toll_fraud.concurrent_high_risk_offhours=%ld",
             o->calls);
    /* Every pattern is an order, hundreds a minute: the order brake would hold them. */
    const char *sets[3 + 16] = {conc, conc_night, "orders.max_per_minute=0"};
    int n_sets = 3;
    for (int i = 0; i < o->n_sets; i++)
        sets[n_sets++] = o->sets[i];
    if (bench_start_vigild(&vigild_c, o->bin_dir, bootstrap, redis_port, group, o->workers, sets,
                           n_sets) != 0)
        return -1;
    bench_say("vigild started, pid %d", (int)vigild_c.pid);
    return 0;
}

/* vigil-sim writes enough background for the run to <tmp>/events.jsonl first: generating it
 * while measuring would take about half a core from vigild (50 k events/s, 100 k accounts).
 * Opens it as of->sim. 0 or -1. */
static int write_background(const struct opts *o, struct offer *of)
{
    double budget_s = (double)(o->timeout_s + o->warmup_s + o->seconds) + DRAIN_MAX_S;
    double need = 1.2 * (double)o->rate * budget_s;
    long minutes = (long)(need / ((double)o->accounts * SIM_DAY_RATE_PER_ACCOUNT_MIN)) + 10;
    if (minutes > SIM_DAY_MIN) /* into the evening and night: the daily mean */
        minutes = (long)(need / ((double)o->accounts * BENCH_SIM_RATE_PER_ACCOUNT_MIN)) + 10;
    if (minutes > 43200)
        minutes = 43200;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/events.jsonl", bench_tmp_dir());
    bench_say("vigil-sim: %ld accounts, %ld minutes of event time, to %s", o->accounts, minutes,
              path);
    if (bench_start_sim(&sim_c, o->bin_dir, o->accounts, minutes, path) != 0)
        return -1;
    double t0 = bench_now_s(), last = t0;
    while (!bench_child_reap(&sim_c, false)) {
        if (bench_stop)
            return -1;
        bench_sleep_ms(100);
        if (bench_now_s() - last >= 2.0) {
            struct stat sb;
            bench_say("vigil-sim: %.0f MB after %.0f s",
                      stat(path, &sb) == 0 ? (double)sb.st_size / 1e6 : 0.0, bench_now_s() - t0);
            last = bench_now_s();
        }
    }
    if (sim_c.status != 0 || !(of->sim = fopen(path, "r"))) {
        bench_say("vigil-sim failed (status %d)", sim_c.status);
        bench_child_dump_log(&sim_c, 10);
        return -1;
    }
    return 0;
}

static rd_kafka_t *new_producer(const struct opts *o, const char *bootstrap,
                                struct bench_produce_state *ps)
{
    char linger[16], err[512];
    snprintf(linger, sizeof linger, "%ld", o->linger_ms);
    const char *props[] = {"bootstrap.servers", bootstrap, "client.id", "bench-lat-producer",
                           "linger.ms", linger, "queue.buffering.max.messages", "500000", NULL};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (const char *const *p = props; *p; p += 2) {
        if (rd_kafka_conf_set(conf, p[0], p[1], err, sizeof err) != RD_KAFKA_CONF_OK) {
            bench_say("librdkafka %s=%s: %s", p[0], p[1], err);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, bench_on_delivery);
    rd_kafka_conf_set_opaque(conf, ps);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        bench_say("producer: %s", err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* ---- main ------------------------------------------------------------------------------- */

/* ---- main ------------------------------------------------------------------------------- */

static int parse_flags(int argc, char **argv, struct opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *dst = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--keep-tmp")) {
            o->keep_tmp = true;
            continue;
        } else if (!strcmp(a, "--bin-dir") && v) {
            snprintf(o->bin_dir, sizeof o->bin_dir, "%s", v);
            i++;
            continue;
        } else if (!strcmp(a, "--set") && v) {
            if (o->n_sets == (int)(sizeof o->sets / sizeof o->sets[0])) {
                bench_say("at most %zu --set flags", sizeof o->sets / sizeof o->sets[0]);
                return -1;
            }
            o->sets[o->n_sets++] = v;
            i++;
            continue;
        } else if (!strcmp(a, "--redis-server") && v) {
            o->redis_server = v;
            i++;
            continue;
        } else if (!strcmp(a, "--rate")) {
            dst = &o->rate;
        } else if (!strcmp(a, "--seconds")) {
            dst = &o->seconds;
        } else if (!strcmp(a, "--warmup-s")) {
            dst = &o->warmup_s;
        } else if (!strcmp(a, "--accounts")) {
            dst = &o->accounts;
        } else if (!strcmp(a, "--partitions")) {
            dst = &o->partitions;
        } else if (!strcmp(a, "--workers")) {
            dst = &o->workers;
        } else if (!strcmp(a, "--calls")) {
            dst = &o->calls;
        } else if (!strcmp(a, "--linger-ms")) {
            dst = &o->linger_ms;
        } else if (!strcmp(a, "--timeout-s")) {
            dst = &o->timeout_s;
        } else {
            bench_say("unknown flag or missing value: '%s'", a);
            usage(stderr);
            return -1;
        }
        if (bench_parse_long(a, v, dst))
            return -1;
        i++;
    }
    if (o->partitions > BENCH_MAX_PARTS || o->workers > 64 || o->accounts > 100000 ||
        o->calls > 60 || o->rate < 100) {
        bench_say("--partitions at most %d, --workers at most 64, --accounts at most 100000, "
                  "--calls at most 60, --rate at least 100",
                  BENCH_MAX_PARTS);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {.redis_server = "redis-server", .rate = 50000, .seconds = 20,
                     .warmup_s = 3, .accounts = 100000, .partitions = 16, .workers = 2,
                     .calls = 8, .linger_ms = 5, .timeout_s = 20};
    bench_init("bench_latency");
    bench_self_dir(o.bin_dir, sizeof o.bin_dir);
    if (parse_flags(argc, argv, &o) != 0)
        return 2;
    if (bench_tmp_create() != 0)
        return 1;

    int rc = 1, redis_port = -1;
    bool watching = false;
    pthread_t watcher;
    char bootstrap[1024];
    /* Patterns at most every GAP_MIN_MS for as long as we could offer. */
    size_t max_patterns =
        (size_t)(((double)(o.timeout_s + o.warmup_s + o.seconds) + DRAIN_MAX_S) * 1000.0 /
                 GAP_MIN_MS) + 16;
    static struct run r; /* static: zero-initialised, its atomics included */
    r.of.o = &o;
    r.w.max_patterns = (long)max_patterns;
    r.w.bootstrap = bootstrap;
    r.w.arrival_s = calloc(max_patterns, sizeof(double));
    r.w.arrival_wall_s = calloc(max_patterns, sizeof(double));
    r.w.order_ts_s = calloc(max_patterns, sizeof(double));
    r.of.send_s = calloc(max_patterns, sizeof(double));
    r.of.send_wall_s = calloc(max_patterns, sizeof(double));
    r.of.event_ts_ms = calloc(max_patterns, sizeof(long long));
    if (!r.w.arrival_s || !r.w.arrival_wall_s || !r.w.order_ts_s || !r.of.send_s ||
        !r.of.send_wall_s || !r.of.event_ts_ms) {
        bench_say("out of memory");
        goto out;
    }

    if (bench_start_broker(&broker_c, o.bin_dir, o.partitions, bootstrap, sizeof bootstrap) != 0)
        goto out;
    if (bench_start_redis(&redis_c, o.redis_server, &redis_port) != 0)
        goto out;
    bench_say("broker %s, redis 127.0.0.1:%d, temp dir %s", bootstrap, redis_port,
              bench_tmp_dir());
    /* vigild first: it joins its group while vigil-sim writes the background. */
    if (start_vigild(&o, bootstrap, redis_port) != 0)
        goto out;
    if (pthread_create(&watcher, NULL, watch_main, &r.w) != 0) {
        bench_say("cannot start the orders consumer");
        goto out;
    }
    watching = true;
    if (write_background(&o, &r.of) != 0)
        goto out;
    if (!(r.of.rk = new_producer(&o, bootstrap, &r.ps)))
        goto out;

    if (offer_all(&r) != 0)
        goto out;
    /* Everything measured is in: the arrays are ours to read once the thread is joined. */
    atomic_store_explicit(&r.w.stop, true, memory_order_relaxed);
    pthread_join(watcher, NULL);
    watching = false;
    int vigild_exit = bench_child_stop(&vigild_c, 15000);
    if (vigild_exit != 0) {
        bench_say("vigild exited with status %d after SIGTERM", vigild_exit);
        bench_child_dump_log(&vigild_c, 20);
    }
    if (report(&r, vigild_exit) == 0 && vigild_exit == 0)
        rc = 0;
out:
    if (bench_stop)
        bench_say("interrupted");
    if (watching) {
        atomic_store_explicit(&r.w.stop, true, memory_order_relaxed);
        pthread_join(watcher, NULL);
    }
    if (r.of.rk) {
        /* What is still queued is of no use any more. */
        rd_kafka_purge(r.of.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(r.of.rk, 2000);
        rd_kafka_destroy(r.of.rk);
    }
    if (r.of.sim)
        fclose(r.of.sim);
    free(r.of.line);
    bench_cleanup(o.keep_tmp);
    free(r.w.arrival_s);
    free(r.w.arrival_wall_s);
    free(r.w.order_ts_s);
    free(r.of.send_s);
    free(r.of.send_wall_s);
    free(r.of.event_ts_ms);
    return rc;
}

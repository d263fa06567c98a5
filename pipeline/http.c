/* SPDX-License-Identifier: Apache-2.0 */
/* http.c - /metrics, /healthz, /readyz (see http.h). */
#include "http.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "alert_delivery.h"
#include "clock.h"
#include "kafka_out.h"
#include "log.h"
#include "metrics.h"
#include "publisher.h"
#include "redis_sink.h"
#include "version.h"
#include "worker.h"

#define PROBE_EVERY_MS 1000
#define PROBE_TIMEOUT_MS 1000
#define HEALTHY_BEAT_MS 30000 /* the consumer loop polls every 200 ms; a rebalance may wait 8 s */

struct vigil_http {
    struct vigil_http_env env;
    struct MHD_Daemon *mhd;
    /* Server thread only. */
    struct vigil_redis *redis;
    int64_t probed_ms;
    bool redis_ok, kafka_ok;
    char redis_err[256];
    int64_t start_wall_ms;
};

/* Redis and Kafka answer? At most once a second; server thread only. */
static void probe(struct vigil_http *h)
{
    int64_t now = vigil_mono_ms();
    if (h->probed_ms && now - h->probed_ms < PROBE_EVERY_MS)
        return;
    redisReply *r = vigil_redis_command(h->redis, "PING");
    h->redis_ok = r && r->type != REDIS_REPLY_ERROR;
    if (!h->redis_ok)
        snprintf(h->redis_err, sizeof h->redis_err, "%s",
                 r ? r->str : vigil_redis_errstr(h->redis));
    if (r)
        freeReplyObject(r);
    h->kafka_ok = vigil_kafka_out_probe(h->env.kout, PROBE_TIMEOUT_MS) == 0;
    h->probed_ms = vigil_mono_ms();
}

/* ---- the exposition ----------------------------------------------------------------------- */

struct out {
    char *buf;
    size_t len, cap;
    bool oom;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = o->oom ? 0 : vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (o->oom || n < 0)
            return;
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)n;
        char *b = realloc(o->buf, cap);
        if (!b) {
            o->oom = true;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct out *o, const char *name, const char *type, const char *help, double v)
{
    head(o, name, type, help);
    put(o, "%s %.17g\n", name, v);
}

/* A label value with \, " and newline escaped. */
static void label_value(const char *in, char *out, size_t n)
{
    size_t k = 0;
    for (; *in && k + 3 < n; in++) {
        if (*in == '\\' || *in == '"') {
            out[k++] = '\\';
            out[k++] = *in;
        } else if (*in == '\n') {
            out[k++] = '\\';
            out[k++] = 'n';
        } else {
            out[k++] = *in;
        }
    }
    out[k] = '\0';
}

struct labelled {
    struct out *o;
    const char *name, *k1, *k2;
    bool any;
};

static void labelled_row(const char *l1, const char *l2, uint64_t v, void *arg)
{
    struct labelled *L = arg;
    char a[2 * VIGIL_METRIC_LABEL_MAX + 4], b[2 * VIGIL_METRIC_LABEL_MAX + 4];
    label_value(l1, a, sizeof a);
    label_value(l2, b, sizeof b);
    if (L->k2)
        put(L->o, "%s{%s=\"%s\",%s=\"%s\"} %llu\n", L->name, L->k1, a, L->k2, b,
            (unsigned long long)v);
    else
        put(L->o, "%s{%s=\"%s\"} %llu\n", L->name, L->k1, a, (unsigned long long)v);
    L->any = true;
}

static void family(struct out *o, const struct vigil_metrics *m, enum vigil_metric_family f,
                   const char *name, const char *help, const char *k1, const char *k2)
{
    head(o, name, "counter", help);
    struct labelled L = {o, name, k1, k2, false};
    vigil_metrics_foreach(m, f, labelled_row, &L);
}

static double process_cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, rss = 0;
    if (!f)
        return 0;
    int n = fscanf(f, "%lu %lu", &size, &rss);
    fclose(f);
    return n == 2 ? (double)rss * (double)sysconf(_SC_PAGESIZE) : 0;
}

static void render_metrics(struct vigil_http *h, struct out *o)
{
    const struct vigil_http_env *e = &h->env;
    const struct vigil_metrics *m = e->metrics;
    struct vigil_worker_stats sum = {0};
    for (size_t i = 0; i < e->n_workers; i++) {
        struct vigil_worker_stats st;
        vigil_worker_get_stats(e->workers[i], &st);
        sum.events += st.events;
        sum.dead += st.dead;
        sum.repeats += st.repeats;
        sum.accounts += st.accounts;
        sum.evicted += st.evicted;
        sum.skipped += st.skipped;
        sum.gaps += st.gaps;
        sum.lost += st.lost;
        sum.ahead += st.ahead;
    }
    struct vigil_publisher_stats ps;
    vigil_publisher_get_stats(e->pub, &ps);
    probe(h);
    int64_t now = vigil_wall_ms();
    char topic[512], group[512];
    label_value(e->events_topic, topic, sizeof topic);
    label_value(e->group, group, sizeof group);

    char ver[128];
    label_value(vigil_version(), ver, sizeof ver);
    head(o, "vigil_build_info", "gauge", "Version of vigild (always 1).");
    put(o, "vigil_build_info{version=\"%s\"} 1\n", ver);
    /* Relaxed loads throughout: statistics, any recent value will do. */
    one(o, "vigil_events_read_total", "counter",
        "Messages of the events topic read and handed to a worker.",
        (double)atomic_load_explicit(&m->read, memory_order_relaxed));
    one(o, "vigil_events_valid_total", "counter", "Valid events processed by the detectors.",
        (double)sum.events);
    one(o, "vigil_events_dead_lettered_total", "counter",
        "Messages sent to the dead-letter topic (all reasons).", (double)sum.dead);
    family(o, m, VIGIL_METRIC_DEAD, "vigil_dead_letters_total",
           "Dead letters produced, by reason.", "reason", NULL);
    one(o, "vigil_events_repeats_dropped_total", "counter",
        "Events dropped as repeats of an event id already seen.", (double)sum.repeats);
    one(o, "vigil_events_skipped_total", "counter",
        "Events below a loaded checkpoint, not counted again.", (double)sum.skipped);
    one(o, "vigil_events_ahead_total", "counter",
        "Events stamped beyond vigild.gap_ms ahead of their partition's clock.",
        (double)sum.ahead);
    family(o, m, VIGIL_METRIC_ORDERS, "vigil_orders_total",
           "Orders issued to the orders topic, by action and rule.", "action", "rule");
    family(o, m, VIGIL_METRIC_ALERTS, "vigil_alerts_total",
           "Alerts produced to the alerts topic, by severity and rule.", "severity", "rule");
    family(o, m, VIGIL_METRIC_HELD, "vigil_orders_held_total",
           "Orders not issued, by cause: brake (order brake), gap (came due in a stream gap), "
           "report (report-only rule).", "cause", NULL);
    one(o, "vigil_stream_gaps_total", "counter",
        "Jumps of a partition's clock over a gap in event time.", (double)sum.gaps);
    one(o, "vigil_stream_events_lost_total", "counter",
        "Events lost under the consumer (offset reset past retention).", (double)sum.lost);
    one(o, "vigil_lifts_total", "counter", "Operator lifts read from the orders topic.",
        (double)atomic_load_explicit(&m->lifts, memory_order_relaxed));

    head(o, "vigil_consumer_lag_events", "gauge",
         "Events of a partition not yet read (high watermark minus position).");
    for (int32_t p = 0; p < VIGIL_MAX_PARTITIONS; p++) {
        int64_t lag = atomic_load_explicit(&m->lag[p], memory_order_relaxed);
        if (lag >= 0)
            put(o, "vigil_consumer_lag_events{topic=\"%s\",partition=\"%d\"} %lld\n", topic,
                (int)p, (long long)lag);
    }
    one(o, "vigil_partitions_assigned", "gauge", "Partitions of the events topic held.",
        (double)atomic_load_explicit(&m->assigned, memory_order_relaxed));
    head(o, "vigil_group_member", "gauge",
         "1 while this instance is in its consumer group (holding partitions or idle).");
    put(o, "vigil_group_member{group=\"%s\"} %d\n", group,
        atomic_load_explicit(&m->in_group, memory_order_relaxed) ? 1 : 0);

    int64_t wm = atomic_load_explicit(e->stream_ts, memory_order_relaxed);
    if (wm > 0) {
        one(o, "vigil_watermark_timestamp_seconds", "gauge",
            "The stream's event-time clock (Unix time).", (double)wm / 1000.0);
        one(o, "vigil_watermark_age_seconds", "gauge",
            "Wall clock minus the stream's event-time clock.", (double)(now - wm) / 1000.0);
    }
    one(o, "vigil_accounts_in_memory", "gauge", "Accounts whose state the workers hold.",
        (double)sum.accounts);
    one(o, "vigil_accounts_evicted_total", "counter",
        "Accounts evicted past vigild.max_accounts.", (double)sum.evicted);

    one(o, "vigil_redis_up", "gauge", "1 when Redis answered the last PING (probed <= 1/s).",
        h->redis_ok ? 1 : 0);
    one(o, "vigil_kafka_up", "gauge",
        "1 when a Kafka broker answered the last metadata request (probed <= 1/s).",
        h->kafka_ok ? 1 : 0);
    one(o, "vigil_outputs_durable", "gauge",
        "0 while the publisher cannot make outputs durable (Redis or Kafka failing).",
        ps.failing ? 0 : 1);
    one(o, "vigil_output_flushes_total", "counter", "Durable flushes of the outputs.",
        (double)ps.flushes);
    one(o, "vigil_output_flush_failures_total", "counter", "Failed flush attempts.",
        (double)ps.flush_failures);
    if (ps.last_flush_ms > 0)
        one(o, "vigil_last_flush_age_seconds", "gauge",
            "Seconds since the outputs were last made durable.",
            (double)(now - ps.last_flush_ms) / 1000.0);
    if (ps.last_checkpoint_ms > 0)
        one(o, "vigil_checkpoint_age_seconds", "gauge",
            "Seconds since the last durable checkpoint of account state.",
            (double)(now - ps.last_checkpoint_ms) / 1000.0);
    one(o, "vigil_checkpoint_states_total", "counter", "Account states checkpointed.",
        (double)ps.states);

    struct vigil_alert_delivery_stats ds;
    vigil_alert_delivery_get_stats(e->delivery, &ds);
    head(o, "vigil_alert_deliveries_total", "counter",
         "Alerts delivered to a receiver (alertmanager: one per alert per POST).");
    head(o, "vigil_alert_delivery_failures_total", "counter", "Failed POSTs to a receiver.");
    head(o, "vigil_alert_delivery_dropped_total", "counter",
         "Alerts dropped for a receiver past alerts.delivery_backlog (they are still on the "
         "alerts topic).");
    head(o, "vigil_alert_delivery_backlog", "gauge", "Alerts waiting for a receiver.");
    struct {
        const char *name;
        int on;
        uint64_t sent, failed, dropped, backlog;
    } rcv[2] = {{"alertmanager", ds.am_on, ds.am_sent, ds.am_failed, ds.am_dropped,
                 ds.am_backlog},
                {"webhook", ds.wh_on, ds.wh_sent, ds.wh_failed, ds.wh_dropped, ds.wh_backlog}};
    for (int i = 0; i < 2; i++) {
        if (!rcv[i].on)
            continue;
        put(o, "vigil_alert_deliveries_total{receiver=\"%s\"} %llu\n", rcv[i].name,
            (unsigned long long)rcv[i].sent);
        put(o, "vigil_alert_delivery_failures_total{receiver=\"%s\"} %llu\n", rcv[i].name,
            (unsigned long long)rcv[i].failed);
        put(o, "vigil_alert_delivery_dropped_total{receiver=\"%s\"} %llu\n", rcv[i].name,
            (unsigned long long)(rcv[i].dropped + ds.offer_dropped));
        put(o, "vigil_alert_delivery_backlog{receiver=\"%s\"} %llu\n", rcv[i].name,
            (unsigned long long)rcv[i].backlog);
    }

    one(o, "vigil_process_cpu_seconds_total", "counter", "User and system CPU time used.",
        process_cpu_seconds());
    one(o, "vigil_process_resident_memory_bytes", "gauge", "Resident memory.",
        resident_bytes());
    one(o, "vigil_process_start_time_seconds", "gauge", "Start time (Unix time).",
        (double)h->start_wall_ms / 1000.0);
}

/* ---- requests ----------------------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             char *body, size_t len, bool owned)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (!r) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof line ? sizeof line - 1 : (size_t)n;
    return reply(c, status, "text/plain; charset=utf-8", line, len, false);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version, (void)upload_data, (void)upload_size, (void)con_cls;
    struct vigil_http *h = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
    const struct vigil_metrics *m = h->env.metrics;
    if (strcmp(url, "/metrics") == 0) {
        struct out o = {0};
        o.cap = 16384;
        o.buf = malloc(o.cap);
        if (!o.buf)
            return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        render_metrics(h, &o);
        if (o.oom) {
            free(o.buf);
            return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        }
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", o.buf, o.len,
                     true);
    }
    if (strcmp(url, "/healthz") == 0) {
        /* Relaxed: a heartbeat. */
        int64_t beat = atomic_load_explicit(&m->consumer_beat_ms, memory_order_relaxed);
        int64_t age = beat ? vigil_mono_ms() - beat : 0;
        if (age > HEALTHY_BEAT_MS)
            return text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                        "consumer loop has not turned for %lld s\n", (long long)age / 1000);
        return text(c, MHD_HTTP_OK, "ok\n");
    }
    if (strcmp(url, "/readyz") == 0) {
        probe(h);
        if (!atomic_load_explicit(&m->in_group, memory_order_relaxed))
            return text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                        "not ready: not in consumer group '%s' yet (no assignment)\n",
                        h->env.group);
        if (!h->redis_ok)
            return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: Redis does not answer: %s\n",
                        h->redis_err);
        if (!h->kafka_ok)
            return text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                        "not ready: no Kafka broker answers a metadata request\n");
        return text(c, MHD_HTTP_OK, "ready: %d partition(s) of %s\n",
                    (int)atomic_load_explicit(&m->assigned, memory_order_relaxed),
                    h->env.events_topic);
    }
    return text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics, /healthz or /readyz\n");
}

/* HOST:PORT or [V6]:PORT into a socket address. */
static int resolve(const char *listen, struct sockaddr_storage *sa, socklen_t *salen, char *err,
                   size_t errlen)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host || !colon[1]) {
        snprintf(err, errlen, "http.listen '%s': expected HOST:PORT", listen);
        return -1;
    }
    const char *hs = listen, *he = colon;
    if (*hs == '[' && he[-1] == ']') {
        hs++;
        he--;
    }
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
    if (rc != 0 || !ai) {
        snprintf(err, errlen, "http.listen '%s': %s", listen, gai_strerror(rc));
        return -1;
    }
    memcpy(sa, ai->ai_addr, ai->ai_addrlen);
    *salen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

struct vigil_http *vigil_http_create(const struct vigil_http_env *env, char *err, size_t errlen)
{
    struct vigil_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->env = *env;
    h->start_wall_ms = vigil_wall_ms();
    struct sockaddr_storage sa;
    socklen_t salen;
    if (resolve(env->listen, &sa, &salen, err, errlen) != 0)
        goto fail;
    int tmo = env->redis_timeout_ms < PROBE_TIMEOUT_MS ? env->redis_timeout_ms : PROBE_TIMEOUT_MS;
    h->redis = vigil_redis_create(env->redis_addr, env->redis_password_file, tmo, err, errlen);
    if (!h->redis)
        goto fail;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                              (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT,
                              (unsigned)10, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                              MHD_OPTION_END);
    if (!h->mhd) {
        snprintf(err, errlen, "cannot listen on %s (address in use or not local?)", env->listen);
        goto fail;
    }
    vigil_log_info("serving /metrics, /healthz and /readyz on http://%s", env->listen);
    return h;
fail:
    vigil_http_destroy(h);
    return NULL;
}

void vigil_http_destroy(struct vigil_http *h)
{
    if (!h)
        return;
    if (h->mhd)
        MHD_stop_daemon(h->mhd);
    vigil_redis_destroy(h->redis);
    free(h);
}

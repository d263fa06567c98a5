/* SPDX-License-Identifier: Apache-2.0 */
/* evidence.c - vigilctl evidence ORDER_ID: one self-contained JSON file on an order, for the
 * provider to hand to the authorities: the order, its alerts, the thresholds of the rule in
 * the configuration vigilctl is given, and the account's events in the rule's window, read
 * back from the events topic (vigil keeps no copy of traffic).
 *
 * Where things are read: the order from the orders topic (every partition, from its low to
 * its high watermark, until the order_id is found); the alerts from the alerts topic (every
 * partition, up to its high watermark); the events from every partition of the events topic
 * (scanning all of them needs no knowledge of the producers' partitioner), each from the
 * offset rd_kafka_offsets_for_times() gives for the window's start to the one it gives for
 * the window's end plus --lag-ms, and never past the high watermark seen at the start. Those
 * offsets follow the messages' Kafka timestamps (when the exporter wrote them); the events
 * are then chosen by their own `ts` and `account`.
 *
 * Threading: single-threaded; librdkafka runs its own threads behind its API.
 * Ownership: creates and destroys its own consumer, configuration and buffers. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "json.h"
#include "kafka_conf.h"
#include "vigil/config.h"
#include "vigil/detector.h"
#include "vigil/event.h"
#include "vigilctl.h"

#define EV_MAX_EVENTS 200000      /* events kept in one file; past it the file says incomplete */
#define EV_MAX_BYTES (256u << 20) /* ... and bytes of them (an event is at most 4 KiB) */
#define EV_MAX_ALERTS 10000
#define EV_MAX_PARTITIONS 4096
#define EV_DEFAULT_LAG_MS 600000
#define EV_DEFAULT_TIMEOUT_MS 30000
#define EV_HOUR_MS 3600000LL

/* How far before the order's event_ts a rule looks (README, "Detection rules"). Rules about
 * open calls ("open now") get the hour before: a call open longer than that shows with its
 * end, or not at all. */
static const struct {
    const char *rule;
    int64_t ms;
} rule_windows[] = {
    {"toll_fraud.concurrent_high_risk", EV_HOUR_MS},
    {"toll_fraud.velocity_high_risk", 15 * 60000LL},
    {"toll_fraud.spend_1h", EV_HOUR_MS},
    {"toll_fraud.sequential_dialling", 10 * 60000LL},
    {"toll_fraud.slow_high_risk", 24 * EV_HOUR_MS},
    {"bulk_sms.rate", 15 * 60000LL},
    {"bulk_sms.distinct_recipients", 15 * 60000LL},
    {"bulk_sms.same_body", 15 * 60000LL},
    {"continuous.single_call", 24 * EV_HOUR_MS},
    {"continuous.near_continuous", 24 * EV_HOUR_MS},
    {"premium.outbound", EV_HOUR_MS},
    {"premium.inbound_pumping", EV_HOUR_MS},
    {"premium.inbound_flagged_callers", EV_HOUR_MS},
    {"credit.limit", 24 * EV_HOUR_MS},
    {"credit.interim_invoice", 24 * EV_HOUR_MS},
};

void evidence_usage(FILE *f)
{
    fprintf(
        f,
        "Usage: vigilctl evidence --brokers LIST [--config FILE] [--set KEY=VALUE]...\n"
        "                         [--output FILE] [--lag-ms N] [--timeout-ms N] ORDER_ID\n"
        "\n"
        "Writes one JSON file on the order ORDER_ID for the authorities: the order (from\n"
        "kafka.orders_topic), its alerts and the account's other alerts of the same rule in\n"
        "the window (kafka.alerts_topic), the thresholds of the rule in the configuration\n"
        "given here (not necessarily the running vigild's), and the account's events of the\n"
        "rule's window read back from kafka.events_topic: from event_ts - the rule's window -\n"
        "vigild.disorder_ms to event_ts + vigild.disorder_ms. \"complete\": false and\n"
        "\"missing\" say when the topic no longer holds all of it. Prints a summary on stdout.\n"
        "The file holds personal data: it is created readable by its owner only.\n"
        "\n"
        "  -b, --brokers LIST   Kafka bootstrap servers\n"
        "  -o, --output FILE    the JSON file (default evidence-ORDER_ID.json)\n"
        "  -l, --lag-ms N       how long after its time an event may have been written to\n"
        "                       Kafka (default %d); later ones are not read\n"
        "  -t, --timeout-ms N   give up when Kafka delivers nothing for N ms (default %d)\n"
        "  -c, --config FILE    configuration file (topics, thresholds, librdkafka.*)\n"
        "  -s, --set KEY=VALUE  override one key\n"
        "Exit status: 0 written, 1 the order is not on the orders topic or Kafka failed,\n"
        "2 a bad flag.\n",
        EV_DEFAULT_LAG_MS, EV_DEFAULT_TIMEOUT_MS);
}

/* ---- a growing list of records (raw JSON values) ---------------------------------------- */

struct recs {
    char **v;
    size_t n, cap, bytes;
};

static int recs_add(struct recs *r, const void *s, size_t len)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        char **v = realloc(r->v, cap * sizeof *v);
        if (!v)
            return -1;
        r->v = v;
        r->cap = cap;
    }
    char *c = malloc(len + 1);
    if (!c)
        return -1;
    memcpy(c, s, len);
    c[len] = '\0';
    r->v[r->n++] = c;
    r->bytes += len;
    return 0;
}

static void recs_fini(struct recs *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i]);
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* ---- Kafka ------------------------------------------------------------------------------ */

/* Partitions of topic, or -1 after one line. */
static int ev_partitions(rd_kafka_t *rk, const char *topic, const char *brokers, int timeout_ms)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (e) {
        fail("cannot reach Kafka at %s: %s", brokers, rd_kafka_err2str(e));
        return -1;
    }
    int np = 0;
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, topic) == 0 && !md->topics[i].err)
            np = md->topics[i].partition_cnt;
    rd_kafka_metadata_destroy(md);
    if (np == 0)
        fail("topic %s does not exist at %s", topic, brokers);
    if (np > EV_MAX_PARTITIONS)
        np = EV_MAX_PARTITIONS;
    return np > 0 ? np : -1;
}

/* What is read of one partition: [start, end), and the watermarks. */
struct range {
    int64_t lo, hi, start, end;
    int64_t last_ts; /* probes: Kafka timestamp of the partition's last message, or -1 */
    size_t kept;
    bool done;
};

static int ev_watermarks(rd_kafka_t *rk, const char *topic, struct range *r, int np, int timeout_ms)
{
    for (int p = 0; p < np; p++) {
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(rk, topic, p, &r[p].lo, &r[p].hi, timeout_ms);
        if (e)
            return fail("cannot read the watermarks of %s/%d: %s", topic, p, rd_kafka_err2str(e));
        r[p].start = r[p].lo;
        r[p].end = r[p].hi;
        r[p].last_ts = -1;
    }
    return EXIT_OK;
}

/* Offsets of the first message of every partition written at or after ts (hi when none). */
static int ev_offsets_at(rd_kafka_t *rk, const char *topic, const struct range *r, int np,
                         int64_t ts, int64_t *out, int timeout_ms)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
    for (int p = 0; p < np; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = ts;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, l, timeout_ms);
    int rc = EXIT_OK;
    if (e)
        rc = fail("cannot look up offsets by time on %s: %s", topic, rd_kafka_err2str(e));
    for (int i = 0; rc == EXIT_OK && i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &l->elems[i];
        if (tp->err) {
            rc = fail("cannot look up offsets by time on %s/%d: %s", topic, (int)tp->partition,
                      rd_kafka_err2str(tp->err));
            break;
        }
        int p = tp->partition;
        /* -1: no message written at or after ts. */
        out[p] = tp->offset < 0 ? r[p].hi : tp->offset;
        if (out[p] < r[p].lo)
            out[p] = r[p].lo;
        if (out[p] > r[p].hi)
            out[p] = r[p].hi;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* Calls fn for every message of [start, end) of every partition; fn returns 0 to go on, 1 to
 * stop reading, -1 on a failure it has reported. An exit status. */
static int ev_read(rd_kafka_t *rk, const char *topic, struct range *r, int np, int timeout_ms,
                   int (*fn)(void *ctx, struct range *r, const rd_kafka_message_t *m), void *ctx)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
    int pending = 0;
    for (int p = 0; p < np; p++) {
        r[p].done = r[p].start >= r[p].end;
        if (!r[p].done) {
            rd_kafka_topic_partition_list_add(l, topic, p)->offset = r[p].start;
            pending++;
        }
    }
    int rc = EXIT_OK;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (pending > 0 && (e = rd_kafka_assign(rk, l)) != 0)
        rc = fail("cannot read %s: %s", topic, rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
    int64_t last = vigil_mono_ms();
    while (rc == EXIT_OK && pending > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            if (vigil_mono_ms() - last > timeout_ms)
                rc = fail("Kafka delivered nothing of %s for %d ms", topic, timeout_ms);
            continue;
        }
        last = vigil_mono_ms();
        int p = m->partition;
        bool ours = m->rkt && strcmp(rd_kafka_topic_name(m->rkt), topic) == 0 && p >= 0 && p < np &&
                    !r[p].done;
        if (!ours) {
            /* a message of an earlier assignment, or an error of none of ours */
        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            r[p].done = true;
            pending--;
        } else if (m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                   m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                   m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
            rc = fail("cannot read %s: %s", topic, rd_kafka_message_errstr(m));
        } else if (m->err) {
            /* transient (a broker reconnecting): librdkafka retries */
        } else if (m->offset >= r[p].end) {
            r[p].done = true;
            pending--;
        } else {
            int k = fn(ctx, &r[p], m);
            if (k < 0)
                rc = EXIT_FAIL;
            else if (k > 0)
                pending = 0;
            else if (m->offset + 1 >= r[p].end) {
                r[p].done = true;
                pending--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    return rc;
}

static int on_probe(void *ctx, struct range *r, const rd_kafka_message_t *m)
{
    (void)ctx;
    rd_kafka_timestamp_type_t type;
    r->last_ts = rd_kafka_message_timestamp(m, &type);
    return 0;
}

/* ---- what is collected ------------------------------------------------------------------ */

struct evidence {
    const char *order_id;
    char *order; /* the order's JSON */
    char account[VIGIL_ACCOUNT_MAX + 1];
    char rule[96], detector[64], action[32];
    int64_t event_ts, from_ts, to_ts;
    struct recs alerts, events;
    size_t alerts_dropped, events_dropped, invalid_skipped;
    struct vigil_parse_opts popts;
};

static int on_order(void *ctx, struct range *r, const rd_kafka_message_t *m)
{
    (void)r;
    struct evidence *ev = ctx;
    char id[128], action[32];
    if (!m->payload || vigil_json_field_str(m->payload, m->len, "order_id", id, sizeof id) < 0 ||
        strcmp(id, ev->order_id) != 0)
        return 0;
    /* a lift carries an order_id of its own, but may name the order it lifts elsewhere */
    if (vigil_json_field_str(m->payload, m->len, "action", action, sizeof action) < 0 ||
        strcmp(action, "lift") == 0)
        return 0;
    ev->order = malloc(m->len + 1);
    if (!ev->order) {
        fail("out of memory");
        return -1;
    }
    memcpy(ev->order, m->payload, m->len);
    ev->order[m->len] = '\0';
    return 1;
}

static int on_alert(void *ctx, struct range *r, const rd_kafka_message_t *m)
{
    struct evidence *ev = ctx;
    char acc[VIGIL_ACCOUNT_MAX + 1], id[128], rule[96];
    int64_t ts = 0;
    if (!m->payload || vigil_json_field_str(m->payload, m->len, "account", acc, sizeof acc) < 0 ||
        strcmp(acc, ev->account) != 0)
        return 0;
    bool names_order = vigil_json_field_str(m->payload, m->len, "order_id", id, sizeof id) >= 0 &&
                       strcmp(id, ev->order_id) == 0;
    bool same_rule = vigil_json_field_str(m->payload, m->len, "rule", rule, sizeof rule) >= 0 &&
                     strcmp(rule, ev->rule) == 0 &&
                     vigil_json_field_int(m->payload, m->len, "event_ts", &ts) == 0 &&
                     ts >= ev->from_ts && ts <= ev->to_ts;
    if (!names_order && !same_rule)
        return 0;
    if (ev->alerts.n >= EV_MAX_ALERTS) {
        ev->alerts_dropped++;
        return 0;
    }
    if (recs_add(&ev->alerts, m->payload, m->len) != 0) {
        fail("out of memory");
        return -1;
    }
    r->kept++;
    return 0;
}

static int on_event(void *ctx, struct range *r, const rd_kafka_message_t *m)
{
    struct evidence *ev = ctx;
    size_t alen = strlen(ev->account);
    /* The key is the account (events.md): most messages are skipped without parsing. */
    if (!m->key || m->key_len != alen || memcmp(m->key, ev->account, alen) != 0 || !m->payload)
        return 0;
    struct vigil_event e;
    struct vigil_parse_error perr;
    if (vigil_event_parse(m->payload, m->len, m->key, m->key_len, &ev->popts, &e, &perr) != 0) {
        ev->invalid_skipped++; /* a dead letter: on the dead-letter topic, not evidence */
        return 0;
    }
    if (strcmp(e.account, ev->account) != 0 || e.ts_ms < ev->from_ts || e.ts_ms > ev->to_ts)
        return 0;
    if (ev->events.n >= EV_MAX_EVENTS || ev->events.bytes + m->len > EV_MAX_BYTES) {
        ev->events_dropped++;
        return 0;
    }
    if (recs_add(&ev->events, m->payload, m->len) != 0) {
        fail("out of memory");
        return -1;
    }
    r->kept++;
    return 0;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* A JSON string of s (UTF-8 passed through, controls escaped). */
static void put_jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void put_time(FILE *f, const char *name, int64_t ms)
{
    char iso[40];
    iso_time(ms, iso, sizeof iso);
    fprintf(f, "\"%s_ts\":%lld,\"%s\":", name, (long long)ms, name);
    put_jstr(f, iso);
}

static void put_records(FILE *f, const char *name, const struct recs *r)
{
    fprintf(f, ",\n\"%s\":[", name);
    for (size_t i = 0; i < r->n; i++)
        fprintf(f, "%s\n%s", i ? "," : "", r->v[i]);
    fputs("]", f);
}

/* The rule's keys (name starting with the rule's), else every key of its detector. */
static void put_thresholds(FILE *f, const struct vigil_config *cfg, const char *detector,
                           const char *rule)
{
    const struct vigil_detector_ops *d = vigil_detector_find(detector);
    size_t rl = strlen(rule);
    bool any = false;
    for (int pass = 0; pass < 2 && !any && d && d->keys; pass++) {
        for (const struct vigil_config_key *k = d->keys; k->name; k++) {
            if (pass == 0 && strncmp(k->name, rule, rl) != 0)
                continue;
            fputs(any ? ",\n  " : "\n  ", f);
            put_jstr(f, k->name);
            fputc(':', f);
            put_jstr(f, vigil_config_text(cfg, k->name));
            any = true;
        }
    }
}

struct missing {
    char text[16][256];
    int n;
};

__attribute__((format(printf, 2, 3))) static void note_missing(struct missing *ms, const char *fmt,
                                                               ...)
{
    if (ms->n >= 16)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ms->text[ms->n++], sizeof ms->text[0], fmt, ap);
    va_end(ap);
}

static int write_file(const char *path, const struct evidence *ev, const struct vigil_config *cfg,
                      const char *topics[3], const struct range *er, int np, int64_t rule_ms,
                      int64_t disorder, const struct missing *ms, const struct missing *notes)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return fail("--output: path too long");
    /* Personal data: readable by its owner only, whatever the umask. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return fail("cannot create %s: %s", tmp, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return fail("cannot write %s: %s", tmp, strerror(errno));
    }
    fputs("{\"v\":1,\"kind\":\"vigil.evidence\",\"order_id\":", f);
    put_jstr(f, ev->order_id);
    fputc(',', f);
    put_time(f, "generated", vigil_wall_ms());
    fputs(",\n\"account\":", f);
    put_jstr(f, ev->account);
    fputs(",\"detector\":", f);
    put_jstr(f, ev->detector);
    fputs(",\"rule\":", f);
    put_jstr(f, ev->rule);
    fputs(",\"action\":", f);
    put_jstr(f, ev->action);
    fputs(",\n\"window\":{", f);
    put_time(f, "from", ev->from_ts);
    fputc(',', f);
    put_time(f, "to", ev->to_ts);
    fprintf(f, ",\"event_ts\":%lld,\"rule_window_ms\":%lld,\"disorder_ms\":%lld,\"basis\":",
            (long long)ev->event_ts, (long long)rule_ms, (long long)disorder);
    put_jstr(f, "event time: from the order's event_ts minus the rule's window and "
                "vigild.disorder_ms to event_ts plus vigild.disorder_ms");
    fprintf(f, "},\n\"complete\":%s,\"missing\":[", ms->n ? "false" : "true");
    for (int i = 0; i < ms->n; i++) {
        fputs(i ? "," : "", f);
        put_jstr(f, ms->text[i]);
    }
    fputs("],\"notes\":[", f);
    for (int i = 0; i < notes->n; i++) {
        fputs(i ? "," : "", f);
        put_jstr(f, notes->text[i]);
    }
    fputs("],\n\"order\":", f);
    fputs(ev->order, f);
    put_records(f, "alerts", &ev->alerts);
    fputs(",\n\"thresholds\":{\"source\":", f);
    put_jstr(f, "the configuration vigilctl evidence was given (--config and --set over the "
                "defaults) when the file was made, not necessarily the one the vigild that "
                "issued the order ran with");
    fputs(",\"values\":{", f);
    put_thresholds(f, cfg, ev->detector, ev->rule);
    fputs("}}", f);
    fprintf(f, ",\n\"event_count\":%zu", ev->events.n);
    put_records(f, "events", &ev->events);
    fputs(",\n\"sources\":{\"orders_topic\":", f);
    put_jstr(f, topics[0]);
    fputs(",\"alerts_topic\":", f);
    put_jstr(f, topics[1]);
    fputs(",\"events_topic\":", f);
    put_jstr(f, topics[2]);
    fputs(",\"events_read\":[", f);
    for (int p = 0; p < np; p++)
        fprintf(f,
                "%s\n {\"partition\":%d,\"low_watermark\":%lld,\"from_offset\":%lld,"
                "\"to_offset\":%lld,\"events_kept\":%zu}",
                p ? "," : "", p, (long long)er[p].lo, (long long)er[p].start, (long long)er[p].end,
                er[p].kept);
    fprintf(f, "],\"invalid_messages_skipped\":%zu}}\n", ev->invalid_skipped);
    bool bad = ferror(f) != 0;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        bad = true;
    if (fclose(f) != 0)
        bad = true;
    if (bad || rename(tmp, path) != 0) {
        int rc = fail("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return rc;
    }
    return EXIT_OK;
}

static void print_summary(const char *path, const struct evidence *ev, const struct missing *ms,
                          const struct missing *notes)
{
    char from[40], to[40], at[40];
    iso_time(ev->from_ts, from, sizeof from);
    iso_time(ev->to_ts, to, sizeof to);
    iso_time(ev->event_ts, at, sizeof at);
    printf("evidence for order %s written to %s\n", ev->order_id, path);
    printf("  account %s, action %s, rule %s, event time %s\n", ev->account, ev->action, ev->rule,
           at);
    printf("  window %s .. %s (event time)\n", from, to);
    printf("  %zu alerts, %zu events of the account in the window\n", ev->alerts.n, ev->events.n);
    if (ms->n == 0)
        printf("  complete: the events topic still holds the whole window\n");
    for (int i = 0; i < ms->n; i++)
        printf("  INCOMPLETE: %s\n", ms->text[i]);
    for (int i = 0; i < notes->n; i++)
        printf("  note: %s\n", notes->text[i]);
}

/* ---- the command ------------------------------------------------------------------------ */

int cmd_evidence(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'}, {"output", required_argument, NULL, 'o'},
        {"lag-ms", required_argument, NULL, 'l'},  {"timeout-ms", required_argument, NULL, 't'},
        {"config", required_argument, NULL, 'c'},  {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    struct cfg_opts co = {0};
    const char *brokers = NULL, *output = NULL;
    long long lag = EV_DEFAULT_LAG_MS, timeout = EV_DEFAULT_TIMEOUT_MS;
    int c, frc;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":b:o:l:t:c:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 'l':
            if (parse_int_flag("--lag-ms", optarg, 0, 30LL * 86400000, &lag) != 0)
                return EXIT_USAGE;
            break;
        case 't':
            if (parse_int_flag("--timeout-ms", optarg, 100, 3600000, &timeout) != 0)
                return EXIT_USAGE;
            break;
        default:
            if ((frc = common_flag(c, argv, &co, &brokers, NULL, evidence_usage)) != RUN_ON)
                return frc;
        }
    }
    if (!brokers || !*brokers)
        return usage_error("--brokers is required");
    if (optind != argc - 1)
        return usage_error(optind == argc ? "ORDER_ID is required" : "expected one ORDER_ID");
    const char *order_id = argv[optind];
    if (!*order_id || strlen(order_id) > 100)
        return usage_error("'%s' is not an order id", order_id);
    char defpath[160];
    if (!output) {
        snprintf(defpath, sizeof defpath, "evidence-%s.json", order_id);
        for (char *p = defpath; *p; p++)
            if (*p == '/')
                *p = '_';
        output = defpath;
    }

    struct vigil_config *cfg = NULL;
    int rc = cfg_load(&co, &cfg);
    if (rc != EXIT_OK)
        return rc;
    const char *topics[3] = {vigil_config_str(cfg, "kafka.orders_topic"),
                             vigil_config_str(cfg, "kafka.alerts_topic"),
                             vigil_config_str(cfg, "kafka.events_topic")};
    int64_t disorder = vigil_config_int(cfg, "vigild.disorder_ms");
    struct evidence ev = {.order_id = order_id};
    ev.popts.default_cc = vigil_config_str(cfg, "numbering.home_cc");
    struct range *r = calloc(EV_MAX_PARTITIONS, sizeof *r);
    struct range *probe = calloc(EV_MAX_PARTITIONS, sizeof *probe);
    int64_t *offs = calloc(EV_MAX_PARTITIONS, sizeof *offs);
    struct missing ms = {.n = 0}, notes = {.n = 0};
    char err[512];
    rd_kafka_t *rk = NULL;
    int np = 0;
    int64_t rule_ms = EV_HOUR_MS;
    if (!r || !probe || !offs) {
        rc = fail("out of memory");
        goto fail;
    }
    rk = reader_consumer(brokers, cfg, "evidence", true, err, sizeof err);
    if (!rk) {
        rc = usage_error("Kafka: %s", err);
        goto fail;
    }

    /* 1. The order. */
    if ((np = ev_partitions(rk, topics[0], brokers, (int)timeout)) < 0 ||
        (rc = ev_watermarks(rk, topics[0], r, np, (int)timeout)) != EXIT_OK ||
        (rc = ev_read(rk, topics[0], r, np, (int)timeout, on_order, &ev)) != EXIT_OK) {
        rc = EXIT_FAIL;
        goto fail;
    }
    if (!ev.order) {
        rc = fail("order %s is not on %s at %s", order_id, topics[0], brokers);
        goto fail;
    }
    size_t olen = strlen(ev.order);
    if (vigil_json_field_str(ev.order, olen, "account", ev.account, sizeof ev.account) < 0 ||
        vigil_json_field_str(ev.order, olen, "rule", ev.rule, sizeof ev.rule) < 0 ||
        vigil_json_field_int(ev.order, olen, "event_ts", &ev.event_ts) < 0) {
        rc = fail("order %s on %s has no account, rule or event_ts", order_id, topics[0]);
        goto fail;
    }
    if (vigil_json_field_str(ev.order, olen, "detector", ev.detector, sizeof ev.detector) < 0)
        ev.detector[0] = '\0';
    if (vigil_json_field_str(ev.order, olen, "action", ev.action, sizeof ev.action) < 0)
        ev.action[0] = '\0';
    for (size_t i = 0; i < sizeof rule_windows / sizeof rule_windows[0]; i++)
        if (strcmp(rule_windows[i].rule, ev.rule) == 0)
            rule_ms = rule_windows[i].ms;
    ev.from_ts = ev.event_ts - rule_ms - disorder;
    ev.to_ts = ev.event_ts + disorder;

    /* 2. Its alerts, and the account's other alerts of the rule in the window. */
    /* Every order has a critical alert: an alerts topic that cannot be read is a failure. */
    if ((np = ev_partitions(rk, topics[1], brokers, (int)timeout)) < 0) {
        rc = EXIT_FAIL;
        goto fail;
    }
    if ((rc = ev_watermarks(rk, topics[1], r, np, (int)timeout)) != EXIT_OK ||
        (rc = ev_read(rk, topics[1], r, np, (int)timeout, on_alert, &ev)) != EXIT_OK)
        goto fail;
    if (ev.alerts_dropped)
        note_missing(&ms, "%zu alerts beyond the first %d were left out", ev.alerts_dropped,
                     EV_MAX_ALERTS);

    /* 3. The account's events of the window, every partition of the events topic. */
    if ((np = ev_partitions(rk, topics[2], brokers, (int)timeout)) < 0) {
        rc = EXIT_FAIL;
        goto fail;
    }
    memset(r, 0, (size_t)np * sizeof *r);
    if ((rc = ev_watermarks(rk, topics[2], r, np, (int)timeout)) != EXIT_OK ||
        (rc = ev_offsets_at(rk, topics[2], r, np, ev.from_ts, offs, (int)timeout)) != EXIT_OK)
        goto fail;
    /* A broker answers "no message written at or after that time" with -1, and so does one
     * that cannot look offsets up by time at all (librdkafka's mock cluster, vigil-broker).
     * Told apart by the partition's last message: written at or after the window's start,
     * the answer was wrong, and the partition is read from its low watermark. */
    int unanswered = 0;
    for (int p = 0; p < np; p++) {
        r[p].start = offs[p];
        probe[p] = r[p];
        probe[p].start = r[p].hi - 1;
        if (offs[p] < r[p].hi || r[p].hi <= r[p].lo)
            probe[p].start = probe[p].end; /* nothing to probe */
    }
    /* A consumer of its own, so that no message fetched for a probe can reach the read of
     * the same partition below. */
    rd_kafka_t *pk = reader_consumer(brokers, cfg, "evidence", true, err, sizeof err);
    if (!pk) {
        rc = fail("Kafka: %s", err);
        goto fail;
    }
    rc = ev_read(pk, topics[2], probe, np, (int)timeout, on_probe, NULL);
    rd_kafka_consumer_close(pk);
    rd_kafka_destroy(pk);
    if (rc != EXIT_OK)
        goto fail;
    for (int p = 0; p < np; p++)
        if (probe[p].last_ts >= ev.from_ts) {
            r[p].start = r[p].lo;
            unanswered++;
        }
    if ((rc = ev_offsets_at(rk, topics[2], r, np, ev.to_ts + lag, offs, (int)timeout)) != EXIT_OK)
        goto fail;
    for (int p = 0; p < np; p++) {
        r[p].end = unanswered ? r[p].hi : offs[p];
        /* The log's first message is already from after the window's start, and messages
         * before it were deleted: some of the window may have gone with them. */
        if (r[p].lo > 0 && r[p].start == r[p].lo)
            note_missing(&ms,
                         "%s partition %d starts at offset %lld, written after the window's "
                         "start; earlier events (retention) may be missing",
                         topics[2], p, (long long)r[p].lo);
    }
    if (unanswered)
        note_missing(&notes,
                     "%s did not answer offset lookups by time: read from the start "
                     "of the log to its end",
                     brokers);
    if (ev.to_ts + lag > vigil_wall_ms())
        note_missing(&notes,
                     "the window ended less than --lag-ms (%lld ms) ago: events "
                     "written to %s after this file was made are not in it",
                     lag, topics[2]);
    if ((rc = ev_read(rk, topics[2], r, np, (int)timeout, on_event, &ev)) != EXIT_OK)
        goto fail;
    if (ev.events_dropped)
        note_missing(&ms, "%zu events beyond the first %zu (at most %d, %u MiB) were left out",
                     ev.events_dropped, ev.events.n, EV_MAX_EVENTS, EV_MAX_BYTES >> 20);

    if ((rc = write_file(output, &ev, cfg, topics, r, np, rule_ms, disorder, &ms, &notes)) ==
        EXIT_OK)
        print_summary(output, &ev, &ms, &notes);
fail:
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    free(ev.order);
    recs_fini(&ev.alerts);
    recs_fini(&ev.events);
    free(r);
    free(probe);
    free(offs);
    vigil_config_destroy(cfg);
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* tail.c - vigilctl tail: a topic's messages from its start (`tail TOPIC`), or with --follow
 * the orders, alerts and dead letters vigild writes from now on, as they come, one line each
 * for people (or the record itself with --json), filtered by account and rule.
 *
 * --follow reads the three topics from their current end (the high watermarks asked of the
 * broker before the first line); both read outside any group, committing nothing.
 *
 * Threading: single-threaded; librdkafka runs its own threads behind its API.
 * Ownership: creates and destroys its own consumer. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "json.h"
#include "kafka_conf.h"
#include "vigil/config.h"
#include "vigil/detector.h"
#include "vigil/event.h"
#include "vigilctl.h"

#define DEFAULT_TAIL_TIMEOUT_MS 3000

/* ---- tail ---------------------------------------------------------------------------- */

void tail_usage(FILE *f)
{
    fprintf(f,
            "Usage: vigilctl tail --brokers LIST --topic T [--timeout-ms N] [--max N] [--keys]\n"
            "                     [--config FILE] [--set KEY=VALUE]...\n"
            "\n"
            "Prints the messages of topic T from the beginning of every partition, one value\n"
            "per line, as they arrive (partitions interleave), until --max messages have been\n"
            "printed or --timeout-ms passes without a new one. Joins no consumer group and\n"
            "commits nothing.\n"
            "\n"
            "  -b, --brokers LIST   Kafka bootstrap servers (required)\n"
            "  -t, --topic T        topic to read (required)\n"
            "  -w, --timeout-ms N   stop after N ms of silence (default %d); also how long\n"
            "                       to wait for the topic to exist\n"
            "  -n, --max N          stop after N messages (default 0: no limit)\n"
            "  -k, --keys           print KEY<TAB>VALUE (an empty KEY for none)\n"
            "  -c, --config FILE    configuration file (its librdkafka.* keys)\n"
            "  -s, --set KEY=VALUE  override one configuration key, e.g.\n"
            "                       --set librdkafka.security.protocol=SASL_SSL (repeatable)\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 done; 1 Kafka unreachable or no such topic; 2 bad flag.\n"
            "\n",
            DEFAULT_TAIL_TIMEOUT_MS);
    tail_follow_usage(f);
}

/* Partitions of topic from the full metadata (which never auto-creates a topic): >0, 0 when
 * the topic is not there, or -1 (Kafka unreachable; *why filled). */
static int tail_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms,
                           rd_kafka_resp_err_t *why)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        *why = err;
        return -1;
    }
    int n = 0;
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, topic) == 0 &&
            md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            n = md->topics[i].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    return n;
}

static int tail_run(rd_kafka_t *rk, const char *brokers, const char *topic, int timeout_ms,
                    long long max, bool keys)
{
    int64_t deadline = vigil_mono_ms() + timeout_ms;
    rd_kafka_resp_err_t why = RD_KAFKA_RESP_ERR_NO_ERROR;
    int np;
    /* The topic may be about to appear (a producer creates it): wait up to the timeout. */
    for (;;) {
        int64_t left = deadline - vigil_mono_ms();
        np = tail_partitions(rk, topic, (int)(left < 100 ? 100 : left > 2000 ? 2000 : left), &why);
        if (np > 0 || vigil_mono_ms() >= deadline)
            break;
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (np < 0)
        return fail("cannot reach Kafka at %s: %s", brokers, rd_kafka_err2str(why));
    if (np == 0)
        return fail("topic %s does not exist at %s", topic, brokers);

    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(np);
    for (int i = 0; i < np; i++)
        rd_kafka_topic_partition_list_add(parts, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return fail("cannot read %s: %s", topic, rd_kafka_err2str(err));

    long long shown = 0;
    int64_t last_news = vigil_mono_ms();
    while (max == 0 || shown < max) {
        if (vigil_mono_ms() - last_news >= timeout_ms)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (keys) {
                if (m->key)
                    fwrite(m->key, 1, m->key_len, stdout);
                fputc('\t', stdout);
            }
            if (m->payload)
                fwrite(m->payload, 1, m->len, stdout);
            fputc('\n', stdout);
            /* Line by line: a demo or a script watching a pipe sees each message at once. */
            fflush(stdout);
            shown++;
            last_news = vigil_mono_ms();
        } else if (m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                   m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            int rc = fail("cannot read %s: %s", topic, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            return rc;
        }
        /* Other errors (partition EOF, a broker reconnecting) are transient: keep waiting. */
        rd_kafka_message_destroy(m);
    }
    if (ferror(stdout))
        return fail("cannot write the output: %s", strerror(errno));
    return EXIT_OK;
}

int cmd_tail(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"timeout-ms", required_argument, NULL, 'w'},
        {"max", required_argument, NULL, 'n'},
        {"keys", no_argument, NULL, 'k'},
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    for (int i = 1; i < argc; i++) /* tail.c: orders, alerts and dead letters from the end */
        if (strcmp(argv[i], "--follow") == 0 || strcmp(argv[i], "-f") == 0)
            return cmd_tail_follow(argc, argv);
    struct cfg_opts co = {0};
    const char *brokers = NULL, *topic = NULL;
    long long timeout = DEFAULT_TAIL_TIMEOUT_MS, max = 0;
    bool keys = false;
    int c, frc;
    while ((c = getopt_long(argc, argv, ":b:t:w:n:kc:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            topic = optarg;
            break;
        case 'w':
            if (parse_int_flag("--timeout-ms", optarg, 1, 3600000, &timeout) != 0)
                return EXIT_USAGE;
            break;
        case 'n':
            if (parse_int_flag("--max", optarg, 0, LLONG_MAX, &max) != 0)
                return EXIT_USAGE;
            break;
        case 'k':
            keys = true;
            break;
        default:
            if ((frc = common_flag(c, argv, &co, &brokers, NULL, tail_usage)) != RUN_ON)
                return frc;
        }
    }
    if (!brokers || !*brokers)
        return usage_error("--brokers is required");
    if (!topic || !*topic)
        return usage_error("--topic is required");
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);

    struct vigil_config *cfg = NULL;
    int rc = cfg_load(&co, &cfg);
    if (rc != EXIT_OK)
        return rc;
    char err[512];
    rd_kafka_t *rk = reader_consumer(brokers, cfg, "tail", false, err, sizeof err);
    vigil_config_destroy(cfg);
    if (!rk)
        return usage_error("Kafka: %s", err);
    rc = tail_run(rk, brokers, topic, (int)timeout, max, keys);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

#define QUERY_TIMEOUT_MS 10000

static volatile sig_atomic_t follow_stop;

static void on_stop(int sig)
{
    (void)sig;
    follow_stop = 1;
}

void tail_follow_usage(FILE *f)
{
    fprintf(f,
            "Usage: vigilctl tail --follow --brokers LIST [--account A] [--rule R] [--json]\n"
            "                     [--max N] [--config FILE] [--set KEY=VALUE]...\n"
            "\n"
            "Prints every order, alert and dead letter written from now on (kafka.orders_topic,\n"
            "kafka.alerts_topic, kafka.dlq_topic, read from their end), as it comes, until\n"
            "SIGINT/SIGTERM or --max lines. One line each for people:\n"
            "  2026-11-02T09:00:35Z ORDER  acc-1042  block_international  RULE  ord-...  REASON\n"
            "  2026-11-02T09:00:35Z ALERT  acc-1042  critical  RULE  alr-...  REASON\n"
            "  2026-11-02T09:00:35Z DEAD   json_syntax  vigil.events/3@1234  DETAIL\n"
            "  2026-11-02T09:05:00Z LIFT   acc-1042  block_international  ord-...  by OPERATOR\n"
            "(the time is when vigil wrote it, UTC; alerts add [order ORD], [held CAUSE] or\n"
            "[would order ACTION]). First prints one line starting with '#' once it follows.\n"
            "\n"
            "  -f, --follow         this mode\n"
            "  -a, --account A      only records of account A (dead letters: keyed A)\n"
            "  -r, --rule R         only orders and alerts of rule R (or detector R)\n"
            "  -j, --json           print each record's JSON as written, one per line\n"
            "  -n, --max N          stop after N records (default 0: no limit)\n");
}

/* Every partition of the topics at its current high watermark. */
static int follow_assign(rd_kafka_t *rk, const char *const topics[3], const char *brokers)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, QUERY_TIMEOUT_MS);
    if (e)
        return fail("cannot reach Kafka at %s: %s", brokers, rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
    int rc = EXIT_OK;
    for (int t = 0; t < 3 && rc == EXIT_OK; t++) {
        int np = 0;
        for (int i = 0; i < md->topic_cnt; i++)
            if (strcmp(md->topics[i].topic, topics[t]) == 0 && !md->topics[i].err)
                np = md->topics[i].partition_cnt;
        for (int p = 0; p < np; p++) {
            int64_t lo = 0, hi = 0;
            e = rd_kafka_query_watermark_offsets(rk, topics[t], p, &lo, &hi, QUERY_TIMEOUT_MS);
            if (e) {
                rc = fail("cannot read the end of %s: %s", topics[t], rd_kafka_err2str(e));
                break;
            }
            rd_kafka_topic_partition_list_add(parts, topics[t], p)->offset = hi;
        }
    }
    rd_kafka_metadata_destroy(md);
    if (rc == EXIT_OK && parts->cnt == 0)
        rc = fail("none of %s, %s, %s exists at %s", topics[0], topics[1], topics[2], brokers);
    if (rc == EXIT_OK && (e = rd_kafka_assign(rk, parts)) != 0)
        rc = fail("cannot read: %s", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}

/* One record for people, or NULL-filtered: returns false when the filters drop it. */
static bool show(FILE *out, int kind, const rd_kafka_message_t *m, const char *account,
                 const char *rule, bool json)
{
    const char *v = m->payload;
    size_t len = m->len;
    char acc[VIGIL_ACCOUNT_MAX + 1], r[96], det[64], action[32], id[96], reason[512];
    char sev[32], extra[160], when[40], order[96];
    int64_t ts = 0;
    vigil_json_field_str(v, len, "account", acc, sizeof acc);
    if (kind == 2 && !acc[0] && m->key) /* dead letters: the original key */
        snprintf(acc, sizeof acc, "%.*s",
                 (int)(m->key_len < sizeof acc - 1 ? m->key_len : sizeof acc - 1),
                 (const char *)m->key);
    vigil_json_field_str(v, len, "rule", r, sizeof r);
    vigil_json_field_str(v, len, "detector", det, sizeof det);
    if (account && strcmp(acc, account) != 0)
        return false;
    if (rule && strcmp(r, rule) != 0 && strcmp(det, rule) != 0)
        return false;
    if (json) {
        put_text(out, v, len);
        fputc('\n', out);
        return true;
    }
    rd_kafka_timestamp_type_t tstype;
    int64_t kts = rd_kafka_message_timestamp(m, &tstype);
    if (vigil_json_field_int(v, len, "ts", &ts) < 0)
        ts = kts;
    iso_time(ts, when, sizeof when);
    vigil_json_field_str(v, len, "reason", reason, sizeof reason);
    vigil_json_field_str(v, len, "action", action, sizeof action);
    if (kind == 0 && strcmp(action, "lift") == 0) {
        char lifts[32], op[128];
        vigil_json_field_str(v, len, "lifts", lifts, sizeof lifts);
        vigil_json_field_str(v, len, "lifted_order_id", id, sizeof id);
        vigil_json_field_str(v, len, "operator", op, sizeof op);
        fprintf(out, "%s LIFT   %s  %s  %s  by %s\n", when, acc, lifts, id[0] ? id : "-",
                op[0] ? op : "-");
    } else if (kind == 0) {
        vigil_json_field_str(v, len, "order_id", id, sizeof id);
        fprintf(out, "%s ORDER  %s  %s  %s  %s  %s\n", when, acc, action, r, id, reason);
    } else if (kind == 1) {
        vigil_json_field_str(v, len, "alert_id", id, sizeof id);
        vigil_json_field_str(v, len, "severity", sev, sizeof sev);
        vigil_json_field_str(v, len, "order_id", order, sizeof order);
        extra[0] = '\0';
        char held[32], would[32];
        vigil_json_field_str(v, len, "held", held, sizeof held);
        vigil_json_field_str(v, len, "would_order", would, sizeof would);
        if (held[0])
            snprintf(extra, sizeof extra, "  [held %s: order %s]", held, order);
        else if (would[0])
            snprintf(extra, sizeof extra, "  [would order %s]", would);
        else if (order[0])
            snprintf(extra, sizeof extra, "  [order %s]", order);
        fprintf(out, "%s ALERT  %s  %s  %s  %s  %s%s\n", when, acc[0] ? acc : "-", sev, r, id,
                reason, extra);
    } else {
        char detail[512], topic[128];
        int64_t part = -1, off = -1;
        vigil_json_field_str(v, len, "detail", detail, sizeof detail);
        vigil_json_field_str(v, len, "topic", topic, sizeof topic);
        vigil_json_field_int(v, len, "partition", &part);
        vigil_json_field_int(v, len, "offset", &off);
        if (kts > 0) /* a dead letter carries no time of its own: the message's */
            iso_time(kts, when, sizeof when);
        fprintf(out, "%s DEAD   %s  %s/%lld@%lld  %s  %s\n", when, reason, topic, (long long)part,
                (long long)off, acc[0] ? acc : "-", detail);
    }
    return true;
}

int cmd_tail_follow(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"follow", no_argument, NULL, 'f'},        {"brokers", required_argument, NULL, 'b'},
        {"account", required_argument, NULL, 'a'}, {"rule", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},          {"max", required_argument, NULL, 'n'},
        {"config", required_argument, NULL, 'c'},  {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    struct cfg_opts co = {0};
    const char *brokers = NULL, *account = NULL, *rule = NULL;
    bool json = false;
    long long max = 0;
    int c, frc;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":fb:a:r:jn:c:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            break;
        case 'a':
            account = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'n':
            if (parse_int_flag("--max", optarg, 0, 1000000000, &max) != 0)
                return EXIT_USAGE;
            break;
        case 'r':
            rule = optarg;
            break;
        default:
            if ((frc = common_flag(c, argv, &co, &brokers, NULL, tail_follow_usage)) != RUN_ON)
                return frc;
        }
    }
    if (!brokers || !*brokers)
        return usage_error("--brokers is required");
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    struct vigil_config *cfg = NULL;
    int rc = cfg_load(&co, &cfg);
    if (rc != EXIT_OK)
        return rc;
    const char *topics[3] = {vigil_config_str(cfg, "kafka.orders_topic"),
                             vigil_config_str(cfg, "kafka.alerts_topic"),
                             vigil_config_str(cfg, "kafka.dlq_topic")};
    char err[512];
    rd_kafka_t *rk = reader_consumer(brokers, cfg, "follow", false, err, sizeof err);
    if (!rk) {
        vigil_config_destroy(cfg);
        return usage_error("Kafka: %s", err);
    }
    rc = follow_assign(rk, topics, brokers);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (rc == EXIT_OK && !json) {
        printf("# following %s, %s, %s at %s%s%s%s%s\n", topics[0], topics[1], topics[2], brokers,
               account ? "; account " : "", account ? account : "", rule ? "; rule " : "",
               rule ? rule : "");
        fflush(stdout);
    }
    long long shown = 0;
    while (rc == EXIT_OK && !follow_stop && (max == 0 || shown < max)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err) {
            const char *t = rd_kafka_topic_name(m->rkt);
            int kind = strcmp(t, topics[0]) == 0 ? 0 : strcmp(t, topics[1]) == 0 ? 1 : 2;
            if (show(stdout, kind, m, account, rule, json)) {
                fflush(stdout); /* a person or a pipe sees each record at once */
                shown++;
            }
        }
        rd_kafka_message_destroy(m);
        if (ferror(stdout))
            rc = fail("cannot write the output");
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    vigil_config_destroy(cfg);
    return rc;
}

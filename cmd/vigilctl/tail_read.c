/* SPDX-License-Identifier: Apache-2.0 */
/* tail_read.c - `vigilctl tail TOPIC`: a Kafka topic's messages from the start (tail.c: --follow).
 *
 * Threading: single-threaded, like the whole program. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "kafka_conf.h"
#include "vigil/detector.h"
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

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

static rd_kafka_t *tail_consumer(const char *brokers, const struct vigil_config *cfg, char *err,
                                 size_t errlen)
{
    char group[64];
    /* librdkafka 2.0 refuses assign() without a group.id; nothing joins or commits. */
    snprintf(group, sizeof group, "vigilctl-tail-%ld", (long)getpid());
    const char *const defaults[] = {
        "allow.auto.create.topics", "false", "client.id", "vigilctl", "log_level", "2", NULL};
    const char *const owned[] = {
        "bootstrap.servers",        brokers, "group.id", group, "enable.auto.commit", "false",
        "enable.auto.offset.store", "false", NULL};
    rd_kafka_conf_t *conf = vigil_kafka_conf_create(cfg, defaults, owned, err, errlen);
    if (!conf)
        return NULL;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (!rk)
        rd_kafka_conf_destroy(conf); /* rd_kafka_new frees conf only on success */
    return rk;
}

static int tail_run(rd_kafka_t *rk, const char *brokers, const char *topic, int timeout_ms,
                    long long max, bool keys)
{
    int64_t deadline = mono_ms() + timeout_ms;
    rd_kafka_resp_err_t why = RD_KAFKA_RESP_ERR_NO_ERROR;
    int np;
    /* The topic may be about to appear (a producer creates it): wait up to the timeout. */
    for (;;) {
        int64_t left = deadline - mono_ms();
        np = tail_partitions(rk, topic, (int)(left < 100 ? 100 : left > 2000 ? 2000 : left), &why);
        if (np > 0 || mono_ms() >= deadline)
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
    int64_t last_news = mono_ms();
    while (max == 0 || shown < max) {
        if (mono_ms() - last_news >= timeout_ms)
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
            last_news = mono_ms();
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
    int c;
    while ((c = getopt_long(argc, argv, ":b:t:w:n:kc:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            co.path = optarg;
            break;
        case 's':
            if (cfg_add_set(&co, optarg) != 0)
                return EXIT_USAGE;
            break;
        case 'b':
            brokers = optarg;
            break;
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
        case 'h':
            tail_usage(stdout);
            return EXIT_OK;
        default:
            return bad_flag(c, argv);
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
    rd_kafka_t *rk = tail_consumer(brokers, cfg, err, sizeof err);
    vigil_config_destroy(cfg);
    if (!rk)
        return usage_error("Kafka: %s", err);
    rc = tail_run(rk, brokers, topic, (int)timeout, max, keys);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

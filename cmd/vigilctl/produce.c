/* SPDX-License-Identifier: Apache-2.0 */
/* produce.c - `vigilctl produce`: a JSON-lines file to a Kafka topic, keyed by account.
 *
 * Threading: single-threaded, like the whole program. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "json.h"
#include "kafka_conf.h"
#include "kafka_out.h"
#include "vigil/detector.h"
#include "vigil/status.h"
#include "vigilctl.h"

#define PRODUCE_LINE_MAX (1 << 20) /* lines above this are sent without looking for a key */
#define PROGRESS_EVERY 100000
#define DEFAULT_PRODUCE_TIMEOUT_MS 30000

/* ---- produce ------------------------------------------------------------------------- */

void produce_usage(FILE *f)
{
    fprintf(f,
            "Usage: vigilctl produce --brokers LIST [--topic T] [--config FILE]\n"
            "                        [--set KEY=VALUE]... [--timeout-ms N] FILE\n"
            "\n"
            "Sends each non-empty line of FILE (or - for stdin) as one Kafka message, keyed by\n"
            "the line's top-level \"account\" string (no key when there is none), waits for every\n"
            "delivery report, and prints \"produced N messages to T\". Progress goes to stderr\n"
            "every %d lines.\n"
            "\n"
            "  -b, --brokers LIST   Kafka bootstrap servers (required)\n"
            "  -t, --topic T        topic (default: kafka.events_topic, vigil.events)\n"
            "  -c, --config FILE    configuration file (kafka.events_topic, librdkafka.*)\n"
            "  -s, --set KEY=VALUE  override one configuration key (repeatable)\n"
            "  -w, --timeout-ms N   how long to wait for the last delivery reports (default %d)\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 every message delivered; 1 unreadable input or a message not\n"
            "confirmed delivered; 2 bad flag.\n",
            PROGRESS_EVERY, DEFAULT_PRODUCE_TIMEOUT_MS);
}

static int produce_stream(struct vigil_kafka_out *ko, FILE *in, const char *name, const char *topic,
                          const char *brokers, int timeout_ms)
{
    struct vigil_json d = {0};
    char key[4 * VIGIL_ACCOUNT_MAX + 1];
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    uint64_t lineno = 0, sent = 0;
    int rc = EXIT_OK;

    while (rc == EXIT_OK && (got = getline(&line, &cap, in)) != -1) {
        size_t n = (size_t)got;
        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            n--;
        if (n == 0)
            continue;
        int klen = n <= PRODUCE_LINE_MAX ? account_of(&d, line, n, key, sizeof key) : -1;
        for (;;) {
            int krc = vigil_kafka_out_produce(ko, topic, klen > 0 ? key : NULL,
                                              klen > 0 ? (size_t)klen : 0, line, n);
            if (krc == VIGIL_ERR_FULL) {
                /* librdkafka's queue is full: serve delivery reports and try again. */
                vigil_kafka_out_flush(ko, 100);
                continue;
            }
            if (krc != 0)
                rc = fail("line %" PRIu64 ": %s", lineno, vigil_kafka_out_errstr(ko));
            break;
        }
        if (rc != EXIT_OK)
            break;
        sent++;
        if (sent % PROGRESS_EVERY == 0) {
            fprintf(stderr, "%s: %" PRIu64 " messages queued\n", prog, sent);
            vigil_kafka_out_poll(ko);
        }
    }
    if (rc == EXIT_OK && ferror(in))
        rc = fail("cannot read %s: %s", name, strerror(errno));
    if (rc == EXIT_OK) {
        int krc = vigil_kafka_out_flush(ko, timeout_ms);
        if (krc != 0)
            rc = fail("not every one of the %" PRIu64 " messages was confirmed delivered to %s "
                      "at %s within %d ms (%s)",
                      sent, topic, brokers, timeout_ms,
                      krc == VIGIL_ERR_TIMEOUT ? "no delivery report" : vigil_kafka_out_errstr(ko));
    }
    if (rc == EXIT_OK)
        printf("produced %" PRIu64 " messages to %s\n", sent, topic);
    free(line);
    vigil_json_fini(&d);
    return rc;
}

int cmd_produce(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"timeout-ms", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cfg_opts co = {0};
    const char *brokers = NULL, *topic = NULL;
    long long timeout = DEFAULT_PRODUCE_TIMEOUT_MS;
    int c, frc;
    while ((c = getopt_long(argc, argv, ":b:t:c:s:w:h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            topic = optarg;
            break;
        case 'w':
            if (parse_int_flag("--timeout-ms", optarg, 100, 3600000, &timeout) != 0)
                return EXIT_USAGE;
            break;
        default:
            if ((frc = common_flag(c, argv, &co, &brokers, NULL, produce_usage)) != RUN_ON)
                return frc;
        }
    }
    if (!brokers || !*brokers)
        return usage_error("--brokers is required");
    if (topic && !*topic)
        return usage_error("--topic needs a name");
    if (argc - optind != 1)
        return usage_error(optind == argc ? "FILE is required (- for stdin)" : "expected one FILE");

    struct vigil_config *cfg = NULL;
    int rc = cfg_load(&co, &cfg);
    if (rc != EXIT_OK)
        return rc;
    if (!topic)
        topic = vigil_config_str(cfg, "kafka.events_topic");
    const char *path = argv[optind];
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *in = is_stdin ? stdin : fopen(path, "r");
    if (!in) {
        rc = fail("cannot open %s: %s", path, strerror(errno));
        vigil_config_destroy(cfg);
        return rc;
    }
    char err[512];
    static const char *const extra[] = {"client.id", "vigilctl", "log_level", "2", NULL};
    struct vigil_kafka_out *ko = vigil_kafka_out_create(brokers, cfg, extra, err, sizeof err);
    if (!ko)
        rc = usage_error("Kafka: %s", err);
    else
        rc = produce_stream(ko, in, is_stdin ? "stdin" : path, topic, brokers, (int)timeout);
    vigil_kafka_out_destroy(ko);
    if (!is_stdin)
        fclose(in);
    vigil_config_destroy(cfg);
    return rc;
}

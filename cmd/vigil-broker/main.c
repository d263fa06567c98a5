/* SPDX-License-Identifier: Apache-2.0 */
/* main.c - vigil-broker: librdkafka's mock Kafka cluster on loopback, in its own process
 *
 * The first line of stdout is the bootstrap list; everything else (progress, librdkafka
 * logs) goes to stderr, so a script or test can read one line and hand it to clients.
 * With --control, stdin takes one fault-injection command per line and each gets exactly
 * one reply line on stdout ("ok" or "error: ...").
 *
 * Threading: the mock cluster runs on librdkafka's own threads; the main thread only waits
 * for signals and control commands. SIGTERM/SIGINT are blocked before any thread exists so
 * that they are delivered to the signalfd and never to a librdkafka thread.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "version.h"

#define MAX_BROKERS 16
#define MAX_TOPICS 64
#define MAX_PARTITIONS 1024
#define MAX_TOPIC_NAME 249 /* Kafka's own limit */
#define EXIT_USAGE 2

struct topic_spec {
    char name[MAX_TOPIC_NAME + 1];
    int partitions;
};

struct options {
    int brokers;
    int rtt_ms;
    bool control;
    const char *debug;
    int ntopics;
    struct topic_spec topics[MAX_TOPICS];
};

static const struct topic_spec default_topics[] = {
    {"vigil.events", 8},
    {"vigil.orders", 1},
    {"vigil.alerts", 1},
    {"vigil.dlq", 1},
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: vigil-broker [OPTIONS]\n"
            "Run librdkafka's mock Kafka cluster on 127.0.0.1 until SIGTERM or SIGINT.\n"
            "The first line of stdout is the bootstrap list (127.0.0.1:PORT,...); logs go to\n"
            "stderr. Nothing is persisted: topics and offsets vanish when the process ends.\n"
            "\n"
            "Options:\n"
            "  --brokers N             number of brokers, 1..%d (default 3)\n"
            "  --topic NAME:PARTITIONS create this topic (repeatable). When given, only these\n"
            "                          topics are created; default: vigil.events:8,\n"
            "                          vigil.orders:1, vigil.alerts:1, vigil.dlq:1\n"
            "  --rtt-ms MS             add MS of round-trip latency to every broker\n"
            "  --control               read fault-injection commands from stdin, one per line;\n"
            "                          each gets one reply line on stdout: 'ok' or 'error: ...'\n"
            "  --debug CONTEXTS        librdkafka debug contexts (e.g. mock,protocol) to stderr\n"
            "  --help                  show this help and exit\n"
            "  --version               print the version and the commit it was built from\n"
            "\n"
            "Control commands (with --control):\n"
            "  down BROKER             drop the broker's connections and refuse new ones\n"
            "                          (partition leadership does not move)\n"
            "  up BROKER               accept connections again\n"
            "  rtt BROKER MS           set a broker's round-trip latency\n"
            "  leader TOPIC PART ID    move a partition's leader (ID -1: leaderless)\n"
            "  topic NAME:PARTITIONS   create a topic now\n"
            "  topic-error TOPIC ERR   make metadata for TOPIC fail with Kafka error code ERR\n"
            "                          (0 clears)\n"
            "  errors APIKEY ERR CNT   fail the next CNT requests of Kafka API APIKEY\n"
            "                          (e.g. 0 Produce, 8 OffsetCommit) with error code ERR\n"
            "\n"
            "BROKER is an id from 1 to N, or 'all'. Topics are created with replication\n"
            "factor min(3, N). The mock cluster auto-creates an unknown topic (4 partitions)\n"
            "as soon as any client asks for its metadata, consumers included, whatever their\n"
            "allow.auto.create.topics says. It keeps about 5 MiB or 100000 message sets per\n"
            "partition and drops older data silently.\n",
            MAX_BROKERS);
}

/* Parses a whole decimal int in [lo, hi]; anything else (empty, trailing junk) fails. */
static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    long v;

    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static bool valid_topic_name(const char *s, size_t len)
{
    if (len == 0 || len > MAX_TOPIC_NAME)
        return false;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* "NAME:PARTITIONS" -> spec. On failure, *why says what was wrong. */
static int parse_topic(const char *arg, struct topic_spec *t, const char **why)
{
    const char *colon = strrchr(arg, ':');
    size_t len;

    if (colon == NULL) {
        *why = "expected NAME:PARTITIONS";
        return -1;
    }
    len = (size_t)(colon - arg);
    if (!valid_topic_name(arg, len)) {
        *why = "topic names are 1..249 characters of [a-zA-Z0-9._-]";
        return -1;
    }
    if (parse_int(colon + 1, 1, MAX_PARTITIONS, &t->partitions) != 0) {
        *why = "partitions must be a number from 1 to 1024";
        return -1;
    }
    memcpy(t->name, arg, len);
    t->name[len] = '\0';
    return 0;
}

/* Returns 0, 1 for --help (exit 0), 2 for --version (exit 0), or -1 after printing one line on stderr (exit 2). */
static int parse_args(int argc, char **argv, struct options *o)
{
    o->brokers = 3;
    o->rtt_ms = 0;
    o->control = false;
    o->debug = NULL;
    o->ntopics = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        const char *eq = NULL;
        char flag[32];
        const char *why;

        /* Accept both "--flag value" and "--flag=value". */
        if (strncmp(a, "--", 2) == 0 && (eq = strchr(a, '=')) != NULL &&
            (size_t)(eq - a) < sizeof(flag)) {
            memcpy(flag, a, (size_t)(eq - a));
            flag[eq - a] = '\0';
            a = flag;
            val = eq + 1;
        }

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            return 1;
        } else if (strcmp(a, "--version") == 0 && val == NULL) {
            return 2;
        } else if (strcmp(a, "--control") == 0 && val == NULL) {
            o->control = true;
            continue;
        } else if (strcmp(a, "--brokers") != 0 && strcmp(a, "--topic") != 0 &&
                   strcmp(a, "--rtt-ms") != 0 && strcmp(a, "--debug") != 0) {
            fprintf(stderr, "vigil-broker: unknown option '%s' (see --help)\n", argv[i]);
            return -1;
        }

        if (val == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "vigil-broker: option '%s' needs a value (see --help)\n", a);
                return -1;
            }
            val = argv[++i];
        }

        if (strcmp(a, "--brokers") == 0) {
            if (parse_int(val, 1, MAX_BROKERS, &o->brokers) != 0) {
                fprintf(stderr, "vigil-broker: --brokers '%s': expected a number from 1 to %d\n",
                        val, MAX_BROKERS);
                return -1;
            }
        } else if (strcmp(a, "--rtt-ms") == 0) {
            if (parse_int(val, 0, 60000, &o->rtt_ms) != 0) {
                fprintf(stderr, "vigil-broker: --rtt-ms '%s': expected 0 to 60000\n", val);
                return -1;
            }
        } else if (strcmp(a, "--debug") == 0) {
            o->debug = val;
        } else {
            struct topic_spec *t;

            if (o->ntopics == MAX_TOPICS) {
                fprintf(stderr, "vigil-broker: at most %d --topic options\n", MAX_TOPICS);
                return -1;
            }
            t = &o->topics[o->ntopics];
            if (parse_topic(val, t, &why) != 0) {
                fprintf(stderr, "vigil-broker: --topic '%s': %s\n", val, why);
                return -1;
            }
            for (int k = 0; k < o->ntopics; k++) {
                if (strcmp(o->topics[k].name, t->name) == 0) {
                    fprintf(stderr, "vigil-broker: --topic '%s' given twice\n", t->name);
                    return -1;
                }
            }
            o->ntopics++;
        }
    }

    if (o->ntopics == 0) {
        o->ntopics = (int)(sizeof(default_topics) / sizeof(default_topics[0]));
        memcpy(o->topics, default_topics, sizeof(default_topics));
    }
    return 0;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    /* The host handle has no bootstrap.servers on purpose (it never connects anywhere);
     * librdkafka's warning about that would only mislead whoever reads the log. */
    if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "bootstrap.servers") != NULL)
        return;
    fprintf(stderr, "vigil-broker: rdkafka %d %s: %s\n", level, fac, buf);
}

/* The handle only hosts the mock cluster (librdkafka needs one for its bookkeeping); it
 * never produces anything itself. */
static rd_kafka_t *host_handle_create(const struct options *o)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;

    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (o->debug != NULL &&
        rd_kafka_conf_set(conf, "debug", o->debug, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "vigil-broker: --debug '%s': %s\n", o->debug, errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        /* rd_kafka_new() frees conf only on success. */
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "vigil-broker: cannot create librdkafka handle: %s\n", errstr);
    }
    return rk;
}

static int create_topic(rd_kafka_mock_cluster_t *mc, const struct topic_spec *t, int brokers,
                        char *why, size_t whylen)
{
    int rf = brokers < 3 ? brokers : 3;
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, t->name, t->partitions, rf);

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(why, whylen, "cannot create topic %s: %s", t->name, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

/* A broker id for a control command: 1..brokers, or "all" (-1 to librdkafka). */
static int parse_broker(const char *s, const struct options *o, int *id)
{
    if (strcmp(s, "all") == 0) {
        *id = -1;
        return 0;
    }
    return parse_int(s, 1, o->brokers, id);
}

/* Splits a command line into at most max words in place; returns the count. */
static int split_words(char *line, char **words, int max)
{
    int n = 0;
    char *save = NULL;

    for (char *w = strtok_r(line, " \t\r\n", &save); w != NULL && n < max;
         w = strtok_r(NULL, " \t\r\n", &save))
        words[n++] = w;
    return n;
}

/* Runs one control command; writes the reason into why and returns -1 on failure. */
static int run_command(rd_kafka_mock_cluster_t *mc, const struct options *o, char *line, char *why,
                       size_t whylen)
{
    char *w[5];
    int n = split_words(line, w, 5);
    int id, a, b;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

    if (n == 0) {
        snprintf(why, whylen, "empty command");
        return -1;
    }
    if (strcmp(w[0], "down") == 0 || strcmp(w[0], "up") == 0) {
        if (n != 2 || parse_broker(w[1], o, &id) != 0)
            goto usage;
        err = w[0][0] == 'd' ? rd_kafka_mock_broker_set_down(mc, id)
                             : rd_kafka_mock_broker_set_up(mc, id);
    } else if (strcmp(w[0], "rtt") == 0) {
        if (n != 3 || parse_broker(w[1], o, &id) != 0 || parse_int(w[2], 0, 60000, &a) != 0)
            goto usage;
        err = rd_kafka_mock_broker_set_rtt(mc, id, a);
    } else if (strcmp(w[0], "leader") == 0) {
        if (n != 4 || !valid_topic_name(w[1], strlen(w[1])) ||
            parse_int(w[2], 0, MAX_PARTITIONS - 1, &a) != 0 ||
            parse_int(w[3], -1, o->brokers, &id) != 0 || id == 0)
            goto usage;
        err = rd_kafka_mock_partition_set_leader(mc, w[1], a, id);
    } else if (strcmp(w[0], "topic") == 0) {
        struct topic_spec t;
        const char *reason;

        if (n != 2)
            goto usage;
        if (parse_topic(w[1], &t, &reason) != 0) {
            snprintf(why, whylen, "%s", reason);
            return -1;
        }
        return create_topic(mc, &t, o->brokers, why, whylen);
    } else if (strcmp(w[0], "topic-error") == 0) {
        if (n != 3 || !valid_topic_name(w[1], strlen(w[1])) ||
            parse_int(w[2], -1000, 1000, &a) != 0)
            goto usage;
        rd_kafka_mock_topic_set_error(mc, w[1], (rd_kafka_resp_err_t)a);
    } else if (strcmp(w[0], "errors") == 0) {
        rd_kafka_resp_err_t errs[64];

        if (n != 4 || parse_int(w[1], 0, 100, &a) != 0 || parse_int(w[2], -1000, 1000, &b) != 0 ||
            parse_int(w[3], 1, 64, &id) != 0)
            goto usage;
        for (int i = 0; i < id; i++)
            errs[i] = (rd_kafka_resp_err_t)b;
        rd_kafka_mock_push_request_errors_array(mc, (int16_t)a, (size_t)id, errs);
    } else {
        snprintf(why, whylen, "unknown command '%s' (see --help)", w[0]);
        return -1;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(why, whylen, "%s", rd_kafka_err2str(err));
        return -1;
    }
    return 0;

usage:
    snprintf(why, whylen, "bad arguments for '%s' (see --help)", w[0]);
    return -1;
}

/* Reads whatever stdin has and runs each complete line. Returns -1 once stdin is closed. */
static int serve_stdin(rd_kafka_mock_cluster_t *mc, const struct options *o, char *buf, size_t cap,
                       size_t *len)
{
    ssize_t got = read(STDIN_FILENO, buf + *len, cap - 1 - *len);
    char *nl;

    if (got < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (got == 0)
        return -1;
    *len += (size_t)got;
    buf[*len] = '\0';

    while ((nl = strchr(buf, '\n')) != NULL) {
        char why[512];
        size_t used = (size_t)(nl - buf) + 1;

        *nl = '\0';
        if (run_command(mc, o, buf, why, sizeof(why)) == 0) {
            printf("ok\n");
        } else {
            printf("error: %s\n", why);
            fprintf(stderr, "vigil-broker: control: %s\n", why);
        }
        fflush(stdout);
        memmove(buf, buf + used, *len - used + 1);
        *len -= used;
    }
    if (*len == cap - 1) {
        /* A line longer than the buffer cannot be a valid command: drop it. */
        printf("error: command too long\n");
        fflush(stdout);
        *len = 0;
    }
    return 0;
}

/* Waits for SIGTERM/SIGINT, serving control commands meanwhile. */
static void wait_for_stop(int sfd, rd_kafka_mock_cluster_t *mc, const struct options *o)
{
    char buf[1024];
    size_t len = 0;
    bool stdin_open = o->control;

    for (;;) {
        struct pollfd pfd[2] = {
            {.fd = sfd, .events = POLLIN},
            {.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN},
        };
        struct signalfd_siginfo si;

        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "vigil-broker: poll: %s\n", strerror(errno));
            return;
        }
        if (pfd[0].revents & POLLIN) {
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                fprintf(stderr, "vigil-broker: %s, shutting down\n", strsignal((int)si.ssi_signo));
                return;
            }
        }
        if (stdin_open && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (serve_stdin(mc, o, buf, sizeof(buf), &len) != 0) {
                /* The controller went away; the cluster keeps serving until a signal. */
                stdin_open = false;
            }
        }
    }
}

int main(int argc, char **argv)
{
    struct options o;
    sigset_t stop;
    int sfd = -1;
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    int rc = 1;
    char why[512];

    switch (parse_args(argc, argv, &o)) {
    case 1:
        usage(stdout);
        return 0;
    case 2:
        vigil_print_version("vigil-broker");
        return 0;
    case -1:
        return EXIT_USAGE;
    default:
        break;
    }

    /* Block the stop signals before librdkafka starts threads: they inherit the mask, so
     * the signals stay pending for our signalfd instead of hitting a random thread. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0) {
        fprintf(stderr, "vigil-broker: cannot block signals\n");
        return 1;
    }
    sfd = signalfd(-1, &stop, SFD_CLOEXEC);
    if (sfd < 0) {
        fprintf(stderr, "vigil-broker: signalfd: %s\n", strerror(errno));
        return 1;
    }
    /* A controller that closed our stdout must not kill the cluster with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);

    rk = host_handle_create(&o);
    if (rk == NULL)
        goto fail;
    mc = rd_kafka_mock_cluster_new(rk, o.brokers);
    if (mc == NULL) {
        fprintf(stderr, "vigil-broker: cannot start the mock cluster\n");
        goto fail;
    }
    for (int i = 0; i < o.ntopics; i++) {
        if (create_topic(mc, &o.topics[i], o.brokers, why, sizeof(why)) != 0) {
            fprintf(stderr, "vigil-broker: %s\n", why);
            goto fail;
        }
    }
    for (int id = 1; o.rtt_ms > 0 && id <= o.brokers; id++) {
        if (rd_kafka_mock_broker_set_rtt(mc, id, o.rtt_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "vigil-broker: cannot set rtt on broker %d\n", id);
            goto fail;
        }
    }

    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    if (fflush(stdout) != 0) {
        fprintf(stderr, "vigil-broker: cannot write the bootstrap list: %s\n", strerror(errno));
        goto fail;
    }
    fprintf(stderr, "vigil-broker: %d broker(s) on %s, %d topic(s):", o.brokers,
            rd_kafka_mock_cluster_bootstraps(mc), o.ntopics);
    for (int i = 0; i < o.ntopics; i++)
        fprintf(stderr, " %s:%d", o.topics[i].name, o.topics[i].partitions);
    fprintf(stderr, "\n");

    wait_for_stop(sfd, mc, &o);
    rc = 0;

fail:
    if (mc != NULL)
        rd_kafka_mock_cluster_destroy(mc);
    if (rk != NULL)
        rd_kafka_destroy(rk);
    close(sfd);
    return rc;
}

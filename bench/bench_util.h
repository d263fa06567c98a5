/* SPDX-License-Identifier: Apache-2.0 */
/* bench_util.h - what the end-to-end benchmarks share: the child processes they run on
 * loopback (vigil-broker, redis-server, vigil-sim, vigild) in one temp dir, clocks, flags,
 * librdkafka handles. Not a benchmark itself (bench/CMakeLists.txt leaves it out of the
 * programs and links it into each).
 *
 * Threading: for the main thread, except bench_say() and bench_now_s(), which any thread may
 * call. Children are started with PR_SET_PDEATHSIG so they die with the benchmark.
 * Ownership: a child started with bench_child_start() stays registered until bench_cleanup()
 * stops it: the caller keeps its struct bench_child alive (a static) until then. */
#ifndef VIGIL_BENCH_UTIL_H
#define VIGIL_BENCH_UTIL_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>

#define BENCH_EVENTS_TOPIC "vigil.events"
#define BENCH_ORDERS_TOPIC "vigil.orders"
#define BENCH_MAX_PARTS 1024
#define BENCH_DIR_MAX (PATH_MAX - 64) /* room for "/vigil-broker" in a PATH_MAX buffer */
#define BENCH_SIM_RATE_PER_ACCOUNT_MIN 0.045 /* vigil-sim: ~720 k events / 10 k accounts / day */

/* Set by SIGINT and SIGTERM once bench_init() ran; loops poll it. */
extern volatile sig_atomic_t bench_stop;

/* Names messages after `prog`, installs the SIGINT/SIGTERM handlers, ignores SIGPIPE. */
void bench_init(const char *prog);

/* One line on stderr, "<prog>: ...". */
void bench_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

double bench_now_s(void); /* CLOCK_MONOTONIC seconds */
void bench_sleep_ms(int ms);
double bench_proc_cpu_s(pid_t pid); /* utime + stime of a live process, or -1 */
int bench_free_port(void);          /* a loopback TCP port free just now, or -1 */
/* Idle and total jiffies of the whole machine (/proc/stat), for the share left idle. */
void bench_machine_jiffies(double *idle, double *total);

/* Parses a positive integer flag value; says why and returns -1 otherwise. */
int bench_parse_long(const char *flag, const char *s, long *out);

/* The directory of the running program (where the build puts vigild and friends), or ".". */
void bench_self_dir(char *out, size_t n);

/* Creates <$TMPDIR or /tmp>/vigil-bench-XXXXXX for logs and Redis' dir. 0 or -1. */
int bench_tmp_create(void);
const char *bench_tmp_dir(void);

struct bench_child {
    const char *name;
    pid_t pid;  /* 0 when not running */
    int out_fd; /* read end of its stdout pipe, or -1 */
    char log[PATH_MAX];
    int status;       /* exit status once reaped (128+N for signal N) */
    struct rusage ru; /* once reaped */
};
#define BENCH_CHILD(n) {.name = (n), .out_fd = -1}

/* Starts argv with stderr (and stdout unless pipe_out) to <tmp>/<name>.log; with pipe_out
 * its stdout is c->out_fd. 0 or -1. */
int bench_child_start(struct bench_child *c, char *const argv[], bool pipe_out);
/* True when the child is gone (reaped now or before). */
bool bench_child_reap(struct bench_child *c, bool block);
/* Closes out_fd, SIGTERM, waits up to timeout_ms, then SIGKILL. The exit status or -1. */
int bench_child_stop(struct bench_child *c, int timeout_ms);
void bench_child_dump_log(const struct bench_child *c, int max_lines);
/* Stops every child ever started, newest first; removes the temp dir unless keep_tmp. */
void bench_cleanup(bool keep_tmp);

/* vigil-broker with vigil.events:<partitions> and vigil.orders, vigil.alerts, vigil.dlq of
 * one partition each; its bootstrap list into bootstrap[n]. 0 or -1. */
int bench_start_broker(struct bench_child *c, const char *bin_dir, long partitions, char *bootstrap,
                       size_t n);
/* redis-server on a free loopback port without persistence, in the temp dir. 0 or -1. */
int bench_start_redis(struct bench_child *c, const char *server, int *port);
/* `vigil-sim --accounts N --duration MIN --quiet --out OUT`; with out NULL its stdout is
 * c->out_fd (--out -). 0 or -1. */
int bench_start_sim(struct bench_child *c, const char *bin_dir, long accounts, long minutes,
                    const char *out);
/* vigild --brokers --redis 127.0.0.1:<port> --group --workers, with
 * kafka.session_timeout_ms=6000 and then every `sets` entry as --set (at most 32). */
int bench_start_vigild(struct bench_child *c, const char *bin_dir, const char *bootstrap,
                       int redis_port, const char *group, long workers, const char *const *sets,
                       int n_sets);

/* A librdkafka client from NULL-terminated key/value pairs; says why and returns NULL. */
rd_kafka_t *bench_kafka_new(rd_kafka_type_t type, const char *const *props);

/* Delivery reports of a producer whose opaque is a struct bench_produce_state (counts only,
 * on the thread that polls the producer; messages purged on purpose count as neither). */
struct bench_produce_state {
    long delivered, failed;
};
void bench_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

/* The "account" value of a JSON event line: *acc points into line. 0 or -1. */
int bench_event_account(const char *line, const char **acc, size_t *len);

/* From the last "status: R read, V valid, D dead letters, O orders, A alerts, F durable
 * flushes" line of vigild's log; -1 each when there is none. */
struct bench_vigild_status {
    long long read, dead, orders, alerts, flushes;
};
void bench_vigild_status(const char *log, struct bench_vigild_status *st);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* bench_e2e.c - how close does vigild come to a bare Kafka consumer, end to end, on the same
 * machine, topic and messages, in one run?
 *
 * 1. Starts vigil-broker (events topic with --partitions partitions) and a redis-server on a
 *    free loopback port (no persistence), both in a temp dir.
 * 2. Runs `vigil-sim --accounts N --out -` and produces its first --events lines to the
 *    events topic keyed by account (our own producer, so the count is exact), waits for
 *    every delivery, and checks with the partitions' watermarks that the mock broker kept
 *    every message (it keeps only ~5 MiB per partition).
 * 3. (a) bare: a librdkafka high-level consumer in a fresh group that only counts messages
 *    until it has all of them. Wall time, and its CPU (getrusage of this process, which runs
 *    nothing else meanwhile).
 *    (b) vigild --workers W --group bench-<pid>: the time until the group's committed offsets
 *    (rd_kafka_committed every 100 ms, without joining) cover every message, and its CPU
 *    from /proc/<pid>/stat. Redis: commands per event from INFO stats
 *    (total_commands_processed before and after); round trips from vigild's last status
 *    line (durable flushes: each sends the Redis batch in at most one pipelined round trip;
 *    Redis' own total_writes_processed counts socket writes, several per large reply).
 *    vigild runs with kafka.commit_interval_ms=100 (default 1000) so that the commit point
 *    follows processing closely enough to time it; everything else is default.
 * 4. SIGTERM everything, remove the temp dir.
 *
 * Rates: "net" excludes the group join. Bare: from its first message to its last. vigild:
 * from the first observation of a committed offset to the observation that covers all,
 * counting the messages in between (both ends lag processing by the same flush + commit
 * interval, so the lag cancels). "gross" is from process/consumer start, join included.
 * CPU per event: bare from consumer creation to its last message; vigild from its start to
 * the moment its offsets covered everything (join idle time included, a small part).
 *
 * Prints one line:
 *   bench_e2e events=.. partitions=.. workers=.. bare_mev_s=.. vigild_mev_s=.. ratio=..
 *   bare_cpu_s_per_mev=.. vigild_cpu_s_per_mev=.. cpu_ratio=.. join_s=.. ...
 * Asserts nothing about speed. Exits 1 when something could not be started or vigild did
 * not commit everything within --timeout-s.
 * Threading: single-threaded (librdkafka runs its own threads). Children are started with
 * PR_SET_PDEATHSIG so they die with this process. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#define EVENTS_TOPIC "vigil.events"
#define MAX_PARTS 1024
#define SIM_RATE_PER_ACCOUNT_MIN 0.045 /* vigil-sim: ~720 k events / 10 k accounts / day */

/* ---- options ---------------------------------------------------------------------------- */

struct opts {
    char bin_dir[PATH_MAX - 64]; /* room for "/vigil-broker" in a PATH_MAX buffer */
    const char *redis_server;
    long events, accounts, partitions, workers, timeout_s, commit_ms;
    bool keep_tmp;
    const char *sets[16]; /* extra vigild --set KEY=VALUE */
    int n_sets;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_e2e [--events N] [--accounts N] [--partitions N] [--workers N]\n"
            "                 [--commit-interval-ms MS] [--timeout-s S] [--bin-dir DIR]\n"
            "                 [--redis-server PATH] [--set KEY=VALUE]... [--keep-tmp]\n"
            "Runs vigil-broker, redis-server, vigil-sim and vigild on loopback and compares, on\n"
            "the same topic and messages, a bare librdkafka consumer that only counts with\n"
            "vigild (time until its committed offsets cover every message). Prints one line:\n"
            "  bench_e2e events=.. bare_mev_s=.. vigild_mev_s=.. ratio=.. cpu_ratio=.. ...\n"
            "  --events N             messages produced (default 1000000)\n"
            "  --accounts N           vigil-sim background accounts (default 10000)\n"
            "  --partitions N         partitions of vigil.events (default 96; the mock broker\n"
            "                         keeps ~5 MiB per partition: keep events x 260 B /\n"
            "                         partitions well below that)\n"
            "  --workers N            vigild --workers (default 2)\n"
            "  --commit-interval-ms MS  vigild kafka.commit_interval_ms (default 100, so the\n"
            "                         commit point can be timed; vigild's own default is 1000)\n"
            "  --timeout-s S          give up on a phase after S seconds (default 90)\n"
            "  --bin-dir DIR          where vigil-broker, vigil-sim, vigild are (default: the\n"
            "                         directory of this program)\n"
            "  --redis-server PATH    redis-server to run (default: redis-server from PATH)\n"
            "  --set KEY=VALUE        passed on to vigild as --set (repeatable, at most 16), to\n"
            "                         compare settings\n"
            "  --keep-tmp             keep the temp dir with the children's logs\n"
            "Progress goes to stderr. Asserts nothing about speed.\n");
}

/* ---- small helpers ---------------------------------------------------------------------- */

static volatile sig_atomic_t g_stop;
static char g_tmp[PATH_MAX - 64];

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_e2e: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_stop)
        ;
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* utime + stime of a live child from /proc/<pid>/stat, or -1. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* comm may contain spaces */
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    /* After ") ": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
     * utime stime (fields 3..15). */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Idle and total jiffies of the whole machine (/proc/stat "cpu" line), for the share of
 * the cores left idle during a phase. */
static void machine_jiffies(double *idle, double *total)
{
    unsigned long long v[10] = {0};
    *idle = *total = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) == 8) {
        for (int i = 0; i < 8; i++)
            *total += (double)v[i];
        *idle = (double)(v[3] + v[4]);
    }
    fclose(f);
}

struct phase_cpu {
    double broker0, idle0, total0;
    double broker_s, idle_share;
};

static void phase_begin(struct phase_cpu *pc, pid_t broker)
{
    pc->broker0 = proc_cpu_s(broker);
    machine_jiffies(&pc->idle0, &pc->total0);
}

static void phase_end(struct phase_cpu *pc, pid_t broker)
{
    double idle, total;
    pc->broker_s = proc_cpu_s(broker) - pc->broker0;
    machine_jiffies(&idle, &total);
    pc->idle_share = total > pc->total0 ? (idle - pc->idle0) / (total - pc->total0) : 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* ---- children --------------------------------------------------------------------------- */

struct child {
    const char *name;
    pid_t pid;     /* 0 when not running */
    int out_fd;    /* read end of its stdout pipe, or -1 */
    char log[PATH_MAX];
    int status;    /* exit status once reaped (128+N for signal N) */
    struct rusage ru; /* once reaped */
};

static struct child broker_c = {.name = "vigil-broker", .out_fd = -1};
static struct child redis_c = {.name = "redis-server", .out_fd = -1};
static struct child sim_c = {.name = "vigil-sim", .out_fd = -1};
static struct child vigild_c = {.name = "vigild", .out_fd = -1};
static struct child *const all_children[] = {&vigild_c, &sim_c, &redis_c, &broker_c};

/* Starts argv with stderr (and stdout unless pipe_out) to <tmp>/<name>.log. */
static int child_start(struct child *c, char *const argv[], bool pipe_out)
{
    int pfd[2] = {-1, -1};
    snprintf(c->log, sizeof c->log, "%s/%s.log", g_tmp, c->name);
    int log_fd = open(c->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0 || (pipe_out && pipe2(pfd, O_CLOEXEC) != 0)) {
        say("cannot set up %s: %s", c->name, strerror(errno));
        if (log_fd >= 0)
            close(log_fd);
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        say("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, STDIN_FILENO);
        dup2(pipe_out ? pfd[1] : log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
        execvp(argv[0], argv);
        dprintf(log_fd, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(log_fd);
    if (pipe_out) {
        close(pfd[1]);
        c->out_fd = pfd[0];
    }
    c->pid = pid;
    return 0;
}

static bool child_reap(struct child *c, bool block)
{
    if (c->pid <= 0)
        return true;
    int st;
    pid_t r = wait4(c->pid, &st, block ? 0 : WNOHANG, &c->ru);
    if (r == c->pid) {
        c->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        c->pid = 0;
        return true;
    }
    return r < 0; /* not our child any more: treat as gone */
}

/* SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the exit status or -1. */
static int child_stop(struct child *c, int timeout_ms)
{
    if (c->out_fd >= 0) {
        close(c->out_fd);
        c->out_fd = -1;
    }
    if (c->pid <= 0)
        return c->status;
    kill(c->pid, SIGTERM);
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (child_reap(c, false))
            return c->status;
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    say("%s did not stop within %d ms: killing it", c->name, timeout_ms);
    kill(c->pid, SIGKILL);
    child_reap(c, true);
    return -1;
}

static void dump_log(const struct child *c, int max_lines)
{
    FILE *f = fopen(c->log, "r");
    if (!f)
        return;
    char *lines[64] = {0};
    char buf[1024];
    int n = 0;
    if (max_lines > 64)
        max_lines = 64;
    while (fgets(buf, sizeof buf, f)) {
        free(lines[n % max_lines]);
        lines[n % max_lines] = strdup(buf);
        n++;
    }
    fclose(f);
    fprintf(stderr, "---- last lines of %s (%s)\n", c->name, c->log);
    for (int i = n > max_lines ? n - max_lines : 0; i < n; i++)
        fputs(lines[i % max_lines] ? lines[i % max_lines] : "", stderr);
    for (int i = 0; i < max_lines; i++)
        free(lines[i]);
}

static void cleanup(const struct opts *o)
{
    for (size_t i = 0; i < sizeof all_children / sizeof all_children[0]; i++)
        child_stop(all_children[i], 10000);
    if (g_tmp[0]) {
        if (o->keep_tmp)
            say("logs kept in %s", g_tmp);
        else
            nftw(g_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

/* Reads one line from fd (unbuffered, byte by byte: used once, for the bootstrap list). */
static int read_line(int fd, char *buf, size_t n, int timeout_ms)
{
    size_t len = 0;
    double deadline = now_s() + timeout_ms / 1000.0;
    while (len + 1 < n && !g_stop) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)((deadline - now_s()) * 1000);
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return -1;
        char ch;
        if (read(fd, &ch, 1) != 1)
            return -1;
        if (ch == '\n')
            break;
        buf[len++] = ch;
    }
    buf[len] = '\0';
    return (int)len;
}

/* ---- Redis ------------------------------------------------------------------------------ */

/* INFO stats counters; the INFO command itself counts as one command and one write. */
static int redis_stats(int port, long long *commands, long long *writes)
{
    redisContext *rc = redisConnect("127.0.0.1", port);
    if (!rc || rc->err) {
        if (rc)
            redisFree(rc);
        return -1;
    }
    redisReply *r = redisCommand(rc, "INFO stats");
    int ok = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *p = strstr(r->str, "total_commands_processed:");
        const char *q = strstr(r->str, "total_writes_processed:");
        if (p && q) {
            *commands = atoll(p + strlen("total_commands_processed:"));
            *writes = atoll(q + strlen("total_writes_processed:"));
            ok = 0;
        }
    }
    if (r)
        freeReplyObject(r);
    redisFree(rc);
    return ok;
}

static int redis_ping(int port)
{
    redisContext *rc = redisConnect("127.0.0.1", port);
    int ok = -1;
    if (rc && !rc->err) {
        redisReply *r = redisCommand(rc, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS ? 0 : -1;
        if (r)
            freeReplyObject(r);
    }
    if (rc)
        redisFree(rc);
    return ok;
}

static int start_redis(const struct opts *o, int *port_out)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        int port = free_port();
        if (port < 0)
            continue;
        char port_s[16];
        snprintf(port_s, sizeof port_s, "%d", port);
        char *argv[] = {(char *)o->redis_server, "--port", port_s, "--bind", "127.0.0.1",
                        "--save", "", "--appendonly", "no", "--dir", g_tmp,
                        "--daemonize", "no", NULL};
        if (child_start(&redis_c, argv, false) != 0)
            return -1;
        for (int i = 0; i < 100 && !g_stop; i++) {
            if (redis_ping(port) == 0) {
                *port_out = port;
                return 0;
            }
            if (child_reap(&redis_c, false))
                break; /* the port was taken meanwhile: try another */
            sleep_ms(50);
        }
        child_stop(&redis_c, 2000);
    }
    say("redis-server did not start");
    dump_log(&redis_c, 10);
    return -1;
}

/* ---- Kafka ------------------------------------------------------------------------------ */

static rd_kafka_t *kafka_new(rd_kafka_type_t type, const char *const *props)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (const char *const *p = props; *p; p += 2) {
        if (rd_kafka_conf_set(conf, p[0], p[1], err, sizeof err) != RD_KAFKA_CONF_OK) {
            say("librdkafka %s=%s: %s", p[0], p[1], err);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) {
        say("rd_kafka_new: %s", err);
        return NULL;
    }
    return rk;
}

struct produce_state {
    long delivered, failed;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct produce_state *ps = opaque;
    if (m->err) {
        if (ps->failed++ == 0)
            say("delivery failed: %s", rd_kafka_err2str(m->err));
    } else {
        ps->delivered++;
    }
}

/* vigil-sim's JSON lines, the first `events` of them, to the events topic keyed by account. */
static int produce_events(const struct opts *o, const char *bootstrap, double *seconds)
{
    long minutes = (long)(1.5 * (double)o->events /
                          ((double)o->accounts * SIM_RATE_PER_ACCOUNT_MIN)) + 60;
    if (minutes > 43200)
        minutes = 43200;
    char acc_s[32], min_s[32], sim[PATH_MAX];
    snprintf(acc_s, sizeof acc_s, "%ld", o->accounts);
    snprintf(min_s, sizeof min_s, "%ld", minutes);
    snprintf(sim, sizeof sim, "%s/vigil-sim", o->bin_dir);
    char *argv[] = {sim, "--accounts", acc_s, "--duration", min_s, "--quiet", "--out", "-", NULL};
    if (child_start(&sim_c, argv, true) != 0)
        return -1;

    struct produce_state ps = {0};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512];
    const char *props[] = {"bootstrap.servers", bootstrap, "client.id", "bench-producer",
                           "linger.ms", "20", "queue.buffering.max.messages", "500000", NULL};
    for (const char *const *p = props; *p; p += 2)
        rd_kafka_conf_set(conf, p[0], p[1], err, sizeof err);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &ps);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        say("producer: %s", err);
        return -1;
    }
    FILE *in = fdopen(sim_c.out_fd, "r");
    if (!in) {
        rd_kafka_destroy(rk);
        return -1;
    }
    sim_c.out_fd = -1; /* owned by `in` now */
    char *line = NULL;
    size_t cap = 0;
    long sent = 0;
    double t0 = now_s(), last = t0;
    ssize_t len;
    while (sent < o->events && !g_stop && (len = getline(&line, &cap, in)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        const char *a = strstr(line, "\"account\":\"");
        if (!a)
            continue;
        a += strlen("\"account\":\"");
        const char *e = strchr(a, '"');
        if (!e)
            continue;
        for (;;) {
            rd_kafka_resp_err_t r =
                rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(EVENTS_TOPIC),
                                  RD_KAFKA_V_KEY(a, (size_t)(e - a)),
                                  RD_KAFKA_V_VALUE(line, (size_t)len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (r == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (r != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                say("produce: %s", rd_kafka_err2str(r));
                goto fail;
            }
            rd_kafka_poll(rk, 10);
        }
        sent++;
        rd_kafka_poll(rk, 0);
        if (now_s() - last > 2.0) {
            say("produced %ld/%ld", sent, o->events);
            last = now_s();
        }
    }
    fclose(in);
    in = NULL;
    child_stop(&sim_c, 5000); /* it may still be writing events we do not need */
    if (sent < o->events) {
        say("vigil-sim gave only %ld events; raise --accounts", sent);
        goto fail;
    }
    while (rd_kafka_outq_len(rk) > 0 && !g_stop && now_s() - t0 < o->timeout_s)
        rd_kafka_poll(rk, 100);
    *seconds = now_s() - t0;
    free(line);
    rd_kafka_destroy(rk);
    if (ps.delivered != o->events) {
        say("only %ld of %ld messages were delivered", ps.delivered, o->events);
        return -1;
    }
    return 0;
fail:
    if (in)
        fclose(in);
    free(line);
    rd_kafka_destroy(rk);
    return -1;
}

/* Checks that the broker still holds every message (offsets 0..), via the watermarks. */
static int check_retention(const struct opts *o, const char *bootstrap)
{
    const char *props[] = {"bootstrap.servers", bootstrap, "group.id", "bench-watermarks", NULL};
    rd_kafka_t *rk = kafka_new(RD_KAFKA_CONSUMER, props);
    if (!rk)
        return -1;
    long total = 0, dropped = 0, max_part = 0;
    int rc = 0;
    for (int32_t p = 0; p < o->partitions; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(rk, EVENTS_TOPIC, p, &lo, &hi, 10000);
        if (e) {
            say("watermarks of partition %d: %s", p, rd_kafka_err2str(e));
            rc = -1;
            break;
        }
        total += (long)(hi - lo);
        dropped += (long)lo;
        if (hi - lo > max_part)
            max_part = (long)(hi - lo);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (rc == 0 && (dropped > 0 || total != o->events)) {
        say("the broker holds %ld of %ld messages (%ld dropped by its ~5 MiB per partition "
            "retention): use more --partitions or fewer --events",
            total, o->events, dropped);
        return -1;
    }
    if (rc == 0)
        say("broker holds all %ld messages (largest partition %ld)", total, max_part);
    return rc;
}

struct bare_result {
    double join_s, net_s, gross_s, cpu_s;
    struct phase_cpu pc; /* from the first message to the last */
};

static int run_bare(const struct opts *o, const char *bootstrap, struct bare_result *res)
{
    char group[64];
    snprintf(group, sizeof group, "bench-bare-%d", (int)getpid());
    double cpu0 = self_cpu_s(), t0 = now_s();
    const char *props[] = {"bootstrap.servers", bootstrap, "group.id", group,
                           "client.id", "bench-bare", "auto.offset.reset", "earliest",
                           "enable.auto.commit", "false", NULL};
    rd_kafka_t *rk = kafka_new(RD_KAFKA_CONSUMER, props);
    if (!rk)
        return -1;
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, EVENTS_TOPIC, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        say("subscribe: %s", rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return -1;
    }
    long n = 0;
    double t_first = 0, t_last = 0, last_progress = now_s(), last_report = t0;
    while (n < o->events && !g_stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        double t = now_s();
        if (!m) {
            if (t - last_progress > o->timeout_s) {
                say("bare consumer: no message for %ld s after %ld", o->timeout_s, n);
                break;
            }
            continue;
        }
        if (!m->err) {
            if (n++ == 0) {
                t_first = t;
                phase_begin(&res->pc, broker_c.pid);
            }
            t_last = t;
            last_progress = t;
        }
        rd_kafka_message_destroy(m);
        if (t - last_report > 2.0) {
            say("bare consumer: %ld/%ld", n, o->events);
            last_report = t;
        }
    }
    double cpu1 = self_cpu_s();
    phase_end(&res->pc, broker_c.pid);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (n < o->events)
        return -1;
    res->join_s = t_first - t0;
    res->net_s = t_last - t_first;
    res->gross_s = t_last - t0;
    res->cpu_s = cpu1 - cpu0;
    return 0;
}

struct vigild_result {
    double join_s, net_s, gross_s, cpu_s, cpu_total_s;
    long net_events; /* events committed between the first commit seen and the last */
    long long redis_cmds, redis_writes;
    double redis_cpu_s;
    /* From vigild's last status line (at shutdown): each durable flush is at most one
     * pipelined Redis round trip. -1 when the line was not found. */
    long long flushes, orders, alerts, dead;
    int exit_status;
    struct phase_cpu pc; /* from the first commit seen to the last */
};

/* The last "status: R read, V valid, D dead letters, O orders, A alerts, F durable flushes"
 * line of vigild's log. */
static void parse_status(const char *log, struct vigild_result *res)
{
    res->flushes = res->orders = res->alerts = res->dead = -1;
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "status: ");
        long long r, v, d, o, a, fl;
        if (p && sscanf(p, "status: %lld read, %lld valid, %lld dead letters, %lld orders, "
                           "%lld alerts, %lld durable flushes",
                        &r, &v, &d, &o, &a, &fl) == 6) {
            res->dead = d;
            res->orders = o;
            res->alerts = a;
            res->flushes = fl;
        }
    }
    fclose(f);
}

/* Sum of the committed offsets over all partitions (an unset one counts 0), or -1. */
static long committed_sum(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++)
        parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    if (rd_kafka_committed(rk, parts, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    long sum = 0;
    for (int i = 0; i < parts->cnt; i++) {
        if (parts->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && parts->elems[i].offset > 0)
            sum += (long)parts->elems[i].offset;
    }
    return sum;
}

static int run_vigild(const struct opts *o, const char *bootstrap, int redis_port,
                      struct vigild_result *res)
{
    char group[64], redis_addr[32], workers[16], commit[64], vigild[PATH_MAX];
    snprintf(group, sizeof group, "bench-%d", (int)getpid());
    snprintf(redis_addr, sizeof redis_addr, "127.0.0.1:%d", redis_port);
    snprintf(workers, sizeof workers, "%ld", o->workers);
    snprintf(commit, sizeof commit, "kafka.commit_interval_ms=%ld", o->commit_ms);
    snprintf(vigild, sizeof vigild, "%s/vigild", o->bin_dir);

    const char *props[] = {"bootstrap.servers", bootstrap, "group.id", group,
                           "client.id", "bench-offsets", NULL};
    rd_kafka_t *rk = kafka_new(RD_KAFKA_CONSUMER, props);
    if (!rk)
        return -1;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new((int)o->partitions);
    for (int32_t p = 0; p < o->partitions; p++)
        rd_kafka_topic_partition_list_add(parts, EVENTS_TOPIC, p);

    long long cmds0 = 0, writes0 = 0, cmds1 = 0, writes1 = 0;
    if (redis_stats(redis_port, &cmds0, &writes0) != 0) {
        say("cannot read Redis INFO stats");
        goto fail;
    }
    double redis_cpu0 = proc_cpu_s(redis_c.pid);
    char *argv[16 + 2 * 16] = {vigild, "--brokers", (char *)bootstrap, "--redis", redis_addr,
                               "--group", group, "--workers", workers,
                               "--set", "kafka.session_timeout_ms=6000",
                               "--set", commit, NULL};
    int argc = 13;
    for (int i = 0; i < o->n_sets; i++) {
        argv[argc++] = "--set";
        argv[argc++] = (char *)o->sets[i];
    }
    argv[argc] = NULL;
    double t0 = now_s();
    if (child_start(&vigild_c, argv, false) != 0)
        goto fail;
    say("vigild started, pid %d", (int)vigild_c.pid);
    double t_first = 0, t_done = 0, cpu_done = 0, last_report = t0;
    long c_first = 0, c = 0;
    while (!g_stop) {
        sleep_ms(100);
        if (child_reap(&vigild_c, false)) {
            say("vigild exited early with status %d", vigild_c.status);
            dump_log(&vigild_c, 20);
            goto fail;
        }
        c = committed_sum(rk, parts);
        double t = now_s();
        if (c > 0 && t_first == 0) {
            t_first = t;
            c_first = c;
            phase_begin(&res->pc, broker_c.pid);
        }
        if (c >= o->events) {
            t_done = t;
            cpu_done = proc_cpu_s(vigild_c.pid);
            phase_end(&res->pc, broker_c.pid);
            break;
        }
        if (t - t0 > o->timeout_s) {
            say("vigild committed %ld of %ld messages in %ld s: giving up", c, o->events,
                o->timeout_s);
            dump_log(&vigild_c, 20);
            goto fail;
        }
        if (t - last_report > 2.0) {
            say("vigild: committed %ld/%ld", c < 0 ? 0 : c, o->events);
            last_report = t;
        }
    }
    if (g_stop)
        goto fail;
    if (redis_stats(redis_port, &cmds1, &writes1) != 0) {
        say("cannot read Redis INFO stats");
        goto fail;
    }
    res->redis_cpu_s = proc_cpu_s(redis_c.pid) - redis_cpu0;
    /* Our first INFO is counted in the second one's totals (one command, one write). */
    res->redis_cmds = cmds1 - cmds0 - 1;
    res->redis_writes = writes1 - writes0 - 1;
    res->join_s = t_first - t0;
    res->gross_s = t_done - t0;
    res->net_s = t_done - t_first;
    res->net_events = o->events - c_first;
    res->cpu_s = cpu_done;
    res->exit_status = child_stop(&vigild_c, 15000);
    res->cpu_total_s = (double)vigild_c.ru.ru_utime.tv_sec + vigild_c.ru.ru_utime.tv_usec * 1e-6 +
                       (double)vigild_c.ru.ru_stime.tv_sec + vigild_c.ru.ru_stime.tv_usec * 1e-6;
    parse_status(vigild_c.log, res);
    if (res->exit_status != 0) {
        say("vigild exited with status %d after SIGTERM", res->exit_status);
        dump_log(&vigild_c, 20);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
fail:
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return -1;
}

/* ---- main ------------------------------------------------------------------------------- */

static int parse_long(const char *flag, const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s ? s : "", &end, 10);
    if (!s || !*s || *end || errno || v <= 0) {
        say("%s wants a positive integer, got '%s'", flag, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {.redis_server = "redis-server", .events = 1000000, .accounts = 10000,
                     .partitions = 96, .workers = 2, .timeout_s = 90, .commit_ms = 100};
    {
        char self[sizeof o.bin_dir];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n > 0) {
            self[n] = '\0';
            char *slash = strrchr(self, '/');
            if (slash)
                *slash = '\0';
            memcpy(o.bin_dir, self, strlen(self) + 1);
        } else {
            snprintf(o.bin_dir, sizeof o.bin_dir, ".");
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *dst = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--keep-tmp")) {
            o.keep_tmp = true;
            continue;
        } else if (!strcmp(a, "--bin-dir") && v) {
            snprintf(o.bin_dir, sizeof o.bin_dir, "%s", v);
            i++;
            continue;
        } else if (!strcmp(a, "--set") && v) {
            if (o.n_sets == (int)(sizeof o.sets / sizeof o.sets[0])) {
                say("at most %zu --set flags", sizeof o.sets / sizeof o.sets[0]);
                return 2;
            }
            o.sets[o.n_sets++] = v;
            i++;
            continue;
        } else if (!strcmp(a, "--redis-server") && v) {
            o.redis_server = v;
            i++;
            continue;
        } else if (!strcmp(a, "--events")) {
            dst = &o.events;
        } else if (!strcmp(a, "--accounts")) {
            dst = &o.accounts;
        } else if (!strcmp(a, "--partitions")) {
            dst = &o.partitions;
        } else if (!strcmp(a, "--workers")) {
            dst = &o.workers;
        } else if (!strcmp(a, "--timeout-s")) {
            dst = &o.timeout_s;
        } else if (!strcmp(a, "--commit-interval-ms")) {
            dst = &o.commit_ms;
        } else {
            say("unknown flag or missing value: '%s'", a);
            usage(stderr);
            return 2;
        }
        if (parse_long(a, v, dst))
            return 2;
        i++;
    }
    if (o.partitions > MAX_PARTS || o.workers > 64 || o.accounts > 100000) {
        say("--partitions at most %d, --workers at most 64, --accounts at most 100000",
            MAX_PARTS);
        return 2;
    }
    if ((double)o.events * 260.0 / (double)o.partitions > 4.0 * 1048576)
        say("warning: ~%.1f MiB per partition is close to the mock broker's ~5 MiB retention",
            (double)o.events * 260.0 / (double)o.partitions / 1048576.0);

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    const char *tmpdir = getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/vigil-bench-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(g_tmp)) {
        say("mkdtemp: %s", strerror(errno));
        g_tmp[0] = '\0';
        return 1;
    }

    int rc = 1;
    char bootstrap[1024];
    char broker[PATH_MAX], topic[64];
    snprintf(broker, sizeof broker, "%s/vigil-broker", o.bin_dir);
    snprintf(topic, sizeof topic, EVENTS_TOPIC ":%ld", o.partitions);
    char *bargv[] = {broker, "--topic", topic, "--topic", "vigil.orders:1",
                     "--topic", "vigil.alerts:1", "--topic", "vigil.dlq:1", NULL};
    struct bare_result bare = {0};
    struct vigild_result vd = {0};
    int redis_port = -1;
    double produce_s = 0;

    if (child_start(&broker_c, bargv, true) != 0)
        goto out;
    if (read_line(broker_c.out_fd, bootstrap, sizeof bootstrap, 15000) <= 0) {
        say("vigil-broker printed no bootstrap list");
        dump_log(&broker_c, 10);
        goto out;
    }
    if (start_redis(&o, &redis_port) != 0)
        goto out;
    say("broker %s, redis 127.0.0.1:%d, temp dir %s", bootstrap, redis_port, g_tmp);

    say("producing %ld events from vigil-sim (%ld accounts) to %ld partitions", o.events,
        o.accounts, o.partitions);
    if (produce_events(&o, bootstrap, &produce_s) != 0)
        goto out;
    say("produced in %.1f s", produce_s);
    if (check_retention(&o, bootstrap) != 0)
        goto out;

    say("bare consumer");
    if (run_bare(&o, bootstrap, &bare) != 0)
        goto out;
    say("bare consumer: join %.2f s, %ld messages in %.2f s, cpu %.2f s; meanwhile broker "
        "cpu %.2f s, machine idle %.0f%%",
        bare.join_s, o.events, bare.net_s, bare.cpu_s, bare.pc.broker_s,
        100 * bare.pc.idle_share);

    say("vigild --workers %ld", o.workers);
    if (run_vigild(&o, bootstrap, redis_port, &vd) != 0)
        goto out;
    say("vigild: first commit after %.2f s, then %ld messages in %.2f s, cpu %.2f s at the "
        "last commit, %.2f s in all; redis %lld commands, %lld socket writes, cpu %.2f s; "
        "exit %d; %lld durable flushes, %lld orders, %lld alerts, %lld dead letters; "
        "meanwhile broker cpu %.2f s, machine idle %.0f%%",
        vd.join_s, vd.net_events, vd.net_s, vd.cpu_s, vd.cpu_total_s, vd.redis_cmds,
        vd.redis_writes, vd.redis_cpu_s, vd.exit_status, vd.flushes, vd.orders, vd.alerts,
        vd.dead, vd.pc.broker_s, 100 * vd.pc.idle_share);

    double n = (double)o.events;
    double bare_mev = (n - 1) / bare.net_s / 1e6;
    double vd_mev = (double)vd.net_events / vd.net_s / 1e6;
    double bare_gross = n / bare.gross_s / 1e6, vd_gross = n / vd.gross_s / 1e6;
    double bare_cpu = bare.cpu_s / n * 1e6, vd_cpu = vd.cpu_s / n * 1e6;
    printf("bench_e2e events=%ld partitions=%ld workers=%ld bare_mev_s=%.3f vigild_mev_s=%.3f"
           " ratio=%.2f bare_cpu_s_per_mev=%.2f vigild_cpu_s_per_mev=%.2f cpu_ratio=%.2f"
           " bare_join_s=%.2f vigild_join_s=%.2f bare_gross_mev_s=%.3f vigild_gross_mev_s=%.3f"
           " gross_ratio=%.2f redis_cmds_per_1k=%.1f redis_rtt_per_100=%.3f"
           " redis_cpu_s_per_mev=%.2f orders=%lld alerts=%lld dead=%lld\n",
           o.events, o.partitions, o.workers, bare_mev, vd_mev, vd_mev / bare_mev, bare_cpu,
           vd_cpu, vd_cpu / bare_cpu, bare.join_s, vd.join_s, bare_gross, vd_gross,
           vd_gross / bare_gross, (double)vd.redis_cmds * 1000.0 / n,
           vd.flushes >= 0 ? (double)vd.flushes * 100.0 / n : -1.0, vd.redis_cpu_s / n * 1e6,
           vd.orders, vd.alerts, vd.dead);
    fflush(stdout);
    rc = vd.exit_status == 0 ? 0 : 1;
out:
    if (g_stop)
        say("interrupted");
    cleanup(&o);
    return rc;
}

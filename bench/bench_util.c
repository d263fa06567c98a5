/* SPDX-License-Identifier: Apache-2.0 */
/* bench_util.c - child processes, clocks and flags shared by the end-to-end benchmarks (see
 * bench_util.h).
 *
 * Threading: main thread only, except bench_say() and bench_now_s().
 * Ownership: the registry below holds pointers to the callers' (static) child structs until
 * bench_cleanup(). */
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#define MAX_CHILDREN 8
#define MAX_VIGILD_SETS 32

volatile sig_atomic_t bench_stop;

static const char *g_prog = "bench";
static char g_tmp[BENCH_DIR_MAX];
static struct bench_child *g_children[MAX_CHILDREN]; /* in order of first start */
static int g_n_children;

static void on_signal(int sig)
{
    (void)sig;
    bench_stop = 1;
}

void bench_init(const char *prog)
{
    g_prog = prog;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void bench_say(const char *fmt, ...)
{
    /* One write per line, so that lines from two threads do not interleave. */
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: ", g_prog);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}

double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bench_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !bench_stop)
        ;
}

double bench_proc_cpu_s(pid_t pid)
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

int bench_free_port(void)
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

void bench_machine_jiffies(double *idle, double *total)
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

int bench_parse_long(const char *flag, const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s ? s : "", &end, 10);
    if (!s || !*s || *end || errno || v <= 0) {
        bench_say("%s wants a positive integer, got '%s'", flag, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

void bench_self_dir(char *out, size_t n)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        snprintf(out, n, ".");
        return;
    }
    self[len] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, n, "%s", self);
}

int bench_tmp_create(void)
{
    const char *tmpdir = getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/vigil-bench-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(g_tmp)) {
        bench_say("mkdtemp: %s", strerror(errno));
        g_tmp[0] = '\0';
        return -1;
    }
    return 0;
}

const char *bench_tmp_dir(void)
{
    return g_tmp;
}

/* ---- children --------------------------------------------------------------------------- */

static void register_child(struct bench_child *c)
{
    for (int i = 0; i < g_n_children; i++) {
        if (g_children[i] == c)
            return;
    }
    if (g_n_children < MAX_CHILDREN)
        g_children[g_n_children++] = c;
}

int bench_child_start(struct bench_child *c, char *const argv[], bool pipe_out)
{
    int pfd[2] = {-1, -1};
    snprintf(c->log, sizeof c->log, "%s/%s.log", g_tmp, c->name);
    int log_fd = open(c->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0 || (pipe_out && pipe2(pfd, O_CLOEXEC) != 0)) {
        bench_say("cannot set up %s: %s", c->name, strerror(errno));
        if (log_fd >= 0)
            close(log_fd);
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        bench_say("fork: %s", strerror(errno));
        close(log_fd);
        if (pipe_out) {
            close(pfd[0]);
            close(pfd[1]);
        }
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
    register_child(c);
    return 0;
}

bool bench_child_reap(struct bench_child *c, bool block)
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

int bench_child_stop(struct bench_child *c, int timeout_ms)
{
    if (c->out_fd >= 0) {
        close(c->out_fd);
        c->out_fd = -1;
    }
    if (c->pid <= 0)
        return c->status;
    kill(c->pid, SIGTERM);
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (bench_child_reap(c, false))
            return c->status;
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    bench_say("%s did not stop within %d ms: killing it", c->name, timeout_ms);
    kill(c->pid, SIGKILL);
    bench_child_reap(c, true);
    return -1;
}

void bench_child_dump_log(const struct bench_child *c, int max_lines)
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

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void bench_cleanup(bool keep_tmp)
{
    /* Newest first: vigild before the broker and Redis it writes to. */
    for (int i = g_n_children - 1; i >= 0; i--)
        bench_child_stop(g_children[i], 10000);
    if (g_tmp[0]) {
        if (keep_tmp)
            bench_say("logs kept in %s", g_tmp);
        else
            nftw(g_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

/* Reads one line from fd (unbuffered, byte by byte: used once, for the bootstrap list). */
static int read_line(int fd, char *buf, size_t n, int timeout_ms)
{
    size_t len = 0;
    double deadline = bench_now_s() + timeout_ms / 1000.0;
    while (len + 1 < n && !bench_stop) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)((deadline - bench_now_s()) * 1000);
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

int bench_start_broker(struct bench_child *c, const char *bin_dir, long partitions, char *bootstrap,
                       size_t n)
{
    char broker[PATH_MAX], topic[64];
    snprintf(broker, sizeof broker, "%s/vigil-broker", bin_dir);
    snprintf(topic, sizeof topic, BENCH_EVENTS_TOPIC ":%ld", partitions);
    char *argv[] = {broker,    "--topic", topic,     "--topic", BENCH_ORDERS_TOPIC ":1",
                    "--topic", "vigil.alerts:1", "--topic", "vigil.dlq:1", NULL};
    if (bench_child_start(c, argv, true) != 0)
        return -1;
    if (read_line(c->out_fd, bootstrap, n, 15000) <= 0) {
        bench_say("vigil-broker printed no bootstrap list");
        bench_child_dump_log(c, 10);
        return -1;
    }
    return 0;
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

int bench_start_redis(struct bench_child *c, const char *server, int *port_out)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        int port = bench_free_port();
        if (port < 0)
            continue;
        char port_s[16];
        snprintf(port_s, sizeof port_s, "%d", port);
        char *argv[] = {(char *)server, "--port", port_s, "--bind", "127.0.0.1",
                        "--save", "", "--appendonly", "no", "--dir", g_tmp,
                        "--daemonize", "no", NULL};
        if (bench_child_start(c, argv, false) != 0)
            return -1;
        for (int i = 0; i < 100 && !bench_stop; i++) {
            if (redis_ping(port) == 0) {
                *port_out = port;
                return 0;
            }
            if (bench_child_reap(c, false))
                break; /* the port was taken meanwhile: try another */
            bench_sleep_ms(50);
        }
        bench_child_stop(c, 2000);
    }
    bench_say("redis-server did not start");
    bench_child_dump_log(c, 10);
    return -1;
}

int bench_start_sim(struct bench_child *c, const char *bin_dir, long accounts, long minutes,
                    const char *out)
{
    char acc_s[32], min_s[32], sim[PATH_MAX];
    snprintf(acc_s, sizeof acc_s, "%ld", accounts);
    snprintf(min_s, sizeof min_s, "%ld", minutes);
    snprintf(sim, sizeof sim, "%s/vigil-sim", bin_dir);
    char *argv[] = {sim,     "--accounts", acc_s, "--duration",           min_s,
                    "--quiet", "--out",    out ? (char *)out : "-", NULL};
    return bench_child_start(c, argv, out == NULL);
}

int bench_start_vigild(struct bench_child *c, const char *bin_dir, const char *bootstrap,
                       int redis_port, const char *group, long workers, const char *const *sets,
                       int n_sets)
{
    char redis_addr[32], workers_s[16], vigild[PATH_MAX];
    snprintf(redis_addr, sizeof redis_addr, "127.0.0.1:%d", redis_port);
    snprintf(workers_s, sizeof workers_s, "%ld", workers);
    snprintf(vigild, sizeof vigild, "%s/vigild", bin_dir);
    if (n_sets > MAX_VIGILD_SETS) {
        bench_say("at most %d vigild settings", MAX_VIGILD_SETS);
        return -1;
    }
    char *argv[12 + 2 * MAX_VIGILD_SETS] = {vigild,     "--brokers", (char *)bootstrap,
                                            "--redis",  redis_addr,  "--group",
                                            (char *)group, "--workers", workers_s,
                                            "--set",    "kafka.session_timeout_ms=6000"};
    int argc = 11;
    for (int i = 0; i < n_sets; i++) {
        argv[argc++] = "--set";
        argv[argc++] = (char *)sets[i];
    }
    argv[argc] = NULL;
    return bench_child_start(c, argv, false);
}

/* ---- Kafka and events ------------------------------------------------------------------- */

rd_kafka_t *bench_kafka_new(rd_kafka_type_t type, const char *const *props)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (const char *const *p = props; *p; p += 2) {
        if (rd_kafka_conf_set(conf, p[0], p[1], err, sizeof err) != RD_KAFKA_CONF_OK) {
            bench_say("librdkafka %s=%s: %s", p[0], p[1], err);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) {
        bench_say("rd_kafka_new: %s", err);
        rd_kafka_conf_destroy(conf); /* rd_kafka_new frees it only on success */
        return NULL;
    }
    return rk;
}

void bench_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct bench_produce_state *ps = opaque;
    if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
        return; /* dropped on purpose by rd_kafka_purge */
    if (m->err) {
        if (ps->failed++ == 0)
            bench_say("delivery failed: %s", rd_kafka_err2str(m->err));
    } else {
        ps->delivered++;
    }
}

int bench_event_account(const char *line, const char **acc, size_t *len)
{
    const char *a = strstr(line, "\"account\":\"");
    if (!a)
        return -1;
    a += strlen("\"account\":\"");
    const char *e = strchr(a, '"');
    if (!e)
        return -1;
    *acc = a;
    *len = (size_t)(e - a);
    return 0;
}

void bench_vigild_status(const char *log, struct bench_vigild_status *st)
{
    st->read = st->dead = st->orders = st->alerts = st->flushes = -1;
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "status: ");
        long long r, v, rep, d, o, a, fl;
        if (p && sscanf(p, "status: %lld read, %lld valid, %lld repeats dropped, %lld dead "
                           "letters, %lld orders, %lld alerts, %lld durable flushes",
                        &r, &v, &rep, &d, &o, &a, &fl) == 7) {
            st->read = r;
            st->dead = d;
            st->orders = o;
            st->alerts = a;
            st->flushes = fl;
        }
    }
    fclose(f);
}

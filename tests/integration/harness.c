/* SPDX-License-Identifier: Apache-2.0 */
/* harness.c - integration-test harness: child processes, redis-server, broker, Kafka I/O
 *
 * Threading: main test thread only (see harness.h); the registry of children and the
 * interned strings are plain statics.
 * Ownership: see harness.h; everything the harness allocates for itself is released by
 * the atexit handler, so LeakSanitizer sees a clean exit.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h> /* cmocka.h needs these three first */
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#define MAX_CHILDREN 512
#define MAX_INTERNED 64
#define BROKER_START_MS 15000
#define REDIS_START_MS 10000
#define STOP_MS 10000

extern char **environ;

/* Every child we ever started, so teardown/exit can kill the ones still running and
 * harness_dump_logs() can show all logs. Indexed by start order. */
struct child {
    pid_t pid;
    bool alive;
    int wstatus; /* waitpid() status once reaped (alive == false) */
    char name[64];
    char err_path[PATH_MAX];
};

static struct child children[MAX_CHILDREN];
static int nchildren;
static char *interned[MAX_INTERNED];
static int ninterned;
static char tmp_root[PATH_MAX];
static bool initialised;
static unsigned dir_seq;

/* ---- process-wide set-up and clean-up ------------------------------------------------ */

static void kill_all_children(void)
{
    for (int i = 0; i < nchildren; i++) {
        if (!children[i].alive)
            continue;
        kill(children[i].pid, SIGKILL);
        while (waitpid(children[i].pid, &children[i].wstatus, 0) < 0 && errno == EINTR)
            ;
        children[i].alive = false;
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

static void at_exit(void)
{
    const char *keep = getenv("VIGIL_KEEP_TMP");

    kill_all_children();
    if (tmp_root[0] != '\0') {
        if (keep != NULL && strcmp(keep, "1") == 0)
            fprintf(stderr, "harness: keeping %s\n", tmp_root);
        else
            nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    for (int i = 0; i < ninterned; i++)
        free(interned[i]);
    ninterned = 0;
}

static void init_once(void)
{
    if (initialised)
        return;
    initialised = true;
    /* Writing to a child that died (its stdin pipe, a killed redis-server's socket) must
     * be an error return, not the death of the test binary. Children get SIG_DFL back. */
    signal(SIGPIPE, SIG_IGN);
    atexit(at_exit);
}

static const char *intern(const char *s)
{
    for (int i = 0; i < ninterned; i++) {
        if (strcmp(interned[i], s) == 0)
            return interned[i];
    }
    if (ninterned == MAX_INTERNED)
        return NULL;
    interned[ninterned] = strdup(s);
    return interned[ninterned] != NULL ? interned[ninterned++] : NULL;
}

/* ---- paths, time, ports ------------------------------------------------------------- */

const char *harness_bin(const char *prog)
{
    const char *dir = getenv("VIGIL_BIN_DIR");
    char path[PATH_MAX];

    init_once();
    if (dir == NULL || *dir == '\0')
        dir = "build/bin";
    snprintf(path, sizeof(path), "%s/%s", dir, prog);
    return intern(path);
}

const char *harness_tmpdir(void)
{
    const char *base = getenv("TMPDIR");

    init_once();
    if (tmp_root[0] != '\0')
        return tmp_root;
    if (base == NULL || *base == '\0')
        base = "/tmp";
    snprintf(tmp_root, sizeof(tmp_root), "%s/vigil-itest-XXXXXX", base);
    if (mkdtemp(tmp_root) == NULL) {
        fprintf(stderr, "harness: mkdtemp %s: %s\n", tmp_root, strerror(errno));
        tmp_root[0] = '\0';
        return NULL;
    }
    return tmp_root;
}

int harness_mkdir(const char *prefix, char *buf, size_t n)
{
    const char *root = harness_tmpdir();

    if (root == NULL)
        return -1;
    for (int tries = 0; tries < 1000; tries++) {
        int w = snprintf(buf, n, "%s/%s.%u", root, prefix, dir_seq++);

        if (w < 0 || (size_t)w >= n)
            return -1;
        if (mkdir(buf, 0700) == 0)
            return 0;
        if (errno != EEXIST) {
            fprintf(stderr, "harness: mkdir %s: %s\n", buf, strerror(errno));
            return -1;
        }
    }
    return -1;
}

int harness_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int port = -1;

    if (fd < 0)
        return -1;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

int64_t harness_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void harness_evfile_add(struct harness_evfile *f, int64_t at, const char *fmt, ...)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 1024;
        f->v = realloc(f->v, f->cap * sizeof *f->v);
        assert_non_null(f->v);
    }
    struct harness_evline *l = &f->v[f->n];
    l->at = at;
    l->seq = f->n++;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->text, sizeof l->text, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof l->text);
}

static int evline_cmp(const void *a, const void *b)
{
    const struct harness_evline *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void harness_evfile_write(struct harness_evfile *f, const char *path)
{
    qsort(f->v, f->n, sizeof *f->v, evline_cmp);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    for (size_t i = 0; i < f->n; i++)
        fprintf(out, "%s\n", f->v[i].text);
    assert_int_equal(fclose(out), 0);
}

void harness_evfile_free(struct harness_evfile *f)
{
    free(f->v);
    *f = (struct harness_evfile){0};
}

char *harness_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (f == NULL)
        return NULL;
    for (;;) {
        size_t got;

        if (cap - n < 4096) {
            char *nb = realloc(buf, cap + 65536);

            if (nb == NULL)
                goto fail;
            buf = nb;
            cap += 65536;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        goto fail;
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;

fail:
    free(buf);
    fclose(f);
    return NULL;
}

/* ---- child processes ---------------------------------------------------------------- */

static struct child *child_of(pid_t pid)
{
    for (int i = nchildren - 1; i >= 0; i--) {
        if (children[i].pid == pid && children[i].alive)
            return &children[i];
    }
    return NULL;
}

static void mark_reaped(struct harness_proc *p, int wstatus)
{
    struct child *c = child_of(p->pid);

    if (c != NULL) {
        c->alive = false;
        c->wstatus = wstatus;
    }
    p->exited = true;
    p->exit_status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    p->pid = 0;
}

/* Our environment with the "NAME=VALUE" additions replacing same-named entries. Built
 * before fork() because the child may only call async-signal-safe functions (the test
 * process has librdkafka threads that may hold malloc's lock at the moment of fork). */
static char **build_env(const char *const *add)
{
    size_t nenv = 0, nadd = 0, k = 0;
    char **envp;

    while (environ[nenv] != NULL)
        nenv++;
    while (add != NULL && add[nadd] != NULL)
        nadd++;
    envp = calloc(nenv + nadd + 1, sizeof(*envp));
    if (envp == NULL)
        return NULL;
    for (size_t i = 0; i < nenv; i++) {
        bool replaced = false;

        for (size_t j = 0; j < nadd && !replaced; j++) {
            const char *eq = strchr(add[j], '=');
            size_t nl = eq != NULL ? (size_t)(eq - add[j]) + 1 : strlen(add[j]);

            replaced = strncmp(environ[i], add[j], nl) == 0;
        }
        if (!replaced)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < nadd; j++)
        envp[k++] = (char *)add[j];
    envp[k] = NULL;
    return envp;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL ? slash + 1 : path;
}

static int open_devnull(int flags)
{
    return open("/dev/null", flags | O_CLOEXEC);
}

int harness_proc_start(struct harness_proc *p, const char *const argv[],
                       const struct harness_proc_opts *opts)
{
    static const struct harness_proc_opts no_opts;
    int err_fd = -1, out_w = -1, in_r = -1, exec_pipe[2] = {-1, -1};
    int out_pipe[2] = {-1, -1}, in_pipe[2] = {-1, -1};
    char **envp = NULL;
    pid_t parent = getpid();
    pid_t pid;
    int child_errno = 0;
    ssize_t got;
    const char *root = harness_tmpdir();

    memset(p, 0, sizeof(*p));
    p->out_fd = -1;
    p->in_fd = -1;
    if (opts == NULL)
        opts = &no_opts;
    if (root == NULL || argv == NULL || argv[0] == NULL)
        return -1;
    if (nchildren == MAX_CHILDREN) {
        fprintf(stderr, "harness: more than %d children\n", MAX_CHILDREN);
        return -1;
    }

    snprintf(p->name, sizeof(p->name), "%s", opts->name ? opts->name : base_name(argv[0]));
    snprintf(p->err_path, sizeof(p->err_path), "%s/%s.%d.stderr", root, p->name, nchildren);
    err_fd = open(p->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (err_fd < 0) {
        fprintf(stderr, "harness: open %s: %s\n", p->err_path, strerror(errno));
        goto fail;
    }

    switch (opts->out) {
    case HARNESS_OUT_PIPE:
        if (pipe2(out_pipe, O_CLOEXEC) != 0)
            goto fail_errno;
        out_w = out_pipe[1];
        break;
    case HARNESS_OUT_FILE:
        snprintf(p->out_path, sizeof(p->out_path), "%s/%s.%d.stdout", root, p->name, nchildren);
        out_w = open(p->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        break;
    default:
        out_w = open_devnull(O_WRONLY);
        break;
    }
    if (out_w < 0)
        goto fail_errno;

    if (opts->stdin_pipe) {
        if (pipe2(in_pipe, O_CLOEXEC) != 0)
            goto fail_errno;
        in_r = in_pipe[0];
    } else {
        in_r = open_devnull(O_RDONLY);
        if (in_r < 0)
            goto fail_errno;
    }

    /* The child writes its errno here if exec fails; a successful exec closes it (CLOEXEC)
     * and we read EOF. That makes "program not found" a synchronous error. */
    if (pipe2(exec_pipe, O_CLOEXEC) != 0)
        goto fail_errno;
    envp = build_env(opts->env);
    if (envp == NULL)
        goto fail_errno;

    fflush(NULL);
    pid = fork();
    if (pid < 0)
        goto fail_errno;
    if (pid == 0) {
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigset_t none;
        int e;

        /* Die with the test binary, even if it is SIGKILLed by a ctest timeout. Re-check
         * the parent: it may have died before the prctl took effect. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        sigaction(SIGPIPE, &dfl, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(in_r, STDIN_FILENO) < 0 || dup2(out_w, STDOUT_FILENO) < 0 ||
            dup2(err_fd, STDERR_FILENO) < 0)
            goto child_fail;
        execvpe(argv[0], (char *const *)argv, envp);
    child_fail:
        e = errno;
        if (write(exec_pipe[1], &e, sizeof(e)) < 0)
            _exit(127);
        _exit(127);
    }

    close(exec_pipe[1]);
    exec_pipe[1] = -1;
    while ((got = read(exec_pipe[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
        ;
    close(exec_pipe[0]);
    exec_pipe[0] = -1;
    if (got > 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        fprintf(stderr, "harness: cannot run %s: %s\n", argv[0], strerror(child_errno));
        goto fail;
    }

    children[nchildren].pid = pid;
    children[nchildren].alive = true;
    snprintf(children[nchildren].name, sizeof(children[nchildren].name), "%s", p->name);
    snprintf(children[nchildren].err_path, sizeof(children[nchildren].err_path), "%s", p->err_path);
    nchildren++;

    p->pid = pid;
    p->out_fd = out_pipe[0];
    p->in_fd = in_pipe[1];
    free(envp);
    close(err_fd);
    close(out_w);
    close(in_r);
    return 0;

fail_errno:
    fprintf(stderr, "harness: starting %s: %s\n", argv[0], strerror(errno));
fail:
    free(envp);
    for (int i = 0; i < 2; i++) {
        if (exec_pipe[i] >= 0)
            close(exec_pipe[i]);
    }
    if (out_pipe[0] >= 0)
        close(out_pipe[0]);
    if (in_pipe[1] >= 0)
        close(in_pipe[1]);
    if (in_r >= 0)
        close(in_r);
    if (out_w >= 0)
        close(out_w);
    if (err_fd >= 0)
        close(err_fd);
    p->out_fd = -1;
    p->in_fd = -1;
    return -1;
}

/* Hands out one line from p->buf if there is one. */
static int take_line(struct harness_proc *p, char *buf, size_t n, size_t upto)
{
    size_t copy = upto < n - 1 ? upto : n - 1;
    size_t used = upto < p->buf_len ? upto + 1 : upto; /* +1: the newline, if any */

    memcpy(buf, p->buf, copy);
    buf[copy] = '\0';
    memmove(p->buf, p->buf + used, p->buf_len - used);
    p->buf_len -= used;
    return (int)copy;
}

int harness_proc_read_line(struct harness_proc *p, char *buf, size_t n, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    if (n == 0)
        return -1;
    buf[0] = '\0';
    for (;;) {
        char *nl = memchr(p->buf, '\n', p->buf_len);
        struct pollfd pfd = {.fd = p->out_fd, .events = POLLIN};
        int64_t left = deadline - harness_now_ms();
        ssize_t got;
        int r;

        if (nl != NULL)
            return take_line(p, buf, n, (size_t)(nl - p->buf));
        if (p->buf_len == sizeof(p->buf))
            return take_line(p, buf, n, p->buf_len); /* an overlong line: hand out a piece */
        if (p->out_fd < 0 || left <= 0)
            return -1;
        r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got = read(p->out_fd, p->buf + p->buf_len, sizeof(p->buf) - p->buf_len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            /* EOF: a last line without a newline still counts. */
            close(p->out_fd);
            p->out_fd = -1;
            return p->buf_len > 0 ? take_line(p, buf, n, p->buf_len) : -1;
        }
        p->buf_len += (size_t)got;
    }
}

int harness_proc_write(struct harness_proc *p, const char *s)
{
    size_t len = strlen(s);

    while (len > 0) {
        ssize_t w = write(p->in_fd, s, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "harness: write to %s: %s\n", p->name, strerror(errno));
            return -1;
        }
        s += w;
        len -= (size_t)w;
    }
    return 0;
}

void harness_proc_close_stdin(struct harness_proc *p)
{
    if (p->in_fd >= 0)
        close(p->in_fd);
    p->in_fd = -1;
}

int harness_proc_signal(struct harness_proc *p, int sig)
{
    if (p->pid <= 0)
        return -1;
    return kill(p->pid, sig) == 0 ? 0 : -1;
}

bool harness_proc_wait(struct harness_proc *p, int timeout_ms, int *exit_status)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    for (;;) {
        int ws = 0;
        pid_t r;

        if (p->exited) {
            if (exit_status != NULL)
                *exit_status = p->exit_status;
            return true;
        }
        if (p->pid <= 0)
            return false;
        r = waitpid(p->pid, &ws, WNOHANG);
        if (r == p->pid) {
            mark_reaped(p, ws);
            continue;
        }
        if (r < 0 && errno == ECHILD) {
            /* harness_teardown() reaped it already: take the status it recorded. */
            for (int i = nchildren - 1; i >= 0; i--) {
                if (children[i].pid == p->pid) {
                    ws = children[i].wstatus;
                    break;
                }
            }
            mark_reaped(p, ws);
            continue;
        }
        if (r < 0 && errno != EINTR)
            return false;
        if (harness_now_ms() >= deadline)
            return false;
        harness_sleep_ms(10);
    }
}

bool harness_proc_running(struct harness_proc *p)
{
    return p->pid > 0 && !harness_proc_wait(p, 0, NULL);
}

static void close_pipes(struct harness_proc *p)
{
    harness_proc_close_stdin(p);
    if (p->out_fd >= 0)
        close(p->out_fd);
    p->out_fd = -1;
}

void harness_proc_kill9(struct harness_proc *p)
{
    if (p->pid > 0 && !p->exited) {
        kill(p->pid, SIGKILL);
        harness_proc_wait(p, 10000, NULL);
    }
}

int harness_proc_stop(struct harness_proc *p, int timeout_ms)
{
    int status = -1;

    if (p->pid > 0 && !p->exited)
        harness_proc_signal(p, SIGTERM);
    if (!harness_proc_wait(p, timeout_ms, &status)) {
        fprintf(stderr, "harness: %s ignored SIGTERM for %d ms, killing it\n", p->name, timeout_ms);
        harness_proc_dump_stderr(p, 20);
        harness_proc_kill9(p);
        status = -1;
    }
    close_pipes(p);
    return status;
}

static void dump_tail(const char *name, const char *path, int lines)
{
    size_t len;
    char *text = harness_read_file(path, &len);
    size_t start = len;
    int seen = 0;

    if (text == NULL) {
        fprintf(stderr, "---- %s: no log (%s)\n", name, path);
        return;
    }
    /* Walk back over `lines` newlines (a trailing newline does not start a line). */
    if (start > 0 && text[start - 1] == '\n')
        start--;
    while (start > 0 && seen < lines) {
        if (text[start - 1] == '\n')
            seen++;
        if (seen < lines)
            start--;
    }
    fprintf(stderr, "---- %s (%s), last %d lines:\n%s%s---- end of %s\n", name, path, lines,
            text + start, len > 0 && text[len - 1] != '\n' ? "\n" : "", name);
    free(text);
}

void harness_proc_dump_stderr(const struct harness_proc *p, int lines)
{
    dump_tail(p->name, p->err_path, lines);
}

void harness_dump_logs(int lines)
{
    for (int i = 0; i < nchildren; i++)
        dump_tail(children[i].name, children[i].err_path, lines);
}

int harness_teardown(void **state)
{
    kill_all_children();
    return 0;
}

/* ---- Redis -------------------------------------------------------------------------- */

static void redis_disconnect(struct harness_redis *r)
{
    if (r->ctx != NULL)
        redisFree(r->ctx);
    r->ctx = NULL;
}

static int redis_connect(struct harness_redis *r, int timeout_ms)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    struct timeval io = {.tv_sec = 5};

    redis_disconnect(r);
    r->ctx = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (r->ctx == NULL || r->ctx->err) {
        redis_disconnect(r);
        return -1;
    }
    /* A stopped (SIGSTOP) or wedged server must fail a test, not hang it. */
    redisSetTimeout(r->ctx, io);
    if (r->password != NULL) {
        redisReply *rep = redisCommand(r->ctx, "AUTH %s", r->password);
        bool ok = rep != NULL && rep->type == REDIS_REPLY_STATUS;
        if (rep != NULL)
            freeReplyObject(rep);
        if (!ok) {
            redis_disconnect(r);
            return -1;
        }
    }
    return 0;
}

static bool redis_pong(struct harness_redis *r)
{
    redisReply *rep;
    bool ok;

    if (r->ctx == NULL && redis_connect(r, 200) != 0)
        return false;
    rep = redisCommand(r->ctx, "PING");
    if (rep == NULL) {
        redis_disconnect(r);
        return false;
    }
    /* While loading its AOF, Redis answers PING with -LOADING: not ready yet. */
    ok = rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;
    freeReplyObject(rep);
    return ok;
}

/* Starts redis-server on r->port in r->dir and waits for PONG. */
static int redis_launch(struct harness_redis *r)
{
    const char *server = getenv("VIGIL_REDIS_SERVER");
    bool persist = (r->flags & HARNESS_REDIS_PERSIST) != 0;
    char port[16];
    /* clang-format off */
    const char *argv[40] = {
        server != NULL ? server : "redis-server",
        "--port", port,
        "--bind", "127.0.0.1",
        "--save", "",
        "--dir", r->dir,
        /* Opened in append mode, so it adds to the stderr file the harness shows. */
        "--logfile", "/dev/stderr",
        "--appendonly", persist ? "yes" : "no",
        "--appendfsync", persist ? "always" : "everysec",
        NULL,
    };
    /* clang-format on */
    size_t n = 0;
    while (argv[n] != NULL)
        n++;
    for (size_t i = 0; r->extra_args != NULL && r->extra_args[i] != NULL && n + 1 < 40; i++)
        argv[n++] = r->extra_args[i];
    argv[n] = NULL;
    struct harness_proc_opts opts = {.out = HARNESS_OUT_NULL, .name = "redis-server"};
    int64_t deadline;

    snprintf(port, sizeof(port), "%d", r->port);
    if (harness_proc_start(&r->proc, argv, &opts) != 0)
        return -1;
    deadline = harness_now_ms() + REDIS_START_MS;
    while (harness_now_ms() < deadline) {
        if (!harness_proc_running(&r->proc))
            return -1; /* e.g. the port was taken in the meantime */
        if (redis_pong(r))
            return 0;
        harness_sleep_ms(20);
    }
    fprintf(stderr, "harness: redis-server on port %d did not answer PING\n", r->port);
    harness_proc_dump_stderr(&r->proc, 30);
    harness_proc_kill9(&r->proc);
    return -1;
}

const char *harness_redis_start(struct harness_redis *r, unsigned flags)
{
    return harness_redis_start_args(r, flags, NULL, NULL);
}

const char *harness_redis_start_args(struct harness_redis *r, unsigned flags,
                                     const char *const extra_args[], const char *password)
{
    memset(r, 0, sizeof(*r));
    r->proc.out_fd = -1;
    r->proc.in_fd = -1;
    r->flags = flags;
    r->extra_args = extra_args;
    r->password = password;
    if (harness_mkdir("redis", r->dir, sizeof(r->dir)) != 0)
        return NULL;
    /* The free port can be taken between our probe and redis' bind: retry a few times. */
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = harness_free_port();
        if (r->port < 0)
            break;
        if (redis_launch(r) == 0) {
            snprintf(r->addr, sizeof(r->addr), "127.0.0.1:%d", r->port);
            return r->addr;
        }
        redis_disconnect(r);
    }
    fprintf(stderr, "harness: cannot start redis-server\n");
    harness_proc_dump_stderr(&r->proc, 30);
    return NULL;
}

int harness_redis_stop(struct harness_redis *r)
{
    redis_disconnect(r);
    if (!harness_proc_running(&r->proc))
        return 0;
    return harness_proc_stop(&r->proc, STOP_MS) == 0 ? 0 : -1;
}

void harness_redis_kill(struct harness_redis *r)
{
    redis_disconnect(r);
    harness_proc_kill9(&r->proc);
}

int harness_redis_restart(struct harness_redis *r)
{
    if (harness_redis_stop(r) != 0)
        fprintf(stderr, "harness: redis-server did not stop cleanly before restart\n");
    /* The port is free again but the kernel may need a moment; redis sets SO_REUSEADDR,
     * so a few retries cover it. */
    for (int attempt = 0; attempt < 5; attempt++) {
        if (redis_launch(r) == 0)
            return 0;
        harness_sleep_ms(200);
    }
    fprintf(stderr, "harness: cannot restart redis-server on port %d\n", r->port);
    harness_proc_dump_stderr(&r->proc, 30);
    return -1;
}

void harness_redis_fini(struct harness_redis *r)
{
    harness_redis_stop(r);
}

static redisReply *redis_vcmd(struct harness_redis *r, const char *fmt, va_list ap)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        va_list copy;
        redisReply *rep;

        if (r->ctx == NULL && redis_connect(r, 1000) != 0)
            continue;
        va_copy(copy, ap);
        rep = redisvCommand(r->ctx, fmt, copy);
        va_end(copy);
        if (rep != NULL)
            return rep;
        /* A connection from before a restart fails on first use: retry once on a fresh
         * one (the dead server never saw the command). */
        redis_disconnect(r);
    }
    return NULL;
}

redisReply *harness_redis_cmd(struct harness_redis *r, const char *fmt, ...)
{
    va_list ap;
    redisReply *rep;

    va_start(ap, fmt);
    rep = redis_vcmd(r, fmt, ap);
    va_end(ap);
    if (rep == NULL)
        fprintf(stderr, "harness: redis %s: no reply for '%s'\n", r->addr, fmt);
    return rep;
}

char *harness_redis_get_str(struct harness_redis *r, const char *key)
{
    redisReply *rep = harness_redis_cmd(r, "GET %s", key);
    char *s = NULL;

    if (rep != NULL && rep->type == REDIS_REPLY_STRING)
        s = strndup(rep->str, rep->len);
    if (rep != NULL)
        freeReplyObject(rep);
    return s;
}

bool harness_redis_exists(struct harness_redis *r, const char *key)
{
    long long n = 0;

    return harness_redis_int(r, &n, "EXISTS %s", key) == 0 && n > 0;
}

long long harness_redis_ttl(struct harness_redis *r, const char *key)
{
    long long t;

    return harness_redis_int(r, &t, "TTL %s", key) == 0 ? t : -3;
}

int harness_redis_int(struct harness_redis *r, long long *out, const char *fmt, ...)
{
    va_list ap;
    redisReply *rep;
    int rc = -1;

    va_start(ap, fmt);
    rep = redis_vcmd(r, fmt, ap);
    va_end(ap);
    if (rep == NULL)
        return -1;
    if (rep->type == REDIS_REPLY_INTEGER) {
        *out = rep->integer;
        rc = 0;
    } else if (rep->type == REDIS_REPLY_NIL) {
        *out = 0;
        rc = 0;
    } else if (rep->type == REDIS_REPLY_STRING) {
        char *end;

        errno = 0;
        *out = strtoll(rep->str, &end, 10);
        rc = errno == 0 && end != rep->str && *end == '\0' ? 0 : -1;
    } else if (rep->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "harness: redis '%s': %s\n", fmt, rep->str);
    }
    freeReplyObject(rep);
    return rc;
}

bool harness_redis_wait_exists(struct harness_redis *r, const char *key, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    for (;;) {
        if (harness_redis_exists(r, key))
            return true;
        if (harness_now_ms() >= deadline)
            return false;
        harness_sleep_ms(50);
    }
}

bool harness_redis_field_exists(struct harness_redis *r, const char *key, const char *field)
{
    long long n = 0;

    return harness_redis_int(r, &n, "HEXISTS %s %s", key, field) == 0 && n > 0;
}

bool harness_redis_wait_field(struct harness_redis *r, const char *key, const char *field,
                              int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    for (;;) {
        if (harness_redis_field_exists(r, key, field))
            return true;
        if (harness_now_ms() >= deadline)
            return false;
        harness_sleep_ms(50);
    }
}

/* ---- broker ------------------------------------------------------------------------- */

const char *harness_broker_start(struct harness_broker *b, const char *const extra_args[])
{
    const char *argv[64];
    int n = 0;
    struct harness_proc_opts opts = {.out = HARNESS_OUT_PIPE, .stdin_pipe = true};
    int len;

    memset(b, 0, sizeof(*b));
    b->proc.out_fd = -1;
    b->proc.in_fd = -1;
    argv[n++] = harness_bin("vigil-broker");
    argv[n++] = "--control";
    for (int i = 0; extra_args != NULL && extra_args[i] != NULL; i++) {
        if (n == 63) {
            fprintf(stderr, "harness: too many broker arguments\n");
            return NULL;
        }
        argv[n++] = extra_args[i];
    }
    argv[n] = NULL;
    if (argv[0] == NULL || harness_proc_start(&b->proc, argv, &opts) != 0)
        return NULL;

    len = harness_proc_read_line(&b->proc, b->bootstrap, sizeof(b->bootstrap), BROKER_START_MS);
    if (len <= 0 || strncmp(b->bootstrap, "127.0.0.1:", 10) != 0) {
        fprintf(stderr, "harness: vigil-broker gave no bootstrap list (got '%s')\n", b->bootstrap);
        harness_proc_dump_stderr(&b->proc, 30);
        harness_proc_kill9(&b->proc);
        b->bootstrap[0] = '\0';
        return NULL;
    }
    return b->bootstrap;
}

int harness_broker_cmd(struct harness_broker *b, const char *fmt, ...)
{
    char cmd[512], reply[512];
    va_list ap;
    int w;

    va_start(ap, fmt);
    w = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof(cmd) - 1)
        return -1;
    strcat(cmd, "\n");
    if (harness_proc_write(&b->proc, cmd) != 0)
        return -1;
    if (harness_proc_read_line(&b->proc, reply, sizeof(reply), 10000) < 0) {
        fprintf(stderr, "harness: vigil-broker did not answer '%.*s'\n", w, cmd);
        return -1;
    }
    if (strcmp(reply, "ok") != 0) {
        fprintf(stderr, "harness: vigil-broker '%.*s': %s\n", w, cmd, reply);
        return -1;
    }
    return 0;
}

int harness_broker_stop(struct harness_broker *b)
{
    return harness_proc_stop(&b->proc, STOP_MS);
}

/* ---- Kafka -------------------------------------------------------------------------- */

struct harness_producer {
    rd_kafka_t *rk;
    long delivered;
    long failed;
};

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    /* Warnings and errors only: info-level chatter would bury the test's own output. */
    /* AUTOCREATE: the mock broker's Metadata API predates allow.auto.create.topics, and
     * librdkafka warns about that on every consumer; the harness avoids requests that
     * would auto-create (it reads full metadata), so the warning is noise here. */
    if (strcmp(fac, "AUTOCREATE") == 0)
        return;
    if (level <= 4)
        fprintf(stderr, "harness: %s: %s %s\n", rd_kafka_name(rk), fac, buf);
}

static rd_kafka_conf_t *kafka_conf(const char *bootstrap, const char *const *kv)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];

    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK)
        goto fail;
    for (int i = 0; kv[i] != NULL; i += 2) {
        if (rd_kafka_conf_set(conf, kv[i], kv[i + 1], errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
            goto fail;
    }
    return conf;

fail:
    fprintf(stderr, "harness: kafka config: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static rd_kafka_t *kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char errstr[256];
    rd_kafka_t *rk;

    if (conf == NULL)
        return NULL;
    rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        /* rd_kafka_new() takes conf only on success. */
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "harness: rd_kafka_new: %s\n", errstr);
    }
    return rk;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct harness_producer *p = opaque;

    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        p->delivered++;
        return;
    }
    p->failed++;
    fprintf(stderr, "harness: delivery to %s [%d] failed: %s\n", rd_kafka_topic_name(m->rkt),
            m->partition, rd_kafka_err2str(m->err));
}

struct harness_producer *harness_producer_create(const char *bootstrap)
{
    /* clang-format off */
    static const char *const kv[] = {
        "enable.idempotence", "true",
        "linger.ms", "5",
        "message.timeout.ms", "10000",
        NULL,
    };
    /* clang-format on */
    struct harness_producer *p = calloc(1, sizeof(*p));
    rd_kafka_conf_t *conf;

    init_once();
    if (p == NULL)
        return NULL;
    conf = kafka_conf(bootstrap, kv);
    if (conf == NULL)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = kafka_new(RD_KAFKA_PRODUCER, conf);
    if (p->rk == NULL)
        goto fail;
    return p;

fail:
    free(p);
    return NULL;
}

int harness_producer_send(struct harness_producer *p, const char *topic, int32_t partition,
                          const char *key, const void *value, size_t len)
{
    int64_t deadline = harness_now_ms() + 10000;
    /* Outside the macro: RD_KAFKA_V_KEY does not parenthesise its arguments. */
    size_t key_len = key != NULL ? strlen(key) : 0;

    for (;;) {
        rd_kafka_resp_err_t err =
            rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);

        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_poll(p->rk, 0);
            return 0;
        }
        /* A full local queue is back-pressure, not failure: serve delivery reports. */
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || harness_now_ms() >= deadline) {
            fprintf(stderr, "harness: produce to %s: %s\n", topic, rd_kafka_err2str(err));
            return -1;
        }
        rd_kafka_poll(p->rk, 100);
    }
}

void harness_send_event(struct harness_producer *p, const char *account, const char *json)
{
    assert_int_equal(harness_producer_send(p, "vigil.events", -1, account, json, strlen(json)), 0);
}

void harness_call_start(struct harness_producer *p, const char *account, int i, int64_t ts,
                        const char *to, const char *device)
{
    char json[640], dev[160] = "";
    if (device)
        snprintf(dev, sizeof dev, ",\"device\":\"%s\"", device);
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_start\",\"id\":\"%s-s%d\",\"ts\":%lld,\"account\":\"%s\","
             "\"call_id\":\"%s-c%d\",\"from\":\"+31201234567\",\"to\":\"%s\",\"dir\":\"out\"%s}",
             account, i, (long long)ts, account, account, i, to, dev);
    harness_send_event(p, account, json);
}

void harness_call_end(struct harness_producer *p, const char *account, int i, int64_t ts,
                      const char *to, int duration)
{
    char json[640];
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"call_end\",\"id\":\"%s-e%d\",\"ts\":%lld,\"account\":\"%s\","
             "\"call_id\":\"%s-c%d\",\"from\":\"+31201234567\",\"to\":\"%s\",\"dir\":\"out\","
             "\"duration\":%d}",
             account, i, (long long)ts, account, account, i, to, duration);
    harness_send_event(p, account, json);
}

int harness_producer_flush(struct harness_producer *p, int timeout_ms)
{
    rd_kafka_resp_err_t err = rd_kafka_flush(p->rk, timeout_ms);
    int left = rd_kafka_outq_len(p->rk);
    int rc = 0;

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR || left > 0) {
        fprintf(stderr, "harness: flush: %d message(s) still undelivered after %d ms\n", left,
                timeout_ms);
        rc = -1;
    }
    if (p->failed > 0) {
        fprintf(stderr, "harness: flush: %ld message(s) failed\n", p->failed);
        rc = -1;
    }
    p->failed = 0;
    p->delivered = 0;
    return rc;
}

int harness_producer_destroy(struct harness_producer *p)
{
    int rc;

    if (p == NULL)
        return 0;
    rc = harness_producer_flush(p, 10000);
    rd_kafka_destroy(p->rk);
    free(p);
    return rc;
}

int harness_stack_start(struct harness_redis *r, unsigned redis_flags, struct harness_broker *b,
                        const char *const broker_args[], struct harness_producer **prod)
{
    if (!harness_redis_start(r, redis_flags) || !harness_broker_start(b, broker_args))
        return -1;
    *prod = harness_producer_create(b->bootstrap);
    return *prod ? 0 : -1;
}

int harness_stack_stop(void **state, struct harness_redis *r, struct harness_broker *b,
                       struct harness_producer **prod)
{
    harness_producer_destroy(*prod);
    *prod = NULL;
    harness_teardown(state);
    harness_broker_stop(b);
    harness_redis_fini(r);
    return 0;
}

int harness_produce(const char *bootstrap, const char *topic, const char *key, const void *value,
                    size_t len)
{
    struct harness_producer *p = harness_producer_create(bootstrap);
    int rc;

    if (p == NULL)
        return -1;
    rc = harness_producer_send(p, topic, -1, key, value, len);
    if (harness_producer_destroy(p) != 0)
        rc = -1;
    return rc;
}

/* A consumer that never auto-creates topics and never commits. group may be NULL. */
static rd_kafka_t *consumer_new(const char *bootstrap, const char *group)
{
    /* clang-format off */
    const char *const kv[] = {
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        "allow.auto.create.topics", "false",
        "auto.offset.reset", "earliest",
        group != NULL ? "group.id" : NULL, group,
        NULL,
    };
    /* clang-format on */

    init_once();
    return kafka_new(RD_KAFKA_CONSUMER, kafka_conf(bootstrap, kv));
}

/* Partition count of topic from a full metadata request (which, unlike a request naming
 * the topic, can never auto-create it). 0 if the topic is not there, -1 on error. */
static int partitions_of(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    int n = 0;

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "harness: metadata: %s\n", rd_kafka_err2str(err));
        return -1;
    }
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, topic) == 0 &&
            md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            n = md->topics[i].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    return n;
}

int harness_topic_partitions(const char *bootstrap, const char *topic)
{
    rd_kafka_t *rk = consumer_new(bootstrap, NULL);
    int n;

    if (rk == NULL)
        return -1;
    n = partitions_of(rk, topic, 10000);
    rd_kafka_destroy(rk);
    return n > 0 ? n : -1;
}

void harness_msgs_free(struct harness_msg *msgs, size_t n)
{
    for (size_t i = 0; msgs != NULL && i < n; i++) {
        free(msgs[i].key);
        free(msgs[i].value);
    }
    free(msgs);
}

static char *copy_bytes(const void *src, size_t len)
{
    char *s = malloc(len + 1);

    if (s != NULL) {
        if (len > 0)
            memcpy(s, src, len);
        s[len] = '\0';
    }
    return s;
}

static int msg_cmp(const void *a, const void *b)
{
    const struct harness_msg *x = a, *y = b;

    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Appends a copy of m to *v; returns 0 or -1 (out of memory). */
static int msg_append(struct harness_msg **v, size_t *n, size_t *cap, const rd_kafka_message_t *m)
{
    struct harness_msg *h;

    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        struct harness_msg *nv = realloc(*v, nc * sizeof(*nv));

        if (nv == NULL)
            return -1;
        *v = nv;
        *cap = nc;
    }
    h = &(*v)[*n];
    memset(h, 0, sizeof(*h));
    h->key = m->key != NULL ? copy_bytes(m->key, m->key_len) : NULL;
    h->key_len = m->key != NULL ? m->key_len : 0;
    h->value = copy_bytes(m->payload, m->payload != NULL ? m->len : 0);
    h->value_len = m->payload != NULL ? m->len : 0;
    h->partition = m->partition;
    h->offset = m->offset;
    h->timestamp_ms = rd_kafka_message_timestamp(m, NULL);
    if (h->value == NULL || (m->key != NULL && h->key == NULL)) {
        free(h->key);
        free(h->value);
        return -1;
    }
    (*n)++;
    return 0;
}

ssize_t harness_consume_all(const char *bootstrap, const char *topic, int timeout_ms,
                            size_t max_msgs, struct harness_msg **out)
{
    static unsigned seq;
    char group[64];
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *parts = NULL;
    struct harness_msg *v = NULL;
    size_t n = 0, cap = 0;
    int64_t deadline = harness_now_ms() + timeout_ms;
    int64_t last_news;
    int np = 0;
    rd_kafka_resp_err_t err;

    /* librdkafka 2.0.2 refuses assign() without a group.id, even though nothing here
     * joins a group or commits: a name of our own that no test uses. */
    snprintf(group, sizeof(group), "harness-reader-%d-%u", (int)getpid(), seq++);
    rk = consumer_new(bootstrap, group);
    *out = NULL;
    if (rk == NULL)
        return -1;
    /* The topic may be about to appear (the program under test creates it by producing):
     * give it the whole timeout. */
    while ((np = partitions_of(rk, topic, 5000)) <= 0 && harness_now_ms() < deadline)
        harness_sleep_ms(100);
    if (np <= 0) {
        fprintf(stderr, "harness: consume: topic %s does not exist\n", topic);
        goto fail;
    }

    parts = rd_kafka_topic_partition_list_new(np);
    for (int i = 0; i < np; i++)
        rd_kafka_topic_partition_list_add(parts, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    err = rd_kafka_assign(rk, parts);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "harness: assign %s: %s\n", topic, rd_kafka_err2str(err));
        goto fail;
    }

    last_news = harness_now_ms();
    while (max_msgs == 0 || n < max_msgs) {
        rd_kafka_message_t *m;

        if (harness_now_ms() - last_news >= timeout_ms)
            break;
        m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (msg_append(&v, &n, &cap, m) != 0) {
                rd_kafka_message_destroy(m);
                goto fail;
            }
            last_news = harness_now_ms();
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "harness: consume %s: %s\n", topic, rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }

    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (n > 1)
        qsort(v, n, sizeof(*v), msg_cmp);
    *out = v;
    return (ssize_t)n;

fail:
    harness_msgs_free(v, n);
    if (parts != NULL)
        rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return -1;
}

int harness_committed_offsets(const char *bootstrap, const char *group, const char *topic,
                              int64_t out[], int n)
{
    rd_kafka_t *rk = consumer_new(bootstrap, group);
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_resp_err_t err;
    int rc = 0;

    if (rk == NULL)
        return -1;
    parts = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(parts, topic, i);
    /* An OffsetFetch to the group coordinator; we never join the group, so this does not
     * disturb the members under test. */
    err = rd_kafka_committed(rk, parts, 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "harness: committed offsets of %s: %s\n", group, rd_kafka_err2str(err));
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];

        if (tp->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "harness: committed offset of %s [%d]: %s\n", topic, tp->partition,
                    rd_kafka_err2str(tp->err));
            rc = -1;
        } else {
            out[tp->partition] = tp->offset;
        }
    }
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

int64_t harness_committed_sum(const char *bootstrap, const char *group, const char *topic)
{
    int parts = harness_topic_partitions(bootstrap, topic);
    int64_t committed[1024], sum = 0;
    if (parts <= 0 || parts > 1024 ||
        harness_committed_offsets(bootstrap, group, topic, committed, parts) != 0)
        return -1;
    for (int p = 0; p < parts; p++)
        sum += committed[p] < 0 ? 0 : committed[p];
    return sum;
}

/* ---- JSON --------------------------------------------------------------------------- */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* p at the opening quote; returns the character after the closing one, or NULL. */
static const char *skip_string(const char *p)
{
    for (p++; *p != '\0'; p++) {
        if (*p == '\\' && p[1] != '\0')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* Returns the character after the value starting at p, or NULL if it is malformed. */
static const char *skip_value(const char *p)
{
    int depth = 0;

    if (*p == '"')
        return skip_string(p);
    if (*p != '{' && *p != '[') {
        const char *start = p;

        while (*p != '\0' && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' &&
               *p != '\n' && *p != '\r')
            p++;
        return p > start ? p : NULL;
    }
    while (*p != '\0') {
        if (*p == '"') {
            p = skip_string(p);
            if (p == NULL)
                return NULL;
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if ((*p == '}' || *p == ']') && --depth == 0)
            return p + 1;
        p++;
    }
    return NULL;
}

/* p at '{'; returns the start of the value of member key (keylen bytes), or NULL. Keys
 * are compared as written (no unescaping): our outputs never escape key characters. */
static const char *find_member(const char *p, const char *key, size_t keylen)
{
    p = skip_ws(p + 1);
    while (*p == '"') {
        const char *kstart = p + 1;
        const char *kend = skip_string(p);
        bool match;

        if (kend == NULL)
            return NULL;
        match = (size_t)(kend - 1 - kstart) == keylen && memcmp(kstart, key, keylen) == 0;
        p = skip_ws(kend);
        if (*p != ':')
            return NULL;
        p = skip_ws(p + 1);
        if (match)
            return p;
        p = skip_value(p);
        if (p == NULL)
            return NULL;
        p = skip_ws(p);
        if (*p != ',')
            return NULL;
        p = skip_ws(p + 1);
    }
    return NULL;
}

static const char *lookup(const char *json, const char *path)
{
    const char *p = skip_ws(json);

    while (p != NULL) {
        const char *dot = strchr(path, '.');
        size_t len = dot != NULL ? (size_t)(dot - path) : strlen(path);

        if (*p != '{')
            return NULL;
        p = find_member(p, path, len);
        if (dot == NULL)
            return p;
        path = dot + 1;
    }
    return NULL;
}

/* Unescapes the string at p (at its quote) into buf; returns its length or -1. */
static int unescape(const char *p, char *buf, size_t n)
{
    size_t k = 0;

    for (p++; *p != '"'; p++) {
        char c = *p;

        if (c == '\0')
            return -1;
        if (c == '\\') {
            c = *++p;
            switch (c) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'u':
                c = '\\';
                p--;
                break; /* keep \uXXXX as written */
            case '\0':
                return -1;
            default:
                break; /* \" \\ \/ */
            }
        }
        if (k + 1 >= n)
            return -1;
        buf[k++] = c;
    }
    buf[k] = '\0';
    return (int)k;
}

bool harness_json_has(const char *json, const char *needle)
{
    return json != NULL && strstr(json, needle) != NULL;
}

const char *harness_json_raw(const char *json, const char *path, size_t *len)
{
    const char *v = json != NULL ? lookup(json, path) : NULL;
    const char *end = v != NULL ? skip_value(v) : NULL;

    if (end == NULL)
        return NULL;
    if (len != NULL)
        *len = (size_t)(end - v);
    return v;
}

int harness_json_str(const char *json, const char *path, char *buf, size_t n)
{
    const char *v = harness_json_raw(json, path, NULL);

    if (v == NULL || *v != '"' || n == 0)
        return -1;
    return unescape(v, buf, n);
}

int harness_json_int(const char *json, const char *path, long long *out)
{
    size_t len;
    const char *v = harness_json_raw(json, path, &len);
    char *end;
    long long x;

    if (v == NULL || !(*v == '-' || (*v >= '0' && *v <= '9')))
        return -1;
    errno = 0;
    x = strtoll(v, &end, 10);
    if (errno != 0 || end != v + len)
        return -1; /* a fraction, an exponent or an overflow */
    *out = x;
    return 0;
}

bool harness_json_array_has(const char *json, const char *path, const char *s)
{
    const char *p = harness_json_raw(json, path, NULL);
    size_t slen = strlen(s);
    char *buf;
    bool found = false;

    if (p == NULL || *p != '[')
        return false;
    buf = malloc(slen + 2);
    if (buf == NULL)
        return false;
    p = skip_ws(p + 1);
    while (p != NULL && *p != ']' && *p != '\0' && !found) {
        if (*p == '"' && unescape(p, buf, slen + 2) == (int)slen && strcmp(buf, s) == 0)
            found = true;
        p = skip_value(p);
        if (p != NULL) {
            p = skip_ws(p);
            if (*p == ',')
                p = skip_ws(p + 1);
        }
    }
    free(buf);
    return found;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* redis_sink.c - pipelined, retry-safe batches of Redis commands (see redis_sink.h). */
#include "redis_sink.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "vigil/status.h"

/* A flush with a wait hook looks at the socket this often (ms) between calls of the hook. */
#define HOOK_POLL_MS 1

struct cmd {
    char *buf; /* RESP-formatted */
    size_t len;
    bool ours; /* buf is from our malloc (vigil_redis_add_argv), else hiredis' formatter's */
};

static void free_cmd(const struct cmd *c)
{
    if (c->ours)
        free(c->buf);
    else
        redisFreeCommand(c->buf);
}

struct vigil_redis {
    char host[200];
    int port;
    int db;
    int timeout_ms;
    char user[128];     /* "" : AUTH with the password only (requirepass) */
    char password[512]; /* "" : no AUTH; never printed, wiped on destroy */
    char where[400];    /* for messages: the address with the password masked */
    redisContext *c;    /* NULL when not connected or after a failure */
    struct cmd *batch;
    size_t n, cap;
    char errstr[1024];
    unsigned long long round_trips, commands;
    void (*wait_hook)(void *arg); /* NULL: flushes block in their reads */
    void *wait_arg;
};

/* The address as given, with the password of a redis:// URL replaced by "***", for error
 * messages about the address itself. */
static void mask_address(const char *where, char *out, size_t n)
{
    const char *at = strncmp(where, "redis://", 8) == 0 ? strrchr(where + 8, '@') : NULL;
    if (!at) {
        snprintf(out, n, "%s", where);
        return;
    }
    const char *colon = memchr(where + 8, ':', (size_t)(at - (where + 8)));
    if (colon)
        snprintf(out, n, "%.*s:***%s", (int)(colon - where), where, at);
    else
        snprintf(out, n, "%s", where);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..len) into out[n] (a URL's user and password may hold '@', ':', '/'
 * written as %40, %3A, %2F). -1 on a bad escape, a NUL, or when it does not fit. */
static int url_decode(const char *s, size_t len, char *out, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_digit(s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_digit(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0' || o + 1 >= n)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* Reads the password from a file: its first line, without the line end. */
static int read_password_file(const char *path, char *out, size_t n, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read the Redis password file '%s': %s", path,
                 strerror(errno));
        return -1;
    }
    bool got = fgets(out, (int)n, f) != NULL;
    fclose(f);
    size_t len = got ? strcspn(out, "\r\n") : 0;
    if (got && len == n - 1) {
        snprintf(err, errlen, "the Redis password file '%s' holds a line longer than %zu bytes",
                 path, n - 2);
        explicit_bzero(out, n);
        return -1;
    }
    out[len] = '\0';
    if (len == 0) {
        snprintf(err, errlen, "the Redis password file '%s' is empty", path);
        return -1;
    }
    return 0;
}

struct vigil_redis *vigil_redis_create(const char *where, const char *password_file,
                                       int timeout_ms, char *err, size_t errlen)
{
    static const char expected[] = "expected HOST:PORT or redis://[USER:PASSWORD@]HOST:PORT[/DB]";
    char shown[400];
    mask_address(where, shown, sizeof shown);
    struct vigil_redis *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *p = where;
    bool url = strncmp(p, "redis://", 8) == 0;
    if (url) {
        p += 8;
        /* The last '@': a password may hold one unescaped; a host never does. */
        const char *at = strrchr(p, '@');
        if (at) {
            const char *colon = memchr(p, ':', (size_t)(at - p));
            const char *user_end = colon ? colon : at;
            if (url_decode(p, (size_t)(user_end - p), r->user, sizeof r->user) != 0 ||
                (colon && url_decode(colon + 1, (size_t)(at - colon - 1), r->password,
                                     sizeof r->password) != 0)) {
                snprintf(err, errlen, "bad Redis address '%s': bad user or password (too long, "
                         "or a %% not followed by two hex digits)", shown);
                goto fail;
            }
            p = at + 1;
        }
    }
    const char *colon = strrchr(p, ':');
    if (!colon || colon == p || colon - p >= (ptrdiff_t)sizeof r->host) {
        snprintf(err, errlen, "bad Redis address '%s': %s", shown, expected);
        goto fail;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    long db = 0;
    if (*end == '/' && url)
        db = strtol(end + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535 || db < 0 || db > 1000) {
        snprintf(err, errlen, "bad Redis address '%s': %s", shown, expected);
        goto fail;
    }
    memcpy(r->host, p, (size_t)(colon - p));
    r->port = (int)port;
    r->db = (int)db;
    r->timeout_ms = timeout_ms;
    /* The URL's password first, then the file, then the environment. */
    const char *env = getenv("VIGIL_REDIS_PASSWORD");
    if (r->password[0]) {
        /* from the URL */
    } else if (password_file && *password_file) {
        if (read_password_file(password_file, r->password, sizeof r->password, err, errlen))
            goto fail;
    } else if (env && *env) {
        if (strlen(env) >= sizeof r->password) {
            snprintf(err, errlen, "VIGIL_REDIS_PASSWORD is longer than %zu bytes",
                     sizeof r->password - 1);
            goto fail;
        }
        strcpy(r->password, env);
    }
    if (r->user[0] && !r->password[0]) {
        snprintf(err, errlen, "Redis user '%s' has no password: give it in the URL, "
                 "VIGIL_REDIS_PASSWORD or redis.password_file", r->user);
        goto fail;
    }
    if (r->password[0] || r->db) {
        /* Never the password itself: "redis://alice:***@host:6379/2". */
        snprintf(r->where, sizeof r->where, "redis://%s%s%s:%d", r->user,
                 r->password[0] ? ":***@" : "", r->host, r->port);
        if (r->db) {
            size_t len = strlen(r->where);
            snprintf(r->where + len, sizeof r->where - len, "/%d", r->db);
        }
    } else {
        snprintf(r->where, sizeof r->where, "%s:%d", r->host, r->port);
    }
    return r;

fail:
    explicit_bzero(r->password, sizeof r->password);
    free(r);
    return NULL;
}

static void drop_connection(struct vigil_redis *r)
{
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
}

void vigil_redis_destroy(struct vigil_redis *r)
{
    if (!r)
        return;
    drop_connection(r);
    for (size_t i = 0; i < r->n; i++)
        free_cmd(&r->batch[i]);
    free(r->batch);
    explicit_bzero(r->password, sizeof r->password);
    free(r);
}

int vigil_redis_connect(struct vigil_redis *r)
{
    drop_connection(r);
    struct timeval tv = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
    r->c = redisConnectWithTimeout(r->host, r->port, tv);
    if (!r->c || r->c->err) {
        snprintf(r->errstr, sizeof r->errstr, "cannot connect to Redis at %s: %s", r->where,
                 r->c ? r->c->errstr : "out of memory");
        drop_connection(r);
        return VIGIL_ERR_IO;
    }
    /* The timeout also bounds every reply we wait for, so a stalled Redis cannot hang us. */
    redisSetTimeout(r->c, tv);
    /* AUTH and SELECT on every connection: a new connection is unauthenticated, in DB 0. */
    redisReply *rep = NULL;
    if (r->password[0]) {
        /* AUTH USER PASSWORD for an ACL user, AUTH PASSWORD for requirepass. */
        const char *argv[3] = {"AUTH"};
        size_t lens[3] = {4};
        int argc = 1;
        if (r->user[0]) {
            argv[argc] = r->user;
            lens[argc++] = strlen(r->user);
        }
        argv[argc] = r->password;
        lens[argc++] = strlen(r->password);
        rep = redisCommandArgv(r->c, argc, argv, lens);
        if (rep && rep->type == REDIS_REPLY_ERROR) {
            /* Redis' reply (WRONGPASS ..., or ERR ... without any password configured)
             * never quotes the password. */
            snprintf(r->errstr, sizeof r->errstr, "Redis at %s refused %s%s%s: %s", r->where,
                     r->user[0] ? "user '" : "the password", r->user,
                     r->user[0] ? "' with its password" : "", rep->str);
            freeReplyObject(rep);
            drop_connection(r);
            return VIGIL_ERR_IO;
        }
        if (!rep) {
            snprintf(r->errstr, sizeof r->errstr, "Redis at %s does not answer: %s", r->where,
                     r->c->errstr);
            drop_connection(r);
            return VIGIL_ERR_IO;
        }
        freeReplyObject(rep);
    }
    rep = r->db ? redisCommand(r->c, "SELECT %d", r->db) : redisCommand(r->c, "PING");
    int ok = rep && rep->type != REDIS_REPLY_ERROR;
    if (!ok && rep && strncmp(rep->str, "NOAUTH", 6) == 0) {
        snprintf(r->errstr, sizeof r->errstr,
                 "Redis at %s requires a password: give it in the URL "
                 "(redis://[USER:]PASSWORD@HOST:PORT), VIGIL_REDIS_PASSWORD or "
                 "redis.password_file", r->where);
    } else if (!ok) {
        snprintf(r->errstr, sizeof r->errstr, "Redis at %s does not answer: %s", r->where,
                 rep ? rep->str : r->c->errstr);
    }
    if (rep)
        freeReplyObject(rep);
    if (!ok) {
        drop_connection(r);
        return VIGIL_ERR_IO;
    }
    r->errstr[0] = '\0';
    return 0;
}

static int push_cmd(struct vigil_redis *r, char *buf, long long len, bool ours)
{
    struct cmd c = {buf, (size_t)len, ours};
    if (len < 0 || !buf)
        return VIGIL_ERR_NOMEM;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        struct cmd *nb = realloc(r->batch, cap * sizeof *nb);
        if (!nb) {
            free_cmd(&c);
            return VIGIL_ERR_NOMEM;
        }
        r->batch = nb;
        r->cap = cap;
    }
    r->batch[r->n++] = c;
    return 0;
}

/* tag, the digits of n, CRLF: a RESP array or bulk-string header. Returns its length. */
static size_t put_header(char *out, char tag, size_t n)
{
    out[0] = tag;
    size_t k = 1 + vigil_redis_fmt_int(out + 1, (int64_t)n);
    out[k++] = '\r';
    out[k++] = '\n';
    return k;
}

int vigil_redis_add_argv(struct vigil_redis *r, int argc, const char **argv, const size_t *lens)
{
    /* RESP written here rather than by hiredis' redisFormatCommandArgv, which prints every
     * length with sprintf: the counters, orders and checkpoints all come this way. */
    size_t total = 24;
    for (int i = 0; i < argc; i++)
        total += 24 + lens[i] + 2;
    char *buf = malloc(total);
    if (!buf)
        return VIGIL_ERR_NOMEM;
    size_t k = put_header(buf, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        k += put_header(buf + k, '$', lens[i]);
        memcpy(buf + k, argv[i], lens[i]);
        k += lens[i];
        buf[k++] = '\r';
        buf[k++] = '\n';
    }
    return push_cmd(r, buf, (long long)k, true);
}

int vigil_redis_add(struct vigil_redis *r, const char *fmt, ...)
{
    char *buf = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&buf, fmt, ap);
    va_end(ap);
    return push_cmd(r, buf, len, false);
}

size_t vigil_redis_fmt_int(char *out, int64_t v)
{
    char tmp[20];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t k = 0;
    if (v < 0)
        out[k++] = '-';
    while (n)
        out[k++] = tmp[--n];
    return k;
}

size_t vigil_redis_pending(const struct vigil_redis *r)
{
    return r->n;
}

static void clear_batch(struct vigil_redis *r)
{
    for (size_t i = 0; i < r->n; i++)
        free_cmd(&r->batch[i]);
    r->n = 0;
}

void vigil_redis_set_wait_hook(struct vigil_redis *r, void (*hook)(void *arg), void *arg)
{
    r->wait_hook = hook;
    r->wait_arg = arg;
}

/* The next reply, calling the wait hook while none has arrived: everything queued is written
 * first (as redisGetReply does), then the socket is polled, the hook running between polls.
 * REDIS_ERR with the context's error set, or with r->errstr set on a timeout (no byte for
 * the connection's timeout). */
static int next_reply(struct vigil_redis *r, void **rep, bool *timed_out)
{
    if (!r->wait_hook)
        return redisGetReply(r->c, rep);
    *rep = NULL;
    int done = 0;
    while (!done) {
        if (redisBufferWrite(r->c, &done) != REDIS_OK)
            return REDIS_ERR;
    }
    /* When the socket went quiet (0: it has not): read only once a wait begins, not for
     * every reply of a batch whose replies are already in. */
    int64_t quiet_since = 0;
    for (;;) {
        if (redisReaderGetReply(r->c->reader, rep) != REDIS_OK) {
            snprintf(r->c->errstr, sizeof r->c->errstr, "%s", "protocol error");
            return REDIS_ERR;
        }
        if (*rep)
            return REDIS_OK;
        struct pollfd pfd = {.fd = r->c->fd, .events = POLLIN};
        int n = poll(&pfd, 1, 0);
        if (n == 0) {
            r->wait_hook(r->wait_arg);
            n = poll(&pfd, 1, HOOK_POLL_MS);
        }
        if (n < 0 && errno != EINTR)
            return REDIS_ERR;
        if (n <= 0) {
            int64_t now = vigil_mono_ms();
            if (quiet_since == 0)
                quiet_since = now;
            if (now - quiet_since > r->timeout_ms) {
                *timed_out = true;
                return REDIS_ERR;
            }
            continue;
        }
        if (redisBufferRead(r->c) != REDIS_OK)
            return REDIS_ERR;
        quiet_since = 0;
    }
}

int vigil_redis_flush(struct vigil_redis *r)
{
    bool timed_out = false;
    if (r->n == 0)
        return 0;
    if (!r->c && vigil_redis_connect(r) != 0)
        return VIGIL_ERR_IO;
    for (size_t i = 0; i < r->n; i++) {
        if (redisAppendFormattedCommand(r->c, r->batch[i].buf, r->batch[i].len) != REDIS_OK)
            goto io_fail;
    }
    r->round_trips++;
    int rc = 0;
    for (size_t i = 0; i < r->n; i++) {
        void *rep = NULL;
        if (next_reply(r, &rep, &timed_out) != REDIS_OK)
            goto io_fail;
        redisReply *reply = rep;
        if (reply->type == REDIS_REPLY_ERROR && rc == 0) {
            snprintf(r->errstr, sizeof r->errstr, "Redis at %s refused a command: %s", r->where,
                     reply->str);
            rc = VIGIL_ERR_INVALID;
        }
        freeReplyObject(reply);
    }
    r->commands += r->n;
    clear_batch(r);
    return rc;

io_fail:
    snprintf(r->errstr, sizeof r->errstr, "Redis at %s failed: %s", r->where,
             timed_out          ? "no reply within the timeout"
             : r->c->errstr[0] ? r->c->errstr
                                : "connection lost");
    /* A context with an error is rebuilt, never reused; the batch stays for the retry. */
    drop_connection(r);
    return VIGIL_ERR_IO;
}

void *vigil_redis_command(struct vigil_redis *r, const char *fmt, ...)
{
    if (!r->c && vigil_redis_connect(r) != 0)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    void *rep = redisvCommand(r->c, fmt, ap);
    va_end(ap);
    if (!rep) {
        snprintf(r->errstr, sizeof r->errstr, "Redis at %s failed: %s", r->where,
                 r->c->errstr);
        drop_connection(r);
    }
    return rep;
}

const char *vigil_redis_errstr(const struct vigil_redis *r)
{
    return r->errstr;
}

const char *vigil_redis_where(const struct vigil_redis *r)
{
    return r->where;
}

void vigil_redis_get_stats(const struct vigil_redis *r, unsigned long long *round_trips,
                           unsigned long long *commands)
{
    *round_trips = r->round_trips;
    *commands = r->commands;
}

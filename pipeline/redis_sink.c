/* SPDX-License-Identifier: Apache-2.0 */
/* redis_sink.c - pipelined, retry-safe batches of Redis commands (see redis_sink.h). */
#include "redis_sink.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/status.h"

struct cmd {
    char *buf; /* RESP-formatted by hiredis */
    size_t len;
};

struct vigil_redis {
    char host[200];
    int port;
    int db;
    int timeout_ms;
    char where[220];
    redisContext *c; /* NULL when not connected or after a failure */
    struct cmd *batch;
    size_t n, cap;
    char errstr[1024];
    unsigned long long round_trips, commands;
};

struct vigil_redis *vigil_redis_create(const char *where, int timeout_ms, char *err,
                                       size_t errlen)
{
    const char *p = where;
    if (strncmp(p, "redis://", 8) == 0)
        p += 8;
    const char *colon = strrchr(p, ':');
    if (!colon || colon == p || colon - p >= 199) {
        snprintf(err, errlen, "bad Redis address '%s': expected HOST:PORT or redis://HOST:PORT",
                 where);
        return NULL;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    long db = 0;
    if (*end == '/')
        db = strtol(end + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535 || db < 0 || db > 1000) {
        snprintf(err, errlen, "bad Redis address '%s': expected HOST:PORT or redis://HOST:PORT",
                 where);
        return NULL;
    }
    struct vigil_redis *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(r->host, p, (size_t)(colon - p));
    r->port = (int)port;
    r->db = (int)db;
    r->timeout_ms = timeout_ms;
    snprintf(r->where, sizeof r->where, "%s:%d", r->host, r->port);
    return r;
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
        redisFreeCommand(r->batch[i].buf);
    free(r->batch);
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
    redisReply *rep = r->db ? redisCommand(r->c, "SELECT %d", r->db) : redisCommand(r->c, "PING");
    int ok = rep && rep->type != REDIS_REPLY_ERROR;
    if (!ok) {
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

static int push_cmd(struct vigil_redis *r, char *buf, long long len)
{
    if (len < 0 || !buf)
        return VIGIL_ERR_NOMEM;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        struct cmd *nb = realloc(r->batch, cap * sizeof *nb);
        if (!nb) {
            redisFreeCommand(buf);
            return VIGIL_ERR_NOMEM;
        }
        r->batch = nb;
        r->cap = cap;
    }
    r->batch[r->n++] = (struct cmd){buf, (size_t)len};
    return 0;
}

int vigil_redis_add_argv(struct vigil_redis *r, int argc, const char **argv, const size_t *lens)
{
    char *buf = NULL;
    long long len = redisFormatCommandArgv(&buf, argc, argv, lens);
    return push_cmd(r, buf, len);
}

int vigil_redis_add(struct vigil_redis *r, const char *fmt, ...)
{
    char *buf = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&buf, fmt, ap);
    va_end(ap);
    return push_cmd(r, buf, len);
}

size_t vigil_redis_pending(const struct vigil_redis *r)
{
    return r->n;
}

static void clear_batch(struct vigil_redis *r)
{
    for (size_t i = 0; i < r->n; i++)
        redisFreeCommand(r->batch[i].buf);
    r->n = 0;
}

int vigil_redis_flush(struct vigil_redis *r)
{
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
        if (redisGetReply(r->c, &rep) != REDIS_OK)
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
             r->c->errstr[0] ? r->c->errstr : "connection lost");
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

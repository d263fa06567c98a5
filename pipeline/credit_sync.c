/* SPDX-License-Identifier: Apache-2.0 */
/* credit_sync.c - reads <prefix>credit from Redis into the credit limits table (see
 * credit_sync.h).
 *
 * Threading: the fields below `poller` belong to the sync thread once it runs.
 * Ownership: the sync owns its Redis connection, its list of hashes, and borrows the table. */
#include "credit_sync.h"

#include <ctype.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "poller.h"
#include "publisher.h"
#include "redis_keys.h"
#include "redis_sink.h"
#include "vigil/credit.h"
#include "vigil/status.h"

#define RETRY_MS 10000

static int64_t refresh(void *ctx);

struct vigil_credit_sync {
    struct vigil_credit *table;
    struct vigil_redis *redis;
    char key[256];
    struct vigil_poller poller; /* the sync thread: refresh() until stopped */

    /* Sync-thread-only state. */
    uint64_t *have; /* hashes set by the last read, sorted */
    size_t n_have;
    bool failing;
    size_t bad_logged; /* unreadable values at the last log */
    size_t n_logged;   /* accounts with a limit at the last log */
    bool full_logged;
};

int vigil_credit_parse(const char *value, long long *limit_cents, long long *period_start_ms)
{
    char *end;
    errno = 0;
    double eur = strtod(value, &end);
    if (end == value || errno != 0 || !isspace((unsigned char)*end) || !(eur > 0) ||
        eur > 1e13)
        return VIGIL_ERR_INVALID;
    const char *p = end;
    while (isspace((unsigned char)*p))
        p++;
    if (!isdigit((unsigned char)*p))
        return VIGIL_ERR_INVALID;
    long long start = strtoll(p, &end, 10);
    if (errno != 0 || start < 0)
        return VIGIL_ERR_INVALID;
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0')
        return VIGIL_ERR_INVALID;
    long long cents = llround(eur * 100.0);
    if (cents <= 0)
        return VIGIL_ERR_INVALID;
    *limit_cents = cents;
    *period_start_ms = start;
    return 0;
}

struct vigil_credit_sync *vigil_credit_sync_create(struct vigil_credit *table, const char *redis,
                                                   const char *password_file, int timeout_ms,
                                                   const char *prefix, char *err, size_t errlen)
{
    struct vigil_credit_sync *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->redis = vigil_redis_create(redis, password_file, timeout_ms, err, errlen);
    if (!s->redis) {
        free(s);
        return NULL;
    }
    s->table = table;
    s->n_logged = 0; /* an empty table (no billing integration) is not worth a line */
    vigil_redis_key(s->key, sizeof s->key, prefix, VIGIL_RKEY_CREDIT, NULL, NULL);
    vigil_poller_init(&s->poller, refresh, s);
    return s;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Brings the table to one HGETALL reply. */
static void take(struct vigil_credit_sync *s, const redisReply *r)
{
    size_t n = r->elements / 2, got = 0, bad = 0, full = 0;
    uint64_t *now = calloc(n ? n : 1, sizeof *now);
    if (!now)
        return; /* try again at the next read */
    const char *bad_field = "";
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        long long cents, start;
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || f->len == 0 ||
            vigil_credit_parse(v->str, &cents, &start) != 0) {
            if (f->type == REDIS_REPLY_STRING && bad == 0)
                bad_field = f->str;
            bad++;
            continue;
        }
        uint64_t h = vigil_credit_hash(f->str);
        if (vigil_credit_set(s->table, h, cents, start) != 0) {
            full++;
            continue;
        }
        now[got++] = h;
    }
    qsort(now, got, sizeof *now, cmp_u64);
    /* Accounts billing removed since the last read: no limit any more. */
    for (size_t i = 0; i < s->n_have; i++) {
        if (!bsearch(&s->have[i], now, got, sizeof *now, cmp_u64))
            vigil_credit_clear(s->table, s->have[i]);
    }
    free(s->have);
    s->have = now;
    s->n_have = got;
    if (got != s->n_logged) {
        vigil_log_info("credit limits: %zu account(s) with a limit in %s", got, s->key);
        s->n_logged = got;
    }
    if (bad != s->bad_logged) {
        if (bad > 0)
            vigil_log_warn("credit limits: %zu value(s) of %s not understood (e.g. field '%s'); "
                           "expected \"LIMIT_EUR PERIOD_START_MS\"; those accounts have no limit",
                           bad, s->key, bad_field);
        s->bad_logged = bad;
    }
    if (full > 0 && !s->full_logged) {
        vigil_log_warn("credit limits: the table is full (%zu accounts not added)", full);
        s->full_logged = true;
    }
}

static int64_t refresh(void *ctx)
{
    struct vigil_credit_sync *s = ctx;
    redisReply *r = vigil_redis_command(s->redis, "HGETALL %s", s->key);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (!s->failing)
            vigil_log_warn("cannot read the credit limits (%s); retrying every %d s",
                           r ? (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply")
                             : vigil_redis_errstr(s->redis),
                           RETRY_MS / 1000);
        s->failing = true;
        if (r)
            freeReplyObject(r);
        return RETRY_MS;
    }
    if (s->failing)
        vigil_log_info("reading the credit limits again");
    s->failing = false;
    take(s, r);
    freeReplyObject(r);
    return VIGIL_CREDIT_SYNC_MS;
}

int vigil_credit_sync_start(struct vigil_credit_sync *s)
{
    return vigil_poller_start(&s->poller);
}

void vigil_credit_sync_stop(struct vigil_credit_sync *s)
{
    vigil_poller_stop(&s->poller);
}

void vigil_credit_sync_destroy(struct vigil_credit_sync *s)
{
    if (!s)
        return;
    vigil_credit_sync_stop(s);
    vigil_redis_destroy(s->redis);
    free(s->have);
    free(s);
}

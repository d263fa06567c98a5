/* SPDX-License-Identifier: Apache-2.0 */
/* flagged_sync.c - reads <prefix>flagged from Redis into the flagged set (see
 * flagged_sync.h).
 *
 * Threading: the fields below `poller` belong to the sync thread once it runs.
 * Ownership: the sync owns its Redis connection and borrows the set. */
#include "flagged_sync.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "poller.h"
#include "publisher.h"
#include "redis_keys.h"
#include "redis_sink.h"
#include "vigil/flagged.h"
#include "vigil/status.h"

#define OVERLAP_MS 60000
#define FULL_MS 60000
#define RETRY_MS 10000

static int64_t refresh(void *ctx);

struct vigil_flagged_sync {
    struct vigil_flagged *set;
    struct vigil_redis *redis;
    char key[256];
    struct vigil_poller poller; /* the sync thread: refresh() until stopped */

    /* Sync-thread-only state. */
    int64_t full_ms; /* monotonic: the last full read; INT64_MIN / 2 before the first */
    int64_t high;    /* the highest expiry read so far (wall ms) */
    bool failing;    /* the last read failed (logged once per change) */
    bool full_logged;
};

struct vigil_flagged_sync *vigil_flagged_sync_create(struct vigil_flagged *set, const char *redis,
                                                     const char *password_file, int timeout_ms,
                                                     const char *prefix, char *err, size_t errlen)
{
    struct vigil_flagged_sync *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->redis = vigil_redis_create(redis, password_file, timeout_ms, err, errlen);
    if (!s->redis) {
        free(s);
        return NULL;
    }
    s->set = set;
    vigil_redis_key(s->key, sizeof s->key, prefix, VIGIL_RKEY_FLAGGED, NULL, NULL);
    s->full_ms = INT64_MIN / 2;
    vigil_poller_init(&s->poller, refresh, s);
    return s;
}

/* Adds the members of a ZRANGEBYSCORE ... WITHSCORES reply to the set. Returns how many were
 * not in it before. */
static size_t take(struct vigil_flagged_sync *s, const redisReply *r)
{
    size_t fresh = 0, full = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *m = r->element[i], *sc = r->element[i + 1];
        if (m->type != REDIS_REPLY_STRING || sc->type != REDIS_REPLY_STRING || m->len != 16)
            continue;
        char *end;
        uint64_t h = strtoull(m->str, &end, 16);
        double until = strtod(sc->str, NULL);
        if (*end != '\0' || h == 0 || !(until > 0 && until < 9e15))
            continue; /* not written by vigild */
        bool had = vigil_flagged_contains(s->set, h);
        if (vigil_flagged_add(s->set, h, (int64_t)until) == VIGIL_ERR_FULL)
            full++;
        else if (!had)
            fresh++;
        if ((int64_t)until > s->high)
            s->high = (int64_t)until;
    }
    if (full > 0 && !s->full_logged) {
        vigil_log_warn("the flagged numbers set is full (%zu not added); calls from those "
                       "numbers do not count as flagged", full);
        s->full_logged = true;
    }
    return fresh;
}

/* One refresh. Returns the milliseconds until the next one. */
static int64_t refresh(void *ctx)
{
    struct vigil_flagged_sync *s = ctx;
    int64_t mono = vigil_mono_ms(), now = vigil_wall_ms();
    vigil_flagged_advance(s->set, now);
    bool full = mono - s->full_ms >= FULL_MS;
    int64_t from = now;
    if (!full && s->high - OVERLAP_MS > from)
        from = s->high - OVERLAP_MS;
    redisReply *r = vigil_redis_command(s->redis, "ZRANGEBYSCORE %s (%lld +inf WITHSCORES", s->key,
                                        (long long)from);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (!s->failing)
            vigil_log_warn("cannot read the flagged numbers (%s); retrying every %d s",
                           r ? (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply")
                             : vigil_redis_errstr(s->redis),
                           RETRY_MS / 1000);
        s->failing = true;
        if (r)
            freeReplyObject(r);
        return RETRY_MS;
    }
    if (s->failing)
        vigil_log_info("reading the flagged numbers again");
    s->failing = false;
    size_t fresh = take(s, r);
    freeReplyObject(r);
    if (fresh > 0)
        vigil_log_info("flagged numbers: %zu new, %zu in all", fresh, vigil_flagged_count(s->set));
    if (full)
        s->full_ms = mono;
    return VIGIL_FLAGGED_SYNC_MS;
}

int vigil_flagged_sync_start(struct vigil_flagged_sync *s)
{
    return vigil_poller_start(&s->poller);
}

void vigil_flagged_sync_stop(struct vigil_flagged_sync *s)
{
    vigil_poller_stop(&s->poller);
}

void vigil_flagged_sync_destroy(struct vigil_flagged_sync *s)
{
    if (!s)
        return;
    vigil_flagged_sync_stop(s);
    vigil_redis_destroy(s->redis);
    free(s);
}

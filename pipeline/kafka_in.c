/* SPDX-License-Identifier: Apache-2.0 */
/* kafka_in.c - group consumer, dispatch by partition, durable-only commits (see kafka_in.h).
 */
#include "kafka_in.h"

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "ckpt_keys.h"
#include "kafka_conf.h"
#include "alert_delivery.h"
#include "log.h"
#include "msg.h"
#include "metrics.h"
#include "offsets.h"
#include "publisher.h"
#include "redis_sink.h"
#include "ring.h"
#include "vigil/status.h"
#include "worker.h"

#define REVOKE_WAIT_MS 8000
/* Longest sleep on the consumer's bell between two looks at a full ring or a revoke's
 * offsets: every release and every publish rings it, so this only bounds a missed signal's
 * cost (there is none to miss). */
#define SPACE_WAIT_MS 100
/* Messages taken per poll round: their commits to the workers' in rings ring each worker's
 * bell once per round, not once per message (an idle worker wakes once per round). */
#define POLL_BATCH 128
#define LOAD_SCAN_COUNT 512  /* accounts per HSCAN page of a checkpoint */
#define LOSS_QUERY_MS 2000   /* longest the consumer waits for a partition's oldest offset */

static rd_kafka_t *lifts_create(const struct vigil_kafka_in_opts *o);

struct vigil_kafka_in {
    rd_kafka_t *rk;
    rd_kafka_t *lifts; /* orders topic from its end, no group; NULL if it could not start */
    char topic[256];
    struct vigil_worker **workers;
    size_t n_workers;
    struct vigil_offsets *offsets;
    int commit_interval_ms;
    int64_t last_commit_ms;
    bool assigned[VIGIL_MAX_PARTITIONS];
    int64_t dispatched[VIGIL_MAX_PARTITIONS]; /* next offset after the last one handed out */
    int64_t committed[VIGIL_MAX_PARTITIONS];  /* last offset committed, -1 none */
    /* Where reading was to start after the assignment (the checkpoint's offset), -1 unknown. */
    int64_t expect[VIGIL_MAX_PARTITIONS];
    unsigned long long n_dispatched;
    /* Checkpoints (NULL: off). */
    struct vigil_redis *redis;
    const struct vigil_ckpt_keys *keys;
    int64_t dedupe_window_ms;
    atomic_bool *stop; /* set by vigil_kafka_in_run: a load that keeps failing gives up */
    bool closing;      /* workers are gone: revokes tell them nothing */
    bool paused;       /* consumption paused: the workers are behind (backpressure) */
    bool unrung;       /* events committed quietly to in rings since ring_workers() */
    rd_kafka_message_t *held; /* polled, not yet dispatched: its ring was full while paused */
    unsigned long long n_loaded, n_seen_loaded;
    struct vigil_metrics *metrics;          /* NULL: not reported */
    struct vigil_alert_delivery *delivery;  /* NULL: none */
    int64_t last_observe_ms;
};

/* Rings the bell of every worker's in ring if events were committed quietly since the last
 * call: after a poll round, and before this thread waits for anything (a full ring, a
 * revoke's offsets, the broker), so no worker sleeps on events it has. */
static void ring_workers(struct vigil_kafka_in *ki)
{
    if (!ki->unrung)
        return;
    for (size_t w = 0; w < ki->n_workers; w++)
        vigil_ring_notify(vigil_worker_in(ki->workers[w]));
    ki->unrung = false;
}

/* A slot in worker w's in ring, sleeping on the consumer's bell while the worker is behind;
 * with give_up (dispatch while holding is set), NULL as soon as the publisher holds. */
static struct vigil_in_msg *reserve_in_ring(struct vigil_kafka_in *ki, struct vigil_ring *ring,
                                            bool give_up)
{
    struct vigil_bell *bell = &ki->offsets->bell;
    for (;;) {
        struct vigil_in_msg *in = vigil_ring_reserve(ring);
        if (in)
            return in;
        /* The bell's contract: announce, look again, then sleep; a release from the ring or
         * the publisher setting `holding` after the prepare wakes the wait. Relaxed on
         * holding: a hint; it guards no data. */
        ring_workers(ki);
        uint32_t token = vigil_bell_prepare(bell);
        bool held = give_up && atomic_load_explicit(&ki->offsets->holding, memory_order_relaxed);
        if (held || (in = vigil_ring_reserve(ring)) != NULL) {
            vigil_bell_cancel(bell);
            if (held && !in)
                return NULL;
            continue;
        }
        vigil_bell_wait(bell, token, SPACE_WAIT_MS);
    }
}

static struct vigil_in_msg *reserve_in(struct vigil_kafka_in *ki, size_t w)
{
    return reserve_in_ring(ki, vigil_worker_in(ki->workers[w]), false);
}

static void commit_in(struct vigil_kafka_in *ki, size_t w)
{
    vigil_ring_commit(vigil_worker_in(ki->workers[w]));
}

/* Hands one account's checkpointed state to the partition's worker, in chunks. */
static void send_state(struct vigil_kafka_in *ki, int32_t p, const char *account, size_t alen,
                       const char *data, size_t len)
{
    size_t w = (size_t)p % ki->n_workers;
    if (alen == 0 || alen > VIGIL_ACCOUNT_MAX || len == 0 || len > UINT32_MAX)
        return;
    for (size_t at = 0; at < len; at += VIGIL_EVENT_MAX_BYTES) {
        size_t n = len - at < VIGIL_EVENT_MAX_BYTES ? len - at : VIGIL_EVENT_MAX_BYTES;
        struct vigil_in_msg *in = reserve_in(ki, w);
        in->kind = VIGIL_IN_STATE;
        in->partition = p;
        in->offset = (int64_t)at;
        in->value_len = (uint32_t)n;
        in->total_len = (uint32_t)len;
        memcpy(in->value, data + at, n);
        in->has_key = true;
        in->key_len = (uint16_t)alen;
        memcpy(in->key, account, alen);
        in->key[alen] = '\0';
        commit_in(ki, w);
    }
    ki->n_loaded++;
}

/* Hands partition p's checkpointed event ids to its worker, in chunks: those of the two
 * dedupe windows before `clock`, as long as a worker that never stopped would remember them
 * (dedupe.h). 0, or VIGIL_ERR_IO. */
static int load_seen(struct vigil_kafka_in *ki, int32_t p, int64_t clock)
{
    char key[sizeof ki->keys->seen + 16];
    vigil_ckpt_seen_key(ki->keys, p, key, sizeof key);
    redisReply *r = vigil_redis_command(ki->redis, "ZRANGEBYSCORE %s %lld +inf", key,
                                        (long long)(clock - 2 * ki->dedupe_window_ms));
    if (!r)
        return VIGIL_ERR_IO;
    size_t w = (size_t)p % ki->n_workers, ids = 0;
    const size_t chunk = VIGIL_EVENT_MAX_BYTES / 16 * 16;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING)
            continue;
        for (size_t at = 0; at + 16 <= e->len; at += chunk) {
            size_t n = e->len - at < chunk ? (e->len - at) / 16 * 16 : chunk;
            struct vigil_in_msg *in = reserve_in(ki, w);
            in->kind = VIGIL_IN_SEEN;
            in->partition = p;
            in->offset = 0;
            in->value_len = (uint32_t)n;
            memcpy(in->value, e->str + at, n);
            in->has_key = false;
            in->key_len = 0;
            in->key[0] = '\0';
            commit_in(ki, w);
            ids += n / 16;
        }
    }
    freeReplyObject(r);
    ki->n_seen_loaded += ids;
    return 0;
}

/* Reads partition p's checkpoint: its offset into *offset (untouched when there is none),
 * its clock and states to the worker. 0, or VIGIL_ERR_IO (Redis failed; try again). */
static int load_partition(struct vigil_kafka_in *ki, int32_t p, int64_t *offset)
{
    redisReply *r = vigil_redis_command(ki->redis, "HGET %s %d", ki->keys->ckpt, (int)p);
    if (!r)
        return VIGIL_ERR_IO;
    long long off = -1, clock = 0;
    long long gap_from = 0, gap_to = 0;
    bool found = r->type == REDIS_REPLY_STRING &&
                 sscanf(r->str, "%lld:%lld:%lld:%lld", &off, &clock, &gap_from, &gap_to) >= 2;
    freeReplyObject(r);
    if (!found || off < 0)
        return 0; /* never checkpointed: the committed offset, empty state */
    size_t w = (size_t)p % ki->n_workers;
    struct vigil_in_msg *in = reserve_in(ki, w);
    in->kind = VIGIL_IN_RESUME;
    in->partition = p;
    in->offset = off;
    int64_t c[3] = {clock, gap_from, gap_to};
    memcpy(in->value, c, sizeof c);
    in->value_len = sizeof c;
    in->has_key = false;
    commit_in(ki, w);

    char key[sizeof ki->keys->state + 16], cursor[32] = "0";
    vigil_ckpt_state_key(ki->keys, p, key, sizeof key);
    do {
        r = vigil_redis_command(ki->redis, "HSCAN %s %s COUNT %d", key, cursor, LOAD_SCAN_COUNT);
        if (!r)
            return VIGIL_ERR_IO;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            vigil_log_error("checkpoint of partition %d: unexpected reply to HSCAN %s", (int)p,
                            key);
            freeReplyObject(r);
            return 0;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *kv = r->element[1];
        for (size_t i = 0; i + 1 < kv->elements; i += 2)
            send_state(ki, p, kv->element[i]->str, kv->element[i]->len, kv->element[i + 1]->str,
                       kv->element[i + 1]->len);
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    if (ki->dedupe_window_ms > 0 && load_seen(ki, p, clock) != 0)
        return VIGIL_ERR_IO;
    *offset = off;
    return 0;
}

/* Loads every assigned partition's checkpoint, retrying while Redis is down: consuming
 * without the state would count from zero. Gives up only when vigild is stopping. */
static void load_checkpoints(struct vigil_kafka_in *ki, rd_kafka_topic_partition_list_t *parts)
{
    unsigned long long before = ki->n_loaded, seen_before = ki->n_seen_loaded;
    int64_t t0 = vigil_mono_ms(), wait_ms = 100;
    bool logged = false;
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (p < 0 || p >= VIGIL_MAX_PARTITIONS)
            continue;
        while (load_partition(ki, p, &parts->elems[i].offset) != 0) {
            if (!logged)
                vigil_log_warn("cannot load checkpoints (%s); retrying",
                               vigil_redis_errstr(ki->redis));
            logged = true;
            /* Relaxed: a stop flag set by a signal handler; it guards no data. */
            if (ki->stop && atomic_load_explicit(ki->stop, memory_order_relaxed))
                return;
            struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
            wait_ms = wait_ms * 2 > 2000 ? 2000 : wait_ms * 2;
        }
    }
    vigil_log_info("loaded %llu account states and %llu recent event ids of %d partition(s) "
                   "in %lld ms", ki->n_loaded - before, ki->n_seen_loaded - seen_before,
                   parts->cnt, (long long)(vigil_mono_ms() - t0));
}

/* Tells each revoked partition's worker to drop its accounts. */
static void send_revokes(struct vigil_kafka_in *ki, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (p < 0 || p >= VIGIL_MAX_PARTITIONS)
            continue;
        size_t w = (size_t)p % ki->n_workers;
        struct vigil_in_msg *in = reserve_in(ki, w);
        in->kind = VIGIL_IN_REVOKE;
        in->partition = p;
        in->value_len = 0;
        in->has_key = false;
        commit_in(ki, w);
    }
}

void vigil_offsets_init(struct vigil_offsets *o)
{
    for (int i = 0; i < VIGIL_MAX_PARTITIONS; i++) {
        atomic_init(&o->durable[i], -1);
        atomic_init(&o->pstate[i], 0);
    }
    atomic_init(&o->holding, false);
    atomic_init(&o->urgent, false);
    vigil_bell_init(&o->bell);
}

/* Builds the list of partitions in `only` (or all assigned ones) whose durable offset moved
 * past what was committed; with `all`, every durable offset, committed or not (an async
 * commit we counted may still fail: its report comes with a poll that a revoke or a
 * shutdown no longer makes). NULL when there is nothing to commit. */
static rd_kafka_topic_partition_list_t *
commit_list(struct vigil_kafka_in *ki, const rd_kafka_topic_partition_list_t *only, bool all)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    int n = only ? only->cnt : VIGIL_MAX_PARTITIONS;
    for (int i = 0; i < n; i++) {
        int32_t p = only ? only->elems[i].partition : i;
        if (p < 0 || p >= VIGIL_MAX_PARTITIONS || !ki->assigned[p])
            continue;
        int64_t d = vigil_offsets_get(ki->offsets, p);
        if (d < 0 || (!all && d <= ki->committed[p]))
            continue;
        if (!l)
            l = rd_kafka_topic_partition_list_new(8);
        rd_kafka_topic_partition_list_add(l, ki->topic, p)->offset = d;
    }
    return l;
}

static void commit(struct vigil_kafka_in *ki, const rd_kafka_topic_partition_list_t *only,
                   bool sync)
{
    /* A synchronous commit (revoke, shutdown) sends every durable offset again: committing
     * an offset twice is harmless, missing one reprocesses its events. */
    rd_kafka_topic_partition_list_t *l = commit_list(ki, only, sync);
    if (!l)
        return;
    rd_kafka_resp_err_t err = rd_kafka_commit(ki->rk, l, sync ? 0 : 1);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        vigil_log_warn("offset commit failed: %s (will retry)", rd_kafka_err2str(err));
    } else {
        /* An async commit that later fails is reported to on_commit(), which forgets what
         * we believed committed so the next round sends it again. */
        for (int i = 0; i < l->cnt; i++)
            ki->committed[l->elems[i].partition] = l->elems[i].offset;
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    struct vigil_kafka_in *ki = opaque;
    if (!err || err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    vigil_log_warn("offset commit failed: %s (will retry)", rd_kafka_err2str(err));
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        int32_t p = offsets->elems[i].partition;
        if (p >= 0 && p < VIGIL_MAX_PARTITIONS)
            ki->committed[p] = -1;
    }
}

/* Waits until every event handed out for these partitions has durable effects. */
static void wait_durable(struct vigil_kafka_in *ki, const rd_kafka_topic_partition_list_t *l)
{
    if (ki->closing)
        return; /* the workers and the publisher are gone: nothing more becomes durable */
    int64_t until = vigil_mono_ms() + REVOKE_WAIT_MS;
    struct vigil_bell *bell = &ki->offsets->bell;
    /* Relaxed: a hint for the publisher to publish its counters now (offsets.h). */
    atomic_store_explicit(&ki->offsets->urgent, true, memory_order_relaxed);
    ring_workers(ki);
    for (;;) {
        /* The bell's contract: announce, then look; offsets the publisher publishes after
         * the prepare ring it and end the wait. */
        uint32_t token = vigil_bell_prepare(bell);
        bool done = true;
        for (int i = 0; i < l->cnt && done; i++) {
            int32_t p = l->elems[i].partition;
            if (p < 0 || p >= VIGIL_MAX_PARTITIONS || ki->dispatched[p] < 0)
                continue;
            done = vigil_offsets_get(ki->offsets, p) >= ki->dispatched[p];
        }
        int64_t left = until - vigil_mono_ms();
        if (done || left < 0) {
            vigil_bell_cancel(bell);
            if (!done)
                vigil_log_warn("revoked partitions not durable after %d ms; their last events "
                               "will be processed again by the next owner",
                               REVOKE_WAIT_MS);
            break;
        }
        vigil_bell_wait(bell, token, left < SPACE_WAIT_MS ? left + 1 : SPACE_WAIT_MS);
    }
    atomic_store_explicit(&ki->offsets->urgent, false, memory_order_relaxed);
}

/* Group membership and partitions held, for /readyz and /metrics. An assignment, even an
 * empty one (more members than partitions), means the group has taken this member in; an
 * eager revoke leaves it out until the next assignment. */
static void observe_assignment(struct vigil_kafka_in *ki, bool assigned)
{
    if (!ki->metrics)
        return;
    int32_t n = 0;
    for (int32_t p = 0; p < VIGIL_MAX_PARTITIONS; p++) {
        n += ki->assigned[p];
        if (!ki->assigned[p])
            atomic_store_explicit(&ki->metrics->lag[p], -1, memory_order_relaxed);
    }
    /* Relaxed: statistics; they guard no data. */
    atomic_store_explicit(&ki->metrics->assigned, n, memory_order_relaxed);
    atomic_store_explicit(&ki->metrics->in_group, assigned || n > 0, memory_order_relaxed);
}

/* Lag per assigned partition: the broker's high watermark as librdkafka last saw it in a
 * fetch (no request) minus the next offset to hand out. */
static void observe_lag(struct vigil_kafka_in *ki)
{
    for (int32_t p = 0; p < VIGIL_MAX_PARTITIONS; p++) {
        if (!ki->assigned[p])
            continue;
        int64_t lo = -1, hi = -1;
        int64_t lag = -1;
        if (rd_kafka_get_watermark_offsets(ki->rk, ki->topic, p, &lo, &hi) ==
                RD_KAFKA_RESP_ERR_NO_ERROR && hi >= 0) {
            int64_t at = ki->dispatched[p] >= 0 ? ki->dispatched[p] : ki->expect[p];
            if (at < 0)
                at = lo >= 0 ? lo : 0;
            lag = hi > at ? hi - at : 0;
        }
        /* Relaxed: a statistic. */
        atomic_store_explicit(&ki->metrics->lag[p], lag, memory_order_relaxed);
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct vigil_kafka_in *ki = opaque;
    ring_workers(ki); /* loads and revokes wait */
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) {
            int32_t p = parts->elems[i].partition;
            if (p < 0 || p >= VIGIL_MAX_PARTITIONS) {
                vigil_log_error("partition %d of %s is beyond the %d vigild supports; it "
                                "will not be consumed", p, ki->topic, VIGIL_MAX_PARTITIONS);
                continue;
            }
            ki->assigned[p] = true;
            ki->dispatched[p] = -1;
            ki->committed[p] = -1;
            vigil_offsets_reset(ki->offsets, p);
            vigil_part_set(ki->offsets, p, VIGIL_PART_ASSIGNED);
        }
        vigil_log_info("assigned %d partition(s) of %s", parts->cnt, ki->topic);
        observe_assignment(ki, true);
        if (ki->redis)
            load_checkpoints(ki, parts);
        for (int i = 0; i < parts->cnt; i++) {
            int32_t p = parts->elems[i].partition;
            if (p >= 0 && p < VIGIL_MAX_PARTITIONS)
                ki->expect[p] = parts->elems[i].offset >= 0 ? parts->elems[i].offset : -1;
        }
        if (cooperative)
            rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        if (ki->paused) /* backpressure holds for new partitions too, until pace() resumes all */
            rd_kafka_pause_partitions(rk, parts);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        vigil_log_info("revoking %d partition(s) of %s", parts->cnt, ki->topic);
        for (int i = 0; ki->held && i < parts->cnt; i++) {
            if (parts->elems[i].partition == ki->held->partition) {
                rd_kafka_message_destroy(ki->held); /* the next owner reads it */
                ki->held = NULL;
            }
        }
        wait_durable(ki, parts);
        /* A lost assignment belongs to someone else already: committing would fail. */
        if (!rd_kafka_assignment_lost(rk))
            commit(ki, parts, true);
        for (int i = 0; i < parts->cnt; i++) {
            int32_t p = parts->elems[i].partition;
            if (p >= 0 && p < VIGIL_MAX_PARTITIONS) {
                ki->assigned[p] = false;
                vigil_part_set(ki->offsets, p, 0);
            }
        }
        observe_assignment(ki, false);
        if (ki->redis && !ki->closing)
            send_revokes(ki, parts);
        if (cooperative)
            rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
        return;
    }
    vigil_log_error("rebalance failed: %s", rd_kafka_err2str(err));
    rd_kafka_assign(rk, NULL);
}

struct vigil_kafka_in *vigil_kafka_in_create(const struct vigil_kafka_in_opts *o, char *err,
                                             size_t errlen)
{
    struct vigil_kafka_in *ki = calloc(1, sizeof *ki);
    if (!ki) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(ki->topic, sizeof ki->topic, "%s", o->topic);
    ki->workers = o->workers;
    ki->n_workers = o->n_workers;
    ki->offsets = o->offsets;
    ki->commit_interval_ms = o->commit_interval_ms;
    ki->redis = o->redis;
    ki->keys = o->ckpt_keys;
    ki->dedupe_window_ms = o->dedupe_window_ms;
    ki->metrics = o->metrics;
    ki->delivery = o->delivery;
    /* Before the workers start (the daemon creates us first): a worker taking an event from
     * its in ring wakes this thread if it waits for a slot there. */
    for (size_t w = 0; w < ki->n_workers; w++)
        vigil_ring_set_space_bell(vigil_worker_in(ki->workers[w]), &ki->offsets->bell);
    for (int i = 0; i < VIGIL_MAX_PARTITIONS; i++) {
        ki->dispatched[i] = -1;
        ki->committed[i] = -1;
        ki->expect[i] = -1;
    }

    char session[16], heartbeat[16], fetch_wait[16];
    snprintf(session, sizeof session, "%d", o->session_timeout_ms);
    snprintf(heartbeat, sizeof heartbeat, "%d", o->heartbeat_interval_ms);
    snprintf(fetch_wait, sizeof fetch_wait, "%d", o->fetch_wait_max_ms > 0 ? o->fetch_wait_max_ms : 500);
    /* Offsets are ours to commit (only durable ones). The assignor is configurable; the
     * default is eager (range): with librdkafka 2.0.2's mock cluster, cooperative rebalances
     * ran a second round in which commits were refused and partitions were read again. */
    const char *defaults[] = {"client.id", "vigild", NULL};
    const char *props[] = {"bootstrap.servers", o->brokers,
                           "group.id", o->group,
                           "enable.auto.commit", "false",
                           "enable.auto.offset.store", "false",
                           "auto.offset.reset", o->auto_offset_reset,
                           "session.timeout.ms", session,
                           "heartbeat.interval.ms", heartbeat,
                           "fetch.wait.max.ms", fetch_wait,
                           "partition.assignment.strategy", o->assignor,
                           /* End-of-partition events tell workers a partition is caught up. */
                           "enable.partition.eof", "true",
                           NULL};
    rd_kafka_conf_t *conf = vigil_kafka_conf_create(o->cfg, defaults, props, err, errlen);
    if (!conf) {
        free(ki);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
    rd_kafka_conf_set_opaque(conf, ki);
    ki->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (!ki->rk) {
        rd_kafka_conf_destroy(conf);
        free(ki);
        return NULL;
    }
    rd_kafka_poll_set_consumer(ki->rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, o->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(ki->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        snprintf(err, errlen, "cannot subscribe to %s: %s", o->topic, rd_kafka_err2str(e));
        rd_kafka_destroy(ki->rk);
        free(ki);
        return NULL;
    }
    ki->last_commit_ms = vigil_mono_ms();
    ki->lifts = lifts_create(o);
    return ki;
}

/* Copies one message into its worker's in ring, waiting while the worker is behind. Unless
 * `wait`, gives up (false) when the ring stays full while the outputs are not durable: the
 * caller keeps the message and pauses consumption instead of blocking the consumer. */
/* The message at `offset` of partition p follows `want`, the offset that was to come next:
 * when the broker no longer holds `want` (the consumer fell behind its retention and the
 * offset was reset), the events in between are lost. Tells the partition's worker, which
 * alerts the NOC (worker.c). A hole the broker still covers (transaction markers,
 * compaction) is no loss. */
static void check_loss(struct vigil_kafka_in *ki, int32_t p, int64_t want, int64_t offset)
{
    int64_t lo = -1, hi = -1;
    ring_workers(ki); /* the query waits for the broker */
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(ki->rk, ki->topic, p, &lo, &hi, LOSS_QUERY_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        vigil_log_warn("partition %d: offsets %lld to %lld were skipped and the broker's "
                       "oldest offset cannot be read (%s); they may be lost", (int)p,
                       (long long)want, (long long)(offset - 1), rd_kafka_err2str(e));
        lo = offset; /* unknown: report what was skipped */
    }
    if (want >= lo)
        return;
    /* Everything from `want` up to this message was skipped: what retention took, and with
     * kafka.auto_offset_reset = latest also what the reset jumped over. */
    int64_t range[2] = {want, offset};
    size_t w = (size_t)p % ki->n_workers;
    struct vigil_in_msg *in = reserve_in(ki, w);
    in->kind = VIGIL_IN_LOSS;
    in->partition = p;
    in->offset = offset;
    memcpy(in->value, range, sizeof range);
    in->value_len = sizeof range;
    in->has_key = false;
    in->key_len = 0;
    in->key[0] = '\0';
    commit_in(ki, w);
}

static bool dispatch(struct vigil_kafka_in *ki, const rd_kafka_message_t *m, bool wait)
{
    int32_t p = m->partition;
    if (p < 0 || p >= VIGIL_MAX_PARTITIONS)
        return true; /* refused at assignment, logged there */
    int64_t want = ki->dispatched[p] >= 0 ? ki->dispatched[p] : ki->expect[p];
    /* A hole of one offset is a transaction's commit marker, not a loss: not worth a broker
     * round trip per transaction. */
    if (want >= 0 && m->offset > want + 1) {
        check_loss(ki, p, want, m->offset);
        ki->dispatched[p] = m->offset; /* checked once, even if this dispatch waits */
    }
    struct vigil_ring *ring = vigil_worker_in(ki->workers[(size_t)p % ki->n_workers]);
    struct vigil_in_msg *in = reserve_in_ring(ki, ring, !wait);
    if (!in)
        return false;
    in->kind = VIGIL_IN_EVENT;
    in->partition = p;
    in->offset = m->offset;
    in->value_len = m->len > UINT32_MAX ? UINT32_MAX : (uint32_t)m->len;
    size_t n = m->len < VIGIL_EVENT_MAX_BYTES ? m->len : VIGIL_EVENT_MAX_BYTES;
    if (n)
        memcpy(in->value, m->payload, n);
    in->has_key = m->key != NULL;
    /* A key longer than any account is kept one byte too long so it can never match. */
    size_t k = m->key_len <= VIGIL_ACCOUNT_MAX ? m->key_len : VIGIL_ACCOUNT_MAX + 1;
    if (k)
        memcpy(in->key, m->key, k);
    in->key[k] = '\0';
    in->key_len = (uint16_t)k;
    vigil_ring_commit_quiet(ring); /* rung by ring_workers() */
    ki->unrung = true;
    ki->dispatched[p] = m->offset + 1;
    if (vigil_part_get(ki->offsets, p) & VIGIL_PART_EOF)
        vigil_part_set(ki->offsets, p, VIGIL_PART_ASSIGNED);
    ki->n_dispatched++;
    if (ki->metrics)
        vigil_metrics_bump(&ki->metrics->read, 1);
    return true;
}

/* Hands out the message kept back by a dispatch that gave up, if its ring has room now (or
 * unconditionally when `wait`). */
static void dispatch_held(struct vigil_kafka_in *ki, bool wait)
{
    if (ki->held && dispatch(ki, ki->held, wait)) {
        rd_kafka_message_destroy(ki->held);
        ki->held = NULL;
    }
}

/* Reads the orders topic from its end. Lifts produced before this are of no interest: a
 * process that starts holds no standing orders. */
static rd_kafka_t *lifts_create(const struct vigil_kafka_in_opts *o)
{
    char err[512];
    /* librdkafka wants a group id even for a consumer that only assigns; it never joins. */
    const char *defaults[] = {"client.id", "vigild-lifts", NULL};
    const char *props[] = {"bootstrap.servers", o->brokers, "group.id", "vigild-lifts",
                           "enable.auto.commit", "false", NULL};
    rd_kafka_conf_t *conf = vigil_kafka_conf_create(o->cfg, defaults, props, err, sizeof err);
    if (!conf) {
        vigil_log_warn("lift reader: %s; lifts will not reach this process", err);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        vigil_log_warn("lift reader: %s; lifts will not reach this process", err);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, o->orders_topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 10000);
    rd_kafka_topic_destroy(t);
    if (e || md->topic_cnt != 1 || md->topics[0].err) {
        vigil_log_warn("lift reader: no metadata for %s (%s); lifts will not reach this process",
                       o->orders_topic, rd_kafka_err2str(e ? e : md->topics[0].err));
        if (md)
            rd_kafka_metadata_destroy(md);
        rd_kafka_destroy(rk);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(l, o->orders_topic, md->topics[0].partitions[i].id)
            ->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_metadata_destroy(md);
    e = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        vigil_log_warn("lift reader: %s; lifts will not reach this process", rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

/* Copies the string value of top-level field `name` into buf; false when absent. */
static bool json_field(const char *js, const jsmntok_t *t, int n, const char *name, char *buf,
                       size_t cap)
{
    size_t nl = strlen(name);
    for (int i = 1; i + 1 < n; i++) {
        if (t[i].parent != 0 || t[i].type != JSMN_STRING)
            continue;
        if ((size_t)(t[i].end - t[i].start) == nl && memcmp(js + t[i].start, name, nl) == 0) {
            const jsmntok_t *v = &t[i + 1];
            size_t len = (size_t)(v->end - v->start);
            if (v->type != JSMN_STRING || len >= cap)
                return false;
            memcpy(buf, js + v->start, len);
            buf[len] = '\0';
            return true;
        }
    }
    return false;
}

/* The string value of field `name` of the top-level object field `outer`, like json_field. */
static bool nested_field(const char *js, const jsmntok_t *t, int n, const char *outer,
                         const char *name, char *buf, size_t cap)
{
    size_t ol = strlen(outer), nl = strlen(name);
    for (int i = 1; i + 1 < n; i++) {
        if (t[i].parent != 0 || t[i].type != JSMN_STRING ||
            (size_t)(t[i].end - t[i].start) != ol || memcmp(js + t[i].start, outer, ol) != 0)
            continue;
        if (t[i + 1].type != JSMN_OBJECT)
            return false;
        for (int k = i + 2; k + 1 < n && t[k].start < t[i + 1].end; k++) {
            if (t[k].parent != i + 1 || t[k].type != JSMN_STRING ||
                (size_t)(t[k].end - t[k].start) != nl || memcmp(js + t[k].start, name, nl) != 0)
                continue;
            const jsmntok_t *v = &t[k + 1];
            size_t len = (size_t)(v->end - v->start);
            if (v->type != JSMN_STRING || len >= cap)
                return false;
            memcpy(buf, js + v->start, len);
            buf[len] = '\0';
            return true;
        }
        return false;
    }
    return false;
}

/* A lift order on the orders topic: every worker forgets that standing order. */
static void take_lift(struct vigil_kafka_in *ki, const rd_kafka_message_t *m)
{
    jsmn_parser parser;
    jsmntok_t t[128];
    jsmn_init(&parser);
    int n = jsmn_parse(&parser, m->payload, m->len, t, 128);
    char action[32], account[VIGIL_ACCOUNT_MAX + 1], lifted[32], detector[64];
    if (n < 1 || t[0].type != JSMN_OBJECT ||
        !json_field(m->payload, t, n, "action", action, sizeof action) ||
        strcmp(action, "lift") != 0)
        return; /* an ordinary order: ours or another instance's */
    if (!json_field(m->payload, t, n, "account", account, sizeof account) ||
        !json_field(m->payload, t, n, "lifts", lifted, sizeof lifted)) {
        vigil_log_warn("ignoring a lift order without account or lifts");
        return;
    }
    /* Without a detector no standing order is forgotten (it is one per action and
     * detector), but the block key is still cleared. */
    if (!json_field(m->payload, t, n, "detector", detector, sizeof detector))
        detector[0] = '\0';
    /* The lifted order: vigilctl names it in evidence, a lift produced by hand may name it
     * at the top level or not at all (then whatever block of that action stands is lifted). */
    char lifted_id[64] = "";
    if (!json_field(m->payload, t, n, "lifted_order_id", lifted_id, sizeof lifted_id))
        nested_field(m->payload, t, n, "evidence", "lifted_order_id", lifted_id,
                     sizeof lifted_id);
    char op[128] = "";
    json_field(m->payload, t, n, "operator", op, sizeof op);
    vigil_log_info("operator lifted %s (%s) of %s: order %s, account %s, action %s, by %s",
                   lifted, detector, account, lifted_id[0] ? lifted_id : "(unknown)", account,
                   lifted, op[0] ? op : "(unknown)");
    if (ki->metrics)
        vigil_metrics_bump(&ki->metrics->lifts, 1);
    vigil_alert_delivery_lift(ki->delivery, account, lifted, detector, lifted_id);
    for (size_t w = 0; w < ki->n_workers; w++) {
        struct vigil_in_msg *in = reserve_in(ki, w);
        in->kind = VIGIL_IN_LIFT;
        in->partition = -1;
        in->has_key = true;
        in->key_len = (uint16_t)strlen(account);
        memcpy(in->key, account, in->key_len + 1);
        size_t al = strlen(lifted), dl = strlen(detector), il = strlen(lifted_id);
        memcpy(in->value, lifted, al + 1);
        memcpy(in->value + al + 1, detector, dl + 1);
        memcpy(in->value + al + dl + 2, lifted_id, il + 1);
        in->value_len = (uint32_t)(al + dl + il + 3);
        commit_in(ki, w);
    }
}

/* Backpressure without leaving the group: while the publisher cannot make outputs durable
 * (Redis or Kafka down or slow), every assigned partition is paused and the consumer keeps
 * polling, so heartbeats and max.poll.interval.ms stay satisfied however long it lasts; the
 * workers finish what they hold. Logged once per change. (Workers merely slower than the
 * stream need no pause: dispatch() waits for room in their rings, which they keep making.) */
static void pace(struct vigil_kafka_in *ki)
{
    /* Relaxed: a hint polled every round; it guards no data. */
    bool holding = atomic_load_explicit(&ki->offsets->holding, memory_order_relaxed);
    bool want = holding || ki->held;
    bool pause = !ki->paused && want;
    bool resume = ki->paused && !want;
    if (!pause && !resume)
        return;
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(ki->rk, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l)
        return;
    rd_kafka_resp_err_t e =
        pause ? rd_kafka_pause_partitions(ki->rk, l) : rd_kafka_resume_partitions(ki->rk, l);
    if (!e) {
        ki->paused = pause;
        if (pause)
            vigil_log_warn("outputs are not durable: pausing consumption of %d partition(s)",
                           l->cnt);
        else
            vigil_log_info("outputs durable: resuming consumption of %d partition(s)", l->cnt);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void mark_eof(struct vigil_kafka_in *ki, int32_t p)
{
    if (p >= 0 && p < VIGIL_MAX_PARTITIONS && ki->assigned[p])
        vigil_part_set(ki->offsets, p, VIGIL_PART_ASSIGNED | VIGIL_PART_EOF);
}

/* One polled message or event: dispatched, kept back (ki->held), or handled; destroyed
 * unless kept. */
static void take_message(struct vigil_kafka_in *ki, rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        mark_eof(ki, m->partition);
    } else if (m->err) {
        vigil_log_warn("consumer: %s", rd_kafka_message_errstr(m));
    } else if (ki->held) {
        /* Not expected while paused; order within the partition comes first. */
        dispatch_held(ki, true);
        dispatch(ki, m, true);
    } else if (!dispatch(ki, m, false)) {
        ki->held = m;
        return;
    }
    rd_kafka_message_destroy(m);
}

void vigil_kafka_in_run(struct vigil_kafka_in *ki, atomic_bool *stop, int max_ms)
{
    int64_t until = vigil_mono_ms() + max_ms;
    ki->stop = stop;
    /* Relaxed: the flag is set by a signal handler; it guards no data. */
    while (!atomic_load_explicit(stop, memory_order_relaxed) && vigil_mono_ms() < until) {
        pace(ki);
        dispatch_held(ki, false);
        ring_workers(ki);
        /* A round: the first poll may wait, the rest of the round only takes what the
         * client has already fetched; a kept-back message ends it (order comes first). */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(ki->rk, ki->paused ? 20 : 100);
        for (int n = 1; m; n++) {
            take_message(ki, m);
            if (n == POLL_BATCH || ki->held)
                break;
            m = rd_kafka_consumer_poll(ki->rk, 0);
        }
        ring_workers(ki);
        rd_kafka_message_t *lm = ki->lifts ? rd_kafka_consumer_poll(ki->lifts, 0) : NULL;
        if (lm) {
            if (!lm->err)
                take_lift(ki, lm);
            rd_kafka_message_destroy(lm);
        }
        int64_t now = vigil_mono_ms();
        if (ki->metrics) {
            /* Relaxed: a heartbeat for /healthz. */
            atomic_store_explicit(&ki->metrics->consumer_beat_ms, now, memory_order_relaxed);
            if (now - ki->last_observe_ms >= 1000) {
                observe_lag(ki);
                ki->last_observe_ms = now;
            }
        }
        if (now - ki->last_commit_ms >= ki->commit_interval_ms) {
            commit(ki, NULL, false);
            ki->last_commit_ms = now;
        }
    }
}

void vigil_kafka_in_commit_sync(struct vigil_kafka_in *ki)
{
    commit(ki, NULL, true);
}

void vigil_kafka_in_close(struct vigil_kafka_in *ki)
{
    if (!ki)
        return;
    ki->closing = true;
    if (ki->held) {
        rd_kafka_message_destroy(ki->held); /* not committed: read again after a restart */
        ki->held = NULL;
    }
    rd_kafka_consumer_close(ki->rk);
    rd_kafka_destroy(ki->rk);
    if (ki->lifts) {
        rd_kafka_consumer_close(ki->lifts);
        rd_kafka_destroy(ki->lifts);
    }
    free(ki);
}

unsigned long long vigil_kafka_in_dispatched(const struct vigil_kafka_in *ki)
{
    return ki->n_dispatched;
}

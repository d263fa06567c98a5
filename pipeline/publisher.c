/* SPDX-License-Identifier: Apache-2.0 */
/* publisher.c - the publisher thread (see publisher.h).
 *
 * One loop: drain the out rings into the Kafka producer and a Redis batch, and every
 * flush interval send the Redis batch and read every reply; once every Kafka delivery report
 * of what was drained is in too (served from the same loop, never waited for), the
 * partitions' progress offsets are published for commit. Redis writes that must follow a
 * Kafka message (a block key its order, Kafka first) wait in memory for its delivery report.
 * While Redis or Kafka is down the batch is kept and retried with capped exponential backoff, and once it
 * is large the rings are no longer drained, so workers and then the consumer stall instead
 * of losing anything (backpressure). */
#include "publisher.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert_delivery.h"
#include "ckpt_keys.h"
#include "clock.h"
#include "counter_batch.h"
#include "kafka_out.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "offsets.h"
#include "redis_keys.h"
#include "redis_sink.h"
#include "ring.h"
#include "state_batch.h"
#include "vigil/config.h"
#include "vigil/emit.h"
#include "jbuf.h"
#include "vigil/status.h"
#include "worker.h"

#define DRAIN_PER_ROUND 1024      /* messages taken from one ring before looking elsewhere */
#define FLUSH_AT_COMMANDS 20000   /* flush early when the Redis batch is this large */
#define DELIVERY_LOOK_MS 2 /* while deliveries are awaited, their reports are served this often */
/* Deliveries outstanding this long: Kafka is taken to be away, and consumption pauses as while
 * Redis is (the consumer stays in its group instead of blocking on a full ring). */
#define KAFKA_STUCK_MS 2000
#define RETRY_MIN_MS 50
#define RETRY_MAX_MS 2000
#define SEEN_TTL_S (7 * 86400) /* checkpointed event ids outlive their last write by this */
#define BRAKE_WINDOW_MS 60000
#define BRAKE_REDIS_RETRY_MS 5000 /* after a failed brake check, count locally this long */
#define BRAKE_ID_MAX 64
#define COUNTER_RENEW_ENTRIES (1u << 20) /* counter keys whose TTL renewal is remembered: 16 MiB */
#define IDLE_WAIT_MS 100 /* an idle publisher looks at its state (holding, urgent) this often */

/* A Redis write that must follow a Kafka message (Kafka first): a block key its order, the
 * numbers an order flags after it, the latest alert after the alert. Kept in take order until
 * every message up to seq is delivered; m is a copy. */
struct after_kafka {
    struct after_kafka *next;
    uint64_t seq;
    struct vigil_out_msg m;
};

/* An order the brake held, until the alert that names it has been taken from its worker's
 * ring (the worker sends ORDER, then FLAG for a flagging action, then the ALERT). */
struct held_mark {
    bool active;
    char order_id[BRAKE_ID_MAX];
    char account[VIGIL_ACCOUNT_MAX + 2];
};

struct vigil_publisher {
    struct vigil_publisher_env env;
    /* Rung by every commit to a worker's out ring and by finish(): the publisher sleeps on
     * it, until the next flush is due, when it has nothing to drain. */
    struct vigil_bell bell;
    pthread_t thread;
    bool started;
    atomic_bool finishing;
    _Atomic int64_t deadline_ms;
    atomic_int result;

    /* Publisher-thread-only state. */
    bool was_holding; /* `holding` as last stored in the offsets */
    const char *prefix, *orders_topic, *alerts_topic, *dlq_topic;
    int64_t flush_interval_ms, block_ttl_s, counter_ttl_s;
    /* Counters wait here until the next publish (vigild.publish_interval_ms): one HSET per
     * account and interval. Offsets are published only when none is waiting. */
    struct vigil_cnt_batch *counters;
    /* The states of the open checkpoint transaction, the latest per account, written as one
     * HSET per partition when it closes. NULL when checkpoints are off. */
    struct vigil_state_batch *states;
    int64_t publish_interval_ms, last_publish_ms;
    size_t hold_commands; /* stop draining (backpressure) above this many pending */
    size_t flush_at;      /* flush early at this many: well before holding */
    int64_t pending[VIGIL_MAX_PARTITIONS]; /* progress drained, not yet durable */
    int64_t clock[VIGIL_MAX_PARTITIONS];   /* the partitions' event-time clocks with it */
    int64_t gap_from[VIGIL_MAX_PARTITIONS], gap_to[VIGIL_MAX_PARTITIONS]; /* and their gaps */
    bool dirty[VIGIL_MAX_PARTITIONS];
    /* Checkpoints: offsets written in a queued transaction, published once it is durable. */
    int64_t ready[VIGIL_MAX_PARTITIONS];
    bool is_ready[VIGIL_MAX_PARTITIONS];
    bool *in_tick;  /* [n_workers]: a worker's tick group is partly drained */
    bool txn_open;  /* MULTI queued on ckpt, EXEC not yet */
    int64_t dedupe_window_ms;
    bool unflushed;       /* something was drained since the last durable flush */
    /* Redis writes waiting for Kafka deliveries, oldest first. */
    struct after_kafka *after_head, *after_tail;
    /* Mono ms since which flushes have found Kafka deliveries outstanding (0: none): the
     * offsets wait for them; after a flush interval of that, taking new messages pauses
     * until they are in, so a steady stream of outputs cannot hold the offsets off. */
    int64_t await_since;
    bool kafka_stuck; /* await_since is KAFKA_STUCK_MS old (logged on each change) */
    bool failing;         /* the last flush failed (for logging state changes once) */
    int64_t retry_ms;
    uint64_t local_failures;

    /* The order brake (orders.max_per_minute; 0: off). Counted in Redis for the group; when
     * Redis cannot answer, in the local ring of this process's issue times. */
    int64_t brake_max;
    char brake_key[256], brake_flag_key[256], held_key[256];
    int64_t *issued_at; /* ring of the last brake_max issue times (wall ms), oldest at head */
    size_t issued_head, issued_n;
    int64_t local_engaged_until;   /* wall ms: the brake alert of the local count was sent */
    int64_t brake_redis_after;     /* wall ms: until then the local count decides */
    bool brake_local;              /* the last decision was local (log state changes once) */
    struct held_mark *held;        /* [n_workers] */
    struct vigil_out_msg *scratch; /* an alert being amended or built */

    /* Relaxed counters for the status log. */
    _Atomic uint64_t st_orders, st_alerts, st_dead, st_counters, st_flushes, st_failures;
    _Atomic uint64_t st_states, st_checkpoints, st_held;
    _Atomic int64_t st_last_flush_ms, st_last_ckpt_ms;
    atomic_bool st_failing;
};

static void bump(_Atomic uint64_t *c)
{
    /* Relaxed: a statistic; only this thread writes it. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static int take(struct vigil_publisher *p, size_t worker, const struct vigil_out_msg *m);

/* Runs while a Redis flush waits for its replies: takes the counter messages (each many
 * accounts, packed) at the head of each worker's out ring (they only go into the counter table, whose writes wait for the
 * next publish), so the workers' ticks are not held up by the round trip. It stops at the
 * first message of any other kind: orders, states and progress keep their place behind the
 * flush, and an offset is never published for anything this flush did not carry. */
static void take_counters_while_waiting(void *arg)
{
    struct vigil_publisher *p = arg;
    for (size_t w = 0; w < p->env.n_workers; w++) {
        struct vigil_ring *ring = vigil_worker_out(p->env.workers[w]);
        struct vigil_out_msg *m;
        for (size_t n = 0; n < DRAIN_PER_ROUND && (m = vigil_ring_peek(ring)) != NULL &&
                           m->kind == VIGIL_MSG_COUNTERS;
             n++) {
            int rc = take(p, w, m);
            if (rc != 0)
                vigil_log_error("cannot publish a worker's counters: %s", vigil_status_str(rc));
            vigil_ring_release(ring);
        }
    }
}

struct vigil_publisher *vigil_publisher_create(const struct vigil_publisher_env *env)
{
    struct vigil_publisher *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->env = *env;
    vigil_bell_init(&p->bell);
    for (size_t w = 0; w < env->n_workers; w++)
        vigil_ring_set_bell(vigil_worker_out(env->workers[w]), &p->bell);
    p->prefix = vigil_config_str(env->cfg, "redis.prefix");
    p->orders_topic = vigil_config_str(env->cfg, "kafka.orders_topic");
    p->alerts_topic = vigil_config_str(env->cfg, "kafka.alerts_topic");
    p->dlq_topic = vigil_config_str(env->cfg, "kafka.dlq_topic");
    p->flush_interval_ms = vigil_config_int(env->cfg, "vigild.flush_interval_ms");
    p->hold_commands = (size_t)vigil_config_int(env->cfg, "vigild.hold_commands");
    p->flush_at = p->hold_commands / 2 < FLUSH_AT_COMMANDS ? p->hold_commands / 2
                                                           : FLUSH_AT_COMMANDS;
    p->block_ttl_s = vigil_config_int(env->cfg, "redis.block_ttl_s");
    p->counter_ttl_s = vigil_config_int(env->cfg, "redis.counter_ttl_s");
    p->publish_interval_ms = vigil_config_int(env->cfg, "vigild.publish_interval_ms");
    p->last_publish_ms = vigil_mono_ms();
    p->counters = vigil_cnt_batch_create(p->prefix, p->counter_ttl_s, COUNTER_RENEW_ENTRIES);
    p->states = env->ckpt ? vigil_state_batch_create() : NULL;
    p->retry_ms = RETRY_MIN_MS;
    p->in_tick = calloc(env->n_workers ? env->n_workers : 1, sizeof *p->in_tick);
    p->held = calloc(env->n_workers ? env->n_workers : 1, sizeof *p->held);
    p->scratch = malloc(sizeof *p->scratch);
    p->brake_max = vigil_config_int(env->cfg, "orders.max_per_minute");
    p->issued_at = calloc(p->brake_max > 0 ? (size_t)p->brake_max : 1, sizeof *p->issued_at);
    if (!p->counters || (env->ckpt && !p->states) || !p->in_tick || !p->held || !p->scratch || !p->issued_at) {
        vigil_publisher_destroy(p);
        return NULL;
    }
    vigil_redis_key(p->brake_key, sizeof p->brake_key, p->prefix, VIGIL_RKEY_BRAKE, NULL, NULL);
    vigil_redis_key(p->brake_flag_key, sizeof p->brake_flag_key, p->prefix,
                    VIGIL_RKEY_BRAKE_ENGAGED, NULL, NULL);
    vigil_redis_key(p->held_key, sizeof p->held_key, p->prefix, VIGIL_RKEY_HELD, NULL, NULL);
    p->dedupe_window_ms = vigil_config_int(env->cfg, "vigild.dedupe_window_ms");
    vigil_redis_set_wait_hook(env->redis, take_counters_while_waiting, p);
    if (env->ckpt)
        vigil_redis_set_wait_hook(env->ckpt, take_counters_while_waiting, p);
    return p;
}

/* Queues a produce, serving delivery reports while librdkafka's queue is full. */
static int produce(struct vigil_publisher *p, const char *topic, const struct vigil_out_msg *m)
{
    for (;;) {
        int rc = vigil_kafka_out_produce(p->env.kout, topic, m->account, strlen(m->account),
                                         m->data, m->data_len);
        if (rc != VIGIL_ERR_FULL)
            return rc;
        vigil_kafka_out_flush(p->env.kout, 100);
    }
}

/* Queues argc words as one command on r (argv, lengths by strlen except where lens[i] is
 * given, not SIZE_MAX). */
static int add_words(struct vigil_redis *r, int argc, const char **argv, size_t *lens)
{
    for (int i = 0; i < argc; i++) {
        if (lens[i] == SIZE_MAX)
            lens[i] = strlen(argv[i]);
    }
    return vigil_redis_add_argv(r, argc, argv, lens);
}

#define W_STR SIZE_MAX /* add_words: the word's length is its strlen */

/* EXPIRE key ttl_s. */
static int add_expire(struct vigil_redis *r, const char *key, int64_t ttl_s)
{
    char ttl[24];
    const char *argv[] = {"EXPIRE", key, ttl};
    size_t lens[] = {6, W_STR, vigil_redis_fmt_int(ttl, ttl_s)};
    return add_words(r, 3, argv, lens);
}

static int queue_order(struct vigil_publisher *p, const struct vigil_out_msg *m)
{
    char key[256], zkey[256];
    int64_t until = vigil_wall_ms() + p->block_ttl_s * 1000;
    /* One hash per account: field = action, value = the order, and field "<action>:until"
     * = the wall-clock ms until which that action stands, so a newer order (which renews the
     * key's TTL) never extends an older action; a SIP proxy asks HMGET, the NOC HGETALL.
     * The blocks index is a sorted set scored by expiry. */
    char field[VIGIL_OUT_NAME_MAX + 8], until_s[24];
    size_t al = strnlen(m->action, VIGIL_OUT_NAME_MAX - 1);
    memcpy(field, m->action, al);
    memcpy(field + al, ":until", 7);
    size_t ul = vigil_redis_fmt_int(until_s, until);
    if (vigil_redis_key(key, sizeof key, p->prefix, VIGIL_RKEY_BLOCK, m->account, NULL) != 0 ||
        vigil_redis_key(zkey, sizeof zkey, p->prefix, VIGIL_RKEY_BLOCKS, NULL, NULL) != 0)
        return VIGIL_ERR_INVALID;
    const char *hset[] = {"HSET", key, m->action, m->data, field, until_s};
    size_t hlens[] = {4, W_STR, al, m->data_len, al + 6, ul};
    int rc = add_words(p->env.redis, 6, hset, hlens);
    rc = rc ? rc : add_expire(p->env.redis, key, p->block_ttl_s);
    const char *zadd[] = {"ZADD", zkey, until_s, m->account};
    size_t zlens[] = {4, W_STR, ul, W_STR};
    rc = rc ? rc : add_words(p->env.redis, 4, zadd, zlens);
    rc = rc ? rc : add_expire(p->env.redis, zkey, p->block_ttl_s);
    return rc;
}

/* A lift read from the orders topic (so already there: Kafka first holds), applied to the
 * block key: the action's field and its ":until" go if the field still holds the lifted
 * order (any order when the lift names none; a newer order of that action stays), the key
 * and the account's index entry go when no action is left standing (expired ones go with
 * it). Idempotent: vigilctl lift and
 * every vigild of the group may apply the same lift. Returns 1 cleared, 2 cleared and no
 * block left, 0 nothing to clear, -1 another order stands. */
static const char lift_script[] =
    "local cur = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if not cur then return 0 end\n"
    "if ARGV[3] ~= '' and not string.find(cur, '\"order_id\":\"' .. ARGV[3] .. '\"', 1, true)"
    " then return -1 end\n"
    "redis.call('HDEL', KEYS[1], ARGV[1], ARGV[1] .. ':until')\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "local v = {}\n"
    "for i = 1, #h, 2 do v[h[i]] = h[i + 1] end\n"
    "for f, _ in pairs(v) do\n"
    "  local u = v[f .. ':until']\n"
    "  if not string.find(f, ':', 1, true) and (not u or tonumber(u) > now) then return 1 end\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('ZREM', KEYS[2], ARGV[2])\n"
    "return 2\n";

static int queue_lift(struct vigil_publisher *p, const struct vigil_out_msg *m)
{
    char key[256], zkey[256];
    vigil_redis_key(key, sizeof key, p->prefix, VIGIL_RKEY_BLOCK, m->account, NULL);
    vigil_redis_key(zkey, sizeof zkey, p->prefix, VIGIL_RKEY_BLOCKS, NULL, NULL);
    vigil_log_info("lift of %s for %s: clearing it from %s", m->action, m->account, key);
    return vigil_redis_add(p->env.redis, "EVAL %s 2 %s %s %s %s %b", lift_script, key, zkey,
                           m->action, m->account, m->data, (size_t)m->data_len);
}

/* Numbers of a flagged account: members of one sorted set scored by expiry, which every
 * vigild's flagged sync thread reads (flagged_sync.c). Expired members go whenever one is added, and the key
 * lives as long as the newest member, so the set never grows without bound. A number added
 * again (another order, another account) takes the later write's expiry. */
static int queue_flag(struct vigil_publisher *p, const struct vigil_out_msg *m)
{
    static const char hex[] = "0123456789abcdef";
    char key[256], member[16], until_s[24], now_s[24];
    if (vigil_redis_key(key, sizeof key, p->prefix, VIGIL_RKEY_FLAGGED, NULL, NULL) != 0)
        return VIGIL_ERR_INVALID;
    size_t ul = vigil_redis_fmt_int(until_s, m->until_ms);
    int rc = 0;
    for (uint32_t i = 0; i < m->n_numbers && i < VIGIL_FLAGGED_NUMBERS && rc == 0; i++) {
        /* The number's hash as 16 lower-case hex digits (flagged_sync.c reads them so). */
        for (int d = 0; d < 16; d++)
            member[d] = hex[(m->numbers[i] >> (60 - 4 * d)) & 0xf];
        const char *zadd[] = {"ZADD", key, until_s, member};
        size_t zlens[] = {4, W_STR, ul, sizeof member};
        rc = add_words(p->env.redis, 4, zadd, zlens);
    }
    const char *trim[] = {"ZREMRANGEBYSCORE", key, "-inf", now_s};
    size_t tlens[] = {16, W_STR, 4, vigil_redis_fmt_int(now_s, vigil_wall_ms())};
    rc = rc ? rc : add_words(p->env.redis, 4, trim, tlens);
    rc = rc ? rc : add_expire(p->env.redis, key, p->block_ttl_s);
    return rc;
}

static int queue_alert(struct vigil_publisher *p, const struct vigil_out_msg *m)
{
    /* The latest alert per account and detector, for vigilctl and dashboards. */
    char key[256];
    if (vigil_redis_key(key, sizeof key, p->prefix, VIGIL_RKEY_ALERTS, m->account, NULL) != 0)
        return VIGIL_ERR_INVALID;
    const char *hset[] = {"HSET", key, m->detector, m->data};
    size_t hlens[] = {4, W_STR, W_STR, m->data_len};
    int rc = add_words(p->env.redis, 4, hset, hlens);
    return rc ? rc : add_expire(p->env.redis, key, p->counter_ttl_s);
}

/* Keeps m's Redis writes until the Kafka messages produced so far are delivered. */
static int after_kafka(struct vigil_publisher *p, const struct vigil_out_msg *m)
{
    struct after_kafka *a = malloc(sizeof *a);
    if (!a)
        return VIGIL_ERR_NOMEM;
    a->next = NULL;
    a->seq = vigil_kafka_out_produced(p->env.kout);
    /* The header and the data in use only: data is large and mostly empty. */
    memcpy(&a->m, m, offsetof(struct vigil_out_msg, data));
    memcpy(a->m.data, m->data, m->data_len);
    if (p->after_tail)
        p->after_tail->next = a;
    else
        p->after_head = a;
    p->after_tail = a;
    return 0;
}

/* Queues the Redis writes whose Kafka messages are delivered, in take order. */
static void release_delivered(struct vigil_publisher *p)
{
    struct after_kafka *a;
    while ((a = p->after_head) != NULL &&
           vigil_kafka_out_status(p->env.kout, a->seq) == 0) {
        int rc = a->m.kind == VIGIL_MSG_ORDER  ? queue_order(p, &a->m)
                 : a->m.kind == VIGIL_MSG_FLAG ? queue_flag(p, &a->m)
                 : a->m.kind == VIGIL_MSG_LIFT ? queue_lift(p, &a->m)
                                               : queue_alert(p, &a->m);
        if (rc != 0)
            vigil_log_error("cannot queue the Redis write of %s for account %s: %s",
                            a->m.kind == VIGIL_MSG_ORDER  ? "an order"
                            : a->m.kind == VIGIL_MSG_FLAG ? "flagged numbers"
                            : a->m.kind == VIGIL_MSG_LIFT ? "a lift"
                                                          : "an alert",
                            a->m.account, vigil_status_str(rc));
        p->after_head = a->next;
        if (!p->after_head)
            p->after_tail = NULL;
        free(a);
    }
}

/* Opens the checkpoint transaction if none is open. */
static int txn_begin(struct vigil_publisher *p)
{
    if (p->txn_open)
        return 0;
    const char *multi[] = {"MULTI"};
    size_t mlens[] = {5};
    int rc = add_words(p->env.ckpt, 1, multi, mlens);
    p->txn_open = rc == 0;
    return rc;
}

static int queue_state(struct vigil_publisher *p, const struct vigil_out_msg *m)
{
    int rc = txn_begin(p);
    /* Staged: a later state of the account in the same transaction replaces it, and the
     * transaction writes one HSET per partition (flush_checkpoint). */
    if (rc == 0)
        rc = vigil_state_batch_put(p->states, m->partition, m->account, m->data, m->data_len);
    bump(&p->st_states);
    return rc;
}

/* Event ids of a partition, for the dedupe of its next owner: one sorted-set member per
 * checkpoint and partition, scored by the latest event time in it. Members that have left the
 * window (twice its length behind, for disorder between partitions) go as new ones come; the
 * key itself lives a week past its last write, so a partition nobody reads any more does not
 * keep it forever. ZADD of the same member again is a no-op: the batch may be resent. */
static int queue_seen(struct vigil_publisher *p, const struct vigil_out_msg *m)
{
    char key[sizeof p->env.ckpt_keys->seen + 16];
    vigil_ckpt_seen_key(p->env.ckpt_keys, m->partition, key, sizeof key);
    int rc = txn_begin(p);
    char clock[24], below[24];
    const char *zadd[] = {"ZADD", key, clock, m->data};
    size_t zlens[] = {4, W_STR, vigil_redis_fmt_int(clock, m->clock_ms), m->data_len};
    rc = rc ? rc : add_words(p->env.ckpt, 4, zadd, zlens);
    below[0] = '('; /* exclusive */
    const char *trim[] = {"ZREMRANGEBYSCORE", key, "-inf", below};
    size_t tlens[] = {16, W_STR, 4,
                      1 + vigil_redis_fmt_int(below + 1, m->clock_ms - 2 * p->dedupe_window_ms)};
    rc = rc ? rc : add_words(p->env.ckpt, 4, trim, tlens);
    rc = rc ? rc : add_expire(p->env.ckpt, key, SEEN_TTL_S);
    return rc;
}

/* ---- the order brake ------------------------------------------------------------------- */

/* The value of a top-level "name" field of JSON we wrote ourselves (emit.c): a string
 * without escapes (ids, account ids, actions, rule names) or a number, copied raw. "" when
 * absent. */
static void json_field(const char *json, size_t len, const char *name, char *out, size_t n)
{
    char pat[64];
    size_t nl = strlen(name), pl = nl + 3;
    out[0] = '\0';
    if (pl > sizeof pat)
        return;
    pat[0] = '"';
    memcpy(pat + 1, name, nl);
    memcpy(pat + 1 + nl, "\":", 2);
    const char *at = memmem(json, len, pat, pl);
    if (!at)
        return;
    const char *v = at + pl, *end = json + len;
    bool quoted = v < end && *v == '"';
    if (quoted)
        v++;
    size_t k = 0;
    while (v < end && k + 1 < n && (quoted ? *v != '"' : (*v != ',' && *v != '}')))
        out[k++] = *v++;
    out[k] = '\0';
}

/* One sorted set of the issued order ids scored by wall-clock ms, shared by every vigild of
 * the group, trimmed to the last minute: an id already in it is issued again (a re-emitted
 * order counts once), an id already held stays held, else it is issued while fewer than
 * ARGV[3] are in the set. The first refusal of an engagement sets the engaged flag (60 s),
 * so one instance of the group, once per engagement, sends the brake alert. Returns
 * {issue 0|1, orders in the last minute counting this one, first refusal 0|1}. */
static const char brake_script[] =
    "local now = tonumber(ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)\n"
    "local n = redis.call('ZCARD', KEYS[1])\n"
    "if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return {1, n, 0} end\n"
    "if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then return {0, n + 1, 0} end\n"
    "if n < tonumber(ARGV[3]) then\n"
    "  redis.call('ZADD', KEYS[1], now, ARGV[2])\n"
    "  redis.call('PEXPIRE', KEYS[1], 120000)\n"
    "  return {1, n + 1, 0}\n"
    "end\n"
    "local first = redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', 60000)\n"
    "return {0, n + 1, first and 1 or 0}\n";

/* The local count: this process's issue times of the last minute. */
static void local_note(struct vigil_publisher *p, int64_t now)
{
    size_t cap = (size_t)p->brake_max;
    if (p->issued_n == cap) {
        p->issued_head = (p->issued_head + 1) % cap;
        p->issued_n--;
    }
    p->issued_at[(p->issued_head + p->issued_n) % cap] = now;
    p->issued_n++;
}

static bool local_decide(struct vigil_publisher *p, int64_t now, int64_t *count, bool *first)
{
    size_t cap = (size_t)p->brake_max;
    while (p->issued_n > 0 && p->issued_at[p->issued_head] <= now - BRAKE_WINDOW_MS) {
        p->issued_head = (p->issued_head + 1) % cap;
        p->issued_n--;
    }
    *count = (int64_t)p->issued_n + 1;
    if (p->issued_n < cap)
        return true;
    *first = now >= p->local_engaged_until;
    if (*first)
        p->local_engaged_until = now + BRAKE_WINDOW_MS;
    return false;
}

/* Whether the order may be issued now. One synchronous round trip on the batch connection
 * (idle between flushes: the batch is only written and read inside a flush); orders are
 * rare. When Redis cannot answer, the local count decides and Redis is asked again after
 * BRAKE_REDIS_RETRY_MS, so a stalled Redis costs one timeout per few seconds, not one per
 * order; the switch either way is logged once. */
static bool brake_allows(struct vigil_publisher *p, const char *order_id, int64_t *count,
                         bool *first, bool *local)
{
    int64_t now = vigil_wall_ms();
    *first = false;
    *local = true;
    bool issue = false;
    const char *why = "";
    if (now >= p->brake_redis_after) {
        redisReply *rep = vigil_redis_command(
            p->env.redis, "EVAL %s 3 %s %s %s %lld %s %lld", brake_script, p->brake_key,
            p->brake_flag_key, p->held_key, (long long)now, order_id, (long long)p->brake_max);
        if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
            rep->element[0]->type == REDIS_REPLY_INTEGER) {
            issue = rep->element[0]->integer == 1;
            *count = rep->element[1]->integer;
            *first = rep->element[2]->integer == 1;
            *local = false;
        } else {
            why = !rep                             ? vigil_redis_errstr(p->env.redis)
                  : rep->type == REDIS_REPLY_ERROR ? rep->str
                                                   : "unexpected reply";
            p->brake_redis_after = now + BRAKE_REDIS_RETRY_MS;
        }
        if (*local && !p->brake_local)
            vigil_log_warn("order brake: Redis cannot answer the group-wide count (%s); "
                           "counting this process's orders only, at most %lld a minute",
                           why, (long long)p->brake_max);
        if (rep)
            freeReplyObject(rep);
    }
    if (*local) {
        issue = local_decide(p, now, count, first);
    } else if (p->brake_local) {
        vigil_log_info("order brake: counting across the group in Redis again");
    }
    p->brake_local = *local;
    if (issue)
        local_note(p, now);
    return issue;
}

/* One critical alert per engagement: what happened and what to do. */
static int brake_alert(struct vigil_publisher *p, const struct vigil_out_msg *order,
                       const char *order_id, int64_t count, bool local)
{
    int64_t now = vigil_wall_ms();
    char id[32], event_ts[32];
    uint64_t h = vigil_fnv1a(VIGIL_FNV_OFFSET, "vigil.order_brake", 18);
    h = vigil_fnv1a(h, &now, sizeof now);
    snprintf(id, sizeof id, "alr-%016llx", (unsigned long long)h);
    json_field(order->data, order->data_len, "event_ts", event_ts, sizeof event_ts);
    char reason[512];
    snprintf(reason, sizeof reason,
             "Order brake engaged: %lld orders would have been issued within a minute%s, more "
             "than orders.max_per_minute = %lld; further orders are held, not issued, until an "
             "operator releases or discards them (vigilctl held).",
             (long long)count, local ? " by this instance (Redis unreachable)" : "",
             (long long)p->brake_max);

    struct vigil_out_msg *a = p->scratch;
    struct vigil_finding f = {
        .detector = "vigil", .rule = "vigil.order_brake", .severity = VIGIL_SEV_CRITICAL,
        .account = order->account, .event_ts_ms = event_ts[0] ? strtoll(event_ts, NULL, 10) : now,
        .reason = reason, .n_evidence = 3,
        .evidence = {{"orders_last_minute", (double)count},
                     {"max_per_minute", (double)p->brake_max},
                     {"counted_locally", local ? 1.0 : 0.0}}};
    size_t len = vigil_emit_format_system_alert(&f, id, now, "held_order_id", order_id, a->data,
                                                sizeof a->data);
    if (len == 0)
        return VIGIL_ERR_INVALID;
    a->data_len = (uint32_t)len;
    memcpy(a->account, order->account, sizeof a->account);
    vigil_log_warn("order brake engaged: %lld orders would have been issued within a minute%s "
                   "(orders.max_per_minute = %lld); holding further orders: see vigilctl held",
                   (long long)count, local ? " by this instance" : "", (long long)p->brake_max);
    bump(&p->st_alerts);
    vigil_metrics_output(p->env.metrics, VIGIL_METRICS_ALERT, a->data, a->data_len);
    vigil_alert_delivery_offer(p->env.delivery, a->data, a->data_len);
    return produce(p, p->alerts_topic, a);
}

/* An order the brake refuses: kept in <prefix>held (field order_id, value the order JSON)
 * for vigilctl release/discard, in the pipelined batch like a block key; no order on the
 * topic, no block key, no flagged numbers. */
static int hold_order(struct vigil_publisher *p, size_t worker, const struct vigil_out_msg *m,
                      const char *order_id)
{
    char rule[128];
    json_field(m->data, m->data_len, "rule", rule, sizeof rule);
    char reason[400];
    vigil_json_field(m->data, m->data_len, "reason", reason, sizeof reason);
    vigil_log_warn("order %s held by the brake: account %s, action %s, rule %s: %s", order_id,
                   m->account, m->action, rule, reason);
    struct held_mark *hm = &p->held[worker];
    hm->active = true;
    snprintf(hm->order_id, sizeof hm->order_id, "%s", order_id);
    memcpy(hm->account, m->account, sizeof hm->account);
    bump(&p->st_held);
    const char *hset[] = {"HSET", p->held_key, order_id, m->data};
    size_t hlens[] = {4, W_STR, W_STR, m->data_len};
    int rc = add_words(p->env.redis, 4, hset, hlens);
    return rc ? rc : add_expire(p->env.redis, p->held_key, p->block_ttl_s);
}

/* The alert of a held order, with "held":"brake" added; NULL when m is another alert. */
static const struct vigil_out_msg *held_alert(struct vigil_publisher *p, size_t worker,
                                              const struct vigil_out_msg *m)
{
    struct held_mark *hm = &p->held[worker];
    char id[BRAKE_ID_MAX];
    if (!hm->active)
        return NULL;
    json_field(m->data, m->data_len, "order_id", id, sizeof id);
    if (strcmp(id, hm->order_id) != 0)
        return NULL;
    hm->active = false;
    static const char add[] = ",\"held\":\"brake\"}";
    struct vigil_out_msg *a = p->scratch;
    if (m->data_len < 2 || m->data[m->data_len - 1] != '}' ||
        m->data_len - 1 + sizeof add - 1 > sizeof a->data)
        return NULL;
    a->kind = VIGIL_MSG_ALERT; /* its Redis write, once delivered, is an alert's */
    memcpy(a->account, m->account, sizeof a->account);
    memcpy(a->detector, m->detector, sizeof a->detector);
    memcpy(a->data, m->data, m->data_len - 1);
    memcpy(a->data + m->data_len - 1, add, sizeof add - 1);
    a->data_len = (uint32_t)(m->data_len - 1 + sizeof add - 1);
    return a;
}

/* An order through the brake: issued (topic, block key) or held. */
static int take_order(struct vigil_publisher *p, size_t worker, const struct vigil_out_msg *m)
{
    char order_id[BRAKE_ID_MAX];
    p->held[worker].active = false;
    json_field(m->data, m->data_len, "order_id", order_id, sizeof order_id);
    /* An interim invoice is for billing and blocks nothing: no block key (a SIP proxy asking
     * the block hash never sees it), and the brake, which guards against mass suspensions,
     * does not count it. */
    bool blocks = strcmp(m->action, vigil_action_str(VIGIL_ACT_INTERIM_INVOICE)) != 0;
    if (blocks && p->brake_max > 0 && order_id[0]) {
        int64_t count = 0;
        bool first = false, local = false;
        if (!brake_allows(p, order_id, &count, &first, &local)) {
            int rc = first ? brake_alert(p, m, order_id, count, local) : 0;
            int hrc = hold_order(p, worker, m, order_id);
            return rc ? rc : hrc;
        }
    }
    int rc = produce(p, p->orders_topic, m);
    rc = rc || !blocks ? rc : after_kafka(p, m);
    bump(&p->st_orders);
    return rc;
}

/* Takes one message's effects. Returns 0, or a status that is logged (never fatal: a
 * message that cannot be queued is counted as a failure and blocks no one). */
static int take(struct vigil_publisher *p, size_t worker, const struct vigil_out_msg *m)
{
    int rc = 0;
    switch (m->kind) {
    case VIGIL_MSG_ORDER:
        rc = take_order(p, worker, m);
        if (!p->held[worker].active) /* issued, not held by the brake */
            vigil_metrics_output(p->env.metrics, VIGIL_METRICS_ORDER, m->data, m->data_len);
        break;
    case VIGIL_MSG_ALERT: {
        const struct vigil_out_msg *held = held_alert(p, worker, m);
        if (held)
            m = held;
        rc = produce(p, p->alerts_topic, m);
        /* An alert about the stream itself (a gap) has no account to file it under. */
        rc = rc || !m->account[0] ? rc : after_kafka(p, m);
        bump(&p->st_alerts);
        vigil_metrics_output(p->env.metrics, VIGIL_METRICS_ALERT, m->data, m->data_len);
        /* Never blocks: a receiver that is down costs detection nothing. */
        vigil_alert_delivery_offer(p->env.delivery, m->data, m->data_len);
        break;
    }
    case VIGIL_MSG_DLQ:
        rc = produce(p, p->dlq_topic, m);
        bump(&p->st_dead);
        vigil_metrics_output(p->env.metrics, VIGIL_METRICS_DEAD, m->data, m->data_len);
        break;
    case VIGIL_MSG_COUNTERS: {
        /* Many accounts' counters, packed by the worker (counter_batch.h). */
        int taken = vigil_cnt_batch_put_packed(p->counters, m->data, m->data_len);
        if (taken < 0) {
            rc = taken;
        } else {
            /* Relaxed: a statistic; only this thread writes it. */
            atomic_store_explicit(&p->st_counters,
                                  atomic_load_explicit(&p->st_counters, memory_order_relaxed) +
                                      (uint64_t)taken,
                                  memory_order_relaxed);
        }
        break;
    }
    case VIGIL_MSG_FLAG:
        /* A held order flags no one: skip the numbers its worker sent after it. */
        if (p->held[worker].active && strcmp(p->held[worker].account, m->account) == 0)
            return 0;
        rc = after_kafka(p, m);
        break;
    case VIGIL_MSG_PROGRESS:
        if (m->partition >= 0 && m->partition < VIGIL_MAX_PARTITIONS) {
            p->pending[m->partition] = m->offset;
            p->clock[m->partition] = m->clock_ms;
            p->gap_from[m->partition] = m->gap_from_ms;
            p->gap_to[m->partition] = m->gap_to_ms;
            p->dirty[m->partition] = true;
        }
        p->in_tick[worker] = p->env.ckpt != NULL;
        break;
    case VIGIL_MSG_STATE:
        if (p->env.ckpt) {
            rc = queue_state(p, m);
            p->in_tick[worker] = true;
        }
        break;
    case VIGIL_MSG_SEEN:
        if (p->env.ckpt && m->data_len > 0) {
            rc = queue_seen(p, m);
            p->in_tick[worker] = true;
        }
        break;
    case VIGIL_MSG_LIFT:
        /* After every block key still waiting for its order's delivery: a lift never
         * overtakes the order it lifts. */
        rc = p->after_head ? after_kafka(p, m) : queue_lift(p, m);
        break;
    case VIGIL_MSG_TICK_END:
        p->in_tick[worker] = false;
        return 0; /* nothing to write of its own */
    }
    p->unflushed = true;
    return rc;
}

static size_t pending_commands(const struct vigil_publisher *p)
{
    /* Staged states count as commands: they are kept in memory just the same. */
    return vigil_redis_pending(p->env.redis) +
           (p->env.ckpt ? vigil_redis_pending(p->env.ckpt) +
                              vigil_state_batch_count(p->states)
                        : 0);
}

/* hold: the batches are large (backpressure); only workers in the middle of a tick group
 * are drained, so the group can complete and the checkpoint be written. */
static size_t drain(struct vigil_publisher *p, bool hold)
{
    size_t total = 0;
    for (size_t w = 0; w < p->env.n_workers; w++) {
        if (hold && !p->in_tick[w])
            continue;
        struct vigil_ring *ring = vigil_worker_out(p->env.workers[w]);
        struct vigil_out_msg *m;
        size_t n = 0;
        while (n < DRAIN_PER_ROUND && (m = vigil_ring_peek(ring)) != NULL) {
            int rc = take(p, w, m);
            if (rc != 0) {
                if (m->kind == VIGIL_MSG_COUNTERS)
                    vigil_log_error("cannot publish a worker's counters: %s",
                                    vigil_status_str(rc));
                else
                    vigil_log_error("cannot publish %s for account %s: %s",
                                    m->kind == VIGIL_MSG_FLAG ? "flagged numbers" : "a message",
                                    m->account, vigil_status_str(rc));
            }
            vigil_ring_release(ring);
            n++;
        }
        total += n;
    }
    return total;
}

/* Closes the checkpoint transaction with the offsets of every complete tick and sends it.
 * 0 when durable; VIGIL_ERR_EMPTY when a worker's tick group is half drained (try again
 * soon); otherwise the Redis failure (the batch is kept and sent again). */
static int flush_checkpoint(struct vigil_publisher *p, bool *writes)
{
    for (size_t w = 0; w < p->env.n_workers; w++) {
        if (p->in_tick[w])
            return VIGIL_ERR_EMPTY;
    }
    int rc = 0;
    if (vigil_state_batch_count(p->states) > 0) {
        rc = vigil_state_batch_flush(p->states, p->env.ckpt, p->env.ckpt_keys);
        if (rc != 0) /* those partitions start from older states after a restart; logged */
            vigil_log_error("cannot queue checkpoint states: %s", vigil_status_str(rc));
        rc = 0;
    }
    for (int32_t i = 0; i < VIGIL_MAX_PARTITIONS && rc == 0; i++) {
        if (!p->dirty[i])
            continue;
        rc = txn_begin(p);
        /* "<next offset>:<clock>", and ":<gap from>:<gap to>" when the partition had one. */
        char val[96], part[24];
        size_t len = vigil_redis_fmt_int(val, p->pending[i]);
        val[len++] = ':';
        len += vigil_redis_fmt_int(val + len, p->clock[i]);
        if (p->gap_to[i] != 0) {
            val[len++] = ':';
            len += vigil_redis_fmt_int(val + len, p->gap_from[i]);
            val[len++] = ':';
            len += vigil_redis_fmt_int(val + len, p->gap_to[i]);
        }
        const char *hset[] = {"HSET", p->env.ckpt_keys->ckpt, part, val};
        size_t hlens[] = {4, W_STR, vigil_redis_fmt_int(part, i), len};
        rc = rc ? rc : add_words(p->env.ckpt, 4, hset, hlens);
        if (rc == 0) {
            p->dirty[i] = false;
            p->ready[i] = p->pending[i];
            p->is_ready[i] = true;
        }
    }
    bool txn = false;
    if (rc == 0 && p->txn_open) {
        const char *exec[] = {"EXEC"};
        size_t elens[] = {4};
        rc = add_words(p->env.ckpt, 1, exec, elens);
        p->txn_open = rc != 0;
        txn = rc == 0;
        bump(&p->st_checkpoints);
    }
    if (rc != 0)
        return rc;
    *writes = *writes || vigil_redis_pending(p->env.ckpt) > 0;
    rc = vigil_redis_flush(p->env.ckpt);
    if (rc == VIGIL_ERR_INVALID) {
        /* Redis refused the transaction: resending cannot help. The states are lost (a
         * restart starts those accounts empty) but the offsets must still move on. */
        vigil_log_error("checkpoint refused: %s", vigil_redis_errstr(p->env.ckpt));
        rc = 0;
    }
    if (rc == 0 && txn) /* Relaxed: a statistic (checkpoint age) */
        atomic_store_explicit(&p->st_last_ckpt_ms, vigil_wall_ms(), memory_order_relaxed);
    return rc;
}

/* Makes everything drained so far durable. 0 on success. Kafka first: a block key in Redis
 * must never be visible before its order is on the orders topic, or an operator could lift
 * it (vigilctl checks Redis) and the lift reach provisioning before the order it lifts. */
static int flush(struct vigil_publisher *p, bool finishing)
{
    /* The counters of every account put since the last publish go into this batch when the
     * interval is up, when the consumer waits for a revoke to become durable, when the
     * batches grow large, and at the end. Queued, they are part of the batch, which is kept
     * until Redis takes it. Until a publish has succeeded, every flush publishes again
     * (what was drained since), so a half-drained tick group cannot hold the checkpoint off
     * for another interval. */
    int64_t now = vigil_mono_ms();
    /* Relaxed: a hint that only makes this publish sooner; the offsets themselves are
     * published with release below. */
    bool urgent = atomic_load_explicit(&p->env.offsets->urgent, memory_order_relaxed);
    bool publish = finishing || urgent || now - p->last_publish_ms >= p->publish_interval_ms ||
                   pending_commands(p) + vigil_cnt_batch_dirty(p->counters) >= p->flush_at;
    if (publish && vigil_cnt_batch_dirty(p->counters) > 0) {
        int crc = vigil_cnt_batch_flush(p->counters, p->env.redis, now);
        if (crc != 0)
            vigil_log_error("cannot queue counters: %s", vigil_status_str(crc));
    }
    /* Checkpoints and offsets follow the counters: while counters drained before them wait
     * in memory for the next publish, the checkpoint transaction (kept open, its states
     * queued) and the offsets wait too. So a checkpoint never reflects an event whose
     * counters are not in Redis: after a crash the next owner starts at the checkpoint, re-reads
     * what came after it, and publishes those accounts' counters again. Once the table is
     * empty everything drained so far is in this batch. */
    bool counters_waiting = vigil_cnt_batch_dirty(p->counters) > 0;
    /* A flush with nothing for Redis succeeds even while Redis is down: only one that wrote
     * something ends a failing streak. */
    /* Kafka is not waited for: the writes that must follow a delivery are queued once it is
     * in (release_delivered), and the offsets wait until every message drained so far is
     * delivered. A failed delivery is produced again and stays outstanding; a message lost
     * for good breaks the producer, and the offsets stop there. */
    vigil_kafka_out_poll(p->env.kout);
    release_delivered(p);
    bool writes = pending_commands(p) > 0;
    int rc = vigil_kafka_out_status(p->env.kout, vigil_kafka_out_produced(p->env.kout));
    bool outputs_waiting = rc == VIGIL_ERR_TIMEOUT || p->after_head != NULL;
    if (rc == VIGIL_ERR_TIMEOUT)
        rc = 0;
    const char *what = vigil_kafka_out_errstr(p->env.kout);
    if (rc == 0) {
        rc = vigil_redis_flush(p->env.redis);
        if (rc == VIGIL_ERR_INVALID) {
            /* Redis refused a command: resending will not help, and holding the offsets
             * back forever would stop vigil; log it and go on. */
            vigil_log_error("%s", vigil_redis_errstr(p->env.redis));
            rc = 0;
        }
        what = vigil_redis_errstr(p->env.redis);
    }
    if (rc == 0 && p->env.ckpt && !counters_waiting && !outputs_waiting) {
        rc = flush_checkpoint(p, &writes);
        if (rc == VIGIL_ERR_EMPTY)
            return rc; /* a tick group is half drained: the offsets wait for it */
        what = vigil_redis_errstr(p->env.ckpt);
    }
    if (rc != 0) {
        p->local_failures++;
        bump(&p->st_failures);
        if (!p->failing)
            vigil_log_warn("outputs not durable yet (%s); holding offsets and retrying", what);
        p->failing = true;
        atomic_store_explicit(&p->st_failing, true, memory_order_relaxed); /* a statistic */
        return rc;
    }
    if (p->failing && writes) {
        vigil_log_info("outputs durable again after %llu failed attempts",
                       (unsigned long long)p->local_failures);
        p->failing = false;
        p->local_failures = 0;
    }
    if (!outputs_waiting)
        p->await_since = 0;
    else if (p->await_since == 0)
        p->await_since = now;
    bool published = false;
    for (int32_t i = 0; i < VIGIL_MAX_PARTITIONS && !counters_waiting && !outputs_waiting;
         i++) {
        if (!p->env.ckpt && p->dirty[i]) {
            vigil_offsets_publish(p->env.offsets, i, p->pending[i]);
            p->dirty[i] = false;
            published = true;
        } else if (p->is_ready[i]) {
            vigil_offsets_publish(p->env.offsets, i, p->ready[i]);
            p->is_ready[i] = false;
            published = true;
        }
    }
    if (published) /* a revoke may be waiting for these */
        vigil_bell_ring(&p->env.offsets->bell);
    if (publish && !counters_waiting)
        p->last_publish_ms = now;
    /* Counters taken while the flush waited (take_counters_while_waiting) wait for the next
     * publish, and so do the offsets behind them. */
    p->unflushed = vigil_cnt_batch_dirty(p->counters) > 0 || outputs_waiting;
    bump(&p->st_flushes);
    /* Relaxed: statistics for /metrics and /readyz; they guard no data. */
    atomic_store_explicit(&p->st_last_flush_ms, vigil_wall_ms(), memory_order_relaxed);
    atomic_store_explicit(&p->st_failing, p->failing || p->kafka_stuck, memory_order_relaxed);
    return 0;
}

static bool past_deadline(struct vigil_publisher *p)
{
    return atomic_load_explicit(&p->finishing, memory_order_acquire) &&
           vigil_mono_ms() >= atomic_load_explicit(&p->deadline_ms, memory_order_relaxed);
}

/* Sleeps until a worker commits something or finish() is called, or until the next flush
 * is due (at most IDLE_WAIT_MS when nothing waits for one). While holding (hold), only the
 * rings drain() would take from count. */
static void idle_wait(struct vigil_publisher *p, int64_t last_flush, bool hold)
{
    int64_t wait = IDLE_WAIT_MS;
    if (p->unflushed) {
        wait = last_flush + p->flush_interval_ms - vigil_mono_ms();
        if (wait < 1)
            wait = 1;
    }
    /* Delivery reports ring no bell: look for them often while some are awaited. */
    if ((p->await_since || p->after_head) && wait > DELIVERY_LOOK_MS)
        wait = DELIVERY_LOOK_MS;
    uint32_t token = vigil_bell_prepare(&p->bell);
    bool work = atomic_load_explicit(&p->finishing, memory_order_acquire);
    for (size_t w = 0; w < p->env.n_workers && !work; w++)
        work = (!hold || p->in_tick[w]) &&
               vigil_ring_peek(vigil_worker_out(p->env.workers[w])) != NULL;
    if (work)
        vigil_bell_cancel(&p->bell);
    else
        vigil_bell_wait(&p->bell, token, wait);
}

static void *publisher_main(void *arg)
{
    struct vigil_publisher *p = arg;
    int64_t last_flush = vigil_mono_ms();
    for (;;) {
        /* Acquire: pairs with finish()'s release; the workers were joined before it, so
         * their last messages are in the rings when we drain below. */
        bool finishing = atomic_load_explicit(&p->finishing, memory_order_acquire);
        bool hold = pending_commands(p) >= p->hold_commands;
        int64_t now = vigil_mono_ms();
        bool stuck = p->await_since != 0 && now - p->await_since >= KAFKA_STUCK_MS;
        if (stuck != p->kafka_stuck) {
            if (stuck)
                vigil_log_warn("Kafka deliveries outstanding for %d s; offsets held and "
                               "consumption paused until they are in", KAFKA_STUCK_MS / 1000);
            else
                vigil_log_info("Kafka deliveries are in again");
            p->kafka_stuck = stuck;
            /* Relaxed: a statistic (/metrics' vigil_outputs_durable). */
            atomic_store_explicit(&p->st_failing, p->failing || stuck, memory_order_relaxed);
        }
        /* Relaxed: a hint for the consumer's pause; it guards no data. The ring wakes a
         * consumer asleep on a full in ring, which then stops waiting and pauses. */
        bool holding = hold || p->failing || stuck;
        atomic_store_explicit(&p->env.offsets->holding, holding, memory_order_relaxed);
        if (holding && !p->was_holding)
            vigil_bell_ring(&p->env.offsets->bell);
        p->was_holding = holding;
        /* Deliveries awaited for a flush interval: take nothing new that could produce more
         * until they are in (tick groups still complete: they carry no Kafka message). */
        bool stalled = p->await_since != 0 && now - p->await_since >= p->flush_interval_ms;
        /* Stalled or holding, the rings drain() skips must not wake idle_wait either, or the
         * loop would spin on them. */
        hold = hold || stalled;
        size_t n = drain(p, hold);
        vigil_kafka_out_poll(p->env.kout);
        release_delivered(p);

        now = vigil_mono_ms();
        /* The awaited deliveries are in: the offsets can go now, not a flush interval on. */
        bool delivered = p->await_since != 0 && !p->after_head &&
                         vigil_kafka_out_status(p->env.kout,
                                                vigil_kafka_out_produced(p->env.kout)) == 0;
        /* Nothing is awaited any more, whether or not the flush below succeeds (a flush that
         * fails at Redis never gets to look): Kafka is not what holds things up. */
        if (delivered)
            p->await_since = 0;
        bool due = now - last_flush >= p->flush_interval_ms || delivered ||
                   pending_commands(p) + vigil_cnt_batch_dirty(p->counters) >= p->flush_at ||
                   (finishing && n == 0);
        if (p->unflushed && due) {
            int rc = flush(p, finishing);
            if (rc == 0) {
                last_flush = now;
                p->retry_ms = RETRY_MIN_MS;
            } else if (rc != VIGIL_ERR_EMPTY) { /* EMPTY: drain the rest of a tick first */
                if (past_deadline(p))
                    break;
                vigil_sleep_ms(p->retry_ms);
                p->retry_ms = p->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : p->retry_ms * 2;
                continue;
            }
        }
        if (finishing && n == 0 && !p->unflushed) {
            atomic_store_explicit(&p->result, 0, memory_order_relaxed);
            return NULL;
        }
        if (past_deadline(p))
            break;
        if (n == 0)
            idle_wait(p, last_flush, hold);
    }
    atomic_store_explicit(&p->result, VIGIL_ERR_TIMEOUT, memory_order_relaxed);
    return NULL;
}

int vigil_publisher_start(struct vigil_publisher *p)
{
    atomic_store_explicit(&p->result, VIGIL_ERR_TIMEOUT, memory_order_relaxed);
    if (pthread_create(&p->thread, NULL, publisher_main, p) != 0)
        return VIGIL_ERR_NOMEM;
    p->started = true;
    return 0;
}

int vigil_publisher_finish(struct vigil_publisher *p, int64_t deadline_ms)
{
    if (!p->started)
        return 0;
    atomic_store_explicit(&p->deadline_ms, deadline_ms, memory_order_relaxed);
    /* Release: the deadline store above is visible to whoever sees `finishing`. */
    atomic_store_explicit(&p->finishing, true, memory_order_release);
    vigil_bell_ring(&p->bell);
    pthread_join(p->thread, NULL);
    p->started = false;
    return atomic_load_explicit(&p->result, memory_order_relaxed);
}

void vigil_publisher_destroy(struct vigil_publisher *p)
{
    if (!p)
        return;
    if (p->started)
        vigil_publisher_finish(p, vigil_mono_ms());
    if (p->env.redis)
        vigil_redis_set_wait_hook(p->env.redis, NULL, NULL);
    if (p->env.ckpt)
        vigil_redis_set_wait_hook(p->env.ckpt, NULL, NULL);
    while (p->after_head) {
        struct after_kafka *a = p->after_head;
        p->after_head = a->next;
        free(a);
    }
    free(p->in_tick);
    free(p->held);
    free(p->scratch);
    free(p->issued_at);
    vigil_cnt_batch_destroy(p->counters);
    vigil_state_batch_destroy(p->states);
    free(p);
}

void vigil_publisher_get_stats(struct vigil_publisher *p, struct vigil_publisher_stats *st)
{
    st->orders = atomic_load_explicit(&p->st_orders, memory_order_relaxed);
    st->alerts = atomic_load_explicit(&p->st_alerts, memory_order_relaxed);
    st->dead_letters = atomic_load_explicit(&p->st_dead, memory_order_relaxed);
    st->counter_writes = atomic_load_explicit(&p->st_counters, memory_order_relaxed);
    st->flushes = atomic_load_explicit(&p->st_flushes, memory_order_relaxed);
    st->flush_failures = atomic_load_explicit(&p->st_failures, memory_order_relaxed);
    st->states = atomic_load_explicit(&p->st_states, memory_order_relaxed);
    st->checkpoints = atomic_load_explicit(&p->st_checkpoints, memory_order_relaxed);
    st->held = atomic_load_explicit(&p->st_held, memory_order_relaxed);
    st->last_flush_ms = atomic_load_explicit(&p->st_last_flush_ms, memory_order_relaxed);
    st->last_checkpoint_ms = atomic_load_explicit(&p->st_last_ckpt_ms, memory_order_relaxed);
    st->failing = atomic_load_explicit(&p->st_failing, memory_order_relaxed);
}

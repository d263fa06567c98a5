/* SPDX-License-Identifier: Apache-2.0 */
/* publisher.h - the publisher thread: drains every worker's out ring, produces orders,
 * alerts and dead letters to Kafka, writes block keys and counters to Redis in pipelined
 * batches, and publishes per-partition offsets once their effects are durable.
 *
 * Flagged accounts: the numbers of an account ordered with a flagging action (flagged.h) go
 * to one sorted set in the same pipelined batch as the order's block key:
 *     <prefix>flagged  zset  member = the number's hash (16 hex digits), score = wall-clock
 *                            ms until which it is flagged
 *
 * Counters: kept per account (counter_batch.h) and written every vigild.publish_interval_ms,
 * one HSET per account for all its detectors:
 *     <prefix>cnt:<account>  hash  "<detector>:<counter>" -> value
 *
 * Checkpoints: a worker's tick sends the states of the accounts it changed, then the
 * progress they reflect, then a tick end. The states (the latest per account, one HSET per
 * partition: state_batch.h) and offsets of complete ticks go to Redis in one MULTI/EXEC
 * (after the Kafka outputs and the other Redis writes are durable, counters included, so
 * a transaction waits for the next counter publish), so a checkpoint's states and its
 * offsets are never seen apart, and an offset is committed only once everything its events
 * caused is in Redis and Kafka:
 *     <prefix>state:<group>:<topic>:<partition>  hash  account -> packed state
 *     <prefix>ckpt:<group>:<topic>               hash  partition -> "<next offset>:<clock ms>"
 * (ckpt_keys.h builds these names, for the consumer's loads too)
 *
 * The order brake (orders.max_per_minute, 0: off): before an order is produced, one
 * synchronous EVAL counts it in a sorted set shared by the group, trimmed to the last minute:
 *     <prefix>brake          zset  member = order_id, score = wall-clock ms it was issued
 *     <prefix>brake:engaged  string, 60 s: the brake alert of this engagement was sent
 *     <prefix>held           hash  order_id -> the order JSON (TTL redis.block_ttl_s)
 * Over the limit the order is held: written to <prefix>held (vigilctl held / release /
 * discard) instead of the topic and its block key, its numbers not flagged, and the alert
 * that follows it from its worker gets "held":"brake". When Redis cannot answer, this
 * process's own count decides (logged).
 *
 * Threading: one publisher thread; it is the only consumer of the workers' out rings and
 * the only user of the Kafka producer and the Redis connection it is given.
 * Ownership: the daemon owns workers, producer, Redis and offsets; the publisher borrows
 * them until vigil_publisher_finish() returns. */
#ifndef VIGIL_PUBLISHER_H
#define VIGIL_PUBLISHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h" /* vigil_mono_ms, which the publisher's users share */

struct vigil_alert_delivery;
struct vigil_ckpt_keys;
struct vigil_config;
struct vigil_metrics;
struct vigil_kafka_out;
struct vigil_offsets;
struct vigil_redis;
struct vigil_worker;

struct vigil_publisher_env {
    const struct vigil_config *cfg;
    struct vigil_worker **workers;
    size_t n_workers;
    struct vigil_kafka_out *kout;
    struct vigil_redis *redis;
    /* Checkpoint transactions (vigild.checkpoint): a connection of their own, so a batch of
     * counters never splits a MULTI/EXEC. NULL when checkpoints are off. */
    struct vigil_redis *ckpt;
    const struct vigil_ckpt_keys *ckpt_keys; /* the group's checkpoint keys; borrowed */
    struct vigil_offsets *offsets;
    /* Outputs counted by label for /metrics, one log line per order (metrics.h); NULL: none. */
    struct vigil_metrics *metrics;
    /* Every alert is offered to it (never blocks; alert_delivery.h); NULL: none. */
    struct vigil_alert_delivery *delivery;
};

struct vigil_publisher_stats {
    uint64_t orders, alerts, dead_letters, counter_writes;
    uint64_t flushes, flush_failures;
    uint64_t states, checkpoints; /* account states written; checkpoint transactions */
    uint64_t held;                /* orders held by the order brake */
    int64_t last_flush_ms;        /* wall-clock ms of the last durable flush; 0: none yet */
    int64_t last_checkpoint_ms;   /* wall-clock ms of the last durable checkpoint; 0: none */
    bool failing;                 /* outputs are not durable (Redis or Kafka failing) */
};

struct vigil_publisher;

struct vigil_publisher *vigil_publisher_create(const struct vigil_publisher_env *env);
void vigil_publisher_destroy(struct vigil_publisher *p); /* accepts NULL; joins */

int vigil_publisher_start(struct vigil_publisher *p);

/* Call after every worker has been drained and joined: the publisher drains the rings,
 * flushes until everything is durable or deadline_ms (CLOCK_MONOTONIC ms) passes, and
 * exits. Returns 0 when everything was made durable, VIGIL_ERR_TIMEOUT otherwise. */
int vigil_publisher_finish(struct vigil_publisher *p, int64_t deadline_ms);

/* Relaxed snapshot for the status log. */
void vigil_publisher_get_stats(struct vigil_publisher *p, struct vigil_publisher_stats *st);

#endif

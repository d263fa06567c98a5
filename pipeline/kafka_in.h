/* SPDX-License-Identifier: Apache-2.0 */
/* kafka_in.h - the consumer: joins the group, hands each message to the worker that owns its
 * partition, and commits per partition only offsets whose effects are durable.
 *
 * Routing by partition keeps an account's events (keyed by account, so on one partition) in
 * order on one worker, and makes the commit point of a partition simply that worker's
 * progress. On a revoke the consumer waits until the revoked partitions' in-flight events
 * are durable and commits them before giving them up, so the next owner resumes exactly.
 *
 * With checkpoints, an assignment first loads each partition's checkpointed account states
 * from Redis into its worker and starts the partition at the checkpoint's offset; a revoke
 * tells the worker to drop the partition's accounts.
 *
 * It also reads the orders topic from its end, outside any group (every instance sees every
 * message), and hands each operator `lift` to every worker, so a lifted order no longer
 * stands and a resumed abuse is ordered again.
 *
 * Threading: every function runs on the consumer thread (the daemon's main thread); the
 * rebalance callback runs inside vigil_kafka_in_poll() on that thread too. */
#ifndef VIGIL_KAFKA_IN_H
#define VIGIL_KAFKA_IN_H

#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>

struct vigil_alert_delivery;
struct vigil_metrics;
struct vigil_offsets;
struct vigil_worker;

struct vigil_kafka_in_opts {
    const char *brokers;
    const char *group;
    const char *topic;
    const char *orders_topic; /* read from its end for operators' `lift` orders */
    const char *auto_offset_reset;
    const char *assignor; /* partition.assignment.strategy */
    int session_timeout_ms;
    int heartbeat_interval_ms;
    int fetch_wait_max_ms;
    int commit_interval_ms;
    struct vigil_worker **workers;
    size_t n_workers;
    struct vigil_offsets *offsets;
    /* Checkpoints (NULL: off). On assignment each partition's checkpoint is read from the
     * group's keys (ckpt_keys.h), its states handed to the partition's worker, and
     * consumption starts at its offset. */
    struct vigil_redis *redis;
    const struct vigil_ckpt_keys *ckpt_keys; /* borrowed; needed with redis */
    /* librdkafka.* keys for the consumer and the lift reader (kafka_conf.h); may be NULL. */
    const struct vigil_config *cfg;
    /* vigild.dedupe_window_ms: checkpointed event ids this recent (ckpt_keys.h, `seen`) go
     * to the worker with the states; 0: none. */
    int64_t dedupe_window_ms;
    /* What the consumer sees for /metrics and /readyz (messages read, group membership, lag
     * per partition, a heartbeat); NULL: not reported. */
    struct vigil_metrics *metrics;
    /* Told of every lift, to resolve its alert at Alertmanager; NULL: none. */
    struct vigil_alert_delivery *delivery;
};

struct vigil_kafka_in;

/* Creates the consumer and subscribes. NULL with a message in err on bad settings. */
struct vigil_kafka_in *vigil_kafka_in_create(const struct vigil_kafka_in_opts *o, char *err,
                                             size_t errlen);

/* Polls and dispatches until *stop is set (checked between messages) or max_ms passed. */
void vigil_kafka_in_run(struct vigil_kafka_in *ki, atomic_bool *stop, int max_ms);

/* Commits every assigned partition's durable offset that moved, synchronously. */
void vigil_kafka_in_commit_sync(struct vigil_kafka_in *ki);

/* Leaves the group (revoking with a final commit) and frees everything. Accepts NULL. */
void vigil_kafka_in_close(struct vigil_kafka_in *ki);

/* Messages dispatched so far (consumer thread only). */
unsigned long long vigil_kafka_in_dispatched(const struct vigil_kafka_in *ki);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* offsets.h - per-partition offsets whose effects are durable, handed from the publisher
 * thread (which learns durability) to the consumer thread (which commits).
 *
 * Threading: vigil_offsets_publish() (then a ring of `bell`) from the publisher thread
 * only; vigil_offsets_get(), vigil_offsets_reset() and vigil_part_set() from the consumer
 * thread; vigil_part_get() from any thread. reset() runs only while the partition has
 * nothing in flight (after a revoke drained it, or before its first message). */
#ifndef VIGIL_OFFSETS_H
#define VIGIL_OFFSETS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ring.h"

#define VIGIL_MAX_PARTITIONS 1024

/* pstate bits, written by the consumer thread, read by workers for their event-time clock. */
#define VIGIL_PART_ASSIGNED 1u /* the partition is assigned to this process */
#define VIGIL_PART_EOF 2u      /* every message up to the partition's end has been dispatched */

struct vigil_offsets {
    /* The next offset to consume, every effect before it durable; -1 when none yet. */
    _Atomic int64_t durable[VIGIL_MAX_PARTITIONS];
    _Atomic unsigned pstate[VIGIL_MAX_PARTITIONS];
    /* Set by the publisher while its outputs are not durable (a flush failed and has not
     * succeeded since, or it holds more than vigild.hold_commands): the consumer pauses
     * consumption until it clears. */
    atomic_bool holding;
    /* Set by the consumer while a revoke waits for its partitions' offsets: the publisher
     * then publishes the counters it is holding (vigild.publish_interval_ms) at once, so the
     * offsets behind them are not kept waiting for the interval. */
    atomic_bool urgent;
    /* The consumer thread sleeps on it when a worker's in ring is full or a revoke waits
     * for durable offsets. Rung by every release from a worker's in ring (its space bell),
     * by the publisher after it published durable offsets, and when `holding` is set. */
    struct vigil_bell bell;
};

static inline void vigil_part_set(struct vigil_offsets *o, int32_t p, unsigned state)
{
    /* Release: a worker that reads EOF must also see every message dispatched before it in
     * its ring (the ring's own release happened earlier on this thread). */
    atomic_store_explicit(&o->pstate[p], state, memory_order_release);
}

static inline unsigned vigil_part_get(const struct vigil_offsets *o, int32_t p)
{
    /* Acquire: pairs with vigil_part_set(). */
    return atomic_load_explicit(&o->pstate[p], memory_order_acquire);
}

void vigil_offsets_init(struct vigil_offsets *o);

static inline void vigil_offsets_publish(struct vigil_offsets *o, int32_t p, int64_t next)
{
    /* Release: the consumer thread that reads this offset must not commit it before the
     * flush that made it durable is complete; nothing else is published with it, so the
     * ordering only documents intent (the effects live in Redis and Kafka, not in memory). */
    atomic_store_explicit(&o->durable[p], next, memory_order_release);
}

static inline int64_t vigil_offsets_get(struct vigil_offsets *o, int32_t p)
{
    /* Acquire: pairs with the release in vigil_offsets_publish(). */
    return atomic_load_explicit(&o->durable[p], memory_order_acquire);
}

static inline void vigil_offsets_reset(struct vigil_offsets *o, int32_t p)
{
    atomic_store_explicit(&o->durable[p], -1, memory_order_relaxed);
}

#endif

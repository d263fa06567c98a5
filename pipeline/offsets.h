/* SPDX-License-Identifier: Apache-2.0 */
/* offsets.h - per-partition offsets whose effects are durable, handed from the publisher
 * thread (which learns durability) to the consumer thread (which commits).
 *
 * Threading: vigil_offsets_publish() from the publisher thread only; vigil_offsets_get() and
 * vigil_offsets_reset() from the consumer thread. reset() runs only while the partition has
 * nothing in flight (after a revoke drained it, or before its first message). */
#ifndef VIGIL_OFFSETS_H
#define VIGIL_OFFSETS_H

#include <stdatomic.h>
#include <stdint.h>

#define VIGIL_MAX_PARTITIONS 1024

struct vigil_offsets {
    /* The next offset to consume, every effect before it durable; -1 when none yet. */
    _Atomic int64_t durable[VIGIL_MAX_PARTITIONS];
};

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

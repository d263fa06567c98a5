/* SPDX-License-Identifier: Apache-2.0 */
/* ring.h - bounded single-producer/single-consumer ring of fixed-size elements.
 *
 * Threading: push (reserve/commit) may run concurrently with at most one pop
 * (peek/release); one thread produces, one thread consumes. Both sides are wait-free: they
 * never block and never spin; the caller decides how to wait (see vigil_backoff below).
 * Ownership: elements are copied in by value (or written in place between reserve and
 * commit); no pointer ever crosses threads through the ring.
 */
#ifndef VIGIL_RING_H
#define VIGIL_RING_H

#include <stddef.h>
#include <stdint.h>

struct vigil_ring;

/* capacity: a power of two >= 2; elem_size > 0. NULL on bad arguments or no memory. */
struct vigil_ring *vigil_ring_create(size_t capacity, size_t elem_size);
void vigil_ring_destroy(struct vigil_ring *r); /* accepts NULL */

/* Producer: copies elem in. 0, or VIGIL_ERR_FULL. */
int vigil_ring_push(struct vigil_ring *r, const void *elem);
/* Producer, zero-copy: a slot to fill, or NULL when full. Nothing is visible to the consumer
 * until vigil_ring_commit(); reserve twice without commit returns the same slot. */
void *vigil_ring_reserve(struct vigil_ring *r);
void vigil_ring_commit(struct vigil_ring *r);

/* Consumer: copies the oldest element out. 0, or VIGIL_ERR_EMPTY. */
int vigil_ring_pop(struct vigil_ring *r, void *elem);
/* Consumer, zero-copy: the oldest element, or NULL when empty; it stays valid (and in the
 * ring) until vigil_ring_release(). */
void *vigil_ring_peek(struct vigil_ring *r);
void vigil_ring_release(struct vigil_ring *r);

/* Elements in the ring now (exact for the calling side, a snapshot for the other). */
size_t vigil_ring_count(const struct vigil_ring *r);
size_t vigil_ring_capacity(const struct vigil_ring *r);

/* A waiting strategy for an empty or full ring: spin briefly, then yield, then sleep up
 * to max_sleep_us. Reset after progress. Single-thread object. */
struct vigil_backoff {
    unsigned rounds;
    unsigned max_sleep_us;
};
void vigil_backoff_init(struct vigil_backoff *b, unsigned max_sleep_us);
void vigil_backoff_wait(struct vigil_backoff *b);
void vigil_backoff_reset(struct vigil_backoff *b);

#endif

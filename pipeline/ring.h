/* SPDX-License-Identifier: Apache-2.0 */
/* ring.h - bounded single-producer/single-consumer ring of fixed-size elements.
 *
 * Threading: push (reserve/commit) may run concurrently with at most one pop
 * (peek/release); one thread produces, one thread consumes. Both sides are wait-free: they
 * never block and never spin; the caller decides how to wait (on a bell the other side
 * rings, see vigil_bell below, or with vigil_backoff).
 * Ownership: elements are copied in by value (or written in place between reserve and
 * commit); no pointer ever crosses threads through the ring.
 */
#ifndef VIGIL_RING_H
#define VIGIL_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct vigil_ring;
struct vigil_bell;

/* capacity: a power of two >= 2; elem_size > 0. NULL on bad arguments or no memory.
 * All `capacity` slots are usable. Slots are elem_size rounded up to alignof(max_align_t)
 * (16 bytes on x86-64 and arm64) apart, so an element written in place through reserve or
 * read through peek is aligned for any type. One allocation, made here: none afterwards. */
struct vigil_ring *vigil_ring_create(size_t capacity, size_t elem_size);
void vigil_ring_destroy(struct vigil_ring *r); /* accepts NULL */

/* Producer: copies elem in. 0, or VIGIL_ERR_FULL. */
int vigil_ring_push(struct vigil_ring *r, const void *elem);
/* Producer, zero-copy: a slot to fill, or NULL when full. Nothing is visible to the consumer
 * until vigil_ring_commit(); reserve twice without commit returns the same slot. Commit only
 * after a reserve that returned a slot. */
void *vigil_ring_reserve(struct vigil_ring *r);
void vigil_ring_commit(struct vigil_ring *r);
/* Commit without ringing the ring's bell: a producer that commits a batch rings once, with
 * vigil_ring_notify(), after the batch and before it waits for anything (a consumer asleep
 * until then is not woken by the quiet commits). */
void vigil_ring_commit_quiet(struct vigil_ring *r);
void vigil_ring_notify(struct vigil_ring *r);

/* Consumer: copies the oldest element out. 0, or VIGIL_ERR_EMPTY. */
int vigil_ring_pop(struct vigil_ring *r, void *elem);
/* Consumer, zero-copy: the oldest element, or NULL when empty; it stays valid (and in the
 * ring) until vigil_ring_release(); peek twice without release returns the same element.
 * Release only after a peek that returned an element. */
void *vigil_ring_peek(struct vigil_ring *r);
void vigil_ring_release(struct vigil_ring *r);

/* Elements in the ring now (exact for the calling side, a snapshot for the other): it
 * never overstates what the producer may push or the consumer may pop. */
size_t vigil_ring_count(const struct vigil_ring *r);
size_t vigil_ring_capacity(const struct vigil_ring *r);

/* A bell a consumer sleeps on until a producer has committed something to one of the rings
 * it drains (an event count over a futex word): the consumer announces itself with
 * prepare(), checks its rings once more, and then either cancels (it found work) or waits;
 * a producer's commit rings the bell of its ring, which costs a fence and one load while
 * nobody sleeps and a futex wake when someone does. A ring between a prepare and the wait
 * makes the wait return at once, so no wake-up is lost. Any thread may ring; waiters are
 * any number of threads (vigil uses one per bell). */
struct vigil_bell {
    _Atomic uint32_t seq;     /* bumped by each ring that found a waiter; the futex word */
    _Atomic uint32_t waiters; /* threads between prepare and the end of wait/cancel */
};
void vigil_bell_init(struct vigil_bell *b);
void vigil_bell_ring(struct vigil_bell *b);
uint32_t vigil_bell_prepare(struct vigil_bell *b);
/* Sleeps until a ring after the prepare that returned token, or timeout_ms (<= 0: returns at
 * once), or a signal. The caller re-checks its rings either way. */
void vigil_bell_wait(struct vigil_bell *b, uint32_t token, int64_t timeout_ms);
void vigil_bell_cancel(struct vigil_bell *b);

/* Every commit to r from now on rings bell (NULL: none). Call before the producer and the
 * consumer threads start using r (their start provides the happens-before edge). */
void vigil_ring_set_bell(struct vigil_ring *r, struct vigil_bell *bell);
/* The other direction: releases from r ring bell (NULL: none), so a producer that found r
 * full can sleep on it (prepare, reserve once more, then cancel or wait) until a quarter of
 * the ring is free (a ring of capacity 2: one slot): every capacity / 4-th release rings,
 * which costs the releasing side a fence and one load while nobody waits. Same rules as
 * set_bell. */
void vigil_ring_set_space_bell(struct vigil_ring *r, struct vigil_bell *bell);

/* A waiting strategy for an empty or full ring without a bell (tests and benchmarks): spin
 * briefly (growing runs of cpu pauses), then sched_yield a few times, then nanosleep 1, 2,
 * 4... microseconds up to max_sleep_us (0: never sleep, keep yielding). Reset after
 * progress. Single-thread object. */
struct vigil_backoff {
    unsigned rounds;
    unsigned max_sleep_us;
};
void vigil_backoff_init(struct vigil_backoff *b, unsigned max_sleep_us);
void vigil_backoff_wait(struct vigil_backoff *b);
void vigil_backoff_reset(struct vigil_backoff *b);

#endif

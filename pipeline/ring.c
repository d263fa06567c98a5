/* SPDX-License-Identifier: Apache-2.0 */
/* ring.c - bounded SPSC ring of fixed-size elements, and the backoff used to wait on it.
 *
 * Threading: one producer thread (push, reserve, commit) and one consumer thread (pop, peek,
 * release) may run at the same time; count and capacity may be called from either. Both
 * sides are wait-free: a call does a bounded amount of work and never waits for the other.
 * Ownership: the ring owns its storage; elements are copied in and out by value (or written
 * and read in place between reserve/commit and peek/release).
 *
 * Design (after Concurrency Kit's ck_ring and Rigtorp's SPSCQueue):
 * - head and tail are free-running size_t counters: head counts elements ever committed,
 *   tail elements ever released. The slot of index i is i & mask. The element count is
 *   head - tail in unsigned arithmetic, which stays right when the counters wrap past
 *   SIZE_MAX (they would take centuries to, but the arithmetic does not care). Free-running
 *   counters use every slot: full is head - tail == capacity, no slot is sacrificed.
 * - Only the producer writes head; only the consumer writes tail. The producer publishes a
 *   slot by storing head with release after writing the slot; the consumer reads head with
 *   acquire before reading the slot. Symmetrically the consumer hands a slot back by storing
 *   tail with release after reading it, and the producer reads tail with acquire before
 *   overwriting it. That is the whole synchronisation: no read-modify-write, no fences.
 * - Each side keeps a private copy of the other side's counter (cached_tail, cached_head)
 *   and reloads the shared one only when the copy says full (or empty). In steady state
 *   the producer then touches the consumer's line once per `capacity` elements, not once
 *   per element, which removes most of the cache-line ping-pong between the two cores.
 * - head, tail, cached_tail and cached_head each sit on their own 64-byte cache line, and
 *   the read-only fields on another, so that a write by one side never invalidates a line
 *   the other side is reading for an unrelated reason (false sharing).
 */
#include "ring.h"

#include <assert.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vigil/status.h"

/* A cache line on the x86-64 and arm64 machines vigil runs on. */
#define RING_LINE 64

/* Slots are spaced by elem_size rounded up to this, so that an element written in place
 * through reserve() or read through peek() is aligned for any type (max_align_t: 16 on
 * x86-64 and arm64). The storage itself starts on a cache line. */
#define RING_SLOT_ALIGN alignof(max_align_t)

struct vigil_ring {
    /* Read-only after create: shared by both sides without synchronisation. */
    alignas(RING_LINE) size_t capacity;
    size_t mask;      /* capacity - 1 */
    size_t elem_size; /* bytes copied by push/pop */
    size_t stride;    /* elem_size rounded up to RING_SLOT_ALIGN */
    struct vigil_bell *bell;       /* rung by every commit; NULL: none */
    struct vigil_bell *space_bell; /* rung by releases, see space_mask; NULL: none */
    size_t space_mask;             /* a release rings when the new tail & this is 0 */

    /* Written by the producer only, read by the consumer. */
    alignas(RING_LINE) atomic_size_t head;
    /* Written by the consumer only, read by the producer. */
    alignas(RING_LINE) atomic_size_t tail;
    /* Producer-private: the last tail the producer loaded. Never ahead of the real tail. */
    alignas(RING_LINE) size_t cached_tail;
    /* Consumer-private: the last head the consumer loaded. Never ahead of the real head. */
    alignas(RING_LINE) size_t cached_head;

    /* capacity * stride bytes, starting on its own cache line. */
    alignas(RING_LINE) unsigned char slots[];
};

static inline unsigned char *slot_at(struct vigil_ring *r, size_t index)
{
    return r->slots + (index & r->mask) * r->stride;
}

struct vigil_ring *vigil_ring_create(size_t capacity, size_t elem_size)
{
    if (capacity < 2 || (capacity & (capacity - 1)) != 0)
        return NULL;
    if (elem_size == 0 || elem_size > SIZE_MAX - RING_SLOT_ALIGN)
        return NULL;
    size_t stride = (elem_size + RING_SLOT_ALIGN - 1) & ~(size_t)(RING_SLOT_ALIGN - 1);
    /* Total size: header + capacity * stride, rounded up to a whole line (aligned_alloc
     * wants a multiple of the alignment). Refuse anything that would overflow. */
    if (stride > (SIZE_MAX - sizeof(struct vigil_ring) - RING_LINE) / capacity)
        return NULL;
    size_t bytes = sizeof(struct vigil_ring) + capacity * stride;
    bytes = (bytes + RING_LINE - 1) & ~(size_t)(RING_LINE - 1);

    struct vigil_ring *r = aligned_alloc(RING_LINE, bytes);
    if (!r)
        return NULL;
    r->capacity = capacity;
    r->mask = capacity - 1;
    r->elem_size = elem_size;
    r->stride = stride;
    /* No other thread can see the ring yet: the thread that hands it to the producer and
     * the consumer (pthread_create, a mutex, ...) provides the happens-before edge, so a
     * plain initialisation is enough. */
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->cached_tail = 0;
    r->cached_head = 0;
    r->bell = NULL;
    r->space_bell = NULL;
    r->space_mask = capacity >= 4 ? capacity / 4 - 1 : 0;
    return r;
}

void vigil_ring_destroy(struct vigil_ring *r)
{
    free(r);
}

/* --- producer side ----------------------------------------------------------------------- */

void *vigil_ring_reserve(struct vigil_ring *r)
{
    /* Relaxed: head is written by this thread only, so we always read our own last store;
     * no other thread's data is being acquired. */
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (head - r->cached_tail == r->capacity) {
        /* Looks full by our stale copy: refresh it. Acquire pairs with the consumer's
         * release store of tail in vigil_ring_release(): its reads of the slots below the
         * new tail happen before our coming writes to them, so we never overwrite an
         * element the consumer is still copying out. */
        r->cached_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (head - r->cached_tail == r->capacity)
            return NULL;
    }
    return slot_at(r, head);
}

void vigil_ring_commit(struct vigil_ring *r)
{
    vigil_ring_commit_quiet(r);
    vigil_ring_notify(r);
}

void vigil_ring_notify(struct vigil_ring *r)
{
    /* The bell's fence orders our earlier head stores before its load of waiters. */
    if (r->bell)
        vigil_bell_ring(r->bell);
}

void vigil_ring_commit_quiet(struct vigil_ring *r)
{
    /* Relaxed: our own counter (see reserve). */
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    /* Commit without a successful reserve would publish a slot over unread data. */
    assert(head - r->cached_tail < r->capacity);
    /* Release: the element written into the slot (by push's memcpy or in place by the
     * caller) becomes visible before the new head does. Pairs with the consumer's acquire
     * load of head in vigil_ring_peek(). */
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

void vigil_ring_set_bell(struct vigil_ring *r, struct vigil_bell *bell)
{
    r->bell = bell;
}

void vigil_ring_set_space_bell(struct vigil_ring *r, struct vigil_bell *bell)
{
    r->space_bell = bell;
}

/* --- the bell ------------------------------------------------------------------------------ */

void vigil_bell_init(struct vigil_bell *b)
{
    atomic_init(&b->seq, 0);
    atomic_init(&b->waiters, 0);
}

void vigil_bell_ring(struct vigil_bell *b)
{
    /* Seq_cst fence: orders the caller's publication (the ring's head store) before the
     * load of waiters. Pairs with the fence in prepare(): either this load sees the waiter,
     * or the waiter's re-check of the ring after its fence sees what was published. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&b->waiters, memory_order_relaxed) == 0)
        return;
    /* Release: a waiter whose token already reads this bump (it prepared after it) must
     * also see what the caller published; pairs with the acquire in prepare(). A waiter
     * whose token is older returns from the futex at once (the word moved). */
    atomic_fetch_add_explicit(&b->seq, 1, memory_order_release);
    syscall(SYS_futex, &b->seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

uint32_t vigil_bell_prepare(struct vigil_bell *b)
{
    /* Relaxed RMW, then the seq_cst fence that pairs with ring()'s: the announcement is
     * ordered before the caller's re-check of its rings, so a ring that does not see it
     * published something the re-check sees. A ring that sees it bumps seq: before the
     * token load below (acquire, pairing with that release bump: the re-check then sees the
     * publication), or after it (the futex word no longer equals the token: no sleep). */
    atomic_fetch_add_explicit(&b->waiters, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    return atomic_load_explicit(&b->seq, memory_order_acquire);
}

void vigil_bell_wait(struct vigil_bell *b, uint32_t token, int64_t timeout_ms)
{
    if (timeout_ms > 0) {
        struct timespec ts = {.tv_sec = (time_t)(timeout_ms / 1000),
                              .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
        /* EAGAIN (the word moved: rung since prepare), ETIMEDOUT and EINTR all return: the
         * caller re-checks its rings. */
        syscall(SYS_futex, &b->seq, FUTEX_WAIT_PRIVATE, token, &ts, NULL, 0);
    }
    atomic_fetch_sub_explicit(&b->waiters, 1, memory_order_relaxed);
}

void vigil_bell_cancel(struct vigil_bell *b)
{
    atomic_fetch_sub_explicit(&b->waiters, 1, memory_order_relaxed);
}

int vigil_ring_push(struct vigil_ring *r, const void *elem)
{
    void *slot = vigil_ring_reserve(r);
    if (!slot)
        return VIGIL_ERR_FULL;
    memcpy(slot, elem, r->elem_size);
    vigil_ring_commit(r);
    return 0;
}

/* --- consumer side ----------------------------------------------------------------------- */

void *vigil_ring_peek(struct vigil_ring *r)
{
    /* Relaxed: tail is written by this thread only. */
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (tail == r->cached_head) {
        /* Looks empty by our stale copy: refresh it. Acquire pairs with the producer's
         * release store of head in vigil_ring_commit(): the contents of every slot below
         * the new head are visible to us once we see that head. */
        r->cached_head = atomic_load_explicit(&r->head, memory_order_acquire);
        if (tail == r->cached_head)
            return NULL;
    }
    return slot_at(r, tail);
}

void vigil_ring_release(struct vigil_ring *r)
{
    /* Relaxed: our own counter (see peek). */
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    /* Release without a successful peek would hand back a slot never published. */
    assert(tail != r->cached_head);
    /* Release: our reads of the slot (pop's memcpy, or the caller's reads after peek)
     * happen before the producer can see the slot as free and overwrite it. Pairs with the
     * producer's acquire load of tail in vigil_ring_reserve(). */
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
    /* The space bell rings once per quarter of the ring, not per element: a producer that
     * found the ring full sleeps until a quarter is free, instead of waking for every slot
     * (one context switch per element when the consumer is the slower side). No wake-up is
     * lost: a producer sleeps only on a full ring, with `capacity` elements in it after the
     * tail it last saw, so the consumer releases them without its help and reaches the next
     * multiple of a quarter within capacity / 4 of them; that release's fence pairs with the
     * producer's prepare (see vigil_bell_ring). */
    if (r->space_bell && ((tail + 1) & r->space_mask) == 0)
        vigil_bell_ring(r->space_bell);
}

int vigil_ring_pop(struct vigil_ring *r, void *elem)
{
    const void *slot = vigil_ring_peek(r);
    if (!slot)
        return VIGIL_ERR_EMPTY;
    memcpy(elem, slot, r->elem_size);
    vigil_ring_release(r);
    return 0;
}

/* --- either side ------------------------------------------------------------------------- */

size_t vigil_ring_count(const struct vigil_ring *r)
{
    /* Tail first, then head. Acquire on tail: the consumer stored that tail after it had
     * seen a head >= tail, so the head we load next is at least that new, head >= tail and
     * the difference cannot wrap. It can exceed capacity only when a third thread observes
     * while both sides move, hence the clamp. Acquire on head orders the count before the
     * caller's later reads (not needed for a snapshot, free off the hot path). The caller's
     * own counter is its own last store, so the result errs on the safe side for it: the
     * producer may see fewer free slots than exist, the consumer fewer elements, never
     * more. */
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t n = head - tail;
    return n > r->capacity ? r->capacity : n;
}

size_t vigil_ring_capacity(const struct vigil_ring *r)
{
    return r->capacity;
}

/* --- backoff ----------------------------------------------------------------------------- */

/* Rounds 0..SPIN_ROUNDS-1 spin with a growing number of cpu pauses (1, 2, 4, ... 64), the
 * next YIELD_ROUNDS give the core away with sched_yield, and after that each round sleeps
 * 1, 2, 4, ... microseconds up to max_sleep_us. Spinning covers the common case of the other
 * side being a few hundred nanoseconds behind; yielding lets it run when both share a core;
 * sleeping stops an idle worker from burning a core. */
#define SPIN_ROUNDS 7
#define YIELD_ROUNDS 8
#define SLEEP_SHIFT_MAX 20 /* 2^20 us ~ 1 s: the doubling stops there whatever the cap */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    /* PAUSE: tells the core this is a spin-wait (saves power, and avoids the memory-order
     * machine clear when the awaited line changes; it also yields to a hyper-thread). */
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    /* No hint on this architecture: at least stop the compiler from folding the loop. */
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

void vigil_backoff_init(struct vigil_backoff *b, unsigned max_sleep_us)
{
    b->rounds = 0;
    b->max_sleep_us = max_sleep_us;
}

void vigil_backoff_reset(struct vigil_backoff *b)
{
    b->rounds = 0;
}

void vigil_backoff_wait(struct vigil_backoff *b)
{
    unsigned round = b->rounds;
    /* Saturate instead of wrapping, so a long idle period stays in the sleep phase. */
    if (b->rounds < SPIN_ROUNDS + YIELD_ROUNDS + SLEEP_SHIFT_MAX)
        b->rounds++;

    if (round < SPIN_ROUNDS) {
        for (unsigned i = 0; i < 1u << round; i++)
            cpu_relax();
        return;
    }
    if (round < SPIN_ROUNDS + YIELD_ROUNDS || b->max_sleep_us == 0) {
        sched_yield();
        return;
    }
    unsigned long us = 1ul << (round - SPIN_ROUNDS - YIELD_ROUNDS);
    if (us > b->max_sleep_us)
        us = b->max_sleep_us;
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000), .tv_nsec = (long)(us % 1000000) * 1000};
    /* An early wake-up by a signal is harmless: the caller re-checks the ring anyway. */
    nanosleep(&ts, NULL);
}

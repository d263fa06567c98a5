/* SPDX-License-Identifier: Apache-2.0 */
/* test_ring.c - the SPSC ring: single-thread semantics, then a real producer and consumer, and
 * the bell a consumer sleeps on (every hand-off woken, no wake-up lost).
 *
 * Threading: the two-thread tests run one producer and one consumer thread; CI runs this
 * binary under ThreadSanitizer (label "concurrency"). VIGIL_RING_TEST_N overrides the number
 * of elements sent across threads (default 2,000,000: about 7 s under ThreadSanitizer on
 * two cores, 1 s without).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "vigil/status.h"

/* 40 bytes: not a multiple of 16, so the slot stride is rounded up (to 48). */
struct item {
    uint64_t seq;
    uint64_t check; /* a function of seq and payload, so torn or stale slots are caught */
    uint32_t payload[6];
};

static uint64_t mix(uint64_t x)
{
    /* splitmix64 finaliser: every bit of seq affects every bit of the result. */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static void item_fill(struct item *it, uint64_t seq)
{
    it->seq = seq;
    uint64_t h = mix(seq);
    for (size_t i = 0; i < 6; i++)
        it->payload[i] = (uint32_t)(h >> (i * 5)) ^ (uint32_t)i;
    it->check = h ^ 0x5a5a5a5a5a5a5a5aull;
}

static bool item_ok(const struct item *it, uint64_t seq)
{
    struct item want;
    item_fill(&want, seq);
    return memcmp(it, &want, sizeof want) == 0;
}

static size_t cross_thread_count(void)
{
    const char *env = getenv("VIGIL_RING_TEST_N");
    if (env && *env) {
        long long n = atoll(env);
        if (n > 0)
            return (size_t)n;
    }
    return 2000000;
}

/* --- single thread ----------------------------------------------------------------------- */

static void test_create_bad_args(void **state)
{
    (void)state;
    assert_null(vigil_ring_create(0, 8));
    assert_null(vigil_ring_create(1, 8));
    assert_null(vigil_ring_create(3, 8));
    assert_null(vigil_ring_create(100, 8));
    assert_null(vigil_ring_create(64, 0));
    assert_null(vigil_ring_create(64, SIZE_MAX));
    assert_null(vigil_ring_create((size_t)1 << (sizeof(size_t) * 8 - 1), 16)); /* overflow */
    assert_null(vigil_ring_create((size_t)1 << 40, (size_t)1 << 30));          /* overflow */

    struct vigil_ring *r = vigil_ring_create(2, 1);
    assert_non_null(r);
    assert_int_equal(vigil_ring_capacity(r), 2);
    vigil_ring_destroy(r);
}

static void test_destroy_null(void **state)
{
    (void)state;
    vigil_ring_destroy(NULL);
}

static void test_empty_and_full(void **state)
{
    (void)state;
    struct vigil_ring *r = vigil_ring_create(8, sizeof(struct item));
    assert_non_null(r);
    struct item it;
    assert_int_equal(vigil_ring_pop(r, &it), VIGIL_ERR_EMPTY);
    assert_null(vigil_ring_peek(r));
    assert_int_equal(vigil_ring_count(r), 0);

    for (uint64_t i = 0; i < 8; i++) {
        item_fill(&it, i);
        assert_int_equal(vigil_ring_push(r, &it), 0);
        assert_int_equal(vigil_ring_count(r), i + 1);
    }
    /* Full at exactly capacity: every slot is usable. */
    item_fill(&it, 99);
    assert_int_equal(vigil_ring_push(r, &it), VIGIL_ERR_FULL);
    assert_null(vigil_ring_reserve(r));
    assert_int_equal(vigil_ring_count(r), 8);

    /* One pop frees one slot. */
    assert_int_equal(vigil_ring_pop(r, &it), 0);
    assert_true(item_ok(&it, 0));
    item_fill(&it, 8);
    assert_int_equal(vigil_ring_push(r, &it), 0);
    assert_int_equal(vigil_ring_push(r, &it), VIGIL_ERR_FULL);

    for (uint64_t i = 1; i <= 8; i++) {
        assert_int_equal(vigil_ring_pop(r, &it), 0);
        assert_true(item_ok(&it, i));
    }
    assert_int_equal(vigil_ring_pop(r, &it), VIGIL_ERR_EMPTY);
    assert_int_equal(vigil_ring_count(r), 0);
    vigil_ring_destroy(r);
}

static void test_fifo_wraparound(void **state)
{
    (void)state;
    struct vigil_ring *r = vigil_ring_create(16, sizeof(struct item));
    assert_non_null(r);
    uint64_t next_in = 0, next_out = 0;
    struct item it;
    /* Uneven batch sizes so head and tail cross the end of the storage at every offset,
     * about 6,000 times around. */
    for (unsigned round = 0; round < 20000; round++) {
        unsigned in = 1 + round % 16, out = 1 + (round * 7) % 16;
        for (unsigned k = 0; k < in; k++) {
            item_fill(&it, next_in);
            if (vigil_ring_push(r, &it) != 0)
                break;
            next_in++;
        }
        assert_int_equal(vigil_ring_count(r), next_in - next_out);
        for (unsigned k = 0; k < out; k++) {
            if (vigil_ring_pop(r, &it) != 0)
                break;
            assert_true(item_ok(&it, next_out));
            next_out++;
        }
    }
    while (vigil_ring_pop(r, &it) == 0) {
        assert_true(item_ok(&it, next_out));
        next_out++;
    }
    assert_int_equal(next_in, next_out);
    assert_true(next_in > 16 * 5000);
    vigil_ring_destroy(r);
}

static void test_reserve_commit_peek_release(void **state)
{
    (void)state;
    struct vigil_ring *r = vigil_ring_create(4, sizeof(struct item));
    assert_non_null(r);

    /* Reserve twice without commit: the same slot, nothing visible. */
    struct item *a = vigil_ring_reserve(r);
    assert_non_null(a);
    assert_ptr_equal(vigil_ring_reserve(r), a);
    assert_int_equal(vigil_ring_count(r), 0);
    assert_null(vigil_ring_peek(r));
    /* Slots are aligned for any type (stride rounded up to max_align_t). */
    assert_int_equal((uintptr_t)a % _Alignof(max_align_t), 0);
    item_fill(a, 0);
    vigil_ring_commit(r);
    assert_int_equal(vigil_ring_count(r), 1);

    for (uint64_t i = 1; i < 4; i++) {
        struct item *s = vigil_ring_reserve(r);
        assert_non_null(s);
        assert_int_equal((uintptr_t)s % _Alignof(max_align_t), 0);
        item_fill(s, i);
        vigil_ring_commit(r);
    }
    assert_null(vigil_ring_reserve(r));

    /* Peek twice: the same oldest element, still counted until release. */
    const struct item *p = vigil_ring_peek(r);
    assert_non_null(p);
    assert_ptr_equal(vigil_ring_peek(r), p);
    assert_ptr_equal(p, a);
    assert_true(item_ok(p, 0));
    assert_int_equal(vigil_ring_count(r), 4);
    vigil_ring_release(r);
    assert_int_equal(vigil_ring_count(r), 3);

    /* The released slot is reused by the next reserve. */
    struct item *s = vigil_ring_reserve(r);
    assert_ptr_equal(s, a);
    item_fill(s, 4);
    vigil_ring_commit(r);

    /* Mixed: pop copies out what was written in place, peek sees what push copied in. */
    struct item it;
    for (uint64_t i = 1; i <= 4; i++) {
        if (i % 2) {
            assert_int_equal(vigil_ring_pop(r, &it), 0);
            assert_true(item_ok(&it, i));
        } else {
            p = vigil_ring_peek(r);
            assert_non_null(p);
            assert_true(item_ok(p, i));
            vigil_ring_release(r);
        }
    }
    assert_null(vigil_ring_peek(r));
    item_fill(&it, 5);
    assert_int_equal(vigil_ring_push(r, &it), 0);
    p = vigil_ring_peek(r);
    assert_non_null(p);
    assert_true(item_ok(p, 5));
    vigil_ring_release(r);
    vigil_ring_destroy(r);
}

static void test_small_elements(void **state)
{
    (void)state;
    /* One-byte elements: push/pop copy exactly elem_size bytes, never the stride. */
    struct vigil_ring *r = vigil_ring_create(4, 1);
    assert_non_null(r);
    unsigned char out[2] = {0xee, 0xee};
    for (unsigned char c = 0; c < 200; c++) {
        assert_int_equal(vigil_ring_push(r, &c), 0);
        assert_int_equal(vigil_ring_pop(r, out), 0);
        assert_int_equal(out[0], c);
        assert_int_equal(out[1], 0xee);
    }
    vigil_ring_destroy(r);
}

static void test_backoff(void **state)
{
    (void)state;
    struct vigil_backoff b;
    vigil_backoff_init(&b, 50);
    /* Goes through spin, yield and capped sleeps without blocking for long. */
    for (int i = 0; i < 40; i++)
        vigil_backoff_wait(&b);
    assert_true(b.rounds > 0);
    vigil_backoff_reset(&b);
    assert_int_equal(b.rounds, 0);
    vigil_backoff_init(&b, 0); /* no sleeping at all: yields only */
    for (int i = 0; i < 40; i++)
        vigil_backoff_wait(&b);
}

/* --- two threads ------------------------------------------------------------------------- */

struct xfer {
    struct vigil_ring *ring;
    size_t n;
    bool zero_copy;
    /* Start-up handshake so both the empty and the full path are taken for certain:
     * the consumer first finds the ring empty, then the producer fills it before the
     * consumer may pop. Mid-run both paths are hit anyway with a 64-slot ring. */
    atomic_int phase;
    /* Results, read by the main thread after pthread_join. */
    size_t full_hits, empty_hits, errors;
    uint64_t first_bad_seq;
};

static void *producer_main(void *arg)
{
    struct xfer *x = arg;
    struct vigil_backoff b;
    vigil_backoff_init(&b, 100);
    /* Acquire pairs with the consumer's release store of phase 1. */
    while (atomic_load_explicit(&x->phase, memory_order_acquire) < 1)
        vigil_backoff_wait(&b);
    vigil_backoff_reset(&b);

    struct item it;
    for (uint64_t seq = 0; seq < x->n; seq++) {
        for (;;) {
            int full;
            if (x->zero_copy) {
                struct item *slot = vigil_ring_reserve(x->ring);
                full = slot == NULL;
                if (slot) {
                    item_fill(slot, seq);
                    vigil_ring_commit(x->ring);
                }
            } else {
                item_fill(&it, seq);
                full = vigil_ring_push(x->ring, &it) == VIGIL_ERR_FULL;
            }
            if (!full)
                break;
            x->full_hits++;
            if (atomic_load_explicit(&x->phase, memory_order_relaxed) == 1)
                /* Release: the consumer may start (it acquires phase). */
                atomic_store_explicit(&x->phase, 2, memory_order_release);
            vigil_backoff_wait(&b);
        }
        vigil_backoff_reset(&b);
    }
    /* If n < capacity the ring never filled: let the consumer go anyway. */
    atomic_store_explicit(&x->phase, 2, memory_order_release);
    return NULL;
}

static void *consumer_main(void *arg)
{
    struct xfer *x = arg;
    struct vigil_backoff b;
    vigil_backoff_init(&b, 100);
    struct item it;

    /* Nothing can be in the ring yet: the producer waits for phase 1. */
    if (vigil_ring_pop(x->ring, &it) == VIGIL_ERR_EMPTY)
        x->empty_hits++;
    else
        x->errors++;
    /* Release: our empty check happens before the producer starts. */
    atomic_store_explicit(&x->phase, 1, memory_order_release);
    while (atomic_load_explicit(&x->phase, memory_order_acquire) < 2)
        vigil_backoff_wait(&b);
    vigil_backoff_reset(&b);

    for (uint64_t seq = 0; seq < x->n; seq++) {
        for (;;) {
            bool got, ok = false;
            if (x->zero_copy) {
                const struct item *p = vigil_ring_peek(x->ring);
                got = p != NULL;
                if (p) {
                    ok = item_ok(p, seq);
                    vigil_ring_release(x->ring);
                }
            } else {
                got = vigil_ring_pop(x->ring, &it) == 0;
                ok = got && item_ok(&it, seq);
            }
            if (got) {
                if (!ok && x->errors++ == 0)
                    x->first_bad_seq = seq;
                break;
            }
            x->empty_hits++;
            vigil_backoff_wait(&b);
        }
        vigil_backoff_reset(&b);
    }
    /* Nothing may follow the last element. */
    if (vigil_ring_pop(x->ring, &it) != VIGIL_ERR_EMPTY)
        x->errors++;
    return NULL;
}

static void run_two_threads(bool zero_copy, size_t capacity, size_t n)
{
    struct xfer x = {.n = n, .zero_copy = zero_copy};
    atomic_init(&x.phase, 0);
    x.ring = vigil_ring_create(capacity, sizeof(struct item));
    assert_non_null(x.ring);

    pthread_t prod, cons;
    assert_int_equal(pthread_create(&cons, NULL, consumer_main, &x), 0);
    assert_int_equal(pthread_create(&prod, NULL, producer_main, &x), 0);
    assert_int_equal(pthread_join(prod, NULL), 0);
    assert_int_equal(pthread_join(cons, NULL), 0);

    if (x.errors)
        fail_msg("%zu bad elements, first at seq %llu", x.errors,
                 (unsigned long long)x.first_bad_seq);
    assert_true(x.full_hits > 0);
    assert_true(x.empty_hits > 0);
    assert_int_equal(vigil_ring_count(x.ring), 0);
    printf("    %s: %zu elements, cap %zu, producer saw full %zu times, consumer saw empty "
           "%zu times\n",
           zero_copy ? "reserve/commit + peek/release" : "push + pop", x.n, capacity, x.full_hits,
           x.empty_hits);
    vigil_ring_destroy(x.ring);
}

static void test_two_threads_copy(void **state)
{
    (void)state;
    run_two_threads(false, 64, cross_thread_count());
}

static void test_two_threads_zero_copy(void **state)
{
    (void)state;
    run_two_threads(true, 64, cross_thread_count());
}

static void test_two_threads_tiny_ring(void **state)
{
    (void)state;
    /* Capacity 2: the producer and consumer are nearly always on neighbouring slots. */
    run_two_threads(true, 2, cross_thread_count() / 4);
}

/* The bell: a consumer that sleeps on it whenever its ring is empty, and a producer that
 * waits for each element to be taken before it sends the next, so every element needs a
 * wake-up. The consumer's wait is long (BELL_WAIT_MS): one lost wake-up would stall the
 * test past its ctest TIMEOUT, so passing at all shows none was lost. */
#define BELL_HANDOFFS 20000
#define BELL_WAIT_MS 600000

struct bell_pair {
    struct vigil_ring *ring;
    struct vigil_bell bell;
    atomic_ulong taken;
    atomic_bool done;
    unsigned long sleeps;
};

static void *bell_consumer(void *arg)
{
    struct bell_pair *bp = arg;
    uint64_t next = 0;
    while (next < BELL_HANDOFFS) {
        struct item it;
        if (vigil_ring_pop(bp->ring, &it) == 0) {
            if (!item_ok(&it, next))
                break;
            next++;
            /* Release: the producer's acquire load sees the element handed back. */
            atomic_store_explicit(&bp->taken, (unsigned long)next, memory_order_release);
            continue;
        }
        uint32_t token = vigil_bell_prepare(&bp->bell);
        if (vigil_ring_peek(bp->ring)) {
            vigil_bell_cancel(&bp->bell);
            continue;
        }
        bp->sleeps++;
        vigil_bell_wait(&bp->bell, token, BELL_WAIT_MS);
    }
    atomic_store_explicit(&bp->done, true, memory_order_release);
    return NULL;
}

static void test_bell_wakes_every_handoff(void **state)
{
    (void)state;
    struct bell_pair bp = {.ring = vigil_ring_create(8, sizeof(struct item))};
    assert_non_null(bp.ring);
    vigil_bell_init(&bp.bell);
    vigil_ring_set_bell(bp.ring, &bp.bell);
    atomic_init(&bp.taken, 0);
    atomic_init(&bp.done, false);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, bell_consumer, &bp), 0);
    for (uint64_t i = 0; i < BELL_HANDOFFS; i++) {
        struct item it;
        item_fill(&it, i);
        assert_int_equal(vigil_ring_push(bp.ring, &it), 0); /* commit rings the bell */
        /* Acquire: pairs with the consumer's release of taken. */
        while (atomic_load_explicit(&bp.taken, memory_order_acquire) <= i &&
               !atomic_load_explicit(&bp.done, memory_order_acquire))
            sched_yield();
    }
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&bp.taken), BELL_HANDOFFS);
    assert_true(bp.sleeps > 0); /* the consumer did sleep on the bell, not only spin */
    vigil_ring_destroy(bp.ring);
}

/* The space bell, the other direction: a producer that sleeps on it whenever its ring is
 * full, and a consumer that takes a quarter of the ring only once it is full again, so every
 * round needs a wake-up by the quarter's last release. As above, one lost wake-up would
 * stall the test past its ctest TIMEOUT. */
#define SPACE_CAP 16
struct space_pair {
    struct vigil_ring *ring;
    struct vigil_bell space;
    unsigned long sleeps;
};

static void *space_producer(void *arg)
{
    struct space_pair *sp = arg;
    for (uint64_t i = 0; i < BELL_HANDOFFS;) {
        struct item it;
        item_fill(&it, i);
        if (vigil_ring_push(sp->ring, &it) == 0) {
            i++;
            continue;
        }
        uint32_t token = vigil_bell_prepare(&sp->space);
        if (vigil_ring_count(sp->ring) < vigil_ring_capacity(sp->ring)) {
            vigil_bell_cancel(&sp->space);
            continue;
        }
        sp->sleeps++;
        vigil_bell_wait(&sp->space, token, BELL_WAIT_MS);
    }
    return NULL;
}

static void test_space_bell_wakes_every_handoff(void **state)
{
    (void)state;
    struct space_pair sp = {.ring = vigil_ring_create(SPACE_CAP, sizeof(struct item))};
    assert_non_null(sp.ring);
    vigil_bell_init(&sp.space);
    vigil_ring_set_space_bell(sp.ring, &sp.space);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, space_producer, &sp), 0);
    for (uint64_t next = 0; next < BELL_HANDOFFS; next++) {
        /* Take a quarter only from a full ring (or the tail of the stream), so the producer
         * is asleep or about to be when the quarter's last release rings. */
        if (next % (SPACE_CAP / 4) == 0) {
            while (vigil_ring_count(sp.ring) < SPACE_CAP &&
                   vigil_ring_count(sp.ring) < BELL_HANDOFFS - next)
                sched_yield();
        }
        struct item it;
        assert_int_equal(vigil_ring_pop(sp.ring, &it), 0);
        assert_true(item_ok(&it, next));
    }
    pthread_join(t, NULL);
    assert_null(vigil_ring_peek(sp.ring));
    assert_true(sp.sleeps > 0); /* the producer did sleep on the bell */
    assert_int_equal(atomic_load(&sp.space.waiters), 0);
    vigil_ring_destroy(sp.ring);
}

/* A wait whose token is stale (rung since prepare) returns at once, and a wait with no
 * ring returns after its timeout. */
static void test_bell_stale_token(void **state)
{
    (void)state;
    struct vigil_bell b;
    vigil_bell_init(&b);
    uint32_t token = vigil_bell_prepare(&b);
    vigil_bell_ring(&b); /* a waiter is announced: this bumps the word */
    vigil_bell_wait(&b, token, BELL_WAIT_MS); /* returns at once, or the test times out */
    token = vigil_bell_prepare(&b);
    vigil_bell_wait(&b, token, 1);
    vigil_bell_ring(&b); /* nobody waits: only a fence and a load */
    assert_int_equal(atomic_load(&b.waiters), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_bad_args),
        cmocka_unit_test(test_destroy_null),
        cmocka_unit_test(test_empty_and_full),
        cmocka_unit_test(test_fifo_wraparound),
        cmocka_unit_test(test_reserve_commit_peek_release),
        cmocka_unit_test(test_small_elements),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_two_threads_copy),
        cmocka_unit_test(test_two_threads_zero_copy),
        cmocka_unit_test(test_two_threads_tiny_ring),
        cmocka_unit_test(test_bell_wakes_every_handoff),
        cmocka_unit_test(test_bell_stale_token),
        cmocka_unit_test(test_space_bell_wakes_every_handoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

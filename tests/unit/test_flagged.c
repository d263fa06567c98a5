/* SPDX-License-Identifier: Apache-2.0 */
/* test_flagged.c - the set of flagged accounts' numbers: hashing, the numbers an account
 * sends from, expiry and slot reuse on one thread, then writers and readers on real threads.
 *
 * Threading: the two-thread tests run writers, a reader and a clock against one set; CI runs
 * this binary under ThreadSanitizer (label "concurrency"). VIGIL_FLAGGED_TEST_N overrides the
 * numbers each concurrent test adds (default 20,000). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/event.h"
#include "vigil/flagged.h"
#include "vigil/status.h"

#define T0 1793606400000LL /* 2026-11-02 */
#define MIN 60000LL
#define HOUR 3600000LL

static uint64_t num_hash(const char *prefix, int i)
{
    char n[32];
    snprintf(n, sizeof n, "%s%07d", prefix, i);
    return vigil_flagged_hash(n);
}

static size_t test_n(void)
{
    const char *e = getenv("VIGIL_FLAGGED_TEST_N");
    long n = e ? atol(e) : 0;
    return n > 0 ? (size_t)n : 20000;
}

/* --- helpers ------------------------------------------------------------------------------ */

static void test_hash(void **state)
{
    (void)state;
    /* Stable across builds (Redis holds these), never 0, and sensitive to every digit. */
    assert_true(vigil_flagged_hash("+31201234567") == vigil_flagged_hash("+31201234567"));
    assert_true(vigil_flagged_hash("+31201234567") != vigil_flagged_hash("+31201234568"));
    assert_true(vigil_flagged_hash("+31201234567") != vigil_flagged_hash("+41201234567"));
    assert_true(vigil_flagged_hash("") != 0);
    for (int i = 0; i < 1000; i++)
        assert_true(num_hash("+3120", i) != 0);
}

static void test_action(void **state)
{
    (void)state;
    assert_true(vigil_flagged_action(VIGIL_ACT_SUSPEND));
    assert_true(vigil_flagged_action(VIGIL_ACT_BLOCK_INTERNATIONAL));
    assert_true(vigil_flagged_action(VIGIL_ACT_BLOCK_PREMIUM));
    assert_true(vigil_flagged_action(VIGIL_ACT_BLOCK_SMS));
    assert_false(vigil_flagged_action(VIGIL_ACT_WITHHOLD_PAYOUT));
    assert_false(vigil_flagged_action(VIGIL_ACT_LIFT));
    assert_false(vigil_flagged_action(VIGIL_ACT_NONE));
}

static struct vigil_event ev_of(enum vigil_event_type type, enum vigil_dir dir, const char *from)
{
    struct vigil_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.dir = dir;
    snprintf(ev.from, sizeof ev.from, "%s", from);
    snprintf(ev.to, sizeof ev.to, "%s", "+31207654321");
    return ev;
}

static void test_note(void **state)
{
    (void)state;
    uint64_t nums[VIGIL_FLAGGED_NUMBERS] = {0};
    uint64_t a = vigil_flagged_hash("+31201110001"), b = vigil_flagged_hash("+31201110002"),
             c = vigil_flagged_hash("+31612345678");
    struct vigil_event ev = ev_of(VIGIL_EV_CALL_START, VIGIL_DIR_OUT, "+31201110001");
    assert_true(vigil_flagged_note(nums, &ev) == a);
    assert_true(vigil_flagged_note(nums, &ev) == 0); /* known: nothing new */
    assert_true(nums[0] == a && nums[1] == 0);
    ev = ev_of(VIGIL_EV_CALL_END, VIGIL_DIR_OUT, "+31201110002");
    assert_true(vigil_flagged_note(nums, &ev) == b);
    assert_true(nums[0] == b && nums[1] == a);
    /* An inbound call's `from` is an outside caller, not the account. */
    ev = ev_of(VIGIL_EV_CALL_START, VIGIL_DIR_IN, "+31612345678");
    assert_true(vigil_flagged_note(nums, &ev) == 0);
    assert_true(nums[0] == b && nums[1] == a);
    /* A known number moves to the front; a third one pushes the oldest out. */
    ev = ev_of(VIGIL_EV_CALL_START, VIGIL_DIR_OUT, "+31201110001");
    assert_true(vigil_flagged_note(nums, &ev) == 0);
    assert_true(nums[0] == a && nums[1] == b);
    ev = ev_of(VIGIL_EV_SMS, VIGIL_DIR_NONE, "+31612345678");
    assert_true(vigil_flagged_note(nums, &ev) == c);
    assert_true(nums[0] == c && nums[1] == a);
}

/* --- one thread --------------------------------------------------------------------------- */

static void test_destroy_null(void **state)
{
    (void)state;
    vigil_flagged_destroy(NULL);
}

static void test_add_contains_expire(void **state)
{
    (void)state;
    struct vigil_flagged *s = vigil_flagged_create(100);
    assert_non_null(s);
    uint64_t a = num_hash("+3120", 1), b = num_hash("+3120", 2);
    assert_int_equal(vigil_flagged_clock(s), 0);
    assert_false(vigil_flagged_contains(s, a));
    assert_int_equal(vigil_flagged_count(s), 0);

    vigil_flagged_advance(s, T0);
    assert_int_equal(vigil_flagged_add(s, a, T0 + HOUR), 0);
    assert_true(vigil_flagged_contains(s, a));
    assert_false(vigil_flagged_contains(s, b));
    assert_int_equal(vigil_flagged_count(s), 1);

    /* Adding again extends, never shortens. */
    assert_int_equal(vigil_flagged_add(s, a, T0 + 10 * MIN), 0);
    vigil_flagged_advance(s, T0 + 30 * MIN);
    assert_true(vigil_flagged_contains(s, a));
    assert_int_equal(vigil_flagged_add(s, a, T0 + 2 * HOUR), 0);
    vigil_flagged_advance(s, T0 + HOUR + MIN);
    assert_true(vigil_flagged_contains(s, a));
    assert_int_equal(vigil_flagged_count(s), 1); /* one entry, not two */

    /* Expiry is kept to the minute, rounded up; the clock never goes back. */
    vigil_flagged_advance(s, T0 + 2 * HOUR - 1);
    assert_true(vigil_flagged_contains(s, a));
    vigil_flagged_advance(s, T0 + 2 * HOUR);
    assert_false(vigil_flagged_contains(s, a));
    vigil_flagged_advance(s, T0);
    assert_int_equal(vigil_flagged_clock(s), T0 + 2 * HOUR);
    assert_false(vigil_flagged_contains(s, a));
    assert_int_equal(vigil_flagged_count(s), 0);

    /* An expiry not after the clock adds nothing. */
    assert_int_equal(vigil_flagged_add(s, b, T0 + HOUR), 0);
    assert_false(vigil_flagged_contains(s, b));
    /* An expired number comes back when added again. */
    assert_int_equal(vigil_flagged_add(s, a, T0 + 3 * HOUR + 1), 0);
    assert_true(vigil_flagged_contains(s, a));
    vigil_flagged_advance(s, T0 + 3 * HOUR + 1);
    assert_true(vigil_flagged_contains(s, a)); /* rounded up to the next minute */
    vigil_flagged_advance(s, T0 + 3 * HOUR + MIN);
    assert_false(vigil_flagged_contains(s, a));
    vigil_flagged_destroy(s);
}

/* Memory is bounded: a full set refuses new numbers, and expired slots are reused. */
static void test_bounded_and_reused(void **state)
{
    (void)state;
    struct vigil_flagged *s = vigil_flagged_create(32); /* 64 slots */
    assert_non_null(s);
    vigil_flagged_advance(s, T0);
    int added = 0, full = 0;
    for (int i = 0; i < 200; i++) {
        int rc = vigil_flagged_add(s, num_hash("+3120", i), T0 + HOUR);
        if (rc == 0)
            added++;
        else if (rc == VIGIL_ERR_FULL)
            full++;
        else
            fail_msg("add returned %d", rc);
    }
    /* Every slot can hold a number; none can hold two. */
    assert_true(added >= 32 && added <= 64);
    assert_int_equal(added + full, 200);
    assert_int_equal(vigil_flagged_count(s), (size_t)added);
    int found = 0;
    for (int i = 0; i < 200; i++)
        found += vigil_flagged_contains(s, num_hash("+3120", i));
    assert_int_equal(found, added);

    /* An hour on, all have expired: new numbers take their slots. */
    vigil_flagged_advance(s, T0 + HOUR);
    assert_int_equal(vigil_flagged_count(s), 0);
    for (int i = 0; i < 32; i++)
        assert_int_equal(vigil_flagged_add(s, num_hash("+3130", i), T0 + 2 * HOUR), 0);
    for (int i = 0; i < 32; i++)
        assert_true(vigil_flagged_contains(s, num_hash("+3130", i)));
    for (int i = 0; i < 200; i++)
        assert_false(vigil_flagged_contains(s, num_hash("+3120", i)));
    assert_int_equal(vigil_flagged_count(s), 32);
    vigil_flagged_destroy(s);
}

/* --- threads ------------------------------------------------------------------------------ */

struct conc {
    struct vigil_flagged *s;
    size_t n;
    atomic_bool writers_done;
    atomic_int failures; /* checked by the main thread after join */
};

struct writer_arg {
    struct conc *c;
    int id; /* 0 or 1 */
};

/* Writer `id` adds the numbers i with i % 2 == id, and both add every i % 7 == 0, so the
 * same number is raced for. */
static void *writer_main(void *p)
{
    struct writer_arg *wa = p;
    struct conc *c = wa->c;
    for (size_t i = 0; i < c->n; i++) {
        if ((int)(i % 2) != wa->id && i % 7 != 0)
            continue;
        if (vigil_flagged_add(c->s, num_hash("+3120", (int)i), T0 + 24 * HOUR) != 0)
            atomic_fetch_add(&c->failures, 1);
    }
    return NULL;
}

/* Never-added numbers are never found; a number once found stays found (nothing is lost or
 * overwritten while live). */
static void *reader_main(void *p)
{
    struct conc *c = p;
    unsigned char *seen = calloc(c->n, 1);
    if (!seen) {
        atomic_fetch_add(&c->failures, 1);
        return NULL;
    }
    uint64_t x = 88172645463325252ULL;
    for (;;) {
        bool done = atomic_load(&c->writers_done);
        for (int k = 0; k < 1000; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t i = (size_t)(x % c->n);
            bool in = vigil_flagged_contains(c->s, num_hash("+3120", (int)i));
            if (seen[i] && !in)
                atomic_fetch_add(&c->failures, 1);
            seen[i] = seen[i] || in;
            if (vigil_flagged_contains(c->s, num_hash("+3199", (int)i)))
                atomic_fetch_add(&c->failures, 1);
        }
        if (done)
            break;
    }
    free(seen);
    return NULL;
}

static void test_concurrent_writers_and_reader(void **state)
{
    (void)state;
    struct conc c = {.n = test_n()};
    atomic_init(&c.writers_done, false);
    atomic_init(&c.failures, 0);
    c.s = vigil_flagged_create(c.n);
    assert_non_null(c.s);
    vigil_flagged_advance(c.s, T0);
    struct writer_arg wa[2] = {{&c, 0}, {&c, 1}};
    pthread_t w0, w1, r;
    assert_int_equal(pthread_create(&r, NULL, reader_main, &c), 0);
    assert_int_equal(pthread_create(&w0, NULL, writer_main, &wa[0]), 0);
    assert_int_equal(pthread_create(&w1, NULL, writer_main, &wa[1]), 0);
    assert_int_equal(pthread_join(w0, NULL), 0);
    assert_int_equal(pthread_join(w1, NULL), 0);
    atomic_store(&c.writers_done, true);
    assert_int_equal(pthread_join(r, NULL), 0);
    assert_int_equal(atomic_load(&c.failures), 0);
    for (size_t i = 0; i < c.n; i++)
        assert_true(vigil_flagged_contains(c.s, num_hash("+3120", (int)i)));
    /* Numbers raced for may sit in two slots. */
    size_t count = vigil_flagged_count(c.s);
    assert_true(count >= c.n && count <= c.n + c.n / 7 + 1);
    vigil_flagged_destroy(c.s);
}

struct churn {
    struct vigil_flagged *s;
    size_t n;
    atomic_size_t progress; /* numbers the writer has added */
    atomic_bool done;
    atomic_int failures;
};

/* Adds numbers that live two minutes of the set's clock while the clock thread moves it on
 * (a minute per 8 numbers): expired slots are reused all the time. */
static void *churn_writer_main(void *p)
{
    struct churn *c = p;
    for (size_t i = 0; i < c->n; i++) {
        int64_t now = vigil_flagged_clock(c->s);
        int rc = vigil_flagged_add(c->s, num_hash("+3140", (int)i), now + 2 * MIN);
        if (rc != 0 && rc != VIGIL_ERR_FULL)
            atomic_fetch_add(&c->failures, 1);
        atomic_store(&c->progress, i + 1);
    }
    atomic_store(&c->done, true);
    return NULL;
}

static void *churn_clock_main(void *p)
{
    struct churn *c = p;
    while (!atomic_load(&c->done))
        vigil_flagged_advance(c->s, T0 + (int64_t)(atomic_load(&c->progress) / 8) * MIN);
    return NULL;
}

/* Reuse never takes a live number's slot. */
static void test_concurrent_reuse_keeps_live_numbers(void **state)
{
    (void)state;
    struct churn c = {.n = test_n()};
    atomic_init(&c.progress, 0);
    atomic_init(&c.done, false);
    atomic_init(&c.failures, 0);
    c.s = vigil_flagged_create(256);
    assert_non_null(c.s);
    vigil_flagged_advance(c.s, T0);
    for (int i = 0; i < 64; i++)
        assert_int_equal(vigil_flagged_add(c.s, num_hash("+3150", i), INT64_MAX), 0);
    pthread_t w, k;
    assert_int_equal(pthread_create(&w, NULL, churn_writer_main, &c), 0);
    assert_int_equal(pthread_create(&k, NULL, churn_clock_main, &c), 0);
    while (!atomic_load(&c.done)) {
        for (int i = 0; i < 64; i++) {
            if (!vigil_flagged_contains(c.s, num_hash("+3150", i)))
                atomic_fetch_add(&c.failures, 1);
        }
    }
    assert_int_equal(pthread_join(w, NULL), 0);
    assert_int_equal(pthread_join(k, NULL), 0);
    assert_int_equal(atomic_load(&c.failures), 0);
    for (int i = 0; i < 64; i++)
        assert_true(vigil_flagged_contains(c.s, num_hash("+3150", i)));
    vigil_flagged_destroy(c.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_action),
        cmocka_unit_test(test_note),
        cmocka_unit_test(test_destroy_null),
        cmocka_unit_test(test_add_contains_expire),
        cmocka_unit_test(test_bounded_and_reused),
        cmocka_unit_test(test_concurrent_writers_and_reader),
        cmocka_unit_test(test_concurrent_reuse_keeps_live_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

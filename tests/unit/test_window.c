/* SPDX-License-Identifier: Apache-2.0 */
/* test_window.c - grown rings and kept spans (window.h): exact past a ring's capacity, up to
 * the level, and freed again once a key goes quiet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vigil/window.h"

#define T0 1795399800000LL
#define CAP 4
#define W 10000LL /* window of the tests, ms */

/* Ten times 1 s apart into a ring of 4 with level 10: all ten counted, and the grown ring
 * goes at the sweep once they are out of reach, its memory with it. */
static void test_grows_to_level_and_is_freed(void **state)
{
    (void)state;
    struct vigil_win_more *m = vigil_win_more_create();
    assert_non_null(m);
    size_t empty = vigil_win_more_bytes(m);
    int64_t t[CAP];
    uint16_t n = 0;
    for (int i = 0; i < 10; i++)
        vigil_win_more_add(m, 7, t, CAP, &n, T0 + i * 1000, 10, W);
    assert_int_equal(n, CAP);
    assert_int_equal(vigil_win_more_keys(m), 1);
    assert_true(vigil_win_more_bytes(m) > empty);
    bool more;
    /* [T0 + 1 s, T0 + 9 s]: nine of them, exactly. */
    assert_int_equal(vigil_win_more_count(m, 7, t, CAP, n, T0 + 1000, T0 + 9000, &more), 9);
    assert_false(more);
    /* All ten: the level, reached whatever came before. */
    assert_int_equal(vigil_win_more_count(m, 7, t, CAP, n, T0, T0 + 9000, &more), 10);
    assert_true(more);
    /* An eleventh keeps the latest ten. */
    vigil_win_more_add(m, 7, t, CAP, &n, T0 + 10000, 10, W);
    assert_int_equal(vigil_win_more_count(m, 7, t, CAP, n, T0 + 1000, T0 + 10000, &more), 10);
    /* Still within reach at this watermark: kept. */
    vigil_win_more_sweep(m, T0 + 10000);
    assert_int_equal(vigil_win_more_keys(m), 1);
    /* Quiet past the window and the disorder allowance: freed. */
    vigil_win_more_sweep(m, T0 + 10000 + W + VIGIL_WIN_DISORDER_MS + 1);
    assert_int_equal(vigil_win_more_keys(m), 0);
    assert_int_equal(vigil_win_more_bytes(m), empty);
    vigil_win_more_destroy(m);
    vigil_win_more_destroy(NULL);
}

/* Nothing grows for a key whose dropped times are out of reach (one time every 30 s or 2 min,
 * window 10 s), whatever the level: the common case costs nothing. */
static void test_ordinary_keys_cost_nothing(void **state)
{
    (void)state;
    struct vigil_win_more *m = vigil_win_more_create();
    assert_non_null(m);
    int64_t a[CAP], b[CAP];
    uint16_t na = 0, nb = 0;
    for (int i = 0; i < 100; i++) {
        vigil_win_more_add(m, 1, a, CAP, &na, T0 + i * 30000LL, CAP, W);
        vigil_win_more_add(m, 2, b, CAP, &nb, T0 + i * 60000LL * 2, 10, W);
    }
    assert_int_equal(vigil_win_more_keys(m), 0);
    bool more;
    assert_int_equal(
        vigil_win_more_count(m, 2, b, CAP, nb, T0 + 99 * 120000LL - W, T0 + 99 * 120000LL, &more),
        1);
    assert_false(more);
    vigil_win_more_destroy(m);
}

/* The ring shrinks back: after a burst of 8 the key slows to one time every 30 s; the sweep
 * frees the grown ring once fewer than CAP times are within reach, and counts stay right. */
static void test_burst_then_quiet(void **state)
{
    (void)state;
    struct vigil_win_more *m = vigil_win_more_create();
    assert_non_null(m);
    int64_t t[CAP];
    uint16_t n = 0;
    for (int i = 0; i < 8; i++)
        vigil_win_more_add(m, 3, t, CAP, &n, T0 + i * 100, 20, W);
    assert_int_equal(vigil_win_more_keys(m), 1);
    int64_t last = T0 + 700;
    for (int i = 1; i <= 6; i++) {
        last = T0 + 700 + i * 30000LL;
        vigil_win_more_add(m, 3, t, CAP, &n, last, 20, W);
        vigil_win_more_sweep(m, last);
    }
    assert_int_equal(vigil_win_more_keys(m), 0);
    bool more;
    assert_int_equal(vigil_win_more_count(m, 3, t, CAP, n, last - W, last, &more), 1);
    assert_false(more);
    vigil_win_more_destroy(m);
}

/* After a restore the times dropped before are unknown: a window reaching back before the
 * ring's oldest time says "more"; one starting after it is exact again. A key forgotten and
 * started afresh does not see its old grown ring. */
static void test_restore_and_restart(void **state)
{
    (void)state;
    struct vigil_win_more *m = vigil_win_more_create();
    assert_non_null(m);
    int64_t t[CAP] = {T0, T0 + 1000, T0 + 2000, T0 + 3000};
    vigil_win_more_restore(m, 9, t, CAP, CAP, 10, W);
    bool more;
    assert_int_equal(vigil_win_more_count(m, 9, t, CAP, CAP, T0 - 5000, T0 + 3000, &more), 4);
    assert_true(more);
    assert_int_equal(vigil_win_more_count(m, 9, t, CAP, CAP, T0 + 1, T0 + 3000, &more), 3);
    assert_false(more);

    /* Grown, then the key's ring starts again from nothing. */
    int64_t r[CAP];
    uint16_t n = 0;
    for (int i = 0; i < 6; i++)
        vigil_win_more_add(m, 11, r, CAP, &n, T0 + i * 10, 10, W);
    n = 0;
    for (int i = 0; i < CAP; i++)
        vigil_win_more_add(m, 11, r, CAP, &n, T0 + 5000 + i * 10, 10, W);
    assert_int_equal(vigil_win_more_count(m, 11, r, CAP, n, T0 - W, T0 + 6000, &more), CAP);
    vigil_win_more_forget(m, 11);
    vigil_win_more_forget(m, 12345); /* absent: nothing */
    vigil_win_more_destroy(m);
}

/* Tagged rings: eight distinct tags (and repeats) into a ring of 4 with level 8: all eight
 * counted once; a window leaving out the first two counts six. */
static void test_tags_grow(void **state)
{
    (void)state;
    struct vigil_win_more *m = vigil_win_more_create();
    assert_non_null(m);
    int64_t e[CAP];
    uint16_t n = 0;
    for (int i = 0; i < 8; i++) {
        vigil_win_more_tag_note(m, 5, e, CAP, &n, (unsigned)(i * 64), T0 + i * 1000, 8, W);
        vigil_win_more_tag_note(m, 5, e, CAP, &n, (unsigned)(i * 64), T0 + i * 1000 + 1, 8, W);
    }
    bool more;
    assert_int_equal(vigil_win_more_tag_count(m, 5, e, CAP, n, T0, T0 + 8000, &more), 8);
    assert_true(more); /* the level: reached */
    assert_int_equal(vigil_win_more_tag_count(m, 5, e, CAP, n, T0 + 2000, T0 + 8000, &more), 6);
    assert_false(more);
    vigil_win_more_sweep(m, T0 + 8000 + W + VIGIL_WIN_DISORDER_MS + 1);
    assert_int_equal(vigil_win_more_keys(m), 0);
    vigil_win_more_destroy(m);
}

/* Kept spans: their parts inside a window, to the unit; after a restore mark, windows
 * reaching back before it are not known whole; quiet spans are freed. */
static void test_spans(void **state)
{
    (void)state;
    struct vigil_win_more *m = vigil_win_more_create();
    assert_non_null(m);
    uint64_t sum;
    assert_true(vigil_win_more_span_sum(m, 4, T0, T0 + W, &sum)); /* none: all known */
    assert_int_equal(sum, 0);
    /* 300 over [T0 - 1 s, T0 + 2 s]: 200 of it after T0; 100 over [T0 + 5 s, T0 + 6 s]. */
    assert_int_equal(vigil_win_more_span_add(m, 4, T0 + 2000, 3000, 300, W), 0);
    assert_int_equal(vigil_win_more_span_add(m, 4, T0 + 6000, 1000, 100, W), 0);
    assert_true(vigil_win_more_span_sum(m, 4, T0, T0 + W, &sum));
    assert_int_equal(sum, 300);
    assert_true(vigil_win_more_span_sum(m, 4, T0 + 5500, T0 + W, &sum));
    assert_int_equal(sum, 50);
    for (int i = 0; i < 5000; i++) /* past VIGIL_WIN_SPANS_MAX: the earliest-ending go */
        assert_int_equal(vigil_win_more_span_add(m, 4, T0 + 7000 + i, 0, 1, W), 0);
    assert_false(vigil_win_more_span_sum(m, 4, T0, T0 + 20000, &sum));
    assert_true(
        vigil_win_more_span_sum(m, 4, T0 + 7000 + 5000 - VIGIL_WIN_SPANS_MAX, T0 + 20000, &sum));
    assert_int_equal(sum, VIGIL_WIN_SPANS_MAX);

    vigil_win_more_span_restore(m, 6, T0 + 1000, W);
    assert_false(vigil_win_more_span_sum(m, 6, T0, T0 + W, &sum));
    assert_true(vigil_win_more_span_sum(m, 6, T0 + 1000, T0 + W, &sum));
    vigil_win_more_sweep(m, T0 + 1000 + W + VIGIL_WIN_DISORDER_MS + 1);
    assert_true(vigil_win_more_span_sum(m, 6, T0, T0 + W, &sum)); /* the mark is out of reach */
    vigil_win_more_sweep(m, T0 + 20000 + W + VIGIL_WIN_DISORDER_MS);
    assert_int_equal(vigil_win_more_keys(m), 0);
    vigil_win_more_destroy(m);
}

/* A span that cannot be kept (here: its key holds a time ring in the same store, as it would
 * with no memory for an entry) is not silently lost: windows reaching back to its end, of
 * any key, are no longer reported whole, so the caller uses its buckets; later ones are. */
static void test_span_not_kept_is_marked(void **state)
{
    (void)state;
    struct vigil_win_more *m = vigil_win_more_create();
    assert_non_null(m);
    int64_t t[CAP];
    uint16_t n = 0;
    for (int i = 0; i < 6; i++)
        vigil_win_more_add(m, 7, t, CAP, &n, T0 + i * 10, 10, W);
    assert_int_equal(vigil_win_more_keys(m), 1);
    uint64_t sum;
    assert_true(vigil_win_more_span_sum(m, 8, T0, T0 + W, &sum));
    assert_int_equal(vigil_win_more_span_add(m, 7, T0 + 2000, 1000, 50, W), -1);
    assert_false(vigil_win_more_span_sum(m, 7, T0, T0 + W, &sum));
    assert_false(vigil_win_more_span_sum(m, 8, T0 + 2000, T0 + W, &sum));
    assert_true(vigil_win_more_span_sum(m, 8, T0 + 2001, T0 + W, &sum));
    vigil_win_more_destroy(m);
}

/* A late event's window counts the times newer ones would have pushed out: ring of 2, level 3,
 * window 900 s; times at 50, 60, 1000 s, then 950 s arriving late. [50 s, 950 s] holds 3. */
static void test_late_event_counts(void **state)
{
    (void)state;
    struct vigil_win_more *m = vigil_win_more_create();
    assert_non_null(m);
    const int64_t w = 900000;
    int64_t r[2];
    uint16_t n = 0;
    const int64_t at[] = {50000, 60000, 1000000, 950000};
    for (int i = 0; i < 4; i++)
        vigil_win_more_add(m, 8, r, 2, &n, T0 + at[i], 3, w);
    bool more;
    assert_int_equal(vigil_win_more_count(m, 8, r, 2, n, T0 + 950000 - w, T0 + 950000, &more), 3);
    assert_true(more); /* the level: at least */
    /* [60 s + 1 ms, ...] misses 50 s and 60 s: one, exactly. */
    assert_int_equal(vigil_win_more_count(m, 8, r, 2, n, T0 + 60001, T0 + 950000, &more), 1);
    assert_false(more);

    /* The same with the level within the ring (ring 4, level 3): five times, the last four
     * within the disorder allowance of the newest; a late one then still sees the first. */
    int64_t q[CAP];
    n = 0;
    const int64_t at2[] = {50000, 970000, 980000, 990000, 1000000, 950000};
    for (int i = 0; i < 6; i++)
        vigil_win_more_add(m, 9, q, CAP, &n, T0 + at2[i], 3, w);
    assert_int_equal(vigil_win_more_count(m, 9, q, CAP, n, T0 + 950000 - w, T0 + 950000, &more), 2);
    assert_false(more);
    vigil_win_more_destroy(m);
}

/* More times within the disorder allowance than the grown ring may hold (2 x level): the
 * oldest go with a mark, so a late window reaching them says "more"; later ones stay exact. */
static void test_late_past_the_limit(void **state)
{
    (void)state;
    struct vigil_win_more *m = vigil_win_more_create();
    assert_non_null(m);
    int64_t r[2];
    uint16_t n = 0;
    for (int i = 0; i < 20; i++) /* 20 times 1 s apart, level 5: at most 10 kept */
        vigil_win_more_add(m, 4, r, 2, &n, T0 + i * 1000, 5, W);
    bool more;
    /* A late event at T0 + 5 s: [T0 - 5 s, T0 + 5 s] holds 6, 4 of them kept no longer. */
    uint32_t c = vigil_win_more_count(m, 4, r, 2, n, T0 + 5000 - W, T0 + 5000, &more);
    assert_true(more);
    assert_true(c <= 6);
    assert_int_equal(vigil_win_more_count(m, 4, r, 2, n, T0 + 12000, T0 + 19000, &more), 8);
    assert_false(more);
    vigil_win_more_destroy(m);
}

/* Brute force: random streams (bursts and lulls, up to the disorder allowance late) into rings
 * of 2 and 4 with levels from 1 to 12, swept at a watermark. At each event, and at the key's
 * newest, the count equals the true one, or says "more" and is below it, or is already at the
 * level and below it. */
static void test_random_against_brute_force(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
#define RND()                                                                                      \
    (seed = seed * 6364136223846793005ULL + 1442695040888963407ULL, (uint32_t)(seed >> 33))
    enum { EVENTS = 400 };
    static int64_t all[EVENTS];
    for (int round = 0; round < 300; round++) {
        struct vigil_win_more *m = vigil_win_more_create();
        assert_non_null(m);
        uint16_t cap = RND() % 2 ? 2 : CAP;
        uint32_t level = 1 + RND() % 12;
        int64_t w = (int64_t)(1 + RND() % 120) * 1000;
        int64_t r[CAP], newest = T0;
        uint16_t n = 0;
        for (int e = 0; e < EVENTS; e++) {
            int64_t t;
            uint32_t kind = RND() % 10;
            if (e > 0 && kind < 3)
                t = newest - (int64_t)(RND() % (VIGIL_WIN_DISORDER_MS + 1)); /* late */
            else if (kind < 8)
                t = newest + (int64_t)(RND() % 3000); /* a burst */
            else
                t = newest + (int64_t)(RND() % 200000); /* a lull */
            newest = t > newest ? t : newest;
            all[e] = t;
            vigil_win_more_add(m, 3, r, cap, &n, t, level, w);
            const int64_t at[2] = {t, newest};
            for (int j = 0; j < 2; j++) {
                uint32_t truth = 0;
                for (int k = 0; k <= e; k++)
                    truth += all[k] >= at[j] - w && all[k] <= at[j];
                bool more;
                uint32_t c = vigil_win_more_count(m, 3, r, cap, n, at[j] - w, at[j], &more);
                if (!(c == truth || (c < truth && (more || c >= level)))) {
                    print_error("round %d event %d: count %u, truth %u, more %d, level %u\n", round,
                                e, c, truth, more, level);
                    fail();
                }
            }
            if (RND() % 8 == 0)
                vigil_win_more_sweep(m, newest - VIGIL_WIN_DISORDER_MS);
        }
        vigil_win_more_destroy(m);
    }
#undef RND
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_to_level_and_is_freed),
        cmocka_unit_test(test_ordinary_keys_cost_nothing),
        cmocka_unit_test(test_burst_then_quiet),
        cmocka_unit_test(test_restore_and_restart),
        cmocka_unit_test(test_tags_grow),
        cmocka_unit_test(test_spans),
        cmocka_unit_test(test_span_not_kept_is_marked),
        cmocka_unit_test(test_late_event_counts),
        cmocka_unit_test(test_late_past_the_limit),
        cmocka_unit_test(test_random_against_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

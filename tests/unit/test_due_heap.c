/* SPDX-License-Identifier: Apache-2.0 */
/* test_due_heap.c - the detectors' heap of (time, item) entries (due_heap.h): entries come out
 * by time however they went in, with their own items, across growth and interleaved pushes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "vigil/due_heap.h"

static void test_pops_in_time_order(void **state)
{
    (void)state;
    enum { N = 5000 };
    static int items[N];
    struct vigil_due_heap h = {0};
    uint64_t x = 88172645463325252ULL;
    int64_t at[N];
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        at[i] = (int64_t)(x % 1000) - 500; /* many equal times, some negative */
        items[i] = i;
        assert_int_equal(vigil_due_push(&h, at[i], &items[i]), 0);
    }
    assert_int_equal(h.n, N);
    assert_false(vigil_due_ready(&h, -501));
    assert_true(vigil_due_ready(&h, 499));
    int64_t prev = INT64_MIN;
    long seen = 0;
    while (h.n > 0) {
        struct vigil_due e = vigil_due_pop(&h);
        assert_true(e.at >= prev);
        int i = *(int *)e.item;
        assert_int_equal(at[i], e.at); /* the entry keeps its own item */
        prev = e.at;
        seen += i;
    }
    assert_int_equal(seen, (long)N * (N - 1) / 2); /* each item once */
    assert_false(vigil_due_ready(&h, INT64_MAX));
    vigil_due_fini(&h);
    assert_null(h.v);
}

/* A tick's pattern: pop what is due, push each one's next time; what stays out never comes. */
static void test_interleaved_pushes(void **state)
{
    (void)state;
    struct vigil_due_heap h = {0};
    static int items[100];
    for (int i = 0; i < 100; i++)
        assert_int_equal(vigil_due_push(&h, 10 * i, &items[i]), 0);
    long fired = 0;
    for (int64_t now = 0; now < 2000; now += 7) {
        while (vigil_due_ready(&h, now)) {
            struct vigil_due e = vigil_due_pop(&h);
            assert_true(e.at <= now);
            fired++;
            int *it = e.item;
            if (it < &items[50]) /* the first half comes back every 100 */
                assert_int_equal(vigil_due_push(&h, e.at + 100, it), 0);
        }
        assert_true(h.n == 0 || h.v[0].at > now);
    }
    /* 50 once, the others at 10*i + 100k below 2000 (the last tick is 1995). */
    long want = 50;
    for (int i = 0; i < 50; i++)
        for (int64_t t = 10 * i; t <= 1995; t += 100)
            want++;
    assert_int_equal(fired, want);
    vigil_due_fini(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pops_in_time_order),
        cmocka_unit_test(test_interleaved_pushes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

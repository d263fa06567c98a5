/* SPDX-License-Identifier: Apache-2.0 */
/* test_dedupe.c - repeats of an event id within the window count once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "dedupe.h"

#define HOUR 3600000LL
#define T0 1793610000000LL

static void test_repeat_within_window(void **state)
{
    struct vigil_dedupe *d = vigil_dedupe_create(HOUR, 1000);
    assert_non_null(d);
    assert_false(vigil_dedupe_seen(d, "acc-1", "e-1", T0));
    assert_true(vigil_dedupe_seen(d, "acc-1", "e-1", T0));
    /* The same id of another account is another event. */
    assert_false(vigil_dedupe_seen(d, "acc-2", "e-1", T0));
    /* A repeat that arrives 59 minutes (of other events' time) later is still a repeat. */
    assert_false(vigil_dedupe_seen(d, "acc-1", "e-2", T0 + 59 * 60000));
    assert_true(vigil_dedupe_seen(d, "acc-1", "e-1", T0 + 59 * 60000));
    vigil_dedupe_destroy(d);
    vigil_dedupe_destroy(NULL);
}

static void test_generations_rotate(void **state)
{
    struct vigil_dedupe *d = vigil_dedupe_create(HOUR, 1000);
    assert_false(vigil_dedupe_seen(d, "a", "x", T0));
    /* One rotation: the previous generation is still checked. */
    assert_false(vigil_dedupe_seen(d, "a", "y", T0 + HOUR + 1));
    assert_true(vigil_dedupe_seen(d, "a", "x", T0 + HOUR + 2));
    /* Two more hours on: x is forgotten, so it counts again (at least one window kept). */
    assert_false(vigil_dedupe_seen(d, "a", "z", T0 + 3 * HOUR + 5));
    assert_false(vigil_dedupe_seen(d, "a", "x", T0 + 3 * HOUR + 6));
    /* A long gap clears both generations. */
    assert_false(vigil_dedupe_seen(d, "a", "w", T0 + 10 * HOUR));
    assert_false(vigil_dedupe_seen(d, "a", "z", T0 + 10 * HOUR));
    vigil_dedupe_destroy(d);
}

static void test_bounded(void **state)
{
    struct vigil_dedupe *d = vigil_dedupe_create(HOUR, 1000);
    char id[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "e-%d", i);
        assert_false(vigil_dedupe_seen(d, "acc", id, T0));
    }
    assert_false(vigil_dedupe_full(d));
    /* Past the bound new ids are not remembered, and the caller is told. */
    assert_false(vigil_dedupe_seen(d, "acc", "late-1", T0));
    assert_true(vigil_dedupe_full(d));
    assert_false(vigil_dedupe_seen(d, "acc", "late-1", T0));
    /* Ids remembered before still are. */
    assert_true(vigil_dedupe_seen(d, "acc", "e-999", T0));
    /* The next generation starts empty and not full. */
    assert_false(vigil_dedupe_seen(d, "acc", "next", T0 + HOUR));
    assert_false(vigil_dedupe_full(d));
    vigil_dedupe_destroy(d);
    assert_null(vigil_dedupe_create(0, 10));
    assert_null(vigil_dedupe_create(HOUR, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeat_within_window),
        cmocka_unit_test(test_generations_rotate),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

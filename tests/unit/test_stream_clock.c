/* SPDX-License-Identifier: Apache-2.0 */
/* test_stream_clock.c - a partition's event-time clock (pipeline/stream_clock.h): one event
 * far ahead does not move it, a jump confirmed by other accounts does (and is a gap), sparse
 * traffic keeps time, and a fresh clock whose first event was ahead starts again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "stream_clock.h"

#define T0 1793610000000LL
#define MIN 60000LL
#define HOUR 3600000LL
#define GAP (30 * MIN)

static bool note(struct vigil_pclock *c, const char *acct, int64_t ts, struct vigil_pclock_jump *j)
{
    return vigil_pclock_note(c, GAP, 3, vigil_pclock_acct(acct), ts, j);
}

static void test_one_event_ahead_does_not_move_it(void **state)
{
    (void)state;
    struct vigil_pclock c = {0};
    struct vigil_pclock_jump j;
    vigil_pclock_restore(&c, T0);
    assert_false(note(&c, "a", T0 + MIN, &j));
    assert_false(note(&c, "wrong-clock", T0 + 23 * HOUR, &j));
    assert_true(c.ts == T0 + MIN);
    /* The same account again, many times: still one account. */
    for (int i = 0; i < 20; i++)
        assert_false(note(&c, "wrong-clock", T0 + 23 * HOUR + i * MIN, &j));
    /* A second one is not enough either (confirm = 3). */
    assert_false(note(&c, "wrong-clock-2", T0 + 23 * HOUR, &j));
    assert_true(c.ts == T0 + MIN);
    /* Ordinary traffic moves on as usual. */
    assert_false(note(&c, "b", T0 + 2 * MIN, &j));
    assert_true(c.ts == T0 + 2 * MIN);
    assert_true(c.ahead == 22);
}

/* Exporters that run an hour ahead all the time, among ordinary traffic: their claims are
 * forgotten while other accounts show the stream where it is, so three of them over hours
 * never add up to a jump. */
static void test_steady_offsets_never_add_up(void **state)
{
    (void)state;
    struct vigil_pclock c = {0};
    struct vigil_pclock_jump j;
    vigil_pclock_restore(&c, T0);
    static const char *const ahead[] = {"pbx-local-1", "pbx-local-2", "pbx-local-3"};
    static const char *const steady[] = {"a", "b", "c", "d"};
    for (int k = 0; k < 60; k++) {
        int64_t t = T0 + k * MIN;
        assert_false(note(&c, ahead[k % 3], t + HOUR, &j));
        for (int s = 0; s < 4; s++)
            assert_false(note(&c, steady[s], t + s * 1000, &j));
    }
    assert_true(c.ts == T0 + 59 * MIN + 3000);
}

static void test_confirmed_jump_is_a_gap(void **state)
{
    (void)state;
    struct vigil_pclock c = {0};
    struct vigil_pclock_jump j;
    vigil_pclock_restore(&c, T0);
    assert_false(note(&c, "a", T0 + 2 * HOUR + 5000, &j));
    assert_false(note(&c, "b", T0 + 2 * HOUR + 1000, &j));
    assert_true(c.ts == T0);
    assert_true(note(&c, "c", T0 + 2 * HOUR + 3000, &j));
    assert_true(j.from == T0);
    assert_true(j.to == T0 + 2 * HOUR + 1000); /* the earliest of the confirming times */
    assert_true(c.ts == T0 + 2 * HOUR + 1000);
    /* And it keeps time from there. */
    assert_false(note(&c, "a", T0 + 2 * HOUR + 9000, &j));
    assert_true(c.ts == T0 + 2 * HOUR + 9000);
}

static void test_sparse_traffic_keeps_time(void **state)
{
    (void)state;
    struct vigil_pclock c = {0};
    struct vigil_pclock_jump j;
    /* One account calling every 10 minutes for 9 hours: every step is within the gap. */
    for (int i = 0; i < 54; i++) {
        assert_false(note(&c, "only", T0 + i * 10 * MIN, &j));
        assert_true(c.ts == T0 + i * 10 * MIN);
    }
    assert_true(c.provisional); /* one account: never established, but it keeps time */
}

/* A partition with one account (a test stream, a tiny provider): its own steps move it, a
 * long one as a gap. With a second account there, one claim is not enough. */
static void test_one_account_moves_its_own_partition(void **state)
{
    (void)state;
    struct vigil_pclock c = {0};
    struct vigil_pclock_jump j;
    assert_false(note(&c, "monitor", T0, &j));
    assert_true(note(&c, "monitor", T0 + 9 * HOUR, &j));
    assert_true(j.from == T0 && j.to == T0 + 9 * HOUR);
    assert_true(c.provisional);
    assert_false(note(&c, "other", T0 + 9 * HOUR + MIN, &j));
    assert_false(note(&c, "monitor", T0 + 20 * HOUR, &j));
    assert_true(c.ts == T0 + 9 * HOUR + MIN);
    assert_true(note(&c, "other", T0 + 20 * HOUR + MIN, &j));
    assert_true(c.ts == T0 + 20 * HOUR);
}

static void test_fresh_clock_whose_first_event_was_ahead(void **state)
{
    (void)state;
    struct vigil_pclock c = {0};
    struct vigil_pclock_jump j;
    assert_false(note(&c, "wrong-clock", T0 + 23 * HOUR, &j));
    assert_true(c.provisional);
    assert_false(note(&c, "a", T0, &j));
    assert_true(c.ts == T0);
    assert_false(note(&c, "b", T0 + MIN, &j));
    assert_false(c.provisional); /* three accounts seen */
    assert_true(c.ts == T0 + MIN);
    assert_false(note(&c, "wrong-clock", T0 + 23 * HOUR + MIN, &j));
    assert_true(c.ts == T0 + MIN);
}

static void test_reached_claims_are_dropped(void **state)
{
    (void)state;
    struct vigil_pclock c = {0};
    struct vigil_pclock_jump j;
    vigil_pclock_restore(&c, T0);
    /* Two accounts a bit more than a gap ahead; ordinary traffic then catches up with them,
     * and a third claim much later must not jump back to their times. */
    assert_false(note(&c, "x", T0 + GAP + MIN, &j));
    assert_false(note(&c, "y", T0 + GAP + MIN, &j));
    for (int i = 1; i <= 40; i++)
        assert_false(note(&c, "steady", T0 + i * MIN, &j));
    assert_true(c.ts == T0 + 40 * MIN);
    assert_true(c.n_cand == 0);
    assert_false(note(&c, "z", T0 + 5 * HOUR, &j));
    assert_true(c.ts == T0 + 40 * MIN);
}

static void test_restore_never_goes_back(void **state)
{
    (void)state;
    struct vigil_pclock c = {0};
    vigil_pclock_restore(&c, T0 + HOUR);
    vigil_pclock_restore(&c, T0);
    assert_true(c.ts == T0 + HOUR);
    assert_false(c.provisional);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_event_ahead_does_not_move_it),
        cmocka_unit_test(test_steady_offsets_never_add_up),
        cmocka_unit_test(test_confirmed_jump_is_a_gap),
        cmocka_unit_test(test_sparse_traffic_keeps_time),
        cmocka_unit_test(test_one_account_moves_its_own_partition),
        cmocka_unit_test(test_fresh_clock_whose_first_event_was_ahead),
        cmocka_unit_test(test_reached_claims_are_dropped),
        cmocka_unit_test(test_restore_never_goes_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

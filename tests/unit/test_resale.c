/* SPDX-License-Identifier: Apache-2.0 */
/* test_resale.c - the resale detector through its vtable (tests/unit/detector_fixture.h): a
 * consumer account calling very many distinct numbers a day, or with many calls open at once,
 * gets a warning and never an order; a busy household, a family calling abroad and accounts of
 * other profiles get nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detector_fixture.h"
#include "vigil/emit.h"
#include "vigil/status.h"

#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define D0 (1795392000000LL - 1795392000000LL % DAY)
#define MAX_RECS 1024

static const char *const consumer_sets[] = {"profiles.consumer",
                                            "acc-shop acc-home acc-family acc-gw", NULL};

static int setup(void **state)
{
    *state = fx_create("resale", consumer_sets, MAX_RECS, D0 + 40 * DAY);
    return 0;
}

static int n_ev;

/* A short outbound call of `account` to `to` at ts (start and end). */
static void call(struct fx *fx, const char *account, int64_t ts, const char *to, int secs)
{
    char id[32], cid[32], extra[40];
    n_ev++;
    snprintf(cid, sizeof cid, "c-%d", n_ev);
    snprintf(id, sizeof id, "s-%d", n_ev);
    fx_feed_call(fx, "call_start", "out", account, id, cid, ts, "+31201234567", to, "");
    snprintf(id, sizeof id, "e-%d", n_ev);
    snprintf(extra, sizeof extra, ",\"duration\":%d", secs);
    fx_feed_call(fx, "call_end", "out", account, id, cid, ts + secs * 1000LL, "+31201234567", to,
                 extra);
}

static void sms(struct fx *fx, const char *account, int64_t ts, const char *to)
{
    n_ev++;
    fx_feed(fx, account,
            "{\"v\":1,\"type\":\"sms\",\"id\":\"m-%d\",\"ts\":%lld,\"account\":\"%s\","
            "\"from\":\"+31612345678\",\"to\":\"%s\"}",
            n_ev, (long long)ts, account, to);
}

/* A call shop on a consumer line: 150 distinct numbers in a day -> one warning at about the
 * 100th, none the rest of the day, no order. */
static void test_many_distinct_numbers_warn(void **state)
{
    struct fx *fx = *state;
    for (int i = 0; i < 150; i++) {
        char to[32];
        snprintf(to, sizeof to, "+3161%07d", 1000 + i * 37);
        call(fx, "acc-shop", D0 + 8 * HOUR + i * 4 * MIN, to, 90);
        if (i == 90)
            assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    }
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING,
                                   "resale.distinct_numbers"), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
}

/* An SMS gateway on a consumer line: texts count as well. */
static void test_sms_to_many_numbers_warn(void **state)
{
    struct fx *fx = *state;
    for (int i = 0; i < 120; i++) {
        char to[32];
        snprintf(to, sizeof to, "+3162%07d", 5000 + i * 11);
        sms(fx, "acc-gw", D0 + 8 * HOUR + i * MIN, to);
    }
    assert_int_equal(fx_count_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING,
                                   "resale.distinct_numbers"), 1);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
}

/* Seven calls open at once on a consumer line: a warning at the sixth, no order. */
static void test_parallel_calls_warn(void **state)
{
    struct fx *fx = *state;
    for (int i = 0; i < 7; i++) {
        char id[16], cid[16], to[32];
        snprintf(id, sizeof id, "p-%d", i);
        snprintf(cid, sizeof cid, "pc-%d", i);
        snprintf(to, sizeof to, "+3120%07d", 100 + i);
        fx_feed_call(fx, "call_start", "out", "acc-shop", id, cid, D0 + HOUR + i * 1000,
                     "+31201234567", to, "");
        assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), i >= 5 ? 1 : 0);
    }
    const struct fx_rec *r = fx_find_rule(fx, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING,
                                          "resale.parallel_calls");
    assert_non_null(r);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
}

/* Leave alone: a busy household, 40 distinct numbers a day (calls and texts), up to three
 * calls at once, for two weeks. */
static void test_busy_household_left_alone(void **state)
{
    struct fx *fx = *state;
    for (int day = 0; day < 14; day++) {
        int64_t t = D0 + day * DAY + 7 * HOUR;
        for (int i = 0; i < 40; i++) {
            char to[32];
            snprintf(to, sizeof to, "+3161%07d", 2000 + ((i + day) % 60));
            if (i % 2)
                sms(fx, "acc-home", t + i * 10 * MIN, to);
            else
                call(fx, "acc-home", t + i * 10 * MIN, to, 300);
        }
        /* Evening: three people on the phone at once. */
        for (int k = 0; k < 3; k++) {
            char id[24], cid[24];
            snprintf(id, sizeof id, "h-%d-%d", day, k);
            snprintf(cid, sizeof cid, "hc-%d-%d", day, k);
            fx_feed_call(fx, "call_start", "out", "acc-home", id, cid,
                         D0 + day * DAY + 19 * HOUR + k * MIN, "+31201234567", "+31612340000",
                         "");
        }
        for (int k = 0; k < 3; k++) {
            char id[24], cid[24];
            snprintf(id, sizeof id, "he-%d-%d", day, k);
            snprintf(cid, sizeof cid, "hc-%d-%d", day, k);
            fx_feed_call(fx, "call_end", "out", "acc-home", id, cid,
                         D0 + day * DAY + 20 * HOUR + k * MIN, "+31201234567", "+31612340000",
                         ",\"duration\":3000");
        }
        fx_tick(fx, D0 + day * DAY + 23 * HOUR);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ORDER, 0), 0);
}

/* Leave alone: a family calling abroad, two long calls at once to relatives in Cuba and
 * Turkey every evening. */
static void test_family_abroad_left_alone(void **state)
{
    struct fx *fx = *state;
    for (int day = 0; day < 10; day++) {
        call(fx, "acc-family", D0 + day * DAY + 18 * HOUR, "+5372345678", 3600);
        call(fx, "acc-family", D0 + day * DAY + 18 * HOUR + 5 * MIN, "+905321234567", 2400);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
}

/* Other profiles are not judged: a default account calling 200 numbers gets nothing here. */
static void test_other_profiles_not_judged(void **state)
{
    struct fx *fx = *state;
    for (int i = 0; i < 200; i++) {
        char to[32];
        snprintf(to, sizeof to, "+3161%07d", 3000 + i);
        call(fx, "acc-office", D0 + 8 * HOUR + i * MIN, to, 30);
    }
    assert_int_equal(fx_count_kind(fx, VIGIL_OUT_ALERT, 0), 0);
}

/* The day's numbers survive a checkpoint: 60 before, 50 after, one warning after. */
static void test_checkpoint(void **state)
{
    struct fx *a = *state;
    for (int i = 0; i < 60; i++) {
        char to[32];
        snprintf(to, sizeof to, "+3161%07d", 4000 + i);
        call(a, "acc-shop", D0 + 8 * HOUR + i * MIN, to, 30);
    }
    struct fx *b = fx_create("resale", consumer_sets, MAX_RECS, D0 + 40 * DAY);
    fx_move_account(a, b, "acc-shop");
    for (int i = 60; i < 110; i++) {
        char to[32];
        snprintf(to, sizeof to, "+3161%07d", 4000 + i);
        call(b, "acc-shop", D0 + 8 * HOUR + i * MIN, to, 30);
    }
    assert_int_equal(fx_count_rule(b, VIGIL_OUT_ALERT, VIGIL_SEV_WARNING,
                                   "resale.distinct_numbers"), 1);
    fx_destroy(b);
}

/* A checkpoint naming one open call twice (damaged in Redis) is refused: the second entry
 * would never end. The same bytes with two distinct calls load. */
static void test_checkpoint_duplicate_open_call_refused(void **state)
{
    struct fx *fx = *state;
    for (int i = 0; i < 2; i++) {
        char id[16], cid[16];
        snprintf(id, sizeof id, "d-%d", i);
        snprintf(cid, sizeof cid, "dc-%d", i);
        fx_feed_call(fx, "call_start", "out", "acc-home", id, cid, D0 + HOUR + i * 1000,
                     "+31201234567", "+31612345678", "");
    }
    struct vigil_bytes b = {0};
    assert_int_equal(fx->ops->save(fx->st, "acc-home", &b), 0);
    /* The open calls close the record: (id, start) twice, 16 bytes each. */
    assert_true(b.len > 32);
    assert_int_equal(fx->ops->load(fx->st, "acc-home", b.p, b.len), 0);
    unsigned char *bad = malloc(b.len);
    assert_non_null(bad);
    memcpy(bad, b.p, b.len);
    memcpy(bad + b.len - 16, bad + b.len - 32, 8);
    assert_int_equal(fx->ops->load(fx->st, "acc-home", bad, b.len), VIGIL_ERR_INVALID);
    free(bad);
    vigil_bytes_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_many_distinct_numbers_warn, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sms_to_many_numbers_warn, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_parallel_calls_warn, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_busy_household_left_alone, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_family_abroad_left_alone, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_other_profiles_not_judged, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_duplicate_open_call_refused, setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* test_counter_batch.c - counters coalesced per account until the next publish: how many
 * Redis commands a flush queues (one HSET per account put since the last flush, an EXPIRE
 * only when the account's TTL renewal is due). The values themselves are read back from a
 * real Redis by the integration tests (itest_vigild, itest_vigilctl). No server here: the
 * commands are only queued on a connection that is never opened. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "counter_batch.h"
#include "redis_sink.h"
#include "vigil/status.h"

#define TTL_S 1000
#define RENEW_ENTRIES 64

struct fixture {
    struct vigil_cnt_batch *b;
    struct vigil_redis *r;
};

static int setup(void **state)
{
    static struct fixture f;
    char err[128];
    f.b = vigil_cnt_batch_create("vigil:", TTL_S, RENEW_ENTRIES);
    f.r = vigil_redis_create("127.0.0.1:1", NULL, 100, err, sizeof err);
    if (!f.b || !f.r)
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    vigil_cnt_batch_destroy(f->b);
    vigil_redis_destroy(f->r);
    return 0;
}

static void put(struct fixture *f, const char *account, const char *detector, int64_t v)
{
    struct vigil_out_counter c[2];
    snprintf(c[0].name, sizeof c[0].name, "calls");
    c[0].value = v;
    snprintf(c[1].name, sizeof c[1].name, "minutes");
    c[1].value = 2 * v;
    assert_int_equal(vigil_cnt_batch_put(f->b, account, detector, c, 2, 0, 1000), 0);
}

/* Many ticks of many detectors of one account: one HSET and, the first time, one EXPIRE. */
static void test_one_command_per_account(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 100; i++) {
        put(f, "acc-1", "toll_fraud", i);
        put(f, "acc-1", "bulk_sms", i);
        put(f, "acc-1", "premium", i);
    }
    assert_int_equal(vigil_cnt_batch_dirty(f->b), 1);
    assert_int_equal(vigil_cnt_batch_flush(f->b, f->r, 10000), 0);
    assert_int_equal(vigil_redis_pending(f->r), 2); /* HSET + EXPIRE (first write) */
    assert_int_equal(vigil_cnt_batch_dirty(f->b), 0);

    /* Nothing new: nothing queued. */
    assert_int_equal(vigil_cnt_batch_flush(f->b, f->r, 11000), 0);
    assert_int_equal(vigil_redis_pending(f->r), 2);

    /* Written again within a tenth of the TTL: HSET only. */
    put(f, "acc-1", "toll_fraud", 7);
    assert_int_equal(vigil_cnt_batch_flush(f->b, f->r, 12000), 0);
    assert_int_equal(vigil_redis_pending(f->r), 3);

    /* Past a tenth of the TTL: the TTL is renewed with the write. */
    put(f, "acc-1", "toll_fraud", 8);
    assert_int_equal(vigil_cnt_batch_flush(f->b, f->r, 10000 + TTL_S * 1000 / 10), 0);
    assert_int_equal(vigil_redis_pending(f->r), 5);
}

/* Accounts are kept apart, and each is written once however many detectors it has. */
static void test_accounts_apart(void **state)
{
    struct fixture *f = *state;
    char acc[32];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5000; i++) {
            snprintf(acc, sizeof acc, "acc-%d", i);
            put(f, acc, "toll_fraud", i);
            put(f, acc, "bulk_sms", i);
        }
    }
    assert_int_equal(vigil_cnt_batch_dirty(f->b), 5000);
    assert_int_equal(vigil_cnt_batch_flush(f->b, f->r, 10000), 0);
    assert_int_equal(vigil_cnt_batch_dirty(f->b), 0);
    assert_int_equal(vigil_redis_pending(f->r), 2 * 5000);
    /* More accounts than the renewal cache remembers: those it forgot get their EXPIRE
     * again (never fewer than one per key and tenth of the TTL). */
    size_t before = vigil_redis_pending(f->r);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(acc, sizeof acc, "acc-%d", i);
        put(f, acc, "bulk_sms", i);
    }
    assert_int_equal(vigil_cnt_batch_flush(f->b, f->r, 11000), 0);
    size_t queued = vigil_redis_pending(f->r) - before;
    assert_true(queued >= 2500 && queued <= 2 * 2500);
    assert_true(queued > 2 * 2500 - RENEW_ENTRIES - 1); /* at most the cache's worth spared */
}

/* Within the renewal cache's size, a key gets its TTL once per tenth of it. */
static void test_renewals_remembered(void **state)
{
    struct fixture *f = *state;
    char acc[32];
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < RENEW_ENTRIES / 4; i++) {
            snprintf(acc, sizeof acc, "acc-%d", i);
            put(f, acc, "toll_fraud", round);
        }
        assert_int_equal(vigil_cnt_batch_flush(f->b, f->r, 10000 + round), 0);
    }
    /* 16 accounts in 64 entries, 4-way: a set could still overflow in theory, not with
     * these names (the count below would show it). */
    assert_int_equal(vigil_redis_pending(f->r), 5 * (RENEW_ENTRIES / 4) + RENEW_ENTRIES / 4);
}

/* A detector's TTL longer than the key was given renews it at once. */
static void test_longer_ttl_renews(void **state)
{
    struct fixture *f = *state;
    struct vigil_out_counter c = {.name = "spend", .value = 5};
    assert_int_equal(vigil_cnt_batch_put(f->b, "acc-t", "credit", &c, 1, 0, 1000), 0);
    assert_int_equal(vigil_cnt_batch_flush(f->b, f->r, 5000), 0);
    assert_int_equal(vigil_redis_pending(f->r), 2);
    assert_int_equal(vigil_cnt_batch_put(f->b, "acc-t", "credit", &c, 1, 10 * TTL_S, 1000), 0);
    assert_int_equal(vigil_cnt_batch_flush(f->b, f->r, 5001), 0);
    assert_int_equal(vigil_redis_pending(f->r), 4);
}

static void test_name_too_long(void **state)
{
    struct fixture *f = *state;
    struct vigil_out_counter c = {.value = 1};
    memset(c.name, 'x', sizeof c.name - 1);
    c.name[sizeof c.name - 1] = '\0';
    char det[VIGIL_OUT_NAME_MAX * 3];
    memset(det, 'd', sizeof det - 1);
    det[sizeof det - 1] = '\0';
    assert_int_equal(vigil_cnt_batch_put(f->b, "acc-x", det, &c, 1, 0, 1000), VIGIL_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_command_per_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accounts_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renewals_remembered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_longer_ttl_renews, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_too_long, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

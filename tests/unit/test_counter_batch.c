/* SPDX-License-Identifier: Apache-2.0 */
/* test_counter_batch.c - counters coalesced per account until the next publish: how many
 * Redis commands a flush queues (one HSET per account put since the last flush, an EXPIRE
 * only when the account's TTL renewal is due). The values themselves are read back from a
 * real Redis by the integration tests (itest_vigild, itest_vigilctl). No server here: the
 * commands are only queued on a connection that is never opened. A worker's batch hands its
 * accounts over packed (vigil_cnt_batch_pack); those tests read the values back out of the
 * packed bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "counter_batch.h"
#include "redis_sink.h"
#include "vigil/emit.h"
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

/* The value of field `name` of `account` in a packed buffer; -1 when absent. */
static int64_t packed_value(const char *buf, size_t len, const char *account, const char *name)
{
    uint16_t n_names, want = UINT16_MAX;
    memcpy(&n_names, buf, 2);
    size_t at = 2;
    for (uint16_t i = 0; i < n_names; i++) {
        size_t nl = (unsigned char)buf[at];
        if (nl == strlen(name) && memcmp(buf + at + 1, name, nl) == 0)
            want = i;
        at += 1 + nl;
    }
    int64_t found = -1;
    while (at < len) {
        uint16_t al, nf;
        memcpy(&al, buf + at, 2);
        bool mine = al == strlen(account) && memcmp(buf + at + 2, account, al) == 0;
        at += 2 + al + 8;
        memcpy(&nf, buf + at, 2);
        at += 2;
        for (uint16_t i = 0; i < nf; i++, at += 10) {
            uint16_t k;
            int64_t v;
            memcpy(&k, buf + at, 2);
            memcpy(&v, buf + at + 2, 8);
            if (mine && k == want)
                found = v;
        }
    }
    return found;
}

static void put_values(struct vigil_cnt_batch *b, const char *account, const char *detector,
                       int64_t v, int64_t wall)
{
    struct vigil_counter c[2] = {{"calls", v}, {"minutes", 2 * v}};
    assert_int_equal(vigil_cnt_batch_put_values(b, account, detector, c, 2, 0, wall), 0);
}

/* A worker's batch travels in buffers of whole accounts, each account once however many
 * ticks and detectors put it, the latest values winning; the publisher's batch then writes
 * one HSET per account. */
static void test_pack_round_trip(void **state)
{
    struct fixture *f = *state;
    struct vigil_cnt_batch *w = vigil_cnt_batch_create("", TTL_S, 1);
    assert_non_null(w);
    char acc[32];
    for (int tick = 0; tick < 3; tick++) {
        for (int i = 0; i < 500; i++) {
            snprintf(acc, sizeof acc, "acc-%d", i);
            put_values(w, acc, "toll_fraud", 10 * tick + i, 1000 + tick);
            put_values(w, acc, "bulk_sms", tick, 1000 + tick);
        }
    }
    assert_int_equal(vigil_cnt_batch_dirty(w), 500);
    static char buf[4096];
    size_t len, packs = 0, dropped = 0;
    int records = 0;
    int64_t seen_calls = -1, seen_updated = -1;
    while ((len = vigil_cnt_batch_pack(w, buf, sizeof buf, &dropped)) > 0) {
        assert_true(len <= sizeof buf);
        packs++;
        int64_t v = packed_value(buf, len, "acc-7", "toll_fraud:calls");
        if (v >= 0) {
            seen_calls = v;
            seen_updated = packed_value(buf, len, "acc-7", "toll_fraud:updated_ms");
        }
        int n = vigil_cnt_batch_put_packed(f->b, buf, len);
        assert_true(n > 0);
        records += n;
    }
    assert_int_equal(dropped, 0);
    assert_int_equal(records, 500);
    assert_true(packs > 1 && packs < 100); /* many accounts per buffer */
    assert_int_equal(vigil_cnt_batch_dirty(w), 0);
    assert_int_equal(seen_calls, 27);  /* the last tick's value */
    assert_int_equal(seen_updated, 1002);
    assert_int_equal(vigil_cnt_batch_dirty(f->b), 500);
    assert_int_equal(vigil_cnt_batch_flush(f->b, f->r, 10000), 0);
    assert_int_equal(vigil_redis_pending(f->r), 2 * 500); /* HSET + first EXPIRE each */
    vigil_cnt_batch_destroy(w);
}

/* An account put again after it was packed, while others still wait, travels again. */
static void test_pack_changed_again(void **state)
{
    struct fixture *f = *state;
    struct vigil_cnt_batch *w = vigil_cnt_batch_create("", TTL_S, 1);
    assert_non_null(w);
    put_values(w, "acc-a", "premium", 1, 1000);
    put_values(w, "acc-b", "premium", 1, 1000);
    static char buf[4096];
    /* Room for one record only: the first pack takes one account. */
    size_t one = vigil_cnt_batch_pack(w, buf, sizeof buf, NULL);
    assert_true(one > 0);
    assert_int_equal(vigil_cnt_batch_put_packed(f->b, buf, one), 2); /* both fit 4 KiB */
    put_values(w, "acc-a", "premium", 5, 2000);
    assert_int_equal(vigil_cnt_batch_dirty(w), 1);
    size_t len = vigil_cnt_batch_pack(w, buf, sizeof buf, NULL);
    assert_int_equal(packed_value(buf, len, "acc-a", "premium:calls"), 5);
    assert_int_equal(vigil_cnt_batch_pack(w, buf, sizeof buf, NULL), 0);

    /* Now with a buffer of one record (len): the rest waits for the next. */
    put_values(w, "acc-a", "premium", 6, 3000);
    put_values(w, "acc-b", "premium", 6, 3000);
    size_t first = vigil_cnt_batch_pack(w, buf, len, NULL);
    assert_int_equal(first, len);
    assert_int_equal(vigil_cnt_batch_dirty(w), 1);
    const char *again = packed_value(buf, first, "acc-a", "premium:calls") == 6 ? "acc-a"
                                                                               : "acc-b";
    put_values(w, again, "premium", 7, 4000);
    assert_int_equal(vigil_cnt_batch_dirty(w), 2);
    size_t packs = 0, l;
    int64_t latest = -1;
    while ((l = vigil_cnt_batch_pack(w, buf, len, NULL)) > 0) {
        packs++;
        if (packed_value(buf, l, again, "premium:calls") >= 0)
            latest = packed_value(buf, l, again, "premium:calls");
    }
    assert_int_equal(packs, 2);
    assert_int_equal(latest, 7);
    vigil_cnt_batch_destroy(w);
}

/* An account whose record cannot fit a buffer is dropped and counted, not looped on; a
 * truncated buffer is refused. */
static void test_pack_limits(void **state)
{
    struct fixture *f = *state;
    struct vigil_cnt_batch *w = vigil_cnt_batch_create("", TTL_S, 1);
    assert_non_null(w);
    put_values(w, "acc-a", "premium", 1, 1000);
    char small[16];
    size_t dropped = 0;
    assert_int_equal(vigil_cnt_batch_pack(w, small, sizeof small, &dropped), 0);
    assert_int_equal(dropped, 1);
    assert_int_equal(vigil_cnt_batch_dirty(w), 0);

    put_values(w, "acc-a", "premium", 1, 1000);
    static char buf[4096];
    size_t len = vigil_cnt_batch_pack(w, buf, sizeof buf, NULL);
    assert_true(len > 20);
    assert_int_equal(vigil_cnt_batch_put_packed(f->b, buf, len - 3), VIGIL_ERR_INVALID);
    assert_int_equal(vigil_cnt_batch_put_packed(f->b, buf, 1), VIGIL_ERR_INVALID);

    struct vigil_counter c = {.value = 1};
    char name[VIGIL_OUT_NAME_MAX + 1];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    c.name = name;
    assert_int_equal(vigil_cnt_batch_put_values(w, "acc-a", "premium", &c, 1, 0, 1000),
                     VIGIL_ERR_INVALID);
    vigil_cnt_batch_destroy(w);
}

/* The integer formatting the argv-built commands use (redis_sink.h), against printf's. */
static void test_fmt_int(void **state)
{
    (void)state;
    const int64_t v[] = {0, 7, -1, 10, 1234567890123LL, INT64_MAX, INT64_MIN, -42};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char got[24], want[24];
        size_t n = vigil_redis_fmt_int(got, v[i]);
        got[n] = '\0';
        snprintf(want, sizeof want, "%lld", (long long)v[i]);
        assert_string_equal(got, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_command_per_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accounts_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renewals_remembered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_longer_ttl_renews, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_changed_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_limits, setup, teardown),
        cmocka_unit_test(test_fmt_int),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

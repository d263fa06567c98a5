/* SPDX-License-Identifier: Apache-2.0 */
/* test_acct_table.c - the per-thread account table: insert-or-get, find, growth, removal by
 * backward shift, iteration by entry number, key limits; checked against a plain array. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/acct_table.h"

struct val {
    uint64_t n;
    char tag[24];
};

static void key_of(char *buf, size_t len, unsigned i)
{
    snprintf(buf, len, "acc-%u", i);
}

static void test_create_destroy(void **unused)
{
    (void)unused;
    vigil_acct_table_destroy(NULL);
    struct vigil_acct_table *t = vigil_acct_table_create(sizeof(struct val), 0);
    assert_non_null(t);
    assert_int_equal(vigil_acct_table_count(t), 0);
    assert_null(vigil_acct_table_find(t, "acc-1"));
    assert_null(vigil_acct_table_at(t, 0, NULL));
    assert_false(vigil_acct_table_remove(t, "acc-1"));
    vigil_acct_table_destroy(t);
}

static void test_get_inserts_zeroed_once(void **unused)
{
    (void)unused;
    struct vigil_acct_table *t = vigil_acct_table_create(sizeof(struct val), 4);
    bool created = false;
    struct val *v = vigil_acct_table_get(t, "acc-1042", &created);
    assert_non_null(v);
    assert_true(created);
    assert_int_equal(v->n, 0);
    assert_string_equal(v->tag, "");
    v->n = 7;
    /* Values are 16-byte aligned, whatever their size. */
    assert_int_equal((uintptr_t)v % 16, 0);

    struct val *again = vigil_acct_table_get(t, "acc-1042", &created);
    assert_false(created);
    assert_ptr_equal(again, v);
    assert_int_equal(again->n, 7);
    assert_ptr_equal(vigil_acct_table_find(t, "acc-1042"), v);
    assert_null(vigil_acct_table_find(t, "acc-104"));
    assert_null(vigil_acct_table_find(t, "acc-10420"));
    assert_int_equal(vigil_acct_table_count(t), 1);

    const char *key = NULL;
    assert_ptr_equal(vigil_acct_table_at(t, 0, &key), v);
    assert_string_equal(key, "acc-1042");
    assert_int_equal(vigil_acct_table_index(t, v), 0);
    vigil_acct_table_destroy(t);
}

static void test_key_limits(void **unused)
{
    (void)unused;
    struct vigil_acct_table *t = vigil_acct_table_create(8, 0);
    char k64[VIGIL_ACCT_KEY_MAX + 1], k65[VIGIL_ACCT_KEY_MAX + 2];
    memset(k64, 'a', VIGIL_ACCT_KEY_MAX);
    k64[VIGIL_ACCT_KEY_MAX] = '\0';
    memset(k65, 'a', VIGIL_ACCT_KEY_MAX + 1);
    k65[VIGIL_ACCT_KEY_MAX + 1] = '\0';
    bool created = true;
    assert_null(vigil_acct_table_get(t, "", &created));
    assert_false(created);
    assert_null(vigil_acct_table_get(t, NULL, NULL));
    assert_null(vigil_acct_table_get(t, k65, NULL));
    assert_null(vigil_acct_table_find(t, k65));
    assert_non_null(vigil_acct_table_get(t, k64, &created));
    assert_true(created);
    const char *key;
    vigil_acct_table_at(t, 0, &key);
    assert_string_equal(key, k64);
    assert_int_equal(vigil_acct_table_count(t), 1);
    /* Keys that share a prefix, differ in length only, or in one byte stay distinct. */
    k64[VIGIL_ACCT_KEY_MAX - 1] = 'b';
    assert_null(vigil_acct_table_find(t, k64));
    assert_non_null(vigil_acct_table_get(t, "a", NULL));
    assert_non_null(vigil_acct_table_get(t, "aa", NULL));
    assert_int_equal(vigil_acct_table_count(t), 3);
    vigil_acct_table_destroy(t);
}

/* Many keys: growth from the smallest size keeps every value and entry number. */
static void test_growth_many_keys(void **unused)
{
    (void)unused;
    enum { N = 100000 };
    struct vigil_acct_table *t = vigil_acct_table_create(sizeof(struct val), 0);
    char key[32];
    for (unsigned i = 0; i < N; i++) {
        key_of(key, sizeof key, i);
        bool created;
        struct val *v = vigil_acct_table_get(t, key, &created);
        assert_non_null(v);
        assert_true(created);
        v->n = i;
        snprintf(v->tag, sizeof v->tag, "t%u", i);
        assert_int_equal(vigil_acct_table_index(t, v), i);
    }
    assert_int_equal(vigil_acct_table_count(t), N);
    for (unsigned i = 0; i < N; i++) {
        key_of(key, sizeof key, i);
        struct val *v = vigil_acct_table_find(t, key);
        assert_non_null(v);
        assert_int_equal(v->n, i);
        char tag[24];
        snprintf(tag, sizeof tag, "t%u", i);
        assert_string_equal(v->tag, tag);
        /* Inserts append: entry numbers are insertion order until something is removed. */
        const char *k;
        assert_ptr_equal(vigil_acct_table_at(t, i, &k), v);
        assert_string_equal(k, key);
    }
    key_of(key, sizeof key, N);
    assert_null(vigil_acct_table_find(t, key));
    vigil_acct_table_destroy(t);
}

/* Removal by backward shift: after removing every third key (in an order that splits probe
 * clusters in all places), every other key is still found and re-inserting works. */
static void test_remove(void **unused)
{
    (void)unused;
    enum { N = 20000 };
    struct vigil_acct_table *t = vigil_acct_table_create(sizeof(struct val), 0);
    char key[32];
    for (unsigned i = 0; i < N; i++) {
        key_of(key, sizeof key, i);
        ((struct val *)vigil_acct_table_get(t, key, NULL))->n = i;
    }
    for (unsigned i = N; i-- > 0;) {
        if (i % 3 != 0)
            continue;
        key_of(key, sizeof key, i);
        assert_true(vigil_acct_table_remove(t, key));
        assert_false(vigil_acct_table_remove(t, key));
    }
    assert_int_equal(vigil_acct_table_count(t), N - (N + 2) / 3);
    for (unsigned i = 0; i < N; i++) {
        key_of(key, sizeof key, i);
        struct val *v = vigil_acct_table_find(t, key);
        if (i % 3 == 0) {
            assert_null(v);
        } else {
            assert_non_null(v);
            assert_int_equal(v->n, i);
        }
    }
    /* Re-insert the removed ones: fresh zeroed values. */
    for (unsigned i = 0; i < N; i += 3) {
        key_of(key, sizeof key, i);
        bool created;
        struct val *v = vigil_acct_table_get(t, key, &created);
        assert_true(created);
        assert_int_equal(v->n, 0);
        v->n = i;
    }
    assert_int_equal(vigil_acct_table_count(t), N);
    for (unsigned i = 0; i < N; i++) {
        key_of(key, sizeof key, i);
        assert_int_equal(((struct val *)vigil_acct_table_find(t, key))->n, i);
    }
    /* Remove everything: the table is empty and still usable. */
    for (unsigned i = 0; i < N; i++) {
        key_of(key, sizeof key, i);
        assert_true(vigil_acct_table_remove(t, key));
    }
    assert_int_equal(vigil_acct_table_count(t), 0);
    assert_non_null(vigil_acct_table_get(t, "acc-x", NULL));
    assert_int_equal(vigil_acct_table_count(t), 1);
    vigil_acct_table_destroy(t);
}

/* Iteration by entry number visits every entry once; removal while walking down is safe. */
static void test_iterate_and_sweep(void **unused)
{
    (void)unused;
    enum { N = 5000 };
    static unsigned char seen[N];
    struct vigil_acct_table *t = vigil_acct_table_create(sizeof(struct val), 0);
    char key[32];
    for (unsigned i = 0; i < N; i++) {
        key_of(key, sizeof key, i);
        ((struct val *)vigil_acct_table_get(t, key, NULL))->n = i;
    }
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < vigil_acct_table_count(t); i++) {
        const char *k;
        struct val *v = vigil_acct_table_at(t, i, &k);
        key_of(key, sizeof key, (unsigned)v->n);
        assert_string_equal(k, key);
        seen[v->n]++;
    }
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);

    /* Sweep: drop the odd ones while walking down. */
    memset(seen, 0, sizeof seen);
    for (size_t i = vigil_acct_table_count(t); i-- > 0;) {
        struct val *v = vigil_acct_table_at(t, i, NULL);
        seen[v->n]++;
        if (v->n % 2)
            vigil_acct_table_remove_at(t, i);
    }
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(vigil_acct_table_count(t), N / 2);
    for (unsigned i = 0; i < N; i++) {
        key_of(key, sizeof key, i);
        struct val *v = vigil_acct_table_find(t, key);
        if (i % 2) {
            assert_null(v);
        } else {
            assert_non_null(v);
            assert_int_equal(v->n, i);
            assert_int_equal(vigil_acct_table_index(t, v) < N / 2, 1);
        }
    }
    vigil_acct_table_remove_at(t, N); /* out of range: nothing */
    assert_int_equal(vigil_acct_table_count(t), N / 2);
    vigil_acct_table_destroy(t);
}

/* A zero-sized value makes a set; a large one (the toll-fraud per-account state is ~2 KB)
 * survives growth byte for byte. */
static void test_value_sizes(void **unused)
{
    (void)unused;
    struct vigil_acct_table *set = vigil_acct_table_create(0, 0);
    assert_non_null(vigil_acct_table_get(set, "a", NULL));
    assert_non_null(vigil_acct_table_find(set, "a"));
    assert_null(vigil_acct_table_find(set, "b"));
    vigil_acct_table_destroy(set);

    enum { SZ = 2000, N = 300 };
    struct vigil_acct_table *big = vigil_acct_table_create(SZ, 0);
    char key[32];
    for (unsigned i = 0; i < N; i++) {
        key_of(key, sizeof key, i);
        unsigned char *v = vigil_acct_table_get(big, key, NULL);
        memset(v, (int)(i & 0xff), SZ);
    }
    for (unsigned i = 0; i < N; i++) {
        key_of(key, sizeof key, i);
        unsigned char *v = vigil_acct_table_find(big, key);
        assert_non_null(v);
        assert_int_equal(v[0], i & 0xff);
        assert_int_equal(v[SZ - 1], i & 0xff);
    }
    vigil_acct_table_destroy(big);
}

/* Against a model: a random mix of get/remove/find over a small key space, so probe clusters
 * form, wrap around the end of the index and are cut by backward shifts. */
static void test_random_against_model(void **unused)
{
    (void)unused;
    enum { KEYS = 700, OPS = 200000 };
    static uint64_t model[KEYS]; /* 0 = absent, else value + 1 */
    memset(model, 0, sizeof model);
    struct vigil_acct_table *t = vigil_acct_table_create(sizeof(uint64_t), 0);
    uint64_t x = 88172645463325252ULL;
    size_t present = 0;
    char key[32];
    for (unsigned op = 0; op < OPS; op++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned k = (unsigned)(x % KEYS);
        key_of(key, sizeof key, k);
        switch ((x >> 32) % 3) {
        case 0: {
            bool created;
            uint64_t *v = vigil_acct_table_get(t, key, &created);
            assert_int_equal(created, model[k] == 0);
            if (created)
                present++;
            *v = op;
            model[k] = (uint64_t)op + 1;
            break;
        }
        case 1:
            assert_int_equal(vigil_acct_table_remove(t, key), model[k] != 0);
            if (model[k])
                present--;
            model[k] = 0;
            break;
        default: {
            uint64_t *v = vigil_acct_table_find(t, key);
            if (model[k])
                assert_int_equal(*v, model[k] - 1);
            else
                assert_null(v);
        }
        }
        assert_int_equal(vigil_acct_table_count(t), present);
    }
    vigil_acct_table_destroy(t);
}

static void test_hash(void **unused)
{
    (void)unused;
    /* Deterministic, and neighbouring ids differ in their low bits. */
    assert_int_equal(vigil_acct_table_hash("acc-1", 5), vigil_acct_table_hash("acc-1", 5));
    unsigned low[16] = {0};
    char key[32];
    for (unsigned i = 0; i < 1600; i++) {
        key_of(key, sizeof key, i);
        low[vigil_acct_table_hash(key, strlen(key)) & 15]++;
    }
    for (int b = 0; b < 16; b++) {
        assert_in_range(low[b], 50, 150);
    }
}

/* The dirty-account list: grows from empty, keeps order when its handled front is consumed,
 * and is empty but usable after fini. */
static void test_idx_list(void **state)
{
    (void)state;
    struct vigil_idx_list l = {0};
    for (uint32_t i = 0; i < 1000; i++)
        assert_int_equal(vigil_idx_list_push(&l, i * 3), 0);
    assert_int_equal(l.n, 1000);
    assert_true(l.cap >= 1000);
    vigil_idx_list_consume(&l, 0);
    assert_int_equal(l.n, 1000);
    vigil_idx_list_consume(&l, 998);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.v[0], 998 * 3);
    assert_int_equal(l.v[1], 999 * 3);
    vigil_idx_list_consume(&l, 2);
    assert_int_equal(l.n, 0);
    vigil_idx_list_fini(&l);
    assert_null(l.v);
    assert_int_equal(vigil_idx_list_push(&l, 7), 0);
    assert_int_equal(l.v[0], 7);
    vigil_idx_list_fini(&l);
}

/* Removing entry `hole` moves the last entry into it: the list forgets the hole and follows
 * the moved entry, in order; entries that are neither stay as they were. */
static void test_idx_list_renumber(void **state)
{
    (void)state;
    struct vigil_idx_list l = {0};
    const uint32_t in[] = {4, 9, 2, 7};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(vigil_idx_list_push(&l, in[i]), 0);
    vigil_idx_list_renumber(&l, 2, 9); /* 2 removed, 9 (the last) moves to 2 */
    assert_int_equal(l.n, 3);
    assert_int_equal(l.v[0], 4);
    assert_int_equal(l.v[1], 2);
    assert_int_equal(l.v[2], 7);
    vigil_idx_list_renumber(&l, 7, 7); /* the last entry itself removed */
    assert_int_equal(l.n, 2);
    vigil_idx_list_renumber(&l, 5, 8); /* neither listed */
    assert_int_equal(l.n, 2);
    assert_int_equal(l.v[0], 4);
    assert_int_equal(l.v[1], 2);
    vigil_idx_list_fini(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_list),
        cmocka_unit_test(test_idx_list_renumber),
        cmocka_unit_test(test_create_destroy), cmocka_unit_test(test_get_inserts_zeroed_once),
        cmocka_unit_test(test_key_limits),     cmocka_unit_test(test_growth_many_keys),
        cmocka_unit_test(test_remove),         cmocka_unit_test(test_iterate_and_sweep),
        cmocka_unit_test(test_value_sizes),    cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

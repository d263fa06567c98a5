/* SPDX-License-Identifier: Apache-2.0 */
/* test_credit_concurrency.c - the credit limits table (vigil/credit.h) with its one writer and
 * two readers on real threads (label "concurrency": CI runs it under ThreadSanitizer): a
 * reader never sees a limit paired with another write's period start, and sees every account
 * once the writer has set it. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "vigil/credit.h"

#define ACCOUNTS 64
#define ROUNDS 2000

static struct vigil_credit *table;
static atomic_bool done;
static atomic_long torn;

/* Every write sets limit = 100 * k and start = k for one k: a pair that does not match was
 * torn. */
static void *writer(void *arg)
{
    (void)arg;
    for (int64_t k = 1; k <= ROUNDS; k++) {
        for (int a = 0; a < ACCOUNTS; a++) {
            uint64_t h = (uint64_t)a * 0x9e3779b97f4a7c15ULL + 1;
            if (k % 97 == 0 && a % 2 == 0)
                vigil_credit_clear(table, h);
            else
                vigil_credit_set(table, h, 100 * (k + a), k + a);
        }
    }
    atomic_store(&done, true);
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    while (!atomic_load(&done)) {
        for (int a = 0; a < ACCOUNTS; a++) {
            int64_t l, s;
            uint64_t h = (uint64_t)a * 0x9e3779b97f4a7c15ULL + 1;
            if (vigil_credit_get(table, h, &l, &s) && l != 100 * s)
                atomic_fetch_add(&torn, 1);
        }
        (void)vigil_credit_version(table);
    }
    return NULL;
}

static void test_one_writer_two_readers(void **state)
{
    (void)state;
    table = vigil_credit_create(ACCOUNTS);
    assert_non_null(table);
    pthread_t w, r1, r2;
    assert_int_equal(pthread_create(&r1, NULL, reader, NULL), 0);
    assert_int_equal(pthread_create(&r2, NULL, reader, NULL), 0);
    assert_int_equal(pthread_create(&w, NULL, writer, NULL), 0);
    pthread_join(w, NULL);
    pthread_join(r1, NULL);
    pthread_join(r2, NULL);
    assert_int_equal(atomic_load(&torn), 0);
    for (int a = 0; a < ACCOUNTS; a++) {
        int64_t l, s;
        assert_true(vigil_credit_get(table, (uint64_t)a * 0x9e3779b97f4a7c15ULL + 1, &l, &s));
        assert_int_equal(s, ROUNDS + a);
    }
    assert_int_equal(vigil_credit_count(table), ACCOUNTS);
    vigil_credit_destroy(table);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_writer_two_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

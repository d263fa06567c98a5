/* SPDX-License-Identifier: Apache-2.0 */
/* test_text.c - vigil_text_copy, vigil_text_copyn and vigil_text_hex64 write what the
 * snprintf calls they replace wrote, byte for byte, and never past their bound. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/text.h"

#define GUARD 8
#define FILL 'x'

/* dst[0..cap) after vigil_text_copyn equals what snprintf("%.*s") wrote, the return value is
 * the length written, and nothing past cap is touched. */
static void check_copyn(const char *src, size_t n, size_t cap)
{
    char got[64 + GUARD], want[64 + GUARD];
    assert_true(cap <= 64);
    memset(got, FILL, sizeof got);
    memset(want, FILL, sizeof want);
    size_t len = vigil_text_copyn(got, cap, src, n);
    int prec = n > 1000 ? 1000 : (int)n;
    /* Truncating is the point: the reference is snprintf's own truncation. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
    if (cap > 0)
        snprintf(want, cap, "%.*s", prec, src);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
    assert_memory_equal(got, want, sizeof got);
    if (cap > 0)
        assert_int_equal(len, strlen(got));
    else
        assert_int_equal(len, 0);
}

static void test_copy_fits(void **state)
{
    (void)state;
    char buf[16];
    memset(buf, FILL, sizeof buf);
    assert_int_equal(vigil_text_copy(buf, sizeof buf, "ev-1"), 4);
    assert_string_equal(buf, "ev-1");
    assert_int_equal(buf[5], FILL); /* nothing past the NUL */
    assert_int_equal(vigil_text_copy(buf, sizeof buf, ""), 0);
    assert_string_equal(buf, "");
    /* Exactly cap - 1 bytes: all of them fit. */
    assert_int_equal(vigil_text_copy(buf, sizeof buf, "0123456789abcde"), 15);
    assert_string_equal(buf, "0123456789abcde");
}

static void test_copy_truncates(void **state)
{
    (void)state;
    char buf[8 + GUARD];
    memset(buf, FILL, sizeof buf);
    assert_int_equal(vigil_text_copy(buf, 8, "0123456789"), 7);
    assert_string_equal(buf, "0123456");
    for (size_t i = 8; i < sizeof buf; i++)
        assert_int_equal(buf[i], FILL);
    /* cap 1: only the NUL; cap 0: nothing at all. */
    memset(buf, FILL, sizeof buf);
    assert_int_equal(vigil_text_copy(buf, 1, "abc"), 0);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[1], FILL);
    memset(buf, FILL, sizeof buf);
    assert_int_equal(vigil_text_copy(buf, 0, "abc"), 0);
    assert_int_equal(buf[0], FILL);
}

static void test_copyn_like_snprintf(void **state)
{
    (void)state;
    const char *srcs[] = {"", "a", "+31612345678", "sender-with-a-long-name-0123456789"};
    for (size_t s = 0; s < sizeof srcs / sizeof srcs[0]; s++) {
        for (size_t n = 0; n <= 40; n++) {
            for (size_t cap = 0; cap <= 40; cap++)
                check_copyn(srcs[s], n, cap);
        }
        check_copyn(srcs[s], SIZE_MAX, 64);
        check_copyn(srcs[s], SIZE_MAX, 5);
    }
}

/* The source need not be NUL-terminated within n bytes when n bounds it. */
static void test_copyn_unterminated(void **state)
{
    (void)state;
    const char src[4] = {'a', 'b', 'c', 'd'};
    char buf[8];
    assert_int_equal(vigil_text_copyn(buf, sizeof buf, src, sizeof src), 4);
    assert_string_equal(buf, "abcd");
    assert_int_equal(vigil_text_copyn(buf, 3, src, sizeof src), 2);
    assert_string_equal(buf, "ab");
}

static void check_hex(uint64_t v)
{
    char got[VIGIL_HEX64_LEN + 1 + GUARD], want[VIGIL_HEX64_LEN + 1 + GUARD];
    memset(got, FILL, sizeof got);
    memset(want, FILL, sizeof want);
    assert_int_equal(vigil_text_hex64(got, v), VIGIL_HEX64_LEN);
    snprintf(want, VIGIL_HEX64_LEN + 1, "%016" PRIx64, v);
    assert_memory_equal(got, want, sizeof got);
}

static void test_hex64(void **state)
{
    (void)state;
    char buf[VIGIL_HEX64_LEN + 1];
    vigil_text_hex64(buf, 0);
    assert_string_equal(buf, "0000000000000000");
    vigil_text_hex64(buf, UINT64_MAX);
    assert_string_equal(buf, "ffffffffffffffff");
    vigil_text_hex64(buf, 0x0123456789abcdefULL);
    assert_string_equal(buf, "0123456789abcdef");
    check_hex(1);
    check_hex(0x8000000000000000ULL);
    /* A spread of values (xorshift), each digit position through every digit. */
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 10000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        check_hex(x);
        check_hex(x >> (i % 64));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_fits),
        cmocka_unit_test(test_copy_truncates),
        cmocka_unit_test(test_copyn_like_snprintf),
        cmocka_unit_test(test_copyn_unterminated),
        cmocka_unit_test(test_hex64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* test_state_codec.c - the checkpoint encoding (state_codec.h): the exact little-endian
 * bytes, a round trip, and refusal of truncated, extended, wrong-version and out-of-range
 * records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/state_codec.h"
#include "vigil/status.h"

#define VER 7

/* One record of every kind of field. */
static void write_sample(struct vigil_bytes *b)
{
    struct vigil_state_writer w;
    vigil_state_write_begin(&w, b, VER);
    vigil_state_put_u8(&w, 0xab);
    vigil_state_put_u16(&w, 0x1234);
    vigil_state_put_u32(&w, 0x89abcdefu);
    vigil_state_put_u64(&w, 0x0102030405060708ull);
    vigil_state_put_i32(&w, -2);
    vigil_state_put_i64(&w, 1795399800000LL);
    vigil_state_put_bool(&w, true);
    vigil_state_put_u32(&w, 3); /* a count, at most 3 */
    vigil_state_put_raw(&w, "abc", 4);
    vigil_state_put_i64(&w, -1); /* a time or -1 */
    vigil_state_put_u8(&w, 16);  /* a one-byte count, at most 16 */
    vigil_state_put_f64(&w, -0.125);
    assert_int_equal(vigil_state_write_end(&w), 0);
}

/* Reads write_sample's record back; returns read_end's verdict. */
static int read_sample(const void *p, size_t len, bool check_values)
{
    struct vigil_bytes_reader r;
    vigil_state_read_begin(&r, p, len, VER);
    uint8_t u8 = vigil_state_get_u8(&r);
    uint16_t u16 = vigil_state_get_u16(&r);
    uint32_t u32 = vigil_state_get_u32(&r);
    uint64_t u64 = vigil_state_get_u64(&r);
    int32_t i32 = vigil_state_get_i32(&r);
    int64_t t = vigil_state_get_time(&r);
    bool b = vigil_state_get_bool(&r);
    uint32_t n = vigil_state_get_count(&r, 3);
    char s[4];
    vigil_state_get_raw(&r, s, sizeof s);
    vigil_state_check(&r, vigil_saved_str_ok(s, sizeof s));
    int64_t t2 = vigil_state_get_time_or(&r, -1);
    uint8_t n8 = vigil_state_get_count8(&r, 16);
    double f = vigil_state_get_f64(&r);
    int rc = vigil_state_read_end(&r);
    if (check_values && rc == 0) {
        assert_int_equal(u8, 0xab);
        assert_int_equal(u16, 0x1234);
        assert_int_equal(u32, 0x89abcdefu);
        assert_true(u64 == 0x0102030405060708ull);
        assert_int_equal(i32, -2);
        assert_true(t == 1795399800000LL);
        assert_true(b);
        assert_int_equal(n, 3);
        assert_string_equal(s, "abc");
        assert_true(t2 == -1);
        assert_int_equal(n8, 16);
        assert_true(f == -0.125);
    }
    return rc;
}

/* The bytes are little-endian whatever the host, and read back to the same values. */
static void test_exact_bytes_and_round_trip(void **state)
{
    (void)state;
    struct vigil_bytes b = {0};
    write_sample(&b);
    static const unsigned char head[] = {VER,  0xab, 0x34, 0x12, 0xef, 0xcd, 0xab,
                                         0x89, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03,
                                         0x02, 0x01, 0xfe, 0xff, 0xff, 0xff};
    assert_true(b.len == 1 + 1 + 2 + 4 + 8 + 4 + 8 + 1 + 4 + 4 + 8 + 1 + 8);
    assert_memory_equal(b.p, head, sizeof head);
    assert_int_equal(read_sample(b.p, b.len, true), 0);
    vigil_bytes_fini(&b);
}

/* Every strict prefix is refused, and so is the record with a byte more. */
static void test_truncated_and_extended_refused(void **state)
{
    (void)state;
    struct vigil_bytes b = {0};
    write_sample(&b);
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(read_sample(b.p, n, false), VIGIL_ERR_INVALID);
    assert_int_equal(vigil_bytes_put(&b, "", 1), 0);
    assert_int_equal(read_sample(b.p, b.len, false), VIGIL_ERR_INVALID);
    assert_int_equal(read_sample(NULL, 0, false), VIGIL_ERR_INVALID);
    vigil_bytes_fini(&b);
}

/* Another version byte is refused, as is any value out of its range: a bool of 2, a count
 * above its maximum, a negative time, a string with no NUL. */
static void test_wrong_version_and_ranges_refused(void **state)
{
    (void)state;
    struct vigil_bytes b = {0};
    write_sample(&b);
    struct {
        size_t at;
        unsigned char v;
    } bad[] = {
        {0, VER + 1},                                    /* version */
        {1 + 1 + 2 + 4 + 8 + 4 + 7, 0x80},               /* the time's top byte: negative */
        {1 + 1 + 2 + 4 + 8 + 4 + 8, 2},                  /* the bool */
        {1 + 1 + 2 + 4 + 8 + 4 + 8 + 1, 4},              /* the count: 4 > 3 */
        {1 + 1 + 2 + 4 + 8 + 4 + 8 + 1 + 4 + 3, 'x'},    /* the string's NUL */
        {1 + 1 + 2 + 4 + 8 + 4 + 8 + 1 + 4 + 4, 0xfd},   /* -3: neither a time nor -1 */
        {1 + 1 + 2 + 4 + 8 + 4 + 8 + 1 + 4 + 4 + 8, 17}, /* the one-byte count: 17 > 16 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char save = b.p[bad[i].at];
        b.p[bad[i].at] = bad[i].v;
        assert_int_equal(read_sample(b.p, b.len, false), VIGIL_ERR_INVALID);
        b.p[bad[i].at] = save;
    }
    assert_int_equal(read_sample(b.p, b.len, true), 0);
    vigil_bytes_fini(&b);
}

/* Garbage of every length never reads as a record, nor reads past its end (ASan would see). */
static void test_garbage_refused(void **state)
{
    (void)state;
    unsigned char g[64];
    uint32_t x = 12345;
    for (int round = 0; round < 2000; round++) {
        for (size_t i = 0; i < sizeof g; i++) {
            x = x * 1103515245u + 12345u;
            g[i] = (unsigned char)(x >> 16);
        }
        g[0] = round % 2 ? VER : g[0]; /* half of them past the version check */
        size_t len = (size_t)(x % sizeof g);
        /* A random count passes its check once in 2^30: refused. */
        assert_int_equal(read_sample(g, len, false), VIGIL_ERR_INVALID);
    }
}

/* A record appended after others: a failed one would be cut back (tested through a writer
 * whose error is set), a good one leaves the earlier bytes alone. */
static void test_appends_and_rolls_back(void **state)
{
    (void)state;
    struct vigil_bytes b = {0};
    assert_int_equal(vigil_bytes_put(&b, "prev", 4), 0);
    struct vigil_state_writer w;
    vigil_state_write_begin(&w, &b, VER);
    vigil_state_put_u64(&w, 1);
    w.err = VIGIL_ERR_NOMEM; /* as a failed allocation leaves it */
    vigil_state_put_u64(&w, 2);
    assert_int_equal(vigil_state_write_end(&w), VIGIL_ERR_NOMEM);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.p, "prev", 4);
    vigil_state_write_begin(&w, &b, VER);
    vigil_state_put_u16(&w, 9);
    assert_int_equal(vigil_state_write_end(&w), 0);
    assert_int_equal(b.len, 7);
    struct vigil_bytes_reader r;
    vigil_state_read_begin(&r, b.p + 4, 3, VER);
    assert_int_equal(vigil_state_get_u16(&r), 9);
    assert_int_equal(vigil_state_read_end(&r), 0);
    vigil_bytes_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_bytes_and_round_trip),
        cmocka_unit_test(test_truncated_and_extended_refused),
        cmocka_unit_test(test_wrong_version_and_ranges_refused),
        cmocka_unit_test(test_garbage_refused),
        cmocka_unit_test(test_appends_and_rolls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* test_privacy.c - number tokens: SipHash-2-4 reference vectors, stable, keyed, the key file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/privacy.h"

static const uint8_t key_a[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t key_b[16] = {0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

/* The vectors of the SipHash paper and reference implementation (key 00..0f). */
static void test_siphash_reference(void **unused)
{
    (void)unused;
    uint8_t msg[15];
    for (int i = 0; i < 15; i++)
        msg[i] = (uint8_t)i;
    assert_true(vigil_siphash24(key_a, msg, 0) == 0x726fdb47dd0e0e31ULL);
    assert_true(vigil_siphash24(key_a, msg, 15) == 0xa129ca6149be45e5ULL);
}

static void test_token_stable_and_keyed(void **unused)
{
    (void)unused;
    char t1[VIGIL_PRIVACY_TOKEN_LEN + 1], t2[VIGIL_PRIVACY_TOKEN_LEN + 1];
    char t3[VIGIL_PRIVACY_TOKEN_LEN + 1], t4[VIGIL_PRIVACY_TOKEN_LEN + 1];
    const char *n = "+31612345678";
    vigil_privacy_token_with(key_a, n, strlen(n), t1);
    vigil_privacy_token_with(key_a, n, strlen(n), t2);
    vigil_privacy_token_with(key_b, n, strlen(n), t3);
    vigil_privacy_token_with(key_a, "+31612345679", 12, t4);
    assert_int_equal(strlen(t1), VIGIL_PRIVACY_TOKEN_LEN);
    assert_memory_equal(t1, "pn:", 3);
    assert_string_equal(t1, t2);     /* same number, same key: same token */
    assert_string_not_equal(t1, t3); /* another key: another token */
    assert_string_not_equal(t1, t4); /* another number: another token */
    assert_null(strstr(t1, "612345678"));
}

static void test_show_follows_the_switch(void **unused)
{
    (void)unused;
    char buf[VIGIL_PRIVACY_TOKEN_LEN + 1], want[VIGIL_PRIVACY_TOKEN_LEN + 1];
    vigil_privacy_clear();
    assert_false(vigil_privacy_enabled());
    assert_string_equal(vigil_privacy_show("+31201234567", buf), "+31201234567");
    vigil_privacy_set_key(key_b);
    assert_true(vigil_privacy_enabled());
    vigil_privacy_token_with(key_b, "+31201234567", 12, want);
    assert_string_equal(vigil_privacy_show("+31201234567", buf), want);
    assert_string_equal(vigil_privacy_token("+31201234567", buf), want);
    assert_true(vigil_privacy_hash("+31201234567", 12) ==
                vigil_siphash24(key_b, "+31201234567", 12));
    assert_string_equal(vigil_privacy_show("", buf), "");
    vigil_privacy_clear();
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_key_file(void **unused)
{
    (void)unused;
    char path[] = "/tmp/vigil-test-key-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    uint8_t key[16];
    char err[256];
    write_file(path, "000102030405060708090a0B0c0D0e0f\n");
    assert_int_equal(vigil_privacy_read_key(path, key, err, sizeof err), 0);
    assert_memory_equal(key, key_a, 16);
    write_file(path, "0001020304\n");
    assert_int_equal(vigil_privacy_read_key(path, key, err, sizeof err), -1);
    assert_non_null(strstr(err, "32 hex digits"));
    assert_null(strstr(err, "0001020304")); /* never the content */
    write_file(path, "zz0102030405060708090a0b0c0d0e0f\n");
    assert_int_equal(vigil_privacy_read_key(path, key, err, sizeof err), -1);
    unlink(path);
    assert_int_equal(vigil_privacy_read_key(path, key, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read"));
    assert_int_equal(vigil_privacy_read_key("", key, err, sizeof err), -1);
    assert_non_null(strstr(err, "privacy.key_file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash_reference),
        cmocka_unit_test(test_token_stable_and_keyed),
        cmocka_unit_test(test_show_follows_the_switch),
        cmocka_unit_test(test_key_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

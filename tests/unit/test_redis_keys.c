/* SPDX-License-Identifier: Apache-2.0 */
/* test_redis_keys.c - the Redis key names vigild writes and vigilctl reads, as the README's
 * "Redis layout" lists them, and a key that does not fit is refused, not truncated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "redis_keys.h"

static void expect_key(enum vigil_rkey k, const char *account, const char *detector,
                       const char *want)
{
    char buf[128];
    assert_int_equal(vigil_redis_key(buf, sizeof buf, "vigil:", k, account, detector), 0);
    assert_string_equal(buf, want);
}

static void test_names(void **state)
{
    expect_key(VIGIL_RKEY_BLOCK, "acc-1", NULL, "vigil:block:acc-1");
    expect_key(VIGIL_RKEY_BLOCKS, NULL, NULL, "vigil:blocks");
    expect_key(VIGIL_RKEY_COUNTERS, "acc-1", "toll_fraud", "vigil:cnt:acc-1:toll_fraud");
    expect_key(VIGIL_RKEY_COUNTERS, "acc-1", NULL, "vigil:cnt:acc-1");
    expect_key(VIGIL_RKEY_ALERTS, "acc-1", NULL, "vigil:alerts:acc-1");
    expect_key(VIGIL_RKEY_FLAGGED, NULL, NULL, "vigil:flagged");
    expect_key(VIGIL_RKEY_CREDIT, NULL, NULL, "vigil:credit");
    expect_key(VIGIL_RKEY_BRAKE, NULL, NULL, "vigil:brake");
    expect_key(VIGIL_RKEY_BRAKE_ENGAGED, NULL, NULL, "vigil:brake:engaged");
    expect_key(VIGIL_RKEY_HELD, NULL, NULL, "vigil:held");
    char buf[32];
    assert_int_equal(vigil_redis_key(buf, sizeof buf, NULL, VIGIL_RKEY_HELD, NULL, NULL), 0);
    assert_string_equal(buf, "held");
}

static void test_too_long(void **state)
{
    char buf[16];
    /* "vigil:block:" is 12 bytes: room for a 3-byte account and the NUL, not for 4. */
    assert_int_equal(vigil_redis_key(buf, sizeof buf, "vigil:", VIGIL_RKEY_BLOCK, "abc", NULL), 0);
    assert_int_equal(vigil_redis_key(buf, sizeof buf, "vigil:", VIGIL_RKEY_BLOCK, "abcd", NULL),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

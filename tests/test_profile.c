/* SPDX-License-Identifier: Apache-2.0 */
/* test_profile.c - account profiles, KEY@profile overrides, Amsterdam local time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/config.h"
#include "vigil/profile.h"
#include "vigil/status.h"

/* A detector INT key that exists whatever else is registered. */
#define KEY "toll_fraud.concurrent_high_risk"

static void test_lookup_from_config_lists(void **state)
{
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_set(cfg, "profiles.callcenter", "acc-cc1 acc-cc2", "test"), 0);
    assert_int_equal(vigil_config_set(cfg, "profiles.service_popular", "acc-svc", "test"), 0);
    struct vigil_profiles *pr = vigil_profiles_create(cfg);
    assert_non_null(pr);
    assert_int_equal(vigil_profiles_lookup(pr, "acc-cc1"), VIGIL_PROFILE_CALLCENTER);
    assert_int_equal(vigil_profiles_lookup(pr, "acc-cc2"), VIGIL_PROFILE_CALLCENTER);
    assert_int_equal(vigil_profiles_lookup(pr, "acc-svc"), VIGIL_PROFILE_SERVICE_POPULAR);
    assert_int_equal(vigil_profiles_lookup(pr, "acc-other"), VIGIL_PROFILE_DEFAULT);
    assert_int_equal(vigil_profiles_lookup(NULL, "acc-cc1"), VIGIL_PROFILE_DEFAULT);
    assert_string_equal(vigil_profile_name(VIGIL_PROFILE_CALLCENTER), "callcenter");
    vigil_profiles_destroy(pr);
    vigil_profiles_destroy(NULL);
    vigil_config_destroy(cfg);
}

static void test_override_per_profile(void **state)
{
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    int64_t base = vigil_config_int(cfg, KEY);
    int64_t v[VIGIL_PROFILE_COUNT];
    vigil_profile_ints(cfg, KEY, v);
    for (int p = 0; p < VIGIL_PROFILE_COUNT; p++)
        assert_int_equal(v[p], base); /* nothing overridden: every profile has the base */

    assert_int_equal(vigil_config_set(cfg, KEY "@callcenter", "40", "--set"), 0);
    vigil_profile_ints(cfg, KEY, v);
    assert_int_equal(v[VIGIL_PROFILE_CALLCENTER], 40);
    assert_int_equal(v[VIGIL_PROFILE_DEFAULT], base);
    assert_int_equal(v[VIGIL_PROFILE_BUSINESS], base);

    /* The base changes every profile that has no override of its own. */
    assert_int_equal(vigil_config_set(cfg, KEY, "6", "--set"), 0);
    vigil_profile_ints(cfg, KEY, v);
    assert_int_equal(v[VIGIL_PROFILE_DEFAULT], 6);
    assert_int_equal(v[VIGIL_PROFILE_CONSUMER], 6);
    assert_int_equal(v[VIGIL_PROFILE_CALLCENTER], 40);

    /* Overrides are validated like their key, and unknown profiles are unknown keys. */
    assert_int_equal(vigil_config_set(cfg, KEY "@callcenter", "-5", "--set"), VIGIL_ERR_CONFIG);
    assert_int_equal(vigil_config_set(cfg, KEY "@callcentre", "5", "--set"), VIGIL_ERR_CONFIG);
    assert_non_null(strstr(vigil_config_errstr(cfg), "did you mean"));
    vigil_config_destroy(cfg);
}

static void test_override_in_file(void **state)
{
    char path[] = "/tmp/vigil-test-profile-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "[toll_fraud]\nconcurrent_high_risk = 7\n"
                        "concurrent_high_risk@business = 12\n"
                        "[profiles]\nbusiness = acc-b1, acc-b2\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    struct vigil_config *cfg = vigil_config_create();
    assert_int_equal(vigil_config_load_file(cfg, path), 0);
    int64_t v[VIGIL_PROFILE_COUNT];
    vigil_profile_ints(cfg, KEY, v);
    assert_int_equal(v[VIGIL_PROFILE_DEFAULT], 7);
    assert_int_equal(v[VIGIL_PROFILE_BUSINESS], 12);
    struct vigil_profiles *pr = vigil_profiles_create(cfg);
    assert_int_equal(vigil_profiles_lookup(pr, "acc-b2"), VIGIL_PROFILE_BUSINESS);
    vigil_profiles_destroy(pr);
    vigil_config_destroy(cfg);
    unlink(path);
}

static void test_amsterdam_time(void **state)
{
    struct vigil_local_time lt;
    /* 2026-11-02T08:00:00Z: Monday, 09:00 CET. */
    vigil_local_time(1793606400000LL, &lt);
    assert_int_equal(lt.wday, 1);
    assert_int_equal(lt.hour, 9);
    assert_int_equal(lt.minute, 0);
    /* 2026-07-01T12:30:00Z: Wednesday, 14:30 CEST. */
    vigil_local_time(1782909000000LL, &lt);
    assert_int_equal(lt.wday, 3);
    assert_int_equal(lt.hour, 14);
    assert_int_equal(lt.minute, 30);
    /* Summer time starts 2026-03-29 01:00Z: 00:59Z is 01:59 CET, 01:00Z is 03:00 CEST. */
    vigil_local_time(1774745940000LL, &lt);
    assert_int_equal(lt.hour, 1);
    assert_int_equal(lt.minute, 59);
    vigil_local_time(1774746000000LL, &lt);
    assert_int_equal(lt.hour, 3);
    assert_int_equal(lt.wday, 0);
    /* Summer time ends 2026-10-25 01:00Z: 00:59Z is 02:59 CEST, 01:00Z is 02:00 CET. */
    vigil_local_time(1792889940000LL, &lt);
    assert_int_equal(lt.hour, 2);
    assert_int_equal(lt.minute, 59);
    vigil_local_time(1792890000000LL, &lt);
    assert_int_equal(lt.hour, 2);
    assert_int_equal(lt.minute, 0);
    /* New Year's Eve 23:30Z is already 00:30 on Friday 2027-01-01 in Amsterdam. */
    vigil_local_time(1798759800000LL, &lt);
    assert_int_equal(lt.hour, 0);
    assert_int_equal(lt.minute, 30);
    assert_int_equal(lt.wday, 5);
}

static void test_off_hours(void **state)
{
    const int64_t monday_0900 = 1793606400000LL;
    const int64_t hour = 3600000LL;
    assert_false(vigil_off_hours(monday_0900));
    assert_false(vigil_off_hours(monday_0900 + 12 * hour + 59 * 60000)); /* 21:59 */
    assert_true(vigil_off_hours(monday_0900 + 13 * hour));              /* 22:00 */
    assert_true(vigil_off_hours(monday_0900 - 3 * hour));               /* 06:00 */
    assert_false(vigil_off_hours(monday_0900 - 2 * hour));              /* 07:00 */
    assert_true(vigil_off_hours(monday_0900 + 5 * 24 * hour));          /* Saturday 09:00 */
    assert_true(vigil_off_hours(monday_0900 - 24 * hour));              /* Sunday 09:00 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_from_config_lists),
        cmocka_unit_test(test_override_per_profile),
        cmocka_unit_test(test_override_in_file),
        cmocka_unit_test(test_amsterdam_time),
        cmocka_unit_test(test_off_hours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* test_config_levels.c - a warning level above its critical level, or a count level above
 * what is counted exactly, is refused at load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/config.h"

static void test_defaults_are_in_order(void **state)
{
    (void)state;
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_check_levels(cfg), 0);
    vigil_config_destroy(cfg);
}

static void test_warning_above_critical_is_refused(void **state)
{
    (void)state;
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_set(cfg, "toll_fraud.concurrent_high_risk_warning", "9", "t"), 0);
    assert_int_not_equal(vigil_config_check_levels(cfg), 0);
    const char *e = vigil_config_errstr(cfg);
    assert_non_null(strstr(e, "toll_fraud.concurrent_high_risk_warning = 9"));
    assert_non_null(strstr(e, "toll_fraud.concurrent_high_risk = 8"));
    /* Raising the critical level puts them in order again; 0 switches the warning off. */
    assert_int_equal(vigil_config_set(cfg, "toll_fraud.concurrent_high_risk", "10", "t"), 0);
    assert_int_equal(vigil_config_check_levels(cfg), 0);
    assert_int_equal(vigil_config_set(cfg, "bulk_sms.sms_15m_warning", "0", "t"), 0);
    assert_int_equal(vigil_config_check_levels(cfg), 0);
    vigil_config_destroy(cfg);
}

static void test_per_profile_levels_are_checked(void **state)
{
    (void)state;
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    /* A lowered critical level under a default warning level is accepted ... */
    assert_int_equal(vigil_config_set(cfg, "bulk_sms.sms_15m@business", "50", "t"), 0);
    assert_int_equal(vigil_config_check_levels(cfg), 0);
    /* ... a warning level the operator wrote above it is not. */
    assert_int_equal(vigil_config_set(cfg, "bulk_sms.sms_15m_warning@business", "60", "t"), 0);
    assert_int_not_equal(vigil_config_check_levels(cfg), 0);
    assert_non_null(strstr(vigil_config_errstr(cfg), "@business"));
    vigil_config_destroy(cfg);
}

/* Every count level is counted exactly up to 10000 (window.h's VIGIL_WIN_LEVEL_MAX): 10000 is
 * taken, 10001 refused with a message naming the key and the range (out of range 1..10000),
 * also per profile. */
static void test_count_levels_capped(void **state)
{
    (void)state;
    static const char *const keys[] = {
        "toll_fraud.velocity_high_risk",
        "toll_fraud.velocity_high_risk_offhours",
        "premium.out_calls_1h",
        "premium.inbound_calls_1h",
        "premium.inbound_calls_1h@service_popular",
        "bulk_sms.sms_15m",
        "bulk_sms.sms_15m@business",
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        struct vigil_config *cfg = vigil_config_create();
        assert_non_null(cfg);
        assert_int_equal(vigil_config_set(cfg, keys[i], "10000", "t"), 0);
        assert_int_not_equal(vigil_config_set(cfg, keys[i], "10001", "t"), 0);
        const char *e = vigil_config_errstr(cfg);
        assert_non_null(strstr(e, keys[i]));
        assert_non_null(strstr(e, "out of range "));
        assert_non_null(strstr(e, "..10000"));
        vigil_config_destroy(cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_in_order),
        cmocka_unit_test(test_warning_above_critical_is_refused),
        cmocka_unit_test(test_per_profile_levels_are_checked),
        cmocka_unit_test(test_count_levels_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

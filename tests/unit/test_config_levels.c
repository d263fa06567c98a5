/* SPDX-License-Identifier: Apache-2.0 */
/* test_config_levels.c - a warning level above its critical level is refused at load. */
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
    assert_int_equal(vigil_config_set(cfg, "toll_fraud.concurrent_high_risk_warning", "9", "t"),
                     0);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_in_order),
        cmocka_unit_test(test_warning_above_critical_is_refused),
        cmocka_unit_test(test_per_profile_levels_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

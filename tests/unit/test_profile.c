/* SPDX-License-Identifier: Apache-2.0 */
/* test_profile.c - account profiles, KEY@profile overrides and per-profile defaults,
 * Amsterdam local time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/config.h"
#include "vigil/detector.h"
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

/* --- per-profile defaults (config.h) ---------------------------------------------------- */

/* Shipped per-profile defaults, one per detector that declares one: in config.h's form. */
#define DEVICES "fair_use.devices"                   /* @business = 10 */
#define INBOUND "premium.inbound_calls_1h"           /* @service_popular = 1000 */
#define SPEND_OFF "toll_fraud.spend_1h_eur_offhours" /* @callcenter = 0 */

static bool registered(const char *detector)
{
    return vigil_detector_find(detector) != NULL;
}

/* A declared default is that profile's value and no other's, whatever the base key is set
 * to, exactly as if `key@profile = value` had been written. */
static void test_default_applies_to_its_profile_only(void **state)
{
    (void)state;
    if (!registered("fair_use") || !registered("premium") || !registered("toll_fraud"))
        skip();
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    int64_t v[VIGIL_PROFILE_COUNT];
    vigil_profile_ints(cfg, DEVICES, v);
    for (int p = 0; p < VIGIL_PROFILE_COUNT; p++)
        assert_int_equal(v[p], p == VIGIL_PROFILE_BUSINESS ? 10 : 3);
    vigil_profile_ints(cfg, INBOUND, v);
    for (int p = 0; p < VIGIL_PROFILE_COUNT; p++)
        assert_int_equal(v[p], p == VIGIL_PROFILE_SERVICE_POPULAR ? 1000 : 100);
    vigil_profile_ints(cfg, SPEND_OFF, v);
    for (int p = 0; p < VIGIL_PROFILE_COUNT; p++)
        assert_int_equal(v[p], p == VIGIL_PROFILE_CALLCENTER ? 0 : 50);
    /* The getters see the declared key as any other. */
    assert_int_equal(vigil_config_int(cfg, DEVICES "@business"), 10);
    assert_int_equal(vigil_config_int_for(cfg, DEVICES, "business"), 10);
    assert_int_equal(vigil_config_int_for(cfg, DEVICES, "consumer"), 3);
    assert_int_equal(vigil_config_int_for(cfg, DEVICES, NULL), 3);

    /* Setting the base moves every profile but the one with a default of its own. */
    assert_int_equal(vigil_config_set(cfg, DEVICES, "4", "--set"), 0);
    vigil_profile_ints(cfg, DEVICES, v);
    for (int p = 0; p < VIGIL_PROFILE_COUNT; p++)
        assert_int_equal(v[p], p == VIGIL_PROFILE_BUSINESS ? 10 : 4);
    vigil_config_destroy(cfg);
}

/* The operator's `key@profile`, from --set or a file, replaces the declared default, also
 * when it equals the base key's value; a bad one is refused like any value. */
static void test_operator_override_wins(void **state)
{
    (void)state;
    if (!registered("fair_use") || !registered("premium"))
        skip();
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_set(cfg, DEVICES "@business", "5", "--set"), 0);
    assert_int_equal(vigil_config_int_for(cfg, DEVICES, "business"), 5);
    assert_int_equal(vigil_config_int_for(cfg, DEVICES, "callcenter"), 3);
    assert_int_equal(vigil_config_set(cfg, INBOUND "@service_popular", "100", "--set"), 0);
    assert_int_equal(vigil_config_int_for(cfg, INBOUND, "service_popular"), 100);
    /* Range checked as its key: 2..16 devices. */
    assert_int_equal(vigil_config_set(cfg, DEVICES "@business", "17", "--set"), VIGIL_ERR_CONFIG);
    assert_string_equal(vigil_config_errstr(cfg),
                        "--set: bad value '17' for 'fair_use.devices@business': out of range "
                        "2..16");
    assert_int_equal(vigil_config_int_for(cfg, DEVICES, "business"), 5);
    vigil_config_destroy(cfg);

    char path[] = "/tmp/vigil-test-profile-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "[fair_use]\ndevices = 4\ndevices@business = 3\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_load_file(cfg, path), 0);
    int64_t v[VIGIL_PROFILE_COUNT];
    vigil_profile_ints(cfg, DEVICES, v);
    assert_int_equal(v[VIGIL_PROFILE_DEFAULT], 4);
    assert_int_equal(v[VIGIL_PROFILE_BUSINESS], 3);
    vigil_config_destroy(cfg);
    unlink(path);
}

/* The former premium.inbound_calls_1h_popular is refused with the spelling that replaced
 * it, from --set and from a file. */
static void test_removed_key_names_its_replacement(void **state)
{
    (void)state;
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_set(cfg, "premium.inbound_calls_1h_popular", "1000", "--set"),
                     VIGIL_ERR_CONFIG);
    assert_string_equal(vigil_config_errstr(cfg),
                        "--set: unknown key 'premium.inbound_calls_1h_popular' (removed): write "
                        "'premium.inbound_calls_1h@service_popular' instead");

    char path[] = "/tmp/vigil-test-profile-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "[premium]\ninbound_calls_1h_popular = 1000\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    assert_int_equal(vigil_config_load_file(cfg, path), VIGIL_ERR_CONFIG);
    char want[512];
    snprintf(want, sizeof want,
             "%s:2: unknown key 'premium.inbound_calls_1h_popular' (removed): write "
             "'premium.inbound_calls_1h@service_popular' instead",
             path);
    assert_string_equal(vigil_config_errstr(cfg), want);
    vigil_config_destroy(cfg);
    unlink(path);
}

/* A key table must pass vigil_config_check_keys(), which create runs on every registered
 * detector's table (and aborts on a bad one): each bad table below fails with its reason. */
static void expect_bad_table(const struct vigil_config_key *keys, const char *want)
{
    char msg[256] = "";
    assert_int_equal(vigil_config_check_keys(keys, msg, sizeof msg), VIGIL_ERR_CONFIG);
    assert_string_equal(msg, want);
}

#define T_KEY(name, def)                                                                           \
    {                                                                                              \
        name, VIGIL_CFG_INT, def, 1, 10, "A test key."                                             \
    }

static void test_table_validation(void **state)
{
    (void)state;
    char msg[256] = "";
    /* Every registered detector's table, and a good one of our own. */
    for (size_t d = 0; d < vigil_detector_count(); d++) {
        const struct vigil_detector_ops *ops = vigil_detector_get(d);
        if (vigil_config_check_keys(ops->keys, msg, sizeof msg) != 0)
            fail_msg("%s: %s", ops->name, msg);
    }
    assert_int_equal(vigil_config_check_keys(NULL, msg, sizeof msg), 0);
    static const struct vigil_config_key good[] = {
        T_KEY("t.n", "5"), T_KEY("t.n@business", "10"), T_KEY("t.n@callcenter", "1"), {0}};
    assert_int_equal(vigil_config_check_keys(good, msg, sizeof msg), 0);

    /* A default outside the key's range: refused at start-up, not met in use. */
    static const struct vigil_config_key out_of_range[] = {
        T_KEY("t.n", "5"), T_KEY("t.n@business", "11"), {0}};
    expect_bad_table(out_of_range,
                     "bad default: bad value '11' for 't.n@business': out of range 1..10");
    static const struct vigil_config_key not_int[] = {
        T_KEY("t.n", "5"), T_KEY("t.n@business", "many"), {0}};
    expect_bad_table(not_int, "bad default: bad value 'many' for 't.n@business': not an integer");
    static const struct vigil_config_key base_bad[] = {T_KEY("t.n", "0"), {0}};
    expect_bad_table(base_bad, "bad default: bad value '0' for 't.n': out of range 1..10");

    /* The profile must be a real one, and not `default` (that is the key itself). */
    static const struct vigil_config_key bad_profile[] = {
        T_KEY("t.n", "5"), T_KEY("t.n@bussiness", "5"), {0}};
    expect_bad_table(bad_profile, "'t.n@bussiness': unknown profile 'bussiness'");
    static const struct vigil_config_key default_profile[] = {
        T_KEY("t.n", "5"), T_KEY("t.n@default", "5"), {0}};
    expect_bad_table(default_profile, "'t.n@default': unknown profile 'default'");

    /* The base key comes first, is an INT, and the default has its range. */
    static const struct vigil_config_key no_base[] = {
        T_KEY("t.n@business", "5"), T_KEY("t.n", "5"), {0}};
    expect_bad_table(no_base, "'t.n@business': no INT key 't.n' before it in the table");
    static const struct vigil_config_key str_base[] = {
        {"t.s", VIGIL_CFG_STR, "x", 0, 0, "A string."}, T_KEY("t.s@business", "5"), {0}};
    expect_bad_table(str_base, "'t.s@business': no INT key 't.s' before it in the table");
    static const struct vigil_config_key other_range[] = {
        T_KEY("t.n", "5"), {"t.n@business", VIGIL_CFG_INT, "50", 1, 100, "Wider."}, {0}};
    expect_bad_table(other_range, "'t.n@business': not an integer of the range of 't.n' (1..10)");

    /* Names: declared once, and only what a file could write. */
    static const struct vigil_config_key twice[] = {
        T_KEY("t.n", "5"), T_KEY("t.n@business", "6"), T_KEY("t.n@business", "7"), {0}};
    expect_bad_table(twice, "key 't.n@business' is declared twice");
    static const struct vigil_config_key bad_name[] = {T_KEY("t.n x", "5"), {0}};
    expect_bad_table(bad_name, "bad key name 't.n x'");
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
    assert_int_equal(lt.offset_ms, 3600000);
    vigil_local_time(1774746000000LL, &lt);
    assert_int_equal(lt.hour, 3);
    assert_int_equal(lt.wday, 0);
    assert_int_equal(lt.offset_ms, 7200000);
    /* The local day (days since 1970-01-01: 2026-03-29 is day 20541) and the milliseconds
     * into it, to the millisecond. */
    vigil_local_time(1774746000000LL + 1234, &lt);
    assert_int_equal(lt.day, 20541);
    assert_int_equal(lt.ms_of_day, 3 * 3600000LL + 1234);
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
        cmocka_unit_test(test_default_applies_to_its_profile_only),
        cmocka_unit_test(test_operator_override_wins),
        cmocka_unit_test(test_removed_key_names_its_replacement),
        cmocka_unit_test(test_table_validation),
        cmocka_unit_test(test_amsterdam_time),
        cmocka_unit_test(test_off_hours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

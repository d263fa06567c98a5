/* SPDX-License-Identifier: Apache-2.0 */
/* test_numplan.c - number classification with the default tables and with operator tables:
 * country codes, Dutch number types, high-risk and premium flags, emergency short codes,
 * longest-prefix rates, and the errors create reports for bad tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/config.h"
#include "vigil/numplan.h"
#include "vigil/status.h"

struct fx {
    struct vigil_config *cfg;
    struct vigil_numplan *np;
};

static int setup(void **state)
{
    static struct fx fx;
    char err[256];
    fx.cfg = vigil_config_create();
    if (!fx.cfg)
        return -1;
    fx.np = vigil_numplan_create(fx.cfg, err, sizeof err);
    if (!fx.np)
        return -1;
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    vigil_numplan_destroy(fx->np);
    vigil_config_destroy(fx->cfg);
    return 0;
}

struct want {
    const char *number;
    enum vigil_numtype type;
    const char *cc;
    bool international, high_risk, premium, emergency;
    double rate;
};

static void check(const struct vigil_numplan *np, const struct want *w)
{
    struct vigil_numclass c;
    vigil_numplan_classify(np, w->number, &c);
    if (c.type != w->type || strcmp(c.cc, w->cc) != 0 || c.international != w->international ||
        c.high_risk != w->high_risk || c.premium != w->premium || c.emergency != w->emergency ||
        c.rate_eur_min < w->rate - 1e-9 || c.rate_eur_min > w->rate + 1e-9) {
        print_error("%s: got type=%s cc=%s intl=%d hr=%d prem=%d emerg=%d rate=%g\n", w->number,
                    vigil_numtype_str(c.type), c.cc, c.international, c.high_risk, c.premium,
                    c.emergency, c.rate_eur_min);
        fail();
    }
}

#define F false
#define T true

static void test_netherlands(void **state)
{
    struct fx *fx = *state;
    static const struct want w[] = {
        {"+31201234567", VIGIL_NUM_FIXED, "31", F, F, F, F, 0.02},  /* Amsterdam */
        {"+31104567890", VIGIL_NUM_FIXED, "31", F, F, F, F, 0.02},  /* Rotterdam */
        {"+31612345678", VIGIL_NUM_MOBILE, "31", F, F, F, F, 0.05}, /* +316 rate */
        {"+31687654321", VIGIL_NUM_MOBILE, "31", F, F, F, F, 0.05},
        {"+31661234567", VIGIL_NUM_PAGER, "31", F, F, F, F, 0.05},
        {"+318001234", VIGIL_NUM_TOLL_FREE, "31", F, F, F, F, 0.02},
        {"+319001234567", VIGIL_NUM_PREMIUM, "31", F, F, T, F, 0.80},
        {"+319061234", VIGIL_NUM_PREMIUM, "31", F, F, T, F, 1.00},
        {"+3190912345", VIGIL_NUM_PREMIUM, "31", F, F, T, F, 1.00},
        {"+31841234567", VIGIL_NUM_PERSONAL, "31", F, F, F, F, 0.02},
        {"+31871234567", VIGIL_NUM_PERSONAL, "31", F, F, F, F, 0.02},
        {"+31851234567", VIGIL_NUM_VOIP, "31", F, F, F, F, 0.02},
        {"+31881234567", VIGIL_NUM_VOIP, "31", F, F, F, F, 0.02},
        {"+31911234567", VIGIL_NUM_VOIP, "31", F, F, F, F, 0.02},
        {"+319712345678901", VIGIL_NUM_M2M, "31", F, F, F, F, 0.02},
        /* +31112 is an ordinary (if odd) Dutch number: emergency is the short code only. */
        {"+31112", VIGIL_NUM_FIXED, "31", F, F, F, F, 0.02},
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        check(fx->np, &w[i]);
}

static void test_international(void **state)
{
    struct fx *fx = *state;
    static const struct want w[] = {
        /* IRSF destinations from the default list, with their rates. */
        {"+5351234567", VIGIL_NUM_UNKNOWN, "53", T, T, F, F, 1.20},    /* Cuba */
        {"+37120123456", VIGIL_NUM_UNKNOWN, "371", T, T, F, F, 0.60},  /* Latvia */
        {"+37061234567", VIGIL_NUM_UNKNOWN, "370", T, T, F, F, 0.60},  /* Lithuania */
        {"+3725123456", VIGIL_NUM_UNKNOWN, "372", T, T, F, F, 0.60},   /* Estonia */
        {"+252612345678", VIGIL_NUM_UNKNOWN, "252", T, T, F, F, 1.00}, /* Somalia */
        {"+21671234567", VIGIL_NUM_UNKNOWN, "216", T, T, F, F, 0.50},  /* Tunisia */
        {"+93701234567", VIGIL_NUM_UNKNOWN, "93", T, T, F, F, 0.80},   /* Afghanistan */
        {"+94711234567", VIGIL_NUM_UNKNOWN, "94", T, T, F, F, 0.40},   /* Sri Lanka */
        {"+6821234", VIGIL_NUM_UNKNOWN, "682", T, T, F, F, 2.00},      /* Cook Islands */
        {"+6755551234", VIGIL_NUM_UNKNOWN, "675", T, T, F, F, 1.50},   /* Papua New Guinea */
        /* Satellite and international networks, IPRS, freephone, shared cost. */
        {"+881631234567", VIGIL_NUM_SATELLITE, "881", T, T, F, F, 10.00}, /* Iridium */
        {"+882161234567", VIGIL_NUM_SATELLITE, "882", T, T, F, F, 6.00},  /* Thuraya */
        {"+883510001234", VIGIL_NUM_SATELLITE, "883", T, T, F, F, 4.00},
        {"+870772123456", VIGIL_NUM_SATELLITE, "870", T, T, F, F, 8.00}, /* Inmarsat */
        {"+97912345678", VIGIL_NUM_PREMIUM, "979", T, T, T, F, 3.00},    /* IPRS */
        {"+80012345678", VIGIL_NUM_TOLL_FREE, "800", T, F, F, F, 0.10},
        {"+80812345678", VIGIL_NUM_SHARED_COST, "808", T, F, F, F, 0.10},
        /* Ordinary destinations: the "must leave alone" countries. */
        {"+3225551234", VIGIL_NUM_UNKNOWN, "32", T, F, F, F, 0.03},    /* Belgium */
        {"+4930123456", VIGIL_NUM_UNKNOWN, "49", T, F, F, F, 0.03},    /* Germany */
        {"+33142685300", VIGIL_NUM_UNKNOWN, "33", T, F, F, F, 0.03},   /* France */
        {"+442079460000", VIGIL_NUM_UNKNOWN, "44", T, F, F, F, 0.03},  /* UK */
        {"+12125551234", VIGIL_NUM_UNKNOWN, "1", T, F, F, F, 0.02},    /* USA */
        {"+919876543210", VIGIL_NUM_UNKNOWN, "91", T, F, F, F, 0.03},  /* India */
        {"+212612345678", VIGIL_NUM_UNKNOWN, "212", T, F, F, F, 0.35}, /* Morocco */
        {"+905321234567", VIGIL_NUM_UNKNOWN, "90", T, F, F, F, 0.20},  /* Turkey */
        {"+74951234567", VIGIL_NUM_UNKNOWN, "7", T, F, F, F, 0.10},    /* Russia */
        {"+35312345678", VIGIL_NUM_UNKNOWN, "353", T, F, F, F, 0.10},  /* Ireland */
        {"+8613812345678", VIGIL_NUM_UNKNOWN, "86", T, F, F, F, 0.10}, /* China */
        {"+201001234567", VIGIL_NUM_UNKNOWN, "20", T, F, F, F, 0.10},  /* Egypt */
        {"+27821234567", VIGIL_NUM_UNKNOWN, "27", T, F, F, F, 0.10},   /* South Africa */
        {"+351912345678", VIGIL_NUM_UNKNOWN, "351", T, F, F, F, 0.10}, /* Portugal */
        {"+420601123456", VIGIL_NUM_UNKNOWN, "420", T, F, F, F, 0.10}, /* Czechia */
        {"+971501234567", VIGIL_NUM_UNKNOWN, "971", T, F, F, F, 0.10}, /* UAE */
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        check(fx->np, &w[i]);
}

static void test_short_codes(void **state)
{
    struct fx *fx = *state;
    static const struct want w[] = {
        {"112", VIGIL_NUM_EMERGENCY, "", F, F, F, T, 0.0},
        {"911", VIGIL_NUM_EMERGENCY, "", F, F, F, T, 0.0},
        {"113", VIGIL_NUM_SHORT, "", F, F, F, F, 0.10},
        {"116123", VIGIL_NUM_SHORT, "", F, F, F, F, 0.10},
        {"1800", VIGIL_NUM_SHORT, "", F, F, F, F, 0.10},
        {"14020", VIGIL_NUM_SHORT, "", F, F, F, F, 0.10},
        {"1123", VIGIL_NUM_SHORT, "", F, F, F, F, 0.10}, /* emergency matches exactly */
        /* Not numbers vigil_number_normalize produces: unknown, default rate. */
        {"", VIGIL_NUM_UNKNOWN, "", F, F, F, F, 0.10},
        {"+", VIGIL_NUM_UNKNOWN, "", F, F, F, F, 0.10},
        {"+3", VIGIL_NUM_UNKNOWN, "", F, F, F, F, 0.10},
        {"12", VIGIL_NUM_UNKNOWN, "", F, F, F, F, 0.10},
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        check(fx->np, &w[i]);
    struct vigil_numclass c;
    vigil_numplan_classify(fx->np, NULL, &c);
    assert_int_equal(c.type, VIGIL_NUM_UNKNOWN);
}

static void test_type_names(void **unused)
{
    (void)unused;
    assert_string_equal(vigil_numtype_str(VIGIL_NUM_UNKNOWN), "unknown");
    assert_string_equal(vigil_numtype_str(VIGIL_NUM_FIXED), "fixed");
    assert_string_equal(vigil_numtype_str(VIGIL_NUM_MOBILE), "mobile");
    assert_string_equal(vigil_numtype_str(VIGIL_NUM_TOLL_FREE), "toll_free");
    assert_string_equal(vigil_numtype_str(VIGIL_NUM_PREMIUM), "premium");
    assert_string_equal(vigil_numtype_str(VIGIL_NUM_SHARED_COST), "shared_cost");
    assert_string_equal(vigil_numtype_str(VIGIL_NUM_PERSONAL), "personal");
    assert_string_equal(vigil_numtype_str(VIGIL_NUM_VOIP), "voip");
    assert_string_equal(vigil_numtype_str(VIGIL_NUM_M2M), "m2m");
    assert_string_equal(vigil_numtype_str(VIGIL_NUM_PAGER), "pager");
    assert_string_equal(vigil_numtype_str(VIGIL_NUM_SATELLITE), "satellite");
    assert_string_equal(vigil_numtype_str(VIGIL_NUM_EMERGENCY), "emergency");
    assert_string_equal(vigil_numtype_str(VIGIL_NUM_SHORT), "short");
    assert_string_equal(vigil_numtype_str((enum vigil_numtype)99), "unknown");
}

/* Operator tables replace the defaults. */
static void test_operator_tables(void **unused)
{
    (void)unused;
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_set(cfg, "numbering.home_cc", "32", "test"), 0);
    assert_int_equal(vigil_config_set(cfg, "numbering.high_risk_prefixes", "+44 +3197", "test"), 0);
    assert_int_equal(vigil_config_set(cfg, "numbering.premium_prefixes", "", "test"), 0);
    assert_int_equal(
        vigil_config_set(cfg, "numbering.rates", "+31:0.02,+3120:0.01,+312012:0.005", "test"), 0);
    assert_int_equal(vigil_config_set(cfg, "numbering.default_rate", "0.5", "test"), 0);
    assert_int_equal(vigil_config_set(cfg, "numbering.emergency", "112 999", "test"), 0);
    char err[256];
    struct vigil_numplan *np = vigil_numplan_create(cfg, err, sizeof err);
    assert_non_null(np);

    static const struct want w[] = {
        /* Longest rate prefix wins. */
        {"+31201234567", VIGIL_NUM_FIXED, "31", T, F, F, F, 0.005},
        {"+31209876543", VIGIL_NUM_FIXED, "31", T, F, F, F, 0.01},
        {"+31301234567", VIGIL_NUM_FIXED, "31", T, F, F, F, 0.02},
        /* Home is Belgium now. */
        {"+3225551234", VIGIL_NUM_UNKNOWN, "32", F, F, F, F, 0.5},
        /* The list is the operator's: Cuba is off it, the UK and Dutch M2M are on it. */
        {"+5351234567", VIGIL_NUM_UNKNOWN, "53", T, F, F, F, 0.5},
        {"+442079460000", VIGIL_NUM_UNKNOWN, "44", T, T, F, F, 0.5},
        {"+31971234567890", VIGIL_NUM_M2M, "31", T, T, F, F, 0.02},
        /* An empty premium list: 0900 stays a premium-type number but is not flagged. */
        {"+319001234567", VIGIL_NUM_PREMIUM, "31", T, F, F, F, 0.02},
        {"999", VIGIL_NUM_EMERGENCY, "", F, F, F, T, 0.0},
        {"911", VIGIL_NUM_SHORT, "", F, F, F, F, 0.5},
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        check(np, &w[i]);
    vigil_numplan_destroy(np);
    vigil_config_destroy(cfg);
}

static void test_bad_tables(void **unused)
{
    (void)unused;
    char err[256];
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);

    /* Syntax errors stop at the configuration already, naming the entry. */
    assert_int_equal(vigil_config_set(cfg, "numbering.rates", "+31:0.02 +31:abc", "test"),
                     VIGIL_ERR_CONFIG);
    assert_non_null(strstr(vigil_config_errstr(cfg), "+31:abc"));
    assert_int_equal(vigil_config_set(cfg, "numbering.high_risk_prefixes", "+53 53", "test"),
                     VIGIL_ERR_CONFIG);

    /* What only the number plan can tell: a duplicate rate, a code that is no country. */
    assert_int_equal(vigil_config_set(cfg, "numbering.rates", "+31:0.02 +53:1 +31:0.03", "t"), 0);
    assert_null(vigil_numplan_create(cfg, err, sizeof err));
    assert_string_equal(err, "numbering.rates: duplicate prefix '+31'");
    assert_int_equal(vigil_config_set(cfg, "numbering.rates", "+31:0.02", "t"), 0);

    assert_int_equal(vigil_config_set(cfg, "numbering.home_cc", "35", "t"), 0);
    assert_null(vigil_numplan_create(cfg, err, sizeof err));
    assert_non_null(strstr(err, "numbering.home_cc: '35'"));
    /* Without room for a message it still fails cleanly. */
    assert_null(vigil_numplan_create(cfg, NULL, 0));
    assert_int_equal(vigil_config_set(cfg, "numbering.home_cc", "+31", "t"), 0);

    struct vigil_numplan *np = vigil_numplan_create(cfg, err, sizeof err);
    assert_non_null(np);
    assert_string_equal(err, "");
    vigil_numplan_destroy(np);
    vigil_numplan_destroy(NULL);

    assert_null(vigil_numplan_create(NULL, err, sizeof err));
    vigil_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_netherlands),     cmocka_unit_test(test_international),
        cmocka_unit_test(test_short_codes),     cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_operator_tables), cmocka_unit_test(test_bad_tables),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

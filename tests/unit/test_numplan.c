/* SPDX-License-Identifier: Apache-2.0 */
/* test_numplan.c - number classification with the built-in table (data/numbering.tsv) and
 * with operator tables: country codes, Dutch number types, high-risk and premium flags,
 * emergency short codes, longest-prefix rates, a replacement table file, keys extending the
 * table, and the errors create reports for bad tables ("<file>:<line>: <problem>"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/config.h"
#include "vigil/event.h"
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

/* The examples of shared/reference/numbering.md, dialled the way subscribers dial them:
 * national and international formats are normalised, then classified by the built-in table. */
static void test_builtin_examples(void **state)
{
    struct fx *fx = *state;
    static const struct {
        const char *dialled;
        struct want w;
    } cases[] = {
        {"0900 123 4567", {"", VIGIL_NUM_PREMIUM, "31", F, F, T, F, 0.80}},
        {"0906-1234567", {"", VIGIL_NUM_PREMIUM, "31", F, F, T, F, 1.00}},
        {"0909 1234567", {"", VIGIL_NUM_PREMIUM, "31", F, F, T, F, 1.00}},
        {"0800 1234", {"", VIGIL_NUM_TOLL_FREE, "31", F, F, F, F, 0.02}},
        {"084 1234567", {"", VIGIL_NUM_PERSONAL, "31", F, F, F, F, 0.02}},
        {"087 1234567", {"", VIGIL_NUM_PERSONAL, "31", F, F, F, F, 0.02}},
        {"088 1234567", {"", VIGIL_NUM_VOIP, "31", F, F, F, F, 0.02}},
        {"085 1234567", {"", VIGIL_NUM_VOIP, "31", F, F, F, F, 0.02}},
        {"091 1234567", {"", VIGIL_NUM_VOIP, "31", F, F, F, F, 0.02}},
        {"06 12345678", {"", VIGIL_NUM_MOBILE, "31", F, F, F, F, 0.05}},
        /* Longest prefix: +3166 pager under +316 mobile, keeping +316's rate. */
        {"066 1234567", {"", VIGIL_NUM_PAGER, "31", F, F, F, F, 0.05}},
        {"097 123456789012", {"", VIGIL_NUM_M2M, "31", F, F, F, F, 0.02}},
        {"020 123 4567", {"", VIGIL_NUM_FIXED, "31", F, F, F, F, 0.02}},
        {"0031 20 1234567", {"", VIGIL_NUM_FIXED, "31", F, F, F, F, 0.02}},
        {"00881 6 3123 4567", {"", VIGIL_NUM_SATELLITE, "881", T, T, F, F, 10.00}}, /* Iridium */
        {"00882 16 1234567", {"", VIGIL_NUM_SATELLITE, "882", T, T, F, F, 6.00}},   /* Thuraya */
        {"+870 772 123456", {"", VIGIL_NUM_SATELLITE, "870", T, T, F, F, 8.00}},    /* Inmarsat */
        {"00979 12345678", {"", VIGIL_NUM_PREMIUM, "979", T, T, T, F, 3.00}},       /* IPRS */
        {"00800 12345678", {"", VIGIL_NUM_TOLL_FREE, "800", T, F, F, F, 0.10}},
        {"00808 12345678", {"", VIGIL_NUM_SHARED_COST, "808", T, F, F, F, 0.10}},
        {"0053 5 1234567", {"", VIGIL_NUM_UNKNOWN, "53", T, T, F, F, 1.20}}, /* Cuba */
        {"00688 20123", {"", VIGIL_NUM_UNKNOWN, "688", T, T, F, F, 2.50}},   /* Tuvalu */
        {"112", {"", VIGIL_NUM_EMERGENCY, "", F, F, F, T, 0.0}},
        {"911", {"", VIGIL_NUM_EMERGENCY, "", F, F, F, T, 0.0}},
        {"116 000", {"", VIGIL_NUM_SHORT, "", F, F, F, F, 0.10}},
        {"113", {"", VIGIL_NUM_SHORT, "", F, F, F, F, 0.10}},
        {"1844", {"", VIGIL_NUM_SHORT, "", F, F, F, F, 0.10}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char number[VIGIL_NUMBER_MAX + 2] = "";
        struct want w = cases[i].w;
        if (vigil_number_normalize(cases[i].dialled, strlen(cases[i].dialled), "31", number) != 0)
            number[0] = '\0';
        w.number = number;
        check(fx->np, &w);
    }
}

/* The numbering.* keys extend the table: flags and emergency numbers are added, a rate
 * replaces the table's rate of the same prefix, and longer table prefixes still win. */
static void test_keys_extend_table(void **unused)
{
    (void)unused;
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_set(cfg, "numbering.home_cc", "32", "test"), 0);
    assert_int_equal(vigil_config_set(cfg, "numbering.high_risk_prefixes", "+44 +3197", "test"), 0);
    assert_int_equal(vigil_config_set(cfg, "numbering.premium_prefixes", "+4490", "test"), 0);
    assert_int_equal(
        vigil_config_set(cfg, "numbering.rates", "+31:0.01,+3120:0.01,+312012:0.005", "test"), 0);
    assert_int_equal(vigil_config_set(cfg, "numbering.default_rate", "0.5", "test"), 0);
    assert_int_equal(vigil_config_set(cfg, "numbering.emergency", "112 999", "test"), 0);
    char err[256];
    struct vigil_numplan *np = vigil_numplan_create(cfg, err, sizeof err);
    if (!np)
        fail_msg("%s", err);

    static const struct want w[] = {
        /* Longest rate prefix wins; +31's table rate 0.02 is replaced by the key's 0.01. */
        {"+31201234567", VIGIL_NUM_FIXED, "31", T, F, F, F, 0.005},
        {"+31209876543", VIGIL_NUM_FIXED, "31", T, F, F, F, 0.01},
        {"+31301234567", VIGIL_NUM_FIXED, "31", T, F, F, F, 0.01},
        {"+319001234567", VIGIL_NUM_PREMIUM, "31", T, F, T, F, 0.80}, /* table's +31900 */
        {"+31612345678", VIGIL_NUM_MOBILE, "31", T, F, F, F, 0.05},
        /* Home is Belgium now. */
        {"+3225551234", VIGIL_NUM_UNKNOWN, "32", F, F, F, F, 0.03},
        /* Added to the table's lists: Cuba stays, the UK and Dutch M2M join. */
        {"+5351234567", VIGIL_NUM_UNKNOWN, "53", T, T, F, F, 1.20},
        {"+442079460000", VIGIL_NUM_UNKNOWN, "44", T, T, F, F, 0.03},
        {"+449012345678", VIGIL_NUM_UNKNOWN, "44", T, T, T, F, 0.03},
        {"+31971234567890", VIGIL_NUM_M2M, "31", T, T, F, F, 0.01},
        {"+35312345678", VIGIL_NUM_UNKNOWN, "353", T, F, F, F, 0.5},
        {"999", VIGIL_NUM_EMERGENCY, "", F, F, F, T, 0.0},
        {"112", VIGIL_NUM_EMERGENCY, "", F, F, F, T, 0.0},
        {"911", VIGIL_NUM_EMERGENCY, "", F, F, F, T, 0.0}, /* from the table */
        {"113", VIGIL_NUM_SHORT, "", F, F, F, F, 0.5},
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        check(np, &w[i]);
    vigil_numplan_destroy(np);
    vigil_config_destroy(cfg);
}

/* Writes n bytes to a new temporary file; returns its path (free it, unlink it). */
static char *write_table(const char *content, size_t n)
{
    const char *dir = getenv("TMPDIR");
    char *path = malloc(512);
    assert_non_null(path);
    snprintf(path, 512, "%s/vigil_test_numbering_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    close(fd);
    return path;
}

static void remove_table(char *path)
{
    unlink(path);
    free(path);
}

/* numbering.file replaces the built-in table as a whole; the keys extend it as they do the
 * built-in one. */
static void test_replacement_file(void **unused)
{
    (void)unused;
    static const char table[] = "# vigil-numbering 1 (operator table, June)\r\n"
                                "# prefix type flags rate\n"
                                "\n"
                                "+32\tfixed\t-\t0.01\n"
                                "+3247  mobile  -  0.04   # Proximus\n"
                                "   +44\t-\thigh_risk\t0.70\r\n"
                                "+4470\tpersonal\tpremium,high_risk\t2\n"
                                "+4487\t-\t-\t.5\n"
                                "999\temergency\t-\t-\n"
                                "\t# the end";
    char *path = write_table(table, sizeof table - 1);
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_set(cfg, "numbering.file", path, "test"), 0);
    char err[512];
    struct vigil_numplan *np = vigil_numplan_create(cfg, err, sizeof err);
    if (!np)
        fail_msg("%s", err);

    static const struct want w[] = {
        {"+3225551234", VIGIL_NUM_FIXED, "32", T, F, F, F, 0.01},
        {"+32471234567", VIGIL_NUM_MOBILE, "32", T, F, F, F, 0.04},
        {"+442079460000", VIGIL_NUM_UNKNOWN, "44", T, T, F, F, 0.70},
        {"+447012345678", VIGIL_NUM_PERSONAL, "44", T, T, T, F, 2.00},
        {"+448712345678", VIGIL_NUM_UNKNOWN, "44", T, T, F, F, 0.50},
        {"999", VIGIL_NUM_EMERGENCY, "", F, F, F, T, 0.0},
        /* Nothing of the built-in table is left: its types, lists, rates and 112. */
        {"+31201234567", VIGIL_NUM_UNKNOWN, "31", F, F, F, F, 0.10},
        {"+319001234567", VIGIL_NUM_UNKNOWN, "31", F, F, F, F, 0.10},
        {"+5351234567", VIGIL_NUM_UNKNOWN, "53", T, F, F, F, 0.10},
        {"+881631234567", VIGIL_NUM_UNKNOWN, "881", T, F, F, F, 0.10},
        {"112", VIGIL_NUM_SHORT, "", F, F, F, F, 0.10},
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        check(np, &w[i]);
    vigil_numplan_destroy(np);

    /* The keys extend the replacement too. */
    assert_int_equal(vigil_config_set(cfg, "numbering.high_risk_prefixes", "+53", "test"), 0);
    assert_int_equal(vigil_config_set(cfg, "numbering.emergency", "112 999", "test"), 0);
    assert_int_equal(vigil_config_set(cfg, "numbering.rates", "+44:0.60 +3247:0.05", "test"), 0);
    np = vigil_numplan_create(cfg, err, sizeof err);
    if (!np)
        fail_msg("%s", err);
    static const struct want w2[] = {
        {"+5351234567", VIGIL_NUM_UNKNOWN, "53", T, T, F, F, 0.10},
        {"+442079460000", VIGIL_NUM_UNKNOWN, "44", T, T, F, F, 0.60},
        {"+447012345678", VIGIL_NUM_PERSONAL, "44", T, T, T, F, 2.00},
        {"+32471234567", VIGIL_NUM_MOBILE, "32", T, F, F, F, 0.05},
        {"112", VIGIL_NUM_EMERGENCY, "", F, F, F, T, 0.0},
        {"999", VIGIL_NUM_EMERGENCY, "", F, F, F, T, 0.0},
    };
    for (size_t i = 0; i < sizeof w2 / sizeof w2[0]; i++)
        check(np, &w2[i]);
    vigil_numplan_destroy(np);

    /* Back to empty: the built-in table again. */
    assert_int_equal(vigil_config_set(cfg, "numbering.file", "", "test"), 0);
    np = vigil_numplan_create(cfg, err, sizeof err);
    assert_non_null(np);
    check(np, &(struct want){"+319001234567", VIGIL_NUM_PREMIUM, "31", F, F, T, F, 0.80});
    vigil_numplan_destroy(np);
    vigil_config_destroy(cfg);
    remove_table(path);
}

/* A bad table fails create with "<path>:<line>: <problem>", and nothing is built. */
static void expect_table_error(const char *content, size_t n, unsigned line, const char *msg)
{
    char *path = write_table(content, n);
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_set(cfg, "numbering.file", path, "test"), 0);
    char err[512], want[512];
    struct vigil_numplan *np = vigil_numplan_create(cfg, err, sizeof err);
    snprintf(want, sizeof want, "%s:%u: %s", path, line, msg);
    if (np || strcmp(err, want) != 0)
        fail_msg("table:\n%s\ngot %s\n  '%s'\nwanted\n  '%s'", content, np ? "a plan" : "NULL", err,
                 want);
    vigil_config_destroy(cfg);
    remove_table(path);
}

#define V1 "# vigil-numbering 1\n"

static void test_bad_files(void **unused)
{
    (void)unused;
    static const struct {
        const char *content;
        unsigned line;
        const char *msg;
    } cases[] = {
        {"", 1, "not a vigil numbering table: line 1 must be '# vigil-numbering 1'"},
        {"+31\tfixed\t-\t0.02\n", 1,
         "not a vigil numbering table: line 1 must be '# vigil-numbering 1'"},
        {"\n" V1, 1, "not a vigil numbering table: line 1 must be '# vigil-numbering 1'"},
        {"# vigil-numbers 1\n", 1,
         "not a vigil numbering table: line 1 must be '# vigil-numbering 1'"},
        {"# vigil-numbering\n", 1, "no format version after 'vigil-numbering' (want 1)"},
        {"# vigil-numbering 2\n+31 fixed - 0.02\n", 1,
         "format version '2' is not supported (this vigil reads version 1)"},
        {"# vigil-numbering 1.0\n", 1,
         "format version '1.0' is not supported (this vigil reads version 1)"},
        {V1 "+31 fixed -\n", 2,
         "too few fields, want 4: prefix type flags rate (notes go after '#')"},
        {V1 "# ok\n+31 fixed - 0.02 Netherlands\n", 3,
         "too many fields, want 4: prefix type flags rate (notes go after '#')"},
        {V1 "+31x fixed - 0.02\n", 2,
         "bad prefix '+31x' (want '+' and up to 20 digits, e.g. +881, or an emergency short "
         "code, e.g. 112)"},
        {V1 "31 fixed - 0.02\n", 2,
         "bad prefix '31' (want '+' and up to 20 digits, e.g. +881, or an emergency short code, "
         "e.g. 112)"},
        {V1 "+ fixed - 0.02\n", 2,
         "bad prefix '+' (want '+' and up to 20 digits, e.g. +881, or an emergency short code, "
         "e.g. 112)"},
        {V1 "+31 prem - 0.02\n", 2,
         "bad type 'prem' (want fixed, mobile, toll_free, premium, shared_cost, personal, voip, "
         "m2m, pager, satellite, emergency or -)"},
        {V1 "+31 unknown - 0.02\n", 2,
         "bad type 'unknown' (want fixed, mobile, toll_free, premium, shared_cost, personal, "
         "voip, m2m, pager, satellite, emergency or -)"},
        {V1 "+31 fixed risky 0.02\n", 2,
         "bad flags 'risky' (want high_risk, premium, both joined by a comma, or -)"},
        {V1 "+31 fixed high_risk, 0.02\n", 2,
         "bad flags 'high_risk,' (want high_risk, premium, both joined by a comma, or -)"},
        {V1 "+31 fixed - -1\n", 2, "bad rate '-1' (want EUR per minute, e.g. 0.80, or -)"},
        {V1 "+31 fixed - 0x10\n", 2, "bad rate '0x10' (want EUR per minute, e.g. 0.80, or -)"},
        {V1 "+31 fixed - 0,02\n", 2, "bad rate '0,02' (want EUR per minute, e.g. 0.80, or -)"},
        {V1 "+31112 emergency - -\n", 2,
         "type emergency is for short codes as dialled (e.g. 112), not '+31112'"},
        {V1 "113 - - -\n", 2,
         "short code '113': only emergency numbers are listed as short codes (want type "
         "emergency, flags - and rate -)"},
        {V1 "112 emergency - 0\n", 2,
         "short code '112': only emergency numbers are listed as short codes (want type "
         "emergency, flags - and rate -)"},
        {V1 "+31 fixed - 0.02\n\n+316 mobile - 0.05\n+31 - - 0.03\n", 5,
         "duplicate prefix '+31' (first on line 2)"},
        {V1 "112 emergency - -\n112 emergency - -\n", 3,
         "duplicate prefix '112' (first on line 2)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_table_error(cases[i].content, strlen(cases[i].content), cases[i].line, cases[i].msg);

    static const char nul[] = V1 "+31 fixed - 0.02\n+32 fixed\0 - 0.02\n";
    expect_table_error(nul, sizeof nul - 1, 3, "NUL byte in line");

    /* A file that cannot be read names itself. */
    char err[512];
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_set(cfg, "numbering.file", "/nonexistent/numbering.tsv", "t"), 0);
    assert_null(vigil_numplan_create(cfg, err, sizeof err));
    assert_string_equal(err,
                        "numbering.file: cannot open '/nonexistent/numbering.tsv': No such file "
                        "or directory");
    assert_int_equal(vigil_config_set(cfg, "numbering.file", "/", "t"), 0);
    assert_null(vigil_numplan_create(cfg, err, sizeof err));
    assert_string_equal(err, "numbering.file: cannot read '/': Is a directory");
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

    /* What only the number plan can tell: a duplicate rate in the key (overriding a table
     * rate is fine), a code that is no country. */
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
        cmocka_unit_test(test_netherlands),      cmocka_unit_test(test_international),
        cmocka_unit_test(test_short_codes),      cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_builtin_examples), cmocka_unit_test(test_keys_extend_table),
        cmocka_unit_test(test_replacement_file), cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_bad_tables),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

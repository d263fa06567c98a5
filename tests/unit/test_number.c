/* SPDX-License-Identifier: Apache-2.0 */
/* test_number.c - vigil_number_normalize: E.164, national, '00', separators, short codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/event.h"
#include "vigil/status.h"

/* Normalises `in` with default_cc and checks the result is `want` (NULL: invalid). */
static void check_cc(const char *in, const char *cc, const char *want)
{
    char out[VIGIL_NUMBER_MAX + 2];
    int rc;

    memset(out, 'x', sizeof out);
    rc = vigil_number_normalize(in, strlen(in), cc, out);
    if (want == NULL) {
        if (rc != VIGIL_ERR_INVALID)
            print_error("'%s' should be invalid, got '%s'\n", in, out);
        assert_int_equal(rc, VIGIL_ERR_INVALID);
        assert_string_equal(out, "");
    } else {
        if (rc != 0)
            print_error("'%s' should give '%s'\n", in, want);
        assert_int_equal(rc, 0);
        assert_string_equal(out, want);
    }
}

static void check(const char *in, const char *want)
{
    check_cc(in, NULL, want);
}

static void test_e164(void **state)
{
    (void)state;
    check("+31201234567", "+31201234567");
    check("+5351234567", "+5351234567");
    check("+1 (212) 555-0123", "+12125550123");
    check("+44.20.7946.0958", "+442079460958");
    check("(+31) 20 123 45 67", "+31201234567");
    check("+881612345678", "+881612345678");
    /* 3..17 digits accepted (lenient E.164) */
    check("+123", "+123");
    check("+12345678901234567", "+12345678901234567");
    check("+123456789012345678", NULL);
    check("+12", NULL);
    /* country codes never start with 0 */
    check("+0201234567", NULL);
}

static void test_national_nl(void **state)
{
    (void)state;
    check("0201234567", "+31201234567");
    check("020-123 45 67", "+31201234567");
    check("0687654321", "+31687654321");
    check("0900 1234567", "+319001234567");
    check("0800-1234", "+318001234");
    check("(020) 1234567", "+31201234567");
    /* at least 6 national digits after the 0 */
    check("0123456", "+31123456");
    check("012345", NULL);
    check("0", NULL);
}

static void test_national_other_cc(void **state)
{
    (void)state;
    check_cc("022345678", "32", "+3222345678");
    check_cc("0470123456", "32", "+32470123456");
    check_cc("02079460958", "44", "+442079460958");
    check_cc("0201234567", "1", "+1201234567");
    /* the cc only applies to national numbers */
    check_cc("+31201234567", "32", "+31201234567");
    check_cc("0031201234567", "32", "+31201234567");
    check_cc("112", "32", "112");
    /* a malformed cc makes national numbers invalid, never garbage */
    check_cc("0201234567", "", NULL);
    check_cc("0201234567", "3a", NULL);
    check_cc("0201234567", "0", NULL);
    check_cc("0201234567", "1234", NULL);
    check_cc("0201234567", "+31", NULL);
}

static void test_international_prefix(void **state)
{
    (void)state;
    check("0053 5123 4567", "+5351234567");
    check("0053512345678", "+53512345678");
    check("0044 20 7946 0958", "+442079460958");
    check("00881612345678", "+881612345678");
    check("000123456", NULL);
    check("00", NULL);
    check("0012", NULL);
    check("00123456789012345678", NULL);
}

static void test_short_codes(void **state)
{
    (void)state;
    check("112", "112");
    check("911", "911");
    check("116000", "116000");
    check("116 123", "116123");
    check("14020", "14020");
    check("1844", "1844");
    check("12", NULL);
    check("1234567", NULL);
    check("31201234567", NULL); /* a full number without '+' or '00' */
}

static void test_invalid(void **state)
{
    (void)state;
    check("", NULL);
    check("   ", NULL);
    check("+", NULL);
    check("++31201234567", NULL);
    check("31+201234567", NULL);
    check("+31 20 123 4567+", NULL);
    check("*31#", NULL);
    check("#31", NULL);
    check("+31abc1234567", NULL);
    check("anonymous", NULL);
    check("+31/201234567", NULL);
    check("+31_201234567", NULL);
    check("sip:+31201234567@example.com", NULL);
    check("+３１201234567", NULL); /* full-width digits are not digits */
    check("0201234567 ext 5", NULL);
    check("1234567890123456789012345678901234567890", NULL);
    check("+1234567890123456789012345678901234567890", NULL);
}

static void test_length_argument(void **state)
{
    char out[VIGIL_NUMBER_MAX + 2];
    (void)state;

    /* Only len bytes are read: no NUL needed, and trailing bytes are ignored. */
    assert_int_equal(vigil_number_normalize("+31201234567XYZ", 12, NULL, out), 0);
    assert_string_equal(out, "+31201234567");
    assert_int_equal(vigil_number_normalize("1120", 3, NULL, out), 0);
    assert_string_equal(out, "112");
    /* An embedded NUL is an invalid character, not an end. */
    static const char with_nul[] = {'1', '1', '2', '\0', '5'};
    assert_int_equal(vigil_number_normalize(with_nul, sizeof with_nul, NULL, out),
                     VIGIL_ERR_INVALID);
    assert_int_equal(vigil_number_normalize(NULL, 0, NULL, out), VIGIL_ERR_INVALID);
    assert_int_equal(vigil_number_normalize("112", 3, NULL, NULL), VIGIL_ERR_INVALID);
}

static void test_output_bounded(void **state)
{
    /* Guard bytes around out: no accepted or rejected input may write past it. */
    struct {
        char out[VIGIL_NUMBER_MAX + 2];
        char guard[16];
    } b;
    char in[64];
    (void)state;

    for (size_t n = 1; n < sizeof in; n++) {
        const char *prefixes[] = {"+", "00", "0", ""};
        for (size_t p = 0; p < 4; p++) {
            size_t pl = strlen(prefixes[p]);
            if (pl + n >= sizeof in)
                continue;
            memcpy(in, prefixes[p], pl);
            memset(in + pl, '9', n);
            memset(b.guard, 'G', sizeof b.guard);
            int rc = vigil_number_normalize(in, pl + n, "999", b.out);
            for (size_t g = 0; g < sizeof b.guard; g++)
                assert_int_equal(b.guard[g], 'G');
            if (rc == 0)
                assert_true(strlen(b.out) <= VIGIL_NUMBER_MAX + 1);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_e164),
        cmocka_unit_test(test_national_nl),
        cmocka_unit_test(test_national_other_cc),
        cmocka_unit_test(test_international_prefix),
        cmocka_unit_test(test_short_codes),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_length_argument),
        cmocka_unit_test(test_output_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* test_json.c - the tools' JSON reader: top-level fields only, strings decoded, integers
 * exact, anything else refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static void test_fields(void **state)
{
    const char *js = "{\"nested\":{\"account\":\"inner\"},\"account\":\"acc\\u00e9\\ud83d\\ude00\","
                     "\"n\":-42,\"big\":12345678901234,\"f\":1.5,\"s\":\"a\\\"b\\n\"}";
    struct vigil_json d = {0};
    char out[64];
    int64_t v = 0;
    assert_int_equal(vigil_json_parse(&d, js, strlen(js)), 0);
    /* The top-level field, not the nested one of the same name. */
    assert_int_equal(vigil_json_str(&d, vigil_json_find(&d, "account"), out, sizeof out), 9);
    assert_string_equal(out, "acc\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(vigil_json_int(&d, vigil_json_find(&d, "n"), &v), 0);
    assert_int_equal(v, -42);
    assert_int_equal(vigil_json_int(&d, vigil_json_find(&d, "big"), &v), 0);
    assert_int_equal(v, 12345678901234LL);
    assert_int_equal(vigil_json_int(&d, vigil_json_find(&d, "f"), &v), -1); /* not an integer */
    assert_int_equal(vigil_json_str(&d, vigil_json_find(&d, "s"), out, sizeof out), 4);
    assert_string_equal(out, "a\"b\n");
    assert_int_equal(vigil_json_find(&d, "missing"), -1);
    assert_int_equal(vigil_json_str(&d, vigil_json_find(&d, "n"), out, sizeof out), -1);
    /* Too long for out. */
    assert_int_equal(vigil_json_str(&d, vigil_json_find(&d, "s"), out, 4), -1);
    vigil_json_fini(&d);
}

static void test_not_one_object(void **state)
{
    struct vigil_json d = {0};
    assert_int_equal(vigil_json_parse(&d, "[1,2]", 5), -1);
    assert_int_equal(vigil_json_parse(&d, "{\"a\":1} {\"b\":2}", 15), -1);
    assert_int_equal(vigil_json_parse(&d, "{\"a\":1}  \n", 10), 0);
    vigil_json_fini(&d);
}

static void test_field_shortcuts(void **state)
{
    char out[16] = "stale";
    int64_t v = 0;
    const char *js = "{\"rule\":\"toll_fraud.spend_1h\",\"ts\":1793606400000}";
    assert_int_equal(vigil_json_field_int(js, strlen(js), "ts", &v), 0);
    assert_int_equal(v, 1793606400000LL);
    /* A failed lookup leaves "" behind, so a caller may print it as is. */
    assert_int_equal(vigil_json_field_str(js, strlen(js), "rule", out, sizeof out), -1);
    assert_string_equal(out, "");
    strcpy(out, "stale");
    assert_int_equal(vigil_json_field_str("not json", 8, "rule", out, sizeof out), -1);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_not_one_object),
        cmocka_unit_test(test_field_shortcuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

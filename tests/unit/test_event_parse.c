/* SPDX-License-Identifier: Apache-2.0 */
/* test_event_parse.c - vigil_event_parse against wire format v1 (shared/spec/events.md):
 * the spec's examples, every invalid case and reason, boundaries, escapes and check order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/event.h"
#include "vigil/status.h"

/* The three examples of events.md, byte for byte. */
#define EX_CALL_START                                                                              \
    "{\"v\":1,\"type\":\"call_start\",\"id\":\"e-7f3a\",\"ts\":1795402746539,"                     \
    "\"account\":\"acc-1042\",\"call_id\":\"c-9\",\"from\":\"+31201234567\","                      \
    "\"to\":\"+5351234567\",\"dir\":\"out\",\"device\":\"pbx-1042/trunk1\","                       \
    "\"src_ip\":\"203.0.113.5\"}"
#define EX_CALL_END                                                                                \
    "{\"v\":1,\"type\":\"call_end\",\"id\":\"e-7f3b\",\"ts\":1795402912539,"                       \
    "\"account\":\"acc-1042\",\"call_id\":\"c-9\",\"from\":\"+31201234567\","                      \
    "\"to\":\"+5351234567\",\"dir\":\"out\",\"duration\":166}"
#define EX_SMS                                                                                     \
    "{\"v\":1,\"type\":\"sms\",\"id\":\"e-7f3c\",\"ts\":1795402746600,\"account\":\"acc-77\","     \
    "\"from\":\"+31612345678\",\"to\":\"0687654321\",\"segments\":1,"                              \
    "\"body_hash\":\"9f86d081884c7d65\"}"

#define KEY "acc-1042"

/* Events as (name, raw JSON value) lists, so a test can replace, drop or add one field. */
struct kv {
    const char *k;
    const char *v;
};

static const struct kv call_start[] = {
    {"v", "1"},
    {"type", "\"call_start\""},
    {"id", "\"e-7f3a\""},
    {"ts", "1795402746539"},
    {"account", "\"acc-1042\""},
    {"call_id", "\"c-9\""},
    {"from", "\"+31201234567\""},
    {"to", "\"+5351234567\""},
    {"dir", "\"out\""},
    {"device", "\"pbx-1042/trunk1\""},
    {"src_ip", "\"203.0.113.5\""},
    {NULL, NULL},
};

static const struct kv call_end[] = {
    {"v", "1"},
    {"type", "\"call_end\""},
    {"id", "\"e-7f3b\""},
    {"ts", "1795402912539"},
    {"account", "\"acc-1042\""},
    {"call_id", "\"c-9\""},
    {"from", "\"+31201234567\""},
    {"to", "\"+5351234567\""},
    {"dir", "\"out\""},
    {"duration", "166"},
    {NULL, NULL},
};

static const struct kv sms[] = {
    {"v", "1"},
    {"type", "\"sms\""},
    {"id", "\"e-7f3c\""},
    {"ts", "1795402746600"},
    {"account", "\"acc-1042\""},
    {"from", "\"+31612345678\""},
    {"to", "\"0687654321\""},
    {"segments", "1"},
    {"body_hash", "\"9f86d081884c7d65\""},
    {NULL, NULL},
};

static char jbuf[2][16384];
static int jcur;

/* The event `base` with field n1 set to the raw JSON v1 (appended when the base has no
 * such field) or removed when v1 is NULL, and the same for n2 unless it is NULL. The
 * result lives until the next call but one. */
static const char *with2(const struct kv *base, const char *n1, const char *v1, const char *n2,
                         const char *v2)
{
    char *out = jbuf[jcur ^= 1];
    size_t n = 0;
    bool found1 = false, found2 = false;

    out[n++] = '{';
    for (const struct kv *f = base; f->k != NULL; f++) {
        const char *v = f->v;
        if (strcmp(f->k, n1) == 0) {
            found1 = true;
            v = v1;
        } else if (n2 != NULL && strcmp(f->k, n2) == 0) {
            found2 = true;
            v = v2;
        }
        if (v == NULL)
            continue;
        n +=
            (size_t)snprintf(out + n, sizeof jbuf[0] - n, "%s\"%s\":%s", n > 1 ? "," : "", f->k, v);
    }
    if (!found1 && v1 != NULL)
        n += (size_t)snprintf(out + n, sizeof jbuf[0] - n, "%s\"%s\":%s", n > 1 ? "," : "", n1, v1);
    if (n2 != NULL && !found2 && v2 != NULL)
        n += (size_t)snprintf(out + n, sizeof jbuf[0] - n, "%s\"%s\":%s", n > 1 ? "," : "", n2, v2);
    assert_true(n + 2 < sizeof jbuf[0]);
    out[n++] = '}';
    out[n] = '\0';
    return out;
}

static const char *with(const struct kv *base, const char *name, const char *value)
{
    return with2(base, name, value, NULL, NULL);
}

/* A JSON string value of n copies of c. */
static const char *quoted_run(char c, size_t n)
{
    static char buf[1024];
    assert_true(n + 3 < sizeof buf);
    buf[0] = '"';
    memset(buf + 1, c, n);
    buf[n + 1] = '"';
    buf[n + 2] = '\0';
    return buf;
}

static struct vigil_event ev;
static struct vigil_parse_error err;

static int parse_full(const char *buf, size_t len, const char *key,
                      const struct vigil_parse_opts *opts)
{
    memset(&ev, 0xA5, sizeof ev);
    memset(&err, 0, sizeof err);
    return vigil_event_parse(buf, len, key, key ? strlen(key) : 0, opts, &ev, &err);
}

static int parse_key(const char *json, const char *key)
{
    return parse_full(json, strlen(json), key, NULL);
}

static void expect_ok_key(const char *json, const char *key)
{
    int rc = parse_key(json, key);
    if (rc != 0)
        print_error("unexpected %s (%s) for: %s\n", err.reason, err.detail, json);
    assert_int_equal(rc, 0);
}

static void expect_ok(const char *json)
{
    expect_ok_key(json, KEY);
}

static void expect_reason_len(const char *buf, size_t len, const char *key, const char *reason)
{
    int rc = parse_full(buf, len, key, NULL);
    if (rc == 0 || strcmp(err.reason, reason) != 0)
        print_error("want %s, got rc=%d %s (%s) for: %.*s\n", reason, rc, err.reason, err.detail,
                    (int)(len > 300 ? 300 : len), buf);
    assert_int_equal(rc, VIGIL_ERR_INVALID);
    assert_string_equal(err.reason, reason);
    /* The detail is a sentence for people: present and terminated. */
    assert_true(strlen(err.detail) > 10);
    assert_true(memchr(err.detail, '\0', sizeof err.detail) != NULL);
}

static void expect_reason_key(const char *json, const char *key, const char *reason)
{
    expect_reason_len(json, strlen(json), key, reason);
}

static void expect_reason(const char *json, const char *reason)
{
    expect_reason_key(json, KEY, reason);
}

/* ---- the examples of events.md ---- */

static void test_example_call_start(void **state)
{
    (void)state;
    expect_ok(EX_CALL_START);
    assert_int_equal(ev.type, VIGIL_EV_CALL_START);
    assert_int_equal(ev.dir, VIGIL_DIR_OUT);
    assert_true(ev.ts_ms == 1795402746539LL);
    assert_string_equal(ev.id, "e-7f3a");
    assert_string_equal(ev.account, "acc-1042");
    assert_string_equal(ev.call_id, "c-9");
    assert_string_equal(ev.from, "+31201234567");
    assert_string_equal(ev.to, "+5351234567");
    assert_string_equal(ev.device, "pbx-1042/trunk1");
    assert_string_equal(ev.src_ip, "203.0.113.5");
    assert_string_equal(ev.country, "");
    assert_true(ev.duration_s == 0);
    assert_true(ev.answered);
    assert_false(ev.has_cost);
    assert_int_equal(ev.segments, 0);
    assert_string_equal(ev.body_hash, "");
}

static void test_example_call_end(void **state)
{
    (void)state;
    expect_ok(EX_CALL_END);
    assert_int_equal(ev.type, VIGIL_EV_CALL_END);
    assert_int_equal(ev.dir, VIGIL_DIR_OUT);
    assert_true(ev.ts_ms == 1795402912539LL);
    assert_string_equal(ev.id, "e-7f3b");
    assert_string_equal(ev.account, "acc-1042");
    assert_string_equal(ev.call_id, "c-9");
    assert_string_equal(ev.from, "+31201234567");
    assert_string_equal(ev.to, "+5351234567");
    assert_true(ev.duration_s == 166);
    assert_true(ev.answered);
    assert_false(ev.has_cost);
    assert_string_equal(ev.device, "");
    assert_string_equal(ev.src_ip, "");
    assert_int_equal(ev.segments, 0);
}

/* Any duration >= 0 is valid; beyond a year it is taken as a year, so the detectors' time
 * arithmetic cannot overflow. */
static void test_huge_duration_taken_as_a_year(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"31622400", "31622400"},
        {"31622401", "31622400"},
        {"99999999999999999", "31622400"},
        {"9223372036854775807", "31622400"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"v\":1,\"type\":\"call_end\",\"id\":\"e-1\",\"ts\":1795402912539,"
                 "\"account\":\"acc-1042\",\"call_id\":\"c-9\",\"from\":\"+31201234567\","
                 "\"to\":\"+5351234567\",\"dir\":\"out\",\"duration\":%s}",
                 cases[i][0]);
        expect_ok(json);
        assert_true(ev.duration_s == strtoll(cases[i][1], NULL, 10));
    }
}

static void test_example_sms(void **state)
{
    (void)state;
    expect_ok_key(EX_SMS, "acc-77");
    assert_int_equal(ev.type, VIGIL_EV_SMS);
    assert_int_equal(ev.dir, VIGIL_DIR_NONE);
    assert_true(ev.ts_ms == 1795402746600LL);
    assert_string_equal(ev.id, "e-7f3c");
    assert_string_equal(ev.account, "acc-77");
    assert_string_equal(ev.call_id, "");
    assert_string_equal(ev.from, "+31612345678");
    assert_string_equal(ev.to, "+31687654321"); /* national, read in +31 */
    assert_int_equal(ev.segments, 1);
    assert_string_equal(ev.body_hash, "9f86d081884c7d65");
    assert_true(ev.duration_s == 0);
    assert_false(ev.has_cost);
}

static void test_builders_match_examples(void **state)
{
    (void)state;
    /* The kv lists are the examples (sms with account acc-1042), so variants differ from
     * a known-good event in exactly one field. */
    assert_string_equal(with(call_start, "x", NULL), EX_CALL_START);
    assert_string_equal(with(call_end, "x", NULL), EX_CALL_END);
    expect_ok(with(sms, "x", NULL));
}

static void test_optional_fields(void **state)
{
    (void)state;
    expect_ok("{\"v\":1,\"type\":\"call_end\",\"id\":\"x1\",\"ts\":1795402912539,"
              "\"account\":\"acc-1042\",\"call_id\":\"c-1\",\"from\":\"+31201234567\","
              "\"to\":\"+88213\",\"dir\":\"in\",\"duration\":0,\"answered\":false,"
              "\"cost\":0.0125,\"device\":\"\",\"src_ip\":\"2001:db8::1\",\"country\":\"nl\"}");
    assert_int_equal(ev.dir, VIGIL_DIR_IN);
    assert_false(ev.answered);
    assert_true(ev.duration_s == 0);
    assert_true(ev.has_cost);
    assert_true(ev.cost_eur > 0.01249999 && ev.cost_eur < 0.01250001);
    assert_string_equal(ev.device, "");
    assert_string_equal(ev.src_ip, "2001:db8::1");
    assert_string_equal(ev.country, "NL");
    assert_string_equal(ev.to, "+88213");

    expect_ok(with(call_end, "answered", "true"));
    assert_true(ev.answered);
    expect_ok(with(call_start, "src_ip", "\"::ffff:192.0.2.1\""));
    assert_string_equal(ev.src_ip, "::ffff:192.0.2.1");
    expect_ok(with(call_start, "country", "\"Cu\""));
    assert_string_equal(ev.country, "CU");

    /* sms: segments default 1, body_hash stored lower-case */
    expect_ok(with(sms, "segments", NULL));
    assert_int_equal(ev.segments, 1);
    expect_ok(with(sms, "body_hash", "\"9F86D081884C7D65\""));
    assert_string_equal(ev.body_hash, "9f86d081884c7d65");
    expect_ok(with(sms, "body_hash", "\"\""));
    assert_string_equal(ev.body_hash, "");
}

static void test_optional_null_is_absent(void **state)
{
    (void)state;
    expect_ok(with(call_start, "device", "null"));
    assert_string_equal(ev.device, "");
    expect_ok(with(call_start, "src_ip", "null"));
    assert_string_equal(ev.src_ip, "");
    expect_ok(with(call_start, "country", "null"));
    assert_string_equal(ev.country, "");
    expect_ok(with(call_start, "cost", "null"));
    assert_false(ev.has_cost);
    expect_ok(with(call_end, "answered", "null"));
    assert_true(ev.answered);
    expect_ok(with(sms, "segments", "null"));
    assert_int_equal(ev.segments, 1);
    expect_ok(with(sms, "body_hash", "null"));
    assert_string_equal(ev.body_hash, "");
}

static void test_required_null_is_bad_field(void **state)
{
    (void)state;
    expect_reason(with(call_start, "v", "null"), "bad_field:v");
    expect_reason(with(call_start, "type", "null"), "bad_field:type");
    expect_reason(with(call_start, "id", "null"), "bad_field:id");
    expect_reason(with(call_start, "ts", "null"), "bad_field:ts");
    expect_reason(with(call_start, "account", "null"), "bad_field:account");
    expect_reason(with(call_start, "from", "null"), "bad_field:from");
    expect_reason(with(call_start, "to", "null"), "bad_field:to");
    expect_reason(with(call_start, "call_id", "null"), "bad_field:call_id");
    expect_reason(with(call_start, "dir", "null"), "bad_field:dir");
    expect_reason(with(call_end, "duration", "null"), "bad_field:duration");
}

static void test_fields_of_other_kinds_ignored(void **state)
{
    (void)state;
    /* duration and answered belong to call_end, segments to sms, dir/device to calls */
    expect_ok(with(call_start, "duration", "\"soon\""));
    assert_true(ev.duration_s == 0);
    expect_ok(with(call_start, "answered", "7"));
    assert_true(ev.answered);
    expect_ok(with(call_start, "segments", "0"));
    assert_int_equal(ev.segments, 0);
    expect_ok(with(sms, "dir", "\"sideways\""));
    assert_int_equal(ev.dir, VIGIL_DIR_NONE);
    expect_ok(with(sms, "call_id", "17"));
    assert_string_equal(ev.call_id, "");
    expect_ok(with(sms, "src_ip", "\"not an ip\""));
    assert_string_equal(ev.src_ip, "");
}

/* ---- size, UTF-8, JSON, object ---- */

/* call_start padded with an unknown string field to exactly `total` bytes. */
static const char *padded(size_t total)
{
    static char buf[VIGIL_EVENT_MAX_BYTES + 64];
    const char *base = EX_CALL_START;
    size_t bl = strlen(base);
    size_t pad = total - bl - strlen(",\"pad\":\"\"");
    assert_true(total < sizeof buf && total > bl + 10);
    memcpy(buf, base, bl - 1);
    size_t n = bl - 1;
    n += (size_t)sprintf(buf + n, ",\"pad\":\"");
    memset(buf + n, 'p', pad);
    n += pad;
    buf[n++] = '"';
    buf[n++] = '}';
    buf[n] = '\0';
    assert_int_equal(n, total);
    return buf;
}

static void test_size_limit(void **state)
{
    (void)state;
    expect_ok(padded(VIGIL_EVENT_MAX_BYTES));
    assert_string_equal(ev.id, "e-7f3a");
    expect_reason(padded(VIGIL_EVENT_MAX_BYTES + 1), "too_large");

    /* Size is checked before anything else, even before looking at the bytes. */
    char big[VIGIL_EVENT_MAX_BYTES + 1];
    memset(big, 0xFF, sizeof big);
    expect_reason_len(big, sizeof big, KEY, "too_large");
    expect_reason_len(big, sizeof big - 1, KEY, "bad_utf8");
}

static void test_bad_utf8(void **state)
{
    (void)state;
    expect_reason(with(call_start, "device", "\"pbx\xff\""), "bad_utf8");
    expect_reason(with(call_start, "device", "\"\xc0\xaf\""), "bad_utf8");         /* overlong */
    expect_reason(with(call_start, "device", "\"\xe0\x80\xaf\""), "bad_utf8");     /* overlong */
    expect_reason(with(call_start, "device", "\"\xed\xa0\x80\""), "bad_utf8");     /* surrogate */
    expect_reason(with(call_start, "device", "\"\xf4\x90\x80\x80\""), "bad_utf8"); /* >10FFFF */
    expect_reason(with(call_start, "device", "\"\xe2\x82\""), "bad_utf8");         /* truncated */
    expect_reason(with(call_start, "device", "\"\x80\""), "bad_utf8");             /* lone cont. */
    expect_reason(with(call_start, "zz", "\"\xf5\x80\x80\x80\""), "bad_utf8");     /* unknown too */
    /* bad bytes outside strings, and a multi-byte sequence cut by the end of the buffer */
    expect_reason("{\"v\":1}\xc3", "bad_utf8");
    /* UTF-8 is checked before JSON syntax */
    expect_reason("{\"v\":\xff", "bad_utf8");

    /* Valid multi-byte text is fine wherever strings are free-form. */
    expect_ok(
        with(call_start, "device", "\"Zentrale M\xc3\xbcnchen \xe2\x82\xac \xf0\x9f\x93\x9e\""));
    assert_string_equal(ev.device, "Zentrale M\xc3\xbcnchen \xe2\x82\xac \xf0\x9f\x93\x9e");
    expect_ok(with(call_start, "note", "\"\xe6\x97\xa5\xe6\x9c\xac\""));
}

static void test_json_syntax(void **state)
{
    static const char *const bad[] = {
        "",
        " ",
        "not json",
        "{",
        "}",
        "{\"v\":1",
        "{\"v\":1,}",
        "{,\"v\":1}",
        "{\"v\" 1}",
        "{\"v\"::1}",
        "{\"v\":1 \"type\":\"sms\"}",
        "{\"a\" \"b\"}",
        "{\"a\"}",
        "{\"a\":}",
        "{1:2}",
        "{'v':1}",
        "{\"v\":01}",
        "{\"v\":-01}",
        "{\"v\":1.}",
        "{\"v\":.5}",
        "{\"v\":1e}",
        "{\"v\":1e+}",
        "{\"v\":+1}",
        "{\"v\":-}",
        "{\"v\":0x1}",
        "{\"v\":1a}",
        "{\"v\":tru}",
        "{\"v\":truex}",
        "{\"v\":True}",
        "{\"v\":nul}",
        "{\"v\":NaN}",
        "{\"v\":Infinity}",
        "{\"v\":[1 2]}",
        "{\"v\":[1,]}",
        "{\"v\":[,1]}",
        "{\"v\":{\"a\":1]}",
        "{\"v\":[1}",
        "{\"v\":1}}",
        "{\"v\":1}]",
        "{}{}",
        "{} {}",
        "{\"v\":1} x",
        "{\"v\":1},",
        "{\"v\":1} // comment",
        "/* c */ {\"v\":1}",
        "{\"v\":\"a\tb\"}", /* raw control characters in a string */
        "{\"v\":\"a\nb\"}",
        "{\"v\":\"a\x01\"}",
        "{\"v\":\"\\x41\"}", /* bad escapes */
        "{\"v\":\"\\a\"}",
        "{\"v\":\"\\u12\"}",
        "{\"v\":\"\\u12G4\"}",
        "{\"v\":\"\\\"}",
        "{\"v\":\"\\ud800\"}", /* lone or reversed surrogates */
        "{\"v\":\"\\ud800x\"}",
        "{\"v\":\"\\ud800\\u0041\"}",
        "{\"v\":\"\\udc00\\ud800\"}",
        "{\"v\":\"\\udfff\"}",
        "{\"v\":\"abc}",
        "\"abc",
        "{\"v\":1}\v",
        "\xef\xbb\xbf{\"v\":1}", /* a byte order mark is not JSON whitespace */
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_reason(bad[i], "json_syntax");

    /* A NUL is not the end of the buffer: the length is. */
    static const char nul_after[] = "{\"v\":1}\0";
    expect_reason_len(nul_after, sizeof nul_after - 1, KEY, "json_syntax");
    static const char nul_inside[] = "{\"v\":\"a\0b\"}";
    expect_reason_len(nul_inside, sizeof nul_inside - 1, KEY, "json_syntax");
    expect_reason_len(NULL, 0, KEY, "json_syntax");
}

static void test_json_whitespace_and_length(void **state)
{
    char buf[1024];
    (void)state;
    snprintf(buf, sizeof buf, " \r\n\t%s \n", EX_CALL_START);
    expect_ok(buf);
    assert_string_equal(ev.id, "e-7f3a");
    expect_ok("{ \"v\" : 1 , \"type\" : \"call_start\" , \"id\" : \"x\" , \"ts\" : 1795402746539 ,"
              " \"account\" : \"acc-1042\" , \"call_id\" : \"c\" , \"from\" : \"112\" ,"
              " \"to\" : \"911\" , \"dir\" : \"in\" }");
    assert_string_equal(ev.from, "112");
    assert_string_equal(ev.to, "911");

    /* The buffer needs no NUL and nothing after len is read. */
    snprintf(buf, sizeof buf, "%sGARBAGE", EX_CALL_START);
    assert_int_equal(parse_full(buf, strlen(EX_CALL_START), KEY, NULL), 0);
    assert_string_equal(ev.src_ip, "203.0.113.5");
    /* ...and a buffer cut short is not an event. */
    expect_reason_len(EX_CALL_START, strlen(EX_CALL_START) - 1, KEY, "json_syntax");
}

static void test_not_object(void **state)
{
    static const char *const vals[] = {
        "[1]", "[]", " [ {} ] ", "\"x\"", "1", "-0.5e3", "true", "false", "null", "[" EX_SMS "]",
    };
    (void)state;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        expect_reason(vals[i], "not_object");
    /* syntax wins over object-ness */
    expect_reason("[1,]", "json_syntax");
    expect_reason("01", "json_syntax");
}

static void test_too_complex(void **state)
{
    char arr[2048];
    size_t n = 0;
    (void)state;

    /* 300 array elements: valid JSON, more tokens than the parser holds */
    n += (size_t)sprintf(arr + n, "[");
    for (int i = 0; i < 300; i++)
        n += (size_t)sprintf(arr + n, "%s1", i ? "," : "");
    sprintf(arr + n, "]");
    expect_reason(with(call_start, "many", arr), "too_complex");
    /* ...but a malformed value of the same size is still json_syntax */
    arr[n - 1] = ',';
    expect_reason(with(call_start, "many", arr), "json_syntax");
    /* ...and a huge top-level array is not_object */
    arr[n - 1] = '1';
    expect_reason(arr, "not_object");

    /* nesting beyond the limit */
    char deep[256];
    n = 0;
    for (int i = 0; i < 40; i++)
        deep[n++] = '[';
    for (int i = 0; i < 40; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    expect_reason(with(call_start, "deep", deep), "too_complex");
    /* nesting within the limit */
    n = 0;
    for (int i = 0; i < 20; i++)
        n += (size_t)sprintf(deep + n, "{\"a\":");
    n += (size_t)sprintf(deep + n, "null");
    for (int i = 0; i < 20; i++)
        deep[n++] = '}';
    deep[n] = '\0';
    expect_ok(with(call_start, "deep", deep));
}

static void test_unknown_fields_ignored(void **state)
{
    (void)state;
    expect_ok(with(call_start, "ext",
                   "{\"a\":[1,{\"b\":null,\"v\":2,\"id\":\"inner\"}],\"c\":{},\"d\":[],"
                   "\"e\":[[],[{}]],\"f\":-1.5e-3,\"g\":true,\"h\":\"\\u00e9\"}"));
    /* fields inside nested objects never count as top-level fields */
    assert_string_equal(ev.id, "e-7f3a");
    expect_ok(with(call_start, "tags", "[\"x\",\"y\"]"));
    expect_ok(with(call_start, "", "0"));
    expect_ok(with(call_start, "V", "2"));
    expect_ok(with(call_start, "type2", "\"fax\""));
    expect_ok(with(call_start, "a_very_long_unknown_field_name_for_the_future", "{}"));
    /* an unknown field may repeat */
    char buf[1024];
    snprintf(buf, sizeof buf, "{\"x\":1,\"x\":2,%s", &EX_CALL_START[1]);
    expect_ok(buf);
}

/* ---- fields ---- */

static void test_missing_fields(void **state)
{
    static const char *const common[] = {"v", "type", "id", "ts", "account", "from", "to"};
    char reason[64];
    (void)state;

    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++) {
        snprintf(reason, sizeof reason, "missing_field:%s", common[i]);
        expect_reason(with(call_start, common[i], NULL), reason);
        expect_reason(with(call_end, common[i], NULL), reason);
        expect_reason(with(sms, common[i], NULL), reason);
    }
    expect_reason(with(call_start, "call_id", NULL), "missing_field:call_id");
    assert_string_equal(err.detail, "field 'call_id' is required for call_start");
    expect_reason(with(call_end, "call_id", NULL), "missing_field:call_id");
    assert_string_equal(err.detail, "field 'call_id' is required for call_end");
    expect_reason(with(call_start, "dir", NULL), "missing_field:dir");
    expect_reason(with(call_end, "dir", NULL), "missing_field:dir");
    expect_reason(with(call_end, "duration", NULL), "missing_field:duration");
    expect_reason("{}", "missing_field:v");
    /* optional ones */
    expect_ok(with(call_start, "device", NULL));
    expect_ok(with(call_start, "src_ip", NULL));
    expect_ok(with(call_end, "answered", NULL));
    expect_ok(with(sms, "segments", NULL));
    expect_ok(with(sms, "body_hash", NULL));
}

static void test_version(void **state)
{
    (void)state;
    expect_reason(with(call_start, "v", "2"), "bad_version");
    expect_reason(with(call_start, "v", "0"), "bad_version");
    expect_reason(with(call_start, "v", "-1"), "bad_version");
    expect_reason(with(call_start, "v", "\"1\""), "bad_field:v");
    expect_reason(with(call_start, "v", "1.0"), "bad_field:v");
    expect_reason(with(call_start, "v", "1e0"), "bad_field:v");
    expect_reason(with(call_start, "v", "true"), "bad_field:v");
    expect_reason(with(call_start, "v", "[1]"), "bad_field:v");
    expect_reason(with(call_start, "v", "99999999999999999999"), "bad_field:v");
}

static void test_type(void **state)
{
    (void)state;
    expect_reason(with(call_start, "type", "\"fax\""), "bad_type");
    expect_reason(with(call_start, "type", "\"CALL_START\""), "bad_type");
    expect_reason(with(call_start, "type", "\"call_start \""), "bad_type");
    expect_reason(with(call_start, "type", "\"\""), "bad_type");
    expect_reason(with(call_start, "type", "\"call_start\\u0000\""), "bad_type");
    expect_reason(with(call_start, "type", "\"a_type_name_much_longer_than_any\""), "bad_type");
    expect_reason(with(call_start, "type", "3"), "bad_field:type");
    expect_reason(with(call_start, "type", "{}"), "bad_field:type");
    /* an escaped but equal string is the same type */
    expect_ok(with(sms, "type", "\"\\u0073ms\""));
    assert_int_equal(ev.type, VIGIL_EV_SMS);
}

static void test_id(void **state)
{
    char v[512];
    (void)state;
    expect_ok(with(call_start, "id", quoted_run('i', 128)));
    assert_int_equal(strlen(ev.id), 128);
    expect_reason(with(call_start, "id", quoted_run('i', 129)), "bad_field:id");
    expect_reason(with(call_start, "id", "\"\""), "bad_field:id");
    expect_reason(with(call_start, "id", "42"), "bad_field:id");
    expect_reason(with(call_start, "id", "\"a\\u0000b\""), "bad_field:id");
    /* the limit is on decoded bytes: 64 two-byte characters fit, 65 do not */
    strcpy(v, "\"");
    for (int i = 0; i < 64; i++)
        strcat(v, "\\u00e9");
    strcat(v, "\"");
    expect_ok(with(call_start, "id", v));
    assert_int_equal(strlen(ev.id), 128);
    v[strlen(v) - 1] = '\0';
    strcat(v, "\\u00e9\"");
    expect_reason(with(call_start, "id", v), "bad_field:id");
}

static void test_ts(void **state)
{
    char v[32];
    (void)state;
    expect_reason(with(call_start, "ts", "\"1795402746539\""), "bad_field:ts");
    expect_reason(with(call_start, "ts", "1795402746539.0"), "bad_field:ts");
    expect_reason(with(call_start, "ts", "1.795402746539e12"), "bad_field:ts");
    expect_reason(with(call_start, "ts", "9223372036854775808"), "bad_field:ts");
    expect_reason(with(call_start, "ts", "false"), "bad_field:ts");

    snprintf(v, sizeof v, "%lld", VIGIL_TS_MIN_MS);
    expect_ok(with(call_start, "ts", v));
    assert_true(ev.ts_ms == VIGIL_TS_MIN_MS);
    snprintf(v, sizeof v, "%lld", VIGIL_TS_MIN_MS - 1);
    expect_reason(with(call_start, "ts", v), "ts_past");
    expect_reason(with(call_start, "ts", "1795402746"), "ts_past"); /* seconds, not ms */
    expect_reason(with(call_start, "ts", "0"), "ts_past");
    expect_reason(with(call_start, "ts", "-1795402746539"), "ts_past");
    expect_reason(with(call_start, "ts", "-9223372036854775808"), "ts_past");
    expect_ok(with(call_start, "ts", "9223372036854775807")); /* no stream time yet */
}

static void test_ts_future(void **state)
{
    const int64_t stream = 1795402746539LL;
    struct vigil_parse_opts o = {.now_ms = stream};
    char v[32];
    const char *j;
    (void)state;

    snprintf(v, sizeof v, "%lld", (long long)(stream + VIGIL_TS_MAX_AHEAD_MS));
    j = with(call_start, "ts", v);
    assert_int_equal(parse_full(j, strlen(j), KEY, &o), 0);
    assert_true(ev.ts_ms == stream + VIGIL_TS_MAX_AHEAD_MS);

    snprintf(v, sizeof v, "%lld", (long long)(stream + VIGIL_TS_MAX_AHEAD_MS + 1));
    j = with(call_start, "ts", v);
    assert_int_equal(parse_full(j, strlen(j), KEY, &o), VIGIL_ERR_INVALID);
    assert_string_equal(err.reason, "ts_future");
    j = with(call_start, "ts", "9223372036854775807");
    assert_int_equal(parse_full(j, strlen(j), KEY, &o), VIGIL_ERR_INVALID);
    assert_string_equal(err.reason, "ts_future");

    /* late events are fine (disorder is the detectors' business) */
    snprintf(v, sizeof v, "%lld", (long long)(stream - 7 * VIGIL_TS_MAX_AHEAD_MS));
    j = with(call_start, "ts", v);
    assert_int_equal(parse_full(j, strlen(j), KEY, &o), 0);
    /* no stream time yet: no upper bound */
    o.now_ms = 0;
    j = with(call_start, "ts", "4102444800000");
    assert_int_equal(parse_full(j, strlen(j), KEY, &o), 0);
}

static void test_account(void **state)
{
    char key[80];
    (void)state;

    memset(key, 'a', 64);
    key[64] = '\0';
    expect_ok_key(with(call_start, "account", quoted_run('a', 64)), key);
    assert_string_equal(ev.account, key);
    key[64] = 'a';
    key[65] = '\0';
    expect_reason_key(with(call_start, "account", quoted_run('a', 65)), key, "bad_field:account");

    expect_ok_key(with(call_start, "account", "\"Az09._:-\""), "Az09._:-");
    expect_reason_key(with(call_start, "account", "\"acc/1042\""), "acc/1042", "bad_field:account");
    expect_reason_key(with(call_start, "account", "\"acc 1042\""), "acc 1042", "bad_field:account");
    expect_reason_key(with(call_start, "account", "\"acc\xc3\xa9\""), "acc\xc3\xa9",
                      "bad_field:account");
    expect_reason_key(with(call_start, "account", "\"\""), "", "bad_field:account");
    expect_reason(with(call_start, "account", "1042"), "bad_field:account");
    expect_reason(with(call_start, "account", "\"acc\\u00001042\""), "bad_field:account");
}

static void test_key_mismatch(void **state)
{
    (void)state;
    expect_reason_key(EX_CALL_START, NULL, "key_mismatch");
    expect_reason_key(EX_CALL_START, "acc-1043", "key_mismatch");
    expect_reason_key(EX_CALL_START, "acc-104", "key_mismatch");
    expect_reason_key(EX_CALL_START, "acc-10420", "key_mismatch");
    expect_reason_key(EX_CALL_START, "ACC-1042", "key_mismatch");
    expect_reason_key(EX_CALL_START, "", "key_mismatch");
    /* key_len, not strlen, says where the key ends */
    assert_int_equal(
        vigil_event_parse(EX_CALL_START, strlen(EX_CALL_START), "acc-10420", 8, NULL, &ev, &err),
        0);
    assert_int_equal(
        vigil_event_parse(EX_CALL_START, strlen(EX_CALL_START), "acc-1042", 7, NULL, &ev, &err),
        VIGIL_ERR_INVALID);
    assert_string_equal(err.reason, "key_mismatch");
    static const char key_nul[] = "acc-1042\0";
    assert_int_equal(vigil_event_parse(EX_CALL_START, strlen(EX_CALL_START), key_nul,
                                       sizeof key_nul - 1, NULL, &ev, &err),
                     VIGIL_ERR_INVALID);
    assert_string_equal(err.reason, "key_mismatch");
}

static void test_escapes_decoded(void **state)
{
    (void)state;
    /* "acc\u002d1" is "acc-1": it matches the key and is stored decoded */
    expect_ok_key(with(call_start, "account", "\"acc\\u002d1\""), "acc-1");
    assert_string_equal(ev.account, "acc-1");
    expect_ok(with(call_start, "id", "\"q\\\"b\\\\s\\/b\\bf\\fn\\nr\\rt\\t\""));
    assert_string_equal(ev.id, "q\"b\\s/b\bf\fn\nr\rt\t");
    expect_ok(with(call_start, "device", "\"\\u00e9\\u20AC\\ud83d\\ude00\\uD834\\uDD1E\""));
    assert_string_equal(ev.device, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf0\x9d\x84\x9e");
    expect_ok(with(call_start, "to", "\"\\u002b53 5123\\u00204567\""));
    assert_string_equal(ev.to, "+5351234567");
    expect_ok(with(call_start, "dir", "\"\\u0069n\""));
    assert_int_equal(ev.dir, VIGIL_DIR_IN);
    expect_ok(with(call_start, "src_ip", "\"203.0.113\\u002e5\""));
    assert_string_equal(ev.src_ip, "203.0.113.5");
    /* an escaped key names the same field */
    expect_ok(with2(call_start, "device", NULL, "\\u0064evice", "\"escaped-key\""));
    assert_string_equal(ev.device, "escaped-key");
    /* ...so the example's device and this one are a duplicate */
    expect_reason(with(call_start, "\\u0064evice", "\"escaped-key\""), "duplicate_field:device");
}

static void test_numbers_in_events(void **state)
{
    struct vigil_parse_opts be = {.default_cc = "32"};
    const char *j;
    (void)state;

    expect_ok(with(call_start, "to", "\"0053 5123 4567\""));
    assert_string_equal(ev.to, "+5351234567");
    expect_ok(with(call_start, "to", "\"0900 1234567\""));
    assert_string_equal(ev.to, "+319001234567");
    expect_ok(with(call_start, "from", "\"(020) 123-45.67\""));
    assert_string_equal(ev.from, "+31201234567");
    expect_ok(with(call_start, "to", "\"112\""));
    assert_string_equal(ev.to, "112");

    j = with(sms, "to", "\"0470 12 34 56\"");
    assert_int_equal(parse_full(j, strlen(j), KEY, &be), 0);
    assert_string_equal(ev.to, "+32470123456");

    expect_reason(with(call_start, "from", "\"abc\""), "bad_number:from");
    expect_reason(with(call_start, "from", "\"\""), "bad_number:from");
    expect_reason(with(call_start, "from", "\"31201234567\""), "bad_number:from");
    expect_reason(with(call_start, "to", "\"+\""), "bad_number:to");
    expect_reason(with(call_start, "to", "\"*123#\""), "bad_number:to");
    expect_reason(with(call_start, "to", "\"+31 20 123 4567 ext. 12\""), "bad_number:to");
    expect_reason(with(call_start, "to", quoted_run('1', 200)), "bad_number:to");
    expect_reason(with(call_start, "to", "\"112\\u0000\""), "bad_number:to");
    /* mistyped is bad_field, not bad_number */
    expect_reason(with(call_start, "from", "31201234567"), "bad_field:from");
    expect_reason(with(call_start, "to", "[\"+31201234567\"]"), "bad_field:to");
}

static void test_call_fields(void **state)
{
    (void)state;
    expect_ok(with(call_start, "call_id", quoted_run('c', 128)));
    assert_int_equal(strlen(ev.call_id), 128);
    expect_reason(with(call_start, "call_id", quoted_run('c', 129)), "bad_field:call_id");
    expect_reason(with(call_start, "call_id", "\"\""), "bad_field:call_id");
    expect_reason(with(call_end, "call_id", "9"), "bad_field:call_id");

    expect_reason(with(call_start, "dir", "\"sideways\""), "bad_field:dir");
    expect_reason(with(call_start, "dir", "\"OUT\""), "bad_field:dir");
    expect_reason(with(call_start, "dir", "\"\""), "bad_field:dir");
    expect_reason(with(call_start, "dir", "1"), "bad_field:dir");

    expect_reason(with(call_end, "duration", "-1"), "bad_field:duration");
    expect_reason(with(call_end, "duration", "1.5"), "bad_field:duration");
    expect_reason(with(call_end, "duration", "166.0"), "bad_field:duration");
    expect_reason(with(call_end, "duration", "\"166\""), "bad_field:duration");
    expect_ok(with(call_end, "duration", "0"));
    assert_true(ev.duration_s == 0);
    expect_ok(with(call_end, "duration", "86400"));
    assert_true(ev.duration_s == 86400);

    expect_reason(with(call_end, "answered", "\"false\""), "bad_field:answered");
    expect_reason(with(call_end, "answered", "0"), "bad_field:answered");

    expect_ok(with(call_start, "cost", "0"));
    assert_true(ev.has_cost && ev.cost_eur == 0.0);
    expect_ok(with(call_start, "cost", "-0"));
    assert_true(ev.has_cost && ev.cost_eur == 0.0);
    expect_ok(with(call_start, "cost", "1.5e2"));
    assert_true(ev.cost_eur == 150.0);
    expect_ok(with(call_start, "cost", "0.1"));
    assert_true(ev.cost_eur == 0.1);
    expect_ok(with(call_start, "cost", "12345678901234567890123"));
    assert_true(ev.cost_eur > 1.2345678901e22 && ev.cost_eur < 1.2345678902e22);
    expect_ok(with(call_start, "cost", "1e-400"));
    assert_true(ev.cost_eur == 0.0);
    expect_reason(with(call_start, "cost", "-0.01"), "bad_field:cost");
    expect_reason(with(call_start, "cost", "1e400"), "bad_field:cost");
    expect_reason(with(call_start, "cost", "\"1.00\""), "bad_field:cost");
    expect_reason(with(call_start, "cost", "true"), "bad_field:cost");

    expect_ok(with(call_start, "device", quoted_run('d', 128)));
    assert_int_equal(strlen(ev.device), 128);
    expect_reason(with(call_start, "device", quoted_run('d', 129)), "bad_field:device");
    expect_reason(with(call_start, "device", "{}"), "bad_field:device");

    expect_reason(with(call_start, "src_ip", "\"999.1.1.1\""), "bad_field:src_ip");
    expect_reason(with(call_start, "src_ip", "\"203.0.113\""), "bad_field:src_ip");
    expect_reason(with(call_start, "src_ip", "\"example.com\""), "bad_field:src_ip");
    expect_reason(with(call_start, "src_ip", "\"2001:db8:::1\""), "bad_field:src_ip");
    expect_reason(with(call_start, "src_ip", "\"\""), "bad_field:src_ip");
    expect_reason(with(call_start, "src_ip", "\"203.0.113.5 \""), "bad_field:src_ip");
    expect_reason(with(call_start, "src_ip", quoted_run('1', 60)), "bad_field:src_ip");
    expect_reason(with(call_start, "src_ip", "3405803781"), "bad_field:src_ip");
    expect_ok(with(call_start, "src_ip", "\"0000:0000:0000:0000:0000:ffff:192.168.100.200\""));
    assert_string_equal(ev.src_ip, "0000:0000:0000:0000:0000:ffff:192.168.100.200");

    expect_reason(with(call_start, "country", "\"NLD\""), "bad_field:country");
    expect_reason(with(call_start, "country", "\"N\""), "bad_field:country");
    expect_reason(with(call_start, "country", "\"N1\""), "bad_field:country");
    expect_reason(with(call_start, "country", "\"\""), "bad_field:country");
    expect_reason(with(call_start, "country", "\"\xc3\x9c\""), "bad_field:country");
    expect_reason(with(call_start, "country", "31"), "bad_field:country");
}

static void test_sms_fields(void **state)
{
    (void)state;
    expect_ok(with(sms, "segments", "255"));
    assert_int_equal(ev.segments, 255);
    expect_reason(with(sms, "segments", "256"), "bad_field:segments");
    expect_reason(with(sms, "segments", "0"), "bad_field:segments");
    expect_reason(with(sms, "segments", "-1"), "bad_field:segments");
    expect_reason(with(sms, "segments", "1.0"), "bad_field:segments");
    expect_reason(with(sms, "segments", "\"2\""), "bad_field:segments");
    expect_reason(with(sms, "segments", "99999999999999999999999"), "bad_field:segments");

    expect_ok(with(sms, "body_hash", quoted_run('f', 64)));
    assert_int_equal(strlen(ev.body_hash), 64);
    expect_reason(with(sms, "body_hash", quoted_run('f', 65)), "bad_field:body_hash");
    expect_reason(with(sms, "body_hash", "\"9f86g0\""), "bad_field:body_hash");
    expect_reason(with(sms, "body_hash", "\"0x9f86\""), "bad_field:body_hash");
    expect_reason(with(sms, "body_hash", "12"), "bad_field:body_hash");
    /* an sms needs neither call_id nor dir */
    expect_ok(with(sms, "call_id", NULL));
}

static void test_duplicates(void **state)
{
    char buf[1024];
    (void)state;
    snprintf(buf, sizeof buf, "{\"id\":\"again\",%s", &EX_CALL_START[1]);
    expect_reason(buf, "duplicate_field:id");
    assert_string_equal(err.detail, "field 'id' appears more than once");
    snprintf(buf, sizeof buf, "{\"account\":\"acc-1042\",%s", &EX_CALL_START[1]);
    expect_reason(buf, "duplicate_field:account");
    /* even when only one copy is for this event type, and even before v is looked at */
    snprintf(buf, sizeof buf, "{\"v\":7,\"segments\":1,%s", &EX_SMS[1]);
    expect_reason_key(buf, "acc-77", "duplicate_field:v");
}

static void test_check_order(void **state)
{
    (void)state;
    /* size before UTF-8 before syntax before object-ness: covered above. Then fields in
     * the order v, type, id, ts, account (+ key), from, to, type-specific. */
    expect_reason("{\"type\":\"fax\",\"v\":2}", "bad_version");
    expect_reason("{\"v\":1,\"type\":\"fax\"}", "bad_type");
    expect_reason("{\"v\":1,\"type\":\"sms\",\"ts\":1}", "missing_field:id");
    expect_reason("{\"v\":1,\"type\":\"sms\",\"id\":\"x\",\"ts\":1}", "ts_past");
    expect_reason_key(with(call_start, "ts", "1"), "other", "ts_past"); /* before the key */
    expect_reason_key(with(call_start, "account", "\"a/b\""), NULL, "bad_field:account");
    expect_reason_key(with(call_start, "from", "\"x\""), "other", "key_mismatch");
    expect_reason(with(call_start, "from", "\"x\""), "bad_number:from");
    expect_reason(with2(call_start, "from", "\"x\"", "to", "\"y\""), "bad_number:from");
    expect_reason(with2(call_start, "to", "\"y\"", "call_id", "\"\""), "bad_number:to");
    expect_reason(with2(call_start, "call_id", "\"\"", "dir", "\"up\""), "bad_field:call_id");
    expect_reason("{\"v\":1,\"type\":\"call_end\",\"id\":\"x\",\"ts\":1795402912539,"
                  "\"account\":\"acc-1042\",\"from\":\"x\",\"to\":\"+31201234567\"}",
                  "bad_number:from");
    expect_reason("{\"v\":1,\"type\":\"call_end\",\"id\":\"x\",\"ts\":1795402912539,"
                  "\"account\":\"acc-1042\",\"from\":\"112\",\"to\":\"112\",\"dir\":\"up\"}",
                  "missing_field:call_id");
    expect_reason("{\"v\":1,\"type\":\"call_end\",\"id\":\"x\",\"ts\":1795402912539,"
                  "\"account\":\"acc-1042\",\"from\":\"112\",\"to\":\"112\",\"call_id\":\"c\","
                  "\"cost\":-1}",
                  "missing_field:dir");
    expect_reason("{\"v\":1,\"type\":\"call_end\",\"id\":\"x\",\"ts\":1795402912539,"
                  "\"account\":\"acc-1042\",\"from\":\"112\",\"to\":\"112\",\"call_id\":\"c\","
                  "\"dir\":\"out\",\"cost\":-1}",
                  "missing_field:duration");
}

static void test_null_arguments(void **state)
{
    (void)state;
    /* err and opts may be NULL */
    assert_int_equal(
        vigil_event_parse(EX_CALL_START, strlen(EX_CALL_START), KEY, strlen(KEY), NULL, &ev, NULL),
        0);
    assert_int_equal(vigil_event_parse("[", 1, KEY, strlen(KEY), NULL, &ev, NULL),
                     VIGIL_ERR_INVALID);
    assert_int_equal(
        vigil_event_parse(EX_CALL_START, strlen(EX_CALL_START), KEY, strlen(KEY), NULL, NULL, &err),
        VIGIL_ERR_INVALID);
}

static void test_type_str(void **state)
{
    (void)state;
    assert_string_equal(vigil_event_type_str(VIGIL_EV_CALL_START), "call_start");
    assert_string_equal(vigil_event_type_str(VIGIL_EV_CALL_END), "call_end");
    assert_string_equal(vigil_event_type_str(VIGIL_EV_SMS), "sms");
    assert_string_equal(vigil_event_type_str((enum vigil_event_type)0), "unknown");
}

/* ---- behaviour the cases above leave open, pinned before the one-pass parser replaced the
 * jsmn-based one (both pass these) ---- */

/* A JSON array of n ones: n + 1 values. */
static const char *ones(int n)
{
    static char buf[2048];
    size_t k = 0;
    buf[k++] = '[';
    for (int i = 0; i < n; i++) {
        if (i > 0)
            buf[k++] = ',';
        buf[k++] = '1';
    }
    buf[k++] = ']';
    buf[k] = '\0';
    return buf;
}

/* n nested arrays around `inner`. */
static const char *nested(int n, const char *inner)
{
    static char buf[512];
    size_t k = 0;
    for (int i = 0; i < n; i++)
        buf[k++] = '[';
    k += (size_t)sprintf(buf + k, "%s", inner);
    for (int i = 0; i < n; i++)
        buf[k++] = ']';
    buf[k] = '\0';
    return buf;
}

static void test_pin_limits(void **state)
{
    char buf[4096];
    (void)state;
    /* The call_start example is 23 values and keys; "many":[...] adds 2 + n. 256 in all is
     * fine, 257 is too_complex; too_complex comes after not_object and before duplicates. */
    expect_ok(with(call_start, "many", ones(231)));
    expect_reason(with(call_start, "many", ones(232)), "too_complex");
    snprintf(buf, sizeof buf, "{\"id\":\"x\",%s", &with(call_start, "many", ones(232))[1]);
    expect_reason(buf, "too_complex");
    snprintf(buf, sizeof buf, "{\"id\":\"x\",%s", &with(call_start, "many", ones(200))[1]);
    expect_reason(buf, "duplicate_field:id");
    /* The document is depth 0, so 31 more containers inside it are fine and 32 are not. */
    expect_ok(with(call_start, "deep", nested(31, "1")));
    expect_reason(with(call_start, "deep", nested(32, "1")), "too_complex");
    expect_reason(with(call_start, "deep", nested(32, "")), "too_complex");
    /* Depth is reported where the scan gets that deep: a later syntax error does not change
     * it, an earlier one wins, and bad UTF-8 anywhere wins over both. */
    snprintf(buf, sizeof buf, "{\"deep\":%s,}", nested(40, "1"));
    expect_reason(buf, "too_complex");
    snprintf(buf, sizeof buf, "{\"a\":01,\"deep\":%s}", nested(40, "1"));
    expect_reason(buf, "json_syntax");
    snprintf(buf, sizeof buf, "{\"deep\":%s,\"a\":\"\xff\"}", nested(40, "1"));
    expect_reason(buf, "bad_utf8");
    /* A deep top-level array is too_complex before it is not_object; a big one is
     * not_object before it is too_complex. */
    expect_reason(nested(40, "1"), "too_complex");
    expect_reason(ones(300), "not_object");
    /* Over-long fields: the account holds 64 characters, the text of a number 64 bytes. */
    char acct[VIGIL_ACCOUNT_MAX + 1];
    memset(acct, 'a', VIGIL_ACCOUNT_MAX);
    acct[VIGIL_ACCOUNT_MAX] = '\0';
    expect_ok_key(with(call_start, "account", quoted_run('a', 64)), acct);
    assert_int_equal(strlen(ev.account), 64);
    expect_reason(with(call_start, "account", quoted_run('a', 65)), "bad_field:account");
    expect_reason(with(call_start, "to", "\"+53 51 23 45 67                                     "
                                         "               \""),
                  "bad_number:to");
}

static void test_pin_duplicates(void **state)
{
    (void)state;
    /* Repeated unknown fields, and repeated keys inside values, are not duplicates. */
    expect_ok(with2(call_start, "x", "1", "y", "{\"id\":1,\"id\":2,\"x\":3}"));
    expect_ok(with(call_start, "note", "[{\"v\":1},{\"v\":2}]"));
    /* The field named is the one whose second copy comes first. */
    expect_reason("{\"ts\":1,\"id\":\"a\",\"id\":\"b\",\"ts\":2}", "duplicate_field:id");
    /* Copies that agree, null copies, and fields the event kind ignores all count. */
    expect_reason("{\"v\":1,\"v\":1}", "duplicate_field:v");
    expect_reason("{\"device\":null,\"device\":null}", "duplicate_field:device");
    expect_reason(with2(call_start, "segments", "1", "x", "2,\"segments\":1"),
                  "duplicate_field:segments");
    /* Escaped keys count as their text; keys that are not names of fields never do. */
    expect_reason(with(call_start, "\\u0074\\u0073", "1"), "duplicate_field:ts");
    expect_ok(with2(call_start, "\\u0074s\\u0000", "1", "t\\u0073x", "2"));
    expect_ok(with(call_start, "\\u0062ody_hash_and_more", "1"));
    /* Syntax is checked over the whole value before duplicates. */
    expect_reason("{\"v\":1,\"v\":1,}", "json_syntax");
}

static void test_pin_strings(void **state)
{
    char v[1024];
    (void)state;
    /* Surrogate pairs in either case decode to one 4-byte character; the limit is on the
     * decoded bytes (32 such characters fill a device of 128). */
    expect_ok(with(call_start, "device", "\"\\uD83D\\uDE00\\ud83d\\uDE00\""));
    assert_string_equal(ev.device, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80");
    strcpy(v, "\"");
    for (int i = 0; i < 32; i++)
        strcat(v, "\\ud83d\\ude00");
    strcat(v, "\"");
    expect_ok(with(call_start, "device", v));
    assert_int_equal(strlen(ev.device), 128);
    v[strlen(v) - 1] = '\0';
    strcat(v, "x\"");
    expect_reason(with(call_start, "device", v), "bad_field:device");
    /* A high surrogate followed by another high one, or by a plain character. */
    expect_reason(with(call_start, "device", "\"\\ud83d\\ud83d\""), "json_syntax");
    expect_reason(with(call_start, "x", "\"\\ud83d\\n\""), "json_syntax");
    /* U+0000 spoils a field but not an unknown value; escapes of '/' and DEL are kept. */
    expect_reason(with(call_start, "device", "\"\\u0000\""), "bad_field:device");
    expect_ok(with(call_start, "x", "\"\\u0000\""));
    expect_ok(with(call_start, "device", "\"a\\/b\x7f\""));
    assert_string_equal(ev.device, "a/b\x7f");
    /* Unknown values obey the same grammar as known ones. */
    expect_reason(with(call_start, "x", "\"\\ud800\""), "json_syntax");
    expect_reason(with(call_start, "x", "[\"a\x01\"]"), "json_syntax");
    expect_reason(with(call_start, "x", "{\"\xc0\xaf\":1}"), "bad_utf8");
    /* NUL bytes in a key or before the object */
    static const char nul_key[] = "{\"v\0\":1}";
    expect_reason_len(nul_key, sizeof nul_key - 1, KEY, "json_syntax");
    static const char nul_first[] = "\0{\"v\":1}";
    expect_reason_len(nul_first, sizeof nul_first - 1, KEY, "json_syntax");
    /* Valid UTF-8 after the object is still trailing garbage. */
    snprintf(v, sizeof v, "%s\xc3\xa9", EX_CALL_START);
    expect_reason(v, "json_syntax");
    snprintf(v, sizeof v, "%s\n\n\t ", EX_CALL_START);
    expect_ok(v);
}

static void test_pin_numbers(void **state)
{
    (void)state;
    /* Integers are JSON integers: no fraction or exponent, even when the value is whole. */
    expect_reason(with(call_start, "v", "1.0"), "bad_field:v");
    expect_reason(with(call_start, "v", "1E0"), "bad_field:v");
    expect_reason(with(call_start, "v", "-0"), "bad_version");
    expect_reason(with(call_start, "ts", "1795402746539e0"), "bad_field:ts");
    expect_reason(with(call_start, "ts", "1.795402746539e12"), "bad_field:ts");
    expect_reason(with(call_start, "ts", "9223372036854775808"), "bad_field:ts");
    expect_reason(with(call_start, "ts", "-9223372036854775808"), "ts_past");
    expect_reason(with(call_end, "duration", "1e2"), "bad_field:duration");
    expect_ok(with(call_end, "duration", "-0"));
    assert_true(ev.duration_s == 0);
    /* Leading zeros are syntax errors wherever they stand. */
    expect_reason(with(call_start, "cost", "00"), "json_syntax");
    expect_reason(with(call_start, "x", "-01.5"), "json_syntax");
    expect_reason(with(call_start, "x", "1.5e"), "json_syntax");
    expect_reason(with(call_start, "x", "1.5E-"), "json_syntax");
    /* Exponents in a cost: either case and sign. */
    expect_ok(with(call_start, "cost", "1E2"));
    assert_true(ev.cost_eur == 100.0);
    expect_ok(with(call_start, "cost", "2.5e-1"));
    assert_true(ev.cost_eur == 0.25);
    expect_ok(with(call_start, "cost", "0e0"));
    assert_true(ev.cost_eur == 0.0);
    expect_ok(with(call_start, "cost", "0.0000000000000000000000000000001e31"));
    assert_true(ev.cost_eur > 0.99 && ev.cost_eur < 1.01);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_call_start),
        cmocka_unit_test(test_example_call_end),
        cmocka_unit_test(test_huge_duration_taken_as_a_year),
        cmocka_unit_test(test_example_sms),
        cmocka_unit_test(test_builders_match_examples),
        cmocka_unit_test(test_optional_fields),
        cmocka_unit_test(test_optional_null_is_absent),
        cmocka_unit_test(test_required_null_is_bad_field),
        cmocka_unit_test(test_fields_of_other_kinds_ignored),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_bad_utf8),
        cmocka_unit_test(test_json_syntax),
        cmocka_unit_test(test_json_whitespace_and_length),
        cmocka_unit_test(test_not_object),
        cmocka_unit_test(test_too_complex),
        cmocka_unit_test(test_unknown_fields_ignored),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_type),
        cmocka_unit_test(test_id),
        cmocka_unit_test(test_ts),
        cmocka_unit_test(test_ts_future),
        cmocka_unit_test(test_account),
        cmocka_unit_test(test_key_mismatch),
        cmocka_unit_test(test_escapes_decoded),
        cmocka_unit_test(test_numbers_in_events),
        cmocka_unit_test(test_call_fields),
        cmocka_unit_test(test_sms_fields),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_check_order),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_type_str),
        cmocka_unit_test(test_pin_limits),
        cmocka_unit_test(test_pin_duplicates),
        cmocka_unit_test(test_pin_strings),
        cmocka_unit_test(test_pin_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

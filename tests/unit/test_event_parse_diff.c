/* SPDX-License-Identifier: Apache-2.0 */
/* test_event_parse_diff.c - the one-pass parser against the previous one (event_parse_ref.c):
 * the same answer (result, reason, detail, and on success every field of the event) for the
 * fuzz corpus, for vigil-sim traffic with invalid messages mixed in, and for seeded
 * mutations of all of them (bytes flipped, dropped, inserted, cut; field values replaced
 * by awkward JSON; known and unknown fields added, escaped or repeated).
 *
 * Arguments: the corpus directory and the vigil-sim program; the build's own are the
 * defaults. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event_parse_ref.h"
#include "vigil/event.h"
#include "vigil/status.h"

static const char *corpus_dir;
static const char *sim_path;
static unsigned long compared, accepted;

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t pick(size_t n)
{
    return (size_t)(next_rand() % n);
}

/* Both parsers on the same bytes, options and key; any difference fails the test. */
static void compare(const char *buf, size_t len, const char *key, size_t key_len,
                    const struct vigil_parse_opts *o)
{
    struct vigil_event a, b;
    struct vigil_parse_error ea, eb;

    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&ea, 0, sizeof ea);
    memset(&eb, 0, sizeof eb);
    int ra = vigil_event_parse(buf, len, key, key_len, o, &a, &ea);
    int rb = vigil_event_parse_ref(buf, len, key, key_len, o, &b, &eb);
    compared++;
    /* json_syntax's detail gives the byte where the grammar broke; the old parser sometimes
     * named an earlier byte (where jsmn's tokens of the invalid text stopped matching), so
     * only that sentence may differ. */
    bool same_detail = strcmp(ea.detail, eb.detail) == 0 ||
                       (ra != 0 && strcmp(ea.reason, "json_syntax") == 0);
    if (ra != rb || strcmp(ea.reason, eb.reason) != 0 || !same_detail ||
        (ra == 0 && memcmp(&a, &b, sizeof a) != 0)) {
        print_error("differ: new rc=%d %s (%s), old rc=%d %s (%s) for %zu bytes: %.*s\n", ra,
                    ea.reason, ea.detail, rb, eb.reason, eb.detail, len,
                    (int)(len > 400 ? 400 : len), buf);
        fail();
    }
    if (ra == 0)
        accepted++;
}

/* The bytes of the value's "account" string, as the key a producer would have used. */
static const char *account_of(const char *buf, size_t len, size_t *key_len)
{
    static const char pat[] = "\"account\":\"";
    const char *p = len >= sizeof pat ? memmem(buf, len, pat, sizeof pat - 1) : NULL;

    *key_len = 0;
    if (p == NULL)
        return "acc-1042";
    p += sizeof pat - 1;
    const char *e = memchr(p, '"', len - (size_t)(p - buf));
    *key_len = e != NULL ? (size_t)(e - p) : 0;
    return p;
}

/* One value under every combination of key and options the parsers look at. */
static void compare_all(const char *buf, size_t len)
{
    static const struct vigil_parse_opts opts[] = {
        {.default_cc = NULL, .now_ms = 0},
        {.default_cc = "32", .now_ms = 1795402746539LL},
        {.default_cc = "1", .now_ms = 1762070400000LL},
    };
    size_t kl;
    const char *k = account_of(buf, len, &kl);

    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        compare(buf, len, k, kl, &opts[i]);
    compare(buf, len, NULL, 0, &opts[0]);
    compare(buf, len, "acc-1042", 8, &opts[0]);
}

static const char *const awkward[] = {
    "null", "true", "false", "0", "-0", "1", "2", "255", "256", "1e3", "1E+2", "1e-2", "-1",
    "1.0", "0.5", "1e400", "-1e400", "01", "1.", ".5", "-", "+1", "99999999999999999999",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "1795402746539",
    "1795489146540", "946684799999", "\"\"", "\"x\"", "\"\\u0000\"", "\"a\\u0000b\"",
    "\"\\ud83d\\ude00\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\u00e9\"",
    "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\x\"", "\"\xc3\xa9\"", "\"\xc3\"", "\"\xed\xa0\x80\"",
    "\"\xf0\x9f\x93\x9e\"", "[]", "{}", "[1,2]", "{\"v\":1}", "[[[[[[[[[[]]]]]]]]]]",
    "\"+31201234567\"", "\"0201234567\"", "\"112\"", "\"00535123 4567\"", "\"acc-1042\"",
    "\"acc-1042 \"", "\"in\"", "\"out\"", "\"\\u0069n\"", "\"call_start\"", "\"call_end\"",
    "\"sms\"", "\"203.0.113.5\"", "\"::1\"", "\"nl\"", "\"NLD\"", "\"9F86\"", "\"0x12\"",
    "\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
    "ccccccccccccccccccccccccccccccccccccccccccccccccccc\"",
};

static const char *const names[] = {
    "v", "type", "id", "ts", "account", "from", "to", "call_id", "dir", "device", "src_ip",
    "country", "duration", "answered", "cost", "segments", "body_hash", "\\u0076",
    "\\u0069\\u0064", "t\\u0073", "body_hash_", "x", "", "\\u0000", "\\ud83d\\ude00",
};

static const char bytes[] = {'"', '\\', '{', '}', '[', ']', ',', ':', ' ', '0', '1', '-',
                             'e', '.', 'u', 'n', 't', '\t', '\n', '\0', (char)0x80,
                             (char)0xC3, (char)0xFF, (char)0xED, 'a'};

/* Appends s to out at *n when it fits. */
static void add(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
    if (*n + len <= cap) {
        memcpy(out + *n, s, len);
        *n += len;
    }
}

/* Writes one seeded mutation of buf into out[cap]; returns its length. */
static size_t mutate(const char *buf, size_t len, char *out, size_t cap)
{
    size_t n = 0, at = len > 0 ? pick(len + 1) : 0;

    switch (pick(7)) {
    case 0: /* flip one byte */
        add(out, cap, &n, buf, len);
        if (n > 0)
            out[pick(n)] = bytes[pick(sizeof bytes)];
        return n;
    case 1: /* drop one byte */
        add(out, cap, &n, buf, at);
        if (at < len)
            add(out, cap, &n, buf + at + 1, len - at - 1);
        return n;
    case 2: /* insert one byte */
        add(out, cap, &n, buf, at);
        add(out, cap, &n, &bytes[pick(sizeof bytes)], 1);
        add(out, cap, &n, buf + at, len - at);
        return n;
    case 3: /* cut short */
        add(out, cap, &n, buf, at);
        return n;
    default: {
        /* a field, known or not, escaped or repeated, with an awkward value: right after
         * the opening brace, or in place of the value after a "name": */
        const char *name = names[pick(sizeof names / sizeof names[0])];
        const char *val = awkward[pick(sizeof awkward / sizeof awkward[0])];
        const char *brace = memchr(buf, '{', len);
        char pat[64];
        snprintf(pat, sizeof pat, "\"%s\":", name);
        const char *hit = memmem(buf, len, pat, strlen(pat));
        if (hit != NULL && pick(2) == 0) {
            size_t vs = (size_t)(hit - buf) + strlen(pat), ve = vs;
            /* the old value ends at the next ',' or '}' outside a string (good enough for
             * flat events; a wrong guess is just another mutation) */
            bool in_str = false;
            while (ve < len && (in_str || (buf[ve] != ',' && buf[ve] != '}'))) {
                if (buf[ve] == '"' && (ve == vs || buf[ve - 1] != '\\'))
                    in_str = !in_str;
                ve++;
            }
            add(out, cap, &n, buf, vs);
            add(out, cap, &n, val, strlen(val));
            add(out, cap, &n, buf + ve, len - ve);
            return n;
        }
        if (brace == NULL) {
            add(out, cap, &n, buf, len);
            return n;
        }
        size_t b = (size_t)(brace - buf) + 1;
        add(out, cap, &n, buf, b);
        add(out, cap, &n, pat, strlen(pat));
        add(out, cap, &n, val, strlen(val));
        add(out, cap, &n, ",", 1);
        add(out, cap, &n, buf + b, len - b);
        return n;
    }
    }
}

/* The value and its mutations, mutations of mutations included. */
static void compare_with_mutations(const char *buf, size_t len, int rounds)
{
    static char a[8192], b[8192];

    compare_all(buf, len);
    for (int r = 0; r < rounds; r++) {
        size_t n = mutate(buf, len, a, sizeof a);
        compare_all(a, n);
        size_t m = mutate(a, n, b, sizeof b);
        compare_all(b, m);
    }
}

static void test_corpus(void **state)
{
    DIR *dir = opendir(corpus_dir);
    struct dirent *de;
    char path[4096];
    static char buf[8192];
    int files = 0;

    (void)state;
    assert_non_null(dir);
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", corpus_dir, de->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        files++;
        /* The fuzzer's first byte picks a mode; the value follows. Both ways round. */
        compare_with_mutations(buf, n, 20000);
        if (n > 0)
            compare_with_mutations(buf + 1, n - 1, 20000);
    }
    closedir(dir);
    assert_true(files >= 6);
}

static void test_sim_traffic(void **state)
{
    char cmd[4096];
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long lines = 0;

    (void)state;
    snprintf(cmd, sizeof cmd,
             "'%s' --quiet --duration 20 --accounts 300 --seed 7 --invalid 40 "
             "--scenario toll_concurrent@2 --scenario sms_blast@3 --scenario pumping@4",
             sim_path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    while ((n = getline(&line, &cap, p)) > 0) {
        if (line[n - 1] == '\n')
            n--;
        lines++;
        compare_with_mutations(line, (size_t)n, lines % 10 == 0 ? 50 : 5);
    }
    free(line);
    assert_int_equal(pclose(p), 0);
    assert_true(lines > 1000);
}

static void test_generated_extremes(void **state)
{
    static char buf[VIGIL_EVENT_MAX_BYTES + 64];
    const char *head = "{\"v\":1,\"type\":\"sms\",\"id\":\"e\",\"ts\":1795402746600,"
                       "\"account\":\"acc-1042\",\"from\":\"112\",\"to\":\"112\",\"x\":";
    (void)state;

    /* nesting and token counts around the limits, with and without a later error */
    for (int depth = 28; depth <= 36; depth++) {
        for (int bad = 0; bad < 2; bad++) {
            size_t n = 0;
            add(buf, sizeof buf, &n, head, strlen(head));
            for (int i = 0; i < depth; i++)
                add(buf, sizeof buf, &n, i % 2 ? "{\"a\":" : "[", i % 2 ? 5 : 1);
            add(buf, sizeof buf, &n, bad ? "1," : "1", bad ? 2 : 1);
            for (int i = depth - 1; i >= 0; i--)
                add(buf, sizeof buf, &n, i % 2 ? "}" : "]", 1);
            add(buf, sizeof buf, &n, "}", 1);
            compare_all(buf, n);
            compare_all(buf + strlen(head) - 0, n - strlen(head)); /* the bare value */
        }
    }
    for (int count = 240; count <= 260; count++) {
        for (int bad = 0; bad < 3; bad++) {
            size_t n = 0;
            add(buf, sizeof buf, &n, head, strlen(head));
            add(buf, sizeof buf, &n, "[", 1);
            for (int i = 0; i < count; i++)
                add(buf, sizeof buf, &n, i ? ",1" : "1", i ? 2 : 1);
            add(buf, sizeof buf, &n, bad == 1 ? ",]" : "]", bad == 1 ? 2 : 1);
            add(buf, sizeof buf, &n, bad == 2 ? ",\"id\":\"e\"}" : "}", bad == 2 ? 10 : 1);
            compare_all(buf, n);
            compare_all(buf + strlen(head), n - strlen(head) - 1);
        }
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_sim_traffic),
        cmocka_unit_test(test_generated_extremes),
    };
    if (argc != 1 && argc != 3) {
        fprintf(stderr, "usage: test_event_parse_diff [CORPUS_DIR VIGIL_SIM]\n");
        return 2;
    }
    corpus_dir = argc == 3 ? argv[1] : VIGIL_CORPUS_DIR;
    sim_path = argc == 3 ? argv[2] : VIGIL_SIM_PATH;
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    printf("# compared %lu values, %lu accepted\n", compared, accepted);
    return rc;
}

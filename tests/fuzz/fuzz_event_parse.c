/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_event_parse.c - libFuzzer target for vigil_event_parse and vigil_number_normalize.
 *
 * Input: one mode byte, then the message value. Mode bits 0-1 pick the Kafka key (none,
 * the value's own "account" string so that valid events are reachable, a fixed key, or
 * the first bytes of the value), bit 2 sets a stream time (ts_future), bits 3-4 pick
 * default_cc ("31" by NULL, "32", "1", and a malformed ""). The value is passed at the
 * very end of libFuzzer's buffer, so ASan sees any read past len. The previous parser
 * (event_parse_ref.c) must give the same answer: result, reason and, on success, the event.
 * Any violated invariant aborts, which libFuzzer reports as a crash. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "event_parse_ref.h"
#include "vigil/event.h"
#include "vigil/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STREAM_TS 1795402746539LL

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

/* What vigil_number_normalize promises to return. */
static void check_number(const char *num)
{
    size_t n = strnlen(num, VIGIL_NUMBER_MAX + 2);

    CHECK(n <= VIGIL_NUMBER_MAX + 1);
    if (num[0] == '+') {
        CHECK(n - 1 >= 3 && n - 1 <= 17);
        CHECK(num[1] != '0');
        CHECK(all_digits(num + 1, n - 1));
    } else {
        CHECK(n >= 3 && n <= 6);
        CHECK(num[0] != '0');
        CHECK(all_digits(num, n));
    }
}

/* A NUL-terminated string of at most cap - 1 bytes. */
static size_t bounded_len(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    CHECK(n < cap);
    return n;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *const reasons[] = {
    "json_syntax",    "not_object",  "too_large",    "too_complex",      "bad_utf8",
    "bad_type",       "bad_version", "key_mismatch", "ts_past",          "ts_future",
    "missing_field:", "bad_field:",  "bad_number:",  "duplicate_field:",
};

static void check_failure(const struct vigil_parse_error *err, size_t len)
{
    size_t n = bounded_len(err->reason, sizeof err->reason);
    bool known = false;

    CHECK(n > 0);
    CHECK(bounded_len(err->detail, sizeof err->detail) > 0);
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        size_t rl = strlen(reasons[i]);
        if (reasons[i][rl - 1] == ':' ? (n > rl && memcmp(err->reason, reasons[i], rl) == 0)
                                      : strcmp(err->reason, reasons[i]) == 0)
            known = true;
    }
    CHECK(known);
    CHECK((len > VIGIL_EVENT_MAX_BYTES) == (strcmp(err->reason, "too_large") == 0));
}

static void check_success(const struct vigil_event *ev, const char *buf, size_t len,
                          const char *key, size_t key_len, const struct vigil_parse_opts *o)
{
    size_t n;
    unsigned char addr[16];

    CHECK(len <= VIGIL_EVENT_MAX_BYTES);
    /* one object, only whitespace around it */
    size_t a = 0, b = len;
    while (a < len && is_ws(buf[a]))
        a++;
    while (b > a && is_ws(buf[b - 1]))
        b--;
    CHECK(b - a >= 2 && buf[a] == '{' && buf[b - 1] == '}');

    CHECK(ev->type == VIGIL_EV_CALL_START || ev->type == VIGIL_EV_CALL_END ||
          ev->type == VIGIL_EV_SMS);
    CHECK(ev->ts_ms >= VIGIL_TS_MIN_MS);
    if (o->now_ms > 0)
        CHECK(ev->ts_ms - VIGIL_TS_MAX_AHEAD_MS <= o->now_ms);

    n = bounded_len(ev->id, sizeof ev->id);
    CHECK(n >= 1);

    n = bounded_len(ev->account, sizeof ev->account);
    CHECK(n >= 1 && n <= VIGIL_ACCOUNT_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = ev->account[i];
        CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-');
    }
    CHECK(key != NULL && key_len == n && memcmp(key, ev->account, n) == 0);

    check_number(ev->from);
    check_number(ev->to);

    n = bounded_len(ev->call_id, sizeof ev->call_id);
    bounded_len(ev->device, sizeof ev->device);
    size_t ip = bounded_len(ev->src_ip, sizeof ev->src_ip);
    size_t cc = bounded_len(ev->country, sizeof ev->country);
    size_t bh = bounded_len(ev->body_hash, sizeof ev->body_hash);
    if (ev->type == VIGIL_EV_SMS) {
        CHECK(ev->dir == VIGIL_DIR_NONE);
        CHECK(n == 0 && ip == 0 && cc == 0);
        CHECK(ev->segments >= 1 && ev->segments <= 255);
        CHECK(!ev->has_cost && ev->duration_s == 0 && ev->answered);
        for (size_t i = 0; i < bh; i++) {
            char c = ev->body_hash[i];
            CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
        }
    } else {
        CHECK(ev->dir == VIGIL_DIR_OUT || ev->dir == VIGIL_DIR_IN);
        CHECK(n >= 1);
        CHECK(ev->segments == 0 && bh == 0);
        CHECK(ev->duration_s >= 0);
        if (ev->type == VIGIL_EV_CALL_START)
            CHECK(ev->duration_s == 0 && ev->answered);
        if (ev->has_cost)
            CHECK(isfinite(ev->cost_eur) && ev->cost_eur >= 0.0);
        if (ip > 0)
            CHECK(inet_pton(AF_INET, ev->src_ip, addr) == 1 ||
                  inet_pton(AF_INET6, ev->src_ip, addr) == 1);
        CHECK(cc == 0 || (cc == 2 && ev->country[0] >= 'A' && ev->country[0] <= 'Z' &&
                          ev->country[1] >= 'A' && ev->country[1] <= 'Z'));
    }
}

/* The bytes of the value's "account":"..." string, so that matching keys are reachable. */
static const char *find_account(const char *buf, size_t len, size_t *key_len)
{
    static const char pat[] = "\"account\":\"";
    const size_t pl = sizeof pat - 1;

    for (size_t i = 0; i + pl <= len; i++) {
        if (memcmp(buf + i, pat, pl) != 0)
            continue;
        size_t s = i + pl, e = s;
        while (e < len && buf[e] != '"')
            e++;
        *key_len = e - s;
        return buf + s;
    }
    *key_len = 0;
    return "";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const ccs[] = {NULL, "32", "1", ""};
    struct vigil_event ev, ev2;
    struct vigil_parse_error err, err2;
    struct vigil_parse_opts o;
    const char *key;
    size_t key_len;
    char num[VIGIL_NUMBER_MAX + 2];

    if (size == 0)
        return 0;
    const uint8_t mode = data[0];
    const char *buf = (const char *)data + 1;
    const size_t len = size - 1;

    o.now_ms = (mode & 4) ? STREAM_TS : 0;
    o.default_cc = ccs[(mode >> 3) & 3];
    switch (mode & 3) {
    case 0:
        key = NULL;
        key_len = 0;
        break;
    case 1:
        key = find_account(buf, len, &key_len);
        break;
    case 2:
        key = "acc-1042";
        key_len = 8;
        break;
    default:
        key = buf;
        key_len = len < 8 ? len : 8;
        break;
    }

    memset(&err, 0, sizeof err);
    int rc = vigil_event_parse(buf, len, key, key_len, &o, &ev, &err);
    if (rc == 0) {
        check_success(&ev, buf, len, key, key_len, &o);
    } else {
        CHECK(rc == VIGIL_ERR_INVALID);
        check_failure(&err, len);
    }

    /* The previous parser agrees. Events are compared after zeroing both, as each parser
     * clears the event before filling it. */
    memset(&ev2, 0, sizeof ev2);
    memset(&err2, 0, sizeof err2);
    {
        struct vigil_event a;
        memset(&a, 0, sizeof a);
        int ra = vigil_event_parse(buf, len, key, key_len, &o, &a, &err);
        int rb = vigil_event_parse_ref(buf, len, key, key_len, &o, &ev2, &err2);
        CHECK(ra == rb);
        CHECK(strcmp(err.reason, err2.reason) == 0);
        if (ra == 0)
            CHECK(memcmp(&a, &ev2, sizeof a) == 0);
    }

    /* Pure: the same input gives the same answer. */
    memset(&err2, 0, sizeof err2);
    int rc2 = vigil_event_parse(buf, len, key, key_len, &o, &ev2, &err2);
    CHECK(rc2 == rc);
    if (rc == 0)
        CHECK(memcmp(&ev, &ev2, sizeof ev) == 0);
    else
        CHECK(strcmp(err.reason, err2.reason) == 0);

    /* A valid event cut short is never valid: the parser must not guess the rest. */
    if (rc == 0 && len > 0 && !is_ws(buf[len - 1]))
        CHECK(vigil_event_parse(buf, len - 1, key, key_len, &o, &ev2, &err2) != 0);

    /* The same bytes as a number (short inputs are where numbers live). */
    size_t nl = len < 48 ? len : 48;
    memset(num, 'x', sizeof num);
    rc = vigil_number_normalize(buf, nl, o.default_cc, num);
    if (rc == 0)
        check_number(num);
    else
        CHECK(rc == VIGIL_ERR_INVALID && num[0] == '\0');
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* event_parse.c - strict one-pass parser and validator for wire-format v1 events (events.md).
 *
 * Threading: pure; any number of threads may parse their own buffers at once.
 * Ownership: nothing is allocated; every string is copied into struct vigil_event by value.
 *
 * One scan over the bytes checks the exact RFC 8259 grammar and, for the top-level object,
 * notes where the value of each known field lies (struct span). No tokens are stored: a
 * value in an unknown field is only checked and counted. The field checks then read the
 * noted spans in the documented order, so which error is reported does not depend on the
 * order of the fields in the message. Bytes >= 0x80 may only stand inside strings, where
 * the scan checks them as UTF-8; any failure of the scan first rechecks the whole value as
 * UTF-8, because bad UTF-8 anywhere takes precedence over any JSON error.
 *
 * Checks, in this order; the first failure is the reason:
 *   1. size          too_large (before reading a byte)
 *   2. UTF-8         bad_utf8 (whole value; overlong forms, surrogates, > U+10FFFF)
 *   3. JSON          json_syntax, including raw control characters in strings and escapes
 *                    of unpaired surrogates ("\ud800", which no UTF-8 can hold);
 *                    too_complex for nesting deeper than MAX_DEPTH (reported as soon as the
 *                    scan gets that deep: a syntax error after it does not change the reason).
 *                    A reason of its own rather than json_syntax: such a value may well be
 *                    valid JSON, we only refuse to spend more on it.
 *   4. object        not_object
 *   5. size of tree  too_complex for valid JSON of more than MAX_TOKENS values and keys
 *   6. duplicates    duplicate_field:<name> for a known field given twice, even when the
 *                    copies agree (which one to believe is undecidable); repeated unknown
 *                    fields are ignored. Escaped keys ("\u0076") count as their text. The
 *                    first field whose second copy comes first in the message is named.
 *   7. fields        v, type, id, ts (bad_field, then ts_past, then ts_future), account,
 *                    the key (key_mismatch), from, to; then for calls: call_id, dir,
 *                    duration (call_end), answered (call_end), cost, device, src_ip,
 *                    country; for sms: segments, body_hash.
 * Fields of the other event kind (segments on a call, dir or device on an sms, duration
 * or answered on a call_start) are ignored like unknown ones, except that one given twice is
 * still duplicate_field (it is a field of the wire format either way). A JSON null in an optional
 * field means absent; in a required field it is bad_field. String limits are on the
 * decoded bytes; a decoded U+0000 makes a field bad (it would cut a C string short). `detail`
 * never quotes the value, so it is safe to log. No printf-style formatting anywhere here:
 * a flood of bad events costs little more than good ones. */
#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>

#include "vigil/event.h"
#include "vigil/status.h"

/* A real event has about 40 values and keys; 256 leaves room for a hundred
 * forward-compatible extra fields. The count is of JSON values (objects, arrays, strings,
 * numbers, literals) plus object keys, the whole document included. */
#define MAX_TOKENS 256
/* Nesting only occurs in unknown fields; bounding it bounds the scan's recursion. The
 * top-level object is depth 0, so at most MAX_DEPTH containers nest. */
#define MAX_DEPTH 32
/* A from/to string longer than this (20 digits and plenty of separators) is no number. */
#define NUMBER_TEXT_MAX 64

/* ---- errors ---- */

/* Appends the NUL-terminated s to out[cap] at *n, cutting it short rather than overflowing. */
static void put_str(char *out, size_t cap, size_t *n, const char *s)
{
    while (*s != '\0' && *n + 1 < cap)
        out[(*n)++] = *s++;
    out[*n] = '\0';
}

/* The decimal text of v in buf[24]. */
static const char *dec(char buf[24], int64_t v)
{
    char *p = buf + 23;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    *p = '\0';
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    return p;
}

static int reject(struct vigil_parse_error *err, const char *reason, const char *field, ...)
    __attribute__((sentinel));

/* Fills *err with `reason` (or "reason:field") and a sentence made of the strings that
 * follow, up to a NULL; returns VIGIL_ERR_INVALID. */
static int reject(struct vigil_parse_error *err, const char *reason, const char *field, ...)
{
    va_list ap;
    const char *part;
    size_t n = 0;

    if (err == NULL)
        return VIGIL_ERR_INVALID;
    put_str(err->reason, sizeof err->reason, &n, reason);
    if (field != NULL) {
        put_str(err->reason, sizeof err->reason, &n, ":");
        put_str(err->reason, sizeof err->reason, &n, field);
    }
    n = 0;
    err->detail[0] = '\0';
    va_start(ap, field);
    while ((part = va_arg(ap, const char *)) != NULL)
        put_str(err->detail, sizeof err->detail, &n, part);
    va_end(ap);
    return VIGIL_ERR_INVALID;
}

/* ---- UTF-8 ---- */

/* The length of the valid UTF-8 sequence starting with the byte s[0] >= 0x80 within
 * s[0..avail), or 0 (RFC 3629: shortest form only, no surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* U+D800..U+DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    }
    return n;
}

/* Returns the offset of the first invalid byte, or len when buf is valid UTF-8. Only run
 * when the scan failed, to tell bad_utf8 from the scan's own reason. */
static size_t utf8_check(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq(s + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

/* ---- known fields ---- */

enum field {
    F_V,
    F_TYPE,
    F_ID,
    F_TS,
    F_ACCOUNT,
    F_FROM,
    F_TO,
    F_CALL_ID,
    F_DIR,
    F_DEVICE,
    F_SRC_IP,
    F_COUNTRY,
    F_DURATION,
    F_ANSWERED,
    F_COST,
    F_SEGMENTS,
    F_BODY_HASH,
    F_COUNT,
};

/* Known names are 1 to 9 bytes; a longer key is never one of them. */
#define FIELD_NAME_MAX 9

static const char *const field_names[F_COUNT] = {
    [F_V] = "v",
    [F_TYPE] = "type",
    [F_ID] = "id",
    [F_TS] = "ts",
    [F_ACCOUNT] = "account",
    [F_FROM] = "from",
    [F_TO] = "to",
    [F_CALL_ID] = "call_id",
    [F_DIR] = "dir",
    [F_DEVICE] = "device",
    [F_SRC_IP] = "src_ip",
    [F_COUNTRY] = "country",
    [F_DURATION] = "duration",
    [F_ANSWERED] = "answered",
    [F_COST] = "cost",
    [F_SEGMENTS] = "segments",
    [F_BODY_HASH] = "body_hash",
};

/* The known field named by p[0..n), or F_COUNT. Every top-level key of every event comes
 * through here: one switch on the length, then at most three comparisons. */
static enum field field_lookup(const char *p, size_t n)
{
#define IS(name) (memcmp(p, name, sizeof name - 1) == 0)
    switch (n) {
    case 1:
        return p[0] == 'v' ? F_V : F_COUNT;
    case 2:
        return IS("id") ? F_ID : IS("ts") ? F_TS : IS("to") ? F_TO : F_COUNT;
    case 3:
        return IS("dir") ? F_DIR : F_COUNT;
    case 4:
        return IS("type") ? F_TYPE : IS("from") ? F_FROM : IS("cost") ? F_COST : F_COUNT;
    case 6:
        return IS("device") ? F_DEVICE : IS("src_ip") ? F_SRC_IP : F_COUNT;
    case 7:
        return IS("account")   ? F_ACCOUNT
               : IS("call_id") ? F_CALL_ID
               : IS("country") ? F_COUNTRY
                               : F_COUNT;
    case 8:
        return IS("duration")   ? F_DURATION
               : IS("answered") ? F_ANSWERED
               : IS("segments") ? F_SEGMENTS
                                : F_COUNT;
    case 9:
        return IS("body_hash") ? F_BODY_HASH : F_COUNT;
    default:
        return F_COUNT;
    }
#undef IS
}

/* ---- the scan ---- */

enum kind {
    K_ABSENT = 0,
    K_STRING,
    K_NUMBER,
    K_TRUE,
    K_FALSE,
    K_NULL,
    K_OBJECT,
    K_ARRAY,
};

/* Where a known field's value lies: for a string the bytes between the quotes, for a
 * number its text; containers are only ever a wrong type, so their extent is not kept. */
struct span {
    uint16_t start; /* VIGIL_EVENT_MAX_BYTES fits */
    uint16_t end;
    uint8_t kind;   /* enum kind */
    bool escaped;   /* a string with at least one backslash escape */
};

enum scan_status {
    SCAN_OK = 0,
    SCAN_SYNTAX = -1,
    SCAN_DEEP = -2,
    SCAN_UTF8 = -3, /* a bad sequence inside a string; utf8_check says where */
};

struct scan {
    const char *s;
    size_t len;
    size_t pos;    /* next byte; on failure, where the grammar broke */
    int ntok;      /* values and keys so far */
    int status;    /* sticky enum scan_status */
    bool object;   /* the document is an object */
    int dup;       /* the first known field seen twice, or F_COUNT */
    struct span at[F_COUNT];
};

/* 1 for a byte a string may hold as it is: not '"', '\\', a control or >= 0x80 (which
 * needs a closer look). One load per byte instead of four comparisons. */
static const unsigned char str_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static inline void skip_ws(struct scan *sc)
{
    while (sc->pos < sc->len && is_ws(sc->s[sc->pos]))
        sc->pos++;
}

static int fail(struct scan *sc, int status)
{
    if (sc->status == SCAN_OK)
        sc->status = status;
    return -1;
}

/* Reads 4 hex digits at pos (inside a string); -1 when they are not there. */
static long read_u4(const struct scan *sc, size_t pos)
{
    long v = 0;

    if (sc->len - pos < 4)
        return -1;
    for (size_t k = 0; k < 4; k++) {
        int h = hex_val(sc->s[pos + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* A string at sc->pos (the opening quote); *out gets its contents' extent. */
static int scan_string(struct scan *sc, struct span *out)
{
    const char *s = sc->s;
    const size_t len = sc->len;
    size_t p = sc->pos + 1;
    bool escaped = false;

    sc->ntok++;
    out->start = (uint16_t)p;
    for (;;) {
        /* Eight bytes at a time (SWAR): the high bit of a byte in `stop` is set when it is
         * a quote, a backslash, below 0x20 or >= 0x80. A borrow can only mark bytes above
         * a true hit, so the lowest marked byte is exactly the first that needs a look. */
        while (len - p >= 8) {
            uint64_t w, q, b, stop;
            memcpy(&w, s + p, sizeof w);
            q = w ^ 0x2222222222222222ULL; /* '"' becomes 0 */
            b = w ^ 0x5C5C5C5C5C5C5C5CULL; /* '\\' becomes 0 */
            stop = (w | ((w - 0x2020202020202020ULL) & ~w) | ((q - 0x0101010101010101ULL) & ~q) |
                    ((b - 0x0101010101010101ULL) & ~b)) &
                   0x8080808080808080ULL;
            if (stop != 0) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                p += (size_t)__builtin_ctzll(stop) / 8; /* the first byte is the lowest */
#endif
                break; /* elsewhere the byte loop below finds it */
            }
            p += 8;
        }
        while (p < len && str_plain[(unsigned char)s[p]])
            p++;
        sc->pos = p;
        if (p >= len)
            return fail(sc, SCAN_SYNTAX);
        unsigned char c = (unsigned char)s[p];
        if (c == '"')
            break;
        if (c >= 0x80) {
            size_t n = utf8_seq((const unsigned char *)s + p, len - p);
            if (n == 0)
                return fail(sc, SCAN_UTF8);
            p += n;
            continue;
        }
        if (c != '\\' || p + 1 >= len)
            return fail(sc, SCAN_SYNTAX); /* a raw control character, or the end */
        escaped = true;
        switch (s[p + 1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            p += 2;
            break;
        case 'u': {
            long u = read_u4(sc, p + 2);
            if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
                return fail(sc, SCAN_SYNTAX); /* a low surrogate must follow a high one */
            p += 6;
            if (u >= 0xD800 && u <= 0xDBFF) {
                long lo = -1;
                if (len - p >= 6 && s[p] == '\\' && s[p + 1] == 'u')
                    lo = read_u4(sc, p + 2);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return fail(sc, SCAN_SYNTAX);
                p += 6;
            }
            break;
        }
        default:
            return fail(sc, SCAN_SYNTAX);
        }
    }
    out->end = (uint16_t)p;
    out->kind = K_STRING;
    out->escaped = escaped;
    sc->pos = p + 1;
    return 0;
}

/* A number or true/false/null at sc->pos; RFC 8259 number grammar exactly. On failure
 * sc->pos stays at its first byte. */
static int scan_primitive(struct scan *sc, struct span *out)
{
    const char *s = sc->s;
    size_t start = sc->pos, p = sc->pos, len = sc->len;

    sc->ntok++;
    if (s[p] == 't' || s[p] == 'f' || s[p] == 'n') {
        const char *lit = s[p] == 't' ? "true" : s[p] == 'f' ? "false" : "null";
        size_t n = s[p] == 'f' ? 5 : 4;
        if (len - p < n || memcmp(s + p, lit, n) != 0)
            return fail(sc, SCAN_SYNTAX);
        out->kind = s[p] == 't' ? K_TRUE : s[p] == 'f' ? K_FALSE : K_NULL;
        p += n;
    } else {
        if (s[p] == '-')
            p++;
        if (p >= len || !is_digit(s[p]))
            return fail(sc, SCAN_SYNTAX);
        if (s[p] == '0') {
            p++; /* no leading zeros: "01" is two values, hence a syntax error below */
        } else {
            while (p < len && is_digit(s[p]))
                p++;
        }
        if (p < len && s[p] == '.') {
            p++;
            if (p >= len || !is_digit(s[p]))
                return fail(sc, SCAN_SYNTAX);
            while (p < len && is_digit(s[p]))
                p++;
        }
        if (p < len && (s[p] == 'e' || s[p] == 'E')) {
            p++;
            if (p < len && (s[p] == '+' || s[p] == '-'))
                p++;
            if (p >= len || !is_digit(s[p]))
                return fail(sc, SCAN_SYNTAX);
            while (p < len && is_digit(s[p]))
                p++;
        }
        out->kind = K_NUMBER;
    }
    /* A primitive must end at a delimiter ("truex", "1a" are not two values). */
    if (p < len && !is_ws(s[p]) && s[p] != ',' && s[p] != '}' && s[p] != ']')
        return fail(sc, SCAN_SYNTAX);
    out->start = (uint16_t)start;
    out->end = (uint16_t)p;
    sc->pos = p;
    return 0;
}

static int str_decode(const char *s, size_t start, size_t end, char *out, size_t cap);
static int scan_value(struct scan *sc, int depth, struct span *out);

/* An object or array at sc->pos. At depth 0 (the document itself) the object's keys are
 * looked up and the values of known fields noted in sc->at. */
static int scan_container(struct scan *sc, int depth, struct span *out)
{
    const char *s = sc->s;
    bool obj = s[sc->pos] == '{';
    char close = obj ? '}' : ']';
    struct span key, val;

    sc->ntok++;
    out->kind = obj ? K_OBJECT : K_ARRAY;
    out->start = (uint16_t)sc->pos;
    if (depth >= MAX_DEPTH)
        return fail(sc, SCAN_DEEP);
    sc->pos++;
    skip_ws(sc);
    if (sc->pos < sc->len && s[sc->pos] == close) {
        sc->pos++;
        out->end = (uint16_t)sc->pos;
        return 0;
    }
    for (;;) {
        skip_ws(sc);
        if (sc->pos >= sc->len)
            return fail(sc, SCAN_SYNTAX);
        if (obj) {
            if (s[sc->pos] != '"' || scan_string(sc, &key) < 0)
                return fail(sc, SCAN_SYNTAX);
            skip_ws(sc);
            if (sc->pos >= sc->len || s[sc->pos] != ':')
                return fail(sc, SCAN_SYNTAX);
            sc->pos++;
            if (scan_value(sc, depth + 1, &val) < 0)
                return -1;
            if (depth == 0) {
                enum field f;
                if (!key.escaped) {
                    f = field_lookup(s + key.start, (size_t)(key.end - key.start));
                } else {
                    /* An escaped key ("\u0076") names the same field as the plain one. */
                    char name[FIELD_NAME_MAX + 1];
                    int n = str_decode(s, key.start, key.end, name, sizeof name);
                    f = n > 0 ? field_lookup(name, (size_t)n) : F_COUNT;
                }
                if (f != F_COUNT) {
                    if (sc->at[f].kind != K_ABSENT && sc->dup == F_COUNT)
                        sc->dup = f;
                    sc->at[f] = val;
                }
            }
        } else if (scan_value(sc, depth + 1, &val) < 0) {
            return -1;
        }
        skip_ws(sc);
        if (sc->pos >= sc->len)
            return fail(sc, SCAN_SYNTAX);
        if (s[sc->pos] == ',') {
            sc->pos++;
            continue;
        }
        if (s[sc->pos] != close)
            return fail(sc, SCAN_SYNTAX);
        sc->pos++;
        out->end = (uint16_t)sc->pos;
        return 0;
    }
}

static int scan_value(struct scan *sc, int depth, struct span *out)
{
    skip_ws(sc);
    if (sc->pos >= sc->len)
        return fail(sc, SCAN_SYNTAX);
    switch (sc->s[sc->pos]) {
    case '{':
    case '[':
        return scan_container(sc, depth, out);
    case '"':
        return scan_string(sc, out);
    case '-':
    case 't':
    case 'f':
    case 'n':
        return scan_primitive(sc, out);
    default:
        if (is_digit(sc->s[sc->pos]))
            return scan_primitive(sc, out);
        return fail(sc, SCAN_SYNTAX);
    }
}

/* The whole buffer is exactly one JSON value with only whitespace around it. Leaves
 * sc->status (and sc->pos where the grammar broke), sc->object, sc->ntok, sc->at, sc->dup. */
static void scan_document(struct scan *sc)
{
    struct span root;

    sc->dup = F_COUNT;
    skip_ws(sc);
    sc->object = sc->pos < sc->len && sc->s[sc->pos] == '{';
    if (scan_value(sc, 0, &root) < 0)
        return;
    skip_ws(sc);
    if (sc->pos != sc->len)
        fail(sc, SCAN_SYNTAX);
}

/* ---- field values ---- */

/* Decodes the JSON string s[start..end) (escapes already validated by the scan) into
 * out[cap]. Returns the decoded length, or -1 when it needs more than cap - 1 bytes or
 * contains U+0000 (which would silently cut a C string short). */
static int str_decode(const char *s, size_t start, size_t end, char *out, size_t cap)
{
    size_t n = 0;
    size_t i = start;

    while (i < end) {
        unsigned long cp;
        char c = s[i];
        if (c != '\\') {
            /* Copy the run up to the next escape in one go. */
            const char *bs = memchr(s + i, '\\', end - i);
            size_t j = bs != NULL ? (size_t)(bs - s) : end;
            if (j - i >= cap - n)
                return -1;
            memcpy(out + n, s + i, j - i);
            n += j - i;
            i = j;
            continue;
        }
        c = s[i + 1];
        i += 2;
        switch (c) {
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            cp = 0;
            for (int k = 0; k < 4; k++)
                cp = cp * 16 + (unsigned long)hex_val(s[i + (size_t)k]);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned long lo = 0;
                for (int k = 0; k < 4; k++)
                    lo = lo * 16 + (unsigned long)hex_val(s[i + 2 + (size_t)k]);
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            break;
        default: /* '"', '\\', '/' */
            cp = (unsigned char)c;
            break;
        }
        if (cp == 0)
            return -1;
        unsigned char u[4];
        size_t k;
        if (cp < 0x80) {
            u[0] = (unsigned char)cp;
            k = 1;
        } else if (cp < 0x800) {
            u[0] = (unsigned char)(0xC0 | (cp >> 6));
            u[1] = (unsigned char)(0x80 | (cp & 0x3F));
            k = 2;
        } else if (cp < 0x10000) {
            u[0] = (unsigned char)(0xE0 | (cp >> 12));
            u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            u[2] = (unsigned char)(0x80 | (cp & 0x3F));
            k = 3;
        } else {
            u[0] = (unsigned char)(0xF0 | (cp >> 18));
            u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
            u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            u[3] = (unsigned char)(0x80 | (cp & 0x3F));
            k = 4;
        }
        if (k >= cap - n)
            return -1;
        memcpy(out + n, u, k);
        n += k;
    }
    out[n] = '\0';
    return (int)n;
}

/* Everything the field checks need: the bytes, where each known field's value is, and
 * where to report. */
struct doc {
    const char *s;
    const struct span *at;
    struct vigil_parse_error *err;
};

/* The string value sp decoded into out[cap], as str_decode; a string without escapes is
 * one bounded copy. */
static int span_str(const struct doc *d, const struct span *sp, char *out, size_t cap)
{
    if (!sp->escaped) {
        size_t n = (size_t)(sp->end - sp->start);
        if (n >= cap)
            return -1;
        memcpy(out, d->s + sp->start, n);
        out[n] = '\0';
        return (int)n;
    }
    return str_decode(d->s, sp->start, sp->end, out, cap);
}

/* The value of field f, or NULL when absent; a JSON null counts as absent. */
static const struct span *optional(const struct doc *d, enum field f)
{
    const struct span *sp = &d->at[f];
    return sp->kind == K_ABSENT || sp->kind == K_NULL ? NULL : sp;
}

/* The value of a required field, or NULL after filling d->err. */
static const struct span *required(struct doc *d, enum field f, const char *why)
{
    const struct span *sp = &d->at[f];

    if (sp->kind == K_ABSENT) {
        reject(d->err, "missing_field", field_names[f], "field '", field_names[f],
               "' is required", why, NULL);
        return NULL;
    }
    if (sp->kind == K_NULL) {
        reject(d->err, "bad_field", field_names[f], "field '", field_names[f],
               "' is required and may not be null", NULL);
        return NULL;
    }
    return sp;
}

static int bad_field(struct doc *d, enum field f, const char *what)
{
    return reject(d->err, "bad_field", field_names[f], "field '", field_names[f], "' must be ",
                  what, NULL);
}

/* A JSON integer (no fraction or exponent) that fits int64_t. */
static int span_int64(const struct doc *d, const struct span *sp, int64_t *out)
{
    const char *s = d->s;
    size_t i = sp->start;
    bool neg = false;
    uint64_t v = 0;

    if (sp->kind != K_NUMBER)
        return -1;
    if (s[i] == '-') {
        neg = true;
        i++;
    }
    /* -INT64_MIN does not fit int64_t but does fit the uint64_t magnitude. */
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < sp->end; i++) {
        if (!is_digit(s[i]))
            return -1; /* '.', 'e', 'E' */
        unsigned dg = (unsigned)(s[i] - '0');
        if (v > (limit - dg) / 10)
            return -1;
        v = v * 10 + dg;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Any JSON number as a double. Done by hand rather than with strtod, which needs a NUL and
 * follows LC_NUMERIC; 19 significant digits are far more than an amount in EUR needs. */
static int span_double(const struct doc *d, const struct span *sp, double *out)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *s = d->s;
    size_t i = sp->start;
    bool neg = false;
    uint64_t mant = 0;
    int digits = 0;
    long exp10 = 0;

    if (sp->kind != K_NUMBER)
        return -1;
    if (s[i] == '-') {
        neg = true;
        i++;
    }
    for (; i < sp->end && is_digit(s[i]); i++) {
        if (digits < 19) {
            mant = mant * 10 + (uint64_t)(s[i] - '0');
            if (mant != 0)
                digits++;
        } else {
            exp10++;
        }
    }
    if (i < sp->end && s[i] == '.') {
        for (i++; i < sp->end && is_digit(s[i]); i++) {
            if (digits < 19) {
                mant = mant * 10 + (uint64_t)(s[i] - '0');
                if (mant != 0)
                    digits++;
                exp10--;
            }
        }
    }
    if (i < sp->end) { /* exponent; the scan guaranteed its shape */
        bool eneg = false;
        long e = 0;
        i++;
        if (s[i] == '+' || s[i] == '-')
            eneg = s[i++] == '-';
        for (; i < sp->end; i++) {
            if (e < 100000) /* saturate: beyond this only 0 or infinity is possible */
                e = e * 10 + (s[i] - '0');
        }
        exp10 += eneg ? -e : e;
    }
    double v = (double)mant;
    if (mant != 0) {
        while (exp10 > 22 && isfinite(v)) {
            v *= 1e22;
            exp10 -= 22;
        }
        while (exp10 < -22 && v != 0.0) {
            v /= 1e22;
            exp10 += 22;
        }
        if (exp10 > 0)
            v *= p10[exp10 > 22 ? 22 : exp10];
        else if (exp10 < 0)
            v /= p10[-exp10 > 22 ? 22 : -exp10];
    }
    *out = neg ? -v : v;
    return 0;
}

/* Copies a string field into out[cap] (cap includes the NUL); checks 1..cap-1 bytes
 * (or 0..cap-1 when empty_ok). */
static int get_str(struct doc *d, enum field f, const struct span *sp, char *out, size_t cap,
                   bool empty_ok)
{
    char num[24];
    int n;

    if (sp->kind != K_STRING)
        return bad_field(d, f, "a string");
    n = span_str(d, sp, out, cap);
    if (n < 0 || (n == 0 && !empty_ok))
        return reject(d->err, "bad_field", field_names[f], "field '", field_names[f],
                      "' must be a string of ", empty_ok ? "0 to " : "1 to ",
                      dec(num, (int64_t)cap - 1), " bytes without U+0000", NULL);
    return 0;
}

static bool is_account_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
           c == '_' || c == ':' || c == '-';
}

static int get_number(struct doc *d, enum field f, const char *cc, char *out)
{
    char text[NUMBER_TEXT_MAX + 1];
    const struct span *sp = required(d, f, "");
    int n;

    if (sp == NULL)
        return VIGIL_ERR_INVALID;
    if (sp->kind != K_STRING)
        return bad_field(d, f, "a string");
    n = span_str(d, sp, text, sizeof text);
    if (n < 0 || vigil_number_normalize(text, (size_t)n, cc, out) != 0)
        return reject(d->err, "bad_number", field_names[f], "field '", field_names[f],
                      "' is not an E.164, national or short-code number", NULL);
    return 0;
}

/* ---- the fields, in the documented order ---- */

static int check_common(struct doc *d, const char *key, size_t key_len,
                        const struct vigil_parse_opts *opts, struct vigil_event *ev)
{
    const char *cc = opts != NULL ? opts->default_cc : NULL;
    int64_t now = opts != NULL ? opts->now_ms : 0;
    const struct span *sp;
    int64_t v;
    int n;
    char type[16], num[24];

    if ((sp = required(d, F_V, "")) == NULL)
        return VIGIL_ERR_INVALID;
    if (span_int64(d, sp, &v) != 0)
        return bad_field(d, F_V, "an integer");
    if (v != 1)
        return reject(d->err, "bad_version", NULL, "schema version ", dec(num, v),
                      " is not supported, only 1 is", NULL);

    if ((sp = required(d, F_TYPE, "")) == NULL)
        return VIGIL_ERR_INVALID;
    if (sp->kind != K_STRING)
        return bad_field(d, F_TYPE, "a string");
    n = span_str(d, sp, type, sizeof type);
    if (n == 10 && memcmp(type, "call_start", 10) == 0)
        ev->type = VIGIL_EV_CALL_START;
    else if (n == 8 && memcmp(type, "call_end", 8) == 0)
        ev->type = VIGIL_EV_CALL_END;
    else if (n == 3 && memcmp(type, "sms", 3) == 0)
        ev->type = VIGIL_EV_SMS;
    else
        return reject(d->err, "bad_type", NULL,
                      "field 'type' must be call_start, call_end or sms", NULL);

    if ((sp = required(d, F_ID, "")) == NULL ||
        get_str(d, F_ID, sp, ev->id, sizeof ev->id, false) != 0)
        return VIGIL_ERR_INVALID;

    if ((sp = required(d, F_TS, "")) == NULL)
        return VIGIL_ERR_INVALID;
    if (span_int64(d, sp, &ev->ts_ms) != 0)
        return bad_field(d, F_TS, "an integer (Unix epoch milliseconds)");
    if (ev->ts_ms < VIGIL_TS_MIN_MS)
        return reject(d->err, "ts_past", NULL,
                      "field 'ts' is before 2000-01-01 (it must be in milliseconds)", NULL);
    /* Subtraction, not now + ahead, so that no value can overflow. */
    if (now > 0 && ev->ts_ms - VIGIL_TS_MAX_AHEAD_MS > now)
        return reject(d->err, "ts_future", NULL,
                      "field 'ts' is more than one day ahead of vigil's clock", NULL);

    if ((sp = required(d, F_ACCOUNT, "")) == NULL)
        return VIGIL_ERR_INVALID;
    if (sp->kind != K_STRING)
        return bad_field(d, F_ACCOUNT, "a string");
    n = span_str(d, sp, ev->account, sizeof ev->account);
    bool ok = n > 0;
    for (int i = 0; ok && i < n; i++)
        ok = is_account_char(ev->account[i]);
    if (!ok)
        return bad_field(d, F_ACCOUNT, "1 to 64 characters of A-Z a-z 0-9 . _ : -");
    /* The key is what Kafka partitioned on; if it is not the account, per-account state
     * would be split across workers. */
    if (key == NULL)
        return reject(d->err, "key_mismatch", NULL,
                      "the message has no key; it must equal field 'account'", NULL);
    if (key_len != (size_t)n || memcmp(key, ev->account, key_len) != 0)
        return reject(d->err, "key_mismatch", NULL,
                      "the message key does not equal field 'account'", NULL);

    if (get_number(d, F_FROM, cc, ev->from) != 0 || get_number(d, F_TO, cc, ev->to) != 0)
        return VIGIL_ERR_INVALID;
    return 0;
}

static int check_call(struct doc *d, struct vigil_event *ev)
{
    const char *why = ev->type == VIGIL_EV_CALL_START ? " for call_start" : " for call_end";
    const struct span *sp;
    char dir[4];
    int n;

    if ((sp = required(d, F_CALL_ID, why)) == NULL ||
        get_str(d, F_CALL_ID, sp, ev->call_id, sizeof ev->call_id, false) != 0)
        return VIGIL_ERR_INVALID;

    if ((sp = required(d, F_DIR, why)) == NULL)
        return VIGIL_ERR_INVALID;
    n = sp->kind == K_STRING ? span_str(d, sp, dir, sizeof dir) : -1;
    if (n == 3 && memcmp(dir, "out", 3) == 0)
        ev->dir = VIGIL_DIR_OUT;
    else if (n == 2 && memcmp(dir, "in", 2) == 0)
        ev->dir = VIGIL_DIR_IN;
    else
        return bad_field(d, F_DIR, "\"out\" or \"in\"");

    if (ev->type == VIGIL_EV_CALL_END) {
        if ((sp = required(d, F_DURATION, why)) == NULL)
            return VIGIL_ERR_INVALID;
        if (span_int64(d, sp, &ev->duration_s) != 0 || ev->duration_s < 0)
            return bad_field(d, F_DURATION, "an integer number of seconds >= 0");
        if (ev->duration_s > VIGIL_DURATION_MAX_S)
            ev->duration_s = VIGIL_DURATION_MAX_S;
        if ((sp = optional(d, F_ANSWERED)) != NULL) {
            if (sp->kind != K_TRUE && sp->kind != K_FALSE)
                return bad_field(d, F_ANSWERED, "true or false");
            ev->answered = sp->kind == K_TRUE;
        }
    }

    if ((sp = optional(d, F_COST)) != NULL) {
        if (span_double(d, sp, &ev->cost_eur) != 0 || !isfinite(ev->cost_eur) ||
            ev->cost_eur < 0)
            return bad_field(d, F_COST, "a number >= 0");
        ev->cost_eur += 0.0; /* -0 becomes +0 */
        ev->has_cost = true;
    }

    if ((sp = optional(d, F_DEVICE)) != NULL &&
        get_str(d, F_DEVICE, sp, ev->device, sizeof ev->device, true) != 0)
        return VIGIL_ERR_INVALID;

    if ((sp = optional(d, F_SRC_IP)) != NULL) {
        unsigned char addr[16];
        n = sp->kind == K_STRING ? span_str(d, sp, ev->src_ip, sizeof ev->src_ip) : -1;
        if (n <= 0 || (inet_pton(AF_INET, ev->src_ip, addr) != 1 &&
                       inet_pton(AF_INET6, ev->src_ip, addr) != 1))
            return bad_field(d, F_SRC_IP, "an IPv4 or IPv6 address");
    }

    if ((sp = optional(d, F_COUNTRY)) != NULL) {
        n = sp->kind == K_STRING ? span_str(d, sp, ev->country, sizeof ev->country) : -1;
        bool ok = n == 2;
        for (int i = 0; ok && i < 2; i++) {
            char c = ev->country[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
            ev->country[i] = (char)(c >= 'a' ? c - 'a' + 'A' : c);
        }
        if (!ok)
            return bad_field(d, F_COUNTRY, "two letters (ISO 3166-1 alpha-2)");
    }
    return 0;
}

static int check_sms(struct doc *d, struct vigil_event *ev)
{
    const struct span *sp;
    int n;

    ev->segments = 1;
    if ((sp = optional(d, F_SEGMENTS)) != NULL) {
        int64_t seg;
        if (span_int64(d, sp, &seg) != 0 || seg < 1 || seg > 255)
            return bad_field(d, F_SEGMENTS, "an integer from 1 to 255");
        ev->segments = (int)seg;
    }
    if ((sp = optional(d, F_BODY_HASH)) != NULL) {
        n = sp->kind == K_STRING ? span_str(d, sp, ev->body_hash, sizeof ev->body_hash) : -1;
        bool ok = n >= 0;
        for (int i = 0; ok && i < n; i++) {
            char c = ev->body_hash[i];
            if (c >= 'A' && c <= 'F')
                ev->body_hash[i] = (char)(c - 'A' + 'a');
            else
                ok = is_digit(c) || (c >= 'a' && c <= 'f');
        }
        if (!ok)
            return bad_field(d, F_BODY_HASH, "at most 64 hexadecimal digits");
    }
    return 0;
}

int vigil_event_parse(const char *buf, size_t len, const char *key, size_t key_len,
                      const struct vigil_parse_opts *opts, struct vigil_event *ev,
                      struct vigil_parse_error *err)
{
    struct scan sc;
    char n1[24], n2[24];

    if (err != NULL) {
        err->reason[0] = '\0';
        err->detail[0] = '\0';
    }
    if (ev == NULL)
        return reject(err, "internal", NULL, "the caller passed no event to fill", NULL);
    if (len > VIGIL_EVENT_MAX_BYTES)
        return reject(err, "too_large", NULL, "the value is ", dec(n1, (int64_t)len),
                      " bytes, more than the ", dec(n2, VIGIL_EVENT_MAX_BYTES), " allowed", NULL);
    if (buf == NULL && len > 0)
        return reject(err, "json_syntax", NULL, "the value is missing", NULL);

    /* Only the fields the checks read need clearing: the spans and the counters. */
    sc.s = buf;
    sc.len = len;
    sc.pos = 0;
    sc.ntok = 0;
    sc.status = SCAN_OK;
    memset(sc.at, 0, sizeof sc.at);
    scan_document(&sc);
    if (sc.status != SCAN_OK) {
        size_t where = utf8_check((const unsigned char *)buf, len);
        if (where != len)
            return reject(err, "bad_utf8", NULL, "the value is not valid UTF-8 at byte ",
                          dec(n1, (int64_t)where), NULL);
        if (sc.status == SCAN_DEEP)
            return reject(err, "too_complex", NULL, "the value nests deeper than ",
                          dec(n1, MAX_DEPTH), " levels", NULL);
        return reject(err, "json_syntax", NULL, "the value is not valid JSON (at byte ",
                      dec(n1, (int64_t)sc.pos), ")", NULL);
    }
    if (!sc.object)
        return reject(err, "not_object", NULL, "the value is JSON but not an object", NULL);
    if (sc.ntok > MAX_TOKENS)
        return reject(err, "too_complex", NULL, "the value has more than ",
                      dec(n1, MAX_TOKENS), " JSON tokens", NULL);
    if (sc.dup != F_COUNT)
        return reject(err, "duplicate_field", field_names[sc.dup], "field '",
                      field_names[sc.dup], "' appears more than once", NULL);

    struct doc d = {.s = buf, .at = sc.at, .err = err};
    memset(ev, 0, sizeof *ev);
    ev->answered = true;
    if (check_common(&d, key, key_len, opts, ev) != 0)
        return VIGIL_ERR_INVALID;
    if (ev->type == VIGIL_EV_SMS)
        return check_sms(&d, ev);
    return check_call(&d, ev);
}

const char *vigil_event_type_str(enum vigil_event_type t)
{
    switch (t) {
    case VIGIL_EV_CALL_START:
        return "call_start";
    case VIGIL_EV_CALL_END:
        return "call_end";
    case VIGIL_EV_SMS:
        return "sms";
    default:
        return "unknown";
    }
}

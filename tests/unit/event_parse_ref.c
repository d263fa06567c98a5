/* SPDX-License-Identifier: Apache-2.0 */
/* event_parse_ref.c - the previous event parser (jsmn tokens checked by a grammar walk),
 * frozen as vigil_event_parse_ref(): the oracle of test_event_parse_diff and the baseline
 * of `bench_parse --compare`. Not linked into any program. Its behaviour is the contract
 * the one-pass parser in pipeline/event_parse.c keeps; if the contract ever changes, change
 * both or retire this copy together with the differential test.
 *
 * What follows is the old parser's own description. */
/* (was event_parse.c) strict parser and validator for wire-format v1 events (events.md).
 *
 * Threading: pure; any number of threads may parse their own buffers at once.
 * Ownership: nothing is allocated; the tokens live on the caller's stack and every string
 * is copied into struct vigil_event by value.
 *
 * jsmn tokenises, but even with JSMN_STRICT it accepts things that are not JSON
 * (`{"a" "b"}`, `{"a":1,}`, `[1 2]`, two values in a row, bad numbers such as `01` or
 * `1.`, `tru`), so a small recursive-descent walk (walk_*) checks the exact RFC 8259
 * grammar over the bytes and at the same time checks that every jsmn token (type, span,
 * size, parent) is the one the grammar expects. Field extraction can then trust the
 * tokens completely.
 *
 * Checks, in this order; the first failure is the reason:
 *   1. size          too_large (before reading a byte)
 *   2. UTF-8         bad_utf8 (whole value; overlong forms, surrogates, > U+10FFFF)
 *   3. JSON          json_syntax, including raw control characters in strings and escapes
 *                    of unpaired surrogates ("\ud800", which no UTF-8 can hold);
 *                    too_complex for JSON needing more than MAX_TOKENS tokens, or nesting
 *                    deeper than MAX_DEPTH (reported as soon as the walk gets that deep).
 *                    A reason of its own rather than json_syntax: such a value may well be
 *                    valid JSON, we only refuse to spend more on it.
 *   4. object        not_object
 *   5. duplicates    duplicate_field:<name> for a known field given twice, even when the
 *                    copies agree (which one to believe is undecidable); repeated unknown
 *                    fields are ignored. Escaped keys ("\u0076") count as their text.
 *   6. fields        v, type, id, ts (bad_field, then ts_past, then ts_future), account,
 *                    the key (key_mismatch), from, to; then for calls: call_id, dir,
 *                    duration (call_end), answered (call_end), cost, device, src_ip,
 *                    country; for sms: segments, body_hash.
 * Fields of the other event kind (segments on a call, dir or device on an sms, duration
 * or answered on a call_start) are ignored like unknown ones. A JSON null in an optional
 * field means absent; in a required field it is bad_field. String limits are on the
 * decoded bytes; a decoded U+0000 makes a field bad (it would cut a C string short). `detail`
 * never quotes the value, so it is safe to log. */
#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define JSMN_STATIC
#define JSMN_STRICT
/* Parent links make jsmn's ',' and '}' handling O(1) instead of a backwards scan over all
 * tokens, and let the walk check each token's place in the tree. */
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "vigil/event.h"
#include "vigil/status.h"

#include "event_parse_ref.h"

/* A real event has about 40 tokens; 256 leaves room for a hundred forward-compatible extra
 * fields and keeps the array at 5 KiB of stack. */
#define MAX_TOKENS 256
/* Nesting only occurs in unknown fields; bounding it bounds the walk's recursion. */
#define MAX_DEPTH 32
/* A from/to string longer than this (20 digits and plenty of separators) is no number. */
#define NUMBER_TEXT_MAX 64

/* ---- errors ---- */

static int reject(struct vigil_parse_error *err, const char *reason, const char *field,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Fills *err with `reason` (or "reason:field") and a sentence; returns VIGIL_ERR_INVALID. */
static int reject(struct vigil_parse_error *err, const char *reason, const char *field,
                  const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return VIGIL_ERR_INVALID;
    if (field != NULL)
        snprintf(err->reason, sizeof err->reason, "%s:%s", reason, field);
    else
        snprintf(err->reason, sizeof err->reason, "%s", reason);
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    va_end(ap);
    return VIGIL_ERR_INVALID;
}

/* ---- UTF-8 ---- */

/* Returns the offset of the first invalid byte, or len when buf is valid UTF-8 (RFC 3629:
 * shortest form only, no surrogates, nothing above U+10FFFF). */
static size_t utf8_check(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        /* Events are almost all ASCII: skip eight bytes at a time while no high bit is set. */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, sizeof w);
            if (w & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
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
            return i;
        }
        if (len - i < n || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        }
        i += n;
    }
    return len;
}

/* ---- strict JSON walk ---- */

enum walk_status {
    WALK_OK = 0,
    WALK_SYNTAX = -1,
    WALK_DEEP = -2,
};

struct walk {
    const char *s;
    size_t len;
    size_t pos;
    const jsmntok_t *tok; /* NULL: check the grammar only (jsmn failed) */
    int ntok;
    int next;   /* next token the grammar expects */
    int status; /* sticky enum walk_status */
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

static void skip_ws(struct walk *w)
{
    while (w->pos < w->len && is_ws(w->s[w->pos]))
        w->pos++;
}

static int fail(struct walk *w, int status)
{
    if (w->status == WALK_OK)
        w->status = status;
    return -1;
}

/* Claims the next token and checks that jsmn saw the same thing at the same place.
 * Returns its index (or 0 in grammar-only mode), -1 on a mismatch. */
static int take_token(struct walk *w, jsmntype_t type, size_t start, int parent)
{
    if (w->tok == NULL)
        return 0;
    if (w->next >= w->ntok)
        return fail(w, WALK_SYNTAX);
    const jsmntok_t *t = &w->tok[w->next];
    if (t->type != type || t->start != (int)start || t->parent != parent)
        return fail(w, WALK_SYNTAX);
    return w->next++;
}

/* Checks that token idx ends at `end` and has `size` children. */
static int close_token(struct walk *w, int idx, size_t end, int size)
{
    if (w->tok == NULL)
        return 0;
    if (w->tok[idx].end != (int)end || w->tok[idx].size != size)
        return fail(w, WALK_SYNTAX);
    return 0;
}

/* Reads 4 hex digits at pos (inside a string); -1 when they are not there. */
static long read_u4(const struct walk *w, size_t pos)
{
    long v = 0;

    if (w->len - pos < 4)
        return -1;
    for (size_t k = 0; k < 4; k++) {
        int h = hex_val(w->s[pos + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* A string at w->pos (the opening quote). `size` is 1 for an object key (jsmn counts the
 * value as its child), 0 otherwise. */
static int walk_string(struct walk *w, int parent, int size)
{
    const char *s = w->s;
    const size_t len = w->len;
    size_t p = w->pos + 1;
    int idx = take_token(w, JSMN_STRING, p, parent);

    if (idx < 0)
        return -1;
    for (;;) {
        /* Plain bytes are nearly all of an event; bytes >= 0x80 were checked by utf8_check. */
        while (p < len && (unsigned char)s[p] >= 0x20 && s[p] != '"' && s[p] != '\\')
            p++;
        w->pos = p;
        if (p >= len || (unsigned char)s[p] < 0x20)
            return fail(w, WALK_SYNTAX);
        if (s[p] == '"')
            break;
        if (p + 1 >= len)
            return fail(w, WALK_SYNTAX);
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
            long u = read_u4(w, p + 2);
            if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
                return fail(w, WALK_SYNTAX); /* a low surrogate must follow a high one */
            p += 6;
            if (u >= 0xD800 && u <= 0xDBFF) {
                long lo = -1;
                if (len - p >= 6 && s[p] == '\\' && s[p + 1] == 'u')
                    lo = read_u4(w, p + 2);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return fail(w, WALK_SYNTAX);
                p += 6;
            }
            break;
        }
        default:
            return fail(w, WALK_SYNTAX);
        }
    }
    if (close_token(w, idx, p, size) < 0)
        return -1;
    w->pos = p + 1;
    return idx;
}

/* A number or true/false/null at w->pos; RFC 8259 number grammar exactly. */
static int walk_primitive(struct walk *w, int parent)
{
    const char *s = w->s;
    size_t start = w->pos, p = w->pos, len = w->len;
    int idx = take_token(w, JSMN_PRIMITIVE, start, parent);

    if (idx < 0)
        return -1;
    if (s[p] == 't' || s[p] == 'f' || s[p] == 'n') {
        const char *lit = s[p] == 't' ? "true" : s[p] == 'f' ? "false" : "null";
        size_t n = strlen(lit);
        if (len - p < n || memcmp(s + p, lit, n) != 0)
            return fail(w, WALK_SYNTAX);
        p += n;
    } else {
        if (s[p] == '-')
            p++;
        if (p >= len || !is_digit(s[p]))
            return fail(w, WALK_SYNTAX);
        if (s[p] == '0') {
            p++; /* no leading zeros: "01" is two values, hence a syntax error below */
        } else {
            while (p < len && is_digit(s[p]))
                p++;
        }
        if (p < len && s[p] == '.') {
            p++;
            if (p >= len || !is_digit(s[p]))
                return fail(w, WALK_SYNTAX);
            while (p < len && is_digit(s[p]))
                p++;
        }
        if (p < len && (s[p] == 'e' || s[p] == 'E')) {
            p++;
            if (p < len && (s[p] == '+' || s[p] == '-'))
                p++;
            if (p >= len || !is_digit(s[p]))
                return fail(w, WALK_SYNTAX);
            while (p < len && is_digit(s[p]))
                p++;
        }
    }
    /* A primitive must end at a delimiter ("truex", "1a" are not two tokens). */
    if (p < len && !is_ws(s[p]) && s[p] != ',' && s[p] != '}' && s[p] != ']')
        return fail(w, WALK_SYNTAX);
    if (close_token(w, idx, p, 0) < 0)
        return -1;
    w->pos = p;
    return idx;
}

static int walk_value(struct walk *w, int parent, int depth);

static int walk_container(struct walk *w, int parent, int depth)
{
    bool obj = w->s[w->pos] == '{';
    char close = obj ? '}' : ']';
    int idx = take_token(w, obj ? JSMN_OBJECT : JSMN_ARRAY, w->pos, parent);
    int count = 0;

    if (idx < 0)
        return -1;
    if (depth >= MAX_DEPTH)
        return fail(w, WALK_DEEP);
    w->pos++;
    skip_ws(w);
    if (w->pos < w->len && w->s[w->pos] == close) {
        w->pos++;
        return close_token(w, idx, w->pos, 0) < 0 ? -1 : idx;
    }
    for (;;) {
        skip_ws(w);
        if (w->pos >= w->len)
            return fail(w, WALK_SYNTAX);
        if (obj) {
            if (w->s[w->pos] != '"')
                return fail(w, WALK_SYNTAX);
            int key = walk_string(w, idx, 1);
            if (key < 0)
                return -1;
            skip_ws(w);
            if (w->pos >= w->len || w->s[w->pos] != ':')
                return fail(w, WALK_SYNTAX);
            w->pos++;
            if (walk_value(w, key, depth + 1) < 0)
                return -1;
        } else if (walk_value(w, idx, depth + 1) < 0) {
            return -1;
        }
        count++;
        skip_ws(w);
        if (w->pos >= w->len)
            return fail(w, WALK_SYNTAX);
        if (w->s[w->pos] == ',') {
            w->pos++;
            continue;
        }
        if (w->s[w->pos] != close)
            return fail(w, WALK_SYNTAX);
        w->pos++;
        return close_token(w, idx, w->pos, count) < 0 ? -1 : idx;
    }
}

static int walk_value(struct walk *w, int parent, int depth)
{
    skip_ws(w);
    if (w->pos >= w->len)
        return fail(w, WALK_SYNTAX);
    switch (w->s[w->pos]) {
    case '{':
    case '[':
        return walk_container(w, parent, depth);
    case '"':
        return walk_string(w, parent, 0);
    case '-':
    case 't':
    case 'f':
    case 'n':
        return walk_primitive(w, parent);
    default:
        if (is_digit(w->s[w->pos]))
            return walk_primitive(w, parent);
        return fail(w, WALK_SYNTAX);
    }
}

/* The whole buffer is exactly one JSON value with only whitespace around it and, when tok
 * is not NULL, tok[0..ntok) is exactly its tokenisation. Returns an enum walk_status;
 * *where is the byte offset where the grammar broke. */
static int walk_document(const char *s, size_t len, const jsmntok_t *tok, int ntok, size_t *where)
{
    struct walk w = {.s = s, .len = len, .tok = tok, .ntok = ntok};

    if (walk_value(&w, -1, 0) >= 0) {
        skip_ws(&w);
        if (w.pos != len)
            fail(&w, WALK_SYNTAX);
        else if (tok != NULL && w.next != ntok)
            fail(&w, WALK_SYNTAX);
    }
    *where = w.pos;
    return w.status;
}

/* ---- field values ---- */

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

/* Known names are 1 to 9 bytes; a longer key is never one of them. Fixed-size rows so that
 * field_lookup may compare FIELD_NAME_MAX bytes of any name without reading past it. */
#define FIELD_NAME_MAX 9

static const char field_names[F_COUNT][FIELD_NAME_MAX + 1] = {
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

/* Everything the field checks need: the bytes, the tokens, and where each field's value
 * token is (0 = absent; token 0 is the root object so it is never a value). */
struct doc {
    const char *s;
    const jsmntok_t *tok;
    int at[F_COUNT];
    struct vigil_parse_error *err;
};

/* Decodes the JSON string token t (escapes already validated by the walk) into
 * out[cap]. Returns the decoded length, or -1 when it needs more than cap - 1 bytes or
 * contains U+0000 (which would silently cut a C string short). */
static int str_decode(const char *s, const jsmntok_t *t, char *out, size_t cap)
{
    size_t n = 0;
    int i = t->start;

    while (i < t->end) {
        unsigned long cp;
        char c = s[i];
        if (c != '\\') {
            /* Copy the run up to the next escape in one go. */
            int j = i + 1;
            while (j < t->end && s[j] != '\\')
                j++;
            if ((size_t)(j - i) >= cap - n)
                return -1;
            memcpy(out + n, s + i, (size_t)(j - i));
            n += (size_t)(j - i);
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
                cp = cp * 16 + (unsigned long)hex_val(s[i + k]);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned long lo = 0;
                for (int k = 0; k < 4; k++)
                    lo = lo * 16 + (unsigned long)hex_val(s[i + 2 + k]);
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

static bool tok_is_null(const struct doc *d, int t)
{
    return d->tok[t].type == JSMN_PRIMITIVE && d->s[d->tok[t].start] == 'n';
}

/* The value token of field f, or 0 when absent; a JSON null counts as absent. */
static int optional(const struct doc *d, enum field f)
{
    int t = d->at[f];
    return t != 0 && tok_is_null(d, t) ? 0 : t;
}

/* The value token of a required field, or 0 after filling d->err. */
static int required(struct doc *d, enum field f, const char *why)
{
    int t = d->at[f];

    if (t == 0) {
        reject(d->err, "missing_field", field_names[f], "field '%s' is required%s", field_names[f],
               why);
        return 0;
    }
    if (tok_is_null(d, t)) {
        reject(d->err, "bad_field", field_names[f], "field '%s' is required and may not be null",
               field_names[f]);
        return 0;
    }
    return t;
}

static int bad_field(struct doc *d, enum field f, const char *what)
{
    return reject(d->err, "bad_field", field_names[f], "field '%s' must be %s", field_names[f],
                  what);
}

/* A JSON integer (no fraction or exponent) that fits int64_t. */
static int tok_int64(const struct doc *d, int t, int64_t *out)
{
    const jsmntok_t *k = &d->tok[t];
    const char *s = d->s;
    int i = k->start;
    bool neg = false;
    uint64_t v = 0;

    if (k->type != JSMN_PRIMITIVE)
        return -1;
    if (s[i] == '-') {
        neg = true;
        i++;
    }
    if (i >= k->end || !is_digit(s[i]))
        return -1; /* true, false, null */
    /* -INT64_MIN does not fit int64_t but does fit the uint64_t magnitude. */
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < k->end; i++) {
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
static int tok_double(const struct doc *d, int t, double *out)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const jsmntok_t *k = &d->tok[t];
    const char *s = d->s;
    int i = k->start;
    bool neg = false;
    uint64_t mant = 0;
    int digits = 0;
    long exp10 = 0;

    if (k->type != JSMN_PRIMITIVE)
        return -1;
    if (s[i] == '-') {
        neg = true;
        i++;
    }
    if (!is_digit(s[i]))
        return -1;
    for (; i < k->end && is_digit(s[i]); i++) {
        if (digits < 19) {
            mant = mant * 10 + (uint64_t)(s[i] - '0');
            if (mant != 0)
                digits++;
        } else {
            exp10++;
        }
    }
    if (i < k->end && s[i] == '.') {
        for (i++; i < k->end && is_digit(s[i]); i++) {
            if (digits < 19) {
                mant = mant * 10 + (uint64_t)(s[i] - '0');
                if (mant != 0)
                    digits++;
                exp10--;
            }
        }
    }
    if (i < k->end) { /* exponent; the walk guaranteed its shape */
        bool eneg = false;
        long e = 0;
        i++;
        if (s[i] == '+' || s[i] == '-')
            eneg = s[i++] == '-';
        for (; i < k->end; i++) {
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
static int get_str(struct doc *d, enum field f, int t, char *out, size_t cap, bool empty_ok)
{
    int n;

    if (d->tok[t].type != JSMN_STRING)
        return bad_field(d, f, "a string");
    n = str_decode(d->s, &d->tok[t], out, cap);
    if (n < 0 || (n == 0 && !empty_ok))
        return reject(d->err, "bad_field", field_names[f],
                      "field '%s' must be a string of %s%zu bytes without U+0000", field_names[f],
                      empty_ok ? "0 to " : "1 to ", cap - 1);
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
    int t = required(d, f, "");
    int n;

    if (t == 0)
        return VIGIL_ERR_INVALID;
    if (d->tok[t].type != JSMN_STRING)
        return bad_field(d, f, "a string");
    n = str_decode(d->s, &d->tok[t], text, sizeof text);
    if (n < 0 || vigil_number_normalize(text, (size_t)n, cc, out) != 0)
        return reject(d->err, "bad_number", field_names[f],
                      "field '%s' is not an E.164, national or short-code number", field_names[f]);
    return 0;
}

/* ---- the fields, in the documented order ---- */

static int check_common(struct doc *d, const char *key, size_t key_len,
                        const struct vigil_parse_opts *opts, struct vigil_event *ev)
{
    const char *cc = opts != NULL ? opts->default_cc : NULL;
    int64_t now = opts != NULL ? opts->now_ms : 0;
    int64_t v;
    int t, n;
    char type[16];

    if ((t = required(d, F_V, "")) == 0)
        return VIGIL_ERR_INVALID;
    if (tok_int64(d, t, &v) != 0)
        return bad_field(d, F_V, "an integer");
    if (v != 1)
        return reject(d->err, "bad_version", NULL,
                      "schema version %lld is not supported, only 1 is", (long long)v);

    if ((t = required(d, F_TYPE, "")) == 0)
        return VIGIL_ERR_INVALID;
    if (d->tok[t].type != JSMN_STRING)
        return bad_field(d, F_TYPE, "a string");
    n = str_decode(d->s, &d->tok[t], type, sizeof type);
    if (n == 10 && memcmp(type, "call_start", 10) == 0)
        ev->type = VIGIL_EV_CALL_START;
    else if (n == 8 && memcmp(type, "call_end", 8) == 0)
        ev->type = VIGIL_EV_CALL_END;
    else if (n == 3 && memcmp(type, "sms", 3) == 0)
        ev->type = VIGIL_EV_SMS;
    else
        return reject(d->err, "bad_type", NULL, "field 'type' must be call_start, call_end or sms");

    if ((t = required(d, F_ID, "")) == 0 || get_str(d, F_ID, t, ev->id, sizeof ev->id, false))
        return VIGIL_ERR_INVALID;

    if ((t = required(d, F_TS, "")) == 0)
        return VIGIL_ERR_INVALID;
    if (tok_int64(d, t, &ev->ts_ms) != 0)
        return bad_field(d, F_TS, "an integer (Unix epoch milliseconds)");
    if (ev->ts_ms < VIGIL_TS_MIN_MS)
        return reject(d->err, "ts_past", NULL,
                      "field 'ts' is before 2000-01-01 (it must be in milliseconds)");
    /* Subtraction, not now + ahead, so that no value can overflow. */
    if (now > 0 && ev->ts_ms - VIGIL_TS_MAX_AHEAD_MS > now)
        return reject(d->err, "ts_future", NULL,
                      "field 'ts' is more than one day ahead of vigil's clock");

    if ((t = required(d, F_ACCOUNT, "")) == 0)
        return VIGIL_ERR_INVALID;
    if (d->tok[t].type != JSMN_STRING)
        return bad_field(d, F_ACCOUNT, "a string");
    n = str_decode(d->s, &d->tok[t], ev->account, sizeof ev->account);
    bool ok = n > 0;
    for (int i = 0; ok && i < n; i++)
        ok = is_account_char(ev->account[i]);
    if (!ok)
        return bad_field(d, F_ACCOUNT, "1 to 64 characters of A-Z a-z 0-9 . _ : -");
    /* The key is what Kafka partitioned on; if it is not the account, per-account state
     * would be split across workers. */
    if (key == NULL)
        return reject(d->err, "key_mismatch", NULL,
                      "the message has no key; it must equal field 'account'");
    if (key_len != (size_t)n || memcmp(key, ev->account, key_len) != 0)
        return reject(d->err, "key_mismatch", NULL,
                      "the message key does not equal field 'account'");

    if (get_number(d, F_FROM, cc, ev->from) != 0 || get_number(d, F_TO, cc, ev->to) != 0)
        return VIGIL_ERR_INVALID;
    return 0;
}

static int check_call(struct doc *d, struct vigil_event *ev)
{
    const char *why = ev->type == VIGIL_EV_CALL_START ? " for call_start" : " for call_end";
    char dir[4];
    int t, n;

    if ((t = required(d, F_CALL_ID, why)) == 0 ||
        get_str(d, F_CALL_ID, t, ev->call_id, sizeof ev->call_id, false) != 0)
        return VIGIL_ERR_INVALID;

    if ((t = required(d, F_DIR, why)) == 0)
        return VIGIL_ERR_INVALID;
    n = d->tok[t].type == JSMN_STRING ? str_decode(d->s, &d->tok[t], dir, sizeof dir) : -1;
    if (n == 3 && memcmp(dir, "out", 3) == 0)
        ev->dir = VIGIL_DIR_OUT;
    else if (n == 2 && memcmp(dir, "in", 2) == 0)
        ev->dir = VIGIL_DIR_IN;
    else
        return bad_field(d, F_DIR, "\"out\" or \"in\"");

    if (ev->type == VIGIL_EV_CALL_END) {
        if ((t = required(d, F_DURATION, why)) == 0)
            return VIGIL_ERR_INVALID;
        if (tok_int64(d, t, &ev->duration_s) != 0 || ev->duration_s < 0)
            return bad_field(d, F_DURATION, "an integer number of seconds >= 0");
        if (ev->duration_s > VIGIL_DURATION_MAX_S) /* as the parser does */
            ev->duration_s = VIGIL_DURATION_MAX_S;
        if ((t = optional(d, F_ANSWERED)) != 0) {
            const jsmntok_t *k = &d->tok[t];
            if (k->type != JSMN_PRIMITIVE || (d->s[k->start] != 't' && d->s[k->start] != 'f'))
                return bad_field(d, F_ANSWERED, "true or false");
            ev->answered = d->s[k->start] == 't';
        }
    }

    if ((t = optional(d, F_COST)) != 0) {
        if (tok_double(d, t, &ev->cost_eur) != 0 || !isfinite(ev->cost_eur) || ev->cost_eur < 0)
            return bad_field(d, F_COST, "a number >= 0");
        ev->cost_eur += 0.0; /* -0 becomes +0 */
        ev->has_cost = true;
    }

    if ((t = optional(d, F_DEVICE)) != 0 &&
        get_str(d, F_DEVICE, t, ev->device, sizeof ev->device, true) != 0)
        return VIGIL_ERR_INVALID;

    if ((t = optional(d, F_SRC_IP)) != 0) {
        unsigned char addr[16];
        n = d->tok[t].type == JSMN_STRING
                ? str_decode(d->s, &d->tok[t], ev->src_ip, sizeof ev->src_ip)
                : -1;
        if (n <= 0 || (inet_pton(AF_INET, ev->src_ip, addr) != 1 &&
                       inet_pton(AF_INET6, ev->src_ip, addr) != 1))
            return bad_field(d, F_SRC_IP, "an IPv4 or IPv6 address");
    }

    if ((t = optional(d, F_COUNTRY)) != 0) {
        n = d->tok[t].type == JSMN_STRING
                ? str_decode(d->s, &d->tok[t], ev->country, sizeof ev->country)
                : -1;
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
    int t, n;

    ev->segments = 1;
    if ((t = optional(d, F_SEGMENTS)) != 0) {
        int64_t seg;
        if (tok_int64(d, t, &seg) != 0 || seg < 1 || seg > 255)
            return bad_field(d, F_SEGMENTS, "an integer from 1 to 255");
        ev->segments = (int)seg;
    }
    if ((t = optional(d, F_BODY_HASH)) != 0) {
        n = d->tok[t].type == JSMN_STRING
                ? str_decode(d->s, &d->tok[t], ev->body_hash, sizeof ev->body_hash)
                : -1;
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

/* The known field named by p[0..n), or F_COUNT. */
static enum field field_lookup(const char *p, int n)
{
    if (n < 1 || n > FIELD_NAME_MAX)
        return F_COUNT;
    /* Every key of every event comes through here: compare only names of the same length
     * and first byte. */
    for (int f = 0; f < F_COUNT; f++) {
        const char *name = field_names[f];
        if (name[0] == p[0] && name[n] == '\0' && name[n - 1] != '\0' &&
            memcmp(name, p, (size_t)n) == 0)
            return (enum field)f;
    }
    return F_COUNT;
}

/* Maps the top-level keys to the known fields. Returns 0, or rejects a repeated one. */
static int index_fields(struct doc *d, int ntok)
{
    char name[FIELD_NAME_MAX + 1];

    /* With parent links the root's keys are exactly the tokens whose parent is 0. */
    for (int i = 1; i < ntok; i++) {
        const jsmntok_t *k = &d->tok[i];
        enum field f;

        if (k->parent != 0)
            continue;
        f = field_lookup(d->s + k->start, k->end - k->start);
        if (f == F_COUNT && memchr(d->s + k->start, '\\', (size_t)(k->end - k->start))) {
            /* An escaped key ("\u0076") names the same field as the plain one. */
            int n = str_decode(d->s, k, name, sizeof name);
            if (n > 0)
                f = field_lookup(name, n);
        }
        if (f == F_COUNT)
            continue;
        if (d->at[f] != 0)
            return reject(d->err, "duplicate_field", field_names[f],
                          "field '%s' appears more than once", field_names[f]);
        d->at[f] = i + 1;
    }
    return 0;
}

int vigil_event_parse_ref(const char *buf, size_t len, const char *key, size_t key_len,
                      const struct vigil_parse_opts *opts, struct vigil_event *ev,
                      struct vigil_parse_error *err)
{
    jsmntok_t tok[MAX_TOKENS];
    jsmn_parser parser;
    struct doc d = {.s = buf, .tok = tok, .err = err};
    size_t where;
    int ntok, rc;

    if (err != NULL) {
        err->reason[0] = '\0';
        err->detail[0] = '\0';
    }
    if (ev == NULL)
        return reject(err, "internal", NULL, "the caller passed no event to fill");
    if (len > VIGIL_EVENT_MAX_BYTES)
        return reject(err, "too_large", NULL, "the value is %zu bytes, more than the %d allowed",
                      len, VIGIL_EVENT_MAX_BYTES);
    if (buf == NULL && len > 0)
        return reject(err, "json_syntax", NULL, "the value is missing");

    where = utf8_check((const unsigned char *)buf, len);
    if (where != len)
        return reject(err, "bad_utf8", NULL, "the value is not valid UTF-8 at byte %zu", where);

    jsmn_init(&parser);
    ntok = jsmn_parse(&parser, buf, len, tok, MAX_TOKENS);
    /* When jsmn fails, walk the grammar alone to tell malformed JSON from JSON that is
     * merely too big for the token array or is a bare top-level value jsmn refuses. */
    rc = walk_document(buf, len, ntok < 0 ? NULL : tok, ntok, &where);
    if (rc == WALK_SYNTAX)
        return reject(err, "json_syntax", NULL, "the value is not valid JSON (at byte %zu)", where);
    if (rc == WALK_DEEP)
        return reject(err, "too_complex", NULL, "the value nests deeper than %d levels", MAX_DEPTH);
    /* Valid JSON from here on, so the first non-blank byte says what the value is. */
    const char *first = buf;
    while (is_ws(*first))
        first++;
    if (*first != '{')
        return reject(err, "not_object", NULL, "the value is JSON but not an object");
    if (ntok == JSMN_ERROR_NOMEM)
        return reject(err, "too_complex", NULL, "the value has more than %d JSON tokens",
                      MAX_TOKENS);
    if (ntok < 0 || tok[0].type != JSMN_OBJECT)
        return reject(err, "json_syntax", NULL, "the value could not be tokenised");

    if (index_fields(&d, ntok) != 0)
        return VIGIL_ERR_INVALID;

    memset(ev, 0, sizeof *ev);
    ev->answered = true;
    if (check_common(&d, key, key_len, opts, ev) != 0)
        return VIGIL_ERR_INVALID;
    if (ev->type == VIGIL_EV_SMS)
        return check_sms(&d, ev);
    return check_call(&d, ev);
}

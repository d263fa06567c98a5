/* SPDX-License-Identifier: Apache-2.0 */
/* json.c - reading JSON documents: jsmn's tokens (strict mode), top-level fields by name,
 * strings decoded, integers read (json.h).
 *
 * Threading: a struct vigil_json belongs to its caller; the functions share nothing.
 * Ownership: the token array belongs to the struct until vigil_json_fini. */
#include "json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#define JSON_TOKENS_LIMIT (1 << 20) /* jsmn tokens for one document, at most */
#define TOK(d) ((jsmntok_t *)(d)->tok)

/* JSON whitespace (not strchr: that would also match the NUL byte). */
static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void vigil_json_fini(struct vigil_json *d)
{
    free(d->tok);
    d->tok = NULL;
    d->cap = 0;
}

/* 0 when s[0..len) is one JSON object as far as jsmn can tell (it is lenient about a few
 * malformed forms; vigil_event_parse() is the real validator), else -1. */
int vigil_json_parse(struct vigil_json *d, const char *s, size_t len)
{
    d->s = s;
    d->len = len;
    d->n = 0;
    for (;;) {
        if (d->cap == 0) {
            /* jsmn counts instead of filling when given no array: always give one. */
            d->tok = malloc(64 * sizeof(jsmntok_t));
            if (!d->tok)
                return -1;
            d->cap = 64;
        }
        jsmn_parser p;
        jsmn_init(&p);
        int n = jsmn_parse(&p, s, len, TOK(d), d->cap);
        if (n == JSMN_ERROR_NOMEM) {
            if (d->cap >= JSON_TOKENS_LIMIT)
                return -1;
            jsmntok_t *t = realloc(d->tok, 2 * d->cap * sizeof *t);
            if (!t)
                return -1;
            d->tok = t;
            d->cap *= 2;
            continue;
        }
        if (n < 1 || TOK(d)[0].type != JSMN_OBJECT || TOK(d)[0].end < 0)
            return -1;
        for (size_t i = (size_t)TOK(d)[0].end; i < len; i++) {
            if (!is_ws(s[i]))
                return -1; /* a second value, or garbage, after the object */
        }
        d->n = n;
        return 0;
    }
}

/* The index just past token i and everything nested in it. */
static int json_after(const struct vigil_json *d, int i)
{
    int end = TOK(d)[i].end;
    for (i++; i < d->n && TOK(d)[i].start < end; i++)
        ;
    return i;
}

/* The value token of the top-level field `name`, or -1. */
int vigil_json_find(const struct vigil_json *d, const char *name)
{
    size_t nl = strlen(name);
    int i = 1;
    while (i + 1 < d->n) {
        const jsmntok_t *k = &TOK(d)[i];
        if (k->type == JSMN_STRING && (size_t)(k->end - k->start) == nl &&
            memcmp(d->s + k->start, name, nl) == 0)
            return i + 1;
        i = json_after(d, i + 1);
    }
    return -1;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Decodes the body of a JSON string (no quotes) into out[n], NUL-terminated. Returns the
 * length, or -1 on a bad escape or when it does not fit. */
int vigil_json_unescape(const char *s, size_t len, char *out, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\') {
            if (++i >= len)
                return -1;
            switch (s[i]) {
            case '"':
            case '\\':
            case '/':
                c = s[i];
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            case 'u': {
                unsigned cp, lo;
                if (i + 4 >= len || hex4(s + i + 1, &cp) != 0)
                    return -1;
                i += 4;
                if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < len && s[i + 1] == '\\' &&
                    s[i + 2] == 'u' && hex4(s + i + 3, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    i += 6;
                }
                char u[4];
                size_t k;
                if (cp < 0x80) {
                    u[0] = (char)cp;
                    k = 1;
                } else if (cp < 0x800) {
                    u[0] = (char)(0xc0 | (cp >> 6));
                    u[1] = (char)(0x80 | (cp & 0x3f));
                    k = 2;
                } else if (cp < 0x10000) {
                    u[0] = (char)(0xe0 | (cp >> 12));
                    u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    u[2] = (char)(0x80 | (cp & 0x3f));
                    k = 3;
                } else {
                    u[0] = (char)(0xf0 | (cp >> 18));
                    u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
                    u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    u[3] = (char)(0x80 | (cp & 0x3f));
                    k = 4;
                }
                if (o + k >= n)
                    return -1;
                memcpy(out + o, u, k);
                o += k;
                continue;
            }
            default:
                return -1;
            }
        }
        if (o + 1 >= n)
            return -1;
        out[o++] = c;
    }
    if (n == 0)
        return -1;
    out[o] = '\0';
    return (int)o;
}

/* The decoded string at token i into out[n]; -1 if it is not a string or does not fit. */
int vigil_json_str(const struct vigil_json *d, int i, char *out, size_t n)
{
    if (i < 0 || TOK(d)[i].type != JSMN_STRING)
        return -1;
    return vigil_json_unescape(d->s + TOK(d)[i].start, (size_t)(TOK(d)[i].end - TOK(d)[i].start),
                               out, n);
}

/* The integer at token i; -1 if it is not an integer. */
int vigil_json_int(const struct vigil_json *d, int i, int64_t *out)
{
    char tmp[32];
    if (i < 0 || TOK(d)[i].type != JSMN_PRIMITIVE)
        return -1;
    size_t len = (size_t)(TOK(d)[i].end - TOK(d)[i].start);
    if (len == 0 || len >= sizeof tmp)
        return -1;
    memcpy(tmp, d->s + TOK(d)[i].start, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int vigil_json_field_str(const char *json, size_t len, const char *name, char *out, size_t n)
{
    struct vigil_json d = {0};
    int rc = vigil_json_parse(&d, json, len) == 0
                 ? vigil_json_str(&d, vigil_json_find(&d, name), out, n)
                 : -1;
    vigil_json_fini(&d);
    if (rc < 0 && n > 0)
        out[0] = '\0';
    return rc;
}

int vigil_json_field_int(const char *json, size_t len, const char *name, int64_t *out)
{
    struct vigil_json d = {0};
    int rc = vigil_json_parse(&d, json, len) == 0
                 ? vigil_json_int(&d, vigil_json_find(&d, name), out)
                 : -1;
    vigil_json_fini(&d);
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* jbuf.c - bounded JSON writer (see vigil/jbuf.h). */
#include "jbuf.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void vigil_jbuf_init(struct vigil_jbuf *b, char *buf, size_t cap)
{
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    b->overflow = cap == 0;
    b->need_comma = false;
    if (cap > 0)
        buf[0] = '\0';
}

static void put(struct vigil_jbuf *b, const char *s, size_t n)
{
    if (b->overflow)
        return;
    /* Keep one byte for the terminating NUL so the text is always a C string. */
    if (n >= b->cap - b->len) {
        b->overflow = true;
        return;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void comma(struct vigil_jbuf *b)
{
    if (b->need_comma)
        put(b, ",", 1);
}

void vigil_jbuf_open(struct vigil_jbuf *b, char bracket)
{
    comma(b);
    put(b, &bracket, 1);
    b->need_comma = false;
}

void vigil_jbuf_close(struct vigil_jbuf *b, char bracket)
{
    put(b, &bracket, 1);
    b->need_comma = true;
}

void vigil_jbuf_key(struct vigil_jbuf *b, const char *name)
{
    vigil_jbuf_cstr(b, name);
    put(b, ":", 1);
    /* The value that follows must not get a comma of its own. */
    b->need_comma = false;
}

void vigil_jbuf_str(struct vigil_jbuf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    comma(b);
    put(b, "\"", 1);
    size_t run = 0; /* bytes not yet copied that need no escaping */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        put(b, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        switch (c) {
        case '"': put(b, "\\\"", 2); break;
        case '\\': put(b, "\\\\", 2); break;
        case '\n': put(b, "\\n", 2); break;
        case '\r': put(b, "\\r", 2); break;
        case '\t': put(b, "\\t", 2); break;
        default: put(b, esc, 6); break;
        }
    }
    put(b, s + run, len - run);
    put(b, "\"", 1);
    b->need_comma = true;
}

void vigil_jbuf_cstr(struct vigil_jbuf *b, const char *s)
{
    vigil_jbuf_str(b, s, strlen(s));
}

void vigil_jbuf_int(struct vigil_jbuf *b, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    comma(b);
    put(b, tmp, (size_t)n);
    b->need_comma = true;
}

void vigil_jbuf_num(struct vigil_jbuf *b, double v)
{
    char tmp[32];
    int n;
    if (!isfinite(v))
        n = snprintf(tmp, sizeof tmp, "null");
    else if (v == (double)(int64_t)v && fabs(v) < 9e15)
        n = snprintf(tmp, sizeof tmp, "%" PRId64, (int64_t)v);
    else
        n = snprintf(tmp, sizeof tmp, "%.6g", v);
    comma(b);
    put(b, tmp, (size_t)n);
    b->need_comma = true;
}

void vigil_jbuf_bool(struct vigil_jbuf *b, bool v)
{
    comma(b);
    put(b, v ? "true" : "false", v ? 4 : 5);
    b->need_comma = true;
}

void vigil_jbuf_base64(struct vigil_jbuf *b, const void *data, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    comma(b);
    put(b, "\"", 1);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t left = len - i;
        if (left > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (left > 2)
            v |= p[i + 2];
        char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63], left > 1 ? tab[(v >> 6) & 63] : '=',
                     left > 2 ? tab[v & 63] : '='};
        put(b, q, 4);
    }
    put(b, "\"", 1);
    b->need_comma = true;
}

uint64_t vigil_fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

bool vigil_utf8_valid(const void *s, size_t len)
{
    const unsigned char *p = s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        /* Reject overlong forms, UTF-16 surrogates and code points past U+10FFFF. */
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

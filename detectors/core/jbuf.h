/* SPDX-License-Identifier: Apache-2.0 */
/* jbuf.h - a bounded JSON writer over a caller's buffer, for orders, alerts and dead letters.
 *
 * Never allocates and never writes past cap: when the text does not fit, `overflow` is set
 * and further writes are dropped, so a caller checks once at the end.
 * Threading: one jbuf per thread (plain struct on the stack). */
#ifndef VIGIL_JBUF_H
#define VIGIL_JBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vigil_jbuf {
    char *buf;
    size_t cap; /* bytes of buf, including the NUL kept after the text */
    size_t len;
    bool overflow;
    bool need_comma; /* a value was written in the current object or array */
};

void vigil_jbuf_init(struct vigil_jbuf *b, char *buf, size_t cap);
void vigil_jbuf_open(struct vigil_jbuf *b, char bracket);  /* '{' or '[' */
void vigil_jbuf_close(struct vigil_jbuf *b, char bracket); /* '}' or ']' */
/* `"name":` with the comma that must precede it; the value follows. */
void vigil_jbuf_key(struct vigil_jbuf *b, const char *name);
/* A string value: quoted and escaped; bytes are copied as they are (the caller passes
 * UTF-8). A value inside an array gets its comma too. */
void vigil_jbuf_str(struct vigil_jbuf *b, const char *s, size_t len);
void vigil_jbuf_cstr(struct vigil_jbuf *b, const char *s);
void vigil_jbuf_int(struct vigil_jbuf *b, int64_t v);
void vigil_jbuf_num(struct vigil_jbuf *b, double v); /* NaN and infinities become null */
void vigil_jbuf_bool(struct vigil_jbuf *b, bool v);

/* Standard base64 of len bytes as a JSON string value. */
void vigil_jbuf_base64(struct vigil_jbuf *b, const void *data, size_t len);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool vigil_utf8_valid(const void *s, size_t len);

/* 64-bit FNV-1a, for deterministic ids and hashing; `h` starts at VIGIL_FNV_OFFSET. */
#define VIGIL_FNV_OFFSET 0xcbf29ce484222325ULL
uint64_t vigil_fnv1a(uint64_t h, const void *data, size_t len);

#endif

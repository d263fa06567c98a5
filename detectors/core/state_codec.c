/* SPDX-License-Identifier: Apache-2.0 */
/* state_codec.c - the checkpoint encoding: little-endian integers, sticky write error, one
 * validator path on read (vigil/state_codec.h). */
#include <string.h>

#include "vigil/state_codec.h"
#include "vigil/status.h"

void vigil_state_write_begin(struct vigil_state_writer *w, struct vigil_bytes *out, uint8_t version)
{
    w->out = out;
    w->start = out->len;
    w->err = 0;
    vigil_state_put_u8(w, version);
}

void vigil_state_put_raw(struct vigil_state_writer *w, const void *p, size_t n)
{
    if (w->err == 0)
        w->err = vigil_bytes_put(w->out, p, n);
}

/* The low n bytes of v, least significant first: the same bytes on any host. */
static void put_le(struct vigil_state_writer *w, uint64_t v, size_t n)
{
    unsigned char b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    vigil_state_put_raw(w, b, n);
}

void vigil_state_put_u8(struct vigil_state_writer *w, uint8_t v)
{
    put_le(w, v, 1);
}

void vigil_state_put_u16(struct vigil_state_writer *w, uint16_t v)
{
    put_le(w, v, 2);
}

void vigil_state_put_u32(struct vigil_state_writer *w, uint32_t v)
{
    put_le(w, v, 4);
}

void vigil_state_put_u64(struct vigil_state_writer *w, uint64_t v)
{
    put_le(w, v, 8);
}

void vigil_state_put_i32(struct vigil_state_writer *w, int32_t v)
{
    put_le(w, (uint32_t)v, 4); /* two's complement bits, as int32_t is defined to have */
}

void vigil_state_put_i64(struct vigil_state_writer *w, int64_t v)
{
    put_le(w, (uint64_t)v, 8);
}

void vigil_state_put_bool(struct vigil_state_writer *w, bool v)
{
    put_le(w, v ? 1 : 0, 1);
}

_Static_assert(sizeof(double) == 8, "a double is saved as its 64 bits");

void vigil_state_put_f64(struct vigil_state_writer *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    put_le(w, u, 8);
}

int vigil_state_write_end(struct vigil_state_writer *w)
{
    if (w->err != 0 && w->out->len > w->start)
        w->out->len = w->start; /* no half record: earlier accounts' records stay whole */
    return w->err;
}

void vigil_state_read_begin(struct vigil_bytes_reader *r, const void *data, size_t len,
                            uint8_t version)
{
    *r = (struct vigil_bytes_reader){.p = data, .len = data ? len : 0};
    vigil_state_check(r, vigil_state_get_u8(r) == version);
}

static uint64_t le_at(const unsigned char *b, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static uint64_t get_le(struct vigil_bytes_reader *r, size_t n)
{
    unsigned char b[8];
    if (!vigil_bytes_get(r, b, n))
        return 0;
    return le_at(b, n);
}

uint16_t vigil_state_u16_at(const unsigned char *p)
{
    return (uint16_t)le_at(p, 2);
}

int32_t vigil_state_i32_at(const unsigned char *p)
{
    uint32_t u = (uint32_t)le_at(p, 4);
    int32_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

uint64_t vigil_state_u64_at(const unsigned char *p)
{
    return le_at(p, 8);
}

int64_t vigil_state_i64_at(const unsigned char *p)
{
    uint64_t u = le_at(p, 8);
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

uint8_t vigil_state_get_u8(struct vigil_bytes_reader *r)
{
    return (uint8_t)get_le(r, 1);
}

uint16_t vigil_state_get_u16(struct vigil_bytes_reader *r)
{
    return (uint16_t)get_le(r, 2);
}

uint32_t vigil_state_get_u32(struct vigil_bytes_reader *r)
{
    return (uint32_t)get_le(r, 4);
}

uint64_t vigil_state_get_u64(struct vigil_bytes_reader *r)
{
    return get_le(r, 8);
}

int32_t vigil_state_get_i32(struct vigil_bytes_reader *r)
{
    uint32_t u = (uint32_t)get_le(r, 4);
    int32_t v;
    memcpy(&v, &u, sizeof v); /* the bits back, without an implementation-defined cast */
    return v;
}

int64_t vigil_state_get_i64(struct vigil_bytes_reader *r)
{
    uint64_t u = get_le(r, 8);
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

double vigil_state_get_f64(struct vigil_bytes_reader *r)
{
    uint64_t u = get_le(r, 8);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

bool vigil_state_get_bool(struct vigil_bytes_reader *r)
{
    uint8_t u = vigil_state_get_u8(r);
    vigil_state_check(r, u <= 1);
    return u == 1;
}

uint32_t vigil_state_get_count(struct vigil_bytes_reader *r, uint32_t max)
{
    uint32_t n = vigil_state_get_u32(r);
    vigil_state_check(r, n <= max);
    return n <= max ? n : 0;
}

uint8_t vigil_state_get_count8(struct vigil_bytes_reader *r, uint8_t max)
{
    uint8_t n = vigil_state_get_u8(r);
    vigil_state_check(r, n <= max);
    return n <= max ? n : 0;
}

int64_t vigil_state_get_time(struct vigil_bytes_reader *r)
{
    int64_t t = vigil_state_get_i64(r);
    vigil_state_check(r, vigil_saved_time_ok(t));
    return vigil_saved_time_ok(t) ? t : 0;
}

int64_t vigil_state_get_time_or(struct vigil_bytes_reader *r, int64_t none)
{
    int64_t t = vigil_state_get_i64(r);
    bool ok = t == none || vigil_saved_time_ok(t);
    vigil_state_check(r, ok);
    return ok ? t : none;
}

void vigil_state_get_raw(struct vigil_bytes_reader *r, void *dst, size_t n)
{
    if (!vigil_bytes_get(r, dst, n))
        memset(dst, 0, n);
}

void vigil_state_check(struct vigil_bytes_reader *r, bool ok)
{
    if (!ok)
        r->bad = true;
}

int vigil_state_read_end(const struct vigil_bytes_reader *r)
{
    return !r->bad && r->pos == r->len ? 0 : VIGIL_ERR_INVALID;
}

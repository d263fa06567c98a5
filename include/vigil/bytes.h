/* SPDX-License-Identifier: Apache-2.0 */
/* bytes.h - a growable byte string and a bounds-checked reader over one, for checkpoints:
 * detectors write their per-account state with it and read it back after a restart.
 *
 * Threading: plain values owned by one thread.
 * Ownership: a vigil_bytes owns its storage (vigil_bytes_fini frees it); a reader borrows. */
#ifndef VIGIL_BYTES_H
#define VIGIL_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct vigil_bytes {
    unsigned char *p;
    size_t len, cap;
};

/* Appends n bytes of data. 0, or VIGIL_ERR_NOMEM (b unchanged). */
int vigil_bytes_put(struct vigil_bytes *b, const void *data, size_t n);
/* Frees the storage; b is empty and usable afterwards. */
void vigil_bytes_fini(struct vigil_bytes *b);

/* Reads p[0..len) front to back. Once a read runs past the end, `bad` stays set and every
 * later read fails, so a caller checks once at the end. */
struct vigil_bytes_reader {
    const unsigned char *p;
    size_t len, pos;
    bool bad;
};

/* Copies the next n bytes to dst; false (dst untouched, `bad` set) when fewer are left. */
bool vigil_bytes_get(struct vigil_bytes_reader *r, void *dst, size_t n);

/* Checks on state read back from bytes, so that no loaded value can index past an array,
 * overflow a sum of times or be a bool that is neither 0 nor 1 (undefined behaviour). */
#define VIGIL_SAVED_TS_MAX (1LL << 46) /* year ~4200: sums and products of a time fit int64 */

static inline bool vigil_saved_time_ok(int64_t t)
{
    return t >= 0 && t <= VIGIL_SAVED_TS_MAX;
}

_Static_assert(sizeof(bool) == 1, "vigil_saved_bool_ok reads a bool as one byte");

static inline bool vigil_saved_bool_ok(const bool *b)
{
    unsigned char u;
    memcpy(&u, b, 1);
    return u <= 1;
}

/* The char array s[0..size) holds a NUL. */
static inline bool vigil_saved_str_ok(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

#endif

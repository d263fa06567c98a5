/* SPDX-License-Identifier: Apache-2.0 */
/* text.h - bounded string copies and fixed-width hex for the per-event paths, where a
 * snprintf("%s") or snprintf("%016" PRIx64) costs a format parse per call.
 *
 * Threading: pure functions. */
#ifndef VIGIL_TEXT_H
#define VIGIL_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Digits of vigil_text_hex64: a uint64_t as 16 lowercase hex digits. */
#define VIGIL_HEX64_LEN 16

/* Copies at most n bytes of src, stopping at its NUL, into dst of cap bytes: at most cap - 1
 * of them, then a NUL (what snprintf(dst, cap, "%.*s", n, src) writes). Returns the bytes
 * copied, without the NUL; 0 and nothing written when cap is 0. */
size_t vigil_text_copyn(char *dst, size_t cap, const char *src, size_t n);

/* vigil_text_copyn of all of src: what snprintf(dst, cap, "%s", src) writes. */
static inline size_t vigil_text_copy(char *dst, size_t cap, const char *src)
{
    return vigil_text_copyn(dst, cap, src, SIZE_MAX);
}

/* Writes v as VIGIL_HEX64_LEN lowercase hex digits, zero-padded, then a NUL, to out (what
 * snprintf(out, 17, "%016" PRIx64, v) writes). Returns VIGIL_HEX64_LEN. */
size_t vigil_text_hex64(char out[VIGIL_HEX64_LEN + 1], uint64_t v);

#endif

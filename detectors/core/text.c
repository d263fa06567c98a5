/* SPDX-License-Identifier: Apache-2.0 */
/* text.c - bounded string copies and fixed-width hex (vigil/text.h). */
#include <string.h>

#include "vigil/text.h"

size_t vigil_text_copyn(char *dst, size_t cap, const char *src, size_t n)
{
    if (cap == 0)
        return 0;
    /* Only the bytes that fit are scanned for the NUL. */
    size_t len = strnlen(src, n < cap - 1 ? n : cap - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
    return len;
}

size_t vigil_text_hex64(char out[VIGIL_HEX64_LEN + 1], uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = VIGIL_HEX64_LEN - 1; i >= 0; i--) {
        out[i] = digits[v & 0xf];
        v >>= 4;
    }
    out[VIGIL_HEX64_LEN] = '\0';
    return VIGIL_HEX64_LEN;
}

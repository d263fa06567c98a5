/* SPDX-License-Identifier: Apache-2.0 */
/* bytes.c - the growable byte string and its reader (vigil/bytes.h). */
#include <stdlib.h>
#include <string.h>

#include "vigil/bytes.h"
#include "vigil/status.h"

int vigil_bytes_put(struct vigil_bytes *b, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n) {
            if (cap > (size_t)-1 / 2)
                return VIGIL_ERR_NOMEM;
            cap *= 2;
        }
        unsigned char *p = realloc(b->p, cap);
        if (!p)
            return VIGIL_ERR_NOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

void vigil_bytes_fini(struct vigil_bytes *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

bool vigil_bytes_get(struct vigil_bytes_reader *r, void *dst, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return false;
    }
    memcpy(dst, r->p + r->pos, n);
    r->pos += n;
    return true;
}

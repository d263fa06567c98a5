/* SPDX-License-Identifier: Apache-2.0 */
/* open_calls.c - an account's open calls, paired by call_id hash (vigil/open_calls.h). */
#include <string.h>

#include "vigil/open_calls.h"

size_t vigil_open_find(const void *calls, size_t size, size_t n, uint64_t id)
{
    const unsigned char *p = calls;
    size_t i = 0;
    while (i < n && ((const struct vigil_open_call *)(const void *)(p + i * size))->id != id)
        i++;
    return i;
}

struct vigil_open_call *vigil_open_start(void *calls, size_t size, uint8_t *n, size_t cap,
                                         uint64_t id, int64_t start_ms)
{
    if (*n >= cap || vigil_open_find(calls, size, *n, id) < *n)
        return NULL;
    struct vigil_open_call *c = vigil_open_at(calls, size, (*n)++);
    memset(c, 0, size);
    c->id = id;
    c->start_ms = start_ms;
    return c;
}

void vigil_open_remove_at(void *calls, size_t size, uint8_t *n, size_t i)
{
    --*n;
    if (i != *n)
        memcpy(vigil_open_at(calls, size, i), vigil_open_at(calls, size, *n), size);
}

void vigil_open_expire(void *calls, size_t size, uint8_t *n, int64_t now)
{
    for (size_t i = *n; i-- > 0;) {
        if (vigil_open_at(calls, size, i)->start_ms <= now - VIGIL_OPEN_CALL_MS)
            vigil_open_remove_at(calls, size, n, i);
    }
}

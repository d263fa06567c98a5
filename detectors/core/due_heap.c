/* SPDX-License-Identifier: Apache-2.0 */
/* due_heap.c - a binary min-heap of (time, item) entries (due_heap.h). */
#include "vigil/due_heap.h"

#include <stdlib.h>

#include "vigil/status.h"

int vigil_due_push(struct vigil_due_heap *h, int64_t at, void *item)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        struct vigil_due *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return VIGIL_ERR_NOMEM;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p].at <= at)
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = (struct vigil_due){at, item};
    return 0;
}

struct vigil_due vigil_due_pop(struct vigil_due_heap *h)
{
    struct vigil_due top = h->v[0], last = h->v[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h->v[c + 1].at < h->v[c].at)
            c++;
        if (h->v[c].at >= last.at)
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (n > 0)
        h->v[i] = last;
    return top;
}

void vigil_due_fini(struct vigil_due_heap *h)
{
    free(h->v);
    *h = (struct vigil_due_heap){0};
}

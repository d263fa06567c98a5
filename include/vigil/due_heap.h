/* SPDX-License-Identifier: Apache-2.0 */
/* due_heap.h - a binary min-heap of (time, item) entries: what a detector's tick must visit
 * and when, so that a tick costs what is due rather than every account held.
 *
 * Entries are never removed early: when an item's time changes, the caller pushes a new entry
 * and skips the old one when it is popped (its time is no longer the item's). Entries with
 * equal times come out in no particular order.
 *
 * Threading: one heap belongs to one thread. Ownership: the heap owns its array, not the
 * items. A zeroed struct is an empty heap. */
#ifndef VIGIL_DUE_HEAP_H
#define VIGIL_DUE_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vigil_due {
    int64_t at;
    void *item;
};

struct vigil_due_heap {
    struct vigil_due *v;
    size_t n, cap;
};

/* Adds (at, item). 0, or VIGIL_ERR_NOMEM with the heap unchanged. */
int vigil_due_push(struct vigil_due_heap *h, int64_t at, void *item);

/* Takes the entry with the earliest time off the heap; h->n > 0. */
struct vigil_due vigil_due_pop(struct vigil_due_heap *h);

/* True when the earliest entry's time is at or before `now`. */
static inline bool vigil_due_ready(const struct vigil_due_heap *h, int64_t now)
{
    return h->n > 0 && h->v[0].at <= now;
}

/* Frees the array; the heap is empty and usable afterwards. */
void vigil_due_fini(struct vigil_due_heap *h);

#endif

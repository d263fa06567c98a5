/* SPDX-License-Identifier: Apache-2.0 */
/* dedupe.c - repeats of an event id within a window of event time (see dedupe.h). */
#include "dedupe.h"

#include <stdlib.h>
#include <string.h>

#include "jbuf.h"

/* Open addressing over hashes; 0 marks an empty slot (a real hash of 0 is remapped). */
struct idset {
    uint64_t *slots;
    size_t cap, count;
};

struct vigil_dedupe {
    int64_t window_ms;
    size_t max_ids;
    int64_t gen_start; /* event time where the current generation began */
    struct idset cur, prev;
    bool full;
};

static void idset_clear(struct idset *s)
{
    free(s->slots);
    memset(s, 0, sizeof *s);
}

static bool idset_has(const struct idset *s, uint64_t h)
{
    if (s->cap == 0)
        return false;
    for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i] == h)
            return true;
        if (s->slots[i] == 0)
            return false;
    }
}

static void idset_put_new(struct idset *s, uint64_t h)
{
    size_t i = h & (s->cap - 1);
    while (s->slots[i] != 0)
        i = (i + 1) & (s->cap - 1);
    s->slots[i] = h;
    s->count++;
}

/* Grows at half load (amortised; this is not per event once the set is warm). */
static bool idset_reserve(struct idset *s)
{
    if ((s->count + 1) * 2 <= s->cap)
        return true;
    size_t cap = s->cap ? s->cap * 2 : 1024;
    struct idset n = {calloc(cap, sizeof *n.slots), cap, 0};
    if (!n.slots)
        return false;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i])
            idset_put_new(&n, s->slots[i]);
    free(s->slots);
    *s = n;
    return true;
}

struct vigil_dedupe *vigil_dedupe_create(int64_t window_ms, size_t max_ids)
{
    if (window_ms <= 0 || max_ids == 0)
        return NULL;
    struct vigil_dedupe *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->window_ms = window_ms;
    d->max_ids = max_ids;
    d->gen_start = INT64_MIN;
    return d;
}

void vigil_dedupe_destroy(struct vigil_dedupe *d)
{
    if (!d)
        return;
    idset_clear(&d->cur);
    idset_clear(&d->prev);
    free(d);
}

uint64_t vigil_dedupe_hash(const char *account, const char *id)
{
    uint64_t h = vigil_fnv1a(VIGIL_FNV_OFFSET, account, strlen(account) + 1);
    h = vigil_fnv1a(h, id, strlen(id));
    h ^= h >> 31; /* the low bits pick the slot: mix the high ones in */
    return h ? h : 1;
}

bool vigil_dedupe_seen_hash(struct vigil_dedupe *d, uint64_t h, int64_t now_ms)
{
    if (d->gen_start == INT64_MIN) {
        d->gen_start = now_ms;
    } else if (now_ms - d->gen_start >= d->window_ms) {
        /* Rotate; after a long gap both generations are out of the window. */
        idset_clear(&d->prev);
        if (now_ms - d->gen_start < 2 * d->window_ms)
            d->prev = d->cur;
        else
            idset_clear(&d->cur);
        memset(&d->cur, 0, sizeof d->cur);
        d->gen_start = now_ms;
        d->full = false;
    }
    if (idset_has(&d->cur, h) || idset_has(&d->prev, h))
        return true;
    if (d->cur.count >= d->max_ids || !idset_reserve(&d->cur)) {
        d->full = true;
        return false;
    }
    idset_put_new(&d->cur, h);
    return false;
}

bool vigil_dedupe_seen(struct vigil_dedupe *d, const char *account, const char *id,
                       int64_t ts_ms)
{
    return vigil_dedupe_seen_hash(d, vigil_dedupe_hash(account, id), ts_ms);
}

bool vigil_dedupe_full(const struct vigil_dedupe *d)
{
    return d->full;
}

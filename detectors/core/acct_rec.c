/* SPDX-License-Identifier: Apache-2.0 */
/* acct_rec.c - account id -> record of declared slots: chunked records with stable numbers,
 * a linear-probing index with backward-shift deletion, per-slot dirty lists.
 *
 * Threading: one table per thread (see acct_rec.h).
 * Ownership: the table owns its chunks, index and lists; callers borrow slot pointers. */
#include "vigil/acct_rec.h"

#include <stdlib.h>
#include <string.h>

#include "vigil/acct_table.h"
#include "vigil/status.h"

#define MIN_SLOTS 16
#define ALIGN 8 /* slots hold at most 8-byte aligned types */
#define ROUND_UP(n, a) (((n) + (a)-1) / (a) * (a))
#define NONE UINT32_MAX

struct rec_hdr {
    uint64_t hash;
    uint32_t used;      /* bit s: slot s in use; 0: the record is free */
    uint32_t dirty;     /* bit s: listed on slot s's dirty list */
    uint32_t next_free; /* a free record: the next free one, NONE at the end */
    uint32_t num;       /* the record's own number */
    uint8_t len;
    char key[VIGIL_ACCOUNT_MAX + 1];
};
_Static_assert(sizeof(struct rec_hdr) <= VIGIL_RECS_HDR, "record header outgrew its room");

struct part {
    size_t off; /* from the record's start */
    size_t size;
    vigil_recs_fini_fn fini;
    void *ctx;
    bool points;                 /* the slot begins with a pointer to a part: enter prefetches it */
    struct vigil_idx_list dirty; /* record numbers */
    /* Bit i: record i has this slot in use (a copy of the headers' bits, dense, so that a
     * walk of a slot few accounts use skips 64 records per word without touching them).
     * VIGIL_RECS_CHUNK / 64 words per chunk. */
    uint64_t *in_use;
};

/* An index slot: record number + 1 (0 = empty) and the low 32 bits of the hash. */
struct islot {
    uint32_t rec1;
    uint32_t hash_lo;
};

struct vigil_recs {
    struct islot *index;
    size_t mask;      /* index slots - 1, a power of two */
    size_t max_count; /* records before the index grows: 70% of its slots */
    unsigned char **chunks;
    size_t n_chunks;
    size_t stride;  /* bytes per record */
    size_t top;     /* record numbers ever handed out: [0, top) */
    size_t count;   /* records in use */
    uint32_t free1; /* first free record below top, NONE: none */
    struct part parts[VIGIL_RECS_SLOTS];
    int n_parts;
    /* The event entered (NULL: none) and its account's record (NULL: it has none yet). */
    const struct vigil_event *cur_ev;
    struct rec_hdr *cur;
};

static struct rec_hdr *rec_at(const struct vigil_recs *r, size_t i)
{
    return (struct rec_hdr *)(void *)(r->chunks[i / VIGIL_RECS_CHUNK] +
                                      (i % VIGIL_RECS_CHUNK) * r->stride);
}

static uint32_t rec_num(const struct vigil_recs *r, const struct rec_hdr *h)
{
    (void)r;
    return h->num;
}

static size_t load_limit(size_t nslots)
{
    return nslots / 10 * 7 + nslots % 10 * 7 / 10;
}

static int resize_index(struct vigil_recs *r, size_t nslots)
{
    struct islot *idx = calloc(nslots, sizeof *idx);
    if (!idx)
        return VIGIL_ERR_NOMEM;
    size_t mask = nslots - 1;
    for (size_t i = 0; i < r->top; i++) {
        const struct rec_hdr *h = rec_at(r, i);
        /* Every record not free (free ones are zeroed), including the entered one whose
         * last slot went: it stays, listed, until vigil_recs_leave. */
        if (h->len == 0)
            continue;
        size_t p = (size_t)h->hash & mask;
        while (idx[p].rec1 != 0)
            p = (p + 1) & mask;
        idx[p].rec1 = (uint32_t)(i + 1);
        idx[p].hash_lo = (uint32_t)h->hash;
    }
    free(r->index);
    r->index = idx;
    r->mask = mask;
    r->max_count = load_limit(nslots);
    return 0;
}

struct vigil_recs *vigil_recs_create(size_t expected)
{
    struct vigil_recs *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->stride = VIGIL_RECS_HDR;
    r->free1 = NONE;
    size_t nslots = MIN_SLOTS;
    while (load_limit(nslots) < expected && nslots < ((size_t)1 << 31))
        nslots *= 2;
    if (resize_index(r, nslots) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

static void fini_slots(struct vigil_recs *r, struct rec_hdr *h)
{
    for (int s = 0; s < r->n_parts; s++) {
        if ((h->used >> s & 1u) && r->parts[s].fini)
            r->parts[s].fini(r->parts[s].ctx, (unsigned char *)h + r->parts[s].off);
    }
}

void vigil_recs_destroy(struct vigil_recs *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->top; i++)
        fini_slots(r, rec_at(r, i));
    for (size_t c = 0; c < r->n_chunks; c++)
        free(r->chunks[c]);
    for (int s = 0; s < r->n_parts; s++) {
        vigil_idx_list_fini(&r->parts[s].dirty);
        free(r->parts[s].in_use);
    }
    free(r->chunks);
    free(r->index);
    free(r);
}

int vigil_recs_declare_part(struct vigil_recs *r, vigil_recs_fini_fn fini, void *ctx)
{
    int s = vigil_recs_declare(r, sizeof(void *), fini, ctx);
    if (s >= 0)
        r->parts[s].points = true;
    return s;
}

int vigil_recs_declare(struct vigil_recs *r, size_t size, vigil_recs_fini_fn fini, void *ctx)
{
    if (r->top != 0 || r->n_parts == VIGIL_RECS_SLOTS || size == 0)
        return VIGIL_ERR_INVALID;
    int s = r->n_parts++;
    r->parts[s] = (struct part){.off = r->stride, .size = size, .fini = fini, .ctx = ctx};
    r->stride += ROUND_UP(size, ALIGN);
    return s;
}

size_t vigil_recs_slots(const struct vigil_recs *r)
{
    return (size_t)r->n_parts;
}

size_t vigil_recs_count(const struct vigil_recs *r)
{
    return r->count;
}

size_t vigil_recs_bytes(const struct vigil_recs *r)
{
    size_t b = sizeof *r + (r->mask + 1) * sizeof *r->index +
               r->n_chunks * (sizeof *r->chunks + VIGIL_RECS_CHUNK * r->stride);
    for (int s = 0; s < r->n_parts; s++)
        b += r->parts[s].dirty.cap * sizeof(uint32_t) +
             r->n_chunks * (VIGIL_RECS_CHUNK / 64) * sizeof(uint64_t);
    return b;
}

static int key_len(const char *account, size_t *len)
{
    size_t n = account ? strnlen(account, VIGIL_ACCOUNT_MAX + 1) : 0;
    if (n == 0 || n > VIGIL_ACCOUNT_MAX)
        return VIGIL_ERR_INVALID;
    *len = n;
    return 0;
}

/* The index slot holding the account, or the empty one where it would go. */
static size_t probe(const struct vigil_recs *r, const char *account, size_t len, uint64_t h)
{
    size_t p = (size_t)h & r->mask;
    for (;;) {
        const struct islot *s = &r->index[p];
        if (s->rec1 == 0)
            return p;
        if (s->hash_lo == (uint32_t)h) {
            const struct rec_hdr *e = rec_at(r, s->rec1 - 1);
            if (e->hash == h && e->len == len && memcmp(e->key, account, len) == 0)
                return p;
        }
        p = (p + 1) & r->mask;
    }
}

/* A zeroed record from the free list or a new chunk; NONE when out of memory. */
static uint32_t alloc_rec(struct vigil_recs *r)
{
    if (r->free1 != NONE) {
        uint32_t i = r->free1;
        r->free1 = rec_at(r, i)->next_free;
        return i;
    }
    if (r->top == r->n_chunks * VIGIL_RECS_CHUNK) {
        if (r->top + VIGIL_RECS_CHUNK > NONE)
            return NONE;
        unsigned char **chunks = realloc(r->chunks, (r->n_chunks + 1) * sizeof *chunks);
        if (!chunks)
            return NONE;
        r->chunks = chunks;
        size_t words = (r->n_chunks + 1) * (VIGIL_RECS_CHUNK / 64);
        for (int s = 0; s < r->n_parts; s++) {
            uint64_t *b = realloc(r->parts[s].in_use, words * sizeof *b);
            if (!b)
                return NONE; /* the bitmaps grown so far stay: only their tails are unused */
            memset(b + words - VIGIL_RECS_CHUNK / 64, 0, VIGIL_RECS_CHUNK / 64 * sizeof *b);
            r->parts[s].in_use = b;
        }
        /* calloc: a chunk's records start zeroed, and untouched pages cost nothing. */
        unsigned char *c = calloc(VIGIL_RECS_CHUNK, r->stride);
        if (!c)
            return NONE;
        r->chunks[r->n_chunks++] = c;
    }
    return (uint32_t)r->top++;
}

/* The record of `account`, created when absent and `create`; NULL when absent (and not
 * created), out of memory, or no valid key. */
static struct rec_hdr *lookup(struct vigil_recs *r, const char *account, bool create)
{
    size_t len;
    if (key_len(account, &len) != 0)
        return NULL;
    uint64_t h = vigil_acct_table_hash(account, len);
    size_t p = probe(r, account, len, h);
    if (r->index[p].rec1)
        return rec_at(r, r->index[p].rec1 - 1);
    if (!create)
        return NULL;
    if (r->count == r->max_count) {
        if (r->mask + 1 >= ((size_t)1 << 31) || resize_index(r, (r->mask + 1) * 2) != 0)
            return NULL;
        p = probe(r, account, len, h);
    }
    uint32_t i = alloc_rec(r);
    if (i == NONE)
        return NULL;
    struct rec_hdr *e = rec_at(r, i);
    e->num = i;
    e->hash = h;
    e->len = (uint8_t)len;
    memcpy(e->key, account, len);
    e->key[len] = '\0';
    e->next_free = NONE;
    r->index[p].rec1 = i + 1;
    r->index[p].hash_lo = (uint32_t)h;
    r->count++;
    return e;
}

/* Unlinks record h from the index and puts it on the free list, zeroed. */
static void free_rec(struct vigil_recs *r, struct rec_hdr *h)
{
    uint32_t i = rec_num(r, h);
    size_t hole = (size_t)h->hash & r->mask;
    while (r->index[hole].rec1 != i + 1)
        hole = (hole + 1) & r->mask;
    /* Backward-shift deletion (as acct_table.c): no tombstones. */
    size_t k = hole;
    r->index[hole].rec1 = 0;
    for (;;) {
        k = (k + 1) & r->mask;
        if (r->index[k].rec1 == 0)
            break;
        size_t home = r->index[k].hash_lo & r->mask;
        if (((k - home) & r->mask) >= ((k - hole) & r->mask)) {
            r->index[hole] = r->index[k];
            r->index[k].rec1 = 0;
            hole = k;
        }
    }
    if (r->cur == h)
        r->cur = NULL;
    memset(h, 0, r->stride);
    h->num = i;
    h->next_free = r->free1;
    r->free1 = i;
    r->count--;
}

int vigil_recs_enter(struct vigil_recs *r, const struct vigil_event *ev)
{
    r->cur_ev = NULL;
    r->cur = NULL;
    if (!vigil_acct_key_ok(ev->account))
        return VIGIL_ERR_INVALID;
    /* Not created here: an account no detector takes (most events concern few of them)
     * costs no insert and removal; the first slot taken creates it. */
    r->cur_ev = ev;
    r->cur = lookup(r, ev->account, false);
    if (r->cur) {
        /* The parts the detectors will read, fetched from memory together rather than one
         * after the other as each detector reaches its own. */
        for (int s = 0; s < r->n_parts; s++) {
            if (r->parts[s].points && (r->cur->used >> s & 1u)) {
                void *p;
                memcpy(&p, (unsigned char *)r->cur + r->parts[s].off, sizeof p);
                __builtin_prefetch(p);
            }
        }
    }
    return 0;
}

void vigil_recs_leave(struct vigil_recs *r)
{
    if (r->cur && r->cur->used == 0)
        free_rec(r, r->cur);
    r->cur_ev = NULL;
    r->cur = NULL;
}

static void *take(struct rec_hdr *h, const struct part *pt, int slot, bool *fresh)
{
    bool was = h->used >> slot & 1u;
    if (!was) {
        h->used |= 1u << slot;
        pt->in_use[h->num / 64] |= 1ULL << (h->num % 64);
    }
    if (fresh)
        *fresh = !was;
    return (unsigned char *)h + pt->off;
}

void *vigil_recs_slot(struct vigil_recs *r, int slot, const struct vigil_event *ev, bool *fresh)
{
    struct rec_hdr *h;
    if (ev == r->cur_ev) {
        /* Entered: the record, or created now and current for the detectors after this. */
        if (!r->cur)
            r->cur = lookup(r, ev->account, true);
        h = r->cur;
    } else {
        h = lookup(r, ev->account, true);
    }
    return h ? take(h, &r->parts[slot], slot, fresh) : NULL;
}

void *vigil_recs_slot_of(struct vigil_recs *r, int slot, const char *account, bool *fresh)
{
    struct rec_hdr *h = lookup(r, account, true);
    return h ? take(h, &r->parts[slot], slot, fresh) : NULL;
}

void *vigil_recs_peek(const struct vigil_recs *r, int slot, const struct vigil_event *ev)
{
    if (ev == r->cur_ev) { /* entered: no record is no slot */
        if (!r->cur || !(r->cur->used >> slot & 1u))
            return NULL;
        return (unsigned char *)r->cur + r->parts[slot].off;
    }
    return vigil_recs_find(r, slot, ev->account);
}

void *vigil_recs_find(const struct vigil_recs *r, int slot, const char *account)
{
    /* lookup() changes nothing without `create`. */
    struct rec_hdr *h = lookup((struct vigil_recs *)r, account, false);
    if (!h || !(h->used >> slot & 1u))
        return NULL;
    return (unsigned char *)h + r->parts[slot].off;
}

static struct rec_hdr *hdr_of(const struct vigil_recs *r, int slot, const void *s)
{
    return (struct rec_hdr *)(void *)((unsigned char *)(uintptr_t)s - r->parts[slot].off);
}

const char *vigil_recs_account(const struct vigil_recs *r, int slot, const void *s)
{
    return hdr_of(r, slot, s)->key;
}

size_t vigil_recs_number(const struct vigil_recs *r, int slot, const void *s)
{
    return rec_num(r, hdr_of(r, slot, s));
}

void *vigil_recs_sibling(struct vigil_recs *r, int slot, const void *s, int other, bool *fresh)
{
    return take(hdr_of(r, slot, s), &r->parts[other], other, fresh);
}

void *vigil_recs_sibling_find(const struct vigil_recs *r, int slot, const void *s, int other)
{
    struct rec_hdr *h = hdr_of(r, slot, s);
    return h->used >> other & 1u ? (unsigned char *)h + r->parts[other].off : NULL;
}

void vigil_recs_release(struct vigil_recs *r, int slot, void *s)
{
    struct rec_hdr *h = hdr_of(r, slot, s);
    memset(s, 0, r->parts[slot].size);
    h->used &= ~(1u << slot);
    r->parts[slot].in_use[h->num / 64] &= ~(1ULL << (h->num % 64));
    if (h->dirty >> slot & 1u) {
        /* Unlisted now, so a later record of the same number is listed only once. */
        struct vigil_idx_list *l = &r->parts[slot].dirty;
        uint32_t i = rec_num(r, h);
        size_t n = 0;
        for (size_t k = 0; k < l->n; k++) {
            if (l->v[k] != i)
                l->v[n++] = l->v[k];
        }
        l->n = n;
        h->dirty &= ~(1u << slot);
    }
    /* The entered record stays until leave: the detectors after this one may take it. */
    if (h->used == 0 && h != r->cur)
        free_rec(r, h);
}

void vigil_recs_forget(struct vigil_recs *r, int slot, const char *account)
{
    void *s = vigil_recs_find(r, slot, account);
    if (!s)
        return;
    if (r->parts[slot].fini)
        r->parts[slot].fini(r->parts[slot].ctx, s);
    vigil_recs_release(r, slot, s);
}

void *vigil_recs_next(const struct vigil_recs *r, int slot, size_t *it)
{
    const struct part *pt = &r->parts[slot];
    size_t i = *it;
    size_t words = (r->top + 63) / 64;
    while (i / 64 < words) {
        uint64_t w = pt->in_use[i / 64] & (~0ULL << (i % 64));
        if (w != 0) {
            i = i / 64 * 64 + (size_t)__builtin_ctzll(w);
            *it = i + 1;
            return (unsigned char *)rec_at(r, i) + pt->off;
        }
        i = (i / 64 + 1) * 64;
    }
    *it = r->top;
    return NULL;
}

int vigil_recs_mark(struct vigil_recs *r, int slot, void *s)
{
    struct rec_hdr *h = hdr_of(r, slot, s);
    if (h->dirty >> slot & 1u)
        return 0;
    int rc = vigil_idx_list_push(&r->parts[slot].dirty, rec_num(r, h));
    if (rc == 0)
        h->dirty |= 1u << slot;
    return rc;
}

bool vigil_recs_marked(const struct vigil_recs *r, int slot, const void *s)
{
    return hdr_of(r, slot, s)->dirty >> slot & 1u;
}

size_t vigil_recs_dirty_count(const struct vigil_recs *r, int slot)
{
    return r->parts[slot].dirty.n;
}

void *vigil_recs_dirty_at(const struct vigil_recs *r, int slot, size_t i)
{
    const struct vigil_idx_list *l = &r->parts[slot].dirty;
    if (i >= l->n)
        return NULL;
    struct rec_hdr *h = rec_at(r, l->v[i]);
    if (!(h->dirty >> slot & 1u))
        return NULL;
    return (unsigned char *)h + r->parts[slot].off;
}

void vigil_recs_dirty_consume(struct vigil_recs *r, int slot, size_t done)
{
    struct vigil_idx_list *l = &r->parts[slot].dirty;
    if (done > l->n)
        done = l->n;
    for (size_t i = 0; i < done; i++)
        rec_at(r, l->v[i])->dirty &= ~(1u << slot);
    vigil_idx_list_consume(l, done);
}

/* --- the pool of parts --------------------------------------------------------------------- */

#define POOL_CHUNK_BYTES 65536

struct vigil_pool {
    size_t size;      /* bytes per block, a multiple of 8 */
    size_t per_chunk; /* blocks per chunk */
    unsigned char **chunks;
    size_t n_chunks;
    size_t used_in_last; /* blocks handed out of the last chunk */
    void *free1;         /* a freed block; its first 8 bytes point to the next */
};

struct vigil_pool *vigil_pool_create(size_t size)
{
    if (size == 0)
        return NULL;
    struct vigil_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->size = ROUND_UP(size < sizeof(void *) ? sizeof(void *) : size, ALIGN);
    p->per_chunk = POOL_CHUNK_BYTES / p->size ? POOL_CHUNK_BYTES / p->size : 1;
    return p;
}

void vigil_pool_destroy(struct vigil_pool *p)
{
    if (!p)
        return;
    for (size_t c = 0; c < p->n_chunks; c++)
        free(p->chunks[c]);
    free(p->chunks);
    free(p);
}

void *vigil_pool_alloc(struct vigil_pool *p)
{
    void *b;
    if (p->free1) {
        b = p->free1;
        memcpy(&p->free1, b, sizeof p->free1);
    } else {
        if (p->n_chunks == 0 || p->used_in_last == p->per_chunk) {
            unsigned char **chunks = realloc(p->chunks, (p->n_chunks + 1) * sizeof *chunks);
            if (!chunks)
                return NULL;
            p->chunks = chunks;
            unsigned char *c = malloc(p->per_chunk * p->size);
            if (!c)
                return NULL;
            p->chunks[p->n_chunks++] = c;
            p->used_in_last = 0;
        }
        b = p->chunks[p->n_chunks - 1] + p->used_in_last++ * p->size;
    }
    memset(b, 0, p->size);
    return b;
}

void vigil_pool_free(struct vigil_pool *p, void *b)
{
    if (!b)
        return;
    memcpy(b, &p->free1, sizeof p->free1);
    p->free1 = b;
}

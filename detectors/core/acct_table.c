/* SPDX-License-Identifier: Apache-2.0 */
/* acct_table.c - account id -> fixed-size value: dense entries + linear-probing index.
 *
 * Threading: one table per thread (see acct_table.h).
 * Ownership: the table owns its two arrays; callers borrow value and key pointers. */
#include "vigil/acct_table.h"

#include <stdlib.h>
#include <string.h>

#include "jbuf.h"
#include "vigil/status.h"

#define MIN_SLOTS 16
#define ALIGN 16 /* values start on a max_align_t-friendly boundary */

/* An entry is this header followed by the value at offset HDR_SIZE. */
struct entry_hdr {
    uint64_t hash;
    uint8_t len;
    char key[VIGIL_ACCT_KEY_MAX + 1];
};

#define ROUND_UP(n, a) (((n) + (a)-1) / (a) * (a))
#define HDR_SIZE ROUND_UP(sizeof(struct entry_hdr), ALIGN)

/* An index slot: entry number + 1 (0 = empty) and the low 32 bits of the hash, which both
 * reject most non-matching slots without touching the entry and give the home slot for
 * backward-shift deletion (the index never exceeds 2^32 slots). */
struct slot {
    uint32_t entry1;
    uint32_t hash_lo;
};

struct vigil_acct_table {
    struct slot *slots;
    size_t mask; /* slots - 1; slots is a power of two */
    unsigned char *entries;
    size_t stride; /* bytes per entry */
    size_t value_size;
    size_t count;
    size_t max_count; /* entries allocated = 70% of slots */
};

uint64_t vigil_acct_table_hash(const void *data, size_t len)
{
    uint64_t h = vigil_fnv1a(VIGIL_FNV_OFFSET, data, len);
    /* splitmix64 finaliser: every input bit reaches the low bits that pick the slot. */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

static struct entry_hdr *entry(const struct vigil_acct_table *t, size_t i)
{
    return (struct entry_hdr *)(void *)(t->entries + i * t->stride);
}

static size_t load_limit(size_t nslots)
{
    return nslots / 10 * 7 + nslots % 10 * 7 / 10;
}

static int key_len(const char *account, size_t *len)
{
    if (!account)
        return -1;
    size_t n = strnlen(account, VIGIL_ACCT_KEY_MAX + 1);
    if (n == 0 || n > VIGIL_ACCT_KEY_MAX)
        return -1;
    *len = n;
    return 0;
}

bool vigil_acct_key_ok(const char *account)
{
    size_t n;
    return key_len(account, &n) == 0;
}

/* Rebuilds the index for nslots slots and resizes the entries to match. The table is left
 * unchanged on failure. */
static int resize(struct vigil_acct_table *t, size_t nslots)
{
    size_t max_count = load_limit(nslots);
    struct slot *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    /* max_count * stride never overflows before calloc above would have failed: each entry
     * is at most a few hundred bytes over an 8-byte slot. */
    unsigned char *entries = realloc(t->entries, max_count * t->stride);
    if (!entries) {
        free(slots);
        return -1;
    }
    size_t mask = nslots - 1;
    for (size_t i = 0; i < t->count; i++) {
        const struct entry_hdr *e = (const void *)(entries + i * t->stride);
        size_t p = (size_t)e->hash & mask;
        while (slots[p].entry1 != 0)
            p = (p + 1) & mask;
        slots[p].entry1 = (uint32_t)(i + 1);
        slots[p].hash_lo = (uint32_t)e->hash;
    }
    free(t->slots);
    t->slots = slots;
    t->mask = mask;
    t->entries = entries;
    t->max_count = max_count;
    return 0;
}

struct vigil_acct_table *vigil_acct_table_create(size_t value_size, size_t expected)
{
    struct vigil_acct_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->value_size = value_size;
    t->stride = HDR_SIZE + ROUND_UP(value_size, ALIGN);
    size_t nslots = MIN_SLOTS;
    while (load_limit(nslots) < expected && nslots < ((size_t)1 << 31))
        nslots *= 2;
    if (resize(t, nslots) != 0)
        goto fail;
    return t;

fail:
    free(t);
    return NULL;
}

void vigil_acct_table_destroy(struct vigil_acct_table *t)
{
    if (!t)
        return;
    free(t->entries);
    free(t->slots);
    free(t);
}

size_t vigil_acct_table_count(const struct vigil_acct_table *t)
{
    return t->count;
}

/* The slot holding `account`, or the empty slot where it would go. */
static size_t probe(const struct vigil_acct_table *t, const char *account, size_t len, uint64_t h)
{
    size_t p = (size_t)h & t->mask;
    for (;;) {
        const struct slot *s = &t->slots[p];
        if (s->entry1 == 0)
            return p;
        if (s->hash_lo == (uint32_t)h) {
            const struct entry_hdr *e = entry(t, s->entry1 - 1);
            if (e->hash == h && e->len == len && memcmp(e->key, account, len) == 0)
                return p;
        }
        p = (p + 1) & t->mask;
    }
}

static void *value_of(const struct vigil_acct_table *t, size_t i)
{
    return (unsigned char *)entry(t, i) + HDR_SIZE;
}

void *vigil_acct_table_find(const struct vigil_acct_table *t, const char *account)
{
    size_t len;
    if (key_len(account, &len) != 0)
        return NULL;
    size_t p = probe(t, account, len, vigil_acct_table_hash(account, len));
    return t->slots[p].entry1 ? value_of(t, t->slots[p].entry1 - 1) : NULL;
}

void *vigil_acct_table_get(struct vigil_acct_table *t, const char *account, bool *created)
{
    size_t len;
    if (created)
        *created = false;
    if (key_len(account, &len) != 0)
        return NULL;
    uint64_t h = vigil_acct_table_hash(account, len);
    size_t p = probe(t, account, len, h);
    if (t->slots[p].entry1)
        return value_of(t, t->slots[p].entry1 - 1);

    if (t->count == t->max_count) {
        if (t->mask + 1 >= ((size_t)1 << 31) || resize(t, (t->mask + 1) * 2) != 0)
            return NULL;
        p = probe(t, account, len, h);
    }
    size_t i = t->count++;
    struct entry_hdr *e = entry(t, i);
    memset(e, 0, t->stride);
    e->hash = h;
    e->len = (uint8_t)len;
    memcpy(e->key, account, len);
    t->slots[p].entry1 = (uint32_t)(i + 1);
    t->slots[p].hash_lo = (uint32_t)h;
    if (created)
        *created = true;
    return value_of(t, i);
}

void *vigil_acct_table_at(const struct vigil_acct_table *t, size_t i, const char **account)
{
    if (i >= t->count)
        return NULL;
    if (account)
        *account = entry(t, i)->key;
    return value_of(t, i);
}

size_t vigil_acct_table_index(const struct vigil_acct_table *t, const void *value)
{
    return (size_t)((const unsigned char *)value - HDR_SIZE - t->entries) / t->stride;
}

/* The index slot that points at entry i. */
static size_t slot_of(const struct vigil_acct_table *t, size_t i)
{
    size_t p = (size_t)entry(t, i)->hash & t->mask;
    while (t->slots[p].entry1 != i + 1)
        p = (p + 1) & t->mask;
    return p;
}

void vigil_acct_table_remove_at(struct vigil_acct_table *t, size_t i)
{
    if (i >= t->count)
        return;

    /* Backward-shift deletion (Knuth's algorithm R): walk the cluster after the hole and
     * pull back every slot whose home is not cyclically inside (hole, slot], so each
     * remaining key stays reachable from its home without tombstones. */
    size_t hole = slot_of(t, i);
    size_t k = hole;
    t->slots[hole].entry1 = 0;
    for (;;) {
        k = (k + 1) & t->mask;
        if (t->slots[k].entry1 == 0)
            break;
        size_t home = t->slots[k].hash_lo & t->mask;
        if (((k - home) & t->mask) >= ((k - hole) & t->mask)) {
            t->slots[hole] = t->slots[k];
            t->slots[k].entry1 = 0;
            hole = k;
        }
    }

    /* Keep the entries dense: the last one moves into the hole. */
    size_t last = t->count - 1;
    if (i != last) {
        t->slots[slot_of(t, last)].entry1 = (uint32_t)(i + 1);
        memcpy(entry(t, i), entry(t, last), t->stride);
    }
    t->count--;
}

bool vigil_acct_table_remove(struct vigil_acct_table *t, const char *account)
{
    size_t len;
    if (key_len(account, &len) != 0)
        return false;
    size_t p = probe(t, account, len, vigil_acct_table_hash(account, len));
    if (t->slots[p].entry1 == 0)
        return false;
    vigil_acct_table_remove_at(t, t->slots[p].entry1 - 1);
    return true;
}

int vigil_idx_list_push(struct vigil_idx_list *l, uint32_t idx)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        uint32_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return VIGIL_ERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = idx;
    return 0;
}

void vigil_idx_list_consume(struct vigil_idx_list *l, size_t done)
{
    /* An empty list may have no storage yet: memmove on NULL is undefined even for 0. */
    if (done == 0)
        return;
    memmove(l->v, l->v + done, (l->n - done) * sizeof *l->v);
    l->n -= done;
}

void vigil_idx_list_renumber(struct vigil_idx_list *l, uint32_t hole, uint32_t last)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i] != hole)
            l->v[n++] = l->v[i] == last ? hole : l->v[i];
    }
    l->n = n;
}

void vigil_idx_list_fini(struct vigil_idx_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

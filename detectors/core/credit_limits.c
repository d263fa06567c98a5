/* SPDX-License-Identifier: Apache-2.0 */
/* credit_limits.c - the lock-free table of credit limits (see vigil/credit.h).
 *
 * Threading: one writer (set, clear), any number of readers (get, version, count); every
 * memory ordering is commented where it is used.
 * Ownership: the table owns its slot array. */
#include "vigil/credit.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/acct_table.h"
#include "vigil/status.h"

#define CREDIT_PROBES 64 /* slots an account may live in, from its home slot on */

struct slot {
    _Atomic uint64_t seq;   /* odd while the writer changes limit/start */
    _Atomic uint64_t key;   /* account hash; 0 = never used; never changes once set */
    _Atomic int64_t limit;  /* EUR cents; 0 = no limit */
    _Atomic int64_t start;  /* period start, Unix ms */
};

struct vigil_credit {
    struct slot *slots;
    size_t mask;
    size_t max, used; /* used: slots claimed (writer only) */
    _Atomic uint64_t version;
};

uint64_t vigil_credit_hash(const char *account)
{
    uint64_t h = vigil_acct_table_hash(account, strlen(account));
    return h ? h : 1;
}

struct vigil_credit *vigil_credit_create(size_t max_accounts)
{
    if (max_accounts == 0)
        max_accounts = VIGIL_CREDIT_DEFAULT_MAX;
    size_t cap = 64;
    while (cap < 2 * max_accounts)
        cap *= 2;
    struct vigil_credit *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->slots = calloc(cap, sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return NULL;
    }
    t->mask = cap - 1;
    t->max = max_accounts;
    atomic_init(&t->version, 0);
    return t;
}

void vigil_credit_destroy(struct vigil_credit *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t);
}

/* The slot holding hash, or NULL. Readers and the writer alike. */
static struct slot *find(const struct vigil_credit *t, uint64_t hash)
{
    for (size_t i = 0; i < CREDIT_PROBES && i <= t->mask; i++) {
        struct slot *s = &t->slots[(hash + i) & t->mask];
        /* Acquire pairs with the writer's release store of a claimed key: the slot's
         * counter and fields written before it are visible. */
        uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
        if (k == hash)
            return s;
        if (k == 0)
            return NULL; /* slots are claimed in probe order and never freed */
    }
    return NULL;
}

/* Writer only: the seqlock write of one slot. */
static void slot_write(struct vigil_credit *t, struct slot *s, int64_t limit, int64_t start)
{
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
    /* Release fence: a reader that sees any of the field stores below also sees the odd
     * counter (its acquire fence after reading the fields pairs with this). */
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&s->limit, limit, memory_order_relaxed);
    atomic_store_explicit(&s->start, start, memory_order_relaxed);
    /* Release: the fields are written before the counter is even again. */
    atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
    /* Release: a reader that sees the new version (acquire) sees this slot's new values. */
    atomic_fetch_add_explicit(&t->version, 1, memory_order_release);
}

int vigil_credit_set(struct vigil_credit *t, uint64_t hash, int64_t limit_cents,
                     int64_t period_start_ms)
{
    if (limit_cents <= 0 || hash == 0)
        return VIGIL_ERR_INVALID;
    struct slot *s = find(t, hash);
    if (s) {
        /* Relaxed: only this thread writes them. */
        if (atomic_load_explicit(&s->limit, memory_order_relaxed) != limit_cents ||
            atomic_load_explicit(&s->start, memory_order_relaxed) != period_start_ms)
            slot_write(t, s, limit_cents, period_start_ms);
        return 0;
    }
    if (t->used >= t->max)
        return VIGIL_ERR_FULL;
    for (size_t i = 0; i < CREDIT_PROBES && i <= t->mask; i++) {
        s = &t->slots[(hash + i) & t->mask];
        if (atomic_load_explicit(&s->key, memory_order_relaxed) != 0)
            continue;
        atomic_store_explicit(&s->limit, limit_cents, memory_order_relaxed);
        atomic_store_explicit(&s->start, period_start_ms, memory_order_relaxed);
        /* Release: a reader that finds the key (acquire in find) sees the fields and the
         * even counter. */
        atomic_store_explicit(&s->key, hash, memory_order_release);
        t->used++;
        /* Release: as in slot_write. */
        atomic_fetch_add_explicit(&t->version, 1, memory_order_release);
        return 0;
    }
    return VIGIL_ERR_FULL;
}

void vigil_credit_clear(struct vigil_credit *t, uint64_t hash)
{
    struct slot *s = find(t, hash);
    if (s && atomic_load_explicit(&s->limit, memory_order_relaxed) != 0)
        slot_write(t, s, 0, 0);
}

bool vigil_credit_get(const struct vigil_credit *t, uint64_t hash, int64_t *limit_cents,
                      int64_t *period_start_ms)
{
    if (!t)
        return false;
    struct slot *s = find(t, hash);
    if (!s)
        return false;
    int64_t limit, start;
    for (;;) {
        /* Acquire: the fields read below are not older than this counter's value. */
        uint64_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
        limit = atomic_load_explicit(&s->limit, memory_order_relaxed);
        start = atomic_load_explicit(&s->start, memory_order_relaxed);
        /* Acquire fence: the counter re-read below is not earlier than the fields; if the
         * writer touched them meanwhile, the counter differs (pairs with its release fence). */
        atomic_thread_fence(memory_order_acquire);
        uint64_t s2 = atomic_load_explicit(&s->seq, memory_order_relaxed);
        if (s1 == s2 && (s1 & 1) == 0)
            break;
    }
    if (limit <= 0)
        return false;
    *limit_cents = limit;
    *period_start_ms = start;
    return true;
}

uint64_t vigil_credit_version(const struct vigil_credit *t)
{
    /* Acquire pairs with the writer's release increments: slots read after seeing a version
     * hold at least the values counted in it. */
    return t ? atomic_load_explicit(&t->version, memory_order_acquire) : 0;
}

size_t vigil_credit_count(const struct vigil_credit *t)
{
    size_t n = 0;
    for (size_t i = 0; t && i <= t->mask; i++) {
        int64_t l, st;
        uint64_t k = atomic_load_explicit(&t->slots[i].key, memory_order_acquire);
        if (k != 0 && vigil_credit_get(t, k, &l, &st))
            n++;
    }
    return n;
}

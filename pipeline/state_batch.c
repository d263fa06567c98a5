/* SPDX-License-Identifier: Apache-2.0 */
/* state_batch.c - checkpointed states coalesced per transaction (see state_batch.h).
 *
 * Entries sit in an open-addressing table (linear probing) keyed by partition and account;
 * a flush groups them by partition through a list per partition, builds one argv per
 * command from the entries' own bytes (no copy, no printf) and frees them. */
#include "state_batch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_keys.h"
#include "offsets.h"
#include "redis_sink.h"
#include "vigil/status.h"

struct st_entry {
    int32_t partition;
    uint32_t hash;
    size_t len, cap; /* state bytes; len 0: delete */
    char *data;
    struct st_entry *next; /* in its partition's list, during a flush */
    size_t acc_len;
    char account[];
};

struct vigil_state_batch {
    struct st_entry **slots;
    size_t cap, n;
    struct st_entry **heads; /* [VIGIL_MAX_PARTITIONS], during a flush */
    const char **argv;
    size_t *lens;
    size_t argv_cap;
};

static uint32_t hash_of(int32_t partition, const char *s, size_t n)
{
    uint32_t h = 2166136261u ^ (uint32_t)partition;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

struct vigil_state_batch *vigil_state_batch_create(void)
{
    struct vigil_state_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cap = 1024;
    b->slots = calloc(b->cap, sizeof *b->slots);
    b->heads = calloc(VIGIL_MAX_PARTITIONS, sizeof *b->heads);
    if (!b->slots || !b->heads) {
        vigil_state_batch_destroy(b);
        return NULL;
    }
    return b;
}

static void clear(struct vigil_state_batch *b)
{
    for (size_t i = 0; i < b->cap; i++) {
        if (b->slots[i]) {
            free(b->slots[i]->data);
            free(b->slots[i]);
            b->slots[i] = NULL;
        }
    }
    b->n = 0;
}

void vigil_state_batch_destroy(struct vigil_state_batch *b)
{
    if (!b)
        return;
    if (b->slots)
        clear(b);
    free(b->slots);
    free(b->heads);
    free(b->argv);
    free(b->lens);
    free(b);
}

static int grow(struct vigil_state_batch *b)
{
    size_t cap = 2 * b->cap;
    struct st_entry **ns = calloc(cap, sizeof *ns);
    if (!ns)
        return VIGIL_ERR_NOMEM;
    for (size_t i = 0; i < b->cap; i++) {
        struct st_entry *e = b->slots[i];
        if (!e)
            continue;
        size_t j = e->hash & (cap - 1);
        while (ns[j])
            j = (j + 1) & (cap - 1);
        ns[j] = e;
    }
    free(b->slots);
    b->slots = ns;
    b->cap = cap;
    return 0;
}

int vigil_state_batch_put(struct vigil_state_batch *b, int32_t partition, const char *account,
                          const void *data, size_t len)
{
    if (partition < 0 || partition >= VIGIL_MAX_PARTITIONS)
        return VIGIL_ERR_INVALID;
    if (2 * (b->n + 1) > b->cap && grow(b) != 0)
        return VIGIL_ERR_NOMEM;
    size_t al = strlen(account);
    uint32_t h = hash_of(partition, account, al);
    size_t j = h & (b->cap - 1);
    struct st_entry *e = NULL;
    for (; b->slots[j]; j = (j + 1) & (b->cap - 1)) {
        struct st_entry *x = b->slots[j];
        if (x->hash == h && x->partition == partition && x->acc_len == al &&
            memcmp(x->account, account, al) == 0) {
            e = x;
            break;
        }
    }
    if (!e) {
        e = calloc(1, sizeof *e + al + 1);
        if (!e)
            return VIGIL_ERR_NOMEM;
        e->partition = partition;
        e->hash = h;
        e->acc_len = al;
        memcpy(e->account, account, al + 1);
        b->slots[j] = e;
        b->n++;
    }
    if (len > e->cap) {
        char *nd = realloc(e->data, len);
        if (!nd)
            return VIGIL_ERR_NOMEM;
        e->data = nd;
        e->cap = len;
    }
    if (len > 0)
        memcpy(e->data, data, len);
    e->len = len;
    return 0;
}

size_t vigil_state_batch_count(const struct vigil_state_batch *b)
{
    return b->n;
}

static int reserve(struct vigil_state_batch *b, size_t need)
{
    if (need <= b->argv_cap)
        return 0;
    size_t cap = b->argv_cap ? b->argv_cap : 256;
    while (cap < need)
        cap *= 2;
    const char **na = realloc(b->argv, cap * sizeof *na);
    if (!na)
        return VIGIL_ERR_NOMEM;
    b->argv = na;
    size_t *nl = realloc(b->lens, cap * sizeof *nl);
    if (!nl)
        return VIGIL_ERR_NOMEM;
    b->lens = nl;
    b->argv_cap = cap;
    return 0;
}

/* One HSET (deletes false) or HDEL (true) of partition p's list. */
static int queue_partition(struct vigil_state_batch *b, struct vigil_redis *r, const char *key,
                           struct st_entry *list, bool deletes)
{
    size_t need = 2;
    for (struct st_entry *e = list; e; e = e->next)
        need += (e->len == 0) == deletes ? (deletes ? 1 : 2) : 0;
    if (need == 2)
        return 0;
    int rc = reserve(b, need);
    if (rc != 0)
        return rc;
    size_t argc = 0;
    b->argv[argc] = deletes ? "HDEL" : "HSET";
    b->lens[argc++] = 4;
    b->argv[argc] = key;
    b->lens[argc++] = strlen(key);
    for (struct st_entry *e = list; e; e = e->next) {
        if ((e->len == 0) != deletes)
            continue;
        b->argv[argc] = e->account;
        b->lens[argc++] = e->acc_len;
        if (!deletes) {
            b->argv[argc] = e->data;
            b->lens[argc++] = e->len;
        }
    }
    return vigil_redis_add_argv(r, (int)argc, b->argv, b->lens);
}

int vigil_state_batch_flush(struct vigil_state_batch *b, struct vigil_redis *r,
                            const struct vigil_ckpt_keys *keys)
{
    if (b->n == 0)
        return 0;
    for (size_t i = 0; i < b->cap; i++) {
        struct st_entry *e = b->slots[i];
        if (e) {
            e->next = b->heads[e->partition];
            b->heads[e->partition] = e;
        }
    }
    int rc = 0;
    for (int32_t p = 0; p < VIGIL_MAX_PARTITIONS; p++) {
        if (!b->heads[p])
            continue;
        char key[sizeof keys->state + 16];
        int prc = vigil_ckpt_state_key(keys, p, key, sizeof key) != 0 ? VIGIL_ERR_INVALID : 0;
        prc = prc ? prc : queue_partition(b, r, key, b->heads[p], false);
        prc = prc ? prc : queue_partition(b, r, key, b->heads[p], true);
        rc = rc ? rc : prc;
        b->heads[p] = NULL;
    }
    clear(b);
    if (b->cap > 4096) { /* smaller again after a burst */
        struct st_entry **ns = calloc(1024, sizeof *ns);
        if (ns) {
            free(b->slots);
            b->slots = ns;
            b->cap = 1024;
        }
    }
    return rc;
}

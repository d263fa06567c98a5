/* SPDX-License-Identifier: Apache-2.0 */
/* counter_batch.c - accounts' counters coalesced until the next publish (see counter_batch.h).
 *
 * The accounts put since the last flush sit in an open-addressing table (linear probing) of
 * pointers, so the dirty list can point at them while the table grows; a flush empties it.
 * Field names ("<detector>:<counter>") are interned once: an account keeps (name id, value)
 * pairs. When each key's TTL was last renewed is kept apart, in a fixed-size cache of
 * 16-byte entries (4-way sets by the account's 64-bit hash): memory does not grow with the
 * accounts seen, and an account pushed out of the cache only costs one EXPIRE too many. */
#include "counter_batch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "redis_sink.h"
#include "vigil/emit.h"
#include "vigil/status.h"

#define NAME_MAX_LEN (2 * VIGIL_OUT_NAME_MAX + 16)
#define KEY_MAX_LEN 512
#define RENEW_PARTS 10 /* renew a key's TTL once this fraction of it has passed */
#define RENEW_WAYS 4
#define NAME_CACHE_DETECTORS 16
#define PACK_NAMES_MAX 1024 /* field names a packed buffer may carry (there are ~60) */ /* detectors whose field ids are remembered (there are ~6) */

struct cnt_field {
    uint32_t id;
    int64_t value;
};

struct cnt_acct {
    uint32_t hash;
    uint64_t hash64; /* the renewal cache's key */
    int64_t ttl_s;   /* the longest TTL put since the last flush */
    uint32_t n, cap;
    uint32_t hint; /* where set_field looks first: after the field it set last */
    /* Per entry of the batch's det_names: 1 + where that detector's first field is (0:
     * unknown), so a put starts its look-ups there. */
    uint16_t det_at[NAME_CACHE_DETECTORS];
    bool listed; /* on the dirty list (a pack takes it off before the table is emptied) */
    struct cnt_field *f;
    struct cnt_acct *next_dirty;
    size_t len;
    char account[]; /* len bytes and a NUL */
};

struct cnt_name {
    char *s;
    size_t len;
};

/* A key's last TTL renewal: the account's 64-bit hash, the CLOCK_MONOTONIC second from which
 * the next write must renew it, and the TTL it was given. h 0: empty. */
struct cnt_renew {
    uint64_t h;
    uint32_t due_s;
    uint32_t ttl_s;
};

/* The field ids of one detector's last put, by position: a detector sends the same counters
 * in the same order every time, so a put compares names instead of building "detector:name"
 * and looking it up. */
struct cnt_det_names {
    char detector[VIGIL_OUT_NAME_MAX];
    uint32_t n; /* entries known */
    struct {
        char name[VIGIL_OUT_NAME_MAX];
        uint32_t id;
    } e[VIGIL_OUT_COUNTERS_MAX + 1];
};

struct vigil_cnt_batch {
    char prefix[128];
    size_t prefix_len;
    int64_t ttl_s;
    struct cnt_acct **slots; /* the accounts put since the last flush */
    size_t cap, live;
    struct cnt_acct *dirty;
    size_t n_dirty;
    struct cnt_renew *renew; /* [n_sets * RENEW_WAYS] */
    size_t n_sets;
    /* Interned field names: an open table of ids into names[]. */
    struct cnt_name *names;
    size_t n_names, names_cap;
    uint32_t *name_slots; /* id + 1; 0: empty */
    size_t name_slots_cap;
    struct cnt_det_names det_names[NAME_CACHE_DETECTORS];
    size_t n_det_names;
    /* Scratch for one HSET. */
    const char **argv;
    size_t *lens;
    char *vals;
    size_t argv_cap;
};

static uint32_t fnv1a(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static uint64_t hash64(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ? h : 1; /* 0 marks an empty cache entry */
}

struct vigil_cnt_batch *vigil_cnt_batch_create(const char *prefix, int64_t ttl_s,
                                               size_t renew_entries)
{
    struct vigil_cnt_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    size_t pl = strlen(prefix);
    if (pl >= sizeof b->prefix - 8) {
        free(b);
        return NULL;
    }
    memcpy(b->prefix, prefix, pl);
    memcpy(b->prefix + pl, "cnt:", 5);
    b->prefix_len = pl + 4;
    b->ttl_s = ttl_s;
    b->cap = 1024;
    b->slots = calloc(b->cap, sizeof *b->slots);
    b->name_slots_cap = 256;
    b->name_slots = calloc(b->name_slots_cap, sizeof *b->name_slots);
    b->n_sets = 1;
    while (b->n_sets * RENEW_WAYS < renew_entries)
        b->n_sets *= 2;
    b->renew = calloc(b->n_sets * RENEW_WAYS, sizeof *b->renew);
    if (!b->slots || !b->name_slots || !b->renew) {
        vigil_cnt_batch_destroy(b);
        return NULL;
    }
    return b;
}

void vigil_cnt_batch_destroy(struct vigil_cnt_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; b->slots && i < b->cap; i++) {
        if (b->slots[i]) {
            free(b->slots[i]->f);
            free(b->slots[i]);
        }
    }
    free(b->renew);
    for (size_t i = 0; i < b->n_names; i++)
        free(b->names[i].s);
    free(b->names);
    free(b->name_slots);
    free(b->slots);
    free(b->argv);
    free(b->lens);
    free(b->vals);
    free(b);
}

/* The id of "<detector>:<name>", interned on first use; -1 on no memory. */
static int64_t name_id(struct vigil_cnt_batch *b, const char *s, size_t len)
{
    if (2 * (b->n_names + 1) > b->name_slots_cap) {
        size_t nc = 2 * b->name_slots_cap;
        uint32_t *ns = calloc(nc, sizeof *ns);
        if (!ns)
            return -1;
        for (size_t i = 0; i < b->n_names; i++) {
            size_t j = fnv1a(b->names[i].s, b->names[i].len) & (nc - 1);
            while (ns[j])
                j = (j + 1) & (nc - 1);
            ns[j] = (uint32_t)i + 1;
        }
        free(b->name_slots);
        b->name_slots = ns;
        b->name_slots_cap = nc;
    }
    size_t j = fnv1a(s, len) & (b->name_slots_cap - 1);
    for (; b->name_slots[j]; j = (j + 1) & (b->name_slots_cap - 1)) {
        const struct cnt_name *nm = &b->names[b->name_slots[j] - 1];
        if (nm->len == len && memcmp(nm->s, s, len) == 0)
            return b->name_slots[j] - 1;
    }
    if (b->n_names == b->names_cap) {
        size_t nc = b->names_cap ? 2 * b->names_cap : 64;
        struct cnt_name *nn = realloc(b->names, nc * sizeof *nn);
        if (!nn)
            return -1;
        b->names = nn;
        b->names_cap = nc;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, s, len);
    copy[len] = '\0';
    b->names[b->n_names] = (struct cnt_name){copy, len};
    b->name_slots[j] = (uint32_t)b->n_names + 1;
    return (int64_t)b->n_names++;
}

static int rehash(struct vigil_cnt_batch *b, size_t cap)
{
    struct cnt_acct **ns = calloc(cap, sizeof *ns);
    if (!ns)
        return VIGIL_ERR_NOMEM;
    for (size_t i = 0; i < b->cap; i++) {
        struct cnt_acct *a = b->slots[i];
        if (!a)
            continue;
        size_t j = a->hash & (cap - 1);
        while (ns[j])
            j = (j + 1) & (cap - 1);
        ns[j] = a;
    }
    free(b->slots);
    b->slots = ns;
    b->cap = cap;
    return 0;
}

static struct cnt_acct *find_or_add(struct vigil_cnt_batch *b, const char *account, size_t len)
{
    uint32_t h = fnv1a(account, len);
    if (2 * (b->live + 1) > b->cap && rehash(b, 2 * b->cap) != 0)
        return NULL;
    size_t j = h & (b->cap - 1);
    for (; b->slots[j]; j = (j + 1) & (b->cap - 1)) {
        struct cnt_acct *a = b->slots[j];
        if (a->hash == h && a->len == len && memcmp(a->account, account, len) == 0) {
            if (!a->listed) { /* packed already in this interval: it changed again */
                a->listed = true;
                a->next_dirty = b->dirty;
                b->dirty = a;
                b->n_dirty++;
            }
            return a;
        }
    }
    struct cnt_acct *a = calloc(1, sizeof *a + len + 1);
    if (!a)
        return NULL;
    a->hash = h;
    a->hash64 = hash64(account, len);
    a->len = len;
    memcpy(a->account, account, len);
    a->account[len] = '\0';
    a->listed = true;
    a->next_dirty = b->dirty;
    b->dirty = a;
    b->n_dirty++;
    b->slots[j] = a;
    b->live++;
    return a;
}

/* Where the field now is (>= 0), or VIGIL_ERR_NOMEM. */
static int64_t set_field(struct cnt_acct *a, uint32_t id, int64_t value)
{
    /* An account's fields arrive in the same order put after put: the one after the last
     * set is nearly always the next. */
    if (a->hint < a->n && a->f[a->hint].id == id) {
        a->f[a->hint].value = value;
        return a->hint++;
    }
    for (uint32_t i = 0; i < a->n; i++) {
        if (a->f[i].id == id) {
            a->f[i].value = value;
            a->hint = i + 1;
            return i;
        }
    }
    if (a->n == a->cap) {
        uint32_t nc = a->cap ? 2 * a->cap : 16;
        struct cnt_field *nf = realloc(a->f, nc * sizeof *nf);
        if (!nf)
            return VIGIL_ERR_NOMEM;
        a->f = nf;
        a->cap = nc;
    }
    a->f[a->n++] = (struct cnt_field){id, value};
    a->hint = a->n;
    return a->n - 1;
}

/* The id of field "detector:cn", the i-th of the detector's put, through det_names. */
static int64_t field_id(struct vigil_cnt_batch *b, struct cnt_det_names *dn, uint32_t i, char *name,
                        size_t dl, const char *cn)
{
    size_t cl = strlen(cn);
    if (dn && i < dn->n && strcmp(dn->e[i].name, cn) == 0)
        return dn->e[i].id;
    if (dl + 1 + cl >= NAME_MAX_LEN)
        return VIGIL_ERR_INVALID;
    memcpy(name + dl + 1, cn, cl);
    int64_t id = name_id(b, name, dl + 1 + cl);
    if (id >= 0 && dn && i <= dn->n && i < VIGIL_OUT_COUNTERS_MAX + 1 &&
        cl < sizeof dn->e[i].name) {
        memcpy(dn->e[i].name, cn, cl + 1);
        dn->e[i].id = (uint32_t)id;
        if (i == dn->n)
            dn->n++;
    }
    return id < 0 ? VIGIL_ERR_NOMEM : id;
}

static struct cnt_det_names *det_names(struct vigil_cnt_batch *b, const char *detector, size_t dl)
{
    for (size_t i = 0; i < b->n_det_names; i++) {
        if (strcmp(b->det_names[i].detector, detector) == 0)
            return &b->det_names[i];
    }
    if (b->n_det_names == NAME_CACHE_DETECTORS || dl >= VIGIL_OUT_NAME_MAX)
        return NULL; /* looked up the long way */
    struct cnt_det_names *dn = &b->det_names[b->n_det_names++];
    memcpy(dn->detector, detector, dl + 1);
    dn->n = 0;
    return dn;
}

/* The put of vigil_cnt_batch_put and vigil_cnt_batch_put_values: names[i], values[i]. */
static int put_fields(struct vigil_cnt_batch *b, const char *account, const char *detector,
                      const char *const *names, const int64_t *values, uint32_t n,
                      int64_t ttl_s, int64_t wall_ms)
{
    char name[NAME_MAX_LEN];
    size_t dl = strlen(detector);
    if (dl + 1 + sizeof "updated_ms" > sizeof name)
        return VIGIL_ERR_INVALID;
    struct cnt_acct *a = find_or_add(b, account, strlen(account));
    if (!a)
        return VIGIL_ERR_NOMEM;
    memcpy(name, detector, dl);
    name[dl] = ':';
    struct cnt_det_names *dn = det_names(b, detector, dl);
    size_t di = dn ? (size_t)(dn - b->det_names) : 0;
    if (dn && a->det_at[di])
        a->hint = a->det_at[di] - 1u;
    for (uint32_t i = 0; i <= n; i++) {
        const char *cn = i < n ? names[i] : "updated_ms";
        int64_t id = field_id(b, dn, i, name, dl, cn);
        if (id < 0)
            return (int)id;
        int64_t at = set_field(a, (uint32_t)id, i < n ? values[i] : wall_ms);
        if (at < 0)
            return VIGIL_ERR_NOMEM;
        if (i == 0 && dn)
            a->det_at[di] = at < UINT16_MAX ? (uint16_t)(at + 1) : 0;
    }
    int64_t ttl = ttl_s > 0 ? ttl_s : b->ttl_s;
    if (ttl > a->ttl_s)
        a->ttl_s = ttl;
    return 0;
}

int vigil_cnt_batch_put(struct vigil_cnt_batch *b, const char *account, const char *detector,
                        const struct vigil_out_counter *c, uint32_t n, int64_t ttl_s,
                        int64_t wall_ms)
{
    const char *names[VIGIL_OUT_COUNTERS_MAX];
    int64_t values[VIGIL_OUT_COUNTERS_MAX];
    if (n > VIGIL_OUT_COUNTERS_MAX)
        n = VIGIL_OUT_COUNTERS_MAX;
    for (uint32_t i = 0; i < n; i++) {
        names[i] = c[i].name;
        values[i] = c[i].value;
    }
    return put_fields(b, account, detector, names, values, n, ttl_s, wall_ms);
}

int vigil_cnt_batch_put_values(struct vigil_cnt_batch *b, const char *account,
                               const char *detector, const struct vigil_counter *c, size_t n,
                               int64_t ttl_s, int64_t wall_ms)
{
    const char *names[VIGIL_OUT_COUNTERS_MAX];
    int64_t values[VIGIL_OUT_COUNTERS_MAX];
    if (n > VIGIL_OUT_COUNTERS_MAX)
        n = VIGIL_OUT_COUNTERS_MAX;
    for (size_t i = 0; i < n; i++) {
        if (strlen(c[i].name) >= VIGIL_OUT_NAME_MAX)
            return VIGIL_ERR_INVALID; /* as vigil_cnt_batch_put's names are bounded */
        names[i] = c[i].name;
        values[i] = c[i].value;
    }
    return put_fields(b, account, detector, names, values, (uint32_t)n, ttl_s, wall_ms);
}

size_t vigil_cnt_batch_dirty(const struct vigil_cnt_batch *b)
{
    return b->n_dirty;
}

/* Whether the key of a needs its TTL (again) now, and if so notes that it gets it. */
static bool renew_due(struct vigil_cnt_batch *b, const struct cnt_acct *a, int64_t mono_ms)
{
    struct cnt_renew *set = &b->renew[(a->hash64 & (b->n_sets - 1)) * RENEW_WAYS];
    uint32_t now_s = (uint32_t)(mono_ms / 1000);
    struct cnt_renew *e = NULL;
    for (int i = 0; i < RENEW_WAYS && !e; i++) {
        if (set[i].h == a->hash64)
            e = &set[i];
    }
    if (e && (int32_t)(e->due_s - now_s) > 0 && e->ttl_s >= a->ttl_s)
        return false;
    if (!e) { /* an empty way, else the one due soonest */
        e = &set[0];
        for (int i = 1; i < RENEW_WAYS && e->h; i++) {
            if (!set[i].h || (int32_t)(set[i].due_s - e->due_s) < 0)
                e = &set[i];
        }
    }
    e->h = a->hash64;
    e->ttl_s = (uint32_t)a->ttl_s;
    e->due_s = now_s + (uint32_t)(a->ttl_s / RENEW_PARTS);
    return true;
}

static int reserve_argv(struct vigil_cnt_batch *b, size_t need)
{
    if (need <= b->argv_cap)
        return 0;
    size_t nc = b->argv_cap ? b->argv_cap : 64;
    while (nc < need)
        nc *= 2;
    const char **na = realloc(b->argv, nc * sizeof *na);
    if (!na)
        return VIGIL_ERR_NOMEM;
    b->argv = na;
    size_t *nl = realloc(b->lens, nc * sizeof *nl);
    if (!nl)
        return VIGIL_ERR_NOMEM;
    b->lens = nl;
    char *nv = realloc(b->vals, nc * 24);
    if (!nv)
        return VIGIL_ERR_NOMEM;
    b->vals = nv;
    b->argv_cap = nc;
    return 0;
}

static int queue_account(struct vigil_cnt_batch *b, struct cnt_acct *a, struct vigil_redis *r,
                         int64_t mono_ms)
{
    char key[KEY_MAX_LEN];
    if (b->prefix_len + a->len >= sizeof key)
        return VIGIL_ERR_INVALID;
    memcpy(key, b->prefix, b->prefix_len);
    memcpy(key + b->prefix_len, a->account, a->len);
    size_t key_len = b->prefix_len + a->len;
    int rc = reserve_argv(b, 2 + 2 * (size_t)a->n);
    if (rc != 0)
        return rc;
    size_t argc = 0;
    b->argv[argc] = "HSET";
    b->lens[argc++] = 4;
    b->argv[argc] = key;
    b->lens[argc++] = key_len;
    for (uint32_t i = 0; i < a->n; i++) {
        const struct cnt_name *nm = &b->names[a->f[i].id];
        char *v = b->vals + 24 * (size_t)i;
        b->argv[argc] = nm->s;
        b->lens[argc++] = nm->len;
        b->argv[argc] = v;
        b->lens[argc++] = vigil_redis_fmt_int(v, a->f[i].value);
    }
    rc = vigil_redis_add_argv(r, (int)argc, b->argv, b->lens);
    if (rc != 0 || !renew_due(b, a, mono_ms))
        return rc;
    char ttl[24];
    const char *eargv[3] = {"EXPIRE", key, ttl};
    size_t elens[3] = {6, key_len, vigil_redis_fmt_int(ttl, a->ttl_s)};
    return vigil_redis_add_argv(r, 3, eargv, elens);
}

/* Every account has left through the dirty list: empties the table (smaller again after a
 * burst). */
static void clear_table(struct vigil_cnt_batch *b)
{
    for (size_t i = 0; i < b->cap; i++) {
        if (b->slots[i]) {
            free(b->slots[i]->f);
            free(b->slots[i]);
            b->slots[i] = NULL;
        }
    }
    b->live = 0;
    if (b->cap > 4096) {
        struct cnt_acct **ns = calloc(1024, sizeof *ns);
        if (ns) {
            free(b->slots);
            b->slots = ns;
            b->cap = 1024;
        }
    }
}

int vigil_cnt_batch_flush(struct vigil_cnt_batch *b, struct vigil_redis *r, int64_t mono_ms)
{
    int rc = 0;
    while (b->dirty) {
        struct cnt_acct *a = b->dirty;
        /* A failure (an account too long for a key, no memory) drops that account's
         * counters of this interval, reported; its next change publishes them again. */
        int qrc = queue_account(b, a, r, mono_ms);
        if (qrc != 0)
            rc = qrc;
        b->dirty = a->next_dirty;
        a->listed = false;
        b->n_dirty--;
    }
    clear_table(b);
    return rc;
}

/* Bytes of a's packed record. */
static size_t record_len(const struct cnt_acct *a)
{
    return 2 + a->len + 8 + 2 + (size_t)a->n * 10;
}

/* Bytes of the name table every packed buffer opens with. */
static size_t names_len(const struct vigil_cnt_batch *b)
{
    size_t n = 2;
    for (size_t i = 0; i < b->n_names; i++)
        n += 1 + b->names[i].len;
    return n;
}

size_t vigil_cnt_batch_pack(struct vigil_cnt_batch *b, char *buf, size_t cap, size_t *dropped)
{
    if (!b->dirty)
        return 0;
    /* The batch's field names, once per buffer: a record names its fields by index. */
    size_t used = names_len(b);
    if (used > cap || b->n_names > PACK_NAMES_MAX) {
        if (dropped)
            *dropped += b->n_dirty;
        while (b->dirty) {
            b->dirty->listed = false;
            b->dirty = b->dirty->next_dirty;
        }
        b->n_dirty = 0;
        clear_table(b);
        return 0;
    }
    uint16_t u16 = (uint16_t)b->n_names;
    memcpy(buf, &u16, 2);
    char *o = buf + 2;
    for (size_t i = 0; i < b->n_names; i++) {
        *o++ = (char)(unsigned char)b->names[i].len; /* names are below NAME_MAX_LEN */
        memcpy(o, b->names[i].s, b->names[i].len);
        o += b->names[i].len;
    }
    size_t head = used;
    while (b->dirty) {
        struct cnt_acct *a = b->dirty;
        size_t need = record_len(a);
        if (need > cap - used && used > head)
            break; /* the next buffer */
        if (need <= cap - used && a->len <= UINT16_MAX && a->n <= UINT16_MAX) {
            o = buf + used;
            u16 = (uint16_t)a->len;
            memcpy(o, &u16, 2);
            memcpy(o + 2, a->account, a->len);
            o += 2 + a->len;
            memcpy(o, &a->ttl_s, 8);
            u16 = (uint16_t)a->n;
            memcpy(o + 8, &u16, 2);
            o += 10;
            for (uint32_t i = 0; i < a->n; i++) {
                u16 = (uint16_t)a->f[i].id;
                memcpy(o, &u16, 2);
                memcpy(o + 2, &a->f[i].value, 8);
                o += 10;
            }
            used += need;
        } else if (dropped) {
            (*dropped)++; /* alone larger than a buffer: cannot travel */
        }
        b->dirty = a->next_dirty;
        a->listed = false;
        b->n_dirty--;
    }
    if (!b->dirty)
        clear_table(b);
    return used > head ? used : 0;
}

int vigil_cnt_batch_put_packed(struct vigil_cnt_batch *b, const char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf, *end = p + len;
    uint32_t ids[PACK_NAMES_MAX];
    uint16_t n_names;
    if (len < 2)
        return VIGIL_ERR_INVALID;
    memcpy(&n_names, p, 2);
    p += 2;
    if (n_names > PACK_NAMES_MAX)
        return VIGIL_ERR_INVALID;
    /* The sender's names, mapped once per buffer to this batch's ids. */
    for (uint16_t i = 0; i < n_names; i++) {
        if (p >= end || (size_t)(end - p) < 1u + p[0])
            return VIGIL_ERR_INVALID;
        int64_t id = name_id(b, (const char *)p + 1, p[0]);
        if (id < 0)
            return VIGIL_ERR_NOMEM;
        ids[i] = (uint32_t)id;
        p += 1 + p[0];
    }
    int records = 0;
    while (p < end) {
        uint16_t al, nf;
        int64_t ttl;
        if (end - p < 2)
            return VIGIL_ERR_INVALID;
        memcpy(&al, p, 2);
        if ((size_t)(end - p) < 2u + al + 10u)
            return VIGIL_ERR_INVALID;
        const unsigned char *acct = p + 2;
        memcpy(&ttl, acct + al, 8);
        memcpy(&nf, acct + al + 8, 2);
        p = acct + al + 10;
        if ((size_t)(end - p) < (size_t)nf * 10u)
            return VIGIL_ERR_INVALID;
        struct cnt_acct *a = find_or_add(b, (const char *)acct, al);
        if (!a)
            return VIGIL_ERR_NOMEM;
        if (ttl > a->ttl_s)
            a->ttl_s = ttl;
        for (uint16_t i = 0; i < nf; i++, p += 10) {
            uint16_t k;
            int64_t v;
            memcpy(&k, p, 2);
            memcpy(&v, p + 2, 8);
            if (k >= n_names)
                return VIGIL_ERR_INVALID;
            if (set_field(a, ids[k], v) < 0)
                return VIGIL_ERR_NOMEM;
        }
        records++;
    }
    return records;
}

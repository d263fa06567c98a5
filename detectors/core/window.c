/* SPDX-License-Identifier: Apache-2.0 */
/* window.c - exact sliding windows of event time with bounded memory (window.h).
 *
 * Threading: the ring functions are pure, on caller-owned memory; a grown-ring store belongs
 * to one worker thread (the detector state that created it): no locks, no atomics.
 * Ownership: vigil_win_more_create() allocates a store and every array in it;
 * vigil_win_more_destroy() frees them. */
#include "vigil/window.h"

#include <stdlib.h>
#include <string.h>

#include "vigil/bytes.h"

void vigil_win_add(int64_t *times, uint16_t cap, uint16_t *n, int64_t t)
{
    if (cap == 0)
        return;
    uint16_t k = *n;
    if (k == cap) {
        if (t < times[0])
            return; /* older than every time kept: not among the latest cap */
        memmove(times, times + 1, (size_t)(k - 1) * sizeof *times);
        k--;
    }
    /* Disorder is small: walk back from the newest end. */
    uint16_t i = k;
    while (i > 0 && times[i - 1] > t) {
        times[i] = times[i - 1];
        i--;
    }
    times[i] = t;
    *n = (uint16_t)(k + 1);
}

uint16_t vigil_win_count(const int64_t *times, uint16_t n, int64_t from, int64_t to)
{
    uint16_t c = 0;
    for (uint16_t i = n; i-- > 0;) {
        if (times[i] < from)
            break; /* sorted: the rest are older still */
        if (times[i] <= to)
            c++;
    }
    return c;
}

bool vigil_win_saturated(const int64_t *times, uint16_t cap, uint16_t n, int64_t from, int64_t to)
{
    return cap > 0 && n == cap && vigil_win_count(times, n, from, to) == cap;
}

uint16_t vigil_win_expire(int64_t *times, uint16_t *n, int64_t before)
{
    uint16_t k = 0;
    while (k < *n && times[k] < before)
        k++;
    if (k > 0) {
        memmove(times, times + k, (size_t)(*n - k) * sizeof *times);
        *n = (uint16_t)(*n - k);
    }
    return *n;
}

bool vigil_win_ok(const int64_t *times, uint16_t cap, uint16_t n)
{
    if (n > cap)
        return false;
    for (uint16_t i = 0; i < n; i++) {
        if (!vigil_saved_time_ok(times[i]) || (i > 0 && times[i] < times[i - 1]))
            return false;
    }
    return true;
}

void vigil_win_tag_note(int64_t *entries, uint16_t cap, uint16_t *n, unsigned tag, int64_t t)
{
    const int64_t mask = (1 << VIGIL_WIN_TAG_BITS) - 1;
    int64_t v = t * (mask + 1) + (int64_t)tag;
    uint16_t oldest = 0;
    for (uint16_t i = 0; i < *n; i++) {
        if ((entries[i] & mask) == (int64_t)tag) {
            if (v > entries[i])
                entries[i] = v;
            return;
        }
        if (entries[i] < entries[oldest])
            oldest = i;
    }
    if (*n < cap)
        entries[(*n)++] = v;
    else if (cap > 0 && v >= entries[oldest])
        entries[oldest] = v;
}

uint16_t vigil_win_tag_count(const int64_t *entries, uint16_t n, int64_t from, int64_t to)
{
    uint16_t c = 0;
    for (uint16_t i = 0; i < n; i++) {
        int64_t t = entries[i] >> VIGIL_WIN_TAG_BITS;
        c += t >= from && t <= to;
    }
    return c;
}

bool vigil_win_tag_ok(const int64_t *entries, uint16_t cap, uint16_t n, unsigned max_tag)
{
    if (n > cap)
        return false;
    for (uint16_t i = 0; i < n; i++) {
        if (entries[i] < 0 || !vigil_saved_time_ok(entries[i] >> VIGIL_WIN_TAG_BITS) ||
            (entries[i] & ((1 << VIGIL_WIN_TAG_BITS) - 1)) > (int64_t)max_tag)
            return false;
    }
    return true;
}

uint64_t vigil_win_span_part(uint64_t amount, int64_t start, int64_t end, int64_t from, int64_t to)
{
    if (end < start)
        end = start;
    if (end < from || start > to)
        return 0;
    if (end == start)
        return amount;
    int64_t lo = start > from ? start : from;
    int64_t hi = end < to ? end : to;
    if (hi <= lo)
        return 0;
    /* 128-bit product: amount x milliseconds can pass 2^64 for long, costly calls. */
    return (uint64_t)((unsigned __int128)amount * (uint64_t)(hi - lo) / (uint64_t)(end - start));
}

/* Grown rings: one open-addressing table (linear probing, key 0 = empty slot) of entries,
 * each with a growable array: times (sorted), tagged times (unsorted) or spans (pairs,
 * unsorted). */
struct win_grown {
    uint64_t key;    /* 0: free slot */
    int64_t *t;      /* times, oldest first; tags: time x 1024 + tag; spans: pairs (end,
                        dur << 32 | amount) */
    int64_t since;   /* every time >= since (up to the latest `level`) is in t */
    int64_t reach;   /* window_ms + the disorder allowance */
    uint32_t n, cap; /* used, allocated */
    uint32_t level;  /* latest times kept at most */
    uint16_t ring;   /* the ring's cap: freed when the times in reach fit it */
    uint8_t width;   /* int64 per entry: 1 times and tags, 2 spans */
    uint8_t kind;    /* WIN_TIMES, WIN_SPANS, WIN_TAGS */
};

enum { WIN_TIMES = 0, WIN_SPANS = 1, WIN_TAGS = 2 };

struct vigil_win_more {
    struct win_grown *slot;
    size_t mask; /* slots - 1, a power of two minus one */
    size_t used;
    size_t bytes;  /* allocated time arrays */
    int64_t swept; /* watermark of the last sweep */
    int64_t lost;  /* spans ending before this could not be kept (no memory): windows
                      starting before it are not known whole, for any key */
};

/* Sweeps run at most once per this much watermark: freeing a little later costs nothing. */
#define WIN_SWEEP_EVERY_MS 1000

#define WIN_MORE_SLOTS 16

struct vigil_win_more *vigil_win_more_create(void)
{
    struct vigil_win_more *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->slot = calloc(WIN_MORE_SLOTS, sizeof *m->slot);
    if (!m->slot) {
        free(m);
        return NULL;
    }
    m->mask = WIN_MORE_SLOTS - 1;
    m->swept = INT64_MIN;
    m->lost = INT64_MIN;
    return m;
}

void vigil_win_more_destroy(struct vigil_win_more *m)
{
    if (!m)
        return;
    for (size_t i = 0; i <= m->mask; i++)
        free(m->slot[i].t);
    free(m->slot);
    free(m);
}

static uint64_t more_key(uint64_t key)
{
    return key ? key : 1; /* 0 marks a free slot */
}

static size_t more_home(const struct vigil_win_more *m, uint64_t key)
{
    /* The caller's keys are hashes already; the multiply spreads any bits left alike. */
    return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 32) & m->mask;
}

static struct win_grown *more_find(const struct vigil_win_more *m, uint64_t key)
{
    key = more_key(key);
    for (size_t i = more_home(m, key);; i = (i + 1) & m->mask) {
        if (m->slot[i].key == key)
            return &m->slot[i];
        if (m->slot[i].key == 0)
            return NULL;
    }
}

/* Removes slot i by backward shift (no tombstones), freeing its array. */
static void more_remove_at(struct vigil_win_more *m, size_t i)
{
    m->bytes -= (size_t)m->slot[i].cap * m->slot[i].width * sizeof(int64_t);
    free(m->slot[i].t);
    m->slot[i] = (struct win_grown){0};
    m->used--;
    for (size_t j = (i + 1) & m->mask; m->slot[j].key != 0; j = (j + 1) & m->mask) {
        size_t h = more_home(m, m->slot[j].key);
        /* Entry j may move into the hole at i when its home is not in (i, j]. */
        if (((j - h) & m->mask) >= ((j - i) & m->mask)) {
            m->slot[i] = m->slot[j];
            m->slot[j] = (struct win_grown){0};
            i = j;
        }
    }
}

static int more_grow_index(struct vigil_win_more *m)
{
    size_t n = (m->mask + 1) * 2;
    struct win_grown *old = m->slot;
    size_t old_n = m->mask + 1;
    struct win_grown *s = calloc(n, sizeof *s);
    if (!s)
        return -1;
    m->slot = s;
    m->mask = n - 1;
    for (size_t i = 0; i < old_n; i++) {
        if (old[i].key == 0)
            continue;
        size_t j = more_home(m, old[i].key);
        while (m->slot[j].key != 0)
            j = (j + 1) & m->mask;
        m->slot[j] = old[i];
    }
    free(old);
    return 0;
}

/* A new entry for key (absent) holding a copy of the ring's n times, room for at most
 * `limit`; NULL when allocation fails (the key then stays on its ring, inexact above cap as
 * before). */
static struct win_grown *more_insert(struct vigil_win_more *m, uint64_t key, const int64_t *times,
                                     uint16_t cap, uint16_t n, uint32_t level, int64_t reach,
                                     int64_t since, uint32_t limit)
{
    if ((m->used + 1) * 10 > (m->mask + 1) * 7 && more_grow_index(m) != 0)
        return NULL;
    uint32_t want = (uint32_t)cap * 2 < limit ? (uint32_t)cap * 2 : limit;
    int64_t *t = malloc((size_t)want * sizeof *t);
    if (!t)
        return NULL;
    memcpy(t, times, (size_t)n * sizeof *t);
    key = more_key(key);
    size_t i = more_home(m, key);
    while (m->slot[i].key != 0)
        i = (i + 1) & m->mask;
    m->slot[i] = (struct win_grown){.key = key,
                                    .t = t,
                                    .since = since,
                                    .reach = reach,
                                    .n = n,
                                    .cap = want,
                                    .level = level,
                                    .ring = cap,
                                    .width = 1,
                                    .kind = WIN_TIMES};
    m->used++;
    m->bytes += (size_t)want * sizeof *t;
    return &m->slot[i];
}

/* True when the grown ring still follows the key's ring: its latest times are the ring's
 * (a key forgotten and started again has a ring of its own, not the old grown one). */
static bool more_follows(const struct win_grown *g, const int64_t *times, uint16_t n)
{
    return g->n >= n && memcmp(g->t + (g->n - n), times, (size_t)n * sizeof *times) == 0;
}

/* A grown ring holds at most this many times: the latest `level` at or before its newest
 * time minus the disorder allowance, and up to as many again within the allowance. */
static uint32_t more_limit(const struct win_grown *g)
{
    return 2 * (g->level > g->ring ? g->level : g->ring);
}

/* Drops the oldest time, saying that windows reaching back to it are no longer known. */
static void more_drop_marked(struct win_grown *g)
{
    if (g->t[0] + 1 > g->since)
        g->since = g->t[0] + 1;
    memmove(g->t, g->t + 1, (size_t)(g->n - 1) * sizeof *g->t);
    g->n--;
}

/* Inserts t, then drops the oldest times a window still to be judged cannot miss: a window
 * [u - W, u] of an event u at most the disorder allowance older than the newest time holds
 * a dropped time only if it also holds the `level` kept times at or before newest - D that
 * are later than it, so it is "at least level" either way. Times within the allowance are
 * all kept (a late event's window may need every one), up to more_limit(); past that the
 * oldest goes with a `since` mark, and windows reaching it fall back on the caller's bound. */
static void more_put(struct vigil_win_more *m, struct win_grown *g, int64_t t)
{
    uint32_t limit = more_limit(g);
    if (g->n == g->cap && g->cap < limit) {
        uint32_t want = g->cap * 2 < limit ? g->cap * 2 : limit;
        int64_t *t2 = realloc(g->t, (size_t)want * sizeof *t2);
        if (t2) {
            m->bytes += (size_t)(want - g->cap) * sizeof *t2;
            g->t = t2;
            g->cap = want;
        }
    }
    if (g->n == g->cap) {
        /* At the limit, or no memory to grow: keep the latest and say what is known. */
        if (t < g->t[0]) {
            if (t + 1 > g->since)
                g->since = t + 1;
            return;
        }
        more_drop_marked(g);
    }
    uint32_t i = g->n;
    while (i > 0 && g->t[i - 1] > t) {
        g->t[i] = g->t[i - 1];
        i--;
    }
    g->t[i] = t;
    g->n++;
    int64_t settled = g->t[g->n - 1] - VIGIL_WIN_DISORDER_MS;
    uint32_t k = 0; /* times at or before `settled` */
    while (k < g->n && g->t[k] <= settled)
        k++;
    uint32_t drop = k > g->level ? k - g->level : 0;
    if (drop > g->n - g->ring)
        drop = g->n - g->ring; /* the grown ring keeps at least the ring's times */
    if (drop > 0) {
        memmove(g->t, g->t + drop, (size_t)(g->n - drop) * sizeof *g->t);
        g->n -= drop;
    }
}

/* True when the ring (full, cap times) would drop a time a window still to be judged may
 * need on taking t: the time dropped is in reach and fewer than `level` of the times left
 * lie at or before the newest minus the disorder allowance (more_put()). */
static bool ring_drop_unsafe(const int64_t *times, uint16_t cap, int64_t t, uint32_t level,
                             int64_t reach)
{
    int64_t newest = times[cap - 1] > t ? times[cap - 1] : t;
    int64_t dropped = t < times[0] ? t : times[0];
    if (dropped < newest - reach)
        return false;
    /* Safe when level + 1 times (the dropped one among them) lie at or before `settled`:
     * the ring is sorted, so its need-th oldest tells. */
    int64_t settled = newest - VIGIL_WIN_DISORDER_MS;
    uint32_t need = level + 1 - (t <= settled);
    return need > cap || times[need - 1] > settled;
}

void vigil_win_more_add(struct vigil_win_more *m, uint64_t key, int64_t *times, uint16_t cap,
                        uint16_t *n, int64_t t, uint32_t level, int64_t window_ms)
{
    if (!m || level == 0 || *n < cap) {
        vigil_win_add(times, cap, n, t);
        return;
    }
    int64_t reach = window_ms + VIGIL_WIN_DISORDER_MS;
    struct win_grown *g = more_find(m, key);
    if (g && (g->kind != WIN_TIMES || !more_follows(g, times, *n))) {
        more_remove_at(m, (size_t)(g - m->slot));
        g = NULL;
    }
    if (!g && ring_drop_unsafe(times, cap, t, level, reach)) {
        /* The ring would drop a time a window may still need: keep every time from here.
         * The times it dropped before were out of reach, or safe to drop, then. */
        int64_t newest = times[*n - 1] > t ? times[*n - 1] : t;
        g = more_insert(m, key, times, cap, *n, level, reach, newest - reach,
                        2 * (level > cap ? level : cap));
    }
    vigil_win_add(times, cap, n, t);
    if (g)
        more_put(m, g, t);
}

uint32_t vigil_win_more_count(const struct vigil_win_more *m, uint64_t key, const int64_t *times,
                              uint16_t cap, uint16_t n, int64_t from, int64_t to, bool *more)
{
    const struct win_grown *g = m && n == cap ? more_find(m, key) : NULL;
    if (!g || g->kind != WIN_TIMES || !more_follows(g, times, n)) {
        *more = vigil_win_saturated(times, cap, n, from, to);
        return vigil_win_count(times, n, from, to);
    }
    uint32_t c = 0;
    for (uint32_t i = g->n; i-- > 0;) {
        if (g->t[i] < from)
            break;
        if (g->t[i] <= to)
            c++;
    }
    /* A time dropped that lies in the window leaves at least `level` kept ones in it
     * (more_put()): below that the count is exact. */
    *more = (c >= g->level && g->n > 0 && from <= g->t[0]) || from < g->since;
    return c;
}

void vigil_win_more_restore(struct vigil_win_more *m, uint64_t key, const int64_t *times,
                            uint16_t cap, uint16_t n, uint32_t level, int64_t window_ms)
{
    if (!m || level <= cap || n < cap)
        return;
    vigil_win_more_forget(m, key);
    int64_t reach = window_ms + VIGIL_WIN_DISORDER_MS;
    if (times[0] >= times[n - 1] - reach)
        (void)more_insert(m, key, times, cap, n, level, reach, times[0] + 1, 2 * level);
}

void vigil_win_more_forget(struct vigil_win_more *m, uint64_t key)
{
    struct win_grown *g = m ? more_find(m, key) : NULL;
    if (g)
        more_remove_at(m, (size_t)(g - m->slot));
}

/* Grown tagged rings: drops the tags out of reach; true when the entry can go (idle, or the
 * ring holds every tag in reach again: it keeps the cap tags seen latest). */
static bool tags_sweep(struct vigil_win_more *m, struct win_grown *g, int64_t now)
{
    int64_t newest = INT64_MIN;
    for (uint32_t i = 0; i < g->n; i++) {
        int64_t t = g->t[i] >> VIGIL_WIN_TAG_BITS;
        newest = t > newest ? t : newest;
    }
    if (newest < now - g->reach)
        return true;
    int64_t from = (newest < now ? newest : now) - g->reach;
    uint32_t k = 0;
    for (uint32_t i = 0; i < g->n; i++) {
        if ((g->t[i] >> VIGIL_WIN_TAG_BITS) >= from)
            g->t[k++] = g->t[i];
    }
    g->n = k;
    if (k < g->ring)
        return true;
    if (g->since < from)
        g->since = from;
    (void)m;
    return false;
}

/* Kept spans: drops those out of reach; true when the entry can go (no span left in reach
 * and no window in reach starts before `since`). */
static bool spans_sweep(struct vigil_win_more *m, struct win_grown *g, int64_t now)
{
    int64_t newest = INT64_MIN;
    for (uint32_t i = 0; i < g->n; i++)
        newest = g->t[2 * i] > newest ? g->t[2 * i] : newest;
    /* Idle (every span out of reach of the watermark): all go. Else reach back from the
     * older of the watermark and the newest span, as for times. */
    int64_t from = newest < now - g->reach ? INT64_MAX : (newest < now ? newest : now) - g->reach;
    uint32_t k = 0;
    for (uint32_t i = 0; i < g->n; i++) {
        if (g->t[2 * i] >= from) {
            g->t[2 * k] = g->t[2 * i];
            g->t[2 * k + 1] = g->t[2 * i + 1];
            k++;
        }
    }
    g->n = k;
    if (k == 0 && g->since < now - g->reach)
        return true;
    if (g->n * 4 <= g->cap && g->cap / 2 >= 16) {
        int64_t *t2 = realloc(g->t, (size_t)(g->cap / 2) * 2 * sizeof *t2);
        if (t2) {
            m->bytes -= (size_t)(g->cap - g->cap / 2) * 2 * sizeof *t2;
            g->t = t2;
            g->cap /= 2;
        }
    }
    return false;
}

void vigil_win_more_sweep(struct vigil_win_more *m, int64_t now)
{
    if (!m || m->used == 0)
        return;
    if (m->swept != INT64_MIN && now >= m->swept && now - m->swept < WIN_SWEEP_EVERY_MS)
        return;
    m->swept = now;
    for (size_t i = 0; i <= m->mask;) {
        struct win_grown *g = &m->slot[i];
        if (g->key == 0) {
            i++;
            continue;
        }
        if (g->kind == WIN_TAGS) {
            if (tags_sweep(m, g, now)) {
                more_remove_at(m, i);
                continue;
            }
            i++;
            continue;
        }
        if (g->kind == WIN_SPANS) {
            if (spans_sweep(m, g, now)) {
                more_remove_at(m, i);
                continue;
            }
            i++;
            continue;
        }
        int64_t newest = g->n ? g->t[g->n - 1] : INT64_MIN;
        /* Reach from the older of the watermark and the key's newest time: a key ahead of
         * the watermark still judges windows reaching back from its own newest time. */
        int64_t from = (newest < now ? newest : now) - g->reach;
        uint32_t k = 0;
        while (k < g->n && g->t[k] < from)
            k++;
        if (newest < now - g->reach || g->n - k < g->ring) {
            /* Idle, or the ring holds every time in reach again. The backward shift may move
             * an unvisited entry into slot i: look at i again. */
            more_remove_at(m, i);
            continue;
        }
        if (k > 0) {
            memmove(g->t, g->t + k, (size_t)(g->n - k) * sizeof *g->t);
            g->n -= k;
            if (g->since < from)
                g->since = from;
        }
        if (g->n * 4 <= g->cap && g->cap / 2 >= g->ring) {
            int64_t *t2 = realloc(g->t, (size_t)(g->cap / 2) * sizeof *t2);
            if (t2) {
                m->bytes -= (size_t)(g->cap - g->cap / 2) * sizeof *t2;
                g->t = t2;
                g->cap /= 2;
            }
        }
        i++;
    }
}

size_t vigil_win_more_keys(const struct vigil_win_more *m)
{
    return m ? m->used : 0;
}

size_t vigil_win_more_bytes(const struct vigil_win_more *m)
{
    return m ? sizeof *m + (m->mask + 1) * sizeof *m->slot + m->bytes : 0;
}

/* The key's span entry, created empty (knowing every span from `since` on) when absent. */
static struct win_grown *spans_get(struct vigil_win_more *m, uint64_t key, int64_t window_ms,
                                   int64_t since)
{
    struct win_grown *g = more_find(m, key);
    if (g)
        return g->kind == WIN_SPANS ? g : NULL;
    if ((m->used + 1) * 10 > (m->mask + 1) * 7 && more_grow_index(m) != 0)
        return NULL;
    key = more_key(key);
    size_t i = more_home(m, key);
    while (m->slot[i].key != 0)
        i = (i + 1) & m->mask;
    m->slot[i] = (struct win_grown){.key = key,
                                    .since = since,
                                    .reach = window_ms + VIGIL_WIN_DISORDER_MS,
                                    .level = VIGIL_WIN_SPANS_MAX,
                                    .width = 2,
                                    .kind = WIN_SPANS};
    m->used++;
    return &m->slot[i];
}

int vigil_win_more_span_add(struct vigil_win_more *m, uint64_t key, int64_t end, uint32_t dur_ms,
                            uint32_t amount, int64_t window_ms)
{
    if (!m)
        return -1;
    struct win_grown *g = spans_get(m, key, window_ms, INT64_MIN);
    if (!g) {
        /* No entry (no memory, or the key holds rings of another kind): the span is not
         * kept, so no window reaching back to its end is known whole. */
        if (end + 1 > m->lost)
            m->lost = end + 1;
        return -1;
    }
    if (g->n == g->cap && g->cap < g->level) {
        uint32_t want = g->cap ? g->cap * 2 : 16;
        want = want < g->level ? want : g->level;
        int64_t *t2 = realloc(g->t, (size_t)want * 2 * sizeof *t2);
        if (t2) {
            m->bytes += (size_t)(want - g->cap) * 2 * sizeof *t2;
            g->t = t2;
            g->cap = want;
        }
    }
    if (g->n == g->cap) {
        if (g->n == 0) { /* no memory for the first: as for a span pushed out */
            if (end + 1 > g->since)
                g->since = end + 1;
            return -1;
        }
        /* Full (or no memory): the span that ended first goes; windows reaching back to its
         * end are no longer known whole. */
        uint32_t old = 0;
        for (uint32_t i = 1; i < g->n; i++)
            old = g->t[2 * i] < g->t[2 * old] ? i : old;
        if (g->t[2 * old] + 1 > g->since)
            g->since = g->t[2 * old] + 1;
        g->n--;
        g->t[2 * old] = g->t[2 * g->n];
        g->t[2 * old + 1] = g->t[2 * g->n + 1];
    }
    g->t[2 * g->n] = end;
    g->t[2 * g->n + 1] = (int64_t)(((uint64_t)dur_ms << 32) | amount);
    g->n++;
    return 0;
}

bool vigil_win_more_span_sum(const struct vigil_win_more *m, uint64_t key, int64_t from, int64_t to,
                             uint64_t *sum)
{
    *sum = 0;
    if (m && from < m->lost)
        return false;
    const struct win_grown *g = m && m->used ? more_find(m, key) : NULL;
    if (!g || g->kind != WIN_SPANS)
        return true;
    for (uint32_t i = 0; i < g->n; i++) {
        int64_t end = g->t[2 * i];
        uint64_t v = (uint64_t)g->t[2 * i + 1];
        *sum += vigil_win_span_part(v & UINT32_MAX, end - (int64_t)(v >> 32), end, from, to);
    }
    return from >= g->since;
}

void vigil_win_more_span_restore(struct vigil_win_more *m, uint64_t key, int64_t before,
                                 int64_t window_ms)
{
    if (!m)
        return;
    vigil_win_more_forget(m, key);
    if (!spans_get(m, key, window_ms, before) && before > m->lost)
        m->lost = before; /* no memory for the mark: every key's windows before it */
}

/* Notes tag at v (time x 1024 + tag) in a grown tagged ring: the tag's later time, else a new
 * entry (growing up to level), else at level the entry seen longest ago goes. */
static void tags_put(struct vigil_win_more *m, struct win_grown *g, int64_t v)
{
    const int64_t mask = (1 << VIGIL_WIN_TAG_BITS) - 1;
    uint32_t oldest = 0;
    for (uint32_t i = 0; i < g->n; i++) {
        if ((g->t[i] & mask) == (v & mask)) {
            if (v > g->t[i])
                g->t[i] = v;
            return;
        }
        if (g->t[i] < g->t[oldest])
            oldest = i;
    }
    if (g->n == g->cap && g->cap < g->level) {
        uint32_t want = g->cap * 2 < g->level ? g->cap * 2 : g->level;
        int64_t *t2 = realloc(g->t, (size_t)want * sizeof *t2);
        if (t2) {
            m->bytes += (size_t)(want - g->cap) * sizeof *t2;
            g->t = t2;
            g->cap = want;
        }
    }
    if (g->n < g->cap) {
        g->t[g->n++] = v;
    } else if (v >= g->t[oldest]) {
        if (g->n < g->level) /* no memory to grow: windows reaching back to it are not known */
            g->since = (g->t[oldest] >> VIGIL_WIN_TAG_BITS) + 1 > g->since
                           ? (g->t[oldest] >> VIGIL_WIN_TAG_BITS) + 1
                           : g->since;
        g->t[oldest] = v;
    }
}

void vigil_win_more_tag_note(struct vigil_win_more *m, uint64_t key, int64_t *entries, uint16_t cap,
                             uint16_t *n, unsigned tag, int64_t t, uint32_t level,
                             int64_t window_ms)
{
    if (!m || level <= cap || *n < cap) {
        vigil_win_tag_note(entries, cap, n, tag, t);
        return;
    }
    const int64_t mask = (1 << VIGIL_WIN_TAG_BITS) - 1;
    int64_t v = t * (mask + 1) + (int64_t)tag;
    struct win_grown *g = more_find(m, key);
    if (g && g->kind != WIN_TAGS) {
        more_remove_at(m, (size_t)(g - m->slot));
        g = NULL;
    }
    if (!g) {
        int64_t reach = window_ms + VIGIL_WIN_DISORDER_MS;
        bool known = false;
        int64_t oldest = INT64_MAX, newest = t;
        for (uint16_t i = 0; i < *n; i++) {
            known |= (entries[i] & mask) == (int64_t)tag;
            oldest = entries[i] < oldest ? entries[i] : oldest;
            newest = (entries[i] >> VIGIL_WIN_TAG_BITS) > newest ? entries[i] >> VIGIL_WIN_TAG_BITS
                                                                 : newest;
        }
        /* A new tag would replace one a window may still need: keep every tag from here. */
        if (!known && (oldest >> VIGIL_WIN_TAG_BITS) >= newest - reach) {
            g = more_insert(m, key, entries, cap, *n, level, reach, newest - reach, level);
            if (g)
                g->kind = WIN_TAGS;
        }
    }
    vigil_win_tag_note(entries, cap, n, tag, t);
    if (g)
        tags_put(m, g, v);
}

uint32_t vigil_win_more_tag_count(const struct vigil_win_more *m, uint64_t key,
                                  const int64_t *entries, uint16_t cap, uint16_t n, int64_t from,
                                  int64_t to, bool *more)
{
    const struct win_grown *g = m && m->used && n == cap ? more_find(m, key) : NULL;
    if (!g || g->kind != WIN_TAGS) {
        uint32_t c = vigil_win_tag_count(entries, n, from, to);
        *more = cap > 0 && n == cap && c == cap;
        return c;
    }
    uint32_t c = 0;
    for (uint32_t i = 0; i < g->n; i++) {
        int64_t t = g->t[i] >> VIGIL_WIN_TAG_BITS;
        c += t >= from && t <= to;
    }
    *more = (g->n == g->level && c == g->n) || from < g->since;
    return c;
}

void vigil_win_more_tag_restore(struct vigil_win_more *m, uint64_t key, const int64_t *entries,
                                uint16_t cap, uint16_t n, uint32_t level, int64_t window_ms)
{
    if (!m || level <= cap || n < cap)
        return;
    vigil_win_more_forget(m, key);
    int64_t reach = window_ms + VIGIL_WIN_DISORDER_MS;
    int64_t oldest = INT64_MAX, newest = INT64_MIN;
    for (uint16_t i = 0; i < n; i++) {
        int64_t t = entries[i] >> VIGIL_WIN_TAG_BITS;
        oldest = t < oldest ? t : oldest;
        newest = t > newest ? t : newest;
    }
    if (oldest >= newest - reach) {
        struct win_grown *g = more_insert(m, key, entries, cap, n, level, reach, oldest + 1, level);
        if (g)
            g->kind = WIN_TAGS;
    }
}

/* SPDX-License-Identifier: Apache-2.0 */
/* world.c - vigil-sim: what the generators share: seeded random numbers, Amsterdam local
 * time (the detectors' own), number ranges, the heap of pending items, building calls and
 * SMS.
 *
 * Threading: single-threaded, like the whole program. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jbuf.h"
#include "sim.h"
#include "vigil/profile.h"

/* ---- random numbers: splitmix64, portable and seedable ---- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t rng_next(struct rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return mix64(r->s);
}

void rng_seed(struct rng *r, uint64_t seed, const char *name, uint64_t salt)
{
    r->s = mix64(vigil_fnv1a(VIGIL_FNV_OFFSET, name, strlen(name)) ^ mix64(seed) ^ salt);
}

double rng_unit(struct rng *r) /* [0, 1) */
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
    return rng_next(r) % n;
}

int64_t rng_range(struct rng *r, int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)rng_below(r, (uint64_t)(hi - lo + 1));
}

double rng_exp(struct rng *r, double mean)
{
    return -mean * log(1.0 - rng_unit(r));
}

/* Log-normal seconds with the given median, clamped to [lo, hi]. */
int64_t rng_lognormal(struct rng *r, double median, double sigma, int64_t lo, int64_t hi)
{
    double u1 = 1.0 - rng_unit(r), u2 = rng_unit(r);
    double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    double v = median * exp(sigma * z);
    int64_t s = (int64_t)(v + 0.5);
    return s < lo ? lo : s > hi ? hi : s;
}

/* ---- Amsterdam local time: the detectors' own (vigil/profile.h) ---- */

void local_time(int64_t ts, struct local *lt)
{
    struct vigil_local_time v;
    vigil_local_time(ts, &v);
    lt->day = v.day;
    lt->weekday = v.wday >= 1 && v.wday <= 5; /* 0 = Sunday */
    lt->hour = (double)v.ms_of_day / (double)HOUR_MS;
}

bool office_hours(const struct local *lt)
{
    return lt->weekday && lt->hour >= 8.0 && lt->hour < 18.0;
}

/* The next 08:00 local on a weekday strictly after ts. */
int64_t next_office_open(int64_t ts)
{
    struct local lt;
    local_time(ts, &lt);
    int64_t day = lt.weekday && lt.hour < 8.0 ? lt.day : lt.day + 1;
    struct vigil_local_time v;
    /* Noon UTC of a local day falls on that day: its weekday. */
    for (vigil_local_time(day * DAY_MS + 12 * HOUR_MS, &v); v.wday == 0 || v.wday == 6;
         vigil_local_time(day * DAY_MS + 12 * HOUR_MS, &v))
        day++;
    int64_t l = day * DAY_MS + 8 * HOUR_MS;
    vigil_local_time(l - HOUR_MS, &v);
    return l - v.offset_ms;
}

/* ---- numbering ---- */

const struct numrange *pick_range(struct rng *r, const struct numrange *t, size_t n)
{
    int total = 0;
    for (size_t i = 0; i < n; i++)
        total += t[i].weight;
    int x = (int)rng_below(r, (uint64_t)total);
    for (size_t i = 0; i < n; i++) {
        if (x < t[i].weight)
            return &t[i];
        x -= t[i].weight;
    }
    return &t[n - 1];
}

void gen_in(struct rng *r, const struct numrange *nr, char *out)
{
    size_t n = strlen(nr->prefix);
    memcpy(out, nr->prefix, n);
    out[n++] = nr->first[rng_below(r, strlen(nr->first))];
    for (int i = 1; i < nr->digits; i++)
        out[n++] = (char)('0' + rng_below(r, 10));
    out[n] = '\0';
}

/* ---- heap of pending items, ordered by (ts, seq) ---- */

static bool item_before(const struct item *a, const struct item *b)
{
    return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}

void push(struct sim *s, struct item *it)
{
    if (s->hlen == s->hcap) {
        size_t cap = s->hcap ? s->hcap * 2 : 1024;
        struct item *h = realloc(s->heap, cap * sizeof *h);
        if (h == NULL) {
            s->oom = true;
            return;
        }
        s->heap = h;
        s->hcap = cap;
    }
    it->seq = s->seq++;
    size_t i = s->hlen++;
    while (i > 0 && item_before(it, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = *it;
}

void pop(struct sim *s, struct item *out)
{
    *out = s->heap[0];
    struct item last = s->heap[--s->hlen];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->hlen)
            break;
        if (c + 1 < s->hlen && item_before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!item_before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->hlen > 0)
        s->heap[i] = last;
}

/* ---- building calls and SMS ---- */

/* Queues a call's events (start and end, or an unanswered attempt's end alone). Returns
 * the ts of its first event, when a detector first sees the call. */
int64_t add_call(struct sim *s, const struct call *c)
{
    struct item it = {0};
    it.in = c->in;
    it.dev = (int16_t)c->dev;
    it.scen = (int16_t)c->scen;
    it.acc = c->acc;
    it.ip = c->ip;
    it.call_no = ++s->calls;
    snprintf(it.from, sizeof it.from, "%s", c->from);
    snprintf(it.to, sizeof it.to, "%s", c->to);
    if (!c->answered) {
        it.kind = IT_CALL_END;
        it.ts = c->ts + c->ring_ms;
        it.answered = false;
        push(s, &it);
        return it.ts;
    }
    it.kind = IT_CALL_START;
    it.ts = c->ts;
    it.answered = true;
    push(s, &it);
    it.kind = IT_CALL_END;
    it.ts = c->ts + c->dur_s * SEC_MS;
    it.duration = (uint32_t)c->dur_s;
    push(s, &it);
    return c->ts;
}

void add_sms(struct sim *s, int acc, int scen, int64_t ts, const char *from, const char *to,
             int segments, uint64_t hash)
{
    struct item it = {0};
    it.kind = IT_SMS;
    it.ts = ts;
    it.dev = -1;
    it.scen = (int16_t)scen;
    it.acc = acc;
    it.segments = (uint8_t)segments;
    it.hash = hash;
    snprintf(it.from, sizeof it.from, "%s", from);
    snprintf(it.to, sizeof it.to, "%s", to);
    push(s, &it);
}

/* Reserves one of the account's background call slots for [t, end); false when busy. */
bool take_slot(struct account *a, int64_t t, int64_t end)
{
    int slots = a->prof == PROF_CONSUMER ? 1 : MAX_PAR;
    for (int i = 0; i < slots; i++) {
        if (a->busy_until[i] <= t) {
            a->busy_until[i] = end;
            return true;
        }
    }
    return false;
}

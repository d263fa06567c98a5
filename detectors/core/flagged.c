/* SPDX-License-Identifier: Apache-2.0 */
/* flagged.c - the lock-free set of flagged accounts' numbers (see vigil/flagged.h).
 *
 * A slot is one word: fingerprint (hash bits 26..63) << 26 | expiry (minutes since
 * 2000-01-01, 1..2^26-1). 0 is an empty slot; every entry has an expiry of at least 1, so no
 * entry is 0. A slot goes from 0 to an entry, and from an entry to another entry (the same
 * number with a later expiry, or a new number over an expired one); never back to 0, so a
 * lookup may stop at the first empty slot.
 *
 * Threading: see flagged.h. Each slot and the clock are single atomic words; the set has no
 * other mutable field.
 * Ownership: the set owns its slot array. */
#include "vigil/flagged.h"
#include "vigil/privacy.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "jbuf.h"
#include "vigil/status.h"

#define EXP_BITS 26
#define EXP_MASK ((1ULL << EXP_BITS) - 1)
#define EPOCH_MS VIGIL_TS_MIN_MS /* 2000-01-01: expiries count minutes from here */
#define MIN_MS 60000LL
#define MIN_SLOTS 64

struct vigil_flagged {
    _Atomic uint64_t *slots;
    size_t mask; /* slots - 1, a power of two minus one */
    _Atomic int64_t clock_ms;
};

uint64_t vigil_flagged_hash(const char *number)
{
    /* Pseudonymised, the set in Redis holds keyed hashes: an unkeyed hash of a phone number
     * is reversed by trying the numbering plan. */
    if (vigil_privacy_enabled()) {
        uint64_t k = vigil_privacy_hash(number, strlen(number));
        return k ? k : 1;
    }
    uint64_t h = vigil_fnv1a(VIGIL_FNV_OFFSET, number, strlen(number));
    /* splitmix64's finaliser: FNV-1a's low bits (the home slot) depend only on the low bits
     * of the input bytes; this spreads every input bit over the word. */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h ? h : 1;
}

bool vigil_flagged_action(enum vigil_action a)
{
    switch (a) {
    case VIGIL_ACT_SUSPEND:
    case VIGIL_ACT_BLOCK_INTERNATIONAL:
    case VIGIL_ACT_BLOCK_PREMIUM:
    case VIGIL_ACT_BLOCK_SMS:
        return true;
    case VIGIL_ACT_NONE:
    case VIGIL_ACT_WITHHOLD_PAYOUT:
    case VIGIL_ACT_LIFT:
    case VIGIL_ACT_INTERIM_INVOICE:
        break;
    }
    return false;
}

uint64_t vigil_flagged_note(uint64_t nums[VIGIL_FLAGGED_NUMBERS], const struct vigil_event *ev)
{
    bool sends = ev->type == VIGIL_EV_SMS ||
                 (ev->dir == VIGIL_DIR_OUT &&
                  (ev->type == VIGIL_EV_CALL_START || ev->type == VIGIL_EV_CALL_END));
    if (!sends || ev->from[0] == '\0')
        return 0;
    uint64_t h = vigil_flagged_hash(ev->from);
    int at = VIGIL_FLAGGED_NUMBERS - 1; /* not found: the oldest makes room */
    for (int i = 0; i < VIGIL_FLAGGED_NUMBERS; i++) {
        if (nums[i] == h) {
            at = i;
            break;
        }
    }
    bool is_new = nums[at] != h;
    memmove(&nums[1], &nums[0], (size_t)at * sizeof nums[0]); /* newest first */
    nums[0] = h;
    return is_new ? h : 0;
}

/* --- the set ------------------------------------------------------------------------------ */

static uint64_t fingerprint(uint64_t hash)
{
    return hash >> EXP_BITS;
}

static uint64_t word_fp(uint64_t w)
{
    return w >> EXP_BITS;
}

/* The first Unix ms at which an entry of word w no longer counts. */
static int64_t word_end_ms(uint64_t w)
{
    return EPOCH_MS + (int64_t)(w & EXP_MASK) * MIN_MS;
}

static bool word_live(uint64_t w, int64_t clock)
{
    return w != 0 && word_end_ms(w) > clock;
}

/* The expiry field for until_ms: minutes since the epoch, rounded up, within 1..EXP_MASK. */
static uint64_t expiry_of(int64_t until_ms)
{
    if (until_ms <= EPOCH_MS)
        return 1;
    int64_t m = (until_ms - EPOCH_MS + MIN_MS - 1) / MIN_MS;
    return m >= (int64_t)EXP_MASK ? EXP_MASK : (uint64_t)m;
}

struct vigil_flagged *vigil_flagged_create(size_t max_numbers)
{
    if (max_numbers == 0)
        max_numbers = VIGIL_FLAGGED_DEFAULT_MAX;
    size_t n = MIN_SLOTS;
    /* At most half full: linear probing's chains stay short, and a probe window of
     * VIGIL_FLAGGED_PROBES slots is practically never all live. */
    while (n / 2 < max_numbers && n < ((size_t)1 << 30))
        n *= 2;
    struct vigil_flagged *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->slots = calloc(n, sizeof *s->slots);
    if (!s->slots) {
        free(s);
        return NULL;
    }
    /* calloc's zero bytes are a valid empty slot (and clock 0) on every platform we build
     * for, where a lock-free atomic uint64_t has the representation of a uint64_t; create is
     * not concurrent with anything, and the caller publishes the set to other threads with
     * its own synchronisation (thread creation). */
    s->mask = n - 1;
    return s;
}

void vigil_flagged_destroy(struct vigil_flagged *s)
{
    if (!s)
        return;
    free(s->slots);
    free(s);
}

int64_t vigil_flagged_clock(const struct vigil_flagged *s)
{
    /* Relaxed: the clock is a single monotonic value that guards no other data; a reader
     * that sees an older value only counts an expiring entry a moment longer. */
    return atomic_load_explicit(&s->clock_ms, memory_order_relaxed);
}

void vigil_flagged_advance(struct vigil_flagged *s, int64_t now_ms)
{
    int64_t cur = atomic_load_explicit(&s->clock_ms, memory_order_relaxed);
    /* Relaxed, as above; the CAS loop only keeps the maximum when two owners race. */
    while (now_ms > cur &&
           !atomic_compare_exchange_weak_explicit(&s->clock_ms, &cur, now_ms, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

int vigil_flagged_add(struct vigil_flagged *s, uint64_t hash, int64_t until_ms)
{
    uint64_t fp = fingerprint(hash);
    uint64_t want = fp << EXP_BITS | expiry_of(until_ms);
    if (!word_live(want, vigil_flagged_clock(s)))
        return 0; /* expired already: nothing to add */
    for (;;) {
        int64_t clock = vigil_flagged_clock(s);
        size_t home = (size_t)hash & s->mask, take = SIZE_MAX;
        uint64_t take_was = 0;
        bool restart = false;
        for (size_t k = 0; k < VIGIL_FLAGGED_PROBES && !restart; k++) {
            _Atomic uint64_t *slot = &s->slots[(home + k) & s->mask];
            /* Acquire: pairs with the release of the CAS that wrote the word; the word holds
             * everything a reader needs, so this orders nothing else (see contains()). */
            uint64_t w = atomic_load_explicit(slot, memory_order_acquire);
            if (w != 0 && word_fp(w) == fp) {
                /* The number is here: extend it, unless it already lasts as long. */
                while ((w & EXP_MASK) < (want & EXP_MASK)) {
                    /* Release on success: pairs with the acquire loads of lookups. A
                     * failure reloads w: if another number took the slot meanwhile (ours had
                     * expired), look again from the start. */
                    if (atomic_compare_exchange_weak_explicit(slot, &w, want, memory_order_release,
                                                              memory_order_acquire))
                        return 0;
                    if (w == 0 || word_fp(w) != fp) {
                        restart = true;
                        break;
                    }
                }
                if (!restart)
                    return 0;
                continue;
            }
            if (take == SIZE_MAX && !word_live(w, clock)) {
                take = (home + k) & s->mask;
                take_was = w;
            }
            if (w == 0)
                break; /* the end of the chain: the number is not further on */
        }
        if (restart)
            continue;
        if (take == SIZE_MAX)
            return VIGIL_ERR_FULL;
        /* Release: pairs with the acquire loads of lookups. The CAS fails when another
         * thread took or changed the slot since we read it: then look again, since it may
         * have added this very number. (Two threads adding the same number at once can
         * still both take a slot: a lookup finds either, so the duplicate is harmless and
         * its slot is reused once it expires.) */
        if (atomic_compare_exchange_strong_explicit(&s->slots[take], &take_was, want,
                                                    memory_order_release, memory_order_relaxed))
            return 0;
    }
}

bool vigil_flagged_contains(const struct vigil_flagged *s, uint64_t hash)
{
    uint64_t fp = fingerprint(hash);
    int64_t clock = vigil_flagged_clock(s);
    size_t home = (size_t)hash & s->mask;
    for (size_t k = 0; k < VIGIL_FLAGGED_PROBES; k++) {
        /* Acquire: pairs with add()'s release CAS, so a lookup that sees an entry happens
         * after everything its adder did before adding it. The word itself is read whole
         * (fingerprint and expiry together), so no other ordering is needed. */
        uint64_t w = atomic_load_explicit(&s->slots[(home + k) & s->mask], memory_order_acquire);
        if (w == 0)
            return false; /* slots never empty again: the chain ends here */
        /* Keep looking past an expired copy: a concurrent add may have left a live
         * duplicate further on. */
        if (word_fp(w) == fp && word_live(w, clock))
            return true;
    }
    return false;
}

size_t vigil_flagged_count(const struct vigil_flagged *s)
{
    int64_t clock = vigil_flagged_clock(s);
    size_t n = 0;
    for (size_t i = 0; i <= s->mask; i++) {
        /* Relaxed: a statistic; each word is read whole. */
        if (word_live(atomic_load_explicit(&s->slots[i], memory_order_relaxed), clock))
            n++;
    }
    return n;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* dedupe.h - drops events delivered again (at-least-once delivery): the same `id` of the
 * same account within a window of event time counts once.
 *
 * Two generations of 64-bit hashes of (account, id), each spanning `window_ms` of event time;
 * a lookup checks both, so a repeat is recognised for at least window_ms and at most twice
 * that. Each generation holds at most `max_ids`; past that, new ids are not remembered (they
 * still count once, their repeats would count again) and vigil_dedupe_full() says so.
 *
 * Threading: one object per worker thread (and one in vigilctl replay); no locks.
 * Ownership: the creator destroys. */
#ifndef VIGIL_DEDUPE_H
#define VIGIL_DEDUPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vigil_dedupe;

/* NULL on bad arguments or no memory. */
struct vigil_dedupe *vigil_dedupe_create(int64_t window_ms, size_t max_ids);
void vigil_dedupe_destroy(struct vigil_dedupe *d); /* accepts NULL */

/* True when (account, id) was already seen (the event is a repeat); otherwise remembers it
 * and returns false. ts_ms is the event's time: it moves the generations forward. */
bool vigil_dedupe_seen(struct vigil_dedupe *d, const char *account, const char *id,
                       int64_t ts_ms);

/* The same with the hash of (account, id) given (vigil_dedupe_hash), and `now_ms` the clock
 * that moves the generations: vigild passes its partition's clock rather than the event's
 * own time, so one event stamped hours ahead cannot make it forget every id. Also how
 * checkpointed ids are put back after a restart (a repeat of one of them then counts once). */
uint64_t vigil_dedupe_hash(const char *account, const char *id); /* never 0 */
bool vigil_dedupe_seen_hash(struct vigil_dedupe *d, uint64_t h, int64_t now_ms);

/* True once a generation hit max_ids (reset when the generation rotates). */
bool vigil_dedupe_full(const struct vigil_dedupe *d);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* window.h - exact sliding windows of event time with bounded memory, shared by the
 * detectors.
 *
 * A rule "at least N within W" is judged at an event at time t on the closed interval
 * [t - W, t], at millisecond resolution: never on a bucket that makes the window longer
 * than W. Three building blocks, plain arrays inside the caller's per-account struct (so
 * checkpoints can save them as raw bytes):
 *
 * - A time ring: the times of the latest `cap` events, kept sorted (oldest first). Events
 *   arrive in order up to the 60 s disorder allowance, so an insertion moves few entries.
 *   With cap >= N the count of entries in [t - W, t] decides ">= N" exactly: if fewer than
 *   cap entries lie in the window it is the window's exact count; if all cap do, the window
 *   holds at least cap >= N. Memory: 8 bytes per entry.
 *
 * - Grown rings (struct vigil_win_more): a level N above the ring's cap (a profile level set
 *   higher) is still exact, and so is the window of an event arriving late (up to the 60 s
 *   disorder allowance D older than the key's newest), which newer times do not fill. The
 *   ring keeps the key's latest cap times; when it is full and the time it would drop could
 *   still lie in a window to be judged (newer than the newest time minus W and D) without
 *   N of the other times at or before newest - D to stand for it, the key gets a growable
 *   sorted array in a per-thread store, seeded with the ring. It keeps every time within D of
 *   the newest and the latest N before that (a window of an event within D that holds a
 *   time dropped also holds those N), at most 2 x max(N, cap) times; past that the oldest
 *   go and windows reaching back to them report `more`. It doubles as it grows, halves when
 *   a quarter is used, and is freed at the store's sweep (each tick) once the times within
 *   reach fit the ring again. So only a key with more than cap times within reach, many of
 *   them within D, pays for it, at most 16 x max(N, cap) bytes (N at most
 *   VIGIL_WIN_LEVEL_MAX, which the configuration enforces); every other key costs nothing
 *   more. A key restored from a checkpoint with a full ring lacks the times dropped before:
 *   until they are out of reach its windows are "at least" (vigil_win_more_restore()), and
 *   the caller falls back on its buckets as before. Tagged rings grow the same way, and
 *   spans pushed out of a caller's array are kept whole in such a store (below).
 *
 * - A tagged ring (distinct counts of small keys, tags below 1024, e.g. a number's last 3
 *   digits): up to `cap` distinct tags with the latest time each was seen, one int64 each
 *   (time x 1024 + tag). Counting the tags seen in [t - W, t] is exact while fewer than cap
 *   distinct tags lie in the window; when it is full, the tag seen longest ago is replaced,
 *   so a count of cap means "at least cap". Memory: 8 bytes per entry.
 *
 * - Spans (money and minutes): an amount accrued evenly over [start, end] contributes to
 *   [from, to] the part of it that lies inside, in proportion to the milliseconds inside
 *   (vigil_win_span_part()), so a call straddling the window's start counts only its time
 *   inside the window.
 *
 * Threading: the ring functions are pure, on caller-owned memory; a store of grown rings
 * (struct vigil_win_more) belongs to one detector state, so to one worker thread. */
#ifndef VIGIL_WINDOW_H
#define VIGIL_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Inserts t into the sorted ring t[0..*n) of capacity cap, keeping the latest cap times: when
 * full, the oldest goes (or t itself, if it is older than all of them). */
void vigil_win_add(int64_t *times, uint16_t cap, uint16_t *n, int64_t t);

/* Entries of the sorted ring in [from, to]. */
uint16_t vigil_win_count(const int64_t *times, uint16_t n, int64_t from, int64_t to);

/* True when every one of cap entries lies in [from, to]: the window holds at least cap
 * events, possibly more than the ring can say. (For a window ending before the ring's newest
 * time, a ring alone cannot tell: vigil_win_more_add() grows it where that matters.) */
bool vigil_win_saturated(const int64_t *times, uint16_t cap, uint16_t n, int64_t from, int64_t to);

/* Drops entries older than `before`; returns how many remain. */
uint16_t vigil_win_expire(int64_t *times, uint16_t *n, int64_t before);

/* True when the ring is sorted, within [0, cap] and every time is plausible (checkpoints). */
bool vigil_win_ok(const int64_t *times, uint16_t cap, uint16_t n);

/* The highest count level a configuration may set for a rule judged on a time ring: a grown
 * ring of one key holds at most this many times (80 KB). */
#define VIGIL_WIN_LEVEL_MAX 10000

/* Each window a grown ring serves is [t - W, t] for events t at most this much older than
 * the key's newest time (events.md's disorder allowance). */
#define VIGIL_WIN_DISORDER_MS 60000LL

/* Per-thread store of grown rings, keyed by a 64-bit key the caller derives (e.g. the
 * account's hash, mixed with a service number's). NULL on allocation failure. */
struct vigil_win_more;
struct vigil_win_more *vigil_win_more_create(void);
void vigil_win_more_destroy(struct vigil_win_more *m); /* accepts NULL */

/* vigil_win_add() on the ring of `key`, growing it in `m` (may be NULL: no growth) as needed
 * to stay exact up to `level` for windows of `window_ms` of events up to
 * VIGIL_WIN_DISORDER_MS older than the newest. May allocate: only for a key with more than
 * cap times within reach. If it cannot, the key stays on its ring (inexact above cap, or for
 * late events, as without a store). */
void vigil_win_more_add(struct vigil_win_more *m, uint64_t key, int64_t *times, uint16_t cap,
                        uint16_t *n, int64_t t, uint32_t level, int64_t window_ms);

/* Times of `key` in [from, to], from its grown ring when it has one, else from the ring.
 * *more is set when the window may hold more than that (the count is at the level or the
 * ring's cap and reaches back to the oldest time kept, or the window reaches back past what
 * is known: a restore, the grown ring's limit, no memory): the caller then uses an upper
 * bound of its own, such as buckets, if it needs one. A count below the level is exact. */
uint32_t vigil_win_more_count(const struct vigil_win_more *m, uint64_t key, const int64_t *times,
                              uint16_t cap, uint16_t n, int64_t from, int64_t to, bool *more);

/* After a checkpoint restored the ring of `key`: a full ring whose times all lie within
 * reach (newest - window_ms - the disorder allowance) may have had more, so the key gets a
 * grown ring that knows only from its oldest time on. */
void vigil_win_more_restore(struct vigil_win_more *m, uint64_t key, const int64_t *times,
                            uint16_t cap, uint16_t n, uint32_t level, int64_t window_ms);

/* Drops the grown ring of `key`, if any (the key's state was forgotten). */
void vigil_win_more_forget(struct vigil_win_more *m, uint64_t key);

/* Drops every time out of reach at `now` (a watermark) and frees the grown rings whose
 * remaining times fit their ring again (or that are idle). Run at ticks. */
void vigil_win_more_sweep(struct vigil_win_more *m, int64_t now);

/* Whole spans past a caller's fixed array (money, minutes). A caller keeps its latest spans in
 * a small array of its own and books the ones it pushes out to coarse buckets, as the
 * fallback; while a pushed-out span may still overlap a window (it ended within window_ms
 * and the disorder allowance of the key's newest), it keeps it whole here as well, 16 bytes
 * each, at most VIGIL_WIN_SPANS_MAX per key (past that the earliest-ending goes). A key
 * with no span pushed out within reach has no entry and costs nothing. */
#define VIGIL_WIN_SPANS_MAX 4096

/* Keeps a span (amount accrued evenly over [end - dur_ms, end]) of key. 0, or -1 when it
 * could not be kept (no memory): then vigil_win_more_span_sum() reports every window
 * reaching back to its end as not whole (for any key, if no entry could be made for it), so
 * the caller need not act on the return. */
int vigil_win_more_span_add(struct vigil_win_more *m, uint64_t key, int64_t end, uint32_t dur_ms,
                            uint32_t amount, int64_t window_ms);

/* *sum = the parts in [from, to] of the spans kept for key (vigil_win_span_part()). True when
 * that is every pushed-out span's part, so the caller adds it to its own array's and leaves its
 * buckets aside; false when some may be missing (a restore, or the cap): the caller uses its
 * buckets instead. */
bool vigil_win_more_span_sum(const struct vigil_win_more *m, uint64_t key, int64_t from, int64_t to,
                             uint64_t *sum);

/* After a checkpoint restored key's array and buckets, without its kept spans: windows
 * starting before `before` (after the key's latest event) are judged on the buckets. */
void vigil_win_more_span_restore(struct vigil_win_more *m, uint64_t key, int64_t before,
                                 int64_t window_ms);

/* Grown rings held, and bytes they use (store index included). */
size_t vigil_win_more_keys(const struct vigil_win_more *m);
size_t vigil_win_more_bytes(const struct vigil_win_more *m);

#define VIGIL_WIN_TAG_BITS 10 /* tags 0..1023 */

/* Tagged ring: entries[i] = time x 1024 + tag, *n used of cap. Notes tag at t (a tag already
 * there keeps the later time); when full, the entry seen longest ago is replaced. */
void vigil_win_tag_note(int64_t *entries, uint16_t cap, uint16_t *n, unsigned tag, int64_t t);

/* Distinct tags seen in [from, to]. */
uint16_t vigil_win_tag_count(const int64_t *entries, uint16_t n, int64_t from, int64_t to);

/* vigil_win_tag_note() on the tagged ring of `key`, growing it in `m` (may be NULL) as
 * vigil_win_more_add() grows a time ring: while the ring is full and a new tag would replace
 * one still within reach, the key keeps every distinct tag with its latest time, up to
 * `level`. A store holds rings of one kind per key. */
void vigil_win_more_tag_note(struct vigil_win_more *m, uint64_t key, int64_t *entries, uint16_t cap,
                             uint16_t *n, unsigned tag, int64_t t, uint32_t level,
                             int64_t window_ms);

/* Distinct tags of `key` seen in [from, to]; *more as for vigil_win_more_count(). */
uint32_t vigil_win_more_tag_count(const struct vigil_win_more *m, uint64_t key,
                                  const int64_t *entries, uint16_t cap, uint16_t n, int64_t from,
                                  int64_t to, bool *more);

/* vigil_win_more_restore() for a tagged ring. */
void vigil_win_more_tag_restore(struct vigil_win_more *m, uint64_t key, const int64_t *entries,
                                uint16_t cap, uint16_t n, uint32_t level, int64_t window_ms);

/* True when the entries are within [0, cap], with plausible times and tags below max_tag. */
bool vigil_win_tag_ok(const int64_t *entries, uint16_t cap, uint16_t n, unsigned max_tag);

/* Part of `amount` accrued evenly over [start, end] that lies in [from, to], rounded down
 * (an instantaneous amount, start == end, counts whole when inside). */
uint64_t vigil_win_span_part(uint64_t amount, int64_t start, int64_t end, int64_t from, int64_t to);

#endif

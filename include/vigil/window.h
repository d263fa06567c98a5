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
 *   holds at least cap >= N. A caller whose N may exceed cap (a profile level set above it)
 *   keeps coarse buckets as well and uses them only above cap (vigil_win_saturated()).
 *   Memory: 8 bytes per entry.
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
 * Threading: pure functions on caller-owned memory; no state of their own. */
#ifndef VIGIL_WINDOW_H
#define VIGIL_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

/* Inserts t into the sorted ring t[0..*n) of capacity cap, keeping the latest cap times: when
 * full, the oldest goes (or t itself, if it is older than all of them). */
void vigil_win_add(int64_t *times, uint16_t cap, uint16_t *n, int64_t t);

/* Entries of the sorted ring in [from, to]. */
uint16_t vigil_win_count(const int64_t *times, uint16_t n, int64_t from, int64_t to);

/* True when every one of cap entries lies in [from, to]: the window holds at least cap
 * events, possibly more than the ring can say. */
bool vigil_win_saturated(const int64_t *times, uint16_t cap, uint16_t n, int64_t from, int64_t to);

/* Drops entries older than `before`; returns how many remain. */
uint16_t vigil_win_expire(int64_t *times, uint16_t *n, int64_t before);

/* True when the ring is sorted, within [0, cap] and every time is plausible (checkpoints). */
bool vigil_win_ok(const int64_t *times, uint16_t cap, uint16_t n);

#define VIGIL_WIN_TAG_BITS 10 /* tags 0..1023 */

/* Tagged ring: entries[i] = time x 1024 + tag, *n used of cap. Notes tag at t (a tag already
 * there keeps the later time); when full, the entry seen longest ago is replaced. */
void vigil_win_tag_note(int64_t *entries, uint16_t cap, uint16_t *n, unsigned tag, int64_t t);

/* Distinct tags seen in [from, to]. */
uint16_t vigil_win_tag_count(const int64_t *entries, uint16_t n, int64_t from, int64_t to);

/* True when the entries are within [0, cap], with plausible times and tags below max_tag. */
bool vigil_win_tag_ok(const int64_t *entries, uint16_t cap, uint16_t n, unsigned max_tag);

/* Part of `amount` accrued evenly over [start, end] that lies in [from, to], rounded down
 * (an instantaneous amount, start == end, counts whole when inside). */
uint64_t vigil_win_span_part(uint64_t amount, int64_t start, int64_t end, int64_t from, int64_t to);

#endif

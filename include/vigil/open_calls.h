/* SPDX-License-Identifier: Apache-2.0 */
/* open_calls.h - an account's open calls: call_start and call_end paired by a hash of call_id
 * in a small array the detector keeps in its account state, bounded (a start beyond the
 * bound is not tracked), a repeated start ignored, and a start without an end dropped after
 * 24 h of event time (events.md).
 *
 * The entries are the detector's own struct whose first member is a struct vigil_open_call
 * (so it can carry more, such as a rate); every function takes the entry size. Removal moves
 * the last entry into the gap, so the order of the rest is the order the detector has always
 * seen (sums over them come out the same).
 * Threading: plain values owned by one thread. */
#ifndef VIGIL_OPEN_CALLS_H
#define VIGIL_OPEN_CALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_OPEN_CALL_MS 86400000LL /* events.md: a start without an end is open for 24 h */

struct vigil_open_call {
    uint64_t id;      /* hash of call_id, the detector's own (never compared across detectors) */
    int64_t start_ms; /* call_start's event time */
};

/* The entry at index i of an array of entries of `size` bytes. */
static inline struct vigil_open_call *vigil_open_at(void *calls, size_t size, size_t i)
{
    return (struct vigil_open_call *)((unsigned char *)calls + i * size);
}

/* Index of the open call `id` among calls[0..n), or n when it is not open. */
size_t vigil_open_find(const void *calls, size_t size, size_t n, uint64_t id);
/* A call_start: appends {id, start_ms} (the rest of the entry zeroed) unless id is open
 * already or *n == cap. The new entry, or NULL when nothing was added. */
struct vigil_open_call *vigil_open_start(void *calls, size_t size, uint8_t *n, size_t cap,
                                         uint64_t id, int64_t start_ms);
/* Removes entry i (< *n); the last entry takes its place. */
void vigil_open_remove_at(void *calls, size_t size, uint8_t *n, size_t i);
/* Drops the calls started at or before now - 24 h. */
void vigil_open_expire(void *calls, size_t size, uint8_t *n, int64_t now);

#endif

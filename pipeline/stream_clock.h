/* SPDX-License-Identifier: Apache-2.0 */
/* stream_clock.h - one partition's event-time clock, which one event cannot drag.
 *
 * The clock that fires timers for every account (open calls, expiring windows) must move
 * when the stream as a whole moves, never because one exporter with a wrong clock stamped an
 * event hours ahead. The rule:
 *  - an event at most `gap_ms` ahead of the clock moves it there at once (ordinary traffic,
 *    however sparse: a partition whose only account calls every 10 minutes keeps time);
 *  - an event further ahead counts for its own account (the detectors see its time), but the
 *    clock waits: it jumps only once events from `confirm` distinct accounts all claim a time
 *    beyond the limit, and then to the earliest of those times. The jump is a gap: the caller
 *    reports it, and timers that come due inside it are not turned into orders. Claims are
 *    forgotten once events of `confirm` other accounts within range show that the stream
 *    did not move;
 *  - a fresh clock (no checkpoint) starts at the first event but stays provisional until
 *    `confirm` distinct accounts have been seen: if a later account's event lies more than
 *    gap_ms behind it, the first one was ahead and the clock starts again from the later one.
 *    Meanwhile a jump needs the claims of all the accounts seen (one account alone moves a
 *    partition that has no other), and the caller does not let a provisional clock lead
 *    other partitions (worker.c).
 *
 * Threading: one object per partition, owned by the thread that reads the partition.
 * Ownership: plain struct, caller-allocated, zero-initialised = no event yet. */
#ifndef VIGIL_STREAM_CLOCK_H
#define VIGIL_STREAM_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define VIGIL_PCLOCK_CONFIRM_MAX 8 /* most distinct accounts a jump can be asked to wait for */

struct vigil_pclock {
    int64_t ts; /* the clock (event time, ms); 0 before the first event */
    bool provisional;
    uint8_t n_seen, n_cand;
    uint64_t seen[VIGIL_PCLOCK_CONFIRM_MAX]; /* provisional: distinct accounts seen */
    /* Accounts whose events claim a time beyond ts + gap_ms, with the earliest such time. */
    uint64_t cand_acct[VIGIL_PCLOCK_CONFIRM_MAX];
    int64_t cand_ts[VIGIL_PCLOCK_CONFIRM_MAX];
    /* Distinct accounts with events within range since the claims began: once `confirm` of
     * them have shown the stream did not move, the claims are dropped (an account whose
     * exporter runs an hour ahead all the time must not add up with others over hours). */
    uint64_t since[VIGIL_PCLOCK_CONFIRM_MAX];
    uint8_t n_since;
    uint64_t ahead; /* events that claimed a time beyond the limit (confirmed later or not) */
};

/* A confirmed jump of the clock: event time from `from` to `to` had no events. */
struct vigil_pclock_jump {
    int64_t from, to;
};

/* One valid event of account hash `acct` at ts. gap_ms > 0; confirm 1..CONFIRM_MAX (larger
 * values are clamped). Returns true when the clock jumped over a gap (*jump filled). */
bool vigil_pclock_note(struct vigil_pclock *c, int64_t gap_ms, int confirm, uint64_t acct,
                       int64_t ts, struct vigil_pclock_jump *jump);

/* Sets the clock from a checkpoint: established, never provisional; never moves it back. */
void vigil_pclock_restore(struct vigil_pclock *c, int64_t ts);

/* Account hash for vigil_pclock_note (never 0). */
uint64_t vigil_pclock_acct(const char *account);

#endif

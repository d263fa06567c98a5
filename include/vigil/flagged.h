/* SPDX-License-Identifier: Apache-2.0 */
/* flagged.h - the numbers of flagged accounts: a process-wide, lock-free, read-mostly set
 * that detectors ask "is this caller one of the accounts vigil has blocked?".
 *
 * A flagged account is one with a standing order of vigil that restricts its own traffic
 * (suspend, block_international, block_premium, block_sms: vigil_flagged_action()). Its
 * numbers are the `from` numbers of its latest outbound calls and SMS (vigil_flagged_note()).
 * Whoever issues the order adds their hashes with an expiry: vigild through Redis, so every
 * instance learns of every other's orders (pipeline/worker.c, publisher.c, flagged_sync.c);
 * vigilctl replay directly. premium counts inbound calls from them to a customer's service
 * number (premium.inbound_flagged_callers).
 *
 * The set: a fixed-capacity open-addressing table (linear probing) of single 64-bit atomic
 * words. A word holds the upper 38 bits of a number's hash (its fingerprint) and its expiry
 * in whole minutes since 2000-01-01 (26 bits, enough until the year 2127), so an entry is
 * inserted, extended or replaced by one CAS and is never seen half written. A slot never
 * returns to empty, so probe chains never break; a slot whose entry has expired is taken
 * over by the next new number that probes past it. Memory is fixed at create (8 bytes a
 * slot, two slots per number asked for); vigil_flagged_add() fails with VIGIL_ERR_FULL when
 * the VIGIL_FLAGGED_PROBES slots a number may live in all hold live entries of other numbers.
 *
 * Time: an entry is live while its expiry is after the set's clock, which the set's owner
 * advances (vigild: the wall clock at every refresh; replay: event time), so what a lookup
 * answers does not depend on the event time of the call being judged.
 *
 * False positives: a lookup takes another number for the one asked when their 38
 * fingerprint bits agree and it lies in the asked number's probe window: at most
 * VIGIL_FLAGGED_PROBES / 2^38 (1.2e-10) per lookup. There are no false negatives for a
 * number added and not yet expired.
 *
 * Threading: any number of threads may call vigil_flagged_add(), _advance(), _contains(),
 * _clock() and _count() on one set at once (add is lock-free: a CAS that fails means another
 * thread's succeeded; the others are wait-free). create and destroy must not overlap any
 * other call on the set. The helpers above the set (hash, action, note) are pure.
 * Ownership: whoever creates the set destroys it (vigild's daemon, vigilctl replay, tests);
 * detectors borrow it through struct vigil_detector_env for as long as their state lives. */
#ifndef VIGIL_FLAGGED_H
#define VIGIL_FLAGGED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/emit.h"
#include "vigil/event.h"

#define VIGIL_FLAGGED_NUMBERS 2 /* numbers remembered per account (the latest distinct ones) */
#define VIGIL_FLAGGED_PROBES 32 /* slots a number may live in, from its home slot on */
#define VIGIL_FLAGGED_DEFAULT_MAX 65536 /* numbers vigild's set holds: 1 MiB */

/* The hash of a number normalised by vigil_number_normalize() (events' `from`/`to`): 64-bit
 * FNV-1a with the splitmix64 finaliser, never 0. The same in every process and build: it is
 * what vigild writes to Redis (as 16 lower-case hex digits). */
uint64_t vigil_flagged_hash(const char *number);

/* Whether an order with this action flags the account (suspend and the block_* actions; not
 * withhold_payout, which stops payments to the account, nor lift). */
bool vigil_flagged_action(enum vigil_action a);

/* Remembers the number an event shows the account sending from: the `from` of an outbound
 * call or of an SMS. nums[] holds the latest VIGIL_FLAGGED_NUMBERS distinct hashes, newest
 * first, 0 for none. Returns the hash when it is new to nums[], else 0 (also for events
 * that show no number of the account: inbound calls). */
uint64_t vigil_flagged_note(uint64_t nums[VIGIL_FLAGGED_NUMBERS], const struct vigil_event *ev);

struct vigil_flagged;

/* A set for about max_numbers live numbers (0: VIGIL_FLAGGED_DEFAULT_MAX); its clock starts
 * at 0, before every expiry. NULL on allocation failure. */
struct vigil_flagged *vigil_flagged_create(size_t max_numbers);
void vigil_flagged_destroy(struct vigil_flagged *s); /* accepts NULL */

/* Adds the number `hash` (vigil_flagged_hash()) as flagged until until_ms (Unix ms; kept to
 * the minute, rounded up), or extends its expiry to until_ms if that is later. Returns 0
 * (also when until_ms is not after the set's clock: nothing to add), or VIGIL_ERR_FULL when
 * no slot of its probe window is free or expired (the number is not added). */
int vigil_flagged_add(struct vigil_flagged *s, uint64_t hash, int64_t until_ms);

/* Moves the set's clock forward to now_ms (never back): entries expiring at or before it
 * stop counting and their slots can be reused. */
void vigil_flagged_advance(struct vigil_flagged *s, int64_t now_ms);

/* The set's clock (Unix ms). */
int64_t vigil_flagged_clock(const struct vigil_flagged *s);

/* Whether `hash` is flagged at the set's clock. */
bool vigil_flagged_contains(const struct vigil_flagged *s, uint64_t hash);

/* Live entries at the set's clock (a scan of every slot: for logs and tests; with adds
 * running concurrently, some moment's count). */
size_t vigil_flagged_count(const struct vigil_flagged *s);

#endif

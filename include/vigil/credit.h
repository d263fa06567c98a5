/* SPDX-License-Identifier: Apache-2.0 */
/* credit.h - the credit limits the billing system sets per account: a process-wide,
 * lock-free table that the credit detector reads ("what is account A's limit, and since when
 * does its current unbilled period run?") while one writer fills it.
 *
 * vigild's writer is the credit sync thread (pipeline/credit_sync.c), which copies the Redis
 * hash <prefix>credit into the table every few seconds; tests and tools set limits directly.
 * An account without an entry (or whose entry billing removed) has no limit.
 *
 * The table: a fixed-capacity open-addressing table (linear probing) of slots keyed by the
 * 64-bit hash of the account id (vigil_credit_hash). A slot is claimed once and never freed
 * (a removed limit is a slot with limit 0), so probe chains never break. Each slot's limit
 * and period start are guarded by a per-slot sequence counter (a seqlock): the writer makes
 * the counter odd, writes, makes it even again; a reader retries while it sees it odd or
 * changed. Reads never block and never see a limit paired with another limit's period start.
 *
 * Threading: ONE writer thread at a time may call vigil_credit_set() and
 * vigil_credit_clear(); any number of threads may call vigil_credit_get(),
 * vigil_credit_version() and vigil_credit_count() meanwhile. create and destroy must not
 * overlap any other call.
 * Ownership: whoever creates the table destroys it (vigild's daemon, tests); detectors borrow
 * it through struct vigil_detector_env for as long as their state lives. */
#ifndef VIGIL_CREDIT_H
#define VIGIL_CREDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_CREDIT_DEFAULT_MAX 65536 /* accounts with a limit vigild's table holds: 4 MiB */

struct vigil_credit;

/* The hash of an account id (never 0): the table's key. */
uint64_t vigil_credit_hash(const char *account);

/* A table for max_accounts accounts (0: VIGIL_CREDIT_DEFAULT_MAX). NULL on allocation
 * failure. */
struct vigil_credit *vigil_credit_create(size_t max_accounts);
void vigil_credit_destroy(struct vigil_credit *t); /* accepts NULL */

/* Writer only. Sets the account's limit (EUR cents, > 0) and the start of its current period
 * (Unix ms). Returns 0, or VIGIL_ERR_FULL when the table holds max_accounts accounts already,
 * VIGIL_ERR_INVALID for a limit <= 0. The version moves when the values change. */
int vigil_credit_set(struct vigil_credit *t, uint64_t hash, int64_t limit_cents,
                     int64_t period_start_ms);

/* Writer only. The account has no limit any more (no-op when it had none). */
void vigil_credit_clear(struct vigil_credit *t, uint64_t hash);

/* Whether the account has a limit now; if so, *limit_cents and *period_start_ms. */
bool vigil_credit_get(const struct vigil_credit *t, uint64_t hash, int64_t *limit_cents,
                      int64_t *period_start_ms);

/* A number that changes whenever a limit or period start changed: a reader that saw the same
 * version before has nothing new to look at. */
uint64_t vigil_credit_version(const struct vigil_credit *t);

/* Accounts with a limit now (a scan: for logs and tests). */
size_t vigil_credit_count(const struct vigil_credit *t);

#endif

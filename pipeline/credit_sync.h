/* SPDX-License-Identifier: Apache-2.0 */
/* credit_sync.h - the thread that copies the credit limits billing keeps in Redis into the
 * process's limits table (vigil/credit.h), which the credit detector reads.
 *
 * Billing's interface is one Redis hash, <prefix>credit (default vigil:credit): field = the
 * account id, value = "LIMIT_EUR PERIOD_START_MS" (a decimal amount and the Unix ms at which
 * the account's current unbilled period started), e.g.
 *     HSET vigil:credit acc-1042 "500 1796083200000"
 * HSET sets or changes a limit, HDEL removes it. Every VIGIL_CREDIT_SYNC_MS (2 s) the thread
 * reads the whole hash (HGETALL) and brings the table to it: new and changed entries set,
 * entries no longer in the hash cleared; the number of accounts with a limit is logged when it
 * changes. A value it cannot read is skipped and logged once
 * per read that finds a different number of them; a failed read is logged once and retried
 * every 10 s, the table keeping what it had. Each read is one blocking round trip of at most
 * redis.timeout_ms, on this thread alone.
 *
 * Threading: one sync thread, the only writer of the table; any thread may read the table
 * meanwhile. create/start/stop/destroy from one thread (the daemon's).
 * Ownership: the sync owns its Redis connection; it borrows the table, which must outlive
 * vigil_credit_sync_stop(). */
#ifndef VIGIL_CREDIT_SYNC_H
#define VIGIL_CREDIT_SYNC_H

#include <stddef.h>

#define VIGIL_CREDIT_SYNC_MS 2000

struct vigil_credit;
struct vigil_credit_sync;

/* `redis` and `password_file` as for vigil_redis_create(); the key is <prefix>credit. Does
 * not connect (the thread does). NULL with a message in err on a malformed address or no
 * memory. */
struct vigil_credit_sync *vigil_credit_sync_create(struct vigil_credit *table, const char *redis,
                                                   const char *password_file, int timeout_ms,
                                                   const char *prefix, char *err, size_t errlen);

/* Starts the thread, whose first read is at once. 0 or VIGIL_ERR_NOMEM. */
int vigil_credit_sync_start(struct vigil_credit_sync *s);

/* Stops and joins the thread (within about a read's timeout). No-op when not running. */
void vigil_credit_sync_stop(struct vigil_credit_sync *s);

/* Stops if running, then frees. Accepts NULL. */
void vigil_credit_sync_destroy(struct vigil_credit_sync *s);

/* Parses one value of the hash: "LIMIT_EUR PERIOD_START_MS" with LIMIT_EUR > 0 (at most two
 * decimals count) and PERIOD_START_MS >= 0. 0, or VIGIL_ERR_INVALID. */
int vigil_credit_parse(const char *value, long long *limit_cents, long long *period_start_ms);

#endif

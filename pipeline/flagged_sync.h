/* SPDX-License-Identifier: Apache-2.0 */
/* flagged_sync.h - the thread that keeps the process's flagged set (vigil/flagged.h) in step
 * with Redis, where every vigild's publisher adds the numbers of the accounts it orders
 * (publisher.h, <prefix>flagged), so the detectors of each instance see the orders of all.
 *
 * Every VIGIL_FLAGGED_SYNC_MS (2 s) it moves the set's clock to the wall clock and reads the
 * members that are new: scored after the highest expiry read so far minus a minute (another
 * instance's clock or flush may lag), and once a minute all of them (catching whatever that
 * missed). A failed read is logged once and retried every 10 s. Each read is one blocking
 * round trip of at most redis.timeout_ms (a connect to an unreachable Redis as long), on this
 * thread alone: the consumer thread, which must keep polling, pausing and committing, and
 * the publisher never wait for it.
 *
 * Threading: one sync thread, the only writer of the set; any thread may read the set
 * meanwhile. create/start/stop/destroy from one thread (the daemon's).
 * Ownership: the sync owns its Redis connection; it borrows the set, which must outlive
 * vigil_flagged_sync_stop(). */
#ifndef VIGIL_FLAGGED_SYNC_H
#define VIGIL_FLAGGED_SYNC_H

#include <stddef.h>

#define VIGIL_FLAGGED_SYNC_MS 2000

struct vigil_flagged;
struct vigil_flagged_sync;

/* `redis` and `password_file` as for vigil_redis_create(); keys start with `prefix`. Does not connect (the thread
 * does, and reconnects after failures). NULL with a message in err on a malformed address or
 * no memory. */
struct vigil_flagged_sync *vigil_flagged_sync_create(struct vigil_flagged *set, const char *redis,
                                                     const char *password_file, int timeout_ms, const char *prefix,
                                                     char *err, size_t errlen);

/* Starts the thread, whose first read is at once. 0 or VIGIL_ERR_NOMEM. */
int vigil_flagged_sync_start(struct vigil_flagged_sync *s);

/* Stops and joins the thread (within about a read's timeout). No-op when not running. */
void vigil_flagged_sync_stop(struct vigil_flagged_sync *s);

/* Stops if running, then frees. Accepts NULL. */
void vigil_flagged_sync_destroy(struct vigil_flagged_sync *s);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* counter_batch.h - accounts' counters held until the next hand-over or publish, so Redis sees
 * one command per account and publish interval, not one per tick and detector.
 *
 * Two holders: each worker keeps its accounts' latest counters until its next progress report
 * and hands them over packed, many accounts per out-ring message (vigil_cnt_batch_pack); the
 * publisher takes those into its own batch (vigil_cnt_batch_put_packed) and writes them to
 * Redis once per publish interval (vigil_cnt_batch_flush).
 *
 * Every detector's counters of an account live in one hash, field "<detector>:<counter>",
 * with "<detector>:updated_ms" the wall-clock ms the publisher took that detector's latest
 * counters:
 *     <prefix>cnt:<account>  hash  toll_fraud:open_high_risk 3, bulk_sms:sms_15m 250, ...
 * A put overwrites the values of the same fields in memory; a flush queues, for every account
 * put since the last one, one HSET of the fields put, and forgets them. The key's TTL is
 * renewed rarely: with the first write this process makes (as far as a fixed-size cache of
 * renewals remembers), and again once a tenth of the TTL has passed, so a key lives at least
 * nine tenths of its TTL after its last write.
 *
 * Threading: one thread per object (a worker's, or the publisher's).
 * Ownership: the object owns its copies; vigil_cnt_batch_flush() borrows the connection,
 * pack and put_packed borrow the buffer. */
#ifndef VIGIL_COUNTER_BATCH_H
#define VIGIL_COUNTER_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct vigil_cnt_batch;
struct vigil_counter;
struct vigil_redis;

/* prefix: redis.prefix (copied); ttl_s: the TTL when a put names none; renew_entries: how
 * many keys' last TTL renewal to remember (16 bytes each; an account forgotten gets one
 * EXPIRE more). NULL on no memory or a prefix of 120 bytes or more. */
struct vigil_cnt_batch *vigil_cnt_batch_create(const char *prefix, int64_t ttl_s,
                                               size_t renew_entries);
void vigil_cnt_batch_destroy(struct vigil_cnt_batch *b); /* accepts NULL */

/* Keeps the latest n counters of (account, detector), taken at wall_ms; ttl_s 0: the
 * default. 0, VIGIL_ERR_INVALID (a name with no room in a field), or VIGIL_ERR_NOMEM. */
int vigil_cnt_batch_put(struct vigil_cnt_batch *b, const char *account, const char *detector,
                        const struct vigil_out_counter *c, uint32_t n, int64_t ttl_s,
                        int64_t wall_ms);

/* The same from a detector's record (vigil/emit.h): names of VIGIL_OUT_NAME_MAX bytes or more
 * are VIGIL_ERR_INVALID, as they would not fit a vigil_out_counter. */
int vigil_cnt_batch_put_values(struct vigil_cnt_batch *b, const char *account,
                               const char *detector, const struct vigil_counter *c, size_t n,
                               int64_t ttl_s, int64_t wall_ms);

/* Accounts put since the last flush. */
size_t vigil_cnt_batch_dirty(const struct vigil_cnt_batch *b);

/* Queues on r one HSET per account put since the last flush, and an EXPIRE for those whose
 * TTL is due (mono_ms: CLOCK_MONOTONIC ms), and empties the batch. The commands are in r's
 * batch, which keeps them until they succeed (redis_sink.h). An account that cannot be
 * queued (no memory, a key too long) loses this interval's counters: the status is returned
 * for the log, and its next change publishes them again. */
int vigil_cnt_batch_flush(struct vigil_cnt_batch *b, struct vigil_redis *r, int64_t mono_ms);

/* Moves accounts put since the last flush or pack into buf (cap bytes) as packed records,
 * whole accounts only, until the next would not fit; returns the bytes written, 0 once none is
 * left. Once the last account is out, the batch is empty as after a flush. An account whose
 * record alone does not fit is dropped and counted in *dropped (NULL: not counted), and so
 * is every account when the name table does not fit. In this process's byte order: uint16
 * count of names, then per name uint8 length and the name ("<detector>:<counter>"); then per
 * account uint16 length, the account, int64 TTL (s), uint16 field count, and per field the
 * uint16 index of its name in the table and its int64 value. */
size_t vigil_cnt_batch_pack(struct vigil_cnt_batch *b, char *buf, size_t cap, size_t *dropped);

/* Takes every record of buf (len bytes from vigil_cnt_batch_pack) as a put of its fields, the
 * latest value winning. Returns the records taken, VIGIL_ERR_INVALID for a malformed buffer
 * (the records before the fault are taken), or VIGIL_ERR_NOMEM. */
int vigil_cnt_batch_put_packed(struct vigil_cnt_batch *b, const char *buf, size_t len);

#endif

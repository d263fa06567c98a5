/* SPDX-License-Identifier: Apache-2.0 */
/* state_batch.h - the checkpointed states of one transaction, coalesced: the latest state of
 * each (partition, account) staged until the checkpoint is written, then one HSET per
 * partition with every account's state (and one HDEL for the accounts that hold nothing any
 * more), instead of one command per account and worker checkpoint:
 *     <prefix>state:<group>:<topic>:<partition>  hash  account -> packed state
 *
 * Threading: one thread (the publisher's) per object.
 * Ownership: the object owns its copies; vigil_state_batch_flush() borrows the connection
 * and the keys. */
#ifndef VIGIL_STATE_BATCH_H
#define VIGIL_STATE_BATCH_H

#include <stddef.h>
#include <stdint.h>

struct vigil_ckpt_keys;
struct vigil_redis;
struct vigil_state_batch;

struct vigil_state_batch *vigil_state_batch_create(void); /* NULL on no memory */
void vigil_state_batch_destroy(struct vigil_state_batch *b); /* accepts NULL */

/* Stages the state of (partition, account), replacing one staged before; len 0: the account
 * holds nothing (its field is deleted). 0, VIGIL_ERR_INVALID (partition out of range) or
 * VIGIL_ERR_NOMEM. */
int vigil_state_batch_put(struct vigil_state_batch *b, int32_t partition, const char *account,
                          const void *data, size_t len);

/* Accounts staged. */
size_t vigil_state_batch_count(const struct vigil_state_batch *b);

/* Queues on r, per partition with something staged, one HSET of its states and one HDEL of
 * its emptied accounts, and empties the batch. 0, or the first failure (the rest is still
 * queued; a partition whose command could not be queued loses this checkpoint's states of
 * it, as a refused transaction would). */
int vigil_state_batch_flush(struct vigil_state_batch *b, struct vigil_redis *r,
                            const struct vigil_ckpt_keys *keys);

#endif

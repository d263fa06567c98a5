/* SPDX-License-Identifier: Apache-2.0 */
/* redis_keys.h - the names of vigil's Redis keys, built here only: vigild writes them,
 * vigilctl reads and changes them, and both must agree (README "Redis layout"). Every key
 * starts with redis.prefix (default "vigil:"):
 *
 *     block:<account>            hash   the account's standing orders by action
 *     blocks                     zset   blocked accounts by expiry
 *     cnt:<account>              hash   window counters, fields <detector>:<counter>
 *     alerts:<account>           hash   latest alert per detector
 *     flagged                    zset   numbers of flagged accounts
 *     credit                     hash   credit limits (written by billing)
 *     brake, brake:engaged              the order brake's count and mark
 *     held                       hash   orders the brake held
 *
 * The checkpoint keys, which also carry the consumer group, are ckpt_keys.h's.
 * Threading: pure; any thread. */
#ifndef VIGIL_REDIS_KEYS_H
#define VIGIL_REDIS_KEYS_H

#include <stddef.h>

enum vigil_rkey {
    VIGIL_RKEY_BLOCK,         /* block:<account> */
    VIGIL_RKEY_BLOCKS,        /* blocks */
    VIGIL_RKEY_COUNTERS,      /* cnt:<account> (fields <detector>:<counter>; vigild builds it in counter_batch.c) */
    VIGIL_RKEY_ALERTS,        /* alerts:<account> */
    VIGIL_RKEY_FLAGGED,       /* flagged */
    VIGIL_RKEY_CREDIT,        /* credit */
    VIGIL_RKEY_BRAKE,         /* brake */
    VIGIL_RKEY_BRAKE_ENGAGED, /* brake:engaged */
    VIGIL_RKEY_HELD,          /* held */
};

/* The key of kind k into buf[n]: prefix, the name, and the account (and detector) for the
 * kinds that have them (NULL prefix: ""). 0, or -1 when it does not fit (buf then holds a
 * truncated name: never use it). */
int vigil_redis_key(char *buf, size_t n, const char *prefix, enum vigil_rkey k, const char *account,
                    const char *detector);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* ckpt_keys.h - the Redis keys of a consumer group's checkpoints, built here only: the
 * publisher writes them, the consumer reads them on assignment.
 *
 *     <prefix>ckpt:<group>:<topic>                hash  partition -> "<next offset>:<clock ms>"
 *     <prefix>state:<group>:<topic>:<partition>   hash  account -> packed state
 *     <prefix>seen:<group>:<topic>:<partition>    sorted set  recent event ids (dedupe),
 *                                                 one member per checkpoint, scored by event time
 *
 * The group is part of every key, so a second vigild with another --group (a shadow trying
 * other thresholds) neither loads nor overwrites this group's state. A Kafka topic name
 * cannot contain ':', so a key names its group and topic unambiguously. */
#ifndef VIGIL_CKPT_KEYS_H
#define VIGIL_CKPT_KEYS_H

#include <stddef.h>
#include <stdint.h>

struct vigil_ckpt_keys {
    char ckpt[640];  /* <prefix>ckpt:<group>:<topic> */
    char state[640]; /* <prefix>state:<group>:<topic>: (the partition follows) */
    char seen[640];  /* <prefix>seen:<group>:<topic>: (the partition follows) */
};

/* Fills k. 0, or -1 when a key would not fit (prefix, group and topic too long). */
int vigil_ckpt_keys_init(struct vigil_ckpt_keys *k, const char *prefix, const char *group,
                         const char *topic);

/* The state key of one partition into buf[n]. 0, or -1 when it does not fit. */
int vigil_ckpt_state_key(const struct vigil_ckpt_keys *k, int32_t partition, char *buf,
                         size_t n);

/* The recent-event-ids key of one partition into buf[n]. 0, or -1 when it does not fit. */
int vigil_ckpt_seen_key(const struct vigil_ckpt_keys *k, int32_t partition, char *buf,
                        size_t n);

#endif

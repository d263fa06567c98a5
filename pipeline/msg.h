/* SPDX-License-Identifier: Apache-2.0 */
/* msg.h - the fixed-size structs that travel through the rings, by value.
 *
 *   consumer thread --vigil_in_msg--> worker N --vigil_out_msg--> sink thread
 *
 * No pointer crosses a thread: every byte a receiver needs is inside the struct. */
#ifndef VIGIL_MSG_H
#define VIGIL_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/event.h"
#include "vigil/flagged.h"

/* One Kafka message of the events topic. The value is cut to VIGIL_EVENT_MAX_BYTES (a longer
 * one is `too_large`, and its dead letter carries at most that much anyway). */
enum vigil_in_kind {
    VIGIL_IN_EVENT = 0, /* a message of the events topic */
    /* An operator lifted an order: key = account,
     * value = "action\0detector\0lifted order id" (the id may be empty). */
    VIGIL_IN_LIFT = 1,
    /* Checkpointed state of one account of `partition` (key), loaded on assignment before any
     * event of the partition: value holds bytes [offset, offset + value_len) of a state of
     * total_len bytes; the chunk that completes it applies it. */
    VIGIL_IN_STATE = 2,
    /* The partition's checkpoint: events before `offset` are in the loaded state; value holds
     * the partition's event-time clock then and its latest gap, from and to (3 x int64_t, ms;
     * 0, 0: none). Sent before its VIGIL_IN_STATEs. */
    VIGIL_IN_RESUME = 3,
    /* The partition was revoked: its accounts leave this worker (their state is in Redis). */
    VIGIL_IN_REVOKE = 4,
    /* Events of `partition` were lost under the consumer (offset reset past data the broker
     * no longer holds): value holds two int64_t, the first lost offset and the first offset
     * read after them. Sent before that offset's event. */
    VIGIL_IN_LOSS = 5,
    /* Event ids of `partition` checkpointed within the dedupe window (after its RESUME):
     * value holds value_len / 16 pairs of (uint64_t id hash, int64_t event time). */
    VIGIL_IN_SEEN = 6,
};

struct vigil_in_msg {
    enum vigil_in_kind kind;
    int32_t partition; /* VIGIL_IN_EVENT only */
    int64_t offset;
    uint32_t value_len; /* the original length, may exceed VIGIL_EVENT_MAX_BYTES */
    uint32_t total_len; /* VIGIL_IN_STATE: bytes of the whole state */
    uint16_t key_len;   /* bytes in key; VIGIL_ACCOUNT_MAX + 1 when the key was longer */
    bool has_key;
    char key[VIGIL_ACCOUNT_MAX + 2];
    char value[VIGIL_EVENT_MAX_BYTES];
};

enum vigil_out_msg_kind {
    VIGIL_MSG_ORDER = 1,    /* data: order JSON -> orders topic and the Redis block key */
    VIGIL_MSG_ALERT = 2,    /* data: alert JSON -> alerts topic */
    VIGIL_MSG_DLQ = 3,      /* data: dead-letter JSON -> dlq topic */
    /* data: the latest counters of many accounts, packed (vigil_cnt_batch_pack) -> each
     * account's Redis hash of counters at the next publish */
    VIGIL_MSG_COUNTERS = 4,
    VIGIL_MSG_PROGRESS = 5, /* every effect of partition's events before offset was sent */
    /* data: the checkpointed state of (account, partition); data_len 0: the account holds
     * nothing any more. Staged with the tick's progress, written atomically with it. */
    VIGIL_MSG_STATE = 6,
    VIGIL_MSG_TICK_END = 7, /* the tick's states and progress are complete */
    /* numbers[0..n_numbers): hashes of numbers the account sends from (flagged.h); it has a
     * standing order that flags it until until_ms (wall clock) -> Redis <prefix>flagged. */
    VIGIL_MSG_FLAG = 8,
    /* data: (uint64_t id hash, int64_t event time) pairs of new event ids of `partition`,
     * clock_ms the latest of those times; staged with the tick's states -> Redis
     * <prefix>seen:<topic>:<partition>, so a repeat after a restart or on the partition's
     * next owner counts once. */
    VIGIL_MSG_SEEN = 9,
    /* A lift of `action` was read from the orders topic (so it is already there: Kafka
     * first holds); data: the lifted order's id, or empty -> the publisher removes that
     * action from the account's Redis block key, if the block still holds that order. */
    VIGIL_MSG_LIFT = 10,
};

#define VIGIL_OUT_COUNTERS_MAX 12
#define VIGIL_OUT_NAME_MAX 32
/* A dead letter's payload is at most 4096 bytes, escaped (at most 6 bytes a byte as \u00XX)
 * or base64, plus the envelope. */
#define VIGIL_OUT_DATA_MAX (6 * VIGIL_EVENT_MAX_BYTES + 1024)

struct vigil_out_counter {
    char name[VIGIL_OUT_NAME_MAX];
    int64_t value;
};

struct vigil_out_msg {
    enum vigil_out_msg_kind kind;
    int32_t partition; /* PROGRESS, STATE */
    int64_t offset;    /* PROGRESS: the next offset to consume */
    int64_t clock_ms;  /* PROGRESS: the partition's event-time clock */
    int64_t gap_from_ms, gap_to_ms; /* PROGRESS: the partition's latest gap (0, 0: none) */
    char account[VIGIL_ACCOUNT_MAX + 2]; /* message key; "" for a keyless dead letter */
    char detector[VIGIL_OUT_NAME_MAX];
    char action[VIGIL_OUT_NAME_MAX]; /* ORDER */
    int64_t until_ms;                /* FLAG */
    uint64_t numbers[VIGIL_FLAGGED_NUMBERS]; /* FLAG */
    uint32_t n_numbers;                      /* FLAG */
    uint32_t n_counters; /* 0: counters travel packed in data */
    uint32_t data_len;
    char data[VIGIL_OUT_DATA_MAX];
};

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* event.h - one call or SMS event (wire format v1, shared/spec/events.md) and its parser.
 *
 * Threading: vigil_event_parse() is pure; any number of threads may call it at once on
 * their own buffers.
 * Ownership: struct vigil_event holds every string by value (no pointers), so an event can
 * be copied into a ring or kept in detector state. */
#ifndef VIGIL_EVENT_H
#define VIGIL_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_EVENT_MAX_BYTES 4096 /* a message value above this is `too_large` */
#define VIGIL_ACCOUNT_MAX 64       /* bytes of [A-Za-z0-9._:-] */
#define VIGIL_ID_MAX 128           /* `id` and `call_id` */
#define VIGIL_NUMBER_MAX 20        /* digits of a normalised number */
#define VIGIL_DEVICE_MAX 128
#define VIGIL_IP_MAX 45     /* textual IPv6 with an embedded IPv4 */
#define VIGIL_HASH_MAX 64   /* body_hash hex characters */
#define VIGIL_TS_MIN_MS 946684800000LL /* 2000-01-01T00:00:00Z */
#define VIGIL_TS_MAX_AHEAD_MS 86400000LL /* at most 1 day ahead of the stream */
/* A call_end's duration above a year (any integer >= 0 is valid) is taken as a year: no call
 * lasts that long, and the detectors' time arithmetic (ts - duration * 1000) must not
 * overflow. */
#define VIGIL_DURATION_MAX_S 31622400LL

enum vigil_event_type {
    VIGIL_EV_CALL_START = 1,
    VIGIL_EV_CALL_END = 2,
    VIGIL_EV_SMS = 3,
};

enum vigil_dir {
    VIGIL_DIR_NONE = 0, /* sms */
    VIGIL_DIR_OUT = 1,  /* the customer places the call and pays */
    VIGIL_DIR_IN = 2,   /* the call reaches one of the customer's numbers */
};

struct vigil_event {
    enum vigil_event_type type;
    enum vigil_dir dir;
    int64_t ts_ms; /* event time, Unix epoch milliseconds */
    char id[VIGIL_ID_MAX + 1];
    char account[VIGIL_ACCOUNT_MAX + 1];
    char call_id[VIGIL_ID_MAX + 1]; /* "" for sms */
    /* Numbers, normalised: E.164 as '+' and digits ("+31201234567"); a national short
     * code (112, 911, 116xxx, 14xxx, 18xy: 3 to 6 digits not starting with 0) as its
     * digits alone ("112"). */
    char from[VIGIL_NUMBER_MAX + 2];
    char to[VIGIL_NUMBER_MAX + 2];
    char device[VIGIL_DEVICE_MAX + 1]; /* "" when absent */
    char src_ip[VIGIL_IP_MAX + 1];     /* "" when absent */
    char country[3];                   /* ISO 3166-1 alpha-2, "" when absent */
    int64_t duration_s;                /* call_end: billable seconds; 0 otherwise */
    bool answered;                     /* call_end: default true; true otherwise */
    bool has_cost;
    double cost_eur; /* valid when has_cost */
    int segments;    /* sms: 1..255, default 1; 0 otherwise */
    char body_hash[VIGIL_HASH_MAX + 1]; /* sms: lower-case hex, "" when absent */
};

/* What the parser needs beyond the bytes. */
struct vigil_parse_opts {
    /* Country calling code used to read national numbers ("0201234567" -> "+31201234567");
     * digits only, e.g. "31". NULL means "31". */
    const char *default_cc;
    /* vigil's wall clock (Unix ms), or 0 to skip the check: an event more than
     * VIGIL_TS_MAX_AHEAD_MS after it is rejected as `ts_future`. The wall clock, not the
     * stream's newest time: judged against the stream, live traffic after a quiet day or a
     * backfill of old events would be locked out, and one event from a clock far ahead would
     * move the limit itself. */
    int64_t now_ms;
};

/* Why an event was rejected: `reason` is the machine-readable dead-letter reason of
 * outputs.md (`json_syntax`, `not_object`, `too_large`, `missing_field:call_id`,
 * `bad_field:ts`, `bad_number:to`, `bad_type`, `bad_version`, `key_mismatch`, `ts_past`,
 * `ts_future`, `duplicate_field:id`, `bad_utf8`, `too_complex` (valid JSON past 256 tokens or
 * 32 levels of nesting)); `detail` is one sentence for people and never quotes the value. */
struct vigil_parse_error {
    char reason[64];
    char detail[160];
};

/* Parses and validates one message value against wire format v1.
 * `key` is the Kafka message key (may be NULL when the message had none); it must equal
 * `account`. Returns 0 and fills *ev, or VIGIL_ERR_INVALID and fills *err (ev is then
 * unspecified). Never reads past buf[len-1]; buf need not be NUL-terminated. */
int vigil_event_parse(const char *buf, size_t len, const char *key, size_t key_len,
                      const struct vigil_parse_opts *opts, struct vigil_event *ev,
                      struct vigil_parse_error *err);

/* Normalises one number as events.md says (E.164, national '0' in `default_cc`, '00'
 * international prefix, separators " -.()" ignored, short codes kept as digits) into
 * out[VIGIL_NUMBER_MAX + 2]. Returns 0, or VIGIL_ERR_INVALID for anything else. */
int vigil_number_normalize(const char *in, size_t len, const char *default_cc, char *out);

const char *vigil_event_type_str(enum vigil_event_type t);

#endif

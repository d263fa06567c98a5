/* SPDX-License-Identifier: Apache-2.0 */
/* detector_fixture.h - one detector behind the real config, number plan, profiles and emit
 * layer, with a sink that keeps a copy of every record, for the detector unit tests.
 * Threading: a fixture belongs to the test that created it; nothing in here is shared.
 * Ownership: fx_create returns a fixture the caller releases with fx_destroy; records and
 * JSON documents point into the fixture or the caller's buffers and live as long as those.
 * Every function fails the running cmocka test (fail_msg/assert_*) instead of returning an
 * error, so it may only be called from inside a test, setup or teardown. */
#ifndef VIGIL_TESTS_DETECTOR_FIXTURE_H
#define VIGIL_TESTS_DETECTOR_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/acct_rec.h"
#include "vigil/config.h"
#include "vigil/credit.h"
#include "vigil/detector.h"
#include "vigil/emit.h"
#include "vigil/event.h"
#include "vigil/flagged.h"
#include "vigil/numplan.h"
#include "vigil/profile.h"

#define FX_MAX_COUNTERS 16
#define FX_JSON_MAX 4096
#define FX_JSON_TOKENS 256

/* One record the emit layer wrote, copied so it outlives the write call. */
struct fx_rec {
    enum vigil_out_kind kind;
    char account[VIGIL_ACCOUNT_MAX + 1];
    char detector[32];
    enum vigil_action action;
    enum vigil_severity severity;
    char id[64];
    char json[FX_JSON_MAX]; /* NUL-terminated; "" when the record has none */
    struct vigil_counter counters[FX_MAX_COUNTERS]; /* names point into names[] */
    char names[FX_MAX_COUNTERS][32];
    size_t n_counters;
    int64_t ttl_s;
    int64_t stream_ts; /* newest event time fed (fx_feed_json) when it came out */
};

/* The records written so far, in order. */
struct fx_capture {
    struct fx_rec *recs;
    size_t n;
    size_t max;        /* a test fails when the detector writes more */
    int64_t stream_ts; /* newest event time fed so far */
};

struct fx {
    struct vigil_config *cfg;
    struct vigil_numplan *np;
    struct vigil_profiles *pr;
    struct vigil_emit *out;
    /* The flagged accounts' numbers the detector sees (detector.h's env), empty at first,
     * clock 0: a test adds to it (vigil_flagged_add) as vigild's refresh would. */
    struct vigil_flagged *flagged;
    /* The credit limits the detector sees, empty at first: a test sets them
     * (vigil_credit_set) as vigild's credit sync would. */
    struct vigil_credit *credit;
    const struct vigil_detector_ops *ops;
    void *st;
    /* The state's account records, entered around every on_event as the engine does. */
    struct vigil_recs *recs;
    struct fx_capture cap;
    int64_t now_ms; /* the emit layer's wall clock (the `ts` field) */
};

/* --- fixture -------------------------------------------------------------------------------- */

/* Creates the detector named `detector` (vigil_detector_find) with the default configuration
 * plus `sets` ("key", "value", ..., NULL; NULL: none), each applied with vigil_config_set as
 * `--set` would. The sink keeps up to `max_recs` records; the emit layer's clock always reads
 * `now_ms`; the detector's env carries fx->flagged. Never returns NULL (fails the test
 * instead). */
struct fx *fx_create(const char *detector, const char *const *sets, size_t max_recs,
                     int64_t now_ms);

/* Destroys the detector state and everything fx_create made. NULL is a no-op. */
void fx_destroy(struct fx *fx);

/* A cmocka teardown for tests whose setup put a fixture in *state: fx_destroy(*state). */
int fx_teardown(void **state);

/* --- feeding ------------------------------------------------------------------------------- */

/* Parses `json` as a wire event of `account` (default country code 31) and passes it to
 * on_event, which must return 0. A parse error fails the test with its reason. Raises
 * fx->cap.stream_ts to the event's time. */
void fx_feed_json(struct fx *fx, const char *account, const char *json);

/* fx_feed_json with the JSON built by printf from `fmt` (at most 2047 bytes). */
void fx_feed(struct fx *fx, const char *account, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Feeds one call event (`type` "call_start" or "call_end", `dir` "in" or "out") of `account`;
 * `extra` is appended to the JSON object verbatim (",\"duration\":60"; "" for nothing). */
void fx_feed_call(struct fx *fx, const char *type, const char *dir, const char *account,
                  const char *id, const char *call_id, int64_t ts, const char *from, const char *to,
                  const char *extra);

/* Calls on_tick with `watermark_ms`, which must return 0. */
void fx_tick(struct fx *fx, int64_t watermark_ms);

/* --- looking at what came out ------------------------------------------------------------- */

/* Records of `kind` with `severity` (0: any). */
size_t fx_count_kind(const struct fx *fx, enum vigil_out_kind kind, int severity);

/* The first record of `kind` with `severity` (0: any), or NULL. */
const struct fx_rec *fx_find_kind(const struct fx *fx, enum vigil_out_kind kind, int severity);

/* True if the record's JSON has "rule" equal to `rule`. */
bool fx_rec_rule_is(const struct fx_rec *r, const char *rule);

/* Orders or alerts (`kind`) with `severity` (0: any) whose "rule" is `rule`. */
size_t fx_count_rule(const struct fx *fx, enum vigil_out_kind kind, int severity, const char *rule);

/* The first of those, or NULL. */
const struct fx_rec *fx_find_rule(const struct fx *fx, enum vigil_out_kind kind, int severity,
                                  const char *rule);

/* The last counter record of `account`, or NULL. */
const struct fx_rec *fx_last_counters(const struct fx *fx, const char *account);

/* Counter `name` of the counter record r; fails the test when r is NULL or lacks it. */
int64_t fx_counter(const struct fx_rec *r, const char *name);

/* The latest published value of counter `name` for `account`, or -1. */
int64_t fx_latest(const struct fx *fx, const char *account, const char *name);

/* --- checkpoints ---------------------------------------------------------------------------- */

/* Moves `account` from one fixture to another through its saved bytes (which must not be
 * empty): `from`'s save, then `to`'s load, which must succeed. */
void fx_move_account(struct fx *from, struct fx *to, const char *account);

/* Corrupts a copy of the saved state `good` in every way of a sweep and hands each to
 * try_load(ctx, bytes, len): every byte from `from` on set to 0x00 and to 0xff, and every
 * 8-byte field (at from + 8k) set to INT64_MIN and INT64_MAX. */
void fx_corruption_sweep(const struct vigil_bytes *good, size_t from,
                         void (*try_load)(void *ctx, const unsigned char *p, size_t len),
                         void *ctx);

/* The next order or alert from record *i on (and *i past it), or NULL. */
const struct fx_rec *fx_next_finding(const struct fx *fx, size_t *i);

/* Fails unless the orders and alerts fx wrote from record `from` on are those ref wrote from
 * record `ref_from` on, in order, to the byte (ids, rules, event times, evidence, samples).
 * Returns how many there were. */
size_t fx_assert_same_findings(const struct fx *fx, size_t from, const struct fx *ref,
                               size_t ref_from);

/* --- a small JSON reader (jsmn underneath) --------------------------------------------------- */

enum fx_json_type {
    FX_JSON_UNDEFINED,
    FX_JSON_OBJECT,
    FX_JSON_ARRAY,
    FX_JSON_STRING,
    FX_JSON_PRIMITIVE
};

/* A token: its type, its text js[start..end) (strings without the quotes) and its number of
 * direct children (an object's keys, an array's elements, 1 for a key). */
struct fx_json_tok {
    enum fx_json_type type;
    int start;
    int end;
    int size;
};

/* A parsed document; token 0 is the top-level object. Points into the parsed text. */
struct fx_json {
    const char *js;
    struct fx_json_tok t[FX_JSON_TOKENS];
    int n;
};

/* Parses `js` (which must outlive d) and fails the test unless it is a JSON object. */
void fx_json_parse(struct fx_json *d, const char *js);

/* Index of the token after the subtree at token i. */
int fx_json_skip(const struct fx_json *d, int i);

/* True if the text of token i is exactly `s`. */
bool fx_json_str_eq(const struct fx_json *d, int i, const char *s);

/* The value token of `key` in the object at token obj, or -1. */
int fx_json_get(const struct fx_json *d, int obj, const char *key);

/* The integer at token i (fx_json_get's result); fails the test unless i is a primitive. */
long long fx_json_int(const struct fx_json *d, int i);

/* Fails the test unless member `key` of the object at obj is the string `want`. */
void fx_json_assert_str(const struct fx_json *d, int obj, const char *key, const char *want);

/* Fails the test unless array `key` of the object at obj holds exactly want[0..n). */
void fx_json_assert_strings(const struct fx_json *d, int obj, const char *key,
                            const char *const *want, int n);

/* True if array `key` of the object at obj holds the string `s`; fails the test when there
 * is no such array. */
bool fx_json_array_has(const struct fx_json *d, int obj, const char *key, const char *s);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* engine.h - the detection loop, one for vigild's workers and for `vigilctl replay`: a
 * backtest runs the daemon's own per-event and per-tick code.
 *
 * Per event (vigil_engine_event), in this order: a repeat of an event id is dropped (the
 * dedupe); the owner's `accept` hook sees the event (its clock moves, its checkpoint lists
 * the id); the account's note of the number it sends from (flagged at once while an order
 * flags the account); the one lookup of the account's record (acct_rec.h), which every
 * detector's on_event then takes without a lookup of its own; then every detector's on_event,
 * in registry order; then a record no detector took is dropped again. Per tick
 * (vigil_engine_tick): every detector's on_tick at the watermark, after a resweep when asked.
 * What comes before (reading the transport, parsing, dead letters) and what the findings
 * become (the emit layer's sink) belong to the owner.
 *
 * Threading: an engine, and everything it borrows, belongs to one thread.
 * Ownership: the engine borrows the dedupe, the detectors' states and the emit layer; the
 * owner creates and destroys them. The detector states and the emit layer are passed with
 * every call, so the owner may swap them between calls (a reload). */
#ifndef VIGIL_ENGINE_H
#define VIGIL_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vigil_dedupe;
struct vigil_detector_ops;
struct vigil_emit;
struct vigil_event;
struct vigil_recs;

/* The detectors one call runs, the emit layer they report to, and the account records they
 * were given at init (vigil_detector_env.recs; NULL: none). */
struct vigil_engine_dets {
    size_t n;
    const struct vigil_detector_ops *const *ops;
    void *const *states;
    struct vigil_emit *emit;
    struct vigil_recs *recs;
};

/* What the engine needs of an event's account for the flagged numbers (hook `account`). */
struct vigil_engine_acct {
    uint64_t *numbers;     /* [VIGIL_FLAGGED_NUMBERS], updated in place; NULL: none kept */
    int64_t flagged_until; /* until when an order flags the account (owner's time); 0: never */
    int64_t now_ms;        /* the owner's time: vigild's wall clock, replay's event time */
};

struct vigil_engine_hooks {
    void *ctx;
    /* An event that is no repeat, before its account and the detectors see it; id_hash is its
     * dedupe hash (0 without a dedupe). May be NULL. */
    void (*accept)(void *ctx, const struct vigil_event *ev, uint64_t id_hash);
    /* The event's account's record: 0, or a negative status (out of memory): the event then
     * goes no further and vigil_engine_event returns it. May be NULL: no numbers are kept. */
    int (*account)(void *ctx, const struct vigil_event *ev, struct vigil_engine_acct *out);
    /* The number (vigil_flagged_hash) the account was just seen sending from is flagged
     * until until_ms, as the account is. NULL only when `account` is. */
    void (*flag)(void *ctx, const char *account, uint64_t number, int64_t until_ms);
    /* A detector's on_event (ev: the event) or on_tick (ev: NULL) returned rc != 0; the
     * engine goes on with the next detector. May be NULL. */
    void (*failed)(void *ctx, const char *detector, const struct vigil_event *ev, int rc);
};

struct vigil_engine {
    struct vigil_dedupe *dedupe; /* borrowed; NULL: no event is dropped as a repeat */
    struct vigil_engine_hooks hooks;
    /* Kept by the engine, read by the owner: */
    bool in_tick;         /* on_tick is running: findings come from timers (the emit hold) */
    bool behind;          /* an event older than last_tick_wm came since the last resweep */
    int64_t last_tick_wm; /* the watermark of the last tick; INT64_MIN before the first */
};

/* dedupe: borrowed, may be NULL. */
void vigil_engine_init(struct vigil_engine *e, struct vigil_dedupe *dedupe,
                       const struct vigil_engine_hooks *hooks);

#define VIGIL_ENGINE_RAN 0    /* the event went through every detector */
#define VIGIL_ENGINE_REPEAT 1 /* a repeat of an id seen within the dedupe window: dropped */

/* Runs one parsed, valid event. dedupe_now_ms is the clock that moves the dedupe's
 * generations: the stream's clock as the owner has it before this event, not the event's
 * own time (one event stamped a day ahead must not make it forget every id).
 * Returns VIGIL_ENGINE_RAN, VIGIL_ENGINE_REPEAT, or the `account` hook's negative status. */
int vigil_engine_event(struct vigil_engine *e, const struct vigil_engine_dets *d,
                       const struct vigil_event *ev, int64_t dedupe_now_ms);

/* Runs every detector's timers at watermark_ms. With `resweep`, first has each detector
 * forget how far it had swept (vigil/detector.h: for events that came in behind it), and
 * clears `behind`. */
void vigil_engine_tick(struct vigil_engine *e, const struct vigil_engine_dets *d,
                       int64_t watermark_ms, bool resweep);

#endif

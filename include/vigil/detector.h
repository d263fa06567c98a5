/* SPDX-License-Identifier: Apache-2.0 */
/* detector.h - the one interface every detector implements, and the registry.
 *
 * Threading: a detector state belongs to one worker thread; no locks, no atomics (the
 * flagged set it may read is lock-free and thread-safe itself, see flagged.h). Each
 * worker calls init once, then on_event for its events in order and on_tick as its
 * watermark moves, then destroy.
 * Ownership: init allocates *state; destroy frees it and accepts NULL.
 *
 * Per-account state: a detector declares at init the bytes it keeps per account in the set's
 * account records (vigil_recs_declare on env->recs, acct_rec.h) and finds its slot of an
 * event's account with vigil_recs_slot, which costs no lookup when the engine has entered the
 * event (pipeline/engine.c); the records' dirty lists and iteration serve its on_tick. The
 * core frees a record once every detector has released its slot. A detector that needs a
 * keyed set of its own (call ids, sending numbers) keeps an acct_table.h table beside it. */
#ifndef VIGIL_DETECTOR_H
#define VIGIL_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/bytes.h"
#include "vigil/config.h"
#include "vigil/emit.h"
#include "vigil/event.h"

struct vigil_credit;
struct vigil_flagged;
struct vigil_numplan;
struct vigil_profiles;
struct vigil_recs;

/* What a detector gets at init: read-only, shared by all workers, outlives every state. */
struct vigil_detector_env {
    const struct vigil_config *cfg;
    const struct vigil_numplan *numplan;
    const struct vigil_profiles *profiles; /* may be NULL: every account is `default` */
    /* Numbers of flagged accounts (flagged.h), the one part shared with other threads, which
     * fill it while detectors read it; may be NULL: no caller counts as flagged. */
    const struct vigil_flagged *flagged;
    /* Credit limits set by billing (credit.h), filled by another thread while detectors read
     * it; may be NULL: no account has a limit. */
    const struct vigil_credit *credit;
    /* The account records (acct_rec.h) of this set of states, owned by whoever creates the
     * set; may be NULL: a detector that keeps its accounts there creates its own. */
    struct vigil_recs *recs;
};

struct vigil_detector_ops {
    const char *name; /* "toll_fraud": also its config section */
    /* Known config keys of this detector, ending with a {NULL} entry; may be NULL. */
    const struct vigil_config_key *keys;
    /* Every rule it reports (vigil_finding.rule, "<name>.<rule>"), NULL-terminated:
     * orders.report_rules is checked against them. */
    const char *const *rules;
    int (*init)(void **state, const struct vigil_detector_env *env);
    /* One valid event. Returns 0 or a negative status (only a sink failure is fatal). */
    int (*on_event)(void *state, const struct vigil_event *ev, struct vigil_emit *out);
    /* Event time has reached watermark_ms (max event time seen minus the allowed disorder):
     * fire timers, expire windows, publish counters of accounts changed since last tick. */
    int (*on_tick)(void *state, int64_t watermark_ms, struct vigil_emit *out);
    void (*destroy)(void *state); /* accepts NULL */

    /* --- checkpoints: the state of one account, out and back in ---------------------------
     * save: appends to *out everything the detector holds for `account` that would change
     * what it reports later (windows, open calls, timers, fired flags, samples, profile), or
     * nothing at all when it holds nothing. The bytes are the detector's own format and
     * start with a version byte; only the same detector of the same build reads them back.
     * Does not change the state. 0 or VIGIL_ERR_NOMEM.
     * load: replaces whatever the detector holds for `account` by saved bytes and re-arms
     * its timers, as if the events behind them had been fed to this state. vigild calls it
     * after a restart or a partition assignment, before any event of the account and with
     * the watermark no further than when the bytes were saved. VIGIL_ERR_INVALID (state
     * unchanged) when the bytes are not a valid state of this version.
     * forget: drops everything the detector holds for `account`, timers included (memory
     * cap eviction); a later event starts it afresh. */
    int (*save)(void *state, const char *account, struct vigil_bytes *out);
    int (*load)(void *state, const char *account, const void *data, size_t len);
    void (*forget)(void *state, const char *account);

    /* The next on_tick expires the windows of every account up to its watermark, even if the
     * watermark has not moved since the last one. vigild calls it once it has caught up after
     * events older than the watermark it had already reached (a partition assigned with a
     * backlog, or one whose producer fell behind the others): the windows of their accounts
     * were left where those events put them, since no tick moved the watermark past them. */
    void (*resweep)(void *state);
};

/* The registered detectors (detectors/detector_list.h), in registry order. */
size_t vigil_detector_count(void);
const struct vigil_detector_ops *vigil_detector_get(size_t i);
const struct vigil_detector_ops *vigil_detector_find(const char *name); /* NULL if none */

#endif

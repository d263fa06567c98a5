/* SPDX-License-Identifier: Apache-2.0 */
/* detector.h - the one interface every detector implements, and the registry.
 *
 * Threading: a detector state belongs to one worker thread; no locks, no atomics. Each
 * worker calls init once, then on_event for its events in order and on_tick as its
 * watermark moves, then destroy.
 * Ownership: init allocates *state; destroy frees it and accepts NULL. */
#ifndef VIGIL_DETECTOR_H
#define VIGIL_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/config.h"
#include "vigil/emit.h"
#include "vigil/event.h"

struct vigil_numplan;
struct vigil_profiles;

/* What a detector gets at init: read-only, shared by all workers, outlives every state. */
struct vigil_detector_env {
    const struct vigil_config *cfg;
    const struct vigil_numplan *numplan;
    const struct vigil_profiles *profiles; /* may be NULL: every account is `default` */
};

struct vigil_detector_ops {
    const char *name; /* "toll_fraud": also its config section */
    /* Known config keys of this detector, ending with a {NULL} entry; may be NULL. */
    const struct vigil_config_key *keys;
    int (*init)(void **state, const struct vigil_detector_env *env);
    /* One valid event. Returns 0 or a negative status (only a sink failure is fatal). */
    int (*on_event)(void *state, const struct vigil_event *ev, struct vigil_emit *out);
    /* Event time has reached watermark_ms (max event time seen minus the allowed disorder):
     * fire timers, expire windows, publish counters of accounts changed since last tick. */
    int (*on_tick)(void *state, int64_t watermark_ms, struct vigil_emit *out);
    void (*destroy)(void *state); /* accepts NULL */
};

/* The registered detectors (detectors/detector_list.h), in registry order. */
size_t vigil_detector_count(void);
const struct vigil_detector_ops *vigil_detector_get(size_t i);
const struct vigil_detector_ops *vigil_detector_find(const char *name); /* NULL if none */

#endif
